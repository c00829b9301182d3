"""SQS FIFO queues, judged by boto3 on the edge and the Lab API on a VirtualClock:
names and attributes, group and deduplication ids, the 5-minute deduplication window,
sequence numbers, per-group ordering, durability, redrive, and Lambda's event source
mappings on FIFO queues
(https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/FIFO-queues.html,
https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

import botocore.exceptions
import pytest

from lambdalab import Lab, VirtualClock
from lambdalab.server import EdgeServer
from lambdalab_sqs import Queues, sqs_of
from lambdalab_sqs.exceptions import InvalidParameterValue, MissingParameter

from .edge_support import client_for, edge, killed_server  # noqa: F401  (fixtures)


@pytest.fixture
def sqs(edge: EdgeServer) -> Any:
    return client_for(edge.url, "sqs")


def queues_of(lab: Lab) -> Queues:
    return sqs_of(lab).queues


def fifo(q: Queues, name: str = "jobs.fifo", **attributes: str) -> str:
    q.create_queue(name, {"FifoQueue": "true", **attributes})
    return name


def error_code(call: Callable[..., Any], **kwargs: Any) -> tuple[str, str]:
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        call(**kwargs)
    error = caught.value.response["Error"]
    return error["Code"], error["Message"]


# -- queues -------------------------------------------------------------------------------


def test_a_fifo_queue_needs_both_its_suffix_and_fifo_queue_true(sqs: Any) -> None:
    code, message = error_code(sqs.create_queue, QueueName="jobs.fifo")
    assert code == "InvalidParameterValue" and "FifoQueue=true" in message
    code, message = error_code(sqs.create_queue, QueueName="jobs",
                               Attributes={"FifoQueue": "true"})
    assert code == "InvalidParameterValue" and "must end with .fifo suffix" in message
    code, _ = error_code(sqs.create_queue, QueueName="plain",
                         Attributes={"ContentBasedDeduplication": "true"})
    assert code == "InvalidAttributeName"
    url = sqs.create_queue(QueueName="jobs.fifo", Attributes={
        "FifoQueue": "true", "ContentBasedDeduplication": "true",
        "DeduplicationScope": "messageGroup", "FifoThroughputLimit": "perMessageGroupId",
    })["QueueUrl"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert {k: attributes[k] for k in ("FifoQueue", "ContentBasedDeduplication",
                                       "DeduplicationScope", "FifoThroughputLimit")} == {
        "FifoQueue": "true", "ContentBasedDeduplication": "true",
        "DeduplicationScope": "messageGroup", "FifoThroughputLimit": "perMessageGroupId"}
    code, _ = error_code(sqs.set_queue_attributes, QueueUrl=url,
                         Attributes={"DeduplicationScope": "everywhere"})
    assert code == "InvalidAttributeValue"
    code, _ = error_code(sqs.set_queue_attributes, QueueUrl=url, Attributes={"FifoQueue": "false"})
    assert code == "InvalidAttributeValue"


def test_sending_to_a_fifo_queue_needs_a_group_and_a_deduplication_id(sqs: Any) -> None:
    url = sqs.create_queue(QueueName="jobs.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    code, message = error_code(sqs.send_message, QueueUrl=url, MessageBody="a",
                               MessageDeduplicationId="d")
    assert (code, message) == ("MissingParameter",
                               "The request must contain the parameter MessageGroupId.")
    code, message = error_code(sqs.send_message, QueueUrl=url, MessageBody="a",
                               MessageGroupId="g")
    assert code == "InvalidParameterValue" and "ContentBasedDeduplication" in message
    code, message = error_code(sqs.send_message, QueueUrl=url, MessageBody="a",
                               MessageGroupId="g", MessageDeduplicationId="d", DelaySeconds=5)
    assert code == "InvalidParameterValue" and "DelaySeconds" in message
    code, _ = error_code(sqs.send_message, QueueUrl=url, MessageBody="a",
                         MessageGroupId="g" * 129, MessageDeduplicationId="d")
    assert code == "InvalidParameterValue"
    plain = sqs.create_queue(QueueName="plain")["QueueUrl"]
    code, message = error_code(sqs.send_message, QueueUrl=plain, MessageBody="a",
                               MessageDeduplicationId="d")
    assert code == "InvalidParameterValue" and "MessageDeduplicationId" in message
    batch = sqs.send_message_batch(QueueUrl=url, Entries=[
        {"Id": "ok", "MessageBody": "a", "MessageGroupId": "g", "MessageDeduplicationId": "1"},
        {"Id": "nogroup", "MessageBody": "b", "MessageDeduplicationId": "2"}])
    assert [e["Id"] for e in batch["Successful"]] == ["ok"]
    assert [(e["Id"], e["Code"]) for e in batch["Failed"]] == [("nogroup", "MissingParameter")]


def test_sequence_numbers_grow_and_received_messages_carry_the_fifo_attributes(sqs: Any) -> None:
    url = sqs.create_queue(QueueName="jobs.fifo", Attributes={
        "FifoQueue": "true", "ContentBasedDeduplication": "true"})["QueueUrl"]
    first = sqs.send_message(QueueUrl=url, MessageBody="one", MessageGroupId="g")
    batch = sqs.send_message_batch(QueueUrl=url, Entries=[
        {"Id": "a", "MessageBody": "two", "MessageGroupId": "g"},
        {"Id": "b", "MessageBody": "three", "MessageGroupId": "g"}])["Successful"]
    numbers = [first["SequenceNumber"]] + [e["SequenceNumber"] for e in batch]
    assert all(len(n) == 20 and n.isdigit() for n in numbers)
    assert [int(n) for n in numbers] == sorted(int(n) for n in numbers)
    assert len(set(numbers)) == 3
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                              MessageSystemAttributeNames=["All"])["Messages"]
    assert [m["Body"] for m in got] == ["one", "two", "three"]
    assert [m["Attributes"]["SequenceNumber"] for m in got] == numbers
    assert {m["Attributes"]["MessageGroupId"] for m in got} == {"g"}
    import hashlib

    assert got[0]["Attributes"]["MessageDeduplicationId"] == hashlib.sha256(b"one").hexdigest()
    only = sqs.receive_message(QueueUrl=url, MessageSystemAttributeNames=["MessageGroupId"])
    assert "Messages" not in only  # the group is in flight


def test_a_duplicate_in_five_minutes_is_accepted_and_not_enqueued(
    lab: Lab, clock: VirtualClock
) -> None:
    q = queues_of(lab)
    fifo(q)
    first = q.send_message("jobs.fifo", "pay 10", group_id="alice", dedup_id="order-1")
    again = q.send_message("jobs.fifo", "pay 10", group_id="alice", dedup_id="order-1")
    assert (again.message_id, again.sequence_number) == (first.message_id, first.sequence_number)
    clock.advance(299)
    assert q.send_message("jobs.fifo", "x", group_id="bob", dedup_id="order-1").message_id == \
        first.message_id  # the scope is the queue: another group's id is a duplicate too
    clock.advance(1)
    later = q.send_message("jobs.fifo", "pay 10", group_id="alice", dedup_id="order-1")
    assert later.message_id != first.message_id
    assert int(later.sequence_number or 0) > int(first.sequence_number or 0)
    bodies = [m.body for m in q.receive_message("jobs.fifo", max_number_of_messages=10)]
    assert bodies == ["pay 10", "pay 10"]


def test_deduplication_scope_message_group_keeps_ids_apart_per_group(lab: Lab) -> None:
    q = queues_of(lab)
    fifo(q, DeduplicationScope="messageGroup")
    a = q.send_message("jobs.fifo", "x", group_id="a", dedup_id="1")
    b = q.send_message("jobs.fifo", "x", group_id="b", dedup_id="1")
    assert a.message_id != b.message_id
    assert q.send_message("jobs.fifo", "x", group_id="b", dedup_id="1").message_id == b.message_id


def test_a_group_with_a_message_in_flight_gives_nothing_more_until_it_is_done(
    lab: Lab, clock: VirtualClock
) -> None:
    q = queues_of(lab)
    fifo(q, ContentBasedDeduplication="true")
    for group, body in [("g1", "a1"), ("g2", "b1"), ("g1", "a2"), ("g2", "b2"), ("g3", "c1")]:
        q.send_message("jobs.fifo", body, group_id=group)
    [a1] = q.receive_message("jobs.fifo")
    assert a1.body == "a1"
    got = q.receive_message("jobs.fifo", max_number_of_messages=3)
    assert [m.body for m in got] == ["b1", "b2", "c1"]  # as many of one group as it can
    assert q.receive_message("jobs.fifo", max_number_of_messages=10) == []
    q.delete_message("jobs.fifo", a1.receipt_handle)
    [a2] = q.receive_message("jobs.fifo", max_number_of_messages=10)
    assert a2.body == "a2"
    clock.advance(30)  # a2 and g2's and g3's messages come back, each group in its order
    again = q.receive_message("jobs.fifo", max_number_of_messages=10)
    assert [m.body for m in again] == ["b1", "b2", "a2", "c1"]  # oldest group first
    assert [m.receive_count for m in again] == [2, 2, 2, 2]


def test_ledger_and_sequence_numbers_survive_a_restart(tmp_path: Path) -> None:
    data = tmp_path / "data"
    clock = VirtualClock(start=1_000)
    with Lab(data_dir=data, clock=clock) as lab:
        q = queues_of(lab)
        fifo(q)
        first = q.send_message("jobs.fifo", "a", group_id="g", dedup_id="1")
        [held] = q.receive_message("jobs.fifo")
    with Lab(data_dir=data, clock=clock) as lab:
        q = queues_of(lab)
        assert q.send_message("jobs.fifo", "a", group_id="g", dedup_id="1").message_id == \
            first.message_id
        second = q.send_message("jobs.fifo", "b", group_id="g", dedup_id="2")
        assert int(second.sequence_number or 0) > int(first.sequence_number or 0)
        assert q.receive_message("jobs.fifo") == []  # "a" is still in flight
        clock.advance(30)
        assert [m.body for m in q.receive_message("jobs.fifo", max_number_of_messages=10)] \
            == ["a", "b"]
        assert held.message_id == first.message_id


def test_an_acknowledged_send_and_its_ledger_survive_a_sigkill(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with killed_server(data) as url:
        sqs = client_for(url, "sqs")
        queue = sqs.create_queue(QueueName="jobs.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
        sent = sqs.send_message(QueueUrl=queue, MessageBody="pay", MessageGroupId="g",
                                MessageDeduplicationId="order-1")
    with Lab(data_dir=data) as lab:  # the real clock: well inside the 5 minutes
        q = queues_of(lab)
        again = q.send_message("jobs.fifo", "pay", group_id="g", dedup_id="order-1")
        assert (again.message_id, again.sequence_number) == (sent["MessageId"],
                                                             sent["SequenceNumber"])
        [message] = q.receive_message("jobs.fifo", max_number_of_messages=10)
        assert message.message_id == sent["MessageId"]


def test_a_fifo_queues_dead_letter_queue_is_fifo(lab: Lab, clock: VirtualClock) -> None:
    q = queues_of(lab)
    q.create_queue("plain-dlq")
    fifo(q, "dlq.fifo")
    policy = {"deadLetterTargetArn": q.arn("plain-dlq"), "maxReceiveCount": 1}
    with pytest.raises(InvalidParameterValue, match="same type of queue"):
        fifo(q, "jobs.fifo", RedrivePolicy=json.dumps(policy))
    with pytest.raises(InvalidParameterValue, match="same type of queue"):
        q.create_queue("plain", {"RedrivePolicy": json.dumps(
            {**policy, "deadLetterTargetArn": q.arn("dlq.fifo")})})
    fifo(q, "jobs.fifo", RedrivePolicy=json.dumps({**policy, "deadLetterTargetArn":
                                                    q.arn("dlq.fifo")}))
    q.send_message("jobs.fifo", "poison", group_id="g", dedup_id="1")
    q.send_message("jobs.fifo", "next", group_id="g", dedup_id="2")
    assert [m.body for m in q.receive_message("jobs.fifo")] == ["poison"]
    clock.advance(30)
    assert [m.body for m in q.receive_message("jobs.fifo")] == ["next"]
    [dead] = q.receive_message("dlq.fifo")
    assert dead.body == "poison" and dead.system_attributes()["MessageGroupId"] == "g"


def test_the_lab_api_refuses_what_aws_refuses(lab: Lab) -> None:
    q = queues_of(lab)
    fifo(q)
    with pytest.raises(MissingParameter):
        q.send_message("jobs.fifo", "a", dedup_id="1")
    with pytest.raises(InvalidParameterValue, match="1 to 128"):
        q.send_message("jobs.fifo", "a", group_id="ü", dedup_id="1")


# -- event source mappings ---------------------------------------------------------------

RECORDER = """
import json

