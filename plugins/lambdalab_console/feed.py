"""What the console shows, kept as it happens: one :class:`Lane` per execution
environment, throttles per function, and the browsers listening (:class:`Subscriber`).

Filled from the lab's hooks (``lambdalab_environment_started``,
``lambdalab_invoke_completed``, ``lambdalab_lambda_metrics``), on the invoking threads;
read by the web app on the event loop. Everything here is bounded: the lanes and the
invokes of a lane kept, and each browser's queue of events not yet sent (a browser too
slow to read is told to fetch the whole state again instead).
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections import OrderedDict, deque
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Callable, Iterable

from lambdalab import InvokeReport
from lambdalab.plugin import LambdaDatum

from .bounds import (
    ASYNC_ENDED_KEPT,
    CONCURRENCY_SAMPLES_KEPT,
    DETAILS_KEPT,
    INVOKES_LISTED,
    INVOKES_PER_LANE,
    LANES_KEPT,
    PAYLOAD_SHOWN_BYTES,
    SUBSCRIBER_BUFFER,
)

#: The ``status`` of an invoke the environment did not survive (the invoker discards it):
#: a timeout, or a runtime that exited (out of memory among the causes).
_KILLING = {"timeout": "killed (timeout)", "error": "killed (runtime exited)"}
#: What a lane says when its environment stopped, by the hook's ``reason``.
_STOPPED = {
    "reaped": "reaped (idle)",
    "replaced": "shut down (code or configuration changed)",
    "retired": "shut down (function deleted)",
    "lost": "killed",
    "closed": "shut down (lab closed)",
}


@dataclass
class InvokeMark:
    """One execution on a lane, as its REPORT line says it."""

    #: The console's number for it: a request id repeats when an async event is retried.
    n: int
    request_id: str
    function_name: str
    version: str
    #: Whether it started its environment (an INIT before it).
    cold: bool
    at: float
    duration_ms: float
    billed_ms: int
    max_memory_used_mb: int
    #: ``ok``, ``error`` (the handler raised), ``timeout`` or ``crash``.
    outcome: str


@dataclass
class InvokeDetail:
    """What clicking an invoke shows beyond its mark (its log lines are read on demand)."""

    mark: InvokeMark
    environment: str
    init_duration_ms: float | None
    memory_size: int
    invoked_arn: str
    error_type: str | None
    #: The event and the result (or error document), cut to PAYLOAD_SHOWN_BYTES.
    event: bytes
    result: bytes
    event_bytes: int
    result_bytes: int

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "mark": asdict(self.mark),
                "event": shown(self.event), "result": shown(self.result)}


@dataclass
class ConcurrencySample:
    """Concurrent executions when an invoke ended (what AWS's ``ConcurrentExecutions``
    metric samples), or a throttle (``account`` and ``count`` then ``None``)."""

    n: int
    at: float
    function_name: str
    #: The function's concurrent executions, and the account's (the region's), counting it.
    count: int | None
    account: int | None
    throttle: bool = False


# The feed keeps each invoke and each sample as a tuple of those records' fields (plain
# strings, numbers and bytes), and makes the records when they are read: a tuple of
# such values is one the garbage collector stops tracking, where thousands of records
# kept for a while made its full passes a large part of every invoke's cost.

#: An InvokeMark's fields, in order.
Mark = tuple[Any, ...]
#: An InvokeDetail's fields, in order, its mark as a :data:`Mark`.
Detail = tuple[Any, ...]
#: A ConcurrencySample's fields, in order.
Sample = tuple[Any, ...]
_MARK_FIELDS = tuple(f.name for f in fields(InvokeMark))
_SAMPLE_FIELDS = tuple(f.name for f in fields(ConcurrencySample))


def mark_json(mark: Mark) -> dict[str, Any]:
    """A kept mark as ``asdict`` gives its InvokeMark."""
    return dict(zip(_MARK_FIELDS, mark))


def sample_json(sample: Sample) -> dict[str, Any]:
    """A kept sample as ``asdict`` gives its ConcurrencySample."""
    return dict(zip(_SAMPLE_FIELDS, sample))


def detail_of(kept: Detail) -> InvokeDetail:
    return InvokeDetail(InvokeMark(*kept[0]), *kept[1:])


@dataclass
class AsyncEnded:
    """Where an asynchronous event ended (``lambdalab_async_event_ended``)."""

    request_id: str
    function_name: str
    qualifier: str | None
    #: ``Success``, ``RetriesExhausted`` or ``EventAgeExceeded``.
    condition: str
    attempts: int
    sent_to: list[str]
    at: float


#: The metrics the feed heeds, and what for: the async data points after which the queue
#: looks different, throttles, and the concurrency it samples (one look-up a data point).
_HEEDED = {"AsyncEventsReceived": "queue", "AsyncEventAge": "queue", "Throttles": "throttle",
           "ConcurrentExecutions": "concurrency"}


def shown(payload: bytes) -> str:
    """A payload as text for the page (a cut may split a character)."""
    return payload.decode("utf-8", "replace")


@dataclass
class Lane:
    """One execution environment: its INIT, its invokes in order, how it ended."""

    environment: str  # its log stream name, unique per environment
    function_name: str
    version: str
    started_at: float
    init_duration_ms: float
    invocations: int = 0
    #: Its latest invokes' marks (:data:`Mark`), oldest first.
    invokes: deque[Mark] = field(default_factory=lambda: deque(maxlen=INVOKES_PER_LANE))
    ended: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {**{f.name: getattr(self, f.name) for f in fields(self) if f.name != "invokes"},
                "invokes": [mark_json(m) for m in self.invokes]}


def outcome_of(report: InvokeReport) -> str:
    if report.status == "timeout":
        return "timeout"
    if report.status == "error":
        return "crash"
    return "error" if report.error_document is not None else "ok"


@dataclass
class Subscriber:
    """One browser's stream: events not yet sent, woken on its own event loop."""

    loop: asyncio.AbstractEventLoop
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    pending: deque[str] = field(default_factory=deque)
    overflowed: bool = False
    #: The most events ever waiting at once (what the memory bound is about).
    high_water: int = 0
    #: Set when its stream is to end (the edge is stopping).
    ending: bool = False

    def offer(self, message: str) -> None:
        """Queue ``message``; when the browser is too far behind, drop what waits and
        remember to send it a ``resync`` instead (called with the feed's lock held)."""
        if self.overflowed:
            return
        if len(self.pending) >= SUBSCRIBER_BUFFER:
            self.pending.clear()
            self.overflowed = True
            return
        self.pending.append(message)
        self.high_water = max(self.high_water, len(self.pending))

    def take(self) -> list[str]:
        """Everything to send now (called with the feed's lock held)."""
        if self.overflowed:
            self.overflowed = False
            return [sse("resync", {})]
        taken = list(self.pending)
        self.pending.clear()
        return taken


