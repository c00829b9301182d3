"""Mapping templates: API Gateway's Velocity (VTL), rendered with ``airspeed``.

https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-mapping-template-reference.html:
a template sees ``$input`` (``body``, ``json(path)``, ``path(path)``, ``params()``,
``params(name)``), ``$context``, ``$stageVariables`` and ``$util`` (``escapeJavaScript``,
``parseJson``, ``urlEncode``, ``urlDecode``, ``base64Encode``, ``base64Decode``). A JSONPath
here is ``$``, ``$.a.b``, ``$.a[0]``, ``$['a']``, or (naming a list) ``$.a[*]``, ``$.a.*``,
``$..a``, ``$.a[0:2]``; filters are refused. A template that fails to render raises
:class:`TemplateFailed`, which the caller answers as AWS's 500. This module never touches
HTTP.

Null references render as API Gateway's Velocity renders them, not as Velocity's default
(which prints the reference as written): a reference to nothing (``$context.authorizer.missing``,
``$stageVariables.none``, ``$input.path('$.missing')``, a method called on nothing) writes
nothing; ``$input.json`` of a path that names nothing is empty too, of a JSON ``null`` it is
``null``; a ``$util`` function given nothing gives nothing; ``#if`` on any of them is false.
Booleans are written as Java writes them (``true``), as the page's ``$context.authorizer``
example shows.

A template is bounded as AWS bounds it and then some (:mod:`.quotas`): a ``#foreach`` runs
at most 1,000 times, a rendering at most 100,000 rounds in all, and neither its output nor
any string or list it makes may pass 10 MB; a name beginning with ``_`` is refused (Velocity
has none, and airspeed would reach Python's internals through it). Each breach is a
:class:`TemplateFailed`, not a hang. A value's methods are Java's, those :mod:`.java`
allows; any other (Python's ``ljust``, ``format``) is a :class:`TemplateFailed` naming it.
"""

from __future__ import annotations

import base64
import binascii
import json
import operator
import re
from dataclasses import dataclass
from typing import Any, Mapping
from urllib.parse import quote, unquote

import airspeed  # type: ignore[import-untyped]  # it ships no type information

from . import quotas
from .java import JavaFailed, getter, java_text, methods_of

class TemplateFailed(Exception):
    """A template that airspeed could not render, or a JSONPath that is none."""


#: What a JSONPath names where the document has nothing (JSON's ``null`` is ``None``).
MISSING = object()
#: One JSONPath step: ``..name``/``..*`` (every depth), ``.name``, ``.*``, ``[n]``, ``[*]``,
#: ``[a:b]``, ``['name']``, ``["name"]``.
_STEP = re.compile(r"\.\.(?:(?P<deep>[A-Za-z_$][\w$-]*)|(?P<deepall>\*))|\.(?P<name>[A-Za-z_$][\w$-]*)"
                   r"|(?P<star>\.\*|\[\*\])|\[(?P<index>-?\d+)\]|\[(?P<start>-?\d*):(?P<stop>-?\d*)\]"
                   r"|\['(?P<quoted>[^']*)'\]|\[\"(?P<double>[^\"]*)\"\]")


def _children(value: Any) -> list[Any]:
    return list(value.values()) if isinstance(value, dict) else list(value) if isinstance(value, list) else []


def _descendants(value: Any) -> list[Any]:
    """``value`` and everything below it, parents before children (walked without recursion)."""
    found, pending = [], [value]
    while pending:
        current = pending.pop()
        found.append(current)
        pending += reversed(_children(current))
    return found


def _step(nodes: list[Any], step: re.Match[str]) -> list[Any]:
    """What one step reaches from each of ``nodes``."""
    out: list[Any] = []
    for node in nodes:
        if step["deep"] is not None:
            out += [d[step["deep"]] for d in _descendants(node) if isinstance(d, dict) and step["deep"] in d]
        elif step["deepall"] is not None:
            out += _descendants(node)[1:]
        elif step["star"] is not None:
            out += _children(node)
        elif step["index"] is not None:
            index = int(step["index"])
            if isinstance(node, list) and -len(node) <= index < len(node):
                out.append(node[index])
        elif step["start"] is not None:
            if isinstance(node, list):
                out += node[int(step["start"]) if step["start"] else None:int(step["stop"]) if step["stop"] else None]
        else:
            key = next(k for k in (step["name"], step["quoted"], step["double"]) if k is not None)
            if isinstance(node, dict) and key in node:
                out.append(node[key])
    return out


