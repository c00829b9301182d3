"""Asynchronous invocation: the durable queue, retries on the clock, event age,
destinations, dead-letter queues, concurrency and crash safety."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any, Callable

import pytest

import lambdalab
from lambdalab import (
    InvalidParameterValueException,
    Lab,
    ResourceNotFoundException,
    VirtualClock,
)
from lambdalab.invocation.destinations import DestinationMessage

FLAKY = """
def handler(event, context):
    print("attempt for", context.aws_request_id)
    if event.get("fail"):
        raise ValueError("boom: " + str(event.get("fail")))
    return {"echo": event}
"""

QUEUE_ARN = "arn:aws:sqs:us-east-1:000000000000:inbox"
DLQ_ARN = "arn:aws:sqs:us-east-1:000000000000:dlq"


class FakeQueues:
    """A destination plugin, written the way a student (or the SQS plugin) writes one."""

    def __init__(self) -> None:
        self.messages: dict[str, list[DestinationMessage]] = {}

    @lambdalab.hookimpl
    def lambdalab_destination_sender(self, lab: Lab, destination_arn: str) -> Any:
        if not destination_arn.startswith("arn:aws:sqs:"):
            return None
        return lambda message: self.messages.setdefault(destination_arn, []).append(message)


@pytest.fixture
def queues() -> FakeQueues:
    return FakeQueues()


@pytest.fixture
def qlab(tmp_path: Path, clock: VirtualClock, queues: FakeQueues) -> Any:
    with Lab(data_dir=tmp_path / "qdata", clock=clock, plugins=[queues]) as lab:
        yield lab


def starts(lab: Lab, name: str) -> list[str]:
    """Request ids of the START lines in the function's log, in order."""
    return [
        e.message.split()[2] for e in lab.get_logs(name) if e.message.startswith("START ")
    ]


def records(queues: FakeQueues, arn: str = QUEUE_ARN) -> list[dict[str, Any]]:
    return [json.loads(m.body) for m in queues.messages.get(arn, [])]


def drain(lab: Lab) -> None:
    assert lab.wait_for_events(timeout=60), "the queue did not drain"


# -- the queue and retries --------------------------------------------------------------


def test_event_returns_202_and_runs(lab: Lab, code: Callable[..., Path]) -> None:
    lab.create_function("f", code(app=FLAKY), handler="app.handler")
    result = lab.invoke("f", {"n": 1}, invocation_type="Event")
    assert result.status_code == 202 and result.payload == b""
    drain(lab)
    assert starts(lab, "f") == [result.request_id]
    assert lab.queue() == []


def test_an_event_of_1_mb_runs_in_the_default_sandbox(lab: Lab, code: Callable[..., Path]) -> None:
    """The async limit, more than the pipe to a frozen runtime holds: it runs, once."""
    source = "def handler(event, context):\n    print('got', len(event['blob']))\n"
    lab.create_function("f", code(app=source), handler="app.handler")  # limited, 128 MB
    blob = "x" * (1024 * 1024 - 100)
    assert lab.invoke("f", {"blob": blob}, invocation_type="Event").status_code == 202
    drain(lab)
    assert [e.message for e in lab.get_logs("f") if e.message.startswith("got ")] == [
        f"got {len(blob)}\n"
    ]


def test_function_error_is_retried_after_one_then_two_minutes(
    lab: Lab, clock: VirtualClock, code: Callable[..., Path]
) -> None:
    lab.create_function("f", code(app=FLAKY), handler="app.handler")
    request_id = lab.invoke("f", {"fail": 1}, invocation_type="Event").request_id
    drain(lab)
    assert starts(lab, "f") == [request_id]
    [queued] = lab.queue()
    assert (queued.state, queued.attempts) == ("retrying", 1)
    assert queued.next_attempt_at == clock.now() + 60

    clock.advance(59)
    drain(lab)
    assert len(starts(lab, "f")) == 1, "no retry before a minute has passed"
    clock.advance(1)
    drain(lab)
    assert starts(lab, "f") == [request_id] * 2
    assert lab.queue()[0].next_attempt_at == clock.now() + 120

    clock.advance(119)
    drain(lab)
    assert len(starts(lab, "f")) == 2
    clock.advance(1)
    drain(lab)
    assert starts(lab, "f") == [request_id] * 3, "same request id, three executions"
    assert lab.queue() == []
    clock.advance(3600)
    drain(lab)
    assert len(starts(lab, "f")) == 3, "two retries, then the event is given up"


