"""The events AWS services send to Lambda, generated: ``generate("s3", bucket="photos")``.

Learners meet Lambda through the services that invoke it. Each generator here returns the
JSON one service sends, in the shape AWS documents (each cites its page), with realistic
values and options for the fields worth changing. The registry also says how that service
invokes: synchronously, asynchronously (``InvocationType=Event``), or through an event
source mapping (Lambda polls, then invokes synchronously with a batch)::

    >>> from lambdalab import service_events
    >>> event = service_events.generate("sqs", body="hi", count=2)
    >>> [record["body"] for record in event["Records"]]
    ['hi', 'hi']
    >>> service_events.get("sqs").invocation, service_events.get("sqs").invocation_type
    ('event source mapping', 'RequestResponse')

The only public API is what this module exposes; the family modules are private.
``lambdalab.events`` is this package's old name, kept as an alias.

"Event" means three things in lambdalab; this package holds the first:

* a **service event**: the JSON an AWS service (S3, SQS, API Gateway…) sends to a
  handler, as built here and by the triggers;
* an **EventBridge event** (the ``events`` API of the schedule plugin): what a rule
  matches or a schedule emits, delivered to its targets as a service event;
* an **invoke event**: the payload of one invocation, whatever its source
  (``InvocationType=Event`` names the asynchronous invocation of one).
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
from ._storage import s3_eventbridge_event, s3_record

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
    # _storage: the record the S3 trigger (lambdalab_s3) sends, and its EventBridge event
    "s3_record",
    "s3_eventbridge_event",
]
