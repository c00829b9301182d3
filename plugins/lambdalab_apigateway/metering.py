"""Throttles and quotas: what answers 429 before a method's integration runs.

https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-request-throttling.html:
API Gateway throttles with token buckets, a bucket holding ``burstLimit`` tokens that
refill at ``rateLimit`` a second, each request taking one; an empty bucket answers
``429 {"message":"Too Many Requests"}`` (the ``THROTTLED`` gateway response). The account's
bucket (10,000 rps, burst 5,000) is shared by every API; a stage's ``*/*`` or a method's
``methodSettings`` throttle its own requests; a usage plan's ``throttle`` throttles each of
its API keys. A plan's ``quota`` allows ``limit`` requests a key per ``DAY``, ``WEEK`` or
``MONTH`` (UTC; a week begins on Monday), ``offset`` of them counted as used in the first
period; one more answers ``429 {"message":"Limit Exceeded"}`` (``QUOTA_EXCEEDED``,
https://docs.aws.amazon.com/apigateway/latest/developerguide/supported-gateway-response-types.html).

Time is the lab's clock, so a test advances it instead of waiting. Each key's counts are
kept in the data dir (``apigateway_usage``), written before the request goes on, so they
survive the lab's end and a SIGKILL, as AWS keeps usage; the buckets are kept in memory
and start full when the lab does (they refill within seconds anyway). This module never
touches HTTP.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, Mapping

from . import quotas

if TYPE_CHECKING:
    from lambdalab.plugin import Database

THROTTLED = "Too Many Requests"
QUOTA_EXCEEDED = "Limit Exceeded"


@dataclass
class Bucket:
    """A token bucket: ``burst`` tokens at most, ``rate`` more a second."""

    rate: float
    burst: int
    tokens: float
    at: float

    def take(self, now: float) -> bool:
        """Take one token, if there is one, at ``now``."""
        self.tokens = min(float(self.burst), self.tokens + max(0.0, now - self.at) * self.rate)
        self.at = max(self.at, now)
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


def period_start(now: float, period: str) -> datetime:
    """The UTC start of the quota ``period`` (DAY, WEEK, MONTH) holding ``now``."""
    day = datetime.fromtimestamp(now, timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "WEEK":
        return day - timedelta(days=day.weekday())
    if period == "MONTH":
        return day.replace(day=1)
    return day


def _day(now: float) -> str:
    return datetime.fromtimestamp(now, timezone.utc).strftime("%Y-%m-%d")


@dataclass
class Meter:
    """The lab's buckets and each (usage plan, key)'s requests a UTC day, the counts read
    from and written through to ``store`` (none: in memory only)."""

    store: "Database | None" = None
    buckets: dict[tuple[str, ...], Bucket] = field(default_factory=dict)
    daily: dict[tuple[str, str], dict[str, int]] = field(default_factory=dict)
    #: UpdateUsage's extensions: (plan, key) → {the quota period's first day: requests given back}.
    credits: dict[tuple[str, str], dict[str, int]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def _counts(self, plan_id: str, key_id: str) -> dict[str, int]:
        """The (plan, key)'s requests a day, read from the store the first time."""
        counts = self.daily.get((plan_id, key_id))
        if counts is None:
            rows = [] if self.store is None else self.store.query(
                "SELECT day, used FROM apigateway_usage WHERE plan_id = ? AND key_id = ?", (plan_id, key_id))
            counts = self.daily[(plan_id, key_id)] = {row["day"]: int(row["used"]) for row in rows}
        return counts

    def _credits(self, plan_id: str, key_id: str) -> dict[str, int]:
        credits = self.credits.get((plan_id, key_id))
        if credits is None:
            rows = [] if self.store is None else self.store.query(
                "SELECT period, credit FROM apigateway_usage_credit WHERE plan_id = ? AND key_id = ?",
                (plan_id, key_id))
            credits = self.credits[(plan_id, key_id)] = {row["period"]: int(row["credit"]) for row in rows}
        return credits

    def extend(self, plan: Mapping[str, Any], key_id: str, remaining: int, now: float) -> None:
        """UpdateUsage: ``key_id`` may make ``remaining`` more requests in the quota period
        holding ``now`` (its count is kept; the difference is stored as a credit)."""
        with self.lock:
            period = period_start(now, plan["quota"].get("period", "DAY")).strftime("%Y-%m-%d")
            credits = self._credits(plan["id"], key_id)
            credit = credits.get(period, 0) + self.used(plan, key_id, now) + remaining - int(
                plan["quota"].get("limit") or 0)
            if self.store is not None:
                with self.store.transaction() as db:
                    db.execute("INSERT OR REPLACE INTO apigateway_usage_credit (plan_id, key_id, period, credit) "
                               "VALUES (?, ?, ?, ?)", (plan["id"], key_id, period, credit))
            credits[period] = credit

    def _count(self, plan_id: str, key_id: str, day: str) -> None:
        """One more request on ``day``, stored before the request goes on."""
        if self.store is not None:
            with self.store.transaction() as db:
                db.execute("INSERT INTO apigateway_usage (plan_id, key_id, day, used) VALUES (?, ?, ?, 1) "
                           "ON CONFLICT (plan_id, key_id, day) DO UPDATE SET used = used + 1",
                           (plan_id, key_id, day))
        counts = self._counts(plan_id, key_id)
        counts[day] = counts.get(day, 0) + 1

    def forget(self, plan_id: str) -> None:
        """Drop a deleted usage plan's counts."""
        with self.lock:
            for table in (self.daily, self.credits):
                for name in [n for n in table if n[0] == plan_id]:
                    del table[name]
            if self.store is not None:
                with self.store.transaction() as db:
                    db.execute("DELETE FROM apigateway_usage WHERE plan_id = ?", (plan_id,))
                    db.execute("DELETE FROM apigateway_usage_credit WHERE plan_id = ?", (plan_id,))

    def _take(self, name: tuple[str, ...], rate: float, burst: int, now: float) -> bool:
        bucket = self.buckets.get(name)
        if bucket is None or (bucket.rate, bucket.burst) != (rate, burst):
            bucket = self.buckets[name] = Bucket(rate, burst, float(burst), now)
        return bucket.take(now)

    def used(self, plan: Mapping[str, Any], key_id: str, at: float) -> int:
        """The requests ``key_id`` made under ``plan`` from the start of the quota period
        holding ``at`` to the end of ``at``'s day, the ``offset`` counted in the first period,
        less what UpdateUsage gave back in that period."""
        period = plan["quota"].get("period", "DAY")
        start = period_start(at, period)
        counts = self._counts(plan["id"], key_id)
        used = sum(n for day, n in counts.items() if start.strftime("%Y-%m-%d") <= day <= _day(at))
        used -= self._credits(plan["id"], key_id).get(start.strftime("%Y-%m-%d"), 0)
        if start == period_start(plan.get("_since", at), period):
            used += int(plan["quota"].get("offset") or 0)
        return used

    def admit(self, now: float, stage: tuple[str, Mapping[str, Any]] | None,
              plan: Mapping[str, Any] | None, key_id: str | None) -> str | None:
        """Count one request at ``now``; the refusal's message, or ``None`` when it may go.
        ``stage`` is (a name for its bucket, its throttle settings)."""
        with self.lock:
            if not self._take(("account",), quotas.ACCOUNT_RATE_LIMIT, quotas.ACCOUNT_BURST_LIMIT, now):
                return THROTTLED
            if stage is not None and not self._take(("stage", stage[0]), *_limits(stage[1]), now):
                return THROTTLED
            if plan is None or key_id is None:
                return None
            throttle = plan.get("throttle")
            if throttle and not self._take(("key", plan["id"], key_id), float(throttle.get("rateLimit") or 0),
                                           int(throttle.get("burstLimit") or 0), now):
                return THROTTLED
            quota = plan.get("quota")
            if quota and self.used(plan, key_id, now) >= int(quota.get("limit") or 0):
                return QUOTA_EXCEEDED
            self._count(plan["id"], key_id, _day(now))
            return None

    def usage(self, plan: Mapping[str, Any], key_ids: list[str], start: str, end: str,
              now: float) -> dict[str, list[list[int]]]:
        """GetUsage's ``items``: per key, ``[used, remaining]`` for each day from ``start``
        to ``end`` (``YYYY-MM-DD``); remaining is what the quota leaves at the day's end
        (0 for a plan without a quota)."""
        first = datetime.strptime(start, "%Y-%m-%d").replace(tzinfo=timezone.utc)
        last = datetime.strptime(end, "%Y-%m-%d").replace(tzinfo=timezone.utc)
        days = [(first + timedelta(days=n)) for n in range((last - first).days + 1)]
        out = {}
        with self.lock:
            for key_id in key_ids:
                counts = self._counts(plan["id"], key_id)
                out[key_id] = [[counts.get(d.strftime("%Y-%m-%d"), 0),
                                self._remaining(plan, key_id, d.timestamp() + 86399)] for d in days]
        return out

    def remaining(self, plan: Mapping[str, Any], key_id: str, at: float) -> int:
        """What the quota leaves ``key_id`` at ``at``."""
        with self.lock:
            return self._remaining(plan, key_id, at)

    def _remaining(self, plan: Mapping[str, Any], key_id: str, at: float) -> int:
        if not plan.get("quota"):
            return 0
        return max(0, int(plan["quota"].get("limit") or 0) - self.used(plan, key_id, at))


def _limits(settings: Mapping[str, Any]) -> tuple[float, int]:
    return float(settings.get("throttlingRateLimit", quotas.ACCOUNT_RATE_LIMIT)), int(
        settings.get("throttlingBurstLimit", quotas.ACCOUNT_BURST_LIMIT))
