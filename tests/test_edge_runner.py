"""The edge's HTTP protocol: a response leaves in one write (lambdalab.server.runner)."""

from __future__ import annotations

import asyncio
from typing import Any

import uvicorn

from lambdalab.server.runner import _HttpProtocol, _ServerState


class RecordingTransport(asyncio.Transport):
    """What asyncio's socket transport is told to do, kept instead of sent."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: Any) -> None:
        self.writes.append(bytes(data))

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 5000), "sockname": ("127.0.0.1", 9000)}.get(name, default)

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


async def echo(scope: Any, receive: Any, send: Any) -> None:
    body = (await receive())["body"]
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


async def answer(request: bytes) -> RecordingTransport:
    protocol = _HttpProtocol(uvicorn.Config(echo, lifespan="off"), _ServerState(), {})
    transport = RecordingTransport()
    protocol.connection_made(transport)  # type: ignore[arg-type]
    protocol.data_received(request)
    for _ in range(100):
        if transport.writes:
            break
        await asyncio.sleep(0)
    protocol.connection_lost(None)
    return transport


def test_a_response_head_and_body_leave_in_one_write() -> None:
    sent = asyncio.run(answer(b"POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 8\r\n\r\n{\"a\": 1}"))
    assert len(sent.writes) == 1
    head, _, body = sent.writes[0].partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK") and body == b'{"a": 1}'


def test_a_closing_connection_sends_what_it_was_given_first() -> None:
    sent = asyncio.run(answer(b"POST /x HTTP/1.1\r\nHost: a\r\nConnection: close\r\n"
                              b"Content-Length: 2\r\n\r\n{}"))
    assert len(sent.writes) == 1 and sent.writes[0].endswith(b"\r\n\r\n{}")
    assert sent.closed


def test_an_edge_started_twice_is_one_server(lab: Any) -> None:
    """``with EdgeServer(…).start()`` starts it and enters it: one event loop on the
    socket. Two would each close it as they stop, the second time whatever socket had
    its number by then (a later edge's, which then refused every connection)."""
    import http.client
    import threading

    import pytest

    from lambdalab.server import EdgeServer

    def edge_threads() -> int:
        return sum(t.name == "lambdalab-edge" and t.is_alive() for t in threading.enumerate())

    before = edge_threads()
    server = EdgeServer(lab, port=0)
    with server.start() as again:
        assert again is server
        assert edge_threads() == before + 1
        host, port = server.url.removeprefix("http://").split(":")
        connection = http.client.HTTPConnection(host, int(port), timeout=30)
        connection.request("GET", "/2015-03-31/functions/")
        assert connection.getresponse().status == 200
        connection.close()
    assert edge_threads() == before
    with pytest.raises(RuntimeError, match="has stopped; start a new EdgeServer"):
        server.start()
