"""SQS on the HTTP edge, judged by real clients: boto3 (JSON protocol), SigV4-signed form
posts (the query protocol older SDKs speak), and event source mappings via Lambda's API."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from lambdalab import Lab
from lambdalab.server import EdgeServer
from lambdalab_sqs import sqs_of

from .edge_support import client, client_for, create, edge, query_post  # noqa: F401  (fixtures)

NS = {"sqs": "http://queue.amazonaws.com/doc/2012-11-05/"}
RECORDER = """
def handler(event, context):
    print("BATCH", len(event["Records"]), [r["body"] for r in event["Records"]])
    return {"batchItemFailures": [{"itemIdentifier": r["messageId"]}
                                  for r in event["Records"] if r["body"] == "bad"]}
"""


@pytest.fixture
def sqs(edge: EdgeServer) -> Any:
    return client_for(edge.url, "sqs")


def query(url: str, params: dict[str, str]) -> tuple[int, ET.Element]:
    """POST an SQS query-protocol request (``Action=…`` form body), SigV4-signed as SDKs do."""
    status, data = query_post(url, "sqs", {**params, "Version": "2012-11-05"})
    return status, ET.fromstring(data)


def test_boto3_round_trip(sqs: Any) -> None:
    url = sqs.create_queue(QueueName="jobs", Attributes={"VisibilityTimeout": "60"})["QueueUrl"]
    assert url.endswith("/000000000000/jobs")
    assert sqs.get_queue_url(QueueName="jobs")["QueueUrl"] == url
    assert sqs.list_queues(QueueNamePrefix="jo")["QueueUrls"] == [url]
    sent = sqs.send_message(QueueUrl=url, MessageBody="hello", MessageAttributes={
        "kind": {"DataType": "String", "StringValue": "order"},
        "blob": {"DataType": "Binary", "BinaryValue": b"\x00\x01"}})
    assert sent["MD5OfMessageBody"] == hashlib.md5(b"hello").hexdigest()
    batch = sqs.send_message_batch(QueueUrl=url, Entries=[
        {"Id": "a", "MessageBody": "one"}, {"Id": "b", "MessageBody": "two"}])
    assert [e["Id"] for e in batch["Successful"]] == ["a", "b"] and not batch.get("Failed")
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                              MessageSystemAttributeNames=["All"], MessageAttributeNames=["All"])
    messages = got["Messages"]
    assert [m["Body"] for m in messages] == ["hello", "one", "two"]
    first = messages[0]
    assert first["Attributes"]["ApproximateReceiveCount"] == "1"
    assert first["MessageAttributes"]["blob"]["BinaryValue"] == b"\x00\x01"
    assert first["MD5OfMessageAttributes"] == sent["MD5OfMessageAttributes"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attributes["ApproximateNumberOfMessagesNotVisible"] == "3"
    assert attributes["VisibilityTimeout"] == "60"
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=first["ReceiptHandle"],
                                  VisibilityTimeout=0)
    deleted = sqs.delete_message_batch(QueueUrl=url, Entries=[
        {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages[1:])])
    assert len(deleted["Successful"]) == 2
    again = sqs.receive_message(QueueUrl=url)["Messages"]
    assert again[0]["Body"] == "hello"
    sqs.delete_message(QueueUrl=url, ReceiptHandle=again[0]["ReceiptHandle"])
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"DelaySeconds": "5"})
    sqs.send_message(QueueUrl=url, MessageBody="x")
    sqs.purge_queue(QueueUrl=url)
    assert "Messages" not in sqs.receive_message(QueueUrl=url)
    sqs.delete_queue(QueueUrl=url)
    assert "QueueUrls" not in sqs.list_queues()


def test_boto3_gets_sqs_errors(sqs: Any) -> None:
    with pytest.raises(sqs.exceptions.QueueDoesNotExist) as info:
        sqs.get_queue_url(QueueName="ghost")
    assert info.value.response["Error"]["Code"] == "AWS.SimpleQueueService.NonExistentQueue"
    url = sqs.create_queue(QueueName="jobs")["QueueUrl"]
    with pytest.raises(sqs.exceptions.QueueNameExists):
        sqs.create_queue(QueueName="jobs", Attributes={"DelaySeconds": "3"})
    with pytest.raises(sqs.exceptions.ClientError) as info:
        sqs.send_message(QueueUrl=url, MessageBody="x" * 262_145)
    assert info.value.response["Error"]["Code"] == "InvalidParameterValue"
    assert "262144" in info.value.response["Error"]["Message"]
    with pytest.raises(sqs.exceptions.ReceiptHandleIsInvalid):
        sqs.delete_message(QueueUrl=url, ReceiptHandle="garbage")
    with pytest.raises(sqs.exceptions.TooManyEntriesInBatchRequest):
        sqs.send_message_batch(QueueUrl=url, Entries=[
            {"Id": str(i), "MessageBody": "m"} for i in range(11)])
    with pytest.raises(sqs.exceptions.BatchEntryIdsNotDistinct):
        sqs.send_message_batch(QueueUrl=url, Entries=[
            {"Id": "same", "MessageBody": "m"}, {"Id": "same", "MessageBody": "n"}])
    partial = sqs.send_message_batch(QueueUrl=url, Entries=[
        {"Id": "ok", "MessageBody": "fine"}, {"Id": "big", "MessageBody": "y" * 262_145}])
    assert [e["Id"] for e in partial["Successful"]] == ["ok"]
    assert partial["Failed"][0]["Code"] == "InvalidParameterValue"
    with pytest.raises(sqs.exceptions.ClientError) as info:
        sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=11)
    assert "MaxNumberOfMessages" in info.value.response["Error"]["Message"]


@pytest.mark.timing
def test_long_polling_wakes_when_a_message_is_sent(edge: EdgeServer, lab: Lab, sqs: Any) -> None:
    """The bound is the 20 s wait itself, which a receive that missed the send cannot beat."""
    url = sqs.create_queue(QueueName="jobs")["QueueUrl"]
    started = time.monotonic()
    threading.Timer(0.3, lambda: sqs_of(lab).queues.send_message("jobs", "late")).start()
    got = client_for(edge.url, "sqs").receive_message(QueueUrl=url, WaitTimeSeconds=20)
    assert [m["Body"] for m in got["Messages"]] == ["late"]
    # Woken by the send: a wait that missed it would end no earlier than 20 s from here,
    # an exact bound, which a loaded machine's slowness does not reach.
    assert time.monotonic() - started < 20


def test_query_protocol_speaks_xml(edge: EdgeServer, sqs: Any) -> None:
    status, doc = query(edge.url, {"Action": "CreateQueue", "QueueName": "old",
                                   "Attribute.1.Name": "VisibilityTimeout",
                                   "Attribute.1.Value": "45"})
    assert status == 200
    url = doc.find("sqs:CreateQueueResult/sqs:QueueUrl", NS).text
    status, doc = query(edge.url, {
        "Action": "SendMessage", "QueueUrl": url, "MessageBody": "from an old SDK",
        "MessageAttribute.1.Name": "kind", "MessageAttribute.1.Value.DataType": "String",
        "MessageAttribute.1.Value.StringValue": "legacy"})
    assert status == 200
    assert doc.find("sqs:SendMessageResult/sqs:MD5OfMessageBody", NS).text == hashlib.md5(
        b"from an old SDK").hexdigest()
    assert doc.find("sqs:ResponseMetadata/sqs:RequestId", NS).text
    # what the old client sent, boto3 (JSON protocol) reads
    [message] = sqs.receive_message(QueueUrl=url, MessageAttributeNames=["All"])["Messages"]
    assert message["MessageAttributes"]["kind"]["StringValue"] == "legacy"
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"],
                                  VisibilityTimeout=0)
    status, doc = query(edge.url, {"Action": "ReceiveMessage", "QueueUrl": url,
                                   "AttributeName.1": "All", "MessageAttributeName.1": "All"})
    received = doc.find("sqs:ReceiveMessageResult/sqs:Message", NS)
    assert received.find("sqs:Body", NS).text == "from an old SDK"
    attributes = {a.find("sqs:Name", NS).text: a.find("sqs:Value", NS).text
                  for a in received.findall("sqs:Attribute", NS)}
    assert attributes["ApproximateReceiveCount"] == "2"
    kind = received.find("sqs:MessageAttribute", NS)
    assert kind.find("sqs:Value/sqs:StringValue", NS).text == "legacy"
    status, doc = query(edge.url, {"Action": "DeleteMessage", "QueueUrl": url,
                                   "ReceiptHandle": received.find("sqs:ReceiptHandle", NS).text})
    assert status == 200 and doc.tag == "{%s}DeleteMessageResponse" % NS["sqs"]
    status, doc = query(edge.url, {"Action": "GetQueueUrl", "QueueName": "ghost"})
    assert status == 400
    assert doc.find("sqs:Error/sqs:Code", NS).text == "AWS.SimpleQueueService.NonExistentQueue"
    status, doc = query(edge.url, {"Action": "ListQueues"})
    assert [e.text for e in doc.findall("sqs:ListQueuesResult/sqs:QueueUrl", NS)] == [url]


def test_event_source_mappings_on_the_lambda_api(edge: EdgeServer, client: Any, lab: Lab, sqs: Any) -> None:
    create(client, "worker", RECORDER)
    url = sqs.create_queue(QueueName="jobs")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    with pytest.raises(client.exceptions.InvalidParameterValueException,
                       match="Invalid filter pattern definition"):
        client.create_event_source_mapping(
            FunctionName="worker", EventSourceArn=queue_arn,
            FilterCriteria={"Filters": [{"Pattern": '{"body": {"kind": ["order"]'}]})
    created = client.create_event_source_mapping(
        FunctionName="worker", EventSourceArn=queue_arn, BatchSize=5,
        FunctionResponseTypes=["ReportBatchItemFailures"])
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert (created["State"], created["BatchSize"]) == ("Creating", 5)
    assert created["FunctionArn"].endswith(":function:worker")
    sqs.send_message_batch(QueueUrl=url, Entries=[
        {"Id": str(i), "MessageBody": "bad" if i == 3 else f"m{i}"} for i in range(8)])
    assert sqs_of(lab).mappings.wait_idle(timeout=60)
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert (attributes["ApproximateNumberOfMessages"],
            attributes["ApproximateNumberOfMessagesNotVisible"]) == ("0", "1")
    got = client.get_event_source_mapping(UUID=created["UUID"])
    assert got["State"] == "Enabled" and got["LastProcessingResult"] == "OK"
    listed = client.list_event_source_mappings(FunctionName="worker")["EventSourceMappings"]
    assert [m["UUID"] for m in listed] == [created["UUID"]]
    updated = client.update_event_source_mapping(UUID=created["UUID"], Enabled=False)
    assert updated["State"] == "Disabling"
    with pytest.raises(client.exceptions.InvalidParameterValueException):
        client.update_event_source_mapping(UUID=created["UUID"], BatchSize=500)
    deleted = client.delete_event_source_mapping(UUID=created["UUID"])
    assert deleted["State"] == "Deleting"
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.get_event_source_mapping(UUID=created["UUID"])


def aws_cli(url: str, service: str, *args: str) -> Any:
    """The AWS CLI (``aws SERVICE …``) against the edge, parsed from its JSON output."""
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "x",
           "AWS_DEFAULT_REGION": "us-east-1", "AWS_MAX_ATTEMPTS": "1",
           "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull}
    done = subprocess.run(
        [str(Path(sys.executable).parent / "aws"), "--endpoint-url", url, "--output", "json",
         service, *args], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout) if done.stdout.strip() else None


def test_aws_cli_sends_and_maps_a_queue(edge: EdgeServer, client: Any, lab: Lab) -> None:
    create(client, "worker", RECORDER)
    url = aws_cli(edge.url, "sqs", "create-queue", "--queue-name", "cli-jobs")["QueueUrl"]
    sent = aws_cli(edge.url, "sqs", "send-message", "--queue-url", url, "--message-body", "from the CLI")
    assert sent["MD5OfMessageBody"] == hashlib.md5(b"from the CLI").hexdigest()
    queue_arn = aws_cli(edge.url, "sqs", "get-queue-attributes", "--queue-url", url,
                        "--attribute-names", "QueueArn")["Attributes"]["QueueArn"]
    mapping = aws_cli(edge.url, "lambda", "create-event-source-mapping", "--function-name",
                      "worker", "--event-source-arn", queue_arn, "--batch-size", "10")
    assert mapping["State"] == "Creating"
    assert sqs_of(lab).mappings.wait_idle(timeout=60)
    assert "from the CLI" in "".join(e.message for e in lab.get_logs("worker"))
    assert aws_cli(edge.url, "sqs", "receive-message", "--queue-url", url) is None
    listed = aws_cli(edge.url, "lambda", "list-event-source-mappings", "--function-name", "worker")
    assert [m["UUID"] for m in listed["EventSourceMappings"]] == [mapping["UUID"]]
