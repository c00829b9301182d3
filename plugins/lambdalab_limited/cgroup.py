"""The ``cgroup`` sandbox: ``limited``, with the kernel enforcing the CPU share and freeze.

``limited`` holds an environment to its share of a vCPU with a closed loop that stops and
continues the process tree (:mod:`lambdalab_limited.governor`); it needs no privileges.
Where the host gives writable *control groups* (cgroups), the kernel can do that job
itself, closer to how AWS's hosts do it: Lambda runs each environment in a Firecracker
micro-VM, and Firecracker's ``jailer`` puts each micro-VM's threads in cgroups
(https://github.com/firecracker-microvm/firecracker/blob/main/docs/jailer.md), where
the host's scheduler (CFS) holds them to their share. This backend gives each
environment its own cgroup:

* **CPU share** by CFS bandwidth control: in every ``cpu.cfs_period_us`` the group's
  processes together may run for ``cpu.cfs_quota_us = share × period`` microseconds, then
  the scheduler stops picking them until the next period. The period is
  :data:`PERIOD_US` (20 ms, not the kernel's default 100 ms): a 128 MB function's quota
  is then 1.45 ms, above the kernel's 1 ms minimum quota, and a throttled handler waits
  at most ~19 ms at a time, so short invokes progress smoothly; it is also the
  ``limited`` governor's burst (``BURST_S``), so the two backends burst alike. Whole
  cores are still given by CPU affinity, as in ``limited``. The governor's own
  ``SIGSTOP`` throttling is switched off; it still watches memory and the task count
  every tick.
* **frozen between invokes** by the freezer controller (v1 ``freezer.state``, v2
  ``cgroup.freeze``) instead of ``SIGSTOP``: a frozen process cannot tell it was frozen
  (no ``SIGCHLD`` to its parent, nothing for ``waitpid(WUNTRACED)`` or a debugger to see),
  and a child that left the process group (``setsid``) is frozen too. Freezing is
  asynchronous: the write returns at once and the group is ``FREEZING`` until every task
  has reached the refrigerator; nothing waits for that, since a thaw cancels it.
  The cost: v1's first frozen group on the machine switches on a kernel static key
  (``freezer_active``), a code patch that made each write cost ~130 µs here. The backend
  keeps one empty *anchor* group frozen while it runs, so the key stays on and a freeze
  costs ~3 µs, a thaw ~16 µs (v2's ``cgroup.freeze``: ~12 and ~3 µs). The larger cost
  is elsewhere: the core freezes after *every* invoke, so every warm invoke wakes a
  frozen process, where ``limited``'s runtime spins 0.2 ms for a follow-up before it
  stops itself. Back to back at 1769 MB on a quiet 2-core VM, p50 was 135-160 µs with
  the freezer, 86-98 µs with signals in the same cgroups, 76 µs for ``limited`` and
  60 µs for ``subprocess`` (p90: 230-260 µs with the freezer, 560-620 µs for the
  others, whose spin sometimes ends just before the next invoke). The freezer is kept
  for what it is, the kernel's freeze, invisible to the function, as on AWS;
  ``CgroupBackend(use_freezer=False)`` freezes with signals instead.
* **CPU time per invoke** from the group's ``cpuacct.usage`` (v2: ``cpu.stat``), read
  with one ``pread`` of an open file: every process that ran in the group counts, even a
  child that lived for less than the governor's scan of the tree. Without the cpuacct
  controller the governor's reading of the process tree is kept.

Groups live under a lambdalab-owned parent, ``<controller>/lambdalab/<lab pid>-<n>/``,
one directory per environment (``env-<pid>``). The environment's process is moved into
them after INIT (``cgroup.procs``; its children inherit the group), so INIT runs at full
speed, as it does in ``limited``. Destroying an environment kills every process in its
group, thaws it (a frozen process does not act on ``SIGKILL`` until thawed), and
removes the directories once they are empty. A backend starting up removes the groups
of labs that are no longer running.

Where cgroups cannot be written (not root, no cpu controller mounted, or a cgroup v2
hierarchy without the cpu controller), creating the backend fails before any process
starts, so invoking a function whose sandbox is ``cgroup`` fails with
``InvalidParameterValueException`` (HTTP 400) naming what is missing and suggesting
``limited``: a problem of the host, not of the function's code, so not an INIT error
in the function's log.
"""

