"""IAM's and STS's operations, served by lambdalab's protocol layer.

Both speak the query protocol (``Action=CreateRole&Version=2010-05-08``, XML answers)
and are global services: SDKs sign IAM for ``us-east-1`` whatever their region, and the
edge finds them by the SigV4 scope's service name (``iam``, ``sts``). Policy documents go
out URL-encoded, as IAM sends them; botocore decodes them into dicts. Each method takes
the operation's input as a dict and returns its output as a dict.
"""

from __future__ import annotations

import contextvars
import re
from typing import Any, Mapping

from lambdalab.plugin import ErrorCodes, HttpRequest, HttpResponse, ProtocolService, request_context

from . import sts
from .models import Group, Iam, Role, User, encoded, page

#: What IAM and STS answer for what the protocol layer refuses (their query codes).
ERRORS = ErrorCodes(validation="ValidationError", serialization="MalformedInput",
                    unknown_operation="InvalidAction", internal="ServiceFailure")

#: The SigV4 access key of the request being answered (set for the operation's thread).
CALLER_KEY: contextvars.ContextVar[str | None] = contextvars.ContextVar("iam_caller_key",
                                                                       default=None)
_CREDENTIAL = re.compile(r"Credential=([^/\s,]+)/")
_QUERY_CREDENTIAL = re.compile(r"(?:^|&)X-Amz-Credential=([^%/&]+)", re.IGNORECASE)


def access_key_of(request: HttpRequest) -> str | None:
    """The access key id a request was signed with (header or presigned query)."""
    found = (_CREDENTIAL.search(request.header("authorization") or "")
             or _QUERY_CREDENTIAL.search(request.query))
    return found[1] if found else None


def _tags(body: Mapping[str, Any]) -> list[dict[str, str]]:
    return [dict(t) for t in body.get("Tags") or []]


