"""CloudTrail's ``LookupEvents`` over the trail, in AWS's words
(https://docs.aws.amazon.com/awscloudtrail/latest/APIReference/API_LookupEvents.html).

:class:`~lambdalab.plugin.ProtocolService` reads and validates each request against
botocore's ``cloudtrail/2013-11-01/service-2.json`` (AWS JSON 1.1) and writes each answer
and error; this module only turns the input into a :class:`~lambdalab_cloudtrail.models.Lookup`
and the events found into ``Events``.
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Any, Mapping

from lambdalab.plugin import ParsedRequest, ProtocolService

from .exceptions import (
    InvalidLookupAttributesException,
    InvalidMaxResultsException,
    InvalidNextTokenException,
    InvalidTimeRangeException,
)
from .models import ATTRIBUTE_COLUMNS, Found, Lookup, Trail
from .quotas import LOOKUP_ATTRIBUTES_MAX, LOOKUP_MAX_RESULTS

TARGET_PREFIX = "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101."


class CloudTrailResponses:
    """CloudTrail's operations, each input in (the model's member names) and output out."""

    def __init__(self, trail: Trail) -> None:
        self.trail = trail

    def lookup_events(self, LookupAttributes: list[Mapping[str, str]] | None = None,
                      StartTime: Any = None, EndTime: Any = None,
                      EventCategory: str | None = None, MaxResults: int | None = None,
                      NextToken: str | None = None) -> dict[str, Any]:
        start, end = epoch_of(StartTime, "StartTime"), epoch_of(EndTime, "EndTime")
        if start is not None and end is not None and start > end:
            raise InvalidTimeRangeException(
                "StartTime is after EndTime. Give a StartTime before the EndTime.")
        if EventCategory == "insight":
            return {"Events": []}  # lambdalab has no CloudTrail Insights
        limit = MaxResults or LOOKUP_MAX_RESULTS
        lookup = Lookup(attribute_of(LookupAttributes or []), start, end,
                        position_of(NextToken) if NextToken else None)
        found = self.trail.lookup(lookup, limit + 1)
        output: dict[str, Any] = {"Events": [event_of(f) for f in found[:limit]]}
        if len(found) > limit:
            output["NextToken"] = token_of(found[limit - 1])
        return output


def epoch_of(value: Any, member: str) -> float | None:
    """A time of the input as epoch seconds. The layer leaves a number too far out for a
    date (year 0) as the number, which is still a time in epoch seconds."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    raise InvalidTimeRangeException(f"{member} {value!r} is not a time. Give epoch seconds or ISO 8601.")


def attribute_of(attributes: list[Mapping[str, str]]) -> tuple[str, str] | None:
    """The one lookup attribute, as ``(key, value)``."""
    if len(attributes) > LOOKUP_ATTRIBUTES_MAX:
        raise InvalidLookupAttributesException(
            f"LookupAttributes has {len(attributes)} items; LookupEvents takes at most "
            f"{LOOKUP_ATTRIBUTES_MAX}. Look up one attribute at a time.")
    if not attributes:
        return None
    key, value = attributes[0]["AttributeKey"], attributes[0]["AttributeValue"]
    if key not in ATTRIBUTE_COLUMNS:  # the layer checks the enum; a hand-made call may not
        raise InvalidLookupAttributesException(f"{key!r} is not a lookup attribute key.")
    if key == "ReadOnly" and value not in ("true", "false"):
        raise InvalidLookupAttributesException(
            f"ReadOnly is 'true' or 'false', not {value!r}.")
    return key, value


def event_of(found: Found) -> dict[str, Any]:
    event = found.event
    out: dict[str, Any] = {
        "EventId": event.event_id,
        "EventName": event.event_name,
        "ReadOnly": "true" if event.read_only else "false",
        "EventTime": event.at,
        "EventSource": event.event_source,
        "Resources": ([{"ResourceType": event.resource_type, "ResourceName": event.resource_name}]
                      if event.resource_name else []),
        "CloudTrailEvent": event.event,
    }
    if event.access_key_id:
        out["AccessKeyId"] = event.access_key_id
    if event.username:
        out["Username"] = event.username
    return out


def token_of(found: Found) -> str:
    at, rowid = found.position
    return base64.urlsafe_b64encode(f"{at!r}/{rowid}".encode()).decode()


def position_of(token: str) -> tuple[float, int]:
    """Where the page of ``token`` ended; InvalidNextTokenException for any other text."""
    try:
        at, _, rowid = base64.urlsafe_b64decode(token.encode()).decode().partition("/")
        return float(at), int(rowid)
    except (ValueError, binascii.Error, UnicodeError):
        raise InvalidNextTokenException(
            "The NextToken is not one LookupEvents gave. Pass the NextToken of the previous "
            "answer unchanged, or leave it out to start again.") from None


class CloudTrailService(ProtocolService):
    """The ASGI app the edge hands CloudTrail requests to."""

    def __init__(self, trail: Trail) -> None:
        super().__init__("cloudtrail", CloudTrailResponses(trail))

    def _check(self, parsed: ParsedRequest) -> None:
        """CloudTrail names a ``MaxResults`` out of range with an error of its own."""
        limit = parsed.params.get("MaxResults")
        if type(limit) is int and not 1 <= limit <= LOOKUP_MAX_RESULTS:
            raise InvalidMaxResultsException(
                f"MaxResults is {limit}; give a number from 1 to {LOOKUP_MAX_RESULTS}.")
        super()._check(parsed)


__all__ = ["CloudTrailResponses", "CloudTrailService", "TARGET_PREFIX"]
