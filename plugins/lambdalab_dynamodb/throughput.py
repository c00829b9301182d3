"""Provisioned throughput, as DynamoDB meters it, on the lab's clock
(https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/provisioned-capacity-mode.html,
https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/burst-adaptive-capacity.html).

A PROVISIONED table earns its read and write capacity units every second and keeps what
it does not spend for up to 300 seconds (DynamoDB's burst capacity): a bucket per table
and kind, refilled at the provisioned rate and holding at most 300 seconds of it. A
request is admitted while its bucket holds capacity, then charged what it consumed (a
write one unit per KB, a read one per 4 KB, half that when eventually consistent), so
one large item can take the bucket below zero and the next request waits for the refill,
as on AWS. A new table starts with its bucket full (lambdalab's choice: as if idle for
five minutes). On-demand (PAY_PER_REQUEST) tables are never throttled here.

The buckets live in memory, per lab: they are rates, not state a restart must keep.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

from . import quotas, values
from .exceptions import ProvisionedThroughputExceededException
from .tables import Table

if TYPE_CHECKING:
    from lambdalab.plugin import Clock

    from .values import Item

READ = "ReadCapacityUnits"
WRITE = "WriteCapacityUnits"
#: How many times a transaction's read or write of an item is charged (prepare, commit).
TRANSACTION_FACTOR = 2
#: AWS's words for a throttled request.
EXCEEDED = ("The level of configured provisioned throughput for the table was exceeded. "
            "Consider increasing your provisioning level with the UpdateTable API.")


def write_units(*items: "Item | None") -> float:
    """A write costs one unit per KB of the larger of the item before and after."""
    size = max([values.item_size(i) for i in items if i] or [0])
    return float(max(1, math.ceil(size / 1024)))


def read_units(size: int, consistent: bool) -> float:
    """A read costs one unit per 4 KB read (rounded up), half that when eventually consistent."""
    return max(1, math.ceil(size / 4096)) * (1.0 if consistent else 0.5)


def transaction_read_units(size: int) -> float:
    """A transaction reads each item twice, strongly consistent: to prepare it and to commit it
    (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/transaction-apis.html#transaction-capacity-handling)."""
    return TRANSACTION_FACTOR * read_units(size, True)


def transaction_write_units(*items: "Item | None") -> float:
    """A transaction writes each item twice: to prepare it and to commit it."""
    return TRANSACTION_FACTOR * write_units(*items)


@dataclass
class Bucket:
    """Capacity units on hand at ``at`` (the lab's clock), refilled at ``rate`` a second."""

    units: float
    rate: float
    at: float

    def refill(self, now: float, rate: float) -> None:
        self.rate = rate
        elapsed = max(0.0, now - self.at)
        self.units = min(rate * quotas.BURST_SECONDS, self.units + elapsed * rate)
        self.at = now


class Capacity:
    """The throughput buckets of one lab's tables."""

    def __init__(self, clock: "Clock") -> None:
        self.clock = clock
        self._buckets: dict[tuple[str, str, str], Bucket] = {}
        self._lock = threading.Lock()

    def _bucket(self, table: Table, kind: str) -> Bucket | None:
        """The table's bucket of ``kind`` (READ or WRITE), refilled to now; None when the
        table is on demand."""
        if table.billing_mode != "PROVISIONED":
            return None
        rate = float(table.throughput.get(kind) or 0)
        now = self.clock.now()
        key = (table.name, table.table_id, kind)
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = Bucket(rate * quotas.BURST_SECONDS, rate, now)
        bucket.refill(now, rate)
        return bucket

    def has_room(self, table: Table, kind: str) -> bool:
        with self._lock:
            bucket = self._bucket(table, kind)
            return bucket is None or bucket.units > 0

    def admit(self, table: Table, kind: str) -> None:
        """ProvisionedThroughputExceededException unless the table has capacity of ``kind``."""
        if not self.has_room(table, kind):
            raise ProvisionedThroughputExceededException(EXCEEDED)

    def charge(self, table: Table, kind: str, units: float) -> None:
        with self._lock:
            bucket = self._bucket(table, kind)
            if bucket is not None:
                bucket.units -= units
