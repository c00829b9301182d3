"""SNS state: topics and their subscriptions, durable in the lab's SQLite store.

Pure state, no HTTP (that is :mod:`.responses`) and no delivery (:mod:`.delivery`).
As on AWS, CreateTopic with a name that exists returns that topic, DeleteTopic and
Unsubscribe of what is not there succeed, and Subscribe with a topic, protocol and
endpoint already subscribed returns that subscription
(https://docs.aws.amazon.com/sns/latest/api/API_CreateTopic.html,
https://docs.aws.amazon.com/sns/latest/api/API_Subscribe.html).
A ``lambda`` or ``sqs`` subscription in the same account needs no confirmation, so every
subscription is confirmed at once.
"""

from __future__ import annotations

import json
import re
import secrets
import uuid
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Mapping

from lambdalab.plugin import function_changed

from . import quotas
from .delivery import MIGRATION as DELIVERIES_MIGRATION
from .endpoints import CONFIRMED_BY_TOKEN, DELIVERED, NEVER_CONFIRMED, check_endpoint
from .exceptions import InvalidParameterException, NotFoundException, ResourceNotFoundException
from .fifo import MIGRATION as FIFO_MIGRATION
from .http_policy import check_document as check_http_delivery_policy
from .fifo import forget as forget_fifo_ledger
from .filter_policies import check_filter_policy, check_scope
from .policies import check_policy, default_policy, with_permission, without_permission

if TYPE_CHECKING:
    from lambdalab import Lab

MIGRATIONS: dict[str, str] = {
    "sns-1": """
    CREATE TABLE sns_topics (
        name TEXT PRIMARY KEY,
        attributes TEXT NOT NULL,
        tags TEXT NOT NULL,
        created_at REAL NOT NULL
    );
    CREATE TABLE sns_subscriptions (
        arn TEXT PRIMARY KEY,
        topic TEXT NOT NULL REFERENCES sns_topics(name) ON DELETE CASCADE,
        protocol TEXT NOT NULL,
        endpoint TEXT NOT NULL,
        attributes TEXT NOT NULL,
        created_at REAL NOT NULL
    );
    CREATE INDEX sns_subscriptions_by_topic ON sns_subscriptions (topic, created_at);
    """,
    "sns-2": DELIVERIES_MIGRATION,
    "sns-3": FIFO_MIGRATION,
    # the token an http(s), email or sms subscription waits to be confirmed with; NULL
    # once confirmed (and for lambda and sqs subscriptions, confirmed at once)
    "sns-4": "ALTER TABLE sns_subscriptions ADD COLUMN token TEXT;",
    # a FIFO topic's delivery carries its message's group and deduplication id
    "sns-5": """
    ALTER TABLE sns_deliveries ADD COLUMN group_id TEXT;
    ALTER TABLE sns_deliveries ADD COLUMN dedup_id TEXT;
    """,
}

_TOPIC_NAME = re.compile(rf"^[A-Za-z0-9_-]{{1,{quotas.TOPIC_NAME_MAX}}}$")
_FIFO_TOPIC_NAME = re.compile(rf"^[A-Za-z0-9_-]{{1,{quotas.TOPIC_NAME_MAX - len('.fifo')}}}\.fifo$")
#: Attributes only a FIFO topic has, with their defaults.
FIFO_SETTABLE = {"ContentBasedDeduplication": "false", "FifoThroughputScope": "Topic"}
_FIFO_NAME_REASON = ("Fifo Topic names must end with .fifo and must be made up of only uppercase "
                     "and lowercase ASCII letters, numbers, underscores, and hyphens, and must be "
                     "between 1 and 256 characters long.")
#: The protocols lambdalab takes (``email``/``sms`` ones stay pending confirmation); SNS's
#: others are refused, not silently dropped.
PROTOCOLS = (*DELIVERED, *NEVER_CONFIRMED)
OTHER_PROTOCOLS = ("application", "firehose")
#: Topic attributes SetTopicAttributes may change, with their defaults.
TOPIC_SETTABLE = {
    "DisplayName": "",
    "Policy": "",
    "DeliveryPolicy": "",
    "KmsMasterKeyId": "",
    "TracingConfig": "PassThrough",
    "SignatureVersion": "1",
}
#: Subscription attributes Subscribe and SetSubscriptionAttributes may set.
SUBSCRIPTION_SETTABLE = ("DeliveryPolicy", "FilterPolicy", "FilterPolicyScope",
                         "RawMessageDelivery", "RedrivePolicy", "SubscriptionRoleArn",
                         "ReplayPolicy")


