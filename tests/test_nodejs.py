"""nodejs*.x functions: real ``node``, lambdalab's Node runtime client, the Runtime API."""

from __future__ import annotations

import re
import shutil
import textwrap
import time
from pathlib import Path
from typing import Callable

import pytest

pytestmark = pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed")

CONTEXT = """
let count = 0;
exports.handler = async (event, context) => {
  count += 1;
  console.log("handling", JSON.stringify(event));
  console.error("and a\\nsecond line");
  return {
    count,
    pid: process.pid,
    event,
    functionName: context.functionName,
    functionVersion: context.functionVersion,
    invokedFunctionArn: context.invokedFunctionArn,
    memoryLimitInMB: context.memoryLimitInMB,
    awsRequestId: context.awsRequestId,
    logGroupName: context.logGroupName,
    logStreamName: context.logStreamName,
    remaining: context.getRemainingTimeInMillis(),
    callbackWaitsForEmptyEventLoop: context.callbackWaitsForEmptyEventLoop,
    traceId: process.env._X_AMZN_TRACE_ID,
    executionEnv: process.env.AWS_EXECUTION_ENV,
  };
};
"""


@pytest.fixture
def js(tmp_path: Path) -> Callable[..., Path]:
    """``js(**{"index.js": source})``: a code root of JavaScript files."""
    counter = iter(range(1_000_000))

    def write(**files: str) -> Path:
        root = tmp_path / f"js{next(counter)}"
        root.mkdir()
        for name, source in files.items():
            (root / name).write_text(textwrap.dedent(source))
        return root

    return write


@pytest.mark.timing
def test_async_handler_gets_event_and_context(lab, js):
    """Remaining time is bounded by the invoke's measured wall time: load widens the bound."""
    lab.create_function("n", js(**{"index.js": CONTEXT}), runtime="nodejs20.x",
                        handler="index.handler", memory_size=256, timeout=5)
    started = time.monotonic()
    result = lab.invoke("n", {"k": "v"}, log_type="Tail")
    wall_ms = (time.monotonic() - started) * 1000
    assert result.function_error is None
    body = result.json()
    assert body["event"] == {"k": "v"}
    assert body["functionName"] == "n"
    assert body["functionVersion"] == "$LATEST"
    assert body["invokedFunctionArn"] == "arn:aws:lambda:us-east-1:000000000000:function:n"
    assert body["memoryLimitInMB"] == "256"
    assert body["awsRequestId"] == result.request_id
    assert body["logGroupName"] == "/aws/lambda/n"
    assert re.fullmatch(r"\d{4}/\d\d/\d\d/\[\$LATEST\][0-9a-f]{32}", body["logStreamName"])
    # At most the 5 s timeout, less no more than the invoke took (load only widens it).
    assert 5000 - wall_ms - 2 <= body["remaining"] <= 5000
    assert body["callbackWaitsForEmptyEventLoop"] is True
    assert body["traceId"].startswith("Root=1-")
    assert body["executionEnv"] == "AWS_Lambda_nodejs20.x"


def test_console_lines_are_in_aws_node_format_and_warm_reuse(lab, js):
    lab.create_function("n", js(**{"index.js": CONTEXT}), runtime="nodejs22.x", handler="index.handler")
    first = lab.invoke("n", {"a": 1}, log_type="Tail")
    second = lab.invoke("n", {}, log_type="Tail")
    rid = first.request_id
    lines = first.log_tail.split("\n")
    assert lines[0] == f"START RequestId: {rid} Version: $LATEST"
    assert re.fullmatch(rf"\d{{4}}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{{3}}Z\t{rid}\tINFO\thandling {{\"a\":1}}", lines[1])
    assert re.fullmatch(rf".*Z\t{rid}\tERROR\tand a", lines[2])  # one log event, its newline kept
    assert lines[3] == "second line"
    assert (first.json()["count"], second.json()["count"]) == (1, 2)
    assert first.json()["pid"] == second.json()["pid"]
    assert "Init Duration" not in second.log_tail


@pytest.mark.timing
def test_callback_handler_waits_for_the_event_loop_unless_told_not_to(lab, js):
    """A lower bound (a 400 ms timer) and an order (answer before a 30 s timer): load breaks neither."""
    lab.create_function("cb", js(**{"index.js": """
        exports.handler = (event, context, callback) => {
          context.callbackWaitsForEmptyEventLoop = event.wait;
          setTimeout(() => console.log("timer fired"), event.timerMs);
          callback(null, { doubled: event.n * 2 });
        };
    """}), runtime="nodejs18.x", handler="index.handler", timeout=60)
    started = time.monotonic()
    waited = lab.invoke("cb", {"n": 21, "wait": True, "timerMs": 400}, log_type="Tail")
    waited_s = time.monotonic() - started
    assert waited.json() == {"doubled": 42}
    assert "timer fired" in waited.log_tail and waited_s >= 0.4  # a lower bound: load lengthens it
    # Not waited for: the answer comes before the timer fires (an order, not a time; the
    # timer is long so that a slow machine does not fire it before the answer is out).
    quick = lab.invoke("cb", {"n": 1, "wait": False, "timerMs": 30_000}, log_type="Tail")
    assert quick.json() == {"doubled": 2}
    assert "timer fired" not in quick.log_tail


