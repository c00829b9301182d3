"""SNS on the HTTP edge, judged by real clients: boto3 and the AWS CLI (query protocol),
fan-out to Lambda (asynchronous invokes) and SQS, filter policies, and SNS as a
destination of asynchronous invokes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from urllib.parse import urlencode
from typing import Any, Callable

import pytest
from botocore.exceptions import ClientError
from hypothesis import given, settings
from hypothesis import strategies as st

from lambdalab import InvalidParameterValueException, Lab, VirtualClock
from lambdalab.server import EdgeServer
from lambdalab_sns import sns_of
from lambdalab_sqs import sqs_of

from .edge_support import client_for, edge, query_post  # noqa: F401  (fixtures)
from .test_fuzz_edge import DEEP_MARK, FUZZ, judge, operation_and_input, query_pairs, send, signed_for

RECORDER = """
import json

def handler(event, context):
    print("EVENT " + json.dumps(event))
"""
FAILING = """
def handler(event, context):
    raise ValueError("cannot handle " + event["Records"][0]["Sns"]["Message"])
"""


@pytest.fixture
def sns(edge: EdgeServer) -> Any:  # noqa: F811
    return client_for(edge.url, "sns")


@pytest.fixture
def sqs(edge: EdgeServer) -> Any:  # noqa: F811
    return client_for(edge.url, "sqs")


def events(lab: Lab, name: str = "recorder") -> list[dict[str, Any]]:
    return [json.loads(e.message.split("EVENT ", 1)[1]) for e in lab.get_logs(name)
            if "EVENT " in e.message]


def queue(sqs: Any, name: str) -> tuple[str, str]:
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn


def bodies(sqs: Any, url: str) -> list[str]:
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"])
    return [m["Body"] for m in got.get("Messages", [])]


def sns_query(url: str, params: dict[str, str]) -> tuple[int, str]:
    status, data = query_post(url, "sns", {**params, "Version": "2010-03-31"})
    return status, data.decode()


def code_of(code: Callable[..., Path], source: str) -> Path:
    return code(app=source)


# -- topics and subscriptions ----------------------------------------------------------


def test_topics_round_trip_as_aws_answers(sns: Any) -> None:
    arn = sns.create_topic(Name="orders", Attributes={"DisplayName": "Orders"},
                           Tags=[{"Key": "team", "Value": "shop"}])["TopicArn"]
    assert arn == "arn:aws:sns:us-east-1:000000000000:orders"
    assert sns.create_topic(Name="orders")["TopicArn"] == arn  # idempotent
    assert [t["TopicArn"] for t in sns.list_topics()["Topics"]] == [arn]
    attributes = sns.get_topic_attributes(TopicArn=arn)["Attributes"]
    assert (attributes["DisplayName"], attributes["Owner"], attributes["SubscriptionsConfirmed"]) == (
        "Orders", "000000000000", "0")
    assert json.loads(attributes["Policy"])["Statement"][0]["Resource"] == arn
    sns.set_topic_attributes(TopicArn=arn, AttributeName="DisplayName", AttributeValue="Shop")
    assert sns.get_topic_attributes(TopicArn=arn)["Attributes"]["DisplayName"] == "Shop"
    assert sns.list_tags_for_resource(ResourceArn=arn)["Tags"] == [{"Key": "team", "Value": "shop"}]
    with pytest.raises(sns.exceptions.InvalidParameterException, match="different attributes"):
        sns.create_topic(Name="orders", Attributes={"DisplayName": "Other"})
    sns.delete_topic(TopicArn=arn)
    sns.delete_topic(TopicArn=arn)  # deleting what is gone succeeds, as on AWS
    assert sns.list_topics()["Topics"] == []
    with pytest.raises(sns.exceptions.NotFoundException, match="Topic does not exist"):
        sns.get_topic_attributes(TopicArn=arn)


def test_bad_input_gets_snss_errors_never_a_500(sns: Any, edge: EdgeServer) -> None:  # noqa: F811
    for name in ("", "has space", "x" * 257, "fifo.fifo"):
        with pytest.raises(sns.exceptions.InvalidParameterException):
            sns.create_topic(Name=name)
    arn = sns.create_topic(Name="t")["TopicArn"]
    with pytest.raises(sns.exceptions.InvalidParameterException, match="TopicArn"):
        sns.get_topic_attributes(TopicArn="not-an-arn")
    with pytest.raises(sns.exceptions.InvalidParameterException, match="Protocol"):
        sns.subscribe(TopicArn=arn, Protocol="application", Endpoint="arn:aws:sns:us-east-1:0:app/GCM/x/y")
    with pytest.raises(sns.exceptions.InvalidParameterException, match="protocol string"):
        sns.subscribe(TopicArn=arn, Protocol="carrier-pigeon", Endpoint="x")
    with pytest.raises(sns.exceptions.InvalidParameterException, match="endpoint"):
        sns.subscribe(TopicArn=arn, Protocol="lambda", Endpoint="arn:aws:sqs:us-east-1:0:q")
    with pytest.raises(sns.exceptions.InvalidParameterException, match="Empty message"):
        sns.publish(TopicArn=arn, Message="")
    with pytest.raises(sns.exceptions.InvalidParameterException, match="Message too long"):
        sns.publish(TopicArn=arn, Message="x" * 262_145)
    with pytest.raises(sns.exceptions.InvalidParameterException, match="Subject"):
        sns.publish(TopicArn=arn, Message="m", Subject="two\nlines")
    with pytest.raises(sns.exceptions.InvalidParameterValueException, match="number"):
        sns.publish(TopicArn=arn, Message="m", MessageAttributes={
            "n": {"DataType": "Number", "StringValue": "ten"}})
    with pytest.raises(sns.exceptions.InvalidParameterValueException, match="type"):
        sns.publish(TopicArn=arn, Message="m", MessageAttributes={
            "n": {"DataType": "Float", "StringValue": "1"}})
    with pytest.raises(sns.exceptions.InvalidParameterException, match="No default entry"):
        sns.publish(TopicArn=arn, Message='{"sqs": "x"}', MessageStructure="json")
    with pytest.raises(sns.exceptions.NotFoundException):
        sns.publish(TopicArn=arn + "-gone", Message="m")
    for params in ({"Action": "Publish"}, {"Action": "Publish", "TopicArn": arn, "Message": "m",
                                           "MessageAttributes.entry.1.Name": "x"},
                   {"Action": "Subscribe", "TopicArn": arn, "Protocol": "sqs",
                    "Attributes.entry.1.key": "FilterPolicy",
                    "Attributes.entry.1.value": "[" * 10_000},
                   {"Action": "NoSuchThing"}):
        status, text = sns_query(edge.url, params)
        assert status == 400 and "<Code>" in text, (params, status, text)


def test_subscriptions_list_get_set_and_unsubscribe(sns: Any, sqs: Any) -> None:
    arn = sns.create_topic(Name="orders")["TopicArn"]
    _, queue_arn = queue(sqs, "audit")
    sub = sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=queue_arn,
                        ReturnSubscriptionArn=True)["SubscriptionArn"]
    assert sub.startswith(arn + ":")
    assert sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=queue_arn)["SubscriptionArn"] == sub
    function = "arn:aws:lambda:us-east-1:000000000000:function:recorder"
    sns.subscribe(TopicArn=arn, Protocol="lambda", Endpoint=function)
    listed = sns.list_subscriptions_by_topic(TopicArn=arn)["Subscriptions"]
    assert {(s["Protocol"], s["Endpoint"]) for s in listed} == {("sqs", queue_arn), ("lambda", function)}
    assert len(sns.list_subscriptions()["Subscriptions"]) == 2
    attributes = sns.get_subscription_attributes(SubscriptionArn=sub)["Attributes"]
    assert (attributes["Protocol"], attributes["RawMessageDelivery"],
            attributes["PendingConfirmation"]) == ("sqs", "false", "false")
    sns.set_subscription_attributes(SubscriptionArn=sub, AttributeName="RawMessageDelivery",
                                    AttributeValue="true")
    assert sns.get_subscription_attributes(SubscriptionArn=sub)["Attributes"]["RawMessageDelivery"] == "true"
    assert sns.get_topic_attributes(TopicArn=arn)["Attributes"]["SubscriptionsConfirmed"] == "2"
    sns.unsubscribe(SubscriptionArn=sub)
    sns.unsubscribe(SubscriptionArn=sub)
    with pytest.raises(sns.exceptions.NotFoundException):
        sns.get_subscription_attributes(SubscriptionArn=sub)
    assert len(sns.list_subscriptions_by_topic(TopicArn=arn)["Subscriptions"]) == 1


def test_topics_and_subscriptions_survive_a_restart(tmp_path: Path) -> None:
    with Lab(data_dir=tmp_path / "data") as lab:
        topics = sns_of(lab).topics
        topic = topics.create_topic("orders", {"DisplayName": "Orders"})
        sub = topics.subscribe(topic.arn, "sqs", "arn:aws:sqs:us-east-1:000000000000:q",
                               {"FilterPolicy": '{"kind": ["order"]}'})
    with Lab(data_dir=tmp_path / "data") as lab:
        topics = sns_of(lab).topics
        assert topics.get_topic(topic.arn).attributes["DisplayName"] == "Orders"
        assert topics.get_subscription(sub.arn).filter_policy == {"kind": ["order"]}


# -- delivery ---------------------------------------------------------------------------


def test_a_function_gets_the_sns_event_aws_sends_through_an_async_invoke(
        sns: Any, lab: Lab, code: Callable[..., Path]) -> None:
    lab.create_function("recorder", code_of(code, RECORDER), handler="app.handler")
    arn = sns.create_topic(Name="orders")["TopicArn"]
    sub = sns.subscribe(TopicArn=arn, Protocol="lambda",
                        Endpoint=lab.arns.function("recorder"))["SubscriptionArn"]
    message_id = sns.publish(TopicArn=arn, Message="hello", Subject="greeting", MessageAttributes={
        "kind": {"DataType": "String", "StringValue": "order"},
        "blob": {"DataType": "Binary", "BinaryValue": b"\x00\x01"}})["MessageId"]
    assert lab.wait_for_events(timeout=60)
    [event] = events(lab)
    [record] = event["Records"]
    assert (record["EventSource"], record["EventVersion"], record["EventSubscriptionArn"]) == (
        "aws:sns", "1.0", sub)
    notification = record["Sns"]
    assert (notification["Type"], notification["MessageId"], notification["TopicArn"],
            notification["Subject"], notification["Message"]) == (
        "Notification", message_id, arn, "greeting", "hello")
    assert notification["MessageAttributes"] == {"kind": {"Type": "String", "Value": "order"},
                                                 "blob": {"Type": "Binary", "Value": "AAE="}}
    assert notification["SignatureVersion"] == "1" and notification["Signature"]
    assert notification["SigningCertUrl"].endswith(".pem")
    assert notification["UnsubscribeUrl"].endswith(f"Action=Unsubscribe&SubscriptionArn={sub}")
    assert notification["Timestamp"].endswith("Z")
    sns.publish(TopicArn=arn, Message="no subject")
    assert lab.wait_for_events(timeout=60)
    assert events(lab)[1]["Records"][0]["Sns"]["Subject"] is None  # null, as AWS sends it


def test_a_failing_function_is_retried_and_its_record_reaches_the_on_failure_queue(
        sns: Any, sqs: Any, lab: Lab, clock: VirtualClock, code: Callable[..., Path]) -> None:
    """SNS invokes asynchronously, so Lambda's retries and destinations apply."""
    failures_url, failures_arn = queue(sqs, "failures")
    lab.create_function("fragile", code_of(code, FAILING), handler="app.handler")
    lab.put_function_event_invoke_config(
        "fragile", maximum_retry_attempts=1,
        destination_config={"OnFailure": {"Destination": failures_arn}})
    arn = sns.create_topic(Name="orders")["TopicArn"]
    sns.subscribe(TopicArn=arn, Protocol="lambda", Endpoint=lab.arns.function("fragile"))
    sns.publish(TopicArn=arn, Message="order 7")
    assert lab.wait_for_events(timeout=60)
    assert bodies(sqs, failures_url) == []  # waiting for its retry
    clock.advance(60)
    assert lab.wait_for_events(timeout=60)
    [body] = bodies(sqs, failures_url)
    record = json.loads(body)
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 2
    assert record["requestPayload"]["Records"][0]["Sns"]["Message"] == "order 7"


