"""What the edge tells plugins about each API call it answered: the
``lambdalab_api_call`` hook's record.

The edge puts its lab in the ASGI scope (:data:`LAB_SCOPE_KEY`); a service on the
protocol layer reads who called (the SigV4 access key and region, the client's address,
its ``User-Agent``) once per request with :func:`caller_of`, and reports the call after
its operation has answered. When no plugin implements the hook, :func:`caller_of` is
``None`` and nothing more is done.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any, Mapping
from urllib.parse import unquote

log = logging.getLogger("lambdalab.protocol")

#: The ASGI scope key under which the edge passes its :class:`~lambdalab.Lab` to services.
LAB_SCOPE_KEY = "lambdalab.lab"

_CREDENTIAL = re.compile(r"Credential=([^/\s,]+)/\d{8}/([^/\s,]+)/")
_QUERY_CREDENTIAL = re.compile(r"(?:^|&)X-Amz-Credential=([^%/&]+)(?:/|%2F)\d{8}(?:/|%2F)([^%/&]+)",
                               re.IGNORECASE)
#: S3's SigV2, still what some clients presign with: ``Authorization: AWS KEY:SIGNATURE``,
#: or ``AWSAccessKeyId=KEY`` in a presigned URL
#: (https://docs.aws.amazon.com/AmazonS3/latest/userguide/RESTAuthentication.html).
_V2_CREDENTIAL = re.compile(r"AWS ([^:\s]+):")
_V2_QUERY_CREDENTIAL = re.compile(r"(?:^|&)AWSAccessKeyId=([^&]+)")


@dataclass(frozen=True)
class ApiCall:
    """One call of an AWS operation on the edge, answered (an output or an error).

    The fields are what CloudTrail records of a management call
    (https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-record-contents.html).
    """

    #: The service as its endpoints are named (botocore's ``endpointPrefix``):
    #: ``lambda``, ``sqs``, ``s3``, ``events``, ``logs``.
    service: str
    #: The operation's name in AWS's API: ``DeleteFunction``.
    operation: str
    #: The region the request was signed for (the lab's when it was not signed).
    region: str
    #: The SigV4 access key id, or ``None`` for an unsigned request.
    access_key_id: str | None
    #: The client's IP address, as the edge saw it.
    source_ip: str
    user_agent: str
    #: The operation's input, as the protocol layer read it (members by the model's names).
    request_params: Mapping[str, Any]
    #: The operation's output, or ``None`` when it failed.
    response: Mapping[str, Any] | None
    #: The AWS error code and message when it failed, else ``None``.
    error_code: str | None
    error_message: str | None
    request_id: str
    #: When it was answered: epoch seconds on the lab's clock.
    time: float


@dataclass(frozen=True)
class Caller:
    """Who sent one request, read once; :meth:`report` tells the lab's plugins of it."""

    #: The :class:`~lambdalab.Lab` (untyped here: the layer does not import the lab).
    lab: Any
    service: str
    access_key_id: str | None
    region: str
    source_ip: str
    user_agent: str

    def report(self, operation: str, params: Mapping[str, Any], response: Mapping[str, Any] | None,
               error: tuple[str, str] | None, request_id: str) -> None:
        code, text = error if error else (None, None)
        call = ApiCall(self.service, operation, self.region, self.access_key_id, self.source_ip,
                       self.user_agent, params, response, code, text, request_id,
                       self.lab.clock.now())
        try:
            self.lab.plugin_manager.hook.lambdalab_api_call(call=call)
        except Exception:  # a plugin's bug never fails the call it was told of
            log.exception("a lambdalab_api_call hook failed on %s %s", self.service, operation)


def caller_of(scope: Mapping[str, Any], headers: Mapping[str, str], service: str,
              query: str = "") -> Caller | None:
    """Who sent the request of ``scope``, or ``None`` when nobody listens (no lab in the
    scope, or no plugin implements ``lambdalab_api_call`` and the lab enforces no IAM)."""
    lab = scope.get(LAB_SCOPE_KEY)
    if lab is None:
        return None
    if not (getattr(lab, "enforce_iam", False)  # then each request is authorised by its key
            or lab.plugin_manager.hook.lambdalab_api_call.get_hookimpls()):
        return None
    authorization = headers.get("authorization", "")
    found = _CREDENTIAL.search(authorization) or _QUERY_CREDENTIAL.search(query)
    client = scope.get("client") or ("", 0)
    key, region = (found[1], found[2]) if found else (_v2_key(authorization, query), lab.arns.region)
    return Caller(lab, service, key, region, client[0] or "", headers.get("user-agent", ""))


def _v2_key(authorization: str, query: str) -> str | None:
    """The access key id of a SigV2 signature (a SigV2 presigned URL is boto3's default
    for S3), which names no region."""
    found = _V2_CREDENTIAL.match(authorization) or _V2_QUERY_CREDENTIAL.search(query)
    return unquote(found[1]) if found else None


__all__ = ["ApiCall", "Caller", "LAB_SCOPE_KEY", "caller_of"]
