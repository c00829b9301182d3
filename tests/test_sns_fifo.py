"""SNS FIFO topics, judged by boto3 against the edge: names and attributes, message
groups, deduplication within 5 minutes of the lab's (virtual) clock, sequence numbers,
and which subscriptions a FIFO topic takes."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from lambdalab import Lab, VirtualClock
from lambdalab.server import EdgeServer
from lambdalab_sns import sns_of

from .edge_support import client_for, edge  # noqa: F401  (fixtures)

FIFO = {"FifoTopic": "true"}


@pytest.fixture
def sns(edge: EdgeServer) -> Any:  # noqa: F811
    return client_for(edge.url, "sns")


@pytest.fixture
def sqs(edge: EdgeServer) -> Any:  # noqa: F811
    return client_for(edge.url, "sqs")


def queue(sqs: Any, name: str) -> tuple[str, str]:
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    return url, sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


def drain(sqs: Any, url: str) -> list[dict[str, Any]]:
    """Every notification in the queue, oldest first."""
    out: list[dict[str, Any]] = []
    while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        out += [json.loads(m["Body"]) for m in messages]
        sqs.delete_message_batch(QueueUrl=url, Entries=[
            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)])
    return out


def reason(error: Any) -> str:
    return str(error.value.response["Error"]["Message"])


# -- topics ------------------------------------------------------------------------------


def test_a_fifo_topic_is_made_with_its_name_and_fifo_topic_as_aws_requires(sns: Any) -> None:
    arn = sns.create_topic(Name="orders.fifo", Attributes=FIFO)["TopicArn"]
    assert arn == "arn:aws:sns:us-east-1:000000000000:orders.fifo"
    attributes = sns.get_topic_attributes(TopicArn=arn)["Attributes"]
    assert (attributes["FifoTopic"], attributes["ContentBasedDeduplication"]) == ("true", "false")
    sns.set_topic_attributes(TopicArn=arn, AttributeName="ContentBasedDeduplication", AttributeValue="true")
    assert sns.get_topic_attributes(TopicArn=arn)["Attributes"]["ContentBasedDeduplication"] == "true"
    assert sns.create_topic(Name="orders.fifo", Attributes=FIFO)["TopicArn"] == arn
    with pytest.raises(sns.exceptions.InvalidParameterException) as refused:
        sns.create_topic(Name="orders", Attributes=FIFO)
    assert reason(refused).startswith("Fifo Topic names must end with .fifo")
    with pytest.raises(sns.exceptions.InvalidParameterException) as refused:
        sns.create_topic(Name="orders.fifo")  # a standard topic cannot have the suffix
    assert reason(refused) == "Invalid parameter: Topic Name"
    with pytest.raises(sns.exceptions.InvalidParameterException):
        sns.create_topic(Name="plain", Attributes={"ContentBasedDeduplication": "true"})
    assert "FifoTopic" not in sns.get_topic_attributes(
        TopicArn=sns.create_topic(Name="plain")["TopicArn"])["Attributes"]


def test_a_fifo_topic_takes_only_sqs_subscriptions(sns: Any, sqs: Any, lab: Lab) -> None:
    fifo = sns.create_topic(Name="orders.fifo", Attributes=FIFO)["TopicArn"]
    with pytest.raises(sns.exceptions.InvalidParameterException) as refused:
        sns.subscribe(TopicArn=fifo, Protocol="lambda", Endpoint=lab.arns.function("audit"))
    assert reason(refused) == "Invalid parameter: Invalid protocol type: lambda"
    _, standard_queue = queue(sqs, "audit")
    assert sns.subscribe(TopicArn=fifo, Protocol="sqs", Endpoint=standard_queue)["SubscriptionArn"]
    standard = sns.create_topic(Name="plain")["TopicArn"]
    with pytest.raises(sns.exceptions.InvalidParameterException) as refused:
        sns.subscribe(TopicArn=standard, Protocol="sqs", Endpoint=standard_queue + ".fifo")
    assert reason(refused).endswith("FIFO SQS Queues can not be subscribed to standard SNS topics")


# -- publishing --------------------------------------------------------------------------


def test_publishing_needs_a_group_and_a_deduplication_id_or_content_based_deduplication(sns: Any) -> None:
    arn = sns.create_topic(Name="orders.fifo", Attributes=FIFO)["TopicArn"]
    with pytest.raises(sns.exceptions.InvalidParameterException) as refused:
        sns.publish(TopicArn=arn, Message="m", MessageDeduplicationId="d")
    assert reason(refused) == "Invalid parameter: The MessageGroupId parameter is required for FIFO topics"
    with pytest.raises(sns.exceptions.InvalidParameterException) as refused:
        sns.publish(TopicArn=arn, Message="m", MessageGroupId="g")
    assert reason(refused) == ("Invalid parameter: The topic should either have ContentBasedDeduplication "
                               "enabled or MessageDeduplicationId provided explicitly")
    with pytest.raises(sns.exceptions.InvalidParameterException):
        sns.publish(TopicArn=arn, Message="m", MessageGroupId="has space", MessageDeduplicationId="d")
    standard = sns.create_topic(Name="plain")["TopicArn"]
    with pytest.raises(sns.exceptions.InvalidParameterException) as refused:
        sns.publish(TopicArn=standard, Message="m", MessageDeduplicationId="d")
    assert "MessageDeduplicationId parameter that is not valid for this topic type" in reason(refused)
    answer = sns.publish(TopicArn=standard, Message="m", MessageGroupId="g")  # fair queues: taken
    assert "SequenceNumber" not in answer


def test_a_duplicate_within_five_minutes_is_accepted_but_not_delivered_again(
        sns: Any, sqs: Any, clock: VirtualClock) -> None:
    url, arn = queue(sqs, "orders")
    topic = sns.create_topic(Name="orders.fifo", Attributes=FIFO)["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
    first = sns.publish(TopicArn=topic, Message="order 7", MessageGroupId="c1", MessageDeduplicationId="o7")
    clock.advance(299)
    again = sns.publish(TopicArn=topic, Message="order 7", MessageGroupId="c1", MessageDeduplicationId="o7")
    assert (again["MessageId"], again["SequenceNumber"]) == (first["MessageId"], first["SequenceNumber"])
    clock.advance(2)  # past the deduplication interval: a new message
    later = sns.publish(TopicArn=topic, Message="order 7", MessageGroupId="c1", MessageDeduplicationId="o7")
    assert later["MessageId"] != first["MessageId"]
    assert int(later["SequenceNumber"]) > int(first["SequenceNumber"])
    notifications = drain(sqs, url)
    assert [n["MessageId"] for n in notifications] == [first["MessageId"], later["MessageId"]]
    assert [n["SequenceNumber"] for n in notifications] == [first["SequenceNumber"], later["SequenceNumber"]]


def test_content_based_deduplication_hashes_the_body(sns: Any, sqs: Any) -> None:
    url, arn = queue(sqs, "orders")
    topic = sns.create_topic(Name="orders.fifo", Attributes={
        **FIFO, "ContentBasedDeduplication": "true"})["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn, Attributes={"RawMessageDelivery": "true"})
    ids = [sns.publish(TopicArn=topic, Message=body, MessageGroupId="g")["MessageId"]
           for body in ("a", "b", "a")]
    assert ids[0] == ids[2] != ids[1]
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert sorted(m["Body"] for m in got) == ["a", "b"]


def test_messages_reach_the_queue_in_sequence_order_per_group(sns: Any, sqs: Any) -> None:
    url, arn = queue(sqs, "orders")
    topic = sns.create_topic(Name="orders.fifo", Attributes={
        **FIFO, "ContentBasedDeduplication": "true"})["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
    sent = []
    for i in range(12):
        answer = sns.publish(TopicArn=topic, Message=f"step {i}", MessageGroupId=f"g{i % 3}")
        sent.append(answer["SequenceNumber"])
    assert sent == sorted(sent) and len(set(sent)) == 12 and all(len(s) == 20 for s in sent)
    notifications = drain(sqs, url)
    for group in range(3):
        steps = [n["Message"] for n in notifications if int(n["Message"].split()[1]) % 3 == group]
        assert steps == [f"step {i}" for i in range(group, 12, 3)]


def test_publish_batch_to_a_fifo_topic_answers_sequence_numbers(sns: Any, sqs: Any) -> None:
    url, arn = queue(sqs, "orders")
    topic = sns.create_topic(Name="orders.fifo", Attributes=FIFO)["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
    with pytest.raises(sns.exceptions.InvalidParameterException):  # one entry without a group
        sns.publish_batch(TopicArn=topic, PublishBatchRequestEntries=[
            {"Id": "a", "Message": "a", "MessageGroupId": "g", "MessageDeduplicationId": "a"},
            {"Id": "b", "Message": "b", "MessageDeduplicationId": "b"}])
    assert drain(sqs, url) == []  # nothing of a refused batch was published
    answer = sns.publish_batch(TopicArn=topic, PublishBatchRequestEntries=[
        {"Id": "a", "Message": "a", "MessageGroupId": "g", "MessageDeduplicationId": "a"},
        {"Id": "b", "Message": "b", "MessageGroupId": "g", "MessageDeduplicationId": "b"},
        {"Id": "c", "Message": "a again", "MessageGroupId": "g", "MessageDeduplicationId": "a"}])
    successful = {e["Id"]: e for e in answer["Successful"]}
    assert answer["Failed"] == []
    assert int(successful["a"]["SequenceNumber"]) < int(successful["b"]["SequenceNumber"])
    assert successful["c"]["MessageId"] == successful["a"]["MessageId"]
    assert [n["Message"] for n in drain(sqs, url)] == ["a", "b"]


def test_the_deduplication_ledger_survives_a_restart(tmp_path: Path, clock: VirtualClock) -> None:
    data = tmp_path / "data"
    with Lab(data_dir=data, clock=clock) as lab:
        topic = sns_of(lab).topics.create_topic("orders.fifo", FIFO)
        first = sns_of(lab).publisher.publish_message(topic.arn, "m", message_group_id="g",
                                                      message_deduplication_id="d")
    clock.advance(60)
    with Lab(data_dir=data, clock=clock) as lab:
        again = sns_of(lab).publisher.publish_message(topic.arn, "m", message_group_id="g",
                                                      message_deduplication_id="d")
        assert again == first
        after = sns_of(lab).publisher.publish_message(topic.arn, "n", message_group_id="g",
                                                      message_deduplication_id="e")
        assert int(after.sequence_number or 0) == int(first.sequence_number or 0) + 1


def test_the_lambdalab_sns_commands_make_and_publish_to_a_fifo_topic(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from lambdalab.cli.app import main

    def run(*args: str) -> Any:
        return CliRunner().invoke(main, ["--data-dir", str(tmp_path / "cli-data"), *args], catch_exceptions=False)

    assert "orders.fifo" in run("sns", "create-topic", "orders.fifo", "--fifo", "--content-dedup").output
    published = run("sns", "publish", "orders.fifo", "hello", "--group-id", "g").output
    assert re.search(r"\(sequence number \d{20}\)", published), published
    refused = run("sns", "publish", "orders.fifo", "hello")
    assert refused.exit_code == 2 and "MessageGroupId parameter is required" in refused.output
