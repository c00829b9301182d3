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

from lambdalab.plugin import LambdaDatum

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
    "IteratorAge": "Milliseconds",
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


#: What the recorder sums by: (metric, function, resource, executed version, minute).
Kind = tuple[str, str | None, str | None, str | None, int]


class LambdaRecorder:
    """The invoke path's side of the store. An invoke only appends the values of its
    data points to one list per kind (metric, function, resource, executed version) and
    minute; they are summed into one aggregate per kind, and spread over the dimension
    sets AWS publishes them under, when the store drains the recorder (every few
    seconds, and before every read), off the invoke's path. Past RAW_MAX waiting values,
    an invoke sums them itself, so memory stays bounded however long nothing drains.

    A value waits as a float in its kind's list, not as the invoke's objects: floats
    the garbage collector does not track, where tens of thousands of waiting objects
    made its full passes the invoke path's largest cost."""

    #: Values that may wait before an invoke sums them itself.
    RAW_MAX = 300_000

    def __init__(self) -> None:
        self._values: dict[Kind, list[float]] = {}
        self._waiting = 0  # values in _values
        self._lock = threading.Lock()  # guards _values and _waiting: held for the appends
        self._summed: dict[Kind, Aggregate] = {}
        self._summing = threading.Lock()  # guards _summed

    def record(self, data: list[LambdaDatum], now: float) -> None:
        minute = minute_of(now)
        with self._lock:
            values = self._values
            for d in data:
                kind = (d.metric, d.function_name, d.resource, d.executed_version, minute)
                found = values.get(kind)
                if found is None:
                    values[kind] = [d.value]
                else:
                    found.append(d.value)
            self._waiting += len(data)
            full = self._waiting >= self.RAW_MAX
        if full:
            with self._summing:
                self._sum()

    def drain(self) -> list[tuple[Key, Aggregate]]:
        """What was recorded since the last call, under every dimension set."""
        with self._summing:
            self._sum()
            summed, self._summed = self._summed, {}
        out = []
        for (metric, function, resource, executed, minute), aggregate in summed.items():
            kind = LambdaDatum(metric, 0.0, function, resource, executed)
            out += [((NAMESPACE, metric, dims, minute), aggregate)
                    for dims in dimension_sets(kind)]
        return out

    def _sum(self) -> None:
        """Add the waiting values to ``_summed`` (``_summing`` held)."""
        with self._lock:
            values, self._values, self._waiting = self._values, {}, 0
        for kind, seen in values.items():
            if kind not in self._summed:
                self._summed[kind] = Aggregate(UNITS.get(kind[0], "None"))
            self._summed[kind].add_values(seen)
