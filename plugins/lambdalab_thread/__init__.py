"""lambdalab's ``thread`` backend: Python handlers in the lab's own process, for debuggers.

.. warning::

   This backend gives up isolation and limits, on purpose. Use it to step through a
   handler with a debugger (``breakpoint()``, an IDE's breakpoints), never to learn how
   Lambda behaves:

   * the handler runs on a thread of the lab's process: it shares the interpreter, the
     imported modules, the working directory and ``/tmp`` with the lab and with every
     other function;
   * during an invoke the function's environment variables are laid over the lab's
     ``os.environ`` (which every thread sees); once no handler runs, the lab's
     environment is put back as it was, with whatever the handlers set taken away;
     ``PATH`` and the like stay the lab's;
   * invokes run side by side on their threads, so two functions invoked at the same
     time see each other's variables; INIT has no time limit;
   * a timeout is reported, but the thread cannot be stopped: it runs on in the
     background (its function's variables stay in ``os.environ`` until it ends);
     ``os._exit()`` in a handler ends the whole lab;
   * no memory or CPU limits; ``Max Memory Used`` is the lab process's peak;
   * output printed by the handler goes to the function's log *and* to the terminal
     (so a debugger's prompt stays visible).

The Python runtime's own code loads the handler and runs each invoke
(``lambdalab.runtime.bootstrap``), so errors, the context and log lines are the
same as in the ``subprocess`` backend. Choose it per function
(``create_function(..., sandbox="thread")``) or for the lab
(``Lab(default_sandbox="thread")``).
"""

from __future__ import annotations

import os
import sys
import threading
import time
from contextlib import contextmanager
from typing import Any, Callable, Iterator, TextIO

from lambdalab.plugin import EnvironmentSpec, InitOutcome, InvokeOutcome, InvokeRequest
from lambdalab.plugin import hookimpl, static_fields
from lambdalab.plugin import runtime_bootstrap as bootstrap
from lambdalab.plugin import runtime_protocol as protocol

__version__ = "0.1.0"

#: Guards the process-wide state this backend changes: os.environ, sys.path, sys.modules.
_LOCK = threading.RLock()
#: The lab's own variables that a function's environment does not replace.
_KEEP = frozenset({"PATH", "LD_LIBRARY_PATH", "PYTHONPATH", "LANG", "TZ", "TMPDIR"})


