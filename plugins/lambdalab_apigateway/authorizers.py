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
#: No statement allows the method: AWS's words differ from an explicit deny's
#: (https://repost.aws/knowledge-center/api-gateway-403-error-lambda-authorizer).
NOT_ALLOWED = Verdict(False, {}, 403, "User is not authorized to access this resource")
FAILED = Verdict(False, {}, 500, "Internal server error")


def identity_of(authorizer: Mapping[str, Any], headers: Mapping[str, str], query: Mapping[str, str],
                stage_variables: Mapping[str, str]) -> tuple[str, ...] | None:
    """The values ``identitySource`` names (``method.request.header.Authorization``,
    ``method.request.querystring.q``, ``stageVariables.v``), or ``None`` if one is missing."""
    sources = [source.strip() for source in str(authorizer.get("identitySource") or "").split(",")]
    return _identity(sources, REST_SOURCES, headers, query, stage_variables)


#: Where an identity source's value comes from: a header, a query parameter, a stage
#: variable, in each API kind's own syntax.
REST_SOURCES = ("method.request.header.", "method.request.querystring.", "stageVariables.")
HTTP_SOURCES = ("$request.header.", "$request.querystring.", "$stageVariables.")


def _identity(sources: list[str], prefixes: tuple[str, str, str], headers: Mapping[str, str],
              query: Mapping[str, str], stage_variables: Mapping[str, str]) -> tuple[str, ...] | None:
    """The values ``sources`` name, or ``None`` if one is missing or names nothing known."""
    values = []
    for source in sources:
        value = None
        for prefix, found in zip(prefixes, (headers, query, stage_variables)):
            if source.startswith(prefix):
                name = source.removeprefix(prefix)
                value = found.get(name.lower() if found is headers else name)
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
        return NOT_ALLOWED
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


def _answer(lab: "Lab", cache: AuthorizerCache, key: tuple[str, tuple[str, ...]], uri: str, ttl: int,
            event: dict[str, Any]) -> Any:
    """The authorizer function's answer to ``event`` (recalled while its TTL lasts), or
    the :class:`Verdict` its failure gives: 401 when it raised ``Unauthorized``, else 500."""
    now = lab.clock.now()
    answer = cache.get(key, now) if ttl else None
    if answer is not None:
        return answer
    try:
        result = lab.invoke(function_of(uri), event)
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
    return answer


def authorize(lab: "Lab", cache: AuthorizerCache, authorizer: Mapping[str, Any], event: dict[str, Any],
              identity: tuple[str, ...], method_arn: str) -> Verdict:
    """Run (or recall) a REST API's ``authorizer`` for ``event`` and decide for ``method_arn``."""
    ttl = authorizer.get("authorizerResultTtlInSeconds", DEFAULT_TTL_S)
    answer = _answer(lab, cache, (str(authorizer["id"]), identity), str(authorizer["authorizerUri"]),
                     ttl, event)
    return answer if isinstance(answer, Verdict) else decide(answer, method_arn)


# -- HTTP APIs' Lambda authorizers ------------------------------------------------------
# https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-lambda-authorizer.html:
# a missing identity source is 401 {"message":"Unauthorized"}, a refusal 403
# {"message":"Forbidden"}; the answer's context reaches the integration as
# requestContext.authorizer.lambda.

HTTP_FORBIDDEN = Verdict(False, {}, 403, "Forbidden")
HTTP_FAILED = Verdict(False, {}, 500, "Internal Server Error")


def http_identity(sources: list[str], headers: Mapping[str, str], query: Mapping[str, str],
                  stage_variables: Mapping[str, str]) -> tuple[str, ...] | None:
    """The values of ``IdentitySource`` (``$request.header.Authorization``,
    ``$request.querystring.q``, ``$stageVariables.v``), or ``None`` if one is missing."""
    return _identity(sources, HTTP_SOURCES, headers, query, stage_variables)


def decide_http(answer: Any, simple: bool, route_arn: str) -> Verdict:
    """An HTTP API authorizer's verdict: a simple answer's ``isAuthorized``, or an IAM
    policy decided as a REST authorizer's is."""
    if simple:
        if not isinstance(answer, dict) or not isinstance(answer.get("isAuthorized"), bool):
            return HTTP_FAILED
        allowed, context = answer["isAuthorized"], answer.get("context")
    else:
        verdict = decide(answer, route_arn)
        if verdict.status == FAILED.status:
            return HTTP_FAILED
        allowed, context = verdict.allowed, answer.get("context")
    if not allowed:
        return HTTP_FORBIDDEN
    return Verdict(True, {"lambda": context if isinstance(context, dict) else {}})


def authorize_http(lab: "Lab", cache: AuthorizerCache, authorizer: Mapping[str, Any], event: dict[str, Any],
                   identity: tuple[str, ...], route_arn: str) -> Verdict:
    """Run (or recall) an HTTP API's Lambda ``authorizer`` for ``event``."""
    answer = _answer(lab, cache, (str(authorizer["AuthorizerId"]), identity), str(authorizer["AuthorizerUri"]),
                     int(authorizer.get("AuthorizerResultTtlInSeconds") or 0), event)
    if answer is UNAUTHORIZED:
        return UNAUTHORIZED
    if isinstance(answer, Verdict):
        return HTTP_FAILED
    return decide_http(answer, bool(authorizer.get("EnableSimpleResponses")), route_arn)
