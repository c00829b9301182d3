"""Composite alarms: an alarm whose state is a rule over other alarms' states.

The rule is AWS's (PutCompositeAlarm's ``AlarmRule``,
https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutCompositeAlarm.html):
``ALARM(name)``, ``OK(name)`` and ``INSUFFICIENT_DATA(name)`` (a name or an alarm ARN,
quoted with ``"`` or bare), ``TRUE``, ``FALSE``, combined with ``AND``, ``OR``, ``NOT`` and
parentheses. The composite alarm is in ``ALARM`` while its rule is true and ``OK``
otherwise; it is ``INSUFFICIENT_DATA`` only from its creation to its first evaluation,
which follows at once, and it is evaluated again whenever an alarm its rule names
changes state
(https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/Create_Composite_Alarm.html).
The rule is parsed by lark, as metric math is.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Mapping

from lark import Lark, Token, Tree
from lark.exceptions import LarkError

from . import quotas
from .alarm_base import AlarmBase
from .exceptions import InvalidParameterValue

GRAMMAR = r"""
?start: or_rule
?or_rule: and_rule | or_rule _OR and_rule -> or_
?and_rule: not_rule | and_rule _AND not_rule -> and_
?not_rule: atom | _NOT not_rule -> not_
?atom: STATE "(" NAME ")" -> state
     | TRUE -> true
     | FALSE -> false
     | "(" or_rule ")"
STATE.3: /(ALARM|OK|INSUFFICIENT_DATA)(?=\s*\()/
TRUE.2: /TRUE\b/
FALSE.2: /FALSE\b/
_OR.2: /OR\b/
_AND.2: /AND\b/
_NOT.2: /NOT\b/
NAME: /"[^"]+"/ | /[^\s()"]+/
%ignore /\s+/
"""

_PARSER = Lark(GRAMMAR, parser="lalr")


def alarm_name(reference: str) -> str:
    """The alarm a rule names: a name, or an alarm ARN (``arn:...:alarm:NAME``)."""
    if reference.startswith('"') and reference.endswith('"'):
        reference = reference[1:-1]
    if reference.startswith("arn:") and ":alarm:" in reference:
        return reference.split(":alarm:", 1)[1]
    return reference


def parse_rule(rule: str) -> Tree[Token]:
    """The syntax tree of an alarm rule; InvalidParameterValue if it is not one."""
    if not 1 <= len(rule) <= quotas.ALARM_RULE_MAX:
        raise InvalidParameterValue(
            f"AlarmRule must be 1 to {quotas.ALARM_RULE_MAX} characters long.")
    try:
        tree = _PARSER.parse(rule)
    except LarkError as e:
        line = str(e).strip().splitlines()[0][:200] if str(e).strip() else type(e).__name__
        raise InvalidParameterValue(
            f"The AlarmRule {rule[:200]!r} is not valid ({line}). Combine ALARM(name), "
            "OK(name), INSUFFICIENT_DATA(name), TRUE and FALSE with AND, OR, NOT and "
            'parentheses, e.g. ALARM("errors") AND NOT ALARM(deploying).') from None
    elements = sum(1 for node in tree.iter_subtrees() if node.data in ("state", "true", "false"))
    if elements > quotas.ALARM_RULE_ELEMENTS_MAX or _depth(tree) > quotas.ALARM_RULE_ELEMENTS_MAX:
        raise InvalidParameterValue(
            f"The AlarmRule can have as many as {quotas.ALARM_RULE_ELEMENTS_MAX} elements.")
    if len(children(tree)) > quotas.ALARM_RULE_CHILDREN_MAX:
        raise InvalidParameterValue(
            f"The AlarmRule can name as many as {quotas.ALARM_RULE_CHILDREN_MAX} alarms.")
    return tree


def _depth(tree: Tree[Token]) -> int:
    deepest, stack = 0, [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        stack += [(child, depth + 1) for child in node.children if isinstance(child, Tree)]
    return deepest


def children(tree: Tree[Token]) -> list[str]:
    """The alarms a rule names, each once, in the order it names them."""
    names = [alarm_name(str(node.children[1])) for node in tree.iter_subtrees_topdown()
             if node.data == "state"]
    return list(dict.fromkeys(names))


def holds(tree: Tree[Token] | Token, states: Mapping[str, str]) -> bool:
    """Whether the rule is true, given the named alarms' states (its depth is bounded)."""
    assert isinstance(tree, Tree)
    kind = tree.data
    if kind == "true":
        return True
    if kind == "false":
        return False
    if kind == "state":
        wanted, name = str(tree.children[0]), alarm_name(str(tree.children[1]))
        return states.get(name) == wanted
    if kind == "not_":
        return not holds(tree.children[0], states)
    left, right = tree.children
    if kind == "and_":
        return holds(left, states) and holds(right, states)
    return holds(left, states) or holds(right, states)


@dataclass(frozen=True, kw_only=True)
class CompositeAlarm(AlarmBase):
    """One composite alarm, as PutCompositeAlarm set it and evaluation left it."""

    rule: str

    def children(self) -> list[str]:
        return children(parse_rule(self.rule))

    def to_aws(self) -> dict[str, Any]:
        """The ``CompositeAlarm`` shape of DescribeAlarms."""
        return {**self._state_to_aws(), "AlarmRule": self.rule}

    @classmethod
    def from_json(cls, text: str) -> "CompositeAlarm":
        return cls._from_data(json.loads(text))


__all__ = ["CompositeAlarm", "alarm_name", "children", "holds", "parse_rule"]
