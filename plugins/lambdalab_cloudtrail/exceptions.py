"""CloudTrail's errors, as its JSON protocol renders them.

CloudTrail speaks AWS JSON 1.1: an error is HTTP 400 with ``{"__type": CODE,
"message": ...}``; the codes are the error shapes of botocore's
``cloudtrail/2013-11-01/service-2.json`` for ``LookupEvents``. One class per code; the
protocol layer renders every one.

::

    CloudTrailError
    ├── InvalidLookupAttributesException   an attribute key or value that cannot be looked up
    ├── InvalidTimeRangeException          StartTime after EndTime
    ├── InvalidMaxResultsException         MaxResults outside 1-50
    └── InvalidNextTokenException          a NextToken LookupEvents did not give
"""

from __future__ import annotations

from lambdalab import LambdaError


class CloudTrailError(LambdaError):
    """Base class: a CloudTrail error code and a message saying what to change."""

    status_code = 400


class InvalidLookupAttributesException(CloudTrailError):
    """More than one lookup attribute, or a value the key cannot take."""


class InvalidTimeRangeException(CloudTrailError):
    """``StartTime`` is after ``EndTime``."""


class InvalidMaxResultsException(CloudTrailError):
    """``MaxResults`` is not between 1 and 50."""


class InvalidNextTokenException(CloudTrailError):
    """The ``NextToken`` was not given by LookupEvents."""


__all__ = ["CloudTrailError", "InvalidLookupAttributesException", "InvalidTimeRangeException",
           "InvalidMaxResultsException", "InvalidNextTokenException"]
