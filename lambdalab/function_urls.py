"""Function URLs: an HTTP endpoint per function, and how a request becomes an event.

On AWS a function URL is ``https://<url-id>.lambda-url.<region>.on.aws/``
(https://docs.aws.amazon.com/lambda/latest/dg/urls-configuration.html). lambdalab serves
it on its HTTP edge at ``http://127.0.0.1:9001/_lambdalab/url/<url-id>/`` – a path, so a
browser, curl and any HTTP client reach it without DNS tricks – and that working address
is what ``FunctionUrl`` says.

A request becomes the payload format 2.0 event and is invoked synchronously; the
function's answer becomes the HTTP response, both as
https://docs.aws.amazon.com/lambda/latest/dg/urls-invocation.html describes.
With ``AuthType`` ``AWS_IAM`` a request must be SigV4-signed for service ``lambda``; its
signer needs ``lambda:InvokeFunctionUrl`` (:func:`iam_caller`) and reaches the function
as ``requestContext.authorizer.iam``.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import string
import uuid
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timezone
from typing import Any, Callable, Mapping

from . import limits
from .arn import ArnBuilder, parse_function_ref
from .errors import (
    InvalidParameterValueException,
    ResourceConflictException,
    ResourceNotFoundException,
)
from .models import InvokeResult
from .registry import Registry, aws_timestamp
from .store import Store

AUTH_TYPES = ("NONE", "AWS_IAM")
_QUALIFIER = re.compile(r"^(\$LATEST|(?!\d+$)[a-zA-Z0-9_-]{1,128})$")
_ID_ALPHABET = string.ascii_lowercase + string.digits
#: Hop-by-hop headers (RFC 9110, 7.6.1): they end at the proxy, never reach the function.
_HOP_BY_HOP = frozenset({
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "proxy-connection",
    "te", "trailer", "transfer-encoding", "upgrade",
})
_TEXT_TYPES = re.compile(
    r"^(text/|application/(json|xml|javascript|x-www-form-urlencoded)|[^;]*\+(json|xml))"
)


@dataclass(frozen=True)
class FunctionUrlConfig:
    """One function URL's configuration; ``to_aws()`` gives the API's JSON."""

    function_name: str
    qualifier: str
    url_id: str
    function_arn: str
    auth_type: str
    creation_time: str
    last_modified_time: str
    cors: dict[str, Any] | None = None
    invoke_mode: str = "BUFFERED"
    #: Where the edge serves it; filled in when the record is read.
    function_url: str = ""

    def to_aws(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "FunctionUrl": self.function_url,
            "FunctionArn": self.function_arn,
            "AuthType": self.auth_type,
            "CreationTime": self.creation_time,
            "LastModifiedTime": self.last_modified_time,
            "InvokeMode": self.invoke_mode,
        }
        if self.cors is not None:
            out["Cors"] = self.cors
        return out


def check_auth_type(value: Any) -> str:
    if value not in AUTH_TYPES:
        raise InvalidParameterValueException(
            f"AuthType: {value!r} is not valid. Use NONE (public) or AWS_IAM (SigV4-signed "
            "requests only)."
        )
    return value


def check_invoke_mode(value: Any) -> str:
    if value not in (None, "BUFFERED"):
        raise InvalidParameterValueException(
            f"InvokeMode: {value!r} is not supported by lambdalab. Use BUFFERED (the default)."
        )
    return "BUFFERED"


def check_cors(value: Any) -> dict[str, Any] | None:
    if value is not None and not isinstance(value, Mapping):
        raise InvalidParameterValueException(
            "Cors: send an object such as {\"AllowOrigins\": [\"*\"]}."
        )
    return dict(value) if value is not None else None


class FunctionUrls:
    """Function URL configurations, kept in the ``function_urls`` table."""

    def __init__(
        self,
        store: Store,
        registry: Registry,
        arns: ArnBuilder,
        now: Callable[[], float],
        endpoint: Callable[[], str | None],
    ) -> None:
        self.store = store
        self.registry = registry
        self.arns = arns
        self.now = now
        self.endpoint = endpoint

    def base_url(self) -> str:
        """The edge serving the lab, else where ``lambdalab serve`` listens by default."""
        return self.endpoint() or f"http://{limits.EDGE_HOST}:{limits.EDGE_PORT}"

    def _ref(self, function_name: str, qualifier: str | None) -> tuple[str, str]:
        ref = parse_function_ref(function_name, qualifier)
        target = ref.qualifier or limits.LATEST
        if not _QUALIFIER.match(target):
            raise InvalidParameterValueException(
                f"Qualifier: {target!r} is not valid. A function URL belongs to $LATEST or "
                "to an alias, never to a numbered version."
            )
        self.registry.get(ref.name, ref.qualifier)  # ResourceNotFound for a missing one
        return ref.name, target

    def _row(self, name: str, qualifier: str) -> FunctionUrlConfig | None:
        """The stored URL config, or None if there is none or its row is damaged (reported)."""
        rows = self.store.query(
            "SELECT function, qualifier, config FROM function_urls WHERE function = ? "
            "AND qualifier = ?",
            (name, qualifier),
        )
        return self._loaded(rows[0]) if rows else None

    def _loaded(self, row: Any) -> FunctionUrlConfig | None:
        return self.store.loaded(
            "function_urls",
            {"function": row["function"], "qualifier": row["qualifier"]},
            lambda: self._load(row["config"]),
        )

    def _load(self, text: str) -> FunctionUrlConfig:
        config = FunctionUrlConfig(**json.loads(text))
        return replace(config, function_url=f"{self.base_url()}"
                       f"{limits.FUNCTION_URL_PATH_PREFIX}{config.url_id}/")

    def _save(self, config: FunctionUrlConfig, *, new: bool) -> None:
        stored = json.dumps(asdict(replace(config, function_url="")))
        with self.store.transaction() as db:
            if new:
                db.execute(  # replacing only a damaged row: create checked there is none
                    "INSERT INTO function_urls (function, qualifier, url_id, config) "
                    "VALUES (?, ?, ?, ?) ON CONFLICT (function, qualifier) DO UPDATE SET "
                    "url_id = excluded.url_id, config = excluded.config",
                    (config.function_name, config.qualifier, config.url_id, stored),
                )
            else:
                db.execute(
                    "UPDATE function_urls SET config = ? WHERE function = ? AND qualifier = ?",
                    (stored, config.function_name, config.qualifier),
                )

    def create(self, function_name: str, qualifier: str | None, auth_type: Any,
               cors: Any, invoke_mode: Any) -> FunctionUrlConfig:
        auth, mode, cors_ = check_auth_type(auth_type), check_invoke_mode(invoke_mode), \
            check_cors(cors)
        name, target = self._ref(function_name, qualifier)
        if self._row(name, target) is not None:
            raise ResourceConflictException(
                f"Failed to create function url config for [functionArn = "
                f"{self.arns.function(name, None if target == limits.LATEST else target)}]. "
                "Error message:  FunctionUrlConfig exists for this Lambda function"
            )
        stamp = aws_timestamp(self.now())
        config = FunctionUrlConfig(
            function_name=name,
            qualifier=target,
            url_id="".join(secrets.choice(_ID_ALPHABET)
                           for _ in range(limits.FUNCTION_URL_ID_LENGTH)),
            function_arn=self.arns.function(name, None if target == limits.LATEST else target),
            auth_type=auth,
            creation_time=stamp,
            last_modified_time=stamp,
            cors=cors_,
            invoke_mode=mode,
        )
        self._save(config, new=True)
        return self._load(json.dumps(asdict(config)))

    def get(self, function_name: str, qualifier: str | None) -> FunctionUrlConfig:
        name, target = self._ref(function_name, qualifier)
        config = self._row(name, target)
        if config is None:
            raise ResourceNotFoundException(
                f"The resource you requested does not exist. Create a function URL first: "
                f"CreateFunctionUrlConfig for {name}"
                f"{'' if target == limits.LATEST else ':' + target}."
            )
        return config

    def update(self, function_name: str, qualifier: str | None, auth_type: Any,
               cors: Any, invoke_mode: Any) -> FunctionUrlConfig:
        config = self.get(function_name, qualifier)
        changes: dict[str, Any] = {"last_modified_time": aws_timestamp(self.now())}
        if auth_type is not None:
            changes["auth_type"] = check_auth_type(auth_type)
        if cors is not None:
            changes["cors"] = check_cors(cors)
        if invoke_mode is not None:
            changes["invoke_mode"] = check_invoke_mode(invoke_mode)
        config = replace(config, **changes)
        self._save(config, new=False)
        return config

    def delete(self, function_name: str, qualifier: str | None) -> None:
        config = self.get(function_name, qualifier)
        with self.store.transaction() as db:
            db.execute(
                "DELETE FROM function_urls WHERE function = ? AND qualifier = ?",
                (config.function_name, config.qualifier),
            )

    def of_function(self, function_name: str) -> list[FunctionUrlConfig]:
        name = parse_function_ref(function_name).name
        if not self.registry.exists(name):  # AWS's words (LocalStack's recorded answers)
            raise ResourceNotFoundException("Function does not exist")
        rows = self.store.query(
            "SELECT function, qualifier, config FROM function_urls WHERE function = ? "
            "ORDER BY qualifier",
            (name,),
        )
        return [c for c in map(self._loaded, rows) if c is not None]

    def by_url_id(self, url_id: str) -> FunctionUrlConfig | None:
        rows = self.store.query(
            "SELECT function, qualifier, config FROM function_urls WHERE url_id = ?", (url_id,)
        )
        return self._loaded(rows[0]) if rows else None


# -- HTTP request → event, function result → HTTP response --------------------------------


@dataclass(frozen=True)
class EdgeRequest:
    """One request to a function behind HTTP (a function URL, an API), as the edge read it."""

    method: str
    path: str
    query_string: str
    #: (name, value) pairs in arrival order; names as the client sent them.
    headers: list[tuple[str, str]]
    body: bytes
    source_ip: str
    protocol: str = "HTTP/1.1"
    #: The port and scheme the client reached the edge on (``x-forwarded-port``/``-proto``).
    port: int = 0
    scheme: str = "http"


@dataclass(frozen=True)
class EdgeResponse:
    """An HTTP response the edge sends for a function: its answer mapped, or an error."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes


