"""Kinesis enhanced fan-out, judged by real clients: boto3 (and the AWS CLI) against the
edge, with the lab's virtual clock; an event source mapping reading through a consumer
invokes a real function."""

from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import Any, Callable

import boto3
import pytest
from botocore.config import Config
from botocore.eventstream import EventStreamBuffer
from botocore.exceptions import ClientError, EventStreamError

from lambdalab import Lab, VirtualClock
from lambdalab.protocol.eventstream import encode_message, event_message, exception_message
from lambdalab.server import EdgeServer
from lambdalab_kinesis import kinesis_of, quotas

from .edge_support import client_for, create, edge  # noqa: F401  (fixtures)
from .test_edge_sqs import aws_cli
from .test_kinesis import error_of
from .test_stream_mappings import Recorder, make_function, recorder  # noqa: F401  (fixtures)

STREAM_ARN = "arn:aws:kinesis:us-east-1:000000000000:stream/"
CONSUMER_ARN = re.compile(r"arn:aws:kinesis:us-east-1:000000000000:stream/clicks/consumer/app:\d+")


@pytest.fixture
def kinesis(edge: EdgeServer) -> Any:
    return client_for(edge.url, "kinesis")


def active_consumer(kinesis: Any, clock: VirtualClock, name: str = "app", stream: str = "clicks") -> str:
    arn = kinesis.register_stream_consumer(StreamARN=STREAM_ARN + stream, ConsumerName=name)["Consumer"]["ConsumerARN"]
    clock.advance(quotas.CONSUMER_STATUS_CHANGE_S)
    return str(arn)


def put(kinesis: Any, *data: str, stream: str = "clicks") -> list[str]:
    return [kinesis.put_record(StreamName=stream, Data=d.encode(), PartitionKey="k")["SequenceNumber"]
            for d in data]


def subscribe(kinesis: Any, arn: str, kind: str = "TRIM_HORIZON", **position: Any) -> Any:
    return kinesis.subscribe_to_shard(ConsumerARN=arn, ShardId="shardId-000000000000",
                                      StartingPosition={"Type": kind, **position})["EventStream"]


def next_event(events: Any) -> dict[str, Any]:
    return dict(next(iter(events))["SubscribeToShardEvent"])


# -- consumers ----------------------------------------------------------------------


def test_register_describe_list_and_deregister_a_consumer(kinesis: Any, clock: VirtualClock) -> None:
    kinesis.create_stream(StreamName="clicks", ShardCount=1)
    consumer = kinesis.register_stream_consumer(StreamARN=STREAM_ARN + "clicks", ConsumerName="app")["Consumer"]
    assert CONSUMER_ARN.fullmatch(consumer["ConsumerARN"]), consumer["ConsumerARN"]
    assert consumer["ConsumerARN"].endswith(f":{int(clock.now())}")
    assert consumer["ConsumerName"] == "app" and consumer["ConsumerStatus"] == "CREATING"
    arn = consumer["ConsumerARN"]
    clock.advance(quotas.CONSUMER_STATUS_CHANGE_S)
    by_arn = kinesis.describe_stream_consumer(ConsumerARN=arn)["ConsumerDescription"]
    by_name = kinesis.describe_stream_consumer(StreamARN=STREAM_ARN + "clicks",
                                               ConsumerName="app")["ConsumerDescription"]
    assert by_arn == by_name and by_arn["ConsumerStatus"] == "ACTIVE"
    assert by_arn["StreamARN"] == STREAM_ARN + "clicks"
    summary = kinesis.describe_stream_summary(StreamName="clicks")["StreamDescriptionSummary"]
    assert summary["ConsumerCount"] == 1
    kinesis.deregister_stream_consumer(ConsumerARN=arn)
    assert kinesis.describe_stream_consumer(ConsumerARN=arn)["ConsumerDescription"]["ConsumerStatus"] == "DELETING"
    clock.advance(quotas.CONSUMER_STATUS_CHANGE_S)
    assert error_of(kinesis.describe_stream_consumer, ConsumerARN=arn)[0] == "ResourceNotFoundException"
    assert kinesis.list_stream_consumers(StreamARN=STREAM_ARN + "clicks")["Consumers"] == []


