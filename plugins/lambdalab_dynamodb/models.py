"""DynamoDB's state: tables, items and stream records, durable in the lab's SQLite store.

Pure state, no HTTP (that is :mod:`.responses`). Every write (PutItem, UpdateItem,
DeleteItem, a batch or a transaction) is one SQLite transaction: the condition is read,
the item written and, on a table with a stream, the stream record appended together, so
an acknowledged write and its stream record survive a SIGKILL, and a failed condition
leaves nothing behind. Times come from the lab's clock (TTL, stream retention, iterator
expiry).

Items are kept whole as JSON, keyed by their partition and sort key values
(:func:`.values.key_text`). A Query reads one partition and sorts it as DynamoDB does
(numbers by value, strings and binaries by their UTF-8 bytes). A secondary index is a
stored copy, as on AWS: each item that carries the index's keys has a row in
``dynamodb_index_items`` holding what the index projects (ALL, KEYS_ONLY or INCLUDE),
written in the item's own transaction (so never behind its table: a difference from
AWS's eventually consistent global indexes, docs/explanation/differences.rst). A Query
or Scan of an index reads its copy, in the index's key order, so its FilterExpression
sees only the projected attributes, as on AWS.
"""

from __future__ import annotations

import json
import threading
import sqlite3
import uuid
import zlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, Mapping

from lambdalab import Timer

from . import quotas, values
from .exceptions import (
    ConditionalCheckFailedException,
    ResourceInUseException,
    ResourceNotFoundException,
    ValidationException,
)
from .backups import MIGRATION as BACKUPS_MIGRATION
from .backups import log_changes
from .expressions import Node, Path, apply_update, project, test
from .throughput import Capacity
from .tokens import ClientTokens
from .tables import Index, KeySchema, Table, check_stream, check_throughput, new_table, partitions, table_arn
from .values import AttributeValue, Item

if TYPE_CHECKING:
    from lambdalab import Lab

#: The plugin's tables in the lab's database (hook ``lambdalab_migrations``).
MIGRATIONS: dict[str, str] = {
    "dynamodb-1": """
    CREATE TABLE dynamodb_tables (
        name TEXT PRIMARY KEY,
        config TEXT NOT NULL
    );
    CREATE TABLE dynamodb_items (
        table_name TEXT NOT NULL REFERENCES dynamodb_tables(name) ON DELETE CASCADE,
        pk TEXT NOT NULL,
        sk TEXT NOT NULL,
        item TEXT NOT NULL,
        PRIMARY KEY (table_name, pk, sk)
    ) WITHOUT ROWID;
    CREATE TABLE dynamodb_streams (
        arn TEXT PRIMARY KEY,
        table_name TEXT NOT NULL,
        label TEXT NOT NULL,
        view_type TEXT NOT NULL,
        shard_id TEXT NOT NULL,
        created_at REAL NOT NULL,
        disabled_at REAL
    );
    CREATE TABLE dynamodb_stream_records (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        stream_arn TEXT NOT NULL,
        created_at REAL NOT NULL,
        record TEXT NOT NULL
    );
    CREATE INDEX dynamodb_stream_records_arn ON dynamodb_stream_records (stream_arn, seq);
    """,
    "dynamodb-2": BACKUPS_MIGRATION,
    "dynamodb-3": """
    CREATE TABLE dynamodb_index_items (
        table_name TEXT NOT NULL,
        index_name TEXT NOT NULL,
        ipk TEXT NOT NULL,
        isk TEXT NOT NULL,
        pk TEXT NOT NULL,
        sk TEXT NOT NULL,
        item TEXT NOT NULL,
        PRIMARY KEY (table_name, index_name, ipk, isk, pk, sk)
    ) WITHOUT ROWID;
    CREATE INDEX dynamodb_index_items_base ON dynamodb_index_items (table_name, pk, sk);
    """,
    "dynamodb-4": """
    ALTER TABLE dynamodb_streams ADD COLUMN shard_count INTEGER NOT NULL DEFAULT 1;
    ALTER TABLE dynamodb_stream_records ADD COLUMN shard INTEGER NOT NULL DEFAULT 0;
    CREATE INDEX dynamodb_stream_records_shard ON dynamodb_stream_records (stream_arn, shard, seq);
    """,
}

