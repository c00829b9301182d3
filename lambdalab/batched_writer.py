"""A background writer that batches records into one transaction at a time.

Records that the invoke path or the edge produces (cost rows, trail events, trace
segments) must not cost a transaction each: one per warm invoke made it about 1.7 times
as slow (the cost ledger measured it). A :class:`BatchedWriter` keeps what it is given in
memory and hands it to its ``write`` function in batches: every ``interval`` real
seconds from a thread of its own, as soon as ``pending_max`` wait, whenever a reader
calls :meth:`~BatchedWriter.flush`, and on :meth:`~BatchedWriter.close`, so nothing
acknowledged is lost when the lab closes.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from typing import Callable, Generic, TypeVar

T = TypeVar("T")

#: Real seconds between background writes (lambdalab's own figure, as the log store's).
FLUSH_INTERVAL_S = 0.2
#: Records that may wait; past it, the one who adds writes them itself, and a write that
#: keeps failing keeps only the newest this many.
PENDING_MAX = 10_000


class BatchedWriter(Generic[T]):
    """Records of type ``T`` written in batches by ``write(batch)``, off the caller's path.

    ``write`` runs in one transaction of its own and raises :class:`sqlite3.Error` when
    it cannot write (a full disk): the batch is then kept for the next try and the
    background writer warns once on ``logger`` (until a write succeeds again), naming
    ``what`` it could not record; a caller of :meth:`flush` sees the error. ``name``
    names the thread and starts the warning::

        from lambdalab.plugin import BatchedWriter

        writer = BatchedWriter(insert_all, name="lambdalab_widgets", what="widgets")
        writer.add(row)      # returns at once
        writer.flush()       # before a read: what was added is in the database
        writer.close()       # with the lab (a value in lab.stash): the rest is written

    With ``width`` (a record's count of values), each record is kept as its values, one
    record after another, and ``write`` gets them so, as :func:`insert_rows` takes them.
    A record that waits as a tuple counts toward the garbage collector's young passes
    until it is written: the cost ledger's tuple an invoke set off 7-8 young collections
    in 24,000 warm invokes, 0.8-2 ms each, where its values flat set off none.
    """

    def __init__(
        self,
        write: Callable[[list[T]], None],
        *,
        name: str,
        what: str = "records",
        logger: logging.Logger | None = None,
        interval: float = FLUSH_INTERVAL_S,
        pending_max: int = PENDING_MAX,
        width: int = 1,
    ) -> None:
        self._write = write
        self.name = name
        self.what = what
        self._log = logger or logging.getLogger(name)
        self._interval = interval
        self.pending_max = pending_max
        self._width = width
        self._pending: list[T] = []
        self._lock = threading.Lock()
        self._flushing = threading.Lock()
        self._wake = threading.Event()
        self._closed = False
        self._warned = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def add(self, item: T) -> None:
        """Keep ``item`` for the next batch; write now if ``pending_max`` wait, or if the
        writer is closed (a last record that comes after the lab closed)."""
        with self._lock:
            if self._width == 1:
                self._pending.append(item)
            else:
                self._pending.extend(item)  # type: ignore[arg-type]  # a record's values
            full = len(self._pending) >= self.pending_max * self._width
        if full or self._closed:
            self.flush_or_warn()

    def flush(self) -> None:
        """Write what waits, and return only once any write already under way has
        committed too (so a read after it sees every record added before it)."""
        with self._flushing:
            with self._lock:
                batch, self._pending = self._pending, []
            if not batch:
                return
            try:
                self._write(batch)
            except sqlite3.Error:
                with self._lock:  # kept for the next try, the newest first
                    self._pending = (batch + self._pending)[-self.pending_max * self._width:]
                raise

    def flush_or_warn(self) -> None:
        """:meth:`flush`, but a write that fails is reported (once) instead of raised: a
        recorder that cannot write never fails the invoke or the call it records."""
        try:
            self.flush()
            self._warned = False
        except sqlite3.Error as error:
            if self._warned:
                return
            self._warned = True
            self._log.warning("%s: could not record %s (%s); the newest %s wait in memory "
                              "for the next try", self.name, self.what, error,
                              f"{self.pending_max:,}")
        except Exception:  # a bug in ``write``: that batch is lost, the writer goes on
            self._log.exception("%s: could not record %s", self.name, self.what)

    def _run(self) -> None:
        while not self._closed:
            self._wake.wait(self._interval)
            self.flush_or_warn()

    @property
    def pending(self) -> int:
        """How many records wait to be written."""
        with self._lock:
            return len(self._pending) // self._width

    def close(self) -> None:
        """Stop the background thread and write what waits; records added later are
        written as they come."""
        self._closed = True
        self._wake.set()
        self._thread.join()
        self.flush_or_warn()
