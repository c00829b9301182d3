"""CloudWatch metrics of one lab: what is recorded, and the queries AWS's API answers.

Pure state and its rules, no HTTP (``responses.py`` is the wire). Data comes from three
places, as on AWS: the data plane's ``AWS/Lambda`` data points (the
``lambdalab_lambda_metrics`` hook), ``PutMetricData``, and the Embedded Metric Format
in functions' log output (read from the log store before every query).
"""

from __future__ import annotations

import logging
import math
import re
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable

from lambdalab import LambdaError, Lab
from lambdalab.plugin import Database, LambdaDatum

from . import emf, lambda_metrics, metric_math, quotas
from .exceptions import InvalidParameterCombination, InvalidParameterValue, MissingParameter
from .store import Aggregate, Dimensions, MetricStore, dimensions_of

log = logging.getLogger(__name__)

STATISTICS = ("SampleCount", "Average", "Sum", "Minimum", "Maximum")
#: Units CloudWatch takes (``StandardUnit`` in the model).
UNITS = frozenset({
    "Seconds", "Microseconds", "Milliseconds", "Bytes", "Kilobytes", "Megabytes", "Gigabytes",
    "Terabytes", "Bits", "Kilobits", "Megabits", "Gigabits", "Terabits", "Percent", "Count",
    "Bytes/Second", "Kilobytes/Second", "Megabytes/Second", "Gigabytes/Second",
    "Terabytes/Second", "Bits/Second", "Kilobits/Second", "Megabits/Second",
    "Gigabits/Second", "Terabits/Second", "Count/Second", "None",
})


@dataclass(frozen=True)
class Datapoint:
    """One period of GetMetricStatistics' answer."""

    timestamp: float
    values: dict[str, float]
    extended: dict[str, float]
    unit: str

    def to_aws(self) -> dict[str, Any]:
        out: dict[str, Any] = {"Timestamp": _utc(self.timestamp), **self.values, "Unit": self.unit}
        if self.extended:
            out["ExtendedStatistics"] = self.extended
        return out


def _utc(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, timezone.utc)


def epoch_of(value: Any) -> float:
    """A timestamp of the input as epoch seconds; InvalidParameterValue if it is none."""
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=timezone.utc)).timestamp()
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        seconds = math.nan
    if not math.isfinite(seconds):
        raise InvalidParameterValue(f"{str(value)[:64]!r} is not a timestamp: give ISO 8601 "
                                    "(2023-11-14T22:00:00Z) or epoch seconds.")
    return seconds


def check_period(period: Any, what: str = "Period") -> int:
    """A period CloudWatch takes for one-minute data: a multiple of 60 seconds."""
    if type(period) is not int or period < quotas.PERIOD_S or period % quotas.PERIOD_S:
        raise InvalidParameterValue(
            f"The parameter {what} must be a multiple of 60 (lambdalab keeps one-minute "
            f"data); got {period!r}."
        )
    return period


def check_statistic(name: str) -> str:
    """``name`` if it is a statistic or a percentile (``p0.0`` to ``p100``)."""
    if name in STATISTICS:
        return name
    if name.startswith("p"):
        try:
            if 0 <= float(name[1:]) <= 100:
                return name
        except ValueError:
            pass
    raise InvalidParameterValue(
        f"The statistic {name!r} is not valid. Use one of {', '.join(STATISTICS)}, or a "
        "percentile such as p50, p90 or p99."
    )


def dimensions_from(items: Any) -> Dimensions:
    """The model's ``[{"Name": ..., "Value": ...}]`` as a dimension set."""
    pairs = [(d["Name"], d["Value"]) for d in items or ()]
    if len(pairs) > quotas.DIMENSIONS_MAX:
        raise InvalidParameterValue(f"A metric has at most {quotas.DIMENSIONS_MAX} dimensions.")
    if len({name for name, _ in pairs}) != len(pairs):
        raise InvalidParameterValue("A dimension name appears twice: give each once.")
    return dimensions_of(pairs)


def dimensions_to_aws(dimensions: Dimensions) -> list[dict[str, str]]:
    return [{"Name": name, "Value": value} for name, value in dimensions]


