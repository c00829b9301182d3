"""Which handler answers a request: S3's REST routes, path-style only.

``/{Bucket}`` and ``/{Bucket}/{Key+}``; the sub-resource in the query string
(``?notification``, ``?delete``, ``?list-type=2``) and the ``x-amz-copy-source`` header
pick the operation, as in botocore's ``s3/2006-03-01/service-2.json``.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote


@dataclass(frozen=True)
class Target:
    """What a request addresses: the operation, the bucket and the key (maybe empty)."""

    operation: str
    bucket: str = ""
    key: str = ""


_BUCKET_ROUTES: dict[tuple[str, str], str] = {
    ("GET", "notification"): "GetBucketNotificationConfiguration",
    ("PUT", "notification"): "PutBucketNotificationConfiguration",
    ("GET", "location"): "GetBucketLocation",
    ("POST", "delete"): "DeleteObjects",
    ("GET", "list-type"): "ListObjectsV2",
    ("GET", ""): "ListObjects",
    ("PUT", ""): "CreateBucket",
    ("HEAD", ""): "HeadBucket",
    ("DELETE", ""): "DeleteBucket",
}
_OBJECT_ROUTES: dict[str, str] = {
    "GET": "GetObject",
    "HEAD": "HeadObject",
    "PUT": "PutObject",
    "DELETE": "DeleteObject",
}
_SUBRESOURCES = ("notification", "location", "delete", "list-type")


def split_path(raw_path: str) -> tuple[str, str]:
    """``/photos/2024/a%20b.jpg`` → ``("photos", "2024/a b.jpg")``."""
    bucket, _, key = raw_path.lstrip("/").partition("/")
    return unquote(bucket), unquote(key)


def route(method: str, raw_path: str, query: dict[str, str], headers: dict[str, str]) -> Target:
    """The operation for a request; ``NotImplemented`` when lambdalab has none for it."""
    bucket, key = split_path(raw_path)
    if not bucket:
        return Target("ListBuckets" if method == "GET" else "NotImplemented")
    if key:
        if method == "PUT" and "x-amz-copy-source" in headers:
            return Target("CopyObject", bucket, key)
        if any(s in query for s in ("tagging", "acl", "uploads", "uploadId", "retention")):
            return Target("NotImplemented", bucket, key)
        return Target(_OBJECT_ROUTES.get(method, "NotImplemented"), bucket, key)
    sub = next((s for s in _SUBRESOURCES if s in query), "")
    if not sub and set(query) - {"prefix", "delimiter", "marker", "max-keys", "encoding-type"}:
        return Target("NotImplemented", bucket)
    return Target(_BUCKET_ROUTES.get((method, sub), "NotImplemented"), bucket)
