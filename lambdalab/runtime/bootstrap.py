"""The Python runtime: runs inside an execution environment and loops on invokes.

It behaves like AWS's Python runtime (``awslambdaric``): the same error types and
messages for a module that will not import, a missing handler, an unserialisable result
or a handler exception; the same log line format for the ``logging`` module; the same
context object. It talks to the core over a pipe (see :mod:`.protocol`) instead of the
HTTP Runtime API, because a pipe round trip costs tens of microseconds.

INIT: import the handler module and find the handler, then report ``ready``.
INVOKE: for each request frame, call ``handler(event, context)`` and answer with a
result frame. Anything printed goes to the environment's log pipe (fds 1 and 2).
"""

from __future__ import annotations

import _json
import ctypes
import decimal
import importlib
import json
import logging
import os
import random
import signal
import resource
import select
import sys
import threading
import time
import traceback
from multiprocessing.connection import Connection
from typing import Any, Callable, Mapping

from . import protocol
from .context import LambdaContext, static_fields

#: AWS joins the lines of a multi-line error log event with carriage returns, so the
#: whole traceback stays one log event.
_LINE_JOIN = "\r"
_INDENT = "\u00a0"  # awslambdaric indents stack frames with NO-BREAK SPACE
_current_request_id = ""
#: The longest gap between an answer and the next event that the runtime spins to catch:
#: back to back from a loop (every 50-300 µs here) and from one HTTP client (300-600 µs:
#: the client reads the answer and sends again, the edge parses it); not the gaps of a
#: learner's calls, where a spin would only burn a CPU.
GAP_SPIN_MAX_S = 0.001
#: How much longer than the last gap the spin lasts: the next gap varies.
GAP_SPIN_MARGIN = 1.5


class Fault(Exception):
    """A runtime error with AWS's errorType (``Runtime.ImportModuleError``, …)."""

    def __init__(self, error_type: str, message: str, trace: list[str] | None = None):
        super().__init__(message)
        self.error_type = error_type
        self.message = message
        self.trace = trace or []


def load_handler(handler: str) -> Callable[[Any, Any], Any]:
    """Import ``module.function`` with awslambdaric's errors and messages."""
    try:
        modname, fname = handler.rsplit(".", 1)
    except ValueError as e:
        raise Fault("Runtime.MalformedHandlerName", f"Bad handler '{handler}': {e}")
    if modname.split(".")[0] in sys.builtin_module_names:
        raise Fault(
            "Runtime.BuiltInModuleConflict",
            f"Cannot use built-in module {modname} as a handler module",
        )
    try:
        module = importlib.import_module(modname.replace("/", "."))
    except ImportError as e:
        raise Fault(
            "Runtime.ImportModuleError", f"Unable to import module '{modname}': {e}"
        )
    except SyntaxError as e:
        trace = [f'  File "{e.filename}" Line {e.lineno}\n    {e.text}']
        raise Fault(
            "Runtime.UserCodeSyntaxError",
            f"Syntax error in module '{modname}': {e}",
            trace,
        )
    try:
        return getattr(module, fname)
    except AttributeError:
        raise Fault(
            "Runtime.HandlerNotFound", f"Handler '{fname}' missing on module '{modname}'"
        )


def make_error(
    message: str, error_type: str, trace: list[str], request_id: str = ""
) -> dict[str, Any]:
    return {
        "errorMessage": message,
        "errorType": error_type,
        "requestId": request_id,
        "stackTrace": trace,
    }


def error_from_exception(exc: BaseException, request_id: str) -> dict[str, Any]:
    """AWS's error object for a handler exception; frames of this file are dropped."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename != __file__]
    trace = traceback.format_list(frames)
    return make_error(str(exc), type(exc).__name__, trace, request_id)


def log_error(error: dict[str, Any]) -> None:
    """Write ``[ERROR] Type: message`` and the traceback as one log event (with
    ``AWS_LAMBDA_LOG_FORMAT=JSON``, the error object as one JSON event, as awslambdaric
    writes it: a timestamp to the second, ``level``, then the error's fields)."""
    if os.environ.get("AWS_LAMBDA_LOG_FORMAT", "").upper() == "JSON":
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())
        sys.stdout.write(_ENCODER.encode({"timestamp": stamp, "level": "ERROR", **error}) + "\n")
        sys.stdout.flush()
        return
    lines = [f"[ERROR] {error['errorType']}: {error['errorMessage']}"]
    if error["stackTrace"]:
        lines.append("Traceback (most recent call last):")
        for frame in error["stackTrace"]:
            for line in frame.splitlines():
                stripped = line.lstrip(" ")
                lines.append(_INDENT * (len(line) - len(stripped)) + stripped)
    sys.stdout.write(_LINE_JOIN.join(lines) + "\n")
    sys.stdout.flush()


