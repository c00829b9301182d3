"""REST APIs' request validators: required request parameters, checked before the integration.

https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-method-request-validation.html:
a method names a request validator (``requestValidatorId``) and declares its parameters
(``requestParameters``: ``{"method.request.querystring.q": true}``, ``true`` meaning
required); when the validator's ``validateRequestParameters`` is on, a request missing a
required query string parameter or header answers ``400 {"message": "Missing required
request parameters: [q]"}`` (the ``BAD_REQUEST_PARAMETERS`` gateway response) and never
reaches the integration. A stage checks with the validators its deployment captured. Body
validation against models (``validateRequestBody``) is not done yet. This module never
touches HTTP.
"""

from __future__ import annotations

import re
from typing import Any, Mapping

from .exceptions import BadRequestException

#: ``method.request.<where>.<name>``, as PutMethod's ``requestParameters`` keys are
#: (https://docs.aws.amazon.com/apigateway/latest/developerguide/request-response-data-mappings.html).
_PARAMETER = re.compile(r"^method\.request\.(querystring|header|path|multivaluequerystring|multivalueheader)\.(.+)$")


def checked_parameters(given: Any) -> dict[str, bool]:
    """PutMethod's ``requestParameters``, each key a method request parameter's name."""
    if given is None:
        return {}
    if not isinstance(given, dict):
        raise BadRequestException("Invalid requestParameters: send a map of method.request.<where>.<name> to true or false")
    for key in given:
        if not isinstance(key, str) or not _PARAMETER.match(key):
            raise BadRequestException(f"Invalid mapping expression specified: Validation Result: warnings : [], "
                                      f"errors : [Invalid method request parameter name specified: {key}]")
    return {key: bool(required) for key, required in given.items()}


def missing_parameters(method: Mapping[str, Any], validators: Mapping[str, Any],
                       event: Mapping[str, Any]) -> list[str]:
    """The required parameters the request (its 1.0 ``event``) lacks, by name, when the
    method's validator checks parameters; ``[]`` otherwise."""
    validator = validators.get(method.get("requestValidatorId") or "")
    if not validator or not validator.get("validateRequestParameters"):
        return []
    present = {
        "querystring": set(event.get("multiValueQueryStringParameters") or {}),
        "header": {name.lower() for name in (event.get("multiValueHeaders") or {})},
        "path": set(event.get("pathParameters") or {}),
    }
    present["multivaluequerystring"], present["multivalueheader"] = present["querystring"], present["header"]
    missing = []
    for key, required in (method.get("requestParameters") or {}).items():
        where, name = _PARAMETER.match(key).groups()  # type: ignore[union-attr]  # checked when put
        if required and (name.lower() if "header" in where else name) not in present[where]:
            missing.append(name)
    return missing
