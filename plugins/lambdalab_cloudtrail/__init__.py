"""lambdalab's CloudTrail: who called which API, from where, when, and what came of it.

A built-in plugin, registered by entry point exactly as a student's would be. It records
every management call the HTTP edge answers (the ``lambdalab_api_call`` hook) as the
CloudTrail event AWS records, keeps the last 90 days of them in the lab's database, and
serves CloudTrail's ``LookupEvents`` on the edge (service ``cloudtrail``), so
``aws cloudtrail lookup-events`` answers "who deleted my function, and when"::

    >>> from lambdalab_cloudtrail import Lookup, trail
    >>> for found in trail(lab).lookup(Lookup(("EventName", "DeleteFunction"))):  # doctest: +SKIP
    ...     print(found.event.at, found.event.access_key_id, found.event.resource_name)

``lambdalab trail`` shows the same from the shell.
"""

from __future__ import annotations

from typing import Any

import lambdalab
from lambdalab import Lab
from lambdalab.plugin import ApiCall, HttpService, StashKey

from .events import DATA_EVENTS, Recorded, is_management_event, recorded
from .exceptions import (
    CloudTrailError,
    InvalidLookupAttributesException,
    InvalidMaxResultsException,
    InvalidNextTokenException,
    InvalidTimeRangeException,
)
from .models import MIGRATIONS, Found, Lookup, Trail
from .responses import TARGET_PREFIX, CloudTrailService

__version__ = "0.1.0"

#: Each lab's trail, in ``lab.stash``: closed with the lab (what waits is written).
TRAIL = StashKey[Trail]()


def trail(lab: Lab) -> Trail:
    """The trail of ``lab``."""
    return lab.stash.setdefault(TRAIL, lambda: Trail(lab.store, lab.clock.now, lab.arns.account_id))


class _Recorder:
    """Registered on one lab's plugin manager, so each lab's calls reach its own trail
    (the hook says which call, not which lab)."""

    def __init__(self, trail: Trail) -> None:
        self.trail = trail

    @lambdalab.hookimpl
    def lambdalab_api_call(self, call: ApiCall) -> None:
        self.trail.record(call)


@lambdalab.hookimpl
def lambdalab_migrations() -> dict[str, str]:
    return MIGRATIONS


@lambdalab.hookimpl
def lambdalab_lab_started(lab: Lab) -> None:
    lab.plugin_manager.register(_Recorder(trail(lab)), name="lambdalab_cloudtrail.recorder")


@lambdalab.hookimpl
def lambdalab_http_services(lab: Lab) -> list[HttpService]:
    return [HttpService("cloudtrail", CloudTrailService(trail(lab)),
                        target_prefixes=(TARGET_PREFIX,))]


@lambdalab.hookimpl
def lambdalab_register_commands(cli: Any) -> None:
    """``lambdalab trail``."""
    from .cli import trail_command

    cli.add_command(trail_command)


__all__ = [
    "trail",
    # the trail and its events
    "Trail",
    "Lookup",
    "Found",
    "Recorded",
    "recorded",
    "is_management_event",
    "DATA_EVENTS",
    # exceptions
    "CloudTrailError",
    "InvalidLookupAttributesException",
    "InvalidMaxResultsException",
    "InvalidNextTokenException",
    "InvalidTimeRangeException",
]
