"""Cheap readings of an environment's process tree: who is in it, its CPU time and memory.

The governor reads these every few milliseconds while an invoke runs, so each reading is
one small read of ``/proc`` or one ``clock_gettime`` call, never a scan of every process
on the machine (new members are found in the tree's own ``children`` files, a read per
member thread, less often; the scan of every process is left for kernels without them).

On Linux a process's CPU time comes from its *CPU-time clock* (``clock_getcpuclockid``):
nanosecond resolution, all its threads included. ``/proc/<pid>/stat`` and psutil count in
clock ticks (10 ms), far too coarse to hold a 7 % share steady. Elsewhere psutil is used.

Memory is counted as a kernel's memory cgroup charges it: each page once. A ``fork()``ed
child shares its parent's pages until one of them writes to a page (copy-on-write), so
summing every process's resident memory counts a shared page once per process (four
sleeping children of a 50 MB runtime would "use" 250 MB). The tree's memory is the root's
resident memory plus what each descendant holds *alone* (its private pages,
``Private_Clean + Private_Dirty`` in ``/proc/<pid>/smaps_rollup``). Reading
``smaps_rollup`` walks a process's page tables (about a millisecond for a runtime-sized
process on a loaded 2-core VM, against 20 µs for ``statm``), so it is read only when it
matters: the resident memory of a descendant not yet read is an upper bound of what it
holds alone, and as long as the bound stays under the memory size nothing more is read.
When it crosses it, the stalest descendants are read, :data:`PRIVATE_READS_PER_CALL` at
a time, until every reading is fresh (:data:`PRIVATE_FRESH_S`); only then is the tree
known to be over. Between two readings a descendant's private memory is taken to have
grown by as much as its resident memory has.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys
import time
import weakref
from dataclasses import dataclass, field

import psutil

#: Descendants whose private memory is read per :meth:`ProcessTree.memory` call, at most.
PRIVATE_READS_PER_CALL = 4
#: A reading of a descendant's private memory is fresh enough to decide a kill for this
#: many seconds.
PRIVATE_FRESH_S = 0.05

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
#: A read of a ``/proc`` file shorter than this was the whole file: the kernel hands one
#: over a page at a time, less the part of a line that did not fit.
_SHORT_READ = 2048
_libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
_HAS_CPU_CLOCK = sys.platform.startswith("linux") and hasattr(_libc, "clock_getcpuclockid")


def cpu_clock_of(pid: int) -> int | None:
    """The CPU-time clock id of process ``pid``, or ``None`` where there is none."""
    if not _HAS_CPU_CLOCK:
        return None
    clock = ctypes.c_int()
    if _libc.clock_getcpuclockid(pid, ctypes.byref(clock)) != 0:
        return None
    return clock.value


def rss_bytes(pid: int) -> int:
    """Resident memory of ``pid`` in bytes (0 if it is gone)."""
    try:
        with open(f"/proc/{pid}/statm", "rb") as statm:
            return int(statm.read().split()[1]) * _PAGE
    except (OSError, ValueError, IndexError):
        try:
            return psutil.Process(pid).memory_info().rss
        except psutil.Error:
            return 0


def private_bytes(pid: int) -> int:
    """Memory ``pid`` holds alone (pages no other process maps), in bytes (0 if gone)."""
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as rollup:
            private = 0
            for line in rollup:
                if line.startswith(b"Private_"):
                    private += int(line.split()[1]) * 1024
            return private
    except (OSError, ValueError, IndexError):
        try:
            return psutil.Process(pid).memory_full_info().uss
        except (psutil.Error, AttributeError):
            return rss_bytes(pid)


def threads_in_stat(stat: bytes) -> int:
    """The thread count in the text of a ``/proc/<pid>/stat`` file."""
    return int(stat.rsplit(b")", 1)[1].split()[17])


def thread_count(pid: int) -> int:
    """Threads of ``pid`` (0 if it is gone): one small read of ``/proc/<pid>/stat``."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            return threads_in_stat(stat.read())
    except (OSError, ValueError, IndexError):
        try:
            return psutil.Process(pid).num_threads()
        except psutil.Error:
            return 0


class ProcFile:
    """A ``/proc`` file kept open and read again with ``pread`` from its start, where
    the kernel writes it afresh: one system call a reading, where ``open()``, a read
    and a close take five or more (about 4 µs against 12 µs on a loaded 2-core VM).
    It stays the file of the process it was opened for, never of a later one that
    reuses the pid: once that process is gone, a reading is None (``stat``) or empty
    (``children``)."""

    def __init__(self, path: str) -> None:
        try:
            self.fd: int | None = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            self.fd = None
        self._close = None if self.fd is None else weakref.finalize(self, os.close, self.fd)

    def read(self) -> bytes | None:
        if self.fd is None:
            return None
        try:
            text = os.pread(self.fd, 65536, 0)
            if len(text) < _SHORT_READ:
                return text
            # The kernel hands a long file over a page at a time (a ``children`` file
            # of some seven hundred processes or more): read on to its end.
            parts = [text]
            while chunk := os.pread(self.fd, 65536, sum(map(len, parts))):
                parts.append(chunk)
            return b"".join(parts)
        except OSError:
            self.close()
            return None

    def close(self) -> None:
        if self._close is not None:
            self._close()
        self.fd = None


