"""Kinesis data streams in the lab's store: streams, shards over the hash key space, records.

Pure state, no HTTP (:mod:`.responses` is the wire). What AWS documents and this keeps
(https://docs.aws.amazon.com/streams/latest/dev/key-concepts.html):

- a record goes to the shard whose hash key range holds the MD5 of its partition key
  (as a 128-bit integer), or its ``ExplicitHashKey``;
- sequence numbers are 56-digit decimals that grow within a shard (:func:`sequence_number`);
- records are kept for the stream's retention period on the lab's clock, then are gone;
- each shard takes 1 MiB or 1,000 records a second in and gives 2 MiB or 5 reads a second
  out; past that, ``ProvisionedThroughputExceededException``.

A record is committed to the store before PutRecord answers, so an acknowledged record
survives a SIGKILL of the server.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterable

from lambdalab.plugin import stream_sources

from . import quotas
from .exceptions import (
    ExpiredIteratorException,
    InvalidArgumentException,
    LimitExceededException,
    ProvisionedThroughputExceededException,
    ResourceInUseException,
    ResourceNotFoundException,
    ValidationException,
)

if TYPE_CHECKING:
    from lambdalab import Lab

MIGRATIONS = {
    "kinesis-1": """
    CREATE TABLE kinesis_streams (
        name TEXT PRIMARY KEY,
        mode TEXT NOT NULL,
        retention_hours INTEGER NOT NULL,
        created REAL NOT NULL,
        next_counter INTEGER NOT NULL DEFAULT 1,
        next_shard INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE kinesis_shards (
        stream TEXT NOT NULL REFERENCES kinesis_streams(name) ON DELETE CASCADE,
        shard_id TEXT NOT NULL,
        shard_index INTEGER NOT NULL,
        parents TEXT NOT NULL DEFAULT '[]',
        start_hash TEXT NOT NULL,
        end_hash TEXT NOT NULL,
        start_counter INTEGER NOT NULL,
        end_counter INTEGER,
        created REAL NOT NULL,
        closed_at REAL,
        PRIMARY KEY (stream, shard_id)
    );
    CREATE TABLE kinesis_records (
        stream TEXT NOT NULL REFERENCES kinesis_streams(name) ON DELETE CASCADE,
        counter INTEGER NOT NULL,
        shard_id TEXT NOT NULL,
        partition_key TEXT NOT NULL,
        data BLOB NOT NULL,
        arrival REAL NOT NULL,
        PRIMARY KEY (stream, counter)
    );
    CREATE INDEX kinesis_records_shard ON kinesis_records (stream, shard_id, counter);
    CREATE INDEX kinesis_records_arrival ON kinesis_records (stream, arrival);
    CREATE TABLE kinesis_mappings (
        uuid TEXT PRIMARY KEY,
        service TEXT NOT NULL,
        config TEXT NOT NULL
    );
    CREATE TABLE kinesis_checkpoints (
        uuid TEXT NOT NULL REFERENCES kinesis_mappings(uuid) ON DELETE CASCADE,
        shard_id TEXT NOT NULL,
        position TEXT,
        window TEXT,
        PRIMARY KEY (uuid, shard_id)
    );
    """,
    "kinesis-2": """
    CREATE TABLE kinesis_consumers (
        stream TEXT NOT NULL REFERENCES kinesis_streams(name) ON DELETE CASCADE,
        name TEXT NOT NULL,
        created REAL NOT NULL,
        deleting_at REAL,
        PRIMARY KEY (stream, name)
    );
    """,
}

STREAM_NAME = re.compile(r"[a-zA-Z0-9_.-]{1,128}")
PROVISIONED, ON_DEMAND = "PROVISIONED", "ON_DEMAND"
ITERATOR_TYPES = ("AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER", "TRIM_HORIZON", "LATEST",
                  "AT_TIMESTAMP")
#: Bits of a sequence number, low to high: 40 spare, a 72-bit counter (per stream), the
#: shard's index (32 bits), its creation second (40 bits), and version 2 at bit 185, which
#: makes every number 56 digits starting ``49`` as AWS's do.
_COUNTER_SHIFT, _COUNTER_BITS = 40, 72
_INDEX_SHIFT, _CREATED_SHIFT, _VERSION = 112, 144, 2 << 184
_PURGE_EVERY_S = 60.0
#: Counters stay below SQLite's 64-bit integers: a number past this came from no stream.
_COUNTER_MAX = 2**62


def sequence_number(shard_created: float, shard_index: int, counter: int) -> str:
    """The sequence number of the ``counter``-th record of a stream, in one shard."""
    return str(_VERSION | (int(shard_created) % 2**40) << _CREATED_SHIFT
               | (shard_index % 2**32) << _INDEX_SHIFT | counter << _COUNTER_SHIFT)


def counter_of(sequence: str) -> int:
    """The stream counter a sequence number holds."""
    return (int(sequence) >> _COUNTER_SHIFT) % 2**_COUNTER_BITS


def hash_key(partition_key: str) -> int:
    """The partition key's place in the hash key space: its MD5 as a 128-bit integer."""
    return int.from_bytes(hashlib.md5(partition_key.encode("utf-8", "surrogatepass")).digest(), "big")


def check_partition_key(key: str) -> None:
    """Refuse a partition key UTF-8 cannot carry (a lone surrogate, which JSON's
    ``\\ud800`` escapes can bring): AWS's InvalidArgumentException, not a store error."""
    try:
        key.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidArgumentException(
            "PartitionKey must be valid Unicode: it has a lone surrogate (\\ud800-\\udfff) "
            "that UTF-8 cannot carry.") from None


def shard_id(index: int) -> str:
    return f"shardId-{index:012d}"


def even_ranges(count: int) -> list[tuple[int, int]]:
    """``count`` hash key ranges splitting 0..2^128-1 evenly, as CreateStream makes them."""
    step = (quotas.HASH_KEY_MAX + 1) // count
    return [(i * step, quotas.HASH_KEY_MAX if i == count - 1 else (i + 1) * step - 1)
            for i in range(count)]


@dataclass(frozen=True)
class Shard:
    """One shard: its hash key range and its sequence number range."""

    shard_id: str
    index: int
    start_hash: int
    end_hash: int
    start_counter: int
    created: float
    #: The shards this one came from (a split: one; a merge: two; UpdateShardCount: every
    #: old shard whose hash key range overlaps this one's).
    parents: tuple[str, ...] = ()
    end_counter: int | None = None
    closed_at: float | None = None

    @property
    def closed(self) -> bool:
        return self.end_counter is not None

    def sequence(self, counter: int) -> str:
        return sequence_number(self.created, self.index, counter)

    def holds(self, sequence: str) -> bool:
        """Whether ``sequence`` is a sequence number of this shard."""
        counter = counter_of(sequence)
        return counter < _COUNTER_MAX and sequence_number(self.created, self.index, counter) == sequence

    def to_aws(self) -> dict[str, Any]:
        numbers = {"StartingSequenceNumber": self.sequence(self.start_counter)}
        if self.end_counter is not None:
            numbers["EndingSequenceNumber"] = self.sequence(self.end_counter)
        out: dict[str, Any] = {
            "ShardId": self.shard_id,
            "HashKeyRange": {"StartingHashKey": str(self.start_hash),
                             "EndingHashKey": str(self.end_hash)},
            "SequenceNumberRange": numbers,
        }
        if self.parents:
            out["ParentShardId"] = self.parents[0]
        if len(self.parents) > 1:
            out["AdjacentParentShardId"] = self.parents[1]
        return out


@dataclass(frozen=True)
class Stream:
    """One stream, as DescribeStreamSummary describes it."""

    name: str
    arn: str
    mode: str
    retention_hours: int
    created: float

    def summary(self, open_shards: int, consumers: int = 0) -> dict[str, Any]:
        return {
            "StreamName": self.name,
            "StreamARN": self.arn,
            "StreamStatus": "ACTIVE",
            "StreamModeDetails": {"StreamMode": self.mode},
            "RetentionPeriodHours": self.retention_hours,
            "StreamCreationTimestamp": self.created,
            "EnhancedMonitoring": [{"ShardLevelMetrics": []}],
            "EncryptionType": "NONE",
            "OpenShardCount": open_shards,
            "ConsumerCount": consumers,
        }


@dataclass(frozen=True)
class Record:
    """One record as GetRecords returns it."""

    sequence_number: str
    partition_key: str
    data: bytes
    arrival: float

    def to_aws(self) -> dict[str, Any]:
        return {"SequenceNumber": self.sequence_number, "PartitionKey": self.partition_key,
                "Data": self.data, "ApproximateArrivalTimestamp": self.arrival}


@dataclass(frozen=True)
class Iterator:
    """What a shard iterator stands for: a place in one shard, given at ``issued``."""

    stream: str
    shard_id: str
    after: int
    issued: float
    stream_created: float

    def encode(self) -> str:
        text = json.dumps([self.stream, self.shard_id, self.after, self.issued, self.stream_created])
        return base64.urlsafe_b64encode(text.encode()).decode()

    @classmethod
    def decode(cls, token: str) -> "Iterator":
        try:
            stream, shard, after, issued, created = json.loads(base64.urlsafe_b64decode(token))
            if not (isinstance(stream, str) and isinstance(shard, str) and type(after) is int
                    and 0 <= after < _COUNTER_MAX
                    and all(isinstance(v, (int, float)) for v in (issued, created))):
                raise ValueError(token)
        except (ValueError, TypeError, binascii.Error):
            raise InvalidArgumentException(
                f"Invalid ShardIterator: {token[:64]!r} is not one GetShardIterator gave. "
                "Ask GetShardIterator for a new one.") from None
        return cls(stream, shard, after, float(issued), float(created))


@dataclass
class _Usage:
    """One shard's use of its throughput in one second of the lab's clock."""

    second: int = -1
    records: int = 0
    bytes: int = 0


@dataclass
class Throughput:
    """Per-shard usage, per second of the lab's clock (in memory: a restart forgives)."""

    writes: dict[tuple[str, str], _Usage] = field(default_factory=dict)
    reads: dict[tuple[str, str], _Usage] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def write(self, key: tuple[str, str], now: float, size: int) -> bool:
        """Count one record of ``size`` bytes; ``False`` (nothing counted) if over the limit."""
        with self.lock:
            usage = self._current(self.writes, key, now)
            if (usage.records + 1 > quotas.SHARD_WRITE_RECORDS_PER_S
                    or usage.bytes + size > quotas.SHARD_WRITE_BYTES_PER_S):
                return False
            usage.records += 1
            usage.bytes += size
            return True

    def read(self, key: tuple[str, str], now: float) -> bool:
        """Count one GetRecords call; ``False`` if the shard's reads this second are used up."""
        with self.lock:
            usage = self._current(self.reads, key, now)
            if usage.records >= quotas.SHARD_READ_CALLS_PER_S or usage.bytes >= quotas.SHARD_READ_BYTES_PER_S:
                return False
            usage.records += 1
            return True

    def read_bytes(self, key: tuple[str, str], now: float, size: int) -> None:
        with self.lock:
            self._current(self.reads, key, now).bytes += size

    @staticmethod
    def _current(table: dict[tuple[str, str], _Usage], key: tuple[str, str], now: float) -> _Usage:
        usage = table.setdefault(key, _Usage())
        if usage.second != int(now):
            usage.second, usage.records, usage.bytes = int(now), 0, 0
        return usage


def _shard(row: Any) -> Shard:
    return Shard(
        shard_id=row["shard_id"], index=row["shard_index"], start_hash=int(row["start_hash"]),
        end_hash=int(row["end_hash"]), start_counter=row["start_counter"], created=row["created"],
        parents=tuple(json.loads(row["parents"])),
        end_counter=row["end_counter"], closed_at=row["closed_at"],
    )


class Streams:
    """Every Kinesis data stream of one lab, durable in its store."""

    def __init__(self, lab: "Lab") -> None:
        self.lab = lab
        self.throughput = Throughput()
        #: Notified whenever a record is written or shards change (pollers wait on it).
        self.changed = threading.Condition()
        self._purged: dict[str, float] = {}

    # -- streams --------------------------------------------------------------------

    def arn(self, name: str) -> str:
        return f"arn:aws:kinesis:{self.lab.arns.region}:{self.lab.arns.account_id}:stream/{name}"

    def name_of(self, name: str | None = None, arn: str | None = None) -> str:
        """The stream a request names by ``StreamName`` or ``StreamARN``."""
        if name is None and arn is None:
            raise InvalidArgumentException("Either StreamName or StreamARN should be provided.")
        if arn is not None:
            from_arn = arn.split(":stream/", 1)[-1]
            if arn != self.arn(from_arn):
                raise ResourceNotFoundException(
                    f"Stream {arn} under account {self.lab.arns.account_id} not found. "
                    f"Streams of this lab have ARNs like {self.arn('NAME')}.")
            if name is not None and name != from_arn:
                raise InvalidArgumentException(
                    f"StreamName {name!r} and StreamARN {arn!r} name different streams.")
            return from_arn
        assert name is not None
        return name

    def create_stream(self, name: str, shard_count: int | None = None, mode: str = PROVISIONED) -> Stream:
        if not STREAM_NAME.fullmatch(name):
            raise InvalidArgumentException(
                f"StreamName {name!r}: use 1-128 letters, digits, '_', '.' or '-'.")
        if mode == ON_DEMAND:
            if shard_count is not None:
                raise InvalidArgumentException(
                    "ShardCount must not be given for an ON_DEMAND stream: it scales itself.")
            shard_count = quotas.ON_DEMAND_SHARDS
        elif mode != PROVISIONED:
            raise InvalidArgumentException(f"StreamMode {mode!r}: use PROVISIONED or ON_DEMAND.")
        elif shard_count is None:
            raise InvalidArgumentException(
                "ShardCount is required for a PROVISIONED stream (or set StreamModeDetails "
                "to ON_DEMAND).")
        if isinstance(shard_count, bool) or not isinstance(shard_count, int) or shard_count < 1:
            raise InvalidArgumentException(f"ShardCount {shard_count!r}: use 1 or more.")
        now = self.lab.clock.now()
        with self.lab.store.transaction() as db:
            if db.execute("SELECT 1 FROM kinesis_streams WHERE name = ?", (name,)).fetchone():
                raise ResourceInUseException(
                    f"Stream {name} under account {self.lab.arns.account_id} already exists.")
            used = db.execute("SELECT COUNT(*) FROM kinesis_shards WHERE end_counter IS NULL").fetchone()[0]
            if used + shard_count > quotas.SHARDS_PER_ACCOUNT:
                raise LimitExceededException(
                    f"This request would exceed the shard limit for the account "
                    f"{self.lab.arns.account_id} in {self.lab.arns.region}. Current limit of "
                    f"shards is {quotas.SHARDS_PER_ACCOUNT}, {used} are open. Delete a stream "
                    "or ask for fewer shards.")
            db.execute("INSERT INTO kinesis_streams (name, mode, retention_hours, created, "
                       "next_shard) VALUES (?, ?, ?, ?, ?)",
                       (name, mode, quotas.RETENTION_DEFAULT_HOURS, now, shard_count))
            for index, (low, high) in enumerate(even_ranges(shard_count)):
                self._insert_shard(db, name, index, low, high, 1, now)
        return self.stream(name)

    @staticmethod
    def _insert_shard(db: Any, stream: str, index: int, low: int, high: int, start: int,
                      now: float, parents: tuple[str, ...] = ()) -> None:
        db.execute(
            "INSERT INTO kinesis_shards (stream, shard_id, shard_index, parents, "
            "start_hash, end_hash, start_counter, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (stream, shard_id(index), index, json.dumps(parents), str(low), str(high), start, now),
        )

    def stream(self, name: str) -> Stream:
        rows = self.lab.store.query("SELECT * FROM kinesis_streams WHERE name = ?", (name,)) \
            if STREAM_NAME.fullmatch(name) else []  # a name no stream can have (from a token)
        if not rows:
            raise ResourceNotFoundException(
                f"Stream {name} under account {self.lab.arns.account_id} not found.")
        row = rows[0]
        return Stream(row["name"], self.arn(row["name"]), row["mode"], row["retention_hours"],
                      row["created"])

    def names(self) -> list[str]:
        return [r["name"] for r in self.lab.store.query("SELECT name FROM kinesis_streams ORDER BY name")]

    def delete_stream(self, name: str) -> None:
        self.stream(name)
        with self.lab.store.transaction() as db:
            db.execute("DELETE FROM kinesis_streams WHERE name = ?", (name,))
        self.wake()

    def set_retention(self, name: str, hours: int, *, increase: bool) -> None:
        stream = self.stream(name)
        verb = "increase" if increase else "decrease"
        if not quotas.RETENTION_DEFAULT_HOURS <= hours <= quotas.RETENTION_MAX_HOURS:
            raise InvalidArgumentException(
                f"Minimum allowed retention period is {quotas.RETENTION_DEFAULT_HOURS} hours, "
                f"maximum {quotas.RETENTION_MAX_HOURS}; {hours} is outside it.")
        if (hours < stream.retention_hours) if increase else (hours > stream.retention_hours):
            raise InvalidArgumentException(
                f"Requested retention period ({hours} hours) for stream {name} can not be "
                f"{'shorter' if increase else 'longer'} than existing retention period "
                f"({stream.retention_hours} hours). Use {'Decrease' if increase else 'Increase'}"
                f"StreamRetentionPeriod to {verb == 'increase' and 'shorten' or 'lengthen'} it.")
        with self.lab.store.transaction() as db:
            db.execute("UPDATE kinesis_streams SET retention_hours = ? WHERE name = ?", (hours, name))

    # -- shards ---------------------------------------------------------------------

    def shards(self, name: str) -> list[Shard]:
        """The stream's shards still listed: open ones, and closed ones with records kept."""
        stream = self.stream(name)
        cutoff = self.lab.clock.now() - stream.retention_hours * 3600
        rows = self.lab.store.query(
            "SELECT * FROM kinesis_shards WHERE stream = ? AND (closed_at IS NULL OR closed_at >= ?) "
            "ORDER BY shard_index", (name, cutoff))
        return [_shard(r) for r in rows]

    def shard(self, name: str, wanted: str) -> Shard:
        for found in self.shards(name):
            if found.shard_id == wanted:
                return found
        raise ResourceNotFoundException(
            f"Shard {wanted} in stream {name} under account {self.lab.arns.account_id} does "
            "not exist. ListShards names the stream's shards.")

    def _shard_for(self, shards: list[Shard], key: int) -> Shard:
        for found in shards:
            if not found.closed and found.start_hash <= key <= found.end_hash:
                return found
        raise AssertionError("the open shards cover the hash key space")

    # -- resharding -----------------------------------------------------------------
    # (https://docs.aws.amazon.com/streams/latest/dev/kinesis-using-sdk-java-resharding.html)

    def split_shard(self, name: str, shard: str, new_starting_hash_key: str) -> None:
        """Close ``shard`` and open two children splitting its hash key range at the key."""
        parent = self._open_shard(name, shard)
        key = int(new_starting_hash_key)
        if not parent.start_hash < key <= parent.end_hash:
            raise InvalidArgumentException(
                f"NewStartingHashKey {key} used in SplitShard() on shard {shard} in stream {name} "
                f"under account {self.lab.arns.account_id} is not both greater than one plus "
                f"the shard's StartingHashKey {parent.start_hash} and less than the shard's "
                f"EndingHashKey {parent.end_hash}.")
        self._reshard(name, [parent], [(parent.start_hash, key - 1), (key, parent.end_hash)])

    def merge_shards(self, name: str, shard: str, adjacent: str) -> None:
        """Close two shards with adjacent hash key ranges and open one child over both."""
        first, second = self._open_shard(name, shard), self._open_shard(name, adjacent)
        low, high = sorted((first, second), key=lambda s: s.start_hash)
        if low.end_hash + 1 != high.start_hash:
            raise InvalidArgumentException(
                f"Shards {shard} and {adjacent} in stream {name} under account "
                f"{self.lab.arns.account_id} are not an adjacent pair of shards eligible for "
                "merging: their hash key ranges must meet.")
        self._reshard(name, [first, second], [(low.start_hash, high.end_hash)])

    def update_shard_count(self, name: str, target: int) -> int:
        """Replace the open shards with ``target`` even ones; the open count before."""
        stream = self.stream(name)
        current = [s for s in self.shards(name) if not s.closed]
        if stream.mode == ON_DEMAND:
            raise ValidationException(
                f"UpdateShardCount is only for PROVISIONED streams; {name} is ON_DEMAND and "
                "scales itself.")
        if not len(current) / 2 <= target <= len(current) * 2:
            raise InvalidArgumentException(
                f"TargetShardCount {target} must be between half and double the current "
                f"open shard count {len(current)} ({(len(current) + 1) // 2} to {len(current) * 2}).")
        self._reshard(name, current, even_ranges(target))
        return len(current)

    def _open_shard(self, name: str, wanted: str) -> Shard:
        found = self.shard(name, wanted)
        if found.closed:
            raise ResourceInUseException(
                f"Shard {wanted} in stream {name} under account {self.lab.arns.account_id} "
                "is closed: reshard its children instead (ListShards names them).")
        return found

    def _reshard(self, name: str, parents: list[Shard], ranges: list[tuple[int, int]]) -> None:
        """Close ``parents``; open a child per range, each naming the parents it overlaps."""
        now = self.lab.clock.now()
        with self.lab.store.transaction() as db:
            used = db.execute("SELECT COUNT(*) FROM kinesis_shards WHERE end_counter IS NULL").fetchone()[0]
            if used - len(parents) + len(ranges) > quotas.SHARDS_PER_ACCOUNT:
                raise LimitExceededException(
                    f"Resharding {name} would open {used - len(parents) + len(ranges)} shards; "
                    f"the account's limit is {quotas.SHARDS_PER_ACCOUNT}.")
            counter, index = db.execute("SELECT next_counter, next_shard FROM kinesis_streams "
                                        "WHERE name = ?", (name,)).fetchone()
            for parent in parents:
                db.execute("UPDATE kinesis_shards SET end_counter = ?, closed_at = ? WHERE stream = ? "
                           "AND shard_id = ?", (max(counter - 1, parent.start_counter), now, name,
                                                parent.shard_id))
            for offset, (low, high) in enumerate(ranges):
                overlapping = tuple(p.shard_id for p in sorted(parents, key=lambda p: p.start_hash)
                                    if p.start_hash <= high and low <= p.end_hash)
                self._insert_shard(db, name, index + offset, low, high, counter, now, overlapping)
            db.execute("UPDATE kinesis_streams SET next_shard = ? WHERE name = ?", (index + len(ranges), name))
        self.wake()

    # -- records in -----------------------------------------------------------------

    def put_records(self, name: str, entries: list[tuple[bytes, str, str | None]]) -> list[dict[str, Any]]:
        """Each entry's ``{ShardId, SequenceNumber}``, or ``{ErrorCode, ErrorMessage}``
        when its shard's throughput this second is used up; the rest are committed."""
        for _, partition_key, _ in entries:
            check_partition_key(partition_key)
        stream = self.stream(name)
        now = self.lab.clock.now()
        self._purge(stream, now)
        placed = self._place(name, entries, now)
        results: list[dict[str, Any]] = []
        with self.lab.store.transaction() as db:
            counter = db.execute("SELECT next_counter FROM kinesis_streams WHERE name = ?",
                                 (name,)).fetchone()[0]
            for (data, partition_key, _), target in zip(entries, placed):
                if target is None:
                    results.append(_throttled())
                    continue
                db.execute("INSERT INTO kinesis_records (stream, counter, shard_id, partition_key, "
                           "data, arrival) VALUES (?, ?, ?, ?, ?, ?)",
                           (name, counter, target.shard_id, partition_key, data, now))
                results.append({"ShardId": target.shard_id, "SequenceNumber": target.sequence(counter)})
                counter += 1
            db.execute("UPDATE kinesis_streams SET next_counter = ? WHERE name = ?", (counter, name))
        self.wake()
        return results

    def _place(self, name: str, entries: list[tuple[bytes, str, str | None]],
               now: float) -> list[Shard | None]:
        """Each entry's shard, or ``None`` where that shard's throughput is used up."""
        shards = self.shards(name)
        placed: list[Shard | None] = []
        for data, partition_key, explicit in entries:
            target = self._shard_for(shards, hash_key(partition_key) if explicit is None else int(explicit))
            size = len(data) + len(partition_key.encode("utf-8", "surrogatepass"))
            fits = self.throughput.write((name, target.shard_id), now, size)
            placed.append(target if fits else None)
        return placed

    def _purge(self, stream: Stream, now: float) -> None:
        """Drop records past retention (at most once a minute of the lab's clock)."""
        if now - self._purged.get(stream.name, float("-inf")) < _PURGE_EVERY_S:
            return
        self._purged[stream.name] = now
        with self.lab.store.transaction() as db:
            db.execute("DELETE FROM kinesis_records WHERE stream = ? AND arrival < ?",
                       (stream.name, now - stream.retention_hours * 3600))

    def wake(self) -> None:
        """Wake whoever waits for the stream to change (pollers, subscriptions)."""
        with self.changed:
            self.changed.notify_all()

    def wait(self, timeout: float) -> None:
        """Wait up to ``timeout`` real seconds for a record or a change of shards."""
        with self.changed:
            self.changed.wait(timeout)

    # -- records out ----------------------------------------------------------------

    def iterator(self, name: str, shard: str, kind: str, sequence: str | None = None,
                 timestamp: float | None = None) -> str:
        stream, found = self.stream(name), self.shard(name, shard)
        after = self.position(found, stream, kind, sequence, timestamp)
        return Iterator(name, shard, after, self.lab.clock.now(), stream.created).encode()

    def position(self, shard: Shard, stream: Stream, kind: str, sequence: str | None,
                 timestamp: float | None) -> int:
        """The counter of the record just before where ``kind`` starts reading."""
        if kind in ("AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER"):
            if sequence is None:
                raise InvalidArgumentException(
                    f"StartingSequenceNumber is required for ShardIteratorType {kind}.")
            if not shard.holds(sequence):
                raise InvalidArgumentException(
                    f"StartingSequenceNumber {sequence} used in GetShardIterator on shard "
                    f"{shard.shard_id} in stream {stream.name} under account "
                    f"{self.lab.arns.account_id} is invalid because it did not come from this stream.")
            return counter_of(sequence) - (1 if kind == "AT_SEQUENCE_NUMBER" else 0)
        if kind == "TRIM_HORIZON":
            return 0
        if kind == "LATEST":
            return self._latest(stream.name)
        if kind == "AT_TIMESTAMP":
            if timestamp is None:
                raise InvalidArgumentException(
                    "Timestamp is required for ShardIteratorType AT_TIMESTAMP.")
            rows = self.lab.store.query(
                "SELECT MAX(counter) FROM kinesis_records WHERE stream = ? AND shard_id = ? "
                "AND arrival < ?", (stream.name, shard.shard_id, timestamp))
            return rows[0][0] or 0
        raise InvalidArgumentException(
            f"ShardIteratorType {kind!r}: use one of {', '.join(ITERATOR_TYPES)}.")

    def _last_counter(self, name: str, shard: Shard) -> int:
        """The counter of the shard's newest record (0: none)."""
        rows = self.lab.store.query("SELECT MAX(counter) FROM kinesis_records WHERE stream = ? "
                                    "AND shard_id = ?", (name, shard.shard_id))
        return rows[0][0] or 0

    def _latest(self, name: str) -> int:
        """The counter before the stream's next record: LATEST reads only what comes later."""
        rows = self.lab.store.query("SELECT next_counter FROM kinesis_streams WHERE name = ?", (name,))
        return int(rows[0][0]) - 1

    def read(self, name: str, shard: str, after: int, limit: int) -> list[tuple[int, Record]]:
        """Up to ``limit`` records of ``shard`` after counter ``after``, within retention."""
        stream = self.stream(name)
        found = self.shard(name, shard)
        cutoff = self.lab.clock.now() - stream.retention_hours * 3600
        rows = self.lab.store.query(
            "SELECT counter, partition_key, data, arrival FROM kinesis_records WHERE stream = ? "
            "AND shard_id = ? AND counter > ? AND arrival >= ? ORDER BY counter LIMIT ?",
            (name, shard, after, cutoff, limit))
        return [(r["counter"], Record(found.sequence(r["counter"]), r["partition_key"],
                                      bytes(r["data"]), r["arrival"])) for r in rows]

    def get_records(self, token: str, limit: int) -> dict[str, Any]:
        iterator = Iterator.decode(token)
        now = self.lab.clock.now()
        if now - iterator.issued > quotas.ITERATOR_TTL_S:
            raise ExpiredIteratorException(
                f"Iterator expired. The iterator was created at time {iterator.issued} while "
                f"right now it is {now} which is further in the future than the tolerated "
                f"delay of {quotas.ITERATOR_TTL_S * 1000} milliseconds.")
        stream = self.stream(iterator.stream)
        if stream.created != iterator.stream_created:
            raise ResourceNotFoundException(
                f"Stream {stream.name} was deleted and created again since this iterator was "
                "given; ask GetShardIterator for a new one.")
        shard = self.shard(stream.name, iterator.shard_id)
        key = (stream.name, shard.shard_id)
        if not self.throughput.read(key, now):
            raise ProvisionedThroughputExceededException(
                f"Rate exceeded for shard {shard.shard_id} in stream {stream.name} under account "
                f"{self.lab.arns.account_id}: {quotas.SHARD_READ_CALLS_PER_S} GetRecords calls "
                "or 2 MiB a second per shard. Wait a second, or add shards.")
        records = sized(self.read(stream.name, shard.shard_id, iterator.after, limit), 10 * quotas.RECORD_MAX_BYTES)
        self.throughput.read_bytes(key, now, sum(len(r.data) for _, r in records))
        last = records[-1][0] if records else iterator.after
        out: dict[str, Any] = {"Records": [r.to_aws() for _, r in records]}
        out["MillisBehindLatest"] = self.millis_behind(stream.name, shard, records, now)
        if shard.closed and not self.read(stream.name, shard.shard_id, last, 1):
            out["ChildShards"] = self.children(stream.name, shard.shard_id)
        else:
            out["NextShardIterator"] = Iterator(stream.name, shard.shard_id, last, now,
                                                stream.created).encode()
        return out

    def millis_behind(self, name: str, shard: Shard, records: list[tuple[int, Record]], now: float) -> int:
        """How far the last of ``records`` is behind the shard's newest record (0 when
        it is the newest, or when none was read)."""
        if not records or records[-1][0] >= self._last_counter(name, shard):
            return 0
        return int((now - records[-1][1].arrival) * 1000)

    def children(self, name: str, parent: str) -> list[dict[str, Any]]:
        """The shards ``parent`` was split or merged into, as ChildShards lists them."""
        rows = self.lab.store.query("SELECT * FROM kinesis_shards WHERE stream = ?", (name,))
        return [{"ShardId": s.shard_id, "ParentShards": list(s.parents),
                 "HashKeyRange": s.to_aws()["HashKeyRange"]}
                for s in map(_shard, rows) if parent in s.parents]

    def close(self) -> None:
        self.wake()


def _throttled() -> dict[str, Any]:
    return {"ErrorCode": "ProvisionedThroughputExceededException",
            "ErrorMessage": "Rate exceeded for shard: 1 MiB or 1,000 records a second per "
                            "shard. Retry the failed records, or add shards."}


def sized(records: list[tuple[int, Record]], budget: int) -> list[tuple[int, Record]]:
    """The first of ``records`` within ``budget`` bytes of data (one at least):
    GetRecords answers at most 10 MiB, a SubscribeToShardEvent a consumer's 2 MiB."""
    size = 0
    for count, (_, record) in enumerate(records):
        size += len(record.data)
        if count and size > budget:
            return records[:count]
    return records


def shards_in_order(shards: Iterable[Shard]) -> list[stream_sources.ShardInfo]:
    """Shards as a shard source lists them: parents before children."""
    return [stream_sources.ShardInfo(s.shard_id, s.parents, s.closed)
            for s in sorted(shards, key=lambda s: s.index)]
