"""S3 bucket policies: PutBucketPolicy and its siblings on the wire, and, under enforced
IAM, the bucket policy deciding with the caller's identity policies as S3 decides
(https://docs.aws.amazon.com/AmazonS3/latest/userguide/how-s3-evaluates-access-control.html).

The judges are boto3 and the AWS CLI against the edge; users and roles are made through
lambdalab's IAM; a handler reads S3 with its execution role's session.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Iterator
from xml.etree import ElementTree

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from lambdalab import Lab, VirtualClock, limits
from lambdalab.server import EdgeServer

from .edge_support import client_for, edge, zip_of  # noqa: F401 (fixture)

ACCOUNT = limits.DEFAULT_ACCOUNT_ID
ROOT = limits.ROOT_ACCESS_KEY_ID
AWS = str(Path(sys.executable).parent / "aws")
LAMBDA_TRUST = json.dumps({"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]})


def policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def grant(principal: Any, action: str | list[str], resource: str, effect: str = "Allow",
          **extra: Any) -> dict[str, Any]:
    return {"Effect": effect, "Principal": principal, "Action": action, "Resource": resource, **extra}


def error_of(call: Any, **params: Any) -> dict[str, Any]:
    with pytest.raises(ClientError) as failed:
        call(**params)
    return {**failed.value.response["Error"], "Status": failed.value.response["ResponseMetadata"]["HTTPStatusCode"]}


@pytest.fixture
def s3(edge: EdgeServer) -> Any:
    client = client_for(edge.url, "s3", key=ROOT)
    client.create_bucket(Bucket="photos")
    return client


# -- the operations --------------------------------------------------------------------


PUBLIC_READ = policy(grant("*", "s3:GetObject", "arn:aws:s3:::photos/*"))


def test_a_policy_is_put_read_and_deleted_as_sent(s3: Any) -> None:
    assert error_of(s3.get_bucket_policy, Bucket="photos")["Code"] == "NoSuchBucketPolicy"
    s3.put_bucket_policy(Bucket="photos", Policy=PUBLIC_READ)
    assert s3.get_bucket_policy(Bucket="photos")["Policy"] == PUBLIC_READ
    assert s3.get_bucket_policy_status(Bucket="photos")["PolicyStatus"] == {"IsPublic": True}
    assert s3.delete_bucket_policy(Bucket="photos")["ResponseMetadata"]["HTTPStatusCode"] == 204
    missing = error_of(s3.get_bucket_policy, Bucket="photos")
    assert (missing["Code"], missing["Status"], missing["Message"]) == (
        "NoSuchBucketPolicy", 404, "The bucket policy does not exist")
    s3.delete_bucket_policy(Bucket="photos")  # none left: still 204
    assert error_of(s3.put_bucket_policy, Bucket="nobody", Policy=PUBLIC_READ)["Code"] == "NoSuchBucket"


@pytest.mark.parametrize("statement, public", [
    (grant("*", "s3:GetObject", "arn:aws:s3:::photos/*"), True),
    (grant({"AWS": "*"}, "s3:GetObject", "arn:aws:s3:::photos/*"), True),
    (grant({"AWS": ACCOUNT}, "s3:GetObject", "arn:aws:s3:::photos/*"), False),
    (grant("*", "s3:GetObject", "arn:aws:s3:::photos/*", effect="Deny"), False),
    (grant({"Service": "logging.s3.amazonaws.com"}, "s3:PutObject", "arn:aws:s3:::photos/*"), False),
    (grant("*", "s3:GetObject", "arn:aws:s3:::photos/*",
           Condition={"StringEquals": {"aws:SourceAccount": ACCOUNT}}), False),
    (grant("*", "s3:GetObject", "arn:aws:s3:::photos/*",
           Condition={"StringLike": {"aws:SourceArn": "arn:aws:*"}}), True),
    (grant("*", "s3:GetObject", "arn:aws:s3:::photos/*",
           Condition={"IpAddress": {"aws:SourceIp": "192.0.2.0/24"}}), False),
    (grant("*", "s3:GetObject", "arn:aws:s3:::photos/*",
           Condition={"Bool": {"aws:SecureTransport": "true"}}), True),
])
def test_policy_status_is_public_as_s3_means_it(s3: Any, statement: dict[str, Any], public: bool) -> None:
    s3.put_bucket_policy(Bucket="photos", Policy=policy(statement))
    assert s3.get_bucket_policy_status(Bucket="photos")["PolicyStatus"]["IsPublic"] is public


@pytest.mark.parametrize("text, message", [
    ("not json", "Policies must be valid JSON and the first byte must be '{'"),
    ("{\"Statement\": [", "This policy contains invalid Json"),
    (json.dumps({"Version": "2012-10-17"}), "Missing required field Statement"),
    (json.dumps({"Statement": []}), "Could not parse the policy: Statement is empty!"),
    (json.dumps({"Version": "2024-01-01", "Statement": []}), "The policy must contain a valid version string"),
    (policy(grant("*", "s3:GetObject", "arn:aws:s3:::other-bucket/*")), "Policy has invalid resource"),
    (policy(grant("*", "s3:GetObject", "arn:aws:sqs:us-east-1:000000000000:q")), "Policy has invalid resource"),
    (policy(grant({"AWS": "alice"}, "s3:GetObject", "arn:aws:s3:::photos/*")), "Invalid principal in policy"),
    (policy(grant({"AWS": f"arn:aws:iam::{ACCOUNT}:role/nobody"}, "s3:GetObject", "arn:aws:s3:::photos/*")),
     "Invalid principal in policy"),
    (policy(grant({"Friend": "*"}, "s3:GetObject", "arn:aws:s3:::photos/*")), "Invalid principal in policy"),
    (policy(grant("*", "sqs:SendMessage", "arn:aws:s3:::photos/*")), "Policy has invalid action"),
    (policy(grant("*", "s3:GetObject", "arn:aws:s3:::photos")),
     "Action does not apply to any resource(s) in statement"),
    (policy(grant("*", "s3:ListBucket", "arn:aws:s3:::photos/*")),
     "Action does not apply to any resource(s) in statement"),
    (policy({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::photos/*"}),
     "Missing required field Principal"),
    (policy(grant("*", "s3:GetObject", "arn:aws:s3:::photos/*", effect="Allowed")), "Invalid effect: Allowed"),
])
def test_a_policy_s3_cannot_accept_is_malformed_policy_with_s3s_words(s3: Any, text: str, message: str) -> None:
    s3.put_bucket_policy(Bucket="photos", Policy=PUBLIC_READ)
    refused = error_of(s3.put_bucket_policy, Bucket="photos", Policy=text)
    assert (refused["Code"], refused["Message"], refused["Status"]) == ("MalformedPolicy", message, 400)
    assert s3.get_bucket_policy(Bucket="photos")["Policy"] == PUBLIC_READ  # unchanged


def test_a_policy_over_20_kb_is_refused(s3: Any) -> None:
    statement = grant("*", "s3:GetObject", "arn:aws:s3:::photos/*")
    big = policy(*[{**statement, "Sid": f"s{i}"} for i in range(400)])
    assert len(big) > 20 * 1024
    refused = error_of(s3.put_bucket_policy, Bucket="photos", Policy=big)
    assert (refused["Code"], refused["Status"]) == ("PolicyTooLarge", 400)
    assert error_of(s3.get_bucket_policy, Bucket="photos")["Code"] == "NoSuchBucketPolicy"


def test_hostile_policies_get_s3_errors_never_a_500(s3: Any) -> None:
    for text in ["{" * 5000 + "}" * 5000, '{"Statement": 7}', '{"Statement": [7]}',
                 '{"Statement": [{"Effect": "Allow", "Principal": "*", "Action": [1], "Resource": "*"}]}',
                 '{"Statement": {"Effect": "Allow", "Principal": "*", "Action": "s3:*", '
                 '"Resource": "arn:aws:s3:::photos", "Condition": "no"}}', ""]:
        refused = error_of(s3.put_bucket_policy, Bucket="photos", Policy=text)
        assert refused["Status"] == 400 and refused["Code"] in ("MalformedPolicy", "MissingRequestBodyError",
                                                                "PolicyTooLarge"), (text[:40], refused)


def test_the_policy_is_durable_and_goes_with_its_bucket(tmp_path: Path) -> None:
    with Lab(data_dir=tmp_path) as lab, EdgeServer(lab, port=0) as server:
        s3 = client_for(server.url, "s3", key=ROOT)
        s3.create_bucket(Bucket="photos")
        s3.put_bucket_policy(Bucket="photos", Policy=PUBLIC_READ)
    with Lab(data_dir=tmp_path) as lab, EdgeServer(lab, port=0) as server:
        s3 = client_for(server.url, "s3", key=ROOT)
        assert s3.get_bucket_policy(Bucket="photos")["Policy"] == PUBLIC_READ
        s3.delete_bucket(Bucket="photos")
        s3.create_bucket(Bucket="photos")
        assert error_of(s3.get_bucket_policy, Bucket="photos")["Code"] == "NoSuchBucketPolicy"


def test_the_aws_cli_puts_and_gets_a_bucket_policy(s3: Any, edge: EdgeServer, tmp_path: Path) -> None:
    document = tmp_path / "policy.json"
    document.write_text(PUBLIC_READ)
    env = {**os.environ, "AWS_ACCESS_KEY_ID": ROOT, "AWS_SECRET_ACCESS_KEY": "not-checked",
           "AWS_DEFAULT_REGION": "us-east-1", "AWS_MAX_ATTEMPTS": "1",
           "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull}

    def aws(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([AWS, "--endpoint-url", edge.url, "--output", "json", "s3api", *args],
                              capture_output=True, text=True, env=env, timeout=120)

    put = aws("put-bucket-policy", "--bucket", "photos", "--policy", f"file://{document}")
    assert put.returncode == 0, put.stderr
    got = aws("get-bucket-policy", "--bucket", "photos")
    assert json.loads(json.loads(got.stdout)["Policy"]) == json.loads(PUBLIC_READ)
    document.write_text(policy(grant("*", "s3:GetObject", "arn:aws:s3:::elsewhere/*")))
    bad = aws("put-bucket-policy", "--bucket", "photos", "--policy", f"file://{document}")
    assert bad.returncode != 0 and "(MalformedPolicy)" in bad.stderr and "Policy has invalid resource" in bad.stderr


# -- enforcement ----------------------------------------------------------------------


@pytest.fixture
def enforcing(tmp_path: Path, clock: VirtualClock) -> Iterator[EdgeServer]:
    with Lab(data_dir=tmp_path / "data", clock=clock, enforce_iam=True) as lab:
        with EdgeServer(lab, port=0) as server:
            yield server


@pytest.fixture
def root_s3(enforcing: EdgeServer) -> Any:
    s3 = client_for(enforcing.url, "s3", key=ROOT)
    s3.create_bucket(Bucket="photos")
    s3.put_object(Bucket="photos", Key="cat.jpg", Body=b"meow")
    s3.put_object(Bucket="photos", Key="private/key.pem", Body=b"secret")
    return s3


def user(server: EdgeServer, name: str, *identity_policies: str) -> tuple[str, Any, dict[str, str]]:
    """An IAM user with inline ``identity_policies``: its ARN, an S3 client and its key."""
    iam = client_for(server.url, "iam", key=ROOT)
    iam.create_user(UserName=name)
    for number, document in enumerate(identity_policies):
        iam.put_user_policy(UserName=name, PolicyName=f"p{number}", PolicyDocument=document)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    client = client_for(server.url, "s3", key=key["AccessKeyId"], secret=key["SecretAccessKey"])
    return f"arn:aws:iam::{ACCOUNT}:user/{name}", client, key


def identity(action: str | list[str], resource: str, effect: str = "Allow") -> str:
    return policy({"Effect": effect, "Action": action, "Resource": resource})


def test_a_bucket_policy_naming_a_user_allows_what_no_identity_policy_does(enforcing: EdgeServer,
                                                                            root_s3: Any) -> None:
    arn, ana, _ = user(enforcing, "ana")
    denied = error_of(ana.get_object, Bucket="photos", Key="cat.jpg")
    assert (denied["Code"], denied["Status"]) == ("AccessDenied", 403)
    assert f"{arn} is not authorized to perform: s3:GetObject" in denied["Message"]
    root_s3.put_bucket_policy(Bucket="photos", Policy=policy(
        grant({"AWS": arn}, "s3:GetObject", "arn:aws:s3:::photos/*")))
    assert ana.get_object(Bucket="photos", Key="cat.jpg")["Body"].read() == b"meow"
    assert error_of(ana.put_object, Bucket="photos", Key="dog.jpg", Body=b"woof")["Code"] == "AccessDenied"


def test_an_identity_policy_alone_is_enough_within_the_account(enforcing: EdgeServer, root_s3: Any) -> None:
    _, ana, _ = user(enforcing, "ana", identity("s3:GetObject", "arn:aws:s3:::photos/*"))
    assert ana.get_object(Bucket="photos", Key="cat.jpg")["Body"].read() == b"meow"


def test_an_explicit_deny_in_the_bucket_policy_wins_over_an_identity_allow(enforcing: EdgeServer,
                                                                            root_s3: Any) -> None:
    arn, ana, _ = user(enforcing, "ana", identity("s3:*", "*"))
    root_s3.put_bucket_policy(Bucket="photos", Policy=policy(
        grant("*", "s3:GetObject", "arn:aws:s3:::photos/private/*", effect="Deny")))
    assert ana.get_object(Bucket="photos", Key="cat.jpg")["Body"].read() == b"meow"
    denied = error_of(ana.get_object, Bucket="photos", Key="private/key.pem")
    assert denied["Code"] == "AccessDenied"
    assert denied["Message"].endswith("with an explicit deny in a resource-based policy")


def test_an_explicit_deny_in_the_identity_policy_wins_over_the_bucket_policy(enforcing: EdgeServer,
                                                                              root_s3: Any) -> None:
    arn, ana, _ = user(enforcing, "ana", identity("s3:GetObject", "arn:aws:s3:::photos/*", effect="Deny"))
    root_s3.put_bucket_policy(Bucket="photos", Policy=policy(
        grant({"AWS": arn}, "s3:GetObject", "arn:aws:s3:::photos/*")))
    assert error_of(ana.get_object, Bucket="photos", Key="cat.jpg")["Code"] == "AccessDenied"


def test_list_bucket_is_on_the_bucket_with_s3_prefix_as_its_condition(enforcing: EdgeServer,
                                                                       root_s3: Any) -> None:
    arn, ana, _ = user(enforcing, "ana")
    root_s3.put_bucket_policy(Bucket="photos", Policy=policy(grant(
        {"AWS": arn}, "s3:ListBucket", "arn:aws:s3:::photos",
        Condition={"StringLike": {"s3:prefix": "public/*"}})))
    assert ana.list_objects_v2(Bucket="photos", Prefix="public/")["KeyCount"] == 0
    assert error_of(ana.list_objects_v2, Bucket="photos", Prefix="private/")["Code"] == "AccessDenied"
    assert error_of(ana.list_objects_v2, Bucket="photos")["Code"] == "AccessDenied"


def test_a_put_object_acl_is_the_s3_x_amz_acl_condition_key(enforcing: EdgeServer, root_s3: Any) -> None:
    arn, ana, _ = user(enforcing, "ana")
    root_s3.put_bucket_policy(Bucket="photos", Policy=policy(grant(
        {"AWS": arn}, "s3:PutObject", "arn:aws:s3:::photos/*",
        Condition={"StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control"}})))
    assert error_of(ana.put_object, Bucket="photos", Key="a", Body=b"1")["Code"] == "AccessDenied"
    ana.put_object(Bucket="photos", Key="a", Body=b"1", ACL="bucket-owner-full-control")


def test_a_copy_needs_get_object_on_its_source_as_well_as_put_object_on_its_target(enforcing: EdgeServer,
                                                                                     root_s3: Any) -> None:
    root_s3.create_bucket(Bucket="mine")
    arn, ana, _ = user(enforcing, "ana", identity("s3:PutObject", "arn:aws:s3:::mine/*"))
    copy = {"Bucket": "mine", "Key": "stolen.pem", "CopySource": "photos/private/key.pem"}
    denied = error_of(ana.copy_object, **copy)
    assert denied["Code"] == "AccessDenied"
    assert "s3:GetObject on resource: arn:aws:s3:::photos/private/key.pem" in denied["Message"]
    root_s3.put_bucket_policy(Bucket="photos", Policy=policy(
        grant({"AWS": arn}, "s3:GetObject", "arn:aws:s3:::photos/private/*")))
    ana.copy_object(**copy)
    assert root_s3.get_object(Bucket="mine", Key="stolen.pem")["Body"].read() == b"secret"


def test_the_bucket_policy_api_itself_is_authorised(enforcing: EdgeServer, root_s3: Any) -> None:
    _, ana, _ = user(enforcing, "ana", identity("s3:GetBucketPolicy", "arn:aws:s3:::photos"))
    root_s3.put_bucket_policy(Bucket="photos", Policy=PUBLIC_READ)
    assert ana.get_bucket_policy(Bucket="photos")["Policy"] == PUBLIC_READ
    denied = error_of(ana.delete_bucket_policy, Bucket="photos")
    assert denied["Code"] == "AccessDenied" and "s3:DeleteBucketPolicy" in denied["Message"]


def anonymous(url: str, method: str = "GET", body: bytes | None = None, host: str | None = None) -> tuple[int, bytes]:
    """An unsigned request (no key at all); ``host``: the Host header it names S3 by."""
    request = urllib.request.Request(url, data=body, method=method, headers={"Host": host} if host else {})
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def test_anonymous_requests_are_allowed_only_by_a_policy_granting_everyone(enforcing: EdgeServer,
                                                                            root_s3: Any) -> None:
    port = enforcing.url.rsplit(":", 1)[1]
    path_style, virtual = f"s3.localhost:{port}", f"photos.s3.localhost:{port}"
    status, body = anonymous(f"{enforcing.url}/photos/cat.jpg", host=path_style)
    error = ElementTree.fromstring(body)
    assert status == 403
    assert (error.findtext("Code"), error.findtext("Message")) == ("AccessDenied", "Access Denied")
    assert error.findtext("RequestId") and error.findtext("HostId")
    root_s3.put_bucket_policy(Bucket="photos", Policy=policy(
        grant({"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "s3:GetObject", "arn:aws:s3:::photos/*")))
    assert anonymous(f"{enforcing.url}/photos/cat.jpg", host=path_style)[0] == 403  # the account is not everyone
    root_s3.put_bucket_policy(Bucket="photos", Policy=PUBLIC_READ)
    assert anonymous(f"{enforcing.url}/photos/cat.jpg", host=path_style) == (200, b"meow")
    assert anonymous(f"{enforcing.url}/cat.jpg", host=virtual) == (200, b"meow")
    assert anonymous(f"{enforcing.url}/photos/new.txt", "PUT", b"x", host=path_style)[0] == 403
    assert anonymous(f"{enforcing.url}/?list-type=2", host=virtual)[0] == 403


@pytest.mark.parametrize("signature_version", ["s3v4", "s3"])
def test_a_presigned_url_carries_its_signers_identity(enforcing: EdgeServer, root_s3: Any,
                                                      signature_version: str) -> None:
    arn, _, key = user(enforcing, "ana")
    import boto3

    signer = boto3.client("s3", endpoint_url=enforcing.url, region_name="us-east-1",
                          aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"],
                          config=Config(signature_version=signature_version, s3={"addressing_style": "path"}))
    url = signer.generate_presigned_url("get_object", Params={"Bucket": "photos", "Key": "cat.jpg"})
    status, body = anonymous(url)
    assert status == 403 and arn.encode() in body  # denied as ana, not as anonymous
    root_s3.put_bucket_policy(Bucket="photos", Policy=policy(
        grant({"AWS": arn}, "s3:GetObject", "arn:aws:s3:::photos/*")))
    assert anonymous(url) == (200, b"meow")


READ_S3 = """
import boto3

