"""REST APIs' ``MOCK`` integrations: API Gateway answers the method itself.

https://docs.aws.amazon.com/apigateway/latest/developerguide/how-to-mock-integration.html:
the integration's request template (``application/json``) gives the ``statusCode``; the
integration response whose ``selectionPattern`` matches it (else the one without a
pattern) gives the method's status, its headers (``responseParameters``
``method.response.header.<name>`` = ``'literal'``, each declared by the method response)
and its body (``responseTemplates``). This is what the console's "Enable CORS" creates:
an ``OPTIONS`` method answering ``Access-Control-Allow-*`` headers
(https://docs.aws.amazon.com/apigateway/latest/developerguide/how-to-cors-console.html).

Templates are Velocity (VTL), rendered by :mod:`.templates` before they are read.
"""

from __future__ import annotations

import json
import re
from typing import Any, Mapping

_HEADER = "method.response.header."
_DEFAULT_TEMPLATE = '{"statusCode": 200}'


def request_template(integration: Mapping[str, Any]) -> str:
    """The mock's ``application/json`` request template (``{"statusCode": 200}`` if none)."""
    return (integration.get("requestTemplates") or {}).get("application/json") or _DEFAULT_TEMPLATE


def mock_status(rendered: str) -> int | None:
    """The ``statusCode`` the rendered request template names, or ``None`` when it names none."""
    try:
        value = json.loads(rendered).get("statusCode", 200)
    except (ValueError, AttributeError):
        return None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def chosen_response(integration: Mapping[str, Any], selector: str | None) -> Mapping[str, Any] | None:
    """The integration response for ``selector`` (a mock's status, a Lambda function's
    ``errorMessage``; ``None`` for a Lambda function's success): a matching
    ``selectionPattern``, else the default."""
    responses = list((integration.get("integrationResponses") or {}).values())
    for response in responses:
        pattern = response.get("selectionPattern")
        try:
            if pattern and selector is not None and re.fullmatch(pattern, selector, re.DOTALL):
                return response
        except re.error:  # a pattern that is no regular expression selects nothing
            continue
    return next((r for r in responses if not r.get("selectionPattern")), None)


def response_template(response: Mapping[str, Any], accept: str | None) -> str | None:
    """The integration response's template for a request whose ``Accept`` header is
    ``accept``: the one for that type, else ``application/json``'s, else the first; ``None``
    when it has none (the body passes through), as
    https://docs.aws.amazon.com/apigateway/latest/developerguide/request-response-data-mappings.html
    describes and LocalStack records."""
    templates = response.get("responseTemplates") or {}
    if not templates:
        return None
    if accept is not None and accept.strip().lower() in templates:
        return str(templates[accept.strip().lower()])
    return str(templates.get("application/json", next(iter(templates.values()))))


def response_headers(method: Mapping[str, Any], response: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The static (``'quoted'``) headers a response maps, those the method declares."""
    declared = ((method.get("methodResponses") or {}).get(response["statusCode"]) or {}).get(
        "responseParameters") or {}
    out = []
    for name, value in (response.get("responseParameters") or {}).items():
        if name in declared and name.startswith(_HEADER) and len(value) >= 2 and value[0] == value[-1] == "'":
            out.append((name.removeprefix(_HEADER), value[1:-1]))
    return out
