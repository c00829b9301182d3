"""Calling an API: ``/_lambdalab/apis/<api-id>/<stage>/<path>`` on the edge.

A request finds its API, stage and route (:mod:`.models`), becomes the event of the
integration's payload format, the function runs synchronously through the one invoke
path (:meth:`lambdalab.Lab.invoke`), and its answer becomes the HTTP response, by the
rules of each format:

* 1.0, REST APIs' ``AWS_PROXY``
  (https://docs.aws.amazon.com/apigateway/latest/developerguide/set-up-lambda-proxy-integrations.html):
  the answer must be an object of ``statusCode``, ``headers``, ``multiValueHeaders``,
  ``body`` (a string) and ``isBase64Encoded``, nothing else; any other is
  502 ``{"message": "Internal server error"}``.
* 2.0, HTTP APIs
  (https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-integrations-lambda.html):
  an object with ``statusCode`` is a full response (``cookies`` too); anything else is
  a 200 ``application/json`` body; a failure is 500 ``{"message":"Internal Server Error"}``.

On AWS the host name (``<api-id>.execute-api.<region>.amazonaws.com``) names the API;
here the path does, so a browser reaches it with no DNS set up. For an HTTP API's
``$default`` stage the stage part is left out, as on AWS.
"""

from __future__ import annotations

import base64
import binascii
import fnmatch
import functools
import json
import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote_plus

import anyio.to_thread
from starlette.datastructures import Headers

from lambdalab.plugin import (
    EDGE_KEYS_SCOPE_KEY,
    EdgeRequest,
    Principal,
    SignedRequest,
    iam_policy,
    principal_of,
    signer_of,
    EdgeResponse,
    event_body,
    LambdaError,
    RequestBodyTooLarge,
    header_safe,
    may_invoke,
    payload_v2_response,
    receive_body,
    status_code,
)

from . import authorizers, cors, jwt_authorizer, mock, quotas, resource_policy, templates, validators
from .exceptions import NotFoundException
from .models import DEFAULT_STAGE, HTTP, ApiGateway, Match, function_of

if TYPE_CHECKING:
    from lambdalab import Lab

#: Where APIs are served on the edge (the path after it: ``<api-id>/<stage>/<path>``).
APIS_PATH = "/_lambdalab/apis/"
PRINCIPAL = "apigateway.amazonaws.com"
#: The SigV4 service a request to an ``AWS_IAM`` method or route is signed for.
INVOKE_SERVICE = "execute-api"
_HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-authenticate", "proxy-authorization",
                         "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade"})
#: The keys a 1.0 answer may have; any other makes it malformed.
_V1_KEYS = frozenset({"statusCode", "headers", "multiValueHeaders", "body", "isBase64Encoded"})
_JSON = ("Content-Type", "application/json")


#: One request to an API, as the edge read it; its ``path`` is what follows
#: ``/_lambdalab/apis/``: ``<api-id>/<stage>/<path>``, percent-decoded.
Request = EdgeRequest


Response = EdgeResponse


def message(status: int, text: str, request_id: str, key: str = "message") -> Response:
    """An answer of API Gateway itself: ``{"message": ...}`` (an explicit deny's says ``Message``)."""
    return Response(status, [_JSON, ("x-amzn-RequestId", request_id)],
                    json.dumps({key: text}).encode())


@dataclass(frozen=True)
class Reached:
    """Where a request went: the API, stage, route match and the path inside the stage."""

    api: dict[str, Any]
    stage: dict[str, Any]
    stage_name: str
    match: Match | None
    path: str

    @property
    def is_http(self) -> bool:
        return "ApiId" in self.api

    @property
    def api_id(self) -> str:
        return str(self.api["ApiId"] if self.is_http else self.api["id"])


def reach(gateway: ApiGateway, method: str, target: str) -> Reached:
    """The API, stage and route ``<api-id>/<stage>/<path>`` names."""
    api_id, _, rest = target.partition("/")
    kind = gateway.kind_of(api_id)
    if kind is None:
        raise NotFoundException(f"No API {api_id!r}")
    stage_name, slash, path = rest.partition("/")
    if kind == HTTP:
        stages = {s["StageName"] for s in gateway.get_http_stages(api_id)}
        if stage_name not in stages and DEFAULT_STAGE in stages:
            stage_name, path = DEFAULT_STAGE, rest
        api, stage, match = gateway.match_http(api_id, stage_name, method, "/" + path)
    else:
        api, stage, match = gateway.match_rest(api_id, stage_name, method, "/" + path)
    return Reached(api, stage, stage_name, match, "/" + path)


