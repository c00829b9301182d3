"""Event filter patterns: the syntax Lambda's ``FilterCriteria`` and SNS filter policies share.

A pattern is a JSON object shaped like the events it selects. A key whose value is an
object descends into the event; a key whose value is a list is a leaf: the event's value
there must match one of the list's rules (OR); all keys must match (AND), and ``"$or"``
takes a list of patterns of which one must match
(https://docs.aws.amazon.com/lambda/latest/dg/invocation-eventfiltering.html#filtering-syntax,
https://docs.aws.amazon.com/sns/latest/dg/sns-subscription-filter-policies.html).
The rules of a leaf list:

=========================================  ==============================================
Rule                                       Matches
=========================================  ==============================================
``"Alice"``, ``100``, ``true``, ``null``   that value (``100`` matches ``100.0`` too)
``{"prefix": "us-"}``                      a string beginning so (``suffix``: ending so)
``{"wildcard": "dir/*.png"}``              a string of that shape (``*``: any characters,
                                           ``\\*`` a star); EventBridge's alone
``{"equals-ignore-case": "alice"}``        a string equal but for case
``{"anything-but": ["a", "b"]}``           any other value (or ``prefix``/``suffix``)
``{"numeric": [">", 10, "<=", 20]}``       a number in the range (``=``, ``<``, ``<=``, …)
``{"exists": true}``                       any value of the key (``false``: no key)
``{"cidr": "10.0.0.0/24"}``                an IP address in the network
=========================================  ==============================================

Where the event holds a list, the pattern matches when one of its items does. Every
consumer calls :func:`matches`; :func:`problem` says what is wrong with a pattern, and
:func:`parse_filter_criteria` reads a mapping's ``FilterCriteria`` as Lambda's
CreateEventSourceMapping does, refusing a bad pattern with AWS's
InvalidParameterValueException message.
"""

from __future__ import annotations

import functools
import ipaddress
import json
import math
import re
from typing import Any, Iterator, Mapping

from . import limits
from .errors import InvalidParameterValueException

__all__ = ["matches", "problem", "parse_filter_criteria", "parse_filter_pattern", "FilterPatternError",
           "combinations"]

#: Where a key is absent from the event (``None`` is JSON's null, which is present).
_MISSING = object()
_NUMERIC_OPERATORS = {"=", "<", "<=", ">", ">="}
_OPERATORS = {"prefix", "suffix", "equals-ignore-case", "anything-but", "numeric", "exists", "cidr",
              "wildcard"}


class FilterPatternError(ValueError):
    """A pattern that breaks the syntax; the message says where and why."""


# -- matching ---------------------------------------------------------------------------


def matches(pattern: Mapping[str, Any], event: Any) -> bool:
    """Whether ``event`` (parsed JSON) matches ``pattern`` (a checked pattern object).

    >>> from lambdalab.event_filters import matches
    >>> matches({"body": {"RequestCode": ["BBBB"]}}, {"body": {"RequestCode": "BBBB"}})
    True
    """
    return _object_matches(pattern, event)


def _object_matches(pattern: Mapping[str, Any], event: Any) -> bool:
    if isinstance(event, list):  # a list of objects: one of them must match
        return any(_object_matches(pattern, item) for item in event)
    fields = event if isinstance(event, dict) else {}
    for key, rule in pattern.items():
        if key == "$or":
            if not any(_object_matches(branch, event) for branch in rule):
                return False
        elif isinstance(rule, dict):
            if not _object_matches(rule, fields.get(key, {})):
                return False
        elif not _leaf_matches(rule, fields.get(key, _MISSING)):
            return False
    return True


def _leaf_matches(rules: list[Any], value: Any) -> bool:
    if value is _MISSING:
        return any(isinstance(r, dict) and r.get("exists") is False for r in rules)
    values = value if isinstance(value, list) else [value]
    return any(_rule_matches(rule, v) for rule in rules for v in values)


def _rule_matches(rule: Any, value: Any) -> bool:
    if not isinstance(rule, dict):
        return _equals(rule, value)
    (operator, operand), = rule.items()
    if operator == "exists":  # an object is no leaf: it does not "exist" (AWS's example)
        return bool(operand) is not isinstance(value, dict)
    if operator == "anything-but":
        return _anything_but(operand, value)
    if operator == "numeric":
        return _is_number(value) and _in_range(operand, float(value))
    if operator == "cidr":
        return _in_network(operand, value)
    return isinstance(value, str) and _string_test(operator, operand, value)


def _equals(expected: Any, value: Any) -> bool:
    if _is_number(expected) and _is_number(value):
        return float(expected) == float(value)
    return type(expected) is type(value) and expected == value


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _string_test(operator: str, operand: Any, value: str) -> bool:
    ignore_case = isinstance(operand, dict)
    text = operand["equals-ignore-case"] if ignore_case else operand
    if ignore_case or operator == "equals-ignore-case":
        text, value = text.casefold(), value.casefold()
    if operator == "prefix":
        return value.startswith(text)
    if operator == "suffix":
        return value.endswith(text)
    if operator == "wildcard":
        return _wildcard(text).fullmatch(value) is not None
    return value == text


