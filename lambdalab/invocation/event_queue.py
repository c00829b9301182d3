"""The asynchronous event queue: ``Event`` invocations are committed here, then run.

"Lambda places the event in a queue and returns a success response without additional
information. A separate process reads events from the queue and sends them to your
function." (https://docs.aws.amazon.com/lambda/latest/dg/invocation-async.html)

How lambdalab does what AWS describes
(https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-error-handling.html):

* **Durable.** An event is a row in the data dir's SQLite database, committed before
  ``invoke`` returns 202, and deleted only once its outcome is settled. A worker
  *claims* a row (``claimed_by``) while it runs it; claims of a process that died are
  released when the next :class:`~lambdalab.Lab` opens the data dir, so a SIGKILL at any
  moment loses nothing acknowledged: every event runs at least once.
* **One invoke path.** Workers run events through ``Invoker.execute``, so concurrency
  applies. Up to ``min(reserved concurrency, ASYNC_WORKERS_MAX)`` events of one
  function run at once. A throttled event goes back to the queue and is tried again as
  soon as concurrency frees up, for as long as its maximum event age allows (AWS: up to
  6 hours).
* **Retries on the Lab's clock.** A function error (an exception, a timeout, a crash)
  is retried ``MaximumRetryAttempts`` times (default 2): 1 minute after the first
  attempt, 2 minutes after the second. Each retry is a new execution with the *same*
  request id, so the log shows the same START/END/REPORT ids again, as AWS's does.
  Under a :class:`~lambdalab.clock.VirtualClock`, ``clock.advance(60)`` makes the
  second attempt due.
* **Event age.** An event older than ``MaximumEventAgeInSeconds`` (default 6 hours) is
  not run again; it goes to the on-failure destination with condition
  ``EventAgeExceeded``. As on AWS, a retry that would start at or past that age is not
  waited for: the event goes to on-failure as soon as the attempt before it fails, with
  that attempt's ``responseContext`` and ``responsePayload`` (with a maximum age of
  60 s, no retry is made, since the first comes 60 s after the first attempt).
* **Outcomes.** Success goes to the ``OnSuccess`` destination; an event given up on
  goes to the ``OnFailure`` destination and to the version's dead-letter queue. With
  reserved concurrency 0 new events go there at once, without running.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import sqlite3
import threading
import time
from collections import Counter
from dataclasses import dataclass, replace
from typing import Callable, Sequence

from .. import limits
from ..clock import Clock
from .destinations import (
    EVENT_AGE_EXCEEDED,
    RETRIES_EXHAUSTED,
    SUCCESS,
    DestinationMessage,
    dead_letter_message,
    invocation_record,
)
from ..errors import LambdaError, ResourceNotFoundException, TooManyRequestsException
from ..metrics import LambdaDatum, resource_of
from ..models import InvokeResult
from ..sandbox.runtime_api import trace_id
from ..store import Store

log = logging.getLogger(__name__)

#: A claim older than this (real seconds) is released even if its process looks alive
#: (its pid may have been reused): no execution lasts longer than INIT plus the timeout.
_STALE_CLAIM_S = limits.INIT_TIMEOUT_S + limits.TIMEOUT_MAX_S + 60

#: ``claimed_by`` of a row set aside because it is damaged (see ``_quarantine_damaged``).
_QUARANTINED = "damaged"
#: A row no worker can run: a field SQLite holds with the wrong type.
_MALFORMED = (
    "typeof(request_id) != 'text' OR typeof(function) != 'text' "
    "OR typeof(payload) NOT IN ('blob', 'text') "
    "OR typeof(enqueued_at) NOT IN ('integer', 'real') "
    "OR typeof(next_attempt_at) NOT IN ('integer', 'real') "
    "OR typeof(attempts) != 'integer' "
    "OR typeof(qualifier) NOT IN ('text', 'null') "
    "OR typeof(trace_id) NOT IN ('text', 'null')"
)

_COLUMNS = (
    "id, request_id, function, qualifier, payload, client_context, enqueued_at, "
    "attempts, next_attempt_at, claimed_by, trace_id"
)


@dataclass(frozen=True)
class AsyncEvent:
    """One queued ``Event`` invocation."""

    id: int
    request_id: str
    function_name: str
    qualifier: str | None
    payload: bytes
    client_context: str | None
    #: When it was accepted (the Lab's clock): its age counts from here.
    enqueued_at: float = 0.0
    #: Executions that finished (with an error) so far.
    attempts: int = 0
    #: When it may run (again), on the Lab's clock.
    next_attempt_at: float = 0.0
    claimed_by: str | None = None
    #: The caller's X-Ray trace (``_X_AMZN_TRACE_ID`` of its executions), if it sent one.
    trace_id: str | None = None


@dataclass(frozen=True)
class NewEvent:
    """An ``Event`` invocation to queue: what ``EventQueue.put_many`` commits, many in one transaction."""

    function_name: str
    qualifier: str | None
    payload: bytes
    request_id: str
    client_context: str | None = None
    trace_id: str | None = None


@dataclass(frozen=True)
class EventPolicy:
    """What applies to one event: its event invoke configuration and dead-letter queue."""

    #: The qualified ARN an invocation record names (``…:function:NAME:$LATEST``).
    function_arn: str
    maximum_retry_attempts: int
    maximum_event_age_in_seconds: int
    on_success: str | None = None
    on_failure: str | None = None
    dead_letter_arn: str | None = None
    reserved_concurrency: int | None = None


@dataclass(frozen=True)
class QueuedEvent:
    """A row of ``lambdalab queue``: one event and where it stands."""

    request_id: str
    function_name: str
    qualifier: str | None
    #: ``pending`` (waiting for a worker), ``in-flight`` (running) or ``retrying``.
    state: str
    attempts: int
    enqueued_at: float
    next_attempt_at: float


@dataclass(frozen=True)
class QueueHooks:
    """What the queue needs from its Lab: run an event, its policy, and delivery."""

    run: Callable[[AsyncEvent], InvokeResult]
    policy: Callable[[AsyncEvent], EventPolicy]
    deliver: Callable[[str, DestinationMessage], None]
    #: A function's reserved concurrency (``None``: it shares the unreserved pool).
    reserved: Callable[[str], int | None]
    #: Where the queue's ``AWS/Lambda`` metrics go (``lambdalab_lambda_metrics``).
    metrics: Callable[[list[LambdaDatum]], None] = lambda data: None
    #: Told when an event leaves the queue: its condition, attempts, and the ARNs it was
    #: sent to (``lambdalab_async_event_ended``).
    ended: Callable[[AsyncEvent, str, int, list[str]], None] = lambda *ended: None
    #: Told when a failed event is put back for a retry: its attempts so far and when the
    #: next one is due (``lambdalab_async_event_retry``).
    retry: Callable[[AsyncEvent, int, float], None] = lambda *retry: None


class EventQueue:
    """A durable queue of events, drained by a bounded pool of worker threads."""

    def __init__(self, store: Store, clock: Clock, hooks: QueueHooks) -> None:
        self._store = store
        self._clock = clock
        self._hooks = hooks
        self._token = f"{os.getpid()}:{secrets.token_hex(4)}"
        self._lock = threading.Lock()
        self._work = threading.Condition(self._lock)  # workers wait here for events
        self._done = threading.Condition(self._lock)  # wait_for_events waits here
        self._closed = False
        self._threads: list[threading.Thread] = []
        self._idle = 0
        #: One worker claims at a time, outside ``_lock``: put() never waits on the store.
        self._claiming = threading.Lock()
        #: Bumped by every wake(); a worker that found nothing looks again if it moved.
        self._wakeups = 0
        #: Claims under way: a claimed event is not due any more but not yet running.
        self._claims = 0
        self._running: Counter[str] = Counter()
        self._backoff: dict[str, float] = {}  # function -> monotonic time to try again
        #: Records a destination could not take (AWS's DestinationDeliveryFailures).
        self.delivery_failures = 0

    # -- accepting events -------------------------------------------------------------

    def put(
        self,
        function_name: str,
        qualifier: str | None,
        payload: bytes,
        client_context: str | None,
        request_id: str,
        trace_id: str | None = None,
    ) -> None:
        """Commit the event; when this returns, it will run even after a crash."""
        self.put_many([NewEvent(function_name, qualifier, payload, request_id, client_context,
                                trace_id)])

    def put_many(self, events: Sequence[NewEvent],
                 also: Callable[[sqlite3.Connection], None] | None = None) -> None:
        """Commit ``events`` in one transaction (all or none), then wake the workers once:
        what a caller with many events (EventBridge's PutEvents) pays once, not per event.
        ``also`` writes the caller's own rows in that transaction, so they and the events
        are committed together."""
        if not events and also is None:
            return
        now = self._clock.now()
        with self._store.transaction() as db:
            if also is not None:
                also(db)
            db.executemany(
                "INSERT INTO async_events (request_id, function, qualifier, payload, "
                "client_context, enqueued_at, next_attempt_at, trace_id) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [(e.request_id, e.function_name, e.qualifier, e.payload, e.client_context,
                  now, now, e.trace_id) for e in events],
            )
        if events:
            # one data point per event, as put() sends, in one call to the metrics hook
            self._hooks.metrics([
                LambdaDatum("AsyncEventsReceived", 1.0, e.function_name,
                            resource_of(e.function_name, e.qualifier)) for e in events])
            self.wake()

    def start(self) -> None:
        """Release claims of dead processes, re-arm retry timers, and start draining."""
        self._quarantine_damaged()
        self._release_stale_claims()
        rows = self._store.query(
            "SELECT MIN(next_attempt_at) FROM async_events WHERE next_attempt_at > ? "
            "AND claimed_by IS NOT ?",
            (self._clock.now(), _QUARANTINED),
        )
        if rows and rows[0][0] is not None:
            self._clock.call_at(rows[0][0], self.wake)
        if self._has_due():
            self.wake()

    def _quarantine_damaged(self) -> None:
        """Set aside rows whose fields have the wrong types (written by hand or by a bug).

        They stay in the table, claimed by ``"damaged"`` so no worker takes them, and each
        is reported once with how to remove it.
        """
        rows = self._store.query(
            f"SELECT id, request_id FROM async_events WHERE ({_MALFORMED}) "
            "AND claimed_by IS NOT ?",
            (_QUARANTINED,),
        )
        for row_id, request_id in rows:
            self._store.report_damaged(
                "async_events", {"id": row_id},
                ValueError(f"event {request_id!r} has a field of the wrong type; it is set "
                           "aside and will not run"),
            )
            with self._store.transaction() as db:
                db.execute(
                    "UPDATE async_events SET claimed_by = ? WHERE id = ?", (_QUARANTINED, row_id)
                )

    def _release_stale_claims(self) -> None:
        claims = self._store.query(
            "SELECT DISTINCT claimed_by, MIN(claimed_at) FROM async_events "
            "WHERE claimed_by IS NOT NULL AND claimed_by IS NOT ? GROUP BY claimed_by",
            (_QUARANTINED,),
        )
        for token, claimed_at in claims:
            if _process_alive(token) and time.time() - (claimed_at or 0) < _STALE_CLAIM_S:
                continue
            with self._store.transaction() as db:
                db.execute(
                    "UPDATE async_events SET claimed_by = NULL WHERE claimed_by = ?", (token,)
                )

    # -- the workers ------------------------------------------------------------------

    def wake(self) -> None:
        """Tell the workers there may be work; start one more if none is idle."""
        with self._lock:
            if self._closed:
                return
            self._wakeups += 1
            if self._idle == 0 and len(self._threads) < limits.ASYNC_WORKERS_MAX:
                thread = threading.Thread(
                    target=self._worker, name=f"lambdalab-async-{len(self._threads)}", daemon=True
                )
                self._threads.append(thread)
                thread.start()
            self._work.notify()

    def _worker(self) -> None:
        while True:
            with self._lock:
                if self._closed:
                    return
                seen = self._wakeups
            with self._claiming:
                event = self._next_claim()
            if event is None:
                with self._lock:
                    if self._closed:
                        return
                    if self._wakeups == seen:  # nothing new since we looked: sleep
                        self._idle += 1
                        self._done.notify_all()
                        self._work.wait(limits.ASYNC_THROTTLE_BACKOFF_S if self._backoff else None)
                        self._idle -= 1
                continue
            if self._idle == 0:
                self.wake()  # more may be due: let another worker look
            try:
                self._attempt(event)
            finally:
                with self._lock:
                    self._running[event.function_name] -= 1
                    self._done.notify_all()
                    self._work.notify()

    def _next_claim(self) -> AsyncEvent | None:
        """Claim the oldest due event of a function with a free slot (``_claiming`` held)."""
        with self._lock:
            if self._closed:
                return None
            now_mono = time.monotonic()
            self._backoff = {f: t for f, t in self._backoff.items() if t > now_mono}
            running = [f for f, n in self._running.items() if n]
            backoff = set(self._backoff)
            self._claims += 1
        try:
            return self._claim(running, backoff)
        finally:
            with self._lock:
                self._claims -= 1
                self._done.notify_all()

    def _claim(self, running: list[str], backoff: set[str]) -> AsyncEvent | None:
        full = [f for f in running if self._running[f] >= self._slots(f)]
        skip = sorted(set(full) | backoff)
        marks = ", ".join("?" * len(skip))
        sql = (
            f"SELECT {_COLUMNS} FROM async_events WHERE next_attempt_at <= ? "
            f"AND claimed_by IS NULL AND function NOT IN ({marks}) "
            "ORDER BY next_attempt_at, id LIMIT 1"
        )
        params = (self._clock.now(), *skip)
        if not self._store.query(sql, params):
            return None  # a read, not a write transaction, when there is nothing to take
        with self._store.transaction() as db:
            row = db.execute(sql, params).fetchone()
            if row is None:
                return None
            db.execute(
                "UPDATE async_events SET claimed_by = ?, claimed_at = ? WHERE id = ?",
                (self._token, time.time(), row[0]),
            )
        event = AsyncEvent(*row)
        with self._lock:
            self._running[event.function_name] += 1
        return event

    def _slots(self, function_name: str) -> int:
        """How many of the function's events may run at once."""
        try:
            reserved = self._hooks.reserved(function_name)
        except LambdaError:
            reserved = None  # deleted: let a worker find out and drop its events
        if reserved is None:
            return limits.ASYNC_WORKERS_MAX
        return max(1, min(reserved, limits.ASYNC_WORKERS_MAX))

    # -- one attempt ------------------------------------------------------------------

    def _attempt(self, event: AsyncEvent) -> None:
        try:
            policy = self._hooks.policy(event)
        except ResourceNotFoundException:
            self._delete(event)  # the function (or its alias) is gone: nothing can run it
            return
        age = self._clock.now() - event.enqueued_at
        if age > policy.maximum_event_age_in_seconds:
            self._give_up(event, policy, EVENT_AGE_EXCEEDED, None, event.attempts)
            return
        if policy.reserved_concurrency == 0:
            self._give_up(event, policy, RETRIES_EXHAUSTED, None, event.attempts)
            return
        self._metric("AsyncEventAge", age * 1000.0, event.function_name, event.qualifier)
        try:
            result = self._hooks.run(event)
        except TooManyRequestsException:
            self._throttled(event, policy, age)
            return
        except ResourceNotFoundException:
            self._delete(event)
            return
        except LambdaError as error:
            result = _error_result(event, type(error).__name__, error.message)
        except Exception:  # noqa: BLE001 - lambdalab's own error: the worker must not die of it
            # AWS retries an event after a system error (500-series) as after a throttle
            # (https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-error-handling.html).
            log.exception("lambdalab: an asynchronous invoke of %s failed inside lambdalab; "
                          "the event is tried again", event.function_name)
            self._throttled(event, policy, age)
            return
        count = event.attempts + 1
        if result.function_error is None:
            self._settle(event, policy, SUCCESS, result, count)
        elif event.attempts < policy.maximum_retry_attempts:
            when = self._clock.now() + _retry_delay(count)
            if when - event.enqueued_at >= policy.maximum_event_age_in_seconds:
                # AWS does not make a retry that would start past the event's age: the
                # event goes to on-failure now, with this attempt's response.
                self._give_up(event, policy, EVENT_AGE_EXCEEDED, result, count)
            else:
                self._retry_later(event, count, when)
        else:
            self._give_up(event, policy, RETRIES_EXHAUSTED, result, count)

    def _throttled(self, event: AsyncEvent, policy: EventPolicy, age: float) -> None:
        window = min(policy.maximum_event_age_in_seconds, limits.ASYNC_THROTTLE_RETRY_WINDOW_S)
        if age >= window:
            self._give_up(event, policy, EVENT_AGE_EXCEEDED, None, event.attempts)
            return
        with self._lock:
            self._backoff[event.function_name] = time.monotonic() + limits.ASYNC_THROTTLE_BACKOFF_S
        self._release(event)

    def _retry_later(self, event: AsyncEvent, attempts: int, when: float) -> None:
        with self._store.transaction() as db:
            db.execute(
                "UPDATE async_events SET attempts = ?, next_attempt_at = ?, claimed_by = NULL "
                "WHERE id = ?",
                (attempts, when, event.id),
            )
        self._hooks.retry(event, attempts, when)
        self._clock.call_at(when, self.wake)

    def _give_up(
        self,
        event: AsyncEvent,
        policy: EventPolicy,
        condition: str,
        result: InvokeResult | None,
        attempts: int,
    ) -> None:
        sent = []
        if policy.dead_letter_arn:
            reason = "Event age exceeded" if condition == EVENT_AGE_EXCEEDED else condition
            message = dead_letter_message(event.request_id, event.payload, result, reason)
            if self._send(policy.dead_letter_arn,
                          replace(message, trace_header=event.trace_id or trace_id())):
                sent.append(policy.dead_letter_arn)
            else:
                self._metric("DeadLetterErrors", 1.0, event.function_name, event.qualifier)
        self._metric("AsyncEventsDropped", 1.0, event.function_name, event.qualifier)
        self._settle(event, policy, condition, result, attempts, sent)

    def _settle(
        self,
        event: AsyncEvent,
        policy: EventPolicy,
        condition: str,
        result: InvokeResult | None,
        attempts: int,
        sent: list[str] | None = None,
    ) -> None:
        """Send the invocation record where the policy says, then forget the event."""
        sent = sent or []
        destination = policy.on_success if condition == SUCCESS else policy.on_failure
        if destination:
            record = invocation_record(
                request_id=event.request_id,
                function_arn=policy.function_arn,
                condition=condition,
                invoke_count=attempts,
                payload=event.payload,
                result=result,
                now=self._clock.now(),
            )
            if self._send(destination, DestinationMessage(
                    body=record, attributes={}, trace_header=event.trace_id or trace_id())):
                sent.append(destination)
            else:
                self._metric("DestinationDeliveryFailures", 1.0, event.function_name,
                             event.qualifier)
        self._delete(event)
        self._hooks.ended(event, condition, attempts, sent)

    def _send(self, arn: str, message: DestinationMessage) -> bool:
        """Deliver ``message``; ``False`` when the destination could not take it."""
        try:
            self._hooks.deliver(arn, message)
        except Exception:  # AWS counts it (DestinationDeliveryFailures) and moves on
            self.delivery_failures += 1
            return False
        return True

    def _metric(self, metric: str, value: float, function_name: str,
                qualifier: str | None) -> None:
        """One ``AWS/Lambda`` data point about an event of ``function_name``."""
        self._hooks.metrics(
            [LambdaDatum(metric, value, function_name, resource_of(function_name, qualifier))]
        )

    def _delete(self, event: AsyncEvent) -> None:
        with self._store.transaction() as db:
            db.execute("DELETE FROM async_events WHERE id = ?", (event.id,))

    def _release(self, event: AsyncEvent) -> None:
        with self._store.transaction() as db:
            db.execute("UPDATE async_events SET claimed_by = NULL WHERE id = ?", (event.id,))

    # -- looking at the queue ---------------------------------------------------------

    def _has_due(self) -> bool:
        return bool(
            self._store.query(
                "SELECT 1 FROM async_events WHERE next_attempt_at <= ? AND claimed_by IS NULL "
                "LIMIT 1",
                (self._clock.now(),),
            )
        )

    def pending(self) -> int:
        """Events in the queue: waiting, running or waiting for a retry."""
        return int(self._store.query("SELECT COUNT(*) FROM async_events")[0][0])

    def snapshot(self) -> list[QueuedEvent]:
        """Every queued event and its state, oldest first."""
        now = self._clock.now()
        rows = self._store.query(
            f"SELECT {_COLUMNS} FROM async_events WHERE claimed_by IS NOT ? ORDER BY id",
            (_QUARANTINED,),
        )
        return [_queued(AsyncEvent(*row), now) for row in rows]

    def join(self, timeout: float | None = None) -> bool:
        """Wait until no event is due or running (retries scheduled later stay queued).

        Returns False on timeout.
        """
        self.wake()
        with self._lock:
            return self._done.wait_for(
                lambda: not self._claims and not sum(self._running.values()) and not self._has_due(),
                timeout,
            )

    def close(self, timeout: float = 5.0) -> None:
        """Stop the workers; events they did not finish stay queued for the next Lab."""
        with self._lock:
            self._closed = True
            self._work.notify_all()
            threads = list(self._threads)
        for thread in threads:
            thread.join(timeout=timeout)
        with self._store.transaction() as db:
            db.execute(
                "UPDATE async_events SET claimed_by = NULL WHERE claimed_by = ?", (self._token,)
            )


def _queued(event: AsyncEvent, now: float) -> QueuedEvent:
    if event.claimed_by is not None:
        state = "in-flight"
    elif event.next_attempt_at > now:
        state = "retrying"
    else:
        state = "pending"
    return QueuedEvent(
        request_id=event.request_id,
        function_name=event.function_name,
        qualifier=event.qualifier,
        state=state,
        attempts=event.attempts,
        enqueued_at=event.enqueued_at,
        next_attempt_at=event.next_attempt_at,
    )


def _retry_delay(attempts: int) -> float:
    """How long after its ``attempts``-th failed attempt an event is tried again."""
    delays = limits.ASYNC_RETRY_DELAYS_S
    return delays[min(attempts, len(delays)) - 1]


def _error_result(event: AsyncEvent, error_type: str, message: str) -> InvokeResult:
    return InvokeResult(
        status_code=200,
        payload=json.dumps({"errorType": error_type, "errorMessage": message}).encode(),
        function_error="Unhandled",
        request_id=event.request_id,
    )


def _process_alive(token: str) -> bool:
    try:
        os.kill(int(token.split(":", 1)[0]), 0)
    except (ValueError, ProcessLookupError):
        return False
    except PermissionError:
        return True
    return True
