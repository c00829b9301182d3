"""A topic's access policy, AddPermission and RemovePermission, and SNS under enforced
IAM, judged by boto3 against the edge: Publish and Subscribe are allowed by the caller's
identity policy or the topic's policy (an explicit deny wins), and SNS sends to a queue
only when the queue's policy lets ``sns.amazonaws.com`` send for the topic."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

from urllib.parse import urlencode

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lambdalab import Lab, VirtualClock, limits
from lambdalab.server import EdgeServer

from .edge_support import client_for, edge  # noqa: F401  (fixtures)
from .test_fuzz_edge import DEEP_MARK, FUZZ, judge, operation_and_input, query_pairs, send, signed_for
from .test_sns import with_real_arns

ACCOUNT = "000000000000"
ROOT = limits.ROOT_ACCESS_KEY_ID


@pytest.fixture
def sns(edge: EdgeServer) -> Any:  # noqa: F811
    return client_for(edge.url, "sns")


@pytest.fixture
def enforcing(tmp_path: Path, clock: VirtualClock) -> Iterator[EdgeServer]:
    with Lab(data_dir=tmp_path / "data", clock=clock, enforce_iam=True) as lab, \
            EdgeServer(lab, port=0) as server:
        yield server


def policy_of(sns: Any, arn: str) -> dict[str, Any]:
    return dict(json.loads(sns.get_topic_attributes(TopicArn=arn)["Attributes"]["Policy"]))


def document(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def user(server: EdgeServer, name: str, *statements: dict[str, Any]) -> tuple[str, Any]:
    """A new IAM user's ARN and an SNS client signing with its key."""
    iam = client_for(server.url, "iam", key=ROOT)
    arn = iam.create_user(UserName=name)["User"]["Arn"]
    if statements:
        iam.put_user_policy(UserName=name, PolicyName="sns", PolicyDocument=document(*statements))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return arn, client_for(server.url, "sns", key=key["AccessKeyId"], secret=key["SecretAccessKey"])


# -- the Policy attribute ------------------------------------------------------------------


def test_a_new_topic_has_the_policy_aws_writes(sns: Any) -> None:
    arn = sns.create_topic(Name="orders")["TopicArn"]
    assert policy_of(sns, arn) == {
        "Version": "2008-10-17", "Id": "__default_policy_ID",
        "Statement": [{"Sid": "__default_statement_ID", "Effect": "Allow", "Principal": {"AWS": "*"},
                       "Action": ["SNS:GetTopicAttributes", "SNS:SetTopicAttributes", "SNS:AddPermission",
                                  "SNS:RemovePermission", "SNS:DeleteTopic", "SNS:Subscribe",
                                  "SNS:ListSubscriptionsByTopic", "SNS:Publish"],
                       "Resource": arn, "Condition": {"StringEquals": {"AWS:SourceOwner": ACCOUNT}}}]}


def test_add_and_remove_permission_edit_the_topic_policy(sns: Any) -> None:
    arn = sns.create_topic(Name="orders")["TopicArn"]
    sns.add_permission(TopicArn=arn, Label="partners", AWSAccountId=["111122223333"], ActionName=["Publish"])
    added = policy_of(sns, arn)["Statement"][-1]
    assert added == {"Sid": "partners", "Effect": "Allow",
                     "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
                     "Action": "SNS:Publish", "Resource": arn}
    with pytest.raises(sns.exceptions.InvalidParameterException) as refused:
        sns.add_permission(TopicArn=arn, Label="partners", AWSAccountId=["111122223333"], ActionName=["Publish"])
    assert refused.value.response["Error"]["Message"] == "Invalid parameter: Statement already exists"
    with pytest.raises(sns.exceptions.InvalidParameterException):
        sns.add_permission(TopicArn=arn, Label="bad", AWSAccountId=["111122223333"], ActionName=["Launch"])
    sns.remove_permission(TopicArn=arn, Label="partners")
    assert [s["Sid"] for s in policy_of(sns, arn)["Statement"]] == ["__default_statement_ID"]
    with pytest.raises(sns.exceptions.InvalidParameterException):
        sns.remove_permission(TopicArn=arn, Label="partners")
    with pytest.raises(sns.exceptions.NotFoundException):
        sns.add_permission(TopicArn=arn + "-gone", Label="x", AWSAccountId=["111122223333"], ActionName=["Publish"])


def test_a_policy_that_is_no_policy_document_is_refused(sns: Any) -> None:
    arn = sns.create_topic(Name="orders")["TopicArn"]
    for text in ("not json", "[]", '{"Statement": 5}'):
        with pytest.raises(sns.exceptions.InvalidParameterException):
            sns.set_topic_attributes(TopicArn=arn, AttributeName="Policy", AttributeValue=text)
    mine = document({"Sid": "mine", "Effect": "Allow", "Principal": {"AWS": ACCOUNT},
                     "Action": "SNS:Publish", "Resource": arn})
    sns.set_topic_attributes(TopicArn=arn, AttributeName="Policy", AttributeValue=mine)
    assert policy_of(sns, arn) == json.loads(mine)


# -- enforced IAM ------------------------------------------------------------------------


