"""Metric alarms: evaluated every minute of the lab's clock, with AWS's semantics.

An alarm watches one statistic of one metric over ``Period`` seconds, and looks at the
last ``EvaluationPeriods`` periods; when ``DatapointsToAlarm`` of them breach the
threshold it goes to ``ALARM``, and it runs the actions of the state it enters
(https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsEmail.html).
A period without data is missing; ``TreatMissingData`` says what it counts as
(``missing``, the default; ``ignore``; ``breaching``; ``notBreaching``).

Actions invoke Lambda functions asynchronously with the event CloudWatch sends
(https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/alarms-and-actions-Lambda.html),
or publish to SNS topics the JSON message CloudWatch publishes, with its subject
(https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/Notify_Users_Alarm_Changes.html):
the topic is reached through the ``lambdalab_destination_sender`` hook, so CloudWatch
knows no SNS internals. An action that fails (no such function or topic) is recorded in
the alarm's history as a failed ``Action``, as AWS records it; the alarm moves on.
Alarms and their history are rows of the lab's database; a reopened data dir resumes them.
"""

from __future__ import annotations

import functools
import json
import logging
import re
import threading
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import Any, Callable, Union

import botocore.loaders

from lambdalab import Lab
from lambdalab.plugin import Database, DestinationMessage, Timer

from . import quotas
from .alarm_base import AlarmBase, utc
from .composite import CompositeAlarm, children, holds, parse_rule
from .exceptions import InvalidParameterCombination, InvalidParameterValue, MissingParameter
from .exceptions import ResourceNotFound
from .models import (Metrics, check_period, check_statistic, dimensions_from, dimensions_to_aws,
                     plan_queries)
from .store import Dimensions

log = logging.getLogger(__name__)

STATES = ("OK", "ALARM", "INSUFFICIENT_DATA")
COMPARISONS: dict[str, Callable[[float, float], bool]] = {
    "GreaterThanOrEqualToThreshold": lambda v, t: v >= t,
    "GreaterThanThreshold": lambda v, t: v > t,
    "LessThanThreshold": lambda v, t: v < t,
    "LessThanOrEqualToThreshold": lambda v, t: v <= t,
}
_COMPARISON_WORDS = {
    "GreaterThanOrEqualToThreshold": "greater than or equal to",
    "GreaterThanThreshold": "greater than",
    "LessThanThreshold": "less than",
    "LessThanOrEqualToThreshold": "less than or equal to",
}
TREAT_MISSING = ("missing", "ignore", "breaching", "notBreaching")
#: The longest an alarm may look back: EvaluationPeriods × Period (AWS: seven days).
EVALUATION_RANGE_MAX_S = 7 * 86_400
ACTIONS_MAX = 5
_LAMBDA_ACTION = re.compile(r"^arn:aws:lambda:[a-z0-9-]+:\d{12}:function:[A-Za-z0-9_-]+(:[A-Za-z0-9$_-]+)?$")
_SNS_ACTION = re.compile(r"^arn:aws:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}(\.fifo)?$")


