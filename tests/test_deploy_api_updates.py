"""``lambdalab deploy`` updates of APIs, judged as CloudFormation would leave them: an API's
child removed from the template stops answering and leaves the stack, a changed ``Body``
keeps the API's id (PutRestApi ``mode=overwrite`` / ReimportApi), a stage moves to a new
deployment (UpdateStage), SAM's ``Cors`` answers a browser's preflight and an HTTP API's
authorizers from ``Auth.Authorizers`` guard their routes. Requests go to the edge over
HTTP; the management API is read with boto3."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

import pytest

from lambdalab import Lab
from lambdalab.server import EdgeServer
from lambdalab_cloudformation import DeployFailed, cloudformation_of, local_url

from .edge_support import client_for, edge  # noqa: F401  (fixture)
from .test_apigateway import request
from .test_apigateway_authorizers import issuer, token  # noqa: F401  (fixture)
from .test_deploy import physical
from .test_deploy_api import GREETER, ONE_ROUTE, RAW, get, output, write

TWO_ROUTES = ONE_ROUTE.replace(
    "Hello: {Type: Api, Properties: {Path: /hello, Method: get}}",
    "Hello: {Type: Api, Properties: {Path: /hello, Method: get}}\n"
    "        Bye: {Type: Api, Properties: {Path: /bye, Method: get}}")


def names(lab: Lab, stack: str) -> set[str]:
    found = cloudformation_of(lab).stacks.get(stack)
    assert found is not None
    return set(found.resources)


def test_a_removed_sam_api_event_stops_answering_and_the_api_keeps_its_id(
        lab: Lab, edge: EdgeServer, tmp_path: Path) -> None:  # noqa: F811
    deployer = cloudformation_of(lab).deployer
    template = write(tmp_path / "app", TWO_ROUTES, GREETER)
    deployer.deploy("app", template)
    api_id = physical(lab, "app", "ServerlessRestApi")
    base = local_url(lab, output(lab, "app", "Base"))
    assert get(f"{base}/bye") == (200, {"path": "/bye", "method": "GET"})

    template.write_text(ONE_ROUTE)
    result = deployer.deploy("app", template)
    assert physical(lab, "app", "ServerlessRestApi") == api_id  # the URL the learner saved still works
    assert get(f"{base}/hello") == (200, {"path": "/hello", "method": "GET"})
    assert get(f"{base}/bye") == (403, {"message": "Missing Authentication Token"})
    apigw = client_for(edge.url, "apigateway")
    assert sorted(r["path"] for r in apigw.get_resources(restApiId=api_id)["items"]) == ["/", "/hello"]
    [deployment] = apigw.get_deployments(restApiId=api_id)["items"]  # the old one deleted
    assert {s["deploymentId"] for s in apigw.get_stages(restApiId=api_id)["item"]} == {deployment["id"]}
    assert "ServerlessRestApiProdStage" in result.updated
    assert not any(n.startswith("GreeterBye") for n in names(lab, "app"))


def test_raw_children_removed_from_the_template_are_deleted_and_the_stage_moves(
        lab: Lab, edge: EdgeServer, tmp_path: Path) -> None:  # noqa: F811
    """The REST resource and method go, a new ``Deployment`` takes the stage (UpdateStage
    ``/deploymentId``, not a failed create); the HTTP route and integration go. As on AWS,
    removed resources are deleted after the new deployment is made (the update's cleanup),
    so its snapshot still serves the removed path until the next deployment."""
    path = tmp_path / "raw.yaml"
    path.write_text(RAW)
    deployer = cloudformation_of(lab).deployer
    deployer.deploy("raw", path)
    rest_id, http_id = physical(lab, "raw", "Rest"), physical(lab, "raw", "Http")
    rest_url, http_url = (local_url(lab, output(lab, "raw", k)) or "" for k in ("RestUrl", "HttpUrl"))

    moved = (RAW.replace("Items", "Others").replace("PathPart: items", "PathPart: others")
             .replace("  Deployment:\n", "  NewDeployment:\n").replace("!Ref Deployment", "!Ref NewDeployment"))
    moved = moved.replace(moved[moved.index("  HttpIntegration:"):moved.index("  HttpStage:")], "")
    moved = moved.replace("/things/3", "/")
    path.write_text(moved)
    result = deployer.deploy("raw", path)
    assert {"Items", "ItemsGet", "Deployment", "HttpRoute", "HttpIntegration"} <= set(result.deleted)
    assert "Live" in result.updated
    assert (physical(lab, "raw", "Rest"), physical(lab, "raw", "Http")) == (rest_id, http_id)
    assert get(rest_url.replace("/items", "/others")) == (200, {"path": "/others", "v": "1.0"})
    assert get(rest_url)[0] == 200  # in NewDeployment's snapshot, taken before the cleanup
    path.write_text(moved.replace("NewDeployment", "ThirdDeployment"))
    deployer.deploy("raw", path)
    assert get(rest_url)[0] == 403
    assert get(http_url)[0] == 404
    v2 = client_for(edge.url, "apigatewayv2")
    assert v2.get_routes(ApiId=http_id)["Items"] == v2.get_integrations(ApiId=http_id)["Items"] == []
    apigw = client_for(edge.url, "apigateway")
    assert len(apigw.get_deployments(restApiId=rest_id)["items"]) == 1
    assert not {"Items", "ItemsGet", "Deployment", "HttpRoute", "HttpIntegration"} & names(lab, "raw")


def test_a_deployment_whose_properties_change_is_made_before_the_old_one_goes(
        lab: Lab, edge: EdgeServer, tmp_path: Path) -> None:  # noqa: F811
    path = tmp_path / "raw.yaml"
    path.write_text(RAW)
    deployer = cloudformation_of(lab).deployer
    deployer.deploy("raw", path)
    rest_id = physical(lab, "raw", "Rest")
    path.write_text(RAW.replace("Properties: {RestApiId: !Ref Rest}\n",
                                "Properties: {RestApiId: !Ref Rest, Description: second}\n"))
    result = deployer.deploy("raw", path)
    assert {"Deployment", "Live"} <= set(result.updated)
    [deployment] = client_for(edge.url, "apigateway").get_deployments(restApiId=rest_id)["items"]
    assert deployment["description"] == "second"
    assert get(local_url(lab, output(lab, "raw", "RestUrl")) or "")[0] == 200


HTTP_ROUTES = """\
Transform: AWS::Serverless-2016-10-31
Resources:
  Greeter:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.11
      CodeUri: src
      Handler: app.handler
      Events:
        Hello: {Type: HttpApi, Properties: {Path: /hello, Method: get}}
        Bye: {Type: HttpApi, Properties: {Path: /bye, Method: get}}
Outputs:
  Base:
    Value: !Sub "https://${ServerlessHttpApi}.execute-api.${AWS::Region}.amazonaws.com"
"""
HTTP_GREETER = """\
import json
def handler(event, context):
    return {"statusCode": 200, "body": json.dumps({"route": event["routeKey"]})}
"""


def test_an_http_api_body_change_is_reimported_into_the_same_api(
        lab: Lab, edge: EdgeServer, tmp_path: Path) -> None:  # noqa: F811
    deployer = cloudformation_of(lab).deployer
    template = write(tmp_path / "app", HTTP_ROUTES, HTTP_GREETER)
    deployer.deploy("app", template)
    api_id = physical(lab, "app", "ServerlessHttpApi")
    base = local_url(lab, output(lab, "app", "Base"))
    assert get(f"{base}/bye") == (200, {"route": "GET /bye"})
    template.write_text(HTTP_ROUTES.replace("        Bye: {Type: HttpApi, Properties: {Path: /bye, Method: get}}\n", ""))
    deployer.deploy("app", template)
    assert physical(lab, "app", "ServerlessHttpApi") == api_id
    assert get(f"{base}/hello") == (200, {"route": "GET /hello"})
    assert get(f"{base}/bye")[0] == 404
    v2 = client_for(edge.url, "apigatewayv2")
    assert [r["RouteKey"] for r in v2.get_routes(ApiId=api_id)["Items"]] == ["GET /hello"]
    assert len(v2.get_integrations(ApiId=api_id)["Items"]) == 1


# -- SAM's Cors and HTTP API authorizers -----------------------------------------------

GUARDED = """\
Transform: AWS::Serverless-2016-10-31
Parameters:
  Issuer: {Type: String}
Globals:
  Function: {Runtime: python3.11, CodeUri: src}
Resources:
  Rest:
    Type: AWS::Serverless::Api
    Properties:
      StageName: dev
      Cors: {AllowOrigin: "'https://shop.example'", AllowHeaders: "'Content-Type,X-Token'", MaxAge: "'600'"}
  Http:
    Type: AWS::Serverless::HttpApi
    Properties:
      CorsConfiguration: {AllowOrigins: ["https://shop.example"], AllowMethods: [GET], MaxAge: 600}
      Auth:
        DefaultAuthorizer: Lam
        Authorizers:
          Lam:
            FunctionArn: !GetAtt Checker.Arn
            Identity: {Headers: [X-Token]}
            AuthorizerPayloadFormatVersion: "2.0"
            EnableSimpleResponses: true
          Jwt:
            JwtConfiguration: {issuer: !Ref Issuer, audience: [shop-app]}
            IdentitySource: "$request.header.Authorization"
  Checker:
    Type: AWS::Serverless::Function
    Properties: {Handler: app.check}
  Items:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.items
      Events:
        Get: {Type: Api, Properties: {RestApiId: !Ref Rest, Path: /items, Method: get}}
        Lambda: {Type: HttpApi, Properties: {ApiId: !Ref Http, Path: /items, Method: get}}
        Token:
          Type: HttpApi
          Properties:
            ApiId: !Ref Http
            Path: /mine
            Method: get
            Auth: {Authorizer: Jwt, AuthorizationScopes: [items.read]}
Outputs:
  RestItems:
    Value: !Sub "https://${Rest}.execute-api.${AWS::Region}.amazonaws.com/dev/items"
  HttpBase:
    Value: !Sub "https://${Http}.execute-api.${AWS::Region}.amazonaws.com"
"""
GUARDS = """\
import json

def check(event, context):
    return {"isAuthorized": event["headers"].get("x-token") == "open-sesame"}

def items(event, context):
    return {"statusCode": 200, "body": json.dumps({"ok": True})}
"""


@pytest.fixture
def guarded(lab: Lab, edge: EdgeServer, tmp_path: Path, issuer: dict[str, Any]  # noqa: F811
            ) -> Iterator[tuple[str, str]]:
    template = write(tmp_path / "shop", GUARDED, GUARDS)
    cloudformation_of(lab).deployer.deploy("shop", template, {"Issuer": issuer["url"]})
    yield local_url(lab, output(lab, "shop", "RestItems")) or "", local_url(lab, output(lab, "shop", "HttpBase")) or ""


def test_sam_cors_on_a_rest_api_answers_a_browser_preflight(guarded: tuple[str, str]) -> None:
    status, headers, _ = request(guarded[0], "OPTIONS", headers={
        "Origin": "https://shop.example", "Access-Control-Request-Method": "GET"})
    sent = {k.lower(): v for k, v in headers.items()}
    assert status == 200
    assert sent["access-control-allow-origin"] == "https://shop.example"
    assert sent["access-control-allow-headers"] == "Content-Type,X-Token"
    assert sent["access-control-allow-methods"] == "GET,OPTIONS"
    assert sent["access-control-max-age"] == "600"


def test_sam_cors_on_an_http_api_answers_a_browser_preflight(guarded: tuple[str, str]) -> None:
    status, headers, _ = request(guarded[1] + "items", "OPTIONS", headers={
        "Origin": "https://shop.example", "Access-Control-Request-Method": "GET"})
    sent = {k.lower(): v for k, v in headers.items()}
    assert status == 204
    assert sent["access-control-allow-origin"] == "https://shop.example"
    assert sent["access-control-max-age"] == "600"


def test_http_api_authorizers_from_sam_refuse_without_the_token_and_allow_with_it(
        lab: Lab, guarded: tuple[str, str], issuer: dict[str, Any]) -> None:  # noqa: F811
    items, mine = guarded[1] + "items", guarded[1] + "mine"
    assert get(items)[0] == 401
    assert get(items, {"X-Token": "wrong"})[0] == 403
    assert get(items, {"X-Token": "open-sesame"}) == (200, {"ok": True})
    assert get(mine)[0] == 401
    assert get(mine, {"Authorization": token(issuer, lab.clock, scope="other")})[0] == 403
    assert get(mine, {"Authorization": token(issuer, lab.clock)}) == (200, {"ok": True})


def test_raw_authorizers_removed_from_the_template_are_deleted_after_their_users_let_go(
        lab: Lab, edge: EdgeServer, tmp_path: Path) -> None:  # noqa: F811
    uri = '!Sub "arn:aws:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/${Echo.Arn}/invocations"'
    guarded = (RAW.replace("      AuthorizationType: NONE\n",
                           "      AuthorizationType: CUSTOM\n      AuthorizerId: !Ref RestAuth\n")
               .replace("Target: !Sub \"integrations/${HttpIntegration}\"}",
                        "Target: !Sub \"integrations/${HttpIntegration}\",\n"
                        "                AuthorizationType: CUSTOM, AuthorizerId: !Ref HttpAuth}")
               .replace("  Deployment:\n", f"""\
  RestAuth:
    Type: AWS::ApiGateway::Authorizer
    Properties: {{RestApiId: !Ref Rest, Name: token, Type: TOKEN, IdentitySource: method.request.header.Authorization,
                 AuthorizerUri: {uri}}}
  HttpAuth:
    Type: AWS::ApiGatewayV2::Authorizer
    Properties: {{ApiId: !Ref Http, Name: request, AuthorizerType: REQUEST, AuthorizerPayloadFormatVersion: '2.0',
                 EnableSimpleResponses: true, IdentitySource: [$request.header.Authorization],
                 AuthorizerUri: {uri}}}
  Deployment:
"""))
    path = tmp_path / "raw.yaml"
    path.write_text(guarded)
    deployer = cloudformation_of(lab).deployer
    deployer.deploy("raw", path)
    rest_id, http_id = physical(lab, "raw", "Rest"), physical(lab, "raw", "Http")
    apigw, v2 = client_for(edge.url, "apigateway"), client_for(edge.url, "apigatewayv2")
    assert len(apigw.get_authorizers(restApiId=rest_id)["items"]) == len(v2.get_authorizers(ApiId=http_id)["Items"]) == 1
    assert get(local_url(lab, output(lab, "raw", "HttpUrl")) or "")[0] == 401

    path.write_text(RAW)
    result = deployer.deploy("raw", path)
    assert {"RestAuth", "HttpAuth"} <= set(result.deleted) and {"ItemsGet", "HttpRoute"} <= set(result.updated)
    assert apigw.get_authorizers(restApiId=rest_id)["items"] == v2.get_authorizers(ApiId=http_id)["Items"] == []
    assert get(local_url(lab, output(lab, "raw", "HttpUrl")) or "") == (200, {"path": "/things/3", "v": "2.0"})


def test_scopes_removed_from_a_raw_route_are_cleared(
        lab: Lab, edge: EdgeServer, tmp_path: Path, issuer: dict[str, Any]) -> None:  # noqa: F811
    """A route update that leaves out ``AuthorizationScopes`` clears them (UpdateRoute with
    an empty list), so a token without the scope is let through again."""
    route = "Target: !Sub \"integrations/${HttpIntegration}\"}"
    scoped = (RAW.replace(route, route[:-1] + ",\n                AuthorizationType: JWT, AuthorizerId: !Ref Jwt,"
                                             " AuthorizationScopes: [admin]}")
              .replace("  HttpStage:\n", f"""\
  Jwt:
    Type: AWS::ApiGatewayV2::Authorizer
    Properties: {{ApiId: !Ref Http, Name: jwt, AuthorizerType: JWT, IdentitySource: [$request.header.Authorization],
                 JwtConfiguration: {{Issuer: "{issuer['url']}", Audience: [shop-app]}}}}
  HttpStage:
"""))
    path = tmp_path / "raw.yaml"
    path.write_text(scoped)
    deployer = cloudformation_of(lab).deployer
    deployer.deploy("raw", path)
    url, plain = local_url(lab, output(lab, "raw", "HttpUrl")) or "", {"Authorization": token(issuer, lab.clock)}
    assert get(url, plain)[0] == 403
    path.write_text(scoped.replace(" AuthorizationScopes: [admin]", ""))
    assert "HttpRoute" in deployer.deploy("raw", path).updated
    assert get(url, plain) == (200, {"path": "/things/3", "v": "2.0"})
    route_id = physical(lab, "raw", "HttpRoute")
    v2 = client_for(edge.url, "apigatewayv2")
    assert v2.get_route(ApiId=physical(lab, "raw", "Http"), RouteId=route_id).get("AuthorizationScopes", []) == []


BODIED = RAW[:RAW.index("  Rest:\n")] + """\
  Rest:
    Type: AWS::ApiGateway::RestApi
    Properties:
      Body:
        swagger: '2.0'
        info: {title: bodied}
        paths:
          /items:
            get:
              x-amazon-apigateway-integration:
                type: aws_proxy
                httpMethod: POST
                uri: !Sub "arn:aws:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/${Echo.Arn}/invocations"
  Deployment:
    Type: AWS::ApiGateway::Deployment
    Properties: {RestApiId: !Ref Rest, StageName: live}
Outputs:
  RestUrl:
    Value: !Sub "https://${Rest}.execute-api.${AWS::Region}.amazonaws.com/live/items"
"""


def test_a_body_change_that_fails_is_rolled_back_into_the_same_api(
        lab: Lab, edge: EdgeServer, tmp_path: Path) -> None:  # noqa: F811
    path = tmp_path / "bodied.yaml"
    path.write_text(BODIED)
    deployer = cloudformation_of(lab).deployer
    deployer.deploy("bodied", path)
    rest_id = physical(lab, "bodied", "Rest")
    broken = BODIED.replace("          /items:\n", """\
          /elsewhere:
            get:
              x-amazon-apigateway-integration: {type: http_proxy, httpMethod: GET, uri: 'http://example.com'}
          /items:
""")
    path.write_text(broken)
    with pytest.raises(DeployFailed, match=r"Rest \(AWS::ApiGateway::RestApi\) failed: BadRequestException"):
        deployer.deploy("bodied", path)
    stack = cloudformation_of(lab).stacks.get("bodied")
    assert stack is not None and stack.status == "UPDATE_ROLLBACK_COMPLETE"
    assert physical(lab, "bodied", "Rest") == rest_id
    apigw = client_for(edge.url, "apigateway")
    assert sorted(r["path"] for r in apigw.get_resources(restApiId=rest_id)["items"]) == ["/", "/items"]
    assert get(local_url(lab, output(lab, "bodied", "RestUrl")) or "") == (200, {"path": "/items", "v": "1.0"})


GATED = BODIED.replace("  Rest:\n", """\
  Gate:
    Type: AWS::Lambda::Function
    Properties:
      Runtime: python3.11
      Handler: index.handler
      Role: !GetAtt Role.Arn
      Code:
        ZipFile: |
          def handler(event, context):
              effect = "Allow" if event["authorizationToken"] == "open-sesame" else "Deny"
              return {"principalId": "ada", "policyDocument": {"Version": "2012-10-17", "Statement": [
                  {"Action": "execute-api:Invoke", "Effect": effect, "Resource": event["methodArn"]}]}}
  Rest:
""").replace("        paths:\n", """\
        securityDefinitions:
          token:
            type: apiKey
            name: Authorization
            in: header
            x-amazon-apigateway-authtype: custom
            x-amazon-apigateway-authorizer:
              type: token
              authorizerUri: !Sub "arn:aws:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/${Gate.Arn}/invocations"
        paths:
""").replace("            get:\n", "            get:\n              security: [{token: []}]\n")


def test_a_stage_answers_with_its_deployments_authorizers_after_the_body_drops_them(
        lab: Lab, edge: EdgeServer, tmp_path: Path) -> None:  # noqa: F811
    """A changed ``Body`` whose ``Deployment`` stays the same leaves the stage on the old
    deployment, which keeps the authorizer the overwrite deleted: it still guards the
    method (on AWS too, until a new deployment)."""
    path = tmp_path / "gated.yaml"
    path.write_text(GATED)
    deployer = cloudformation_of(lab).deployer
    deployer.deploy("gated", path)
    url = local_url(lab, output(lab, "gated", "RestUrl")) or ""
    assert get(url)[0] == 401
    assert get(url, {"Authorization": "open-sesame"}) == (200, {"path": "/items", "v": "1.0"})
    dropped = GATED.replace("              security: [{token: []}]\n", "")
    path.write_text(dropped[:dropped.index("        securityDefinitions:")] + dropped[dropped.index("        paths:"):])
    result = deployer.deploy("gated", path)
    assert "Rest" in result.updated and "Deployment" not in result.updated
    assert client_for(edge.url, "apigateway").get_authorizers(restApiId=physical(lab, "gated", "Rest"))["items"] == []
    assert get(url)[0] == 401
    assert get(url, {"Authorization": "wrong"})[0] == 403
    assert get(url, {"Authorization": "open-sesame"}) == (200, {"path": "/items", "v": "1.0"})


VALIDATED = BODIED.replace("        paths:\n", """\
        x-amazon-apigateway-request-validators:
          all: {validateRequestBody: true, validateRequestParameters: true}
        x-amazon-apigateway-request-validator: all
        definitions:
          Tag: {type: object, required: [label]}
          Item: {type: object, required: [name], properties: {tag: {$ref: '#/definitions/Tag'}}}
        paths:
""").replace("            get:\n", """\
            post:
              parameters:
                - {in: query, name: q, required: true, type: string}
                - {in: body, name: item, required: true, schema: {$ref: '#/definitions/Item'}}
""")


def test_a_body_change_overwrites_models_and_request_validators(
        lab: Lab, edge: EdgeServer, tmp_path: Path) -> None:  # noqa: F811
    """``definitions`` become models and ``x-amazon-apigateway-request-validators`` request
    validators, each method naming its own (PutRestApi ``mode=overwrite`` imports them too);
    a changed ``Body`` replaces them, and the stage checks with them once deployed again."""
    path = tmp_path / "validated.yaml"
    path.write_text(VALIDATED)
    deployer = cloudformation_of(lab).deployer
    deployer.deploy("validated", path)
    url = (local_url(lab, output(lab, "validated", "RestUrl")) or "") + "?q=1"

    def post(target: str, item: Any) -> tuple[int, Any]:
        status, _, body = request(target, "POST", json.dumps(item).encode(), {"Content-Type": "application/json"})
        return status, json.loads(body)

    invalid = (400, {"message": "Invalid request body"})
    assert post(url, {"name": "x"})[0] == 200
    assert post(url, {"sku": "x"}) == invalid
    assert post(url, {"name": "x", "tag": {}}) == invalid  # Tag, through Item's $ref
    assert post(url.removesuffix("?q=1"), {"name": "x"}) == (400, {"message": "Missing required request parameters: [q]"})
    rest_id = physical(lab, "validated", "Rest")
    apigw = client_for(edge.url, "apigateway")
    assert {m["name"] for m in apigw.get_models(restApiId=rest_id)["items"]} == {"Empty", "Error", "Item", "Tag"}

    changed = (VALIDATED.replace("required: [name]", "required: [sku]").replace("      Tag:", "      Label:")
               .replace("'#/definitions/Tag'", "'#/definitions/Label'")
               .replace("validateRequestParameters: true", "validateRequestParameters: false")
               .replace("  Deployment:\n", "  NewDeployment:\n"))
    path.write_text(changed)
    deployer.deploy("validated", path)
    assert post(url, {"sku": "x"})[0] == 200
    assert post(url, {"name": "x"}) == invalid
    assert post(url.removesuffix("?q=1"), {"sku": "x"})[0] == 200
    assert {m["name"] for m in apigw.get_models(restApiId=rest_id)["items"]} == {"Empty", "Error", "Item", "Label"}
    [validator] = apigw.get_request_validators(restApiId=rest_id)["items"]
    assert (validator["name"], validator["validateRequestParameters"]) == ("all", False)


def test_openapi_3_schemas_are_models_its_request_bodies_name(
        lab: Lab, edge: EdgeServer, tmp_path: Path) -> None:  # noqa: F811
    """OpenAPI 3's ``components.schemas`` and ``requestBody.content``, imported as Swagger 2's are."""
    openapi = (VALIDATED.replace("swagger: '2.0'", "openapi: '3.0.1'")
               .replace("        definitions:\n", "        components:\n          schemas:\n")
               .replace("          Tag: {", "            Tag: {").replace("          Item: {", "            Item: {")
               .replace("#/definitions/Tag", "#/components/schemas/Tag")
               .replace("                - {in: body, name: item, required: true, schema: {$ref: '#/definitions/Item'}}\n",
                        "              requestBody:\n                content:\n                  application/json:\n"
                        "                    schema: {$ref: '#/components/schemas/Item'}\n"))
    path = tmp_path / "openapi.yaml"
    path.write_text(openapi)
    cloudformation_of(lab).deployer.deploy("openapi", path)
    url = (local_url(lab, output(lab, "openapi", "RestUrl")) or "") + "?q=1"
    for item, status in (({"name": "x"}, 200), ({"sku": "x"}, 400), ({"name": "x", "tag": {}}, 400)):
        assert request(url, "POST", json.dumps(item).encode(), {"Content-Type": "application/json"})[0] == status


def test_stages_removed_from_the_template_stop_answering(
        lab: Lab, edge: EdgeServer, tmp_path: Path) -> None:  # noqa: F811
    staged = RAW.replace("Outputs:\n", """\
  Beta:
    Type: AWS::ApiGateway::Stage
    Properties: {RestApiId: !Ref Rest, DeploymentId: !Ref Deployment, StageName: beta}
  HttpBeta:
    Type: AWS::ApiGatewayV2::Stage
    Properties: {ApiId: !Ref Http, StageName: beta, AutoDeploy: true}
Outputs:
""")
    path = tmp_path / "raw.yaml"
    path.write_text(staged)
    deployer = cloudformation_of(lab).deployer
    deployer.deploy("raw", path)
    rest_id, http_id = physical(lab, "raw", "Rest"), physical(lab, "raw", "Http")
    rest_beta = f"{edge.url}/_lambdalab/apis/{rest_id}/beta/items"
    http_beta = f"{edge.url}/_lambdalab/apis/{http_id}/beta/things/3"
    assert get(rest_beta)[0] == get(http_beta)[0] == 200
    path.write_text(RAW)
    assert {"Beta", "HttpBeta"} <= set(deployer.deploy("raw", path).deleted)
    assert get(rest_beta)[0] == 403 and get(http_beta)[0] != 200
    assert [s["stageName"] for s in client_for(edge.url, "apigateway").get_stages(restApiId=rest_id)["item"]] == ["live"]
    assert [s["StageName"] for s in client_for(edge.url, "apigatewayv2").get_stages(ApiId=http_id)["Items"]] == [
        "$default"]
    assert not {"Beta", "HttpBeta"} & names(lab, "raw")
