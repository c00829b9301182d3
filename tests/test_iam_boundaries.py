"""Permissions boundaries and session policies: what the evaluator decides (AWS's
evaluation logic), then the same through IAM and STS with boto3 against an enforcing
edge.

https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_boundaries.html (the
effective permissions are the intersection of identity-based policy and boundary; a
resource policy naming the user is not capped; one naming the role is) and
https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies.html#policies_session
(the session's permissions are the role's intersected with the session policies; a
resource policy naming the session itself is not capped).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

import pytest
from botocore.exceptions import ClientError

from lambdalab import Lab, VirtualClock
from lambdalab.iam_policy import Decision, PolicyType, Request, evaluate
from lambdalab.protocol.authorize import denial_message
from lambdalab.server import EdgeServer

from .edge_support import client_for, zip_of

ACCOUNT = "123456789012"
OTHER = "111122223333"
USER = f"arn:aws:iam::{ACCOUNT}:user/ana"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/app"
SESSION = f"arn:aws:sts::{ACCOUNT}:assumed-role/app/s1"
FUNCTION = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:f"


def allow(action: str, resource: str = "*") -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": action, "Resource": resource}]}


def deny(action: str) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": action, "Resource": "*"}]}


def naming(principal: str, action: str = "lambda:InvokeFunction") -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": principal}, "Action": action, "Resource": FUNCTION}]}


INVOKE = allow("lambda:InvokeFunction")
ANYTHING = allow("*")
LOGS_ONLY = allow("logs:*")

# (principal, identity policies, resource policy, boundary, session policies, decision, policy type)
CASES: list[tuple[str, list[Any], Any, Any, Any, Decision, PolicyType]] = [
    # boundary: identity ∩ boundary
    (USER, [INVOKE], None, ANYTHING, None, Decision.ALLOW, PolicyType.IDENTITY),
    (USER, [INVOKE], None, LOGS_ONLY, None, Decision.IMPLICIT_DENY, PolicyType.BOUNDARY),
    (USER, [LOGS_ONLY], None, INVOKE, None, Decision.IMPLICIT_DENY, PolicyType.IDENTITY),  # a boundary grants nothing
    (USER, [INVOKE], None, deny("lambda:*"), None, Decision.EXPLICIT_DENY, PolicyType.BOUNDARY),
    (USER, [INVOKE], None, {}, None, Decision.IMPLICIT_DENY, PolicyType.BOUNDARY),  # a boundary that allows nothing
    # a resource policy naming the user is not capped by its boundary
    (USER, [], naming(USER), LOGS_ONLY, None, Decision.ALLOW, PolicyType.IDENTITY),
    # session policies: role ∩ session
    (SESSION, [INVOKE], None, None, [ANYTHING], Decision.ALLOW, PolicyType.IDENTITY),
    (SESSION, [INVOKE], None, None, [LOGS_ONLY], Decision.IMPLICIT_DENY, PolicyType.SESSION),
    (SESSION, [INVOKE], None, None, [LOGS_ONLY, INVOKE], Decision.ALLOW, PolicyType.IDENTITY),  # any one allows
    (SESSION, [INVOKE], None, None, [], Decision.IMPLICIT_DENY, PolicyType.SESSION),
    (SESSION, [LOGS_ONLY], None, None, [INVOKE], Decision.IMPLICIT_DENY, PolicyType.IDENTITY),
    (SESSION, [INVOKE], None, None, [deny("lambda:InvokeFunction")], Decision.EXPLICIT_DENY, PolicyType.SESSION),
    # both: role's boundary and the session policy
    (SESSION, [INVOKE], None, INVOKE, [INVOKE], Decision.ALLOW, PolicyType.IDENTITY),
    (SESSION, [INVOKE], None, LOGS_ONLY, [INVOKE], Decision.IMPLICIT_DENY, PolicyType.BOUNDARY),
    # a resource policy naming the session itself: not capped
    (SESSION, [], naming(SESSION), LOGS_ONLY, [LOGS_ONLY], Decision.ALLOW, PolicyType.IDENTITY),
    # naming the role: capped by the boundary and by the session policy
    (SESSION, [], naming(ROLE), None, None, Decision.ALLOW, PolicyType.IDENTITY),
    (SESSION, [], naming(ROLE), LOGS_ONLY, None, Decision.IMPLICIT_DENY, PolicyType.BOUNDARY),
    (SESSION, [], naming(ROLE), None, [LOGS_ONLY], Decision.IMPLICIT_DENY, PolicyType.SESSION),
    (SESSION, [], naming(ROLE), INVOKE, [INVOKE], Decision.ALLOW, PolicyType.IDENTITY),
]


@pytest.mark.parametrize(("principal", "identity", "resource", "boundary", "session", "decision", "kind"), CASES)
def test_effective_permissions(principal: str, identity: list[Any], resource: Any, boundary: Any,
                               session: Any, decision: Decision, kind: PolicyType) -> None:
    request = Request(principal, "lambda:InvokeFunction", FUNCTION, ACCOUNT, ACCOUNT)
    result = evaluate(request, identity, resource, boundary=boundary, session_policies=session)
    assert result.decision is decision
    if decision is not Decision.ALLOW:
        assert result.policy_type is kind


def test_across_accounts_the_boundary_caps_the_identity_side() -> None:
    outsider = f"arn:aws:iam::{OTHER}:user/zed"
    request = Request(outsider, "lambda:InvokeFunction", FUNCTION, OTHER, ACCOUNT)
    policy = naming(outsider)
    assert evaluate(request, [INVOKE], policy, boundary=INVOKE).allowed
    result = evaluate(request, [INVOKE], policy, boundary=LOGS_ONLY)
    assert (result.decision, result.policy_type) == (Decision.IMPLICIT_DENY, PolicyType.BOUNDARY)


@pytest.mark.parametrize(("kind", "decision", "words"), [
    (PolicyType.BOUNDARY, Decision.IMPLICIT_DENY, "because no permissions boundary allows the lambda:InvokeFunction action"),
    (PolicyType.BOUNDARY, Decision.EXPLICIT_DENY, "with an explicit deny in a permissions boundary"),
    (PolicyType.SESSION, Decision.IMPLICIT_DENY, "because no session policy allows the lambda:InvokeFunction action"),
    (PolicyType.SESSION, Decision.EXPLICIT_DENY, "with an explicit deny in a session policy"),
    (PolicyType.IDENTITY, Decision.IMPLICIT_DENY, "because no identity-based policy allows the lambda:InvokeFunction action"),
])
def test_denials_name_the_policy_that_denied(kind: PolicyType, decision: Decision, words: str) -> None:
    from lambdalab.iam_policy import Result

    request = Request(USER, "lambda:InvokeFunction", FUNCTION, ACCOUNT)
    assert denial_message(request, Result(decision, kind)).endswith(words)


# -- through IAM and STS -----------------------------------------------------------------

LAB_ACCOUNT = "000000000000"


@pytest.fixture
def edge(tmp_path: Path, clock: VirtualClock) -> Iterator[EdgeServer]:
    with Lab(data_dir=tmp_path / "data", clock=clock, enforce_iam=True) as lab:
        with EdgeServer(lab, port=0) as server:
            yield server


def _denied(call: Any) -> str:
    with pytest.raises(ClientError) as denied:
        call()
    message: str = denied.value.response["Error"]["Message"]
    assert denied.value.response["Error"]["Code"] in ("AccessDeniedException", "AccessDenied")
    return message


def _text(document: dict[str, Any]) -> str:
    return json.dumps(document)


def test_a_users_boundary_caps_its_policies_until_it_is_deleted(edge: EdgeServer) -> None:
    iam = client_for(edge.url, "iam", key="test")
    logs = iam.create_policy(PolicyName="logs-only", PolicyDocument=_text(LOGS_ONLY))["Policy"]["Arn"]
    user = iam.create_user(UserName="ana", PermissionsBoundary=logs)["User"]
    assert user["PermissionsBoundary"] == {"PermissionsBoundaryType": "PermissionsBoundaryPolicy",
                                           "PermissionsBoundaryArn": logs}
    iam.put_user_policy(UserName="ana", PolicyName="all", PolicyDocument=_text(ANYTHING))
    key = iam.create_access_key(UserName="ana")["AccessKey"]
    ana = client_for(edge.url, key=key["AccessKeyId"], secret=key["SecretAccessKey"])
    assert "no permissions boundary allows the lambda:ListFunctions action" in _denied(ana.list_functions)
    assert iam.get_policy(PolicyArn=logs)["Policy"]["PermissionsBoundaryUsageCount"] == 1
    with pytest.raises(ClientError) as in_use:
        iam.delete_policy(PolicyArn=logs)
    assert in_use.value.response["Error"]["Code"] == "DeleteConflict"
    iam.delete_user_permissions_boundary(UserName="ana")
    assert "PermissionsBoundary" not in iam.get_user(UserName="ana")["User"]
    assert ana.list_functions()["Functions"] == []
    lambda_only = iam.create_policy(PolicyName="lambda", PolicyDocument=_text(allow("lambda:*")))["Policy"]["Arn"]
    iam.put_user_permissions_boundary(UserName="ana", PermissionsBoundary=lambda_only)
    assert ana.list_functions()["Functions"] == []
    ana_iam = client_for(edge.url, "iam", key=key["AccessKeyId"], secret=key["SecretAccessKey"])
    _denied(ana_iam.list_users)


def test_a_boundary_must_be_a_managed_policy_that_exists(edge: EdgeServer) -> None:
    iam = client_for(edge.url, "iam", key="test")
    missing = f"arn:aws:iam::{LAB_ACCOUNT}:policy/nope"
    with pytest.raises(ClientError) as refused:
        iam.create_role(RoleName="r", AssumeRolePolicyDocument=_text(TRUST_ROOT), PermissionsBoundary=missing)
    assert refused.value.response["Error"]["Code"] == "NoSuchEntity"
    with pytest.raises(ClientError):
        iam.get_role(RoleName="r")  # nothing half made
    iam.create_role(RoleName="r", AssumeRolePolicyDocument=_text(TRUST_ROOT))
    with pytest.raises(ClientError) as refused:
        iam.put_role_permissions_boundary(RoleName="r", PermissionsBoundary=missing)
    assert refused.value.response["Error"]["Code"] == "NoSuchEntity"
    assert refused.value.response["Error"]["Message"] == f"Scope ARN: {missing} does not exist or is not attachable."
    assert "PermissionsBoundary" not in iam.get_role(RoleName="r")["Role"]


TRUST_ROOT = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{LAB_ACCOUNT}:root"}, "Action": "sts:AssumeRole"}]}


def _session(edge: EdgeServer, service: str = "lambda", **assume: Any) -> Any:
    """Root creates role ``app`` (allowed everything in Lambda) and assumes it: a client
    of ``service`` signing with the session's keys (the edge reads the key id)."""
    iam = client_for(edge.url, "iam", key="test")
    sts = client_for(edge.url, "sts", key="test")
    role = iam.create_role(RoleName="app", AssumeRolePolicyDocument=_text(TRUST_ROOT))["Role"]
    iam.put_role_policy(RoleName="app", PolicyName="lambda", PolicyDocument=_text(allow("lambda:*")))
    keys = sts.assume_role(RoleArn=role["Arn"], RoleSessionName="s1", **assume)["Credentials"]
    return client_for(edge.url, service, key=keys["AccessKeyId"], secret=keys["SecretAccessKey"])


