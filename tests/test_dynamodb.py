"""DynamoDB on the HTTP edge, judged by real clients: boto3's client and resource API
(``Table.put_item``, ``Key('id').eq(…)``), the AWS CLI, and a ``lambdalab serve`` killed
with SIGKILL. The lab runs on a VirtualClock, so TTL is tested without waiting."""

from __future__ import annotations

import decimal
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator

import boto3
import botocore.exceptions
import pytest
from boto3.dynamodb.conditions import Attr, Key
from botocore.config import Config

from lambdalab import Lab, VirtualClock
from lambdalab.server import EdgeServer
from lambdalab_dynamodb import dynamodb_of

from .edge_support import client_for, edge  # noqa: F401  (fixtures)
from .test_edge_sqs import aws_cli

MUSIC = {
    "TableName": "music",
    "KeySchema": [{"AttributeName": "artist", "KeyType": "HASH"},
                  {"AttributeName": "song", "KeyType": "RANGE"}],
    "AttributeDefinitions": [{"AttributeName": "artist", "AttributeType": "S"},
                             {"AttributeName": "song", "AttributeType": "S"},
                             {"AttributeName": "year", "AttributeType": "N"}],
    "BillingMode": "PAY_PER_REQUEST",
    "GlobalSecondaryIndexes": [{"IndexName": "by-year",
                                "KeySchema": [{"AttributeName": "year", "KeyType": "HASH"},
                                              {"AttributeName": "song", "KeyType": "RANGE"}],
                                "Projection": {"ProjectionType": "KEYS_ONLY"}}],
}


@pytest.fixture
def ddb(edge: EdgeServer) -> Any:
    return client_for(edge.url, "dynamodb")


@pytest.fixture
def resource(edge: EdgeServer) -> Any:
    return boto3.resource("dynamodb", endpoint_url=edge.url, region_name="us-east-1",
                          aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="x",
                          config=Config(retries={"total_max_attempts": 1}))


@pytest.fixture
def music(ddb: Any, resource: Any) -> Any:
    ddb.create_table(**MUSIC)
    return resource.Table("music")


def error_of(call: Any, **params: Any) -> dict[str, Any]:
    with pytest.raises(botocore.exceptions.ClientError) as raised:
        call(**params)
    return raised.value.response  # type: ignore[no-any-return]


# -- tables -------------------------------------------------------------------------------


