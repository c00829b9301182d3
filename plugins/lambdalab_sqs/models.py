"""SQS state: queues and their messages, durable in the lab's SQLite store.

Pure state, no HTTP (that is :mod:`.responses`). Every time is read from the Lab's clock,
so a test that advances a :class:`~lambdalab.clock.VirtualClock` by the visibility
timeout sees an in-flight message become visible again, and a restart loses nothing: a
message in flight when the lab stopped reappears once its visibility timeout has passed
(https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-visibility-timeout.html).

A message is visible when ``visible_at <= now``. Sending with ``DelaySeconds`` and
receiving both move ``visible_at`` into the future. When a message with a RedrivePolicy
has been received ``maxReceiveCount`` times and becomes visible again, the next receive
moves it to the dead-letter queue instead of returning it
(https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-dead-letter-queues.html).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import secrets
import sqlite3
import threading
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Mapping

from lambdalab import Timer
from lambdalab.plugin import md5_hex, sqs_attributes_md5

from . import quotas
from .exceptions import (
    InvalidAttributeName,
    InvalidAttributeValue,
    InvalidParameterValue,
    MessageNotInflight,
    MessageTooLong,
    MissingParameter,
    QueueDoesNotExist,
    QueueNameExists,
    ReceiptHandleIsInvalid,
)

if TYPE_CHECKING:
    from lambdalab import Lab

#: The plugin's tables in the lab's database (hook ``lambdalab_migrations``): queues,
#: messages and event source mappings. The names are those lambdalab's own list used
#: before the plugin kept them, so data dirs made then open unchanged.
MIGRATIONS: dict[str, str] = {
    "sqs-1": """
    CREATE TABLE sqs_queues (
        name TEXT PRIMARY KEY,
        attributes TEXT NOT NULL,
        tags TEXT NOT NULL,
        created_at REAL NOT NULL,
        modified_at REAL NOT NULL
    );
    CREATE TABLE sqs_messages (
        id INTEGER PRIMARY KEY,
        queue TEXT NOT NULL REFERENCES sqs_queues(name) ON DELETE CASCADE,
        message_id TEXT NOT NULL,
        body TEXT NOT NULL,
        message_attributes TEXT NOT NULL,
        sent_at REAL NOT NULL,
        visible_at REAL NOT NULL,
        receive_count INTEGER NOT NULL DEFAULT 0,
        first_received_at REAL,
        receipt TEXT
    );
    CREATE INDEX sqs_messages_visible ON sqs_messages (queue, visible_at, id);
    CREATE INDEX sqs_messages_age ON sqs_messages (queue, sent_at);
    CREATE TABLE event_source_mappings (
        uuid TEXT PRIMARY KEY,
        config TEXT NOT NULL
    );
    """,
    # SQS's system attributes a sender sets (AWSTraceHeader), as JSON; NULL: none.
    "sqs-system-attributes": """
    ALTER TABLE sqs_messages ADD COLUMN system_attributes TEXT;
    """,
    # FIFO queues: a message's group, deduplication id and sequence number; each queue's
    # last sequence number; the deduplication ledger (ids seen in the last 5 minutes).
    "sqs-fifo": """
    ALTER TABLE sqs_messages ADD COLUMN group_id TEXT;
    ALTER TABLE sqs_messages ADD COLUMN dedup_id TEXT;
    ALTER TABLE sqs_messages ADD COLUMN sequence TEXT;
    CREATE TABLE sqs_sequences (
        queue TEXT PRIMARY KEY REFERENCES sqs_queues(name) ON DELETE CASCADE,
        last INTEGER NOT NULL
    );
    CREATE TABLE sqs_dedup (
        queue TEXT NOT NULL REFERENCES sqs_queues(name) ON DELETE CASCADE,
        scope TEXT NOT NULL,
        dedup_id TEXT NOT NULL,
        message_id TEXT NOT NULL,
        sequence TEXT NOT NULL,
        expires_at REAL NOT NULL,
        PRIMARY KEY (queue, scope, dedup_id)
    );
    CREATE TABLE sqs_attempts (
        queue TEXT NOT NULL REFERENCES sqs_queues(name) ON DELETE CASCADE,
        attempt_id TEXT NOT NULL,
        received TEXT NOT NULL,
        expires_at REAL NOT NULL,
        PRIMARY KEY (queue, attempt_id)
    );
    """,
}

#: SQL: message ``m`` of a FIFO queue is of a group none of whose messages is in flight
#: (or delayed), so receiving it keeps the group's order.
_GROUP_FREE = (" AND NOT EXISTS (SELECT 1 FROM sqs_messages b WHERE b.queue = m.queue"
               " AND b.group_id = m.group_id AND b.visible_at > ?2)")
#: Sequence numbers start here so each has 20 digits, as AWS's do.
_SEQUENCE_BASE = 10**19
#: Rows a FIFO receive looks at to fill its answer from as few groups as it can.
_FIFO_SCAN = 500
#: A FIFO id (MessageGroupId, MessageDeduplicationId): letters, digits and punctuation.
_FIFO_ID = re.compile(r"^[A-Za-z0-9!\"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~]+$")
_QUEUE_NAME = re.compile(rf"^[A-Za-z0-9_-]{{1,{quotas.SQS_QUEUE_NAME_MAX}}}$")
#: Characters a message may hold (#x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD | …).
_INVALID_CHARS = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")

#: Attributes SetQueueAttributes may change, with their defaults as strings.
SETTABLE = {
    "DelaySeconds": "0",
    "MaximumMessageSize": str(quotas.SQS_MESSAGE_MAX_BYTES),
    "MessageRetentionPeriod": str(quotas.SQS_RETENTION_DEFAULT_S),
    "ReceiveMessageWaitTimeSeconds": "0",
    "VisibilityTimeout": str(quotas.SQS_VISIBILITY_TIMEOUT_DEFAULT_S),
    "RedrivePolicy": "",
    "RedriveAllowPolicy": "",
    "Policy": "",
    "KmsMasterKeyId": "",
    "KmsDataKeyReusePeriodSeconds": "300",
    "SqsManagedSseEnabled": "true",
}
#: Attributes only a FIFO queue has, with their defaults and allowed values
#: (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SetQueueAttributes.html).
FIFO_SETTABLE = {
    "ContentBasedDeduplication": ("false", "true"),
    "DeduplicationScope": ("queue", "messageGroup"),
    "FifoThroughputLimit": ("perQueue", "perMessageGroupId"),
}
_INTEGER_RANGES = {
    "DelaySeconds": (0, quotas.SQS_DELAY_MAX_S),
    "MaximumMessageSize": (1024, quotas.SQS_MESSAGE_MAX_BYTES),
    "MessageRetentionPeriod": (quotas.SQS_RETENTION_MIN_S, quotas.SQS_RETENTION_MAX_S),
    "ReceiveMessageWaitTimeSeconds": (0, quotas.SQS_WAIT_TIME_MAX_S),
    "VisibilityTimeout": (0, quotas.SQS_VISIBILITY_TIMEOUT_MAX_S),
    "KmsDataKeyReusePeriodSeconds": (60, 86_400),
}


def queue_arn(lab: "Lab", name: str) -> str:
    return f"arn:aws:sqs:{lab.arns.region}:{lab.arns.account_id}:{name}"


def name_from_arn(arn: str) -> str:
    """The queue name of ``arn:aws:sqs:REGION:ACCOUNT:NAME``."""
    parts = arn.split(":")
    if len(parts) != 6 or parts[2] != "sqs":
        raise InvalidParameterValue(
            f"{arn!r} is not an SQS queue ARN. Use arn:aws:sqs:REGION:ACCOUNT:QUEUE_NAME."
        )
    return parts[5]


def name_from_url(url: str) -> str:
    """The queue name a QueueUrl (``http://host/ACCOUNT/NAME``) points at; a bare name too."""
    if not isinstance(url, str) or not url:
        raise InvalidParameterValue("QueueUrl is required: pass the URL CreateQueue returned.")
    return url.rstrip("/").rsplit("/", 1)[-1]


def check_queue_name(name: Any, fifo: bool = False) -> str:
    """A queue name; a FIFO queue's (``FifoQueue=true``) ends in ``.fifo``, and only
    a FIFO queue's does (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/FIFO-queues-understanding-logic.html)."""
    ok = isinstance(name, str) and (name.endswith(".fifo") == fifo) and bool(
        _QUEUE_NAME.match(name.removesuffix(".fifo") if fifo else name))
    if ok and fifo and len(name) > quotas.SQS_QUEUE_NAME_MAX:
        ok = False
    if not ok and fifo:
        raise InvalidParameterValue(
            "The name of a FIFO queue can only include alphanumeric characters, hyphens, or "
            f"underscores, must end with .fifo suffix and be 1 to {quotas.SQS_QUEUE_NAME_MAX} "
            "in length."
        )
    if not ok:
        raise InvalidParameterValue(
            "Can only include alphanumeric characters, hyphens, or underscores. 1 to "
            f"{quotas.SQS_QUEUE_NAME_MAX} in length."
            + (" A name ending in .fifo needs the attribute FifoQueue=true." if
               isinstance(name, str) and name.endswith(".fifo") else "")
        )
    return name


def is_fifo(attributes: Mapping[str, Any] | None) -> bool:
    """Whether CreateQueue's attributes ask for a FIFO queue (FifoQueue=true)."""
    return str((attributes or {}).get("FifoQueue", "")).lower() == "true"


def _integer(name: str, value: Any, low: int, high: int, error: type = InvalidParameterValue) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = None
    if number is None or isinstance(value, bool) or not low <= number <= high:
        raise error(f"Value {value!r} for parameter {name} is invalid. Reason: Must be an "
                    f"integer from {low} to {high}.")
    return number


def check_attributes(attributes: Mapping[str, Any], fifo: bool = False) -> dict[str, str]:
    """Queue attributes as SQS stores them (strings), each checked against its range;
    ``fifo``: the queue is a FIFO queue, which alone takes :data:`FIFO_SETTABLE`."""
    out: dict[str, str] = {}
    for name, value in attributes.items():
        if name == "FifoQueue":
            if str(value).lower() not in ("true", "false") or is_fifo({name: value}) != fifo:
                raise InvalidAttributeValue(
                    f"Value {value} for parameter FifoQueue is invalid. Reason: FifoQueue is "
                    "set when a queue is created (true for a .fifo queue) and cannot change."
                )
            continue
        if name in FIFO_SETTABLE and fifo:
            out[name] = _fifo_attribute(name, value)
            continue
        if name not in SETTABLE:
            raise InvalidAttributeName(
                f"Unknown Attribute {name}. Settable attributes: {', '.join(sorted(SETTABLE))}."
            )
        if name in _INTEGER_RANGES:
            low, high = _INTEGER_RANGES[name]
            value = str(_integer(name, value, low, high, InvalidAttributeValue))
        elif name == "RedrivePolicy" and value:
            value = json.dumps(_redrive_policy(value))
        out[name] = str(value)
    return out


def _fifo_attribute(name: str, value: Any) -> str:
    text = str(value).lower() if name == "ContentBasedDeduplication" else str(value)
    if text not in FIFO_SETTABLE[name]:
        raise InvalidAttributeValue(
            f"Value {value} for parameter {name} is invalid. Reason: Must be one of "
            f"{', '.join(FIFO_SETTABLE[name])}."
        )
    return text


def _redrive_policy(value: Any) -> dict[str, Any]:
    try:
        policy = json.loads(value) if isinstance(value, str) else dict(value)
        target = str(policy["deadLetterTargetArn"])
        count = int(policy["maxReceiveCount"])
    except (ValueError, KeyError, TypeError):
        raise InvalidAttributeValue(
            f"Value {value} for parameter RedrivePolicy is invalid. Reason: Redrive policy "
            'must be JSON like {"deadLetterTargetArn": "arn:aws:sqs:…:dlq", '
            '"maxReceiveCount": 5}.'
        ) from None
    if not 1 <= count <= quotas.SQS_MAX_RECEIVE_COUNT_MAX:
        raise InvalidAttributeValue(
            f"Value {value} for parameter RedrivePolicy is invalid. Reason: Invalid value for "
            f"maxReceiveCount: {count}, valid values are from 1 to "
            f"{quotas.SQS_MAX_RECEIVE_COUNT_MAX} both inclusive."
        )
    return {"deadLetterTargetArn": target, "maxReceiveCount": count}


def check_message_attributes(attributes: Mapping[str, Any] | None) -> dict[str, dict[str, str]]:
    """MessageAttributes in SQS's API shape, BinaryValue as base64 text."""
    out: dict[str, dict[str, str]] = {}
    for name, attribute in (attributes or {}).items():
        data_type = (attribute or {}).get("DataType")
        if not isinstance(data_type, str) or data_type.split(".")[0] not in (
            "String", "Number", "Binary"
        ):
            raise InvalidParameterValue(
                f"The message attribute '{name}' has an invalid message attribute type: "
                "use DataType String, Number or Binary."
            )
        if data_type.startswith("Binary"):
            value = attribute.get("BinaryValue")
            if isinstance(value, (bytes, bytearray)):
                value = base64.b64encode(value).decode()
            key = "BinaryValue"
        else:
            value, key = attribute.get("StringValue"), "StringValue"
        if value is None or value == "":
            raise InvalidParameterValue(
                f"The message attribute '{name}' must contain non-empty message attribute "
                f"value for message attribute type '{data_type}'."
            )
        out[name] = {"DataType": data_type, key: str(value)}
    return out


def event_attributes(attributes: Mapping[str, Mapping[str, str]]) -> dict[str, dict[str, Any]]:
    """MessageAttributes as Lambda's SQS event writes them (camelCase, list fields)."""
    out = {}
    for name, attribute in attributes.items():
        entry: dict[str, Any] = {"stringListValues": [], "binaryListValues": [],
                                 "dataType": attribute["DataType"]}
        if "StringValue" in attribute:
            entry["stringValue"] = attribute["StringValue"]
        else:
            entry["binaryValue"] = attribute["BinaryValue"]
        out[name] = entry
    return out


def attributes_md5(attributes: Mapping[str, Mapping[str, str]]) -> str | None:
    return sqs_attributes_md5(event_attributes(attributes)) if attributes else None


def _size(body: str, attributes: Mapping[str, Mapping[str, str]]) -> int:
    size = len(body.encode())
    for name, attribute in attributes.items():
        size += len(name.encode()) + len(attribute["DataType"].encode())
        size += len(attribute.get("StringValue", attribute.get("BinaryValue", "")).encode())
    return size


@dataclass(frozen=True)
class Queue:
    """One queue: its name and the attributes it was given (as strings)."""

    name: str
    attributes: dict[str, str]
    created_at: float
    modified_at: float
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def fifo(self) -> bool:
        return self.name.endswith(".fifo")

    def setting(self, name: str) -> str:
        if name in FIFO_SETTABLE:
            return self.attributes.get(name) or FIFO_SETTABLE[name][0]
        return self.attributes.get(name) or SETTABLE[name]

    def integer(self, name: str) -> int:
        return int(self.setting(name))

    @property
    def redrive(self) -> dict[str, Any] | None:
        text = self.attributes.get("RedrivePolicy")
        return json.loads(text) if text else None


@dataclass(frozen=True)
class SentMessage:
    """SendMessage's answer."""

    message_id: str
    md5_of_message_body: str
    md5_of_message_attributes: str | None
    #: A FIFO queue's sequence number of the message (of the original, for a duplicate).
    sequence_number: str | None = None

    def to_aws(self) -> dict[str, str]:
        out = {"MessageId": self.message_id, "MD5OfMessageBody": self.md5_of_message_body}
        if self.md5_of_message_attributes:
            out["MD5OfMessageAttributes"] = self.md5_of_message_attributes
        if self.sequence_number:
            out["SequenceNumber"] = self.sequence_number
        return out


@dataclass(frozen=True)
class Outgoing:
    """One message to send: what SendMessage or a batch entry gives."""

    body: Any
    delay_seconds: Any = None
    message_attributes: Mapping[str, Any] | None = None
    group_id: Any = None
    dedup_id: Any = None


@dataclass(frozen=True)
class Checked:
    """An :class:`Outgoing` message once checked against its queue."""

    body: str
    delay: int
    attributes: dict[str, dict[str, str]]
    group_id: str | None
    dedup_id: str | None


@dataclass(frozen=True)
class Message:
    """A received message: what ReceiveMessage returns and an SQS event record holds."""

    message_id: str
    receipt_handle: str
    body: str
    message_attributes: dict[str, dict[str, str]]
    sent_at: float
    first_received_at: float
    receive_count: int
    #: System attributes the sender set (``AWSTraceHeader``).
    sent_system_attributes: dict[str, str] = field(default_factory=dict)

    @property
    def md5_of_body(self) -> str:
        return md5_hex(self.body)

    def system_attributes(self) -> dict[str, str]:
        return {
            "ApproximateReceiveCount": str(self.receive_count),
            "SentTimestamp": str(int(self.sent_at * 1000)),
            "SenderId": "AIDAIENQZJOLO23YVJ4VO",
            "ApproximateFirstReceiveTimestamp": str(int(self.first_received_at * 1000)),
            **self.sent_system_attributes,
        }

    def to_aws(
        self, attribute_names: list[str] | None = None, message_attribute_names: list[str] | None = None
    ) -> dict[str, Any]:
        """ReceiveMessage's ``Message``: system attributes and message attributes as asked."""
        out: dict[str, Any] = {
            "MessageId": self.message_id,
            "ReceiptHandle": self.receipt_handle,
            "MD5OfBody": self.md5_of_body,
            "Body": self.body,
        }
        wanted = set(attribute_names or ())
        system = self.system_attributes()
        picked = {k: v for k, v in system.items() if "All" in wanted or k in wanted}
        if picked:
            out["Attributes"] = picked
        names = set(message_attribute_names or ())
        chosen = {
            k: v for k, v in self.message_attributes.items()
            if "All" in names or ".*" in names or k in names
            or any(n.endswith(".*") and k.startswith(n[:-1]) for n in names)
        }
        if chosen:
            out["MessageAttributes"] = chosen
            out["MD5OfMessageAttributes"] = attributes_md5(chosen)
        return out

    def to_event_record(self, arn: str, region: str) -> dict[str, Any]:
        """The record of Lambda's SQS event (https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html)."""
        record: dict[str, Any] = {
            "messageId": self.message_id,
            "receiptHandle": self.receipt_handle,
            "body": self.body,
            "attributes": self.system_attributes(),
            "messageAttributes": event_attributes(self.message_attributes),
            "md5OfBody": self.md5_of_body,
        }
        if self.message_attributes:
            record["md5OfMessageAttributes"] = attributes_md5(self.message_attributes)
        record |= {"eventSource": "aws:sqs", "eventSourceARN": arn, "awsRegion": region}
        return record


def _receipt(queue: str, row_id: int) -> str:
    raw = f"{queue}\0{row_id}\0{secrets.token_hex(16)}".encode()
    return base64.urlsafe_b64encode(raw).decode()


def _receipt_row(queue: str, handle: Any) -> int:
    """The message row a receipt handle names (it carries the queue and the row id)."""
    try:
        name, row_id, _ = base64.urlsafe_b64decode(str(handle).encode()).decode().split("\0")
        if name == queue:
            return int(row_id)
    except (binascii.Error, ValueError, UnicodeDecodeError):
        pass
    raise ReceiptHandleIsInvalid(
        f"The input receipt handle \"{handle}\" is not a valid receipt handle. Use the "
        "ReceiptHandle a ReceiveMessage of this queue returned."
    )


class Queues:
    """Every queue of one lab, and the messages in them."""

    def __init__(self, lab: "Lab") -> None:
        self.lab = lab
        self.store = lab.store
        self.clock = lab.clock
        #: Notified whenever a message may have become receivable (sent, released, due).
        self.changed = threading.Condition()
        self._wake: Timer | None = None
        self._closed = False
        self._schedule_next_due()

    # -- queues -----------------------------------------------------------------------

    def url(self, name: str) -> str:
        base = self.lab.endpoint_url or f"https://sqs.{self.lab.arns.region}.amazonaws.com"
        return f"{base.rstrip('/')}/{self.lab.arns.account_id}/{name}"

    def arn(self, name: str) -> str:
        return queue_arn(self.lab, name)

    def create_queue(
        self, name: str, attributes: Mapping[str, Any] | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> Queue:
        """A new queue, or the existing one when its attributes match (as SQS does)."""
        fifo = is_fifo(attributes)
        name = check_queue_name(name, fifo)
        wanted = check_attributes(attributes or {}, fifo)
        self._check_redrive_type(name, wanted)
        now = self.clock.now()
        with self.store.transaction() as db:
            row = db.execute("SELECT * FROM sqs_queues WHERE name = ?", (name,)).fetchone()
            if row is not None:
                existing = _queue(row)
                if any(existing.setting(k) != v for k, v in wanted.items()):
                    raise QueueNameExists(
                        f"A queue already exists with the same name ({name}) and a different "
                        "value for an attribute. Use SetQueueAttributes, or another name."
                    )
                return existing
            db.execute(
                "INSERT INTO sqs_queues (name, attributes, tags, created_at, modified_at) "
                "VALUES (?, ?, ?, ?, ?)",
                (name, json.dumps(wanted), json.dumps(dict(tags or {})), now, now),
            )
        return Queue(name, wanted, now, now, dict(tags or {}))

    @staticmethod
    def _check_redrive_type(name: str, attributes: Mapping[str, str]) -> None:
        """A FIFO queue's dead-letter queue is a FIFO queue, a standard queue's a standard
        one (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-dead-letter-queues.html)."""
        policy = attributes.get("RedrivePolicy")
        if not policy:
            return
        target = name_from_arn(json.loads(policy)["deadLetterTargetArn"])
        if target.endswith(".fifo") != name.endswith(".fifo"):
            raise InvalidParameterValue(
                f"Value {policy} for parameter RedrivePolicy is invalid. Reason: Dead-letter "
                "queue must be same type of queue as the source."
            )

    def get_queue(self, name: str) -> Queue:
        rows = self.store.query("SELECT * FROM sqs_queues WHERE name = ?", (name,))
        if not rows:
            raise QueueDoesNotExist(
                f"The specified queue {name} does not exist. Create it with CreateQueue, or "
                "check the name (ListQueues shows every queue)."
            )
        queue = self.store.loaded("sqs_queues", {"name": name}, lambda: _queue(rows[0]))
        if queue is None:
            raise QueueDoesNotExist(
                f"The specified queue {name} does not exist: its stored attributes are "
                "damaged (the server's log names it). Delete it and create it again."
            )
        return queue

    def list_queues(self, prefix: str = "") -> list[Queue]:
        rows = [r for r in self.store.query("SELECT * FROM sqs_queues ORDER BY name")
                if r["name"].startswith(prefix or "")]
        return self.store.loaded_rows("sqs_queues", rows, lambda r: {"name": r["name"]}, _queue)

    def delete_queue(self, name: str) -> None:
        if not self.store.query("SELECT 1 FROM sqs_queues WHERE name = ?", (name,)):
            self.get_queue(name)  # QueueDoesNotExist
        with self.store.transaction() as db:
            db.execute("DELETE FROM sqs_queues WHERE name = ?", (name,))
        self._notify()

    def set_attributes(self, name: str, attributes: Mapping[str, Any]) -> Queue:
        queue = self.get_queue(name)
        merged = {**queue.attributes, **check_attributes(attributes, queue.fifo)}
        self._check_redrive_type(name, merged)
        with self.store.transaction() as db:
            db.execute(
                "UPDATE sqs_queues SET attributes = ?, modified_at = ? WHERE name = ?",
                (json.dumps(merged), self.clock.now(), name),
            )
        self._notify()
        return self.get_queue(name)

    def get_attributes(self, name: str, names: list[str] | None = None) -> dict[str, str]:
        """GetQueueAttributes: the named attributes (``All`` for every one)."""
        queue = self.get_queue(name)
        counts = self.counts(name)
        every = {k: queue.setting(k) for k in SETTABLE if queue.setting(k)}
        if queue.fifo:
            every |= {"FifoQueue": "true"} | {k: queue.setting(k) for k in FIFO_SETTABLE}
        every |= {
            "QueueArn": self.arn(name),
            "ApproximateNumberOfMessages": str(counts["visible"]),
            "ApproximateNumberOfMessagesNotVisible": str(counts["in_flight"]),
            "ApproximateNumberOfMessagesDelayed": str(counts["delayed"]),
            "CreatedTimestamp": str(int(queue.created_at)),
            "LastModifiedTimestamp": str(int(queue.modified_at)),
        }
        wanted = set(names or ())
        for unknown in wanted - set(every) - set(SETTABLE) - set(FIFO_SETTABLE) - {
                "All", "FifoQueue"}:
            raise InvalidAttributeName(f"Unknown Attribute {unknown}.")
        return {k: v for k, v in every.items() if "All" in wanted or k in wanted}

    def counts(self, name: str) -> dict[str, int]:
        """Visible, in-flight (received) and delayed (never received) messages."""
        row = self.store.query(
            "SELECT SUM(visible_at <= ?1), SUM(visible_at > ?1 AND receive_count > 0), "
            "SUM(visible_at > ?1 AND receive_count = 0) FROM sqs_messages WHERE queue = ?2",
            (self.clock.now(), name),
        )[0]
        return {"visible": row[0] or 0, "in_flight": row[1] or 0, "delayed": row[2] or 0}

    def has_visible(self, name: str) -> bool:
        """Whether a receive now would find a message (cheaper than :meth:`counts`): in a
        FIFO queue, one of a group with nothing in flight."""
        return bool(self.store.query(
            "SELECT 1 FROM sqs_messages m WHERE queue = ?1 AND visible_at <= ?2"
            + (_GROUP_FREE if name.endswith(".fifo") else "") + " LIMIT 1",
            (name, self.clock.now()),
        ))

    def purge(self, name: str) -> None:
        self.get_queue(name)
        with self.store.transaction() as db:
            db.execute("DELETE FROM sqs_messages WHERE queue = ?", (name,))

    # -- messages ---------------------------------------------------------------------

    def send_message(
        self, name: str, body: Any, *, delay_seconds: int | None = None,
        message_attributes: Mapping[str, Any] | None = None,
        trace_header: str | None = None, group_id: str | None = None,
        dedup_id: str | None = None,
    ) -> SentMessage:
        """Enqueue one message; it is committed before this returns. ``trace_header`` is
        the ``AWSTraceHeader`` system attribute (AWS services set it when they send);
        ``group_id`` and ``dedup_id`` are a FIFO queue's MessageGroupId and
        MessageDeduplicationId."""
        outgoing = Outgoing(body, delay_seconds, message_attributes, group_id, dedup_id)
        return self.send_messages(name, [outgoing], trace_header=trace_header)[0]

    def send_messages(
        self, name: str, entries: list[Outgoing], *, trace_header: str | None = None,
    ) -> list[SentMessage]:
        """Enqueue several messages in one transaction (every entry valid, or an error).

        In a FIFO queue a message whose deduplication id was sent in the last 5 minutes
        is accepted and not enqueued: the answer is the first one's
        (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/FIFO-queues-exactly-once-processing.html)."""
        queue = self.get_queue(name)
        checked = [self._checked(queue, entry) for entry in entries]
        now = self.clock.now()
        system = json.dumps({"AWSTraceHeader": trace_header}) if trace_header else None
        with self.store.transaction() as db:
            if queue.fifo:
                db.execute("DELETE FROM sqs_dedup WHERE queue = ? AND expires_at <= ?",
                           (name, now))
            sent = [self._insert(db, queue, message, now, system) for message in checked]
        delays = [message.delay for message in checked if message.delay]
        if delays:
            self._wake_at(now + min(delays))
        self._notify()
        return sent

    def _insert(self, db: sqlite3.Connection, queue: Queue, message: Checked, now: float,
                system: str | None) -> SentMessage:
        """Insert one checked message (or find its duplicate) in ``db``'s transaction."""
        md5_body, md5_attributes = md5_hex(message.body), attributes_md5(message.attributes)
        sequence = None
        if queue.fifo:
            scope = message.group_id if queue.setting("DeduplicationScope") == "messageGroup" else ""
            seen = db.execute(
                "SELECT message_id, sequence FROM sqs_dedup WHERE queue = ? AND scope = ? "
                "AND dedup_id = ?", (queue.name, scope, message.dedup_id)).fetchone()
            if seen is not None:
                return SentMessage(seen[0], md5_body, md5_attributes, seen[1])
            sequence = _next_sequence(db, queue.name)
        message_id = str(uuid.uuid4())
        db.execute(
            "INSERT INTO sqs_messages (queue, message_id, body, message_attributes, sent_at, "
            "visible_at, system_attributes, group_id, dedup_id, sequence) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (queue.name, message_id, message.body, json.dumps(message.attributes), now,
             now + message.delay, system, message.group_id, message.dedup_id, sequence),
        )
        if sequence is not None:
            db.execute(
                "INSERT OR REPLACE INTO sqs_dedup (queue, scope, dedup_id, message_id, "
                "sequence, expires_at) VALUES (?, ?, ?, ?, ?, ?)",
                (queue.name, scope, message.dedup_id, message_id, sequence,
                 now + quotas.SQS_DEDUP_WINDOW_S),
            )
        return SentMessage(message_id, md5_body, md5_attributes, sequence)

    def _checked(self, queue: Queue, outgoing: Outgoing) -> Checked:
        body = outgoing.body
        if not isinstance(body, str) or body == "":
            raise InvalidParameterValue(
                "The request must contain the parameter MessageBody: a non-empty string."
            )
        if _INVALID_CHARS.search(body):
            raise InvalidParameterValue(
                "Invalid binary character in the message body. Only #x9 | #xA | #xD | "
                "#x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF are allowed; "
                "base64-encode binary data."
            )
        checked = check_message_attributes(outgoing.message_attributes)
        limit = queue.integer("MaximumMessageSize")
        if _size(body, checked) > limit:
            raise MessageTooLong(
                "One or more parameters are invalid. Reason: Message must be shorter than "
                f"{limit} bytes. Store large payloads elsewhere (S3) and send a reference."
            )
        group_id, dedup_id = _fifo_ids(queue, outgoing)
        delay = outgoing.delay_seconds
        if delay is not None and queue.fifo:
            raise _not_for_this_queue("DelaySeconds", delay)
        if delay is None:
            delay = queue.integer("DelaySeconds")
        delay = _integer("DelaySeconds", delay, 0, quotas.SQS_DELAY_MAX_S)
        return Checked(body, delay, checked, group_id, dedup_id)

    def receive_message(
        self, name: str, *, max_number_of_messages: int = 1,
        visibility_timeout: int | None = None, wait_time_seconds: int | None = None,
        attempt_id: str | None = None,
    ) -> list[Message]:
        """Receive up to ``max_number_of_messages``; long-poll up to ``wait_time_seconds``.

        The wait is measured on the Lab's clock and ends as soon as a message arrives
        (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-short-and-long-polling.html).
        """
        queue = self.get_queue(name)
        count = _integer("MaxNumberOfMessages", max_number_of_messages, 1,
                         quotas.SQS_RECEIVE_MAX_MESSAGES)
        if wait_time_seconds is None:
            wait_time_seconds = queue.integer("ReceiveMessageWaitTimeSeconds")
        wait = _integer("WaitTimeSeconds", wait_time_seconds, 0, quotas.SQS_WAIT_TIME_MAX_S)
        deadline = self.clock.now() + wait
        timer = self.clock.call_at(deadline, self._notify) if wait else None
        try:
            while True:
                messages = self.receive_now(name, count, visibility_timeout, attempt_id)
                if messages or self.clock.now() >= deadline or self._closed:
                    return messages
                with self.changed:
                    self.changed.wait(0.5)
        finally:
            if timer is not None:
                timer.cancel()

    def receive_now(
        self, name: str, count: int, visibility_timeout: int | None = None,
        attempt_id: str | None = None,
    ) -> list[Message]:
        """Take up to ``count`` visible messages in flight, without waiting. On a FIFO
        queue, ``attempt_id`` (ReceiveRequestAttemptId) retried within 5 minutes gives
        the same messages and receipt handles again, with a new visibility timeout, while
        none of them was deleted or had its visibility changed
        (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_ReceiveMessage.html)."""
        queue = self.get_queue(name)
        hide = queue.integer("VisibilityTimeout") if visibility_timeout is None else _integer(
            "VisibilityTimeout", visibility_timeout, 0, quotas.SQS_VISIBILITY_TIMEOUT_MAX_S)
        attempt = None if attempt_id is None or not queue.fifo else _fifo_id(
            "ReceiveRequestAttemptId", attempt_id)
        now = self.clock.now()
        expired = now - queue.integer("MessageRetentionPeriod")
        with self.store.transaction() as db:
            db.execute("DELETE FROM sqs_messages WHERE queue = ? AND sent_at <= ?", (name, expired))
            out = _attempt_again(db, name, attempt, now, hide) if attempt else None
            if out is None:
                out = self._receive(db, queue, count, now, hide)
                if attempt and out:
                    _remember_attempt(db, name, attempt, out, now + hide, now)
        if out and hide:
            self._wake_at(now + hide)
        return out

    def _receive(self, db: sqlite3.Connection, queue: Queue, count: int, now: float,
                 hide: int) -> list[Message]:
        name, redrive = queue.name, queue.redrive
        out: list[Message] = []
        if queue.fifo:
            rows = _fifo_rows(db, name, now)
        else:
            rows = db.execute(
                "SELECT * FROM sqs_messages WHERE queue = ? AND visible_at <= ? "
                "ORDER BY visible_at, id LIMIT ?", (name, now, count * 2 if redrive else count),
            ).fetchall()
        for row in rows:
            if redrive and row["receive_count"] >= redrive["maxReceiveCount"]:
                self._redrive(db, row, redrive["deadLetterTargetArn"])
                continue
            if len(out) < count:
                attributes = self.store.loaded(
                    "sqs_messages", {"id": row["id"]},
                    lambda: _message_attributes(row),  # noqa: B023 - called at once
                )
                if attributes is not None:  # a damaged message is reported and left
                    out.append(self._take(db, row, now, hide, attributes))
        return out

    def _take(self, db: sqlite3.Connection, row: sqlite3.Row, now: float, hide: int,
              attributes: dict[str, Any]) -> Message:
        receipt = _receipt(row["queue"], row["id"])
        first = row["first_received_at"] or now
        db.execute(
            "UPDATE sqs_messages SET visible_at = ?, receive_count = receive_count + 1, "
            "first_received_at = ?, receipt = ? WHERE id = ?",
            (now + hide, first, receipt, row["id"]),
        )
        return _message(row, receipt, first, row["receive_count"] + 1, attributes)

    def _redrive(self, db: sqlite3.Connection, row: sqlite3.Row, target_arn: str) -> None:
        """Move a message that was received maxReceiveCount times to its dead-letter queue."""
        target = name_from_arn(target_arn)
        exists = db.execute("SELECT 1 FROM sqs_queues WHERE name = ?", (target,)).fetchone()
        if exists is None:
            return  # AWS keeps the message where it is while the DLQ is missing
        db.execute(
            "UPDATE sqs_messages SET queue = ?, visible_at = ?, receive_count = 0, "
            "first_received_at = NULL, receipt = NULL WHERE id = ?",
            (target, self.clock.now(), row["id"]),
        )

    def delete_message(self, name: str, receipt_handle: Any) -> None:
        """Delete a received message. A handle of an already deleted message is fine."""
        self.get_queue(name)
        row_id = _receipt_row(name, receipt_handle)
        with self.store.transaction() as db:
            db.execute("DELETE FROM sqs_messages WHERE id = ? AND receipt = ?",
                       (row_id, receipt_handle))

    def delete_messages(self, name: str, receipt_handles: list[str]) -> None:
        """Delete many received messages in one transaction (a poller's batch)."""
        rows = [(_receipt_row(name, handle), handle) for handle in receipt_handles]
        with self.store.transaction() as db:
            db.executemany("DELETE FROM sqs_messages WHERE id = ? AND receipt = ?", rows)

    def change_message_visibility(self, name: str, receipt_handle: Any, visibility_timeout: Any) -> None:
        """Hide an in-flight message for ``visibility_timeout`` more seconds (0: release it)."""
        self.get_queue(name)
        row_id = _receipt_row(name, receipt_handle)
        hide = _integer("VisibilityTimeout", visibility_timeout, 0,
                        quotas.SQS_VISIBILITY_TIMEOUT_MAX_S)
        now = self.clock.now()
        with self.store.transaction() as db:
            row = db.execute("SELECT visible_at FROM sqs_messages WHERE id = ? AND receipt = ?",
                             (row_id, receipt_handle)).fetchone()
            if row is None:
                raise ReceiptHandleIsInvalid(
                    f"The receipt handle \"{receipt_handle}\" is no longer valid: the message "
                    "was deleted or received again. Receive it again for a new handle."
                )
            if row[0] <= now:
                raise MessageNotInflight(
                    "The message is not in flight: its visibility timeout has passed. "
                    "Receive it again before changing its visibility."
                )
            db.execute("UPDATE sqs_messages SET visible_at = ? WHERE id = ?", (now + hide, row_id))
        self._wake_at(now + hide) if hide else self._notify()

    # -- waking waiters on the Lab's clock ---------------------------------------------

    def _notify(self) -> None:
        with self.changed:
            self.changed.notify_all()

    def _wake_at(self, when: float) -> None:
        """Make sure waiters are notified when the clock reaches ``when``."""
        with self.changed:
            if self._wake is not None and not self._wake.cancelled and self._wake.when <= when:
                return  # it fires first, then schedules the next due message itself
            if self._wake is not None:
                self._wake.cancel()
            self._wake = self.clock.call_at(when, self._due)

    def _due(self) -> None:
        with self.changed:
            self._wake = None
        self._notify()
        if not self._closed:
            try:
                self._schedule_next_due()
            except sqlite3.ProgrammingError:  # the lab closed its store meanwhile
                pass

    def _schedule_next_due(self) -> None:
        row = self.store.query(
            "SELECT MIN(visible_at) FROM sqs_messages WHERE visible_at > ?", (self.clock.now(),)
        )[0]
        if row[0] is not None:
            self._wake_at(row[0])

    def close(self) -> None:
        self._closed = True
        with self.changed:
            if self._wake is not None:
                self._wake.cancel()
            self.changed.notify_all()


def _fifo_rows(db: sqlite3.Connection, name: str, now: float) -> list[sqlite3.Row]:
    """A FIFO queue's receivable messages: those of groups with nothing in flight, the
    oldest group's first and each group's in its order, so that one receive returns as
    many messages of one group as it can (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/FIFO-queues-understanding-logic.html)."""
    rows = db.execute(
        "SELECT * FROM sqs_messages m WHERE queue = ?1 AND visible_at <= ?2" + _GROUP_FREE
        + " ORDER BY id LIMIT ?3", (name, now, _FIFO_SCAN),
    ).fetchall()
    rank: dict[str, int] = {}
    for row in rows:
        rank.setdefault(row["group_id"], len(rank))
    return sorted(rows, key=lambda row: (rank[row["group_id"]], row["id"]))


def _message(row: sqlite3.Row, receipt: str, first: float, count: int,
             attributes: dict[str, Any]) -> Message:
    return Message(
        row["message_id"], receipt, row["body"], attributes, row["sent_at"], first, count,
        json.loads(row["system_attributes"] or "{}") | _fifo_attributes(row),
    )


def _remember_attempt(db: sqlite3.Connection, queue: str, attempt: str,
                      received: list[Message], hidden_until: float, now: float) -> None:
    """Keep what a receive with a ReceiveRequestAttemptId gave, for 5 minutes: each
    receipt handle and the time its message is hidden until (a change shows)."""
    db.execute(
        "INSERT OR REPLACE INTO sqs_attempts (queue, attempt_id, received, expires_at) "
        "VALUES (?, ?, ?, ?)",
        (queue, attempt, json.dumps([[m.receipt_handle, hidden_until] for m in received]),
         now + quotas.SQS_DEDUP_WINDOW_S),
    )


def _attempt_again(db: sqlite3.Connection, queue: str, attempt: str, now: float,
                   hide: int) -> list[Message] | None:
    """The messages a receive with ``attempt`` gave, hidden again for ``hide`` seconds;
    ``None`` when there is none to give again (unknown, expired, or a message of it
    deleted, received again or given another visibility timeout)."""
    db.execute("DELETE FROM sqs_attempts WHERE queue = ? AND expires_at <= ?", (queue, now))
    kept = db.execute("SELECT received FROM sqs_attempts WHERE queue = ? AND attempt_id = ?",
                      (queue, attempt)).fetchone()
    if kept is None:
        return None
    rows = []
    for receipt, hidden_until in json.loads(kept[0]):
        row = db.execute("SELECT * FROM sqs_messages WHERE queue = ? AND receipt = ?",
                         (queue, receipt)).fetchone()
        if row is None or row["visible_at"] != hidden_until:
            return None
        rows.append(row)
    out = []
    for row in rows:
        db.execute("UPDATE sqs_messages SET visible_at = ? WHERE id = ?", (now + hide, row["id"]))
        out.append(_message(row, row["receipt"], row["first_received_at"], row["receive_count"],
                            _message_attributes(row)))
    _remember_attempt(db, queue, attempt, out, now + hide, now)
    return out


def _fifo_attributes(row: sqlite3.Row) -> dict[str, str]:
    """The system attributes of a message's group, deduplication id and sequence number."""
    values = {"MessageGroupId": row["group_id"], "MessageDeduplicationId": row["dedup_id"],
              "SequenceNumber": row["sequence"]}
    return {name: value for name, value in values.items() if value is not None}


def _not_for_this_queue(parameter: str, value: Any) -> InvalidParameterValue:
    return InvalidParameterValue(
        f"Value {value} for parameter {parameter} is invalid. Reason: The request include "
        "parameter that is not valid for this queue type."
    )


def _fifo_id(parameter: str, value: Any) -> str:
    if not isinstance(value, str) or len(value) > quotas.SQS_FIFO_ID_MAX \
            or not _FIFO_ID.match(value):
        raise InvalidParameterValue(
            f"Value {value} for parameter {parameter} is invalid. Reason: {parameter} can "
            "only include alphanumeric and punctuation characters. 1 to "
            f"{quotas.SQS_FIFO_ID_MAX} in length."
        )
    return value


def _fifo_ids(queue: Queue, outgoing: Outgoing) -> tuple[str | None, str | None]:
    """The message's group and deduplication ids, as its queue's type asks: a FIFO
    queue needs a group, and a deduplication id unless ContentBasedDeduplication makes
    one (the SHA-256 of the body); a standard queue takes no deduplication id (a group
    id it keeps and shows, without ordering by it)."""
    group, dedup = outgoing.group_id, outgoing.dedup_id
    if not queue.fifo:
        if dedup is not None:
            raise _not_for_this_queue("MessageDeduplicationId", dedup)
        return (None if group is None else _fifo_id("MessageGroupId", group)), None
    if group in (None, ""):
        raise MissingParameter("The request must contain the parameter MessageGroupId.")
    if dedup is None:
        if queue.setting("ContentBasedDeduplication") != "true":
            raise InvalidParameterValue(
                "The queue should either have ContentBasedDeduplication enabled or "
                "MessageDeduplicationId provided explicitly"
            )
        dedup = hashlib.sha256(str(outgoing.body).encode()).hexdigest()
    return _fifo_id("MessageGroupId", group), _fifo_id("MessageDeduplicationId", dedup)


def _next_sequence(db: sqlite3.Connection, queue: str) -> str:
    """The queue's next sequence number: 20 digits, growing with each message."""
    db.execute("INSERT OR IGNORE INTO sqs_sequences (queue, last) VALUES (?, 0)", (queue,))
    db.execute("UPDATE sqs_sequences SET last = last + 1 WHERE queue = ?", (queue,))
    last = db.execute("SELECT last FROM sqs_sequences WHERE queue = ?", (queue,)).fetchone()[0]
    return str(_SEQUENCE_BASE + last)


def _message_attributes(row: sqlite3.Row) -> dict[str, Any]:
    attributes = json.loads(row["message_attributes"])
    if not isinstance(attributes, dict) or not isinstance(row["body"], str):
        raise TypeError("a message has a body of text and attributes in a JSON object")
    return attributes


def _queue(row: sqlite3.Row) -> Queue:
    """A stored queue; TypeError or ValueError when its row is damaged."""
    attributes, tags = json.loads(row["attributes"]), json.loads(row["tags"])
    if not isinstance(attributes, dict) or not isinstance(tags, dict):
        raise TypeError("attributes and tags must be JSON objects")
    return Queue(row["name"], attributes, float(row["created_at"]), float(row["modified_at"]),
                 tags)
