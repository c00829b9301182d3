"""Schedule rules and their targets: durable state, and the timers that fire them.

Pure state, no HTTP: :class:`Schedules` keeps rules and targets in the Lab's SQLite
database (tables of the ``schedule-1`` migration), arms one timer per enabled rule on the
Lab's clock, and at each firing invokes every target **asynchronously** with
EventBridge's "Scheduled Event"
(https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-run-lambda-schedule.html),
whose ``time`` is the scheduled moment on the Lab's clock. Because the timers read that
clock, advancing a :class:`~lambdalab.VirtualClock` by a day fires a day's worth of events.

Firings missed while no Lab was open are not made up for, as EventBridge does not
backfill; a reopened Lab resumes each schedule at its next due time.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from dataclasses import asdict, dataclass, replace
from typing import Any, Iterable, Mapping

from lambdalab import Lab, LambdaError, Timer, VirtualClock
from lambdalab.plugin import (
    FunctionTrigger,
    event_filters,
    function_changed,
    function_named,
    iso_s,
    may_invoke,
    service_events,
)

from . import quotas
from .exceptions import (
    InvalidEventPatternException,
    LimitExceededException,
    ResourceNotFoundException,
    ValidationException,
)
from .expressions import parse

log = logging.getLogger("lambdalab.schedule")

#: The plugin's tables in the lab's database (hook ``lambdalab_migrations``). The names
#: are those lambdalab's own list used before the plugin kept them, so data dirs made
#: then open unchanged.
MIGRATIONS: dict[str, str] = {
    "schedule-1": """
    CREATE TABLE schedule_rules (
        name TEXT PRIMARY KEY,
        config TEXT NOT NULL
    );
    CREATE TABLE schedule_targets (
        rule TEXT NOT NULL REFERENCES schedule_rules(name) ON DELETE CASCADE,
        id TEXT NOT NULL,
        config TEXT NOT NULL,
        PRIMARY KEY (rule, id)
    );
    """,
    # Event buses and the deliveries PutEvents commits before it answers (buses.py).
    "schedule-2": """
    CREATE TABLE event_buses (
        name TEXT PRIMARY KEY,
        config TEXT NOT NULL
    );
    CREATE TABLE event_deliveries (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        rule TEXT NOT NULL,
        target TEXT NOT NULL,
        payload TEXT NOT NULL,
        enqueued_at REAL NOT NULL,
        attempts INTEGER NOT NULL,
        next_attempt_at REAL NOT NULL
    );
    """,
    # EventBridge Scheduler's schedules (scheduler.py), in the default group.
    "schedule-3": """
    CREATE TABLE scheduler_schedules (
        name TEXT PRIMARY KEY,
        config TEXT NOT NULL
    );
    """,
    # A rule name is unique per bus, as on AWS: a custom bus's rule is keyed BUS/NAME (its
    # ARN's path, see rule_key), a default bus's NAME as before. Rows are moved, targets first.
    "schedule-4": """
    CREATE TEMP TABLE rekeyed AS
        SELECT name AS old, json_extract(config, '$.event_bus_name') || '/' || name AS new
        FROM schedule_rules
        WHERE json_valid(config) AND json_type(config, '$.event_bus_name') = 'text'
          AND json_extract(config, '$.event_bus_name') != 'default';
    INSERT INTO schedule_rules (name, config)
        SELECT rekeyed.new, config FROM schedule_rules JOIN rekeyed ON name = rekeyed.old;
    UPDATE schedule_targets SET rule = (SELECT new FROM rekeyed WHERE old = rule)
        WHERE rule IN (SELECT old FROM rekeyed);
    DELETE FROM schedule_rules WHERE name IN (SELECT old FROM rekeyed);
    DROP TABLE rekeyed;
    """,
    # Archives, the events they keep, and replays (archives.py).
    "schedule-5": """
    CREATE TABLE event_archives (
        name TEXT PRIMARY KEY,
        config TEXT NOT NULL
    );
    CREATE TABLE archived_events (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        archive TEXT NOT NULL,
        -- the event's own time (what a replay's window reads), and when it was archived
        time REAL NOT NULL,
        archived_at REAL NOT NULL,
        event TEXT NOT NULL
    );
    CREATE INDEX archived_events_by_time ON archived_events (archive, time);
    CREATE TABLE event_replays (
        name TEXT PRIMARY KEY,
        config TEXT NOT NULL
    );
    """,
    # Scheduler's groups besides ``default``; a schedule of one is keyed GROUP/NAME.
    "schedule-6": """
    CREATE TABLE scheduler_groups (
        name TEXT PRIMARY KEY,
        config TEXT NOT NULL
    );
    """,
}

_NAME = re.compile(r"^[.\-_A-Za-z0-9]{1,64}$")
_STATES = ("ENABLED", "DISABLED", "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS")
_INPUT_PATH = re.compile(r"^\$(\.[A-Za-z0-9_-]+)*$")


@dataclass(frozen=True)
class Rule:
    """A rule: a schedule, or an event pattern on a bus. ``anchor`` (lambdalab's own) is
    when a ``rate`` schedule counts from."""

    name: str
    arn: str
    schedule_expression: str | None
    state: str = "ENABLED"
    description: str | None = None
    anchor: float = 0.0
    event_pattern: str | None = None
    event_bus_name: str = "default"

    @property
    def enabled(self) -> bool:
        return self.state != "DISABLED"

    def to_aws(self) -> dict[str, Any]:
        """The rule as ListRules and DescribeRule return it."""
        out = {"Name": self.name, "Arn": self.arn, "State": self.state,
               "EventBusName": self.event_bus_name}
        optional = {"ScheduleExpression": self.schedule_expression,
                    "EventPattern": self.event_pattern, "Description": self.description}
        return out | {key: value for key, value in optional.items() if value is not None}


@dataclass(frozen=True)
class Target:
    """A Lambda function, SQS queue or SNS topic a rule sends to, with an optional constant
    ``Input``, an ``InputPath`` or an ``InputTransformer``
    (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-transform-target-input.html),
    and what to do when sending fails (``RetryPolicy``, ``DeadLetterConfig``)."""

    id: str
    arn: str
    input: str | None = None
    input_path: str | None = None
    input_transformer: dict[str, Any] | None = None
    retry_policy: dict[str, int] | None = None
    dead_letter_config: dict[str, str] | None = None

    def to_aws(self) -> dict[str, Any]:
        out: dict[str, Any] = {"Id": self.id, "Arn": self.arn}
        optional = {"Input": self.input, "InputPath": self.input_path,
                    "InputTransformer": self.input_transformer, "RetryPolicy": self.retry_policy,
                    "DeadLetterConfig": self.dead_letter_config}
        return out | {key: value for key, value in optional.items() if value is not None}

    def payload(self, event: dict[str, Any], rule: "Rule | None" = None) -> str:
        """The JSON the target receives: the Input text, a part of the event, the
        transformer's template filled in, or the event."""
        if self.input is not None:
            return self.input
        if self.input_transformer is not None:
            return transform(self.input_transformer, event, rule)
        return json.dumps(json_path(event, self.input_path or "$"))


_MISSING_PATH = object()


def json_path(event: Any, path: str) -> Any:
    """The value a dotted JSONPath (``$.detail.id``) names in ``event``; ``None`` if none."""
    value = event
    for key in path.split(".")[1:]:
        value = value.get(key, _MISSING_PATH) if isinstance(value, dict) else _MISSING_PATH
        if value is _MISSING_PATH:
            return None
    return value


_PLACEHOLDER = re.compile(r"<([A-Za-z0-9_.-]+)>")


def transform(transformer: Mapping[str, Any], event: dict[str, Any], rule: "Rule | None") -> str:
    """An InputTransformer's template with each ``<name>`` replaced: a string value as its
    text (the template quotes it), any other value as JSON; names from ``InputPathsMap``
    and EventBridge's reserved ``aws.events.*`` ones."""
    values = {name: json_path(event, path)
              for name, path in (transformer.get("InputPathsMap") or {}).items()}
    values |= {"aws.events.event": event, "aws.events.event.json": event,
               "aws.events.rule-name": rule.name if rule else None,
               "aws.events.rule-arn": rule.arn if rule else None,
               "aws.events.event.ingestion-time": event.get("time")}

    def fill(found: re.Match[str]) -> str:
        name = found.group(1)
        if name not in values:
            return found.group(0)
        value = values[name]
        return value if isinstance(value, str) else json.dumps(value)

    return _PLACEHOLDER.sub(fill, str(transformer["InputTemplate"]))


def _load(cls: type[Any], text: str) -> Any:
    """A stored JSON object as ``cls``; a TypeError/ValueError if the row is damaged."""
    data = json.loads(text)
    if not isinstance(data, dict):
        raise TypeError(f"expected a JSON object, got {type(data).__name__}")
    return cls(**data)


def _load_rule(row: Any) -> Rule:
    rule: Rule = _load(Rule, row["config"])
    if rule.schedule_expression is not None:
        parse(rule.schedule_expression)  # a rule that cannot be armed is damaged too
    elif rule.event_pattern is None:
        raise ValueError("a rule has a schedule, a pattern, or both")
    float(rule.anchor)
    return rule


def _rule_key(row: Any) -> dict[str, Any]:
    return {"name": row["name"]}


def _not_found(key: str) -> ResourceNotFoundException:
    """EventBridge's error for a missing rule, named by its key (see :func:`rule_key`)."""
    bus, _, name = key.rpartition("/")
    return ResourceNotFoundException(f"Rule {name} does not exist on EventBus {bus or 'default'}.")


def rule_key(name: str, bus: str = "default") -> str:
    """Where a rule is stored: ``NAME`` on the default bus, ``BUS/NAME`` on another (the
    path of its ARN). Neither a bus name nor a rule name holds a ``/``."""
    return name if bus == "default" else f"{bus}/{name}"


def check_pattern(text: Any) -> dict[str, Any]:
    """An EventPattern's JSON text as the pattern object; InvalidEventPatternException
    saying what is wrong, as PutRule and TestEventPattern answer."""
    if isinstance(text, str) and len(text) > quotas.EVENTS_PATTERN_MAX_CHARS:
        raise InvalidEventPatternException(
            f"Event pattern is not valid. Reason: it is longer than "
            f"{quotas.EVENTS_PATTERN_MAX_CHARS} characters.")
    try:
        pattern = json.loads(text)
    except (TypeError, ValueError, RecursionError):
        raise InvalidEventPatternException(
            "Event pattern is not valid. Reason: it is not JSON text.") from None
    reason = event_filters.problem(pattern, eventbridge=True)
    if reason:
        raise InvalidEventPatternException(f"Event pattern is not valid. Reason: {reason}")
    return dict(pattern)


def check_name(field: str, value: Any) -> str:
    if not isinstance(value, str) or not _NAME.match(value):
        raise ValidationException(
            f"Parameter {field} is not valid: {value!r}. Use 1-64 letters, digits, '.', '-' "
            "or '_'."
        )
    return value


_TARGET_SERVICES = ("arn:aws:lambda:", "arn:aws:sqs:", "arn:aws:sns:")


def check_target(raw: Mapping[str, Any]) -> Target:
    """A PutTargets entry as a :class:`Target`; ValidationException if AWS would refuse it."""
    if not isinstance(raw, Mapping):
        raise ValidationException("Parameter Targets is not valid: each target is an object.")
    target_id = check_name("Targets.Id", raw.get("Id"))
    arn = raw.get("Arn")
    if not isinstance(arn, str) or not arn.startswith(_TARGET_SERVICES):
        raise ValidationException(
            f"Parameter Targets[{target_id}].Arn is not valid: {arn!r}. lambdalab's rules "
            "send to Lambda functions (arn:aws:lambda:REGION:ACCOUNT:function:NAME), SQS "
            "queues (arn:aws:sqs:REGION:ACCOUNT:NAME) and SNS topics (arn:aws:sns:…)."
        )
    given = [k for k in ("Input", "InputPath", "InputTransformer") if raw.get(k) is not None]
    if len(given) > 1:
        raise ValidationException(
            f"Target {target_id}: give one of Input, InputPath and InputTransformer, not "
            f"{' and '.join(given)}."
        )
    return Target(
        target_id, arn, _check_input(target_id, raw.get("Input")),
        _check_input_path(target_id, "InputPath", raw.get("InputPath")),
        _check_transformer(target_id, raw.get("InputTransformer")),
        _check_retry_policy(target_id, raw.get("RetryPolicy")),
        _check_dead_letter(target_id, raw.get("DeadLetterConfig")),
    )


def _check_input(target_id: str, text: Any) -> str | None:
    if text is None:
        return None
    try:
        json.loads(text)
    except (TypeError, ValueError, RecursionError):
        raise ValidationException(
            f"Target {target_id}: Input must be valid JSON text, e.g. "
            '"{\\"task\\": \\"cleanup\\"}".'
        ) from None
    if len(text.encode()) > quotas.EVENTS_TARGET_INPUT_MAX_BYTES:
        raise ValidationException(
            f"Target {target_id}: Input is longer than "
            f"{quotas.EVENTS_TARGET_INPUT_MAX_BYTES} bytes."
        )
    return str(text)


def _check_input_path(target_id: str, field: str, path: Any) -> str | None:
    if path is not None and (not isinstance(path, str) or not _INPUT_PATH.match(path)):
        raise ValidationException(
            f"Target {target_id}: {field} {path!r} is not valid. lambdalab takes a dotted "
            "JSONPath such as $.detail or $.resources."
        )
    return path


def _check_transformer(target_id: str, raw: Any) -> dict[str, Any] | None:
    if raw is None:
        return None
    template, paths = raw.get("InputTemplate"), raw.get("InputPathsMap") or {}
    if not isinstance(template, str) or not template:
        raise ValidationException(
            f"Target {target_id}: InputTransformer needs an InputTemplate, e.g. "
            '"{\\"id\\": <id>}" with InputPathsMap {"id": "$.detail.id"}.'
        )
    for name, path in paths.items():
        if name.startswith("aws.events"):
            raise ValidationException(
                f"Target {target_id}: InputPathsMap key {name!r} is reserved by EventBridge.")
        _check_input_path(target_id, f"InputPathsMap[{name}]", path)
    return {"InputPathsMap": dict(paths), "InputTemplate": template} if paths else {
        "InputTemplate": template}


def _check_retry_policy(target_id: str, raw: Any) -> dict[str, int] | None:
    if raw is None:
        return None
    return {k: v for k, v in raw.items() if v is not None}


def _check_dead_letter(target_id: str, raw: Any) -> dict[str, str] | None:
    if raw is None or raw.get("Arn") is None:
        return None
    if not str(raw["Arn"]).startswith("arn:aws:sqs:"):
        raise ValidationException(
            f"Target {target_id}: DeadLetterConfig.Arn must be an SQS queue's ARN.")
    return {"Arn": str(raw["Arn"])}


class Schedules:
    """The schedule rules of one :class:`~lambdalab.Lab`, with boto3's method names.

    Every method mirrors the EventBridge operation of the same name, parameters in
    snake_case (``ScheduleExpression`` → ``schedule_expression``).
    """

    def __init__(self, lab: Lab) -> None:
        self.lab = lab
        self._timers: dict[str, Timer] = {}
        self._lock = threading.RLock()

    # -- rules ------------------------------------------------------------------------

    def rule_arn(self, name: str, bus: str = "default") -> str:
        """``…:rule/NAME`` on the default bus, ``…:rule/BUS/NAME`` on another, as AWS names them."""
        return (f"arn:aws:events:{self.lab.arns.region}:{self.lab.arns.account_id}:"
                f"rule/{rule_key(name, bus)}")

    def put_rule(
        self,
        name: str,
        schedule_expression: str | None = None,
        *,
        state: str | None = None,
        description: str | None = None,
        event_pattern: str | None = None,
        event_bus_name: str = "default",
    ) -> str:
        """Create or update a rule; returns its ARN (PutRule's ``RuleArn``).

        A rule has a schedule (default bus only, as on AWS), an event pattern, or both.
        Updating a rule keeps its targets; its schedule starts again from now.
        """
        check_name("Name", name)
        if event_pattern is None and schedule_expression is None:
            raise ValidationException(
                "Parameter(s) EventPattern or ScheduleExpression must be specified."
            )
        if schedule_expression is not None and event_bus_name != "default":
            raise ValidationException(
                "ScheduleExpression is supported only on the default event bus.")
        if event_pattern is not None:
            check_pattern(event_pattern)
        schedule = parse(schedule_expression) if schedule_expression is not None else None
        if state is not None and state not in _STATES:
            raise ValidationException(
                f"Parameter State is not valid: {state!r}. Use ENABLED or DISABLED."
            )
        if description is not None and len(description) > quotas.EVENTS_RULE_DESCRIPTION_MAX:
            raise ValidationException(
                f"Parameter Description is longer than {quotas.EVENTS_RULE_DESCRIPTION_MAX} "
                "characters."
            )
        key = rule_key(name, event_bus_name)
        old = self._find(key)
        now = self.lab.clock.now()
        rule = Rule(
            name,
            self.rule_arn(name, event_bus_name),
            schedule_expression,
            state or (old.state if old else "ENABLED"),
            description if description is not None else (old.description if old else None),
            now,
            event_pattern,
            event_bus_name,
        )
        if schedule is not None:  # whatever arming it needs must work before it is kept
            schedule.next_after(now, now)
        with self.lab.store.transaction() as db:
            db.execute(
                "INSERT INTO schedule_rules (name, config) VALUES (?, ?) ON CONFLICT(name) "
                "DO UPDATE SET config = excluded.config",
                (key, json.dumps(asdict(rule))),
            )
        self._arm(rule)
        return rule.arn

    def describe_rule(self, name: str, event_bus_name: str = "default") -> Rule:
        rule = self._find(rule_key(name, event_bus_name))
        if rule is None:
            raise ResourceNotFoundException(
                f"Rule {name} does not exist on EventBus {event_bus_name}.")
        return rule

    def list_rules(self, name_prefix: str | None = None, bus: str | None = "default") -> list[Rule]:
        """The rules of ``bus`` (every bus's when ``None``), by name; only those starting
        with ``name_prefix`` when given."""
        rows = self.lab.store.query("SELECT name, config FROM schedule_rules ORDER BY name")
        rules = self.lab.store.loaded_rows("schedule_rules", rows, _rule_key, _load_rule)
        return [r for r in rules if (not name_prefix or r.name.startswith(name_prefix))
                and bus in (None, r.event_bus_name)]

    def delete_rule(self, name: str, *, force: bool = False,
                    event_bus_name: str = "default") -> None:
        """Delete a rule. Refused while it has targets, as EventBridge refuses.

        A rule whose stored row is damaged can be deleted too, and its targets removed.
        """
        name = rule_key(name, event_bus_name)
        if not self._exists(name):
            return  # DeleteRule of a missing rule succeeds in EventBridge
        if self._target_rows(name):
            raise ValidationException(
                "Rule can't be deleted since it has targets. Remove them first with "
                "RemoveTargets."
            )
        with self.lab.store.transaction() as db:
            db.execute("DELETE FROM schedule_rules WHERE name = ?", (name,))
        self._disarm(name)

    def enable_rule(self, name: str, *, event_bus_name: str = "default") -> None:
        self._set_state(rule_key(name, event_bus_name), "ENABLED")

    def disable_rule(self, name: str, *, event_bus_name: str = "default") -> None:
        """Stop firing the rule; its targets stay."""
        self._set_state(rule_key(name, event_bus_name), "DISABLED")

    def _set_state(self, name: str, state: str) -> None:
        rule = self._find(name)
        if rule is None:
            raise _not_found(name)
        if rule.state == state:
            return
        rule = replace(rule, state=state, anchor=self.lab.clock.now())
        with self.lab.store.transaction() as db:
            db.execute(
                "UPDATE schedule_rules SET config = ? WHERE name = ?",
                (json.dumps(asdict(rule)), name),
            )
        self._arm(rule)
        self._targets_changed(self._target_rows(name))

    def _require(self, name: str) -> None:
        """ResourceNotFoundException unless the rule is stored (even if its row is damaged)."""
        if not self._exists(name):
            raise _not_found(name)

    def _exists(self, name: str) -> bool:
        return bool(self.lab.store.query("SELECT 1 FROM schedule_rules WHERE name = ?", (name,)))

    def _find(self, name: str) -> Rule | None:
        """The rule, or None if there is none or its stored row is damaged (then reported)."""
        rows = self.lab.store.query(
            "SELECT name, config FROM schedule_rules WHERE name = ?", (name,)
        )
        found = self.lab.store.loaded_rows("schedule_rules", rows, _rule_key, _load_rule)
        return found[0] if found else None

    def _target_rows(self, rule: str) -> list[Any]:
        return self.lab.store.query(
            "SELECT rule, id, config FROM schedule_targets WHERE rule = ? ORDER BY id", (rule,)
        )

    # -- targets ----------------------------------------------------------------------

    def put_targets(self, rule: str, targets: Iterable[Mapping[str, Any]], *,
                    event_bus_name: str = "default") -> dict[str, Any]:
        """Add or replace (by ``Id``) the rule's targets; PutTargets' result in AWS's shape."""
        rule = rule_key(rule, event_bus_name)
        self._require(rule)
        checked = [check_target(raw) for raw in targets]
        if not checked:
            raise ValidationException("Parameter Targets is not valid: give at least one.")
        existing = {row["id"] for row in self._target_rows(rule)}
        if len(existing | {t.id for t in checked}) > quotas.EVENTS_TARGETS_PER_RULE_MAX:
            raise LimitExceededException(
                f"The requested resource exceeds the maximum number allowed: a rule has at "
                f"most {quotas.EVENTS_TARGETS_PER_RULE_MAX} targets."
            )
        with self.lab.store.transaction() as db:
            for target in checked:
                db.execute(
                    "INSERT INTO schedule_targets (rule, id, config) VALUES (?, ?, ?) "
                    "ON CONFLICT(rule, id) DO UPDATE SET config = excluded.config",
                    (rule, target.id, json.dumps(asdict(target))),
                )
        for target in checked:
            function_changed(self.lab, target.arn)
        return {"FailedEntryCount": 0, "FailedEntries": []}

    def remove_targets(self, rule: str, ids: Iterable[str], *,
                       event_bus_name: str = "default") -> dict[str, Any]:
        """Remove targets by id; ids the rule does not have are reported as failed entries."""
        rule = rule_key(rule, event_bus_name)
        self._require(rule)
        rows = self._target_rows(rule)
        existing = {row["id"] for row in rows}
        failed = []
        with self.lab.store.transaction() as db:
            for target_id in ids:
                if target_id not in existing:
                    failed.append(
                        {
                            "TargetId": target_id,
                            "ErrorCode": "ResourceNotFoundException",
                            "ErrorMessage": f"Target {target_id} is not on rule {rule}.",
                        }
                    )
                    continue
                db.execute(
                    "DELETE FROM schedule_targets WHERE rule = ? AND id = ?", (rule, target_id)
                )
        self._targets_changed(rows)
        return {"FailedEntryCount": len(failed), "FailedEntries": failed}

    def _targets_changed(self, rows: list[Any]) -> None:
        """Tell the functions among these targets that their triggers changed."""
        for row in rows:
            arn = json.loads(row["config"]).get("Arn") if row["config"] else None
            if isinstance(arn, str):
                function_changed(self.lab, arn)

    def function_triggers(self, function_name: str) -> list[FunctionTrigger]:
        """The rules with a target that invokes ``function_name`` (``lambdalab_function_triggers``)."""
        return [
            FunctionTrigger("events", rule.arn, rule.schedule_expression or f"pattern {rule.event_pattern}",
                            rule.state)
            for rule in self.list_rules(bus=None)
            if any(function_named(self.lab, target.arn) == function_name
                   for target in self.list_targets_by_rule(rule.name, event_bus_name=rule.event_bus_name))
        ]

    def list_targets_by_rule(self, rule: str, *, event_bus_name: str = "default") -> list[Target]:
        rule = rule_key(rule, event_bus_name)
        self._require(rule)
        return self.lab.store.loaded_rows(
            "schedule_targets",
            self._target_rows(rule),
            lambda row: {"rule": row["rule"], "id": row["id"]},
            lambda row: _load(Target, row["config"]),
        )

    # -- firing -----------------------------------------------------------------------

    def start(self) -> None:
        """Arm every enabled rule: what a reopened Lab does to resume its schedules.

        A rule that cannot be armed (its stored expression is no longer valid) is
        reported and skipped; the others start.
        """
        for rule in self.list_rules(bus=None):
            key = _rule_key({"name": rule_key(rule.name, rule.event_bus_name)})
            self.lab.store.loaded("schedule_rules", key, lambda: self._armed(rule))

    def _armed(self, rule: Rule) -> bool:
        """:meth:`_arm`, as a load for :meth:`Store.loaded` (``None`` means a damaged row)."""
        self._arm(rule)
        return True

    def _arm(self, rule: Rule, after: float | None = None) -> None:
        key = rule_key(rule.name, rule.event_bus_name)
        with self._lock:
            self._disarm(key)
            if not rule.enabled or rule.schedule_expression is None:
                return
            moment = self.lab.clock.now() if after is None else after
            due = parse(rule.schedule_expression).next_after(moment, rule.anchor)
            if due is not None:
                self._timers[key] = self.lab.clock.call_at(due, lambda: self._fire(key, due))

    def _disarm(self, name: str) -> None:
        with self._lock:
            timer = self._timers.pop(name, None)
            if timer is not None:
                timer.cancel()

    def _fire(self, name: str, due: float) -> None:
        """One firing: invoke each target with the Scheduled Event, then arm the next."""
        with self._lock:
            self._timers.pop(name, None)
            rule = self._find(name)
            if rule is None or not rule.enabled or rule.schedule_expression is None:
                return
            event = self.scheduled_event(rule, due)
            for target in self.list_targets_by_rule(rule.name, event_bus_name=rule.event_bus_name):
                self._invoke(rule, target, event)
            self._arm(rule, after=due)
        if isinstance(self.lab.clock, VirtualClock):
            # Deliver now, while the virtual clock reads the firing time: otherwise one
            # advance() of a day would queue every firing first and run them all at its
            # end, where events older than the 6-hour maximum event age are dropped.
            self.lab.wait_for_events()

    def scheduled_event(self, rule: Rule, due: float) -> dict[str, Any]:
        """EventBridge's Scheduled Event for ``rule`` firing at ``due`` (Lab clock time)."""
        event = service_events.generate(
            "scheduled-event",
            rule=rule.name,
            region=self.lab.arns.region,
            account_id=self.lab.arns.account_id,
        )
        event["time"] = iso_s(due)
        return event

    def _invoke(self, rule: Rule, target: Target, event: dict[str, Any]) -> None:
        if self.lab.enforce_iam and not may_invoke(self.lab, "events.amazonaws.com", target.arn,
                                                   source_arn=rule.arn, source_account=self.lab.arns.account_id):
            log.warning("rule %s may not invoke target %s: no resource-based policy allows "
                        "events.amazonaws.com", rule.name, target.arn)
            return
        try:
            self.lab.invoke(target.arn, target.payload(event), invocation_type="Event")
        except LambdaError as e:  # EventBridge counts a FailedInvocation and carries on
            log.warning("rule %s could not invoke target %s (%s): %s",
                        rule.name, target.id, target.arn, e)
