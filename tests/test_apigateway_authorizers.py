"""HTTP APIs' Lambda authorizers through boto3 and plain HTTP against a real edge:
payload 2.0 with simple answers, payload 1.0 with IAM policies, identity sources, the
cache on the lab's clock, and the context the integration receives
(https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-lambda-authorizer.html),
and JWT authorizers against an issuer served on loopback. REST APIs' TOKEN and REQUEST authorizers are in ``test_apigateway.py``."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Iterator

import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey

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


# -- JWT authorizers: an issuer on loopback serving its discovery document and JWKS ------


@pytest.fixture
def issuer() -> Iterator[dict[str, Any]]:
    """An OpenID issuer on a loopback port: its URL, and a key it signs tokens with."""
    key = RSAKey.generate_key(2048, auto_kid=True)
    state: dict[str, Any] = {"key": key}

    class Issuer(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            if self.path == "/.well-known/openid-configuration":
                body = {"issuer": state["url"], "jwks_uri": state["url"] + "/jwks.json"}
            else:
                body = {"keys": [state["key"].as_dict(private=False)]}
            data = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Issuer)
    state["url"] = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


def token(issuer: dict[str, Any], clock: Any, *, key: Any = None, **claims: Any) -> str:
    now = int(clock.now())
    body = {"iss": issuer["url"], "aud": "shop-app", "sub": "ada", "iat": now, "exp": now + 3600,
            "scope": "items.read items.write", **claims}
    signer = key or issuer["key"]
    return jwt.encode({"alg": "RS256", "kid": signer.kid}, body, signer)


def test_jwt_authorizer_checks_signature_issuer_audience_expiry_and_scopes(
        client: Any, edge: EdgeServer, clock: Any, issuer: dict[str, Any]) -> None:
    arn = create(client, "echo2", ECHO_V2)["FunctionArn"]
    allow_apigateway(client, "echo2")
    v2 = client_for(edge.url, "apigatewayv2")
    api = v2.create_api(Name="jwt", ProtocolType="HTTP")
    auth = v2.create_authorizer(ApiId=api["ApiId"], Name="jwt", AuthorizerType="JWT",
                                IdentitySource=["$request.header.Authorization"],
                                JwtConfiguration={"Issuer": issuer["url"], "Audience": ["shop-app"]})
    target = "integrations/" + v2.create_integration(ApiId=api["ApiId"], IntegrationType="AWS_PROXY",
                                                     IntegrationUri=arn, PayloadFormatVersion="2.0")["IntegrationId"]
    v2.create_route(ApiId=api["ApiId"], RouteKey="GET /items", Target=target, AuthorizationType="JWT",
                    AuthorizerId=auth["AuthorizerId"])
    v2.create_route(ApiId=api["ApiId"], RouteKey="GET /admin", Target=target, AuthorizationType="JWT",
                    AuthorizerId=auth["AuthorizerId"], AuthorizationScopes=["admin"])
    v2.create_stage(ApiId=api["ApiId"], StageName="$default", AutoDeploy=True)
    url = f"{edge.url}/_lambdalab/apis/{api['ApiId']}"
    unauthorized = (401, {"message": "Unauthorized"})

    def get(path: str, value: str | None) -> tuple[int, Any]:
        status, _, body = request(url + path, headers={"Authorization": value} if value else {})
        return status, json.loads(body)

    assert get("/items", None) == unauthorized
    assert get("/items", "not-a-jwt") == unauthorized
    status, event = get("/items", "Bearer " + token(issuer, clock))
    assert status == 201, event
    jwt_context = event["requestContext"]["authorizer"]["jwt"]
    assert jwt_context["claims"]["sub"] == "ada" and jwt_context["scopes"] == ["items.read", "items.write"]
    assert get("/items", token(issuer, clock, aud="another-app")) == unauthorized
    assert get("/items", token(issuer, clock, iss="https://impostor.example")) == unauthorized
    assert get("/items", token(issuer, clock, key=RSAKey.generate_key(2048, auto_kid=True))) == unauthorized
    assert get("/admin", token(issuer, clock)) == (403, {"message": "Forbidden"})
    assert get("/admin", token(issuer, clock, scope="admin"))[0] == 201
    admin = next(r for r in v2.get_routes(ApiId=api["ApiId"])["Items"] if r["RouteKey"] == "GET /admin")
    cleared = v2.update_route(ApiId=api["ApiId"], RouteId=admin["RouteId"], AuthorizationScopes=[])
    assert cleared.get("AuthorizationScopes", []) == [] and cleared["AuthorizationType"] == "JWT"
    assert get("/admin", token(issuer, clock))[0] == 201  # an empty list clears the scopes
    expiring = token(issuer, clock)
    clock.advance(3601)  # past exp, on the lab's clock
    assert get("/items", expiring) == unauthorized


def test_authorizers_are_deleted_once_nothing_uses_them(client: Any, edge: EdgeServer) -> None:
    api = _api(client, edge, SIMPLE, AuthorizerPayloadFormatVersion="2.0", EnableSimpleResponses=True,
               IdentitySource=["$request.header.Authorization"])
    v2, auth_id = api["client"], api["authorizer"]["AuthorizerId"]
    assert v2.get_authorizer(ApiId=api["id"], AuthorizerId=auth_id)["Name"] == "auth"
    with pytest.raises(v2.exceptions.ConflictException):
        v2.delete_authorizer(ApiId=api["id"], AuthorizerId=auth_id)
    for route in v2.get_routes(ApiId=api["id"])["Items"]:
        v2.update_route(ApiId=api["id"], RouteId=route["RouteId"], AuthorizationType="NONE")
    v2.delete_authorizer(ApiId=api["id"], AuthorizerId=auth_id)
    with pytest.raises(v2.exceptions.NotFoundException):
        v2.get_authorizer(ApiId=api["id"], AuthorizerId=auth_id)
    assert request(api["url"] + "/items/1")[0] == 201


def test_update_authorizer_is_checked_as_create_is(client: Any, edge: EdgeServer) -> None:
    """UpdateAuthorizer replaces the members sent; the result must still be an authorizer
    CreateAuthorizer would take, and a type routes rely on stays."""
    api = _api(client, edge, SIMPLE, AuthorizerPayloadFormatVersion="2.0", EnableSimpleResponses=True,
               IdentitySource=["$request.header.Authorization"])
    v2, auth_id = api["client"], api["authorizer"]["AuthorizerId"]
    updated = v2.update_authorizer(ApiId=api["id"], AuthorizerId=auth_id, Name="gate",
                                   AuthorizerResultTtlInSeconds=60)
    assert (updated["Name"], updated["AuthorizerResultTtlInSeconds"], updated["EnableSimpleResponses"]) == (
        "gate", 60, True)
    for bad in ({"AuthorizerPayloadFormatVersion": "1.0"}, {"AuthorizerResultTtlInSeconds": 3601},
                {"AuthorizerUri": "arn:aws:s3:::bucket"}):
        with pytest.raises(v2.exceptions.BadRequestException):
            v2.update_authorizer(ApiId=api["id"], AuthorizerId=auth_id, **bad)
    with pytest.raises(v2.exceptions.ConflictException):
        v2.update_authorizer(ApiId=api["id"], AuthorizerId=auth_id, AuthorizerType="JWT",
                             JwtConfiguration={"Issuer": "https://issuer.example", "Audience": ["a"]})
    with pytest.raises(v2.exceptions.NotFoundException):
        v2.update_authorizer(ApiId=api["id"], AuthorizerId="nosuch", Name="x")
    assert v2.get_authorizer(ApiId=api["id"], AuthorizerId=auth_id)["AuthorizerResultTtlInSeconds"] == 60