def answer(lab: "Lab", gateway: ApiGateway, request: Request,
           cache: authorizers.AuthorizerCache | None = None, *, signer: str | None = None) -> Response:
    """The HTTP response to ``request``: API Gateway's own errors, or the function's answer.
    ``signer`` is the access key that signed it for ``execute-api`` (``AWS_IAM`` auth)."""
    request_id = str(uuid.uuid4())
    try:
        reached = reach(gateway, request.method, request.path)
    except NotFoundException:
        return message(403, "Missing Authentication Token", request_id)
    cors_config = reached.api.get("CorsConfiguration") if reached.is_http else None
    if cors_config:
        sent = {name.lower(): value for name, value in request.headers}
        if cors.is_preflight(request.method, sent):
            pairs = cors.headers_for(cors_config, sent.get("origin"), preflight=True)
            return Response(cors.PREFLIGHT_STATUS, [*pairs, ("Apigw-Requestid", request_id)], b"")
        response = _answer_route(lab, gateway, request, reached, request_id, cache, signer)
        pairs = cors.headers_for(cors_config, sent.get("origin"), preflight=False)
        return replace(response, headers=cors.replace_cors_headers(response.headers, pairs))
    return _answer_route(lab, gateway, request, reached, request_id, cache, signer)


def _answer_route(lab: "Lab", gateway: ApiGateway, request: Request, reached: Reached,
                  request_id: str, cache: authorizers.AuthorizerCache | None, signer: str | None) -> Response:
    """The answer of the route ``reached``: its function's, mapped, or API Gateway's error."""
    if reached.match is None:
        if reached.is_http:
            return message(404, "Not Found", request_id)
        return message(403, "Missing Authentication Token", request_id)
    failure = (500, "Internal Server Error") if reached.is_http else (502, "Internal server error")
    integration = reached.match.target if reached.is_http else reached.match.target["methodIntegration"]
    is_mock = not reached.is_http and integration.get("type") == "MOCK"
    uri = integration["IntegrationUri"] if reached.is_http else integration.get("uri")
    version = integration.get("PayloadFormatVersion", "1.0") if reached.is_http else "1.0"
    function = None if is_mock else function_of(str(uri))
    if function is not None and lab.enforce_iam and not may_invoke(
            lab, PRINCIPAL, function, source_account=lab.arns.account_id,
            source_arn=source_arn(gateway, reached, request.method)):
        return message(500, failure[1], request_id)  # AWS: "Invalid permissions on Lambda function"
    policy = None if reached.is_http else reached.api["_deployments"][reached.stage["deploymentId"]].get("_policy")
    if policy:
        refused = _policy_refusal(lab, gateway, request, reached, policy, signer, request_id)
        if refused is not None:
            return refused
    at = lab.clock.now()
    event = (event_v2(request, reached, lab, at) if version == "2.0"
             else event_v1(request, reached, lab, at, request_id))
    if not reached.is_http and reached.match.target.get("authorizationType") == "CUSTOM":
        verdict = _authorize(lab, gateway, cache or authorizers.AuthorizerCache(), reached, event, request.method)
        if not verdict.allowed:
            key = "Message" if verdict.status == 403 else "message"
            return message(verdict.status, verdict.message, request_id, key)
        event["requestContext"]["authorizer"] = verdict.context
    route = reached.match.route or {}
    kind = route.get("AuthorizationType") if reached.is_http else reached.match.target.get("authorizationType")
    if kind == "AWS_IAM":
        method_arn = _method_arn(gateway, reached, request.method)
        refused = _iam_refusal(lab, signer, method_arn, reached.is_http, request_id)
        if refused is not None:
            return refused
        assert signer is not None
        _with_iam_caller(event, signer, iam_caller(lab, signer), version)
    if kind == "JWT":
        verdict = _authorize_jwt(lab, gateway, request, reached)
        if not verdict.allowed:
            return message(verdict.status, verdict.message, request_id)
        event["requestContext"]["authorizer"] = verdict.context
    if reached.is_http and route.get("AuthorizationType") == "CUSTOM":
        verdict = _authorize_http(lab, gateway, cache or authorizers.AuthorizerCache(), request, reached, at)
        if not verdict.allowed:
            return message(verdict.status, verdict.message, request_id)
        event["requestContext"]["authorizer"] = verdict.context
    if not reached.is_http:
        refused = _key_and_throttles(lab, gateway, request, reached, request_id)
        if refused is not None:
            return refused
        refused = _validation_refusal(reached, request, event, request_id)
        if refused is not None:
            return refused
    if function is None:
        return _mock_answer(reached.match.target, integration, _template_scope(request, event), request_id)
    if integration.get("type") == "AWS":
        return _aws_answer(lab, function, request, event, reached.match.target, integration, request_id)
    try:
        result = lab.invoke(function, event)
    except LambdaError:
        return message(*failure, request_id)
    if result.function_error is not None:
        return message(*failure, request_id)
    mapped = response_v2(result.payload) if version == "2.0" else response_v1(result.payload)
    if mapped is None:
        return message(*failure, request_id)
    id_header = "Apigw-Requestid" if reached.is_http else "x-amzn-RequestId"
    return replace(mapped, headers=[*mapped.headers, (id_header, request_id)])


