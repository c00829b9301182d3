"""lambdalab's schedules: EventBridge rules with ``rate(...)``/``cron(...)`` expressions.

A built-in plugin, registered by entry point exactly as a student's would be. It adds
EventBridge's rule API to the HTTP edge (service ``events``), keeps rules and targets in
the Lab's database, and fires them on the Lab's clock::

    >>> from lambdalab_schedule import schedules
    >>> rules = schedules(lab)                                         # doctest: +SKIP
    >>> rules.put_rule("nightly", "cron(0 3 * * ? *)")                 # doctest: +SKIP
    >>> rules.put_targets("nightly", [{"Id": "1", "Arn": function_arn}])  # doctest: +SKIP
"""

from __future__ import annotations

import weakref

import lambdalab
from lambdalab.lab import Lab
from lambdalab.server import HttpService

from .exceptions import (
    EventsError,
    LimitExceededException,
    ResourceNotFoundException,
    ValidationException,
)
from .expressions import Cron, Rate, parse
from .models import Rule, Schedules, Target
from .responses import TARGET_PREFIX, EventsService

__version__ = "0.1.0"

_BY_LAB: "weakref.WeakKeyDictionary[Lab, Schedules]" = weakref.WeakKeyDictionary()


def schedules(lab: Lab) -> Schedules:
    """The schedule rules of ``lab`` (armed on its clock the first time they are asked for)."""
    found = _BY_LAB.get(lab)
    if found is None:
        # A proxy, so the rules (kept per lab) do not keep a closed lab alive.
        found = _BY_LAB[lab] = Schedules(weakref.proxy(lab))
        found.start()
    return found


@lambdalab.hookimpl
def lambdalab_lab_started(lab: Lab) -> None:
    schedules(lab)  # resume every enabled rule of a reopened data dir


@lambdalab.hookimpl
def lambdalab_http_services(lab: Lab) -> list[HttpService]:
    return [
        HttpService("events", EventsService(schedules(lab)), target_prefixes=(TARGET_PREFIX,))
    ]


__all__ = [
    # models
    "Rule",
    "Schedules",
    "Target",
    "schedules",
    # expressions
    "Cron",
    "Rate",
    "parse",
    # exceptions
    "EventsError",
    "LimitExceededException",
    "ResourceNotFoundException",
    "ValidationException",
]
