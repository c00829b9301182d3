"""A table's definition: keys, indexes, billing, stream and TTL settings, checked as
CreateTable checks them and described in DescribeTable's ``TableDescription`` shape
(https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_CreateTable.html)."""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, field
from typing import Any, Mapping

from . import quotas, values
from .exceptions import ValidationException
from .values import AttributeValue, Item

_TABLE_NAME = re.compile(r"^[a-zA-Z0-9_.-]+$")
_INVALID = "One or more parameter values were invalid: "


@dataclass(frozen=True)
class KeySchema:
    """A partition key and an optional sort key, each with its scalar type (S, N, B)."""

    hash_name: str
    hash_type: str
    range_name: str | None = None
    range_type: str | None = None

    @property
    def names(self) -> list[str]:
        return [self.hash_name] + ([self.range_name] if self.range_name else [])

    def to_aws(self) -> list[dict[str, str]]:
        out = [{"AttributeName": self.hash_name, "KeyType": "HASH"}]
        if self.range_name:
            out.append({"AttributeName": self.range_name, "KeyType": "RANGE"})
        return out

    def key_of(self, item: Mapping[str, AttributeValue]) -> Item:
        return {name: item[name] for name in self.names if name in item}

    def has_keys(self, item: Mapping[str, AttributeValue]) -> bool:
        """Whether ``item`` carries this schema's key attributes with their types (an
        index holds only such items)."""
        return all(next(iter(item.get(n) or {"": 0})) == t for n, t in self.typed())

    def typed(self) -> list[tuple[str, str]]:
        out = [(self.hash_name, self.hash_type)]
        if self.range_name and self.range_type:
            out.append((self.range_name, self.range_type))
        return out


@dataclass(frozen=True)
class Index:
    """A secondary index: its name, keys and projection (ALL, KEYS_ONLY or INCLUDE)."""

    name: str
    keys: KeySchema
    projection: dict[str, Any]
    is_global: bool
    throughput: dict[str, int] | None = None


