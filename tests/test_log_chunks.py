"""The log store keeps many events to a row (:mod:`lambdalab.log_chunks`): what readers see
is the same as with a row an event, and an event keeps its id through retention, the size
cap, a deleted stream and the migration of an older data dir."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from lambdalab import limits
from lambdalab.logs import LogEvent, LogStore
from lambdalab.store import MIGRATIONS, Database, Store

T0 = 1_700_000_000.0  # epoch seconds


def store(path: Path, **options: object) -> LogStore:
    return LogStore(Store(path), flush_interval=3600, **options)  # type: ignore[arg-type]


def written(logs: LogStore) -> list[LogEvent]:
    """Two streams of one group interleaved in one flush (one chunk), a second group
    between them, and PutLogEvents' events with their own times."""
    for n in range(6):
        logs.write("g", f"s{n % 2}", [f"START {n}", f"line {n} é", f"END {n}"], T0 + n * 60)
        logs.write("other", "x", [f"other {n}"], T0 + n * 60)
    logs.write_events("g", "s9", [(int(T0 * 1000) + 1, "put one"), (int(T0 * 1000) + 2, "put two")])
    logs.flush()
    return logs.read("g")


def test_one_flush_keeps_each_groups_events_in_order_with_ids_that_grow(tmp_path: Path) -> None:
    logs = store(tmp_path / "data")
    try:
        events = written(logs)
        assert [e.message for e in events[:3]] == ["START 0", "line 0 é", "END 0"]
        assert [e.log_stream for e in events[:6]] == ["s0"] * 3 + ["s1"] * 3
        assert [e.message for e in events[-2:]] == ["put one", "put two"]
        assert [e.timestamp for e in events[-2:]] == [int(T0 * 1000) + 1, int(T0 * 1000) + 2]
        ids = [e.id for e in events]
        assert ids == sorted(set(ids))
        assert [e.message for e in logs.read("other")] == [f"other {n}" for n in range(6)]
        # Paging from any id, either way, gives the same events.
        assert logs.query("g", after_id=ids[4], limit=3) == events[5:8]
        assert logs.query("g", before_id=ids[4], limit=2, newest_first=True) == events[2:4][::-1]
        assert logs.query("g", streams=["s1"], start_ms=int((T0 + 180) * 1000)) == [
            e for e in events if e.log_stream == "s1" and e.timestamp >= (T0 + 180) * 1000
        ]
        stored = sum(len(e.message.encode()) + limits.LOG_EVENT_OVERHEAD_BYTES
                     for group in ("g", "other") for e in logs.read(group))
        assert logs.stored_bytes() == stored
        summaries = {s.name: s for s in logs.streams("g")}
        assert sorted(summaries) == ["s0", "s1", "s9"]
        assert summaries["s1"].first_timestamp == (T0 + 60) * 1000
        assert summaries["s1"].last_timestamp == (T0 + 300) * 1000
        assert sum(s.stored_bytes for s in summaries.values()) == sum(
            len(e.message.encode()) + limits.LOG_EVENT_OVERHEAD_BYTES for e in events)
        # A second flush continues the ids after the first's.
        logs.write("g", "s0", ["later"], T0 + 999)
        logs.flush()
        assert logs.read("g", after_id=ids[-1])[0].message == "later"
    finally:
        logs.close()


def test_events_deleted_from_inside_a_chunk_leave_the_others_ids_alone(tmp_path: Path) -> None:
    now = [T0 + 3 * 86_400 + 150]
    logs = store(tmp_path / "data", now=lambda: now[0])
    try:
        events = written(logs)
        logs.delete_group("g", "s1")  # half of the chunk's runs
        left = [e for e in events if e.log_stream != "s1"]
        assert logs.read("g") == left
        logs.put_retention_policy("g", 3)  # events before T0 + 150 s expire
        kept = [e for e in left if e.timestamp >= (T0 + 150) * 1000]
        assert 0 < len(kept) < len(left)
        assert logs.read("g") == kept
        assert logs.read("g", after_id=kept[0].id) == kept[1:]  # a follower's place holds
        assert logs.stored_bytes() == sum(
            len(e.message.encode()) + limits.LOG_EVENT_OVERHEAD_BYTES
            for group in ("g", "other") for e in logs.read(group))
        logs._stored_bytes = None  # counted again from the table
        assert logs.stored_bytes() == sum(
            len(e.message.encode()) + limits.LOG_EVENT_OVERHEAD_BYTES
            for group in ("g", "other") for e in logs.read(group))
    finally:
        logs.close()


