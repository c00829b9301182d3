"""API Gateway's resource types, made through the API Gateway plugin's Python API
(:func:`lambdalab_apigateway.api_gateway`).

SAM's ``Api`` and ``HttpApi`` events (and ``AWS::Serverless::Api``/``HttpApi``) become
an ``AWS::ApiGateway::RestApi`` or ``AWS::ApiGatewayV2::Api`` whose ``Body`` is an
OpenAPI definition, plus a deployment and stages; the definition is imported as API
Gateway imports one: each path a resource (REST) or route (HTTP), each
``x-amazon-apigateway-integration`` an ``AWS_PROXY`` integration
(https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-swagger-extensions-integration.html).
The raw types (``Resource``, ``Method``, ``Route``, ``Integration``…) are made one call each.

An API's children have no delete operation in lambdalab's API Gateway yet: removing one
from the template leaves it until its API goes (``docs/explanation/differences.rst``).
On AWS ``https://<api-id>.execute-api.<region>.amazonaws.com/<stage>/<path>`` names an
API; on the edge it is ``<edge>/_lambdalab/apis/<api-id>/<stage>/<path>``
(:func:`local_url`).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Iterator

from lambdalab.plugin import limits

from .resources import Context, Made, Replace, ResourceType

if TYPE_CHECKING:
    from lambdalab import Lab
    from lambdalab_apigateway import ApiGateway

#: The SigV4 service that manages APIs, whose plugin these types need.
SERVICE = "apigateway"
#: OpenAPI's method keys and API Gateway's "any method" extension, as API Gateway names them.
_OPENAPI_METHODS = {"get": "GET", "put": "PUT", "post": "POST", "delete": "DELETE", "options": "OPTIONS",
                    "head": "HEAD", "patch": "PATCH", "x-amazon-apigateway-any-method": "ANY"}
_INTEGRATION = "x-amazon-apigateway-integration"
_AWS_URL = re.compile(r"^https://(?P<api>[a-z0-9]+)\.execute-api\.[a-z0-9-]+\.amazonaws\.com(?P<rest>/.*)?$")


def _gateway(ctx: Context) -> "ApiGateway":
    from lambdalab_apigateway import api_gateway

    return api_gateway(ctx.lab)


def _gone_is_deleted(delete: Any, *args: Any) -> None:
    """Delete, and take "not found" as done: CloudFormation's delete of what is gone."""
    from lambdalab_apigateway import NotFoundException

    try:
        delete(*args)
    except NotFoundException:
        pass


def _kept_with_api(ctx: Context, made: Made) -> None:
    """An API's child goes with its API (lambdalab's API Gateway deletes no child alone)."""


def _methods(item: Any) -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(item, dict):
        for key, method in item.items():
            if key.lower() in _OPENAPI_METHODS and isinstance(method, dict):
                yield _OPENAPI_METHODS[key.lower()], method


def _paths(body: dict[str, Any]) -> dict[str, Any]:
    paths = body.get("paths") or {}
    if not isinstance(paths, dict):
        raise ValueError("Body: paths must be an object of path → methods")
    return paths


# -- REST APIs -------------------------------------------------------------------------

def create_rest_api(ctx: Context, logical_id: str, props: dict[str, Any], name: str | None) -> Made:
    if "BodyS3Location" in props:
        raise ValueError("BodyS3Location: lambdalab reads an API's OpenAPI definition from Body only")
    body = props.get("Body") or {}
    if not isinstance(body, dict):
        raise ValueError("Body must be an OpenAPI (Swagger 2.0 or 3.0) object")
    gateway = _gateway(ctx)
    media = props.get("BinaryMediaTypes") or body.get("x-amazon-apigateway-binary-media-types") or []
    api = gateway.create_rest_api(
        str(props.get("Name") or (body.get("info") or {}).get("title") or name or ctx.name(logical_id)),
        description=props.get("Description"), binary_media_types=[str(m).replace("~1", "/") for m in media])
    try:
        _import_rest(gateway, api, body)
    except Exception:
        gateway.delete_rest_api(api["id"])
        raise
    return Made(api["id"], api["id"], {"RootResourceId": api["rootResourceId"]})