def test_the_resource_api_tutorial_runs_unchanged(resource: Any) -> None:
    """The steps of AWS's boto3 DynamoDB guide: create, wait, put, get, update, query,
    scan, delete (https://boto3.amazonaws.com/v1/documentation/api/latest/guide/dynamodb.html)."""
    table = resource.create_table(
        TableName="users",
        KeySchema=[{"AttributeName": "username", "KeyType": "HASH"},
                   {"AttributeName": "last_name", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": "username", "AttributeType": "S"},
                              {"AttributeName": "last_name", "AttributeType": "S"}],
        ProvisionedThroughput={"ReadCapacityUnits": 5, "WriteCapacityUnits": 5})
    table.wait_until_exists()
    table.reload()  # the resource keeps CreateTable's answer (CREATING), as on AWS
    assert table.item_count == 0 and table.table_status == "ACTIVE"
    table.put_item(Item={"username": "janedoe", "first_name": "Jane", "last_name": "Doe",
                         "age": 25, "account_type": "standard_user"})
    item = table.get_item(Key={"username": "janedoe", "last_name": "Doe"})["Item"]
    assert item["age"] == 25 and isinstance(item["age"], decimal.Decimal)
    table.update_item(Key={"username": "janedoe", "last_name": "Doe"},
                      UpdateExpression="SET age = :val1", ExpressionAttributeValues={":val1": 26})
    with table.batch_writer() as batch:
        for name, age in [("johndoe", 25), ("bobsmith", 18), ("alicedoe", 27)]:
            batch.put_item(Item={"username": name, "last_name": name[-3:], "age": age,
                                 "address": {"road": "1 Jefferson Street", "state": "CA"}})
    assert [i["username"] for i in table.query(
        KeyConditionExpression=Key("username").eq("johndoe"))["Items"]] == ["johndoe"]
    scanned = table.scan(FilterExpression=Attr("age").lt(27) & Attr("address.state").eq("CA"))
    assert sorted(i["username"] for i in scanned["Items"]) == ["bobsmith", "johndoe"]
    table.delete_item(Key={"username": "janedoe", "last_name": "Doe"})
    assert "Item" not in table.get_item(Key={"username": "janedoe", "last_name": "Doe"})
    table.delete()
    table.wait_until_not_exists()


def test_create_table_describes_keys_indexes_and_billing(ddb: Any) -> None:
    created = ddb.create_table(**MUSIC)["TableDescription"]
    assert created["TableStatus"] == "CREATING"
    table = ddb.describe_table(TableName="music")["Table"]
    assert table["TableStatus"] == "ACTIVE"
    assert table["KeySchema"] == MUSIC["KeySchema"]
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert table["TableArn"] == "arn:aws:dynamodb:us-east-1:000000000000:table/music"
    [index] = table["GlobalSecondaryIndexes"]
    assert index["IndexName"] == "by-year" and index["IndexStatus"] == "ACTIVE"
    assert index["IndexArn"].endswith("table/music/index/by-year")
    assert ddb.list_tables()["TableNames"] == ["music"]
    error = error_of(ddb.create_table, **MUSIC)
    assert error["Error"]["Code"] == "ResourceInUseException"
    assert error_of(ddb.describe_table, TableName="nope")["Error"]["Code"] == "ResourceNotFoundException"


@pytest.mark.parametrize("change, words", [
    ({"BillingMode": "PROVISIONED"}, "ReadCapacityUnits and WriteCapacityUnits must both be specified"),
    ({"AttributeDefinitions": MUSIC["AttributeDefinitions"][:2]}, "not defined in AttributeDefinitions"),
    ({"AttributeDefinitions": MUSIC["AttributeDefinitions"] + [{"AttributeName": "x", "AttributeType": "S"}]},
     "does not exactly match"),
    ({"KeySchema": MUSIC["KeySchema"][::-1]}, "not a HASH key"),
    ({"LocalSecondaryIndexes": [{"IndexName": "local", "KeySchema": [
        {"AttributeName": "year", "KeyType": "HASH"}], "Projection": {"ProjectionType": "ALL"}}]},
     "same leading hash key"),
    ({"StreamSpecification": {"StreamEnabled": True}}, "StreamViewType must be one of"),
])
def test_create_table_refuses_what_aws_refuses_and_creates_nothing(ddb: Any, change: dict[str, Any],
                                                                   words: str) -> None:
    error = error_of(ddb.create_table, **{**MUSIC, **change})
    assert error["Error"]["Code"] == "ValidationException"
    assert words in error["Error"]["Message"]
    assert ddb.list_tables()["TableNames"] == []


def test_list_tables_pages(ddb: Any) -> None:
    for n in range(5):
        ddb.create_table(**{**MUSIC, "TableName": f"tab{n}"})
    first = ddb.list_tables(Limit=3)
    assert first["TableNames"] == ["tab0", "tab1", "tab2"] and first["LastEvaluatedTableName"] == "tab2"
    rest = ddb.list_tables(ExclusiveStartTableName="tab2", Limit=3)
    assert rest["TableNames"] == ["tab3", "tab4"] and "LastEvaluatedTableName" not in rest


# -- items and expressions -----------------------------------------------------------------


def test_condition_expression_failure_leaves_the_item_unchanged(music: Any, ddb: Any) -> None:
    music.put_item(Item={"artist": "A", "song": "one", "plays": 1})
    with pytest.raises(ddb.exceptions.ConditionalCheckFailedException):
        music.put_item(Item={"artist": "A", "song": "one", "plays": 99},
                       ConditionExpression=Attr("artist").not_exists())
    with pytest.raises(ddb.exceptions.ConditionalCheckFailedException):
        music.update_item(Key={"artist": "A", "song": "one"}, UpdateExpression="SET plays = :p",
                          ConditionExpression="plays > :p", ExpressionAttributeValues={":p": 5})
    with pytest.raises(ddb.exceptions.ConditionalCheckFailedException):
        music.delete_item(Key={"artist": "A", "song": "one"}, ConditionExpression=Attr("plays").eq(2))
    assert music.get_item(Key={"artist": "A", "song": "one"})["Item"]["plays"] == 1
    old = music.put_item(Item={"artist": "A", "song": "one", "plays": 2},
                         ConditionExpression=Attr("plays").between(0, 1) & Attr("plays").is_in([1, 3]),
                         ReturnValues="ALL_OLD")
    assert old["Attributes"]["plays"] == 1


def test_update_expression_set_remove_add_delete(music: Any) -> None:
    key = {"artist": "A", "song": "one"}
    music.put_item(Item={**key, "plays": 1, "tags": {"rock"}, "moods": {"live", "loud"}, "credits": ["x"],
                         "meta": {"label": "L", "stale": True}})
    new = music.update_item(
        Key=key,
        UpdateExpression="SET plays = plays + :one, credits = list_append(credits, :more), "
                         "meta.#year = :y, firsts = if_not_exists(firsts, :now) "
                         "REMOVE meta.stale ADD listens :ten, tags :pop DELETE moods :live",
        ExpressionAttributeNames={"#year": "year"},
        ExpressionAttributeValues={":one": 1, ":more": ["y"], ":y": 1999, ":now": "today",
                                   ":ten": 10, ":pop": {"pop"}, ":live": {"live"}},
        ReturnValues="ALL_NEW")["Attributes"]
    assert new == {**key, "plays": 2, "credits": ["x", "y"], "meta": {"label": "L", "year": 1999},
                   "firsts": "today", "listens": 10, "tags": {"rock", "pop"}, "moods": {"loud"}}
    updated = music.update_item(Key=key, UpdateExpression="SET plays = plays - :one",
                                ExpressionAttributeValues={":one": 1}, ReturnValues="UPDATED_OLD")
    assert updated["Attributes"] == {"plays": 2}


def test_update_item_creates_the_item_and_refuses_a_key_change(music: Any, ddb: Any) -> None:
    music.update_item(Key={"artist": "B", "song": "new"}, UpdateExpression="ADD plays :n",
                      ExpressionAttributeValues={":n": 3})
    assert music.get_item(Key={"artist": "B", "song": "new"})["Item"]["plays"] == 3
    error = error_of(music.update_item, Key={"artist": "B", "song": "new"},
                     UpdateExpression="SET artist = :a", ExpressionAttributeValues={":a": "C"})
    assert "This attribute is part of the key" in error["Error"]["Message"]


def test_projection_expression_picks_nested_parts(music: Any) -> None:
    music.put_item(Item={"artist": "A", "song": "one", "info": {"len": 200, "bpm": 120},
                         "credits": ["a", "b", "c"], "other": 1})
    item = music.get_item(Key={"artist": "A", "song": "one"},
                          ProjectionExpression="info.bpm, credits[1], #s",
                          ExpressionAttributeNames={"#s": "song"})["Item"]
    assert item == {"info": {"bpm": 120}, "credits": ["b"], "song": "one"}


@pytest.mark.parametrize("params, words", [
    ({"ConditionExpression": "plays = :missing"}, "An expression attribute value used in expression is not defined"),
    ({"ConditionExpression": "#p = :v", "ExpressionAttributeValues": {":v": {"N": "1"}}},
     "An expression attribute name used in the document path is not defined"),
    ({"ConditionExpression": "plays = :v", "ExpressionAttributeValues": {":v": {"N": "1"}, ":w": {"N": "2"}}},
     "unused in expressions: keys: {:w}"),
    ({"ConditionExpression": "plays = = :v", "ExpressionAttributeValues": {":v": {"N": "1"}}},
     'Syntax error; token: "="'),
    ({"ConditionExpression": "frobnicate(plays)"}, "Invalid function name; function: frobnicate"),
    ({"Item": {"artist": {"S": "A"}, "song": {"N": "1"}}}, "Type mismatch for key song"),
    ({"Item": {"artist": {"S": ""}, "song": {"S": "x"}}}, "cannot contain an empty string value"),
    ({"Item": {"artist": {"S": "A"}, "song": {"S": "x"}, "n": {"N": "abc"}}}, "cannot be converted into a number"),
    ({"Item": {"artist": {"S": "A"}, "song": {"S": "x"}, "n": {"N": "1" * 39}}}, "more than 38 significant digits"),
    ({"Item": {"artist": {"S": "A"}, "song": {"S": "x"}, "n": {"N": "1e126"}}}, "Number overflow"),
    ({"Item": {"artist": {"S": "A"}, "song": {"S": "x"}, "s": {"SS": ["a", "a"]}}}, "contains duplicates"),
    ({"Item": {"artist": {"S": "A"}, "song": {"S": "x"}, "n": {"S": "a", "N": "1"}}}, "more than one datatypes"),
    ({"Item": {"artist": {"S": "A"}, "song": {"S": "x"}, "big": {"S": "x" * 410_000}}}, "Item size has exceeded"),
    ({"Expected": {"plays": {"Exists": False}}}, "legacy parameter Expected"),
])
def test_bad_input_is_a_validation_exception_and_writes_nothing(music: Any, ddb: Any,
                                                                params: dict[str, Any], words: str) -> None:
    request = {"TableName": "music", "Item": {"artist": {"S": "A"}, "song": {"S": "x"}}, **params}
    error = error_of(ddb.put_item, **request)
    assert error["Error"]["Code"] == "ValidationException", error
    assert words in error["Error"]["Message"]
    assert ddb.scan(TableName="music")["Count"] == 0


def test_numbers_come_back_normalised_and_compare_by_value(music: Any, ddb: Any) -> None:
    ddb.put_item(TableName="music", Item={"artist": {"S": "A"}, "song": {"S": "1"}, "n": {"N": "0010.500"}})
    assert ddb.get_item(TableName="music", Key={"artist": {"S": "A"}, "song": {"S": "1"}})["Item"]["n"] == {"N": "10.5"}
    assert music.scan(FilterExpression=Attr("n").gt(9))["Count"] == 1


# -- Query and Scan -------------------------------------------------------------------------


def test_query_sorts_by_sort_key_and_pages_with_exclusive_start_key(ddb: Any, resource: Any) -> None:
    ddb.create_table(TableName="events", BillingMode="PAY_PER_REQUEST",
                     KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                                {"AttributeName": "at", "KeyType": "RANGE"}],
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                           {"AttributeName": "at", "AttributeType": "N"}])
    table = resource.Table("events")
    for at in [10, 9, 100, 2, 55, -1, 3.5]:
        table.put_item(Item={"pk": "p", "at": decimal.Decimal(str(at)), "odd": at % 2 == 1})
    table.put_item(Item={"pk": "other", "at": 1})
    everything = table.query(KeyConditionExpression=Key("pk").eq("p"))
    assert [float(i["at"]) for i in everything["Items"]] == [-1, 2, 3.5, 9, 10, 55, 100]
    pages, start = [], None
    while True:
        extra = {"ExclusiveStartKey": start} if start else {}
        page = table.query(KeyConditionExpression=Key("pk").eq("p") & Key("at").gte(3),
                           Limit=2, ScanIndexForward=False, **extra)
        pages.append([float(i["at"]) for i in page["Items"]])
        start = page.get("LastEvaluatedKey")
        if start is None:
            break
    assert pages == [[100, 55], [10, 9], [3.5]]
    exact = table.query(KeyConditionExpression=Key("pk").eq("p") & Key("at").gte(55), Limit=2)
    assert len(exact["Items"]) == 2 and "LastEvaluatedKey" in exact, "a page that stops at Limit says so"
    after = table.query(KeyConditionExpression=Key("pk").eq("p") & Key("at").gte(55), Limit=2,
                        ExclusiveStartKey=exact["LastEvaluatedKey"])
    assert after["Items"] == [] and "LastEvaluatedKey" not in after
    filtered = table.query(KeyConditionExpression=Key("pk").eq("p"), FilterExpression=Attr("odd").eq(True))
    assert filtered["Count"] == 3 and filtered["ScannedCount"] == 7
    counted = table.query(KeyConditionExpression=Key("pk").eq("p") & Key("at").between(2, 10), Select="COUNT")
    assert counted["Count"] == 4 and "Items" not in counted


