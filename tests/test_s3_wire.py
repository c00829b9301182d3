"""S3 on the protocol layer: the bytes S3 sends where its model says less than its wire,
and its errors on the one error base.

Judged by raw HTTP against ``lambdalab serve``'s edge and by boto3; references:
https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListBuckets.html (root element),
https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetBucketLocation.html,
https://docs.aws.amazon.com/AmazonS3/latest/API/RESTCommonResponseHeaders.html
(``x-amz-request-id``, ``x-amz-id-2``),
https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import http.client
from typing import Any
from urllib.parse import urlsplit
from xml.etree import ElementTree

import pytest
from botocore.exceptions import ClientError

from lambdalab import Lab, LambdaError
from lambdalab.plugin import AwsError
from lambdalab.protocol.service import STREAM_CHUNK_BYTES
from lambdalab.server import EdgeServer
from lambdalab_s3 import S3, NoSuchBucket, NoSuchKey, S3Error
from lambdalab_s3.responses import S3Service
from tests.test_s3 import s3_client

from tests.edge_support import edge  # noqa: F401 (fixture)

SIGNED = {
    # the edge finds S3 by the signature's scope (it checks signatures only when asked)
    "Authorization": "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240101/us-east-1/s3/"
                     "aws4_request, SignedHeaders=host, Signature=00",
}


def raw(edge: EdgeServer, method: str, path: str, body: bytes = b"",
        headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    connection = http.client.HTTPConnection(urlsplit(edge.url).netloc, timeout=30)
    try:
        connection.request(method, path, body=body, headers={**SIGNED, **(headers or {})})
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


@pytest.fixture
def s3(edge: EdgeServer) -> Any:  # noqa: F811
    client = s3_client(edge.url)
    client.create_bucket(Bucket="bkt")
    client.put_object(Bucket="bkt", Key="k", Body=b"0123456789")
    return client


def test_outputs_carry_the_root_elements_and_request_ids_s3_sends(edge: EdgeServer, s3: Any) -> None:  # noqa: F811
    status, headers, body = raw(edge, "GET", "/")
    assert status == 200
    assert body.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n<ListAllMyBucketsResult '
                           b'xmlns="http://s3.amazonaws.com/doc/2006-03-01/">')
    assert len(headers["x-amz-request-id"]) == 16 and headers["x-amz-id-2"]
    assert b"<ListBucketResult " in raw(edge, "GET", "/bkt?list-type=2")[2]
    assert b"<ListBucketResult " in raw(edge, "GET", "/bkt")[2]
    deleted = raw(edge, "POST", "/bkt?delete", b"<Delete><Object><Key>gone</Key></Object></Delete>")
    assert b"<DeleteResult " in deleted[2] and b"<Deleted><Key>gone</Key></Deleted>" in deleted[2]
    assert s3.list_buckets()["ResponseMetadata"]["RequestId"]


def test_get_bucket_location_is_a_bare_location_constraint(edge: EdgeServer, s3: Any) -> None:  # noqa: F811
    status, _, body = raw(edge, "GET", "/bkt?location")
    root = ElementTree.fromstring(body)
    assert status == 200
    assert (root.tag, root.text) == ("{http://s3.amazonaws.com/doc/2006-03-01/}LocationConstraint", None)
    assert s3.get_bucket_location(Bucket="bkt")["LocationConstraint"] is None  # us-east-1


def test_a_range_is_206_and_head_has_no_body(edge: EdgeServer, s3: Any) -> None:  # noqa: F811
    status, headers, body = raw(edge, "GET", "/bkt/k", headers={"Range": "bytes=2-4"})
    assert (status, headers["content-range"], body) == (206, "bytes 2-4/10", b"234")
    status, headers, body = raw(edge, "HEAD", "/bkt/k")
    assert (status, headers["content-length"], body) == (200, "10", b"")
    status, headers, body = raw(edge, "HEAD", "/bkt/missing")
    assert (status, body) == (404, b"")  # S3 sends no error body for HEAD


def test_a_request_no_operation_answers_is_method_not_allowed(edge: EdgeServer, s3: Any) -> None:  # noqa: F811
    status, _, body = raw(edge, "POST", "/bkt/k")
    assert status == 405 and b"<Code>MethodNotAllowed</Code>" in body
    status, _, body = raw(edge, "PUT", "/bkt?versioning", b"")
    assert status == 501 and b"<Code>NotImplemented</Code>" in body


def test_headers_s3_cannot_read_are_ignored_not_a_500(edge: EdgeServer, s3: Any) -> None:  # noqa: F811
    """botocore's timestamp parser raises RuntimeError (not ValueError) for an epoch past
    every timezone; S3 ignores a conditional header it cannot read."""
    for value in ("100000000000000", "-1e20", "garbage"):
        status, _, body = raw(edge, "GET", "/bkt/k", headers={"If-Modified-Since": value})
        assert (status, body) == (200, b"0123456789")


def test_a_body_that_breaks_the_schema_is_malformed_xml(edge: EdgeServer, s3: Any) -> None:  # noqa: F811
    status, _, body = raw(edge, "POST", "/bkt?delete",
                          b"<Delete><Quiet>maybe</Quiet><Object><Key>k</Key></Object></Delete>")
    assert status == 400 and b"<Code>MalformedXML</Code>" in body
    status, _, body = raw(edge, "POST", "/bkt?delete", b"<Delete><Object>")
    assert status == 400 and b"<Code>MalformedXML</Code>" in body


def test_s3_errors_are_aws_errors_written_by_the_layer(s3: Any) -> None:
    assert issubclass(S3Error, AwsError) and issubclass(LambdaError, AwsError)
    error = NoSuchBucket("The specified bucket does not exist.", BucketName="nope")
    assert (error.code, error.status_code, error.fields, error.sender_fault) == (
        "NoSuchBucket", 404, {"BucketName": "nope"}, True)
    with pytest.raises(ClientError) as info:
        s3.get_object(Bucket="bkt", Key="missing")
    assert info.value.response["Error"] == {
        "Code": "NoSuchKey", "Message": "The specified key does not exist.", "Key": "missing",
        "BucketName": "bkt"}
    assert issubclass(NoSuchKey, S3Error)


def get_through_the_app(lab: Lab, path: str, headers: list[tuple[bytes, bytes]]) -> list[dict[str, Any]]:
    """The ASGI messages S3's app sends for ``GET path``."""
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "GET", "path": path, "raw_path": path.encode(),
             "query_string": b"", "headers": headers}
    asyncio.run(S3Service(lab)(scope, receive, send))
    return sent


