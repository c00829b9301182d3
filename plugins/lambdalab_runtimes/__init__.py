"""lambdalab's Runtime API backend: runtimes beyond Python, in any language.

Each execution environment of a ``provided.al2023`` / ``provided.al2`` function is a
process started from the ``bootstrap`` executable at the code root; of a ``nodejs*.x``
function, lambdalab's Node.js runtime client (``node_runtime.js``, shipped here) on the
machine's ``node``. Either way the process gets a clean environment (the function's
variables and AWS's, plus ``AWS_LAMBDA_RUNTIME_API``), the code root as working
directory and its own process group, and speaks the Lambda Runtime API
(:mod:`lambdalab.sandbox.runtime_api`) to a server on loopback that serves only it.

* INIT ends when the runtime first asks for an event (``/invocation/next``); it fails
  when the runtime posts ``/init/error``, exits, or runs over the INIT time limit.
* Each invoke hands the event to the waiting ``/next`` and waits for ``/response`` or
  ``/error``, for the timeout (the process group is killed) or for the process to exit
  (a crash, with AWS's exit reason: ``exit status 1``, ``signal: killed``).
* Whatever the process writes to stdout and stderr is the function's log.

The core picks this backend by itself for those runtimes (see :attr:`RuntimeApiBackend.runtimes`).
Like the ``subprocess`` backend, it does not enforce memory or CPU limits; the
``limited`` backend runs the same environments under Lambda's limits, through the
hooks :class:`RuntimeApiEnvironment` leaves for that (``child_setup``, ``idle``,
``ticker``).
"""

from __future__ import annotations

import os
import select
import shutil
import signal
import subprocess
import threading
import time
import weakref
from pathlib import Path
from typing import Callable

from lambdalab.plugin import ClosingGuard, EnvironmentSpec, InitOutcome, InvokeOutcome, InvokeRequest
from lambdalab.plugin import PidNamespaces, RuntimeApiServer, describe_status, first_child
from lambdalab.plugin import hookimpl, limits, runtime_init
from lambdalab_subprocess import LogReader, destroyed_before, init_failure, peak_memory_mb

__version__ = "0.1.0"

#: lambdalab's Node.js runtime client: loads ``file.export`` handlers, speaks the Runtime API.
NODE_RUNTIME = Path(__file__).with_name("node_runtime.js")
_POLL_IN = select.POLLIN | select.POLLHUP | select.POLLERR
_INVALID_ENTRYPOINT = "Runtime.InvalidEntrypoint"
#: How long INIT may take before the environment is killed (AWS: 10 s).
INIT_TIMEOUT_S = limits.INIT_TIMEOUT_S


class EntrypointError(Exception):
    """The runtime could not be started: AWS's ``Runtime.InvalidEntrypoint``."""


def command_for(spec: EnvironmentSpec) -> list[str]:
    """The process that is the function's runtime."""
    if spec.runtime in limits.NODEJS_RUNTIMES:
        node = shutil.which("node")
        if node is None:
            raise EntrypointError(
                "node was not found on the PATH of lambdalab; install Node.js to run "
                f"{spec.runtime} functions"
            )
        return [*exec_wrapper(spec), node, str(NODE_RUNTIME)]
    bootstrap = os.path.join(spec.task_root, "bootstrap")
    if not os.path.isfile(bootstrap):
        raise EntrypointError(f"Couldn't find valid bootstrap(s): [{bootstrap} /opt/bootstrap]")
    return [bootstrap]


def exec_wrapper(spec: EnvironmentSpec) -> list[str]:
    """``AWS_LAMBDA_EXEC_WRAPPER``: a script that starts a managed runtime, given the
    runtime's command as its arguments (OS-only runtimes ignore it, as on AWS).
    ``/var/task/…`` names a file of the function's code.
    https://docs.aws.amazon.com/lambda/latest/dg/runtimes-modify.html#runtime-wrapper
    """
    wrapper = spec.environ.get("AWS_LAMBDA_EXEC_WRAPPER")
    if not wrapper:
        return []
    if wrapper.startswith("/var/task/") and not os.path.exists(wrapper):
        wrapper = os.path.join(spec.task_root, wrapper[len("/var/task/"):])
    return [wrapper]  # one that cannot run is Runtime.InvalidEntrypoint "fork/exec …"


def environ_for(spec: EnvironmentSpec, runtime_api: str) -> dict[str, str]:
    environ = {**spec.environ, "AWS_LAMBDA_RUNTIME_API": runtime_api}
    if spec.runtime in limits.PROVIDED_RUNTIMES:
        environ.pop("AWS_EXECUTION_ENV", None)  # OS-only runtimes do not set it on AWS
    return environ


