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


# -- operations replayed against AWS's recorded answers --------------------------------
#
# Each test below makes the calls of one of LocalStack's Lambda API tests, in its order,
# and compares every answer it recorded against real AWS (tests/aws_recorded/
# lambda_ops.json, renamed to these names) member by member: status, members, error code,
# message member and message. Where lambdalab adds a hint for learners it comes after
# AWS's sentence, so an error message matches when it starts with AWS's.

RECORDED = json.loads((Path(__file__).parent / "aws_recorded" / "lambda_ops.json").read_text())
FN = "arn:aws:lambda:us-east-1:000000000000:function:"
#: Members whose values AWS's recordings replaced with placeholders.
PLACEHOLDERS = {"LastModified": "datetime", "CreationTime": "date", "LastModifiedTime": "date",
                "FunctionUrl": "lambda-url", "RevisionId": "<uuid>"}


def unvalidated(edge: EdgeServer) -> Any:
    """A client that sends what it is given, as LocalStack's tests' clients do, so the
    server's own answer to a bad request is what is compared."""
    import boto3
    from botocore.config import Config

    return boto3.client("lambda", endpoint_url=edge.url, region_name="us-east-1",
                        aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="not-checked",
                        config=Config(retries={"total_max_attempts": 1},
                                      parameter_validation=False))


def answer_of(call: Any, **arguments: Any) -> dict[str, Any]:
    """What a call answered, in the recordings' form."""
    from botocore.exceptions import ClientError

    try:
        response = call(**arguments)
    except ClientError as error:
        got = error.response
        member = "Message" if "Message" in got else "message"
        return {"error": got["Error"]["Code"], "message": got["Error"].get("Message"),
                "member": member, "status": got["ResponseMetadata"]["HTTPStatusCode"]}
    status = response.pop("ResponseMetadata")["HTTPStatusCode"]
    for key in ("Policy", "Statement"):  # JSON text on the wire; the recordings parse it
        if isinstance(response.get(key), str):
            response[key] = json.loads(response[key])
    return {**response, "status": status} if status != 200 else response


def placeheld(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: PLACEHOLDERS[k] if k in PLACEHOLDERS else placeheld(v) for k, v in value.items()}
    if isinstance(value, list):
        return [placeheld(v) for v in value]
    return value


class Replay:
    """Calls labelled as one recorded test labels them; :meth:`check` compares them all."""

    def __init__(self, test: str) -> None:
        self.expected: dict[str, Any] = RECORDED[test]
        self.got: dict[str, Any] = {}
        #: Generated ids the recordings show as ``<uuid>``.
        self.uuids: list[str] = []

    def __call__(self, label: str, call: Any, **arguments: Any) -> dict[str, Any]:
        self.got[label] = answer_of(call, **arguments)
        return self.got[label]

    def check(self) -> None:
        differences = {}
        for label, expected in self.expected.items():
            text = json.dumps(self.got.get(label, "not called"), default=str)
            for uuid in self.uuids:
                text = text.replace(uuid, "<uuid>")
            got = placeheld(json.loads(text))
            expected = placeheld(expected)
            if isinstance(got, dict) and "error" in got and "error" in expected \
                    and str(got["message"]).startswith(expected["message"]):
                got["message"] = expected["message"]  # lambdalab's hint follows AWS's words
            if got != expected:
                differences[label] = {"aws": expected, "lambdalab": got}
        assert differences == {}


