"""Publish and PublishBatch: check a message, then deliver it to each subscription whose
filter policy it matches.

What each protocol receives is what AWS sends
(https://docs.aws.amazon.com/lambda/latest/dg/with-sns.html,
https://docs.aws.amazon.com/sns/latest/dg/sns-message-and-json-formats.html,
https://docs.aws.amazon.com/sns/latest/dg/sns-large-payload-raw-message-delivery.html):

- ``lambda``: the function is invoked *asynchronously* (``InvocationType: Event``) with
  ``{"Records": [{"EventSource": "aws:sns", "EventVersion": "1.0",
  "EventSubscriptionArn": …, "Sns": {…the notification…}}]}``, so the function's
  retries, maximum event age, destinations and dead-letter queue apply;
- ``sqs``: the notification as JSON text (``Type``, ``MessageId``, ``TopicArn``,
  ``Subject``, ``Message``, ``Timestamp``, ``Signature…``, ``UnsubscribeURL``,
  ``MessageAttributes``), or with ``RawMessageDelivery`` the bare message, its
  attributes becoming SQS message attributes. The queue is reached through the
  ``lambdalab_destination_sender`` hook, so SNS knows no SQS internals.

A publisher's X-Ray trace header (``X-Amzn-Trace-Id``) goes on to every subscriber, as
SNS passes it through
(https://docs.aws.amazon.com/xray/latest/devguide/xray-services-sns.html): a Lambda
subscriber's invoke continues the trace, an SQS subscriber's message carries it as
``AWSTraceHeader``.

:mod:`.delivery` sends the message to each matching subscription while Publish runs,
stores what must be retried before Publish answers (so an acknowledged message is never
lost), retries it as SNS retries and moves what SNS gives up on to the subscription's
dead-letter queue.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import secrets
import threading
import uuid
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Mapping

from lambdalab.plugin import DestinationMessage, ServiceError, iso_ms

from . import quotas
from .exceptions import (
    BatchEntryIdsNotDistinctException,
    BatchRequestTooLongException,
    EmptyBatchRequestException,
    InvalidBatchEntryIdException,
    InvalidParameterException,
    InvalidParameterValueException,
    SnsError,
    TooManyEntriesInBatchRequestException,
)
from .delivery import Delivery, Deliveries
from .endpoints import post
from .fifo import FifoIds, admit, check_standard, fifo_ids
from .filter_policies import policy_matches
from .models import Subscription, Topic, Topics

if TYPE_CHECKING:
    from lambdalab import Lab


log = logging.getLogger("lambdalab.sns")
_BATCH_ID = re.compile(rf"^[A-Za-z0-9_-]{{1,{quotas.BATCH_ID_MAX}}}$")
_ATTRIBUTE_TYPES = ("String", "Number", "Binary")


@dataclass(frozen=True)
class Notification:
    """One published message, as each subscription is sent it."""

    message_id: str
    topic_arn: str
    message: str
    timestamp: float
    subject: str | None = None
    attributes: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: MessageStructure ``json``: a message per protocol (``default`` for the others).
    per_protocol: dict[str, str] = field(default_factory=dict)
    #: The publisher's X-Ray trace header, which the deliveries continue.
    trace_header: str | None = None
    #: A FIFO topic's sequence number for the message.
    sequence_number: str | None = None
    #: A FIFO topic's message group and deduplication id, passed on to FIFO queues.
    group_id: str | None = None
    dedup_id: str | None = None

    def text_for(self, protocol: str) -> str:
        return self.per_protocol.get(protocol, self.message)

    def envelope(self, subscription: Subscription, endpoint: str, url_case: str) -> dict[str, Any]:
        """The notification's JSON; ``url_case`` is ``"Url"`` in Lambda's event and
        ``"URL"`` in what SQS and HTTP receive."""
        out: dict[str, Any] = {"Type": "Notification", "MessageId": self.message_id}
        if self.sequence_number is not None:
            out["SequenceNumber"] = self.sequence_number
        out["TopicArn"] = self.topic_arn
        if self.subject is not None or url_case == "Url":
            out["Subject"] = self.subject
        out |= {
            "Message": self.text_for(subscription.protocol),
            "Timestamp": iso_ms(self.timestamp),
            "SignatureVersion": "1",
            "Signature": base64.b64encode(secrets.token_bytes(256)).decode(),
            f"SigningCert{url_case}": f"{endpoint}/SimpleNotificationService-{secrets.token_hex(16)}.pem",
            f"Unsubscribe{url_case}": f"{endpoint}/?Action=Unsubscribe&SubscriptionArn={subscription.arn}",
        }
        if self.attributes or url_case == "Url":
            out["MessageAttributes"] = {name: _envelope_attribute(a) for name, a in self.attributes.items()}
        return out

    def lambda_event(self, subscription: Subscription, endpoint: str) -> dict[str, Any]:
        return {"Records": [{
            "EventSource": "aws:sns", "EventVersion": "1.0",
            "EventSubscriptionArn": subscription.arn,
            "Sns": self.envelope(subscription, endpoint, "Url"),
        }]}

    def http_post(self, subscription: Subscription, notified: str) -> DestinationMessage:
        """What an http(s) endpoint is POSTed: the notification JSON (or, raw, the message)
        and SNS's headers (its ``attributes``)."""
        headers = {"x-amz-sns-message-type": "Notification", "x-amz-sns-message-id": self.message_id,
                   "x-amz-sns-topic-arn": self.topic_arn, "x-amz-sns-subscription-arn": subscription.arn}
        if subscription.raw:
            return DestinationMessage(self.text_for(subscription.protocol),
                                      {**headers, "x-amz-sns-rawdelivery": "true"})
        return DestinationMessage(notified, headers)

    def sqs_message(self, subscription: Subscription, endpoint: str) -> DestinationMessage:
        if not subscription.raw:
            return DestinationMessage(json.dumps(self.envelope(subscription, endpoint, "URL")), {},
                                      trace_header=self.trace_header, group_id=self.group_id,
                                      dedup_id=self.dedup_id)
        strings = {n: a for n, a in self.attributes.items() if "StringValue" in a}
        return DestinationMessage(self.text_for("sqs"),
                                  {n: a["StringValue"] for n, a in strings.items()},
                                  {n: a["DataType"] for n, a in strings.items()},
                                  trace_header=self.trace_header, group_id=self.group_id,
                                  dedup_id=self.dedup_id)


