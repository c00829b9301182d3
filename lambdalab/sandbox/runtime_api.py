"""The Lambda Runtime API, served on loopback to one execution environment.

https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html (API version 2018-06-01).
A custom runtime — a ``provided.*`` function's ``bootstrap``, the official
``awslambdaric``, lambdalab's own Node.js runtime — finds it through the
``AWS_LAMBDA_RUNTIME_API`` variable (``127.0.0.1:PORT``) and loops::

    GET  /2018-06-01/runtime/invocation/next           200: the event, with its headers
    POST /2018-06-01/runtime/invocation/{id}/response  202: the handler's result
    POST /2018-06-01/runtime/invocation/{id}/error     202: the handler's error
    POST /2018-06-01/runtime/init/error                202: INIT failed (during INIT only)

Split as the control plane's services are: :class:`RuntimeApiState` is the state of one
environment and never touches HTTP; a ``BaseHTTPRequestHandler`` is the wire layer
(parse, call the state, render); each :class:`RuntimeApiError` subclass fixes its HTTP
status and ``errorType``, and one method renders every error body. HTTP itself is the
standard library's ``http.server.ThreadingHTTPServer``: a thread per client
connection, so a runtime may hold ``/next`` open while nothing else waits on it.

The core side (a sandbox backend) calls :meth:`RuntimeApiState.submit` to hand an event
to the runtime and is told through ``notify`` when something changed: the runtime
asked for its first event (INIT is over), reported an INIT error, or answered. It may
also pass ``idle``, called when the runtime asks for an event and none is waiting: the
moment Lambda freezes an execution environment, which a backend that freezes its
environments between invokes does there (the ``limited`` backend).
"""

from __future__ import annotations

import json
import re
import secrets
import socket
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, cast

from lambdalab.limits import RUNTIME_API_VERSION, SYNC_RESPONSE_MAX_BYTES
from lambdalab.sandbox import InvokeRequest

#: The header a runtime names its error's type in (``/error`` and ``/init/error``).
ERROR_TYPE_HEADER = "Lambda-Runtime-Function-Error-Type"
_UNKNOWN_ERROR = "Runtime.Unknown"


# -- errors --------------------------------------------------------------------------


class RuntimeApiError(Exception):
    """An error the Runtime API answers a runtime with: ``{errorMessage, errorType}``."""

    status = 500
    error_type = "Runtime.Unknown"

    def body(self) -> bytes:
        return json.dumps({"errorMessage": str(self), "errorType": self.error_type}).encode()


class InvalidRequestId(RuntimeApiError):
    """400: the request id is not the invocation the runtime is working on."""

    status = 400
    error_type = "InvalidRequestID"


class InvalidStateTransition(RuntimeApiError):
    """403: the call is not allowed now (``/init/error`` after INIT, ``/next`` twice)."""

    status = 403
    error_type = "InvalidStateTransition"


class PayloadTooLarge(RuntimeApiError):
    """413: a response over the synchronous payload limit."""

    status = 413
    error_type = "RequestEntityTooLarge"


class LengthRequired(RuntimeApiError):
    """411: a body without ``Content-Length`` (chunked uploads are not supported)."""

    status = 411
    error_type = "LengthRequired"


class NotFound(RuntimeApiError):
    """404: no such resource in the Runtime API."""

    status = 404
    error_type = "NotFound"


# -- state ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    """The runtime's answer to one invocation: ``"ok"`` and the result, or ``"error"``
    and AWS's error object."""

    status: str
    body: bytes


class RuntimeApiState:
    """One environment's side of the Runtime API: where its invocation stands."""

    def __init__(
        self, notify: Callable[[], None], idle: Callable[[], None] | None = None
    ) -> None:
        self._notify = notify
        self._idle = idle
        self._cond = threading.Condition()
        #: The runtime asked for its first event: INIT is over.
        self.initialized = False
        #: The error object the runtime reported on ``/init/error``.
        self.init_error: dict[str, Any] | None = None
        self._pending: InvokeRequest | None = None
        self._current: InvokeRequest | None = None
        self._answer: Answer | None = None
        self._closed = False
        #: The runtime is in ``/next``, waiting for an event.
        self._waiting = False

    # core side

    def submit(self, request: InvokeRequest) -> None:
        """Hand an invocation to the runtime's (possibly future) ``/next``."""
        with self._cond:
            self._answer = None
            self._pending = request
            self._cond.notify_all()

    def answered(self) -> bool:
        return self._answer is not None

    def idle_now(self) -> bool:
        """The runtime waits in ``/next`` and no event is pending: it is between invokes."""
        with self._cond:
            return self._waiting and self._pending is None and not self._closed

    def take_answer(self) -> Answer:
        with self._cond:
            answer, self._answer = self._answer, None
        assert answer is not None
        return answer

    def close(self) -> None:
        """Release every ``/next`` that waits: the environment is going away."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    # runtime side

    def next_invocation(self) -> InvokeRequest | None:
        """Wait for the next event; ``None`` when the environment is closing."""
        with self._cond:
            if self.init_error is not None or self._current is not None:
                raise InvalidStateTransition("State transition is not allowed")
            first = not self.initialized
            self.initialized = True
        if first:
            self._notify()
        with self._cond:
            if self._pending is None and not self._closed and self._idle is not None:
                # Under the lock: a submit() cannot slip in between this look and the
                # freeze, so the thaw that follows a submit always comes after it.
                self._idle()
            self._waiting = True
            self._cond.wait_for(lambda: self._pending is not None or self._closed)
            self._waiting = False
            if self._closed:
                return None
            self._current, self._pending = self._pending, None
            return self._current

    def finish(self, request_id: str, answer: Answer) -> None:
        """Record the runtime's answer to invocation ``request_id``."""
        with self._cond:
            if self._current is None or self._current.request_id != request_id:
                raise InvalidRequestId("Invalid request ID")
            self._current = None
            self._answer = answer
        self._notify()

    def fail_init(self, error: dict[str, Any]) -> None:
        with self._cond:
            if self.initialized or self.init_error is not None:
                raise InvalidStateTransition("State transition is not allowed")
            self.init_error = error
        self._notify()


