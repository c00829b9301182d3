"""CloudWatch Logs over what a Lab keeps: log groups, streams, events, subscription filters.

The events themselves live in the Lab's log store (``lab.logs``), where functions'
output lands; this module keeps what CloudWatch Logs adds around them: groups and streams
created by the API (with their creation time), and subscription filters with how far
each has delivered. Pure state: it never touches HTTP.

A subscription filter with a Lambda destination invokes the function asynchronously
with the ``awslogs`` event, as AWS does
(https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/SubscriptionFilters.html#LambdaFunctionExample):
``{"awslogs": {"data": base64(gzip(json))}}``. The log store calls :meth:`CloudWatchLogs.wake`
after each write; a delivery thread then reads the new events of each subscribed group.
"""

from __future__ import annotations

import base64
import fnmatch
import functools
import gzip
import json
import logging
import threading
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator, Mapping

from lambdalab import Lab, LambdaError
from lambdalab.plugin import PatternError, compile_pattern, limits, parse_function_ref

from . import quotas
from .exceptions import (
    InvalidParameterException,
    LimitExceededException,
    ResourceAlreadyExistsException,
    ResourceNotFoundException,
)

log = logging.getLogger("lambdalab.logs_api")

MIGRATIONS: dict[str, str] = {
    "logs-api-1": """
    CREATE TABLE logs_api_groups (
        name TEXT PRIMARY KEY,
        created_ms INTEGER NOT NULL
    );
    CREATE TABLE logs_api_streams (
        log_group TEXT NOT NULL,
        name TEXT NOT NULL,
        created_ms INTEGER NOT NULL,
        PRIMARY KEY (log_group, name)
    );
    CREATE TABLE logs_api_subscriptions (
        log_group TEXT NOT NULL,
        name TEXT NOT NULL,
        config TEXT NOT NULL,
        delivered_id INTEGER NOT NULL,
        PRIMARY KEY (log_group, name)
    );
    """,
}

#: The service principal a function's resource policy must allow (AddPermission).
LOGS_PRINCIPAL = "logs.amazonaws.com"
_INVOKE_ACTIONS = ("lambda:InvokeFunction", "lambda:*", "*")


@dataclass(frozen=True)
class SubscriptionFilter:
    """One subscription filter, in CloudWatch Logs' field names when rendered."""

    log_group: str
    name: str
    filter_pattern: str
    destination_arn: str
    distribution: str
    created_ms: int
    role_arn: str | None = None

    def to_aws(self) -> dict[str, Any]:
        out = {
            "filterName": self.name,
            "logGroupName": self.log_group,
            "filterPattern": self.filter_pattern,
            "destinationArn": self.destination_arn,
            "distribution": self.distribution,
            "creationTime": self.created_ms,
        }
        if self.role_arn:
            out["roleArn"] = self.role_arn
        return out


def awslogs_event(owner: str, group: str, stream: str, filters: list[str],
                  events: Iterable[Any]) -> dict[str, Any]:
    """The event a Lambda destination receives: the DATA_MESSAGE, gzipped, in base64."""
    message = {
        "messageType": "DATA_MESSAGE",
        "owner": owner,
        "logGroup": group,
        "logStream": stream,
        "subscriptionFilters": filters,
        "logEvents": [
            {"id": event_id(e.id), "timestamp": e.timestamp, "message": e.message}
            for e in events
        ],
    }
    data = gzip.compress(json.dumps(message).encode())
    return {"awslogs": {"data": base64.b64encode(data).decode()}}


def event_id(row_id: int) -> str:
    """An event's id as CloudWatch Logs writes one: a string of 56 digits."""
    return f"{row_id:056d}"


