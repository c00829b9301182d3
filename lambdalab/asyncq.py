"""The asynchronous event queue: ``Event`` invocations are committed here, then run.

"Lambda places the event in a queue and returns a success response without additional
information. A separate process reads events from the queue and sends them to your
function." (https://docs.aws.amazon.com/lambda/latest/dg/invocation-async.html)

An event is committed to the data dir before ``invoke`` returns 202, and deleted only
after it has run, so nothing acknowledged is lost by a restart: pending events are
picked up again when the next :class:`~lambdalab.Lab` opens the data dir.

This is the seam the full asynchronous machinery (retries with AWS's delays, maximum
event age, destinations, dead-letter queues) grows from; today each event runs once.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Callable

from .errors import LambdaError, TooManyRequestsException
from .store import Store


@dataclass(frozen=True)
class AsyncEvent:
    id: int
    request_id: str
    function_name: str
    qualifier: str | None
    payload: bytes
    client_context: str | None


class EventQueue:
    """A durable FIFO of events, drained by one worker thread."""

    def __init__(self, store: Store, run: Callable[[AsyncEvent], None]) -> None:
        self._store = store
        self._run = run
        self._cond = threading.Condition()
        self._closed = False
        self._running = 0
        self._thread: threading.Thread | None = None

    def put(
        self,
        function_name: str,
        qualifier: str | None,
        payload: bytes,
        client_context: str | None,
        request_id: str,
    ) -> None:
        """Commit the event; when this returns, it will run even after a crash."""
        with self._store.transaction() as db:
            db.execute(
                "INSERT INTO async_events (request_id, function, qualifier, payload, "
                "client_context, enqueued_at) VALUES (?, ?, ?, ?, ?, ?)",
                (request_id, function_name, qualifier, payload, client_context, time.time()),
            )
        self.wake()

    def wake(self) -> None:
        """Start the worker (if needed) and tell it there may be work."""
        with self._cond:
            if self._thread is None and not self._closed:
                self._thread = threading.Thread(
                    target=self._work, name="lambdalab-async", daemon=True
                )
                self._thread.start()
            self._cond.notify_all()

    def pending(self) -> int:
        return int(self._store.query("SELECT COUNT(*) FROM async_events")[0][0])

    def _next(self) -> AsyncEvent | None:
        rows = self._store.query(
            "SELECT id, request_id, function, qualifier, payload, client_context "
            "FROM async_events ORDER BY id LIMIT 1"
        )
        return AsyncEvent(*rows[0]) if rows else None

    def _work(self) -> None:
        while True:
            with self._cond:
                if self._closed:
                    return
                self._running = 1
            event = self._next()
            if event is None:
                with self._cond:
                    self._running = 0
                    self._cond.notify_all()
                    if not self._closed:
                        self._cond.wait()
                continue
            try:
                self._run(event)
            except TooManyRequestsException:
                with self._cond:  # wait for an execution to finish, then try again
                    self._cond.wait(0.05)
                continue
            except LambdaError:
                pass  # the function was deleted meanwhile: the event cannot run
            with self._store.transaction() as db:
                db.execute("DELETE FROM async_events WHERE id = ?", (event.id,))

    def join(self, timeout: float | None = None) -> bool:
        """Wait until every queued event has run. Returns False on timeout."""
        self.wake()
        with self._cond:
            return self._cond.wait_for(
                lambda: self._running == 0 and self.pending() == 0, timeout
            )

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=5)
