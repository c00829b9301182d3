"""API Gateway's state: REST APIs (``apigateway``) and HTTP APIs (``apigatewayv2``).

Each API is one document in the lab's database, kept in AWS's own field names (the
output shapes of botocore's models: ``RestApi``, ``Resource``, ``Method``,
``Integration``, ``Stage``; v2's ``Api``, ``Route``, ``Integration``, ``Stage``), so
an operation's answer is the document's public part. Keys starting with ``_`` hold the
API's children and are never sent. This module never touches HTTP.

The Python API here is what ``lambdalab deploy`` (SAM's ``Api`` and ``HttpApi`` events)
calls; the management operations of :mod:`.responses` call it too.
"""

from __future__ import annotations

import copy
import functools
import json
import re
import secrets
import string
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, TypeVar

from lambdalab.plugin import parse_function_ref

from .exceptions import BadRequestException, ConflictException, NotFoundException

if TYPE_CHECKING:
    from lambdalab import Lab

T = TypeVar("T")

MIGRATIONS: dict[str, str] = {
    "apigateway-1": """
    CREATE TABLE apigateway_apis (
        id TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        config TEXT NOT NULL
    );
    """,
}

REST = "REST"
HTTP = "HTTP"
#: The methods a REST method or an HTTP route may name
#: (https://docs.aws.amazon.com/apigateway/latest/api/API_PutMethod.html).
METHODS = ("ANY", "DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")
DEFAULT_ROUTE = "$default"
DEFAULT_STAGE = "$default"
#: A path part: letters, digits and ``-._~:@!$&'()*+,;=``, or ``{name}``/``{name+}``
#: (https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-method-settings-method-request.html).
_PATH_PART = re.compile(r"^(\{[A-Za-z0-9._-]+\+?\}|[A-Za-z0-9._~:@!$&'()*+,;=-]+)$")
_ID_ALPHABET = string.ascii_lowercase + string.digits
#: ``arn:aws:apigateway:<region>:lambda:path/2015-03-31/functions/<function arn>/invocations``
_LAMBDA_URI = re.compile(
    r"^arn:aws[a-z-]*:apigateway:[a-z0-9-]+:lambda:path/2015-03-31/functions/(?P<arn>.+)/invocations$")


def new_id(length: int = 10) -> str:
    """An id as API Gateway makes them: lower-case letters and digits."""
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(length))


def public(document: dict[str, Any]) -> dict[str, Any]:
    """``document`` without its private (``_``) keys: the operation's output."""
    return {k: v for k, v in document.items() if not k.startswith("_")}


def function_of(uri: str) -> str:
    """The function an ``AWS_PROXY`` integration URI names: a function ARN (qualified or
    not), or the Lambda invocation URI around one."""
    found = _LAMBDA_URI.match(uri)
    target = found.group("arn") if found else uri
    try:
        parse_function_ref(target)
    except Exception:
        raise BadRequestException(
            f"Invalid integration URI specified: {uri!r}. Give a Lambda function ARN, or "
            "arn:aws:apigateway:<region>:lambda:path/2015-03-31/functions/<function ARN>/invocations."
        ) from None
    return target


def split_path(path: str) -> list[str]:
    return [part for part in path.split("/") if part]


@dataclass(frozen=True)
class Match:
    """Which resource (REST) or route (HTTP) a request reached, and its path parameters."""

    target: dict[str, Any]
    template: str
    path_parameters: dict[str, str] = field(default_factory=dict)


def match_path(template: str, path: str, *, greedy_may_be_empty: bool = False
               ) -> tuple[tuple[int, ...], dict[str, str]] | None:
    """How well ``template`` (``/items/{id}``, ``/{proxy+}``) matches ``path``: a score
    (literal parts beat ``{name}``, which beats a greedy ``{name+}``) and the path
    parameters, or ``None``. An HTTP API's greedy parameter also matches nothing (``/``
    reaches ``ANY /{proxy+}`` with ``proxy`` ``""``, as AWS's recorded events show); a
    REST API's needs one part at least (``/`` is the root resource's)."""
    wanted, given = split_path(template), split_path(path)
    score: list[int] = []
    params: dict[str, str] = {}
    for i, part in enumerate(wanted):
        if part.startswith("{") and part.endswith("+}"):
            if i >= len(given) and not greedy_may_be_empty:
                return None
            params[part[1:-2]] = "/".join(given[i:])
            return (*score, 0), params
        if i >= len(given):
            return None
        if part.startswith("{") and part.endswith("}"):
            params[part[1:-1]] = given[i]
            score.append(1)
        elif part != given[i]:
            return None
        else:
            score.append(2)
    return (tuple(score), params) if len(wanted) == len(given) else None


