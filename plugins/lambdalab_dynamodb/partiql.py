"""PartiQL for DynamoDB: ``ExecuteStatement``, ``BatchExecuteStatement`` and
``ExecuteTransaction`` (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ql-reference.html).

A statement is parsed by a small lark grammar (below) into the same condition and update
trees :mod:`.expressions` evaluates, then run by the table's own paths: a SELECT whose
WHERE pins the partition key is a Query, any other a Scan; INSERT is a PutItem that must
not find the key; UPDATE an UpdateItem of an item that must exist; DELETE a DeleteItem.
So a write through PartiQL is the one SQLite transaction, with its stream record, that
PutItem/UpdateItem/DeleteItem make.

The statements AWS documents::

    SELECT * | path, ... FROM table[."index"] [WHERE condition] [ORDER BY key [ASC|DESC]]
    INSERT INTO table VALUE {'attr': value, ...}
    UPDATE table SET path = value [, ...] | REMOVE path [, ...] ... WHERE condition
           [RETURNING ALL OLD * | MODIFIED OLD * | ALL NEW * | MODIFIED NEW *]
    DELETE FROM table WHERE condition [RETURNING ALL OLD *]
    EXISTS(SELECT * FROM table WHERE key = … AND condition)     (ExecuteTransaction only)

Values are ``'strings'``, numbers, ``true``/``false``, ``null``, lists ``[...]``, maps
``{'k': v}``, sets ``<<...>>`` and ``?`` (the request's ``Parameters``, in order).
Conditions: ``= <> != < <= > >=``, ``BETWEEN``, ``IN [...]``, ``IS [NOT] MISSING`` (and
the other types), ``begins_with``, ``contains``, ``attribute_type``, ``size``, ``AND``,
``OR``, ``NOT``. The validation messages are DynamoDB's own.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import sqlite3
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Callable, Mapping

import lark
from lark.visitors import Transformer_NonRecursive

from . import quotas, values
from .exceptions import (
    ConditionalCheckFailedException,
    DuplicateItemException,
    ValidationException,
)
from .expressions import Node, Path, project
from .models import Change, Tables
from .tables import Table
from .throughput import READ, WRITE, read_units, transaction_read_units, write_units
from .values import AttributeValue, Item

GRAMMAR = r"""
start: select | insert | update | delete | exists

exists: "EXISTS"i "(" select ")"

select: "SELECT"i projection "FROM"i source where? order_by?
projection: "*"                   -> every_attribute
          | path ("," path)*      -> attributes
source: name ("." name)?
order_by: "ORDER"i "BY"i path DIRECTION?
DIRECTION.2: /(ASC|DESC)\b/i

insert: "INSERT"i "INTO"i name "VALUE"i value

update: "UPDATE"i name clause+ where returning?
clause: "SET"i assignment ("," assignment)*    -> set_clause
      | "REMOVE"i path ("," path)*            -> remove_clause
assignment: path "=" operand                  -> assign
          | path "=" operand "+" operand      -> assign_plus
          | path "=" operand "-" operand      -> assign_minus

delete: "DELETE"i "FROM"i name where returning?

where: "WHERE"i condition
returning: "RETURNING"i RETURN_WHAT "*"
RETURN_WHAT.2: /(ALL|MODIFIED)\s+(OLD|NEW)\b/i

?condition: conjunction
          | condition "OR"i conjunction              -> or_
?conjunction: negation
            | conjunction "AND"i negation            -> and_
?negation: predicate
         | "NOT"i negation                           -> not_
?predicate: operand COMPARATOR operand               -> compare
          | operand "=" operand                      -> equal
          | operand "BETWEEN"i operand "AND"i operand -> between
          | operand "IN"i "[" operand ("," operand)* "]" -> in_
          | operand "IN"i "(" operand ("," operand)* ")" -> in_
          | operand "IS"i NOT? NAME                  -> is_
          | call
          | "(" condition ")"
COMPARATOR: "<>" | "!=" | "<=" | ">=" | "<" | ">"
NOT.2: /NOT\b/i

?operand: path | value | call
call: NAME "(" operand ("," operand)* ")"

path: name step*
?step: "." name
     | "[" INT "]"                            -> index
     | "[" STRING "]"                         -> key
?name: NAME -> plain_name
     | QUOTED -> quoted_name

