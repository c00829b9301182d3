"""The edge's per-request shortcuts keep what HTTP asks (lambdalab.server.runner, app).

A response head whose body follows at once leaves with it, without waiting for the end
of the event loop's step; a head whose body does not follow (a stream) still leaves at
that step's end; the keep-alive timeout, armed once per idle spell, still closes only a
connection idle for ``timeout_keep_alive`` seconds.
"""

from __future__ import annotations

import asyncio
import http.client
from typing import Any, Callable
from urllib.parse import urlsplit

import uvicorn

from lambdalab import Lab
from lambdalab.models import InvokeResult
from lambdalab.protocol import HttpRequest
from lambdalab.protocol.service import BODY_FOLLOWS
from lambdalab.server.app import request_headers
from lambdalab.server import EdgeServer
from lambdalab.server.lambda_operations import invoke_output
from lambdalab.server.lambda_service import KnownInvokes, LambdaService
from lambdalab.server.runner import _HttpProtocol, _ServerState
from .edge_support import client, create, edge  # noqa: F401  (fixtures)
from .test_edge_runner import RecordingTransport

REQUEST = b"POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\n{}"


def protocol_for(app: Any, loop: Any = None, **config: Any) -> tuple[_HttpProtocol, RecordingTransport]:
    protocol = _HttpProtocol(uvicorn.Config(app, lifespan="off", **config), _ServerState(), {}, _loop=loop)
    transport = RecordingTransport()
    protocol.connection_made(transport)  # type: ignore[arg-type]
    return protocol, transport


async def settle(done: Callable[[], bool]) -> None:
    for _ in range(100):
        if done():
            return
        await asyncio.sleep(0)


def test_a_head_whose_body_follows_leaves_with_it_in_the_body_s_write() -> None:
    seen: list[int] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "http.response.start", "status": 200, BODY_FOLLOWS: True,
                    "headers": [(b"content-length", b"2")]})
        seen.append(len(transports[0].writes))  # the head is held
        await send({"type": "http.response.body", "body": b"ok"})
        seen.append(len(transports[0].writes))  # and sent with the body, before the step ends

    async def run() -> RecordingTransport:
        protocol, sent = protocol_for(app)
        transports.append(sent)
        protocol.data_received(REQUEST)
        await settle(lambda: len(seen) == 2)
        return sent

    transports: list[RecordingTransport] = []
    transport = asyncio.run(run())
    assert seen == [0, 1]
    assert transport.writes[0].startswith(b"HTTP/1.1 200 OK") and transport.writes[0].endswith(b"\r\n\r\nok")


def test_a_head_answer_leaves_though_its_body_is_never_written() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "http.response.start", "status": 200, BODY_FOLLOWS: True,
                    "headers": [(b"content-length", b"5")]})
        await send({"type": "http.response.body", "body": b""})

    async def run() -> RecordingTransport:
        protocol, sent = protocol_for(app)
        protocol.data_received(b"HEAD /x HTTP/1.1\r\nHost: a\r\n\r\nHEAD /y HTTP/1.1\r\nHost: a\r\n\r\n")
        await settle(lambda: len(sent.writes) == 2)
        return sent

    sent = asyncio.run(run())
    assert [w.startswith(b"HTTP/1.1 200 OK") and w.endswith(b"content-length: 5\r\n\r\n")
            for w in sent.writes] == [True, True]


