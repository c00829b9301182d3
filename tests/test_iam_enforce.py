"""IAM enforcement through boto3 against the edge of a lab with ``enforce_iam=True``.

Most tests take keys and their policies from a registry of the test's own, given to the
lab as a plugin through the ``lambdalab_principal`` hook: each gives a user the policies
it is about, then calls as that user. The last ones make users, keys, roles and policies
through lambdalab's IAM and STS (the ``lambdalab_iam`` plugin answers the same hook).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Iterator

import boto3
import botocore.exceptions
import pytest
from botocore.config import Config

from lambdalab import Lab, VirtualClock, hookimpl, limits
from lambdalab.cli import daemon
from lambdalab.plugin import Principal
from lambdalab.server import EdgeServer

from .edge_support import client_for, create, zip_of
from .test_cloudtrail_serve import serving

ACCOUNT = limits.DEFAULT_ACCOUNT_ID
ALICE_KEY = "AKIAALICEEXAMPLE0001"
ALICE = f"arn:aws:iam::{ACCOUNT}:user/alice"
FUNCTION = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:greet"


class Keys:
    """An in-test IAM: access key id → principal."""

    def __init__(self) -> None:
        self.principals: dict[str, Principal] = {}

    def give(self, key: str, arn: str, *statements: dict[str, Any]) -> None:
        policies = ({"Version": "2012-10-17", "Statement": list(statements)},) if statements else ()
        self.principals[key] = Principal(arn, ACCOUNT, policies, user_id="AIDAALICE")

    @hookimpl
    def lambdalab_principal(self, lab: Lab, access_key_id: str) -> Principal | None:
        return self.principals.get(access_key_id)


@pytest.fixture
def keys() -> Keys:
    return Keys()


@pytest.fixture
def enforcing(tmp_path: Path, clock: VirtualClock, keys: Keys) -> Iterator[EdgeServer]:
    with Lab(data_dir=tmp_path / "data", clock=clock, plugins=[keys], enforce_iam=True) as lab:
        with EdgeServer(lab, port=0) as server:
            yield server


@pytest.fixture
def root(enforcing: EdgeServer) -> Any:
    """Lambda as the account's root: the lab's root key, allowed everything."""
    return client_for(enforcing.url, key=limits.ROOT_ACCESS_KEY_ID)


@pytest.fixture
def greet(root: Any) -> str:
    create(root, "greet")
    return FUNCTION


def alice(server: EdgeServer, service: str = "lambda") -> Any:
    return client_for(server.url, service, key=ALICE_KEY)


def refused(call: Any, **params: Any) -> dict[str, Any]:
    with pytest.raises(botocore.exceptions.ClientError) as raised:
        call(**params)
    return raised.value.response  # type: ignore[no-any-return]


def invoke(client: Any) -> Any:
    return client.invoke(FunctionName="greet", Payload=b'{"hi": 1}')


def test_a_user_with_no_policy_is_denied_invoke_in_aws_words(enforcing: EdgeServer, keys: Keys,
                                                             greet: str) -> None:
    keys.give(ALICE_KEY, ALICE)
    answer = refused(invoke, client=alice(enforcing))
    assert answer["Error"]["Code"] == "AccessDeniedException"
    assert answer["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert answer["Error"]["Message"] == (
        f"User: {ALICE} is not authorized to perform: lambda:InvokeFunction on resource: {greet} "
        "because no identity-based policy allows the lambda:InvokeFunction action")


def test_a_policy_allowing_invoke_on_the_function_allows_it(enforcing: EdgeServer, keys: Keys,
                                                            greet: str) -> None:
    keys.give(ALICE_KEY, ALICE, {"Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": greet})
    answer = invoke(alice(enforcing))
    assert json.loads(answer["Payload"].read()) == {"hi": 1}
    # ...and nothing else: the policy names one action
    assert refused(alice(enforcing).get_function, FunctionName="greet")["Error"]["Code"] == \
        "AccessDeniedException"


def test_an_explicit_deny_wins(enforcing: EdgeServer, keys: Keys, greet: str) -> None:
    keys.give(ALICE_KEY, ALICE, {"Effect": "Allow", "Action": "lambda:*", "Resource": "*"},
              {"Effect": "Deny", "Action": "lambda:Invoke*", "Resource": greet})
    answer = refused(invoke, client=alice(enforcing))
    assert answer["Error"]["Message"].endswith(
        "on resource: " + greet + " with an explicit deny in an identity-based policy")
    assert alice(enforcing).get_function(FunctionName="greet")["Configuration"]["FunctionArn"] == greet


def test_a_policy_on_another_function_denies(enforcing: EdgeServer, keys: Keys, greet: str) -> None:
    keys.give(ALICE_KEY, ALICE, {"Effect": "Allow", "Action": "lambda:InvokeFunction",
                                 "Resource": FUNCTION + "-other"})
    assert refused(invoke, client=alice(enforcing))["Error"]["Code"] == "AccessDeniedException"


def test_a_qualified_invoke_needs_the_qualified_arn(enforcing: EdgeServer, keys: Keys, greet: str) -> None:
    """The unqualified ARN covers the unqualified function only; ``:*`` its versions."""
    keys.give(ALICE_KEY, ALICE, {"Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": greet})
    client = alice(enforcing)
    answer = refused(client.invoke, FunctionName="greet", Qualifier="$LATEST")
    assert f"on resource: {greet}:$LATEST " in answer["Error"]["Message"]
    keys.give(ALICE_KEY, ALICE, {"Effect": "Allow", "Action": "lambda:InvokeFunction",
                                 "Resource": [greet, greet + ":*"]})
    assert client.invoke(FunctionName="greet", Qualifier="$LATEST")["StatusCode"] == 200


def test_the_functions_resource_policy_allows_without_an_identity_policy(
        enforcing: EdgeServer, root: Any, keys: Keys, greet: str) -> None:
    keys.give(ALICE_KEY, ALICE)
    root.add_permission(FunctionName="greet", StatementId="alice", Action="lambda:InvokeFunction",
                        Principal=ALICE)
    assert invoke(alice(enforcing))["StatusCode"] == 200
    root.remove_permission(FunctionName="greet", StatementId="alice")  # read afresh, not kept
    assert refused(invoke, client=alice(enforcing))["Error"]["Code"] == "AccessDeniedException"


def test_an_unknown_key_is_an_unrecognized_client(enforcing: EdgeServer) -> None:
    answer = refused(client_for(enforcing.url, key="AKIANOBODY").list_functions)
    assert answer["Error"]["Code"] == "UnrecognizedClientException"
    assert answer["Error"]["Message"] == "The security token included in the request is invalid."
    assert answer["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_s3_denies_with_access_denied_xml(enforcing: EdgeServer, keys: Keys) -> None:
    client_for(enforcing.url, "s3", key=limits.ROOT_ACCESS_KEY_ID).create_bucket(Bucket="photos")
    keys.give(ALICE_KEY, ALICE, {"Effect": "Allow", "Action": "s3:GetObject",
                                 "Resource": "arn:aws:s3:::photos/*"})
    s3 = alice(enforcing, "s3")
    answer = refused(s3.put_object, Bucket="photos", Key="a.jpg", Body=b"x")
    assert answer["Error"]["Code"] == "AccessDenied"
    assert answer["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert "perform: s3:PutObject on resource: arn:aws:s3:::photos/a.jpg" in answer["Error"]["Message"]
    assert refused(s3.get_object, Bucket="photos", Key="a.jpg")["Error"]["Code"] == "NoSuchKey"  # allowed
    unknown = refused(client_for(enforcing.url, "s3", key="AKIANOBODY").list_buckets)
    assert unknown["Error"]["Code"] == "InvalidAccessKeyId"


def test_sqs_denies_sending_to_a_queue_the_policy_does_not_name(enforcing: EdgeServer, keys: Keys) -> None:
    url = client_for(enforcing.url, "sqs", key=limits.ROOT_ACCESS_KEY_ID).create_queue(QueueName="jobs")["QueueUrl"]
    keys.give(ALICE_KEY, ALICE, {"Effect": "Allow", "Action": "sqs:SendMessage",
                                 "Resource": f"arn:aws:sqs:us-east-1:{ACCOUNT}:jobs"})
    sqs = alice(enforcing, "sqs")
    assert sqs.send_message(QueueUrl=url, MessageBody="go")["MessageId"]
    answer = refused(sqs.receive_message, QueueUrl=url)
    assert answer["Error"]["Code"] == "AccessDeniedException"
    assert f"sqs:ReceiveMessage on resource: arn:aws:sqs:us-east-1:{ACCOUNT}:jobs" in answer["Error"]["Message"]


def test_enforcement_is_off_by_default(lab: Lab) -> None:
    assert not lab.enforce_iam
    with EdgeServer(lab, port=0) as server:
        assert client_for(server.url, key="AKIANOBODY").list_functions()["Functions"] == []


def test_the_environment_variable_turns_it_on(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(limits.ENFORCE_IAM_ENV, "1")
    with Lab(data_dir=tmp_path / "a") as lab:
        assert lab.enforce_iam


def test_lambdalab_serve_enforce_iam(tmp_path: Path) -> None:
    """A real ``lambdalab serve --enforce-iam``: the root key works, an IAM user's key
    is denied until IAM gives it a policy, an unknown key is refused."""
    with serving(tmp_path / "d", "--enforce-iam") as url:
        root = client_for(url, key=limits.ROOT_ACCESS_KEY_ID)
        create(root, "greet")
        iam = client_for(url, "iam", key=limits.ROOT_ACCESS_KEY_ID)
        iam.create_user(UserName="carol")
        key = iam.create_access_key(UserName="carol")["AccessKey"]
        carol = client_for(url, key=key["AccessKeyId"], secret=key["SecretAccessKey"])
        assert refused(carol.list_functions)["Error"]["Code"] == "AccessDeniedException"
        iam.put_user_policy(UserName="carol", PolicyName="list", PolicyDocument=allow("lambda:ListFunctions", "*"))
        assert [f["FunctionName"] for f in carol.list_functions()["Functions"]] == ["greet"]
        unknown = refused(client_for(url, key="AKIANOBODY").list_functions)
        assert unknown["Error"]["Code"] == "UnrecognizedClientException"
        # the CLI's unsigned doors stay shut: no registration, no unsigned reads
        assert not (tmp_path / "d" / daemon.STATE_FILE).exists()
        with pytest.raises(urllib.error.HTTPError) as shut:
            urllib.request.urlopen(f"{url}/_lambdalab/cli/function?FunctionName=greet")
        assert shut.value.code == 404


# -- with lambdalab's IAM plugin: users, access keys and policies made through IAM -------


def allow(action: str, resource: str, effect: str = "Allow") -> str:
    return json.dumps({"Version": "2012-10-17",
                       "Statement": [{"Effect": effect, "Action": action, "Resource": resource}]})


def test_an_iam_user_is_denied_then_allowed_by_the_policy_iam_gives_it(enforcing: EdgeServer,
                                                                        greet: str) -> None:
    iam = client_for(enforcing.url, "iam", key=limits.ROOT_ACCESS_KEY_ID)
    bob = iam.create_user(UserName="bob")["User"]["Arn"]
    key = iam.create_access_key(UserName="bob")["AccessKey"]
    client = client_for(enforcing.url, key=key["AccessKeyId"], secret=key["SecretAccessKey"])
    answer = refused(invoke, client=client)
    assert answer["Error"]["Message"].startswith(f"User: {bob} is not authorized to perform: "
                                                 "lambda:InvokeFunction")
    iam.put_user_policy(UserName="bob", PolicyName="invoke", PolicyDocument=allow("lambda:InvokeFunction", greet))
    assert invoke(client)["StatusCode"] == 200
    iam.put_user_policy(UserName="bob", PolicyName="deny", PolicyDocument=allow("lambda:*", "*", "Deny"))
    assert "with an explicit deny" in refused(invoke, client=client)["Error"]["Message"]
    iam.delete_access_key(UserName="bob", AccessKeyId=key["AccessKeyId"])
    assert refused(invoke, client=client)["Error"]["Code"] == "UnrecognizedClientException"


def test_a_role_session_acts_with_its_roles_policies(enforcing: EdgeServer, greet: str) -> None:
    iam = client_for(enforcing.url, "iam", key=limits.ROOT_ACCESS_KEY_ID)
    bob = iam.create_user(UserName="bob")["User"]["Arn"]
    iam.put_user_policy(UserName="bob", PolicyName="assume",
                        PolicyDocument=allow("sts:AssumeRole", f"arn:aws:iam::{ACCOUNT}:role/invoker"))
    key = iam.create_access_key(UserName="bob")["AccessKey"]
    trust = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": bob}, "Action": "sts:AssumeRole"}]}
    role = iam.create_role(RoleName="invoker", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    iam.put_role_policy(RoleName="invoker", PolicyName="invoke", PolicyDocument=allow("lambda:InvokeFunction", greet))
    sts = client_for(enforcing.url, "sts", key=key["AccessKeyId"], secret=key["SecretAccessKey"])
    session = sts.assume_role(RoleArn=role, RoleSessionName="s1")["Credentials"]
    client = boto3.client("lambda", endpoint_url=enforcing.url, region_name="us-east-1",
                          aws_access_key_id=session["AccessKeyId"],
                          aws_secret_access_key=session["SecretAccessKey"],
                          aws_session_token=session["SessionToken"],
                          config=Config(retries={"total_max_attempts": 1}))
    assert invoke(client)["StatusCode"] == 200
    answer = refused(client.get_function, FunctionName="greet")
    assert answer["Error"]["Message"].startswith(
        f"User: arn:aws:sts::{ACCOUNT}:assumed-role/invoker/s1 is not authorized to perform: lambda:GetFunction")


READS_S3 = """
import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

