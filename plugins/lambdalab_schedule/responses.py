"""EventBridge's operations, served by lambdalab's protocol layer.

EventBridge speaks AWS JSON 1.1 (``X-Amz-Target: AWSEvents.PutRule``, botocore's
``events/2015-10-07/service-2.json``). :class:`~lambdalab.protocol.service.ProtocolService`
reads and validates each request and writes each answer and error; the methods here
are plain operations: the input as a dict in, the output as a dict out, errors raised.
"""

from __future__ import annotations

import json
from typing import Any, Callable, Mapping

from lambdalab.plugin import ErrorCodes, HttpResponse, LambdaError, ProtocolService
from lambdalab.plugin import event_filters, new_request_id, service_error

from . import quotas
from .buses import EventBuses
from .exceptions import ValidationException
from .models import Schedules, check_pattern

TARGET_PREFIX = "AWSEvents."
#: What EventBridge answers for what the protocol layer refuses.
ERRORS = ErrorCodes(internal="InternalException")


def _field(body: Mapping[str, Any], name: str) -> Any:
    if body.get(name) is None:
        raise ValidationException(
            f"1 validation error detected: Value null at '{name[0].lower() + name[1:]}' "
            "failed to satisfy constraint: Member must not be null"
        )
    return body[name]


def _page(items: list[Any], body: Mapping[str, Any], key: str) -> dict[str, Any]:
    """One page of ``items`` (``Limit``, ``NextToken``), each rendered with ``to_aws()``."""
    limit = body.get("Limit") or quotas.EVENTS_LIST_LIMIT_MAX
    if not isinstance(limit, int) or not 1 <= limit <= quotas.EVENTS_LIST_LIMIT_MAX:
        raise ValidationException(
            f"Parameter Limit is not valid: use 1 to {quotas.EVENTS_LIST_LIMIT_MAX}."
        )
    token = body.get("NextToken") or "0"
    if not str(token).isdigit():
        raise ValidationException("The NextToken is not valid: pass the one a list returned.")
    start = int(token)
    out: dict[str, Any] = {key: [item.to_aws() for item in items[start : start + limit]]}
    if start + limit < len(items):
        out["NextToken"] = str(start + limit)
    return out


class EventsResponses:
    """Every EventBridge operation lambdalab serves, named in snake_case."""

    def __init__(self, schedules: Schedules, buses: EventBuses) -> None:
        self.schedules = schedules
        self.buses = buses

    def _bus(self, body: Mapping[str, Any]) -> str:
        return self.buses.bus_name(body.get("EventBusName"))

    def _rule_on_bus(self, body: Mapping[str, Any], field: str = "Name") -> dict[str, Any]:
        """The rule a request names, as keyword arguments: its name and its bus."""
        return {field.lower(): str(_field(body, field)), "event_bus_name": self._bus(body)}

    # -- rules ------------------------------------------------------------------------

    def put_rule(self, body: Mapping[str, Any]) -> dict[str, Any]:
        arn = self.schedules.put_rule(
            _field(body, "Name"),
            body.get("ScheduleExpression"),
            state=body.get("State"),
            description=body.get("Description"),
            event_pattern=body.get("EventPattern"),
            event_bus_name=self._bus(body),
        )
        return {"RuleArn": arn}

    def describe_rule(self, body: Mapping[str, Any]) -> dict[str, Any]:
        rule = self.schedules.describe_rule(_field(body, "Name"), self._bus(body))
        return rule.to_aws() | {"CreatedBy": self.schedules.lab.arns.account_id}

    def list_rules(self, body: Mapping[str, Any]) -> dict[str, Any]:
        rules = self.schedules.list_rules(body.get("NamePrefix"), bus=self._bus(body))
        return _page(rules, body, "Rules")

    def delete_rule(self, body: Mapping[str, Any]) -> dict[str, Any]:
        self.schedules.delete_rule(**self._rule_on_bus(body), force=bool(body.get("Force")))
        return {}

    def enable_rule(self, body: Mapping[str, Any]) -> dict[str, Any]:
        self.schedules.enable_rule(**self._rule_on_bus(body))
        return {}

    def disable_rule(self, body: Mapping[str, Any]) -> dict[str, Any]:
        self.schedules.disable_rule(**self._rule_on_bus(body))
        return {}

    def put_targets(self, body: Mapping[str, Any]) -> dict[str, Any]:
        return self.schedules.put_targets(targets=_field(body, "Targets"),
                                          **self._rule_on_bus(body, "Rule"))

    def remove_targets(self, body: Mapping[str, Any]) -> dict[str, Any]:
        return self.schedules.remove_targets(ids=_field(body, "Ids"),
                                             **self._rule_on_bus(body, "Rule"))

    def list_targets_by_rule(self, body: Mapping[str, Any]) -> dict[str, Any]:
        targets = self.schedules.list_targets_by_rule(**self._rule_on_bus(body, "Rule"))
        return _page(targets, body, "Targets")

    def test_event_pattern(self, body: Mapping[str, Any]) -> dict[str, Any]:
        pattern = check_pattern(_field(body, "EventPattern"))
        return {"Result": event_filters.matches(pattern, _test_event(_field(body, "Event")))}

    # -- buses and events -----------------------------------------------------------------

    def create_event_bus(self, body: Mapping[str, Any]) -> dict[str, Any]:
        bus = self.buses.create_event_bus(_field(body, "Name"), body.get("Description"))
        out = {"EventBusArn": bus.arn}
        return out | ({"Description": bus.description} if bus.description is not None else {})

    def describe_event_bus(self, body: Mapping[str, Any]) -> dict[str, Any]:
        return self.buses.describe_event_bus(self.buses.bus_name(body.get("Name"))).to_aws()

    def list_event_buses(self, body: Mapping[str, Any]) -> dict[str, Any]:
        return _page(self.buses.list_event_buses(body.get("NamePrefix")), body, "EventBuses")

    def delete_event_bus(self, body: Mapping[str, Any]) -> dict[str, Any]:
        self.buses.delete_event_bus(_field(body, "Name"))
        return {}

    def put_events(self, body: Mapping[str, Any]) -> dict[str, Any]:
        return self.buses.put_events(_field(body, "Entries"))

    # -- archives and replays -------------------------------------------------------------

    def create_archive(self, body: Mapping[str, Any]) -> dict[str, Any]:
        archive = self.buses.archives.create_archive(
            _field(body, "ArchiveName"), _field(body, "EventSourceArn"),
            event_pattern=body.get("EventPattern"), description=body.get("Description"),
            retention_days=body.get("RetentionDays"))
        return {"ArchiveArn": archive.arn, "State": "ENABLED", "CreationTime": archive.created}

    def describe_archive(self, body: Mapping[str, Any]) -> dict[str, Any]:
        archives = self.buses.archives
        archive = archives.describe_archive(_field(body, "ArchiveName"))
        return archive.to_aws(*archives.contents(archive))

    def list_archives(self, body: Mapping[str, Any]) -> dict[str, Any]:
        archives = self.buses.archives
        source = body.get("EventSourceArn")
        found = archives.list_archives(body.get("NamePrefix"),
                                       self._bus({"EventBusName": source}) if source else None)
        if body.get("State") not in (None, "ENABLED"):
            found = []
        return _page([_Summary(a.to_aws(*archives.contents(a)), _ARCHIVE) for a in found],
                     body, "Archives")

    def delete_archive(self, body: Mapping[str, Any]) -> dict[str, Any]:
        self.buses.archives.delete_archive(_field(body, "ArchiveName"))
        return {}

    def start_replay(self, body: Mapping[str, Any]) -> dict[str, Any]:
        replay = self.buses.archives.start_replay(
            _field(body, "ReplayName"), _field(body, "EventSourceArn"),
            _field(body, "EventStartTime"), _field(body, "EventEndTime"),
            _field(body, "Destination"), body.get("Description"))
        return {"ReplayArn": replay.arn, "State": replay.state,
                "ReplayStartTime": replay.started}

    def describe_replay(self, body: Mapping[str, Any]) -> dict[str, Any]:
        return self.buses.archives.describe_replay(_field(body, "ReplayName")).to_aws()

    def list_replays(self, body: Mapping[str, Any]) -> dict[str, Any]:
        found = self.buses.archives.list_replays(body.get("NamePrefix"), body.get("State"),
                                                 body.get("EventSourceArn"))
        return _page([_Summary(r.to_aws(), _REPLAY) for r in found], body, "Replays")

    def cancel_replay(self, body: Mapping[str, Any]) -> dict[str, Any]:
        self.buses.archives.cancel_replay(_field(body, "ReplayName"))
        return {}


