"""lambdalab's DynamoDB and DynamoDB Streams: tables on the HTTP edge, durable in the data
dir, whose changes flow into streams.

A built-in plugin, registered by entry point (``dynamodb = "lambdalab_dynamodb"``) exactly
as a student's plugin is. Split the way moto splits a service: :mod:`.models` (tables,
items and their writes in the lab's store), :mod:`.tables` (a table's definition),
:mod:`.values` (attribute values), :mod:`.expressions` (condition, projection, key and
update expressions), :mod:`.streams` (stream records and the Streams API's state),
:mod:`.responses` (both wire APIs) and :mod:`.exceptions` (one class per error).

From Python (no HTTP, no boto3), items in the API's ``AttributeValue`` shapes::

    from lambdalab_dynamodb import dynamodb_of
    tables = dynamodb_of(lab).tables
    tables.create_table({"TableName": "notes", "BillingMode": "PAY_PER_REQUEST",
                         "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
                         "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}]})
    tables.put_item("notes", {"id": {"S": "1"}, "text": {"S": "hello"}})
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import lambdalab
from lambdalab.plugin import HttpService, StashKey

from lambdalab_kinesis import StreamMappings

from .backups import Backups
from .exceptions import DynamoDbError
from .models import MIGRATIONS, Tables
from .responses import STREAMS_TARGET_PREFIX, TARGET_PREFIX, DynamoDbService
from .sources import DynamoDbShardSource, DynamoDbStreamMappings
from .streams import Streams

if TYPE_CHECKING:
    from lambdalab import Lab

__version__ = "0.1.0"


@dataclass
class DynamoDb:
    """One lab's DynamoDB: its tables, their streams and the event source mappings that
    read them (run by the Kinesis plugin's stream mapping engine)."""

    tables: Tables
    streams: Streams
    #: None when the Kinesis plugin's tables are not in the data dir (it is not loaded).
    mappings: StreamMappings | None

    def close(self) -> None:
        if self.mappings is not None:
            self.mappings.close()
        self.tables.close()


#: Each lab's DynamoDB, in ``lab.stash``: it dies with the lab, which closes it.
DYNAMODB = StashKey[DynamoDb]()


def dynamodb_of(lab: "Lab") -> DynamoDb:
    """The DynamoDB of ``lab``."""

    def make() -> DynamoDb:
        tables = Tables(lab)
        tables.on_sweep.append(Backups(tables).compact)
        streams = Streams(tables)
        mappings = None
        if _has_table(lab, "kinesis_mappings"):
            mappings = DynamoDbStreamMappings(lab, "dynamodb", lambda arn: DynamoDbShardSource.of(streams, arn))
        return DynamoDb(tables, streams, mappings)

    return lab.stash.setdefault(DYNAMODB, make)


def _has_table(lab: "Lab", name: str) -> bool:
    return bool(lab.store.query("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)))


@lambdalab.hookimpl
def lambdalab_migrations() -> dict[str, str]:
    return MIGRATIONS


@lambdalab.hookimpl
def lambdalab_lab_started(lab: "Lab") -> None:
    dynamodb = dynamodb_of(lab)
    dynamodb.tables.start()
    if dynamodb.mappings is not None:
        dynamodb.mappings.start()


@lambdalab.hookimpl
def lambdalab_lab_closing(lab: "Lab") -> None:
    dynamodb = lab.stash.get(DYNAMODB, None)
    if dynamodb is not None:  # stop polling while the lab can still invoke
        dynamodb.close()


@lambdalab.hookimpl
def lambdalab_event_source_mappings(lab: "Lab") -> dict[str, StreamMappings] | None:
    """Mappings on tables' streams, run by the Kinesis plugin's engine when it is loaded."""
    mappings = dynamodb_of(lab).mappings
    return {"dynamodb": mappings} if mappings is not None else None


@lambdalab.hookimpl
def lambdalab_register_commands(cli: Any) -> None:
    """``lambdalab dynamodb …``."""
    from .cli import dynamodb_group

    cli.add_command(dynamodb_group)


@lambdalab.hookimpl
def lambdalab_http_services(lab: "Lab") -> list[HttpService]:
    dynamodb = dynamodb_of(lab)
    return [HttpService("dynamodb", DynamoDbService(dynamodb.tables, dynamodb.streams),
                        target_prefixes=(TARGET_PREFIX, STREAMS_TARGET_PREFIX))]


__all__ = ["DynamoDb", "dynamodb_of", "Tables", "Streams", "DynamoDbShardSource", "DynamoDbError"]