def test_sqs_gets_the_json_notification_or_the_raw_message(sns: Any, sqs: Any) -> None:
    arn = sns.create_topic(Name="orders")["TopicArn"]
    wrapped_url, wrapped_arn = queue(sqs, "wrapped")
    raw_url, raw_arn = queue(sqs, "raw")
    sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=wrapped_arn)
    sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=raw_arn,
                  Attributes={"RawMessageDelivery": "true"})
    message_id = sns.publish(TopicArn=arn, Message='{"order": 7}', MessageAttributes={
        "kind": {"DataType": "String", "StringValue": "order"},
        "total": {"DataType": "Number", "StringValue": "12.5"}})["MessageId"]
    [wrapped] = bodies(sqs, wrapped_url)
    notification = json.loads(wrapped)
    assert (notification["Type"], notification["MessageId"], notification["Message"]) == (
        "Notification", message_id, '{"order": 7}')
    assert "Subject" not in notification  # SQS's copy has no Subject when none was given
    assert {"SigningCertURL", "UnsubscribeURL"} <= set(notification)
    assert notification["MessageAttributes"]["total"] == {"Type": "Number", "Value": "12.5"}
    got = sqs.receive_message(QueueUrl=raw_url, MessageAttributeNames=["All"])["Messages"]
    assert got[0]["Body"] == '{"order": 7}'
    assert got[0]["MessageAttributes"]["kind"] == {"StringValue": "order", "DataType": "String"}
    assert got[0]["MessageAttributes"]["total"] == {"StringValue": "12.5", "DataType": "Number"}


