"""lambdalab's built-in isolation backend: each execution environment is a forked process.

Registered through the ``lambdalab`` entry point group, exactly like a third-party
plugin. Environments are forked from a preloaded fork server
(:mod:`lambdalab.runtime.forkserver`), so a cold start costs a ``fork()``; each one has
its own process group, working directory, ``/tmp`` (``TMPDIR``) and environment
variables, and talks to the core over a pipe of length-prefixed frames.

What this backend does not do is enforce memory or CPU limits; the ``limited`` backend
adds those.
"""

from __future__ import annotations

import asyncio
import math
import os
import select
import signal
import threading
import time
from typing import Callable

from lambdalab.plugin import ForkServer, hookimpl, limits
from lambdalab.plugin import runtime_protocol as protocol
from lambdalab.plugin import (
    ClosingGuard,
    EnvironmentSpec,
    InitOutcome,
    InvokeOutcome,
    InvokeRequest,
)

__version__ = "0.1.0"

_POLL_IN = select.POLLIN | select.POLLHUP | select.POLLERR
#: How long either end polls for the other before it sleeps (0: neither spins), where
#: a spin can pay (:class:`~lambdalab.runtime.protocol.SpinPolicy`).
SPIN_S = protocol.SPIN_S
#: The longest log line kept (one CloudWatch Logs event); the rest of a line is dropped.
LINE_MAX_BYTES = limits.LOG_EVENT_MAX_BYTES
#: Characters of log lines an invoke may pile up before they are handed to the log store.
SPILL_BYTES = 1024 * 1024


#: One item per invoke of this process whose answer is waited for now, on an event loop
#: or on a thread (``append``, ``pop`` and ``len`` are each atomic under the interpreter
#: lock): with more than one, another answer, or the requests behind it, may be ready,
#: and a spin would hold them up, or hold the interpreter lock their thread needs.
_WAITING: list[None] = []


def core_busy() -> bool:
    """Whether other work of this process would wait while an invoke is awaited: other
    invokes (:data:`_WAITING` counts this one), on an event loop or on threads, or
    other clients' requests arriving (:data:`~lambdalab.runtime.protocol.CROWDED`).
    Then neither end spins: the core does not spin for the answer
    (:meth:`SubprocessEnvironment._spin`), and the runtime, told so in the event, does
    not spin for its next one after answering. A spin would take a CPU, or the
    interpreter lock, that this work needs."""
    return len(_WAITING) > 1 or protocol.CROWDED.get()


class _LogReader:
    """Collects complete lines from an environment's log pipe.

    A line is kept up to one log event (:data:`~lambdalab.limits.LOG_EVENT_MAX_BYTES`);
    the rest of a longer one is dropped as it arrives. With a ``spill`` (set by the
    invoker for the length of an invoke), lines are handed over every
    :data:`SPILL_BYTES` instead of waiting in memory for :meth:`take`.
    """

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.open = True
        self._partial = b""
        self.lines: list[str] = []
        self._size = 0  # characters in ``lines``
        self.spill: Callable[[list[str]], None] | None = None

    def drain(self) -> None:
        while self.open:
            try:
                chunk = os.read(self.fd, 65536)
            except BlockingIOError:
                return
            if not chunk:
                self.open = False
                return
            self._add(chunk)
            if len(chunk) < 65536:
                return  # the pipe is empty now: no read just to be told so

    def _add(self, chunk: bytes) -> None:
        *complete, last = chunk.split(b"\n")
        if complete:
            complete[0] = (self._partial + complete[0])[:LINE_MAX_BYTES]
            self._partial = b""
            lines = [line.decode("utf-8", "replace") for line in complete]
            self.lines.extend(lines)
            self._size += sum(map(len, lines))
        if len(self._partial) < LINE_MAX_BYTES:  # past it, the line's rest is dropped
            self._partial = (self._partial + last)[:LINE_MAX_BYTES]
        if self.spill is not None and self._size >= SPILL_BYTES:
            lines, self.lines, self._size = self.lines, [], 0
            self.spill(lines)

    def take(self) -> list[str]:
        """Every line read so far, including an unterminated last one."""
        if self._partial:
            self.lines.append(self._partial.decode("utf-8", "replace"))
            self._partial = b""
        lines, self.lines, self._size = self.lines, [], 0
        return lines


