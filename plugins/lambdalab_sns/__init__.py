"""lambdalab's SNS: topics and subscriptions on the HTTP edge (query protocol), fan-out
to Lambda functions (invoked asynchronously) and SQS queues with filter policies, and
SNS topics as destinations and dead-letter targets of async invokes.

A built-in plugin, registered by entry point (``sns = "lambdalab_sns"``) exactly as a
student's plugin is. Split the way moto splits a service: :mod:`.models` (topics and
subscriptions in the lab's store), :mod:`.publishing` (Publish and what each protocol
receives), :mod:`.delivery` (durable deliveries, SNS's retries and dead-letter queues),
:mod:`.fifo` (FIFO topics' groups, deduplication and sequence numbers),
:mod:`.policies` (topic policies and SNS's permission checks), :mod:`.filter_policies`,
:mod:`.responses` (the wire layer), :mod:`.exceptions` (one class per SNS error) and
:mod:`.cli` (``lambdalab sns …``).

From Python::

    from lambdalab_sns import sns_of
    sns = sns_of(lab)
    topic = sns.topics.create_topic("orders")
    sns.topics.subscribe(topic.arn, "lambda", lab.arns.function("audit"))
    sns.publisher.publish(topic.arn, "hello")
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import lambdalab
from lambdalab.plugin import (
    DestinationMessage,
    FunctionTrigger,
    HttpService,
    InvalidParameterValueException,
    Sender,
    StashKey,
    function_named,
)

from . import quotas
from .exceptions import SnsError
from .policies import lambdalab_resource_policy  # noqa: F401  (a hook implementation of this plugin)
from .models import MIGRATIONS, Subscription, Topic, Topics, topic_name
from .publishing import Notification, Publisher
from .responses import SnsResponses, SnsService

if TYPE_CHECKING:
    from lambdalab import Lab

__version__ = "0.1.0"


@dataclass
class Sns:
    """One lab's SNS: its topics (with their subscriptions) and what publishes to them."""

    topics: Topics
    publisher: Publisher

    def close(self) -> None:
        self.publisher.deliveries.close()


#: Each lab's SNS, in ``lab.stash``: it dies with the lab.
SNS = StashKey[Sns]()


def sns_of(lab: "Lab") -> Sns:
    """The SNS of ``lab``."""

    def make() -> Sns:
        topics = Topics(lab)
        return Sns(topics, Publisher(lab, topics))

    return lab.stash.setdefault(SNS, make)


@lambdalab.hookimpl
def lambdalab_function_triggers(lab: "Lab", function_name: str) -> list[FunctionTrigger]:
    """The subscriptions that deliver to ``function_name`` (the console lists them)."""
    return [FunctionTrigger("sns", s.topic_arn, _shown_filter(s),
                            "PendingConfirmation" if s.pending else None)
            for s in sns_of(lab).topics.list_subscriptions()
            if s.protocol == "lambda" and function_named(lab, s.endpoint) == function_name]


def _shown_filter(subscription: Subscription) -> str:
    policy = subscription.attributes.get("FilterPolicy")
    return f"filter policy {policy}" if policy else ""


@lambdalab.hookimpl
def lambdalab_migrations() -> dict[str, str]:
    return MIGRATIONS


@lambdalab.hookimpl
def lambdalab_lab_started(lab: "Lab") -> None:
    sns_of(lab).publisher.deliveries.resume()  # what a closed or killed lab was still delivering


@lambdalab.hookimpl
def lambdalab_http_services(lab: "Lab") -> list[HttpService]:
    sns = sns_of(lab)
    return [HttpService("sns", SnsService(SnsResponses(sns.topics, sns.publisher)))]


@lambdalab.hookimpl
def lambdalab_destination_sender(lab: "Lab", destination_arn: str) -> Sender | None:
    """Publish async-invoke records and dead letters to a topic of this lab, as AWS does:
    the record is the message, a dead letter's ``RequestID``, ``ErrorCode`` and
    ``ErrorMessage`` its message attributes."""
    if not destination_arn.startswith("arn:aws:sns:"):
        return None
    try:
        topic_name(destination_arn)
    except SnsError as e:  # refused when the configuration is saved, in Lambda's words
        raise InvalidParameterValueException(f"{destination_arn!r}: {e.message}") from None
    publisher = sns_of(lab).publisher

    def send(message: DestinationMessage) -> None:
        attributes = {
            key: {"DataType": message.data_types.get(key, "String"), "StringValue": value}
            for key, value in message.attributes.items() if value
        }
        publisher.publish(destination_arn, message.body, message_attributes=attributes,
                          subject=subject_from(message.subject), trace_header=message.trace_header)

    return send


def subject_from(text: str | None) -> str | None:
    """A subject another service gives (an alarm's names one) as SNS takes it: printable
    ASCII, cut to SNS's length."""
    if text is None:
        return None
    kept = "".join(c for c in text if c.isascii() and c.isprintable())
    return kept[:quotas.SUBJECT_MAX_CHARS] or None


@lambdalab.hookimpl
def lambdalab_register_commands(cli: Any) -> None:
    """``lambdalab sns …``."""
    from .cli import sns_group

    cli.add_command(sns_group)


__all__ = [
    "Sns",
    "sns_of",
    "Topic",
    "Topics",
    "Subscription",
    "Notification",
    "Publisher",
    "SnsError",
]
