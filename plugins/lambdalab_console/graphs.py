"""The metric graphs' numbers: each function's ``AWS/Lambda`` Invocations, Errors,
Throttles and Duration p50/p99 over the last hour of the lab's clock, in one-minute
periods, read as GetMetricData reads them
(https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_GetMetricData.html)
from the CloudWatch plugin (``lambdalab_cloudwatch``), so a graph's points are the
metric's datapoints. The page draws them (``static/graphs.js``).
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

from lambdalab import Lab

from .bounds import GRAPH_FUNCTIONS_MAX

#: Minutes of the lab's clock a metric graph covers (the latest, the current one included).
GRAPH_MINUTES = 60
#: The period of a graph's points (seconds): CloudWatch's standard resolution for Lambda.
PERIOD_SECONDS = 60
#: Each graph: its label, the metric, and the statistic of each period.
SERIES = (
    ("Invocations", "Invocations", "Sum"),
    ("Errors", "Errors", "Sum"),
    ("Throttles", "Throttles", "Sum"),
    ("Duration p50 (ms)", "Duration", "p50"),
    ("Duration p99 (ms)", "Duration", "p99"),
)


def plugin_loaded(lab: Lab, plugin: ModuleType) -> bool:
    """Whether ``plugin`` is loaded on ``lab`` (``LAMBDALAB_PLUGINS`` may leave it out:
    then its tables do not exist in the lab's database)."""
    return bool(lab.plugin_manager.is_registered(plugin))


def queries_for(n: int, function_name: str) -> list[dict[str, Any]]:
    """GetMetricData's ``MetricDataQueries`` for the ``n``-th function's graphs."""
    return [{
        "Id": f"f{n}m{k}", "Label": label,
        "MetricStat": {"Metric": {"Namespace": "AWS/Lambda", "MetricName": metric,
                                  "Dimensions": [{"Name": "FunctionName", "Value": function_name}]},
                       "Period": PERIOD_SECONDS, "Stat": stat},
    } for k, (label, metric, stat) in enumerate(SERIES)]


def window(now: float) -> tuple[float, float]:
    """``[start, end)`` of the graphs: whole minutes, the one holding ``now`` last."""
    end = (now // PERIOD_SECONDS + 1) * PERIOD_SECONDS
    return end - GRAPH_MINUTES * PERIOD_SECONDS, end


def metric_graphs(lab: Lab, only: list[str] | None = None) -> dict[str, Any] | None:
    """Each function's series as ``[[epoch, value], …]``, oldest first (of the functions
    named in ``only``, when given: what changed); ``None`` without the CloudWatch plugin."""
    import lambdalab_cloudwatch

    if not plugin_loaded(lab, lambdalab_cloudwatch):
        return None
    names = [config.function_name for config in lab.list_functions()[:GRAPH_FUNCTIONS_MAX]]
    if only is not None:
        names = [name for name in names if name in set(only)]
    start, end = window(lab.clock.now())
    # one GetMetricData for all (50 functions x 5 series is within its 500 queries)
    queries = [query for n, name in enumerate(names) for query in queries_for(n, name)]
    results = lambdalab_cloudwatch.cloudwatch(lab).metric_data(
        queries, start, end, "TimestampAscending") if queries else []
    series: list[dict[str, list[list[float]]]] = [{} for _ in names]
    for result in results:
        n = int(result["Id"][1:].split("m")[0])
        series[n][result["Label"]] = [
            [t.timestamp(), v] for t, v in zip(result["Timestamps"], result["Values"])]
    return {"start": start, "end": end, "period": PERIOD_SECONDS,
            "labels": [label for label, _, _ in SERIES],
            "functions": [{"name": name, "series": s} for name, s in zip(names, series)]}
