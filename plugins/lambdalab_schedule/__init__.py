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

from typing import Any

import weakref

import lambdalab
from lambdalab import Lab
from lambdalab.plugin import FunctionTrigger, HttpService, ProtocolService, StashKey

from .archives import Archive, Archives, Replay
from .buses import EventBus, EventBuses
from .scheduler import Schedule, Scheduler, SchedulerResponses
from .exceptions import (
    EventsError,
    LimitExceededException,
    ResourceNotFoundException,
    ValidationException,
)
from .expressions import Cron, Rate, parse
from .models import MIGRATIONS, Rule, Schedules, Target
from .responses import TARGET_PREFIX, EventsService

__version__ = "0.1.0"

#: Each lab's rules, in ``lab.stash``: they die with the lab.
SCHEDULES = StashKey[Schedules]()
#: Each lab's event buses and their deliveries, likewise.
BUSES = StashKey[EventBuses]()
#: Each lab's EventBridge Scheduler schedules, likewise.
SCHEDULER = StashKey[Scheduler]()


def schedules(lab: Lab) -> Schedules:
    """The schedule rules of ``lab`` (armed on its clock the first time they are asked for)."""

    def make() -> Schedules:
        # A proxy: the rules' timers live on the lab's clock, and must not keep the lab alive.
        found = Schedules(weakref.proxy(lab))
        found.start()
        return found

    return lab.stash.setdefault(SCHEDULES, make)


def event_buses(lab: Lab) -> EventBuses:
    """The event buses of ``lab``: PutEvents, and the delivery of what rules match."""
    return lab.stash.setdefault(BUSES, lambda: EventBuses(schedules(lab)))


def scheduler(lab: Lab) -> Scheduler:
    """The EventBridge Scheduler schedules of ``lab`` (armed on its clock when first asked for)."""

    def make() -> Scheduler:
        found = Scheduler(weakref.proxy(lab), event_buses(lab))
        found.start()
        return found

    return lab.stash.setdefault(SCHEDULER, make)


@lambdalab.hookimpl
def lambdalab_migrations() -> dict[str, str]:
    return MIGRATIONS


@lambdalab.hookimpl
def lambdalab_lab_started(lab: Lab) -> None:
    schedules(lab)  # resume every enabled rule of a reopened data dir
    event_buses(lab).resume()  # and send what a killed process had acknowledged
    scheduler(lab)


@lambdalab.hookimpl
def lambdalab_function_triggers(lab: Lab, function_name: str) -> list[FunctionTrigger]:
    """The rules and Scheduler schedules that invoke ``function_name`` (the console lists them)."""
    return schedules(lab).function_triggers(function_name) + scheduler(lab).function_triggers(function_name)


@lambdalab.hookimpl
def lambdalab_http_services(lab: Lab) -> list[HttpService]:
    return [
        HttpService("events", EventsService(schedules(lab), event_buses(lab)),
                    target_prefixes=(TARGET_PREFIX,)),
        HttpService("scheduler", ProtocolService("scheduler", SchedulerResponses(scheduler(lab)))),
    ]



@lambdalab.hookimpl
def lambdalab_destination_sender(lab: Lab, destination_arn: str) -> Any:
    """Event buses take messages: S3's events, and Lambda's destination records."""
    return event_buses(lab).sender(destination_arn)


@lambdalab.hookimpl
def lambdalab_register_commands(cli: Any) -> None:
    """``lambdalab schedule …``."""
    from .cli import schedule_group

    cli.add_command(schedule_group)

__all__ = [
    # buses
    "EventBus",
    "EventBuses",
    "event_buses",
    # archives
    "Archive",
    "Archives",
    "Replay",
    # scheduler
    "Schedule",
    "Scheduler",
    "scheduler",
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
