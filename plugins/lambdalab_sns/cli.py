"""``lambdalab sns …``: topics, subscriptions and publishing from the command line.

Topics are named by name or ARN; a ``lambda`` endpoint by function name or ARN, an
``sqs`` endpoint by queue ARN. Publishing from here fans out exactly as Publish on the
edge does (functions are invoked asynchronously: ``lambdalab logs`` shows them run).
"""

from __future__ import annotations

import functools
from typing import Any, Callable, TypeVar

import click

from lambdalab import Lab
from lambdalab.plugin import LambdaGroup, pass_lab, print_table, say

from . import Sns, sns_of
from .exceptions import SnsError

F = TypeVar("F", bound=Callable[..., Any])


class SnsGroup(LambdaGroup):
    """Prints an SnsError as ``Code: message`` (exit 2), like the rest of the CLI."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except SnsError as error:
            click.echo(f"{error.query_code}: {error.message}", err=True)
            ctx.exit(2)


def pass_sns(command: F) -> F:
    @functools.wraps(command)
    @pass_lab
    def with_sns(lab: Lab, *args: Any, **kwargs: Any) -> Any:
        return command(sns_of(lab), *args, **kwargs)

    return with_sns  # type: ignore[return-value]


def topic_arn(sns: Sns, topic: str) -> str:
    return topic if topic.startswith("arn:") else sns.topics.arn(topic)


@click.group("sns", cls=SnsGroup)
def sns_group() -> None:
    """Topics, subscriptions and fan-out (lambdalab_sns), as SNS keeps them."""


@sns_group.command("create-topic")
@click.argument("name")
@click.option("--fifo", is_flag=True, help="A FIFO topic (NAME ends with .fifo).")
@click.option("--content-dedup", is_flag=True, help="ContentBasedDeduplication (FIFO).")
@pass_sns
def create_topic(sns: Sns, name: str, fifo: bool, content_dedup: bool) -> None:
    """Create topic NAME (an existing one is returned)."""
    attributes = {"FifoTopic": "true"} if fifo else {}
    if content_dedup:
        attributes["ContentBasedDeduplication"] = "true"
    say(f"Topic {name}: {sns.topics.create_topic(name, attributes).arn}")


@sns_group.command("list")
@pass_sns
def list_topics(sns: Sns) -> None:
    """List topics and their subscriptions."""
    rows = [(s.topic_arn.rsplit(":", 1)[1], s.protocol, s.endpoint,
             s.attributes.get("FilterPolicy", ""), "yes" if s.raw else "")
            for s in sns.topics.list_subscriptions()]
    subscribed = {row[0] for row in rows}
    rows += [(t.name, "", "", "", "") for t in sns.topics.list_topics() if t.name not in subscribed]
    print_table("Topics", ("Topic", "Protocol", "Endpoint", "Filter policy", "Raw"), rows,
                empty="No topics. Create one with `lambdalab sns create-topic NAME`.")


@sns_group.command("subscribe")
@click.argument("topic")
@click.argument("protocol", type=click.Choice(["lambda", "sqs"]))
@click.argument("endpoint")
@click.option("--filter-policy", default=None, metavar="JSON", help="A FilterPolicy.")
@click.option("--body", "on_body", is_flag=True, help="FilterPolicyScope MessageBody.")
@click.option("--raw", is_flag=True, help="RawMessageDelivery (sqs).")
@pass_lab
def subscribe(lab: Lab, topic: str, protocol: str, endpoint: str, filter_policy: str | None,
              on_body: bool, raw: bool) -> None:
    """Subscribe ENDPOINT (a function name or ARN, or a queue ARN) to TOPIC."""
    if protocol == "lambda" and not endpoint.startswith("arn:"):
        endpoint = lab.arns.function(endpoint)
    attributes = {"FilterPolicy": filter_policy, "RawMessageDelivery": "true" if raw else None,
                  "FilterPolicyScope": "MessageBody" if on_body else None}
    sns = sns_of(lab)
    subscription = sns.topics.subscribe(topic_arn(sns, topic), protocol, endpoint,
                                        {k: v for k, v in attributes.items() if v is not None})
    say(f"Subscribed {endpoint}: {subscription.arn}")


@sns_group.command("unsubscribe")
@click.argument("subscription_arn")
@pass_sns
def unsubscribe(sns: Sns, subscription_arn: str) -> None:
    """Remove a subscription."""
    sns.topics.unsubscribe(subscription_arn)
    say(f"Unsubscribed {subscription_arn}")


@sns_group.command("publish")
@click.argument("topic")
@click.argument("message")
@click.option("--subject", default=None)
@click.option("--attribute", "-a", multiple=True, metavar="NAME=VALUE",
              help="A String attribute (NAME:Number=VALUE for a Number; repeatable).")
@click.option("--group-id", default=None, help="MessageGroupId (FIFO topics).")
@click.option("--dedup-id", default=None, help="MessageDeduplicationId (FIFO topics).")
@pass_sns
def publish(sns: Sns, topic: str, message: str, subject: str | None, attribute: tuple[str, ...],
            group_id: str | None, dedup_id: str | None) -> None:
    """Publish MESSAGE to TOPIC: every subscriber whose filter policy matches gets it."""
    attributes = {}
    for item in attribute:
        name, _, value = item.partition("=")
        name, _, data_type = name.partition(":")
        attributes[name] = {"DataType": data_type or "String", "StringValue": value}
    published = sns.publisher.publish_message(topic_arn(sns, topic), message, subject=subject,
                                              message_attributes=attributes, message_group_id=group_id,
                                              message_deduplication_id=dedup_id)
    sequence = f" (sequence number {published.sequence_number})" if published.sequence_number else ""
    say(f"Published {published.message_id}{sequence}")


@sns_group.command("delete-topic")
@click.argument("topic")
@pass_sns
def delete_topic(sns: Sns, topic: str) -> None:
    """Delete TOPIC and its subscriptions."""
    sns.topics.delete_topic(topic_arn(sns, topic))
    say(f"Deleted topic {topic}")


__all__ = ["sns_group"]