def _validation_refusal(reached: Reached, request: Request, event: dict[str, Any], request_id: str) -> Response | None:
    """The method's request validator's 400, as its deployment captured it (:mod:`.validators`)."""
    assert reached.match is not None
    deployment = reached.api["_deployments"][reached.stage["deploymentId"]]
    checks = deployment.get("_validators", {})
    missing = validators.missing_parameters(reached.match.target, checks, event)
    if missing:
        return message(400, f"Missing required request parameters: [{', '.join(missing)}]", request_id)
    content_type = (_header(request, "content-type") or "application/json").split(";")[0].strip().lower()
    if validators.invalid_body(reached.match.target, checks, deployment.get("_models", {}), content_type, request.body):
        return message(400, "Invalid request body", request_id)
    return None


def _authorize(lab: "Lab", gateway: ApiGateway, cache: authorizers.AuthorizerCache, reached: Reached,
               event: dict[str, Any], method: str) -> authorizers.Verdict:
    """Run the method's Lambda authorizer, as the stage's deployment took it, on the 1.0
    ``event`` the method would get."""
    assert reached.match is not None
    deployment = reached.api["_deployments"][reached.stage["deploymentId"]]
    # A deployment stored before deployments kept authorizers reads the API's own.
    found = deployment.get("_authorizers", reached.api.get("_authorizers", {}))
    authorizer = found.get(reached.match.target.get("authorizerId"))
    if authorizer is None:
        return authorizers.FAILED
    lower = {k.lower(): v for k, v in event["headers"].items()}
    identity = authorizers.identity_of(authorizer, lower, event["queryStringParameters"] or {},
                                       event["stageVariables"] or {})
    if identity is None:
        return authorizers.UNAUTHORIZED
    method_arn = _method_arn(gateway, reached, method)
    if authorizer["type"] == authorizers.TOKEN:
        request_event = {"type": "TOKEN", "authorizationToken": identity[0], "methodArn": method_arn}
    else:
        request_event = {"type": "REQUEST", "methodArn": method_arn,
                         **{k: v for k, v in event.items() if k not in ("body", "isBase64Encoded")}}
    return authorizers.authorize(lab, cache, authorizer, request_event, identity, method_arn)


def _method_arn(gateway: ApiGateway, reached: Reached, method: str) -> str:
    """``arn:aws:execute-api:<region>:<account>:<api-id>/<stage>/<METHOD>/<path>``."""
    return f"{gateway.execution_arn(reached.api_id)}/{reached.stage_name}/{method}{reached.path}"


def _policy_refusal(lab: "Lab", gateway: ApiGateway, request: Request, reached: Reached, policy: str,
                    signer: str | None, request_id: str) -> Response | None:
    """The 403 of the resource policy the stage's deployment took (:mod:`.resource_policy`),
    or ``None``: the caller is the signer's IAM identity, else ``anonymous``."""
    method_arn = _method_arn(gateway, reached, request.method)
    principal = None if signer is None else iam_caller(lab, signer)
    said = resource_policy.refusal(policy, method_arn, request.source_ip,
                                   None if principal is None else principal.arn, lab.arns.account_id)
    return None if said is None else message(403, said, request_id, "Message")


