"""Kinesis Data Streams' errors, as its JSON protocol renders them.

Kinesis speaks AWS JSON 1.1: an error is HTTP 400 with ``{"__type": CODE, "message":
...}``; the codes are the error shapes of botocore's ``kinesis/2013-12-02`` model
(https://docs.aws.amazon.com/kinesis/latest/APIReference/CommonErrors.html). One class
per code; the protocol layer renders every one::

    KinesisError
    ├── ResourceNotFoundException                the stream or shard does not exist
    ├── ResourceInUseException                   the stream exists, or is not ACTIVE
    ├── InvalidArgumentException                 a parameter is out of range or malformed
    ├── LimitExceededException                   a quota (shards per account)
    ├── ProvisionedThroughputExceededException   a shard's 1 MiB/s or 1,000 records/s in,
    │                                            2 MiB/s or 5 reads/s out
    ├── ExpiredIteratorException                 the shard iterator is over 5 minutes old
    ├── ExpiredNextTokenException                the NextToken is no longer valid
    └── ValidationException                      an operation the stream's mode does not take
"""

from __future__ import annotations

from typing import Any

from lambdalab import LambdaError


class KinesisError(LambdaError):
    """Base class: a Kinesis error code and a message saying what to change."""

    status_code = 400

    def to_wire(self) -> dict[str, Any]:
        return {"__type": self.code, "message": self.message}


class ResourceNotFoundException(KinesisError):
    """The stream (or a shard of it) named does not exist."""


class ResourceInUseException(KinesisError):
    """CreateStream of a stream that exists, or a change to one that is not ACTIVE."""


class InvalidArgumentException(KinesisError):
    """A parameter is out of range or malformed (a hash key, an iterator, a timestamp)."""


class LimitExceededException(KinesisError):
    """The request would pass a quota (shards per account)."""


class ProvisionedThroughputExceededException(KinesisError):
    """A shard's throughput for this second is used up: retry later, or add shards."""


class ExpiredIteratorException(KinesisError):
    """The shard iterator is older than 5 minutes: ask GetShardIterator for a new one."""


class ExpiredNextTokenException(KinesisError):
    """The NextToken no longer names a page: list again from the start."""


class ValidationException(KinesisError):
    """The operation does not apply to this stream (UpdateShardCount of an on-demand one)."""


__all__ = ["KinesisError", "ResourceNotFoundException", "ResourceInUseException",
           "InvalidArgumentException", "LimitExceededException",
           "ProvisionedThroughputExceededException", "ExpiredIteratorException",
           "ExpiredNextTokenException", "ValidationException"]
