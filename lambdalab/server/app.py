"""The edge: one ASGI app, one port, every emulated service.

A request finds its service the way AWS clients address one
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html):

1. ``GET /_lambdalab/health`` is the edge's own, and so is ``/_lambdalab/cli/``, what
   the ``lambdalab`` command reads through a server beyond the Lambda API;
2. the service name in the SigV4 credential scope of the ``Authorization`` header
   (``Credential=AKID/20240501/us-east-1/lambda/aws4_request``), which every SDK sends;
3. for unsigned requests: the ``X-Amz-Target`` prefix (JSON protocols), then the path
   prefix, where a service claims one.

Lambda is built in; plugins add services through the ``lambdalab_http_services`` hook.
Blocking work (every Lab call) runs in a thread pool, so a slow invoke never holds up
another request; a synchronous Invoke is awaited on the event loop instead (a warm
environment's answer is a readable pipe), which saves the request two thread wake-ups.
"""

from __future__ import annotations

import functools
import logging
import re
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Mapping

import anyio
import anyio.to_thread
from starlette.datastructures import Headers, QueryParams

from .. import limits
from ..errors import (
    InvalidParameterValueException,
    LambdaError,
    RequestEntityTooLargeException,
    RequestTooLargeException,
    ResourceNotFoundException,
    ServiceException,
    UnknownOperationException,
)
from ..lab import Lab
from .auth import SignedRequest, SigV4Verifier, scope_service
from .http_service import ASGIApp, HttpService, Message, Receive, Scope, Send
from .lambda_responses import LambdaResponses, check_request
from .lambda_urls import PATH_PREFIXES, Route, Router
from .wire import WireRequest, WireResponse, error_response, send

HEALTH_PATH = "/_lambdalab/health"
#: The CLI's own reads (:meth:`Edge.for_cli`); not part of any AWS API.
CLI_PATH = "/_lambdalab/cli/"
_SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")
#: Threads serving blocking Lab calls at once, beyond the account's concurrency: enough
#: that requests meet Lambda's throttling, never a queue in front of a thread.
SPARE_WORKER_THREADS = 64
#: Digits of the largest length a request can declare (2**64 has 20).
_LENGTH_DIGITS_MAX = 20

log = logging.getLogger("lambdalab.server")


# -- the Lambda service ---------------------------------------------------------------


def body_limit(route: Route) -> tuple[int, type[LambdaError]]:
    """How large a request body may be, and what AWS answers when it is larger."""
    if route.operation == "Invoke":
        return limits.SYNC_PAYLOAD_MAX_BYTES, RequestTooLargeException
    if route.operation in ("CreateFunction", "UpdateFunctionCode", "PublishLayerVersion"):
        return limits.CODE_REQUEST_MAX_BYTES, RequestEntityTooLargeException
    return limits.CONTROL_REQUEST_MAX_BYTES, RequestEntityTooLargeException


class RequestBodyTooLarge(Exception):
    """The request body passed the limit it was read with."""


class IncompleteRequestBody(Exception):
    """The request ended (the client went away) before the bytes its ``Content-Length``
    declared had all arrived. Nothing is run or stored for it; the edge answers nothing,
    since nobody is there to read an answer (S3 tries its ``IncompleteBody``)."""


async def receive_body(receive: Receive, headers: Mapping[str, str], limit: int) -> bytes:
    """The whole request body, as every service of the edge reads it.

    :raises RequestBodyTooLarge: as soon as the body (or its ``Content-Length``) passes
        ``limit``, before the rest is read.
    :raises IncompleteRequestBody: when the client went away (``http.disconnect``) before
        the body ended, or it ended short of its ``Content-Length``: a request is never
        executed or stored with part of its body.
    """
    expected = declared_length(headers)
    if expected is not None and expected > limit:
        raise RequestBodyTooLarge
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise IncompleteRequestBody
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise RequestBodyTooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    if expected is not None and size != expected:
        raise IncompleteRequestBody
    return b"".join(chunks)


