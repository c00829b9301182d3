"""``patchOperations`` as API Gateway (v1) applies them.

https://docs.aws.amazon.com/apigateway/latest/api/patch-operations.html: an update is a
list of ``{"op", "path", "value", "from"}``, each ``path`` a JSON pointer (``~1`` for a
``/`` inside a name, ``~0`` for ``~``: ``/binaryMediaTypes/image~1png``). Unlike RFC 6902,
each resource accepts only some paths, each path only some operations, and a value is
always a string (``"true"``, ``"300"``). The checks and their messages are AWS's own, as
recorded against AWS in LocalStack's ``test_apigateway_api.snapshot.json``.

``move``, ``copy`` and ``test`` take RFC 6902's meaning
(https://docs.aws.amazon.com/apigateway/latest/api/API_PatchOperation.html points there):
``copy`` reads the value at ``from`` and adds it at ``path``, ``move`` removes ``from``
first, ``test`` refuses the whole update unless the value at ``path`` is ``value``. Each is
carried out as the ``add``/``remove``/``replace`` it amounts to, so a target path is checked
exactly as those are. AWS documents no message for a failed ``test``; lambdalab's says
what it found (``docs/explanation/differences.rst``).

This module only reads operations and resolves ``move``, ``copy`` and ``test``;
:mod:`.models` decides what each path changes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping, Sequence

from .exceptions import BadRequestException

#: botocore's ``Op`` enum: every operation lambdalab applies.
OPS = ("add", "remove", "replace", "move", "copy", "test")
#: The operations a resource's own rules apply; the others resolve into these.
APPLIED = ("add", "remove", "replace")
#: What a JSON pointer names nothing at (``None`` is a value a document may hold).
MISSING = object()


@dataclass(frozen=True)
class PatchOperation:
    """One operation: ``op`` on ``path`` (split into its decoded parts) with ``value``."""

    op: str
    path: str
    parts: tuple[str, ...]
    value: str | None
    #: ``move`` and ``copy``'s ``from``, and its decoded parts.
    source: str | None = None
    source_parts: tuple[str, ...] = ()

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
    """The request's ``patchOperations``, each checked for an op of botocore's ``Op``."""
    if given is not None and not isinstance(given, list):
        raise BadRequestException("Invalid patchOperations: send a list of {\"op\", \"path\", \"value\"}.")
    out = []
    for raw in given or []:
        if not isinstance(raw, dict):
            raise BadRequestException("Invalid patch operation: send {\"op\", \"path\", \"value\"}.")
        op, path = raw.get("op"), raw.get("path")
        if op not in OPS:
            raise BadRequestException(f"Invalid patch operation specified. Must be one of: [{', '.join(OPS)}]")
        if not isinstance(path, str):
            raise BadRequestException("Invalid patch path null")
        value = raw.get("value")
        source = raw.get("from") if op in ("move", "copy") else None
        if op in ("move", "copy") and not isinstance(source, str):
            raise BadRequestException(f"Invalid from path null: {op} needs \"from\", the path to {op} the value from")
        out.append(PatchOperation(op, path, decode_pointer(path), None if value is None else str(value),
                                  source, decode_pointer(source) if isinstance(source, str) else ()))
    return out


Reader = Callable[[tuple[str, ...]], Any]


def read_pointer(document: Any, parts: Sequence[str]) -> Any:
    """The value ``parts`` names in ``document``, or :data:`MISSING`. A list holds its
    items by name (``/binaryMediaTypes/image~1png`` names ``image/png``), as API Gateway's
    paths do; members beginning with ``_`` are lambdalab's own, never a path's."""
    if parts and parts[0].startswith("_"):
        return MISSING
    value = document
    for part in parts:
        if isinstance(value, Mapping) and part in value:
            value = value[part]
        elif isinstance(value, list) and part in value:
            value = part
        else:
            return MISSING
    return value


def text(value: Any) -> str:
    """``value`` as a patch operation's string: ``true``, ``300`` (not ``300.0``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True)
    return str(value)


def apply(given: Any, read: Reader, apply_one: Callable[[PatchOperation], None]) -> None:
    """Apply the request's ``patchOperations`` in order: ``add``, ``remove`` and
    ``replace`` through ``apply_one`` (the resource's own rules), ``test``, ``copy`` and
    ``move`` resolved first with ``read`` (parts → the current value or :data:`MISSING`).
    The caller keeps nothing of a refused update."""
    for operation in operations(given):
        if operation.op == "test":
            _test(operation, read(operation.parts))
        elif operation.op in ("copy", "move"):
            _copy(operation, read, apply_one)
        else:
            apply_one(operation)


def _test(operation: PatchOperation, found: Any) -> None:
    expected = operation.needs_value()
    if found is MISSING:
        raise BadRequestException(f"Patch operation test failed: {operation.path} has no value, "
                                  f"expected {expected!r}")
    if text(found) != expected and not _same_number(text(found), expected):
        raise BadRequestException(f"Patch operation test failed: {operation.path} is {text(found)!r}, "
                                  f"expected {expected!r}")


def _same_number(found: str, expected: str) -> bool:
    try:
        return float(found) == float(expected)
    except ValueError:
        return False


def _copy(operation: PatchOperation, read: Reader, apply_one: Callable[[PatchOperation], None]) -> None:
    """``copy``: an ``add`` (a ``replace`` where ``path`` names a member that exists, or
    a member of the resource itself) of the value at ``from``; ``move`` removes it first."""
    source = operation.source or ""
    if operation.op == "move" and operation.path.startswith(source + "/"):
        raise BadRequestException(f"Invalid patch path {operation.path}: a value cannot move into itself")
    value = read(operation.source_parts)
    if value is MISSING:
        raise BadRequestException(f"Invalid from path {source}: it names no value to {operation.op}")
    if operation.op == "move" and operation.path == source:
        return
    if operation.op == "move":
        apply_one(PatchOperation("remove", source, operation.source_parts, None))
    exists = read(operation.parts) is not MISSING or len(operation.parts) == 1
    apply_one(PatchOperation("replace" if exists else "add", operation.path, operation.parts, text(value)))


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
