"""How the log store keeps events on disk: many events of one log group to a row.

A warm invoke writes three events (START, END, REPORT). Stored as three rows, SQLite's
inserts and the index on the group cost a warm invoke about a tenth of its time (issue
21 measured 16-19 % with the writer's competition for the interpreter counted). So a
flush keeps each log group's events as one :class:`Chunk` (one row of ``log_chunks``):

- ``text``: the messages one after another, UTF-8 compressed in the zlib format (an
  invoke's START, END and REPORT lines shrink about 8x), with ``lengths``, the
  characters of each;
- ``runs``: the runs of lines the writers handed over, each a timestamp, a stream (an
  index into ``streams``) and a count of lines;
- ``id`` and ``span``: the chunk's events have the ids ``id`` … ``id + span - 1``, in
  the order they were written, so ids grow with time across chunks as they did with a
  row an event. A chunk that lost some events (retention, the size cap, a deleted
  stream) keeps its ids: ``offsets`` then says which ids are left.

The arrays are stored little-endian whatever the machine. A chunk with no ``runs`` holds
one event (what the migration from a row an event made): its stream is ``streams[0]``,
its timestamp ``first_ts``, and its ``text`` is the message itself (not compressed).
"""

from __future__ import annotations

import json
import sys
from array import array
from dataclasses import dataclass, field
from typing import Any, Iterator, Sequence

from isal import isal_zlib

from . import limits

