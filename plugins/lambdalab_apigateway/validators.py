"""REST APIs' request validators: required request parameters, checked before the integration.

https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-method-request-validation.html:
a method names a request validator (``requestValidatorId``) and declares its parameters
(``requestParameters``: ``{"method.request.querystring.q": true}``, ``true`` meaning
required); when the validator's ``validateRequestParameters`` is on, a request missing a
required query string parameter or header answers ``400 {"message": "Missing required
request parameters: [q]"}`` (the ``BAD_REQUEST_PARAMETERS`` gateway response) and never
reaches the integration. With ``validateRequestBody`` on, a body that is not JSON, or not
valid against the JSON schema (draft 4) of the model the method names for its
``Content-Type`` (``requestModels``), answers ``400 {"message": "Invalid request body"}``
(``BAD_REQUEST_BODY``). A stage checks with the validators and models its deployment
captured. This module never touches HTTP.
"""

from __future__ import annotations

import json
import re
from typing import Any, Mapping

import jsonschema  # type: ignore[import-untyped]  # no stubs installed (types-jsonschema is not a dependency)

from .exceptions import BadRequestException

#: The models every REST API has
#: (https://docs.aws.amazon.com/apigateway/latest/developerguide/models-mappings-models.html).
DEFAULT_MODELS = {
    "Empty": {"name": "Empty", "contentType": "application/json", "description": "This is a default empty schema model",
              "schema": json.dumps({"$schema": "http://json-schema.org/draft-04/schema#",
                                    "title": "Empty Schema", "type": "object"})},
    "Error": {"name": "Error", "contentType": "application/json", "description": "This is a default error schema model",
              "schema": json.dumps({"$schema": "http://json-schema.org/draft-04/schema#", "title": "Error Schema",
                                    "type": "object", "properties": {"message": {"type": "string"}}})},
}


def checked_schema(schema: Any) -> str:
    """A model's ``schema``: a JSON schema (draft 4), as text."""
    try:
        parsed = json.loads(schema)
        jsonschema.Draft4Validator.check_schema(parsed)
    except (TypeError, ValueError, RecursionError, jsonschema.SchemaError):
        raise BadRequestException("Invalid model specified: Validation Result: warnings : [], "
                                  "errors : [Invalid model schema specified]") from None
    return str(schema)


def invalid_body(method: Mapping[str, Any], validators: Mapping[str, Any], models: Mapping[str, Any],
                 content_type: str, body: bytes) -> bool:
    """Whether the method's validator refuses ``body``: it validates bodies, the method
    names a model for ``content_type``, and the body is not JSON that the model's schema
    allows."""
    validator = validators.get(method.get("requestValidatorId") or "")
    model = models.get((method.get("requestModels") or {}).get(content_type) or "")
    if not validator or not validator.get("validateRequestBody") or model is None:
        return False
    try:
        jsonschema.Draft4Validator(json.loads(model["schema"])).validate(json.loads(body or b"null"))
    except (ValueError, RecursionError, jsonschema.ValidationError):
        return True
    return False

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
