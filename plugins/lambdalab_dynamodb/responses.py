"""DynamoDB's and DynamoDB Streams' operations, served by lambdalab's protocol layer in
their JSON 1.0 protocol: ``POST /`` with ``X-Amz-Target: DynamoDB_20120810.PutItem`` (or
``DynamoDBStreams_20120810.GetRecords``) and a body in botocore's ``dynamodb`` and
``dynamodbstreams`` shapes.

Both APIs are signed with the service name ``dynamodb`` (the ``dynamodbstreams`` model's
``signingName``), so the edge hands both to one app: :class:`DynamoDbService` picks the
API by the target's prefix. The methods here are plain operations: the input as a dict
in, the output as a dict out, errors raised (:mod:`.exceptions`).
"""

from __future__ import annotations

import sqlite3
from typing import Any, Callable, Mapping

from lambdalab.plugin import ProtocolService

from . import quotas, values
from . import partiql
from .backups import Backups
from .exceptions import (
    ConditionalCheckFailedException,
    DuplicateItemException,
    DynamoDbError,
    ProvisionedThroughputExceededException,
    TransactionCanceledException,
    ValidationException,
)
from .expressions import Expressions, project
from .models import RETURN_VALUES, Change, Tables
from .streams import ITERATOR_TYPES, Streams
from .tables import Table
from .throughput import READ, WRITE, read_units, transaction_read_units, transaction_write_units, write_units
from .values import Item

TARGET_PREFIX = "DynamoDB_20120810."
STREAMS_TARGET_PREFIX = "DynamoDBStreams_20120810."
#: A request body: a BatchWriteItem of 25 items of 400 KB, plus JSON's overhead.
REQUEST_MAX_BYTES = 2 * quotas.BATCH_WRITE_MAX * quotas.ITEM_MAX_BYTES

_LEGACY = ("AttributesToGet", "KeyConditions", "QueryFilter", "ScanFilter", "Expected",
           "AttributeUpdates", "ConditionalOperator")


def _no_legacy(p: Mapping[str, Any]) -> None:
    """Refuse the legacy parameters AWS kept from before expressions (a documented gap)."""
    for name in _LEGACY:
        if p.get(name) is not None:
            raise ValidationException(
                f"lambdalab's DynamoDB does not serve the legacy parameter {name}; use its "
                "expression (ProjectionExpression, KeyConditionExpression, FilterExpression, "
                "ConditionExpression or UpdateExpression) instead")


def _return_values(operation: str, p: Mapping[str, Any]) -> str:
    wanted = p.get("ReturnValues") or "NONE"
    if wanted not in RETURN_VALUES[operation]:
        raise ValidationException(f"ReturnValues can only be {', '.join(RETURN_VALUES[operation])} "
                                  f"for {operation}")
    return str(wanted)


def _capacity(p: Mapping[str, Any], table: str, units: Callable[[], float]) -> dict[str, Any]:
    """``ConsumedCapacity`` when ``ReturnConsumedCapacity`` asks for it
    (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/read-write-operations.html)."""
    wanted = p.get("ReturnConsumedCapacity") or "NONE"
    if wanted == "NONE":
        return {}
    entry: dict[str, Any] = {"TableName": table, "CapacityUnits": units()}
    if wanted == "INDEXES":
        entry["Table"] = {"CapacityUnits": entry["CapacityUnits"]}
    return {"ConsumedCapacity": entry}


def _consumed(p: Mapping[str, Any], units: Mapping[str, float]) -> dict[str, Any]:
    """A transaction's ``ConsumedCapacity``, one entry per table, when asked for."""
    if (p.get("ReturnConsumedCapacity") or "NONE") == "NONE" or not units:
        return {}
    return {"ConsumedCapacity": [_capacity(p, name, lambda: spent)["ConsumedCapacity"]
                                 for name, spent in units.items()]}


def _returning_old(p: Mapping[str, Any], write: Callable[[], Any]) -> Any:
    """``write()``; a failed condition carries the item when ReturnValuesOnConditionCheckFailure
    is ALL_OLD."""
    try:
        return write()
    except ConditionalCheckFailedException as e:
        if p.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD" and e.old:
            raise ConditionalCheckFailedException(e.message, Item=e.old) from None
        raise


