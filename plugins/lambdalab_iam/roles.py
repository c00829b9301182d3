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

import lambdalab
from lambdalab import FunctionConfiguration
from lambdalab.plugin import InvalidParameterValueException

from . import sts
from .models import Iam, Role

LAMBDA_SERVICE = "lambda.amazonaws.com"


def assumable_by_lambda(iam: Iam, role_arn: str) -> Role | None:
    """The role if it exists and its trust policy lets Lambda assume it."""
    role = iam.role_by_arn(role_arn)
    if role is None or not sts.trusts(role, sts.root_identity(iam.account), LAMBDA_SERVICE):
        return None
    return role


def check_execution_role(iam: Iam, role_arn: str) -> None:
    """Refuse ``role_arn`` as Lambda does, once the account has IAM roles."""
    if not role_arn.startswith(f"arn:aws:iam::{iam.account}:role/") or not iam.has_roles():
        return
    if assumable_by_lambda(iam, role_arn) is None:
        raise InvalidParameterValueException(
            "The role defined for the function cannot be assumed by Lambda.")


class ExecutionRoles:
    """The per-lab ``lambdalab_runtime_environment`` implementation (the hook carries no
    lab, so each lab's plugin manager gets its own, bound to that lab's IAM)."""

    def __init__(self, iam: Iam) -> None:
        self.iam = iam

    @lambdalab.hookimpl
    def lambdalab_runtime_environment(self, config: FunctionConfiguration) -> dict[str, str] | None:
        role = assumable_by_lambda(self.iam, config.role)
        if role is None:
            return None
        session = self.iam.new_session(role, config.function_name, role.max_session)
        return {"AWS_ACCESS_KEY_ID": session.access_key_id,
                "AWS_SECRET_ACCESS_KEY": session.secret,
                "AWS_SESSION_TOKEN": session.token}