from __future__ import annotations

import errno
import itertools
import os
import signal
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path

from lambdalab.plugin import EnvironmentSpec, InvalidParameterValueException, InvokeOutcome
from lambdalab.plugin import InvokeRequest, hookimpl, limits

from . import LimitedBackend, LimitedEnvironment

#: Where the cgroup hierarchies are mounted (``LAMBDALAB_CGROUP_ROOT`` overrides it).
DEFAULT_ROOT = Path("/sys/fs/cgroup")
#: The directory lambdalab owns in each hierarchy.
PARENT = "lambdalab"
#: CFS period (µs): see the module docstring for why 20 ms.
PERIOD_US = 20_000
#: The kernel refuses a quota below 1 ms (``cpu.cfs_quota_us``, ``cpu.max``).
MIN_QUOTA_US = 1_000
#: How long removing a group waits for its killed processes to leave it (seconds).
REMOVE_WAIT_S = 2.0

_backend_ids = itertools.count()


class CgroupUnavailable(InvalidParameterValueException):
    """The host gives no writable cgroup cpu controller: use the ``limited`` sandbox."""

    def __init__(self, missing: str) -> None:
        super().__init__(
            f"Sandbox 'cgroup' cannot run here: {missing}. It needs writable cgroups "
            "(root, with cgroup v1's cpu controller or cgroup v2 with cpu enabled). Use "
            "sandbox 'limited' instead: the same limits, enforced without cgroups."
        )


# -- finding the hierarchies ----------------------------------------------------------


@dataclass(frozen=True)
class Hierarchy:
    """Where lambdalab's groups go: one directory per controller it uses.

    v1 mounts each controller (or a few together, e.g. ``cpu,cpuacct``) as its own
    hierarchy; v2 has one hierarchy with every controller, so all three are the same.
    """

    version: int
    cpu: Path
    cpuacct: Path | None
    freezer: Path | None

    def directories(self) -> list[Path]:
        """Each distinct parent directory, the cpu one first."""
        found: list[Path] = []
        for path in (self.cpu, self.cpuacct, self.freezer):
            if path is not None and path not in found:
                found.append(path)
        return found


def cgroup_mounts(root: Path) -> dict[str, Path]:
    """The cgroup mounts at or under ``root``: v1 controller name (``cpu``,
    ``cpuacct``, ``freezer``…) → mount point, and ``"cgroup2"`` for a v2 hierarchy
    mounted at ``root`` itself (from ``/proc/self/mountinfo``)."""
    found: dict[str, Path] = {}
    try:
        with open("/proc/self/mountinfo") as mountinfo:
            lines = mountinfo.read().splitlines()
    except OSError:
        return found
    for line in lines:
        mine, _, theirs = line.partition(" - ")
        fields, fs = mine.split(), theirs.split()
        if len(fields) < 5 or len(fs) < 3:
            continue
        point = Path(fields[4].encode().decode("unicode_escape"))
        if point != root and root not in point.parents:
            continue
        if fs[0] == "cgroup2" and point == root:
            found["cgroup2"] = point
        elif fs[0] == "cgroup":
            for option in fs[2].split(","):
                found.setdefault(option, point)
    return found