def _changed(old: Item | None, new: Item, wanted: str, actions: list[Any]) -> Item:
    if wanted in ("ALL_OLD", "ALL_NEW"):
        return (old or {}) if wanted == "ALL_OLD" else new
    source = (old or {}) if wanted == "UPDATED_OLD" else new
    return project(source, [path for _, path, _ in actions])


class DynamoDbResponses:
    """Each method is one DynamoDB operation: the model's input shape in, output shape out."""

    def __init__(self, tables: Tables) -> None:
        self.tables = tables
        self.partiql = partiql.PartiQL(tables)
        self.backups = Backups(tables)

    # -- tables ---------------------------------------------------------------------

    def create_table(self, p: Mapping[str, Any]) -> dict[str, Any]:
        table = self.tables.create_table(p)
        return {"TableDescription": self.tables.describe(table, "CREATING")}

    def describe_table(self, p: Mapping[str, Any]) -> dict[str, Any]:
        return {"Table": self.tables.describe(self.tables.table(p["TableName"]))}

    def list_tables(self, p: Mapping[str, Any]) -> dict[str, Any]:
        names, last = self.tables.list_tables(p.get("ExclusiveStartTableName"),
                                              p.get("Limit") or quotas.LIST_TABLES_MAX)
        return {"TableNames": names, **({"LastEvaluatedTableName": last} if last else {})}

    def delete_table(self, p: Mapping[str, Any]) -> dict[str, Any]:
        return {"TableDescription": self.tables.delete_table(p["TableName"])}

    def update_table(self, p: Mapping[str, Any]) -> dict[str, Any]:
        unsupported = [k for k in p if k not in ("TableName", "StreamSpecification", "BillingMode",
                                                 "ProvisionedThroughput", "AttributeDefinitions")]
        if unsupported:
            raise ValidationException(f"lambdalab's UpdateTable changes StreamSpecification, BillingMode "
                                      f"and ProvisionedThroughput; not {', '.join(unsupported)}")
        table = self.tables.update_table(p["TableName"], p)
        return {"TableDescription": self.tables.describe(table)}

    def update_time_to_live(self, p: Mapping[str, Any]) -> dict[str, Any]:
        return {"TimeToLiveSpecification": self.tables.set_ttl(p["TableName"], p["TimeToLiveSpecification"])}

    def describe_time_to_live(self, p: Mapping[str, Any]) -> dict[str, Any]:
        table = self.tables.table(p["TableName"])
        if not table.ttl_attribute:
            return {"TimeToLiveDescription": {"TimeToLiveStatus": "DISABLED"}}
        return {"TimeToLiveDescription": {"TimeToLiveStatus": "ENABLED",
                                          "AttributeName": table.ttl_attribute}}

    def tag_resource(self, p: Mapping[str, Any]) -> dict[str, Any]:
        self.tables.tag(p["ResourceArn"], add={t["Key"]: t["Value"] for t in p["Tags"]})
        return {}

    def untag_resource(self, p: Mapping[str, Any]) -> dict[str, Any]:
        self.tables.tag(p["ResourceArn"], remove=list(p["TagKeys"]))
        return {}

    def list_tags_of_resource(self, p: Mapping[str, Any]) -> dict[str, Any]:
        tags = self.tables.tag(p["ResourceArn"])
        return {"Tags": [{"Key": k, "Value": v} for k, v in sorted(tags.items())]}

    # -- items ------------------------------------------------------------------------

    def put_item(self, p: Mapping[str, Any]) -> dict[str, Any]:
        _no_legacy(p)
        wanted = _return_values("PutItem", p)
        expressions = Expressions.of(p)
        condition = expressions.condition(p.get("ConditionExpression"))
        expressions.check_all_used()
        table = self._admitted(p["TableName"], WRITE)
        old = _returning_old(p, lambda: self.tables.put_item(p["TableName"], p["Item"], condition))
        units = write_units(old, values.checked_item(p["Item"]))
        self.tables.capacity.charge(table, WRITE, units)
        out = _capacity(p, p["TableName"], lambda: units)
        return {**out, "Attributes": old} if wanted == "ALL_OLD" and old else out

    def get_item(self, p: Mapping[str, Any]) -> dict[str, Any]:
        _no_legacy(p)
        expressions = Expressions.of(p)
        projection = expressions.projection(p.get("ProjectionExpression"))
        expressions.check_all_used()
        table = self._admitted(p["TableName"], READ)
        whole = self.tables.get_item(p["TableName"], p["Key"])
        units = read_units(values.item_size(whole or {}), bool(p.get("ConsistentRead")))
        self.tables.capacity.charge(table, READ, units)
        out = _capacity(p, p["TableName"], lambda: units)
        return {**out, "Item": project(whole, projection)} if whole is not None else out

    def update_item(self, p: Mapping[str, Any]) -> dict[str, Any]:
        _no_legacy(p)
        wanted = _return_values("UpdateItem", p)
        expressions = Expressions.of(p)
        actions = expressions.update(p["UpdateExpression"]) if p.get("UpdateExpression") is not None else []
        condition = expressions.condition(p.get("ConditionExpression"))
        expressions.check_all_used()
        table = self._admitted(p["TableName"], WRITE)
        old, new = _returning_old(p, lambda: self.tables.update_item(p["TableName"], p["Key"], actions, condition))
        units = write_units(old, new)
        self.tables.capacity.charge(table, WRITE, units)
        out = _capacity(p, p["TableName"], lambda: units)
        attributes = _changed(old, new, wanted, actions) if wanted != "NONE" else {}
        return {**out, "Attributes": attributes} if attributes else out

    def delete_item(self, p: Mapping[str, Any]) -> dict[str, Any]:
        _no_legacy(p)
        wanted = _return_values("DeleteItem", p)
        expressions = Expressions.of(p)
        condition = expressions.condition(p.get("ConditionExpression"))
        expressions.check_all_used()
        table = self._admitted(p["TableName"], WRITE)
        old = _returning_old(p, lambda: self.tables.delete_item(p["TableName"], p["Key"], condition))
        units = write_units(old)
        self.tables.capacity.charge(table, WRITE, units)
        out = _capacity(p, p["TableName"], lambda: units)
        return {**out, "Attributes": old} if wanted == "ALL_OLD" and old else out

    # -- Query and Scan ----------------------------------------------------------------

    def _no_strong_reads_of_a_global_index(self, p: Mapping[str, Any]) -> None:
        """A global index is eventually consistent on AWS, so ConsistentRead is refused."""
        if p.get("ConsistentRead") and p.get("IndexName") and \
                self.tables.table(p["TableName"]).index(p["IndexName"]).is_global:
            raise ValidationException("Consistent reads are not supported on global secondary indexes")

    def query(self, p: Mapping[str, Any]) -> dict[str, Any]:
        _no_legacy(p)
        self._no_strong_reads_of_a_global_index(p)
        if p.get("KeyConditionExpression") is None:
            raise ValidationException("Either the KeyConditions or KeyConditionExpression parameter "
                                      "must be specified in the request.")
        expressions = Expressions.of(p)
        key_condition = expressions.condition(p["KeyConditionExpression"], "KeyConditionExpression")
        assert key_condition is not None
        filter_ = expressions.condition(p.get("FilterExpression"), "FilterExpression")
        projection = expressions.projection(p.get("ProjectionExpression"))
        expressions.check_all_used()
        table = self._admitted(p["TableName"], READ)
        page = self.tables.query(p["TableName"], p.get("IndexName"), key_condition, filter_=filter_,
                                 limit=p.get("Limit"), start_key=p.get("ExclusiveStartKey"),
                                 forward=p.get("ScanIndexForward", True))
        return _page(page, projection, p.get("Select")) | self._read_charged(p, table, page.read_bytes)

    def scan(self, p: Mapping[str, Any]) -> dict[str, Any]:
        _no_legacy(p)
        self._no_strong_reads_of_a_global_index(p)
        expressions = Expressions.of(p)
        filter_ = expressions.condition(p.get("FilterExpression"), "FilterExpression")
        projection = expressions.projection(p.get("ProjectionExpression"))
        expressions.check_all_used()
        table = self._admitted(p["TableName"], READ)
        page = self.tables.scan(p["TableName"], p.get("IndexName"), filter_=filter_,
                                limit=p.get("Limit"), start_key=p.get("ExclusiveStartKey"),
                                segment=_segment(p))
        return _page(page, projection, p.get("Select")) | self._read_charged(p, table, page.read_bytes)

    def _admitted(self, name: str, kind: str) -> Table:
        """The table, once its provisioned capacity of ``kind`` admits one more request."""
        table = self.tables.table(name)
        self.tables.capacity.admit(table, kind)
        return table

    def _read_charged(self, p: Mapping[str, Any], table: Table, size: int) -> dict[str, Any]:
        """Charge a Query's or Scan's read to its table; its ConsumedCapacity if asked."""
        units = read_units(size, bool(p.get("ConsistentRead")))
        self.tables.capacity.charge(table, READ, units)
        return _capacity(p, p["TableName"], lambda: units)

    # -- batches --------------------------------------------------------------------------

    def batch_get_item(self, p: Mapping[str, Any]) -> dict[str, Any]:
        requests = p["RequestItems"]
        if sum(len(r.get("Keys") or []) for r in requests.values()) > quotas.BATCH_GET_MAX:
            raise ValidationException("Too many items requested for the BatchGetItem call")
        responses: dict[str, list[Item]] = {}
        unprocessed: dict[str, Any] = {}
        for name, request in requests.items():
            _no_legacy(request)
            expressions = Expressions.of(request)
            projection = expressions.projection(request.get("ProjectionExpression"))
            expressions.check_all_used()
            keys = request.get("Keys") or []
            if len({str(sorted(k.items())) for k in keys}) != len(keys):
                raise ValidationException("Provided list of item keys contains duplicates")
            table = self.tables.table(name)
            responses[name], left = [], []
            for key in keys:
                if not self.tables.capacity.has_room(table, READ):
                    left.append(key)
                    continue
                whole = self.tables.get_item(name, key)
                self.tables.capacity.charge(table, READ, read_units(values.item_size(whole or {}),
                                                                    bool(request.get("ConsistentRead"))))
                if whole is not None:
                    responses[name].append(project(whole, projection))
            if left:
                unprocessed[name] = {**request, "Keys": left}
        _all_throttled(unprocessed, sum(len(r.get("Keys") or []) for r in requests.values()),
                       sum(len(r["Keys"]) for r in unprocessed.values()))
        return {"Responses": responses, "UnprocessedKeys": unprocessed}

    def batch_write_item(self, p: Mapping[str, Any]) -> dict[str, Any]:
        requests = p["RequestItems"]
        count = sum(len(r) for r in requests.values())
        if count > quotas.BATCH_WRITE_MAX:
            raise ValidationException(
                "1 validation error detected: Value at 'requestItems' failed to satisfy constraint: "
                f"Map value must satisfy constraint: [Member must have length less than or equal to "
                f"{quotas.BATCH_WRITE_MAX}, Member must have length greater than or equal to 1]")
        actions, seen = [], set()
        unprocessed: dict[str, list[Any]] = {}
        for name, writes in requests.items():
            table = self.tables.table(name)
            for write in writes:
                kind, params = _batch_write(write)
                key = table.keys.key_of(params.get("Item") or params.get("Key") or {})
                marker = (name, str(sorted((k, str(v)) for k, v in key.items())))
                if marker in seen:
                    raise ValidationException("Provided list of item keys contains duplicates")
                seen.add(marker)
                if not self.tables.capacity.has_room(table, WRITE):
                    unprocessed.setdefault(name, []).append(write)
                    continue
                units = write_units(values.checked_item(params["Item"])) if kind == "Put" else 1.0
                self.tables.capacity.charge(table, WRITE, units)
                actions.append(self.tables.write_action(kind, name, params))
        _all_throttled(unprocessed, count, sum(len(w) for w in unprocessed.values()))
        self.tables.transact(actions)
        return {"UnprocessedItems": unprocessed}

    def transact_write_items(self, p: Mapping[str, Any]) -> dict[str, Any]:
        return self.tables.tokens.run(p, lambda: self._transact_write_items(p))

    def _transact_write_items(self, p: Mapping[str, Any]) -> dict[str, Any]:
        items = p["TransactItems"]
        if len(items) > quotas.TRANSACT_MAX:
            raise ValidationException(f"Member must have length less than or equal to {quotas.TRANSACT_MAX}")
        actions, keys, tables = [], set(), []
        for entry in items:
            kind, params = _one_action(entry)
            action, key = self._transact_action(kind, params)
            if key in keys:
                raise ValidationException("Transaction request cannot include multiple operations on one item")
            keys.add(key)
            actions.append(action)
            tables.append(params["TableName"])
        return _consumed(p, self._run_transaction(actions, tables))

    def _transact_action(self, kind: str, params: Mapping[str, Any]) -> tuple[Callable[..., None], str]:
        _no_legacy(params)
        expressions = Expressions.of(params)
        condition = expressions.condition(params.get("ConditionExpression"))
        update = expressions.update(params["UpdateExpression"]) if kind == "Update" else None
        if kind == "ConditionCheck" and condition is None:
            raise ValidationException("ConditionCheck requires a ConditionExpression")
        expressions.check_all_used()
        name = params["TableName"]
        table = self.tables.table(name)
        key = table.keys.key_of(params.get("Item") or params.get("Key") or {})
        marker = f"{name}/{sorted((k, str(v)) for k, v in key.items())}"
        return self.tables.write_action(kind, name, params, condition, update), marker

    def _run_transaction(self, actions: list[Callable[..., None]], tables: list[str]) -> dict[str, float]:
        """All the actions or none; a failed condition cancels the transaction with one
        reason per action (https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_TransactWriteItems.html).
        The write units charged, by table: each item written twice, once to prepare the
        transaction and once to commit it
        (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/transaction-apis.html#transaction-capacity-handling)."""
        for name in dict.fromkeys(tables):
            self._admitted(name, WRITE)
        reasons: list[dict[str, str]] = []
        failed = False
        written: list[Change] = []

        def reasoned(action: Callable[..., None]) -> Callable[..., None]:
            def run(db: sqlite3.Connection, changes: list[Change]) -> None:
                nonlocal failed
                try:
                    action(db, changes)
                    reasons.append({"Code": "None"})
                except (ConditionalCheckFailedException, DuplicateItemException) as e:
                    failed = True
                    reasons.append({"Code": partiql.code_of(e), "Message": e.message})
            return run

        def check(db: sqlite3.Connection, changes: list[Change]) -> None:
            if failed:
                raise TransactionCanceledException(
                    "Transaction cancelled, please refer cancellation reasons for specific reasons "
                    f"[{', '.join(r['Code'] for r in reasons)}]", CancellationReasons=reasons)
            written.extend(changes)

        self.tables.transact([reasoned(a) for a in actions] + [check])
        units: dict[str, float] = {}
        for change in written:
            charged = transaction_write_units(change.old, change.new)
            self.tables.capacity.charge(change.table, WRITE, charged)
            units[change.table.name] = units.get(change.table.name, 0.0) + charged
        return units

    def transact_get_items(self, p: Mapping[str, Any]) -> dict[str, Any]:
        gets = [entry["Get"] for entry in p["TransactItems"]]
        projections = []
        for get in gets:
            expressions = Expressions.of(get)
            projections.append(expressions.projection(get.get("ProjectionExpression")))
            expressions.check_all_used()
        for name in dict.fromkeys(get["TableName"] for get in gets):
            self._admitted(name, READ)
        responses: list[dict[str, Any]] = []
        units: dict[str, float] = {}
        for get, projection in zip(gets, projections):
            whole = self.tables.get_item(get["TableName"], get["Key"])
            units[get["TableName"]] = units.get(get["TableName"], 0.0) + self._transaction_read(
                get["TableName"], whole)
            responses.append({"Item": project(whole, projection)} if whole is not None else {})
        return {"Responses": responses, **_consumed(p, units)}

    def _transaction_read(self, name: str, whole: Item | None) -> float:
        """Charge a transaction's read of ``whole``; the units charged."""
        units = transaction_read_units(values.item_size(whole or {}))
        self.tables.capacity.charge(self.tables.table(name), READ, units)
        return units


    # -- backups -----------------------------------------------------------------------------

    def create_backup(self, p: Mapping[str, Any]) -> dict[str, Any]:
        backup = self.backups.create(p["TableName"], p["BackupName"])
        return {"BackupDetails": backup.details("CREATING")}

    def describe_backup(self, p: Mapping[str, Any]) -> dict[str, Any]:
        backup = self.backups.get(p["BackupArn"])
        return {"BackupDescription": backup.description(self.tables.region, self.tables.account)}

    def list_backups(self, p: Mapping[str, Any]) -> dict[str, Any]:
        backups, last = self.backups.list(p)
        out: dict[str, Any] = {"BackupSummaries": [b.summary(self.tables.region, self.tables.account)
                                                   for b in backups]}
        return {**out, "LastEvaluatedBackupArn": last} if last else out

    def delete_backup(self, p: Mapping[str, Any]) -> dict[str, Any]:
        backup = self.backups.delete(p["BackupArn"])
        return {"BackupDescription": backup.description(self.tables.region, self.tables.account, "DELETED")}

    def restore_table_from_backup(self, p: Mapping[str, Any]) -> dict[str, Any]:
        return {"TableDescription": self.tables.describe(self.backups.restore(p), "CREATING")}

    def restore_table_to_point_in_time(self, p: Mapping[str, Any]) -> dict[str, Any]:
        table = self.backups.restore_to_point_in_time(p)
        return {"TableDescription": self.tables.describe(table, "CREATING")}

    def update_continuous_backups(self, p: Mapping[str, Any]) -> dict[str, Any]:
        return {"ContinuousBackupsDescription": self.backups.update_continuous(
            p["TableName"], p["PointInTimeRecoverySpecification"])}

    def describe_continuous_backups(self, p: Mapping[str, Any]) -> dict[str, Any]:
        return {"ContinuousBackupsDescription": self.backups.describe_continuous(p["TableName"])}

    # -- PartiQL --------------------------------------------------------------------------

    def execute_statement(self, p: Mapping[str, Any]) -> dict[str, Any]:
        """One PartiQL statement
        (https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_ExecuteStatement.html)."""
        statement = partiql.parse(p["Statement"], p.get("Parameters"))
        if isinstance(statement, partiql.Check):
            raise ValidationException(partiql.EXISTS_OUTSIDE)
        if isinstance(statement, partiql.Select):
            return self.partiql.select(statement, p["Statement"], limit=p.get("Limit"),
                                       next_token=p.get("NextToken"),
                                       consistent=bool(p.get("ConsistentRead")))
        return _returning_old(p, lambda: self.partiql.write(statement))

    def batch_execute_statement(self, p: Mapping[str, Any]) -> dict[str, Any]:
        """Up to 25 statements, each on its own: all reads (of one item by its key) or all
        writes; an error is the statement's, in its response
        (https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_BatchExecuteStatement.html)."""
        entries = list(p["Statements"])
        if len(entries) > quotas.PARTIQL_BATCH_MAX:
            raise ValidationException(
                "1 validation error detected: Value at 'statements' failed to satisfy constraint: "
                f"Member must have length less than or equal to {quotas.PARTIQL_BATCH_MAX}")
        parsed: list[partiql.Statement | DynamoDbError] = []
        for entry in entries:
            try:
                parsed.append(partiql.parse(entry.get("Statement"), entry.get("Parameters")))
            except DynamoDbError as e:
                parsed.append(e)
        if len({partiql.is_read(s) for s in parsed if not isinstance(s, DynamoDbError)}) > 1:
            raise ValidationException(partiql.MIXED)
        return {"Responses": [self._batch_statement(entry, s) for entry, s in zip(entries, parsed)]}

    def _batch_statement(self, entry: Mapping[str, Any],
                         statement: "partiql.Statement | DynamoDbError") -> dict[str, Any]:
        try:
            if isinstance(statement, DynamoDbError):
                raise statement
            if isinstance(statement, partiql.Check):
                raise ValidationException(partiql.EXISTS_OUTSIDE)
            if isinstance(statement, partiql.Select):
                table, item = self.partiql.get(statement)
                return {"TableName": table, **({"Item": item} if item is not None else {})}
            self.partiql.write(statement)
            return {"TableName": statement.table}
        except DynamoDbError as e:
            error: dict[str, Any] = {"Code": partiql.code_of(e), "Message": e.message}
            old = getattr(e, "old", None)
            if entry.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD" and old:
                error["Item"] = old
            return {"Error": error}

    def execute_transaction(self, p: Mapping[str, Any]) -> dict[str, Any]:
        """Up to 100 statements, all reads or all writes, all or nothing
        (https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_ExecuteTransaction.html)."""
        entries = list(p["TransactStatements"])
        if len(entries) > quotas.TRANSACT_MAX:
            raise ValidationException(f"Member must have length less than or equal to "
                                      f"{quotas.TRANSACT_MAX}")
        statements = partiql.parse_all(entries)
        if statements and partiql.is_read(statements[0]):
            got = [self.partiql.get(s, transaction=True) for s in statements if isinstance(s, partiql.Select)]
            units: dict[str, float] = {}
            for name, item in got:  # what get charged, for ConsumedCapacity
                units[name] = units.get(name, 0.0) + transaction_read_units(values.item_size(item or {}))
            return {"Responses": [{"Item": i} if i is not None else {} for _, i in got],
                    **_consumed(p, units)}
        return self.tables.tokens.run(p, lambda: self._write_transaction(p, statements))

    def _write_transaction(self, p: Mapping[str, Any], statements: "list[partiql.Statement]") -> dict[str, Any]:
        actions, keys, tables = [], set(), []
        for statement in statements:
            if isinstance(statement, partiql.Check):
                table, key, action = self.partiql.check(statement)
            else:
                assert isinstance(statement, partiql.Write)
                table, key, action = self.partiql.action(statement)
            marker = f"{table}/{sorted((k, str(v)) for k, v in key.items())}"
            if marker in keys:
                raise ValidationException("Transaction request cannot include multiple operations on one item")
            keys.add(marker)
            actions.append(action)
            tables.append(table)
        return _consumed(p, self._run_transaction(actions, tables))


