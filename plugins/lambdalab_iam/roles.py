"""Execution roles: the check at CreateFunction, and the credentials each execution
environment starts with.

Lambda refuses a function whose role it cannot assume: "The role defined for the
function cannot be assumed by Lambda." (InvalidParameterValueException, in AWS's
CreateFunction reference and recorded by LocalStack's AWS snapshots). lambdalab checks it
once the lab's account has any IAM role: before that, a made-up role is accepted as it
always was, so labs and scripts that never touch IAM keep working (see
``docs/explanation/differences.rst``). A role of another account is never checked.

On AWS, Lambda assumes the function's role when it starts an environment and hands the
handler the session's keys in ``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY`` /
``AWS_SESSION_TOKEN``, the session named after the function
(https://docs.aws.amazon.com/lambda/latest/dg/lambda-intro-execution-role.html). Here too,
when the role exists in the lab's IAM and trusts ``lambda.amazonaws.com``; otherwise the
environment keeps lambdalab's placeholder keys, which the edge takes as the account's root.
"""

from __future__ import annotations

from typing import Callable

import lambdalab
from lambdalab import FunctionConfiguration
from lambdalab.plugin import InvalidParameterValueException

from . import sts
from .models import Iam, Role

LAMBDA_SERVICE = "lambda.amazonaws.com"


#: What Lambda answers when it cannot assume a function's role.
UNASSUMABLE = "The role defined for the function cannot be assumed by Lambda."


def assumable_by_lambda(iam: Iam, role_arn: str, function_arn: str | None = None) -> Role | None:
    """The role if it exists and its trust policy lets Lambda assume it for the function
    (``aws:SourceAccount`` the account, ``aws:SourceArn`` the function's ARN: the keys
    a trust policy guarding against the confused deputy conditions on,
    https://docs.aws.amazon.com/IAM/latest/UserGuide/confused-deputy.html)."""
    role = iam.role_by_arn(role_arn)
    context = {"aws:SourceArn": function_arn} if function_arn else None
    if role is None or not sts.trusts(role, sts.root_identity(iam.account), LAMBDA_SERVICE, context):
        return None
    return role


def check_execution_role(iam: Iam, role_arn: str, function_arn: str | None = None) -> None:
    """Refuse ``role_arn`` as Lambda does, once the account has IAM roles."""
    if not role_arn.startswith(f"arn:aws:iam::{iam.account}:role/") or not iam.has_roles():
        return
    if assumable_by_lambda(iam, role_arn, function_arn) is None:
        raise InvalidParameterValueException(UNASSUMABLE)


class ExecutionRoles:
    """The per-lab ``lambdalab_runtime_environment`` implementation (the hook carries no
    lab, so each lab's plugin manager gets its own, bound to that lab's account's IAM)."""

    def __init__(self, iam_of_lab: Callable[[], Iam]) -> None:
        self.iam_of_lab = iam_of_lab

    @property
    def iam(self) -> Iam:
        return self.iam_of_lab()

    @lambdalab.hookimpl
    def lambdalab_runtime_environment(self, config: FunctionConfiguration) -> dict[str, str] | None:
        """The role's session keys; a role IAM keeps that no longer lets Lambda assume it
        for this function (its trust policy changed) fails the start, as on AWS; a role
        IAM does not keep runs with the placeholder keys."""
        function_arn = ":".join(config.function_arn.split(":")[:7])  # unqualified
        role = assumable_by_lambda(self.iam, config.role, function_arn)
        if role is None:
            if self.iam.role_by_arn(config.role) is not None:
                raise InvalidParameterValueException(UNASSUMABLE)
            return None
        session = self.iam.new_session(role, config.function_name, role.max_session)
        return {"AWS_ACCESS_KEY_ID": session.access_key_id,
                "AWS_SECRET_ACCESS_KEY": session.secret,
                "AWS_SESSION_TOKEN": session.token}
