"""The SQS plugin at the Lab level, on a VirtualClock: queues, visibility, redrive,
durability, and event source mappings that invoke functions with batches."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Callable

import pytest

from lambdalab import Lab, VirtualClock
from lambdalab.errors import (
    InvalidParameterValueException,
    ResourceConflictException,
    ResourceNotFoundException,
)
from lambdalab_sqs import Queues, sqs_of
from lambdalab_sqs.exceptions import (
    InvalidParameterValue,
    MessageTooLong,
    QueueDoesNotExist,
    QueueNameExists,
    ReceiptHandleIsInvalid,
)

RECORDER = """
import json

def handler(event, context):
    bodies = [r["body"] for r in event["Records"]]
    print("BATCH " + json.dumps(bodies))
    failures = [{"itemIdentifier": r["messageId"]} for r in event["Records"]
                if r["body"].startswith("bad")]
    if any(b.startswith("crash") for b in bodies):
        raise RuntimeError("crash")
    return {"batchItemFailures": failures}
"""


def queues_of(lab: Lab) -> Queues:
    return sqs_of(lab).queues


def batches(lab: Lab, name: str = "worker") -> list[list[str]]:
    """Bodies of each batch the function received, in order, from its log."""
    return [
        json.loads(e.message.split("BATCH ", 1)[1])
        for e in lab.get_logs(name) if "BATCH " in e.message
    ]


def settle(lab: Lab) -> None:
    assert sqs_of(lab).mappings.wait_idle(timeout=60), "the pollers did not finish"


def arn(lab: Lab, name: str) -> str:
    return queues_of(lab).arn(name)


# -- queues and messages ----------------------------------------------------------------


def test_an_in_flight_message_becomes_visible_after_its_visibility_timeout(
    lab: Lab, clock: VirtualClock
) -> None:
    q = queues_of(lab)
    q.create_queue("jobs")
    sent = q.send_message("jobs", "hello")
    [first] = q.receive_message("jobs")
    assert (first.message_id, first.body, first.receive_count) == (sent.message_id, "hello", 1)
    assert q.receive_message("jobs") == []
    clock.advance(29)
    assert q.receive_message("jobs") == []
    clock.advance(1)
    [again] = q.receive_message("jobs")
    assert again.receive_count == 2 and again.receipt_handle != first.receipt_handle
    q.delete_message("jobs", again.receipt_handle)
    clock.advance(60)
    assert q.receive_message("jobs") == []
    assert q.counts("jobs") == {"visible": 0, "in_flight": 0, "delayed": 0}


def test_delay_visibility_change_and_attributes(lab: Lab, clock: VirtualClock) -> None:
    q = queues_of(lab)
    q.create_queue("jobs", {"DelaySeconds": "10", "VisibilityTimeout": "5"})
    q.send_message("jobs", "later", message_attributes={
        "kind": {"DataType": "String", "StringValue": "order"}})
    assert q.get_attributes("jobs", ["ApproximateNumberOfMessagesDelayed"]) == {
        "ApproximateNumberOfMessagesDelayed": "1"}
    clock.advance(10)
    [message] = q.receive_message("jobs", max_number_of_messages=10)
    wire = message.to_aws(["All"], ["All"])
    assert wire["Attributes"]["ApproximateReceiveCount"] == "1"
    assert wire["Attributes"]["SentTimestamp"] == str(int((clock.now() - 10) * 1000))
    assert wire["MessageAttributes"] == {"kind": {"DataType": "String", "StringValue": "order"}}
    q.change_message_visibility("jobs", message.receipt_handle, 100)
    clock.advance(99)
    assert q.receive_message("jobs") == []
    clock.advance(1)
    assert len(q.receive_message("jobs")) == 1


def test_redrive_moves_a_message_to_the_dead_letter_queue_after_max_receive_count(
    lab: Lab, clock: VirtualClock
) -> None:
    q = queues_of(lab)
    q.create_queue("dlq")
    policy = {"deadLetterTargetArn": arn(lab, "dlq"), "maxReceiveCount": 2}
    q.create_queue("jobs", {"RedrivePolicy": json.dumps(policy), "VisibilityTimeout": "30"})
    sent = q.send_message("jobs", "poison")
    for _ in range(2):
        assert [m.body for m in q.receive_message("jobs")] == ["poison"]
        clock.advance(30)
    assert q.receive_message("jobs") == []
    [dead] = q.receive_message("dlq")
    assert (dead.message_id, dead.body) == (sent.message_id, "poison")


def test_retention_drops_old_messages(lab: Lab, clock: VirtualClock) -> None:
    q = queues_of(lab)
    q.create_queue("jobs", {"MessageRetentionPeriod": "60"})
    q.send_message("jobs", "stale")
    clock.advance(61)
    assert q.receive_message("jobs") == []


def test_messages_survive_a_restart_and_in_flight_ones_reappear(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with Lab(data_dir=data, clock=VirtualClock(start=1_000)) as lab:
        q = queues_of(lab)
        q.create_queue("jobs")
        q.send_message("jobs", "waiting")
        q.send_message("jobs", "in flight")
        [taken] = q.receive_message("jobs")
        assert taken.body == "waiting"
    clock = VirtualClock(start=1_010)
    with Lab(data_dir=data, clock=clock) as lab:
        q = queues_of(lab)
        [other] = q.receive_message("jobs")
        assert other.body == "in flight"
        assert q.receive_message("jobs") == []
        clock.advance(20)  # 30 s after the first lab received it
        [back] = q.receive_message("jobs")
        assert (back.body, back.receive_count) == ("waiting", 2)


def test_bad_input_gets_sqs_errors(lab: Lab) -> None:
    q = queues_of(lab)
    q.create_queue("jobs")
    with pytest.raises(MessageTooLong, match="shorter than 262144 bytes") as info:
        q.send_message("jobs", "x" * (262_144 + 1))
    assert info.value.code == "InvalidParameterValue"
    q.send_message("jobs", "x" * 262_144)  # exactly the limit is fine
    with pytest.raises(QueueDoesNotExist):
        q.send_message("nope", "hi")
    with pytest.raises(QueueNameExists):
        q.create_queue("jobs", {"VisibilityTimeout": "5"})
    assert q.create_queue("jobs").name == "jobs"  # same attributes: the existing queue
    with pytest.raises(ReceiptHandleIsInvalid):
        q.delete_message("jobs", "not-a-handle")
    assert q.counts("jobs")["visible"] == 1  # nothing half-done


def test_a_queue_name_is_1_to_80_characters(lab: Lab) -> None:
    """CreateQueue's QueueName: "1 to 80 in length" (SQS's words), from the plugin's quota."""
    q = queues_of(lab)
    assert q.create_queue("q" * 80).name == "q" * 80
    with pytest.raises(InvalidParameterValue, match="1 to 80 in length"):
        q.create_queue("q" * 81)


