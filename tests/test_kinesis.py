"""Kinesis Data Streams on the HTTP edge, judged by real clients: boto3 and the AWS CLI,
against the edge in process (virtual clock) and a ``lambdalab serve`` killed with SIGKILL."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from hypothesis import given, settings

from lambdalab import Lab, VirtualClock
from lambdalab.server import EdgeServer
from lambdalab_kinesis import quotas
from lambdalab_kinesis.models import counter_of, hash_key

from .edge_support import client_for, edge, killed_server  # noqa: F401  (fixtures)
from .test_edge_sqs import aws_cli
from .test_fuzz_edge import FUZZ, judge, operation_and_input, send, signed_for, to_json

ARN = "arn:aws:kinesis:us-east-1:000000000000:stream/"


@pytest.fixture
def kinesis(edge: EdgeServer) -> Any:
    return client_for(edge.url, "kinesis")


def error_of(call: Any, **params: Any) -> tuple[str, str]:
    with pytest.raises(ClientError) as caught:
        call(**params)
    error = caught.value.response["Error"]
    return error["Code"], error["Message"]


def all_records(kinesis: Any, stream: str, shard: str, kind: str = "TRIM_HORIZON", **more: Any) -> list[Any]:
    iterator = kinesis.get_shard_iterator(StreamName=stream, ShardId=shard, ShardIteratorType=kind,
                                          **more)["ShardIterator"]
    return kinesis.get_records(ShardIterator=iterator)["Records"]


# -- streams --------------------------------------------------------------------------


def test_create_describe_list_and_delete_streams(kinesis: Any) -> None:
    kinesis.create_stream(StreamName="clicks", ShardCount=4)
    kinesis.create_stream(StreamName="auto", StreamModeDetails={"StreamMode": "ON_DEMAND"})
    kinesis.get_waiter("stream_exists").wait(StreamName="clicks")
    summary = kinesis.describe_stream_summary(StreamName="clicks")["StreamDescriptionSummary"]
    assert summary["StreamARN"] == ARN + "clicks" and summary["StreamStatus"] == "ACTIVE"
    assert summary["OpenShardCount"] == 4 and summary["RetentionPeriodHours"] == 24
    assert summary["StreamModeDetails"] == {"StreamMode": "PROVISIONED"}
    auto = kinesis.describe_stream(StreamARN=ARN + "auto")["StreamDescription"]
    assert auto["StreamModeDetails"] == {"StreamMode": "ON_DEMAND"} and len(auto["Shards"]) == 4
    shards = kinesis.list_shards(StreamName="clicks")["Shards"]
    assert [s["ShardId"] for s in shards] == [f"shardId-00000000000{i}" for i in range(4)]
    # The hash key space 0..2^128-1, split evenly as AWS splits it.
    assert shards[0]["HashKeyRange"]["StartingHashKey"] == "0"
    assert shards[1]["HashKeyRange"]["StartingHashKey"] == str(2**128 // 4)
    assert shards[3]["HashKeyRange"]["EndingHashKey"] == str(2**128 - 1)
    page = kinesis.list_shards(StreamName="clicks", MaxResults=3)
    rest = kinesis.list_shards(NextToken=page["NextToken"])["Shards"]
    assert [s["ShardId"] for s in page["Shards"] + rest] == [s["ShardId"] for s in shards]
    listed = kinesis.list_streams()
    assert listed["StreamNames"] == ["auto", "clicks"] and listed["HasMoreStreams"] is False
    assert kinesis.list_streams(Limit=1)["HasMoreStreams"] is True
    kinesis.delete_stream(StreamName="auto")
    assert kinesis.list_streams()["StreamNames"] == ["clicks"]
    assert error_of(kinesis.describe_stream, StreamName="auto")[0] == "ResourceNotFoundException"


def test_bad_stream_requests_get_kinesis_errors(kinesis: Any) -> None:
    kinesis.create_stream(StreamName="s", ShardCount=1)
    assert error_of(kinesis.create_stream, StreamName="s", ShardCount=1)[0] == "ResourceInUseException"
    assert error_of(kinesis.create_stream, StreamName="p")[0] == "InvalidArgumentException"
    assert error_of(kinesis.create_stream, StreamName="x", ShardCount=quotas.SHARDS_PER_ACCOUNT)[0] \
        == "LimitExceededException"
    assert error_of(kinesis.create_stream, StreamName="bad name!", ShardCount=1)[0] == "ValidationException"
    assert error_of(kinesis.put_record, StreamName="nope", Data=b"x", PartitionKey="k")[0] \
        == "ResourceNotFoundException"
    code, message = error_of(kinesis.put_record, StreamName="s", Data=b"x" * quotas.RECORD_MAX_BYTES,
                             PartitionKey="k")
    assert code == "InvalidArgumentException" and "1 MiB" in message
    code, _ = error_of(kinesis.get_records, ShardIterator="not-an-iterator")
    assert code == "InvalidArgumentException"
    assert kinesis.list_streams()["StreamNames"] == ["s"]  # nothing half-created


# -- records --------------------------------------------------------------------------


def test_partition_keys_hash_to_shards_by_md5(kinesis: Any) -> None:
    kinesis.create_stream(StreamName="s", ShardCount=4)
    shards = kinesis.list_shards(StreamName="s")["Shards"]
    for key in ("alice", "bob", "carol", "dave", "erin"):
        put = kinesis.put_record(StreamName="s", Data=key.encode(), PartitionKey=key)
        md5 = int(hashlib.md5(key.encode()).hexdigest(), 16)
        assert md5 == hash_key(key)
        owner = next(s for s in shards if int(s["HashKeyRange"]["StartingHashKey"]) <= md5
                     <= int(s["HashKeyRange"]["EndingHashKey"]))
        assert put["ShardId"] == owner["ShardId"]
        # AWS's sequence numbers: 56 decimal digits.
        assert len(put["SequenceNumber"]) == 56 and put["SequenceNumber"].isdigit()
    explicit = kinesis.put_record(StreamName="s", Data=b"x", PartitionKey="k", ExplicitHashKey=str(2**128 - 1))
    assert explicit["ShardId"] == "shardId-000000000003"


def test_put_records_and_every_iterator_type(kinesis: Any, clock: VirtualClock) -> None:
    kinesis.create_stream(StreamName="s", ShardCount=1)
    shard = "shardId-000000000000"
    first = kinesis.put_records(StreamName="s", Records=[
        {"Data": f"r{i}".encode(), "PartitionKey": "k"} for i in range(3)])
    assert first["FailedRecordCount"] == 0
    numbers = [r["SequenceNumber"] for r in first["Records"]]
    assert numbers == sorted(numbers, key=int) and len(set(numbers)) == 3
    clock.advance(60)
    later = kinesis.put_record(StreamName="s", Data=b"r3", PartitionKey="k")
    clock.advance(1)

    def data(records: list[Any]) -> list[bytes]:
        return [r["Data"] for r in records]

    assert data(all_records(kinesis, "s", shard)) == [b"r0", b"r1", b"r2", b"r3"]
    assert data(all_records(kinesis, "s", shard, "AT_SEQUENCE_NUMBER",
                            StartingSequenceNumber=numbers[1])) == [b"r1", b"r2", b"r3"]
    assert data(all_records(kinesis, "s", shard, "AFTER_SEQUENCE_NUMBER",
                            StartingSequenceNumber=numbers[1])) == [b"r2", b"r3"]
    assert data(all_records(kinesis, "s", shard, "AT_TIMESTAMP", Timestamp=clock.now() - 30)) == [b"r3"]
    clock.advance(1)
    latest = kinesis.get_shard_iterator(StreamName="s", ShardId=shard, ShardIteratorType="LATEST")
    kinesis.put_record(StreamName="s", Data=b"r4", PartitionKey="k")
    got = kinesis.get_records(ShardIterator=latest["ShardIterator"])
    assert data(got["Records"]) == [b"r4"] and got["MillisBehindLatest"] == 0
    assert got["Records"][0]["ApproximateArrivalTimestamp"].timestamp() == pytest.approx(clock.now())
    # An iterator lasts 5 minutes on the lab's clock.
    clock.advance(quotas.ITERATOR_TTL_S + 1)
    assert error_of(kinesis.get_records, ShardIterator=got["NextShardIterator"])[0] == "ExpiredIteratorException"
    assert counter_of(later["SequenceNumber"]) == counter_of(numbers[2]) + 1


def test_limit_pages_get_records_and_the_next_iterator_continues(kinesis: Any) -> None:
    kinesis.create_stream(StreamName="s", ShardCount=1)
    kinesis.put_records(StreamName="s", Records=[{"Data": bytes([i]), "PartitionKey": "k"} for i in range(5)])
    iterator = kinesis.get_shard_iterator(StreamName="s", ShardId="shardId-000000000000",
                                          ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    first = kinesis.get_records(ShardIterator=iterator, Limit=3)
    assert [r["Data"] for r in first["Records"]] == [b"\x00", b"\x01", b"\x02"]
    assert first["MillisBehindLatest"] >= 0
    second = kinesis.get_records(ShardIterator=first["NextShardIterator"], Limit=3)
    assert [r["Data"] for r in second["Records"]] == [b"\x03", b"\x04"]


def test_retention_on_the_labs_clock(kinesis: Any, clock: VirtualClock) -> None:
    kinesis.create_stream(StreamName="s", ShardCount=1)
    kinesis.put_record(StreamName="s", Data=b"old", PartitionKey="k")
    clock.advance(23 * 3600)
    kinesis.put_record(StreamName="s", Data=b"new", PartitionKey="k")
    clock.advance(3600 + 1)
    assert [r["Data"] for r in all_records(kinesis, "s", "shardId-000000000000")] == [b"new"]
    kinesis.increase_stream_retention_period(StreamName="s", RetentionPeriodHours=48)
    assert kinesis.describe_stream_summary(StreamName="s")["StreamDescriptionSummary"][
        "RetentionPeriodHours"] == 48
    code, _ = error_of(kinesis.increase_stream_retention_period, StreamName="s", RetentionPeriodHours=30)
    assert code == "InvalidArgumentException"
    clock.advance(24 * 3600)
    assert [r["Data"] for r in all_records(kinesis, "s", "shardId-000000000000")] == [b"new"]


def test_a_shard_takes_1000_records_a_second_then_throttles(kinesis: Any, clock: VirtualClock) -> None:
    kinesis.create_stream(StreamName="s", ShardCount=1)
    batch = [{"Data": b"x", "PartitionKey": "k"} for _ in range(quotas.PUT_RECORDS_MAX_ENTRIES)]
    assert kinesis.put_records(StreamName="s", Records=batch)["FailedRecordCount"] == 0
    assert kinesis.put_records(StreamName="s", Records=batch)["FailedRecordCount"] == 0
    third = kinesis.put_records(StreamName="s", Records=batch[:2])
    assert third["FailedRecordCount"] == 2
    assert third["Records"][0]["ErrorCode"] == "ProvisionedThroughputExceededException"
    assert error_of(kinesis.put_record, StreamName="s", Data=b"x", PartitionKey="k")[0] \
        == "ProvisionedThroughputExceededException"
    clock.advance(1)  # the next second of the lab's clock
    assert "SequenceNumber" in kinesis.put_record(StreamName="s", Data=b"x", PartitionKey="k")
    assert len(all_records(kinesis, "s", "shardId-000000000000")) == 1001  # throttled ones were not kept


def test_a_shard_serves_five_reads_a_second(kinesis: Any, clock: VirtualClock) -> None:
    kinesis.create_stream(StreamName="s", ShardCount=1)
    iterator = kinesis.get_shard_iterator(StreamName="s", ShardId="shardId-000000000000",
                                          ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    for _ in range(quotas.SHARD_READ_CALLS_PER_S):
        iterator = kinesis.get_records(ShardIterator=iterator)["NextShardIterator"]
    assert error_of(kinesis.get_records, ShardIterator=iterator)[0] == "ProvisionedThroughputExceededException"
    clock.advance(1)
    assert kinesis.get_records(ShardIterator=iterator)["Records"] == []


def test_the_aws_cli_puts_and_reads_records(edge: EdgeServer) -> None:
    aws_cli(edge.url, "kinesis", "create-stream", "--stream-name", "cli", "--shard-count", "1")
    put = aws_cli(edge.url, "kinesis", "put-record", "--stream-name", "cli", "--partition-key", "k",
                  "--data", "hello")  # CLI v1 sends a blob's text as its bytes
    assert put["ShardId"] == "shardId-000000000000"
    iterator = aws_cli(edge.url, "kinesis", "get-shard-iterator", "--stream-name", "cli", "--shard-id",
                       put["ShardId"], "--shard-iterator-type", "TRIM_HORIZON")["ShardIterator"]
    got = aws_cli(edge.url, "kinesis", "get-records", "--shard-iterator", iterator)
    assert got["Records"][0]["Data"] == "aGVsbG8=" and got["Records"][0]["SequenceNumber"] == put["SequenceNumber"]


# -- durability -----------------------------------------------------------------------


def test_an_acknowledged_put_record_survives_sigkill_of_the_server(tmp_path: Path) -> None:
    data = tmp_path / "d"
    acknowledged = []
    with killed_server(data) as url:
        kinesis = client_for(url, "kinesis")
        kinesis.create_stream(StreamName="s", ShardCount=2)
        for n in range(200):
            put = kinesis.put_record(StreamName="s", Data=str(n).encode(), PartitionKey=str(n))
            acknowledged.append((put["ShardId"], put["SequenceNumber"]))
    with Lab(data) as lab:
        from lambdalab_kinesis import kinesis_of

        streams = kinesis_of(lab).streams
        kept = {(shard, record.sequence_number) for shard in ("shardId-000000000000", "shardId-000000000001")
                for _, record in streams.read("s", shard, 0, 1000)}
    assert set(acknowledged) <= kept and len(acknowledged) == 200


# -- resharding -----------------------------------------------------------------------


def test_split_and_merge_close_parents_and_route_to_children(kinesis: Any) -> None:
    kinesis.create_stream(StreamName="s", ShardCount=1)
    before = kinesis.put_record(StreamName="s", Data=b"before", PartitionKey="k")
    parent = "shardId-000000000000"
    kinesis.split_shard(StreamName="s", ShardToSplit=parent, NewStartingHashKey=str(2**127))
    shards = {s["ShardId"]: s for s in kinesis.list_shards(StreamName="s")["Shards"]}
    assert sorted(shards) == [parent, "shardId-000000000001", "shardId-000000000002"]
    assert "EndingSequenceNumber" in shards[parent]["SequenceNumberRange"]
    assert shards["shardId-000000000001"]["ParentShardId"] == parent
    assert shards["shardId-000000000002"]["HashKeyRange"]["StartingHashKey"] == str(2**127)
    after = kinesis.put_record(StreamName="s", Data=b"after", PartitionKey="k")
    assert after["ShardId"] != parent and int(after["SequenceNumber"]) > int(before["SequenceNumber"])
    # The parent is read to its end, then GetRecords names its children.
    iterator = kinesis.get_shard_iterator(StreamName="s", ShardId=parent,
                                          ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    got = kinesis.get_records(ShardIterator=iterator)
    assert [r["Data"] for r in got["Records"]] == [b"before"]
    assert "NextShardIterator" not in got
    assert sorted(c["ShardId"] for c in got["ChildShards"]) == ["shardId-000000000001", "shardId-000000000002"]
    open_shards = kinesis.list_shards(StreamName="s", ShardFilter={"Type": "AT_LATEST"})["Shards"]
    assert [s["ShardId"] for s in open_shards] == ["shardId-000000000001", "shardId-000000000002"]
    kinesis.merge_shards(StreamName="s", ShardToMerge="shardId-000000000001",
                         AdjacentShardToMerge="shardId-000000000002")
    merged = kinesis.list_shards(StreamName="s", ShardFilter={"Type": "AT_LATEST"})["Shards"]
    assert [(s["ShardId"], s["ParentShardId"], s["AdjacentParentShardId"]) for s in merged] == [
        ("shardId-000000000003", "shardId-000000000001", "shardId-000000000002")]
    assert merged[0]["HashKeyRange"] == {"StartingHashKey": "0", "EndingHashKey": str(2**128 - 1)}
    code, _ = error_of(kinesis.split_shard, StreamName="s", ShardToSplit=parent, NewStartingHashKey="5")
    assert code == "ResourceInUseException"
    code, _ = error_of(kinesis.split_shard, StreamName="s", ShardToSplit="shardId-000000000003",
                       NewStartingHashKey="0")
    assert code == "InvalidArgumentException"


def test_update_shard_count_scales_uniformly(kinesis: Any) -> None:
    kinesis.create_stream(StreamName="s", ShardCount=2)
    answer = kinesis.update_shard_count(StreamName="s", TargetShardCount=4, ScalingType="UNIFORM_SCALING")
    assert (answer["CurrentShardCount"], answer["TargetShardCount"]) == (2, 4)
    summary = kinesis.describe_stream_summary(StreamName="s")["StreamDescriptionSummary"]
    assert summary["OpenShardCount"] == 4
    open_shards = kinesis.list_shards(StreamName="s", ShardFilter={"Type": "AT_LATEST"})["Shards"]
    assert [s["ParentShardId"] for s in open_shards] == ["shardId-000000000000"] * 2 + ["shardId-000000000001"] * 2
    code, _ = error_of(kinesis.update_shard_count, StreamName="s", TargetShardCount=9,
                       ScalingType="UNIFORM_SCALING")
    assert code == "InvalidArgumentException"


# -- hostile input --------------------------------------------------------------------

FUZZED = ("CreateStream", "DescribeStream", "DescribeStreamSummary", "ListStreams", "ListShards",
          "PutRecord", "PutRecords", "GetShardIterator", "GetRecords", "DeleteStream",
          "SplitShard", "MergeShards", "UpdateShardCount", "IncreaseStreamRetentionPeriod")


@pytest.fixture
def fuzz_world(edge: EdgeServer) -> EdgeServer:
    """A stream with a record, so that some requests get past "not found"."""
    kinesis = client_for(edge.url, "kinesis")
    kinesis.create_stream(StreamName="s", ShardCount=2)
    kinesis.put_record(StreamName="s", Data=b"x", PartitionKey="k")
    return edge


@settings(FUZZ, max_examples=120)
@given(request=operation_and_input("kinesis", FUZZED))
def test_kinesis_never_fails_internally(fuzz_world: EdgeServer, request: Any) -> None:
    """Property: malformed inputs (wrong types, missing members, long strings, deep JSON)
    from botocore's kinesis shapes get a 4xx that botocore parses, never a 5xx."""
    op, params = request
    headers = {"X-Amz-Target": f"Kinesis_20131202.{op.name}",
               "Content-Type": "application/x-amz-json-1.1", **signed_for("kinesis")}
    judge("kinesis", "json", op, "POST", send(fuzz_world.url, "POST", "/", headers, to_json(params)))


