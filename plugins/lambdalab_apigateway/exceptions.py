"""API Gateway's errors, as its REST-JSON protocol renders them.

Both APIs (``apigateway`` and ``apigatewayv2``) answer an error with its code in the
``x-amzn-ErrorType`` header and ``{"message": ...}`` in the body
(https://docs.aws.amazon.com/apigateway/latest/api/CommonErrors.html). The codes are the
error shapes of botocore's ``apigateway/2015-07-09`` and ``apigatewayv2/2018-11-29``
models; the protocol layer renders each, so no handler writes an error body by hand.

::

    ApiGatewayError
    ├── BadRequestException     400  a parameter is missing or malformed
    ├── NotFoundException       404  no such API, resource, method or stage
    └── ConflictException       409  a resource, route or stage of that name exists
"""

from __future__ import annotations

from lambdalab.plugin import AwsError


class ApiGatewayError(AwsError):
    """Base class: an API Gateway error code and a message saying what to change."""


class BadRequestException(ApiGatewayError):
    """A parameter is missing or malformed (a path part, a route key, an integration URI)."""

    status_code = 400


class NotFoundException(ApiGatewayError):
    """No API, resource, method, integration or stage has the id or name given."""

    status_code = 404


class ConflictException(ApiGatewayError):
    """The resource, route or stage already exists."""

    status_code = 409
