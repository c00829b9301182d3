"""Bucket notifications to Lambda: validate a configuration, match a write, invoke.

S3 pushes: the configuration lives on the bucket, and each matching object write
invokes the function asynchronously (``InvocationType=Event``), so Lambda's retries,
event age and destinations apply (https://docs.aws.amazon.com/lambda/latest/dg/with-s3.html).
S3 may invoke a function only if the function's resource policy allows the principal
``s3.amazonaws.com``; PutBucketNotificationConfiguration checks that first and fails
with ``InvalidArgument`` "Unable to validate the following destination configurations"
(https://docs.aws.amazon.com/AmazonS3/latest/userguide/how-to-enable-disable-notification-intro.html).

With ``EventBridgeConfiguration`` in the configuration, every write is also put on the
account's default event bus as ``Object Created`` / ``Object Deleted``
(https://docs.aws.amazon.com/AmazonS3/latest/userguide/EventBridge.html), through the
``lambdalab_destination_sender`` hook for the bus's ARN: S3 knows no EventBridge internals.
"""

from __future__ import annotations

import fnmatch
import itertools
import json
import logging
import re
import uuid
from dataclasses import dataclass
from typing import Any, Mapping

from lambdalab import Lab, LambdaError, ResourceNotFoundException
from lambdalab.plugin import DestinationMessage, parse_function_ref, service_events
from lambdalab.plugin import may_invoke as allowed_to_invoke

from . import quotas
from .exceptions import InvalidArgument, invalid_argument
from .models import Bucket, S3Object

S3_PRINCIPAL = "s3.amazonaws.com"
#: What S3 accepts as a LambdaFunctionArn before it looks the function up.
_LAMBDA_ARN = re.compile(r"^arn:aws[a-zA-Z-]*:lambda:")
#: Orders events written at the same instant (a virtual clock that stands still).
_SEQUENCE = itertools.count()

log = logging.getLogger("lambdalab.s3")


@dataclass(frozen=True)
class LambdaNotification:
    """One LambdaFunctionConfiguration: which writes invoke which function."""

    id: str
    function_arn: str
    events: tuple[str, ...]
    prefix: str = ""
    suffix: str = ""

    def matches(self, event_name: str, key: str) -> bool:
        """Whether ``ObjectCreated:Put`` (say) on ``key`` invokes this function."""
        return (
            any(event_matches(pattern, event_name) for pattern in self.events)
            and key.startswith(self.prefix)
            and key.endswith(self.suffix)
        )

    def to_aws(self) -> dict[str, Any]:
        config: dict[str, Any] = {
            "Id": self.id,
            "LambdaFunctionArn": self.function_arn,
            "Events": list(self.events),
        }
        rules = [
            {"Name": name, "Value": value}
            for name, value in (("Prefix", self.prefix), ("Suffix", self.suffix))
            if value
        ]
        if rules:
            config["Filter"] = {"Key": {"FilterRules": rules}}
        return config


def event_matches(pattern: str, event_name: str) -> bool:
    """``s3:ObjectCreated:*`` matches ``ObjectCreated:Put``; exact types match themselves."""
    return fnmatch.fnmatchcase(f"s3:{event_name}", pattern)


def _filter(config: Mapping[str, Any]) -> tuple[str, str]:
    rules = ((config.get("Filter") or {}).get("Key") or {}).get("FilterRules") or []
    found: dict[str, str] = {}
    for rule in rules:
        name = str(rule.get("Name", "")).lower()
        if name not in ("prefix", "suffix"):
            raise invalid_argument(
                "filter rule name must be either prefix or suffix", "FilterRule.Name",
                rule.get("Name"),
            )
        if name in found:
            raise invalid_argument(
                f"Cannot specify more than one {name} rule in a filter.", "FilterRule.Name",
                rule.get("Name"),
            )
        found[name] = str(rule.get("Value", ""))
    return found.get("prefix", ""), found.get("suffix", "")


def parse_configuration(configuration: Mapping[str, Any]) -> list[LambdaNotification]:
    """The Lambda configurations of a NotificationConfiguration, checked as S3 checks them."""
    for other in ("TopicConfigurations", "QueueConfigurations"):
        if configuration.get(other):
            arns = [str(c.get("TopicArn") or c.get("QueueArn") or "")
                    for c in configuration[other]]
            raise _unvalidated(
                arns, "lambdalab delivers bucket notifications to Lambda functions only "
                "(use LambdaFunctionConfigurations)",
            )
    parsed = []
    for config in configuration.get("LambdaFunctionConfigurations") or []:
        names = tuple(config.get("Events") or ())
        if not names:
            raise invalid_argument(
                "A notification configuration needs at least one event type, e.g. "
                "s3:ObjectCreated:*.", "Event", "",
            )
        for name in names:
            if name not in quotas.S3_NOTIFICATION_EVENTS:
                raise invalid_argument(
                    f"The event is not supported for notifications: {name}. Use one of "
                    "s3:ObjectCreated:*, s3:ObjectCreated:Put, s3:ObjectRemoved:* …",
                    "Event", name,
                )
        prefix, suffix = _filter(config)
        arn = str(config.get("LambdaFunctionArn", ""))
        if not _LAMBDA_ARN.match(arn):
            raise invalid_argument("The ARN could not be parsed", "CloudFunction", arn)
        parsed.append(
            LambdaNotification(config.get("Id") or str(uuid.uuid4()), arn, names, prefix, suffix)
        )
    _check_no_overlap(parsed)
    return parsed


