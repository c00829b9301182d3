"""Check a request against its operation's input shape in botocore's service model.

Every AWS service checks a request against the operation's input shape (Smithy's
constraint traits: ``required``, ``length``, ``range``, ``pattern``, ``enum``) before the
operation's own code runs, and answers the violations in one message::

    1 validation error detected: Value 'foo' at 'architectures' failed to satisfy
    constraint: Member must satisfy constraint: [Member must satisfy enum value set:
    [x86_64, arm64], Member must not be null]

(https://docs.aws.amazon.com/lambda/latest/api/CommonErrors.html, "ValidationError";
the wording is AWS's as recorded in LocalStack's snapshot tests,
``tests/aws/services/lambda_/test_lambda_api.snapshot.json``). lambdalab does the same,
from the same model botocore ships (``botocore/data/<service>/<date>/service-2.json``):
:func:`validate` walks the parameters with the input shape and returns one
:class:`Violation` per broken constraint; :func:`message` writes AWS's sentence. Which
error class carries the message is each service's choice (Lambda and EventBridge:
``ValidationException``; SQS: ``InvalidParameterValue``; S3: ``InvalidArgument``).

A value of the wrong JSON type (a list where a map goes) is a violation of ``kind``
``"type"``: AWS rejects those while reading the body, before validating it, and
services answer them with their deserialization error.
"""

from __future__ import annotations

import functools
import re
from datetime import datetime
from dataclasses import dataclass
from typing import Any, Iterator

import botocore.loaders
from botocore.model import OperationModel, ServiceModel, Shape

#: A value longer than this is cut short in a message (AWS quotes it whole).
VALUE_SHOWN_MAX = 200
#: Strings longer than this are not matched against a pattern whose length is unbounded
#: (a Java-style pattern can backtrack for a long time on hostile input).
PATTERN_INPUT_MAX = 65_536

NOT_NULL = "Member must not be null"

#: Below this depth of nested shapes a value is neither checked nor typed: a recursive
#: shape (DynamoDB's AttributeValue) nested as deep as the JSON reader allows would
#: otherwise exhaust the stack. The service's own checks see the rest.
SHAPE_DEPTH_MAX = 64


@dataclass(frozen=True)
class Violation:
    """One broken constraint: where (the member names from the input down), the value
    found, and the constraint as AWS words it.

    :param members: the member names and list positions from the input shape down,
        e.g. ``("RoutingConfig", "AdditionalVersionWeights")`` or ``("Targets", 1, "Id")``.
    :param kind: ``"null"`` (a required member is missing), ``"constraint"`` or
        ``"type"`` (the value is not of the member's JSON type).
    """

    members: tuple[str | int, ...]
    value: Any
    constraint: str
    kind: str = "constraint"
    sensitive: bool = False

    @property
    def path(self) -> str:
        """The member path as AWS's messages write it: ``routingConfig.additionalVersionWeights``,
        ``targets.1.member.id`` (lowerCamelCase names, 1-based list positions)."""
        parts = []
        for part in self.members:
            parts.append(f"{part}.member" if isinstance(part, int) else part[:1].lower() + part[1:])
        return ".".join(parts)

    @property
    def parameter(self) -> str:
        """The member path in the model's own names (``Entries.1.Id``), as SQS words it."""
        return ".".join(str(part) for part in self.members)

    def describe(self) -> str:
        """``Value 'foo' at 'architectures' failed to satisfy constraint: …``"""
        if self.sensitive:
            return f"Value at '{self.path}' failed to satisfy constraint: {self.constraint}"
        return f"Value {show(self.value)} at '{self.path}' failed to satisfy constraint: {self.constraint}"


def message(violations: list[Violation]) -> str:
    """AWS's sentence for a list of violations: ``N validation error(s) detected: …; …``."""
    count = len(violations)
    head = "1 validation error detected" if count == 1 else f"{count} validation errors detected"
    return f"{head}: " + "; ".join(v.describe() for v in violations)


