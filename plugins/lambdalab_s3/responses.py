"""S3's REST wire format: parse a request, call :class:`~lambdalab_s3.backend.S3`,
answer in the XML botocore's ``s3/2006-03-01`` model expects.

Errors are :class:`~lambdalab_s3.exceptions.S3Error` and rendered in one place
(:func:`error_response`); a handler never writes an error body by hand.
Reference: https://docs.aws.amazon.com/AmazonS3/latest/API/API_Operations_Amazon_Simple_Storage_Service.html
"""

from __future__ import annotations

import logging
import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import formatdate
from typing import Any, Callable
from urllib.parse import parse_qsl
from xml.etree import ElementTree as ET

import anyio.to_thread

from lambdalab import Lab
from lambdalab.plugin import IncompleteRequestBody, RequestBodyTooLarge, receive_body
from lambdalab.plugin import rest_input, rest_params, validate

from . import quotas
from .backend import S3, encode_token
from .exceptions import (
    EntityTooLarge,
    IncompleteBody,
    InvalidRange,
    MalformedXML,
    NotImplemented,
    S3Error,
    invalid_argument,
)
from .models import ObjectPage, S3Object
from .urls import Target, route, split_path

NAMESPACE = "http://s3.amazonaws.com/doc/2006-03-01/"
OWNER = {"ID": "75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a",
         "DisplayName": "lambdalab"}
log = logging.getLogger("lambdalab.s3")
#: Digits of the largest number a Range or max-keys can hold (2**64 has 20).
_POSITION_DIGITS_MAX = 20


@dataclass(frozen=True)
class S3Request:
    method: str
    target: Target
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes = b""


@dataclass
class S3Response:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


# -- XML and HTTP dates ---------------------------------------------------------------


def iso(at: float) -> str:
    return datetime.fromtimestamp(at, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def http_date(at: float) -> str:
    return formatdate(at, usegmt=True)


def element(parent: ET.Element, tag: str, value: Any = None) -> ET.Element:
    child = ET.SubElement(parent, tag)
    if value is not None:
        child.text = str(value).lower() if isinstance(value, bool) else str(value)
    return child


def xml_response(root: ET.Element, status: int = 200) -> S3Response:
    root.set("xmlns", NAMESPACE)
    body = b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root)
    return S3Response(status, body, {"Content-Type": "application/xml"})


def local(tag: str) -> str:
    return tag.rpartition("}")[2]


def parse_xml(body: bytes, root_tag: str) -> ET.Element:
    """The request body as XML whose root is ``root_tag`` (namespace ignored)."""
    try:
        root = ET.fromstring(body)
    except ET.ParseError as e:
        raise MalformedXML(
            f"The XML you provided was not well-formed or did not validate against our "
            f"published schema ({e}). Send a <{root_tag}> document."
        ) from None
    if local(root.tag) != root_tag:
        raise MalformedXML(
            f"The XML you provided was not well-formed or did not validate against our "
            f"published schema: expected <{root_tag}>, got <{local(root.tag)}>."
        )
    return root


def children(node: ET.Element, tag: str) -> list[ET.Element]:
    return [c for c in node if local(c.tag) == tag]


def text(node: ET.Element, tag: str, default: str = "") -> str:
    found = children(node, tag)
    return (found[0].text or "") if found else default


# -- request bodies -------------------------------------------------------------------


#: A chunk size of an ``aws-chunked`` body: hex digits (an int64 has at most 16).
_CHUNK_SIZE = re.compile(rb"[0-9a-fA-F]{1,16}")
#: What S3 says when a body is shorter than declared
#: (https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html).
INCOMPLETE_BODY = (
    "You did not provide the number of bytes specified by the Content-Length HTTP header"
)


