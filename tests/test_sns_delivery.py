"""SNS's delivery retries and dead-letter queues, judged by boto3 against the edge: a
server-side failure is retried on the lab's (virtual) clock as SNS's delivery policy for
AWS-managed endpoints says, a client-side one goes to the subscription's RedrivePolicy
queue at once, and what a lab was still delivering survives its close."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from lambdalab import Lab, VirtualClock, limits
from lambdalab.server import EdgeServer
from lambdalab_sns import sns_of
from lambdalab_sns import quotas
from lambdalab_sns.delivery import next_retry_offset
from lambdalab_sqs import sqs_of
from lambdalab_sqs.models import queue_arn

from .edge_support import client_for, killed_server

RECORDER = """
import json

def handler(event, context):
    print("EVENT " + json.dumps(event))
"""
DAY = 86_400.0
#: A function stays ``Pending`` this long in the labs below: an endpoint that cannot take
#: a message now, SNS's server-side error.
PENDING_S = 5.0


def lab_at(data: Path, clock: VirtualClock, **options: Any) -> Lab:
    return Lab(data_dir=data, clock=clock, state_transition=PENDING_S, **options)


@pytest.fixture
def edge(tmp_path: Path, clock: VirtualClock) -> Iterator[EdgeServer]:
    with lab_at(tmp_path / "data", clock) as lab, EdgeServer(lab, port=0) as server:
        yield server


@pytest.fixture
def sns(edge: EdgeServer) -> Any:
    return client_for(edge.url, "sns")


@pytest.fixture
def sqs(edge: EdgeServer) -> Any:
    return client_for(edge.url, "sqs")


def queue(sqs: Any, name: str) -> tuple[str, str]:
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    return url, sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


def received(sqs: Any, url: str) -> list[dict[str, Any]]:
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"])
    return got.get("Messages", [])


def dead_letter_attributes(message: dict[str, Any]) -> dict[str, str]:
    return {k: v["StringValue"] for k, v in message["MessageAttributes"].items()}


def messages_seen(lab: Lab, name: str = "recorder") -> list[str]:
    return [json.loads(e.message.split("EVENT ", 1)[1])["Records"][0]["Sns"]["Message"]
            for e in lab.get_logs(name) if "EVENT " in e.message]


def redrive(arn: str) -> dict[str, str]:
    return {"RedrivePolicy": json.dumps({"deadLetterTargetArn": arn})}


# -- the delivery policy ---------------------------------------------------------------


def test_the_retry_schedule_is_the_one_aws_documents_for_lambda_and_sqs() -> None:
    """3 immediate retries (made inline), 2 one second apart, 10 with exponential backoff
    from 1 to 20 seconds, then 100,000 twenty seconds apart: about 23 days."""
    offsets, elapsed = [], 0.0
    while (offset := next_retry_offset(elapsed)) is not None:
        offsets.append(offset)
        elapsed = offset
    assert len(offsets) == quotas.PRE_BACKOFF_RETRIES + quotas.BACKOFF_RETRIES + quotas.POST_BACKOFF_RETRIES
    gaps = [b - a for a, b in zip([0.0, *offsets], offsets)]
    assert gaps[:2] == [1.0, 1.0]
    backoff = gaps[2:12]
    assert backoff[0] == pytest.approx(1.0) and backoff[-1] == pytest.approx(20.0)
    assert backoff == sorted(backoff)
    assert all(gap == pytest.approx(20.0) for gap in gaps[12:])
    assert 23 * DAY < offsets[-1] < 24 * DAY
    assert next_retry_offset(1.0) == 2.0  # the retry due at 1 s schedules the next, not itself
    assert next_retry_offset(offsets[-1]) is None


def test_a_function_still_pending_is_retried_on_the_labs_clock_until_it_takes_the_message(
        sns: Any, edge: EdgeServer, clock: VirtualClock, code: Callable[..., Path]) -> None:
    lab = edge.lab
    topic = sns.create_topic(Name="orders")["TopicArn"]
    lab.create_function("recorder", code(app=RECORDER), handler="app.handler")  # Pending for 5 s
    sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=lab.arns.function("recorder"))
    sns.publish(TopicArn=topic, Message="order 7")
    deliveries = sns_of(lab).publisher.deliveries
    assert deliveries.pending() == 1  # the first try and the 3 immediate retries failed
    clock.advance(2)  # the two pre-backoff retries: still Pending
    assert deliveries.pending() == 1
    clock.advance(PENDING_S)  # the backoff retries reach it once it is Active
    assert deliveries.pending() == 0
    assert lab.wait_for_events(timeout=60)
    assert messages_seen(lab) == ["order 7"]


def test_a_deleted_function_is_not_retried_its_message_goes_to_the_dead_letter_queue(
        sns: Any, sqs: Any, edge: EdgeServer) -> None:
    lab = edge.lab
    dlq_url, dlq = queue(sqs, "undelivered")
    topic = sns.create_topic(Name="orders")["TopicArn"]
    sub = sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=lab.arns.function("gone"),
                        Attributes=redrive(dlq))["SubscriptionArn"]
    message_id = sns.publish(TopicArn=topic, Message="order 7", Subject="new order")["MessageId"]
    assert sns_of(lab).publisher.deliveries.pending() == 0  # a client-side error: no retry
    [message] = received(sqs, dlq_url)
    notification = json.loads(message["Body"])  # the notification as SQS would receive it
    assert (notification["Type"], notification["MessageId"], notification["TopicArn"],
            notification["Message"], notification["Subject"]) == (
        "Notification", message_id, topic, "order 7", "new order")
    assert notification["UnsubscribeURL"].endswith(f"SubscriptionArn={sub}")
    attributes = dead_letter_attributes(message)
    assert set(attributes) == {"RequestID", "ErrorCode", "ErrorMessage"}
    assert attributes["ErrorCode"] == "ResourceNotFoundException"
    assert "gone" in attributes["ErrorMessage"] and attributes["RequestID"]


def test_a_deleted_queue_sends_the_raw_message_to_the_dead_letter_queue(sns: Any, sqs: Any) -> None:
    dlq_url, dlq = queue(sqs, "undelivered")
    url, arn = queue(sqs, "orders")
    topic = sns.create_topic(Name="orders")["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn,
                  Attributes={"RawMessageDelivery": "true", **redrive(dlq)})
    sqs.delete_queue(QueueUrl=url)
    sns.publish(TopicArn=topic, Message="order 7")
    [message] = received(sqs, dlq_url)
    assert message["Body"] == "order 7"
    assert dead_letter_attributes(message)["ErrorCode"] == "QueueDoesNotExist"


def test_without_a_redrive_policy_an_undeliverable_message_is_discarded(sns: Any, sqs: Any, edge: EdgeServer) -> None:
    dlq_url, _ = queue(sqs, "undelivered")
    topic = sns.create_topic(Name="orders")["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=edge.lab.arns.function("gone"))
    sns.publish(TopicArn=topic, Message="order 7")
    assert sns_of(edge.lab).publisher.deliveries.pending() == 0
    assert received(sqs, dlq_url) == []


def test_unsubscribing_stops_the_retries(sns: Any, edge: EdgeServer, clock: VirtualClock,
                                         code: Callable[..., Path]) -> None:
    lab = edge.lab
    topic = sns.create_topic(Name="orders")["TopicArn"]
    lab.create_function("recorder", code(app=RECORDER), handler="app.handler")
    sub = sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=lab.arns.function("recorder"))
    sns.publish(TopicArn=topic, Message="order 7")
    sns.unsubscribe(SubscriptionArn=sub["SubscriptionArn"])
    clock.advance(PENDING_S + 60)
    assert sns_of(lab).publisher.deliveries.pending() == 0
    assert lab.wait_for_events(timeout=60)
    assert messages_seen(lab) == []


# -- durability and exhaustion -----------------------------------------------------------


def test_a_delivery_left_by_a_closed_lab_is_sent_by_the_next(
        tmp_path: Path, clock: VirtualClock, code: Callable[..., Path]) -> None:
    data = tmp_path / "data"
    with lab_at(data, clock) as lab:
        topics = sns_of(lab).topics
        topic = topics.create_topic("orders")
        lab.create_function("recorder", code(app=RECORDER), handler="app.handler")
        topics.subscribe(topic.arn, "lambda", lab.arns.function("recorder"))
        sns_of(lab).publisher.publish(topic.arn, "order 7")
        assert sns_of(lab).publisher.deliveries.pending() == 1
    clock.advance(PENDING_S)  # no lab runs meanwhile: no timer fires
    with lab_at(data, clock) as lab:
        assert sns_of(lab).publisher.deliveries.pending() == 0  # sent when the lab opened
        assert lab.wait_for_events(timeout=60)
        assert messages_seen(lab) == ["order 7"]


def test_deliveries_waiting_for_a_retry_survive_sigkill(tmp_path: Path, code: Callable[..., Path]) -> None:
    """Publish answers once each delivery is done or stored: after a SIGKILL of the
    server, the next lab sends every acknowledged message."""
    data = tmp_path / "data"
    now = time.time()
    with Lab(data_dir=data, clock=VirtualClock(start=now), state_transition=3600) as lab:
        topics = sns_of(lab).topics
        topic = topics.create_topic("orders")
        lab.create_function("recorder", code(app=RECORDER), handler="app.handler")  # Pending an hour
        topics.subscribe(topic.arn, "lambda", lab.arns.function("recorder"))
    with killed_server(data) as url:  # SIGKILL right after the last answer
        sns = client_for(url, "sns")
        acknowledged = [sns.publish(TopicArn=topic.arn, Message=f"order {n}")["MessageId"] for n in range(10)]
    with Lab(data_dir=data, clock=VirtualClock(start=now + 3601)) as lab:  # resumed as it opens
        assert lab.wait_for_events(timeout=60)
        got = [json.loads(e.message.split("EVENT ", 1)[1])["Records"][0]["Sns"]["MessageId"]
               for e in lab.get_logs("recorder") if "EVENT " in e.message]
    assert set(acknowledged) <= set(got)


def test_once_the_delivery_policy_is_exhausted_the_message_is_dead_lettered(
        tmp_path: Path, clock: VirtualClock, code: Callable[..., Path]) -> None:
    """A function that stays Pending for longer than SNS's 23 days of retries. The lab is
    closed over most of those days (100,000 timers would fire otherwise): the reopened
    lab's attempt is its last, as the schedule is counted from the first attempt."""
    data = tmp_path / "data"
    with Lab(data_dir=data, clock=clock, state_transition=30 * DAY) as lab:
        sqs_of(lab).queues.create_queue("undelivered")
        dlq = queue_arn(lab, "undelivered")
        topics = sns_of(lab).topics
        topic = topics.create_topic("orders")
        lab.create_function("recorder", code(app=RECORDER), handler="app.handler")
        topics.subscribe(topic.arn, "lambda", lab.arns.function("recorder"), redrive(dlq))
        sns_of(lab).publisher.publish(topic.arn, "order 7")
        clock.advance(60)  # the pre-backoff and backoff retries fail too
        assert sns_of(lab).publisher.deliveries.pending() == 1
    clock.advance(24 * DAY)  # past the last of the 100,000 post-backoff retries
    with Lab(data_dir=data, clock=clock, state_transition=30 * DAY) as lab, \
            EdgeServer(lab, port=0) as edge:
        assert sns_of(lab).publisher.deliveries.pending() == 0
        sqs_client = client_for(edge.url, "sqs")
        url = sqs_client.get_queue_url(QueueName="undelivered")["QueueUrl"]
        [message] = received(sqs_client, url)
        assert json.loads(message["Body"])["Message"] == "order 7"
        assert dead_letter_attributes(message)["ErrorCode"] == "ResourceConflictException"


