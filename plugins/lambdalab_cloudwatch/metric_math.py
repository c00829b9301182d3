"""Metric math: CloudWatch's expressions over the series of a request or an alarm.

The syntax and functions are AWS's
(https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/using-metric-math.html#metric-math-syntax):
the Ids of other queries, numbers, ``+ - * / ^``, comparisons (``== != < <= > >=``),
``AND``/``&&``, ``OR``/``||``, ``NOT``/``!``, arrays ``[m1, m2]`` and the functions
in :data:`FUNCTIONS`. A value is a scalar, one time series, or an array of them; an
operator between a series and a scalar applies to each data point, between two series
to the timestamps both have, and over an array to each of its series.

Expressions are parsed by lark (a maintained parsing library, LALR: no recursion while
parsing, however deep the parentheses), with the grammar below; evaluation walks the
tree. An expression lambdalab cannot evaluate is refused with ``InvalidParameterValue``
and a message naming what to change; a function AWS has that lambdalab does not emulate
(``SEARCH``, ``ANOMALY_DETECTION_BAND``, ...) is named as such.
"""

from __future__ import annotations

import math
import operator
from dataclasses import dataclass
from typing import Callable, Union

from lark import Lark, Token, Tree
from lark.exceptions import LarkError

from . import quotas
from .exceptions import InvalidParameterValue

#: One time series: timestamp (epoch seconds) -> value.
Series = dict[float, float]
#: An array of series, each with its label.
Array = list[tuple[str, Series]]
Value = Union[float, Series, Array]

GRAMMAR = r"""
?start: or_expr
?or_expr: and_expr | or_expr _OR and_expr -> or_
?and_expr: not_expr | and_expr _AND not_expr -> and_
?not_expr: comparison | _NOT not_expr -> not_
?comparison: sum | sum COMPARATOR sum -> binary
?sum: product | sum ADD_OP product -> binary
?product: power | product MUL_OP power -> binary
?power: unary | unary POW_OP power -> binary
?unary: atom | "-" unary -> neg
?atom: NUMBER -> number
     | ID -> ref
     | FUNC "(" [arguments] ")" -> call
     | FUNC -> keyword
     | STRING -> string
     | "[" arguments "]" -> array
     | "(" or_expr ")"
arguments: or_expr ("," or_expr)*
_OR.2: /OR\b/ | "||"
_AND.2: /AND\b/ | "&&"
_NOT.2: /NOT\b/ | "!"
COMPARATOR: "==" | "!=" | "<=" | ">=" | "<" | ">"
ADD_OP: "+" | "-"
MUL_OP: "*" | "/"
POW_OP: "^"
FUNC: /[A-Z][A-Z0-9_]*/
ID: /[a-z][A-Za-z0-9_]*/
STRING: /"[^"]*"/ | /'[^']*'/
NUMBER: /(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?/
%ignore /\s+/
"""

_PARSER = Lark(GRAMMAR, parser="lalr")

#: AWS's metric math functions lambdalab does not evaluate: refused by name.
NOT_EMULATED = frozenset({
    "ANOMALY_DETECTION_BAND", "DATAPOINT_COUNT", "DB_PERF_INSIGHTS", "DIFF_TIME", "EPOCH",
    "FIRST", "LAST", "INSIGHT_RULE_METRIC", "LAMBDA", "METRIC_COUNT", "MINUTE", "HOUR", "DAY",
    "DATE", "MONTH", "YEAR", "REMOVE_EMPTY", "SEARCH", "SERVICE_QUOTA", "SLICE", "SORT",
    "TIME_SERIES", "TOP",
})


class ExpressionError(Exception):
    """Why an expression cannot be evaluated (said to the caller as InvalidParameterValue)."""


@dataclass(frozen=True)
class Grid:
    """The periods a request covers: ``[start, end)`` in steps of ``period`` seconds."""

    start: float
    end: float
    period: int

    def times(self) -> list[float]:
        first = float(self.start - self.start % self.period)
        count = max(0, math.ceil((self.end - first) / self.period))
        return [first + n * self.period for n in range(min(count, quotas.METRIC_DATA_POINTS_MAX))]


@dataclass
class Scope:
    """What an expression can see: other queries' values (by Id, computed on demand), the
    Ids and labels of the request's metrics (for ``METRICS()``), and the grid."""

    resolve: Callable[[str], Value]
    metrics: list[tuple[str, str]]
    grid: Grid


