"""The metric store: one-minute aggregates, kept in memory, then in the lab's database.

CloudWatch keeps a metric as statistic sets per period
(https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/cloudwatch_concepts.html#Statistic):
sample count, sum, minimum and maximum, and for percentiles the values themselves.
lambdalab keeps one row per metric, dimension set and minute of the lab's clock. Data
waits in memory (the invoke path's in :class:`~.lambda_metrics.LambdaRecorder`, others
in ``_pending``); a thread writes it to the data dir once adding pauses, at least every
:data:`~.quotas.FLUSH_INTERVAL_S`, and before every read, so readers see every data
point and a SIGKILL loses at most that many seconds of them. Rows older than the
retention (15 days by default, as AWS keeps one-minute data) are deleted as new ones
are written.
"""

from __future__ import annotations

import json
import math
import random
import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from lambdalab.plugin import Database

from . import quotas

#: A dimension set: ``((name, value), ...)`` sorted by name, as CloudWatch matches them.
Dimensions = tuple[tuple[str, str], ...]

MIGRATIONS: dict[str, str] = {
    "cloudwatch-1": """
    CREATE TABLE cloudwatch_data (
        namespace TEXT NOT NULL,
        metric TEXT NOT NULL,
        dimensions TEXT NOT NULL,
        minute INTEGER NOT NULL,
        unit TEXT NOT NULL,
        sample_count REAL NOT NULL,
        total REAL NOT NULL,
        minimum REAL NOT NULL,
        maximum REAL NOT NULL,
        samples TEXT NOT NULL,
        PRIMARY KEY (namespace, metric, dimensions, minute)
    );
    CREATE INDEX cloudwatch_data_by_minute ON cloudwatch_data (minute);
    CREATE TABLE cloudwatch_settings (name TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE cloudwatch_log_cursors (log_group TEXT PRIMARY KEY, last_id INTEGER NOT NULL);
    CREATE TABLE cloudwatch_alarms (name TEXT PRIMARY KEY, config TEXT NOT NULL);
    CREATE TABLE cloudwatch_alarm_history (
        id INTEGER PRIMARY KEY,
        alarm TEXT NOT NULL,
        timestamp REAL NOT NULL,
        item_type TEXT NOT NULL,
        summary TEXT NOT NULL,
        data TEXT NOT NULL
    );
    CREATE INDEX cloudwatch_alarm_history_by_alarm ON cloudwatch_alarm_history (alarm, id);
    """,
    "cloudwatch-2-composite-alarms": """
    CREATE TABLE cloudwatch_composite_alarms (name TEXT PRIMARY KEY, config TEXT NOT NULL);
    ALTER TABLE cloudwatch_alarm_history ADD COLUMN alarm_type TEXT NOT NULL DEFAULT 'MetricAlarm';
    """,
    # The minute each alarm was last evaluated in, claimed by the lambdalab that evaluates
    # it, so two on one data dir do not both evaluate one minute.
    "cloudwatch-3-alarm-claims": """
    CREATE TABLE cloudwatch_alarm_claims (alarm TEXT PRIMARY KEY, minute INTEGER NOT NULL);
    """,
}


def dimensions_of(pairs: Iterable[tuple[str, str]]) -> Dimensions:
    return tuple(sorted(pairs))