def _key_and_throttles(lab: "Lab", gateway: ApiGateway, request: Request, reached: Reached,
                       request_id: str) -> Response | None:
    """A REST method's refusal for its API key (403) or its throttles and quota (429,
    :mod:`.metering`); ``None`` when the request may go on. A usage plan meters only the
    methods that require an API key, as AWS's usage plans page says."""
    assert reached.match is not None
    plans = gateway.usage_plans
    found = None
    if reached.match.target.get("apiKeyRequired"):
        found = plans.plan_for(_header(request, "x-api-key"), reached.api_id, reached.stage_name)
        if found is None:
            return message(403, "Forbidden", request_id)
    plan, key_id = found if found is not None else (None, None)
    refusal = plans.meter.admit(lab.clock.now(), _stage_throttle(reached, request.method), plan, key_id)
    return None if refusal is None else message(429, refusal, request_id)


def _stage_throttle(reached: Reached, method: str) -> tuple[str, dict[str, Any]] | None:
    """The stage's throttle for the method (its own ``methodSettings`` over ``*/*``'s), with
    a name for its bucket; ``None`` when the stage sets none."""
    assert reached.match is not None
    settings = reached.stage.get("methodSettings") or {}
    method = reached.match.target.get("httpMethod") or method
    for key in (f"{reached.match.template.lstrip('/')}/{method}", "*/*"):
        if key in settings and {"throttlingRateLimit", "throttlingBurstLimit"} & settings[key].keys():
            return f"{reached.api_id}/{reached.stage_name}/{key}", {**settings.get("*/*", {}), **settings[key]}
    return None


def _header(request: Request, name: str) -> str | None:
    """The value of the request's header ``name`` (lower case), the last if repeated."""
    found = [value for key, value in request.headers if key.lower() == name]
    return found[-1] if found else None


@dataclass(frozen=True)
class TemplateScope:
    """What a request's mapping templates see: its parameters, context and stage variables."""

    params: dict[str, dict[str, str]]
    context: dict[str, Any]
    stage_variables: dict[str, str]

    def render(self, template: str, body: str) -> str:
        return templates.render(template, templates.Input(body, self.params), self.context, self.stage_variables)


def _template_scope(request: Request, event: dict[str, Any]) -> TemplateScope:
    params = {"path": event["pathParameters"] or {}, "querystring": event["queryStringParameters"] or {},
              "header": event["headers"] or {}}
    return TemplateScope(params, event["requestContext"], event["stageVariables"] or {})


def _mock_answer(method: dict[str, Any], integration: dict[str, Any], scope: TemplateScope,
                 request_id: str) -> Response:
    """A ``MOCK`` integration's answer (:mod:`.mock`); one that maps to no response, or
    whose template fails, is AWS's 500 ``Internal server error``."""
    try:
        status = mock.mock_status(scope.render(mock.request_template(integration), ""))
    except templates.TemplateFailed:
        return message(500, "Internal server error", request_id)
    chosen = None if status is None else mock.chosen_response(integration, str(status))
    return _integration_response(method, chosen, scope, "", request_id)


def _integration_response(method: dict[str, Any], chosen: Any, scope: TemplateScope, body: str,
                          request_id: str) -> Response:
    """The method's response the chosen integration response makes of ``body``: its status,
    declared headers (``application/json`` unless they name a ``Content-Type``) and the
    template the request's ``Accept`` selects (``body`` as it is without one)."""
    if chosen is None:
        return message(500, "Internal server error", request_id)
    accept = next((v for k, v in scope.params.get("header", {}).items() if k.lower() == "accept"), None)
    template = mock.response_template(chosen, accept)
    try:
        out = body if template is None else scope.render(template, body)
    except templates.TemplateFailed:
        return message(500, "Internal server error", request_id)
    declared = mock.response_headers(method, chosen)
    typed = any(name.lower() == "content-type" for name, _ in declared)
    headers = [*declared, *([] if typed else [_JSON]), ("x-amzn-RequestId", request_id)]
    return Response(int(chosen["statusCode"]), headers, out.encode())