def test_event_invoke_config_errors_as_aws_answers(client: Any, edge: EdgeServer) -> None:
    # TestLambdaEventInvokeConfig::test_lambda_eventinvokeconfig_exceptions
    put = (c := unvalidated(edge)).put_function_event_invoke_config
    create(client, "fn-eic")
    create(client, "fn-eic-2")
    version = client.publish_version(FunctionName="fn-eic")["Version"]
    alias = client.create_alias(FunctionName="fn-eic", Name="eventinvokealias",
                                FunctionVersion=version)
    fake, arn, alias_arn = FN + "doesnotexist", FN + "fn-eic", alias["AliasArn"]
    replay = Replay("test_lambda_eventinvokeconfig_exceptions")
    replay("put_functionname_name_notfound", put, FunctionName="doesnotexist",
           MaximumRetryAttempts=1)
    replay("put_functionname_arn_notfound", put, FunctionName=fake, MaximumRetryAttempts=1)
    replay("put_functionname_nootherargs", put, FunctionName="doesnotexist")
    destinations = {
        "put_destination_lambda_doesntexist": {"OnSuccess": {"Destination": fake}},
        "put_destination_recursive": {"OnSuccess": {"Destination": arn}},
        "put_destination_other_lambda": {"OnSuccess": {"Destination": FN + "fn-eic-2"}},
        "put_destination_invalid_service_arn":
            {"OnSuccess": {"Destination": arn.replace(":lambda:", ":iam:")}},
        "put_destination_success_no_destination_arn": {"OnSuccess": {}},
        "put_destination_failure_no_destination_arn": {"OnFailure": {}},
        "put_destination_invalid_arn_pattern":
            {"OnFailure": {"Destination": arn.replace(":lambda:", ":_-/!lambda:")}},
    }
    for label, destination in destinations.items():
        replay(label, put, FunctionName="fn-eic", DestinationConfig=destination)
    for label, name, qualifier in (
            ("put_destination_latest", "fn-eic", None),
            ("put_destination_latest_explicit_qualifier", "fn-eic", "$LATEST"),
            ("put_destination_version", "fn-eic", version),
            ("put_alias_functionname_qualifier", "fn-eic", "eventinvokealias"),
            ("put_alias_doesnotexist", "fn-eic", "eventinvokealiasdoesnotexist"),
            ("put_alias_qualifiedarn", alias_arn, None),
            ("put_alias_qualifiedarn_qualifier", alias_arn, "eventinvokealias"),
            ("put_alias_qualifiedarn_qualifierconflict", alias_arn,
             "eventinvokealiasdoesnotexist"),
            ("put_alias_shorthand", "fn-eic:eventinvokealias", None),
            ("put_alias_shorthand_qualifier", "fn-eic:eventinvokealias", "eventinvokealias"),
            ("put_alias_shorthand_qualifierconflict", "fn-eic:eventinvokealias",
             "eventinvokealiasdoesnotexist"),
            ("put_version_shorthand", f"fn-eic:{version}", None),
            ("put_shorthand_qualifier_match", "fn-eic:$LATEST", "$LATEST"),
            ("put_shorthand_qualifier_mismatch_1", f"fn-eic:{version}", "$LATEST"),
            ("put_shorthand_qualifier_mismatch_2", "fn-eic:$LATEST", version),
            ("put_shorthand_qualifier_mismatch_3", f"fn-eic:{version}", "eventinvokealias")):
        replay(label, put, FunctionName=name, MaximumRetryAttempts=1,
               **({"Qualifier": qualifier} if qualifier else {}))
    replay("put_maxevent_maxvalue_result", put, FunctionName="fn-eic", MaximumRetryAttempts=2,
           MaximumEventAgeInSeconds=21600)
    replay("put_pre_overwrite", put, FunctionName="fn-eic", MaximumRetryAttempts=2,
           MaximumEventAgeInSeconds=60)
    replay("put_post_overwrite", put, FunctionName="fn-eic", MaximumRetryAttempts=0)
    replay("second_overwrite_existing_response", put, FunctionName="fn-eic", MaximumRetryAttempts=0)
    replay("get_post_overwrite", c.get_function_event_invoke_config, FunctionName="fn-eic")
    replay("pre_update_response", put, FunctionName="fn-eic", MaximumRetryAttempts=2,
           MaximumEventAgeInSeconds=60)
    update = c.update_function_event_invoke_config
    replay("update_response", update, FunctionName="fn-eic", MaximumRetryAttempts=0)
    replay("update_response_existing", update, FunctionName="fn-eic", MaximumRetryAttempts=0)
    listed = replay("list_configs", c.list_function_event_invoke_configs, FunctionName="fn-eic")
    listed["FunctionEventInvokeConfigs"].sort(key=lambda x: x["FunctionArn"])  # as recorded
    paged = c.list_function_event_invoke_configs(FunctionName="fn-eic", MaxItems=2)
    assert len(paged["FunctionEventInvokeConfigs"]) == 2 and paged["NextMarker"]
    delete = c.delete_function_event_invoke_config
    for label, qualifier in (("delete_latest", "$LATEST"), ("delete_version", version),
                             ("delete_alias", "eventinvokealias")):
        replay(label, delete, FunctionName="fn-eic", Qualifier=qualifier)
    replay("list_configs_postdelete", c.list_function_event_invoke_configs, FunctionName="fn-eic")
    replay("delete_function_not_found", delete, FunctionName="fn-eic")
    replay("delete_function_doesnotexist", delete, FunctionName="doesnotexist")
    replay("list_function_doesnotexist", c.list_function_event_invoke_configs,
           FunctionName="doesnotexist")
    get = c.get_function_event_invoke_config
    replay("get_function_doesnotexist", get, FunctionName="doesnotexist")
    replay("get_qualifier_doesnotexist", get, FunctionName="fn-eic", Qualifier="doesnotexist")
    replay("update_eventinvokeconfig_function_doesnotexist", update, FunctionName="doesnotexist",
           MaximumRetryAttempts=0)
    replay("get_eventinvokeconfig_doesnotexist", get, FunctionName=alias_arn)
    replay("update_eventinvokeconfig_config_doesnotexist_with_qualifier", update,
           FunctionName=alias_arn, MaximumRetryAttempts=0)
    replay("update_eventinvokeconfig_config_doesnotexist_without_qualifier", update,
           FunctionName="fn-eic", MaximumRetryAttempts=0)
    replay.check()


