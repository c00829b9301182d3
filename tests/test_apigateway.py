"""API Gateway: the management API (boto3's ``apigateway`` and ``apigatewayv2``) and
plain HTTP requests through ``/_lambdalab/apis/<api-id>/<stage>/<path>`` on a real edge."""

from __future__ import annotations

import base64
import http.client
import json
from typing import Any
from urllib.parse import urlsplit

import pytest
from botocore.exceptions import ClientError

from lambdalab import Lab
from lambdalab.server import EdgeServer

from .edge_support import client, client_for, create, edge  # noqa: F401  (fixtures)

ECHO_V1 = """
import json
def handler(event, context):
    if event["path"].endswith("/malformed"):
        return {"statusCode": 200, "body": {"not": "a string"}}
    if event["path"].endswith("/binary"):
        return {"statusCode": 200, "headers": {"Content-Type": "image/png"},
                "body": "iVBORwA=", "isBase64Encoded": True}
    if event["path"].endswith("/crash"):
        raise RuntimeError("boom")
    return {"statusCode": 200, "multiValueHeaders": {"X-Many": ["a", "b"]},
            "body": json.dumps(event)}
"""
ECHO_V2 = """
import json
def handler(event, context):
    if event["rawPath"].endswith("/bare"):
        return {"hello": "world"}
    if event["rawPath"].endswith("/text"):
        return "just text"
    if event["rawPath"].endswith("/malformed"):
        return {"statusCode": "teapot"}
    return {"statusCode": 201, "cookies": ["a=1"], "body": json.dumps(event)}
"""


def request(url: str, method: str = "GET", body: bytes | None = None,
            headers: dict[str, str] | list[tuple[str, str]] | None = None) -> tuple[int, dict[str, str], bytes]:
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    connection.putrequest(method, path)
    pairs = headers.items() if isinstance(headers, dict) else (headers or [])
    for name, value in pairs:
        connection.putheader(name, value)
    connection.putheader("Content-Length", str(len(body or b"")))
    connection.endheaders(body)
    response = connection.getresponse()
    data = response.read()
    out = {}
    for k, v in response.getheaders():
        out[k.lower()] = f"{out[k.lower()]}, {v}" if k.lower() in out else v
    connection.close()
    return response.status, out, data


def allow_apigateway(client: Any, name: str) -> None:
    client.add_permission(FunctionName=name, StatementId="apigw", Action="lambda:InvokeFunction",
                          Principal="apigateway.amazonaws.com")


@pytest.fixture
def rest_api(client: Any, edge: EdgeServer) -> dict[str, Any]:
    """A REST API: ``/items/{id}`` (GET), ``/files/{proxy+}`` (ANY), deployed to ``prod``."""
    return make_rest_api(client, edge.url)


def make_rest_api(client: Any, url: str) -> dict[str, Any]:
    """The ``rest_api`` fixture's API, on the edge at ``url`` (``client``: its Lambda)."""
    arn = create(client, "echo1", ECHO_V1)["FunctionArn"]
    allow_apigateway(client, "echo1")
    apigw = client_for(url, "apigateway")
    api = apigw.create_rest_api(name="shop", binaryMediaTypes=["image/png"])
    root = api["rootResourceId"]
    uri = f"arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/{arn}/invocations"
    for parent_part, part, method in (("items", "{id}", "GET"), ("files", "{proxy+}", "ANY")):
        parent = apigw.create_resource(restApiId=api["id"], parentId=root, pathPart=parent_part)
        child = apigw.create_resource(restApiId=api["id"], parentId=parent["id"], pathPart=part)
        apigw.put_method(restApiId=api["id"], resourceId=child["id"], httpMethod=method,
                         authorizationType="NONE")
        apigw.put_integration(restApiId=api["id"], resourceId=child["id"], httpMethod=method,
                              type="AWS_PROXY", integrationHttpMethod="POST", uri=uri)
    apigw.create_deployment(restApiId=api["id"], stageName="prod")
    return {"id": api["id"], "url": f"{url}/_lambdalab/apis/{api['id']}/prod", "client": apigw}


