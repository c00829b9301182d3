"""The toolkit's BatchedWriter: records wait in memory and are written in batches, and
nothing acknowledged is lost when it closes, a write fails or many threads add at once;
the cost ledger, the trail and the trace store keep every record over a lab's close."""

from __future__ import annotations

import logging
import sqlite3
import threading
from pathlib import Path
from typing import Iterator

import pytest

from lambdalab import InvokeReport, Lab
from lambdalab.clock import VirtualClock
from lambdalab.plugin import ApiCall, BatchedWriter, Database
from lambdalab_cloudtrail import Lookup, trail
from lambdalab_cost import costs
from lambdalab_xray import xray

#: Long enough that the background thread never writes during a test: what is written,
#: the test's own calls wrote.
NEVER_S = 3600.0


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database(tmp_path / "w.db", {"t-1": "CREATE TABLE t (n INTEGER NOT NULL)"})
    yield database
    database.close()


def inserter(db: Database, batches: list[int] | None = None):
    def write(rows: list[int]) -> None:
        with db.transaction() as conn:
            conn.executemany("INSERT INTO t VALUES (?)", [(n,) for n in rows])
        if batches is not None:
            batches.append(len(rows))
    return write


class Disk:
    """Writes through ``inserter`` unless ``full``: then as SQLite fails on a full disk."""

    def __init__(self, db: Database) -> None:
        self.full = True
        self._write = inserter(db)

    def write(self, rows: list[int]) -> None:
        if self.full:
            raise sqlite3.OperationalError("database or disk is full")
        self._write(rows)


def stored(db: Database) -> list[int]:
    return [row["n"] for row in db.query("SELECT n FROM t ORDER BY rowid")]


def test_records_wait_until_a_flush_and_go_in_one_batch(db: Database) -> None:
    batches: list[int] = []
    writer = BatchedWriter(inserter(db, batches), name="t", interval=NEVER_S)
    try:
        for n in range(5):
            writer.add(n)
        assert stored(db) == [] and writer.pending == 5
        writer.flush()
        assert stored(db) == [0, 1, 2, 3, 4] and batches == [5]
    finally:
        writer.close()


def test_close_writes_what_waits_and_a_record_added_later(db: Database) -> None:
    writer = BatchedWriter(inserter(db), name="t", interval=NEVER_S)
    writer.add(1)
    writer.add(2)
    assert writer.pending == 2
    writer.close()
    assert stored(db) == [1, 2]
    writer.add(3)  # a last async invoke reports after the lab closed
    assert stored(db) == [1, 2, 3]


def test_the_background_thread_writes_without_a_reader(db: Database) -> None:
    writer = BatchedWriter(inserter(db), name="t", interval=0.01)
    try:
        writer.add(7)
        deadline = threading.Event()
        for _ in range(3000):  # up to 30 s on a loaded machine; returns as soon as written
            if stored(db) == [7]:
                break
            deadline.wait(0.01)
        assert stored(db) == [7]
    finally:
        writer.close()


def test_a_full_buffer_is_written_by_the_one_who_adds(db: Database) -> None:
    writer = BatchedWriter(inserter(db), name="t", interval=NEVER_S, pending_max=3)
    try:
        for n in range(3):
            writer.add(n)
        assert stored(db) == [0, 1, 2] and writer.pending == 0
    finally:
        writer.close()


def test_a_failed_write_keeps_the_batch_for_the_next_try_and_warns_once(
        db: Database, caplog: pytest.LogCaptureFixture) -> None:
    disk = Disk(db)
    writer = BatchedWriter(disk.write, name="lambdalab_t", what="widgets", interval=NEVER_S)
    with caplog.at_level(logging.WARNING, logger="lambdalab_t"):
        writer.add(1)
        with pytest.raises(sqlite3.OperationalError):
            writer.flush()  # a reader sees the error
        writer.add(2)
        writer.flush_or_warn()
        writer.flush_or_warn()
        assert caplog.text.count("could not record widgets") == 1
        assert writer.pending == 2
        disk.full = False
        writer.close()
    assert stored(db) == [1, 2]


def test_a_failing_write_keeps_only_the_newest_records(db: Database) -> None:
    disk = Disk(db)
    writer = BatchedWriter(disk.write, name="t", interval=NEVER_S, pending_max=4)
    for n in range(10):
        writer.add(n)  # from the fourth on, each add tries, fails, keeps the newest four
    assert writer.pending == 4
    disk.full = False
    writer.close()
    assert stored(db) == [6, 7, 8, 9]