#: Rows a Scan reads from SQLite at a time.
SCAN_CHUNK_ROWS = 256

RETURN_VALUES = {
    "PutItem": ("NONE", "ALL_OLD"),
    "DeleteItem": ("NONE", "ALL_OLD"),
    "UpdateItem": ("NONE", "ALL_OLD", "UPDATED_OLD", "ALL_NEW", "UPDATED_NEW"),
}


@dataclass(frozen=True)
class Page:
    """One page of a Query or Scan."""

    items: list[Item]
    scanned: int
    last_key: Item | None
    #: The size of the items read, before the filter: what the page's read costs.
    read_bytes: int = 0


@dataclass(frozen=True)
class Change:
    """One item's change, as a stream sees it: the old and the new image."""

    table: Table
    keys: Item
    old: Item | None
    new: Item | None

    @property
    def event_name(self) -> str:
        return "INSERT" if self.old is None else "REMOVE" if self.new is None else "MODIFY"


def _keys_text(keys: KeySchema, item: Mapping[str, AttributeValue]) -> tuple[str, str]:
    sort = values.key_text(item[keys.range_name]) if keys.range_name else ""
    return values.key_text(item[keys.hash_name]), sort


class Tables:
    """Every DynamoDB table of one lab, their items and their streams."""

    def __init__(self, lab: "Lab") -> None:
        self.lab = lab
        self.store = lab.store
        self.clock = lab.clock
        self.region = lab.arns.region
        self.account = lab.arns.account_id
        #: Called after each committed transaction that appended stream records.
        self.on_stream_records: list[Callable[[str], None]] = []
        #: Called by the minutely sweep, after expired items are deleted.
        self.on_sweep: list[Callable[[], None]] = []
        self._ttl_timer: Timer | None = None
        self._sweep_lock = threading.Lock()
        self._closed = False
        #: Provisioned tables' read and write capacity, metered on the lab's clock.
        self.capacity = Capacity(lab.clock)
        #: Transactions' ClientRequestTokens of the last 10 minutes.
        self.tokens = ClientTokens(lab.clock)

    # -- tables ---------------------------------------------------------------------

    def create_table(self, params: Mapping[str, Any]) -> Table:
        now = self.clock.now()
        table = new_table(params, now, str(uuid.uuid4()))
        table.indexes_stored = True
        with self.store.transaction() as db:
            if db.execute("SELECT 1 FROM dynamodb_tables WHERE name = ?", (table.name,)).fetchone():
                raise ResourceInUseException(f"Table already exists: {table.name}")
            if table.stream_view_type:
                self._open_stream(db, table, now)
            db.execute("INSERT INTO dynamodb_tables (name, config) VALUES (?, ?)",
                       (table.name, _config_text(table)))
        self.sweep_soon()
        return table

    def table(self, name: Any, db: sqlite3.Connection | None = None) -> Table:
        rows = self._rows(db, "SELECT config FROM dynamodb_tables WHERE name = ?", (str(name),))
        if not rows:
            raise ResourceNotFoundException(
                f"Requested resource not found: Table: {name} not found")
        return Table.from_json(json.loads(rows[0][0]))

    def _rows(self, db: sqlite3.Connection | None, sql: str, params: tuple[Any, ...]) -> list[Any]:
        """Rows read inside the write transaction ``db``, else on this thread's reader."""
        return db.execute(sql, params).fetchall() if db is not None else self.store.query(sql, params)

    def describe(self, table: Table, status: str = "ACTIVE") -> dict[str, Any]:
        count, size = self.store.query(
            "SELECT count(*), coalesce(sum(length(item)), 0) FROM dynamodb_items WHERE table_name = ?",
            (table.name,))[0]
        return table.describe(self.region, self.account, count, size, status)

    def list_tables(self, start: str | None, limit: int) -> tuple[list[str], str | None]:
        rows = self.store.query("SELECT name FROM dynamodb_tables WHERE name > ? ORDER BY name LIMIT ?",
                                (start or "", limit + 1))
        names = [r[0] for r in rows]
        return names[:limit], (names[limit - 1] if len(names) > limit else None)

    def delete_table(self, name: str) -> dict[str, Any]:
        table = self.table(name)
        description = self.describe(table, "DELETING")
        with self.store.transaction() as db:
            db.execute("DELETE FROM dynamodb_items WHERE table_name = ?", (name,))
            db.execute("DELETE FROM dynamodb_item_history WHERE table_id = ?", (table.table_id,))
            db.execute("DELETE FROM dynamodb_index_items WHERE table_name = ?", (name,))
            db.execute("DELETE FROM dynamodb_tables WHERE name = ?", (name,))
            self._close_streams(db, name)
        return description

    def update_table(self, name: str, params: Mapping[str, Any]) -> Table:
        """UpdateTable's stream and billing settings (the rest of it is not served)."""
        with self.store.transaction() as db:
            table = self.table(name, db)
            if "StreamSpecification" in params:
                self._change_stream(db, table, params["StreamSpecification"])
            if params.get("BillingMode") or params.get("ProvisionedThroughput"):
                table.billing_mode = params.get("BillingMode") or table.billing_mode
                table.throughput = check_throughput(table.billing_mode, params.get("ProvisionedThroughput"))
            db.execute("UPDATE dynamodb_tables SET config = ? WHERE name = ?", (_config_text(table), name))
        return table

    def set_ttl(self, name: str, spec: Mapping[str, Any]) -> dict[str, Any]:
        """UpdateTimeToLive: the attribute whose epoch-seconds value expires an item
        (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/TTL.html)."""
        attribute, enabled = spec.get("AttributeName"), bool(spec.get("Enabled"))
        with self.store.transaction() as db:
            table = self.table(name, db)
            if enabled and table.ttl_attribute:
                raise ValidationException("TimeToLive is already enabled")
            if not enabled and not table.ttl_attribute:
                raise ValidationException("TimeToLive is already disabled")
            if not enabled and attribute != table.ttl_attribute:
                raise ValidationException(
                    f"Time to live is enabled on attribute {table.ttl_attribute}; disable it with "
                    "that AttributeName")
            table.ttl_attribute = str(attribute) if enabled else None
            db.execute("UPDATE dynamodb_tables SET config = ? WHERE name = ?", (_config_text(table), name))
        return {"Enabled": enabled, "AttributeName": attribute}

    def tag(self, arn: str, add: Mapping[str, str] | None = None, remove: list[str] | None = None) -> dict[str, str]:
        """Add and remove a table's tags; its tags after (TagResource, UntagResource,
        ListTagsOfResource)."""
        name = self.name_of(arn)
        with self.store.transaction() as db:
            table = self.table(name, db)
            table.tags = {k: v for k, v in {**table.tags, **(add or {})}.items() if k not in (remove or [])}
            db.execute("UPDATE dynamodb_tables SET config = ? WHERE name = ?", (_config_text(table), name))
        return table.tags

    def name_of(self, arn: Any) -> str:
        """The table an ARN of this lab names."""
        prefix = table_arn(self.region, self.account, "")
        name = str(arn)[len(prefix):] if str(arn).startswith(prefix) else ""
        if not name or "/" in name:
            raise ValidationException(f"Invalid TableArn: {arn}. Use the TableArn DescribeTable "
                                      f"returns ({prefix}NAME).")
        return name

    # -- items ------------------------------------------------------------------------

    def get_item(self, name: str, key: Any, projection: list[Path] | None = None) -> Item | None:
        table = self.table(name)
        key = table.check_key(key)
        found = self._read(None, table, key)
        return project(found, projection) if found is not None else None

    def put_item(self, name: str, item: Any, condition: Node | None = None) -> Item | None:
        """Write ``item`` whole; the old item (None if there was none)."""
        with self._writing() as (db, changes):
            table = self.table(name, db)
            new = table.check_item(item)
            old = self._checked_old(db, table, table.keys.key_of(new), condition)
            self._write(db, table, new, old, changes)
        return old

    def update_item(self, name: str, key: Any, actions: list[tuple[str, Path, Node | None]] | None,
                    condition: Node | None = None) -> tuple[Item | None, Item]:
        """Apply an UpdateExpression's actions (the item is made when there is none);
        the old and the new item."""
        with self._writing() as (db, changes):
            table = self.table(name, db)
            key = table.check_key(key)
            old = self._checked_old(db, table, key, condition)
            for _, path, _ in actions or []:
                if path[0] in table.keys.names:
                    raise ValidationException(
                        f"One or more parameter values were invalid: Cannot update attribute "
                        f"{path[0]}. This attribute is part of the key")
            new = apply_update({**(old or {}), **key}, actions or [])
            new = table.check_item(new)
            self._write(db, table, new, old, changes)
        return old, new

    def delete_item(self, name: str, key: Any, condition: Node | None = None) -> Item | None:
        with self._writing() as (db, changes):
            table = self.table(name, db)
            key = table.check_key(key)
            old = self._checked_old(db, table, key, condition)
            if old is not None:
                self._delete(db, table, old, changes)
        return old

    # -- the write path ----------------------------------------------------------------

    def _writing(self, by_ttl: bool = False) -> "_Transaction":
        return _Transaction(self, by_ttl)

    def _read(self, db: sqlite3.Connection | None, table: Table, key: Mapping[str, AttributeValue]) -> Item | None:
        pk, sk = _keys_text(table.keys, key)
        rows = self._rows(db, "SELECT item FROM dynamodb_items WHERE table_name = ? AND pk = ? AND sk = ?",
                          (table.name, pk, sk))
        if not rows:
            return None
        item = values.loads(rows[0][0])
        return None if self._expired(table, item) else item

    def _checked_old(self, db: sqlite3.Connection, table: Table, key: Item, condition: Node | None) -> Item | None:
        old = self._read(db, table, key)
        if not test(old or {}, condition):
            failed = ConditionalCheckFailedException("The conditional request failed")
            failed.old = old  # for ReturnValuesOnConditionCheckFailure: ALL_OLD
            raise failed
        return old

    def _write(self, db: sqlite3.Connection, table: Table, new: Item, old: Item | None,
               changes: list[Change]) -> None:
        pk, sk = _keys_text(table.keys, new)
        db.execute("INSERT OR REPLACE INTO dynamodb_items (table_name, pk, sk, item) VALUES (?, ?, ?, ?)",
                   (table.name, pk, sk, values.dumps(new)))
        if table.indexes:
            if old is not None:
                db.execute("DELETE FROM dynamodb_index_items WHERE table_name = ? AND pk = ? AND sk = ?",
                           (table.name, pk, sk))
            _index_rows(db, table, new, pk, sk)
        changes.append(Change(table, table.keys.key_of(new), old, new))

    def _delete(self, db: sqlite3.Connection, table: Table, old: Item, changes: list[Change]) -> None:
        pk, sk = _keys_text(table.keys, old)
        db.execute("DELETE FROM dynamodb_items WHERE table_name = ? AND pk = ? AND sk = ?",
                   (table.name, pk, sk))
        if table.indexes:
            db.execute("DELETE FROM dynamodb_index_items WHERE table_name = ? AND pk = ? AND sk = ?",
                       (table.name, pk, sk))
        changes.append(Change(table, table.keys.key_of(old), old, None))

    def _expired(self, table: Table, item: Item) -> bool:
        """An item past its TTL is gone for reads, as once AWS has deleted it (AWS may
        still return it for up to a few days; lambdalab's clock makes it exact)."""
        if not table.ttl_attribute:
            return False
        value = item.get(table.ttl_attribute)
        if value is None or "N" not in value:
            return False
        return float(value["N"]) <= self.clock.now()

    # -- Query and Scan ----------------------------------------------------------------

    def query(self, name: str, index_name: str | None, key_condition: Node, *,
              filter_: Node | None = None, limit: int | None = None,
              start_key: Any = None, forward: bool = True) -> Page:
        table = self.table(name)
        index = table.index(index_name) if index_name else None
        keys = index.keys if index else table.keys
        hash_value, range_test = split_key_condition(key_condition, keys)
        candidates = self._partition(table, index, keys, hash_value)
        matching = [i for i in candidates if test(i, range_test)]
        order = _order(table, keys)
        matching.sort(key=order, reverse=not forward)
        if start_key is not None:
            start = order(_checked_start(table, index, start_key))
            matching = [i for i in matching if (order(i) > start if forward else order(i) < start)]
        return self._page(table, index, matching, filter_, limit)

    def scan(self, name: str, index_name: str | None, *, filter_: Node | None = None,
             limit: int | None = None, start_key: Any = None,
             segment: tuple[int, int] | None = None) -> Page:
        table = self.table(name)
        index = table.index(index_name) if index_name else None
        after: tuple[str, ...] = ("", "") if index is None else ("", "", "", "")
        if start_key is not None:
            start = _checked_start(table, index, start_key)
            after = _keys_text(table.keys, start)
            if index is not None:
                after = _keys_text(index.keys, start) + after
        items = self._scanned(table, index, after, segment)
        return self._page(table, index, items, filter_, limit)

    def _scanned(self, table: Table, index: Index | None, after: tuple[str, ...],
                 segment: tuple[int, int] | None) -> Iterator[Item]:
        """The items of the table (or the index's copies) after the key ``after``, in key
        order, read a chunk at a time (a page reads only what it needs)."""
        if index is None:
            sql = ("SELECT pk, item, sk FROM dynamodb_items WHERE table_name = ? AND (pk, sk) > (?, ?) "
                   "ORDER BY pk, sk LIMIT ?")
            where: tuple[str, ...] = (table.name,)
        else:
            sql = ("SELECT ipk, item, isk, pk, sk FROM dynamodb_index_items WHERE table_name = ? "
                   "AND index_name = ? AND (ipk, isk, pk, sk) > (?, ?, ?, ?) "
                   "ORDER BY ipk, isk, pk, sk LIMIT ?")
            where = (table.name, index.name)
        while True:
            rows = self.store.query(sql, (*where, *after, SCAN_CHUNK_ROWS))
            for row in rows:
                if segment and zlib.crc32(row[0].encode()) % segment[1] != segment[0]:
                    continue
                item = values.loads(row[1])
                if not self._expired(table, item):
                    yield item
            if len(rows) < SCAN_CHUNK_ROWS:
                return
            after = (rows[-1][0], *rows[-1][2:])

    def _partition(self, table: Table, index: Index | None, keys: KeySchema,
                   hash_value: AttributeValue) -> list[Item]:
        if index is None:
            rows = self.store.query("SELECT item FROM dynamodb_items WHERE table_name = ? AND pk = ?",
                                    (table.name, values.key_text(hash_value)))
        else:  # the index's own copy of the partition
            rows = self.store.query(
                "SELECT item FROM dynamodb_index_items WHERE table_name = ? AND index_name = ? AND ipk = ?",
                (table.name, index.name, values.key_text(hash_value)))
        items = (values.loads(r[0]) for r in rows)
        return [i for i in items if not self._expired(table, i) and keys.has_keys(i)
                and values.equal(i[keys.hash_name], hash_value)]

    def _page(self, table: Table, index: Index | None, items: Iterable[Item], filter_: Node | None,
              limit: int | None) -> Page:
        """Up to ``limit`` items read (and at most 1 MB), then filtered, as DynamoDB pages.
        A page that stops at ``limit`` has a LastEvaluatedKey even when nothing follows, as
        on AWS: only a page without one is the last."""
        read: list[Item] = []
        size = 0
        more = False
        for item in items:
            if limit is not None and len(read) >= limit or size >= quotas.PAGE_MAX_BYTES:
                more = True
                break
            read.append(item)
            size += values.item_size(item)
        last = None
        if read and (more or limit is not None and len(read) >= limit):
            last = table.keys.key_of(read[-1]) | (index.keys.key_of(read[-1]) if index else {})
        kept = [_index_view(table, index, i) for i in read if test(i, filter_)]
        return Page(kept, len(read), last, size)

    # -- batches and transactions ------------------------------------------------------

    def transact(self, actions: list[Callable[[sqlite3.Connection, list[Change]], None]]) -> None:
        """Run each action in one SQLite transaction: all are written or none."""
        with self._writing() as (db, changes):
            for action in actions:
                action(db, changes)

    def write_action(self, kind: str, name: str, params: Mapping[str, Any],
                     condition: Node | None = None,
                     update: list[tuple[str, Path, Node | None]] | None = None
                     ) -> Callable[[sqlite3.Connection, list[Change]], None]:
        """One write (Put, Update, Delete) or ConditionCheck of a batch or transaction, to
        run inside :meth:`transact`."""
        def run(db: sqlite3.Connection, changes: list[Change]) -> None:
            table = self.table(name, db)
            if kind == "Put":
                new = table.check_item(params.get("Item"))
                old = self._checked_old(db, table, table.keys.key_of(new), condition)
                self._write(db, table, new, old, changes)
                return
            key = table.check_key(params.get("Key"))
            old = self._checked_old(db, table, key, condition)  # all a ConditionCheck does
            if kind == "Delete" and old is not None:
                self._delete(db, table, old, changes)
            elif kind == "Update":
                new = table.check_item(apply_update({**(old or {}), **key}, update or []))
                self._write(db, table, new, old, changes)
        return run

    # -- TTL -----------------------------------------------------------------------------

    def sweep_expired(self) -> int:
        """Delete every item past its TTL (a REMOVE stream record with the DynamoDB
        service as its user identity); how many went."""
        now = self.clock.now()
        deleted = 0
        for (config,) in self.store.query("SELECT config FROM dynamodb_tables"):
            table = Table.from_json(json.loads(config))
            if not table.ttl_attribute:
                continue
            with self._writing(by_ttl=True) as (db, changes):
                for (text,) in db.execute("SELECT item FROM dynamodb_items WHERE table_name = ?",
                                          (table.name,)).fetchall():
                    item = values.loads(text)
                    value = item.get(table.ttl_attribute)
                    if value and "N" in value and float(value["N"]) <= now:
                        self._delete(db, table, item, changes)
                        deleted += 1
        return deleted

    def start(self) -> None:
        self._store_indexes()
        self._schedule_sweep()

    def _store_indexes(self) -> None:
        """Fill the index copies of tables made before indexes were stored (migration
        ``dynamodb-3``), once."""
        for (config,) in self.store.query("SELECT config FROM dynamodb_tables", ()):
            table = Table.from_json(json.loads(config))
            if table.indexes_stored:
                continue
            with self.store.transaction() as db:
                self.rebuild_indexes(db, table)
                table.indexes_stored = True
                db.execute("UPDATE dynamodb_tables SET config = ? WHERE name = ?",
                           (_config_text(table), table.name))

    def rebuild_indexes(self, db: sqlite3.Connection, table: Table) -> None:
        """Write every index row of ``table`` anew from its items (a restore, an upgrade)."""
        db.execute("DELETE FROM dynamodb_index_items WHERE table_name = ?", (table.name,))
        if not table.indexes:
            return
        for pk, sk, text in db.execute("SELECT pk, sk, item FROM dynamodb_items WHERE table_name = ?",
                                       (table.name,)).fetchall():
            _index_rows(db, table, values.loads(text), pk, sk)

    def _schedule_sweep(self) -> None:
        """The minutely sweep (TTL, stream retention, the recovery log), while there is
        something to sweep: a lab without tables or streams has no timer, so advancing its
        clock by years does not step through millions of empty sweeps; a new table starts
        it again (:meth:`sweep_soon`)."""
        with self._sweep_lock:
            if self._closed or self._ttl_timer is not None:
                return

            def sweep() -> None:
                with self._sweep_lock:
                    self._ttl_timer = None
                if not self._has_work():
                    return
                try:
                    self.sweep_expired()
                    for listener in self.on_sweep:
                        listener()
                finally:
                    self._schedule_sweep()

            self._ttl_timer = self.clock.call_later(quotas.TTL_SWEEP_S, sweep)

    sweep_soon = _schedule_sweep

    def _has_work(self) -> bool:
        """A table, or a stream (its records outlive a deleted table by the retention)."""
        return bool(self.store.query(
            "SELECT EXISTS (SELECT 1 FROM dynamodb_tables) OR EXISTS (SELECT 1 FROM dynamodb_streams)")[0][0])

    def close(self) -> None:
        with self._sweep_lock:
            self._closed = True
            if self._ttl_timer is not None:
                self._ttl_timer.cancel()

    # -- streams -------------------------------------------------------------------------

    def _open_stream(self, db: sqlite3.Connection, table: Table, now: float) -> None:
        from .streams import new_stream

        label, arn, shard_id = new_stream(self.region, self.account, table.name, now)
        table.stream_label = label
        table.stream_shards = partitions(table)
        db.execute("INSERT INTO dynamodb_streams (arn, table_name, label, view_type, shard_id, created_at, "
                   "shard_count) VALUES (?, ?, ?, ?, ?, ?, ?)",
                   (arn, table.name, label, table.stream_view_type, shard_id, now, table.stream_shards))

    def _close_streams(self, db: sqlite3.Connection, name: str) -> None:
        db.execute("UPDATE dynamodb_streams SET disabled_at = ? WHERE table_name = ? AND disabled_at IS NULL",
                   (self.clock.now(), name))

    def _change_stream(self, db: sqlite3.Connection, table: Table, spec: Any) -> None:
        view = check_stream(spec)
        if view and table.stream_view_type:
            raise ResourceInUseException(f"Table already has an enabled stream: {table_arn(self.region, self.account, table.name)}/stream/{table.stream_label}")
        if not view and not table.stream_view_type:
            raise ValidationException("Table already has no stream enabled")
        table.stream_view_type = view
        if view:
            self._open_stream(db, table, self.clock.now())
        else:
            self._close_streams(db, table.name)

    def _stream_records(self, db: sqlite3.Connection, changes: list[Change], ttl: bool) -> set[str]:
        from .streams import record_of, shard_of

        arns = set()
        now = self.clock.now()
        for change in changes:
            if not change.table.stream_view_type:
                continue
            arn = f"{table_arn(self.region, self.account, change.table.name)}/stream/{change.table.stream_label}"
            shard = shard_of(change.keys[change.table.keys.hash_name], change.table.stream_shards)
            db.execute("INSERT INTO dynamodb_stream_records (stream_arn, created_at, record, shard) "
                       "VALUES (?, ?, ?, ?)", (arn, now, record_of(change, self.region, now, ttl), shard))
            arns.add(arn)
        return arns


