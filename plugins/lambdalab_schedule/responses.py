"""EventBridge's operations, served by lambdalab's protocol layer.

EventBridge speaks AWS JSON 1.1 (``X-Amz-Target: AWSEvents.PutRule``, botocore's
``events/2015-10-07/service-2.json``). :class:`~lambdalab.protocol.service.ProtocolService`
reads and validates each request and writes each answer and error; the methods here
are plain operations: the input as a dict in, the output as a dict out, errors raised.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

from lambdalab.plugin import ErrorCodes, HttpResponse, LambdaError, ProtocolService
from lambdalab.plugin import new_request_id, service_error

from . import quotas
from .exceptions import ValidationException
from .models import Schedules

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


def _default_bus(body: Mapping[str, Any]) -> None:
    bus = body.get("EventBusName")
    if bus not in (None, "default") and not str(bus).endswith(":event-bus/default"):
        raise ValidationException(
            f"EventBusName {bus!r}: lambdalab has the default event bus only. Leave "
            "EventBusName out."
        )


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

    def __init__(self, schedules: Schedules) -> None:
        self.schedules = schedules

    def put_rule(self, body: Mapping[str, Any]) -> dict[str, Any]:
        _default_bus(body)
        arn = self.schedules.put_rule(
            _field(body, "Name"),
            body.get("ScheduleExpression"),
            state=body.get("State"),
            description=body.get("Description"),
            event_pattern=body.get("EventPattern"),
        )
        return {"RuleArn": arn}

    def describe_rule(self, body: Mapping[str, Any]) -> dict[str, Any]:
        _default_bus(body)
        rule = self.schedules.describe_rule(_field(body, "Name"))
        return rule.to_aws() | {"CreatedBy": self.schedules.lab.arns.account_id}

    def list_rules(self, body: Mapping[str, Any]) -> dict[str, Any]:
        _default_bus(body)
        return _page(self.schedules.list_rules(body.get("NamePrefix")), body, "Rules")

    def delete_rule(self, body: Mapping[str, Any]) -> dict[str, Any]:
        _default_bus(body)
        self.schedules.delete_rule(_field(body, "Name"), force=bool(body.get("Force")))
        return {}

    def enable_rule(self, body: Mapping[str, Any]) -> dict[str, Any]:
        _default_bus(body)
        self.schedules.enable_rule(_field(body, "Name"))
        return {}

    def disable_rule(self, body: Mapping[str, Any]) -> dict[str, Any]:
        _default_bus(body)
        self.schedules.disable_rule(_field(body, "Name"))
        return {}

    def put_targets(self, body: Mapping[str, Any]) -> dict[str, Any]:
        _default_bus(body)
        return self.schedules.put_targets(_field(body, "Rule"), _field(body, "Targets"))

    def remove_targets(self, body: Mapping[str, Any]) -> dict[str, Any]:
        _default_bus(body)
        return self.schedules.remove_targets(_field(body, "Rule"), _field(body, "Ids"))

    def list_targets_by_rule(self, body: Mapping[str, Any]) -> dict[str, Any]:
        _default_bus(body)
        return _page(self.schedules.list_targets_by_rule(_field(body, "Rule")), body, "Targets")


class EventsService(ProtocolService):
    """The ASGI app the edge hands EventBridge requests to."""

    def __init__(self, schedules: Schedules) -> None:
        super().__init__("events", EventsResponses(schedules), errors=ERRORS)


def answer(handler: Callable[[Any], Any], request: Any) -> HttpResponse:
    """Run ``handler``; an error is EventBridge's JSON error, a bug InternalException."""
    service = ProtocolService("events", object(), errors=ERRORS)
    try:
        return handler(request)
    except LambdaError as e:
        return service.serializer.error(service_error(e), new_request_id())
    except Exception as e:  # a bug in lambdalab: say so in EventBridge's shape
        return service.serializer.error(service.internal_error(e), new_request_id())
