"""Enhanced fan-out: consumers registered to a stream, and their SubscribeToShard
subscriptions (https://docs.aws.amazon.com/streams/latest/dev/enhanced-consumers.html).

Pure state, no HTTP. A consumer is a name registered to a stream; it gets its own 2 MiB a
second per shard, pushed to it by SubscribeToShard, apart from the shared throughput
GetRecords readers divide. What AWS documents and this keeps:

- a consumer's ARN is the stream's with ``/consumer/NAME:TIMESTAMP`` (the second it was
  registered), so a consumer registered again under the same name has another ARN;
- a consumer is CREATING, then ACTIVE; deregistered, DELETING, then gone. AWS takes "a
  few seconds"; here :data:`~.quotas.CONSUMER_STATUS_CHANGE_S` on the lab's clock;
- 20 consumers per stream (``LimitExceededException``); a consumer is deleted with its
  stream;
- a subscription pushes ``SubscribeToShardEvent``s for 5 minutes of the lab's clock;
  subscribing again to the same shard within 5 seconds is ``ResourceInUseException``;
  later, the new subscription takes over and the old one ends with that exception.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from typing import Any, Iterator, Mapping

from . import quotas
from .exceptions import (
    InvalidArgumentException,
    KinesisError,
    LimitExceededException,
    ResourceInUseException,
    ResourceNotFoundException,
)
from .models import STREAM_NAME, Record, Shard, Streams, sized

CREATING, ACTIVE, DELETING = "CREATING", "ACTIVE", "DELETING"
CONSUMER_NAME = re.compile(r"[a-zA-Z0-9_.-]{1,128}")
_ARN_TAIL = re.compile(r"(?P<stream>[a-zA-Z0-9_.-]+)/consumer/(?P<name>[a-zA-Z0-9_.-]+):(?P<created>[0-9]+)")
#: How long (real seconds) a waiting subscription sleeps before it looks at the lab's
#: clock again: the virtual clock moves without telling anyone.
_RECHECK_S = 0.2


@dataclass(frozen=True)
class Consumer:
    """One registered consumer, as DescribeStreamConsumer describes it."""

    stream: str
    name: str
    arn: str
    stream_arn: str
    created: float
    deleting_at: float | None = None

    def status(self, now: float) -> str:
        if self.deleting_at is not None:
            return DELETING
        return ACTIVE if now >= self.created + quotas.CONSUMER_STATUS_CHANGE_S else CREATING

    def to_aws(self, now: float, *, with_stream: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {"ConsumerName": self.name, "ConsumerARN": self.arn,
                               "ConsumerStatus": self.status(now), "ConsumerCreationTimestamp": self.created}
        if with_stream:
            out["StreamARN"] = self.stream_arn
        return out


class Consumers:
    """Every consumer of one lab's streams, durable in its store (``kinesis_consumers``)."""

    def __init__(self, streams: Streams) -> None:
        self.streams = streams
        self.lab = streams.lab
        #: Each (consumer ARN, shard)'s latest subscription.
        self._subscribed: dict[tuple[str, str], Subscription] = {}
        self._lock = threading.Lock()

    def arn(self, stream: str, name: str, created: float) -> str:
        return f"{self.streams.arn(stream)}/consumer/{name}:{int(created)}"

    def _consumer(self, row: Any) -> Consumer:
        return Consumer(row["stream"], row["name"], self.arn(row["stream"], row["name"], row["created"]),
                        self.streams.arn(row["stream"]), row["created"], row["deleting_at"])

    def _rows(self, stream: str) -> list[Consumer]:
        """The stream's consumers, DELETING ones until they are gone."""
        gone = self.lab.clock.now() - quotas.CONSUMER_STATUS_CHANGE_S
        rows = self.lab.store.query(
            "SELECT * FROM kinesis_consumers WHERE stream = ? AND (deleting_at IS NULL OR "
            "deleting_at > ?) ORDER BY name", (stream, gone))
        return [self._consumer(r) for r in rows]

    def of_stream(self, stream_arn: str) -> list[Consumer]:
        name = self.streams.name_of(arn=stream_arn)
        self.streams.stream(name)
        return self._rows(name)

    def count(self, stream: str) -> int:
        return len(self._rows(stream))

    # -- the API ----------------------------------------------------------------------

    def register(self, stream_arn: str, name: str) -> Consumer:
        """RegisterStreamConsumer: a consumer in status CREATING."""
        stream = self.streams.stream(self.streams.name_of(arn=stream_arn))
        if not CONSUMER_NAME.fullmatch(name):
            raise InvalidArgumentException(
                f"ConsumerName {name!r}: use 1-128 letters, digits, '_', '.' or '-'.")
        now = self.lab.clock.now()
        existing = self._rows(stream.name)
        if any(c.name == name for c in existing):
            raise ResourceInUseException(
                f"Consumer {name} under stream {stream.arn} already exists (or is still "
                "DELETING): use it, or pick another name.")
        if len(existing) >= quotas.CONSUMERS_PER_STREAM:
            raise LimitExceededException(
                f"Stream {stream.arn} has {len(existing)} consumers, the most a stream takes "
                f"({quotas.CONSUMERS_PER_STREAM}). Deregister one first.")
        with self.lab.store.transaction() as db:
            db.execute("DELETE FROM kinesis_consumers WHERE stream = ? AND name = ?", (stream.name, name))
            db.execute("INSERT INTO kinesis_consumers (stream, name, created) VALUES (?, ?, ?)",
                       (stream.name, name, now))
        return self.find(stream.arn, name)

    def find(self, stream_arn: str | None = None, name: str | None = None,
             consumer_arn: str | None = None) -> Consumer:
        """The consumer named by its ARN, or by its stream's ARN and its name (not both)."""
        if consumer_arn is not None:
            if stream_arn is not None or name is not None:
                raise InvalidArgumentException(
                    "Give ConsumerARN alone, or StreamARN and ConsumerName: not both.")
            return self.by_arn(consumer_arn)
        if stream_arn is None or name is None:
            raise InvalidArgumentException(
                "Name the consumer by ConsumerARN, or by StreamARN and ConsumerName.")
        for consumer in self.of_stream(stream_arn):
            if consumer.name == name:
                return consumer
        raise ResourceNotFoundException(f"Consumer {name} under stream {stream_arn} not found.")

    def by_arn(self, consumer_arn: str) -> Consumer:
        prefix = self.streams.arn("")
        tail = _ARN_TAIL.fullmatch(consumer_arn[len(prefix):]) if consumer_arn.startswith(prefix) else None
        if tail is not None and STREAM_NAME.fullmatch(tail["stream"]):
            for consumer in self._rows(tail["stream"]):
                if consumer.arn == consumer_arn:
                    return consumer
        raise ResourceNotFoundException(
            f"Consumer {consumer_arn} under account {self.lab.arns.account_id} not found. "
            "ListStreamConsumers names a stream's consumers.")

    def list(self, stream_arn: str, after: str | None, limit: int) -> tuple[list[Consumer], str | None]:
        """A page of the stream's consumers after the name ``after``; and the last name
        of the page when more follow."""
        consumers = [c for c in self.of_stream(stream_arn) if after is None or c.name > after]
        page = consumers[:limit]
        return page, page[-1].name if len(consumers) > limit else None

    def deregister(self, consumer: Consumer) -> None:
        """DeregisterStreamConsumer: DELETING now, gone a few seconds later; its
        subscriptions end."""
        if consumer.deleting_at is not None:
            raise ResourceInUseException(f"Consumer {consumer.arn} is already DELETING.")
        with self.lab.store.transaction() as db:
            db.execute("UPDATE kinesis_consumers SET deleting_at = ? WHERE stream = ? AND name = ?",
                       (self.lab.clock.now(), consumer.stream, consumer.name))
        self.streams.wake()

    # -- SubscribeToShard -------------------------------------------------------------

    def subscribe(self, consumer_arn: str, shard_id: str, position: Mapping[str, Any]) -> "Subscription":
        consumer = self.by_arn(consumer_arn)
        now = self.lab.clock.now()
        if consumer.status(now) != ACTIVE:
            raise ResourceInUseException(
                f"Consumer {consumer_arn} is {consumer.status(now)}, not ACTIVE: wait for "
                "ACTIVE (DescribeStreamConsumer) before SubscribeToShard.")
        stream = self.streams.stream(consumer.stream)
        shard = self.streams.shard(stream.name, shard_id)
        after = self.streams.position(shard, stream, position["Type"], position.get("SequenceNumber"),
                                      _epoch(position.get("Timestamp")))
        subscription = Subscription(self, consumer, shard, after, now)
        with self._lock:
            last = self._subscribed.get((consumer_arn, shard_id))
            if last is not None and now - last.started < quotas.RESUBSCRIBE_MIN_S:
                raise ResourceInUseException(
                    f"Another active subscription exists for consumer {consumer_arn} on shard "
                    f"{shard_id}: subscribe again {quotas.RESUBSCRIBE_MIN_S} seconds after the "
                    "last SubscribeToShard at the earliest.")
            self._subscribed[(consumer_arn, shard_id)] = subscription
        if last is not None:
            last.taken_over()
        return subscription

    def latest(self, consumer_arn: str, shard_id: str) -> "Subscription | None":
        """The latest subscription of the consumer to the shard, if any."""
        return self._subscribed.get((consumer_arn, shard_id))

    def active(self, consumer: Consumer) -> bool:
        try:
            return self.by_arn(consumer.arn).status(self.lab.clock.now()) == ACTIVE
        except KinesisError:
            return False


