"""Event buses, PutEvents, and the durable delivery of matched events to targets.

Pure state, no HTTP. An event put on a bus
(https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutEvents.html) is
wrapped in EventBridge's envelope (``version``, ``id``, ``detail-type``, ``source``,
``account``, ``time``, ``region``, ``resources``, ``detail``:
https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-events-structure.html),
matched against every enabled rule of that bus with :mod:`lambdalab.event_filters`, and
one *delivery* per matching target is committed **in one transaction** before PutEvents
answers: once it answers, a SIGKILL loses no delivery, and a reopened Lab sends what was
left.

A delivery to a Lambda function that takes events is committed as its asynchronous
invoke, in that transaction of the Lab's async queue (so the function's own retries and
destinations apply, and ten events cost one commit, not ten); any other delivery is a row
of ``event_deliveries``, sent once committed: to an SQS queue or SNS topic, the event
becomes the message. When the send
itself fails (the function is missing or throttled), the target's ``RetryPolicy`` applies
on the Lab's clock, and a delivery given up on goes to its ``DeadLetterConfig`` queue
(https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rule-retry-policy.html,
https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rule-dlq.html).
"""

from __future__ import annotations

import functools
import json
import logging
import re
import threading
import uuid
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Callable, Mapping

from lambdalab import LambdaError
from lambdalab.plugin import (
    DestinationMessage,
    NewEvent,
    ServiceError,
    event_filters,
    iso_s,
    limits,
    may_invoke,
    new_request_id,
    parse_function_ref,
)

from . import quotas
from .archives import Archives
from .exceptions import (
    ResourceAlreadyExistsException,
    ResourceNotFoundException,
    ValidationException,
)
from .models import Rule, Target, check_pattern

if TYPE_CHECKING:
    from .models import Schedules

log = logging.getLogger("lambdalab.events")

DEFAULT_BUS = "default"
_BUS_NAME = re.compile(r"^[.\-_A-Za-z0-9]{1,256}$")
_BUS_ARN = re.compile(r"^arn:aws[\w-]*:events:[a-z0-9-]+:[0-9]{12}:event-bus/(.+)$")


@dataclass(frozen=True)
class EventBus:
    """A custom event bus (the default one is not stored: it always exists)."""

    name: str
    arn: str
    created: float
    description: str | None = None

    def to_aws(self) -> dict[str, Any]:
        out: dict[str, Any] = {"Name": self.name, "Arn": self.arn,
                               "CreationTime": self.created, "LastModifiedTime": self.created}
        if self.description is not None:
            out["Description"] = self.description
        return out


#: Who invokes a function for a rule (the Principal of its AddPermission).
EVENTS_PRINCIPAL = "events.amazonaws.com"


class NoPermissions(Exception):
    """A target EventBridge may not invoke: the dead letter's ``ERROR_CODE``."""

    code = "NO_PERMISSIONS"


@dataclass(frozen=True)
class Delivery:
    """One event on its way to one target: a row of ``event_deliveries``."""

    id: int
    #: The ARN of the rule that matched (a dead letter names it).
    rule_arn: str
    target: Target
    payload: str
    enqueued_at: float
    attempts: int = 0


