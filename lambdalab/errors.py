"""The errors lambdalab raises, one class per AWS error code.

:class:`AwsError` is the base of every service's errors: an error code (the class's
name), an HTTP status, a message saying what to change and the error's own fields. It
knows no wire format: each service's protocol writes it
(``ResponseSerializer.error`` of :mod:`lambdalab.protocol.serializers`: JSON for EventBridge
and SQS, S3's XML ``<Error>``, Lambda's body from :meth:`LambdaError.to_wire`), so a
plugin's errors subclass it and never write a body. Lambda's own are below.

Each class is named exactly as the Lambda API names the error (botocore's
``lambda/2015-03-31/service-2.json``), so ``except ResourceNotFoundException`` means the
same thing against lambdalab as against AWS. The class fixes the HTTP status; the HTTP
edge renders every one of them the same way, from :meth:`LambdaError.to_wire`.

::

    AwsError                             any service: code, status, message, fields
    └── LambdaError                      Lambda's (and the edge's) errors
    ├── ResourceNotFoundException        404  no such function, version or alias
    ├── ResourceConflictException        409  it exists already / it is in use
    ├── InvalidParameterValueException   400  a parameter is out of range or malformed
    ├── InvalidRequestContentException   400  the payload is not valid JSON
    ├── ValidationException              400  the request breaks its input shape's constraints
    ├── RequestTooLargeException         413  the payload is over the limit
    ├── PreconditionFailedException      412  RevisionId does not match
    ├── TooManyRequestsException         429  throttled by concurrency
    ├── PolicyLengthExceededException    400  the resource policy is too large
    ├── UnsupportedMediaTypeException    415  the body's content type is not accepted
    ├── RequestEntityTooLargeException   413  a control-plane request body is too large
    ├── UnknownOperationException        404  no such operation (HTTP edge)
    ├── MissingAuthenticationTokenException 403  unsigned request, keys are checked
    ├── IncompleteSignatureException     403  malformed SigV4 Authorization header
    ├── UnrecognizedClientException      403  unknown access key id
    ├── InvalidSignatureException        403  signature does not match
    └── ServiceException                 500  lambdalab itself failed (a bug: report it)
"""

from __future__ import annotations

from typing import Any


class AwsError(Exception):
    """Base class of every service's errors: an AWS error code, an HTTP status and a
    message saying what to change.

    The code is the class's name, as the service's model names the error shape
    (``NoSuchBucket``, ``QueueDoesNotExist``); ``fields`` are the error's own members
    beyond the message (S3's ``BucketName``, Lambda's ``Reason``), written as the
    service's protocol writes members. A 5xx status is the service's fault
    (``Receiver`` in the query protocol), any other the caller's (``Sender``).
    """

    status_code: int = 400
    fields: dict[str, Any]

    def __init__(self, message: str, **fields: Any) -> None:
        super().__init__(message)
        self.message = message
        self.fields = fields

    @property
    def code(self) -> str:
        return type(self).__name__

    @property
    def sender_fault(self) -> bool:
        return self.status_code < 500


class LambdaError(AwsError):
    """Base class of Lambda's errors (and the edge's, which Lambda's shape carries)."""

    #: The body's name for the message: each error shape of botocore's Lambda model
    #: names it ``message`` or ``Message`` (ResourceNotFoundException, ServiceException),
    #: and boto3 shows it under that name (``e.response["Message"]``).
    message_member: str = "message"

    @property
    def extra(self) -> dict[str, Any]:
        """Extra fields of the wire shape (e.g. ``Reason`` for throttling)."""
        return self.fields

    def to_wire(self) -> dict[str, Any]:
        """The JSON body AWS sends: ``Type``, the message and the error's own fields."""
        return {"Type": "User", self.message_member: self.message, **self.extra}


class ResourceNotFoundException(LambdaError):
    """The function, version or alias does not exist."""

    status_code = 404
    message_member = "Message"


class ResourceConflictException(LambdaError):
    """The resource already exists, or another operation is in progress on it."""

    status_code = 409


class InvalidParameterValueException(LambdaError):
    """A parameter is missing, malformed or outside AWS's allowed range."""


class InvalidRequestContentException(LambdaError):
    """The request body (for Invoke: the payload) could not be parsed as JSON."""


class ValidationException(LambdaError):
    """The request breaks a constraint of its operation's input shape (a required member
    is missing, a value is too long, outside its range, off its pattern or enum).

    Not in Lambda's model, but what Lambda answers for these; the message lists every
    violation: ``1 validation error detected: Value 'foo' at 'architectures' failed to
    satisfy constraint: …`` (see :mod:`lambdalab.protocol.validate`).
    """


class RequestTooLargeException(LambdaError):
    """The request payload exceeded the Invoke request body JSON input quota."""

    status_code = 413


class PreconditionFailedException(LambdaError):
    """The RevisionId given does not match the resource's current revision."""

    status_code = 412


class TooManyRequestsException(LambdaError):
    """The invoke was throttled: no concurrency left for this function."""

    status_code = 429


class ServiceException(LambdaError):
    """lambdalab failed internally. This is a bug; the message says what broke."""

    status_code = 500
    message_member = "Message"

    def to_wire(self) -> dict[str, Any]:
        return {"Type": "Service", self.message_member: self.message, **self.extra}


class PolicyLengthExceededException(LambdaError):
    """The function's resource-based policy would grow past its size limit."""


class UnsupportedMediaTypeException(LambdaError):
    """The content type of the request body is not one the operation accepts."""

    status_code = 415


# -- Errors of the HTTP edge, shared by every AWS service (not in Lambda's model) -------


class RequestEntityTooLargeException(LambdaError):
    """A control-plane request body (e.g. CreateFunction's zip) is over AWS's limit."""

    status_code = 413


class UnknownOperationException(LambdaError):
    """No operation of the addressed service matches the request's method and path."""

    status_code = 404


class MissingAuthenticationTokenException(LambdaError):
    """The request is not signed, and the edge was started with keys to check."""

    status_code = 403


class IncompleteSignatureException(LambdaError):
    """The Authorization header is not a complete AWS Signature Version 4."""

    status_code = 403


class UnrecognizedClientException(LambdaError):
    """The access key id of the signature is not one the edge was told about."""

    status_code = 403


class InvalidSignatureException(LambdaError):
    """The signature does not match the one computed with the key's secret."""

    status_code = 403


def invalid(field: str, value: Any, allowed: str) -> InvalidParameterValueException:
    """An InvalidParameterValueException that names the field, the value and what is allowed."""
    return InvalidParameterValueException(
        f"{field}: {value!r} is not valid. {allowed}"
    )


__all__ = [
    "AwsError",
    "LambdaError",
    "ResourceNotFoundException",
    "ResourceConflictException",
    "InvalidParameterValueException",
    "InvalidRequestContentException",
    "ValidationException",
    "RequestTooLargeException",
    "PreconditionFailedException",
    "TooManyRequestsException",
    "ServiceException",
    "PolicyLengthExceededException",
    "UnsupportedMediaTypeException",
    "RequestEntityTooLargeException",
    "UnknownOperationException",
    "MissingAuthenticationTokenException",
    "IncompleteSignatureException",
    "UnrecognizedClientException",
    "InvalidSignatureException",
    "invalid",
]
