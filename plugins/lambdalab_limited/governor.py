"""The governor: holds one environment's process tree to its CPU share and memory size.

Lambda gives a function CPU in proportion to its memory: 1769 MB buys one vCPU, 128 MB
about 7 % of one (https://docs.aws.amazon.com/lambda/latest/dg/configuration-memory.html).
A share over one vCPU gets that many whole cores by CPU affinity (see :func:`cores_for`);
any share is held by a closed loop that runs while an invoke does:

* every :data:`TICK_S` it reads the CPU time the tree has used (all processes, all
  threads) and adds to a *credit* the CPU time the wall clock has paid for since the
  last reading (``share × elapsed``), minus what was used;
* when the credit is negative the tree has run ahead of its share: the governor stops
  the whole process group (``SIGSTOP``) until the wall clock has paid the debt back
  *and refilled the whole burst* (``BURST_S - credit / share`` seconds), then lets it
  continue (``SIGCONT``);
* unused credit is capped at :data:`BURST_S` worth of share, so a handler that waited on
  I/O for a second does not then burst at full speed for a second. This is what the
  kernel's CFS quota does per period, and what the cgroups Lambda uses do. The credit
  carries over from one invoke to the next and refills while the environment is frozen,
  as a quota refills each period: a short invoke after an idle spell runs unhindered,
  while back-to-back invokes are held to the share on average (an invoke that starts in
  debt waits, frozen, until its first tick finds the debt paid).

Why a stop lasts until the burst is whole again, as a CFS group throttled in one period
runs again only with the next period's whole quota: stopped only until its debt was
paid, a tree invoked back to back was left at a credit of zero, so each next tiny invoke
went into debt and paid a stop of its own. A 128 MB echo handler then paid a 1-3 ms stop
on most of its invokes (p50 at 1.4-2.4x the same invoke at 1769 MB on a loaded 2-core
VM); stopped until its burst is whole, it runs a burst's worth of invokes unhindered,
then pays one stop of about :data:`BURST_S`. The share held on average is the same;
what changes is how the waits are spread, as they are under the kernel's quota (the
``cgroup`` sandbox).

Measuring what was used, rather than switching the tree on and off on a fixed duty
cycle, is what makes the share accurate: an open-loop 10 ms duty cycle measured 4-14 %
for a 7.2 % target, because a stopped process does not stop the instant it is told and
the scheduler does not run it the instant it continues.

The same loop watches memory: when the tree's memory (each page counted once, as the
kernel charges it: see :mod:`lambdalab_limited.proctree`) crosses the function's
memory size the governor kills the environment, as Lambda's out-of-memory killer does.
It also counts the tree's processes and threads: over Lambda's 1024 it kills the
environment. Lambda's kernel refuses the 1025th ``clone()`` instead (``EAGAIN``), and so
does lambdalab's where the environment is confined: it runs as a user of its own with
``RLIMIT_NPROC`` at 1024 (:mod:`lambdalab_limited.users`), and this count never finds
more. Elsewhere ``RLIMIT_NPROC`` would count every process of lambdalab's user (and is
ignored for root), and a cgroup's ``pids.max`` needs a writable cgroup hierarchy and
clean-up; a watcher can only notice afterwards, but it needs no privileges and no host
set-up.

The governor has no thread of its own: the thread that waits for an invoke's answer
calls :meth:`Governor.tick` whenever the time :meth:`~Governor.tick` asked for has come
(see ``SubprocessEnvironment.ticker``). A tiny invoke ends before its first tick, so
its whole cost is :meth:`~Governor.begin` and :meth:`~Governor.end`: two clock
readings, and a signal only when the runtime had frozen itself; no thread is woken (a thread woken per invoke competed with
the caller for the GIL and made a warm invoke 4x slower). The environment freezes
itself between invokes (see ``lambdalab.runtime.bootstrap.serve``).
"""

from __future__ import annotations

import math
import os
import signal
import time
from dataclasses import dataclass

from lambdalab.plugin import limits

