"""lambdalab's S3 trigger: buckets and objects on the edge, notifications to Lambda.

Registered through the ``lambdalab`` entry point group (``s3 = "lambdalab_s3"``), like
any third-party plugin. It adds:

- the ``s3`` service to the HTTP edge (S3's REST API, path-style), so boto3 and the AWS
  CLI work with ``AWS_ENDPOINT_URL`` and nothing else;
- :class:`S3`, the same operations from Python: ``S3.of(lab).put_object("photos", …)``;
- ``lambdalab s3 mb|ls|cp|rm|notify`` on the command line;
- bucket policies (PutBucketPolicy…), the bucket's resource-based policy under enforced
  IAM (the ``lambdalab_resource_policy`` hook);
- function code from its buckets (CreateFunction / UpdateFunctionCode with ``S3Bucket``
  and ``S3Key``), through the ``lambdalab_code_object`` hook.

A write to a bucket whose notification configuration matches invokes the function
asynchronously with S3's event (https://docs.aws.amazon.com/lambda/latest/dg/with-s3.html).
"""

from __future__ import annotations

from typing import Any

from lambdalab import Lab, hookimpl
from lambdalab.plugin import FunctionTrigger, HttpService, InvalidParameterValueException

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
from .policy import lambdalab_resource_policy  # noqa: F401  (a hook implementation of this plugin)
from .responses import S3Service

__version__ = "0.1.0"

#: The host name an unsigned (anonymous) request reaches S3 by: ``s3.localhost/BUCKET/KEY``
#: or ``BUCKET.s3.localhost/KEY`` (both resolve to the loopback address), as AWS's
#: ``s3.amazonaws.com`` (https://docs.aws.amazon.com/AmazonS3/latest/userguide/VirtualHosting.html).
ANONYMOUS_HOST = "s3.localhost"


@hookimpl
def lambdalab_code_object(lab: Lab, bucket: str, key: str, version: str | None) -> bytes:
    """CreateFunction / UpdateFunctionCode with S3Bucket and S3Key read this lab's S3."""
    try:
        if version not in (None, "null"):  # an unversioned bucket's only version id
            raise InvalidArgument(
                "Invalid version id specified. (lambdalab's S3 keeps one version of each "
                "object: leave S3ObjectVersion out.)"
            )
        return S3.of(lab).get_object(bucket, key).read()
    except S3Error as e:
        raise InvalidParameterValueException(
            f"Error occurred while GetObject. S3 Error Code: {e.code}. S3 Error Message: "
            f"{e.message}"
        ) from None


@hookimpl
def lambdalab_function_triggers(lab: Lab, function_name: str) -> list[FunctionTrigger]:
    """The bucket notifications that invoke ``function_name`` (the console lists them)."""
    return S3.of(lab).function_triggers(function_name)


@hookimpl
def lambdalab_http_services(lab: Lab) -> list[HttpService]:
    """Serve S3 on the edge; signed requests find it by their scope's service, ``s3``,
    unsigned ones by the host name :data:`ANONYMOUS_HOST`."""
    return [HttpService("s3", S3Service.of(lab), host_names=(ANONYMOUS_HOST,))]



@hookimpl
def lambdalab_register_commands(cli: Any) -> None:
    """``lambdalab s3 …`` (imported when run: ``--help`` remembers its help line)."""
    from .cli import s3_group

    cli.add_command(s3_group)

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