def decode_aws_chunked(body: bytes, decoded_length: str | None = None) -> bytes:
    """The payload of an ``aws-chunked`` body (SigV4 streaming or trailing checksums):
    ``hex-size[;chunk-signature=…]\\r\\n data \\r\\n`` … ``0\\r\\n`` trailers
    (https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-streaming.html).

    Framing that does not add up (a size that is not hex, a chunk shorter than its size,
    no final 0-sized chunk, fewer bytes than ``x-amz-decoded-content-length``) is S3's
    ``IncompleteBody``; the trailers are not checked.
    """
    out, at = [], 0
    while True:
        end = body.find(b"\r\n", at)
        if end < 0:
            raise _malformed_chunks("it ended before its last, 0-sized, chunk")
        digits = body[at:end].split(b";")[0]
        if not _CHUNK_SIZE.fullmatch(digits):
            raise _malformed_chunks(f"a chunk size ({digits[:32]!r}) is not hexadecimal")
        size = int(digits, 16)
        if size == 0:
            break
        start, at = end + 2, end + 2 + size + 2
        if len(body) < at or body[at - 2:at] != b"\r\n":
            raise _malformed_chunks(f"a chunk is shorter than its size ({size} bytes)")
        out.append(body[start:start + size])
    decoded = b"".join(out)
    if decoded_length is not None and decoded_length != str(len(decoded)):
        raise IncompleteBody(
            f"{INCOMPLETE_BODY} (x-amz-decoded-content-length is {decoded_length[:32]}; "
            f"the chunks hold {len(decoded)} bytes)."
        )
    return decoded


def _malformed_chunks(what: str) -> IncompleteBody:
    return IncompleteBody(
        f"{INCOMPLETE_BODY}: the aws-chunked body is malformed ({what}). Send "
        "hex-size\\r\\n data\\r\\n chunks, ending with a 0-sized one."
    )


def payload(request: S3Request) -> bytes:
    streaming = request.headers.get("x-amz-content-sha256", "").startswith("STREAMING-")
    if streaming or "aws-chunked" in request.headers.get("content-encoding", ""):
        return decode_aws_chunked(
            request.body, request.headers.get("x-amz-decoded-content-length")
        )
    return request.body


def user_metadata(headers: dict[str, str]) -> dict[str, str]:
    return {k[len("x-amz-meta-"):]: v for k, v in headers.items() if k.startswith("x-amz-meta-")}


def object_headers(obj: S3Object) -> dict[str, str]:
    headers = {
        "ETag": obj.etag,
        "Last-Modified": http_date(obj.last_modified),
        "Content-Type": obj.content_type,
        "Accept-Ranges": "bytes",
    }
    headers.update({f"x-amz-meta-{k}": v for k, v in obj.metadata.items()})
    return headers


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """``bytes=0-99``, ``bytes=100-`` or ``bytes=-100`` as (first, last); None = whole.

    A malformed header is ignored, as S3 does; a start past the end is InvalidRange
    (https://www.rfc-editor.org/rfc/rfc9110#name-range). A position of any length is a
    number: one longer than any object is past its end.
    """
    if not header or not header.startswith("bytes=") or "," in header:
        return None
    first, sep, last = header[len("bytes="):].strip().partition("-")
    if not sep or not (first or last) or not (first.isdigit() or not first) or not (
        last.isdigit() or not last
    ):
        return None
    if not first:
        suffix = _position(last)
        return (max(size - suffix, 0), size - 1) if size and suffix else _unsatisfiable(
            header, size
        )
    start = _position(first)
    if last and _position(last) < start:
        return None  # last before first: an invalid range, ignored (RFC 9110 §14.1.1)
    if start >= size:
        _unsatisfiable(header, size)
    return start, min(_position(last) if last else size - 1, size - 1)


def _position(digits: str) -> int:
    """A Range position; one of more digits than any object's size has is not converted
    (``int()`` refuses over 4,300 digits): it is past the end of every object."""
    digits = digits.lstrip("0") or "0"
    return int(digits) if len(digits) <= _POSITION_DIGITS_MAX else 10**_POSITION_DIGITS_MAX


def _unsatisfiable(header: str, size: int) -> Any:
    raise InvalidRange(
        f"The requested range is not satisfiable: the object is {size} bytes long.",
        RangeRequested=header, ActualObjectSize=str(size),
    )


# -- operations -----------------------------------------------------------------------