def _all_throttled(unprocessed: Mapping[str, Any], asked: int, left: int) -> None:
    """A batch none of whose requests the tables' capacity admits is refused whole, as
    AWS refuses it (a batch with some admitted answers the rest as unprocessed)."""
    from .throughput import EXCEEDED

    if unprocessed and left == asked:
        raise ProvisionedThroughputExceededException(EXCEEDED)


def _segment(p: Mapping[str, Any]) -> tuple[int, int] | None:
    segment, total = p.get("Segment"), p.get("TotalSegments")
    if segment is None and total is None:
        return None
    if segment is None or total is None:
        raise ValidationException("The TotalSegments parameter is required but was not present in "
                                  "the request when parameter Segment is present" if total is None else
                                  "The Segment parameter is required but was not present in the "
                                  "request when parameter TotalSegments is present")
    if not 0 <= segment < total:
        raise ValidationException(f"The Segment parameter is zero-based and must be less than "
                                  f"parameter TotalSegments: Segment: {segment} is not less than "
                                  f"TotalSegments: {total}")
    return int(segment), int(total)


def _page(page: Any, projection: Any, select: str | None) -> dict[str, Any]:
    out: dict[str, Any] = {"Count": len(page.items), "ScannedCount": page.scanned}
    if select != "COUNT":
        out["Items"] = [project(i, projection) for i in page.items]
    if page.last_key is not None:
        out["LastEvaluatedKey"] = page.last_key
    return out