def _import_rest(gateway: "ApiGateway", api: dict[str, Any], body: dict[str, Any]) -> None:
    api_id, known = api["id"], {"/": api["rootResourceId"]}
    authorizers = _rest_authorizers(gateway, api_id, body)
    for path, item in _paths(body).items():
        resource_id = _rest_resource(gateway, api_id, str(path), known)
        for method_name, method in _methods(item):
            authorizer = next((authorizers[n] for s in method.get("security") or [] for n in s
                               if n in authorizers), None)
            gateway.put_method(api_id, resource_id, method_name, "CUSTOM" if authorizer else "NONE", authorizer)
            integration = method.get(_INTEGRATION)
            if isinstance(integration, dict):
                gateway.put_integration(api_id, resource_id, method_name, type=str(integration.get("type", "")).upper(),
                                        uri=integration.get("uri"),
                                        integration_http_method=integration.get("httpMethod"))


def _rest_resource(gateway: "ApiGateway", api_id: str, path: str, known: dict[str, str]) -> str:
    """The resource at ``path``, made part by part from the nearest one that exists."""
    current = "/"
    for part in [p for p in path.split("/") if p]:
        child = current.rstrip("/") + "/" + part
        if child not in known:
            known[child] = gateway.create_resource(api_id, known[current], part)["id"]
        current = child
    return known[current]


def _rest_authorizers(gateway: "ApiGateway", api_id: str, body: dict[str, Any]) -> dict[str, str]:
    """The Lambda authorizers of ``securityDefinitions`` (Swagger) or
    ``components.securitySchemes`` (OpenAPI 3), by name: their ids."""
    schemes = body.get("securityDefinitions") or (body.get("components") or {}).get("securitySchemes") or {}
    made = {}
    for scheme_name, scheme in schemes.items():
        spec = scheme.get("x-amazon-apigateway-authorizer") if isinstance(scheme, dict) else None
        if not isinstance(spec, dict):
            continue
        ttl = spec.get("authorizerResultTtlInSeconds")
        made[scheme_name] = gateway.create_authorizer(
            api_id, scheme_name, str(spec.get("type", "token")).upper(), spec.get("authorizerUri") or "",
            identity_source=spec.get("identitySource"), ttl_seconds=None if ttl is None else int(ttl))["id"]
    return made


def delete_rest_api(ctx: Context, made: Made) -> None:
    _gone_is_deleted(_gateway(ctx).delete_rest_api, made.physical_id)


def create_resource(ctx: Context, logical_id: str, props: dict[str, Any], name: str | None) -> Made:
    resource = _gateway(ctx).create_resource(props["RestApiId"], props["ParentId"], props["PathPart"])
    return Made(resource["id"], resource["id"], {"ResourceId": resource["id"]})


def create_method(ctx: Context, logical_id: str, props: dict[str, Any], name: str | None) -> Made:
    gateway, api_id, resource_id = _gateway(ctx), props["RestApiId"], props["ResourceId"]
    method = gateway.put_method(api_id, resource_id, props["HttpMethod"],
                                props.get("AuthorizationType") or "NONE", props.get("AuthorizerId"))
    integration = props.get("Integration")
    if isinstance(integration, dict):
        gateway.put_integration(api_id, resource_id, method["httpMethod"], type=str(integration.get("Type", "")),
                                uri=integration.get("Uri"),
                                integration_http_method=integration.get("IntegrationHttpMethod"))
    physical = f"{api_id}|{resource_id}|{method['httpMethod']}"
    return Made(physical, physical, {})