def test_a_session_policy_caps_the_roles_permissions(edge: EdgeServer) -> None:
    session = _session(edge, Policy=_text(allow("lambda:ListFunctions")))
    assert session.list_functions()["Functions"] == []
    message = _denied(lambda: session.get_account_settings())
    assert "no session policy allows the lambda:GetAccountSettings action" in message


def test_managed_session_policies_cap_too(edge: EdgeServer) -> None:
    iam = client_for(edge.url, "iam", key="test")
    arn = iam.create_policy(PolicyName="settings", PolicyDocument=_text(allow("lambda:GetAccountSettings")))
    session = _session(edge, PolicyArns=[{"arn": arn["Policy"]["Arn"]}])
    assert "AccountLimit" in session.get_account_settings()
    _denied(session.list_functions)


def test_a_session_policy_grants_nothing_the_role_lacks(edge: EdgeServer) -> None:
    session = _session(edge, "iam", Policy=_text(ANYTHING))
    assert "no identity-based policy allows the iam:ListRoles action" in _denied(session.list_roles)


def test_a_malformed_session_policy_is_refused(edge: EdgeServer) -> None:
    with pytest.raises(ClientError) as refused:
        _session(edge, Policy=json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "lambda:*", "Resource": "*",
             "Condition": {"StringEqualz": {"aws:username": "x"}}}]}))
    assert refused.value.response["Error"]["Code"] == "MalformedPolicyDocument"


