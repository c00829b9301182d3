"""The routes of the console's graphs (metrics, X-Ray, cost what-if): each reads its
plugin's data in a worker thread and answers JSON, 404 when the plugin is not loaded
(or the trace is unknown); the console's key check comes first, as for every read."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from lambdalab import Lab

from . import graphs, traces, whatif

if TYPE_CHECKING:
    from .web import Console


def read_route(console: "Console", path: str, read: Callable[[Lab, Request], Any],
               missing: str) -> Route:
    """A GET route answering ``read(lab, request)``, or 404 with ``missing`` for ``None``."""

    async def endpoint(request: Request) -> Response:
        refused = console.refusal(request)
        if refused is not None:
            return JSONResponse({"message": refused}, 401)
        answer = await anyio.to_thread.run_sync(read, console.lab, request)
        if answer is None:
            return JSONResponse({"message": missing}, 404)
        return JSONResponse(answer)

    return Route(path, endpoint)


_NO_XRAY = "The X-Ray plugin (lambdalab_xray) is not loaded: no traces to draw."


def graph_routes(console: "Console") -> list[Route]:
    return [
        read_route(console, "/api/graphs/metrics",
                   lambda lab, request: graphs.metric_graphs(lab, request.query_params.getlist("function") or None),
                   "The CloudWatch plugin (lambdalab_cloudwatch) is not loaded: no metrics to draw."),
        read_route(console, "/api/graphs/services", lambda lab, _: traces.service_graph(lab), _NO_XRAY),
        read_route(console, "/api/traces", lambda lab, _: _listed(traces.trace_list(lab)), _NO_XRAY),
        read_route(console, "/api/traces/{trace_id}",
                   lambda lab, request: traces.timeline(lab, request.path_params["trace_id"]),
                   "No such trace in this lab (or the X-Ray plugin is not loaded). A trace id "
                   "looks like 1-5759e988-bd862e3fe1be46a994272793."),
        read_route(console, "/api/whatif", lambda lab, _: whatif.what_if(lab),
                   "The cost plugin (lambdalab_cost) is not loaded: nothing to price."),
    ]


def _listed(found: list[dict[str, Any]] | None) -> dict[str, Any] | None:
    return None if found is None else {"traces": found}