#: The public name other sandbox plugins use (``lambdalab_runtimes``).
LogReader = _LogReader


class _Watch:
    """An event loop's readers on an environment's two pipes, kept between invokes.

    Adding and removing them for every invoke cost a large share of the edge's CPU per
    warm invoke (``epoll_ctl`` calls and, on uvloop, a handle and two ``fcntl`` calls
    each time), so they stay. A wake-up with no invoke waiting (the answer to a
    blocking invoke on another thread, a crash's end of file, a line printed between
    invokes) takes them off; the next invoke on the loop puts them back.

    So does one timer, for the awaited invoke's timeout and ticks: an invoke moves its
    deadline on, and the timer, when it fires early for an invoke that already
    answered, is set again for the deadline then current. A timer made and cancelled
    for every invoke cost more than the rare early wake-up.
    """

    def __init__(
        self, loop: asyncio.AbstractEventLoop, frames: protocol.FrameReader, log: _LogReader
    ) -> None:
        self.loop = loop
        self.frames = frames
        self.conn_fd = frames.fd
        self.log = log
        #: The future of the invoke waiting for its answer, if one is.
        self.waiter: asyncio.Future[str | None] | None = None
        #: When (``loop.time()``) the awaited invoke times out, and its next tick is due.
        self._deadline = 0.0
        self._tick_at = math.inf
        self._ticker: Callable[[], float] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self.active = True
        self._log_watched = log.open
        self._polls = {fd: select.poll() for fd in (self.conn_fd, log.fd)}
        for fd, poll in self._polls.items():
            poll.register(fd, _POLL_IN)
        loop.add_reader(self.conn_fd, self._answer)
        # From here on the frame pipe is non-blocking (uvloop makes a watched fd so
        # anyway): the reader reads the answer without a poll to ask whether it is
        # there, and a read or write that would block waits as a blocking one does
        # (FrameReader, write_all).
        os.set_blocking(self.conn_fd, False)
        if log.open:
            loop.add_reader(log.fd, self._log_ready)

    def expect(
        self, timeout: float, first_tick: float | None, ticker: Callable[[], float]
    ) -> asyncio.Future[str | None]:
        """The future of the answer to the invoke just sent: its result is None when the
        answer has come, ``"timeout"`` after ``timeout`` seconds; ``ticker`` is called
        from ``first_tick`` seconds on (see ``SubprocessEnvironment._await_frame``)."""
        loop = self.loop
        now = loop.time()
        self.waiter = waiter = loop.create_future()
        self._deadline = now + timeout
        self._ticker = ticker
        self._tick_at = math.inf if first_tick is None else now + first_tick
        self._arm(min(self._deadline, self._tick_at))
        return waiter

    def _arm(self, when: float) -> None:
        timer = self._timer
        if timer is None or timer.when() > when:
            if timer is not None:
                timer.cancel()
            self._timer = self.loop.call_at(when, self._due)

    def _due(self) -> None:
        self._timer = None
        waiter = self.waiter
        if waiter is None or waiter.done():
            return  # the next invoke sets the timer again
        now = self.loop.time()
        if now >= self._deadline:
            waiter.set_result("timeout")
            return
        if now >= self._tick_at and self._ticker is not None:
            self._tick_at = now + self._ticker()
        self._arm(min(self._deadline, self._tick_at))

    def _answer(self) -> None:
        waiter = self.waiter
        if waiter is None:
            # Not ours to read: a blocking invoke on another thread may be reading it.
            if self._readable(self.conn_fd):
                self.stop()
        elif not waiter.done() and self.frames.read_ready():
            waiter.set_result(None)

    def _log_ready(self) -> None:
        if self.waiter is None:
            if self._readable(self.log.fd):
                self.stop()
            return
        self.log.drain()
        if not self.log.open:
            self.loop.remove_reader(self.log.fd)
            self._log_watched = False

    def _readable(self, fd: int) -> bool:
        """Whether ``fd`` has something to read now: a loop may run a callback for a
        readiness it saw before the last invoke read its answer (a removed reader's
        would have been cancelled)."""
        return bool(self._polls[fd].poll(0))

    def stop(self) -> None:
        """Take the readers off (on the loop's thread)."""
        if not self.active:
            return
        self.active = False
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self.loop.remove_reader(self.conn_fd)
        if self._log_watched:
            self.loop.remove_reader(self.log.fd)
            self._log_watched = False

    def release(self, close: Callable[[], None]) -> None:
        """Take the readers off, then ``close`` the pipes: a loop must not keep a closed
        fd, whose number the next pipe or socket reuses. From another thread while the
        loop runs, both happen on the loop's thread."""
        loop = self.loop
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if not self.active or loop.is_closed() or running is loop or not loop.is_running():
            if self.active and not loop.is_closed():
                self.stop()
            close()
            return

        def on_loop() -> None:
            self.stop()
            close()

        try:
            loop.call_soon_threadsafe(on_loop)
        except RuntimeError:  # closed meanwhile: its readers went with it
            close()


