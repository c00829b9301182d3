"""Asynchronous invocation benchmarks, beside baselines measured in the same run.

    python benchmarks/async.py            # full run, about a minute on 2 cores
    python benchmarks/async.py --quick    # small counts: a smoke test
    python benchmarks/async.py --json out.json

Figures (targets from issue 5):

A. accepted ``Event`` invokes per second, each durably committed (SQLite WAL) before its
   202, one thread calling ``Lab.invoke`` with a no-op handler while the workers drain;
   baseline: the same number of single-row INSERT + COMMIT transactions on a bare
   SQLite database with the same pragmas. Target: >= 2,000/s.
B. end-to-end drain rate with two concurrent environments (reserved concurrency 2): a
   backlog of events left by a closed lab is run by the next lab, from opening the data
   dir to an empty queue; baseline: two threads invoking the same handler synchronously
   (the same execution path, no queue). Reported, no target.

A missed target is reported, not raised. Nothing here talks to the network.
"""

from __future__ import annotations

import sqlite3
import sys
import tempfile
import threading
import time
from pathlib import Path

import harness
from harness import Row
from lambdalab import Lab

NOOP = "def handler(event, context):\n    return None\n"
MODES = {"quick": {"accept": 1_000, "drain": 300}, "full": {"accept": 10_000, "drain": 3_000}}
ACCEPT_TARGET = 2_000.0


def deploy(root: Path, name: str = "noop") -> Path:
    code = root / "code"
    code.mkdir(exist_ok=True)
    (code / "app.py").write_text(NOOP)
    data = root / "data"
    with Lab(data) as lab:
        lab.create_function(name, code, handler="app.handler")
        lab.put_function_concurrency(name, 2)
    return data


def sqlite_commits(path: Path, count: int) -> float:
    """Single-row committed INSERTs per second, WAL and synchronous=NORMAL like the store."""
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, request_id TEXT, payload BLOB)")
    began = time.perf_counter()
    for n in range(count):
        db.execute("BEGIN IMMEDIATE")
        db.execute("INSERT INTO t (request_id, payload) VALUES (?, ?)", (str(n), b"{}"))
        db.execute("COMMIT")
    rate = count / (time.perf_counter() - began)
    db.close()
    return rate


def accepted_per_second(root: Path, count: int) -> float:
    data = deploy(root)
    with Lab(data) as lab:
        for _ in range(50):  # warm-up: the first environments start
            lab.invoke("noop", {}, invocation_type="Event")
        lab.wait_for_events(timeout=60)
        began = time.perf_counter()
        for n in range(count):
            lab.invoke("noop", {"n": n}, invocation_type="Event")
        rate = count / (time.perf_counter() - began)
        lab.wait_for_events(timeout=300)
    return rate


def backlog(data: Path, count: int) -> int:
    """Leave ``count`` events queued by a lab whose workers are stopped."""
    with Lab(data) as lab:
        lab.put_function_concurrency("noop", 2)
        lab.events.close()  # stop this lab's workers: the events stay in the data dir
        for n in range(count):
            lab.invoke("noop", {"n": n}, invocation_type="Event")
    with sqlite3.connect(data / "lambdalab.db") as db:
        return int(db.execute("SELECT COUNT(*) FROM async_events").fetchone()[0])


def drain_per_second(root: Path, count: int) -> float:
    data = deploy(root)
    queued = backlog(data, count)
    began = time.perf_counter()
    with Lab(data) as lab:
        assert lab.wait_for_events(timeout=600)
        elapsed = time.perf_counter() - began
        assert lab.queue() == []
    return queued / elapsed


def sync_two_threads(root: Path, count: int) -> float:
    data = deploy(root)
    with Lab(data) as lab:
        lab.invoke("noop", {})

        def loop() -> None:
            for n in range(count // 2):
                lab.invoke("noop", {"n": n})

        threads = [threading.Thread(target=loop) for _ in range(2)]
        began = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return (count // 2 * 2) / (time.perf_counter() - began)


def measure(counts: dict[str, int]) -> list[Row]:
    with tempfile.TemporaryDirectory(prefix="lambdalab-bench-async-") as tmp:
        root = Path(tmp)
        for sub in ("a", "b", "c", "d"):
            (root / sub).mkdir()
        print("A: accepting events ...", file=sys.stderr)
        accepted = accepted_per_second(root / "a", counts["accept"])
        raw = sqlite_commits(root / "b" / "raw.db", counts["accept"])
        print("B: draining a backlog ...", file=sys.stderr)
        drained = drain_per_second(root / "c", counts["drain"])
        sync = sync_two_threads(root / "d", counts["drain"])
    return [
        Row("A", "accepted Event invokes, committed before 202", "/s", accepted, raw,
            "bare SQLite INSERT+COMMIT", f">= {ACCEPT_TARGET:,.0f}/s",
            accepted >= ACCEPT_TARGET, counts["accept"]),
        Row("B", "drain, 2 concurrent environments", "/s", drained, sync,
            "sync invokes, 2 threads", "", None, counts["drain"]),
    ]


def main(argv: list[str] | None = None) -> int:
    return harness.main("async benchmarks", __doc__.split("\n\n")[0], measure, MODES, argv)


if __name__ == "__main__":
    sys.exit(main())
