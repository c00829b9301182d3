"""The invoke path: payloads, context, environment, warm state, errors and logs."""

from __future__ import annotations

import base64
import json
import os
import re
import threading
import time

import pytest

from lambdalab import (
    InvalidParameterValueException,
    InvalidRequestContentException,
    RequestTooLargeException,
    ResourceNotFoundException,
)

from .conftest import ECHO, WHOAMI, exists, host_pid

CONTEXT = """
import os, tempfile, pathlib, uuid
COUNT = 0
ENVIRONMENT = uuid.uuid4().hex

def handler(event, context):
    global COUNT
    COUNT += 1
    marker = pathlib.Path(tempfile.gettempdir(), "marker")
    seen_marker = marker.exists()
    marker.write_text("x")
    cc = context.client_context
    return {
        "count": COUNT,
        "pid": os.getpid(),
        "environment": ENVIRONMENT,
        "seen_marker": seen_marker,
        "tmp": tempfile.gettempdir(),
        "function_name": context.function_name,
        "function_version": context.function_version,
        "invoked_function_arn": context.invoked_function_arn,
        "memory_limit_in_mb": context.memory_limit_in_mb,
        "aws_request_id": context.aws_request_id,
        "log_group_name": context.log_group_name,
        "log_stream_name": context.log_stream_name,
        "identity": [context.identity.cognito_identity_id, context.identity.cognito_identity_pool_id],
        "client_custom": cc.custom if cc else None,
        "client_app": cc.client.app_title if cc and cc.client else None,
        "remaining": context.get_remaining_time_in_millis(),
        "environ": dict(os.environ),
        "cwd": os.getcwd(),
    }
"""


@pytest.fixture
def ctx_fn(lab, code):
    lab.create_function("ctx", code(app=CONTEXT), handler="app.handler", memory_size=256, timeout=5)
    return "ctx"


def test_sync_invoke_returns_payload(lab, code):
    lab.create_function("echo", code(app=ECHO), handler="app.handler")
    result = lab.invoke("echo", {"hello": ["world", 1]})
    assert result.status_code == 200
    assert result.function_error is None
    assert result.executed_version == "$LATEST"
    assert result.json() == {"hello": ["world", 1]}


def test_payload_as_json_text_and_empty(lab, code):
    lab.create_function("echo", code(app=ECHO), handler="app.handler")
    assert lab.invoke("echo", '{"a": 1}').json() == {"a": 1}
    assert lab.invoke("echo", b"[1, 2]").json() == [1, 2]
    assert lab.invoke("echo").json() == {}


@pytest.mark.timing
def test_context_has_everything_the_python_runtime_gives(lab, ctx_fn):
    """Remaining time is bounded by the invoke's measured wall time: load widens the bound."""
    client_context = base64.b64encode(
        json.dumps({"custom": {"k": "v"}, "client": {"app_title": "demo"}}).encode()
    ).decode()
    started = time.monotonic()
    result = lab.invoke(ctx_fn, {}, client_context=client_context).json()
    wall_ms = (time.monotonic() - started) * 1000
    assert result["function_name"] == "ctx"
    assert result["function_version"] == "$LATEST"
    assert result["invoked_function_arn"] == "arn:aws:lambda:us-east-1:000000000000:function:ctx"
    assert result["memory_limit_in_mb"] == "256"  # a string, as on AWS
    # A random (version 4, RFC 4122 variant) UUID, as AWS's request ids are.
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", result["aws_request_id"])
    assert result["log_group_name"] == "/aws/lambda/ctx"
    assert re.fullmatch(r"\d{4}/\d\d/\d\d/\[\$LATEST\][0-9a-f]{32}", result["log_stream_name"])
    assert result["identity"] == [None, None]
    assert result["client_custom"] == {"k": "v"} and result["client_app"] == "demo"
    # At most the 5 s timeout, less no more than the invoke took (load only widens it).
    assert 5000 - wall_ms - 2 <= result["remaining"] <= 5000