class _Transaction:
    """``with tables._writing() as (db, changes)``: one SQLite transaction whose item
    changes become stream records before it commits; listeners hear of them after."""

    def __init__(self, tables: Tables, by_ttl: bool = False) -> None:
        self.tables = tables
        self.by_ttl = by_ttl
        self.changes: list[Change] = []
        self._transaction: Any = None
        self.arns: set[str] = set()

    def __enter__(self) -> tuple[sqlite3.Connection, list[Change]]:
        self._transaction = self.tables.store.transaction()
        db = self._transaction.__enter__()
        self.db = db
        return db, self.changes

    def __exit__(self, *exc: Any) -> bool:
        if exc[0] is None:
            try:
                self.arns = self.tables._stream_records(self.db, self.changes, self.by_ttl)
                log_changes(self.db, self.changes, self.tables.clock.now())
            except BaseException as e:
                self._transaction.__exit__(type(e), e, e.__traceback__)
                raise
        result = bool(self._transaction.__exit__(*exc))
        if exc[0] is None:
            for arn in self.arns:
                for listener in self.tables.on_stream_records:
                    listener(arn)
        return result


def split_key_condition(node: Node, keys: KeySchema) -> tuple[AttributeValue, Node | None]:
    """The partition key's value and the sort key's condition of a KeyConditionExpression,
    or ValidationException as DynamoDB words it."""
    parts = _conjuncts(node)
    named = [_key_condition_name(part) for part in parts]
    if len(set(named)) != len(named) or len(parts) > 2:
        raise ValidationException("KeyConditionExpressions must only contain one condition per key")
    hash_value: AttributeValue | None = None
    range_test: Node | None = None
    for name, part in zip(named, parts):
        if name == keys.hash_name and part[0] == "cmp" and part[1] == "=":
            hash_value = part[3][1] if part[3][0] == "value" else part[2][1]
        elif name == keys.range_name and keys.range_name:
            range_test = part
        elif name == keys.hash_name:
            raise ValidationException("Query key condition not supported")
        else:
            raise ValidationException(f"Query condition missed key schema element: {keys.range_name}"
                                      if keys.range_name and hash_value is not None or name == keys.hash_name
                                      else f"Query condition missed key schema element: {keys.hash_name}")
    if hash_value is None:
        raise ValidationException(f"Query condition missed key schema element: {keys.hash_name}")
    _check_key_value_types(hash_value, keys.hash_type)
    if range_test is not None and keys.range_type:
        for operand in range_test[2] if range_test[0] == "func" else range_test[1:]:
            if isinstance(operand, tuple) and operand[0] == "value":
                _check_key_value_types(operand[1], keys.range_type)
        if range_test[0] == "func" and keys.range_type == "N":
            raise ValidationException("Invalid KeyConditionExpression: Incorrect operand type for "
                                      "operator or function; operator or function: begins_with, "
                                      "operand type: N")
    return hash_value, range_test