def _json_default(obj: Any) -> Any:
    if isinstance(obj, decimal.Decimal):
        return int(obj) if obj == obj.to_integral_value() else float(obj)
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")


#: ``json.dumps`` with these options would build an encoder per invoke.
_ENCODER = json.JSONEncoder(default=_json_default, ensure_ascii=False)


class _Encoder(threading.local):
    """``_ENCODER.encode`` without what it redoes on every call (a C encoder made, a
    function defined): the same C encoder (``_json.make_encoder``, which ``json`` uses
    when there is no indent), made once per thread (the ``thread`` backend runs invokes
    side by side), with the dict in which it marks the objects it is inside of, to
    detect circular references."""

    def __init__(self) -> None:
        self.markers: dict[int, Any] = {}
        self.chunks = _json.make_encoder(
            self.markers, _ENCODER.default, _json.encode_basestring, None,
            _ENCODER.key_separator, _ENCODER.item_separator, _ENCODER.sort_keys,
            _ENCODER.skipkeys, _ENCODER.allow_nan,
        )

    def encode(self, result: Any) -> str:
        """``_ENCODER.encode(result)``: the same text and the same errors."""
        try:
            return "".join(self.chunks(result, 0))
        except BaseException:
            self.markers.clear()  # an error leaves marked the objects it was inside of
            raise


_encode = _Encoder().encode


def marshal(result: Any) -> bytes:
    if isinstance(result, bytes):
        return result
    try:
        return _encode(result).encode()
    except (TypeError, ValueError) as e:
        raise Fault("Runtime.MarshalError", f"Unable to marshal response: {e}")


class _RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.aws_request_id = _current_request_id
        return True


#: The attributes every ``LogRecord`` has; the others (``extra=``) join a JSON record.
_RECORD_FIELDS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message", "asctime", "aws_request_id",
}


