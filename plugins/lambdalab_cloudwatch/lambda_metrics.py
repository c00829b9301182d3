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

import threading
from typing import Iterable

from lambdalab.plugin import LambdaDatum

from . import quotas
from .store import Aggregate, Dimensions, Key, minute_of

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


def dimension_sets(datum: LambdaDatum) -> list[Dimensions]:
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


class LambdaRecorder:
    """The invoke path's side of the store: one aggregate per kind of datum (metric,
    function, resource, executed version) and minute, spread over the dimension sets
    AWS publishes it under only when the store drains it (every few seconds, and before
    every read). Six dict updates per invoke, not sixteen."""

    def __init__(self) -> None:
        #: (metric, function, resource, executed version, minute) → its aggregate.
        self._pending: dict[tuple[str, str | None, str | None, str | None, int], Aggregate] = {}
        self._lock = threading.Lock()

    def record(self, data: Iterable[LambdaDatum], now: float) -> None:
        minute = minute_of(now)
        room = quotas.PERCENTILE_SAMPLE_MAX
        with self._lock:
            pending = self._pending
            for datum in data:
                kind = (datum.metric, datum.function_name, datum.resource,
                        datum.executed_version, minute)
                found = pending.get(kind)
                if found is None:
                    found = pending[kind] = Aggregate(UNITS.get(datum.metric, "None"))
                value = datum.value
                found.sample_count += 1.0
                found.total += value
                if value < found.minimum:
                    found.minimum = value
                if value > found.maximum:
                    found.maximum = value
                if len(found.samples) < room:
                    found.samples.append(value)
                else:
                    found.keep(value)

    def drain(self) -> list[tuple[Key, Aggregate]]:
        """What was recorded since the last call, under every dimension set."""
        with self._lock:
            batch, self._pending = self._pending, {}
        out = []
        for (metric, function, resource, executed, minute), aggregate in batch.items():
            kind = LambdaDatum(metric, 0.0, function, resource, executed)
            out += [((NAMESPACE, metric, dims, minute), aggregate)
                    for dims in dimension_sets(kind)]
        return out