def declared_length(headers: Mapping[str, str]) -> int | None:
    """The ``Content-Length`` as a number (None if absent or not digits). One of more
    digits than any real length has is not converted (``int()`` refuses over 4,300)."""
    declared = headers.get("content-length", "")
    if not declared.isdigit():
        return None
    digits = declared.lstrip("0") or "0"
    return int(digits) if len(digits) <= _LENGTH_DIGITS_MAX else 10**_LENGTH_DIGITS_MAX


async def read_body(receive: Receive, headers: Headers, limit: int, operation: str,
                    error: type[LambdaError]) -> bytes:
    """The whole request body (see :func:`receive_body`), refused with ``error`` as soon
    as it passes ``limit``."""
    try:
        return await receive_body(receive, headers, limit)
    except RequestBodyTooLarge:
        raise error(
            f"Request must be smaller than {limit} bytes for the {operation} operation"
        ) from None


class LambdaService:
    """The Lambda REST API as an ASGI app: route, read the body, call the Lab in a thread."""

    def __init__(self, lab: Lab, limiter: anyio.CapacityLimiter | None = None) -> None:
        from .function_url_service import FunctionUrlService  # it imports read_body from here

        self.responses = LambdaResponses(lab)
        self.router = Router()
        self.limiter = limiter
        self.run_blocking = functools.partial(anyio.to_thread.run_sync, limiter=limiter)
        self.function_urls = FunctionUrlService(lab, limiter)

    async def __call__(self, scope: Scope, receive: Receive, send_: Send) -> None:
        if _is_function_url(scope["path"]):
            await self.function_urls(scope, receive, send_)
            return
        try:
            route, params = self.router.match(scope["method"], scope["path"], scope["query_string"])
            headers = Headers(scope=scope)
            limit, error = body_limit(route)
            body = await read_body(receive, headers, limit, route.operation, error)
            request = WireRequest(
                method=scope["method"],
                path=scope["path"],
                params=params,
                query=QueryParams(scope["query_string"]),
                headers=headers,
                body=body,
            )
            if _awaited(route, request):  # on the loop: no thread hop
                check_request(route.operation, request)  # Invoke's few members: cheap
                response = await answer_async(self.responses.invoke_on_loop, request, self.run_blocking)
            else:
                handler = self.responses.handler_for(route.operation, route.handler)
                response = await self.run_blocking(answer, checked(route.operation, handler), request)
        except LambdaError as e:
            response = error_response(e)
        await send(response, send_)


def _awaited(route: Route, request: WireRequest) -> bool:
    """A synchronous Invoke waits for its handler, so it is awaited on the event loop.
    ``Event`` (a commit to the queue) and ``DryRun`` run in a thread like any other
    operation: their work blocks, and there is nothing to await."""
    invocation_type = request.headers.get("x-amz-invocation-type", "RequestResponse")
    return route.operation == "Invoke" and invocation_type == "RequestResponse"


def _is_function_url(path: str) -> bool:
    """Function URLs are public (AuthType NONE): served without a signature check."""
    return path.startswith(limits.FUNCTION_URL_PATH_PREFIX)


def checked(
    operation: str, handler: Callable[[WireRequest], WireResponse]
) -> Callable[[WireRequest], WireResponse]:
    """``handler``, after the request is checked against the operation's input shape
    (:func:`~lambdalab.server.lambda_responses.check_request`); in the worker thread, as
    reading a large body is work."""

    def run(request: WireRequest) -> WireResponse:
        check_request(operation, request)
        return handler(request)

    return run


def answer(handler: Callable[[WireRequest], WireResponse], request: WireRequest) -> WireResponse:
    """Run one operation; any error becomes AWS's error response, never a traceback."""
    try:
        return handler(request)
    except LambdaError as e:
        return error_response(e)
    except Exception as e:
        return internal_error(request, e)


