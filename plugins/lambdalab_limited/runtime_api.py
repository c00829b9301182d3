"""Runtime API environments (``provided.*``, ``nodejs*.x``) under Lambda's limits.

The ``runtime-api`` backend's environment (:class:`lambdalab_runtimes.RuntimeApiEnvironment`)
with the limits a Python function gets in this backend, enforced the same way and
reported the same way (the shared part is :class:`lambdalab_limited.Governed`):

* **before exec**: the child that becomes the runtime is confined where lambdalab runs
  as root (``lambdalab.runtime.forkserver.sandbox``: its own user and mount
  namespace, ``/var/task`` read-only, a private ``/tmp``, ``/opt``, its own ``/proc``;
  the command and variables name those paths) and, confined, is pid 2 of a PID
  namespace of its own (:func:`lambdalab.runtime.forkserver.runtime_init`), sets its resource limits (open files,
  file size, and, confined, processes and threads) and its CPU affinity, so INIT, and
  every process the runtime starts, already runs on the cores its memory buys and under
  Lambda's limits; and it is contained
  (:func:`lambdalab.runtime.forkserver.containment`): no descendant can leave its
  process group, and orphans stay in its tree;
* **while an invoke runs**: the thread that waits for the runtime's answer ticks the
  governor, which holds the process group to its CPU share and kills it when it crosses
  the memory size (the invoke then fails with ``Runtime.OutOfMemory``);
* **between invokes**: the process group is stopped (``SIGSTOP``) when the runtime asks
  the Runtime API for its next event and none is waiting. That is the point at which
  Lambda freezes an environment: a runtime says an invoke is complete by asking for the
  next one, and Lambda freezes the environment once every process is done and no event
  is pending (https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtime-environment.html).
  It is continued (``SIGCONT``) when the next event is handed over (or, if its
  function is in debt, when the governor's first tick finds the debt paid), so a
  background job of a bootstrap makes no progress meanwhile.
"""

from __future__ import annotations

import os
import resource
import signal
from typing import Callable

from lambdalab.plugin import EnvironmentSpec, confined_environ, confined_paths, containment
from lambdalab.plugin import PidNamespaces, sandbox

from lambdalab_runtimes import RuntimeApiEnvironment

from . import Governed


def child_limits(
    spec: EnvironmentSpec,
    cores: list[int],
    rlimits: dict[str, int],
    confinement: dict[str, int] | None = None,
) -> Callable[[], None]:
    """A ``preexec_fn`` that puts the child under ``rlimits``, on ``cores``, and, with
    ``confinement``, confines it as a forked Python environment is (its own mount
    namespace, ``/var/task`` read-only, a private ``/tmp``, its layers or nothing at
    ``/opt``, its own unprivileged user: see ``lambdalab.runtime.forkserver.sandbox``).

    It runs in the forked child before ``exec``: only system calls, nothing that could
    wait on a lock another thread of the parent held when it forked.
    """
    limits = [(getattr(resource, f"RLIMIT_{name}"), value) for name, value in rlimits.items()]
    contain = containment()
    enter = None
    if confinement is not None:
        enter = sandbox(confinement, spec.task_root, spec.environ.get("LAMBDALAB_OPT"))

    def setup() -> None:
        if enter is not None:
            enter()
        contain()
        for which, value in limits:
            resource.setrlimit(which, (value, value))
        if hasattr(os, "sched_setaffinity"):
            os.sched_setaffinity(0, cores)

    return setup


class LimitedRuntimeApiEnvironment(Governed, RuntimeApiEnvironment):
    """A Runtime API environment held to its function's CPU share, memory size and limits."""

    def __init__(self, spec: EnvironmentSpec, cpus: list[int], first_core: int) -> None:
        self.spec = spec
        self._limit(cpus, first_core)
        super().__init__(spec)
        self._govern()

    def child_setup(self) -> Callable[[], None]:
        return child_limits(self.spec, self.cores, self.child_rlimits(), self.confinement())

    def pid_namespaces(self) -> PidNamespaces | None:
        """Confined, the runtime is pid 2 of a PID namespace of its own, as a confined
        Python environment is: it sees no host pid, and its ``/proc`` lists only it."""
        return PidNamespaces.open() if self.user is not None else None

    def launch(self) -> tuple[list[str], dict[str, str]]:
        """The runtime's command and environment; confined, with the host's folders
        renamed to ``/var/task``, ``/tmp`` and ``/opt``, as the runtime sees them."""
        command, environ = super().launch()
        if self.user is None:
            return command, environ
        spec, opt = self.spec, environ.get("LAMBDALAB_OPT")
        return (
            confined_paths(command, spec.task_root, spec.tmp_dir, opt),
            confined_environ(environ, spec.task_root, spec.tmp_dir),
        )

    def _confine(self) -> None:
        """Nothing to do: the child took its cores before exec, and its threads and
        processes inherit them."""

    def idle(self) -> None:
        """The runtime waits for an event and none is pending: freeze the process group."""
        self._signal(signal.SIGSTOP)

    def submitted(self) -> None:
        """The event is there: continue the runtime, which may have asked for it, and been
        frozen. (A freeze happens under the Runtime API's lock, so it comes before the
        event is handed over and so before this.) One in debt stays frozen: the first
        tick, due at once, continues it when its share has paid."""
        if self.governor is not None and not self.governor.in_debt:
            self._signal(signal.SIGCONT)

    def _signal(self, sig: signal.Signals) -> None:
        if self.pid and not self._destroyed:  # 0 would be lambdalab's own group
            try:
                os.killpg(self.pid, sig)
            except OSError:
                pass  # already gone: the invoke reports how it ended