def test_message_structure_json_sends_each_protocol_its_message(sns: Any, sqs: Any) -> None:
    arn = sns.create_topic(Name="orders")["TopicArn"]
    url, queue_arn = queue(sqs, "q")
    sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=queue_arn,
                  Attributes={"RawMessageDelivery": "true"})
    sns.publish(TopicArn=arn, MessageStructure="json",
                Message=json.dumps({"default": "for everyone", "sqs": "for queues"}))
    sns.publish(TopicArn=arn, MessageStructure="json", Message=json.dumps({"default": "only default"}))
    assert sorted(bodies(sqs, url)) == ["for queues", "only default"]


def test_publish_batch_answers_each_entry(sns: Any, sqs: Any) -> None:
    arn = sns.create_topic(Name="orders")["TopicArn"]
    url, queue_arn = queue(sqs, "q")
    sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=queue_arn,
                  Attributes={"RawMessageDelivery": "true"})
    answer = sns.publish_batch(TopicArn=arn, PublishBatchRequestEntries=[
        {"Id": "a", "Message": "one"}, {"Id": "b", "Message": ""}, {"Id": "c", "Message": "three"},
        {"Id": "d", "Message": "m", "MessageAttributes": {"n": {"DataType": "Number", "StringValue": "x"}}}])
    assert [s["Id"] for s in answer["Successful"]] == ["a", "c"]
    assert [(f["Id"], f["Code"], f["SenderFault"]) for f in answer["Failed"]] == [
        ("b", "InvalidParameter", True), ("d", "ParameterValueInvalid", True)]
    assert sorted(bodies(sqs, url)) == ["one", "three"]
    whole_batch_errors = {
        "EmptyBatchRequest": [],
        "TooManyEntriesInBatchRequest": [{"Id": str(i), "Message": "m"} for i in range(11)],
        "BatchEntryIdsNotDistinct": [{"Id": "x", "Message": "m"}, {"Id": "x", "Message": "n"}],
        "InvalidBatchEntryId": [{"Id": "no spaces", "Message": "m"}],
        "BatchRequestTooLong": [{"Id": str(i), "Message": "x" * 200_000} for i in range(2)],
    }
    for code, entries in whole_batch_errors.items():
        with pytest.raises(ClientError) as caught:
            sns.publish_batch(TopicArn=arn, PublishBatchRequestEntries=entries)
        assert caught.value.response["Error"]["Code"] == code
    assert sorted(bodies(sqs, url)) == []  # none of them published anything


