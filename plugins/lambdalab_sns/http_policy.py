"""The delivery policy of an http(s) subscription: the one delivery policy SNS lets a
user change (https://docs.aws.amazon.com/sns/latest/dg/sns-message-delivery-retries.html,
"Creating an HTTP/S delivery policy").

A subscription's ``DeliveryPolicy`` ``healthyRetryPolicy`` applies, unless its topic's
``DeliveryPolicy`` sets ``http.disableSubscriptionOverrides``; else the topic's
``http.defaultHealthyRetryPolicy``; else SNS's default (3 retries, 20 seconds apart).
The retries run in four phases: ``numNoDelayRetries`` at once, ``numMinDelayRetries``
``minDelayTarget`` apart, a backoff phase from ``minDelayTarget`` to ``maxDelayTarget``
shaped by ``backoffFunction``, then ``numMaxDelayRetries`` ``maxDelayTarget`` apart;
``numRetries`` counts them all. AWS draws the four backoff curves but gives no formula:
lambdalab's are linear, quadratic (``arithmetic``) and geometric (``geometric`` and
``exponential``) from the minimum to the maximum delay.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from . import quotas
from .exceptions import InvalidParameterException

BACKOFF_FUNCTIONS = ("linear", "arithmetic", "geometric", "exponential")
#: A healthyRetryPolicy's numbers, with SNS's defaults (its default policy's).
_DEFAULTS = {"minDelayTarget": int(quotas.HTTP_RETRY_DELAY_S), "maxDelayTarget": int(quotas.HTTP_RETRY_DELAY_S),
             "numRetries": quotas.HTTP_RETRIES, "numNoDelayRetries": 0, "numMinDelayRetries": 0,
             "numMaxDelayRetries": 0}
_NUMBERS = tuple(_DEFAULTS)


@dataclass(frozen=True)
class HttpRetryPolicy:
    """A ``healthyRetryPolicy``, checked."""

    min_delay: float = quotas.HTTP_RETRY_DELAY_S
    max_delay: float = quotas.HTTP_RETRY_DELAY_S
    retries: int = quotas.HTTP_RETRIES
    no_delay: int = 0
    min_delay_retries: int = 0
    max_delay_retries: int = 0
    backoff: str = "linear"

    def offsets(self) -> tuple[float, ...]:
        """Seconds after the first attempt of each delayed retry (the no-delay ones are
        made at once)."""
        backoff = max(self.retries - self.no_delay - self.min_delay_retries - self.max_delay_retries, 0)
        delays = [self.min_delay] * self.min_delay_retries
        delays += [self._backoff_delay(i / backoff) for i in range(1, backoff + 1)]
        delays += [self.max_delay] * self.max_delay_retries
        out, at = [], 0.0
        for delay in delays:
            at += delay
            out.append(at)
        return tuple(out)

    def _backoff_delay(self, t: float) -> float:
        span = self.max_delay - self.min_delay
        if self.backoff == "linear":
            return self.min_delay + span * t
        if self.backoff == "arithmetic":
            return self.min_delay + span * t * t
        return float(self.min_delay * (self.max_delay / self.min_delay) ** t)


def _parsed(text: str | None) -> dict[str, Any]:
    try:
        document = json.loads(text) if text else {}
    except (ValueError, RecursionError):
        return {}
    return document if isinstance(document, dict) else {}


def policy_of(subscription_policy: str | None, topic_policy: str | None) -> HttpRetryPolicy:
    """The retry policy an http(s) subscription's deliveries follow."""
    topic_http = _parsed(topic_policy).get("http")
    topic_http = topic_http if isinstance(topic_http, dict) else {}
    own = _parsed(subscription_policy).get("healthyRetryPolicy")
    if isinstance(own, dict) and not topic_http.get("disableSubscriptionOverrides"):
        return checked(own)
    default = topic_http.get("defaultHealthyRetryPolicy")
    return checked(default) if isinstance(default, dict) else HttpRetryPolicy()


def checked(raw: dict[str, Any], prefix: str = "Invalid parameter: DeliveryPolicy: ") -> HttpRetryPolicy:
    """A ``healthyRetryPolicy`` within SNS's bounds, or InvalidParameter saying which is not."""
    values: dict[str, int] = {}
    for name in _NUMBERS:
        value = raw.get(name, _DEFAULTS[name])
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise InvalidParameterException(f"{prefix}healthyRetryPolicy.{name} must be a whole number 0 or more")
        values[name] = value
    policy = HttpRetryPolicy(
        float(values["minDelayTarget"]), float(values["maxDelayTarget"]), values["numRetries"],
        values["numNoDelayRetries"], values["numMinDelayRetries"], values["numMaxDelayRetries"],
        raw.get("backoffFunction", "linear"))
    if policy.backoff not in BACKOFF_FUNCTIONS:
        raise InvalidParameterException(f"{prefix}healthyRetryPolicy.backoffFunction must be one of "
                                        f"{', '.join(BACKOFF_FUNCTIONS)}")
    if not 1 <= policy.min_delay <= policy.max_delay <= quotas.HTTP_DELAY_MAX_S:
        raise InvalidParameterException(
            f"{prefix}healthyRetryPolicy needs 1 <= minDelayTarget <= maxDelayTarget <= {quotas.HTTP_DELAY_MAX_S:.0f}")
    if policy.retries > quotas.HTTP_RETRIES_MAX or \
            policy.no_delay + policy.min_delay_retries + policy.max_delay_retries > policy.retries:
        raise InvalidParameterException(
            f"{prefix}healthyRetryPolicy.numRetries is at most {quotas.HTTP_RETRIES_MAX} and counts "
            "the no-delay, min-delay and max-delay retries")
    offsets = policy.offsets()
    if offsets and offsets[-1] > quotas.HTTP_POLICY_TIME_MAX_S:
        raise InvalidParameterException(
            f"{prefix}the retries take {offsets[-1]:.0f} seconds; SNS allows {quotas.HTTP_POLICY_TIME_MAX_S:.0f}")
    return policy


def check_document(text: str, prefix: str) -> None:
    """A subscription's or topic's DeliveryPolicy: its retry policies within bounds."""
    document = _parsed(text)
    own = document.get("healthyRetryPolicy")
    if isinstance(own, dict):
        checked(own, f"{prefix}DeliveryPolicy: ")
    http = document.get("http")
    default = http.get("defaultHealthyRetryPolicy") if isinstance(http, dict) else None
    if isinstance(default, dict):
        checked(default, f"{prefix}DeliveryPolicy: ")


__all__ = ["BACKOFF_FUNCTIONS", "HttpRetryPolicy", "check_document", "checked", "policy_of"]