def parse(expression: str) -> Tree[Token]:
    """The syntax tree of ``expression``; InvalidParameterValue if it is not metric math."""
    if len(expression) > quotas.EXPRESSION_MAX:
        raise InvalidParameterValue(
            f"The expression is {len(expression)} characters long; metric math takes at most "
            f"{quotas.EXPRESSION_MAX}.")
    try:
        tree = _PARSER.parse(expression)
    except LarkError as e:
        raise InvalidParameterValue(
            f"The expression {expression[:200]!r} is not valid metric math ({_first_line(e)}). "
            "Use the Ids of other queries, numbers, + - * / ^, comparisons, AND OR NOT and "
            "functions such as SUM(METRICS()) or FILL(m1, 0).") from None
    for node in tree.iter_subtrees():
        if node.data == "call" or node.data == "keyword":
            _check_function(str(node.children[0]), node.data == "keyword")
    return tree


def references(tree: Tree[Token]) -> set[str]:
    """The query Ids an expression names."""
    return {str(node.children[0]) for node in tree.iter_subtrees() if node.data == "ref"}


def evaluate(expression: str, scope: Scope) -> Value:
    """The value of ``expression`` in ``scope``."""
    tree = parse(expression)
    try:
        return _eval(tree, scope)
    except ExpressionError as e:
        raise InvalidParameterValue(f"Error in expression {expression[:200]!r}: {e}") from None
    except RecursionError:
        raise InvalidParameterValue(
            f"The expression {expression[:200]!r} nests too deeply for lambdalab to evaluate; "
            "split it into several queries that name one another.") from None


def _first_line(error: Exception) -> str:
    return str(error).strip().splitlines()[0][:200] if str(error).strip() else type(error).__name__


def _check_function(name: str, bare: bool) -> None:
    if bare:
        if name not in FILL_MODES:
            raise InvalidParameterValue(
                f"{name} is not a value: call a function as {name}(...), or use a query's Id "
                "(Ids start with a lowercase letter).")
        return
    if name in NOT_EMULATED:
        raise InvalidParameterValue(
            f"The metric math function {name} is one AWS has that lambdalab does not emulate; "
            f"lambdalab evaluates {', '.join(sorted(FUNCTIONS))}.")
    if name not in FUNCTIONS:
        raise InvalidParameterValue(
            f"Unknown function {name} in the expression: metric math has no such function "
            f"(lambdalab evaluates {', '.join(sorted(FUNCTIONS))}).")


# -- evaluation -------------------------------------------------------------------------

def _eval(node: Tree[Token] | Token, scope: Scope) -> Value:
    if isinstance(node, Token):  # only the grammar's inlined atoms reach here
        raise ExpressionError(f"unexpected {node!s}")
    kind = node.data
    if kind == "number":
        return float(str(node.children[0]))
    if kind == "ref":
        return scope.resolve(str(node.children[0]))
    if kind == "string":
        raise ExpressionError(f"a string ({node.children[0]}) is only an argument of METRICS()")
    if kind == "keyword":
        raise ExpressionError(f"{node.children[0]} is only an argument of FILL()")
    if kind == "array":
        return _array([_eval(child, scope) for child in _args(node.children[0])])
    if kind == "neg":
        return _apply(lambda a: -a, _eval(node.children[0], scope))
    if kind == "not_":
        return _apply(lambda a: float(a == 0), _eval(node.children[0], scope))
    if kind in ("and_", "or_"):
        both = operator.and_ if kind == "and_" else operator.or_
        return _combine(lambda a, b: float(both(a != 0, b != 0)),
                        _eval(node.children[0], scope), _eval(node.children[1], scope))
    if kind == "binary":
        left, op, right = node.children
        return _combine(BINARY[str(op)], _eval(left, scope), _eval(right, scope))
    if kind == "call":
        return _call(node, scope)
    raise ExpressionError(f"{kind} is not supported")


def _args(node: Tree[Token] | Token | None) -> list[Tree[Token] | Token]:
    return [] if node is None else list(node.children) if isinstance(node, Tree) else [node]


def _call(node: Tree[Token], scope: Scope) -> Value:
    name = str(node.children[0])
    args = _args(node.children[1])
    arity, function = FUNCTIONS[name]
    if not arity[0] <= len(args) <= arity[1]:
        wanted = str(arity[0]) if arity[0] == arity[1] else f"{arity[0]} to {arity[1]}"
        raise ExpressionError(f"{name} takes {wanted} argument(s), not {len(args)}")
    return function(args, scope)


def _array(values: list[Value]) -> Array:
    out: Array = []
    for n, value in enumerate(values):
        if isinstance(value, list):
            out += value
        elif isinstance(value, dict):
            out.append((f"[{n}]", value))
        else:
            raise ExpressionError("an array holds time series, not numbers")
    return out


def _divide(a: float, b: float) -> float:
    return a / b if b else math.nan


