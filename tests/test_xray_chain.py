"""X-Ray across services: an S3 notification and an SQS message continue the sender's
trace, so a chain API → function → S3 → function (and → SQS → function) is one trace,
drawn as X-Ray draws it.

AWS: S3 passes the writer's ``X-Amzn-Trace-Id`` to the functions it notifies
(https://docs.aws.amazon.com/xray/latest/devguide/xray-services-s3.html); SQS keeps a
sender's header on the message as the ``AWSTraceHeader`` system attribute (set
explicitly, it wins over the HTTP header), and a Lambda consumer continues it
(https://docs.aws.amazon.com/xray/latest/devguide/xray-services-sqs.html).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from lambdalab import Lab
from lambdalab.server import EdgeServer
from lambdalab_sqs import sqs_of
from lambdalab_xray import xray

from .edge_support import client, client_for, create, edge  # noqa: F401  (fixtures)
from .test_s3 import notify_config, s3_client

#: The API's own segment: the caller that starts the trace.
API_SEGMENT_ID = "a0000000000000a1"

#: The function the API calls: with the X-Ray SDK patched in, as on AWS, each call it
#: makes is a subsegment and carries the trace header on.
UPLOAD = """
import os, boto3
from botocore.config import Config
from aws_xray_sdk.core import patch

patch(["botocore"])
s3 = boto3.client("s3", config=Config(s3={"addressing_style": "path"}))
sqs = boto3.client("sqs")

def handler(event, context):
    s3.put_object(Bucket="photos", Key="beach.jpg", Body=b"jpeg")
    sqs.send_message(QueueUrl=event["queue"], MessageBody="beach.jpg")
    return os.environ["_X_AMZN_TRACE_ID"]
"""

#: A function that says which trace it ran in.
TRACE_PRINTER = """
import os

def handler(event, context):
    print("trace", os.environ["_X_AMZN_TRACE_ID"])
"""

#: A function without the X-Ray SDK: boto3 alone sends the handler's _X_AMZN_TRACE_ID
#: as the request's X-Amzn-Trace-Id (botocore's recursion-detection header).
PLAIN_SENDER = """
import os, boto3

def handler(event, context):
    boto3.client("sqs").send_message(QueueUrl=event["queue"], MessageBody="hi")
    return os.environ["_X_AMZN_TRACE_ID"]