def _aws_answer(lab: "Lab", function: str, request: Request, event: dict[str, Any], method: dict[str, Any],
                integration: dict[str, Any], request_id: str) -> Response:
    """A non-proxy (``AWS``) Lambda integration: the request template for the body's content
    type makes the function's payload, ``passthroughBehavior`` deciding when none matches
    (415 ``Unsupported Media Type``); the function's ``errorMessage`` selects the integration
    response by ``selectionPattern``
    (https://docs.aws.amazon.com/apigateway/latest/developerguide/integration-passthrough-behaviors.html,
    https://docs.aws.amazon.com/apigateway/latest/developerguide/handle-errors-in-lambda-integration.html)."""
    scope = _template_scope(request, event)
    given = integration.get("requestTemplates") or {}
    content_type = (_header(request, "content-type") or "application/json").split(";")[0].strip().lower()
    template = given.get(content_type)
    behavior = integration.get("passthroughBehavior", "WHEN_NO_MATCH")
    if template is None and (behavior == "NEVER" or (behavior == "WHEN_NO_TEMPLATES" and given)):
        return message(415, "Unsupported Media Type", request_id)
    body = request.body.decode(errors="replace")
    try:
        payload = body if template is None else scope.render(template, body)
        result = lab.invoke(function, payload.encode())
    except (templates.TemplateFailed, LambdaError):
        return message(500, "Internal server error", request_id)
    answer = result.payload.decode(errors="replace")
    selector = None if result.function_error is None else _error_message(answer)
    return _integration_response(method, mock.chosen_response(integration, selector), scope, answer, request_id)


def _error_message(answer: str) -> str:
    """A failed function's ``errorMessage``, what ``selectionPattern`` is matched against."""
    try:
        found = json.loads(answer)
    except ValueError:
        return answer
    return str(found.get("errorMessage", "")) if isinstance(found, dict) else answer


def _authorize_jwt(lab: "Lab", gateway: ApiGateway, request: Request, reached: Reached) -> authorizers.Verdict:
    """Check the token an HTTP API route's JWT authorizer names (its first identity source)."""
    assert reached.match is not None and reached.match.route is not None
    route = reached.match.route
    authorizer = reached.api.get("_authorizers", {}).get(route.get("AuthorizerId"))
    if authorizer is None:
        return authorizers.HTTP_FAILED
    headers = {name.lower(): value for name, value in request.headers}
    identity = authorizers.http_identity(authorizer.get("IdentitySource") or [], headers,
                                         dict(_query_pairs(request.query_string)), reached.stage.get("StageVariables") or {})
    if identity is None:
        return authorizers.UNAUTHORIZED
    return jwt_authorizer.authorize_jwt(lab, gateway.issuer_keys, authorizer, identity[0],
                                        list(route.get("AuthorizationScopes") or []))


def _authorize_http(lab: "Lab", gateway: ApiGateway, cache: authorizers.AuthorizerCache, request: Request,
                    reached: Reached, at: float) -> authorizers.Verdict:
    """Run an HTTP API route's Lambda authorizer on the event of its payload format:
    2.0 (``routeArn``, ``identitySource`` a list) or 1.0 (``methodArn``, a REST
    ``REQUEST`` authorizer's event)."""
    assert reached.match is not None and reached.match.route is not None
    authorizer = reached.api.get("_authorizers", {}).get(reached.match.route.get("AuthorizerId"))
    if authorizer is None:
        return authorizers.HTTP_FAILED
    event = event_v2(request, reached, lab, at)
    identity = authorizers.http_identity(authorizer.get("IdentitySource") or [], event["headers"],
                                         event.get("queryStringParameters") or {}, event.get("stageVariables") or {})
    if identity is None:
        return authorizers.UNAUTHORIZED
    route_arn = _method_arn(gateway, reached, request.method)
    for key in ("body", "isBase64Encoded"):
        event.pop(key, None)
    if authorizer["AuthorizerPayloadFormatVersion"] == "2.0":
        asked = {**event, "type": "REQUEST", "routeArn": route_arn, "identitySource": list(identity)}
    else:
        v1 = event_v1(request, reached, lab, at, event["requestContext"]["requestId"])
        asked = {**{k: v for k, v in v1.items() if k not in ("body", "isBase64Encoded")},
                 "type": "REQUEST", "methodArn": route_arn, "identitySource": ",".join(identity),
                 "authorizationToken": ",".join(identity)}
    return authorizers.authorize_http(lab, cache, authorizer, asked, identity, route_arn)


def iam_caller(lab: "Lab", access_key_id: str) -> Principal | None:
    """Who ``access_key_id`` stands for: the IAM principal, or, in a lab that does not
    enforce IAM, the account's root for a key nobody knows (``None`` when it does)."""
    found = principal_of(lab, access_key_id)
    if found is None and not lab.enforce_iam:
        account = lab.arns.account_id
        return Principal(f"arn:aws:iam::{account}:root", account, type="Account", user_id=account)
    return found


