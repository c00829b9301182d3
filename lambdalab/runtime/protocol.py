"""The frames exchanged between the core and a Python runtime over its pipe.

A frame is one length-prefixed message (``multiprocessing.connection``'s framing):
a 4-byte header length, a small JSON header, then the body bytes (the event or the
result) untouched, so a 6 MB payload is never re-encoded.
"""

from __future__ import annotations

import json
import struct
from typing import Any

_LENGTH = struct.Struct("!I")


def pack(header: dict[str, Any], body: bytes = b"") -> bytes:
    head = json.dumps(header, separators=(",", ":")).encode()
    return _LENGTH.pack(len(head)) + head + body


def unpack(frame: bytes) -> tuple[dict[str, Any], bytes]:
    (size,) = _LENGTH.unpack_from(frame)
    end = _LENGTH.size + size
    return json.loads(frame[_LENGTH.size : end]), frame[end:]
