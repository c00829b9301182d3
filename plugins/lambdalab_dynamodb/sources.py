"""A table's stream as a shard source (:mod:`lambdalab.stream_sources`): what the stream
event source mapping engine (``lambdalab_kinesis.StreamMappings``) reads, each record in
the shape Lambda delivers for DynamoDB
(https://docs.aws.amazon.com/lambda/latest/dg/with-ddb.html)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from lambdalab.plugin import InvalidParameterValueException, stream_sources
from lambdalab_kinesis import StreamMappings

from .exceptions import DynamoDbError
from .streams import Stream, Streams, sequence_number

Position = stream_sources.Position


@dataclass
class DynamoDbShardSource:
    """One table's stream, read by an event source mapping."""

    streams: Streams
    arn: str
    batch_info_key: str = "DDBStreamBatchInfo"

    @classmethod
    def of(cls, streams: Streams, arn: str) -> "DynamoDbShardSource":
        """The source for ``arn``; Lambda's InvalidParameterValueException if no such stream."""
        try:
            streams.stream(arn)
        except DynamoDbError:
            raise InvalidParameterValueException(
                f"Stream not found: {arn}. Enable the table's stream (StreamSpecification) and "
                "use its LatestStreamArn from DescribeTable.") from None
        return cls(streams, arn)

    def _stream(self) -> Stream | None:
        try:
            return self.streams.stream(self.arn)
        except DynamoDbError:
            return None

    def shards(self) -> list[stream_sources.ShardInfo]:
        stream = self._stream()
        if stream is None:
            return []
        return [stream_sources.ShardInfo(shard_id, (), stream.disabled_at is not None)
                for shard_id in stream.shard_ids]

    def start(self, shard_id: str, kind: str, timestamp: float | None = None) -> Position:
        stream = self._stream()
        if stream is None or kind == "TRIM_HORIZON":
            return None
        if kind == "LATEST":
            last = self.streams.last_seq(stream)
            return sequence_number(last) if last else None
        before = self.streams.last_seq_before(stream, timestamp or 0.0)
        return sequence_number(before) if before else None

    def read(self, shard_id: str, after: Position, limit: int) -> list[stream_sources.StreamRecord]:
        stream = self._stream()
        if stream is None or shard_id not in stream.shard_ids:
            return []
        rows = self.streams.records_after(self.arn, self.streams.row_of(after) if after else 0, limit,
                                          shard=stream.shard(shard_id))
        return [stream_sources.StreamRecord(
            record["dynamodb"]["SequenceNumber"],
            json.dumps(record["dynamodb"]["Keys"], sort_keys=True),
            arrival, len(json.dumps(record)), record) for arrival, record in rows]

    def at_end(self, shard_id: str, after: Position) -> bool:
        stream = self._stream()
        if stream is None:
            return True
        return stream.disabled_at is not None and not self.read(shard_id, after, 1)

    def wait(self, timeout: float) -> None:
        with self.streams.changed:
            self.streams.changed.wait(timeout)


class DynamoDbStreamMappings(StreamMappings):
    """The stream mapping engine on DynamoDB streams, which start only at TRIM_HORIZON or
    LATEST (https://docs.aws.amazon.com/lambda/latest/api/API_CreateEventSourceMapping.html:
    AT_TIMESTAMP is for Kinesis, DocumentDB, MSK and Kafka)."""

    #: The actions of AWSLambdaDynamoDBExecutionRole the poller calls, in the order AWS's
    #: refusal names them (https://docs.aws.amazon.com/lambda/latest/dg/with-ddb.html).
    READ_ACTIONS = ("dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:DescribeStream",
                    "dynamodb:ListStreams")

    def create(self, function_name: str, event_source_arn: str | None = None, *,
               starting_position: str | None = None, **settings: Any) -> Any:
        if starting_position == "AT_TIMESTAMP":
            raise InvalidParameterValueException(
                "Unsupported starting position for arn type: AT_TIMESTAMP is supported only for "
                "Amazon Kinesis streams, Amazon DocumentDB, Amazon MSK and self-managed Apache "
                "Kafka. Use TRIM_HORIZON or LATEST for a DynamoDB stream.")
        return super().create(function_name, event_source_arn, starting_position=starting_position,
                              **settings)
