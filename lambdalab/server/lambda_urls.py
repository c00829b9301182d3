"""The Lambda REST API's routes: method and path → the operation that answers.

Paths are written exactly as botocore's ``lambda/2015-03-31/service-2.json`` writes each
operation's ``requestUri`` (the date prefixes differ: AWS added operations over years),
and ``tests/test_edge_protocol.py`` checks every one against that model. Routing only:
what an operation does is in :mod:`lambdalab.server.lambda_responses`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from starlette.routing import compile_path

from ..errors import UnknownOperationException


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    #: The operation's name in AWS's API (``CreateFunction``); the handler is its
    #: snake_case form on :class:`~lambdalab.server.lambda_responses.LambdaResponses`.
    operation: str
    #: A query parameter the request must carry (``find=LayerVersion``): botocore's
    #: requestUri tells GetLayerVersionByArn from ListLayers by it alone.
    query: str = ""

    @property
    def handler(self) -> str:
        return re.sub(r"(?<!^)(?=[A-Z])", "_", self.operation).lower()


_FN = "/2015-03-31/functions/{FunctionName}"
_EIC = "/2019-09-25/functions/{FunctionName}/event-invoke-config"
_URL = "/2021-10-31/functions/{FunctionName}/url"

_ESM = "/2015-03-31/event-source-mappings"
_LAYER = "/2018-10-31/layers/{LayerName}/versions"

ROUTES: tuple[Route, ...] = (
    Route("POST", "/2015-03-31/functions", "CreateFunction"),
    Route("GET", "/2015-03-31/functions", "ListFunctions"),
    Route("GET", _FN, "GetFunction"),
    Route("DELETE", _FN, "DeleteFunction"),
    Route("GET", f"{_FN}/configuration", "GetFunctionConfiguration"),
    Route("PUT", f"{_FN}/configuration", "UpdateFunctionConfiguration"),
    Route("PUT", f"{_FN}/code", "UpdateFunctionCode"),
    Route("POST", f"{_FN}/invocations", "Invoke"),
    Route("POST", f"{_FN}/versions", "PublishVersion"),
    Route("GET", f"{_FN}/versions", "ListVersionsByFunction"),
    Route("POST", f"{_FN}/aliases", "CreateAlias"),
    Route("GET", f"{_FN}/aliases", "ListAliases"),
    Route("GET", f"{_FN}/aliases/{{Name}}", "GetAlias"),
    Route("PUT", f"{_FN}/aliases/{{Name}}", "UpdateAlias"),
    Route("DELETE", f"{_FN}/aliases/{{Name}}", "DeleteAlias"),
    Route("PUT", "/2017-10-31/functions/{FunctionName}/concurrency", "PutFunctionConcurrency"),
    Route("GET", "/2019-09-30/functions/{FunctionName}/concurrency", "GetFunctionConcurrency"),
    Route(
        "DELETE", "/2017-10-31/functions/{FunctionName}/concurrency", "DeleteFunctionConcurrency"
    ),
    Route("POST", f"{_FN}/policy", "AddPermission"),
    Route("GET", f"{_FN}/policy", "GetPolicy"),
    Route("DELETE", f"{_FN}/policy/{{StatementId}}", "RemovePermission"),
    Route("GET", "/2016-08-19/account-settings", "GetAccountSettings"),
    Route("PUT", _EIC, "PutFunctionEventInvokeConfig"),
    Route("POST", _EIC, "UpdateFunctionEventInvokeConfig"),
    Route("GET", _EIC, "GetFunctionEventInvokeConfig"),
    Route("DELETE", _EIC, "DeleteFunctionEventInvokeConfig"),
    Route("GET", f"{_EIC}/list", "ListFunctionEventInvokeConfigs"),
    Route("POST", _URL, "CreateFunctionUrlConfig"),
    Route("GET", _URL, "GetFunctionUrlConfig"),
    Route("PUT", _URL, "UpdateFunctionUrlConfig"),
    Route("DELETE", _URL, "DeleteFunctionUrlConfig"),
    Route("GET", "/2021-10-31/functions/{FunctionName}/urls", "ListFunctionUrlConfigs"),
    Route("GET", "/2020-06-30/functions/{FunctionName}/code-signing-config",
          "GetFunctionCodeSigningConfig"),
    Route("POST", "/2014-11-13/functions/{FunctionName}/invoke-async", "InvokeAsync"),
    Route("POST", "/2017-03-31/tags/{Resource}", "TagResource"),
    Route("DELETE", "/2017-03-31/tags/{Resource}", "UntagResource"),
    Route("GET", "/2017-03-31/tags/{Resource}", "ListTags"),
    Route("POST", _ESM, "CreateEventSourceMapping"),
    Route("GET", _ESM, "ListEventSourceMappings"),
    Route("GET", f"{_ESM}/{{UUID}}", "GetEventSourceMapping"),
    Route("PUT", f"{_ESM}/{{UUID}}", "UpdateEventSourceMapping"),
    Route("DELETE", f"{_ESM}/{{UUID}}", "DeleteEventSourceMapping"),
    *(  # layers: lambdalab.server.layer_responses
        Route("GET", "/2018-10-31/layers", "GetLayerVersionByArn", query="find=LayerVersion"),
        Route("GET", "/2018-10-31/layers", "ListLayers"),
        Route("POST", _LAYER, "PublishLayerVersion"),
        Route("GET", _LAYER, "ListLayerVersions"),
        Route("GET", f"{_LAYER}/{{VersionNumber}}", "GetLayerVersion"),
        Route("DELETE", f"{_LAYER}/{{VersionNumber}}", "DeleteLayerVersion"),
        Route("POST", f"{_LAYER}/{{VersionNumber}}/policy", "AddLayerVersionPermission"),
        Route("GET", f"{_LAYER}/{{VersionNumber}}/policy", "GetLayerVersionPolicy"),
        Route(
            "DELETE",
            f"{_LAYER}/{{VersionNumber}}/policy/{{StatementId}}",
            "RemoveLayerVersionPermission",
        ),
    ),
)

#: Path prefixes that identify a request as Lambda's when it carries no signature.
PATH_PREFIXES = tuple(sorted({"/" + r.path.split("/")[1] + "/" for r in ROUTES}))


class Router:
    """Finds the route for a method and a (percent-decoded) path."""

    def __init__(self, routes: tuple[Route, ...] = ROUTES) -> None:
        self._compiled = [(route, compile_path(route.path)[0]) for route in routes]

    def match(self, method: str, path: str, query: str | bytes = "") -> tuple[Route, dict[str, str]]:
        path_matched = False
        pairs = set((query.decode("latin-1") if isinstance(query, bytes) else query).split("&"))
        for route, regex in self._compiled:
            found = regex.match(path)
            if found is None or (route.query and route.query not in pairs):
                continue
            if route.method == method:
                return route, found.groupdict()
            path_matched = True
        allowed = "" if not path_matched else " (the path exists; check the HTTP method)"
        raise UnknownOperationException(
            f"No Lambda operation matches {method} {path}{allowed}. lambdalab serves the "
            "operations listed in its HTTP API reference (docs/reference/http-api)."
        )