class IamResponses:
    """Every IAM operation lambdalab serves, named in snake_case."""

    def __init__(self, iam: Iam) -> None:
        self.iam = iam

    # -- roles ----------------------------------------------------------------------------

    def create_role(self, body: Mapping[str, Any]) -> dict[str, Any]:
        role = self.iam.create_role(body["RoleName"], body["AssumeRolePolicyDocument"],
                                    body.get("Path") or "/", body.get("Description"),
                                    body.get("MaxSessionDuration"), _tags(body), body.get("PermissionsBoundary"))
        return {"Role": role.to_aws()}

    def get_role(self, body: Mapping[str, Any]) -> dict[str, Any]:
        return {"Role": self.iam.role(body["RoleName"]).to_aws()}

    def list_roles(self, body: Mapping[str, Any]) -> dict[str, Any]:
        prefix = body.get("PathPrefix") or "/"
        roles = [r for r in self.iam.entities.all(Role) if r.path.startswith(prefix)]
        found, more = page(roles, body.get("Marker"), body.get("MaxItems"))
        return {"Roles": [r.to_aws() for r in found], **more}

    def delete_role(self, body: Mapping[str, Any]) -> dict[str, Any]:
        self.iam.delete_role(body["RoleName"])
        return {}

    def update_assume_role_policy(self, body: Mapping[str, Any]) -> dict[str, Any]:
        self.iam.update_role(body["RoleName"], trust=body["PolicyDocument"])
        return {}

    def update_role(self, body: Mapping[str, Any]) -> dict[str, Any]:
        changes = {"description": body.get("Description"), "max_session": body.get("MaxSessionDuration")}
        self.iam.update_role(body["RoleName"], **{k: v for k, v in changes.items() if v is not None})
        return {}

    def attach_role_policy(self, body: Mapping[str, Any]) -> dict[str, Any]:
        self.iam.attach(Role, body["RoleName"], body["PolicyArn"])
        return {}

    def detach_role_policy(self, body: Mapping[str, Any]) -> dict[str, Any]:
        self.iam.detach(Role, body["RoleName"], body["PolicyArn"])
        return {}

    def list_attached_role_policies(self, body: Mapping[str, Any]) -> dict[str, Any]:
        return self._attached(self.iam.role(body["RoleName"]), body)

    def put_role_policy(self, body: Mapping[str, Any]) -> dict[str, Any]:
        self.iam.put_inline(Role, body["RoleName"], body["PolicyName"], body["PolicyDocument"])
        return {}

    def get_role_policy(self, body: Mapping[str, Any]) -> dict[str, Any]:
        document = self.iam.inline(Role, body["RoleName"], body["PolicyName"])
        return {"RoleName": body["RoleName"], "PolicyName": body["PolicyName"],
                "PolicyDocument": encoded(document)}

    def delete_role_policy(self, body: Mapping[str, Any]) -> dict[str, Any]:
        self.iam.delete_inline(Role, body["RoleName"], body["PolicyName"])
        return {}

    def put_role_permissions_boundary(self, body: Mapping[str, Any]) -> dict[str, Any]:
        self.iam.set_boundary(Role, body["RoleName"], body["PermissionsBoundary"])
        return {}

    def delete_role_permissions_boundary(self, body: Mapping[str, Any]) -> dict[str, Any]:
        self.iam.set_boundary(Role, body["RoleName"], None)
        return {}

    def put_user_permissions_boundary(self, body: Mapping[str, Any]) -> dict[str, Any]:
        self.iam.set_boundary(User, body["UserName"], body["PermissionsBoundary"])
        return {}

    def delete_user_permissions_boundary(self, body: Mapping[str, Any]) -> dict[str, Any]:
        self.iam.set_boundary(User, body["UserName"], None)
        return {}

    def list_role_policies(self, body: Mapping[str, Any]) -> dict[str, Any]:
        names = sorted(self.iam.role(body["RoleName"]).inline)
        found, more = page(names, body.get("Marker"), body.get("MaxItems"))
        return {"PolicyNames": found, **more}

    # -- managed policies ----------------------------------------------------------------

    def create_policy(self, body: Mapping[str, Any]) -> dict[str, Any]:
        policy = self.iam.create_policy(body["PolicyName"], body.get("Path") or "/",
                                        body["PolicyDocument"], body.get("Description"), _tags(body))
        return {"Policy": policy.to_aws(0)}

    def get_policy(self, body: Mapping[str, Any]) -> dict[str, Any]:
        policy = self.iam.policy(body["PolicyArn"])
        return {"Policy": policy.to_aws(self.iam.attachments(policy.arn), self.iam.boundary_uses(policy.arn))}

    def get_policy_version(self, body: Mapping[str, Any]) -> dict[str, Any]:
        policy = self.iam.version(body["PolicyArn"], body["VersionId"])
        return {"PolicyVersion": policy.version_aws(body["VersionId"])}

    def create_policy_version(self, body: Mapping[str, Any]) -> dict[str, Any]:
        policy, version_id = self.iam.create_policy_version(
            body["PolicyArn"], body["PolicyDocument"], bool(body.get("SetAsDefault")))
        return {"PolicyVersion": policy.version_aws(version_id, with_document=False)}

    def list_policy_versions(self, body: Mapping[str, Any]) -> dict[str, Any]:
        policy = self.iam.policy(body["PolicyArn"])
        newest_first = sorted(policy.versions, key=lambda v: int(v[1:]), reverse=True)
        found, more = page(newest_first, body.get("Marker"), body.get("MaxItems"))
        return {"Versions": [policy.version_aws(v, with_document=False) for v in found], **more}

    def set_default_policy_version(self, body: Mapping[str, Any]) -> dict[str, Any]:
        self.iam.set_default_policy_version(body["PolicyArn"], body["VersionId"])
        return {}

    def delete_policy_version(self, body: Mapping[str, Any]) -> dict[str, Any]:
        self.iam.delete_policy_version(body["PolicyArn"], body["VersionId"])
        return {}

    def delete_policy(self, body: Mapping[str, Any]) -> dict[str, Any]:
        self.iam.delete_policy(body["PolicyArn"])
        return {}

    def list_policies(self, body: Mapping[str, Any]) -> dict[str, Any]:
        scope, prefix = body.get("Scope") or "All", body.get("PathPrefix") or "/"
        chosen = [p for p in self.iam.policies().values() if p.path.startswith(prefix) and (
            scope == "All" or (scope == "AWS") == p.aws_managed)]
        counted = [(p, self.iam.attachments(p.arn)) for p in chosen]
        if body.get("OnlyAttached"):
            counted = [(p, n) for p, n in counted if n]
        found, more = page(counted, body.get("Marker"), body.get("MaxItems"))
        return {"Policies": [p.to_aws(n) for p, n in found], **more}

    # -- users and access keys -----------------------------------------------------------

    def create_user(self, body: Mapping[str, Any]) -> dict[str, Any]:
        user = self.iam.create_user(body["UserName"], body.get("Path") or "/", _tags(body),
                                    body.get("PermissionsBoundary"))
        return {"User": user.to_aws()}

    def get_user(self, body: Mapping[str, Any]) -> dict[str, Any]:
        name = body.get("UserName")
        if name is None:
            identity = sts.caller_identity(self.iam, CALLER_KEY.get())
            if identity.type != "User":
                from .exceptions import ValidationError

                raise ValidationError("Must specify userName when calling with non-User credentials")
            name = identity.arn.rsplit("/", 1)[-1]
        return {"User": self.iam.user(name).to_aws()}

    def list_users(self, body: Mapping[str, Any]) -> dict[str, Any]:
        prefix = body.get("PathPrefix") or "/"
        users = [u for u in self.iam.entities.all(User) if u.path.startswith(prefix)]
        found, more = page(users, body.get("Marker"), body.get("MaxItems"))
        return {"Users": [u.to_aws() for u in found], **more}

    def delete_user(self, body: Mapping[str, Any]) -> dict[str, Any]:
        self.iam.delete_user(body["UserName"])
        return {}

    def create_access_key(self, body: Mapping[str, Any]) -> dict[str, Any]:
        key = self.iam.create_access_key(body["UserName"])
        return {"AccessKey": {**key.metadata_aws(), "SecretAccessKey": key.secret}}

    def list_access_keys(self, body: Mapping[str, Any]) -> dict[str, Any]:
        keys = self.iam.keys_of(self.iam.user(body["UserName"]).name)
        found, more = page(keys, body.get("Marker"), body.get("MaxItems"))
        return {"AccessKeyMetadata": [k.metadata_aws() for k in found], **more}

    def update_access_key(self, body: Mapping[str, Any]) -> dict[str, Any]:
        self.iam.update_access_key(body["UserName"], body["AccessKeyId"], body["Status"])
        return {}

    def delete_access_key(self, body: Mapping[str, Any]) -> dict[str, Any]:
        self.iam.delete_access_key(body["UserName"], body["AccessKeyId"])
        return {}

    def attach_user_policy(self, body: Mapping[str, Any]) -> dict[str, Any]:
        self.iam.attach(User, body["UserName"], body["PolicyArn"])
        return {}

    def detach_user_policy(self, body: Mapping[str, Any]) -> dict[str, Any]:
        self.iam.detach(User, body["UserName"], body["PolicyArn"])
        return {}

    def list_attached_user_policies(self, body: Mapping[str, Any]) -> dict[str, Any]:
        return self._attached(self.iam.user(body["UserName"]), body)

    def put_user_policy(self, body: Mapping[str, Any]) -> dict[str, Any]:
        self.iam.put_inline(User, body["UserName"], body["PolicyName"], body["PolicyDocument"])
        return {}

    def get_user_policy(self, body: Mapping[str, Any]) -> dict[str, Any]:
        document = self.iam.inline(User, body["UserName"], body["PolicyName"])
        return {"UserName": body["UserName"], "PolicyName": body["PolicyName"],
                "PolicyDocument": encoded(document)}

    def delete_user_policy(self, body: Mapping[str, Any]) -> dict[str, Any]:
        self.iam.delete_inline(User, body["UserName"], body["PolicyName"])
        return {}

    def list_user_policies(self, body: Mapping[str, Any]) -> dict[str, Any]:
        names = sorted(self.iam.user(body["UserName"]).inline)
        found, more = page(names, body.get("Marker"), body.get("MaxItems"))
        return {"PolicyNames": found, **more}

    # -- groups -------------------------------------------------------------------------

    def create_group(self, body: Mapping[str, Any]) -> dict[str, Any]:
        return {"Group": self.iam.create_group(body["GroupName"], body.get("Path") or "/").to_aws()}

    def get_group(self, body: Mapping[str, Any]) -> dict[str, Any]:
        group = self.iam.group(body["GroupName"])
        users = [u for u in self.iam.entities.all(User) if u.name in group.members]
        found, more = page(users, body.get("Marker"), body.get("MaxItems"))
        return {"Group": group.to_aws(), "Users": [u.to_aws() for u in found], **more}

    def list_groups(self, body: Mapping[str, Any]) -> dict[str, Any]:
        prefix = body.get("PathPrefix") or "/"
        groups = [g for g in self.iam.entities.all(Group) if g.path.startswith(prefix)]
        found, more = page(groups, body.get("Marker"), body.get("MaxItems"))
        return {"Groups": [g.to_aws() for g in found], **more}

    def list_groups_for_user(self, body: Mapping[str, Any]) -> dict[str, Any]:
        groups = self.iam.groups_of(self.iam.user(body["UserName"]).name)
        found, more = page(groups, body.get("Marker"), body.get("MaxItems"))
        return {"Groups": [g.to_aws() for g in found], **more}

    def delete_group(self, body: Mapping[str, Any]) -> dict[str, Any]:
        self.iam.delete_group(body["GroupName"])
        return {}

    def add_user_to_group(self, body: Mapping[str, Any]) -> dict[str, Any]:
        self.iam.add_user_to_group(body["GroupName"], body["UserName"])
        return {}

    def remove_user_from_group(self, body: Mapping[str, Any]) -> dict[str, Any]:
        self.iam.remove_user_from_group(body["GroupName"], body["UserName"])
        return {}

    def attach_group_policy(self, body: Mapping[str, Any]) -> dict[str, Any]:
        self.iam.attach(Group, body["GroupName"], body["PolicyArn"])
        return {}

    def detach_group_policy(self, body: Mapping[str, Any]) -> dict[str, Any]:
        self.iam.detach(Group, body["GroupName"], body["PolicyArn"])
        return {}

    def list_attached_group_policies(self, body: Mapping[str, Any]) -> dict[str, Any]:
        return self._attached(self.iam.group(body["GroupName"]), body)

    def put_group_policy(self, body: Mapping[str, Any]) -> dict[str, Any]:
        self.iam.put_inline(Group, body["GroupName"], body["PolicyName"], body["PolicyDocument"])
        return {}

    def get_group_policy(self, body: Mapping[str, Any]) -> dict[str, Any]:
        document = self.iam.inline(Group, body["GroupName"], body["PolicyName"])
        return {"GroupName": body["GroupName"], "PolicyName": body["PolicyName"],
                "PolicyDocument": encoded(document)}

    def delete_group_policy(self, body: Mapping[str, Any]) -> dict[str, Any]:
        self.iam.delete_inline(Group, body["GroupName"], body["PolicyName"])
        return {}

    def list_group_policies(self, body: Mapping[str, Any]) -> dict[str, Any]:
        names = sorted(self.iam.group(body["GroupName"]).inline)
        found, more = page(names, body.get("Marker"), body.get("MaxItems"))
        return {"PolicyNames": found, **more}

    def _attached(self, principal: Role | User | Group, body: Mapping[str, Any]) -> dict[str, Any]:
        prefix = body.get("PathPrefix") or "/"
        policies = self.iam.policies()
        chosen = [a for a in principal.attached_aws(policies)
                  if a["PolicyArn"] not in policies or policies[a["PolicyArn"]].path.startswith(prefix)]
        found, more = page(chosen, body.get("Marker"), body.get("MaxItems"))
        return {"AttachedPolicies": found, **more}