def test_maximum_retry_attempts_zero_runs_once(
    qlab: Lab, clock: VirtualClock, queues: FakeQueues, code: Callable[..., Path]
) -> None:
    qlab.create_function("f", code(app=FLAKY), handler="app.handler")
    qlab.put_function_event_invoke_config(
        "f",
        maximum_retry_attempts=0,
        destination_config={"OnFailure": {"Destination": QUEUE_ARN}},
    )
    request_id = qlab.invoke("f", {"fail": "once"}, invocation_type="Event").request_id
    drain(qlab)
    assert qlab.queue() == []
    [record] = records(queues)
    assert record["requestContext"] == {
        "requestId": request_id,
        "functionArn": qlab.arns.function("f", "$LATEST"),
        "condition": "RetriesExhausted",
        "approximateInvokeCount": 1,
    }
    clock.advance(600)
    drain(qlab)
    assert starts(qlab, "f") == [request_id]


def test_success_record_goes_to_on_success(
    qlab: Lab, queues: FakeQueues, code: Callable[..., Path]
) -> None:
    qlab.create_function("f", code(app=FLAKY), handler="app.handler")
    qlab.put_function_event_invoke_config(
        "f", destination_config={"OnSuccess": {"Destination": QUEUE_ARN}}
    )
    request_id = qlab.invoke("f", {"n": 7}, invocation_type="Event").request_id
    drain(qlab)
    [record] = records(queues)
    assert record["version"] == "1.0"
    assert record["timestamp"].endswith("Z")
    assert record["requestContext"]["condition"] == "Success"
    assert record["requestContext"]["requestId"] == request_id
    assert record["requestContext"]["approximateInvokeCount"] == 1
    assert record["requestPayload"] == {"n": 7}
    assert record["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST"}
    assert record["responsePayload"] == {"echo": {"n": 7}}


SINK = """
import json

def handler(event, context):
    print("RECORD " + json.dumps(event))
"""


def test_failure_record_goes_to_another_function(
    lab: Lab, clock: VirtualClock, code: Callable[..., Path]
) -> None:
    lab.create_function("f", code(app=FLAKY), handler="app.handler")
    lab.create_function("sink", code(app=SINK), handler="app.handler")
    lab.put_function_event_invoke_config(
        "f", destination_config={"OnFailure": {"Destination": lab.arns.function("sink")}}
    )
    request_id = lab.invoke("f", {"fail": "x"}, invocation_type="Event").request_id
    drain(lab)
    clock.advance(60)
    drain(lab)
    assert starts(lab, "sink") == [], "not before the last retry"
    clock.advance(120)
    drain(lab)
    [line] = [e.message for e in lab.get_logs("sink") if e.message.startswith("RECORD ")]
    record = json.loads(line[len("RECORD ") :])
    assert record["requestContext"]["requestId"] == request_id
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    [sink_request] = starts(lab, "sink")
    assert sink_request != request_id, "the destination runs as an invocation of its own"


def test_failure_record_shape(
    qlab: Lab, clock: VirtualClock, queues: FakeQueues, code: Callable[..., Path]
) -> None:
    qlab.create_function("f", code(app=FLAKY), handler="app.handler")
    qlab.put_function_event_invoke_config(
        "f", destination_config={"OnFailure": {"Destination": QUEUE_ARN}}
    )
    qlab.invoke("f", {"fail": "x"}, invocation_type="Event")
    drain(qlab)
    for minutes in (1, 2):
        clock.advance(60 * minutes)
        drain(qlab)
    [record] = records(queues)
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 3
    assert record["responseContext"] == {
        "statusCode": 200,
        "executedVersion": "$LATEST",
        "functionError": "Unhandled",
    }
    assert record["responsePayload"]["errorType"] == "ValueError"
    assert record["responsePayload"]["errorMessage"] == "boom: x"