def request_event(request: EdgeRequest, config: FunctionUrlConfig, region: str,
                  at: float, caller: "IamCaller | None" = None) -> dict[str, Any]:
    """The payload format 2.0 event AWS sends for ``request`` (urls-invocation.html),
    with the signer of an ``AWS_IAM`` URL's request as ``caller``."""
    domain = f"{config.url_id}.lambda-url.{region}.on.aws"
    headers, cookies = _event_headers(request, domain, at)
    query: dict[str, str] = {}
    for pair in filter(None, request.query_string.split("&")):
        key, _, value = pair.partition("=")
        key, value = _unquote(key), _unquote(value)
        query[key] = f"{query[key]},{value}" if key in query else value
    moment = datetime.fromtimestamp(at, tz=timezone.utc)
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": request.path,
        "rawQueryString": request.query_string,
    }
    if cookies:
        event["cookies"] = cookies
    event["headers"] = headers
    if query:
        event["queryStringParameters"] = query
    event["requestContext"] = {
        "accountId": caller.account_id if caller else "anonymous",
        "apiId": config.url_id,
        **({"authorizer": caller.authorizer()} if caller else {}),
        "domainName": domain,
        "domainPrefix": config.url_id,
        "http": {
            "method": request.method,
            "path": request.path,
            "protocol": request.protocol,
            "sourceIp": request.source_ip,
            "userAgent": headers.get("user-agent", ""),
        },
        "requestId": str(uuid.uuid4()),
        "routeKey": "$default",
        "stage": "$default",
        "time": moment.strftime("%d/%b/%Y:%H:%M:%S +0000"),
        "timeEpoch": int(at * 1000),
    }
    return event | event_body(request.body, headers.get("content-type", "text/plain"))