def json_path(document: Any, path: str, missing: Any = None) -> Any:
    """The value ``path`` names in ``document`` (``missing`` where nothing is); a path
    with a wildcard, a deep scan (``..``) or a slice names the list of what it reaches,
    as Jayway's JsonPath (AWS's) answers an indefinite path."""
    if not isinstance(path, str) or not path.startswith("$"):
        raise TemplateFailed(f"Invalid JSONPath {path!r}")
    rest, nodes, definite = path[1:], [document], True
    while rest:
        step = _STEP.match(rest)
        if step is None:
            raise TemplateFailed(f"Invalid JSONPath {path!r}: filters and other expressions are not served")
        definite = definite and any(step[k] is not None for k in ("name", "index", "quoted", "double"))
        nodes = _step(nodes, step)
        rest = rest[step.end():]
    if definite:
        return nodes[0] if nodes else missing
    return nodes


class Nothing(str):
    """The ``""`` a path that names nothing gives: equal to ``""``, and, as Java's null,
    any method called on it gives nothing."""


class Input:
    """``$input``: the request's (or the integration's answer's) body and parameters."""

    def __init__(self, body: str, params: Mapping[str, Mapping[str, str]]) -> None:
        self.body = body
        self._params = params

    def _document(self) -> Any:
        try:
            return json.loads(self.body) if self.body else {}
        except ValueError:
            raise TemplateFailed("The body is not JSON") from None

    def json(self, path: str) -> str:
        """The value as JSON; empty where the path names nothing."""
        found = json_path(self._document(), path, MISSING)
        return "" if found is MISSING else json.dumps(found)

    def path(self, path: str) -> Any:
        """The value itself; ``""`` where nothing is, so that ``$input.path('$.a') == ""``
        holds for a missing ``a`` as templates written for API Gateway expect."""
        found = json_path(self._document(), path)
        return Nothing() if found is None else found

    def params(self, name: str | None = None) -> Any:
        if name is None:
            return {k: dict(v) for k, v in self._params.items()}
        for where in ("path", "querystring", "header"):
            if name in self._params.get(where, {}):
                return self._params[where][name]
        return ""


class Util:
    """``$util``."""

    # Each function given nothing gives nothing, as Java's escape and codec utilities
    # answer null with null.

    def escapeJavaScript(self, text: Any) -> str | None:  # noqa: N802  (VTL's name)
        if text is None:
            return None
        return json.dumps(java_text(text))[1:-1].replace("'", "\\'")

    def parseJson(self, text: str) -> Any:  # noqa: N802
        try:
            return json.loads(text)
        except (TypeError, ValueError):
            raise TemplateFailed("$util.parseJson was given no JSON") from None

    def urlEncode(self, text: Any) -> str | None:  # noqa: N802
        return None if text is None else quote(java_text(text), safe="")

    def urlDecode(self, text: Any) -> str | None:  # noqa: N802
        return None if text is None else unquote(java_text(text))

    def base64Encode(self, text: Any) -> str | None:  # noqa: N802
        return None if text is None else base64.b64encode(java_text(text).encode()).decode()

    def base64Decode(self, text: Any) -> str | None:  # noqa: N802
        if text is None:
            return None
        try:
            return base64.b64decode(str(text), validate=True).decode(errors="replace")
        except binascii.Error:
            raise TemplateFailed("$util.base64Decode was given no base64") from None


