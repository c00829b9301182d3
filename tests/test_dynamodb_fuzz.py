"""Property: no request to the edge's DynamoDB or DynamoDB Streams gets a 5xx, and every
error parses in botocore.

Inputs come from the operations' input shapes in botocore's ``dynamodb`` and
``dynamodbstreams`` models, malformed as ``tests/test_fuzz_edge.py`` malforms them, and
sent raw to a running edge. A second property writes expressions from DynamoDB's own
tokens (paths, placeholders, comparators, functions, keywords, brackets) in any order
against a table that holds items, so the parser and the evaluator meet nonsense, deep
nesting and near misses. Requests per run: 120 + 40 from the models, 150 expressions.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lambdalab.server import EdgeServer
from lambdalab_dynamodb.responses import OPERATIONS, STREAMS_OPERATIONS

from .edge_support import client_for
from .edge_support import edge as edge  # noqa: F401  (fixture)
from .test_fuzz_edge import FUZZ, judge, operation_and_input, send, signed_for, to_json

TOKENS = ["a", "b", "n", "l", "m", "#n", "#m", ":s", ":n", ":l", ":m", ":ss", "=", "<>", "<", "<=",
          ">", ">=", "(", ")", ",", ".", "[0]", "[3]", "AND", "OR", "NOT", "BETWEEN", "IN", "SET",
          "REMOVE", "ADD", "DELETE", "+", "-", "size", "attribute_exists", "attribute_not_exists",
          "attribute_type", "begins_with", "contains", "if_not_exists", "list_append", "@", "'"]
VALUES = {":s": {"S": "x"}, ":n": {"N": "1"}, ":l": {"L": [{"S": "x"}]}, ":m": {"M": {"k": {"N": "2"}}},
          ":ss": {"SS": ["x", "y"]}}
NAMES = {"#n": "n", "#m": "m"}


@pytest.fixture
def world(edge: EdgeServer) -> EdgeServer:
    """A table with items to find, so that requests get past "not found"."""
    ddb = client_for(edge.url, "dynamodb")
    ddb.create_table(TableName="fuzz", BillingMode="PAY_PER_REQUEST",
                     KeySchema=[{"AttributeName": "a", "KeyType": "HASH"},
                                {"AttributeName": "b", "KeyType": "RANGE"}],
                     AttributeDefinitions=[{"AttributeName": "a", "AttributeType": "S"},
                                           {"AttributeName": "b", "AttributeType": "S"}],
                     StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"})
    for n in range(3):
        ddb.put_item(TableName="fuzz", Item={"a": {"S": "x"}, "b": {"S": str(n)}, "n": {"N": str(n)},
                                             "l": {"L": [{"S": "x"}, {"N": "1"}]}, "m": {"M": {"k": {"S": "v"}}}})
    return edge


def call(url: str, target: str, op: Any, params: dict[str, Any], service: str = "dynamodb") -> None:
    headers = {"X-Amz-Target": f"{target}.{op.name}", "Content-Type": "application/x-amz-json-1.0",
               **signed_for("dynamodb")}
    judge(service, "json", op, "POST", send(url, "POST", "/", headers, to_json(params)))


@settings(FUZZ, max_examples=120)
@given(request=operation_and_input("dynamodb", OPERATIONS))
def test_dynamodb_never_fails_internally(world: EdgeServer, request: Any) -> None:
    op, params = request
    call(world.url, "DynamoDB_20120810", op, params)


@settings(FUZZ, max_examples=40)
@given(request=operation_and_input("dynamodbstreams", STREAMS_OPERATIONS))
def test_dynamodb_streams_never_fail_internally(world: EdgeServer, request: Any) -> None:
    op, params = request
    call(world.url, "DynamoDBStreams_20120810", op, params, "dynamodbstreams")


EXPRESSION_PARAMS = ["ConditionExpression", "UpdateExpression", "ProjectionExpression",
                     "KeyConditionExpression", "FilterExpression"]


@settings(FUZZ, max_examples=150)
@given(words=st.lists(st.sampled_from(TOKENS), min_size=1, max_size=14),
       where=st.sampled_from(EXPRESSION_PARAMS))
def test_any_expression_is_answered_without_a_5xx(world: EdgeServer, words: list[str], where: str) -> None:
    from lambdalab.protocol import service_model

    text = " ".join(words)
    base = {"TableName": "fuzz", "ExpressionAttributeNames": NAMES, "ExpressionAttributeValues": VALUES}
    if where in ("KeyConditionExpression", "FilterExpression"):
        operation, params = "Query", {**base, "KeyConditionExpression": "a = :s", where: text}
    elif where == "UpdateExpression":
        operation, params = "UpdateItem", {**base, "Key": {"a": {"S": "x"}, "b": {"S": "1"}}, where: text}
    elif where == "ProjectionExpression":
        operation, params = "Scan", {**base, where: text}
    else:
        operation, params = "PutItem", {**base, "Item": {"a": {"S": "x"}, "b": {"S": "9"}}, where: text}
    op = service_model("dynamodb").operation_model(operation)
    call(world.url, "DynamoDB_20120810", op, json.loads(json.dumps(params)))


@pytest.mark.parametrize("target, body", [
    ("DynamoDB_20120810.PutItem", '{"TableName": "fuzz", "Item": {"a": {"S": "\\ud800"}, "b": {"S": "1"}}}'),
    ("DynamoDB_20120810.PutItem", '{"TableName": "fuzz", "Item": {"a": {"S": "x"}, "b": {"S": "1"}, "\\udfff": {"N": "1"}}}'),
    ("DynamoDB_20120810.GetItem", '{"TableName": "fu\\ud800zz", "Key": {"a": {"S": "x"}, "b": {"S": "1"}}}'),
    ("DynamoDB_20120810.Query", '{"TableName": "fuzz", "KeyConditionExpression": "a = :\\ud800"}'),
    ("DynamoDBStreams_20120810.DescribeStream", '{"StreamArn": "arn:aws:dynamodb:us-east-1:000000000000:table/fuzz/stream/\\ud800"}'),
])
def test_a_lone_surrogate_is_a_validation_error_not_a_crash(world: EdgeServer, target: str, body: str) -> None:
    """JSON's \\\\ud800 escape makes a Python string no UTF-8 store or answer can hold: the
    protocol layer refuses the body before any service reads it, for every JSON service."""
    headers = {"X-Amz-Target": target, "Content-Type": "application/x-amz-json-1.0", **signed_for("dynamodb")}
    status, _, answer = send(world.url, "POST", "/", headers, body.encode())
    assert status == 400, answer[:300]
    assert json.loads(answer)["__type"] == "SerializationException"
    assert "lone surrogate" in json.loads(answer)["message"]
