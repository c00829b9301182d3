"""The data dir: one SQLite database (WAL) and content-addressed code blobs.

Layout of a data dir::

    lambdalab.db          functions, versions, aliases, concurrency, logs, async events
    blobs/<sha256 hex>    deployment packages (zip), named by their own hash
    code/<sha256 hex>/    each package unpacked once, shared by every environment
    home-region           the region the data dir's functions belong to
    regions/<region>/     a data dir of this layout for each other region (:mod:`lambdalab.regions`)

Everything acknowledged is committed before the call returns, so a restart (or a
SIGKILL) loses nothing. Schema changes are named migrations, applied once each in the
order they are listed; a data dir records which it has (table ``schema_migrations``).
Add a change as a new entry at the end; never edit one that has shipped.

A damaged row (a config that no longer parses, written by an older version, by hand or by
a bug) must not stop a data dir from opening: every loader reads stored rows through
:meth:`Database.loaded`, which reports the row once on the ``lambdalab.store`` logger,
naming it and how to remove it, and skips it, so everything else still starts.
"""

from __future__ import annotations

import contextlib
import logging
import mmap
import os
import shutil
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any, Callable, Hashable, Iterable, Iterator, Mapping, Sequence, TypeVar

from .limits import LOG_EVENT_OVERHEAD_BYTES

log = logging.getLogger("lambdalab.store")
#: The file naming the region a data dir's functions belong to (:mod:`lambdalab.regions`).
HOME_REGION_FILE = "home-region"
T = TypeVar("T")

#: Named schema changes, applied once each in order: ``{name: SQL script}``. A name, once
#: shipped, is never reused or edited; a plugin's migrations (hook
#: ``lambdalab_migrations``) are applied after the core's, in the order plugins register.
Migrations = Mapping[str, str]


def change_counter(counter: str, tables: Iterable[str]) -> str:
    """A migration's script: the table ``counter`` holding one count, and triggers that
    bump it at every insert, update and delete of ``tables``, whoever commits them. An
    :class:`Answers` given ``counter`` then keeps its answers through commits to other
    tables (a batch of logs) and drops them when one of ``tables`` changed."""
    script = f"""
    CREATE TABLE {counter} (n INTEGER NOT NULL);
    INSERT INTO {counter} (n) VALUES (0);
    """
    for table in tables:
        for op in ("INSERT", "UPDATE", "DELETE"):
            script += f"""
    CREATE TRIGGER {counter}_{table}_{op.lower()} AFTER {op} ON {table}
    BEGIN UPDATE {counter} SET n = n + 1; END;
    """
    return script


#: The table counting the commits that changed the registry's tables (the registry's
#: cache keeps its reads through every other commit).
REGISTRY_CHANGES = "registry_changes"

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
    "function-urls-1": """
    CREATE TABLE function_urls (
        function TEXT NOT NULL REFERENCES functions(name) ON DELETE CASCADE,
        qualifier TEXT NOT NULL,
        url_id TEXT NOT NULL UNIQUE,
        config TEXT NOT NULL,
        PRIMARY KEY (function, qualifier)
    );
    """,
    "logs-1": """
    CREATE TABLE log_groups (
        name TEXT PRIMARY KEY,
        retention_in_days INTEGER
    );
    """,
    # Lambda layers: a layer's version counter outlives its versions (numbers are never
    # reused); a version's permissions are its policy (JSON), NULL until one is added.
    "layers-1": """
    CREATE TABLE layers (
        name TEXT PRIMARY KEY,
        next_version INTEGER NOT NULL DEFAULT 1
    );
    CREATE TABLE layer_versions (
        layer TEXT NOT NULL REFERENCES layers(name),
        version INTEGER NOT NULL,
        config TEXT NOT NULL,
        policy TEXT,
        PRIMARY KEY (layer, version)
    );
    """,
    # The $LATEST configuration invokes run while an update of it is InProgress: the one
    # before the update, until the update is Successful (its row is then removed).
    "updates-1": """
    CREATE TABLE latest_before_update (
        function TEXT PRIMARY KEY REFERENCES functions(name) ON DELETE CASCADE,
        config TEXT NOT NULL
    );
    """,
    # The X-Ray trace an Event invoke's caller sent, continued when it runs.
    "async-trace-1": """
    ALTER TABLE async_events ADD COLUMN trace_id TEXT;
    """,
    # Tags of event source mappings (kept by plugins), by the mapping's UUID.
    "mapping-tags-1": """
    CREATE TABLE mapping_tags (
        uuid TEXT PRIMARY KEY,
        tags TEXT NOT NULL
    );
    """,
    # A count of the commits that changed what the registry's cache holds, whoever made
    # them: the registry keeps its reads when only other tables changed (the log store's
    # batches, the async queue), instead of reading every function afresh.
    "registry-changes-1": change_counter(
        REGISTRY_CHANGES,
        ("functions", "versions", "aliases", "latest_before_update", "permissions"),
    ),
    # Log events kept many to a row (lambdalab.log_chunks: a row an event cost a warm
    # invoke a tenth of its time). Each stored event becomes a chunk of one, its id kept.
    "logs-2": f"""
    CREATE TABLE log_chunks (
        id INTEGER PRIMARY KEY,
        log_group TEXT NOT NULL,
        span INTEGER NOT NULL,
        first_ts INTEGER NOT NULL,
        last_ts INTEGER NOT NULL,
        events INTEGER NOT NULL,
        bytes INTEGER NOT NULL,
        streams TEXT NOT NULL,
        runs BLOB,
        lengths BLOB,
        offsets BLOB,
        text TEXT NOT NULL
    );
    CREATE INDEX log_chunks_by_group ON log_chunks (log_group, id);
    INSERT INTO log_chunks (id, log_group, span, first_ts, last_ts, events, bytes, streams, text)
    SELECT id, log_group, 1, timestamp, timestamp, 1,
           length(CAST(message AS BLOB)) + {LOG_EVENT_OVERHEAD_BYTES}, json_array(log_stream), message
    FROM log_events;
    DROP TABLE log_events;
    """,
}


