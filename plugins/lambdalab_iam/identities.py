"""Who is calling, and what their policies say: the interface policy enforcement reads.

An enforcement point (the ``iamauth`` work of issue 22) has a request's SigV4 access key
id and needs the principal behind it and the identity-based policies to evaluate
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html).
These three functions are all it needs, and they stay stable::

    identity = identity_for_key(lab, "AKIA...")       # None: a key IAM did not issue
    documents = policies_of(lab, identity.arn)          # each a parsed policy document
    trust = trust_policy_of(lab, "arn:aws:iam::123456789012:role/app")

A user's key gives the user; a temporary key from ``AssumeRole`` gives the assumed role
session (``arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION``), whose policies are its
role's; a temporary key past its expiry on the lab's clock gives ``None``, as does a
key IAM never issued (lambdalab then treats the caller as the account's root, as
before IAM existed).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lambdalab import Lab

#: ``aws:PrincipalType`` values
#: (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-principaltype).
USER = "User"
ASSUMED_ROLE = "AssumedRole"
ACCOUNT = "Account"


@dataclass(frozen=True)
class Identity:
    """A principal as STS's GetCallerIdentity names it."""

    #: ``arn:aws:iam::ACCOUNT:user/NAME``, ``arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION``
    #: or ``arn:aws:iam::ACCOUNT:root``.
    arn: str
    #: ``"User"``, ``"AssumedRole"`` or ``"Account"`` (``aws:PrincipalType``; the
    #: constants ``USER``, ``ASSUMED_ROLE``, ``ACCOUNT``).
    type: str
    account: str
    #: GetCallerIdentity's ``UserId``: ``AIDA…`` for a user, ``AROA…:SESSION`` for a
    #: role session, the account id for the root.
    user_id: str
    #: The role an assumed-role session acts as (its policies are the role's), else ``None``.
    role_arn: str | None = None
    #: The access key id the identity was read from.
    access_key_id: str | None = None


def identity_for_key(lab: Lab, access_key_id: str) -> Identity | None:
    """The principal whose access key (long-term ``AKIA…`` or temporary ``ASIA…``) this
    is, or ``None`` when IAM did not issue it, it is inactive, or it has expired."""
    from . import iam

    return iam(lab).identity_for_key(access_key_id)


def policies_of(lab: Lab, principal_arn: str) -> list[dict[str, Any]]:
    """The identity-based policy documents of a user, a role or an assumed-role session
    (attached managed policies' default versions, then inline policies; a user's groups'
    too), each parsed.
    ``[]`` for a principal IAM does not know (the root: it needs none)."""
    from . import iam

    return iam(lab).policies_of(principal_arn)


def trust_policy_of(lab: Lab, role_arn: str) -> dict[str, Any] | None:
    """The role's trust policy (``AssumeRolePolicyDocument``), parsed; ``None`` when
    there is no such role."""
    from . import iam

    return iam(lab).trust_policy_of(role_arn)


__all__ = ["ACCOUNT", "ASSUMED_ROLE", "USER", "Identity", "identity_for_key", "policies_of",
           "trust_policy_of"]
