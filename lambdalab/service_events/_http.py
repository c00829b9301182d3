"""HTTP requests: API Gateway (REST and HTTP APIs), Application Load Balancer, CloudFront.

All four carry one HTTP request; they differ in how they spell it. The request's parts
(headers, query string, body) are built once here and shaped per service.
"""

from __future__ import annotations

import secrets
import string
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlencode

from ._common import (
    DEFAULT_ACCOUNT_ID,
    DEFAULT_REGION,
    arn,
    epoch_ms,
    hex_id,
    new_uuid,
    now,
    records,
)
from ._registry import SYNC, event_source

_LOWER_ALNUM = string.ascii_lowercase + string.digits
USER_AGENT = "curl/8.5.0"
SOURCE_IP = "203.0.113.178"


def _api_id() -> str:
    """An API id: ten lower-case letters and digits."""
    return "".join(secrets.choice(_LOWER_ALNUM) for _ in range(10))


def _edge_request_id() -> str:
    """A CloudFront request id: 56 URL-safe base64 characters."""
    return secrets.token_urlsafe(42)[:56]


def _request_time(at: float) -> str:
    """``09/Apr/2015:12:34:56 +0000``: API Gateway's ``requestTime``."""
    return datetime.fromtimestamp(at, tz=timezone.utc).strftime("%d/%b/%Y:%H:%M:%S +0000")


def _headers(host: str, body: str | None, extra: dict[str, str] | None) -> dict[str, str]:
    """The headers a client and the front door put on a request, lower-case names."""
    headers = {
        "accept": "*/*",
        "host": host,
        "user-agent": USER_AGENT,
        "x-amzn-trace-id": f"Root=1-{int(now()):08x}-{hex_id(24)}",
        "x-forwarded-for": SOURCE_IP,
        "x-forwarded-port": "443",
        "x-forwarded-proto": "https",
    }
    if body:
        headers |= {"content-type": "application/json", "content-length": str(len(body.encode()))}
    return headers | {name.lower(): value for name, value in (extra or {}).items()}


@event_source("apigateway-rest", SYNC)
def apigateway_rest(
    *,
    method: str = "GET",
    path: str = "/hello",
    resource: str | None = None,
    body: str | None = None,
    query: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
    stage: str = "prod",
    region: str = DEFAULT_REGION,
    account_id: str = DEFAULT_ACCOUNT_ID,
) -> dict[str, Any]:
    """A request to an API Gateway REST API with a Lambda proxy integration (payload 1.0).

    Shape: https://docs.aws.amazon.com/apigateway/latest/developerguide/set-up-lambda-proxy-integrations.html

    :param method: the HTTP method.
    :param path: the request path.
    :param resource: the API resource the path matched [default: the path].
    :param body: the request body (null when none).
    :param query: query string parameters, name to value.
    :param headers: extra request headers.
    :param stage: the deployment stage.
    :param region: the API's region.
    :param account_id: the API's account.
    """
    api_id, requested_at = _api_id(), now()
    domain = f"{api_id}.execute-api.{region}.amazonaws.com"
    all_headers = _headers(domain, body, headers)
    identity = dict.fromkeys(
        (
            "accessKey",
            "accountId",
            "caller",
            "cognitoAuthenticationProvider",
            "cognitoAuthenticationType",
            "cognitoIdentityId",
            "cognitoIdentityPoolId",
            "principalOrgId",
            "user",
            "userArn",
        )
    ) | {"sourceIp": SOURCE_IP, "userAgent": USER_AGENT}
    context = {
        "accountId": account_id,
        "apiId": api_id,
        "deploymentId": hex_id(6),
        "domainName": domain,
        "domainPrefix": api_id,
        "extendedRequestId": hex_id(16),
        "httpMethod": method,
        "identity": identity,
        "path": f"/{stage}{path}",
        "protocol": "HTTP/1.1",
        "requestId": new_uuid(),
        "requestTime": _request_time(requested_at),
        "requestTimeEpoch": epoch_ms(requested_at),
        "resourceId": hex_id(6),
        "resourcePath": resource or path,
        "stage": stage,
    }
    return {
        "resource": resource or path,
        "path": path,
        "httpMethod": method,
        "headers": all_headers,
        "multiValueHeaders": {name: [value] for name, value in all_headers.items()},
        "queryStringParameters": query or None,
        "multiValueQueryStringParameters": {k: [v] for k, v in query.items()} if query else None,
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": context,
        "body": body,
        "isBase64Encoded": False,
    }


