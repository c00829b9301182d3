"""What every service of the edge shares: the request and response records, and the one
place an error becomes AWS's wire shape.

An AWS error on a REST-JSON service (Lambda's protocol) is an HTTP status, the error
code in ``x-amzn-ErrorType`` and a JSON body with ``message``; botocore reads the header
to pick the exception class it raises
(https://smithy.io/2.0/aws/protocols/aws-restjson1-protocol.html#operation-error-serialization).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from starlette.datastructures import Headers, QueryParams

from ..errors import InvalidRequestContentException, LambdaError
from ..invoker import new_request_id

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
