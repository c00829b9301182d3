"""SQS's errors, one class per error; the protocol layer writes them on both protocols.

Each class is named after the error shape of botocore's ``sqs/2012-11-05`` model and fixes
the code the query protocol uses (``AWS.SimpleQueueService.NonExistentQueue`` for
QueueDoesNotExist). :mod:`.responses` gives these codes to the models the layer serves
SQS from, so on the JSON protocol the shape name goes in ``__type`` and the query code in
the ``x-amzn-query-error`` header, which is how botocore raises
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

from lambdalab.plugin import ServiceError

XMLNS = "http://queue.amazonaws.com/doc/2012-11-05/"


class SqsError(ServiceError):
    """Base class: the model's error name, the query protocol's code, and a message."""

    #: The code on the query protocol (and in ``x-amzn-query-error``), when it is not
    #: the class's name.
    query_code = ""
    status_code = 400
    fault = "Sender"
    #: The error shape (``__type``) when it is not the class's name.
    shape = ""

    def __init__(self, message: str) -> None:
        super().__init__(self.shape or type(self).__name__, message, self.status_code,
                         sender_fault=self.fault == "Sender")


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

    shape = "InvalidParameterValue"


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
