"""Write an event stream response: AWS's binary framing of a stream of messages
(``Content-Type: application/vnd.amazon.eventstream``), which botocore reads with
``botocore/eventstream.py`` (botocore has a parser and no writer).

A message is a prelude (total length, headers length, both 32-bit big-endian, and the
CRC32 of those 8 bytes), the headers, the payload and the CRC32 of all before it
(https://docs.aws.amazon.com/AmazonS3/latest/API/RESTSelectObjectAppendix.html). A header
is its name's length (one byte), the name, a type byte (7: a string), the value's length
(two bytes) and the value; lambdalab writes string headers only, which is all a JSON
service's events carry.

In the JSON protocol (Kinesis' SubscribeToShard,
https://docs.aws.amazon.com/kinesis/latest/APIReference/API_SubscribeToShard.html) the
answer opens with an ``initial-response`` event holding the output's other members,
then one message per event: ``:event-type`` names the member of the event-stream union,
the payload is that member's JSON. An error after the answer began is an ``exception``
message whose ``:exception-type`` is the error code; botocore raises it as
``EventStreamError`` while iterating.
"""

from __future__ import annotations

import json
import struct
import threading
import zlib
from typing import Any, Iterable, Iterator, Mapping

from botocore.model import OperationModel, Shape

from ..errors import AwsError

CONTENT_TYPE = "application/vnd.amazon.eventstream"
_STRING = 7
_PRELUDE = struct.Struct(">II")


def _header(name: str, value: str) -> bytes:
    name_bytes, value_bytes = name.encode("utf-8"), value.encode("utf-8")
    return (bytes([len(name_bytes)]) + name_bytes + bytes([_STRING])
            + struct.pack(">H", len(value_bytes)) + value_bytes)


def encode_message(headers: Mapping[str, str], payload: bytes) -> bytes:
    """One event stream message with string ``headers`` and ``payload``."""
    head = b"".join(_header(k, v) for k, v in headers.items())
    prelude = _PRELUDE.pack(len(head) + len(payload) + 16, len(head))
    before_crc = prelude + struct.pack(">I", zlib.crc32(prelude)) + head + payload
    return before_crc + struct.pack(">I", zlib.crc32(before_crc))


def event_message(event_type: str, payload: Any) -> bytes:
    """An ``event`` message carrying ``payload`` as JSON."""
    return encode_message({":event-type": event_type, ":content-type": "application/json",
                           ":message-type": "event"}, json.dumps(payload).encode())


def exception_message(code: str, message: str) -> bytes:
    """An ``exception`` message: the error ``code`` and its message, as JSON."""
    return encode_message({":exception-type": code, ":content-type": "application/json",
                           ":message-type": "exception"}, json.dumps({"message": message}).encode())


class EventStreamBody:
    """The body of an event stream answer, read a message at a time (``read``) by the
    edge, which sends each as it comes. ``close`` may be called from another thread (the
    client went away): it closes the events too, when they have a ``close``."""

    #: The edge closes it when the client disconnects.
    ends_on_disconnect = True

    def __init__(self, operation: OperationModel, output: Mapping[str, Any],
                 json_value: Any) -> None:
        shape = operation.output_shape
        assert shape is not None
        name = shape.event_stream_name  # type: ignore[attr-defined]
        self._union: Shape = shape.members[name]  # type: ignore[attr-defined]
        self._events: Iterable[Mapping[str, Any]] = output.get(name) or ()
        self._json_value = json_value
        initial = json_value(shape, {k: v for k, v in output.items() if k != name})
        self._pending: list[bytes] = [event_message("initial-response", initial)]
        self._iterator: Iterator[Mapping[str, Any]] | None = None
        self._closed = threading.Event()

    def read(self, size: int = -1) -> bytes:
        """The next message (whatever ``size``), or ``b""`` at the end."""
        if self._pending:
            return self._pending.pop(0)
        if self._closed.is_set():
            return b""
        try:
            if self._iterator is None:
                self._iterator = iter(self._events)
            event = next(self._iterator)
        except StopIteration:
            return b""
        except AwsError as e:
            self._closed.set()
            return exception_message(e.code, e.message)
        return b"".join(self._message(kind, value) for kind, value in event.items())

    def _message(self, kind: str, value: Any) -> bytes:
        member = self._union.members[kind]  # type: ignore[attr-defined]
        return event_message(kind, self._json_value(member, value))

    def close(self) -> None:
        self._closed.set()
        closer = getattr(self._events, "close", None)
        if callable(closer):
            closer()


__all__ = ["CONTENT_TYPE", "EventStreamBody", "encode_message", "event_message", "exception_message"]
