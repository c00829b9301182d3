"""API Gateway's management operations, served by lambdalab's protocol layer.

Both APIs speak REST-JSON and sign as the one SigV4 service ``apigateway``: v1
(botocore's ``apigateway/2015-07-09``, REST APIs) under ``/restapis``, v2
(``apigatewayv2/2018-11-29``, HTTP APIs) under ``/v2/``. :class:`ManagementApp` hands a
request to the one its path names; each is a
:class:`~lambdalab.protocol.service.ProtocolService` over plain operations here.
"""

from __future__ import annotations

from typing import Any, Mapping

from lambdalab.plugin import ErrorCodes, ProtocolService

from . import quotas
from .exceptions import BadRequestException
from .models import ApiGateway

V2_PREFIX = "/v2/"
#: What API Gateway answers for what the protocol layer refuses: a malformed or missing
#: member is ``BadRequestException`` in both APIs' models.
ERRORS = ErrorCodes(validation="BadRequestException", serialization="BadRequestException",
                    unknown_operation="NotFoundException")


def _page(items: list[Any], token: Any, limit: Any, key: str, next_key: str) -> dict[str, Any]:
    """One page of ``items`` from ``token`` (a position lambdalab gave)."""
    size = quotas.APIGATEWAY_PAGE_MAX if limit is None else int(limit)
    if not 1 <= size <= quotas.APIGATEWAY_PAGE_MAX:
        raise BadRequestException(f"Invalid limit: use 1 to {quotas.APIGATEWAY_PAGE_MAX}.")
    start = 0
    if token is not None:
        if not str(token).isdigit():
            raise BadRequestException("Invalid pagination token: pass the one a list returned.")
        start = int(token)
    out: dict[str, Any] = {key: items[start:start + size]}
    if start + size < len(items):
        out[next_key] = str(start + size)
    return out


