"""A service on the edge from plain operations: parse, validate, call, serialize.

A plugin names a botocore service and gives an object with one method per operation,
named in snake_case (``put_rule`` for ``PutRule``). Each method takes the operation's
input (as keyword arguments in the model's member names, or as one dict when its only
parameter is not a member name) and returns the output as a dict; it raises
:class:`~lambdalab.errors.AwsError` subclasses (or
:class:`~lambdalab.protocol.serializers.ServiceError`) for AWS
errors, which the service's serializer writes in its protocol. :class:`ProtocolService` is the ASGI app that does the rest in the service's
own protocol::

    class Greetings:
        def get_caller_identity(self):
            return {"Account": "000000000000", "Arn": "arn:aws:iam::000000000000:root",
                    "UserId": "000000000000"}

    service = ProtocolService("sts", Greetings())
    HttpService("sts", service)        # from lambdalab_http_services

An operation of the model the object does not have answers ``NotImplemented`` (501)
naming it; a request for no operation of the model answers the protocol's unknown
operation error (``UnknownOperationException`` in JSON, ``InvalidAction`` in query).
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
import weakref
from dataclasses import dataclass
from typing import Any, Callable

import anyio.to_thread
from botocore.model import OperationModel, ServiceModel

from .. import limits
from ..errors import AwsError
from .authorize import authorize
from .calls import Caller, caller_of
from .parsers import HttpRequest, ParsedRequest, ProtocolError, parser_for
from .serializers import HttpResponse, ServiceError, serializer_for
from .validate import message, service_model, type_errors, validate

log = logging.getLogger("lambdalab.protocol")

#: Where a request's X-Ray header (``X-Amzn-Trace-Id``) rides in its operation's input,
#: for a service that passes traces on (:attr:`ProtocolService.takes_trace_header`): the
#: header is no member of any operation in botocore's models, so it is added once the
#: input is checked.
TRACE_HEADER = "X-Amzn-Trace-Id"


@dataclass(frozen=True)
class ErrorCodes:
    """The error codes a service answers for what the layer itself refuses.

    AWS's services differ here: EventBridge answers a malformed member
    ``SerializationException`` and a constraint ``ValidationException``; query services
    answer ``ValidationError`` and ``InvalidAction``
    (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/CommonErrors.html).
    """

    validation: str = "ValidationException"
    serialization: str = "SerializationException"
    unknown_operation: str = "UnknownOperationException"
    internal: str = "InternalFailure"
    not_implemented: str = "NotImplemented"

    @classmethod
    def for_protocol(cls, protocol: str) -> "ErrorCodes":
        if protocol == "query":
            return cls("ValidationError", "MalformedQueryString", "InvalidAction")
        if protocol == "rest-xml":
            return cls("InvalidArgument", "MalformedXML", "MethodNotAllowed", "InternalError")
        return cls()


@functools.lru_cache(maxsize=None)
def snake_case(operation: str) -> str:
    """``PutRule`` → ``put_rule``; ``ListQueueTags`` → ``list_queue_tags``."""
    out = ""
    for i, c in enumerate(operation):
        before = operation[i - 1] if i else ""
        after = operation[i + 1] if i + 1 < len(operation) else ""
        if c.isupper() and i and (not before.isupper() or (after and after.islower())):
            out += "_"
        out += c.lower()
    return out


def service_error(error: Exception) -> ServiceError:
    """A lambdalab error (any service's :class:`~lambdalab.errors.AwsError`) as the
    layer answers it."""
    if isinstance(error, ServiceError):
        return error
    assert isinstance(error, AwsError)
    return ServiceError(error.code, error.message, error.status_code, dict(error.fields),
                        sender_fault=error.sender_fault)


class ProtocolService:
    """An ASGI app serving ``service`` (botocore's name, ``"events"``, or a model) with
    ``operations``.

    :param protocol: the protocol to speak when it is not the model's (a service that
        also takes an older protocol wraps two, chosen by the request).
    :param errors: the service's codes for what the layer refuses (default: the
        protocol's usual ones).
    :param body_max: the largest request body read.
    """

    #: Whether each operation gets the request's ``X-Amzn-Trace-Id`` as
    #: ``params[TRACE_HEADER]`` (when it sent one): a service that carries a trace on to
    #: what it triggers sets it (SQS to a message, S3 to a notification,
    #: https://docs.aws.amazon.com/xray/latest/devguide/xray-services-s3.html).
    takes_trace_header = False

    def __init__(self, service: str | ServiceModel, operations: object, *, protocol: str | None = None,
                 errors: ErrorCodes | None = None, body_max: int = limits.CONTROL_REQUEST_MAX_BYTES) -> None:
        self.model: ServiceModel = service_model(service) if isinstance(service, str) else service
        self.protocol = protocol or self.model.protocol
        self.operations = operations
        self.errors = errors or ErrorCodes.for_protocol(self.protocol)
        self.body_max = body_max
        self.parser = parser_for(self.model, self.protocol)
        self.serializer = serializer_for(self.model, self.protocol)
        #: Each operation's method, found once.
        self._methods: dict[str, Callable[[dict[str, Any]], dict[str, Any] | None]] = {}

    # -- the plain (synchronous) part: one request in, one response out --------------

    def handle(self, request: HttpRequest, request_id: str, caller: Caller | None = None) -> HttpResponse:
        """Answer one request; every failure is an answer in the service's shape. A
        ``caller`` is told of every call whose operation could be read."""
        parsed: ParsedRequest | None = None
        output: dict[str, Any] | None = None
        error: ServiceError | None = None
        try:
            parsed = self._read(request)
            method = self._method(parsed.operation)  # NotImplemented before validating
            self._check(parsed)
            authorize(caller, self.model, self.protocol, parsed)
            output = method(self._input(parsed, request)) or {}
            return self.serializer.output(parsed.operation, output, request_id)
        except (ServiceError, AwsError) as e:
            error = service_error(e)
            return self.serializer.error(error, request_id)
        except Exception as e:  # a bug in lambdalab: say so in the service's shape, log it
            log.exception("%s failed", self.model.service_id)
            error = self.internal_error(e)
            return self.serializer.error(error, request_id)
        finally:
            self.report(caller, parsed, output, error, request_id)

    def report(self, caller: Caller | None, parsed: ParsedRequest | None, output: dict[str, Any] | None,
               error: ServiceError | None, request_id: str) -> None:
        """Tell ``caller``'s lab of a call whose operation could be read (the
        ``lambdalab_api_call`` hook); a service that answers outside :meth:`handle`
        calls it too."""
        if caller is not None and parsed is not None:
            caller.report(parsed.operation.name, parsed.params, None if error else output,
                          (error.code, error.message) if error else None, request_id)

    def _input(self, parsed: ParsedRequest, request: HttpRequest) -> dict[str, Any]:
        """The operation's input, with the request's trace header where the service takes it."""
        trace = request.header("x-amzn-trace-id") if self.takes_trace_header else None
        return {**parsed.params, TRACE_HEADER: trace} if trace else parsed.params

    def internal_error(self, error: Exception) -> ServiceError:
        return ServiceError(self.errors.internal, f"lambdalab failed internally "
                            f"({type(error).__name__}: {error}). This is a bug; the server log "
                            "has the traceback.", 500, sender_fault=False)

    def body_error(self, error: Exception) -> ServiceError | AwsError:
        """The answer to a body that is too large (``RequestBodyTooLarge``) or never
        arrived whole (``IncompleteRequestBody``: seldom read, the client has gone)."""
        from ..server.bodies import RequestBodyTooLarge

        if isinstance(error, RequestBodyTooLarge):
            return ServiceError(self.errors.validation, (
                f"The request body is larger than {self.body_max} bytes; send a smaller one."))
        return ServiceError(self.errors.serialization, "The request body ended before its "
                            "Content-Length; nothing was done.")

    def new_request_id(self) -> str:
        from ..invocation.invoker import new_request_id

        return new_request_id()

    def _read(self, request: HttpRequest) -> ParsedRequest:
        """The operation and its input; the protocol's error when it cannot be read."""
        try:
            return self.parser.parse(request)
        except ProtocolError as e:
            raise self.refused(e) from None

    def refused(self, error: ProtocolError) -> ServiceError | AwsError:
        """What the service answers a request the parser cannot read."""
        code = getattr(self.errors, error.kind)
        status = 404 if error.kind == "unknown_operation" and self.protocol.startswith("rest") else 400
        return ServiceError(code, error.message, status)

    def _check(self, parsed: ParsedRequest) -> None:
        """Refuse an input that breaks its shape, in AWS's words."""
        violations = validate(self.model.service_name, parsed.operation.name, parsed.params)
        if type_errors(violations):
            raise ServiceError(self.errors.serialization, message(type_errors(violations)))
        if violations:
            raise ServiceError(self.errors.validation, message(violations))

    def _method(self, operation: OperationModel) -> Callable[[dict[str, Any]], dict[str, Any] | None]:
        known = self._methods.get(operation.name)
        if known is None:
            known = self._methods[operation.name] = self._find_method(operation)
        return known

    def _find_method(self, operation: OperationModel) -> Callable[[dict[str, Any]], dict[str, Any] | None]:
        found = getattr(self.operations, snake_case(operation.name), None)
        if found is None:
            raise ServiceError(self.errors.not_implemented, (
                f"lambdalab's {self.model.service_id} does not implement {operation.name} "
                f"(yet). It serves: {', '.join(self.served()) or 'nothing'}."), 501)
        return _caller(found, operation)

    def served(self) -> list[str]:
        return [n for n in self.model.operation_names if hasattr(self.operations, snake_case(n))]

    def for_request(self, headers: Any) -> "ProtocolService":
        """The service that answers a request with these headers: this one, unless a
        service that speaks two protocols picks the other (SQS: JSON or query)."""
        return self

    # -- ASGI ----------------------------------------------------------------------------

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        from ..server.bodies import IncompleteRequestBody, RequestBodyTooLarge, receive_body
        from starlette.datastructures import Headers

        headers = Headers(scope=scope)
        service = self.for_request(headers)
        request_id = service.new_request_id()
        try:
            body = await receive_body(receive, headers, service.body_max)
        except (RequestBodyTooLarge, IncompleteRequestBody) as e:
            response = service.serializer.error(service_error(service.body_error(e)), request_id)
        else:
            raw_path = scope.get("raw_path") or scope["path"].encode()
            request = HttpRequest(scope["method"], raw_path.decode("latin-1"),
                                  scope.get("query_string", b"").decode("latin-1"),
                                  dict(headers.items()), body)
            caller = caller_of(scope, request.headers, service.model.endpoint_prefix, request.query)
            response = await anyio.to_thread.run_sync(service.handle, request, request_id, caller)
        await send_response(response, scope["method"], send, receive)


