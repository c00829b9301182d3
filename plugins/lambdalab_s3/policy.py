"""Bucket policies: checked as PutBucketPolicy checks them, kept per bucket, and given to
an enforcing lab as the bucket's resource-based policy.

A bucket policy is a resource-based policy: each statement names its ``Principal`` and
resources of its own bucket only, ``arn:aws:s3:::BUCKET`` and ``arn:aws:s3:::BUCKET/KEY``
(https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucket-policies.html). S3 refuses
what it cannot accept with ``MalformedPolicy`` and a sentence naming the part
(:func:`check_policy`); a policy over 20 KB is ``PolicyTooLarge``.

Under enforced IAM, :func:`lambdalab_resource_policy` answers for the bucket's ARN and
every object ARN in it, so :func:`lambdalab.iam_policy.evaluate` decides each request to
the bucket with the caller's identity policies and this one, as S3 does
(https://docs.aws.amazon.com/AmazonS3/latest/userguide/how-s3-evaluates-access-control.html).

:func:`is_public` is GetBucketPolicyStatus's ``IsPublic``: S3's "meaning of public"
(https://docs.aws.amazon.com/AmazonS3/latest/userguide/access-control-block-public-access.html#access-control-block-public-access-policy-status).
"""

from __future__ import annotations

import functools
import json
import re
from typing import TYPE_CHECKING, Any, Mapping

import lambdalab
from lambdalab.plugin import iam_policy, lab_of_region

from . import quotas
from .exceptions import MalformedPolicy, PolicyTooLarge

if TYPE_CHECKING:
    from lambdalab import Lab

#: The policy language versions (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_version.html).
VERSIONS = ("2012-10-17", "2008-10-17")
EFFECTS = ("Allow", "Deny")
#: Principal kinds a bucket policy may name.
PRINCIPAL_KINDS = ("AWS", "Service", "CanonicalUser", "Federated")
#: An ``AWS`` principal: an account id, or an IAM or STS ARN.
_AWS_PRINCIPAL = re.compile(
    r"\d{12}|arn:aws[a-z-]*:iam::\d{12}:(?:root|user/.+|role/.+|group/.+)"
    r"|arn:aws[a-z-]*:sts::\d{12}:(?:assumed-role|federated-user)/.+")
_SERVICE_PRINCIPAL = re.compile(r"[a-z0-9.*-]+\.amazonaws\.com(?:\.cn)?")
#: An S3 action (or a pattern of them): ``s3:GetObject``, ``s3:Get*``, ``*``.
_ACTION = re.compile(r"\*|s3:[A-Za-z*?]+", re.IGNORECASE)
#: S3's resources: the bucket part (up to the first ``/``) and whether a key part follows.
_RESOURCE = re.compile(r"arn:aws[a-z-]*:s3:::(?P<bucket>[^/]+)(?P<object>/.*)?")

MESSAGES = {
    "first_byte": "Policies must be valid JSON and the first byte must be '{'",
    "json": "This policy contains invalid Json",
    "version": "The policy must contain a valid version string",
    "no_statement": "Missing required field Statement",
    "empty": "Could not parse the policy: Statement is empty!",
    "resource": "Policy has invalid resource",
    "principal": "Invalid principal in policy",
    "action": "Policy has invalid action",
    "mismatch": "Action does not apply to any resource(s) in statement",
}


def _malformed(what: str) -> MalformedPolicy:
    return MalformedPolicy(MESSAGES[what])


# -- PutBucketPolicy's checks ----------------------------------------------------------


def check_policy(lab: "Lab", bucket: str, text: str) -> dict[str, Any]:
    """The policy document of ``text``, for ``bucket``, as S3 accepts it.

    :raises PolicyTooLarge: over :data:`~lambdalab_s3.quotas.S3_BUCKET_POLICY_MAX_BYTES`.
    :raises MalformedPolicy: with S3's sentence for what is wrong.
    """
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > quotas.S3_BUCKET_POLICY_MAX_BYTES:
        raise PolicyTooLarge("Policy exceeds the maximum allowed document size.",
                             MaxSizeAllowed=str(quotas.S3_BUCKET_POLICY_MAX_BYTES))
    if not text.lstrip().startswith("{"):
        raise _malformed("first_byte")
    try:
        document = json.loads(text)
    except (ValueError, RecursionError):
        raise _malformed("json") from None
    if "Version" in document and document["Version"] not in VERSIONS:
        raise _malformed("version")
    statements = document.get("Statement")
    if statements is None:
        raise _malformed("no_statement")
    statements = [statements] if isinstance(statements, dict) else statements
    if not isinstance(statements, list) or not statements:
        raise _malformed("empty" if statements == [] else "json")
    for statement in statements:
        _check_statement(lab, bucket, statement)
    return document