def statements(script: str) -> Iterator[str]:
    """The SQL statements of a migration's script, one by one (a trigger's body holds
    semicolons of its own)."""
    pending = ""
    for piece in script.split(";"):
        pending += piece + ";"
        if sqlite3.complete_statement(pending):
            if pending.strip(" \n;"):
                yield pending
            pending = ""
    if pending.strip(" \n;"):
        yield pending  # never complete: SQLite says what is wrong with it


#: Rows one statement of :func:`insert_rows` writes (a few hundred parameters, well under
#: SQLite's limit).
ROWS_PER_INSERT = 64


def insert_rows(db: sqlite3.Connection, head: str, width: int, values: Sequence[Any]) -> None:
    """Insert, in order, the rows whose ``width`` values follow one another in ``values``,
    ``ROWS_PER_INSERT`` (64) rows a statement; ``head`` is the statement up to its rows
    (``"INSERT INTO t (a, b) VALUES "``). sqlite3 lets go of the GIL around each statement
    it runs, so a statement a row made a flush of thousands of rows hand the GIL to and
    fro with the invoking thread as often."""
    row = "(" + ", ".join("?" * width) + ")"
    step = width * ROWS_PER_INSERT
    whole = len(values) - len(values) % step
    if whole:
        db.executemany(head + ", ".join([row] * ROWS_PER_INSERT),
                       [values[i:i + step] for i in range(0, whole, step)])
    if whole < len(values):
        db.execute(head + ", ".join([row] * ((len(values) - whole) // width)), values[whole:])


#: The WAL index's two copies of its header (https://www.sqlite.org/walformat.html).
_WAL_INDEX_HEADERS_BYTES = 96


class _WalIndexes:
    """This process's read-only maps of WAL indexes (``-shm`` files), one per file.

    SQLite locks the WAL index with POSIX advisory locks, and closing *any* descriptor of
    a file drops every such lock the process holds on it (fcntl(2); SQLite's "How To
    Corrupt", 2.2: https://www.sqlite.org/howtocorrupt.html#_posix_advisory_locks_canceled_by_a_separate_thread_doing_close_).
    A watch that opened the file and closed it again released its own process's read and
    dead-man-switch locks, and a second lambdalab on the data dir then rebuilt the index
    under the first one's feet: "database disk image is malformed". So a descriptor
    opened here is kept open, and closed only once SQLite has removed the file (its
    last connection, in any process, closed), when no lock on it is left to drop.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        #: (device, inode) -> the descriptor kept open and its map (None: too short).
        self._open: dict[tuple[int, int], tuple[int, mmap.mmap | None]] = {}

    def header_of(self, database: Path) -> mmap.mmap | None:
        """A map of ``database``'s WAL index headers; None without one (not WAL yet)."""
        path = f"{database}-shm"
        with self._lock:
            self._forget_removed()
            try:
                found = os.stat(path)  # not an open: a map of this file may be kept already
            except OSError:
                return None
            kept = self._open.get((found.st_dev, found.st_ino))
            if kept is not None:
                return kept[1]
            try:
                fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
            except OSError:
                return None
            opened = os.fstat(fd)
            key = (opened.st_dev, opened.st_ino)
            if key in self._open:  # replaced between the stat and the open: keep both
                key = (opened.st_dev, -fd)
            try:
                mapped: mmap.mmap | None = mmap.mmap(fd, _WAL_INDEX_HEADERS_BYTES,
                                                     access=mmap.ACCESS_READ)
            except (OSError, ValueError):  # shorter than its headers
                mapped = None
            self._open[key] = (fd, mapped)  # never closed while the file is there
            return mapped

    def forget_removed(self) -> None:
        """Close the maps of files SQLite has removed (no connection has them open)."""
        with self._lock:
            self._forget_removed()

    def _forget_removed(self) -> None:
        for key, (fd, mapped) in list(self._open.items()):
            try:
                removed = os.fstat(fd).st_nlink == 0
            except OSError:
                removed = True
            if removed:
                if mapped is not None:
                    mapped.close()  # a watch reading it meanwhile gets ValueError: no header
                os.close(fd)
                del self._open[key]

    def __len__(self) -> int:
        return len(self._open)


#: The one per process: see :class:`_WalIndexes`.
_WAL_INDEXES = _WalIndexes()


class CommitWatch:
    """Whether any connection (of any process) committed to a WAL database since the last
    look: the header of the WAL index (the ``-shm`` file every connection maps) changes
    with every commit, and only then (its frame count, change counter and checksum;
    https://www.sqlite.org/walformat.html#the_wal_index_header), so comparing it is a
    memory read where ``PRAGMA data_version`` is a query. The file lasts as long as a
    connection is open, and the database keeps its own open until it closes, which closes
    its watches (:meth:`Database.watch_commits`). ``available`` is False where
    there is no such file to map (then callers poll ``data_version``)."""

    def __init__(self, database: Path) -> None:
        self._map = _WAL_INDEXES.header_of(database)
        self._seen = self._header()

    @property
    def available(self) -> bool:
        return self._map is not None

    def _header(self) -> bytes:
        mapped = self._map
        try:
            return mapped[:_WAL_INDEX_HEADERS_BYTES] if mapped is not None else b""
        except ValueError:  # closed meanwhile: SQLite removed the file (_WalIndexes)
            return b""

    def moved(self) -> bool:
        """Whether a commit landed since the last call (a torn read counts as one;
        unmapped, never)."""
        header = self._header()
        if header == self._seen or not header:
            return False
        self._seen = header
        return True

    def close(self) -> None:
        """Stop watching (the database closes): from now on ``available`` is False. The
        map itself stays with :data:`_WAL_INDEXES` until SQLite removes the file."""
        self._map = None


class Database:
    """One SQLite file (WAL) with named migrations, safe to share between threads.

    Each thread reads through a connection of its own, so readers never wait for one
    another or for a writer (WAL); write transactions are serialised by one lock, which
    is cheaper than letting SQLite's busy handler poll for its write lock. Plugins that
    keep their own file (S3) use this class too.
    """

    def __init__(self, path: str | os.PathLike[str], migrations: Migrations) -> None:
        self._path = Path(path)
        self._lock = threading.RLock()  # write transactions
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._connections_lock = threading.Lock()
        self._db.execute("PRAGMA journal_mode=WAL")
        self._migrate(migrations)
        self._version_db: sqlite3.Connection | None = None  # opened by data_version()
        self._version_lock = threading.Lock()
        #: Damaged rows reported so far: (table, key) -> what is wrong with them.
        self.damaged: dict[tuple[str, str], str] = {}
        self._damaged_lock = threading.Lock()
        self._watches: list[CommitWatch] = []

    @property
    def path(self) -> Path:
        """The database file."""
        return self._path

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

    def _migrate(self, migrations: Migrations) -> None:
        with self.transaction() as db:
            db.execute("CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY)")
            done = {row[0] for row in db.execute("SELECT name FROM schema_migrations")}
            for name, script in migrations.items():
                if name in done:
                    continue
                for statement in statements(script):
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

    def loaded(self, table: str, key: Mapping[str, Any], load: Callable[[], T]) -> T | None:
        """``load()``, the resource that one stored row holds; ``None`` if the row is damaged.

        ``key`` names the row (its primary key columns and values). A damaged row is
        reported once per process (see :meth:`report_damaged`) and skipped.
        """
        try:
            return load()
        except Exception as error:  # any damage to one row: report it, load the others
            self.report_damaged(table, key, error)
            return None

    def loaded_rows(
        self,
        table: str,
        rows: list[sqlite3.Row],
        key: Callable[[sqlite3.Row], Mapping[str, Any]],
        load: Callable[[sqlite3.Row], T],
    ) -> list[T]:
        """Each row's resource, skipping (and reporting) the damaged ones."""
        out = []
        for row in rows:
            value = self.loaded(table, key(row), lambda: load(row))
            if value is not None:
                out.append(value)
        return out

    def report_damaged(self, table: str, key: Mapping[str, Any], error: BaseException) -> None:
        """Log, once, that a stored row cannot be loaded and how to remove it."""
        name = ", ".join(f"{column}={value!r}" for column, value in key.items())
        with self._damaged_lock:
            if (table, name) in self.damaged:
                return
            self.damaged[(table, name)] = f"{type(error).__name__}: {error}"[:500]
        where = " AND ".join(f"{column} = {_sql_literal(value)}" for column, value in key.items())
        log.error(
            "lambdalab: skipped a damaged row of %s (%s) in %s: it does not load (%s). "
            "Everything else works. Delete that resource with its delete command, or "
            "remove the row: sqlite3 %s \"DELETE FROM %s WHERE %s\"",
            table, name, self._path, self.damaged[(table, name)], self._path, table, where,
        )

    def data_version(self) -> int:
        """Changes whenever another connection (another thread or process) commits.

        Always read from one connection: each connection counts the changes *it* has
        noticed, so the numbers of two connections (two threads) cannot be compared.
        """
        return self._fresh("PRAGMA data_version")

    def _fresh(self, sql: str) -> Any:
        """The one value ``sql`` reads, on the connection :meth:`data_version` reads on."""
        with self._version_lock:
            if self._version_db is None:
                self._version_db = self._connect()
            return self._version_db.execute(sql).fetchone()[0]

    def watch_commits(self) -> CommitWatch:
        """A watch of this database's commits (any connection's, any process's), each
        caller its own: read it before :meth:`data_version` so no commit falls between."""
        watch = CommitWatch(self._path)
        with self._connections_lock:
            self._watches.append(watch)
        return watch

    def close(self) -> None:
        with self._lock, self._connections_lock:
            for db in self._connections:
                db.close()
            self._connections.clear()
            for watch in self._watches:
                watch.close()
            self._watches.clear()
        _WAL_INDEXES.forget_removed()


#: A leftover younger than this may be a write or unpack still under way.
_LEFTOVER_GRACE_S = 3600
#: A blob written this recently may be about to be named by another process's version.
_FRESH_GRACE_S = 60


def _changed_within(path: Path, seconds: float) -> bool:
    try:
        return time.time() - path.stat().st_mtime < seconds
    except OSError:
        return False


def _remove(path: Path) -> int:
    """Delete a file or a directory tree; the bytes its files held."""
    try:
        if path.is_dir() and not path.is_symlink():
            size = sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())
            shutil.rmtree(path, ignore_errors=True)
            return size
        size = path.stat().st_size
        path.unlink()
        return size
    except OSError:  # already gone, or another process holds it: the next pass retries
        return 0


def _sql_literal(value: Any) -> str:
    if isinstance(value, (int, float)):
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"


class Store(Database):
    """A data dir: the core's database plus content-addressed code blobs.

    ``migrations`` are the plugins' (hook ``lambdalab_migrations``), applied after the
    core's own.
    """

    def __init__(self, data_dir: str | os.PathLike[str], migrations: Migrations | None = None) -> None:
        self.data_dir = Path(data_dir).expanduser().resolve()
        self.blob_dir = self.data_dir / "blobs"
        self.code_dir = self.data_dir / "code"
        for d in (self.data_dir, self.blob_dir, self.code_dir):
            d.mkdir(parents=True, exist_ok=True)
        self.data_dir.chmod(0o700)  # its database holds every function's secrets
        super().__init__(self.data_dir / "lambdalab.db", {**MIGRATIONS, **(migrations or {})})

    # -- the region ------------------------------------------------------------------

    def home_region(self) -> str | None:
        """The region written in the data dir; ``None`` before a server first served it
        (a data dir of a lambdalab before regions: its home is the one it is opened with)."""
        try:
            return (self.data_dir / HOME_REGION_FILE).read_text().strip() or None
        except OSError:
            return None

    def keep_home_region(self, region: str) -> str:
        """Write ``region`` as the data dir's unless one is written; the one written."""
        found = self.home_region()
        if found is None:
            (self.data_dir / HOME_REGION_FILE).write_text(region + "\n")
        return found or region

    # -- code blobs -----------------------------------------------------------------

    def put_blob(self, sha256_hex: str, data: bytes) -> Path:
        path = self.blob_dir / sha256_hex
        try:
            os.utime(path)  # fresh again: a collection in another process leaves it be
        except FileNotFoundError:
            tmp = path.with_suffix(f".tmp{os.getpid()}.{threading.get_ident()}")
            tmp.write_bytes(data)
            os.replace(tmp, path)
        return path

    def blob_path(self, sha256_hex: str) -> Path:
        return self.blob_dir / sha256_hex

    def collect_garbage(
        self,
        referenced: set[str],
        in_use: set[str],
        candidates: set[str] | None = None,
    ) -> int:
        """Remove blobs and unpacked code no version references; the bytes freed.

        ``referenced`` holds the hashes some version still names; ``in_use`` the code
        directories environments run from (kept even when unreferenced: an invoke of a
        deleted version may still be running). With ``candidates`` (the hashes a delete
        or an update just let go of) only those are looked at. Without, everything is,
        but what changed in the last minute is kept (another process may be between
        writing a blob and naming it), and so are the leftovers of interrupted writes and
        unpacks (``*.tmp*`` blobs, ``.*`` dirs) younger than an hour.
        """
        freed = 0
        for path in list(self.blob_dir.iterdir()) + list(self.code_dir.iterdir()):
            name = path.name
            leftover = name.startswith(".") or ".tmp" in name
            if candidates is not None and (leftover or name not in candidates):
                continue
            if (name in referenced and not leftover) or str(path) in in_use:
                continue
            if candidates is None and _changed_within(
                path, _LEFTOVER_GRACE_S if leftover else _FRESH_GRACE_S
            ):
                continue
            freed += _remove(path)
        return freed


#: Another connection's commits are noticed by :class:`Answers` within this many seconds.
ANSWERS_RECHECK_S = 0.001

_MISSING = object()


class Answers:
    """Reads of a :class:`Database` kept in memory, for what is asked at every invoke or
    request (the Lambda registry's configurations, an enforcing edge's principal or
    resource policy: reading SQLite each time costs tens of microseconds).

    An answer is kept until the database may have changed: at once when the owner calls
    :meth:`drop` after its own writes, and as soon as another connection (another
    thread, another lambdalab on the data dir) commits (``CommitWatch``, then SQLite's
    ``data_version``; where the WAL index cannot be mapped, within
    ``ANSWERS_RECHECK_S``, a millisecond). Given ``counter`` (a
    table :func:`change_counter` made for the tables the answers are read from), a
    commit that left those tables alone keeps them: the log store commits a batch every
    fraction of a second.
    """

    def __init__(self, db: Database, counter: str | None = None) -> None:
        self.db = db
        #: A table :func:`change_counter` made: only a commit that moved its count drops
        #: the answers (without one, any commit to the database does).
        self._counter = counter
        self._answers: dict[Hashable, Any] = {}
        #: Counts the drops: an answer loaded across a drop is not kept.
        self._generation = 0
        self._watch = db.watch_commits()  # before data_version: no commit between
        self._seen_version = db.data_version()
        self._seen_count = self._count()
        self._checked_at = time.monotonic()
        self._lock = threading.Lock()

    def get(self, key: Hashable, load: Callable[[], Any]) -> Any:
        """The answer kept for ``key``, else ``load()``'s (kept for next time)."""
        if self._watch.available:
            if self._watch.moved():  # something was committed: was it these tables?
                self._recheck(time.monotonic())
        else:
            now = time.monotonic()
            if now - self._checked_at > ANSWERS_RECHECK_S:
                self._recheck(now)
        value = self._answers.get(key, _MISSING)
        if value is _MISSING:
            generation = self._generation
            value = load()
            with self._lock:
                if generation == self._generation:
                    self._answers[key] = value
        return value

    def drop(self) -> None:
        """Forget every answer (call it after writing what they were read from)."""
        with self._lock:
            self._answers = {}
            self._generation += 1

    def _recheck(self, now: float) -> None:
        version = self.db.data_version()
        if version == self._seen_version:
            self._checked_at = now
            return
        count = self._count()  # after data_version, on its connection: no change between
        with self._lock:
            self._checked_at, self._seen_version = now, version
            if count is None or count != self._seen_count:
                self._seen_count = count
                self._answers = {}
                self._generation += 1

    def _count(self) -> int | None:
        if self._counter is None:
            return None
        return int(self.db._fresh(f"SELECT n FROM {self._counter}"))