def show(value: Any) -> str:
    """A value as AWS's (Java) messages print it: ``'foo'``, ``'[a, b]'``, ``'{2=2.0}'``, ``null``."""
    if value is None:
        return "null"
    text = _java(value)
    if len(text) > VALUE_SHOWN_MAX:
        text = text[:VALUE_SHOWN_MAX] + "..."
    return f"'{text}'"


def _java(value: Any, depth: int = 0) -> str:
    if depth > 3:
        return "..."
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(_java(v, depth + 1) for v in value[:20]) + (", ...]" if len(value) > 20 else "]")
    if isinstance(value, dict):
        items = list(value.items())[:20]
        return "{" + ", ".join(f"{k}={_java(v, depth + 1)}" for k, v in items) + "}"
    return str(value)


# -- the models, loaded once --------------------------------------------------------


@functools.lru_cache(maxsize=None)
def service_model(name: str) -> ServiceModel:
    """botocore's model of ``name`` (``lambda``, ``sqs``…), loaded once per process."""
    loader = botocore.loaders.Loader()
    return ServiceModel(loader.load_service_model(name, "service-2"), service_name=name)


@functools.lru_cache(maxsize=None)
def operation_model(service: str, operation: str) -> OperationModel | None:
    """The operation's model, or ``None`` when the service has no such operation."""
    model = service_model(service)
    return model.operation_model(operation) if operation in model.operation_names else None


@functools.lru_cache(maxsize=None)
def _regex(pattern: str) -> re.Pattern[str] | None:
    """The model's (Java) pattern compiled for Python; ``None`` if Python cannot read it."""
    try:
        return re.compile(pattern)
    except re.error:
        return None


# -- validating -----------------------------------------------------------------------


def validate(model: ServiceModel | str, operation: str, params: dict[str, Any]) -> list[Violation]:
    """Every violation of ``operation``'s input shape in ``params`` (the operation's input,
    keyed by member name as boto3 takes it). ``model`` is botocore's service model or the
    service's name (``"lambda"``). Members the shape does not know are ignored, as AWS
    ignores them.
    """
    name = model if isinstance(model, str) else model.service_name
    key = _remembered(name, operation, params)
    if key is not None:  # e.g. every Invoke: seen before
        return list(_validate_flat(name, operation, key))
    return _validate(name, operation, params)


#: Types of values whose check can be remembered (immutable, and hashable), and the
#: longest string remembered (so that hostile requests cannot fill memory).
_FLAT = {str, int, float, bool, type(None)}
_REMEMBERED_STR_MAX = 256


def _remembered(service: str, operation: str, params: dict[str, Any]) -> tuple[tuple[str, Any], ...] | None:
    """What the check of ``params`` depends on, as a key to remember it by; ``None`` when
    it cannot be remembered. The bytes of a blob member without bounds (Invoke's
    ``Payload``) never change the answer, so they stand for themselves as ``b""``."""
    blobs = free_blobs(service, operation)
    items = []
    for name, value in params.items():
        kind = type(value)
        if kind in _FLAT and (kind is not str or len(value) <= _REMEMBERED_STR_MAX):
            items.append((name, value))
        elif kind is bytes and name in blobs:
            items.append((name, b""))
        else:
            return None
    return tuple(sorted(items))


@functools.lru_cache(maxsize=None)
def free_blobs(service: str, operation: str) -> frozenset[str]:
    """The input's top-level blob members whose value no constraint reads."""
    op = operation_model(service, operation)
    if op is None or op.input_shape is None:
        return frozenset()
    members = op.input_shape.members  # type: ignore[attr-defined]
    return frozenset(n for n, m in members.items()
                     if m.type_name == "blob" and not {"min", "max"} & set(m.metadata))