# -- permissions -------------------------------------------------------------------------


def test_a_function_whose_policy_refuses_sns_dead_letters_at_once_under_enforced_iam(
        tmp_path: Path, clock: VirtualClock, code: Callable[..., Path]) -> None:
    with Lab(data_dir=tmp_path / "data", clock=clock, enforce_iam=True) as lab, \
            EdgeServer(lab, port=0) as edge:
        root = limits.ROOT_ACCESS_KEY_ID
        sns, sqs = client_for(edge.url, "sns", key=root), client_for(edge.url, "sqs", key=root)
        dlq_url, dlq = queue(sqs, "undelivered")
        lab.create_function("recorder", code(app=RECORDER), handler="app.handler")
        topic = sns.create_topic(Name="orders")["TopicArn"]
        sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=lab.arns.function("recorder"),
                      Attributes=redrive(dlq))
        sns.publish(TopicArn=topic, Message="order 7")  # no AddPermission for sns.amazonaws.com
        assert sns_of(lab).publisher.deliveries.pending() == 0
        assert received(sqs, dlq_url) == []  # nor may SNS send to the queue: the message is lost
        sqs.set_queue_attributes(QueueUrl=dlq_url, Attributes={"Policy": sns_may_send_to(dlq, topic)})
        sns.publish(TopicArn=topic, Message="order 8")
        [message] = received(sqs, dlq_url)
        assert json.loads(message["Body"])["Message"] == "order 8"
        assert dead_letter_attributes(message)["ErrorCode"] == "AccessDeniedException"


