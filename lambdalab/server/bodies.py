"""Reading a request body, as every service of the edge reads it: whole, bounded, and
never run with part of it missing."""

from __future__ import annotations

from typing import Mapping

from ..errors import LambdaError
from .http_service import Receive

#: Digits of the largest length a request can declare (2**64 has 20).
LENGTH_DIGITS_MAX = 20


class RequestBodyTooLarge(Exception):
    """The request body passed the limit it was read with."""


class IncompleteRequestBody(Exception):
    """The request ended (the client went away) before the bytes its ``Content-Length``
    declared had all arrived. Nothing is run or stored for it; the edge answers nothing,
    since nobody is there to read an answer (S3 tries its ``IncompleteBody``)."""


async def receive_body(receive: Receive, headers: Mapping[str, str], limit: int) -> bytes:
    """The whole request body, as every service of the edge reads it.

    :raises RequestBodyTooLarge: as soon as the body (or its ``Content-Length``) passes
        ``limit``, before the rest is read.
    :raises IncompleteRequestBody: when the client went away (``http.disconnect``) before
        the body ended, or it ended short of its ``Content-Length``: a request is never
        executed or stored with part of its body.
    """
    expected = declared_length(headers)
    if expected is not None and expected > limit:
        raise RequestBodyTooLarge
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise IncompleteRequestBody
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise RequestBodyTooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    if expected is not None and size != expected:
        raise IncompleteRequestBody
    return b"".join(chunks)


def declared_length(headers: Mapping[str, str]) -> int | None:
    """The ``Content-Length`` as a number (None if absent or not digits). One of more
    digits than any real length has is not converted (``int()`` refuses over 4,300)."""
    declared = headers.get("content-length", "")
    if not declared.isdigit():
        return None
    digits = declared.lstrip("0") or "0"
    return int(digits) if len(digits) <= LENGTH_DIGITS_MAX else 10**LENGTH_DIGITS_MAX


async def read_body(receive: Receive, headers: Mapping[str, str], limit: int, operation: str,
                    error: type[LambdaError]) -> bytes:
    """The whole request body (see :func:`receive_body`), refused with ``error`` as soon
    as it passes ``limit``."""
    try:
        return await receive_body(receive, headers, limit)
    except RequestBodyTooLarge:
        raise error(
            f"Request must be smaller than {limit} bytes for the {operation} operation"
        ) from None


__all__ = ["IncompleteRequestBody", "RequestBodyTooLarge", "declared_length", "read_body",
           "receive_body"]