class SubprocessEnvironment:
    """One execution environment: a forked process serving one invoke at a time."""

    @property
    def log_spill(self) -> Callable[[list[str]], None] | None:
        """Where log lines go during an invoke before it ends (the invoker sets it)."""
        return self._log.spill

    @log_spill.setter
    def log_spill(self, sink: Callable[[list[str]], None] | None) -> None:
        self._log.spill = sink

    def __init__(self, spec: EnvironmentSpec, server: ForkServer) -> None:
        #: Held by every ``destroy`` of the class chain: two threads may destroy one
        #: environment at once (an invoke that lost it, the lab closing), and a second
        #: close of its pipes would close whatever file has their numbers by then.
        self.destroying = threading.RLock()
        self.spec = spec
        self._server = server
        server.start()  # a one-off cost of the lab, not of this cold start
        started = time.perf_counter()
        self._conn, log_fd = server.spawn(self.spawn_message())
        self._frames = protocol.FrameReader(self._conn.fileno())
        self._log = _LogReader(log_fd)
        self._poll = select.poll()
        self._poll.register(self._conn.fileno(), _POLL_IN)
        self._poll.register(log_fd, _POLL_IN)
        self._exit: str | None = None
        self._watch: _Watch | None = None
        self._pipes = ClosingGuard()
        #: When the core busy-waits for this runtime's answers.
        self.spin_policy = protocol.SpinPolicy(spin_s=SPIN_S)
        #: Until when (``time.monotonic()``) the runtime polls for its next invoke.
        self.spin_until = 0.0
        limit = time.monotonic() + limits.INIT_TIMEOUT_S
        hello, reason = self._await_frame(limits.INIT_TIMEOUT_S)
        self.pid = self.spin_policy.peer_pid = protocol.unpack(hello)[0]["pid"] if hello else 0
        frame = None
        if hello is not None:
            frame, reason = self._await_frame(limit - time.monotonic())
        duration_ms = (time.perf_counter() - started) * 1000
        self.init = InitOutcome(duration_ms=duration_ms)
        if frame is None:
            self._log.drain()
            self.init.timed_out = reason == "timeout"
            if self.init.timed_out:
                self.destroy()
            self.init.error = init_failure(
                None if self.init.timed_out else self._exit_reason()
            )
        else:
            header, _ = protocol.unpack(frame)
            self.init.error = header.get("error")
            self.init.max_memory_used_mb = header.get("max_mb", 0)
        self.init.log_lines = self._log.take()

    def spawn_message(self) -> dict[str, object]:
        """What the fork server is sent to start this environment (a subclass adds to it)."""
        return _spawn_message(self.spec)

    def _await_frame(
        self, timeout: float, first_tick: float | None = None
    ) -> tuple[bytes | None, str | None]:
        """The environment's next frame, or why none came (``"timeout"``, ``"crash"``).

        With ``first_tick`` (seconds), :attr:`ticker` is called then, and again as many
        seconds later as it returns, while the wait lasts: a backend that enforces limits
        does its readings there, on this thread, instead of on a thread of its own.
        """
        if taken := self._buffered() or self._spin(first_tick):
            return taken
        now = time.monotonic()
        deadline = now + timeout
        tick_at = deadline if first_tick is None else now + first_tick
        while True:
            if now >= deadline:
                return None, "timeout"
            if now >= tick_at:
                tick_at = now + self.ticker()
            ready = self._poll.poll((min(deadline, tick_at) - now) * 1000)
            if ready and (taken := self._take(ready, first_tick)):
                return taken
            now = time.monotonic()

    def _buffered(self) -> tuple[bytes, None] | None:
        """A frame already read with the one before (INIT's two can come in one read),
        after what the runtime printed before sending it."""
        if not self._frames.buffered:
            return None
        self._log.drain()
        return self._frames.read(), None

    def _spin(self, first_tick: float | None) -> tuple[bytes | None, str | None] | None:
        """A short busy-wait for the answer: a tiny handler answers within it, and the
        core does not pay to be put to sleep and woken again (only where that can pay:
        :class:`~lambdalab.runtime.protocol.SpinPolicy`). Log lines seen meanwhile are
        read; None if no answer came (or a tick is due first). Never while other work
        would wait for it (:func:`core_busy`): other invokes of this process, on an
        event loop (their answers and the requests behind them) or on threads (the
        interpreter lock); nor while other clients' requests may be arriving on this
        event loop (:data:`~lambdalab.runtime.protocol.CROWDED`)."""
        spin_s = self.spin_policy.spin_s
        if first_tick is not None and first_tick <= spin_s:
            return None  # a tick comes first
        if core_busy():
            return None
        if not self.spin_policy.should_spin():
            return None
        poll, spin_until = self._poll.poll, time.monotonic() + spin_s
        while time.monotonic() < spin_until:
            ready = poll(0)
            if ready and (taken := self._take(ready, first_tick)):
                self.spin_policy.caught()
                return taken
        self.spin_policy.missed()
        return None

    def _take(
        self, ready: list[tuple[int, int]], first_tick: float | None
    ) -> tuple[bytes | None, str | None] | None:
        """Read what ``poll`` found: log lines, and the answer if it is there (else None).

        The runtime writes its log lines before its answer: when the answer is there, so
        are they, and the log pipe was reported ready with it.
        """
        answer = False
        for fd, _ in ready:
            if fd == self._log.fd:
                self._log.drain()
                if not self._log.open:
                    self._poll.unregister(fd)
            else:
                answer = True
        return self._read_answer(first_tick) if answer else None

    def _read_answer(self, first_tick: float | None) -> tuple[bytes | None, str | None]:
        """The answer, which has begun to arrive (or ``"crash"`` if the pipe closed)."""
        if first_tick is not None:
            self.answering()
        try:
            return self._frames.read(), None
        except (EOFError, OSError):
            return None, "crash"

    def ticker(self) -> float:
        """Called while an invoke runs when ``first_tick`` asked for it; returns the
        seconds until the next call (a limit-enforcing subclass overrides it)."""
        return 3600.0

    def deliver(self, framed: bytes) -> None:
        """Send the runtime an invoke, a frame with its length prefix
        (:func:`~lambdalab.runtime.protocol.framed_request`; a subclass that froze the
        environment thaws it)."""
        protocol.write_all(self._frames.fd, framed)

    def answering(self) -> None:
        """The answer has begun to arrive and is read to its end without more ticks: a
        subclass that may have stopped the environment lets it finish writing."""

    def invoke(self, request: InvokeRequest) -> InvokeOutcome:
        return self.run_invoke(request, None)

    async def invoke_async(self, request: InvokeRequest) -> InvokeOutcome:
        """:meth:`invoke` on an event loop: the answer is awaited, no thread waits for it."""
        return await self.run_invoke_async(request, None)

    def run_invoke(self, request: InvokeRequest, first_tick: float | None) -> InvokeOutcome:
        """One invoke, calling :meth:`ticker` from ``first_tick`` seconds on while it runs."""
        if not self._pipes.enter():
            return destroyed_before(self.init, self._exit_reason())
        _WAITING.append(None)
        try:
            started = self._send(request)
            frame, reason = self._await_frame(request.timeout_s, first_tick)
            return self._outcome(frame, reason, started)
        finally:
            _WAITING.pop()
            if self._pipes.leave():
                self._close()

    async def run_invoke_async(
        self, request: InvokeRequest, first_tick: float | None
    ) -> InvokeOutcome:
        if not self._pipes.enter():
            return destroyed_before(self.init, self._exit_reason())
        try:
            _WAITING.append(None)
            try:
                started = self._send(request)
                frame, reason = await self._await_frame_async(request.timeout_s, first_tick)
            finally:
                _WAITING.pop()
            return self._outcome(frame, reason, started)
        finally:
            if self._pipes.leave():
                self._close()

    def _send(self, request: InvokeRequest) -> float:
        """Send the runtime its invoke; when that was (``perf_counter``)."""
        framed = protocol.framed_request(
            request.request_id, request.invoked_function_arn, request.deadline_ms,
            request.client_context, request.cognito_identity, request.payload, request.trace_id,
            core_busy(),
        )
        started = time.perf_counter()
        try:
            self.deliver(framed)
        except OSError:
            pass  # it died between invokes; the wait for its answer reports how
        return started

    async def _await_frame_async(
        self, timeout: float, first_tick: float | None
    ) -> tuple[bytes | None, str | None]:
        """:meth:`_await_frame` on the running event loop: readers on the two pipes
        and a timer for the timeout and the ticks (kept from one invoke to the next,
        :class:`_Watch`)."""
        # Holding the loop for a spin that pays costs less than sleeping and waking
        # (never while other invokes are awaited: see :meth:`_spin`).
        taken = self._buffered() or self._spin(first_tick)
        if taken:
            return taken
        watch, kept = self._watching(asyncio.get_running_loop())
        done = watch.expect(timeout, first_tick, self.ticker)
        try:
            reason = await done
        finally:
            watch.waiter = None
            if not kept:
                watch.stop()
        if reason is not None:
            return None, reason
        # No drain here: the runtime writes its lines before its answer, so the log
        # pipe was ready when the answer was, and the loop ran its reader (which
        # drains it) before it resumed this coroutine.
        return self._read_answer(first_tick)

    def _watching(self, loop: asyncio.AbstractEventLoop) -> tuple[_Watch, bool]:
        """This environment's readers on ``loop``, and whether they stay after the
        invoke: not while readers of another live loop are still on the pipes (only
        that loop's thread may take them off, or :meth:`destroy`)."""
        watch = self._watch
        if watch is not None and watch.active and watch.loop is loop:
            return watch, True
        if watch is not None and watch.active and not watch.loop.is_closed():
            return _Watch(loop, self._frames, self._log), False
        self._watch = _Watch(loop, self._frames, self._log)
        return self._watch, True

    def _outcome(self, frame: bytes | None, reason: str | None, started: float) -> InvokeOutcome:
        """What the backend reports: the answer, or how the environment was lost."""
        if frame is None:
            elapsed_ms = (time.perf_counter() - started) * 1000
            self._log.drain()
            peak = peak_memory_mb(self.pid)
            if reason == "timeout":
                self.destroy()
            return InvokeOutcome(
                status=reason or "crash",
                payload=b"",
                duration_ms=elapsed_ms,
                log_lines=self._log.take(),
                max_memory_used_mb=peak or self.init.max_memory_used_mb,
                exit_reason=self._exit_reason(),
            )
        status, duration_ms, max_mb, self.spin_until, body = protocol.unpack_reply_until(frame)
        return InvokeOutcome(
            status=status,
            payload=body,
            duration_ms=duration_ms,
            log_lines=self._log.take(),
            max_memory_used_mb=max_mb,
        )

    def _exit_reason(self) -> str:
        """How the process ended, once the fork server has reaped it."""
        if self._exit is None:
            status = self._server.exit_status(self.pid) if self.pid else None
            self._exit = status or "signal: killed"
        return self._exit

    def destroy(self) -> None:
        with self.destroying:
            if self.pid and self._exit is None:
                try:
                    os.killpg(self.pid, signal.SIGKILL)
                except OSError:
                    pass
                self._exit_reason()  # wait until it is gone, not just signalled
            if self._pipes.close_now():  # else the invoke under way closes them
                self._close()

    def _close(self) -> None:
        """Close the pipes (once: :class:`ClosingGuard` said so); on the loop's thread
        where a loop watches them, once its readers are off."""
        watch, self._watch = self._watch, None
        if watch is not None:
            watch.release(self._close_pipes)
        else:
            self._close_pipes()

    def _close_pipes(self) -> None:
        self._log.open = False
        self._conn.close()
        os.close(self._log.fd)