def sse(kind: str, data: dict[str, Any]) -> str:
    """One server-sent event (https://html.spec.whatwg.org/multipage/server-sent-events.html)."""
    return f"event: {kind}\ndata: {json.dumps(data)}\n\n"


class Feed:
    """One lab's console state and its listeners."""

    def __init__(self, now: Callable[[], float]) -> None:
        self.now = now
        self.lanes: OrderedDict[str, Lane] = OrderedDict()
        self.throttles: dict[str, int] = {}
        #: The latest invokes by number (:func:`detail` makes their InvokeDetail).
        self.details: OrderedDict[int, Detail] = OrderedDict()
        self.concurrency: deque[Sample] = deque(maxlen=CONCURRENCY_SAMPLES_KEPT)
        self.async_ended: deque[AsyncEnded] = deque(maxlen=ASYNC_ENDED_KEPT)
        self._count = 0  # invokes and samples numbered so far
        self.subscribers: list[Subscriber] = []
        self._lock = threading.Lock()

    # -- from the hooks ------------------------------------------------------------

    def environment_started(self, function_name: str, version: str, environment: str,
                            init_duration_ms: float) -> None:
        lane = Lane(environment, function_name, version, self.now(), init_duration_ms)
        with self._lock:
            self.lanes[environment] = lane
            while len(self.lanes) > LANES_KEPT:
                self.lanes.popitem(last=False)
            self._publish("environment", lane.to_json())

    def invoke_completed(self, report: InvokeReport) -> None:
        with self._lock:
            self._count += 1
            mark = (self._count, report.request_id, report.function_name, report.version,
                    report.init_duration_ms is not None, self.now(), round(report.duration_ms, 3),
                    report.billed_duration_ms, report.max_memory_used_mb, outcome_of(report))
            self.details[self._count] = (
                mark, report.log_stream_name, report.init_duration_ms, report.memory_size,
                report.invoked_arn, report.error_type, report.event[:PAYLOAD_SHOWN_BYTES],
                report.response[:PAYLOAD_SHOWN_BYTES], len(report.event), len(report.response))
            if len(self.details) > DETAILS_KEPT:
                self.details.popitem(last=False)
            lane = self.lanes.get(report.log_stream_name)
            if lane is None:  # its environment started before the console listened, or was dropped
                if self.subscribers:
                    self._publish("invoke", {"environment": report.log_stream_name,
                                             "invoke": mark_json(mark), "invocations": None})
                return
            lane.invocations += 1
            lane.invokes.append(mark)
            # The pool stops an environment it lost before the invoke's report comes.
            if report.status is not None:
                lane.ended = _KILLING.get(report.status, lane.ended)
            if self.subscribers:  # the message is built only for a page that is open
                self._publish("invoke", {"environment": lane.environment,
                                         "invoke": mark_json(mark),
                                         "invocations": lane.invocations, "ended": lane.ended})

    def environment_stopped(self, environment: str, reason: str) -> None:
        with self._lock:
            lane = self.lanes.get(environment)
            if lane is None or lane.ended is not None:
                return
            lane.ended = _STOPPED.get(reason, reason)
            self._publish("stopped", {"environment": environment, "ended": lane.ended})

    def metrics(self, data: Iterable[LambdaDatum]) -> None:
        """One invoke's data points (or one throttle's): a concurrency sample, and the
        function's count of throttles."""
        function = account = None
        throttled = None
        for datum in data:
            heeded = _HEEDED.get(datum.metric)
            if heeded is None:
                continue
            if heeded == "queue":
                self.changed("queue")
            elif heeded == "throttle" and datum.function_name:
                throttled = datum.function_name
            elif heeded == "concurrency" and datum.function_name:
                function = datum.function_name, int(datum.value)
            elif heeded == "concurrency":
                account = int(datum.value)
        if throttled is not None:
            self._sampled(throttled, None, None, throttle=True)
        elif function is not None:
            self._sampled(function[0], function[1], account, throttle=False)

    def _sampled(self, function_name: str, count: int | None, account: int | None,
                 throttle: bool) -> None:
        with self._lock:
            self._count += 1
            sample = (self._count, self.now(), function_name, count, account, throttle)
            self.concurrency.append(sample)
            if self.subscribers:
                self._publish("concurrency", sample_json(sample))
            if throttle:
                total = self.throttles.get(function_name, 0) + 1
                self.throttles[function_name] = total
                self._publish("throttle", {"function": function_name, "count": total,
                                           "n": self._count})

    def async_event_ended(self, ended: AsyncEnded) -> None:
        with self._lock:
            self.async_ended.append(ended)
            self._publish("queue", {"ended": asdict(ended)})

    def changed(self, what: str) -> None:
        """Something the page reads whole changed (``functions``, ``clock``)."""
        with self._lock:
            self._publish(what, {"now": self.now()})

    def panel_changed(self, title: str) -> None:
        """A plugin's panel shows something new: pages read that panel again."""
        with self._lock:
            self._publish("panel", {"title": title})

    # -- for the web app -------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            listed = list(self.details.values())[-INVOKES_LISTED:]
            # ``n``: the invokes and samples it includes; a page that applies it skips the
            # events it already holds (those numbered ``n`` or less).
            return {"n": self._count,
                    "lanes": [lane.to_json() for lane in self.lanes.values()],
                    "throttles": dict(self.throttles),
                    "invokes": [mark_json(kept[0]) for kept in listed],
                    "concurrency": [sample_json(sample) for sample in self.concurrency],
                    "async_ended": [asdict(ended) for ended in self.async_ended]}

    def ended_json(self) -> list[dict[str, Any]]:
        """The async events that ended, latest last."""
        with self._lock:
            return [asdict(ended) for ended in self.async_ended]

    def detail(self, n: int) -> InvokeDetail | None:
        with self._lock:
            kept = self.details.get(n)
        return None if kept is None else detail_of(kept)

    def subscribe(self) -> Subscriber:
        subscriber = Subscriber(asyncio.get_running_loop())
        with self._lock:
            self.subscribers.append(subscriber)
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        with self._lock:
            if subscriber in self.subscribers:
                self.subscribers.remove(subscriber)

    def take(self, subscriber: Subscriber) -> list[str]:
        with self._lock:
            subscriber.wake.clear()
            return subscriber.take()

    def _publish(self, kind: str, data: dict[str, Any]) -> None:
        if not self.subscribers:
            return  # nobody watches: the invoke path pays nothing more
        message = sse(kind, {**data, "now": self.now()})
        for subscriber in list(self.subscribers):
            subscriber.offer(message)
            try:
                subscriber.loop.call_soon_threadsafe(subscriber.wake.set)
            except RuntimeError:  # its event loop is closed: the server stopped
                self.subscribers.remove(subscriber)
