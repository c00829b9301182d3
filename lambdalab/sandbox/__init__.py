"""What an isolation backend receives and returns: the contract between core and sandbox.

A backend (a plugin; see :func:`lambdalab.hookspecs.lambdalab_sandbox_backends`) starts
*execution environments*. The core decides when: it keeps the pool, counts concurrency,
writes START/END/REPORT and formats errors the way AWS shows them. A backend only has to

1. start an environment from an :class:`EnvironmentSpec` and run its INIT
   (import the handler module) – :meth:`SandboxBackend.start`;
2. run one invoke at a time in it – :meth:`ExecutionEnvironment.invoke`;
3. destroy it – :meth:`ExecutionEnvironment.destroy`.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, Mapping, Protocol, runtime_checkable

from ..runtime import protocol


@dataclass(frozen=True)
class EnvironmentSpec:
    """Everything needed to start one execution environment of one function version."""

    function_name: str
    version: str
    runtime: str
    handler: str
    #: The unpacked code (``LAMBDA_TASK_ROOT``); shared, treat as read-only.
    task_root: str
    #: This environment's own writable temporary directory (its ``/tmp``).
    tmp_dir: str
    memory_size: int
    timeout: int
    ephemeral_storage: int
    log_group_name: str
    log_stream_name: str
    #: The complete process environment: AWS's variables plus the function's own.
    environ: Mapping[str, str]


@dataclass(slots=True)  # not frozen: made on every invoke, and a frozen init is 3x slower
class InvokeRequest:
    """One invocation, as the runtime receives it (a backend reads it, and does not
    change it)."""

    request_id: str
    payload: bytes
    invoked_function_arn: str
    #: Epoch milliseconds; ``context.get_remaining_time_in_millis()`` counts down to it.
    deadline_ms: int
    timeout_s: float
    client_context: str | None = None
    cognito_identity: str | None = None
    trace_id: str | None = None

    def runtime_request(self) -> protocol.Request:
        """This invoke as a Python runtime receives it (``runtime_protocol.Request``):
        what a backend hands the runtime's bootstrap, in-process or packed into a frame
        with its ``packed()``."""
        return protocol.Request(
            self.request_id,
            self.invoked_function_arn,
            self.deadline_ms,
            self.client_context,
            self.cognito_identity,
            self.payload,
            self.trace_id,
        )


@dataclass
class InitOutcome:
    """How INIT went: its duration, the lines it logged and the runtime error, if any."""

    duration_ms: float
    log_lines: list[str] = field(default_factory=list)
    #: AWS's error object (errorMessage, errorType, stackTrace) when INIT failed.
    error: dict[str, Any] | None = None
    timed_out: bool = False
    #: Peak memory of the environment at the end of INIT.
    max_memory_used_mb: int = 0


@dataclass
class InvokeOutcome:
    """How one invoke went, reported by the backend to the core."""

    #: ``"ok"``, ``"error"`` (the handler raised; ``payload`` holds AWS's error object),
    #: ``"timeout"`` or ``"crash"`` (the process died; ``exit_reason`` says how).
    status: str
    payload: bytes
    duration_ms: float
    log_lines: list[str] = field(default_factory=list)
    max_memory_used_mb: int = 0
    exit_reason: str | None = None
    #: For a crash: AWS's errorType when it is not ``Runtime.ExitError`` (for example
    #: ``Runtime.OutOfMemory`` when a limit-enforcing backend killed the environment).
    error_type: str | None = None
    #: CPU time the environment's processes used during the invoke, when the backend
    #: measures it (``None`` otherwise).
    cpu_time_ms: float | None = None

    @property
    def environment_lost(self) -> bool:
        """A timeout or crash ends the environment; the next invoke starts a new one."""
        return self.status in ("timeout", "crash")


@runtime_checkable
class ExecutionEnvironment(Protocol):
    """A started environment: INIT has run; it serves one invoke at a time."""

    spec: EnvironmentSpec
    init: InitOutcome

    def invoke(self, request: InvokeRequest) -> InvokeOutcome:
        """Run one invoke to completion, timeout or crash."""
        ...

    def destroy(self) -> None:
        """Stop the environment and everything it started. Called again, it does
        nothing; two threads may call it at once (an invoke that lost the environment,
        the lab closing), so it must also be safe then: a descriptor closed twice may
        close another's file that took its number meanwhile."""
        ...


class ClosingGuard:
    """When an environment's descriptors (its pipes) may be closed: once, and never
    under an invoke that still reads or writes them.

    Two threads may destroy one environment at once (an invoke that lost it, the lab
    closing), and the lab closing destroys environments whose invokes are under way on
    other threads. A descriptor closed twice, or used after its close, is another
    file's by then: the kernel gives the lowest free number to the next pipe, socket or
    file (an event loop that then watches it aborts; a listening socket closed so
    refuses connections). So an invoke :meth:`enter` s and :meth:`leave` s, a destroy
    asks :meth:`close_now`, and the one caller told True closes them.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._users = 0  # invokes using the descriptors now
        self._wanted = False  # a destroy came while they were in use
        self._closed = False  # someone was told to close them

    def enter(self) -> bool:
        """An invoke begins to use the descriptors; False if they are closed (or soon)."""
        with self._lock:
            if self._closed or self._wanted:
                return False
            self._users += 1
            return True

    def leave(self) -> bool:
        """The invoke is done with them. True: close them now (a destroy came meanwhile)."""
        with self._lock:
            self._users -= 1
            if self._users or not self._wanted:
                return False
            self._wanted, self._closed = False, True
            return True

    def close_now(self) -> bool:
        """A destroy wants them closed. True: close them now; False: they are closed
        already, or the invoke under way will be told to as it leaves."""
        with self._lock:
            if self._closed or self._wanted:
                return False
            if self._users:
                self._wanted = True
                return False
            self._closed = True
            return True


@runtime_checkable
class SandboxBackend(Protocol):
    """An isolation backend: starts execution environments."""

    #: The name users choose it by (``Lab(default_sandbox="subprocess")``).
    name: str

    def start(self, spec: EnvironmentSpec) -> ExecutionEnvironment:
        """Start an environment and run its INIT; return it even when INIT failed."""
        ...

    def close(self) -> None:
        """Destroy every environment and stop helper processes."""
        ...

    # Optional: ``prepare(self) -> None``, called (from a thread) when ``lambdalab serve``
    # starts, to start what the first cold start would otherwise wait for (the built-in
    # backends start their fork server and its preloads). Not part of the protocol so that
    # a backend without it stays one.
