"""The services wired to each other: CloudWatch alarms publishing to SNS, FilterCriteria
and SNS on-failure destinations on Kinesis mappings, SNS continuing an X-Ray trace, and
the IteratorAge metric of a blocked shard.

The judges are boto3 against ``lambdalab serve``'s edge; time moves only on the lab's
virtual clock.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

import pytest

from lambdalab import Lab, VirtualClock
from lambdalab.server import EdgeServer

from .edge_support import client_for, edge  # noqa: F401  (fixture)

START = 1_700_000_100  # a five-minute boundary of the virtual clock
MINUTE = 60
RECORDER = """
import json

def handler(event, context):
    print("EVENT " + json.dumps(event))
"""


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock(start=START)


def events(lab: Lab, name: str = "recorder") -> list[dict[str, Any]]:
    assert lab.wait_for_events(timeout=120)
    return [json.loads(e.message.split("EVENT ", 1)[1]) for e in lab.get_logs(name)
            if "EVENT " in e.message]


def queue(sqs: Any, name: str) -> tuple[str, str]:
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn


def received(sqs: Any, url: str) -> list[dict[str, Any]]:
    """The messages waiting in a queue (taken from it)."""
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    for m in got:
        sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    return [json.loads(m["Body"]) for m in got]


def utc(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, timezone.utc)


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
