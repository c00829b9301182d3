"""The trace store: segment documents in the lab's database, and what X-Ray answers
from them (summaries, whole traces, service graphs).

Documents are kept as they were sent, one row per segment or independent subsegment,
keyed by trace and id (a later document with the same id replaces an
``in_progress`` one, as X-Ray does). Writes wait in memory and go to the database in
batches (a :class:`~lambdalab.plugin.BatchedWriter`), and before every read: a
transaction per invoke would slow the invoke path, as the cost ledger measured.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Callable, Iterable, Iterator

from lambdalab.plugin import BatchedWriter, Database

from . import quotas

from .segments import SEGMENT_ID, TRACE_ID, trace_epoch

MIGRATIONS: dict[str, str] = {
    "xray-1": """
    CREATE TABLE xray_segments (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        trace_id TEXT NOT NULL,
        id TEXT NOT NULL,
        trace_time REAL NOT NULL,
        start_time REAL NOT NULL,
        document TEXT NOT NULL
    );
    CREATE UNIQUE INDEX xray_segments_by_id ON xray_segments (trace_id, id);
    CREATE INDEX xray_segments_by_time ON xray_segments (trace_time)
    """,
}



class BadDocument(ValueError):
    """A segment document X-Ray would not take; the message says why."""


def checked(text: str | bytes) -> dict[str, Any]:
    """A segment document as X-Ray requires it
    (https://docs.aws.amazon.com/xray/latest/devguide/xray-api-segmentdocuments.html):
    JSON of at most 64 KB with ``name``, ``id`` (16 hex), ``trace_id`` (``1-8hex-24hex``),
    ``start_time`` and ``end_time`` or ``in_progress``; a subsegment sent on its own also
    names its ``parent_id``."""
    size = len(text.encode() if isinstance(text, str) else text)
    if size > quotas.XRAY_SEGMENT_DOCUMENT_MAX_BYTES:
        raise BadDocument(f"The document is {size} bytes; X-Ray takes at most "
                          f"{quotas.XRAY_SEGMENT_DOCUMENT_MAX_BYTES}.")
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError):
        raise BadDocument("The document is not JSON.") from None
    if not isinstance(doc, dict):
        raise BadDocument("The document is not a JSON object.")
    for key, pattern in (("id", SEGMENT_ID), ("trace_id", TRACE_ID)):
        if not isinstance(doc.get(key), str) or not pattern.match(doc[key]):
            raise BadDocument(f"{key}: {doc.get(key)!r} is not a valid {key}.")
    if not isinstance(doc.get("name"), str) or not doc["name"]:
        raise BadDocument("name: a segment needs a name.")
    if not _number(doc.get("start_time")):
        raise BadDocument("start_time: give the start as epoch seconds.")
    if not _number(doc.get("end_time")) and doc.get("in_progress") is not True:
        raise BadDocument("end_time: give the end, or in_progress: true.")
    if doc.get("type") == "subsegment" and not isinstance(doc.get("parent_id"), str):
        raise BadDocument("parent_id: an independent subsegment names its parent.")
    _check_strings(doc, ("origin", "parent_id"))
    _check_subsegments(doc, 1)
    return doc


def _check_strings(doc: dict[str, Any], keys: tuple[str, ...]) -> None:
    for key in keys:
        if key in doc and not isinstance(doc[key], str):
            raise BadDocument(f"{key}: give a string.")


def _check_subsegments(doc: dict[str, Any], depth: int) -> None:
    """Each subsegment, at any depth, is an object with a name and its times."""
    subs = doc.get("subsegments", [])
    if not isinstance(subs, list):
        raise BadDocument("subsegments: give a list of subsegment objects.")
    for sub in subs:
        if depth > _SUBSEGMENT_DEPTH_MAX:
            raise BadDocument(f"subsegments: nested deeper than {_SUBSEGMENT_DEPTH_MAX}.")
        if not isinstance(sub, dict) or not isinstance(sub.get("name"), str):
            raise BadDocument("subsegments: each is an object with a name.")
        if not _number(sub.get("start_time")) or not (
                _number(sub.get("end_time")) or sub.get("in_progress") is True):
            raise BadDocument(f"subsegments: {sub['name'][:80]!r} needs start_time, and "
                              "end_time or in_progress: true.")
        _check_strings(sub, ("id", "namespace"))
        _check_subsegments(sub, depth + 1)


#: How deep subsegments may nest in lambdalab (a guard for its recursive readers).
_SUBSEGMENT_DEPTH_MAX = 64


def _number(value: Any) -> bool:
    """A time: a finite number (JSON's reader takes NaN and Infinity too)."""
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and math.isfinite(value))


def shifted(doc: dict[str, Any], offset: float) -> dict[str, Any]:
    """``doc`` with its times (and its subsegments') moved by ``offset`` seconds."""
    out = dict(doc)
    for key in ("start_time", "end_time"):
        if _number(out.get(key)):
            out[key] = out[key] + offset
    if isinstance(out.get("subsegments"), list):
        out["subsegments"] = [shifted(s, offset) if isinstance(s, dict) else s
                              for s in out["subsegments"]]
    return out


@dataclass(frozen=True)
class Trace:
    """One trace: its segments, each with its independent subsegments put in place."""

    id: str
    segments: list[dict[str, Any]]

    @property
    def start(self) -> float:
        return min(s["start_time"] for s in self.segments)

    @property
    def end(self) -> float:
        return max(s.get("end_time", s["start_time"]) for s in self.segments)

    @property
    def duration(self) -> float:
        return self.end - self.start

    @cached_property
    def _owners(self) -> dict[Any, dict[str, Any]]:
        owners: dict[Any, dict[str, Any]] = {}
        for segment in self.segments:
            owners.update((sub.get("id"), segment) for sub in subsegments(segment))
            owners[segment["id"]] = segment
        return owners

    @cached_property
    def _subsegments(self) -> dict[Any, dict[str, Any]]:
        return {sub.get("id"): sub for segment in self.segments for sub in subsegments(segment)}

    def subsegment(self, subsegment_id: str | None) -> dict[str, Any] | None:
        """The subsegment ``subsegment_id``, at any depth of any segment."""
        return self._subsegments.get(subsegment_id)

    def owner(self, segment_id: str | None) -> dict[str, Any] | None:
        """The segment that is, or holds the subsegment, ``segment_id``."""
        return self._owners.get(segment_id)

    def roots(self) -> list[dict[str, Any]]:
        """The segments whose parent is not in this trace (the entry points); the first
        segment when parents go round in a circle (a made-up trace can)."""
        found = [s for s in self.segments if self.owner(s.get("parent_id")) is None]
        return found or self.segments[:1]

    def children(self, segment: dict[str, Any]) -> list[dict[str, Any]]:
        """The segments called from ``segment`` (their parent is it or one of its
        subsegments, as when an SDK in its handler called another function)."""
        return [s for s in self.segments if s is not segment
                and self.owner(s.get("parent_id")) is segment]


def subsegments(doc: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every subsegment under ``doc``, at any depth."""
    for sub in doc.get("subsegments") or []:
        if isinstance(sub, dict):
            yield sub
            yield from subsegments(sub)


class TraceStore:
    """A lab's trace segments. Get it with :func:`lambdalab_xray.traces`."""

    def __init__(self, store: Database, now: Callable[[], float], *,
                 segments_max: int = quotas.XRAY_SEGMENTS_MAX) -> None:
        self._store = store
        self._now = now
        self.segments_max = segments_max
        self._writer: BatchedWriter[Callable[[], Iterable[dict[str, Any]]]] = BatchedWriter(
            self._write, name="lambdalab_xray", what="trace segments")

    # -- writing ------------------------------------------------------------------------

    def put(self, docs: Iterable[dict[str, Any]]) -> None:
        """Keep checked documents (written within a fraction of a second)."""
        kept = list(docs)
        self.put_later(lambda: kept)

    def put_later(self, make: Callable[[], Iterable[dict[str, Any]]]) -> None:
        """Keep the documents ``make()`` returns; it is called by the writer, so the
        invoke that recorded them does not pay for building and encoding them."""
        self._writer.add(make)

    def flush(self) -> None:
        """Write what waits; drop the oldest past ``segments_max`` and past retention."""
        self._writer.flush()

    def _write(self, waiting: list[Callable[[], Iterable[dict[str, Any]]]]) -> None:
        batch = [(d["trace_id"], d["id"], trace_epoch(d["trace_id"]), d["start_time"],
                  json.dumps(d)) for make in waiting for d in make()]
        if not batch:
            return
        oldest = self._now() - quotas.XRAY_TRACE_RETENTION_DAYS * 86400
        with self._store.transaction() as db:
            db.executemany(
                "INSERT OR REPLACE INTO xray_segments "
                "(trace_id, id, trace_time, start_time, document) VALUES (?, ?, ?, ?, ?)",
                batch,
            )
            db.execute("DELETE FROM xray_segments WHERE seq <= "
                       "(SELECT MAX(seq) FROM xray_segments) - ?", (self.segments_max,))
            db.execute("DELETE FROM xray_segments WHERE trace_time < ?", (oldest,))

    def close(self) -> None:
        """Stop the writer and write what waits (the lab calls it as it closes)."""
        self._writer.close()

    # -- reading ------------------------------------------------------------------------

    def trace_ids(self, start: float, end: float) -> list[str]:
        """Traces whose id's time is in ``[start, end]``, the newest first."""
        self.flush()
        rows = self._store.query(
            "SELECT trace_id, MAX(trace_time) AS t FROM xray_segments "
            "WHERE trace_time BETWEEN ? AND ? GROUP BY trace_id ORDER BY t DESC, trace_id",
            (start, end),
        )
        return [row["trace_id"] for row in rows]

    def trace(self, trace_id: str) -> Trace | None:
        """The trace, its independent subsegments placed under their parents."""
        self.flush()
        rows = self._store.query(
            "SELECT document FROM xray_segments WHERE trace_id = ? ORDER BY start_time, seq",
            (trace_id,),
        )
        return _assembled(trace_id, [json.loads(row["document"]) for row in rows])

    def traces(self, start: float, end: float) -> list[Trace]:
        """The traces of :meth:`trace_ids`, read in one query."""
        self.flush()
        rows = self._store.query(
            "SELECT trace_id, document FROM xray_segments WHERE trace_time BETWEEN ? AND ? "
            "ORDER BY trace_time DESC, trace_id, start_time, seq", (start, end))
        grouped: dict[str, list[dict[str, Any]]] = {}
        for row in rows:
            grouped.setdefault(row["trace_id"], []).append(json.loads(row["document"]))
        return [t for t in (_assembled(k, docs) for k, docs in grouped.items()) if t is not None]


def _assembled(trace_id: str, docs: list[dict[str, Any]]) -> Trace | None:
    """A trace of its documents, independent subsegments placed under their parents."""
    segments = [d for d in docs if d.get("type") != "subsegment"]
    for sub in (d for d in docs if d.get("type") == "subsegment"):
        parent = _find(segments, sub["parent_id"])
        if parent is None:
            continue  # its parent has not arrived (yet): X-Ray shows it only then
        parent.setdefault("subsegments", []).append(
            {k: v for k, v in sub.items() if k not in ("type", "trace_id", "parent_id")})
    return Trace(trace_id, segments) if segments else None


def _find(docs: list[dict[str, Any]], segment_id: str) -> dict[str, Any] | None:
    """The segment or subsegment with this id, anywhere under ``docs``."""
    for doc in docs:
        if doc.get("id") == segment_id:
            return doc
        found = _find([s for s in doc.get("subsegments") or [] if isinstance(s, dict)],
                      segment_id)
        if found is not None:
            return found
    return None
