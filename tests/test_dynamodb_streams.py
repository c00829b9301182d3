"""DynamoDB Streams, judged by boto3's ``dynamodbstreams`` client against the edge, and a
table's stream feeding a function through an event source mapping: a DynamoDB write
reaches the function as the record AWS sends. The lab runs on a VirtualClock, so
iterator expiry, retention and TTL need no waiting."""

from __future__ import annotations

import json
from typing import Any

import botocore.exceptions
import pytest

from lambdalab import Lab, VirtualClock
from lambdalab.server import EdgeServer
from lambdalab import service_events
from lambdalab_dynamodb import DynamoDbShardSource, dynamodb_of

from .edge_support import client_for, create, edge  # noqa: F401  (fixtures)

TABLE = {
    "TableName": "orders",
    "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
    "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
    "BillingMode": "PAY_PER_REQUEST",
}


@pytest.fixture
def ddb(edge: EdgeServer) -> Any:
    return client_for(edge.url, "dynamodb")


@pytest.fixture
def streams(edge: EdgeServer) -> Any:
    return client_for(edge.url, "dynamodbstreams")


def table_with_stream(ddb: Any, view: str = "NEW_AND_OLD_IMAGES") -> str:
    table = ddb.create_table(**TABLE, StreamSpecification={"StreamEnabled": True, "StreamViewType": view})
    return str(table["TableDescription"]["LatestStreamArn"])


def iterator(streams: Any, arn: str, kind: str = "TRIM_HORIZON", **more: Any) -> str:
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    return str(streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType=kind,
                                          **more)["ShardIterator"])


def write_put_update_delete(ddb: Any) -> None:
    ddb.put_item(TableName="orders", Item={"id": {"S": "1"}, "amount": {"N": "10"}})
    ddb.update_item(TableName="orders", Key={"id": {"S": "1"}}, UpdateExpression="SET amount = :t",
                    ExpressionAttributeValues={":t": {"N": "12"}})
    ddb.delete_item(TableName="orders", Key={"id": {"S": "1"}})


IMAGES = {
    "KEYS_ONLY": [set(), set(), set()],
    "NEW_IMAGE": [{"NewImage"}, {"NewImage"}, set()],
    "OLD_IMAGE": [set(), {"OldImage"}, {"OldImage"}],
    "NEW_AND_OLD_IMAGES": [{"NewImage"}, {"NewImage", "OldImage"}, {"OldImage"}],
}


@pytest.mark.parametrize("view", sorted(IMAGES))
def test_insert_modify_remove_records_carry_the_images_their_view_type_asks(
        ddb: Any, streams: Any, view: str) -> None:
    arn = table_with_stream(ddb, view)
    write_put_update_delete(ddb)
    records = streams.get_records(ShardIterator=iterator(streams, arn))["Records"]
    assert [r["eventName"] for r in records] == ["INSERT", "MODIFY", "REMOVE"]
    for record, images in zip(records, IMAGES[view]):
        body = record["dynamodb"]
        assert body["Keys"] == {"id": {"S": "1"}} and body["StreamViewType"] == view
        assert {k for k in body if k.endswith("Image")} == images
        assert record["eventSource"] == "aws:dynamodb" and record["eventVersion"] == "1.1"
    numbers = [int(r["dynamodb"]["SequenceNumber"]) for r in records]
    assert numbers == sorted(numbers) and len(set(numbers)) == 3
    if view == "NEW_AND_OLD_IMAGES":
        modify = records[1]["dynamodb"]
        assert modify["OldImage"]["amount"] == {"N": "10"} and modify["NewImage"]["amount"] == {"N": "12"}