def test_rest_api_management_with_boto3(rest_api: dict[str, Any]) -> None:
    apigw = rest_api["client"]
    assert [a["id"] for a in apigw.get_rest_apis()["items"]] == [rest_api["id"]]
    got = apigw.get_rest_api(restApiId=rest_api["id"])
    assert got["name"] == "shop" and got["binaryMediaTypes"] == ["image/png"]
    paths = sorted(r["path"] for r in apigw.get_resources(restApiId=rest_api["id"])["items"])
    assert paths == ["/", "/files", "/files/{proxy+}", "/items", "/items/{id}"]
    [stage] = apigw.get_stages(restApiId=rest_api["id"])["item"]
    assert stage["stageName"] == "prod"
    with pytest.raises(apigw.exceptions.NotFoundException):
        apigw.get_rest_api(restApiId="nosuchapi0")
    root = got["rootResourceId"]
    with pytest.raises(apigw.exceptions.BadRequestException):
        apigw.create_resource(restApiId=rest_api["id"], parentId=root, pathPart="bad/part")
    with pytest.raises(apigw.exceptions.ConflictException):
        apigw.create_resource(restApiId=rest_api["id"], parentId=root, pathPart="items")
    apigw.delete_rest_api(restApiId=rest_api["id"])
    assert apigw.get_rest_apis()["items"] == []


def test_rest_api_event_is_payload_1_0(rest_api: dict[str, Any]) -> None:
    status, headers, body = request(
        rest_api["url"] + "/items/42?color=red&size=s&size=m",
        headers=[("X-Tag", "one"), ("X-Tag", "two"), ("Cookie", "k=v")])
    assert status == 200, body
    assert headers["x-many"] == "a, b"  # multiValueHeaders, each value sent
    assert headers["x-amzn-requestid"]
    event = json.loads(body)
    assert event["resource"] == "/items/{id}" and event["path"] == "/items/42"
    assert event["httpMethod"] == "GET" and event["pathParameters"] == {"id": "42"}
    assert event["queryStringParameters"] == {"color": "red", "size": "m"}
    assert event["multiValueQueryStringParameters"] == {"color": ["red"], "size": ["s", "m"]}
    assert event["multiValueHeaders"]["x-tag"] == ["one", "two"] and event["headers"]["x-tag"] == "two"
    assert event["headers"]["Host"] == f"{rest_api['id']}.execute-api.us-east-1.amazonaws.com"
    assert event["body"] is None and event["isBase64Encoded"] is False and event["stageVariables"] is None
    context = event["requestContext"]
    assert context["apiId"] == rest_api["id"] and context["stage"] == "prod"
    assert context["path"] == "/prod/items/42" and context["resourcePath"] == "/items/{id}"
    assert context["identity"]["sourceIp"] == "127.0.0.1" and context["requestId"] == headers["x-amzn-requestid"]
    # The same fields as `lambdalab generate-event apigateway-rest` (and AWS's documented event).
    from lambdalab.service_events import generate

    template = generate("apigateway-rest")
    assert set(event) == set(template)
    assert set(context) == set(template["requestContext"])
    assert set(context["identity"]) == set(template["requestContext"]["identity"])


#: The fields of the 1.0 event AWS sent a ``/{proxy+}`` AWS_PROXY method, as recorded against
#: AWS (LocalStack's tests/aws/services/apigateway/test_apigateway_lambda.snapshot.json,
#: test_lambda_aws_proxy_integration, recorded 10-07-2024).
AWS_V1_FIELDS = {"body", "headers", "httpMethod", "isBase64Encoded", "multiValueHeaders",
                 "multiValueQueryStringParameters", "path", "pathParameters", "queryStringParameters",
                 "requestContext", "resource", "stageVariables"}
AWS_V1_CONTEXT = {"accountId", "apiId", "deploymentId", "domainName", "domainPrefix", "extendedRequestId",
                  "httpMethod", "identity", "path", "protocol", "requestId", "requestTime",
                  "requestTimeEpoch", "resourceId", "resourcePath", "stage"}


def test_rest_api_event_has_the_fields_aws_recorded(rest_api: dict[str, Any]) -> None:
    status, _, body = request(rest_api["url"] + "/files/test-path/?email=test%2Balias%40gmail.com&plus=a+b")
    event = json.loads(body)
    assert set(event) == AWS_V1_FIELDS and set(event["requestContext"]) == AWS_V1_CONTEXT
    # As recorded: the path keeps its trailing slash, the proxy parameter does not.
    assert event["path"] == "/files/test-path/" and event["pathParameters"] == {"proxy": "test-path"}
    assert event["queryStringParameters"] == {"email": "test+alias@gmail.com", "plus": "a b"}
    assert event["requestContext"]["deploymentId"]
    assert event["headers"]["X-Forwarded-Port"] == "443" and event["headers"]["X-Forwarded-Proto"] == "https"