def event_body(body: bytes, content_type: str) -> dict[str, Any]:
    """A 2.0 event's ``body`` and ``isBase64Encoded``: a textual content type's UTF-8 body
    as text, any other body in base64, as function URLs and HTTP APIs pass them."""
    if not body:
        return {"isBase64Encoded": False}
    try:
        text = body.decode() if _TEXT_TYPES.match(content_type.lower()) else None
    except UnicodeDecodeError:
        text = None
    return {"body": text if text is not None else base64.b64encode(body).decode(), "isBase64Encoded": text is None}


def _event_headers(request: EdgeRequest, domain: str, at: float
                   ) -> tuple[dict[str, str], list[str]]:
    """The event's ``headers`` and ``cookies``: what the client sent, less hop-by-hop
    headers, plus what AWS's front end adds (``host`` is the URL's domain,
    ``x-forwarded-*``, ``x-amzn-trace-id``)."""
    headers: dict[str, str] = {}
    cookies: list[str] = []
    named = {n.strip().lower() for name, value in request.headers
             if name.lower() == "connection" for n in value.split(",")}
    for name, value in request.headers:
        key = name.lower()
        if key in _HOP_BY_HOP or key in named:
            continue
        if key == "cookie":
            cookies += [c.strip() for c in value.split(";") if c.strip()]
            continue
        headers[key] = f"{headers[key]},{value}" if key in headers else value
    forwarded = headers.get("x-forwarded-for")
    headers |= {
        "host": domain,
        "x-amzn-trace-id": headers.get("x-amzn-trace-id") or trace_header(at),
        "x-forwarded-for": f"{forwarded}, {request.source_ip}" if forwarded
        else request.source_ip,
        "x-forwarded-port": str(request.port),
        "x-forwarded-proto": request.scheme,
    }
    return headers, cookies