def topic_arn(lab: "Lab", name: str) -> str:
    return f"arn:aws:sns:{lab.arns.region}:{lab.arns.account_id}:{name}"


def topic_name(arn: Any) -> str:
    """The topic name of ``arn:aws:sns:REGION:ACCOUNT:NAME``."""
    parts = arn.split(":") if isinstance(arn, str) else []
    if len(parts) != 6 or parts[:3] != ["arn", "aws", "sns"] or not _valid_name(parts[5]):
        raise InvalidParameterException(
            f"Invalid parameter: TopicArn ({arn!r} is not a topic ARN; use the TopicArn "
            "CreateTopic returned, arn:aws:sns:REGION:ACCOUNT:NAME).")
    return parts[5]


def _valid_name(name: str) -> bool:
    return bool(_TOPIC_NAME.match(name) or _FIFO_TOPIC_NAME.match(name))


@dataclass(frozen=True)
class Topic:
    """One topic, as GetTopicAttributes describes it."""

    name: str
    arn: str
    attributes: dict[str, str]
    tags: dict[str, str]

    @property
    def fifo(self) -> bool:
        return self.attributes.get("FifoTopic") == "true"

    @property
    def content_based_deduplication(self) -> bool:
        return self.attributes.get("ContentBasedDeduplication", "false").lower() == "true"

    def to_aws(self, account_id: str, subscriptions: int, pending: int = 0) -> dict[str, str]:
        out = {
            "TopicArn": self.arn,
            "Owner": account_id,
            "Policy": self.attributes.get("Policy") or json.dumps(default_policy(self.arn, account_id)),
            "SubscriptionsConfirmed": str(subscriptions),
            "SubscriptionsPending": str(pending),
            "SubscriptionsDeleted": "0",
            "EffectiveDeliveryPolicy": json.dumps(_DEFAULT_DELIVERY_POLICY),
        }
        for key, default in TOPIC_SETTABLE.items():
            value = self.attributes.get(key, default)
            if value and key != "Policy":
                out[key] = value
        out.setdefault("DisplayName", "")
        if self.fifo:
            out["FifoTopic"] = "true"
            out |= {key: self.attributes.get(key, default) for key, default in FIFO_SETTABLE.items()}
        return out


_DEFAULT_DELIVERY_POLICY = {"http": {"defaultHealthyRetryPolicy": {
    "minDelayTarget": 20, "maxDelayTarget": 20, "numRetries": 3, "numMaxDelayRetries": 0,
    "numNoDelayRetries": 0, "numMinDelayRetries": 0, "backoffFunction": "linear"},
    "disableSubscriptionOverrides": False, "defaultRequestPolicy": {"headerContentType": "text/plain; charset=UTF-8"}}}


@dataclass(frozen=True)
class Subscription:
    """One subscription of a topic, as GetSubscriptionAttributes describes it."""

    arn: str
    topic_arn: str
    protocol: str
    endpoint: str
    attributes: dict[str, str] = field(default_factory=dict)
    #: The confirmation token it waits for (``None``: confirmed).
    token: str | None = None

    @property
    def pending(self) -> bool:
        return self.token is not None

    @property
    def raw(self) -> bool:
        return self.attributes.get("RawMessageDelivery", "false").lower() == "true"

    @property
    def filter_policy(self) -> dict[str, Any] | None:
        text = self.attributes.get("FilterPolicy")
        return json.loads(text) if text else None

    @property
    def dead_letter_target(self) -> str | None:
        """The ``deadLetterTargetArn`` of its RedrivePolicy: where SNS moves what it gives up on."""
        text = self.attributes.get("RedrivePolicy")
        target = json.loads(text).get("deadLetterTargetArn") if text else None
        return target if isinstance(target, str) and target else None

    @property
    def filter_scope(self) -> str:
        return self.attributes.get("FilterPolicyScope") or "MessageAttributes"

    def to_aws(self, account_id: str) -> dict[str, str]:
        """GetSubscriptionAttributes' ``Attributes``."""
        out = {
            "SubscriptionArn": self.arn, "TopicArn": self.topic_arn, "Owner": account_id,
            "Protocol": self.protocol, "Endpoint": self.endpoint,
            "ConfirmationWasAuthenticated": "false" if self.pending else "true",
            "PendingConfirmation": "true" if self.pending else "false",
            "RawMessageDelivery": "true" if self.raw else "false",
            **{k: v for k, v in self.attributes.items() if k != "RawMessageDelivery" and v},
        }
        if "FilterPolicy" in out:
            out["FilterPolicyScope"] = self.filter_scope
        return out

    def to_list_item(self, account_id: str) -> dict[str, str]:
        """An item of ListSubscriptions(ByTopic)."""
        return {"SubscriptionArn": "PendingConfirmation" if self.pending else self.arn,
                "Owner": account_id, "Protocol": self.protocol,
                "Endpoint": self.endpoint, "TopicArn": self.topic_arn}