def test_errors_as_the_node_runtime_reports_them(lab, js):
    lab.create_function("e", js(**{"index.js": """
        exports.handler = async (event) => {
          if (event.callback) return undefined;
          throw new TypeError("order 42 is not valid");
        };
        exports.viaCallback = (event, context, callback) => callback(new RangeError("too far"));
    """}), runtime="nodejs20.x", handler="index.handler")
    result = lab.invoke("e", {}, log_type="Tail")
    assert result.function_error == "Unhandled"
    error = result.json()
    assert error["errorType"] == "TypeError"
    assert error["errorMessage"] == "order 42 is not valid"
    assert error["trace"][0] == "TypeError: order 42 is not valid"
    assert any("index.js:4" in frame for frame in error["trace"])
    assert re.search(
        rf"Z\t{result.request_id}\tERROR\tInvoke Error \t\{{\"errorType\":\"TypeError\"", result.log_tail
    )
    assert len(lab.pool.idle_environments()) == 1  # the environment survives
    lab.update_function_configuration("e", handler="index.viaCallback")
    assert lab.invoke("e", {}).json()["errorType"] == "RangeError"


def test_es_module_handler(lab, js):
    lab.create_function("m", js(**{"app.mjs": """
        import { basename } from "node:path";
        export const handler = async (event) => ({ file: basename(import.meta.url), event });
    """}), runtime="nodejs20.x", handler="app.handler")
    assert lab.invoke("m", {"x": 1}).json() == {"file": "app.mjs", "event": {"x": 1}}


@pytest.mark.parametrize(
    "files, handler, error_type, message",
    [
        ({"other.js": ""}, "index.handler", "Runtime.ImportModuleError",
         "Error: Cannot find module 'index'\nRequire stack:\n- "),
        ({"index.js": "exports.other = async () => 1;\n"}, "index.handler",
         "Runtime.HandlerNotFound", "index.handler is undefined or not exported"),
        ({"index.js": "exports.handler = 42;\n"}, "index.handler",
         "Runtime.HandlerNotFound", "index.handler is not a function"),
        ({"index.js": "exports.handler = async () => {\n"}, "index.handler",
         "Runtime.UserCodeSyntaxError", "SyntaxError: "),
        ({"index.js": "throw new Error('init broke');\n"}, "index.handler", "Error", "init broke"),
    ],
)
def test_init_errors(lab, js, files, handler, error_type, message):
    lab.create_function("bad", js(**files), runtime="nodejs20.x", handler=handler)
    result = lab.invoke("bad", {}, log_type="Tail")
    assert result.function_error == "Unhandled"
    assert result.json()["errorType"] == error_type
    assert result.json()["errorMessage"].startswith(message)
    assert f"Status: error\tError Type: {error_type}" in result.log_tail
    assert "\tundefined\tERROR\tUncaught Exception \t{" in result.log_tail
    assert lab.pool.idle_environments() == []


def test_process_exit_and_timeout(lab, js):
    lab.create_function("x", js(**{"index.js": """
        exports.handler = async (event) => {
          if (event.exit !== undefined) process.exit(event.exit);
          if (event.hang) await new Promise(() => setInterval(() => {}, 1000));
          return process.pid;
        };
    """}), runtime="nodejs20.x", handler="index.handler", timeout=1)
    crash = lab.invoke("x", {"exit": 2})
    assert crash.json()["errorType"] == "Runtime.ExitError"
    assert crash.json()["errorMessage"].endswith("Runtime exited with error: exit status 2")
    timeout = lab.invoke("x", {"hang": True})
    assert timeout.json()["errorType"] == "Sandbox.Timedout"
    assert isinstance(lab.invoke("x", {}).json(), int)


def test_os_homedir_answers_in_a_confined_environment_too(lab, js):
    """The AWS SDK for JavaScript v3 calls ``os.homedir()`` (from CommonJS and ES
    modules) to look for ~/.aws/config; a confined uid with no passwd entry made it throw."""
    root = js(**{"index.mjs": """
        import { homedir } from 'os';
        import os from 'os';
        export const handler = async () => ({ esm: homedir(), cjs: os.homedir() });
    """})
    lab.create_function("home", root, runtime="nodejs20.x", handler="index.handler")
    answer = lab.invoke("home", {})
    assert answer.function_error is None, answer.payload
    homes = answer.json()
    assert homes["esm"] == homes["cjs"] and homes["esm"].startswith("/")