def handler(event, context):
    try:
        return boto3.client("s3").get_object(Bucket="photos", Key=event["key"])["Body"].read().decode()
    except Exception as e:
        return e.response["Error"]["Code"]
"""


def test_a_handler_reads_s3_as_its_role_and_bucket_policies_allow(enforcing: EdgeServer, root_s3: Any) -> None:
    iam = client_for(enforcing.url, "iam", key=ROOT)
    role = iam.create_role(RoleName="reader", AssumeRolePolicyDocument=LAMBDA_TRUST)["Role"]["Arn"]
    lam = client_for(enforcing.url, key=ROOT)
    lam.create_function(FunctionName="read", Runtime="python3.11", Role=role, Handler="app.handler",
                        Code={"ZipFile": zip_of(app=READ_S3)}, Timeout=30)

    def read(key: str) -> Any:
        answer = lam.invoke(FunctionName="read", Payload=json.dumps({"key": key}))
        payload = answer["Payload"].read()
        assert "FunctionError" not in answer, payload
        return json.loads(payload)

    assert read("cat.jpg") == "AccessDenied"
    root_s3.put_bucket_policy(Bucket="photos", Policy=policy(
        grant({"AWS": role}, "s3:GetObject", "arn:aws:s3:::photos/cat.jpg")))
    assert read("cat.jpg") == "meow"
    assert read("private/key.pem") == "AccessDenied"
    iam.put_role_policy(RoleName="reader", PolicyName="all", PolicyDocument=identity("s3:GetObject", "*"))
    assert read("private/key.pem") == "secret"
    root_s3.put_bucket_policy(Bucket="photos", Policy=policy(
        grant({"AWS": role}, "s3:GetObject", "arn:aws:s3:::photos/private/*", effect="Deny")))
    assert read("private/key.pem") == "AccessDenied"