class Topics:
    """Every topic of one lab, and their subscriptions."""

    def __init__(self, lab: "Lab") -> None:
        self.lab = lab
        self.store = lab.store

    # -- topics -----------------------------------------------------------------------

    def arn(self, name: str) -> str:
        return topic_arn(self.lab, name)

    def create_topic(self, name: Any, attributes: Mapping[str, Any] | None = None,
                     tags: Mapping[str, str] | None = None) -> Topic:
        given = _topic_attributes(attributes or {})
        checked = dict(given)
        _check_topic_kind(name, checked)
        existing = self._find(name)
        if existing is not None:
            if any(existing.attributes.get(k, TOPIC_SETTABLE.get(k, "")) != checked.get(k, v)
                   for k, v in given.items()):
                raise InvalidParameterException(
                    "Invalid parameter: Attributes Reason: Topic already exists with "
                    "different attributes")
            return existing
        topic = Topic(name, self.arn(name), checked, dict(tags or {}))
        with self.store.transaction() as db:
            db.execute("INSERT INTO sns_topics (name, attributes, tags, created_at) "
                       "VALUES (?, ?, ?, ?)", (name, json.dumps(topic.attributes),
                                               json.dumps(topic.tags), self.lab.clock.now()))
        return topic

    def get_topic(self, arn: Any) -> Topic:
        name = topic_name(arn)
        topic = self._find(name)
        if topic is None:
            raise NotFoundException("Topic does not exist")
        return topic

    def list_topics(self) -> list[Topic]:
        rows = self.store.query("SELECT name, attributes, tags FROM sns_topics ORDER BY name")
        return [self._topic(row) for row in rows]

    def delete_topic(self, arn: Any) -> None:
        name = topic_name(arn)
        rows = self.store.query("SELECT endpoint FROM sns_subscriptions WHERE topic = ?", (name,))
        with self.store.transaction() as db:
            forget_fifo_ledger(db, name)
            db.execute("DELETE FROM sns_subscriptions WHERE topic = ?", (name,))
            db.execute("DELETE FROM sns_topics WHERE name = ?", (name,))
        for row in rows:
            function_changed(self.lab, row["endpoint"])

    def set_topic_attribute(self, arn: Any, name: str, value: Any) -> None:
        topic = self.get_topic(arn)
        if topic.fifo and name in FIFO_SETTABLE:
            attributes = {**topic.attributes, name: _fifo_attribute(name, value)}
        else:
            attributes = {**topic.attributes, **_topic_attributes({name: value}, settable_only=True)}
        with self.store.transaction() as db:
            db.execute("UPDATE sns_topics SET attributes = ? WHERE name = ?",
                       (json.dumps(attributes), topic.name))

    def add_permission(self, arn: Any, label: Any, accounts: Any, actions: Any) -> None:
        """AddPermission: a statement ``label`` in the topic's policy."""
        topic = self.get_topic(arn)
        self._save_policy(topic, with_permission(self._policy(topic), topic.arn, label, accounts, actions))

    def remove_permission(self, arn: Any, label: Any) -> None:
        """RemovePermission: the topic's policy without statement ``label``."""
        topic = self.get_topic(arn)
        self._save_policy(topic, without_permission(self._policy(topic), label))

    def _policy(self, topic: Topic) -> dict[str, Any]:
        text = topic.attributes.get("Policy")
        return json.loads(text) if text else default_policy(topic.arn, self.lab.arns.account_id)

    def _save_policy(self, topic: Topic, document: dict[str, Any]) -> None:
        attributes = {**topic.attributes, "Policy": json.dumps(document)}
        with self.store.transaction() as db:
            db.execute("UPDATE sns_topics SET attributes = ? WHERE name = ?",
                       (json.dumps(attributes), topic.name))

    def topic_attributes(self, arn: Any) -> dict[str, str]:
        topic = self.get_topic(arn)
        subscriptions = self.subscriptions_of(topic.arn)
        pending = sum(s.pending for s in subscriptions)
        return topic.to_aws(self.lab.arns.account_id, len(subscriptions) - pending, pending)

    def tag(self, arn: Any, tags: Mapping[str, str]) -> None:
        topic = self._tagged(arn)
        merged = {**topic.tags, **tags}
        if len(merged) > quotas.TAGS_MAX:
            raise InvalidParameterException(
                f"Invalid parameter: Tags (a topic has at most {quotas.TAGS_MAX} tags).")
        self._save_tags(topic.name, merged)

    def untag(self, arn: Any, keys: list[str]) -> None:
        topic = self._tagged(arn)
        self._save_tags(topic.name, {k: v for k, v in topic.tags.items() if k not in keys})

    def tags(self, arn: Any) -> dict[str, str]:
        return self._tagged(arn).tags

    def _tagged(self, arn: Any) -> Topic:
        try:
            return self.get_topic(arn)
        except NotFoundException:
            raise ResourceNotFoundException("Resource does not exist") from None

    def _save_tags(self, name: str, tags: Mapping[str, str]) -> None:
        with self.store.transaction() as db:
            db.execute("UPDATE sns_topics SET tags = ? WHERE name = ?", (json.dumps(tags), name))

    def _find(self, name: str) -> Topic | None:
        rows = self.store.query("SELECT name, attributes, tags FROM sns_topics WHERE name = ?", (name,))
        return self._topic(rows[0]) if rows else None

    def _topic(self, row: Any) -> Topic:
        return Topic(row["name"], self.arn(row["name"]), json.loads(row["attributes"]),
                     json.loads(row["tags"]))

    # -- subscriptions ----------------------------------------------------------------

    def subscribe(self, arn: Any, protocol: Any, endpoint: Any,
                  attributes: Mapping[str, Any] | None = None) -> Subscription:
        """Subscribe ``endpoint`` to topic ``arn``; the same endpoint again returns its
        subscription (with other attributes: InvalidParameter)."""
        topic = self.get_topic(arn)
        protocol = _protocol(protocol)
        endpoint = check_endpoint(protocol, endpoint)
        _check_fits_topic(topic, protocol, endpoint)
        checked = _subscription_attributes(attributes or {}, _SUBSCRIBE_PREFIX)
        for existing in self.subscriptions_of(topic.arn):
            if existing.protocol == protocol and existing.endpoint == endpoint:
                if any(existing.attributes.get(k) != v for k, v in checked.items()):
                    raise InvalidParameterException(
                        "Invalid parameter: Attributes Reason: Subscription already exists "
                        "with different attributes")
                return existing
        token = secrets.token_hex(quotas.CONFIRMATION_TOKEN_BYTES) if protocol in CONFIRMED_BY_TOKEN else None
        subscription = Subscription(f"{topic.arn}:{uuid.uuid4()}", topic.arn, protocol,
                                    endpoint, checked, token)
        with self.store.transaction() as db:
            db.execute(
                "INSERT INTO sns_subscriptions (arn, topic, protocol, endpoint, attributes, "
                "created_at, token) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (subscription.arn, topic.name, protocol, endpoint, json.dumps(checked),
                 self.lab.clock.now(), token))
        function_changed(self.lab, endpoint)  # a function's triggers changed (if it is one)
        return subscription

    def confirm_subscription(self, arn: Any, token: Any) -> Subscription:
        """ConfirmSubscription: the subscription of topic ``arn`` that waits for ``token``,
        now confirmed."""
        topic = self.get_topic(arn)
        rows = self.store.query(_SELECT_SUBSCRIPTIONS + " WHERE topic = ? AND token = ?",
                                (topic.name, token if isinstance(token, str) else ""))
        if not rows:
            raise InvalidParameterException("Invalid parameter: Token")
        with self.store.transaction() as db:
            db.execute("UPDATE sns_subscriptions SET token = NULL WHERE arn = ?", (rows[0]["arn"],))
        return replace(self._subscription(rows[0]), token=None)

    def unsubscribe(self, arn: Any) -> None:
        _subscription_topic(arn)
        rows = self.store.query("SELECT endpoint FROM sns_subscriptions WHERE arn = ?", (arn,))
        with self.store.transaction() as db:
            db.execute("DELETE FROM sns_subscriptions WHERE arn = ?", (arn,))
        for row in rows:
            function_changed(self.lab, row["endpoint"])

    def get_subscription(self, arn: Any) -> Subscription:
        _subscription_topic(arn)
        rows = self.store.query(_SELECT_SUBSCRIPTIONS + " WHERE arn = ?", (arn,))
        if not rows:
            raise NotFoundException("Subscription does not exist")
        return self._subscription(rows[0])

    def set_subscription_attribute(self, arn: Any, name: str, value: Any) -> None:
        subscription = self.get_subscription(arn)
        attributes = {**subscription.attributes, **_subscription_attributes({name: value})}
        _check_scope_and_policy(attributes)
        with self.store.transaction() as db:
            db.execute("UPDATE sns_subscriptions SET attributes = ? WHERE arn = ?",
                       (json.dumps(attributes), subscription.arn))

    def subscriptions_of(self, arn: str) -> list[Subscription]:
        rows = self.store.query(_SELECT_SUBSCRIPTIONS + " WHERE topic = ? ORDER BY created_at, arn",
                                (topic_name(arn),))
        return [self._subscription(row) for row in rows]

    def list_subscriptions(self) -> list[Subscription]:
        rows = self.store.query(_SELECT_SUBSCRIPTIONS + " ORDER BY topic, created_at, arn")
        return [self._subscription(row) for row in rows]

    def _subscription(self, row: Any) -> Subscription:
        return Subscription(row["arn"], self.arn(row["topic"]), row["protocol"], row["endpoint"],
                            json.loads(row["attributes"]), row["token"])