?value: STRING                                -> string
      | NUMBER                                -> number
      | "-" NUMBER                            -> negative
      | TRUE                                  -> true
      | FALSE                                 -> false
      | NULL                                  -> null
      | "?"                                   -> parameter
      | "[" [value ("," value)*] "]"          -> list_value
      | SET_OPEN value ("," value)* SET_CLOSE -> set_value
      | "{" [pair ("," pair)*] "}"            -> map_value
pair: STRING ":" value
SET_OPEN.3: "<<"
SET_CLOSE.3: ">>"
TRUE.2: /TRUE\b/i
FALSE.2: /FALSE\b/i
NULL.2: /NULL\b/i

NAME: /[A-Za-z_][A-Za-z0-9_]*/
QUOTED: /"(?:[^"]|"")*"/
STRING: /'(?:[^']|'')*'/
NUMBER: /(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?/
INT: /\d+/

%import common.WS
%ignore WS
"""

#: PartiQL ``IS`` type names and the DynamoDB types they test for.
_IS_TYPES = {"NULL": "NULL", "BOOLEAN": "BOOL", "STRING": "S", "NUMERIC": "N", "NUMBER": "N",
             "BLOB": "B", "STRUCT": "M", "TUPLE": "M", "LIST": "L"}
#: Condition functions a statement may call, by their argument count.
_FUNCTIONS = {"begins_with": 2, "contains": 2, "attribute_type": 2}
#: RETURNING's words, as ReturnValues names them.
_RETURNING = {"ALL OLD": "ALL_OLD", "MODIFIED OLD": "UPDATED_OLD", "ALL NEW": "ALL_NEW",
              "MODIFIED NEW": "UPDATED_NEW"}


def _malformed(detail: str) -> ValidationException:
    return ValidationException(f"Statement wasn't well formed, can't be processed: {detail}")


@lru_cache(maxsize=1)
def _parser() -> lark.Lark:
    return lark.Lark(GRAMMAR, parser="lalr", maybe_placeholders=False)


# -- statements --------------------------------------------------------------------------


@dataclass
class Select:
    table: str
    index: str | None
    projection: list[Path] | None
    where: Node | None
    descending: bool | None = None  # None: no ORDER BY
    order_key: str | None = None


@dataclass
class Write:
    """An INSERT (``Put``), UPDATE (``Update``) or DELETE (``Delete``) of one item."""

    kind: str
    table: str
    item: Item | None = None
    where: Node | None = None
    actions: list[tuple[str, Path, Node | None]] = field(default_factory=list)
    returning: str = "NONE"


@dataclass
class Check:
    """``EXISTS(SELECT …)``: a transaction's condition check on one item."""

    select: Select


Statement = Select | Write | Check


def parse(text: Any, parameters: Any) -> Statement:
    """A statement's text and ``Parameters`` as a :class:`Select` or :class:`Write`, or
    ValidationException in DynamoDB's words."""
    text = str(text or "")
    _check_nesting(text)
    try:
        tree = _parser().parse(text)
    except lark.exceptions.UnexpectedCharacters as e:
        at = e.pos_in_stream or 0
        raise _malformed(f"Unexpected character {text[at:at + 1]!r} at position {at + 1}") from None
    except lark.exceptions.UnexpectedToken as e:
        what = "end of statement" if e.token.type == "$END" else f"token {str(e.token)!r}"
        raise _malformed(f"Unexpected {what} at position {(len(text) if e.token.start_pos is None else e.token.start_pos) + 1}") from None
    except lark.exceptions.UnexpectedEOF:
        raise _malformed("Unexpected end of statement") from None
    operators = sum(1 for t in tree.iter_subtrees()
                    if t.data in ("or_", "and_", "not_", "compare", "equal", "between", "in_", "is_", "call"))
    if operators > quotas.EXPRESSION_OPERATORS_MAX:
        raise ValidationException(f"Statement has more than {quotas.EXPRESSION_OPERATORS_MAX} "
                                  "operators and functions")
    builder = _Builder(list(parameters or []))
    try:
        statement: Statement = builder.transform(tree)
    except lark.exceptions.VisitError as e:  # the builder's own refusals, unwrapped
        raise e.orig_exc from None
    if builder.used != len(builder.parameters):
        raise ValidationException("Number of parameters in request and statement don't match.")
    return statement


def _check_nesting(text: str) -> None:
    """Refuse brackets nested deeper than lambdalab's bound before the parser builds a
    tree as deep (AWS bounds a statement by its 8 KB only)."""
    depth = deepest = 0
    quote = ""
    for char in text:
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char in "([{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in ")]}":
            depth -= 1
    if deepest > quotas.EXPRESSION_PARENTHESES_MAX:
        raise ValidationException("Nesting Levels have exceeded supported limits")