def _iso(epoch: float) -> str:
    """CloudWatch's timestamps in alarm events: ``2023-08-04T12:36:15.490+0000``."""
    moment = datetime.fromtimestamp(epoch, timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


@dataclass(frozen=True, kw_only=True)
class Alarm(AlarmBase):
    """One metric alarm, as PutMetricAlarm set it and evaluation left it."""

    namespace: str
    metric_name: str
    dimensions: Dimensions
    statistic: str
    period: int
    evaluation_periods: int
    datapoints_to_alarm: int
    threshold: float
    comparison_operator: str
    treat_missing_data: str = "missing"
    unit: str | None = None
    #: An alarm on metric math: PutMetricAlarm's ``Metrics`` (JSON), the one query that
    #: returns data being what is watched; namespace, metric and statistic are then empty.
    metrics: str | None = None

    def queries(self) -> list[dict[str, Any]]:
        """The metric math queries of an alarm on metric math (none for one metric)."""
        return json.loads(self.metrics) if self.metrics else []

    def to_aws(self) -> dict[str, Any]:
        """The ``MetricAlarm`` shape of DescribeAlarms."""
        out: dict[str, Any] = {
            **self._state_to_aws(),
            "MetricName": self.metric_name, "Namespace": self.namespace,
            "Dimensions": dimensions_to_aws(self.dimensions), "Period": self.period,
            "EvaluationPeriods": self.evaluation_periods,
            "DatapointsToAlarm": self.datapoints_to_alarm, "Threshold": self.threshold,
            "ComparisonOperator": self.comparison_operator,
            "TreatMissingData": self.treat_missing_data,
        }
        if self.metrics:
            for key in ("MetricName", "Namespace", "Dimensions", "Period"):
                del out[key]
            out["Metrics"] = self.queries()
        elif self.statistic.startswith("p"):
            out["ExtendedStatistic"] = self.statistic
        else:
            out["Statistic"] = self.statistic
        if self.unit is not None:
            out["Unit"] = self.unit
        return out

    @classmethod
    def from_json(cls, text: str) -> "Alarm":
        data = json.loads(text)
        data["dimensions"] = tuple(tuple(pair) for pair in data["dimensions"])
        return cls._from_data(data)


@dataclass(frozen=True)
class HistoryItem:
    """One entry of DescribeAlarmHistory."""

    alarm: str
    timestamp: float
    item_type: str
    summary: str
    data: str
    alarm_type: str = "MetricAlarm"

    def to_aws(self) -> dict[str, Any]:
        return {"AlarmName": self.alarm, "AlarmType": self.alarm_type,
                "Timestamp": utc(self.timestamp), "HistoryItemType": self.item_type,
                "HistorySummary": self.summary, "HistoryData": self.data}


@dataclass(frozen=True)
class Verdict:
    """What one evaluation concluded: the state, why, and the data behind it."""

    state: str | None  # None: keep the current state (TreatMissingData ignore)
    reason: str
    reason_data: str


#: A metric alarm or a composite alarm: what the state machinery moves.
AnyAlarm = Union[Alarm, CompositeAlarm]
ALARM_TYPES = ("MetricAlarm", "CompositeAlarm")


def _table(alarm: AnyAlarm) -> str:
    if isinstance(alarm, CompositeAlarm):
        return "cloudwatch_composite_alarms"
    return "cloudwatch_alarms"


def _type(alarm: AnyAlarm) -> str:
    return "CompositeAlarm" if isinstance(alarm, CompositeAlarm) else "MetricAlarm"


class Alarms:
    """Every metric and composite alarm of one lab: metric alarms are evaluated at each
    minute of the lab's clock, composite alarms whenever an alarm they name changes."""

    def __init__(self, lab: Lab, db: Database, metrics: Metrics) -> None:
        self.lab = lab
        self._db = db
        self.metrics = metrics
        self._lock = threading.RLock()
        self._timer: Timer | None = None
        self._closed = False

    # -- the API ------------------------------------------------------------------------

    def put_metric_alarm(self, params: dict[str, Any]) -> Alarm:
        """PutMetricAlarm: create or replace an alarm (its state is kept on update)."""
        alarm = self._checked(params)
        now = self.lab.clock.now()
        with self._lock:
            if self._get_composite(alarm.name) is not None:
                raise InvalidParameterValue(
                    f"{alarm.name} is a composite alarm: give the metric alarm another name.")
            old = self._get(alarm.name)
            if old is None:
                alarm = replace(alarm, state_updated=now, configuration_updated=now,
                                state_transitioned=now)
                summary = f'Alarm "{alarm.name}" created'
            else:
                alarm = replace(alarm, state_value=old.state_value, state_reason=old.state_reason,
                                state_reason_data=old.state_reason_data,
                                state_updated=old.state_updated,
                                state_transitioned=old.state_transitioned,
                                configuration_updated=now)
                summary = f'Alarm "{alarm.name}" updated'
            with self._db.transaction() as db:
                db.execute("INSERT OR REPLACE INTO cloudwatch_alarms (name, config) VALUES (?, ?)",
                           (alarm.name, alarm.to_json()))
            self._history(alarm.name, "ConfigurationUpdate", summary,
                          {"version": "1.0", "type": "Create" if old is None else "Update",
                           "createdAlarm" if old is None else "updatedAlarm":
                           _history_config(alarm)})
        self.start()
        return alarm

    def put_composite_alarm(self, params: dict[str, Any]) -> CompositeAlarm:
        """PutCompositeAlarm: create or replace a composite alarm (its state is kept on
        update), then evaluate it."""
        composite = self._checked_composite(params)
        now = self.lab.clock.now()
        with self._lock:
            if self._get(composite.name) is not None:
                raise InvalidParameterValue(
                    f"{composite.name} is a metric alarm: give the composite alarm another name.")
            missing = [n for n in composite.children() if self._get_any(n) is None]
            if missing:
                raise InvalidParameterValue(
                    f"Could not save the composite alarm as alarms [{', '.join(missing)}] in "
                    "the alarm rule do not exist: create them first.")
            old = self._get_composite(composite.name)
            if old is None:
                composite = replace(composite, state_updated=now, configuration_updated=now,
                                    state_transitioned=now)
            else:
                composite = replace(
                    composite, state_value=old.state_value, state_reason=old.state_reason,
                    state_reason_data=old.state_reason_data, state_updated=old.state_updated,
                    state_transitioned=old.state_transitioned, configuration_updated=now)
            with self._db.transaction() as db:
                db.execute("INSERT OR REPLACE INTO cloudwatch_composite_alarms (name, config) "
                           "VALUES (?, ?)", (composite.name, composite.to_json()))
                self._history(composite.name, "ConfigurationUpdate",
                              f'Alarm "{composite.name}" {"created" if old is None else "updated"}',
                              {"version": "1.0", "type": "Create" if old is None else "Update",
                               "createdAlarm" if old is None else "updatedAlarm":
                               {"alarmName": composite.name, "alarmRule": composite.rule}},
                              "CompositeAlarm", db)
            self._settle(set(), also={composite.name})
        return composite

    def describe_alarms(self, names: list[str] | None = None, prefix: str | None = None,
                        state: str | None = None, action_prefix: str | None = None,
                        types: list[str] | None = None, children_of: str | None = None,
                        parents_of: str | None = None) -> list[AnyAlarm]:
        """DescribeAlarms: metric alarms unless ``types`` says otherwise; or the alarms a
        composite alarm names (``children_of``), or the composites naming one (``parents_of``)."""
        if names and prefix:
            raise InvalidParameterCombination("Give AlarmNames or AlarmNamePrefix, not both.")
        family = children_of or parents_of
        if family and (names or prefix or state or action_prefix or (children_of and parents_of)):
            raise InvalidParameterCombination(
                "ChildrenOfAlarmName and ParentsOfAlarmName go with MaxRecords and NextToken "
                "only (and AlarmTypes).")
        for kind in types or ():
            if kind not in ALARM_TYPES:
                raise InvalidParameterValue(f"AlarmTypes: {kind!r} is not one of "
                                            f"{', '.join(ALARM_TYPES)}.")
        types = types or (list(ALARM_TYPES) if family else ["MetricAlarm"])
        candidates: list[AnyAlarm] = []
        if "MetricAlarm" in types:
            candidates += self.every()
        if "CompositeAlarm" in types:
            candidates += self.composites()
        if children_of:
            parent = self._get_composite(children_of)
            named = set(parent.children()) if parent else set()
            candidates = [a for a in candidates if a.name in named]
        if parents_of:
            candidates = [a for a in candidates
                          if isinstance(a, CompositeAlarm) and parents_of in a.children()]
        found: list[AnyAlarm] = []
        for alarm in candidates:
            if names and alarm.name not in names:
                continue
            if prefix and not alarm.name.startswith(prefix):
                continue
            if state and alarm.state_value != state:
                continue
            if action_prefix and not any(a.startswith(action_prefix) for s in STATES
                                         for a in alarm.actions_for(s)):
                continue
            found.append(alarm)
        return found

    def for_metric(self, namespace: str, metric_name: str, dimensions: Dimensions | None = None,
                   statistic: str | None = None, period: int | None = None,
                   unit: str | None = None) -> list[Alarm]:
        """DescribeAlarmsForMetric: the alarms on one metric (narrowed by what is given)."""
        return [a for a in self.every() if a.namespace == namespace
                and a.metric_name == metric_name
                and (dimensions is None or a.dimensions == dimensions)
                and statistic in (None, a.statistic) and period in (None, a.period)
                and unit in (None, a.unit)]

    def set_actions_enabled(self, names: list[str], enabled: bool) -> None:
        """EnableAlarmActions / DisableAlarmActions; names that are no alarm are skipped,
        as AWS skips them."""
        with self._lock:
            for name in names:
                alarm = self._get_any(name)
                if alarm is None or alarm.actions_enabled == enabled:
                    continue
                with self._db.transaction() as db:
                    db.execute(f"UPDATE {_table(alarm)} SET config = ? WHERE name = ?",
                               (replace(alarm, actions_enabled=enabled).to_json(), name))
                    self._history(name, "ConfigurationUpdate",
                                  f'Alarm "{name}" actions {"enabled" if enabled else "disabled"}',
                                  {"version": "1.0", "type": "Update", "actionsEnabled": enabled},
                                  _type(alarm), db)

    def every(self) -> list[Alarm]:
        """Every metric alarm."""
        rows = self._db.query("SELECT config FROM cloudwatch_alarms ORDER BY name")
        return [Alarm.from_json(row[0]) for row in rows]

    def composites(self) -> list[CompositeAlarm]:
        """Every composite alarm."""
        rows = self._db.query("SELECT config FROM cloudwatch_composite_alarms ORDER BY name")
        return [CompositeAlarm.from_json(row[0]) for row in rows]

    def delete_alarms(self, names: list[str]) -> None:
        """DeleteAlarms: all of them, or (when one does not exist, or a composite alarm
        left standing names one) none."""
        with self._lock:
            found = {name: self._get_any(name) for name in names}
            missing = [name for name, alarm in found.items() if alarm is None]
            if missing:
                raise ResourceNotFound(f"Alarm(s) {', '.join(missing)} do not exist; nothing "
                                       "was deleted.")
            for parent in self.composites():
                named = set(parent.children()) & set(names)
                if named and parent.name not in found:
                    raise InvalidParameterValue(
                        f"The composite alarm {parent.name} names {', '.join(sorted(named))} "
                        "in its rule: change its rule, or delete it too; nothing was deleted.")
            with self._db.transaction() as db:
                for name, alarm in found.items():
                    assert alarm is not None
                    db.execute(f"DELETE FROM {_table(alarm)} WHERE name = ?", (name,))
                    db.execute("DELETE FROM cloudwatch_alarm_claims WHERE alarm = ?", (name,))
                    self._history(name, "ConfigurationUpdate", f'Alarm "{name}" deleted',
                                  {"version": "1.0", "type": "Delete"}, _type(alarm), db)

    def set_alarm_state(self, name: str, state: str, reason: str,
                        reason_data: str | None = None) -> None:
        """SetAlarmState: the state until the next evaluation; its actions run."""
        if reason_data is not None:
            try:
                json.loads(reason_data)
            except ValueError:
                raise InvalidParameterValue("StateReasonData is not valid JSON.") from None
        with self._lock:
            alarm = self._get_any(name)
            if alarm is None:
                raise ResourceNotFound(f"Alarm {name} does not exist.")
            self._transition(alarm, Verdict(state, reason, reason_data or "{}"), forced=True)
            self._settle({name})

    def history(self, name: str | None = None, item_type: str | None = None,
                start: float | None = None, end: float | None = None,
                oldest_first: bool = False, types: list[str] | None = None) -> list[HistoryItem]:
        wanted = tuple(types or ["MetricAlarm"])
        sql = ("SELECT alarm, timestamp, item_type, summary, data, alarm_type FROM "
               f"cloudwatch_alarm_history WHERE alarm_type IN ({', '.join('?' * len(wanted))})")
        params: tuple[Any, ...] = wanted
        for clause, value in (("alarm = ?", name), ("item_type = ?", item_type),
                              ("timestamp >= ?", start), ("timestamp < ?", end)):
            if value is not None:
                sql += f" AND {clause}"
                params += (value,)
        order = "ASC" if oldest_first else "DESC"
        rows = self._db.query(f"{sql} ORDER BY timestamp {order}, id {order}", params)
        return [HistoryItem(*row) for row in rows]

    # -- evaluation ---------------------------------------------------------------------

    def start(self) -> None:
        """Arm the evaluation timer at the next minute of the lab's clock (once)."""
        with self._lock:
            if self._timer is None and not self._closed:
                now = self.lab.clock.now()
                when = (now // quotas.PERIOD_S + 1) * quotas.PERIOD_S
                self._timer = self.lab.clock.call_at(when, self._tick)

    def _tick(self) -> None:
        with self._lock:
            self._timer = None
            if self._closed:
                return
            self.evaluate_all()
        self.start()

    def evaluate_all(self) -> None:
        """Evaluate every metric alarm now (each minute does this), then the composite
        alarms that name one that changed."""
        alarms = self.every()
        if not alarms:
            return
        self.metrics.ingest_logs()
        minute = int(self.lab.clock.now() // quotas.PERIOD_S) * quotas.PERIOD_S
        changed = {alarm.name for alarm in alarms
                   if self._claim(alarm.name, minute) and self._evaluated(alarm)}
        self._settle(changed)

    def _evaluated(self, alarm: Alarm) -> bool:
        """Evaluate one alarm and move it; whether it moved. An alarm that cannot be
        evaluated (its data unreadable) is logged and left as it is: the others go on,
        and so does the clock that called."""
        try:
            return self._transition(alarm, self.evaluate(alarm), forced=False)
        except Exception:
            log.exception("lambdalab: CloudWatch alarm %s could not be evaluated; it keeps "
                          "its state", alarm.name)
            return False

    def _claim(self, name: str, minute: int) -> bool:
        """Whether this lambdalab evaluates ``name`` at ``minute``: the first of those on
        the data dir to claim that minute does, the others leave it."""
        with self._db.transaction() as db:
            return db.execute(
                "INSERT INTO cloudwatch_alarm_claims (alarm, minute) VALUES (?, ?) "
                "ON CONFLICT (alarm) DO UPDATE SET minute = excluded.minute "
                "WHERE minute != excluded.minute", (name, minute)).rowcount == 1

    def _settle(self, changed: set[str], also: frozenset[str] | set[str] = frozenset()) -> None:
        """Evaluate the composite alarms whose rules name an alarm in ``changed`` (and
        those in ``also``), then those naming one of these that changed, and so on; a
        cycle of composites stops after as many rounds as there are composites."""
        parents = {c.name: set(c.children()) for c in self.composites()}
        todo = set(also) | {name for name, named in parents.items() if named & changed}
        for _ in range(len(parents)):
            if not todo:
                return
            alarms: dict[str, AnyAlarm] = {a.name: a for a in self.every()}
            alarms.update((c.name, c) for c in self.composites())
            moved = set()
            for name in sorted(todo):
                composite = alarms.get(name)
                if isinstance(composite, CompositeAlarm) and \
                        self._evaluate_composite(composite, alarms, changed):
                    moved.add(name)
            changed = moved
            todo = {name for name, named in parents.items() if named & changed}

    def _evaluate_composite(self, composite: CompositeAlarm, alarms: dict[str, AnyAlarm],
                            changed: set[str]) -> bool:
        tree = parse_rule(composite.rule)
        states = {name: alarm.state_value for name, alarm in alarms.items()}
        state = "ALARM" if holds(tree, states) else "OK"
        if state == composite.state_value:
            return False
        named = children(tree)
        triggering = [alarms[n] for n in named if n in changed and n in alarms] or \
            [alarms[n] for n in named if n in alarms]
        return self._transition(composite, _composite_verdict(state, triggering), forced=False)

    def evaluate(self, alarm: Alarm) -> Verdict:
        """What the last ``EvaluationPeriods`` complete periods say about ``alarm``."""
        now = self.lab.clock.now()
        end = (now // alarm.period) * alarm.period
        start = end - alarm.evaluation_periods * alarm.period
        found = self._watched(alarm, start, end)
        breaches = COMPARISONS[alarm.comparison_operator]
        marks = []  # newest first: "X" breaching, "0" not, "-" missing
        points = []
        for n in range(alarm.evaluation_periods):
            at = end - (n + 1) * alarm.period
            value = found.get(at)
            if value is None:
                marks.append("-")
                continue
            marks.append("X" if breaches(value, alarm.threshold) else "0")
            points.append((at, value))
        return _verdict(alarm, marks, points, now, start)

    def _watched(self, alarm: Alarm, start: float, end: float) -> dict[float, float | None]:
        """The value of each period of ``[start, end)`` the alarm watches."""
        if not alarm.metrics:
            return {at: aggregate.statistic(alarm.statistic) for at, aggregate in
                    self.metrics.store.periods(alarm.namespace, alarm.metric_name,
                                               alarm.dimensions, start, end, alarm.period,
                                               alarm.unit)}
        queries = alarm.queries()
        [watched] = [q["Id"] for q in queries if q.get("ReturnData", True)]
        values, grid = self.metrics.query_values(queries, start, end)
        value = values[watched]
        if isinstance(value, list):  # an array: no one value to compare
            return {}
        if isinstance(value, dict):
            return dict(value)
        return {at: value for at in grid.times()}

    def _transition(self, alarm: AnyAlarm, verdict: Verdict, forced: bool) -> bool:
        """Move ``alarm`` to the verdict's state, record it and run its actions; whether
        it moved. An evaluation moves the alarm only from the state it read: if the
        stored alarm changed meanwhile (another lambdalab on this data dir moved it),
        it leaves it."""
        if verdict.state is None or (verdict.state == alarm.state_value and not forced):
            return False
        now = self.lab.clock.now()
        new = replace(alarm, state_value=verdict.state, state_reason=verdict.reason,
                      state_reason_data=verdict.reason_data, state_updated=now,
                      state_transitioned=now if verdict.state != alarm.state_value
                      else alarm.state_transitioned)
        table = _table(alarm)
        with self._db.transaction() as db:
            row = db.execute(f"SELECT config FROM {table} WHERE name = ?", (alarm.name,)).fetchone()
            if row is None or (not forced and type(alarm).from_json(row[0]) != alarm):
                return False  # deleted, or moved by another lambdalab since it was read
            db.execute(f"UPDATE {table} SET config = ? WHERE name = ?", (new.to_json(), new.name))
            self._history(new.name, "StateUpdate",
                          f"Alarm updated from {alarm.state_value} to {new.state_value}",
                          {"version": "1.0", "oldState": _state_data(alarm),
                           "newState": _state_data(new)}, _type(new), db)
        if new.actions_enabled:
            for action in new.actions_for(new.state_value):
                self._run_action(action, alarm, new)
        return True

    def _run_action(self, action: str, old: AnyAlarm, new: AnyAlarm) -> None:
        data: dict[str, Any] = {"notificationResource": action,
                                "stateUpdateTimestamp": int(new.state_updated * 1000)}
        try:
            if action.startswith("arn:aws:sns:"):
                data["publishedMessage"] = self._publish(action, old, new)
            else:
                self.lab.invoke(action, _lambda_event(self.lab, old, new), invocation_type="Event")
        except Exception as e:  # no such function or topic: AWS records it and moves on
            self._history(new.name, "Action", f"Failed to execute action {action}",
                          {"actionState": "Failed", **data, "error": str(e)}, _type(new))
            return
        self._history(new.name, "Action", f"Successfully executed action {action}",
                      {"actionState": "Succeeded", **data}, _type(new))

    def _publish(self, topic_arn: str, old: AnyAlarm, new: AnyAlarm) -> str:
        """Publish the alarm's notification to an SNS topic; the message published."""
        send = self.lab.plugin_manager.hook.lambdalab_destination_sender(
            lab=self.lab, destination_arn=topic_arn)
        if send is None:
            raise LookupError(f"No loaded plugin publishes to {topic_arn}.")
        message = json.dumps(sns_message(self.lab, old, new))
        region = region_name(self.lab.arns.region)
        send(DestinationMessage(message, {}, subject=f'{new.state_value}: "{new.name}" in {region}'))
        return message

    # -- storage ------------------------------------------------------------------------

    def _get(self, name: str) -> Alarm | None:
        rows = self._db.query("SELECT config FROM cloudwatch_alarms WHERE name = ?", (name,))
        return Alarm.from_json(rows[0][0]) if rows else None

    def _get_composite(self, name: str) -> CompositeAlarm | None:
        rows = self._db.query("SELECT config FROM cloudwatch_composite_alarms WHERE name = ?",
                              (name,))
        return CompositeAlarm.from_json(rows[0][0]) if rows else None

    def _get_any(self, name: str) -> AnyAlarm | None:
        return self._get(name) or self._get_composite(name)

    def _history(self, name: str, item_type: str, summary: str, data: dict[str, Any],
                 alarm_type: str = "MetricAlarm", db: Any = None) -> None:
        """One history entry, in the transaction ``db`` if given (else in one of its own)."""
        if db is None:
            with self._db.transaction() as own:
                self._history(name, item_type, summary, data, alarm_type, own)
            return
        db.execute("INSERT INTO cloudwatch_alarm_history (alarm, timestamp, item_type, "
                   "summary, data, alarm_type) VALUES (?, ?, ?, ?, ?, ?)",
                   (name, self.lab.clock.now(), item_type, summary, json.dumps(data), alarm_type))
        db.execute("DELETE FROM cloudwatch_alarm_history WHERE alarm = ? AND id NOT IN "
                   "(SELECT id FROM cloudwatch_alarm_history WHERE alarm = ? "
                   "ORDER BY id DESC LIMIT ?)", (name, name, quotas.ALARM_HISTORY_MAX))

    def close(self) -> None:
        with self._lock:
            self._closed = True
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None

    # -- checking PutMetricAlarm's input ---------------------------------------------------

    def _checked(self, p: dict[str, Any]) -> Alarm:
        watched, period = _checked_math(p) if p.get("Metrics") else _checked_metric(p)
        for name in ("EvaluationPeriods", "Threshold", "ComparisonOperator"):
            if p.get(name) is None:
                raise MissingParameter(f"The parameter {name} is required.")
        evaluation_periods = p["EvaluationPeriods"]
        if evaluation_periods * period > EVALUATION_RANGE_MAX_S:
            raise InvalidParameterValue(
                "The evaluation period (EvaluationPeriods × Period) must not exceed 7 days.")
        datapoints = p.get("DatapointsToAlarm") or evaluation_periods
        if datapoints > evaluation_periods:
            raise InvalidParameterValue(
                f"DatapointsToAlarm ({datapoints}) must not exceed EvaluationPeriods "
                f"({evaluation_periods}).")
        if p["ComparisonOperator"] not in COMPARISONS:
            raise InvalidParameterValue(
                f"ComparisonOperator {p['ComparisonOperator']}: lambdalab has no anomaly "
                f"detection; use one of {', '.join(COMPARISONS)}.")
        treat = p.get("TreatMissingData") or "missing"
        if treat not in TREAT_MISSING:
            raise InvalidParameterValue(
                f"TreatMissingData {treat!r} is not valid: use {', '.join(TREAT_MISSING)}.")
        actions = _checked_actions(p)
        builder = self.lab.arns
        return Alarm(
            name=p["AlarmName"],
            arn=f"arn:aws:cloudwatch:{builder.region}:{builder.account_id}:alarm:{p['AlarmName']}",
            **watched, period=period, evaluation_periods=evaluation_periods,
            datapoints_to_alarm=datapoints, threshold=float(p["Threshold"]),
            comparison_operator=p["ComparisonOperator"], treat_missing_data=treat,
            unit=p.get("Unit"), description=p.get("AlarmDescription"),
            actions_enabled=p.get("ActionsEnabled", True) is not False,
            ok_actions=actions["OKActions"], alarm_actions=actions["AlarmActions"],
            insufficient_data_actions=actions["InsufficientDataActions"],
        )


    def _checked_composite(self, p: dict[str, Any]) -> CompositeAlarm:
        for name in ("AlarmName", "AlarmRule"):
            if not p.get(name):
                raise MissingParameter(f"The parameter {name} is required.")
        suppressing = [k for k in ("ActionsSuppressor", "ActionsSuppressorWaitPeriod",
                                   "ActionsSuppressorExtensionPeriod") if p.get(k) is not None]
        if suppressing:
            raise InvalidParameterValue(
                f"{', '.join(suppressing)}: lambdalab does not emulate action suppression; "
                "name the suppressing alarm in the rule instead (... AND NOT ALARM(name)).")
        parse_rule(p["AlarmRule"])
        actions = _checked_actions(p)
        builder = self.lab.arns
        return CompositeAlarm(
            name=p["AlarmName"],
            arn=f"arn:aws:cloudwatch:{builder.region}:{builder.account_id}:alarm:{p['AlarmName']}",
            rule=p["AlarmRule"], description=p.get("AlarmDescription"),
            actions_enabled=p.get("ActionsEnabled", True) is not False,
            ok_actions=actions["OKActions"], alarm_actions=actions["AlarmActions"],
            insufficient_data_actions=actions["InsufficientDataActions"])


def _checked_actions(p: dict[str, Any]) -> dict[str, tuple[str, ...]]:
    """The OK, ALARM and INSUFFICIENT_DATA actions: Lambda functions and SNS topics, at
    most five each. A topic or function need not exist yet: the action fails when run."""
    actions = {key: tuple(p.get(key) or ()) for key in
               ("OKActions", "AlarmActions", "InsufficientDataActions")}
    for key, arns in actions.items():
        if len(arns) > ACTIONS_MAX:
            raise InvalidParameterValue(f"{key} holds at most {ACTIONS_MAX} actions.")
        for arn in arns:
            if not isinstance(arn, str) or not (_LAMBDA_ACTION.match(arn) or _SNS_ACTION.match(arn)):
                raise InvalidParameterValue(
                    f"Invalid action {arn!r}: lambdalab's alarms invoke Lambda functions "
                    "(arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]) and publish to "
                    "SNS topics (arn:aws:sns:REGION:ACCOUNT:NAME).")
    return actions


#: PutMetricAlarm's parameters of an alarm on one metric, which Metrics replaces.
_ONE_METRIC = ("MetricName", "Namespace", "Dimensions", "Period", "Unit", "Statistic",
               "ExtendedStatistic")


def _checked_metric(p: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """What an alarm on one metric watches (Alarm's fields), and its period."""
    for name in ("MetricName", "Namespace", "Period"):
        if p.get(name) is None:
            raise MissingParameter(f"The parameter {name} is required.")
    if (p.get("Statistic") is None) == (p.get("ExtendedStatistic") is None):
        raise InvalidParameterCombination(
            "Give exactly one of Statistic and ExtendedStatistic.")
    return {"namespace": p["Namespace"], "metric_name": p["MetricName"],
            "dimensions": dimensions_from(p.get("Dimensions")),
            "statistic": check_statistic(p.get("Statistic") or p["ExtendedStatistic"])}, \
        check_period(p["Period"])


def _checked_math(p: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """What an alarm on metric math watches (Alarm's fields: its queries, as JSON), and
    its period (its metrics' shortest)."""
    given = [name for name in _ONE_METRIC if p.get(name) is not None]
    if given:
        raise InvalidParameterCombination(
            f"Metrics replaces {', '.join(given)}: an alarm on metric math gives each "
            "metric in Metrics, as a MetricStat.")
    queries = p["Metrics"]
    period = plan_queries(queries)[1]
    returning = [q["Id"] for q in queries if q.get("ReturnData", True)]
    if len(returning) != 1:
        raise InvalidParameterValue(
            "Exactly one element of the metrics list should return data: set ReturnData "
            f"to false on the others (now {len(returning)} do).")
    return {"namespace": "", "metric_name": "", "dimensions": (), "statistic": "",
            "metrics": json.dumps(queries)}, period


def _verdict(alarm: Alarm, marks: list[str], points: list[tuple[float, float]], now: float,
             start: float) -> Verdict:
    """The state ``marks`` (newest first) lead to, with AWS's missing-data treatments."""
    treat = alarm.treat_missing_data
    missing = marks.count("-")
    breaching = marks.count("X") + (missing if treat == "breaching" else 0)
    healthy = marks.count("0") + (missing if treat == "notBreaching" else 0)
    reason_data = json.dumps({
        "version": "1.0", "queryDate": _iso(now), "startDate": _iso(start),
        **({"extendedStatistic" if alarm.statistic.startswith("p") else "statistic":
            alarm.statistic} if alarm.statistic else {}), "period": alarm.period,
        "recentDatapoints": [value for _, value in reversed(points)],
        "threshold": alarm.threshold,
        "evaluatedDatapoints": [{"timestamp": _iso(at), "value": value} for at, value in points],
    })
    n, m = alarm.evaluation_periods, alarm.datapoints_to_alarm
    if breaching >= m:
        shown = ", ".join(f"{v:g} ({utc(at).strftime('%d/%m/%y %H:%M:%S')})" for at, v in points)
        reason = (f"Threshold Crossed: {breaching} out of the last {n} datapoints [{shown}] "
                  f"{'was' if breaching == 1 else 'were'} "
                  f"{_COMPARISON_WORDS[alarm.comparison_operator]} the threshold "
                  f"({alarm.threshold:g}) (minimum {m} datapoint"
                  f"{'' if m == 1 else 's'} for OK -> ALARM transition).")
        return Verdict("ALARM", reason, reason_data)
    if breaching + healthy == 0:  # every period missing, neither treated as data
        if treat == "ignore":
            return Verdict(None, "", reason_data)
        return Verdict("INSUFFICIENT_DATA",
                       f"Insufficient Data: {n} datapoint{'' if n == 1 else 's'} "
                       f"{'was' if n == 1 else 'were'} unknown.", reason_data)
    return Verdict("OK", f"Threshold Crossed: {breaching} out of the last {n} datapoints "
                   f"breached the threshold ({alarm.threshold:g}) (minimum {m} for ALARM).",
                   reason_data)


def _event_query(query: dict[str, Any]) -> dict[str, Any]:
    """A metric math query as an alarm event shows it (camelCase, dimensions a map)."""
    out: dict[str, Any] = {"id": query["Id"]}
    if query.get("MetricStat"):
        given = query["MetricStat"]
        metric = {"namespace": given["Metric"].get("Namespace"),
                  "name": given["Metric"].get("MetricName")}
        if given["Metric"].get("Dimensions"):
            metric["dimensions"] = {d["Name"]: d["Value"] for d in given["Metric"]["Dimensions"]}
        out["metricStat"] = {"metric": metric, "period": given["Period"], "stat": given["Stat"]}
    else:
        out["expression"] = query["Expression"]
    if query.get("Label"):
        out["label"] = query["Label"]
    out["returnData"] = query.get("ReturnData", True) is not False
    return out


def _composite_verdict(state: str, triggering: list[AnyAlarm]) -> Verdict:
    """Why a composite alarm moved: the alarms whose change made its rule true or false
    (AWS's ``triggeringAlarms``)."""
    first = triggering[0] if triggering else None
    reason = (f"{first.arn} transitioned to {first.state_value} at "
              f"{utc(first.state_updated):%A %d %B, %Y %H:%M:%S} UTC" if first is not None
              else f"The alarm rule evaluated to {'TRUE' if state == 'ALARM' else 'FALSE'}")
    data = {"triggeringAlarms": [
        {"arn": alarm.arn, "state": {"value": alarm.state_value,
                                     "timestamp": _iso(alarm.state_updated)}}
        for alarm in triggering]}
    return Verdict(state, reason, json.dumps(data))


def _state_data(alarm: AnyAlarm) -> dict[str, Any]:
    out: dict[str, Any] = {"stateValue": alarm.state_value, "stateReason": alarm.state_reason}
    if alarm.state_reason_data:
        out["stateReasonData"] = json.loads(alarm.state_reason_data)
    return out


def _history_config(alarm: Alarm) -> dict[str, Any]:
    return {"alarmName": alarm.name, "metricName": alarm.metric_name,
            "namespace": alarm.namespace, "threshold": alarm.threshold,
            "comparisonOperator": alarm.comparison_operator, "period": alarm.period,
            "evaluationPeriods": alarm.evaluation_periods}


def alarm_event(lab: Lab, old: Alarm, new: Alarm) -> dict[str, Any]:
    """The event a Lambda alarm action receives
    (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsEmail.html#Lambda-action-payload)."""
    metric: dict[str, Any] = {"namespace": new.namespace, "name": new.metric_name}
    if new.dimensions:
        metric["dimensions"] = dict(new.dimensions)
    stat: dict[str, Any] = {"metric": metric, "period": new.period, "stat": new.statistic}
    if new.unit:
        stat["unit"] = new.unit
    configuration: dict[str, Any] = {"metrics": (
        [_event_query(q) for q in new.queries()] if new.metrics
        else [{"id": f"{new.name}-metric", "metricStat": stat, "returnData": True}])}
    if new.description:
        configuration["description"] = new.description
    return _event(lab, old, new, configuration)


def _lambda_event(lab: Lab, old: AnyAlarm, new: AnyAlarm) -> dict[str, Any]:
    if isinstance(new, CompositeAlarm) and isinstance(old, CompositeAlarm):
        return composite_event(lab, old, new)
    assert isinstance(new, Alarm) and isinstance(old, Alarm)
    return alarm_event(lab, old, new)


def composite_event(lab: Lab, old: CompositeAlarm, new: CompositeAlarm) -> dict[str, Any]:
    """The event a composite alarm's Lambda action receives: its rule is its configuration
    (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsEmail.html#Lambda-action-payload)."""
    configuration: dict[str, Any] = {"alarmRule": new.rule}
    if new.description:
        configuration["description"] = new.description
    return _event(lab, old, new, configuration)


def _event(lab: Lab, old: AnyAlarm, new: AnyAlarm,
           configuration: dict[str, Any]) -> dict[str, Any]:
    previous: dict[str, Any] = {"value": old.state_value, "reason": old.state_reason,
                                "timestamp": _iso(old.state_updated)}
    if old.state_reason_data:
        previous["reasonData"] = old.state_reason_data
    return {
        "source": "aws.cloudwatch",
        "alarmArn": new.arn,
        "accountId": lab.arns.account_id,
        "time": _iso(new.state_updated),
        "region": lab.arns.region,
        "alarmData": {
            "alarmName": new.name,
            "state": {"value": new.state_value, "reason": new.state_reason,
                      "reasonData": new.state_reason_data or "{}",
                      "timestamp": _iso(new.state_updated)},
            "previousState": previous,
            "configuration": configuration,
        },
    }


@functools.lru_cache(maxsize=None)
def region_name(region: str) -> str:
    """A region as alarm notifications name it (``US East (N. Virginia)``), from botocore's
    endpoints data; a region it does not know keeps its code."""
    for partition in botocore.loaders.Loader().load_data("endpoints")["partitions"]:
        described = partition["regions"].get(region)
        if described:
            return str(described.get("description") or region)
    return region


def sns_message(lab: Lab, old: AnyAlarm, new: AnyAlarm) -> dict[str, Any]:
    """The JSON message an SNS alarm action publishes
    (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/Notify_Users_Alarm_Changes.html;
    AWS's sample in aws-lambda-go's ``events/testdata/cloudwatch-alarm-sns-payload-*.json``)."""
    out: dict[str, Any] = {
        "AlarmName": new.name, "AlarmDescription": new.description,
        "AWSAccountId": lab.arns.account_id,
        "AlarmConfigurationUpdatedTimestamp": _iso(new.configuration_updated),
        "NewStateValue": new.state_value, "NewStateReason": new.state_reason,
        "StateChangeTime": _iso(new.state_updated), "Region": region_name(lab.arns.region),
        "AlarmArn": new.arn, "OldStateValue": old.state_value,
        "OKActions": list(new.ok_actions), "AlarmActions": list(new.alarm_actions),
        "InsufficientDataActions": list(new.insufficient_data_actions),
    }
    if isinstance(new, CompositeAlarm):
        out["AlarmRule"] = new.rule
        out["TriggeringChildren"] = _triggering_children(new.state_reason_data)
        return out
    out["Trigger"] = _trigger(new)
    return out


def _triggering_children(reason_data: str | None) -> list[dict[str, Any]]:
    """A composite alarm's ``triggeringAlarms`` as its SNS message names them (none when
    SetAlarmState gave reason data of another shape)."""
    try:
        return [{"Arn": t["arn"], "State": {"Value": t["state"]["value"],
                                            "Timestamp": t["state"]["timestamp"]}}
                for t in json.loads(reason_data or "{}")["triggeringAlarms"]]
    except (KeyError, TypeError, ValueError):
        return []


def _trigger(alarm: Alarm) -> dict[str, Any]:
    """The ``Trigger`` of an alarm's SNS message: what it watches and how."""
    trigger: dict[str, Any] = {}
    if alarm.metrics:
        trigger["Metrics"] = alarm.queries()
    else:
        extended = alarm.statistic.startswith("p")
        trigger |= {"MetricName": alarm.metric_name, "Namespace": alarm.namespace,
                    "StatisticType": "ExtendedStatistic" if extended else "Statistic",
                    "ExtendedStatistic" if extended else "Statistic":
                    alarm.statistic if extended else alarm.statistic.upper(),
                    "Unit": alarm.unit,
                    "Dimensions": [{"value": v, "name": n} for n, v in alarm.dimensions],
                    "Period": alarm.period}
    return trigger | {
        "EvaluationPeriods": alarm.evaluation_periods,
        "DatapointsToAlarm": alarm.datapoints_to_alarm,
        "ComparisonOperator": alarm.comparison_operator, "Threshold": alarm.threshold,
        "TreatMissingData": f"- TreatMissingData: {alarm.treat_missing_data}",
        "EvaluateLowSampleCountPercentile": ""}


__all__ = ["ALARM_TYPES", "Alarm", "Alarms", "AnyAlarm", "HistoryItem", "Verdict", "alarm_event",
           "composite_event", "region_name", "sns_message"]
