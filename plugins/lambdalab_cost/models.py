"""The cost ledger: one row per billed execution, in the lab's database, and what the rows
cost as AWS would bill them (:mod:`lambdalab_cost.pricing`).

A row keeps what billing needs, not money: function, version, the alias or version the
caller named, the time on the lab's clock, architecture, memory, ephemeral storage,
duration and billed duration. Costs are worked out when asked for, so a change of price
in :mod:`lambdalab.limits` reprices the whole history.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Callable

from lambdalab import InvokeReport
from lambdalab.plugin import (
    BatchedWriter, Database, InvalidParameterValueException, insert_rows, limits,
    parse_function_ref, pricing,
)

from .pricing import Cost, Usage

MIGRATIONS: dict[str, str] = {
    "cost-1": """
    CREATE TABLE cost_invokes (
        request_id TEXT NOT NULL,
        function_name TEXT NOT NULL,
        version TEXT NOT NULL,
        alias TEXT,
        at REAL NOT NULL,
        architecture TEXT NOT NULL,
        memory_mb INTEGER NOT NULL,
        ephemeral_storage_mb INTEGER NOT NULL,
        duration_ms REAL NOT NULL,
        billed_ms INTEGER NOT NULL,
        init_ms REAL
    );
    CREATE INDEX cost_invokes_by_function ON cost_invokes (function_name, at)
    """,
    # A row an execution keeps what varies from one to the next; what every execution of
    # one configuration shares (function, version, alias or '', architecture, memory,
    # ephemeral storage) is a row of cost_configs. 11 columns and a text index made a
    # row cost 1.8-3.0 µs to insert, 6 and an integer one 1.0-1.5. The view cost_invokes
    # reads as the table of cost-1 did (its seq orders rows as rowid did).
    "cost-2": """
    CREATE TABLE cost_configs (
        id INTEGER PRIMARY KEY,
        function_name TEXT NOT NULL,
        version TEXT NOT NULL,
        alias TEXT NOT NULL,
        architecture TEXT NOT NULL,
        memory_mb INTEGER NOT NULL,
        ephemeral_storage_mb INTEGER NOT NULL,
        UNIQUE (function_name, version, alias, architecture, memory_mb, ephemeral_storage_mb)
    );
    INSERT INTO cost_configs
        (function_name, version, alias, architecture, memory_mb, ephemeral_storage_mb)
    SELECT DISTINCT function_name, version, COALESCE(alias, ''), architecture, memory_mb,
        ephemeral_storage_mb
    FROM cost_invokes;
    CREATE TABLE cost_rows (
        request_id TEXT NOT NULL,
        config INTEGER NOT NULL,
        at REAL NOT NULL,
        duration_ms REAL NOT NULL,
        billed_ms INTEGER NOT NULL,
        init_ms REAL
    );
    INSERT INTO cost_rows
    SELECT i.request_id, c.id, i.at, i.duration_ms, i.billed_ms, i.init_ms
    FROM cost_invokes AS i JOIN cost_configs AS c
        ON c.function_name = i.function_name AND c.version = i.version
        AND c.alias = COALESCE(i.alias, '') AND c.architecture = i.architecture
        AND c.memory_mb = i.memory_mb AND c.ephemeral_storage_mb = i.ephemeral_storage_mb
    ORDER BY i.rowid;
    DROP TABLE cost_invokes;
    CREATE INDEX cost_rows_by_config ON cost_rows (config, at);
    CREATE VIEW cost_invokes AS
    SELECT r.rowid AS seq, r.request_id, c.function_name, c.version,
        NULLIF(c.alias, '') AS alias, r.at, c.architecture, c.memory_mb,
        c.ephemeral_storage_mb, r.duration_ms, r.billed_ms, r.init_ms
    FROM cost_rows AS r JOIN cost_configs AS c ON c.id = r.config
    """,
}

#: Rows the ledger keeps (lambdalab's own bound); past it, the oldest go.
ROWS_MAX = 1_000_000
#: Columns of ``cost_rows``: the values a row hands its writer (``width``).
_ROW_WIDTH = 6
_CONFIG_COLUMNS = "function_name, version, alias, architecture, memory_mb, ephemeral_storage_mb"
#: The fields of a :class:`BilledInvoke`, as ``cost_invokes`` names them.
_INVOKE_COLUMNS = ("request_id, function_name, version, alias, at, architecture, memory_mb, "
                   "ephemeral_storage_mb, duration_ms, billed_ms, init_ms")


@dataclass(frozen=True)
class BilledInvoke:
    """One billed execution, as the ledger keeps it."""

    request_id: str
    function_name: str
    version: str
    #: The alias the caller invoked, or ``None`` (a version, or the unqualified name).
    alias: str | None
    at: float
    architecture: str
    memory_mb: int
    ephemeral_storage_mb: int
    duration_ms: float
    billed_ms: int
    init_ms: float | None

    @property
    def usage(self) -> Usage:
        return Usage(
            requests=1,
            gb_seconds={self.architecture: pricing.gb_seconds(self.memory_mb, self.billed_ms)},
            storage_gb_seconds=pricing.extra_storage_gb_seconds(
                self.ephemeral_storage_mb, self.billed_ms
            ),
            billed_ms=self.billed_ms,
        )

    @property
    def cost(self) -> Cost:
        """This execution's price, in the first tier, before the free tier."""
        return self.usage.cost(free_tier=False)


