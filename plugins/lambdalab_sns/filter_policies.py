"""Subscription filter policies: which published messages a subscription receives.

A filter policy is an event filter pattern (:mod:`lambdalab.event_filters`, the syntax
Lambda's FilterCriteria share) matched against the message attributes
(``FilterPolicyScope: MessageAttributes``, the default) or against the message body
parsed as JSON (``MessageBody``)
(https://docs.aws.amazon.com/sns/latest/dg/sns-message-filtering.html). For attributes,
a ``String`` attribute is a string, a ``Number`` a number, a ``String.Array`` the list
its JSON holds (one of its items must match), and a ``Binary`` attribute is ignored,
as SNS ignores it. A message without a policy's attributes, or a body that is not a JSON
object, does not match (unless the policy asks only that keys do not exist).
"""

from __future__ import annotations

import json
from typing import Any, Mapping, NoReturn

from lambdalab.plugin import event_filters

from . import quotas
from .exceptions import InvalidParameterException

SCOPES = ("MessageAttributes", "MessageBody")


def check_scope(scope: str) -> None:
    if scope not in SCOPES:
        raise InvalidParameterException(
            f"Invalid parameter: FilterPolicyScope: Invalid filter policy scope {scope!r}; "
            f"use {' or '.join(SCOPES)}.")


def check_filter_policy(text: str, scope: str) -> dict[str, Any]:
    """The policy ``text`` holds; SNS's InvalidParameter when it is not a valid one."""
    if len(text.encode()) > quotas.FILTER_POLICY_MAX_BYTES:
        _refuse(f"Filter policy is larger than {quotas.FILTER_POLICY_MAX_BYTES} bytes")
    try:
        policy = json.loads(text)
    except (ValueError, RecursionError):
        _refuse("the filter policy is not valid JSON")
    reason = event_filters.problem(policy)
    if reason:
        _refuse(reason)
    if scope == "MessageAttributes" and _nested(policy):
        _refuse("Filter policy scope MessageAttributes does not support nested filter policy")
    if _keys(policy) > quotas.FILTER_POLICY_KEYS_MAX:
        _refuse(f"Filter policy can not have more than {quotas.FILTER_POLICY_KEYS_MAX} keys")
    if event_filters.combinations(policy) > quotas.FILTER_POLICY_COMBINATIONS_MAX:
        _refuse("Filter policy is too complex (more than "
                f"{quotas.FILTER_POLICY_COMBINATIONS_MAX} value combinations)")
    return policy


def _refuse(reason: str) -> NoReturn:
    raise InvalidParameterException(f"Invalid parameter: FilterPolicy: {reason}")


def _nested(policy: Mapping[str, Any]) -> bool:
    return any(isinstance(v, dict) or (k == "$or" and any(_nested(b) for b in v))
               for k, v in policy.items())


def _keys(policy: Mapping[str, Any]) -> int:
    """The distinct leaf keys of ``policy`` (its ``$or`` branches' included)."""
    def leaves(pattern: Mapping[str, Any], path: str) -> set[str]:
        out: set[str] = set()
        for key, rule in pattern.items():
            if key == "$or":
                for branch in rule:
                    out |= leaves(branch, path)
            elif isinstance(rule, dict):
                out |= leaves(rule, f"{path}{key}.")
            else:
                out.add(path + key)
        return out
    return len(leaves(policy, ""))


def attributes_event(attributes: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """Message attributes as the object an attribute policy is matched against."""
    event: dict[str, Any] = {}
    for name, attribute in attributes.items():
        kind = attribute.get("DataType", "")
        value = attribute.get("StringValue")
        if kind.startswith("Binary") or value is None:
            continue
        if kind.startswith("Number"):
            event[name] = float(value)
        elif kind.startswith("String.Array"):
            event[name] = json.loads(value)
        else:
            event[name] = value
    return event


def policy_matches(policy: Mapping[str, Any] | None, scope: str, message: str,
                   attributes: Mapping[str, Mapping[str, Any]]) -> bool:
    """Whether a message reaches a subscription with ``policy`` (none: every message)."""
    if not policy:
        return True
    if scope == "MessageBody":
        try:
            body = json.loads(message)
        except (ValueError, RecursionError):
            return False
        return isinstance(body, dict) and event_filters.matches(policy, body)
    return event_filters.matches(policy, attributes_event(attributes))