def _batch_write(write: Mapping[str, Any]) -> tuple[str, Mapping[str, Any]]:
    if len(write) != 1 or next(iter(write)) not in ("PutRequest", "DeleteRequest"):
        raise ValidationException("Supplied AttributeValue has more than one datatypes set, must "
                                  "contain exactly one of PutRequest or DeleteRequest")
    kind = next(iter(write))
    return ("Put" if kind == "PutRequest" else "Delete"), write[kind]


def _one_action(entry: Mapping[str, Any]) -> tuple[str, Mapping[str, Any]]:
    kinds = [k for k in ("ConditionCheck", "Put", "Delete", "Update") if entry.get(k) is not None]
    if len(kinds) != 1:
        raise ValidationException("TransactItems can only contain one of Check, Put, Update or Delete")
    return kinds[0], entry[kinds[0]]


class StreamsResponses:
    """Each method is one DynamoDB Streams operation."""

    def __init__(self, streams: Streams) -> None:
        self.streams = streams

    def list_streams(self, p: Mapping[str, Any]) -> dict[str, Any]:
        streams = self.streams.streams(p.get("TableName"))
        start = p.get("ExclusiveStartStreamArn")
        if start:
            arns = [s.arn for s in streams]
            streams = streams[arns.index(start) + 1:] if start in arns else streams
        limit = p.get("Limit") or 100
        out: dict[str, Any] = {"Streams": [{"StreamArn": s.arn, "TableName": s.table_name,
                                            "StreamLabel": s.label} for s in streams[:limit]]}
        if len(streams) > limit:
            out["LastEvaluatedStreamArn"] = streams[limit - 1].arn
        return out

    def describe_stream(self, p: Mapping[str, Any]) -> dict[str, Any]:
        return {"StreamDescription": self.streams.describe(p["StreamArn"])}

    def get_shard_iterator(self, p: Mapping[str, Any]) -> dict[str, Any]:
        kind = p["ShardIteratorType"]
        if kind not in ITERATOR_TYPES:
            raise ValidationException(f"ShardIteratorType must be one of {', '.join(ITERATOR_TYPES)}")
        return {"ShardIterator": self.streams.shard_iterator(p["StreamArn"], p["ShardId"], kind,
                                                             p.get("SequenceNumber"))}

    def get_records(self, p: Mapping[str, Any]) -> dict[str, Any]:
        return self.streams.get_records(p["ShardIterator"], p.get("Limit"))