class Metrics:
    """Every metric of one lab: recording, the Embedded Metric Format, and queries."""

    def __init__(self, lab: Lab, db: Database) -> None:
        self.lab = lab
        self.store = MetricStore(db, lab.clock.now)
        self.recorder = lambda_metrics.LambdaRecorder()
        self.store.sources.append(self.recorder.drain)
        self._db = db
        self._ingesting = threading.Lock()
        self._closed = threading.Event()
        #: When data was last added, and last written (``time.monotonic()``).
        self._added_at = self._flushed_at = 0.0
        self._flusher = threading.Thread(target=self._flush_loop, daemon=True,
                                         name="lambdalab-cloudwatch")
        self._flusher.start()

    # -- recording ----------------------------------------------------------------------

    def lambda_data(self, data: list[LambdaDatum]) -> None:
        """The data plane's ``AWS/Lambda`` data points (the invoke path: keep it cheap)."""
        self.recorder.record(data, self.lab.clock.now())
        self._added()

    def put_metric_data(self, namespace: str, metric_data: list[dict[str, Any]]) -> None:
        """PutMetricData: custom metrics (https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricData.html)."""
        if namespace.startswith("AWS/"):
            raise InvalidParameterValue(
                f"The value {namespace} for parameter Namespace is invalid: namespaces "
                "starting with AWS/ are reserved for AWS's own metrics."
            )
        if len(metric_data) > quotas.PUT_METRIC_DATA_MAX:
            raise InvalidParameterValue(
                f"The collection MetricData must not have a size greater than "
                f"{quotas.PUT_METRIC_DATA_MAX}.")
        checked = [self._datum(d) for d in metric_data]  # all or nothing
        for datum, when in checked:
            self._record(namespace, datum, when)
        self._added()

    def _added(self) -> None:
        """Data waits in memory: the flush thread writes it, or, once the lab is closing
        (an async invoke still finishing as the lab's workers stop), this call does."""
        self._added_at = time.monotonic()
        if self._closed.is_set():
            self._write_late()

    def _write_late(self) -> None:
        try:
            self.store.flush()
        except Exception:  # the database itself closed: the lab outlived its workers' wait
            log.warning("lambdalab: CloudWatch data of an invoke that ended after its lab "
                        "closed was not written.")

    def _datum(self, datum: dict[str, Any]) -> tuple[dict[str, Any], float]:
        name = datum["MetricName"]
        given = [k for k in ("Value", "StatisticValues", "Values") if datum.get(k) is not None]
        if len(given) > 1:
            raise InvalidParameterCombination(
                f"The parameters MetricData.member.Value, StatisticValues and Values are "
                f"mutually exclusive; {name} gives {' and '.join(given)}.")
        if not given:
            raise MissingParameter(f"Metric {name}: give Value, StatisticValues or Values.")
        if datum.get("Unit", "None") not in UNITS:
            raise InvalidParameterValue(f"The unit {datum['Unit']!r} is not a CloudWatch unit.")
        values = datum.get("Values") or []
        counts = datum.get("Counts") or []
        if len(values) > quotas.VALUES_MAX or (counts and len(counts) != len(values)):
            raise InvalidParameterValue(
                f"Metric {name}: Values holds at most {quotas.VALUES_MAX} numbers, and "
                "Counts, when given, one per value.")
        stats = datum.get("StatisticValues")
        if stats is not None and (stats["SampleCount"] <= 0 or stats["Minimum"] > stats["Maximum"]):
            raise InvalidParameterValue(
                f"Metric {name}: StatisticValues needs SampleCount above 0 and Minimum no "
                "larger than Maximum.")
        numbers = [datum.get("Value"), *values, *(stats or {}).values()]
        if any(isinstance(v, float) and not math.isfinite(v) for v in numbers):
            raise InvalidParameterValue(f"Metric {name}: values must be finite numbers.")
        now = self.lab.clock.now()
        when = epoch_of(datum["Timestamp"]) if datum.get("Timestamp") is not None else now
        if not now - quotas.TIMESTAMP_PAST_S <= when <= now + quotas.TIMESTAMP_FUTURE_S:
            raise InvalidParameterValue(
                f"The parameter MetricData.member.Timestamp of {name} must be within the "
                "last two weeks and at most two hours ahead (on the lab's clock).")
        dimensions_from(datum.get("Dimensions"))
        return datum, when

    def _record(self, namespace: str, datum: dict[str, Any], when: float) -> None:
        name, unit = datum["MetricName"], datum.get("Unit", "None")
        dims = dimensions_from(datum.get("Dimensions"))
        stats = datum.get("StatisticValues")
        if stats is not None:
            self.store.add_set(namespace, name, dims, stats["SampleCount"], stats["Sum"],
                               stats["Minimum"], stats["Maximum"], unit, when)
        elif datum.get("Values"):
            counts = datum.get("Counts") or [1.0] * len(datum["Values"])
            for value, count in zip(datum["Values"], counts):
                self.store.add(namespace, name, dims, value, unit, when, count)
        else:
            self.store.add(namespace, name, dims, datum["Value"], unit, when)

    def ingest_logs(self) -> None:
        """Read functions' log output written since the last call for EMF events."""
        with self._ingesting:
            for config in self.lab.list_functions():
                try:
                    self._ingest_group(config.function_name)
                except LambdaError:  # deleted meanwhile: its log group went with it
                    continue

    def _ingest_group(self, function_name: str) -> None:
        group = f"/aws/lambda/{function_name}"
        first = self._cursor(group)
        after, found = first, []
        while events := self.lab.get_logs(function_name, after):
            for event in events:
                found += emf.metrics_in(event.message)
            after = events[-1].id
        if after == first:
            return
        with self._db.transaction() as db:  # another lab on this data dir may read them too
            if self._cursor(group, db) != first:
                return  # it did: they are counted already
            db.execute("INSERT INTO cloudwatch_log_cursors (log_group, last_id) VALUES (?, ?) "
                       "ON CONFLICT (log_group) DO UPDATE SET last_id = excluded.last_id",
                       (group, after))
        for value in found:
            self.store.add(value.namespace, value.metric, value.dimensions, value.value,
                           value.unit, value.timestamp)

    def _cursor(self, group: str, db: Any = None) -> int:
        """The id of the last log event of ``group`` read for EMF (0: none yet)."""
        sql, params = "SELECT last_id FROM cloudwatch_log_cursors WHERE log_group = ?", (group,)
        rows = db.execute(sql, params).fetchall() if db is not None else self._db.query(sql, params)
        return int(rows[0][0]) if rows else 0

    # -- queries ------------------------------------------------------------------------

    def periods(self, namespace: str, metric: str, dimensions: Dimensions, start: float,
                end: float, period: int, unit: str | None = None) -> list[tuple[float, Aggregate]]:
        """The data of ``[start, end)`` in periods of ``period`` seconds, functions' logs
        read first (see :meth:`~lambdalab_cloudwatch.store.MetricStore.periods`)."""
        self.ingest_logs()
        return self.store.periods(namespace, metric, dimensions, start, end, period, unit)

    def statistics(self, namespace: str, metric: str, dimensions: Dimensions, start: Any,
                   end: Any, period: int, statistics: list[str], extended: list[str],
                   unit: str | None = None) -> list[Datapoint]:
        """GetMetricStatistics (https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_GetMetricStatistics.html)."""
        check_period(period)
        if not statistics and not extended:
            raise MissingParameter("The parameter Statistics or ExtendedStatistics must be "
                                   "specified.")
        for name in statistics:
            if name not in STATISTICS:
                raise InvalidParameterValue(f"The statistic {name!r} is not valid. Use "
                                            f"{', '.join(STATISTICS)}.")
        for name in extended:
            if not name.startswith("p"):
                raise InvalidParameterValue(f"The extended statistic {name!r} is not valid: "
                                            "use a percentile such as p99.")
            check_statistic(name)
        first, last = epoch_of(start), epoch_of(end)
        if last <= first:
            raise InvalidParameterValue("The parameter StartTime must be before EndTime.")
        if (last - first) / period > quotas.DATAPOINTS_MAX:
            raise InvalidParameterCombination(
                f"You have requested up to {int((last - first) / period)} datapoints, which "
                f"exceeds the limit of {quotas.DATAPOINTS_MAX}. Use a longer Period or a "
                "shorter time range.")
        return [
            Datapoint(at, {s: _value(a, s) for s in statistics},
                      {p: _value(a, p) for p in extended}, a.unit)
            for at, a in self.periods(namespace, metric, dimensions, first, last, period, unit)
        ]

    def list_metrics(self, namespace: str | None = None, metric: str | None = None,
                     filters: list[dict[str, Any]] | None = None,
                     recently_active: str | None = None) -> list[tuple[str, str, Dimensions]]:
        """ListMetrics: every metric matching the namespace, name and dimension filters."""
        self.ingest_logs()
        since = self.lab.clock.now() - 3 * 3600 if recently_active == "PT3H" else None
        found = []
        for ns, name, dims in self.store.metrics(namespace, metric, since):
            present = dict(dims)
            if all(f["Name"] in present and f.get("Value") in (None, present[f["Name"]])
                   for f in filters or ()):
                found.append((ns, name, dims))
        return found

    def metric_data(self, queries: list[dict[str, Any]], start: Any, end: Any,
                    scan_by: str | None = None) -> list[dict[str, Any]]:
        """GetMetricData: each query's timestamps and values, newest first by default
        (https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_GetMetricData.html).
        An expression whose value is an array gives one result per series, under its Id."""
        if len(queries) > quotas.METRIC_DATA_QUERIES_MAX:
            raise InvalidParameterValue(
                f"The collection MetricDataQueries must not have a size greater than "
                f"{quotas.METRIC_DATA_QUERIES_MAX}.")
        first, last = epoch_of(start), epoch_of(end)
        if last <= first:
            raise InvalidParameterValue("The parameter StartTime must be before EndTime.")
        values, grid = self.query_values(queries, first, last)
        descending = scan_by != "TimestampAscending"
        results = []
        for query in queries:
            if query.get("ReturnData") is False:
                continue
            label = query.get("Label") or _label(query)
            for name, series in _labelled(values[query["Id"]], label, grid):
                points = sorted(series.items(), reverse=descending)
                results.append({
                    "Id": query["Id"], "Label": name,
                    "Timestamps": [_utc(t) for t, _ in points],
                    "Values": [v for _, v in points], "StatusCode": "Complete",
                })
        return results

    def query_values(self, queries: list[dict[str, Any]], first: float,
                     last: float) -> tuple[dict[str, metric_math.Value], metric_math.Grid]:
        """The value of every query (MetricStat or metric math) over ``[first, last)``,
        and the periods they cover (the shortest period of the queries)."""
        by_id, period = plan_queries(queries)
        self.ingest_logs()  # once for every query (each read did, 16 ms apiece for 50 functions)
        grid = metric_math.Grid(first, last, period)
        metrics = [(q["Id"], q.get("Label") or _label(q)) for q in queries if q.get("MetricStat")]
        values: dict[str, metric_math.Value] = {}
        pending: set[str] = set()

        def resolve(query_id: str) -> metric_math.Value:
            if query_id in values:
                return values[query_id]
            if query_id in pending:
                raise InvalidParameterValue(f"The queries that {query_id} names name it in "
                                            "turn: break the cycle.")
            pending.add(query_id)
            query = by_id[query_id]
            if query.get("MetricStat"):
                values[query_id] = self._stat_series(query["MetricStat"], first, last)
            else:
                values[query_id] = metric_math.evaluate(
                    query["Expression"], metric_math.Scope(resolve, metrics, grid))
            pending.discard(query_id)
            return values[query_id]

        for query_id in by_id:
            resolve(query_id)
        return values, grid

    def _stat_series(self, stat: dict[str, Any], first: float, last: float) -> dict[float, float]:
        metric = stat["Metric"]
        statistic = check_statistic(stat["Stat"])
        period = check_period(stat["Period"], "MetricStat.Period")
        dims = dimensions_from(metric.get("Dimensions"))
        out = {}
        for at, aggregate in self.store.periods(metric.get("Namespace", ""), metric.get("MetricName", ""),
                                                dims, first, last, period, stat.get("Unit")):
            value = _value(aggregate, statistic)
            if value is not None:
                out[at] = value
        return out

    # -- lifetime -----------------------------------------------------------------------

    def _flush_loop(self) -> None:
        """Write new data once the invokes pause (so another process on the data dir,
        such as ``lambdalab metrics`` beside a background server, sees it at once), or
        every FLUSH_INTERVAL_S under steady load."""
        while not self._closed.wait(quotas.FLUSH_IDLE_S):
            now = time.monotonic()
            if self._added_at <= self._flushed_at:
                continue
            paused = now - self._added_at >= quotas.FLUSH_IDLE_S
            if paused or now - self._flushed_at >= quotas.FLUSH_INTERVAL_S:
                self._flushed_at = now
                try:
                    self.store.flush()
                except Exception:  # the database closed under us: the lab is closing
                    return

    def close(self) -> None:
        """Stop the flush thread and write what waits. The lab's async workers stop after
        its plugins' state closes, so data added from now on is written as it comes."""
        self._closed.set()
        self._flusher.join(timeout=5)
        self.store.flush()


