"""S3's operations on the protocol layer: plain data in, plain data out.

The layer (:class:`~lambdalab.plugin.ProtocolService` over botocore's ``s3/2006-03-01``
model, REST-XML) routes each request by method, path and sub-resource, reads the URI
labels, query string, headers and XML body into the operation's input, and writes the
output and every :class:`~lambdalab_s3.exceptions.S3Error` as S3 does. What is left here
is what S3's wire says beyond its model:

- an ``aws-chunked`` body (SigV4 streaming, trailing checksums) is decoded before it is
  read (:func:`decode_aws_chunked`), and a virtual-hosted-style request
  (``Host: BUCKET.localhost``) is read as the path-style one it stands for
  (:func:`path_style`);
- a malformed parameter in the URI or query string is S3's ``InvalidArgument`` naming
  it, and its headers are S3's own business (it ignores those it cannot read);
- what the operations check that the model cannot say: ``Range``
  (:func:`byte_range`), ``Content-MD5`` (:func:`check_md5`), the conditional headers
  of a read (:func:`check_conditions`);
- the root elements S3 names (``ListAllMyBucketsResult``), GetBucketLocation's bare
  ``<LocationConstraint>``, ``206`` for a Range, and ``x-amz-request-id`` /
  ``x-amz-id-2`` (:class:`S3Serializer`). A GetObject body over
  :data:`READ_WHOLE_MAX_BYTES` is the layer's streaming payload, sent as it is read.

Reference: https://docs.aws.amazon.com/AmazonS3/latest/API/API_Operations_Amazon_Simple_Storage_Service.html
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import re
import secrets
from dataclasses import replace
from datetime import datetime, timezone
from typing import Any
from urllib.parse import unquote

from botocore.model import OperationModel, Shape

from lambdalab import Lab
from lambdalab.plugin import (
    TRACE_HEADER,
    AwsError,
    HttpRequest,
    HttpResponse,
    ParsedRequest,
    ProtocolService,
    RequestBodyTooLarge,
    RestMember,
    RestXmlSerializer,
    ServiceError,
    StashKey,
    lab_of_region,
    rest_input,
    signed_region,
    validate,
    xml_element,
)

from . import quotas
from .backend import S3, encode_token
from .exceptions import (
    BUCKET_REGION_FIELD,
    BadDigest,
    EntityTooLarge,
    IncompleteBody,
    InvalidDigest,
    InvalidRange,
    MalformedXML,
    NotModified,
    PreconditionFailed,
    invalid_argument,
)
from .models import ObjectPage, S3Object

OWNER = {"ID": "75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a",
         "DisplayName": "lambdalab"}
#: Digits of the largest number a Range can hold (2**64 has 20).
_POSITION_DIGITS_MAX = 20

#: GetObject reads a body up to this size whole; a larger one is sent in pieces as it is
#: read (the layer's streaming payload), so it is never held whole in memory.
READ_WHOLE_MAX_BYTES = 1024 * 1024


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


def payload(request: HttpRequest) -> bytes:
    """The request's body, decoded when it is sent ``aws-chunked``."""
    streaming = (request.header("x-amz-content-sha256") or "").startswith("STREAMING-")
    if streaming or "aws-chunked" in (request.header("content-encoding") or ""):
        return decode_aws_chunked(request.body, request.header("x-amz-decoded-content-length"))
    return request.body


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


# -- conditions: Content-MD5, conditional reads, virtual-hosted addressing -------------


def check_md5(digest: str, body: bytes) -> None:
    """The body against its ``Content-MD5`` (base64 of the 16-byte MD5, RFC 1864)."""
    try:
        expected = base64.b64decode(digest, validate=True)
    except (binascii.Error, ValueError):
        expected = b""
    if len(expected) != 16:
        raise InvalidDigest("The Content-MD5 you specified is not valid: send the base64 of "
                            "the body's 16-byte MD5.", **{"Content-MD5": digest})
    if hashlib.md5(body).digest() != expected:
        raise BadDigest("The Content-MD5 you specified did not match what we received.",
                        ExpectedDigest=expected.hex(), CalculatedDigest=hashlib.md5(body).hexdigest())