class EventBuses:
    """The event buses of one Lab, on top of its rules (:class:`Schedules`)."""

    def __init__(self, rules: "Schedules") -> None:
        self.rules = rules
        self.lab = rules.lab
        #: One sender at a time: a delivery row is sent by one thread only.
        self._sending = threading.Lock()
        #: What the buses' archives keep, and their replays.
        self.archives = Archives(self)

    # -- buses --------------------------------------------------------------------------

    def bus_arn(self, name: str) -> str:
        return f"arn:aws:events:{self.lab.arns.region}:{self.lab.arns.account_id}:event-bus/{name}"

    def bus_name(self, given: Any) -> str:
        """The bus a request names (a name or an ARN; none is the default bus), which must exist."""
        if given is None:
            return DEFAULT_BUS
        text = str(given)
        found = _BUS_ARN.match(text)
        name = found.group(1) if found else text
        if name != DEFAULT_BUS:
            self.describe_event_bus(name)
        return name

    def create_event_bus(self, name: Any, description: str | None = None) -> EventBus:
        if not isinstance(name, str) or not _BUS_NAME.match(name) or name == DEFAULT_BUS:
            raise ValidationException(
                f"Parameter Name is not valid: {name!r}. Use 1-256 letters, digits, '.', '-' "
                "or '_' (and not 'default', the bus every account has).")
        bus = EventBus(name, self.bus_arn(name), self.lab.clock.now(), description)
        with self.lab.store.transaction() as db:
            if db.execute("SELECT 1 FROM event_buses WHERE name = ?", (name,)).fetchone():
                raise ResourceAlreadyExistsException(f"Event bus {name} already exists.")
            count = db.execute("SELECT COUNT(*) FROM event_buses").fetchone()[0]
            if count + 1 >= quotas.EVENTS_BUSES_MAX:
                raise ValidationException(
                    f"An account has at most {quotas.EVENTS_BUSES_MAX} event buses.")
            db.execute("INSERT INTO event_buses (name, config) VALUES (?, ?)",
                       (name, json.dumps(asdict(bus))))
        return bus

    def describe_event_bus(self, name: str) -> EventBus:
        if name == DEFAULT_BUS:
            return EventBus(DEFAULT_BUS, self.bus_arn(DEFAULT_BUS), 0.0)
        rows = self.lab.store.query("SELECT name, config FROM event_buses WHERE name = ?", (name,))
        found = self.lab.store.loaded_rows("event_buses", rows, lambda row: {"name": row["name"]},
                                           lambda row: EventBus(**json.loads(row["config"])))
        if not found:
            raise ResourceNotFoundException(f"Event bus {name} does not exist.")
        return found[0]

    def list_event_buses(self, name_prefix: str | None = None) -> list[EventBus]:
        rows = self.lab.store.query("SELECT name, config FROM event_buses ORDER BY name")
        custom = self.lab.store.loaded_rows(
            "event_buses", rows, lambda row: {"name": row["name"]},
            lambda row: EventBus(**json.loads(row["config"])))
        buses = [self.describe_event_bus(DEFAULT_BUS), *custom]
        return [b for b in buses if not name_prefix or b.name.startswith(name_prefix)]

    def delete_event_bus(self, name: str) -> None:
        """Delete a custom bus; refused while it has rules. A missing bus is no error (as AWS)."""
        if name == DEFAULT_BUS:
            raise ValidationException("Cannot delete event bus default.")
        if self.rules.list_rules(bus=name):
            raise ValidationException(
                f"Cannot delete event bus {name}: it has rules. Delete them first.")
        with self.lab.store.transaction() as db:
            db.execute("DELETE FROM event_buses WHERE name = ?", (name,))

    # -- events ---------------------------------------------------------------------------

    def put_events(self, entries: list[Mapping[str, Any]]) -> dict[str, Any]:
        """PutEvents: each entry checked apart (a bad one fails alone, as on AWS); the
        deliveries of the good ones committed together before this returns."""
        if not 1 <= len(entries) <= quotas.EVENTS_PUT_ENTRIES_MAX:
            raise ValidationException(
                f"PutEvents takes 1 to {quotas.EVENTS_PUT_ENTRIES_MAX} entries.")
        size = sum(_entry_size(e) for e in entries)
        if size > quotas.EVENTS_PUT_MAX_BYTES:
            raise ValidationException(
                f"Total size of the entries in the request is over the limit "
                f"({size} > {quotas.EVENTS_PUT_MAX_BYTES} bytes).")
        results, rows, kept = [], [], []
        routes: dict[str, list[_Route]] = {}
        archives: dict[str, Any] = {}
        for entry in entries:
            try:
                event = self.envelope(entry)
            except _EntryError as e:
                results.append({"ErrorCode": e.code, "ErrorMessage": e.message})
                continue
            bus = event.pop("_bus")
            rows.extend(self._deliveries(event, bus, routes))
            kept.extend(self.archives.kept(event, bus, archives))
            results.append({"EventId": event["id"]})
        self.send(self.commit(rows, kept=kept))
        failed = sum(1 for r in results if "ErrorCode" in r)
        return {"FailedEntryCount": failed, "Entries": results}

    def envelope(self, entry: Mapping[str, Any]) -> dict[str, Any]:
        """The event EventBridge delivers for one PutEvents entry."""
        for field in ("Source", "DetailType", "Detail"):
            if not entry.get(field):
                raise _EntryError("InvalidArgument",
                                  f"Parameter {field} is not valid. Reason: {field} is a required "
                                  "argument.")
        try:
            detail = json.loads(entry["Detail"])
        except (TypeError, ValueError, RecursionError):
            detail = None
        if not isinstance(detail, dict):
            raise _EntryError("MalformedDetail", "Detail is malformed.")
        try:
            bus = self.bus_name(entry.get("EventBusName"))
        except ResourceNotFoundException as e:
            raise _EntryError("ResourceNotFoundException", e.message) from None
        return {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": entry["DetailType"],
            "source": entry["Source"],
            "account": self.lab.arns.account_id,
            "time": iso_s(_event_time(entry.get("Time"), self.lab.clock.now())),
            "region": self.lab.arns.region,
            "resources": list(entry.get("Resources") or []),
            "detail": detail,
            # lambdalab's own, removed before delivery: which bus's rules match it
            "_bus": bus,
        }

    def sender(self, bus_arn: str) -> Callable[[DestinationMessage], None] | None:
        """What the ``lambdalab_destination_sender`` hook answers for an event bus's ARN:
        a callable that puts a service's message on that bus (None for other ARNs)."""
        found = _BUS_ARN.match(bus_arn)
        if found is None:
            return None
        bus = found.group(1)

        def send(message: DestinationMessage) -> None:
            self.put_service_event(json.loads(message.body), bus)

        return send

    def put_service_event(self, body: dict[str, Any], bus: str = DEFAULT_BUS) -> str:
        """Put what a service sends on ``bus``, durably; its event id.

        ``body`` is an event's ``source``, ``detail-type``, ``detail`` and ``resources``
        (S3's ``Object Created``), or the invocation record of a Lambda destination,
        which AWS sends as ``Lambda Function Invocation Result - Success`` or ``- Failure``
        (https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-retain-records.html).
        """
        if "source" not in body:
            body = _lambda_destination_event(body)
        entry = {"Source": body["source"], "DetailType": body["detail-type"],
                 "Detail": json.dumps(body["detail"]), "Resources": body.get("resources") or [],
                 "EventBusName": bus}
        try:
            event = self.envelope(entry)
        except _EntryError as e:
            raise ResourceNotFoundException(e.message) from None
        event_id = str(event["id"])
        bus = event.pop("_bus")
        kept = self.archives.kept(event, bus, {})
        self.send(self.commit(self._deliveries(event, bus, {}), kept=kept))
        return event_id

    def deliver(self, source_arn: str, target: Target, payload: str) -> None:
        """Send ``payload`` to ``target`` durably, as a rule's delivery (the Scheduler's
        firings): committed first, then retried and dead-lettered by the target's policy."""
        self.send(self.commit([(source_arn, target, payload)]))

    def routes(self, bus: str) -> list[_Route]:
        """The enabled pattern rules of ``bus``, each with its parsed pattern and targets."""
        out = []
        for rule in self.rules.list_rules(bus=bus):
            if rule.enabled and rule.event_pattern is not None:
                out.append(_Route(rule, _pattern(rule.event_pattern),
                                  self.rules.list_targets_by_rule(
                                      rule.name, event_bus_name=rule.event_bus_name)))
        return out

    def _deliveries(self, event: dict[str, Any], bus: str, routes: dict[str, list[_Route]]
                    ) -> list[tuple[str, Target, str]]:
        """:meth:`matched` against the rules of ``bus``; ``routes`` keeps each bus's rules
        for the other entries of one request."""
        if bus not in routes:
            routes[bus] = self.routes(bus)
        return self.matched(event, routes[bus])

    @staticmethod
    def matched(event: dict[str, Any], routes: list[_Route]) -> list[tuple[str, Target, str]]:
        """``(rule ARN, target, payload)`` for each target of each rule ``event`` matches."""
        return [(route.rule.arn, target, target.payload(event, route.rule))
                for route in routes if event_filters.matches(route.pattern, event)
                for target in route.targets]

    def commit(self, rows: list[tuple[str, Target, str]], *,
               kept: list[tuple[str, float, str]] | None = None,
               replay: tuple[str, str] | None = None) -> list[Delivery]:
        """Commit deliveries ``rows`` in one transaction of the async queue: each to a
        function that takes events now as its asynchronous invoke, the others as rows of
        ``event_deliveries`` (returned, for :meth:`send`); with them the events archives
        ``kept`` and a ``replay``'s record (name, config) when given."""
        now = self.lab.clock.now()
        invokes, stored = self._as_invokes(rows)
        out: list[Delivery] = []

        def write(db: Any) -> None:
            self.archives.store(db, kept or [], now)
            if replay is not None:
                db.execute("INSERT INTO event_replays (name, config) VALUES (?, ?)", replay)
            out.extend(self._insert(db, stored, now))

        self.lab.events.put_many(invokes, also=write)
        return out

    @staticmethod
    def _insert(db: Any, rows: list[tuple[str, Target, str]], now: float) -> list[Delivery]:
        """Store ``rows`` in ``event_deliveries`` inside the caller's transaction ``db``."""
        out = []
        for rule_arn, target, payload in rows:
            cursor = db.execute(
                "INSERT INTO event_deliveries (rule, target, payload, enqueued_at, attempts, "
                "next_attempt_at) VALUES (?, ?, ?, ?, 0, ?)",
                (rule_arn, json.dumps(asdict(target)), payload, now, now))
            out.append(Delivery(int(cursor.lastrowid or 0), rule_arn, target, payload, now))
        return out

    # -- delivery -------------------------------------------------------------------------

    def resume(self) -> None:
        """Send every delivery a previous process left (what a reopened Lab does)."""
        rows = self.lab.store.query("SELECT id FROM event_deliveries ORDER BY id")
        self.send_stored([row["id"] for row in rows])

    def send_stored(self, ids: list[int]) -> None:
        """Send the stored deliveries ``ids`` as they are now (a retry, or a resumed one)."""
        self.send([d for d in map(self._load, ids) if d is not None])

    def send(self, deliveries: list[Delivery]) -> None:
        """Send each delivery; those sent are deleted together, the others wait for a retry
        on the Lab's clock. Only this process knows the ids of deliveries just committed,
        so no other thread sends them too."""
        sent: list[int] = []
        with self._sending:
            for delivery in deliveries:
                if self._attempt(delivery):
                    sent.append(delivery.id)
            if sent:
                with self.lab.store.transaction() as db:
                    db.executemany("DELETE FROM event_deliveries WHERE id = ?",
                                   [(delivery_id,) for delivery_id in sent])

    def _as_invokes(self, rows: list[tuple[str, Target, str]]
                    ) -> tuple[list[NewEvent], list[tuple[str, Target, str]]]:
        """The deliveries to functions that take events now, as asynchronous invokes, and
        the rest, which are stored and sent one by one (a missing or ``Pending``
        function, a payload Invoke would refuse: :meth:`_attempt` fails them as one
        ``Invoke`` would, then retries)."""
        takes: dict[str, bool] = {}
        invokes, rest = [], []
        for row in rows:
            arn = row[1].arn
            if arn.startswith("arn:aws:lambda:") and arn not in takes:
                takes[arn] = self._takes_events(arn)
            allowed = takes.get(arn) and self._allowed(row[0], arn)  # denied: dead-lettered
            payload = _event_payload(row[2]) if allowed else None
            if payload is None:
                rest.append(row)
                continue
            ref = parse_function_ref(arn)
            invokes.append(NewEvent(ref.name, ref.qualifier, payload, new_request_id()))
        return invokes, rest

    def _takes_events(self, arn: str) -> bool:
        """Whether an ``Event`` invoke of ``arn`` would be accepted (a ``DryRun`` says)."""
        try:
            self.lab.invoke(arn, invocation_type="DryRun")
        except LambdaError:
            return False
        return True

    def _load(self, delivery_id: int) -> Delivery | None:
        rows = self.lab.store.query(
            "SELECT id, rule, target, payload, enqueued_at, attempts FROM event_deliveries "
            "WHERE id = ?", (delivery_id,))
        loaded = self.lab.store.loaded_rows(
            "event_deliveries", rows, lambda row: {"id": row["id"]},
            lambda row: Delivery(row["id"], row["rule"], Target(**json.loads(row["target"])),
                                 row["payload"], float(row["enqueued_at"]), int(row["attempts"])))
        return loaded[0] if loaded else None

    def _attempt(self, delivery: Delivery) -> bool:
        """Whether the target took the delivery; if not, it is retried or given up on. A
        function whose policy does not let EventBridge invoke it (in a lab enforcing IAM)
        is not retried: the event goes to the dead-letter queue at once, as
        https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rule-dlq.html says."""
        if not self._may_invoke(delivery):
            log.warning("rule %s may not invoke %s: no resource-based policy allows events.amazonaws.com",
                        delivery.rule_arn, delivery.target.arn)
            self._dead_letter(delivery, NoPermissions(
                f"EventBridge is not authorized to invoke {delivery.target.arn} for {delivery.rule_arn}: "
                "add a permission for principal events.amazonaws.com with the rule's ARN as SourceArn."))
            self._delete(delivery.id)
            return False
        try:
            self._deliver(delivery.target.arn, delivery.payload)
        except (LambdaError, ServiceError) as e:  # the target refused or is gone
            self._failed(delivery, e)
            return False
        except Exception as e:  # a bug: logged, and retried like a refusal
            log.exception("sending to %s failed", delivery.target.arn)
            self._failed(delivery, e)
            return False
        return True

    def _may_invoke(self, delivery: Delivery) -> bool:
        return self._allowed(delivery.rule_arn, delivery.target.arn)

    def _allowed(self, rule_arn: str, arn: str) -> bool:
        """Whether the rule may send to ``arn``: always, unless the lab enforces IAM and the
        function's policy does not let EventBridge invoke it for this rule."""
        return not (self.lab.enforce_iam and arn.startswith("arn:aws:lambda:")) or may_invoke(
            self.lab, EVENTS_PRINCIPAL, arn, source_arn=rule_arn, source_account=self.lab.arns.account_id)

    def _deliver(self, arn: str, payload: str) -> None:
        if arn.startswith("arn:aws:lambda:"):
            self.lab.invoke(arn, payload, invocation_type="Event")
            return
        sender = self.lab.plugin_manager.hook.lambdalab_destination_sender(
            lab=self.lab, destination_arn=arn)
        if sender is None:
            raise ResourceNotFoundException(f"No loaded plugin delivers to {arn}.")
        sender(DestinationMessage(payload, {}))

    def _failed(self, delivery: Delivery, error: Exception) -> None:
        """Try again after a back-off, or give up to the dead-letter queue."""
        policy = delivery.target.retry_policy or {}
        retries = policy.get("MaximumRetryAttempts", quotas.EVENTS_RETRY_ATTEMPTS_DEFAULT)
        max_age = policy.get("MaximumEventAgeInSeconds", quotas.EVENTS_EVENT_AGE_DEFAULT_S)
        now = self.lab.clock.now()
        due = now + _backoff(delivery.attempts)
        if delivery.attempts >= retries or due - delivery.enqueued_at > max_age:
            log.warning("rule %s gave up sending to target %s (%s): %s",
                        delivery.rule_arn, delivery.target.id, delivery.target.arn, error)
            self._dead_letter(delivery, error)
            self._delete(delivery.id)
            return
        with self.lab.store.transaction() as db:
            db.execute("UPDATE event_deliveries SET attempts = attempts + 1, next_attempt_at = ? "
                       "WHERE id = ?", (due, delivery.id))
        self.lab.clock.call_at(due, lambda: self.send_stored([delivery.id]))

    def _dead_letter(self, delivery: Delivery, error: Exception) -> None:
        dead_letter = (delivery.target.dead_letter_config or {}).get("Arn")
        if dead_letter is None:
            return
        attributes = {
            "RULE_ARN": delivery.rule_arn,
            "TARGET_ARN": delivery.target.arn,
            "ERROR_CODE": getattr(error, "code", type(error).__name__),
            "ERROR_MESSAGE": str(error)[: quotas.EVENTS_DLQ_MESSAGE_MAX],
        }
        sender = self.lab.plugin_manager.hook.lambdalab_destination_sender(
            lab=self.lab, destination_arn=dead_letter)
        if sender is None:
            log.warning("no loaded plugin delivers to dead-letter queue %s", dead_letter)
            return
        try:
            sender(DestinationMessage(delivery.payload, attributes))
        except (LambdaError, ServiceError) as e:
            log.warning("dead-letter queue %s refused the event: %s", dead_letter, e)

    def _delete(self, delivery_id: int) -> None:
        with self.lab.store.transaction() as db:
            db.execute("DELETE FROM event_deliveries WHERE id = ?", (delivery_id,))

    def pending(self) -> int:
        """Deliveries not yet sent (waiting for a retry, or left by a killed process)."""
        return int(self.lab.store.query("SELECT COUNT(*) FROM event_deliveries")[0][0])