def probe(root: Path) -> Hierarchy:
    """The hierarchies under ``root`` this backend can use, with lambdalab's parent
    directory created in each; :class:`CgroupUnavailable` says what is missing."""
    mounts = cgroup_mounts(root)
    if "cgroup2" in mounts:
        hierarchy = _probe_v2(root)
    elif "cpu" in mounts:
        cpu = mounts["cpu"]
        if not (cpu / "cpu.cfs_quota_us").exists():
            raise CgroupUnavailable(f"{cpu} has no cpu.cfs_quota_us (a kernel without CFS bandwidth control)")
        cpuacct, freezer = mounts.get("cpuacct"), mounts.get("freezer")
        hierarchy = Hierarchy(
            1, cpu / PARENT, cpuacct / PARENT if cpuacct else None, freezer / PARENT if freezer else None
        )
    else:
        raise CgroupUnavailable(
            f"no cgroup v1 cpu controller is mounted under {root}, and {root} is not a "
            "cgroup v2 hierarchy"
        )
    for directory in hierarchy.directories():
        try:
            directory.mkdir(exist_ok=True)
        except OSError as e:
            raise CgroupUnavailable(f"cannot create {directory} ({e.strerror}; cgroups are writable by root only)")
    if hierarchy.version == 2:
        _write(hierarchy.cpu / "cgroup.subtree_control", "+cpu")
        if not (hierarchy.cpu / "cgroup.freeze").exists():  # before Linux 5.2
            hierarchy = replace(hierarchy, freezer=None)
    return hierarchy


def _probe_v2(root: Path) -> Hierarchy:
    controllers = (root / "cgroup.controllers").read_text().split()
    if "cpu" not in controllers:
        raise CgroupUnavailable(f"{root}/cgroup.controllers does not list cpu (it lists: {' '.join(controllers) or 'nothing'})")
    try:
        _write(root / "cgroup.subtree_control", "+cpu")
    except OSError as e:
        raise CgroupUnavailable(f"cannot enable cpu in {root}/cgroup.subtree_control ({e.strerror})")
    parent = root / PARENT
    return Hierarchy(2, parent, parent, parent)


# -- one environment's group ----------------------------------------------------------


class EnvironmentGroup:
    """An environment's directory in each hierarchy, and the files it writes there."""

    def __init__(self, hierarchy: Hierarchy, owner: str, name: str) -> None:
        self.hierarchy = hierarchy
        self.dirs = [parent / owner / name for parent in hierarchy.directories()]
        for directory in self.dirs:
            directory.mkdir()
        v1 = hierarchy.version == 1
        self.cpu = hierarchy.cpu / owner / name
        #: Guards the two descriptors: an invoke on another thread may thaw or read the
        #: group as a destroy removes it, and a number closed under it is another file's
        #: by then (a write of "0" into it, say).
        self._fds = threading.Lock()
        self._freeze_fd = self._usage_fd = -1
        if hierarchy.freezer is not None:
            state = "freezer.state" if v1 else "cgroup.freeze"
            self._freeze_fd = os.open(hierarchy.freezer / owner / name / state, os.O_RDWR)
        if hierarchy.cpuacct is not None:
            usage = "cpuacct.usage" if v1 else "cpu.stat"
            self._usage_fd = os.open(hierarchy.cpuacct / owner / name / usage, os.O_RDONLY)

    @property
    def can_freeze(self) -> bool:
        return self._freeze_fd >= 0

    def limit_cpu(self, share: float) -> None:
        """``share`` vCPUs: a quota of ``share × period`` per :data:`PERIOD_US`."""
        quota = max(MIN_QUOTA_US, round(share * PERIOD_US))
        if self.hierarchy.version == 1:
            _write(self.cpu / "cpu.cfs_period_us", str(PERIOD_US))
            _write(self.cpu / "cpu.cfs_quota_us", str(quota))
        else:
            _write(self.cpu / "cpu.max", f"{quota} {PERIOD_US}")

    def add(self, pid: int) -> None:
        """Move process ``pid`` (all its threads) into the group in every hierarchy."""
        for directory in self.dirs:
            _write(directory / "cgroup.procs", str(pid))

    def freeze(self) -> None:
        """Freeze every process of the group (nothing once it is removed)."""
        with self._fds:
            if self._freeze_fd >= 0:
                os.write(self._freeze_fd, b"FROZEN" if self.hierarchy.version == 1 else b"1")

    def thaw(self) -> None:
        with self._fds:
            if self._freeze_fd >= 0:
                os.write(self._freeze_fd, b"THAWED" if self.hierarchy.version == 1 else b"0")

    def frozen(self) -> bool:
        """Every task is frozen (not just ``FREEZING``: the freeze is asynchronous)."""
        if self.hierarchy.version == 1:
            with self._fds:
                return os.pread(self._freeze_fd, 32, 0).strip() == b"FROZEN"
        return "frozen 1" in (self.dirs[0] / "cgroup.events").read_text()

    def cpu_ns(self) -> int | None:
        """CPU time every process of the group has used, in ns (``None``: no cpuacct,
        or the group is removed)."""
        with self._fds:
            if self._usage_fd < 0:
                return None
            data = os.pread(self._usage_fd, 4096, 0)
        if self.hierarchy.version == 1:
            return int(data)
        usec = data.split(b"\n", 1)[0].split()[1]  # "usage_usec N" comes first
        return int(usec) * 1000

    def pids(self) -> set[int]:
        """Every process in the group, in any hierarchy."""
        return _pids_in(self.dirs)

    def remove(self) -> None:
        """Kill what is left in the group and remove its directories."""
        with self._fds:
            fds, self._freeze_fd, self._usage_fd = (self._freeze_fd, self._usage_fd), -1, -1
            for fd in fds:
                if fd >= 0:
                    os.close(fd)
        remove_group(self.dirs)


