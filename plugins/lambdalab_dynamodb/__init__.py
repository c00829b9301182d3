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
from typing import TYPE_CHECKING

import lambdalab
from lambdalab.plugin import HttpService, StashKey

from .exceptions import DynamoDbError
from .models import MIGRATIONS, Tables
from .responses import STREAMS_TARGET_PREFIX, TARGET_PREFIX, DynamoDbService
from .streams import Streams

if TYPE_CHECKING:
    from lambdalab import Lab

__version__ = "0.1.0"


@dataclass
class DynamoDb:
    """One lab's DynamoDB: its tables and their streams."""

    tables: Tables
    streams: Streams

    def close(self) -> None:
        self.tables.close()


#: Each lab's DynamoDB, in ``lab.stash``: it dies with the lab, which closes it.
DYNAMODB = StashKey[DynamoDb]()


def dynamodb_of(lab: "Lab") -> DynamoDb:
    """The DynamoDB of ``lab``."""

    def make() -> DynamoDb:
        tables = Tables(lab)
        return DynamoDb(tables, Streams(tables))

    return lab.stash.setdefault(DYNAMODB, make)


@lambdalab.hookimpl
def lambdalab_migrations() -> dict[str, str]:
    return MIGRATIONS


@lambdalab.hookimpl
def lambdalab_lab_started(lab: "Lab") -> None:
    dynamodb_of(lab).tables.start()


@lambdalab.hookimpl
def lambdalab_lab_closing(lab: "Lab") -> None:
    dynamodb = lab.stash.get(DYNAMODB, None)
    if dynamodb is not None:
        dynamodb.close()


@lambdalab.hookimpl
def lambdalab_http_services(lab: "Lab") -> list[HttpService]:
    dynamodb = dynamodb_of(lab)
    return [HttpService("dynamodb", DynamoDbService(dynamodb.tables, dynamodb.streams),
                        target_prefixes=(TARGET_PREFIX, STREAMS_TARGET_PREFIX))]


__all__ = ["DynamoDb", "dynamodb_of", "Tables", "Streams", "DynamoDbError"]
