"""The frames exchanged between the core and a Python runtime over its pipe.

A frame is one length-prefixed message (``multiprocessing.connection``'s framing).
Invoke requests and replies, sent for every invoke, have fixed binary headers; the
rare control frames (``pid`` at start, ``ready`` after INIT) carry a JSON header. In
both, the body (the event or the result) follows untouched, so a 6 MB payload is never
re-encoded.
"""

from __future__ import annotations

import _json
import contextvars
import json
import os
import select
import struct
import time
from dataclasses import dataclass
from typing import Any, NamedTuple

#: The C scanner that ``json.loads`` ends in (``loads_json``); typeshed wants a scanner
#: as its context, where any decoder's attributes will do.
_scan = _json.make_scanner(json.JSONDecoder())  # type: ignore[arg-type]


def loads_json(body: bytes) -> Any:
    """``json.loads(body)``, the same value and the same errors: a UTF-8 document with
    nothing around it goes straight to the scanner; anything else (a byte order mark,
    UTF-16, white space, an error) to ``json.loads`` itself. The runtime decodes each
    event with it; the core checks each payload with it."""
    try:
        text = body.decode()
        value, end = _scan(text, 0)
    except (ValueError, StopIteration):
        return json.loads(body)
    return value if end == len(text) else json.loads(body)



_LENGTH = struct.Struct("!I")
#: ``multiprocessing.connection``'s frame header: a signed length, -1 then a 64-bit one.
_FRAME = struct.Struct("!i")
_FRAME_LONG = struct.Struct("!Q")
#: The most a :class:`FrameReader` reads at once (a pipe's buffer): a small frame whole.
READ_BYTES = 65536
#: deadline (epoch ms), whether the core is busy with other work (see
#: :attr:`Request.core_busy`), then the byte lengths of request id, ARN, client context,
#: identity and trace header.
_REQUEST = struct.Struct("!Q?IIIII")
#: A request frame's length prefix and its header, packed in one call.
_FRAMED_REQUEST = struct.Struct("!iQ?IIIII")
#: status, duration (ms), peak memory (MB), and until when (``time.monotonic()``, the
#: same clock in every process) the runtime will at least poll for the next invoke (0:
#: it will not; a frozen runtime must then be continued to read it).
_REPLY = struct.Struct("!BdId")
#: A reply frame's length prefix and its header, packed in one call.
_FRAMED_REPLY = struct.Struct("!iBdId")
STATUSES = ("ok", "error")
#: How long either end polls for the other's next frame before it sleeps: a tiny
#: handler answers within it, and back-to-back invokes come within it, so neither end
#: pays to be put to sleep and woken again (50-100 us on a virtual machine).
SPIN_S = 0.0002
#: Whether the invoke awaited now shares its event loop with other clients' traffic:
#: their next requests may be arriving while the core spins for this one's answer, and
#: would wait for the spin (the HTTP edge sets it for each request's task, from
#: :data:`CROWDED_WINDOW_S`). A sandbox's core-side spin honours it.
CROWDED: contextvars.ContextVar[bool] = contextvars.ContextVar("lambdalab_crowded", default=False)
#: How lately another client's answer makes the edge :data:`CROWDED`: a client that is
#: sending requests back to back sends its next within a millisecond of an answer; an idle
#: pooled connection (a boto3 client's, between calls) has not had one for much longer.
CROWDED_WINDOW_S = 0.005
#: How often a :class:`SpinPolicy` looks again at the machine's load and the peer's CPUs.
SPIN_CHECK_S = 0.01
#: The most invokes a :class:`SpinPolicy` goes without spinning after spins that did not pay.
SPIN_BACKOFF_MAX = 64


def pack(header: dict[str, Any], body: bytes = b"") -> bytes:
    """A control frame: a JSON header, then the body."""
    head = json.dumps(header, separators=(",", ":")).encode()
    return _LENGTH.pack(len(head)) + head + body


def unpack(frame: bytes) -> tuple[dict[str, Any], bytes]:
    (size,) = _LENGTH.unpack_from(frame)
    end = _LENGTH.size + size
    return json.loads(frame[_LENGTH.size : end]), frame[end:]


