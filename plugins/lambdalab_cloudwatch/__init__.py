"""lambdalab's CloudWatch: the ``AWS/Lambda`` metrics, custom metrics, and their API.

A built-in plugin, registered by entry point exactly as a student's would be. It records
what the data plane reports (the ``lambdalab_lambda_metrics`` hook) in one-minute
periods of the lab's clock, reads the Embedded Metric Format from functions' logs,
keeps it all in the lab's database for a retention a learner can change, and serves
CloudWatch's API on the HTTP edge (service ``monitoring``)::

    >>> from lambdalab_cloudwatch import cloudwatch
    >>> metrics = cloudwatch(lab)                                       # doctest: +SKIP
    >>> metrics.statistics("AWS/Lambda", "Invocations", (("FunctionName", "hello"),),
    ...                    start, end, 60, ["Sum"], [])                 # doctest: +SKIP
"""

from __future__ import annotations

import weakref
from typing import Any, Mapping

import lambdalab
from lambdalab import Lab
from lambdalab.plugin import ConsolePanel, HttpService, LambdaDatum, StashKey

from .alarms import Alarm, Alarms, HistoryItem, alarm_event, composite_event
from .composite import CompositeAlarm
from .exceptions import (
    CloudWatchError,
    InvalidNextToken,
    InvalidParameterCombination,
    InvalidParameterValue,
    LimitExceeded,
    MissingParameter,
    ResourceNotFound,
)
from .models import Datapoint, Metrics
from .responses import TARGET_PREFIX, CloudWatchResponses, CloudWatchService
from .store import MIGRATIONS, Aggregate

__version__ = "0.1.0"

#: Each lab's metrics and alarms, in ``lab.stash``: they die with the lab.
METRICS = StashKey[Metrics]()
ALARMS = StashKey[Alarms]()


def cloudwatch(lab: Lab) -> Metrics:
    """The CloudWatch metrics of ``lab``."""
    # A proxy: the flush thread must not keep the lab alive.
    return lab.stash.setdefault(METRICS, lambda: Metrics(weakref.proxy(lab), lab.store))


def alarms(lab: Lab) -> Alarms:
    """The metric alarms of ``lab``, evaluated at each minute of its clock."""
    return lab.stash.setdefault(
        ALARMS, lambda: Alarms(weakref.proxy(lab), lab.store, cloudwatch(lab)))


class _Recorder:
    """The per-lab hook implementation: the hook carries no lab, so each lab's plugin
    manager gets its own recorder, bound to that lab's metrics."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    @lambdalab.hookimpl
    def lambdalab_lambda_metrics(self, data: list[LambdaDatum]) -> None:
        self.metrics.lambda_data(data)


@lambdalab.hookimpl
def lambdalab_migrations() -> dict[str, str]:
    return MIGRATIONS


@lambdalab.hookimpl
def lambdalab_lab_started(lab: Lab) -> None:
    lab.plugin_manager.register(_Recorder(cloudwatch(lab)), name="cloudwatch.recorder")
    if alarms(lab).every():
        alarms(lab).start()  # resume evaluating the alarms of a reopened data dir


@lambdalab.hookimpl
def lambdalab_lab_closing(lab: Lab) -> None:
    alarms(lab).close()  # no evaluation (nor action) once the lab is closing


@lambdalab.hookimpl
def lambdalab_http_services(lab: Lab) -> list[HttpService]:
    service = CloudWatchService(CloudWatchResponses(cloudwatch(lab), alarms(lab)))
    return [HttpService("monitoring", service, target_prefixes=(TARGET_PREFIX,))]


#: The console's metrics panel: the last hour of each function's AWS/Lambda metrics.
_PANEL_SECONDS = 3600
_PANEL_SUMS = ("Invocations", "Errors", "Throttles")


def _hour_of(metrics: Metrics, metric: str, function_name: str) -> Aggregate:
    """The last hour of one ``AWS/Lambda`` metric of a function, as one statistic set
    (functions' logs read already)."""
    end = metrics.lab.clock.now() + 60  # the current minute too
    total = Aggregate()
    for _, aggregate in metrics.store.periods("AWS/Lambda", metric, (("FunctionName", function_name),),
                                              end - _PANEL_SECONDS - 60, end, 2 * _PANEL_SECONDS):
        total.merge(aggregate)
    return total


@lambdalab.hookimpl
def lambdalab_console_panels(lab: Lab) -> list[ConsolePanel]:
    """The console's metrics panel, as ``aws cloudwatch get-metric-statistics`` reads them."""

    def rows() -> list[Mapping[str, Any]]:
        found: list[Mapping[str, Any]] = []
        cloudwatch(lab).ingest_logs()  # once, not per read (50 functions: 1.1-1.6 s a panel)
        for function in lab.list_functions():
            name = function.function_name
            row: dict[str, Any] = {"Function": name}
            for metric in _PANEL_SUMS:
                row[metric] = int(_hour_of(cloudwatch(lab), metric, name).total)
            duration = _hour_of(cloudwatch(lab), "Duration", name)
            for statistic in ("p50", "p99"):
                value = duration.statistic(statistic)
                row[f"Duration {statistic} (ms)"] = None if value is None else round(value, 3)
            found.append(row)
        return found

    return [ConsolePanel("Metrics, last hour (AWS/Lambda, lambdalab_cloudwatch)", rows)]


@lambdalab.hookimpl
def lambdalab_register_commands(cli: Any) -> None:
    """``lambdalab metrics …``."""
    from .cli import metrics_command

    cli.add_command(metrics_command)


__all__ = [
    "alarms",
    "cloudwatch",
    # models
    "Alarm",
    "Alarms",
    "CompositeAlarm",
    "Datapoint",
    "HistoryItem",
    "Metrics",
    "alarm_event",
    "composite_event",
    # exceptions
    "CloudWatchError",
    "InvalidNextToken",
    "InvalidParameterCombination",
    "InvalidParameterValue",
    "LimitExceeded",
    "MissingParameter",
    "ResourceNotFound",
]