def test_list_stream_consumers_pages(kinesis: Any, clock: VirtualClock) -> None:
    kinesis.create_stream(StreamName="clicks", ShardCount=1)
    for n in range(5):
        kinesis.register_stream_consumer(StreamARN=STREAM_ARN + "clicks", ConsumerName=f"c{n}")
    page = kinesis.list_stream_consumers(StreamARN=STREAM_ARN + "clicks", MaxResults=2)
    names = [c["ConsumerName"] for c in page["Consumers"]]
    while "NextToken" in page:
        page = kinesis.list_stream_consumers(StreamARN=STREAM_ARN + "clicks", NextToken=page["NextToken"],
                                             MaxResults=2)
        names += [c["ConsumerName"] for c in page["Consumers"]]
    assert names == [f"c{n}" for n in range(5)]
    paginated = kinesis.get_paginator("list_stream_consumers").paginate(StreamARN=STREAM_ARN + "clicks",
                                                                        PaginationConfig={"PageSize": 3})
    assert [c["ConsumerName"] for p in paginated for c in p["Consumers"]] == names
    assert error_of(kinesis.list_stream_consumers, StreamARN=STREAM_ARN + "clicks",
                    NextToken="forged")[0] == "ExpiredNextTokenException"


def test_consumer_errors_are_kinesis_errors(kinesis: Any, clock: VirtualClock) -> None:
    kinesis.create_stream(StreamName="clicks", ShardCount=1)
    stream = STREAM_ARN + "clicks"
    arn = kinesis.register_stream_consumer(StreamARN=stream, ConsumerName="app")["Consumer"]["ConsumerARN"]
    assert error_of(kinesis.register_stream_consumer, StreamARN=stream,
                    ConsumerName="app")[0] == "ResourceInUseException"
    assert error_of(lambda: subscribe(kinesis, arn))[0] == "ResourceInUseException"  # still CREATING
    for n in range(quotas.CONSUMERS_PER_STREAM - 1):
        kinesis.register_stream_consumer(StreamARN=stream, ConsumerName=f"more-{n}")
    code, message = error_of(kinesis.register_stream_consumer, StreamARN=stream, ConsumerName="one-too-many")
    assert code == "LimitExceededException" and "20" in message
    assert error_of(kinesis.register_stream_consumer, StreamARN=STREAM_ARN + "nope",
                    ConsumerName="x")[0] == "ResourceNotFoundException"
    assert error_of(kinesis.describe_stream_consumer, ConsumerARN=arn + "1")[0] == "ResourceNotFoundException"
    assert error_of(kinesis.describe_stream_consumer, ConsumerARN=arn, StreamARN=stream,
                    ConsumerName="app")[0] == "InvalidArgumentException"
    assert error_of(kinesis.describe_stream_consumer, StreamARN=stream)[0] == "InvalidArgumentException"
    assert error_of(kinesis.deregister_stream_consumer, StreamARN=stream,
                    ConsumerName="nobody")[0] == "ResourceNotFoundException"
    assert error_of(kinesis.register_stream_consumer, StreamARN=stream,
                    ConsumerName="bad name")[0] == "ValidationException"
    kinesis.deregister_stream_consumer(ConsumerARN=arn)
    assert error_of(kinesis.deregister_stream_consumer, ConsumerARN=arn)[0] == "ResourceInUseException"


def test_consumers_are_durable_and_deleted_with_their_stream(tmp_path: Path) -> None:
    clock = VirtualClock(start=1_700_000_000)
    with Lab(data_dir=tmp_path / "data", clock=clock) as lab:
        kinesis = kinesis_of(lab)
        kinesis.streams.create_stream("clicks", 1)
        arn = kinesis.consumers.register(kinesis.streams.arn("clicks"), "app").arn
        kinesis.streams.create_stream("gone", 1)
        kinesis.consumers.register(kinesis.streams.arn("gone"), "app")
        kinesis.streams.delete_stream("gone")
    with Lab(data_dir=tmp_path / "data", clock=clock) as lab:
        kinesis = kinesis_of(lab)
        assert kinesis.consumers.by_arn(arn).name == "app"
        kinesis.streams.create_stream("gone", 1)
        assert kinesis.consumers.of_stream(kinesis.streams.arn("gone")) == []


# -- SubscribeToShard -----------------------------------------------------------------