def _envelope_attribute(attribute: Mapping[str, Any]) -> dict[str, str]:
    value = attribute.get("StringValue")
    if value is None:
        value = base64.b64encode(attribute["BinaryValue"]).decode()
    return {"Type": attribute["DataType"], "Value": value}


@dataclass(frozen=True)
class Published:
    """What Publish answers: the MessageId, and a FIFO topic's SequenceNumber."""

    message_id: str
    sequence_number: str | None = None

    def to_aws(self) -> dict[str, str]:
        out = {"MessageId": self.message_id}
        if self.sequence_number is not None:
            out["SequenceNumber"] = self.sequence_number
        return out


class Publisher:
    """Publishes to one lab's topics."""

    def __init__(self, lab: "Lab", topics: Topics) -> None:
        self.lab = lab
        self.topics = topics
        self.deliveries = Deliveries(lab, topics)
        #: FIFO messages are numbered, recorded and sent one at a time, so that each
        #: group's messages leave in the order of their sequence numbers.
        self._fifo_order = threading.Lock()

    def publish(self, topic_arn: Any, message: Any, *, subject: Any = None,
                message_structure: Any = None,
                message_attributes: Mapping[str, Any] | None = None,
                trace_header: str | None = None) -> str:
        """Publish one message; its MessageId. ``trace_header``: the publisher's X-Ray
        header, which each delivery continues."""
        return self.publish_message(topic_arn, message, subject=subject, message_structure=message_structure,
                                    message_attributes=message_attributes,
                                    trace_header=trace_header).message_id

    def publish_message(self, topic_arn: Any, message: Any, *, subject: Any = None,
                        message_structure: Any = None,
                        message_attributes: Mapping[str, Any] | None = None,
                        trace_header: str | None = None, message_group_id: Any = None,
                        message_deduplication_id: Any = None) -> Published:
        """Publish one message, to a standard or a FIFO topic (which needs
        ``message_group_id``, and ``message_deduplication_id`` unless it deduplicates by
        content)."""
        topic = self.topics.get_topic(topic_arn)
        notification = replace(self._notification(topic_arn, message, subject, message_structure,
                                                  message_attributes), trace_header=trace_header)
        if not topic.fifo:
            check_standard(message_group_id, message_deduplication_id)
            self._deliver(notification)
            return Published(notification.message_id)
        ids = fifo_ids(topic.content_based_deduplication, notification.message, message_group_id,
                       message_deduplication_id)
        return self._publish_fifo(topic, notification, ids)

    def _publish_fifo(self, topic: Topic, notification: Notification, ids: FifoIds) -> Published:
        """Number the message and commit its deliveries in one transaction (a duplicate
        within the deduplication interval gets the first one's answer, and no delivery)."""
        key = ids.deduplication_id
        if topic.attributes.get("FifoThroughputScope") == "MessageGroup":
            key = f"{ids.group_id}\n{key}"
        with self._fifo_order:
            with self.lab.store.transaction() as db:
                sequence, first = admit(db, topic.name, key, notification.message_id, self.lab.clock.now())
                if first is not None:
                    return Published(first, sequence)
                numbered = replace(notification, sequence_number=sequence,
                                   group_id=ids.group_id, dedup_id=ids.deduplication_id)
                deliveries = self.deliveries.insert(db, self._deliveries_of(numbered))
            self.deliveries.send(deliveries)
        return Published(notification.message_id, sequence)

    def publish_batch(self, topic_arn: Any, entries: list[Mapping[str, Any]],
                      trace_header: str | None = None
                      ) -> tuple[list[dict[str, str]], list[dict[str, Any]]]:
        """PublishBatch: ``(Successful, Failed)``; a whole-batch problem raises (on a FIFO
        topic, an entry without MessageGroupId, or without MessageDeduplicationId where the
        topic does not deduplicate by content, is one)."""
        topic = self.topics.get_topic(topic_arn)
        _check_batch(entries)
        if topic.fifo:
            for entry in entries:
                fifo_ids(topic.content_based_deduplication, str(entry.get("Message") or ""),
                         entry.get("MessageGroupId"), entry.get("MessageDeduplicationId"))
        successful, failed = [], []
        for entry in entries:
            try:
                published = self.publish_message(
                    topic_arn, entry.get("Message"), subject=entry.get("Subject"),
                    message_structure=entry.get("MessageStructure"),
                    message_attributes=entry.get("MessageAttributes"), trace_header=trace_header,
                    message_group_id=entry.get("MessageGroupId"),
                    message_deduplication_id=entry.get("MessageDeduplicationId"))
            except SnsError as e:
                failed.append({"Id": entry["Id"], "Code": e.query_code,
                               "Message": e.message, "SenderFault": True})
            else:
                successful.append({"Id": entry["Id"], **published.to_aws()})
        return successful, failed

    def _notification(self, topic_arn: Any, message: Any, subject: Any, structure: Any,
                      attributes: Mapping[str, Any] | None) -> Notification:
        topic = self.topics.get_topic(topic_arn)
        checked_attributes = check_attributes(attributes or {})
        text, per_protocol = check_message(message, structure)
        check_subject(subject)
        if _size(text, checked_attributes) > quotas.MESSAGE_MAX_BYTES:
            raise InvalidParameterException(
                "Invalid parameter: Message too long (a message and its attributes are at most "
                f"{quotas.MESSAGE_MAX_BYTES} bytes; put large payloads in S3 and publish a reference).")
        return Notification(str(uuid.uuid4()), topic.arn, text, self.lab.clock.now(), subject,
                            checked_attributes, per_protocol)

    def _deliver(self, notification: Notification) -> None:
        """Send the message to each subscription it matches (:mod:`.delivery`: what must
        be retried is stored before this returns, and dead-lettered as SNS does)."""
        self.deliveries.send(self._deliveries_of(notification))

    def _deliveries_of(self, notification: Notification) -> list[Delivery]:
        """A delivery to each subscription whose filter policy the message matches."""
        return [self._delivery(notification, subscription)
                for subscription in self.topics.subscriptions_of(notification.topic_arn)
                if not subscription.pending and policy_matches(subscription.filter_policy, subscription.filter_scope,
                                  notification.text_for(subscription.protocol),
                                  notification.attributes)]

    def _delivery(self, notification: Notification, subscription: Subscription) -> Delivery:
        """What ``subscription`` is sent, and what its dead-letter queue would get: the
        same for an SQS queue, the notification JSON for a function, the notification
        JSON or (raw) the message for an HTTP endpoint."""
        endpoint = self.endpoint()
        if subscription.protocol == "sqs":
            message = notification.sqs_message(subscription, endpoint)
            dead_letter = message.body
        else:
            dead_letter = json.dumps(notification.envelope(subscription, endpoint, "URL"))
            if subscription.protocol == "lambda":
                message = DestinationMessage(json.dumps(notification.lambda_event(subscription, endpoint)), {})
            else:
                message = notification.http_post(subscription, dead_letter)
                dead_letter = message.body
        return Delivery(0, subscription.arn, notification.message_id, subscription.protocol,
                        subscription.endpoint, message.body, dead_letter, notification.timestamp,
                        dict(message.attributes), dict(message.data_types), notification.trace_header,
                        message.group_id, message.dedup_id)

    def request_confirmation(self, subscription: Subscription) -> None:
        """POST an http(s) subscription its ``SubscriptionConfirmation`` (email and sms
        ones are never sent theirs). An endpoint that does not take it stays pending."""
        if subscription.protocol not in ("http", "https") or subscription.token is None:
            return
        message_id = str(uuid.uuid4())
        subscribe_url = (f"{self.endpoint()}/?Action=ConfirmSubscription&TopicArn={subscription.topic_arn}"
                         f"&Token={subscription.token}")
        body = {"Type": "SubscriptionConfirmation", "MessageId": message_id, "Token": subscription.token,
                "TopicArn": subscription.topic_arn,
                "Message": f"You have chosen to subscribe to the topic {subscription.topic_arn}.\n"
                           "To confirm the subscription, visit the SubscribeURL included in this message.",
                "SubscribeURL": subscribe_url, "Timestamp": iso_ms(self.lab.clock.now()),
                "SignatureVersion": "1", "Signature": base64.b64encode(secrets.token_bytes(256)).decode(),
                "SigningCertURL": f"{self.endpoint()}/SimpleNotificationService-{secrets.token_hex(16)}.pem"}
        try:
            post(subscription.endpoint, json.dumps(body), {
                "x-amz-sns-message-type": "SubscriptionConfirmation", "x-amz-sns-message-id": message_id,
                "x-amz-sns-topic-arn": subscription.topic_arn})
        except ServiceError as e:
            log.warning("SNS could not send %s its subscription confirmation: %s", subscription.endpoint, e)

    def endpoint(self) -> str:
        """Where the notification's SigningCertUrl and UnsubscribeUrl point."""
        return (self.lab.endpoint_url or f"https://sns.{self.lab.arns.region}.amazonaws.com").rstrip("/")


