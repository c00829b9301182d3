"""SQLite's locks on a data dir's database survive lambdalab's own looks at its files.

SQLite coordinates the processes on one WAL database with POSIX advisory locks on its
WAL index (the ``-shm`` file), and closing any descriptor of a file drops every such lock
the process holds on it. A lambdalab that opened and closed that file to watch commits
dropped its readers' locks: another process then checkpointed under a live read, and two
lambdalabs on one data dir got "database disk image is malformed" (CI, stop 32).
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

from lambdalab.store import _WAL_INDEXES, Database

#: Another process checkpoints the database and truncates its WAL: SQLite answers
#: (busy, frames in the WAL, frames checkpointed); busy = 1 while a reader needs the WAL.
CHECKPOINT = """
import sqlite3, sys
db = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=0)  # busy: say so now
print(db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0])
"""


def checkpoint_busy(path: Path) -> bool:
    done = subprocess.run([sys.executable, "-c", CHECKPOINT, str(path)], capture_output=True,
                          text=True, timeout=60, check=True)
    return done.stdout.strip() == "1"


def test_watching_commits_keeps_a_readers_lock(tmp_path: Path) -> None:
    db = Database(tmp_path / "x.db", {"1": "CREATE TABLE t (n INTEGER)"})
    try:
        with db.transaction() as w:
            w.execute("INSERT INTO t VALUES (1)")
        reader = sqlite3.connect(db.path, isolation_level=None)
        reader.execute("BEGIN")
        assert reader.execute("SELECT n FROM t").fetchall() == [(1,)]  # a snapshot, held
        with db.transaction() as w:
            w.execute("INSERT INTO t VALUES (2)")  # a commit the snapshot does not see
        assert checkpoint_busy(db.path)  # the baseline: the read holds the WAL

        for _ in range(3):  # the registry's, IAM's and any other watch, made and closed
            db.watch_commits().close()

        assert checkpoint_busy(db.path), "a watch dropped the reader's lock on the WAL index"
        assert reader.execute("SELECT n FROM t").fetchall() == [(1,)]
        reader.execute("COMMIT")
        reader.close()
    finally:
        db.close()


def test_a_watch_sees_another_process_commit(tmp_path: Path) -> None:
    db = Database(tmp_path / "x.db", {"1": "CREATE TABLE t (n INTEGER)"})
    try:
        watch = db.watch_commits()
        assert watch.available and not watch.moved()
        subprocess.run([sys.executable, "-c", "import sqlite3, sys; c = sqlite3.connect("
                        "sys.argv[1], isolation_level=None); c.execute('INSERT INTO t VALUES (1)')",
                        str(db.path)], check=True, timeout=60)
        assert watch.moved() and not watch.moved()
    finally:
        db.close()


def test_the_map_of_a_removed_wal_index_is_closed(tmp_path: Path) -> None:
    """SQLite removes the ``-shm`` file when the last connection closes; the map kept of
    it (open since its watch began) goes then, and a new database gets a new one."""
    before = len(_WAL_INDEXES)
    for n in range(5):
        db = Database(tmp_path / f"{n}.db", {"1": "CREATE TABLE t (n INTEGER)"})
        watch = db.watch_commits()
        assert watch.available
        db.close()
        assert not (tmp_path / f"{n}.db-shm").exists()
        assert not watch.available and not watch.moved()
        assert len(_WAL_INDEXES) <= before
    maps = Path("/proc/self/maps").read_text()
    assert str(tmp_path) not in maps
