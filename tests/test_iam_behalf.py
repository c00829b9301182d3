"""Acting on someone's behalf, under IAM enforcement: assuming a role (its trust policy
read by the evaluator), and the services that act for a function (an event source
mapping's poller with the execution role; S3, EventBridge and SNS invoking it under its
resource policy). The judges are boto3 clients of an enforcing lab's edge.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

import botocore.exceptions
import pytest

from lambdalab import Lab, VirtualClock, limits
from lambdalab.server import EdgeServer

from .edge_support import client_for, zip_of

ACCOUNT = limits.DEFAULT_ACCOUNT_ID
ROOT = limits.ROOT_ACCESS_KEY_ID
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/target"
LAMBDA_TRUST = {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
ECHO = "def handler(event, context):\n    return event\n"


def document(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(action: str | list[str], resource: str = "*") -> str:
    return document({"Effect": "Allow", "Action": action, "Resource": resource})


@pytest.fixture
def enforcing(tmp_path: Path, clock: VirtualClock) -> Iterator[EdgeServer]:
    with Lab(data_dir=tmp_path / "data", clock=clock, enforce_iam=True) as lab:
        with EdgeServer(lab, port=0) as server:
            yield server


@pytest.fixture
def iam(enforcing: EdgeServer) -> Any:
    return client_for(enforcing.url, "iam", key=ROOT)


def refused(call: Any, **params: Any) -> dict[str, Any]:
    with pytest.raises(botocore.exceptions.ClientError) as raised:
        call(**params)
    return raised.value.response  # type: ignore[no-any-return]


# -- AssumeRole: the trust policy is the role's resource policy -------------------------


def user_sts(server: EdgeServer, iam: Any, name: str = "bob") -> tuple[str, Any]:
    """A new user's ARN and an STS client signing with its key."""
    arn = iam.create_user(UserName=name)["User"]["Arn"]
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return arn, client_for(server.url, "sts", key=key["AccessKeyId"], secret=key["SecretAccessKey"])


def trusting(iam: Any, principal: str, **condition: Any) -> str:
    statement: dict[str, Any] = {"Effect": "Allow", "Principal": {"AWS": principal}, "Action": "sts:AssumeRole"}
    if condition:
        statement["Condition"] = condition
    return iam.create_role(RoleName="target", AssumeRolePolicyDocument=document(statement))["Role"]["Arn"]