def trace_header(at: float) -> str:
    """A new X-Ray trace id as a front end sets it: ``Root=1-<epoch hex>-<24 hex>``."""
    return f"Root=1-{int(at):08x}-{secrets.token_hex(12)}"


def _unquote(text: str) -> str:
    from urllib.parse import unquote_plus

    return unquote_plus(text)


#: What the client gets when the function fails or its answer cannot be mapped: AWS sends
#: the bare text, not a JSON object.
INTERNAL_ERROR_BODY = b"Internal Server Error"
_JSON = ("Content-Type", "application/json")


def internal_error(request_id: str) -> EdgeResponse:
    return EdgeResponse(502, [_JSON, ("x-amzn-RequestId", request_id)], INTERNAL_ERROR_BODY)


def http_response(result: InvokeResult) -> EdgeResponse:
    """The HTTP response AWS makes of the function's answer (urls-invocation.html).

    A JSON object with ``statusCode`` is a full response. Anything else is the body of a
    200 ``application/json`` response: a string as it is (``"hello"`` gives ``hello``),
    any other value as compact JSON (``{"hello":"world"}``), as AWS sends them. A
    function error becomes 502 ``Internal Server Error``. Every response carries the
    invocation's request id in ``x-amzn-RequestId``.
    """
    request_id = result.request_id
    if result.function_error is not None:
        return internal_error(request_id)
    response = payload_v2_response(result.payload)
    if response is None:
        return internal_error(request_id)
    return replace(response, headers=[*response.headers, ("x-amzn-RequestId", request_id)])


def payload_v2_response(payload: bytes | None) -> EdgeResponse | None:
    """The response a payload format 2.0 answer describes, or ``None`` if it is
    malformed: function URLs and HTTP APIs map an answer alike
    (https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-integrations-lambda.html).
    An object with ``statusCode`` is a full response; any other JSON value is the body
    of a 200 ``application/json`` response."""
    try:
        value = json.loads(payload or b"null")
    except ValueError:
        return None
    if isinstance(value, dict) and "statusCode" in value:
        return _structured(value)
    return EdgeResponse(200, [_JSON], _body(value))


