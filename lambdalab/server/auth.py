"""Opt-in AWS Signature Version 4 checks, against access keys the edge was given.

By default the edge, like most local emulators, accepts any credentials: it only reads
the service name from the signature's credential scope. With keys configured
(``lambdalab serve --auth-key ID:SECRET``), every request must be signed with one of
them, and is refused with the error AWS sends otherwise
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv.html):

* no signature → MissingAuthenticationTokenException;
* a malformed ``Authorization`` header → IncompleteSignatureException;
* an access key id the edge does not know → UnrecognizedClientException;
* a wrong signature, or one older than the allowed skew → InvalidSignatureException.

The signature is recomputed with botocore's own signer (``botocore.auth.SigV4Auth``)
from the request exactly as it arrived, so lambdalab carries no signing code of its own.
"""

from __future__ import annotations

import calendar
import hashlib
import hmac
import re
import time
from dataclasses import dataclass, field
from typing import Callable, Mapping

from .. import limits
from ..errors import (
    IncompleteSignatureException,
    InvalidSignatureException,
    MissingAuthenticationTokenException,
    UnrecognizedClientException,
)

_AUTHORIZATION = re.compile(
    r"^AWS4-HMAC-SHA256\s+Credential=(?P<key>[^/\s,]+)/(?P<date>\d{8})/(?P<region>[^/\s,]+)/"
    r"(?P<service>[^/\s,]+)/aws4_request,\s*SignedHeaders=(?P<signed>[a-z0-9;\-_.]+),\s*"
    r"Signature=(?P<signature>[0-9a-f]{64})$"
)
_SCOPE_SERVICE = re.compile(r"Credential=[^/\s,]+/\d{8}/[^/\s,]+/([^/\s,]+)/aws4_request")
_UNSIGNED = ("UNSIGNED-PAYLOAD", "STREAMING-UNSIGNED-PAYLOAD-TRAILER")


def scope_service(authorization: str | None) -> str | None:
    """The service a SigV4 ``Authorization`` header is scoped to (``lambda``, ``s3``…)."""
    if not authorization:
        return None
    found = _SCOPE_SERVICE.search(authorization)
    return found.group(1) if found else None


@dataclass(frozen=True)
class SignedRequest:
    """A request as it arrived: what the signature covers."""

    method: str
    raw_path: str
    query_string: str
    headers: Mapping[str, str]
    body: bytes


@dataclass
class SigV4Verifier:
    """Checks SigV4 signatures against ``keys`` (access key id → secret access key)."""

    keys: Mapping[str, str]
    #: Wall-clock time: a signature's timestamp is the client's real time, so it is
    #: compared with real time, never with a lab's (possibly virtual) clock.
    now: Callable[[], float] = field(default=time.time)

    def verify(self, request: SignedRequest) -> str:
        """Return the access key id that signed ``request``, or raise AWS's error."""
        authorization = request.headers.get("authorization")
        if not authorization:
            raise MissingAuthenticationTokenException("Missing Authentication Token")
        parts = _AUTHORIZATION.match(authorization.strip())
        if parts is None:
            raise IncompleteSignatureException(
                "Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' "
                "of an AWS4-HMAC-SHA256 signature. Sign requests with SigV4 (any AWS SDK does)."
            )
        secret = self.keys.get(parts["key"])
        if secret is None:
            raise UnrecognizedClientException("The security token included in the request is invalid.")
        amz_date = request.headers.get("x-amz-date", "")
        self._check_time(amz_date, parts["date"])
        self._check_body_hash(request)
        expected = _signature(request, parts, secret, amz_date)
        if not hmac.compare_digest(expected, parts["signature"]):
            raise InvalidSignatureException(
                "The request signature we calculated does not match the signature you "
                "provided. Check your AWS Secret Access Key and signing method. Consult the "
                "service documentation for details."
            )
        return parts["key"]

    def _check_time(self, amz_date: str, scope_date: str) -> None:
        try:
            signed_at = calendar.timegm(time.strptime(amz_date, "%Y%m%dT%H%M%SZ"))
        except ValueError:
            raise IncompleteSignatureException(
                "X-Amz-Date must be given as YYYYMMDD'T'HHMMSS'Z' and be signed."
            ) from None
        if not amz_date.startswith(scope_date):
            raise InvalidSignatureException(
                f"Date in Credential scope does not match YYYYMMDD from ISO-8601 version of "
                f"date from HTTP: '{scope_date}' != '{amz_date[:8]}'"
            )
        if abs(self.now() - signed_at) > limits.SIGV4_MAX_SKEW_S:
            raise InvalidSignatureException(
                f"Signature expired: {amz_date} is now earlier or later than the allowed "
                f"{limits.SIGV4_MAX_SKEW_S // 60} minutes. Check this machine's clock."
            )

    @staticmethod
    def _check_body_hash(request: SignedRequest) -> None:
        claimed = request.headers.get("x-amz-content-sha256")
        if claimed and claimed not in _UNSIGNED:
            if claimed != hashlib.sha256(request.body).hexdigest():
                raise InvalidSignatureException(
                    "The provided 'x-amz-content-sha256' header does not match what was "
                    "computed."
                )


def _signature(request: SignedRequest, parts: re.Match[str], secret: str, amz_date: str) -> str:
    """The signature botocore computes for this request with ``secret``."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    signed = parts["signed"].split(";")
    missing = [name for name in signed if name not in request.headers]
    if missing:
        raise IncompleteSignatureException(
            f"SignedHeaders lists headers the request does not carry: {', '.join(missing)}."
        )
    url = f"http://{request.headers.get('host', 'localhost')}{request.raw_path}"
    if request.query_string:
        url += "?" + request.query_string
    aws_request = AWSRequest(
        method=request.method,
        url=url,
        data=request.body,
        headers={name: request.headers[name] for name in signed},
    )
    aws_request.context["timestamp"] = amz_date
    signer = SigV4Auth(Credentials(parts["key"], secret), parts["service"], parts["region"])
    canonical = signer.canonical_request(aws_request)
    return signer.signature(signer.string_to_sign(aws_request, canonical), aws_request)