@functools.lru_cache(maxsize=4096)
def _validate_flat(service: str, operation: str, items: tuple[tuple[str, Any], ...]) -> tuple[Violation, ...]:
    """:func:`validate` of an input of scalars only, remembered: the same invoke asked
    again is answered from memory."""
    return tuple(_validate(service, operation, dict(items)))


def _validate(service: str, operation: str, params: dict[str, Any]) -> list[Violation]:
    op = operation_model(service, operation)
    if op is None or op.input_shape is None:
        return []
    return list(_check(op.input_shape, params, ()))


def type_errors(violations: list[Violation]) -> list[Violation]:
    """The violations that are values of the wrong type: answered before the others."""
    return [v for v in violations if v.kind == "type"]


_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "structure": (dict,),
    "map": (dict,),
    "list": (list,),
    "string": (str,),
    "blob": (str, bytes, bytearray),
    "boolean": (bool,),
    "integer": (int,),
    "long": (int,),
    "float": (int, float),
    "double": (int, float),
    "timestamp": (int, float, str, datetime),
}
_TYPE_WORDS = {
    "structure": "a JSON object", "map": "a JSON object (a map)", "list": "a JSON array",
    "string": "a string", "blob": "a base64 string", "boolean": "true or false",
    "integer": "an integer", "long": "an integer", "float": "a number",
    "double": "a number", "timestamp": "a timestamp (seconds since the epoch, or ISO 8601)",
}
_SCALARS = {"string", "blob", "boolean", "integer", "long", "float", "double", "timestamp"}


def _has_type(shape: Shape, value: Any) -> bool:
    expected = _JSON_TYPES.get(shape.type_name)
    if expected is None:
        return True
    if isinstance(value, bool) and shape.type_name != "boolean":
        return False
    return isinstance(value, expected)


def _check(shape: Shape, value: Any, at: tuple[str | int, ...]) -> Iterator[Violation]:
    if len(at) > SHAPE_DEPTH_MAX:
        return
    if not _has_type(shape, value):
        yield Violation(at, value, f"Member must be {_TYPE_WORDS[shape.type_name]}", "type")
        return
    kind = shape.type_name
    if kind == "structure":
        yield from _structure(shape, value, at)
    elif kind == "list":
        yield from _list(shape, value, at)
    elif kind == "map":
        yield from _map(shape, value, at)
    else:
        sensitive = bool(shape.metadata.get("sensitive"))
        for failed in _scalar_failures(shape, value):
            yield Violation(at, value, failed, sensitive=sensitive)


def _structure(shape: Shape, value: dict[str, Any], at: tuple[str | int, ...]) -> Iterator[Violation]:
    members = shape.members  # type: ignore[attr-defined]
    for name in shape.required_members:  # type: ignore[attr-defined]
        if value.get(name) is None:
            yield Violation(at + (name,), None, NOT_NULL, "null")
    for name, member in members.items():
        if value.get(name) is not None:
            yield from _check(member, value[name], at + (name,))


def _list(shape: Shape, value: list[Any], at: tuple[str | int, ...]) -> Iterator[Violation]:
    yield from (Violation(at, value, failed) for failed in _size_failures(shape, len(value)))
    item_shape = shape.member  # type: ignore[attr-defined]
    if item_shape.type_name not in _SCALARS:
        for index, item in enumerate(value, start=1):
            if item is None:
                yield Violation(at + (index,), None, NOT_NULL, "null")
            else:
                yield from _check(item_shape, item, at + (index,))
        return
    for index, item in enumerate(value, start=1):
        if item is not None and not _has_type(item_shape, item):
            yield Violation(at + (index,), item, f"Member must be {_TYPE_WORDS[item_shape.type_name]}", "type")
            return
    if any(item is None or _scalar_failures(item_shape, item) for item in value):
        yield Violation(at, value, _bracketed("Member", item_shape, not_null=True))