def _etag_matches(header: str, etag: str) -> bool:
    return any(t.strip() in ("*", etag, etag.strip('"')) for t in header.split(","))


def _utc(value: Any) -> datetime | None:
    """A date header as read (a date without a zone is GMT, as HTTP's are); None when
    it could not be read."""
    if not isinstance(value, datetime):
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)


def check_conditions(request: dict[str, Any], obj: S3Object) -> None:
    """GetObject's and HeadObject's conditions, as S3 evaluates them
    (https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html, RFC 9110
    §13.2.2): If-Match before If-Unmodified-Since (412), If-None-Match before
    If-Modified-Since (304). A date S3 cannot read is ignored."""
    modified = datetime.fromtimestamp(int(obj.last_modified), timezone.utc)  # HTTP dates: seconds
    since, unmodified = _utc(request.get("IfModifiedSince")), _utc(request.get("IfUnmodifiedSince"))
    if request.get("IfMatch") is not None:
        if not _etag_matches(request["IfMatch"], obj.etag):
            raise PreconditionFailed("At least one of the pre-conditions you specified did "
                                     "not hold", Condition="If-Match")
    elif unmodified is not None and modified > unmodified:
        raise PreconditionFailed("At least one of the pre-conditions you specified did not "
                                 "hold", Condition="If-Unmodified-Since")
    if request.get("IfNoneMatch") is not None:
        if _etag_matches(request["IfNoneMatch"], obj.etag):
            raise NotModified("Not Modified")
    elif since is not None and modified <= since:
        raise NotModified("Not Modified")


#: ``<bucket>.s3.<anything>``, ``<bucket>.s3-<region>.<anything>`` or
#: ``<bucket>.localhost``: virtual-hosted-style addressing
#: (https://docs.aws.amazon.com/AmazonS3/latest/userguide/VirtualHosting.html).
#: The longest DNS name (RFC 1035 §2.3.4).
_HOST_MAX = 253
#: The bucket is the shortest name that leaves an S3 host: ``photos.s3.localhost`` is
#: bucket ``photos`` (not ``photos.s3`` on ``localhost``).
_VIRTUAL_HOST = re.compile(r"(?P<bucket>[a-z0-9][a-z0-9.-]+?[a-z0-9])\.(?:s3[.-].+|localhost)")


def path_style(request: HttpRequest) -> HttpRequest:
    """A virtual-hosted-style request as the path-style request it stands for."""
    host = request.header("host") or ""
    if not host.startswith("["):  # not an IPv6 literal: drop the port
        host = host.rsplit(":", 1)[0]
    if len(host) > _HOST_MAX:  # no DNS name is longer; and the pattern backtracks
        return request
    found = _VIRTUAL_HOST.fullmatch(host.lower())
    if found is None:
        return request
    return replace(request, path=f"/{found['bucket']}{request.path}")


# -- operations: the input as the model names it in, the output as it names it out ----


#: GetObject's and HeadObject's ``response-*`` query parameters and the header each sets
#: (https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html#API_GetObject_RequestSyntax):
#: how a presigned URL makes a browser save a download under a name.
RESPONSE_OVERRIDES = {
    "ResponseCacheControl": "CacheControl", "ResponseContentDisposition": "ContentDisposition",
    "ResponseContentEncoding": "ContentEncoding", "ResponseContentLanguage": "ContentLanguage",
    "ResponseContentType": "ContentType", "ResponseExpires": "Expires",
}