def update_method(ctx: Context, old: dict[str, Any], new: dict[str, Any], made: Made) -> Made:
    if (old["RestApiId"], old["ResourceId"], str(old["HttpMethod"]).upper()) != (
            new["RestApiId"], new["ResourceId"], str(new["HttpMethod"]).upper()):
        raise Replace()
    return create_method(ctx, "", new, None)  # PutMethod and PutIntegration overwrite


def create_deployment(ctx: Context, logical_id: str, props: dict[str, Any], name: str | None) -> Made:
    variables = (props.get("StageDescription") or {}).get("Variables")
    deployment = _gateway(ctx).create_deployment(props["RestApiId"], props.get("StageName"),
                                                 description=props.get("Description"), variables=variables)
    return Made(deployment["id"], deployment["id"], {"DeploymentId": deployment["id"]})


def create_stage(ctx: Context, logical_id: str, props: dict[str, Any], name: str | None) -> Made:
    stage = _gateway(ctx).create_stage(props["RestApiId"], props["StageName"], props["DeploymentId"],
                                       variables=props.get("Variables"))
    return Made(stage["stageName"], stage["stageName"], {})


# -- HTTP APIs -------------------------------------------------------------------------

def create_http_api(ctx: Context, logical_id: str, props: dict[str, Any], name: str | None) -> Made:
    if "BodyS3Location" in props:
        raise ValueError("BodyS3Location: lambdalab reads an API's OpenAPI definition from Body only")
    body = props.get("Body") or {}
    if not isinstance(body, dict):
        raise ValueError("Body must be an OpenAPI 3.0 object")
    cors = props.get("CorsConfiguration") or _capitalized(body.get("x-amazon-apigateway-cors"))
    gateway = _gateway(ctx)
    api = gateway.create_api(
        str(props.get("Name") or (body.get("info") or {}).get("title") or name or ctx.name(logical_id)),
        protocol_type=props.get("ProtocolType") or "HTTP", target=props.get("Target"),
        route_key=props.get("RouteKey"), description=props.get("Description"), cors_configuration=cors)
    try:
        _import_http(gateway, api["ApiId"], body)
    except Exception:
        gateway.delete_api(api["ApiId"])
        raise
    return Made(api["ApiId"], api["ApiId"], {"ApiId": api["ApiId"], "ApiEndpoint": api["ApiEndpoint"]})


def _capitalized(cors: Any) -> dict[str, Any] | None:
    """``x-amazon-apigateway-cors`` (``allowOrigins``…) as CorsConfiguration (``AllowOrigins``…)."""
    if not isinstance(cors, dict):
        return None
    return {key[:1].upper() + key[1:]: value for key, value in cors.items()}


def _import_http(gateway: "ApiGateway", api_id: str, body: dict[str, Any]) -> None:
    for path, item in _paths(body).items():
        for method_name, method in _methods(item):
            if method.get("security"):
                raise ValueError(f"{method_name} {path}: lambdalab's HTTP APIs have no authorizers yet; "
                                 "remove the route's Auth to deploy it here")
            integration = method.get(_INTEGRATION)
            if not isinstance(integration, dict):
                continue
            made = gateway.create_integration(
                api_id, str(integration.get("type", "")).upper(), integration.get("uri") or "",
                payload_format_version=str(integration.get("payloadFormatVersion") or "2.0"))
            route_key = "$default" if path == "$default" else f"{method_name} {path}"
            gateway.create_route(api_id, route_key, f"integrations/{made['IntegrationId']}")


def delete_http_api(ctx: Context, made: Made) -> None:
    _gone_is_deleted(_gateway(ctx).delete_api, made.physical_id)


def create_integration(ctx: Context, logical_id: str, props: dict[str, Any], name: str | None) -> Made:
    made = _gateway(ctx).create_integration(props["ApiId"], props["IntegrationType"], props.get("IntegrationUri") or "",
                                            payload_format_version=str(props.get("PayloadFormatVersion") or "2.0"))
    return Made(made["IntegrationId"], made["IntegrationId"], {})