def test_the_roles_boundary_caps_its_sessions(edge: EdgeServer) -> None:
    iam = client_for(edge.url, "iam", key="test")
    session = _session(edge)
    assert session.list_functions()["Functions"] == []
    settings = iam.create_policy(PolicyName="settings", PolicyDocument=_text(allow("lambda:GetAccountSettings")))
    iam.put_role_permissions_boundary(RoleName="app", PermissionsBoundary=settings["Policy"]["Arn"])
    assert iam.get_role(RoleName="app")["Role"]["PermissionsBoundary"]["PermissionsBoundaryArn"] == \
        settings["Policy"]["Arn"]
    assert "no permissions boundary allows" in _denied(session.list_functions)
    assert "AccountLimit" in session.get_account_settings()
    iam.delete_role_permissions_boundary(RoleName="app")
    assert session.list_functions()["Functions"] == []


def test_the_execution_roles_boundary_caps_what_a_mapping_may_poll(edge: EdgeServer) -> None:
    iam = client_for(edge.url, "iam", key="test")
    lam, sqs = client_for(edge.url, key="test"), client_for(edge.url, "sqs", key="test")
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                                                     "Action": "sts:AssumeRole"}]}
    logs = iam.create_policy(PolicyName="logs-only", PolicyDocument=_text(LOGS_ONLY))["Policy"]["Arn"]
    role = iam.create_role(RoleName="worker-role", AssumeRolePolicyDocument=_text(trust),
                           PermissionsBoundary=logs)["Role"]
    iam.attach_role_policy(RoleName="worker-role",
                           PolicyArn="arn:aws:iam::aws:policy/service-role/AWSLambdaSQSQueueExecutionRole")
    lam.create_function(FunctionName="worker", Runtime="python3.11", Role=role["Arn"], Handler="app.handler",
                        Code={"ZipFile": zip_of(app="def handler(event, context):\n    return 1\n")})
    url = sqs.create_queue(QueueName="jobs")["QueueUrl"]
    queue = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    with pytest.raises(ClientError) as refused:
        lam.create_event_source_mapping(FunctionName="worker", EventSourceArn=queue)
    assert refused.value.response["Error"]["Message"] == \
        "The provided execution role does not have permissions to call ReceiveMessage on SQS"
    iam.delete_role_permissions_boundary(RoleName="worker-role")
    assert lam.create_event_source_mapping(FunctionName="worker", EventSourceArn=queue)["UUID"]


