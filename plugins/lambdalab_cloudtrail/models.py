"""The trail: a lab's CloudTrail management events, in the lab's database, and the
lookups LookupEvents makes of them.

Events are written in batches by a :class:`~lambdalab.plugin.BatchedWriter` (a call
never waits for a transaction), and bounded: the last 90 days on the lab's clock, as CloudTrail's event
history keeps, and at most ``events_max`` (lambdalab's own bound).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from lambdalab.plugin import ApiCall, BatchedWriter, Database

from .events import Recorded, is_management_event, recorded
from .quotas import EVENT_HISTORY_S

MIGRATIONS: dict[str, str] = {
    "cloudtrail-1": """
    CREATE TABLE cloudtrail_events (
        event_id TEXT NOT NULL,
        at REAL NOT NULL,
        event_name TEXT NOT NULL,
        event_source TEXT NOT NULL,
        username TEXT,
        access_key_id TEXT,
        read_only INTEGER NOT NULL,
        resource_type TEXT,
        resource_name TEXT,
        event TEXT NOT NULL
    );
    CREATE INDEX cloudtrail_events_by_time ON cloudtrail_events (at)
    """,
}

#: Events the trail keeps at most (lambdalab's own bound); past it, the oldest go.
EVENTS_MAX = 100_000

#: LookupEvents' attribute keys → the column each is looked up in.
ATTRIBUTE_COLUMNS: dict[str, str] = {
    "EventId": "event_id",
    "EventName": "event_name",
    "ReadOnly": "read_only",
    "Username": "username",
    "ResourceType": "resource_type",
    "ResourceName": "resource_name",
    "EventSource": "event_source",
    "AccessKeyId": "access_key_id",
}


@dataclass(frozen=True)
class Lookup:
    """Which events: one lookup attribute (key, value), a time range ``[start, end]``
    on the lab's clock (epoch seconds), and where the last page ended (``before``: the
    position of its last event)."""

    attribute: tuple[str, str] | None = None
    start: float | None = None
    end: float | None = None
    before: tuple[float, int] | None = None

    def where(self) -> tuple[str, tuple[Any, ...]]:
        clauses: list[str] = []
        params: list[Any] = []
        if self.attribute is not None:
            key, value = self.attribute
            clauses.append(f"{ATTRIBUTE_COLUMNS[key]} = ?")
            params.append((value == "true") if key == "ReadOnly" else value)
        if self.start is not None:
            clauses.append("at >= ?")
            params.append(self.start)
        if self.end is not None:
            clauses.append("at <= ?")
            params.append(self.end)
        if self.before is not None:
            clauses.append("(at < ? OR (at = ? AND rowid < ?))")
            params.extend((self.before[0], self.before[0], self.before[1]))
        return (" WHERE " + " AND ".join(clauses) if clauses else ""), tuple(params)


@dataclass(frozen=True)
class Found:
    """One event a lookup found, and where it lies (for the next page)."""

    position: tuple[float, int]
    event: Recorded


class Trail:
    """A lab's management events. Get it with :func:`lambdalab_cloudtrail.trail`."""

    def __init__(self, store: Database, now: Callable[[], float], account_id: str, *,
                 events_max: int = EVENTS_MAX) -> None:
        self._store = store
        self._now = now
        self.account_id = account_id
        self.events_max = events_max
        self._writer = BatchedWriter(self._write, name="lambdalab_cloudtrail", what="events")

    # -- recording ----------------------------------------------------------------------

    def record(self, call: ApiCall) -> None:
        """Keep ``call`` as an event, when it is a management event (written within a
        fraction of a second, :class:`~lambdalab.plugin.BatchedWriter`; a lookup writes
        what waits first)."""
        if is_management_event(call):
            self._writer.add(recorded(call, self.account_id))

    def flush(self) -> None:
        """Write the events that wait; drop those past 90 days and past ``events_max``."""
        self._writer.flush()

    def _write(self, batch: list[Recorded]) -> None:
        with self._store.transaction() as db:
            db.executemany(
                "INSERT INTO cloudtrail_events VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(e.event_id, e.at, e.event_name, e.event_source, e.username,
                  e.access_key_id, e.read_only, e.resource_type, e.resource_name,
                  e.event) for e in batch],
            )
            db.execute("DELETE FROM cloudtrail_events WHERE at < ?",
                       (self._now() - EVENT_HISTORY_S,))
            db.execute(
                "DELETE FROM cloudtrail_events WHERE rowid <= "
                "(SELECT MAX(rowid) FROM cloudtrail_events) - ?",
                (self.events_max,),
            )

    def close(self) -> None:
        """Stop the writer and write what waits (the lab calls it as it closes)."""
        self._writer.close()

    # -- reading ------------------------------------------------------------------------

    def lookup(self, lookup: Lookup = Lookup(), limit: int | None = None) -> list[Found]:
        """The events ``lookup`` asks for, newest first, at most ``limit``; only those of
        the last 90 days on the lab's clock."""
        self.flush()
        oldest = self._now() - EVENT_HISTORY_S
        if lookup.start is None or lookup.start < oldest:
            lookup = Lookup(lookup.attribute, oldest, lookup.end, lookup.before)
        where, params = lookup.where()
        rows = self._store.query(
            f"SELECT rowid, * FROM cloudtrail_events{where} ORDER BY at DESC, rowid DESC"
            + (" LIMIT ?" if limit is not None else ""),
            params + ((limit,) if limit is not None else ()),
        )
        return [Found((row["at"], row["rowid"]), _recorded(row)) for row in rows]


def _recorded(row: Any) -> Recorded:
    return Recorded(row["event_id"], row["at"], row["event_name"], row["event_source"],
                    row["username"], row["access_key_id"], bool(row["read_only"]),
                    row["resource_type"], row["resource_name"], row["event"])


__all__ = ["ATTRIBUTE_COLUMNS", "EVENTS_MAX", "Found", "Lookup", "MIGRATIONS", "Trail"]