s3 = boto3.client("s3", config=Config(s3={"addressing_style": "path"}, retries={"total_max_attempts": 1}))

def handler(event, context):
    try:
        return s3.get_object(Bucket="photos", Key="cat.txt")["Body"].read().decode()
    except ClientError as e:
        return e.response["Error"]["Code"] + ": " + e.response["Error"]["Message"]
"""
LAMBDA_TRUST = json.dumps({"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]})


def test_a_function_reads_s3_with_what_its_execution_role_allows(enforcing: EdgeServer, root: Any) -> None:
    """The issue's lab: a function that reads from S3 fails with AccessDenied until its
    role has a policy that lets it read the object."""
    s3 = client_for(enforcing.url, "s3", key=limits.ROOT_ACCESS_KEY_ID)
    s3.create_bucket(Bucket="photos")
    s3.put_object(Bucket="photos", Key="cat.txt", Body=b"meow")
    iam = client_for(enforcing.url, "iam", key=limits.ROOT_ACCESS_KEY_ID)
    role = iam.create_role(RoleName="reader", AssumeRolePolicyDocument=LAMBDA_TRUST)["Role"]["Arn"]
    root.create_function(FunctionName="reader", Runtime="python3.11", Role=role, Handler="app.handler",
                         Code={"ZipFile": zip_of(app=READS_S3)}, Timeout=30)

    def run() -> str:
        answer = root.invoke(FunctionName="reader")
        payload = answer["Payload"].read()
        assert "FunctionError" not in answer, payload
        return json.loads(payload)  # type: ignore[no-any-return]

    assert run() == (f"AccessDenied: User: arn:aws:sts::{ACCOUNT}:assumed-role/reader/reader is not "
                     "authorized to perform: s3:GetObject on resource: arn:aws:s3:::photos/cat.txt "
                     "because no identity-based policy allows the s3:GetObject action")
    iam.put_role_policy(RoleName="reader", PolicyName="read",
                        PolicyDocument=allow("s3:GetObject", "arn:aws:s3:::photos/*"))
    assert run() == "meow"


@pytest.mark.parametrize(("service", "call", "code", "status"), [
    ("s3", "list_buckets", "AccessDenied", 403),
    ("sqs", "list_queues", "AccessDeniedException", 400),
    ("logs", "describe_log_groups", "AccessDeniedException", 400),
    ("events", "list_rules", "AccessDeniedException", 400),
    ("kinesis", "list_streams", "AccessDeniedException", 400),
    ("cloudwatch", "list_metrics", "AccessDeniedException", 400),
    ("cloudtrail", "lookup_events", "AccessDeniedException", 400),
    ("iam", "list_users", "AccessDenied", 403),
])
def test_every_service_denies_in_its_own_shape(enforcing: EdgeServer, keys: Keys, service: str, call: str,
                                               code: str, status: int) -> None:
    keys.give(ALICE_KEY, ALICE)
    answer = refused(getattr(alice(enforcing, service), call))
    assert (answer["Error"]["Code"], answer["ResponseMetadata"]["HTTPStatusCode"]) == (code, status)
    assert answer["Error"]["Message"].startswith(f"User: {ALICE} is not authorized to perform: ")


def test_get_caller_identity_needs_no_permission(enforcing: EdgeServer) -> None:
    """"No permissions are required to perform this operation.\""""
    iam = client_for(enforcing.url, "iam", key=limits.ROOT_ACCESS_KEY_ID)
    arn = iam.create_user(UserName="dave")["User"]["Arn"]
    key = iam.create_access_key(UserName="dave")["AccessKey"]
    sts = client_for(enforcing.url, "sts", key=key["AccessKeyId"], secret=key["SecretAccessKey"])
    assert sts.get_caller_identity()["Arn"] == arn


