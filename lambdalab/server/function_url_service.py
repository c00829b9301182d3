"""Function URLs on the edge: ``/_lambdalab/url/<url-id>/<path>`` invokes the function.

The URL id finds the function in whichever region's lab made it (on AWS the host name,
``<url-id>.lambda-url.<region>.on.aws``, names the region; here the id alone does).

The request becomes the payload format 2.0 event, the function runs synchronously
through the one invoke path (:meth:`lambdalab.Lab.invoke`), and its answer becomes the
HTTP response (https://docs.aws.amazon.com/lambda/latest/dg/urls-invocation.html). The
mapping itself lives in :mod:`lambdalab.function_urls`; this module only speaks ASGI.
"""

from __future__ import annotations

import json
import uuid
from typing import Any, Callable

import anyio
import anyio.to_thread
from starlette.datastructures import Headers

from .. import limits
from ..errors import LambdaError, RequestTooLargeException, TooManyRequestsException
from ..function_urls import (
    EdgeRequest,
    EdgeResponse,
    FunctionUrlConfig,
    http_response,
    iam_caller,
    internal_error,
    request_event,
)
from ..lab import Lab
from .auth import SignedRequest, SigV4Verifier, signer_of
from .bodies import read_body


def _message(status: int, message: str | None, error_type: str | None = None) -> EdgeResponse:
    """An answer of the URL front end itself, with a request id of its own."""
    headers = [("Content-Type", "application/json"), ("x-amzn-RequestId", str(uuid.uuid4()))]
    if error_type:
        headers.append(("x-amzn-ErrorType", error_type))
    body = json.dumps({"Message": message}, separators=(",", ":")).encode()
    return EdgeResponse(status, headers, body)


#: The lab and configuration of a URL id, or ``None`` for an id no function has.
FindUrl = Callable[[str], "tuple[Lab, FunctionUrlConfig] | None"]


class FunctionUrlService:
    """The ASGI app serving every function URL of the labs ``find`` looks through."""

    def __init__(self, find: FindUrl, limiter: anyio.CapacityLimiter | None = None,
                 verifier: SigV4Verifier | None = None) -> None:
        self.find = find
        self.limiter = limiter
        #: The edge's keys (``serve --auth-key``): with them an ``AWS_IAM`` URL's
        #: signatures are checked, as every signed request's are.
        self.verifier = verifier

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        url_id, _, rest = scope["path"][len(limits.FUNCTION_URL_PATH_PREFIX):].partition("/")
        try:
            body = await read_body(
                receive, Headers(scope=scope), limits.SYNC_PAYLOAD_MAX_BYTES, "Invoke",
                RequestTooLargeException,
            )
        except LambdaError:
            response = _message(
                413, f"Request must be smaller than {limits.SYNC_PAYLOAD_MAX_BYTES} bytes"
            )
        else:
            client = scope.get("client") or ("127.0.0.1", 0)
            server = scope.get("server") or ("127.0.0.1", 0)
            request = EdgeRequest(
                method=scope["method"],
                path="/" + rest,
                query_string=scope["query_string"].decode("latin-1"),
                headers=[(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]],
                body=body,
                source_ip=client[0],
                protocol=f"HTTP/{scope.get('http_version', '1.1')}",
                port=int(server[1] or 0),
                scheme=scope.get("scheme", "http"),
            )
            signed = SignedRequest(scope["method"], scope.get("raw_path", scope["path"].encode()).decode("latin-1"),
                                   request.query_string, Headers(scope=scope), body)
            response = await anyio.to_thread.run_sync(
                self.answer, url_id, request, signed, limiter=self.limiter
            )
        headers = [(k.lower().encode(), v.encode("latin-1")) for k, v in response.headers]
        headers.append((b"content-length", str(len(response.body)).encode()))
        await send({"type": "http.response.start", "status": response.status, "headers": headers})
        await send({"type": "http.response.body", "body": response.body})

    def answer(self, url_id: str, request: EdgeRequest, signed: SignedRequest | None = None) -> EdgeResponse:
        found = self.find(url_id)
        if found is None:  # AWS answers an unknown URL as one the caller may not invoke
            return _message(403, None, "AccessDeniedException")
        lab, config = found
        caller = None
        if config.auth_type == "AWS_IAM":
            keys = None if self.verifier is None else self.verifier.keys
            key = None if signed is None else signer_of(signed, "lambda", keys)
            caller = None if key is None else iam_caller(lab, config, key, request.source_ip)
            if caller is None:
                return _message(403, "Forbidden", "AccessDeniedException")
        event = request_event(request, config, lab.arns.region, lab.clock.now(), caller)
        qualifier = None if config.qualifier == limits.LATEST else config.qualifier
        try:
            result = lab.invoke(config.function_name, event, qualifier=qualifier,
                                     trace_header=event["headers"]["x-amzn-trace-id"])
        except TooManyRequestsException:
            return _message(429, "Rate Exceeded.")
        except LambdaError:
            return internal_error(str(uuid.uuid4()))
        return http_response(result)