def _value(aggregate: Aggregate, statistic: str) -> float:
    found = aggregate.statistic(statistic)
    return 0.0 if found is None else found


def _label(query: dict[str, Any]) -> str:
    stat = query.get("MetricStat")
    return stat["Metric"].get("MetricName", query["Id"]) if stat else query["Id"]


def _labelled(value: metric_math.Value, label: str,
              grid: metric_math.Grid) -> list[tuple[str, metric_math.Series]]:
    """A query's value as labelled series: a number holds at every period."""
    if isinstance(value, list):
        return [(f"{label} {name}", series) for name, series in value]
    if isinstance(value, dict):
        return [(label, value)]
    return [(label, {t: value for t in grid.times()})]


_QUERY_ID = re.compile(r"^[a-z][A-Za-z0-9_]*$")


def plan_queries(queries: list[dict[str, Any]]) -> tuple[dict[str, dict[str, Any]], int]:
    """The queries by Id, checked (each a MetricStat or an expression that parses and
    names only queries of the request, none in a cycle) and in an order to evaluate them
    in (each after those it names), and the period their values come in."""
    by_id: dict[str, dict[str, Any]] = {}
    for query in queries:
        query_id = query["Id"]
        if not _QUERY_ID.match(query_id):
            raise InvalidParameterValue(
                f"The Id {query_id[:64]!r} is not valid: an Id starts with a lowercase letter "
                "and holds only letters, digits and underscores.")
        if query_id in by_id:
            raise InvalidParameterValue("The Id of each MetricDataQuery must be unique.")
        if query.get("MetricStat") and query.get("Expression"):
            raise InvalidParameterCombination(
                f"Query {query_id}: give MetricStat or Expression, not both.")
        if not query.get("MetricStat") and not query.get("Expression"):
            raise MissingParameter(f"Query {query_id}: give MetricStat or Expression.")
        by_id[query_id] = query
    periods = []
    names: dict[str, set[str]] = {}
    for query_id, query in by_id.items():
        if query.get("MetricStat"):
            periods.append(check_period(query["MetricStat"]["Period"], "MetricStat.Period"))
            check_statistic(query["MetricStat"]["Stat"])
            continue
        if query.get("Period") is not None:
            periods.append(check_period(query["Period"]))
        names[query_id] = metric_math.references(metric_math.parse(query["Expression"]))
        for name in names[query_id]:
            if name not in by_id:
                raise InvalidParameterValue(
                    f"The expression of {query_id} names {name}, but no query has that Id.")
    order = [query_id for query_id in by_id if query_id not in names] + _evaluation_order(names)
    return {query_id: by_id[query_id] for query_id in order}, min(periods, default=quotas.PERIOD_S)


def _evaluation_order(names: dict[str, set[str]]) -> list[str]:
    """The expressions, each after those it names (so evaluating them in this order never
    nests); InvalidParameterValue if they name one another in a cycle. Depth-first,
    without recursion: a request may chain 500 of them."""
    done: dict[str, None] = {}
    for first in names:
        if first in done:
            continue
        path, on_path = [(first, iter(sorted(names[first])))], {first}
        while path:
            query_id, todo = path[-1]
            following = next(todo, None)
            if following is None:
                path.pop()
                on_path.discard(query_id)
                done[query_id] = None
            elif following in on_path:
                raise InvalidParameterValue(
                    f"The expressions of {following} and {query_id} name one another (a "
                    "cycle): an expression can name only queries that do not name it back.")
            elif following in names and following not in done:
                path.append((following, iter(sorted(names[following]))))
                on_path.add(following)
    return list(done)


__all__ = ["Datapoint", "Metrics", "STATISTICS", "check_period", "check_statistic",
           "dimensions_from", "dimensions_to_aws", "plan_queries"]
