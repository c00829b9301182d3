"""SNS's http(s), email and sms subscriptions, judged by boto3 against the edge and by a
real HTTP server on the loopback interface: the SubscriptionConfirmation, then
Notification POSTs with SNS's headers once confirmed, retried on the lab's (virtual)
clock; email and sms subscriptions stay pending and are never sent anything."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Iterator

import pytest

from lambdalab import Lab, VirtualClock
from lambdalab.server import EdgeServer
from lambdalab_sns import sns_of

from .edge_support import client_for, edge  # noqa: F401  (fixtures)


class Endpoint:
    """An HTTP endpoint on 127.0.0.1 that records what it is POSTed and answers
    ``status`` (settable)."""

    def __init__(self) -> None:
        self.posts: list[tuple[dict[str, str], str]] = []
        self.status = 200
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", "0"))).decode()
                endpoint.posts.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(endpoint.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/sns"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def of_type(self, kind: str) -> list[tuple[dict[str, str], dict[str, Any]]]:
        return [(h, json.loads(b)) for h, b in self.posts if h.get("x-amz-sns-message-type") == kind]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def endpoint() -> Iterator[Endpoint]:
    served = Endpoint()
    yield served
    served.close()


@pytest.fixture
def sns(edge: EdgeServer) -> Any:  # noqa: F811
    return client_for(edge.url, "sns")


def confirmed(sns: Any, topic: str, endpoint: Endpoint, **attributes: str) -> str:
    """Subscribe ``endpoint`` and confirm it with the token SNS POSTed."""
    sns.subscribe(TopicArn=topic, Protocol="http", Endpoint=endpoint.url, Attributes=attributes)
    [(_, confirmation)] = endpoint.of_type("SubscriptionConfirmation")
    return str(sns.confirm_subscription(TopicArn=topic, Token=confirmation["Token"])["SubscriptionArn"])


def test_an_http_endpoint_is_sent_a_confirmation_then_notifications(sns: Any, endpoint: Endpoint) -> None:
    topic = sns.create_topic(Name="orders")["TopicArn"]
    answer = sns.subscribe(TopicArn=topic, Protocol="http", Endpoint=endpoint.url)
    assert answer["SubscriptionArn"] == "pending confirmation"
    [(headers, confirmation)] = endpoint.of_type("SubscriptionConfirmation")
    assert (headers["x-amz-sns-topic-arn"], headers["user-agent"]) == (
        topic, "Amazon Simple Notification Service Agent")
    assert headers["content-type"] == "text/plain; charset=UTF-8"
    assert (confirmation["Type"], confirmation["TopicArn"]) == ("SubscriptionConfirmation", topic)
    assert headers["x-amz-sns-message-id"] == confirmation["MessageId"]
    assert f"Token={confirmation['Token']}" in confirmation["SubscribeURL"]
    assert "Action=ConfirmSubscription" in confirmation["SubscribeURL"]
    [listed] = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    assert listed["SubscriptionArn"] == "PendingConfirmation"
    assert sns.get_topic_attributes(TopicArn=topic)["Attributes"]["SubscriptionsPending"] == "1"
    sns.publish(TopicArn=topic, Message="before")  # a pending subscription gets nothing
    assert endpoint.of_type("Notification") == []
    with pytest.raises(sns.exceptions.InvalidParameterException):
        sns.confirm_subscription(TopicArn=topic, Token="not-the-token")
    sub = sns.confirm_subscription(TopicArn=topic, Token=confirmation["Token"])["SubscriptionArn"]
    attributes = sns.get_subscription_attributes(SubscriptionArn=sub)["Attributes"]
    assert attributes["PendingConfirmation"] == "false"
    message_id = sns.publish(TopicArn=topic, Message="after", Subject="hi")["MessageId"]
    [(headers, notification)] = endpoint.of_type("Notification")
    assert (headers["x-amz-sns-message-id"], headers["x-amz-sns-topic-arn"],
            headers["x-amz-sns-subscription-arn"]) == (message_id, topic, sub)
    assert (notification["Type"], notification["MessageId"], notification["Message"],
            notification["Subject"]) == ("Notification", message_id, "after", "hi")
    assert notification["UnsubscribeURL"].endswith(f"SubscriptionArn={sub}")
    assert notification["SignatureVersion"] == "1" and notification["SigningCertURL"].endswith(".pem")


def test_raw_delivery_posts_the_message_itself(sns: Any, endpoint: Endpoint) -> None:
    topic = sns.create_topic(Name="orders")["TopicArn"]
    confirmed(sns, topic, endpoint, RawMessageDelivery="true")
    sns.publish(TopicArn=topic, Message="just this")
    headers, body = endpoint.posts[-1]
    assert (body, headers["x-amz-sns-rawdelivery"], headers["x-amz-sns-message-type"]) == (
        "just this", "true", "Notification")


def test_an_endpoint_that_fails_is_retried_by_snss_http_policy_then_dead_lettered(
        sns: Any, edge: EdgeServer, endpoint: Endpoint, clock: VirtualClock) -> None:  # noqa: F811
    sqs = client_for(edge.url, "sqs")
    dlq_url = sqs.create_queue(QueueName="undelivered")["QueueUrl"]
    dlq = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    topic = sns.create_topic(Name="orders")["TopicArn"]
    confirmed(sns, topic, endpoint, RedrivePolicy=json.dumps({"deadLetterTargetArn": dlq}))
    endpoint.status = 503
    sns.publish(TopicArn=topic, Message="order 7")
    assert len(endpoint.of_type("Notification")) == 1  # no immediate retries for http
    clock.advance(19)
    assert len(endpoint.of_type("Notification")) == 1
    clock.advance(1)  # 20 s: the first retry
    assert len(endpoint.of_type("Notification")) == 2
    clock.advance(40)  # the second and third, 20 s apart: then SNS gives up
    assert len(endpoint.of_type("Notification")) == 4
    assert sns_of(edge.lab).publisher.deliveries.pending() == 0
    [message] = sqs.receive_message(QueueUrl=dlq_url, MessageAttributeNames=["All"])["Messages"]
    assert json.loads(message["Body"])["Message"] == "order 7"
    assert message["MessageAttributes"]["ErrorCode"]["StringValue"] == "HTTP503"


def test_an_endpoint_that_recovers_gets_the_message_on_a_retry(
        sns: Any, edge: EdgeServer, endpoint: Endpoint, clock: VirtualClock) -> None:  # noqa: F811
    topic = sns.create_topic(Name="orders")["TopicArn"]
    confirmed(sns, topic, endpoint)
    endpoint.status = 500
    sns.publish(TopicArn=topic, Message="order 7")
    endpoint.status = 200
    clock.advance(20)
    assert [n["Message"] for _, n in endpoint.of_type("Notification")] == ["order 7", "order 7"]
    assert sns_of(edge.lab).publisher.deliveries.pending() == 0


def test_only_loopback_urls_of_the_protocol_are_taken(sns: Any) -> None:
    topic = sns.create_topic(Name="orders")["TopicArn"]
    for protocol, url in (("http", "http://example.com/hook"), ("https", "https://10.0.0.1/x"),
                          ("http", "https://127.0.0.1/x"), ("https", "not a url")):
        with pytest.raises(sns.exceptions.InvalidParameterException):
            sns.subscribe(TopicArn=topic, Protocol=protocol, Endpoint=url)
    for url in ("http://localhost:1/x", "http://[::1]:1/x"):  # nothing listens: stays pending
        assert sns.subscribe(TopicArn=topic, Protocol="http", Endpoint=url)["SubscriptionArn"] == \
            "pending confirmation"


def test_email_and_sms_subscriptions_stay_pending_and_are_never_sent(sns: Any, lab: Lab) -> None:
    topic = sns.create_topic(Name="orders")["TopicArn"]
    email = sns.subscribe(TopicArn=topic, Protocol="email", Endpoint="ana@example.com",
                          ReturnSubscriptionArn=True)["SubscriptionArn"]
    sns.subscribe(TopicArn=topic, Protocol="sms", Endpoint="+15555550100")
    with pytest.raises(sns.exceptions.InvalidParameterException):
        sns.subscribe(TopicArn=topic, Protocol="email", Endpoint="not an address")
    attributes = sns.get_subscription_attributes(SubscriptionArn=email)["Attributes"]
    assert (attributes["PendingConfirmation"], attributes["Protocol"]) == ("true", "email")
    sns.publish(TopicArn=topic, Message="hello")
    assert sns_of(lab).publisher.deliveries.pending() == 0  # nothing was queued for them
    assert sns.get_topic_attributes(TopicArn=topic)["Attributes"]["SubscriptionsPending"] == "2"


def test_a_subscriptions_delivery_policy_sets_its_retries(
        sns: Any, edge: EdgeServer, endpoint: Endpoint, clock: VirtualClock) -> None:  # noqa: F811
    topic = sns.create_topic(Name="orders")["TopicArn"]
    policy = {"healthyRetryPolicy": {"numRetries": 4, "numNoDelayRetries": 1, "numMinDelayRetries": 1,
                                     "minDelayTarget": 5, "maxDelayTarget": 10, "backoffFunction": "linear"}}
    confirmed(sns, topic, endpoint, DeliveryPolicy=json.dumps(policy))
    endpoint.status = 500
    sns.publish(TopicArn=topic, Message="order 7")
    assert len(endpoint.of_type("Notification")) == 2  # the first try and the no-delay retry
    clock.advance(5)  # the min-delay retry
    assert len(endpoint.of_type("Notification")) == 3
    clock.advance(7.5)  # the backoff phase: 7.5 s, then 10 s (linear from 5 to 10)
    assert len(endpoint.of_type("Notification")) == 4
    clock.advance(10)
    assert len(endpoint.of_type("Notification")) == 5
    clock.advance(600)  # numRetries counts them all: no more
    assert len(endpoint.of_type("Notification")) == 5
    assert sns_of(edge.lab).publisher.deliveries.pending() == 0


@pytest.mark.parametrize("policy", [
    {"healthyRetryPolicy": {"numRetries": 101}},
    {"healthyRetryPolicy": {"minDelayTarget": 30, "maxDelayTarget": 10}},
    {"healthyRetryPolicy": {"backoffFunction": "random"}},
    {"healthyRetryPolicy": {"numRetries": 50, "minDelayTarget": 100, "maxDelayTarget": 100}},  # 5,000 s
    {"http": {"defaultHealthyRetryPolicy": {"numRetries": "3"}}},
])
def test_delivery_policies_beyond_snss_bounds_are_refused(sns: Any, policy: dict[str, Any]) -> None:
    topic = sns.create_topic(Name="orders")["TopicArn"]
    with pytest.raises(sns.exceptions.InvalidParameterException, match="DeliveryPolicy"):
        sns.subscribe(TopicArn=topic, Protocol="http", Endpoint="http://127.0.0.1:1/x",
                      Attributes={"DeliveryPolicy": json.dumps(policy)})


def test_a_topics_delivery_policy_is_the_default_and_can_disable_overrides(
        sns: Any, endpoint: Endpoint, clock: VirtualClock) -> None:
    topic = sns.create_topic(Name="orders")["TopicArn"]
    one_retry = {"numRetries": 1, "minDelayTarget": 5, "maxDelayTarget": 5}
    sns.set_topic_attributes(TopicArn=topic, AttributeName="DeliveryPolicy", AttributeValue=json.dumps(
        {"http": {"defaultHealthyRetryPolicy": one_retry, "disableSubscriptionOverrides": True}}))
    confirmed(sns, topic, endpoint, DeliveryPolicy=json.dumps({"healthyRetryPolicy": {"numRetries": 9}}))
    endpoint.status = 500
    sns.publish(TopicArn=topic, Message="order 7")
    clock.advance(600)
    assert len(endpoint.of_type("Notification")) == 2  # the topic's one retry, not the subscription's 9
    with pytest.raises(sns.exceptions.InvalidParameterException):
        sns.set_topic_attributes(TopicArn=topic, AttributeName="DeliveryPolicy", AttributeValue=json.dumps(
            {"http": {"defaultHealthyRetryPolicy": {"numRetries": -1}}}))
