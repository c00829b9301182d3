"""Kinesis Data Streams' operations, served by lambdalab's protocol layer.

Kinesis speaks AWS JSON 1.1 (``X-Amz-Target: Kinesis_20131202.PutRecord``, botocore's
``kinesis/2013-12-02/service-2.json``).
:class:`~lambdalab.protocol.service.ProtocolService` reads and validates each request and
writes each answer and error; the methods here take the input as a dict and return the
output as a dict (https://docs.aws.amazon.com/kinesis/latest/APIReference/).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Mapping

from lambdalab.plugin import ErrorCodes, ProtocolService

from . import quotas
from .exceptions import (
    ExpiredNextTokenException,
    InvalidArgumentException,
    ProvisionedThroughputExceededException,
)
from .consumers import Consumers
from .models import PROVISIONED, Streams, check_partition_key

TARGET_PREFIX = "Kinesis_20131202."
#: What Kinesis answers for what the protocol layer refuses.
ERRORS = ErrorCodes(validation="ValidationException", internal="InternalFailureException")


def _page_of(items: list[Any], start: int, limit: int) -> tuple[list[Any], bool]:
    return items[start:start + limit], start + limit < len(items)


def _epoch(value: Any) -> float | None:
    return value.timestamp() if isinstance(value, datetime) else None


class KinesisResponses:
    """Every Kinesis operation lambdalab serves, named in snake_case."""

    def __init__(self, streams: Streams, consumers: Consumers) -> None:
        self.streams = streams
        self.consumers = consumers

    def _name(self, body: Mapping[str, Any]) -> str:
        return self.streams.name_of(body.get("StreamName"), body.get("StreamARN"))

    # -- streams --------------------------------------------------------------------

    def create_stream(self, body: Mapping[str, Any]) -> dict[str, Any]:
        mode = (body.get("StreamModeDetails") or {}).get("StreamMode", PROVISIONED)
        self.streams.create_stream(body["StreamName"], body.get("ShardCount"), mode)
        return {}

    def delete_stream(self, body: Mapping[str, Any]) -> dict[str, Any]:
        self.streams.delete_stream(self._name(body))
        return {}

    def describe_stream_summary(self, body: Mapping[str, Any]) -> dict[str, Any]:
        name = self._name(body)
        stream = self.streams.stream(name)
        open_shards = sum(1 for s in self.streams.shards(name) if not s.closed)
        return {"StreamDescriptionSummary": stream.summary(open_shards, self.consumers.count(name))}

    def describe_stream(self, body: Mapping[str, Any]) -> dict[str, Any]:
        name = self._name(body)
        stream = self.streams.stream(name)
        shards = self.streams.shards(name)
        start = body.get("ExclusiveStartShardId")
        if start is not None:
            shards = [s for s in shards if s.shard_id > start]
        page, more = _page_of(shards, 0, body.get("Limit") or 100)
        summary = stream.summary(sum(1 for s in shards if not s.closed))
        for key in ("OpenShardCount", "ConsumerCount"):
            del summary[key]
        return {"StreamDescription": {**summary, "Shards": [s.to_aws() for s in page],
                                      "HasMoreShards": more}}

    def list_streams(self, body: Mapping[str, Any]) -> dict[str, Any]:
        names = self.streams.names()
        after = body.get("ExclusiveStartStreamName")
        token = body.get("NextToken")
        if token is not None:
            after = _token_name(token)
        if after is not None:
            names = [n for n in names if n > after]
        page, more = _page_of(names, 0, body.get("Limit") or quotas.LIST_STREAMS_DEFAULT)
        out: dict[str, Any] = {"StreamNames": page, "HasMoreStreams": more, "StreamSummaries": [
            {k: v for k, v in self.streams.stream(n).summary(0).items()
             if k in ("StreamName", "StreamARN", "StreamStatus", "StreamModeDetails",
                      "StreamCreationTimestamp")} for n in page]}
        if more:
            out["NextToken"] = "name:" + page[-1]
        return out

    def list_shards(self, body: Mapping[str, Any]) -> dict[str, Any]:
        token = body.get("NextToken")
        if token is not None:
            if body.get("StreamName") or body.get("StreamARN"):
                raise InvalidArgumentException(
                    "NextToken and StreamName cannot be provided together: send NextToken alone.")
            name, _, after = _token_name(token).partition("/")
        else:
            name, after = self._name(body), body.get("ExclusiveStartShardId") or ""
        shards = self.streams.shards(name)
        shards = _filtered(shards, body.get("ShardFilter"))
        shards = [s for s in shards if s.shard_id > after]
        page, more = _page_of(shards, 0, body.get("MaxResults") or quotas.LIST_SHARDS_DEFAULT)
        out: dict[str, Any] = {"Shards": [s.to_aws() for s in page]}
        if more:
            out["NextToken"] = f"name:{name}/{page[-1].shard_id}"
        return out

    def increase_stream_retention_period(self, body: Mapping[str, Any]) -> dict[str, Any]:
        self.streams.set_retention(self._name(body), body["RetentionPeriodHours"], increase=True)
        return {}

    def decrease_stream_retention_period(self, body: Mapping[str, Any]) -> dict[str, Any]:
        self.streams.set_retention(self._name(body), body["RetentionPeriodHours"], increase=False)
        return {}

    # -- resharding -----------------------------------------------------------------

    def split_shard(self, body: Mapping[str, Any]) -> dict[str, Any]:
        self.streams.split_shard(self._name(body), body["ShardToSplit"], body["NewStartingHashKey"])
        return {}

    def merge_shards(self, body: Mapping[str, Any]) -> dict[str, Any]:
        self.streams.merge_shards(self._name(body), body["ShardToMerge"], body["AdjacentShardToMerge"])
        return {}

    def update_shard_count(self, body: Mapping[str, Any]) -> dict[str, Any]:
        name = self._name(body)
        if body["ScalingType"] != "UNIFORM_SCALING":
            raise InvalidArgumentException("ScalingType: the only value is UNIFORM_SCALING.")
        current = self.streams.update_shard_count(name, body["TargetShardCount"])
        return {"StreamName": name, "StreamARN": self.streams.arn(name),
                "CurrentShardCount": current, "TargetShardCount": body["TargetShardCount"]}

    # -- records --------------------------------------------------------------------

    def put_record(self, body: Mapping[str, Any]) -> dict[str, Any]:
        entry = _entry(body)
        result = self.streams.put_records(self._name(body), [entry])[0]
        if "ErrorCode" in result:
            raise ProvisionedThroughputExceededException(result["ErrorMessage"])
        return {**result, "EncryptionType": "NONE"}

    def put_records(self, body: Mapping[str, Any]) -> dict[str, Any]:
        records = body["Records"]
        if not 1 <= len(records) <= quotas.PUT_RECORDS_MAX_ENTRIES:
            raise InvalidArgumentException(
                f"Records has {len(records)} entries: send 1 to {quotas.PUT_RECORDS_MAX_ENTRIES}.")
        entries = [_entry(r) for r in records]
        total = sum(len(d) + len(k.encode("utf-8")) for d, k, _ in entries)
        if total > quotas.PUT_RECORDS_MAX_BYTES:
            raise InvalidArgumentException(
                f"Records total {total} bytes; one PutRecords takes at most "
                f"{quotas.PUT_RECORDS_MAX_BYTES} (5 MiB). Send them in several calls.")
        results = self.streams.put_records(self._name(body), entries)
        return {"FailedRecordCount": sum(1 for r in results if "ErrorCode" in r),
                "Records": results, "EncryptionType": "NONE"}

    def get_shard_iterator(self, body: Mapping[str, Any]) -> dict[str, Any]:
        return {"ShardIterator": self.streams.iterator(
            self._name(body), body["ShardId"], body["ShardIteratorType"],
            body.get("StartingSequenceNumber"), _epoch(body.get("Timestamp")))}

    def get_records(self, body: Mapping[str, Any]) -> dict[str, Any]:
        return self.streams.get_records(body["ShardIterator"], body.get("Limit") or quotas.GET_RECORDS_MAX)


    # -- enhanced fan-out -----------------------------------------------------------

    def register_stream_consumer(self, body: Mapping[str, Any]) -> dict[str, Any]:
        consumer = self.consumers.register(body["StreamARN"], body["ConsumerName"])
        return {"Consumer": consumer.to_aws(self.streams.lab.clock.now())}

    def describe_stream_consumer(self, body: Mapping[str, Any]) -> dict[str, Any]:
        consumer = self.consumers.find(body.get("StreamARN"), body.get("ConsumerName"), body.get("ConsumerARN"))
        return {"ConsumerDescription": consumer.to_aws(self.streams.lab.clock.now(), with_stream=True)}

    def list_stream_consumers(self, body: Mapping[str, Any]) -> dict[str, Any]:
        token = body.get("NextToken")
        after = _token_name(token) if token is not None else None
        page, last = self.consumers.list(body["StreamARN"], after,
                                         body.get("MaxResults") or quotas.LIST_CONSUMERS_DEFAULT)
        now = self.streams.lab.clock.now()
        out: dict[str, Any] = {"Consumers": [c.to_aws(now) for c in page]}
        if last is not None:
            out["NextToken"] = "name:" + last
        return out

    def deregister_stream_consumer(self, body: Mapping[str, Any]) -> dict[str, Any]:
        self.consumers.deregister(self.consumers.find(
            body.get("StreamARN"), body.get("ConsumerName"), body.get("ConsumerARN")))
        return {}

    def subscribe_to_shard(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """An event stream: the protocol layer sends each SubscribeToShardEvent as the
        subscription yields it."""
        return {"EventStream": self.consumers.subscribe(body["ConsumerARN"], body["ShardId"],
                                                        body["StartingPosition"])}


def _entry(body: Mapping[str, Any]) -> tuple[bytes, str, str | None]:
    """``(data, partition key, explicit hash key)`` of one record, checked."""
    data, key, explicit = body["Data"], body.get("PartitionKey"), body.get("ExplicitHashKey")
    if key is None:  # botocore's newest model leaves it optional; a stream needs one
        raise InvalidArgumentException("PartitionKey is required: it chooses the record's shard.")
    check_partition_key(key)
    size = len(data) + len(key.encode("utf-8"))
    if size > quotas.RECORD_MAX_BYTES:
        raise InvalidArgumentException(
            f"A record's data and partition key are {size} bytes; the most is "
            f"{quotas.RECORD_MAX_BYTES} (1 MiB). Split the record.")
    if explicit is not None and int(explicit) > quotas.HASH_KEY_MAX:
        raise InvalidArgumentException(
            f"ExplicitHashKey {explicit} is outside the hash key space 0 to {quotas.HASH_KEY_MAX}.")
    return bytes(data), key, explicit


def _token_name(token: str) -> str:
    if not token.startswith("name:"):
        raise ExpiredNextTokenException(
            f"NextToken {token[:64]!r} is not one this list gave; list again without it.")
    return token[len("name:"):]


def _filtered(shards: list[Any], shard_filter: Mapping[str, Any] | None) -> list[Any]:
    """ListShards' ShardFilter: AT_LATEST keeps the open shards; AFTER_SHARD_ID those after
    one; the TRIM_HORIZON and TIMESTAMP filters keep every shard still listed."""
    if not shard_filter:
        return shards
    kind = shard_filter["Type"]
    if kind == "AT_LATEST":
        return [s for s in shards if not s.closed]
    if kind == "AFTER_SHARD_ID":
        if not shard_filter.get("ShardId"):
            raise InvalidArgumentException("ShardFilter AFTER_SHARD_ID needs a ShardId.")
        return [s for s in shards if s.shard_id > shard_filter["ShardId"]]
    return shards


class KinesisService(ProtocolService):
    """The ASGI app the edge hands Kinesis requests to."""

    def __init__(self, streams: Streams, consumers: Consumers) -> None:
        super().__init__("kinesis", KinesisResponses(streams, consumers), errors=ERRORS,
                         body_max=quotas.REQUEST_MAX_BYTES)


__all__ = ["KinesisService", "KinesisResponses", "TARGET_PREFIX"]