def _strings(value: Any) -> list[str]:
    """A policy element's values (one string, or a list of strings); a value of any
    other type is malformed JSON for a policy."""
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list) or not values or not all(isinstance(v, str) for v in values):
        raise _malformed("json")
    return values


def _required(statement: Mapping[str, Any], *names: str) -> Any:
    for name in names:
        if name in statement:
            return statement[name]
    raise MalformedPolicy(f"Missing required field {names[0]}")


def _check_statement(lab: "Lab", bucket: str, statement: Any) -> None:
    if not isinstance(statement, dict):
        raise _malformed("json")
    effect = _required(statement, "Effect")
    if effect not in EFFECTS:
        raise MalformedPolicy(f"Invalid effect: {str(effect)[:64]}")
    _check_principal(lab, _required(statement, "Principal", "NotPrincipal"))
    actions = _strings(_required(statement, "Action", "NotAction"))
    if not all(_ACTION.fullmatch(a) for a in actions):
        raise _malformed("action")
    resources = _strings(_required(statement, "Resource", "NotResource"))
    kinds = {_resource_kind(bucket, r) for r in resources}
    if "Action" in statement and "Resource" in statement:
        _check_reach(actions, kinds)
    if "Condition" in statement and not _is_condition_block(statement["Condition"]):
        raise _malformed("json")


def _check_principal(lab: "Lab", principal: Any) -> None:
    if principal == "*":
        return
    if not isinstance(principal, dict) or not principal:
        raise _malformed("principal")
    for kind, values in principal.items():
        if kind not in PRINCIPAL_KINDS:
            raise _malformed("principal")
        for value in _strings(values):
            if kind == "AWS" and value != "*" and not (
                    _AWS_PRINCIPAL.fullmatch(value) and _known(lab, value)):
                raise _malformed("principal")
            if kind == "Service" and not _SERVICE_PRINCIPAL.fullmatch(value):
                raise _malformed("principal")


def _known(lab: "Lab", arn: str) -> bool:
    """Whether a role ARN of the lab's account names a role IAM keeps (S3 refuses a
    principal that does not exist); other principals are taken as written."""
    if f":iam::{lab.arns.account_id}:role/" not in arn:
        return True
    return lab.plugin_manager.hook.lambdalab_role_policies(lab=lab, role_arn=arn) is not None


def _resource_kind(bucket: str, resource: str) -> str:
    """``bucket`` or ``object``: which of ``bucket``'s resources an ARN pattern names."""
    if resource == "*":
        return "any"
    found = _RESOURCE.fullmatch(resource)
    if found is None or not _pattern_matches(found["bucket"], bucket):
        raise _malformed("resource")
    return "object" if found["object"] else "bucket"


def _pattern_matches(pattern: str, name: str) -> bool:
    return iam_policy.string_like(pattern, name)


#: Actions on objects (the Service Authorization Reference's ``object`` resource type),
#: as opposed to those on the bucket.
_OBJECT_ACTION = re.compile(r"s3:(?:.*Object.*|AbortMultipartUpload|ListMultipartUploadParts)",
                            re.IGNORECASE)
#: Actions on no bucket at all, which a bucket policy can never grant.
_ACCOUNT_ACTIONS = frozenset({"s3:listallmybuckets", "s3:createjob", "s3:putaccesspointpublicaccessblock",
                              "s3:getaccesspointpublicaccessblock"})


def _check_reach(actions: list[str], kinds: set[str]) -> None:
    """Each exact action names a resource of its kind among the statement's resources."""
    if "any" in kinds:
        return
    for action in actions:
        if "*" in action or "?" in action:
            continue
        kind = "object" if _OBJECT_ACTION.fullmatch(action) else "bucket"
        if action.lower() in _ACCOUNT_ACTIONS or kind not in kinds:
            raise _malformed("mismatch")


