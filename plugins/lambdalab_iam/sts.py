"""STS: who is calling (GetCallerIdentity), and temporary credentials (AssumeRole).

https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html: the role's
trust policy must allow the caller ``sts:AssumeRole``. Until the policy evaluator of
issue 22's enforcement work is merged, the check here is the trust policy's own: an
``Allow`` statement for ``sts:AssumeRole`` whose ``Principal`` names the caller (its
ARN, its account or account root ARN, or ``*``), and no ``Deny`` statement that does;
``Condition`` blocks are not evaluated (see ``docs/explanation/differences.rst``).
"""

from __future__ import annotations

import json
from typing import Any

from . import grammar, quotas
from .exceptions import AccessDenied, ExpiredToken, ValidationError
from .identities import ACCOUNT, Identity
from .models import Iam, Role, Session

ASSUME_ROLE = "sts:AssumeRole"


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


def names(statement: dict[str, Any], caller: Identity, service: str | None) -> bool:
    """Whether a trust statement's ``Principal`` names the caller (or the service)."""
    if service is not None:
        return service in grammar.principals(statement, "Service")
    named = grammar.principals(statement, "AWS")
    session_role = caller.role_arn
    return any(p in ("*", caller.account, f"arn:aws:iam::{caller.account}:root", caller.arn,
                     session_role) for p in named)


def trusts(role: Role, caller: Identity, service: str | None = None) -> bool:
    """Whether ``role``'s trust policy lets ``caller`` (or ``service``,
    ``lambda.amazonaws.com``) assume it."""
    document = json.loads(role.trust)
    relevant = [s for s in grammar.statements(document)
                if grammar.actions_match(s, ASSUME_ROLE) and names(s, caller, service)]
    return (any(s["Effect"] == "Allow" for s in relevant)
            and not any(s["Effect"] == "Deny" for s in relevant))


def duration(role: Role, asked: int | None) -> int:
    seconds = quotas.SESSION_DURATION_DEFAULT_S if asked is None else asked
    if seconds > role.max_session:
        raise ValidationError(
            f"The requested DurationSeconds exceeds the MaxSessionDuration set for this role "
            f"({role.max_session} s).")
    return seconds


def assume_role(iam: Iam, caller: Identity, role_arn: str, session_name: str,
                asked_duration: int | None) -> Session:
    role = iam.role_by_arn(role_arn)
    if role is None or not trusts(role, caller):
        raise AccessDenied(f"User: {caller.arn} is not authorized to perform: {ASSUME_ROLE} "
                           f"on resource: {role_arn}")
    return iam.new_session(role, session_name, duration(role, asked_duration))


def credentials_aws(session: Session) -> dict[str, Any]:
    return {"AccessKeyId": session.access_key_id, "SecretAccessKey": session.secret,
            "SessionToken": session.token, "Expiration": session.expires}
