"""CloudWatch Logs' filter pattern syntax: which log events a pattern matches.

One syntax serves ``FilterLogEvents``, subscription filters and ``lambdalab logs
--filter`` (https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/FilterAndPatternSyntax.html):

- terms: ``ERROR Exception`` (both), ``?ERROR ?WARN`` (either), ``ERROR -Exiting``
  (the first and not the second), ``"quoted phrase"``; case-sensitive;
- a regular expression between percent signs: ``%[Ee]rror%``;
- a JSON pattern: ``{ $.level = "ERROR" }``, ``{ $.latency > 100 }``,
  ``{ ($.a = 1) && ($.b = "x*" || $.c IS TRUE) }``, ``IS NULL``, ``NOT EXISTS``;
- a space-delimited pattern: ``[ip, user, ..., status = 4*, bytes > 1000]``.

:func:`compile_pattern` turns a pattern into a predicate on a message, or raises
:class:`PatternError` saying what it could not read.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Callable

Matcher = Callable[[str], bool]

_OPERATORS = ("!=", ">=", "<=", "=", ">", "<")
#: Parentheses a pattern may open (each is a level of recursion when it is read).
_NESTING_MAX = 100
_NUMBER = re.compile(r"^-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?$")


class PatternError(ValueError):
    """A filter pattern that does not parse; the message says where."""


def compile_pattern(pattern: str) -> Matcher:
    """A predicate telling whether a message matches ``pattern`` (``""`` matches all)."""
    text = pattern.strip()
    if not text:
        return lambda message: True
    if text.count("(") > _NESTING_MAX:
        raise PatternError(f"Invalid filter pattern: more than {_NESTING_MAX} parentheses")
    if text.startswith("{"):
        return _json_pattern(text)
    if text.startswith("["):
        return _delimited_pattern(text)
    return _terms_pattern(text)


# -- terms --------------------------------------------------------------------------------


def _term_tokens(text: str) -> list[str]:
    """Whitespace-separated tokens; a quoted phrase (with ``\\"`` inside) is one token."""
    tokens = re.findall(r'[-?]?"(?:[^"\\]|\\.)*"|[-?]?%[^%]*%|\S+', text)
    if "".join(tokens).count('"') % 2:
        raise PatternError(f"Invalid filter pattern: unbalanced quotes in {text!r}")
    return tokens


def _term(token: str) -> Matcher:
    if len(token) >= 2 and token[0] == token[-1] == '"':
        phrase = re.sub(r'\\(.)', r"\1", token[1:-1])
        return lambda message: phrase in message
    if len(token) >= 2 and token[0] == token[-1] == "%":
        regex = _regex(token[1:-1])
        return lambda message: regex.search(message) is not None
    return lambda message: token in message


def _regex(source: str) -> re.Pattern[str]:
    try:
        return re.compile(source)
    except re.error as e:
        raise PatternError(f"Invalid filter pattern: regular expression %{source}%: {e}") from None


def _terms_pattern(text: str) -> Matcher:
    required: list[Matcher] = []
    optional: list[Matcher] = []
    excluded: list[Matcher] = []
    for token in _term_tokens(text):
        kind, body = (token[0], token[1:]) if token[0] in "?-" and len(token) > 1 else ("", token)
        {"": required, "?": optional, "-": excluded}[kind].append(_term(body))

    def matches(message: str) -> bool:
        return (
            all(term(message) for term in required)
            and (not optional or any(term(message) for term in optional))
            and not any(term(message) for term in excluded)
        )

    return matches


# -- JSON patterns ------------------------------------------------------------------------


_JSON_TOKEN = re.compile(
    r'\s*(?:(?P<string>"(?:[^"\\]|\\.)*")|(?P<op>&&|\|\||!=|>=|<=|=|>|<|\(|\))'
    r"|(?P<word>[^\s()=!<>&|\"]+))"
)


def _tokens(text: str) -> list[tuple[str, str]]:
    tokens, at = [], 0
    while at < len(text):
        if text[at:].strip() == "":
            break
        found = _JSON_TOKEN.match(text, at)
        if not found or found.end() == at:
            raise PatternError(f"Invalid filter pattern: cannot read {text[at:at + 20]!r}")
        kind = found.lastgroup or "word"
        tokens.append((kind, found.group(kind)))
        at = found.end()
    return tokens


@dataclass
class _Reader:
    """A cursor over tokens, for the recursive-descent parsers below."""

    tokens: list[tuple[str, str]]
    at: int = 0

    def peek(self) -> str | None:
        return self.tokens[self.at][1] if self.at < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        if self.at >= len(self.tokens):
            raise PatternError("Invalid filter pattern: it ends too early")
        self.at += 1
        return self.tokens[self.at - 1]


def _json_pattern(text: str) -> Matcher:
    if not text.endswith("}"):
        raise PatternError("Invalid filter pattern: a JSON pattern ends with '}'")
    reader = _Reader(_tokens(text[1:-1]))
    test = _or(reader, _json_condition)
    if reader.peek() is not None:
        raise PatternError(f"Invalid filter pattern: unexpected {reader.peek()!r}")

    def matches(message: str) -> bool:
        try:
            document = json.loads(message)
        except ValueError:
            return False
        return isinstance(document, (dict, list)) and test(document)

    return matches


Condition = Callable[[Any], bool]


def _or(reader: _Reader, leaf: Callable[[_Reader], Condition]) -> Condition:
    parts = [_and(reader, leaf)]
    while reader.peek() == "||":
        reader.take()
        parts.append(_and(reader, leaf))
    return parts[0] if len(parts) == 1 else lambda value: any(p(value) for p in parts)


def _and(reader: _Reader, leaf: Callable[[_Reader], Condition]) -> Condition:
    parts = [_unary(reader, leaf)]
    while reader.peek() == "&&":
        reader.take()
        parts.append(_unary(reader, leaf))
    return parts[0] if len(parts) == 1 else lambda value: all(p(value) for p in parts)


def _unary(reader: _Reader, leaf: Callable[[_Reader], Condition]) -> Condition:
    if reader.peek() == "(":
        reader.take()
        inner = _or(reader, leaf)
        if reader.take()[1] != ")":
            raise PatternError("Invalid filter pattern: a '(' is not closed")
        return inner
    return leaf(reader)


_MISSING = object()


def _selector(path: str) -> Callable[[Any], Any]:
    """``$.a.b[0]`` as a function of a document (``_MISSING`` where there is nothing)."""
    if not path.startswith("$"):
        raise PatternError(f"Invalid filter pattern: a JSON selector starts with '$.', not {path!r}")
    steps: list[str | int] = []
    for name, index in re.findall(r"\.([^.\[\]]+)|\[(\d+)\]", path[1:]):
        steps.append(int(index) if index else name)
    if re.sub(r"\.([^.\[\]]+)|\[(\d+)\]", "", path[1:]):
        raise PatternError(f"Invalid filter pattern: cannot read the selector {path!r}")

    def select(document: Any) -> Any:
        for step in steps:
            if isinstance(step, int) and isinstance(document, list) and step < len(document):
                document = document[step]
            elif isinstance(step, str) and isinstance(document, dict) and step in document:
                document = document[step]
            else:
                return _MISSING
        return document

    return select


def _json_condition(reader: _Reader) -> Condition:
    select = _selector(reader.take()[1])
    word = reader.take()
    if word[1].upper() == "IS":
        kind = reader.take()[1].upper()
        wanted = {"TRUE": True, "FALSE": False, "NULL": None}.get(kind, _MISSING)
        if wanted is _MISSING:
            raise PatternError(f"Invalid filter pattern: IS {kind}: use IS TRUE, FALSE or NULL")
        return lambda doc: select(doc) is wanted
    if word[1].upper() == "NOT":
        if reader.take()[1].upper() != "EXISTS":
            raise PatternError("Invalid filter pattern: NOT is followed by EXISTS")
        return lambda doc: select(doc) is _MISSING
    if word[1] not in _OPERATORS:
        raise PatternError(f"Invalid filter pattern: {word[1]!r} is not an operator")
    compare = _comparison(word[1], reader.take())
    return lambda doc: compare(select(doc))


def _comparison(op: str, value: tuple[str, str]) -> Callable[[Any], bool]:
    """``op value`` as a test of a field's value (JSON or a space-delimited field)."""
    kind, text = value
    if kind == "word" and _NUMBER.match(text):
        number = float(text)
        return lambda found: _number_test(op, found, number)
    if op not in ("=", "!="):
        raise PatternError(f"Invalid filter pattern: {op} compares numbers, not {text!r}")
    wanted = json.loads(text) if kind == "string" else text
    like = re.compile("".join(".*" if part == "*" else re.escape(part)
                              for part in re.split(r"(\*)", wanted)) + r"\Z", re.DOTALL)

    def test(found: Any) -> bool:
        if found is _MISSING or not isinstance(found, str):
            return False
        return bool(like.match(found)) == (op == "=")

    return test


def _number_test(op: str, found: Any, number: float) -> bool:
    if isinstance(found, str) and _NUMBER.match(found):
        found = float(found)
    if isinstance(found, bool) or not isinstance(found, (int, float)):
        return False
    return {
        "=": found == number, "!=": found != number, ">": found > number,
        "<": found < number, ">=": found >= number, "<=": found <= number,
    }[op]


# -- space-delimited patterns ---------------------------------------------------------------


@dataclass(frozen=True)
class _Field:
    """One field of a space-delimited pattern: a name and its test, or ``...``."""

    name: str
    test: Callable[[str], bool] | None = None

    @property
    def ellipsis(self) -> bool:
        return self.name == "..."


def _delimited_pattern(text: str) -> Matcher:
    if not text.endswith("]"):
        raise PatternError("Invalid filter pattern: a space-delimited pattern ends with ']'")
    fields = [_delimited_field(part.strip()) for part in _split_fields(text[1:-1])]

    def matches(message: str) -> bool:
        return _fields_match(fields, _message_fields(message))

    return matches


def _split_fields(body: str) -> list[str]:
    parts = re.findall(r'(?:"(?:[^"\\]|\\.)*"|[^,"])+', body)
    if not parts or any(not p.strip() for p in parts):
        raise PatternError("Invalid filter pattern: a field of [...] is empty")
    return parts


def _delimited_field(part: str) -> _Field:
    if part == "...":
        return _Field("...")
    tokens = _tokens(part)
    name = tokens[0][1]
    if len(tokens) == 1:
        return _Field(name)
    reader = _Reader(tokens)

    def leaf(r: _Reader) -> Condition:
        if r.take()[1] != name:
            raise PatternError(f"Invalid filter pattern: field {name!r} compares another field")
        op = r.take()[1]
        if op not in _OPERATORS:
            raise PatternError(f"Invalid filter pattern: {op!r} is not an operator")
        return _comparison(op, r.take())

    test = _or(reader, leaf)
    if reader.peek() is not None:
        raise PatternError(f"Invalid filter pattern: unexpected {reader.peek()!r}")
    return _Field(name, test)


def _message_fields(message: str) -> list[str]:
    """A message's fields: split on spaces; ``"..."`` and ``[...]`` are one field each."""
    return [f[1:-1] if f[:1] in '"[' else f
            for f in re.findall(r'"[^"]*"|\[[^\]]*\]|\S+', message)]


def _fields_match(fields: list[_Field], values: list[str]) -> bool:
    """Whether ``values`` fit ``fields``; an ellipsis takes any number of values. The
    positions each field can reach are kept as a set: fields × values steps at most."""
    reached = {0}
    for field in fields:
        if field.ellipsis:
            reached = set(range(min(reached), len(values) + 1)) if reached else set()
        else:
            reached = {at + 1 for at in reached if at < len(values)
                       and (field.test is None or field.test(values[at]))}
    return len(values) in reached
