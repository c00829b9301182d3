"""DynamoDB's attribute values: checked, normalised, compared, sized and stored.

An item travels as botocore's ``AttributeValue`` shapes: ``{"S": "x"}``, ``{"N": "1.5"}``
(numbers are strings), ``{"B": b"…"}``, ``{"SS": […]}``, ``{"M": {…}}``, ``{"L": […]}``,
``{"NULL": True}``, ``{"BOOL": False}``
(https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_AttributeValue.html).
In the store binaries are base64 text inside JSON; everywhere else they are bytes.
"""

from __future__ import annotations

import base64
import decimal
import json
from typing import Any, Mapping

from . import quotas
from .exceptions import ValidationException

AttributeValue = dict[str, Any]
Item = dict[str, AttributeValue]

TYPES = ("S", "N", "B", "SS", "NS", "BS", "M", "L", "NULL", "BOOL")
SETS = {"SS": "S", "NS": "N", "BS": "B"}
_CONTEXT = decimal.Context(prec=quotas.NUMBER_MAX_DIGITS)
#: Wide enough for any sum of two DynamoDB numbers to be exact.
_EXACT = decimal.Context(prec=2 * (quotas.NUMBER_MAX_EXPONENT - quotas.NUMBER_MIN_EXPONENT))


def number(text: Any) -> decimal.Decimal:
    """A DynamoDB number, or ValidationException as DynamoDB words it."""
    try:
        value = decimal.Decimal(str(text).strip())
    except decimal.InvalidOperation:
        raise ValidationException(
            "A value provided cannot be converted into a number") from None
    if not value.is_finite():
        raise ValidationException("A value provided cannot be converted into a number")
    if value and not quotas.NUMBER_MIN_EXPONENT <= value.adjusted() <= quotas.NUMBER_MAX_EXPONENT:
        raise ValidationException(
            "Number overflow. Attempting to store a number with magnitude larger than supported range"
            if value.adjusted() > 0 else
            "Number underflow. Attempting to store a number with magnitude smaller than supported range")
    if len(value.normalize(_EXACT).as_tuple().digits) > quotas.NUMBER_MAX_DIGITS:
        raise ValidationException("Attempting to store more than 38 significant digits in a Number")
    return value


def number_text(value: decimal.Decimal) -> str:
    """A number as DynamoDB returns it: no exponent, no trailing zeros (``1.50`` → ``1.5``)."""
    if not value:
        return "0"
    return format(value.normalize(_CONTEXT), "f")


def sum_text(a: str, b: str, subtract: bool = False) -> str:
    """``a + b`` (or ``a - b``) exactly, where the default context would round past 28
    digits; ValidationException when the result needs more than DynamoDB's 38."""
    with decimal.localcontext(_EXACT):
        x, y = decimal.Decimal(a), decimal.Decimal(b)
        return number_text(number(x - y if subtract else x + y))


def checked(value: Any, where: str = "", depth: int = 0) -> AttributeValue:
    """One attribute value from a request, normalised; ValidationException if malformed or
    nested deeper than DynamoDB's 32 levels."""
    if depth > quotas.NESTING_MAX:
        raise ValidationException("Nesting Levels have exceeded supported limits")
    if not isinstance(value, Mapping) or len(value) != 1:
        raise ValidationException(
            "Supplied AttributeValue has more than one datatypes set, must contain exactly one of "
            f"the supported datatypes{where}" if isinstance(value, Mapping) and value else
            f"Supplied AttributeValue is empty, must contain exactly one of the supported datatypes{where}")
    kind, inner = next(iter(value.items()))
    if kind == "N":
        return {"N": number_text(number(inner))}
    if kind == "S" and isinstance(inner, str):
        _text(inner)
    if kind in SETS:
        return {kind: _checked_set(kind, inner)}
    if kind == "M":
        return {"M": {str(k): checked(v, where, depth + 1) for k, v in dict(inner).items()}}
    if kind == "L":
        return {"L": [checked(v, where, depth + 1) for v in inner]}
    if kind == "NULL" and inner is not True:
        raise ValidationException("One or more parameter values were invalid: Null attribute value types must have the value of true")
    if kind == "B" and isinstance(inner, str):
        inner = base64.b64decode(inner)
    if kind not in TYPES:
        raise ValidationException(f"Supplied AttributeValue has an unknown datatype {kind!r}{where}")
    return {kind: inner}


def _checked_set(kind: str, members: Any) -> list[Any]:
    members = list(members or [])
    if not members:
        raise ValidationException(
            "One or more parameter values were invalid: An number set  may not be empty"
            if kind == "NS" else
            f"One or more parameter values were invalid: An {'string' if kind == 'SS' else 'binary'} set  may not be empty")
    if kind == "NS":
        members = [number_text(number(m)) for m in members]
        distinct = {number(m) for m in members}
    else:
        distinct = set(members)
    if len(distinct) != len(members):
        raise ValidationException("One or more parameter values were invalid: Input collection "
                                  f"{members} contains duplicates.")
    return members