def test_a_queue_policy_is_the_queues_resource_policy(enforcing: EdgeServer, keys: Keys) -> None:
    root_sqs = client_for(enforcing.url, "sqs", key=limits.ROOT_ACCESS_KEY_ID)
    url = root_sqs.create_queue(QueueName="jobs")["QueueUrl"]
    queue = f"arn:aws:sqs:us-east-1:{ACCOUNT}:jobs"
    keys.give(ALICE_KEY, ALICE)
    sqs = alice(enforcing, "sqs")
    assert refused(sqs.send_message, QueueUrl=url, MessageBody="go")["Error"]["Code"] == "AccessDeniedException"
    grant = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": ALICE}, "Action": "sqs:SendMessage", "Resource": queue}]}
    root_sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(grant)})
    assert sqs.send_message(QueueUrl=url, MessageBody="go")["MessageId"]  # the queue's policy alone
    keys.give(ALICE_KEY, ALICE, {"Effect": "Allow", "Action": "sqs:*", "Resource": "*"})
    grant["Statement"].append({"Effect": "Deny", "Principal": "*", "Action": "sqs:PurgeQueue", "Resource": queue})
    root_sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(grant)})
    answer = refused(sqs.purge_queue, QueueUrl=url)
    assert answer["Error"]["Message"].endswith("with an explicit deny in a resource-based policy")


def test_cloudtrail_records_a_denial(enforcing: EdgeServer, keys: Keys, greet: str) -> None:
    keys.give(ALICE_KEY, ALICE)
    refused(alice(enforcing).get_function, FunctionName="greet")
    trail = client_for(enforcing.url, "cloudtrail", key=limits.ROOT_ACCESS_KEY_ID)
    events = trail.lookup_events(LookupAttributes=[
        {"AttributeKey": "EventName", "AttributeValue": "GetFunction"}])["Events"]
    recorded = json.loads(events[0]["CloudTrailEvent"])
    assert recorded["errorCode"] == "AccessDeniedException"
    assert recorded["errorMessage"].startswith(f"User: {ALICE} is not authorized to perform: lambda:GetFunction")
    assert recorded["userIdentity"]["accessKeyId"] == ALICE_KEY
