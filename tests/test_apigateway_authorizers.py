"""HTTP APIs' Lambda authorizers through boto3 and plain HTTP against a real edge:
payload 2.0 with simple answers, payload 1.0 with IAM policies, identity sources, the
cache on the lab's clock, and the context the integration receives
(https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-lambda-authorizer.html).
REST APIs' TOKEN and REQUEST authorizers are in ``test_apigateway.py``."""

from __future__ import annotations

import json
from typing import Any

import pytest

from lambdalab.server import EdgeServer

from .edge_support import client, client_for, create, edge  # noqa: F401  (fixtures)
from .test_apigateway import ECHO_V2, allow_apigateway, request

SIMPLE = """
import uuid
def handler(event, context):
    token = event["identitySource"][0]
    if token == "crash":
        raise RuntimeError("boom")
    # A fresh nonce per call: a cached answer shows the same one again.
    return {"isAuthorized": token == "let-me-in",
            "context": {"user": "ada", "nonce": str(uuid.uuid4()), "version": event["version"],
                        "routeArn": event["routeArn"]}}
"""
POLICY = """
def handler(event, context):
    items = event["methodArn"].rsplit("/", 3)[0] + "/GET/items/*"
    return {"principalId": "ada", "context": {"tier": "gold", "version": event["version"],
                                              "source": event["identitySource"]},
            "policyDocument": {"Version": "2012-10-17", "Statement": [
                {"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": items}]}}
"""


def _api(client: Any, edge: EdgeServer, source: str, **authorizer: Any) -> dict[str, Any]:
    """An HTTP API whose ``GET /items/{id}`` and ``GET /other`` are guarded by a Lambda authorizer."""
    arn = create(client, "echo2", ECHO_V2)["FunctionArn"]
    allow_apigateway(client, "echo2")
    auth_arn = create(client, "auth", source)["FunctionArn"]
    v2 = client_for(edge.url, "apigatewayv2")
    api = v2.create_api(Name="guarded", ProtocolType="HTTP")
    created = v2.create_authorizer(ApiId=api["ApiId"], Name="auth", AuthorizerType="REQUEST",
                                   AuthorizerUri=auth_arn, **authorizer)
    integration = v2.create_integration(ApiId=api["ApiId"], IntegrationType="AWS_PROXY", IntegrationUri=arn,
                                        PayloadFormatVersion="2.0")
    for key in ("GET /items/{id}", "GET /other"):
        v2.create_route(ApiId=api["ApiId"], RouteKey=key, Target=f"integrations/{integration['IntegrationId']}",
                        AuthorizationType="CUSTOM", AuthorizerId=created["AuthorizerId"])
    v2.create_route(ApiId=api["ApiId"], RouteKey="GET /open", Target=f"integrations/{integration['IntegrationId']}")
    v2.create_stage(ApiId=api["ApiId"], StageName="$default", AutoDeploy=True)
    return {"id": api["ApiId"], "url": f"{edge.url}/_lambdalab/apis/{api['ApiId']}", "client": v2,
            "authorizer": created}


def _authorizer_context(body: bytes) -> Any:
    return json.loads(body)["requestContext"]["authorizer"]


def test_simple_responses_and_the_cache(client: Any, edge: EdgeServer, clock: Any) -> None:
    api = _api(client, edge, SIMPLE, AuthorizerPayloadFormatVersion="2.0", EnableSimpleResponses=True,
               IdentitySource=["$request.header.Authorization"], AuthorizerResultTtlInSeconds=60)
    assert [a["AuthorizerId"] for a in api["client"].get_authorizers(ApiId=api["id"])["Items"]] == [
        api["authorizer"]["AuthorizerId"]]
    status, _, body = request(api["url"] + "/items/1")
    assert (status, json.loads(body)) == (401, {"message": "Unauthorized"})  # no identity: not called
    status, _, body = request(api["url"] + "/items/1", headers={"Authorization": "guess"})
    assert (status, json.loads(body)) == (403, {"message": "Forbidden"})
    status, _, body = request(api["url"] + "/items/1", headers={"Authorization": "crash"})
    assert (status, json.loads(body)) == (500, {"message": "Internal Server Error"})
    status, _, body = request(api["url"] + "/items/1", headers={"Authorization": "let-me-in"})
    assert status == 201, body
    first = _authorizer_context(body)["lambda"]
    assert first["user"] == "ada" and first["version"] == "2.0"
    assert first["routeArn"] == f"arn:aws:execute-api:us-east-1:000000000000:{api['id']}/$default/GET/items/1"
    # Cached by identity for the TTL on the lab's clock, for every route of the authorizer.
    status, _, body = request(api["url"] + "/other", headers={"Authorization": "let-me-in"})
    assert status == 201 and _authorizer_context(body)["lambda"]["nonce"] == first["nonce"]
    clock.advance(61)
    status, _, body = request(api["url"] + "/items/1", headers={"Authorization": "let-me-in"})
    assert status == 201 and _authorizer_context(body)["lambda"]["nonce"] != first["nonce"]
    status, _, body = request(api["url"] + "/open")
    assert status == 201 and "authorizer" not in json.loads(body)["requestContext"]


def test_payload_1_0_policy_decides_per_route(client: Any, edge: EdgeServer) -> None:
    api = _api(client, edge, POLICY, AuthorizerPayloadFormatVersion="1.0",
               IdentitySource=["$request.header.x-user", "$request.querystring.team"])
    status, _, _ = request(api["url"] + "/items/1?team=a")
    assert status == 401  # one identity source missing
    status, _, body = request(api["url"] + "/items/1?team=a", headers={"x-user": "ada"})
    assert status == 201, body
    assert _authorizer_context(body) == {"lambda": {"tier": "gold", "version": "1.0", "source": "ada,a"}}
    status, _, body = request(api["url"] + "/other?team=a", headers={"x-user": "ada"})
    assert (status, json.loads(body)) == (403, {"message": "Forbidden"})


def test_authorizer_and_route_settings_are_checked(client: Any, edge: EdgeServer) -> None:
    api = _api(client, edge, SIMPLE, AuthorizerPayloadFormatVersion="2.0", EnableSimpleResponses=True,
               IdentitySource=["$request.header.Authorization"])
    v2 = api["client"]
    auth_arn = api["authorizer"].get("AuthorizerUri")
    for bad in ({"AuthorizerPayloadFormatVersion": "1.0", "EnableSimpleResponses": True},
                {"AuthorizerPayloadFormatVersion": "3.0"},
                {"AuthorizerPayloadFormatVersion": "2.0", "AuthorizerResultTtlInSeconds": 60}):
        with pytest.raises(v2.exceptions.BadRequestException):
            v2.create_authorizer(ApiId=api["id"], Name="x", AuthorizerType="REQUEST", AuthorizerUri=auth_arn,
                                 IdentitySource=[], **bad)
    routes = {r["RouteKey"]: r for r in v2.get_routes(ApiId=api["id"])["Items"]}
    with pytest.raises(v2.exceptions.BadRequestException):
        v2.update_route(ApiId=api["id"], RouteId=routes["GET /open"]["RouteId"], AuthorizationType="CUSTOM",
                        AuthorizerId="nosuch")
    v2.update_route(ApiId=api["id"], RouteId=routes["GET /open"]["RouteId"], AuthorizationType="CUSTOM",
                    AuthorizerId=api["authorizer"]["AuthorizerId"])
    assert request(api["url"] + "/open")[0] == 401
    v2.update_route(ApiId=api["id"], RouteId=routes["GET /open"]["RouteId"], AuthorizationType="NONE")
    assert request(api["url"] + "/open")[0] == 201