def test_rest_api_proxy_any_and_binary(rest_api: dict[str, Any]) -> None:
    status, _, body = request(rest_api["url"] + "/files/a/b/c.txt", "DELETE")
    event = json.loads(body)
    assert status == 200 and event["pathParameters"] == {"proxy": "a/b/c.txt"}
    assert event["resource"] == "/files/{proxy+}" and event["httpMethod"] == "DELETE"

    status, _, body = request(rest_api["url"] + "/files/up", "POST", b"\x89PNG\x00\xff",
                              {"Content-Type": "image/png"})
    event = json.loads(body)
    assert event["isBase64Encoded"] is True and base64.b64decode(event["body"]) == b"\x89PNG\x00\xff"
    status, _, body = request(rest_api["url"] + "/files/up", "POST", b"plain", {"Content-Type": "text/plain"})
    assert json.loads(body)["body"] == "plain" and json.loads(body)["isBase64Encoded"] is False

    status, headers, body = request(rest_api["url"] + "/files/binary")
    assert status == 200 and body == base64.b64decode("iVBORwA=") and headers["content-type"] == "image/png"


def test_rest_api_errors_as_aws_gives_them(rest_api: dict[str, Any]) -> None:
    status, _, body = request(rest_api["url"] + "/files/malformed")
    assert (status, json.loads(body)) == (502, {"message": "Internal server error"})
    status, _, body = request(rest_api["url"] + "/files/crash")
    assert (status, json.loads(body)) == (502, {"message": "Internal server error"})
    status, _, body = request(rest_api["url"] + "/items/42", "POST")  # no POST method
    assert (status, json.loads(body)) == (403, {"message": "Missing Authentication Token"})
    status, _, body = request(rest_api["url"] + "/nowhere")
    assert status == 403
    status, _, _ = request(rest_api["url"].replace("/prod", "/dev") + "/items/1")
    assert status == 403


def test_hostile_requests_get_api_gateways_answers(rest_api: dict[str, Any], edge: EdgeServer) -> None:
    """Odd paths, methods and bodies: an answer of API Gateway's, never a 5xx of lambdalab."""
    base = f"{edge.url}/_lambdalab/apis/"
    for url, method in ((base, "GET"), (base + "nosuch", "GET"), (base + rest_api["id"], "GET"),
                        (rest_api["url"], "GET"), (rest_api["url"] + "/items/%ff%00", "GET"),
                        (rest_api["url"] + "/items/../../x", "GET"), (rest_api["url"] + "/items/1", "PATCH"),
                        (rest_api["url"] + "//items//1", "GET")):
        status, _, body = request(url, method)
        assert status in (200, 403), (url, method, status, body)
        assert status == 200 or json.loads(body) == {"message": "Missing Authentication Token"}
    status, _, body = request(rest_api["url"] + "/files/x", "POST", "é".encode("latin-1"), {"Content-Type": "text/plain"})
    assert status == 200 and json.loads(body)["body"] == "\ufffd"


def test_stage_variables_reach_the_event(client: Any, edge: EdgeServer) -> None:
    from lambdalab_apigateway import api_gateway

    arn = create(client, "vars", ECHO_V1)["FunctionArn"]
    apis = api_gateway(edge.lab)
    rest = apis.create_rest_api("vars")
    proxy = apis.create_resource(rest["id"], rest["rootResourceId"], "{proxy+}")
    apis.put_method(rest["id"], proxy["id"], "ANY")
    apis.put_integration(rest["id"], proxy["id"], "ANY", type="AWS_PROXY", uri=arn)
    apis.create_deployment(rest["id"], "dev", variables={"table": "items-dev"})
    status, _, body = request(f"{edge.url}/_lambdalab/apis/{rest['id']}/dev/a")
    assert status == 200 and json.loads(body)["stageVariables"] == {"table": "items-dev"}

    arn2 = create(client, "vars2", ECHO_V2)["FunctionArn"]
    http = apis.create_api("vars2")
    integration = apis.create_integration(http["ApiId"], "AWS_PROXY", arn2)
    apis.create_route(http["ApiId"], "ANY /{proxy+}", f"integrations/{integration['IntegrationId']}")
    apis.create_http_stage(http["ApiId"], "beta", auto_deploy=True, variables={"flag": "on"})
    status, _, body = request(f"{edge.url}/_lambdalab/apis/{http['ApiId']}/beta/x/y")
    event = json.loads(body)
    assert status == 201 and event["stageVariables"] == {"flag": "on"}
    assert event["rawPath"] == "/beta/x/y" and event["requestContext"]["stage"] == "beta"