@dataclass
class Table:
    """One table's settings, as stored (JSON) and described."""

    name: str
    keys: KeySchema
    attribute_definitions: list[dict[str, str]]
    billing_mode: str
    throughput: dict[str, int]
    created_at: float
    table_id: str
    indexes: list[Index] = field(default_factory=list)
    stream_view_type: str | None = None
    stream_label: str | None = None
    ttl_attribute: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    #: When point-in-time recovery was enabled (None: it is off), and its period.
    pitr_since: float | None = None
    pitr_days: int = quotas.PITR_DAYS_MAX
    #: A restored table's RestoreSummary.
    restore_summary: dict[str, Any] | None = None
    #: Whether its indexes' copies are stored (False: a table made before they were).
    indexes_stored: bool = False
    #: Its stream's shards (a shard per partition), fixed when the stream is enabled.
    stream_shards: int = 1

    def index(self, name: str) -> Index:
        for index in self.indexes:
            if index.name == name:
                return index
        raise ValidationException(
            f"The table does not have the specified index: {name}")

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Table":
        data = dict(data)
        data["keys"] = KeySchema(**data["keys"])
        data["indexes"] = [Index(**{**i, "keys": KeySchema(**i["keys"])}) for i in data["indexes"]]
        return cls(**data)

    def check_key(self, key: Any, schema: KeySchema | None = None) -> Item:
        """A request's ``Key``: exactly the key attributes, of their types."""
        schema = schema or self.keys
        key = values.checked_item(key, "Key")
        if set(key) != set(schema.names):
            raise ValidationException("The provided key element does not match the schema")
        check_key_values(schema, key)
        return key

    def check_item(self, item: Any) -> Item:
        """A PutItem's ``Item``: its key attributes present and of their types."""
        item = values.checked_item(item)
        for name, kind in self.keys.typed():
            if name not in item:
                raise ValidationException(
                    f"{_INVALID}Missing the key {name} in the item")
            if next(iter(item[name])) != kind:
                raise ValidationException(
                    f"{_INVALID}Type mismatch for key {name} expected: {kind} actual: "
                    f"{next(iter(item[name]))}")
        check_key_values(self.keys, item)
        for index in self.indexes:
            for name, kind in index.keys.typed():
                if name in item and next(iter(item[name])) != kind:
                    raise ValidationException(
                        f"{_INVALID}Type mismatch for Index Key {name} Expected: {kind} Actual: "
                        f"{next(iter(item[name]))} IndexName: {index.name}")
        if values.item_size(item) > quotas.ITEM_MAX_BYTES:
            raise ValidationException("Item size has exceeded the maximum allowed size")
        return item

    def describe(self, region: str, account: str, item_count: int, size_bytes: int,
                 status: str = "ACTIVE") -> dict[str, Any]:
        arn = table_arn(region, account, self.name)
        out: dict[str, Any] = {
            "AttributeDefinitions": self.attribute_definitions,
            "TableName": self.name,
            "KeySchema": self.keys.to_aws(),
            "TableStatus": status,
            "CreationDateTime": self.created_at,
            "ProvisionedThroughput": {"NumberOfDecreasesToday": 0, **self.throughput},
            "TableSizeBytes": size_bytes,
            "ItemCount": item_count,
            "TableArn": arn,
            "TableId": self.table_id,
            "DeletionProtectionEnabled": False,
        }
        if self.billing_mode == "PAY_PER_REQUEST":
            out["BillingModeSummary"] = {"BillingMode": "PAY_PER_REQUEST",
                                         "LastUpdateToPayPerRequestDateTime": self.created_at}
        local = [self._index_description(i, arn, status) for i in self.indexes if not i.is_global]
        global_ = [self._index_description(i, arn, status) for i in self.indexes if i.is_global]
        if local:
            out["LocalSecondaryIndexes"] = local
        if global_:
            out["GlobalSecondaryIndexes"] = global_
        if self.stream_view_type:
            out["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": self.stream_view_type}
        if self.restore_summary:
            out["RestoreSummary"] = {**self.restore_summary, "RestoreInProgress": status == "CREATING"}
        if self.stream_label:
            out["LatestStreamLabel"] = self.stream_label
            out["LatestStreamArn"] = f"{arn}/stream/{self.stream_label}"
        return out

    def _index_description(self, index: Index, arn: str, status: str) -> dict[str, Any]:
        out: dict[str, Any] = {"IndexName": index.name, "KeySchema": index.keys.to_aws(),
                               "Projection": index.projection, "IndexSizeBytes": 0, "ItemCount": 0,
                               "IndexArn": f"{arn}/index/{index.name}"}
        if index.is_global:
            out["IndexStatus"] = status
            out["ProvisionedThroughput"] = {"NumberOfDecreasesToday": 0,
                                            **(index.throughput or _NO_THROUGHPUT)}
        return out


_NO_THROUGHPUT = {"ReadCapacityUnits": 0, "WriteCapacityUnits": 0}


def partitions(table: Table) -> int:
    """How many partitions a table starts with: one for each 3,000 RCU and 1,000 WCU of a
    provisioned table (the formula DynamoDB's guide gave before adaptive capacity), one
    for an on-demand table; at most lambdalab's bound."""
    if table.billing_mode != "PROVISIONED":
        return 1
    needed = (table.throughput.get("ReadCapacityUnits", 0) / quotas.PARTITION_RCU
              + table.throughput.get("WriteCapacityUnits", 0) / quotas.PARTITION_WCU)
    return max(1, min(quotas.STREAM_SHARDS_MAX, math.ceil(needed)))


def table_arn(region: str, account: str, name: str) -> str:
    return f"arn:aws:dynamodb:{region}:{account}:table/{name}"


