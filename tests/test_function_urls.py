"""Function URLs: the config API (boto3) and plain HTTP requests to a real edge."""

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

from .edge_support import client, create, edge  # noqa: F401  (fixtures)

ECHO_EVENT = """
def handler(event, context):
    return {"statusCode": 200, "headers": {"content-type": "application/json"},
            "body": __import__("json").dumps(event)}
"""
SHAPED = """
import base64
def handler(event, context):
    path = event["rawPath"]
    if path == "/teapot":
        return {"statusCode": 418, "headers": {"X-Brew": "earl grey"}, "body": "short and stout",
                "cookies": ["a=1; Path=/", "b=2"]}
    if path == "/binary":
        return {"statusCode": 200, "headers": {"Content-Type": "image/png"},
                "body": base64.b64encode(b"\\x89PNG\\x00").decode(), "isBase64Encoded": True}
    if path == "/bare":
        return {"hello": "world"}
    if path == "/string":
        return "just text"
    raise RuntimeError("boom")
"""


def request(url: str, method: str = "GET", path: str = "", body: bytes | None = None,
            headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes,
                                                            http.client.HTTPResponse]:
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    connection.request(method, parts.path.rstrip("/") + path, body=body, headers=headers or {})
    response = connection.getresponse()
    data = response.read()
    connection.close()
    return response.status, {k.lower(): v for k, v in response.getheaders()}, data, response


def test_config_api_with_boto3(client: Any, edge: EdgeServer) -> None:
    create(client, "web")
    created = client.create_function_url_config(FunctionName="web", AuthType="NONE")
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 201
    url = created["FunctionUrl"]
    assert url.startswith(edge.url + "/_lambdalab/url/") and url.endswith("/")
    assert created["AuthType"] == "NONE"
    assert created["FunctionArn"].endswith(":function:web")

    got = client.get_function_url_config(FunctionName="web")
    assert got["FunctionUrl"] == url and "LastModifiedTime" in got

    updated = client.update_function_url_config(
        FunctionName="web", AuthType="AWS_IAM", Cors={"AllowOrigins": ["*"]}
    )
    assert updated["AuthType"] == "AWS_IAM" and updated["Cors"]["AllowOrigins"] == ["*"]
    assert updated["FunctionUrl"] == url

    listed = client.list_function_url_configs(FunctionName="web")["FunctionUrlConfigs"]
    assert [c["FunctionUrl"] for c in listed] == [url]

    with pytest.raises(client.exceptions.ResourceConflictException):
        client.create_function_url_config(FunctionName="web", AuthType="NONE")
    with pytest.raises(ClientError, match="ValidationException.*'authType'"):  # as AWS answers
        client.create_function_url_config(FunctionName="web", AuthType="OPEN", Qualifier="x")

    client.delete_function_url_config(FunctionName="web")
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.get_function_url_config(FunctionName="web")
    status, _, _, _ = request(url)
    assert status == 403  # AWS: AccessDeniedException for a URL that is not there


def test_config_errors_from_the_lab(lab: Lab, code: Any) -> None:
    from lambdalab.errors import InvalidParameterValueException, ResourceNotFoundException

    lab.create_function("fn", code(app=ECHO_EVENT), handler="app.handler", publish=True)
    with pytest.raises(ResourceNotFoundException):
        lab.create_function_url_config("missing", "NONE")
    with pytest.raises(InvalidParameterValueException, match="numbered version"):
        lab.create_function_url_config("fn", "NONE", qualifier="1")
    with pytest.raises(InvalidParameterValueException, match="AuthType"):
        lab.create_function_url_config("fn", "PUBLIC")
    assert lab.list_function_url_configs("fn") == []