def frame_header(size: int) -> bytes:
    """The length prefix ``Connection.send_bytes`` puts before a frame of ``size`` bytes."""
    return _FRAME.pack(size)


def write_frame(fd: int, frame: bytes) -> None:
    """Send one frame as ``Connection.send_bytes`` does, but in one ``write`` (header
    and body together) when the pipe takes it whole; a large one goes piece by piece."""
    write_all(fd, framed(frame))


def framed(frame: bytes) -> memoryview:
    """``frame`` with its length prefix, ready to be written (in parts, if need be)."""
    return memoryview(frame_header(len(frame)) + frame)


def write_all(fd: int, data: bytes | memoryview) -> None:
    """Write all of ``data``: a pipe may take a large write in several parts.

    The fd is meant to be blocking, but one that an event loop watched may have been
    left non-blocking (uvloop's ``add_reader`` does that): a full pipe then answers
    ``EAGAIN``, which means "wait", not "the runtime is gone".
    """
    try:
        written = os.write(fd, data)
    except BlockingIOError:
        written = 0
    if written == len(data):  # a frame up to the pipe's buffer: nearly every one
        return
    data = memoryview(data)
    while written < len(data):
        try:
            written += os.write(fd, data[written:])
        except BlockingIOError:
            wait_for(fd, select.POLLOUT)


def wait_for(fd: int, event: int) -> None:
    """Block until ``fd`` is ready for ``event`` (``select.POLLIN``/``POLLOUT``), or
    closed at the other end (the next read or write then says so)."""
    poller = select.poll()
    poller.register(fd, event)
    poller.poll()


class FrameReader:
    """Reads ``multiprocessing.connection`` frames from a file descriptor, as
    ``Connection.recv_bytes`` does, but a small frame in one ``read`` instead of two
    (header, then body). The core reads a reply per invoke, and the runtime an event;
    each system call the core saves is a release of the GIL that a busy second invoking
    thread would take.
    """

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self._buffer = b""

    @property
    def buffered(self) -> bool:
        """Part of the next frame was read with the last one: don't wait for the fd."""
        return bool(self._buffer)

    def read_ready(self) -> bool:
        """Read what the fd holds now into the next frame, without waiting; whether there
        was anything (or the end of the file, which :meth:`read` then reports). An event
        loop's reader calls it: a loop may run a reader for a readiness it saw before the
        last frame was read, and then nothing is there."""
        chunk = self._take(READ_BYTES)
        if chunk is None:
            return False
        self._buffer += chunk
        return True

    def read(self) -> bytes:
        """The next frame (blocking until it is complete); ``EOFError`` at the end."""
        buffer = self._buffer or self._first()
        while len(buffer) < _FRAME.size:
            buffer = self._more(buffer)
        (size,) = _FRAME.unpack_from(buffer)
        start = _FRAME.size
        if size == -1:
            while len(buffer) < start + _FRAME_LONG.size:
                buffer = self._more(buffer)
            (size,) = _FRAME_LONG.unpack_from(buffer, start)
            start += _FRAME_LONG.size
        end = start + size
        if len(buffer) < end:
            parts = [buffer]
            got = len(buffer)
            while got < end:
                chunk = self._read(min(end - got, 1 << 20))
                parts.append(chunk)
                got += len(chunk)
            buffer = b"".join(parts)
        self._buffer = buffer[end:]
        return buffer[start:end]

    def _first(self) -> bytes:
        """The next bytes, read straight away: on a blocking fd (the runtime's) the
        ``read`` waits for them, and a small frame's whole, without a call per layer."""
        try:
            chunk = os.read(self.fd, READ_BYTES)
        except BlockingIOError:
            return self._read(READ_BYTES)
        if not chunk:
            raise EOFError
        return chunk

    def _more(self, buffer: bytes) -> bytes:
        return buffer + self._read(READ_BYTES)

    def _read(self, size: int) -> bytes:
        """Up to ``size`` bytes, at least one: waits, as a blocking read does, when the
        fd was left non-blocking and nothing has arrived yet (see :func:`write_all`)."""
        while (chunk := self._take(size)) is None:
            wait_for(self.fd, select.POLLIN)
        if not chunk:
            raise EOFError
        return chunk

    def _take(self, size: int) -> bytes | None:
        """Up to ``size`` bytes the fd holds now (``b""`` at its end), None if none yet."""
        try:
            return os.read(self.fd, size)
        except BlockingIOError:
            return None


