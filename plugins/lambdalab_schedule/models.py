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
from lambdalab.plugin import iso_s, service_events

from . import quotas
from .exceptions import LimitExceededException, ResourceNotFoundException, ValidationException
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
}

_NAME = re.compile(r"^[.\-_A-Za-z0-9]{1,64}$")
_STATES = ("ENABLED", "DISABLED", "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS")
_INPUT_PATH = re.compile(r"^\$(\.[A-Za-z0-9_-]+)*$")


@dataclass(frozen=True)
class Rule:
    """A schedule rule. ``anchor`` (lambdalab's own) is when a ``rate`` schedule counts from."""

    name: str
    arn: str
    schedule_expression: str
    state: str = "ENABLED"
    description: str | None = None
    anchor: float = 0.0

    @property
    def enabled(self) -> bool:
        return self.state != "DISABLED"

    def to_aws(self) -> dict[str, Any]:
        """The rule as ListRules and DescribeRule return it."""
        out = {
            "Name": self.name,
            "Arn": self.arn,
            "ScheduleExpression": self.schedule_expression,
            "State": self.state,
            "EventBusName": "default",
        }
        if self.description is not None:
            out["Description"] = self.description
        return out


@dataclass(frozen=True)
class Target:
    """A Lambda function a rule invokes, with an optional constant ``Input`` or ``InputPath``."""

    id: str
    arn: str
    input: str | None = None
    input_path: str | None = None

    def to_aws(self) -> dict[str, Any]:
        out = {"Id": self.id, "Arn": self.arn}
        if self.input is not None:
            out["Input"] = self.input
        if self.input_path is not None:
            out["InputPath"] = self.input_path
        return out

    def payload(self, event: dict[str, Any]) -> str:
        """The JSON the function receives: the Input text, a part of the event, or the event."""
        if self.input is not None:
            return self.input
        value: Any = event
        for key in (self.input_path or "$").split(".")[1:]:
            value = value.get(key) if isinstance(value, dict) else None
        return json.dumps(value)


def _load(cls: type[Any], text: str) -> Any:
    """A stored JSON object as ``cls``; a TypeError/ValueError if the row is damaged."""
    data = json.loads(text)
    if not isinstance(data, dict):
        raise TypeError(f"expected a JSON object, got {type(data).__name__}")
    return cls(**data)


def _load_rule(row: Any) -> Rule:
    rule: Rule = _load(Rule, row["config"])
    parse(rule.schedule_expression)  # a rule that cannot be armed is damaged too
    float(rule.anchor)
    return rule


def _rule_key(row: Any) -> dict[str, Any]:
    return {"name": row["name"]}


def check_name(field: str, value: Any) -> str:
    if not isinstance(value, str) or not _NAME.match(value):
        raise ValidationException(
            f"Parameter {field} is not valid: {value!r}. Use 1-64 letters, digits, '.', '-' "
            "or '_'."
        )
    return value


