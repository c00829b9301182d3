"""Provisioned throughput, metered as DynamoDB meters it on the lab's VirtualClock:
boto3 against the edge sees ProvisionedThroughputExceededException on single requests
and UnprocessedItems/UnprocessedKeys in batches once a table's capacity and its
300-second burst are spent; the clock's advance refills it. On-demand tables are not
throttled."""

from __future__ import annotations

from typing import Any

import pytest

from lambdalab import VirtualClock
from lambdalab.server import EdgeServer

from .edge_support import client_for, edge  # noqa: F401  (fixtures)
from .test_dynamodb import error_of

BURST_S = 300


def make_table(ddb: Any, name: str, reads: int = 1, writes: int = 1) -> None:
    params: dict[str, Any] = {
        "TableName": name, "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
        "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}]}
    if reads:
        params["ProvisionedThroughput"] = {"ReadCapacityUnits": reads, "WriteCapacityUnits": writes}
    else:
        params["BillingMode"] = "PAY_PER_REQUEST"
    ddb.create_table(**params)


@pytest.fixture
def ddb(edge: EdgeServer) -> Any:
    return client_for(edge.url, "dynamodb")


def put(ddb: Any, table: str, key: str, size: int = 10) -> None:
    ddb.put_item(TableName=table, Item={"id": {"S": key}, "body": {"S": "x" * size}})


def test_writes_are_throttled_once_capacity_and_burst_are_spent(ddb: Any, clock: VirtualClock) -> None:
    make_table(ddb, "slow", reads=1, writes=2)
    for i in range(2 * BURST_S):  # 2 WCU kept for 300 s: 600 one-KB writes at once
        put(ddb, "slow", str(i))
    error = error_of(lambda: put(ddb, "slow", "over"))["Error"]
    assert error["Code"] == "ProvisionedThroughputExceededException"
    assert "provisioned throughput for the table was exceeded" in error["Message"]
    assert "Item" not in ddb.get_item(TableName="slow", Key={"id": {"S": "over"}})
    clock.advance(1)  # one second earns 2 units: two writes, not three
    put(ddb, "slow", "a")
    put(ddb, "slow", "b")
    assert error_of(lambda: put(ddb, "slow", "c"))["Error"]["Code"] == "ProvisionedThroughputExceededException"


def test_a_write_costs_a_unit_per_kilobyte(ddb: Any, clock: VirtualClock) -> None:
    make_table(ddb, "big", reads=1, writes=1)
    for i in range(BURST_S // 3):  # a 2.5 KB item costs 3 units
        put(ddb, "big", str(i), size=2500)
    assert error_of(lambda: put(ddb, "big", "one-more"))["Error"]["Code"] == "ProvisionedThroughputExceededException"
    clock.advance(BURST_S * 10)  # a long idle keeps only 300 s of capacity
    for i in range(BURST_S):
        put(ddb, "big", f"small-{i}")
    assert error_of(lambda: put(ddb, "big", "again"))["Error"]["Code"] == "ProvisionedThroughputExceededException"


def test_eventually_consistent_reads_cost_half(ddb: Any, clock: VirtualClock) -> None:
    make_table(ddb, "reads", reads=1, writes=5)
    put(ddb, "reads", "k")
    for _ in range(2 * BURST_S):  # 0.5 unit each
        ddb.get_item(TableName="reads", Key={"id": {"S": "k"}})
    assert error_of(ddb.get_item, TableName="reads", Key={"id": {"S": "k"}})["Error"]["Code"] == \
        "ProvisionedThroughputExceededException"
    clock.advance(1)
    ddb.get_item(TableName="reads", Key={"id": {"S": "k"}}, ConsistentRead=True)  # 1 unit
    assert error_of(ddb.query, TableName="reads", KeyConditionExpression="id = :k",
                    ExpressionAttributeValues={":k": {"S": "k"}})["Error"]["Code"] == \
        "ProvisionedThroughputExceededException"


def test_batches_answer_what_capacity_did_not_admit_as_unprocessed(ddb: Any, clock: VirtualClock) -> None:
    make_table(ddb, "batch", reads=1, writes=1)
    for i in range(BURST_S - 10):
        put(ddb, "batch", f"pre-{i}")
    writes = [{"PutRequest": {"Item": {"id": {"S": f"b-{i}"}}}} for i in range(25)]
    left = ddb.batch_write_item(RequestItems={"batch": writes})["UnprocessedItems"]
    assert left == {"batch": writes[10:]}
    assert ddb.get_item(TableName="batch", Key={"id": {"S": "b-9"}})["Item"]
    assert "Item" not in ddb.get_item(TableName="batch", Key={"id": {"S": "b-10"}})
    error = error_of(ddb.batch_write_item, RequestItems={"batch": writes[10:]})["Error"]
    assert error["Code"] == "ProvisionedThroughputExceededException"  # none admitted: refused whole
    clock.advance(BURST_S)
    assert ddb.batch_write_item(RequestItems={"batch": writes[10:]})["UnprocessedItems"] == {}

    keys = [{"id": {"S": f"b-{i}"}} for i in range(25)]
    ddb.get_item(TableName="batch", Key=keys[0])  # let reads be spent: 2 * 300 - 10 reads of 0.5
    for _ in range(2 * BURST_S - 11):
        ddb.get_item(TableName="batch", Key=keys[0])
    got = ddb.batch_get_item(RequestItems={"batch": {"Keys": keys, "ConsistentRead": False}})
    assert len(got["Responses"]["batch"]) == 10
    assert got["UnprocessedKeys"] == {"batch": {"Keys": keys[10:], "ConsistentRead": False}}


def test_on_demand_tables_are_not_throttled(ddb: Any) -> None:
    make_table(ddb, "free", reads=0)
    for i in range(2 * BURST_S):
        put(ddb, "free", str(i), size=3000)
    writes = [{"PutRequest": {"Item": {"id": {"S": f"b-{i}"}}}} for i in range(25)]
    assert ddb.batch_write_item(RequestItems={"free": writes})["UnprocessedItems"] == {}


def test_update_table_raises_the_rate(ddb: Any, clock: VirtualClock) -> None:
    make_table(ddb, "grow", reads=1, writes=1)
    for i in range(BURST_S):
        put(ddb, "grow", str(i))
    assert error_of(lambda: put(ddb, "grow", "x"))["Error"]["Code"] == "ProvisionedThroughputExceededException"
    ddb.update_table(TableName="grow", ProvisionedThroughput={"ReadCapacityUnits": 1, "WriteCapacityUnits": 10})
    clock.advance(1)
    for i in range(10):
        put(ddb, "grow", f"fast-{i}")


def test_partiql_statements_are_metered_as_the_item_operations_are(ddb: Any, clock: VirtualClock) -> None:
    make_table(ddb, "qls", reads=1, writes=1)
    for i in range(BURST_S):
        ddb.execute_statement(Statement=f"INSERT INTO qls VALUE {{'id': '{i}'}}")
    error = error_of(ddb.execute_statement, Statement="INSERT INTO qls VALUE {'id': 'over'}")["Error"]
    assert error["Code"] == "ProvisionedThroughputExceededException"
    batch = ddb.batch_execute_statement(Statements=[{"Statement": "INSERT INTO qls VALUE {'id': 'b'}"}])
    assert batch["Responses"][0]["Error"]["Code"] == "ProvisionedThroughputExceeded"
    for _ in range(2 * BURST_S):
        ddb.execute_statement(Statement="SELECT * FROM qls WHERE id = '1'")
    error = error_of(ddb.execute_statement, Statement="SELECT * FROM qls WHERE id = '1'")["Error"]
    assert error["Code"] == "ProvisionedThroughputExceededException"
    clock.advance(1)
    ddb.execute_statement(Statement="UPDATE qls SET x = 1 WHERE id = '1'")
