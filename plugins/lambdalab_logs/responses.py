"""CloudWatch Logs' operations, served by lambdalab's protocol layer.

CloudWatch Logs speaks AWS JSON 1.1 (``X-Amz-Target: Logs_20140328.FilterLogEvents``,
botocore's ``logs/2014-03-28/service-2.json``).
:class:`~lambdalab.protocol.service.ProtocolService` reads and validates each request and
writes each answer and error; the methods here take the input as a dict and return the
output as a dict (https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/).
"""

from __future__ import annotations

from typing import Any, Mapping

from lambdalab.plugin import ErrorCodes, LambdaError, ProtocolService

from . import quotas
from .exceptions import InvalidParameterException
from .models import CloudWatchLogs, event_id

TARGET_PREFIX = "Logs_20140328."
#: What CloudWatch Logs answers for what the protocol layer refuses.
ERRORS = ErrorCodes(validation="InvalidParameterException",
                    internal="ServiceUnavailableException")
#: Where a GetLogEvents token points: ``f/`` after an event id, ``b/`` before one.
_TOKEN_DIGITS = 56


def _group(body: Mapping[str, Any]) -> str:
    """``logGroupName``, or the name in ``logGroupIdentifier`` (a name or an ARN)."""
    name, identifier = body.get("logGroupName"), body.get("logGroupIdentifier")
    if name and identifier:
        raise InvalidParameterException(
            "LogGroup name and LogGroup ARN are mutually exclusive parameters.")
    if identifier:
        return str(identifier).split(":log-group:", 1)[-1].removesuffix(":*")
    if not name:
        raise InvalidParameterException(
            "Either LogGroup name or LogGroup ARN must be provided.")
    return str(name)


def _index_token(body: Mapping[str, Any]) -> int:
    token = body.get("nextToken") or "0"
    if not str(token).isdigit():
        raise InvalidParameterException("The specified nextToken is invalid.")
    return int(token)


def _page(items: list[Any], body: Mapping[str, Any], key: str) -> dict[str, Any]:
    limit = body.get("limit") or quotas.DESCRIBE_LIMIT_MAX
    start = _index_token(body)
    out: dict[str, Any] = {key: items[start:start + limit]}
    if start + limit < len(items):
        out["nextToken"] = str(start + limit)
    return out


def _events_token(token: str) -> tuple[str, int]:
    direction, _, digits = token.partition("/")
    if direction not in ("f", "b") or not digits.isdigit() or len(digits) > _TOKEN_DIGITS:
        raise InvalidParameterException("The specified nextToken is invalid.")
    return direction, int(digits)


def _token(direction: str, row_id: int) -> str:
    return f"{direction}/{row_id:0{_TOKEN_DIGITS}d}"


def _sized(events: list[Any]) -> list[Any]:
    """The first of ``events`` that fit in one answer (1 MB of messages; one at least)."""
    size = 0
    for count, event in enumerate(events):
        size += len(event.message.encode("utf-8", "surrogatepass"))
        if count and size > quotas.EVENTS_RESPONSE_MAX_BYTES:
            return events[:count]
    return events