@pytest.mark.timing
def test_remaining_time_counts_down(lab, code):
    """Each bound is exact or the invoke's own measured wall time: load stretches, never breaks it."""
    lab.create_function("t", code(app="""
        import time
        def handler(event, context):
            before = context.get_remaining_time_in_millis()
            time.sleep(0.2)
            return [before, context.get_remaining_time_in_millis()]
    """), handler="app.handler", timeout=10)
    lab.invoke("t")  # the cold start: its INIT is not the handler's time
    started = time.monotonic()
    before, after = lab.invoke("t").json()
    wall_ms = (time.monotonic() - started) * 1000
    # The deadline is set as the invoke starts: the handler sees at most the timeout,
    # less no more than the invoke took (whole milliseconds, so +2).
    assert 10_000 - wall_ms - 2 <= before <= 10_000
    # It slept 0.2 s between its readings, all within the invoke.
    assert 199 <= before - after <= wall_ms + 2


def test_environment_is_aws_and_never_the_hosts(lab, ctx_fn, monkeypatch):
    monkeypatch.setenv("HOST_SECRET", "do-not-leak")
    lab.update_function_configuration(ctx_fn, environment={"Variables": {"STAGE": "test"}})
    result = lab.invoke(ctx_fn, {}).json()
    env = result["environ"]
    assert "HOST_SECRET" not in env
    assert env["STAGE"] == "test"
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == "ctx"
    assert env["AWS_LAMBDA_FUNCTION_VERSION"] == "$LATEST"
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "256"
    assert env["AWS_LAMBDA_LOG_GROUP_NAME"] == "/aws/lambda/ctx"
    assert env["AWS_LAMBDA_LOG_STREAM_NAME"] == result["log_stream_name"]
    assert env["AWS_REGION"] == "us-east-1"
    assert env["AWS_EXECUTION_ENV"].startswith("AWS_Lambda_python3.")
    assert env["_HANDLER"] == "app.handler"
    assert env["TZ"] == ":UTC"
    assert env["LAMBDA_TASK_ROOT"] == result["cwd"]


def test_warm_invokes_share_globals_and_tmp(lab, ctx_fn):
    first = lab.invoke(ctx_fn, {}, log_type="Tail")
    second = lab.invoke(ctx_fn, {}, log_type="Tail")
    a, b = first.json(), second.json()
    assert (a["count"], b["count"]) == (1, 2)
    assert a["pid"] == b["pid"] and a["environment"] == b["environment"]
    assert (a["seen_marker"], b["seen_marker"]) == (False, True)
    assert "Init Duration" in first.log_tail
    assert "Init Duration" not in second.log_tail


def test_scale_out_gives_separate_environments(lab, code, rendezvous):
    gate = rendezvous / "gate"
    lab.create_function("slow", code(app=f"""
        import os, tempfile, pathlib, time, uuid
        COUNT = 0
        ENVIRONMENT = uuid.uuid4().hex  # not its pid: in a PID namespace, each is pid 2
        def handler(event, context):
            global COUNT
            COUNT += 1
            marker = pathlib.Path(tempfile.gettempdir(), "mine")
            seen = marker.exists()
            marker.write_text("x")
            pathlib.Path({str(rendezvous)!r}, "arrived-" + ENVIRONMENT).touch()
            while not pathlib.Path({str(gate)!r}).exists():
                time.sleep(0.005)
            return {{"environment": ENVIRONMENT, "count": COUNT, "seen": seen, "tmp": tempfile.gettempdir()}}
    """), handler="app.handler", timeout=20)
    results = []
    threads = [threading.Thread(target=lambda: results.append(lab.invoke("slow").json())) for _ in range(2)]
    for t in threads:
        t.start()
    while len(list(rendezvous.glob("arrived-*"))) < 2:  # both are inside the handler at once
        threading.Event().wait(0.005)
    gate.touch()
    for t in threads:
        t.join()
    assert len({r["environment"] for r in results}) == 2
    # each its own /tmp (a private tmpfs, all named /tmp, where confined): no marker seen
    assert all(r["count"] == 1 and not r["seen"] for r in results)
    assert len(lab.pool.idle_environments()) == 2


def test_dry_run_validates_only(lab, code):
    lab.create_function("echo", code(app=ECHO), handler="app.handler")
    result = lab.invoke("echo", {"x": 1}, invocation_type="DryRun")
    assert result.status_code == 204 and result.payload == b""
    assert lab.pool.idle_environments() == []
    with pytest.raises(ResourceNotFoundException):
        lab.invoke("nope", invocation_type="DryRun")


