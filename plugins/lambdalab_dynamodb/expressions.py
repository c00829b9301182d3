"""DynamoDB's expressions: parsed once per request, evaluated against items.

The grammar is AWS's
(https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Expressions.OperatorsAndFunctions.html,
https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Expressions.UpdateExpressions.html)::

    condition ::= operand comparator operand | operand BETWEEN operand AND operand
                | operand IN ( operand (, operand)* ) | function
                | condition AND condition | condition OR condition | NOT condition
                | ( condition )
    comparator ::= = | <> | < | <= | > | >=
    function ::= attribute_exists(path) | attribute_not_exists(path)
               | attribute_type(path, type) | begins_with(path, substr)
               | contains(path, operand) | size(path)

with precedence, from high to low: comparators, IN, BETWEEN, functions, parentheses,
NOT, AND, OR. A path is ``name``, ``#placeholder``, ``path.name`` or ``path[n]``; a value
is a ``:placeholder`` of ExpressionAttributeValues. An :class:`Expressions` holds one
request's placeholders and, once every expression is parsed, refuses those never used,
as DynamoDB does.

A tree is plain tuples: ``("path", [elements])``, ``("value", av)``, ``("size", path)``,
``("cmp", op, a, b)``, ``("between", a, low, high)``, ``("in", a, [operands])``,
``("func", name, [args])``, ``("and"|"or", a, b)``, ``("not", a)``; in updates
``("+"|"-", a, b)``, ``("if_not_exists", path, operand)``, ``("list_append", a, b)``.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from typing import Any, Mapping

from . import quotas, values
from .exceptions import ValidationException
from .reserved import RESERVED_WORDS
from .values import AttributeValue, Item

Node = tuple[Any, ...]
Path = list[Any]  # attribute names (str) and list indexes (int)

_TOKEN = re.compile(r"""\s*(?:
    (?P<name>\#[A-Za-z0-9_]+) | (?P<value>:[A-Za-z0-9_]+) | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<number>\d+) | (?P<op><>|<=|>=|[=<>(),.\[\]+-])
)""", re.VERBOSE)
_KEYWORDS = {"AND", "OR", "NOT", "BETWEEN", "IN", "SET", "REMOVE", "ADD", "DELETE"}
_CONDITION_FUNCTIONS = {"attribute_exists": 1, "attribute_not_exists": 1, "attribute_type": 2,
                        "begins_with": 2, "contains": 2}
_COMPARATORS = {"=", "<>", "<", "<=", ">", ">="}


@dataclass
class Token:
    kind: str  # name, value, ident, number, op, end
    text: str
    at: int


def tokens(text: str, kind: str) -> list[Token]:
    out, at = [], 0
    text = text.rstrip()
    while at < len(text):
        match = _TOKEN.match(text, at)
        if match is None or match.end() == at:
            bad = text[at:].strip()[:1]
            raise ValidationException(f'Invalid {kind}: Syntax error; token: "{bad}", near: "{text[max(0, at - 8):at + 8].strip()}"')
        group = match.lastgroup or "op"
        out.append(Token(group, match.group(group), match.start(group)))
        at = match.end()
    out.append(Token("end", "<EOF>", len(text)))
    return out


@dataclass
class Expressions:
    """One request's ExpressionAttributeNames and ExpressionAttributeValues, and which of
    them its expressions used."""

    names: Mapping[str, str] = field(default_factory=dict)
    values: Mapping[str, AttributeValue] = field(default_factory=dict)
    used_names: set[str] = field(default_factory=set)
    used_values: set[str] = field(default_factory=set)

    @classmethod
    def of(cls, params: Mapping[str, Any]) -> "Expressions":
        names = params.get("ExpressionAttributeNames") or {}
        raw_values = params.get("ExpressionAttributeValues") or {}
        if "ExpressionAttributeValues" in params and not raw_values:
            raise ValidationException("ExpressionAttributeValues must not be empty")
        if "ExpressionAttributeNames" in params and not names:
            raise ValidationException("ExpressionAttributeNames must not be empty")
        checked = {k: values.checked(v, f" for key {k}") for k, v in raw_values.items()}
        return cls(names, checked)

    def condition(self, text: Any, kind: str = "ConditionExpression") -> Node | None:
        if text is None:
            return None
        parser = self._parser(text, kind)
        tree = parser.condition()
        parser.expect_end()
        return tree

    def projection(self, text: Any) -> list[Path] | None:
        if text is None:
            return None
        parser = self._parser(text, "ProjectionExpression")
        paths = [parser.path()]
        while parser.accept(","):
            paths.append(parser.path())
        parser.expect_end()
        return paths

    def update(self, text: Any) -> list[tuple[str, Path, Node | None]]:
        parser = self._parser(text, "UpdateExpression")
        actions = parser.update()
        parser.expect_end()
        _check_overlaps([path for _, path, _ in actions])
        return actions

    def check_all_used(self) -> None:
        unused_names = sorted(set(self.names) - self.used_names)
        unused_values = sorted(set(self.values) - self.used_values)
        if unused_names:
            raise ValidationException("Value provided in ExpressionAttributeNames unused in "
                                      f"expressions: keys: {{{', '.join(unused_names)}}}")
        if unused_values:
            raise ValidationException("Value provided in ExpressionAttributeValues unused in "
                                      f"expressions: keys: {{{', '.join(unused_values)}}}")

    def _parser(self, text: Any, kind: str) -> "_Parser":
        if not isinstance(text, str) or not text.strip():
            raise ValidationException(f"Invalid {kind}: The expression can not be empty;")
        if len(text) > quotas.EXPRESSION_MAX_CHARS:
            raise ValidationException(f"Invalid {kind}: Expression size has exceeded the maximum "
                                      f"allowed size; expression size: {len(text)}")
        return _Parser(tokens(text, kind), text, kind, self)


def _check_overlaps(paths: list[Path]) -> None:
    seen: list[Path] = []
    for path in paths:
        for other in seen:
            shorter = min(len(path), len(other))
            if path[:shorter] == other[:shorter]:
                raise ValidationException(
                    "Invalid UpdateExpression: Two document paths overlap with each other; must "
                    "remove or rewrite one of these paths; path one: "
                    f"[{', '.join(map(str, other))}], path two: [{', '.join(map(str, path))}]")
        seen.append(path)


class _Parser:
    """Recursive descent over one expression's tokens."""

    def __init__(self, toks: list[Token], text: str, kind: str, context: Expressions) -> None:
        self.toks, self.text, self.kind, self.context = toks, text, kind, context
        self.at = 0
        self.operators = 0
        self.parentheses = 0

    def operator(self) -> None:
        """Count one operator or function against DynamoDB's 300 per expression (which
        also bounds how deep the parser and the evaluator recurse)."""
        self.operators += 1
        if self.operators > quotas.EXPRESSION_OPERATORS_MAX:
            raise ValidationException(
                f"Invalid {self.kind}: The expression contains too many operators; operator "
                f"count: {self.operators}; the limit is {quotas.EXPRESSION_OPERATORS_MAX}")

    # -- tokens --------------------------------------------------------------------

    @property
    def peek(self) -> Token:
        return self.toks[self.at]

    def next(self) -> Token:
        token = self.toks[self.at]
        self.at = min(self.at + 1, len(self.toks) - 1)
        return token

    def is_keyword(self, word: str, token: Token | None = None) -> bool:
        token = token or self.peek
        return token.kind == "ident" and token.text.upper() == word

    def accept(self, op: str) -> bool:
        if self.peek.kind == "op" and self.peek.text == op:
            self.next()
            return True
        return False

    def accept_keyword(self, word: str) -> bool:
        if self.is_keyword(word):
            self.next()
            return True
        return False

    def expect(self, op: str) -> None:
        if not self.accept(op):
            self.fail()

    def expect_end(self) -> None:
        if self.peek.kind != "end":
            self.fail()

    def fail(self, token: Token | None = None) -> Any:
        token = token or self.peek
        near = self.text[max(0, token.at - 10):token.at + 10 + len(token.text)].strip()
        raise ValidationException(
            f'Invalid {self.kind}: Syntax error; token: "{token.text}", near: "{near}"')

    # -- conditions -----------------------------------------------------------------

    def condition(self) -> Node:
        left = self.conjunction()
        while self.accept_keyword("OR"):
            self.operator()
            left = ("or", left, self.conjunction())
        return left

    def conjunction(self) -> Node:
        left = self.negation()
        while self.accept_keyword("AND"):
            self.operator()
            left = ("and", left, self.negation())
        return left

    def negation(self) -> Node:
        if self.accept_keyword("NOT"):
            self.operator()
            return ("not", self.negation())
        return self.comparison()

    def comparison(self) -> Node:
        if self.accept("("):
            self.parentheses += 1
            if self.parentheses > quotas.EXPRESSION_PARENTHESES_MAX:
                raise ValidationException(f"Invalid {self.kind}: The expression has parentheses "
                                          f"nested more than {quotas.EXPRESSION_PARENTHESES_MAX} deep")
            inner = self.condition()
            self.expect(")")
            self.parentheses -= 1
            return inner
        token = self.peek
        if token.kind == "ident" and token.text in _CONDITION_FUNCTIONS and self.toks[self.at + 1].text == "(":
            return self.function()
        left = self.operand()
        self.operator()
        if self.peek.kind == "op" and self.peek.text in _COMPARATORS:
            op = self.next().text
            return ("cmp", op, left, self.operand())
        if self.accept_keyword("BETWEEN"):
            low = self.operand()
            if not self.accept_keyword("AND"):
                self.fail()
            return ("between", left, low, self.operand())
        if self.accept_keyword("IN"):
            self.expect("(")
            choices = [self.operand()]
            while self.accept(","):
                choices.append(self.operand())
            self.expect(")")
            return ("in", left, choices)
        return self.fail()

    def function(self) -> Node:
        self.operator()
        name = self.next().text
        self.expect("(")
        args = [self.operand()]
        while self.accept(","):
            args.append(self.operand())
        self.expect(")")
        if len(args) != _CONDITION_FUNCTIONS[name]:
            raise ValidationException(f"Invalid {self.kind}: Incorrect number of operands for "
                                      f"operator or function; operator or function: {name}, "
                                      f"number of operands: {len(args)}")
        if args[0][0] != "path":
            raise ValidationException(f"Invalid {self.kind}: Operator or function requires a "
                                      f"document path; operator or function: {name}")
        return ("func", name, args)

    # -- operands -------------------------------------------------------------------

    def operand(self) -> Node:
        token = self.peek
        if token.kind == "value":
            return ("value", self.value())
        if token.kind == "ident" and self.toks[self.at + 1].text == "(":
            return self.operand_function()
        return ("path", self.path())

    def operand_function(self) -> Node:
        token = self.next()
        name = token.text
        self.operator()
        self.expect("(")
        if name == "size" and self.kind != "UpdateExpression":
            path = self.path()
            self.expect(")")
            return ("size", path)
        if name in ("if_not_exists", "list_append") and self.kind == "UpdateExpression":
            first = ("path", self.path()) if name == "if_not_exists" else self.operand()
            self.expect(",")
            second = self.operand()
            self.expect(")")
            return (name, first, second)
        raise ValidationException(f"Invalid {self.kind}: Invalid function name; function: {name}")

    def value(self) -> AttributeValue:
        token = self.next()
        if token.text not in self.context.values:
            raise ValidationException(
                f"Invalid {self.kind}: An expression attribute value used in expression is not "
                f"defined; attribute value: {token.text}")
        self.context.used_values.add(token.text)
        return self.context.values[token.text]

    def path(self) -> Path:
        path: Path = [self.name()]
        while True:
            if self.accept("."):
                path.append(self.name())
            elif self.accept("["):
                token = self.next()
                if token.kind != "number":
                    self.fail(token)
                path.append(int(token.text))
                self.expect("]")
            else:
                return path

    def name(self) -> str:
        token = self.next()
        if token.kind == "name":
            if token.text not in self.context.names:
                raise ValidationException(
                    f"Invalid {self.kind}: An expression attribute name used in the document "
                    f"path is not defined; attribute name: {token.text}")
            self.context.used_names.add(token.text)
            return str(self.context.names[token.text])
        if token.kind != "ident" or token.text.upper() in _KEYWORDS:
            self.fail(token)
        if token.text.upper() in RESERVED_WORDS:
            raise ValidationException(f"Invalid {self.kind}: Attribute name is a reserved keyword; "
                                      f"reserved keyword: {token.text}")
        return token.text

    # -- updates --------------------------------------------------------------------

    def update(self) -> list[tuple[str, Path, Node | None]]:
        actions: list[tuple[str, Path, Node | None]] = []
        seen: set[str] = set()
        while self.peek.kind != "end":
            clause = self.next()
            word = clause.text.upper() if clause.kind == "ident" else ""
            if word not in ("SET", "REMOVE", "ADD", "DELETE"):
                self.fail(clause)
            if word in seen:
                raise ValidationException(f'Invalid UpdateExpression: The "{word}" section can '
                                          "only be used once in an update expression;")
            seen.add(word)
            actions.append(self.action(word))
            while self.accept(","):
                actions.append(self.action(word))
        if not actions:
            self.fail()
        return actions

    def action(self, word: str) -> tuple[str, Path, Node | None]:
        path = self.path()
        if word == "REMOVE":
            return (word, path, None)
        if word == "SET":
            self.expect("=")
            value = self.operand()
            if self.peek.text in ("+", "-"):
                self.operator()
                op = self.next().text
                value = (op, value, self.operand())
            return (word, path, value)
        value = self.operand()
        if value[0] != "value":
            raise ValidationException(f"Invalid UpdateExpression: Incorrect operand type for "
                                      f"operator or function; operator: {word}, operand type: PATH")
        return (word, path, value)


# -- evaluation ------------------------------------------------------------------------

def resolve(item: Mapping[str, AttributeValue], path: Path) -> AttributeValue | None:
    """The value at ``path`` in ``item``, or None when there is none."""
    current: Any = item.get(path[0])
    for element in path[1:]:
        if current is None:
            return None
        if isinstance(element, int):
            inner = current.get("L")
            current = inner[element] if inner is not None and element < len(inner) else None
        else:
            inner = current.get("M")
            current = inner.get(element) if inner is not None else None
    return current


def operand(item: Mapping[str, AttributeValue], node: Node) -> AttributeValue | None:
    kind = node[0]
    if kind == "value":
        return node[1]  # type: ignore[no-any-return]
    if kind == "path":
        return resolve(item, node[1])
    if kind == "size":
        value = resolve(item, node[1])
        if value is None:
            return None
        inner = next(iter(value.values()))
        if next(iter(value)) in ("N", "BOOL", "NULL"):
            return None
        return {"N": str(len(inner))}
    raise ValidationException(f"Invalid operand {kind}")


def test(item: Mapping[str, AttributeValue], node: Node | None) -> bool:
    """Whether ``item`` (``{}`` when there is none) meets the condition ``node``."""
    if node is None:
        return True
    kind = node[0]
    if kind == "and":
        return test(item, node[1]) and test(item, node[2])
    if kind == "or":
        return test(item, node[1]) or test(item, node[2])
    if kind == "not":
        return not test(item, node[1])
    if kind == "cmp":
        return _compare(node[1], operand(item, node[2]), operand(item, node[3]))
    if kind == "between":
        value, low, high = (operand(item, n) for n in node[1:])
        return _compare(">=", value, low) and _compare("<=", value, high)
    if kind == "in":
        value = operand(item, node[1])
        return any(values.equal(value, operand(item, choice)) for choice in node[2])
    return _function(item, node[1], node[2])


def _compare(op: str, a: AttributeValue | None, b: AttributeValue | None) -> bool:
    if op == "=":
        return values.equal(a, b)
    if op == "<>":
        return a is not None and b is not None and not values.equal(a, b)
    if a is None or b is None or not values.comparable(a, b):
        return False
    x, y = values.sort_value(a), values.sort_value(b)
    return bool({"<": x < y, "<=": x <= y, ">": x > y, ">=": x >= y}[op])


def _function(item: Mapping[str, AttributeValue], name: str, args: list[Node]) -> bool:
    value = operand(item, args[0])
    if name == "attribute_exists":
        return value is not None
    if name == "attribute_not_exists":
        return value is None
    other = operand(item, args[1])
    if value is None or other is None:
        return False
    if name == "attribute_type":
        wanted = other.get("S")
        if wanted not in values.TYPES:
            raise ValidationException(
                f"Invalid ConditionExpression: Invalid attribute type name found; type: {wanted}, "
                f"valid types: {{{', '.join(values.TYPES)}}}")
        return next(iter(value)) == wanted
    if name == "begins_with":
        kind = next(iter(value))
        return kind in ("S", "B") and next(iter(other)) == kind and value[kind].startswith(other[kind])
    return _contains(value, other)


def _contains(value: AttributeValue, other: AttributeValue) -> bool:
    kind, inner = next(iter(value.items()))
    if kind == "S":
        return "S" in other and other["S"] in inner
    if kind == "B":
        return "B" in other and other["B"] in inner
    if kind in values.SETS:
        return any(values.equal({values.SETS[kind]: m}, other) for m in inner)
    if kind == "L":
        return any(values.equal(m, other) for m in inner)
    return False


def project(item: Item, paths: list[Path] | None) -> Item:
    """The parts of ``item`` that ProjectionExpression names, nested as in the item."""
    if paths is None:
        return item
    out: Item = {}
    for path in paths:
        value = resolve(item, path)
        if value is not None:
            _put(out, path, value, projecting=True)
    return out


def _put(item: Item, path: Path, value: AttributeValue, projecting: bool = False) -> None:
    """Put ``value`` at ``path``. An update needs the parents to exist; a projection
    makes them."""
    if len(path) == 1:
        item[path[0]] = value
        return
    holder = item.get(path[0])
    if holder is None and projecting:
        holder = item[path[0]] = _empty(path[1])
    for element, nxt in zip(path[1:-1], path[2:]):
        if holder is None:
            break
        child = _child(holder, element)
        if child is None and projecting:
            child = _empty(nxt)
            _set_child(holder, element, child)
        holder = child
    if holder is None:
        raise ValidationException(
            "The document path provided in the update expression is invalid for update")
    _set_child(holder, path[-1], value)


def _empty(element: Any) -> AttributeValue:
    return {"L": []} if isinstance(element, int) else {"M": {}}


def _child(holder: AttributeValue, element: Any) -> AttributeValue | None:
    if isinstance(element, int):
        inner = holder.get("L")
        return inner[element] if inner is not None and element < len(inner) else None
    inner = holder.get("M")
    return inner.get(element) if inner is not None else None


def _set_child(holder: AttributeValue, element: Any, value: AttributeValue) -> None:
    if isinstance(element, int) and "L" in holder:
        inner = holder["L"]
        if element < len(inner):
            inner[element] = value
        else:
            inner.append(value)  # SET list[n] past the end appends, as DynamoDB does
    elif isinstance(element, str) and "M" in holder:
        holder["M"][element] = value
    else:
        raise ValidationException(
            "The document path provided in the update expression is invalid for update")


def _remove(item: Item, path: Path) -> None:
    if len(path) == 1:
        item.pop(path[0], None)
        return
    parent = resolve(item, path[:-1])
    if parent is None:
        return
    last = path[-1]
    if isinstance(last, int) and "L" in parent and last < len(parent["L"]):
        del parent["L"][last]
    elif isinstance(last, str) and "M" in parent:
        parent["M"].pop(last, None)


def apply_update(item: Item, actions: list[tuple[str, Path, Node | None]]) -> Item:
    """A new item: ``item`` changed by an UpdateExpression's actions. Every operand reads
    the item as it was before the update."""
    before = item
    after = copy.deepcopy(item)
    removals = []
    for word, path, node in actions:
        if word == "SET":
            assert node is not None
            _put(after, path, _update_value(before, node))
        elif word == "REMOVE":
            removals.append(path)
        elif word == "ADD":
            assert node is not None
            _add(after, path, node[1])
        else:
            assert node is not None
            _delete(after, path, node[1])
    # list elements go from the highest index down, so each index means what it did
    for path in sorted(removals, key=lambda p: [(1, e) if isinstance(e, int) else (0, 0) for e in p],
                       reverse=True):
        _remove(after, path)
    return after


def _update_value(item: Item, node: Node) -> AttributeValue:
    kind = node[0]
    if kind in ("+", "-"):
        a, b = _update_value(item, node[1]), _update_value(item, node[2])
        if "N" not in a or "N" not in b:
            raise ValidationException("An operand in the update expression has an incorrect data type")
        return {"N": values.sum_text(a["N"], b["N"], subtract=kind == "-")}
    if kind == "if_not_exists":
        existing = resolve(item, node[1][1])
        return existing if existing is not None else _update_value(item, node[2])
    if kind == "list_append":
        a, b = _update_value(item, node[1]), _update_value(item, node[2])
        if "L" not in a or "L" not in b:
            raise ValidationException("An operand in the update expression has an incorrect data type")
        return {"L": list(a["L"]) + list(b["L"])}
    value = operand(item, node)
    if value is None:
        raise ValidationException("The provided expression refers to an attribute that does not "
                                  "exist in the item")
    return copy.deepcopy(value)


def _add(item: Item, path: Path, value: AttributeValue) -> None:
    existing = resolve(item, path)
    kind = next(iter(value))
    if kind not in ("N", "SS", "NS", "BS"):
        raise ValidationException("Invalid UpdateExpression: Incorrect operand type for operator "
                                  f"or function; operator: ADD, operand type: {_type_name(kind)}")
    if existing is None:
        _put(item, path, copy.deepcopy(value))
    elif next(iter(existing)) != kind:
        raise ValidationException("An operand in the update expression has an incorrect data type")
    elif kind == "N":
        _put(item, path, {"N": values.sum_text(existing["N"], value["N"])})
    else:
        merged = list(existing[kind]) + [m for m in value[kind]
                                         if not any(values.equal({values.SETS[kind]: m}, {values.SETS[kind]: e})
                                                    for e in existing[kind])]
        _put(item, path, {kind: merged})


def _delete(item: Item, path: Path, value: AttributeValue) -> None:
    kind = next(iter(value))
    if kind not in values.SETS:
        raise ValidationException("Invalid UpdateExpression: Incorrect operand type for operator "
                                  f"or function; operator: DELETE, operand type: {_type_name(kind)}")
    existing = resolve(item, path)
    if existing is None:
        return
    if next(iter(existing)) != kind:
        raise ValidationException("An operand in the update expression has an incorrect data type")
    member = values.SETS[kind]
    left = [e for e in existing[kind]
            if not any(values.equal({member: e}, {member: m}) for m in value[kind])]
    if left:
        _put(item, path, {kind: left})
    else:
        _remove(item, path)


def _type_name(kind: str) -> str:
    return {"S": "STRING", "N": "NUMBER", "B": "BINARY", "M": "MAP", "L": "LIST", "BOOL": "BOOLEAN",
            "NULL": "NULL"}.get(kind, kind)