def _one_at_a_time(method: Callable[..., T]) -> Callable[..., T]:
    """An API's document is read, changed and written back whole: changes to APIs run one
    at a time, so two concurrent calls (the edge serves each in a thread) lose neither."""

    @functools.wraps(method)
    def serialized(self: "ApiGateway", *args: Any, **kwargs: Any) -> T:
        with self._changing:
            return method(self, *args, **kwargs)

    return serialized


class ApiGateway:
    """The REST and HTTP APIs of one :class:`~lambdalab.Lab`, durable in its data dir."""

    def __init__(self, lab: "Lab") -> None:
        self.lab = lab
        self._changing = threading.Lock()

    # -- storage --------------------------------------------------------------------------

    def _load(self, api_id: Any, kind: str) -> dict[str, Any]:
        rows = self.lab.store.query(
            "SELECT config FROM apigateway_apis WHERE id = ? AND kind = ?", (str(api_id), kind))
        if not rows:
            what = "REST API" if kind == REST else "API"
            raise NotFoundException(f"Invalid {what} identifier specified {self.lab.arns.account_id}:{api_id}")
        loaded: dict[str, Any] = json.loads(rows[0]["config"])
        return loaded

    def _save(self, api: dict[str, Any], kind: str) -> dict[str, Any]:
        api_id = api["id"] if kind == REST else api["ApiId"]
        with self.lab.store.transaction() as db:
            db.execute("INSERT OR REPLACE INTO apigateway_apis (id, kind, config) VALUES (?, ?, ?)",
                       (api_id, kind, json.dumps(api)))
        return api

    def _all(self, kind: str) -> list[dict[str, Any]]:
        rows = self.lab.store.query("SELECT config FROM apigateway_apis WHERE kind = ? ORDER BY id", (kind,))
        return [json.loads(row["config"]) for row in rows]

    def _delete(self, api_id: Any, kind: str) -> None:
        self._load(api_id, kind)
        with self.lab.store.transaction() as db:
            db.execute("DELETE FROM apigateway_apis WHERE id = ?", (str(api_id),))

    def kind_of(self, api_id: str) -> str | None:
        rows = self.lab.store.query("SELECT kind FROM apigateway_apis WHERE id = ?", (api_id,))
        return str(rows[0]["kind"]) if rows else None

    def execution_arn(self, api_id: str) -> str:
        """``arn:aws:execute-api:<region>:<account>:<api-id>``: what a function's resource
        policy names as ``AWS:SourceArn`` (with ``/<stage>/<method>/<path>`` after it)."""
        return f"arn:aws:execute-api:{self.lab.arns.region}:{self.lab.arns.account_id}:{api_id}"

    # -- REST APIs ------------------------------------------------------------------------

    def create_rest_api(self, name: str, *, description: str | None = None,
                        binary_media_types: list[str] | None = None) -> dict[str, Any]:
        """A REST API with its root resource ``/``: CreateRestApi's output."""
        if not name:
            raise BadRequestException("Invalid REST API name specified: give the API a name.")
        root = new_id()
        api: dict[str, Any] = {
            "id": new_id(), "name": name, "createdDate": self.lab.clock.now(),
            "binaryMediaTypes": list(binary_media_types or []), "apiKeySource": "HEADER",
            "endpointConfiguration": {"types": ["EDGE"]}, "disableExecuteApiEndpoint": False,
            "rootResourceId": root,
            "_resources": {root: {"id": root, "path": "/"}}, "_deployments": {}, "_stages": {},
            "_authorizers": {},
        }
        if description is not None:
            api["description"] = description
        return public(self._save(api, REST))

    def get_rest_api(self, api_id: str) -> dict[str, Any]:
        return public(self._load(api_id, REST))

    def get_rest_apis(self) -> list[dict[str, Any]]:
        return [public(api) for api in self._all(REST)]

    def delete_rest_api(self, api_id: str) -> None:
        self._delete(api_id, REST)

    def get_resources(self, api_id: str) -> list[dict[str, Any]]:
        return list(self._load(api_id, REST)["_resources"].values())

    @_one_at_a_time
    def create_resource(self, api_id: str, parent_id: str, path_part: str) -> dict[str, Any]:
        """A child of ``parent_id`` at ``path_part`` (``items``, ``{id}``, ``{proxy+}``)."""
        api = self._load(api_id, REST)
        parent = api["_resources"].get(parent_id)
        if parent is None:
            raise NotFoundException(f"Invalid Resource identifier specified: {parent_id}")
        if not isinstance(path_part, str) or not _PATH_PART.match(path_part):
            raise BadRequestException(
                f"Resource's path part only allow a-zA-Z0-9._- and curly braces at the beginning "
                f"and the end and an optional plus sign before the closing brace: {path_part!r}.")
        if parent["path"].rstrip("/").endswith("+}"):
            raise BadRequestException("A greedy path variable ({name+}) must be the last part of a path.")
        path = parent["path"].rstrip("/") + "/" + path_part
        if any(r["path"] == path for r in api["_resources"].values()):
            raise ConflictException(f"Another resource with the same parent already has this name: {path_part}")
        resource = {"id": new_id(6), "parentId": parent_id, "pathPart": path_part, "path": path}
        api["_resources"][resource["id"]] = resource
        self._save(api, REST)
        return resource

    def _resource(self, api: dict[str, Any], resource_id: str) -> dict[str, Any]:
        found: dict[str, Any] | None = api["_resources"].get(resource_id)
        if found is None:
            raise NotFoundException(f"Invalid Resource identifier specified: {resource_id}")
        return found

    @_one_at_a_time
    def put_method(self, api_id: str, resource_id: str, http_method: str,
                   authorization_type: str = "NONE", authorizer_id: str | None = None) -> dict[str, Any]:
        """A method; ``CUSTOM`` with ``authorizer_id`` runs that Lambda authorizer first."""
        api = self._load(api_id, REST)
        resource = self._resource(api, resource_id)
        method_name = _method(http_method)
        if authorization_type not in ("NONE", "CUSTOM"):
            raise BadRequestException(
                f"lambdalab's REST APIs take authorizationType NONE or CUSTOM, not {authorization_type!r}.")
        if authorization_type == "CUSTOM" and authorizer_id not in api.get("_authorizers", {}):
            raise BadRequestException("Invalid authorizer ID specified. Setting the authorization type "
                                      "to CUSTOM requires a valid authorizer.")
        method = {"httpMethod": method_name, "authorizationType": authorization_type,
                  "apiKeyRequired": False}
        if authorization_type == "CUSTOM":
            method["authorizerId"] = authorizer_id
        resource.setdefault("resourceMethods", {})[method_name] = method
        self._save(api, REST)
        return method

    @_one_at_a_time
    def put_integration(self, api_id: str, resource_id: str, http_method: str, *,
                        type: str, uri: str | None = None,
                        integration_http_method: str | None = "POST") -> dict[str, Any]:
        """An ``AWS_PROXY`` integration of a method with a Lambda function (``uri``)."""
        api = self._load(api_id, REST)
        method = (self._resource(api, resource_id).get("resourceMethods") or {}).get(_method(http_method))
        if method is None:
            raise NotFoundException("Invalid Method identifier specified")
        if type != "AWS_PROXY":
            raise BadRequestException(
                f"lambdalab's API Gateway integrates with Lambda only: type must be AWS_PROXY, not {type!r}.")
        function_of(uri or "")
        integration: dict[str, Any] = {"type": type, "httpMethod": integration_http_method or "POST", "uri": uri,
                       "passthroughBehavior": "WHEN_NO_MATCH", "timeoutInMillis": 29000,
                       "cacheNamespace": resource_id, "cacheKeyParameters": []}
        method["methodIntegration"] = integration
        self._save(api, REST)
        return integration

    @_one_at_a_time
    def create_authorizer(self, api_id: str, name: str, type: str, authorizer_uri: str, *,
                          identity_source: str | None = None,
                          ttl_seconds: int | None = None) -> dict[str, Any]:
        """A Lambda authorizer (``TOKEN`` or ``REQUEST``) a ``CUSTOM`` method names."""
        api = self._load(api_id, REST)
        if type not in ("TOKEN", "REQUEST"):
            raise BadRequestException(f"lambdalab's authorizers are TOKEN or REQUEST, not {type!r}.")
        function_of(authorizer_uri)
        ttl = 300 if ttl_seconds is None else ttl_seconds
        if not 0 <= ttl <= 3600:
            raise BadRequestException("authorizerResultTtlInSeconds must be 0 to 3600.")
        source = identity_source or ("method.request.header.Authorization" if type == "TOKEN" else "")
        if type == "REQUEST" and ttl and not source:
            raise BadRequestException("identitySource is required when caching is enabled (TTL > 0).")
        authorizer = {"id": new_id(6), "name": name, "type": type, "authType": "custom",
                      "authorizerUri": authorizer_uri, "identitySource": source,
                      "authorizerResultTtlInSeconds": ttl}
        api.setdefault("_authorizers", {})[authorizer["id"]] = authorizer
        self._save(api, REST)
        return authorizer

    def get_authorizers(self, api_id: str) -> list[dict[str, Any]]:
        return list(self._load(api_id, REST).get("_authorizers", {}).values())

    @_one_at_a_time
    def create_deployment(self, api_id: str, stage_name: str | None = None, *,
                          description: str | None = None,
                          variables: dict[str, str] | None = None) -> dict[str, Any]:
        """A snapshot of the API's resources; with ``stage_name`` that stage serves it."""
        api = self._load(api_id, REST)
        if not any(r.get("resourceMethods") for r in api["_resources"].values()):
            raise BadRequestException("The REST API doesn't contain any methods")
        deployment: dict[str, Any] = {"id": new_id(6), "createdDate": self.lab.clock.now()}
        if description is not None:
            deployment["description"] = description
        api["_deployments"][deployment["id"]] = {**deployment, "_resources": copy.deepcopy(api["_resources"])}
        if stage_name:
            stage = api["_stages"].get(stage_name)
            if stage is None:
                api["_stages"][stage_name] = self._stage(stage_name, deployment["id"], variables)
            else:
                stage["deploymentId"], stage["lastUpdatedDate"] = deployment["id"], self.lab.clock.now()
                if variables is not None:
                    stage["variables"] = variables
        self._save(api, REST)
        return deployment

    def _stage(self, name: str, deployment_id: str, variables: dict[str, str] | None) -> dict[str, Any]:
        _check_stage_name(name)
        now = self.lab.clock.now()
        stage: dict[str, Any] = {"stageName": name, "deploymentId": deployment_id, "cacheClusterEnabled": False,
                                 "cacheClusterStatus": "NOT_AVAILABLE", "tracingEnabled": False,
                                 "createdDate": now, "lastUpdatedDate": now}
        if variables:
            stage["variables"] = dict(variables)
        return stage

    @_one_at_a_time
    def create_stage(self, api_id: str, stage_name: str, deployment_id: str, *,
                     variables: dict[str, str] | None = None) -> dict[str, Any]:
        api = self._load(api_id, REST)
        if deployment_id not in api["_deployments"]:
            raise NotFoundException(f"Invalid Deployment identifier specified: {deployment_id}")
        if stage_name in api["_stages"]:
            raise ConflictException("Stage already exists")
        stage = api["_stages"][stage_name] = self._stage(stage_name, deployment_id, variables)
        self._save(api, REST)
        return stage

    def get_stages(self, api_id: str) -> list[dict[str, Any]]:
        return list(self._load(api_id, REST)["_stages"].values())

    def match_rest(self, api_id: str, stage_name: str, method: str, path: str
                   ) -> tuple[dict[str, Any], dict[str, Any], Match | None]:
        """The API, its stage, and the deployed resource and method a request reaches
        (``None`` when none does)."""
        api = self._load(api_id, REST)
        stage = api["_stages"].get(stage_name)
        if stage is None:
            raise NotFoundException(f"No stage {stage_name!r}")
        resources = api["_deployments"][stage["deploymentId"]]["_resources"].values()
        best: tuple[tuple[int, ...], dict[str, Any], dict[str, str]] | None = None
        for resource in resources:
            scored = match_path(resource["path"], path)
            if scored is not None and (best is None or scored[0] > best[0]):
                best = (scored[0], resource, scored[1])
        if best is None:
            return api, stage, None
        methods = best[1].get("resourceMethods") or {}
        found = methods.get(method) or methods.get("ANY")
        if found is None or "methodIntegration" not in found:
            return api, stage, None
        return api, stage, Match({**found, "resourceId": best[1]["id"]}, best[1]["path"], best[2])

    # -- HTTP APIs ------------------------------------------------------------------------

    def create_api(self, name: str, *, protocol_type: str = HTTP, target: str | None = None,
                   route_key: str | None = None, description: str | None = None,
                   cors_configuration: dict[str, Any] | None = None) -> dict[str, Any]:
        """An HTTP API; with ``target`` (a function ARN) quick create's integration,
        route (``route_key``, default ``$default``) and auto-deployed ``$default`` stage
        (https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop.html#http-api-examples)."""
        if protocol_type != HTTP:
            raise BadRequestException("lambdalab serves HTTP APIs only: ProtocolType must be HTTP.")
        if not name:
            raise BadRequestException("Invalid API name: give the API a name.")
        api_id = new_id()
        api: dict[str, Any] = {
            "ApiId": api_id, "Name": name, "ProtocolType": HTTP, "CreatedDate": self.lab.clock.now(),
            "ApiEndpoint": f"https://{api_id}.execute-api.{self.lab.arns.region}.amazonaws.com",
            "ApiKeySelectionExpression": "$request.header.x-api-key",
            "RouteSelectionExpression": "$request.method $request.path",
            "DisableExecuteApiEndpoint": False,
            "_routes": {}, "_integrations": {}, "_stages": {},
        }
        if description is not None:
            api["Description"] = description
        if cors_configuration is not None:
            api["CorsConfiguration"] = cors_configuration
        if target is None:
            return public(self._save(api, HTTP))
        integration = _integration(target, "2.0")
        api["_integrations"][integration["IntegrationId"]] = integration
        route = _route(route_key or DEFAULT_ROUTE, f"integrations/{integration['IntegrationId']}")
        api["_routes"][route["RouteId"]] = route
        api["_stages"][DEFAULT_STAGE] = self._http_stage(DEFAULT_STAGE, True, None)
        return public(self._save(api, HTTP))

    def get_api(self, api_id: str) -> dict[str, Any]:
        return public(self._load(api_id, HTTP))

    def get_apis(self) -> list[dict[str, Any]]:
        return [public(api) for api in self._all(HTTP)]

    def delete_api(self, api_id: str) -> None:
        self._delete(api_id, HTTP)

    @_one_at_a_time
    def create_integration(self, api_id: str, integration_type: str, integration_uri: str, *,
                           payload_format_version: str = "2.0") -> dict[str, Any]:
        if integration_type != "AWS_PROXY":
            raise BadRequestException(
                f"lambdalab's API Gateway integrates with Lambda only: IntegrationType must be "
                f"AWS_PROXY, not {integration_type!r}.")
        api = self._load(api_id, HTTP)
        integration = _integration(integration_uri, payload_format_version)
        api["_integrations"][integration["IntegrationId"]] = integration
        self._save(api, HTTP)
        return integration

    @_one_at_a_time
    def create_route(self, api_id: str, route_key: str, target: str | None = None) -> dict[str, Any]:
        """A route (``GET /items/{id}``, ``ANY /{proxy+}``, ``$default``) to
        ``integrations/<id>``."""
        api = self._load(api_id, HTTP)
        if target is not None and target.removeprefix("integrations/") not in api["_integrations"]:
            raise NotFoundException(f"Invalid integration target {target!r}: no such integration.")
        if any(r["RouteKey"] == route_key for r in api["_routes"].values()):
            raise ConflictException(f"Route with key {route_key} already exists for this API")
        route = _route(route_key, target)
        api["_routes"][route["RouteId"]] = route
        self._save(api, HTTP)
        return route

    def get_routes(self, api_id: str) -> list[dict[str, Any]]:
        return list(self._load(api_id, HTTP)["_routes"].values())

    def _http_stage(self, name: str, auto_deploy: bool, variables: dict[str, str] | None) -> dict[str, Any]:
        if name != DEFAULT_STAGE:
            _check_stage_name(name)
        now = self.lab.clock.now()
        stage: dict[str, Any] = {"StageName": name, "AutoDeploy": auto_deploy, "CreatedDate": now,
                                 "LastUpdatedDate": now, "DefaultRouteSettings": {},
                                 "RouteSettings": {}, "StageVariables": dict(variables or {})}
        return stage

    @_one_at_a_time
    def create_http_stage(self, api_id: str, stage_name: str, *, auto_deploy: bool = False,
                          variables: dict[str, str] | None = None) -> dict[str, Any]:
        api = self._load(api_id, HTTP)
        if stage_name in api["_stages"]:
            raise ConflictException(f"Stage {stage_name} already exists")
        stage = api["_stages"][stage_name] = self._http_stage(stage_name, auto_deploy, variables)
        self._save(api, HTTP)
        return stage

    def get_http_stages(self, api_id: str) -> list[dict[str, Any]]:
        return list(self._load(api_id, HTTP)["_stages"].values())

    def match_http(self, api_id: str, stage_name: str, method: str, path: str
                   ) -> tuple[dict[str, Any], dict[str, Any], Match | None]:
        """The API, its stage, and the route and integration a request reaches: the most
        specific path, a method before ``ANY``, ``$default`` last
        (https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-routes.html)."""
        api = self._load(api_id, HTTP)
        stage = api["_stages"].get(stage_name)
        if stage is None:
            raise NotFoundException(f"No stage {stage_name!r}")
        best: tuple[tuple[tuple[int, ...], int], dict[str, Any], dict[str, str]] | None = None
        fallback = None
        for route in api["_routes"].values():
            if route["RouteKey"] == DEFAULT_ROUTE:
                fallback = route
                continue
            route_method, _, template = route["RouteKey"].partition(" ")
            if route_method not in (method, "ANY"):
                continue
            scored = match_path(template, path, greedy_may_be_empty=True)
            if scored is None:
                continue
            rank = (scored[0], int(route_method != "ANY"))
            if best is None or rank > best[0]:
                best = (rank, route, scored[1])
        if best is not None:
            route, template, params = best[1], best[1]["RouteKey"], best[2]
        elif fallback is not None:
            route, template, params = fallback, DEFAULT_ROUTE, {}
        else:
            return api, stage, None
        integration = api["_integrations"].get(str(route.get("Target", "")).removeprefix("integrations/"))
        if integration is None:
            return api, stage, None
        return api, stage, Match(integration, template, params)


