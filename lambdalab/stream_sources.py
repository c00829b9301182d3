"""Shard sources: what a stream event source mapping reads, whichever service keeps the stream.

Lambda polls Kinesis data streams and DynamoDB streams the same way: one poller per
shard, reading records in order after a checkpoint, children only once their parents are
read to the end (https://docs.aws.amazon.com/lambda/latest/dg/with-kinesis.html,
https://docs.aws.amazon.com/lambda/latest/dg/with-ddb.html). A plugin that keeps a
stream (Kinesis, DynamoDB) implements :class:`ShardSource` for it; the stream mapping
engine (``lambdalab_kinesis.StreamMappings``) reads any of them through this interface
alone.

A *position* is where a reader stands in one shard: ``None`` before the shard's first
record (TRIM_HORIZON), else the sequence number of the last record read. Sequence
numbers are decimal strings that grow within a shard; compare them as integers
(:func:`after`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Literal, Protocol

#: Where a mapping starts reading a shard it has no checkpoint for.
StartingPosition = Literal["TRIM_HORIZON", "LATEST", "AT_TIMESTAMP"]
STARTING_POSITIONS: tuple[str, ...] = ("TRIM_HORIZON", "LATEST", "AT_TIMESTAMP")

#: ``None``: before the shard's first record; else the last sequence number read.
Position = str | None


@dataclass(frozen=True)
class ShardInfo:
    """One shard: its id, its parents (after a split or a merge) and whether it is closed.

    A closed shard takes no more records; once read to its end, a reader moves on to its
    children (the shards that name it as a parent).
    """

    shard_id: str
    parent_shard_ids: tuple[str, ...] = ()
    closed: bool = False


@dataclass(frozen=True)
class StreamRecord:
    """One record of a shard, as the mapping engine needs it.

    ``event_record`` is the record as it appears in ``event["Records"]`` of the
    function's event, already in the source's shape (``aws:kinesis`` or
    ``aws:dynamodb``); the engine adds nothing to it but the function's execution role
    where the source put ``"invokeIdentityArn": None`` (Kinesis's records carry it). ``partition_key`` orders records
    when ``ParallelizationFactor`` is above 1 (Kinesis: the partition key; DynamoDB: the
    item's key). ``arrival`` is the lab clock's epoch seconds when the record was written
    (``MaximumRecordAgeInSeconds`` and ``AT_TIMESTAMP`` read it); ``size`` counts bytes
    toward the 6 MB invoke payload.
    """

    sequence_number: str
    partition_key: str
    arrival: float
    size: int
    event_record: dict[str, Any]


class ShardSource(Protocol):
    """One stream, as a stream event source mapping reads it.

    Implementations are thread-safe: the engine reads shards from several threads.
    """

    #: The stream's ARN, as the mapping's ``EventSourceArn`` names it.
    arn: str
    #: The key of the batch description in an on-failure record: ``"KinesisBatchInfo"``
    #: or ``"DDBStreamBatchInfo"``
    #: (https://docs.aws.amazon.com/lambda/latest/dg/kinesis-on-failure-destination.html).
    batch_info_key: str

    def shards(self) -> list[ShardInfo]:
        """Every shard still holding records or still open, parents before children."""
        ...

    def start(self, shard_id: str, kind: str, timestamp: float | None = None) -> Position:
        """The position of ``kind`` (one of ``STARTING_POSITIONS``) in ``shard_id``.

        TRIM_HORIZON: ``None`` (before the oldest record kept). LATEST: the last record's
        sequence number now (``None`` for an empty shard), so only later records are read.
        AT_TIMESTAMP: the position just before the first record that arrived at or after
        ``timestamp`` (epoch seconds on the lab's clock).
        """
        ...

    def read(self, shard_id: str, after: Position, limit: int) -> list[StreamRecord]:
        """Up to ``limit`` records of ``shard_id`` after ``after``, oldest first.

        Records past the retention period are gone: reading from before them returns the
        oldest one kept. An unknown or deleted shard returns ``[]``.
        """
        ...

    def at_end(self, shard_id: str, after: Position) -> bool:
        """Whether ``shard_id`` is closed and has no record after ``after``: its reader
        is done, and its children may be read."""
        ...

    def wait(self, timeout: float) -> None:
        """Block up to ``timeout`` real seconds, or until a record is written to this
        stream (or its shards change), whichever comes first."""
        ...


def after(sequence_number: str, position: Position) -> bool:
    """Whether ``sequence_number`` comes after ``position`` in one shard."""
    return position is None or int(sequence_number) > int(position)


#: How the engine finds a mapping's stream: the source for an ``EventSourceArn``, or
#: :class:`~lambdalab.errors.InvalidParameterValueException` with AWS's message when the
#: ARN names no stream of this lab. A plugin hands one to the engine with its service:
#: ``StreamMappings(lab, "dynamodb", resolve)``.
SourceResolver = Callable[[str], ShardSource]