class CloudWatchLogs:
    """The log groups, streams and subscription filters of one Lab."""

    def __init__(self, lab: Lab) -> None:
        self.lab = lab
        self._delivering = threading.Lock()
        self._wake = threading.Event()
        self._closed = False
        self._thread: threading.Thread | None = None

    # -- delivery thread ----------------------------------------------------------------

    def start(self) -> None:
        self.lab.logs.on_flush(self.wake)
        self._thread = threading.Thread(target=self._run, name="lambdalab-logs-subscriptions",
                                        daemon=True)
        self._thread.start()
        self.wake()  # events flushed before the lab last closed

    def wake(self) -> None:
        """New events are stored. The thread looks for filters each time (one query on a
        small table): another Lab on this data dir may have put one meanwhile."""
        self._wake.set()

    def close(self) -> None:
        self._closed = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join()

    def _run(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()
            if self._closed:
                return
            try:
                self.deliver()
            except Exception:  # a bug: say so, keep the thread for the next events
                log.exception("subscription delivery failed")

    # -- groups and streams -------------------------------------------------------------

    def now_ms(self) -> int:
        return int(self.lab.clock.now() * 1000)

    def group_arn(self, group: str) -> str:
        return f"arn:aws:logs:{self.lab.arns.region}:{self.lab.arns.account_id}:log-group:{group}"

    def create_log_group(self, group: str) -> None:
        if self.group_exists(group):
            raise ResourceAlreadyExistsException("The specified log group already exists")
        with self.lab.store.transaction() as db:
            db.execute("INSERT INTO logs_api_groups (name, created_ms) VALUES (?, ?)",
                       (group, self.now_ms()))

    def group_exists(self, group: str) -> bool:
        created = self.lab.store.query("SELECT 1 FROM logs_api_groups WHERE name = ?", (group,))
        return bool(created) or self.lab.logs.has_group(group)

    def check_group(self, group: str) -> str:
        if not self.group_exists(group):
            raise ResourceNotFoundException("The specified log group does not exist.")
        return group

    def log_groups(self) -> list[dict[str, Any]]:
        """Every log group, by name, in DescribeLogGroups' fields."""
        stored = {g.name: g for g in self.lab.logs.groups()}
        created: dict[str, int] = {
            row[0]: row[1]
            for row in self.lab.store.query("SELECT name, created_ms FROM logs_api_groups")}
        groups = []
        for name in sorted({*stored, *created}):
            summary = stored.get(name)
            first = summary.first_timestamp if summary else None
            item: dict[str, Any] = {
                "logGroupName": name,
                "creationTime": created.get(name, first if first is not None else self.now_ms()),
                "metricFilterCount": 0,
                "arn": self.group_arn(name) + ":*",
                "logGroupArn": self.group_arn(name),
                "storedBytes": summary.stored_bytes if summary else 0,
                "logGroupClass": "STANDARD",
            }
            if summary and summary.retention_in_days is not None:
                item["retentionInDays"] = summary.retention_in_days
            groups.append(item)
        return groups

    def create_log_stream(self, group: str, stream: str) -> None:
        self.check_group(group)
        if self.stream_exists(group, stream):
            raise ResourceAlreadyExistsException("The specified log stream already exists")
        with self.lab.store.transaction() as db:
            db.execute("INSERT INTO logs_api_streams (log_group, name, created_ms) "
                       "VALUES (?, ?, ?)", (group, stream, self.now_ms()))

    def stream_exists(self, group: str, stream: str) -> bool:
        created = self.lab.store.query(
            "SELECT 1 FROM logs_api_streams WHERE log_group = ? AND name = ?", (group, stream))
        return bool(created) or bool(self.lab.logs.query(group, streams=[stream], limit=1))

    def check_stream(self, group: str, stream: str) -> None:
        self.check_group(group)
        if not self.stream_exists(group, stream):
            raise ResourceNotFoundException("The specified log stream does not exist.")

    def log_streams(self, group: str) -> list[dict[str, Any]]:
        """The streams of ``group``, by name, in DescribeLogStreams' fields."""
        self.check_group(group)
        stored = {s.name: s for s in self.lab.logs.streams(group)}
        created: dict[str, int] = {row[0]: row[1] for row in self.lab.store.query(
            "SELECT name, created_ms FROM logs_api_streams WHERE log_group = ?", (group,))}
        streams = []
        for name in sorted({*stored, *created}):
            item: dict[str, Any] = {
                "logStreamName": name,
                "arn": f"{self.group_arn(group)}:log-stream:{name}",
                "storedBytes": 0,
            }
            summary = stored.get(name)
            item["creationTime"] = created.get(name, summary.first_timestamp if summary else 0)
            if summary:
                item |= {
                    "firstEventTimestamp": summary.first_timestamp,
                    "lastEventTimestamp": summary.last_timestamp,
                    "lastIngestionTime": summary.last_timestamp,
                    "storedBytes": summary.stored_bytes,
                }
            streams.append(item)
        return streams

    def delete_log_group(self, group: str) -> None:
        self.check_group(group)
        self.lab.logs.delete_group(group)
        with self.lab.store.transaction() as db:
            db.execute("DELETE FROM logs_api_groups WHERE name = ?", (group,))
            db.execute("DELETE FROM logs_api_streams WHERE log_group = ?", (group,))
            db.execute("DELETE FROM logs_api_subscriptions WHERE log_group = ?", (group,))

    def delete_log_stream(self, group: str, stream: str) -> None:
        self.check_stream(group, stream)
        self.lab.logs.delete_group(group, stream)
        with self.lab.store.transaction() as db:
            db.execute("DELETE FROM logs_api_streams WHERE log_group = ? AND name = ?",
                       (group, stream))

    def put_log_events(self, group: str, stream: str,
                       events: list[Mapping[str, Any]]) -> dict[str, Any]:
        """Store ``events`` (``timestamp``, ``message``); those too old or too new are
        rejected, as PutLogEvents reports them (``rejectedLogEventsInfo``)."""
        self.check_stream(group, stream)
        _check_batch(events)
        now = self.now_ms()
        kept: list[tuple[int, str]] = []
        rejected: dict[str, int] = {}
        for index, event in enumerate(events):
            if event["timestamp"] > now + quotas.PUT_FUTURE_MAX_MS:
                rejected.setdefault("tooNewLogEventStartIndex", index)
            elif event["timestamp"] < now - quotas.PUT_PAST_MAX_MS:
                rejected["tooOldLogEventEndIndex"] = index
            else:
                kept.append((event["timestamp"], event["message"]))
        self.lab.logs.write_events(group, stream, kept)
        return {"rejectedLogEventsInfo": rejected} if rejected else {}

    # -- subscription filters ------------------------------------------------------------

    def put_subscription_filter(self, group: str, name: str, pattern: str, destination: str,
                                distribution: str | None = None,
                                role_arn: str | None = None) -> None:
        """Create or replace filter ``name`` of ``group``; it delivers the events written
        from now on. The destination is a Lambda function whose resource policy lets
        ``logs.amazonaws.com`` invoke it (AddPermission), as AWS requires."""
        self.check_group(group)
        self.matcher(pattern)
        self._check_destination(group, destination)
        existing = [f for f in self.subscription_filters(group) if f.name != name]
        if len(existing) >= quotas.SUBSCRIPTION_FILTERS_PER_GROUP:
            raise LimitExceededException("Resource limit exceeded.")
        sub = SubscriptionFilter(group, name, pattern, destination,
                                 distribution or "ByLogStream", self.now_ms(), role_arn)
        self.lab.logs.flush()  # what is written before the filter is not delivered
        newest = self.lab.logs.query(group, newest_first=True, limit=1, flush=False)
        with self.lab.store.transaction() as db:
            db.execute(
                "INSERT INTO logs_api_subscriptions (log_group, name, config, delivered_id) "
                "VALUES (?, ?, ?, ?) ON CONFLICT (log_group, name) DO UPDATE SET "
                "config = excluded.config",
                (group, name, json.dumps(sub.__dict__), newest[0].id if newest else 0),
            )

    def _check_destination(self, group: str, destination: str) -> None:
        if not destination.startswith("arn:aws:lambda:"):
            raise InvalidParameterException(
                f"destinationArn {destination!r}: lambdalab delivers to Lambda functions "
                "only; give a function's ARN.")
        if not self._may_invoke(group, destination):
            # AWS's words; the fix: aws lambda add-permission --principal logs.amazonaws.com
            raise InvalidParameterException(
                "Could not execute the lambda function. Make sure you have given CloudWatch "
                "Logs permission to execute your function.")
        ref = parse_function_ref(destination)
        if group in (f"/aws/lambda/{ref.name}", self._own_group(ref.name)):
            raise InvalidParameterException(
                f"The function {ref.name} would receive its own log events: each delivery "
                "would write more, without end. Subscribe another function.")

    def _own_group(self, function_name: str) -> str | None:
        """The group a function writes to (its ``LoggingConfig.LogGroup``)."""
        try:
            return self.lab.get_function_configuration(function_name).log_group_name
        except LambdaError:
            return None

    def _may_invoke(self, group: str, function_arn: str) -> bool:
        try:
            ref = parse_function_ref(function_arn)
            statements = self.lab.get_policy(ref.name, ref.qualifier).statements
        except LambdaError:
            return False
        return any(self._allows_logs(s, group) for s in statements)

    def _allows_logs(self, statement: Mapping[str, Any], group: str) -> bool:
        principal = statement.get("Principal")
        if principal != "*" and principal != {"Service": LOGS_PRINCIPAL}:
            return False
        if statement.get("Effect") != "Allow" or statement.get("Action") not in _INVOKE_ACTIONS:
            return False
        conditions = statement.get("Condition") or {}
        source_arn = (conditions.get("ArnLike") or {}).get("AWS:SourceArn")
        if source_arn is not None and not fnmatch.fnmatchcase(self.group_arn(group) + ":*",
                                                              source_arn):
            return False
        account = (conditions.get("StringEquals") or {}).get("AWS:SourceAccount")
        return account in (None, self.lab.arns.account_id)

    def subscription_filters(self, group: str, prefix: str | None = None) -> list[SubscriptionFilter]:
        self.check_group(group)
        found = [sub for sub, _ in self._stored("WHERE log_group = ?", (group,))]
        return [f for f in found if prefix is None or f.name.startswith(prefix)]

    def _stored(self, where: str = "", params: tuple[Any, ...] = ()
                ) -> list[tuple[SubscriptionFilter, int]]:
        """Stored filters with how far each has delivered; a damaged row is reported once
        and skipped (it can still be deleted)."""
        rows = self.lab.store.query(
            "SELECT log_group, name, config, delivered_id FROM logs_api_subscriptions "
            f"{where} ORDER BY log_group, name", params)
        return self.lab.store.loaded_rows(
            "logs_api_subscriptions", rows,
            lambda row: {"log_group": row["log_group"], "name": row["name"]},
            _load_subscription)

    def delete_subscription_filter(self, group: str, name: str) -> None:
        self.check_group(group)
        with self.lab.store.transaction() as db:
            gone = db.execute("DELETE FROM logs_api_subscriptions WHERE log_group = ? AND name = ?",
                              (group, name)).rowcount
        if not gone:
            raise ResourceNotFoundException("The specified subscription filter does not exist.")

    def deliver(self) -> int:
        """Invoke each subscription's function with the matching events written since its
        last delivery; returns how many invokes were made. Called by the delivery thread,
        and by whoever wants delivery now (a test, before it looks)."""
        with self._delivering:
            return sum(self._deliver_one(sub, after) for sub, after in self._stored())

    def _deliver_one(self, sub: SubscriptionFilter, after: int) -> int:
        matches = self.matcher(sub.filter_pattern)
        invokes = 0
        while True:
            events = self.lab.logs.query(sub.log_group, after_id=after,
                                         limit=quotas.DELIVERY_EVENTS_MAX, flush=False)
            if not events or not self._claim(sub, after, events[-1].id):
                return invokes
            for stream, batch in _by_stream(e for e in events if matches(e.message)):
                invokes += self._invoke(sub, stream, batch)
            after = events[-1].id

    def _claim(self, sub: SubscriptionFilter, after: int, last: int) -> bool:
        """Move the filter's cursor from ``after`` to ``last`` if no one else has: another
        process with a Lab on the same data dir (a CLI command beside ``lambdalab serve``)
        delivers too, and each event must go out once."""
        with self.lab.store.transaction() as db:
            return db.execute(
                "UPDATE logs_api_subscriptions SET delivered_id = ? "
                "WHERE log_group = ? AND name = ? AND delivered_id = ?",
                (last, sub.log_group, sub.name, after),
            ).rowcount == 1

    def _invoke(self, sub: SubscriptionFilter, stream: str, events: list[Any]) -> int:
        invokes = 0
        for chunk in _sized(events, quotas.DELIVERY_MAX_BYTES):
            payload = awslogs_event(self.lab.arns.account_id, sub.log_group, stream,
                                    [sub.name], chunk)
            ref = parse_function_ref(sub.destination_arn)
            try:
                self.lab.invoke(ref.name, payload, qualifier=ref.qualifier,
                                invocation_type="Event")
                invokes += 1
            except LambdaError as e:  # deleted since, or its permission removed
                log.warning("subscription filter %s of %s could not invoke %s: %s",
                            sub.name, sub.log_group, sub.destination_arn, e)
        return invokes

    @staticmethod
    def matcher(pattern: str) -> Callable[[str], bool]:
        """``pattern`` compiled; InvalidParameterException if it does not parse."""
        try:
            return _compiled(pattern)
        except PatternError as e:
            raise InvalidParameterException(str(e)) from None


def _load_subscription(row: Any) -> tuple[SubscriptionFilter, int]:
    sub = SubscriptionFilter(**json.loads(row["config"]))
    if not all(isinstance(v, str) for v in (sub.log_group, sub.name, sub.filter_pattern,
                                            sub.destination_arn)):
        raise TypeError("a subscription filter's names, pattern and destination are strings")
    _compiled(sub.filter_pattern)
    return sub, int(row["delivered_id"])


@functools.lru_cache(maxsize=64)
def _compiled(pattern: str) -> Callable[[str], bool]:
    """A filter's pattern compiled once, not at every delivery (errors are not cached)."""
    return compile_pattern(pattern)


def _by_stream(events: Iterable[Any]) -> Iterator[tuple[str, list[Any]]]:
    batches: dict[str, list[Any]] = {}
    for event in events:
        batches.setdefault(event.log_stream, []).append(event)
    yield from batches.items()


def _sized(events: list[Any], max_bytes: int) -> Iterator[list[Any]]:
    """``events`` in runs whose messages add up to at most ``max_bytes`` (one at least)."""
    run: list[Any] = []
    size = 0
    for event in events:
        length = len(event.message.encode("utf-8", "surrogatepass"))
        if run and size + length > max_bytes:
            yield run
            run, size = [], 0
        run.append(event)
        size += length
    if run:
        yield run


def _check_batch(events: list[Mapping[str, Any]]) -> None:
    """PutLogEvents' rules for one batch: count, bytes, chronological order."""
    if len(events) > quotas.PUT_EVENTS_MAX:
        raise InvalidParameterException(
            f"A batch holds at most {quotas.PUT_EVENTS_MAX} log events; send {len(events)} "
            "in several calls.")
    size = sum(len(e["message"].encode("utf-8", "surrogatepass"))
               + limits.LOG_EVENT_OVERHEAD_BYTES for e in events)
    if size > quotas.PUT_BATCH_MAX_BYTES:
        raise InvalidParameterException(
            f"Upload too large: {size} bytes exceeds limit of {quotas.PUT_BATCH_MAX_BYTES}")
    stamps = [e["timestamp"] for e in events]
    if stamps != sorted(stamps):
        raise InvalidParameterException(
            "Log events in a single PutLogEvents request must be in chronological order.")