def test_subscribe_to_shard_pushes_records_as_they_come(kinesis: Any, clock: VirtualClock) -> None:
    kinesis.create_stream(StreamName="clicks", ShardCount=1)
    arn = active_consumer(kinesis, clock)
    first = put(kinesis, "a", "b")
    events = subscribe(kinesis, arn)
    event = next_event(events)
    assert [r["Data"] for r in event["Records"]] == [b"a", b"b"]
    assert [r["SequenceNumber"] for r in event["Records"]] == first
    assert event["ContinuationSequenceNumber"] == first[-1] and event["MillisBehindLatest"] == 0
    assert "ChildShards" not in event
    later = put(kinesis, "c")
    event = next_event(events)
    assert [r["Data"] for r in event["Records"]] == [b"c"] and event["ContinuationSequenceNumber"] == later[0]
    events.close()


def test_each_starting_position(kinesis: Any, clock: VirtualClock) -> None:
    kinesis.create_stream(StreamName="clicks", ShardCount=1)
    arn = active_consumer(kinesis, clock)
    sequences = put(kinesis, "a", "b")
    clock.advance(10)
    put(kinesis, "c")
    cases: list[tuple[str, dict[str, Any], list[bytes]]] = [
        ("AT_SEQUENCE_NUMBER", {"SequenceNumber": sequences[1]}, [b"b", b"c"]),
        ("AFTER_SEQUENCE_NUMBER", {"SequenceNumber": sequences[1]}, [b"c"]),
        ("AT_TIMESTAMP", {"Timestamp": clock.now()}, [b"c"]),
        ("LATEST", {}, []),
        ("TRIM_HORIZON", {}, [b"a", b"b", b"c"]),
    ]
    for kind, position, expected in cases:
        events = subscribe(kinesis, arn, kind, **position)
        assert [r["Data"] for r in next_event(events)["Records"]] == expected, kind
        events.close()
        clock.advance(quotas.RESUBSCRIBE_MIN_S)
    assert error_of(lambda: subscribe(kinesis, arn, "AT_SEQUENCE_NUMBER"))[0] == "InvalidArgumentException"


def test_a_second_subscription_within_5_seconds_is_resource_in_use(kinesis: Any, clock: VirtualClock) -> None:
    kinesis.create_stream(StreamName="clicks", ShardCount=1)
    arn = active_consumer(kinesis, clock)
    subscribe(kinesis, arn).close()
    clock.advance(quotas.RESUBSCRIBE_MIN_S - 1)
    code, message = error_of(lambda: subscribe(kinesis, arn))
    assert code == "ResourceInUseException" and "5 seconds" in message
    clock.advance(1)
    subscribe(kinesis, arn).close()
    assert error_of(kinesis.subscribe_to_shard, ConsumerARN=arn, ShardId="shardId-000000000009",
                    StartingPosition={"Type": "LATEST"})[0] == "ResourceNotFoundException"


def test_a_subscription_beats_while_idle_and_ends_after_5_minutes(kinesis: Any, clock: VirtualClock) -> None:
    kinesis.create_stream(StreamName="clicks", ShardCount=1)
    arn = active_consumer(kinesis, clock)
    events = iter(subscribe(kinesis, arn))
    assert next(events)["SubscribeToShardEvent"]["Records"] == []
    clock.advance(quotas.SUBSCRIPTION_HEARTBEAT_S)
    assert next(events)["SubscribeToShardEvent"]["Records"] == []  # an idle subscription's beat
    clock.advance(quotas.SUBSCRIPTION_S)
    # The stream ends (subscribe again); on the way the clock may stop at the lab's
    # timers, and the subscription beats at those it sees 5 s after its last event.
    assert all(e["SubscribeToShardEvent"]["Records"] == [] for e in events)


def test_a_subscription_ends_when_its_consumer_is_deregistered(kinesis: Any, clock: VirtualClock) -> None:
    kinesis.create_stream(StreamName="clicks", ShardCount=1)
    arn = active_consumer(kinesis, clock)
    events = iter(subscribe(kinesis, arn))
    next(events)
    kinesis.deregister_stream_consumer(ConsumerARN=arn)
    assert list(events) == []


