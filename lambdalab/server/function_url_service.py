"""Function URLs on the edge: ``/_lambdalab/url/<url-id>/<path>`` invokes the function.

The request becomes the payload format 2.0 event, the function runs synchronously
through the one invoke path (:meth:`lambdalab.Lab.invoke`), and its answer becomes the
HTTP response (https://docs.aws.amazon.com/lambda/latest/dg/urls-invocation.html). The
mapping itself lives in :mod:`lambdalab.function_urls`; this module only speaks ASGI.
"""

from __future__ import annotations

import json
from typing import Any

import anyio
import anyio.to_thread
from starlette.datastructures import Headers

from .. import limits
from ..errors import LambdaError, RequestTooLargeException, TooManyRequestsException
from ..function_urls import INTERNAL_ERROR, HttpRequest, HttpResponse, http_response, request_event
from ..lab import Lab
from .app import read_body


def _message(status: int, message: str) -> HttpResponse:
    return HttpResponse(
        status, [("Content-Type", "application/json")], json.dumps({"Message": message}).encode()
    )


class FunctionUrlService:
    """The ASGI app serving every function URL of a lab."""

    def __init__(self, lab: Lab, limiter: anyio.CapacityLimiter | None = None) -> None:
        self.lab = lab
        self.limiter = limiter

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
            request = HttpRequest(
                method=scope["method"],
                path="/" + rest,
                query_string=scope["query_string"].decode("latin-1"),
                headers=[(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]],
                body=body,
                source_ip=client[0],
                protocol=f"HTTP/{scope.get('http_version', '1.1')}",
            )
            response = await anyio.to_thread.run_sync(
                self.answer, url_id, request, limiter=self.limiter
            )
        headers = [(k.lower().encode(), v.encode("latin-1")) for k, v in response.headers]
        headers.append((b"content-length", str(len(response.body)).encode()))
        await send({"type": "http.response.start", "status": response.status, "headers": headers})
        await send({"type": "http.response.body", "body": response.body})

    def answer(self, url_id: str, request: HttpRequest) -> HttpResponse:
        config = self.lab.function_urls.by_url_id(url_id)
        if config is None:
            return _message(404, "Not Found")
        event = request_event(request, config, self.lab.arns.region, self.lab.clock.now())
        qualifier = None if config.qualifier == limits.LATEST else config.qualifier
        try:
            result = self.lab.invoke(config.function_name, event, qualifier=qualifier)
        except TooManyRequestsException:
            return _message(429, "Rate Exceeded.")
        except LambdaError:
            return INTERNAL_ERROR
        return http_response(result)
