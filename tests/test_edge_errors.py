"""Bad requests get AWS's error, with its code and status, never a 500 or a traceback.

boto3 picks the exception class from ``x-amzn-ErrorType``; raw requests check what a
client without botocore sees.
"""

from __future__ import annotations

import http.client
import json
import socket
from typing import Any
from urllib.parse import urlsplit

import pytest
from botocore.exceptions import ClientError

from lambdalab import limits
from lambdalab.server import EdgeServer

from .edge_support import ROLE, client, create, edge, zip_of  # noqa: F401  (fixtures)


def raw(url: str, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], Any]:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    conn.request(method, path, body=body, headers=headers or {})
    response = conn.getresponse()
    data = response.read()
    conn.close()
    return response.status, {k.lower(): v for k, v in response.getheaders()}, json.loads(data or b"null")


def test_unknown_function_is_resource_not_found(client: Any) -> None:
    with pytest.raises(client.exceptions.ResourceNotFoundException) as info:
        client.invoke(FunctionName="ghost")
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert "function:ghost" in info.value.response["Error"]["Message"]


def test_out_of_range_setting_names_the_field(client: Any) -> None:
    with pytest.raises(client.exceptions.InvalidParameterValueException) as info:
        create(client, "big", MemorySize=20_000)
    assert "MemorySize" in info.value.response["Error"]["Message"]
    assert "128 to 10240" in info.value.response["Error"]["Message"]
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.get_function(FunctionName="big")  # nothing half-created


def test_create_needs_a_role_arn_and_a_zip(client: Any) -> None:
    with pytest.raises(ClientError, match="ValidationException.*'role'"):  # as AWS answers
        client.create_function(
            FunctionName="f", Runtime="python3.11", Role="admin", Handler="app.handler",
            Code={"ZipFile": zip_of(app="def handler(e, c): pass\n")},
        )
    with pytest.raises(client.exceptions.InvalidParameterValueException,
                       match="S3 Error Code: NoSuchBucket"):  # code from S3: no such bucket
        client.create_function(
            FunctionName="f", Runtime="python3.11", Role=ROLE, Handler="app.handler",
            Code={"S3Bucket": "bucket", "S3Key": "key.zip"},
        )
    with pytest.raises(client.exceptions.InvalidParameterValueException):
        client.create_function(
            FunctionName="f", Runtime="python3.11", Role=ROLE, Handler="app.handler",
            Code={"ZipFile": b"this is not a zip"},
        )


def test_duplicate_function_is_a_conflict(client: Any) -> None:
    create(client, "twice")
    with pytest.raises(client.exceptions.ResourceConflictException):
        create(client, "twice")


def test_malformed_payload_is_invalid_request_content(client: Any) -> None:
    create(client, "echo")
    with pytest.raises(client.exceptions.InvalidRequestContentException):
        client.invoke(FunctionName="echo", Payload=b"{not json")


def test_oversized_payload_is_request_too_large(client: Any) -> None:
    create(client, "echo")
    with pytest.raises(client.exceptions.RequestTooLargeException) as info:
        client.invoke(FunctionName="echo", Payload=b'"' + b"x" * limits.SYNC_PAYLOAD_MAX_BYTES + b'"')
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 413


def test_throttled_invoke_is_too_many_requests(client: Any) -> None:
    create(client, "stopped")
    client.put_function_concurrency(FunctionName="stopped", ReservedConcurrentExecutions=0)
    with pytest.raises(client.exceptions.TooManyRequestsException) as info:
        client.invoke(FunctionName="stopped")
    assert info.value.response["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded"
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 429


def test_bad_client_context_is_invalid_request_content(client: Any) -> None:
    create(client, "echo")
    with pytest.raises(client.exceptions.InvalidRequestContentException):
        client.invoke(FunctionName="echo", ClientContext="not base64 json!")


def test_bad_marker_and_max_items(client: Any) -> None:
    with pytest.raises(client.exceptions.InvalidParameterValueException, match="Marker"):
        client.list_functions(Marker="garbage!")
    status, headers, body = raw(client.meta.endpoint_url, "GET", "/2015-03-31/functions?MaxItems=0")
    assert (status, headers["x-amzn-errortype"]) == (400, "ValidationException")
    assert "Value '0' at 'maxItems'" in body["message"]


def test_malformed_json_body_is_invalid_request_content(edge: EdgeServer) -> None:
    status, headers, body = raw(edge.url, "POST", "/2015-03-31/functions", b"{oops")
    assert status == 400
    assert headers["x-amzn-errortype"] == "InvalidRequestContentException"
    assert headers["content-type"] == "application/json"
    assert "Could not parse request body into json" in body["message"]
    status, headers, body = raw(edge.url, "POST", "/2015-03-31/functions", b"[1, 2]")
    assert headers["x-amzn-errortype"] == "InvalidRequestContentException"


def test_missing_required_field_is_a_validation_error(edge: EdgeServer) -> None:
    status, headers, body = raw(edge.url, "POST", "/2015-03-31/functions", b'{"FunctionName": "f"}')
    assert (status, headers["x-amzn-errortype"]) == (400, "ValidationException")
    assert "Value null at 'role' failed to satisfy constraint: Member must not be null" in body["message"]


def test_unknown_operation(edge: EdgeServer) -> None:
    status, headers, body = raw(edge.url, "GET", "/2015-03-31/nothing-here")
    assert (status, headers["x-amzn-errortype"]) == (404, "UnknownOperationException")
    status, headers, body = raw(edge.url, "PATCH", "/2015-03-31/functions/f")
    assert headers["x-amzn-errortype"] == "UnknownOperationException"
    assert "HTTP method" in body["message"]
    status, headers, body = raw(edge.url, "GET", "/not-aws")
    assert headers["x-amzn-errortype"] == "UnknownOperationException"


def test_oversized_control_request_is_refused_before_reading(edge: EdgeServer) -> None:
    parts = urlsplit(edge.url)
    declared = limits.CODE_REQUEST_MAX_BYTES + 1
    with socket.create_connection((parts.hostname, parts.port), timeout=60) as sock:
        sock.sendall(
            b"POST /2015-03-31/functions HTTP/1.1\r\nHost: x\r\n"
            + f"Content-Length: {declared}\r\n\r\n".encode()
        )
        reply = b""
        while b"Request must be smaller" not in reply:
            chunk = sock.recv(65536)
            if not chunk:
                break
            reply += chunk
    text = reply.decode()
    assert text.startswith("HTTP/1.1 413")
    assert "x-amzn-errortype: RequestEntityTooLargeException" in text
    assert f"Request must be smaller than {limits.CODE_REQUEST_MAX_BYTES} bytes" in text


def test_unsupported_parameter_is_refused_not_ignored(client: Any) -> None:
    create(client, "f")
    with pytest.raises(ClientError) as info:
        client.list_functions(FunctionVersion="ALL", MasterRegion="us-west-2")
    assert info.value.response["Error"]["Code"] == "InvalidParameterValueException"
