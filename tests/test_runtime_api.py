"""The Lambda Runtime API and provided.* functions: real runtimes, real processes.

The official ``awslambdaric`` client runs unmodified as a bootstrap; a bash bootstrap
with curl (AWS's own custom-runtime tutorial) proves any language works.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import textwrap
import threading
import time
from pathlib import Path
from typing import Callable

import psutil
import pytest

from lambdalab import InvalidParameterValueException
from lambdalab.limits import SYNC_RESPONSE_MAX_BYTES
from lambdalab.sandbox.runtime_api import RuntimeApiServer
from lambdalab.sandbox import InvokeRequest

from .conftest import host_pid

AWSLAMBDARIC_BOOTSTRAP = """\
#!/bin/sh
exec "$LAMBDALAB_PYTHON" -m awslambdaric app.handler
"""

# AWS's tutorial bootstrap (https://docs.aws.amazon.com/lambda/latest/dg/runtimes-walkthrough.html),
# answering {"echo": event, "env": ..., "cwd": ...}; an event {"exit": N} exits the process.
BASH_BOOTSTRAP = """\
#!/bin/bash
set -euo pipefail
echo "bash runtime starting"
API="http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime"
while true; do
  HEADERS="$(mktemp)"
  EVENT=$(curl -sS -LD "$HEADERS" "$API/invocation/next")
  REQUEST_ID=$(grep -Fi Lambda-Runtime-Aws-Request-Id "$HEADERS" | tr -d '[:space:]' | cut -d: -f2)
  echo "got $EVENT"
  case "$EVENT" in
    *'"exit"'*) exit "$(echo "$EVENT" | tr -dc 0-9)" ;;
    *'"sleep"'*) sleep 30 & wait ;;
  esac
  RESPONSE="{\\"echo\\": $EVENT, \\"pid\\": $$, \\"ns\\": \\"$(readlink /proc/$$/ns/pid)\\", \\"home\\": \\"${HOME:-unset}\\", \\"cwd\\": \\"$PWD\\", \\"api\\": \\"$AWS_LAMBDA_RUNTIME_API\\"}"
  curl -sS -X POST "$API/invocation/$REQUEST_ID/response" -d "$RESPONSE" > /dev/null
done
"""

APP = """
import os
COUNT = 0

class OrderError(Exception):
    pass

def handler(event, context):
    global COUNT
    COUNT += 1
    print("handling", event)
    if event.get("fail"):
        raise OrderError("order 42 is not valid")
    return {
        "count": COUNT,
        "pid": os.getpid(),
        "event": event,
        "function_name": context.function_name,
        "function_version": context.function_version,
        "invoked_function_arn": context.invoked_function_arn,
        "memory_limit_in_mb": context.memory_limit_in_mb,
        "aws_request_id": context.aws_request_id,
        "log_group_name": context.log_group_name,
        "log_stream_name": context.log_stream_name,
        "remaining": context.get_remaining_time_in_millis(),
        "trace_id": os.environ.get("_X_AMZN_TRACE_ID"),
        "environ": dict(os.environ),
    }
