"""DynamoDB Streams: a table's item changes as stream records, and the Streams API that
reads them (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Streams.html,
https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_Operations_Amazon_DynamoDB_Streams.html).

A record is kept as Lambda's DynamoDB event writes it
(https://docs.aws.amazon.com/lambda/latest/dg/with-ddb.html): binaries in base64,
``ApproximateCreationDateTime`` in epoch seconds. GetRecords gives the same record in the
API's shapes. A stream has a shard per partition of its table, as on AWS: one for an
on-demand table, one per 3,000 RCU and 1,000 WCU of a provisioned one
(:func:`.tables.partitions`), fixed when the stream is enabled; a record goes to the
shard its partition key hashes to (MD5), so one item's records stay in order in one
shard. Shards are open while the stream is enabled; sequence numbers rise with each
write across the lab. Records older than 24 hours on the lab's clock are trimmed.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Mapping

from . import quotas, values
from .exceptions import ExpiredIteratorException, ResourceNotFoundException, ValidationException

if TYPE_CHECKING:
    from .models import Change, Tables

#: Sequence numbers are at least 21 digits (the model's SequenceNumber is 21 to 40).
_SEQUENCE_BASE = 10 ** 20
ITERATOR_TYPES = ("TRIM_HORIZON", "LATEST", "AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER")
#: Who deletes an expired item: the record's userIdentity
#: (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/time-to-live-ttl-streams.html).
TTL_IDENTITY = {"type": "Service", "principalId": "dynamodb.amazonaws.com"}


def new_stream(region: str, account: str, table: str, now: float) -> tuple[str, str, str]:
    """A new stream's label (its creation time), ARN and shard id."""
    when = datetime.fromtimestamp(now, timezone.utc)
    label = when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}"
    arn = f"arn:aws:dynamodb:{region}:{account}:table/{table}/stream/{label}"
    shard = f"shardId-{int(now * 1000):020d}-{hashlib.sha256(arn.encode()).hexdigest()[:8]}"
    return label, arn, shard


def shard_of(hash_value: Mapping[str, Any], shards: int) -> int:
    """The shard (0 … shards-1) of a partition key value."""
    if shards <= 1:
        return 0
    digest = hashlib.md5(values.key_text(dict(hash_value)).encode()).digest()
    return int.from_bytes(digest[:8], "big") % shards


def sequence_number(seq: int) -> str:
    return str(_SEQUENCE_BASE + seq)


def record_of(change: "Change", region: str, now: float, by_ttl: bool) -> str:
    """The stream record of ``change`` (without its sequence number, which is the row's)."""
    view = change.table.stream_view_type
    body: dict[str, Any] = {"ApproximateCreationDateTime": int(now),
                            "Keys": values.as_json(change.keys)}
    if change.new is not None and view in ("NEW_IMAGE", "NEW_AND_OLD_IMAGES"):
        body["NewImage"] = values.as_json(change.new)
    if change.old is not None and view in ("OLD_IMAGE", "NEW_AND_OLD_IMAGES"):
        body["OldImage"] = values.as_json(change.old)
    body["SizeBytes"] = sum(values.item_size(i) for i in (change.keys, change.new, change.old)
                            if i is not None and view != "KEYS_ONLY") or values.item_size(change.keys)
    body["StreamViewType"] = view
    record: dict[str, Any] = {"eventName": change.event_name, "eventVersion": "1.1",
                              "eventSource": "aws:dynamodb", "awsRegion": region, "dynamodb": body}
    if by_ttl:
        record["userIdentity"] = TTL_IDENTITY
    return json.dumps(record, separators=(",", ":"))


def event_record(seq: int, stream_arn: str, text: str) -> dict[str, Any]:
    """A stored record as Lambda's DynamoDB event holds it."""
    record = json.loads(text)
    record["dynamodb"]["SequenceNumber"] = sequence_number(seq)
    out = {"eventID": hashlib.md5(f"{stream_arn}/{seq}".encode()).hexdigest(), **record,
           "eventSourceARN": stream_arn}
    return out


def api_record(seq: int, stream_arn: str, text: str) -> dict[str, Any]:
    """A stored record in GetRecords' ``Record`` shape (binaries as bytes)."""
    record = event_record(seq, stream_arn, text)
    record.pop("eventSourceARN")
    body = record["dynamodb"]
    for name in ("Keys", "NewImage", "OldImage"):
        if name in body:
            body[name] = values.loads(json.dumps(body[name]))
    if "userIdentity" in record:
        identity = record["userIdentity"]
        record["userIdentity"] = {"PrincipalId": identity["principalId"], "Type": identity["type"]}
    return record


