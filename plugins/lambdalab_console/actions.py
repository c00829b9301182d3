"""The console's marked actions: invoke a function with an event, publish a version, set
an alias's version and weights. Each calls the :class:`~lambdalab.Lab` method the CLI
calls (``invoke``, ``publish_version``, ``create_alias``/``update_alias``), so it is
checked as every other door checks it; a refusal is answered with AWS's error code and
message (`Invoke <https://docs.aws.amazon.com/lambda/latest/api/API_Invoke.html>`_,
`PublishVersion <https://docs.aws.amazon.com/lambda/latest/api/API_PublishVersion.html>`_,
`UpdateAlias <https://docs.aws.amazon.com/lambda/latest/api/API_UpdateAlias.html>`_).

Each takes the request's parsed fields and returns ``(status, answer)``; called on a
worker thread, as they block.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Mapping

from lambdalab import Lab
from lambdalab.plugin import AwsError

from .feed import shown

Answer = tuple[int, dict[str, Any]]


def aws_error(error: AwsError) -> Answer:
    """AWS's code and message, with the status AWS answers it with."""
    return error.status_code, {"type": error.code, "message": error.message}


def refused(message: str) -> Answer:
    return 400, {"type": "ValidationException", "message": message}


def answered(action: Callable[[], dict[str, Any]]) -> Answer:
    try:
        return 200, action()
    except AwsError as error:
        return aws_error(error)


def text(fields: Mapping[str, Any], name: str, *, required: bool = True) -> str | None:
    """A string field, or ``None`` when it is absent and may be."""
    value = fields.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value:
        raise ValueError(f"{name!r} must be a non-empty string.")
    return value


def invoke(lab: Lab, fields: Mapping[str, Any], event: bytes) -> Answer:
    """Invoke ``function`` (``qualifier`` optional) with ``event``, as ``RequestResponse``."""
    try:
        function, qualifier = text(fields, "function"), text(fields, "qualifier", required=False)
    except ValueError as e:
        return refused(str(e))
    assert function is not None

    def run() -> dict[str, Any]:
        result = lab.invoke(function, event, qualifier=qualifier)
        return {"request_id": result.request_id, "status_code": result.status_code,
                "function_error": result.function_error,
                "executed_version": result.executed_version, "payload": shown(result.payload)}

    return answered(run)


def publish(lab: Lab, fields: Mapping[str, Any]) -> Answer:
    """Publish ``function``'s ``$LATEST`` as a version (``description`` optional)."""
    try:
        function = text(fields, "function")
        description = text(fields, "description", required=False)
    except ValueError as e:
        return refused(str(e))
    assert function is not None
    return answered(lambda: {"version": lab.publish_version(function, description).version})


def set_alias(lab: Lab, fields: Mapping[str, Any]) -> Answer:
    """Point ``alias`` of ``function`` at ``version``, sending ``weight`` (0 to 1) of its
    invokes to ``additional_version``; the alias is created when it does not exist."""
    try:
        function, alias, version = (text(fields, name) for name in ("function", "alias", "version"))
        additional = text(fields, "additional_version", required=False)
        weight = fields.get("weight", 0.0)
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not math.isfinite(weight):
            raise ValueError("'weight' must be a number from 0.0 to 1.0.")
    except ValueError as e:
        return refused(str(e))
    assert function is not None and alias is not None and version is not None
    routing = {"AdditionalVersionWeights": {additional: float(weight)} if additional else {}}

    def put() -> dict[str, Any]:
        names = {a.name for a in lab.list_aliases(function)}
        if alias in names:
            made = lab.update_alias(function, alias, function_version=version, routing_config=routing)
        else:
            made = lab.create_alias(function, alias, version, routing_config=routing)
        return {"alias": made.name, "version": made.function_version,
                "weights": made.additional_version_weights}

    return answered(put)
