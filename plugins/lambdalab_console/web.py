"""The console's HTTP side: its page, the lab's state as JSON, the live stream of events
(server-sent events), the clock control, and the key prompt when the edge has keys.

Served by the edge under :data:`CONSOLE_PATH` for the home region's lab. Read-only but
for the clock, which it moves through the same :class:`~lambdalab.clock.VirtualClock`
every other door (the Python API, a lab's check) moves. A request that changes
something must carry :data:`ACTION_HEADER`, which a page of another site cannot add
without a CORS preflight the console never grants.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import json
import math
import secrets
from dataclasses import asdict
import threading
from collections import OrderedDict
from importlib import resources
from typing import Any, AsyncIterator, cast
from urllib.parse import parse_qs, urlsplit

import anyio
import anyio.to_thread
from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Mount, Route

from lambdalab import Lab
from lambdalab.plugin import (
    EDGE_KEYS_SCOPE_KEY,
    EDGE_STOPPING_SCOPE_KEY,
    FunctionTrigger,
    LambdaError,
    PatternError,
    VirtualClock,
    limits,
)

from . import actions

from .bounds import (
    BODY_MAX_BYTES,
    CLOCK_STEP_MAX_SECONDS,
    HEARTBEAT_SECONDS,
    LOG_FILTER_MAX_CHARS,
    PANEL_ROWS_MAX,
    QUEUE_ROWS_SHOWN,
    SESSIONS_KEPT,
)
from .details import invoke_details
from .graph_routes import graph_routes
from .log_tail import log_tail
from .feed import Feed, Subscriber, sse

CONSOLE_PATH = "/_lambdalab/console/"
#: Header a state-changing request must carry (a cross-site form cannot send it).
ACTION_HEADER = "x-lambdalab-console"
SESSION_COOKIE = "lambdalab_console"
#: The page's files, as package data: nothing from a CDN, nothing built with Node.
STATIC_FILES = {"console.js": "text/javascript", "console.css": "text/css",
                "graphs.js": "text/javascript", "graphs.css": "text/css"}


class Sessions:
    """Tokens of browsers that gave a right key (bounded)."""

    def __init__(self) -> None:
        self._tokens: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()

    def new(self) -> str:
        token = secrets.token_urlsafe(32)
        with self._lock:
            self._tokens[token] = None
            while len(self._tokens) > SESSIONS_KEPT:
                self._tokens.popitem(last=False)
        return token

    def __contains__(self, token: object) -> bool:
        with self._lock:
            return token in self._tokens


def static_text(name: str) -> str:
    return resources.files(__package__).joinpath("static", name).read_text("utf-8")


def error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"message": message}, status)


async def limited_body(request: Request, most: int = BODY_MAX_BYTES) -> bytes | None:
    """The request's body, or ``None`` past ``most`` bytes (the rest is not read)."""
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > most:
            return None
    return bytes(body)


def addressed_directly(host: str) -> bool:
    """Whether a ``Host`` header names an IP address or ``localhost``: what a browser
    sends to the console itself, and not what a DNS-rebinding page's name sends."""
    try:
        name = urlsplit("//" + host).hostname if host.isascii() else None
        return name == "localhost" or bool(name and ipaddress.ip_address(name))
    except ValueError:  # not a host (an unclosed "[::1"), or not an address
        return False


def functions_of(lab: Lab) -> list[dict[str, Any]]:
    """The Functions view: each function's $LATEST settings, versions and aliases."""
    listed = []
    for config in lab.list_functions():
        name = config.function_name
        try:
            versions = [v.version for v in lab.list_versions_by_function(name) if v.version != "$LATEST"]
            aliases = [{"name": a.name, "version": a.function_version,
                        "weights": a.additional_version_weights} for a in lab.list_aliases(name)]
            reserved = lab.get_function_concurrency(name)
            triggers = triggers_of(lab, name)
        except LambdaError:
            continue  # deleted while we read it
        listed.append({
            "name": name, "state": config.state, "runtime": config.runtime,
            "memory": config.memory_size, "sandbox": config.sandbox or lab.default_sandbox,
            "reserved": reserved, "versions": versions, "aliases": aliases,
            "triggers": triggers,
        })
    return listed