def test_event_older_than_maximum_age_goes_to_on_failure(
    qlab: Lab, clock: VirtualClock, queues: FakeQueues, code: Callable[..., Path]
) -> None:
    qlab.create_function("f", code(app=FLAKY), handler="app.handler")
    qlab.put_function_event_invoke_config(
        "f",
        maximum_event_age_in_seconds=60,
        destination_config={"OnFailure": {"Destination": QUEUE_ARN}},
    )
    request_id = qlab.invoke("f", {"fail": "x"}, invocation_type="Event").request_id
    drain(qlab)
    # The first retry would start at age 60, not before the maximum: AWS does not make
    # it, and the record goes out at once (test_lambda_destinations.py::test_maxeventage)
    assert starts(qlab, "f") == [request_id]
    [record] = records(queues)
    assert record["requestContext"]["condition"] == "EventAgeExceeded"
    assert record["requestContext"]["approximateInvokeCount"] == 1
    assert record["responseContext"]["functionError"] == "Unhandled"
    assert qlab.queue() == []


def test_retries_survive_a_restart(tmp_path: Path, code: Callable[..., Path]) -> None:
    clock = VirtualClock(start=1_700_000_000)
    with Lab(tmp_path / "d", clock=clock) as lab:
        lab.create_function("f", code(app=FLAKY), handler="app.handler")
        request_id = lab.invoke("f", {"fail": 1}, invocation_type="Event").request_id
        drain(lab)
    with Lab(tmp_path / "d", clock=clock) as lab:
        [queued] = lab.queue()
        assert (queued.request_id, queued.state, queued.attempts) == (request_id, "retrying", 1)
        clock.advance(60)
        drain(lab)
        assert starts(lab, "f") == [request_id] * 2


# -- concurrency ------------------------------------------------------------------------

RENDEZVOUS = """
import os, time

def handler(event, context):
    folder = os.environ["RENDEZVOUS"]
    open(os.path.join(folder, context.aws_request_id), "w").close()
    deadline = time.monotonic() + 25  # a loaded machine may start the other one late
    while len(os.listdir(folder)) < int(event["expect"]) and time.monotonic() < deadline:
        time.sleep(0.005)  # waits for the other environment's invoke, not for time
    return len(os.listdir(folder))
"""


def test_two_environments_drain_in_parallel(
    lab: Lab, rendezvous: Path, code: Callable[..., Path]
) -> None:
    folder = rendezvous
    lab.create_function(
        "f",
        code(app=RENDEZVOUS),
        handler="app.handler",
        environment={"RENDEZVOUS": str(folder)},
        timeout=30,
    )
    lab.put_function_concurrency("f", 2)
    for _ in range(2):
        lab.invoke("f", {"expect": 2}, invocation_type="Event")
    drain(lab)
    assert len(os.listdir(folder)) == 2
    streams = {e.log_stream for e in lab.get_logs("f")}
    assert len(streams) == 2, "both events ran at once, in two environments"


def test_reserved_concurrency_caps_the_workers(lab: Lab, code: Callable[..., Path]) -> None:
    lab.create_function("f", code(app=FLAKY), handler="app.handler")
    lab.put_function_concurrency("f", 1)
    ids = [lab.invoke("f", {"n": n}, invocation_type="Event").request_id for n in range(8)]
    drain(lab)
    assert sorted(starts(lab, "f")) == sorted(ids)
    assert len({e.log_stream for e in lab.get_logs("f")}) == 1, "one environment at a time"


def test_throttled_event_waits_and_runs(lab: Lab, code: Callable[..., Path]) -> None:
    lab.create_function("f", code(app=FLAKY), handler="app.handler")
    lab.put_function_concurrency("f", 1)
    lab.pool.admit("f", 1, lab.registry.total_reserved())  # a sync invoke holds the slot
    request_id = lab.invoke("f", {}, invocation_type="Event").request_id
    assert not lab.wait_for_events(timeout=0.3), "throttled: it cannot run yet"
    assert [q.request_id for q in lab.queue()] == [request_id]
    lab.pool.leave("f")
    drain(lab)
    assert starts(lab, "f") == [request_id]


