"""API Gateway's update and delete operations through boto3 against a real edge: REST
APIs' ``patchOperations`` (v1) and HTTP APIs' field updates (v2), each with AWS's errors,
and what the invoke URL serves afterwards."""

from __future__ import annotations

import json
from typing import Any

import pytest

from lambdalab.server import EdgeServer

from .edge_support import client, create, edge  # noqa: F401  (fixtures)
from .test_apigateway import ECHO_V1, allow_apigateway, http_api, request, rest_api  # noqa: F401


def _error(raised: Any) -> tuple[str, str]:
    error = raised.value.response["Error"]
    return error["Code"], error["Message"]


def assert_rest_api_refuses(apigw: Any, api_id: str, refusals: list[tuple[list[dict[str, Any]], str]]) -> None:
    """Each UpdateRestApi of ``refusals`` is a BadRequestException with its message."""
    for operations, text in refusals:
        with pytest.raises(apigw.exceptions.BadRequestException) as raised:
            apigw.update_rest_api(restApiId=api_id, patchOperations=operations)
        assert _error(raised) == ("BadRequestException", text)


def _resource(apigw: Any, api_id: str, path: str) -> dict[str, Any]:
    return next(r for r in apigw.get_resources(restApiId=api_id)["items"] if r["path"] == path)


def test_update_rest_api_applies_patch_operations(rest_api: dict[str, Any]) -> None:
    apigw, api_id = rest_api["client"], rest_api["id"]
    updated = apigw.update_rest_api(restApiId=api_id, patchOperations=[
        {"op": "replace", "path": "/name", "value": "store"},
        {"op": "replace", "path": "/description", "value": "the shop, renamed"},
        {"op": "add", "path": "/binaryMediaTypes/image~1jpeg"},
        {"op": "remove", "path": "/binaryMediaTypes/image~1png"},
        {"op": "replace", "path": "/minimumCompressionSize", "value": "1024"},
    ])
    assert updated["name"] == "store" and updated["description"] == "the shop, renamed"
    assert updated["binaryMediaTypes"] == ["image/jpeg"] and updated["minimumCompressionSize"] == 1024
    assert apigw.get_rest_api(restApiId=api_id)["name"] == "store"
    refusals = [
        ([{"op": "add", "path": "/binaryMediaTypes", "value": "x"}], "Invalid patch path /binaryMediaTypes"),
        ([{"op": "add", "path": "/name", "value": "x"}], "Invalid patch operation specified. Must be one of: [replace]"),
        ([{"op": "bogus", "path": "/name"}],
         "1 validation error detected: Value 'bogus' at 'patchOperations.1.member.op' failed to satisfy "
         "constraint: Member must satisfy enum value set: [add, remove, replace, move, copy, test]"),
        ([{"op": "replace", "path": "/minimumCompressionSize", "value": "-1"}],
         "Invalid minimum compression size, must be between 0 and 10485760"),
    ]
    assert_rest_api_refuses(apigw, api_id, refusals)
    with pytest.raises(apigw.exceptions.NotFoundException):
        apigw.update_rest_api(restApiId="nosuchapi0", patchOperations=[])
    assert apigw.get_rest_api(restApiId=api_id)["binaryMediaTypes"] == ["image/jpeg"]  # refusals changed nothing


