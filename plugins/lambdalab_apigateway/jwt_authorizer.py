"""HTTP APIs' JWT authorizers, as API Gateway validates a token.

https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-jwt-authorizer.html:
the token is the identity source's value (``Bearer`` prefix removed); its ``kid`` names
an RSA public key of the issuer's JWKS (found through
``<issuer>/.well-known/openid-configuration``'s ``jwks_uri``); ``iss`` must be the
authorizer's ``Issuer``, ``aud`` or ``client_id`` one of its ``Audience``; ``exp``,
``nbf`` and ``iat`` are checked on the lab's clock; a route's ``AuthorizationScopes``
needs one of them in the token's ``scope``/``scp``. Any failure is
``401 {"message":"Unauthorized"}``, a missing scope ``403 {"message":"Forbidden"}``. The
claims reach the integration as ``requestContext.authorizer.jwt``.

Tokens are checked with joserfc (a maintained JOSE library), not by hand: signature
algorithms and JWK parsing are where hand-written code goes wrong.
"""

from __future__ import annotations

import json
import threading
import urllib.request
from typing import TYPE_CHECKING, Any, Mapping

from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from . import quotas
from .authorizers import HTTP_FORBIDDEN, UNAUTHORIZED, Verdict

if TYPE_CHECKING:
    from lambdalab import Lab

#: API Gateway accepts RSA signatures only (the JWT authorizer page).
ALGORITHMS = ("RS256", "RS384", "RS512")
_DISCOVERY = "/.well-known/openid-configuration"


def _fetch_json(url: str) -> Any:
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"not an http(s) URL: {url!r}")
    with urllib.request.urlopen(url, timeout=quotas.JWKS_FETCH_TIMEOUT_S) as response:  # noqa: S310
        return json.loads(response.read(quotas.JWKS_MAX_BYTES + 1)[:quotas.JWKS_MAX_BYTES])


class IssuerKeys:
    """Each issuer's public keys, fetched when a token names a key not yet known."""

    def __init__(self) -> None:
        self._keys: dict[str, KeySet] = {}
        self._lock = threading.Lock()

    def key_set(self, issuer: str, kid: Any) -> KeySet:
        with self._lock:
            known = self._keys.get(issuer)
        if known is not None and any(k.kid == kid for k in known.keys):
            return known
        discovery = _fetch_json(issuer.rstrip("/") + _DISCOVERY)
        fetched = KeySet.import_key_set(_fetch_json(str(discovery["jwks_uri"])))
        with self._lock:
            self._keys[issuer] = fetched
        return fetched


def _claim_text(value: Any) -> str:
    """A claim as API Gateway passes it: a string; a list as ``[a b]``."""
    if isinstance(value, list):
        return "[" + " ".join(str(v) for v in value) + "]"
    return value if isinstance(value, str) else json.dumps(value)


def _scopes(claims: Mapping[str, Any]) -> list[str]:
    given = claims.get("scope", claims.get("scp"))
    if isinstance(given, list):
        return [str(s) for s in given]
    return str(given).split() if given else []


def authorize_jwt(lab: "Lab", keys: IssuerKeys, authorizer: Mapping[str, Any], token: str,
                  required_scopes: list[str]) -> Verdict:
    """The verdict on ``token`` for a route needing ``required_scopes`` (none: any)."""
    config = authorizer.get("JwtConfiguration") or {}
    token = token.removeprefix("Bearer ").strip()
    try:
        kid = jws.extract_compact(token.encode()).protected.get("kid")
        decoded = jwt.decode(token, keys.key_set(str(config["Issuer"]), kid), algorithms=list(ALGORITHMS))
        registry = jwt.JWTClaimsRegistry(now=lambda: int(lab.clock.now()),
                                         iss={"essential": True, "value": config["Issuer"]})
        registry.validate(decoded.claims)
    except (JoseError, ValueError, KeyError, TypeError, OSError):
        return UNAUTHORIZED
    claims = decoded.claims
    audiences = claims.get("aud", claims.get("client_id"))
    audiences = audiences if isinstance(audiences, list) else [audiences]
    if not any(a in config.get("Audience", []) for a in audiences):
        return UNAUTHORIZED
    scopes = _scopes(claims)
    if required_scopes and not any(s in scopes for s in required_scopes):
        return HTTP_FORBIDDEN
    return Verdict(True, {"jwt": {"claims": {k: _claim_text(v) for k, v in claims.items()},
                                  "scopes": scopes or None}})