def test_publish_is_allowed_by_the_identity_policy_or_the_topic_policy(enforcing: EdgeServer) -> None:
    root = client_for(enforcing.url, "sns", key=ROOT)
    topic = root.create_topic(Name="orders")["TopicArn"]
    ana, as_ana = user(enforcing, "ana")
    with pytest.raises(as_ana.exceptions.AuthorizationErrorException) as denied:
        as_ana.publish(TopicArn=topic, Message="m")
    assert denied.value.response["Error"]["Message"] == (
        f"User: {ana} is not authorized to perform: sns:Publish on resource: {topic} "
        "because no identity-based policy allows the sns:Publish action")
    root.set_topic_attributes(TopicArn=topic, AttributeName="Policy", AttributeValue=document(
        {"Sid": "ana", "Effect": "Allow", "Principal": {"AWS": ana}, "Action": "SNS:Publish", "Resource": topic}))
    assert as_ana.publish(TopicArn=topic, Message="m")["MessageId"]  # the topic's policy allows it
    with pytest.raises(as_ana.exceptions.AuthorizationErrorException):
        as_ana.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=f"arn:aws:sqs:us-east-1:{ACCOUNT}:q")
    _, as_bo = user(enforcing, "bo", {"Effect": "Allow", "Action": "sns:*", "Resource": "*"})
    assert as_bo.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=f"arn:aws:sqs:us-east-1:{ACCOUNT}:q")
    assert as_bo.publish(TopicArn=topic, Message="m")["MessageId"]  # its identity policy allows it


def test_an_explicit_deny_in_the_topic_policy_wins(enforcing: EdgeServer) -> None:
    root = client_for(enforcing.url, "sns", key=ROOT)
    topic = root.create_topic(Name="orders")["TopicArn"]
    bo, as_bo = user(enforcing, "bo", {"Effect": "Allow", "Action": "sns:*", "Resource": "*"})
    root.set_topic_attributes(TopicArn=topic, AttributeName="Policy", AttributeValue=document(
        {"Effect": "Deny", "Principal": {"AWS": bo}, "Action": "SNS:Publish", "Resource": topic}))
    with pytest.raises(as_bo.exceptions.AuthorizationErrorException) as denied:
        as_bo.publish(TopicArn=topic, Message="m")
    assert "with an explicit deny in a resource-based policy" in denied.value.response["Error"]["Message"]


def test_sns_sends_to_a_queue_only_when_its_policy_allows_the_topic(enforcing: EdgeServer) -> None:
    root = client_for(enforcing.url, "sns", key=ROOT)
    sqs = client_for(enforcing.url, "sqs", key=ROOT)
    url = sqs.create_queue(QueueName="orders")["QueueUrl"]
    queue = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    topic = root.create_topic(Name="orders")["TopicArn"]
    root.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue, Attributes={"RawMessageDelivery": "true"})

    def allowing(source: str) -> str:
        return document({"Effect": "Allow", "Principal": {"Service": "sns.amazonaws.com"},
                         "Action": "sqs:SendMessage", "Resource": queue,
                         "Condition": {"ArnEquals": {"aws:SourceArn": source}}})

    root.publish(TopicArn=topic, Message="no policy")
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": allowing(topic + "-other")})
    root.publish(TopicArn=topic, Message="another topic's policy")
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": allowing(topic)})
    root.publish(TopicArn=topic, Message="allowed")
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    assert [m["Body"] for m in got] == ["allowed"]


# -- hostile input --------------------------------------------------------------------------

NEW_OPERATIONS = ("AddPermission", "RemovePermission", "SetTopicAttributes", "SetSubscriptionAttributes",
                  "Subscribe", "ConfirmSubscription", "Publish", "PublishBatch", "CreateTopic")


@pytest.fixture
def fifo_world(edge: EdgeServer, lab: Lab) -> EdgeServer:  # noqa: F811
    """A standard topic ``q`` and a FIFO topic ``q.fifo``, each with a queue subscribed,
    so that fuzzed requests get past "not found"."""
    from lambdalab_sns import sns_of
    from lambdalab_sqs import sqs_of

    queues, topics = sqs_of(lab).queues, sns_of(lab).topics
    queues.create_queue("q")
    for topic in (topics.create_topic("q"), topics.create_topic("q.fifo", {"FifoTopic": "true"})):
        topics.subscribe(topic.arn, "sqs", queues.arn("q"), {
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": queues.arn("q")})})
    return edge


@settings(FUZZ, max_examples=120)
@given(request=operation_and_input("sns", NEW_OPERATIONS), fifo=st.booleans())
def test_policies_fifo_and_redrive_never_fail_internally(fifo_world: EdgeServer, request: Any, fifo: bool) -> None:
    op, params = request
    if fifo and "TopicArn" in params:
        params = {**params, "TopicArn": f"arn:aws:sns:us-east-1:{ACCOUNT}:q.fifo"}
    pairs = [("Action", op.name), ("Version", "2010-03-31")]
    for name, value in with_real_arns(params).items():
        pairs += list(query_pairs(name, value))
    body = urlencode([(k, DEEP_MARK.sub("[[[", v)) for k, v in pairs]).encode()
    headers = {"Content-Type": "application/x-www-form-urlencoded", **signed_for("sns")}
    judge("sns", "query", op, "POST", send(fifo_world.url, "POST", "/", headers, body))