# -- event source mappings --------------------------------------------------------------


@pytest.fixture
def worker(lab: Lab, code: Callable[..., Path]) -> str:
    lab.create_function("worker", code(app=RECORDER), handler="app.handler")
    queues_of(lab).create_queue("jobs")
    return arn(lab, "jobs")


def test_a_mapping_delivers_batches_and_deletes_them(lab: Lab, worker: str) -> None:
    q = queues_of(lab)
    for i in range(7):
        q.send_message("jobs", f"m{i}")
    mapping = lab.create_event_source_mapping("worker", event_source_arn=worker, batch_size=3)
    assert mapping.to_aws()["State"] == "Creating"
    settle(lab)
    got = batches(lab)
    assert sorted(b for batch in got for b in batch) == [f"m{i}" for i in range(7)]
    assert all(1 <= len(batch) <= 3 for batch in got)
    assert q.counts("jobs") == {"visible": 0, "in_flight": 0, "delayed": 0}
    assert lab.get_event_source_mapping(mapping.uuid).to_aws()["State"] == "Enabled"
    assert lab.get_event_source_mapping(mapping.uuid).last_processing_result == "OK"


def test_the_event_is_lambdas_sqs_event(lab: Lab, worker: str, code: Callable[..., Path]) -> None:
    lab.create_function("echo", code(app="""
def handler(event, context):
    print("EVENT " + __import__("json").dumps(event))
"""), handler="app.handler")
    queues_of(lab).send_message("jobs", '{"n": 1}', message_attributes={
        "kind": {"DataType": "String", "StringValue": "order"}})
    lab.create_event_source_mapping("echo", event_source_arn=worker)
    settle(lab)
    [line] = [e.message for e in lab.get_logs("echo") if "EVENT " in e.message]
    event = json.loads(line.split("EVENT ", 1)[1])
    from aws_lambda_powertools.utilities.data_classes import SQSEvent
    from aws_lambda_powertools.utilities.parser.models import SqsModel

    SqsModel.model_validate(event)
    [record] = SQSEvent(event).records
    assert record.json_body == {"n": 1}
    assert record.event_source_arn == worker and record.attributes.approximate_receive_count == "1"
    assert record.message_attributes["kind"].string_value == "order"