from .proctree import ProcessTree

#: How often the governor reads the tree while an invoke runs (seconds). Small enough
#: that a 128 MB function runs in 2 ms slices (then waits ~26 ms), so short invokes
#: progress smoothly, and memory is checked often enough to kill within a few ms.
TICK_S = 0.002
#: Unused CPU credit carries over for at most this much wall time (seconds), like one
#: CFS period: idle time cannot be saved up for a long burst later.
BURST_S = 0.020
#: The tree's membership (new child processes) is re-read every this many ticks: it
#: reads every thread's ``children`` file, too costly for every tick.
REFRESH_TICKS = 25


def cpu_share(memory_mb: int, machine_cores: int) -> float:
    """vCPUs a memory size buys (``memory / 1769 MB``), capped by the machine's cores."""
    return min(memory_mb / limits.MEMORY_MB_PER_VCPU, float(machine_cores))


def cores_for(share: float, available: list[int], start: int = 0) -> list[int]:
    """The CPUs an environment may run on: all of them for a share of one vCPU or less,
    else enough whole cores to hold ``share``.

    A share of one vCPU or less is held by the closed loop alone, on any CPU, as AWS
    holds it with a CPU quota, not affinity (a 128 MB function there still sees two
    vCPUs). Pinned to one core, the environment would often share it with the thread
    that invokes it, which the scheduler likes to run next to the process it wakes:
    then each waits for the other, and a warm invoke measured twice as slow.
    ``start`` rotates the choice of several cores, so environments spread over the
    machine instead of all sharing its first cores.
    """
    count = min(len(available), math.ceil(share - 1e-9))
    if count <= 1:
        return list(available)
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
    """Enforces ``share`` vCPUs and ``memory_bytes`` on process group ``pid``.

    :meth:`begin` when an invoke starts, :meth:`resume` to thaw the tree, :meth:`tick`
    at the times it asks for while the invoke runs, :meth:`end` when it is over.
    """

    def __init__(self, pid: int, share: float, cores: int, memory_bytes: int) -> None:
        self.pid = pid
        self.share = share
        #: Throttling is needed only when the share is less than the cores given.
        self.throttles = share < cores - 1e-9
        self.memory_bytes = memory_bytes
        self.tree = ProcessTree(pid)
        self._usage = Usage(0.0, 0)
        self._cpu_at_begin = 0.0
        #: CPU seconds the tree may still use ahead of its share, as of ``_last_wall``.
        self._credit = share * BURST_S
        self._last_wall = time.monotonic()
        self._last_cpu = self.tree.cpu_seconds()
        #: While the tree is stopped for running ahead of its share: when it may go on.
        self._stopped_until: float | None = None
        self._ticks = 0
        self._killed = False

    # -- the invoke's side ------------------------------------------------------------

    def begin(self) -> float:
        """An invoke starts now: account CPU from here. Returns the seconds until
        :meth:`tick` is due. The caller then sends the event and, unless the tree is
        :attr:`in_debt`, :meth:`resume` s it, which reads it. In debt, the tick is due at
        once and the tree stays frozen until it has paid (the tick continues it then):
        continued first, a runtime answered a tiny invoke before that tick could stop
        it, and back-to-back invokes ran ahead of their share."""
        now = time.monotonic()
        self._account(now)
        self._cpu_at_begin = self._last_cpu
        self._usage = Usage(0.0, 0)
        if self.in_debt:  # back to back: the last invoke's CPU is not paid for yet
            return 0.0  # the first tick, at once, keeps it stopped until that is paid
        return TICK_S

    @property
    def in_debt(self) -> bool:
        """Whether the tree has used more CPU than its share has paid for (as of the
        last reading): an invoke that begins so waits for its first :meth:`tick`."""
        return self._credit < 0

    def tick(self) -> float:
        """One reading while the invoke runs: kill the tree if it is over its memory
        size or task cap; stop it while it is ahead of its share. Returns the seconds
        until the next tick is due."""
        if self._killed:
            return BURST_S
        self._ticks += 1
        if self._ticks % REFRESH_TICKS == 0:
            self.tree.discover()
        if self._over_memory() or self._over_tasks():
            return BURST_S
        now = time.monotonic()
        if self._stopped_until is not None and now < self._stopped_until:
            return self._stopped_until - now
        late = 0.0 if self._stopped_until is None else now - self._stopped_until
        self._stopped_until = None
        self._account(now, late)
        if self._credit < 0:
            return self._stop_until(now)
        # Also when the tree was not stopped here: the runtime may have frozen itself in
        # the instant between its last look for an invoke and this one's arrival, or
        # been left frozen by an invoke that began in debt.
        _signal_group(self.pid, signal.SIGCONT)
        return TICK_S

    def resume(self) -> None:
        """Let a stopped tree run again now, debt or not: when its event is sent, and
        when it is writing its answer, which is read to the end without further ticks
        (a debt left is paid by the next invoke)."""
        self._stopped_until = None
        _signal_group(self.pid, signal.SIGCONT)

    def release(self) -> None:
        """:meth:`resume` if the governor has stopped the tree (a runtime writing its
        answer is otherwise running: it freezes itself only after it)."""
        if self._stopped_until is not None:
            self.resume()

    def end(self) -> Usage:
        """The invoke is over: say what it used. (The runtime freezes the tree itself
        when no next invoke follows: see ``lambdalab.runtime.bootstrap.serve``.) A tree
        over the task cap now is killed too: a handler that started its tasks and
        returned before the first tick would otherwise keep them."""
        self._stopped_until = None
        if not self._killed:
            self._over_tasks(self.tree.discover())
        self._account(time.monotonic())
        usage = self._usage
        usage.cpu_time_ms = (self._last_cpu - self._cpu_at_begin) * 1000
        return usage

    @property
    def usage(self) -> Usage:
        """What the current (or last) invoke used so far."""
        return self._usage

    # -- accounting -------------------------------------------------------------------

    def _account(self, now: float, late: float = 0.0) -> None:
        """Pay the wall time since the last reading into the credit, minus the CPU used.

        ``late``: how long the tree stayed stopped past its pause because this reading
        came late (a loaded machine runs the invoking thread late). The pause ended with
        a whole burst, so that time is paid above the burst's cap: a late reading must
        not cost the tree its share."""
        cpu = self.tree.cpu_seconds()
        if self.throttles:
            self._credit = min(
                self._credit + self.share * (now - self._last_wall) - (cpu - self._last_cpu),
                self.share * (BURST_S + late),
            )
        self._last_wall, self._last_cpu = now, cpu

    def _stop_until(self, now: float) -> float:
        """Stop the tree until its debt is paid and its burst refilled (see the module's
        docstring); the seconds that takes."""
        _signal_group(self.pid, signal.SIGSTOP)
        pause = BURST_S - self._credit / self.share
        self._stopped_until = now + pause
        return pause

    def _over_memory(self) -> bool:
        used, known = self.tree.memory(self.memory_bytes)
        if not known:
            return False  # over, perhaps: the next ticks read the tree more closely
        usage = self._usage
        usage.peak_rss_bytes = max(usage.peak_rss_bytes, used)
        if used <= self.memory_bytes:
            return False
        self._kill()
        usage.out_of_memory = True
        usage.killed_at = time.monotonic()
        return True

    def _over_tasks(self, tasks: int | None = None) -> bool:
        """Over Lambda's processes/threads cap (``tasks``: the count just read, if it was):
        then the tree is killed."""
        if (self.tree.task_count() if tasks is None else tasks) <= limits.PROCESSES_AND_THREADS_MAX:
            return False
        self._kill()
        self._usage.too_many_tasks = True
        return True

    def _kill(self) -> None:
        _signal_group(self.pid, signal.SIGKILL)
        self._killed = True


def _signal_group(pid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pid, sig)
    except OSError:
        pass  # already gone: the invoke reports how it ended