class _Reference(airspeed.FormalReference):  # type: ignore[misc]  # airspeed is untyped
    """A ``$reference`` written as API Gateway writes it: nothing for a null one (where
    Velocity would print the reference as written), Java's text for the rest."""

    def evaluate_raw(self, stream: Any, namespace: Any, loader: Any) -> None:
        if self.expression is None:  # a lone "$": text
            stream.write(self.my_text())
            return
        value = self.expression.calculate(namespace, loader)
        if value is None and self.alternate is not None:
            value = self.alternate.calculate(namespace, loader)
        stream.write("" if value is None else java_text(value))


def _bounded(value: Any) -> Any:
    """``value``, unless it is a string or list past :data:`quotas.TEMPLATE_VALUE_MAX`."""
    if isinstance(value, (str, list, dict)) and len(value) > quotas.TEMPLATE_VALUE_MAX:
        raise TemplateFailed(f"The mapping template made a value of more than {quotas.TEMPLATE_VALUE_MAX} characters")
    return value


class _Output(airspeed.StoppableStream):  # type: ignore[misc]
    """The rendering's output, refused past :data:`quotas.TEMPLATE_VALUE_MAX` characters."""

    def write(self, text: str) -> None:
        if self.tell() + len(text) > quotas.TEMPLATE_VALUE_MAX:
            raise TemplateFailed(f"The mapping template wrote more than {quotas.TEMPLATE_VALUE_MAX} characters")
        super().write(text)


#: The members of ``$input`` and ``$util`` a template may name.
_MEMBERS = {Input: frozenset({"body", "json", "path", "params"}),
            Util: frozenset({"escapeJavaScript", "parseJson", "urlEncode", "urlDecode", "base64Encode", "base64Decode"})}


class _Name(airspeed.NameOrCall):  # type: ignore[misc]
    """A name or method call: a variable, a member of ``$input`` or ``$util``, a map's
    entry, or a Java method :mod:`.java` allows; none beginning with ``_``; no result
    past the bound."""

    parameters: Any  # airspeed's: the call's arguments, None for a property
    index: Any  # airspeed's: ``[i]`` after a property

    def calculate(self, current_object: Any, loader: Any, top_namespace: Any) -> Any:
        if self.name.startswith("_"):
            raise TemplateFailed(f"{self.name}: a name beginning with _ is not Velocity's")
        members = _MEMBERS.get(type(current_object))
        if members is not None and self.name not in members:
            raise TemplateFailed(f"{self.name}: API Gateway's ${type(current_object).__name__.lower()} has no such member")
        if members is not None or isinstance(current_object, airspeed.LocalNamespace):
            return _bounded(super().calculate(current_object, loader, top_namespace))
        try:
            return _bounded(self._java(current_object, loader, top_namespace))
        except JavaFailed as error:
            raise TemplateFailed(f"{self.name}: {error}") from None

    def _java(self, value: Any, loader: Any, top_namespace: Any) -> Any:
        """A property (a map's entry, or a getter) or an allowed method of ``value``."""
        if value is None or isinstance(value, Nothing):
            return None
        kind, methods = methods_of(value)
        if self.parameters is None:
            found = getter(methods, self.name)
            value = value.get(self.name) if isinstance(value, dict) else None if found is None else found(value)
            return value if self.index is None else _item(value, self.index.calculate(top_namespace, loader))
        method = methods.get(self.name)
        if method is None:
            raise TemplateFailed(f"{self.name}(): not a method of Java's {kind} that API Gateway's Velocity calls")
        try:
            return method(value, *self.parameters.calculate(top_namespace, loader))
        except TypeError as error:  # the wrong number or kind of arguments
            raise JavaFailed(f"{kind}.{self.name} cannot take these arguments ({error})") from None


def _item(value: Any, index: Any) -> Any:
    """``value[index]`` as Velocity reads ``$a.b[i]``: nothing where nothing is."""
    try:
        return value[index]
    except (LookupError, TypeError):
        return None


class _Interpolated(airspeed.InterpolatedStringLiteral):  # type: ignore[misc]
    def calculate(self, namespace: Any, loader: Any) -> Any:
        return _bounded(super().calculate(namespace, loader))