def test_request_becomes_payload_2_event(lab: Lab, code: Any, edge: EdgeServer) -> None:
    lab.create_function("echo", code(app=ECHO_EVENT), handler="app.handler")
    url = lab.create_function_url_config("echo", "NONE").function_url
    status, headers, data, _ = request(
        url, "POST", "/orders/7?size=L&tag=a&tag=b",
        body=b'{"qty": 2}',
        headers={"Content-Type": "application/json", "Cookie": "session=abc; theme=dark",
                 "X-Multi": "one", "User-Agent": "test-agent/1"},
    )
    assert status == 200 and headers["content-type"] == "application/json"
    event = json.loads(data)
    assert event["version"] == "2.0" and event["routeKey"] == "$default"
    assert event["rawPath"] == "/orders/7"
    assert event["rawQueryString"] == "size=L&tag=a&tag=b"
    assert event["queryStringParameters"] == {"size": "L", "tag": "a,b"}
    assert event["cookies"] == ["session=abc", "theme=dark"]
    assert "cookie" not in event["headers"]
    assert event["headers"]["x-multi"] == "one"
    assert event["headers"]["content-type"] == "application/json"
    assert event["body"] == '{"qty": 2}' and event["isBase64Encoded"] is False
    context = event["requestContext"]
    assert context["http"] == {
        "method": "POST", "path": "/orders/7", "protocol": "HTTP/1.1",
        "sourceIp": "127.0.0.1", "userAgent": "test-agent/1",
    }
    url_id = urlsplit(url).path.split("/")[3]
    assert context["apiId"] == url_id
    assert context["domainName"] == f"{url_id}.lambda-url.us-east-1.on.aws"
    assert context["timeEpoch"] == int(lab.clock.now() * 1000)
    assert context["requestId"] and context["time"]


def test_binary_request_bodies_arrive_base64(lab: Lab, code: Any, edge: EdgeServer) -> None:
    lab.create_function("echo", code(app=ECHO_EVENT), handler="app.handler")
    url = lab.create_function_url_config("echo", "NONE").function_url
    _, _, data, _ = request(url, "PUT", "/up", body=b"\x00\xff\x10",
                            headers={"Content-Type": "application/octet-stream"})
    event = json.loads(data)
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == b"\x00\xff\x10"


def test_responses_are_mapped_back_as_aws_does(lab: Lab, code: Any, edge: EdgeServer) -> None:
    lab.create_function("shaped", code(app=SHAPED), handler="app.handler")
    url = lab.create_function_url_config("shaped", "NONE").function_url

    status, headers, data, raw = request(url, path="/teapot")
    assert (status, data) == (418, b"short and stout")
    assert headers["x-brew"] == "earl grey"
    assert raw.headers.get_all("Set-Cookie") == ["a=1; Path=/", "b=2"]

    status, headers, data, _ = request(url, path="/binary")
    assert (status, headers["content-type"], data) == (200, "image/png", b"\x89PNG\x00")

    status, headers, data, _ = request(url, path="/bare")
    assert status == 200 and headers["content-type"] == "application/json"
    assert json.loads(data) == {"hello": "world"}

    status, _, data, _ = request(url, path="/string")
    assert status == 200 and data == b"just text"  # a string is sent as it is

    status, _, data, _ = request(url, path="/fails")
    assert status == 502 and data == b"Internal Server Error"


def test_unknown_url_id_is_access_denied(edge: EdgeServer) -> None:
    status, headers, data, _ = request(edge.url + "/_lambdalab/url/" + "x" * 32 + "/")
    assert status == 403 and json.loads(data) == {"Message": None}
    assert headers["x-amzn-errortype"] == "AccessDeniedException"


def test_url_of_an_alias_invokes_the_alias(lab: Lab, code: Any, edge: EdgeServer) -> None:
    lab.create_function("v", code(app="def handler(e, c):\n    return 'one'\n"),
                        handler="app.handler", publish=True)
    lab.create_alias("v", "live", "1")
    lab.update_function_code("v", code(app="def handler(e, c):\n    return 'two'\n"))
    url = lab.create_function_url_config("v", "NONE", qualifier="live").function_url
    assert request(url)[2] == b"one"
    assert lab.get_function_url_config("v", "live").function_arn.endswith(":v:live")


def test_urls_answer_unsigned_requests_when_the_edge_checks_keys(lab: Lab, code: Any) -> None:
    lab.create_function("open", code(app="def handler(e, c):\n    return 'hi'\n"),
                        handler="app.handler")
    with EdgeServer(lab, port=0, auth_keys={"AKIDLAB": "secret"}) as guarded:
        url = lab.create_function_url_config("open", "NONE").function_url
        assert url.startswith(guarded.url)
        status, _, data, _ = request(url)
        assert (status, data) == (200, b"hi")
        status, _, _, _ = request(guarded.url + "/2015-03-31/functions")
        assert status == 403  # the Lambda API itself still wants a signature