def _is_condition_block(block: Any) -> bool:
    return isinstance(block, dict) and all(
        isinstance(keys, dict) and all(isinstance(v, (str, bool, int, float, list)) for v in keys.values())
        for keys in block.values())


# -- GetBucketPolicyStatus -------------------------------------------------------------

#: Condition keys that, fixed to a value, make a statement non-public.
FIXING_KEYS = frozenset({
    "aws:sourcearn", "aws:sourcevpc", "aws:sourcevpce", "aws:sourceowner", "aws:sourceaccount",
    "s3:x-amz-server-side-encryption-aws-kms-key-id", "aws:userid", "aws:principalaccount",
    "aws:principalorgid", "aws:principalarn", "aws:sourceip",
})
#: Operators that fix a key to the values they name (wildcards aside).
_FIXING_OPERATORS = re.compile(r"(?:StringEquals|StringEqualsIgnoreCase|ArnEquals|ArnLike|StringLike|IpAddress)")


def is_public(document: Mapping[str, Any]) -> bool:
    """Whether an ``Allow`` statement grants to everyone (``Principal`` ``*`` or
    ``{"AWS": "*"}``, or ``NotPrincipal``) without a condition fixing the source or the
    principal to values of its own (a fixed ``aws:SourceArn``, ``aws:SourceAccount``,
    ``aws:SourceIp`` range, ``aws:PrincipalAccount``…)."""
    statements = document.get("Statement")
    listed = [statements] if isinstance(statements, dict) else statements
    return any(_public_statement(s) for s in listed or [] if isinstance(s, dict))


def _public_statement(statement: Mapping[str, Any]) -> bool:
    if statement.get("Effect") != "Allow":
        return False
    principal = statement.get("Principal")
    everyone = "NotPrincipal" in statement or principal == "*" or (
        isinstance(principal, dict) and "*" in _values(principal.get("AWS")))
    return everyone and not _fixed(statement.get("Condition"))


def _values(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else [v for v in value if isinstance(v, str)] \
        if isinstance(value, list) else []


def _fixed(block: Any) -> bool:
    if not isinstance(block, dict):
        return False
    for operator, keys in block.items():
        if not isinstance(keys, dict) or not _FIXING_OPERATORS.fullmatch(str(operator).removesuffix("IfExists")):
            continue
        for key, wanted in keys.items():
            values = _values(wanted)
            if str(key).lower() in FIXING_KEYS and values and not any(
                    "*" in v or "?" in v or v.endswith("/0") for v in values):
                return True
    return False


# -- the enforcing lab's resource-based policy ------------------------------------------


@functools.lru_cache(maxsize=256)
def parsed(text: str) -> dict[str, Any] | None:
    """The document of a stored policy, one object per text (the evaluator compiles each
    document object once)."""
    try:
        document = json.loads(text)
    except ValueError:
        return None
    return document if isinstance(document, dict) else None


def bucket_of(resource_arn: str) -> str | None:
    """``photos`` for ``arn:aws:s3:::photos`` and ``arn:aws:s3:::photos/a/b.jpg``."""
    if not resource_arn.startswith("arn:aws:s3:::"):
        return None
    return resource_arn[len("arn:aws:s3:::"):].split("/", 1)[0] or None


def policy_text(lab: "Lab", bucket: str) -> str | None:
    """The policy of ``bucket``, kept by whichever region's lab holds it."""
    from .backend import S3

    s3 = S3.of(lab)
    held, text = s3.store.held_policy(bucket)
    if held:
        return text
    region = s3.directory.region_of(bucket)
    holder = lab_of_region(lab, region) if region is not None and region != s3.region else None
    return None if holder is None else S3.of(holder).store.policy(bucket)


@lambdalab.hookimpl
def lambdalab_resource_policy(lab: "Lab", resource_arn: str) -> dict[str, Any] | None:
    """A bucket's policy for the bucket's ARN and for every object ARN in it."""
    bucket = bucket_of(resource_arn)
    if bucket is None:
        return None
    text = policy_text(lab, bucket)
    return parsed(text) if text else None


__all__ = ["MESSAGES", "bucket_of", "check_policy", "is_public", "lambdalab_resource_policy", "parsed",
           "policy_text"]