def create_route(ctx: Context, logical_id: str, props: dict[str, Any], name: str | None) -> Made:
    route = _gateway(ctx).create_route(props["ApiId"], props["RouteKey"], props.get("Target"))
    return Made(route["RouteId"], route["RouteId"], {})


def create_http_stage(ctx: Context, logical_id: str, props: dict[str, Any], name: str | None) -> Made:
    stage = _gateway(ctx).create_http_stage(props["ApiId"], props["StageName"],
                                            auto_deploy=str(props.get("AutoDeploy", "")).lower() == "true",
                                            variables=props.get("StageVariables"))
    return Made(stage["StageName"], stage["StageName"], {})


def create_http_deployment(ctx: Context, logical_id: str, props: dict[str, Any], name: str | None) -> Made:
    """Recorded only: an HTTP API's stages serve its routes as they are (as ``AutoDeploy`` does)."""
    deployment = ctx.name(logical_id)
    return Made(deployment, deployment, {"DeploymentId": deployment})


# -- where an API answers --------------------------------------------------------------

def local_url(lab: "Lab", url: Any) -> str | None:
    """The edge's address of an ``https://<api-id>.execute-api.<region>.amazonaws.com/...``
    URL (as a stack's Outputs write it), or ``None`` if ``url`` is not one."""
    found = _AWS_URL.match(url) if isinstance(url, str) else None
    if found is None:
        return None
    from lambdalab_apigateway import APIS_PATH

    edge = (lab.endpoint_url or f"http://{limits.EDGE_HOST}:{limits.EDGE_PORT}").rstrip("/")
    return f"{edge}{APIS_PATH}{found['api']}{found['rest'] or '/'}"


def _types() -> dict[str, ResourceType]:
    child = _kept_with_api
    return {
        "AWS::ApiGateway::RestApi": ResourceType(create_rest_api, delete_rest_api, None, SERVICE, frozenset({
            "Name", "Description", "Body", "BinaryMediaTypes"})),
        "AWS::ApiGateway::Resource": ResourceType(create_resource, child, None, SERVICE, frozenset({
            "RestApiId", "ParentId", "PathPart"})),
        "AWS::ApiGateway::Method": ResourceType(create_method, child, update_method, SERVICE, frozenset({
            "RestApiId", "ResourceId", "HttpMethod", "AuthorizationType", "AuthorizerId", "Integration"})),
        "AWS::ApiGateway::Deployment": ResourceType(create_deployment, child, None, SERVICE, frozenset({
            "RestApiId", "StageName", "Description", "StageDescription"})),
        "AWS::ApiGateway::Stage": ResourceType(create_stage, child, None, SERVICE, frozenset({
            "RestApiId", "StageName", "DeploymentId", "Variables"})),
        "AWS::ApiGatewayV2::Api": ResourceType(create_http_api, delete_http_api, None, SERVICE, frozenset({
            "Name", "Description", "Body", "ProtocolType", "Target", "RouteKey", "CorsConfiguration"})),
        "AWS::ApiGatewayV2::Integration": ResourceType(create_integration, child, None, SERVICE, frozenset({
            "ApiId", "IntegrationType", "IntegrationUri", "PayloadFormatVersion"})),
        "AWS::ApiGatewayV2::Route": ResourceType(create_route, child, None, SERVICE, frozenset({
            "ApiId", "RouteKey", "Target"})),
        "AWS::ApiGatewayV2::Stage": ResourceType(create_http_stage, child, None, SERVICE, frozenset({
            "ApiId", "StageName", "AutoDeploy", "StageVariables"})),
        "AWS::ApiGatewayV2::Deployment": ResourceType(create_http_deployment, child, None, SERVICE, frozenset({
            "ApiId", "StageName", "Description"})),
    }


#: API Gateway's resource types lambdalab emulates.
TYPES: dict[str, ResourceType] = _types()
