"""Messages: SNS notifications, SQS batches, SES incoming mail."""

from __future__ import annotations

import secrets
from email.utils import formatdate
from typing import Any

from ._common import (
    DEFAULT_ACCOUNT_ID,
    DEFAULT_REGION,
    arn,
    arns,
    b64,
    epoch_ms,
    hex_id,
    iso_ms,
    md5_hex,
    new_uuid,
    now,
    principal_id,
    records,
    sqs_attributes_md5,
)
from ._registry import ASYNC, POLL, event_source


@event_source("sns", ASYNC)
def sns(
    *,
    message: str = "Hello from SNS!",
    subject: str | None = None,
    topic: str = "my-topic",
    attributes: dict[str, str] | None = None,
    region: str = DEFAULT_REGION,
    account_id: str = DEFAULT_ACCOUNT_ID,
) -> dict[str, Any]:
    """A message published to an SNS topic the function subscribes to.

    Shape: https://docs.aws.amazon.com/lambda/latest/dg/with-sns.html

    :param message: the message body (a string; publish JSON as a string).
    :param subject: the subject given to Publish (null when none was).
    :param topic: the topic's name.
    :param attributes: message attributes, name to string value.
    :param region: the topic's region.
    :param account_id: the topic's account.
    """
    topic_arn = arn("sns", topic, region, account_id)
    subscription_arn = f"{topic_arn}:{new_uuid()}"
    endpoint = f"https://sns.{region}.amazonaws.com"
    notification = {
        "Type": "Notification",
        "MessageId": new_uuid(),
        "TopicArn": topic_arn,
        "Subject": subject,
        "Message": message,
        "Timestamp": iso_ms(now()),
        "SignatureVersion": "1",
        "Signature": b64(secrets.token_bytes(256)),
        "SigningCertUrl": f"{endpoint}/SimpleNotificationService-{hex_id(32)}.pem",
        "UnsubscribeUrl": f"{endpoint}/?Action=Unsubscribe&SubscriptionArn={subscription_arn}",
        "MessageAttributes": {
            name: {"Type": "String", "Value": value} for name, value in (attributes or {}).items()
        },
    }
    return records(
        [
            {
                "EventSource": "aws:sns",
                "EventVersion": "1.0",
                "EventSubscriptionArn": subscription_arn,
                "Sns": notification,
            }
        ]
    )


def _sqs_message_attributes(attributes: dict[str, str]) -> dict[str, dict[str, Any]]:
    return {
        name: {
            "stringValue": value,
            "stringListValues": [],
            "binaryListValues": [],
            "dataType": "String",
        }
        for name, value in attributes.items()
    }


def _sqs_system_attributes(sent_at: float, index: int, fifo: bool) -> dict[str, str]:
    attributes = {
        "ApproximateReceiveCount": "1",
        "SentTimestamp": str(epoch_ms(sent_at)),
        "SenderId": principal_id(),
        "ApproximateFirstReceiveTimestamp": str(epoch_ms(sent_at) + 2),
    }
    if fifo:  # FIFO queues also say which group a message belongs to, and its order
        attributes |= {
            "SequenceNumber": str(18849496460467696128 + index),
            "MessageGroupId": "1",
            "MessageDeduplicationId": hex_id(64),
        }
    return attributes


@event_source("sqs", POLL)
def sqs(
    *,
    body: str = "Hello from SQS!",
    queue: str = "my-queue",
    count: int = 1,
    attributes: dict[str, str] | None = None,
    region: str = DEFAULT_REGION,
    account_id: str = DEFAULT_ACCOUNT_ID,
) -> dict[str, Any]:
    """A batch of messages Lambda's poller received from an SQS queue.

    Shape: https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html

    :param body: the body of each message.
    :param queue: the queue's name; a name ending in .fifo makes a FIFO queue's messages.
    :param count: how many messages the batch holds (a mapping's BatchSize caps it).
    :param attributes: message attributes, name to string value.
    :param region: the queue's region.
    :param account_id: the queue's account.
    """
    sent_at = now()
    message_attributes = _sqs_message_attributes(attributes or {})
    extra = {"md5OfMessageAttributes": sqs_attributes_md5(message_attributes)} if attributes else {}
    return records(
        [
            {
                "messageId": new_uuid(),
                "receiptHandle": "AQEB" + b64(secrets.token_bytes(96)),
                "body": body,
                "attributes": _sqs_system_attributes(sent_at, index, queue.endswith(".fifo")),
                "messageAttributes": message_attributes,
                "md5OfBody": md5_hex(body),
                **extra,
                "eventSource": "aws:sqs",
                "eventSourceARN": arn("sqs", queue, region, account_id),
                "awsRegion": region,
            }
            for index in range(count)
        ]
    )


def _mail_headers(
    sender: str, recipient: str, subject: str, sent_at: float, message_id: str, region: str
) -> list[dict[str, str]]:
    date = formatdate(sent_at)
    pairs = [
        ("Return-Path", f"<{sender}>"),
        (
            "Received",
            f"from mail.example.com by inbound-smtp.{region}.amazonaws.com with SMTP "
            f"id {message_id} for {recipient}; {date}",
        ),
        ("MIME-Version", "1.0"),
        ("From", sender),
        ("Date", date),
        ("Message-ID", f"<{message_id}@mail.example.com>"),
        ("Subject", subject),
        ("To", recipient),
        ("Content-Type", "text/plain; charset=UTF-8"),
    ]
    return [{"name": name, "value": value} for name, value in pairs]


def _verdicts() -> dict[str, Any]:
    checks = ("spamVerdict", "virusVerdict", "spfVerdict", "dkimVerdict", "dmarcVerdict")
    return {check: {"status": "PASS"} for check in checks} | {"dmarcPolicy": "none"}


@event_source("ses", ASYNC)
def ses(
    *,
    sender: str = "janedoe@example.com",
    recipient: str = "johndoe@example.com",
    subject: str = "Test Subject",
    function: str = "my-function",
    region: str = DEFAULT_REGION,
    account_id: str = DEFAULT_ACCOUNT_ID,
) -> dict[str, Any]:
    """An email SES received, passed on by a receipt rule's Lambda action (no body).

    Shape: https://docs.aws.amazon.com/ses/latest/dg/receiving-email-action-lambda-event.html

    :param sender: the From address.
    :param recipient: the To address.
    :param subject: the Subject header.
    :param function: the function the receipt rule's action names.
    :param region: the region SES received the mail in.
    :param account_id: the receipt rule's account.
    """
    received_at = now()
    message_id = hex_id(32)
    headers = _mail_headers(sender, recipient, subject, received_at, message_id, region)
    mail = {
        "timestamp": iso_ms(received_at),
        "source": sender,
        "messageId": message_id,
        "destination": [recipient],
        "headersTruncated": False,
        "headers": headers,
        "commonHeaders": {
            "returnPath": sender,
            "from": [sender],
            "date": formatdate(received_at),
            "to": [recipient],
            "messageId": f"<{message_id}@mail.example.com>",
            "subject": subject,
        },
    }
    action = {
        "type": "Lambda",
        "functionArn": arns(region, account_id).function(function),
        "invocationType": "Event",
    }
    receipt = {
        "timestamp": iso_ms(received_at),
        "processingTimeMillis": 574,
        "recipients": [recipient],
        **_verdicts(),
        "action": action,
    }
    return records(
        [
            {
                "eventSource": "aws:ses",
                "eventVersion": "1.0",
                "ses": {"mail": mail, "receipt": receipt},
            }
        ]
    )
