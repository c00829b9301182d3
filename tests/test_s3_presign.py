"""S3 presigned URLs through the edge: boto3 signs, a plain HTTP client uses the URL.

A query-signed request carries its SigV4 signature in the query string
(``X-Amz-Credential``, ``X-Amz-Date``, ``X-Amz-Expires``, ``X-Amz-Signature``…) instead
of an ``Authorization`` header
(https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-query-string-auth.html,
https://docs.aws.amazon.com/AmazonS3/latest/userguide/using-presigned-url.html). The
edge finds S3 by the credential's scope, refuses a URL past its expiry on the lab's
clock, and, when it checks signatures, checks the URL's.
"""

from __future__ import annotations

import http.client
import time
import urllib.error
import urllib.request
from typing import Any, Iterator
from urllib.parse import urlsplit
from xml.etree import ElementTree

import boto3
import pytest
from botocore.config import Config

from lambdalab import Lab
from lambdalab.clock import VirtualClock
from lambdalab.server import EdgeServer
from tests.edge_support import edge  # noqa: F401 (fixture)

KEY, SECRET = "AKIDLAB", "s3cret"


def s3_client(url: str, key: str = KEY, secret: str = SECRET) -> Any:
    return boto3.client(
        "s3", endpoint_url=url, region_name="us-east-1", aws_access_key_id=key,
        aws_secret_access_key=secret,
        config=Config(s3={"addressing_style": "path"}, signature_version="s3v4",
                      retries={"total_max_attempts": 1}),
    )


