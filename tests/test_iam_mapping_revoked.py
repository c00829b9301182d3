"""A role policy removed after the mapping was made: the poller, which acts with the
function's execution role, stops reading and says why in the mapping's
``LastProcessingResult``; the records wait, and are read once the permission is back
(https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html#events-sqs-permissions,
https://docs.aws.amazon.com/lambda/latest/dg/with-kinesis.html). The judges are boto3
clients of an enforcing lab's edge; the handler writes each event to a log the test
reads back.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

import pytest

from lambdalab import Lab, VirtualClock, limits
from lambdalab.server import EdgeServer

from .edge_support import client_for, zip_of

ACCOUNT = limits.DEFAULT_ACCOUNT_ID
ROOT = limits.ROOT_ACCESS_KEY_ID
LAMBDA_TRUST = json.dumps({"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
COUNT = "def handler(event, context):\n    return len(event['Records'])\n"
SQS_ROLE = "arn:aws:iam::aws:policy/service-role/AWSLambdaSQSQueueExecutionRole"
KINESIS_ROLE = "arn:aws:iam::aws:policy/service-role/AWSLambdaKinesisExecutionRole"


@pytest.fixture
def lab(tmp_path: Path, clock: VirtualClock) -> Iterator[Lab]:
    with Lab(data_dir=tmp_path / "data", clock=clock, enforce_iam=True) as lab:
        yield lab


@pytest.fixture
def edge(lab: Lab) -> Iterator[EdgeServer]:
    with EdgeServer(lab, port=0) as server:
        yield server


def worker(edge: EdgeServer, policy: str) -> tuple[Any, Any]:
    """Function ``worker`` whose role ``worker-role`` has ``policy`` attached: the Lambda
    and IAM clients (as root)."""
    iam = client_for(edge.url, "iam", key=ROOT)
    role = iam.create_role(RoleName="worker-role", AssumeRolePolicyDocument=LAMBDA_TRUST)["Role"]
    iam.attach_role_policy(RoleName="worker-role", PolicyArn=policy)
    lam = client_for(edge.url, key=ROOT)
    lam.create_function(FunctionName="worker", Runtime="python3.11", Role=role["Arn"], Handler="app.handler",
                        Code={"ZipFile": zip_of(app=COUNT)}, Timeout=30)
    return lam, iam


def test_an_sqs_mapping_stops_when_the_role_loses_receive_and_resumes_when_it_returns(
        lab: Lab, edge: EdgeServer) -> None:
    from lambdalab_sqs import sqs_of

    lam, iam = worker(edge, SQS_ROLE)
    sqs = client_for(edge.url, "sqs", key=ROOT)
    url = sqs.create_queue(QueueName="jobs")["QueueUrl"]
    queue = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    uuid = lam.create_event_source_mapping(FunctionName="worker", EventSourceArn=queue, BatchSize=10)["UUID"]
    mappings = sqs_of(lab).mappings

    sqs.send_message(QueueUrl=url, MessageBody="one")
    assert mappings.wait_idle(timeout=120)
    assert lam.get_event_source_mapping(UUID=uuid)["LastProcessingResult"] == "OK"

    iam.detach_role_policy(RoleName="worker-role", PolicyArn=SQS_ROLE)
    sqs.send_message(QueueUrl=url, MessageBody="two")
    assert mappings.wait_idle(timeout=120)
    mapping = lam.get_event_source_mapping(UUID=uuid)
    assert mapping["LastProcessingResult"] == \
        "PROBLEM: The provided execution role does not have permissions to call ReceiveMessage on SQS"
    assert mapping["State"] == "Enabled"
    waiting = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
    assert waiting["Attributes"]["ApproximateNumberOfMessages"] == "1"  # not received, not lost

    iam.attach_role_policy(RoleName="worker-role", PolicyArn=SQS_ROLE)
    assert mappings.wait_idle(timeout=120)
    assert lam.get_event_source_mapping(UUID=uuid)["LastProcessingResult"] == "OK"
    left = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages",
                                                                  "ApproximateNumberOfMessagesNotVisible"])
    assert set(left["Attributes"].values()) == {"0"}


def test_a_kinesis_mapping_stops_when_the_role_loses_its_reads_and_resumes(lab: Lab, edge: EdgeServer) -> None:
    from lambdalab_kinesis import kinesis_of

    lam, iam = worker(edge, KINESIS_ROLE)
    kinesis = client_for(edge.url, "kinesis", key=ROOT)
    kinesis.create_stream(StreamName="clicks", ShardCount=1)
    stream = kinesis.describe_stream_summary(StreamName="clicks")["StreamDescriptionSummary"]["StreamARN"]
    uuid = lam.create_event_source_mapping(FunctionName="worker", EventSourceArn=stream,
                                           StartingPosition="TRIM_HORIZON")["UUID"]
    mappings = kinesis_of(lab).mappings

    kinesis.put_record(StreamName="clicks", Data=b"one", PartitionKey="k")
    assert mappings.wait_idle(timeout=120)
    assert lam.get_event_source_mapping(UUID=uuid)["LastProcessingResult"] == "OK"

    iam.detach_role_policy(RoleName="worker-role", PolicyArn=KINESIS_ROLE)
    kinesis.put_record(StreamName="clicks", Data=b"two", PartitionKey="k")
    assert mappings.wait_idle(timeout=120)
    assert lam.get_event_source_mapping(UUID=uuid)["LastProcessingResult"] == (
        f"PROBLEM: Cannot access stream {stream}. Please ensure the role can perform the GetRecords, "
        "GetShardIterator, DescribeStream, and ListShards Actions on your stream in IAM.")

    iam.attach_role_policy(RoleName="worker-role", PolicyArn=KINESIS_ROLE)
    assert mappings.wait_idle(timeout=120)
    assert lam.get_event_source_mapping(UUID=uuid)["LastProcessingResult"] == "OK"


def test_a_dynamodb_stream_mapping_stops_when_the_role_loses_its_reads_and_resumes(
        lab: Lab, edge: EdgeServer) -> None:
    from lambdalab_dynamodb import dynamodb_of

    lam, iam = worker(edge, "arn:aws:iam::aws:policy/service-role/AWSLambdaDynamoDBExecutionRole")
    dynamodb = client_for(edge.url, "dynamodb", key=ROOT)
    table = dynamodb.create_table(
        TableName="orders", KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"})["TableDescription"]
    stream = table["LatestStreamArn"]
    uuid = lam.create_event_source_mapping(FunctionName="worker", EventSourceArn=stream,
                                           StartingPosition="TRIM_HORIZON")["UUID"]
    mappings = dynamodb_of(lab).mappings

    dynamodb.put_item(TableName="orders", Item={"id": {"S": "1"}})
    assert mappings.wait_idle(timeout=120)
    assert lam.get_event_source_mapping(UUID=uuid)["LastProcessingResult"] == "OK"

    iam.detach_role_policy(RoleName="worker-role",
                           PolicyArn="arn:aws:iam::aws:policy/service-role/AWSLambdaDynamoDBExecutionRole")
    dynamodb.put_item(TableName="orders", Item={"id": {"S": "2"}})
    assert mappings.wait_idle(timeout=120)
    assert lam.get_event_source_mapping(UUID=uuid)["LastProcessingResult"] == (
        f"PROBLEM: Cannot access stream {stream}. Please ensure the role can perform the GetRecords, "
        "GetShardIterator, DescribeStream, and ListStreams Actions on your stream in IAM.")

    iam.put_role_policy(RoleName="worker-role", PolicyName="stream", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": [
            "dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:DescribeStream", "dynamodb:ListStreams"],
            "Resource": f"{table['TableArn']}/stream/*"}]}))
    assert mappings.wait_idle(timeout=120)
    assert lam.get_event_source_mapping(UUID=uuid)["LastProcessingResult"] == "OK"
