"""CloudWatch Logs' errors, as its JSON protocol renders them.

CloudWatch Logs speaks AWS JSON 1.1: an error is HTTP 400 with ``{"__type": CODE,
"message": ...}``; the codes are the error shapes of botocore's
``logs/2014-03-28/service-2.json``. One class per code; the protocol layer renders every
one, so no operation writes an error body by hand.

::

    LogsError
    ├── InvalidParameterException        400  a parameter is malformed (a filter pattern…)
    ├── ResourceNotFoundException        400  no such log group, stream or filter
    ├── ResourceAlreadyExistsException   400  the log group or stream exists
    ├── LimitExceededException           400  a quota (subscription filters per group)
    └── ServiceUnavailableException      500  lambdalab failed (a bug: report it)
"""

from __future__ import annotations

from typing import Any

from lambdalab import LambdaError


class LogsError(LambdaError):
    """Base class: a CloudWatch Logs error code and a message saying what to change."""

    status_code = 400

    def to_wire(self) -> dict[str, Any]:
        return {"__type": self.code, "message": self.message}


class InvalidParameterException(LogsError):
    """A parameter is missing or malformed (a filter pattern, a token, a destination)."""


class ResourceNotFoundException(LogsError):
    """The log group, log stream or subscription filter named does not exist."""


class ResourceAlreadyExistsException(LogsError):
    """CreateLogGroup or CreateLogStream of one that exists."""


class LimitExceededException(LogsError):
    """The request would pass a quota: two subscription filters per log group."""


class ServiceUnavailableException(LogsError):
    """lambdalab failed internally. This is a bug; the message says what broke."""

    status_code = 500


__all__ = ["LogsError", "InvalidParameterException", "ResourceNotFoundException",
           "ResourceAlreadyExistsException", "LimitExceededException",
           "ServiceUnavailableException"]
