"""What every service of the edge shares: the request and response records, and the one
place an error becomes AWS's wire shape.

An AWS error on a REST-JSON service (Lambda's protocol) is an HTTP status, the error
code in ``x-amzn-ErrorType`` and a JSON body with ``message``; botocore reads the header
to pick the exception class it raises
(https://smithy.io/2.0/aws/protocols/aws-restjson1-protocol.html#operation-error-serialization).
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from typing import Any, Mapping, TypeVar

from starlette.datastructures import Headers, QueryParams

from .. import limits
from ..errors import InvalidParameterValueException, InvalidRequestContentException, LambdaError
from ..invocation.invoker import new_request_id

JSON = "application/json"


@dataclass(frozen=True)
class WireRequest:
    """One HTTP request, parsed as far as any operation needs it."""

    method: str
    path: str
    params: dict[str, str]
    query: QueryParams
    headers: Headers
    body: bytes = b""

    def json(self) -> dict[str, Any]:
        """The body as a JSON object; an empty body is ``{}``."""
        if not self.body.strip():
            return {}
        try:
            value = json.loads(self.body)
        except ValueError as e:
            raise InvalidRequestContentException(
                f"Could not parse request body into json: {e}. Send a JSON object, "
                'for example {"FunctionName": "hello"}.'
            ) from None
        if not isinstance(value, dict):
            raise InvalidRequestContentException(
                f"Could not parse request body into json: expected a JSON object, got "
                f"{type(value).__name__}. Send the parameters as a JSON object."
            )
        return value


@dataclass
class WireResponse:
    """What an operation answers: status, headers and body."""

    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    request_id: str = ""

    @classmethod
    def of_json(cls, status: int, value: Any, request_id: str = "") -> "WireResponse":
        return cls(status, json.dumps(value).encode(), {"Content-Type": JSON}, request_id)

    @classmethod
    def empty(cls, status: int = 204) -> "WireResponse":
        return cls(status)

    def header_list(self) -> list[tuple[bytes, bytes]]:
        headers = {"x-amzn-RequestId": self.request_id or new_request_id(), **self.headers}
        headers["Content-Length"] = str(len(self.body))
        return [(k.lower().encode(), v.encode()) for k, v in headers.items()]


def error_response(error: LambdaError, *, any_protocol: bool = False) -> WireResponse:
    """Every LambdaError on the wire: the one place AWS's error shape is written.

    ``any_protocol`` is for errors of the edge itself, before a service is known: the
    code also goes in the body as ``__type``, where JSON-protocol clients (SQS,
    EventBridge, DynamoDB) look for it.
    """
    body = error.to_wire()
    if any_protocol:
        body = {"__type": error.code, **body}
    response = WireResponse.of_json(error.status_code, body)
    response.headers["x-amzn-ErrorType"] = error.code
    return response


async def send(response: WireResponse, send_: Any) -> None:
    """Write ``response`` to an ASGI ``send`` callable."""
    await send_(
        {"type": "http.response.start", "status": response.status,
         "headers": response.header_list()}
    )
    await send_({"type": "http.response.body", "body": response.body})


T = TypeVar("T")


# -- paging (Marker / MaxItems / NextMarker), as every Lambda list operation pages --------


def max_items(query: Mapping[str, str]) -> int | None:
    raw = query.get("MaxItems")
    if raw is None:
        return None
    if not raw.isdigit() or not 1 <= int(raw) <= limits.LIST_MAX_ITEMS:
        raise InvalidParameterValueException(
            f"MaxItems: {raw!r} is not valid. Use a whole number from 1 to "
            f"{limits.LIST_MAX_ITEMS}."
        )
    return int(raw)


def page(items: list[T], query: Mapping[str, str], page_max: int) -> tuple[list[T], str | None]:
    """One page of ``items`` after ``Marker``, and the NextMarker (``None`` at the end).

    The marker is the position of the next item, base64 encoded so that clients treat
    it as opaque, as AWS's are.
    """
    start = 0
    marker = query.get("Marker")
    if marker:
        try:
            start = int(base64.urlsafe_b64decode(marker.encode()).decode())
            if not 0 <= start <= len(items):
                raise ValueError("a position outside the list")
        except (binascii.Error, ValueError, UnicodeDecodeError):
            raise InvalidParameterValueException(
                f"Marker: {marker!r} is not a marker this API returned. Pass the NextMarker "
                "of the previous page, or leave Marker out to start from the beginning."
            ) from None
    count = min(max_items(query) or page_max, page_max)
    chunk = items[start : start + count]
    end = start + len(chunk)
    next_marker = (
        base64.urlsafe_b64encode(str(end).encode()).decode() if end < len(items) else None
    )
    return chunk, next_marker