def test_event_is_accepted_then_runs(lab, code, rendezvous):
    out = rendezvous / "ran.json"
    lab.create_function("bg", code(app=f"""
        import json
        def handler(event, context):
            open({str(out)!r}, "w").write(json.dumps(event))
    """), handler="app.handler")
    result = lab.invoke("bg", {"k": "v"}, invocation_type="Event")
    assert result.status_code == 202 and result.payload == b""
    assert lab.wait_for_events(timeout=30)
    assert json.loads(out.read_text()) == {"k": "v"}
    assert lab.events.pending() == 0


def test_handler_exception_is_unhandled_function_error(lab, code):
    lab.create_function("boom", code(app="""
        class OrderError(Exception):
            pass
        def handler(event, context):
            raise OrderError("order 42 is not valid")
    """), handler="app.handler")
    result = lab.invoke("boom", {}, log_type="Tail")
    assert result.status_code == 200
    assert result.function_error == "Unhandled"
    error = result.json()
    assert error["errorType"] == "OrderError"
    assert error["errorMessage"] == "order 42 is not valid"
    assert error["requestId"] == result.request_id
    assert any('line 5, in handler' in frame for frame in error["stackTrace"])
    assert "[ERROR] OrderError: order 42 is not valid\nTraceback" in result.log_tail
    # the environment survives a handled exception, as on AWS
    assert len(lab.pool.idle_environments()) == 1


@pytest.mark.parametrize(
    "modules, handler, error_type, message",
    [
        ({"app": "import not_a_module\n"}, "app.handler", "Runtime.ImportModuleError",
         "Unable to import module 'app': No module named 'not_a_module'"),
        ({"other": ECHO}, "app.handler", "Runtime.ImportModuleError",
         "Unable to import module 'app': No module named 'app'"),
        ({"app": ECHO}, "app.missing", "Runtime.HandlerNotFound",
         "Handler 'missing' missing on module 'app'"),
        ({"app": "def handler(e, c)\n    pass\n"}, "app.handler", "Runtime.UserCodeSyntaxError",
         "Syntax error in module 'app'"),
        ({"app": "raise RuntimeError('init broke')\n"}, "app.handler", "RuntimeError",
         "init broke"),
    ],
)
def test_init_errors(lab, code, modules, handler, error_type, message):
    lab.create_function("bad", code(**modules), handler=handler)
    result = lab.invoke("bad", {}, log_type="Tail")
    assert result.function_error == "Unhandled"
    assert result.json()["errorType"] == error_type
    assert result.json()["errorMessage"].startswith(message)
    assert f"Status: error\tError Type: {error_type}" in result.log_tail
    assert lab.pool.idle_environments() == []  # a failed INIT is not kept


def test_unserialisable_result_is_marshal_error(lab, code):
    lab.create_function("m", code(app="def handler(e, c):\n    return {1, 2}\n"), handler="app.handler")
    error = lab.invoke("m").json()
    assert error["errorType"] == "Runtime.MarshalError"
    assert error["errorMessage"].startswith("Unable to marshal response: Object of type set")


@pytest.mark.parametrize("body, reason", [
    ("import sys\n    sys.exit(3)", "with error: exit status 3"),
    ("import os\n    os._exit(0)", "without providing a reason"),  # AWS's words for status 0
    ("import os, signal\n    os.kill(os.getpid(), signal.SIGKILL)", "with error: signal: killed")])
def test_process_exit_is_runtime_exit_error(lab, code, body, reason):
    lab.create_function("x", code(app=f"def handler(e, c):\n    {body}\n"), handler="app.handler")
    result = lab.invoke("x", {}, log_type="Tail")
    assert result.function_error == "Unhandled"
    assert result.json() == {
        "errorType": "Runtime.ExitError",
        "errorMessage": f"RequestId: {result.request_id} Error: Runtime exited {reason}",
    }
    assert "Status: error\tError Type: Runtime.ExitError" in result.log_tail
    assert lab.pool.idle_environments() == []
    # the next invoke gets a fresh environment
    lab.update_function_code("x", code(app=ECHO))
    assert lab.invoke("x", {"ok": 1}).json() == {"ok": 1}


