"""The Embedded Metric Format: metrics a function writes into its log output.

A log event that is a JSON object with an ``_aws`` member declares metrics; CloudWatch
extracts them (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html)::

    {"_aws": {"Timestamp": 1574109732004,
              "CloudWatchMetrics": [{"Namespace": "shop",
                                     "Dimensions": [["service"]],
                                     "Metrics": [{"Name": "Orders", "Unit": "Count"}]}]},
     "service": "cart", "Orders": 1}

Each directive's metrics are published under each of its dimension sets, the values
(a number, or a list of up to 100) and the dimension values read from the root members.
An event that breaks the specification gives no metrics, as on AWS (which logs why).
aws-lambda-powertools' ``Metrics`` writes exactly this.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from . import quotas
from .store import Dimensions, dimensions_of

#: The most values one metric member may hold.
VALUES_MAX = 100


@dataclass(frozen=True)
class EmfValue:
    namespace: str
    metric: str
    dimensions: Dimensions
    value: float
    unit: str
    #: Epoch seconds (the event's ``_aws.Timestamp``).
    timestamp: float


def metrics_in(message: str) -> list[EmfValue]:
    """The metrics one log event declares; ``[]`` for any other event."""
    text = message.strip()
    if not text.startswith("{") or '"_aws"' not in text:
        return []
    try:
        root = json.loads(text)
        return _extract(root)
    except (ValueError, TypeError, KeyError, AttributeError):
        return []


def _extract(root: dict[str, Any]) -> list[EmfValue]:
    meta = root["_aws"]
    timestamp = meta["Timestamp"]
    if isinstance(timestamp, bool) or not isinstance(timestamp, (int, float)):
        return []
    found = []
    for directive in meta["CloudWatchMetrics"]:
        namespace = directive["Namespace"]
        if not isinstance(namespace, str) or not namespace:
            return []
        sets = [_dimension_set(root, names) for names in directive["Dimensions"]]
        for metric in directive["Metrics"]:
            name, unit = metric["Name"], metric.get("Unit", "None")
            for value in _values(root.get(name)):
                found += [EmfValue(namespace, name, dims, value, unit, timestamp / 1000.0)
                          for dims in sets]
    return found


def _dimension_set(root: dict[str, Any], names: list[str]) -> Dimensions:
    if not isinstance(names, list) or len(names) > quotas.DIMENSIONS_MAX:
        raise ValueError("a dimension set is a list of at most 30 names")
    values = [root[name] for name in names]
    if not all(isinstance(v, str) for v in values):
        raise ValueError("dimension values are strings")
    return dimensions_of(zip(names, values))


def _values(member: Any) -> list[float]:
    if member is None:  # declared but not set: nothing to publish
        return []
    items = member if isinstance(member, list) else [member]
    if len(items) > VALUES_MAX:
        raise ValueError("a metric member holds at most 100 values")
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in items):
        raise ValueError("metric values are numbers")
    return [float(v) for v in items]