class _Builder(Transformer_NonRecursive):
    """The parse tree to :class:`Select`/:class:`Write` with :mod:`.expressions`' nodes."""

    def __init__(self, parameters: list[Any]) -> None:
        super().__init__()
        self.parameters = parameters
        self.used = 0

    # statements
    def start(self, children: list[Any]) -> Statement:
        return children[0]  # type: ignore[no-any-return]

    def select(self, children: list[Any]) -> Select:
        projection, (table, index), *rest = children
        where = next((c[1] for c in rest if isinstance(c, tuple) and c[0] == "where"), None)
        order = next((c for c in rest if isinstance(c, tuple) and c[0] == "order"), None)
        statement = Select(table, index, projection, where)
        if order is not None:
            statement.descending = order[2]
            _check_order(statement, order[1])
        return statement

    def exists(self, children: list[Any]) -> Check:
        return Check(children[0])

    def every_attribute(self, _: list[Any]) -> None:
        return None

    def attributes(self, paths: list[Node]) -> list[Path]:
        return [p[1] for p in paths]

    def source(self, names: list[str]) -> tuple[str, str | None]:
        return names[0], (names[1] if len(names) > 1 else None)

    def order_by(self, children: list[Any]) -> tuple[str, Path, bool]:
        direction = str(children[1]).upper() if len(children) > 1 else "ASC"
        return ("order", children[0], direction == "DESC")

    def where(self, children: list[Node]) -> tuple[str, Node]:
        return ("where", children[0])

    def returning(self, children: list[Any]) -> tuple[str, str]:
        return ("returning", _RETURNING[" ".join(str(children[0]).upper().split())])

    def insert(self, children: list[Any]) -> Write:
        table, value = children
        if value[0] != "value" or "M" not in value[1]:
            raise ValidationException("Unsupported format in item expression. Please use struct "
                                      "format {...} to express item values for insert statement.")
        return Write("Put", table, item=value[1]["M"])

    def update(self, children: list[Any]) -> Write:
        table, *rest = children
        actions = [a for c in rest if isinstance(c, list) for a in c]
        return Write("Update", table, where=_clause(rest, "where"), actions=actions,
                     returning=_clause(rest, "returning") or "NONE")

    def delete(self, children: list[Any]) -> Write:
        table, *rest = children
        returning = _clause(rest, "returning") or "NONE"
        if returning not in ("NONE", "ALL_OLD"):
            word = next(k for k, v in _RETURNING.items() if v == returning)
            raise ValidationException(f"Invalid returning clause: RETURNING {word} *. Only "
                                      "RETURNING ALL OLD * is allowed in DELETE statements.")
        return Write("Delete", table, where=_clause(rest, "where"), returning=returning)

    def set_clause(self, actions: list[Any]) -> list[Any]:
        return list(actions)

    def remove_clause(self, paths: list[Node]) -> list[Any]:
        return [("REMOVE", p[1], None) for p in paths]

    def assign(self, children: list[Any]) -> tuple[str, Path, Node]:
        path, value = children
        if value[0] == "call":
            return _set_call(path, value)
        return ("SET", path[1], value)

    def assign_plus(self, children: list[Any]) -> tuple[str, Path, Node]:
        return ("SET", children[0][1], ("+", children[1], children[2]))

    def assign_minus(self, children: list[Any]) -> tuple[str, Path, Node]:
        return ("SET", children[0][1], ("-", children[1], children[2]))

    # conditions
    def or_(self, c: list[Node]) -> Node:
        return ("or", c[0], c[1])

    def and_(self, c: list[Node]) -> Node:
        return ("and", c[0], c[1])

    def not_(self, c: list[Node]) -> Node:
        return ("not", c[0])

    def compare(self, c: list[Any]) -> Node:
        op = "<>" if str(c[1]) == "!=" else str(c[1])
        return ("cmp", op, _operand(c[0]), _operand(c[2]))

    def equal(self, c: list[Any]) -> Node:
        return ("cmp", "=", _operand(c[0]), _operand(c[1]))

    def between(self, c: list[Any]) -> Node:
        return ("between", *[_operand(o) for o in c])

    def in_(self, c: list[Any]) -> Node:
        if c[0][0] != "path":
            raise ValidationException("IN operator must have a left hand argument of type Variable "
                                      "Reference and right hand argument of type Seq with at least "
                                      "one member")
        return ("in", c[0], [_operand(o) for o in c[1:]])

    def is_(self, c: list[Any]) -> Node:
        negated = len(c) == 3
        subject, kind = c[0], str(c[-1]).upper()
        if subject[0] != "path":
            raise ValidationException("The left hand side argument to IS must be a Variable "
                                      "Reference, Literal, or Path")
        if kind == "MISSING":
            return ("func", "attribute_exists" if negated else "attribute_not_exists", [subject])
        if kind not in _IS_TYPES:
            raise ValidationException(f"Unsupported data type for IS operator: {kind}. Supported "
                                      "data types are [MISSING, NULL, BOOLEAN, BLOB, STRING, "
                                      "NUMERIC, STRUCT, TUPLE, LIST]")
        node: Node = ("func", "attribute_type", [subject, ("value", {"S": _IS_TYPES[kind]})])
        return ("not", node) if negated else node

    def call(self, c: list[Any]) -> Node:
        return ("call", str(c[0]).lower(), [_operand(o) for o in c[1:]])

    # operands
    def path(self, elements: list[Any]) -> Node:
        return ("path", list(elements))

    def index(self, c: list[Any]) -> int:
        return int(c[0])

    def key(self, c: list[Any]) -> str:
        return _unquote(str(c[0]), "'")

    def plain_name(self, c: list[Any]) -> str:
        return str(c[0])

    def quoted_name(self, c: list[Any]) -> str:
        return _unquote(str(c[0]), '"')

    def string(self, c: list[Any]) -> Node:
        return ("value", values.checked({"S": _unquote(str(c[0]), "'")}))

    def number(self, c: list[Any]) -> Node:
        return ("value", values.checked({"N": str(c[0])}))

    def negative(self, c: list[Any]) -> Node:
        return ("value", values.checked({"N": "-" + str(c[0])}))

    def true(self, _: list[Any]) -> Node:
        return ("value", {"BOOL": True})

    def false(self, _: list[Any]) -> Node:
        return ("value", {"BOOL": False})

    def null(self, _: list[Any]) -> Node:
        return ("value", {"NULL": True})

    def parameter(self, _: list[Any]) -> Node:
        if self.used >= len(self.parameters):
            raise ValidationException("Number of parameters in request and statement don't match.")
        value = values.checked(self.parameters[self.used], " in Parameters")
        self.used += 1
        return ("value", value)

    def list_value(self, c: list[Any]) -> Node:
        return ("value", {"L": [_literal(v) for v in c if v is not None]})

    def set_value(self, c: list[Any]) -> Node:
        members = [_literal(v) for v in c[1:-1]]
        kinds = {next(iter(m)) for m in members}
        if len(kinds) != 1 or next(iter(kinds)) not in ("S", "N", "B"):
            raise ValidationException("Unsupported data type in Bag. DynamoDB only supports either "
                                      "numbers or strings in bags")
        kind = next(iter(kinds))
        return ("value", values.checked({kind + "S": [m[kind] for m in members]}))

    def map_value(self, c: list[Any]) -> Node:
        out: dict[str, AttributeValue] = {}
        for name, value in (p for p in c if p is not None):
            if name in out:
                raise ValidationException(f"Duplicate keys in tuple. Key: {name} under {name}")
            out[name] = value
        return ("value", {"M": out})

    def pair(self, c: list[Any]) -> tuple[str, AttributeValue]:
        return _unquote(str(c[0]), "'"), _literal(c[1])


