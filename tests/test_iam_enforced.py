"""IAM's users and execution roles under enforcement: denied, then allowed by the policy
a learner attaches through IAM.

Needs the enforcement point (``Lab(enforce_iam=True)``, the ``lambdalab_principal`` hook)
of issue 22's other half; skipped until it is merged. The judges are boto3 clients of the
edge, and boto3 inside a handler signing with its execution role's session.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

import pytest
from botocore.exceptions import ClientError

import lambdalab.plugin
from lambdalab import Lab, VirtualClock, limits
from lambdalab.server import EdgeServer

from .edge_support import client_for, zip_of

if not hasattr(lambdalab.plugin, "Principal"):
    pytest.skip("the enforcement point (Lab(enforce_iam=True)) is not merged yet",
                allow_module_level=True)

ACCOUNT = "000000000000"
ROOT_KEY = getattr(limits, "ROOT_ACCESS_KEY_ID", "test")
LAMBDA_TRUST = json.dumps({"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
READ_MYSELF = """
import boto3

def handler(event, context):
    try:
        boto3.client("lambda").get_function(FunctionName=context.function_name)
        return "allowed"
    except Exception as e:
        return e.response["Error"]["Code"]
"""


def allow(action: str) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": action, "Resource": "*"}]})


@pytest.fixture
def enforcing(tmp_path: Path, clock: VirtualClock) -> Iterator[EdgeServer]:
    with Lab(data_dir=tmp_path / "data", clock=clock, enforce_iam=True) as lab:
        with EdgeServer(lab, port=0) as server:
            yield server


def test_an_iam_user_is_denied_until_a_policy_allows_it(enforcing: EdgeServer) -> None:
    iam = client_for(enforcing.url, "iam", key=ROOT_KEY)
    iam.create_user(UserName="ana")
    key = iam.create_access_key(UserName="ana")["AccessKey"]
    ana = client_for(enforcing.url, key=key["AccessKeyId"], secret=key["SecretAccessKey"])
    with pytest.raises(ClientError) as denied:
        ana.list_functions()
    assert denied.value.response["Error"]["Code"] == "AccessDeniedException"
    assert f"arn:aws:iam::{ACCOUNT}:user/ana" in denied.value.response["Error"]["Message"]
    iam.put_user_policy(UserName="ana", PolicyName="list", PolicyDocument=allow("lambda:ListFunctions"))
    assert ana.list_functions()["Functions"] == []


def test_a_handler_is_allowed_what_its_execution_role_allows(enforcing: EdgeServer) -> None:
    iam = client_for(enforcing.url, "iam", key=ROOT_KEY)
    role = iam.create_role(RoleName="reader", AssumeRolePolicyDocument=LAMBDA_TRUST)["Role"]
    lam = client_for(enforcing.url, key=ROOT_KEY)
    lam.create_function(FunctionName="me", Runtime="python3.11", Role=role["Arn"], Handler="app.handler",
                        Code={"ZipFile": zip_of(app=READ_MYSELF)}, Timeout=30)

    def run() -> Any:
        answer = lam.invoke(FunctionName="me")
        payload = answer["Payload"].read()
        assert "FunctionError" not in answer, payload
        return json.loads(payload)

    assert run() == "AccessDeniedException"
    iam.put_role_policy(RoleName="reader", PolicyName="self", PolicyDocument=allow("lambda:GetFunction"))
    assert run() == "allowed"
