"""``lambdalab sqs …`` (queues and messages) and ``lambdalab esm …`` (event source mappings).

Each command opens the lab, so enabled mappings poll while it runs; ``lambdalab serve``
keeps them polling.
"""

from __future__ import annotations

import functools
import json
from typing import Any, Callable, TypeVar

import click

from lambdalab import Lab
from lambdalab.plugin import LambdaGroup, pass_lab, print_table, say

from . import sqs_of
from .exceptions import SqsError
from .mappings import REPORT_BATCH_ITEM_FAILURES
from .models import Queues

F = TypeVar("F", bound=Callable[..., Any])


class SqsGroup(LambdaGroup):
    """Prints an SqsError as ``Code: message`` (exit 2), like the rest of the CLI."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except SqsError as error:
            click.echo(f"{error.query_code or error.code}: {error.message}", err=True)
            ctx.exit(2)


def pass_queues(command: F) -> F:
    @functools.wraps(command)
    @pass_lab
    def with_queues(lab: Lab, *args: Any, **kwargs: Any) -> Any:
        return command(sqs_of(lab).queues, *args, **kwargs)

    return with_queues  # type: ignore[return-value]


@click.group("sqs", cls=SqsGroup)
def sqs_group() -> None:
    """Queues and messages (lambdalab_sqs), as SQS keeps them."""


@sqs_group.command("create-queue")
@click.argument("name")
@click.option("--attribute", "-a", multiple=True, metavar="NAME=VALUE",
              help="A queue attribute, e.g. VisibilityTimeout=60 (repeatable).")
@pass_queues
def create_queue(queues: Queues, name: str, attribute: tuple[str, ...]) -> None:
    """Create queue NAME (a FIFO queue: NAME.fifo with -a FifoQueue=true)."""
    attributes = dict(item.split("=", 1) for item in attribute if "=" in item)
    queues.create_queue(name, attributes)
    say(f"Created queue {name}: {queues.url(name)} ({queues.arn(name)})")


@sqs_group.command("list")
@click.option("--prefix", default="", help="Only queues whose name starts with this.")
@pass_queues
def list_queues(queues: Queues, prefix: str) -> None:
    """List queues with their visible, in-flight and delayed messages."""
    rows = []
    for queue in queues.list_queues(prefix):
        counts = queues.counts(queue.name)
        rows.append((queue.name, counts["visible"], counts["in_flight"], counts["delayed"],
                     queues.arn(queue.name)))
    print_table("Queues", ("Name", "Visible", "In flight", "Delayed", "ARN"), rows,
                empty="No queues. Create one with `lambdalab sqs create-queue NAME`.")


@sqs_group.command("send")
@click.argument("queue")
@click.argument("body")
@click.option("--delay", type=int, default=None, help="DelaySeconds (0-900).")
@click.option("--group", default=None, help="MessageGroupId (a FIFO queue needs one).")
@click.option("--dedup", default=None, help="MessageDeduplicationId (FIFO queues).")
@pass_queues
def send(queues: Queues, queue: str, body: str, delay: int | None, group: str | None,
         dedup: str | None) -> None:
    """Send BODY to QUEUE."""
    sent = queues.send_message(queue, body, delay_seconds=delay, group_id=group, dedup_id=dedup)
    say(f"Sent {sent.message_id} to {queue}"
        + (f" (sequence number {sent.sequence_number})" if sent.sequence_number else ""))


@sqs_group.command("receive")
@click.argument("queue")
@click.option("--max", "max_messages", type=int, default=1, help="1-10 messages.")
@click.option("--delete", is_flag=True, help="Delete what was received.")
@pass_queues
def receive(queues: Queues, queue: str, max_messages: int, delete: bool) -> None:
    """Receive messages from QUEUE (they stay in flight for its visibility timeout)."""
    messages = queues.receive_message(queue, max_number_of_messages=max_messages)
    for message in messages:
        click.echo(json.dumps({"MessageId": message.message_id, "Body": message.body,
                               "ApproximateReceiveCount": message.receive_count}))
        if delete:
            queues.delete_message(queue, message.receipt_handle)
    if not messages:
        say(f"No visible messages in {queue}.")


@sqs_group.command("purge")
@click.argument("queue")
@pass_queues
def purge(queues: Queues, queue: str) -> None:
    """Delete every message of QUEUE."""
    queues.purge(queue)
    say(f"Purged {queue}")


@click.group("esm", cls=SqsGroup)
def esm_group() -> None:
    """Event source mappings: functions that poll SQS queues."""


@esm_group.command("create")
@click.argument("function")
@click.argument("queue")
@click.option("--batch-size", type=int, default=10, show_default=True)
@click.option("--window", type=int, default=0, show_default=True,
              help="MaximumBatchingWindowInSeconds.")
@click.option("--report-failures", is_flag=True, help=f"FunctionResponseTypes {REPORT_BATCH_ITEM_FAILURES}.")
@click.option("--disabled", is_flag=True, help="Create it disabled.")
@pass_lab
def create(lab: Lab, function: str, queue: str, batch_size: int, window: int,
           report_failures: bool, disabled: bool) -> None:
    """Make FUNCTION poll QUEUE (a queue name or ARN)."""
    arn = queue if queue.startswith("arn:") else sqs_of(lab).queues.arn(queue)
    mapping = lab.create_event_source_mapping(
        function, event_source_arn=arn, batch_size=batch_size,
        maximum_batching_window_in_seconds=window, enabled=not disabled,
        function_response_types=[REPORT_BATCH_ITEM_FAILURES] if report_failures else [],
    )
    say(f"Created mapping {mapping.uuid}: {arn} -> {mapping.function_arn}")


@esm_group.command("list")
@click.option("--function", default=None, help="Only this function's mappings.")
@pass_lab
def list_mappings(lab: Lab, function: str | None) -> None:
    """List event source mappings."""
    rows = [(m.uuid, m.current_state, m.event_source_arn, m.function_arn, m.batch_size,
             m.last_processing_result) for m in lab.list_event_source_mappings(function_name=function)]
    print_table("Event source mappings",
                ("UUID", "State", "Queue", "Function", "Batch", "Last result"), rows,
                empty="No mappings. Create one with `lambdalab esm create FUNCTION QUEUE`.")


@esm_group.command("enable")
@click.argument("uuid")
@pass_lab
def enable(lab: Lab, uuid: str) -> None:
    """Start polling again."""
    lab.update_event_source_mapping(uuid, enabled=True)
    say(f"Enabled mapping {uuid}")


@esm_group.command("disable")
@click.argument("uuid")
@pass_lab
def disable(lab: Lab, uuid: str) -> None:
    """Stop polling; messages wait in the queue."""
    lab.update_event_source_mapping(uuid, enabled=False)
    say(f"Disabled mapping {uuid}")


@esm_group.command("delete")
@click.argument("uuid")
@pass_lab
def delete(lab: Lab, uuid: str) -> None:
    """Delete the mapping."""
    lab.delete_event_source_mapping(uuid)
    say(f"Deleted mapping {uuid}")
