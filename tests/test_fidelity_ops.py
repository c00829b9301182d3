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

from lambdalab import Lab, VirtualClock
from lambdalab.server import EdgeServer

from .edge_support import client, client_for, create, edge, zip_of  # noqa: F401  (fixtures)
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


# -- tags on event source mappings (https://docs.aws.amazon.com/lambda/latest/dg/tags-esm.html)

ACCOUNT_ARN = "arn:aws:lambda:us-east-1:000000000000:"


@pytest.fixture
def sqs(edge: EdgeServer) -> Any:
    return client_for(edge.url, "sqs")


def mapping_of(client: Any, sqs: Any, **settings: Any) -> dict[str, Any]:
    create(client, "worker")
    url = sqs.create_queue(QueueName="jobs")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"]
    return dict(client.create_event_source_mapping(
        FunctionName="worker", EventSourceArn=arn, BatchSize=1, **settings))


def test_mapping_tags_given_on_create(client: Any, sqs: Any) -> None:
    # TestLambdaTag::test_create_tag_on_esm_create
    created = mapping_of(client, sqs, Tags={"testtag": "custom"})
    assert "Tags" not in created  # botocore's EventSourceMappingConfiguration has none
    answer = client.list_tags(Resource=created["EventSourceMappingArn"])
    assert answer["Tags"] == {"testtag": "custom"}


def test_mapping_tag_lifecycle(client: Any, sqs: Any) -> None:
    # TestLambdaTag::test_tag_lifecycle[event_source_mapping]: 204s, and these listings
    arn = mapping_of(client, sqs)["EventSourceMappingArn"]

    def tags() -> dict[str, str]:
        answer = client.list_tags(Resource=arn)
        assert answer["ResponseMetadata"]["HTTPStatusCode"] == 200
        return dict(answer["Tags"])

    assert tags() == {}
    steps = [
        (client.tag_resource, {"Tags": {"A": "tag-a"}}, {"A": "tag-a"}),
        (client.tag_resource, {"Tags": {"B": "tag-b", "C": "tag-c"}},
         {"A": "tag-a", "B": "tag-b", "C": "tag-c"}),
        (client.tag_resource, {"Tags": {"C": "tag-c-newsuffix", "D": "tag-d"}},
         {"A": "tag-a", "B": "tag-b", "C": "tag-c-newsuffix", "D": "tag-d"}),
        (client.untag_resource, {"TagKeys": ["A"]}, {"B": "tag-b", "C": "tag-c-newsuffix",
                                                      "D": "tag-d"}),
        (client.untag_resource, {"TagKeys": ["B", "C"]}, {"D": "tag-d"}),
        (client.untag_resource, {"TagKeys": ["F"]}, {"D": "tag-d"}),
        (client.untag_resource, {"TagKeys": ["D", "F"]}, {}),
    ]
    for call, arguments, expected in steps:
        assert call(Resource=arn, **arguments)["ResponseMetadata"]["HTTPStatusCode"] == 204
        assert tags() == expected


def test_mapping_tags_go_with_the_mapping(client: Any, sqs: Any) -> None:
    created = mapping_of(client, sqs, Tags={"k": "v"})
    arn = created["EventSourceMappingArn"]
    client.delete_event_source_mapping(UUID=created["UUID"])
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.list_tags(Resource=arn)


def test_tags_of_a_missing_mapping_are_aws_404(client: Any, sqs: Any) -> None:
    # TestLambdaTag::test_tag_exceptions[event_source_mapping]
    mapping_of(client, sqs)  # some mapping exists: the missing one is still missing
    arn = ACCOUNT_ARN + "event-source-mapping:" + "0" * 8 + "-0000-0000-0000-" + "0" * 12
    message = f"Event source mapping not found: {arn}"
    for call, arguments in ((client.tag_resource, {"Tags": {"A": "B"}}),
                            (client.untag_resource, {"TagKeys": ["A"]}),
                            (client.list_tags, {})):
        with pytest.raises(client.exceptions.ResourceNotFoundException) as error:
            call(Resource=arn, **arguments)
        assert error.value.response["Message"] == message
        assert error.value.response["Error"]["Code"] == "ResourceNotFoundException"
    with pytest.raises(client.exceptions.ClientError) as error:
        client.list_tags(Resource=arn + ":alias")
    assert error.value.response["Error"]["Code"] == "ValidationException"


# -- invokes during an update (https://docs.aws.amazon.com/lambda/latest/dg/functions-states.html)

VERSIONED = """
import os
def handler(event, context):
    return {"code": "%s", "setting": os.environ.get("SETTING")}
"""


def test_invokes_during_an_update_run_what_was_there_before(tmp_path: Path,
                                                            clock: VirtualClock) -> None:
    # "invocations continue to use the previous code and configuration until the update
    # completes"; GetFunction already shows the update, InProgress.
    with Lab(data_dir=tmp_path / "slow", clock=clock, state_transition=2) as lab, \
            EdgeServer(lab, port=0) as server:
        slow = client_for(server.url)
        create(slow, "upd", VERSIONED % "v1", Environment={"Variables": {"SETTING": "a"}})
        clock.advance(2)

        def answer() -> dict[str, Any]:
            return dict(json.loads(slow.invoke(FunctionName="upd")["Payload"].read()))

        assert answer() == {"code": "v1", "setting": "a"}
        slow.update_function_code(FunctionName="upd", ZipFile=zip_of(app=VERSIONED % "v2"))
        assert slow.get_function(FunctionName="upd")["Configuration"]["LastUpdateStatus"] == \
            "InProgress"
        assert answer()["code"] == "v1"
        clock.advance(2)
        assert answer() == {"code": "v2", "setting": "a"}
        slow.update_function_configuration(FunctionName="upd",
                                           Environment={"Variables": {"SETTING": "b"}})
        assert answer() == {"code": "v2", "setting": "a"}
        assert lab.invoke("upd").json()["setting"] == "a"  # the Lab's own door too
        clock.advance(2)
        config = slow.get_function(FunctionName="upd")["Configuration"]
        assert config["LastUpdateStatus"] == "Successful"
        assert answer() == {"code": "v2", "setting": "b"}


def test_an_alias_on_latest_runs_what_was_there_before_during_an_update(
        tmp_path: Path, clock: VirtualClock) -> None:
    with Lab(data_dir=tmp_path / "slow", clock=clock, state_transition=2) as lab:
        code = tmp_path / "code"
        code.mkdir()
        (code / "app.py").write_text(VERSIONED % "v1")
        lab.create_function("al", code, handler="app.handler")
        clock.advance(2)
        lab.create_alias("al", "live", "$LATEST")
        (code / "app.py").write_text(VERSIONED % "v2")
        lab.update_function_code("al", code)
        assert lab.invoke("al", qualifier="live").json()["code"] == "v1"
        lab.collect_code()  # the code invokes still run is kept
        assert lab.invoke("al").json()["code"] == "v1"
        clock.advance(2)
        assert lab.invoke("al", qualifier="live").json()["code"] == "v2"