def test_partial_batch_failures_leave_only_the_failed_messages(
    lab: Lab, worker: str, clock: VirtualClock
) -> None:
    q = queues_of(lab)
    for body in ("ok1", "bad1", "ok2"):
        q.send_message("jobs", body)
    lab.create_event_source_mapping(
        "worker", event_source_arn=worker, function_response_types=["ReportBatchItemFailures"]
    )
    settle(lab)
    assert q.counts("jobs") == {"visible": 0, "in_flight": 1, "delayed": 0}
    clock.advance(30)
    settle(lab)
    assert batches(lab)[-1] == ["bad1"]


def test_without_report_batch_item_failures_a_failed_invoke_keeps_the_whole_batch(
    lab: Lab, worker: str, clock: VirtualClock
) -> None:
    q = queues_of(lab)
    for body in ("ok1", "crash"):
        q.send_message("jobs", body)
    lab.create_event_source_mapping("worker", event_source_arn=worker)
    settle(lab)
    assert q.counts("jobs")["in_flight"] == 2
    clock.advance(30)
    settle(lab)
    delivered = [b for batch in batches(lab) for b in batch]
    assert sorted(delivered) == ["crash", "crash", "ok1", "ok1"]


def test_failed_messages_reach_the_dead_letter_queue(lab: Lab, worker: str, clock: VirtualClock) -> None:
    q = queues_of(lab)
    q.create_queue("dlq")
    q.set_attributes("jobs", {"RedrivePolicy": json.dumps(
        {"deadLetterTargetArn": arn(lab, "dlq"), "maxReceiveCount": 2})})
    q.send_message("jobs", "bad-forever")
    q.send_message("jobs", "fine")
    lab.create_event_source_mapping(
        "worker", event_source_arn=worker, function_response_types=["ReportBatchItemFailures"]
    )
    settle(lab)
    for _ in range(2):
        clock.advance(30)
        settle(lab)
    assert [m.body for m in q.receive_message("dlq")] == ["bad-forever"]
    assert [b for batch in batches(lab) for b in batch].count("bad-forever") == 2


def test_a_disabled_mapping_does_not_poll_until_enabled(lab: Lab, worker: str) -> None:
    q = queues_of(lab)
    mapping = lab.create_event_source_mapping("worker", event_source_arn=worker, enabled=False)
    q.send_message("jobs", "waits")
    settle(lab)
    assert lab.get_event_source_mapping(mapping.uuid).to_aws()["State"] == "Disabled"
    assert q.counts("jobs")["visible"] == 1 and batches(lab) == []
    updated = lab.update_event_source_mapping(mapping.uuid, enabled=True)
    assert updated.to_aws()["State"] == "Enabling"
    settle(lab)
    assert batches(lab) == [["waits"]]
    deleted = lab.delete_event_source_mapping(mapping.uuid)
    assert deleted.to_aws()["State"] == "Deleting"
    assert lab.list_event_source_mappings() == []