@pytest.fixture
def http_api(client: Any, edge: EdgeServer) -> dict[str, Any]:
    """An HTTP API: ``GET /items/{id}``, ``ANY /{proxy+}`` and ``$default``, on ``$default``."""
    arn = create(client, "echo2", ECHO_V2)["FunctionArn"]
    allow_apigateway(client, "echo2")
    v2 = client_for(edge.url, "apigatewayv2")
    api = v2.create_api(Name="web", ProtocolType="HTTP")
    integration = v2.create_integration(ApiId=api["ApiId"], IntegrationType="AWS_PROXY",
                                        IntegrationUri=arn, PayloadFormatVersion="2.0")
    for key in ("GET /items/{id}", "ANY /{proxy+}", "$default"):
        v2.create_route(ApiId=api["ApiId"], RouteKey=key,
                        Target=f"integrations/{integration['IntegrationId']}")
    v2.create_stage(ApiId=api["ApiId"], StageName="$default", AutoDeploy=True)
    return {"id": api["ApiId"], "url": f"{edge.url}/_lambdalab/apis/{api['ApiId']}", "client": v2, "arn": arn}


def test_http_api_management_with_boto3(http_api: dict[str, Any]) -> None:
    v2 = http_api["client"]
    [api] = v2.get_apis()["Items"]
    assert api["ApiId"] == http_api["id"] and api["ProtocolType"] == "HTTP"
    keys = sorted(r["RouteKey"] for r in v2.get_routes(ApiId=http_api["id"])["Items"])
    assert keys == ["$default", "ANY /{proxy+}", "GET /items/{id}"]
    with pytest.raises(v2.exceptions.ConflictException):
        v2.create_route(ApiId=http_api["id"], RouteKey="$default")
    with pytest.raises(v2.exceptions.BadRequestException):
        v2.create_route(ApiId=http_api["id"], RouteKey="FETCH items")
    with pytest.raises(v2.exceptions.NotFoundException):
        v2.get_api(ApiId="nosuchapi0")


def test_http_api_event_is_payload_2_0(http_api: dict[str, Any]) -> None:
    status, headers, body = request(http_api["url"] + "/items/7?a=1&a=2",
                                    headers=[("X-Tag", "one"), ("X-Tag", "two"), ("Cookie", "s=1; t=2")])
    assert status == 201 and headers["set-cookie"] == "a=1" and headers["apigw-requestid"]
    event = json.loads(body)
    assert event["version"] == "2.0" and event["routeKey"] == "GET /items/{id}"
    assert event["rawPath"] == "/items/7" and event["rawQueryString"] == "a=1&a=2"
    assert event["queryStringParameters"] == {"a": "1,2"} and event["pathParameters"] == {"id": "7"}
    assert event["cookies"] == ["s=1", "t=2"] and event["headers"]["x-tag"] == "one,two"
    context = event["requestContext"]
    assert context["apiId"] == http_api["id"] and context["stage"] == "$default"
    assert context["http"]["method"] == "GET" and context["routeKey"] == "GET /items/{id}"
    from lambdalab.service_events import generate

    template = generate("apigateway-http")
    assert set(template) - {"queryStringParameters", "body"} <= set(event)
    assert set(context) == set(template["requestContext"])

    status, _, body = request(http_api["url"] + "/a/b", "PUT", b"\x00\x01", {"Content-Type": "application/octet-stream"})
    event = json.loads(body)
    assert event["routeKey"] == "ANY /{proxy+}" and event["pathParameters"] == {"proxy": "a/b"}
    assert event["isBase64Encoded"] is True and base64.b64decode(event["body"]) == b"\x00\x01"
    status, _, body = request(http_api["url"] + "/")  # an HTTP API's {proxy+} takes "/" too
    event = json.loads(body)
    assert event["routeKey"] == "ANY /{proxy+}" and event["pathParameters"] == {"proxy": ""}


def test_http_api_integration_with_payload_1_0(client: Any, edge: EdgeServer) -> None:
    from lambdalab_apigateway import api_gateway

    arn = create(client, "v1onhttp", ECHO_V1)["FunctionArn"]
    apis = api_gateway(edge.lab)
    http = apis.create_api("v1")
    integration = apis.create_integration(http["ApiId"], "AWS_PROXY", arn, payload_format_version="1.0")
    apis.create_route(http["ApiId"], "GET /items/{id}", f"integrations/{integration['IntegrationId']}")
    apis.create_http_stage(http["ApiId"], "$default", auto_deploy=True)
    status, _, body = request(f"{edge.url}/_lambdalab/apis/{http['ApiId']}/items/9")
    event = json.loads(body)
    assert status == 200 and event["version"] == "1.0" and event["resource"] == "/items/{id}"
    assert event["pathParameters"] == {"id": "9"} and event["requestContext"]["stage"] == "$default"
    status, _, body = request(f"{edge.url}/_lambdalab/apis/{http['ApiId']}/items/malformed")
    assert (status, json.loads(body)) == (500, {"message": "Internal Server Error"})