def handler(event, context):
    records = event["Records"]
    print("BATCH " + json.dumps([[r["attributes"]["MessageGroupId"], r["body"]] for r in records]))
    # As AWS asks of a FIFO function: stop at the first failure, report it and the rest.
    for i, r in enumerate(records):
        if r["body"].startswith("bad") and r["attributes"]["ApproximateReceiveCount"] == "1":
            return {"batchItemFailures": [{"itemIdentifier": x["messageId"]} for x in records[i:]]}
    return {"batchItemFailures": []}
"""

ECHO = """
def handler(event, context):
    print("EVENT " + __import__("json").dumps(event))
"""


def batches(lab: Lab, name: str = "worker") -> list[list[list[str]]]:
    return [json.loads(e.message.split("BATCH ", 1)[1])
            for e in lab.get_logs(name) if "BATCH " in e.message]


def settle(lab: Lab) -> None:
    assert sqs_of(lab).mappings.wait_idle(timeout=60), "the pollers did not finish"


def test_the_event_records_carry_the_fifo_attributes(lab: Lab, code: Callable[..., Path]) -> None:
    lab.create_function("echo", code(app=ECHO), handler="app.handler")
    q = queues_of(lab)
    fifo(q)
    sent = q.send_message("jobs.fifo", "hi", group_id="g", dedup_id="d1")
    lab.create_event_source_mapping("echo", event_source_arn=q.arn("jobs.fifo"))
    settle(lab)
    [line] = [e.message for e in lab.get_logs("echo") if "EVENT " in e.message]
    [record] = json.loads(line.split("EVENT ", 1)[1])["Records"]
    assert {k: record["attributes"][k] for k in
            ("MessageGroupId", "MessageDeduplicationId", "SequenceNumber")} == {
        "MessageGroupId": "g", "MessageDeduplicationId": "d1",
        "SequenceNumber": sent.sequence_number}
    from aws_lambda_powertools.utilities.parser.models import SqsModel

    SqsModel.model_validate(json.loads(line.split("EVENT ", 1)[1]))


def test_a_mapping_keeps_each_groups_order_across_batches(
    lab: Lab, code: Callable[..., Path]
) -> None:
    lab.create_function("worker", code(app=RECORDER), handler="app.handler")
    q = queues_of(lab)
    fifo(q, ContentBasedDeduplication="true")
    sent = {g: [f"{g}-{i}" for i in range(6)] for g in ("a", "b", "c")}
    for i in range(6):
        for group in sent:
            q.send_message("jobs.fifo", sent[group][i], group_id=group)
    lab.create_event_source_mapping("worker", event_source_arn=q.arn("jobs.fifo"), batch_size=2)
    settle(lab)
    seen: dict[str, list[str]] = {g: [] for g in sent}
    for batch in batches(lab):
        assert 1 <= len(batch) <= 2
        for group, body in batch:
            seen[group].append(body)
    assert seen == sent
    assert q.counts("jobs.fifo") == {"visible": 0, "in_flight": 0, "delayed": 0}


def test_a_failing_message_blocks_its_group_until_it_returns_in_order(
    lab: Lab, code: Callable[..., Path], clock: VirtualClock
) -> None:
    lab.create_function("worker", code(app=RECORDER), handler="app.handler")
    q = queues_of(lab)
    fifo(q, ContentBasedDeduplication="true")
    for group, body in [("a", "a1"), ("a", "bad-a2"), ("a", "a3"), ("b", "b1")]:
        q.send_message("jobs.fifo", body, group_id=group)
    lab.create_event_source_mapping(
        "worker", event_source_arn=q.arn("jobs.fifo"), batch_size=3,
        function_response_types=["ReportBatchItemFailures"])
    settle(lab)
    q.send_message("jobs.fifo", "a4", group_id="a")
    q.send_message("jobs.fifo", "b2", group_id="b")
    settle(lab)
    delivered = [body for batch in batches(lab) for _, body in batch]
    assert "a4" not in delivered and "b2" in delivered  # group a waits; b goes on
    assert q.counts("jobs.fifo") == {"visible": 1, "in_flight": 2, "delayed": 0}  # a4 waits
    clock.advance(30)
    settle(lab)
    again = [body for batch in batches(lab) for group, body in batch if group == "a"]
    assert again == ["a1", "bad-a2", "a3", "bad-a2", "a3", "a4"]
    assert q.counts("jobs.fifo") == {"visible": 0, "in_flight": 0, "delayed": 0}


# -- SNS FIFO topics to SQS FIFO queues ----------------------------------------------------


def test_a_fifo_topic_passes_groups_and_deduplication_ids_to_a_fifo_queue(
    edge: EdgeServer, sqs: Any, clock: VirtualClock  # noqa: F811
) -> None:
    sns = client_for(edge.url, "sns")
    topic = sns.create_topic(Name="orders.fifo", Attributes={"FifoTopic": "true"})["TopicArn"]
    url = sqs.create_queue(QueueName="orders.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn,
                  Attributes={"RawMessageDelivery": "true"})
    published = []
    for group, body in [("alice", "a1"), ("bob", "b1"), ("alice", "a2"), ("bob", "b2")]:
        published.append(sns.publish(TopicArn=topic, Message=body, MessageGroupId=group,
                                     MessageDeduplicationId=f"{group}-{body}"))
    again = sns.publish(TopicArn=topic, Message="a1", MessageGroupId="alice",
                        MessageDeduplicationId="alice-a1")
    assert again["MessageId"] == published[0]["MessageId"]
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                              MessageSystemAttributeNames=["All"])["Messages"]
    assert [(m["Attributes"]["MessageGroupId"], m["Body"]) for m in got] == [
        ("alice", "a1"), ("alice", "a2"), ("bob", "b1"), ("bob", "b2")]
    assert [m["Attributes"]["MessageDeduplicationId"] for m in got] == [
        "alice-a1", "alice-a2", "bob-b1", "bob-b2"]
    numbers = [int(m["Attributes"]["SequenceNumber"]) for m in got]
    assert numbers[0] < numbers[1] and numbers[2] < numbers[3]
    for m in got:
        sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    clock.advance(300)  # SNS's window is over; the queue's, of the same id, too
    sns.publish(TopicArn=topic, Message="a1", MessageGroupId="alice",
                MessageDeduplicationId="alice-a1")
    [late] = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert late["Body"] == "a1"


def test_the_cli_makes_and_feeds_a_fifo_queue(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from lambdalab.cli.app import main

    data = str(tmp_path / "cli-data")

    def run(*args: str) -> Any:
        return CliRunner().invoke(main, ["--data-dir", data, *args], catch_exceptions=False)

    assert "Created queue jobs.fifo" in run("sqs", "create-queue", "jobs.fifo", "-a",
                                            "FifoQueue=true").output
    sent = run("sqs", "send", "jobs.fifo", "hello", "--group", "g", "--dedup", "1").output
    assert "sequence number 1" in sent
    refused = run("sqs", "send", "jobs.fifo", "hello")
    assert refused.exit_code == 2 and "MessageGroupId" in refused.output


def test_a_retried_receive_request_attempt_gets_the_same_messages(
    sqs: Any, clock: VirtualClock
) -> None:
    url = sqs.create_queue(QueueName="jobs.fifo", Attributes={
        "FifoQueue": "true", "ContentBasedDeduplication": "true"})["QueueUrl"]
    for body in ("a", "b", "c"):
        sqs.send_message(QueueUrl=url, MessageBody=body, MessageGroupId=body)
    first = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=2,
                                ReceiveRequestAttemptId="try-1")["Messages"]
    retried = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=2,
                                  ReceiveRequestAttemptId="try-1")["Messages"]
    assert [(m["Body"], m["ReceiptHandle"]) for m in retried] == \
        [(m["Body"], m["ReceiptHandle"]) for m in first]
    clock.advance(20)
    again = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=2,
                                ReceiveRequestAttemptId="try-1")["Messages"]
    assert [m["ReceiptHandle"] for m in again] == [m["ReceiptHandle"] for m in first]
    clock.advance(20)  # the retry reset the visibility timeout: still hidden at 40 s
    assert [m["Body"] for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)[
        "Messages"]] == ["c"]
    sqs.delete_message(QueueUrl=url, ReceiptHandle=first[0]["ReceiptHandle"])
    fresh = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=2,
                                ReceiveRequestAttemptId="try-1")
    assert "Messages" not in fresh  # a deleted message ends the attempt: a new receive


MEET = """
import json, os, time