def test_a_batching_window_waits_on_the_labs_clock_to_fill_a_batch(
    lab: Lab, worker: str, clock: VirtualClock
) -> None:
    q = queues_of(lab)
    lab.create_event_source_mapping(
        "worker", event_source_arn=worker, batch_size=50, maximum_batching_window_in_seconds=5
    )
    q.send_message("jobs", "first")
    for i in range(12):
        q.send_message("jobs", f"more{i}")
    taken_by = time.monotonic() + 60  # the poller takes them all, then waits for more
    while q.has_visible("jobs") and time.monotonic() < taken_by:
        time.sleep(0.01)
    assert batches(lab) == []  # nothing delivered while the window is open
    clock.advance(5)  # the window closes on the Lab's clock
    settle(lab)
    assert sorted(b for batch in batches(lab) for b in batch) == sorted(
        ["first"] + [f"more{i}" for i in range(12)])
    assert any(len(batch) > 10 for batch in batches(lab))


def test_mapping_settings_are_checked(lab: Lab, worker: str) -> None:
    with pytest.raises(InvalidParameterValueException, match="greater than 0"):
        lab.create_event_source_mapping("worker", event_source_arn=worker, batch_size=100)
    with pytest.raises(InvalidParameterValueException, match="BatchSize"):
        lab.create_event_source_mapping("worker", event_source_arn=worker, batch_size=10_001,
                                        maximum_batching_window_in_seconds=1)
    with pytest.raises(InvalidParameterValueException, match="NonExistentQueue"):
        lab.create_event_source_mapping("worker", event_source_arn=arn(lab, "missing"))
    with pytest.raises(InvalidParameterValueException, match="^Function does not exist$"):
        lab.create_event_source_mapping("ghost", event_source_arn=worker)  # AWS: 400, not 404
    with pytest.raises(InvalidParameterValueException, match="ReportBatchItemFailures"):
        lab.create_event_source_mapping("worker", event_source_arn=worker,
                                        function_response_types=["Everything"])
    with pytest.raises(InvalidParameterValueException, match="^Invalid filter pattern definition"):
        lab.create_event_source_mapping("worker", event_source_arn=worker, filter_criteria={
            "Filters": [{"Pattern": '{"body": {"kind": "order"}}'}]})  # a value needs a list
    lab.create_event_source_mapping("worker", event_source_arn=worker, enabled=False)
    with pytest.raises(ResourceConflictException):
        lab.create_event_source_mapping("worker", event_source_arn=worker)
    with pytest.raises(ResourceNotFoundException):
        lab.get_event_source_mapping("00000000-0000-0000-0000-000000000000")


def test_mappings_survive_a_restart(tmp_path: Path, code: Callable[..., Path]) -> None:
    data = tmp_path / "data"
    with Lab(data_dir=data, clock=VirtualClock(start=0)) as lab:
        lab.create_function("worker", code(app=RECORDER), handler="app.handler")
        queues_of(lab).create_queue("jobs")
        mapping = lab.create_event_source_mapping("worker", event_source_arn=arn(lab, "jobs"),
                                                  enabled=False)
    with Lab(data_dir=data, clock=VirtualClock(start=0)) as lab:
        assert [m.uuid for m in lab.list_event_source_mappings(function_name="worker")] == [mapping.uuid]
        lab.update_event_source_mapping(mapping.uuid, enabled=True)
        queues_of(lab).send_message("jobs", "after restart")
        settle(lab)
        [now] = lab.list_event_source_mappings(function_name="worker")
        logs = [e.message for e in lab.get_logs("worker")]
        assert batches(lab) == [["after restart"]], (now.last_processing_result, logs)


# -- SQS as a destination of asynchronous invokes ----------------------------------------