class JsonFormatter(logging.Formatter):
    """A ``logging`` record as the JSON line AWS's Python runtime writes for a function
    whose ``LogFormat`` is ``JSON`` (awslambdaric's ``JsonFormatter``): ``timestamp``,
    ``level``, ``message``, ``logger``, ``requestId``, an exception's ``stackTrace``,
    ``errorType``, ``errorMessage`` and ``location``, then the record's ``extra`` fields.
    https://docs.aws.amazon.com/lambda/latest/dg/python-logging.html
    """

    def format(self, record: logging.LogRecord) -> str:
        moment = time.gmtime(record.created)
        result: dict[str, Any] = {
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S", moment) + f".{int(record.msecs):03d}Z",
            "level": logging.getLevelName(min(50, max(0, record.levelno)) // 10 * 10),
            "message": record.getMessage(),
            "logger": record.name,
        }
        if record.exc_info and record.exc_info[0] is not None:
            result["stackTrace"] = traceback.format_tb(record.exc_info[2])
            result["errorType"] = record.exc_info[0].__name__
            result["errorMessage"] = str(record.exc_info[1])
        result["requestId"] = getattr(record, "aws_request_id", "")
        if record.exc_info:
            result["location"] = f"{record.pathname}:{record.funcName}:{record.lineno}"
        for key, value in vars(record).items():
            if key not in _RECORD_FIELDS and key not in result and value is not None:
                result[key] = value
        return json.dumps(result, ensure_ascii=False, default=str) + "\n"


def log_level(environ: Mapping[str, str]) -> str | None:
    """The root logger's level from ``AWS_LAMBDA_LOG_LEVEL`` (``TRACE`` is ``DEBUG``:
    ``logging`` has no finer level), as awslambdaric reads it."""
    level = environ.get("AWS_LAMBDA_LOG_LEVEL", "").upper()
    level = "DEBUG" if level == "TRACE" else level
    return level if level in logging._nameToLevel else None


def setup_logging() -> None:
    """The root logger's handler and format, as AWS's Python runtime sets them."""
    logging.Formatter.converter = time.gmtime
    handler = logging.StreamHandler(sys.stdout)
    handler.terminator = ""
    if os.environ.get("AWS_LAMBDA_LOG_FORMAT", "").upper() == "JSON":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(
            logging.Formatter(
                "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s\n",
                "%Y-%m-%dT%H:%M:%S",
            )
        )
    handler.addFilter(_RequestIdFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    level = log_level(os.environ)
    if level is not None:
        root.setLevel(level)


#: A fresh X-Ray trace header: the time in the root, then a 96-bit random id; a 64-bit
#: random id as parent. As bytes: the environment holds bytes, and the runtime makes one
#: for nearly every invoke.
_FRESH_HEADER = b"Root=1-%08x-%024x;Parent=%016x;Sampled=0"


def fresh_trace_header() -> bytes:
    """A fresh X-Ray trace header for one invoke, which AWS's runtime puts in
    ``_X_AMZN_TRACE_ID`` ("changes with each invocation", configuration-envvars.html)."""
    # ``random`` makes no system call, and reseeds in a forked child.
    return _FRESH_HEADER % (int(time.time()), random.getrandbits(96), random.getrandbits(64))


def trace_header() -> str:
    """:func:`fresh_trace_header` as text."""
    return fresh_trace_header().decode()


class TraceVariable:
    """Sets ``_X_AMZN_TRACE_ID`` for each invoke as ``os.environ[...] = value`` does (for
    Python, for C code's ``getenv`` and for child processes), without glibc's
    ``setenv``: that keeps a copy of every value it was ever given, in a search tree it
    walks on each call, about 150 bytes per invoke (28 MB after 200,000 invokes, in the
    environment's Max Memory Used) and a walk that misses the cache at each step.

    The entry is written into one of two buffers of this object's, in turn, which
    glibc's ``putenv`` puts in the environment as they are. POSIX lets ``setenv``
    invalidate a string an earlier ``getenv`` returned, which this does two invokes on.
    A value too long for a buffer (a caller's header may be) is set through
    ``os.environ``: the buffers are never replaced, so the environment never holds a
    freed one, whichever threads set the variable.
    """

    NAME = "_X_AMZN_TRACE_ID"
    #: Bytes in each buffer: a fresh header's entry takes 96.
    CAPACITY = 512

    def __init__(self, putenv: Callable[[Any], int]) -> None:
        self._putenv = putenv
        self._key = os.fsencode(self.NAME)
        self._prefix = self._key + b"="
        self._buffers = [ctypes.create_string_buffer(self.CAPACITY) for _ in range(2)]
        self._turn = 0
        #: What ``os.environ`` reads (its own setter would call ``setenv``).
        self._mapping: dict[bytes, bytes] = os.environ._data  # type: ignore[attr-defined]

    def set(self, value: str) -> None:
        raw = os.fsencode(value)
        if len(self._prefix) + len(raw) >= self.CAPACITY or b"\0" in raw:
            os.environ[self.NAME] = value  # which refuses a null byte, as it should
            return
        self.set_raw(raw)

    def fresh(self) -> None:
        """Set a :func:`fresh_trace_header` (the invoke's caller sent none)."""
        self.set_raw(fresh_trace_header())

    def set_raw(self, raw: bytes) -> None:
        """Set ``raw``, which fits a buffer and holds no null byte."""
        self._turn = turn = self._turn ^ 1  # not the buffer the environment holds now
        buffer = self._buffers[turn]
        buffer.value = self._prefix + raw
        self._putenv(buffer)
        self._mapping[self._key] = raw


def trace_variable_setters() -> tuple[Callable[[str], None], Callable[[], None]]:
    """How this process sets ``_X_AMZN_TRACE_ID`` to a value, and to a fresh header:
    :class:`TraceVariable` with glibc, ``os.environ`` elsewhere."""
    try:
        os.confstr("CS_GNU_LIBC_VERSION")
        putenv = ctypes.PyDLL(None).putenv  # called holding the GIL
    except (ValueError, OSError, AttributeError):
        def set_value(value: str) -> None:
            os.environ[TraceVariable.NAME] = value
        return set_value, lambda: set_value(trace_header())
    putenv.argtypes, putenv.restype = [ctypes.c_char_p], ctypes.c_int
    variable = TraceVariable(putenv)
    return variable.set, variable.fresh


set_trace_variable, set_fresh_trace_variable = trace_variable_setters()


#: ``ru_maxrss``'s units in a MB: macOS reports bytes, Linux KB.
_RSS_UNITS_PER_MB = 1024 * 1024 if sys.platform == "darwin" else 1024


def max_rss_mb() -> int:
    """Peak resident memory of this process and its waited-for children, in MB."""
    peak = max(
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
    )
    return -(-peak // _RSS_UNITS_PER_MB)


def handle(
    handler: Callable[[Any, Any], Any],
    request: protocol.Request,
    static: dict[str, str | None],
    spin_after_s: float = 0.0,
) -> bytes:
    """Run one invoke; the reply frame. ``spin_after_s``: how long the runtime will poll
    for the next invoke once this reply is sent (the core need not wake it then)."""
    status, duration_ms, result = run_handler(handler, request, static)
    spin_until = time.monotonic() + spin_after_s if spin_after_s else 0.0
    return protocol.pack_reply(status, duration_ms, max_rss_mb(), result, spin_until)


def run_handler(
    handler: Callable[[Any, Any], Any], request: protocol.Request, static: dict[str, str | None]
) -> tuple[str, float, bytes]:
    """Run one invoke: its status, its duration (ms) and the result (or the error), as
    JSON; what the handler printed has been flushed to the log pipe."""
    global _current_request_id
    request_id = _current_request_id = request.request_id
    if request.trace_id:
        set_trace_variable(request.trace_id)
    else:
        set_fresh_trace_variable()
    started = time.perf_counter()
    try:
        context = LambdaContext(
            request_id,
            request.invoked_function_arn,
            request.deadline_ms,
            json.loads(request.client_context) if request.client_context else None,
            json.loads(request.cognito_identity) if request.cognito_identity else None,
            static,
        )
        body = request.body
        try:
            event = protocol.loads_json(body) if body else None
        except ValueError as e:
            raise Fault("Runtime.UnmarshalError", f"Unable to unmarshal input: {e}")
        result, status = marshal(handler(event, context)), "ok"
    except Fault as fault:
        error = make_error(fault.message, fault.error_type, fault.trace, request_id)
        log_error(error)
        result, status = json.dumps(error).encode(), "error"
    except Exception as exc:
        error = error_from_exception(exc, request_id)
        log_error(error)
        result, status = json.dumps(error).encode(), "error"
    duration_ms = (time.perf_counter() - started) * 1000
    sys.stdout.flush()
    sys.stderr.flush()
    return status, duration_ms, result


def layer_paths(environ: Mapping[str, str]) -> list[str]:
    """Where a Python function's layers put modules, in AWS's order:
    ``/opt/python/lib/python3.X/site-packages``, then ``/opt/python``
    (https://docs.aws.amazon.com/lambda/latest/dg/packaging-layers.html). lambdalab's
    ``/opt`` is ``$LAMBDALAB_OPT`` (set only for a function with layers)."""
    opt = environ.get("LAMBDALAB_OPT")
    if not opt:
        return []
    runtime = environ.get("AWS_EXECUTION_ENV", "").removeprefix("AWS_Lambda_")
    if not runtime.startswith("python"):
        runtime = f"python{sys.version_info.major}.{sys.version_info.minor}"
    return [f"{opt}/python/lib/{runtime}/site-packages", f"{opt}/python"]


def add_layer_paths() -> None:
    """Put the function's layers on ``sys.path`` right after its code, as AWS's Python
    runtime does (:func:`layer_paths`)."""
    task_root = os.environ.get("LAMBDA_TASK_ROOT", "")
    at = sys.path.index(task_root) + 1 if task_root in sys.path else 0
    sys.path[at:at] = layer_paths(os.environ)


def serve(
    conn: Connection,
    handler_name: str,
    freeze_when_idle: bool = False,
    spin: protocol.SpinPolicy | None = None,
    pid: int | None = None,
) -> None:
    """INIT, then answer invokes until the core closes the pipe.

    With ``freeze_when_idle`` the environment freezes itself (stops its whole process
    group) once the spin after an answer finds no next invoke, as Lambda freezes an idle
    environment; the core continues it (``SIGCONT``) once it has sent the next invoke
    (continued with nothing to read, it freezes again). Freezing here
    rather than from the core costs back-to-back invokes nothing: a stopped process
    takes a wake-up (about 80 µs on a virtual machine) to run again. ``spin`` says
    whether and how long that spin lasts (a backend that holds the environment to a
    fraction of a CPU sets its ``spin_s`` to 0, so that the spin is not charged to the
    function's CPU share; it never spins where it cannot pay). ``pid`` is the
    runtime's pid as the core knows it (the host's, when it has a PID namespace of its own).
    """
    pid = pid or os.getpid()
    conn.send_bytes(protocol.pack({"pid": pid}))  # so the core can always kill it
    setup_logging()
    add_layer_paths()
    try:
        handler = load_handler(handler_name)
    except SystemExit as exc:  # the module called sys.exit(): the runtime process ends
        raise SystemExit(exit_status(exc)) from None
    except Fault as fault:
        error = make_error(fault.message, fault.error_type, fault.trace)
        log_error(error)
        conn.send_bytes(protocol.pack({"ready": pid, "error": error, "max_mb": max_rss_mb()}))
        return
    except BaseException as exc:  # module-level code raised: AWS reports it as-is
        error = error_from_exception(exc, "")
        log_error(error)
        conn.send_bytes(protocol.pack({"ready": pid, "error": error, "max_mb": max_rss_mb()}))
        return
    sys.stdout.flush()
    static = static_fields()
    conn.send_bytes(protocol.pack({"ready": pid, "max_mb": max_rss_mb()}))
    # From here on the pipe is read and written directly, not through ``conn``: a
    # ``poll`` object asks in about a microsecond whether an event is waiting
    # (``conn.poll(0)`` builds a selector each time), and an event takes one ``read``.
    fd = conn.fileno()
    frames = protocol.FrameReader(fd)
    poller = select.poll()
    poller.register(fd, select.POLLIN)

    def waiting() -> bool:
        return frames.buffered or bool(poller.poll(0))

    spin = spin or protocol.SpinPolicy()
    spin_s = spin.spin_s if spin.should_spin() else 0.0  # events may come back to back
    while True:
        answered = time.monotonic()
        caught = False  # the spin saw the event: no need to ask again
        if spin_s:  # a short busy-wait catches the next event
            spin_until = answered + spin_s
            while not (caught := waiting()) and time.monotonic() < spin_until:
                # Each turn gives the CPU to whatever waits for it: the client or the core
                # that sends the next event may have been woken onto this CPU, and a spin
                # that held it would make that event later than a sleep would.
                os.sched_yield()
            if caught:
                spin.caught()
            else:
                spin.missed()
        while freeze_when_idle and not caught and not waiting():
            os.killpg(0, signal.SIGSTOP)  # continued with no event waiting: freeze again
        if not caught and not frames.buffered:
            # Wait in ``poll``, not in ``read``: the core's read of the last answer wakes
            # whatever waits in a ``read`` on this socket (to say there is room to
            # write), and a woken runtime that finds nothing goes back to sleep: two
            # context switches for nothing (1.6 sleeps per warm invoke, 1.0 with this
            # ``poll``, which only an event to read wakes).
            poller.poll()
        try:
            frame = frames.read()
        except (EOFError, OSError):
            return
        request = protocol.unpack_request(frame)
        spin_s = spin_after(time.monotonic() - answered, spin.spin_s, request.core_busy)
        if spin_s and not spin.should_spin():
            spin_s = 0.0
        try:
            status, duration_ms, result = run_handler(handler, request, static)
        except SystemExit as exc:  # the handler called sys.exit(): so does the runtime
            raise SystemExit(exit_status(exc)) from None
        spin_until = time.monotonic() + spin_s if spin_s else 0.0
        # The reply and its length prefix in one write (``handle`` would pack it twice).
        reply = protocol.framed_reply(status, duration_ms, max_rss_mb(), result, spin_until)
        protocol.write_all(fd, reply)


def spin_after(gap: float, spin_s: float, core_busy: bool) -> float:
    """How long to poll for the next event after this answer, given the last ``gap``
    between an answer and the event after it: as long as that gap, with a margin, and at
    least ``spin_s``; not at all after a gap longer than :data:`GAP_SPIN_MAX_S`, nor
    where ``spin_s`` is 0, nor while the core is busy with other work (the event said
    so: a spin would take a CPU that work needs)."""
    if spin_s <= 0 or core_busy or gap > GAP_SPIN_MAX_S:
        return 0.0
    return min(GAP_SPIN_MAX_S, max(spin_s, GAP_SPIN_MARGIN * gap))


def exit_status(exc: SystemExit) -> int:
    """The process exit status ``sys.exit(code)`` asks for, as the interpreter computes it:
    ``None`` is 0, a number itself, anything else is printed to stderr and gives 1.

    Lambda reports the exit (``Runtime.ExitError``; status 0 is "Runtime exited without
    providing a reason"), so the runtime must exit with the status the code asked for.
    """
    if exc.code is None:
        return 0
    if isinstance(exc.code, int):
        return exc.code & 0xFF
    print(exc.code, file=sys.stderr, flush=True)
    return 1
