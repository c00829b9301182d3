"""SNS's errors, one class per error shape of botocore's ``sns/2010-03-31`` model.

SNS speaks the query protocol: the protocol layer writes ``<Error><Code>`` from the
shape's code (``InvalidParameter`` for InvalidParameterException), which is how botocore
raises ``client.exceptions.InvalidParameterException``. The classes are named after the
shapes; the message says what to change::

    SnsError
    ├── InvalidParameterException        400  a parameter is malformed (code InvalidParameter)
    ├── InvalidParameterValueException   400  a message attribute is malformed (ParameterValueInvalid)
    ├── NotFoundException                404  no such topic or subscription (NotFound)
    ├── EmptyBatchRequestException       400  PublishBatch with no entries
    ├── TooManyEntriesInBatchRequestException 400  more than 10 entries
    ├── BatchEntryIdsNotDistinctException  400  two entries share an Id
    ├── InvalidBatchEntryIdException     400  an Id with characters SNS refuses
    ├── BatchRequestTooLongException     400  the entries together are over 256 KiB
    └── ResourceNotFoundException        404  tagging a topic that does not exist
"""

from __future__ import annotations

from lambdalab.plugin import ServiceError


class SnsError(ServiceError):
    """Base class: the error shape's name (the class's) and a message saying what to change."""

    status_code = 400
    #: The code on the wire (the shape's ``error.code``): what a PublishBatch entry's
    #: ``Failed[].Code`` says.
    query_code = "InvalidParameter"

    def __init__(self, message: str) -> None:
        super().__init__(type(self).__name__, message, self.status_code)


class InvalidParameterException(SnsError):
    """A request parameter does not comply with SNS's constraints."""


class InvalidParameterValueException(SnsError):
    """A message attribute (its type or value) is not valid."""

    query_code = "ParameterValueInvalid"


class NotFoundException(SnsError):
    """The topic or subscription named does not exist."""

    status_code = 404
    query_code = "NotFound"


class ResourceNotFoundException(SnsError):
    """The resource to tag does not exist."""

    status_code = 404


class EmptyBatchRequestException(SnsError):
    """PublishBatch had no entries."""


class TooManyEntriesInBatchRequestException(SnsError):
    """PublishBatch had more entries than SNS takes."""


class BatchEntryIdsNotDistinctException(SnsError):
    """Two PublishBatch entries have the same Id."""


class InvalidBatchEntryIdException(SnsError):
    """A PublishBatch entry Id breaks SNS's pattern."""


class BatchRequestTooLongException(SnsError):
    """PublishBatch's entries together are longer than one message may be."""


__all__ = [
    "SnsError",
    "InvalidParameterException",
    "InvalidParameterValueException",
    "NotFoundException",
    "ResourceNotFoundException",
    "EmptyBatchRequestException",
    "TooManyEntriesInBatchRequestException",
    "BatchEntryIdsNotDistinctException",
    "InvalidBatchEntryIdException",
    "BatchRequestTooLongException",
]