def test_update_resource_moves_the_subtree(rest_api: dict[str, Any]) -> None:
    apigw, api_id = rest_api["client"], rest_api["id"]
    items = _resource(apigw, api_id, "/items")
    moved = apigw.update_resource(restApiId=api_id, resourceId=items["id"],
                                  patchOperations=[{"op": "replace", "path": "/pathPart", "value": "products"}])
    assert moved["path"] == "/products"
    paths = sorted(r["path"] for r in apigw.get_resources(restApiId=api_id)["items"])
    assert paths == ["/", "/files", "/files/{proxy+}", "/products", "/products/{id}"]
    files, root = _resource(apigw, api_id, "/files"), _resource(apigw, api_id, "/")
    cases = [
        (items["id"], [{"op": "replace", "path": "/pathPart", "value": "files"}], "ConflictException",
         "Another resource with the same parent already has this name: files"),
        (items["id"], [{"op": "replace", "path": "/parentId", "value": _resource(apigw, api_id, "/products/{id}")["id"]}],
         "BadRequestException", "Resources cannot be cyclical."),
        (items["id"], [{"op": "replace", "path": "/parentId", "value": _resource(apigw, api_id, "/files/{proxy+}")["id"]}],
         "BadRequestException", "Cannot create a child of a resource with a greedy path variable: {proxy+}"),
        (items["id"], [{"op": "remove", "path": "/pathPart"}], "BadRequestException",
         "Invalid patch path  '/pathPart' specified for op 'remove'. Please choose supported operations"),
        (items["id"], [{"op": "replace", "path": "/invalid", "value": "x"}], "BadRequestException",
         "Invalid patch path  '/invalid' specified for op 'replace'. Must be one of: [/parentId, /pathPart]"),
        (root["id"], [{"op": "replace", "path": "/pathPart", "value": "x"}], "BadRequestException",
         "Root resource cannot update its pathPart."),
        (items["id"], [{"op": "replace", "path": "/parentId", "value": "nosuch"}], "NotFoundException",
         "Invalid Resource identifier specified"),
    ]
    for resource_id, operations, code, text in cases:
        with pytest.raises(apigw.exceptions.ClientError) as raised:
            apigw.update_resource(restApiId=api_id, resourceId=resource_id, patchOperations=operations)
        assert _error(raised) == (code, text)
    apigw.delete_resource(restApiId=api_id, resourceId=files["id"])
    paths = sorted(r["path"] for r in apigw.get_resources(restApiId=api_id)["items"])
    assert paths == ["/", "/products", "/products/{id}"]
    with pytest.raises(apigw.exceptions.NotFoundException):
        apigw.delete_resource(restApiId=api_id, resourceId=files["id"])
    with pytest.raises(apigw.exceptions.BadRequestException):
        apigw.delete_resource(restApiId=api_id, resourceId=root["id"])


def test_updates_reach_the_invoke_url_only_when_redeployed(rest_api: dict[str, Any]) -> None:
    """As on AWS, a stage serves its deployment: a changed API serves its change once
    deployed again, and UpdateStage's ``/deploymentId`` rolls it back."""
    apigw, api_id = rest_api["client"], rest_api["id"]
    items = _resource(apigw, api_id, "/items")
    apigw.update_resource(restApiId=api_id, resourceId=items["id"],
                          patchOperations=[{"op": "replace", "path": "/pathPart", "value": "products"}])
    assert request(rest_api["url"] + "/items/1")[0] == 200
    assert request(rest_api["url"] + "/products/1")[0] == 403  # not deployed yet
    [first] = apigw.get_deployments(restApiId=api_id)["items"]
    second = apigw.create_deployment(restApiId=api_id, stageName="prod")
    assert request(rest_api["url"] + "/products/1")[0] == 200
    with pytest.raises(apigw.exceptions.BadRequestException) as raised:
        apigw.delete_deployment(restApiId=api_id, deploymentId=second["id"])
    assert _error(raised)[1] == "Active stages pointing to this deployment must be moved or deleted"
    stage = apigw.update_stage(restApiId=api_id, stageName="prod", patchOperations=[
        {"op": "replace", "path": "/deploymentId", "value": first["id"]},
        {"op": "add", "path": "/variables/color", "value": "blue"},
        {"op": "replace", "path": "/tracingEnabled", "value": "true"},
    ])
    assert stage["deploymentId"] == first["id"] and stage["variables"] == {"color": "blue"}
    assert stage["tracingEnabled"] is True
    status, _, body = request(rest_api["url"] + "/items/1")
    assert status == 200 and json.loads(body)["stageVariables"] == {"color": "blue"}
    stage = apigw.update_stage(restApiId=api_id, stageName="prod",
                               patchOperations=[{"op": "remove", "path": "/variables/color"}])
    assert "variables" not in stage
    for operations, text in (
            ([{"op": "replace", "path": "/deploymentId", "value": "nosuch"}], "Deployment id does not exist"),
            ([{"op": "replace", "path": "/canarySettings", "value": "x"}], "Invalid method setting path: /canarySettings")):
        with pytest.raises(apigw.exceptions.BadRequestException) as raised:
            apigw.update_stage(restApiId=api_id, stageName="prod", patchOperations=operations)
        assert _error(raised)[1].startswith(text)
    apigw.delete_deployment(restApiId=api_id, deploymentId=second["id"])
    assert [d["id"] for d in apigw.get_deployments(restApiId=api_id)["items"]] == [first["id"]]
    apigw.delete_stage(restApiId=api_id, stageName="prod")
    with pytest.raises(apigw.exceptions.NotFoundException) as raised:
        apigw.get_stage(restApiId=api_id, stageName="prod")
    assert _error(raised)[1] == "Invalid Stage identifier specified"
    assert request(rest_api["url"] + "/items/1")[0] == 403