def _conjuncts(node: Node) -> list[Node]:
    """The conditions a KeyConditionExpression ANDs together."""
    if node[0] == "and":
        return _conjuncts(node[1]) + _conjuncts(node[2])
    return [node]


def _check_key_value_types(value: AttributeValue, kind: str) -> None:
    if next(iter(value)) != kind:
        raise ValidationException("One or more parameter values were invalid: Condition parameter "
                                  "type does not match schema type")


def _key_condition_name(part: Node) -> str | None:
    """The key a condition of a KeyConditionExpression is about (a top-level path
    compared to values), else None."""
    if part[0] == "cmp" and part[1] != "<>":
        operands = [part[2], part[3]]
    elif part[0] == "between":
        operands = [part[1], part[2], part[3]]
    elif part[0] == "func" and part[1] == "begins_with":
        operands = part[2]
    else:
        raise ValidationException(f"Invalid operator used in KeyConditionExpression: "
                                  f"{part[1] if part[0] in ('cmp', 'func') else part[0].upper()}")
    paths = [o for o in operands if o[0] == "path"]
    if len(paths) != 1 or len(paths[0][1]) != 1 or any(o[0] not in ("path", "value") for o in operands):
        raise ValidationException("Invalid KeyConditionExpression: a condition compares one key "
                                  "attribute with values")
    return str(paths[0][1][0])


