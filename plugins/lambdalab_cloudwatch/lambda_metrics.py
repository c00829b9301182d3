"""The ``AWS/Lambda`` namespace: what lambdalab's data plane reports, as AWS publishes it.

Names, units and dimensions from
https://docs.aws.amazon.com/lambda/latest/dg/monitoring-metrics-types.html: each data
point is published under ``FunctionName``; under ``FunctionName`` and ``Resource``
(``NAME:QUALIFIER``) when a version or alias was invoked; under those and
``ExecutedVersion`` when an alias was; and, aggregated across all functions, with no
dimensions. ``ConcurrentExecutions`` is reported per function and account-wide (the
core hands both), ``UnreservedConcurrentExecutions`` account-wide only.
"""

from __future__ import annotations

from typing import Any, Iterable

from .store import Dimensions, Key, minute_of

NAMESPACE = "AWS/Lambda"

#: Each metric's unit.
UNITS: dict[str, str] = {
    "Invocations": "Count",
    "Errors": "Count",
    "Throttles": "Count",
    "Duration": "Milliseconds",
    "ConcurrentExecutions": "Count",
    "UnreservedConcurrentExecutions": "Count",
    "DeadLetterErrors": "Count",
    "DestinationDeliveryFailures": "Count",
    "AsyncEventsReceived": "Count",
    "AsyncEventAge": "Milliseconds",
    "AsyncEventsDropped": "Count",
}

#: Metrics whose per-function figure is not a share of the account's (the core reports
#: the account's own figure apart).
_NOT_SUMMED = frozenset({"ConcurrentExecutions", "UnreservedConcurrentExecutions"})


def dimension_sets(datum: Any) -> list[Dimensions]:
    """Every dimension set AWS publishes ``datum`` under."""
    name = datum.function_name
    if name is None:
        return [()]
    sets: list[Dimensions] = [(("FunctionName", name),)]
    if datum.resource is not None:
        sets.append((("FunctionName", name), ("Resource", datum.resource)))
        if datum.executed_version is not None:
            sets.append((("ExecutedVersion", datum.executed_version), ("FunctionName", name),
                         ("Resource", datum.resource)))
    if datum.metric not in _NOT_SUMMED:
        sets.append(())
    return sets


def keyed(data: Iterable[Any], now: float) -> list[tuple[Key, float, str]]:
    """The store's ``(key, value, unit)`` items of ``data`` (LambdaDatum records)."""
    minute = minute_of(now)
    return [
        ((NAMESPACE, datum.metric, dims, minute), datum.value, UNITS.get(datum.metric, "None"))
        for datum in data
        for dims in dimension_sets(datum)
    ]