_SUBSCRIBE_PREFIX = "Invalid parameter: Attributes Reason: "
_SELECT_SUBSCRIPTIONS = "SELECT arn, topic, protocol, endpoint, attributes, token FROM sns_subscriptions"


def _subscription_topic(arn: Any) -> str:
    """The topic name of a subscription ARN (the topic's ARN, a colon and an id)."""
    if not isinstance(arn, str) or arn.count(":") != 6:
        raise InvalidParameterException(
            f"Invalid parameter: SubscriptionArn ({arn!r} is not a subscription ARN; use the "
            "SubscriptionArn Subscribe returned).")
    return topic_name(arn.rsplit(":", 1)[0])


def _check_topic_kind(name: Any, checked: dict[str, str]) -> None:
    """A FIFO topic is asked for with ``FifoTopic`` and a ``.fifo`` name, as SNS requires;
    ``checked`` is left with its FIFO attributes (defaults filled in) or none."""
    if checked.get("FifoTopic", "false").lower() == "true":
        if not isinstance(name, str) or not _FIFO_TOPIC_NAME.match(name):
            raise InvalidParameterException(_FIFO_NAME_REASON)
        checked["FifoTopic"] = "true"
        for key, default in FIFO_SETTABLE.items():
            checked[key] = _fifo_attribute(key, checked.get(key, default))
        return
    if not isinstance(name, str) or not _TOPIC_NAME.match(name):
        raise InvalidParameterException("Invalid parameter: Topic Name")
    checked.pop("FifoTopic", None)
    if any(key in checked for key in FIFO_SETTABLE):
        raise InvalidParameterException(
            "Invalid parameter: Attributes Reason: ContentBasedDeduplication and "
            "FifoThroughputScope are attributes of FIFO topics (FifoTopic true, a .fifo name)")