#: The fields of ListArchives' ``Archive`` and ListReplays' ``Replay`` (botocore's shapes).
_ARCHIVE = ("ArchiveName", "EventSourceArn", "State", "StateReason", "RetentionDays",
            "SizeBytes", "EventCount", "CreationTime")
_REPLAY = ("ReplayName", "EventSourceArn", "State", "StateReason", "EventStartTime",
           "EventEndTime", "EventLastReplayedTime", "ReplayStartTime", "ReplayEndTime")


class _Summary:
    """A list's item: the described fields that the list's shape has."""

    def __init__(self, described: dict[str, Any], fields: tuple[str, ...]) -> None:
        self.described, self.fields = described, fields

    def to_aws(self) -> dict[str, Any]:
        return {k: v for k, v in self.described.items() if k in self.fields}


def _test_event(text: Any) -> Any:
    """TestEventPattern's ``Event``: JSON text of an event with EventBridge's envelope."""
    try:
        event = json.loads(text)
    except (TypeError, ValueError, RecursionError):
        event = None
    missing = [f for f in _ENVELOPE if not isinstance(event, dict) or f not in event]
    if missing:
        raise ValidationException(
            f"Parameter Event is not valid: it must be JSON text of an event with "
            f"{', '.join(_ENVELOPE)} (missing {', '.join(missing)}).")
    return event


#: The fields TestEventPattern requires of its Event.
_ENVELOPE = ("id", "account", "source", "time", "region", "detail-type")


class EventsService(ProtocolService):
    """The ASGI app the edge hands EventBridge requests to."""

    def __init__(self, schedules: Schedules, buses: EventBuses) -> None:
        super().__init__("events", EventsResponses(schedules, buses), errors=ERRORS)


def answer(handler: Callable[[Any], Any], request: Any) -> HttpResponse:
    """Run ``handler``; an error is EventBridge's JSON error, a bug InternalException."""
    service = ProtocolService("events", object(), errors=ERRORS)
    try:
        return handler(request)
    except LambdaError as e:
        return service.serializer.error(service_error(e), new_request_id())
    except Exception as e:  # a bug in lambdalab: say so in EventBridge's shape
        return service.serializer.error(service.internal_error(e), new_request_id())