def test_get_object_streams_the_body_in_pieces(lab: Lab) -> None:
    """A body larger than one piece is sent in several, never held whole; a range too."""
    body = bytes(range(256)) * (STREAM_CHUNK_BYTES // 256 * 2 + 3)  # two pieces and a bit
    S3.of(lab).create_bucket("bkt")
    S3.of(lab).put_object("bkt", "big", body)
    sent = get_through_the_app(lab, "/bkt/big", [])
    start, pieces = sent[0], [m for m in sent[1:] if m["body"]]
    assert start["status"] == 200
    assert dict(start["headers"])[b"content-length"] == str(len(body)).encode()
    assert len(pieces) == 3 and max(len(p["body"]) for p in pieces) == STREAM_CHUNK_BYTES
    assert b"".join(p["body"] for p in pieces) == body
    assert sent[-1]["more_body"] is False
    ranged = get_through_the_app(lab, "/bkt/big", [(b"range", b"bytes=10-2000000")])
    assert ranged[0]["status"] == 206
    assert b"".join(m["body"] for m in ranged[1:]) == body[10:2000001]


def test_conditional_reads_answer_304_and_412(edge: EdgeServer, s3: Any) -> None:  # noqa: F811
    etag = s3.head_object(Bucket="bkt", Key="k")["ETag"]
    later, earlier = "Fri, 01 Jan 2100 00:00:00 GMT", "Thu, 01 Jan 1970 00:00:00 GMT"
    for method in ("GET", "HEAD"):
        assert raw(edge, method, "/bkt/k", headers={"If-None-Match": etag})[:3:2] == (304, b"")
        assert raw(edge, method, "/bkt/k", headers={"If-Modified-Since": later})[0] == 304
        # a date without a zone is GMT (botocore reads it as a naive datetime)
        assert raw(edge, method, "/bkt/k", headers={"If-Modified-Since": "2100-01-01T00:00:00"})[0] == 304
        assert raw(edge, method, "/bkt/k", headers={"If-Unmodified-Since": "1970-01-02"})[0] == 412
        assert raw(edge, method, "/bkt/k", headers={"If-Match": '"other"'})[0] == 412
        assert raw(edge, method, "/bkt/k", headers={"If-Unmodified-Since": earlier})[0] == 412
        # If-Match takes precedence over If-Unmodified-Since, If-None-Match over
        # If-Modified-Since (https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html)
        assert raw(edge, method, "/bkt/k", headers={"If-Match": etag, "If-Unmodified-Since": earlier})[0] == 200
        assert raw(edge, method, "/bkt/k", headers={"If-None-Match": '"x"', "If-Modified-Since": later})[0] == 200
    assert b"<Condition>If-Match</Condition>" in raw(edge, "GET", "/bkt/k", headers={"If-Match": "x"})[2]
    with pytest.raises(ClientError) as info:
        s3.get_object(Bucket="bkt", Key="k", IfMatch='"nope"')
    assert info.value.response["Error"]["Code"] == "PreconditionFailed"
    assert s3.get_object(Bucket="bkt", Key="k", IfMatch=etag)["Body"].read() == b"0123456789"


def test_content_md5_is_checked(edge: EdgeServer, s3: Any) -> None:  # noqa: F811
    body = b"hello"
    good = base64.b64encode(hashlib.md5(body).digest()).decode()
    s3.put_object(Bucket="bkt", Key="md5", Body=body, ContentMD5=good)
    assert s3.get_object(Bucket="bkt", Key="md5")["Body"].read() == body
    status, _, answer = raw(edge, "PUT", "/bkt/md5", b"other", {"Content-MD5": good})
    assert status == 400 and b"<Code>BadDigest</Code>" in answer
    status, _, answer = raw(edge, "PUT", "/bkt/md5", b"other", {"Content-MD5": "not-md5"})
    assert status == 400 and b"<Code>InvalidDigest</Code>" in answer
    assert s3.get_object(Bucket="bkt", Key="md5")["Body"].read() == body  # nothing replaced


def test_virtual_hosted_style_addresses_the_same_bucket(edge: EdgeServer, s3: Any) -> None:  # noqa: F811
    port = urlsplit(edge.url).port
    for host in (f"bkt.localhost:{port}", "bkt.s3.amazonaws.com", "bkt.s3.us-east-1.amazonaws.com"):
        assert raw(edge, "GET", "/k", headers={"Host": host})[2] == b"0123456789"
        assert b"<Key>k</Key>" in raw(edge, "GET", "/?list-type=2", headers={"Host": host})[2]
    assert raw(edge, "PUT", "/v", b"virtual", {"Host": "bkt.localhost"})[0] == 200
    assert s3.get_object(Bucket="bkt", Key="v")["Body"].read() == b"virtual"
    # a host that names no bucket is path-style
    assert raw(edge, "GET", "/bkt/k", headers={"Host": "s3.amazonaws.com"})[2] == b"0123456789"
