"""lambdalab's IAM and STS: roles, users, policies and keys, and who is calling.

A built-in plugin, registered by entry point exactly as a student's would be. It keeps
IAM's entities in the home region's lab's database, once for every region, since IAM is
a global service (https://docs.aws.amazon.com/IAM/latest/UserGuide/intro-structure.html;
rows an older lambdalab kept per region move there, :mod:`lambdalab_iam.regional`), serves IAM and STS on the HTTP edge (query
protocol, services ``iam`` and ``sts``), and gives every execution environment its
function's execution role as temporary credentials (``AWS_ACCESS_KEY_ID``,
``AWS_SECRET_ACCESS_KEY``, ``AWS_SESSION_TOKEN``), so a handler's SDK calls are made as
``assumed-role/ROLE/FUNCTION``
(https://docs.aws.amazon.com/lambda/latest/dg/lambda-intro-execution-role.html)::

    >>> from lambdalab_iam import iam
    >>> iam(lab).role("app").arn                                  # doctest: +SKIP
    'arn:aws:iam::123456789012:role/app'

Policy enforcement reads identities through :mod:`lambdalab_iam.identities`.
"""

from __future__ import annotations

import weakref
from typing import Any, Callable

import lambdalab
from lambdalab import Lab
from lambdalab.plugin import HttpService, Principal, StashKey, home_lab, labs_opened, open_labs

from .exceptions import (
    AccessDenied,
    DeleteConflict,
    EntityAlreadyExists,
    ExpiredToken,
    IamError,
    InvalidInput,
    LimitExceeded,
    MalformedPolicyDocument,
    NoSuchEntity,
    ValidationError,
)
from .identities import Identity, identity_for_key, policies_of, trust_policy_of
from .models import MIGRATIONS, AccessKey, Group, Iam, ManagedPolicy, Role, Session, User
from .regional import move_to_home
from .responses import IamService, StsService
from .roles import ExecutionRoles, check_execution_role

__version__ = "0.1.0"

#: The account's IAM, in the home lab's ``lab.stash``: it dies with the lab.
IAM = StashKey[Iam]()
#: In a region's lab's stash once its own IAM rows moved home (how many).
MOVED_HOME = StashKey[int]()
#: In each lab's stash: the account's IAM as :func:`iam` last found it, and how many labs
#: were open then (every request under enforcement asks: one read answers it).
FOUND = StashKey[tuple[int, Iam]]()


def iam(lab: Lab) -> Iam:
    """The IAM of ``lab``'s account: the home region's lab's, whichever region ``lab`` is."""
    opened = labs_opened(lab)
    found = lab.stash.get(FOUND, None)
    if found is not None and found[0] == opened:
        return found[1]
    shared = _home_iam(lab)
    lab.stash[FOUND] = (opened, shared)
    return shared


def _home_iam(lab: Lab) -> Iam:
    """Home's IAM, once every region open beside it moved its older rows home."""
    home = home_lab(lab)
    # A proxy: the stash must not keep the lab alive.
    shared = home.stash.setdefault(IAM, lambda: Iam(_proxy(home)))
    for other in open_labs(home):
        if other.store is not home.store:  # by store: ``home`` may be a proxy of its lab
            _moved_home(other, home)
    return shared


def _proxy(lab: Lab) -> Lab:
    return lab if isinstance(lab, weakref.ProxyType) else weakref.proxy(lab)


def _moved_home(lab: Lab, home: Lab) -> int:
    """Move what an older lambdalab kept of IAM in ``lab``'s store home, once."""
    return lab.stash.setdefault(MOVED_HOME, lambda: move_to_home(lab.store, home.store))


@lambdalab.hookimpl
def lambdalab_migrations() -> dict[str, str]:
    return MIGRATIONS


@lambdalab.hookimpl
def lambdalab_lab_started(lab: Lab) -> None:
    # The lab, not its IAM: a region's lab learns which lab is home after it started.
    lab.plugin_manager.register(ExecutionRoles(_iam_of(weakref.ref(lab))), name="iam.execution-roles")


def _iam_of(ref: "weakref.ref[Lab]") -> Callable[[], Iam]:
    """The IAM of the lab ``ref`` names, looked up at each call (the lab, once gone, has none)."""

    def of() -> Iam:
        lab = ref()
        if lab is None:
            raise ReferenceError("The lab is closed.")
        return iam(lab)

    return of


@lambdalab.hookimpl
def lambdalab_check_execution_role(lab: Lab, role: str, function_arn: str) -> None:
    check_execution_role(iam(lab), role, function_arn)


@lambdalab.hookimpl
def lambdalab_principal(lab: Lab, access_key_id: str) -> Principal | None:
    """The principal of a user's or a role session's key, for IAM enforcement."""
    return iam(lab).principal_for_key(access_key_id)


@lambdalab.hookimpl
def lambdalab_role_policies(lab: Lab, role_arn: str) -> list[dict[str, Any]] | None:
    """A function's execution role's policies, when a service acts with it."""
    if iam(lab).role_by_arn(role_arn) is None:
        return None
    return policies_of(lab, role_arn)


@lambdalab.hookimpl
def lambdalab_role_boundary(lab: Lab, role_arn: str) -> dict[str, Any] | None:
    """A function's execution role's permissions boundary, when a service acts with it."""
    return iam(lab).boundary_of(role_arn)


@lambdalab.hookimpl
def lambdalab_resource_policy(lab: Lab, resource_arn: str) -> dict[str, Any] | None:
    """A role's trust policy: the resource policy of ``sts:AssumeRole`` on it."""
    if not resource_arn.startswith("arn:aws:iam:"):
        return None
    return iam(lab).trust_policy_of(resource_arn)


@lambdalab.hookimpl
def lambdalab_http_services(lab: Lab) -> list[HttpService]:
    return [HttpService("iam", IamService(iam(lab))), HttpService("sts", StsService(iam(lab)))]


__all__ = [
    "iam",
    # identities (what enforcement reads)
    "Identity",
    "identity_for_key",
    "policies_of",
    "trust_policy_of",
    # models
    "AccessKey",
    "Group",
    "Iam",
    "ManagedPolicy",
    "Role",
    "Session",
    "User",
    # exceptions
    "IamError",
    "AccessDenied",
    "DeleteConflict",
    "EntityAlreadyExists",
    "ExpiredToken",
    "InvalidInput",
    "LimitExceeded",
    "MalformedPolicyDocument",
    "NoSuchEntity",
    "ValidationError",
]