"""

needs_curl = pytest.mark.skipif(shutil.which("curl") is None, reason="the bash bootstrap uses curl")


@pytest.fixture
def runtime_code(tmp_path: Path) -> Callable[..., Path]:
    """``runtime_code(bootstrap="...", **files)``: a code root with an executable bootstrap."""
    counter = iter(range(1_000_000))

    def write(bootstrap: str | None = None, mode: int = 0o755, **files: str) -> Path:
        root = tmp_path / f"rt{next(counter)}"
        root.mkdir()
        if bootstrap is not None:
            (root / "bootstrap").write_text(textwrap.dedent(bootstrap))
            (root / "bootstrap").chmod(mode)
        for name, text in files.items():
            (root / name).write_text(textwrap.dedent(text))
        return root

    return write


@pytest.fixture
def ric_fn(lab, runtime_code):
    root = runtime_code(AWSLAMBDARIC_BOOTSTRAP, **{"app.py": APP})
    lab.create_function("ric", root, runtime="provided.al2023", handler="app.handler",
                        memory_size=256, timeout=5)
    return "ric"


# -- awslambdaric, unmodified -----------------------------------------------------------


@pytest.mark.timing
def test_awslambdaric_runs_as_bootstrap_with_context_and_logs(lab, ric_fn, monkeypatch):
    """Remaining time is bounded by the invoke's measured wall time: load widens the bound."""
    monkeypatch.setenv("HOST_SECRET", "do-not-leak")
    started = time.monotonic()
    result = lab.invoke(ric_fn, {"k": "v"}, log_type="Tail")
    wall_ms = (time.monotonic() - started) * 1000
    assert result.status_code == 200 and result.function_error is None
    body = result.json()
    assert body["event"] == {"k": "v"}
    assert body["function_name"] == "ric"
    assert body["function_version"] == "$LATEST"
    assert body["invoked_function_arn"] == "arn:aws:lambda:us-east-1:000000000000:function:ric"
    assert body["memory_limit_in_mb"] == "256"
    assert body["aws_request_id"] == result.request_id
    assert body["log_group_name"] == "/aws/lambda/ric"
    assert re.fullmatch(r"\d{4}/\d\d/\d\d/\[\$LATEST\][0-9a-f]{32}", body["log_stream_name"])
    # At most the 5 s timeout, less no more than the invoke took (load only widens it).
    assert 5000 - wall_ms - 2 <= body["remaining"] <= 5000
    assert body["trace_id"].startswith("Root=1-")
    env = body["environ"]
    assert "HOST_SECRET" not in env
    assert re.fullmatch(r"127\.0\.0\.1:\d+", env["AWS_LAMBDA_RUNTIME_API"])
    assert "AWS_EXECUTION_ENV" not in env  # OS-only runtimes do not set it
    tail = result.log_tail
    assert f"START RequestId: {result.request_id} Version: $LATEST" in tail
    assert "handling {'k': 'v'}" in tail
    assert re.search(r"REPORT RequestId: .*\tInit Duration: \d+\.\d\d ms", tail)


def test_awslambdaric_warm_invokes_reuse_the_process(lab, ric_fn):
    first = lab.invoke(ric_fn, {}, log_type="Tail")
    second = lab.invoke(ric_fn, {}, log_type="Tail")
    a, b = first.json(), second.json()
    assert (a["count"], b["count"]) == (1, 2)
    assert a["pid"] == b["pid"]
    assert "Init Duration" in first.log_tail and "Init Duration" not in second.log_tail
    assert len(lab.pool.idle_environments()) == 1


def test_awslambdaric_handler_error_is_unhandled_as_for_python(lab, ric_fn):
    result = lab.invoke(ric_fn, {"fail": True}, log_type="Tail")
    assert result.function_error == "Unhandled"
    error = result.json()
    assert error["errorType"] == "OrderError"
    assert error["errorMessage"] == "order 42 is not valid"
    assert any("in handler" in frame for frame in error["stackTrace"])
    assert "[ERROR] OrderError: order 42 is not valid" in result.log_tail
    # the environment survives a handled error, as on AWS
    assert lab.invoke(ric_fn, {}).json()["count"] == 2


def test_awslambdaric_init_error_is_reported_like_python(lab, runtime_code):
    root = runtime_code(AWSLAMBDARIC_BOOTSTRAP, **{"app.py": "import not_a_module\n"})
    lab.create_function("bad", root, runtime="provided.al2", handler="app.handler")
    result = lab.invoke("bad", {}, log_type="Tail")
    assert result.function_error == "Unhandled"
    error = result.json()
    assert error["errorType"] == "Runtime.ImportModuleError"
    assert error["errorMessage"].startswith(
        "Unable to import module 'app': No module named 'not_a_module'"
    )
    assert "Phase: init\tStatus: error\tError Type: Runtime.ImportModuleError" in result.log_tail
    assert lab.pool.idle_environments() == []