@dataclass
class _Rounds:
    """The ``#foreach`` rounds a rendering has left."""

    left: int = quotas.TEMPLATE_ITERATIONS_MAX


class _Foreach(airspeed.ForeachDirective):  # type: ignore[misc]
    """``#foreach`` over at most :data:`quotas.TEMPLATE_FOREACH_MAX` items, counted
    against the rendering's :class:`_Rounds`."""

    rounds: _Rounds
    value: Any  # airspeed's: what the loop runs over

    def evaluate_raw(self, stream: Any, namespace: Any, loader: Any) -> None:
        items = self.value.calculate(namespace, loader)
        size = len(items) if hasattr(items, "__len__") else 0
        if size > quotas.TEMPLATE_FOREACH_MAX:
            raise TemplateFailed(f"#foreach over {size} items: API Gateway runs at most "
                                 f"{quotas.TEMPLATE_FOREACH_MAX}")
        self.rounds.left -= size
        if self.rounds.left < 0:
            raise TemplateFailed(f"The mapping template ran more than {quotas.TEMPLATE_ITERATIONS_MAX} "
                                 "#foreach rounds")
        given, self.value = self.value, _Given(items)
        try:  # airspeed's own loop, over what was counted (the value is not calculated twice)
            super().evaluate_raw(stream, namespace, loader)
        finally:
            self.value = given


@dataclass(frozen=True)
class _Given:
    """A value already calculated."""

    value: Any

    def calculate(self, namespace: Any, loader: Any) -> Any:
        return self.value


def _checked_multiply(left: Any, right: Any) -> Any:
    for text, times in ((left, right), (right, left)):
        if isinstance(text, (str, list)) and isinstance(times, int) and len(text) * times > quotas.TEMPLATE_VALUE_MAX:
            raise TemplateFailed(f"The mapping template made a value of more than {quotas.TEMPLATE_VALUE_MAX} characters")
    return left * right


def _checked_add(left: Any, right: Any) -> Any:
    return _bounded(operator.add(left, right))


#: What each airspeed element becomes here.
_KINDS = {airspeed.FormalReference: _Reference, airspeed.NameOrCall: _Name,
          airspeed.InterpolatedStringLiteral: _Interpolated, airspeed.ForeachDirective: _Foreach}


def _compiled(template: str) -> Any:
    """``template`` parsed by airspeed, its elements bounded and its references written as
    :class:`_Reference` writes them."""
    compiled = airspeed.Template(template)
    compiled.ensure_compiled()
    rounds = _Rounds()
    pending, seen = [compiled.root_element], set()
    while pending:  # the element tree, walked without recursion: templates may nest deeply
        element = pending.pop()
        if id(element) in seen:
            continue
        seen.add(id(element))
        kind = _KINDS.get(type(element))
        if kind is not None:
            element.__class__ = kind
        if kind is _Foreach:
            element.rounds = rounds
        if isinstance(element, airspeed.BinaryOperator) and element.apply_to is operator.mul:
            element.apply_to = _checked_multiply
        elif isinstance(element, airspeed.BinaryOperator) and element.apply_to is operator.add:
            element.apply_to = _checked_add
        for member in vars(element).values():
            children = member if isinstance(member, list) else [member]
            pending += [child for child in children if isinstance(child, airspeed._Element)]
    return compiled


def render(template: str, input: Input, context: Mapping[str, Any],
           stage_variables: Mapping[str, str]) -> str:
    """``template`` rendered for this request."""
    try:
        output = _Output()
        _compiled(template).merge_to(
            {"input": input, "context": dict(context), "stageVariables": dict(stage_variables), "util": Util()}, output)
        return str(output.getvalue())
    except TemplateFailed:
        raise
    except Exception as error:  # airspeed's own errors, and any a template provokes in it
        cause = error
        while isinstance(cause, airspeed.TemplateExecutionError) and cause.__cause__ is not None:
            cause = cause.__cause__  # airspeed wraps each element's error in its parent's
        if isinstance(cause, TemplateFailed):
            raise cause from None
        raise TemplateFailed(f"The mapping template failed: {error}") from None
