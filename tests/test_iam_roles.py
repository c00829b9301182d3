"""Execution roles: a handler's SDK calls are made as its role's session.

The judge is boto3 inside the handler, calling STS on the edge that serves the lab
(``AWS_ENDPOINT_URL`` is set in the function's environment while the edge serves).
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
WHO_AM_I = """
import os
import boto3

def handler(event, context):
    me = boto3.client("sts").get_caller_identity()
    return {"arn": me["Arn"], "key": os.environ["AWS_ACCESS_KEY_ID"],
            "token": bool(os.environ.get("AWS_SESSION_TOKEN"))}
"""
LAMBDA_TRUST = json.dumps({"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]})


def who_runs(edge: EdgeServer, name: str, role: str) -> dict[str, Any]:
    lam = client_for(edge.url)
    lam.create_function(FunctionName=name, Runtime="python3.11", Role=role, Handler="app.handler",
                        Code={"ZipFile": zip_of(app=WHO_AM_I)}, Timeout=30)
    answer = lam.invoke(FunctionName=name)
    payload = answer["Payload"].read()
    assert "FunctionError" not in answer, payload
    return json.loads(payload)


def test_a_handler_calls_aws_as_its_execution_roles_session(lab: Lab, edge: EdgeServer) -> None:
    iam = client_for(edge.url, "iam")
    role = iam.create_role(RoleName="thumbnailer", AssumeRolePolicyDocument=LAMBDA_TRUST)["Role"]
    got = who_runs(edge, "resize", role["Arn"])
    assert got["arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/thumbnailer/resize"
    assert got["key"].startswith("ASIA") and got["token"]


def test_a_role_lambda_cannot_assume_is_refused_at_create_function(lab: Lab, edge: EdgeServer) -> None:
    iam = client_for(edge.url, "iam")
    users_only = json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": ACCOUNT}, "Action": "sts:AssumeRole"}]})
    role = iam.create_role(RoleName="not-for-lambda", AssumeRolePolicyDocument=users_only)["Role"]
    lam = client_for(edge.url)
    for arn in (role["Arn"], f"arn:aws:iam::{ACCOUNT}:role/made-up"):
        with pytest.raises(ClientError) as refused:
            lam.create_function(FunctionName="f", Runtime="python3.11", Role=arn, Handler="app.handler",
                                Code={"ZipFile": zip_of(app=WHO_AM_I)})
        error = refused.value.response["Error"]
        assert (error["Code"], error["Message"]) == (
            "InvalidParameterValueException", "The role defined for the function cannot be assumed by Lambda.")
    assert lam.list_functions()["Functions"] == []
    iam.update_assume_role_policy(RoleName="not-for-lambda", PolicyDocument=LAMBDA_TRUST)
    lam.create_function(FunctionName="f", Runtime="python3.11", Role=role["Arn"], Handler="app.handler",
                        Code={"ZipFile": zip_of(app=WHO_AM_I)})
    with pytest.raises(ClientError) as moved:
        lam.update_function_configuration(FunctionName="f", Role=f"arn:aws:iam::{ACCOUNT}:role/made-up")
    assert moved.value.response["Error"]["Code"] == "InvalidParameterValueException"


def test_without_iam_roles_a_made_up_role_runs_with_placeholder_keys(lab: Lab, edge: EdgeServer) -> None:
    got = who_runs(edge, "plain", f"arn:aws:iam::{ACCOUNT}:role/lambda-role")
    assert got["arn"] == f"arn:aws:iam::{ACCOUNT}:root" and not got["key"].startswith("ASIA")


def test_the_developer_guides_cli_steps_run_unchanged(lab: Lab, edge: EdgeServer, tmp_path: Path) -> None:
    """The steps of https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-awscli.html
    (create-role with the trust policy inline, attach-role-policy, create-function with
    the role, invoke), with a Python handler, through the AWS CLI."""
    import os
    import subprocess
    import sys

    package = tmp_path / "function.zip"
    package.write_bytes(zip_of(lambda_function=WHO_AM_I))

    def aws(*args: str) -> Any:
        done = subprocess.run(
            [str(Path(sys.executable).parent / "aws"), "--endpoint-url", edge.url, "--output", "json", *args],
            capture_output=True, text=True, timeout=120, cwd=tmp_path,
            env={**os.environ, "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "not-checked",
                 "AWS_DEFAULT_REGION": "us-east-1", "AWS_MAX_ATTEMPTS": "1",
                 "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull})
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout) if done.stdout.strip() else None

    aws("iam", "create-role", "--role-name", "lambda-ex", "--assume-role-policy-document",
        '{"Version": "2012-10-17","Statement": [{ "Effect": "Allow", "Principal": '
        '{"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}')
    aws("iam", "attach-role-policy", "--role-name", "lambda-ex", "--policy-arn",
        "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole")
    aws("lambda", "create-function", "--function-name", "my-function", "--zip-file", "fileb://function.zip",
        "--handler", "lambda_function.handler", "--runtime", "python3.11", "--timeout", "30",
        "--role", f"arn:aws:iam::{ACCOUNT}:role/lambda-ex")
    aws("lambda", "invoke", "--function-name", "my-function", "out.json")
    answer = json.loads((tmp_path / "out.json").read_text())
    assert answer["arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/lambda-ex/my-function"
