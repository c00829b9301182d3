"""A Kinesis data stream as a shard source (:mod:`lambdalab.stream_sources`): what the
stream mapping engine reads, with each record in the event shape Lambda delivers
(https://docs.aws.amazon.com/lambda/latest/dg/with-kinesis.html).

A mapping whose EventSourceArn is a consumer's ARN reads the consumer's stream through
the consumer (enhanced fan-out, https://docs.aws.amazon.com/lambda/latest/dg/with-kinesis.html#services-kinesis-configure):
the same records and semantics, its own 2 MiB a second per shard, none of the shared
5 reads a second; the records' ``eventSourceARN`` is still the stream's."""

from __future__ import annotations

import base64
from dataclasses import dataclass

from lambdalab.plugin import InvalidParameterValueException, stream_sources

from .consumers import Consumer, Consumers
from .exceptions import KinesisError
from .models import Record, Shard, Streams, counter_of, shards_in_order

Position = stream_sources.Position


@dataclass
class KinesisShardSource:
    """One stream of a lab's Kinesis, read by an event source mapping."""

    streams: Streams
    name: str
    arn: str
    batch_info_key: str = "KinesisBatchInfo"
    #: The consumer it reads through, for a consumer's ARN (and the lab's consumers).
    consumer: Consumer | None = None
    consumers: Consumers | None = None

    @classmethod
    def of(cls, streams: Streams, arn: str, consumers: Consumers | None = None) -> "KinesisShardSource":
        """The source for ``arn``, a stream's or a consumer's; Lambda's
        InvalidParameterValueException if there is no such stream or consumer."""
        if consumers is not None and "/consumer/" in arn:
            return cls._through(streams, arn, consumers)
        name = arn.split(":stream/", 1)[-1]
        if arn != streams.arn(name):
            raise InvalidParameterValueException(
                f"EventSourceArn {arn!r} is not a Kinesis stream of this lab: use "
                f"{streams.arn('NAME')}.")
        try:
            streams.stream(name)
        except KinesisError:
            raise InvalidParameterValueException(
                f"Stream not found: {arn}. Create it first (CreateStream).") from None
        return cls(streams, name, arn)

    @classmethod
    def _through(cls, streams: Streams, arn: str, consumers: Consumers) -> "KinesisShardSource":
        try:
            consumer = consumers.by_arn(arn)
        except KinesisError:
            raise InvalidParameterValueException(
                f"Consumer not found: {arn}. Register it first (RegisterStreamConsumer).") from None
        if consumer.deleting_at is not None:
            raise InvalidParameterValueException(f"Consumer {arn} is DELETING: register another.")
        return cls(streams, consumer.stream, arn, consumer=consumer, consumers=consumers)

    @property
    def stream_arn(self) -> str:
        return self.streams.arn(self.name)

    def _consumer_gone(self) -> bool:
        if self.consumer is None or self.consumers is None:
            return False
        try:
            return self.consumers.by_arn(self.consumer.arn).deleting_at is not None
        except KinesisError:
            return True

    def shards(self) -> list[stream_sources.ShardInfo]:
        if self._consumer_gone():  # deregistered: nothing more comes through it
            return []
        try:
            return shards_in_order(self.streams.shards(self.name))
        except KinesisError:  # the stream was deleted: nothing left to read
            return []

    def _shard(self, shard_id: str) -> Shard | None:
        try:
            return self.streams.shard(self.name, shard_id)
        except KinesisError:
            return None

    def start(self, shard_id: str, kind: str, timestamp: float | None = None) -> Position:
        shard = self._shard(shard_id)
        if shard is None:
            return None
        counter = self.streams.position(shard, self.streams.stream(self.name), kind, None, timestamp)
        return shard.sequence(counter) if counter else None

    def read(self, shard_id: str, after: Position, limit: int) -> list[stream_sources.StreamRecord]:
        try:
            found = self.streams.read(self.name, shard_id, counter_of(after) if after else 0, limit)
        except KinesisError:
            return []
        return [self._record(shard_id, record) for _, record in found]

    def at_end(self, shard_id: str, after: Position) -> bool:
        shard = self._shard(shard_id)
        if shard is None:
            return True
        return shard.closed and not self.read(shard_id, after, 1)

    def wait(self, timeout: float) -> None:
        self.streams.wait(timeout)

    def _record(self, shard_id: str, record: Record) -> stream_sources.StreamRecord:
        region = self.streams.lab.arns.region
        event = {
            "kinesis": {
                "kinesisSchemaVersion": "1.0",
                "partitionKey": record.partition_key,
                "sequenceNumber": record.sequence_number,
                "data": base64.b64encode(record.data).decode("ascii"),
                "approximateArrivalTimestamp": round(record.arrival, 3),
            },
            "eventSource": "aws:kinesis",
            "eventVersion": "1.0",
            "eventID": f"{shard_id}:{record.sequence_number}",
            "eventName": "aws:kinesis:record",
            "invokeIdentityArn": None,
            "awsRegion": region,
            "eventSourceARN": self.stream_arn,
        }
        return stream_sources.StreamRecord(
            record.sequence_number, record.partition_key, record.arrival,
            len(record.data) * 4 // 3 + len(record.partition_key) + 400, event)