def test_forged_iterators_and_keys_are_client_errors(kinesis: Any) -> None:
    kinesis.create_stream(StreamName="s", ShardCount=1)
    for forged in (["s", "shardId-000000000000", "x", 0, 0], ["s", 5, 0, 0, 0], "[]", [1e308] * 5,
                   ["s", "shardId-000000000000", 2**70, 0, 0]):
        token = base64.urlsafe_b64encode(json.dumps(forged).encode()).decode()
        assert error_of(kinesis.get_records, ShardIterator=token)[0] in (
            "InvalidArgumentException", "ResourceNotFoundException", "ExpiredIteratorException")
    code, _ = error_of(kinesis.put_record, StreamName="s", Data=b"x", PartitionKey="k",
                       ExplicitHashKey=str(2**128))
    assert code == "InvalidArgumentException"
    headers = {"X-Amz-Target": "Kinesis_20131202.PutRecord",
               "Content-Type": "application/x-amz-json-1.1", **signed_for("kinesis")}
    status, _, answer = send(kinesis.meta.endpoint_url, "POST", "/", headers,
                             b'{"StreamName": "s", "Data": "eA==", "PartitionKey": "\\ud800"}')
    # a lone surrogate is no character: the protocol layer refuses the body (was a 500)
    assert status == 400 and b"SerializationException" in answer, answer
    for target, body in (("ListShards", b'{"NextToken": "name:\\ud800/x"}'),
                         ("DescribeStream", b'{"StreamARN": "arn:aws:kinesis:us-east-1:000000000000:stream/\\ud800"}')):
        headers["X-Amz-Target"] = f"Kinesis_20131202.{target}"
        status, _, answer = send(kinesis.meta.endpoint_url, "POST", "/", headers, body)
        assert status == 400 and b"SerializationException" in answer, answer  # were 500s
    forged = base64.urlsafe_b64encode(json.dumps(["\ud800", "shardId-000000000000", 0, 1_700_000_000, 0]).encode())
    assert error_of(kinesis.get_records, ShardIterator=forged.decode())[0] == "ResourceNotFoundException"
    first = kinesis.put_record(StreamName="s", Data=b"x", PartitionKey="k")["SequenceNumber"]
    far = str(int(first) + (2**70 << 40))  # this shard's prefix, a counter past any stream's
    for number in ("12345", far):
        code, _ = error_of(kinesis.get_shard_iterator, StreamName="s", ShardId="shardId-000000000000",
                           ShardIteratorType="AT_SEQUENCE_NUMBER", StartingSequenceNumber=number)
        assert code == "InvalidArgumentException"