def test_records_of_a_width_wait_as_their_values_and_are_kept_whole(db: Database) -> None:
    """``width``: a record is kept as its values, ``write`` gets them flat, and a failing
    write keeps the newest ``pending_max`` records whole, never part of one."""
    disk = Disk(db)
    writer = BatchedWriter(disk.write, name="t", interval=NEVER_S, pending_max=3, width=2)
    for n in range(10):
        writer.add((n, -n))  # from the third on, each add tries, fails, keeps three
    assert writer.pending == 3
    disk.full = False
    writer.close()
    assert stored(db) == [7, -7, 8, -8, 9, -9]


def test_a_cost_ledger_record_sets_off_no_young_collection_while_it_waits(
        tmp_path: Path) -> None:
    """The cost ledger hands its rows over as values (``width``): thousands of invokes
    that wait for a flush add no container for the collector to count."""
    import gc

    with Lab(tmp_path / "data", clock=VirtualClock()) as lab:
        ledger = costs(lab)
        report = InvokeReport(request_id="r", function_name="f", version="$LATEST",
                              duration_ms=1.0, memory_size=128, max_memory_used_mb=30)
        ledger.record(report)
        ledger.flush()
        gc.collect()
        gc.disable()  # the count keeps growing past the young generation's threshold
        try:
            young = gc.get_count()[0]
            for _ in range(2_000):
                ledger.record(report)
            assert gc.get_count()[0] - young < 100  # a tuple a record: 2,000
        finally:
            gc.enable()
        assert ledger._writer.pending == 2_000
        ledger.flush()
        assert len(ledger.invokes()) == 2_001


def test_a_bug_in_write_loses_that_batch_only_and_the_writer_goes_on(
        db: Database, caplog: pytest.LogCaptureFixture) -> None:
    write = inserter(db)

    def buggy(rows: list[int]) -> None:
        if 13 in rows:
            raise KeyError(13)
        write(rows)

    writer = BatchedWriter(buggy, name="lambdalab_t", interval=NEVER_S)
    writer.add(13)
    writer.flush_or_warn()
    writer.add(14)
    writer.close()
    assert stored(db) == [14]
    assert "could not record records" in caplog.text


def test_nothing_acknowledged_is_lost_when_threads_add_while_it_closes(db: Database) -> None:
    writer = BatchedWriter(inserter(db), name="t", interval=0.001, pending_max=50)
    added: list[list[int]] = [[] for _ in range(4)]
    start = threading.Barrier(5)

    def add(mine: list[int], base: int) -> None:
        start.wait()
        for n in range(base, base + 2000):
            writer.add(n)
            mine.append(n)  # acknowledged: add returned

    threads = [threading.Thread(target=add, args=(added[i], i * 10_000)) for i in range(4)]
    for thread in threads:
        thread.start()
    start.wait()
    writer.close()
    for thread in threads:
        thread.join()
    assert sorted(stored(db)) == sorted(n for mine in added for n in mine)


# -- the three recorders over a lab's close ---------------------------------------------------


def test_costs_trail_events_and_segments_recorded_just_before_close_survive_it(tmp_path: Path) -> None:
    clock = VirtualClock(start=1_700_000_000)
    with Lab(data_dir=tmp_path / "d", clock=clock) as lab:
        lab.plugin_manager.hook.lambdalab_invoke_completed(report=InvokeReport(
            request_id="r1", function_name="f", version="$LATEST", duration_ms=12.0,
            memory_size=128, max_memory_used_mb=40))
        trail(lab).record(ApiCall(
            service="lambda", operation="DeleteFunction", region="us-east-1",
            access_key_id="AKIDALICE", source_ip="127.0.0.1", user_agent="test",
            request_params={"FunctionName": "f"}, response={}, error_code=None,
            error_message=None, request_id="q1", time=clock.now()))
        trace_id = f"1-{int(clock.now()):08x}-{1:024x}"
        xray(lab).store.put([{"trace_id": trace_id, "id": "aaaaaaaaaaaaaaa1", "name": "client",
                              "start_time": clock.now(), "end_time": clock.now() + 0.5}])
    with Lab(data_dir=tmp_path / "d", clock=clock) as lab:
        assert [i.request_id for i in costs(lab).invokes()] == ["r1"]
        [found] = trail(lab).lookup(Lookup(("EventName", "DeleteFunction")))
        assert found.event.access_key_id == "AKIDALICE"
        trace = xray(lab).store.trace(trace_id)
        assert trace is not None and [s["name"] for s in trace.segments] == ["client"]