def _unquote(text: str, quote: str) -> str:
    return text[1:-1].replace(quote * 2, quote)


def _literal(node: Node) -> AttributeValue:
    if node[0] != "value":
        raise _malformed("a value holds only literals and parameters, not attribute paths")
    return node[1]  # type: ignore[no-any-return]


def _operand(node: Node) -> Node:
    """An operand of a comparison: a path, a value or ``size(path)``."""
    if node[0] != "call":
        return node
    name, args = node[1], node[2]
    if name != "size" or len(args) != 1 or args[0][0] != "path":
        raise ValidationException(f"Unrecognized function: {name}" if name not in _FUNCTIONS else
                                  f"Unsupported operation: {name} is a condition, not a value")
    return ("size", args[0][1])


def _clause(children: list[Any], kind: str) -> Any:
    return next((c[1] for c in children if isinstance(c, tuple) and c[0] == kind), None)


def _set_call(path_node: Node, call: Node) -> tuple[str, Path, Node]:
    """``SET p = list_append(a, b)``, ``set_add(p, <<…>>)``, ``set_delete(p, <<…>>)``."""
    name, args, path = call[1], call[2], path_node[1]
    if name == "list_append" and len(args) == 2:
        return ("SET", path, ("list_append", args[0], args[1]))
    if name in ("set_add", "set_delete"):
        word = name.split("_")[1].upper()
        if len(args) != 2:
            raise ValidationException(f"SET_{word} must have exactly two arguments")
        if args[0] != path_node:
            raise ValidationException(f"The first argument to SET_{word} must equal the assignment value")
        if args[1][0] != "value" or next(iter(args[1][1])) not in values.SETS:
            raise ValidationException(f"The second argument to SET_{word} must be a value with type SET")
        return (word, path, args[1])
    raise ValidationException(f"Unrecognized function: {name}")


