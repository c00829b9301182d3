"""DynamoDB's and DynamoDB Streams' errors, one class per error code of botocore's
``dynamodb/2012-08-10`` and ``dynamodbstreams/2012-08-10`` models; the protocol layer
writes them (``{"__type": "…", "message": "…"}``), so botocore raises
``client.exceptions.ConditionalCheckFailedException`` and its kin
(https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Programming.Errors.html)::

    DynamoDbError
    ├── ValidationException                 a parameter or an expression AWS refuses
    ├── ResourceNotFoundException           no such table (or stream, or shard)
    ├── ResourceInUseException              CreateTable of a table that exists
    ├── ConditionalCheckFailedException     a ConditionExpression was false
    ├── DuplicateItemException              a PartiQL INSERT of a key the table holds
    ├── TransactionCanceledException        a transaction's condition or validation failed
    ├── IdempotentParameterMismatchException  a ClientRequestToken reused for another request
    ├── ProvisionedThroughputExceededException  a provisioned table's capacity is spent
    ├── TableNotFoundException              (backups) no such table
    ├── TableAlreadyExistsException         (restores) the target table exists
    ├── BackupNotFoundException             no such backup
    ├── PointInTimeRecoveryUnavailableException   a restore from a table without PITR
    ├── InvalidRestoreTimeException         a restore time outside the recovery window
    ├── ExpiredIteratorException            a shard iterator older than 15 minutes
    └── TrimmedDataAccessException          an iterator at records past the 24-hour retention
"""

from __future__ import annotations

from typing import Any

from lambdalab.plugin import ServiceError


class DynamoDbError(ServiceError):
    """Base class: the error code is the class's name; every one is the sender's fault."""

    status_code = 400

    def __init__(self, message: str, **fields: Any) -> None:
        super().__init__(type(self).__name__, message, self.status_code, dict(fields),
                         sender_fault=True)


class ValidationException(DynamoDbError):
    """A parameter, key or expression DynamoDB refuses."""


class ResourceNotFoundException(DynamoDbError):
    """The table, stream or shard does not exist."""


class ResourceInUseException(DynamoDbError):
    """A table of that name exists already."""


class ConditionalCheckFailedException(DynamoDbError):
    """The request's ConditionExpression evaluated to false; nothing was written."""

    #: The item the condition was tested on (None: there was none).
    old: Any = None


class DuplicateItemException(DynamoDbError):
    """A PartiQL INSERT found an item with its primary key; nothing was written."""


class TransactionCanceledException(DynamoDbError):
    """A TransactWriteItems/TransactGetItems was cancelled; ``CancellationReasons``
    says why, one entry per action."""


class IdempotentParameterMismatchException(DynamoDbError):
    """A TransactWriteItems reused a ClientRequestToken of the last 10 minutes with
    other parameters."""


class ExpiredIteratorException(DynamoDbError):
    """The shard iterator is older than 15 minutes; get a new one."""


class TrimmedDataAccessException(DynamoDbError):
    """The iterator points at records past the stream's 24-hour retention."""


class TableNotFoundException(DynamoDbError):
    """The backup operations' word for a table that does not exist."""


class TableAlreadyExistsException(DynamoDbError):
    """A restore's target table exists already."""


class BackupNotFoundException(DynamoDbError):
    """No backup has that ARN."""


class PointInTimeRecoveryUnavailableException(DynamoDbError):
    """A point-in-time restore of a table whose point-in-time recovery is off."""


class InvalidRestoreTimeException(DynamoDbError):
    """A restore time outside the table's recovery window."""


class ProvisionedThroughputExceededException(DynamoDbError):
    """A PROVISIONED table has spent its read or write capacity (and its burst); retry
    after the lab's clock has refilled it."""