#: A key of an ASGI ``http.response.start`` message: its whole body follows in the next
#: message, at once. lambdalab's server then sends the head with the body (one send, one
#: wake-up of the client); any other ASGI server ignores it.
BODY_FOLLOWS = "lambdalab.body_follows"
#: The piece of a streaming body read and sent at a time.
STREAM_CHUNK_BYTES = 1024 * 1024


async def send_response(response: HttpResponse, method: str, send: Any, receive: Any = None) -> None:
    """``response`` as ASGI messages. A HEAD (or 304) answer has no body; its
    Content-Length is the one the output put in its headers (HeadObject's object
    size), else 0. A
    streaming body goes in pieces, each read in a worker thread, and is closed; given
    ``receive``, one whose ``ends_on_disconnect`` is true is closed as soon as the client
    goes away (an event stream waiting for its next event would otherwise wait on for
    nobody)."""
    headers = dict(response.headers)
    bodiless = method == "HEAD" or response.status == 304  # RFC 9110 §6.4.1
    streaming = response.stream is not None and not bodiless
    if bodiless:
        body = b""
        headers.setdefault("Content-Length", "0")
    elif not streaming:
        body = response.body
        headers["Content-Length"] = str(len(body))
    try:
        await send({"type": "http.response.start", "status": response.status, "headers": [
            (k.lower().encode(), v.encode("latin-1", "replace")) for k, v in headers.items()],
            BODY_FOLLOWS: not streaming})
        if streaming and receive is not None and getattr(response.stream, "ends_on_disconnect", False):
            await _send_stream_watched(response.stream, send, receive)
        elif streaming:
            await _send_stream(response.stream, send)
        else:
            await send({"type": "http.response.body", "body": body})
    finally:
        if response.stream is not None:
            response.stream.close()