def destroyed_before(init: InitOutcome, exit_reason: str) -> InvokeOutcome:
    """The outcome of an invoke of an environment destroyed (by another thread) before
    it began: lost, without a descriptor of it touched."""
    return InvokeOutcome(status="crash", payload=b"", duration_ms=0.0, log_lines=[],
                         max_memory_used_mb=init.max_memory_used_mb, exit_reason=exit_reason)


def init_failure(exit_reason: str | None) -> dict[str, str]:
    """AWS's error for an INIT that never finished: the runtime exited (``exit_reason``
    says how) or, when there is no exit reason, INIT ran over its time limit."""
    if exit_reason is None:
        return {
            "errorType": "Runtime.InitTimeout",
            "errorMessage": f"Init phase exceeded the {limits.INIT_TIMEOUT_S} s limit",
        }
    return {
        "errorType": "Runtime.ExitError",
        "errorMessage": f"Runtime exited during init: {exit_reason}",
    }


def peak_memory_mb(pid: int) -> int:
    """Peak resident memory of a live process (Linux's VmHWM), or 0 if unknown."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return -(-int(line.split()[1]) // 1024)
    except (OSError, ValueError):
        pass
    return 0


def _spawn_message(spec: EnvironmentSpec) -> dict[str, object]:
    return {
        "handler": spec.handler,
        "task_root": spec.task_root,
        "tmp_dir": spec.tmp_dir,
        "environ": dict(spec.environ),
        "spin_s": SPIN_S,
        "core_pid": os.getpid(),
    }


class SubprocessBackend:
    """Starts environments as forked processes of one preloaded fork server."""

    name = "subprocess"

    def __init__(self, preload: tuple[str, ...] = ("boto3",)) -> None:
        self._server = ForkServer(preload)

    def start(self, spec: EnvironmentSpec) -> SubprocessEnvironment:
        return SubprocessEnvironment(spec, self._server)

    def prepare(self) -> None:
        """Start the fork server and its preloads now, not at the first cold start."""
        self._server.start()

    def close(self) -> None:
        self._server.close()


@hookimpl
def lambdalab_sandbox_backends() -> list[type]:
    return [SubprocessBackend]