def test_query_of_an_index_returns_its_projection(music: Any) -> None:
    for song, year in [("a", 1999), ("b", 2001), ("c", 1999)]:
        music.put_item(Item={"artist": "X", "song": song, "year": year, "extra": "e"})
    music.put_item(Item={"artist": "X", "song": "no-year"})
    found = music.query(IndexName="by-year", KeyConditionExpression=Key("year").eq(1999))
    assert found["Items"] == [{"artist": "X", "song": "a", "year": 1999},
                              {"artist": "X", "song": "c", "year": 1999}]
    assert music.scan(IndexName="by-year")["Count"] == 3
    error = error_of(music.query, IndexName="by-year", ConsistentRead=True,
                     KeyConditionExpression=Key("year").eq(1999))
    assert error["Error"]["Message"] == "Consistent reads are not supported on global secondary indexes"


@pytest.mark.parametrize("condition, words", [
    ("song = :v", "Query condition missed key schema element: artist"),
    ("artist > :v", "Query key condition not supported"),
    ("artist = :v OR song = :v", "Invalid operator used in KeyConditionExpression: OR"),
    ("artist = :v AND extra = :v", "Query condition missed key schema element: song"),
    ("artist = :v AND song = :v AND song > :v", "only contain one condition per key"),
    ("artist = :v AND song > :n", "Condition parameter type does not match schema type"),
    ("artist = :n", "Condition parameter type does not match schema type"),
])
def test_query_refuses_a_key_condition_aws_refuses(music: Any, ddb: Any, condition: str, words: str) -> None:
    values = {k: v for k, v in {":v": {"S": "x"}, ":n": {"N": "1"}}.items() if k in condition}
    error = error_of(ddb.query, TableName="music", KeyConditionExpression=condition,
                     ExpressionAttributeValues=values)
    assert error["Error"]["Code"] == "ValidationException"
    assert words in error["Error"]["Message"]


