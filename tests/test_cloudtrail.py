"""CloudTrail: management calls on the edge become CloudTrail events, and LookupEvents
(boto3 and the AWS CLI) finds them by attribute and time; data events are not recorded;
the trail is durable and keeps 90 days on the lab's clock."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from click.testing import CliRunner

import lambdalab
from lambdalab import Lab, cli
from lambdalab.clock import VirtualClock
from lambdalab.plugin import ApiCall
from lambdalab.protocol.calls import LAB_SCOPE_KEY, caller_of
from lambdalab.server import EdgeServer
from lambdalab_cloudtrail import trail
from lambdalab_cloudtrail.quotas import FIELD_MAX_DEPTH
from lambdalab_cloudtrail.responses import TARGET_PREFIX

from .edge_support import client, client_for, create, edge  # noqa: F401  (fixtures)
from .test_edge_sqs import aws_cli
from .test_fuzz_edge import FUZZ, judge, operation_and_input, send, signed_for, to_json
from .test_fuzz_edge import world as world  # noqa: F401  (fixture)

ALICE = "AKIDALICEEXAMPLE"
DAY_S = 86_400


def events(url: str, key: str | None = None, value: str | None = None, **options: Any) -> list[dict[str, Any]]:
    """LookupEvents through boto3, each event with its record parsed."""
    if key is not None:
        options["LookupAttributes"] = [{"AttributeKey": key, "AttributeValue": value}]
    found = client_for(url, "cloudtrail").lookup_events(**options)["Events"]
    return [{**e, "Record": json.loads(e["CloudTrailEvent"])} for e in found]


def names(found: list[dict[str, Any]]) -> list[str]:
    return [e["EventName"] for e in found]


def test_who_deleted_my_function_and_when(edge: EdgeServer, clock: VirtualClock) -> None:
    lambda_ = client_for(edge.url, key=ALICE)
    create(lambda_, "resize")
    clock.advance(3600)
    deleted = lambda_.delete_function(FunctionName="resize")
    [event] = events(edge.url, "EventName", "DeleteFunction")
    assert event["Username"] == "root" and event["AccessKeyId"] == ALICE
    assert event["EventTime"] == datetime.fromtimestamp(clock.now(), timezone.utc)
    assert event["Resources"] == [{"ResourceType": "AWS::Lambda::Function", "ResourceName": "resize"}]
    record = event["Record"]
    assert record["eventSource"] == "lambda.amazonaws.com"
    assert record["userIdentity"]["accessKeyId"] == ALICE
    assert record["requestParameters"]["FunctionName"] == "resize"
    assert record["requestID"] == deleted["ResponseMetadata"]["RequestId"]
    assert record["readOnly"] is False and record["eventType"] == "AwsApiCall"


def test_management_calls_of_every_service_on_the_layer_are_recorded(edge: EdgeServer, lab: Lab) -> None:
    sqs, s3 = client_for(edge.url, "sqs", key=ALICE), client_for(edge.url, "s3", key=ALICE)
    events_ = client_for(edge.url, "events", key=ALICE)
    url = sqs.create_queue(QueueName="jobs")["QueueUrl"]
    sqs.delete_queue(QueueUrl=url)
    rule = events_.put_rule(Name="nightly", ScheduleExpression="rate(1 day)")
    s3.create_bucket(Bucket="photos")
    s3.delete_bucket(Bucket="photos")
    client_for(edge.url, "logs", key=ALICE).create_log_group(logGroupName="/app/audit")
    found = events(edge.url)
    assert names(found) == ["CreateLogGroup", "DeleteBucket", "CreateBucket", "PutRule",
                            "DeleteQueue", "CreateQueue"]
    by_name = {e["EventName"]: e for e in found}
    created = by_name["CreateQueue"]["Record"]
    assert created["eventSource"] == "sqs.amazonaws.com"
    assert created["requestParameters"] == {"QueueName": "jobs"}
    assert created["responseElements"] == {"QueueUrl": url}
    assert created["awsRegion"] == "us-east-1"
    assert created["sourceIPAddress"] == "127.0.0.1"
    assert "Boto3" in created["userAgent"]
    assert created["managementEvent"] is True and created["eventVersion"] == "1.11"
    put_rule = by_name["PutRule"]["Record"]
    assert put_rule["eventSource"] == "events.amazonaws.com"
    assert put_rule["responseElements"] == {"RuleArn": rule["RuleArn"]}
    assert by_name["DeleteBucket"]["Resources"] == [
        {"ResourceType": "AWS::S3::Bucket", "ResourceName": "photos"}]
    assert by_name["DeleteQueue"]["Resources"][0]["ResourceName"] == url
    assert by_name["CreateLogGroup"]["Record"]["eventSource"] == "logs.amazonaws.com"
    assert by_name["CreateLogGroup"]["Resources"] == [
        {"ResourceType": "AWS::Logs::LogGroup", "ResourceName": "/app/audit"}]


def test_a_failed_call_is_recorded_with_its_error(edge: EdgeServer) -> None:
    sqs = client_for(edge.url, "sqs")
    with pytest.raises(sqs.exceptions.QueueDoesNotExist):
        sqs.get_queue_url(QueueName="missing")
    [event] = events(edge.url, "EventName", "GetQueueUrl")
    record = event["Record"]
    assert record["errorCode"] == "QueueDoesNotExist"
    assert "missing" in record["errorMessage"] or record["errorMessage"]
    assert record["responseElements"] is None and record["readOnly"] is True


def test_data_events_are_not_recorded(edge: EdgeServer, client: Any) -> None:
    create(client, "echo")
    client.invoke(FunctionName="echo", Payload=b"{}")
    sqs, s3 = client_for(edge.url, "sqs"), client_for(edge.url, "s3")
    url = sqs.create_queue(QueueName="jobs")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="hi")
    s3.create_bucket(Bucket="data-bucket")
    s3.put_object(Bucket="data-bucket", Key="k", Body=b"data")
    s3.get_object(Bucket="data-bucket", Key="k")["Body"].read()
    assert names(events(edge.url)) == ["CreateBucket", "CreateQueue", "CreateFunction"]


def test_lookup_attributes_time_range_and_pages(edge: EdgeServer, clock: VirtualClock) -> None:
    sqs = client_for(edge.url, "sqs", key=ALICE)
    other = client_for(edge.url, "sqs", key="AKIDBOBEXAMPLE")
    start = clock.now()
    for name in ("a", "b", "c"):
        sqs.create_queue(QueueName=name)
        clock.advance(60)
    other.list_queues()
    assert names(events(edge.url, "AccessKeyId", "AKIDBOBEXAMPLE")) == ["ListQueues"]
    assert names(events(edge.url, "ReadOnly", "false")) == ["CreateQueue"] * 3
    assert len(events(edge.url, "EventSource", "sqs.amazonaws.com")) == 4
    assert len(events(edge.url, "ResourceType", "AWS::SQS::Queue")) == 3
    middle = events(edge.url, StartTime=start + 30, EndTime=start + 90)
    assert [e["Record"]["requestParameters"]["QueueName"] for e in middle] == ["b"]
    sqs_only = [{"AttributeKey": "EventSource", "AttributeValue": "sqs.amazonaws.com"}]
    trail_ = client_for(edge.url, "cloudtrail")
    page = trail_.lookup_events(LookupAttributes=sqs_only, MaxResults=3)
    rest = trail_.lookup_events(LookupAttributes=sqs_only, MaxResults=3, NextToken=page["NextToken"])
    assert len(page["Events"]) == 3 and len(rest["Events"]) == 1 and "NextToken" not in rest
    assert rest["Events"][0]["EventTime"] < page["Events"][-1]["EventTime"]


def test_lookup_refuses_what_aws_refuses(edge: EdgeServer) -> None:
    trail_ = client_for(edge.url, "cloudtrail")
    with pytest.raises(trail_.exceptions.InvalidTimeRangeException):
        trail_.lookup_events(StartTime=datetime(2026, 2, 1), EndTime=datetime(2026, 1, 1))
    with pytest.raises(trail_.exceptions.InvalidMaxResultsException):
        trail_.lookup_events(MaxResults=51)
    with pytest.raises(trail_.exceptions.InvalidNextTokenException):
        trail_.lookup_events(NextToken="not a token")
    with pytest.raises(trail_.exceptions.InvalidLookupAttributesException):
        trail_.lookup_events(LookupAttributes=[
            {"AttributeKey": "EventName", "AttributeValue": "A"},
            {"AttributeKey": "Username", "AttributeValue": "root"}])
    with pytest.raises(trail_.exceptions.InvalidLookupAttributesException):
        trail_.lookup_events(LookupAttributes=[{"AttributeKey": "ReadOnly", "AttributeValue": "maybe"}])


def test_events_older_than_90_days_are_gone(edge: EdgeServer, clock: VirtualClock, lab: Lab) -> None:
    sqs = client_for(edge.url, "sqs")
    sqs.create_queue(QueueName="old")
    clock.advance(89 * DAY_S)
    assert names(events(edge.url, "EventName", "CreateQueue")) == ["CreateQueue"]
    clock.advance(2 * DAY_S)
    assert events(edge.url, "EventName", "CreateQueue") == []
    sqs.create_queue(QueueName="new")
    trail(lab).flush()
    assert lab.store.query("SELECT COUNT(*) AS n FROM cloudtrail_events "
                           "WHERE event_name = 'CreateQueue'")[0]["n"] == 1


def test_the_trail_is_bounded_by_count(lab: Lab, edge: EdgeServer) -> None:
    trail(lab).events_max = 2
    sqs = client_for(edge.url, "sqs")
    for name in ("a", "b", "c"):
        sqs.create_queue(QueueName=name)
    trail(lab).flush()
    assert len(events(edge.url, "EventName", "CreateQueue")) == 2


def test_events_survive_the_lab(tmp_path: Path, clock: VirtualClock) -> None:
    with Lab(data_dir=tmp_path / "d", clock=clock) as lab, EdgeServer(lab, port=0) as server:
        client_for(server.url, "sqs", key=ALICE).create_queue(QueueName="kept")
    with Lab(data_dir=tmp_path / "d", clock=clock) as lab:
        [found] = trail(lab).lookup()
    assert found.event.event_name == "CreateQueue" and found.event.access_key_id == ALICE


def test_aws_cli_lookup_events_answers_who_deleted_the_queue(edge: EdgeServer) -> None:
    url = aws_cli(edge.url, "sqs", "create-queue", "--queue-name", "cli-jobs")["QueueUrl"]
    aws_cli(edge.url, "sqs", "delete-queue", "--queue-url", url)
    answer = aws_cli(edge.url, "cloudtrail", "lookup-events", "--lookup-attributes",
                     "AttributeKey=EventName,AttributeValue=DeleteQueue")
    [event] = answer["Events"]
    assert event["AccessKeyId"] == "AKIDEXAMPLE" and event["Username"] == "root"
    record = json.loads(event["CloudTrailEvent"])
    assert record["requestParameters"] == {"QueueUrl": url}
    assert record["userAgent"].startswith("aws-cli/")


def test_lambdalab_trail_shows_who_did_what(tmp_path: Path) -> None:
    with Lab(data_dir=tmp_path / "d") as lab, EdgeServer(lab, port=0) as server:
        sqs = client_for(server.url, "sqs", key=ALICE)
        sqs.create_queue(QueueName="jobs")
        with pytest.raises(sqs.exceptions.QueueDoesNotExist):
            sqs.get_queue_url(QueueName="missing")
    result = CliRunner().invoke(cli.main, ["--data-dir", str(tmp_path / "d"), "trail"],
                                terminal_width=250)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert any("sqs:GetQueueUrl" in line and "QueueDoesNotExist" in line for line in lines)
    assert any("sqs:CreateQueue" in line and ALICE in line and "jobs" in line for line in lines)
    only = CliRunner().invoke(cli.main, ["--data-dir", str(tmp_path / "d"), "trail",
                                         "--event-name", "CreateQueue"], terminal_width=250)
    assert "CreateQueue" in only.output and "GetQueueUrl" not in only.output


def test_a_plugin_of_its_own_sees_every_call_data_events_too(
    lab: Lab, edge: EdgeServer, clock: VirtualClock
) -> None:
    seen: list[ApiCall] = []

    class Watcher:
        @lambdalab.hookimpl
        def lambdalab_api_call(self, call: ApiCall) -> None:
            seen.append(call)

    lab.plugin_manager.register(Watcher())
    sqs = client_for(edge.url, "sqs", key=ALICE)
    url = sqs.create_queue(QueueName="q")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="hi")
    assert [(c.service, c.operation) for c in seen] == [("sqs", "CreateQueue"), ("sqs", "SendMessage")]
    created = seen[0]
    assert (created.access_key_id, created.region, created.time) == (ALICE, "us-east-1", clock.now())
    assert created.response == {"QueueUrl": url} and created.error_code is None


def test_nothing_is_read_of_a_call_when_no_plugin_listens(lab: Lab) -> None:
    scope = {LAB_SCOPE_KEY: lab, "client": ("127.0.0.1", 1)}
    assert caller_of(scope, {}, "sqs") is not None  # the CloudTrail plugin listens (the console too)
    for listener in lab.plugin_manager.hook.lambdalab_api_call.get_hookimpls():
        lab.plugin_manager.unregister(listener.plugin)
    assert caller_of(scope, {}, "sqs") is None
    assert caller_of({}, {}, "sqs") is None  # a service served outside the edge


def test_an_input_nested_hundreds_deep_is_refused_and_recorded_trimmed(edge: EdgeServer) -> None:
    depth = 900  # inside what the layer reads (1000), past what the trail keeps
    body = '{"Name": "r", "Tags": ' + "[" * depth + "]" * depth + "}"
    status, _, answer = send(edge.url, "POST", "/", {
        "X-Amz-Target": "AWSEvents.PutRule", "Content-Type": "application/x-amz-json-1.1",
        **signed_for("events")}, body.encode())
    assert status == 400, answer
    [event] = events(edge.url, "EventName", "PutRule")
    record = event["Record"]
    assert record["errorCode"] == "SerializationException"
    assert record["requestParameters"]["Name"] == "r"
    assert json.dumps(record["requestParameters"]).count("[") <= FIELD_MAX_DEPTH + 1


def test_a_failing_plugin_never_fails_the_call(lab: Lab, edge: EdgeServer) -> None:
    class Broken:
        @lambdalab.hookimpl
        def lambdalab_api_call(self, call: ApiCall) -> None:
            raise RuntimeError("a bug in a student's plugin")

    lab.plugin_manager.register(Broken())
    sqs = client_for(edge.url, "sqs")
    assert sqs.create_queue(QueueName="still-made")["QueueUrl"].endswith("/still-made")


@settings(FUZZ, max_examples=60)
@given(request=operation_and_input("cloudtrail", ("LookupEvents",)))
def test_lookup_events_never_fails_internally(world: EdgeServer, request: Any) -> None:
    """Malformed LookupEvents inputs (wrong types, huge strings, off-enum keys, tokens,
    times far out) get CloudTrail's errors, never a 5xx; over a trail the world filled."""
    op, params = request
    headers = {"X-Amz-Target": f"{TARGET_PREFIX}{op.name}",
               "Content-Type": "application/x-amz-json-1.1", **signed_for("cloudtrail")}
    judge("cloudtrail", "json", op, "POST", send(world.url, "POST", "/", headers, to_json(params)))


def test_a_start_time_before_year_one_is_a_time_still(edge: EdgeServer) -> None:
    """Found by the fuzz test: a number too far out for a date answered 500."""
    headers = {"X-Amz-Target": f"{TARGET_PREFIX}LookupEvents",
               "Content-Type": "application/x-amz-json-1.1", **signed_for("cloudtrail")}
    status, _, body = send(edge.url, "POST", "/", headers, b'{"StartTime": -62135596801}')
    assert status == 200 and "Events" in json.loads(body), body