def _check_order(select: Select, path: Path) -> None:
    if select.where is None:
        raise ValidationException("Must have WHERE clause in the statement when using ORDER BY clause.")
    if len(path[1]) != 1 or not isinstance(path[1][0], str):
        raise ValidationException("Argument to ORDER BY must be of type VariableReference. Type: path")
    select.order_key = path[1][0]


def condition_node(node: Node | None) -> Node | None:
    """A WHERE tree with its function calls as :mod:`.expressions`' ``func`` nodes."""
    if node is None:
        return None
    kind = node[0]
    if kind in ("and", "or"):
        return (kind, condition_node(node[1]), condition_node(node[2]))
    if kind == "not":
        return ("not", condition_node(node[1]))
    if kind == "call":
        name, args = node[1], node[2]
        if name not in _FUNCTIONS:
            raise ValidationException(f"Unrecognized function: {name}")
        if len(args) != _FUNCTIONS[name] or args[0][0] != "path":
            raise ValidationException(f"Invalid number or type of arguments to function {name}")
        return ("func", name, args)
    if kind in ("path", "value", "size"):
        raise ValidationException("WHERE clause must contain an expression that resolves to a boolean")
    return node


# -- running statements -------------------------------------------------------------------


def _conjuncts(node: Node | None) -> list[Node]:
    if node is None:
        return []
    if node[0] == "and":
        return _conjuncts(node[1]) + _conjuncts(node[2])
    return [node]


def _and(nodes: list[Node]) -> Node | None:
    out: Node | None = None
    for node in nodes:
        out = node if out is None else ("and", out, node)
    return out


def _equality(node: Node) -> tuple[str, AttributeValue] | None:
    """``(name, value)`` when ``node`` is ``name = value`` (either way round) on a
    top-level attribute."""
    if node[0] != "cmp" or node[1] != "=":
        return None
    for a, b in ((node[2], node[3]), (node[3], node[2])):
        if a[0] == "path" and len(a[1]) == 1 and isinstance(a[1][0], str) and b[0] == "value":
            return a[1][0], b[1]
    return None


def split_key(table: Table, where: Node | None) -> tuple[Item, Node | None]:
    """The item key a write's WHERE pins (an equality on every key attribute) and the rest
    of its conditions, ANDed."""
    key: Item = {}
    rest = []
    for part in _conjuncts(where):
        found = _equality(part)
        if found and found[0] in table.keys.names:
            if found[0] in key:
                raise ValidationException(f"Multiple conditions on same key {found[0]}. Only single "
                                          "item Update/Insert/Delete are supported")
            key[found[0]] = found[1]
        else:
            rest.append(part)
    if set(key) != set(table.keys.names):
        raise ValidationException("Where clause does not contain a mandatory equality on all key attributes")
    return table.check_key(key), _and(rest)


