"""The governor: holds one environment's process tree to its CPU share and memory size.

Lambda gives a function CPU in proportion to its memory: 1769 MB buys one vCPU, 128 MB
about 7 % of one (https://docs.aws.amazon.com/lambda/latest/dg/configuration-memory.html).
Whole vCPUs are given by CPU affinity (see :func:`cores_for`); the fraction of a vCPU by a
closed loop that runs while an invoke does:

* every :data:`TICK_S` it reads the CPU time the tree has used (all processes, all
  threads) and adds to a *credit* the CPU time the wall clock has paid for since the
  last reading (``share × elapsed``), minus what was used;
* when the credit is negative the tree has run ahead of its share: the governor stops
  the whole process group (``SIGSTOP``) until the wall clock has paid the debt back
  (``-credit / share`` seconds), then lets it continue (``SIGCONT``);
* unused credit is capped at :data:`BURST_S` worth of share, so a handler that waited on
  I/O for a second does not then burst at full speed for a second. This is what the
  kernel's CFS quota does per period, and what the cgroups Lambda uses do. The credit
  carries over from one invoke to the next and refills while the environment is frozen,
  as a quota refills each period: a short invoke after an idle spell runs unhindered,
  while back-to-back invokes are held to the share on average.

Measuring what was used, rather than switching the tree on and off on a fixed duty
cycle, is what makes the share accurate: an open-loop 10 ms duty cycle measured 4-14 %
for a 7.2 % target, because a stopped process does not stop the instant it is told and
the scheduler does not run it the instant it continues.

The same loop watches memory: when the tree's resident memory crosses the function's
memory size the governor kills the environment, as Lambda's out-of-memory killer does.
It also counts the tree's processes and threads: over Lambda's 1024 it kills the
environment. Lambda's kernel refuses the 1025th ``clone()`` instead (``EAGAIN``); a
watcher can only notice afterwards, but it needs no privileges and no host set-up, where
``RLIMIT_NPROC`` would count every process of the *user* on Linux (and is ignored for
root), and a cgroup's ``pids.max`` needs a writable cgroup hierarchy and clean-up.
"""

from __future__ import annotations

import math
import os
import signal
import threading
import time
from dataclasses import dataclass

from lambdalab import limits

from .proctree import ProcessTree

#: How often the governor reads the tree while an invoke runs (seconds). Small enough
#: that a 128 MB function runs in 2 ms slices (then waits ~26 ms), so short invokes
#: progress smoothly, and memory is checked often enough to kill within a few ms.
TICK_S = 0.002
#: Unused CPU credit carries over for at most this much wall time (seconds), like one
#: CFS period: idle time cannot be saved up for a long burst later.
BURST_S = 0.020
#: The tree's membership (new child processes) is re-read every this many ticks: it
#: scans /proc, too costly for every tick.
REFRESH_TICKS = 25


def cpu_share(memory_mb: int, machine_cores: int) -> float:
    """vCPUs a memory size buys (``memory / 1769 MB``), capped by the machine's cores."""
    return min(memory_mb / limits.MEMORY_MB_PER_VCPU, float(machine_cores))


def cores_for(share: float, available: list[int], start: int = 0) -> list[int]:
    """The CPUs an environment may run on: enough whole cores to hold ``share``.

    ``start`` rotates the choice, so environments of small functions spread over the
    machine instead of all sharing its first core.
    """
    count = max(1, min(len(available), math.ceil(share - 1e-9)))
    return [available[(start + i) % len(available)] for i in range(count)]


@dataclass
class Usage:
    """What one invoke used, as the governor saw it."""

    cpu_time_ms: float
    peak_rss_bytes: int
    #: The tree crossed its memory size and was killed.
    out_of_memory: bool = False
    #: ``time.monotonic()`` when the kill was sent (``None`` unless out of memory).
    killed_at: float | None = None
    #: The tree ran more than Lambda's processes/threads limit and was killed.
    too_many_tasks: bool = False