def _iam_refusal(lab: "Lab", signer: str | None, method_arn: str, is_http: bool, request_id: str) -> Response | None:
    """API Gateway's 403 for an ``AWS_IAM`` method or route the request may not call, else
    ``None``: unsigned (REST: ``Missing Authentication Token``), or a signer without
    ``execute-api:Invoke`` on the method's ARN when the lab enforces IAM (REST names the
    user and resource; HTTP APIs say ``Forbidden``)
    (https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-control-access-using-iam-policies-to-invoke-api.html)."""
    principal = None if signer is None else iam_caller(lab, signer)
    if principal is None:
        return message(403, "Forbidden" if is_http else "Missing Authentication Token", request_id)
    if not lab.enforce_iam or principal.is_root:
        return None
    asked = iam_policy.Request(principal.arn, "execute-api:Invoke", method_arn, principal.account,
                               lab.arns.account_id, {"aws:PrincipalArn": principal.arn,
                                                     "aws:PrincipalAccount": principal.account})
    if iam_policy.evaluate(asked, principal.policies).allowed:
        return None
    if is_http:
        return message(403, "Forbidden", request_id)
    return message(403, f"User: {principal.arn} is not authorized to perform: execute-api:Invoke on resource: "
                        f"{method_arn}", request_id, "Message")


def _with_iam_caller(event: dict[str, Any], access_key: str, principal: Principal | None, version: str) -> None:
    """The signer in the event: 1.0's ``requestContext.identity``, 2.0's
    ``requestContext.authorizer.iam``."""
    assert principal is not None
    context = event["requestContext"]
    if version == "1.0":
        context["identity"] |= {"accessKey": access_key, "accountId": principal.account, "caller": principal.user_id,
                                "user": principal.user_id, "userArn": principal.arn}
        return
    context["authorizer"] = {"iam": {"accessKey": access_key, "accountId": principal.account, "callerId": principal.user_id,
                                     "cognitoIdentity": None, "principalOrgId": None,
                                     "userArn": principal.arn, "userId": principal.user_id}}


# -- permission -----------------------------------------------------------------------


def source_arn(gateway: ApiGateway, reached: Reached, method: str) -> str:
    """``<execution ARN>/<stage>/<METHOD>/<resource path>``: the ``AWS:SourceArn`` API
    Gateway invokes with (https://docs.aws.amazon.com/apigateway/latest/developerguide/arn-format-reference.html)."""
    assert reached.match is not None
    template = reached.match.template
    route = template if template == "$default" else template.partition(" ")[2] or template
    return f"{gateway.execution_arn(reached.api_id)}/{reached.stage_name}/{method}{route}"


# -- request → event ------------------------------------------------------------------


def _domain(reached: Reached, lab: "Lab") -> str:
    return f"{reached.api_id}.execute-api.{lab.arns.region}.amazonaws.com"


def _front_door_headers(request: Request, domain: str, at: float) -> list[tuple[str, str]]:
    """The client's headers less hop-by-hop ones, plus what AWS's front door sets."""
    kept = [(n, v) for n, v in request.headers if n.lower() not in _HOP_BY_HOP and n.lower() != "host"]
    forwarded = next((v for n, v in kept if n.lower() == "x-forwarded-for"), None)
    kept = [(n, v) for n, v in kept if n.lower() not in ("x-forwarded-for", "x-forwarded-port",
                                                         "x-forwarded-proto")]
    trace = next((v for n, v in kept if n.lower() == "x-amzn-trace-id"), None)
    kept = [(n, v) for n, v in kept if n.lower() != "x-amzn-trace-id"]
    return [("Host", domain), *kept,
            ("X-Amzn-Trace-Id", trace or f"Root=1-{int(at):08x}-{uuid.uuid4().hex[:24]}"),
            ("X-Forwarded-For", f"{forwarded}, {request.source_ip}" if forwarded else request.source_ip),
            ("X-Forwarded-Port", "443"), ("X-Forwarded-Proto", "https")]


def _query_pairs(query_string: str) -> list[tuple[str, str]]:
    pairs = []
    for pair in filter(None, query_string.split("&")):
        key, _, value = pair.partition("=")
        pairs.append((unquote_plus(key), unquote_plus(value)))
    return pairs


def _request_time(at: float) -> str:
    return datetime.fromtimestamp(at, tz=timezone.utc).strftime("%d/%b/%Y:%H:%M:%S +0000")


