"""CloudFormation's intrinsic functions and the order resources are made in.

What is resolved: ``Ref`` (parameters, pseudo parameters, resources), ``Fn::GetAtt``,
``Fn::Sub`` (both forms), ``Fn::Join``, ``Fn::If`` with ``Conditions`` (``Fn::Equals``,
``Fn::And``, ``Fn::Or``, ``Fn::Not``, ``Condition``), ``Fn::Select``, ``Fn::Split``,
``Fn::FindInMap`` over ``Mappings``, ``Fn::Base64``, ``Fn::GetAZs``, ``Fn::ImportValue`` (another
stack's ``Outputs`` ``Export``) and ``AWS::NoValue``
(https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/intrinsic-function-reference.html).
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from .exceptions import TemplateError

#: What ``Ref`` of ``AWS::NoValue`` leaves: the property is dropped.
NO_VALUE = object()
_SUB_VARIABLE = re.compile(r"\$\{([^!}][^}]*)\}")


@dataclass
class Scope:
    """What a template's expressions can name while it is deployed."""

    parameters: dict[str, Any]
    conditions: dict[str, bool] = field(default_factory=dict)
    mappings: dict[str, Any] = field(default_factory=dict)
    #: Each made resource's ``Ref`` value and attributes.
    refs: dict[str, Any] = field(default_factory=dict)
    attributes: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: The other stacks' exports by name, and the names this template imported.
    exports: dict[str, Any] = field(default_factory=dict)
    imported: set[str] = field(default_factory=set)


def references(value: Any) -> set[str]:
    """The logical ids ``value`` names through ``Ref``, ``Fn::GetAtt`` and ``Fn::Sub``."""
    found: set[str] = set()
    if isinstance(value, list):
        for item in value:
            found |= references(item)
    elif isinstance(value, dict):
        if len(value) == 1 and "Ref" in value and isinstance(value["Ref"], str):
            return {value["Ref"]}
        if len(value) == 1 and "Fn::GetAtt" in value:
            target = value["Fn::GetAtt"]
            name = target[0] if isinstance(target, list) else str(target).split(".")[0]
            return {name}
        if len(value) == 1 and "Fn::Sub" in value:
            text = value["Fn::Sub"]
            text, local = (text[0], text[1]) if isinstance(text, list) else (text, {})
            found |= {m.split(".")[0] for m in _SUB_VARIABLE.findall(str(text))} - set(local)
            return found | references(local)
        for item in value.values():
            found |= references(item)
    return found


