"""The edge: one ASGI app, one port, every emulated service.

A request finds its service the way AWS clients address one
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html):

1. ``GET /_lambdalab/health`` is the edge's own, and so is ``/_lambdalab/cli/``, what
   the ``lambdalab`` command reads through a server beyond the Lambda API;
2. ``/_lambdalab/url/<url-id>/`` is a function URL, in whichever region made it, and
   ``/_lambdalab/apis/<api-id>/`` an API Gateway API of the home region (the plugin
   serving SigV4 service ``execute-api`` answers it); both are public, unsigned;
3. the service name in the SigV4 credential scope of the ``Authorization`` header
   (``Credential=AKID/20240501/us-east-1/lambda/aws4_request``), which every SDK sends,
   or of a presigned URL's ``X-Amz-Credential`` query parameter (an S3 URL any HTTP
   client can use: past its ``X-Amz-Expires`` on the lab's clock it is refused);
4. for unsigned requests: the ``X-Amz-Target`` prefix (JSON protocols), then the path
   prefix, where a service claims one, then the host name (S3's ``s3.localhost`` and
   ``BUCKET.s3.localhost``: an anonymous request to a bucket).

The same scope's region picks the :class:`~lambdalab.Lab` that answers
(:class:`~lambdalab.regions.Regions`): each region has its own functions, queues and
buckets, as on AWS (https://docs.aws.amazon.com/general/latest/gr/rande.html). A request
that names no region (unsigned, or a SigV2 presigned URL) is the home region's.

Lambda is built in (:mod:`~lambdalab.server.lambda_service`, on the protocol layer like
every service); plugins add services through the ``lambdalab_http_services`` hook.
Blocking work (every Lab call) runs in a thread pool, so a slow invoke never holds up
another request. The edge's own answers (health, a code zip, the CLI's reads, and an error
before a service is known) are JSON; an error of the edge carries its code in the
``x-amzn-ErrorType`` header and in the body's ``__type``, where clients of every JSON
protocol look for it.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import re
import threading
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Mapping, MutableMapping

import anyio
import anyio.to_thread
from starlette.datastructures import Headers, QueryParams

from .. import limits
from ..errors import (
    InvalidParameterValueException,
    LambdaError,
    RequestEntityTooLargeException,
    ResourceNotFoundException,
    UnknownOperationException,
)
from ..invocation.invoker import new_request_id
from ..lab import Lab
from ..protocol import HttpResponse, ServiceError, serializer_for
from ..protocol.calls import LAB_SCOPE_KEY
from ..protocol.service import ProtocolService, send_response, service_error
from ..regions import Regions
from .auth import CredentialScope, SignedRequest, SigV4Verifier, credential_scope, query_signature
from .bodies import (  # noqa: F401  (re-exported: the plugin toolkit names them here)
    IncompleteRequestBody,
    RequestBodyTooLarge,
    read_body,
    receive_body,
)
from .bodies import LENGTH_DIGITS_MAX
from .function_url_service import FunctionUrlService
from .http_service import (
    EDGE_KEYS_SCOPE_KEY,
    EDGE_STOPPING_SCOPE_KEY,
    ASGIApp,
    HttpService,
    Message,
    Receive,
    Scope,
    Send,
)
from .lambda_service import HEADERS_SCOPE_KEY, LambdaService, is_function_url, lowered_headers, path_prefixes

HEALTH_PATH = "/_lambdalab/health"
#: The CLI's own reads (:meth:`Edge.for_cli`); not part of any AWS API.
CLI_PATH = "/_lambdalab/cli/"
#: Where plugins' pages for a browser live (a console): unsigned, see :class:`HttpService`.
PAGES_PATH = "/_lambdalab/"
#: API Gateway's APIs, by id: ``<api-id>/<stage>/<path>`` (on AWS the host name names the API).
APIS_PATH = "/_lambdalab/apis/"
_SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")
#: Threads serving blocking Lab calls at once, beyond the account's concurrency: enough
#: that requests meet Lambda's throttling, never a queue in front of a thread.
SPARE_WORKER_THREADS = 64

log = logging.getLogger("lambdalab.server")


# -- the edge -------------------------------------------------------------------------


def json_response(value: Any) -> HttpResponse:
    """One of the edge's own answers (not an AWS API's): 200, JSON."""
    return HttpResponse(200, {"Content-Type": "application/json", "x-amzn-RequestId": new_request_id()},
                        json.dumps(value).encode())


def edge_error(error: LambdaError) -> HttpResponse:
    """An error of the edge itself, before a service is known: AWS JSON's error shape
    (``__type`` and ``message``, the code in ``x-amzn-ErrorType`` too), which clients of
    REST-JSON and of every JSON protocol read."""
    return serializer_for("lambda", "json").error(service_error(error), new_request_id())


class _InServiceShape(Exception):
    """An edge check's error (a presigned URL's) to answer as ``service`` answers its
    own errors, when it is on the protocol layer; else in the edge's JSON."""

    def __init__(self, error: ServiceError, service: HttpService) -> None:
        super().__init__(error.message)
        self.error, self.service = error, service

    def response(self) -> HttpResponse:
        app = self.service.app
        if isinstance(app, ProtocolService):
            return app.serializer.error(self.error, app.new_request_id())
        return serializer_for("lambda", "json").error(self.error, new_request_id())


