"""An HTTP API's ``CorsConfiguration``, applied as API Gateway applies it.

https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-cors.html: with CORS
configured, API Gateway answers a preflight request (``OPTIONS`` with ``Origin`` and
``Access-Control-Request-Method``) itself, whatever the routes, and puts the CORS headers
on every answer to an allowed origin, replacing any the function sent.
"""

from __future__ import annotations

from typing import Any, Mapping

PREFLIGHT_STATUS = 204
_CORS_PREFIX = "access-control-"


def _allowed_origin(config: Mapping[str, Any], origin: str | None) -> str | None:
    """The ``Access-Control-Allow-Origin`` to send ``origin``, or ``None`` if it is not allowed."""
    origins = config.get("AllowOrigins") or []
    if origin is None:
        return None
    if "*" in origins:
        return "*"
    return origin if origin in origins else None


def _joined(config: Mapping[str, Any], key: str) -> str | None:
    values = config.get(key) or []
    return ",".join(str(v) for v in values) if values else None


def headers_for(config: Mapping[str, Any], origin: str | None, *, preflight: bool) -> list[tuple[str, str]]:
    """The CORS headers of an answer to ``origin`` (none when it is not allowed)."""
    allowed = _allowed_origin(config, origin)
    if allowed is None:
        return []
    out = [("Access-Control-Allow-Origin", allowed)]
    if config.get("AllowCredentials"):
        out.append(("Access-Control-Allow-Credentials", "true"))
    named = (("AllowMethods", "Access-Control-Allow-Methods"), ("AllowHeaders", "Access-Control-Allow-Headers"))
    if preflight:
        out += [(header, value) for key, header in named if (value := _joined(config, key))]
        if config.get("MaxAge") is not None:
            out.append(("Access-Control-Max-Age", str(config["MaxAge"])))
    elif (exposed := _joined(config, "ExposeHeaders")):
        out.append(("Access-Control-Expose-Headers", exposed))
    return out


def is_preflight(method: str, headers: Mapping[str, str]) -> bool:
    return method == "OPTIONS" and "origin" in headers and "access-control-request-method" in headers


def replace_cors_headers(pairs: list[tuple[str, str]], cors: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """``pairs`` with the function's own CORS headers replaced by API Gateway's."""
    if not cors:
        return pairs
    return [(k, v) for k, v in pairs if not k.lower().startswith(_CORS_PREFIX)] + cors