async def _send_stream(stream: Any, send: Any, limiter: anyio.CapacityLimiter | None = None) -> None:
    while True:
        chunk = await anyio.to_thread.run_sync(stream.read, STREAM_CHUNK_BYTES, limiter=limiter)
        await send({"type": "http.response.body", "body": chunk, "more_body": bool(chunk)})
        if not chunk:
            return


#: The streams each server's event loop is sending that end on disconnect: its shutdown
#: closes them (:func:`close_streams`).
_OPEN_STREAMS: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, set[Any]]" = weakref.WeakKeyDictionary()


def close_streams() -> None:
    """Close every stream the running event loop sends that ends on disconnect: a server
    shutting down would otherwise wait for an event stream that waits for its events."""
    for stream in list(_OPEN_STREAMS.get(asyncio.get_running_loop(), ())):
        stream.close()


async def _send_stream_watched(stream: Any, send: Any, receive: Any) -> None:
    """:func:`_send_stream`, closing ``stream`` when the client disconnects (the body
    was read whole before, so the next ASGI message is the disconnect). Its reads, which
    wait for events, take a thread of their own rather than one of the worker threads
    every request shares: 40 open subscriptions would otherwise stop the edge."""

    async def watch() -> None:
        while (await receive())["type"] != "http.disconnect":
            pass
        stream.close()

    open_here = _OPEN_STREAMS.setdefault(asyncio.get_running_loop(), set())
    open_here.add(stream)
    try:
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(watch)
            await _send_stream(stream, send, anyio.CapacityLimiter(1))
            tasks.cancel_scope.cancel()
    finally:
        open_here.discard(stream)


def _caller(method: Callable[..., Any], operation: OperationModel) -> Callable[[dict[str, Any]], Any]:
    """``method`` called with the params as one dict, or as keyword arguments."""
    return functools.partial(_call, method, _takes_dict(method, operation))


def _call(method: Callable[..., Any], as_dict: bool, params: dict[str, Any]) -> Any:
    return method(params) if as_dict else method(**params)


@functools.lru_cache(maxsize=None)
def _takes_dict_cached(function: Any, members: frozenset[str]) -> bool:
    parameters = [p for p in inspect.signature(function).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return len(parameters) == 1 and parameters[0].name not in members


def _takes_dict(method: Callable[..., Any], operation: OperationModel) -> bool:
    members = frozenset(operation.input_shape.members) if operation.input_shape else frozenset()
    return _takes_dict_cached(method, members)


__all__ = ["BODY_FOLLOWS", "TRACE_HEADER", "ErrorCodes", "ProtocolService", "close_streams", "send_response", "service_error",
           "snake_case"]