# -- filter policies ----------------------------------------------------------------------


def fan_out(sns: Any, sqs: Any, policies: dict[str, tuple[dict[str, Any], str]]) -> tuple[str, dict[str, str]]:
    """A topic with one raw SQS subscription per named policy (and scope); the queue URLs."""
    arn = sns.create_topic(Name="orders")["TopicArn"]
    urls = {}
    for name, (policy, scope) in policies.items():
        urls[name], queue_arn = queue(sqs, name)
        sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=queue_arn, Attributes={
            "RawMessageDelivery": "true", "FilterPolicy": json.dumps(policy),
            "FilterPolicyScope": scope})
    return arn, urls


def test_attribute_filter_policies_pick_the_messages_of_each_subscriber(sns: Any, sqs: Any) -> None:
    arn, urls = fan_out(sns, sqs, {
        "big": ({"total": [{"numeric": [">=", 100]}]}, "MessageAttributes"),
        "eu": ({"region": [{"prefix": "eu-"}], "kind": [{"anything-but": ["refund"]}]},
               "MessageAttributes"),
        "red": ({"colors": ["red"]}, "MessageAttributes"),
        "untagged": ({"kind": [{"exists": False}]}, "MessageAttributes"),
        "either": ({"$or": [{"kind": ["refund"]}, {"total": [{"numeric": ["<", 1]}]}]},
                   "MessageAttributes"),
    })

    def publish(message: str, **attributes: tuple[str, str]) -> None:
        sns.publish(TopicArn=arn, Message=message, MessageAttributes={
            k: {"DataType": t, "StringValue": v} for k, (t, v) in attributes.items()})

    publish("m1", total=("Number", "150"), region=("String", "eu-west-1"), kind=("String", "order"))
    publish("m2", total=("String", "150"), region=("String", "us-east-1"), kind=("String", "refund"))
    publish("m3", colors=("String.Array", '["blue", "red"]'), total=("Number", "0.5"))
    publish("m4", region=("String", "eu-north-1"), kind=("String", "refund"))
    assert bodies(sqs, urls["big"]) == ["m1"]  # m2's total is a String: no numeric match
    assert bodies(sqs, urls["eu"]) == ["m1"]
    assert bodies(sqs, urls["red"]) == ["m3"]
    assert bodies(sqs, urls["untagged"]) == ["m3"]
    assert sorted(bodies(sqs, urls["either"])) == ["m2", "m3", "m4"]