@dataclass(frozen=True)
class Line:
    """Usage and cost of one function version, reached through one alias (or none)."""

    function_name: str
    version: str
    alias: str | None
    usage: Usage
    cost: Cost


@dataclass(frozen=True)
class Measured:
    """What a function's invokes at one memory size took, on average."""

    memory_mb: int
    architecture: str
    ephemeral_storage_mb: int
    invokes: int
    #: Of ``invokes``, how many were cold starts (their INIT billed too).
    cold_starts: int
    #: Averages over the warm invokes, or over all when every one was a cold start.
    average_duration_ms: float
    average_billed_ms: float


@dataclass(frozen=True)
class Projection:
    """What ``invokes_per_month`` invokes a month would cost at one measured memory size."""

    measured: Measured
    invokes_per_month: int
    usage: Usage
    cost: Cost


@dataclass(frozen=True)
class Window:
    """Which rows: a function, version, alias and a time range ``[start, end)`` on the
    lab's clock (epoch seconds); ``None`` leaves a field open."""

    function_name: str | None = None
    version: str | None = None
    alias: str | None = None
    start: float | None = None
    end: float | None = None

    def where(self) -> tuple[str, tuple[Any, ...]]:
        clauses: list[str] = []
        params: list[Any] = []
        for column, value in (
            ("function_name", self.function_name),
            ("version", self.version),
            ("alias", self.alias),
        ):
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(value)
        if self.start is not None:
            clauses.append("at >= ?")
            params.append(self.start)
        if self.end is not None:
            clauses.append("at < ?")
            params.append(self.end)
        return (" WHERE " + " AND ".join(clauses) if clauses else ""), tuple(params)