def test_http_api_response_shortcuts_and_errors(http_api: dict[str, Any]) -> None:
    status, headers, body = request(http_api["url"] + "/x/bare")
    assert (status, body, headers["content-type"]) == (200, b'{"hello":"world"}', "application/json")
    status, _, body = request(http_api["url"] + "/x/text")
    assert (status, body) == (200, b"just text")
    status, _, body = request(http_api["url"] + "/x/malformed")
    assert (status, json.loads(body)) == (500, {"message": "Internal Server Error"})


def test_quick_create_serves_default_stage(client: Any, edge: EdgeServer) -> None:
    arn = create(client, "quick", ECHO_V2)["FunctionArn"]
    v2 = client_for(edge.url, "apigatewayv2")
    api = v2.create_api(Name="quick", ProtocolType="HTTP", Target=arn)
    [stage] = v2.get_stages(ApiId=api["ApiId"])["Items"]
    assert stage["StageName"] == "$default" and stage["AutoDeploy"] is True
    status, _, body = request(f"{edge.url}/_lambdalab/apis/{api['ApiId']}/anything")
    assert status == 201 and json.loads(body)["routeKey"] == "$default"


def test_http_api_cors_configuration_is_applied(client: Any, edge: EdgeServer) -> None:
    arn = create(client, "cors", ECHO_V2)["FunctionArn"]
    v2 = client_for(edge.url, "apigatewayv2")
    api = v2.create_api(Name="cors", ProtocolType="HTTP", Target=arn, CorsConfiguration={
        "AllowOrigins": ["https://app.example"], "AllowMethods": ["GET", "POST"],
        "AllowHeaders": ["content-type"], "ExposeHeaders": ["x-total"], "MaxAge": 300})
    url = f"{edge.url}/_lambdalab/apis/{api['ApiId']}/items"
    status, headers, body = request(url, "OPTIONS", headers={
        "Origin": "https://app.example", "Access-Control-Request-Method": "POST"})
    assert (status, body) == (204, b"")  # API Gateway answers the preflight, not the function
    assert headers["access-control-allow-origin"] == "https://app.example"
    assert headers["access-control-allow-methods"] == "GET,POST" and headers["access-control-max-age"] == "300"
    status, headers, _ = request(url, headers={"Origin": "https://app.example"})
    assert status == 201 and headers["access-control-expose-headers"] == "x-total"
    status, headers, _ = request(url, headers={"Origin": "https://evil.example"})
    assert status == 201 and "access-control-allow-origin" not in headers


def test_rest_api_cors_as_the_console_enables_it(rest_api: dict[str, Any]) -> None:
    """The console's "Enable CORS": an OPTIONS method with a MOCK integration whose
    integration response maps static Access-Control-Allow-* headers
    (https://docs.aws.amazon.com/apigateway/latest/developerguide/how-to-cors-console.html)."""
    apigw, api_id = rest_api["client"], rest_api["id"]
    item = next(r for r in apigw.get_resources(restApiId=api_id)["items"] if r["path"] == "/items/{id}")
    target = {"restApiId": api_id, "resourceId": item["id"], "httpMethod": "OPTIONS"}
    apigw.put_method(**target, authorizationType="NONE")
    apigw.put_integration(**target, type="MOCK", requestTemplates={"application/json": '{"statusCode": 200}'})
    allowed = {"method.response.header.Access-Control-Allow-Headers": "'Content-Type,X-Amz-Date,Authorization'",
               "method.response.header.Access-Control-Allow-Methods": "'GET,OPTIONS'",
               "method.response.header.Access-Control-Allow-Origin": "'*'"}
    with pytest.raises(apigw.exceptions.NotFoundException):  # the method must declare the status first
        apigw.put_integration_response(**target, statusCode="200", responseParameters=allowed)
    apigw.put_method_response(**target, statusCode="200", responseParameters=dict.fromkeys(allowed, False))
    apigw.put_integration_response(**target, statusCode="200", responseParameters=allowed,
                                   responseTemplates={"application/json": ""})
    method = apigw.get_method(**target)
    assert method["methodIntegration"]["integrationResponses"]["200"]["responseParameters"] == allowed
    apigw.create_deployment(restApiId=api_id, stageName="prod")
    status, headers, body = request(rest_api["url"] + "/items/7", "OPTIONS",
                                    headers={"Origin": "https://shop.example", "Access-Control-Request-Method": "GET"})
    assert (status, body) == (200, b"")
    assert headers["access-control-allow-origin"] == "*"
    assert headers["access-control-allow-methods"] == "GET,OPTIONS"
    assert headers["access-control-allow-headers"] == "Content-Type,X-Amz-Date,Authorization"
    apigw.put_integration(**target, type="MOCK", requestTemplates={"application/json": '{"statusCode": 500}'})
    apigw.create_deployment(restApiId=api_id, stageName="prod")
    status, _, body = request(rest_api["url"] + "/items/7", "OPTIONS")
    assert (status, json.loads(body)) == (500, {"message": "Internal server error"})  # no response for 500