def test_the_cap_cuts_into_one_big_chunk_from_its_oldest_event(tmp_path: Path) -> None:
    cap = 64 * 1024
    logs = store(tmp_path / "data", max_bytes=cap)
    try:
        lines = [f"{n:05d} " + "x" * 100 for n in range(2_000)]  # ~260 KB: one chunk
        logs.write("g", "s", lines, T0)
        logs.flush()
        kept = logs.read("g")
        assert logs.stored_bytes() <= cap
        assert logs.stored_bytes() >= cap * limits.LOG_STORE_LOW_WATER - 200  # not all gone
        assert [e.message for e in kept] == lines[-len(kept):]  # the newest, in order
        assert kept[-1].id - kept[0].id == len(kept) - 1
    finally:
        logs.close()


def test_two_stores_on_one_data_dir_never_share_an_id(tmp_path: Path) -> None:
    first, second = store(tmp_path / "data"), store(tmp_path / "data")
    try:
        for n in range(20):
            (first if n % 2 else second).write("g", "s", [f"{n} a", f"{n} b"], T0 + n)
            (first if n % 2 else second).flush()
        events = first.read("g")
        assert [e.message for e in events] == [f"{n} {x}" for n in range(20) for x in "ab"]
        assert len({e.id for e in events}) == 40
    finally:
        first.close()
        second.close()