def check_target(raw: Mapping[str, Any]) -> Target:
    """A PutTargets entry as a :class:`Target`; ValidationException if AWS would refuse it."""
    if not isinstance(raw, Mapping):
        raise ValidationException("Parameter Targets is not valid: each target is an object.")
    target_id = check_name("Targets.Id", raw.get("Id"))
    arn = raw.get("Arn")
    if not isinstance(arn, str) or not arn.startswith("arn:aws:lambda:"):
        raise ValidationException(
            f"Parameter Targets[{target_id}].Arn is not valid: {arn!r}. lambdalab's rules "
            "invoke Lambda functions: use a function ARN (arn:aws:lambda:REGION:ACCOUNT:"
            "function:NAME)."
        )
    text, path = raw.get("Input"), raw.get("InputPath")
    if text is not None and path is not None:
        raise ValidationException(
            f"Target {target_id}: give Input or InputPath, not both."
        )
    if text is not None:
        try:
            json.loads(text)
        except (TypeError, ValueError):
            raise ValidationException(
                f"Target {target_id}: Input must be valid JSON text, e.g. "
                '"{\\"task\\": \\"cleanup\\"}".'
            ) from None
        if len(text.encode()) > quotas.EVENTS_TARGET_INPUT_MAX_BYTES:
            raise ValidationException(
                f"Target {target_id}: Input is longer than "
                f"{quotas.EVENTS_TARGET_INPUT_MAX_BYTES} bytes."
            )
    if path is not None and (not isinstance(path, str) or not _INPUT_PATH.match(path)):
        raise ValidationException(
            f"Target {target_id}: InputPath {path!r} is not valid. lambdalab takes a dotted "
            "JSONPath such as $.detail or $.resources."
        )
    return Target(target_id, arn, text, path)


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

    def rule_arn(self, name: str) -> str:
        return f"arn:aws:events:{self.lab.arns.region}:{self.lab.arns.account_id}:rule/{name}"

    def put_rule(
        self,
        name: str,
        schedule_expression: str | None = None,
        *,
        state: str | None = None,
        description: str | None = None,
        event_pattern: str | None = None,
    ) -> str:
        """Create or update a schedule rule; returns its ARN (PutRule's ``RuleArn``).

        Updating a rule keeps its targets; its schedule starts again from now.
        """
        check_name("Name", name)
        if event_pattern is not None:
            raise ValidationException(
                "Parameter EventPattern is not supported by lambdalab, which has no event "
                "bus: use a ScheduleExpression, rate(...) or cron(...)."
            )
        if schedule_expression is None:
            raise ValidationException(
                "Parameter(s) EventPattern or ScheduleExpression must be specified."
            )
        schedule = parse(schedule_expression)
        if state is not None and state not in _STATES:
            raise ValidationException(
                f"Parameter State is not valid: {state!r}. Use ENABLED or DISABLED."
            )
        if description is not None and len(description) > quotas.EVENTS_RULE_DESCRIPTION_MAX:
            raise ValidationException(
                f"Parameter Description is longer than {quotas.EVENTS_RULE_DESCRIPTION_MAX} "
                "characters."
            )
        old = self._find(name)
        now = self.lab.clock.now()
        rule = Rule(
            name,
            self.rule_arn(name),
            schedule_expression,
            state or (old.state if old else "ENABLED"),
            description if description is not None else (old.description if old else None),
            now,
        )
        schedule.next_after(now, now)  # whatever arming it needs must work before it is kept
        with self.lab.store.transaction() as db:
            db.execute(
                "INSERT INTO schedule_rules (name, config) VALUES (?, ?) ON CONFLICT(name) "
                "DO UPDATE SET config = excluded.config",
                (name, json.dumps(asdict(rule))),
            )
        self._arm(rule)
        return rule.arn

    def describe_rule(self, name: str) -> Rule:
        rule = self._find(name)
        if rule is None:
            raise ResourceNotFoundException(f"Rule {name} does not exist on EventBus default.")
        return rule

    def list_rules(self, name_prefix: str | None = None) -> list[Rule]:
        """Every rule, by name; only those starting with ``name_prefix`` when given."""
        rows = self.lab.store.query("SELECT name, config FROM schedule_rules ORDER BY name")
        rules = self.lab.store.loaded_rows("schedule_rules", rows, _rule_key, _load_rule)
        return [r for r in rules if not name_prefix or r.name.startswith(name_prefix)]

    def delete_rule(self, name: str, *, force: bool = False) -> None:
        """Delete a rule. Refused while it has targets, as EventBridge refuses.

        A rule whose stored row is damaged can be deleted too, and its targets removed.
        """
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

    def enable_rule(self, name: str) -> None:
        self._set_state(name, "ENABLED")

    def disable_rule(self, name: str) -> None:
        """Stop firing the rule; its targets stay."""
        self._set_state(name, "DISABLED")

    def _set_state(self, name: str, state: str) -> None:
        rule = self.describe_rule(name)
        if rule.state == state:
            return
        rule = replace(rule, state=state, anchor=self.lab.clock.now())
        with self.lab.store.transaction() as db:
            db.execute(
                "UPDATE schedule_rules SET config = ? WHERE name = ?",
                (json.dumps(asdict(rule)), name),
            )
        self._arm(rule)

    def _require(self, name: str) -> None:
        """ResourceNotFoundException unless the rule is stored (even if its row is damaged)."""
        if not self._exists(name):
            raise ResourceNotFoundException(f"Rule {name} does not exist on EventBus default.")

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

    def put_targets(self, rule: str, targets: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
        """Add or replace (by ``Id``) the rule's targets; PutTargets' result in AWS's shape."""
        self.describe_rule(rule)
        checked = [check_target(raw) for raw in targets]
        if not checked:
            raise ValidationException("Parameter Targets is not valid: give at least one.")
        existing = {t.id for t in self.list_targets_by_rule(rule)}
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
        return {"FailedEntryCount": 0, "FailedEntries": []}

    def remove_targets(self, rule: str, ids: Iterable[str]) -> dict[str, Any]:
        """Remove targets by id; ids the rule does not have are reported as failed entries."""
        self._require(rule)
        existing = {row["id"] for row in self._target_rows(rule)}
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
        return {"FailedEntryCount": len(failed), "FailedEntries": failed}

    def list_targets_by_rule(self, rule: str) -> list[Target]:
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
        for rule in self.list_rules():
            key = _rule_key({"name": rule.name})
            self.lab.store.loaded("schedule_rules", key, lambda: self._armed(rule))

    def _armed(self, rule: Rule) -> bool:
        """:meth:`_arm`, as a load for :meth:`Store.loaded` (``None`` means a damaged row)."""
        self._arm(rule)
        return True

    def _arm(self, rule: Rule, after: float | None = None) -> None:
        with self._lock:
            self._disarm(rule.name)
            if not rule.enabled:
                return
            moment = self.lab.clock.now() if after is None else after
            due = parse(rule.schedule_expression).next_after(moment, rule.anchor)
            if due is not None:
                self._timers[rule.name] = self.lab.clock.call_at(
                    due, lambda: self._fire(rule.name, due)
                )

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
            if rule is None or not rule.enabled:
                return
            event = self.scheduled_event(rule, due)
            for target in self.list_targets_by_rule(name):
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
        try:
            self.lab.invoke(target.arn, target.payload(event), invocation_type="Event")
        except LambdaError as e:  # EventBridge counts a FailedInvocation and carries on
            log.warning("rule %s could not invoke target %s (%s): %s",
                        rule.name, target.id, target.arn, e)