def test_payload_filter_policies_match_the_message_body(sns: Any, sqs: Any) -> None:
    arn, urls = fan_out(sns, sqs, {
        "paid": ({"order": {"status": ["paid"], "total": [{"numeric": [">", 10]}]}}, "MessageBody"),
    })
    for message in ('{"order": {"status": "paid", "total": 20}}',
                    '{"order": {"status": "paid", "total": 5}}',
                    '{"order": {"status": "open", "total": 20}}', "not json", "[1, 2]"):
        sns.publish(TopicArn=arn, Message=message)
    assert bodies(sqs, urls["paid"]) == ['{"order": {"status": "paid", "total": 20}}']


def test_bad_filter_policies_are_refused(sns: Any, sqs: Any) -> None:
    arn = sns.create_topic(Name="orders")["TopicArn"]
    _, queue_arn = queue(sqs, "q")
    for policy, scope in [('{"kind": "order"}', "MessageAttributes"), ("{", "MessageAttributes"),
                          ('{"a": {"b": ["x"]}}', "MessageAttributes"),
                          (json.dumps({f"k{i}": ["x"] for i in range(6)}), "MessageAttributes"),
                          (json.dumps({"a": list(range(20)), "b": list(range(10))}), "MessageBody"),
                          ('{"kind": ["x"]}', "Everything")]:
        with pytest.raises(sns.exceptions.InvalidParameterException, match="Filter"):
            sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=queue_arn, Attributes={
                "FilterPolicy": policy, "FilterPolicyScope": scope})
    assert sns.list_subscriptions()["Subscriptions"] == []  # nothing half-made
    sub = sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=queue_arn)["SubscriptionArn"]
    with pytest.raises(sns.exceptions.InvalidParameterException, match="FilterPolicy"):
        sns.set_subscription_attributes(SubscriptionArn=sub, AttributeName="FilterPolicy",
                                        AttributeValue='{"kind": [{"wildcard": "*"}]}')
    sns.set_subscription_attributes(SubscriptionArn=sub, AttributeName="FilterPolicy",
                                    AttributeValue='{"kind": ["order"]}')
    assert sns.get_subscription_attributes(SubscriptionArn=sub)["Attributes"]["FilterPolicyScope"] == (
        "MessageAttributes")


