"""lambdalab's S3 trigger: buckets and objects on the edge, notifications to Lambda.

Registered through the ``lambdalab`` entry point group (``s3 = "lambdalab_s3"``), like
any third-party plugin. It adds:

- the ``s3`` service to the HTTP edge (S3's REST API, path-style), so boto3 and the AWS
  CLI work with ``AWS_ENDPOINT_URL`` and nothing else;
- :class:`S3`, the same operations from Python: ``S3.of(lab).put_object("photos", …)``;
- ``lambdalab s3 mb|ls|cp|rm|notify`` on the command line.

A write to a bucket whose notification configuration matches invokes the function
asynchronously with S3's event (https://docs.aws.amazon.com/lambda/latest/dg/with-s3.html).
"""

from __future__ import annotations

from lambdalab import Lab, hookimpl, limits
from lambdalab.errors import InvalidParameterValueException
from lambdalab.server.app import HttpService

from .backend import S3, DeleteResult
from .exceptions import (
    BucketAlreadyOwnedByYou,
    BucketNotEmpty,
    InvalidArgument,
    InvalidBucketName,
    InvalidRange,
    MalformedXML,
    NoSuchBucket,
    NoSuchKey,
    S3Error,
)
from .models import Bucket, ObjectPage, S3Object
from .notifications import LambdaNotification
from .responses import S3Service

__version__ = "0.1.0"


@hookimpl
def lambdalab_http_services(lab: Lab) -> list[HttpService]:
    """Serve S3 on the edge; signed requests find it by their scope's service, ``s3``."""
    return [HttpService("s3", S3Service(lab))]


@hookimpl
def lambdalab_read_object(lab: Lab, bucket: str, key: str) -> bytes:
    """An object's body, for Lambda's ``S3Bucket``/``S3Key`` (layers' ``Content``)."""
    try:
        obj = S3.of(lab).get_object(bucket, key)
    except S3Error as e:  # AWS's words for it (CreateFunction/PublishLayerVersion)
        raise InvalidParameterValueException(
            f"Error occurred while GetObject. S3 Error Code: {e.code}. S3 Error Message: "
            f"{e.message}"
        ) from None
    if obj.size > limits.ZIPPED_PACKAGE_MAX_BYTES:
        raise InvalidParameterValueException(
            f"S3Key: {key} is {obj.size} bytes; lambdalab reads deployment packages of at "
            f"most {limits.ZIPPED_PACKAGE_MAX_BYTES} bytes (50 MB) zipped, from S3 too."
        )
    return obj.read()


__all__ = [
    # backend
    "DeleteResult",
    "S3",
    # exceptions
    "BucketAlreadyOwnedByYou",
    "BucketNotEmpty",
    "InvalidArgument",
    "InvalidBucketName",
    "InvalidRange",
    "MalformedXML",
    "NoSuchBucket",
    "NoSuchKey",
    "S3Error",
    # models
    "Bucket",
    "ObjectPage",
    "S3Object",
    # notifications
    "LambdaNotification",
]