def test_api_keys_and_usage_plans(rest_api: dict[str, Any]) -> None:
    """A method with apiKeyRequired answers 403 Forbidden unless x-api-key is an enabled
    key of a usage plan naming the API's stage
    (https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-api-usage-plans.html)."""
    apigw, api_id = rest_api["client"], rest_api["id"]
    item = next(r for r in apigw.get_resources(restApiId=api_id)["items"] if r["path"] == "/items/{id}")
    apigw.update_method(restApiId=api_id, resourceId=item["id"], httpMethod="GET",
                        patchOperations=[{"op": "replace", "path": "/apiKeyRequired", "value": "true"}])
    apigw.create_deployment(restApiId=api_id, stageName="prod")
    forbidden = (403, {"message": "Forbidden"})

    def get(key: str | None) -> tuple[int, Any]:
        status, _, body = request(rest_api["url"] + "/items/1", headers={"x-api-key": key} if key else {})
        return status, json.loads(body)

    assert get(None) == forbidden
    with pytest.raises(apigw.exceptions.BadRequestException) as raised:
        apigw.create_api_key(name="short", value="too-short")
    assert raised.value.response["Error"]["Message"] == "API Key value should be at least 20 characters"
    key = apigw.create_api_key(name="partner", enabled=True, value="partner-key-0123456789")
    assert "value" not in apigw.get_api_key(apiKey=key["id"])
    assert get("partner-key-0123456789") == forbidden  # in no usage plan yet
    with pytest.raises(apigw.exceptions.BadRequestException):
        apigw.create_usage_plan(name="basic", apiStages=[{"apiId": api_id, "stage": "nosuchstage"}])
    plan = apigw.create_usage_plan(name="basic", apiStages=[{"apiId": api_id, "stage": "prod"}],
                                   throttle={"rateLimit": 10, "burstLimit": 5})
    apigw.create_usage_plan_key(usagePlanId=plan["id"], keyId=key["id"], keyType="API_KEY")
    assert [k["id"] for k in apigw.get_usage_plan_keys(usagePlanId=plan["id"])["items"]] == [key["id"]]
    assert get("partner-key-0123456789")[0] == 200
    assert get("another-key-0123456789") == forbidden
    assert request(rest_api["url"] + "/files/a")[0] == 200  # a method that needs no key
    apigw.delete_usage_plan_key(usagePlanId=plan["id"], keyId=key["id"])
    assert get("partner-key-0123456789") == forbidden
    apigw.create_usage_plan_key(usagePlanId=plan["id"], keyId=key["id"], keyType="API_KEY")
    apigw.delete_api_key(apiKey=key["id"])
    assert get("partner-key-0123456789") == forbidden
    assert apigw.get_usage_plan_keys(usagePlanId=plan["id"])["items"] == []
    apigw.delete_usage_plan(usagePlanId=plan["id"])
    with pytest.raises(apigw.exceptions.NotFoundException):
        apigw.get_usage_plan(usagePlanId=plan["id"])
    assert [a["id"] for a in apigw.get_rest_apis()["items"]] == [api_id]  # keys and plans are no APIs


AUTHORIZER = """
def handler(event, context):
    identity = event.get("authorizationToken") or event["headers"].get("x-key", "")
    if identity == "bad":
        raise Exception("Unauthorized")
    effect = "Deny" if identity == "deny" else "Allow"
    # Allows only the method first called: a cached answer meets later calls' methodArn.
    return {"principalId": "user-" + identity, "context": {"tier": "gold", "type": event["type"]},
            "policyDocument": {"Version": "2012-10-17", "Statement": [
                {"Action": "execute-api:Invoke", "Effect": effect, "Resource": event["methodArn"]}]}}
"""


