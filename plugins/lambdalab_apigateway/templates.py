"""Mapping templates: API Gateway's Velocity (VTL), rendered with ``airspeed``.

https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-mapping-template-reference.html:
a template sees ``$input`` (``body``, ``json(path)``, ``path(path)``, ``params()``,
``params(name)``), ``$context``, ``$stageVariables`` and ``$util`` (``escapeJavaScript``,
``parseJson``, ``urlEncode``, ``urlDecode``, ``base64Encode``, ``base64Decode``). A JSONPath
here is ``$``, ``$.a.b``, ``$.a[0]`` or ``$['a']``. A template that fails to render raises
:class:`TemplateFailed`, which the caller answers as AWS's 500. This module never touches
HTTP.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any, Mapping
from urllib.parse import quote, unquote

import airspeed  # type: ignore[import-untyped]  # it ships no type information

_STEP = re.compile(r"\.([A-Za-z_$][\w$-]*)|\[(\d+)\]|\['([^']*)'\]|\[\"([^\"]*)\"\]")


class TemplateFailed(Exception):
    """A template that airspeed could not render, or a JSONPath that is none."""


def json_path(document: Any, path: str) -> Any:
    """The value ``path`` names in ``document`` (``None`` where nothing is)."""
    if not isinstance(path, str) or not path.startswith("$"):
        raise TemplateFailed(f"Invalid JSONPath {path!r}")
    rest, value = path[1:], document
    while rest:
        step = _STEP.match(rest)
        if step is None:
            raise TemplateFailed(f"Invalid JSONPath {path!r}")
        name, index, quoted, double = step.groups()
        if index is not None:
            value = value[int(index)] if isinstance(value, list) and int(index) < len(value) else None
        else:
            key = name if name is not None else (quoted if quoted is not None else double)
            value = value.get(key) if isinstance(value, dict) else None
        rest = rest[step.end():]
    return value


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
        return json.dumps(json_path(self._document(), path))

    def path(self, path: str) -> Any:
        """The value itself (``""`` where nothing is: API Gateway renders a missing value
        empty, where airspeed would print the reference)."""
        found = json_path(self._document(), path)
        return "" if found is None else found

    def params(self, name: str | None = None) -> Any:
        if name is None:
            return {k: dict(v) for k, v in self._params.items()}
        for where in ("path", "querystring", "header"):
            if name in self._params.get(where, {}):
                return self._params[where][name]
        return ""


class Util:
    """``$util``."""

    def escapeJavaScript(self, text: Any) -> str:  # noqa: N802  (VTL's name)
        return json.dumps(str(text))[1:-1].replace("'", "\\'")

    def parseJson(self, text: str) -> Any:  # noqa: N802
        try:
            return json.loads(text)
        except (TypeError, ValueError):
            raise TemplateFailed("$util.parseJson was given no JSON") from None

    def urlEncode(self, text: str) -> str:  # noqa: N802
        return quote(str(text), safe="")

    def urlDecode(self, text: str) -> str:  # noqa: N802
        return unquote(str(text))

    def base64Encode(self, text: str) -> str:  # noqa: N802
        return base64.b64encode(str(text).encode()).decode()

    def base64Decode(self, text: str) -> str:  # noqa: N802
        try:
            return base64.b64decode(str(text), validate=True).decode(errors="replace")
        except binascii.Error:
            raise TemplateFailed("$util.base64Decode was given no base64") from None


def render(template: str, input: Input, context: Mapping[str, Any],
           stage_variables: Mapping[str, str]) -> str:
    """``template`` rendered for this request."""
    try:
        return str(airspeed.Template(template).merge(
            {"input": input, "context": dict(context), "stageVariables": dict(stage_variables), "util": Util()}))
    except TemplateFailed:
        raise
    except Exception as error:  # airspeed's own errors, and any a template provokes in it
        raise TemplateFailed(f"The mapping template failed: {error}") from None
