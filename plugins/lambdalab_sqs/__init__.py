"""lambdalab's SQS: queues on the HTTP edge (JSON and query protocols), event source
mappings that poll them, and SQS as a destination and dead-letter queue of async invokes.

A built-in plugin, registered by entry point (``sqs = "lambdalab_sqs"``) exactly as a
student's plugin is. Split the way moto splits a service: :mod:`.models` (queues and
messages in the lab's store), :mod:`.responses` (both wire protocols),
:mod:`.exceptions` (one class per SQS error), :mod:`.mappings` (event source mappings and
their pollers) and :mod:`.cli` (``lambdalab sqs …`` and ``lambdalab esm …``).

From Python::

    from lambdalab_sqs import sqs_of
    queues = sqs_of(lab).queues
    queues.create_queue("jobs")
    queues.send_message("jobs", "hello")
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Mapping

import lambdalab
from lambdalab.plugin import ConsolePanel, DestinationMessage, HttpService, Sender, StashKey, parse_function_ref

from .exceptions import SqsError
from .mappings import EventSourceMapping, EventSourceMappings
from .models import MIGRATIONS, Message, Queue, Queues, name_from_arn
from .policies import lambdalab_resource_policy  # noqa: F401  (a hook implementation of this plugin)
from .responses import TARGET_PREFIX, SqsService

if TYPE_CHECKING:
    from lambdalab import Lab

__version__ = "0.1.0"


@dataclass
class Sqs:
    """One lab's SQS: its queues and its event source mappings."""

    queues: Queues
    mappings: EventSourceMappings

    def close(self) -> None:
        self.mappings.close()
        self.queues.close()


#: Each lab's SQS, in ``lab.stash``: it dies with the lab, which closes it.
SQS = StashKey[Sqs]()


def sqs_of(lab: "Lab") -> Sqs:
    """The SQS of ``lab`` (started with the lab)."""

    def make() -> Sqs:
        queues = Queues(lab)
        return Sqs(queues, EventSourceMappings(lab, queues))

    return lab.stash.setdefault(SQS, make)


@lambdalab.hookimpl
def lambdalab_lab_started(lab: "Lab") -> None:
    sqs_of(lab).mappings.start()


@lambdalab.hookimpl
def lambdalab_lab_closing(lab: "Lab") -> None:
    sqs = lab.stash.get(SQS, None)
    if sqs is not None:  # stop polling while the lab can still invoke; closed again: no-op
        sqs.mappings.close()


@lambdalab.hookimpl
def lambdalab_migrations() -> dict[str, str]:
    return MIGRATIONS


@lambdalab.hookimpl
def lambdalab_event_source_mappings(lab: "Lab") -> dict[str, EventSourceMappings]:
    return {"sqs": sqs_of(lab).mappings}


@lambdalab.hookimpl
def lambdalab_http_services(lab: "Lab") -> list[HttpService]:
    return [HttpService("sqs", SqsService(sqs_of(lab).queues), target_prefixes=(TARGET_PREFIX,))]


@lambdalab.hookimpl
def lambdalab_destination_sender(lab: "Lab", destination_arn: str) -> Sender | None:
    """Deliver async-invoke records and dead letters to a queue of this lab."""
    if not destination_arn.startswith("arn:aws:sqs:"):
        return None
    name = name_from_arn(destination_arn)
    queues = sqs_of(lab).queues

    def send(message: DestinationMessage) -> None:
        attributes = {
            key: {"DataType": message.data_types.get(key, "String"), "StringValue": value}
            for key, value in message.attributes.items() if value
        }
        fifo = name.endswith(".fifo")  # a standard queue has no groups to keep
        queues.send_message(name, message.body, message_attributes=attributes,
                            trace_header=message.trace_header,
                            group_id=message.group_id if fifo else None,
                            dedup_id=message.dedup_id if fifo else None)

    return send



@lambdalab.hookimpl
def lambdalab_console_panels(lab: "Lab") -> list[ConsolePanel]:
    """The console's queue panel: each queue's messages by state (what
    GetQueueAttributes' approximate counts say) and the functions mapped to it."""

    def rows() -> list[Mapping[str, Any]]:
        sqs = sqs_of(lab)
        mapped: dict[str, list[str]] = {}
        for mapping in sqs.mappings.list():
            mapped.setdefault(mapping.event_source_arn, []).append(parse_function_ref(mapping.function_arn).name)
        out: list[Mapping[str, Any]] = []
        for queue in sqs.queues.list_queues():
            counts = sqs.queues.counts(queue.name)
            out.append({"Queue": queue.name, "Visible": counts["visible"], "In flight": counts["in_flight"],
                        "Delayed": counts["delayed"],
                        "Mapped to": ", ".join(mapped.get(sqs.queues.arn(queue.name), []))})
        return out

    return [ConsolePanel("SQS queues (lambdalab_sqs)", rows)]


@lambdalab.hookimpl
def lambdalab_register_commands(cli: Any) -> None:
    """``lambdalab sqs …`` and ``lambdalab esm …``."""
    from .cli import esm_group, sqs_group

    cli.add_command(sqs_group)
    cli.add_command(esm_group)

__all__ = [
    "Sqs",
    "sqs_of",
    "Queue",
    "Queues",
    "Message",
    "EventSourceMapping",
    "EventSourceMappings",
    "SqsError",
]