def test_update_and_delete_method_and_integration(rest_api: dict[str, Any]) -> None:
    apigw, api_id = rest_api["client"], rest_api["id"]
    item = _resource(apigw, api_id, "/items/{id}")
    method = apigw.update_method(restApiId=api_id, resourceId=item["id"], httpMethod="GET", patchOperations=[
        {"op": "replace", "path": "/apiKeyRequired", "value": "true"},
        {"op": "replace", "path": "/operationName", "value": "GetItem"}])
    assert method["apiKeyRequired"] is True and method["operationName"] == "GetItem"
    assert apigw.get_method(restApiId=api_id, resourceId=item["id"], httpMethod="GET")["operationName"] == "GetItem"
    cases = [
        ("GET", [{"op": "add", "path": "/operationName", "value": "x"}], "BadRequestException",
         "Invalid patch operation specified. Must be one of: [replace]"),
        ("GET", [{"op": "replace", "path": "/httpMethod", "value": "POST"}], "BadRequestException",
         "Invalid patch path /httpMethod"),
        ("GET", [{"op": "replace", "path": "/authorizationType", "value": "CUSTOM"}], "BadRequestException",
         "Invalid authorizer ID specified. Setting the authorization type to CUSTOM or COGNITO_USER_POOLS "
         "requires a valid authorizer."),
        ("POST", [], "NotFoundException", "Invalid Method identifier specified"),
    ]
    for verb, operations, code, text in cases:
        with pytest.raises(apigw.exceptions.ClientError) as raised:
            apigw.update_method(restApiId=api_id, resourceId=item["id"], httpMethod=verb, patchOperations=operations)
        assert _error(raised) == (code, text)
    assert apigw.get_method(restApiId=api_id, resourceId=item["id"], httpMethod="GET")["authorizationType"] == "NONE"
    apigw.delete_integration(restApiId=api_id, resourceId=item["id"], httpMethod="GET")
    with pytest.raises(apigw.exceptions.NotFoundException) as raised:
        apigw.get_integration(restApiId=api_id, resourceId=item["id"], httpMethod="GET")
    assert _error(raised)[1] == "Invalid Integration identifier specified"
    apigw.delete_method(restApiId=api_id, resourceId=item["id"], httpMethod="GET")
    with pytest.raises(apigw.exceptions.NotFoundException) as raised:
        apigw.delete_method(restApiId=api_id, resourceId=item["id"], httpMethod="GET")
    assert _error(raised)[1] == "Invalid Method identifier specified"
    apigw.create_deployment(restApiId=api_id, stageName="prod")
    assert request(rest_api["url"] + "/items/1")[0] == 403
    assert request(rest_api["url"] + "/files/a")[0] == 200