class PartiQL:
    """Runs statements against one lab's tables."""

    def __init__(self, tables: Tables) -> None:
        self.tables = tables

    # -- SELECT --------------------------------------------------------------------------

    def select(self, statement: Select, text: str, *, limit: int | None, next_token: Any,
               consistent: bool) -> dict[str, Any]:
        table = self.tables.table(statement.table)
        index = table.index(statement.index) if statement.index else None
        if index is not None and index.is_global and consistent:
            raise ValidationException("Strongly consistent read is not supported on Global Secondary Indexes")
        where = condition_node(statement.where)
        keys = index.keys if index else table.keys
        start = _start_key(next_token, text)
        hash_match = next((p for p in _conjuncts(where)
                           if (_equality(p) or ("", None))[0] == keys.hash_name), None)
        if statement.descending is not None:
            _check_order_key(keys, str(statement.order_key), hash_match)
        self.tables.capacity.admit(table, READ)
        if hash_match is not None:
            page = self.tables.query(table.name, statement.index, hash_match, filter_=where, limit=limit,
                                     start_key=start, forward=not statement.descending)
        else:
            page = self.tables.scan(table.name, statement.index, filter_=where, limit=limit,
                                    start_key=start)
        self.tables.capacity.charge(table, READ, read_units(page.read_bytes, consistent))
        out: dict[str, Any] = {"Items": [project(i, statement.projection) for i in page.items]}
        if page.last_key is not None:
            out["NextToken"] = _next_token(page.last_key, text)
            out["LastEvaluatedKey"] = page.last_key
        return out

    def get(self, statement: Select, transaction: bool = False) -> tuple[str, Item | None]:
        """A SELECT of one item by its whole key (batches and transactions read so; a
        transaction's read is charged as :func:`.throughput.transaction_read_units`)."""
        if statement.index:
            raise ValidationException("Reads on indices are not supported within transactions.")
        table = self.tables.table(statement.table)
        where = condition_node(statement.where)
        try:
            key, rest = split_key(table, where)
        except ValidationException:
            raise ValidationException("Select statements within ExecuteTransaction must specify the "
                                      "primary key in the where clause.") from None
        self.tables.capacity.admit(table, READ)
        item = self.tables.get_item(table.name, key)
        size = values.item_size(item or {})
        self.tables.capacity.charge(table, READ, transaction_read_units(size) if transaction
                                    else read_units(size, False))
        if item is None or not _passes(item, rest):
            return table.name, None
        return table.name, project(item, statement.projection)

    # -- writes --------------------------------------------------------------------------

    def check(self, check: Check) -> tuple[str, Item, Callable[[sqlite3.Connection, list[Change]], None]]:
        """``EXISTS(…)`` as a transaction's ConditionCheck: the item must exist and meet
        the SELECT's other conditions (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ql-functions.exists.html)."""
        if check.select.index:
            raise ValidationException("Operations on indices are not supported in transactions")
        table = self.tables.table(check.select.table)
        key, rest = split_key(table, condition_node(check.select.where))
        if rest is None:
            raise ValidationException("EXISTS() must contain a single item read with additional condition")
        exists = ("func", "attribute_exists", [("path", [table.keys.hash_name])])
        run = self.tables.write_action("ConditionCheck", table.name, {"Key": key}, ("and", exists, rest))
        return table.name, key, run

    def action(self, write: Write) -> tuple[str, Item, Callable[[sqlite3.Connection, list[Change]], None]]:
        """The table, the item's key and the write as an action of :meth:`Tables.transact`."""
        table = self.tables.table(write.table)
        where = condition_node(write.where)
        if write.kind == "Put":
            assert write.item is not None
            item = table.check_item(write.item)
            key = table.keys.key_of(item)
            not_there = ("func", "attribute_not_exists", [("path", [table.keys.hash_name])])
            run = self.tables.write_action("Put", table.name, {"Item": item}, not_there)
            return table.name, key, _duplicate_is_an_error(run)
        key, rest = split_key(table, where)
        hash_path = ("path", [table.keys.hash_name])
        if write.kind == "Update":
            for _, path, _ in write.actions:
                if path[0] in table.keys.names:
                    raise ValidationException(
                        f"One or more parameter values were invalid: Cannot update attribute "
                        f"{path[0]}. This attribute is part of the key")
            condition = _and([("func", "attribute_exists", [hash_path])] + ([rest] if rest else []))
            run = self.tables.write_action("Update", table.name, {"Key": key}, condition, write.actions)
        else:  # DELETE of no item is no error; of an item, WHERE's other conditions must hold
            condition = ("or", ("func", "attribute_not_exists", [hash_path]), rest) if rest else None
            run = self.tables.write_action("Delete", table.name, {"Key": key}, condition)
        return table.name, key, run

    def write(self, write: Write) -> dict[str, Any]:
        """One write in its own transaction, metered as PutItem/UpdateItem/DeleteItem are;
        ``Items`` holds what RETURNING asks for."""
        table = self.tables.table(write.table)
        self.tables.capacity.admit(table, WRITE)
        _, _, run = self.action(write)
        seen: list[Change] = []

        def recorded(db: sqlite3.Connection, changes: list[Change]) -> None:
            before = len(changes)
            run(db, changes)
            seen.extend(changes[before:])

        self.tables.transact([recorded])
        self.tables.capacity.charge(table, WRITE, write_units(*[i for c in seen for i in (c.old, c.new)]))
        if write.returning == "NONE" or not seen:
            return {"Items": []}
        change = seen[0]
        returned = _returned(change.old, change.new, write.returning, write.actions)
        return {"Items": [returned] if returned else []}