"""


def header_for(root: str, parent: str) -> str:
    return f"Root={root};Parent={parent};Sampled=1"


def with_trace_header(boto_client: Any, header: str) -> Any:
    """``boto_client`` sending ``header`` as X-Amzn-Trace-Id, as an instrumented caller does."""
    def add(request: Any, **_: Any) -> None:
        request.headers["X-Amzn-Trace-Id"] = header
    boto_client.meta.events.register("before-sign", add)
    return boto_client


def new_root(lab: Lab, tail: int) -> str:
    return f"1-{int(lab.clock.now()):08x}-{tail:024x}"


def printed_roots(lab: Lab, name: str) -> list[str]:
    return [e.message.split("Root=")[1].split(";")[0] for e in lab.get_logs(name)
            if e.message.startswith("trace ")]


def documents(edge_url: str, trace_id: str) -> list[dict[str, Any]]:
    (trace,) = client_for(edge_url, "xray").batch_get_traces(TraceIds=[trace_id])["Traces"]
    return [json.loads(s["Document"]) for s in trace["Segments"]]


def by_origin(docs: list[dict[str, Any]], name: str, origin: str) -> dict[str, Any]:
    (doc,) = [d for d in docs if d["name"] == name and d.get("origin") == origin]
    return doc


def graph_edges(services: list[dict[str, Any]]) -> dict[tuple[str, str], set[tuple[str, str]]]:
    keys = {s["ReferenceId"]: (s["Name"], s["Type"]) for s in services}
    return {keys[s["ReferenceId"]]: {keys[e["ReferenceId"]] for e in s["Edges"]} for s in services}


def queue_with_consumer(client: Any, sqs: Any, function: str) -> str:
    url = sqs.create_queue(QueueName="jobs")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    client.create_event_source_mapping(FunctionName=function, EventSourceArn=arn, BatchSize=1)
    return url


def bucket_notifying(client: Any, s3: Any, function: str) -> None:
    client.add_permission(FunctionName=function, StatementId="s3", Principal="s3.amazonaws.com",
                          Action="lambda:InvokeFunction", SourceArn="arn:aws:s3:::photos")
    s3.create_bucket(Bucket="photos")
    arn = client.get_function(FunctionName=function)["Configuration"]["FunctionArn"]
    s3.put_bucket_notification_configuration(
        Bucket="photos", NotificationConfiguration=notify_config(arn, ["s3:ObjectCreated:*"]))


def test_api_function_s3_function_and_sqs_function_are_one_trace(
    lab: Lab, edge: EdgeServer, client: Any  # noqa: F811
) -> None:
    active = {"TracingConfig": {"Mode": "Active"}}
    create(client, "upload", UPLOAD, Timeout=30, **active)
    create(client, "thumb", TRACE_PRINTER, **active)
    create(client, "worker", TRACE_PRINTER, **active)
    s3, sqs = s3_client(edge.url), client_for(edge.url, "sqs")
    bucket_notifying(client, s3, "thumb")
    url = queue_with_consumer(client, sqs, "worker")

    root, now = new_root(lab, 0xA91), lab.clock.now()
    api = {"trace_id": root, "id": API_SEGMENT_ID, "name": "api", "start_time": now,
           "end_time": now + 1}
    xr = client_for(edge.url, "xray")
    assert xr.put_trace_segments(TraceSegmentDocuments=[json.dumps(api)])["UnprocessedTraceSegments"] == []
    caller = with_trace_header(client_for(edge.url), header_for(root, API_SEGMENT_ID))
    answer = caller.invoke(FunctionName="upload", Payload=json.dumps({"queue": url}).encode())
    assert "FunctionError" not in answer, answer["Payload"].read()
    assert json.loads(answer["Payload"].read()).startswith(f"Root={root};")
    assert lab.wait_for_events(timeout=60) and sqs_of(lab).mappings.wait_idle(timeout=60)
    assert xray(lab).daemon.wait_for(2, timeout=60)  # the SDK's S3 and SQS subsegments
    assert printed_roots(lab, "thumb") == printed_roots(lab, "worker") == [root]

    window = {"StartTime": now - 60, "EndTime": now + 60}
    (summary,) = xr.get_trace_summaries(**window)["TraceSummaries"]  # one trace, all of it
    assert summary["Id"] == root and summary["EntryPoint"]["Name"] == "api"
    assert {("thumb", "AWS::Lambda"), ("worker", "AWS::Lambda"), ("S3", "AWS::S3"),
            ("SQS", "AWS::SQS")} <= {(s["Name"], s["Type"]) for s in summary["ServiceIds"]}

    docs = documents(edge.url, root)
    upload = by_origin(docs, "upload", "AWS::Lambda::Function")
    calls = {s["name"]: s for s in upload["subsegments"] if s.get("namespace") == "aws"}
    assert by_origin(docs, "upload", "AWS::Lambda")["parent_id"] == API_SEGMENT_ID
    assert by_origin(docs, "thumb", "AWS::Lambda")["parent_id"] == calls["s3"]["id"]
    assert by_origin(docs, "worker", "AWS::Lambda")["parent_id"] == calls["sqs"]["id"]

    edges = graph_edges(xr.get_service_graph(**window)["Services"])
    assert edges[("api", "client")] == {("upload", "AWS::Lambda")}
    assert edges[("upload", "AWS::Lambda::Function")] == {("S3", "AWS::S3"), ("SQS", "AWS::SQS")}
    assert edges[("S3", "AWS::S3")] == {("thumb", "AWS::Lambda")}  # S3 passed the trace on
    assert edges[("SQS", "AWS::SQS")] == {("worker", "AWS::Lambda")}
    assert edges == graph_edges(xr.get_trace_graph(TraceIds=[root])["Services"])


def test_a_put_objects_trace_header_reaches_the_notified_function(
    lab: Lab, edge: EdgeServer, client: Any  # noqa: F811
) -> None:
    create(client, "thumb", TRACE_PRINTER, TracingConfig={"Mode": "Active"})
    s3 = s3_client(edge.url)
    bucket_notifying(client, s3, "thumb")
    root = new_root(lab, 0x53)
    traced_s3 = with_trace_header(s3_client(edge.url), header_for(root, "5300000000000001"))
    traced_s3.put_object(Bucket="photos", Key="a.jpg", Body=b"1")
    traced_s3.copy_object(Bucket="photos", Key="b.jpg", CopySource="photos/a.jpg")
    s3.put_object(Bucket="photos", Key="c.jpg", Body=b"3")  # no header: a trace of its own
    assert lab.wait_for_events(timeout=60)
    roots = printed_roots(lab, "thumb")
    assert roots.count(root) == 2 and len(roots) == 3
    docs = documents(edge.url, root)
    services = [d for d in docs if d.get("origin") == "AWS::Lambda"]
    assert [d["parent_id"] for d in services] == ["5300000000000001"] * 2


def test_a_handlers_trace_rides_on_its_sqs_message_without_the_xray_sdk(
    lab: Lab, edge: EdgeServer, client: Any  # noqa: F811
) -> None:
    create(client, "sender", PLAIN_SENDER, Timeout=30, TracingConfig={"Mode": "Active"})
    create(client, "worker", TRACE_PRINTER, TracingConfig={"Mode": "Active"})
    sqs = client_for(edge.url, "sqs")
    url = queue_with_consumer(client, sqs, "worker")
    answer = client.invoke(FunctionName="sender", Payload=json.dumps({"queue": url}).encode())
    sender_trace = json.loads(answer["Payload"].read())
    assert sqs_of(lab).mappings.wait_idle(timeout=60)
    root = sender_trace.split(";")[0].removeprefix("Root=")
    assert printed_roots(lab, "worker") == [root]
    docs = documents(edge.url, root)
    sender = by_origin(docs, "sender", "AWS::Lambda::Function")
    assert by_origin(docs, "worker", "AWS::Lambda")["parent_id"] == sender["id"]


def test_sqs_keeps_the_trace_header_as_aws_trace_header_and_the_attribute_wins(
    lab: Lab, edge: EdgeServer  # noqa: F811
) -> None:
    sqs = client_for(edge.url, "sqs")
    url = sqs.create_queue(QueueName="q")["QueueUrl"]
    from_http = header_for(new_root(lab, 1), "1000000000000001")
    explicit = header_for(new_root(lab, 2), "2000000000000002")
    traced = with_trace_header(client_for(edge.url, "sqs"), from_http)
    traced.send_message(QueueUrl=url, MessageBody="http header")
    sent = traced.send_message(QueueUrl=url, MessageBody="attribute", MessageSystemAttributes={
        "AWSTraceHeader": {"DataType": "String", "StringValue": explicit}})
    assert len(sent["MD5OfMessageSystemAttributes"]) == 32
    batch = traced.send_message_batch(QueueUrl=url, Entries=[
        {"Id": "good", "MessageBody": "in a batch"},
        {"Id": "bad", "MessageBody": "x", "MessageSystemAttributes": {
            "AWSTraceHeader": {"DataType": "String", "StringValue": "not a trace header"}}}])
    assert [e["Id"] for e in batch["Successful"]] == ["good"]
    assert [(e["Id"], e["Code"], e["SenderFault"]) for e in batch["Failed"]] == [
        ("bad", "InvalidParameterValue", True)]
    sqs.send_message(QueueUrl=url, MessageBody="untraced")
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                              MessageSystemAttributeNames=["AWSTraceHeader"])["Messages"]
    headers = {m["Body"]: m.get("Attributes", {}).get("AWSTraceHeader") for m in got}
    assert headers == {"http header": from_http, "attribute": explicit,
                       "in a batch": from_http, "untraced": None}
    with pytest.raises(sqs.exceptions.ClientError) as refused:
        sqs.send_message(QueueUrl=url, MessageBody="x", MessageSystemAttributes={
            "AWSTraceHeader": {"DataType": "Number", "StringValue": explicit}})
    assert refused.value.response["Error"]["Code"] == "InvalidParameterValue"
    assert "DataType String" in refused.value.response["Error"]["Message"]


#: A function that wires up a trigger with boto3 alone: botocore sends its
#: X-Amzn-Trace-Id to the control plane too.
WIRER = """
import boto3