@dataclass
class Edge:
    """The ASGI app ``lambdalab serve`` runs: health, auth, and dispatch to a service of
    the region the request is signed for."""

    regions: Regions
    verifier: SigV4Verifier | None = None
    #: Services to serve in every region besides the plugins' (tests use this).
    extra_services: tuple[HttpService, ...] = ()
    #: Answer a synchronous Invoke before recording it (:class:`LambdaService`).
    answer_first: bool = False
    _served: dict[str, dict[str, HttpService]] = field(default_factory=dict, repr=False)
    _serving: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _function_urls: FunctionUrlService | None = field(default=None, repr=False)
    #: Set when the server begins to stop, on the event loop serving it.
    _stopping: tuple[asyncio.AbstractEventLoop, asyncio.Event] | None = field(default=None, repr=False)

    def stopping(self) -> asyncio.Event:
        """The event the server sets when it begins to stop (one per event loop: an
        edge may be served again after a stop)."""
        loop = asyncio.get_running_loop()
        if self._stopping is None or self._stopping[0] is not loop:
            self._stopping = (loop, asyncio.Event())
        return self._stopping[1]

    def begin_stopping(self) -> None:
        """Tell pages that stream to end (called on the server's loop as it stops)."""
        if self._stopping is not None:
            self._stopping[1].set()

    @property
    def lab(self) -> Lab:
        """The home region's lab: unsigned requests and the CLI's reads are its."""
        return self.regions.home

    @property
    def services(self) -> dict[str, HttpService]:
        """The services the edge serves, by SigV4 name (the home region's instances)."""
        return self.services_of(self.lab)

    def services_of(self, lab: Lab) -> dict[str, HttpService]:
        """Lambda and every plugin's service over ``lab``, made on first need."""
        region = lab.arns.region
        served = self._served.get(region)
        if served is not None:  # every request after the region's first: no lock
            return served
        with self._serving:
            if region not in self._served:
                self._served[region] = services_over(lab, self.extra_services, self.answer_first)
            return self._served[region]

    @property
    def function_urls(self) -> FunctionUrlService:
        if self._function_urls is None:
            self._function_urls = FunctionUrlService(self.regions.function_url, limiter_for(self.lab),
                                                     self.verifier)
        return self._function_urls

    async def __call__(self, scope: Scope, receive: Receive, send_: Send) -> None:
        if scope["type"] != "http":
            return  # lifespan and websockets: nothing to do
        if scope["path"].startswith(PAGES_PATH) and await self._serve_own(scope, receive, send_):
            return
        try:
            headers, first = request_headers(scope)
            query_string = scope["query_string"].decode("latin-1")
            authorization = first.get("authorization")
            signed = credential_scope(authorization, query_string) if authorization or query_string else None
            service = self.service_for(scope["path"], first, signed)
            if query_string or self.verifier is not None:
                receive = await self._admit(scope, receive, first, service)
            if signed is not None and signed.region:
                # Only an admitted request opens a region: no stranger makes folders.
                lab = await self.lab_for(signed, service)
                service = self.in_region(lab, service)
            else:
                lab = self.lab
        except LambdaError as e:
            await send_response(edge_error(e), scope["method"], send_)
            return
        except _InServiceShape as e:
            await send_response(e.response(), scope["method"], send_)
            return
        except IncompleteRequestBody:
            return  # the client is gone: nothing to run, nobody to answer
        # The scope is this request's own (the server makes one per request): no copy.
        scope[LAB_SCOPE_KEY] = lab
        scope[HEADERS_SCOPE_KEY] = headers
        try:
            await service.app(scope, receive, send_)
        except IncompleteRequestBody:
            return

    async def _serve_own(self, scope: Scope, receive: Receive, send_: Send) -> bool:
        """Answer a path under ``/_lambdalab/`` the edge serves itself (health, code, the
        CLI's reads, function URLs, APIs, plugins' pages); False for any other."""
        path = scope["path"]
        try:
            if path == HEALTH_PATH:
                await send_response(self.health(), scope["method"], send_)
            elif path.startswith(limits.CODE_PATH):
                await send_response(self.code(scope["method"], path), scope["method"], send_)
            elif path.startswith(CLI_PATH):
                await send_response(await self.for_cli(scope), scope["method"], send_)
            elif is_function_url(path):
                await self.function_urls(scope, receive, send_)
            elif path.startswith(APIS_PATH) and "execute-api" in self.services:
                keys = dict(self.verifier.keys) if self.verifier is not None else None
                await self.services["execute-api"].app({**scope, LAB_SCOPE_KEY: self.lab, EDGE_KEYS_SCOPE_KEY: keys},
                                                       receive, send_)
            else:
                page = self.page_for(path)
                if page is None:
                    return False
                keys = dict(self.verifier.keys) if self.verifier is not None else None
                scope = {**scope, LAB_SCOPE_KEY: self.lab, EDGE_KEYS_SCOPE_KEY: keys,
                         EDGE_STOPPING_SCOPE_KEY: self.stopping()}
                await page.app(scope, receive, send_)
        except LambdaError as e:
            await send_response(edge_error(e), scope["method"], send_)
        except IncompleteRequestBody:
            pass  # the client is gone: nothing to run, nobody to answer
        return True

    def in_region(self, lab: Lab, service: HttpService) -> HttpService:
        """``lab``'s instance of ``service`` (found among the home region's)."""
        if lab is self.lab:
            return service
        found = self.services_of(lab).get(service.name)
        if found is None:
            raise UnknownOperationException(
                f"No service named {service.name!r} serves {lab.arns.region} on this edge (a "
                "plugin registered on the home region's lab only, after it opened?). Give "
                "plugins to Lab(plugins=...) so every region's lab has them."
            )
        return found

    async def lab_for(self, signed: CredentialScope | None, service: HttpService) -> Lab:
        """The lab of the region a request is signed for (home's when it names none),
        opened in a worker thread the first time (it reads its data dir)."""
        if signed is None or not signed.region:
            return self.lab
        region = signed.region if signed is not None and signed.region else self.lab.arns.region
        if self.regions.is_open(region):
            return self.regions.lab(region)
        if not self.regions.is_served(region):
            # AWS's answer to a scope naming no region it has (no endpoint would take it).
            raise _InServiceShape(ServiceError(
                "InvalidSignatureException",
                f"Credential should be scoped to a valid region, not '{region}'. "
                f"Sign for a region AWS has, e.g. {self.lab.arns.region}.", 403,
            ), service)

        def open_region() -> Lab:
            lab = self.regions.lab(region)
            self.services_of(lab)
            return lab

        return await anyio.to_thread.run_sync(open_region)

    def code(self, method: str, path: str) -> HttpResponse:
        """A function's zip, by its SHA-256: GetFunction's ``Code.Location``. Like AWS's
        presigned URL it needs no signature; the 64 hex digits are what is secret."""
        blob = path[len(limits.CODE_PATH):]
        found = self.regions.code_blob(blob) if _SHA256_HEX.match(blob) else None
        if method not in ("GET", "HEAD") or found is None:
            return edge_error(ResourceNotFoundException(
                "No code at this address. Take Code.Location from a fresh GetFunction: "
                "it names the code the function has now."
            ))
        body = found.read_bytes()
        headers = {"Content-Type": "application/zip", "x-amzn-RequestId": new_request_id()}
        return HttpResponse(200, headers, b"" if method == "HEAD" else body)

    async def for_cli(self, scope: Scope) -> HttpResponse:
        """What the ``lambdalab`` command reads through a server and the Lambda API does
        not give: ``function`` (a function's sandbox, lambdalab's own setting, the lab's
        default, and its zip's ``file://`` path, which outlives a background server's
        URL) and ``logs`` (its log events after ``AfterId``). Only on an edge
        that checks no signatures and enforces no IAM (the CLI's background server, a
        loopback ``serve``): with ``--auth-key`` or ``--enforce-iam`` a log is read
        through signed requests only."""
        what = scope["path"][len(CLI_PATH):]
        served = self.verifier is None and not self.lab.enforce_iam and scope["method"] == "GET"
        if not served or what not in ("function", "logs"):
            return edge_error(ResourceNotFoundException(f"No such lambdalab route: {scope['path']}"))
        query = QueryParams(scope["query_string"])
        try:
            return await anyio.to_thread.run_sync(functools.partial(self._cli_read, what, query))
        except LambdaError as e:
            return edge_error(e)

    def _cli_read(self, what: str, query: QueryParams) -> HttpResponse:
        name = query.get("FunctionName")
        if not name:
            raise InvalidParameterValueException("FunctionName is required.")
        if what == "function":
            config = self.lab.get_function_configuration(name, query.get("Qualifier"))
            return json_response({
                "Sandbox": config.sandbox, "DefaultSandbox": self.lab.default_sandbox,
                "CodeFile": self.lab.store.blob_path(config.code_blob).as_uri(),
            })
        after = query.get("AfterId") or "0"
        if not (after.isascii() and after.isdigit()) or len(after) > LENGTH_DIGITS_MAX:
            raise InvalidParameterValueException(f"AfterId: {after!r} is not a whole number.")
        events = self.lab.get_logs(name, after_id=int(after))
        return json_response({"Events": [
            {"Id": e.id, "Timestamp": e.timestamp, "Message": e.message} for e in events
        ]})

    def health(self) -> HttpResponse:
        return json_response({
            "status": "ok",
            "services": sorted(self.services),
            "regions": sorted(lab.arns.region for lab in self.regions),
            "data_dir": str(self.lab.store.data_dir),
            "auth": self.verifier is not None,
        })

    def page_for(self, path: str) -> HttpService | None:
        """The home region's service claiming ``path`` as a page under ``/_lambdalab/``."""
        if not path.startswith(PAGES_PATH):
            return None
        for service in self.services.values():
            if any(p.startswith(PAGES_PATH) and path.startswith(p) for p in service.path_prefixes):
                return service
        return None

    def service_for(self, path: str, headers: Mapping[str, str],
                    signed: CredentialScope | None = None) -> HttpService:
        """The service a request addresses (the home region's instance): by signature
        scope (header or presigned URL), X-Amz-Target, or path."""
        services = self.services
        if signed is not None:
            if signed.service in services:
                return services[signed.service]
            raise UnknownOperationException(
                f"This lambdalab edge serves no service named {signed.service!r} (it serves "
                f"{', '.join(sorted(services))}). Install a plugin that provides it."
            )
        target = headers.get("x-amz-target", "")
        if target:
            for service in services.values():
                if target.startswith(service.target_prefixes or ("\0",)):
                    return service
        for service in services.values():
            if service.path_prefixes and path.startswith(service.path_prefixes):
                return service
        host = headers.get("host", "")
        for service in services.values():
            if service.host_names and service.answers_host(host):
                return service
        raise UnknownOperationException(
            f"No service of this lambdalab edge answers {path}. Sign the request (any AWS "
            "SDK does) or use a path of a served service, e.g. /2015-03-31/functions."
        )

    async def _admit(self, scope: Scope, receive: Receive, headers: Mapping[str, str],
                     service: HttpService) -> Receive:
        """Refuse an expired presigned URL, and check the signature when the edge checks
        them. A presigned URL's errors are answered in its service's shape (S3's XML)."""
        try:
            if scope["query_string"] and not headers.get("authorization"):
                query = query_signature(scope["query_string"].decode("latin-1"))
                if query is not None:
                    # The lab's clock, not the wall clock: a learner advances a virtual
                    # clock to watch a URL expire (its X-Amz-Date or Expires is the signer's).
                    query.check_unexpired(self.lab.clock.now())
            if self.verifier is not None:
                return await self._authenticate(scope, receive, Headers(scope=scope))
        except ServiceError as e:
            raise _InServiceShape(e, service) from None
        return receive

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