class S3Responses:
    """One method per S3 operation: request in, response out."""

    def __init__(self, lab: Lab) -> None:
        self.s3 = S3.of(lab)

    def ListBuckets(self, request: S3Request) -> S3Response:
        root = ET.Element("ListAllMyBucketsResult")
        owner = element(root, "Owner")
        for name, value in OWNER.items():
            element(owner, name, value)
        buckets = element(root, "Buckets")
        for bucket in self.s3.list_buckets():
            node = element(buckets, "Bucket")
            element(node, "Name", bucket.name)
            element(node, "CreationDate", iso(bucket.created_at))
            element(node, "BucketRegion", bucket.region)
        return xml_response(root)

    def CreateBucket(self, request: S3Request) -> S3Response:
        if request.body.strip():
            parse_xml(request.body, "CreateBucketConfiguration")
        bucket = self.s3.create_bucket(request.target.bucket)
        return S3Response(200, headers={"Location": f"/{bucket.name}"})

    def HeadBucket(self, request: S3Request) -> S3Response:
        bucket = self.s3.head_bucket(request.target.bucket)
        return S3Response(200, headers={"x-amz-bucket-region": bucket.region})

    def GetBucketLocation(self, request: S3Request) -> S3Response:
        bucket = self.s3.head_bucket(request.target.bucket)
        root = ET.Element("LocationConstraint")
        # us-east-1 answers an empty LocationConstraint
        root.text = None if bucket.region == "us-east-1" else bucket.region
        return xml_response(root)

    def DeleteBucket(self, request: S3Request) -> S3Response:
        self.s3.delete_bucket(request.target.bucket)
        return S3Response(204)

    def PutObject(self, request: S3Request) -> S3Response:
        obj = self.s3.put_object(
            request.target.bucket, request.target.key, payload(request),
            content_type=request.headers.get("content-type", "binary/octet-stream"),
            metadata=user_metadata(request.headers),
        )
        return S3Response(200, headers={"ETag": obj.etag})

    def CopyObject(self, request: S3Request) -> S3Response:
        source = request.headers["x-amz-copy-source"].split("?versionId=")[0]
        source_bucket, source_key = split_path(source)
        obj = self.s3.copy_object(
            request.target.bucket, request.target.key, source_bucket, source_key,
            metadata_directive=request.headers.get("x-amz-metadata-directive", "COPY"),
            content_type=request.headers.get("content-type"),
            metadata=user_metadata(request.headers),
        )
        root = ET.Element("CopyObjectResult")
        element(root, "LastModified", iso(obj.last_modified))
        element(root, "ETag", obj.etag)
        return xml_response(root)

    def GetObject(self, request: S3Request) -> S3Response:
        obj = self.s3.get_object(request.target.bucket, request.target.key)
        headers = object_headers(obj)
        span = byte_range(request.headers.get("range"), obj.size)
        if span is None:
            return S3Response(200, obj.read(), headers)
        headers["Content-Range"] = f"bytes {span[0]}-{span[1]}/{obj.size}"
        return S3Response(206, obj.read(*span), headers)

    def HeadObject(self, request: S3Request) -> S3Response:
        obj = self.s3.head_object(request.target.bucket, request.target.key)
        headers = object_headers(obj)
        headers["Content-Length"] = str(obj.size)
        return S3Response(200, b"", headers)

    def DeleteObject(self, request: S3Request) -> S3Response:
        self.s3.delete_object(request.target.bucket, request.target.key)
        return S3Response(204)

    def DeleteObjects(self, request: S3Request) -> S3Response:
        document = parse_xml(payload(request), "Delete")
        keys = [text(o, "Key") for o in children(document, "Object")]
        quiet = text(document, "Quiet", "false").lower() == "true"
        result = self.s3.delete_objects(request.target.bucket, keys)
        root = ET.Element("DeleteResult")
        for key in [] if quiet else result.deleted:
            element(element(root, "Deleted"), "Key", key)
        for key, error in result.errors:
            node = element(root, "Error")
            for name, value in (("Key", key), ("Code", error.code), ("Message", error.message)):
                element(node, name, value)
        return xml_response(root)

    def ListObjectsV2(self, request: S3Request) -> S3Response:
        q = request.query
        max_keys = _int_param(q.get("max-keys"), "max-keys", quotas.S3_LIST_MAX_KEYS)
        page = self.s3.list_objects_v2(
            request.target.bucket, prefix=q.get("prefix", ""), delimiter=q.get("delimiter", ""),
            max_keys=max_keys, start_after=q.get("start-after", ""),
            continuation_token=q.get("continuation-token"),
        )
        root = ET.Element("ListBucketResult")
        element(root, "Name", request.target.bucket)
        element(root, "Prefix", q.get("prefix", ""))
        if "delimiter" in q:
            element(root, "Delimiter", q["delimiter"])
        element(root, "MaxKeys", max_keys)
        element(root, "KeyCount", len(page.objects) + len(page.common_prefixes))
        element(root, "IsTruncated", page.next_token is not None)
        for name in ("continuation-token", "start-after"):
            if name in q:
                element(root, "ContinuationToken" if name[0] == "c" else "StartAfter", q[name])
        if page.next_token is not None:
            element(root, "NextContinuationToken", encode_token(page.next_token))
        _list_entries(root, page)
        return xml_response(root)

    def ListObjects(self, request: S3Request) -> S3Response:
        q = request.query
        max_keys = _int_param(q.get("max-keys"), "max-keys", quotas.S3_LIST_MAX_KEYS)
        page = self.s3.list_objects_v2(
            request.target.bucket, prefix=q.get("prefix", ""), delimiter=q.get("delimiter", ""),
            max_keys=max_keys, start_after=q.get("marker", ""),
        )
        root = ET.Element("ListBucketResult")
        element(root, "Name", request.target.bucket)
        element(root, "Prefix", q.get("prefix", ""))
        element(root, "Marker", q.get("marker", ""))
        element(root, "MaxKeys", max_keys)
        element(root, "IsTruncated", page.next_token is not None)
        if page.next_token is not None:
            element(root, "NextMarker", page.next_token)
        _list_entries(root, page)
        return xml_response(root)

    def PutBucketNotificationConfiguration(self, request: S3Request) -> S3Response:
        document = parse_xml(request.body, "NotificationConfiguration")
        self.s3.put_bucket_notification_configuration(
            request.target.bucket, notification_from_xml(document)
        )
        return S3Response(200)

    def GetBucketNotificationConfiguration(self, request: S3Request) -> S3Response:
        configuration = self.s3.get_bucket_notification_configuration(request.target.bucket)
        return xml_response(notification_to_xml(configuration))

    def NotImplemented(self, request: S3Request) -> S3Response:
        raise NotImplemented(
            f"lambdalab's S3 does not emulate this request ({request.method} with "
            f"{sorted(request.query) or 'no sub-resource'}). It serves buckets, objects, "
            "listings, copies and Lambda notifications."
        )


