"""The Java methods a mapping template may call, by the Java type of the value: an allowlist.

API Gateway's Velocity runs on Java, so a template sees ``java.lang.String``'s,
``java.util.List``'s and ``java.util.Map``'s methods, not Python's. airspeed would answer
Python's (``$s.ljust(5)``, ``$s.format(...)``); :mod:`.templates` calls only what
:data:`METHODS` lists and refuses the rest by name. The methods are those API Gateway
templates use
(https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-mapping-template-reference.html,
https://docs.oracle.com/javase/8/docs/api/java/lang/String.html): a value that would
outgrow :data:`.quotas.TEMPLATE_VALUE_MAX` is refused before it is made.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable, TypeVar

import regex

from . import quotas

T = TypeVar("T")


class JavaFailed(Exception):
    """A method Java would throw from (an index out of range, a bad regular expression)."""


@dataclass(frozen=True)
class Entry:
    """One of ``Map.entrySet()``'s entries."""

    key: Any
    value: Any


#: Java's ``String.trim`` removes every character up to and including the space.
_TRIMMED = "".join(chr(code) for code in range(33))
#: A Java replacement's group reference, ``$1`` or ``${name}``, or an escaped character.
_GROUP = re.compile(r"\$(\d+)|\$\{(\w+)\}|\\(.)|\$")


def java_text(value: Any) -> str:
    """``value`` as Java's ``String.valueOf`` writes it: ``true``, not Python's ``True``;
    a map as ``{a=1, b=x}``, a list as ``[1, x]``."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{key}={java_text(item)}" for key, item in value.items()) + "}"
    if isinstance(value, (list, range)):
        return "[" + ", ".join(java_text(item) for item in value) + "]"
    if isinstance(value, Entry):
        return f"{java_text(value.key)}={java_text(value.value)}"
    return str(value)


def _grown(size: int) -> None:
    if size > quotas.TEMPLATE_VALUE_MAX:
        raise JavaFailed(f"a value of more than {quotas.TEMPLATE_VALUE_MAX} characters")


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise JavaFailed(f"{value!r} is not a String")
    return value


def _regex(pattern: Any) -> "regex.Pattern[str]":
    try:
        return regex.compile(_text(pattern))
    except regex.error as error:
        raise JavaFailed(f"bad regular expression {pattern!r}: {error}") from None


def _bounded(match: Callable[[], T]) -> T:
    """A regular expression's run, failed past TEMPLATE_REGEX_TIMEOUT_S: a pattern that
    backtracks without end (``(a|aa)+$`` on a long input) must not hold the request."""
    try:
        return match()
    except TimeoutError:
        raise JavaFailed(f"a regular expression ran past {quotas.TEMPLATE_REGEX_TIMEOUT_S:g} s") from None


def _expand(match: "regex.Match[str]", replacement: str) -> str:
    """Java's ``Matcher.appendReplacement``: ``$1`` and ``${name}`` are groups, ``\\x`` is x."""
    def one(found: re.Match[str]) -> str:
        if found[1] is not None or found[2] is not None:
            group = int(found[1]) if found[1] is not None else found[2]
            try:
                return match.group(group) or ""
            except (IndexError, regex.error):
                raise JavaFailed(f"no group {found[0]} in the pattern") from None
        if found[3] is not None:
            return found[3]
        raise JavaFailed("a $ with no group after it in the replacement")
    return _GROUP.sub(one, replacement)


def _replace_matches(text: str, pattern: Any, replacement: Any, count: int = 0) -> str:
    """``replaceAll`` (``count`` 0) or ``replaceFirst`` (1), refused as soon as it outgrows the bound."""
    compiled, wanted, grown = _regex(pattern), _text(replacement), [len(text)]

    def one(match: "regex.Match[str]") -> str:
        written = _expand(match, wanted)
        grown[0] += len(written) - (match.end() - match.start())
        _grown(grown[0])
        return written
    return _bounded(lambda: compiled.sub(one, text, count=count, timeout=quotas.TEMPLATE_REGEX_TIMEOUT_S))


def _replace(text: str, old: Any, new: Any) -> str:
    old, new = _text(old), _text(new)
    times = text.count(old) if old else len(text) + 1
    _grown(len(text) + times * (len(new) - len(old)))
    return text.replace(old, new)


def _split(text: str, pattern: Any, limit: int = 0) -> list[str]:
    """Java's ``split``: no leading empty part for a zero-width match at the start, and
    (``limit`` 0) no trailing empty parts."""
    parts: list[str] = []
    start = 0
    for match in _bounded(lambda: list(_regex(pattern).finditer(text, timeout=quotas.TEMPLATE_REGEX_TIMEOUT_S))):
        if 0 < limit <= len(parts) + 1:
            break
        if match.end() == 0:
            continue
        parts.append(text[start:match.start()])
        start = match.end()
    if not parts:
        return [text]
    parts.append(text[start:])
    while limit == 0 and parts and parts[-1] == "":
        parts.pop()
    return parts


