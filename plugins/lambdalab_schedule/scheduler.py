"""EventBridge Scheduler (the ``scheduler`` service): one-time and recurring schedules.

Pure state, no HTTP. A schedule
(https://docs.aws.amazon.com/scheduler/latest/UserGuide/schedule-types.html) fires
``at(yyyy-mm-ddThh:mm:ss)`` once, or every ``rate(...)``, or at each ``cron(...)``
moment, the times read in its ``ScheduleExpressionTimezone`` (default UTC), between its
``StartDate`` and ``EndDate``, on the Lab's clock. Each firing sends the target's
``Input`` (``{}`` without one) to a Lambda function (an asynchronous invoke) or an SQS
queue through the event buses' durable deliveries, so the target's ``RetryPolicy`` and
``DeadLetterConfig`` apply as for a rule's target. With ``ActionAfterCompletion``
``DELETE`` a schedule that will not fire again is deleted.

Schedules live in schedule groups
(https://docs.aws.amazon.com/scheduler/latest/UserGuide/managing-schedule-group.html): the
``default`` group always exists; others are created, listed and deleted (deleting a group
deletes its schedules). A schedule's name is unique within its group.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import asdict, dataclass
from datetime import datetime, timezone, tzinfo
from typing import TYPE_CHECKING, Any, Mapping
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from lambdalab import Timer, VirtualClock
from lambdalab.plugin import AwsError, FunctionTrigger, function_changed, function_named

from . import quotas
from .expressions import parse
from .models import Target

if TYPE_CHECKING:
    from lambdalab import Lab

    from .buses import EventBuses

DEFAULT_GROUP = "default"
_AT = re.compile(r"^at\((\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})\)$")
_NAME = re.compile(r"^[0-9a-zA-Z\-_.]{1,64}$")


class ValidationException(AwsError):
    """A parameter is malformed; the message says which and how."""


class ResourceNotFoundException(AwsError):
    """No such schedule (or schedule group)."""

    status_code = 404


class ConflictException(AwsError):
    """A schedule of that name exists already."""

    status_code = 409


@dataclass(frozen=True)
class At:
    """``at(...)``: one moment, then never again."""

    moment: float

    def next_after(self, moment: float, anchor: float, zone: tzinfo = timezone.utc) -> float | None:
        return self.moment if self.moment > moment else None


@dataclass(frozen=True)
class ScheduleGroup:
    """A schedule group (``default`` is not stored: it always exists)."""

    name: str
    arn: str
    created: float

    def to_aws(self) -> dict[str, Any]:
        """GetScheduleGroup's answer, and ListScheduleGroups' summary."""
        return {"Arn": self.arn, "Name": self.name, "State": "ACTIVE",
                "CreationDate": self.created, "LastModificationDate": self.created}


@dataclass(frozen=True)
class Schedule:
    """One schedule, as GetSchedule describes it (times are the Lab's clock, seconds)."""

    name: str
    arn: str
    expression: str
    target: dict[str, Any]
    flexible_time_window: dict[str, Any]
    created: float
    modified: float
    group: str = DEFAULT_GROUP
    timezone: str | None = None
    state: str = "ENABLED"
    description: str | None = None
    start_date: float | None = None
    end_date: float | None = None
    action_after_completion: str = "NONE"

    def to_aws(self) -> dict[str, Any]:
        out = {"Arn": self.arn, "GroupName": self.group, "Name": self.name,
               "ScheduleExpression": self.expression, "State": self.state,
               "CreationDate": self.created, "LastModificationDate": self.modified,
               "Target": self.target, "FlexibleTimeWindow": self.flexible_time_window,
               "ActionAfterCompletion": self.action_after_completion}
        optional = {"ScheduleExpressionTimezone": self.timezone, "Description": self.description,
                    "StartDate": self.start_date, "EndDate": self.end_date}
        return out | {key: value for key, value in optional.items() if value is not None}

    @property
    def key(self) -> str:
        return schedule_key(self.name, self.group)

    def summary(self) -> dict[str, Any]:
        """The schedule as ListSchedules lists it."""
        return {"Arn": self.arn, "Name": self.name, "GroupName": self.group, "State": self.state,
                "CreationDate": self.created, "LastModificationDate": self.modified,
                "Target": {"Arn": self.target["Arn"]}}

    @property
    def zone(self) -> tzinfo:
        return ZoneInfo(self.timezone) if self.timezone else timezone.utc

    def next_after(self, moment: float) -> float | None:
        """The next firing after ``moment`` within the start and end dates, if any."""
        start = self.start_date if self.start_date is not None else self.created
        due = expression(self.expression, self.zone).next_after(max(moment, start - 1e-6), start, self.zone)
        if due is None or (self.end_date is not None and due > self.end_date):
            return None
        return due


def schedule_key(name: str, group: str = DEFAULT_GROUP) -> str:
    """Where a schedule is stored: ``NAME`` in the default group, ``GROUP/NAME`` in
    another (neither name holds a ``/``)."""
    return name if group == DEFAULT_GROUP else f"{group}/{name}"


def expression(text: str, zone: tzinfo) -> Any:
    """``at(...)``, ``rate(...)`` or ``cron(...)`` as a schedule; ValidationException if AWS
    would refuse it."""
    found = _AT.match(text) if isinstance(text, str) else None
    if found is None:
        try:
            return parse(text)
        except AwsError:
            raise ValidationException(
                f"Invalid Schedule Expression {text!r}: use at(yyyy-mm-ddThh:mm:ss), "
                "rate(value unit) or cron(minutes hours day-of-month month day-of-week year)."
            ) from None
    try:
        local = datetime.fromisoformat(found.group(1))
    except ValueError:
        raise ValidationException(f"Invalid Schedule Expression {text!r}: no such date.") from None
    return At(local.replace(tzinfo=zone).timestamp())


class Scheduler:
    """The schedules of one :class:`~lambdalab.Lab`, armed on its clock."""

    def __init__(self, lab: "Lab", buses: "EventBuses") -> None:
        self.lab = lab
        self.buses = buses
        self._timers: dict[str, Timer] = {}
        self._lock = threading.RLock()

    def arn(self, name: str, group: str = DEFAULT_GROUP) -> str:
        return (f"arn:aws:scheduler:{self.lab.arns.region}:{self.lab.arns.account_id}:"
                f"schedule/{group}/{name}")

    # -- schedule groups ----------------------------------------------------------------

    def create_schedule_group(self, name: Any) -> ScheduleGroup:
        name = _check_name(name)
        group = ScheduleGroup(name, self._group_arn(name), self.lab.clock.now())
        with self.lab.store.transaction() as db:
            taken = db.execute("SELECT 1 FROM scheduler_groups WHERE name = ?", (name,)).fetchone()
            if taken or name == DEFAULT_GROUP:
                raise ConflictException(f"Schedule group {name} already exists.")
            db.execute("INSERT INTO scheduler_groups (name, config) VALUES (?, ?)",
                       (name, json.dumps(asdict(group))))
        return group

    def get_schedule_group(self, name: Any) -> ScheduleGroup:
        found = [g for g in self.list_schedule_groups() if g.name == name]
        if not found:
            raise ResourceNotFoundException(f"Schedule group {name} does not exist.")
        return found[0]

    def list_schedule_groups(self, name_prefix: Any = None) -> list[ScheduleGroup]:
        """Every group, ``default`` first, then by name."""
        rows = self.lab.store.query("SELECT name, config FROM scheduler_groups ORDER BY name")
        stored = self.lab.store.loaded_rows(
            "scheduler_groups", rows, lambda row: {"name": row["name"]},
            lambda row: ScheduleGroup(**json.loads(row["config"])))
        groups = [ScheduleGroup(DEFAULT_GROUP, self._group_arn(DEFAULT_GROUP), 0.0), *stored]
        return [g for g in groups if not name_prefix or g.name.startswith(str(name_prefix))]

    def delete_schedule_group(self, name: Any) -> None:
        """Delete a group and every schedule in it (``default`` cannot be deleted)."""
        if name == DEFAULT_GROUP:
            raise ValidationException("The default schedule group cannot be deleted.")
        group = self.get_schedule_group(name)
        keys = [schedule.key for schedule in self.list_schedules(group.name)]
        for key in keys:
            self._disarm(key)
        with self.lab.store.transaction() as db:
            db.executemany("DELETE FROM scheduler_schedules WHERE name = ?", [(k,) for k in keys])
            db.execute("DELETE FROM scheduler_groups WHERE name = ?", (group.name,))

    def _group_arn(self, name: str) -> str:
        return (f"arn:aws:scheduler:{self.lab.arns.region}:{self.lab.arns.account_id}:"
                f"schedule-group/{name}")

    def _group(self, name: Any) -> str:
        """The group a request names (none: ``default``), which must exist."""
        if name is None or name == DEFAULT_GROUP:
            return DEFAULT_GROUP
        return self.get_schedule_group(name).name

    # -- the API ------------------------------------------------------------------------

    def create_schedule(self, body: Mapping[str, Any]) -> Schedule:
        name, group = _check_name(body.get("Name")), self._group(body.get("GroupName"))
        if self._find(schedule_key(name, group)) is not None:
            raise ConflictException(f"Schedule {name} already exists in group {group}.")
        now = self.lab.clock.now()
        return self._save(self._schedule(body, name, group, now, now))

    def update_schedule(self, body: Mapping[str, Any]) -> Schedule:
        """Replace every setting, as UpdateSchedule does (what is left out is unset)."""
        old = self.get_schedule(body.get("Name"), body.get("GroupName"))
        return self._save(self._schedule(body, old.name, old.group, old.created, self.lab.clock.now()))

    def get_schedule(self, name: Any, group: Any = None) -> Schedule:
        group = self._group(group)
        found = self._find(schedule_key(str(name), group))
        if found is None:
            raise ResourceNotFoundException(f"Schedule {name} does not exist in group {group}.")
        return found

    def list_schedules(self, group: Any = None, name_prefix: Any = None, state: Any = None) -> list[Schedule]:
        """The schedules of ``group`` (of every group when None)."""
        if group is not None:
            group = self._group(group)
        rows = self.lab.store.query("SELECT name, config FROM scheduler_schedules ORDER BY name")
        found = self.lab.store.loaded_rows("scheduler_schedules", rows, lambda row: {"name": row["name"]},
                                           _load)
        return [s for s in found if (not name_prefix or s.name.startswith(name_prefix))
                and state in (None, s.state) and group in (None, s.group)]

    def delete_schedule(self, name: Any, group: Any = None) -> None:
        schedule = self.get_schedule(name, group)
        self._delete(schedule.key)

    # -- firing -------------------------------------------------------------------------

    def start(self) -> None:
        """Arm every enabled schedule (what a reopened Lab does)."""
        for schedule in self.list_schedules():
            self._arm(schedule, self.lab.clock.now())

    def _arm(self, schedule: Schedule, after: float) -> None:
        key = schedule.key
        with self._lock:
            self._disarm(key)
            if schedule.state != "ENABLED":
                return
            due = schedule.next_after(after)
            if due is None:
                self._completed(schedule)
                return
            self._timers[key] = self.lab.clock.call_at(due, lambda: self._fire(key, due))

    def _disarm(self, name: str) -> None:
        with self._lock:
            timer = self._timers.pop(name, None)
            if timer is not None:
                timer.cancel()

    def _fire(self, name: str, due: float) -> None:
        with self._lock:
            self._timers.pop(name, None)
            schedule = self._find(name)
            if schedule is None or schedule.state != "ENABLED":
                return
            target = schedule.target
            delivery = Target(schedule.name, target["Arn"], None, None, None, target.get("RetryPolicy"),
                              target.get("DeadLetterConfig"))
            self.buses.deliver(schedule.arn, delivery, target.get("Input") or "{}")
            self._arm(schedule, due)
        if isinstance(self.lab.clock, VirtualClock):
            self.lab.wait_for_events()  # as a rule's firing: each runs at its own moment

    def _completed(self, schedule: Schedule) -> None:
        """A schedule that will not fire again: deleted when it asks to be."""
        if schedule.action_after_completion == "DELETE":
            self._delete(schedule.key)

    # -- storage ------------------------------------------------------------------------

    def _schedule(self, body: Mapping[str, Any], name: str, group: str, created: float,
                  modified: float) -> Schedule:
        zone = _zone(body.get("ScheduleExpressionTimezone"))
        expression(str(body.get("ScheduleExpression")), zone or timezone.utc)
        return Schedule(
            name, self.arn(name, group), str(body["ScheduleExpression"]), _target(body.get("Target")),
            _window(body.get("FlexibleTimeWindow")), created, modified, group,
            body.get("ScheduleExpressionTimezone"), body.get("State") or "ENABLED",
            body.get("Description"), _seconds(body.get("StartDate")), _seconds(body.get("EndDate")),
            body.get("ActionAfterCompletion") or "NONE")

    def _save(self, schedule: Schedule) -> Schedule:
        with self.lab.store.transaction() as db:
            db.execute("INSERT INTO scheduler_schedules (name, config) VALUES (?, ?) "
                       "ON CONFLICT(name) DO UPDATE SET config = excluded.config",
                       (schedule.key, json.dumps(asdict(schedule))))
        self._arm(schedule, self.lab.clock.now())
        function_changed(self.lab, schedule.target["Arn"])
        return self._find(schedule.key) or schedule

    def _find(self, name: str) -> Schedule | None:
        rows = self.lab.store.query("SELECT name, config FROM scheduler_schedules WHERE name = ?", (name,))
        found = self.lab.store.loaded_rows("scheduler_schedules", rows, lambda row: {"name": row["name"]},
                                           _load)
        return found[0] if found else None

    def _delete(self, name: str) -> None:
        self._disarm(name)
        gone = self._find(name)
        with self.lab.store.transaction() as db:
            db.execute("DELETE FROM scheduler_schedules WHERE name = ?", (name,))
        if gone is not None:
            function_changed(self.lab, gone.target["Arn"])

    def function_triggers(self, function_name: str) -> list[FunctionTrigger]:
        """The schedules whose target invokes ``function_name`` (``lambdalab_function_triggers``)."""
        return [FunctionTrigger("scheduler", s.arn, s.expression, s.state) for s in self.list_schedules()
                if function_named(self.lab, s.target["Arn"]) == function_name]


def _load(row: Any) -> Schedule:
    schedule = Schedule(**json.loads(row["config"]))
    expression(schedule.expression, schedule.zone)  # a schedule that cannot be armed is damaged
    return schedule


def _check_name(name: Any) -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValidationException(f"Name {name!r} is not valid: use 1-64 letters, digits, '-', '_' or '.'.")
    return name


def _zone(name: Any) -> tzinfo | None:
    if name is None:
        return None
    try:
        return ZoneInfo(str(name))
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationException(
            f"Invalid ScheduleExpressionTimezone {name!r}: use an IANA time zone such as "
            "Europe/Paris or America/New_York.") from None


def _target(raw: Any) -> dict[str, Any]:
    arn = raw.get("Arn") if isinstance(raw, Mapping) else None
    if not isinstance(arn, str) or not arn.startswith(("arn:aws:lambda:", "arn:aws:sqs:", "arn:aws:sns:")):
        raise ValidationException(
            f"Target.Arn {arn!r} is not supported: lambdalab's schedules send to Lambda functions, "
            "SQS queues and SNS topics.")
    dead_letter = (raw.get("DeadLetterConfig") or {}).get("Arn")
    if dead_letter is not None and not str(dead_letter).startswith("arn:aws:sqs:"):
        raise ValidationException("Target.DeadLetterConfig.Arn must be an SQS queue's ARN.")
    return {k: v for k, v in raw.items() if v is not None}


def _window(raw: Any) -> dict[str, Any]:
    mode = raw.get("Mode") if isinstance(raw, Mapping) else None
    minutes = raw.get("MaximumWindowInMinutes") if isinstance(raw, Mapping) else None
    if mode == "FLEXIBLE" and minutes is None:
        raise ValidationException("MaximumWindowInMinutes is required when Mode is FLEXIBLE.")
    if mode == "OFF" and minutes is not None:
        raise ValidationException("MaximumWindowInMinutes must not be set when Mode is OFF.")
    if minutes is not None and not 1 <= minutes <= quotas.SCHEDULER_WINDOW_MAX_MINUTES:
        raise ValidationException(
            f"MaximumWindowInMinutes is 1 to {quotas.SCHEDULER_WINDOW_MAX_MINUTES}.")
    return {"Mode": mode} | ({"MaximumWindowInMinutes": minutes} if minutes is not None else {})


def _seconds(value: Any) -> float | None:
    if isinstance(value, datetime):
        return value.replace(tzinfo=value.tzinfo or timezone.utc).timestamp()
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return None


class SchedulerResponses:
    """The Scheduler operations lambdalab serves, for :class:`~lambdalab.plugin.ProtocolService`
    (REST-JSON, botocore's ``scheduler/2021-06-30``)."""

    def __init__(self, scheduler: Scheduler) -> None:
        self.scheduler = scheduler

    def create_schedule(self, body: dict[str, Any]) -> dict[str, Any]:
        return {"ScheduleArn": self.scheduler.create_schedule(body).arn}

    def update_schedule(self, body: dict[str, Any]) -> dict[str, Any]:
        return {"ScheduleArn": self.scheduler.update_schedule(body).arn}

    def get_schedule(self, body: dict[str, Any]) -> dict[str, Any]:
        return self.scheduler.get_schedule(body.get("Name"), body.get("GroupName")).to_aws()

    def delete_schedule(self, body: dict[str, Any]) -> dict[str, Any]:
        self.scheduler.delete_schedule(body.get("Name"), body.get("GroupName"))
        return {}

    def list_schedules(self, body: dict[str, Any]) -> dict[str, Any]:
        found = self.scheduler.list_schedules(body.get("GroupName"), body.get("NamePrefix"),
                                              body.get("State"))
        return _page([s.summary() for s in found], body, "Schedules")

    def create_schedule_group(self, body: dict[str, Any]) -> dict[str, Any]:
        return {"ScheduleGroupArn": self.scheduler.create_schedule_group(body.get("Name")).arn}

    def get_schedule_group(self, body: dict[str, Any]) -> dict[str, Any]:
        return self.scheduler.get_schedule_group(body.get("Name")).to_aws()

    def list_schedule_groups(self, body: dict[str, Any]) -> dict[str, Any]:
        found = self.scheduler.list_schedule_groups(body.get("NamePrefix"))
        return _page([g.to_aws() for g in found], body, "ScheduleGroups")

    def delete_schedule_group(self, body: dict[str, Any]) -> dict[str, Any]:
        self.scheduler.delete_schedule_group(body.get("Name"))
        return {}


def _page(items: list[dict[str, Any]], body: Mapping[str, Any], key: str) -> dict[str, Any]:
    """One page of ``items`` (``MaxResults``, ``NextToken``) under ``key``."""
    limit = body.get("MaxResults") or quotas.SCHEDULER_LIST_MAX
    token = str(body.get("NextToken") or "0")
    if not token.isdigit():
        raise ValidationException("The NextToken is not valid: pass the one a list returned.")
    start = int(token)
    out: dict[str, Any] = {key: items[start:start + limit]}
    if start + limit < len(items):
        out["NextToken"] = str(start + limit)
    return out


__all__ = ["At", "ConflictException", "ResourceNotFoundException", "Schedule", "ScheduleGroup",
           "Scheduler", "SchedulerResponses", "ValidationException"]