def minute_of(epoch: float) -> int:
    """The start of the one-minute period holding ``epoch``."""
    return int(epoch // quotas.PERIOD_S) * quotas.PERIOD_S


@dataclass
class Aggregate:
    """A statistic set, with the values kept for percentiles (up to a bound)."""

    unit: str = "None"
    sample_count: float = 0.0
    total: float = 0.0
    minimum: float = math.inf
    maximum: float = -math.inf
    samples: list[float] = field(default_factory=list)

    def add(self, value: float, count: float = 1.0) -> None:
        self.sample_count += count
        self.total += value * count
        if value < self.minimum:
            self.minimum = value
        if value > self.maximum:
            self.maximum = value
        self.keep(value)

    def add_values(self, values: list[float]) -> None:
        """Many values at once (with the built-ins, so a busy minute sums fast)."""
        if not values:
            return
        self.add_set(float(len(values)), sum(values), min(values), max(values))
        room = quotas.PERCENTILE_SAMPLE_MAX
        if len(self.samples) + len(values) <= room:
            self.samples += values
            return
        # keep `room` values, each value seen as likely as any other: the new ones get
        # their share of the room, the kept ones the rest
        share = min(len(values), round(room * len(values) / self.sample_count))
        kept = self.samples
        if len(kept) > room - share:
            kept = random.sample(kept, room - share)
        self.samples = kept + random.sample(values, share)

    def add_set(self, count: float, total: float, minimum: float, maximum: float) -> None:
        """A pre-aggregated statistic set (PutMetricData's ``StatisticValues``)."""
        self.sample_count += count
        self.total += total
        self.minimum = min(self.minimum, minimum)
        self.maximum = max(self.maximum, maximum)

    def copy(self) -> "Aggregate":
        return Aggregate(self.unit, self.sample_count, self.total, self.minimum, self.maximum,
                         list(self.samples))

    def merge(self, other: "Aggregate") -> None:
        self.unit = other.unit if other.unit != "None" else self.unit
        self.add_set(other.sample_count, other.total, other.minimum, other.maximum)
        for value in other.samples:
            self.keep(value)

    def keep(self, value: float) -> None:
        """Keep ``value`` for percentiles (``sample_count`` already counts it)."""
        samples = self.samples
        if len(samples) < quotas.PERCENTILE_SAMPLE_MAX:
            samples.append(value)
        else:  # reservoir sampling: every value equally likely to stay
            slot = int(random.random() * self.sample_count)
            if slot < quotas.PERCENTILE_SAMPLE_MAX:
                samples[slot] = value

    def statistic(self, name: str) -> float | None:
        """``Sum``, ``Average``, ``Minimum``, ``Maximum``, ``SampleCount`` or ``pNN``."""
        if name == "SampleCount":
            return self.sample_count
        if name == "Sum":
            return self.total
        if name == "Average":
            return self.total / self.sample_count if self.sample_count else None
        if name == "Minimum":
            return self.minimum
        if name == "Maximum":
            return self.maximum
        return self.percentile(float(name[1:]))

    def percentile(self, p: float) -> float | None:
        """The nearest-rank percentile of the kept values (``None`` when none are kept)."""
        if not self.samples:
            return None
        ordered = sorted(self.samples)
        rank = max(1, math.ceil(p / 100.0 * len(ordered)))
        return ordered[min(rank, len(ordered)) - 1]


#: (namespace, metric, dimensions, minute): where an aggregate is kept.
Key = tuple[str, str, Dimensions, int]


class MetricStore:
    """Every metric of one lab, by namespace, name, dimension set and minute."""

    def __init__(self, db: Database, now: Callable[[], float]) -> None:
        self._db = db
        self._now = now
        self._pending: dict[Key, Aggregate] = {}
        self._lock = threading.Lock()
        self._flushing = threading.Lock()
        self._expired_minute = -1
        self.retention_days = self._stored_retention()
        #: Where else pending aggregates wait (the invoke path's recorder): drained
        #: into every flush.
        self.sources: list[Callable[[], list[tuple[Key, Aggregate]]]] = []

    # -- writing ------------------------------------------------------------------------

    def add(self, namespace: str, metric: str, dimensions: Dimensions, value: float,
            unit: str = "None", when: float | None = None, count: float = 1.0) -> None:
        """One value (seen ``count`` times) of a metric, at ``when`` (default: now)."""
        key = (namespace, metric, dimensions, minute_of(self._now() if when is None else when))
        with self._lock:
            found = self._pending.get(key)
            if found is None:
                found = self._pending[key] = Aggregate(unit)
            found.add(value, count)

    def add_set(self, namespace: str, metric: str, dimensions: Dimensions, count: float,
                total: float, minimum: float, maximum: float, unit: str, when: float) -> None:
        key = (namespace, metric, dimensions, minute_of(when))
        with self._lock:
            found = self._pending.setdefault(key, Aggregate(unit))
            found.add_set(count, total, minimum, maximum)

    def flush(self) -> None:
        """Write the pending aggregates, merged into what is stored; expire old minutes."""
        with self._flushing:
            with self._lock:
                batch, self._pending = self._pending, {}
            for source in self.sources:
                for key, aggregate in source():
                    found = batch.get(key)
                    if found is None:
                        batch[key] = aggregate.copy()
                    else:
                        found.merge(aggregate)
            if batch:
                with self._db.transaction() as db:
                    for key, aggregate in batch.items():
                        _merge_row(db, key, aggregate)
            self._expire()

    def _expire(self) -> None:
        minute = minute_of(self._now())
        if minute == self._expired_minute:
            return
        self._expired_minute = minute
        oldest = minute - self.retention_days * 86400
        with self._db.transaction() as db:
            db.execute("DELETE FROM cloudwatch_data WHERE minute < ?", (oldest,))

    # -- retention ----------------------------------------------------------------------

    def _stored_retention(self) -> int:
        rows = self._db.query("SELECT value FROM cloudwatch_settings WHERE name = 'retention_days'")
        return int(rows[0][0]) if rows else quotas.RETENTION_DAYS_DEFAULT

    def set_retention(self, days: int) -> None:
        """Keep one-minute data ``days`` days (1 to 455); older data is deleted now."""
        if type(days) is not int or not 1 <= days <= quotas.RETENTION_DAYS_MAX:
            raise ValueError(f"retention {days!r}: use a whole number of days, 1 to "
                             f"{quotas.RETENTION_DAYS_MAX}.")
        with self._db.transaction() as db:
            db.execute("INSERT INTO cloudwatch_settings (name, value) VALUES ('retention_days', ?) "
                       "ON CONFLICT (name) DO UPDATE SET value = excluded.value", (str(days),))
        self.retention_days = days
        self._expired_minute = -1
        self.flush()

    # -- reading ------------------------------------------------------------------------

    def minutes(self, namespace: str, metric: str, dimensions: Dimensions, start: float,
                end: float, unit: str | None = None) -> list[tuple[int, Aggregate]]:
        """The stored minutes of one metric with ``start <= minute < end``, oldest first."""
        self.flush()
        sql = ("SELECT minute, unit, sample_count, total, minimum, maximum, samples FROM "
               "cloudwatch_data WHERE namespace = ? AND metric = ? AND dimensions = ? "
               "AND minute >= ? AND minute < ?")
        params: tuple[Any, ...] = (namespace, metric, _dims_text(dimensions), start, end)
        if unit is not None:
            sql += " AND unit = ?"
            params += (unit,)
        rows = self._db.query(sql + " ORDER BY minute", params)
        return [(row[0], Aggregate(row[1], row[2], row[3], row[4], row[5], json.loads(row[6])))
                for row in rows]

    def periods(self, namespace: str, metric: str, dimensions: Dimensions, start: float,
                end: float, period: int, unit: str | None = None) -> list[tuple[float, Aggregate]]:
        """The data of ``[start, end)`` in periods of ``period`` seconds (aligned to the
        epoch), oldest first; periods without data are left out, as CloudWatch does."""
        buckets: dict[float, Aggregate] = {}
        for minute, aggregate in self.minutes(namespace, metric, dimensions, minute_of(start),
                                              end, unit):
            at = float(minute - minute % period)
            buckets.setdefault(at, Aggregate(aggregate.unit)).merge(aggregate)
        return sorted(buckets.items())

    def metrics(self, namespace: str | None = None, metric: str | None = None,
                since: float | None = None) -> list[tuple[str, str, Dimensions]]:
        """Every metric stored (optionally of one namespace or name, or active since)."""
        self.flush()
        sql = "SELECT DISTINCT namespace, metric, dimensions FROM cloudwatch_data WHERE 1"
        params: tuple[Any, ...] = ()
        for column, value in (("namespace", namespace), ("metric", metric)):
            if value is not None:
                sql += f" AND {column} = ?"
                params += (value,)
        if since is not None:
            sql += " AND minute >= ?"
            params += (minute_of(since),)
        rows = self._db.query(sql + " ORDER BY namespace, metric, dimensions", params)
        return [(row[0], row[1], tuple((n, v) for n, v in json.loads(row[2]))) for row in rows]


def _dims_text(dimensions: Dimensions) -> str:
    return json.dumps([list(pair) for pair in dimensions], separators=(",", ":"))


def _merge_row(db: Any, key: Key, aggregate: Aggregate) -> None:
    namespace, metric, dimensions, minute = key
    dims = _dims_text(dimensions)
    row = db.execute(
        "SELECT unit, sample_count, total, minimum, maximum, samples FROM cloudwatch_data "
        "WHERE namespace = ? AND metric = ? AND dimensions = ? AND minute = ?",
        (namespace, metric, dims, minute),
    ).fetchone()
    if row is not None:
        stored = Aggregate(row[0], row[1], row[2], row[3], row[4], json.loads(row[5]))
        stored.merge(aggregate)
        aggregate = stored
    db.execute(
        "INSERT OR REPLACE INTO cloudwatch_data (namespace, metric, dimensions, minute, unit, "
        "sample_count, total, minimum, maximum, samples) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (namespace, metric, dims, minute, aggregate.unit, aggregate.sample_count,
         aggregate.total, aggregate.minimum, aggregate.maximum, json.dumps(aggregate.samples)),
    )


__all__ = ["Aggregate", "Dimensions", "MetricStore", "MIGRATIONS", "dimensions_of", "minute_of"]
