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
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle
from uvicorn.server import ServerState

with contextlib.suppress(ImportError):
    # anyio imports its asyncio backend at the first ``to_thread`` call: the first invoke
    # (~100 ms, more under load). Imported with the edge, it is paid before it listens.
    import anyio._backends._asyncio  # noqa: F401

from .. import limits
from ..lab import Lab
from ..protocol.service import BODY_FOLLOWS, close_streams
from ..runtime.protocol import CROWDED, CROWDED_WINDOW_S
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


class _HeadHoldingTransport:
    """A connection's transport that holds a response's status line and headers until
    its body is written, so that both leave in one send.

    uvicorn writes the head, then the body, each at once: two ``send`` calls, and on
    loopback two wake-ups of the client, which reads the head, finds no body yet and
    sleeps again. A head whose body follows at once (:data:`BODY_FOLLOWS`) waits for the
    next write; any other head waits until the end of the event-loop step at most (a
    streamed body's first piece may be a long wait away)."""

    def __init__(self, transport: asyncio.Transport) -> None:
        self._transport = transport
        self._head: bytes | None = None
        #: Set by the cycle before uvicorn writes a head: hold that write.
        self.hold = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self.hold:
            self.hold = False
            self._head = bytes(data)
            return
        if self._head is not None:
            data, self._head = self._head + data, None
        if not self._transport.is_closing():
            self._transport.write(data)

    def flush(self) -> None:
        """Send a held head (its body is not yet written)."""
        if self._head is not None:
            self.write(b"")

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def is_closing(self) -> bool:
        # Asked after every response: not left to __getattr__, a lookup that fails first.
        return self._transport.is_closing()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class _Cycle(RequestResponseCycle):
    """uvicorn's request/response cycle, whose response head leaves with its body."""

    transport: _HeadHoldingTransport  # type: ignore[assignment]

    async def send(self, message: Any) -> None:
        if message["type"] == "http.response.start" and not self.response_started:
            self.transport.hold = True
            try:
                await super().send(message)
            finally:
                self.transport.hold = False
            if not message.get(BODY_FOLLOWS):
                asyncio.get_running_loop().call_soon(self.transport.flush)
            return
        await super().send(message)
        # A HEAD answer's body is never written (uvicorn drops it): its head leaves alone.
        self.transport.flush()


class _Answered:
    """The two client connections that were answered last, each with when: enough to
    tell whether a connection other than a given one was answered lately."""

    def __init__(self) -> None:
        self.last: object = None
        self.last_at = float("-inf")
        self.other_at = float("-inf")  # the last answer of a connection other than ``last``

    def answered(self, connection: object, now: float) -> None:
        if connection is not self.last:
            self.last, self.other_at = connection, self.last_at
        self.last_at = now

    def by_another_since(self, connection: object, since: float) -> bool:
        return (self.other_at if connection is self.last else self.last_at) >= since


class _ServerState(ServerState):
    """uvicorn's state shared by a server's connections, with their last answers."""

    def __init__(self) -> None:
        super().__init__()
        self.answered = _Answered()


class _HttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, with less work per request: a response leaves in
    one send (:class:`_HeadHoldingTransport`), and the keep-alive timeout is armed once
    per idle spell, not set and cancelled for every request (it only has to close a
    connection idle for ``timeout_keep_alive`` seconds)."""

    #: When the connection's last response ended; None while a request is under way.
    _idle_since: float | None = None
    server_state: _ServerState  # type: ignore[assignment]  # our _Server's

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(_HeadHoldingTransport(transport))  # type: ignore[arg-type]

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        if self.timeout_keep_alive_task is not None:
            self.timeout_keep_alive_task.cancel()
            self.timeout_keep_alive_task = None

    def _unset_keepalive_if_required(self) -> None:
        self._idle_since = None  # data came: busy (the armed timer finds it so)

    def on_headers_complete(self) -> None:
        # the request's task is created in there, with a copy of this context
        since = self.loop.time() - CROWDED_WINDOW_S
        CROWDED.set(self.server_state.answered.by_another_since(self, since))
        super().on_headers_complete()
        cycle = self.cycle
        if cycle is not None and type(cycle) is RequestResponseCycle:
            cycle.__class__ = _Cycle

    def on_response_complete(self) -> None:
        self.server_state.total_requests += 1
        if self.transport.is_closing():
            return
        self.flow.resume_reading()
        if self.pipeline:
            cycle, app = self.pipeline.pop()
            self._start_asgi_task(cycle, app)
            return
        self._idle_since = now = self.loop.time()
        self.server_state.answered.answered(self, now)
        if self.timeout_keep_alive_task is None:
            self.timeout_keep_alive_task = self.loop.call_later(
                self.timeout_keep_alive, self._keep_alive_expired)

    def _keep_alive_expired(self) -> None:
        self.timeout_keep_alive_task = None
        if self._idle_since is None:
            return  # a request is under way: its response arms the timer again
        idle = self.loop.time() - self._idle_since
        if idle >= self.timeout_keep_alive:
            self.timeout_keep_alive_handler()
        else:
            self.timeout_keep_alive_task = self.loop.call_later(
                self.timeout_keep_alive - idle, self._keep_alive_expired)


class _Server(uvicorn.Server):
    """uvicorn's server, but a signal only stops it: newer uvicorn re-raises SIGTERM
    after its graceful shutdown, which would kill the process before the lab closes
    (and stops its environments). And before it waits for the responses in flight it
    ends the event streams it sends (SubscribeToShard's) and tells the app it is stopping
    (the console's server-sent events), which would otherwise keep it waiting (uvicorn's
    lifespan shutdown comes only after that wait)."""

    def __init__(self, config: uvicorn.Config, before_shutdown: Callable[[], None]) -> None:
        super().__init__(config)
        self.server_state = _ServerState()
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
    ``answer_first``: see :func:`~lambdalab.server.app.create_app` (``lambdalab serve``
    answers first; an edge started beside code that reads the lab, by default, not).
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
        answer_first: bool = False,
    ) -> None:
        self.lab = lab
        self.app = app or create_app(lab, auth_keys=auth_keys, answer_first=answer_first)
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
        """Serve from a daemon thread; return when the edge accepts connections. A
        second call while it serves is the same server (``with EdgeServer(…).start()``
        enters it again): two event loops on one socket would each close it as they
        stop, the second time whatever socket has its number by then."""
        if self._thread is not None:
            if self._thread.is_alive():
                return self
            raise RuntimeError(f"the edge on {self.url} has stopped; start a new EdgeServer")
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