def test_http_api_updates_and_deletes(http_api: dict[str, Any], client: Any) -> None:
    v2, api_id = http_api["client"], http_api["id"]
    api = v2.update_api(ApiId=api_id, Name="web2", Description="renamed",
                        CorsConfiguration={"AllowOrigins": ["https://example.com"]})
    assert (api["Name"], api["Description"]) == ("web2", "renamed")
    assert v2.get_api(ApiId=api_id)["CorsConfiguration"] == {"AllowOrigins": ["https://example.com"]}
    routes = {r["RouteKey"]: r for r in v2.get_routes(ApiId=api_id)["Items"]}
    route = v2.update_route(ApiId=api_id, RouteId=routes["GET /items/{id}"]["RouteId"], RouteKey="GET /things/{id}")
    assert route["RouteKey"] == "GET /things/{id}"
    status, _, body = request(http_api["url"] + "/things/5")
    assert status == 201 and json.loads(body)["routeKey"] == "GET /things/{id}"
    with pytest.raises(v2.exceptions.ConflictException):
        v2.update_route(ApiId=api_id, RouteId=route["RouteId"], RouteKey="$default")
    with pytest.raises(v2.exceptions.BadRequestException):
        v2.update_route(ApiId=api_id, RouteId=route["RouteId"], RouteKey="FETCH things")
    with pytest.raises(v2.exceptions.NotFoundException) as raised:
        v2.get_route(ApiId=api_id, RouteId="nosuch")
    assert _error(raised)[1] == "Invalid Route identifier specified nosuch"
    [integration] = v2.get_integrations(ApiId=api_id)["Items"]
    other = create(client, "echo1", ECHO_V1)["FunctionArn"]
    allow_apigateway(client, "echo1")
    changed = v2.update_integration(ApiId=api_id, IntegrationId=integration["IntegrationId"],
                                    IntegrationUri=other, PayloadFormatVersion="1.0", TimeoutInMillis=5000)
    assert (changed["IntegrationUri"], changed["PayloadFormatVersion"], changed["TimeoutInMillis"]) == (other, "1.0", 5000)
    status, _, body = request(http_api["url"] + "/things/5")
    assert status == 200 and json.loads(body)["version"] == "1.0"
    with pytest.raises(v2.exceptions.BadRequestException):
        v2.update_integration(ApiId=api_id, IntegrationId=integration["IntegrationId"], TimeoutInMillis=40_000)
    with pytest.raises(v2.exceptions.ConflictException):
        v2.delete_integration(ApiId=api_id, IntegrationId=integration["IntegrationId"])
    for key in routes:
        rid = route["RouteId"] if key == "GET /items/{id}" else routes[key]["RouteId"]
        v2.delete_route(ApiId=api_id, RouteId=rid)
    assert v2.get_routes(ApiId=api_id)["Items"] == []
    assert request(http_api["url"] + "/things/5")[0] == 404
    v2.delete_integration(ApiId=api_id, IntegrationId=integration["IntegrationId"])
    assert v2.get_integrations(ApiId=api_id)["Items"] == []


def test_http_api_stages_and_deployments(http_api: dict[str, Any]) -> None:
    v2, api_id = http_api["client"], http_api["id"]
    stage = v2.update_stage(ApiId=api_id, StageName="$default", StageVariables={"flag": "on"}, Description="d")
    assert stage["StageVariables"] == {"flag": "on"} and stage["Description"] == "d"
    status, _, body = request(http_api["url"] + "/items/1")
    assert status == 201 and json.loads(body)["stageVariables"] == {"flag": "on"}
    deployment = v2.create_deployment(ApiId=api_id, StageName="$default")
    assert v2.get_stage(ApiId=api_id, StageName="$default")["DeploymentId"] == deployment["DeploymentId"]
    assert [d["DeploymentId"] for d in v2.get_deployments(ApiId=api_id)["Items"]] == [deployment["DeploymentId"]]
    with pytest.raises(v2.exceptions.BadRequestException):
        v2.delete_deployment(ApiId=api_id, DeploymentId=deployment["DeploymentId"])
    with pytest.raises(v2.exceptions.NotFoundException):
        v2.update_stage(ApiId=api_id, StageName="$default", DeploymentId="nosuch")
    v2.delete_stage(ApiId=api_id, StageName="$default")
    with pytest.raises(v2.exceptions.NotFoundException):
        v2.get_stage(ApiId=api_id, StageName="$default")
    v2.delete_deployment(ApiId=api_id, DeploymentId=deployment["DeploymentId"])
    with pytest.raises(v2.exceptions.NotFoundException):
        v2.delete_deployment(ApiId=api_id, DeploymentId=deployment["DeploymentId"])
    assert request(http_api["url"] + "/items/1")[0] == 403  # no stage: API Gateway's own answer
    v2.delete_api(ApiId=api_id)
    with pytest.raises(v2.exceptions.NotFoundException):
        v2.delete_api(ApiId=api_id)