# -- SNS as a destination of asynchronous invokes ----------------------------------------


def test_an_sns_topic_is_an_on_failure_destination_and_a_dead_letter_target(
        sns: Any, sqs: Any, lab: Lab, code: Callable[..., Path]) -> None:
    arn = sns.create_topic(Name="failures")["TopicArn"]
    url, queue_arn = queue(sqs, "inbox")
    sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=queue_arn,
                  Attributes={"RawMessageDelivery": "true"})
    lab.create_function("flaky", code(app="""
def handler(event, context):
    raise ValueError("nope")
"""), handler="app.handler", dead_letter_config={"TargetArn": arn})
    lab.put_function_event_invoke_config(
        "flaky", maximum_retry_attempts=0, destination_config={"OnFailure": {"Destination": arn}})
    lab.invoke("flaky", {"order": 7}, invocation_type="Event")
    assert lab.wait_for_events(timeout=60)
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                              MessageAttributeNames=["All"])["Messages"]
    by_kind = {("record" if "requestContext" in m["Body"] else "dead"): m for m in got}
    record = json.loads(by_kind["record"]["Body"])
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestPayload"] == {"order": 7}
    dead = by_kind["dead"]
    assert json.loads(dead["Body"]) == {"order": 7}
    assert dead["MessageAttributes"]["ErrorMessage"]["StringValue"] == "nope"


def test_a_destination_topic_arn_that_is_not_one_is_refused(lab: Lab, code: Callable[..., Path]) -> None:
    lab.create_function("f", code(app=RECORDER), handler="app.handler")
    with pytest.raises(InvalidParameterValueException):
        lab.put_function_event_invoke_config("f", destination_config={
            "OnFailure": {"Destination": "arn:aws:sns:us-east-1:000000000000:bad name"}})


# -- the AWS CLI ------------------------------------------------------------------------------