def test_a_streamed_head_leaves_before_its_first_piece() -> None:
    heads: list[bytes] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "http.response.start", "status": 200, BODY_FOLLOWS: False,
                    "headers": [(b"content-type", b"text/event-stream")]})
        await settle(lambda: bool(transports[0].writes))
        heads.extend(transports[0].writes)  # the client has the head while the stream waits
        await send({"type": "http.response.body", "body": b"data: 1\n\n", "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def run() -> RecordingTransport:
        protocol, sent = protocol_for(app)
        transports.append(sent)
        protocol.data_received(REQUEST)
        await settle(lambda: len(transports[0].writes) >= 3)
        return sent

    transports: list[RecordingTransport] = []
    transport = asyncio.run(run())
    assert len(heads) == 1 and heads[0].startswith(b"HTTP/1.1 200 OK") and heads[0].endswith(b"\r\n\r\n")
    assert transport.writes[1:] == [b"9\r\ndata: 1\n\n\r\n", b"0\r\n\r\n"]


class ClockLoop:
    """The running loop, but with a clock the test sets and timers it fires by hand."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.now = 0.0
        self.timers: list[tuple[float, Callable[[], None], asyncio.Handle]] = []

    def time(self) -> float:
        return self.now

    def call_later(self, delay: float, callback: Callable[[], None]) -> asyncio.Handle:
        handle = asyncio.Handle(callback, (), self.loop)
        self.timers.append((self.now + delay, callback, handle))
        return handle

    def armed(self) -> list[float]:
        return [when for when, _, handle in self.timers if not handle.cancelled()]

    def advance(self, to: float) -> None:
        self.now = to
        due = [t for t in self.timers if t[0] <= to and not t[2].cancelled()]
        self.timers = [t for t in self.timers if t not in due]
        for _, callback, _ in due:
            callback()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.loop, name)


async def ok(scope: Any, receive: Any, send: Any) -> None:
    await receive()
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"0")]})
    await send({"type": "http.response.body", "body": b""})


def test_keep_alive_closes_a_connection_idle_for_its_timeout_and_only_then() -> None:
    async def run() -> tuple[list[Any], bool]:
        clock = ClockLoop(asyncio.get_running_loop())
        protocol, transport = protocol_for(ok, clock, timeout_keep_alive=30)

        async def request() -> None:
            answered = len(transport.writes)
            protocol.data_received(b"GET /x HTTP/1.1\r\nHost: a\r\n\r\n")
            await settle(lambda: len(transport.writes) > answered)
            await asyncio.sleep(0)

        seen: list[Any] = []
        await request()
        seen.append(clock.armed())           # idle from 0: closes at 30
        clock.now = 10.0
        await request()
        seen.append(clock.armed())           # idle from 10: the timer armed at 0 stays
        clock.advance(30.0)
        seen.append((clock.armed(), transport.closed))  # idle 20 s of 30: not yet
        clock.advance(39.0)
        seen.append(transport.closed)
        clock.advance(40.0)
        return seen, transport.closed

    seen, closed = asyncio.run(run())
    assert seen == [[30.0], [30.0], ([40.0], False), False]
    assert closed


def test_keep_alive_spares_a_connection_whose_request_is_under_way() -> None:
    async def run() -> tuple[bool, list[float], bool]:
        clock = ClockLoop(asyncio.get_running_loop())
        release = asyncio.Event()

        async def slow(scope: Any, receive: Any, send: Any) -> None:
            if scope["path"] == "/slow":
                await release.wait()
            await ok(scope, receive, send)

        protocol, transport = protocol_for(slow, clock, timeout_keep_alive=30)
        protocol.data_received(b"GET /x HTTP/1.1\r\nHost: a\r\n\r\n")
        await settle(lambda: bool(transport.writes))
        await asyncio.sleep(0)
        clock.now = 5.0
        protocol.data_received(b"GET /slow HTTP/1.1\r\nHost: a\r\n\r\n")
        clock.advance(40.0)  # the request has run 35 s: its connection is no idle one
        spared = not transport.closed
        release.set()
        await settle(lambda: len(transport.writes) == 2)
        await asyncio.sleep(0)
        return spared, clock.armed(), transport.closed

    spared, armed, closed = asyncio.run(run())
    assert spared and armed == [70.0] and not closed


def test_headers_are_decoded_once_for_the_edge_and_the_service() -> None:
    scope = {"headers": [(b"Host", b"a"), (b"x-amz-target", b"T")]}
    last, first = request_headers(scope)
    assert last is first and last == {"host": "a", "x-amz-target": "T"}
    request = HttpRequest.lowered("POST", "/", "", last)
    assert request.lower_headers is last and request.header("X-Amz-Target") == "T"


def test_a_repeated_header_is_read_first_by_the_edge_and_last_by_the_service() -> None:
    scope = {"headers": [(b"authorization", b"one"), (b"Authorization", b"two")]}
    last, first = request_headers(scope)
    assert first == {"authorization": "one"} and last == {"authorization": "two"}


# -- a warm Invoke's shortcuts (lambdalab.server.lambda_service.KnownInvokes) -------------


def test_invoke_s_own_answer_is_the_one_the_serializer_writes(lab: Lab) -> None:
    service = LambdaService(lab)
    invoke = service.model.operation_model("Invoke")
    known = KnownInvokes(service.parser, invoke)
    for result in (
        InvokeResult(200, b'{"a": 1}', executed_version="$LATEST", request_id="r1"),
        InvokeResult(200, b"", request_id="r2"),
        InvokeResult(200, b'{"errorMessage": "no"}', function_error="Unhandled",
                     log_result="U1RBUlQ=", executed_version="3", request_id="r3"),
    ):
        ours = known.answer(result)
        layer = service._output(invoke, invoke_output(result), result.request_id)
        assert ours == layer and list(ours.headers) == list(layer.headers)


def test_only_a_synchronous_invoke_of_bounded_size_is_remembered(lab: Lab) -> None:
    service = LambdaService(lab)
    known = KnownInvokes(service.parser, service.model.operation_model("Invoke"))
    path = b"/2015-03-31/functions/echo/invocations"
    plain = known.key("POST", path, b"", {})
    assert plain is not None and known.get(plain) is None
    assert known.key("POST", path, b"", {"x-amz-log-type": "Tail"}) not in (None, plain)
    assert known.key("POST", path, b"Qualifier=1", {}) not in (None, plain)
    assert known.key("GET", path, b"", {}) is None
    for kind in ("Event", "DryRun"):
        assert known.key("POST", path, b"", {"x-amz-invocation-type": kind}) is None
    assert known.key("POST", path, b"", {"x-amz-client-context": "e30=" * 100}) is None
    assert known.key("POST", path, b"Qualifier=" + b"1" * 300, {}) is None


def post(url: str, path: str, body: bytes, **headers: str) -> tuple[int, dict[str, str], bytes]:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port)
    try:
        conn.request("POST", path, body=body, headers=headers)
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()


def test_a_remembered_invoke_runs_each_request_s_own_payload_and_trace(edge: EdgeServer, client: Any) -> None:
    create(client, "echo")
    path = "/2015-03-31/functions/echo/invocations"
    first = post(edge.url, path, b'{"n": 1}')
    again = post(edge.url, path, b'{"n": 2}', **{"X-Amzn-Trace-Id": "Root=1-5759e988-bd862e3fe1be46a994272793"})
    empty = post(edge.url, path, b"")
    assert (first[0], first[2]) == (200, b'{"n": 1}') and (again[0], again[2]) == (200, b'{"n": 2}')
    assert first[1]["x-amzn-requestid"] != again[1]["x-amzn-requestid"]
    assert first[1]["x-amz-executed-version"] == again[1]["x-amz-executed-version"] == "$LATEST"
    assert empty[0] == 200 and ("content-type" in empty[1]) == bool(empty[2])
    tailed = post(edge.url, path, b'{"n": 3}', **{"X-Amz-Log-Type": "Tail"})
    assert tailed[0] == 200 and "x-amz-log-result" in tailed[1]


def test_a_refused_invoke_is_refused_again_in_the_same_words(edge: EdgeServer, client: Any) -> None:
    create(client, "echo")
    for path, headers in (
        ("/2015-03-31/functions/echo/invocations?Qualifier=no%20such", {}),
        ("/2015-03-31/functions/echo/invocations", {"X-Amz-Log-Type": "Loud"}),
        ("/2015-03-31/functions/arn:aws:lambda:eu-west-1:000000000000:function:echo/invocations", {}),
    ):
        answers = [post(edge.url, path, b"{}", **headers) for _ in range(3)]
        assert answers[0][0] in (400, 404)
        assert [(a[0], a[1]["x-amzn-errortype"], a[2]) for a in answers[1:]] == \
            [(answers[0][0], answers[0][1]["x-amzn-errortype"], answers[0][2])] * 2


def test_a_remembered_invoke_still_meets_the_function_s_fate(edge: EdgeServer, client: Any) -> None:
    create(client, "echo")
    path = "/2015-03-31/functions/echo/invocations"
    assert post(edge.url, path, b"{}")[0] == 200
    client.delete_function(FunctionName="echo")
    status, headers, _ = post(edge.url, path, b"{}")
    assert status == 404 and headers["x-amzn-errortype"] == "ResourceNotFoundException"