class Request(NamedTuple):
    """One invoke as the runtime reads it: the fields of its frame and the event.

    A named tuple, not a frozen dataclass: the runtime makes one per invoke, and a
    frozen dataclass's ``__init__`` sets each field through ``object.__setattr__``.
    """

    request_id: str
    invoked_function_arn: str
    deadline_ms: int
    client_context: str | None
    cognito_identity: str | None
    body: bytes
    #: The X-Ray trace header the caller sent, for ``_X_AMZN_TRACE_ID``; None: a new one.
    trace_id: str | None = None
    #: The core awaits other invokes, or serves other clients, meanwhile: their work
    #: needs the CPUs, so the runtime does not spin for its next event after answering.
    core_busy: bool = False

    def packed(self) -> bytes:
        """This request as the frame ``unpack_request`` reads."""
        framed = framed_request(self.request_id, self.invoked_function_arn, self.deadline_ms,
                                self.client_context, self.cognito_identity, self.body,
                                self.trace_id, self.core_busy)
        return framed[_FRAME.size :]


def framed_request(
    request_id: str,
    invoked_function_arn: str,
    deadline_ms: int,
    client_context: str | None,
    cognito_identity: str | None,
    body: bytes,
    trace_id: str | None = None,
    core_busy: bool = False,
) -> bytes:
    """An invoke's frame (the one :func:`unpack_request` reads) with its length prefix,
    ready for :func:`write_all`: built in one ``join``, so the body (up to 6 MB) is
    copied once, not three times."""
    rid, arn = request_id.encode(), invoked_function_arn.encode()
    cc = client_context.encode() if client_context else b""
    ci = cognito_identity.encode() if cognito_identity else b""
    trace = trace_id.encode() if trace_id else b""
    size = _REQUEST.size + len(rid) + len(arn) + len(cc) + len(ci) + len(trace) + len(body)
    head = _FRAMED_REQUEST.pack(size, deadline_ms, core_busy, len(rid), len(arn), len(cc), len(ci),
                                len(trace))
    return b"".join((head, rid, arn, cc, ci, trace, body))


def unpack_request(frame: bytes) -> Request:
    deadline_ms, busy, rid_size, arn_size, cc_size, ci_size, trace_size = _REQUEST.unpack_from(
        frame)
    rid = _REQUEST.size + rid_size  # where each field ends
    arn = rid + arn_size
    cc = arn + cc_size
    ci = cc + ci_size
    trace = ci + trace_size
    return Request(
        frame[_REQUEST.size : rid].decode(),
        frame[rid:arn].decode(),
        deadline_ms,
        frame[arn:cc].decode() if cc_size else None,  # most invokes have none of these
        frame[cc:ci].decode() if ci_size else None,
        frame[trace:],
        frame[ci:trace].decode() if trace_size else None,
        busy,
    )


def pack_reply(
    status: str, duration_ms: float, max_mb: int, body: bytes, spin_until: float = 0.0
) -> bytes:
    return _REPLY.pack(STATUSES.index(status), duration_ms, max_mb, spin_until) + body


def framed_reply(
    status: str, duration_ms: float, max_mb: int, body: bytes, spin_until: float = 0.0
) -> bytes:
    """:func:`pack_reply`'s frame with its length prefix, ready for :func:`write_all`."""
    size = _REPLY.size + len(body)
    head = _FRAMED_REPLY.pack(size, STATUSES.index(status), duration_ms, max_mb, spin_until)
    return head + body