def _object_headers(obj: S3Object, request: dict[str, Any]) -> dict[str, Any]:
    headers = {"ETag": obj.etag, "LastModified": obj.last_modified,
               "ContentType": obj.content_type, "AcceptRanges": "bytes",
               "Metadata": dict(obj.metadata)}
    headers.update({header: request[name] for name, header in RESPONSE_OVERRIDES.items()
                    if request.get(name) is not None})
    return headers


def _entries(page: ObjectPage) -> dict[str, Any]:
    return {
        "Contents": [{"Key": o.key, "LastModified": o.last_modified, "ETag": o.etag,
                      "Size": o.size, "StorageClass": "STANDARD"} for o in page.objects],
        "CommonPrefixes": [{"Prefix": p} for p in page.common_prefixes],
    }


class S3Operations:
    """One method per S3 operation lambdalab serves (``put_object`` for PutObject), each
    taking the operation's input as boto3 names it and returning its output."""

    def __init__(self, lab: Lab) -> None:
        self.s3 = S3.of(lab)

    def list_buckets(self, request: dict[str, Any]) -> dict[str, Any]:
        buckets = [{"Name": b.name, "CreationDate": b.created_at, "BucketRegion": b.region}
                   for b in self.s3.list_buckets()]
        return {"Owner": OWNER, "Buckets": buckets}

    def create_bucket(self, request: dict[str, Any]) -> dict[str, Any]:
        configuration = request.get("CreateBucketConfiguration") or {}
        bucket = self.s3.create_bucket_at(request["Bucket"], configuration.get("LocationConstraint"))
        return {"Location": f"/{bucket.name}"}

    def head_bucket(self, request: dict[str, Any]) -> dict[str, Any]:
        return {"BucketRegion": self.s3.head_bucket(request["Bucket"]).region}

    def get_bucket_location(self, request: dict[str, Any]) -> dict[str, Any]:
        region = self.s3.bucket_region(request["Bucket"])
        return {"LocationConstraint": "" if region == quotas.S3_LEGACY_REGION else region}

    def delete_bucket(self, request: dict[str, Any]) -> None:
        self.s3.delete_bucket(request["Bucket"])

    def put_object(self, request: dict[str, Any]) -> dict[str, Any]:
        body = request.get("Body", b"")
        if request.get("ContentMD5") is not None:
            check_md5(request["ContentMD5"], body)
        obj = self.s3.put_object(
            request["Bucket"], request["Key"], body,
            content_type=request.get("ContentType", "binary/octet-stream"),
            metadata=request.get("Metadata"), trace_header=request.get(TRACE_HEADER),
        )
        return {"ETag": obj.etag}

    def copy_object(self, request: dict[str, Any]) -> dict[str, Any]:
        source = request["CopySource"].split("?versionId=")[0]
        source_bucket, _, source_key = source.lstrip("/").partition("/")
        obj = self.s3.copy_object(
            request["Bucket"], request["Key"], unquote(source_bucket), unquote(source_key),
            metadata_directive=request.get("MetadataDirective", "COPY"),
            content_type=request.get("ContentType"), metadata=request.get("Metadata"),
            trace_header=request.get(TRACE_HEADER),
        )
        return {"CopyObjectResult": {"LastModified": obj.last_modified, "ETag": obj.etag}}

    def get_object(self, request: dict[str, Any]) -> dict[str, Any]:
        obj = self.s3.get_object(request["Bucket"], request["Key"])
        check_conditions(request, obj)
        span = byte_range(request.get("Range"), obj.size)
        first, last = span or (0, obj.size - 1)
        length = max(last - first + 1, 0)
        # a small body is read here, in the request's worker thread; a large one streams
        body = obj.read(first, last) if length <= READ_WHOLE_MAX_BYTES else obj.open(first, last)
        output = {**_object_headers(obj, request), "Body": body, "ContentLength": length}
        if span is not None:
            output["ContentRange"] = f"bytes {first}-{last}/{obj.size}"
        return output

    def head_object(self, request: dict[str, Any]) -> dict[str, Any]:
        obj = self.s3.head_object(request["Bucket"], request["Key"])
        check_conditions(request, obj)
        return {**_object_headers(obj, request), "ContentLength": obj.size}

    def delete_object(self, request: dict[str, Any]) -> None:
        self.s3.delete_object(request["Bucket"], request["Key"], request.get(TRACE_HEADER))

    def delete_objects(self, request: dict[str, Any]) -> dict[str, Any]:
        document = request.get("Delete") or {}
        keys = [o.get("Key", "") for o in document.get("Objects") or []]
        result = self.s3.delete_objects(request["Bucket"], keys, request.get(TRACE_HEADER))
        return {
            "Deleted": [] if document.get("Quiet") is True else [{"Key": k} for k in result.deleted],
            "Errors": [{"Key": k, "Code": e.code, "Message": e.message} for k, e in result.errors],
        }

    def list_objects_v2(self, request: dict[str, Any]) -> dict[str, Any]:
        max_keys = request.get("MaxKeys", quotas.S3_LIST_MAX_KEYS)
        page = self.s3.list_objects_v2(
            request["Bucket"], prefix=request.get("Prefix", ""),
            delimiter=request.get("Delimiter", ""), max_keys=max_keys,
            start_after=request.get("StartAfter", ""),
            continuation_token=request.get("ContinuationToken"),
        )
        return {
            "Name": request["Bucket"], "Prefix": request.get("Prefix", ""),
            "Delimiter": request.get("Delimiter"), "MaxKeys": max_keys,
            "KeyCount": len(page.objects) + len(page.common_prefixes),
            "IsTruncated": page.next_token is not None,
            "ContinuationToken": request.get("ContinuationToken"),
            "StartAfter": request.get("StartAfter"),
            "NextContinuationToken": None if page.next_token is None else encode_token(page.next_token),
            **_entries(page),
        }

    def list_objects(self, request: dict[str, Any]) -> dict[str, Any]:
        max_keys = request.get("MaxKeys", quotas.S3_LIST_MAX_KEYS)
        page = self.s3.list_objects_v2(
            request["Bucket"], prefix=request.get("Prefix", ""),
            delimiter=request.get("Delimiter", ""), max_keys=max_keys,
            start_after=request.get("Marker", ""),
        )
        return {
            "Name": request["Bucket"], "Prefix": request.get("Prefix", ""),
            "Marker": request.get("Marker", ""), "MaxKeys": max_keys,
            "IsTruncated": page.next_token is not None, "NextMarker": page.next_token,
            **_entries(page),
        }

    def put_bucket_policy(self, request: dict[str, Any]) -> None:
        policy = request.get("Policy", "")
        self.s3.put_bucket_policy(request["Bucket"], policy.decode("utf-8", "replace")
                                  if isinstance(policy, bytes) else policy)

    def get_bucket_policy(self, request: dict[str, Any]) -> dict[str, Any]:
        return {"Policy": self.s3.get_bucket_policy(request["Bucket"])}

    def delete_bucket_policy(self, request: dict[str, Any]) -> None:
        self.s3.delete_bucket_policy(request["Bucket"])

    def get_bucket_policy_status(self, request: dict[str, Any]) -> dict[str, Any]:
        return {"PolicyStatus": {"IsPublic": self.s3.get_bucket_policy_status(request["Bucket"])}}

    def put_bucket_notification_configuration(self, request: dict[str, Any]) -> None:
        self.s3.put_bucket_notification_configuration(
            request["Bucket"], request.get("NotificationConfiguration") or {}
        )

    def get_bucket_notification_configuration(self, request: dict[str, Any]) -> dict[str, Any]:
        return self.s3.get_bucket_notification_configuration(request["Bucket"])