def test_reserved_concurrency_zero_sends_events_to_on_failure_without_running(
    qlab: Lab, queues: FakeQueues, code: Callable[..., Path]
) -> None:
    qlab.create_function("f", code(app=FLAKY), handler="app.handler")
    qlab.put_function_event_invoke_config(
        "f", destination_config={"OnFailure": {"Destination": QUEUE_ARN}}
    )
    qlab.put_function_concurrency("f", 0)
    qlab.invoke("f", {"n": 1}, invocation_type="Event")
    drain(qlab)
    assert starts(qlab, "f") == []
    [record] = records(queues)
    assert record["requestContext"]["approximateInvokeCount"] == 0


def test_events_of_a_deleted_function_are_dropped(
    lab: Lab, clock: VirtualClock, code: Callable[..., Path]
) -> None:
    lab.create_function("f", code(app=FLAKY), handler="app.handler")
    lab.invoke("f", {"fail": 1}, invocation_type="Event")
    drain(lab)
    lab.delete_function("f")
    clock.advance(60)
    drain(lab)
    assert lab.queue() == []


# -- event invoke configuration -------------------------------------------------------


def test_event_invoke_config_put_get_update_list_delete(
    lab: Lab, clock: VirtualClock, code: Callable[..., Path]
) -> None:
    lab.create_function("f", code(app=FLAKY), handler="app.handler", publish=True)
    lab.create_function("sink", code(app=FLAKY), handler="app.handler")
    sink = lab.arns.function("sink")
    put = lab.put_function_event_invoke_config(
        "f", maximum_retry_attempts=1, destination_config={"OnSuccess": {"Destination": sink}}
    )
    assert put.to_aws() == {
        "LastModified": clock.now(),
        "FunctionArn": lab.arns.function("f", "$LATEST"),
        "MaximumRetryAttempts": 1,
        "DestinationConfig": {"OnSuccess": {"Destination": sink}, "OnFailure": {}},
    }
    assert lab.get_function_event_invoke_config("f") == put

    updated = lab.update_function_event_invoke_config("f", maximum_event_age_in_seconds=600)
    assert (updated.maximum_retry_attempts, updated.maximum_event_age_in_seconds) == (1, 600)
    assert updated.on_success == sink, "update keeps what it is not given"

    replaced = lab.put_function_event_invoke_config("f", maximum_event_age_in_seconds=120)
    assert replaced.maximum_retry_attempts is None and replaced.on_success is None

    lab.put_function_event_invoke_config("f", qualifier="1", maximum_retry_attempts=0)
    arns = [c.function_arn for c in lab.list_function_event_invoke_configs("f")]
    assert arns == [lab.arns.function("f", "$LATEST"), lab.arns.function("f", "1")]

    lab.delete_function_event_invoke_config("f")
    with pytest.raises(ResourceNotFoundException, match="doesn't have an EventInvokeConfig"):
        lab.get_function_event_invoke_config("f")
    with pytest.raises(ResourceNotFoundException):
        lab.update_function_event_invoke_config("f", maximum_retry_attempts=1)
    with pytest.raises(ResourceNotFoundException):
        lab.delete_function_event_invoke_config("f")


@pytest.mark.parametrize(
    ("settings", "field"),
    [
        ({"maximum_retry_attempts": 3}, "MaximumRetryAttempts"),
        ({"maximum_retry_attempts": -1}, "MaximumRetryAttempts"),
        ({"maximum_retry_attempts": True}, "MaximumRetryAttempts"),
        ({"maximum_event_age_in_seconds": 59}, "MaximumEventAgeInSeconds"),
        ({"maximum_event_age_in_seconds": 21601}, "MaximumEventAgeInSeconds"),
        ({"destination_config": {"OnSuccess": {"Destination": "not-an-arn"}}}, "OnSuccess"),
        ({"destination_config": {"OnError": {}}}, "DestinationConfig"),
    ],
)
def test_event_invoke_config_refuses_bad_values(
    lab: Lab, code: Callable[..., Path], settings: dict[str, Any], field: str
) -> None:
    lab.create_function("f", code(app=FLAKY), handler="app.handler")
    with pytest.raises(InvalidParameterValueException, match=field):
        lab.put_function_event_invoke_config("f", **settings)
    with pytest.raises(ResourceNotFoundException):
        lab.get_function_event_invoke_config("f")