def check_message(message: Any, structure: Any) -> tuple[str, dict[str, str]]:
    """The default message and, for MessageStructure ``json``, the per-protocol ones."""
    if not isinstance(message, str) or not message:
        raise InvalidParameterException("Invalid parameter: Empty message")
    if structure is None:
        return message, {}
    if structure != "json":
        raise InvalidParameterException(
            "Invalid parameter: MessageStructure (the only value is json).")
    try:
        parsed = json.loads(message)
    except (ValueError, RecursionError):
        parsed = None
    if not isinstance(parsed, dict):
        raise InvalidParameterException(
            "Invalid parameter: Message Structure - JSON message body failed to parse")
    if not isinstance(parsed.get("default"), str):
        raise InvalidParameterException(
            "Invalid parameter: Message Structure - No default entry in JSON message body")
    return parsed["default"], {k: v for k, v in parsed.items() if isinstance(v, str)}


def check_subject(subject: Any) -> None:
    if subject is None:
        return
    if (not isinstance(subject, str) or not subject or len(subject) > quotas.SUBJECT_MAX_CHARS
            or not subject.isascii() or not subject.isprintable()):
        raise InvalidParameterException(
            f"Invalid parameter: Subject (1 to {quotas.SUBJECT_MAX_CHARS} printable ASCII "
            "characters, no line breaks).")


