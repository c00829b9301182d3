"""EventBridge's errors, as its JSON protocol renders them.

EventBridge speaks AWS JSON 1.1: an error is HTTP 400 with ``{"__type": CODE,
"message": ...}`` (https://smithy.io/2.0/aws/protocols/aws-json-1_1-protocol.html).
One class per error code; the protocol layer (``ProtocolService``) renders every one,
so no handler writes an error body by hand.

::

    EventsError
    ├── ValidationException          400  a parameter is malformed (e.g. the schedule)
    ├── SerializationException       400  the body is not JSON, or a member is of the wrong type
    ├── ResourceNotFoundException    400  no such rule or event bus
    ├── ResourceAlreadyExistsException 400  an event bus of that name exists
    ├── InvalidEventPatternException 400  an EventPattern breaks the syntax
    ├── LimitExceededException       400  too many targets on one rule
    └── InternalException            500  lambdalab failed (a bug: report it)
"""

from __future__ import annotations

from typing import Any

from lambdalab import LambdaError


class EventsError(LambdaError):
    """Base class: an EventBridge error code and a message saying what to change."""

    status_code = 400

    def to_wire(self) -> dict[str, Any]:
        return {"__type": self.code, "message": self.message}


class ValidationException(EventsError):
    """A parameter is missing or malformed, e.g. ``Parameter ScheduleExpression is not valid.``"""


class SerializationException(EventsError):
    """The body could not be read into the operation's input (not JSON, or a member of
    the wrong JSON type): what AWS JSON 1.1 services answer before validating."""


class ResourceNotFoundException(EventsError):
    """The rule named does not exist."""


class ResourceAlreadyExistsException(EventsError):
    """CreateEventBus of a name that is taken."""


class InvalidEventPatternException(EventsError):
    """An EventPattern is not JSON or breaks the pattern syntax; the message says where."""


class LimitExceededException(EventsError):
    """The request would pass one of EventBridge's quotas (targets per rule)."""


class IllegalStatusException(EventsError):
    """The resource is in a state the operation cannot act on (CancelReplay of a
    finished replay)."""


class InternalException(EventsError):
    """lambdalab failed internally. This is a bug; the message says what broke."""

    status_code = 500


__all__ = ["EventsError", "ValidationException", "SerializationException",
           "ResourceNotFoundException", "LimitExceededException",
           "ResourceAlreadyExistsException", "InvalidEventPatternException",
           "IllegalStatusException", "InternalException"]