def test_the_aws_cli_creates_a_topic_and_publishes(edge: EdgeServer, lab: Lab) -> None:  # noqa: F811
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "x",
           "AWS_DEFAULT_REGION": "us-east-1", "AWS_MAX_ATTEMPTS": "1",
           "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull}

    def aws(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(Path(sys.executable).parent / "aws"), "--endpoint-url", edge.url,
                               "--output", "json", "sns", *args],
                              capture_output=True, text=True, env=env, timeout=120)

    created = aws("create-topic", "--name", "cli-topic")
    assert created.returncode == 0, created.stderr
    arn = json.loads(created.stdout)["TopicArn"]
    sqs_of(lab).queues.create_queue("cli-inbox")
    sns_of(lab).topics.subscribe(arn, "sqs", sqs_of(lab).queues.arn("cli-inbox"),
                                 {"RawMessageDelivery": "true"})
    published = aws("publish", "--topic-arn", arn, "--message", "from the CLI")
    assert published.returncode == 0, published.stderr
    assert json.loads(published.stdout)["MessageId"]
    [message] = sqs_of(lab).queues.receive_message("cli-inbox")
    assert message.body == "from the CLI"
    missing = aws("get-topic-attributes", "--topic-arn", arn + "-gone")
    assert missing.returncode != 0 and "NotFound" in missing.stderr


def test_unknown_actions_and_garbage_get_query_errors(edge: EdgeServer) -> None:  # noqa: F811
    sns = client_for(edge.url, "sns")
    with pytest.raises(ClientError) as caught:
        sns.create_platform_application(Name="x", Platform="GCM", Attributes={})
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 501


# -- hostile input: no request gets a 5xx -----------------------------------------------------

SNS_OPERATIONS = ("CreateTopic", "ListTopics", "DeleteTopic", "GetTopicAttributes",
                  "SetTopicAttributes", "Subscribe", "Unsubscribe", "ListSubscriptions",
                  "ListSubscriptionsByTopic", "GetSubscriptionAttributes",
                  "SetSubscriptionAttributes", "Publish", "PublishBatch", "TagResource",
                  "UntagResource", "ListTagsForResource")
ARN_MEMBERS = {"TopicArn", "TargetArn", "ResourceArn", "SubscriptionArn", "Endpoint"}


@pytest.fixture
def topic_world(edge: EdgeServer, lab: Lab) -> EdgeServer:  # noqa: F811
    """A topic ``q`` with a queue subscribed, so requests get past "not found"."""
    sqs_of(lab).queues.create_queue("q")
    topic = sns_of(lab).topics.create_topic("q")
    sns_of(lab).topics.subscribe(topic.arn, "sqs", sqs_of(lab).queues.arn("q"))
    return edge


def with_real_arns(params: dict[str, Any]) -> dict[str, Any]:
    """A fuzzed name where an ARN goes becomes the ARN of that name (most are not there)."""
    out = dict(params)
    for member in ARN_MEMBERS & set(out):
        if isinstance(out[member], str) and out[member].isidentifier():
            service = "sqs" if member == "Endpoint" else "sns"
            out[member] = f"arn:aws:{service}:us-east-1:000000000000:{out[member]}"
    return out


@settings(FUZZ, max_examples=120)
@given(request=operation_and_input("sns", SNS_OPERATIONS))
def test_sns_never_fails_internally(topic_world: EdgeServer, request: Any) -> None:
    op, params = request
    pairs = [("Action", op.name), ("Version", "2010-03-31")]
    for name, value in with_real_arns(params).items():
        pairs += list(query_pairs(name, value))
    body = urlencode([(k, DEEP_MARK.sub("[[[", v)) for k, v in pairs]).encode()
    headers = {"Content-Type": "application/x-www-form-urlencoded", **signed_for("sns")}
    judge("sns", "query", op, "POST", send(topic_world.url, "POST", "/", headers, body))


@settings(FUZZ, max_examples=60)
@given(policy=st.one_of(st.text(max_size=40), st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=4)),
    lambda inner: st.one_of(st.lists(inner, max_size=3),
                            st.dictionaries(st.sampled_from(["kind", "numeric", "prefix", "exists",
                                                             "anything-but", "$or", "x"]),
                                            inner, max_size=3)),
    max_leaves=8).map(json.dumps)),
    scope=st.sampled_from(["MessageAttributes", "MessageBody"]))
