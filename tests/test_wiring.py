"""The services wired to each other: CloudWatch alarms publishing to SNS, FilterCriteria
and SNS on-failure destinations on Kinesis mappings, SNS continuing an X-Ray trace, and
the IteratorAge metric of a blocked shard.

The judges are boto3 against ``lambdalab serve``'s edge; time moves only on the lab's
virtual clock.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

import pytest
from botocore.exceptions import ClientError

from lambdalab import Lab, VirtualClock
from lambdalab.server import EdgeServer
from lambdalab_kinesis import kinesis_of

from lambdalab_xray import xray

from .edge_support import client_for, create, edge  # noqa: F401  (fixture)
from .test_cloudwatch_alarms import utc
from .test_sns import RECORDER, queue
from .test_stream_mappings import Recorder, make_function, recorder  # noqa: F401  (fixture)
from .test_xray_chain import TRACE_PRINTER, by_origin, documents, graph_edges, printed_roots

START = 1_700_000_100  # a five-minute boundary of the virtual clock
MINUTE = 60


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock(start=START)


def events(lab: Lab, name: str = "recorder") -> list[dict[str, Any]]:
    assert lab.wait_for_events(timeout=120)
    return [json.loads(e.message.split("EVENT ", 1)[1]) for e in lab.get_logs(name)
            if "EVENT " in e.message]


def received(sqs: Any, url: str) -> list[dict[str, Any]]:
    """The messages waiting in a queue (taken from it)."""
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    for m in got:
        sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    return [json.loads(m["Body"]) for m in got]


# -- CloudWatch alarm actions that publish to SNS ------------------------------------------


def alarm_topic(edge: EdgeServer, lab: Lab, code: Callable[..., Path]) -> tuple[str, str]:  # noqa: F811
    """A topic with a Lambda subscriber (``recorder``) and an SQS subscriber: its ARN and
    the queue's URL."""
    sns, sqs = client_for(edge.url, "sns"), client_for(edge.url, "sqs")
    lab.create_function("recorder", code(app=RECORDER), handler="app.handler")
    topic = sns.create_topic(Name="alarms")["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=lab.arns.function("recorder"))
    url, queue_arn = queue(sqs, "pager")
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    return topic, url


def test_a_metric_alarm_publishes_its_state_changes_to_an_sns_topic(
        lab: Lab, clock: VirtualClock, code: Callable[..., Path], edge: EdgeServer) -> None:  # noqa: F811
    topic, url = alarm_topic(edge, lab, code)
    cw, sqs = client_for(edge.url, "cloudwatch"), client_for(edge.url, "sqs")
    cw.put_metric_alarm(AlarmName="orders-high", AlarmDescription="too many orders",
                        Namespace="shop", MetricName="Orders", Statistic="Sum", Period=60,
                        EvaluationPeriods=1, Threshold=10,
                        ComparisonOperator="GreaterThanThreshold",
                        Dimensions=[{"Name": "service", "Value": "web"}],
                        AlarmActions=[topic], OKActions=[topic])
    cw.put_metric_data(Namespace="shop", MetricData=[{
        "MetricName": "Orders", "Value": 50, "Timestamp": utc(START + 10),
        "Dimensions": [{"Name": "service", "Value": "web"}]}])
    clock.advance(MINUTE)

    [notification] = received(sqs, url)
    assert notification["Type"] == "Notification" and notification["TopicArn"] == topic
    assert notification["Subject"] == 'ALARM: "orders-high" in US East (N. Virginia)'
    message = json.loads(notification["Message"])
    assert (message["AlarmName"], message["AlarmDescription"], message["NewStateValue"],
            message["OldStateValue"], message["Region"]) == (
        "orders-high", "too many orders", "ALARM", "INSUFFICIENT_DATA", "US East (N. Virginia)")
    assert message["AlarmArn"].endswith(":alarm:orders-high")
    assert message["AWSAccountId"] == lab.arns.account_id
    assert message["NewStateReason"].startswith("Threshold Crossed: 1 out of the last 1")
    assert message["Trigger"] == {
        "MetricName": "Orders", "Namespace": "shop", "StatisticType": "Statistic",
        "Statistic": "SUM", "Unit": None, "Dimensions": [{"value": "web", "name": "service"}],
        "Period": 60, "EvaluationPeriods": 1, "DatapointsToAlarm": 1,
        "ComparisonOperator": "GreaterThanThreshold", "Threshold": 10.0,
        "TreatMissingData": "- TreatMissingData: missing", "EvaluateLowSampleCountPercentile": ""}
    [event] = events(lab)
    [record] = event["Records"]
    assert record["EventSource"] == "aws:sns"
    assert json.loads(record["Sns"]["Message"]) == message

    history = cw.describe_alarm_history(AlarmName="orders-high", HistoryItemType="Action")
    [item] = history["AlarmHistoryItems"]
    assert item["HistorySummary"] == f"Successfully executed action {topic}"
    data = json.loads(item["HistoryData"])
    assert data["actionState"] == "Succeeded" and data["notificationResource"] == topic
    assert json.loads(data["publishedMessage"]) == message

    clock.advance(MINUTE)  # no data: INSUFFICIENT_DATA, which has no action
    cw.set_alarm_state(AlarmName="orders-high", StateValue="OK", StateReason="calm again")
    [ok] = received(sqs, url)
    assert ok["Subject"] == 'OK: "orders-high" in US East (N. Virginia)'
    assert json.loads(ok["Message"])["NewStateReason"] == "calm again"


def test_a_composite_alarm_publishes_its_rule_and_triggering_children(
        lab: Lab, clock: VirtualClock, code: Callable[..., Path], edge: EdgeServer) -> None:  # noqa: F811
    topic, url = alarm_topic(edge, lab, code)
    cw, sqs = client_for(edge.url, "cloudwatch"), client_for(edge.url, "sqs")
    cw.put_metric_alarm(AlarmName="child", Namespace="shop", MetricName="Orders",
                        Statistic="Sum", Period=60, EvaluationPeriods=1, Threshold=0,
                        ComparisonOperator="GreaterThanThreshold", TreatMissingData="ignore")
    cw.put_composite_alarm(AlarmName="parent", AlarmRule="ALARM(child)", AlarmActions=[topic])
    cw.set_alarm_state(AlarmName="child", StateValue="ALARM", StateReason="by hand")

    [notification] = received(sqs, url)
    assert notification["Subject"] == 'ALARM: "parent" in US East (N. Virginia)'
    message = json.loads(notification["Message"])
    assert (message["AlarmName"], message["NewStateValue"], message["OldStateValue"],
            message["AlarmRule"]) == ("parent", "ALARM", "OK", "ALARM(child)")
    [child] = message["TriggeringChildren"]
    assert child["Arn"].endswith(":alarm:child") and child["State"]["Value"] == "ALARM"
    assert "Trigger" not in message
    [event] = events(lab)
    assert json.loads(event["Records"][0]["Sns"]["Message"]) == message


def test_an_alarm_name_sns_cannot_take_as_a_subject_still_publishes(
        lab: Lab, clock: VirtualClock, code: Callable[..., Path], edge: EdgeServer) -> None:  # noqa: F811
    topic, url = alarm_topic(edge, lab, code)
    cw, sqs = client_for(edge.url, "cloudwatch"), client_for(edge.url, "sqs")
    name = "commandes-trop-élevées-" + "x" * 200  # not ASCII, and past SNS's 100 characters
    cw.put_metric_alarm(AlarmName=name, Namespace="shop", MetricName="Orders", Statistic="Sum",
                        Period=60, EvaluationPeriods=1, Threshold=0,
                        ComparisonOperator="GreaterThanThreshold", AlarmActions=[topic])
    cw.set_alarm_state(AlarmName=name, StateValue="ALARM", StateReason="by hand")
    [notification] = received(sqs, url)
    assert json.loads(notification["Message"])["AlarmName"] == name
    subject = notification["Subject"]
    assert subject.startswith('ALARM: "commandes-trop-leves-xxx') and len(subject) == 100
    assert subject.isascii() and subject.isprintable()


def test_an_alarm_whose_topic_does_not_exist_records_the_failed_action(
        lab: Lab, clock: VirtualClock, edge: EdgeServer) -> None:  # noqa: F811
    cw = client_for(edge.url, "cloudwatch")
    missing = f"arn:aws:sns:{lab.arns.region}:{lab.arns.account_id}:nobody-home"
    cw.put_metric_alarm(AlarmName="lonely", Namespace="shop", MetricName="Orders",
                        Statistic="Sum", Period=60, EvaluationPeriods=1, Threshold=0,
                        ComparisonOperator="GreaterThanThreshold", AlarmActions=[missing])
    assert cw.describe_alarms(AlarmNames=["lonely"])["MetricAlarms"][0]["AlarmActions"] == [missing]
    cw.set_alarm_state(AlarmName="lonely", StateValue="ALARM", StateReason="by hand")

    alarm = cw.describe_alarms(AlarmNames=["lonely"])["MetricAlarms"][0]
    assert alarm["StateValue"] == "ALARM"  # the alarm moved; only its action failed
    [item] = cw.describe_alarm_history(AlarmName="lonely",
                                       HistoryItemType="Action")["AlarmHistoryItems"]
    assert item["HistorySummary"] == f"Failed to execute action {missing}"
    data = json.loads(item["HistoryData"])
    assert data["actionState"] == "Failed" and data["notificationResource"] == missing
    assert data["error"] == "Topic does not exist"


# -- Kinesis mappings: FilterCriteria, SNS on failure, IteratorAge ---------------------------


def kinesis_world(edge: EdgeServer, lab: Lab, code: Callable[..., Path],  # noqa: F811
                  recorder: Recorder, **environment: str) -> tuple[Any, Any, str]:
    """The ``reader`` function, a stream ``s`` of one shard: the Lambda and Kinesis
    clients and the stream's ARN."""
    make_function(lab, code, recorder, **environment)
    kinesis = client_for(edge.url, "kinesis")
    kinesis.create_stream(StreamName="s", ShardCount=1)
    arn = kinesis.describe_stream_summary(StreamName="s")["StreamDescriptionSummary"]["StreamARN"]
    return client_for(edge.url), kinesis, arn


def put_all(kinesis: Any, *data: str) -> list[str]:
    """Put records (one partition key, so one shard, in order); their sequence numbers."""
    return [kinesis.put_record(StreamName="s", Data=d.encode(), PartitionKey="k")["SequenceNumber"]
            for d in data]


BIG_ORDERS = json.dumps({"data": {"kind": ["order"], "total": [{"numeric": [">", 100]}]}})


def test_kinesis_filter_criteria_invoke_with_matching_records_and_checkpoint_past_the_rest(
        edge: EdgeServer, lab: Lab, code: Callable[..., Path], recorder: Recorder) -> None:  # noqa: F811
    lambda_, kinesis, arn = kinesis_world(edge, lab, code, recorder)
    big, small, refund, other_big = (json.dumps(d) for d in (
        {"kind": "order", "total": 150}, {"kind": "order", "total": 5}, {"kind": "refund"},
        {"kind": "order", "total": 300}))
    put_all(kinesis, big, small, "plain text, not JSON", refund, other_big)
    mapping = lambda_.create_event_source_mapping(
        FunctionName="reader", EventSourceArn=arn, StartingPosition="TRIM_HORIZON", BatchSize=10,
        FilterCriteria={"Filters": [{"Pattern": BIG_ORDERS}]})
    assert mapping["FilterCriteria"] == {"Filters": [{"Pattern": BIG_ORDERS}]}
    mappings = kinesis_of(lab).mappings
    assert mappings.wait_idle(timeout=120)
    assert [i["data"] for i in recorder.invokes()] == [[big, other_big]]

    [last] = put_all(kinesis, small)  # a batch no record of which matches: no invoke
    assert mappings.wait_idle(timeout=120)
    assert len(recorder.invokes()) == 1
    assert mappings.checkpoints(mapping["UUID"]) == {"shardId-000000000000": last}

    got = lambda_.get_event_source_mapping(UUID=mapping["UUID"])
    assert got["FilterCriteria"] == {"Filters": [{"Pattern": BIG_ORDERS}]}
    updated = lambda_.update_event_source_mapping(UUID=mapping["UUID"], FilterCriteria={})
    assert "FilterCriteria" not in updated
    put_all(kinesis, refund)
    assert recorder.wait_for(lambda: len(recorder.invokes()) == 2)
    assert mappings.wait_idle(timeout=120)
    # from its checkpoint: an update does not read the stream again
    assert [i["data"] for i in recorder.invokes()] == [[big, other_big], [refund]]

    with pytest.raises(ClientError) as caught:
        lambda_.update_event_source_mapping(UUID=mapping["UUID"], FilterCriteria={
            "Filters": [{"Pattern": '{"data": {"kind": "order"}}'}]})
    error = caught.value.response["Error"]
    assert error["Code"] == "InvalidParameterValueException"
    assert error["Message"].startswith("Invalid filter pattern definition.")


def test_an_sns_topic_is_the_on_failure_destination_of_a_kinesis_mapping(
        edge: EdgeServer, lab: Lab, code: Callable[..., Path], recorder: Recorder) -> None:  # noqa: F811
    lambda_, kinesis, arn = kinesis_world(edge, lab, code, recorder, POISON="poison")
    sns, sqs = client_for(edge.url, "sns"), client_for(edge.url, "sqs")
    topic = sns.create_topic(Name="stream-failures")["TopicArn"]
    url, queue_arn = queue(sqs, "inbox")
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    sequence_numbers = put_all(kinesis, "one", "poison", "three")
    lambda_.create_event_source_mapping(
        FunctionName="reader", EventSourceArn=arn, StartingPosition="TRIM_HORIZON", BatchSize=1,
        MaximumRetryAttempts=1, DestinationConfig={"OnFailure": {"Destination": topic}})
    assert kinesis_of(lab).mappings.wait_idle(timeout=120)
    assert recorder.delivered() == ["one", "three"]

    [notification] = received(sqs, url)
    assert notification["TopicArn"] == topic
    record = json.loads(notification["Message"])
    assert record["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 2
    assert record["responseContext"]["functionError"] == "Unhandled"
    info = record["KinesisBatchInfo"]
    assert (info["shardId"], info["batchSize"], info["streamArn"]) == (
        "shardId-000000000000", 1, arn)
    assert info["startSequenceNumber"] == info["endSequenceNumber"] == sequence_numbers[1]

    sns.delete_topic(TopicArn=topic)  # a destination that is gone: the shard still moves on
    put_all(kinesis, "poison", "after")
    assert recorder.wait_for(lambda: "after" in recorder.delivered())
    assert kinesis_of(lab).mappings.wait_idle(timeout=120)
    got = lambda_.list_event_source_mappings(EventSourceArn=arn)["EventSourceMappings"][0]
    assert got["LastProcessingResult"] == "OK"


def test_iterator_age_grows_while_a_poison_record_blocks_its_shard(
        edge: EdgeServer, lab: Lab, clock: VirtualClock, code: Callable[..., Path],  # noqa: F811
        recorder: Recorder) -> None:
    lambda_, kinesis, arn = kinesis_world(edge, lab, code, recorder, POISON="poison")
    cw = client_for(edge.url, "cloudwatch")
    put_all(kinesis, "poison", "behind it")
    lambda_.create_event_source_mapping(FunctionName="reader", EventSourceArn=arn,
                                        StartingPosition="TRIM_HORIZON", BatchSize=1)

    def failed() -> int:
        return sum(i["failed"] for i in recorder.invokes())

    def maxima() -> list[float]:
        points = cw.get_metric_statistics(
            Namespace="AWS/Lambda", MetricName="IteratorAge",
            Dimensions=[{"Name": "FunctionName", "Value": "reader"}],
            StartTime=utc(START - 60), EndTime=utc(clock.now() + 60), Period=60,
            Statistics=["Maximum"])["Datapoints"]
        assert all(p["Unit"] == "Milliseconds" for p in points)
        return [p["Maximum"] for p in sorted(points, key=lambda p: p["Timestamp"])]

    assert recorder.wait_for(lambda: failed() >= 1)
    for _ in range(3):  # each minute of the lab's clock the blocked record is a minute older
        seen = failed()
        clock.advance(MINUTE)
        # two more failures: the second was surely invoked after the clock moved
        assert recorder.wait_for(lambda: failed() >= seen + 2)
    ages = maxima()
    assert len(ages) >= 4 and ages == sorted(ages)
    assert ages[-1] - ages[0] >= 3 * MINUTE * 1000
    assert "behind it" not in recorder.delivered()  # still blocked


# -- X-Ray: SNS passes the publisher's trace on -------------------------------------------------

#: A function that publishes with the X-Ray SDK patched in, as on AWS: its call to SNS is
#: a subsegment, and the trace header it sends names that subsegment as the parent.
PUBLISHER = """
import os, boto3
from aws_xray_sdk.core import patch

patch(["botocore"])
sns = boto3.client("sns")

def handler(event, context):
    sns.publish(TopicArn=event["topic"], Message="order 7")
    return os.environ["_X_AMZN_TRACE_ID"]
"""


def test_sns_continues_the_publishers_trace_to_its_lambda_subscriber(
        lab: Lab, edge: EdgeServer) -> None:  # noqa: F811
    client, sns = client_for(edge.url), client_for(edge.url, "sns")
    create(client, "publisher", PUBLISHER, Timeout=30, TracingConfig={"Mode": "Active"})
    create(client, "subscriber", TRACE_PRINTER, TracingConfig={"Mode": "Active"})
    topic = sns.create_topic(Name="orders")["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="lambda",
                  Endpoint=client.get_function(FunctionName="subscriber")["Configuration"]["FunctionArn"])
    sqs = client_for(edge.url, "sqs")
    url, queue_arn = queue(sqs, "orders")
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    now = lab.clock.now()
    answer = client.invoke(FunctionName="publisher", Payload=json.dumps({"topic": topic}).encode())
    assert "FunctionError" not in answer, answer["Payload"].read()
    root = json.loads(answer["Payload"].read()).split(";")[0].removeprefix("Root=")
    assert lab.wait_for_events(timeout=60)
    assert xray(lab).daemon.wait_for(1, timeout=60)  # the SDK's SNS subsegment
    assert printed_roots(lab, "subscriber") == [root]
    [message] = sqs.receive_message(
        QueueUrl=url, MessageSystemAttributeNames=["AWSTraceHeader"])["Messages"]
    assert message["Attributes"]["AWSTraceHeader"].startswith(f"Root={root};")

    xr = client_for(edge.url, "xray")
    window = {"StartTime": now - 60, "EndTime": now + 60}
    (summary,) = xr.get_trace_summaries(**window)["TraceSummaries"]  # one trace, all of it
    assert summary["Id"] == root
    assert {("SNS", "AWS::SNS"), ("subscriber", "AWS::Lambda")} <= {
        (s["Name"], s["Type"]) for s in summary["ServiceIds"]}
    docs = documents(edge.url, root)
    publisher = by_origin(docs, "publisher", "AWS::Lambda::Function")
    [call] = [s for s in publisher["subsegments"] if s.get("namespace") == "aws"]
    assert by_origin(docs, "subscriber", "AWS::Lambda")["parent_id"] == call["id"]
    edges = graph_edges(xr.get_service_graph(**window)["Services"])
    assert edges[("publisher", "AWS::Lambda::Function")] == {("SNS", "AWS::SNS")}
    assert edges[("SNS", "AWS::SNS")] == {("subscriber", "AWS::Lambda")}
