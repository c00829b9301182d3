"""Lambda's REST API on the edge, served by the protocol layer from botocore's ``lambda`` model.

The layer (:mod:`lambdalab.protocol`) routes a request by method and ``requestUri``,
reads its members from the path, query string, headers and JSON body, checks them against
the input shape, and writes the output and every error in REST-JSON; the operations are
:class:`~lambdalab.server.lambda_operations.LambdaOperations`' plain methods. What is
Lambda's own here:

- the body limit of each operation, checked before the body is read (Invoke's 6 MB
  payload, a zip's 69,905,067 bytes, 1 MB for the rest), with Lambda's errors for it;
- Lambda's words for a bad input: ``InvalidRequestContentException`` (``Could not parse
  request body into json: …``) for a body that is not JSON or a member of the wrong JSON
  type, ``InvalidParameterValueException`` for ``Runtime`` off its enum, and
  ``ValidationException`` for the rest;
- Lambda's error body, ``{"Type": "User", "message": …}``;
- a synchronous Invoke is awaited on the event loop (a warm environment's answer is a
  readable pipe), which saves the request two thread wake-ups; its payload goes in and
  out as the bytes sent, never decoded or re-encoded as JSON here; the same request
  again (a warm function's next invoke: same path, query string and ``X-Amz-*``
  headers) skips routing, reading and checking, whose outcome it remembers
  (:class:`KnownInvokes`), and its answer is written without walking the output shape;
- a function ARN of another region than the lab's is not found (:func:`refuse_foreign_arn`):
  the edge hands each request to the lab of the region it is signed for
  (:mod:`lambdalab.regions`).

Function URLs (``/_lambdalab/url/…``) are not the Lambda API: the edge serves them
itself, through :class:`~lambdalab.server.function_url_service.FunctionUrlService`.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass, replace
from typing import Any, Mapping
from urllib.parse import parse_qs

import anyio
import anyio.to_thread
from botocore.model import OperationModel

from .. import limits
from ..errors import (
    AwsError,
    InvalidParameterValueException,
    InvalidRequestContentException,
    LambdaError,
    RequestEntityTooLargeException,
    RequestTooLargeException,
    ResourceNotFoundException,
    ServiceException,
    ValidationException,
)
from ..invocation.invoker import new_request_id
from ..lab import Lab
from ..models import InvokeResult
from ..protocol import HttpRequest, HttpResponse, ParsedRequest, ProtocolError, ServiceError
from ..protocol import message, service_model, validate
from ..protocol.authorize import authorize
from ..protocol.calls import Caller, caller_of
from ..protocol.parsers import ROUTED_PATH_MAX, RestParser, Route
from ..protocol.service import ErrorCodes, ProtocolService, send_response, snake_case
from ..protocol.serializers import located_members
from ..protocol.validate import Violation, free_blobs
from .bodies import read_body
from .lambda_operations import TRACE_HEADER, Answered, LambdaOperations, invoke_options

log = logging.getLogger("lambdalab.server")

#: What Lambda answers for what the layer refuses.
ERRORS = ErrorCodes(validation="ValidationException",
                    serialization="InvalidRequestContentException",
                    unknown_operation="UnknownOperationException", internal="ServiceException")
#: The operations whose body may be a deployment package.
_CODE_OPERATIONS = ("CreateFunction", "UpdateFunctionCode", "PublishLayerVersion")
JSON = "application/json"


def body_limit(operation: str) -> tuple[int, type[LambdaError]]:
    """How large a request body may be, and what AWS answers when it is larger."""
    if operation == "Invoke":
        return limits.SYNC_PAYLOAD_MAX_BYTES, RequestTooLargeException
    if operation in _CODE_OPERATIONS:
        return limits.CODE_REQUEST_MAX_BYTES, RequestEntityTooLargeException
    return limits.CONTROL_REQUEST_MAX_BYTES, RequestEntityTooLargeException


def lambda_error(error: LambdaError | ServiceError) -> ServiceError:
    """An error as Lambda's body has it: ``Type`` (``User`` or ``Service``), the message
    under the error shape's name for it, and the error's own fields."""
    if isinstance(error, LambdaError):
        return ServiceError(error.code, error.message, error.status_code, error.to_wire(),
                            sender_fault=error.status_code < 500)
    if "Type" in error.fields:
        return error
    kind = "User" if error.sender_fault else "Service"
    return replace(error, fields={"Type": kind, "message": error.message, **error.fields})


def served_operations() -> list[str]:
    """The operations of botocore's ``lambda`` model that lambdalab serves."""
    names = service_model("lambda").operation_names
    return [n for n in names if hasattr(LambdaOperations, snake_case(n))]