def _epoch(value: Any) -> float | None:
    return value.timestamp() if hasattr(value, "timestamp") else value


@dataclass
class Subscription:
    """One SubscribeToShard: an iterator of ``{"SubscribeToShardEvent": …}`` events for
    5 minutes of the lab's clock, or until the shard is read to its end, the consumer
    or its stream is gone, or :meth:`close`."""

    consumers: Consumers
    consumer: Consumer
    shard: Shard
    after: int
    started: float
    last_event: float | None = None
    _closed: threading.Event = field(default_factory=threading.Event)
    _taken_over: threading.Event = field(default_factory=threading.Event)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return self

    def __next__(self) -> dict[str, Any]:
        streams = self.consumers.streams
        while not self._closed.is_set():
            if self._taken_over.is_set():
                self._closed.set()
                raise ResourceInUseException(
                    f"Another SubscribeToShard of consumer {self.consumer.arn} to shard "
                    f"{self.shard.shard_id} took this subscription over.")
            now = streams.lab.clock.now()
            if now >= self.started + quotas.SUBSCRIPTION_S or not self.consumers.active(self.consumer):
                break
            records = self._records()
            due = self.last_event is None or now - self.last_event >= quotas.SUBSCRIPTION_HEARTBEAT_S
            if records or due or self._at_end():
                return self._event(records, now)
            streams.wait(_RECHECK_S)
        self._closed.set()
        raise StopIteration

    def _records(self) -> list[tuple[int, Record]]:
        try:
            found = self.consumers.streams.read(self.consumer.stream, self.shard.shard_id,
                                                self.after, quotas.GET_RECORDS_MAX)
        except KinesisError:  # the stream is gone: the consumer's check ends the subscription
            return []
        return sized(found, quotas.CONSUMER_READ_BYTES_PER_S)

    def _at_end(self) -> bool:
        """Whether the shard is closed and every record of it has been sent."""
        try:
            shard = self.consumers.streams.shard(self.consumer.stream, self.shard.shard_id)
        except KinesisError:
            return False
        return shard.closed and not self._records()

    def _event(self, records: list[tuple[int, Record]], now: float) -> dict[str, Any]:
        streams = self.consumers.streams
        self.last_event = now
        if records:
            self.after = records[-1][0]
        event: dict[str, Any] = {
            "Records": [r.to_aws() for _, r in records],
            "ContinuationSequenceNumber": self.shard.sequence(self.after),
            "MillisBehindLatest": streams.millis_behind(self.consumer.stream, self.shard, records, now),
        }
        if self._at_end():
            event["ChildShards"] = streams.children(self.consumer.stream, self.shard.shard_id)
            self._closed.set()  # the shard is read: this was the last event
        return {"SubscribeToShardEvent": event}

    @property
    def closed(self) -> bool:
        """Whether it has ended (or will send no more events)."""
        return self._closed.is_set()

    def taken_over(self) -> None:
        """A later SubscribeToShard of the same consumer and shard replaces this one: it
        ends with ResourceInUseException, as on AWS."""
        self._taken_over.set()
        self.consumers.streams.wake()

    def close(self) -> None:
        """End the subscription (the client went away); safe from another thread."""
        self._closed.set()
        self.consumers.streams.wake()