def _pids_in(dirs: list[Path]) -> set[int]:
    found: set[int] = set()
    for directory in dirs:
        try:
            found.update(int(p) for p in (directory / "cgroup.procs").read_text().split())
        except OSError:
            pass
    return found


def remove_group(dirs: list[Path]) -> None:
    """Thaw, kill every process in, and remove one group's directories (v1: one per
    hierarchy). A directory is removable only once no process is left in it."""
    for directory in dirs:
        for state, thawed in (("freezer.state", "THAWED"), ("cgroup.freeze", "0")):
            if (directory / state).exists():
                _write(directory / state, thawed)
    deadline = time.monotonic() + REMOVE_WAIT_S
    while pids := _pids_in(dirs):
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        if time.monotonic() > deadline:
            break
        time.sleep(0.001)
    for directory in dirs:
        while True:
            try:
                directory.rmdir()
                break
            except FileNotFoundError:
                break
            except OSError as e:  # EBUSY: a killed process has not left yet
                if e.errno != errno.EBUSY or time.monotonic() > deadline:
                    break
                time.sleep(0.001)


def remove_stale(hierarchy: Hierarchy) -> None:
    """Remove the groups of labs that are no longer running (``<pid>-<n>`` whose pid
    is gone), and everything still in them."""
    for parent in hierarchy.directories():
        try:
            owners = [d for d in parent.iterdir() if d.is_dir()]
        except OSError:
            continue
        for owner in owners:
            pid = owner.name.split("-", 1)[0]
            if not pid.isdigit() or Path(f"/proc/{pid}").exists():
                continue
            for group in [d for d in owner.iterdir() if d.is_dir()]:
                remove_group([group])
            remove_group([owner])


def _write(path: Path, value: str) -> None:
    with open(path, "w") as control:
        control.write(value)


# -- the sandbox ----------------------------------------------------------------------