def test_scan_pages_see_every_item_once(music: Any) -> None:
    with music.batch_writer() as batch:
        for n in range(57):
            batch.put_item(Item={"artist": f"a{n % 7}", "song": f"s{n}"})
    seen, start, pages = [], None, 0
    while True:
        page = music.scan(Limit=10, **({"ExclusiveStartKey": start} if start else {}))
        seen += [i["song"] for i in page["Items"]]
        pages += 1
        start = page.get("LastEvaluatedKey")
        if not start:
            break
    assert sorted(seen) == sorted(f"s{n}" for n in range(57)) and pages == 6
    segments = [music.scan(Segment=s, TotalSegments=3)["Items"] for s in range(3)]
    assert sorted(i["song"] for seg in segments for i in seg) == sorted(seen)


# -- batches and transactions ----------------------------------------------------------------


def test_batch_write_and_batch_get(ddb: Any, music: Any) -> None:
    ddb.batch_write_item(RequestItems={"music": [
        {"PutRequest": {"Item": {"artist": {"S": "A"}, "song": {"S": str(n)}}}} for n in range(5)]})
    ddb.batch_write_item(RequestItems={"music": [
        {"DeleteRequest": {"Key": {"artist": {"S": "A"}, "song": {"S": "0"}}}}]})
    got = ddb.batch_get_item(RequestItems={"music": {
        "Keys": [{"artist": {"S": "A"}, "song": {"S": str(n)}} for n in range(3)],
        "ProjectionExpression": "song"}})
    assert sorted(i["song"]["S"] for i in got["Responses"]["music"]) == ["1", "2"]
    assert got["UnprocessedKeys"] == {}
    error = error_of(ddb.batch_write_item, RequestItems={"music": [
        {"PutRequest": {"Item": {"artist": {"S": "A"}, "song": {"S": "x"}}}}] * 2})
    assert "contains duplicates" in error["Error"]["Message"]


def test_a_cancelled_transaction_writes_nothing_and_says_why(ddb: Any, music: Any) -> None:
    music.put_item(Item={"artist": "A", "song": "stock", "count": 1})
    key = {"artist": {"S": "A"}, "song": {"S": "stock"}}
    with pytest.raises(ddb.exceptions.TransactionCanceledException) as raised:
        ddb.transact_write_items(TransactItems=[
            {"Put": {"TableName": "music", "Item": {"artist": {"S": "A"}, "song": {"S": "order"}}}},
            {"Update": {"TableName": "music", "Key": key, "UpdateExpression": "SET #c = #c - :one",
                        "ConditionExpression": "#c >= :two", "ExpressionAttributeNames": {"#c": "count"},
                        "ExpressionAttributeValues": {":one": {"N": "1"}, ":two": {"N": "2"}}}},
        ])
    reasons = raised.value.response["CancellationReasons"]
    assert [r["Code"] for r in reasons] == ["None", "ConditionalCheckFailed"]
    assert "Item" not in music.get_item(Key={"artist": "A", "song": "order"})
    ddb.transact_write_items(TransactItems=[
        {"Put": {"TableName": "music", "Item": {"artist": {"S": "A"}, "song": {"S": "order"}}}},
        {"ConditionCheck": {"TableName": "music", "Key": key, "ConditionExpression": "attribute_exists(song)"}},
    ])
    got = ddb.transact_get_items(TransactItems=[
        {"Get": {"TableName": "music", "Key": {"artist": {"S": "A"}, "song": {"S": "order"}}}},
        {"Get": {"TableName": "music", "Key": {"artist": {"S": "A"}, "song": {"S": "none"}}}}])
    assert got["Responses"] == [{"Item": {"artist": {"S": "A"}, "song": {"S": "order"}}}, {}]


# -- TTL ------------------------------------------------------------------------------------