def path_prefixes() -> tuple[str, ...]:
    """Path prefixes that identify an unsigned request as Lambda's: the first segment of
    every served operation's ``requestUri`` (``/2015-03-31/``; AWS added operations over
    years, each under its date)."""
    model = service_model("lambda")
    uris = [model.operation_model(n).http["requestUri"] for n in served_operations()]
    return tuple(sorted({"/" + uri.split("/")[1] + "/" for uri in uris}))


def is_function_url(path: str) -> bool:
    """Function URLs are public (AuthType NONE): served without a signature check."""
    return path.startswith(limits.FUNCTION_URL_PATH_PREFIX)


#: What a synchronous Invoke's routing, reading and checks depend on besides its body:
#: the path, the query string and the values of Invoke's header members.
InvokeKey = tuple[bytes, bytes, tuple[str | None, ...]]
#: Invokes remembered at most (hostile paths make new ones; past this many, all are
#: forgotten), and the longest query string or header value of one remembered.
KNOWN_INVOKES_MAX = 1024
KEY_TEXT_MAX = 256


@dataclass(frozen=True)
class KnownInvoke:
    """A synchronous Invoke's input that passed its checks, as :meth:`Lab.invoke_async`
    takes it: all but the payload and the trace header, which are each request's own."""

    function_name: str
    options: dict[str, Any]

    def options_for(self, headers: Mapping[str, str]) -> dict[str, Any]:
        """The options with the request's ``X-Amzn-Trace-Id`` (:func:`with_trace`)."""
        trace = headers.get("x-amzn-trace-id")
        return {**self.options, "trace_header": trace} if trace else self.options


class KnownInvokes:
    """Synchronous Invokes whose input passed routing, reading and checks, by
    :data:`InvokeKey`: the same request again (a warm function's next invoke) skips
    them. The payload is the one part left out: the layer reads it as the bytes sent
    and no constraint reads it (a blob without bounds), so it never changes the outcome.
    Only a POST remembered after its checks passed is found; any other request takes
    the layer's whole path."""

    def __init__(self, parser: RestParser, invoke: OperationModel) -> None:
        shape = invoke.input_shape
        located = parser.located(invoke.name, shape) if shape is not None else None
        self._headers = tuple(located.headers) if located is not None else ()
        #: Only while no header changes a route and no constraint reads the payload
        #: (botocore's model today): else the key would not decide the outcome.
        self._enabled = not parser.routes_by_header() and "Payload" in free_blobs("lambda", invoke.name)
        self._known: dict[InvokeKey, KnownInvoke] = {}
        out = located_members(invoke.output_shape) if invoke.output_shape is not None else {}
        #: The wire names of the output's header members, as InvokeResult's fields.
        self._answer_headers = tuple((field, out[member][1]) for field, member in (
            ("function_error", "FunctionError"), ("log_result", "LogResult"),
            ("executed_version", "ExecutedVersion")))

    def answer(self, result: InvokeResult) -> HttpResponse:
        """Invoke's answer, as the REST-JSON serializer writes ``invoke_output(result)``
        and :meth:`LambdaService._output` types it (tests compare the two), without
        walking the output shape for every invoke."""
        headers = {"x-amzn-RequestId": result.request_id}
        for field, wire in self._answer_headers:
            value = getattr(result, field)
            if value is not None:
                headers[wire] = str(value)
        if result.payload:
            headers["Content-Type"] = JSON
        return HttpResponse(result.status_code, headers, result.payload or b"")

    def key(self, method: str, raw_path: bytes, query_string: bytes,
            headers: Mapping[str, str]) -> InvokeKey | None:
        if method != "POST" or not self._enabled or len(raw_path) > ROUTED_PATH_MAX:
            return None
        if headers.get("x-amz-invocation-type", "RequestResponse") != "RequestResponse":
            return None  # Event and DryRun run in a thread (see :func:`_awaited`)
        values = tuple([headers.get(h) for h in self._headers])
        if len(query_string) > KEY_TEXT_MAX:
            return None
        for value in values:
            if value is not None and len(value) > KEY_TEXT_MAX:
                return None
        return raw_path, query_string, values

    def get(self, key: InvokeKey | None) -> KnownInvoke | None:
        return self._known.get(key) if key is not None else None

    def remember(self, key: InvokeKey | None, parsed: ParsedRequest) -> None:
        if key is None or parsed.operation.name != "Invoke":
            return
        if len(self._known) >= KNOWN_INVOKES_MAX:
            self._known.clear()
        self._known[key] = KnownInvoke(parsed.params["FunctionName"], invoke_options(parsed.params))


