"""API Gateway's resource types, made through the API Gateway plugin's Python API
(:func:`lambdalab_apigateway.api_gateway`).

SAM's ``Api`` and ``HttpApi`` events (and ``AWS::Serverless::Api``/``HttpApi``) become
an ``AWS::ApiGateway::RestApi`` or ``AWS::ApiGatewayV2::Api`` whose ``Body`` is an
OpenAPI definition, plus a deployment and stages; the definition is imported as API
Gateway imports one: each path a resource (REST) or route (HTTP), each
``x-amazon-apigateway-integration`` an ``AWS_PROXY`` integration
(https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-swagger-extensions-integration.html);
a REST API's schemas become models and its ``x-amazon-apigateway-request-validators``
request validators
(https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-swagger-extensions-request-validators.html).
The raw types (``Resource``, ``Method``, ``Route``, ``Integration``…) are made one call each,
changed by the Update operations and removed by the Delete ones when they leave the
template. A changed ``Body`` is imported into the same API, as CloudFormation's
PutRestApi ``mode=overwrite`` and ReimportApi do
(https://docs.aws.amazon.com/apigateway/latest/api/API_PutRestApi.html,
https://docs.aws.amazon.com/apigatewayv2/latest/api-reference/apis-apiid.html#ReimportApi):
the API keeps its id, so a URL a learner saved keeps working.
On AWS ``https://<api-id>.execute-api.<region>.amazonaws.com/<stage>/<path>`` names an
API; on the edge it is ``<edge>/_lambdalab/apis/<api-id>/<stage>/<path>``
(:func:`local_url`).
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any, Callable, Iterator

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
_VALIDATORS = "x-amazon-apigateway-request-validators"
_VALIDATOR = "x-amazon-apigateway-request-validator"
#: An OpenAPI parameter's ``in``, as a ``requestParameters`` key names where it is.
_PARAMETER_PLACES = {"query": "querystring", "header": "header", "path": "path"}
#: The models every REST API has, which an overwrite keeps
#: (https://docs.aws.amazon.com/apigateway/latest/developerguide/models-mappings-models.html).
_DEFAULT_MODELS = ("Empty", "Error")
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


def _child_delete(operation: str) -> Callable[[Context, Made], None]:
    """The delete of an API's child by the gateway's ``operation(api_id, physical_id)``
    (the API's id is in ``made.attributes["api"]``); a child recorded before lambdalab
    deleted children alone has none and goes with its API."""
    def deleted(ctx: Context, made: Made) -> None:
        api_id = made.attributes.get("api")
        if api_id:
            _gone_is_deleted(getattr(_gateway(ctx), operation), api_id, made.physical_id)
    return deleted


def _replace(path: str, value: Any) -> dict[str, Any]:
    return {"op": "replace", "path": path, "value": value}


def _escaped(name: str) -> str:
    """A name as a JSON Pointer segment (``image/png`` → ``image~1png``)."""
    return name.replace("~", "~0").replace("/", "~1")


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

def _body(props: dict[str, Any], what: str) -> dict[str, Any]:
    if "BodyS3Location" in props:
        raise ValueError("BodyS3Location: lambdalab reads an API's OpenAPI definition from Body only")
    body = props.get("Body") or {}
    if not isinstance(body, dict):
        raise ValueError(f"Body must be an {what} object")
    return body


def _binary_media(props: dict[str, Any], body: dict[str, Any]) -> list[str]:
    media = props.get("BinaryMediaTypes") or body.get("x-amazon-apigateway-binary-media-types") or []
    return [str(m).replace("~1", "/") for m in media]


def create_rest_api(ctx: Context, logical_id: str, props: dict[str, Any], name: str | None) -> Made:
    body = _body(props, "OpenAPI (Swagger 2.0 or 3.0)")
    gateway = _gateway(ctx)
    api = gateway.create_rest_api(
        str(props.get("Name") or (body.get("info") or {}).get("title") or name or ctx.name(logical_id)),
        description=props.get("Description"), binary_media_types=_binary_media(props, body))
    try:
        _import_rest(gateway, api, body)
    except Exception:
        gateway.delete_rest_api(api["id"])
        raise
    return Made(api["id"], api["id"], {"RootResourceId": api["rootResourceId"]})


def update_rest_api(ctx: Context, old: dict[str, Any], new: dict[str, Any], made: Made) -> Made:
    """UpdateRestApi for the name, description and binary media types, and a changed
    ``Body`` imported over the API's resources (PutRestApi ``mode=overwrite``): same id."""
    body, gateway, api_id = _body(new, "OpenAPI (Swagger 2.0 or 3.0)"), _gateway(ctx), made.physical_id
    current = gateway.get_rest_api(api_id)
    name = new.get("Name") or (body.get("info") or {}).get("title") or current["name"]
    operations = [_replace("/name", str(name)), _replace("/description", str(new.get("Description") or ""))]
    was, wanted = current.get("binaryMediaTypes") or [], _binary_media(new, body)
    operations += [{"op": "remove", "path": f"/binaryMediaTypes/{_escaped(m)}"} for m in was if m not in wanted]
    operations += [{"op": "add", "path": f"/binaryMediaTypes/{_escaped(m)}"} for m in wanted if m not in was]
    gateway.update_rest_api(api_id, operations)
    if (old.get("Body") or {}) != body:
        _clear_rest(gateway, current)
        _import_rest(gateway, current, body)
    return made


def _clear_rest(gateway: "ApiGateway", api: dict[str, Any]) -> None:
    """Every resource, method and authorizer of ``api`` gone (its root, stages and
    deployments stay): what PutRestApi's overwrite replaces."""
    api_id, root = api["id"], api["rootResourceId"]
    for resource in gateway.get_resources(api_id):
        if resource.get("parentId") == root:
            gateway.delete_resource(api_id, resource["id"])  # and everything below it
    for method in list(gateway.get_resource(api_id, root).get("resourceMethods") or {}):
        gateway.delete_method(api_id, root, method)
    for authorizer in gateway.get_authorizers(api_id):
        gateway.delete_authorizer(api_id, authorizer["id"])
    for validator in gateway.get_request_validators(api_id):
        gateway.delete_request_validator(api_id, validator["id"])
    for model in gateway.get_models(api_id):
        if model["name"] not in _DEFAULT_MODELS:
            gateway.delete_model(api_id, model["name"])


def _import_rest(gateway: "ApiGateway", api: dict[str, Any], body: dict[str, Any]) -> None:
    api_id, known = api["id"], {"/": api["rootResourceId"]}
    authorizers = _rest_authorizers(gateway, api_id, body)
    models, checks = _rest_models(gateway, api_id, body), _rest_validators(gateway, api_id, body)
    for path, item in _paths(body).items():
        resource_id = _rest_resource(gateway, api_id, str(path), known)
        for method_name, method in _methods(item):
            authorizer = next((authorizers[n] for s in method.get("security") or [] for n in s
                               if n in authorizers), None)
            check = method.get(_VALIDATOR, body.get(_VALIDATOR))
            validator_id = None if check is None else checks.get(str(check))
            if check is not None and validator_id is None:
                raise ValueError(f"Body: {_VALIDATOR} {check!r} is none of {_VALIDATORS}")
            gateway.put_method(api_id, resource_id, method_name, "CUSTOM" if authorizer else "NONE", authorizer,
                               request_parameters=_parameters(item, method), request_validator_id=validator_id,
                               request_models=_request_models(method, models) or None)
            integration = method.get(_INTEGRATION)
            if isinstance(integration, dict):
                _import_rest_integration(gateway, api_id, resource_id, method_name, method, integration)


def _import_rest_integration(gateway: "ApiGateway", api_id: str, resource_id: str, method_name: str,
                             method: dict[str, Any], integration: dict[str, Any]) -> None:
    """An ``x-amazon-apigateway-integration`` with its method responses (the OpenAPI
    ``responses``' headers) and integration responses (SAM's ``Cors`` writes a ``mock``
    ``OPTIONS`` whose ``default`` response sets the ``Access-Control-Allow-*`` headers)."""
    gateway.put_integration(api_id, resource_id, method_name, type=str(integration.get("type", "")).upper(),
                            uri=integration.get("uri"), integration_http_method=integration.get("httpMethod"),
                            request_templates=integration.get("requestTemplates"),
                            passthrough_behavior=_passthrough(integration.get("passthroughBehavior")))
    for status, response in _member(method, "responses").items():
        if str(status).isdigit() and isinstance(response, dict):
            headers = _member(response, "headers")
            gateway.put_method_response(api_id, resource_id, method_name, str(status), response_parameters={
                f"method.response.header.{h}": False for h in headers})
    for pattern, response in _member(integration, "responses").items():
        if isinstance(response, dict):
            gateway.put_integration_response(
                api_id, resource_id, method_name, str(response.get("statusCode", "200")),
                selection_pattern=None if pattern == "default" else str(pattern),
                response_parameters=response.get("responseParameters"),
                response_templates=response.get("responseTemplates"))


def _member(document: dict[str, Any], key: str) -> dict[str, Any]:
    """``document[key]`` when it is an object, else an empty one (OpenAPI's optional maps)."""
    found = document.get(key)
    return found if isinstance(found, dict) else {}


def _passthrough(value: Any) -> str | None:
    """OpenAPI writes ``when_no_match``; API Gateway's operations take ``WHEN_NO_MATCH``."""
    return str(value).upper() if value else None


def _rest_resource(gateway: "ApiGateway", api_id: str, path: str, known: dict[str, str]) -> str:
    """The resource at ``path``, made part by part from the nearest one that exists."""
    current = "/"
    for part in [p for p in path.split("/") if p]:
        child = current.rstrip("/") + "/" + part
        if child not in known:
            known[child] = gateway.create_resource(api_id, known[current], part)["id"]
        current = child
    return known[current]


def _schemes(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The ``x-amazon-apigateway-authorizer`` of each scheme of ``securityDefinitions``
    (Swagger) or ``components.securitySchemes`` (OpenAPI 3), by the scheme's name."""
    schemes = body.get("securityDefinitions") or _member(body, "components").get("securitySchemes") or {}
    if not isinstance(schemes, dict):
        raise ValueError("Body: the security schemes must be an object of name → scheme")
    found = {}
    for scheme_name, scheme in schemes.items():
        spec = scheme.get("x-amazon-apigateway-authorizer") if isinstance(scheme, dict) else None
        if isinstance(spec, dict):
            found[str(scheme_name)] = spec
    return found


def _schemas(body: dict[str, Any]) -> dict[str, Any]:
    """Swagger 2's ``definitions`` and OpenAPI 3's ``components.schemas``, by name."""
    return {**_member(body, "definitions"), **_member(_member(body, "components"), "schemas")}


def _rest_models(gateway: "ApiGateway", api_id: str, body: dict[str, Any]) -> set[str]:
    """The definition's schemas, made models (``application/json``, as API Gateway's import
    makes them); one naming a default model (``Empty``, ``Error``) replaces its schema. A
    ``$ref`` to another schema resolves: each schema carries the others as ``definitions``."""
    schemas = _schemas(body)
    shared = json.loads(json.dumps(schemas).replace('"#/components/schemas/', '"#/definitions/'))
    for name, schema in shared.items():
        text = json.dumps({**schema, "definitions": shared} if "#/definitions/" in json.dumps(schema) else schema)
        if name in _DEFAULT_MODELS:
            gateway.update_model(api_id, name, [_replace("/schema", text)])
        else:
            gateway.create_model(api_id, str(name), "application/json", schema=text)
    return set(shared)


def _rest_validators(gateway: "ApiGateway", api_id: str, body: dict[str, Any]) -> dict[str, str]:
    """The definition's ``x-amazon-apigateway-request-validators``, made: their ids by name."""
    return {str(name): gateway.create_request_validator(
                api_id, str(name), validate_body=bool(spec.get("validateRequestBody")),
                validate_parameters=bool(spec.get("validateRequestParameters")))["id"]
            for name, spec in _member(body, _VALIDATORS).items() if isinstance(spec, dict)}


def _parameters(item: dict[str, Any], method: dict[str, Any]) -> dict[str, bool]:
    """The path's and the method's ``parameters`` as ``requestParameters``
    (``method.request.querystring.q``: required)."""
    found = {}
    for parameter in [*(item.get("parameters") or []), *(method.get("parameters") or [])]:
        where = isinstance(parameter, dict) and _PARAMETER_PLACES.get(str(parameter.get("in")))
        if where and isinstance(parameter.get("name"), str):
            found[f"method.request.{where}.{parameter.get('name')}"] = bool(parameter.get("required"))
    return found


def _request_models(method: dict[str, Any], models: set[str]) -> dict[str, str]:
    """The models the method's body names: Swagger 2's ``in: body`` parameter (for each of
    ``consumes``, else ``application/json``), OpenAPI 3's ``requestBody.content``."""
    bodies = [(content_type, _member(media, "schema")) for content_type, media
              in _member(_member(method, "requestBody"), "content").items() if isinstance(media, dict)]
    for parameter in method.get("parameters") or []:
        if isinstance(parameter, dict) and parameter.get("in") == "body":
            bodies += [(str(c), _member(parameter, "schema")) for c in method.get("consumes") or ["application/json"]]
    named = {str(c): str(schema.get("$ref", "")).rsplit("/", 1)[-1] for c, schema in bodies}
    return {content_type: name for content_type, name in named.items() if name in models}


def _rest_authorizers(gateway: "ApiGateway", api_id: str, body: dict[str, Any]) -> dict[str, str]:
    """The Lambda authorizers of the definition, made: their ids by scheme name."""
    made = {}
    for scheme_name, spec in _schemes(body).items():
        ttl = spec.get("authorizerResultTtlInSeconds")
        made[scheme_name] = gateway.create_authorizer(
            api_id, scheme_name, str(spec.get("type", "token")).upper(), spec.get("authorizerUri") or "",
            identity_source=spec.get("identitySource"), ttl_seconds=None if ttl is None else int(ttl))["id"]
    return made


def create_authorizer(ctx: Context, logical_id: str, props: dict[str, Any], name: str | None) -> Made:
    ttl = props.get("AuthorizerResultTtlInSeconds")
    authorizer = _gateway(ctx).create_authorizer(
        props["RestApiId"], props.get("Name") or name or ctx.name(logical_id, 128), str(props.get("Type", "")),
        props.get("AuthorizerUri") or "", identity_source=props.get("IdentitySource"),
        ttl_seconds=None if ttl is None else int(ttl))
    return Made(authorizer["id"], authorizer["id"], {"AuthorizerId": authorizer["id"], "api": props["RestApiId"]})


def delete_rest_api(ctx: Context, made: Made) -> None:
    _gone_is_deleted(_gateway(ctx).delete_rest_api, made.physical_id)


def create_resource(ctx: Context, logical_id: str, props: dict[str, Any], name: str | None) -> Made:
    resource = _gateway(ctx).create_resource(props["RestApiId"], props["ParentId"], props["PathPart"])
    return Made(resource["id"], resource["id"], {"ResourceId": resource["id"], "api": props["RestApiId"]})


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
    if "Integration" in old and not isinstance(new.get("Integration"), dict):
        _gone_is_deleted(_gateway(ctx).delete_integration, new["RestApiId"], new["ResourceId"], new["HttpMethod"])
    return create_method(ctx, "", new, None)  # PutMethod and PutIntegration overwrite


def delete_method(ctx: Context, made: Made) -> None:
    api_id, resource_id, http_method = made.physical_id.split("|")
    _gone_is_deleted(_gateway(ctx).delete_method, api_id, resource_id, http_method)


def create_deployment(ctx: Context, logical_id: str, props: dict[str, Any], name: str | None) -> Made:
    variables = (props.get("StageDescription") or {}).get("Variables")
    deployment = _gateway(ctx).create_deployment(props["RestApiId"], props.get("StageName"),
                                                 description=props.get("Description"), variables=variables)
    return Made(deployment["id"], deployment["id"], {"DeploymentId": deployment["id"], "api": props["RestApiId"],
                                                     "stage": props.get("StageName") or ""})


def delete_deployment(ctx: Context, made: Made) -> None:
    """DeleteDeployment, after the stage its ``StageName`` made if that stage still serves
    it (a stage moved to a newer deployment stays)."""
    api_id, stage_name = made.attributes.get("api"), made.attributes.get("stage")
    if not api_id:
        return  # recorded before children were deleted alone: it goes with its API
    gateway = _gateway(ctx)
    if stage_name and any(s["stageName"] == stage_name and s["deploymentId"] == made.physical_id
                          for s in _or_none(gateway.get_stages, api_id) or []):
        _gone_is_deleted(gateway.delete_stage, api_id, stage_name)
    _gone_is_deleted(gateway.delete_deployment, api_id, made.physical_id)


def _or_none(read: Callable[..., Any], *args: Any) -> Any:
    """What ``read`` answers, or ``None`` when its API is gone."""
    from lambdalab_apigateway import NotFoundException

    try:
        return read(*args)
    except NotFoundException:
        return None


def create_stage(ctx: Context, logical_id: str, props: dict[str, Any], name: str | None) -> Made:
    stage = _gateway(ctx).create_stage(props["RestApiId"], props["StageName"], props["DeploymentId"],
                                       variables=props.get("Variables"))
    return Made(stage["stageName"], stage["stageName"], {"api": props["RestApiId"]})


def update_stage(ctx: Context, old: dict[str, Any], new: dict[str, Any], made: Made) -> Made:
    """UpdateStage: the stage moves to its new ``DeploymentId`` (``replace /deploymentId``)
    and its variables follow the template
    (https://docs.aws.amazon.com/apigateway/latest/api/API_UpdateStage.html)."""
    if (old["RestApiId"], old["StageName"]) != (new["RestApiId"], new["StageName"]):
        raise Replace()
    was, wanted = old.get("Variables") or {}, new.get("Variables") or {}
    operations = [_replace("/deploymentId", new["DeploymentId"])]
    operations += [{"op": "remove", "path": f"/variables/{_escaped(k)}"} for k in was if k not in wanted]
    operations += [_replace(f"/variables/{_escaped(k)}", str(v)) for k, v in wanted.items() if was.get(k) != v]
    _gateway(ctx).update_stage(new["RestApiId"], new["StageName"], operations)
    return Made(made.physical_id, made.ref, {"api": new["RestApiId"]})


# -- HTTP APIs -------------------------------------------------------------------------

def create_http_api(ctx: Context, logical_id: str, props: dict[str, Any], name: str | None) -> Made:
    body = _body(props, "OpenAPI 3.0")
    gateway = _gateway(ctx)
    api = gateway.create_api(
        str(props.get("Name") or (body.get("info") or {}).get("title") or name or ctx.name(logical_id)),
        protocol_type=props.get("ProtocolType") or "HTTP", target=props.get("Target"),
        route_key=props.get("RouteKey"), description=props.get("Description"), cors_configuration=_cors(props, body))
    try:
        _import_http(gateway, api["ApiId"], body)
    except Exception:
        gateway.delete_api(api["ApiId"])
        raise
    return Made(api["ApiId"], api["ApiId"], {"ApiId": api["ApiId"], "ApiEndpoint": api["ApiEndpoint"]})


def update_http_api(ctx: Context, old: dict[str, Any], new: dict[str, Any], made: Made) -> Made:
    """UpdateApi for the name, description and CORS, and a changed ``Body`` imported over
    the API's routes, integrations and authorizers (ReimportApi): same id."""
    if any(old.get(k) != new.get(k) for k in ("ProtocolType", "Target", "RouteKey")):
        raise Replace()  # quick create's parts are made once
    body, gateway, api_id = _body(new, "OpenAPI 3.0"), _gateway(ctx), made.physical_id
    current = gateway.get_api(api_id)
    name = new.get("Name") or (body.get("info") or {}).get("title") or current["Name"]
    gateway.update_api(api_id, {"Name": str(name), "Description": str(new.get("Description") or ""),
                                "CorsConfiguration": _cors(new, body) or {}})
    if (old.get("Body") or {}) != body:
        _clear_http(gateway, api_id)
        _import_http(gateway, api_id, body)
    return made


def _cors(props: dict[str, Any], body: dict[str, Any]) -> dict[str, Any] | None:
    """``CorsConfiguration``, or the definition's ``x-amazon-apigateway-cors``
    (``allowOrigins``…, as SAM's ``HttpApi`` ``CorsConfiguration`` writes it) as one."""
    cors = props.get("CorsConfiguration") or body.get("x-amazon-apigateway-cors")
    if not isinstance(cors, dict):
        return None
    return {key[:1].upper() + key[1:]: value for key, value in cors.items()}


def _clear_http(gateway: "ApiGateway", api_id: str) -> None:
    """Every route, integration and authorizer of the API gone (its stages stay)."""
    for route in gateway.get_routes(api_id):
        gateway.delete_route(api_id, route["RouteId"])
    for integration in gateway.get_http_integrations(api_id):
        gateway.delete_integration_v2(api_id, integration["IntegrationId"])
    for authorizer in gateway.get_http_authorizers(api_id):
        gateway.delete_http_authorizer(api_id, authorizer["AuthorizerId"])


def _import_http(gateway: "ApiGateway", api_id: str, body: dict[str, Any]) -> None:
    authorizers = _http_authorizers(gateway, api_id, body)
    for path, item in _paths(body).items():
        for method_name, method in _methods(item):
            integration = method.get(_INTEGRATION)
            if not isinstance(integration, dict):
                continue
            made = gateway.create_integration(
                api_id, str(integration.get("type", "")).upper(), integration.get("uri") or "",
                payload_format_version=str(integration.get("payloadFormatVersion") or "2.0"))
            route_key = "$default" if path == "$default" else f"{method_name} {path}"
            gateway.create_route(api_id, route_key, f"integrations/{made['IntegrationId']}",
                                 **_route_authorization(method, authorizers, f"{method_name} {path}"))


def _route_authorization(method: dict[str, Any], authorizers: dict[str, tuple[str, str]],
                         where: str) -> dict[str, Any]:
    """A route's authorizer from its ``security`` (``[{"<scheme>": [scopes]}]``)."""
    for requirement in method.get("security") or []:
        if not isinstance(requirement, dict):
            raise ValueError(f"{where}: security must be a list of {{scheme: [scopes]}} objects")
        for scheme_name, scopes in requirement.items():
            if scheme_name not in authorizers:
                raise ValueError(f"{where}: security names {scheme_name!r}, which is not an "
                                 "x-amazon-apigateway-authorizer of the definition")
            authorizer_id, kind = authorizers[scheme_name]
            return {"authorization_type": "JWT" if kind == "JWT" else "CUSTOM", "authorizer_id": authorizer_id,
                    "authorization_scopes": list(scopes or []) or None}
    return {}


def _http_authorizers(gateway: "ApiGateway", api_id: str, body: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """The definition's Lambda (``request``) and ``jwt`` authorizers, made: (id, type) by
    scheme name (https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-open-api.html)."""
    made = {}
    for scheme_name, spec in _schemes(body).items():
        kind = str(spec.get("type", "")).upper()
        source = spec.get("identitySource")
        sources = [s.strip() for s in source.split(",")] if isinstance(source, str) else source
        jwt = spec.get("jwtConfiguration") or {}
        ttl = spec.get("authorizerResultTtlInSeconds")
        authorizer = gateway.create_http_authorizer(
            api_id, scheme_name, kind, authorizer_uri=spec.get("authorizerUri"), identity_source=sources,
            payload_format_version=spec.get("authorizerPayloadFormatVersion"),
            enable_simple_responses=bool(spec.get("enableSimpleResponses")),
            ttl_seconds=None if ttl is None else int(ttl),
            jwt_configuration={"Issuer": jwt.get("issuer"), "Audience": jwt.get("audience") or []} if jwt else None)
        made[scheme_name] = (authorizer["AuthorizerId"], kind)
    return made


def delete_http_api(ctx: Context, made: Made) -> None:
    _gone_is_deleted(_gateway(ctx).delete_api, made.physical_id)


def create_integration(ctx: Context, logical_id: str, props: dict[str, Any], name: str | None) -> Made:
    made = _gateway(ctx).create_integration(props["ApiId"], props["IntegrationType"], props.get("IntegrationUri") or "",
                                            payload_format_version=str(props.get("PayloadFormatVersion") or "2.0"))
    return Made(made["IntegrationId"], made["IntegrationId"], {"api": props["ApiId"]})


def update_integration(ctx: Context, old: dict[str, Any], new: dict[str, Any], made: Made) -> Made:
    if old["ApiId"] != new["ApiId"]:
        raise Replace()
    _gateway(ctx).update_integration(new["ApiId"], made.physical_id, {
        "IntegrationType": new["IntegrationType"], "IntegrationUri": new.get("IntegrationUri"),
        "PayloadFormatVersion": str(new.get("PayloadFormatVersion") or "2.0")})
    return made


def create_route(ctx: Context, logical_id: str, props: dict[str, Any], name: str | None) -> Made:
    route = _gateway(ctx).create_route(props["ApiId"], props["RouteKey"], props.get("Target"),
                                       authorization_type=props.get("AuthorizationType") or "NONE",
                                       authorizer_id=props.get("AuthorizerId"),
                                       authorization_scopes=props.get("AuthorizationScopes"))
    return Made(route["RouteId"], route["RouteId"], {"api": props["ApiId"]})


def update_route(ctx: Context, old: dict[str, Any], new: dict[str, Any], made: Made) -> Made:
    if old["ApiId"] != new["ApiId"]:
        raise Replace()
    _gateway(ctx).update_route(new["ApiId"], made.physical_id, {
        "RouteKey": new["RouteKey"], "Target": new.get("Target"),
        "AuthorizationType": new.get("AuthorizationType") or "NONE", "AuthorizerId": new.get("AuthorizerId"),
        "AuthorizationScopes": new.get("AuthorizationScopes") or []})  # a removed property clears
    return made


def create_http_authorizer(ctx: Context, logical_id: str, props: dict[str, Any], name: str | None) -> Made:
    ttl = props.get("AuthorizerResultTtlInSeconds")
    authorizer = _gateway(ctx).create_http_authorizer(
        props["ApiId"], props.get("Name") or name or ctx.name(logical_id, 128), props["AuthorizerType"],
        authorizer_uri=props.get("AuthorizerUri"), identity_source=props.get("IdentitySource"),
        payload_format_version=props.get("AuthorizerPayloadFormatVersion"),
        enable_simple_responses=str(props.get("EnableSimpleResponses", "")).lower() == "true",
        ttl_seconds=None if ttl is None else int(ttl), jwt_configuration=props.get("JwtConfiguration"))
    return Made(authorizer["AuthorizerId"], authorizer["AuthorizerId"],
                {"AuthorizerId": authorizer["AuthorizerId"], "api": props["ApiId"]})


def create_http_stage(ctx: Context, logical_id: str, props: dict[str, Any], name: str | None) -> Made:
    stage = _gateway(ctx).create_http_stage(props["ApiId"], props["StageName"],
                                            auto_deploy=str(props.get("AutoDeploy", "")).lower() == "true",
                                            variables=props.get("StageVariables"))
    return Made(stage["StageName"], stage["StageName"], {"api": props["ApiId"]})


def update_http_stage(ctx: Context, old: dict[str, Any], new: dict[str, Any], made: Made) -> Made:
    if (old["ApiId"], old["StageName"]) != (new["ApiId"], new["StageName"]):
        raise Replace()
    _gateway(ctx).update_http_stage(new["ApiId"], new["StageName"], {
        "AutoDeploy": str(new.get("AutoDeploy", "")).lower() == "true",
        "StageVariables": dict(new.get("StageVariables") or {})})
    return made


def create_http_deployment(ctx: Context, logical_id: str, props: dict[str, Any], name: str | None) -> Made:
    """Recorded only: an HTTP API's stages serve its routes as they are (as ``AutoDeploy`` does)."""
    deployment = ctx.name(logical_id)
    return Made(deployment, deployment, {"DeploymentId": deployment})


def _recorded_only(ctx: Context, made: Made) -> None:
    """An HTTP API's deployment is a record here: nothing to remove."""


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
    return {
        "AWS::ApiGateway::RestApi": ResourceType(create_rest_api, delete_rest_api, update_rest_api, SERVICE, frozenset({
            "Name", "Description", "Body", "BinaryMediaTypes"})),
        "AWS::ApiGateway::Authorizer": ResourceType(create_authorizer, _child_delete("delete_authorizer"), None, SERVICE,
                                                    frozenset({"RestApiId", "Name", "Type", "AuthorizerUri",
                                                               "IdentitySource", "AuthorizerResultTtlInSeconds"})),
        "AWS::ApiGateway::Resource": ResourceType(create_resource, _child_delete("delete_resource"), None, SERVICE,
                                                  frozenset({"RestApiId", "ParentId", "PathPart"})),
        "AWS::ApiGateway::Method": ResourceType(create_method, delete_method, update_method, SERVICE, frozenset({
            "RestApiId", "ResourceId", "HttpMethod", "AuthorizationType", "AuthorizerId", "Integration"})),
        "AWS::ApiGateway::Deployment": ResourceType(create_deployment, delete_deployment, None, SERVICE, frozenset({
            "RestApiId", "StageName", "Description", "StageDescription"}), replace_first=True),
        "AWS::ApiGateway::Stage": ResourceType(create_stage, _child_delete("delete_stage"), update_stage, SERVICE,
                                               frozenset({"RestApiId", "StageName", "DeploymentId", "Variables"})),
        "AWS::ApiGatewayV2::Api": ResourceType(create_http_api, delete_http_api, update_http_api, SERVICE, frozenset({
            "Name", "Description", "Body", "ProtocolType", "Target", "RouteKey", "CorsConfiguration"})),
        "AWS::ApiGatewayV2::Integration": ResourceType(create_integration, _child_delete("delete_integration_v2"),
                                                       update_integration, SERVICE, frozenset({
                                                           "ApiId", "IntegrationType", "IntegrationUri",
                                                           "PayloadFormatVersion"})),
        "AWS::ApiGatewayV2::Route": ResourceType(create_route, _child_delete("delete_route"), update_route, SERVICE,
                                                 frozenset({"ApiId", "RouteKey", "Target", "AuthorizationType",
                                                            "AuthorizerId", "AuthorizationScopes"})),
        "AWS::ApiGatewayV2::Authorizer": ResourceType(
            create_http_authorizer, _child_delete("delete_http_authorizer"), None, SERVICE, frozenset({
                "ApiId", "Name", "AuthorizerType", "AuthorizerUri", "IdentitySource", "JwtConfiguration",
                "AuthorizerPayloadFormatVersion", "EnableSimpleResponses", "AuthorizerResultTtlInSeconds"})),
        "AWS::ApiGatewayV2::Stage": ResourceType(create_http_stage, _child_delete("delete_http_stage"),
                                                 update_http_stage, SERVICE, frozenset({
                                                     "ApiId", "StageName", "AutoDeploy", "StageVariables"})),
        "AWS::ApiGatewayV2::Deployment": ResourceType(create_http_deployment, _recorded_only, None, SERVICE,
                                                      frozenset({"ApiId", "StageName", "Description"})),
    }


#: API Gateway's resource types lambdalab emulates.
TYPES: dict[str, ResourceType] = _types()