class CostLedger:
    """A lab's billed executions and their cost. Get it with :func:`lambdalab_cost.costs`.

    It records every execution the lab reports (the ``lambdalab_invoke_completed``
    hook), at the time the lab's clock shows, and answers for any window of them.
    """

    def __init__(
        self, store: Database, now: Callable[[], float], *, rows_max: int = ROWS_MAX
    ) -> None:
        self._store = store
        self._now = now
        self.rows_max = rows_max
        self._writer: BatchedWriter[Any] = BatchedWriter(
            self._write, name="lambdalab_cost", what="invoke costs", width=_ROW_WIDTH)
        #: Each configuration recorded, by what :meth:`record` looks it up with (the ARN
        #: invoked, function, version, architecture, memory, storage), as an index into
        #: ``_configs``: its values for ``cost_configs``. One a configuration invoked,
        #: and the ARN must name a function or alias that exists, so it stays small.
        self._indexes: dict[tuple[Any, ...], int] = {}
        self._configs: list[tuple[Any, ...]] = []
        self._configs_lock = threading.Lock()
        #: Each index's row id in ``cost_configs``, once a flush has written it.
        self._config_ids: dict[int, int] = {}

    # -- recording ----------------------------------------------------------------------

    def record(self, report: InvokeReport) -> None:
        """Keep one execution's billing facts (written within a fraction of a second,
        :class:`~lambdalab.plugin.BatchedWriter`; a read writes what waits first)."""
        key = (report.invoked_arn, report.function_name, report.version,
               report.architecture, report.memory_size, report.ephemeral_storage_mb)
        index = self._indexes.get(key)
        if index is None:
            index = self._index_of(key)
        self._writer.add((report.request_id, index, self._now(), report.duration_ms,
                          report.billed_duration_ms, report.init_duration_ms))

    def _index_of(self, key: tuple[Any, ...]) -> int:
        """The index of a configuration seen for the first time (its alias worked out
        once: a regular expression)."""
        arn, function_name, version, architecture, memory, storage = key
        config = (function_name, version, _alias(arn) or "", architecture, memory, storage)
        with self._configs_lock:
            index = self._indexes.get(key)
            if index is None:
                self._configs.append(config)
                index = self._indexes[key] = len(self._configs) - 1
        return index

    def flush(self) -> None:
        """Write the rows that wait, and drop the oldest past ``rows_max``."""
        self._writer.flush()

    def _write(self, batch: list[Any]) -> None:
        """Insert ``batch``, rows' values one after another
        (:func:`~lambdalab.plugin.insert_rows`), and drop the oldest rows past
        ``rows_max``."""
        rows = list(batch)  # a batch that fails is kept as it was, for the next try
        with self._store.transaction() as db:
            found = {index: self._config_id(db, index)
                     for index in set(rows[1::_ROW_WIDTH]) - self._config_ids.keys()}
            ids = {**self._config_ids, **found}
            rows[1::_ROW_WIDTH] = [ids[index] for index in rows[1::_ROW_WIDTH]]
            insert_rows(db, "INSERT INTO cost_rows VALUES ", _ROW_WIDTH, rows)
            db.execute(
                "DELETE FROM cost_rows WHERE rowid <= (SELECT MAX(rowid) FROM cost_rows) - ?",
                (self.rows_max,),
            )
        self._config_ids.update(found)  # only once committed

    def _config_id(self, db: Any, index: int) -> int:
        """The ``cost_configs`` row of the configuration at ``index`` (made if new; the
        same row whichever lab on this data dir made it)."""
        config = self._configs[index]
        db.execute(f"INSERT OR IGNORE INTO cost_configs ({_CONFIG_COLUMNS}) "
                   "VALUES (?, ?, ?, ?, ?, ?)", config)
        where = " AND ".join(f"{column} = ?" for column in _CONFIG_COLUMNS.split(", "))
        row = db.execute(f"SELECT id FROM cost_configs WHERE {where}", config).fetchone()
        return int(row[0])

    def close(self) -> None:
        """Stop the writer and write what waits (the lab calls it as it closes)."""
        self._writer.close()

    # -- reading ------------------------------------------------------------------------

    def invokes(self, window: Window = Window()) -> list[BilledInvoke]:
        """Every billed execution in ``window``, oldest first."""
        self.flush()
        where, params = window.where()
        rows = self._store.query(
            f"SELECT {_INVOKE_COLUMNS} FROM cost_invokes{where} ORDER BY at, seq", params)
        return [BilledInvoke(**dict(row)) for row in rows]

    def lines(self, window: Window = Window()) -> list[Line]:
        """Usage and cost per function, version and alias in ``window``."""
        self.flush()
        where, params = window.where()
        rows = self._store.query(
            "SELECT function_name, version, alias, architecture, COUNT(*) AS requests, "
            "SUM(memory_mb * billed_ms) AS mb_ms, "
            f"SUM(MAX(ephemeral_storage_mb - {limits.EPHEMERAL_STORAGE_DEFAULT_MB}, 0) "
            "* billed_ms) AS storage_mb_ms, SUM(billed_ms) AS billed_ms "
            f"FROM cost_invokes{where} GROUP BY function_name, version, alias, architecture "
            "ORDER BY function_name, version, alias",
            params,
        )
        usages: dict[tuple[str, str, str | None], Usage] = {}
        for row in rows:
            key = (row["function_name"], row["version"], row["alias"])
            usages[key] = usages.get(key, Usage()) + _usage(row)
        return [Line(*key, usage, usage.cost(free_tier=False)) for key, usage in usages.items()]

    def total(self, window: Window = Window()) -> Line:
        """All of ``window`` as one line; its cost counts the free tier once, as a
        month's bill does."""
        usage = sum((line.usage for line in self.lines(window)), Usage())
        return Line(window.function_name or "*", window.version or "*", window.alias, usage, usage.cost())

    def measured(
        self, function_name: str, start: float | None = None, end: float | None = None
    ) -> list[Measured]:
        """The function's average duration at each memory size (and architecture) it ran
        at, between ``start`` and ``end`` on the lab's clock: over its warm invokes, or
        over all of them where every one was a cold start."""
        self.flush()
        where, params = Window(function_name, start=start, end=end).where()
        rows = self._store.query(
            "SELECT memory_mb, architecture, MAX(ephemeral_storage_mb) AS ephemeral_storage_mb, "
            "COUNT(*) AS invokes, COUNT(init_ms) AS cold_starts, "
            f"{_WARM_FIRST.format('duration_ms')} AS average_duration_ms, "
            f"{_WARM_FIRST.format('billed_ms')} AS average_billed_ms FROM cost_invokes{where} "
            "GROUP BY memory_mb, architecture ORDER BY memory_mb, architecture",
            params,
        )
        return [Measured(**dict(row)) for row in rows]

    def projection(
        self, function_name: str, invokes_per_month: int, memory_mb: int | None = None
    ) -> list[Projection]:
        """What ``invokes_per_month`` invokes a month would cost at each memory size the
        function was measured at (only ``memory_mb``, when given), from its average
        billed duration there, with the month's tiers and free tier."""
        if type(invokes_per_month) is not int or invokes_per_month < 0:
            raise InvalidParameterValueException(
                f"invokes per month: {invokes_per_month!r} is not a whole number of 0 or "
                "more. Give one, e.g. 1_000_000."
            )
        found = self.measured(function_name)
        if memory_mb is not None:
            found = [m for m in found if m.memory_mb == memory_mb]
            if not found:
                sizes = ", ".join(str(m.memory_mb) for m in self.measured(function_name))
                raise InvalidParameterValueException(
                    f"{function_name} has not run at {memory_mb} MB, so its duration there is "
                    f"unknown (measured at: {sizes or 'no size yet'} MB). Set its memory to "
                    f"{memory_mb} MB and invoke it, then ask again: more memory buys more CPU, "
                    "so the duration changes with it."
                )
        return [project(m, invokes_per_month) for m in found]


