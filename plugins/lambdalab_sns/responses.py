"""SNS's operations, served by lambdalab's protocol layer in the query protocol.

botocore's ``sns`` model speaks only ``query`` (``Action=Publish&…``, XML answers); the
layer parses the request into the operation's input, checks it against the model and
writes the output and errors in SNS's shapes. Each method here takes the input as a dict
and returns the output as a dict.
"""

from __future__ import annotations

from typing import Any, Mapping

from lambdalab.plugin import TRACE_HEADER, ErrorCodes, ProtocolService

from . import quotas
from .exceptions import InvalidParameterException
from .models import Topics
from .publishing import Publisher

#: What SNS answers for what the protocol layer refuses.
ERRORS = ErrorCodes(validation="InvalidParameterException", serialization="InvalidParameterException",
                    unknown_operation="InvalidAction", internal="InternalErrorException")


def _page(items: list[Any], token: str | None) -> tuple[list[Any], str | None]:
    start = 0
    if token:
        if not token.isdigit() or int(token) > len(items):
            raise InvalidParameterException("Invalid parameter: NextToken (pass the one the last answer gave).")
        start = int(token)
    end = start + quotas.LIST_PAGE
    return items[start:end], (str(end) if end < len(items) else None)


def _paged(key: str, items: list[Any], token: str | None) -> dict[str, Any]:
    page, next_token = _page(items, token)
    out: dict[str, Any] = {key: page}
    if next_token:
        out["NextToken"] = next_token
    return out


class SnsResponses:
    """Every SNS operation lambdalab serves, named in snake_case."""

    def __init__(self, topics: Topics, publisher: Publisher) -> None:
        self.topics = topics
        self.publisher = publisher

    @property
    def account_id(self) -> str:
        return self.topics.lab.arns.account_id

    # -- topics -----------------------------------------------------------------------

    def create_topic(self, body: Mapping[str, Any]) -> dict[str, Any]:
        tags = {t["Key"]: t["Value"] for t in body.get("Tags") or []}
        topic = self.topics.create_topic(body["Name"], body.get("Attributes"), tags)
        return {"TopicArn": topic.arn}

    def list_topics(self, body: Mapping[str, Any]) -> dict[str, Any]:
        topics = [{"TopicArn": t.arn} for t in self.topics.list_topics()]
        return _paged("Topics", topics, body.get("NextToken"))

    def delete_topic(self, body: Mapping[str, Any]) -> dict[str, Any]:
        self.topics.delete_topic(body["TopicArn"])
        return {}

    def get_topic_attributes(self, body: Mapping[str, Any]) -> dict[str, Any]:
        return {"Attributes": self.topics.topic_attributes(body["TopicArn"])}

    def set_topic_attributes(self, body: Mapping[str, Any]) -> dict[str, Any]:
        self.topics.set_topic_attribute(body["TopicArn"], body["AttributeName"],
                                        body.get("AttributeValue", ""))
        return {}

    def add_permission(self, body: Mapping[str, Any]) -> dict[str, Any]:
        self.topics.add_permission(body["TopicArn"], body["Label"], body.get("AWSAccountId"),
                                   body.get("ActionName"))
        return {}

    def remove_permission(self, body: Mapping[str, Any]) -> dict[str, Any]:
        self.topics.remove_permission(body["TopicArn"], body["Label"])
        return {}

    def tag_resource(self, body: Mapping[str, Any]) -> dict[str, Any]:
        self.topics.tag(body["ResourceArn"], {t["Key"]: t["Value"] for t in body["Tags"]})
        return {}

    def untag_resource(self, body: Mapping[str, Any]) -> dict[str, Any]:
        self.topics.untag(body["ResourceArn"], list(body["TagKeys"]))
        return {}

    def list_tags_for_resource(self, body: Mapping[str, Any]) -> dict[str, Any]:
        tags = self.topics.tags(body["ResourceArn"])
        return {"Tags": [{"Key": k, "Value": v} for k, v in sorted(tags.items())]}

    # -- subscriptions ----------------------------------------------------------------

    def subscribe(self, body: Mapping[str, Any]) -> dict[str, Any]:
        subscription = self.topics.subscribe(body["TopicArn"], body["Protocol"],
                                             body.get("Endpoint"), body.get("Attributes"))
        self.publisher.request_confirmation(subscription)
        if subscription.pending and not body.get("ReturnSubscriptionArn"):
            return {"SubscriptionArn": "pending confirmation"}
        return {"SubscriptionArn": subscription.arn}

    def confirm_subscription(self, body: Mapping[str, Any]) -> dict[str, Any]:
        subscription = self.topics.confirm_subscription(body["TopicArn"], body["Token"])
        return {"SubscriptionArn": subscription.arn}

    def unsubscribe(self, body: Mapping[str, Any]) -> dict[str, Any]:
        self.topics.unsubscribe(body["SubscriptionArn"])
        return {}

    def list_subscriptions(self, body: Mapping[str, Any]) -> dict[str, Any]:
        items = [s.to_list_item(self.account_id) for s in self.topics.list_subscriptions()]
        return _paged("Subscriptions", items, body.get("NextToken"))

    def list_subscriptions_by_topic(self, body: Mapping[str, Any]) -> dict[str, Any]:
        topic = self.topics.get_topic(body["TopicArn"])
        items = [s.to_list_item(self.account_id) for s in self.topics.subscriptions_of(topic.arn)]
        return _paged("Subscriptions", items, body.get("NextToken"))

    def get_subscription_attributes(self, body: Mapping[str, Any]) -> dict[str, Any]:
        subscription = self.topics.get_subscription(body["SubscriptionArn"])
        return {"Attributes": subscription.to_aws(self.account_id)}

    def set_subscription_attributes(self, body: Mapping[str, Any]) -> dict[str, Any]:
        self.topics.set_subscription_attribute(body["SubscriptionArn"], body["AttributeName"],
                                               body.get("AttributeValue", ""))
        return {}

    # -- publishing -------------------------------------------------------------------

    def publish(self, body: Mapping[str, Any]) -> dict[str, Any]:
        target = body.get("TopicArn") or body.get("TargetArn")
        if target is None:
            raise InvalidParameterException(
                "Invalid parameter: TopicArn or TargetArn Reason: no value for required parameter"
                " (lambdalab's SNS publishes to topics; PhoneNumber is not emulated).")
        return self.publisher.publish_message(
            target, body.get("Message"), subject=body.get("Subject"),
            message_structure=body.get("MessageStructure"),
            message_attributes=body.get("MessageAttributes"), trace_header=body.get(TRACE_HEADER),
            message_group_id=body.get("MessageGroupId"),
            message_deduplication_id=body.get("MessageDeduplicationId")).to_aws()

    def publish_batch(self, body: Mapping[str, Any]) -> dict[str, Any]:
        successful, failed = self.publisher.publish_batch(
            body["TopicArn"], list(body.get("PublishBatchRequestEntries") or []),
            trace_header=body.get(TRACE_HEADER))
        return {"Successful": successful, "Failed": failed}


class SnsService(ProtocolService):
    """The ASGI app the edge hands SNS requests to."""

    takes_trace_header = True  # the subscribers a publisher reaches continue its trace

    def __init__(self, operations: SnsResponses) -> None:
        super().__init__("sns", operations, errors=ERRORS)
