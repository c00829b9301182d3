"""Lambda authorizers of REST APIs: ``TOKEN`` and ``REQUEST``, with their cached policy.

https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-use-lambda-authorizer.html:
before a method whose ``authorizationType`` is ``CUSTOM`` runs, API Gateway invokes the
authorizer's function with the caller's identity (a ``TOKEN`` from one header, or the
whole ``REQUEST``) and the ``methodArn``; the function answers a ``principalId`` and an
IAM policy on ``execute-api:Invoke``, which allows or denies the method. The answer is
cached by identity for ``authorizerResultTtlInSeconds`` (300 by default) on the lab's
clock, and a cached policy is checked against each new ``methodArn``: a policy naming
only the first method called denies the others until it expires, as on AWS.
"""

from __future__ import annotations

import fnmatch
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Mapping

from lambdalab.plugin import LambdaError

from .models import function_of

if TYPE_CHECKING:
    from lambdalab import Lab

TOKEN = "TOKEN"
REQUEST = "REQUEST"
DEFAULT_TTL_S = 300
_INVOKE_ACTIONS = ("execute-api:Invoke", "execute-api:*", "*")


@dataclass(frozen=True)
class Verdict:
    """What an authorizer decided: allowed (with what reaches ``requestContext.authorizer``),
    or the status and message API Gateway answers instead."""

    allowed: bool
    context: dict[str, Any]
    status: int = 200
    message: str = ""


UNAUTHORIZED = Verdict(False, {}, 401, "Unauthorized")
DENIED = Verdict(False, {}, 403, "User is not authorized to access this resource with an explicit deny")
FAILED = Verdict(False, {}, 500, "Internal server error")


def identity_of(authorizer: Mapping[str, Any], headers: Mapping[str, str], query: Mapping[str, str],
                stage_variables: Mapping[str, str]) -> tuple[str, ...] | None:
    """The values ``identitySource`` names (``method.request.header.Authorization``,
    ``method.request.querystring.q``, ``stageVariables.v``), or ``None`` if one is missing."""
    values = []
    for source in str(authorizer.get("identitySource") or "").split(","):
        source = source.strip()
        if source.startswith("method.request.header."):
            value = headers.get(source.removeprefix("method.request.header.").lower())
        elif source.startswith("method.request.querystring."):
            value = query.get(source.removeprefix("method.request.querystring."))
        elif source.startswith("stageVariables."):
            value = stage_variables.get(source.removeprefix("stageVariables."))
        else:
            value = None
        if not value:
            return None
        values.append(value)
    return tuple(values)


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def decide(answer: Any, method_arn: str) -> Verdict:
    """The verdict of an authorizer's ``answer`` for ``method_arn``: an explicit Deny wins,
    else an Allow is needed; an answer without a policy is a failure (500)."""
    if not isinstance(answer, dict) or not isinstance(answer.get("policyDocument"), dict):
        return FAILED
    allowed = False
    for statement in _listed(answer["policyDocument"].get("Statement")):
        if not isinstance(statement, dict):
            return FAILED
        actions = [str(a) for a in _listed(statement.get("Action"))]
        resources = [str(r) for r in _listed(statement.get("Resource"))]
        if not any(a in _INVOKE_ACTIONS for a in actions):
            continue
        if not any(fnmatch.fnmatchcase(method_arn, r) for r in resources):
            continue
        if statement.get("Effect") == "Deny":
            return DENIED
        allowed = allowed or statement.get("Effect") == "Allow"
    if not allowed:
        return DENIED
    given = answer.get("context")
    context: dict[str, Any] = given if isinstance(given, dict) else {}
    return Verdict(True, {**context, "principalId": answer.get("principalId"), "integrationLatency": 0})


class AuthorizerCache:
    """Authorizer answers by (authorizer, identity), each kept for its TTL on the lab's clock."""

    def __init__(self) -> None:
        self._answers: dict[tuple[str, tuple[str, ...]], tuple[float, Any]] = {}

    def get(self, key: tuple[str, tuple[str, ...]], now: float) -> Any:
        found = self._answers.get(key)
        if found is None or found[0] <= now:
            self._answers.pop(key, None)
            return None
        return found[1]

    def put(self, key: tuple[str, tuple[str, ...]], answer: Any, expires: float) -> None:
        self._answers[key] = (expires, answer)


def authorize(lab: "Lab", cache: AuthorizerCache, authorizer: Mapping[str, Any], event: dict[str, Any],
              identity: tuple[str, ...], method_arn: str) -> Verdict:
    """Run (or recall) ``authorizer`` for ``event`` and decide for ``method_arn``."""
    ttl = authorizer.get("authorizerResultTtlInSeconds", DEFAULT_TTL_S)
    key = (str(authorizer["id"]), identity)
    now = lab.clock.now()
    answer = cache.get(key, now) if ttl else None
    if answer is None:
        try:
            result = lab.invoke(function_of(str(authorizer["authorizerUri"])), event)
        except LambdaError:
            return FAILED
        try:
            answer = json.loads(result.payload or b"null")
        except ValueError:
            return FAILED
        if result.function_error is not None:  # raising "Unauthorized" is how a function says 401
            said = answer.get("errorMessage") if isinstance(answer, dict) else None
            return UNAUTHORIZED if said == "Unauthorized" else FAILED
        if ttl:
            cache.put(key, answer, now + float(ttl))
    return decide(answer, method_arn)