def _fifo_attribute(name: str, value: Any) -> str:
    allowed = ("true", "false") if name == "ContentBasedDeduplication" else ("Topic", "MessageGroup")
    text = value.lower() if isinstance(value, str) and name == "ContentBasedDeduplication" else value
    if text not in allowed:
        raise InvalidParameterException(f"Invalid parameter: {name} (one of {', '.join(allowed)}).")
    return str(text)


def _check_fits_topic(topic: Topic, protocol: str, endpoint: str) -> None:
    """A FIFO topic delivers only to SQS queues; a FIFO queue subscribes only to a FIFO
    topic (https://docs.aws.amazon.com/sns/latest/dg/fifo-message-delivery.html)."""
    if topic.fifo and protocol != "sqs":
        raise InvalidParameterException(f"Invalid parameter: Invalid protocol type: {protocol}")
    if not topic.fifo and endpoint.endswith(".fifo"):
        raise InvalidParameterException(
            "Invalid parameter: Invalid parameter: Endpoint Reason: FIFO SQS Queues can not be "
            "subscribed to standard SNS topics")


def _topic_attributes(attributes: Mapping[str, Any], settable_only: bool = False) -> dict[str, str]:
    allowed = set(TOPIC_SETTABLE) | ({"FifoTopic", *FIFO_SETTABLE} if not settable_only else set())
    out = {}
    for name, value in attributes.items():
        if name not in allowed:
            raise InvalidParameterException(
                f"Invalid parameter: AttributeName ({name!r}; lambdalab's SNS takes "
                f"{', '.join(sorted(allowed))}).")
        if not isinstance(value, str):
            raise InvalidParameterException(f"Invalid parameter: {name} (a string).")
        if name == "DeliveryPolicy" and value:
            _check_delivery_policy(value, "Invalid parameter: ")
        out[name] = check_policy(value) if name == "Policy" and value else value
    return out