BINARY: dict[str, Callable[[float, float], float]] = {
    "+": operator.add, "-": operator.sub, "*": operator.mul, "/": _divide,
    "^": lambda a, b: _power(a, b),
    "==": lambda a, b: float(a == b), "!=": lambda a, b: float(a != b),
    "<": lambda a, b: float(a < b), "<=": lambda a, b: float(a <= b),
    ">": lambda a, b: float(a > b), ">=": lambda a, b: float(a >= b),
}


def _power(a: float, b: float) -> float:
    try:
        result = a ** b
    except (OverflowError, ZeroDivisionError):
        return math.nan
    return result if isinstance(result, float | int) else math.nan  # a complex root


def _finite(points: Series) -> Series:
    """A series without the points arithmetic left undefined (a division by zero)."""
    return {t: v for t, v in points.items() if math.isfinite(v)}


def _apply(op: Callable[[float], float], value: Value) -> Value:
    """``op`` on each data point of ``value``."""
    if isinstance(value, list):
        return [(label, _apply_series(op, points)) for label, points in value]
    if isinstance(value, dict):
        return _apply_series(op, value)
    result = op(value)
    if not math.isfinite(result):
        raise ExpressionError("the arithmetic has no finite result (a division by zero?)")
    return result


def _apply_series(op: Callable[[float], float], points: Series) -> Series:
    out = {}
    for t, v in points.items():
        try:
            out[t] = op(v)
        except (ValueError, OverflowError):  # LOG of 0: no value there
            continue
    return _finite(out)


def _combine(op: Callable[[float, float], float], left: Value, right: Value) -> Value:
    """``left op right``, broadcast as metric math does."""
    if isinstance(left, list) and isinstance(right, list):
        raise ExpressionError("an operator between two arrays is not defined; apply it to "
                              "each series, or sum the arrays first (SUM(...))")
    if isinstance(left, list):
        assert not isinstance(right, list)
        return [(label, _pair(op, points, right)) for label, points in left]
    if isinstance(right, list):
        return [(label, _pair(op, left, points)) for label, points in right]
    if isinstance(left, dict) or isinstance(right, dict):
        return _pair(op, left, right)
    return _apply(lambda a: op(a, right), left)  # type: ignore[arg-type, return-value]


def _pair(op: Callable[[float, float], float], left: float | Series,
          right: float | Series) -> Series:
    if isinstance(left, dict) and isinstance(right, dict):
        return _finite({t: op(v, right[t]) for t, v in left.items() if t in right})
    if isinstance(left, dict):
        return _finite({t: op(v, right) for t, v in left.items()})  # type: ignore[arg-type]
    assert isinstance(right, dict)
    return _finite({t: op(left, v) for t, v in right.items()})


# -- functions ----------------------------------------------------------------------------

Function = Callable[[list[Tree[Token] | Token], Scope], Value]


def _unary(op: Callable[[float], float]) -> Function:
    return lambda args, scope: _apply(op, _eval(args[0], scope))


def _reduce(over: Callable[[list[float]], float]) -> Function:
    """SUM, AVG, MIN, MAX: of one series, a scalar; of an array, a series across it."""

    def reduce(args: list[Tree[Token] | Token], scope: Scope) -> Value:
        value = _eval(args[0], scope)
        if isinstance(value, dict):
            if not value:
                raise ExpressionError("the series has no data points to reduce")
            return over(list(value.values()))
        if isinstance(value, list):
            times = sorted({t for _, points in value for t in points})
            return {t: over([p[t] for _, p in value if t in p]) for t in times}
        return value

    return reduce


def _each(transform: Callable[[Series, Grid], Series]) -> Function:
    """A function of one series, applied to each series of an array."""

    def function(args: list[Tree[Token] | Token], scope: Scope) -> Value:
        value = _eval(args[0], scope)
        if isinstance(value, list):
            return [(label, transform(points, scope.grid)) for label, points in value]
        if isinstance(value, dict):
            return transform(value, scope.grid)
        raise ExpressionError("the argument must be a time series, not a number")

    return function


def _rate(points: Series, grid: Grid) -> Series:
    """Change per second from the previous data point."""
    times = sorted(points)
    return {b: (points[b] - points[a]) / (b - a) for a, b in zip(times, times[1:])}


def _diff(points: Series, grid: Grid) -> Series:
    times = sorted(points)
    return {b: points[b] - points[a] for a, b in zip(times, times[1:])}


def _running_sum(points: Series, grid: Grid) -> Series:
    total, out = 0.0, {}
    for t in sorted(points):
        total += points[t]
        out[t] = total
    return out


