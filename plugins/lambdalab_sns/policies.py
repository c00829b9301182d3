"""A topic's access policy (its ``Policy`` attribute), AddPermission and RemovePermission,
and the policy checks SNS makes when it acts: a lab enforcing IAM evaluates the topic's
policy as the resource-based policy of requests to the topic, and asks a queue's policy
whether SNS may send to it
(https://docs.aws.amazon.com/sns/latest/dg/sns-access-policy-use-cases.html,
https://docs.aws.amazon.com/sns/latest/api/API_AddPermission.html,
https://docs.aws.amazon.com/sns/latest/dg/subscribe-sqs-queue-to-sns-topic.html).
"""

from __future__ import annotations

import copy
import functools
import json
from typing import TYPE_CHECKING, Any

import lambdalab
from lambdalab.plugin import iam_policy

from .exceptions import InvalidParameterException, SnsError

if TYPE_CHECKING:
    from lambdalab import Lab

#: Who SNS is in the policies of what it delivers to.
SNS_PRINCIPAL = "sns.amazonaws.com"
#: The actions AddPermission grants (https://docs.aws.amazon.com/sns/latest/api/API_AddPermission.html).
ACTIONS = ("AddPermission", "DeleteTopic", "GetDataProtectionPolicy", "GetTopicAttributes",
           "ListSubscriptionsByTopic", "ListTagsForResource", "Publish", "PutDataProtectionPolicy",
           "RemovePermission", "Receive", "SetTopicAttributes", "Subscribe")


def default_policy(arn: str, account_id: str) -> dict[str, Any]:
    """The policy SNS gives a new topic: its owner's account may use it."""
    return {
        "Version": "2008-10-17", "Id": "__default_policy_ID",
        "Statement": [{"Sid": "__default_statement_ID", "Effect": "Allow",
                       "Principal": {"AWS": "*"},
                       "Action": ["SNS:GetTopicAttributes", "SNS:SetTopicAttributes",
                                  "SNS:AddPermission", "SNS:RemovePermission",
                                  "SNS:DeleteTopic", "SNS:Subscribe",
                                  "SNS:ListSubscriptionsByTopic", "SNS:Publish"],
                       "Resource": arn,
                       "Condition": {"StringEquals": {"AWS:SourceOwner": account_id}}}],
    }


@functools.lru_cache(maxsize=256)
def parsed(text: str) -> dict[str, Any] | None:
    """The policy document of ``text``, one object per text (the evaluator compiles each
    document object once); ``None`` for text that is no JSON object."""
    try:
        document = json.loads(text)
    except (ValueError, RecursionError):
        return None
    return document if isinstance(document, dict) else None


def check_policy(text: Any) -> str:
    """A ``Policy`` attribute SNS takes: a JSON object with a list of statements."""
    document = parsed(text) if isinstance(text, str) else None
    statements = document.get("Statement") if document else None
    if isinstance(statements, dict):
        statements = [statements]
    if not isinstance(statements, list) or not all(isinstance(s, dict) for s in statements):
        raise InvalidParameterException(
            "Invalid parameter: Policy Error: a topic policy is a JSON object with a Statement "
            "list (see https://docs.aws.amazon.com/sns/latest/dg/sns-access-policy-use-cases.html)")
    return str(text)


def with_permission(document: dict[str, Any], topic_arn: str, label: Any, accounts: Any,
                    actions: Any) -> dict[str, Any]:
    """``document`` with AddPermission's statement: ``label`` its Sid."""
    if not isinstance(label, str) or not label or any(s.get("Sid") == label for s in _statements(document)):
        raise InvalidParameterException("Invalid parameter: Statement already exists"
                                        if isinstance(label, str) and label else "Invalid parameter: Label")
    if not accounts or not all(isinstance(a, str) and a.isdigit() and len(a) == 12 for a in accounts):
        raise InvalidParameterException("Invalid parameter: AWSAccountId (12-digit account ids).")
    unknown = [a for a in actions or [None] if a not in ACTIONS]
    if unknown:
        raise InvalidParameterException(
            f"Invalid parameter: Policy statement action out of service scope! ({unknown[0]!r}; "
            f"one of {', '.join(ACTIONS)})")
    principals = [f"arn:aws:iam::{account}:root" for account in accounts]
    names = [f"SNS:{action}" for action in actions]
    statement = {"Sid": label, "Effect": "Allow",
                 "Principal": {"AWS": principals[0] if len(principals) == 1 else principals},
                 "Action": names[0] if len(names) == 1 else names, "Resource": topic_arn}
    out = copy.deepcopy(document)
    out["Statement"] = [*_statements(out), statement]
    return out


def without_permission(document: dict[str, Any], label: Any) -> dict[str, Any]:
    """``document`` without the statement ``label`` (RemovePermission)."""
    kept = [s for s in _statements(document) if s.get("Sid") != label]
    if len(kept) == len(_statements(document)):
        raise InvalidParameterException(f"Invalid parameter: Label ({label!r} names no statement of the topic's policy).")
    return {**document, "Statement": kept}


def _statements(document: dict[str, Any]) -> list[dict[str, Any]]:
    statements = document.get("Statement") or []
    return [statements] if isinstance(statements, dict) else list(statements)


def sns_may_send(lab: "Lab", queue_arn: str, topic_arn: str) -> bool:
    """Whether the queue's policy lets SNS send the topic's messages to it: always, unless
    the lab enforces IAM (then the queue needs a policy allowing ``sqs:SendMessage`` to
    ``sns.amazonaws.com``, as AWS requires)."""
    if not lab.enforce_iam:
        return True
    policy = lab.plugin_manager.hook.lambdalab_resource_policy(lab=lab, resource_arn=queue_arn)
    account = lab.arns.account_id
    request = iam_policy.Request(SNS_PRINCIPAL, "sqs:SendMessage", queue_arn, None, account,
                                 {"aws:SourceArn": topic_arn, "aws:SourceAccount": account})
    return bool(iam_policy.evaluate(request, (), policy).allowed)


@lambdalab.hookimpl
def lambdalab_resource_policy(lab: "Lab", resource_arn: str) -> dict[str, Any] | None:
    """A topic's policy, for requests to the topic in a lab enforcing IAM."""
    from . import sns_of

    parts = resource_arn.split(":")
    if len(parts) != 6 or parts[2] != "sns" or parts[4] != lab.arns.account_id:
        return None
    try:
        topic = sns_of(lab).topics.get_topic(resource_arn)
    except SnsError:  # no such topic: nothing grants
        return None
    text = topic.attributes.get("Policy") or json.dumps(default_policy(topic.arn, lab.arns.account_id))
    return parsed(text)


__all__ = ["ACTIONS", "SNS_PRINCIPAL", "check_policy", "default_policy", "lambdalab_resource_policy",
           "parsed", "sns_may_send", "with_permission", "without_permission"]