async def answer_async(
    handler: Callable[..., Awaitable[WireResponse]], request: WireRequest, *args: Any
) -> WireResponse:
    """:func:`answer` for an operation that is awaited."""
    try:
        return await handler(request, *args)
    except LambdaError as e:
        return error_response(e)
    except Exception as e:
        return internal_error(request, e)


def internal_error(request: WireRequest, e: Exception) -> WireResponse:
    """A bug in lambdalab: say so in AWS's shape, and log the details."""
    log.exception("%s %s failed", request.method, request.path)
    return error_response(
        ServiceException(
            f"lambdalab failed internally ({type(e).__name__}: {e}). This is a bug; "
            "the server log has the traceback."
        )
    )


# -- the edge -------------------------------------------------------------------------


@dataclass
class Edge:
    """The ASGI app ``lambdalab serve`` runs: health, auth, and dispatch to a service."""

    lab: Lab
    services: dict[str, HttpService] = field(default_factory=dict)
    verifier: SigV4Verifier | None = None

    async def __call__(self, scope: Scope, receive: Receive, send_: Send) -> None:
        if scope["type"] != "http":
            return  # lifespan and websockets: nothing to do
        try:
            if scope["path"] == HEALTH_PATH:
                await send(self.health(), send_)
                return
            if scope["path"].startswith(limits.CODE_PATH):
                await send(self.code(scope["method"], scope["path"]), send_)
                return
            if scope["path"].startswith(CLI_PATH):
                await send(await self.for_cli(scope), send_)
                return
            headers = Headers(scope=scope)
            service = self.service_for(scope["path"], headers)
            if self.verifier is not None and not _is_function_url(scope["path"]):
                receive = await self._authenticate(scope, receive, headers)
        except LambdaError as e:
            await send(error_response(e, any_protocol=True), send_)
            return
        except IncompleteRequestBody:
            return  # the client is gone: nothing to run, nobody to answer
        try:
            await service.app(scope, receive, send_)
        except IncompleteRequestBody:
            return

    def code(self, method: str, path: str) -> WireResponse:
        """A function's zip, by its SHA-256: GetFunction's ``Code.Location``. Like AWS's
        presigned URL it needs no signature; the 64 hex digits are what is secret."""
        blob = path[len(limits.CODE_PATH):]
        found = self.lab.store.blob_path(blob) if _SHA256_HEX.match(blob) else None
        if method not in ("GET", "HEAD") or found is None or not found.is_file():
            return error_response(ResourceNotFoundException(
                "No code at this address. Take Code.Location from a fresh GetFunction: "
                "it names the code the function has now."
            ))
        body = found.read_bytes()
        return WireResponse(
            200, b"" if method == "HEAD" else body,
            {"Content-Type": "application/zip"},
        )

    async def for_cli(self, scope: Scope) -> WireResponse:
        """What the ``lambdalab`` command reads through a server and the Lambda API does
        not give: ``function`` (a function's sandbox, lambdalab's own setting, the lab's
        default, and its zip's ``file://`` path, which outlives a background server's
        URL) and ``logs`` (its log events after ``AfterId``). Only on an edge
        that checks no signatures (the CLI's background server, a loopback ``serve``):
        with ``--auth-key`` a log is read through signed requests only."""
        what = scope["path"][len(CLI_PATH):]
        served = self.verifier is None and scope["method"] == "GET"
        if not served or what not in ("function", "logs"):
            return error_response(
                ResourceNotFoundException(f"No such lambdalab route: {scope['path']}")
            )
        query = QueryParams(scope["query_string"])
        try:
            return await anyio.to_thread.run_sync(functools.partial(self._cli_read, what, query))
        except LambdaError as e:
            return error_response(e)

    def _cli_read(self, what: str, query: QueryParams) -> WireResponse:
        name = query.get("FunctionName")
        if not name:
            raise InvalidParameterValueException("FunctionName is required.")
        if what == "function":
            config = self.lab.get_function_configuration(name, query.get("Qualifier"))
            return WireResponse.of_json(200, {
                "Sandbox": config.sandbox, "DefaultSandbox": self.lab.default_sandbox,
                "CodeFile": self.lab.store.blob_path(config.code_blob).as_uri(),
            })
        after = query.get("AfterId") or "0"
        if not (after.isascii() and after.isdigit()) or len(after) > _LENGTH_DIGITS_MAX:
            raise InvalidParameterValueException(f"AfterId: {after!r} is not a whole number.")
        events = self.lab.get_logs(name, after_id=int(after))
        return WireResponse.of_json(200, {"Events": [
            {"Id": e.id, "Timestamp": e.timestamp, "Message": e.message} for e in events
        ]})

    def health(self) -> WireResponse:
        return WireResponse.of_json(
            200,
            {
                "status": "ok",
                "services": sorted(self.services),
                "data_dir": str(self.lab.store.data_dir),
                "auth": self.verifier is not None,
            },
        )

    def service_for(self, path: str, headers: Headers) -> HttpService:
        """The service a request addresses: by signature scope, X-Amz-Target, or path."""
        name = scope_service(headers.get("authorization"))
        if name is not None:
            if name in self.services:
                return self.services[name]
            raise UnknownOperationException(
                f"This lambdalab edge serves no service named {name!r} (it serves "
                f"{', '.join(sorted(self.services))}). Install a plugin that provides it."
            )
        target = headers.get("x-amz-target", "")
        for service in self.services.values():
            if target and target.startswith(service.target_prefixes or ("\0",)):
                return service
        for service in self.services.values():
            if service.path_prefixes and path.startswith(service.path_prefixes):
                return service
        raise UnknownOperationException(
            f"No service of this lambdalab edge answers {path}. Sign the request (any AWS "
            "SDK does) or use a path of a served service, e.g. /2015-03-31/functions."
        )

    async def _authenticate(self, scope: Scope, receive: Receive, headers: Headers) -> Receive:
        """Check the signature over the whole body, then replay the body to the service."""
        assert self.verifier is not None
        body = await read_body(
            receive, headers, limits.CODE_REQUEST_MAX_BYTES, "this",
            RequestEntityTooLargeException,
        )
        self.verifier.verify(
            SignedRequest(
                method=scope["method"],
                raw_path=scope.get("raw_path", scope["path"].encode()).decode("latin-1"),
                query_string=scope["query_string"].decode("latin-1"),
                headers=headers,
                body=body,
            )
        )
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        return replay


def create_app(
    lab: Lab,
    *,
    auth_keys: dict[str, str] | None = None,
    extra_services: list[HttpService] | None = None,
) -> Edge:
    """The edge's ASGI app over ``lab``: Lambda, plus every service plugins add.

    :param auth_keys: access key id → secret; when given, every request must carry a
        valid SigV4 signature made with one of them.
    :param extra_services: services to serve besides the plugins' (tests use this).
    """
    limiter = anyio.CapacityLimiter(lab.pool.account_limit + SPARE_WORKER_THREADS)
    services = {
        "lambda": HttpService(
            "lambda",
            LambdaService(lab, limiter),
            path_prefixes=PATH_PREFIXES + (limits.FUNCTION_URL_PATH_PREFIX,),
        )
    }
    offered = lab.plugin_manager.hook.lambdalab_http_services(lab=lab)
    for service in [s for group in offered for s in group] + list(extra_services or ()):
        if service.name in services:
            raise ValueError(
                f"Two HTTP services are named {service.name!r}; a plugin must pick a service "
                "name no other plugin (nor lambdalab's Lambda API) serves."
            )
        services[service.name] = service
    verifier = SigV4Verifier(auth_keys) if auth_keys else None
    return Edge(lab, services, verifier)