class RuntimeApiEnvironment:
    """One execution environment: a runtime process and its Runtime API server."""

    def __init__(self, spec: EnvironmentSpec) -> None:
        #: Held by every ``destroy`` of the class chain (see ``SubprocessEnvironment``).
        self.destroying = threading.RLock()
        self.spec = spec
        self.pid = 0
        #: In a PID namespace of its own, where its init tells how the runtime ended.
        self._status_r = -1
        self._exit: str | None = None
        self._destroyed = False
        self._pipes = ClosingGuard()  # the log and bell pipes
        self._bell_r, self._bell_w = os.pipe()
        #: Guards ``_bell_w``: the watcher and the API's threads ring it, maybe as it closes.
        self._bell_lock = threading.Lock()
        os.set_blocking(self._bell_r, False)
        os.set_blocking(self._bell_w, False)
        self._api = RuntimeApiServer(notify=self._ring, idle=self.idle)
        log_r, log_w = os.pipe()
        os.set_blocking(log_r, False)
        self._log = LogReader(log_r)
        self._poll = select.poll()
        self._poll.register(self._bell_r, _POLL_IN)
        self._poll.register(log_r, _POLL_IN)
        self._watcher: threading.Thread | None = None
        started = time.perf_counter()
        try:
            self._spawn(log_w)
            reason = self._wait(
                lambda: self._api.state.initialized or self._api.state.init_error is not None,
                INIT_TIMEOUT_S,
            )
            error = self._api.state.init_error
            if reason is not None:
                error = init_failure(None if reason == "timeout" else self._exit_reason())
        except EntrypointError as e:
            reason, error = "crash", {"errorType": _INVALID_ENTRYPOINT, "errorMessage": str(e)}
        finally:
            os.close(log_w)
        self._log.drain()
        self.init = InitOutcome(
            duration_ms=(time.perf_counter() - started) * 1000,
            log_lines=self._log.take(),
            error=error,
            timed_out=reason == "timeout",
            max_memory_used_mb=peak_memory_mb(self.pid),
        )
        if error is not None:
            self.destroy()

    def _spawn(self, log_w: int) -> None:
        command, environ = self.launch()
        setup, namespaces = self.child_setup(), self.pid_namespaces()
        if namespaces is not None and not namespaces.unshare():
            os.close(namespaces.fd)  # the kernel refuses one: among the host's processes
            namespaces = None
        status_w = -1
        if namespaces is not None:
            self._status_r, status_w = os.pipe()
            setup = runtime_init(setup, status_w)
        try:
            proc = subprocess.Popen(
                command,
                env=environ,
                cwd=self.spec.task_root,
                stdin=subprocess.DEVNULL,
                stdout=log_w,
                stderr=log_w,
                start_new_session=True,  # its own process group: the tree dies together
                preexec_fn=setup,
            )
        except BaseException as e:
            self._close_status()
            if not isinstance(e, OSError):
                raise
            # not executable, no interpreter, not a program
            raise EntrypointError(
                f"fork/exec {command[0]}: {os.strerror(e.errno or 0).lower()}"
            ) from None
        finally:
            if namespaces is not None:
                namespaces.leave()
                os.close(namespaces.fd)
                os.close(status_w)
        # in a namespace, the runtime is the init's child (0: it has ended already)
        self.pid = proc.pid if namespaces is None else first_child(proc.pid) or 0
        self._watcher = threading.Thread(
            target=self._watch, args=(proc,), name=f"lambdalab-runtime-{proc.pid}", daemon=True
        )
        self._watcher.start()

    def _close_status(self) -> None:
        if self._status_r >= 0:
            os.close(self._status_r)
            self._status_r = -1

    def pid_namespaces(self) -> PidNamespaces | None:
        """The means to start the runtime in a PID namespace of its own, as pid 2 under
        an init (:func:`~lambdalab.plugin.runtime_init`); ``None``: among
        the host's processes (a confining subclass gives one)."""
        return None

    def launch(self) -> tuple[list[str], dict[str, str]]:
        """The runtime's command and environment (a subclass that confines the runtime
        renames the host's folders in them to those the runtime sees)."""
        return command_for(self.spec), environ_for(self.spec, self._api.address)

    def child_setup(self) -> Callable[[], None] | None:
        """What the child runs between ``fork()`` and ``exec()``, so the runtime starts
        under it (a limit-enforcing subclass sets its limits there); ``None``: nothing."""
        return None

    def idle(self) -> None:
        """Called when the runtime asks for an event and none is waiting, from the
        Runtime API's thread, and again as an invoke ends if the runtime is already back
        waiting (a subclass that freezes idle environments does it here)."""

    def submitted(self) -> None:
        """Called when an invoke's event has been handed to the Runtime API (a subclass
        that froze the runtime in :meth:`idle` makes sure it runs to take it)."""

    def ticker(self) -> float:
        """Called while an invoke runs when ``first_tick`` asked for it; returns the
        seconds until the next call (a limit-enforcing subclass overrides it)."""
        return 3600.0

    def _watch(self, proc: subprocess.Popen[bytes]) -> None:
        """Wait for the runtime process (or its namespace's init, which passes on how the
        runtime ended) to end; record how, and wake the core."""
        _, status = os.waitpid(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        if self._status_r >= 0:
            passed = os.read(self._status_r, 64)
            self._close_status()
            status = int(passed or status)
        self._exit = describe_status(status)
        self._ring()

    def _ring(self) -> None:
        with self._bell_lock:
            if self._bell_w < 0:
                return  # the environment is gone: the number may be another file's now
            try:
                os.write(self._bell_w, b"\0")
            except OSError:
                pass  # already ringing

    def _wait(
        self, done: Callable[[], bool], timeout: float, first_tick: float | None = None
    ) -> str | None:
        """Wait until ``done()``; else ``"crash"`` or ``"timeout"``. Reads the log meanwhile.

        With ``first_tick`` (seconds), :meth:`ticker` is called then, and again as many
        seconds later as it returns, while the wait lasts (as ``SubprocessEnvironment``
        does while it awaits a frame).
        """
        now = time.monotonic()
        deadline = now + timeout
        tick_at = deadline if first_tick is None else now + first_tick
        while not done():
            if self._exit is not None:
                return "crash"
            now = time.monotonic()
            if now >= deadline:
                return "timeout"
            if now >= tick_at:
                tick_at = now + self.ticker()
            for fd, _ in self._poll.poll((min(deadline, tick_at) - now) * 1000):
                if fd == self._log.fd:
                    self._log.drain()
                    if not self._log.open:
                        self._poll.unregister(fd)
                else:
                    try:
                        while os.read(self._bell_r, 4096):
                            pass
                    except BlockingIOError:
                        pass
        return None

    def invoke(self, request: InvokeRequest) -> InvokeOutcome:
        return self.run_invoke(request, None)

    def run_invoke(self, request: InvokeRequest, first_tick: float | None) -> InvokeOutcome:
        """One invoke, calling :meth:`ticker` from ``first_tick`` seconds on while it runs."""
        if not self._pipes.enter():
            return destroyed_before(self.init, self._exit_reason())
        try:
            return self._run_invoke(request, first_tick)
        finally:
            if self._pipes.leave():
                self._close_pipes()

    def _run_invoke(self, request: InvokeRequest, first_tick: float | None) -> InvokeOutcome:
        started = time.perf_counter()
        self._api.state.submit(request)
        self.submitted()
        reason = self._wait(self._api.state.answered, request.timeout_s, first_tick)
        if self._api.state.idle_now():
            # Back in /next before this thread saw the answer: idle() ran then, but a
            # ticker() since may have undone it (limited's governor continues the group).
            self.idle()
        duration_ms = (time.perf_counter() - started) * 1000
        peak = peak_memory_mb(self.pid) or self.init.max_memory_used_mb
        if reason is not None:
            if reason == "timeout":
                self.destroy()
            self._log.drain()
            return InvokeOutcome(
                status=reason,
                payload=b"",
                duration_ms=duration_ms,
                log_lines=self._log.take(),
                max_memory_used_mb=peak,
                exit_reason=self._exit_reason(),
            )
        answer = self._api.state.take_answer()
        self._log.drain()
        return InvokeOutcome(
            status=answer.status,
            payload=answer.body,
            duration_ms=duration_ms,
            log_lines=self._log.take(),
            max_memory_used_mb=peak,
        )

    def _exit_reason(self) -> str:
        if self._watcher is not None:
            self._watcher.join(timeout=2)
        return self._exit or "signal: killed"

    def destroy(self) -> None:
        with self.destroying:
            if self._destroyed:
                return
            self._destroyed = True
            if self.pid:
                try:
                    os.killpg(self.pid, signal.SIGKILL)  # in a namespace, its init then exits
                except OSError:
                    pass
                self._exit_reason()  # wait until it is gone, not just signalled
            self._api.close()
            if self._pipes.close_now():  # else the invoke under way closes them
                self._close_pipes()

    def _close_pipes(self) -> None:
        self._log.drain()
        self._log.open = False
        with self._bell_lock:
            for fd in (self._log.fd, self._bell_r, self._bell_w):
                os.close(fd)
            self._bell_w = -1


class RuntimeApiBackend:
    """Starts ``provided.*`` and ``nodejs*.x`` environments behind the Runtime API."""

    name = "runtime-api"
    #: The runtimes this backend runs; the core chooses it for them unless a function
    #: names another sandbox or the lab's default sandbox runs them too (``limited``).
    runtimes = limits.PROVIDED_RUNTIMES + limits.NODEJS_RUNTIMES

    def __init__(self, preload: tuple[str, ...] = ()) -> None:
        self._environments: weakref.WeakSet[RuntimeApiEnvironment] = weakref.WeakSet()

    def start(self, spec: EnvironmentSpec) -> RuntimeApiEnvironment:
        env = RuntimeApiEnvironment(spec)
        self._environments.add(env)
        return env

    def close(self) -> None:
        for env in list(self._environments):
            env.destroy()


@hookimpl
def lambdalab_sandbox_backends() -> list[type]:
    return [RuntimeApiBackend]