def test_ttl_expires_items_on_the_lab_clock(ddb: Any, music: Any, lab: Lab, clock: VirtualClock) -> None:
    ddb.update_time_to_live(TableName="music", TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires"})
    assert ddb.describe_time_to_live(TableName="music")["TimeToLiveDescription"] == {
        "TimeToLiveStatus": "ENABLED", "AttributeName": "expires"}
    now = int(clock.now())
    music.put_item(Item={"artist": "A", "song": "soon", "expires": now + 60})
    music.put_item(Item={"artist": "A", "song": "later", "expires": now + 3600})
    music.put_item(Item={"artist": "A", "song": "never"})
    clock.advance(61)
    assert sorted(i["song"] for i in music.scan()["Items"]) == ["later", "never"]
    assert dynamodb_of(lab).tables.sweep_expired() == 0, "the clock's sweep already deleted it"
    assert lab.store.query("SELECT count(*) FROM dynamodb_items")[0][0] == 2


# -- the AWS CLI and a real `lambdalab serve` -------------------------------------------------


def test_aws_cli_creates_puts_and_gets(edge: EdgeServer) -> None:
    aws_cli(edge.url, "dynamodb", "create-table", "--table-name", "cli", "--billing-mode", "PAY_PER_REQUEST",
            "--key-schema", "AttributeName=id,KeyType=HASH",
            "--attribute-definitions", "AttributeName=id,AttributeType=S")
    aws_cli(edge.url, "dynamodb", "put-item", "--table-name", "cli",
            "--item", '{"id": {"S": "1"}, "n": {"N": "42"}}')
    got = aws_cli(edge.url, "dynamodb", "get-item", "--table-name", "cli", "--key", '{"id": {"S": "1"}}')
    assert got == {"Item": {"id": {"S": "1"}, "n": {"N": "42"}}}


PUTS = """
import sys
import boto3
from botocore.config import Config

table = boto3.resource("dynamodb", endpoint_url=sys.argv[1], region_name="us-east-1",
                       aws_access_key_id="a", aws_secret_access_key="b",
                       config=Config(retries={"total_max_attempts": 1})).Table("crash")
for n in range(100_000):
    table.put_item(Item={"id": str(n), "n": n})
    print(n, flush=True)  # acknowledged: the 200 came back
"""


def _serve(data: Path) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "lambdalab"), "--data-dir", str(data), "serve", "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, start_new_session=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"})
    assert proc.stdout is not None
    first = proc.stdout.readline()
    assert first.startswith("lambdalab edge on http://127.0.0.1:"), first
    return proc, first.split()[3]