def _returned(old: Item | None, new: Item | None, wanted: str,
              actions: list[tuple[str, Path, Node | None]]) -> Item:
    if wanted in ("ALL_OLD", "ALL_NEW"):
        return (old if wanted == "ALL_OLD" else new) or {}
    source = (old or {}) if wanted == "UPDATED_OLD" else (new or {})
    return project(source, [path for _, path, _ in actions])


def _passes(item: Item, condition: Node | None) -> bool:
    from .expressions import test

    return test(item, condition)


def _duplicate_is_an_error(run: Callable[[sqlite3.Connection, list[Change]], None]
                           ) -> Callable[[sqlite3.Connection, list[Change]], None]:
    def insert(db: sqlite3.Connection, changes: list[Change]) -> None:
        try:
            run(db, changes)
        except ConditionalCheckFailedException:
            raise DuplicateItemException("Duplicate primary key exists in table") from None
    return insert


def _check_order_key(keys: Any, name: str, hash_match: Node | None) -> None:
    if name not in keys.names:
        raise ValidationException(f"Variable reference {name} in ORDER BY clause must be part of the primary key")
    if hash_match is None:
        raise ValidationException("Must have at least one non-optional hash key condition in WHERE "
                                  "clause when using ORDER BY clause.")


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _next_token(last_key: Item, text: str) -> str:
    raw = json.dumps({"statement": _digest(text), "key": values.as_json(last_key)}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode()


def _start_key(token: Any, text: str) -> Item | None:
    if token is None:
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(str(token).encode()))
        digest, key = data["statement"], data["key"]
        start = values.checked_item(values.loads(json.dumps(key)), "ExclusiveStartKey")
    except (ValueError, TypeError, KeyError, AttributeError, binascii.Error, UnicodeDecodeError,
            ValidationException):  # a token is the caller's to forge
        raise ValidationException("Invalid NextToken") from None
    if digest != _digest(text):
        raise ValidationException("NextToken does not match request")
    return start


def code_of(error: Exception) -> str:
    """A BatchStatementError's ``Code`` for an error one statement met."""
    name = type(error).__name__
    return {"ConditionalCheckFailedException": "ConditionalCheckFailed",
            "DuplicateItemException": "DuplicateItem",
            "ResourceNotFoundException": "ResourceNotFound",
            "ProvisionedThroughputExceededException": "ProvisionedThroughputExceeded",
            }.get(name, "ValidationError")


def is_read(statement: Statement) -> bool:
    return isinstance(statement, Select)


#: EXISTS outside a transaction's writes (DynamoDB's words).
EXISTS_OUTSIDE = "EXISTS can only be used in ExecuteTransaction write requests."


#: A batch or a transaction holds reads only or writes only
#: (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ql-reference.multiplestatements.batching.html).
MIXED = ("Unsupported operation: a batch or transaction holds either only read statements or "
         "only write statements, not both")


def parse_all(entries: list[Mapping[str, Any]]) -> list[Statement]:
    """Each entry's statement; ValidationException if reads and writes are mixed, or
    ``Validation failed in statements[i]`` for one that does not parse."""
    statements = []
    for i, entry in enumerate(entries):
        try:
            statements.append(parse(entry.get("Statement"), entry.get("Parameters")))
        except ValidationException as e:
            raise ValidationException(f"Validation failed in statements[{i}]: {e.message}") from None
    if len({is_read(s) for s in statements}) > 1:
        raise ValidationException(MIXED)
    return statements