def _method(name: Any) -> str:
    method = str(name).upper()
    if method not in METHODS:
        raise BadRequestException(f"Invalid HttpMethod specified. Valid options are {','.join(METHODS)}")
    return method


def _check_stage_name(name: Any) -> None:
    if not isinstance(name, str) or not re.match(r"^[A-Za-z0-9_-]{1,128}$", name):
        raise BadRequestException(
            "Stage name only allows a-zA-Z0-9_- and at most 128 characters.")


def _integration(uri: str, payload_format_version: str) -> dict[str, Any]:
    function_of(uri)
    if payload_format_version not in ("1.0", "2.0"):
        raise BadRequestException("PayloadFormatVersion must be 1.0 or 2.0.")
    return {"IntegrationId": new_id(7), "IntegrationType": "AWS_PROXY", "IntegrationUri": uri,
            "IntegrationMethod": "POST", "PayloadFormatVersion": payload_format_version,
            "ConnectionType": "INTERNET", "TimeoutInMillis": 30000}


def _route(route_key: str, target: str | None) -> dict[str, Any]:
    """A route, its key checked: ``$default`` or ``METHOD /path``."""
    if route_key != DEFAULT_ROUTE:
        method, _, path = str(route_key).partition(" ")
        if method not in METHODS or not path.startswith("/") or not all(
                _PATH_PART.match(p) for p in split_path(path)):
            raise BadRequestException(
                f"Unable to create route {route_key!r}. A route key is $default or "
                "'METHOD /path' (e.g. 'GET /items/{id}', 'ANY /{proxy+}').")
    route: dict[str, Any] = {"RouteId": new_id(7), "RouteKey": route_key, "AuthorizationType": "NONE",
                             "ApiKeyRequired": False}
    if target is not None:
        route["Target"] = target
    return route