def test_async_failures_land_in_an_sqs_dead_letter_queue(
    lab: Lab, code: Callable[..., Path], clock: VirtualClock
) -> None:
    q = queues_of(lab)
    q.create_queue("dlq")
    q.create_queue("failures")
    lab.create_function("flaky", code(app="""
def handler(event, context):
    raise ValueError("nope")
"""), handler="app.handler", dead_letter_config={"TargetArn": arn(lab, "dlq")})
    lab.put_function_event_invoke_config(
        "flaky", maximum_retry_attempts=0,
        destination_config={"OnFailure": {"Destination": arn(lab, "failures")}},
    )
    lab.invoke("flaky", {"order": 7}, invocation_type="Event")
    assert lab.wait_for_events(timeout=60)
    [dead] = q.receive_message("dlq")
    assert json.loads(dead.body) == {"order": 7}
    assert dead.message_attributes["ErrorCode"]["StringValue"]
    [record] = q.receive_message("failures")
    record_body = json.loads(record.body)
    assert record_body["requestContext"]["condition"] == "RetriesExhausted"
    assert record_body["requestPayload"] == {"order": 7}


# -- the CLI ------------------------------------------------------------------------------


def test_cli_sqs_and_esm_commands(tmp_path: Path, code: Callable[..., Path]) -> None:
    from click.testing import CliRunner

    from lambdalab.cli.app import main

    data = str(tmp_path / "cli-data")

    def run(*args: str) -> Any:
        return CliRunner().invoke(main, ["--data-dir", data, *args], catch_exceptions=False)

    assert "Created queue jobs" in run("sqs", "create-queue", "jobs", "-a", "VisibilityTimeout=5").output
    assert "Sent " in run("sqs", "send", "jobs", "hello").output
    assert "jobs" in run("sqs", "list").output
    received = run("sqs", "receive", "jobs", "--delete").output
    assert json.loads(received.splitlines()[0])["Body"] == "hello"
    missing = run("sqs", "send", "nope", "x")
    assert missing.exit_code == 2 and "NonExistentQueue" in missing.output
    assert run("create", "worker", "--code", str(code(app=RECORDER)), "--handler",
               "app.handler").exit_code == 0
    created = run("esm", "create", "worker", "jobs", "--disabled", "--report-failures")
    uuid = created.output.split("Created mapping ", 1)[1].split(":", 1)[0]
    assert "Disabled" in run("esm", "list").output
    assert run("esm", "enable", uuid).exit_code == 0
    assert run("esm", "delete", uuid).exit_code == 0
    assert "No mappings" in run("esm", "list").output


def test_an_error_inside_lambdalab_leaves_the_batch_to_come_back(
        tmp_path: Path, code: Callable[..., Path], caplog: pytest.LogCaptureFixture) -> None:
    """An invoke that fails with lambdalab's own error (not the function's) leaves the
    poller alive and the batch in flight: visible again after the visibility timeout,
    it is delivered then."""
    from .test_stream_mappings import FailsOnce

    fails = FailsOnce()
    clock = VirtualClock(start=1_700_000_000)
    with Lab(data_dir=tmp_path / "data", clock=clock, plugins=[fails]) as lab:
        lab.create_function("worker", code(app="def handler(e, c):\n    return {}\n"),
                            handler="app.handler", sandbox="fails-once")
        q = queues_of(lab)
        q.create_queue("jobs")
        for i in range(3):
            q.send_message("jobs", f"m{i}")
        mapping = lab.create_event_source_mapping("worker", event_source_arn=arn(lab, "jobs"))
        deadline = time.monotonic() + 60
        while fails.seen != [0] and time.monotonic() < deadline:
            time.sleep(0.01)
        settle(lab)
        assert q.counts("jobs")["in_flight"] == 3
        assert lab.get_event_source_mapping(mapping.uuid).last_processing_result.startswith(
            "PROBLEM: Internal error: RuntimeError")
        clock.advance(30)  # the queue's visibility timeout
        while fails.seen != [0, 3] and time.monotonic() < deadline:
            time.sleep(0.01)
        settle(lab)
        assert fails.seen == [0, 3]
        assert q.counts("jobs") == {"visible": 0, "in_flight": 0, "delayed": 0}
        assert lab.get_event_source_mapping(mapping.uuid).last_processing_result == "OK"
    assert "an invoke failed inside lambdalab" in caplog.text
