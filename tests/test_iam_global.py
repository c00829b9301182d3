"""IAM is global: one account's users, roles, policies and keys serve every region.

On AWS IAM has one endpoint and its entities have no region in their ARNs
(https://docs.aws.amazon.com/general/latest/gr/iam-service.html); a key made once signs
requests to any region's services. Judged by boto3 clients signing for two regions
against one edge.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from lambdalab import Lab, VirtualClock
from lambdalab.regions import REGIONS_FOLDER
from lambdalab.server import EdgeServer
from lambdalab_iam import iam

from .edge_support import zip_of
from .test_iam_conditions import edge, policy_of  # noqa: F401  (fixture: an edge enforcing IAM)

ACCOUNT = "000000000000"
WHO = "import os\ndef handler(event, context):\n    return os.environ['AWS_ACCESS_KEY_ID']\n"


def client_in(url: str, region: str, service: str = "lambda", key: str = "test",
              secret: str = "x") -> Any:
    """A boto3 client signing for ``region`` that does not retry."""
    return boto3.client(service, endpoint_url=url, region_name=region, aws_access_key_id=key,
                        aws_secret_access_key=secret,
                        config=Config(retries={"total_max_attempts": 1}, read_timeout=120))


def user_key(url: str, region: str, name: str, document: str) -> tuple[str, str]:
    """A user made through ``region``'s IAM endpoint, with ``document`` inline; its key."""
    admin = client_in(url, region, "iam")
    admin.create_user(UserName=name)
    admin.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=document)
    key = admin.create_access_key(UserName=name)["AccessKey"]
    return key["AccessKeyId"], key["SecretAccessKey"]


def denied(call: Any) -> str:
    with pytest.raises(ClientError) as refused:
        call()
    code: str = refused.value.response["Error"]["Code"]
    return code


def test_a_user_made_in_one_region_signs_requests_to_another(edge: EdgeServer) -> None:
    allow = policy_of({"Effect": "Allow", "Action": "lambda:ListFunctions", "Resource": "*"})
    key, secret = user_key(edge.url, "us-east-1", "ana", allow)
    europe = client_in(edge.url, "eu-west-1", key=key, secret=secret)
    assert europe.list_functions()["Functions"] == []
    # and what it may not do is still refused there, by its own policy
    assert denied(lambda: europe.get_function(FunctionName="f")) == "AccessDeniedException"


def test_iam_answers_the_same_through_every_region(edge: EdgeServer) -> None:
    trust = policy_of({"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                    "Action": "sts:AssumeRole"})
    made = client_in(edge.url, "eu-west-1", "iam").create_role(
        RoleName="app", AssumeRolePolicyDocument=trust)["Role"]
    assert made["Arn"] == f"arn:aws:iam::{ACCOUNT}:role/app"  # no region in an IAM ARN
    seen = client_in(edge.url, "us-east-1", "iam").get_role(RoleName="app")["Role"]
    assert (seen["Arn"], seen["RoleId"]) == (made["Arn"], made["RoleId"])
    sts = client_in(edge.url, "ap-south-1", "sts")
    session = sts.assume_role(RoleArn=made["Arn"], RoleSessionName="s1")["Credentials"]
    assert session["AccessKeyId"].startswith("ASIA")


def test_a_function_in_another_region_runs_as_its_role_made_through_home(edge: EdgeServer) -> None:
    trust = policy_of({"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                    "Action": "sts:AssumeRole"})
    role = client_in(edge.url, "us-east-1", "iam").create_role(
        RoleName="worker", AssumeRolePolicyDocument=trust)["Role"]["Arn"]
    europe = client_in(edge.url, "eu-west-1")
    europe.create_function(FunctionName="who", Runtime="python3.11", Role=role, Handler="app.handler",
                           Code={"ZipFile": zip_of(app=WHO)})
    answer = json.loads(europe.invoke(FunctionName="who")["Payload"].read())
    assert answer.startswith("ASIA")  # the role's session, not the placeholder keys
    assert client_in(edge.url, "eu-west-1", "iam").get_role(RoleName="worker")["Role"]["Arn"] == role


def test_requested_region_allows_only_the_region_the_policy_names(edge: EdgeServer) -> None:
    only_europe = policy_of({"Effect": "Allow", "Action": "lambda:ListFunctions", "Resource": "*",
                          "Condition": {"StringEquals": {"aws:RequestedRegion": "eu-west-1"}}})
    key, secret = user_key(edge.url, "us-east-1", "eve", only_europe)
    assert client_in(edge.url, "eu-west-1", key=key, secret=secret).list_functions()["Functions"] == []
    home = client_in(edge.url, "us-east-1", key=key, secret=secret)
    assert denied(home.list_functions) == "AccessDeniedException"


def test_iam_rows_an_older_lambdalab_kept_in_a_region_move_home(tmp_path: Path,
                                                                clock: VirtualClock) -> None:
    data = tmp_path / "data"
    region_dir = data / REGIONS_FOLDER / "eu-west-1"
    region_dir.mkdir(parents=True)
    # What the older lambdalab wrote: the region's lab kept its own IAM.
    with Lab(data_dir=region_dir, clock=clock, region="eu-west-1") as old:
        iam(old).create_user("legacy", "/", [])
        kept = iam(old).create_access_key("legacy")
    with Lab(data_dir=data, clock=clock, enforce_iam=True) as lab:
        with EdgeServer(lab, port=0) as server:
            home_iam = client_in(server.url, "us-east-1", "iam")
            assert [u["UserName"] for u in home_iam.list_users()["Users"]] == ["legacy"]
            keys = home_iam.list_access_keys(UserName="legacy")["AccessKeyMetadata"]
            assert [k["AccessKeyId"] for k in keys] == [kept.access_key_id]
    with Lab(data_dir=region_dir, clock=clock, region="eu-west-1") as reopened:
        assert reopened.store.query("SELECT * FROM iam_entities") == []
