"""STS as clients call it: GetCallerIdentity and AssumeRole, on the lab's clock.

The judges are boto3 clients of ``lambdalab serve``'s edge, each signing with the keys
it was given (an IAM user's, a role session's, or keys IAM never issued).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from lambdalab import Lab, VirtualClock
from lambdalab.server import EdgeServer
from lambdalab_iam import identity_for_key, policies_of

from .edge_support import client_for, edge  # noqa: F401  (fixture)

ACCOUNT = "000000000000"
START = 1_700_000_000


def trust(principal: Any) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"}]})


def as_(edge: EdgeServer, service: str, credentials: dict[str, str]) -> Any:
    client = client_for(edge.url, service, key=credentials["AccessKeyId"],
                        secret=credentials["SecretAccessKey"])
    if "SessionToken" in credentials:  # client_for takes no token: sign with one
        import boto3
        from botocore.config import Config

        client = boto3.client(service, endpoint_url=edge.url, region_name="us-east-1",
                              aws_access_key_id=credentials["AccessKeyId"],
                              aws_secret_access_key=credentials["SecretAccessKey"],
                              aws_session_token=credentials["SessionToken"],
                              config=Config(retries={"total_max_attempts": 1}))
    return client


@pytest.fixture
def iam(edge: EdgeServer) -> Any:
    return client_for(edge.url, "iam")


@pytest.fixture
def sts(edge: EdgeServer) -> Any:
    return client_for(edge.url, "sts")


def user_with_key(iam: Any, name: str = "ana") -> dict[str, str]:
    iam.create_user(UserName=name)
    return iam.create_access_key(UserName=name)["AccessKey"]


def test_keys_iam_did_not_issue_are_the_account_root(sts: Any) -> None:
    me = sts.get_caller_identity()
    assert (me["Account"], me["Arn"], me["UserId"]) == (ACCOUNT, f"arn:aws:iam::{ACCOUNT}:root", ACCOUNT)


def test_a_users_key_is_that_user(edge: EdgeServer, iam: Any) -> None:
    key = user_with_key(iam)
    me = as_(edge, "sts", key).get_caller_identity()
    assert me["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/ana"
    assert me["UserId"] == iam.get_user(UserName="ana")["User"]["UserId"]
    assert as_(edge, "iam", key).get_user()["User"]["UserName"] == "ana"  # GetUser of the caller


def test_assume_role_gives_temporary_keys_that_are_the_role_session(
        lab: Lab, edge: EdgeServer, iam: Any, sts: Any, clock: VirtualClock) -> None:
    role = iam.create_role(RoleName="reader", AssumeRolePolicyDocument=trust({"AWS": ACCOUNT}))["Role"]
    iam.attach_role_policy(RoleName="reader", PolicyArn="arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess")
    answer = sts.assume_role(RoleArn=role["Arn"], RoleSessionName="job-7", DurationSeconds=900)
    credentials, user = answer["Credentials"], answer["AssumedRoleUser"]
    assert credentials["AccessKeyId"].startswith("ASIA") and credentials["SessionToken"]
    assert credentials["Expiration"] == datetime.fromtimestamp(START + 900, timezone.utc)
    session_arn = f"arn:aws:sts::{ACCOUNT}:assumed-role/reader/job-7"
    assert user == {"Arn": session_arn, "AssumedRoleId": f"{role['RoleId']}:job-7"}
    me = as_(edge, "sts", credentials).get_caller_identity()
    assert (me["Arn"], me["UserId"]) == (session_arn, f"{role['RoleId']}:job-7")
    identity = identity_for_key(lab, credentials["AccessKeyId"])
    assert identity is not None and identity.role_arn == role["Arn"] and identity.type == "AssumedRole"
    assert "s3:Get*" in policies_of(lab, session_arn)[0]["Statement"][0]["Action"]

    clock.advance(901)  # the lab's clock, not the wall clock, ends the session
    assert identity_for_key(lab, credentials["AccessKeyId"]) is None
    with pytest.raises(ClientError) as expired:
        as_(edge, "sts", credentials).get_caller_identity()
    assert expired.value.response["Error"]["Code"] == "ExpiredTokenException"


def sts_cli(edge: EdgeServer, *args: str, **credentials: str) -> Any:
    """``aws sts …`` (the AWS CLI v2 the test extra installs) against the edge, as the
    given keys (the account root's by default)."""
    env = {**os.environ, "AWS_ACCESS_KEY_ID": credentials.get("AccessKeyId", "AKIDEXAMPLE"),
           "AWS_SECRET_ACCESS_KEY": credentials.get("SecretAccessKey", "x"),
           "AWS_DEFAULT_REGION": "us-east-1", "AWS_MAX_ATTEMPTS": "1",
           "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull}
    env.pop("AWS_SESSION_TOKEN", None)
    if "SessionToken" in credentials:
        env["AWS_SESSION_TOKEN"] = credentials["SessionToken"]
    done = subprocess.run([str(Path(sys.executable).parent / "aws"), "--endpoint-url", edge.url,
                           "--output", "json", "sts", *args], capture_output=True, text=True,
                          env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_the_aws_cli_assumes_a_role_and_its_session_is_who_calls(edge: EdgeServer, iam: Any) -> None:
    assert sts_cli(edge, "get-caller-identity")["Arn"] == f"arn:aws:iam::{ACCOUNT}:root"
    arn = iam.create_role(RoleName="ops", AssumeRolePolicyDocument=trust({"AWS": ACCOUNT}))["Role"]["Arn"]
    answer = sts_cli(edge, "assume-role", "--role-arn", arn, "--role-session-name", "from-cli")
    assert answer["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/ops/from-cli"
    me = sts_cli(edge, "get-caller-identity", **answer["Credentials"])
    assert me["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/ops/from-cli"


def test_a_user_named_by_the_trust_policy_may_assume_the_role_and_others_may_not(
        edge: EdgeServer, iam: Any) -> None:
    ana, bo = user_with_key(iam, "ana"), user_with_key(iam, "bo")
    arn = iam.create_role(RoleName="deploy", AssumeRolePolicyDocument=trust(
        {"AWS": f"arn:aws:iam::{ACCOUNT}:user/ana"}))["Role"]["Arn"]
    as_(edge, "sts", ana).assume_role(RoleArn=arn, RoleSessionName="ana")
    with pytest.raises(ClientError) as denied:
        as_(edge, "sts", bo).assume_role(RoleArn=arn, RoleSessionName="bo")
    error = denied.value.response
    assert (error["Error"]["Code"], error["ResponseMetadata"]["HTTPStatusCode"]) == ("AccessDenied", 403)
    assert error["Error"]["Message"] == (f"User: arn:aws:iam::{ACCOUNT}:user/bo is not authorized to "
                                         f"perform: sts:AssumeRole on resource: {arn}")


def test_a_role_only_a_service_trusts_cannot_be_assumed_by_a_caller(iam: Any, sts: Any) -> None:
    arn = iam.create_role(RoleName="fn", AssumeRolePolicyDocument=trust(
        {"Service": "lambda.amazonaws.com"}))["Role"]["Arn"]
    for role_arn in (arn, f"arn:aws:iam::{ACCOUNT}:role/none"):
        with pytest.raises(ClientError) as denied:
            sts.assume_role(RoleArn=role_arn, RoleSessionName="s1")
        assert denied.value.response["Error"]["Code"] == "AccessDenied"


def test_a_deny_in_the_trust_policy_wins(iam: Any, sts: Any) -> None:
    document = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"},
        {"Effect": "Deny", "Principal": {"AWS": ACCOUNT}, "Action": "sts:*"}]})
    arn = iam.create_role(RoleName="locked", AssumeRolePolicyDocument=document)["Role"]["Arn"]
    with pytest.raises(ClientError) as denied:
        sts.assume_role(RoleArn=arn, RoleSessionName="s1")
    assert denied.value.response["Error"]["Code"] == "AccessDenied"


def test_a_session_longer_than_the_roles_maximum_is_refused(iam: Any, sts: Any) -> None:
    arn = iam.create_role(RoleName="r", AssumeRolePolicyDocument=trust({"AWS": ACCOUNT}))["Role"]["Arn"]
    with pytest.raises(ClientError) as refused:
        sts.assume_role(RoleArn=arn, RoleSessionName="s1", DurationSeconds=7200)
    assert refused.value.response["Error"]["Code"] == "ValidationError"
    iam.update_role(RoleName="r", MaxSessionDuration=7200)
    assert sts.assume_role(RoleArn=arn, RoleSessionName="s1", DurationSeconds=7200)["Credentials"]


def test_cloudtrail_records_iam_and_sts_calls_without_secret_keys(iam: Any, sts: Any, edge: EdgeServer) -> None:
    key = user_with_key(iam)
    arn = iam.create_role(RoleName="r", AssumeRolePolicyDocument=trust({"AWS": ACCOUNT}))["Role"]["Arn"]
    temporary = sts.assume_role(RoleArn=arn, RoleSessionName="s1")["Credentials"]
    found = client_for(edge.url, "cloudtrail").lookup_events()["Events"]
    records = {e["EventName"]: json.loads(e["CloudTrailEvent"]) for e in found}
    assert {"CreateUser", "CreateAccessKey", "CreateRole", "AssumeRole"} <= set(records)
    created = records["CreateAccessKey"]["responseElements"]["AccessKey"]
    assert created["AccessKeyId"] == key["AccessKeyId"] and "SecretAccessKey" not in created
    assumed = records["AssumeRole"]["responseElements"]["Credentials"]
    assert assumed["AccessKeyId"] == temporary["AccessKeyId"] and "SecretAccessKey" not in assumed
    trail_text = json.dumps(found, default=str)
    assert key["SecretAccessKey"] not in trail_text and temporary["SecretAccessKey"] not in trail_text