def test_a_delegated_administrator_may_create_roles_only_with_the_boundary(edge: EdgeServer) -> None:
    """The delegation pattern of the boundaries page: ``iam:CreateRole`` allowed only
    when ``iam:PermissionsBoundary`` is the boundary the account's administrator chose."""
    iam = client_for(edge.url, "iam", key="test")
    boundary = iam.create_policy(PolicyName="dev-boundary", PolicyDocument=_text(LOGS_ONLY))["Policy"]["Arn"]
    iam.create_user(UserName="dev")
    iam.put_user_policy(UserName="dev", PolicyName="create-bounded", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Action": "iam:CreateRole", "Resource": "*",
            "Condition": {"StringEquals": {"iam:PermissionsBoundary": boundary}}}]}))
    key = iam.create_access_key(UserName="dev")["AccessKey"]
    dev = client_for(edge.url, "iam", key=key["AccessKeyId"], secret=key["SecretAccessKey"])
    _denied(lambda: dev.create_role(RoleName="free", AssumeRolePolicyDocument=_text(TRUST_ROOT)))
    other = iam.create_policy(PolicyName="other", PolicyDocument=_text(ANYTHING))["Policy"]["Arn"]
    _denied(lambda: dev.create_role(RoleName="free", AssumeRolePolicyDocument=_text(TRUST_ROOT),
                                    PermissionsBoundary=other))
    made = dev.create_role(RoleName="bounded", AssumeRolePolicyDocument=_text(TRUST_ROOT),
                           PermissionsBoundary=boundary)["Role"]
    assert made["PermissionsBoundary"]["PermissionsBoundaryArn"] == boundary