def test_any_filter_policy_is_refused_or_filters_without_failing(
        topic_world: EdgeServer, lab: Lab, policy: str, scope: str) -> None:
    topic = "arn:aws:sns:us-east-1:000000000000:q"
    status, text = sns_query(topic_world.url, {
        "Action": "Subscribe", "TopicArn": topic, "Protocol": "sqs",
        "Endpoint": sqs_of(lab).queues.arn(f"q{uuid.uuid4().hex}"),  # a new subscription each time
        "Attributes.entry.1.key": "FilterPolicy", "Attributes.entry.1.value": policy,
        "Attributes.entry.2.key": "FilterPolicyScope", "Attributes.entry.2.value": scope})
    assert status in (200, 400), text
    status, text = sns_query(topic_world.url, {
        "Action": "Publish", "TopicArn": topic, "Message": '{"kind": "order", "n": 5}',
        "MessageAttributes.entry.1.Name": "kind",
        "MessageAttributes.entry.1.Value.DataType": "String",
        "MessageAttributes.entry.1.Value.StringValue": "order"})
    assert status == 200, text


def test_the_lambdalab_sns_commands(tmp_path: Path, code: Callable[..., Path]) -> None:
    from click.testing import CliRunner

    from lambdalab.cli.app import main

    data = str(tmp_path / "cli-data")

    def run(*args: str) -> Any:
        return CliRunner().invoke(main, ["--data-dir", data, *args], catch_exceptions=False)

    assert "arn:aws:sns:" in run("sns", "create-topic", "orders").output
    assert run("sqs", "create-queue", "big").exit_code == 0
    queue_arn = "arn:aws:sqs:us-east-1:000000000000:big"
    subscribed = run("sns", "subscribe", "orders", "sqs", queue_arn, "--raw",
                     "--filter-policy", '{"total": [{"numeric": [">", 100]}]}')
    assert subscribed.exit_code == 0, subscribed.output
    assert "numeric" in run("sns", "list").output
    for total in ("5", "500"):
        assert "Published" in run("sns", "publish", "orders", f"order of {total}",
                                  "-a", f"total:Number={total}").output
    received = run("sqs", "receive", "big", "--max", "10").output
    assert "order of 500" in received and "order of 5\"" not in received
    bad = run("sns", "subscribe", "orders", "sqs", queue_arn, "--filter-policy", '{"total": 1}')
    assert bad.exit_code == 2 and bad.output.startswith("InvalidParameter: ")
    missing = run("sns", "publish", "nope", "x")
    assert missing.exit_code == 2 and "NotFound" in missing.output
    assert run("sns", "delete-topic", "orders").exit_code == 0
    assert "No topics" in run("sns", "list").output


def test_a_subscriber_that_cannot_take_a_message_does_not_stop_the_others(
        sns: Any, sqs: Any, lab: Lab, code: Callable[..., Path]) -> None:
    lab.create_function("recorder", code_of(code, RECORDER), handler="app.handler")
    arn = sns.create_topic(Name="orders")["TopicArn"]
    for function in ("nobody", "recorder"):  # the first does not exist
        sns.subscribe(TopicArn=arn, Protocol="lambda", Endpoint=lab.arns.function(function))
    url, queue_arn = queue(sqs, "after")
    sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=queue_arn + "-gone")
    sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=queue_arn,
                  Attributes={"RawMessageDelivery": "true"})
    sns.publish(TopicArn=arn, Message="hello")  # answered, though two subscribers are gone
    assert lab.wait_for_events(timeout=60)
    assert [e["Records"][0]["Sns"]["Message"] for e in events(lab)] == ["hello"]
    assert bodies(sqs, url) == ["hello"]