def _children(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (any of its threads), as the kernel lists them."""
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return []
    children: list[int] = []
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                children.extend(int(c) for c in f.read().split())
        except OSError:
            continue  # the thread has ended
    return children


@dataclass
class _Member:
    pid: int
    clock: int | None
    #: CPU seconds last read; kept after the process exits so the tree's total holds.
    cpu_s: float = 0.0
    alive: bool = True
    #: A descendant's private memory at its last ``smaps_rollup`` reading (None: not
    #: read yet), its resident memory then, and when that was (``time.monotonic()``).
    private: int | None = None
    rss_then: int = 0
    read_at: float = 0.0

    def read_private(self, now: float) -> None:
        self.rss_then = rss_bytes(self.pid)
        self.private = private_bytes(self.pid)
        self.read_at = now

    def memory(self) -> int:
        """At most what this descendant holds alone: its private memory at the last
        reading plus its resident memory's growth since (its resident memory if unread)."""
        rss = rss_bytes(self.pid)
        if self.private is None:
            return rss
        return min(rss, self.private + max(0, rss - self.rss_then))

    def read_cpu(self) -> float:
        if not self.alive:
            return self.cpu_s
        try:
            if self.clock is not None:
                self.cpu_s = time.clock_gettime(self.clock)
            else:
                times = psutil.Process(self.pid).cpu_times()
                self.cpu_s = times.user + times.system
        except (OSError, psutil.Error):
            self.alive = False
        return self.cpu_s


@dataclass
class ProcessTree:
    """An environment's process and its descendants (the environment's process group)."""

    root: int
    members: dict[int, _Member] = field(default_factory=dict)
    #: The root's ``stat`` and its main thread's ``children``, kept open: every invoke's
    #: end reads them (:meth:`discover`, :meth:`task_count`).
    _root_stat: ProcFile = field(init=False, repr=False)
    _root_children: ProcFile = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.members[self.root] = _Member(self.root, cpu_clock_of(self.root))
        self._root_stat = ProcFile(f"/proc/{self.root}/stat")
        self._root_children = ProcFile(f"/proc/{self.root}/task/{self.root}/children")

    def refresh(self) -> None:
        """Find processes started since the last refresh (a scan of all of /proc: 1.4 ms of
        CPU on a loaded 2-core VM, against 6 µs for :meth:`discover`)."""
        try:
            children = psutil.Process(self.root).children(recursive=True)
        except psutil.Error:
            return
        for child in children:
            if child.pid not in self.members:
                self.members[child.pid] = _Member(child.pid, cpu_clock_of(child.pid))

    def discover(self) -> int:
        """:meth:`refresh`, reading only the tree's own ``/proc/<pid>/task/*/children``
        files rather than scanning all of ``/proc`` (for a small tree, a few reads: cheap
        enough for every invoke's end). A kernel without those files gets :meth:`refresh`.
        Returns the tree's processes and threads (:meth:`task_count`), counted with the
        same reading of the root's ``stat``."""
        root_threads = self._root_threads()
        if self._root_children.fd is None:
            self.refresh()
            return root_threads + self._descendant_threads()
        stack = [self.root]
        while stack:
            for child in self._children_of(stack.pop(), root_threads):
                if child not in self.members:
                    self.members[child] = _Member(child, cpu_clock_of(child))
                stack.append(child)
        return root_threads + self._descendant_threads()

    def _children_of(self, pid: int, root_threads: int) -> list[int]:
        """:func:`_children`, from the kept file when ``pid`` is a single-threaded root
        (a runtime that started no threads: its main thread is its only parent)."""
        if pid == self.root and root_threads == 1:
            listed = self._root_children.read()
            if listed is not None:
                return [int(child) for child in listed.split()]
        return _children(pid)

    def _root_threads(self) -> int:
        stat = self._root_stat.read()
        return 0 if stat is None else threads_in_stat(stat)

    def cpu_seconds(self) -> float:
        """CPU time the tree has used (user + system, every thread), in seconds."""
        return sum(member.read_cpu() for member in self.members.values())

    def memory(self, limit: int) -> tuple[int, bool]:
        """The tree's memory, each page counted once (see the module's docstring), in
        bytes, and whether that is known: an estimate over ``limit`` is not, until every
        descendant's reading is fresh (a few more calls, for a large tree)."""
        estimate = self._estimate()
        if estimate <= limit:
            return estimate, True
        now = time.monotonic()
        stale = sorted(
            (m for m in self._descendants() if m.private is None or now - m.read_at > PRIVATE_FRESH_S),
            key=lambda m: m.read_at,
        )
        if not stale:
            return estimate, True
        for member in stale[:PRIVATE_READS_PER_CALL]:
            member.read_private(now)
        return self._estimate(), len(stale) <= PRIVATE_READS_PER_CALL

    def _descendants(self) -> list[_Member]:
        return [m for m in self.members.values() if m.alive and m.pid != self.root]

    def _estimate(self) -> int:
        return rss_bytes(self.root) + sum(m.memory() for m in self._descendants())

    def task_count(self) -> int:
        """Processes and threads together: what AWS's 1024 processes/threads limit counts."""
        return self._root_threads() + self._descendant_threads()

    def _descendant_threads(self) -> int:
        return sum(thread_count(m.pid) for m in self._descendants())