def _order(table: Table, keys: KeySchema) -> Callable[[Item], tuple[Any, ...]]:
    """How a Query sorts: by the (index's) sort key, then by the table's key."""
    def key(item: Item) -> tuple[Any, ...]:
        out: list[Any] = []
        for schema in (keys, table.keys):
            if schema.range_name:
                value = item.get(schema.range_name)
                out.append(values.sort_value(value) if value else b"")
            out.append(values.key_text(item[schema.hash_name]) if schema.hash_name in item else "")
        return tuple((type(v).__name__, v) for v in out)
    return key


def _checked_start(table: Table, index: Index | None, start: Any) -> Item:
    start = values.checked_item(start, "ExclusiveStartKey")
    wanted = set(table.keys.names) | (set(index.keys.names) if index else set())
    if set(start) != wanted:
        raise ValidationException("The provided starting key is invalid: The provided key element "
                                  "does not match the schema")
    return start


def _index_view(table: Table, index: Index | None, item: Item) -> Item:
    """What an index holds of ``item``: all of it, its keys, or its keys and INCLUDE's."""
    if index is None or index.projection.get("ProjectionType") == "ALL":
        return item
    names = set(table.keys.names) | set(index.keys.names)
    names |= set(index.projection.get("NonKeyAttributes") or [])
    return {k: v for k, v in item.items() if k in names}


def _index_rows(db: sqlite3.Connection, table: Table, item: Item, pk: str, sk: str) -> None:
    """``item``'s row in each index whose keys it carries, holding the index's projection."""
    for index in table.indexes:
        if not index.keys.has_keys(item):
            continue
        ipk, isk = _keys_text(index.keys, item)
        db.execute("INSERT INTO dynamodb_index_items (table_name, index_name, ipk, isk, pk, sk, item) "
                   "VALUES (?, ?, ?, ?, ?, ?, ?)",
                   (table.name, index.name, ipk, isk, pk, sk, values.dumps(_index_view(table, index, item))))


def _config_text(table: Table) -> str:
    return json.dumps(table.to_json())