def check_attributes(attributes: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Message attributes as SNS takes them: a type of String, Number or Binary (with an
    optional ``.custom`` suffix; ``String.Array`` a JSON array) and a value of that type."""
    if len(attributes) > quotas.MESSAGE_ATTRIBUTES_MAX:
        raise InvalidParameterException(
            f"Invalid parameter: MessageAttributes (at most {quotas.MESSAGE_ATTRIBUTES_MAX}).")
    return {name: _check_attribute(name, value) for name, value in attributes.items()}


def _check_attribute(name: str, attribute: Any) -> dict[str, Any]:
    kind = attribute.get("DataType") if isinstance(attribute, dict) else None
    if not isinstance(kind, str) or kind.split(".", 1)[0] not in _ATTRIBUTE_TYPES:
        raise InvalidParameterValueException(
            f"The message attribute '{name}' has an invalid message attribute type, the set of "
            "supported type prefixes is Binary, Number, and String.")
    binary = kind.startswith("Binary")
    value = attribute.get("BinaryValue" if binary else "StringValue")
    if value is None or value == "" or value == b"":
        raise InvalidParameterValueException(
            f"The message attribute '{name}' must contain non-empty message attribute value "
            f"for message attribute type '{kind.split('.', 1)[0]}'.")
    if kind.startswith("Number") and not _is_number(value):
        raise InvalidParameterValueException(
            f"Could not cast message attribute '{name}' value to number.")
    if kind == "String.Array" and not _is_json_array(value):
        raise InvalidParameterValueException(
            f"The message attribute '{name}' with type 'String.Array' does not hold a JSON "
            "array (such as [\"a\", 1, true]).")
    return {"DataType": kind, ("BinaryValue" if binary else "StringValue"): value}


def _is_number(text: str) -> bool:
    try:
        number = float(text)
    except (TypeError, ValueError):
        return False
    return abs(number) <= 1e15 and number == number


def _is_json_array(text: str) -> bool:
    try:
        return isinstance(json.loads(text), list)
    except (ValueError, RecursionError):
        return False


def _size(message: str, attributes: Mapping[str, Mapping[str, Any]]) -> int:
    total = len(message.encode())
    for name, attribute in attributes.items():
        value = attribute.get("StringValue") or attribute.get("BinaryValue") or b""
        total += len(name.encode()) + len(attribute["DataType"].encode()) + len(
            value.encode() if isinstance(value, str) else value)
    return total


def _check_batch(entries: list[Mapping[str, Any]]) -> None:
    if not entries:
        raise EmptyBatchRequestException("The batch request doesn't contain any entries.")
    if len(entries) > quotas.BATCH_ENTRIES_MAX:
        raise TooManyEntriesInBatchRequestException(
            f"The batch request contains more entries than permissible (at most {quotas.BATCH_ENTRIES_MAX}).")
    ids = [entry.get("Id") for entry in entries]
    for entry_id in ids:
        if not isinstance(entry_id, str) or not _BATCH_ID.match(entry_id):
            raise InvalidBatchEntryIdException(
                f"The Id of a batch entry in a batch request doesn't abide by the specification: "
                f"{entry_id!r} (1 to {quotas.BATCH_ID_MAX} letters, digits, hyphens, underscores).")
    if len(set(ids)) != len(ids):
        raise BatchEntryIdsNotDistinctException("Two or more batch entries in the request have the same Id.")
    total = sum(len(str(entry.get("Message") or "").encode()) for entry in entries)
    if total > quotas.MESSAGE_MAX_BYTES:
        raise BatchRequestTooLongException(
            f"The length of all the messages put together is more than the limit ({quotas.MESSAGE_MAX_BYTES} bytes).")
