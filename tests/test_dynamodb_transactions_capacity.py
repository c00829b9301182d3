"""Transactions on provisioned tables are charged as DynamoDB charges them: each item
read or written twice, once to prepare the transaction and once to commit it
(https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/transaction-apis.html#transaction-capacity-handling).
boto3 against the edge reads it in ``ConsumedCapacity`` and in when throttling begins
(a table keeps 300 seconds of its capacity for bursts). A ClientRequestToken makes a
write transaction idempotent for 10 minutes of the lab's clock."""

from __future__ import annotations

from typing import Any

import pytest

from lambdalab import VirtualClock
from lambdalab.server import EdgeServer

from .edge_support import client_for, edge  # noqa: F401  (fixtures)
from .test_dynamodb import error_of
from .test_dynamodb_throughput import BURST_S, make_table


@pytest.fixture
def ddb(edge: EdgeServer) -> Any:
    return client_for(edge.url, "dynamodb")


def puts(table: str, keys: range, size: int = 10) -> list[dict[str, Any]]:
    return [{"Put": {"TableName": table, "Item": {"id": {"S": str(k)}, "body": {"S": "x" * size}}}}
            for k in keys]


def test_a_transactional_write_costs_two_units_per_kilobyte(ddb: Any) -> None:
    make_table(ddb, "orders", reads=5, writes=5)
    answer = ddb.transact_write_items(TransactItems=puts("orders", range(3), size=1500),
                                      ReturnConsumedCapacity="TOTAL")
    assert answer["ConsumedCapacity"] == [{"TableName": "orders", "CapacityUnits": 12.0}]  # 3 × 2 × 2 KB


def test_a_transactional_read_costs_two_strongly_consistent_reads(ddb: Any) -> None:
    make_table(ddb, "orders", reads=5, writes=5)
    ddb.put_item(TableName="orders", Item={"id": {"S": "a"}, "body": {"S": "x" * 5000}})
    gets = [{"Get": {"TableName": "orders", "Key": {"id": {"S": k}}}} for k in ("a", "missing")]
    answer = ddb.transact_get_items(TransactItems=gets, ReturnConsumedCapacity="TOTAL")
    assert answer["ConsumedCapacity"] == [{"TableName": "orders", "CapacityUnits": 6.0}]  # 2×2 + 2×1
    statements = [{"Statement": "SELECT * FROM orders WHERE id = ?", "Parameters": [{"S": "a"}]}]
    answer = ddb.execute_transaction(TransactStatements=statements, ReturnConsumedCapacity="TOTAL")
    assert answer["ConsumedCapacity"] == [{"TableName": "orders", "CapacityUnits": 4.0}]


def test_transactions_spend_a_tables_burst_twice_as_fast(ddb: Any) -> None:
    make_table(ddb, "slow", reads=1, writes=1)  # 300 units kept: 150 transactional writes
    ddb.transact_write_items(TransactItems=puts("slow", range(100)))
    ddb.transact_write_items(TransactItems=puts("slow", range(100, 200)))  # admitted at 100 left
    error = error_of(lambda: ddb.transact_write_items(TransactItems=puts("slow", range(200, 201))))
    assert error["Error"]["Code"] == "ProvisionedThroughputExceededException"
    assert "Item" not in ddb.get_item(TableName="slow", Key={"id": {"S": "200"}})
    assert BURST_S == 300


def test_on_demand_tables_report_what_a_transaction_consumed_and_are_not_throttled(ddb: Any) -> None:
    make_table(ddb, "free", reads=0)
    for start in range(0, 400, 100):
        ddb.transact_write_items(TransactItems=puts("free", range(start, start + 100)))
    answer = ddb.execute_transaction(
        TransactStatements=[{"Statement": "INSERT INTO free VALUE {'id': 'new'}"}],
        ReturnConsumedCapacity="TOTAL")
    assert answer["ConsumedCapacity"] == [{"TableName": "free", "CapacityUnits": 2.0}]


# -- ClientRequestToken ---------------------------------------------------------------


def counter(ddb: Any, table: str = "orders") -> int:
    return int(ddb.get_item(TableName=table, Key={"id": {"S": "n"}})["Item"]["count"]["N"])


INCREMENT = [{"Update": {"TableName": "orders", "Key": {"id": {"S": "n"}},
                         "UpdateExpression": "ADD #c :one", "ExpressionAttributeNames": {"#c": "count"},
                         "ExpressionAttributeValues": {":one": {"N": "1"}}}}]


def test_a_token_makes_a_transaction_written_once_for_ten_minutes_of_the_labs_clock(
        ddb: Any, clock: VirtualClock) -> None:
    make_table(ddb, "orders", reads=0)
    for _ in range(3):
        assert ddb.transact_write_items(TransactItems=INCREMENT, ClientRequestToken="t-1")["ResponseMetadata"]
    assert counter(ddb) == 1  # the same answer, nothing written again
    clock.advance(599)
    ddb.transact_write_items(TransactItems=INCREMENT, ClientRequestToken="t-1")
    assert counter(ddb) == 1
    clock.advance(1)  # ten minutes after the first completed: a new request
    ddb.transact_write_items(TransactItems=INCREMENT, ClientRequestToken="t-1")
    assert counter(ddb) == 2
    ddb.transact_write_items(TransactItems=INCREMENT)  # boto3 makes a token of its own each call
    ddb.transact_write_items(TransactItems=INCREMENT)
    assert counter(ddb) == 4


def test_a_token_reused_for_another_request_is_a_mismatch(ddb: Any) -> None:
    make_table(ddb, "orders", reads=0)
    ddb.transact_write_items(TransactItems=INCREMENT, ClientRequestToken="t-2")
    other = puts("orders", range(1))
    error = error_of(lambda: ddb.transact_write_items(TransactItems=other, ClientRequestToken="t-2"))["Error"]
    assert error["Code"] == "IdempotentParameterMismatchException"
    assert "Item" not in ddb.get_item(TableName="orders", Key={"id": {"S": "0"}})
    # what only shapes the answer is not the request
    answer = ddb.transact_write_items(TransactItems=INCREMENT, ClientRequestToken="t-2",
                                      ReturnConsumedCapacity="TOTAL")
    assert "ConsumedCapacity" not in answer and counter(ddb) == 1


def test_a_cancelled_transaction_may_be_retried_with_its_token(ddb: Any) -> None:
    make_table(ddb, "orders", reads=0)
    guarded = [{"Put": {"TableName": "orders", "Item": {"id": {"S": "g"}},
                        "ConditionExpression": "attribute_exists(id)"}}]
    for _ in range(2):
        error = error_of(lambda: ddb.transact_write_items(TransactItems=guarded, ClientRequestToken="t-3"))
        assert error["Error"]["Code"] == "TransactionCanceledException"


def test_execute_transaction_honours_its_token(ddb: Any) -> None:
    make_table(ddb, "orders", reads=0)
    statements = [{"Statement": "INSERT INTO orders VALUE {'id': 'p'}"}]
    for _ in range(2):
        ddb.execute_transaction(TransactStatements=statements, ClientRequestToken="t-4")
    error = error_of(lambda: ddb.execute_transaction(
        TransactStatements=[{"Statement": "INSERT INTO orders VALUE {'id': 'q'}"}], ClientRequestToken="t-4"))
    assert error["Error"]["Code"] == "IdempotentParameterMismatchException"
