"""``patchOperations`` as API Gateway (v1) applies them.

https://docs.aws.amazon.com/apigateway/latest/api/patch-operations.html: an update is a
list of ``{"op", "path", "value", "from"}``, each ``path`` a JSON pointer (``~1`` for a
``/`` inside a name, ``~0`` for ``~``: ``/binaryMediaTypes/image~1png``). Unlike RFC 6902,
each resource accepts only some paths, each path only some operations, and a value is
always a string (``"true"``, ``"300"``). The checks and their messages are AWS's own, as
recorded against AWS in LocalStack's ``test_apigateway_api.snapshot.json``.

This module only reads operations; :mod:`.models` decides what each path changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

from .exceptions import BadRequestException

OPS = ("add", "remove", "replace", "move", "copy", "test")
#: The operations lambdalab applies; ``move``, ``copy`` and ``test`` are refused.
APPLIED = ("add", "remove", "replace")


@dataclass(frozen=True)
class PatchOperation:
    """One operation: ``op`` on ``path`` (split into its decoded parts) with ``value``."""

    op: str
    path: str
    parts: tuple[str, ...]
    value: str | None

    def needs_value(self) -> str:
        """The operation's value; a missing one is refused as AWS refuses an empty one."""
        if self.value is None:
            raise BadRequestException(f"Invalid null or empty value for patch path {self.path}")
        return self.value


def decode_pointer(path: str) -> tuple[str, ...]:
    """``/a/b~1c`` → ``("a", "b/c")``."""
    if not path.startswith("/"):
        raise BadRequestException(f"Invalid patch path {path}")
    return tuple(p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/"))


def operations(given: Any) -> list[PatchOperation]:
    """The request's ``patchOperations``, each checked for an op lambdalab applies."""
    out = []
    for raw in given or []:
        if not isinstance(raw, dict):
            raise BadRequestException("Invalid patch operation: send {\"op\", \"path\", \"value\"}.")
        op, path = raw.get("op"), raw.get("path")
        if op not in APPLIED:
            raise BadRequestException("Invalid patch operation specified. Must be 'add'|'remove'|'replace'")
        if not isinstance(path, str):
            raise BadRequestException("Invalid patch path null")
        value = raw.get("value")
        out.append(PatchOperation(op, path, decode_pointer(path), None if value is None else str(value)))
    return out


def only_replace(operation: PatchOperation) -> None:
    if operation.op != "replace":
        raise BadRequestException("Invalid patch operation specified. Must be one of: [replace]")


def unsupported_for_op(operation: PatchOperation, supported: Iterable[str]) -> BadRequestException:
    """AWS's answer to a path an operation does not take (UpdateResource's words)."""
    if operation.op == "replace":
        return BadRequestException(
            f"Invalid patch path  '{operation.path}' specified for op 'replace'. "
            f"Must be one of: [{', '.join(supported)}]")
    return BadRequestException(
        f"Invalid patch path  '{operation.path}' specified for op '{operation.op}'. "
        "Please choose supported operations")


def boolean(operation: PatchOperation) -> bool:
    value = operation.needs_value().lower()
    if value not in ("true", "false"):
        raise BadRequestException(f"Invalid value for {operation.path}: use true or false, not {operation.value!r}.")
    return value == "true"