def check_key_values(schema: KeySchema, item: Mapping[str, AttributeValue]) -> None:
    for name, kind in schema.typed():
        value = item[name]
        if next(iter(value)) != kind:
            raise ValidationException("The provided key element does not match the schema")
        inner = value[kind]
        if kind in ("S", "B") and len(inner) == 0:
            raise ValidationException(
                f"{_INVALID}The AttributeValue for a key attribute cannot contain an empty "
                f"{'string' if kind == 'S' else 'binary'} value. Key: {name}")
        limit = quotas.PARTITION_KEY_MAX_BYTES if name == schema.hash_name else quotas.SORT_KEY_MAX_BYTES
        if values.size(value) > limit:
            raise ValidationException(
                f"{_INVALID}Size of {'hashkey' if name == schema.hash_name else 'rangekey'} has "
                f"exceeded the maximum size limit of {limit} bytes")


# -- CreateTable's input ----------------------------------------------------------------

def check_table_name(name: Any) -> str:
    if not isinstance(name, str) or not (quotas.TABLE_NAME_MIN <= len(name) <= quotas.TABLE_NAME_MAX) \
            or not _TABLE_NAME.match(name):
        raise ValidationException(
            f"TableName must be at least {quotas.TABLE_NAME_MIN} characters long and at most "
            f"{quotas.TABLE_NAME_MAX} characters long, and contain only [a-zA-Z0-9_.-]")
    return name


def key_schema(elements: Any, types: Mapping[str, str], what: str = "") -> KeySchema:
    elements = list(elements or [])
    kinds = [e.get("KeyType") for e in elements]
    if kinds not in (["HASH"], ["HASH", "RANGE"]):
        raise ValidationException(
            f"{_INVALID}{what}Invalid KeySchema: The first KeySchemaElement is not a HASH key "
            "type" if kinds and kinds[0] != "HASH" else
            f"{_INVALID}{what}KeySchema must have one HASH key and at most one RANGE key")
    names = [e.get("AttributeName") for e in elements]
    for name in names:
        if name not in types:
            raise ValidationException(
                f"{_INVALID}Some index key attributes are not defined in AttributeDefinitions. "
                f"Keys: [{', '.join(names)}], AttributeDefinitions: [{', '.join(types)}]")
    if len(set(names)) != len(names):
        raise ValidationException(f"{_INVALID}Both the Hash Key and the Range Key element in the "
                                  "KeySchema have the same name")
    range_name = names[1] if len(names) > 1 else None
    return KeySchema(names[0], types[names[0]], range_name, types[range_name] if range_name else None)


def check_projection(projection: Any) -> dict[str, Any]:
    projection = dict(projection or {})
    kind = projection.get("ProjectionType")
    if kind not in ("ALL", "KEYS_ONLY", "INCLUDE"):
        raise ValidationException(f"{_INVALID}Unknown ProjectionType: {kind}")
    if kind != "INCLUDE" and projection.get("NonKeyAttributes"):
        raise ValidationException(f"{_INVALID}ProjectionType is {kind}, but NonKeyAttributes is specified")
    return projection


def check_throughput(billing_mode: str, throughput: Any, what: str = "") -> dict[str, int]:
    if billing_mode == "PAY_PER_REQUEST":
        if throughput:
            raise ValidationException(f"{_INVALID}Neither ReadCapacityUnits nor WriteCapacityUnits "
                                      f"can be specified when BillingMode is PAY_PER_REQUEST{what}")
        return dict(_NO_THROUGHPUT)
    if not throughput or "ReadCapacityUnits" not in throughput or "WriteCapacityUnits" not in throughput:
        raise ValidationException(f"{_INVALID}ReadCapacityUnits and WriteCapacityUnits must both "
                                  f"be specified when BillingMode is PROVISIONED{what}")
    out = {"ReadCapacityUnits": int(throughput["ReadCapacityUnits"]),
           "WriteCapacityUnits": int(throughput["WriteCapacityUnits"])}
    if min(out.values()) < 1:
        raise ValidationException(f"{_INVALID}Provisioned throughput must be at least 1{what}")
    return out