def test_event_invoke_config_lifecycle_as_aws_answers(client: Any) -> None:
    # TestLambdaEventInvokeConfig::test_lambda_eventinvokeconfig_lifecycle
    create(client, "fn-eic")
    replay = Replay("test_lambda_eventinvokeconfig_lifecycle")
    put = client.put_function_event_invoke_config
    update = client.update_function_event_invoke_config
    get = client.get_function_event_invoke_config
    replay("put_invokeconfig_retries_0", put, FunctionName="fn-eic", MaximumRetryAttempts=0)
    replay("put_invokeconfig_eventage_60", put, FunctionName="fn-eic", MaximumEventAgeInSeconds=60)
    replay("update_invokeconfig_eventage_nochange", update, FunctionName="fn-eic",
           MaximumEventAgeInSeconds=60)
    replay("update_invokeconfig_retries", update, FunctionName="fn-eic", MaximumRetryAttempts=1)
    replay("get_invokeconfig", get, FunctionName="fn-eic")
    replay("get_invokeconfig_latest", get, FunctionName="fn-eic", Qualifier="$LATEST")
    replay("list_single_invokeconfig", client.list_function_event_invoke_configs,
           FunctionName="fn-eic")
    version = client.publish_version(FunctionName="fn-eic")["Version"]
    replay("get_invokeconfig_postpublish", get, FunctionName="fn-eic", Qualifier=version)
    replay("put_published_invokeconfig", put, FunctionName="fn-eic", Qualifier=version,
           MaximumEventAgeInSeconds=120)
    replay("get_published_invokeconfig", get, FunctionName="fn-eic", Qualifier=version)
    single = client.list_function_event_invoke_configs(FunctionName="fn-eic", MaxItems=1)
    rest = client.list_function_event_invoke_configs(FunctionName="fn-eic", MaxItems=1,
                                                     Marker=single["NextMarker"])
    both = client.list_function_event_invoke_configs(FunctionName="fn-eic")
    assert {c["FunctionArn"] for c in both["FunctionEventInvokeConfigs"]} == {
        single["FunctionEventInvokeConfigs"][0]["FunctionArn"],
        rest["FunctionEventInvokeConfigs"][0]["FunctionArn"]}
    assert "NextMarker" not in rest and "NextMarker" not in both
    client.delete_function_event_invoke_config(FunctionName="fn-eic")
    replay("list_paging_nolimit_postdelete", client.list_function_event_invoke_configs,
           FunctionName="fn-eic")
    replay.check()


def test_remove_permission_as_aws_answers(client: Any) -> None:
    # TestLambdaPermissions::test_remove_multi_permissions, ::test_permission_exceptions,
    # TestLambdaRevisions::test_function_revisions_permissions (recorded in 2025)
    create(client, "fn-perm")
    replay = Replay("test_permission_exceptions")
    replay("remove_permission_policy_doesnotexist", client.remove_permission,
           FunctionName="fn-perm", StatementId="s3")
    replay.check()
    replay = Replay("test_function_revisions_permissions")
    replay("add_permission_revision_exception", client.add_permission, FunctionName="fn-perm",
           StatementId="s3", Action="lambda:InvokeFunction", Principal="s3.amazonaws.com",
           RevisionId="wrong")
    replay.check()
    replay = Replay("test_remove_multi_permissions")
    add = client.add_permission
    replay("add_permission_1", add, FunctionName="fn-perm", Action="lambda:InvokeFunction",
           StatementId="s3", Principal="s3.amazonaws.com")
    replay("add_permission_2", add, FunctionName="fn-perm", Action="lambda:InvokeFunction",
           StatementId="sqs", Principal="sqs.amazonaws.com",
           SourceArn="arn:aws:s3:::test-bucket")
    replay("policy_after_2_add", client.get_policy, FunctionName="fn-perm")
    replay("remove_permission_exception_nonexisting_sid", client.remove_permission,
           FunctionName="fn-perm", StatementId="non-existent")
    assert client.remove_permission(FunctionName="fn-perm", StatementId="sqs")[
        "ResponseMetadata"]["HTTPStatusCode"] == 204
    after = replay("policy_after_removal", client.get_policy, FunctionName="fn-perm")
    replay("policy_after_removal_attempt", client.get_policy, FunctionName="fn-perm")
    client.remove_permission(FunctionName="fn-perm", StatementId="s3",
                             RevisionId=after["RevisionId"])
    replay("get_policy_exception_removed_all", client.get_policy, FunctionName="fn-perm")
    replay.check()