def test_destination_needs_a_plugin_for_its_service(lab: Lab, code: Callable[..., Path]) -> None:
    lab.create_function("f", code(app=FLAKY), handler="app.handler")
    bucket = "arn:aws:s3:::failures"  # no plugin delivers there
    with pytest.raises(InvalidParameterValueException, match="no loaded plugin delivers to s3"):
        lab.put_function_event_invoke_config(
            "f", destination_config={"OnFailure": {"Destination": bucket}}
        )
    with pytest.raises(InvalidParameterValueException, match="destination for itself"):
        lab.put_function_event_invoke_config(
            "f", destination_config={"OnFailure": {"Destination": lab.arns.function("f")}}
        )
    with pytest.raises(ResourceNotFoundException):
        lab.put_function_event_invoke_config("nope", maximum_retry_attempts=1)
    with pytest.raises(ResourceNotFoundException):
        lab.put_function_event_invoke_config("f", qualifier="7", maximum_retry_attempts=1)


def test_event_invoke_config_applies_per_qualifier(
    qlab: Lab, queues: FakeQueues, code: Callable[..., Path]
) -> None:
    qlab.create_function("f", code(app=FLAKY), handler="app.handler", publish=True)
    qlab.create_alias("f", "live", "1")
    qlab.put_function_event_invoke_config(
        "f", qualifier="live", destination_config={"OnSuccess": {"Destination": QUEUE_ARN}}
    )
    qlab.invoke("f", {"via": "latest"}, invocation_type="Event")
    qlab.invoke("f", {"via": "live"}, qualifier="live", invocation_type="Event")
    drain(qlab)
    [record] = records(queues)
    assert record["requestPayload"] == {"via": "live"}
    assert record["requestContext"]["functionArn"] == qlab.arns.function("f", "live")
    assert record["responseContext"]["executedVersion"] == "1"


# -- dead-letter queues ---------------------------------------------------------------


def test_dead_letter_queue_gets_the_event_with_aws_attributes(
    qlab: Lab, queues: FakeQueues, code: Callable[..., Path]
) -> None:
    config = qlab.create_function(
        "f", code(app=FLAKY), handler="app.handler", dead_letter_config={"TargetArn": DLQ_ARN}
    )
    assert config.to_aws()["DeadLetterConfig"] == {"TargetArn": DLQ_ARN}
    qlab.put_function_event_invoke_config("f", maximum_retry_attempts=0)
    request_id = qlab.invoke("f", {"fail": "dlq"}, invocation_type="Event").request_id
    drain(qlab)
    [message] = queues.messages[DLQ_ARN]
    assert json.loads(message.body) == {"fail": "dlq"}
    assert dict(message.attributes) == {
        "RequestID": request_id,
        "ErrorCode": "200",
        "ErrorMessage": "boom: dlq",
    }


def test_dead_letter_config_is_checked_and_removable(
    qlab: Lab, code: Callable[..., Path]
) -> None:
    with pytest.raises(InvalidParameterValueException, match="SQS queue or SNS topic"):
        qlab.create_function(
            "f",
            code(app=FLAKY),
            handler="app.handler",
            dead_letter_config={"TargetArn": qlab.arns.function("other")},
        )
    assert qlab.list_functions() == [], "nothing half-created"
    with pytest.raises(InvalidParameterValueException, match="not a topic ARN"):
        qlab.create_function(  # the SNS plugin delivers to topics, and refuses what is not one
            "f",
            code(app=FLAKY),
            handler="app.handler",
            dead_letter_config={"TargetArn": "arn:aws:sns:us-east-1:000000000000:t/x"},
        )
    assert qlab.list_functions() == [], "nothing half-created"
    qlab.create_function("f", code(app=FLAKY), handler="app.handler")
    updated = qlab.update_function_configuration("f", dead_letter_config={"TargetArn": DLQ_ARN})
    assert updated.dead_letter_target_arn == DLQ_ARN
    cleared = qlab.update_function_configuration("f", dead_letter_config={"TargetArn": ""})
    assert "DeadLetterConfig" not in cleared.to_aws()