def _metrics(args: list[Tree[Token] | Token], scope: Scope) -> Value:
    """Every metric of the request, or those whose Id holds the string given."""
    if args:
        node = args[0]
        if not (isinstance(node, Tree) and node.data == "string"):
            raise ExpressionError('METRICS takes nothing or a string: METRICS("errors")')
        part = str(node.children[0])[1:-1]
    else:
        part = ""
    out: Array = []
    for query_id, label in scope.metrics:
        if part in query_id:
            series = scope.resolve(query_id)
            if isinstance(series, dict):
                out.append((label, series))
    return out


FILL_MODES = frozenset({"REPEAT", "LINEAR"})


def _fill(args: list[Tree[Token] | Token], scope: Scope) -> Value:
    """Fill the periods without data: with a number, another series, REPEAT or LINEAR."""
    with_node = args[1]
    if isinstance(with_node, Tree) and with_node.data == "keyword":
        mode = str(with_node.children[0])
        fill: Callable[[Series, Grid], Series] = _repeat if mode == "REPEAT" else _linear
    else:
        given = _eval(with_node, scope)
        if isinstance(given, list):
            raise ExpressionError("FILL's second argument is a number, a series, REPEAT or LINEAR")

        def fill(points: Series, grid: Grid) -> Series:
            out = {}
            for t in grid.times():
                if t in points:
                    out[t] = points[t]
                elif isinstance(given, dict):
                    if t in given:
                        out[t] = given[t]
                else:
                    out[t] = given
            return out

    return _each(fill)(args[:1], scope)


def _repeat(points: Series, grid: Grid) -> Series:
    out, last = {}, None
    for t in grid.times():
        last = points.get(t, last)
        if last is not None:
            out[t] = last
    return out


def _linear(points: Series, grid: Grid) -> Series:
    known = sorted(points)
    out = dict(points)
    for a, b in zip(known, known[1:]):
        for t in grid.times():
            if a < t < b:
                out[t] = points[a] + (points[b] - points[a]) * (t - a) / (b - a)
    return out


def _if(args: list[Tree[Token] | Token], scope: Scope) -> Value:
    """IF(condition, then[, else]): per data point of the condition; without an else, the
    points where it is false are left out."""
    condition = _eval(args[0], scope)
    then = _eval(args[1], scope)
    other = _eval(args[2], scope) if len(args) == 3 else None
    if isinstance(condition, list) or isinstance(then, list) or isinstance(other, list):
        raise ExpressionError("IF takes series and numbers, not arrays")
    if not isinstance(condition, dict):
        chosen = then if condition != 0 else other
        if chosen is None:
            raise ExpressionError("IF's condition is false and there is no else value")
        return chosen
    out = {}
    for t, flag in condition.items():
        chosen = then if flag != 0 else other
        value = chosen.get(t) if isinstance(chosen, dict) else chosen
        if value is not None:
            out[t] = value
    return out


def _period(args: list[Tree[Token] | Token], scope: Scope) -> Value:
    value = _eval(args[0], scope)
    if isinstance(value, dict):
        return {t: float(scope.grid.period) for t in value}
    raise ExpressionError("PERIOD takes one time series")


def _stddev(values: list[float]) -> float:
    mean = sum(values) / len(values)
    return math.sqrt(sum((v - mean) ** 2 for v in values) / len(values))


#: Each function lambdalab evaluates: (fewest, most arguments), implementation.
FUNCTIONS: dict[str, tuple[tuple[int, int], Function]] = {
    "ABS": ((1, 1), _unary(abs)),
    "CEIL": ((1, 1), _unary(lambda v: float(math.ceil(v)))),
    "FLOOR": ((1, 1), _unary(lambda v: float(math.floor(v)))),
    "LOG": ((1, 1), _unary(math.log)),
    "LOG10": ((1, 1), _unary(math.log10)),
    "SUM": ((1, 1), _reduce(math.fsum)),
    "AVG": ((1, 1), _reduce(lambda v: math.fsum(v) / len(v))),
    "MIN": ((1, 1), _reduce(min)),
    "MAX": ((1, 1), _reduce(max)),
    "STDDEV": ((1, 1), _reduce(_stddev)),
    "METRICS": ((0, 1), _metrics),
    "RATE": ((1, 1), _each(_rate)),
    "DIFF": ((1, 1), _each(_diff)),
    "RUNNING_SUM": ((1, 1), _each(_running_sum)),
    "FILL": ((2, 2), _fill),
    "IF": ((2, 3), _if),
    "PERIOD": ((1, 1), _period),
}


__all__ = ["FUNCTIONS", "NOT_EMULATED", "Array", "Grid", "Scope", "Series", "Value",
           "evaluate", "parse", "references"]