def _alias(invoked_arn: str) -> str | None:
    """The alias the caller named in ``invoked_arn``, or ``None`` (a version, none)."""
    qualifier = parse_function_ref(invoked_arn).qualifier if invoked_arn else None
    if qualifier is None or qualifier == limits.LATEST or qualifier.isdigit():
        return None
    return qualifier


#: The average over warm invokes where there are any: a month of invokes is mostly warm,
#: and a cold start's billed INIT would weigh far more in a handful of measurements.
_WARM_FIRST = "COALESCE(AVG(CASE WHEN init_ms IS NULL THEN {0} END), AVG({0}))"


def _usage(row: Any) -> Usage:
    return Usage(
        requests=row["requests"],
        gb_seconds={row["architecture"]: pricing.gb_seconds(row["mb_ms"], 1)},
        storage_gb_seconds=pricing.gb_seconds(row["storage_mb_ms"], 1),
        billed_ms=row["billed_ms"],
    )


def project(measured: Measured, invokes: int) -> Projection:
    """What ``invokes`` invokes a month cost at ``measured``'s memory size and average
    billed duration."""
    billed_ms = measured.average_billed_ms
    usage = Usage(
        requests=invokes,
        gb_seconds={measured.architecture: invokes * pricing.gb_seconds(measured.memory_mb, billed_ms)},
        storage_gb_seconds=invokes
        * pricing.extra_storage_gb_seconds(measured.ephemeral_storage_mb, billed_ms),
        billed_ms=round(invokes * billed_ms),
    )
    return Projection(measured, invokes, usage, usage.cost())