def _is_binary(content_type: str, binary_media_types: list[str]) -> bool:
    """Whether a REST API passes a body of ``content_type`` as base64: its type is one of
    the API's ``binaryMediaTypes`` (``*/*`` and ``image/*`` wildcards)."""
    kind = content_type.split(";")[0].strip().lower()
    return any(fnmatch.fnmatchcase(kind, t.lower()) for t in binary_media_types)


def event_v1(request: Request, reached: Reached, lab: "Lab", at: float, request_id: str) -> dict[str, Any]:
    """The payload format 1.0 event (set-up-lambda-proxy-integrations.html)."""
    assert reached.match is not None
    domain = _domain(reached, lab)
    header_pairs = _front_door_headers(request, domain, at)
    headers: dict[str, str] = {}
    multi_headers: dict[str, list[str]] = {}
    for name, value in header_pairs:
        headers[name] = value
        multi_headers.setdefault(name, []).append(value)
    query: dict[str, str] = {}
    multi_query: dict[str, list[str]] = {}
    for key, value in _query_pairs(request.query_string):
        query[key] = value
        multi_query.setdefault(key, []).append(value)
    content_type = next((v for n, v in request.headers if n.lower() == "content-type"), "")
    binary = bool(request.body) and _is_binary(content_type, reached.api.get("binaryMediaTypes") or [])
    body = None
    if request.body:
        body = base64.b64encode(request.body).decode() if binary else request.body.decode("utf-8", "replace")
    # An HTTP API's route key is "GET /items/{id}": its resource is the path part.
    resource = reached.match.template.partition(" ")[2] or reached.match.template
    variables = reached.stage.get("variables") or reached.stage.get("StageVariables") or None
    identity = dict.fromkeys(("accessKey", "accountId", "caller", "cognitoAuthenticationProvider",
                              "cognitoAuthenticationType", "cognitoIdentityId", "cognitoIdentityPoolId",
                              "principalOrgId", "user", "userArn"))
    identity |= {"sourceIp": request.source_ip, "userAgent": headers.get("User-Agent", "")}
    context = {
        "accountId": lab.arns.account_id, "apiId": reached.api_id,
        "deploymentId": reached.stage.get("deploymentId", ""), "domainName": domain,
        "domainPrefix": reached.api_id, "extendedRequestId": uuid.uuid4().hex[:16],
        "httpMethod": request.method, "identity": identity,
        "path": f"/{reached.stage_name}{reached.path}", "protocol": request.protocol,
        "requestId": request_id, "requestTime": _request_time(at),
        "requestTimeEpoch": int(at * 1000),
        "resourceId": reached.match.target.get("resourceId", ""), "resourcePath": resource,
        "stage": reached.stage_name,
    }
    if reached.is_http:  # http-api-develop-integrations-lambda.html's 1.0 example
        del context["deploymentId"]
        context["resourceId"] = None
    return {
        **({"version": "1.0"} if reached.is_http else {}),
        "resource": resource, "path": reached.path, "httpMethod": request.method,
        "headers": headers, "multiValueHeaders": multi_headers,
        "queryStringParameters": query or None, "multiValueQueryStringParameters": multi_query or None,
        "pathParameters": reached.match.path_parameters or None, "stageVariables": variables,
        "requestContext": context, "body": body, "isBase64Encoded": binary,
    }


def event_v2(request: Request, reached: Reached, lab: "Lab", at: float) -> dict[str, Any]:
    """The payload format 2.0 event (http-api-develop-integrations-lambda.html)."""
    assert reached.match is not None
    domain = _domain(reached, lab)
    headers: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in _front_door_headers(request, domain, at):
        key = name.lower()
        if key == "cookie":
            cookies += [c.strip() for c in value.split(";") if c.strip()]
        else:
            headers[key] = f"{headers[key]},{value}" if key in headers else value
    query: dict[str, str] = {}
    for key, value in _query_pairs(request.query_string):
        query[key] = f"{query[key]},{value}" if key in query else value
    raw_path = reached.path if reached.stage_name == DEFAULT_STAGE else f"/{reached.stage_name}{reached.path}"
    route_key = reached.match.template
    event: dict[str, Any] = {"version": "2.0", "routeKey": route_key, "rawPath": raw_path,
                             "rawQueryString": request.query_string}
    if cookies:
        event["cookies"] = cookies
    event["headers"] = headers
    if query:
        event["queryStringParameters"] = query
    event["requestContext"] = {
        "accountId": lab.arns.account_id, "apiId": reached.api_id, "domainName": domain,
        "domainPrefix": reached.api_id,
        "http": {"method": request.method, "path": raw_path, "protocol": request.protocol,
                 "sourceIp": request.source_ip, "userAgent": headers.get("user-agent", "")},
        "requestId": uuid.uuid4().hex[:16], "routeKey": route_key, "stage": reached.stage_name,
        "time": _request_time(at), "timeEpoch": int(at * 1000),
    }
    if reached.match.path_parameters:
        event["pathParameters"] = reached.match.path_parameters
    if reached.stage.get("StageVariables"):
        event["stageVariables"] = reached.stage["StageVariables"]
    return event | event_body(request.body, headers.get("content-type", "text/plain"))


