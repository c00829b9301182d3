"""PartiQL for DynamoDB (ExecuteStatement, BatchExecuteStatement, ExecuteTransaction),
judged by boto3 and the AWS CLI against the edge: the statements of AWS's PartiQL
reference, its errors in its words, and writes that reach the table's stream as
PutItem/UpdateItem/DeleteItem do."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lambdalab import Lab, VirtualClock
from lambdalab.server import EdgeServer
from lambdalab_dynamodb import DynamoDbError, dynamodb_of
from lambdalab_dynamodb.responses import DynamoDbResponses

from .edge_support import client_for, edge  # noqa: F401  (fixtures)
from .test_dynamodb import error_of
from .test_edge_sqs import aws_cli

MUSIC = {
    "TableName": "Music",
    "KeySchema": [{"AttributeName": "Artist", "KeyType": "HASH"},
                  {"AttributeName": "SongTitle", "KeyType": "RANGE"}],
    "AttributeDefinitions": [{"AttributeName": "Artist", "AttributeType": "S"},
                             {"AttributeName": "SongTitle", "AttributeType": "S"},
                             {"AttributeName": "Year", "AttributeType": "N"}],
    "BillingMode": "PAY_PER_REQUEST",
    "GlobalSecondaryIndexes": [{"IndexName": "by-year",
                                "KeySchema": [{"AttributeName": "Year", "KeyType": "HASH"}],
                                "Projection": {"ProjectionType": "ALL"}}],
    "StreamSpecification": {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
}


@pytest.fixture
def ddb(edge: EdgeServer) -> Any:
    client = client_for(edge.url, "dynamodb")
    client.create_table(**MUSIC)
    return client


def run(ddb: Any, statement: str, *parameters: Any, **more: Any) -> Any:
    if parameters:
        more["Parameters"] = list(parameters)
    return ddb.execute_statement(Statement=statement, **more)


def S(text: str) -> dict[str, str]:
    return {"S": text}


def add_songs(ddb: Any) -> None:
    for artist, title, year in [("Acme Band", "Happy Day", 2020), ("Acme Band", "PartiQL Rocks", 2021),
                                ("Acme Band", "Zebra", 2021), ("No One You Know", "Call Me", 2020)]:
        run(ddb, 'INSERT INTO "Music" VALUE {\'Artist\': ?, \'SongTitle\': ?, \'Year\': ?}',
            S(artist), S(title), {"N": str(year)})


def test_insert_then_select_gives_the_item_with_every_literal_type(ddb: Any) -> None:
    run(ddb, "INSERT INTO Music VALUE {'Artist': 'Acme Band', 'SongTitle': 'PartiQL Rocks', "
             "'Awards': 8, 'Price': -1.5, 'Live': true, 'Label': null, 'Tags': <<'rock', 'pop'>>, "
             "'Charts': [1, 'one'], 'Info': {'It''s': 'quoted'}}")
    items = run(ddb, "SELECT * FROM Music WHERE Artist = 'Acme Band'")["Items"]
    assert items == [{"Artist": S("Acme Band"), "SongTitle": S("PartiQL Rocks"), "Awards": {"N": "8"},
                      "Price": {"N": "-1.5"}, "Live": {"BOOL": True}, "Label": {"NULL": True},
                      "Tags": {"SS": ["rock", "pop"]}, "Charts": {"L": [{"N": "1"}, S("one")]},
                      "Info": {"M": {"It's": S("quoted")}}}]


def test_insert_of_an_existing_key_is_a_duplicate_item_and_changes_nothing(ddb: Any) -> None:
    run(ddb, "INSERT INTO Music VALUE {'Artist': 'A', 'SongTitle': 'B', 'v': 1}")
    error = error_of(ddb.execute_statement,
                     Statement="INSERT INTO Music VALUE {'Artist': 'A', 'SongTitle': 'B', 'v': 2}")["Error"]
    assert error == {"Code": "DuplicateItemException", "Message": "Duplicate primary key exists in table"}
    assert run(ddb, "SELECT v FROM Music WHERE Artist = 'A'")["Items"] == [{"v": {"N": "1"}}]


def test_select_where_order_by_and_projection(ddb: Any) -> None:
    add_songs(ddb)
    got = run(ddb, "SELECT SongTitle FROM Music WHERE Artist = ? AND Year >= 2021 ORDER BY SongTitle DESC",
              S("Acme Band"))["Items"]
    assert got == [{"SongTitle": S("Zebra")}, {"SongTitle": S("PartiQL Rocks")}]
    scanned = run(ddb, "SELECT * FROM Music WHERE begins_with(SongTitle, 'Ca') OR Year < 2020")["Items"]
    assert [i["SongTitle"] for i in scanned] == [S("Call Me")]
    on_index = run(ddb, 'SELECT Artist FROM "Music"."by-year" WHERE "Year" = 2020')["Items"]
    assert sorted(i["Artist"]["S"] for i in on_index) == ["Acme Band", "No One You Know"]
    missing = run(ddb, "SELECT * FROM Music WHERE Artist = 'Acme Band' AND Label IS MISSING")["Items"]
    assert len(missing) == 3
    between = run(ddb, "SELECT * FROM Music WHERE Year BETWEEN 2020 AND 2020 AND SongTitle IN ['Call Me', 'x']")
    assert [i["SongTitle"] for i in between["Items"]] == [S("Call Me")]


def test_limit_and_next_token_page_through_every_item_once(ddb: Any) -> None:
    add_songs(ddb)
    seen, token = [], None
    for _ in range(10):
        page = run(ddb, "SELECT * FROM Music", Limit=3, **({"NextToken": token} if token else {}))
        seen += [(i["Artist"]["S"], i["SongTitle"]["S"]) for i in page["Items"]]
        token = page.get("NextToken")
        if token is None:
            break
    assert sorted(seen) == sorted(set(seen)) and len(seen) == 4
    other = run(ddb, "SELECT * FROM Music", Limit=1)["NextToken"]
    error = error_of(ddb.execute_statement, Statement="SELECT Artist FROM Music", NextToken=other)["Error"]
    assert error["Message"] == "NextToken does not match request"
    error = error_of(ddb.execute_statement, Statement="SELECT * FROM Music", NextToken="nonsense!")["Error"]
    assert error["Message"] == "Invalid NextToken"
    decoded = json.loads(base64.urlsafe_b64decode(other))
    for forged in [{"Artist": 5}, {"Artist": {"X": "y"}}, []]:  # a token is the caller's to forge
        token = base64.urlsafe_b64encode(json.dumps({**decoded, "key": forged}).encode()).decode()
        error = error_of(ddb.execute_statement, Statement="SELECT * FROM Music", NextToken=token)["Error"]
        assert error["Message"] == "Invalid NextToken"


def test_update_set_remove_and_returning(ddb: Any) -> None:
    run(ddb, "INSERT INTO Music VALUE {'Artist': 'A', 'SongTitle': 'B', 'Plays': 1, 'Old': 'x', "
             "'Tags': <<'a'>>, 'Charts': [1]}")
    got = run(ddb, "UPDATE Music SET Plays = Plays + 5 SET Tags = set_add(Tags, <<'b'>>) "
                   "SET Charts = list_append(Charts, [2]) REMOVE Old "
                   "WHERE Artist = 'A' AND SongTitle = 'B' RETURNING ALL NEW *")["Items"]
    assert got == [{"Artist": S("A"), "SongTitle": S("B"), "Plays": {"N": "6"}, "Tags": {"SS": ["a", "b"]},
                    "Charts": {"L": [{"N": "1"}, {"N": "2"}]}}]
    old = run(ddb, "UPDATE Music SET Plays = ? WHERE Artist = 'A' AND SongTitle = 'B' RETURNING MODIFIED OLD *",
              {"N": "0"})["Items"]
    assert old == [{"Plays": {"N": "6"}}]


def test_update_and_delete_errors_are_dynamodbs(ddb: Any) -> None:
    run(ddb, "INSERT INTO Music VALUE {'Artist': 'A', 'SongTitle': 'B', 'Plays': 1}")
    cases = {
        "UPDATE Music SET Plays = 2 WHERE Artist = 'A'":
            ("ValidationException", "Where clause does not contain a mandatory equality on all key attributes"),
        "UPDATE Music SET Plays = 2 WHERE Artist = 'nobody' AND SongTitle = 'B'":
            ("ConditionalCheckFailedException", "The conditional request failed"),
        "UPDATE Music SET Plays = 2 WHERE Artist = 'A' AND SongTitle = 'B' AND Plays > 5":
            ("ConditionalCheckFailedException", "The conditional request failed"),
        "DELETE FROM Music WHERE Artist = 'A' AND SongTitle = 'B' AND Plays = 7":
            ("ConditionalCheckFailedException", "The conditional request failed"),
        "DELETE FROM Music WHERE Artist = 'A' AND SongTitle = 'B' RETURNING ALL NEW *":
            ("ValidationException", "Invalid returning clause: RETURNING ALL NEW *. Only RETURNING ALL "
                                    "OLD * is allowed in DELETE statements."),
        "SELECT * FROM Music WHERE Artist = ?":
            ("ValidationException", "Number of parameters in request and statement don't match."),
        "INSERT INTO Music VALUE [1, 2]":
            ("ValidationException", "Unsupported format in item expression. Please use struct format {...} "
                                    "to express item values for insert statement."),
        "UPDATE Music SET Artist = 'x' WHERE Artist = 'A' AND SongTitle = 'B'":
            ("ValidationException", "One or more parameter values were invalid: Cannot update attribute "
                                    "Artist. This attribute is part of the key"),
    }
    for statement, (code, message) in cases.items():
        error = error_of(ddb.execute_statement, Statement=statement)["Error"]
        assert (error["Code"], error["Message"]) == (code, message), statement
    malformed = error_of(ddb.execute_statement, Statement="SELEC * FROM Music")["Error"]
    assert malformed["Code"] == "ValidationException"
    assert malformed["Message"].startswith("Statement wasn't well formed, can't be processed: ")
    failed = error_of(ddb.execute_statement, Statement="DELETE FROM Music WHERE Artist = 'A' AND SongTitle = 'B' "
                      "AND Plays = 9", ReturnValuesOnConditionCheckFailure="ALL_OLD")
    assert failed["Item"]["Plays"] == {"N": "1"}
    run(ddb, "DELETE FROM Music WHERE Artist = 'gone' AND SongTitle = 'B' AND Plays = 9")  # no item: no error
    assert run(ddb, "DELETE FROM Music WHERE Artist = 'A' AND SongTitle = 'B' RETURNING ALL OLD *")["Items"] == [
        {"Artist": S("A"), "SongTitle": S("B"), "Plays": {"N": "1"}}]
    assert run(ddb, "SELECT * FROM Music")["Items"] == []


def test_hostile_statements_are_validation_errors(ddb: Any) -> None:
    for statement in ["SELECT * FROM Music WHERE " + "(" * 5000 + "a = 1" + ")" * 5000,
                      "SELECT * FROM Music WHERE " + " AND ".join(["a = 1"] * 1000),
                      "SELECT * FROM Music WHERE a = " + "9" * 60,
                      "SELECT * FROM Music WHERE a = '\x00' AND \u00e9 = 1",
                      "SELECT * FROM Nope", "'" * 3000]:
        error = error_of(ddb.execute_statement, Statement=statement)
        assert error["ResponseMetadata"]["HTTPStatusCode"] == 400, statement


def test_partiql_writes_produce_the_stream_records_item_writes_do(edge: EdgeServer, ddb: Any) -> None:
    run(ddb, "INSERT INTO Music VALUE {'Artist': 'A', 'SongTitle': 'B', 'n': 1}")
    run(ddb, "UPDATE Music SET n = 2 WHERE Artist = 'A' AND SongTitle = 'B'")
    run(ddb, "DELETE FROM Music WHERE Artist = 'A' AND SongTitle = 'B'")
    streams = client_for(edge.url, "dynamodbstreams")
    arn = ddb.describe_table(TableName="Music")["Table"]["LatestStreamArn"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    it = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    records = streams.get_records(ShardIterator=it)["Records"]
    assert [r["eventName"] for r in records] == ["INSERT", "MODIFY", "REMOVE"]
    assert records[1]["dynamodb"]["OldImage"]["n"] == {"N": "1"}
    assert records[1]["dynamodb"]["NewImage"]["n"] == {"N": "2"}


def test_batch_execute_statement_answers_each_statement(ddb: Any) -> None:
    writes = ddb.batch_execute_statement(Statements=[
        {"Statement": "INSERT INTO Music VALUE {'Artist': 'A', 'SongTitle': '1'}"},
        {"Statement": "INSERT INTO Music VALUE {'Artist': 'A', 'SongTitle': '1'}"},
        {"Statement": "UPDATE Music SET x = 1 WHERE Artist = 'A' AND SongTitle = '9'"},
        {"Statement": "INSERT INTO Nowhere VALUE {'Artist': 'A', 'SongTitle': '1'}"},
        {"Statement": "INSERT INTO Music VALUE {'Artist': ?, 'SongTitle': '2'}", "Parameters": [S("B")]},
    ])["Responses"]
    assert [r.get("Error", {}).get("Code") for r in writes] == [
        None, "DuplicateItem", "ConditionalCheckFailed", "ResourceNotFound", None]
    assert writes[1]["Error"]["Message"] == "Duplicate primary key exists in table"
    reads = ddb.batch_execute_statement(Statements=[
        {"Statement": "SELECT * FROM Music WHERE Artist = 'A' AND SongTitle = '1'"},
        {"Statement": "SELECT * FROM Music WHERE Artist = 'A' AND SongTitle = 'none'"},
    ])["Responses"]
    assert reads == [{"TableName": "Music", "Item": {"Artist": S("A"), "SongTitle": S("1")}},
                     {"TableName": "Music"}]
    mixed = error_of(ddb.batch_execute_statement, Statements=[
        {"Statement": "SELECT * FROM Music WHERE Artist = 'A' AND SongTitle = '1'"},
        {"Statement": "DELETE FROM Music WHERE Artist = 'A' AND SongTitle = '1'"}])["Error"]
    assert mixed["Code"] == "ValidationException"


def test_execute_transaction_is_all_or_nothing(ddb: Any) -> None:
    run(ddb, "INSERT INTO Music VALUE {'Artist': 'A', 'SongTitle': '1', 'n': 1}")
    run(ddb, "INSERT INTO Music VALUE {'Artist': 'A', 'SongTitle': '2'}")
    raised = error_of(ddb.execute_transaction, TransactStatements=[
        {"Statement": "INSERT INTO Music VALUE {'Artist': 'B', 'SongTitle': '1'}"},
        {"Statement": "UPDATE Music SET n = 2 WHERE Artist = 'A' AND SongTitle = '1'"},
        {"Statement": "INSERT INTO Music VALUE {'Artist': 'A', 'SongTitle': '2'}"}])
    assert raised["Error"]["Code"] == "TransactionCanceledException"
    assert [r["Code"] for r in raised["CancellationReasons"]] == ["None", "None", "DuplicateItem"]
    assert run(ddb, "SELECT * FROM Music WHERE Artist = 'A'")["Items"] == [
        {"Artist": S("A"), "SongTitle": S("1"), "n": {"N": "1"}}, {"Artist": S("A"), "SongTitle": S("2")}]
    assert run(ddb, "SELECT * FROM Music WHERE Artist = 'B'")["Items"] == []
    ddb.execute_transaction(TransactStatements=[
        {"Statement": "INSERT INTO Music VALUE {'Artist': 'B', 'SongTitle': '1'}"},
        {"Statement": "UPDATE Music SET n = 2 WHERE Artist = 'A' AND SongTitle = '1'"}])
    got = ddb.execute_transaction(TransactStatements=[
        {"Statement": "SELECT n FROM Music WHERE Artist = 'A' AND SongTitle = '1'"},
        {"Statement": "SELECT * FROM Music WHERE Artist = 'C' AND SongTitle = '1'"}])["Responses"]
    assert got == [{"Item": {"n": {"N": "2"}}}, {}]
    scan_in_transaction = error_of(ddb.execute_transaction, TransactStatements=[
        {"Statement": "SELECT * FROM Music WHERE n = 2"}])["Error"]
    assert scan_in_transaction["Message"] == ("Select statements within ExecuteTransaction must specify "
                                              "the primary key in the where clause.")


def test_the_aws_cli_runs_execute_statement(edge: EdgeServer, ddb: Any) -> None:
    aws_cli(edge.url, "dynamodb", "execute-statement", "--statement",
            "INSERT INTO Music VALUE {'Artist': 'Acme Band', 'SongTitle': 'PartiQL Rocks'}")
    got = aws_cli(edge.url, "dynamodb", "execute-statement", "--statement",
                  "SELECT * FROM Music WHERE Artist=?", "--parameters", json.dumps([S("Acme Band")]))
    assert got["Items"] == [{"Artist": S("Acme Band"), "SongTitle": S("PartiQL Rocks")}]


TOKENS = ["SELECT", "INSERT", "INTO", "UPDATE", "DELETE", "FROM", "WHERE", "SET", "REMOVE", "VALUE",
          "RETURNING", "ALL", "MODIFIED", "OLD", "NEW", "ORDER", "BY", "DESC", "AND", "OR", "NOT",
          "BETWEEN", "IN", "IS", "MISSING", "NULL", "true", "*", ",", ".", "=", "<>", "<", ">=", "+",
          "-", "(", ")", "[", "]", "{", "}", "<<", ">>", ":", "?", "'s'", "''", "1", "1e999", "-0",
          "\"Music\"", "Music", "Artist", "SongTitle", "\"by-year\"", "x", "begins_with", "size",
          "set_add", "list_append", "attribute_type", "contains", "0", "99999999999999999999"]


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(words=st.lists(st.sampled_from(TOKENS), max_size=25),
       parameters=st.lists(st.sampled_from([S("a"), {"N": "1"}, {"SS": ["a"]}, {"M": {}}, {"L": []}]),
                           max_size=3))
def test_any_statement_is_answered_or_refused_never_crashes(
        partiql_responses: Any, words: list[str], parameters: list[Any]) -> None:
    try:
        partiql_responses.execute_statement({"Statement": " ".join(words), "Parameters": parameters})
    except DynamoDbError:
        pass


@pytest.fixture(scope="module")
def partiql_responses(tmp_path_factory: pytest.TempPathFactory) -> Any:
    with Lab(data_dir=tmp_path_factory.mktemp("partiql") / "data", clock=VirtualClock(start=1_700_000_000)) as lab:
        tables = dynamodb_of(lab).tables
        tables.create_table({k: v for k, v in MUSIC.items() if k != "StreamSpecification"})
        yield DynamoDbResponses(tables)


def test_exists_is_a_transactions_condition_check(ddb: Any) -> None:
    run(ddb, "INSERT INTO Music VALUE {'Artist': 'A', 'SongTitle': '1', 'stock': 2}")
    check = "EXISTS(SELECT * FROM Music WHERE Artist = 'A' AND SongTitle = '1' AND stock > ?)"
    order = "INSERT INTO Music VALUE {'Artist': 'order', 'SongTitle': ?}"
    ddb.execute_transaction(TransactStatements=[
        {"Statement": check, "Parameters": [{"N": "0"}]}, {"Statement": order, "Parameters": [S("1")]}])
    raised = error_of(ddb.execute_transaction, TransactStatements=[
        {"Statement": check, "Parameters": [{"N": "5"}]}, {"Statement": order, "Parameters": [S("2")]}])
    assert [r["Code"] for r in raised["CancellationReasons"]] == ["ConditionalCheckFailed", "None"]
    missing = error_of(ddb.execute_transaction, TransactStatements=[
        {"Statement": "EXISTS(SELECT * FROM Music WHERE Artist = 'B' AND SongTitle = '1' AND stock > 0)"},
        {"Statement": order, "Parameters": [S("3")]}])
    assert [r["Code"] for r in missing["CancellationReasons"]] == ["ConditionalCheckFailed", "None"]
    assert [i["SongTitle"] for i in run(ddb, "SELECT * FROM Music WHERE Artist = 'order'")["Items"]] == [S("1")]
    alone = error_of(ddb.execute_statement, Statement=check, Parameters=[{"N": "0"}])["Error"]
    assert alone["Message"] == "EXISTS can only be used in ExecuteTransaction write requests."
