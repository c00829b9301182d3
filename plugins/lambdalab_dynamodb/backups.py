"""On-demand backups and point-in-time recovery, durable in the lab's store
(https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Backup-and-Restore.html,
https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Point-in-time-recovery.html).

A backup is a copy of the table's rows and definition, taken in one SQLite transaction,
so it is the table as one instant saw it; it outlives its table, as on AWS. A restore
makes a new table from it, with what AWS restores (keys, indexes, billing) and not what
it leaves to be set again (streams, TTL, tags, point-in-time recovery).

Point-in-time recovery keeps a change log: when it is enabled every item is logged as of
that moment, then each write (in the transaction that makes it, beside its stream record)
logs the item after it, or its deletion. The table at time T is each key's last logged
image at or before T. The log is bounded by the recovery period (35 days unless
``RecoveryPeriodInDays`` says fewer, on the lab's clock): the minutely sweep folds what
is older than the period into one base image per key, and drops keys deleted before it.
"""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Mapping

from . import quotas
from .exceptions import (
    BackupNotFoundException,
    InvalidRestoreTimeException,
    PointInTimeRecoveryUnavailableException,
    TableAlreadyExistsException,
    TableNotFoundException,
    ValidationException,
)
from .tables import Table, check_throughput, table_arn

if TYPE_CHECKING:
    from .models import Change, Tables

MIGRATION = """
CREATE TABLE dynamodb_backups (
    arn TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    table_name TEXT NOT NULL,
    created_at REAL NOT NULL,
    config TEXT NOT NULL,
    item_count INTEGER NOT NULL,
    size_bytes INTEGER NOT NULL
);
CREATE TABLE dynamodb_backup_items (
    backup_arn TEXT NOT NULL REFERENCES dynamodb_backups(arn) ON DELETE CASCADE,
    pk TEXT NOT NULL,
    sk TEXT NOT NULL,
    item TEXT NOT NULL,
    PRIMARY KEY (backup_arn, pk, sk)
) WITHOUT ROWID;
CREATE TABLE dynamodb_item_history (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    table_id TEXT NOT NULL,
    at REAL NOT NULL,
    pk TEXT NOT NULL,
    sk TEXT NOT NULL,
    item TEXT
);
CREATE INDEX dynamodb_item_history_key ON dynamodb_item_history (table_id, pk, sk, at);
"""

_BACKUP_NAME = re.compile(r"^[a-zA-Z0-9_.-]{3,255}$")
#: RestoreTable*'s overrides lambdalab applies; the others are refused by name.
_OVERRIDES = ("BillingModeOverride", "ProvisionedThroughputOverride")
_REFUSED_OVERRIDES = ("GlobalSecondaryIndexOverride", "LocalSecondaryIndexOverride",
                      "OnDemandThroughputOverride", "SSESpecificationOverride", "VectorIndexOverride")


@dataclass(frozen=True)
class Backup:
    arn: str
    name: str
    table_name: str
    created_at: float
    table: Table
    item_count: int
    size_bytes: int

    def details(self, status: str = "AVAILABLE") -> dict[str, Any]:
        return {"BackupArn": self.arn, "BackupName": self.name, "BackupSizeBytes": self.size_bytes,
                "BackupStatus": status, "BackupType": "USER",
                "BackupCreationDateTime": self.created_at}

    def summary(self, region: str, account: str) -> dict[str, Any]:
        return {"TableName": self.table_name, "TableId": self.table.table_id,
                "TableArn": table_arn(region, account, self.table_name), **self.details()}

    def description(self, region: str, account: str, status: str = "AVAILABLE") -> dict[str, Any]:
        described = self.table.describe(region, account, self.item_count, self.size_bytes)
        source = {"TableName": self.table_name, "TableId": self.table.table_id,
                  "TableArn": described["TableArn"], "TableSizeBytes": self.size_bytes,
                  "KeySchema": described["KeySchema"], "TableCreationDateTime": self.table.created_at,
                  "ProvisionedThroughput": {k: v for k, v in self.table.throughput.items()},
                  "ItemCount": self.item_count, "BillingMode": self.table.billing_mode}
        features: dict[str, Any] = {k: described[k] for k in ("LocalSecondaryIndexes", "GlobalSecondaryIndexes")
                    if k in described}
        if "StreamSpecification" in described:
            features["StreamDescription"] = described["StreamSpecification"]
        if self.table.ttl_attribute:
            features["TimeToLiveDescription"] = {"TimeToLiveStatus": "ENABLED",
                                                 "AttributeName": self.table.ttl_attribute}
        return {"BackupDetails": self.details(status), "SourceTableDetails": source,
                "SourceTableFeatureDetails": features}