@pytest.mark.parametrize("kind", ["TOKEN", "REQUEST"])
def test_lambda_authorizer(kind: str, client: Any, edge: EdgeServer, clock: Any) -> None:
    arn = create(client, "guarded1", ECHO_V1)["FunctionArn"]
    auth_arn = create(client, "authorizer", AUTHORIZER)["FunctionArn"]
    apigw = client_for(edge.url, "apigateway")
    api = apigw.create_rest_api(name="guarded")
    source = "method.request.header.Authorization" if kind == "TOKEN" else "method.request.header.x-key"
    authorizer = apigw.create_authorizer(restApiId=api["id"], name="auth", type=kind, identitySource=source,
                                         authorizerUri=auth_arn, authorizerResultTtlInSeconds=60)
    assert [a["id"] for a in apigw.get_authorizers(restApiId=api["id"])["items"]] == [authorizer["id"]]
    proxy = apigw.create_resource(restApiId=api["id"], parentId=api["rootResourceId"], pathPart="{proxy+}")
    apigw.put_method(restApiId=api["id"], resourceId=proxy["id"], httpMethod="ANY",
                     authorizationType="CUSTOM", authorizerId=authorizer["id"])
    apigw.put_integration(restApiId=api["id"], resourceId=proxy["id"], httpMethod="ANY", type="AWS_PROXY",
                          integrationHttpMethod="POST", uri=arn)
    apigw.create_deployment(restApiId=api["id"], stageName="prod")
    url = f"{edge.url}/_lambdalab/apis/{api['id']}/prod"
    header = "Authorization" if kind == "TOKEN" else "x-key"

    status, _, body = request(url + "/a")
    assert (status, json.loads(body)) == (401, {"message": "Unauthorized"})  # no identity: not called
    status, _, body = request(url + "/a", headers={header: "bad"})
    assert (status, json.loads(body)) == (401, {"message": "Unauthorized"})
    status, _, body = request(url + "/a", headers={header: "deny"})
    assert status == 403 and json.loads(body) == {
        "Message": "User is not authorized to access this resource with an explicit deny"}
    status, _, body = request(url + "/a", headers={header: "ada"})
    assert status == 200, body
    context = json.loads(body)["requestContext"]["authorizer"]
    assert context["principalId"] == "user-ada" and context["tier"] == "gold" and context["type"] == kind
    # The cached policy names /a only: /b is denied until the TTL passes on the lab's clock.
    status, _, body = request(url + "/b", headers={header: "ada"})
    assert (status, json.loads(body)) == (403, {"Message": "User is not authorized to access this resource"})
    clock.advance(61)
    status, _, _ = request(url + "/b", headers={header: "ada"})
    assert status == 200
    assert apigw.get_authorizer(restApiId=api["id"], authorizerId=authorizer["id"])["type"] == kind
    with pytest.raises(apigw.exceptions.ConflictException):  # a method still names it
        apigw.delete_authorizer(restApiId=api["id"], authorizerId=authorizer["id"])


def test_a_deployment_keeps_the_authorizers_its_methods_named(client: Any, edge: EdgeServer) -> None:
    """The stage serves what its deployment captured: the method re-made without an
    authorizer and the authorizer deleted change nothing until the next deployment."""
    arn = create(client, "kept1", ECHO_V1)["FunctionArn"]
    auth_arn = create(client, "keptauth", AUTHORIZER)["FunctionArn"]
    apigw = client_for(edge.url, "apigateway")
    api = apigw.create_rest_api(name="kept")
    authorizer = apigw.create_authorizer(restApiId=api["id"], name="auth", type="TOKEN", authorizerUri=auth_arn,
                                         identitySource="method.request.header.Authorization")

    def method(**authorization: Any) -> None:
        apigw.put_method(restApiId=api["id"], resourceId=api["rootResourceId"], httpMethod="GET", **authorization)
        apigw.put_integration(restApiId=api["id"], resourceId=api["rootResourceId"], httpMethod="GET",
                              type="AWS_PROXY", integrationHttpMethod="POST", uri=arn)

    method(authorizationType="CUSTOM", authorizerId=authorizer["id"])
    apigw.create_deployment(restApiId=api["id"], stageName="prod")
    apigw.delete_method(restApiId=api["id"], resourceId=api["rootResourceId"], httpMethod="GET")
    method(authorizationType="NONE")
    apigw.delete_authorizer(restApiId=api["id"], authorizerId=authorizer["id"])
    url = f"{edge.url}/_lambdalab/apis/{api['id']}/prod/"

    assert request(url)[0] == 401
    status, _, body = request(url, headers={"Authorization": "ada"})
    assert status == 200, body
    assert json.loads(body)["requestContext"]["authorizer"]["principalId"] == "user-ada"
    apigw.create_deployment(restApiId=api["id"], stageName="prod")
    status, _, body = request(url)
    assert status == 200 and "authorizer" not in json.loads(body)["requestContext"]


