"""Stream event source mappings: Lambda's poller reads Kinesis shards and invokes a real
function (in its sandbox), which writes what it saw to a rendezvous file the test reads.

The function's log line per invoke: its shard, the records' data and sequence numbers,
and the system-wide monotonic clock at its start and end (for overlap, never for a
duration)."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any, Callable

import pytest
from botocore.exceptions import ClientError

from lambdalab import Lab, VirtualClock
from lambdalab.plugin import InitOutcome, InvokeOutcome, hookimpl
from lambdalab.server import EdgeServer
from lambdalab_kinesis import kinesis_of
from lambdalab_sqs import sqs_of

from .edge_support import client_for, create, edge  # noqa: F401  (fixtures)

RECORDER = """
import base64, json, os, time

def handler(event, context):
    start = time.monotonic_ns()
    records = event["Records"]
    data = [base64.b64decode(r["kinesis"]["data"]).decode() for r in records]
    time.sleep(float(os.environ.get("PAUSE", "0")))  # work, so that invokes can overlap
    poison = os.environ.get("POISON")
    report = os.environ.get("REPORT")
    reported = report in data and not os.path.exists(os.environ["LOG"] + ".reported")
    line = {"start": start, "end": time.monotonic_ns(), "data": data,
            "shard": records[0]["eventID"].split(":")[0],
            "seqs": [r["kinesis"]["sequenceNumber"] for r in records],
            "keys": [r["kinesis"]["partitionKey"] for r in records],
            "first": records[0], "failed": poison in data}
    fd = os.open(os.environ["LOG"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
    os.write(fd, (json.dumps(line) + "\\n").encode())  # one write: lines never interleave
    os.close(fd)
    if poison in data:
        raise RuntimeError("poison record")
    if reported:
        open(os.environ["LOG"] + ".reported", "w").close()
        bad = records[data.index(report)]["kinesis"]["sequenceNumber"]
        return {"batchItemFailures": [{"itemIdentifier": bad}]}
    return {"batchItemFailures": []}
"""


class Recorder:
    """The function's log, read back."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def invokes(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        return [json.loads(line) for line in self.path.read_text().splitlines() if line]

    def delivered(self) -> list[str]:
        """Data of every record of every successful invoke."""
        return [d for i in self.invokes() if not i["failed"] for d in i["data"]]

    def wait_for(self, check: Callable[[], bool], timeout: float = 120.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if check():
                return True
            time.sleep(0.05)  # polls the file a handler writes; no clock depends on it
        return check()


@pytest.fixture
def recorder(rendezvous: Path) -> Recorder:
    return Recorder(rendezvous / "invokes.jsonl")


def make_function(lab: Lab, code: Callable[..., Path], recorder: Recorder, **environment: str) -> None:
    lab.create_function("reader", code(app=RECORDER), handler="app.handler", timeout=60,
                        environment={"LOG": str(recorder.path), **environment})


def stream(lab: Lab, name: str = "s", shards: int = 1) -> str:
    streams = kinesis_of(lab).streams
    streams.create_stream(name, shards)
    return streams.arn(name)


def put(lab: Lab, name: str, items: list[tuple[str, str]]) -> list[dict[str, Any]]:
    """Put ``(data, partition key)`` records, a second of the lab's clock per 500, so no
    shard's throughput is exceeded."""
    streams, out = kinesis_of(lab).streams, []
    clock = lab.clock
    for start in range(0, len(items), 500):
        out += streams.put_records(name, [(d.encode(), k, None) for d, k in items[start:start + 500]])
        assert isinstance(clock, VirtualClock)
        clock.advance(1)
    assert all("SequenceNumber" in r for r in out)
    return out


def max_overlap(invokes: list[dict[str, Any]]) -> int:
    edges = sorted([(i["start"], 1) for i in invokes] + [(i["end"], -1) for i in invokes],
                   key=lambda e: (e[0], e[1]))
    running = most = 0
    for _, step in edges:
        running += step
        most = max(most, running)
    return most


# -- concurrency and order --------------------------------------------------------------


def test_four_shards_a_thousand_records_at_most_four_invokes_and_order_per_shard(
        lab: Lab, code: Callable[..., Path], recorder: Recorder) -> None:
    make_function(lab, code, recorder, PAUSE="0.02")
    arn = stream(lab, "s", 4)
    puts = put(lab, "s", [(str(n), f"key-{n}") for n in range(1000)])
    lab.create_event_source_mapping("reader", event_source_arn=arn, starting_position="TRIM_HORIZON",
                                    batch_size=10)
    assert kinesis_of(lab).mappings.wait_idle(timeout=300)
    invokes = recorder.invokes()
    assert sorted(recorder.delivered(), key=int) == [str(n) for n in range(1000)]
    assert len(recorder.delivered()) == 1000  # each record once
    assert 2 <= max_overlap(invokes) <= 4, "shards are the unit of concurrency"
    assert {i["shard"] for i in invokes} == {f"shardId-00000000000{n}" for n in range(4)}
    shard_of = {str(n): p["ShardId"] for n, p in enumerate(puts)}
    for shard in {i["shard"] for i in invokes}:
        seen = [d for i in sorted(invokes, key=lambda i: i["start"]) if i["shard"] == shard for d in i["data"]]
        assert all(shard_of[d] == shard for d in seen)
        assert seen == sorted(seen, key=int), f"{shard} delivered out of order"


def test_parallelization_factor_keeps_order_per_partition_key(
        lab: Lab, code: Callable[..., Path], recorder: Recorder) -> None:
    make_function(lab, code, recorder, PAUSE="0.02")
    arn = stream(lab)
    put(lab, "s", [(str(n), f"key-{n % 6}") for n in range(120)])
    lab.create_event_source_mapping("reader", event_source_arn=arn, starting_position="TRIM_HORIZON",
                                    batch_size=5, parallelization_factor=3)
    assert kinesis_of(lab).mappings.wait_idle(timeout=300)
    invokes = sorted(recorder.invokes(), key=lambda i: i["start"])
    assert sorted(recorder.delivered(), key=int) == [str(n) for n in range(120)]
    assert max_overlap(invokes) <= 3
    for key in range(6):
        seen = [d for i in invokes for d, k in zip(i["data"], i["keys"]) if k == f"key-{key}"]
        assert seen == sorted(seen, key=int)


# -- where reading starts, batching -------------------------------------------------------


def test_starting_positions(lab: Lab, code: Callable[..., Path], recorder: Recorder, clock: VirtualClock) -> None:
    make_function(lab, code, recorder)
    lab.create_function("other", code(app=RECORDER), handler="app.handler",
                        environment={"LOG": str(recorder.path) + ".other"})
    arn = stream(lab)
    put(lab, "s", [("before", "k")])
    clock.advance(10)
    middle = clock.now()
    put(lab, "s", [("middle", "k")])
    lab.create_event_source_mapping("reader", event_source_arn=arn, starting_position="LATEST")
    lab.create_event_source_mapping("other", event_source_arn=arn, starting_position="AT_TIMESTAMP",
                                    starting_position_timestamp=middle)
    put(lab, "s", [("after", "k")])
    assert kinesis_of(lab).mappings.wait_idle(timeout=120)
    assert recorder.delivered() == ["after"]
    assert Recorder(Path(str(recorder.path) + ".other")).delivered() == ["middle", "after"]


def test_the_batching_window_gathers_records_on_the_labs_clock(
        lab: Lab, code: Callable[..., Path], recorder: Recorder, clock: VirtualClock) -> None:
    make_function(lab, code, recorder)
    arn = stream(lab)
    mapping = lab.create_event_source_mapping("reader", event_source_arn=arn, starting_position="LATEST",
                                              batch_size=100, maximum_batching_window_in_seconds=30)
    streams = kinesis_of(lab).streams
    # One put: a reader that read between two puts would hold the second's records in a
    # window of their own, which would end only when the lab's clock moved on again.
    streams.put_records("s", [(str(n).encode(), "k", None) for n in range(1, 6)])
    readers = kinesis_of(lab).mappings.pollers[mapping.uuid].readers
    # The window starts when the reader holds records: advance the clock only then.
    assert recorder.wait_for(lambda: any(r.busy for r in list(readers.values())))
    assert recorder.invokes() == []  # 5 records of a batch of 100: the window holds them
    clock.advance(31)
    assert recorder.wait_for(lambda: len(recorder.delivered()) == 5)
    assert [i["data"] for i in recorder.invokes()] == [["1", "2", "3", "4", "5"]]


def test_the_event_is_the_kinesis_record_aws_sends(lab: Lab, code: Callable[..., Path], recorder: Recorder) -> None:
    from lambdalab import service_events

    make_function(lab, code, recorder)
    arn = stream(lab)
    lab.create_event_source_mapping("reader", event_source_arn=arn, starting_position="TRIM_HORIZON")
    put_result = put(lab, "s", [("hello", "user-1")])[0]
    assert kinesis_of(lab).mappings.wait_idle(timeout=120)
    record = recorder.invokes()[0]["first"]
    expected = service_events.generate("kinesis")["Records"][0]
    assert set(record) == set(expected) and set(record["kinesis"]) == set(expected["kinesis"])
    assert record["kinesis"]["data"] == "aGVsbG8=" and record["kinesis"]["partitionKey"] == "user-1"
    assert record["kinesis"]["sequenceNumber"] == put_result["SequenceNumber"]
    assert record["eventID"] == f"shardId-000000000000:{put_result['SequenceNumber']}"
    assert record["eventSourceARN"] == arn and record["eventName"] == "aws:kinesis:record"
    assert record["invokeIdentityArn"] == lab.get_function("reader").configuration.role


# -- failures ---------------------------------------------------------------------------


def test_a_failing_batch_blocks_its_shard_and_only_its_shard(
        lab: Lab, code: Callable[..., Path], recorder: Recorder) -> None:
    make_function(lab, code, recorder, POISON="poison")
    arn = stream(lab, "s", 2)
    shard_of = {}
    items = [("poison", "a")] + [(f"{key}-{n}", key) for n in range(5) for key in ("a", "b", "c", "d")]
    for (data, _), result in zip(items, put(lab, "s", items)):
        shard_of[data] = result["ShardId"]
    blocked = shard_of["poison"]
    lab.create_event_source_mapping("reader", event_source_arn=arn, starting_position="TRIM_HORIZON",
                                    batch_size=1)
    others = [d for d, _ in items if shard_of[d] != blocked]
    assert others, "the keys should reach both shards"
    assert recorder.wait_for(lambda: set(others) <= set(recorder.delivered())
                             and sum(i["failed"] for i in recorder.invokes()) >= 3)
    assert not [d for d in recorder.delivered() if shard_of[d] == blocked]
    mapping = lab.list_event_source_mappings()[0]
    assert mapping.to_aws()["LastProcessingResult"].startswith(("PROBLEM", "OK"))


def test_retries_exhausted_go_to_the_on_failure_queue_and_the_shard_moves_on(
        lab: Lab, code: Callable[..., Path], recorder: Recorder) -> None:
    make_function(lab, code, recorder, POISON="poison")
    queues = sqs_of(lab).queues
    queues.create_queue("failures")
    queue_arn = "arn:aws:sqs:us-east-1:000000000000:failures"
    arn = stream(lab)
    puts = put(lab, "s", [("one", "k"), ("poison", "k"), ("three", "k")])
    lab.create_event_source_mapping(
        "reader", event_source_arn=arn, starting_position="TRIM_HORIZON", batch_size=1,
        maximum_retry_attempts=2, destination_config={"OnFailure": {"Destination": queue_arn}})
    assert kinesis_of(lab).mappings.wait_idle(timeout=120)
    assert recorder.delivered() == ["one", "three"]
    assert [i["data"] for i in recorder.invokes() if i["failed"]] == [["poison"]] * 3
    messages = queues.receive_now("failures", 10)
    assert len(messages) == 1
    body = json.loads(messages[0].body)
    assert body["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert body["requestContext"]["approximateInvokeCount"] == 3
    assert body["responseContext"]["functionError"] == "Unhandled"
    info = body["KinesisBatchInfo"]
    assert info["shardId"] == "shardId-000000000000" and info["batchSize"] == 1
    assert info["startSequenceNumber"] == info["endSequenceNumber"] == puts[1]["SequenceNumber"]
    assert info["streamArn"] == arn


def test_bisect_isolates_the_poison_record(lab: Lab, code: Callable[..., Path], recorder: Recorder) -> None:
    make_function(lab, code, recorder, POISON="poison")
    sqs_of(lab).queues.create_queue("failures")
    arn = stream(lab)
    items = [(f"r{n}", "k") for n in range(7)]
    items.insert(5, ("poison", "k"))
    puts = put(lab, "s", items)
    lab.create_event_source_mapping(
        "reader", event_source_arn=arn, starting_position="TRIM_HORIZON", batch_size=8,
        bisect_batch_on_function_error=True, maximum_retry_attempts=0,
        destination_config={"OnFailure": {"Destination": "arn:aws:sqs:us-east-1:000000000000:failures"}})
    assert kinesis_of(lab).mappings.wait_idle(timeout=120)
    assert recorder.delivered() == [f"r{n}" for n in range(7)]
    info = json.loads(sqs_of(lab).queues.receive_now("failures", 10)[0].body)["KinesisBatchInfo"]
    assert info["batchSize"] == 1 and info["startSequenceNumber"] == puts[5]["SequenceNumber"]


def test_report_batch_item_failures_retries_from_the_failed_record(
        lab: Lab, code: Callable[..., Path], recorder: Recorder) -> None:
    make_function(lab, code, recorder, REPORT="c")
    arn = stream(lab)
    put(lab, "s", [(d, "k") for d in "abcde"])
    lab.create_event_source_mapping("reader", event_source_arn=arn, starting_position="TRIM_HORIZON",
                                    batch_size=10, function_response_types=["ReportBatchItemFailures"])
    assert kinesis_of(lab).mappings.wait_idle(timeout=120)
    assert [i["data"] for i in recorder.invokes()] == [list("abcde"), list("cde")]


def test_records_older_than_the_maximum_age_are_given_up(
        lab: Lab, code: Callable[..., Path], recorder: Recorder, clock: VirtualClock) -> None:
    make_function(lab, code, recorder, POISON="poison")
    sqs_of(lab).queues.create_queue("failures")
    arn = stream(lab)
    put(lab, "s", [("poison", "k")])
    lab.create_event_source_mapping(
        "reader", event_source_arn=arn, starting_position="TRIM_HORIZON",
        maximum_record_age_in_seconds=60,
        destination_config={"OnFailure": {"Destination": "arn:aws:sqs:us-east-1:000000000000:failures"}})
    assert recorder.wait_for(lambda: len(recorder.invokes()) >= 2)  # retrying: the shard is blocked
    clock.advance(61)
    assert recorder.wait_for(lambda: bool(sqs_of(lab).queues.has_visible("failures")))
    put(lab, "s", [("fresh", "k")])
    assert recorder.wait_for(lambda: recorder.delivered() == ["fresh"])
    body = json.loads(sqs_of(lab).queues.receive_now("failures", 10)[0].body)
    assert body["requestContext"]["condition"] == "RecordAgeExceeded"


# -- the Lambda API, through boto3 --------------------------------------------------------


def test_boto3_creates_a_kinesis_mapping_and_refuses_bad_settings(edge: EdgeServer, lab: Lab) -> None:
    lambda_ = client_for(edge.url)
    kinesis = client_for(edge.url, "kinesis")
    create(lambda_, "reader")
    kinesis.create_stream(StreamName="s", ShardCount=1)
    arn = "arn:aws:kinesis:us-east-1:000000000000:stream/s"

    def refused(code: str = "InvalidParameterValueException", **settings: Any) -> str:
        with pytest.raises(ClientError) as caught:
            lambda_.create_event_source_mapping(FunctionName="reader", EventSourceArn=arn, **settings)
        assert caught.value.response["Error"]["Code"] == code
        return str(caught.value.response["Error"]["Message"])

    assert "StartingPosition" in refused()
    # Outside the model's ranges: the Lambda API's ValidationException.
    assert "batchSize" in refused("ValidationException", StartingPosition="LATEST", BatchSize=10_001)
    assert "parallelizationFactor" in refused("ValidationException", StartingPosition="LATEST",
                                              ParallelizationFactor=11)
    assert "MaximumRecordAgeInSeconds" in refused(StartingPosition="LATEST", MaximumRecordAgeInSeconds=59)
    assert "TumblingWindowInSeconds" in refused(StartingPosition="LATEST", TumblingWindowInSeconds=60,
                                                ParallelizationFactor=2)
    with pytest.raises(ClientError) as caught:
        lambda_.create_event_source_mapping(FunctionName="reader", EventSourceArn=arn + "-gone",
                                            StartingPosition="LATEST")
    assert "Stream not found" in caught.value.response["Error"]["Message"]
    mapping = lambda_.create_event_source_mapping(
        FunctionName="reader", EventSourceArn=arn, StartingPosition="TRIM_HORIZON", BatchSize=50,
        ParallelizationFactor=2, BisectBatchOnFunctionError=True, MaximumRetryAttempts=3,
        MaximumRecordAgeInSeconds=3600)
    assert mapping["State"] == "Creating" and mapping["StartingPosition"] == "TRIM_HORIZON"
    assert (mapping["BatchSize"], mapping["ParallelizationFactor"], mapping["MaximumRetryAttempts"],
            mapping["MaximumRecordAgeInSeconds"]) == (50, 2, 3, 3600)
    got = lambda_.get_event_source_mapping(UUID=mapping["UUID"])
    assert got["State"] == "Enabled" and got["BisectBatchOnFunctionError"] is True
    updated = lambda_.update_event_source_mapping(UUID=mapping["UUID"], BatchSize=10)
    assert updated["BatchSize"] == 10 and updated["State"] == "Updating"
    listed = lambda_.list_event_source_mappings(EventSourceArn=arn)["EventSourceMappings"]
    assert [m["UUID"] for m in listed] == [mapping["UUID"]]
    lambda_.delete_event_source_mapping(UUID=mapping["UUID"])
    assert lambda_.list_event_source_mappings()["EventSourceMappings"] == []


def test_a_reopened_lab_continues_from_its_checkpoints(
        tmp_path: Path, code: Callable[..., Path], recorder: Recorder) -> None:
    data = tmp_path / "lab"
    with Lab(data, clock=VirtualClock(start=1_700_000_000)) as lab:
        make_function(lab, code, recorder)
        arn = stream(lab)
        put(lab, "s", [("one", "k")])
        lab.create_event_source_mapping("reader", event_source_arn=arn, starting_position="TRIM_HORIZON")
        assert kinesis_of(lab).mappings.wait_idle(timeout=120)
    with Lab(data, clock=VirtualClock(start=1_700_000_100)) as lab:
        put(lab, "s", [("two", "k")])
        assert kinesis_of(lab).mappings.wait_idle(timeout=120)
    assert recorder.delivered() == ["one", "two"]


def test_deleting_the_mapping_stops_its_readers(lab: Lab, code: Callable[..., Path], recorder: Recorder) -> None:
    make_function(lab, code, recorder)
    arn = stream(lab, "s", 2)
    mapping = lab.create_event_source_mapping("reader", event_source_arn=arn, starting_position="LATEST")
    lab.delete_event_source_mapping(mapping.uuid)
    assert not [t for t in threading.enumerate() if t.name.startswith(f"lambdalab-stream-{mapping.uuid[:8]}")]


def test_children_are_read_after_their_parents(lab: Lab, code: Callable[..., Path], recorder: Recorder) -> None:
    make_function(lab, code, recorder)
    arn = stream(lab)
    streams = kinesis_of(lab).streams
    put(lab, "s", [(str(n), "k") for n in range(5)])
    streams.split_shard("s", "shardId-000000000000", str(2**127))
    put(lab, "s", [(str(n), "k") for n in range(5, 10)])
    streams.merge_shards("s", "shardId-000000000001", "shardId-000000000002")
    put(lab, "s", [(str(n), "k") for n in range(10, 15)])
    lab.create_event_source_mapping("reader", event_source_arn=arn, starting_position="TRIM_HORIZON",
                                    batch_size=2)
    assert kinesis_of(lab).mappings.wait_idle(timeout=120)
    invokes = sorted(recorder.invokes(), key=lambda i: i["start"])
    assert [d for i in invokes for d in i["data"]] == [str(n) for n in range(15)]
    assert len({i["shard"] for i in invokes}) == 3  # the parent, one child of the split, the merge


WINDOWED = """
import json, os

def handler(event, context):
    state = dict(event["state"])
    state["count"] = state.get("count", 0) + len(event["Records"])
    line = {"state_in": event["state"], "final": event["isFinalInvokeForWindow"],
            "window": event["window"], "shard": event["shardId"], "records": len(event["Records"])}
    fd = os.open(os.environ["LOG"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
    os.write(fd, (json.dumps(line) + "\\n").encode())
    os.close(fd)
    return {"state": state, "batchItemFailures": []}
"""


def test_tumbling_windows_pass_state_and_end_with_a_final_invoke(
        lab: Lab, code: Callable[..., Path], recorder: Recorder, clock: VirtualClock) -> None:
    lab.create_function("reader", code(app=WINDOWED), handler="app.handler",
                        environment={"LOG": str(recorder.path)})
    arn = stream(lab)
    streams = kinesis_of(lab).streams
    window_start = clock.now() // 60 * 60
    streams.put_records("s", [(str(n).encode(), "k", None) for n in range(5)])
    lab.create_event_source_mapping("reader", event_source_arn=arn, starting_position="TRIM_HORIZON",
                                    batch_size=2, tumbling_window_in_seconds=60)
    assert recorder.wait_for(lambda: sum(i["records"] for i in recorder.invokes()) == 5)
    assert not any(i["final"] for i in recorder.invokes())  # the window is still open
    clock.advance(window_start + 60 - clock.now())
    assert recorder.wait_for(lambda: any(i["final"] for i in recorder.invokes()))
    assert kinesis_of(lab).mappings.wait_idle(timeout=60)
    invokes = recorder.invokes()
    assert [i["records"] for i in invokes] == [2, 2, 1, 0]
    assert [i["state_in"].get("count", 0) for i in invokes] == [0, 2, 4, 5]
    assert invokes[-1]["final"] and invokes[-1]["window"] == {
        "start": _iso(window_start), "end": _iso(window_start + 60)}
    streams.put_records("s", [(b"late", "k", None)])  # the next window, with a fresh state
    assert recorder.wait_for(lambda: len(recorder.invokes()) == 5)
    assert recorder.invokes()[-1]["state_in"] == {} and not recorder.invokes()[-1]["final"]


def _iso(at: float) -> str:
    import datetime

    return datetime.datetime.fromtimestamp(at, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_iterator_age_shows_the_lag_in_cloudwatch(
        lab: Lab, code: Callable[..., Path], recorder: Recorder, clock: VirtualClock) -> None:
    from lambdalab_cloudwatch import cloudwatch

    make_function(lab, code, recorder)
    arn = stream(lab)
    kinesis_of(lab).streams.put_records("s", [(b"old", "k", None)])
    clock.advance(90)  # the record waits 90 s of the lab's clock before a mapping reads it
    lab.create_event_source_mapping("reader", event_source_arn=arn, starting_position="TRIM_HORIZON")
    assert kinesis_of(lab).mappings.wait_idle(timeout=120)
    points = cloudwatch(lab).statistics("AWS/Lambda", "IteratorAge", (("FunctionName", "reader"),),
                                        clock.now() - 300, clock.now() + 60, 300, ["Maximum"], [])
    assert [p.values["Maximum"] for p in points] == [90_000.0]
    assert points[0].unit == "Milliseconds"


def test_a_mapping_killed_mid_stream_resumes_and_loses_no_record(
        tmp_path: Path, code: Callable[..., Path], recorder: Recorder) -> None:
    """SIGKILL of ``lambdalab serve`` while its mapping reads: reopened, the lab goes on
    from the committed checkpoints, and every record reaches the function (at least once,
    as on AWS)."""
    import os
    import signal
    import subprocess
    import sys

    from .edge_support import client_for

    data = tmp_path / "d"
    with Lab(data) as lab:
        make_function(lab, code, recorder, PAUSE="0.01")
        arn = stream(lab, "s", 2)
        lab.create_event_source_mapping("reader", event_source_arn=arn, starting_position="TRIM_HORIZON",
                                        batch_size=5)
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "lambdalab"), "--data-dir", str(data), "serve", "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"}, start_new_session=True)
    try:
        first = proc.stdout.readline() if proc.stdout else ""
        assert first.startswith("lambdalab edge on http://127.0.0.1:"), first
        kinesis = client_for(first.split()[3], "kinesis")
        kinesis.put_records(StreamName="s", Records=[{"Data": str(n).encode(), "PartitionKey": str(n)}
                                                     for n in range(300)])
        assert recorder.wait_for(lambda: len(recorder.delivered()) >= 20)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # mid-stream: the server and its environments
        proc.wait()
    print(f"{len(set(recorder.delivered()))} of 300 records delivered before the kill")
    with Lab(data) as lab:
        assert kinesis_of(lab).mappings.wait_idle(timeout=300)
    assert set(recorder.delivered()) == {str(n) for n in range(300)}


# -- a failure inside lambdalab ---------------------------------------------------------


class _FailsOnceEnvironment:
    """An environment whose first invoke raises, as a backend with a bug would."""

    def __init__(self, spec: Any, seen: list[int]) -> None:
        self.spec, self.init, self._seen = spec, InitOutcome(duration_ms=1.0), seen

    def invoke(self, request: Any) -> Any:
        if not self._seen:
            self._seen.append(0)
            raise RuntimeError("a backend's bug")
        self._seen.append(len(json.loads(request.payload)["Records"]))
        return InvokeOutcome("ok", b"{}", 1.0)

    def destroy(self) -> None:
        pass


class FailsOnce:
    """A sandbox plugin, ``fails-once``: the first invoke of any of its environments
    raises; ``seen`` lists how many records each invoke got (0: the one that raised)."""

    def __init__(self) -> None:
        self.seen: list[int] = []

    @hookimpl
    def lambdalab_sandbox_backends(self) -> list[type]:
        seen = self.seen

        class Backend:
            name = "fails-once"

            def __init__(self, preload: tuple[str, ...] = ()) -> None:
                pass

            def start(self, spec: Any) -> _FailsOnceEnvironment:
                return _FailsOnceEnvironment(spec, seen)

            def close(self) -> None:
                pass

        return [Backend]


def test_an_error_inside_lambdalab_is_said_and_the_batch_tried_again(
        tmp_path: Path, code: Callable[..., Path], caplog: pytest.LogCaptureFixture) -> None:
    """An invoke that fails with lambdalab's own error (not the function's, not a
    throttle) leaves the shard's reader alive: the mapping says so and reads on."""
    fails = FailsOnce()
    with Lab(data_dir=tmp_path / "data", clock=VirtualClock(start=1_700_000_000),
             plugins=[fails]) as lab:
        lab.create_function("reader", code(app="def handler(e, c):\n    return {}\n"),
                            handler="app.handler", sandbox="fails-once")
        arn = stream(lab, "s", 1)
        put(lab, "s", [(str(n), "k") for n in range(5)])
        mapping = lab.create_event_source_mapping("reader", event_source_arn=arn,
                                                  starting_position="TRIM_HORIZON")
        assert kinesis_of(lab).mappings.wait_idle(timeout=60)
        assert fails.seen == [0, 5]  # the failed try, then the whole batch again
        assert lab.get_event_source_mapping(mapping.uuid).to_aws()["LastProcessingResult"] == "OK"
    assert "an invoke failed inside lambdalab" in caplog.text
    assert "RuntimeError: a backend's bug" in caplog.text