def request_headers(scope: Scope) -> tuple[dict[str, str], dict[str, str]]:
    """A request's headers by lower-case name, decoded once: a repeated one's last value
    (as :attr:`~lambdalab.protocol.HttpRequest.lower_headers` has it, for the service)
    and its first (as Starlette's ``Headers.get`` reads it, for the edge's look-ups).
    Without a repeated header the two are one dict."""
    lowered = lowered_headers(scope)
    return lowered, lowered if len(lowered) == len(scope["headers"]) else first_headers(scope)


def first_headers(scope: Scope) -> dict[str, str]:
    """A request's headers by lower-case name, a repeated one's first value (as
    Starlette's ``Headers.get`` reads them), decoded once for the edge's few look-ups."""
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in reversed(scope["headers"])}


def limiter_for(lab: Lab) -> anyio.CapacityLimiter:
    """Threads for ``lab``'s blocking calls: its account concurrency, and spare."""
    return anyio.CapacityLimiter(lab.pool.account_limit + SPARE_WORKER_THREADS)


def services_over(lab: Lab, extra_services: tuple[HttpService, ...] = (),
                  answer_first: bool = False) -> dict[str, HttpService]:
    """Lambda over ``lab``, every service plugins offer for it, and ``extra_services``."""
    services = {
        "lambda": HttpService("lambda", LambdaService(lab, limiter_for(lab), answer_first),
                              path_prefixes=path_prefixes())
    }
    offered = lab.plugin_manager.hook.lambdalab_http_services(lab=lab)
    for service in [s for group in offered for s in group] + list(extra_services):
        if service.name in services:
            raise ValueError(
                f"Two HTTP services are named {service.name!r}; a plugin must pick a service "
                "name no other plugin (nor lambdalab's Lambda API) serves."
            )
        services[service.name] = service
    return services


def create_app(
    lab: Lab | Regions,
    *,
    auth_keys: dict[str, str] | None = None,
    extra_services: list[HttpService] | None = None,
    answer_first: bool = False,
) -> Edge:
    """The edge's ASGI app over ``lab`` (the home region's; others open when a client
    signs for them) or over ``Regions``: Lambda, plus every service plugins add.

    :param auth_keys: access key id → secret; when given, every request must carry a
        valid SigV4 signature made with one of them.
    :param extra_services: services to serve besides the plugins' (tests use this).
    :param answer_first: answer a synchronous Invoke as soon as its result is known,
        and record it (END, REPORT, hooks, metrics) right after, before the edge reads
        another request: for an edge whose labs nothing else in its process reads
        (``lambdalab serve``). Code in the same process that reads a lab right after an
        HTTP answer (a test, a notebook, a lab's check) could find it not yet recorded.
    """
    regions = lab if isinstance(lab, Regions) else Regions(lab)
    verifier = SigV4Verifier(auth_keys) if auth_keys else None
    edge = Edge(regions, verifier, tuple(extra_services or ()), answer_first)
    for lab in regions:  # home (a clash of service names shows at once) and stored regions
        edge.services_of(lab)
    return edge