#: The columns of ``log_chunks`` a chunk is read from, in :func:`events_of`'s order.
COLUMNS = "id, log_group, span, first_ts, last_ts, streams, runs, lengths, offsets, text"
#: The statement that writes a chunk's row (:meth:`Chunk.row`).
INSERT = ("INSERT INTO log_chunks (id, log_group, span, first_ts, last_ts, events, bytes, "
          "streams, runs, lengths, offsets, text) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
#: Characters of messages past which a flush starts another chunk of the same group.
CHUNK_MAX_CHARS = 4 * 1024 * 1024
_BIG_ENDIAN = sys.byteorder == "big"
#: ISA-L's level 1 (``isal_zlib``: the zlib format, which the standard library reads
#: too): a warm invoke's START, END and REPORT shrink about 8x (their request id three
#: times over) for 0.15 µs of the writer's time, without the GIL; the standard
#: library's fastest level took 0.83 µs for 7.5x.
_COMPRESSION_LEVEL = 1

#: One event as a chunk yields it: its id, stream, timestamp (epoch ms) and message.
Event = tuple[int, str, int, str]


def _packed(values: array) -> bytes:  # type: ignore[type-arg]
    if _BIG_ENDIAN:
        values = array(values.typecode, values)
        values.byteswap()
    return values.tobytes()


def _unpacked(typecode: str, data: bytes) -> array:  # type: ignore[type-arg]
    values = array(typecode, data)
    if _BIG_ENDIAN:
        values.byteswap()
    return values


@dataclass
class Chunk:
    """Events of one log group on their way to a row, gathered a run at a time."""

    group: str
    streams: dict[str, int] = field(default_factory=dict)  # name -> index, in order
    run_ts: array = field(default_factory=lambda: array("q"))  # type: ignore[type-arg]
    run_stream: array = field(default_factory=lambda: array("I"))  # type: ignore[type-arg]
    run_lines: array = field(default_factory=lambda: array("I"))  # type: ignore[type-arg]
    messages: list[str] = field(default_factory=list)
    chars: int = 0
    #: Which ids of the span are left (None: every one, in order).
    offsets: Sequence[int] | None = None

    def add(self, stream: str, ts: int, lines: Sequence[str]) -> None:
        """One run: ``lines`` written to ``stream`` at ``ts`` (the flush inlines this)."""
        index = self.streams.get(stream)
        if index is None:
            index = self.streams[stream] = len(self.streams)
        self.run_ts.append(ts)
        self.run_stream.append(index)
        self.run_lines.append(len(lines))
        self.messages += lines
        self.chars += sum(map(len, lines))

    def row(self, chunk_id: int, span: int | None = None) -> tuple[Any, ...]:
        """The chunk's row for :data:`~lambdalab.log_chunks.INSERT`; ``span`` is its
        count of events unless some were deleted from it."""
        messages = self.messages
        if max(map(len, messages)) > _SURELY_FITS:
            messages = [event_message(message) for message in messages]
        data = "".join(messages).encode("utf-8", "surrogatepass")
        offsets = None if self.offsets is None else _packed(array("I", self.offsets))
        return (
            chunk_id, self.group, len(messages) if span is None else span,
            min(self.run_ts), max(self.run_ts), len(messages),
            len(data) + len(messages) * limits.LOG_EVENT_OVERHEAD_BYTES,
            json.dumps(list(self.streams)),
            _packed(self.run_ts) + _packed(self.run_stream) + _packed(self.run_lines),
            _packed(array("I", map(len, messages))), offsets,
            isal_zlib.compress(data, _COMPRESSION_LEVEL),
        )


def chunks_of(items: Sequence[Any]) -> list[Chunk]:
    """The chunks of the runs a flush took, in order: ``items`` holds them one after
    another, each its group, stream, timestamp (epoch ms), characters and count of
    lines, then its lines (as ``lambdalab.logs.LogStore`` buffers them). One chunk a
    group, and another each :data:`CHUNK_MAX_CHARS` of messages. Thousands of runs wait
    at each flush, so this is :meth:`Chunk.add` inlined."""
    open_chunks: dict[str, Chunk] = {}
    done: list[Chunk] = []
    at, end = 0, len(items)
    while at < end:
        group, stream, ts, chars, count = items[at:at + 5]
        first = at + 5
        at = first + count
        if not count:
            continue
        chunk = open_chunks.get(group)
        if chunk is None:
            chunk = open_chunks[group] = Chunk(group)
        index = chunk.streams.get(stream)
        if index is None:
            index = chunk.streams[stream] = len(chunk.streams)
        chunk.run_ts.append(ts)
        chunk.run_stream.append(index)
        chunk.run_lines.append(count)
        chunk.messages += items[first:at]
        chunk.chars += chars
        if chunk.chars >= CHUNK_MAX_CHARS:
            done.append(open_chunks.pop(group))
    return done + list(open_chunks.values())


def events_of(row: Sequence[Any]) -> Iterator[Event]:
    """The events a ``log_chunks`` row (:data:`COLUMNS`) holds, in order."""
    chunk_id, text = row[0], row[9]
    if isinstance(text, bytes):  # compressed; a migrated event's stays as it was
        text = isal_zlib.decompress(text).decode("utf-8", "surrogatepass")
    streams = json.loads(row[5])
    if row[6] is None:  # one event
        yield chunk_id + (_unpacked("I", row[8])[0] if row[8] else 0), streams[0], row[3], text
        return
    runs = row[6]
    count = len(runs) // 16
    run_ts = _unpacked("q", runs[:8 * count])
    run_stream = _unpacked("I", runs[8 * count:12 * count])
    run_lines = _unpacked("I", runs[12 * count:])
    lengths = _unpacked("I", row[7])
    offsets: Sequence[int] = range(len(lengths)) if row[8] is None else _unpacked("I", row[8])
    event = start = 0
    for ts, stream, lines in zip(run_ts, run_stream, run_lines):
        name = streams[stream]
        for _ in range(lines):
            end = start + lengths[event]
            yield chunk_id + offsets[event], name, ts, text[start:end]
            start = end
            event += 1


def rewritten(group: str, chunk_id: int, kept: Sequence[Event]) -> Chunk:
    """A chunk of ``kept``, events that a chunk of ``group`` (``chunk_id``) still holds
    once others were deleted from it; their ids stay theirs."""
    chunk = Chunk(group, offsets=[event_id - chunk_id for event_id, *_ in kept])
    last: tuple[str, int] | None = None
    for _, stream, ts, message in kept:
        if (stream, ts) == last:  # the same run as the event before
            chunk.run_lines[-1] += 1
            chunk.messages.append(message)
            continue
        chunk.add(stream, ts, [message])
        last = (stream, ts)
    return chunk


def event_message(line: str) -> str:
    """``line`` cut to what one log event holds: 1 MB with its 26 bytes of overhead.

    AWS documents the event limit, not what Lambda does with a longer line; lambdalab
    keeps the first bytes of it, whole characters only.
    """
    if len(line) <= _SURELY_FITS:
        return line
    data = line.encode("utf-8", "surrogatepass")
    room = limits.LOG_EVENT_MAX_BYTES - limits.LOG_EVENT_OVERHEAD_BYTES
    if len(data) <= room:
        return line
    return data[:room].decode("utf-8", "ignore")


#: Characters of a line that one event holds however it encodes (4 UTF-8 bytes each at most).
_SURELY_FITS = (limits.LOG_EVENT_MAX_BYTES - limits.LOG_EVENT_OVERHEAD_BYTES) // 4
