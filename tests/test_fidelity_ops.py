"""Operations and behaviours compared with AWS one by one (issue 14, what was left).

Judges: boto3 against ``lambdalab serve``; botocore's Lambda model; the answers LocalStack
recorded against real AWS (``tests/aws/services/lambda_/*.snapshot.json`` in
localstack/localstack), quoted where used; and the AWS pages cited per test.
"""

from __future__ import annotations

import base64
import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from lambdalab import Lab
from lambdalab.server import EdgeServer

from .edge_support import client, create, edge  # noqa: F401  (fixtures)
from .test_fidelity_handlers import request, url_of

ENV_TRACE = """
import os
def handler(event, context):
    return {"trace": os.environ["_X_AMZN_TRACE_ID"],
            "header": (event.get("headers") or {}).get("x-amzn-trace-id")}
"""
CALLER_TRACE = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"

# -- logs of Node.js functions (https://docs.aws.amazon.com/lambda/latest/dg/nodejs-logging.html)

MULTI_LINE_NODE = """
exports.handler = async () => {
  console.log("first\\nsecond");
  console.error("a\\nb\\nc");
  return "ok";
};
"""


@pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed")
def test_node_multi_line_console_message_is_one_event_with_its_newlines(
        lab: Lab, tmp_path: Path) -> None:
    # AWS's Node runtime frames `${time}\t${requestId}\t${level}\t${message}\n` as one
    # event with the message's newlines (aws-lambda-nodejs-runtime-interface-client,
    # LogPatch.js _logToFd); test_lambda.snapshot.json's test_invocation_with_logs
    # [nodejs16.x] recorded "date\t<request-id>\tINFO\t{}\n".
    (tmp_path / "index.js").write_text(MULTI_LINE_NODE)
    lab.create_function("n", tmp_path, runtime="nodejs20.x", handler="index.handler")
    result = lab.invoke("n", {}, log_type="Tail")
    rid = result.request_id
    time_ = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"
    handler_events = [e.message for e in lab.get_logs("n") if re.match(time_, e.message)]
    assert len(handler_events) == 2
    assert re.fullmatch(rf"{time_}\t{rid}\tINFO\tfirst\nsecond\n", handler_events[0])
    assert re.fullmatch(rf"{time_}\t{rid}\tERROR\ta\nb\nc\n", handler_events[1])
    tail = base64.b64decode(result.log_result or "").decode()
    assert "\r" not in tail
    assert re.search(rf"\tINFO\tfirst\nsecond\n{time_}\t{rid}\tERROR\ta\nb\nc\nEND ", tail)


# -- the caller's X-Ray trace (https://docs.aws.amazon.com/lambda/latest/dg/services-xray.html)


def test_invoke_trace_header_reaches_the_handler(client: Any) -> None:
    # test_lambda_integration_xray.py::test_xray_trace_propagation (validated on AWS): the
    # handler's _X_AMZN_TRACE_ID has the Root of the X-Amzn-Trace-Id Invoke was sent.
    create(client, "traced", ENV_TRACE)

    def add_header(request: Any, **_: Any) -> None:
        request.headers["X-Amzn-Trace-Id"] = CALLER_TRACE

    client.meta.events.register("before-send.lambda.Invoke", add_header)
    trace = json.loads(client.invoke(FunctionName="traced")["Payload"].read())["trace"]
    assert trace.split(";")[0] == "Root=1-5759e988-bd862e3fe1be46a994272793"
    assert trace == CALLER_TRACE
    client.meta.events.unregister("before-send.lambda.Invoke", add_header)
    fresh = json.loads(client.invoke(FunctionName="traced")["Payload"].read())["trace"]
    assert re.fullmatch(r"Root=1-[0-9a-f]{8}-[0-9a-f]{24};Parent=[0-9a-f]{16};Sampled=0", fresh)


def test_url_trace_header_reaches_the_handler(client: Any, edge: EdgeServer) -> None:
    url = url_of(client, "urltrace", ENV_TRACE)
    sent = "Root=1-67891233-abcdef012345678912345678"
    status, _, data = request(url, headers={"X-Amzn-Trace-Id": sent})
    assert status == 200
    answer = json.loads(data)
    assert answer["header"] == sent
    assert answer["trace"].startswith(sent + ";Parent=")
    # no header sent: the front end's new trace id is the one the function continues
    answer = json.loads(request(url)[2])
    assert answer["trace"].startswith(answer["header"].split(";")[0] + ";")


@pytest.mark.parametrize("header", ["", "Root=nonsense", "Root=1-zz-12;Parent=x", "x" * 9000])
def test_a_malformed_trace_header_starts_a_new_trace(client: Any, header: str) -> None:
    create(client, "badtrace", ENV_TRACE)

    def add_header(request: Any, **_: Any) -> None:
        request.headers["X-Amzn-Trace-Id"] = header

    client.meta.events.register("before-send.lambda.Invoke", add_header)
    trace = json.loads(client.invoke(FunctionName="badtrace")["Payload"].read())["trace"]
    assert re.fullmatch(r"Root=1-[0-9a-f]{8}-[0-9a-f]{24};Parent=[0-9a-f]{16};Sampled=0", trace)