def triggers_of(lab: Lab, name: str) -> list[str]:
    """What invokes the function besides a caller: its URLs and event source mappings,
    then what plugins wire to it (``lambdalab_function_triggers``: bucket
    notifications, subscriptions, rules and schedules)."""
    found = [f"URL {url.function_url} ({url.auth_type})" for url in lab.list_function_url_configs(name)]
    found += plugin_triggers(lab, name)
    try:
        mappings = lab.list_event_source_mappings(function_name=name)
    except LambdaError:  # no loaded plugin keeps event source mappings
        mappings = []
    for mapping in mappings:  # the built-in keepers' mappings answer in AWS's shape
        aws = mapping.to_aws() if hasattr(mapping, "to_aws") else {}
        found.append(f"{aws.get('EventSourceArn', mapping)} ({aws.get('State', '?')})")
    return found


def plugin_triggers(lab: Lab, name: str) -> list[str]:
    """Each plugin's triggers of ``name``, one line each; a plugin's bug is one line too,
    not a 500 of the whole state."""
    found: list[str] = []
    given: dict[str, Any] = {"lab": lab, "function_name": name}
    for impl in lab.plugin_manager.hook.lambdalab_function_triggers.get_hookimpls():
        try:  # one at a time: pluggy's call would stop at the first that raises
            answer = impl.function(*(given[arg] for arg in impl.argnames))
            found += [trigger.describe() for trigger in cast("list[FunctionTrigger]", answer or [])]
        except LambdaError:
            raise  # the function was deleted while we read it
        except Exception as e:
            found.append(f"{impl.plugin_name}: cannot list its triggers ({type(e).__name__}: {e})")
    return found


def queue_of(lab: Lab) -> list[dict[str, Any]]:
    """The async queue: each event waiting, running or waiting for its retry."""
    return [asdict(event) for event in lab.queue()[:QUEUE_ROWS_SHOWN]]


def panels_of(lab: Lab, title: str | None = None) -> list[dict[str, Any]]:
    """Plugins' panels (``lambdalab_console_panels``), their rows read now: every one,
    or those titled ``title`` (a plugin said it changed)."""
    panels = []
    for offered in lab.plugin_manager.hook.lambdalab_console_panels(lab=lab):
        for panel in offered:
            if title is not None and panel.title != title:
                continue
            try:
                rows = [{str(k): _cell(v) for k, v in row.items()}
                        for row in list(panel.rows())[:PANEL_ROWS_MAX]]
                panels.append({"title": str(panel.title), "rows": rows})
            except Exception as e:  # a plugin's bug shows on its own panel, not as a 500
                panels.append({"title": str(panel.title), "rows": [],
                               "error": f"{type(e).__name__}: {e}"})
    return panels


def _cell(value: Any) -> str | int | float | None:
    return value if value is None or isinstance(value, (str, int, float)) else str(value)