def handler(event, context):
    folder = os.environ["RENDEZVOUS"]
    [record] = event["Records"]
    open(os.path.join(folder, record["attributes"]["MessageGroupId"]), "w").close()
    deadline = time.monotonic() + 25  # a loaded machine may start the other one late
    while len(os.listdir(folder)) < 2 and time.monotonic() < deadline:
        time.sleep(0.005)  # waits for the other group's batch, not for time
    print("MET " + json.dumps([record["body"], len(os.listdir(folder))]))
"""


def test_two_groups_are_processed_at_once(
    lab: Lab, rendezvous: Path, code: Callable[..., Path]
) -> None:
    lab.create_function("meet", code(app=MEET), handler="app.handler", timeout=30,
                        environment={"RENDEZVOUS": str(rendezvous)})
    q = queues_of(lab)
    fifo(q, ContentBasedDeduplication="true")
    q.send_message("jobs.fifo", "a1", group_id="a")
    q.send_message("jobs.fifo", "b1", group_id="b")
    lab.create_event_source_mapping("meet", event_source_arn=q.arn("jobs.fifo"), batch_size=1)
    settle(lab)
    met = sorted(json.loads(e.message.split("MET ", 1)[1])
                 for e in lab.get_logs("meet") if "MET " in e.message)
    assert met == [["a1", 2], ["b1", 2]], "each group's batch saw the other's running"
