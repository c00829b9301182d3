"""The events AWS services send to Lambda, generated: ``generate("s3", bucket="photos")``.

Learners meet Lambda through the services that invoke it. Each generator here returns the
JSON one service sends, in the shape AWS documents (each cites its page), with realistic
values and options for the fields worth changing. The registry also says how that service
invokes: synchronously, asynchronously (``InvocationType=Event``), or through an event
source mapping (Lambda polls, then invokes synchronously with a batch)::

    >>> from lambdalab import events
    >>> event = events.generate("sqs", body="hi", count=2)
    >>> [record["body"] for record in event["Records"]]
    ['hi', 'hi']
    >>> events.get("sqs").invocation, events.get("sqs").invocation_type
    ('event source mapping', 'RequestResponse')

The only public API is what this module exposes; the family modules are private.
"""

from __future__ import annotations

from . import _apps, _http, _messaging, _operations, _storage  # noqa: F401 (they register)
from ._registry import (
    ASYNC,
    INVOCATION_TYPES,
    POLL,
    SYNC,
    EventSource,
    Option,
    UnknownEventSource,
    generate,
    get,
    sources,
)
from ._storage import s3_record

__all__ = [
    # _registry
    "ASYNC",
    "INVOCATION_TYPES",
    "POLL",
    "SYNC",
    "EventSource",
    "Option",
    "UnknownEventSource",
    "generate",
    "get",
    "sources",
    # _storage: the record the S3 trigger (lambdalab_s3) sends
    "s3_record",
]