class Governor:
    """Enforces ``share`` vCPUs and ``memory_bytes`` on process group ``pid`` per invoke.

    Call :meth:`begin` when an invoke starts and :meth:`end` when it is over; between
    the two a thread of this object does the work. Outside invokes it sleeps.
    """

    def __init__(self, pid: int, share: float, cores: int, memory_bytes: int) -> None:
        self.pid = pid
        self.share = share
        #: Throttling is needed only when the share is less than the cores given.
        self.throttles = share < cores - 1e-9
        self.memory_bytes = memory_bytes
        self.tree = ProcessTree(pid)
        self._cond = threading.Condition()
        self._active = False
        self._closed = False
        self._usage = Usage(0.0, 0)
        self._cpu_at_begin = 0.0
        self._wall_at_begin = 0.0
        #: CPU seconds the tree may still use ahead of its share, as of ``_credit_at``.
        self._credit = share * BURST_S
        self._credit_at = time.monotonic()
        self._thread = threading.Thread(
            target=self._run, name=f"lambdalab-governor-{pid}", daemon=True
        )
        self._thread.start()

    # -- the invoke's side ------------------------------------------------------------

    def begin(self) -> None:
        """An invoke starts now: account CPU from here and start watching."""
        with self._cond:
            self._cpu_at_begin = self.tree.cpu_seconds()
            self._wall_at_begin = time.monotonic()
            self._usage = Usage(0.0, 0)
            self._active = True
            self._cond.notify()

    def end(self) -> Usage:
        """The invoke is over: stop watching and say what it used.

        The governor's thread is not woken: it notices at its next tick. Waking it here
        would make it compete for the GIL with the invoke's caller on every warm invoke.
        """
        with self._cond:
            self._active = False
            usage = self._usage
            usage.cpu_time_ms = (self.tree.cpu_seconds() - self._cpu_at_begin) * 1000
            return usage

    @property
    def usage(self) -> Usage:
        """What the current (or last) invoke used so far."""
        return self._usage

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._active = False
            self._cond.notify_all()

    # -- the governor's thread --------------------------------------------------------

    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._active or self._closed)
                if self._closed:
                    return
            self._govern()

    def _govern(self) -> None:
        """One invoke: read, kill if over memory, stop the tree when ahead of its share."""
        last_wall, last_cpu = self._wall_at_begin, self._cpu_at_begin
        credit = self._refilled_credit(last_wall)
        ticks = 0
        with self._cond:
            while self._active:
                ticks += 1
                if ticks % REFRESH_TICKS == 0:
                    self.tree.refresh()
                if self._over_memory() or self._over_tasks():
                    return
                now, cpu = time.monotonic(), self.tree.cpu_seconds()
                if self.throttles:
                    credit = min(
                        credit + self.share * (now - last_wall) - (cpu - last_cpu),
                        self.share * BURST_S,
                    )
                last_wall, last_cpu = now, cpu
                if credit < 0:
                    self._pause(-credit / self.share)
                else:
                    self._cond.wait(TICK_S)
            self._credit = credit - (self.tree.cpu_seconds() - last_cpu)
            self._credit_at = last_wall

    def _refilled_credit(self, now: float) -> float:
        """The credit left by the last invoke plus what the idle time since has paid."""
        return min(self._credit + self.share * (now - self._credit_at), self.share * BURST_S)

    def _over_memory(self) -> bool:
        rss = self.tree.rss_bytes()
        usage = self._usage
        usage.peak_rss_bytes = max(usage.peak_rss_bytes, rss)
        if rss <= self.memory_bytes:
            return False
        _signal_group(self.pid, signal.SIGKILL)
        usage.out_of_memory = True
        usage.killed_at = time.monotonic()
        self._active = False
        return True

    def _over_tasks(self) -> bool:
        if self.tree.task_count() <= limits.PROCESSES_AND_THREADS_MAX:
            return False
        _signal_group(self.pid, signal.SIGKILL)
        self._usage.too_many_tasks = True
        self._active = False
        return True

    def _pause(self, seconds: float) -> None:
        """Stop the tree for ``seconds``, unless the invoke ends first (called locked)."""
        _signal_group(self.pid, signal.SIGSTOP)
        self._cond.wait(seconds)
        if self._active:  # after the invoke the environment stays frozen
            _signal_group(self.pid, signal.SIGCONT)


def _signal_group(pid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pid, sig)
    except OSError:
        pass  # already gone: the invoke reports how it ended
