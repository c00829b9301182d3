"""A queue's access policy (its ``Policy`` attribute) as the resource-based policy an
enforcing lab evaluates for requests to the queue
(https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-using-identity-based-policies.html).
"""

from __future__ import annotations

import functools
import json
from typing import TYPE_CHECKING, Any

import lambdalab

from .exceptions import SqsError

if TYPE_CHECKING:
    from lambdalab import Lab


@functools.lru_cache(maxsize=256)
def parsed(text: str) -> dict[str, Any] | None:
    """The policy document of ``text``, one object per text (the evaluator compiles each
    document object once); ``None`` for text that is no JSON object."""
    try:
        document = json.loads(text)
    except ValueError:
        return None
    return document if isinstance(document, dict) else None


@lambdalab.hookimpl
def lambdalab_resource_policy(lab: "Lab", resource_arn: str) -> dict[str, Any] | None:
    from . import sqs_of

    parts = resource_arn.split(":")
    if len(parts) != 6 or parts[2] != "sqs" or parts[4] != lab.arns.account_id:
        return None
    try:
        text = sqs_of(lab).queues.get_queue(parts[5]).attributes.get("Policy")
    except SqsError:  # no such queue: nothing grants
        return None
    return parsed(text) if text else None


__all__ = ["lambdalab_resource_policy", "parsed"]
