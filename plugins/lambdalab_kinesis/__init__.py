"""lambdalab's Kinesis Data Streams: streams on the HTTP edge, and the stream event
source mapping engine that polls them (and any other :mod:`~lambdalab.stream_sources`
source, such as DynamoDB streams).

A built-in plugin, registered by entry point (``kinesis = "lambdalab_kinesis"``) exactly
as a student's plugin is. Split the way moto splits a service: :mod:`.models` (streams,
shards and records in the lab's store), :mod:`.responses` (the JSON protocol),
:mod:`.consumers` (enhanced fan-out: consumers and SubscribeToShard),
:mod:`.exceptions` (one class per Kinesis error), :mod:`.quotas` (AWS's limits),
:mod:`.mappings` (the stream mapping engine) and :mod:`.cli` (``lambdalab kinesis …``).

From Python::

    from lambdalab_kinesis import kinesis_of
    streams = kinesis_of(lab).streams
    streams.create_stream("clicks", 4)
    streams.put_records("clicks", [(b"hello", "user-1", None)])
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Mapping

import lambdalab
from lambdalab.plugin import ConsolePanel, HttpService, StashKey, parse_function_ref

from .consumers import Consumer, Consumers, Subscription
from .exceptions import KinesisError
from .mappings import CONSUMER_INFIX, StreamMapping, StreamMappings
from .models import MIGRATIONS, Shard, Stream, Streams
from .responses import TARGET_PREFIX, KinesisService
from .sources import KinesisShardSource

if TYPE_CHECKING:
    from lambdalab import Lab

__version__ = "0.1.0"


@dataclass
class Kinesis:
    """One lab's Kinesis: its streams, their enhanced fan-out consumers and the event
    source mappings that read them."""

    streams: Streams
    consumers: Consumers
    mappings: StreamMappings

    def close(self) -> None:
        self.mappings.close()
        self.streams.close()


#: Each lab's Kinesis, in ``lab.stash``: it dies with the lab, which closes it.
KINESIS = StashKey[Kinesis]()


def kinesis_of(lab: "Lab") -> Kinesis:
    """The Kinesis of ``lab`` (started with the lab)."""

    def make() -> Kinesis:
        streams = Streams(lab)
        consumers = Consumers(streams)
        return Kinesis(streams, consumers, StreamMappings(
            lab, "kinesis", lambda arn: KinesisShardSource.of(streams, arn, consumers)))

    return lab.stash.setdefault(KINESIS, make)


@lambdalab.hookimpl
def lambdalab_lab_started(lab: "Lab") -> None:
    kinesis_of(lab).mappings.start()


@lambdalab.hookimpl
def lambdalab_lab_closing(lab: "Lab") -> None:
    kinesis = lab.stash.get(KINESIS, None)
    if kinesis is not None:  # stop polling while the lab can still invoke
        kinesis.mappings.close()


@lambdalab.hookimpl
def lambdalab_migrations() -> dict[str, str]:
    return MIGRATIONS


@lambdalab.hookimpl
def lambdalab_event_source_mappings(lab: "Lab") -> dict[str, StreamMappings]:
    return {"kinesis": kinesis_of(lab).mappings}


@lambdalab.hookimpl
def lambdalab_http_services(lab: "Lab") -> list[HttpService]:
    kinesis = kinesis_of(lab)
    return [HttpService("kinesis", KinesisService(kinesis.streams, kinesis.consumers),
                        target_prefixes=(TARGET_PREFIX,))]


@lambdalab.hookimpl
def lambdalab_console_panels(lab: "Lab") -> list[ConsolePanel]:
    """The console's stream panel: each stream's status, open shards and enhanced
    fan-out consumers, and the functions mapped to it."""

    def rows() -> list[Mapping[str, Any]]:
        kinesis = kinesis_of(lab)
        mapped: dict[str, list[str]] = {}
        for mapping in kinesis.mappings.list():
            stream_arn = mapping.event_source_arn.partition(CONSUMER_INFIX)[0]  # a consumer reads its stream
            mapped.setdefault(stream_arn, []).append(parse_function_ref(mapping.function_arn).name)
        out: list[Mapping[str, Any]] = []
        for name in kinesis.streams.names():
            open_shards = sum(1 for shard in kinesis.streams.shards(name) if not shard.closed)
            summary = kinesis.streams.stream(name).summary(open_shards, kinesis.consumers.count(name))
            out.append({"Stream": name, "Status": summary["StreamStatus"], "Open shards": open_shards,
                        "Consumers": summary["ConsumerCount"],
                        "Mapped to": ", ".join(mapped.get(summary["StreamARN"], []))})
        return out

    return [ConsolePanel("Kinesis streams (lambdalab_kinesis)", rows)]


@lambdalab.hookimpl
def lambdalab_register_commands(cli: Any) -> None:
    """``lambdalab kinesis …``."""
    from .cli import kinesis_group

    cli.add_command(kinesis_group)


__all__ = [
    "Kinesis",
    "kinesis_of",
    "Stream",
    "Shard",
    "Streams",
    "Consumer",
    "Consumers",
    "Subscription",
    "KinesisShardSource",
    "StreamMapping",
    "StreamMappings",
    "KinesisError",
]