# -- any language: a bash bootstrap -------------------------------------------------------


@needs_curl
def test_bash_bootstrap_echoes_in_a_clean_environment(lab, runtime_code):
    root = runtime_code(BASH_BOOTSTRAP)
    lab.create_function("sh", root, runtime="provided.al2023", handler="function.handler")
    first = lab.invoke("sh", {"n": 1}, log_type="Tail")
    second = lab.invoke("sh", {"n": 2})
    body = first.json()
    assert body["echo"] == {"n": 1} and second.json()["echo"] == {"n": 2}
    assert (body["pid"], body["ns"]) == (second.json()["pid"], second.json()["ns"])  # one process
    assert body["home"] == "unset"  # nothing of the host's environment
    # cwd is the code root: /var/task where the runtime is confined, as on AWS
    assert body["cwd"] == "/var/task" or Path(body["cwd"], "bootstrap").exists()
    assert first.log_tail.splitlines()[0] == "bash runtime starting"
    assert 'got {"n": 1}' in first.log_tail


@needs_curl
@pytest.mark.parametrize("event, reason", [({"exit": 3}, "with error: exit status 3"),
                                           ({"exit": 0}, "without providing a reason")])
def test_bootstrap_exit_during_invoke_is_runtime_exit_error(lab, runtime_code, event, reason):
    lab.create_function("sh", runtime_code(BASH_BOOTSTRAP), runtime="provided.al2023",
                        handler="function.handler")
    result = lab.invoke("sh", event, log_type="Tail")
    assert result.function_error == "Unhandled"
    assert result.json() == {
        "errorType": "Runtime.ExitError",
        "errorMessage": f"RequestId: {result.request_id} Error: Runtime exited {reason}",
    }
    assert lab.pool.idle_environments() == []
    assert lab.invoke("sh", {"ok": 1}).json()["echo"] == {"ok": 1}  # a fresh environment


@needs_curl
@pytest.mark.timing
def test_timeout_kills_the_whole_process_group(lab, runtime_code):
    """The bound is the bootstrap's 30 s sleep, which an invoke that waited for it cannot beat."""
    lab.create_function("sh", runtime_code(BASH_BOOTSTRAP), runtime="provided.al2023",
                        handler="function.handler", timeout=1)
    body = lab.invoke("sh", {}).json()
    pid = host_pid(body["pid"], body["ns"])
    started = time.monotonic()
    result = lab.invoke("sh", {"sleep": True}, log_type="Tail")
    # Not waited for the bootstrap's `sleep 30`, which would end no earlier than 30 s from
    # here: an exact bound, which a loaded machine's slowness does not reach.
    assert time.monotonic() - started < 30
    assert result.json() == {
        "errorType": "Sandbox.Timedout",
        "errorMessage": f"RequestId: {result.request_id} Error: Task timed out after 1.00 seconds",
    }
    assert "Status: timeout" in result.log_tail
    assert live_processes_in_group(pid) == []  # the bootstrap and its `sleep` child are gone
    fresh = lab.invoke("sh", {}).json()
    assert host_pid(fresh["pid"], fresh["ns"]) != pid


def live_processes_in_group(pgid: int, wait_s: float = 30.0) -> list[int]:
    """Processes of group ``pgid`` that are not zombies (an orphan waits for init to reap it)."""
    deadline = time.monotonic() + wait_s
    while True:
        live = []
        for proc in psutil.process_iter(["status"]):
            try:
                if os.getpgid(proc.pid) == pgid and proc.info["status"] != psutil.STATUS_ZOMBIE:
                    live.append(proc.pid)
            except (ProcessLookupError, psutil.Error):
                pass
        if not live or time.monotonic() > deadline:
            return live
        time.sleep(0.02)


