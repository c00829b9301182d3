"""Reading the Lambda API's parameters as its operations share it: members lambdalab
needs that the model leaves optional, blobs, the Lab's optional arguments, and paging
(``Marker`` / ``MaxItems`` / ``NextMarker``, as every Lambda list operation pages)."""

from __future__ import annotations

import base64
import binascii
import inspect
from typing import Any, Callable, Mapping, TypeVar

from ..errors import InvalidParameterValueException

T = TypeVar("T")
Params = Mapping[str, Any]


# -- reading parameters ---------------------------------------------------------------


def required(params: Params, field: str) -> Any:
    """A member the model leaves optional and lambdalab needs."""
    if params.get(field) is None:
        raise InvalidParameterValueException(
            f"{field} is required. Add it to the request (see the {field} parameter of "
            "this operation in the Lambda API reference)."
        )
    return params[field]


def decoded_zip(data: Any, field: str) -> bytes:
    """A blob member as bytes: the layer decodes valid base64 and leaves anything else
    as sent, which is refused here in words that say what to send."""
    if isinstance(data, bytes):
        return data
    raise InvalidParameterValueException(
        f"{field}: not valid base64. Send the zip file's bytes base64 encoded."
    )


def supported(method: Callable[..., T], given: Mapping[str, Any]) -> dict[str, Any]:
    """The arguments of ``given`` that ``method`` takes; the rest must be ``None``.

    Lets an operation pass an optional field (e.g. ``DeadLetterConfig``) only when the
    Lab offers it, and refuse it clearly when it does not.
    """
    accepted = inspect.signature(method).parameters
    for name, value in given.items():
        if value is not None and name not in accepted:
            wire = "".join(part.title() for part in name.split("_"))
            raise InvalidParameterValueException(
                f"{wire}: lambdalab does not support this parameter yet. Leave it out."
            )
    return {name: value for name, value in given.items() if name in accepted and value is not None}


# -- paging (Marker / MaxItems / NextMarker), as every Lambda list operation pages --------


def page(items: list[T], params: Params, page_max: int) -> tuple[list[T], str | None]:
    """One page of ``items`` after ``Marker``, and the NextMarker (``None`` at the end).

    The marker is the position of the next item, base64 encoded so that clients treat
    it as opaque, as AWS's are. ``MaxItems`` has been checked against the model's range.
    """
    start = 0
    marker = params.get("Marker")
    if marker:
        try:
            start = int(base64.urlsafe_b64decode(marker.encode()).decode())
            if not 0 <= start <= len(items):
                raise ValueError("a position outside the list")
        except (binascii.Error, ValueError, UnicodeDecodeError):
            raise InvalidParameterValueException(
                f"Marker: {marker!r} is not a marker this API returned. Pass the NextMarker "
                "of the previous page, or leave Marker out to start from the beginning."
            ) from None
    count = min(params.get("MaxItems") or page_max, page_max)
    chunk = items[start : start + count]
    end = start + len(chunk)
    next_marker = (
        base64.urlsafe_b64encode(str(end).encode()).decode() if end < len(items) else None
    )
    return chunk, next_marker


def listing(name: str, items: list[Any], params: Params, page_max: int,
            item: Callable[[Any], dict[str, Any]] = lambda i: i.to_aws()) -> dict[str, Any]:
    """One page of a list operation's output: ``{name: [...], "NextMarker": …}``."""
    chunk, next_marker = page(items, params, page_max)
    out: dict[str, Any] = {name: [item(i) for i in chunk]}
    if next_marker is not None:
        out["NextMarker"] = next_marker
    return out



__all__ = ["Params", "decoded_zip", "listing", "page", "required", "supported"]
