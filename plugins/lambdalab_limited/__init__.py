"""lambdalab's resource-limited isolation backend: ``subprocess`` plus Lambda's limits.

A Python function's environment is a forked process, exactly as in the ``subprocess``
backend (this backend builds on it); a ``provided.*`` or ``nodejs*.x`` function's is a
runtime process behind the Runtime API, as in the ``runtime-api`` backend
(:mod:`lambdalab_limited.runtime_api`). Either way, in addition:

* **CPU share = memory / 1769 MB of a vCPU**, on the environment's whole process tree:
  a closed loop stops the tree when it has run ahead of its share, and a share over one
  vCPU also gets that many whole cores by CPU affinity (:mod:`lambdalab_limited.governor`);
* **memory**: the tree's resident memory is watched during each invoke; crossing the
  memory size kills the environment, and the invoke fails as AWS reports it:
  ``Runtime.OutOfMemory`` / ``Runtime exited with error: signal: killed``, with ``Max
  Memory Used`` at the limit. The next invoke gets a fresh environment;
* **frozen between invokes**: after an invoke the tree is stopped (``SIGSTOP``) and
  continued when the next invoke arrives, as Lambda freezes an execution environment
  (https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtime-environment.html), so a
  background thread makes no progress between invokes (a Python runtime freezes itself
  when it finds no next invoke; a Runtime API runtime is frozen when it asks for the
  next event and none is waiting);
* **further limits** (https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html):
  1024 open files (``RLIMIT_NOFILE``) and, for ``/tmp``, no file larger than the
  function's ephemeral storage (``RLIMIT_FSIZE``), set in the child before the runtime
  imports the handler (or is exec'ed), so INIT runs limited too; and at most 1024 processes and
  threads in the environment's tree: where it is confined (below), the kernel refuses
  the 1025th with ``EAGAIN`` (``RLIMIT_NPROC`` of the environment's own user, see
  :mod:`lambdalab_limited.users`); elsewhere the governor counts them and kills an
  environment over the cap (see :mod:`lambdalab_limited.governor`);
* **confined** where lambdalab runs as root (:func:`privileges_dropped`): every
  environment, of every runtime, runs as a user of its own in its own mount namespace
  (read-only ``/var/task``, a private ``/tmp``, its layers or nothing at ``/opt``, a
  ``/proc`` that lists only its own processes: see
  ``lambdalab.runtime.forkserver.sandbox``); a forked Python environment also in a PID
  namespace of its own (``lambdalab.runtime.forkserver.PidNamespaces``).

Each invoke's outcome carries the CPU time the tree used and its peak memory.
"""

from __future__ import annotations

import functools
import itertools
import os
import subprocess
import sys
import threading
import time
import weakref
from typing import TYPE_CHECKING

import psutil

from lambdalab.plugin import EnvironmentSpec, InitOutcome, InvokeOutcome, InvokeRequest
from lambdalab.plugin import hookimpl, limits
from lambdalab.plugin import runtime_protocol as protocol
from lambdalab_subprocess import SubprocessBackend, SubprocessEnvironment

from .governor import Governor, Usage, cores_for, cpu_share
from .users import SANDBOX_GID, SANDBOX_UID, SandboxUser

__version__ = "0.1.0"

MIB = 1024 * 1024
#: An event up to this size is sent whole to a frozen runtime (a socket pair holds it);
#: of a larger one, this much is sent before the runtime is thawed to read the rest.
PIPE_HOLDS = 64 * 1024
#: An event sent this long before the runtime's poll ends is surely seen by it (a late
#: one, even so, is caught by the governor's first tick, which continues the tree).
SPIN_MARGIN_S = 0.00005
#: The errorType AWS's runtimes report when a function ran out of memory.
OUT_OF_MEMORY = "Runtime.OutOfMemory"
#: How Lambda words the exit of a process its out-of-memory killer ended.
KILLED = "signal: killed"
#: What the function's log says when its environment went over the processes/threads cap.
TOO_MANY_TASKS_LOG = (
    f"lambdalab: the environment ran more than {limits.PROCESSES_AND_THREADS_MAX} "
    "processes and threads (Lambda's limit) and was stopped"
)