def test_list_and_describe_streams(ddb: Any, streams: Any) -> None:
    arn = table_with_stream(ddb)
    ddb.create_table(**{**TABLE, "TableName": "plain"})
    assert streams.list_streams()["Streams"] == [
        {"StreamArn": arn, "TableName": "orders", "StreamLabel": arn.rsplit("/", 1)[1]}]
    described = streams.describe_stream(StreamArn=arn)["StreamDescription"]
    assert described["StreamStatus"] == "ENABLED" and described["TableName"] == "orders"
    assert described["KeySchema"] == TABLE["KeySchema"]
    assert ddb.describe_table(TableName="orders")["Table"]["StreamSpecification"] == {
        "StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
    with pytest.raises(streams.exceptions.ResourceNotFoundException):
        streams.describe_stream(StreamArn=arn + "x")


def test_every_iterator_type_starts_where_aws_says(ddb: Any, streams: Any) -> None:
    arn = table_with_stream(ddb, "KEYS_ONLY")
    for n in range(3):
        ddb.put_item(TableName="orders", Item={"id": {"S": str(n)}})
    first, second, third = streams.get_records(ShardIterator=iterator(streams, arn))["Records"]
    number = second["dynamodb"]["SequenceNumber"]
    at = streams.get_records(ShardIterator=iterator(streams, arn, "AT_SEQUENCE_NUMBER", SequenceNumber=number))
    assert [r["dynamodb"]["Keys"]["id"]["S"] for r in at["Records"]] == ["1", "2"]
    after = streams.get_records(ShardIterator=iterator(streams, arn, "AFTER_SEQUENCE_NUMBER", SequenceNumber=number))
    assert [r["dynamodb"]["Keys"]["id"]["S"] for r in after["Records"]] == ["2"]
    latest = iterator(streams, arn, "LATEST")
    assert streams.get_records(ShardIterator=latest)["Records"] == []
    ddb.put_item(TableName="orders", Item={"id": {"S": "new"}})
    page = streams.get_records(ShardIterator=latest, Limit=1)
    assert [r["dynamodb"]["Keys"]["id"]["S"] for r in page["Records"]] == ["new"]
    assert streams.get_records(ShardIterator=page["NextShardIterator"])["Records"] == []


def test_iterators_expire_and_records_are_trimmed_on_the_lab_clock(
        ddb: Any, streams: Any, clock: VirtualClock) -> None:
    arn = table_with_stream(ddb)
    ddb.put_item(TableName="orders", Item={"id": {"S": "old"}})
    stale = iterator(streams, arn)
    clock.advance(15 * 60 + 1)
    with pytest.raises(streams.exceptions.ExpiredIteratorException):
        streams.get_records(ShardIterator=stale)
    clock.advance(24 * 3600)
    ddb.put_item(TableName="orders", Item={"id": {"S": "fresh"}})
    records = streams.get_records(ShardIterator=iterator(streams, arn))["Records"]
    assert [r["dynamodb"]["Keys"]["id"]["S"] for r in records] == ["fresh"]


def test_disabling_the_stream_closes_its_shard(ddb: Any, streams: Any) -> None:
    arn = table_with_stream(ddb)
    ddb.put_item(TableName="orders", Item={"id": {"S": "1"}})
    ddb.update_table(TableName="orders", StreamSpecification={"StreamEnabled": False})
    described = streams.describe_stream(StreamArn=arn)["StreamDescription"]
    assert described["StreamStatus"] == "DISABLED"
    assert "EndingSequenceNumber" in described["Shards"][0]["SequenceNumberRange"]
    page = streams.get_records(ShardIterator=iterator(streams, arn))
    assert len(page["Records"]) == 1
    assert "NextShardIterator" not in streams.get_records(ShardIterator=page["NextShardIterator"])


def test_bad_iterators_are_validation_errors(ddb: Any, streams: Any) -> None:
    table_with_stream(ddb)
    with pytest.raises(botocore.exceptions.ClientError) as raised:
        streams.get_records(ShardIterator="not-an-iterator" * 3)
    assert raised.value.response["Error"]["Code"] == "ValidationException"


def test_a_ttl_delete_is_a_remove_record_by_the_dynamodb_service(
        ddb: Any, streams: Any, lab: Lab, clock: VirtualClock) -> None:
    arn = table_with_stream(ddb)
    ddb.update_time_to_live(TableName="orders", TimeToLiveSpecification={"Enabled": True, "AttributeName": "ttl"})
    ddb.put_item(TableName="orders", Item={"id": {"S": "1"}, "ttl": {"N": str(int(clock.now()) + 10)}})
    clock.advance(11)
    dynamodb_of(lab).tables.sweep_expired()
    insert, remove = streams.get_records(ShardIterator=iterator(streams, arn))["Records"]
    assert remove["eventName"] == "REMOVE"
    assert remove["userIdentity"] == {"PrincipalId": "dynamodb.amazonaws.com", "Type": "Service"}
    assert "userIdentity" not in insert


RECORDER = """
import json

def handler(event, context):
    print("EVENT " + json.dumps(event))
"""


def events_of(lab: Lab, name: str) -> list[dict[str, Any]]:
    return [json.loads(e.message.split("EVENT ", 1)[1]) for e in lab.get_logs(name) if "EVENT " in e.message]


def test_a_dynamodb_write_reaches_a_function_as_the_record_aws_sends(
        edge: EdgeServer, ddb: Any, lab: Lab) -> None:
    lambda_ = client_for(edge.url)
    create(lambda_, "audit", RECORDER)
    arn = table_with_stream(ddb)
    mapping = lambda_.create_event_source_mapping(FunctionName="audit", EventSourceArn=arn,
                                                  StartingPosition="TRIM_HORIZON", BatchSize=10)
    assert mapping["EventSourceArn"] == arn
    ddb.put_item(TableName="orders", Item={"id": {"S": "1"}, "amount": {"N": "10"}, "pic": {"B": b"\x01"}})
    ddb.update_item(TableName="orders", Key={"id": {"S": "1"}}, UpdateExpression="SET amount = :t",
                    ExpressionAttributeValues={":t": {"N": "12"}})
    mappings = dynamodb_of(lab).mappings
    assert mappings.wait_idle(timeout=120)
    records = [r for event in events_of(lab, "audit") for r in event["Records"]]
    assert [r["eventName"] for r in records] == ["INSERT", "MODIFY"]
    insert = records[0]
    sample = service_events.generate("dynamodb", table="orders", key="id", item={"id": "1", "amount": 10})["Records"][0]
    assert insert.keys() == sample.keys()
    assert insert["dynamodb"].keys() == sample["dynamodb"].keys() - {"OldImage"}
    assert insert["eventSourceARN"] == arn and insert["awsRegion"] == "us-east-1"
    assert insert["dynamodb"]["NewImage"] == {"id": {"S": "1"}, "amount": {"N": "10"}, "pic": {"B": "AQ=="}}
    assert isinstance(insert["dynamodb"]["ApproximateCreationDateTime"], int)
    assert records[1]["dynamodb"]["OldImage"]["amount"] == {"N": "10"}


def test_filter_criteria_on_a_table_stream_match_the_record_as_aws_filters_it(
        edge: EdgeServer, ddb: Any, lab: Lab) -> None:
    """A DynamoDB stream record is filtered whole (``eventName``, ``dynamodb.NewImage``
    in DynamoDB JSON), as AWS's "Filtering DynamoDB" examples write the patterns
    (https://docs.aws.amazon.com/lambda/latest/dg/with-ddb-filtering.html); records no
    filter matches are passed over, never invoked."""
    lambda_ = client_for(edge.url)
    create(lambda_, "audit", RECORDER)
    arn = table_with_stream(ddb)
    # the page's own form: DynamoDB JSON under "dynamodb" (numbers are strings in "N")
    pattern = {"eventName": ["INSERT", "MODIFY"],
               "dynamodb": {"NewImage": {"status": {"S": ["paid"]}}}}
    lambda_.create_event_source_mapping(FunctionName="audit", EventSourceArn=arn,
                                        StartingPosition="TRIM_HORIZON",
                                        FilterCriteria={"Filters": [{"Pattern": json.dumps(pattern)}]})
    ddb.put_item(TableName="orders", Item={"id": {"S": "a"}, "status": {"S": "pending"}})
    ddb.put_item(TableName="orders", Item={"id": {"S": "b"}, "status": {"S": "paid"}})
    ddb.update_item(TableName="orders", Key={"id": {"S": "a"}}, UpdateExpression="SET #s = :p",
                    ExpressionAttributeNames={"#s": "status"},
                    ExpressionAttributeValues={":p": {"S": "paid"}})
    ddb.delete_item(TableName="orders", Key={"id": {"S": "b"}})
    assert dynamodb_of(lab).mappings.wait_idle(timeout=120)
    seen = [(r["eventName"], r["dynamodb"]["Keys"]["id"]["S"])
            for e in events_of(lab, "audit") for r in e["Records"]]
    assert seen == [("INSERT", "b"), ("MODIFY", "a")]


def test_a_mapping_on_a_stream_starts_at_trim_horizon_or_latest_only(edge: EdgeServer, ddb: Any, lab: Lab) -> None:
    lambda_ = client_for(edge.url)
    create(lambda_, "audit", RECORDER)
    arn = table_with_stream(ddb)
    with pytest.raises(lambda_.exceptions.InvalidParameterValueException, match="TRIM_HORIZON or LATEST"):
        lambda_.create_event_source_mapping(FunctionName="audit", EventSourceArn=arn,
                                            StartingPosition="AT_TIMESTAMP", StartingPositionTimestamp=1)
    with pytest.raises(lambda_.exceptions.InvalidParameterValueException, match="Stream not found"):
        lambda_.create_event_source_mapping(FunctionName="audit", EventSourceArn=arn + "0",
                                            StartingPosition="LATEST")
    assert lambda_.list_event_source_mappings()["EventSourceMappings"] == []
    ddb.put_item(TableName="orders", Item={"id": {"S": "before"}})
    lambda_.create_event_source_mapping(FunctionName="audit", EventSourceArn=arn, StartingPosition="LATEST")
    ddb.put_item(TableName="orders", Item={"id": {"S": "after"}})
    assert dynamodb_of(lab).mappings.wait_idle(timeout=120)
    keys = [r["dynamodb"]["Keys"]["id"]["S"] for e in events_of(lab, "audit") for r in e["Records"]]
    assert keys == ["after"]


def test_without_the_kinesis_plugin_tables_work_and_mappings_are_refused(tmp_path: Any, monkeypatch: Any) -> None:
    """The stream mapping engine is the Kinesis plugin's: without it loaded, DynamoDB and
    its streams still work, and a mapping on a stream says no plugin keeps it."""
    import lambdalab

    monkeypatch.setenv("LAMBDALAB_PLUGINS", "thread,dynamodb")
    with Lab(tmp_path / "d") as lab:
        lab.create_function("audit", code=lambda event, context: None)
        tables = dynamodb_of(lab).tables
        table = tables.create_table({**TABLE, "StreamSpecification": {"StreamEnabled": True,
                                                                     "StreamViewType": "KEYS_ONLY"}})
        tables.put_item("orders", {"id": {"S": "1"}})
        arn = tables.describe(table)["LatestStreamArn"]
        assert len(dynamodb_of(lab).streams.records_after(arn, 0, 10)) == 1
        with pytest.raises(lambdalab.InvalidParameterValueException, match="No loaded plugin keeps"):
            lab.create_event_source_mapping("audit", event_source_arn=arn, starting_position="LATEST")


def test_the_minutely_sweep_forgets_records_past_retention(ddb: Any, lab: Lab, clock: VirtualClock) -> None:
    table_with_stream(ddb)
    ddb.put_item(TableName="orders", Item={"id": {"S": "1"}})
    count = "SELECT count(*) FROM dynamodb_stream_records"
    assert lab.store.query(count)[0][0] == 1
    clock.advance(24 * 3600 + 60)
    assert lab.store.query(count)[0][0] == 0


def test_a_stream_has_a_shard_per_partition_and_keeps_each_items_records_in_one(
        ddb: Any, streams: Any, lab: Lab) -> None:
    """A provisioned table of 3,000 RCU and 3,000 WCU has 3000/3000 + 3000/1000 = 4
    partitions, so its stream four shards; each key's records go to one shard, in order
    (what a mapping's per-shard concurrency reads)."""
    ddb.create_table(TableName="wide", KeySchema=TABLE["KeySchema"],
                     AttributeDefinitions=TABLE["AttributeDefinitions"],
                     ProvisionedThroughput={"ReadCapacityUnits": 3000, "WriteCapacityUnits": 3000},
                     StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"})
    arn = ddb.describe_table(TableName="wide")["Table"]["LatestStreamArn"]
    for round_ in range(3):
        for key in range(20):
            ddb.put_item(TableName="wide", Item={"id": {"S": str(key)}, "round": {"N": str(round_)}})
    shards = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]
    assert len({s["ShardId"] for s in shards}) == 4
    seen: dict[str, list[int]] = {}
    for shard in shards:
        it = streams.get_shard_iterator(StreamArn=arn, ShardId=shard["ShardId"],
                                        ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        records = streams.get_records(ShardIterator=it)["Records"]
        assert records, "every shard gets some of 20 keys"
        numbers = [int(r["dynamodb"]["SequenceNumber"]) for r in records]
        assert numbers == sorted(numbers)
        for record in records:
            key = record["dynamodb"]["Keys"]["id"]["S"]
            assert key not in seen or seen[key][0] == shards.index(shard)
            seen.setdefault(key, [shards.index(shard)]).append(int(record["dynamodb"]["NewImage"]["round"]["N"]))
    assert {k: v[1:] for k, v in seen.items()} == {str(k): [0, 1, 2] for k in range(20)}
    assert [s.shard_id for s in DynamoDbShardSource.of(dynamodb_of(lab).streams, arn).shards()] == \
        [s["ShardId"] for s in shards]
    error = error_of_shard(streams, arn)
    assert error == "ResourceNotFoundException"


def error_of_shard(streams: Any, arn: str) -> str:
    with pytest.raises(botocore.exceptions.ClientError) as raised:
        streams.get_shard_iterator(StreamArn=arn, ShardId="shardId-00000000000000000000-00000000", ShardIteratorType="LATEST")
    return str(raised.value.response["Error"]["Code"])


def test_a_mapping_reads_every_shard_of_a_wide_tables_stream_in_order_per_key(
        edge: EdgeServer, ddb: Any, lab: Lab) -> None:
    lambda_ = client_for(edge.url)
    create(lambda_, "audit", RECORDER)
    ddb.create_table(TableName="wide", KeySchema=TABLE["KeySchema"],
                     AttributeDefinitions=TABLE["AttributeDefinitions"],
                     ProvisionedThroughput={"ReadCapacityUnits": 3000, "WriteCapacityUnits": 3000},
                     StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"})
    arn = ddb.describe_table(TableName="wide")["Table"]["LatestStreamArn"]
    lambda_.create_event_source_mapping(FunctionName="audit", EventSourceArn=arn,
                                        StartingPosition="TRIM_HORIZON", BatchSize=5)
    for round_ in range(3):
        for key in range(12):
            ddb.put_item(TableName="wide", Item={"id": {"S": str(key)}, "round": {"N": str(round_)}})
    assert dynamodb_of(lab).mappings.wait_idle(timeout=120)
    batches = [[(r["dynamodb"]["Keys"]["id"]["S"], r["dynamodb"]["NewImage"]["round"]["N"])
                for r in event["Records"]] for event in events_of(lab, "audit")]
    rounds: dict[str, list[str]] = {}
    for batch in batches:
        for key, round_ in batch:
            rounds.setdefault(key, []).append(round_)
    assert rounds == {str(k): ["0", "1", "2"] for k in range(12)}
