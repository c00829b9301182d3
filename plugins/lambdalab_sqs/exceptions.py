"""SQS's errors, one class per error, rendered on both of SQS's wire protocols.

Each class is named after the error shape of botocore's ``sqs/2012-11-05`` model and fixes
the code the query protocol uses (``AWS.SimpleQueueService.NonExistentQueue`` for
QueueDoesNotExist). On the JSON protocol the shape name goes in ``__type`` and the query
code in the ``x-amzn-query-error`` header, which is how botocore raises
``client.exceptions.QueueDoesNotExist``
(https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-json-faqs.html)::

    SqsError
    ├── QueueDoesNotExist               the queue URL or name names no queue
    ├── QueueNameExists                 CreateQueue with other attributes than the queue's
    ├── InvalidParameterValue           a parameter is malformed or out of range
    │   └── MessageTooLong              the body and attributes are over 256 KiB
    ├── MissingParameter                a required parameter is absent
    ├── InvalidAttributeName            an unknown queue attribute
    ├── InvalidAttributeValue           a queue attribute value out of range
    ├── ReceiptHandleIsInvalid          a receipt handle this queue never gave out
    ├── MessageNotInflight              ChangeMessageVisibility on a visible message
    ├── EmptyBatchRequest               a batch with no entries
    ├── TooManyEntriesInBatchRequest    a batch with more than 10 entries
    ├── BatchEntryIdsNotDistinct        two entries of a batch share an Id
    ├── InvalidBatchEntryId             an entry Id with characters AWS refuses
    └── UnsupportedOperation            an action lambdalab's SQS does not serve
"""

from __future__ import annotations

import json
from xml.sax.saxutils import escape

from lambdalab.plugin import WireResponse, xml_text

XMLNS = "http://queue.amazonaws.com/doc/2012-11-05/"


class SqsError(Exception):
    """Base class: the model's error name, the query protocol's code, and a message."""

    #: The code on the query protocol (and in ``x-amzn-query-error``).
    query_code: str = ""
    status_code: int = 400
    fault: str = "Sender"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    @property
    def code(self) -> str:
        return type(self).__name__

    def json_response(self) -> WireResponse:
        """The error on the JSON protocol (what current boto3 speaks)."""
        body = {"__type": f"com.amazonaws.sqs#{self.code}", "message": self.message}
        response = WireResponse(
            self.status_code,
            json.dumps(body).encode(),
            {
                "Content-Type": "application/x-amz-json-1.0",
                "x-amzn-query-error": f"{self.query_code or self.code};{self.fault}",
            },
        )
        return response

    def xml_response(self, request_id: str) -> WireResponse:
        """The error on the query protocol: an ``ErrorResponse`` document."""
        body = (
            f'<?xml version="1.0"?><ErrorResponse xmlns="{XMLNS}"><Error>'
            f"<Type>{self.fault}</Type><Code>{escape(self.query_code or self.code)}</Code>"
            f"<Message>{escape(xml_text(self.message))}</Message><Detail/></Error>"
            f"<RequestId>{request_id}</RequestId></ErrorResponse>"
        )
        return WireResponse(self.status_code, body.encode(), {"Content-Type": "text/xml"}, request_id)


class QueueDoesNotExist(SqsError):
    """The queue named by the URL or name does not exist."""

    query_code = "AWS.SimpleQueueService.NonExistentQueue"


class QueueNameExists(SqsError):
    """A queue of that name exists with different attributes."""

    query_code = "QueueAlreadyExists"


class InvalidParameterValue(SqsError):
    """A parameter is malformed or outside SQS's allowed range."""


class MessageTooLong(InvalidParameterValue):
    """The message body plus attributes is over 256 KiB (AWS answers InvalidParameterValue)."""

    query_code = "InvalidParameterValue"

    @property
    def code(self) -> str:
        return "InvalidParameterValue"


class MissingParameter(SqsError):
    """A required parameter is missing."""


class InvalidAttributeName(SqsError):
    """The queue attribute name is not one SQS knows."""


class InvalidAttributeValue(SqsError):
    """A queue attribute's value is out of range or malformed."""


class ReceiptHandleIsInvalid(SqsError):
    """The receipt handle was not given out by this queue."""


class MessageNotInflight(SqsError):
    """The message is not in flight (it is visible), so its visibility cannot change."""

    query_code = "AWS.SimpleQueueService.MessageNotInflight"


class EmptyBatchRequest(SqsError):
    """The batch request has no entries."""

    query_code = "AWS.SimpleQueueService.EmptyBatchRequest"


class TooManyEntriesInBatchRequest(SqsError):
    """The batch request has more than 10 entries."""

    query_code = "AWS.SimpleQueueService.TooManyEntriesInBatchRequest"


class BatchEntryIdsNotDistinct(SqsError):
    """Two entries of the batch share an Id."""

    query_code = "AWS.SimpleQueueService.BatchEntryIdsNotDistinct"


class InvalidBatchEntryId(SqsError):
    """An entry Id is not 1-80 letters, digits, hyphens or underscores."""

    query_code = "AWS.SimpleQueueService.InvalidBatchEntryId"


class UnsupportedOperation(SqsError):
    """The action is not one lambdalab's SQS serves."""

    query_code = "AWS.SimpleQueueService.UnsupportedOperation"
