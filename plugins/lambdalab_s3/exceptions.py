"""S3's errors, one class per error code, written by the protocol layer as S3's XML error.

Codes, statuses and wording follow
https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html::

    S3Error
    ├── NoSuchBucket                  404  the bucket does not exist
    ├── NoSuchKey                     404  the object does not exist
    ├── BucketAlreadyOwnedByYou       409  you created this bucket already (in any
    │                                      region: bucket names are global)
    ├── PermanentRedirect             301  the bucket is another region's: sign for it
    │                                      (x-amz-bucket-region names it)
    ├── IllegalLocationConstraintException
    │                                 400  the LocationConstraint is not the region the
    │                                      request is signed for
    ├── InvalidLocationConstraint     400  the LocationConstraint names no region
    ├── BucketNotEmpty                409  delete the bucket's objects first
    ├── InvalidBucketName             400  the name breaks S3's bucket naming rules
    ├── InvalidArgument               400  a parameter is malformed (or a destination
    │                                      cannot be validated)
    ├── InvalidRange                  416  the Range starts past the object's end
    ├── IncompleteBody                400  the body ended before its Content-Length (or
    │                                      its aws-chunked framing) said it would
    ├── MalformedXML                  400  the XML body is not what the operation takes
    ├── KeyTooLongError               400  a key is over 1024 bytes
    ├── BadDigest                     400  the body's MD5 is not its Content-MD5
    ├── InvalidDigest                 400  the Content-MD5 is not a base64 MD5
    ├── PreconditionFailed            412  If-Match / If-Unmodified-Since did not hold
    ├── NotModified                   304  If-None-Match / If-Modified-Since: unchanged
    ├── EntityTooLarge                400  the object is over the single-PUT limit
    ├── MalformedPolicy               400  a bucket policy S3 cannot accept (the message
    │                                      says which part)
    ├── PolicyTooLarge                400  a bucket policy over 20 KB
    ├── NoSuchBucketPolicy            404  the bucket has no policy
    └── NotImplemented                501  an operation lambdalab does not emulate
"""

from __future__ import annotations

from typing import Any

from lambdalab.plugin import AwsError


class S3Error(AwsError):
    """Base class of S3's errors (every service's base is :class:`~lambdalab.plugin.AwsError`).

    ``fields`` are the error's own XML elements (``BucketName``, ``Key``, ``ArgumentName``…);
    the protocol layer's REST-XML serializer writes the ``<Error>`` body, once for all.
    """


class NoSuchBucket(S3Error):
    """The specified bucket does not exist."""

    status_code = 404


class NoSuchKey(S3Error):
    """The specified key does not exist."""

    status_code = 404


class BucketAlreadyOwnedByYou(S3Error):
    """The bucket you tried to create already exists, and you own it."""

    status_code = 409


class PermanentRedirect(S3Error):
    """The bucket you are attempting to access must be addressed using the specified
    endpoint: it is another region's."""

    status_code = 301


class IllegalLocationConstraintException(S3Error):
    """The location constraint is incompatible for the region specific endpoint this
    request was sent to."""


class InvalidLocationConstraint(S3Error):
    """The specified location constraint is not valid."""


class BucketNotEmpty(S3Error):
    """The bucket you tried to delete is not empty."""

    status_code = 409


class InvalidBucketName(S3Error):
    """The specified bucket is not valid."""


class InvalidArgument(S3Error):
    """An argument is invalid (or a notification destination cannot be validated)."""


class InvalidRange(S3Error):
    """The requested range cannot be satisfied."""

    status_code = 416


class IncompleteBody(S3Error):
    """You did not provide the number of bytes specified by the Content-Length HTTP header."""


class MalformedXML(S3Error):
    """The XML you provided was not well-formed or did not validate against the schema."""


class KeyTooLongError(S3Error):
    """Your key is too long."""


class EntityTooLarge(S3Error):
    """Your proposed upload exceeds the maximum allowed object size."""


class MalformedPolicy(S3Error):
    """The bucket policy is not valid JSON, or names what a bucket policy cannot."""


class PolicyTooLarge(S3Error):
    """The bucket policy exceeds the maximum allowed document size."""


class NoSuchBucketPolicy(S3Error):
    """The bucket policy does not exist."""

    status_code = 404


class BadDigest(S3Error):
    """The Content-MD5 you specified did not match what the server received."""


class InvalidDigest(S3Error):
    """The Content-MD5 you specified is not valid."""


class PreconditionFailed(S3Error):
    """At least one of the preconditions you specified did not hold."""

    status_code = 412


class NotModified(S3Error):
    """Not an error: the object has not changed since the condition's ETag or date
    (If-None-Match, If-Modified-Since). S3 answers 304 with no body."""

    status_code = 304


class NotImplemented(S3Error):  # noqa: A001 (S3's own code name)
    """A header or operation you provided implies functionality lambdalab does not emulate."""

    status_code = 501


def no_such_bucket(bucket: str) -> NoSuchBucket:
    return NoSuchBucket(
        f"The specified bucket does not exist. Create it first (CreateBucket {bucket!r}).",
        BucketName=bucket,
    )


#: The field of a :class:`PermanentRedirect` that S3 sends as the ``x-amz-bucket-region``
#: header, not in the XML body.
BUCKET_REGION_FIELD = "BucketRegion"


def permanent_redirect(bucket: str, region: str) -> PermanentRedirect:
    """S3's answer to a request signed for another region than the bucket's
    (https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html): 301, the
    bucket's region in ``x-amz-bucket-region`` (boto3 re-signs for it and retries)."""
    return PermanentRedirect(
        "The bucket you are attempting to access must be addressed using the specified "
        f"endpoint. Please send all future requests to this endpoint. (The bucket is in "
        f"{region}: sign for {region}; this edge serves every region.)",
        Bucket=bucket, Endpoint=f"{bucket}.s3.{region}.amazonaws.com",
        **{BUCKET_REGION_FIELD: region},
    )


def already_owned(bucket: str) -> BucketAlreadyOwnedByYou:
    return BucketAlreadyOwnedByYou(
        "Your previous request to create the named bucket succeeded and you already own it.",
        BucketName=bucket,
    )


def no_such_key(bucket: str, key: str) -> NoSuchKey:
    return NoSuchKey("The specified key does not exist.", Key=key, BucketName=bucket)


def invalid_argument(message: str, name: str, value: Any) -> InvalidArgument:
    return InvalidArgument(message, ArgumentName=name, ArgumentValue=str(value))


__all__ = [
    "BUCKET_REGION_FIELD",
    "BadDigest",
    "BucketAlreadyOwnedByYou",
    "BucketNotEmpty",
    "EntityTooLarge",
    "IllegalLocationConstraintException",
    "IncompleteBody",
    "InvalidArgument",
    "InvalidDigest",
    "InvalidLocationConstraint",
    "InvalidBucketName",
    "InvalidRange",
    "KeyTooLongError",
    "MalformedPolicy",
    "MalformedXML",
    "NoSuchBucket",
    "NoSuchBucketPolicy",
    "NoSuchKey",
    "NotImplemented",
    "NotModified",
    "PermanentRedirect",
    "PolicyTooLarge",
    "PreconditionFailed",
    "S3Error",
    "already_owned",
    "invalid_argument",
    "no_such_bucket",
    "no_such_key",
    "permanent_redirect",
]