def _substring(text: str, begin: int, end: int | None = None) -> str:
    end = len(text) if end is None else end
    if not 0 <= begin <= end <= len(text):
        raise JavaFailed(f"String index out of range: begin {begin}, end {end}, length {len(text)}")
    return text[begin:end]


def _char_at(text: str, index: int) -> str:
    if not 0 <= index < len(text):
        raise JavaFailed(f"String index out of range: {index}")
    return text[index]


def _get(items: Any, index: int) -> Any:
    if not isinstance(index, int) or not 0 <= index < len(items):
        raise JavaFailed(f"Index {index} out of bounds for length {len(items)}")
    return items[index]


def _add(items: list[Any], value: Any) -> bool:
    """``List.add``: true, as Java answers."""
    _grown(len(items) + 1)
    items.append(value)
    return True


def _put(entries: dict[Any, Any], key: Any, value: Any) -> Any:
    """``Map.put``: the value it replaced."""
    _grown(len(entries) + 1)
    replaced = entries.get(key)
    entries[key] = value
    return replaced


def _concat(text: str, more: Any) -> str:
    _grown(len(text) + len(_text(more)))
    return text + more


Method = Callable[..., Any]
#: ``Object``'s, which every value has.
_OBJECT: dict[str, Method] = {
    "equals": lambda self, other: self == other,
    "toString": lambda self: java_text(self),
}
_STRING: dict[str, Method] = {
    **_OBJECT,
    "length": len,
    "isEmpty": lambda self: not self,
    "charAt": _char_at,
    "substring": _substring,
    "indexOf": lambda self, part, start=0: self.find(_text(part), max(start, 0)),
    "lastIndexOf": lambda self, part: self.rfind(_text(part)),
    "contains": lambda self, part: _text(part) in self,
    "startsWith": lambda self, prefix: self.startswith(_text(prefix)),
    "endsWith": lambda self, suffix: self.endswith(_text(suffix)),
    "equalsIgnoreCase": lambda self, other: isinstance(other, str) and self.lower() == other.lower(),
    "matches": lambda self, pattern: _bounded(
        lambda: _regex(pattern).fullmatch(self, timeout=quotas.TEMPLATE_REGEX_TIMEOUT_S)) is not None,
    "replace": _replace,
    "replaceAll": _replace_matches,
    "replaceFirst": lambda self, pattern, replacement: _replace_matches(self, pattern, replacement, 1),
    "split": _split,
    "concat": _concat,
    "toLowerCase": lambda self: self.lower(),
    "toUpperCase": lambda self: self.upper(),
    "trim": lambda self: self.strip(_TRIMMED),
}
_LIST: dict[str, Method] = {
    **_OBJECT,
    "size": len,
    "isEmpty": lambda self: len(self) == 0,
    "get": _get,
    "contains": lambda self, value: value in self,
}
#: A list a template made or parsed; airspeed's ``[1..3]`` is a ``range``, which cannot grow.
_MUTABLE_LIST: dict[str, Method] = {**_LIST, "add": _add}
_MAP: dict[str, Method] = {
    **_OBJECT,
    "size": len,
    "isEmpty": lambda self: not self,
    "get": lambda self, key: self.get(key),
    "containsKey": lambda self, key: key in self,
    "keySet": lambda self: list(self),
    "values": lambda self: list(self.values()),
    "entrySet": lambda self: [Entry(key, value) for key, value in self.items()],
    "put": _put,
}
_ENTRY: dict[str, Method] = {**_OBJECT, "getKey": lambda self: self.key, "getValue": lambda self: self.value}

#: Each Python type's Java methods, by the Java type it stands for.
METHODS: dict[type, tuple[str, dict[str, Method]]] = {
    str: ("String", _STRING), list: ("List", _MUTABLE_LIST), range: ("List", _LIST), dict: ("Map", _MAP),
    Entry: ("Map.Entry", _ENTRY), bool: ("Boolean", _OBJECT), int: ("Integer", _OBJECT),
    float: ("Double", _OBJECT),
}


def methods_of(value: Any) -> tuple[str, dict[str, Method]]:
    """The Java type ``value`` stands for and its methods (none for a type Java would not have)."""
    for kind in type(value).__mro__:
        if kind in METHODS:
            return METHODS[kind]
    return type(value).__name__, {}


def getter(methods: dict[str, Method], name: str) -> Method | None:
    """The method Velocity calls for the property ``name``: ``getName`` or ``isName``."""
    capitalized = name[:1].upper() + name[1:]
    return methods.get("get" + capitalized) or methods.get("is" + capitalized)