@functools.lru_cache(maxsize=1024)
def _wildcard(text: str) -> re.Pattern[str]:
    """A wildcard as a regular expression: ``*`` is any run of characters, ``\\*`` a star."""
    parts = re.split(r"(\\\*|\*)", text)
    return re.compile("".join(
        ".*" if part == "*" else re.escape("*" if part == "\\*" else part) for part in parts), re.DOTALL)


def _anything_but(operand: Any, value: Any) -> bool:
    if isinstance(operand, dict):
        (operator, inner), = operand.items()
        texts = inner if isinstance(inner, list) else [inner]
        return isinstance(value, str) and not any(_string_test(operator, t, value) for t in texts)
    excluded = operand if isinstance(operand, list) else [operand]
    return not any(_equals(e, value) for e in excluded)


def _in_range(bounds: list[Any], value: float) -> bool:
    for operator, limit in zip(bounds[::2], bounds[1::2]):
        limit = float(limit)
        if not {"=": value == limit, "<": value < limit, "<=": value <= limit,
                ">": value > limit, ">=": value >= limit}[operator]:
            return False
    return True


def _in_network(network: str, value: Any) -> bool:
    try:
        return isinstance(value, str) and ipaddress.ip_address(value) in ipaddress.ip_network(network)
    except ValueError:
        return False


# -- checking ---------------------------------------------------------------------------


def problem(pattern: Any, *, eventbridge: bool = False) -> str | None:
    """What is wrong with ``pattern``, in a sentence; ``None`` when it is a valid pattern.

    ``eventbridge``: check it as an EventBridge rule's pattern, which may use
    ``wildcard`` (Lambda's FilterCriteria and SNS filter policies may not).
    """
    try:
        _check_object(pattern, "")
    except FilterPatternError as e:
        return str(e)
    if not eventbridge and _uses_wildcard(pattern):
        return "the wildcard operator is EventBridge's alone; use prefix or suffix."
    return None


def _uses_wildcard(pattern: Mapping[str, Any]) -> bool:
    """Whether a (checked) pattern has a wildcard rule, itself or inside anything-but."""
    for key, value in pattern.items():
        if key == "$or" or isinstance(value, dict):
            if any(_uses_wildcard(branch) for branch in (value if key == "$or" else [value])):
                return True
            continue
        for rule in value:
            inner = rule.get("anything-but") if isinstance(rule, dict) else None
            if isinstance(rule, dict) and ("wildcard" in rule or isinstance(inner, dict) and "wildcard" in inner):
                return True
    return False


def _check_object(pattern: Any, path: str) -> None:
    if not isinstance(pattern, dict) or not pattern:
        raise FilterPatternError(f"{path or 'The pattern'} must be a non-empty JSON object.")
    for key, rule in pattern.items():
        where = f"{path}.{key}" if path else key
        if key == "$or":
            if not isinstance(rule, list) or len(rule) < 2:
                raise FilterPatternError(f"{where} must be a list of two or more patterns.")
            for branch in rule:
                _check_object(branch, where)
        elif isinstance(rule, dict):
            _check_object(rule, where)
        elif isinstance(rule, list) and rule:
            for item in rule:
                _check_rule(item, where)
        else:
            raise FilterPatternError(
                f"{where}: a value must be a list of rules (such as [\"value\"]) or an object.")


def _check_rule(rule: Any, where: str) -> None:
    if rule is None or isinstance(rule, (str, bool)) or _is_number(rule):
        if isinstance(rule, float) and not math.isfinite(rule):
            raise FilterPatternError(f"{where}: {rule} is not a number JSON can hold.")
        return
    if not isinstance(rule, dict) or len(rule) != 1:
        raise FilterPatternError(
            f"{where}: a rule is a string, number, boolean, null, or an object with one operator.")
    (operator, operand), = rule.items()
    if operator not in _OPERATORS:
        raise FilterPatternError(
            f"{where}: unknown operator {operator!r}; use one of {', '.join(sorted(_OPERATORS))}.")
    _OPERAND_CHECKS[operator](operand, f"{where}.{operator}")


def _check_text(operand: Any, where: str) -> None:
    if isinstance(operand, dict) and set(operand) == {"equals-ignore-case"}:
        operand = operand["equals-ignore-case"]
    if not isinstance(operand, str) or not operand:
        raise FilterPatternError(f"{where} takes a non-empty string.")


def _check_wildcard(operand: Any, where: str) -> None:
    if not isinstance(operand, str):
        raise FilterPatternError(f"{where} takes a string.")
    if "**" in operand.replace("\\*", ""):
        raise FilterPatternError(f"{where}: consecutive wildcard characters are not allowed.")


_ANYTHING_BUT_TEXT = ("prefix", "suffix", "equals-ignore-case", "wildcard")


def _check_ignore_case(operand: Any, where: str) -> None:
    if not isinstance(operand, str):
        raise FilterPatternError(f"{where} takes a string.")