class LambdaService(ProtocolService):
    """The Lambda REST API as an ASGI app over one :class:`~lambdalab.Lab`."""

    parser: RestParser

    def __init__(self, lab: Lab, limiter: anyio.CapacityLimiter | None = None,
                 answer_first: bool = False) -> None:
        super().__init__("lambda", LambdaOperations(lab), errors=ERRORS)
        self.lab = lab
        #: see :func:`~lambdalab.server.app.create_app`
        self.answer_first = answer_first
        self.run_blocking = functools.partial(anyio.to_thread.run_sync, limiter=limiter)
        self._invokes = KnownInvokes(self.parser, self.model.operation_model("Invoke"))

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        headers = scope.get(HEADERS_SCOPE_KEY) or lowered_headers(scope)
        raw_path = scope.get("raw_path") or scope["path"].encode()
        key = self._invokes.key(scope["method"], raw_path, scope["query_string"], headers)
        known = self._invokes.get(key)
        try:
            if known is not None and not self.lab.enforce_iam:
                limit, error = body_limit("Invoke")
                body = await read_body(receive, headers, limit, "Invoke", error)
                response = await self._run_invoke(known.function_name, body,
                                                  known.options_for(headers), send)
            else:
                response = await self._answer(scope, receive, send, headers, raw_path, key)
        except (LambdaError, ServiceError) as e:
            response = self.serializer.error(lambda_error(e), new_request_id())
        if response is not None:  # None: an invoke that answered as soon as it could
            await send_response(response, scope["method"], send)

    async def _answer(self, scope: Any, receive: Any, send: Any, headers: dict[str, str],
                      raw_path: bytes, key: InvokeKey | None) -> HttpResponse | None:
        """Any request, routed and read by the protocol layer."""
        request = HttpRequest.lowered(scope["method"], raw_path.decode("latin-1"),
                                      scope["query_string"].decode("latin-1"), headers)
        query = parse_qs(request.query, keep_blank_values=True) if request.query else {}
        route, labels = self._route(request, query)
        limit, error = body_limit(route.operation)
        body = await read_body(receive, headers, limit, route.operation, error)
        request = HttpRequest.lowered(request.method, request.path, request.query, headers, body)
        if _awaited(route, headers) and not self.lab.enforce_iam:  # authorised in a thread
            return await self.invoke_on_loop(request, route, labels, query, send, key)
        return await self.run_blocking(self.answer, request, route, labels, query, new_request_id(),
                                       caller_of(scope, headers, "lambda", request.query))

    # -- the plain part, in a worker thread --------------------------------------------

    def handle(self, request: HttpRequest, request_id: str, caller: Caller | None = None) -> HttpResponse:
        """Answer one whole request (its body read), as :meth:`__call__` does, but with
        every operation in this thread: Lambda's answer to a request out of ASGI."""
        query = parse_qs(request.query, keep_blank_values=True) if request.query else {}
        try:
            route, labels = self._route(request, query)
        except (LambdaError, ServiceError) as e:
            return self.failure(e, request_id)
        return self.answer(request, route, labels, query, request_id, caller)

    def answer(self, request: HttpRequest, route: Route, labels: Mapping[str, str],
               query: Mapping[str, list[str]], request_id: str,
               caller: Caller | None = None) -> HttpResponse:
        """Run one routed operation; every failure is an answer in Lambda's shape. A
        ``caller`` is told of the call, as :meth:`ProtocolService.handle` tells it."""
        parsed: ParsedRequest | None = None
        output: Any = None
        error: ServiceError | None = None
        try:
            parsed = self._read_routed(request, route, labels, query)
            method = self._method(parsed.operation)  # NotImplemented before validating
            self._check(parsed)
            refuse_foreign_arn(labels, self.lab.arns.region)
            authorize(caller, self.model, self.protocol, parsed)
            output = method(with_trace(parsed, request.lower_headers))
            return self._output(parsed.operation, output, request_id)
        except Exception as e:
            error = self.failed(e)
            return self.serializer.error(error, request_id)
        finally:
            self.report(caller, parsed, output if isinstance(output, dict) else None, error, request_id)

    async def invoke_on_loop(self, request: HttpRequest, route: Route, labels: Mapping[str, str],
                             query: Mapping[str, list[str]], send: Any,
                             key: InvokeKey | None = None) -> HttpResponse | None:
        """A synchronous Invoke, on the event loop: the edge awaits the handler's answer,
        which it sends itself with ``send`` where it answers first (:meth:`_run_invoke`),
        else returns. Its answer carries the invocation's request id; a refusal, one of
        its own. An input that passes its checks is remembered by ``key``
        (:class:`KnownInvokes`)."""
        try:
            parsed = self._read_routed(request, route, labels, query)
            self._check(parsed)
            refuse_foreign_arn(labels, self.lab.arns.region)
        except Exception as e:
            return self.failure(e, new_request_id())
        self._invokes.remember(key, parsed)
        params = with_trace(parsed, request.lower_headers)
        return await self._run_invoke(params["FunctionName"], params.get("Payload", b""),
                                      invoke_options(params), send)

    async def _run_invoke(self, function_name: str, payload: bytes, options: dict[str, Any],
                          send: Any) -> HttpResponse | None:
        """Run a checked synchronous Invoke (``options``: :func:`invoke_options`). Its
        answer is sent with ``send`` as soon as it is known, before the invoke is recorded
        (:meth:`Lab.invoke_async`'s ``answer``), and ``None`` returned, where the edge
        answers first (``answer_first``); otherwise, and for a Tail or a refusal, the
        answer is returned to be sent."""
        answered = False

        async def answer(result: InvokeResult) -> None:
            nonlocal answered
            answered = True
            await send_response(self._invokes.answer(result), "POST", send)

        try:
            result = await self.lab.invoke_async(function_name, payload, run_blocking=self.run_blocking,
                                                 answer=answer if self.answer_first else None,
                                                 **options)
        except Exception as e:
            if not answered:
                return self.failure(e, new_request_id())
            log.exception("an invoke failed after its caller had its answer")
            return None
        return None if answered else self._invokes.answer(result)

    def failure(self, error: Exception, request_id: str) -> HttpResponse:
        """An AWS error as Lambda answers it; any other exception is a bug, said so."""
        return self.serializer.error(self.failed(error), request_id)

    def failed(self, error: Exception) -> ServiceError:
        if not isinstance(error, (LambdaError, ServiceError)):
            log.exception("Lambda failed")
            error = self.internal_error(error)
        return lambda_error(error)

    def internal_error(self, error: Exception) -> ServiceError:
        return lambda_error(ServiceException(
            f"lambdalab failed internally ({type(error).__name__}: {error}). This is a bug; "
            "the server log has the traceback."
        ))

    def _output(self, operation: OperationModel, output: Any, request_id: str) -> HttpResponse:
        if isinstance(output, Answered):
            output, request_id = output.output, output.request_id
        response = self.serializer.output(operation, output or {}, request_id)
        if operation.name == "Invoke":  # the payload is JSON (the layer says only "a blob")
            if response.body:
                response.headers["Content-Type"] = JSON
            else:
                response.headers.pop("Content-Type", None)
        return response

    # -- reading and checking --------------------------------------------------------

    def _route(self, request: HttpRequest, query: Mapping[str, list[str]]) -> tuple[Route, dict[str, str]]:
        try:
            return self.parser.route(request, query)
        except ProtocolError as e:
            raise self.refused(e) from None

    def _read_routed(self, request: HttpRequest, route: Route, labels: Mapping[str, str],
                     query: Mapping[str, list[str]]) -> ParsedRequest:
        try:
            return self.parser.read(request, route, labels, query)
        except ProtocolError as e:
            raise self.refused(e) from None

    def refused(self, error: ProtocolError) -> ServiceError | AwsError:
        if error.kind == "serialization":
            return InvalidRequestContentException(
                f"Could not parse request body into json: {error.detail}")
        return super().refused(error)

    def _check(self, parsed: ParsedRequest) -> None:
        """Check the input against its shape and raise what Lambda answers for the first
        kind of fault found:

        - a member of the wrong JSON type in the body (a list where a map goes):
          InvalidRequestContentException, ``Could not parse request body into json: …``,
          as Lambda's JSON reader answers; in the path, query or headers:
          ValidationException;
        - ``Runtime`` off its enum alone: InvalidParameterValueException, ``Value foo at
          'runtime' failed to satisfy constraint: …`` (AWS's recorded answer for it);
        - any other violation (missing, too long, out of range, off pattern or enum):
          ValidationException, ``N validation error(s) detected: …``.
        """
        operation = parsed.operation
        violations = validate("lambda", operation.name, parsed.params)
        if not violations:
            return
        wrong_types = [v for v in violations if v.kind == "type"]
        if wrong_types:
            in_body = [v for v in wrong_types if _location(operation, v) == ""]
            if in_body:
                raise InvalidRequestContentException(
                    f"Could not parse request body into json: {message(in_body)}"
                )
            raise ValidationException(message(wrong_types))
        runtime = [v for v in violations if v.members == ("Runtime",)]
        if runtime and len(runtime) == len(violations):
            raise InvalidParameterValueException(
                f"Value {runtime[0].value} at 'runtime' failed to satisfy constraint: "
                f"{runtime[0].constraint}"
            )
        raise ValidationException(message(violations))