class Console:
    """The console of one lab, as a Starlette app."""

    def __init__(self, lab: Lab, feed: Feed) -> None:
        self.lab, self.feed = lab, feed
        self.sessions = Sessions()
        self._clock_lock = threading.Lock()
        self.app = Starlette(routes=[Mount(CONSOLE_PATH.rstrip("/"), routes=[
            Route("/", self.index),
            Route("/login", self.login, methods=["POST"]),
            Route("/static/{name}", self.static),
            Route("/api/state", self.state),
            Route("/api/events", self.events),
            Route("/api/invokes/{n:int}", self.invoke),
            Route("/api/queue", self.queue),
            Route("/api/panels", self.panels),
            Route("/api/logs", self.logs),
            Route("/api/clock", self.clock, methods=["POST"]),
            Route("/api/actions/invoke", self.invoke_action, methods=["POST"]),
            Route("/api/actions/publish", self.publish_action, methods=["POST"]),
            Route("/api/actions/alias", self.alias_action, methods=["POST"]),
            *graph_routes(self),
        ])])

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        host = Headers(scope=scope).get("host", "")
        if not addressed_directly(host):
            refusal = error(403, "The console answers requests addressed to an IP address or "
                                 f"localhost, not {host[:100]!r}: a web page whose name "
                                 "points at this machine would otherwise read it.")
            await refusal(scope, receive, send)
            return
        await self.app(scope, receive, send)

    # -- who may look ------------------------------------------------------------------

    def refusal(self, request: Request) -> str | None:
        """Why ``request`` may not see the console, or ``None``."""
        keys = request.scope.get(EDGE_KEYS_SCOPE_KEY)
        if keys and request.cookies.get(SESSION_COOKIE) not in self.sessions:
            return "This lambdalab edge has access keys (--auth-key): give one to see its console."
        if not keys and self.lab.enforce_iam:
            return ("This edge enforces IAM without --auth-key: the console has no way to "
                    "ask who you are. Serve with --auth-key to use it.")
        return None

    async def login(self, request: Request) -> Response:
        keys = request.scope.get(EDGE_KEYS_SCOPE_KEY) or {}
        body = await limited_body(request)
        form = parse_qs((body or b"").decode("utf-8", "replace"))
        key_id = (form.get("key_id") or [""])[0]
        secret = (form.get("secret") or [""])[0]
        expected = keys.get(key_id)
        if expected is None or not hmac.compare_digest(expected.encode(), secret.encode()):
            return HTMLResponse(self.login_page("That key id and secret do not match a key "
                                                "this edge was started with."), 401)
        response = RedirectResponse(CONSOLE_PATH, 303)
        response.set_cookie(SESSION_COOKIE, self.sessions.new(), path=CONSOLE_PATH,
                            httponly=True, samesite="strict")
        return response

    def login_page(self, message: str) -> str:
        return static_text("login.html").replace("{message}", message)

    # -- pages and data -----------------------------------------------------------------

    async def index(self, request: Request) -> Response:
        refused = self.refusal(request)
        if refused is not None:
            return HTMLResponse(self.login_page(refused), 401)
        return HTMLResponse(static_text("index.html"))

    async def static(self, request: Request) -> Response:
        name = request.path_params["name"]
        if name not in STATIC_FILES:
            return error(404, f"No console file {name!r}.")
        return Response(static_text(name), media_type=STATIC_FILES[name])

    async def state(self, request: Request) -> Response:
        refused = self.refusal(request)
        if refused is not None:
            return error(401, refused)
        functions = await anyio.to_thread.run_sync(functions_of, self.lab)
        panels = await anyio.to_thread.run_sync(panels_of, self.lab)
        settings = await anyio.to_thread.run_sync(self.lab.get_account_settings)
        queued = await anyio.to_thread.run_sync(queue_of, self.lab)
        return JSONResponse({
            **self.feed.snapshot(), "functions": functions, "panels": panels,
            "now": self.lab.clock.now(),
            "virtual_clock": isinstance(self.lab.clock, VirtualClock),
            "region": self.lab.arns.region,
            "account_limit": settings["AccountLimit"]["ConcurrentExecutions"],
            "queue": queued,
        })

    async def panels(self, request: Request) -> Response:
        refused = self.refusal(request)
        if refused is not None:
            return error(401, refused)
        title = request.query_params.get("title")
        return JSONResponse({"panels": await anyio.to_thread.run_sync(panels_of, self.lab, title)})

    async def logs(self, request: Request) -> Response:
        refused = self.refusal(request)
        if refused is not None:
            return error(401, refused)
        pattern = request.query_params.get("filter", "")
        if len(pattern) > LOG_FILTER_MAX_CHARS:
            return error(400, f"A filter pattern has at most {LOG_FILTER_MAX_CHARS} characters.")
        try:
            events = await anyio.to_thread.run_sync(log_tail, self.lab, pattern)
        except PatternError as e:
            return error(400, str(e))
        return JSONResponse({"events": events})

    async def queue(self, request: Request) -> Response:
        refused = self.refusal(request)
        if refused is not None:
            return error(401, refused)
        queued = await anyio.to_thread.run_sync(queue_of, self.lab)
        return JSONResponse({"queue": queued, "async_ended": self.feed.ended_json(),
                             "now": self.lab.clock.now()})

    async def invoke(self, request: Request) -> Response:
        refused = self.refusal(request)
        if refused is not None:
            return error(401, refused)
        detail = self.feed.detail(request.path_params["n"])
        if detail is None:
            return error(404, "The console no longer keeps that invoke (it keeps the latest "
                              "ones), or never saw it.")
        return JSONResponse(await anyio.to_thread.run_sync(invoke_details, self.lab, detail))

    async def events(self, request: Request) -> Response:
        refused = self.refusal(request)
        if refused is not None:
            return error(401, refused)
        stopping = request.scope.get(EDGE_STOPPING_SCOPE_KEY)
        return StreamingResponse(self.stream(stopping), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store"})

    async def stream(self, stopping: asyncio.Event | None) -> AsyncIterator[str]:
        """Events as they come, until the browser leaves or the edge stops (the
        browser's EventSource reconnects by itself when the edge is back)."""
        subscriber = self.feed.subscribe()
        ender = asyncio.get_running_loop().create_task(_end_on(stopping, subscriber)) if stopping else None
        try:
            yield "retry: 1000\n\n" + sse("hello", {"now": self.lab.clock.now()})
            while not subscriber.ending:
                with anyio.move_on_after(HEARTBEAT_SECONDS):
                    await subscriber.wake.wait()
                yield "".join(self.feed.take(subscriber)) or ": heartbeat\n\n"
        finally:
            if ender is not None:
                ender.cancel()
            self.feed.unsubscribe(subscriber)

    def action_refusal(self, request: Request) -> Response | None:
        """Why ``request`` may not change the lab, as the answer to give, or ``None``."""
        refused = self.refusal(request)
        if refused is not None:
            return error(401, refused)
        if request.headers.get(ACTION_HEADER) != "1":
            return error(403, f"A console action needs the header {ACTION_HEADER}: 1.")
        return None

    async def invoke_action(self, request: Request) -> Response:
        """The event is the body, as Invoke takes it; the function is in the query."""
        refused = self.action_refusal(request)
        if refused is not None:
            return refused
        event = await limited_body(request, limits.SYNC_PAYLOAD_MAX_BYTES)
        if event is None:  # past Invoke's quota: let the Lab refuse it in AWS's words
            event = b" " * (limits.SYNC_PAYLOAD_MAX_BYTES + 1)
        fields = dict(request.query_params)
        return _answer(*await anyio.to_thread.run_sync(actions.invoke, self.lab, fields, event))

    async def publish_action(self, request: Request) -> Response:
        return await self._json_action(request, actions.publish)

    async def alias_action(self, request: Request) -> Response:
        return await self._json_action(request, actions.set_alias)

    async def _json_action(self, request: Request, action: Any) -> Response:
        refused = self.action_refusal(request)
        if refused is not None:
            return refused
        try:
            fields = json.loads(await limited_body(request) or b"")
        except (ValueError, RecursionError):  # not JSON, not UTF-8, too deep, or too long
            fields = None
        if not isinstance(fields, dict):
            return _answer(*actions.refused(f"Send a JSON object of at most {BODY_MAX_BYTES} bytes."))
        status, answer = await anyio.to_thread.run_sync(action, self.lab, fields)
        if status == 200:  # the Python API calls no api_call hook: say what changed
            self.feed.changed("functions")
        return _answer(status, answer)

    async def clock(self, request: Request) -> Response:
        refused = self.action_refusal(request)
        if refused is not None:
            return refused
        body = await limited_body(request)
        seconds = _seconds_in(body)
        if seconds is None:
            return error(400, 'Send {"seconds": N}, N a number of seconds from 0 to '
                              f"{CLOCK_STEP_MAX_SECONDS:.0f}.")
        clock = self.lab.clock
        if not isinstance(clock, VirtualClock):
            return error(409, "This lab runs on the real clock, which nobody can advance. To "
                              "move time by hand, open it with Lab(clock=VirtualClock()).")
        await anyio.to_thread.run_sync(self._advance, clock, seconds)
        return JSONResponse({"now": clock.now()})

    def _advance(self, clock: VirtualClock, seconds: float) -> None:
        with self._clock_lock:  # one step at a time: timers run in order
            clock.advance(seconds)
        self.feed.changed("clock")


async def _end_on(stopping: asyncio.Event, subscriber: Subscriber) -> None:
    await stopping.wait()
    subscriber.ending = True
    subscriber.wake.set()


def _answer(status: int, answer: dict[str, Any]) -> JSONResponse:
    return JSONResponse(answer, status)


def _seconds_in(body: bytes | None) -> float | None:
    """The ``seconds`` a clock request asks for, when it is a sane number."""
    try:
        seconds = json.loads(body or b"").get("seconds")
    except (ValueError, AttributeError, RecursionError):
        return None
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
        return None
    try:
        seconds = float(seconds)
    except OverflowError:  # an integer of hundreds of digits
        return None
    return seconds if math.isfinite(seconds) and 0 <= seconds <= CLOCK_STEP_MAX_SECONDS else None