def checked_item(item: Any, what: str = "Item") -> Item:
    if not isinstance(item, Mapping):
        raise ValidationException(f"One or more parameter values were invalid: {what} must be a map")
    return {_text(str(name)): checked(value) for name, value in item.items()}


def _text(text: str) -> str:
    """``text``, if UTF-8 can hold it (a lone surrogate it cannot)."""
    try:
        text.encode()
    except UnicodeEncodeError:
        raise ValidationException("One or more parameter values were invalid: a string holds a "
                                  "lone surrogate, which is not Unicode text; send UTF-8") from None
    return text


def stored_text(value: AttributeValue) -> str:
    """A key value as the store's JSON holds it (binaries in base64)."""
    kind, inner = next(iter(value.items()))
    return base64.b64encode(inner).decode() if kind == "B" else str(inner)


def key_text(value: AttributeValue) -> str:
    """A key value as one string, equal for equal values (``1`` and ``1.0`` alike)."""
    kind, inner = next(iter(value.items()))
    if kind == "B":
        return "B:" + base64.b64encode(inner).decode()
    return f"{kind}:{inner}"


def sort_value(value: AttributeValue) -> Any:
    """The order DynamoDB sorts a key by: numbers by value, strings and binaries by bytes."""
    kind, inner = next(iter(value.items()))
    if kind == "N":
        return decimal.Decimal(inner)
    if kind == "S":
        return inner.encode()
    return bytes(inner)


def comparable(a: AttributeValue | None, b: AttributeValue | None) -> bool:
    """Whether ``<``, ``>`` and BETWEEN can compare the two (both N, S or B alike)."""
    return (a is not None and b is not None and next(iter(a)) == next(iter(b))
            and next(iter(a)) in ("N", "S", "B"))


def equal(a: AttributeValue | None, b: AttributeValue | None) -> bool:
    if a is None or b is None:
        return False
    kind, inner = next(iter(a.items()))
    if next(iter(b)) != kind:
        return False
    other = b[kind]
    if kind == "N":
        return bool(decimal.Decimal(inner) == decimal.Decimal(other))
    if kind == "NS":
        return {decimal.Decimal(m) for m in inner} == {decimal.Decimal(m) for m in other}
    if kind in ("SS", "BS"):
        return set(inner) == set(other)
    if kind == "M":
        return inner.keys() == other.keys() and all(equal(inner[k], other[k]) for k in inner)
    if kind == "L":
        return len(inner) == len(other) and all(equal(x, y) for x, y in zip(inner, other))
    return bool(inner == other)


def size(value: AttributeValue) -> int:
    """The bytes a value counts for in the 400 KB item limit
    (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/CapacityUnitCalculations.html)."""
    kind, inner = next(iter(value.items()))
    if kind == "S":
        return len(inner.encode())
    if kind == "B":
        return len(inner)
    if kind == "N":
        return len(inner) // 2 + 1
    if kind in ("NULL", "BOOL"):
        return 1
    if kind in SETS:
        return sum(size({SETS[kind]: m}) for m in inner)
    if kind == "M":
        return 3 + sum(len(k.encode()) + size(v) + 1 for k, v in inner.items())
    return 3 + sum(size(v) + 1 for v in inner)


def item_size(item: Item) -> int:
    return sum(len(name.encode()) + size(value) for name, value in item.items())


# -- the store's form ------------------------------------------------------------------

def _stored(value: AttributeValue) -> Any:
    kind, inner = next(iter(value.items()))
    if kind == "B":
        return {"B": base64.b64encode(inner).decode()}
    if kind == "BS":
        return {"BS": [base64.b64encode(m).decode() for m in inner]}
    if kind == "M":
        return {"M": {k: _stored(v) for k, v in inner.items()}}
    if kind == "L":
        return {"L": [_stored(v) for v in inner]}
    return value


def _loaded(value: Any) -> AttributeValue:
    kind, inner = next(iter(value.items()))
    if kind == "B":
        return {"B": base64.b64decode(inner)}
    if kind == "BS":
        return {"BS": [base64.b64decode(m) for m in inner]}
    if kind == "M":
        return {"M": {k: _loaded(v) for k, v in inner.items()}}
    if kind == "L":
        return {"L": [_loaded(v) for v in inner]}
    return dict(value)


def dumps(item: Item) -> str:
    return json.dumps({k: _stored(v) for k, v in item.items()}, separators=(",", ":"))


def loads(text: str) -> Item:
    return {k: _loaded(v) for k, v in json.loads(text).items()}


def as_json(item: Item) -> dict[str, Any]:
    """An item as JSON-able data (binaries in base64): a stream record's images."""
    return {k: _stored(v) for k, v in item.items()}
