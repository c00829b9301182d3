"""EventBridge's wire layer: AWS JSON 1.1 over ``POST /``, the operation in ``X-Amz-Target``.

A request is ``X-Amz-Target: AWSEvents.PutRule`` with a JSON body of the operation's
fields (botocore's ``events/2015-10-07/service-2.json``); the answer is JSON of the
output shape. Each method parses, calls :class:`~lambdalab_schedule.models.Schedules`
and returns the output; errors are raised, and rendered once by
:func:`lambdalab.server.error_response`.
"""

from __future__ import annotations

import json
import logging
from typing import Any, Callable, Mapping

import anyio.to_thread
from starlette.datastructures import Headers, QueryParams

from lambdalab.plugin import BodyError, LambdaError, WireRequest, WireResponse, error_response
from lambdalab.plugin import json_object, limits, message, read_body, send, validate

from . import quotas
from .exceptions import InternalException, SerializationException, ValidationException
from .models import Schedules

log = logging.getLogger("lambdalab.events")
TARGET_PREFIX = "AWSEvents."
CONTENT_TYPE = "application/x-amz-json-1.1"


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


def checked_input(operation: str, body: bytes) -> dict[str, Any]:
    """The operation's input from the body, checked against its shape in botocore's
    ``events`` model: SerializationException if it is not a JSON object or a member has
    the wrong JSON type, else ValidationException listing every violation."""
    try:
        params = json_object(body)
    except BodyError as e:
        raise SerializationException(f"The request body could not be read: {e}") from None
    violations = validate("events", operation, params)
    wrong_types = [v for v in violations if v.kind == "type"]
    if wrong_types:
        raise SerializationException(message(wrong_types))
    if violations:
        raise ValidationException(message(violations))
    return params


def answer(handler: Callable[[WireRequest], WireResponse], request: WireRequest) -> WireResponse:
    """Run one operation; an error is EventBridge's JSON error, a bug InternalException."""
    try:
        return handler(request)
    except LambdaError as e:
        return error_response(e)
    except Exception as e:  # a bug in lambdalab: say so in EventBridge's shape, log it
        log.exception("EventBridge %s failed", request.headers.get("x-amz-target"))
        return error_response(InternalException(
            f"lambdalab failed internally ({type(e).__name__}: {e}). This is a bug; the "
            "server log has the traceback."
        ))


def _snake(operation: str) -> str:
    return "".join("_" + c.lower() if c.isupper() else c for c in operation).lstrip("_")


class EventsService:
    """The ASGI app the edge hands EventBridge requests to."""

    def __init__(self, schedules: Schedules) -> None:
        self.responses = EventsResponses(schedules)

    async def __call__(self, scope: Any, receive: Any, send_: Any) -> None:
        headers = Headers(scope=scope)
        try:
            body = await read_body(
                receive, headers, limits.CONTROL_REQUEST_MAX_BYTES, "EventBridge",
                ValidationException,
            )
            handler = self._handler(headers.get("x-amz-target", ""))
            request = WireRequest(
                method=scope["method"], path=scope["path"], params={}, query=QueryParams(""),
                headers=headers, body=body,
            )
            response = await anyio.to_thread.run_sync(answer, handler, request)
        except LambdaError as e:
            response = error_response(e)
        await send(response, send_)

    def _handler(self, target: str) -> Callable[[WireRequest], WireResponse]:
        operation = target[len(TARGET_PREFIX):] if target.startswith(TARGET_PREFIX) else ""
        method = getattr(self.responses, _snake(operation), None) if operation else None
        if method is None:
            raise ValidationException(
                f"lambdalab's EventBridge does not serve {target or 'this request'!r}: it "
                "serves PutRule, DescribeRule, ListRules, DeleteRule, EnableRule, DisableRule,"
                " PutTargets, RemoveTargets and ListTargetsByRule."
            )

        def handle(request: WireRequest) -> WireResponse:
            result = method(checked_input(operation, request.body))
            response = WireResponse(200, json.dumps(result).encode())
            response.headers["Content-Type"] = CONTENT_TYPE
            return response

        return handle