# -- the command line -----------------------------------------------------------------


def test_cli_kinesis_commands(tmp_path: Path, code: Any) -> None:
    from click.testing import CliRunner

    from lambdalab.cli.app import main

    data = str(tmp_path / "cli-data")

    def run(*args: str) -> Any:
        return CliRunner().invoke(main, ["--data-dir", data, *args], catch_exceptions=False)

    assert "Created stream clicks with 2 shards" in run("kinesis", "create-stream", "clicks", "--shards", "2").output
    assert "Put " in run("kinesis", "put", "clicks", "hello", "--key", "user-1").output
    assert "clicks" in run("kinesis", "list").output
    line = json.loads(run("kinesis", "read", "clicks").output.splitlines()[0])
    assert (line["Data"], line["PartitionKey"]) == ("hello", "user-1")
    missing = run("kinesis", "put", "nope", "x", "--key", "k")
    assert missing.exit_code == 2 and "ResourceNotFoundException" in missing.output
    assert run("create", "reader", "--code", str(code(app="def handler(e, c):\n    return None\n")),
               "--handler", "app.handler").exit_code == 0
    created = run("kinesis", "map", "reader", "clicks", "--retries", "2", "--bisect")
    assert "Created mapping" in created.output, created.output
    uuid = created.output.split("Created mapping ", 1)[1].split(":", 1)[0]
    assert uuid in run("esm", "list").output
    assert run("esm", "delete", uuid).exit_code == 0
