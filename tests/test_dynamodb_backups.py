"""DynamoDB's on-demand backups and point-in-time recovery, judged by boto3 and the AWS
CLI against the edge. The lab runs on a VirtualClock: the 35-day window and the
restore times are the lab's, with no waiting."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from lambdalab import Lab, VirtualClock
from lambdalab.server import EdgeServer
from lambdalab_dynamodb import dynamodb_of
from lambdalab_dynamodb.backups import Backups

from .edge_support import client_for, edge  # noqa: F401  (fixtures)
from .test_dynamodb import error_of
from .test_edge_sqs import aws_cli

TABLE = {
    "TableName": "notes",
    "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
    "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"},
                             {"AttributeName": "kind", "AttributeType": "S"}],
    "BillingMode": "PAY_PER_REQUEST",
    "GlobalSecondaryIndexes": [{"IndexName": "by-kind",
                                "KeySchema": [{"AttributeName": "kind", "KeyType": "HASH"}],
                                "Projection": {"ProjectionType": "ALL"}}],
    "StreamSpecification": {"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
}
DAY = 86400


@pytest.fixture
def ddb(edge: EdgeServer) -> Any:
    client = client_for(edge.url, "dynamodb")
    client.create_table(**TABLE)
    return client


def put(ddb: Any, key: str, text: str, table: str = "notes") -> None:
    ddb.put_item(TableName=table, Item={"id": {"S": key}, "kind": {"S": "memo"}, "text": {"S": text}})


def contents(ddb: Any, table: str) -> dict[str, str]:
    return {i["id"]["S"]: i["text"]["S"] for i in ddb.scan(TableName=table)["Items"]}


def at(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, timezone.utc)


def test_a_backup_restores_to_a_new_table_as_it_was(ddb: Any, clock: VirtualClock) -> None:
    put(ddb, "1", "one")
    put(ddb, "2", "two")
    details = ddb.create_backup(TableName="notes", BackupName="before-cleanup")["BackupDetails"]
    assert details["BackupStatus"] == "CREATING" and details["BackupType"] == "USER"
    arn = details["BackupArn"]
    assert arn.startswith("arn:aws:dynamodb:us-east-1:") and ":table/notes/backup/" in arn
    put(ddb, "1", "changed")
    ddb.delete_item(TableName="notes", Key={"id": {"S": "2"}})

    described = ddb.describe_backup(BackupArn=arn)["BackupDescription"]
    assert described["BackupDetails"]["BackupStatus"] == "AVAILABLE"
    assert described["SourceTableDetails"]["ItemCount"] == 2
    assert described["SourceTableDetails"]["TableName"] == "notes"
    assert [i["IndexName"] for i in described["SourceTableFeatureDetails"]["GlobalSecondaryIndexes"]] == ["by-kind"]

    restored = ddb.restore_table_from_backup(TargetTableName="notes-restored", BackupArn=arn)["TableDescription"]
    assert restored["TableStatus"] == "CREATING"
    assert restored["RestoreSummary"]["SourceBackupArn"] == arn
    assert restored["RestoreSummary"]["RestoreInProgress"] is True
    ddb.get_waiter("table_exists").wait(TableName="notes-restored")
    table = ddb.describe_table(TableName="notes-restored")["Table"]
    assert table["TableStatus"] == "ACTIVE" and table["RestoreSummary"]["RestoreInProgress"] is False
    assert "StreamSpecification" not in table  # AWS restores no stream settings
    assert contents(ddb, "notes-restored") == {"1": "one", "2": "two"}
    assert len(ddb.query(TableName="notes-restored", IndexName="by-kind", KeyConditionExpression="kind = :k",
                         ExpressionAttributeValues={":k": {"S": "memo"}})["Items"]) == 2
    assert contents(ddb, "notes") == {"1": "changed"}


def test_list_filter_page_and_delete_backups(ddb: Any, clock: VirtualClock) -> None:
    ddb.create_table(**{**TABLE, "TableName": "other"})
    first = ddb.create_backup(TableName="notes", BackupName="aaa")["BackupDetails"]
    clock.advance(3600)
    second = ddb.create_backup(TableName="notes", BackupName="bbb")["BackupDetails"]
    ddb.create_backup(TableName="other", BackupName="ccc")
    listed = ddb.list_backups(TableName="notes")["BackupSummaries"]
    assert [b["BackupName"] for b in listed] == ["aaa", "bbb"]
    assert listed[0]["TableArn"].endswith(":table/notes")
    page = ddb.list_backups(Limit=2)
    assert len(page["BackupSummaries"]) == 2
    rest = ddb.list_backups(Limit=2, ExclusiveStartBackupArn=page["LastEvaluatedBackupArn"])
    assert [b["BackupName"] for b in rest["BackupSummaries"]] == ["ccc"]
    later = ddb.list_backups(TimeRangeLowerBound=at(second["BackupCreationDateTime"].timestamp()))
    assert [b["BackupName"] for b in later["BackupSummaries"]] == ["bbb", "ccc"]

    gone = ddb.delete_backup(BackupArn=first["BackupArn"])["BackupDescription"]
    assert gone["BackupDetails"]["BackupStatus"] == "DELETED"
    error = error_of(ddb.describe_backup, BackupArn=first["BackupArn"])["Error"]
    assert error == {"Code": "BackupNotFoundException", "Message": f"Backup not found: {first['BackupArn']}"}
    ddb.delete_table(TableName="notes")  # a backup outlives its table, as on AWS
    assert [b["BackupName"] for b in ddb.list_backups(TableName="notes")["BackupSummaries"]] == ["bbb"]


def test_backup_errors_are_awss(ddb: Any) -> None:
    assert error_of(ddb.create_backup, TableName="nope", BackupName="x1x")["Error"]["Code"] == "TableNotFoundException"
    arn = ddb.create_backup(TableName="notes", BackupName="ok1")["BackupDetails"]["BackupArn"]
    exists = error_of(ddb.restore_table_from_backup, TargetTableName="notes", BackupArn=arn)["Error"]
    assert exists == {"Code": "TableAlreadyExistsException", "Message": "Table already exists: notes"}
    assert error_of(ddb.restore_table_from_backup, TargetTableName="t2t",
                    BackupArn=arn + "0")["Error"]["Code"] == "BackupNotFoundException"
    assert error_of(ddb.describe_continuous_backups, TableName="nope")["Error"]["Code"] == "TableNotFoundException"


def test_point_in_time_recovery_restores_the_table_at_any_second_of_its_window(
        ddb: Any, clock: VirtualClock) -> None:
    put(ddb, "early", "before pitr")
    off = ddb.describe_continuous_backups(TableName="notes")["ContinuousBackupsDescription"]
    assert off["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"] == "DISABLED"
    refused = error_of(ddb.restore_table_to_point_in_time, SourceTableName="notes", TargetTableName="x-x",
                       UseLatestRestorableTime=True)["Error"]
    assert refused["Code"] == "PointInTimeRecoveryUnavailableException"

    enabled_at = clock.now()
    on = ddb.update_continuous_backups(TableName="notes", PointInTimeRecoverySpecification={
        "PointInTimeRecoveryEnabled": True})["ContinuousBackupsDescription"]
    pitr = on["PointInTimeRecoveryDescription"]
    assert pitr["PointInTimeRecoveryStatus"] == "ENABLED" and pitr["RecoveryPeriodInDays"] == 35
    assert pitr["EarliestRestorableDateTime"].timestamp() == enabled_at
    clock.advance(3600)
    put(ddb, "1", "first")
    t1 = clock.now()
    clock.advance(3600)
    put(ddb, "1", "second")
    ddb.delete_item(TableName="notes", Key={"id": {"S": "early"}})
    t2 = clock.now()
    clock.advance(3600)
    ddb.execute_statement(Statement="UPDATE notes SET text = 'third' WHERE id = '1'")

    for name, when, expected in [("at-enable", enabled_at, {"early": "before pitr"}),
                                 ("at-t1", t1, {"early": "before pitr", "1": "first"}),
                                 ("at-t2", t2, {"1": "second"})]:
        ddb.restore_table_to_point_in_time(SourceTableName="notes", TargetTableName=name, RestoreDateTime=at(when))
        assert contents(ddb, name) == expected, name
    latest = ddb.restore_table_to_point_in_time(SourceTableName="notes", TargetTableName="latest",
                                                UseLatestRestorableTime=True)["TableDescription"]
    assert latest["RestoreSummary"]["RestoreDateTime"].timestamp() == clock.now()
    assert contents(ddb, "latest") == {"1": "third"}
    too_early = error_of(ddb.restore_table_to_point_in_time, SourceTableName="notes", TargetTableName="x-y",
                         RestoreDateTime=at(enabled_at - 1))["Error"]
    assert too_early["Code"] == "InvalidRestoreTimeException"


def test_the_change_log_is_bounded_by_the_recovery_period(ddb: Any, clock: VirtualClock, lab: Lab) -> None:
    ddb.update_continuous_backups(TableName="notes", PointInTimeRecoverySpecification={
        "PointInTimeRecoveryEnabled": True, "RecoveryPeriodInDays": 1})
    for hour in range(48):
        put(ddb, "1", f"hour {hour}")
        put(ddb, f"gone-{hour}", "x")
        ddb.delete_item(TableName="notes", Key={"id": {"S": f"gone-{hour}"}})
        clock.advance(3600)
    logged = lab.store.query("SELECT count(*) FROM dynamodb_item_history", ())[0][0]
    # one day of three entries an hour (and a base image for item 1); not 48 hours' worth
    assert logged <= 3 * 25 + 1
    earliest = ddb.describe_continuous_backups(TableName="notes")[
        "ContinuousBackupsDescription"]["PointInTimeRecoveryDescription"]["EarliestRestorableDateTime"]
    assert earliest.timestamp() == clock.now() - DAY
    ddb.restore_table_to_point_in_time(SourceTableName="notes", TargetTableName="a-day-ago",
                                       RestoreDateTime=earliest)
    assert contents(ddb, "a-day-ago") == {"1": "hour 24"}  # written at that very second
    ddb.update_continuous_backups(TableName="notes", PointInTimeRecoverySpecification={
        "PointInTimeRecoveryEnabled": False})
    assert lab.store.query("SELECT count(*) FROM dynamodb_item_history", ())[0][0] == 0


def test_backups_and_the_log_survive_a_restart(tmp_path: Path) -> None:
    clock = VirtualClock(start=1_700_000_000)
    with Lab(data_dir=tmp_path / "data", clock=clock) as lab:
        tables = dynamodb_of(lab).tables
        tables.create_table({k: v for k, v in TABLE.items() if k != "StreamSpecification"})
        tables.put_item("notes", {"id": {"S": "1"}, "text": {"S": "kept"}})
        arn = Backups(tables).create("notes", "durable").arn
        Backups(tables).update_continuous("notes", {"PointInTimeRecoveryEnabled": True})
        clock.advance(60)
        tables.put_item("notes", {"id": {"S": "1"}, "text": {"S": "later"}})
        before = clock.now() - 30
    with Lab(data_dir=tmp_path / "data", clock=clock) as lab:
        tables = dynamodb_of(lab).tables
        Backups(tables).restore({"TargetTableName": "from-backup", "BackupArn": arn})
        Backups(tables).restore_to_point_in_time({"SourceTableName": "notes", "TargetTableName": "from-log",
                                                  "RestoreDateTime": at(before)})
        assert tables.get_item("from-backup", {"id": {"S": "1"}})["text"] == {"S": "kept"}  # type: ignore[index]
        assert tables.get_item("from-log", {"id": {"S": "1"}})["text"] == {"S": "kept"}  # type: ignore[index]


def test_the_aws_cli_creates_and_restores_a_backup(edge: EdgeServer, ddb: Any) -> None:
    put(ddb, "1", "cli")
    arn = aws_cli(edge.url, "dynamodb", "create-backup", "--table-name", "notes",
                  "--backup-name", "from-cli")["BackupDetails"]["BackupArn"]
    aws_cli(edge.url, "dynamodb", "restore-table-from-backup", "--target-table-name", "cli-copy",
            "--backup-arn", arn)
    assert contents(ddb, "cli-copy") == {"1": "cli"}