def nesting(value: Any) -> int:
    """How deep ``value`` (parsed JSON) nests, found without recursion; ValidationException
    for a string that is not Unicode text (JSON's ``\\ud800`` escape allows a lone
    surrogate, which no UTF-8 store or answer can hold)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        if isinstance(node, dict):
            _check_text(*node)
            children: Any = node.values()
        elif isinstance(node, list):
            children = node
        else:
            _check_text(node)
            continue
        stack.extend((child, depth + 1) for child in children)
    return deepest


def _check_text(*texts: Any) -> None:
    for text in texts:
        if isinstance(text, str):
            try:
                text.encode()
            except UnicodeEncodeError as e:
                raise ValidationException(
                    "One or more parameter values were invalid: a string holds a lone surrogate "
                    f"({text[e.start]!r}), which is not Unicode text; send UTF-8") from None


#: The deepest request DynamoDB's shapes need: a transaction's item (6 levels) whose
#: values nest 32 maps or lists deep (2 levels each), and some room.
REQUEST_NESTING_MAX = 6 + 2 * (quotas.NESTING_MAX + 1) + 4


class GuardedService(ProtocolService):
    """A service that refuses, before the shape check walks it, a request nested past
    what DynamoDB's 32 levels need (a walk as deep as the JSON layer allows would exhaust
    Python's stack) or holding a string that is not Unicode text."""

    def _check(self, parsed: Any) -> None:
        if nesting(parsed.params) > REQUEST_NESTING_MAX:
            raise ValidationException("Nesting Levels have exceeded supported limits")
        super()._check(parsed)


class DynamoDbService(GuardedService):
    """The ASGI app the edge hands ``dynamodb``-signed requests to: DynamoDB, or DynamoDB
    Streams when the target says so."""

    def __init__(self, tables: Tables, streams: Streams) -> None:
        super().__init__("dynamodb", DynamoDbResponses(tables), body_max=REQUEST_MAX_BYTES)
        self.streams = GuardedService("dynamodbstreams", StreamsResponses(streams))

    def for_request(self, headers: Any) -> ProtocolService:
        target = headers.get("x-amz-target") or ""
        return self.streams if target.startswith(STREAMS_TARGET_PREFIX) else self


#: The operations lambdalab's DynamoDB and DynamoDB Streams serve, by their model names.
OPERATIONS = tuple(ProtocolService("dynamodb", DynamoDbResponses).served())
STREAMS_OPERATIONS = tuple(ProtocolService("dynamodbstreams", StreamsResponses).served())