@pytest.mark.parametrize(
    "bootstrap, mode, error_type, message",
    [
        ("#!/bin/sh\necho booting; exit 3\n", 0o755, "Runtime.ExitError",
         "RequestId: "),  # then "Error: Runtime exited with error: exit status 3"
        (None, 0o755, "Runtime.InvalidEntrypoint", "Couldn't find valid bootstrap(s): ["),
        ("#!/bin/sh\n", 0o644, "Runtime.InvalidEntrypoint", "fork/exec "),
    ],
)
def test_init_failures(lab, runtime_code, bootstrap, mode, error_type, message):
    lab.create_function("bad", runtime_code(bootstrap, mode=mode, **{"x.txt": "x"}),
                        runtime="provided.al2023", handler="function.handler")
    result = lab.invoke("bad", {}, log_type="Tail")
    assert result.function_error == "Unhandled"
    assert result.json()["errorType"] == error_type
    assert result.json()["errorMessage"].startswith(message)
    if error_type == "Runtime.ExitError":  # as AWS reports an exit during INIT
        assert result.json()["errorMessage"] == (
            f"RequestId: {result.request_id} Error: Runtime exited with error: exit status 3")
    assert f"Status: error\tError Type: {error_type}" in result.log_tail
    assert lab.pool.idle_environments() == []
    if mode == 0o644:
        assert result.json()["errorMessage"].endswith(": permission denied")


@pytest.mark.timing
def test_init_error_posted_by_a_custom_runtime(lab, runtime_code):
    """The bound is the runtime's 30 s sleep, which an INIT that waited for it cannot beat."""
    poster = """\
        #!/bin/sh
        exec "$LAMBDALAB_PYTHON" -c '
        import json, os, urllib.request
        print("reporting init error", flush=True)
        req = urllib.request.Request(
            "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2018-06-01/runtime/init/error",
            data=json.dumps({"errorMessage": "no config", "errorType": "App.ConfigError"}).encode(),
            headers={"Lambda-Runtime-Function-Error-Type": "App.ConfigError"}, method="POST")
        assert urllib.request.urlopen(req).status == 202
        import time; time.sleep(30)
        '
    """
    lab.create_function("bad", runtime_code(poster), runtime="provided.al2023", handler="x.y")
    started = time.monotonic()
    result = lab.invoke("bad", {}, log_type="Tail")
    # The runtime is not waited for after /init/error: its sleep would end no earlier
    # than 30 s from here, a bound a loaded machine's slowness does not reach.
    assert time.monotonic() - started < 30
    assert result.json() == {"errorMessage": "no config", "errorType": "App.ConfigError"}
    assert result.log_tail.splitlines()[0] == "reporting init error"
    assert "Status: error\tError Type: App.ConfigError" in result.log_tail


def test_a_sandbox_that_does_not_run_the_runtime_is_refused(lab, runtime_code):
    node = runtime_code(None, **{"index.js": ""})
    with pytest.raises(InvalidParameterValueException, match="'subprocess' does not run nodejs20.x.*limited"):
        lab.create_function("n", node, runtime="nodejs20.x", handler="index.handler",
                            sandbox="subprocess")
    assert lab.list_functions() == []
    lab.create_function("n", node, runtime="nodejs20.x", handler="index.handler",
                        sandbox="runtime-api")
    with pytest.raises(InvalidParameterValueException, match="'runtime-api' does not run python3.12"):
        lab.update_function_configuration("n", runtime="python3.12", handler="app.handler")
    with pytest.raises(InvalidParameterValueException, match="'subprocess' does not run nodejs20.x"):
        lab.update_function_configuration("n", sandbox="subprocess")
    assert lab.get_function_configuration("n").sandbox == "runtime-api"  # nothing changed
    assert lab.update_function_configuration("n", sandbox="limited").sandbox == "limited"


