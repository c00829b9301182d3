"""One clock for every timer in lambdalab.

Idle reaping, retries, event age and schedules all read :class:`Clock`; only a handler's
own run time (its duration and timeout) is measured on the real monotonic clock, because
that is the handler's real work.

Tests and labs use :class:`VirtualClock` and move time on with :meth:`VirtualClock.advance`:
every timer that falls due runs, in order, before ``advance`` returns. Nothing sleeps to let
a minute pass::

    >>> clock = VirtualClock(start=0)
    >>> fired = []
    >>> _ = clock.call_later(60, lambda: fired.append(clock.now()))
    >>> clock.advance(59); fired
    []
    >>> clock.advance(1); fired
    [60.0]
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from dataclasses import dataclass, field
from typing import Callable


@dataclass(order=True)
class Timer:
    """A callback due at ``when`` (seconds since the epoch). Cancel it with :meth:`cancel`."""

    when: float
    seq: int
    callback: Callable[[], None] = field(compare=False)
    cancelled: bool = field(default=False, compare=False)

    def cancel(self) -> None:
        """Do not run the callback."""
        self.cancelled = True


class Clock:
    """The clock interface, and the shared timer queue both clocks use."""

    def __init__(self) -> None:
        self._timers: list[Timer] = []
        self._seq = itertools.count()
        self._lock = threading.Lock()

    def now(self) -> float:
        """Seconds since the epoch."""
        raise NotImplementedError

    def call_at(self, when: float, callback: Callable[[], None]) -> Timer:
        """Run ``callback`` once the clock reads ``when`` or later."""
        timer = Timer(when, next(self._seq), callback)
        with self._lock:
            heapq.heappush(self._timers, timer)
        self._timers_changed()
        return timer

    def call_later(self, delay: float, callback: Callable[[], None]) -> Timer:
        """Run ``callback`` ``delay`` seconds from now."""
        return self.call_at(self.now() + delay, callback)

    def close(self) -> None:
        """Stop running timers."""

    def _timers_changed(self) -> None:
        """Hook for a clock that has to wake up for a new earliest timer."""

    def _pop_due(self, now: float) -> Timer | None:
        with self._lock:
            while self._timers and self._timers[0].cancelled:
                heapq.heappop(self._timers)
            if self._timers and self._timers[0].when <= now:
                return heapq.heappop(self._timers)
            return None

    def _next_due(self) -> float | None:
        with self._lock:
            live = [t.when for t in self._timers if not t.cancelled]
            return min(live) if live else None


class RealClock(Clock):
    """Wall-clock time; timers run on one daemon thread."""

    def __init__(self) -> None:
        super().__init__()
        self._wake = threading.Condition()
        self._closed = False
        self._thread: threading.Thread | None = None

    def now(self) -> float:
        return time.time()

    def _timers_changed(self) -> None:
        with self._wake:
            if self._thread is None and not self._closed:
                self._thread = threading.Thread(
                    target=self._run, name="lambdalab-clock", daemon=True
                )
                self._thread.start()
            self._wake.notify()

    def _run(self) -> None:
        while True:
            with self._wake:
                if self._closed:
                    return
                due = self._next_due()
                delay = None if due is None else max(0.0, due - self.now())
                if delay is None or delay > 0:
                    self._wake.wait(delay)
                    continue
            timer = self._pop_due(self.now())
            if timer is not None:
                timer.callback()

    def close(self) -> None:
        with self._wake:
            self._closed = True
            self._wake.notify()


class VirtualClock(Clock):
    """A clock that moves only when told to: ``advance(seconds)`` or ``set(epoch)``."""

    def __init__(self, start: float | None = None) -> None:
        super().__init__()
        self._now = time.time() if start is None else float(start)

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        """Move time forward, running every timer that falls due, in order."""
        if seconds < 0:
            raise ValueError("a clock cannot go backwards; advance by 0 or more seconds")
        self.set(self._now + seconds)

    def set(self, epoch: float) -> None:
        """Move time forward to ``epoch``, running every timer that falls due, in order."""
        if epoch < self._now:
            raise ValueError("a clock cannot go backwards")
        while (timer := self._pop_due(epoch)) is not None:
            self._now = max(self._now, timer.when)
            timer.callback()
        self._now = float(epoch)
