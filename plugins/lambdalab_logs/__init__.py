"""lambdalab's CloudWatch Logs API: the log groups functions write, read as AWS serves them.

A built-in plugin, registered by entry point exactly as a student's would be. It adds
CloudWatch Logs' API to the HTTP edge (service ``logs``) over the Lab's own log store,
and delivers subscription filters' events to Lambda functions::

    >>> from lambdalab_logs import cloudwatch_logs
    >>> logs = cloudwatch_logs(lab)                                        # doctest: +SKIP
    >>> logs.put_subscription_filter("/aws/lambda/app", "errors", "ERROR",
    ...                              lab.arns.function("alerts"))          # doctest: +SKIP
    >>> logs.deliver()   # now, rather than when the delivery thread wakes   # doctest: +SKIP
"""

from __future__ import annotations

import weakref

import lambdalab
from lambdalab import Lab
from lambdalab.plugin import HttpService, StashKey

from .exceptions import (
    InvalidParameterException,
    LimitExceededException,
    LogsError,
    ResourceAlreadyExistsException,
    ResourceNotFoundException,
)
from .models import MIGRATIONS, CloudWatchLogs, SubscriptionFilter, awslogs_event
from .responses import TARGET_PREFIX, LogsService

__version__ = "0.1.0"

#: Each lab's CloudWatch Logs state, in ``lab.stash``: closed with the lab (its thread ends).
CLOUDWATCH_LOGS = StashKey[CloudWatchLogs]()


def cloudwatch_logs(lab: Lab) -> CloudWatchLogs:
    """The CloudWatch Logs of ``lab`` (its delivery thread started the first time)."""

    def make() -> CloudWatchLogs:
        # A proxy: the delivery thread must not keep the lab alive.
        found = CloudWatchLogs(weakref.proxy(lab))
        found.start()
        return found

    return lab.stash.setdefault(CLOUDWATCH_LOGS, make)


@lambdalab.hookimpl
def lambdalab_migrations() -> dict[str, str]:
    return MIGRATIONS


@lambdalab.hookimpl
def lambdalab_lab_started(lab: Lab) -> None:
    cloudwatch_logs(lab)  # subscriptions of a reopened data dir deliver again


@lambdalab.hookimpl
def lambdalab_http_services(lab: Lab) -> list[HttpService]:
    return [HttpService("logs", LogsService(cloudwatch_logs(lab)),
                        target_prefixes=(TARGET_PREFIX,))]


__all__ = [
    "cloudwatch_logs",
    # models
    "CloudWatchLogs",
    "SubscriptionFilter",
    "awslogs_event",
    # exceptions
    "LogsError",
    "InvalidParameterException",
    "LimitExceededException",
    "ResourceAlreadyExistsException",
    "ResourceNotFoundException",
]