def test_timeout_kills_and_replaces_the_environment(lab, code):
    lab.create_function("sleepy", code(app=f"""
        import os, time, uuid
        ENVIRONMENT = uuid.uuid4().hex
        def handler(event, context):
            if event.get("sleep"):
                time.sleep(30)
            return {WHOAMI} + [ENVIRONMENT]
    """), handler="app.handler", timeout=1)
    first = lab.invoke("sleepy", {}).json()
    first_pid = host_pid(*first[:2])
    result = lab.invoke("sleepy", {"sleep": True}, log_type="Tail")
    assert result.function_error == "Unhandled"
    assert result.json() == {
        "errorType": "Sandbox.Timedout",
        "errorMessage": f"RequestId: {result.request_id} Error: Task timed out after 1.00 seconds",
    }
    assert re.search(rf"Z {result.request_id} Task timed out after 1.00 seconds", result.log_tail)
    assert "Status: timeout" in result.log_tail
    with pytest.raises(ProcessLookupError):
        os.kill(first_pid, 0)
    assert lab.invoke("sleepy", {}).json()[2] != first[2]


@pytest.mark.parametrize("sandbox", ["subprocess", "limited"])
def test_an_event_near_the_6_mb_limit_goes_there_and_back_whole(lab, code, sandbox):
    """Larger than the pipe holds: sent and read back piece by piece, in both directions."""
    lab.create_function("echo", code(app=ECHO), handler="app.handler", memory_size=1024,
                        sandbox=sandbox)
    event = {"blob": "x" * (6 * 1024 * 1024 - 100), "n": 1}
    for _ in range(2):  # cold, then warm
        result = lab.invoke("echo", event)
        assert result.function_error is None
        assert result.json() == event


LOUD = """
import sys
def handler(event, context):
    for i in range(event["lines"]):
        print(f"line {i} " + "y" * 100)
    sys.stdout.write("no newline at the end")
    return {"ok": True}
"""


@pytest.mark.parametrize("sandbox", ["subprocess", "limited"])
def test_a_handler_that_prints_megabytes_loses_no_line(lab, code, sandbox):
    """More output than the log pipe holds: the core reads it while it waits."""
    lab.create_function("loud", code(app=LOUD), handler="app.handler", memory_size=1024,
                        timeout=20, sandbox=sandbox)
    for lines in (50_000, 10):
        assert lab.invoke("loud", {"lines": lines}).json() == {"ok": True}
    messages = [e.message for e in lab.logs.read("/aws/lambda/loud", limit=100_000)]
    assert sum(m.startswith("line ") for m in messages) == 50_010
    assert messages.count("no newline at the end\n") == 2  # AWS's events end with \n


def test_bad_payloads_and_parameters(lab, code):
    lab.create_function("echo", code(app=ECHO), handler="app.handler")
    with pytest.raises(InvalidRequestContentException, match="Could not parse request body into json"):
        lab.invoke("echo", "{not json")
    with pytest.raises(RequestTooLargeException, match="6291456 bytes"):
        lab.invoke("echo", "[" + "1," * (3 * 1024 * 1024) + "1]")
    with pytest.raises(RequestTooLargeException, match="1048576 bytes"):
        lab.invoke("echo", {"x": "y" * (1024 * 1024)}, invocation_type="Event")
    with pytest.raises(InvalidParameterValueException, match="InvocationType"):
        lab.invoke("echo", {}, invocation_type="Later")
    with pytest.raises(InvalidParameterValueException, match="LogType"):
        lab.invoke("echo", {}, log_type="All")
    with pytest.raises(InvalidRequestContentException, match="Client context"):
        lab.invoke("echo", {}, client_context="%%%")
    with pytest.raises(ResourceNotFoundException, match="function:nope"):
        lab.invoke("nope")
    with pytest.raises(ResourceNotFoundException, match="function:echo:7"):
        lab.invoke("echo", qualifier="7")


def test_response_too_large(lab, code):
    lab.create_function("big", code(app="def handler(e, c):\n    return 'x' * (7 * 1024 * 1024)\n"),
                        handler="app.handler", memory_size=512)
    result = lab.invoke("big")
    assert result.function_error == "Unhandled"
    assert result.json()["errorType"] == "Function.ResponseSizeTooLarge"


