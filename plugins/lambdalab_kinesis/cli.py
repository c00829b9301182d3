"""``lambdalab kinesis …``: streams, records, and a stream's event source mapping.

Each command opens the lab, so enabled mappings read while it runs; ``lambdalab serve``
keeps them reading. ``lambdalab esm list|enable|disable|delete`` (the SQS plugin's
group) lists and changes every mapping, Kinesis's included.
"""

from __future__ import annotations

import base64
import functools
import json
from typing import Any, Callable, TypeVar

import click

from lambdalab import Lab
from lambdalab.plugin import LambdaGroup, pass_lab, print_table, say, stream_sources

from . import kinesis_of
from .exceptions import KinesisError, ProvisionedThroughputExceededException
from .models import ON_DEMAND, PROVISIONED, Streams

F = TypeVar("F", bound=Callable[..., Any])


class KinesisGroup(LambdaGroup):
    """Prints a KinesisError as ``Code: message`` (exit 2), like the rest of the CLI."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except KinesisError as error:
            click.echo(f"{error.code}: {error.message}", err=True)
            ctx.exit(2)


def pass_streams(command: F) -> F:
    @functools.wraps(command)
    @pass_lab
    def with_streams(lab: Lab, *args: Any, **kwargs: Any) -> Any:
        return command(kinesis_of(lab).streams, *args, **kwargs)

    return with_streams  # type: ignore[return-value]


@click.group("kinesis", cls=KinesisGroup)
def kinesis_group() -> None:
    """Kinesis data streams (lambdalab_kinesis): shards, records, mappings."""


@kinesis_group.command("create-stream")
@click.argument("name")
@click.option("--shards", type=int, default=None, help="ShardCount (provisioned).")
@click.option("--on-demand", is_flag=True, help="StreamMode ON_DEMAND (4 shards).")
@pass_streams
def create_stream(streams: Streams, name: str, shards: int | None, on_demand: bool) -> None:
    """Create stream NAME."""
    streams.create_stream(name, shards, ON_DEMAND if on_demand else PROVISIONED)
    count = len(streams.shards(name))
    say(f"Created stream {name} with {count} shard{'s' * (count != 1)}: {streams.arn(name)}")


@kinesis_group.command("list")
@pass_streams
def list_streams(streams: Streams) -> None:
    """List streams with their open shards and retention."""
    rows = []
    for name in streams.names():
        stream = streams.stream(name)
        open_shards = sum(1 for s in streams.shards(name) if not s.closed)
        rows.append((name, stream.mode, open_shards, f"{stream.retention_hours} h", stream.arn))
    print_table("Streams", ("Name", "Mode", "Open shards", "Retention", "ARN"), rows,
                empty="No streams. Create one with `lambdalab kinesis create-stream NAME --shards 2`.")


@kinesis_group.command("put")
@click.argument("stream")
@click.argument("data")
@click.option("--key", "partition_key", required=True, help="PartitionKey: chooses the shard.")
@pass_streams
def put(streams: Streams, stream: str, data: str, partition_key: str) -> None:
    """Put DATA (text) on STREAM."""
    result = streams.put_records(stream, [(data.encode(), partition_key, None)])[0]
    if "ErrorCode" in result:
        raise ProvisionedThroughputExceededException(result["ErrorMessage"])
    say(f"Put {result['SequenceNumber']} on {result['ShardId']}")


@kinesis_group.command("read")
@click.argument("stream")
@click.option("--from", "start", type=click.Choice(["TRIM_HORIZON", "LATEST"]), default="TRIM_HORIZON",
              show_default=True, help="Where to start in each shard.")
@click.option("--limit", type=int, default=100, show_default=True, help="Records per shard.")
@pass_streams
def read(streams: Streams, stream: str, start: str, limit: int) -> None:
    """Print the records of every shard of STREAM, one JSON line each."""
    found = 0
    for shard in streams.shards(stream):
        iterator = streams.iterator(stream, shard.shard_id, start)
        for record in streams.get_records(iterator, limit)["Records"]:
            found += 1
            click.echo(json.dumps({"ShardId": shard.shard_id, "SequenceNumber": record["SequenceNumber"],
                                   "PartitionKey": record["PartitionKey"],
                                   "Data": _text(record["Data"])}))
    if not found:
        say(f"No records in {stream}.")


def _text(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return "base64:" + base64.b64encode(data).decode("ascii")


@kinesis_group.command("map")
@click.argument("function")
@click.argument("stream")
@click.option("--from", "start", type=click.Choice(list(stream_sources.STARTING_POSITIONS[:2])),
              default="TRIM_HORIZON", show_default=True, help="StartingPosition.")
@click.option("--batch-size", type=int, default=100, show_default=True)
@click.option("--retries", type=int, default=-1, show_default=True,
              help="MaximumRetryAttempts (-1: until the records expire).")
@click.option("--bisect", is_flag=True, help="BisectBatchOnFunctionError.")
@pass_lab
def map_stream(lab: Lab, function: str, stream: str, start: str, batch_size: int, retries: int,
               bisect: bool) -> None:
    """Make FUNCTION read STREAM (a stream name or ARN)."""
    arn = stream if stream.startswith("arn:") else kinesis_of(lab).streams.arn(stream)
    mapping = lab.create_event_source_mapping(
        function, event_source_arn=arn, starting_position=start, batch_size=batch_size,
        maximum_retry_attempts=retries, bisect_batch_on_function_error=bisect)
    say(f"Created mapping {mapping.uuid}: {arn} -> {mapping.function_arn}")