def _map(shape: Shape, value: dict[str, Any], at: tuple[str | int, ...]) -> Iterator[Violation]:
    yield from (Violation(at, value, failed) for failed in _size_failures(shape, len(value)))
    key_shape, value_shape = shape.key, shape.value  # type: ignore[attr-defined]
    if any(_scalar_failures(key_shape, key) for key in value):
        yield Violation(at, value, _bracketed("Map keys", key_shape, not_null=False))
    if value_shape.type_name not in _SCALARS:
        for key, item in value.items():
            if item is not None:
                yield from _check(value_shape, item, at + (key,))
        return
    for key, item in value.items():
        if item is not None and not _has_type(value_shape, item):
            yield Violation(at + (key,), item, f"Member must be {_TYPE_WORDS[value_shape.type_name]}", "type")
            return
    if any(item is None or _scalar_failures(value_shape, item) for item in value.values()):
        yield Violation(at, value, _bracketed("Map value", value_shape, not_null=True))


def _bracketed(subject: str, shape: Shape, *, not_null: bool) -> str:
    """``Member must satisfy constraint: [every constraint of the item shape]``."""
    constraints = _constraints(shape) + ([NOT_NULL] if not_null else [])
    return f"{subject} must satisfy constraint: [{', '.join(constraints)}]"


def _constraints(shape: Shape) -> list[str]:
    """Every constraint of a scalar shape, in the order AWS lists them."""
    meta = shape.metadata
    numeric = shape.type_name in ("integer", "long", "float", "double")
    what = "value" if numeric else "length"
    out = []
    if "max" in meta:
        out.append(f"Member must have {what} less than or equal to {_number(meta['max'], shape)}")
    if "min" in meta:
        out.append(f"Member must have {what} greater than or equal to {_number(meta['min'], shape)}")
    if "pattern" in meta:
        out.append(f"Member must satisfy regular expression pattern: {meta['pattern']}")
    if "enum" in meta:
        out.append(f"Member must satisfy enum value set: [{', '.join(meta['enum'])}]")
    return out


def _number(bound: Any, shape: Shape) -> str:
    if shape.type_name in ("float", "double"):
        return repr(float(bound))
    return str(int(bound)) if float(bound).is_integer() else str(bound)


def _size_failures(shape: Shape, size: int) -> list[str]:
    meta, out = shape.metadata, []
    if "max" in meta and size > meta["max"]:
        out.append(f"Member must have length less than or equal to {_number(meta['max'], shape)}")
    if "min" in meta and size < meta["min"]:
        out.append(f"Member must have length greater than or equal to {_number(meta['min'], shape)}")
    return out


def _scalar_failures(shape: Shape, value: Any) -> list[str]:
    """The constraints ``value`` (already of the right type) breaks, each as AWS words it."""
    meta = shape.metadata
    if not meta or isinstance(value, bool):
        return []
    kind = shape.type_name
    if kind in ("integer", "long", "float", "double"):
        out = []
        if "max" in meta and value > meta["max"]:
            out.append(f"Member must have value less than or equal to {_number(meta['max'], shape)}")
        if "min" in meta and value < meta["min"]:
            out.append(f"Member must have value greater than or equal to {_number(meta['min'], shape)}")
        return out
    if kind != "string":
        return []  # blob and timestamp bounds: nothing lambdalab serves has them
    out = _size_failures(shape, len(value))
    pattern = meta.get("pattern")
    if pattern is not None and (len(value) <= meta.get("max", PATTERN_INPUT_MAX)):
        regex = _regex(pattern)
        if regex is not None and regex.fullmatch(value) is None:
            out.append(f"Member must satisfy regular expression pattern: {pattern}")
    if "enum" in meta and value not in meta["enum"]:
        out.append(f"Member must satisfy enum value set: [{', '.join(meta['enum'])}]")
    return out


__all__ = [
    "Violation",
    "free_blobs",
    "message",
    "operation_model",
    "service_model",
    "show",
    "type_errors",
    "validate",
]