def test_a_trust_policy_naming_the_user_is_enough_in_the_same_account(enforcing: EdgeServer, iam: Any) -> None:
    """AWS: "Add the user as a principal directly in the role's trust policy" needs no
    identity policy (API_AssumeRole.html); the old edge asked for one."""
    bob, sts = user_sts(enforcing, iam)
    trusting(iam, bob)
    answer = sts.assume_role(RoleArn=ROLE_ARN, RoleSessionName="s1")
    assert answer["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/target/s1"


def test_a_trust_policy_naming_the_account_needs_an_identity_policy(enforcing: EdgeServer, iam: Any) -> None:
    _, sts = user_sts(enforcing, iam)
    trusting(iam, ACCOUNT)
    answer = refused(sts.assume_role, RoleArn=ROLE_ARN, RoleSessionName="s1")
    assert answer["Error"]["Code"] == "AccessDenied"
    assert "because no identity-based policy allows the sts:AssumeRole action" in answer["Error"]["Message"]
    iam.put_user_policy(UserName="bob", PolicyName="assume", PolicyDocument=allow("sts:AssumeRole", ROLE_ARN))
    assert sts.assume_role(RoleArn=ROLE_ARN, RoleSessionName="s1")["Credentials"]["AccessKeyId"]


def test_an_identity_policy_is_not_enough_when_the_trust_policy_names_someone_else(
        enforcing: EdgeServer, iam: Any) -> None:
    _, sts = user_sts(enforcing, iam)
    trusting(iam, f"arn:aws:iam::{ACCOUNT}:user/carol")
    iam.put_user_policy(UserName="bob", PolicyName="assume", PolicyDocument=allow("sts:AssumeRole"))
    assert refused(sts.assume_role, RoleArn=ROLE_ARN, RoleSessionName="s1")["Error"]["Code"] == "AccessDenied"


def test_the_trust_policys_external_id_condition_is_evaluated(enforcing: EdgeServer, iam: Any) -> None:
    """Old code: conditions were not read, so any ExternalId (or none) was let in."""
    bob, sts = user_sts(enforcing, iam)
    trusting(iam, bob, StringEquals={"sts:ExternalId": "ticket-42"})
    for wrong in ({}, {"ExternalId": "ticket-41"}):
        assert refused(sts.assume_role, RoleArn=ROLE_ARN, RoleSessionName="s1", **wrong)["Error"]["Code"] \
            == "AccessDenied"
    assert sts.assume_role(RoleArn=ROLE_ARN, RoleSessionName="s1", ExternalId="ticket-42")["Credentials"]


def test_lambda_is_trusted_only_for_the_source_account_the_trust_policy_names(
        enforcing: EdgeServer, iam: Any) -> None:
    lam = client_for(enforcing.url, key=ROOT)
    for account, name in (("111122223333", "elsewhere"), (ACCOUNT, "here")):
        statement = {**LAMBDA_TRUST, "Condition": {"StringEquals": {"aws:SourceAccount": account}}}
        iam.create_role(RoleName=name, AssumeRolePolicyDocument=document(statement))
    create = dict(Runtime="python3.11", Handler="app.handler", Code={"ZipFile": zip_of(app=ECHO)})
    answer = refused(lam.create_function, FunctionName="f", Role=f"arn:aws:iam::{ACCOUNT}:role/elsewhere", **create)
    assert answer["Error"]["Message"] == "The role defined for the function cannot be assumed by Lambda."
    lam.create_function(FunctionName="f", Role=f"arn:aws:iam::{ACCOUNT}:role/here", **create)


# -- services acting for a function -----------------------------------------------------


def function_with_role(server: EdgeServer, iam: Any, name: str = "worker") -> Any:
    """Lambda (as root) with function ``name`` whose execution role is ``name``-role."""
    role = iam.create_role(RoleName=f"{name}-role", AssumeRolePolicyDocument=document(LAMBDA_TRUST))["Role"]
    lam = client_for(server.url, key=ROOT)
    lam.create_function(FunctionName=name, Runtime="python3.11", Role=role["Arn"], Handler="app.handler",
                        Code={"ZipFile": zip_of(app=ECHO)})
    return lam


def test_an_sqs_mapping_needs_the_pollers_actions_on_the_role(enforcing: EdgeServer, iam: Any) -> None:
    lam = function_with_role(enforcing, iam)
    sqs = client_for(enforcing.url, "sqs", key=ROOT)
    url = sqs.create_queue(QueueName="jobs")["QueueUrl"]
    queue = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]

    def mapping_refusal() -> str:
        answer = refused(lam.create_event_source_mapping, FunctionName="worker", EventSourceArn=queue)
        assert answer["Error"]["Code"] == "InvalidParameterValueException"
        return answer["Error"]["Message"]  # type: ignore[no-any-return]

    assert mapping_refusal() == "The provided execution role does not have permissions to call ReceiveMessage on SQS"
    iam.put_role_policy(RoleName="worker-role", PolicyName="receive",
                        PolicyDocument=allow("sqs:ReceiveMessage", queue))
    assert mapping_refusal() == "The provided execution role does not have permissions to call DeleteMessage on SQS"
    iam.attach_role_policy(RoleName="worker-role",
                           PolicyArn="arn:aws:iam::aws:policy/service-role/AWSLambdaSQSQueueExecutionRole")
    uuid = lam.create_event_source_mapping(FunctionName="worker", EventSourceArn=queue)["UUID"]
    function_with_role(enforcing, iam, "other")  # a role with no policy
    answer = refused(lam.update_event_source_mapping, UUID=uuid, FunctionName="other")
    assert answer["Error"]["Message"] == \
        "The provided execution role does not have permissions to call ReceiveMessage on SQS"
    assert lam.get_event_source_mapping(UUID=uuid)["FunctionArn"].endswith(":function:worker")