class StsResponses:
    """STS's operations lambdalab serves."""

    def __init__(self, iam: Iam) -> None:
        self.iam = iam

    def get_caller_identity(self, body: Mapping[str, Any]) -> dict[str, Any]:
        identity = sts.caller_identity(self.iam, CALLER_KEY.get())
        return {"UserId": identity.user_id, "Account": identity.account, "Arn": identity.arn}

    def assume_role(self, body: Mapping[str, Any]) -> dict[str, Any]:
        caller = sts.caller_identity(self.iam, CALLER_KEY.get())
        session = sts.assume_role(self.iam, caller, body["RoleArn"], body["RoleSessionName"],
                                  body.get("DurationSeconds"), request_context(sts.ASSUME_ROLE, body),
                                  policy=body.get("Policy"),
                                  policy_arns=[p["arn"] for p in body.get("PolicyArns") or []],
                                  tags={t["Key"]: t["Value"] for t in body.get("Tags") or []})
        return {"Credentials": sts.credentials_aws(session),
                "AssumedRoleUser": {"AssumedRoleId": session.user_id, "Arn": session.arn}}


def without_secrets(output: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """``output`` as the lab's plugins are told of it (CloudTrail records it): without a
    secret access key, which CloudTrail leaves out of CreateAccessKey and AssumeRole
    (https://docs.aws.amazon.com/IAM/latest/UserGuide/cloudtrail-integration.html)."""
    if output is None:
        return None
    return {k: without_secrets(v) if isinstance(v, Mapping) else v
            for k, v in output.items() if k != "SecretAccessKey"}


class CallerAwareService(ProtocolService):
    """A query service whose operations may ask who signed the request (:data:`CALLER_KEY`)."""

    def report(self, caller: Any, parsed: Any, output: dict[str, Any] | None, error: Any,
               request_id: str) -> None:
        super().report(caller, parsed, without_secrets(output), error, request_id)

    def handle(self, request: HttpRequest, request_id: str, caller: Any = None) -> HttpResponse:
        token = CALLER_KEY.set(access_key_of(request))
        try:
            return super().handle(request, request_id, caller)
        finally:
            CALLER_KEY.reset(token)


class IamService(CallerAwareService):
    def __init__(self, iam: Iam) -> None:
        super().__init__("iam", IamResponses(iam), errors=ERRORS)


class StsService(CallerAwareService):
    def __init__(self, iam: Iam) -> None:
        super().__init__("sts", StsResponses(iam), errors=ERRORS)
