"""The data dir: one SQLite database (WAL) and content-addressed code blobs.

Layout of a data dir::

    lambdalab.db          functions, versions, aliases, concurrency, logs, async events
    blobs/<sha256 hex>    deployment packages (zip), named by their own hash
    code/<sha256 hex>/    each package unpacked once, shared by every environment

Everything acknowledged is committed before the call returns, so a restart (or a
SIGKILL) loses nothing. Schema changes are named migrations, applied once each in the
order they are listed; a data dir records which it has (table ``schema_migrations``).
Add a change as a new entry at the end; never edit one that has shipped.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from pathlib import Path
from typing import Any, Iterator

MIGRATIONS: dict[str, str] = {
    "core-1": """
    CREATE TABLE functions (
        name TEXT PRIMARY KEY,
        next_version INTEGER NOT NULL DEFAULT 1,
        reserved_concurrency INTEGER
    );
    CREATE TABLE versions (
        function TEXT NOT NULL REFERENCES functions(name) ON DELETE CASCADE,
        version TEXT NOT NULL,
        config TEXT NOT NULL,
        PRIMARY KEY (function, version)
    );
    CREATE TABLE aliases (
        function TEXT NOT NULL REFERENCES functions(name) ON DELETE CASCADE,
        name TEXT NOT NULL,
        config TEXT NOT NULL,
        PRIMARY KEY (function, name)
    );
    CREATE TABLE log_events (
        id INTEGER PRIMARY KEY,
        log_group TEXT NOT NULL,
        log_stream TEXT NOT NULL,
        timestamp INTEGER NOT NULL,
        message TEXT NOT NULL
    );
    CREATE INDEX log_events_by_group ON log_events (log_group, id);
    CREATE TABLE async_events (
        id INTEGER PRIMARY KEY,
        request_id TEXT NOT NULL,
        function TEXT NOT NULL,
        qualifier TEXT,
        payload BLOB NOT NULL,
        client_context TEXT,
        enqueued_at REAL NOT NULL
    );
    """,
    "async-1": """
    ALTER TABLE async_events ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE async_events ADD COLUMN next_attempt_at REAL NOT NULL DEFAULT 0;
    ALTER TABLE async_events ADD COLUMN claimed_by TEXT;
    ALTER TABLE async_events ADD COLUMN claimed_at REAL;
    CREATE INDEX async_events_due ON async_events (next_attempt_at, id);
    CREATE TABLE event_invoke_configs (
        function TEXT NOT NULL REFERENCES functions(name) ON DELETE CASCADE,
        qualifier TEXT NOT NULL,
        config TEXT NOT NULL,
        PRIMARY KEY (function, qualifier)
    );
    """,
    "permissions-1": """
    CREATE TABLE permissions (
        function TEXT NOT NULL REFERENCES functions(name) ON DELETE CASCADE,
        qualifier TEXT NOT NULL,
        statements TEXT NOT NULL,
        revision_id TEXT NOT NULL,
        PRIMARY KEY (function, qualifier)
    );
    """,
    "schedule-1": """
    CREATE TABLE schedule_rules (
        name TEXT PRIMARY KEY,
        config TEXT NOT NULL
    );
    CREATE TABLE schedule_targets (
        rule TEXT NOT NULL REFERENCES schedule_rules(name) ON DELETE CASCADE,
        id TEXT NOT NULL,
        config TEXT NOT NULL,
        PRIMARY KEY (rule, id)
    );
    """,
    "function-urls-1": """
    CREATE TABLE function_urls (
        function TEXT NOT NULL REFERENCES functions(name) ON DELETE CASCADE,
        qualifier TEXT NOT NULL,
        url_id TEXT NOT NULL UNIQUE,
        config TEXT NOT NULL,
        PRIMARY KEY (function, qualifier)
    );
    """,
    "sqs-1": """
    CREATE TABLE sqs_queues (
        name TEXT PRIMARY KEY,
        attributes TEXT NOT NULL,
        tags TEXT NOT NULL,
        created_at REAL NOT NULL,
        modified_at REAL NOT NULL
    );
    CREATE TABLE sqs_messages (
        id INTEGER PRIMARY KEY,
        queue TEXT NOT NULL REFERENCES sqs_queues(name) ON DELETE CASCADE,
        message_id TEXT NOT NULL,
        body TEXT NOT NULL,
        message_attributes TEXT NOT NULL,
        sent_at REAL NOT NULL,
        visible_at REAL NOT NULL,
        receive_count INTEGER NOT NULL DEFAULT 0,
        first_received_at REAL,
        receipt TEXT
    );
    CREATE INDEX sqs_messages_visible ON sqs_messages (queue, visible_at, id);
    CREATE INDEX sqs_messages_age ON sqs_messages (queue, sent_at);
    CREATE TABLE event_source_mappings (
        uuid TEXT PRIMARY KEY,
        config TEXT NOT NULL
    );
    """,
}


class Database:
    """One SQLite file (WAL) with named migrations, safe to share between threads.

    Each thread reads through a connection of its own, so readers never wait for one
    another or for a writer (WAL); write transactions are serialised by one lock, which
    is cheaper than letting SQLite's busy handler poll for its write lock. Plugins that
    keep their own file (S3) use this class too.
    """

    def __init__(self, path: str | os.PathLike[str], migrations: dict[str, str]) -> None:
        self._path = Path(path)
        self._lock = threading.RLock()  # write transactions
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._connections_lock = threading.Lock()
        self._db.execute("PRAGMA journal_mode=WAL")
        self._migrate(migrations)
        self._version_db: sqlite3.Connection | None = None  # opened by data_version()
        self._version_lock = threading.Lock()

    @property
    def _db(self) -> sqlite3.Connection:
        """This thread's connection."""
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            db = self._local.db = self._connect()
        return db

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self._path, check_same_thread=False, isolation_level=None, timeout=30)
        db.row_factory = sqlite3.Row
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("PRAGMA foreign_keys=ON")
        with self._connections_lock:
            self._connections.append(db)
        return db

    def _migrate(self, migrations: dict[str, str]) -> None:
        with self.transaction() as db:
            db.execute("CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY)")
            done = {row[0] for row in db.execute("SELECT name FROM schema_migrations")}
            for name, script in migrations.items():
                if name in done:
                    continue
                for statement in filter(str.strip, script.split(";")):
                    db.execute(statement)
                db.execute("INSERT INTO schema_migrations (name) VALUES (?)", (name,))

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction: committed on success, rolled back on any error."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        return self._db.execute(sql, params).fetchall()

    def data_version(self) -> int:
        """Changes whenever another connection (another thread or process) commits.

        Always read from one connection: each connection counts the changes *it* has
        noticed, so the numbers of two connections (two threads) cannot be compared.
        """
        with self._version_lock:
            if self._version_db is None:
                self._version_db = self._connect()
            return self._version_db.execute("PRAGMA data_version").fetchone()[0]

    def close(self) -> None:
        with self._lock, self._connections_lock:
            for db in self._connections:
                db.close()
            self._connections.clear()


class Store(Database):
    """A data dir: the core's database plus content-addressed code blobs."""

    def __init__(self, data_dir: str | os.PathLike[str]) -> None:
        self.data_dir = Path(data_dir).expanduser().resolve()
        self.blob_dir = self.data_dir / "blobs"
        self.code_dir = self.data_dir / "code"
        for d in (self.data_dir, self.blob_dir, self.code_dir):
            d.mkdir(parents=True, exist_ok=True)
        self.data_dir.chmod(0o700)  # its database holds every function's secrets
        super().__init__(self.data_dir / "lambdalab.db", MIGRATIONS)

    # -- code blobs -----------------------------------------------------------------

    def put_blob(self, sha256_hex: str, data: bytes) -> Path:
        path = self.blob_dir / sha256_hex
        if not path.exists():
            tmp = path.with_suffix(f".tmp{os.getpid()}.{threading.get_ident()}")
            tmp.write_bytes(data)
            os.replace(tmp, path)
        return path

    def blob_path(self, sha256_hex: str) -> Path:
        return self.blob_dir / sha256_hex