def test_runtime_names_choose_the_runtime_api_backend(lab, runtime_code):
    lab.create_function("n", runtime_code(None, **{"index.js": ""}), runtime="nodejs20.x",
                        handler="index.handler")
    config = lab.get_function_configuration("n")
    assert lab.backends.name_for(config) == "limited"  # the default runs every runtime
    lab.default_sandbox = "subprocess"  # Python only: the specialist runs Node.js
    assert lab.backends.name_for(config) == "runtime-api"
    with pytest.raises(InvalidParameterValueException, match="provided.al2023"):
        lab.create_function("x", runtime_code(None, **{"a.py": ""}), runtime="go1.x", handler="a.b")


# -- the Runtime API itself ------------------------------------------------------------


@pytest.fixture
def api():
    rang = threading.Event()
    server = RuntimeApiServer(notify=rang.set)
    yield server, rang
    server.close()


def _call(server, method, path, body=None, headers=None):
    conn = http.client.HTTPConnection(*server.address.split(":"), timeout=60)  # a hang only
    conn.request(method, "/2018-06-01/runtime" + path, body=body, headers=headers or {})
    response = conn.getresponse()
    return response.status, dict(response.getheaders()), response.read()


def test_runtime_api_next_carries_aws_headers(api):
    server, rang = api
    request = InvokeRequest(
        request_id="8476a536-e9f4-11e8-9739-2dfe598c3fcd", payload=b'{"a": 1}',
        invoked_function_arn="arn:aws:lambda:us-east-1:000000000000:function:f",
        deadline_ms=1542409706888, timeout_s=3, client_context='{"custom": {"k": "v"}}',
        cognito_identity='{"cognitoIdentityId": "id", "cognitoIdentityPoolId": "pool"}',
        trace_id="Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1",
    )
    server.state.submit(request)
    status, headers, body = _call(server, "GET", "/invocation/next")
    assert rang.is_set()  # the first /next ends INIT
    assert status == 200 and body == b'{"a": 1}'
    assert headers["Lambda-Runtime-Aws-Request-Id"] == request.request_id
    assert headers["Lambda-Runtime-Deadline-Ms"] == "1542409706888"
    assert headers["Lambda-Runtime-Invoked-Function-Arn"] == request.invoked_function_arn
    assert headers["Lambda-Runtime-Trace-Id"] == request.trace_id
    assert headers["Lambda-Runtime-Client-Context"] == request.client_context
    assert headers["Lambda-Runtime-Cognito-Identity"] == request.cognito_identity
    # answering another request id is refused; the right one is accepted
    status, _, body = _call(server, "POST", "/invocation/other/response", b"{}")
    assert status == 400 and json.loads(body)["errorType"] == "InvalidRequestID"
    status, _, body = _call(server, "POST", f"/invocation/{request.request_id}/error",
                            b'{"errorMessage": "m", "errorType": "E", "stackTrace": []}',
                            {"Lambda-Runtime-Function-Error-Type": "E"})
    assert status == 202 and json.loads(body) == {"status": "OK"}
    answer = server.state.take_answer()
    assert answer.status == "error"
    assert json.loads(answer.body) == {"errorMessage": "m", "errorType": "E", "stackTrace": []}
    # INIT is over: /init/error is no longer allowed; unknown paths are 404
    status, _, body = _call(server, "POST", "/init/error", b"{}")
    assert status == 403 and json.loads(body)["errorType"] == "InvalidStateTransition"
    assert _call(server, "GET", "/invocation/nope")[0] == 404


def test_runtime_api_refuses_an_oversized_response_with_413(api):
    server, _ = api
    request = InvokeRequest("r1", b"{}", "arn", 0, 3)
    server.state.submit(request)
    assert _call(server, "GET", "/invocation/next")[0] == 200
    big = b'"' + b"x" * (SYNC_RESPONSE_MAX_BYTES - 1) + b'"'  # one byte over AWS's figure
    status, _, body = _call(server, "POST", "/invocation/r1/response", big)
    assert status == 413 and json.loads(body)["errorType"] == "RequestEntityTooLarge"
    assert server.state.take_answer().body == big  # the core reports ResponseSizeTooLarge


