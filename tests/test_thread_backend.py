"""The ``thread`` debugging backend: handlers in the lab's own process, same reports."""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

from .conftest import ECHO, wait_until

WHERE = """
import os, threading
print("init print")
def handler(event, context):
    print("handling", event)
    return {
        "pid": os.getpid(),
        "thread": threading.current_thread().name,
        "function_name": context.function_name,
        "memory": context.memory_limit_in_mb,
        "env_name": os.environ["AWS_LAMBDA_FUNCTION_NAME"],
        "stage": os.environ.get("STAGE"),
        "event": event,
    }
"""


def test_handler_runs_on_a_thread_of_this_process(lab, code):
    lab.create_function("t", code(app=WHERE), handler="app.handler", sandbox="thread",
                        memory_size=256, environment={"Variables": {"STAGE": "debug"}})
    result = lab.invoke("t", {"k": 1}, log_type="Tail")
    body = result.json()
    assert body["pid"] == os.getpid()  # a debugger attached to this process sees it
    assert body["thread"].startswith("lambdalab-thread-")
    assert threading.current_thread().name != body["thread"]
    assert body["function_name"] == body["env_name"] == "t"
    assert (body["memory"], body["stage"], body["event"]) == ("256", "debug", {"k": 1})
    assert "STAGE" not in os.environ  # the function's variables are taken away again
    assert "AWS_LAMBDA_FUNCTION_NAME" not in os.environ and "_X_AMZN_TRACE_ID" not in os.environ
    lines = result.log_tail.splitlines()
    assert lines[0] == "init print" and lines[2] == "handling {'k': 1}"
    assert lines[-1].startswith("REPORT RequestId: ")


def test_errors_and_init_errors_as_the_python_runtime_reports_them(lab, code):
    lab.create_function("boom", code(app="def handler(e, c):\n    raise ValueError('bad order')\n"),
                        handler="app.handler", sandbox="thread")
    error = lab.invoke("boom").json()
    assert (error["errorType"], error["errorMessage"]) == ("ValueError", "bad order")
    lab.create_function("bad", code(app="import not_a_module\n"), handler="app.handler",
                        sandbox="thread")
    result = lab.invoke("bad", log_type="Tail")
    assert result.json()["errorType"] == "Runtime.ImportModuleError"
    assert "Status: error\tError Type: Runtime.ImportModuleError" in result.log_tail


def test_functions_with_the_same_module_name_do_not_share_it(lab, code):
    lab.create_function("a", code(app="def handler(e, c):\n    return 'a'\n"), handler="app.handler",
                        sandbox="thread")
    lab.create_function("b", code(app="def handler(e, c):\n    return 'b'\n"), handler="app.handler",
                        sandbox="thread")
    assert (lab.invoke("a").json(), lab.invoke("b").json()) == ("a", "b")


def test_timeout_is_reported_though_the_thread_runs_on(lab, code, tmp_path):
    lab.create_function("slow", code(app="""
        import os, time
        def handler(event, context):
            while event.get("gate") and not os.path.exists(event["gate"]):
                time.sleep(0.01)
            return "done"
    """), handler="app.handler", sandbox="thread", timeout=1)
    gate = tmp_path / "gate"  # opened only once the invoke is over: it cannot end in time
    result = lab.invoke("slow", {"gate": str(gate)})
    gate.touch()  # the thread the timeout left behind ends
    assert result.json()["errorType"] == "Sandbox.Timedout"
    assert lab.invoke("slow", {}).json() == "done"  # a new "environment"
    lab.create_function("echo", code(app=ECHO), handler="app.handler", sandbox="thread")
    assert lab.invoke("echo", {"x": 1}).json() == {"x": 1}


def test_what_handlers_set_in_the_environment_is_gone_once_none_runs(lab, code, tmp_path):
    """Two invokes side by side: the later to end puts the lab's environment back, with
    the runtime's ``_X_AMZN_TRACE_ID`` and the handlers' own variables taken away."""
    lab.create_function("setter", code(app="""
        import os, time
        def handler(event, context):
            os.environ["SET_BY_" + event["name"]] = "1"
            while not os.path.exists(event["gate"]):
                time.sleep(0.005)
            return sorted(k for k in os.environ if k.startswith("SET_BY_"))
    """), handler="app.handler", sandbox="thread", timeout=30)
    before = dict(os.environ)
    gate = tmp_path / "gate"
    with ThreadPoolExecutor(2) as pool:
        first, second = (pool.submit(lab.invoke, "setter", {"name": name, "gate": str(gate)})
                         for name in ("FIRST", "SECOND"))
        try:  # both handlers are under way
            assert wait_until(lambda: sum(k.startswith("SET_BY_") for k in os.environ) == 2,
                              timeout=60)
        finally:
            gate.touch()
    assert first.result().json() == second.result().json() == ["SET_BY_FIRST", "SET_BY_SECOND"]
    assert dict(os.environ) == before