@event_source("apigateway-http", SYNC)
def apigateway_http(
    *,
    method: str = "GET",
    path: str = "/hello",
    body: str | None = None,
    query: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
    route_key: str = "$default",
    region: str = DEFAULT_REGION,
    account_id: str = DEFAULT_ACCOUNT_ID,
) -> dict[str, Any]:
    """A request to an API Gateway HTTP API (payload 2.0, the format function URLs use too).

    Shape: https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-integrations-lambda.html

    :param method: the HTTP method.
    :param path: the request path.
    :param body: the request body (left out when none).
    :param query: query string parameters, name to value.
    :param headers: extra request headers.
    :param route_key: the route that matched, e.g. "GET /hello", or $default.
    :param region: the API's region.
    :param account_id: the API's account.
    """
    api_id, requested_at = _api_id(), now()
    domain = f"{api_id}.execute-api.{region}.amazonaws.com"
    context = {
        "accountId": account_id,
        "apiId": api_id,
        "domainName": domain,
        "domainPrefix": api_id,
        "http": {
            "method": method,
            "path": path,
            "protocol": "HTTP/1.1",
            "sourceIp": SOURCE_IP,
            "userAgent": USER_AGENT,
        },
        "requestId": hex_id(16),
        "routeKey": route_key,
        "stage": "$default",
        "time": _request_time(requested_at),
        "timeEpoch": epoch_ms(requested_at),
    }
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": path,
        "rawQueryString": urlencode(query or {}),
        "headers": _headers(domain, body, headers),
    }
    if query:
        event["queryStringParameters"] = query
    event |= {"requestContext": context, "isBase64Encoded": False}
    if body is not None:
        event["body"] = body
    return event


@event_source("alb", SYNC)
def alb(
    *,
    method: str = "GET",
    path: str = "/lambda",
    body: str = "",
    query: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
    target_group: str = "my-targets",
    region: str = DEFAULT_REGION,
    account_id: str = DEFAULT_ACCOUNT_ID,
) -> dict[str, Any]:
    """A request an Application Load Balancer forwards to its Lambda target group.

    Shape: https://docs.aws.amazon.com/elasticloadbalancing/latest/application/lambda-functions.html

    :param method: the HTTP method.
    :param path: the request path.
    :param body: the request body ("" when none).
    :param query: query string parameters, name to value.
    :param headers: extra request headers.
    :param target_group: the target group's name.
    :param region: the load balancer's region.
    :param account_id: the load balancer's account.
    """
    group = f"targetgroup/{target_group}/{hex_id(16)}"
    host = f"my-alb-{secrets.randbelow(10**9)}.{region}.elb.amazonaws.com"
    return {
        "requestContext": {
            "elb": {"targetGroupArn": arn("elasticloadbalancing", group, region, account_id)}
        },
        "httpMethod": method,
        "path": path,
        "queryStringParameters": query or {},
        "headers": _headers(host, body, headers),
        "body": body,
        "isBase64Encoded": False,
    }


@event_source("cloudfront", SYNC)
def cloudfront(
    *,
    uri: str = "/",
    method: str = "GET",
    querystring: str = "",
    distribution_id: str = "EDFDVBD6EXAMPLE",
) -> dict[str, Any]:
    """A viewer request reaching a Lambda@Edge function at a CloudFront edge location.

    Shape: https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/lambda-event-structure.html

    :param uri: the requested path.
    :param method: the HTTP method.
    :param querystring: the raw query string, without "?".
    :param distribution_id: the distribution's id.
    """
    domain = f"d{hex_id(13)}.cloudfront.net"
    headers = {
        "host": ("Host", domain),
        "user-agent": ("User-Agent", USER_AGENT),
        "accept": ("accept", "*/*"),
    }
    return records(
        [
            {
                "cf": {
                    "config": {
                        "distributionDomainName": domain,
                        "distributionId": distribution_id,
                        "eventType": "viewer-request",
                        "requestId": _edge_request_id(),
                    },
                    "request": {
                        "clientIp": SOURCE_IP,
                        "headers": {
                            name: [{"key": key, "value": value}]
                            for name, (key, value) in headers.items()
                        },
                        "method": method,
                        "querystring": querystring,
                        "uri": uri,
                    },
                }
            }
        ]
    )