def unpack_reply(frame: bytes) -> tuple[str, float, int, bytes]:
    status, duration_ms, max_mb, _, body = unpack_reply_until(frame)
    return status, duration_ms, max_mb, body


def unpack_reply_until(frame: bytes) -> tuple[str, float, int, float, bytes]:
    """:func:`unpack_reply`, and until when the runtime that sent the reply waits for its
    next invoke without freezing (0: it does not)."""
    code, duration_ms, max_mb, until = _REPLY.unpack_from(frame)
    return STATUSES[code], duration_ms, max_mb, until, frame[_REPLY.size :]


#: The process's latest reading of :func:`runnable_tasks`: ``(time.monotonic(), tasks)``.
_latest_tasks: tuple[float, int] = (float("-inf"), 0)


def runnable_tasks() -> int:
    """Tasks running or waiting for a CPU right now (``/proc/loadavg``'s fourth field
    before the slash), or 0 where that cannot be read."""
    global _latest_tasks
    try:
        with open("/proc/loadavg", "rb") as loadavg:
            tasks = int(loadavg.read().split()[3].split(b"/")[0])
    except (OSError, ValueError, IndexError):
        tasks = 0
    _latest_tasks = (time.monotonic(), tasks)
    return tasks


def recent_runnable_tasks() -> int:
    """:func:`runnable_tasks`, as this process last read it if that was less than
    :data:`SPIN_CHECK_S` ago. The core holds a policy per environment: with hundreds of
    functions invoked in turn, each policy's own reading came on nearly every invoke,
    and a read of ``/proc/loadavg`` costs tens of microseconds on a loaded machine."""
    read_at, tasks = _latest_tasks
    if time.monotonic() >= read_at + SPIN_CHECK_S:
        return runnable_tasks()
    return tasks


def cpus_of(pid: int) -> frozenset[int]:
    """The CPUs ``pid`` may run on (0: the caller), or none where that is not known
    (the peer is in another PID namespace, or gone)."""
    try:
        return frozenset(os.sched_getaffinity(pid))
    except (OSError, AttributeError):  # AttributeError: no sched_getaffinity (macOS)
        return frozenset()


def spin_pays(peer_pid: int) -> bool:
    """Whether busy-waiting for ``peer_pid`` can pay: not where both may run only on
    one and the same CPU (the spinner holds the CPU the peer needs to answer), and
    not where more tasks are runnable than this end and its peer leave CPUs for (a
    spin takes a CPU from work that waits for one)."""
    mine = cpus_of(0)
    theirs = cpus_of(peer_pid) if peer_pid else frozenset()
    if len(mine | theirs) <= 1:
        return False
    # Counted: this end, which is running, and the peer, which may be (spinning itself).
    return recent_runnable_tasks() <= max(2, len(mine))


@dataclass
class SpinPolicy:
    """When one end of the pipe busy-waits for the other's frame.

    Never where :func:`spin_pays` says it cannot (looked at again every
    :data:`SPIN_CHECK_S`); and after a spin that ended with nothing to read, not for
    the next 1, 2, 4 … :data:`SPIN_BACKOFF_MAX` waits: a spin that misses is CPU taken
    from the peer or a neighbour, and so would the next one be (a slow handler, a
    peer placed on this CPU by the scheduler). A spin that catches its frame ends
    the back-off.
    """

    peer_pid: int = 0
    spin_s: float = SPIN_S
    _checked_at: float = float("-inf")
    _pays: bool = False
    _skip: int = 0
    _backoff: int = 0

    def should_spin(self) -> bool:
        if self.spin_s <= 0:
            return False
        if self._skip:
            self._skip -= 1
            return False
        now = time.monotonic()
        if now >= self._checked_at + SPIN_CHECK_S:
            self._checked_at, self._pays = now, spin_pays(self.peer_pid)
        return self._pays

    def caught(self) -> None:
        """The spin caught the frame."""
        self._backoff = 0

    def missed(self) -> None:
        """The spin ended with nothing to read."""
        self._backoff = min(SPIN_BACKOFF_MAX, max(1, 2 * self._backoff))
        self._skip = self._backoff