def error_object(body: bytes, error_type: str | None) -> dict[str, Any]:
    """The runtime's error body as AWS's error object; a body that is not a JSON object
    becomes the message, the header its type."""
    try:
        error = json.loads(body)
    except ValueError:
        error = None
    if not isinstance(error, dict):
        error = {"errorMessage": body.decode("utf-8", "replace")}
    error.setdefault("errorType", error_type or _UNKNOWN_ERROR)
    return error


def trace_id() -> str:
    """An X-Ray trace header, as Lambda passes one with every event."""
    return (
        f"Root=1-{int(time.time()):08x}-{secrets.token_hex(12)};"
        f"Parent={secrets.token_hex(8)};Sampled=0"
    )


# -- wire ----------------------------------------------------------------------------

_PREFIX = f"/{RUNTIME_API_VERSION}/runtime"
_NEXT = f"{_PREFIX}/invocation/next"
_INIT_ERROR = f"{_PREFIX}/init/error"
_ANSWER = re.compile(rf"^{re.escape(_PREFIX)}/invocation/(?P<id>[^/]+)/(?P<kind>response|error)$")
_ACCEPTED = b'{"status":"OK"}'


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: a runtime reuses one connection
    #: Headers and body go out as separate writes: without TCP_NODELAY the body would
    #: wait for the client's delayed ACK (40 ms) on every answer.
    disable_nagle_algorithm = True
    server: "_Server"

    def do_GET(self) -> None:
        if self.path != _NEXT:
            self._send_error(NotFound(f"No such resource: GET {self.path}"))
            return
        try:
            request = self.server.state.next_invocation()
        except RuntimeApiError as e:
            self._send_error(e)
            return
        if request is None:
            self.close_connection = True
            return
        headers = {
            "Content-Type": "application/json",
            "Lambda-Runtime-Aws-Request-Id": request.request_id,
            "Lambda-Runtime-Deadline-Ms": str(request.deadline_ms),
            "Lambda-Runtime-Invoked-Function-Arn": request.invoked_function_arn,
            "Lambda-Runtime-Trace-Id": request.trace_id or trace_id(),
        }
        if request.client_context:
            headers["Lambda-Runtime-Client-Context"] = request.client_context
        if request.cognito_identity:
            headers["Lambda-Runtime-Cognito-Identity"] = request.cognito_identity
        self._send(200, request.payload, headers)

    def do_POST(self) -> None:
        try:
            body = self._read_body()
            answer = _ANSWER.match(self.path)
            error_type = self.headers.get(ERROR_TYPE_HEADER)
            if self.path == _INIT_ERROR:
                self.server.state.fail_init(error_object(body, error_type))
            elif answer and answer["kind"] == "error":
                payload = json.dumps(error_object(body, error_type)).encode()
                self.server.state.finish(answer["id"], Answer("error", payload))
            elif answer:
                # An oversized result still ends the invocation (the core reports
                # Function.ResponseSizeTooLarge); the runtime is told with a 413.
                self.server.state.finish(answer["id"], Answer("ok", body))
                if len(body) > SYNC_RESPONSE_MAX_BYTES:
                    raise PayloadTooLarge(
                        f"Exceeded maximum allowed payload size ({SYNC_RESPONSE_MAX_BYTES} bytes)."
                    )
            else:
                raise NotFound(f"No such resource: POST {self.path}")
        except RuntimeApiError as e:
            self._send_error(e)
            return
        self._send(202, _ACCEPTED, {"Content-Type": "application/json"})

    def _read_body(self) -> bytes:
        length = self.headers.get("Content-Length")
        if length is None:
            if self.headers.get("Transfer-Encoding"):
                self.close_connection = True
                raise LengthRequired("Send the body with a Content-Length header.")
            return b""
        return self.rfile.read(int(length))

    def _send_error(self, error: RuntimeApiError) -> None:
        self._send(error.status, error.body(), {"Content-Type": "application/json"})

    def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the function's log is the runtime's output, not this server's


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, state: RuntimeApiState) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.state = state

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a runtime killed mid-request is the normal end of an environment


class RuntimeApiServer:
    """A Runtime API server on a free loopback port, serving one environment.

    ``notify`` and ``idle`` are :class:`RuntimeApiState`'s (see the module's docstring).
    """

    def __init__(
        self, notify: Callable[[], None], idle: Callable[[], None] | None = None
    ) -> None:
        self.state = RuntimeApiState(notify, idle)
        self._server = _Server(self.state)
        # An AF_INET server's address: typeshed allows bytes hosts, getsockname() gives str.
        self._bound = cast("tuple[str, int]", self._server.server_address[:2])
        host, port = self._bound
        #: The value of ``AWS_LAMBDA_RUNTIME_API``.
        self.address = f"{host}:{port}"
        self._closing = False
        self._thread = threading.Thread(
            target=self._serve, name=f"lambdalab-runtime-api-{port}", daemon=True
        )
        self._thread.start()

    def _serve(self) -> None:
        while not self._closing:
            self._server.handle_request()
        self._server.server_close()

    def close(self) -> None:
        """Stop serving: waiting ``/next`` calls return, the port is released."""
        if self._closing:
            return
        self._closing = True
        self.state.close()
        try:  # wake the accept loop, which then sees it is closing
            socket.create_connection(self._bound, timeout=1).close()
        except OSError:
            pass
        self._thread.join(timeout=2)