def test_hostile_patch_operations_are_refused(rest_api: dict[str, Any], edge: EdgeServer) -> None:
    """Malformed operations get a 400 and change nothing (never a 500)."""
    apigw, api_id = rest_api["client"], rest_api["id"]
    item = _resource(apigw, api_id, "/items/{id}")
    for operations in ([{"op": "replace", "path": "name", "value": "x"}],
                       [{"op": "replace", "path": "/apiKeyRequired", "value": "maybe"}],
                       [{"op": "replace", "path": "/operationName"}]):
        with pytest.raises(apigw.exceptions.BadRequestException):
            apigw.update_method(restApiId=api_id, resourceId=item["id"], httpMethod="GET", patchOperations=operations)
    raw = {"patchOperations": [{"op": "replace", "path": ["/name"]}, 7]}
    status, _, _ = request(f"{edge.url}/restapis/{api_id}", "PATCH", json.dumps(raw).encode(),
                           {"Content-Type": "application/json"})
    assert 400 <= status < 500
    assert apigw.get_method(restApiId=api_id, resourceId=item["id"], httpMethod="GET")["apiKeyRequired"] is False


def test_update_integration_and_authorizer(rest_api: dict[str, Any], client: Any) -> None:
    """UpdateIntegration's and UpdateAuthorizer's patch paths; a refused list keeps nothing."""
    apigw, api_id = rest_api["client"], rest_api["id"]
    item = _resource(apigw, api_id, "/items/{id}")
    arn = client.get_function(FunctionName="echo1")["Configuration"]["FunctionArn"]
    uri = f"arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/{arn}/invocations"
    updated = apigw.update_integration(restApiId=api_id, resourceId=item["id"], httpMethod="GET", patchOperations=[
        {"op": "replace", "path": "/timeoutInMillis", "value": "5000"},
        {"op": "replace", "path": "/passthroughBehavior", "value": "NEVER"},
        {"op": "add", "path": "/requestTemplates/application~1json", "value": "{}"}])
    assert (updated["timeoutInMillis"], updated["passthroughBehavior"]) == (5000, "NEVER")
    assert updated["requestTemplates"] == {"application/json": "{}"} and updated["uri"] == uri
    for bad in ([{"op": "replace", "path": "/timeoutInMillis", "value": "30001"}],
                [{"op": "replace", "path": "/passthroughBehavior", "value": "SOMETIMES"}],
                [{"op": "replace", "path": "/uri", "value": "arn:aws:s3:::bucket"}],
                [{"op": "replace", "path": "/timeoutInMillis", "value": "100"},
                 {"op": "replace", "path": "/type", "value": "HTTP"}]):
        with pytest.raises(apigw.exceptions.BadRequestException):
            apigw.update_integration(restApiId=api_id, resourceId=item["id"], httpMethod="GET", patchOperations=bad)
    assert apigw.get_integration(restApiId=api_id, resourceId=item["id"], httpMethod="GET")["timeoutInMillis"] == 5000
    authorizer = apigw.create_authorizer(restApiId=api_id, name="gate", type="TOKEN", authorizerUri=uri)
    changed = apigw.update_authorizer(restApiId=api_id, authorizerId=authorizer["id"], patchOperations=[
        {"op": "replace", "path": "/name", "value": "door"},
        {"op": "replace", "path": "/authorizerResultTtlInSeconds", "value": "60"}])
    assert (changed["name"], changed["authorizerResultTtlInSeconds"]) == ("door", 60)
    with pytest.raises(apigw.exceptions.BadRequestException):
        apigw.update_authorizer(restApiId=api_id, authorizerId=authorizer["id"], patchOperations=[
            {"op": "replace", "path": "/authorizerResultTtlInSeconds", "value": "3601"}])
    with pytest.raises(apigw.exceptions.NotFoundException):
        apigw.update_authorizer(restApiId=api_id, authorizerId="nosuch", patchOperations=[])
    assert apigw.get_authorizer(restApiId=api_id, authorizerId=authorizer["id"])["authorizerResultTtlInSeconds"] == 60