def _body(value: Any) -> bytes:
    """A body AWS sends for ``value``: a string itself, anything else compact JSON."""
    if isinstance(value, str):
        return value.encode()
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def status_code(value: Any) -> int | None:
    """An answer's ``statusCode`` as a number (AWS takes ``418`` and ``"418"`` alike), or
    ``None`` when it is no HTTP status."""
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or not 100 <= value <= 599:
        return None
    return value


def header_safe(text: str) -> bool:
    """Whether ``text`` can go into an HTTP header (Latin-1, no line breaks)."""
    try:
        text.encode("latin-1")
    except UnicodeEncodeError:
        return False
    return "\r" not in text and "\n" not in text


def _structured(value: dict[str, Any]) -> EdgeResponse | None:
    """The response a ``{"statusCode": …}`` answer describes; ``None`` if it is malformed."""
    status = status_code(value.get("statusCode"))
    raw_headers = value.get("headers") or {}
    cookies = value.get("cookies") or []
    if status is None or not isinstance(raw_headers, dict) or not isinstance(cookies, list):
        return None
    headers = [(str(k), str(v)) for k, v in raw_headers.items()]
    headers += [("Set-Cookie", str(c)) for c in cookies]
    if not all(header_safe(k) and header_safe(v) for k, v in headers):
        return None
    if not any(k.lower() == "content-type" for k, _ in headers):
        headers.append(_JSON)
    body = value.get("body")
    if body is None:
        data = b""
    elif value.get("isBase64Encoded"):
        try:
            data = base64.b64decode(str(body), validate=True)
        except ValueError:
            return None
    else:
        data = _body(body)
    return EdgeResponse(status, headers, data)


# -- AuthType AWS_IAM ----------------------------------------------------------------------


@dataclass(frozen=True)
class IamCaller:
    """Who signed a request to an ``AWS_IAM`` URL: what ``requestContext.authorizer.iam``
    tells the function (urls-invocation.html's example event)."""

    access_key: str
    account_id: str
    user_arn: str
    user_id: str

    def authorizer(self) -> dict[str, Any]:
        return {"iam": {"accessKey": self.access_key, "accountId": self.account_id, "callerId": self.user_id,
                        "cognitoIdentity": None, "principalOrgId": None, "userArn": self.user_arn,
                        "userId": self.user_id}}


def iam_caller(lab: Any, config: FunctionUrlConfig, access_key_id: str, source_ip: str) -> IamCaller | None:
    """The caller a request signed with ``access_key_id`` stands for, or ``None`` when
    it may not invoke the URL (AWS answers 403 ``Forbidden``).

    A signed request's principal needs ``lambda:InvokeFunctionUrl`` on the function from
    its identity policies or from the function's resource policy, whose statement
    ``AddPermission`` wrote with ``FunctionUrlAuthType`` AWS_IAM
    (https://docs.aws.amazon.com/lambda/latest/dg/urls-auth.html). As every other
    permission in lambdalab, that is checked when the lab enforces IAM; otherwise any
    signature passes, and an unknown key acts as the account's root."""
    from .iam_policy import Request, evaluate
    from .protocol.authorize import ROOT_TYPE, Principal, principal_of

    principal = principal_of(lab, access_key_id)
    account = lab.arns.account_id
    if principal is None:
        if lab.enforce_iam:
            return None
        principal = Principal(f"arn:aws:iam::{account}:root", account, type=ROOT_TYPE, user_id=account)
    if lab.enforce_iam and not principal.is_root:
        context = {"lambda:FunctionUrlAuthType": "AWS_IAM", "aws:PrincipalArn": principal.arn,
                   "aws:PrincipalAccount": principal.account, "aws:SourceIp": source_ip}
        request = Request(principal.arn, "lambda:InvokeFunctionUrl", config.function_arn, principal.account,
                          account, context)
        qualifier = None if config.qualifier == limits.LATEST else config.qualifier
        policy = lab.permissions.document_of(config.function_name, qualifier)
        if not evaluate(request, principal.policies, policy).allowed:
            return None
    return IamCaller(access_key_id, principal.account, principal.arn, principal.user_id or principal.account)