class LogsResponses:
    """Every CloudWatch Logs operation lambdalab serves, named in snake_case."""

    def __init__(self, logs: CloudWatchLogs) -> None:
        self.logs = logs
        self.lab = logs.lab

    # -- groups --------------------------------------------------------------------------

    def create_log_group(self, body: Mapping[str, Any]) -> dict[str, Any]:
        self.logs.create_log_group(body["logGroupName"])
        return {}

    def describe_log_groups(self, body: Mapping[str, Any]) -> dict[str, Any]:
        prefix = body.get("logGroupNamePrefix")
        pattern = body.get("logGroupNamePattern")
        if prefix and pattern:
            raise InvalidParameterException(
                "LogGroup name prefix and LogGroup name pattern are mutually exclusive "
                "parameters.")
        wanted = {_group({"logGroupIdentifier": i}) for i in body.get("logGroupIdentifiers") or ()}
        groups = [
            g for g in self.logs.log_groups()
            if (not prefix or g["logGroupName"].startswith(prefix))
            and (not pattern or pattern.lower() in g["logGroupName"].lower())
            and (not wanted or g["logGroupName"] in wanted)
        ]
        return _page(groups, body, "logGroups")

    def delete_log_group(self, body: Mapping[str, Any]) -> dict[str, Any]:
        self.logs.delete_log_group(body["logGroupName"])
        return {}

    def put_retention_policy(self, body: Mapping[str, Any]) -> dict[str, Any]:
        group = self.logs.check_group(body["logGroupName"])
        try:
            self.lab.put_retention_policy(group, body["retentionInDays"])
        except LambdaError as e:  # the Lab's InvalidParameterException: the same words
            raise InvalidParameterException(e.message) from None
        return {}

    def delete_retention_policy(self, body: Mapping[str, Any]) -> dict[str, Any]:
        self.lab.logs.delete_retention_policy(self.logs.check_group(body["logGroupName"]))
        return {}

    # -- streams -------------------------------------------------------------------------

    def create_log_stream(self, body: Mapping[str, Any]) -> dict[str, Any]:
        self.logs.create_log_stream(body["logGroupName"], body["logStreamName"])
        return {}

    def delete_log_stream(self, body: Mapping[str, Any]) -> dict[str, Any]:
        self.logs.delete_log_stream(body["logGroupName"], body["logStreamName"])
        return {}

    def describe_log_streams(self, body: Mapping[str, Any]) -> dict[str, Any]:
        prefix = body.get("logStreamNamePrefix")
        order = body.get("orderBy") or "LogStreamName"
        if prefix and order == "LastEventTime":
            raise InvalidParameterException(
                "Cannot order by LastEventTime with a logStreamNamePrefix.")
        streams = [s for s in self.logs.log_streams(_group(body))
                   if not prefix or s["logStreamName"].startswith(prefix)]
        if order == "LastEventTime":
            streams.sort(key=lambda s: s.get("lastEventTimestamp", 0))
        if body.get("descending"):
            streams.reverse()
        return _page(streams, body, "logStreams")

    def put_log_events(self, body: Mapping[str, Any]) -> dict[str, Any]:
        return self.logs.put_log_events(body["logGroupName"], body["logStreamName"],
                                        body["logEvents"])

    # -- reading events ------------------------------------------------------------------

    def get_log_events(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """One page of a stream: from its start (``startFromHead``) or its end; a
        ``f/`` token reads on after an event, a ``b/`` token back before one. At the end
        the token given comes back again, as AWS does."""
        group, stream = _group(body), body["logStreamName"]
        self.logs.check_stream(group, stream)
        limit = body.get("limit") or quotas.EVENTS_LIMIT_MAX
        window: dict[str, Any] = {"streams": [stream], "start_ms": body.get("startTime"),
                                  "end_ms": body.get("endTime")}
        token = body.get("nextToken")
        direction, at = _events_token(token) if token else (
            ("f", 0) if body.get("startFromHead") else ("b", 0))
        if direction == "f":
            events = _sized(self.lab.logs.query(group, after_id=at, limit=limit, **window))
        else:
            before = at if token else None
            newest = self.lab.logs.query(group, before_id=before, limit=limit,
                                         newest_first=True, **window)
            events = list(reversed(_sized(newest)))
        if not events:
            same = token or _token(direction, at)
            return {"events": [], "nextForwardToken": same if direction == "f" else _token("f", at),
                    "nextBackwardToken": same if direction == "b" else _token("b", at)}
        return {
            "events": [{"timestamp": e.timestamp, "message": e.message,
                        "ingestionTime": e.timestamp} for e in events],
            "nextForwardToken": _token("f", events[-1].id),
            "nextBackwardToken": _token("b", events[0].id),
        }

    def filter_log_events(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """Matching events of a group, oldest first; a search stops after
        ``FILTER_SCAN_MAX`` events read, maybe with no events and a ``nextToken``, as AWS's
        may."""
        group = self.logs.check_group(_group(body))
        names, prefix = body.get("logStreamNames"), body.get("logStreamNamePrefix")
        if names and prefix:
            raise InvalidParameterException(
                "Cannot specify both logStreamNames and logStreamNamePrefix.")
        if prefix:
            names = [s["logStreamName"] for s in self.logs.log_streams(group)
                     if s["logStreamName"].startswith(prefix)]
        matches = self.logs.matcher(body.get("filterPattern") or "")
        limit = body.get("limit") or quotas.EVENTS_LIMIT_MAX
        after, scanned, size = _index_token(body), 0, 0
        found: list[Any] = []
        while len(found) < limit and scanned < quotas.FILTER_SCAN_MAX:
            batch = self.lab.logs.query(group, streams=names, start_ms=body.get("startTime"),
                                        end_ms=body.get("endTime"), after_id=after,
                                        limit=quotas.EVENTS_LIMIT_MAX)
            for event in batch:
                scanned += 1
                after = event.id
                if matches(event.message):
                    size += len(event.message.encode("utf-8", "surrogatepass"))
                    found.append(event)
                    if len(found) == limit or size > quotas.EVENTS_RESPONSE_MAX_BYTES:
                        break
            if len(batch) < quotas.EVENTS_LIMIT_MAX or size > quotas.EVENTS_RESPONSE_MAX_BYTES:
                break
        out: dict[str, Any] = {
            "events": [{"logStreamName": e.log_stream, "timestamp": e.timestamp,
                        "message": e.message, "ingestionTime": e.timestamp,
                        "eventId": event_id(e.id)} for e in found],
            "searchedLogStreams": [],
        }
        if self.lab.logs.query(group, streams=names, start_ms=body.get("startTime"),
                               end_ms=body.get("endTime"), after_id=after, limit=1,
                               flush=False):
            out["nextToken"] = str(after)
        return out

    # -- subscription filters ------------------------------------------------------------

    def put_subscription_filter(self, body: Mapping[str, Any]) -> dict[str, Any]:
        self.logs.put_subscription_filter(
            body["logGroupName"], body["filterName"], body["filterPattern"],
            body["destinationArn"], body.get("distribution"), body.get("roleArn"))
        return {}

    def describe_subscription_filters(self, body: Mapping[str, Any]) -> dict[str, Any]:
        found = self.logs.subscription_filters(body["logGroupName"], body.get("filterNamePrefix"))
        return _page([f.to_aws() for f in found], body, "subscriptionFilters")

    def delete_subscription_filter(self, body: Mapping[str, Any]) -> dict[str, Any]:
        self.logs.delete_subscription_filter(body["logGroupName"], body["filterName"])
        return {}


class LogsService(ProtocolService):
    """The ASGI app the edge hands CloudWatch Logs requests to."""

    def __init__(self, logs: CloudWatchLogs) -> None:
        super().__init__("logs", LogsResponses(logs), errors=ERRORS)


__all__ = ["LogsService", "LogsResponses", "TARGET_PREFIX"]
