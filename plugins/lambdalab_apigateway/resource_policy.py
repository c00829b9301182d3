"""A REST API's resource policy: who may call which method, from where.

https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-resource-policies.html:
the ``policy`` of CreateRestApi or UpdateRestApi (``/policy``) is an IAM policy document
whose statements name ``execute-api:Invoke`` on method ARNs
(``arn:aws:execute-api:<region>:<account>:<api-id>/<stage>/<METHOD>/<path>``), often with
an ``aws:SourceIp`` condition. A request is evaluated against it with the lab's IAM
evaluator (:mod:`lambdalab.iam_policy`); one it does not allow answers
``403 {"Message":"User: anonymous is not authorized to perform: execute-api:Invoke on
resource: <ARN>"}``, ``with an explicit deny`` added when a statement denies, as AWS's
troubleshooting page shows
(https://repost.aws/knowledge-center/api-gateway-resource-policy-access-denied-errors).
This module never touches HTTP.
"""

from __future__ import annotations

import json
from typing import Any

from lambdalab.plugin import iam_policy

from .exceptions import BadRequestException
from .quotas import POLICY_MAX_CHARS

ANONYMOUS = "anonymous"
_INVALID = "Invalid policy document. Please check the policy syntax and try again."


def checked(text: Any) -> str:
    """The policy ``text`` (a JSON document) as the API keeps it; refused unless it is a
    JSON object with a ``Statement``."""
    if not isinstance(text, str) or len(text) > POLICY_MAX_CHARS:
        raise BadRequestException(_INVALID)
    try:
        document = json.loads(text)
    except ValueError:
        raise BadRequestException(_INVALID) from None
    if not isinstance(document, dict) or not isinstance(document.get("Statement"), (dict, list)):
        raise BadRequestException(_INVALID)
    return json.dumps(document, separators=(",", ":"))


def refusal(policy: str, method_arn: str, source_ip: str, caller: str | None, account: str) -> str | None:
    """The 403's message when ``policy`` does not let ``caller`` (an IAM ARN, ``None`` for
    an unsigned request) invoke ``method_arn`` from ``source_ip``; ``None`` when it does."""
    asked = iam_policy.Request(caller or ANONYMOUS, "execute-api:Invoke", method_arn, None, account,
                               {"aws:SourceIp": source_ip})
    result = iam_policy.evaluate(asked, [], json.loads(policy))
    if result.allowed:
        return None
    said = f"User: {caller or ANONYMOUS} is not authorized to perform: execute-api:Invoke on resource: {method_arn}"
    return said + " with an explicit deny" if result.decision is iam_policy.Decision.EXPLICIT_DENY else said