def test_session_tags_need_tag_session_in_the_trust_policy_and_become_principal_tags(edge: EdgeServer) -> None:
    """https://docs.aws.amazon.com/IAM/latest/UserGuide/id_session-tags.html: the trust
    policy must allow ``sts:TagSession``; a session tag is ``aws:PrincipalTag/KEY``."""
    iam = client_for(edge.url, "iam", key="test")
    sts = client_for(edge.url, "sts", key="test")
    role = iam.create_role(RoleName="team-role", AssumeRolePolicyDocument=_text(TRUST_ROOT),
                           Tags=[{"Key": "team", "Value": "red"}])["Role"]
    iam.put_role_policy(RoleName="team-role", PolicyName="own-team", PolicyDocument=_text(
        allow("lambda:GetFunction", f"arn:aws:lambda:*:{LAB_ACCOUNT}:function:${{aws:PrincipalTag/team}}-*")))
    tags = [{"Key": "team", "Value": "blue"}]
    with pytest.raises(ClientError) as refused:
        sts.assume_role(RoleArn=role["Arn"], RoleSessionName="s1", Tags=tags)
    assert refused.value.response["Error"]["Code"] == "AccessDenied"
    assert "sts:TagSession" in refused.value.response["Error"]["Message"]
    both = {"Version": "2012-10-17", "Statement": [{**TRUST_ROOT["Statement"][0],
                                                    "Action": ["sts:AssumeRole", "sts:TagSession"]}]}
    iam.update_assume_role_policy(RoleName="team-role", PolicyDocument=_text(both))

    def as_session(**assume: Any) -> Any:
        keys = sts.assume_role(RoleArn=role["Arn"], RoleSessionName="s1", **assume)["Credentials"]
        return client_for(edge.url, key=keys["AccessKeyId"], secret=keys["SecretAccessKey"])

    def answer(client: Any, name: str) -> str:
        with pytest.raises(ClientError) as failed:
            client.get_function(FunctionName=name)
        return str(failed.value.response["Error"]["Code"])

    blue, red = as_session(Tags=tags), as_session()  # red: the role's own tag
    assert answer(blue, "blue-app") == "ResourceNotFoundException"  # allowed, and absent
    assert answer(blue, "red-app") == "AccessDeniedException"  # the session tag wins
    assert answer(red, "red-app") == "ResourceNotFoundException"
