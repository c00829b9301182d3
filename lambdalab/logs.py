"""Log groups, log streams, and the platform lines Lambda writes around each invoke.

Lambda writes one log group per function (``/aws/lambda/NAME``) and one stream per
execution environment (``2024/05/01/[$LATEST]0123…``); around the handler's own output it
writes ``START``, ``END`` and ``REPORT`` lines
(https://docs.aws.amazon.com/lambda/latest/dg/python-logging.html). lambdalab writes the
same lines, in the same format, into the data dir.

Log events are buffered and written by a background thread (they are not acknowledged
data, and a commit per invoke would dominate a warm invoke); :meth:`LogStore.flush`
forces them out, and reading always flushes first.

CloudWatch Logs' rules apply
(https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/cloudwatch_limits_cwl.html): an
event is at most 1 MB including 26 bytes of overhead, and a log group keeps its events
for its retention (PutRetentionPolicy's days; forever without one). lambdalab also caps
the bytes a data dir keeps (:data:`~lambdalab.limits.LOG_STORE_MAX_BYTES_DEFAULT`).
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import math
import re
import sqlite3
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable, Generic, Iterator, Mapping, Sequence, TypeVar, overload

from . import limits
from .errors import LambdaError
from .limits import BILLING_GRANULARITY_MS, TAIL_LOG_BYTES
from .models import LoggingConfig
from .log_chunks import COLUMNS, INSERT, Event, chunks_of, event_message, events_of, rewritten
from .store import Store

log = logging.getLogger("lambdalab.logs")


def log_stream_name(version: str, epoch: float) -> str:
    day = datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y/%m/%d")
    return f"{day}/[{version}]{secrets.token_hex(16)}"


def iso_timestamp(epoch: float) -> str:
    """``2024-05-01T12:00:00.123Z``, as Lambda stamps its own log lines."""
    moment = datetime.fromtimestamp(epoch, timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


_T = TypeVar("_T")


class _computed_once(Generic[_T]):
    """``functools.cached_property`` without the lock Python 3.11 takes on each first
    read (once per report, so once per invoke); two threads that race both work out the
    same value."""

    def __init__(self, compute: Callable[[Any], _T]) -> None:
        self._compute = compute
        self._name = compute.__name__
        self.__doc__ = compute.__doc__

    @overload
    def __get__(self, instance: None, owner: type | None = None) -> _computed_once[_T]: ...
    @overload
    def __get__(self, instance: object, owner: type | None = None) -> _T: ...

    def __get__(self, instance: object | None, owner: type | None = None) -> Any:
        if instance is None:
            return self
        value = instance.__dict__[self._name] = self._compute(instance)
        return value


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
    #: What billing needs beyond the REPORT line (https://aws.amazon.com/lambda/pricing/):
    #: the function's architecture and ``/tmp`` size, and the ARN the caller invoked
    #: (it names the alias or version, when the caller named one).
    architecture: str = limits.DEFAULT_ARCHITECTURE
    ephemeral_storage_mb: int = limits.EPHEMERAL_STORAGE_DEFAULT_MB
    invoked_arn: str = ""
    #: A handler that raised: the error document its runtime reported (JSON with
    #: ``errorType``, ``errorMessage``, ``stackTrace``), for tracing; not on the REPORT line.
    error_document: bytes | None = None
    #: The log stream of the execution environment that ran it (one per environment):
    #: what tells a warm invoke's environment from a cold one's; not on the REPORT line.
    log_stream_name: str = ""
    #: The event the handler was given, and what the invoke answered (the handler's result,
    #: or the error document in its place): for a console to show; not on the REPORT line.
    event: bytes = b""
    response: bytes = b""

    @classmethod
    def assembled(cls, common: Mapping[str, Any], **fields: Any) -> InvokeReport:
        """The report of ``common`` (the fields every invoke of one configuration shares)
        and ``fields``, made without the frozen ``__init__``'s call per field, about 2 µs
        of each invoke. A field named in neither takes its default."""
        report = object.__new__(cls)
        report.__dict__.update(common, **fields)
        return report

    @_computed_once  # the REPORT line, the console and the cost ledger ask
    def billed_duration_ms(self) -> int:
        """Duration rounded up to the next 1 ms; a cold start also bills its INIT.

        AWS bills the INIT phase of on-demand functions since 1 August 2025
        (https://aws.amazon.com/blogs/compute/aws-lambda-standardizes-billing-for-init-phase/).
        """
        total = self.duration_ms + (self.init_duration_ms or 0.0)
        steps = math.ceil(round(total, 6) / BILLING_GRANULARITY_MS)
        return max(1, steps) * BILLING_GRANULARITY_MS

    def record(self) -> dict[str, Any]:
        """The REPORT as a JSON ``platform.report`` record (LogFormat ``JSON``)."""
        metrics: dict[str, Any] = {
            "durationMs": round(self.duration_ms, 3),
            "billedDurationMs": self.billed_duration_ms,
            "memorySizeMB": self.memory_size,
            "maxMemoryUsedMB": self.max_memory_used_mb,
        }
        if self.init_duration_ms is not None:
            metrics["initDurationMs"] = round(self.init_duration_ms, 3)
        out: dict[str, Any] = {"requestId": self.request_id, "metrics": metrics,
                               "status": self.status or "success"}
        if self.error_type:
            out["errorType"] = self.error_type
        return out

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


def runtime_version(runtime: str, region: str) -> tuple[str, str]:
    """The runtime version INIT_START names (``python:3.11.v1``) and its ARN."""
    family, version = re.match(r"^([a-z]+)\.?(.*?)(?:\.x)?$", runtime).groups()  # type: ignore[union-attr]
    name = f"{family}:{version}.v{RUNTIME_VERSION_BUILD}"
    digest = hashlib.sha256(name.encode()).hexdigest()
    return name, f"arn:aws:lambda:{region}::runtime:{digest}"


def init_start_line(runtime: str, region: str) -> str:
    """``INIT_START Runtime Version: python:3.11.v1\tRuntime Version ARN: arn:…``, the
    line AWS writes before each INIT
    (https://docs.aws.amazon.com/lambda/latest/dg/runtime-management-identify.html)."""
    name, arn = runtime_version(runtime, region)
    return f"INIT_START Runtime Version: {name}\tRuntime Version ARN: {arn}"


class PlatformLog:
    """The platform's own log events for one function: AWS's text lines, or, with
    ``LogFormat`` ``JSON``, its system log records (``{"time", "type", "record"}``, the
    Telemetry API's event types and fields) kept only at ``SystemLogLevel`` or above.

    https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs-logformat.html
    https://docs.aws.amazon.com/lambda/latest/dg/telemetry-schema-reference.html
    """

    def __init__(self, config: LoggingConfig, now: Callable[[], float]) -> None:
        self._json = config.json
        levels = limits.SYSTEM_LOG_LEVELS
        self._min = levels.index(config.system_log_level or limits.LOG_LEVEL_DEFAULT)
        self._now = now

    def init_start(self, runtime: str, region: str) -> list[str]:
        if not self._json:
            return [init_start_line(runtime, region)]
        name, arn = runtime_version(runtime, region)
        return self._record("platform.initStart", {
            "initializationType": "on-demand", "phase": "init",
            "runtimeVersion": name, "runtimeVersionArn": arn,
        })

    def init_report(self, duration_ms: float, status: str, error_type: str) -> list[str]:
        if not self._json:
            return [f"INIT_REPORT Init Duration: {duration_ms:.2f} ms\tPhase: init\t"
                    f"Status: {status}\tError Type: {error_type}"]
        return self._record("platform.initReport", {
            "initializationType": "on-demand", "phase": "init", "status": status,
            "errorType": error_type, "metrics": {"durationMs": round(duration_ms, 3)},
        })

    def start(self, request_id: str, version: str) -> list[str]:
        if not self._json:
            return [start_line(request_id, version)]
        return self._record("platform.start", {"requestId": request_id, "version": version})

    def end(self, request_id: str) -> list[str]:
        """END: a text line only (a JSON function's invoke ends with its report)."""
        return [] if self._json else [end_line(request_id)]

    def report(self, report: InvokeReport) -> list[str]:
        return self._record("platform.report", report.record()) if self._json else [report.line()]

    def _record(self, kind: str, record: dict[str, Any], level: str = "INFO") -> list[str]:
        if limits.SYSTEM_LOG_LEVELS.index(level) < self._min:
            return []
        return [json.dumps({"time": iso_timestamp(self._now()), "type": kind, "record": record})]


#: A line of the Node.js runtime's ``console.*``: ``<ISO time>\t<request id>\t<LEVEL>\t``.
_NODE_CONSOLE_LINE = re.compile(
    r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\t[^\t\r]*\t(?:INFO|WARN|ERROR|DEBUG|TRACE|FATAL)\t"
)


def log_events(lines: list[str]) -> list[str]:
    """The CloudWatch messages of an invoke's lines, as AWS writes them: each ends with
    ``\n``; a blank line makes no event; the runtime's ``[ERROR]`` event (its lines
    joined with ``\r`` on the log pipe) has them joined with ``\n``, with no newline at
    its end (LocalStack's AWS-recorded ``test_multi_line_prints`` and
    ``test_invocation_type_event_error`` snapshots). A Node.js ``console.*`` message keeps
    its newlines in its one event, as AWS's Node runtime frames it
    (https://docs.aws.amazon.com/lambda/latest/dg/nodejs-logging.html); on the pipe they
    are ``\r``, as the runtime writes them to stdout."""
    events = []
    for line in lines:
        if not line:
            continue
        if "\r" in line and line.startswith("[ERROR] "):
            events.append(line.replace("\r", "\n"))
        elif "\r" in line and _NODE_CONSOLE_LINE.match(line):
            events.append(line.replace("\r", "\n") + "\n")
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


@dataclass(frozen=True)
class GroupSummary:
    """A log group as the store knows it: its first event's time and its stored bytes."""

    name: str
    first_timestamp: int | None  # epoch ms; None when it has no events
    stored_bytes: int
    retention_in_days: int | None


@dataclass(frozen=True)
class StreamSummary:
    """A log stream that has events: the time of its first and last, and its bytes."""

    name: str
    first_timestamp: int
    last_timestamp: int
    stored_bytes: int


class InvalidParameterException(LambdaError):
    """CloudWatch Logs' error for a parameter it does not take (e.g. ``retentionInDays``)."""


def event_bytes(message: str) -> int:
    """What CloudWatch Logs counts for one event: its UTF-8 message plus 26 bytes."""
    if message.isascii():  # one byte a character (a flag of the string: no encoding)
        return len(message) + limits.LOG_EVENT_OVERHEAD_BYTES
    return len(message.encode("utf-8", "surrogatepass")) + limits.LOG_EVENT_OVERHEAD_BYTES


class LogStore:
    """Every log event of every function, kept in the data dir.

    Bounded three ways: each event to CloudWatch Logs' event size (longer lines are cut),
    each log group by its retention policy (``put_retention_policy``; none by default, as
    in AWS), and the whole store by ``max_bytes`` (lambdalab's own; the oldest events go
    first). Pending events are flushed by the writer itself past ``_BUFFER_MAX_BYTES``, so
    a handler that prints fast cannot grow the buffer without bound.
    """

    def __init__(
        self,
        store: Store,
        flush_interval: float = 0.2,
        *,
        now: Callable[[], float] = time.time,
        max_bytes: int = limits.LOG_STORE_MAX_BYTES_DEFAULT,
    ) -> None:
        self._store = store
        self._now = now
        self.max_bytes = max_bytes
        #: Runs of lines as writers handed them over, one after another, flat: a run's
        #: group, stream, timestamp (epoch ms), characters and count of lines, then its
        #: lines. The work of making them events is the writer thread's, not the
        #: invoke's. Strings and numbers only, no container a run: thousands wait between
        #: two flushes, and a tuple a run made the collector's young passes three times
        #: as frequent (39 against 14 in 24,000 invokes). Writers need no lock: an
        #: ``extend`` is atomic, and a flush copies then deletes the items there when it
        #: began (two atomic steps; writers only ever add at the end).
        self._pending: list[Any] = []
        #: Characters pending, to flush a fast printer's lines early: a cheap measure,
        #: counted without a lock (a write racing a flush may count twice or not at all).
        self._pending_bytes = 0
        self._stored_bytes: int | None = None  # counted on first need
        self._expired_at = -math.inf
        self._flushing = threading.Lock()
        self._wake = threading.Event()
        self._closed = False
        self._interval = flush_interval
        self._listeners: list[Callable[[], None]] = []
        self._thread = threading.Thread(target=self._run, name="lambdalab-logs", daemon=True)
        self._thread.start()

    def write(self, group: str, stream: str, lines: list[str], epoch: float | None = None) -> None:
        ts = int((self._now() if epoch is None else epoch) * 1000)
        parts = (lines,) if len(lines) <= _WRITE_SLICE else [  # a huge log: flushed as it comes
            lines[start:start + _WRITE_SLICE] for start in range(0, len(lines), _WRITE_SLICE)]
        for part in parts:  # inline, not a call a part: 0.5 µs a warm invoke, not 0.8
            size = sum(map(len, part))
            self._pending.extend((group, stream, ts, size, len(part), *part))
            self._pending_bytes += size
            if self._pending_bytes > _BUFFER_MAX_BYTES:
                self.flush()

    def write_events(self, group: str, stream: str, events: Sequence[tuple[int, str]]) -> None:
        """Buffer events that carry their own timestamps (epoch ms), as PutLogEvents sends."""
        items: list[Any] = []
        for ts, message in events:
            items += (group, stream, ts, len(message), 1, message)
        self._pending.extend(items)  # from a list: in one step, as one append is
        self._pending_bytes += sum(items[3::6])

    def on_flush(self, listener: Callable[[], None]) -> None:
        """Call ``listener()`` after each flush that stored events (in the flushing thread,
        holding no lock of this store): how subscription filters learn of new events."""
        self._listeners.append(listener)

    def flush(self) -> None:
        """Write buffered events. Holding ``_flushing`` throughout means that a flush (and
        so a read) returns only after any flush already under way has committed."""
        with self._flushing:
            stored = self._flush_pending()
        if stored:
            for listener in list(self._listeners):
                try:
                    listener()
                except Exception:  # a listener's bug must not stop the writer
                    log.exception("log flush listener %r failed", listener)

    def _flush_pending(self) -> bool:
        """Commit the buffer (``_flushing`` held); whether there was anything to commit."""
        pending = self._pending
        count = len(pending)
        items = pending[:count]  # what is there now
        del pending[:count]
        self._pending_bytes = 0
        if self.max_bytes:
            self.stored_bytes()  # counted before this batch lands
        chunks = chunks_of(items)
        while chunks:  # trimmed as it goes: the file stays near the cap
            batch, chars = [], 0
            while chunks and chars < _BUFFER_MAX_BYTES:
                batch.append(chunks.pop(0))
                chars += batch[-1].chars
            added = 0
            with self._store.transaction() as db:
                last = db.execute(  # ids follow the last chunk's, whoever wrote it
                    "SELECT id + span FROM log_chunks ORDER BY id DESC LIMIT 1"
                ).fetchone()
                next_id = last[0] if last else 1
                for chunk in batch:
                    row = chunk.row(next_id)
                    db.execute(INSERT, row)
                    next_id += row[2]
                    added += row[6]
            if self.max_bytes:
                self._stored_bytes = self.stored_bytes() + added
                self._trim()
        if time.monotonic() - self._expired_at > _EXPIRE_EVERY_S:
            self._expire()
        return bool(items)

    def _run(self) -> None:
        while not self._closed:
            self._wake.wait(self._interval)
            self.flush()

    def read(self, group: str, after_id: int = 0, limit: int = 10_000) -> list[LogEvent]:
        """Events of one log group with ids above ``after_id`` (for ``--follow``)."""
        return self.query(group, after_id=after_id, limit=limit)

    def query(
        self,
        group: str,
        *,
        streams: Sequence[str] | None = None,
        start_ms: int | None = None,
        end_ms: int | None = None,
        after_id: int = 0,
        before_id: int | None = None,
        limit: int = 10_000,
        newest_first: bool = False,
        flush: bool = True,
    ) -> list[LogEvent]:
        """Events of ``group`` by id, optionally of some streams and a time range
        (``start_ms`` inclusive, ``end_ms`` exclusive, as CloudWatch Logs takes them).
        ``flush=False`` reads only what is committed (for a flush listener)."""
        if flush:
            self.flush()
            self._expire(group)
        after, before = _int64(after_id), None if before_id is None else _int64(before_id)
        start = None if start_ms is None else _int64(start_ms)
        end = None if end_ms is None else _int64(end_ms)
        wanted = None if streams is None else set(streams)
        found: list[LogEvent] = []
        if limit <= 0:
            return found
        for row in self._chunk_rows(group, after, before, start, end, newest_first):
            events = self._decoded(row, wanted)
            for event_id, stream, ts, message in reversed(events) if newest_first else events:
                if (event_id <= after or (before is not None and event_id >= before)
                        or (wanted is not None and stream not in wanted)
                        or (start is not None and ts < start) or (end is not None and ts >= end)):
                    continue
                found.append(LogEvent(event_id, group, stream, ts, message))
                if len(found) >= limit:
                    return found
        return found

    def _chunk_rows(
        self, group: str, after: int, before: int | None, start: int | None, end: int | None,
        newest_first: bool,
    ) -> Iterator[Sequence[Any]]:
        """The rows of ``group``'s chunks that may hold an event of ids above ``after``
        (and below ``before``) and times in [``start``, ``end``), by id, a few at a time
        (a chunk holds up to 4 MB)."""
        holding = self._store.query(  # the one chunk whose ids may straddle ``after``
            "SELECT MAX(id) FROM log_chunks WHERE log_group = ? AND id <= ?", (group, after)
        )[0][0]
        where = ["log_group = ?", "id >= ?"]
        params: list[Any] = [group, after if holding is None else holding]
        for clause, bound in (("id < ?", before), ("last_ts >= ?", start), ("first_ts < ?", end)):
            if bound is not None:
                where.append(clause)
                params.append(bound)
        order, beyond = ("DESC", "id < ?") if newest_first else ("ASC", "id > ?")
        while True:
            rows = self._store.query(
                f"SELECT {COLUMNS} FROM log_chunks WHERE {' AND '.join(where)} "
                f"ORDER BY id {order} LIMIT {_CHUNKS_PER_READ}", tuple(params),
            )
            yield from rows
            if len(rows) < _CHUNKS_PER_READ:
                return
            if len(where) == len(params):  # the first page: add the bound after it
                where.append(beyond)
                params.append(0)
            params[-1] = rows[-1][0]

    def _decoded(self, row: Sequence[Any], streams: set[str] | None = None) -> list[Event]:
        """The events of a chunk's row (none when it holds none of ``streams``). A damaged
        chunk holds none: it is reported once, as any damaged row of the data dir is."""
        def decode() -> list[Event]:
            if streams is not None and streams.isdisjoint(json.loads(row[5])):
                return []
            return list(events_of(row))

        return self._store.loaded("log_chunks", {"id": row[0]}, decode) or []

    def groups(self) -> list[GroupSummary]:
        """Every log group that has events or a retention policy, by name."""
        self.flush()
        rows = self._store.query(
            "SELECT name, MIN(ts), COALESCE(SUM(bytes), 0) FROM ("
            " SELECT log_group AS name, first_ts AS ts, bytes FROM log_chunks"
            " UNION ALL SELECT name, NULL, NULL FROM log_groups"
            ") GROUP BY name ORDER BY name"
        )
        retention: dict[str, int | None] = {
            row[0]: row[1]
            for row in self._store.query("SELECT name, retention_in_days FROM log_groups")
        }
        return [GroupSummary(name, first, size, retention.get(name)) for name, first, size in rows]

    def has_group(self, group: str) -> bool:
        """Whether ``group`` has an event or a retention policy."""
        self.flush()
        return bool(self._store.query(
            "SELECT 1 FROM log_chunks WHERE log_group = ? "
            "UNION ALL SELECT 1 FROM log_groups WHERE name = ? LIMIT 1", (group, group)
        ))

    def streams(self, group: str) -> list[StreamSummary]:
        """The streams of ``group`` that have events, by name."""
        self.flush()
        found: dict[str, list[int]] = {}
        for row in self._chunk_rows(group, 0, None, None, None, False):
            for _, stream, ts, message in self._decoded(row):
                size = event_bytes(message)
                summary = found.get(stream)
                if summary is None:
                    found[stream] = [ts, ts, size]
                    continue
                summary[0] = min(summary[0], ts)
                summary[1] = max(summary[1], ts)
                summary[2] += size
        return [StreamSummary(name, *found[name]) for name in sorted(found)]

    def delete_group(self, group: str, stream: str | None = None) -> None:
        """Delete every event of ``group`` (or of one of its streams) and, for a whole
        group, its retention policy."""
        self.flush()
        with self._flushing, self._store.transaction() as db:  # no flush counts meanwhile
            if stream is None:
                db.execute("DELETE FROM log_chunks WHERE log_group = ?", (group,))
                db.execute("DELETE FROM log_groups WHERE name = ?", (group,))
            else:
                holding = [chunk_id for chunk_id, streams in db.execute(
                    "SELECT id, streams FROM log_chunks WHERE log_group = ?", (group,)
                ).fetchall() if stream in json.loads(streams)]
                _rewrite(db, holding, lambda event: event[1] != stream)
            self._stored_bytes = None  # counted again on next need

    # -- retention ----------------------------------------------------------------------

    def put_retention_policy(self, group: str, retention_in_days: int) -> None:
        """Keep the group's events ``retention_in_days`` days; older ones are deleted."""
        if type(retention_in_days) is not int or retention_in_days not in limits.LOG_RETENTION_DAYS:
            raise InvalidParameterException(
                f"1 validation error detected: Value '{retention_in_days}' at "
                "'retentionInDays' failed to satisfy constraint: Member must satisfy enum "
                f"value set: {list(limits.LOG_RETENTION_DAYS)}"
            )
        with self._store.transaction() as db:
            db.execute(
                "INSERT INTO log_groups (name, retention_in_days) VALUES (?, ?) "
                "ON CONFLICT(name) DO UPDATE SET retention_in_days = excluded.retention_in_days",
                (group, retention_in_days),
            )
        self.flush()
        self._expire(group)

    def delete_retention_policy(self, group: str) -> None:
        """Keep the group's events forever (AWS's default)."""
        with self._store.transaction() as db:
            db.execute("DELETE FROM log_groups WHERE name = ?", (group,))

    def retention_in_days(self, group: str) -> int | None:
        rows = self._store.query(
            "SELECT retention_in_days FROM log_groups WHERE name = ?", (group,)
        )
        return rows[0][0] if rows else None

    def _expire(self, group: str | None = None) -> int:
        """Delete events older than their group's retention (of ``group``, or of all)."""
        rows: Sequence[Sequence[Any]]  # (name, retention_in_days): sqlite3 rows or a pair
        if group is None:
            self._expired_at = time.monotonic()
            rows = self._store.query("SELECT name, retention_in_days FROM log_groups")
        else:
            days = self.retention_in_days(group)
            rows = [] if days is None else [(group, days)]
        deleted = 0
        for name, days in rows:
            cutoff = int((self._now() - days * 86_400) * 1000)
            with self._store.transaction() as db:
                whole = db.execute(
                    "SELECT COALESCE(SUM(events), 0), COALESCE(SUM(bytes), 0) FROM log_chunks "
                    "WHERE log_group = ? AND last_ts < ?", (name, cutoff),
                ).fetchone()
                db.execute("DELETE FROM log_chunks WHERE log_group = ? AND last_ts < ?",
                           (name, cutoff))
                straddling = [row[0] for row in db.execute(
                    "SELECT id FROM log_chunks WHERE log_group = ? AND first_ts < ?",
                    (name, cutoff),
                ).fetchall()]
                events, freed = _rewrite(db, straddling, lambda event: event[2] >= cutoff)
            deleted += whole[0] + events
            if self._stored_bytes is not None:
                self._stored_bytes -= whole[1] + freed
        return deleted

    # -- the store's size cap -------------------------------------------------------------

    def stored_bytes(self) -> int:
        """Bytes of every stored event as CloudWatch Logs counts them (message + 26)."""
        if self._stored_bytes is None:
            self._stored_bytes = self._store.query(
                "SELECT COALESCE(SUM(bytes), 0) FROM log_chunks"
            )[0][0]
        return self._stored_bytes

    def _trim(self) -> None:
        """Past ``max_bytes``, delete the oldest events down to the low-water mark."""
        if not self.max_bytes or self.stored_bytes() <= self.max_bytes:
            return
        excess = self.stored_bytes() - int(self.max_bytes * limits.LOG_STORE_LOW_WATER)
        with self._store.transaction() as db:
            # The first chunk by which the oldest ones add up to the excess (a running
            # sum that SQLite stops computing at the first row that qualifies).
            last = db.execute(
                "SELECT id, running - bytes FROM (SELECT id, bytes, SUM(bytes) "
                "OVER (ORDER BY id ROWS UNBOUNDED PRECEDING) AS running FROM log_chunks) "
                "WHERE running >= ? LIMIT 1", (excess,),
            ).fetchone()
            if last is None:  # the count was off: keep nothing rather than too much
                db.execute("DELETE FROM log_chunks")
                self._stored_bytes = 0
                return
            chunk_id, before = last
            db.execute("DELETE FROM log_chunks WHERE id < ?", (chunk_id,))
            owed = [excess - before]  # still to free, from that chunk's oldest events

            def newer(event: Event) -> bool:
                if owed[0] <= 0:
                    return True
                owed[0] -= event_bytes(event[3])
                return False

            _, freed = _rewrite(db, [chunk_id], newer)
        self._stored_bytes = self.stored_bytes() - before - freed

    def close(self) -> None:
        self._closed = True
        self._wake.set()
        self._thread.join()
        self.flush()


def _int64(value: int) -> int:
    """``value`` within SQLite's integers, so that a bound from a request (a token, a
    time) of any size compares as the nearest one rather than failing the query."""
    return max(-(2**63), min(2**63 - 1, value))


def _rewrite(db: sqlite3.Connection, chunk_ids: Sequence[int],
             keep: Callable[[Event], bool]) -> tuple[int, int]:
    """Keep only the events ``keep`` accepts in the chunks ``chunk_ids`` (in a
    transaction); the events deleted and the bytes they held."""
    deleted = freed = 0
    for chunk_id in chunk_ids:
        row = db.execute(f"SELECT {COLUMNS}, events, bytes FROM log_chunks WHERE id = ?",
                         (chunk_id,)).fetchone()
        try:
            events = list(events_of(row))
        except Exception:  # damaged: no reader gets an event of it, so it goes whole
            events = []
        kept = [event for event in events if keep(event)]
        if events and len(kept) == len(events):
            continue
        db.execute("DELETE FROM log_chunks WHERE id = ?", (chunk_id,))
        left = 0
        if kept:
            new = rewritten(row[1], chunk_id, kept).row(chunk_id, span=row[2])
            db.execute(INSERT, new)
            left = new[6]
        deleted += row[10] - len(kept)
        freed += row[11] - left
    return deleted, freed


#: Lines a writer adds to the buffer at a time.
_WRITE_SLICE = 10_000
#: Pending characters past which a writer flushes itself (back-pressure on fast printers),
#: and that one transaction of a flush writes at most.
_BUFFER_MAX_BYTES = 4 * 1024 * 1024
#: Chunks a read fetches at a time (each holds up to 4 MB of messages).
_CHUNKS_PER_READ = 8
#: Retention policies are applied on flushes at most this often (seconds), and on reads.
_EXPIRE_EVERY_S = 60.0