# -- crash safety ---------------------------------------------------------------------

MARKER = """
import os

def handler(event, context):
    with open(os.environ["MARKS"], "a") as marks:
        marks.write(context.aws_request_id + "\\n")
"""

BURST = textwrap.dedent(
    """
    import sys
    from lambdalab import Lab

    lab = Lab(sys.argv[1])
    for n in range(100_000):
        result = lab.invoke("marker", {"n": n}, invocation_type="Event")
        print(result.request_id, flush=True)  # acknowledged: the 202 came back
    """
)


def test_sigkill_mid_burst_loses_no_acknowledged_event(
    tmp_path: Path, rendezvous: Path, code: Callable[..., Path]
) -> None:
    data, marks = tmp_path / "crash", rendezvous / "marks.txt"
    with Lab(data) as lab:
        lab.create_function(
            "marker", code(app=MARKER), handler="app.handler", environment={"MARKS": str(marks)}
        )
    child = subprocess.Popen(
        [sys.executable, "-c", BURST, str(data)],
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    assert child.stdout is not None
    acknowledged = []
    for line in child.stdout:
        acknowledged.append(line.strip())
        if len(acknowledged) == 300:
            break
    os.killpg(child.pid, signal.SIGKILL)  # the queue's process and its environments
    child.wait()
    acknowledged += [line.strip() for line in child.stdout if line.endswith("\n")]
    with sqlite3.connect(data / "lambdalab.db") as db:
        left = db.execute("SELECT COUNT(*), COUNT(claimed_by) FROM async_events").fetchone()
    assert left[0] > 0, "the crash should leave acknowledged events queued"
    with Lab(data) as lab:
        assert lab.wait_for_events(timeout=120)
        assert lab.queue() == []
    ran = set(marks.read_text().split())
    missing = [rid for rid in acknowledged if rid not in ran]
    assert len(acknowledged) >= 300
    assert missing == [], f"{len(missing)} of {len(acknowledged)} acknowledged events lost"
    print(f"acknowledged {len(acknowledged)}, queued at the crash {left[0]} "
          f"({left[1]} claimed by the dead process), all ran")


# -- the command line -----------------------------------------------------------------


def test_cli_event_invoke_then_queue_shows_the_retry(
    tmp_path: Path, code: Callable[..., Path]
) -> None:
    from click.testing import CliRunner

    from lambdalab.cli import app as cli

    data = tmp_path / "cli"
    with Lab(data) as lab:
        lab.create_function("f", code(app=FLAKY), handler="app.handler")

    def run(*args: str) -> Any:
        return CliRunner().invoke(cli.main, ["--data-dir", str(data), *args])

    invoked = run("invoke", "f", '{"fail": 1}', "--invocation-type", "Event")
    assert invoked.exit_code == 0, invoked.output
    assert "StatusCode 202" in invoked.output
    listed = run("queue")
    assert listed.exit_code == 0, listed.output
    [row] = [line for line in listed.output.splitlines() if "retrying" in line]
    assert " f " in row and " 1 " in row
    with Lab(data) as lab:
        [queued] = lab.queue()
    assert queued.state == "retrying"
    assert queued.next_attempt_at - queued.enqueued_at == pytest.approx(60, abs=5)


def test_an_event_that_fails_inside_lambdalab_is_tried_again(
        tmp_path: Path, code: Callable[..., Path], caplog: pytest.LogCaptureFixture) -> None:
    """A system error (here a sandbox's bug) is retried as a throttle is, as AWS retries
    500-series errors; the queue's worker lives on to run it."""
    from .test_stream_mappings import FailsOnce

    fails = FailsOnce()
    with Lab(data_dir=tmp_path / "data", plugins=[fails]) as lab:
        lab.create_function("f", code(app="def handler(e, c):\n    return {}\n"),
                            handler="app.handler", sandbox="fails-once")
        assert lab.invoke("f", {"Records": [1, 2]}, invocation_type="Event").status_code == 202
        drain(lab)
        assert fails.seen == [0, 2]
        assert lab.queue() == []
    assert "failed inside lambdalab; the event is tried again" in caplog.text