class RestApiResponses:
    """The REST API (v1) operations lambdalab serves."""

    def __init__(self, gateway: ApiGateway) -> None:
        self.gateway = gateway

    def create_rest_api(self, body: Mapping[str, Any]) -> dict[str, Any]:
        return self.gateway.create_rest_api(body["name"], description=body.get("description"),
                                            binary_media_types=body.get("binaryMediaTypes"),
                                            policy=body.get("policy"))

    def get_rest_apis(self, body: Mapping[str, Any]) -> dict[str, Any]:
        return _page(self.gateway.get_rest_apis(), body.get("position"), body.get("limit"), "items", "position")

    def get_rest_api(self, body: Mapping[str, Any]) -> dict[str, Any]:
        return self.gateway.get_rest_api(body["restApiId"])

    def delete_rest_api(self, body: Mapping[str, Any]) -> dict[str, Any]:
        self.gateway.delete_rest_api(body["restApiId"])
        return {}

    def get_resources(self, body: Mapping[str, Any]) -> dict[str, Any]:
        resources = self.gateway.get_resources(body["restApiId"])
        return _page(resources, body.get("position"), body.get("limit"), "items", "position")

    def create_resource(self, body: Mapping[str, Any]) -> dict[str, Any]:
        return self.gateway.create_resource(body["restApiId"], body["parentId"], body["pathPart"])

    def put_method(self, body: Mapping[str, Any]) -> dict[str, Any]:
        return self.gateway.put_method(body["restApiId"], body["resourceId"], body["httpMethod"],
                                       body["authorizationType"], body.get("authorizerId"),
                                       api_key_required=bool(body.get("apiKeyRequired")),
                                       request_parameters=body.get("requestParameters"),
                                       request_validator_id=body.get("requestValidatorId"),
                                       request_models=body.get("requestModels"))

    def create_model(self, body: Mapping[str, Any]) -> dict[str, Any]:
        return self.gateway.create_model(body["restApiId"], body["name"], body["contentType"],
                                         schema=body.get("schema"), description=body.get("description"))

    def get_models(self, body: Mapping[str, Any]) -> dict[str, Any]:
        found = self.gateway.get_models(body["restApiId"])
        return _page(found, body.get("position"), body.get("limit"), "items", "position")

    def get_model(self, body: Mapping[str, Any]) -> dict[str, Any]:
        return self.gateway.get_model(body["restApiId"], body["modelName"])

    def update_model(self, body: Mapping[str, Any]) -> dict[str, Any]:
        return self.gateway.update_model(body["restApiId"], body["modelName"], body.get("patchOperations"))

    def delete_model(self, body: Mapping[str, Any]) -> dict[str, Any]:
        self.gateway.delete_model(body["restApiId"], body["modelName"])
        return {}

    def create_request_validator(self, body: Mapping[str, Any]) -> dict[str, Any]:
        return self.gateway.create_request_validator(
            body["restApiId"], body.get("name"), validate_body=bool(body.get("validateRequestBody")),
            validate_parameters=bool(body.get("validateRequestParameters")))

    def get_request_validators(self, body: Mapping[str, Any]) -> dict[str, Any]:
        found = self.gateway.get_request_validators(body["restApiId"])
        return _page(found, body.get("position"), body.get("limit"), "items", "position")

    def get_request_validator(self, body: Mapping[str, Any]) -> dict[str, Any]:
        return self.gateway.get_request_validator(body["restApiId"], body["requestValidatorId"])

    def update_request_validator(self, body: Mapping[str, Any]) -> dict[str, Any]:
        return self.gateway.update_request_validator(body["restApiId"], body["requestValidatorId"],
                                                     body.get("patchOperations"))

    def delete_request_validator(self, body: Mapping[str, Any]) -> dict[str, Any]:
        self.gateway.delete_request_validator(body["restApiId"], body["requestValidatorId"])
        return {}

    def create_api_key(self, body: Mapping[str, Any]) -> dict[str, Any]:
        return self.gateway.usage_plans.create_api_key(body.get("name"), value=body.get("value"),
                                                       enabled=bool(body.get("enabled")),
                                                       description=body.get("description"))

    def get_api_keys(self, body: Mapping[str, Any]) -> dict[str, Any]:
        keys = self.gateway.usage_plans.get_api_keys(include_values=bool(body.get("includeValues")))
        return _page(keys, body.get("position"), body.get("limit"), "items", "position")

    def get_api_key(self, body: Mapping[str, Any]) -> dict[str, Any]:
        return self.gateway.usage_plans.get_api_key(body["apiKey"], include_value=bool(body.get("includeValue")))

    def delete_api_key(self, body: Mapping[str, Any]) -> dict[str, Any]:
        self.gateway.usage_plans.delete_api_key(body["apiKey"])
        return {}

    def create_usage_plan(self, body: Mapping[str, Any]) -> dict[str, Any]:
        return self.gateway.usage_plans.create_usage_plan(
            body["name"], api_stages=body.get("apiStages"), throttle=body.get("throttle"), quota=body.get("quota"),
            description=body.get("description"), stage_exists=self.gateway.has_stage)

    def get_usage_plans(self, body: Mapping[str, Any]) -> dict[str, Any]:
        plans = self.gateway.usage_plans.get_usage_plans()
        return _page(plans, body.get("position"), body.get("limit"), "items", "position")

    def get_usage_plan(self, body: Mapping[str, Any]) -> dict[str, Any]:
        return self.gateway.usage_plans.get_usage_plan(body["usagePlanId"])

    def update_api_key(self, body: Mapping[str, Any]) -> dict[str, Any]:
        return self.gateway.usage_plans.update_api_key(body["apiKey"], body.get("patchOperations"))

    def update_usage_plan(self, body: Mapping[str, Any]) -> dict[str, Any]:
        return self.gateway.usage_plans.update_usage_plan(body["usagePlanId"], body.get("patchOperations"),
                                                          stage_exists=self.gateway.has_stage)

    def delete_usage_plan(self, body: Mapping[str, Any]) -> dict[str, Any]:
        self.gateway.usage_plans.delete_usage_plan(body["usagePlanId"])
        return {}

    def create_usage_plan_key(self, body: Mapping[str, Any]) -> dict[str, Any]:
        return self.gateway.usage_plans.create_usage_plan_key(body["usagePlanId"], body["keyId"],
                                                              body.get("keyType") or "API_KEY")

    def get_usage_plan_keys(self, body: Mapping[str, Any]) -> dict[str, Any]:
        keys = self.gateway.usage_plans.get_usage_plan_keys(body["usagePlanId"])
        return _page(keys, body.get("position"), body.get("limit"), "items", "position")

    def get_usage(self, body: Mapping[str, Any]) -> dict[str, Any]:
        return self.gateway.usage_plans.get_usage(body["usagePlanId"], body["startDate"], body["endDate"],
                                                  body.get("keyId"))

    def get_usage_plan_key(self, body: Mapping[str, Any]) -> dict[str, Any]:
        return self.gateway.usage_plans.get_usage_plan_key(body["usagePlanId"], body["keyId"])

    def update_usage(self, body: Mapping[str, Any]) -> dict[str, Any]:
        return self.gateway.usage_plans.update_usage(body["usagePlanId"], body["keyId"], body.get("patchOperations"))

    def delete_usage_plan_key(self, body: Mapping[str, Any]) -> dict[str, Any]:
        self.gateway.usage_plans.delete_usage_plan_key(body["usagePlanId"], body["keyId"])
        return {}

    def create_authorizer(self, body: Mapping[str, Any]) -> dict[str, Any]:
        return self.gateway.create_authorizer(
            body["restApiId"], body["name"], body["type"], body.get("authorizerUri") or "",
            identity_source=body.get("identitySource"), ttl_seconds=body.get("authorizerResultTtlInSeconds"))

    def get_authorizers(self, body: Mapping[str, Any]) -> dict[str, Any]:
        authorizers = self.gateway.get_authorizers(body["restApiId"])
        return _page(authorizers, body.get("position"), body.get("limit"), "items", "position")

    def get_authorizer(self, body: Mapping[str, Any]) -> dict[str, Any]:
        return self.gateway.get_authorizer(body["restApiId"], body["authorizerId"])

    def delete_authorizer(self, body: Mapping[str, Any]) -> dict[str, Any]:
        self.gateway.delete_authorizer(body["restApiId"], body["authorizerId"])
        return {}

    def put_integration(self, body: Mapping[str, Any]) -> dict[str, Any]:
        return self.gateway.put_integration(
            body["restApiId"], body["resourceId"], body["httpMethod"], type=body["type"],
            uri=body.get("uri"), integration_http_method=body.get("integrationHttpMethod"),
            request_templates=body.get("requestTemplates"), passthrough_behavior=body.get("passthroughBehavior"))

    def update_integration(self, body: Mapping[str, Any]) -> dict[str, Any]:
        return self.gateway.update_method_integration(body["restApiId"], body["resourceId"],
                                                      body["httpMethod"], body.get("patchOperations"))

    def update_authorizer(self, body: Mapping[str, Any]) -> dict[str, Any]:
        return self.gateway.update_rest_authorizer(body["restApiId"], body["authorizerId"], body.get("patchOperations"))

    def put_method_response(self, body: Mapping[str, Any]) -> dict[str, Any]:
        return self.gateway.put_method_response(
            body["restApiId"], body["resourceId"], body["httpMethod"], body["statusCode"],
            response_parameters=body.get("responseParameters"), response_models=body.get("responseModels"))

    def put_integration_response(self, body: Mapping[str, Any]) -> dict[str, Any]:
        return self.gateway.put_integration_response(
            body["restApiId"], body["resourceId"], body["httpMethod"], body["statusCode"],
            selection_pattern=body.get("selectionPattern"), response_parameters=body.get("responseParameters"),
            response_templates=body.get("responseTemplates"))

    def create_deployment(self, body: Mapping[str, Any]) -> dict[str, Any]:
        return self.gateway.create_deployment(body["restApiId"], body.get("stageName"),
                                              description=body.get("description"),
                                              variables=body.get("variables"))

    def create_stage(self, body: Mapping[str, Any]) -> dict[str, Any]:
        return self.gateway.create_stage(body["restApiId"], body["stageName"], body["deploymentId"],
                                         variables=body.get("variables"))

    def get_stages(self, body: Mapping[str, Any]) -> dict[str, Any]:
        return {"item": self.gateway.get_stages(body["restApiId"])}

    def get_stage(self, body: Mapping[str, Any]) -> dict[str, Any]:
        return self.gateway.get_stage(body["restApiId"], body["stageName"])

    def get_resource(self, body: Mapping[str, Any]) -> dict[str, Any]:
        return self.gateway.get_resource(body["restApiId"], body["resourceId"])

    def get_method(self, body: Mapping[str, Any]) -> dict[str, Any]:
        return self.gateway.get_method(body["restApiId"], body["resourceId"], body["httpMethod"])

    def get_integration(self, body: Mapping[str, Any]) -> dict[str, Any]:
        return self.gateway.get_integration(body["restApiId"], body["resourceId"], body["httpMethod"])

    def get_deployments(self, body: Mapping[str, Any]) -> dict[str, Any]:
        deployments = self.gateway.get_deployments(body["restApiId"])
        return _page(deployments, body.get("position"), body.get("limit"), "items", "position")

    def get_deployment(self, body: Mapping[str, Any]) -> dict[str, Any]:
        return self.gateway.get_deployment(body["restApiId"], body["deploymentId"])

    def update_rest_api(self, body: Mapping[str, Any]) -> dict[str, Any]:
        return self.gateway.update_rest_api(body["restApiId"], body.get("patchOperations"))

    def update_resource(self, body: Mapping[str, Any]) -> dict[str, Any]:
        return self.gateway.update_resource(body["restApiId"], body["resourceId"], body.get("patchOperations"))

    def delete_resource(self, body: Mapping[str, Any]) -> dict[str, Any]:
        self.gateway.delete_resource(body["restApiId"], body["resourceId"])
        return {}

    def update_method(self, body: Mapping[str, Any]) -> dict[str, Any]:
        return self.gateway.update_method(body["restApiId"], body["resourceId"], body["httpMethod"],
                                          body.get("patchOperations"))

    def delete_method(self, body: Mapping[str, Any]) -> dict[str, Any]:
        self.gateway.delete_method(body["restApiId"], body["resourceId"], body["httpMethod"])
        return {}

    def delete_integration(self, body: Mapping[str, Any]) -> dict[str, Any]:
        self.gateway.delete_integration(body["restApiId"], body["resourceId"], body["httpMethod"])
        return {}

    def update_stage(self, body: Mapping[str, Any]) -> dict[str, Any]:
        return self.gateway.update_stage(body["restApiId"], body["stageName"], body.get("patchOperations"))

    def delete_stage(self, body: Mapping[str, Any]) -> dict[str, Any]:
        self.gateway.delete_stage(body["restApiId"], body["stageName"])
        return {}

    def delete_deployment(self, body: Mapping[str, Any]) -> dict[str, Any]:
        self.gateway.delete_deployment(body["restApiId"], body["deploymentId"])
        return {}