# -- what S3's wire says beyond its model ----------------------------------------------


class S3Serializer(RestXmlSerializer):
    """The layer's REST-XML writer, with the names and headers S3 sends that its model
    does not record (each operation's "Response Syntax" in the API reference)."""

    #: Root elements of outputs that are not a payload member.
    ROOTS = {"ListBuckets": "ListAllMyBucketsResult", "ListObjects": "ListBucketResult",
             "ListObjectsV2": "ListBucketResult", "DeleteObjects": "DeleteResult"}

    declaration = '<?xml version="1.0" encoding="UTF-8"?>\n'

    def request_id_headers(self, request_id: str) -> dict[str, str]:
        return {"x-amz-request-id": request_id, "x-amz-id-2": request_id}

    def root_name(self, operation: OperationModel, shape: Shape) -> str:
        return self.ROOTS.get(operation.name) or super().root_name(operation, shape)

    def error(self, error: ServiceError, request_id: str) -> HttpResponse:
        """Every error names its ``HostId`` (S3's ``x-amz-id-2``) beside its RequestId
        (https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html#RESTErrorResponses).
        A PermanentRedirect names the bucket's region in ``x-amz-bucket-region``, where
        boto3 reads it to re-sign for that region (HEAD answers have no body)."""
        region = error.fields.get(BUCKET_REGION_FIELD)
        fields = {**{k: v for k, v in error.fields.items() if k != BUCKET_REGION_FIELD}, "HostId": request_id}
        response = super().error(replace(error, fields=fields), request_id)
        if region is None:
            return response
        response.headers["x-amz-bucket-region"] = str(region)
        return response

    def output(self, operation: OperationModel, value: dict[str, Any], request_id: str) -> HttpResponse:
        if operation.name == "GetBucketLocation":
            return self._location(operation, value, request_id)
        response = super().output(operation, value, request_id)
        if operation.name == "GetObject" and value.get("ContentRange"):
            response.status = 206
        return response

    def _location(self, operation: OperationModel, value: dict[str, Any], request_id: str) -> HttpResponse:
        """``<LocationConstraint>region</LocationConstraint>``: the member is the root
        (botocore reads it so, ``parse_get_bucket_location``); us-east-1's is empty."""
        shape = operation.output_shape
        assert shape is not None
        member = shape.members["LocationConstraint"]
        body = xml_element("LocationConstraint", member, value.get("LocationConstraint", ""),
                           xmlns=self.namespace(shape))
        return HttpResponse(200, {**self.request_id_headers(request_id),
                                  "Content-Type": self.content_type},
                            (self.declaration + body).encode())