#: Set to 0 to run forked Python environments as lambdalab's own user even where they
#: could be confined (see :func:`privileges_dropped`).
CONFINE_VARIABLE = "LAMBDALAB_CONFINE"

#: Run in a child of its own: can this process make what :func:`confine` makes?
_NAMESPACE_PROBE = """
import ctypes, ctypes.util, os
libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
assert libc.unshare(0x00020000 | 0x20000000) == 0, os.strerror(ctypes.get_errno())
assert libc.mount(b"none", b"/", None, 16384 | (1 << 18), None) == 0, os.strerror(ctypes.get_errno())
assert libc.mount(b"tmpfs", b"/tmp", b"tmpfs", 6, b"size=1m") == 0, os.strerror(ctypes.get_errno())
assert libc.mount(b"proc", b"/proc", b"proc", 14, b"hidepid=2") == 0, os.strerror(ctypes.get_errno())
"""


@functools.cache
def _namespaces_refused() -> str | None:
    """Why the kernel refuses a mount namespace (a container without ``CAP_SYS_ADMIN``,
    a seccomp or AppArmor profile), or None: asked once, of a short-lived child."""
    try:
        probe = subprocess.run(
            [sys.executable, "-c", _NAMESPACE_PROBE],
            capture_output=True, text=True, timeout=30, env={},
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"cannot probe for mount namespaces: {e}"
    if probe.returncode != 0:
        last = (probe.stderr.strip().splitlines() or ["refused"])[-1]
        return f"the kernel refuses a mount or PID namespace: {last}"
    return None


def confinement_unavailable() -> str | None:
    """Why environments cannot be confined on this host, or None if they can: it takes
    Linux, root (to unshare a mount namespace and change user), and a kernel that lets
    this process make a mount namespace and a PID namespace, and mount in it."""
    if not sys.platform.startswith("linux"):
        return "not Linux"
    if os.geteuid() != 0:
        return "lambdalab does not run as root"
    return _namespaces_refused()


def privileges_dropped() -> bool:
    """Whether environments (forked Python ones and Runtime API runtimes alike) run
    unprivileged, as ``sbx_user1051`` does on AWS, each as a user of its own, in their
    own mount namespace (``/var/task`` read-only, a private ``/tmp``, layers or nothing
    read-only at ``/opt``, their own ``/proc``): wherever the host allows it, unless
    ``LAMBDALAB_CONFINE=0`` turns it off."""
    return os.environ.get(CONFINE_VARIABLE) != "0" and confinement_unavailable() is None


def machine_cpus() -> list[int]:
    """The CPUs this process may use (all of them where affinity is unknown)."""
    if hasattr(os, "sched_getaffinity"):
        return sorted(os.sched_getaffinity(0))
    return list(range(os.cpu_count() or 1))


def rlimits_for(spec: EnvironmentSpec) -> dict[str, int]:
    """The resource limits an environment runs under, by ``resource.RLIMIT_<name>``."""
    return {
        "NOFILE": limits.FILE_DESCRIPTORS_MAX,
        "FSIZE": spec.ephemeral_storage * MIB,
    }


def out_of_memory(outcome: InvokeOutcome, memory_size: int) -> InvokeOutcome:
    """The outcome of an invoke whose environment was killed for using too much memory."""
    return InvokeOutcome(
        status="crash",
        payload=b"",
        duration_ms=outcome.duration_ms,
        log_lines=outcome.log_lines,
        max_memory_used_mb=memory_size,
        exit_reason=KILLED,
        error_type=OUT_OF_MEMORY,
        cpu_time_ms=outcome.cpu_time_ms,
    )


def too_many_tasks(outcome: InvokeOutcome) -> InvokeOutcome:
    """The outcome of an invoke whose environment was killed for running too many tasks."""
    return InvokeOutcome(
        status="crash",
        payload=b"",
        duration_ms=outcome.duration_ms,
        log_lines=outcome.log_lines + [TOO_MANY_TASKS_LOG],
        max_memory_used_mb=outcome.max_memory_used_mb,
        exit_reason=KILLED,
        cpu_time_ms=outcome.cpu_time_ms,
    )


class Governed:
    """What both limited environments share: the governor's life, and what an invoke's
    usage means for its outcome. Mixed in before the environment class it limits, which
    provides ``spec``, ``pid``, ``init``, ``run_invoke`` and ``destroy``."""

    spec: EnvironmentSpec
    pid: int
    init: InitOutcome
    share: float
    cores: list[int]
    governor: Governor | None
    user: SandboxUser | None
    destroying: threading.RLock

    if TYPE_CHECKING:

        def run_invoke(
            self, request: InvokeRequest, first_tick: float | None
        ) -> InvokeOutcome: ...

    def _limit(self, cpus: list[int], first_core: int) -> None:
        """Choose the share and cores, and the user it runs as where it is confined
        (before the environment starts)."""
        self.share = cpu_share(self.spec.memory_size, len(cpus))
        self.cores = cores_for(self.share, cpus, first_core)
        self.governor = None
        self.user = SandboxUser() if privileges_dropped() else None
        if self.user is not None:
            weakref.finalize(self, self.user.release)

    def confinement(self) -> dict[str, int] | None:
        """What confines the environment (its user and ``/tmp`` size), or None."""
        if self.user is None:
            return None
        return {"uid": self.user.uid, "gid": SANDBOX_GID, "tmp_mb": self.spec.ephemeral_storage}

    def child_rlimits(self) -> dict[str, int]:
        """The environment's resource limits; a confined one, the only one of its user,
        also meets Lambda's processes/threads cap as ``EAGAIN`` from the kernel."""
        rlimits = rlimits_for(self.spec)
        if self.user is not None:
            rlimits["NPROC"] = limits.PROCESSES_AND_THREADS_MAX
        return rlimits

    def destroy(self) -> None:
        """Destroy the environment (its processes are gone after this), then give its
        user back."""
        with self.destroying:
            super().destroy()  # type: ignore[misc]  # the environment class's, mixed in after
            if self.user is not None:
                self.user.release()

    def _govern(self) -> None:
        """INIT is over: fail it if it was already over the limits, else start governing."""
        if self.init.error is not None or not self.pid:
            return
        if self.init.max_memory_used_mb > self.spec.memory_size:
            self._init_out_of_memory()
            return
        self._confine()
        self.governor = Governor(
            self.pid, self.share, len(self.cores), self.spec.memory_size * MIB
        )
        if self.governor.tree.task_count() > limits.PROCESSES_AND_THREADS_MAX:
            self._init_too_many_tasks()

    def _confine(self) -> None:
        """Pin every thread of the new environment to its cores."""
        if not hasattr(os, "sched_setaffinity"):
            return
        for tid in psutil.Process(self.pid).threads():
            try:
                os.sched_setaffinity(tid.id, self.cores)
            except OSError:
                pass

    def _init_out_of_memory(self) -> None:
        self.destroy()
        self.init.max_memory_used_mb = self.spec.memory_size
        self.init.error = {
            "errorType": OUT_OF_MEMORY,
            "errorMessage": f"Runtime exited with error: {KILLED}",
        }

    def _init_too_many_tasks(self) -> None:
        self.destroy()
        self.init.log_lines.append(TOO_MANY_TASKS_LOG)
        self.init.error = {
            "errorType": "Runtime.ExitError",
            "errorMessage": f"Runtime exited with error: {KILLED}",
        }

    # -- invoking ---------------------------------------------------------------------

    def invoke(self, request: InvokeRequest) -> InvokeOutcome:
        governor = self.governor
        if governor is None:
            return self.run_invoke(request, None)
        outcome = self.run_invoke(request, governor.begin())
        return self._account(outcome, governor.end())

    def _account(self, outcome: InvokeOutcome, usage: Usage) -> InvokeOutcome:
        """The invoke's outcome with the CPU and memory it used; an environment that went
        over its memory size or task cap is destroyed and the outcome says so."""
        outcome.cpu_time_ms = usage.cpu_time_ms
        outcome.max_memory_used_mb = max(
            outcome.max_memory_used_mb, -(-usage.peak_rss_bytes // MIB)
        )
        if self._ran_out_of_memory(outcome, usage):
            self.destroy()
            return out_of_memory(outcome, self.spec.memory_size)
        if usage.too_many_tasks:
            self.destroy()
            return too_many_tasks(outcome)
        return outcome

    def ticker(self) -> float:
        assert self.governor is not None
        return self.governor.tick()

    def _ran_out_of_memory(self, outcome: InvokeOutcome, usage: Usage) -> bool:
        """Killed by the governor, or a peak the runtime saw between two of its readings."""
        if usage.out_of_memory:
            return True
        return outcome.status != "timeout" and outcome.max_memory_used_mb > self.spec.memory_size


class LimitedEnvironment(Governed, SubprocessEnvironment):
    """A forked Python environment held to its function's CPU share and memory size."""

    def __init__(
        self, spec: EnvironmentSpec, backend: "LimitedBackend", first_core: int
    ) -> None:
        self.spec = spec
        self._limit(backend.cpus, first_core)
        super().__init__(spec, backend.server)
        self._govern()

    def spawn_message(self) -> dict[str, object]:
        """The ``subprocess`` spawn message plus the limits the child sets before INIT,
        and that it freezes itself when idle (with no spin where the share binds: the
        spin's CPU would be charged to it)."""
        message: dict[str, object] = {
            **super().spawn_message(),
            "rlimits": self.child_rlimits(),
            "contain": True,
            "freeze_when_idle": True,
        }
        confinement = self.confinement()
        if confinement is not None:
            message["confine"] = confinement
        if self.share < 1 - 1e-9:  # even one thread is held back: the spin would count
            message["spin_s"] = 0.0
        return message

    async def invoke_async(self, request: InvokeRequest) -> InvokeOutcome:
        """:meth:`invoke` on an event loop (the governor ticks from loop timers)."""
        governor = self.governor
        if governor is None:
            return await self.run_invoke_async(request, None)
        outcome = await self.run_invoke_async(request, governor.begin())
        return self._account(outcome, governor.end())

    def deliver(self, framed: bytes) -> None:
        """Send the event, then thaw: the runtime, continued, finds it waiting (and one
        continued for nothing freezes itself again). Of an event larger than the pipe
        holds, the part it holds is sent first, then the runtime is thawed to read the
        rest as it comes. A runtime still polling for it (its last answer said until
        when) needs no signal, and one in debt is left frozen for the first tick,
        due at once, which continues it when its share has paid."""
        governor = self.governor
        if governor is None:
            return super().deliver(framed)
        if len(framed) > PIPE_HOLDS:
            data = memoryview(framed)
            protocol.write_all(self._frames.fd, data[:PIPE_HOLDS])
            governor.resume()
            protocol.write_all(self._frames.fd, data[PIPE_HOLDS:])
            return
        super().deliver(framed)
        if not governor.in_debt and time.monotonic() > self.spin_until - SPIN_MARGIN_S:
            governor.resume()

    def answering(self) -> None:
        """The answer is being read to its end without ticks: let it be written."""
        if self.governor is not None:
            self.governor.release()


# The Runtime API environment builds on the classes above.
from .runtime_api import LimitedRuntimeApiEnvironment  # noqa: E402


class LimitedBackend(SubprocessBackend):
    """Environments held to Lambda's CPU share, memory size and limits: forked ones for
    Python, Runtime API ones for ``provided.*`` and ``nodejs*.x``."""

    name = "limited"
    #: The runtimes this backend runs: all of lambdalab's.
    runtimes: tuple[str, ...] = limits.PYTHON_RUNTIMES + limits.PROVIDED_RUNTIMES + limits.NODEJS_RUNTIMES

    def __init__(self, preload: tuple[str, ...] = ("boto3",)) -> None:
        super().__init__(preload)
        self.cpus = machine_cpus()
        self._next_core = itertools.count()
        self._lock = threading.Lock()
        #: Runtime API environments, destroyed on close (forked ones die with the server).
        self._runtime_api: weakref.WeakSet[LimitedRuntimeApiEnvironment] = weakref.WeakSet()

    @property
    def server(self):  # type: ignore[no-untyped-def]
        """The fork server environments are forked from (shared with ``subprocess``'s design)."""
        return self._server

    # Not only SubprocessEnvironments: limited also runs the Runtime API runtimes, and the
    # Lab sees every backend through the SandboxBackend protocol, never this base class.
    def start(  # type: ignore[override]
        self, spec: EnvironmentSpec
    ) -> LimitedEnvironment | LimitedRuntimeApiEnvironment:
        with self._lock:
            first_core = next(self._next_core) % len(self.cpus)
        if spec.runtime in limits.PYTHON_RUNTIMES:
            return LimitedEnvironment(spec, self, first_core)
        env = LimitedRuntimeApiEnvironment(spec, self.cpus, first_core)
        self._runtime_api.add(env)
        return env

    def prepare(self) -> None:
        """The fork server, and the probe for confinement (a short-lived child that tries
        a mount and a PID namespace), before the first cold start needs them."""
        privileges_dropped()
        super().prepare()

    def close(self) -> None:
        for env in list(self._runtime_api):
            env.destroy()
        super().close()


def host_notes() -> list[str]:
    """Which of the sandbox's protections apply on this host (``lambdalab plugins``)."""
    notes = [
        "memory (each page counted once), CPU share, freeze, 1024 open files: on",
    ]
    if sys.platform.startswith("linux"):
        notes.append(
            "descendants kept in the environment (setsid/setpgid are no-ops, orphans "
            "reparent to it, it dies with the fork server): on"
        )
    else:
        notes.append("descendants that call setsid() escape the limits: not Linux")
    unavailable = confinement_unavailable()
    if unavailable is not None:
        notes.append(
            f"unprivileged user, read-only /var/task, private /tmp, own /opt, "
            f"PID namespace: unavailable ({unavailable})"
        )
        notes.append(_KILLED_OVER_THE_CAP)
    elif privileges_dropped():
        notes.append(
            f"handlers (Python, Node.js, provided.*) run as a user of their own "
            f"(uid {SANDBOX_UID} or above), /var/task read-only, private /tmp of the "
            f"ephemeral storage size, layers (or nothing) read-only at /opt: on "
            f"({CONFINE_VARIABLE}=0 turns it off)"
        )
        notes.append(
            f"the {limits.PROCESSES_AND_THREADS_MAX + 1}th process or thread fails with "
            "EAGAIN inside the handler (RLIMIT_NPROC of the environment's own user): on"
        )
        notes.append(
            "handlers (Python, Node.js, provided.*) in a PID namespace of their own "
            "(pid 2; no host pid reachable): on"
        )
    else:
        notes.append(
            f"unprivileged user, read-only /var/task, private /tmp, own /opt, "
            f"PID namespace: off ({CONFINE_VARIABLE}=0; handlers run as root)"
        )
        notes.append(_KILLED_OVER_THE_CAP)
    return notes


#: How the task cap holds where environments are not confined.
_KILLED_OVER_THE_CAP = (
    f"more than {limits.PROCESSES_AND_THREADS_MAX} processes and threads kill the "
    "environment (the kernel cannot refuse them without a user of its own)"
)


@hookimpl
def lambdalab_sandbox_backends() -> list[type]:
    return [LimitedBackend]
