"""Running the edge with uvicorn: in the foreground (``lambdalab serve``) or in a thread.

uvicorn parses HTTP (httptools, on uvloop's event loop, both dependencies of lambdalab);
lambdalab only binds the socket first, so that port ``0`` can pick
a free port and the URL is known before the first request. On SIGINT or SIGTERM uvicorn
stops accepting connections and waits for requests in flight (a running invoke
finishes); ``Event`` invokes it acknowledged are in the data dir and run when the lab
next opens it.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import signal
import socket
import threading
import time
from typing import Any, Callable, Iterator

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

with contextlib.suppress(ImportError):
    # anyio imports its asyncio backend at the first ``to_thread`` call: the first invoke
    # (~100 ms, more under load). Imported with the edge, it is paid before it listens.
    import anyio._backends._asyncio  # noqa: F401

from .. import limits
from ..lab import Lab
from ..protocol.service import close_streams
from .app import Edge, create_app

DEFAULT_HOST = limits.EDGE_HOST
DEFAULT_PORT = limits.EDGE_PORT
#: Seconds ``EdgeServer.start`` waits for uvicorn to accept connections.
START_TIMEOUT_S = 30


def is_loopback(host: str) -> bool:
    """Whether ``host`` only listens on this machine (``localhost`` counts)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket whose protocol is named IPPROTO_TCP: asyncio sets
    TCP_NODELAY only on such sockets, and without it a response written in two parts
    waits ~40 ms for the client's delayed ACK (Nagle's algorithm)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    return sock


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


class _OneSendTransport:
    """A connection's transport whose writes of one event-loop step leave in one send.

    uvicorn writes a response's status line and headers, then its body, each at once: two
    ``send`` calls, and on loopback two wake-ups of the client, which reads the head,
    finds no body yet and sleeps again. Joined, a small response is one segment."""

    def __init__(self, transport: asyncio.Transport) -> None:
        self._transport = transport
        self._pending: list[bytes] = []

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not self._pending:
            asyncio.get_running_loop().call_soon(self._flush)
        self._pending.append(bytes(data))

    def _flush(self) -> None:
        if not self._pending:
            return
        data = b"".join(self._pending)
        self._pending.clear()
        if not self._transport.is_closing():
            self._transport.write(data)

    def close(self) -> None:
        self._flush()
        self._transport.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class _HttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, writing through :class:`_OneSendTransport`."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(_OneSendTransport(transport))  # type: ignore[arg-type]


class _Server(uvicorn.Server):
    """uvicorn's server, but a signal only stops it: newer uvicorn re-raises SIGTERM
    after its graceful shutdown, which would kill the process before the lab closes
    (and stops its environments). And before it waits for the responses in flight it
    ends the event streams it sends (SubscribeToShard's) and tells the app it is stopping
    (the console's server-sent events), which would otherwise keep it waiting (uvicorn's
    lifespan shutdown comes only after that wait)."""

    def __init__(self, config: uvicorn.Config, before_shutdown: Callable[[], None]) -> None:
        super().__init__(config)
        self.before_shutdown = before_shutdown

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        close_streams()
        self.before_shutdown()
        await super().shutdown(sockets)

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        stop_signals = (signal.SIGINT, signal.SIGTERM)
        previous = {sig: signal.signal(sig, self.handle_exit) for sig in stop_signals}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


class EdgeServer:
    """The edge over ``lab`` (the home region's) on ``host:port``; ``port=0`` picks a
    free port.

    ``start()`` serves from a background thread and returns once connections are
    accepted (tests and benchmarks use this); ``run()`` serves in the foreground until
    SIGINT or SIGTERM. Either way every region's functions see ``AWS_ENDPOINT_URL``. The
    labs of other regions the edge opened close when it stops; ``lab`` stays open.
    """

    def __init__(
        self,
        lab: Lab,
        host: str = DEFAULT_HOST,
        port: int = DEFAULT_PORT,
        *,
        auth_keys: dict[str, str] | None = None,
        app: Edge | None = None,
        log_level: str = "warning",
    ) -> None:
        self.lab = lab
        self.app = app or create_app(lab, auth_keys=auth_keys)
        self.regions = self.app.regions
        self.socket = bind(host, port)
        self.url = url_of(self.socket)
        self._server = _Server(
            uvicorn.Config(
                self.app,
                log_level=log_level,
                access_log=False,
                http=_HttpProtocol,
                lifespan="off",
                # Clients reach the edge directly: a request's X-Forwarded-For is the
                # client's claim, not its address (aws:SourceIp, a URL's sourceIp).
                proxy_headers=False,
                server_header=False,  # AWS's answers name no server (a Date, they do)
                timeout_keep_alive=30,
            ),
            before_shutdown=self.app.begin_stopping,
        )
        self._thread: threading.Thread | None = None

    def run(self) -> None:
        """Serve in the foreground until SIGINT or SIGTERM (uvicorn handles both)."""
        self.regions.endpoint_url = self.url
        try:
            self._server.run(sockets=[self.socket])
        finally:
            self.regions.endpoint_url = None
            self.regions.close()
            self.socket.close()

    def start(self) -> "EdgeServer":
        """Serve from a daemon thread; return when the edge accepts connections."""
        self._thread = threading.Thread(target=self.run, name="lambdalab-edge", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the edge did not start on {self.url}")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        """Stop accepting, let requests in flight finish, and join the thread."""
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join()

    def __enter__(self) -> "EdgeServer":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