def _backup_arn(region: str, account: str, table: str, now: float) -> str:
    """``…:table/NAME/backup/<13-digit epoch ms>-<8 hex>``, as AWS forms it."""
    suffix = hashlib.sha256(uuid.uuid4().bytes).hexdigest()[:8]
    return f"{table_arn(region, account, table)}/backup/{int(now * 1000):014d}-{suffix}"


class Backups:
    """A lab's backups and its tables' point-in-time recovery."""

    def __init__(self, tables: "Tables") -> None:
        self.tables = tables
        self.store = tables.store
        self.clock = tables.clock

    # -- on-demand backups -----------------------------------------------------------------

    def create(self, table_name: str, name: Any) -> Backup:
        if not isinstance(name, str) or not _BACKUP_NAME.match(name):
            raise ValidationException("BackupName must be 3 to 255 characters of [a-zA-Z0-9_.-]")
        now = self.clock.now()
        with self.store.transaction() as db:
            table = self._source(db, table_name)
            arn = _backup_arn(self.tables.region, self.tables.account, table.name, now)
            count, size = db.execute(
                "SELECT count(*), coalesce(sum(length(item)), 0) FROM dynamodb_items WHERE table_name = ?",
                (table.name,)).fetchone()
            db.execute("INSERT INTO dynamodb_backups (arn, name, table_name, created_at, config, item_count, "
                       "size_bytes) VALUES (?, ?, ?, ?, ?, ?, ?)",
                       (arn, name, table.name, now, json.dumps(table.to_json()), count, size))
            db.execute("INSERT INTO dynamodb_backup_items (backup_arn, pk, sk, item) "
                       "SELECT ?, pk, sk, item FROM dynamodb_items WHERE table_name = ?", (arn, table.name))
        return Backup(arn, name, table.name, now, table, count, size)

    def get(self, arn: Any, db: sqlite3.Connection | None = None) -> Backup:
        sql = ("SELECT arn, name, table_name, created_at, config, item_count, size_bytes "
               "FROM dynamodb_backups WHERE arn = ?")
        rows = db.execute(sql, (str(arn),)).fetchall() if db else self.store.query(sql, (str(arn),))
        if not rows:
            raise BackupNotFoundException(f"Backup not found: {arn}")
        return _backup(rows[0])

    def list(self, p: Mapping[str, Any]) -> tuple[list[Backup], str | None]:
        if p.get("BackupType") not in (None, "USER", "ALL"):
            return [], None  # lambdalab makes only USER backups
        rows = self.store.query("SELECT arn, name, table_name, created_at, config, item_count, size_bytes "
                                "FROM dynamodb_backups ORDER BY created_at, arn", ())
        backups = [_backup(r) for r in rows]
        low, high = p.get("TimeRangeLowerBound"), p.get("TimeRangeUpperBound")
        backups = [b for b in backups
                   if (not p.get("TableName") or b.table_name == p["TableName"])
                   and (low is None or b.created_at >= low.timestamp())
                   and (high is None or b.created_at <= high.timestamp())]
        start = p.get("ExclusiveStartBackupArn")
        if start:
            arns = [b.arn for b in backups]
            backups = backups[arns.index(start) + 1:] if start in arns else backups
        limit = p.get("Limit") or quotas.LIST_BACKUPS_MAX
        return backups[:limit], (backups[limit - 1].arn if len(backups) > limit else None)

    def delete(self, arn: Any) -> Backup:
        with self.store.transaction() as db:
            backup = self.get(arn, db)
            db.execute("DELETE FROM dynamodb_backup_items WHERE backup_arn = ?", (backup.arn,))
            db.execute("DELETE FROM dynamodb_backups WHERE arn = ?", (backup.arn,))
        return backup

    def restore(self, p: Mapping[str, Any]) -> Table:
        """RestoreTableFromBackup: a new table holding the backup's items."""
        backup = self.get(p["BackupArn"])
        summary = {"SourceBackupArn": backup.arn,
                   "SourceTableArn": table_arn(self.tables.region, self.tables.account, backup.table_name),
                   "RestoreDateTime": backup.created_at}
        with self.store.transaction() as db:
            table = self._new_table(db, backup.table, p, summary)
            db.execute("INSERT INTO dynamodb_items (table_name, pk, sk, item) "
                       "SELECT ?, pk, sk, item FROM dynamodb_backup_items WHERE backup_arn = ?",
                       (table.name, backup.arn))
            self.tables.rebuild_indexes(db, table)
        return table

    # -- point-in-time recovery ----------------------------------------------------------------

    def update_continuous(self, table_name: str, spec: Mapping[str, Any]) -> dict[str, Any]:
        """UpdateContinuousBackups: enabling logs every item as of now; disabling drops the log."""
        enabled = bool(spec.get("PointInTimeRecoveryEnabled"))
        days = spec.get("RecoveryPeriodInDays")
        if days is not None and not (1 <= int(days) <= quotas.PITR_DAYS_MAX):
            raise ValidationException(f"RecoveryPeriodInDays must be between 1 and {quotas.PITR_DAYS_MAX}")
        now = self.clock.now()
        with self.store.transaction() as db:
            table = self._source(db, table_name)
            if enabled and table.pitr_since is None:
                table.pitr_since = now
                db.execute("INSERT INTO dynamodb_item_history (table_id, at, pk, sk, item) "
                           "SELECT ?, ?, pk, sk, item FROM dynamodb_items WHERE table_name = ?",
                           (table.table_id, now, table.name))
            elif not enabled and table.pitr_since is not None:
                table.pitr_since = None
                db.execute("DELETE FROM dynamodb_item_history WHERE table_id = ?", (table.table_id,))
            if enabled:
                table.pitr_days = int(days or table.pitr_days or quotas.PITR_DAYS_MAX)
            db.execute("UPDATE dynamodb_tables SET config = ? WHERE name = ?",
                       (json.dumps(table.to_json()), table.name))
        return self.continuous(table)

    def describe_continuous(self, table_name: str) -> dict[str, Any]:
        with self.store.transaction() as db:
            return self.continuous(self._source(db, table_name))

    def continuous(self, table: Table) -> dict[str, Any]:
        if table.pitr_since is None:
            return {"ContinuousBackupsStatus": "ENABLED",
                    "PointInTimeRecoveryDescription": {"PointInTimeRecoveryStatus": "DISABLED"}}
        earliest, latest = self._window(table)
        return {"ContinuousBackupsStatus": "ENABLED",
                "PointInTimeRecoveryDescription": {
                    "PointInTimeRecoveryStatus": "ENABLED", "RecoveryPeriodInDays": table.pitr_days,
                    "EarliestRestorableDateTime": earliest, "LatestRestorableDateTime": latest}}

    def _window(self, table: Table) -> tuple[float, float]:
        now = self.clock.now()
        return max(float(table.pitr_since or now), now - table.pitr_days * 86400), now

    def restore_to_point_in_time(self, p: Mapping[str, Any]) -> Table:
        source_name = p.get("SourceTableName") or (self.tables.name_of(p["SourceTableArn"])
                                                   if p.get("SourceTableArn") else None)
        if not source_name:
            raise ValidationException("Either SourceTableName or SourceTableArn must be specified")
        with self.store.transaction() as db:
            source = self._source(db, source_name)
            if source.pitr_since is None:
                raise PointInTimeRecoveryUnavailableException(
                    f"Point in time recovery is not enabled for table '{source.name}'")
            earliest, latest = self._window(source)
            when = latest if p.get("UseLatestRestorableTime") or p.get("RestoreDateTime") is None \
                else p["RestoreDateTime"].timestamp()
            if not earliest <= when <= latest:
                raise InvalidRestoreTimeException(
                    f"Restore time must be between {earliest} and {latest} (epoch seconds); "
                    f"was {when}")
            summary = {"SourceTableArn": table_arn(self.tables.region, self.tables.account, source.name),
                       "RestoreDateTime": when}
            table = self._new_table(db, source, p, summary)
            db.execute(
                "INSERT INTO dynamodb_items (table_name, pk, sk, item) "
                "SELECT ?, h.pk, h.sk, h.item FROM dynamodb_item_history h WHERE h.table_id = ? "
                "AND h.seq = (SELECT max(g.seq) FROM dynamodb_item_history g WHERE g.table_id = h.table_id "
                "AND g.pk = h.pk AND g.sk = h.sk AND g.at <= ?) AND h.item IS NOT NULL",
                (table.name, source.table_id, when))
            self.tables.rebuild_indexes(db, table)
        return table

    def compact(self) -> None:
        """Fold each PITR log's entries older than its recovery period into one base image
        per key (a key deleted before the period leaves nothing)."""
        now = self.clock.now()
        for (config,) in self.store.query("SELECT config FROM dynamodb_tables", ()):
            table = Table.from_json(json.loads(config))
            if table.pitr_since is None:
                continue
            cutoff = now - table.pitr_days * 86400
            with self.store.transaction() as db:
                db.execute("DELETE FROM dynamodb_item_history WHERE table_id = ? AND at < ? AND seq NOT IN "
                           "(SELECT max(seq) FROM dynamodb_item_history WHERE table_id = ? AND at < ? "
                           "GROUP BY pk, sk)", (table.table_id, cutoff, table.table_id, cutoff))
                db.execute("DELETE FROM dynamodb_item_history WHERE table_id = ? AND at < ? AND item IS NULL",
                           (table.table_id, cutoff))

    # -- shared --------------------------------------------------------------------------

    def _source(self, db: sqlite3.Connection, name: Any) -> Table:
        rows = db.execute("SELECT config FROM dynamodb_tables WHERE name = ?", (str(name),)).fetchall()
        if not rows:
            raise TableNotFoundException(f"Table not found: {name}")
        return Table.from_json(json.loads(rows[0][0]))

    def _new_table(self, db: sqlite3.Connection, source: Table, p: Mapping[str, Any],
                   summary: dict[str, Any]) -> Table:
        refused = [name for name in _REFUSED_OVERRIDES if p.get(name) is not None]
        if refused:
            raise ValidationException(f"lambdalab's restores apply {' and '.join(_OVERRIDES)}; "
                                      f"not {', '.join(refused)}")
        name = p["TargetTableName"]
        if db.execute("SELECT 1 FROM dynamodb_tables WHERE name = ?", (name,)).fetchone():
            raise TableAlreadyExistsException(f"Table already exists: {name}")
        from .tables import check_table_name

        billing = p.get("BillingModeOverride") or source.billing_mode
        throughput = source.throughput
        if p.get("BillingModeOverride") or p.get("ProvisionedThroughputOverride"):
            throughput = check_throughput(billing, p.get("ProvisionedThroughputOverride")
                                          or (source.throughput if billing == "PROVISIONED" else None))
        table = Table(name=check_table_name(name), keys=source.keys,
                      attribute_definitions=source.attribute_definitions, billing_mode=billing,
                      throughput=throughput, created_at=self.clock.now(), table_id=str(uuid.uuid4()),
                      indexes=source.indexes, restore_summary={**summary, "RestoreInProgress": False},
                      indexes_stored=True)
        db.execute("INSERT INTO dynamodb_tables (name, config) VALUES (?, ?)",
                   (table.name, json.dumps(table.to_json())))
        self.tables.sweep_soon()
        return table


def _backup(row: Any) -> Backup:
    arn, name, table_name, created_at, config, count, size = row
    return Backup(arn, name, table_name, created_at, Table.from_json(json.loads(config)), count, size)


def log_changes(db: sqlite3.Connection, changes: list["Change"], now: float) -> None:
    """Log each change of a table with point-in-time recovery on (in the write's transaction)."""
    from .models import _keys_text
    from . import values

    for change in changes:
        if change.table.pitr_since is None:
            continue
        pk, sk = _keys_text(change.table.keys, change.keys)
        item = values.dumps(change.new) if change.new is not None else None
        db.execute("INSERT INTO dynamodb_item_history (table_id, at, pk, sk, item) VALUES (?, ?, ?, ?, ?)",
                   (change.table.table_id, now, pk, sk, item))