def _check_anything_but(operand: Any, where: str) -> None:
    if isinstance(operand, dict):
        if len(operand) != 1 or next(iter(operand)) not in _ANYTHING_BUT_TEXT:
            raise FilterPatternError(
                f"{where} takes a value, a list of values, or one of {', '.join(_ANYTHING_BUT_TEXT)}.")
        (inner, text), = operand.items()
        for item in text if isinstance(text, list) and inner in ("equals-ignore-case", "wildcard") else [text]:
            _check_text(item, f"{where}.{inner}")
        return
    for item in operand if isinstance(operand, list) else [operand]:
        if not (isinstance(item, str) or _is_number(item)):
            raise FilterPatternError(f"{where} takes strings or numbers.")


def _check_numeric(operand: Any, where: str) -> None:
    shape = f"{where} takes [OPERATOR, NUMBER] or [\">\", LOW, \"<\", HIGH] (=, <, <=, >, >=)."
    if not isinstance(operand, list) or len(operand) not in (2, 4):
        raise FilterPatternError(shape)
    operators, numbers = operand[::2], operand[1::2]
    if any(o not in _NUMERIC_OPERATORS for o in operators) or not all(
            _is_number(n) and math.isfinite(n) for n in numbers):
        raise FilterPatternError(shape)
    if len(operand) == 4 and not (operators[0] in (">", ">=") and operators[1] in ("<", "<=")
                                  and numbers[0] < numbers[1]):
        raise FilterPatternError(f"{where}: a range is a lower bound (> or >=) then a higher "
                                 "upper bound (< or <=).")
    if "=" in operators and len(operand) == 4:
        raise FilterPatternError(shape)


def _check_exists(operand: Any, where: str) -> None:
    if not isinstance(operand, bool):
        raise FilterPatternError(f"{where} takes true or false.")


def _check_cidr(operand: Any, where: str) -> None:
    try:
        ipaddress.ip_network(operand)
    except (TypeError, ValueError):
        raise FilterPatternError(f"{where} takes a network such as \"10.0.0.0/24\".") from None


_OPERAND_CHECKS = {
    "prefix": _check_text,
    "suffix": _check_text,
    "equals-ignore-case": _check_ignore_case,
    "anything-but": _check_anything_but,
    "numeric": _check_numeric,
    "exists": _check_exists,
    "cidr": _check_cidr,
    "wildcard": _check_wildcard,
}


def combinations(pattern: Mapping[str, Any]) -> int:
    """How many value combinations ``pattern`` has (SNS caps it): the product, over the
    leaves, of their rule counts, summed over ``$or`` branches."""
    return sum(_product(branch) for branch in _branches(pattern))


def _branches(pattern: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """``pattern`` with each ``$or`` spread into the plain patterns it stands for."""
    plain = {k: v for k, v in pattern.items() if k != "$or"}
    alternatives = pattern.get("$or") or [{}]
    for alternative in alternatives:
        for branch in _branches(alternative) if alternative else [{}]:
            yield {**plain, **branch}


def _product(pattern: Mapping[str, Any]) -> int:
    total = 1
    for rule in pattern.values():
        total *= combinations(rule) if isinstance(rule, dict) else len(rule)
    return total


# -- Lambda's FilterCriteria ---------------------------------------------------------------


def parse_filter_criteria(criteria: Any) -> tuple[str, ...]:
    """An event source mapping's ``FilterCriteria`` (``{"Filters": [{"Pattern": TEXT}]}``)
    as the pattern texts to keep, each checked as Lambda checks it; ``{}`` and
    ``{"Filters": []}`` give none (UpdateEventSourceMapping's way to remove them)."""
    if not isinstance(criteria, Mapping):
        raise _invalid('FilterCriteria is an object: {"Filters": [{"Pattern": "..."}]}.')
    filters = criteria.get("Filters") or []
    if not isinstance(filters, list) or len(filters) > limits.FILTERS_PER_MAPPING_MAX:
        raise _invalid(f"FilterCriteria.Filters is a list of at most "
                       f"{limits.FILTERS_PER_MAPPING_MAX} filters.")
    texts = [f.get("Pattern") if isinstance(f, Mapping) else None for f in filters]
    for text in texts:
        parse_filter_pattern(text)
    return tuple(str(text) for text in texts)


def parse_filter_pattern(text: Any) -> dict[str, Any]:
    """One ``FilterCriteria.Filters[].Pattern`` as Lambda reads it: JSON text of a valid
    pattern. A bad one is refused as CreateEventSourceMapping refuses it."""
    if not isinstance(text, str) or len(text) > limits.FILTER_PATTERN_MAX_CHARS:
        raise _invalid(f"A Pattern is a string of at most {limits.FILTER_PATTERN_MAX_CHARS} characters.")
    try:
        pattern = json.loads(text)
    except (ValueError, RecursionError):
        raise _invalid("The Pattern is not valid JSON.") from None
    reason = problem(pattern)
    if reason:
        raise _invalid(reason)
    return pattern


def _invalid(reason: str) -> InvalidParameterValueException:
    return InvalidParameterValueException(f"Invalid filter pattern definition. {reason}")
