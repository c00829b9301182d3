"""IAM as clients call it: roles, policies, users and access keys.

The judges are boto3 and the AWS CLI against ``lambdalab serve``'s edge (IAM's query
protocol, signed for us-east-1 as every SDK signs a global service).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from lambdalab import Lab, VirtualClock
from lambdalab.server import EdgeServer
from lambdalab_iam import identity_for_key, policies_of, trust_policy_of
from lambdalab_iam.models import MANAGED_POLICIES_FILE

from .edge_support import client_for, edge  # noqa: F401  (fixture)

ACCOUNT = "000000000000"
LAMBDA_TRUST = {"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
BASIC = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
READ_S3 = {"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "arn:aws:s3:::photos/*"}]}


@pytest.fixture
def iam(edge: EdgeServer) -> Any:
    return client_for(edge.url, "iam")


def code_of(error: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    response = error.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


def create_role(iam: Any, name: str = "app", trust: dict[str, Any] = LAMBDA_TRUST) -> dict[str, Any]:
    return iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]


# -- roles --------------------------------------------------------------------------------


def test_a_role_is_created_read_listed_and_deleted(iam: Any) -> None:
    role = create_role(iam)
    assert role["Arn"] == f"arn:aws:iam::{ACCOUNT}:role/app"
    assert role["RoleId"].startswith("AROA") and role["MaxSessionDuration"] == 3600
    got = iam.get_role(RoleName="app")["Role"]
    assert got["AssumeRolePolicyDocument"] == LAMBDA_TRUST  # URL-encoded on the wire, decoded by botocore
    assert [r["RoleName"] for r in iam.list_roles()["Roles"]] == ["app"]
    iam.delete_role(RoleName="app")
    with pytest.raises(ClientError) as missing:
        iam.get_role(RoleName="app")
    assert code_of(missing) == ("NoSuchEntity", 404)


def test_a_role_name_is_taken_once(iam: Any) -> None:
    create_role(iam)
    with pytest.raises(ClientError) as taken:
        create_role(iam)
    assert code_of(taken) == ("EntityAlreadyExists", 409)


@pytest.mark.parametrize("trust", [
    "{not json",
    "[]",
    json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole"}]}),
    json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
        "Action": "sts:AssumeRole", "Resource": "*"}]}),
    json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Maybe", "Principal": "*", "Action": "sts:AssumeRole"}]}),
    json.dumps({"Version": "1999-01-01", "Statement": LAMBDA_TRUST["Statement"]}),
    json.dumps({"Version": "2012-10-17", "Statement": []}),
    json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "AssumeRole"}]}),
])
def test_a_trust_policy_that_breaks_the_grammar_is_malformed_and_nothing_is_created(
        iam: Any, trust: str) -> None:
    with pytest.raises(ClientError) as refused:
        iam.create_role(RoleName="app", AssumeRolePolicyDocument=trust)
    assert code_of(refused) == ("MalformedPolicyDocument", 400)
    assert iam.list_roles()["Roles"] == []


def test_update_assume_role_policy_replaces_the_trust_and_checks_it(iam: Any) -> None:
    create_role(iam)
    anyone_here = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "sts:AssumeRole"}]}
    iam.update_assume_role_policy(RoleName="app", PolicyDocument=json.dumps(anyone_here))
    assert iam.get_role(RoleName="app")["Role"]["AssumeRolePolicyDocument"] == anyone_here
    with pytest.raises(ClientError) as refused:
        iam.update_assume_role_policy(RoleName="app", PolicyDocument="{")
    assert code_of(refused) == ("MalformedPolicyDocument", 400)
    assert iam.get_role(RoleName="app")["Role"]["AssumeRolePolicyDocument"] == anyone_here


def test_a_role_with_policies_cannot_be_deleted_until_they_are_gone(iam: Any) -> None:
    create_role(iam)
    iam.attach_role_policy(RoleName="app", PolicyArn=BASIC)
    iam.put_role_policy(RoleName="app", PolicyName="read-photos", PolicyDocument=json.dumps(READ_S3))
    assert iam.list_attached_role_policies(RoleName="app")["AttachedPolicies"] == [
        {"PolicyName": "AWSLambdaBasicExecutionRole", "PolicyArn": BASIC}]
    assert iam.list_role_policies(RoleName="app")["PolicyNames"] == ["read-photos"]
    assert iam.get_role_policy(RoleName="app", PolicyName="read-photos")["PolicyDocument"] == READ_S3
    with pytest.raises(ClientError) as attached:
        iam.delete_role(RoleName="app")
    assert code_of(attached) == ("DeleteConflict", 409)
    iam.detach_role_policy(RoleName="app", PolicyArn=BASIC)
    with pytest.raises(ClientError) as inline:
        iam.delete_role(RoleName="app")
    assert code_of(inline) == ("DeleteConflict", 409)
    iam.delete_role_policy(RoleName="app", PolicyName="read-photos")
    iam.delete_role(RoleName="app")
    assert iam.list_roles()["Roles"] == []


def test_policies_are_checked_as_identity_policies(iam: Any) -> None:
    create_role(iam)
    with_principal = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "*"}]}
    no_resource = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject"}]}
    for document in (with_principal, no_resource):
        with pytest.raises(ClientError) as refused:
            iam.put_role_policy(RoleName="app", PolicyName="p", PolicyDocument=json.dumps(document))
        assert code_of(refused) == ("MalformedPolicyDocument", 400)
    with pytest.raises(ClientError) as missing:
        iam.attach_role_policy(RoleName="app", PolicyArn=f"arn:aws:iam::{ACCOUNT}:policy/none")
    assert code_of(missing) == ("NoSuchEntity", 404)
    assert iam.list_role_policies(RoleName="app")["PolicyNames"] == []


# -- managed policies ---------------------------------------------------------------------


def test_a_customer_managed_policy_is_created_read_and_deleted_once_detached(iam: Any) -> None:
    policy = iam.create_policy(PolicyName="read-photos", PolicyDocument=json.dumps(READ_S3))["Policy"]
    arn = policy["Arn"]
    assert arn == f"arn:aws:iam::{ACCOUNT}:policy/read-photos"
    assert policy["DefaultVersionId"] == "v1" and policy["PolicyId"].startswith("ANPA")
    version = iam.get_policy_version(PolicyArn=arn, VersionId="v1")["PolicyVersion"]
    assert version["Document"] == READ_S3 and version["IsDefaultVersion"] is True
    assert [p["Arn"] for p in iam.list_policies(Scope="Local")["Policies"]] == [arn]
    create_role(iam)
    iam.attach_role_policy(RoleName="app", PolicyArn=arn)
    assert iam.get_policy(PolicyArn=arn)["Policy"]["AttachmentCount"] == 1
    with pytest.raises(ClientError) as attached:
        iam.delete_policy(PolicyArn=arn)
    assert code_of(attached) == ("DeleteConflict", 409)
    iam.detach_role_policy(RoleName="app", PolicyArn=arn)
    iam.delete_policy(PolicyArn=arn)
    with pytest.raises(ClientError) as gone:
        iam.get_policy(PolicyArn=arn)
    assert code_of(gone) == ("NoSuchEntity", 404)


def test_a_policy_gets_new_versions_and_grants_through_its_default(lab: Lab, iam: Any) -> None:
    arn = iam.create_policy(PolicyName="photos", PolicyDocument=json.dumps(READ_S3))["Policy"]["Arn"]
    iam.create_user(UserName="ana")
    iam.attach_user_policy(UserName="ana", PolicyArn=arn)
    write = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"], "Resource": "arn:aws:s3:::photos/*"}]}
    v2 = iam.create_policy_version(PolicyArn=arn, PolicyDocument=json.dumps(write))["PolicyVersion"]
    assert (v2["VersionId"], v2["IsDefaultVersion"]) == ("v2", False)
    assert policies_of(lab, f"arn:aws:iam::{ACCOUNT}:user/ana") == [READ_S3]  # v1 still grants
    iam.set_default_policy_version(PolicyArn=arn, VersionId="v2")
    assert iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"] == "v2"
    assert policies_of(lab, f"arn:aws:iam::{ACCOUNT}:user/ana") == [write]
    listed = iam.list_policy_versions(PolicyArn=arn)["Versions"]
    assert [(v["VersionId"], v["IsDefaultVersion"]) for v in listed] == [("v2", True), ("v1", False)]
    with pytest.raises(ClientError) as default:
        iam.delete_policy_version(PolicyArn=arn, VersionId="v2")
    assert code_of(default) == ("DeleteConflict", 409)
    for _ in range(3):
        iam.create_policy_version(PolicyArn=arn, PolicyDocument=json.dumps(write), SetAsDefault=True)
    with pytest.raises(ClientError) as sixth:
        iam.create_policy_version(PolicyArn=arn, PolicyDocument=json.dumps(write))
    assert code_of(sixth)[0] == "LimitExceeded"
    assert iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"] == "v5"
    iam.detach_user_policy(UserName="ana", PolicyArn=arn)
    with pytest.raises(ClientError) as versions_left:
        iam.delete_policy(PolicyArn=arn)
    assert code_of(versions_left) == ("DeleteConflict", 409)
    for version in ("v1", "v2", "v3", "v4"):
        iam.delete_policy_version(PolicyArn=arn, VersionId=version)
    with pytest.raises(ClientError) as gone:
        iam.get_policy_version(PolicyArn=arn, VersionId="v1")
    assert code_of(gone) == ("NoSuchEntity", 404)
    iam.delete_policy(PolicyArn=arn)
    with pytest.raises(ClientError) as aws_owned:
        iam.create_policy_version(PolicyArn=BASIC, PolicyDocument=json.dumps(write))
    assert code_of(aws_owned)[0] == "InvalidInput"


def test_aws_managed_policies_that_lambda_tutorials_use_are_there_with_their_documents(iam: Any) -> None:
    known = json.loads(MANAGED_POLICIES_FILE.read_text())["policies"]
    listed = {p["PolicyName"]: p for p in iam.list_policies(Scope="AWS")["Policies"]}
    for entry in known:
        arn = f"arn:aws:iam::aws:policy{entry['Path']}{entry['PolicyName']}"
        assert listed[entry["PolicyName"]]["Arn"] == arn
        version = iam.get_policy_version(PolicyArn=arn, VersionId=entry["VersionId"])["PolicyVersion"]
        assert version["Document"] == entry["Document"]
    sqs = iam.get_policy_version(
        PolicyArn="arn:aws:iam::aws:policy/service-role/AWSLambdaSQSQueueExecutionRole",
        VersionId="v1")["PolicyVersion"]["Document"]
    assert "sqs:ReceiveMessage" in sqs["Statement"][0]["Action"]
    with pytest.raises(ClientError) as refused:
        iam.delete_policy(PolicyArn=BASIC)
    assert code_of(refused)[0] == "InvalidInput"


# -- users and access keys ----------------------------------------------------------------


def test_a_user_gets_two_access_keys_and_policies(iam: Any) -> None:
    user = iam.create_user(UserName="ana")["User"]
    assert user["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/ana" and user["UserId"].startswith("AIDA")
    keys = [iam.create_access_key(UserName="ana")["AccessKey"] for _ in range(2)]
    assert all(k["AccessKeyId"].startswith("AKIA") and len(k["SecretAccessKey"]) == 40 for k in keys)
    with pytest.raises(ClientError) as third:
        iam.create_access_key(UserName="ana")
    assert code_of(third)[0] == "LimitExceeded"
    listed = iam.list_access_keys(UserName="ana")["AccessKeyMetadata"]
    assert sorted(k["AccessKeyId"] for k in listed) == sorted(k["AccessKeyId"] for k in keys)
    assert "SecretAccessKey" not in listed[0]
    iam.attach_user_policy(UserName="ana", PolicyArn="arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess")
    iam.put_user_policy(UserName="ana", PolicyName="photos", PolicyDocument=json.dumps(READ_S3))
    assert iam.get_user_policy(UserName="ana", PolicyName="photos")["PolicyDocument"] == READ_S3
    with pytest.raises(ClientError) as conflict:
        iam.delete_user(UserName="ana")
    assert code_of(conflict) == ("DeleteConflict", 409)
    for key in keys:
        iam.delete_access_key(UserName="ana", AccessKeyId=key["AccessKeyId"])
    iam.detach_user_policy(UserName="ana", PolicyArn="arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess")
    iam.delete_user_policy(UserName="ana", PolicyName="photos")
    iam.delete_user(UserName="ana")
    assert iam.list_users()["Users"] == []


def test_a_users_groups_give_it_their_policies_until_it_leaves(lab: Lab, iam: Any) -> None:
    iam.create_user(UserName="ana")
    group = iam.create_group(GroupName="readers")["Group"]
    assert group["Arn"] == f"arn:aws:iam::{ACCOUNT}:group/readers" and group["GroupId"].startswith("AGPA")
    iam.attach_group_policy(GroupName="readers", PolicyArn="arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess")
    iam.put_group_policy(GroupName="readers", PolicyName="photos", PolicyDocument=json.dumps(READ_S3))
    iam.add_user_to_group(GroupName="readers", UserName="ana")
    assert [u["UserName"] for u in iam.get_group(GroupName="readers")["Users"]] == ["ana"]
    assert [g["GroupName"] for g in iam.list_groups_for_user(UserName="ana")["Groups"]] == ["readers"]
    ana = f"arn:aws:iam::{ACCOUNT}:user/ana"
    documents = policies_of(lab, ana)
    assert len(documents) == 2 and documents[1] == READ_S3
    for refused in (lambda: iam.delete_group(GroupName="readers"), lambda: iam.delete_user(UserName="ana")):
        with pytest.raises(ClientError) as conflict:
            refused()
        assert code_of(conflict) == ("DeleteConflict", 409)
    iam.remove_user_from_group(GroupName="readers", UserName="ana")
    assert policies_of(lab, ana) == []
    iam.detach_group_policy(GroupName="readers", PolicyArn="arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess")
    iam.delete_group_policy(GroupName="readers", PolicyName="photos")
    iam.delete_group(GroupName="readers")
    iam.delete_user(UserName="ana")
    assert iam.list_groups()["Groups"] == []


def test_the_identity_interface_answers_a_users_key_and_a_roles_documents(lab: Lab, iam: Any) -> None:
    iam.create_user(UserName="ana")
    key = iam.create_access_key(UserName="ana")["AccessKey"]["AccessKeyId"]
    iam.attach_user_policy(UserName="ana", PolicyArn="arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess")
    iam.put_user_policy(UserName="ana", PolicyName="photos", PolicyDocument=json.dumps(READ_S3))
    identity = identity_for_key(lab, key)
    assert identity is not None
    assert (identity.arn, identity.type, identity.account) == (f"arn:aws:iam::{ACCOUNT}:user/ana", "User", ACCOUNT)
    documents = policies_of(lab, identity.arn)
    assert documents[1] == READ_S3 and "s3:Get*" in documents[0]["Statement"][0]["Action"]
    assert identity_for_key(lab, "AKIDNOTISSUED0000000") is None
    iam.update_access_key(UserName="ana", AccessKeyId=key, Status="Inactive")
    assert identity_for_key(lab, key) is None
    create_role(iam)
    assert trust_policy_of(lab, f"arn:aws:iam::{ACCOUNT}:role/app") == LAMBDA_TRUST
    assert trust_policy_of(lab, f"arn:aws:iam::{ACCOUNT}:role/none") is None


# -- durability and the AWS CLI -----------------------------------------------------------


def test_iam_survives_reopening_the_data_dir(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with Lab(data, clock=VirtualClock(start=1_700_000_000)) as lab, EdgeServer(lab, port=0) as edge:
        iam = client_for(edge.url, "iam")
        create_role(iam)
        iam.attach_role_policy(RoleName="app", PolicyArn=BASIC)
    with Lab(data, clock=VirtualClock(start=1_700_000_000)) as lab, EdgeServer(lab, port=0) as edge:
        iam = client_for(edge.url, "iam")
        assert iam.get_role(RoleName="app")["Role"]["AssumeRolePolicyDocument"] == LAMBDA_TRUST
        assert [p["PolicyArn"] for p in iam.list_attached_role_policies(RoleName="app")["AttachedPolicies"]] == [BASIC]


def test_the_aws_cli_creates_a_role_and_attaches_a_managed_policy(edge: EdgeServer, tmp_path: Path) -> None:
    trust = tmp_path / "trust.json"
    trust.write_text(json.dumps(LAMBDA_TRUST))

    def aws(*args: str) -> Any:
        done = subprocess.run(
            [str(Path(sys.executable).parent / "aws"), "--endpoint-url", edge.url,
             "--output", "json", "iam", *args],
            capture_output=True, text=True, timeout=120,
            env={**os.environ, "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE",
                 "AWS_SECRET_ACCESS_KEY": "not-checked", "AWS_DEFAULT_REGION": "eu-west-1",
                 "AWS_MAX_ATTEMPTS": "1", "AWS_CONFIG_FILE": os.devnull,
                 "AWS_SHARED_CREDENTIALS_FILE": os.devnull})
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout) if done.stdout.strip() else None

    created = aws("create-role", "--role-name", "lambda-ex",
                  "--assume-role-policy-document", f"file://{trust}")["Role"]
    assert created["Arn"] == f"arn:aws:iam::{ACCOUNT}:role/lambda-ex"
    aws("attach-role-policy", "--role-name", "lambda-ex", "--policy-arn", BASIC)
    attached = aws("list-attached-role-policies", "--role-name", "lambda-ex")["AttachedPolicies"]
    assert [p["PolicyName"] for p in attached] == ["AWSLambdaBasicExecutionRole"]
    assert aws("get-role", "--role-name", "lambda-ex")["Role"]["AssumeRolePolicyDocument"] == LAMBDA_TRUST


# -- hostile input ------------------------------------------------------------------------

_AUTH = ("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240101/us-east-1/{service}/aws4_request, "
         "SignedHeaders=host, Signature=00")


@pytest.mark.parametrize("service, body", [
    ("iam", "Action=GetPolicy&Version=2010-05-08&PolicyArn=arn:aws:iam::000000000000:policy/%ED%A0%80abc"),
    ("sts", "Action=AssumeRole&Version=2011-06-15&RoleArn=arn:aws:iam::000000000000:role/%ED%A0%80abcdefgh"
            "&RoleSessionName=ab"),
    ("iam", "Action=CreateRole&Version=2010-05-08&RoleName=x&AssumeRolePolicyDocument=" + "%5B" * 100_000),
    ("iam", "Action=CreatePolicy&Version=2010-05-08&PolicyName=x&PolicyDocument=" + "%5B" * 3000),
    ("iam", "Action=CreateRole&Version=2010-05-08&RoleName=x&AssumeRolePolicyDocument="
            "%7B%22Statement%22%3A%22%ED%A0%80%22%7D"),
    ("iam", "Action=ListRoles&Version=2010-05-08&Marker=99999999999999999999999999"),
    ("iam", "Action=DeleteAccessKey&Version=2010-05-08&UserName=a&AccessKeyId=%ED%A0%80aaaaaaaaaaaaaaaa"),
])
def test_hostile_requests_get_an_error_in_iams_shape_and_change_nothing(
        edge: EdgeServer, iam: Any, service: str, body: str) -> None:
    import urllib.error
    import urllib.request

    request = urllib.request.Request(edge.url + "/", data=body.encode(), method="POST", headers={
        "Authorization": _AUTH.format(service=service),
        "Content-Type": "application/x-www-form-urlencoded"})
    with pytest.raises(urllib.error.HTTPError) as answered:
        urllib.request.urlopen(request, timeout=60)
    assert 400 <= answered.value.code < 500
    assert b"<ErrorResponse" in answered.value.read()
    assert iam.list_roles()["Roles"] == [] and iam.list_policies(Scope="Local")["Policies"] == []


# -- what enforcement reads, answered from memory -----------------------------------------


def test_identities_follow_changes_made_by_another_lambdalab_on_the_data_dir(
        lab: Lab, tmp_path: Path) -> None:
    from lambdalab_iam import iam as iam_of

    from .conftest import wait_until

    iam_of(lab).create_user("ana", "/", [])
    key = iam_of(lab).create_access_key("ana").access_key_id
    assert identity_for_key(lab, key) is not None  # now remembered
    assert policies_of(lab, f"arn:aws:iam::{ACCOUNT}:user/ana") == []
    with Lab(tmp_path / "data", clock=VirtualClock(start=1_700_000_000)) as other:
        iam_of(other).put_inline(__import__("lambdalab_iam").User, "ana", "photos", json.dumps(READ_S3))
        iam_of(other).delete_access_key("ana", key)
    # Noticed through SQLite's data_version within a millisecond: a deadline, not a duration.
    assert wait_until(lambda: identity_for_key(lab, key) is None, timeout=30)
    assert policies_of(lab, f"arn:aws:iam::{ACCOUNT}:user/ana") == [READ_S3]


def test_the_iam_plugin_answers_enforcements_principal_hook(lab: Lab, iam: Any) -> None:
    from lambdalab import plugin as toolkit

    if not hasattr(toolkit, "Principal"):
        pytest.skip("the enforcement point (lambdalab_principal, Principal) is not merged yet")
    iam.create_user(UserName="ana")
    key = iam.create_access_key(UserName="ana")["AccessKey"]["AccessKeyId"]
    iam.put_user_policy(UserName="ana", PolicyName="photos", PolicyDocument=json.dumps(READ_S3))
    principal = lab.plugin_manager.hook.lambdalab_principal(lab=lab, access_key_id=key)
    assert (principal.arn, principal.account, principal.type) == (
        f"arn:aws:iam::{ACCOUNT}:user/ana", ACCOUNT, "User")
    assert list(principal.policies) == [READ_S3]
    assert lab.plugin_manager.hook.lambdalab_principal(lab=lab, access_key_id="AKIDNOTISSUED0000000") is None