def test_runtime_api_error_without_json_body_uses_the_header(api):
    server, _ = api
    server.state.submit(InvokeRequest("r1", b"{}", "arn", 0, 3))
    _call(server, "GET", "/invocation/next")
    status, _, _ = _call(server, "POST", "/invocation/r1/error", b"it broke",
                         {"Lambda-Runtime-Function-Error-Type": "Custom.Broken"})
    assert status == 202
    assert json.loads(server.state.take_answer().body) == {
        "errorMessage": "it broke", "errorType": "Custom.Broken"
    }


# -- the handler of a provided.* function ----------------------------------------------


def test_provided_handler_is_any_name_passed_as_HANDLER(lab, runtime_code):
    root = runtime_code(AWSLAMBDARIC_BOOTSTRAP, **{"app.py": APP})
    lab.create_function("named", root, runtime="provided.al2023", handler="bootstrap")
    lab.create_function("unnamed", root, runtime="provided.al2")  # no handler: "bootstrap"
    lab.create_function("odd", root, runtime="provided.al2023", handler="my-handler::v2")
    assert lab.get_function_configuration("unnamed").handler == "bootstrap"
    assert lab.invoke("named", {}).json()["environ"]["_HANDLER"] == "bootstrap"
    assert lab.invoke("odd", {}).json()["environ"]["_HANDLER"] == "my-handler::v2"


@pytest.mark.parametrize(
    "runtime, handler, message",
    [
        ("provided.al2023", "two words", "any name"),
        ("provided.al2023", "x" * 129, "at most 128 characters"),
        ("provided.al2023", "", "any name"),
        ("python3.12", "bootstrap", "module.function"),
        ("python3.12", None, "module.function"),
        ("nodejs20.x", "index", "module.function"),
    ],
)
def test_handler_is_checked_as_its_runtime_reads_it(lab, runtime_code, runtime, handler, message):
    with pytest.raises(InvalidParameterValueException, match=message):
        lab.create_function("f", runtime_code(None, **{"a.py": ""}), runtime=runtime, handler=handler)
    assert lab.list_functions() == []


def test_update_checks_the_handler_against_the_runtime_it_will_run_in(lab, runtime_code):
    root = runtime_code(None, **{"app.py": ""})
    lab.create_function("f", root, runtime="python3.12", handler="app.handler")
    with pytest.raises(InvalidParameterValueException, match="module.function"):
        lab.update_function_configuration("f", handler="bootstrap")  # still Python
    lab.update_function_configuration("f", runtime="provided.al2023", handler="bootstrap")
    lab.update_function_configuration("f", handler="any-name")  # provided: any name
    with pytest.raises(InvalidParameterValueException, match="module.function"):
        lab.update_function_configuration("f", runtime="python3.12")  # keeps "any-name"
    config = lab.update_function_configuration("f", runtime="python3.12", handler="app.handler")
    assert (config.runtime, config.handler) == ("python3.12", "app.handler")


def test_edge_accepts_handler_bootstrap_for_provided_and_refuses_it_for_python(lab):
    from .edge_support import ROLE, EdgeServer, client_for, zip_of

    with EdgeServer(lab, port=0) as edge:
        client = client_for(edge.url)
        created = client.create_function(
            FunctionName="rt", Runtime="provided.al2023", Role=ROLE, Handler="bootstrap",
            Code={"ZipFile": zip_of(app="")},
        )
        assert created["Handler"] == "bootstrap"
        updated = client.update_function_configuration(FunctionName="rt", Handler="serve.v2")
        assert updated["Handler"] == "serve.v2"
        with pytest.raises(client.exceptions.InvalidParameterValueException, match="module.function"):
            client.create_function(
                FunctionName="py", Runtime="python3.12", Role=ROLE, Handler="bootstrap",
                Code={"ZipFile": zip_of(app="")},
            )