class _Tee:
    """``sys.stdout``/``sys.stderr`` while this backend is loaded: also collects what
    the thread that is running a handler writes."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.local = threading.local()

    def write(self, text: str) -> int:
        buffer = getattr(self.local, "buffer", None)
        if buffer is not None:
            buffer.append(text)
        return self.stream.write(text)

    def flush(self) -> None:
        self.stream.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)


def _tee(name: str) -> _Tee:
    stream = getattr(sys, name)
    if not isinstance(stream, _Tee):
        stream = _Tee(stream)
        setattr(sys, name, stream)
    return stream


class _Overlay:
    """The function variables laid over ``os.environ`` while handlers run: the first
    handler to start keeps the lab's environment as it was, the last one to end puts it
    back whole. That also undoes what the handlers set themselves (the runtime's
    ``_X_AMZN_TRACE_ID``, a handler's ``os.environ[...] = ...``), so none of it is left in
    the lab's process: botocore there would send ``X-Amzn-Trace-Id`` once it saw both
    ``AWS_LAMBDA_FUNCTION_NAME`` and that variable."""

    def __init__(self) -> None:
        self.running = 0
        self.saved: dict[str, str] = {}

    def enter(self, overlay: dict[str, str]) -> None:
        with _LOCK:
            if not self.running:
                self.saved = dict(os.environ)
            self.running += 1
            os.environ.update(overlay)

    def leave(self) -> None:
        with _LOCK:
            self.running -= 1
            if self.running:
                return
            for key in set(os.environ) - set(self.saved):
                del os.environ[key]
            for key, value in self.saved.items():
                if os.environ.get(key) != value:
                    os.environ[key] = value


_OVERLAY = _Overlay()


@contextmanager
def _as_function(spec: EnvironmentSpec, lines: list[str]) -> Iterator[None]:
    """Lay the function's variables over os.environ and collect its output, then undo."""
    streams = [_tee("stdout"), _tee("stderr")]
    buffer: list[str] = []
    for stream in streams:
        stream.local.buffer = buffer
    _OVERLAY.enter({k: v for k, v in spec.environ.items() if k not in _KEEP})
    try:
        yield
    finally:
        for stream in streams:
            stream.local.buffer = None
        _OVERLAY.leave()
        lines.extend("".join(buffer).splitlines())


def _load(spec: EnvironmentSpec) -> Callable[[Any, Any], Any]:
    """Import the handler from the code root (and its layers); their modules are then
    dropped from ``sys.modules`` so another function (or version) imports its own."""
    before = set(sys.modules)
    roots = [spec.task_root, *bootstrap.layer_paths(spec.environ)]
    sys.path[0:0] = roots
    try:
        return bootstrap.load_handler(spec.handler)
    finally:
        for root in roots:
            sys.path.remove(root)
        for name in set(sys.modules) - before:
            file = getattr(sys.modules[name], "__file__", None) or ""
            if any(file.startswith(root + os.sep) for root in roots):
                del sys.modules[name]


class ThreadEnvironment:
    """An "environment" that is only a loaded handler in the lab's process."""

    def __init__(self, spec: EnvironmentSpec) -> None:
        self.spec = spec
        self._lost = False
        self._static = static_fields(spec.environ)
        lines: list[str] = []
        started = time.perf_counter()
        error = None
        with _as_function(spec, lines):
            try:
                with _LOCK:
                    self._handler = _load(spec)
            except bootstrap.Fault as fault:
                error = bootstrap.make_error(fault.message, fault.error_type, fault.trace)
                bootstrap.log_error(error)
            except SystemExit as exc:  # reported as a runtime process's exit during INIT
                error = {"errorType": "Runtime.ExitError", "errorMessage": "Runtime exited "
                         f"during init: exit status {bootstrap.exit_status(exc)}"}
            except Exception as exc:
                error = bootstrap.error_from_exception(exc, "")
                bootstrap.log_error(error)
        self.init = InitOutcome(
            duration_ms=(time.perf_counter() - started) * 1000,
            log_lines=lines,
            error=error,
            max_memory_used_mb=bootstrap.max_rss_mb(),
        )

    def invoke(self, request: InvokeRequest) -> InvokeOutcome:
        frame = request.runtime_request()
        result: dict[str, Any] = {}
        lines: list[str] = []

        def run() -> None:
            with _as_function(self.spec, lines):
                try:
                    result["reply"] = bootstrap.handle(self._handler, frame, self._static)
                except SystemExit as exc:
                    result["exit"] = f"exit status {bootstrap.exit_status(exc)}"
                except BaseException as exc:  # noqa: BLE001 - reported as the crash it is
                    result["exit"] = f"exit status 1 ({type(exc).__name__})"

        started = time.perf_counter()
        thread = threading.Thread(target=run, name=f"lambdalab-thread-{request.request_id}")
        thread.daemon = True
        thread.start()
        thread.join(request.timeout_s)
        duration_ms = (time.perf_counter() - started) * 1000
        if "reply" in result:
            status, _, max_mb, body = protocol.unpack_reply(result["reply"])
            return InvokeOutcome(status, body, duration_ms, lines, max_mb)
        self._lost = True
        return InvokeOutcome(
            status="crash" if "exit" in result else "timeout",
            payload=b"",
            duration_ms=duration_ms,
            log_lines=list(lines),
            max_memory_used_mb=bootstrap.max_rss_mb(),
            exit_reason=result.get("exit"),
        )

    def destroy(self) -> None:
        pass  # nothing to stop: a timed-out handler's thread cannot be


class ThreadBackend:
    """Runs Python handlers on threads of the lab's process: for debugging only."""

    name = "thread"

    def __init__(self, preload: tuple[str, ...] = ()) -> None:
        pass

    def start(self, spec: EnvironmentSpec) -> ThreadEnvironment:
        return ThreadEnvironment(spec)

    def close(self) -> None:
        pass


@hookimpl
def lambdalab_sandbox_backends() -> list[type]:
    return [ThreadBackend]
