"""Subscription endpoints: which each protocol takes, and the HTTP(S) POSTs SNS makes.

``lambda`` and ``sqs`` endpoints are ARNs. ``http``/``https`` endpoints are URLs, which
lambdalab reaches only on the loopback interface (a lab sends nothing off the machine);
SNS POSTs them a ``SubscriptionConfirmation`` first, then ``Notification``\\ s once
confirmed, with the headers AWS sends
(https://docs.aws.amazon.com/sns/latest/dg/SendMessageToHttp.prepare.html,
https://docs.aws.amazon.com/sns/latest/dg/http-header.html). ``email``, ``email-json``
and ``sms`` subscriptions wait for a confirmation that never comes: lambdalab sends no
mail and no text message.
"""

from __future__ import annotations

import ipaddress
import re
import urllib.error
import urllib.request
from typing import Any, Mapping
from urllib.parse import urlsplit

from lambdalab.plugin import ServiceError

from . import quotas
from .exceptions import InvalidParameterException

#: Protocols lambdalab delivers to, and those it keeps pending confirmation forever.
DELIVERED = ("lambda", "sqs", "http", "https")
NEVER_CONFIRMED = ("email", "email-json", "sms")
#: Protocols that need a confirmation before SNS delivers.
CONFIRMED_BY_TOKEN = ("http", "https", *NEVER_CONFIRMED)
_LOOPBACK_NAMES = ("localhost",)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PHONE = re.compile(r"^\+?[0-9]{1,15}$")
#: What SNS's POSTs say they are.
USER_AGENT = "Amazon Simple Notification Service Agent"
CONTENT_TYPE = "text/plain; charset=UTF-8"


def check_endpoint(protocol: str, endpoint: Any) -> str:
    """``endpoint`` as ``protocol`` takes it, or SNS's InvalidParameter."""
    if protocol in ("lambda", "sqs"):
        return _arn_endpoint(protocol, endpoint)
    if not isinstance(endpoint, str) or not endpoint:
        raise InvalidParameterException(f"Invalid parameter: Endpoint (a {protocol} subscription needs one).")
    if protocol in ("http", "https"):
        return _url_endpoint(protocol, endpoint)
    pattern = _PHONE if protocol == "sms" else _EMAIL
    if not pattern.match(endpoint):
        what = "SMS endpoint" if protocol == "sms" else "Email address"
        raise InvalidParameterException(f"Invalid parameter: {what}")
    return endpoint


def _arn_endpoint(protocol: str, endpoint: Any) -> str:
    service = "lambda" if protocol == "lambda" else "sqs"
    if not isinstance(endpoint, str) or not endpoint.startswith(f"arn:aws:{service}:"):
        what = "a function ARN" if protocol == "lambda" else "a queue ARN"
        raise InvalidParameterException(
            f"Invalid parameter: {protocol.upper() if protocol == 'sqs' else 'Lambda'} "
            f"endpoint ARN (an {protocol} subscription's Endpoint is {what}, "
            f"arn:aws:{service}:REGION:ACCOUNT:NAME).")
    return endpoint


def _url_endpoint(protocol: str, endpoint: str) -> str:
    if not endpoint.lower().startswith(f"{protocol}://"):
        raise InvalidParameterException("Invalid parameter: Endpoint must match the specified protocol")
    try:
        host = urlsplit(endpoint).hostname or ""
    except ValueError:
        host = ""
    if not _loopback(host):
        raise InvalidParameterException(
            f"Invalid parameter: Endpoint ({endpoint!r}: lambdalab's SNS delivers to http(s) "
            "endpoints on this machine only: 127.0.0.1, ::1 or localhost).")
    return endpoint


def _loopback(host: str) -> bool:
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def post(url: str, body: str, headers: Mapping[str, str]) -> None:
    """POST ``body`` as SNS does; a 2xx answer is a delivery, anything else raises a
    :class:`~lambdalab.plugin.ServiceError` with the endpoint's status (503 when it
    cannot be reached: a server-side error, retried)."""
    request = urllib.request.Request(url, data=body.encode(), method="POST", headers={
        "Content-Type": CONTENT_TYPE, "User-Agent": USER_AGENT, **headers})
    try:
        with urllib.request.urlopen(request, timeout=quotas.HTTP_TIMEOUT_S) as answer:  # noqa: S310 (loopback only)
            status = answer.status
    except urllib.error.HTTPError as e:
        status = e.code
    except (urllib.error.URLError, OSError, ValueError) as e:
        raise ServiceError("EndpointUnreachable", f"{url} could not be reached: {e}", 503) from None
    if not 200 <= status < 300:
        raise ServiceError(f"HTTP{status}", f"{url} answered HTTP {status}", status)


__all__ = ["CONFIRMED_BY_TOKEN", "DELIVERED", "NEVER_CONFIRMED", "check_endpoint", "post"]
