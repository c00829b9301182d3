"""CloudWatch's errors, one class per error shape of botocore's ``cloudwatch`` model.

CloudWatch is ``awsQueryCompatible``: in JSON an error is ``{"__type": SHAPE, "message":
...}`` with ``x-amzn-query-error: CODE;Sender``, in query ``<Error><Code>CODE``; the
protocol layer writes both from the shape. The classes are named after the query codes
SDKs show (``InvalidParameterValue``)::

    CloudWatchError
    ├── InvalidParameterValue         400  a parameter is malformed or out of range
    ├── MissingParameter              400  a parameter the operation needs is absent
    ├── InvalidParameterCombination   400  two parameters that do not go together
    ├── InvalidNextToken              400  a NextToken this lab did not give
    ├── ResourceNotFound              404  no such alarm (SetAlarmState)
    └── LimitExceeded                 400  a quota is reached
"""

from __future__ import annotations

from lambdalab.plugin import ServiceError


class CloudWatchError(ServiceError):
    """Base class: the query code (the class's name) and a message saying what to change."""

    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(type(self).__name__, message, self.status)


class InvalidParameterValue(CloudWatchError):
    """A parameter's value is not valid (a namespace starting ``AWS/``, a bad period)."""


class MissingParameter(CloudWatchError):
    """A parameter the request needs is missing (``Statistics`` or ``ExtendedStatistics``)."""


class InvalidParameterCombination(CloudWatchError):
    """Parameters that exclude each other were both given (``Value`` and ``Values``)."""


class InvalidNextToken(CloudWatchError):
    """The ``NextToken`` was not one this lab handed out."""


class ResourceNotFound(CloudWatchError):
    """The alarm named does not exist."""

    status = 404


class LimitExceeded(CloudWatchError):
    """A CloudWatch quota would be passed."""


__all__ = ["CloudWatchError", "InvalidParameterValue", "MissingParameter",
           "InvalidParameterCombination", "InvalidNextToken", "ResourceNotFound",
           "LimitExceeded"]