def handler(event, context):
    client = boto3.client("lambda")
    uuid = client.create_event_source_mapping(FunctionName="worker", EventSourceArn=event["arn"],
                                              BatchSize=1)["UUID"]
    client.update_event_source_mapping(UUID=uuid, BatchSize=2)
    client.put_function_concurrency(FunctionName="worker", ReservedConcurrentExecutions=3)
    return uuid
"""


def test_operations_that_pass_no_trace_on_ignore_the_header_as_aws_does(
    lab: Lab, edge: EdgeServer, client: Any  # noqa: F811
) -> None:
    """botocore in a function sends ``X-Amzn-Trace-Id`` on every call (its recursion
    detection), so a handler that wires up a trigger sends it to the control plane too:
    there it is no input of the operation's, and AWS ignores it."""
    create(client, "worker", TRACE_PRINTER)
    create(client, "wirer", WIRER, Timeout=30)
    sqs = with_trace_header(client_for(edge.url, "sqs"), header_for(new_root(lab, 3), "3000000000000003"))
    url = sqs.create_queue(QueueName="jobs", Attributes={"VisibilityTimeout": "40"})["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    answer = client.invoke(FunctionName="wirer", Payload=json.dumps({"arn": arn}))
    uuid = json.loads(answer["Payload"].read())
    assert "FunctionError" not in answer, uuid
    assert client.get_event_source_mapping(UUID=uuid)["BatchSize"] == 2
    assert client.get_function_concurrency(FunctionName="worker")["ReservedConcurrentExecutions"] == 3