def creation_order(resources: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """Logical ids so that each comes after what it names (``Ref``, ``Fn::GetAtt``,
    ``Fn::Sub`` in its properties or ``UpdatePolicy``, ``DependsOn``); a cycle is a
    TemplateError naming it."""
    needs: dict[str, set[str]] = {}
    for name, resource in resources.items():
        depends = resource.get("DependsOn") or []
        depends = [depends] if isinstance(depends, str) else list(depends)
        named = references([resource.get("Properties") or {}, resource.get("UpdatePolicy") or {}]) | set(depends)
        needs[name] = {n for n in named if n in resources and n != name}
    order: list[str] = []
    placed: set[str] = set()
    while len(order) < len(needs):
        ready = sorted(n for n in needs if n not in placed and needs[n] <= placed)
        if not ready:
            stuck = sorted(n for n in needs if n not in placed)
            raise TemplateError(f"Circular dependency between resources: {stuck}")
        order.extend(ready)
        placed.update(ready)
    return order


def evaluate_conditions(conditions: Any, parameters: dict[str, Any]) -> dict[str, bool]:
    if not isinstance(conditions, dict):
        raise TemplateError("Template format error: Conditions must be an object")
    scope = Scope(parameters)
    try:
        for name in conditions:
            _condition(name, conditions, scope)
    except (TypeError, ValueError, IndexError, KeyError, AttributeError, RecursionError) as e:
        raise TemplateError(f"Template error: a condition is malformed ({type(e).__name__}: {e})") from None
    return scope.conditions


def _condition(name: str, pending: Mapping[str, Any], scope: Scope) -> bool:
    if name not in scope.conditions:
        if name not in pending:
            raise TemplateError(f"Condition {name!r} is not defined in Conditions")
        scope.conditions[name] = bool(_resolve(pending[name], scope, lambda n: _condition(n, pending, scope)))
    return scope.conditions[name]


def resolve(value: Any, scope: Scope) -> Any:
    """``value`` with every intrinsic function replaced by what it stands for; a
    malformed one is a TemplateError."""
    def condition(name: str) -> bool:
        if name not in scope.conditions:
            raise TemplateError(f"Condition {name!r} is not defined in Conditions")
        return scope.conditions[name]

    try:
        return _resolve(value, scope, condition)
    except (TypeError, ValueError, IndexError, KeyError, AttributeError) as e:
        raise TemplateError(f"Template error: an intrinsic function is malformed ({type(e).__name__}: {e})") from None


def _resolve(value: Any, scope: Scope, condition: Callable[[str], bool]) -> Any:
    if isinstance(value, list):
        items = [_resolve(v, scope, condition) for v in value]
        return [v for v in items if v is not NO_VALUE]
    if not isinstance(value, dict):
        return value
    if len(value) == 1:
        (key, argument), = value.items()
        function = _FUNCTIONS.get(key)
        if function is not None:
            return function(argument, scope, condition)
    resolved = {k: _resolve(v, scope, condition) for k, v in value.items()}
    return {k: v for k, v in resolved.items() if v is not NO_VALUE}


def _ref(name: Any, scope: Scope, condition: Callable[[str], bool]) -> Any:
    if name == "AWS::NoValue":
        return NO_VALUE
    if name in scope.parameters:
        return scope.parameters[name]
    if name in scope.refs:
        return scope.refs[name]
    raise TemplateError(f"Unresolved resource dependencies [{name}] in the Resources block of the template")


def _get_att(argument: Any, scope: Scope, condition: Callable[[str], bool]) -> Any:
    if isinstance(argument, str):
        argument = argument.split(".", 1)
    argument = [_resolve(a, scope, condition) for a in argument]
    if len(argument) != 2:
        raise TemplateError(f"Fn::GetAtt takes [LogicalId, Attribute], not {argument!r}")
    name, attribute = argument
    if name not in scope.attributes:
        raise TemplateError(f"Template error: instance of Fn::GetAtt references undefined resource {name}")
    attributes = scope.attributes[name]
    if attribute not in attributes:
        raise TemplateError(f"Template error: resource {name} does not support attribute type "
                            f"{attribute} in Fn::GetAtt (lambdalab knows: {sorted(attributes)})")
    return attributes[attribute]


def _sub(argument: Any, scope: Scope, condition: Callable[[str], bool]) -> str:
    text, local = (argument[0], argument[1]) if isinstance(argument, list) else (argument, {})
    local = {k: _resolve(v, scope, condition) for k, v in (local or {}).items()}

    def one(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in local:
            return str(local[name])
        if "." in name:
            return str(_get_att(name, scope, condition))
        return str(_ref(name, scope, condition))

    return _SUB_VARIABLE.sub(one, str(text)).replace("${!", "${")


def _join(argument: Any, scope: Scope, condition: Callable[[str], bool]) -> str:
    delimiter, items = argument
    items = _resolve(items, scope, condition)
    return str(delimiter).join(str(i) for i in items)


def _if(argument: Any, scope: Scope, condition: Callable[[str], bool]) -> Any:
    name, when_true, when_false = argument
    return _resolve(when_true if condition(name) else when_false, scope, condition)


def _equals(argument: Any, scope: Scope, condition: Callable[[str], bool]) -> bool:
    left, right = (_resolve(a, scope, condition) for a in argument)
    return str(left) == str(right)


def _select(argument: Any, scope: Scope, condition: Callable[[str], bool]) -> Any:
    index, items = (_resolve(a, scope, condition) for a in argument)
    return items[int(index)]


def _find_in_map(argument: Any, scope: Scope, condition: Callable[[str], bool]) -> Any:
    name, top, second = (_resolve(a, scope, condition) for a in argument)
    try:
        return scope.mappings[name][top][second]
    except (KeyError, TypeError):
        raise TemplateError(f"Template error: Unable to get mapping for {name}::{top}::{second}") from None


def _base64(argument: Any, scope: Scope, condition: Callable[[str], bool]) -> str:
    return base64.b64encode(str(_resolve(argument, scope, condition)).encode()).decode()


def _split(argument: Any, scope: Scope, condition: Callable[[str], bool]) -> list[str]:
    delimiter, text = argument
    return str(_resolve(text, scope, condition)).split(delimiter)


def _import_value(argument: Any, scope: Scope, condition: Callable[[str], bool]) -> Any:
    name = _resolve(argument, scope, condition)
    if not isinstance(name, str) or name not in scope.exports:
        raise TemplateError(f"No export named {name} found.")
    scope.imported.add(name)
    return scope.exports[name]


_FUNCTIONS: dict[str, Callable[[Any, Scope, Callable[[str], bool]], Any]] = {
    "Ref": _ref,
    "Fn::GetAtt": _get_att,
    "Fn::Sub": _sub,
    "Fn::Join": _join,
    "Fn::If": _if,
    "Fn::Equals": _equals,
    "Fn::Select": _select,
    "Fn::Split": _split,
    "Fn::FindInMap": _find_in_map,
    "Fn::Base64": _base64,
    "Fn::ImportValue": _import_value,
    "Fn::And": lambda a, s, c: all(_resolve(x, s, c) for x in a),
    "Fn::Or": lambda a, s, c: any(_resolve(x, s, c) for x in a),
    "Fn::Not": lambda a, s, c: not _resolve(a[0], s, c),
    "Condition": lambda a, s, c: c(a),
    "Fn::GetAZs": lambda a, s, c: [f"{s.parameters['AWS::Region']}{z}" for z in "abc"],
}
