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

A presigned URL carries its signature in the query string instead
(``X-Amz-Credential``, ``X-Amz-Date``, ``X-Amz-Expires``, ``X-Amz-SignedHeaders``,
``X-Amz-Signature``: https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-query-string-auth.html).
Its errors are S3's, whose URLs these are (:class:`QuerySignature`): a malformed query →
AuthorizationQueryParametersError (400); past ``X-Amz-Date`` + ``X-Amz-Expires`` →
AccessDenied "Request has expired" (checked with or without keys, on the lab's clock);
with keys, an unknown access key id → InvalidAccessKeyId, a wrong signature →
SignatureDoesNotMatch (403). S3's SigV2 presigned URLs (``AWSAccessKeyId``,
``Signature``, ``Expires``: boto3's default for S3) are served the same way
(:class:`LegacyQuerySignature`).

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
from urllib.parse import parse_qsl, urlsplit

from .. import limits
from ..errors import (
    IncompleteSignatureException,
    LambdaError,
    InvalidSignatureException,
    MissingAuthenticationTokenException,
    UnrecognizedClientException,
)
from ..protocol import ServiceError

_AUTHORIZATION = re.compile(
    r"^AWS4-HMAC-SHA256\s+Credential=(?P<key>[^/\s,]+)/(?P<date>\d{8})/(?P<region>[^/\s,]+)/"
    r"(?P<service>[^/\s,]+)/aws4_request,\s*SignedHeaders=(?P<signed>[a-z0-9;\-_.]+),\s*"
    r"Signature=(?P<signature>[0-9a-f]{64})$"
)
_SCOPE = re.compile(r"Credential=[^/\s,]+/\d{8}/([^/\s,]+)/([^/\s,]+)/aws4_request")
_UNSIGNED = ("UNSIGNED-PAYLOAD", "STREAMING-UNSIGNED-PAYLOAD-TRAILER")
_CREDENTIAL = re.compile(
    r"^(?P<key>[^/\s]+)/(?P<date>\d{8})/(?P<region>[^/\s]+)/(?P<service>[^/\s]+)/aws4_request$"
)
_AMZ_DATE = "%Y%m%dT%H%M%SZ"
#: What a query-signed request must carry, in the order S3's error names them.
_QUERY_AUTH = ("X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature", "X-Amz-Date",
               "X-Amz-SignedHeaders", "X-Amz-Expires")
_LEGACY_QUERY_AUTH = ("AWSAccessKeyId", "Signature", "Expires")


@dataclass(frozen=True)
class CredentialScope:
    """Where a signature is scoped to: its region (``None`` for a SigV2 presigned URL,
    which names none) and its service (``lambda``, ``s3``…)."""

    region: str | None
    service: str


def credential_scope(authorization: str | None, query_string: str = "") -> CredentialScope | None:
    """The scope of the SigV4 ``Authorization`` header, else of a presigned URL's
    ``X-Amz-Credential``; a SigV2 presigned URL is S3's (the only service that still
    takes SigV2); ``None`` for an unsigned request."""
    credential = authorization
    if not authorization and "X-Amz-Credential=" in query_string:
        credential = "Credential=" + _query(query_string).get("X-Amz-Credential", "")
    if credential:
        found = _SCOPE.search(credential)
        return CredentialScope(found.group(1), found.group(2)) if found else None
    return CredentialScope(None, "s3") if LegacyQuerySignature.carried_by(query_string) else None


def query_signature(query_string: str) -> "QuerySignature | LegacyQuerySignature | None":
    """A presigned URL's signature (SigV4, else SigV2); None when the query carries none."""
    return QuerySignature.of(query_string) or LegacyQuerySignature.of(query_string)


def _query(query_string: str) -> dict[str, str]:
    return dict(parse_qsl(query_string, keep_blank_values=True))


def _query_error(message: str) -> ServiceError:
    return ServiceError("AuthorizationQueryParametersError", message, 400)


def _aws_time(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


@dataclass(frozen=True)
class QuerySignature:
    """A presigned URL's SigV4 parameters: the ``X-Amz-*`` members of its query string."""

    key: str
    region: str
    service: str
    amz_date: str
    signed_at: int
    expires: int
    signed_headers: tuple[str, ...]
    signature: str
    #: The query string as sent, minus ``X-Amz-Signature``: what the signature covers.
    unsigned_query: str

    @classmethod
    def of(cls, query_string: str) -> "QuerySignature | None":
        """The query's signature; None when the request is not query-signed (no
        ``X-Amz-Credential``). Raises S3's AuthorizationQueryParametersError when it is
        malformed."""
        if "X-Amz-Credential=" not in query_string:
            return None
        params = _query(query_string)
        if not all(params.get(name) for name in _QUERY_AUTH):
            raise _query_error(f"Query-string authentication version 4 requires the "
                               f"{', '.join(_QUERY_AUTH[:-1])}, and {_QUERY_AUTH[-1]} parameters.")
        if params["X-Amz-Algorithm"] != "AWS4-HMAC-SHA256":
            raise _query_error('X-Amz-Algorithm only supports "AWS4-HMAC-SHA256"')
        credential = _CREDENTIAL.match(params["X-Amz-Credential"])
        if credential is None:
            raise _query_error("Error parsing the X-Amz-Credential parameter; the Credential is "
                               'mal-formed; expecting "<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/'
                               'aws4_request".')
        return cls(
            key=credential["key"], region=credential["region"], service=credential["service"],
            amz_date=params["X-Amz-Date"], signed_at=_signed_at(params["X-Amz-Date"]),
            expires=_expires(params["X-Amz-Expires"]),
            signed_headers=tuple(params["X-Amz-SignedHeaders"].lower().split(";")),
            signature=params["X-Amz-Signature"],
            unsigned_query="&".join(pair for pair in query_string.split("&")
                                    if not pair.startswith("X-Amz-Signature=")),
        )

    def expected_signature(self, request: SignedRequest, secret: str) -> str:
        return _query_signature(request, self, secret)

    def check_unexpired(self, now: float) -> None:
        """Refuse the URL once ``now`` is past ``X-Amz-Date`` + ``X-Amz-Expires``, with
        the body S3 sends."""
        if now > self.signed_at + self.expires:
            raise ServiceError("AccessDenied", "Request has expired", 403, {
                "X-Amz-Expires": str(self.expires),
                "Expires": _aws_time(self.signed_at + self.expires),
                "ServerTime": _aws_time(now),
            })


@dataclass(frozen=True)
class LegacyQuerySignature:
    """A SigV2 presigned S3 URL (``AWSAccessKeyId``, ``Signature``, ``Expires``: an
    epoch second), what boto3 makes for S3 unless told ``signature_version="s3v4"``
    (https://docs.aws.amazon.com/AmazonS3/latest/userguide/RESTAuthentication.html#RESTAuthenticationQueryStringAuth)."""

    key: str
    signature: str
    expires_at: int

    @staticmethod
    def carried_by(query_string: str) -> bool:
        """Whether the query has SigV2's three parameters (cheap first: most have none)."""
        if "Signature=" not in query_string or "AWSAccessKeyId=" not in query_string:
            return False
        params = _query(query_string)
        return all(params.get(name) for name in _LEGACY_QUERY_AUTH)

    @classmethod
    def of(cls, query_string: str) -> "LegacyQuerySignature | None":
        """The query's SigV2 signature; None when it carries none. An ``Expires`` that
        is no epoch second is S3's AccessDenied."""
        if not cls.carried_by(query_string):
            return None
        params = _query(query_string)
        expires = params["Expires"]
        if not (expires.isascii() and expires.isdigit()) or len(expires) > 11:
            raise ServiceError("AccessDenied", f"Invalid date (should be seconds since epoch): "
                               f"{expires}", 403)
        return cls(params["AWSAccessKeyId"], params["Signature"], int(expires))

    def expected_signature(self, request: SignedRequest, secret: str) -> str:
        return _legacy_signature(request, self, secret)

    def check_unexpired(self, now: float) -> None:
        if now > self.expires_at:
            raise ServiceError("AccessDenied", "Request has expired", 403, {
                "Expires": _aws_time(self.expires_at), "ServerTime": _aws_time(now),
            })


def _signed_at(amz_date: str) -> int:
    try:
        return calendar.timegm(time.strptime(amz_date, _AMZ_DATE))
    except ValueError:
        raise _query_error(
            "X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\""
        ) from None


def _expires(value: str) -> int:
    digits = value[1:] if value.startswith("-") else value
    if not (digits.isascii() and digits.isdigit()) or len(digits) > 9:
        raise _query_error("X-Amz-Expires should be a number")
    if value != digits:
        raise _query_error("X-Amz-Expires must be non-negative")
    if int(value) > limits.SIGV4_PRESIGNED_EXPIRES_MAX_S:
        raise _query_error(f"X-Amz-Expires must be less than a week (in seconds); that is, the "
                           f"given X-Amz-Expires must be less than "
                           f"{limits.SIGV4_PRESIGNED_EXPIRES_MAX_S} seconds")
    return int(value)


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
            query = query_signature(request.query_string)
            if query is not None:
                return self._verify_query(request, query)
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

    def _verify_query(self, request: SignedRequest,
                      query: "QuerySignature | LegacyQuerySignature") -> str:
        """A presigned URL's signature (its expiry is the edge's to check, on the lab's
        clock), refused in S3's words."""
        secret = self.keys.get(query.key)
        if secret is None:
            raise _unknown_key(query.key)
        expected = query.expected_signature(request, secret).encode()
        if not hmac.compare_digest(expected, query.signature.encode("utf-8", "replace")):
            raise _signature_mismatch(query.key, query.signature)
        return query.key

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


_ACCESS_KEY = re.compile(r"Credential=([^/\s,]+)/")


def signer_of(request: SignedRequest, service: str, keys: Mapping[str, str] | None) -> str | None:
    """The access key id that signed ``request`` for ``service`` with its SigV4
    ``Authorization`` header, or ``None``: unsigned, signed for another service, or, when
    ``keys`` are given (the edge's ``--auth-key``), a signature that does not match.
    What an endpoint that takes ``AWS_IAM`` auth asks (function URLs, API Gateway's
    ``execute-api``); without keys, as everywhere on the edge, any secret passes."""
    authorization = request.headers.get("authorization")
    scope = credential_scope(authorization)
    if authorization is None or scope is None or scope.service != service:
        return None
    if keys is None:
        found = _ACCESS_KEY.search(authorization)
        return found.group(1) if found else None
    try:
        return SigV4Verifier(keys).verify(request)
    except (LambdaError, ServiceError):
        return None


def _signature(request: SignedRequest, parts: re.Match[str], secret: str, amz_date: str) -> str:
    """The signature botocore computes for this request with ``secret``."""
    from botocore.auth import S3SigV4Auth, SigV4Auth
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
    # S3 signs its path as sent; other services sign it normalised and encoded once more
    auth = S3SigV4Auth if parts["service"] == "s3" else SigV4Auth
    signer = auth(Credentials(parts["key"], secret), parts["service"], parts["region"])
    canonical = signer.canonical_request(aws_request)
    return signer.signature(signer.string_to_sign(aws_request, canonical), aws_request)


def _query_signature(request: SignedRequest, query: QuerySignature, secret: str) -> str:
    """The signature botocore's presigner computes for this URL with ``secret``: its
    canonical request has the query minus ``X-Amz-Signature`` and ``UNSIGNED-PAYLOAD``."""
    from botocore.auth import S3SigV4QueryAuth, SigV4QueryAuth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    missing = [name for name in query.signed_headers if name not in request.headers]
    if missing:
        raise ServiceError("AuthorizationQueryParametersError", "X-Amz-SignedHeaders lists "
                           f"headers the request does not carry: {', '.join(missing)}.", 400)
    host = request.headers.get("host", "localhost")
    url = f"http://{host}{request.raw_path}?{query.unsigned_query}"
    aws_request = AWSRequest(method=request.method, url=url,
                             headers={name: request.headers[name] for name in query.signed_headers})
    aws_request.context["timestamp"] = query.amz_date
    auth = S3SigV4QueryAuth if query.service == "s3" else SigV4QueryAuth
    signer = auth(Credentials(query.key, secret), query.service, query.region)
    canonical = signer.canonical_request(aws_request)
    return signer.signature(signer.string_to_sign(aws_request, canonical), aws_request)


def _legacy_signature(request: SignedRequest, query: LegacyQuerySignature, secret: str) -> str:
    """The signature botocore's SigV2 presigner computes for this URL with ``secret``:
    method, Content-MD5, Content-Type, ``Expires``, ``x-amz-*`` headers, and the path."""
    from botocore.auth import HmacV1QueryAuth
    from botocore.compat import HTTPHeaders
    from botocore.credentials import Credentials

    class AtExpires(HmacV1QueryAuth):
        def _get_date(self) -> str:
            return str(query.expires_at)

    headers = HTTPHeaders()
    for name, value in request.headers.items():
        headers[name] = value
    split = urlsplit(f"http://localhost{request.raw_path}?{request.query_string}")
    return AtExpires(Credentials(query.key, secret)).get_signature(request.method, split, headers)


def _unknown_key(key: str) -> ServiceError:
    return ServiceError("InvalidAccessKeyId", "The AWS Access Key Id you provided does not "
                        "exist in our records.", 403, {"AWSAccessKeyId": key})


def _signature_mismatch(key: str, signature: str) -> ServiceError:
    return ServiceError("SignatureDoesNotMatch", "The request signature we calculated does not "
                        "match the signature you provided. Check your key and signing method.",
                        403, {"AWSAccessKeyId": key, "SignatureProvided": signature})