def check_stream(spec: Any) -> str | None:
    """The StreamViewType of a StreamSpecification, or None when it disables the stream."""
    if not spec or not spec.get("StreamEnabled"):
        if spec and spec.get("StreamViewType"):
            raise ValidationException(f"{_INVALID}StreamSpecification: StreamViewType cannot be "
                                      "specified when StreamEnabled is false")
        return None
    view = spec.get("StreamViewType")
    if view not in ("KEYS_ONLY", "NEW_IMAGE", "OLD_IMAGE", "NEW_AND_OLD_IMAGES"):
        raise ValidationException(f"{_INVALID}StreamSpecification: StreamViewType must be one of "
                                  "KEYS_ONLY, NEW_IMAGE, OLD_IMAGE or NEW_AND_OLD_IMAGES when "
                                  "StreamEnabled is true")
    return str(view)


def new_table(p: Mapping[str, Any], now: float, table_id: str) -> Table:
    """A Table from CreateTable's parameters, or ValidationException saying what to fix."""
    name = check_table_name(p.get("TableName"))
    definitions = list(p.get("AttributeDefinitions") or [])
    types = {d.get("AttributeName"): d.get("AttributeType") for d in definitions}
    if len(types) != len(definitions):
        raise ValidationException(f"{_INVALID}Duplicate AttributeName in AttributeDefinitions")
    keys = key_schema(p.get("KeySchema"), types)
    billing = p.get("BillingMode") or "PROVISIONED"
    indexes = _indexes(p, keys, types, billing)
    used = set(keys.names).union(*(i.keys.names for i in indexes))
    if used != set(types):
        raise ValidationException(
            f"{_INVALID}Number of attributes in KeySchema does not exactly match number of "
            "attributes defined in AttributeDefinitions")
    return Table(name=name, keys=keys, attribute_definitions=definitions, billing_mode=billing,
                 throughput=check_throughput(billing, p.get("ProvisionedThroughput")),
                 created_at=now, table_id=table_id, indexes=indexes,
                 stream_view_type=check_stream(p.get("StreamSpecification")),
                 tags={t["Key"]: t["Value"] for t in p.get("Tags") or []})


def _indexes(p: Mapping[str, Any], keys: KeySchema, types: Mapping[str, str], billing: str) -> list[Index]:
    local = list(p.get("LocalSecondaryIndexes") or [])
    global_ = list(p.get("GlobalSecondaryIndexes") or [])
    if "LocalSecondaryIndexes" in p and not local or "GlobalSecondaryIndexes" in p and not global_:
        raise ValidationException(f"{_INVALID}List of secondary indexes is empty")
    if len(local) > quotas.LSI_MAX or len(global_) > quotas.GSI_MAX:
        raise ValidationException(f"{_INVALID}A table can have at most {quotas.LSI_MAX} local and "
                                  f"{quotas.GSI_MAX} global secondary indexes")
    out = []
    for spec in local:
        index_keys = key_schema(spec.get("KeySchema"), types, f"Index {spec.get('IndexName')}: ")
        if not keys.range_name:
            raise ValidationException(f"{_INVALID}Table KeySchema does not have a range key, which "
                                      "is required when specifying a LocalSecondaryIndex")
        if index_keys.hash_name != keys.hash_name or not index_keys.range_name:
            raise ValidationException(f"{_INVALID}Index KeySchema does not have the same leading "
                                      f"hash key as table KeySchema for index: {spec.get('IndexName')}")
        out.append(Index(spec["IndexName"], index_keys, check_projection(spec.get("Projection")), False))
    for spec in global_:
        index_keys = key_schema(spec.get("KeySchema"), types, f"Index {spec.get('IndexName')}: ")
        throughput = check_throughput(billing, spec.get("ProvisionedThroughput"),
                                      f" for index {spec.get('IndexName')}")
        out.append(Index(spec["IndexName"], index_keys, check_projection(spec.get("Projection")), True,
                         throughput))
    names = [i.name for i in out]
    if len(set(names)) != len(names):
        raise ValidationException(f"{_INVALID}Duplicate index name: {names}")
    return out