def test_s3_notifies_a_function_only_when_its_policy_allows_s3_for_the_bucket(
        enforcing: EdgeServer, iam: Any) -> None:
    lam = function_with_role(enforcing, iam)
    s3 = client_for(enforcing.url, "s3", key=ROOT)
    s3.create_bucket(Bucket="photos")
    function = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:worker"
    config = {"LambdaFunctionConfigurations": [{"LambdaFunctionArn": function, "Events": ["s3:ObjectCreated:*"]}]}
    lam.add_permission(FunctionName="worker", StatementId="other-account", Action="lambda:InvokeFunction",
                       Principal="s3.amazonaws.com", SourceArn="arn:aws:s3:::photos", SourceAccount="111122223333")
    answer = refused(s3.put_bucket_notification_configuration, Bucket="photos", NotificationConfiguration=config)
    assert answer["Error"]["Message"] == "Unable to validate the following destination configurations"
    lam.add_permission(FunctionName="worker", StatementId="photos", Action="lambda:InvokeFunction",
                       Principal="s3.amazonaws.com", SourceArn="arn:aws:s3:::photos", SourceAccount=ACCOUNT)
    s3.put_bucket_notification_configuration(Bucket="photos", NotificationConfiguration=config)


def stream_mapping_refusal(lam: Any, arn: str) -> str:
    answer = refused(lam.create_event_source_mapping, FunctionName="worker", EventSourceArn=arn,
                     StartingPosition="TRIM_HORIZON")
    assert answer["Error"]["Code"] == "InvalidParameterValueException"
    return answer["Error"]["Message"]  # type: ignore[no-any-return]


def test_a_kinesis_mapping_needs_the_pollers_reads_on_the_role(enforcing: EdgeServer, iam: Any) -> None:
    lam = function_with_role(enforcing, iam)
    kinesis = client_for(enforcing.url, "kinesis", key=ROOT)
    kinesis.create_stream(StreamName="clicks", ShardCount=1)
    stream = kinesis.describe_stream_summary(StreamName="clicks")["StreamDescriptionSummary"]["StreamARN"]
    assert stream_mapping_refusal(lam, stream) == (
        f"Cannot access stream {stream}. Please ensure the role can perform the GetRecords, "
        "GetShardIterator, DescribeStream, and ListShards Actions on your stream in IAM.")
    iam.attach_role_policy(RoleName="worker-role",
                           PolicyArn="arn:aws:iam::aws:policy/service-role/AWSLambdaKinesisExecutionRole")
    assert lam.create_event_source_mapping(FunctionName="worker", EventSourceArn=stream,
                                           StartingPosition="TRIM_HORIZON")["UUID"]


#: The reads a stream mapping's poller makes with the role (AWSLambdaKinesisExecutionRole's).
STREAM_READS = ["kinesis:GetRecords", "kinesis:GetShardIterator", "kinesis:DescribeStream", "kinesis:ListShards"]


def stream_with_consumer(enforcing: EdgeServer) -> tuple[str, str]:
    """A one-shard stream ``clicks`` and its enhanced fan-out consumer ``fast``: their ARNs."""
    kinesis = client_for(enforcing.url, "kinesis", key=ROOT)
    kinesis.create_stream(StreamName="clicks", ShardCount=1)
    stream = kinesis.describe_stream_summary(StreamName="clicks")["StreamDescriptionSummary"]["StreamARN"]
    return stream, kinesis.register_stream_consumer(StreamARN=stream, ConsumerName="fast")["Consumer"]["ConsumerARN"]


def test_a_mapping_through_a_consumer_reads_the_stream_and_subscribes_to_the_consumer(
        enforcing: EdgeServer, iam: Any) -> None:
    """https://docs.aws.amazon.com/lambda/latest/dg/with-kinesis.html ("Execution role
    permissions"): the reads on the stream's ARN, SubscribeToShard on the consumer's."""
    lam = function_with_role(enforcing, iam)
    stream, consumer = stream_with_consumer(enforcing)
    iam.put_role_policy(RoleName="worker-role", PolicyName="reads", PolicyDocument=allow(STREAM_READS, stream))
    assert stream_mapping_refusal(lam, consumer) == (
        f"Cannot access stream consumer {consumer}. Please ensure the role can perform the "
        "SubscribeToShard Action on your stream consumer in IAM.")
    iam.put_role_policy(RoleName="worker-role", PolicyName="subscribe",
                        PolicyDocument=allow("kinesis:SubscribeToShard", consumer))
    assert lam.create_event_source_mapping(FunctionName="worker", EventSourceArn=consumer,
                                           StartingPosition="TRIM_HORIZON")["UUID"]