def test_a_closed_shard_ends_its_subscription_with_child_shards(kinesis: Any, clock: VirtualClock) -> None:
    kinesis.create_stream(StreamName="clicks", ShardCount=1)
    arn = active_consumer(kinesis, clock)
    put(kinesis, "before")
    kinesis.split_shard(StreamName="clicks", ShardToSplit="shardId-000000000000",
                        NewStartingHashKey=str(2**127))
    events = list(subscribe(kinesis, arn))
    assert [r["Data"] for e in events for r in e["SubscribeToShardEvent"]["Records"]] == [b"before"]
    children = events[-1]["SubscribeToShardEvent"]["ChildShards"]
    assert [c["ShardId"] for c in children] == ["shardId-000000000001", "shardId-000000000002"]
    assert all(c["ParentShards"] == ["shardId-000000000000"] for c in children)


def test_a_consumers_reads_leave_the_shared_reads_alone(kinesis: Any, clock: VirtualClock) -> None:
    kinesis.create_stream(StreamName="clicks", ShardCount=1)
    arn = active_consumer(kinesis, clock)
    put(kinesis, "a")
    events = subscribe(kinesis, arn)
    assert len(next_event(events)["Records"]) == 1
    events.close()
    iterator = kinesis.get_shard_iterator(StreamName="clicks", ShardId="shardId-000000000000",
                                          ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    for _ in range(quotas.SHARD_READ_CALLS_PER_S):  # all five are still the shared readers'
        iterator = kinesis.get_records(ShardIterator=iterator)["NextShardIterator"]
    assert error_of(kinesis.get_records, ShardIterator=iterator)[0] == "ProvisionedThroughputExceededException"


def test_event_stream_messages_are_read_by_botocores_parser() -> None:
    buffer = EventStreamBuffer()
    buffer.add_data(event_message("initial-response", {}) + encode_message({"a": "é"}, b"\x00payload")
                    + exception_message("ResourceInUseException", "busy"))
    first, second, third = list(buffer)
    assert first.headers == {":event-type": "initial-response", ":content-type": "application/json",
                             ":message-type": "event"} and first.payload == b"{}"
    assert second.headers == {"a": "é"} and second.payload == b"\x00payload"
    assert third.to_response_dict()["status_code"] == 400
    assert third.headers[":exception-type"] == "ResourceInUseException" and b"busy" in third.payload


# -- event source mappings through a consumer -------------------------------------------


def test_a_mapping_reads_through_a_consumer_and_invokes_the_function(
        lab: Lab, code: Callable[..., Path], recorder: Recorder) -> None:
    make_function(lab, code, recorder)
    kinesis = kinesis_of(lab)
    kinesis.streams.create_stream("clicks", 2)
    consumer = kinesis.consumers.register(kinesis.streams.arn("clicks"), "lambda")
    kinesis.streams.put_records("clicks", [(str(n).encode(), f"key-{n}", None) for n in range(20)])
    mapping = lab.create_event_source_mapping("reader", event_source_arn=consumer.arn,
                                              starting_position="TRIM_HORIZON", batch_size=5)
    assert mapping.event_source_arn == consumer.arn
    assert kinesis.mappings.wait_idle(timeout=120)
    assert sorted(recorder.delivered(), key=int) == [str(n) for n in range(20)]
    first = recorder.invokes()[0]["first"]
    assert first["eventSourceARN"] == kinesis.streams.arn("clicks")  # the stream's, as AWS sends it


def test_a_mapping_of_an_unknown_consumer_is_refused(kinesis: Any, edge: EdgeServer) -> None:
    kinesis.create_stream(StreamName="clicks", ShardCount=1)
    functions = client_for(edge.url)
    create(functions, "anything")
    with pytest.raises(ClientError) as caught:
        functions.create_event_source_mapping(
            FunctionName="anything", StartingPosition="LATEST",
            EventSourceArn=STREAM_ARN + "clicks/consumer/nobody:1700000000")
    assert caught.value.response["Error"]["Code"] == "InvalidParameterValueException"
    assert "RegisterStreamConsumer" in caught.value.response["Error"]["Message"]


# -- the AWS CLI, and Python callers ------------------------------------------------------


def test_aws_cli_registers_and_lists_consumers(edge: EdgeServer, kinesis: Any) -> None:
    kinesis.create_stream(StreamName="clicks", ShardCount=1)
    registered = aws_cli(edge.url, "kinesis", "register-stream-consumer", "--stream-arn",
                         STREAM_ARN + "clicks", "--consumer-name", "app")["Consumer"]
    assert CONSUMER_ARN.fullmatch(registered["ConsumerARN"])
    listed = aws_cli(edge.url, "kinesis", "list-stream-consumers", "--stream-arn", STREAM_ARN + "clicks")
    assert [c["ConsumerARN"] for c in listed["Consumers"]] == [registered["ConsumerARN"]]
    described = aws_cli(edge.url, "kinesis", "describe-stream-consumer", "--consumer-arn",
                        registered["ConsumerARN"])["ConsumerDescription"]
    assert described["StreamARN"] == STREAM_ARN + "clicks" and described["ConsumerStatus"] == "CREATING"
    aws_cli(edge.url, "kinesis", "deregister-stream-consumer", "--stream-arn", STREAM_ARN + "clicks",
            "--consumer-name", "app")
    assert kinesis.describe_stream_consumer(ConsumerARN=registered["ConsumerARN"])[
        "ConsumerDescription"]["ConsumerStatus"] == "DELETING"


def test_put_records_from_python_refuses_a_lone_surrogate(lab: Lab) -> None:
    streams = kinesis_of(lab).streams
    streams.create_stream("clicks", 1)
    with pytest.raises(Exception) as caught:
        streams.put_records("clicks", [(b"x", "\ud800", None)])
    assert type(caught.value).__name__ == "InvalidArgumentException"
    assert streams.read("clicks", "shardId-000000000000", 0, 10) == []


def test_a_later_subscription_takes_the_shard_over(kinesis: Any, clock: VirtualClock) -> None:
    kinesis.create_stream(StreamName="clicks", ShardCount=1)
    arn = active_consumer(kinesis, clock)
    old = iter(subscribe(kinesis, arn))
    next(old)
    clock.advance(quotas.RESUBSCRIBE_MIN_S)
    new = subscribe(kinesis, arn)
    with pytest.raises(EventStreamError) as caught:  # AWS: the old one fails with this
        for _ in range(2):  # after the beat the 5 s advance may have sent first
            next(old)
    assert caught.value.response["Error"]["Code"] == "ResourceInUseException"
    put(kinesis, "a")
    for event in new:  # its first event may have gone before the put
        if event["SubscribeToShardEvent"]["Records"]:
            assert [r["Data"] for r in event["SubscribeToShardEvent"]["Records"]] == [b"a"]
            break
    new.close()


def test_a_subscription_ends_when_its_client_goes_or_the_edge_stops(lab: Lab, clock: VirtualClock) -> None:
    with EdgeServer(lab, port=0) as server:
        kinesis = client_for(server.url, "kinesis")
        kinesis.create_stream(StreamName="clicks", ShardCount=1)
        arn = active_consumer(kinesis, clock)
        events = subscribe(kinesis, arn)
        next_event(events)
        events.close()  # the client goes: the edge ends the subscription
        gone = kinesis_of(lab).consumers.latest(arn, "shardId-000000000000")
        assert gone is not None and Recorder(Path("unused")).wait_for(lambda: gone.closed, 60)  # real time: the edge notices the disconnect
        clock.advance(quotas.RESUBSCRIBE_MIN_S)
        open_one = iter(subscribe(kinesis, arn))
        next(open_one)
        stopping = threading.Thread(target=server.stop)
        stopping.start()
        stopping.join(timeout=120)  # against a hang only
        assert not stopping.is_alive(), "an open subscription kept the edge from stopping"


def test_many_open_subscriptions_leave_the_edge_answering(kinesis: Any, clock: VirtualClock, edge: EdgeServer) -> None:
    """More subscriptions than the edge's shared worker threads (40), each waiting for
    its next event: every other request is still answered."""
    many = 45
    kinesis.create_stream(StreamName="clicks", ShardCount=many)
    arn = active_consumer(kinesis, clock)
    subscriber = boto3.client("kinesis", endpoint_url=edge.url, region_name="us-east-1",
                              aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="x",
                              config=Config(retries={"total_max_attempts": 1}, max_pool_connections=many + 5))
    open_ones = []
    for n in range(many):
        events = subscriber.subscribe_to_shard(ConsumerARN=arn, ShardId=f"shardId-{n:012d}",
                                               StartingPosition={"Type": "LATEST"})["EventStream"]
        next_event(events)  # and its reader now waits for the next
        open_ones.append(events)
    assert kinesis.describe_stream_summary(StreamName="clicks")["StreamDescriptionSummary"]["OpenShardCount"] == many
    for events in open_ones:
        events.close()