def test_enforced_iam_needs_the_functions_permission(tmp_path: Any, clock: Any) -> None:
    with Lab(data_dir=tmp_path / "enforced", clock=clock, enforce_iam=True) as lab, \
            EdgeServer(lab, port=0) as server:
        lam = client_for(server.url, key="test")
        arn = create(lam, "guarded", ECHO_V2)["FunctionArn"]
        v2 = client_for(server.url, "apigatewayv2", key="test")
        api = v2.create_api(Name="guarded", ProtocolType="HTTP", Target=arn)
        url = f"{server.url}/_lambdalab/apis/{api['ApiId']}/hello"
        status, _, body = request(url)
        assert (status, json.loads(body)) == (500, {"message": "Internal Server Error"})
        lam.add_permission(FunctionName="guarded", StatementId="apigw", Action="lambda:InvokeFunction",
                           Principal="apigateway.amazonaws.com",
                           SourceArn=f"arn:aws:execute-api:us-east-1:{arn.split(':')[4]}:{api['ApiId']}/*")
        status, _, _ = request(url)
        assert status == 201


def test_apis_survive_a_reopened_lab(tmp_path: Any, clock: Any) -> None:
    from lambdalab_apigateway import api_gateway

    with Lab(data_dir=tmp_path / "d", clock=clock) as lab:
        api_id = api_gateway(lab).create_rest_api("kept")["id"]
    with Lab(data_dir=tmp_path / "d", clock=clock) as lab:
        assert api_gateway(lab).get_rest_api(api_id)["name"] == "kept"


def test_bad_integration_uri_is_refused(client: Any, edge: EdgeServer) -> None:
    v2 = client_for(edge.url, "apigatewayv2")
    api = v2.create_api(Name="x", ProtocolType="HTTP")
    with pytest.raises(ClientError, match="BadRequestException"):
        v2.create_integration(ApiId=api["ApiId"], IntegrationType="AWS_PROXY",
                              IntegrationUri="not an arn", PayloadFormatVersion="2.0")


def test_an_edge_that_checks_signatures_serves_apis_unsigned(lab: Lab) -> None:
    """An API with authorizationType NONE is public, as a function URL is: the edge's
    auth keys guard the management API, not the invoke URL."""
    with EdgeServer(lab, port=0, auth_keys={"AKIDSIGNED": "secret"}) as server:
        signed = client_for(server.url, key="AKIDSIGNED", secret="secret")
        arn = create(signed, "open", ECHO_V2)["FunctionArn"]
        v2 = client_for(server.url, "apigatewayv2", key="AKIDSIGNED", secret="secret")
        api = v2.create_api(Name="open", ProtocolType="HTTP", Target=arn)
        status, _, body = request(f"{server.url}/_lambdalab/apis/{api['ApiId']}/hi")
        assert status == 201 and json.loads(body)["rawPath"] == "/hi"
        status, _, _ = request(f"{server.url}/restapis")  # management stays signed
        assert status == 403


def test_concurrent_changes_lose_nothing(client: Any, edge: EdgeServer) -> None:
    """Each change rewrites the API's document: ten CreateResource calls at once all stay.
    (The race this guards is narrow: without the plugin's lock it passed 3 of 3 runs too.)"""
    from concurrent.futures import ThreadPoolExecutor

    apigw = client_for(edge.url, "apigateway")
    api = apigw.create_rest_api(name="busy")

    def add(n: int) -> None:
        client_for(edge.url, "apigateway").create_resource(
            restApiId=api["id"], parentId=api["rootResourceId"], pathPart=f"r{n}")

    with ThreadPoolExecutor(10) as pool:
        list(pool.map(add, range(10)))
    paths = {r["path"] for r in apigw.get_resources(restApiId=api["id"])["items"]}
    assert paths == {"/"} | {f"/r{n}" for n in range(10)}