def test_a_mapping_through_a_consumer_needs_the_reads_on_its_stream(enforcing: EdgeServer, iam: Any) -> None:
    lam = function_with_role(enforcing, iam)
    stream, consumer = stream_with_consumer(enforcing)
    everything_on_the_consumer = STREAM_READS + ["kinesis:SubscribeToShard"]
    iam.put_role_policy(RoleName="worker-role", PolicyName="consumer",
                        PolicyDocument=allow(everything_on_the_consumer, consumer))
    assert stream_mapping_refusal(lam, consumer) == (
        f"Cannot access stream {stream}. Please ensure the role can perform the GetRecords, "
        "GetShardIterator, DescribeStream, and ListShards Actions on your stream in IAM.")
    iam.attach_role_policy(RoleName="worker-role",
                           PolicyArn="arn:aws:iam::aws:policy/service-role/AWSLambdaKinesisExecutionRole")
    assert lam.create_event_source_mapping(FunctionName="worker", EventSourceArn=consumer,
                                           StartingPosition="TRIM_HORIZON")["UUID"]


def test_a_dynamodb_stream_mapping_needs_the_pollers_reads_on_the_role(enforcing: EdgeServer, iam: Any) -> None:
    lam = function_with_role(enforcing, iam)
    dynamodb = client_for(enforcing.url, "dynamodb", key=ROOT)
    table = dynamodb.create_table(
        TableName="orders", KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"})["TableDescription"]
    stream = table["LatestStreamArn"]
    assert stream_mapping_refusal(lam, stream) == (
        f"Cannot access stream {stream}. Please ensure the role can perform the GetRecords, "
        "GetShardIterator, DescribeStream, and ListStreams Actions on your stream in IAM.")
    iam.put_role_policy(RoleName="worker-role", PolicyName="stream", PolicyDocument=allow(
        ["dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:DescribeStream", "dynamodb:ListStreams"],
        f"{table['TableArn']}/stream/*"))
    assert lam.create_event_source_mapping(FunctionName="worker", EventSourceArn=stream,
                                           StartingPosition="TRIM_HORIZON")["UUID"]


def test_an_on_failure_destination_needs_send_permission_on_the_role(enforcing: EdgeServer, iam: Any) -> None:
    lam = function_with_role(enforcing, iam)
    sqs = client_for(enforcing.url, "sqs", key=ROOT)
    url = sqs.create_queue(QueueName="failed")["QueueUrl"]
    queue = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    config = {"OnFailure": {"Destination": queue}}
    answer = refused(lam.put_function_event_invoke_config, FunctionName="worker", DestinationConfig=config)
    assert answer["Error"]["Code"] == "InvalidParameterValueException"
    assert answer["Error"]["Message"] == \
        f"The function's execution role does not have permissions to call SendMessage on {queue}"
    iam.put_role_policy(RoleName="worker-role", PolicyName="send", PolicyDocument=allow("sqs:SendMessage", queue))
    lam.put_function_event_invoke_config(FunctionName="worker", DestinationConfig=config)


def invoked(server: EdgeServer, name: str = "worker") -> bool:
    """Whether the function ran: its log group exists (after the lab's queued events ran)."""
    server.lab.wait_for_events()
    logs = client_for(server.url, "logs", key=ROOT)
    return bool(logs.describe_log_groups(logGroupNamePrefix=f"/aws/lambda/{name}")["logGroups"])


def queue_of(server: EdgeServer, name: str) -> tuple[Any, str, str]:
    sqs = client_for(server.url, "sqs", key=ROOT)
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    return sqs, url, sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


def test_eventbridge_sends_to_the_dead_letter_queue_what_the_functions_policy_does_not_allow(
        enforcing: EdgeServer, iam: Any) -> None:
    """AWS does not retry a target it has no permission for: the event goes to the
    target's dead-letter queue at once, ERROR_CODE NO_PERMISSIONS (eb-rule-dlq.html)."""
    lam = function_with_role(enforcing, iam)
    sqs, url, dlq = queue_of(enforcing, "dlq")
    events = client_for(enforcing.url, "events", key=ROOT)
    rule = events.put_rule(Name="orders", EventPattern=json.dumps({"source": ["shop"]}))["RuleArn"]
    function = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:worker"
    events.put_targets(Rule="orders", Targets=[{"Id": "worker", "Arn": function, "DeadLetterConfig": {"Arn": dlq}}])
    entry = {"Source": "shop", "DetailType": "order", "Detail": json.dumps({"total": 5})}
    events.put_events(Entries=[entry])
    [message] = sqs.receive_message(QueueUrl=url, MessageAttributeNames=["All"])["Messages"]
    assert message["MessageAttributes"]["ERROR_CODE"]["StringValue"] == "NO_PERMISSIONS"
    assert not invoked(enforcing)
    lam.add_permission(FunctionName="worker", StatementId="orders", Action="lambda:InvokeFunction",
                       Principal="events.amazonaws.com", SourceArn=rule)
    events.put_events(Entries=[entry])
    assert invoked(enforcing)


def test_sns_delivers_to_a_function_only_when_its_policy_allows_the_topic(enforcing: EdgeServer, iam: Any) -> None:
    lam = function_with_role(enforcing, iam)
    sns = client_for(enforcing.url, "sns", key=ROOT)
    topic = sns.create_topic(Name="orders")["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:worker")
    lam.add_permission(FunctionName="worker", StatementId="other", Action="lambda:InvokeFunction",
                       Principal="sns.amazonaws.com", SourceArn=f"arn:aws:sns:us-east-1:{ACCOUNT}:other")
    sns.publish(TopicArn=topic, Message="first")
    assert not invoked(enforcing)
    lam.add_permission(FunctionName="worker", StatementId="orders", Action="lambda:InvokeFunction",
                       Principal="sns.amazonaws.com", SourceArn=topic)
    sns.publish(TopicArn=topic, Message="second")
    assert invoked(enforcing)


# -- lab 22 -----------------------------------------------------------------------------


@pytest.mark.parametrize("resource", ['f"arn:aws:s3:::{bucket}/{prefix}latest.json"',
                                      'f"arn:aws:s3:::{bucket}/{prefix}*"'])
def test_lab_22_accepts_the_report_key_or_its_prefix(tmp_path: Path, resource: str) -> None:
    from lambdalab.course import runner

    from .test_labs import COURSE, solution_dir

    lab = COURSE.lab(22)
    work = tmp_path / lab.folder
    work.mkdir()
    solution = (solution_dir(lab) / "policy.py").read_text()
    (work / "policy.py").write_text(solution.replace('f"arn:aws:s3:::{bucket}/{prefix}*"', resource))
    result = runner.run_check(lab, work)
    assert result.passed, (result.summary, result.got, result.try_next)


def test_a_stream_mappings_on_failure_destination_needs_send_permission_on_the_role(
        enforcing: EdgeServer, iam: Any) -> None:
    lam = function_with_role(enforcing, iam)
    iam.attach_role_policy(RoleName="worker-role",
                           PolicyArn="arn:aws:iam::aws:policy/service-role/AWSLambdaKinesisExecutionRole")
    kinesis = client_for(enforcing.url, "kinesis", key=ROOT)
    kinesis.create_stream(StreamName="clicks", ShardCount=1)
    stream = kinesis.describe_stream_summary(StreamName="clicks")["StreamDescriptionSummary"]["StreamARN"]
    _, _, failures = queue_of(enforcing, "failures")
    mapping = dict(FunctionName="worker", EventSourceArn=stream, StartingPosition="TRIM_HORIZON",
                   DestinationConfig={"OnFailure": {"Destination": failures}})
    answer = refused(lam.create_event_source_mapping, **mapping)
    assert answer["Error"]["Message"] == \
        "The provided execution role does not have permissions to call SendMessage on SQS"
    iam.put_role_policy(RoleName="worker-role", PolicyName="send", PolicyDocument=allow("sqs:SendMessage", failures))
    assert lam.create_event_source_mapping(**mapping)["UUID"]