def _int_param(value: str | None, name: str, default: int) -> int:
    if value is None:
        return default
    digits = value.removeprefix("-")
    significant = digits.lstrip("0") or "0"
    if not digits.isdigit() or len(significant) > _POSITION_DIGITS_MAX:
        raise invalid_argument(f"Provided {name} not an integer or within integer range", name, value)
    return -int(significant) if value.startswith("-") else int(significant)


def _list_entries(root: ET.Element, page: ObjectPage) -> None:
    for obj in page.objects:
        node = element(root, "Contents")
        element(node, "Key", obj.key)
        element(node, "LastModified", iso(obj.last_modified))
        element(node, "ETag", obj.etag)
        element(node, "Size", obj.size)
        element(node, "StorageClass", "STANDARD")
    for prefix in page.common_prefixes:
        element(element(root, "CommonPrefixes"), "Prefix", prefix)


# -- notification configuration XML ⇄ boto3's shape -----------------------------------


def notification_from_xml(document: ET.Element) -> dict[str, Any]:
    """``<CloudFunctionConfiguration>`` elements as boto3's LambdaFunctionConfigurations."""
    configuration: dict[str, Any] = {}
    for xml_name, key in (("TopicConfiguration", "TopicConfigurations"),
                          ("QueueConfiguration", "QueueConfigurations")):
        if children(document, xml_name):
            configuration[key] = [{}] * len(children(document, xml_name))
    configs = []
    for node in children(document, "CloudFunctionConfiguration"):
        config: dict[str, Any] = {
            "LambdaFunctionArn": text(node, "CloudFunction"),
            "Events": [e.text or "" for e in children(node, "Event")],
        }
        if text(node, "Id"):
            config["Id"] = text(node, "Id")
        rules = [
            {"Name": text(r, "Name"), "Value": text(r, "Value")}
            for f in children(node, "Filter")
            for k in children(f, "S3Key")
            for r in children(k, "FilterRule")
        ]
        if rules:
            config["Filter"] = {"Key": {"FilterRules": rules}}
        configs.append(config)
    if configs:
        configuration["LambdaFunctionConfigurations"] = configs
    return configuration


def notification_to_xml(configuration: dict[str, Any]) -> ET.Element:
    root = ET.Element("NotificationConfiguration")
    for config in configuration.get("LambdaFunctionConfigurations", []):
        node = element(root, "CloudFunctionConfiguration")
        element(node, "Id", config["Id"])
        element(node, "CloudFunction", config["LambdaFunctionArn"])
        for event in config["Events"]:
            element(node, "Event", event)
        rules = config.get("Filter", {}).get("Key", {}).get("FilterRules", [])
        if rules:
            key = element(element(node, "Filter"), "S3Key")
            for rule in rules:
                r = element(key, "FilterRule")
                element(r, "Name", rule["Name"])
                element(r, "Value", rule["Value"])
    return root