def test_function_url_list_and_delete_as_aws_answers(client: Any) -> None:
    # TestLambdaUrl::test_url_config_list_paging, ::test_url_config_deletion_without_qualifier
    create(client, "fn-url")
    version = client.publish_version(FunctionName="fn-url")["Version"]
    client.create_alias(FunctionName="fn-url", Name="urlalias", FunctionVersion=version)
    replay = Replay("test_url_config_list_paging")
    replay("list_function_notfound", client.list_function_url_configs, FunctionName="doesnotexist")
    replay("list_all_empty", client.list_function_url_configs, FunctionName="fn-url")
    replay("url_config_fn", client.create_function_url_config, FunctionName="fn-url",
           AuthType="NONE")
    replay("url_config_alias", client.create_function_url_config,
           FunctionName="fn-url:urlalias", Qualifier="urlalias", AuthType="NONE")
    listed = replay("list_all", client.list_function_url_configs, FunctionName="fn-url")
    listed["FunctionUrlConfigs"].sort(key=lambda x: x["FunctionArn"])  # as recorded
    one = client.list_function_url_configs(FunctionName="fn-url", MaxItems=1)
    other = client.list_function_url_configs(FunctionName="fn-url", MaxItems=1,
                                             Marker=one["NextMarker"])
    assert len(one["FunctionUrlConfigs"]) == len(other["FunctionUrlConfigs"]) == 1
    assert "NextMarker" not in other
    replay.check()


def test_function_url_delete_keeps_the_aliases_url(client: Any) -> None:
    create(client, "fn-url")
    client.publish_version(FunctionName="fn-url")
    client.create_alias(FunctionName="fn-url", Name="test-alias", FunctionVersion="1")
    replay = Replay("test_url_config_deletion_without_qualifier")
    replay("url_creation", client.create_function_url_config, FunctionName="fn-url",
           AuthType="NONE")
    replay("url_with_alias_creation", client.create_function_url_config, FunctionName="fn-url",
           AuthType="NONE", Qualifier="test-alias")
    replay("get_url_config", client.get_function_url_config, FunctionName="fn-url")
    replay("get_url_config_with_alias", client.get_function_url_config, FunctionName="fn-url",
           Qualifier="test-alias")
    replay("delete_function_url_config", client.delete_function_url_config,
           FunctionName="fn-url")
    replay("get_url_config_after_deletion", client.get_function_url_config,
           FunctionName="fn-url")
    replay("get_url_config_with_alias_after_deletion", client.get_function_url_config,
           FunctionName="fn-url", Qualifier="test-alias")
    replay.check()


def test_event_source_mapping_errors_as_aws_answers(edge: EdgeServer) -> None:
    # TestLambdaEventSourceMappings::test_event_source_mapping_exceptions
    c = unvalidated(edge)
    replay = Replay("test_event_source_mapping_exceptions")
    uuid = "9d0c9b48-6b0a-4a4f-8b36-1b0e1c2f3a4d"
    replay("get_unknown_uuid", c.get_event_source_mapping, UUID=uuid)
    replay("delete_unknown_uuid", c.delete_event_source_mapping, UUID=uuid)
    replay("update_unknown_uuid", c.update_event_source_mapping, UUID=uuid, Enabled=False)
    # "list doesn't care about the resource filters existing"
    for filters in ({}, {"FunctionName": "doesnotexist"},
                    {"EventSourceArn": "arn:aws:sqs:us-east-1:000000000000:somequeue"}):
        assert c.list_event_source_mappings(**filters)["EventSourceMappings"] == []
    queue = "arn:aws:sqs:us-east-1:000000000000:somequeue"
    replay("create_no_event_source_arn", c.create_event_source_mapping,
           FunctionName="doesnotexist")
    replay("create_unknown_params", c.create_event_source_mapping, FunctionName="doesnotexist",
           EventSourceArn=queue)
    replay("destination_config_failure", c.create_event_source_mapping,
           FunctionName="doesnotexist", EventSourceArn=queue,
           DestinationConfig={"OnSuccess": {"Destination": queue.replace("somequeue", "other")}})
    replay.check()