def _event_payload(text: str) -> bytes | None:
    """``text`` as an ``Event`` invoke's payload, or None where Invoke would refuse it
    (over the async limit, not JSON, not UTF-8)."""
    try:
        data = text.encode()
        json.loads(data)
    except (ValueError, RecursionError):  # UnicodeError is a ValueError
        return None
    return data if len(data) <= limits.ASYNC_PAYLOAD_MAX_BYTES else None


def _lambda_destination_event(record: Mapping[str, Any]) -> dict[str, Any]:
    context = record.get("requestContext") or {}
    outcome = "Success" if context.get("condition") == "Success" else "Failure"
    function = context.get("functionArn")
    return {"source": "lambda", "detail-type": f"Lambda Function Invocation Result - {outcome}",
            "resources": [function] if function else [], "detail": dict(record)}


@dataclass(frozen=True)
class _Route:
    """A pattern rule as PutEvents uses it: the rule, its parsed pattern, its targets."""

    rule: Rule
    pattern: dict[str, Any]
    targets: list[Target]


@functools.lru_cache(maxsize=256)
def _pattern(text: str) -> dict[str, Any]:
    """A stored rule's pattern, parsed once (the matcher never changes it)."""
    return check_pattern(text)


class _EntryError(Exception):
    """One PutEvents entry refused: its ``ErrorCode`` and ``ErrorMessage``."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


def _entry_size(entry: Mapping[str, Any]) -> int:
    """An entry's size as AWS counts it: UTF-8 bytes of Source, DetailType, Detail and
    Resources, plus 14 bytes for a Time
    (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-putevent-size.html)."""
    if not isinstance(entry, Mapping):
        return 0
    texts = [entry.get("Source"), entry.get("DetailType"), entry.get("Detail"),
             *(entry.get("Resources") or [])]
    size = sum(len(str(t).encode("utf-8", "surrogatepass")) for t in texts if t is not None)
    return size + (14 if entry.get("Time") is not None else 0)


def _event_time(given: Any, now: float) -> float:
    """The entry's ``Time`` (a datetime or epoch seconds as the wire gives it), else now."""
    if isinstance(given, datetime):
        return given.replace(tzinfo=given.tzinfo or timezone.utc).timestamp()
    if isinstance(given, (int, float)) and not isinstance(given, bool):
        return float(given)
    return now


def _backoff(attempts: int) -> float:
    """Seconds before the next try: exponential with a ceiling, on the Lab's clock."""
    return float(min(quotas.EVENTS_RETRY_BACKOFF_BASE_S * 2 ** attempts,
                     quotas.EVENTS_RETRY_BACKOFF_MAX_S))


__all__ = ["DEFAULT_BUS", "Delivery", "EventBus", "EventBuses", "Rule"]
