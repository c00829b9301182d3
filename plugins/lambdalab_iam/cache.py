"""Answers of IAM read once and kept in memory: what enforcement asks on every request.

An enforcing edge asks for the principal behind each request's key; reading SQLite each
time costs tens of microseconds. Answers are kept until IAM may have changed: at once
when this process writes IAM's tables, and within :data:`RECHECK_S` when another
connection (another thread, another lambdalab on the data dir) commits, as the Lambda
registry's cache does (SQLite's ``data_version``).
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable, Hashable

from lambdalab.plugin import Database

#: Another connection's commits are noticed within this many seconds.
RECHECK_S = 0.001

_MISSING = object()


class Answers:
    """A cache of reads, dropped whenever the database may have changed."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._answers: dict[Hashable, Any] = {}
        #: Counts the drops: an answer loaded across a drop is not kept.
        self._generation = 0
        self._seen_version = db.data_version()
        self._checked_at = time.monotonic()
        self._lock = threading.Lock()

    def get(self, key: Hashable, load: Callable[[], Any]) -> Any:
        now = time.monotonic()
        if now - self._checked_at > RECHECK_S:
            self._recheck(now)
        value = self._answers.get(key, _MISSING)
        if value is _MISSING:
            generation = self._generation
            value = load()
            with self._lock:
                if generation == self._generation:
                    self._answers[key] = value
        return value

    def drop(self) -> None:
        with self._lock:
            self._answers = {}
            self._generation += 1

    def _recheck(self, now: float) -> None:
        version = self.db.data_version()
        with self._lock:
            self._checked_at = now
            if version != self._seen_version:
                self._seen_version = version
                self._answers = {}
                self._generation += 1