def test_event_source_mapping_create_update_as_aws_answers(client: Any, sqs: Any) -> None:
    # test_lambda_integration_sqs.py::TestSQSEventSourceMapping::
    # test_sqs_event_source_mapping_update, and test_fifo_message_group_parallelism (its
    # queue is FIFO on AWS; a standard one here: the mapping's answers do not depend on it)
    create(client, "fn-esm")
    client.update_function_configuration(FunctionName="fn-esm",
                                         Environment={"Variables": {"CUSTOM_VAR": "a"}})
    v1 = client.publish_version(FunctionName="fn-esm")
    queues = {}
    for name in ("esm-queue", "esm-queue-2"):
        url = sqs.create_queue(QueueName=name)["QueueUrl"]
        queues[name] = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
            "Attributes"]["QueueArn"]
    replay = Replay("test_sqs_event_source_mapping_update")
    created = replay("create-event-source-mapping-response", client.create_event_source_mapping,
                     EventSourceArn=queues["esm-queue"], FunctionName=v1["FunctionArn"],
                     MaximumBatchingWindowInSeconds=1)
    uuid = created["UUID"]
    client.update_function_configuration(FunctionName="fn-esm",
                                         Environment={"Variables": {"CUSTOM_VAR": "b"}})
    v2 = client.publish_version(FunctionName="fn-esm")
    replay("updated_esm", client.update_event_source_mapping, UUID=uuid,
           FunctionName=v2["FunctionArn"])
    replay("updated_event_source_mapping", client.get_event_source_mapping, UUID=uuid)
    replay.uuids.append(uuid)
    replay.check()
    replay = Replay("test_fifo_message_group_parallelism")
    created = replay("create_esm_disabled", client.create_event_source_mapping,
                     FunctionName="fn-esm", EventSourceArn=queues["esm-queue-2"],
                     Enabled=False, BatchSize=1)
    replay("update_esm_enabling", client.update_event_source_mapping, UUID=created["UUID"],
           Enabled=True)
    replay("get_esm_enabled", client.get_event_source_mapping, UUID=created["UUID"])
    replay.uuids.append(created["UUID"])
    replay.check()


def test_event_source_mappings_list_100_a_page(lab: Lab, client: Any) -> None:
    # botocore's model: "ListEventSourceMappings returns a maximum of 100 items in each
    # response, even if you set the number higher."
    from lambdalab_sqs import sqs_of

    create(client, "many")
    queues = sqs_of(lab).queues
    for n in range(101):
        queues.create_queue(f"q{n}")
        lab.create_event_source_mapping("many", event_source_arn=queues.arn(f"q{n}"),
                                        enabled=False)
    first = client.list_event_source_mappings(MaxItems=1000)
    assert len(first["EventSourceMappings"]) == 100
    rest = client.list_event_source_mappings(MaxItems=1000, Marker=first["NextMarker"])
    assert len(rest["EventSourceMappings"]) == 1 and "NextMarker" not in rest
    uuids = {m["UUID"] for m in first["EventSourceMappings"] + rest["EventSourceMappings"]}
    assert len(uuids) == 101


PRINT_TRACE = """
import os
def handler(event, context):
    print("trace", os.environ["_X_AMZN_TRACE_ID"])
"""


def test_an_event_invoke_continues_the_callers_trace(lab: Lab, client: Any) -> None:
    create(client, "later", PRINT_TRACE)

    def add_header(request: Any, **_: Any) -> None:
        request.headers["X-Amzn-Trace-Id"] = CALLER_TRACE

    client.meta.events.register("before-send.lambda.Invoke", add_header)
    assert client.invoke(FunctionName="later", InvocationType="Event")["StatusCode"] == 202
    assert lab.wait_for_events(timeout=60)
    printed = [e.message for e in lab.get_logs("later") if e.message.startswith("trace ")]
    assert printed == [f"trace {CALLER_TRACE}\n"]


def test_a_mapping_with_too_many_tags_is_not_created(client: Any, sqs: Any) -> None:
    with pytest.raises(client.exceptions.InvalidParameterValueException):
        mapping_of(client, sqs, Tags={f"k{n}": "v" for n in range(51)})
    assert client.list_event_source_mappings()["EventSourceMappings"] == []