def fetch(url: str, method: str = "GET", body: bytes | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=body, method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def put_plain(url: str, body: bytes) -> int:
    """PUT with http.client, which, unlike urllib, adds no Content-Type: a SigV2
    signature covers the Content-Type, and boto3 signed none."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.netloc, timeout=30)
    try:
        connection.request("PUT", f"{parts.path}?{parts.query}", body=body)
        return connection.getresponse().status
    finally:
        connection.close()


def error_of(body: bytes) -> dict[str, str]:
    root = ElementTree.fromstring(body)
    return {child.tag: child.text or "" for child in root}


@pytest.fixture
def signed_edge(lab: Lab) -> Iterator[EdgeServer]:
    with EdgeServer(lab, port=0, auth_keys={KEY: SECRET}) as server:
        yield server


@pytest.fixture
def s3(edge: EdgeServer) -> Any:  # noqa: F811
    client = s3_client(edge.url)
    client.create_bucket(Bucket="bkt")
    client.put_object(Bucket="bkt", Key="notes/a b.txt", Body=b"hello")
    return client


def test_a_presigned_get_reads_the_object(s3: Any) -> None:
    url = s3.generate_presigned_url(
        "get_object", Params={"Bucket": "bkt", "Key": "notes/a b.txt"}, ExpiresIn=60
    )
    assert "X-Amz-Credential=" in url and "Authorization" not in url
    assert fetch(url) == (200, b"hello")


def test_a_presigned_put_writes_the_object(s3: Any) -> None:
    url = s3.generate_presigned_url(
        "put_object", Params={"Bucket": "bkt", "Key": "up.bin"}, ExpiresIn=60
    )
    status, _ = fetch(url, "PUT", b"\x00uploaded")
    assert status == 200
    assert s3.get_object(Bucket="bkt", Key="up.bin")["Body"].read() == b"\x00uploaded"


def test_a_presigned_get_sets_the_response_headers_it_names(s3: Any) -> None:
    """``response-content-disposition`` and its kin override the answer's headers
    (GetObject's Response* parameters): how a download link names the saved file."""
    overrides = {"ResponseContentDisposition": 'attachment; filename="a b.txt"',
                 "ResponseContentType": "text/plain", "ResponseCacheControl": "no-cache",
                 "ResponseContentLanguage": "fr"}
    url = s3.generate_presigned_url(
        "get_object", Params={"Bucket": "bkt", "Key": "notes/a b.txt", **overrides})
    with urllib.request.urlopen(url, timeout=30) as response:
        assert response.headers["Content-Disposition"] == 'attachment; filename="a b.txt"'
        assert response.headers["Content-Type"] == "text/plain"
        assert response.headers["Cache-Control"] == "no-cache"
        assert response.headers["Content-Language"] == "fr"
        assert response.read() == b"hello"
    head = s3.head_object(Bucket="bkt", Key="notes/a b.txt", ResponseContentType="text/csv")
    assert head["ContentType"] == "text/csv"
    assert s3.get_object(Bucket="bkt", Key="notes/a b.txt")["ContentType"] != "text/csv"


def test_an_expired_url_is_refused_with_s3s_error(s3: Any, clock: VirtualClock) -> None:
    clock.set(max(clock.now(), time.time()))  # the lab reads the time the client signs at
    url = s3.generate_presigned_url(
        "get_object", Params={"Bucket": "bkt", "Key": "notes/a b.txt"}, ExpiresIn=60
    )
    assert fetch(url)[0] == 200
    clock.advance(3600)
    status, body = fetch(url)
    assert status == 403
    error = error_of(body)
    assert (error["Code"], error["Message"]) == ("AccessDenied", "Request has expired")
    assert error["X-Amz-Expires"] == "60"
    assert error["Expires"] < error["ServerTime"]
    assert error["Expires"].endswith("Z") and error["ServerTime"].endswith("Z")


def test_signed_urls_pass_and_tampered_ones_are_refused(lab: Lab, signed_edge: EdgeServer) -> None:
    s3 = s3_client(signed_edge.url)
    s3.create_bucket(Bucket="bkt")
    s3.put_object(Bucket="bkt", Key="k", Body=b"kept")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": "bkt", "Key": "k"})
    assert fetch(url) == (200, b"kept")
    put = s3.generate_presigned_url("put_object", Params={"Bucket": "bkt", "Key": "k2"})
    assert fetch(put, "PUT", b"new")[0] == 200

    signature = url.rsplit("X-Amz-Signature=", 1)[1]
    tampered = url.replace(signature, ("0" if signature[0] != "0" else "1") + signature[1:])
    status, body = fetch(tampered)
    assert status == 403 and error_of(body)["Code"] == "SignatureDoesNotMatch"
    not_hex = url.replace(signature, "%C3%A9" + signature[2:])  # decoded, not ASCII
    assert error_of(fetch(not_hex)[1])["Code"] == "SignatureDoesNotMatch"
    other_key = url.replace("/bkt/k?", "/bkt/k2?")  # the signature covers the path
    assert fetch(other_key)[0] == 403
    unknown = s3_client(signed_edge.url, key="AKIDOTHER").generate_presigned_url(
        "get_object", Params={"Bucket": "bkt", "Key": "k"})
    status, body = fetch(unknown)
    assert status == 403 and error_of(body)["Code"] == "InvalidAccessKeyId"
    wrong = s3_client(signed_edge.url, secret="wrong").generate_presigned_url(
        "get_object", Params={"Bucket": "bkt", "Key": "k"})
    assert error_of(fetch(wrong)[1])["Code"] == "SignatureDoesNotMatch"


def test_header_signed_s3_keys_with_any_characters_pass(signed_edge: EdgeServer) -> None:
    """S3 signs its path as sent (botocore's S3SigV4Auth); a key with a space, ``+`` or
    ``ü`` must not be normalised and encoded a second time before the check."""
    s3 = s3_client(signed_edge.url)
    s3.create_bucket(Bucket="bkt")
    s3.put_object(Bucket="bkt", Key="a/ü b+c.txt", Body=b"odd")
    assert s3.get_object(Bucket="bkt", Key="a/ü b+c.txt")["Body"].read() == b"odd"
    url = s3.generate_presigned_url("get_object", Params={"Bucket": "bkt", "Key": "a/ü b+c.txt"})
    assert fetch(url) == (200, b"odd")


@pytest.mark.parametrize(("query", "message"), [
    ("X-Amz-Expires=604801", "X-Amz-Expires must be less than a week"),
    ("X-Amz-Expires=soon", "X-Amz-Expires should be a number"),
    ("X-Amz-Expires=-1", "X-Amz-Expires must be non-negative"),
    ("X-Amz-Date=yesterday", "X-Amz-Date must be in the ISO8601 Long Format"),
])
def test_malformed_query_signatures_are_refused(s3: Any, query: str, message: str) -> None:
    url = s3.generate_presigned_url("get_object", Params={"Bucket": "bkt", "Key": "k"})
    name = query.split("=")[0]
    start = url.index(name + "=")
    end = url.find("&", start)
    broken = url[:start] + query + (url[end:] if end != -1 else "")
    status, body = fetch(broken)
    error = error_of(body)
    assert status == 400 and error["Code"] == "AuthorizationQueryParametersError"
    assert error["Message"].startswith(message)


# -- SigV2: what boto3 presigns for S3 unless told signature_version="s3v4" -----------


def v2_client(url: str, key: str = KEY, secret: str = SECRET) -> Any:
    return boto3.client("s3", endpoint_url=url, region_name="us-east-1", aws_access_key_id=key,
                        aws_secret_access_key=secret,
                        config=Config(s3={"addressing_style": "path"}))


def test_a_default_boto3_url_sigv2_works_and_expires(s3: Any, edge: EdgeServer,  # noqa: F811
                                                     clock: VirtualClock) -> None:
    clock.set(max(clock.now(), time.time()))
    v2 = v2_client(edge.url)
    url = v2.generate_presigned_url("get_object", Params={"Bucket": "bkt", "Key": "notes/a b.txt"},
                                    ExpiresIn=60)
    assert "AWSAccessKeyId=" in url and "X-Amz-Credential" not in url
    assert fetch(url) == (200, b"hello")
    put = v2.generate_presigned_url("put_object", Params={"Bucket": "bkt", "Key": "v2"})
    assert put_plain(put, b"two") == 200
    clock.advance(3600)
    status, body = fetch(url)
    error = error_of(body)
    assert status == 403
    assert (error["Code"], error["Message"]) == ("AccessDenied", "Request has expired")
    assert error["Expires"] < error["ServerTime"]
    bad_date = url.replace("Expires=", "Expires=x")
    assert error_of(fetch(bad_date)[1])["Message"].startswith("Invalid date")


def test_sigv2_urls_are_checked_with_keys(signed_edge: EdgeServer) -> None:
    s3_client(signed_edge.url).create_bucket(Bucket="bkt")
    put = v2_client(signed_edge.url).generate_presigned_url(
        "put_object", Params={"Bucket": "bkt", "Key": "k"})
    assert put_plain(put, b"v2 signed") == 200
    # urllib sends Content-Type: application/x-www-form-urlencoded, which was not signed
    assert error_of(fetch(put, "PUT", b"other")[1])["Code"] == "SignatureDoesNotMatch"
    get = v2_client(signed_edge.url).generate_presigned_url(
        "get_object", Params={"Bucket": "bkt", "Key": "k"})
    assert fetch(get) == (200, b"v2 signed")
    wrong = v2_client(signed_edge.url, secret="wrong").generate_presigned_url(
        "get_object", Params={"Bucket": "bkt", "Key": "k"})
    assert error_of(fetch(wrong)[1])["Code"] == "SignatureDoesNotMatch"
    unknown = v2_client(signed_edge.url, key="AKIDOTHER").generate_presigned_url(
        "get_object", Params={"Bucket": "bkt", "Key": "k"})
    assert error_of(fetch(unknown)[1])["Code"] == "InvalidAccessKeyId"


V4 = ("X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKID%2F20260101%2Fus-east-1%2Fs3%2F"
      "aws4_request&X-Amz-SignedHeaders=host&X-Amz-Signature=00")


@pytest.mark.parametrize("query", [
    "X-Amz-Credential=",
    "X-Amz-Credential=AKID%2F20260101%2Fus-east-1%2Fnosuch%2Faws4_request",
    f"{V4}&X-Amz-Date=99991231T235959Z&X-Amz-Expires=604800",
    f"{V4}&X-Amz-Date=20260101T000000Z&X-Amz-Expires=99999999999999999999",
    f"{V4}&X-Amz-Date=20260101T000000Z&X-Amz-Expires=60&X-Amz-SignedHeaders=x-nope%3Bhost",
    "X-Amz-Algorithm=HMAC&X-Amz-Credential=a&X-Amz-Signature=b&X-Amz-Date=c&X-Amz-SignedHeaders=d"
    "&X-Amz-Expires=1",
    "AWSAccessKeyId=a&Signature=%C3%A9&Expires=99999999999",
    "AWSAccessKeyId=a&Signature=b&Expires=%F0%9F%98%80",
    "AWSAccessKeyId=a&Signature=b&Expires=",
])
@pytest.mark.parametrize("keys", [False, True])
def test_hostile_query_signatures_are_answered_never_a_500(lab: Lab, query: str,
                                                           keys: bool) -> None:
    with EdgeServer(lab, port=0, auth_keys={KEY: SECRET} if keys else None) as server:
        status, _ = fetch(f"{server.url}/bkt/k?{query}")
        assert 400 <= status < 500