@dataclass(frozen=True)
class Stream:
    arn: str
    table_name: str
    label: str
    view_type: str
    shard_id: str
    created_at: float
    disabled_at: float | None
    shard_count: int = 1

    @property
    def status(self) -> str:
        return "ENABLED" if self.disabled_at is None else "DISABLED"

    @property
    def shard_ids(self) -> list[str]:
        """Shard 0 keeps the stored id; the others share its creation time."""
        prefix = self.shard_id.rsplit("-", 1)[0]
        return [self.shard_id] + [f"{prefix}-{hashlib.sha256(f'{self.arn}/{i}'.encode()).hexdigest()[:8]}"
                                  for i in range(1, self.shard_count)]

    def shard(self, shard_id: Any) -> int:
        """The index of ``shard_id``; ResourceNotFoundException if the stream has no such shard."""
        ids = self.shard_ids
        if shard_id not in ids:
            raise ResourceNotFoundException("Requested resource not found: Shard does not exist")
        return ids.index(shard_id)


@dataclass(frozen=True)
class Position:
    """Where a shard iterator points: the next sequence (row) number to read."""

    stream_arn: str
    shard_id: str
    next_seq: int
    issued_at: float

    def token(self) -> str:
        raw = json.dumps([self.stream_arn, self.shard_id, self.next_seq, self.issued_at])
        return base64.urlsafe_b64encode(raw.encode()).decode()

    @classmethod
    def of(cls, token: Any) -> "Position":
        try:
            arn, shard, seq, issued = json.loads(base64.urlsafe_b64decode(str(token).encode()))
            return cls(str(arn), str(shard), int(seq), float(issued))
        except (binascii.Error, ValueError, TypeError, UnicodeDecodeError):
            raise ValidationException(
                "Invalid ShardIterator: pass the ShardIterator that GetShardIterator or "
                "GetRecords returned") from None