def _protocol(protocol: Any) -> str:
    if protocol in PROTOCOLS:
        return protocol
    if protocol in OTHER_PROTOCOLS:
        raise InvalidParameterException(
            f"Invalid parameter: Protocol (lambdalab's SNS takes {', '.join(PROTOCOLS)} "
            f"subscriptions; {protocol!r} is not emulated).")
    raise InvalidParameterException(f"Invalid parameter: Amazon SNS does not support this protocol string: {protocol}")


def _subscription_attributes(attributes: Mapping[str, Any],
                             prefix: str = "Invalid parameter: ") -> dict[str, str]:
    """Subscription attributes checked as SNS checks them; ``prefix`` begins each error
    (Subscribe's are ``Invalid parameter: Attributes Reason: ``)."""
    out = {}
    for name, value in attributes.items():
        if name not in SUBSCRIPTION_SETTABLE:
            raise InvalidParameterException(f"Invalid parameter: AttributeName ({name!r}; "
                                            f"use one of {', '.join(SUBSCRIPTION_SETTABLE)}).")
        if not isinstance(value, str):
            raise InvalidParameterException(f"Invalid parameter: {name} (a string).")
        if name == "RawMessageDelivery" and value.lower() not in ("true", "false"):
            raise InvalidParameterException("Invalid parameter: RawMessageDelivery (true or false).")
        if name in _JSON_POLICIES and value:
            _JSON_POLICIES[name](value, prefix)
        out[name] = value
    _check_scope_and_policy(out)
    return out


def _json_object(name: str, value: str, prefix: str) -> dict[str, Any]:
    try:
        parsed = json.loads(value)
    except (ValueError, RecursionError):
        parsed = None
    if not isinstance(parsed, dict):
        raise InvalidParameterException(f"{prefix}{name}: failed to parse JSON.")
    return parsed


def _check_redrive_policy(value: str, prefix: str) -> None:
    """As SNS checks a subscription's RedrivePolicy: JSON, with a ``deadLetterTargetArn``
    that is an ARN (https://docs.aws.amazon.com/sns/latest/dg/sns-configure-dead-letter-queue.html)."""
    target = _json_object("RedrivePolicy", value, prefix).get("deadLetterTargetArn")
    parts = target.split(":", 5) if isinstance(target, str) else []
    if len(parts) != 6 or parts[0] != "arn" or not all(parts[1:3]) or not parts[5]:
        raise InvalidParameterException(f"{prefix}RedrivePolicy: deadLetterTargetArn is an invalid arn")


def _check_delivery_policy(value: str, prefix: str) -> None:
    _json_object("DeliveryPolicy", value, prefix)
    check_http_delivery_policy(value, prefix)


_JSON_POLICIES = {"RedrivePolicy": _check_redrive_policy, "DeliveryPolicy": _check_delivery_policy}


def _check_scope_and_policy(attributes: dict[str, str]) -> None:
    if "FilterPolicyScope" in attributes:
        check_scope(attributes["FilterPolicyScope"])
    if attributes.get("FilterPolicy"):
        check_filter_policy(attributes["FilterPolicy"],
                            attributes.get("FilterPolicyScope") or "MessageAttributes")


__all__ = ["Topic", "Topics", "Subscription", "MIGRATIONS", "topic_arn", "topic_name"]