# -- the ASGI service -----------------------------------------------------------------


def request_id() -> str:
    return secrets.token_hex(8).upper()


def error_response(error: S3Error, method: str) -> S3Response:
    """Every S3Error on the wire: S3's XML error (no body for HEAD, as S3 does)."""
    body = b"" if method == "HEAD" else error.to_xml(request_id())
    return S3Response(error.status_code, body, {"Content-Type": "application/xml"})


def check_request(request: S3Request) -> None:
    """Check the request's URI labels and query string against the operation's input
    shape in botocore's ``s3`` model; a violation is S3's InvalidArgument naming the
    parameter (headers are S3's own business: it ignores the ones it cannot read)."""
    layout = rest_input("s3", request.target.operation)
    if layout is None:
        return
    labels = {"Bucket": request.target.bucket, "Key": request.target.key}
    params = rest_params(layout, labels, request.query, {}, None)
    violations = [v for v in validate("s3", request.target.operation, params) if v.kind != "null"]
    if violations:
        first = violations[0]
        member = next(m for m in layout.members if m.name == first.members[0])
        text = (  # S3's own words for a number that is not one
            f"Provided {member.wire_name} not an integer or within integer range"
            if first.kind == "type" and member.shape.type_name in ("integer", "long")
            else f"Invalid {member.wire_name}: {first.describe()}"
        )
        raise invalid_argument(text, member.wire_name, first.value)


def checked(handler: Callable[[S3Request], S3Response]) -> Callable[[S3Request], S3Response]:
    """``handler``, after :func:`check_request`."""

    def run(request: S3Request) -> S3Response:
        check_request(request)
        return handler(request)

    return run


def answer(handler: Callable[[S3Request], S3Response], request: S3Request) -> S3Response:
    """Run one operation; any error becomes S3's error response, never a traceback."""
    try:
        return handler(request)
    except S3Error as e:
        return error_response(e, request.method)
    except Exception as e:  # a bug in lambdalab: say so in S3's shape, log the details
        log.exception("S3 %s failed", request.target.operation)
        internal = S3Error(
            f"lambdalab failed internally ({type(e).__name__}: {e}). This is a bug; the "
            "server log has the traceback."
        )
        internal.status_code = 500
        response = error_response(internal, request.method)
        response.body = response.body.replace(b"<Code>S3Error<", b"<Code>InternalError<")
        return response


#: The largest request body S3 reads: a PutObject's object, plus room for the
#: ``aws-chunked`` framing around it.
BODY_MAX_BYTES = quotas.S3_PUT_OBJECT_MAX_BYTES + 1024 * 1024


async def read_all(receive: Any, headers: dict[str, str]) -> bytes:
    """The request body, read as the edge reads every service's (one reader for all)."""
    try:
        return await receive_body(receive, headers, BODY_MAX_BYTES)
    except RequestBodyTooLarge:
        raise EntityTooLarge(
            "Your proposed upload exceeds the maximum allowed size of one PutObject "
            f"({quotas.S3_PUT_OBJECT_MAX_BYTES} bytes).",
            MaxSizeAllowed=str(quotas.S3_PUT_OBJECT_MAX_BYTES),
        ) from None
    except IncompleteRequestBody:
        raise IncompleteBody(f"{INCOMPLETE_BODY}.") from None


class S3Service:
    """S3's REST API as an ASGI app over one Lab."""

    def __init__(self, lab: Lab) -> None:
        self.responses = S3Responses(lab)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        method = scope["method"]
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        query = dict(parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True))
        raw_path = scope.get("raw_path", scope["path"].encode()).decode("latin-1")
        target = route(method, raw_path.split("?")[0], query, headers)
        try:
            body = await read_all(receive, headers)
        except S3Error as e:
            response = error_response(e, method)
        else:
            request = S3Request(method, target, query, headers, body)
            handler = checked(getattr(self.responses, target.operation))
            response = await anyio.to_thread.run_sync(answer, handler, request)
        await _send(response, method, send)


async def _send(response: S3Response, method: str, send: Any) -> None:
    rid = request_id()
    headers = {"x-amz-request-id": rid, "x-amz-id-2": rid, **response.headers}
    if not (method == "HEAD" and "Content-Length" in headers):
        headers["Content-Length"] = str(len(response.body))
    await send({
        "type": "http.response.start",
        "status": response.status,
        "headers": [(k.lower().encode(), v.encode("latin-1")) for k, v in headers.items()],
    })
    await send({"type": "http.response.body", "body": response.body})
