"""``lambdalab dynamodb …``: look at a lab's tables, their items and their streams.

Creating tables and writing items is boto3's and the AWS CLI's job (``aws dynamodb``
against ``lambdalab serve``); these commands show what the lab holds.
"""

from __future__ import annotations

import json
from typing import Any

import click

from lambdalab import Lab
from lambdalab.plugin import LambdaGroup, pass_lab, print_table, say

from . import dynamodb_of
from .exceptions import DynamoDbError, ResourceNotFoundException
from .values import as_json


class DynamoDbGroup(LambdaGroup):
    """Prints a DynamoDbError as ``Code: message`` (exit 2), like the rest of the CLI."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except DynamoDbError as error:
            click.echo(f"{error.code}: {error.message}", err=True)
            ctx.exit(2)


@click.group("dynamodb", cls=DynamoDbGroup)
def dynamodb_group() -> None:
    """DynamoDB tables, items and streams (lambdalab_dynamodb)."""


@dynamodb_group.command("list")
@pass_lab
def list_tables(lab: Lab) -> None:
    """List tables with their keys, item count and stream."""
    tables = dynamodb_of(lab).tables
    rows = []
    for name in tables.list_tables(None, 10_000)[0]:
        described = tables.describe(tables.table(name))
        keys = ", ".join(f"{k['AttributeName']} ({k['KeyType']})" for k in described["KeySchema"])
        stream = described.get("StreamSpecification", {}).get("StreamViewType", "-")
        rows.append((name, keys, described["ItemCount"], stream))
    print_table("Tables", ("Name", "Key", "Items", "Stream"), rows,
                empty="No tables. Create one with boto3 or `aws dynamodb create-table`.")


@dynamodb_group.command("scan")
@click.argument("table")
@click.option("--limit", type=click.IntRange(1), default=None, help="Read at most this many items.")
@pass_lab
def scan(lab: Lab, table: str, limit: int | None) -> None:
    """Print TABLE's items, one JSON document a line, in DynamoDB's typed JSON."""
    page = dynamodb_of(lab).tables.scan(table, None, limit=limit)
    for item in page.items:
        click.echo(json.dumps(as_json(item), sort_keys=True))
    if page.last_key is not None:
        say(f"(more: --limit {limit} stopped the scan)")


@dynamodb_group.command("records")
@click.argument("table")
@click.option("--limit", type=click.IntRange(1), default=100, show_default=True)
@pass_lab
def records(lab: Lab, table: str, limit: int) -> None:
    """Print the records of TABLE's stream, oldest first, as Lambda receives them."""
    dynamodb = dynamodb_of(lab)
    streams = [s for s in dynamodb.streams.streams(table) if s.status == "ENABLED"]
    if not streams:
        raise ResourceNotFoundException(
            f"Table {table} has no enabled stream. Enable one with StreamSpecification "
            "(CreateTable or UpdateTable).")
    for _, record in dynamodb.streams.records_after(streams[0].arn, 0, limit):
        click.echo(json.dumps(record, sort_keys=True))

