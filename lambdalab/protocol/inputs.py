"""A request, read into its operation's input (member name → value) with botocore's model.

What :func:`~lambdalab.protocol.validate.validate` checks is the operation's input as
boto3 takes it (``{"FunctionName": "f", "Qualifier": "1", …}``). On the wire the members
are spread over the request: a REST protocol puts each where the model's ``location`` says
(``uri``, ``querystring``, ``header``; the others in the JSON body), and text locations
carry numbers and booleans as text
(https://smithy.io/2.0/aws/protocols/aws-restjson1-protocol.html#http-binding-traits).
The query protocol (SQS's older one) carries everything as text. This module undoes both;
the model of each operation is read once.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from typing import Any, Mapping

from botocore.model import Shape

from .. import limits
from .validate import operation_model

#: JSON nested deeper than this is refused (see :mod:`lambdalab.limits`).
JSON_DEPTH_MAX = limits.JSON_DEPTH_MAX


class BodyError(ValueError):
    """The request body is not a JSON object; the message says why, for the client."""


def json_object(body: bytes) -> dict[str, Any]:
    """The body as a JSON object (``{}`` when empty); :class:`BodyError` when it is not one."""
    if not body.strip():
        return {}
    try:
        value = json.loads(body)
    except RecursionError:
        raise BodyError(
            f"the JSON is nested deeper than {JSON_DEPTH_MAX} levels. Send the parameters "
            "as a flat JSON object."
        ) from None
    except ValueError as e:
        raise BodyError(f"{e}. Send a JSON object of the operation's parameters.") from None
    if not isinstance(value, dict):
        raise BodyError(
            f"expected a JSON object, got {type(value).__name__}. Send the parameters as a "
            "JSON object."
        )
    if _SURROGATE_ESCAPE.search(body) and not _encodable(value):
        raise BodyError(
            "the JSON has a lone surrogate escape (a \\ud800-\\udfff without its pair), "
            "which is not a character. Send the character itself, or both halves of its pair."
        )
    return value


#: ``\uD800``-``\uDFFF`` in a body: only then can a decoded string hold a lone surrogate,
#: which no store or UTF-8 answer can hold (a pair decodes to one character).
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89abcdefABCDEF]")


def _encodable(value: Any) -> bool:
    try:
        json.dumps(value, ensure_ascii=False).encode()
    except UnicodeEncodeError:
        return False
    return True


# -- REST protocols: members by location ----------------------------------------------


@dataclass(frozen=True)
class RestMember:
    """One member of an operation's input and where a REST request carries it."""

    name: str
    location: str  # "uri", "querystring", "header" or "" (the body)
    wire_name: str  # lowercased for a header
    shape: Shape


@dataclass(frozen=True)
class RestInput:
    """How one REST operation's input is laid out on the wire, read once from the model."""

    members: tuple[RestMember, ...]
    #: The body holds JSON members (False when there are none, or the body is a blob
    #: payload such as Invoke's event, which is not the service's to read).
    json_body: bool


@functools.lru_cache(maxsize=None)
def rest_input(service: str, operation: str) -> RestInput | None:
    """The wire layout of ``operation``'s input; ``None`` if the model has no such operation."""
    op = operation_model(service, operation)
    if op is None:
        return None
    shape = op.input_shape
    if shape is None:
        return RestInput((), False)
    members = tuple(
        RestMember(name, location, wire.lower() if location == "header" else wire, m)
        for name, m in shape.members.items()
        for location in [m.serialization.get("location", "")]
        for wire in [m.serialization.get("name", name)]
    )
    payload = shape.serialization.get("payload")
    body_members = [m for m in members if not m.location]
    json_body = bool(body_members) and (
        payload is None or shape.members[payload].type_name == "structure"
    )
    return RestInput(members, json_body)


def rest_params(
    layout: RestInput,
    labels: Mapping[str, str],
    query: Any,
    headers: Mapping[str, str],
    body: dict[str, Any] | None,
) -> dict[str, Any]:
    """The operation's input from a REST request: URI labels, query string, headers, body.

    :param query: a mapping with ``get`` (and ``getlist`` for list members), such as
        Starlette's ``QueryParams``.
    :param headers: the request's headers (names in any case).
    :param body: the JSON body, already read (``None`` when the operation has none).
    """
    params: dict[str, Any] = {}
    header_values: dict[str, str] | None = None
    for member in layout.members:
        location = member.location
        if not location:
            if body is not None and member.name in body:
                params[member.name] = body[member.name]
            continue
        if location == "uri":
            text = labels.get(member.wire_name)
        elif location == "header":
            if header_values is None:  # one pass over the headers, not one per member
                header_values = {k.lower(): v for k, v in headers.items()}
            text = header_values.get(member.wire_name)
        elif location == "querystring":
            if member.shape.type_name == "list" and hasattr(query, "getlist"):
                values = query.getlist(member.wire_name)
                if values:
                    params[member.name] = [from_text(member.shape.member, v) for v in values]  # type: ignore[attr-defined]
                continue
            text = query.get(member.wire_name)
        else:
            continue  # "headers" (a prefixed map, S3's x-amz-meta-*): the operation's own
        if text is not None:
            params[member.name] = from_text(member.shape, text)
    return params


def from_text(shape: Shape, text: str) -> Any:
    """A scalar from a text location, typed as the shape says; text that is not of the
    shape's type is kept as it is, so that validation reports it."""
    kind = shape.type_name
    if kind == "string":
        return text
    try:
        if kind in ("integer", "long"):
            return int(text) if text.strip().lstrip("+-").isdigit() else text
        if kind in ("float", "double"):
            return float(text)
    except ValueError:
        return text
    if kind == "boolean":
        return {"true": True, "false": False}.get(text.lower(), text)
    return text


# -- the query protocol: every value is text --------------------------------------------


def typed_query_params(service: str, operation: str, params: dict[str, Any]) -> dict[str, Any]:
    """A query-protocol request's parameters (already in the JSON protocol's nesting) with
    numbers and booleans read from their text, as the input shape says."""
    op = operation_model(service, operation)
    if op is None or op.input_shape is None:
        return params
    return _typed(op.input_shape, params)


def _typed(shape: Shape, value: Any) -> Any:
    kind = shape.type_name
    if isinstance(value, str):
        return from_text(shape, value)
    if kind == "structure" and isinstance(value, dict):
        members = shape.members  # type: ignore[attr-defined]
        return {k: _typed(members[k], v) if k in members else v for k, v in value.items()}
    if kind == "list" and isinstance(value, list):
        return [_typed(shape.member, v) for v in value]  # type: ignore[attr-defined]
    if kind == "map" and isinstance(value, dict):
        return {k: _typed(shape.value, v) for k, v in value.items()}  # type: ignore[attr-defined]
    return value



__all__ = [
    "JSON_DEPTH_MAX",
    "BodyError",
    "RestInput",
    "RestMember",
    "from_text",
    "json_object",
    "rest_input",
    "rest_params",
    "typed_query_params",
]