# -- function answer → response -------------------------------------------------------


def _decoded(body: Any, is_base64: Any) -> bytes | None:
    if body is None:
        return b""
    if is_base64:
        try:
            return base64.b64decode(str(body), validate=True)
        except (binascii.Error, ValueError):
            return None
    return (body if isinstance(body, str) else json.dumps(body, separators=(",", ":"))).encode()


def _with_headers(status: int, pairs: list[tuple[str, str]], body: bytes) -> Response | None:
    if not all(header_safe(k) and header_safe(v) for k, v in pairs):
        return None
    if not any(k.lower() == "content-type" for k, _ in pairs):
        pairs.append(_JSON)
    return Response(status, pairs, body)


def response_v1(payload: bytes) -> Response | None:
    """The response a 1.0 answer describes; ``None`` when it is malformed."""
    try:
        value = json.loads(payload or b"null")
    except ValueError:
        return None
    if not isinstance(value, dict) or not set(value) <= _V1_KEYS:
        return None
    status = status_code(value.get("statusCode"))
    headers = value.get("headers") or {}
    multi = value.get("multiValueHeaders") or {}
    body = value.get("body")
    if status is None or not isinstance(headers, dict) or not isinstance(multi, dict):
        return None
    if body is not None and not isinstance(body, str):
        return None
    if not all(isinstance(v, list) for v in multi.values()):
        return None
    pairs = [(str(k), str(v)) for k, values in multi.items() for v in values]
    pairs += [(str(k), str(v)) for k, v in headers.items() if str(k).lower() not in {m.lower() for m in multi}]
    data = _decoded(body, value.get("isBase64Encoded"))
    return None if data is None else _with_headers(status, pairs, data)


def response_v2(payload: bytes) -> Response | None:
    """The response a 2.0 answer describes (``None`` when malformed), mapped as a
    function URL maps it."""
    return payload_v2_response(payload)


class InvokeApp:
    """The ASGI app the edge hands ``/_lambdalab/apis/`` requests to."""

    def __init__(self, lab: "Lab", gateway: ApiGateway) -> None:
        self.lab = lab
        self.gateway = gateway
        self.authorizer_cache = authorizers.AuthorizerCache()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        headers = Headers(scope=scope)
        try:
            body = await receive_body(receive, headers, quotas.APIGATEWAY_PAYLOAD_MAX_BYTES)
        except RequestBodyTooLarge:
            response = message(413, "Request Too Long", str(uuid.uuid4()))
        else:
            client = scope.get("client") or ("127.0.0.1", 0)
            request = Request(
                method=scope["method"],
                path=scope["path"][len(APIS_PATH):],
                query_string=scope["query_string"].decode("latin-1"),
                headers=[(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]],
                body=body, source_ip=client[0], protocol=f"HTTP/{scope.get('http_version', '1.1')}")
            signed = SignedRequest(scope["method"], scope.get("raw_path", scope["path"].encode()).decode("latin-1"),
                                   request.query_string, headers, body)
            signer = signer_of(signed, INVOKE_SERVICE, scope.get(EDGE_KEYS_SCOPE_KEY))
            response = await anyio.to_thread.run_sync(functools.partial(
                answer, self.lab, self.gateway, request, self.authorizer_cache, signer=signer))
        out = [(k.lower().encode(), v.encode("latin-1")) for k, v in response.headers]
        out.append((b"content-length", str(len(response.body)).encode()))
        await send({"type": "http.response.start", "status": response.status, "headers": out})
        await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else response.body})