#: The largest request body S3 reads: a PutObject's object, plus room for the
#: ``aws-chunked`` framing around it.
BODY_MAX_BYTES = quotas.S3_PUT_OBJECT_MAX_BYTES + 1024 * 1024


class S3Service(ProtocolService):
    """S3's REST API as an ASGI app over one Lab: :class:`S3Operations` on the layer."""

    takes_trace_header = True  # the functions a write notifies continue its trace

    def __init__(self, lab: Lab) -> None:
        operations = S3Operations(lab)
        super().__init__("s3", operations, body_max=BODY_MAX_BYTES)
        self.lab, self.s3 = lab, operations.s3
        self.serializer = S3Serializer(self.model)

    @classmethod
    def of(cls, lab: Lab) -> "S3Service":
        """The S3 service of ``lab``, made on first use (kept in its stash)."""
        return lab.stash.setdefault(S3_SERVICE_KEY, lambda: cls(lab))

    def handle(self, request: HttpRequest, request_id: str, caller: Any = None) -> HttpResponse:
        """Answer here, or, for a request naming no region, in the bucket's region."""
        holder = self._holder(request)
        if holder is not None:
            return holder.handle(request, request_id, caller)
        return super().handle(request, request_id, caller)

    def _holder(self, request: HttpRequest) -> "S3Service | None":
        """The service of the region holding the request's bucket, when the request names
        no region (unsigned, or a SigV2 presigned URL, boto3's default) and the bucket is
        another region's: AWS finds a bucket's region by its host name, whatever signs."""
        if signed_region(request.header("authorization"), request.query) is not None:
            return None
        bucket = unquote(path_style(request).path.lstrip("/").split("/", 1)[0])
        region = self.s3.directory.region_of(bucket) if bucket else None
        if region is None or region == self.s3.region:
            return None
        holder = lab_of_region(self.lab, region)
        return None if holder is None else S3Service.of(holder)

    def new_request_id(self) -> str:
        return secrets.token_hex(8).upper()

    def body_error(self, error: Exception) -> ServiceError | AwsError:
        if isinstance(error, RequestBodyTooLarge):
            return EntityTooLarge(
                "Your proposed upload exceeds the maximum allowed size of one PutObject "
                f"({quotas.S3_PUT_OBJECT_MAX_BYTES} bytes).",
                MaxSizeAllowed=str(quotas.S3_PUT_OBJECT_MAX_BYTES),
            )
        return IncompleteBody(f"{INCOMPLETE_BODY}.")

    def _read(self, request: HttpRequest) -> ParsedRequest:
        try:
            body = payload(request)
            request = path_style(request if body is request.body else replace(request, body=body))
            return super()._read(request)
        except ServiceError as e:
            if e.code == self.errors.unknown_operation:  # S3's MethodNotAllowed is a 405
                e.status = 405
            raise

    def _check(self, parsed: ParsedRequest) -> None:
        """A URI label or query parameter that breaks the model is S3's InvalidArgument
        naming it; a body that cannot be read as the model says is MalformedXML. Headers
        are not checked: S3 ignores those it cannot read."""
        operation = parsed.operation.name
        located, body = _layout(operation)
        for name, member in located.items():
            if name in parsed.params:
                _check_width(member.wire_name, member.shape, parsed.params[name])
        for violation in validate("s3", operation, parsed.params):
            name = str(violation.members[0])
            if name in located and violation.kind != "null":
                raise _invalid_parameter(located[name].wire_name, located[name].shape, violation)
            if name in body and violation.kind == "type":
                raise MalformedXML(
                    "The XML you provided was not well-formed or did not validate against our "
                    f"published schema: {violation.describe()}."
                )