def test_an_older_data_dir_keeps_its_events_and_their_ids(tmp_path: Path) -> None:
    """A data dir written with a row an event (before migration ``logs-2``) opens with
    every event, id, stream, time and byte count it had."""
    path = tmp_path / "data"
    path.mkdir()
    older = {name: script for name, script in MIGRATIONS.items() if name != "logs-2"}
    database = Database(path / "lambdalab.db", older)
    rows = [(7, "g", "s\"1", 1000, "hello\n"), (9, "g", "s2", 2000, "wörld\n"),
            (12, "h", "s1", 3000, "other\n")]
    with database.transaction() as db:
        db.executemany("INSERT INTO log_events (id, log_group, log_stream, timestamp, message) "
                       "VALUES (?, ?, ?, ?, ?)", rows)
    database.close()
    logs = store(path)
    try:
        assert [(e.id, e.log_group, e.log_stream, e.timestamp, e.message)
                for e in logs.read("g") + logs.read("h")] == rows
        assert logs.stored_bytes() == sum(len(r[4].encode()) + 26 for r in rows)
        logs.write("g", "s2", ["new"], T0)
        logs.flush()
        assert logs.read("g", after_id=9)[0].id > 12  # after every id the dir had
        tables = {row[0] for row in sqlite3.connect(path / "lambdalab.db").execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert "log_events" not in tables
    finally:
        logs.close()


def test_a_chunk_keeps_its_messages_compressed(tmp_path: Path) -> None:
    """Warm invokes' START, END and REPORT lines take a fraction of what CloudWatch Logs
    counts for them (their request id three times over, the same words each time)."""
    logs = store(tmp_path / "data")
    try:
        for n in range(1_000):
            request = f"{n:08d}-1111-2222-3333-444444444444"
            logs.write("g", "s", [f"START RequestId: {request} Version: $LATEST\n",
                                  f"END RequestId: {request}\n",
                                  f"REPORT RequestId: {request}\tDuration: 1.{n % 97:02d} ms\t\n"])
        logs.flush()
        kept = logs._store.query("SELECT SUM(length(text)) FROM log_chunks")[0][0]
        assert kept * 4 < logs.stored_bytes()
        assert logs.read("g", limit=3_000)[-1].message.startswith("REPORT RequestId: 00000999-")
    finally:
        logs.close()


def test_a_chunks_text_is_the_zlib_format_both_ways(tmp_path: Path) -> None:
    """The store deflates with ISA-L, in the zlib format: the standard library reads what
    it wrote (a data dir needs no ISA-L to be read), and it reads a chunk the standard
    library deflated (a data dir written before it)."""
    import zlib

    logs = store(tmp_path / "data")
    try:
        events = written(logs)
        (text,) = logs._store.query("SELECT text FROM log_chunks WHERE log_group = 'g'")[0]
        assert zlib.decompress(text).decode() == "".join(e.message for e in events)
        with logs._store.transaction() as db:
            db.execute("UPDATE log_chunks SET text = ? WHERE log_group = 'g'",
                       (zlib.compress(zlib.decompress(text), 9),))
        assert [e.message for e in logs.read("g")] == [e.message for e in events]
    finally:
        logs.close()


def test_a_damaged_chunk_is_reported_and_skipped_and_retention_still_deletes_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    now = [T0]
    logs = store(tmp_path / "data", now=lambda: now[0])
    try:
        logs.write("g", "s", ["old one", "old two"], T0)
        logs.flush()
        logs.write("g", "s", ["new"], T0 + 2 * 86_400)
        logs.flush()
        with logs._store.transaction() as db:  # a chunk whose messages no longer inflate
            db.execute("UPDATE log_chunks SET text = x'00ff' WHERE id = "
                       "(SELECT MIN(id) FROM log_chunks)")
        assert [e.message for e in logs.read("g")] == ["new"]
        assert [s.name for s in logs.streams("g")] == ["s"]
        assert "skipped a damaged row of log_chunks" in caplog.text
        now[0] = T0 + 2 * 86_400
        logs.put_retention_policy("g", 1)  # the damaged chunk's events are past it
        assert logs._store.query("SELECT COUNT(*) FROM log_chunks")[0][0] == 1
        assert logs.stored_bytes() == len("new") + limits.LOG_EVENT_OVERHEAD_BYTES
    finally:
        logs.close()


# -- the store against a model of a row an event ------------------------------------------

from hypothesis import settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.stateful import RuleBasedStateMachine, initialize, rule  # noqa: E402

GROUPS, STREAMS = ("g", "h"), ("s0", "s1", "s2")
LINES = st.lists(st.text(alphabet="aé😀\n\t x", min_size=1, max_size=30), min_size=1, max_size=6)
CAP = 1_000  # bytes as CloudWatch Logs counts them: some 20 events


class LogStoreAgainstAModel(RuleBasedStateMachine):
    """Writes, flushes, deleted streams, retention and the cap in any order: every group
    reads as a list of events (one per line, in write order) would, and an event keeps
    the id it was first read with."""

    @initialize()
    def start(self) -> None:
        import tempfile

        self.tmp = tempfile.TemporaryDirectory()
        self.now = T0
        self.logs = store(Path(self.tmp.name), now=lambda: self.now, max_bytes=CAP)
        self.model: list[list[object]] = []  # [id or None, group, stream, ts, message]
        self.pending: list[list[object]] = []  # written, not flushed
        self.retention_days: dict[str, int] = {}

    def teardown(self) -> None:
        self.logs.close()
        self.tmp.cleanup()

    @rule(group=st.sampled_from(GROUPS), stream=st.sampled_from(STREAMS), lines=LINES)
    def write(self, group: str, stream: str, lines: list[str]) -> None:
        self.logs.write(group, stream, lines)
        self.pending += [[None, group, stream, int(self.now * 1000), line] for line in lines]

    @rule(seconds=st.integers(min_value=1, max_value=3 * 86_400))
    def later(self, seconds: int) -> None:
        self.now += seconds

    @rule()
    def flush(self) -> None:
        self.logs.flush()
        self._flushed()

    @rule(group=st.sampled_from(GROUPS), stream=st.sampled_from(STREAMS))
    def delete_stream(self, group: str, stream: str) -> None:
        self.logs.delete_group(group, stream)  # flushes first
        self._flushed()
        self.model = [e for e in self.model if (e[1], e[2]) != (group, stream)]

    @rule(group=st.sampled_from(GROUPS), days=st.sampled_from([1, 3]))
    def retention(self, group: str, days: int) -> None:
        self.logs.put_retention_policy(group, days)  # flushes, then expires
        self._flushed()
        self.retention_days[group] = days
        self._expired(group)

    def _expired(self, group: str) -> None:
        """What reading ``group`` (or putting its policy) does: its events older than its
        retention go."""
        if group in self.retention_days:
            cutoff = int((self.now - self.retention_days[group] * 86_400) * 1000)
            self.model = [e for e in self.model if e[1] != group or int(e[3]) >= cutoff]  # type: ignore[call-overload]

    def _flushed(self) -> None:
        """What a flush did to the model: the events written since the last one are
        stored a group at a time (groups in the order they were first written to, each
        group's in write order), then the cap applies: past CAP, the oldest events go
        until what is left is at most the low-water mark."""
        groups = list(dict.fromkeys(e[1] for e in self.pending))
        self.model += sorted(self.pending, key=lambda e: groups.index(e[1]))  # stable
        self.pending = []
        size = lambda e: len(str(e[4]).encode()) + limits.LOG_EVENT_OVERHEAD_BYTES  # noqa: E731
        total = sum(size(e) for e in self.model)
        if total <= CAP:
            return
        excess = total - int(CAP * limits.LOG_STORE_LOW_WATER)
        while excess > 0:
            excess -= size(self.model.pop(0))

    @rule()
    def read(self) -> None:
        self.logs.flush()
        self._flushed()
        for group in GROUPS:
            found = self.logs.read(group)
            self._expired(group)
            expected = [e for e in self.model if e[1] == group]
            assert [(e.log_stream, e.timestamp, e.message) for e in found] == [
                (s, ts, m) for _, _, s, ts, m in expected]
            for event, entry in zip(found, expected):
                assert entry[0] in (None, event.id)  # an event keeps its id
                entry[0] = event.id
        assert self.logs.stored_bytes() == sum(
            len(str(e[4]).encode()) + limits.LOG_EVENT_OVERHEAD_BYTES for e in self.model)


TestLogStoreAgainstAModel = LogStoreAgainstAModel.TestCase
TestLogStoreAgainstAModel.settings = settings(max_examples=60, stateful_step_count=25,
                                              deadline=None, database=None)