class HttpApiResponses:
    """The HTTP API (v2) operations lambdalab serves."""

    def __init__(self, gateway: ApiGateway) -> None:
        self.gateway = gateway

    def create_api(self, body: Mapping[str, Any]) -> dict[str, Any]:
        return self.gateway.create_api(
            body["Name"], protocol_type=body["ProtocolType"], target=body.get("Target"),
            route_key=body.get("RouteKey"), description=body.get("Description"),
            cors_configuration=body.get("CorsConfiguration"))

    def get_apis(self, body: Mapping[str, Any]) -> dict[str, Any]:
        return _page(self.gateway.get_apis(), body.get("NextToken"), body.get("MaxResults"), "Items", "NextToken")

    def get_api(self, body: Mapping[str, Any]) -> dict[str, Any]:
        return self.gateway.get_api(body["ApiId"])

    def delete_api(self, body: Mapping[str, Any]) -> dict[str, Any]:
        self.gateway.delete_api(body["ApiId"])
        return {}

    def create_integration(self, body: Mapping[str, Any]) -> dict[str, Any]:
        return self.gateway.create_integration(
            body["ApiId"], body["IntegrationType"], body.get("IntegrationUri") or "",
            payload_format_version=body.get("PayloadFormatVersion") or "2.0")

    def create_route(self, body: Mapping[str, Any]) -> dict[str, Any]:
        return self.gateway.create_route(body["ApiId"], body["RouteKey"], body.get("Target"),
                                         authorization_type=body.get("AuthorizationType") or "NONE",
                                         authorizer_id=body.get("AuthorizerId"),
                                         authorization_scopes=body.get("AuthorizationScopes"))

    def create_authorizer(self, body: Mapping[str, Any]) -> dict[str, Any]:
        return self.gateway.create_http_authorizer(
            body["ApiId"], body["Name"], body["AuthorizerType"], authorizer_uri=body.get("AuthorizerUri"),
            identity_source=body.get("IdentitySource"),
            payload_format_version=body.get("AuthorizerPayloadFormatVersion"),
            enable_simple_responses=bool(body.get("EnableSimpleResponses")),
            ttl_seconds=body.get("AuthorizerResultTtlInSeconds"), jwt_configuration=body.get("JwtConfiguration"))

    def get_authorizers(self, body: Mapping[str, Any]) -> dict[str, Any]:
        authorizers = self.gateway.get_http_authorizers(body["ApiId"])
        return _page(authorizers, body.get("NextToken"), body.get("MaxResults"), "Items", "NextToken")

    def get_authorizer(self, body: Mapping[str, Any]) -> dict[str, Any]:
        return self.gateway.get_http_authorizer(body["ApiId"], body["AuthorizerId"])

    def update_authorizer(self, body: Mapping[str, Any]) -> dict[str, Any]:
        return self.gateway.update_http_authorizer(body["ApiId"], body["AuthorizerId"], dict(body))

    def delete_authorizer(self, body: Mapping[str, Any]) -> dict[str, Any]:
        self.gateway.delete_http_authorizer(body["ApiId"], body["AuthorizerId"])
        return {}

    def get_routes(self, body: Mapping[str, Any]) -> dict[str, Any]:
        routes = self.gateway.get_routes(body["ApiId"])
        return _page(routes, body.get("NextToken"), body.get("MaxResults"), "Items", "NextToken")

    def create_stage(self, body: Mapping[str, Any]) -> dict[str, Any]:
        return self.gateway.create_http_stage(body["ApiId"], body["StageName"],
                                              auto_deploy=bool(body.get("AutoDeploy")),
                                              variables=body.get("StageVariables"))

    def get_stages(self, body: Mapping[str, Any]) -> dict[str, Any]:
        stages = self.gateway.get_http_stages(body["ApiId"])
        return _page(stages, body.get("NextToken"), body.get("MaxResults"), "Items", "NextToken")

    def get_stage(self, body: Mapping[str, Any]) -> dict[str, Any]:
        return self.gateway.get_http_stage(body["ApiId"], body["StageName"])

    def get_route(self, body: Mapping[str, Any]) -> dict[str, Any]:
        return self.gateway.get_route(body["ApiId"], body["RouteId"])

    def get_integration(self, body: Mapping[str, Any]) -> dict[str, Any]:
        return self.gateway.get_http_integration(body["ApiId"], body["IntegrationId"])

    def get_integrations(self, body: Mapping[str, Any]) -> dict[str, Any]:
        integrations = self.gateway.get_http_integrations(body["ApiId"])
        return _page(integrations, body.get("NextToken"), body.get("MaxResults"), "Items", "NextToken")

    def update_api(self, body: Mapping[str, Any]) -> dict[str, Any]:
        return self.gateway.update_api(body["ApiId"], dict(body))

    def update_route(self, body: Mapping[str, Any]) -> dict[str, Any]:
        return self.gateway.update_route(body["ApiId"], body["RouteId"], dict(body))

    def delete_route(self, body: Mapping[str, Any]) -> dict[str, Any]:
        self.gateway.delete_route(body["ApiId"], body["RouteId"])
        return {}

    def update_integration(self, body: Mapping[str, Any]) -> dict[str, Any]:
        return self.gateway.update_integration(body["ApiId"], body["IntegrationId"], dict(body))

    def delete_integration(self, body: Mapping[str, Any]) -> dict[str, Any]:
        self.gateway.delete_integration_v2(body["ApiId"], body["IntegrationId"])
        return {}

    def update_stage(self, body: Mapping[str, Any]) -> dict[str, Any]:
        return self.gateway.update_http_stage(body["ApiId"], body["StageName"], dict(body))

    def delete_stage(self, body: Mapping[str, Any]) -> dict[str, Any]:
        self.gateway.delete_http_stage(body["ApiId"], body["StageName"])
        return {}

    def create_deployment(self, body: Mapping[str, Any]) -> dict[str, Any]:
        return self.gateway.create_http_deployment(body["ApiId"], body.get("StageName"),
                                                   description=body.get("Description"))

    def get_deployments(self, body: Mapping[str, Any]) -> dict[str, Any]:
        deployments = self.gateway.get_http_deployments(body["ApiId"])
        return _page(deployments, body.get("NextToken"), body.get("MaxResults"), "Items", "NextToken")

    def delete_deployment(self, body: Mapping[str, Any]) -> dict[str, Any]:
        self.gateway.delete_http_deployment(body["ApiId"], body["DeploymentId"])
        return {}


class ManagementApp:
    """The ASGI app for SigV4 service ``apigateway``: v2's paths to v2, the rest to v1."""

    def __init__(self, gateway: ApiGateway) -> None:
        self.rest = ProtocolService("apigateway", RestApiResponses(gateway), errors=ERRORS)
        self.http = ProtocolService("apigatewayv2", HttpApiResponses(gateway), errors=ERRORS)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        service = self.http if scope["path"].startswith(V2_PREFIX) else self.rest
        await service(scope, receive, send)
