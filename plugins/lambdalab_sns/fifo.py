"""FIFO topics: message groups, deduplication and sequence numbers
(https://docs.aws.amazon.com/sns/latest/dg/sns-fifo-topics.html,
https://docs.aws.amazon.com/sns/latest/dg/fifo-message-dedup.html).

Every message published to a FIFO topic names its ``MessageGroupId``; its
``MessageDeduplicationId`` is the one given, or with ``ContentBasedDeduplication`` the
SHA-256 of the message body. A message whose deduplication id the topic saw in the last
5 minutes (on the lab's clock; within its group when ``FifoThroughputScope`` is
``MessageGroup``) is accepted, answered with the first one's ``MessageId`` and
``SequenceNumber``, and not delivered again. Sequence numbers grow per topic. The ledger
is written in the transaction that commits the message's deliveries, so a duplicate is
never half-recorded.
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
import string
from dataclasses import dataclass
from typing import Any

from . import quotas
from .exceptions import InvalidParameterException

#: MessageGroupId and MessageDeduplicationId: up to 128 letters, digits and punctuation.
_TOKEN = re.compile("^[A-Za-z0-9" + re.escape(string.punctuation) + "]{1,%d}$" % quotas.FIFO_TOKEN_MAX)

MIGRATION = """
CREATE TABLE sns_fifo_sequences (
    topic TEXT PRIMARY KEY,
    last INTEGER NOT NULL
);
CREATE TABLE sns_fifo_dedup (
    topic TEXT NOT NULL,
    dedup_key TEXT NOT NULL,
    message_id TEXT NOT NULL,
    sequence_number TEXT NOT NULL,
    expires_at REAL NOT NULL,
    PRIMARY KEY (topic, dedup_key)
);
"""


@dataclass(frozen=True)
class FifoIds:
    """A FIFO message's group and deduplication id (checked)."""

    group_id: str
    deduplication_id: str


def check_token(name: str, value: Any) -> str:
    if not isinstance(value, str) or not _TOKEN.match(value):
        raise InvalidParameterException(
            f"Invalid parameter: {name} Reason: up to {quotas.FIFO_TOKEN_MAX} letters, digits "
            "and punctuation.")
    return value


def fifo_ids(content_based: bool, message: str, group_id: Any, deduplication_id: Any) -> FifoIds:
    """The ids of a message to a FIFO topic, as SNS requires them."""
    if group_id is None:
        raise InvalidParameterException(
            "Invalid parameter: The MessageGroupId parameter is required for FIFO topics")
    group = check_token("MessageGroupId", group_id)
    if deduplication_id is None:
        if not content_based:
            raise InvalidParameterException(
                "Invalid parameter: The topic should either have ContentBasedDeduplication "
                "enabled or MessageDeduplicationId provided explicitly")
        return FifoIds(group, hashlib.sha256(message.encode()).hexdigest())
    return FifoIds(group, check_token("MessageDeduplicationId", deduplication_id))


def check_standard(group_id: Any, deduplication_id: Any) -> None:
    """A standard topic takes a MessageGroupId (for SQS fair queues) but no
    MessageDeduplicationId."""
    if deduplication_id is not None:
        raise InvalidParameterException(
            "Invalid parameter: MessageDeduplicationId Reason: The request includes "
            "MessageDeduplicationId parameter that is not valid for this topic type")
    if group_id is not None:
        check_token("MessageGroupId", group_id)


def admit(db: sqlite3.Connection, topic: str, dedup_key: str, message_id: str,
          now: float) -> tuple[str, str | None]:
    """In the caller's transaction: ``(sequence number, None)`` for a new message, or the
    first message's ``(sequence number, message id)`` for a duplicate."""
    db.execute("DELETE FROM sns_fifo_dedup WHERE topic = ? AND expires_at <= ?", (topic, now))
    seen = db.execute("SELECT message_id, sequence_number FROM sns_fifo_dedup WHERE topic = ? "
                      "AND dedup_key = ?", (topic, dedup_key)).fetchone()
    if seen is not None:
        return seen["sequence_number"], seen["message_id"]
    db.execute("INSERT INTO sns_fifo_sequences (topic, last) VALUES (?, 1) "
               "ON CONFLICT (topic) DO UPDATE SET last = last + 1", (topic,))
    last = db.execute("SELECT last FROM sns_fifo_sequences WHERE topic = ?", (topic,)).fetchone()[0]
    sequence = f"{int(last) + quotas.FIFO_SEQUENCE_BASE:0{quotas.FIFO_SEQUENCE_DIGITS}d}"
    db.execute("INSERT INTO sns_fifo_dedup (topic, dedup_key, message_id, sequence_number, "
               "expires_at) VALUES (?, ?, ?, ?, ?)",
               (topic, dedup_key, message_id, sequence, now + quotas.FIFO_DEDUP_INTERVAL_S))
    return sequence, None


def forget(db: sqlite3.Connection, topic: str) -> None:
    """Drop a deleted topic's ledger (a topic made again with its name starts afresh)."""
    db.execute("DELETE FROM sns_fifo_dedup WHERE topic = ?", (topic,))
    db.execute("DELETE FROM sns_fifo_sequences WHERE topic = ?", (topic,))


__all__ = ["FifoIds", "fifo_ids", "check_standard", "check_token", "admit", "forget", "MIGRATION"]