@functools.lru_cache(maxsize=None)
def _layout(operation: str) -> tuple[dict[str, RestMember], frozenset[str]]:
    """An operation's URI and query-string members by name, and its body members."""
    layout = rest_input("s3", operation)
    assert layout is not None
    located = {m.name: m for m in layout.members if m.location in ("uri", "querystring")}
    return located, frozenset(m.name for m in layout.members if not m.location)


#: The values an ``integer`` (32-bit) and a ``long`` (64-bit) member can hold
#: (https://smithy.io/2.0/spec/simple-types.html).
_WIDTHS = {"integer": 2**31, "long": 2**63}


def _check_width(wire_name: str, shape: Shape, value: Any) -> None:
    """A number in the query string too wide for its type, as S3 words it."""
    width = _WIDTHS.get(shape.type_name)
    if width is not None and isinstance(value, int) and not -width <= value < width:
        raise invalid_argument(f"Provided {wire_name} not an integer or within integer range",
                               wire_name, value)


def _invalid_parameter(wire_name: str, shape: Shape, violation: Any) -> AwsError:
    text = (  # S3's own words for a number that is not one
        f"Provided {wire_name} not an integer or within integer range"
        if violation.kind == "type" and shape.type_name in ("integer", "long")
        else f"Invalid {wire_name}: {violation.describe()}"
    )
    return invalid_argument(text, wire_name, violation.value)


#: Where a lab keeps its :class:`S3Service` (``lab.stash``).
S3_SERVICE_KEY = StashKey[S3Service]()


__all__ = ["S3_SERVICE_KEY", "S3Operations", "S3Serializer", "S3Service", "byte_range", "decode_aws_chunked"]