@pytest.fixture
def killed_server(tmp_path: Path) -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def test_sigkill_of_serve_loses_no_acknowledged_put_item(tmp_path: Path,
                                                         killed_server: list[subprocess.Popen[str]]) -> None:
    data = tmp_path / "crash"
    server, url = _serve(data)
    killed_server.append(server)
    client_for(url, "dynamodb").create_table(
        TableName="crash", BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"})
    writer = subprocess.Popen([sys.executable, "-c", PUTS, url], stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True)
    assert writer.stdout is not None
    acknowledged = []
    for line in writer.stdout:
        acknowledged.append(int(line))
        if len(acknowledged) == 200:
            break
    os.killpg(server.pid, signal.SIGKILL)  # mid-burst: the writer is still sending
    server.wait()
    acknowledged += [int(line) for line in writer.stdout if line.endswith("\n")]
    writer.wait()
    server, url = _serve(data)
    killed_server.append(server)
    table = client_for(url, "dynamodb")
    kept = {int(i["id"]["S"]) for page in table.get_paginator("scan").paginate(TableName="crash")
            for i in page["Items"]}
    missing = sorted(set(acknowledged) - kept)
    assert len(acknowledged) >= 200 and missing == [], f"{len(missing)} acknowledged puts lost"
    streams = client_for(url, "dynamodbstreams")
    arn = streams.list_streams(TableName="crash")["Streams"][0]["StreamArn"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard,
                                          ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    recorded = set()
    while True:
        page = streams.get_records(ShardIterator=iterator)
        recorded |= {int(r["dynamodb"]["Keys"]["id"]["S"]) for r in page["Records"]}
        if not page["Records"]:
            break
        iterator = page["NextShardIterator"]
    assert recorded == kept, "each kept write has its stream record, and no record outlives its write"


def test_tags_of_a_table(ddb: Any) -> None:
    arn = ddb.create_table(**MUSIC, Tags=[{"Key": "team", "Value": "a"}])["TableDescription"]["TableArn"]
    ddb.tag_resource(ResourceArn=arn, Tags=[{"Key": "env", "Value": "lab"}])
    ddb.untag_resource(ResourceArn=arn, TagKeys=["team"])
    assert ddb.list_tags_of_resource(ResourceArn=arn)["Tags"] == [{"Key": "env", "Value": "lab"}]
    error = error_of(ddb.list_tags_of_resource, ResourceArn=arn + "/index/x")
    assert error["Error"]["Code"] == "ValidationException"


def test_consumed_capacity_counts_kilobytes_as_aws_does(music: Any) -> None:
    """A write costs a unit per KB, a read a unit per 4 KB, half when eventually consistent
    (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/read-write-operations.html)."""
    key = {"artist": "A", "song": "big"}
    put = music.put_item(Item={**key, "blob": "x" * 5000}, ReturnConsumedCapacity="TOTAL")
    assert put["ConsumedCapacity"] == {"TableName": "music", "CapacityUnits": 5.0}
    read = music.get_item(Key=key, ReturnConsumedCapacity="TOTAL")["ConsumedCapacity"]
    assert read["CapacityUnits"] == 1.0  # two 4 KB blocks, eventually consistent
    strong = music.get_item(Key=key, ConsistentRead=True, ReturnConsumedCapacity="TOTAL")
    assert strong["ConsumedCapacity"]["CapacityUnits"] == 2.0
    assert "ConsumedCapacity" not in music.get_item(Key=key)


def test_a_failed_condition_can_return_the_item_it_tested(ddb: Any, music: Any) -> None:
    music.put_item(Item={"artist": "A", "song": "one", "plays": 7})
    error = error_of(ddb.put_item, TableName="music", Item={"artist": {"S": "A"}, "song": {"S": "one"}},
                     ConditionExpression="attribute_not_exists(artist)",
                     ReturnValuesOnConditionCheckFailure="ALL_OLD")
    assert error["Error"]["Code"] == "ConditionalCheckFailedException"
    assert error["Item"] == {"artist": {"S": "A"}, "song": {"S": "one"}, "plays": {"N": "7"}}


def test_a_reserved_word_needs_a_placeholder_as_on_aws(music: Any) -> None:
    """``status`` is one of DynamoDB's 573 reserved words: code that names it bare fails
    on AWS, so it fails here too, and ``#status`` works on both."""
    key = {"artist": "A", "song": "one"}
    error = error_of(music.update_item, Key=key, UpdateExpression="SET status = :s",
                     ExpressionAttributeValues={":s": "sold"})
    assert error["Error"]["Message"] == ("Invalid UpdateExpression: Attribute name is a reserved "
                                         "keyword; reserved keyword: status")
    music.update_item(Key=key, UpdateExpression="SET #st = :s", ExpressionAttributeNames={"#st": "status"},
                      ExpressionAttributeValues={":s": "sold"})
    assert music.get_item(Key=key)["Item"]["status"] == "sold"


def test_scan_pages_across_sqlite_chunks_see_every_item_once(lab: Lab) -> None:
    """A Scan reads SQLite a chunk at a time (``SCAN_CHUNK_ROWS``); pages that cross
    chunks, and filters that skip whole chunks, still see each item once."""
    from lambdalab_dynamodb.models import SCAN_CHUNK_ROWS

    tables = dynamodb_of(lab).tables
    tables.create_table({"TableName": "music", "BillingMode": "PAY_PER_REQUEST",
                         "KeySchema": MUSIC["KeySchema"], "AttributeDefinitions": MUSIC["AttributeDefinitions"][:2]})
    count = SCAN_CHUNK_ROWS * 2 + 17
    tables.transact([tables.write_action("Put", "music", {"Item": {
        "artist": {"S": f"a{n % 3}"}, "song": {"S": f"{n:04d}"}}}) for n in range(count)])
    seen, start = [], None
    while True:
        page = tables.scan("music", None, limit=SCAN_CHUNK_ROWS - 1, start_key=start)
        seen += [i["song"]["S"] for i in page.items]
        start = page.last_key
        if start is None:
            break
    assert sorted(seen) == [f"{n:04d}" for n in range(count)]
    assert len(tables.scan("music", None).items) == count


@pytest.mark.parametrize("depth, refused", [(32, False), (33, True)])
def test_items_nest_at_most_32_levels(ddb: Any, music: Any, depth: int, refused: bool) -> None:
    value: dict[str, Any] = {"S": "bottom"}
    for _ in range(depth):
        value = {"M": {"k": value}}
    item = {"artist": {"S": "A"}, "song": {"S": "deep"}, "v": value}
    if refused:
        error = error_of(ddb.put_item, TableName="music", Item=item)
        assert error["Error"]["Message"] == "Nesting Levels have exceeded supported limits"
    else:
        ddb.put_item(TableName="music", Item=item)
        assert ddb.get_item(TableName="music", Key={"artist": {"S": "A"}, "song": {"S": "deep"}})["Item"] == item


def test_an_item_nested_400_deep_is_refused_not_a_crash(edge: EdgeServer, music: Any) -> None:
    """Sent raw: botocore itself recurses too deep to send it."""
    from .test_fuzz_edge import send, signed_for

    value: dict[str, Any] = {"S": "bottom"}
    for _ in range(400):
        value = {"M": {"k": value}}
    body = json.dumps({"TableName": "music", "Item": {"artist": {"S": "A"}, "song": {"S": "x"}, "v": value}})
    status, _, answer = send(edge.url, "POST", "/", {
        "X-Amz-Target": "DynamoDB_20120810.PutItem", "Content-Type": "application/x-amz-json-1.0",
        **signed_for("dynamodb")}, body.encode())
    assert status == 400, answer[:300]
    assert json.loads(answer)["message"] == "Nesting Levels have exceeded supported limits"


@pytest.mark.parametrize("expression, words", [
    ("NOT " * 1000 + "attribute_exists(plays)", "too many operators; operator count: 301"),
    ("(" * 1000 + "plays = :v" + ")" * 1000, "parentheses nested more than 100 deep"),
    (" AND ".join(["plays = :v"] * 151), "too many operators"),
])
def test_an_expression_past_aws_limits_is_refused_not_a_crash(ddb: Any, music: Any, expression: str,
                                                              words: str) -> None:
    error = error_of(ddb.put_item, TableName="music", Item={"artist": {"S": "A"}, "song": {"S": "x"}},
                     ConditionExpression=expression, ExpressionAttributeValues={":v": {"N": "1"}})
    assert error["Error"]["Code"] == "ValidationException"
    assert words in error["Error"]["Message"]


def test_nested_list_appends_within_the_operator_limit_work(music: Any) -> None:
    key = {"artist": "A", "song": "x"}
    music.put_item(Item={**key, "l": []})
    expression = "SET l = " + "list_append(" * 99 + "l" + ", :one)" * 99
    music.update_item(Key=key, UpdateExpression=expression, ExpressionAttributeValues={":one": ["x"]})
    assert music.get_item(Key=key)["Item"]["l"] == ["x"] * 99


def test_arithmetic_keeps_all_38_digits(music: Any) -> None:
    key = {"artist": "A", "song": "n"}
    big = decimal.Decimal("12345678901234567890123456789012345678")
    music.put_item(Item={**key, "n": big})
    music.update_item(Key=key, UpdateExpression="SET n = n - :one ADD m :big",
                      ExpressionAttributeValues={":one": 1, ":big": big})
    item = music.get_item(Key=key)["Item"]
    assert item["n"] == decimal.Decimal("12345678901234567890123456789012345677") and item["m"] == big
    error = error_of(music.update_item, Key=key, UpdateExpression="SET n = n + :half",
                     ExpressionAttributeValues={":half": decimal.Decimal("0.5")})
    assert "more than 38 significant digits" in error["Error"]["Message"]


def test_updated_values_are_the_paths_the_update_names(music: Any) -> None:
    key = {"artist": "A", "song": "one"}
    music.put_item(Item={**key, "info": {"bpm": 100, "len": 200}, "plays": 1})
    new = music.update_item(Key=key, UpdateExpression="SET info.bpm = :b REMOVE plays",
                            ExpressionAttributeValues={":b": 120}, ReturnValues="UPDATED_NEW")
    assert new["Attributes"] == {"info": {"bpm": 120}}
    old = music.update_item(Key=key, UpdateExpression="SET info.bpm = :b, plays = :p",
                            ExpressionAttributeValues={":b": 130, ":p": 5}, ReturnValues="UPDATED_OLD")
    assert old["Attributes"] == {"info": {"bpm": 120}}


def test_cli_lists_scans_and_shows_stream_records(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from lambdalab.cli.app import main

    data = tmp_path / "cli-data"
    with Lab(data) as lab:
        tables = dynamodb_of(lab).tables
        tables.create_table({**MUSIC, "StreamSpecification": {"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"}})
        tables.put_item("music", {"artist": {"S": "A"}, "song": {"S": "one"}, "year": {"N": "1999"}})

    def run(*args: str) -> Any:
        return CliRunner().invoke(main, ["--data-dir", str(data), "dynamodb", *args], catch_exceptions=False)

    listed = run("list").output
    assert "music" in listed and "KEYS_ONLY" in listed
    assert json.loads(run("scan", "music").output.splitlines()[0]) == {
        "artist": {"S": "A"}, "song": {"S": "one"}, "year": {"N": "1999"}}
    record = json.loads(run("records", "music").output.splitlines()[0])
    assert record["eventName"] == "INSERT" and record["eventSource"] == "aws:dynamodb"
    missing = run("scan", "nope")
    assert missing.exit_code == 2 and "ResourceNotFoundException" in missing.output


@pytest.mark.parametrize("name, kind, value", [
    ("year", "B", b"\x00k"), ('odd "name"', "B", b"\x00k"), ("back\\slash", "S", "ünï"),
    ("ünï", "S", "ünï"), ("plain", "S", "ünï \u2603"), ("n", "N", decimal.Decimal("1.50"))])
def test_an_index_on_any_attribute_name_finds_its_items(ddb: Any, resource: Any, name: str, kind: str,
                                                        value: Any) -> None:
    ddb.create_table(TableName="named", BillingMode="PAY_PER_REQUEST",
                     KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"},
                                           {"AttributeName": name, "AttributeType": kind}],
                     GlobalSecondaryIndexes=[{"IndexName": "by-name", "Projection": {"ProjectionType": "ALL"},
                                              "KeySchema": [{"AttributeName": name, "KeyType": "HASH"}]}])
    table = resource.Table("named")
    table.put_item(Item={"id": "1", name: value})
    table.put_item(Item={"id": "2", name: {"B": b"other", "S": "other", "N": 2}[kind]})
    found = table.query(IndexName="by-name", KeyConditionExpression=Key(name).eq(value))["Items"]
    assert [i["id"] for i in found] == ["1"]


def test_the_python_door_refuses_a_lone_surrogate_too(lab: Lab) -> None:
    from lambdalab_dynamodb.exceptions import ValidationException

    tables = dynamodb_of(lab).tables
    tables.create_table({"TableName": "music", "BillingMode": "PAY_PER_REQUEST",
                         "KeySchema": MUSIC["KeySchema"], "AttributeDefinitions": MUSIC["AttributeDefinitions"][:2]})
    for item in ({"artist": {"S": "\ud800"}, "song": {"S": "x"}}, {"artist": {"S": "a"}, "song": {"S": "x"}, "\udfff": {"N": "1"}}):
        with pytest.raises(ValidationException, match="lone surrogate"):
            tables.put_item("music", item)
    assert tables.scan("music", None).items == []


def test_concurrent_conditional_writes_are_atomic(lab: Lab) -> None:
    """Each write reads its condition and writes in one transaction: of many threads
    racing to claim one item with attribute_not_exists, exactly one wins, and counters
    updated with ADD lose no increment."""
    import threading

    from lambdalab_dynamodb.exceptions import ConditionalCheckFailedException
    from lambdalab_dynamodb.expressions import Expressions

    tables = dynamodb_of(lab).tables
    tables.create_table({"TableName": "music", "BillingMode": "PAY_PER_REQUEST",
                         "KeySchema": MUSIC["KeySchema"], "AttributeDefinitions": MUSIC["AttributeDefinitions"][:2]})
    claim = Expressions().condition("attribute_not_exists(artist)")
    add = Expressions(values={":one": {"N": "1"}}).update("ADD plays :one")
    wins: list[int] = []

    def race(n: int) -> None:
        try:
            tables.put_item("music", {"artist": {"S": "A"}, "song": {"S": "claimed"}, "by": {"N": str(n)}}, claim)
            wins.append(n)
        except ConditionalCheckFailedException:
            pass
        for _ in range(25):
            tables.update_item("music", {"artist": {"S": "A"}, "song": {"S": "counter"}}, add)

    threads = [threading.Thread(target=race, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(wins) == 1
    assert tables.get_item("music", {"artist": {"S": "A"}, "song": {"S": "counter"}})["plays"] == {"N": "200"}


# -- indexes as stored copies -----------------------------------------------------------

INDEXED = {
    "TableName": "people",
    "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
    "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"},
                             {"AttributeName": "team", "AttributeType": "S"}],
    "BillingMode": "PAY_PER_REQUEST",
    "GlobalSecondaryIndexes": [
        {"IndexName": "keys", "KeySchema": [{"AttributeName": "team", "KeyType": "HASH"}],
         "Projection": {"ProjectionType": "KEYS_ONLY"}},
        {"IndexName": "include", "KeySchema": [{"AttributeName": "team", "KeyType": "HASH"}],
         "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["role"]}}],
}


def test_a_query_of_an_index_reads_its_projected_copy(ddb: Any) -> None:
    """A FilterExpression on an index sees only what the index projects, as on AWS
    (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/GSI.html#GSI.Projections)."""
    ddb.create_table(**INDEXED)
    ddb.put_item(TableName="people", Item={"id": {"S": "1"}, "team": {"S": "red"}, "role": {"S": "dev"},
                                           "age": {"N": "30"}})
    ddb.put_item(TableName="people", Item={"id": {"S": "2"}, "team": {"S": "red"}, "role": {"S": "ops"}})
    ddb.put_item(TableName="people", Item={"id": {"S": "3"}, "role": {"S": "none"}})  # in no index

    def query(index: str, **more: Any) -> list[Any]:
        return list(ddb.query(TableName="people", IndexName=index, KeyConditionExpression="team = :t",
                              ExpressionAttributeValues={":t": {"S": "red"}, **more.pop("values", {})},
                              **more)["Items"])

    assert sorted(i["id"]["S"] for i in query("keys")) == ["1", "2"]
    assert all(set(i) == {"id", "team"} for i in query("keys"))
    assert query("keys", FilterExpression="age = :a", values={":a": {"N": "30"}}) == []
    found = query("include", FilterExpression="#r = :r", ExpressionAttributeNames={"#r": "role"},
                  values={":r": {"S": "dev"}})
    assert found == [{"id": {"S": "1"}, "team": {"S": "red"}, "role": {"S": "dev"}}]
    ddb.update_item(TableName="people", Key={"id": {"S": "1"}}, UpdateExpression="REMOVE team")
    ddb.delete_item(TableName="people", Key={"id": {"S": "2"}})
    assert query("keys") == [] and query("include") == []


def test_an_older_data_dirs_indexes_are_copied_when_it_opens(tmp_path: Path) -> None:
    clock = VirtualClock(start=1_700_000_000)
    with Lab(data_dir=tmp_path / "data", clock=clock) as lab:
        tables = dynamodb_of(lab).tables
        tables.create_table(INDEXED)
        tables.put_item("people", {"id": {"S": "1"}, "team": {"S": "red"}})
        with lab.store.transaction() as db:  # as a table made before index copies were stored
            db.execute("DELETE FROM dynamodb_index_items")
            config = json.loads(db.execute("SELECT config FROM dynamodb_tables").fetchone()[0])
            db.execute("UPDATE dynamodb_tables SET config = ?", (json.dumps({**config, "indexes_stored": False}),))
    with Lab(data_dir=tmp_path / "data", clock=clock) as lab:
        tables = dynamodb_of(lab).tables
        key = ("cmp", "=", ("path", ["team"]), ("value", {"S": "red"}))
        assert [i["id"] for i in tables.query("people", "keys", key).items] == [{"S": "1"}]


def test_a_scan_of_an_index_pages_through_its_copy_in_index_order(ddb: Any) -> None:
    ddb.create_table(**INDEXED)
    for n, team in enumerate(["red", "blue", "red", "green", "blue", "red", "teal"]):
        ddb.put_item(TableName="people", Item={"id": {"S": f"p{n}"}, "team": {"S": team}, "age": {"N": str(n)}})
    ddb.put_item(TableName="people", Item={"id": {"S": "none"}})
    seen, start = [], None
    while True:
        page = ddb.scan(TableName="people", IndexName="keys", Limit=3,
                        **({"ExclusiveStartKey": start} if start else {}))
        seen += page["Items"]
        start = page.get("LastEvaluatedKey")
        if start is None:
            break
        assert set(start) == {"id", "team"}
    assert len(seen) == 7 and all(set(i) == {"id", "team"} for i in seen)
    teams = [i["team"]["S"] for i in seen]
    assert teams == sorted(teams, key=teams.index) and len({t: 0 for t in teams}) == 4  # grouped by team
    assert ddb.scan(TableName="people", IndexName="keys", FilterExpression="attribute_exists(age)")["Count"] == 0
