"""Lambda assumes a function's execution role for that function: ``aws:SourceAccount``
and ``aws:SourceArn`` (the function's ARN) are in the request context, so a trust
policy can name the one function that may use the role
(https://docs.aws.amazon.com/IAM/latest/UserGuide/confused-deputy.html). A role
Lambda cannot assume is refused at CreateFunction, and an invoke after its trust policy
stopped allowing it fails with the same error, nothing started.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from lambdalab import Lab
from lambdalab.server import EdgeServer

from .edge_support import client_for, edge, zip_of  # noqa: F401  (fixture)

ACCOUNT = "000000000000"
REGION = "us-east-1"
UNASSUMABLE = ("InvalidParameterValueException", "The role defined for the function cannot be assumed by Lambda.")
APP = "def handler(event, context):\n    return 'ran'\n"


def trust_for(function: str) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole",
        "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT},
                      "ArnLike": {"aws:SourceArn": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{function}"}}}]})


def _error(call: Any) -> tuple[str, str]:
    with pytest.raises(ClientError) as failed:
        call()
    return failed.value.response["Error"]["Code"], failed.value.response["Error"]["Message"]


def _create(lam: Any, name: str, role: str) -> Any:
    return lam.create_function(FunctionName=name, Runtime="python3.11", Role=role, Handler="app.handler",
                               Code={"ZipFile": zip_of(app=APP)}, Timeout=30)


def test_a_trust_policy_naming_one_function_refuses_another(lab: Lab, edge: EdgeServer) -> None:
    iam, lam = client_for(edge.url, "iam"), client_for(edge.url)
    role = iam.create_role(RoleName="only-reporter", AssumeRolePolicyDocument=trust_for("reporter"))["Role"]
    assert _error(lambda: _create(lam, "intruder", role["Arn"])) == UNASSUMABLE
    assert lam.list_functions()["Functions"] == []
    _create(lam, "reporter", role["Arn"])
    assert json.loads(lam.invoke(FunctionName="reporter")["Payload"].read()) == "ran"
    other = iam.create_role(RoleName="any-function", AssumeRolePolicyDocument=trust_for("*"))["Role"]
    _create(lam, "intruder", other["Arn"])
    assert _error(lambda: lam.update_function_configuration(FunctionName="intruder", Role=role["Arn"])) \
        == UNASSUMABLE


def test_an_invoke_fails_once_the_trust_policy_stops_allowing_the_function(lab: Lab, edge: EdgeServer) -> None:
    iam, lam = client_for(edge.url, "iam"), client_for(edge.url)
    role = iam.create_role(RoleName="worker", AssumeRolePolicyDocument=trust_for("job"))["Role"]
    _create(lam, "job", role["Arn"])
    iam.update_assume_role_policy(RoleName="worker", PolicyDocument=trust_for("someone-else"))
    assert _error(lambda: lam.invoke(FunctionName="job")) == UNASSUMABLE
    environments = Path(lab.store.data_dir) / "environments"
    assert not environments.exists() or list(environments.iterdir()) == []  # nothing half started
    iam.update_assume_role_policy(RoleName="worker", PolicyDocument=trust_for("job"))
    assert json.loads(lam.invoke(FunctionName="job")["Payload"].read()) == "ran"