def sns_may_send_to(queue_arn: str, topic_arn: str) -> str:
    """The queue policy AWS's SNS-to-SQS page gives."""
    return json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": "sns.amazonaws.com"}, "Action": "sqs:SendMessage",
        "Resource": queue_arn, "Condition": {"ArnEquals": {"aws:SourceArn": topic_arn}}}]})


# -- checking the policies ----------------------------------------------------------------


@pytest.mark.parametrize("attribute, value, reason", [
    ("RedrivePolicy", "not json", "RedrivePolicy: failed to parse JSON."),
    ("RedrivePolicy", "[1]", "RedrivePolicy: failed to parse JSON."),
    ("RedrivePolicy", '{"deadLetterTargetArn": "queue"}', "RedrivePolicy: deadLetterTargetArn is an invalid arn"),
    ("RedrivePolicy", "{}", "RedrivePolicy: deadLetterTargetArn is an invalid arn"),
    ("DeliveryPolicy", "{", "DeliveryPolicy: failed to parse JSON."),
])
def test_bad_redrive_and_delivery_policies_are_refused_as_sns_refuses_them(
        sns: Any, sqs: Any, attribute: str, value: str, reason: str) -> None:
    _, arn = queue(sqs, "orders")
    topic = sns.create_topic(Name="orders")["TopicArn"]
    with pytest.raises(sns.exceptions.InvalidParameterException) as refused:
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn, Attributes={attribute: value})
    assert refused.value.response["Error"]["Message"] == f"Invalid parameter: Attributes Reason: {reason}"
    sub = sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)["SubscriptionArn"]
    with pytest.raises(sns.exceptions.InvalidParameterException) as refused:
        sns.set_subscription_attributes(SubscriptionArn=sub, AttributeName=attribute, AttributeValue=value)
    assert refused.value.response["Error"]["Message"] == f"Invalid parameter: {reason}"
    assert attribute not in sns.get_subscription_attributes(SubscriptionArn=sub)["Attributes"]