class CgroupEnvironment(LimitedEnvironment):
    """A ``limited`` environment whose CPU share and freeze the kernel enforces."""

    def __init__(self, spec: EnvironmentSpec, backend: CgroupBackend, first_core: int) -> None:
        self._backend = backend
        self.group: EnvironmentGroup | None = None
        self._final_cpu_ns: int | None = None
        super().__init__(spec, backend, first_core)
        if self.governor is None or self.init.error is not None:
            return  # INIT failed; the environment is gone
        self.governor.throttles = False  # the kernel holds the share; the loop only watches
        self.group = EnvironmentGroup(backend.hierarchy, backend.owner, f"env-{self.pid}")
        self.group.limit_cpu(self.share)
        self.governor.tree.refresh()  # processes INIT started go into the group too
        for pid in self.governor.tree.members:
            try:
                self.group.add(pid)
            except ProcessLookupError:
                pass  # a child of INIT that has exited since
        if self.group.can_freeze:
            self.group.freeze()

    def spawn_message(self) -> dict[str, object]:
        """``limited``'s, but where the freezer freezes the environment the runtime
        does not stop itself, nor spin (the spin would be frozen or charged anyway)."""
        message = super().spawn_message()
        if self._backend.hierarchy.freezer is not None:
            message["freeze_when_idle"] = False
            message["spin_s"] = 0.0
        return message

    def invoke(self, request: InvokeRequest) -> InvokeOutcome:
        group = self.group
        if group is None:
            return super().invoke(request)
        group.thaw()
        before = group.cpu_ns()
        outcome = super().invoke(request)  # the governor watches memory and tasks
        return self._after(group, before, outcome)

    async def invoke_async(self, request: InvokeRequest) -> InvokeOutcome:
        group = self.group
        if group is None:
            return await super().invoke_async(request)
        group.thaw()
        before = group.cpu_ns()
        outcome = await super().invoke_async(request)
        return self._after(group, before, outcome)

    def _after(
        self, group: EnvironmentGroup, before: int | None, outcome: InvokeOutcome
    ) -> InvokeOutcome:
        """The invoke's CPU time from the group's accounting; the group frozen again."""
        after = self._final_cpu_ns if self.group is None else group.cpu_ns()
        if before is not None and after is not None:
            outcome.cpu_time_ms = (after - before) / 1e6
        if self.group is not None and group.can_freeze:
            group.freeze()
        return outcome

    def destroy(self) -> None:
        with self.destroying:
            group, self.group = self.group, None
            if group is not None:
                if self.pid:  # kill first, then thaw: it dies without running again
                    try:
                        os.killpg(self.pid, signal.SIGKILL)
                    except OSError:
                        pass
                group.thaw()
                self._final_cpu_ns = group.cpu_ns()
            super().destroy()
            if group is not None:
                group.remove()


class CgroupBackend(LimitedBackend):
    """``limited`` with the CPU share, the freeze and CPU accounting done by cgroups."""

    name = "cgroup"
    #: Forked Python environments only.
    runtimes = limits.PYTHON_RUNTIMES

    def __init__(
        self,
        preload: tuple[str, ...] = ("boto3",),
        *,
        root: Path | None = None,
        use_freezer: bool = True,
    ) -> None:
        """``root``: where the cgroup hierarchies are mounted (default
        ``LAMBDALAB_CGROUP_ROOT`` or ``/sys/fs/cgroup``). ``use_freezer=False`` freezes
        with signals, as ``limited`` does (for comparing the two)."""
        root = root or Path(os.environ.get("LAMBDALAB_CGROUP_ROOT", DEFAULT_ROOT))
        self.hierarchy = probe(root)  # before anything starts: fail with what is missing
        if not use_freezer:
            self.hierarchy = replace(self.hierarchy, freezer=None)
        remove_stale(self.hierarchy)
        #: This backend's directory name under each ``lambdalab`` parent.
        self.owner = f"{os.getpid()}-{next(_backend_ids)}"
        for parent in self.hierarchy.directories():
            (parent / self.owner).mkdir()
            if self.hierarchy.version == 2:
                _write(parent / self.owner / "cgroup.subtree_control", "+cpu")
        self._anchor: Path | None = None
        if self.hierarchy.version == 1 and self.hierarchy.freezer is not None:
            # Held frozen while the backend runs: keeps the kernel's freezer static key on.
            self._anchor = self.hierarchy.freezer / self.owner / "anchor"
            self._anchor.mkdir()
            _write(self._anchor / "freezer.state", "FROZEN")
        super().__init__(preload)

    def start(self, spec: EnvironmentSpec) -> CgroupEnvironment:
        with self._lock:
            first_core = next(self._next_core) % len(self.cpus)
        return CgroupEnvironment(spec, self, first_core)

    def close(self) -> None:
        super().close()  # the fork server kills every environment it started
        for parent in self.hierarchy.directories():
            owned = parent / self.owner
            for group in [d for d in owned.iterdir() if d.is_dir()] if owned.exists() else []:
                remove_group([group])
            remove_group([owned])


@hookimpl
def lambdalab_sandbox_backends() -> list[type]:
    return [CgroupBackend]
