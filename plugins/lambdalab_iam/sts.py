"""STS: who is calling (GetCallerIdentity), and temporary credentials (AssumeRole).

https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html: the role's
trust policy must allow the caller ``sts:AssumeRole``, read by the policy evaluator
(:func:`lambdalab.iam_policy.trust_allows`) with its ``Condition`` blocks and the
request's keys (``sts:ExternalId``, ``sts:RoleSessionName``, ``aws:PrincipalArn``…; for
Lambda assuming an execution role, ``aws:SourceAccount``). Whether the caller also needs
an identity-based policy allowing ``sts:AssumeRole`` (not when the trust policy names
its ARN) is decided by the edge when the lab enforces IAM, the trust policy being the
role's resource policy (``lambdalab.protocol.authorize``).
"""

from __future__ import annotations

import json
from typing import Any, Mapping

from lambdalab.plugin import iam_policy

from . import quotas
from .exceptions import AccessDenied, ExpiredToken, ValidationError
from .identities import ACCOUNT, Identity
from .models import Iam, Role, Session

ASSUME_ROLE = "sts:AssumeRole"
#: What a trust policy must also allow for AssumeRole to pass session tags
#: (https://docs.aws.amazon.com/IAM/latest/UserGuide/id_session-tags.html#id_session-tags_permissions-required).
TAG_SESSION = "sts:TagSession"


def root_identity(account: str) -> Identity:
    """The account's root: who an unsigned request, or a key IAM did not issue, is."""
    return Identity(f"arn:aws:iam::{account}:root", ACCOUNT, account, account)


def caller_identity(iam: Iam, access_key_id: str | None) -> Identity:
    """Who signed with ``access_key_id``: its user or role session, else the root.
    Temporary credentials past their expiry are refused, as STS refuses them."""
    found = iam.identity_for_key(access_key_id) if access_key_id else None
    if found is None and access_key_id and iam.session(access_key_id, expired=True):
        raise ExpiredToken("The security token included in the request is expired")
    return found or root_identity(iam.account)


def trusts(role: Role, caller: Identity, service: str | None = None,
           context: Mapping[str, Any] | None = None, action: str = ASSUME_ROLE) -> bool:
    """Whether ``role``'s trust policy lets ``caller`` (or ``service``,
    ``lambda.amazonaws.com``, for ``caller``'s account) assume it (or, with ``action``
    ``sts:TagSession``, tag the session)."""
    keys: dict[str, Any] = {"aws:SourceAccount": caller.account} if service else {
        "aws:PrincipalArn": caller.arn, "aws:PrincipalAccount": caller.account, "aws:PrincipalType": caller.type}
    request = iam_policy.Request(service or caller.arn, action, role.arn,
                                 None if service else caller.account, role.arn.split(":")[4],
                                 {**keys, **(context or {})})
    return iam_policy.trust_allows(request, json.loads(role.trust)).allowed


def duration(role: Role, asked: int | None) -> int:
    seconds = quotas.SESSION_DURATION_DEFAULT_S if asked is None else asked
    if seconds > role.max_session:
        raise ValidationError(
            f"The requested DurationSeconds exceeds the MaxSessionDuration set for this role "
            f"({role.max_session} s).")
    return seconds


def assume_role(iam: Iam, caller: Identity, role_arn: str, session_name: str,
                asked_duration: int | None, context: Mapping[str, str] | None = None, *,
                policy: str | None = None, policy_arns: list[str] | None = None,
                tags: dict[str, str] | None = None) -> Session:
    """A session of the role, if its trust policy allows ``caller`` under ``context`` (the
    request's condition keys: ``sts:ExternalId``…). ``policy`` and ``policy_arns`` are
    session policies: the session may do only what both they and the role allow.
    ``tags`` are session tags: the trust policy must allow ``sts:TagSession`` too."""
    if len(policy_arns or []) > quotas.SESSION_POLICY_ARNS_MAX:
        raise ValidationError(f"PolicyArns: at most {quotas.SESSION_POLICY_ARNS_MAX} managed session policies.")
    role = iam.role_by_arn(role_arn)
    if role is None or not trusts(role, caller, context=context):
        raise AccessDenied(f"User: {caller.arn} is not authorized to perform: {ASSUME_ROLE} "
                           f"on resource: {role_arn}")
    tag_keys: dict[str, Any] = {"aws:TagKeys": list(tags or {}),
                                **{f"aws:RequestTag/{key}": value for key, value in (tags or {}).items()}}
    if tags and not trusts(role, caller, context={**(context or {}), **tag_keys}, action=TAG_SESSION):
        raise AccessDenied(f"User: {caller.arn} is not authorized to perform: {TAG_SESSION} "
                           f"on resource: {role_arn}")
    return iam.new_session(role, session_name, duration(role, asked_duration), policy, policy_arns, tags)


def credentials_aws(session: Session) -> dict[str, Any]:
    return {"AccessKeyId": session.access_key_id, "SecretAccessKey": session.secret,
            "SessionToken": session.token, "Expiration": session.expires}
