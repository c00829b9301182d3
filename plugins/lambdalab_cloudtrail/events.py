"""An API call as the CloudTrail event AWS records of it
(https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-record-contents.html).

Only management events are recorded, as CloudTrail's event history keeps only those: a
data event (an operation on or in a resource, such as Lambda's ``Invoke`` or S3's
``GetObject``) is logged by AWS only by a trail configured to, and never reaches the
event history (https://docs.aws.amazon.com/awscloudtrail/latest/userguide/logging-data-events-with-cloudtrail.html).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Mapping

from lambdalab.plugin import ApiCall

from .quotas import EVENT_VERSION, FIELD_MAX_BYTES, FIELD_MAX_DEPTH

#: Operations CloudTrail records as data events, by service (botocore's endpoint prefix):
#: not in the event history, so not recorded here.
DATA_EVENTS: dict[str, frozenset[str]] = {
    "lambda": frozenset({"Invoke", "InvokeAsync", "InvokeWithResponseStream"}),
    "sqs": frozenset({
        "SendMessage", "SendMessageBatch", "ReceiveMessage", "DeleteMessage",
        "DeleteMessageBatch", "ChangeMessageVisibility", "ChangeMessageVisibilityBatch",
    }),
    "s3": frozenset({"ListObjects", "ListObjectsV2", "ListObjectVersions", "DeleteObjects"}),
    "events": frozenset({"PutEvents"}),
    "logs": frozenset({"PutLogEvents", "GetLogEvents", "FilterLogEvents"}),
}

#: Where each service's calls name the resource they act on: the member (of the output
#: first, then of the input) and the CloudTrail resource type.
RESOURCES: dict[str, tuple[tuple[str, str], ...]] = {
    "lambda": (("FunctionName", "AWS::Lambda::Function"),),
    "sqs": (("QueueUrl", "AWS::SQS::Queue"), ("QueueName", "AWS::SQS::Queue")),
    "s3": (("Bucket", "AWS::S3::Bucket"),),
    "events": (("Name", "AWS::Events::Rule"), ("Rule", "AWS::Events::Rule")),
    "logs": (("logGroupName", "AWS::Logs::LogGroup"),),
}

_READ_PREFIXES = ("Get", "List", "Describe", "Head", "Lookup")


def is_management_event(call: ApiCall) -> bool:
    """A call CloudTrail's event history records: neither a data event (``Invoke``,
    S3's object-level operations) nor an S3 call on an object (its input has ``Key``)."""
    if call.operation in DATA_EVENTS.get(call.service, ()):
        return False
    return not (call.service == "s3" and "Key" in call.request_params)


def read_only(operation: str) -> bool:
    """Whether an operation only reads (``Get…``, ``List…``, ``Describe…``)."""
    return operation.startswith(_READ_PREFIXES)


@dataclass(frozen=True)
class Recorded:
    """One event as the trail keeps it: the record and the fields it is looked up by."""

    event_id: str
    at: float
    event_name: str
    event_source: str
    username: str | None
    access_key_id: str | None
    read_only: bool
    resource_type: str | None
    resource_name: str | None
    #: The CloudTrail record, as JSON (what LookupEvents answers as ``CloudTrailEvent``).
    event: str


def recorded(call: ApiCall, account_id: str) -> Recorded:
    """``call`` as a CloudTrail management event of ``account_id``."""
    event_id = str(uuid.uuid4())
    source = f"{call.service}.amazonaws.com"
    username = "root" if call.access_key_id else None
    record: dict[str, Any] = {
        "eventVersion": EVENT_VERSION,
        "userIdentity": user_identity(call.access_key_id, account_id),
        "eventTime": iso_time(call.time),
        "eventSource": source,
        "eventName": call.operation,
        "awsRegion": call.region,
        "sourceIPAddress": call.source_ip,
        "userAgent": call.user_agent,
    }
    if call.error_code is not None:
        record["errorCode"] = call.error_code
        record["errorMessage"] = call.error_message
    record.update({
        "requestParameters": bounded(call.request_params),
        "responseElements": None if call.response is None else bounded(call.response),
        "requestID": call.request_id,
        "eventID": event_id,
        "readOnly": read_only(call.operation),
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": account_id,
        "eventCategory": "Management",
    })
    resource_type, resource_name = resource_of(call) or (None, None)
    return Recorded(event_id, call.time, call.operation, source, username, call.access_key_id,
                    read_only(call.operation), resource_type, resource_name,
                    json.dumps(record, separators=(",", ":")))


def user_identity(access_key_id: str | None, account_id: str) -> dict[str, Any]:
    """Who called. lambdalab has no IAM users, so a signed call is the account's root
    user with the access key it signed with; an unsigned one is anonymous, as CloudTrail
    records an anonymous S3 request
    (https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-user-identity.html)."""
    if access_key_id is None:
        return {"type": "AWSAccount", "principalId": "", "accountId": "anonymous"}
    return {"type": "Root", "principalId": account_id, "arn": f"arn:aws:iam::{account_id}:root",
            "accountId": account_id, "accessKeyId": access_key_id}


def resource_of(call: ApiCall) -> tuple[str, str] | None:
    """The resource a call acts on: ``(type, name)``, or ``None``."""
    for member, kind in RESOURCES.get(call.service, ()):
        for found in (call.response or {}, call.request_params):
            value = found.get(member)
            if isinstance(value, str) and value:
                return kind, value
    return None


def iso_time(epoch_s: float) -> str:
    """``2026-12-05T14:00:00Z``: CloudTrail's ``eventTime`` (whole seconds, UTC)."""
    return datetime.fromtimestamp(epoch_s, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def bounded(value: Mapping[str, Any]) -> Any:
    """``value`` as plain JSON, or ``None`` when that is over ``FIELD_MAX_BYTES``."""
    found = plain(value)
    if len(json.dumps(found, separators=(",", ":"))) > FIELD_MAX_BYTES:
        return None
    return found


def plain(value: Any, depth: int = 0) -> Any:
    """``value`` with only JSON's types: times as ISO 8601, blobs and streams (a
    function's zip, an object's body) left out, as CloudTrail leaves them out; what is
    nested deeper than ``FIELD_MAX_DEPTH`` is ``None``."""
    if depth > FIELD_MAX_DEPTH:
        return None
    if isinstance(value, Mapping):
        return {str(k): plain(v, depth + 1) for k, v in value.items() if _kept(v)}
    if isinstance(value, (list, tuple)):
        return [plain(v, depth + 1) for v in value if _kept(v)]
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


def _kept(value: Any) -> bool:
    return not isinstance(value, (bytes, bytearray, memoryview)) and not hasattr(value, "read")


__all__ = ["DATA_EVENTS", "RESOURCES", "Recorded", "bounded", "is_management_event",
           "iso_time", "plain", "read_only", "recorded", "resource_of", "user_identity"]