def with_trace(parsed: ParsedRequest, headers: Mapping[str, str]) -> dict[str, Any]:
    """An Invoke's input with the ``X-Amzn-Trace-Id`` of a request's ``headers`` (by
    lower-case name), which it continues, if any. Any other operation ignores the header,
    as AWS does: botocore sends it from inside a function (its recursion detection) to
    every operation."""
    trace = headers.get("x-amzn-trace-id") if parsed.operation.name == "Invoke" else None
    return {**parsed.params, TRACE_HEADER: trace} if trace else parsed.params


#: Where the edge leaves a request's headers by lower-case name (:func:`lowered_headers`)
#: for the service it hands the request to, so they are decoded once.
HEADERS_SCOPE_KEY = "lambdalab.headers"


def lowered_headers(scope: Mapping[str, Any]) -> dict[str, str]:
    """An ASGI request's headers by lower-case name, decoded once (a repeated header: its
    last value, as :attr:`HttpRequest.lower_headers` has it). Starlette's ``Headers``
    decode on every look-up, and the parser and the body reader look up several."""
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}


def _awaited(route: Route, headers: Mapping[str, str]) -> bool:
    """A synchronous Invoke waits for its handler, so it is awaited on the event loop.
    ``Event`` (a commit to the queue) and ``DryRun`` run in a thread like any other
    operation: their work blocks, and there is nothing to await."""
    invocation_type = headers.get("x-amz-invocation-type", "RequestResponse")
    return route.operation == "Invoke" and invocation_type == "RequestResponse"


def _location(operation: OperationModel, violation: Violation) -> str:
    """Where on the wire the member of ``violation`` travels (``""``: the body)."""
    top = violation.members[0] if violation.members else ""
    member = operation.input_shape.members.get(top) if operation.input_shape else None
    return member.serialization.get("location", "") if member is not None else ""


# -- regions ----------------------------------------------------------------------------


def refuse_foreign_arn(labels: Mapping[str, str], region: str) -> None:
    """A function ARN in the path naming another region than the one the request was
    signed for is not found there, as AWS answers (LocalStack's recording of
    test_get_function_wrong_region)."""
    named = labels.get("FunctionName", "")
    if not named.startswith("arn:"):
        return
    parts = named.split(":")
    if len(parts) > 3 and parts[3] != region:
        raise ResourceNotFoundException(
            f"Functions from '{parts[3]}' are not reachable in this region ('{region}')"
        )


__all__ = ["ERRORS", "HEADERS_SCOPE_KEY", "LambdaService", "body_limit", "is_function_url", "lambda_error",
           "path_prefixes", "served_operations"]