class Streams:
    """The streams of one lab's tables, read through the Streams API."""

    def __init__(self, tables: "Tables") -> None:
        self.tables = tables
        self.store = tables.store
        self.clock = tables.clock
        #: Notified whenever a write appends stream records (a mapping's poller waits on it).
        self.changed = threading.Condition()
        tables.on_stream_records.append(self._appended)
        tables.on_sweep.append(self.trim)

    def _appended(self, arn: str) -> None:
        with self.changed:
            self.changed.notify_all()

    def streams(self, table_name: str | None = None) -> list[Stream]:
        self.trim()
        rows = self.store.query(
            "SELECT * FROM dynamodb_streams WHERE ? IS NULL OR table_name = ? ORDER BY created_at, arn",
            (table_name, table_name))
        return [Stream(**dict(r)) for r in rows]

    def stream(self, arn: Any) -> Stream:
        rows = self.store.query("SELECT * FROM dynamodb_streams WHERE arn = ?", (str(arn),))
        if not rows:
            raise ResourceNotFoundException(f"Requested resource not found: Stream: {arn} not found")
        return Stream(**dict(rows[0]))

    def bounds(self, stream: Stream, shard: int) -> tuple[int | None, int | None]:
        """The first and last sequence (row) numbers a shard of the stream holds."""
        first, last = self.store.query(
            "SELECT min(seq), max(seq) FROM dynamodb_stream_records WHERE stream_arn = ? AND shard = ? "
            "AND created_at > ?", (stream.arn, shard, self.clock.now() - quotas.STREAM_RETENTION_S))[0]
        return first, last

    def _shard_description(self, stream: Stream, shard: int) -> dict[str, Any]:
        first, last = self.bounds(stream, shard)
        ranges: dict[str, str] = {}
        if first is not None:
            ranges["StartingSequenceNumber"] = sequence_number(first)
        if stream.disabled_at is not None and last is not None:
            ranges["EndingSequenceNumber"] = sequence_number(last)
        return {"ShardId": stream.shard_ids[shard], "SequenceNumberRange": ranges}

    def describe(self, arn: Any) -> dict[str, Any]:
        stream = self.stream(arn)
        table = self.tables.table(stream.table_name) if stream.status == "ENABLED" else None
        return {
            "StreamArn": stream.arn, "StreamLabel": stream.label, "StreamStatus": stream.status,
            "StreamViewType": stream.view_type, "CreationRequestDateTime": stream.created_at,
            "TableName": stream.table_name,
            "KeySchema": table.keys.to_aws() if table else [],
            "Shards": [self._shard_description(stream, i) for i in range(stream.shard_count)],
        }

    def shard_iterator(self, arn: Any, shard_id: Any, kind: str, sequence: Any = None) -> str:
        stream = self.stream(arn)
        first, last = self.bounds(stream, stream.shard(shard_id))
        if kind == "TRIM_HORIZON":
            seq = first if first is not None else (last or 0) + 1
        elif kind == "LATEST":
            seq = self._last_seq(stream) + 1
        else:
            if sequence is None:
                raise ValidationException(f"SequenceNumber is required for ShardIteratorType {kind}")
            seq = _row_of(sequence) + (1 if kind == "AFTER_SEQUENCE_NUMBER" else 0)
        return Position(stream.arn, str(shard_id), seq, self.clock.now()).token()

    def _last_seq(self, stream: Stream) -> int:
        """The lab's last sequence (row) number: LATEST reads what comes after it."""
        row = self.store.query("SELECT max(seq) FROM dynamodb_stream_records")[0][0]
        return int(row or 0)

    def last_seq(self, stream: Stream) -> int | None:
        """The stream's last record's sequence (row) number, None when it has none."""
        row = self.store.query("SELECT max(seq) FROM dynamodb_stream_records WHERE stream_arn = ?",
                               (stream.arn,))[0][0]
        return int(row) if row is not None else None

    def last_seq_before(self, stream: Stream, when: float) -> int | None:
        """The last record written before ``when`` (AT_TIMESTAMP starts after it)."""
        row = self.store.query("SELECT max(seq) FROM dynamodb_stream_records WHERE stream_arn = ? "
                               "AND created_at < ?", (stream.arn, when))[0][0]
        return int(row) if row is not None else None

    @staticmethod
    def row_of(sequence: str) -> int:
        return _row_of(sequence)

    def get_records(self, token: Any, limit: int | None) -> dict[str, Any]:
        position = Position.of(token)
        now = self.clock.now()
        if now - position.issued_at > quotas.SHARD_ITERATOR_TTL_S:
            raise ExpiredIteratorException("Iterator expired. The iterator was created at time "
                                           f"{_iso(position.issued_at)} while right now it is {_iso(now)} "
                                           "which is further in the future than the tolerated delay of 900000 milliseconds.")
        stream = self.stream(position.stream_arn)
        rows = self.store.query(
            "SELECT seq, record FROM dynamodb_stream_records WHERE stream_arn = ? AND shard = ? "
            "AND seq >= ? AND created_at > ? ORDER BY seq LIMIT ?",
            (stream.arn, stream.shard(position.shard_id), position.next_seq,
             now - quotas.STREAM_RETENTION_S, limit or quotas.GET_RECORDS_MAX))
        records = [api_record(seq, stream.arn, text) for seq, text in rows]
        out: dict[str, Any] = {"Records": records}
        next_seq = rows[-1][0] + 1 if rows else position.next_seq
        if stream.status == "ENABLED" or rows:
            out["NextShardIterator"] = Position(stream.arn, position.shard_id, next_seq, now).token()
        return out

    def records_after(self, arn: str, after_seq: int, limit: int,
                      shard: int | None = None) -> list[tuple[float, dict[str, Any]]]:
        """Up to ``limit`` records past ``after_seq`` (of one shard, or of all) with the time
        each was written, as Lambda's event holds them: what a stream mapping reads."""
        rows = self.store.query(
            "SELECT seq, created_at, record FROM dynamodb_stream_records WHERE stream_arn = ? "
            "AND (? IS NULL OR shard = ?) AND seq > ? AND created_at > ? ORDER BY seq LIMIT ?",
            (arn, shard, shard, after_seq, self.clock.now() - quotas.STREAM_RETENTION_S, limit))
        return [(created_at, event_record(seq, arn, text)) for seq, created_at, text in rows]

    def trim(self) -> None:
        """Forget records past retention and streams disabled for longer than it."""
        cutoff = self.clock.now() - quotas.STREAM_RETENTION_S
        with self.store.transaction() as db:
            db.execute("DELETE FROM dynamodb_stream_records WHERE created_at <= ?", (cutoff,))
            db.execute("DELETE FROM dynamodb_streams WHERE disabled_at IS NOT NULL AND disabled_at <= ?",
                       (cutoff,))


def _row_of(sequence: Any) -> int:
    try:
        number = int(str(sequence))
    except ValueError:
        number = -1
    if number < _SEQUENCE_BASE:
        raise ValidationException(f"Invalid SequenceNumber: {sequence}. Pass a SequenceNumber "
                                  "of a record of this stream.")
    return number - _SEQUENCE_BASE


def _iso(when: float) -> str:
    return datetime.fromtimestamp(when, timezone.utc).strftime("%a %b %d %H:%M:%S UTC %Y")


def stream_arn_parts(arn: str) -> Mapping[str, str] | None:
    """The table name of a stream ARN, or None when ``arn`` is not one."""
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[2] != "dynamodb" or "/stream/" not in parts[5]:
        return None
    table = parts[5].split("/")[1]
    return {"table": table}
