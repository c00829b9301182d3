"""Log groups, log streams, and the platform lines Lambda writes around each invoke.

Lambda writes one log group per function (``/aws/lambda/NAME``) and one stream per
execution environment (``2024/05/01/[$LATEST]0123…``); around the handler's own output it
writes ``START``, ``END`` and ``REPORT`` lines
(https://docs.aws.amazon.com/lambda/latest/dg/python-logging.html). lambdalab writes the
same lines, in the same format, into the data dir.

Log events are buffered and written by a background thread (they are not acknowledged
data, and a commit per invoke would dominate a warm invoke); :meth:`LogStore.flush`
forces them out, and reading always flushes first.
"""

from __future__ import annotations

import base64
import hashlib
import math
import re
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone

from .limits import BILLING_GRANULARITY_MS, TAIL_LOG_BYTES
from .store import Store


def log_stream_name(version: str, epoch: float) -> str:
    day = datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y/%m/%d")
    return f"{day}/[{version}]{secrets.token_hex(16)}"


def iso_timestamp(epoch: float) -> str:
    """``2024-05-01T12:00:00.123Z``, as Lambda stamps its own log lines."""
    moment = datetime.fromtimestamp(epoch, timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


@dataclass(frozen=True)
class InvokeReport:
    """What a REPORT line says about one execution."""

    request_id: str
    function_name: str
    version: str
    duration_ms: float
    memory_size: int
    max_memory_used_mb: int
    init_duration_ms: float | None = None
    #: ``None`` when the handler returned; ``"timeout"`` or ``"error"`` otherwise.
    status: str | None = None
    error_type: str | None = None

    @property
    def billed_duration_ms(self) -> int:
        """Duration rounded up to the next 1 ms; a cold start also bills its INIT.

        AWS bills the INIT phase of on-demand functions since 1 August 2025
        (https://aws.amazon.com/blogs/compute/aws-lambda-standardizes-billing-for-init-phase/).
        """
        total = self.duration_ms + (self.init_duration_ms or 0.0)
        steps = math.ceil(round(total, 6) / BILLING_GRANULARITY_MS)
        return max(1, steps) * BILLING_GRANULARITY_MS

    def line(self) -> str:
        """The REPORT line: each field followed by a tab, the last one too, as AWS writes it."""
        line = (
            f"REPORT RequestId: {self.request_id}\tDuration: {self.duration_ms:.2f} ms\t"
            f"Billed Duration: {self.billed_duration_ms} ms\tMemory Size: {self.memory_size} MB"
            f"\tMax Memory Used: {self.max_memory_used_mb} MB\t"
        )
        if self.init_duration_ms is not None:
            line += f"Init Duration: {self.init_duration_ms:.2f} ms\t"
        if self.status:
            line += f"Status: {self.status}\t"
        if self.error_type:
            line += f"Error Type: {self.error_type}\t"
        return line


def start_line(request_id: str, version: str) -> str:
    return f"START RequestId: {request_id} Version: {version}"


def end_line(request_id: str) -> str:
    return f"END RequestId: {request_id}"


#: The runtime version lambdalab reports in INIT_START (AWS numbers its own builds).
RUNTIME_VERSION_BUILD = 1


def init_start_line(runtime: str, region: str) -> str:
    """``INIT_START Runtime Version: python:3.11.v1\tRuntime Version ARN: arn:…``, the
    line AWS writes before each INIT
    (https://docs.aws.amazon.com/lambda/latest/dg/runtime-management-identify.html)."""
    family, version = re.match(r"^([a-z]+)\.?(.*?)(?:\.x)?$", runtime).groups()  # type: ignore[union-attr]
    name = f"{family}:{version}.v{RUNTIME_VERSION_BUILD}"
    digest = hashlib.sha256(name.encode()).hexdigest()
    return (f"INIT_START Runtime Version: {name}\t"
            f"Runtime Version ARN: arn:aws:lambda:{region}::runtime:{digest}")


def log_events(lines: list[str]) -> list[str]:
    """The CloudWatch messages of an invoke's lines, as AWS writes them: each ends with
    ``\n``; a blank line makes no event; the runtime's ``[ERROR]`` event (its lines
    joined with ``\r`` on the log pipe) has them joined with ``\n``, with no newline at
    its end (LocalStack's AWS-recorded ``test_multi_line_prints`` and
    ``test_invocation_type_event_error`` snapshots)."""
    events = []
    for line in lines:
        if not line:
            continue
        if line.startswith("[ERROR] ") and "\r" in line:
            events.append(line.replace("\r", "\n"))
        else:
            events.append(line + "\n")
    return events


def tail(lines: list[str]) -> str:
    """``LogResult`` for ``LogType=Tail``: the last 4 KB of the log, base64 encoded."""
    data = "".join(line + "\n" for line in lines).encode()
    return base64.b64encode(data[-TAIL_LOG_BYTES:]).decode()


@dataclass(frozen=True)
class LogEvent:
    id: int
    log_group: str
    log_stream: str
    timestamp: int  # epoch milliseconds, as CloudWatch Logs keeps them
    message: str


class LogStore:
    """Every log event of every function, kept in the data dir."""

    def __init__(self, store: Store, flush_interval: float = 0.2) -> None:
        self._store = store
        self._pending: list[tuple[str, str, int, str]] = []
        self._lock = threading.Lock()
        self._flushing = threading.Lock()
        self._wake = threading.Event()
        self._closed = False
        self._interval = flush_interval
        self._thread = threading.Thread(target=self._run, name="lambdalab-logs", daemon=True)
        self._thread.start()

    def write(self, group: str, stream: str, lines: list[str], epoch: float | None = None) -> None:
        ts = int((time.time() if epoch is None else epoch) * 1000)
        with self._lock:
            self._pending.extend([(group, stream, ts, line) for line in lines])

    def flush(self) -> None:
        """Write buffered events. Holding ``_flushing`` throughout means that a flush (and
        so a read) returns only after any flush already under way has committed."""
        with self._flushing:
            with self._lock:
                batch, self._pending = self._pending, []
            if not batch:
                return
            with self._store.transaction() as db:
                db.executemany(
                    "INSERT INTO log_events (log_group, log_stream, timestamp, message) "
                    "VALUES (?, ?, ?, ?)",
                    batch,
                )

    def _run(self) -> None:
        while not self._closed:
            self._wake.wait(self._interval)
            self.flush()

    def read(self, group: str, after_id: int = 0, limit: int = 10_000) -> list[LogEvent]:
        """Events of one log group with ids above ``after_id`` (for ``--follow``)."""
        self.flush()
        rows = self._store.query(
            "SELECT id, log_group, log_stream, timestamp, message FROM log_events "
            "WHERE log_group = ? AND id > ? ORDER BY id LIMIT ?",
            (group, after_id, limit),
        )
        return [LogEvent(*row) for row in rows]

    def close(self) -> None:
        self._closed = True
        self._wake.set()
        self._thread.join()
        self.flush()