def test_tail_is_last_4kb_base64(lab, code):
    lab.create_function("chatty", code(app="""
        def handler(event, context):
            for i in range(500):
                print("line", i)
    """), handler="app.handler")
    result = lab.invoke("chatty", {}, log_type="Tail")
    raw = base64.b64decode(result.log_result)
    assert len(raw) == 4096
    assert raw.decode().rstrip("\n").splitlines()[-1].startswith("REPORT RequestId: ")
    assert lab.invoke("chatty", {}).log_result is None


def test_what_init_prints_comes_before_start_on_every_cold_start(lab, code):
    """INIT's output precedes the first START even when the runtime's two INIT frames
    (its pid, then "ready") reach the core in one read."""
    root = code(app="print('init-time print')\ndef handler(event, context):\n    return 1\n")
    for n in range(30):
        lab.create_function(f"f{n}", root, handler="app.handler")
        tail = base64.b64decode(lab.invoke(f"f{n}", {}, log_type="Tail").log_result).decode()
        assert tail.splitlines()[0] == "init-time print", (n, tail)


def test_logs_are_written_as_aws_writes_them(lab, code):
    lab.create_function("logger", code(app="""
        import logging
        logger = logging.getLogger()
        logger.setLevel(logging.INFO)
        print("init-time print")
        def handler(event, context):
            print("hello from print")
            logger.info("hello from logging")
            return 1
    """), handler="app.handler", memory_size=192)
    first = lab.invoke("logger", {})
    lab.invoke("logger", {})
    events = lab.get_logs("logger")
    messages = [e.message for e in events]
    rid = first.request_id
    # every event ends with a newline, as AWS's do; INIT_START opens a cold start
    assert re.fullmatch(r"INIT_START Runtime Version: python:3\.11\.v\d+\tRuntime Version ARN: "
                        r"arn:aws:lambda:us-east-1::runtime:[0-9a-f]{64}\n", messages[0])
    messages = messages[1:]
    assert messages[0] == "init-time print\n"
    assert messages[1] == f"START RequestId: {rid} Version: $LATEST\n"
    assert messages[2] == "hello from print\n"
    assert re.fullmatch(rf"\[INFO\]\t\d{{4}}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{{3}}Z\t{rid}\thello from logging\n", messages[3])
    assert messages[4] == f"END RequestId: {rid}\n"
    report = messages[5]
    assert re.fullmatch(
        rf"REPORT RequestId: {rid}\tDuration: \d+\.\d\d ms\tBilled Duration: \d+ ms\t"
        r"Memory Size: 192 MB\tMax Memory Used: \d+ MB\tInit Duration: \d+\.\d\d ms\t\n",
        report,
    )
    assert {e.log_stream for e in events} == {events[0].log_stream}  # one environment, one stream
    assert events[0].log_group == "/aws/lambda/logger"


def test_billed_duration_rounds_up_and_bills_init():
    from lambdalab.logs import InvokeReport

    warm = InvokeReport("r", "f", "$LATEST", 1.01, 128, 30)
    assert warm.billed_duration_ms == 2
    cold = InvokeReport("r", "f", "$LATEST", 1.5, 128, 30, init_duration_ms=100.2)
    assert cold.billed_duration_ms == 102


@pytest.mark.timing
def test_init_over_its_limit_fails_the_invoke(lab, code, monkeypatch, rendezvous):
    """The INIT gets 3 s to write its marker, a hundred times what that takes when idle."""
    from lambdalab import limits

    monkeypatch.setattr(limits, "INIT_TIMEOUT_S", 3.0)  # AWS: 10 s
    marker = rendezvous / "initpid"
    lab.create_function("slowinit", code(app=f"""
        import os, time
        open({str(marker)!r}, "w").write(" ".join(map(str, {WHOAMI})))
        time.sleep(30)
        def handler(event, context):
            return 1
    """), handler="app.handler", timeout=5)
    result = lab.invoke("slowinit", {}, log_type="Tail")
    assert result.function_error == "Unhandled"
    assert result.json()["errorType"] == "Runtime.InitTimeout"
    assert "Phase: init\tStatus: timeout" in result.log_tail
    assert lab.pool.idle_environments() == []
    pid, namespace = marker.read_text().split()
    assert not exists(int(pid), namespace)  # the stuck INIT was killed, not left behind