def _overlap(a: LambdaNotification, b: LambdaNotification) -> bool:
    shared_event = any(
        event_matches(x, y.removeprefix("s3:")) or event_matches(y, x.removeprefix("s3:"))
        for x in a.events
        for y in b.events
    )
    prefixes = a.prefix.startswith(b.prefix) or b.prefix.startswith(a.prefix)
    suffixes = a.suffix.endswith(b.suffix) or b.suffix.endswith(a.suffix)
    return shared_event and prefixes and suffixes


def _check_no_overlap(configs: list[LambdaNotification]) -> None:
    for i, a in enumerate(configs):
        for b in configs[i + 1:]:
            if _overlap(a, b):
                raise invalid_argument(
                    "Configurations overlap. Configurations on the same bucket cannot share "
                    "a common event type. Give them event types, or prefix/suffix filters, "
                    "that no object write matches both.",
                    "Event", ",".join(a.events),
                )


# -- permission -----------------------------------------------------------------------


def may_invoke(lab: Lab, function_arn: str, bucket: Bucket) -> bool:
    """Whether the function's resource policy lets S3 (for this bucket) invoke it."""
    try:
        parse_function_ref(function_arn)
    except LambdaError:
        return False
    return allowed_to_invoke(lab, S3_PRINCIPAL, function_arn, source_arn=bucket.arn,
                             source_account=lab.arns.account_id)


def check_destinations(lab: Lab, bucket: Bucket, configs: list[LambdaNotification]) -> None:
    """Fail as S3 does when a function does not exist or may not be invoked by S3."""
    refused = [c.function_arn for c in configs if not may_invoke(lab, c.function_arn, bucket)]
    if refused:
        # AWS's words; the fix: AddPermission for principal s3.amazonaws.com (SourceArn:
        # the bucket's ARN), on a function that exists.
        raise _unvalidated([f"{arn}, null" for arn in refused],
                           [f"Not authorized to invoke function [{arn}]" for arn in refused])


def _unvalidated(names: list[str], values: list[str] | str) -> InvalidArgument:
    """S3's error for destinations it could not validate: one numbered
    ``ArgumentNameN``/``ArgumentValueN`` pair per destination, as AWS sends it."""
    values = values if isinstance(values, list) else [values] * len(names)
    fields: dict[str, str] = {}
    for number, (name, value) in enumerate(zip(names, values), start=1):
        fields[f"ArgumentName{number}"] = name
        fields[f"ArgumentValue{number}"] = value
    return InvalidArgument("Unable to validate the following destination configurations",
                           **fields)


# -- delivery -------------------------------------------------------------------------

#: The configuration's member that turns on delivery to EventBridge (an empty object).
EVENTBRIDGE = "EventBridgeConfiguration"


def to_eventbridge(lab: Lab, bucket: Bucket, obj: S3Object, event_name: str, now: float) -> None:
    """Put the write's event on the default bus; S3 never fails a write for it."""
    bus = f"arn:aws:events:{bucket.region}:{lab.arns.account_id}:event-bus/default"
    sender = lab.plugin_manager.hook.lambdalab_destination_sender(lab=lab, destination_arn=bus)
    if sender is None:
        log.warning("no loaded plugin takes events for %s; S3 event dropped", bus)
        return
    event = service_events.s3_eventbridge_event(
        bucket=bucket.name, key=obj.key, size=obj.size, event_name=event_name,
        etag=obj.etag.strip('"'), sequencer=sequencer(now), account_id=lab.arns.account_id)
    try:
        sender(DestinationMessage(json.dumps(event), {}))
    except LambdaError as e:
        log.warning("EventBridge refused S3's event for %s: %s", obj.key, e)


def sequencer(now: float) -> str:
    """S3's per-key ordering token: hex of a fixed length that grows with every event,
    also of events written at the same instant (so that comparing two events' sequencers
    orders them, https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-content-structure.html)."""
    return f"{int(now * 1_000_000):016X}{next(_SEQUENCE) & 0xFFFFFFFF:08X}"


def notify(lab: Lab, bucket: Bucket, obj: S3Object, event_name: str, now: float,
           trace_header: str | None = None) -> int:
    """Invoke (``Event``) every function whose configuration matches; how many were.
    Each invoke continues the writer's trace (``trace_header``), as S3 passes it on
    (https://docs.aws.amazon.com/xray/latest/devguide/xray-services-s3.html)."""
    if EVENTBRIDGE in bucket.notification:
        to_eventbridge(lab, bucket, obj, event_name, now)
    invoked = 0
    for config in parse_configuration(bucket.notification):
        if not config.matches(event_name, obj.key):
            continue
        if not may_invoke(lab, config.function_arn, bucket):
            log.warning("S3 may no longer invoke %s (resource policy); skipped", config.function_arn)
            continue
        record = service_events.s3_record(
            bucket=bucket.name, key=obj.key, size=obj.size, event_name=event_name,
            region=bucket.region, event_time=now, etag=obj.etag.strip('"'),
            sequencer=sequencer(now), configuration_id=config.id,
        )
        ref = parse_function_ref(config.function_arn)
        try:
            lab.invoke(ref.name, {"Records": [record]}, qualifier=ref.qualifier,
                       invocation_type="Event", trace_header=trace_header)
            invoked += 1
        except (ResourceNotFoundException, LambdaError) as e:
            log.warning("S3 could not invoke %s: %s", config.function_arn, e)
    return invoked
