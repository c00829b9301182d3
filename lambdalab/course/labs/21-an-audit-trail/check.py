"""Check for lab 21: every change of the accounts table, and only the changes, reaches the
audit table through the table's stream, with the values before and after.

The application writes to the table on a virtual clock: two accounts before the mapping
exists, then an update of one attribute, a conditional update whose condition is false
(it writes nothing, so its stream has no record of it:
https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Expressions.ConditionExpressions.html),
a delete, and a session whose time to live expires (DynamoDB deletes it, a REMOVE whose
``userIdentity`` is the DynamoDB service:
https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/time-to-live-ttl-streams.html).
Judged by what the audit table holds once the mapping is idle
(https://docs.aws.amazon.com/lambda/latest/dg/with-ddb.html); a handler that fails is
retried without end by default, so its mapping is watched only until the evidence is there.
"""

import contextlib
import time
from pathlib import Path

from lambdalab import VirtualClock
from lambdalab.labs import (
    CheckFailed,
    call_learner,
    deploy,
    fresh_lab,
    load_learner_module,
    passed,
    require_file,
    require_functions,
    show,
    unique_name,
)
from lambdalab_dynamodb import dynamodb_of
from lambdalab_dynamodb.exceptions import ConditionalCheckFailedException
from lambdalab_dynamodb.responses import DynamoDbResponses

#: Real seconds to wait for the mapping to read the stream to its end, on a busy machine.
SETTLE_TIMEOUT_S = 90
#: Failed invokes of the same batch seen before calling the shard blocked.
BLOCKED_AFTER = 3
#: The TTL attribute of the accounts table, and how long the session lives (lab seconds).
TTL_ATTRIBUTE = "expires"
SESSION_S = 60
TTL_SERVICE = "dynamodb.amazonaws.com"

ALICE = {"id": {"S": "alice"}, "owner": {"S": "Alice Liddell"}, "balance": {"N": "10"},
         "plan": {"S": "free"}}
BOB = {"id": {"S": "bob"}, "owner": {"S": "Bob Marley"}, "balance": {"N": "5"}, "plan": {"S": "free"}}


def check(workdir: Path):
    require_file(workdir, "app.py")
    script = require_file(workdir, "stream.py")
    module = load_learner_module(script)
    require_functions(script, module, ("enable_stream(tables, table_name)",
                                       "connect(lab, function_name, stream_arn)"))
    from lambdalab.server import EdgeServer

    with contextlib.ExitStack() as stack:
        lab = stack.enter_context(fresh_lab(clock=VirtualClock()))
        stack.enter_context(EdgeServer(lab, port=0))  # boto3 in the function reaches it
        dynamodb = dynamodb_of(lab)
        api = DynamoDbResponses(dynamodb.tables)
        accounts, audit, name = unique_name("accounts"), unique_name("audit"), unique_name("auditor")
        create_tables(api, accounts, audit)
        deploy(lab, name, workdir, "app.handler", timeout=30, environment={"AUDIT_TABLE": audit})
        call_learner(script, module.enable_stream, dynamodb.tables, accounts,
                     what="enable_stream(tables, table_name)")
        view, stream_arn = the_stream(api, accounts)
        early = write_before(api, accounts)
        call_learner(script, module.connect, lab, name, stream_arn,
                     what="connect(lab, function_name, stream_arn)")
        mapping = the_mapping(lab, name)
        write_after(api, accounts, lab, dynamodb.tables)
        blocked = settle(lab, name, dynamodb.mappings)
        entries, errors = audit_entries(api, audit), error_lines(lab, name)
    judge(entries, view, mapping, early, blocked, errors)
    return passed(
        "Every change of the table, and only the changes, is in the audit trail.",
        f"the stream's view is {view}: each record carries the item before and after",
        f"StartingPosition {mapping.starting_position}: the {early} writes made before the "
        "mapping existed are audited too",
        "INSERT, MODIFY (only the attribute that changed), REMOVE and the TTL expiry (by "
        f"{TTL_SERVICE}) each have their entry; the update whose condition failed has none",
    )


# -- the application's writes ---------------------------------------------------------------


def create_tables(api, accounts: str, audit: str) -> None:
    api.create_table({"TableName": accounts, "BillingMode": "PAY_PER_REQUEST",
                      "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
                      "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}]})
    api.update_time_to_live({"TableName": accounts, "TimeToLiveSpecification":
                             {"Enabled": True, "AttributeName": TTL_ATTRIBUTE}})
    api.create_table({"TableName": audit, "BillingMode": "PAY_PER_REQUEST",
                      "KeySchema": [{"AttributeName": "item", "KeyType": "HASH"},
                                    {"AttributeName": "seq", "KeyType": "RANGE"}],
                      "AttributeDefinitions": [{"AttributeName": "item", "AttributeType": "S"},
                                               {"AttributeName": "seq", "AttributeType": "S"}]})


def the_stream(api, accounts: str) -> tuple[str, str]:
    """The stream's view type and ARN, or CheckFailed when enable_stream() enabled none."""
    table = api.describe_table({"TableName": accounts})["Table"]
    spec = table.get("StreamSpecification") or {}
    if not spec.get("StreamEnabled") or not table.get("LatestStreamArn"):
        raise CheckFailed(
            "The accounts table has no stream.",
            expected="a stream on the table once enable_stream() returned",
            got=f"StreamSpecification {show(spec) if spec else 'none'}",
            try_next="UpdateTable with {\"StreamSpecification\": {\"StreamEnabled\": True, "
            "\"StreamViewType\": ...}}")
    return spec["StreamViewType"], table["LatestStreamArn"]


def write_before(api, accounts: str) -> int:
    """What the application writes before the audit function is mapped; how many writes."""
    for item in (ALICE, BOB):
        api.put_item({"TableName": accounts, "Item": item})
    return 2


def write_after(api, accounts: str, lab, tables) -> None:
    """An update of one attribute, an update whose condition is false, a delete, and a
    session that expires."""
    api.update_item({"TableName": accounts, "Key": {"id": ALICE["id"]},
                     "UpdateExpression": "SET balance = :b", "ExpressionAttributeValues": {":b": {"N": "25"}}})
    try:
        api.update_item({"TableName": accounts, "Key": {"id": BOB["id"]},
                         "UpdateExpression": "SET #plan = :pro", "ConditionExpression": "balance >= :price",
                         "ExpressionAttributeNames": {"#plan": "plan"},
                         "ExpressionAttributeValues": {":pro": {"S": "pro"}, ":price": {"N": "100"}}})
    except ConditionalCheckFailedException:
        pass  # Bob cannot pay for the pro plan: nothing is written, nothing streamed
    api.delete_item({"TableName": accounts, "Key": {"id": BOB["id"]}})
    expires = int(lab.clock.now()) + SESSION_S
    api.put_item({"TableName": accounts, "Item": {"id": {"S": "session-1"},
                                                  TTL_ATTRIBUTE: {"N": str(expires)}}})
    lab.clock.advance(2 * SESSION_S)  # the TTL sweep runs every minute of the lab's clock
    tables.sweep_expired()


def expected_entries() -> list[tuple]:
    """``(item, event, old, new, by)`` in the order of the writes."""
    session = {"id": {"S": "session-1"}, TTL_ATTRIBUTE: "any"}
    return [
        ("alice", "INSERT", {}, ALICE, "app"),
        ("bob", "INSERT", {}, BOB, "app"),
        ("alice", "MODIFY", {"balance": ALICE["balance"]}, {"balance": {"N": "25"}}, "app"),
        ("bob", "REMOVE", BOB, {}, "app"),
        ("session-1", "INSERT", {}, session, "app"),
        ("session-1", "REMOVE", session, {}, TTL_SERVICE),
    ]


# -- what the function did ------------------------------------------------------------------


def the_mapping(lab, name: str):
    mappings = lab.list_event_source_mappings(function_name=name)
    if len(mappings) != 1:
        raise CheckFailed(
            "connect() did not map the table's stream to the function.",
            expected="one event source mapping for the function",
            got=f"{len(mappings)} mappings",
            try_next="lab.create_event_source_mapping(function_name, event_source_arn=stream_arn, ...)")
    return mappings[0]


def settle(lab, name: str, mappings) -> str | None:
    """Wait until the mapping has read the whole stream: None; or, when the function
    fails the same batch again and again, the error it fails with."""
    deadline = time.monotonic() + SETTLE_TIMEOUT_S
    while time.monotonic() < deadline:
        if mappings.wait_idle(timeout=0.5):
            return None
        errors = error_lines(lab, name)
        if len(errors) >= BLOCKED_AFTER:
            return errors[-1]
    raise CheckFailed(
        f"The audit function did not finish the stream's records within {SETTLE_TIMEOUT_S} s.",
        expected="each batch to be processed in well under a minute",
        got=f"{len(error_lines(lab, name))} failed invokes",
        try_next="make sure the handler returns; `lambdalab logs` shows what it did")


def error_lines(lab, name: str) -> list[str]:
    """The first line (``[ERROR] KeyError: 'NewImage'``) of each error the function logged."""
    return [e.message.strip().splitlines()[0] for e in lab.get_logs(name) if e.message.startswith("[ERROR]")]


def audit_entries(api, audit: str) -> list[tuple]:
    """``(item, event, old, new, by)`` of each entry of the audit table, in stream order."""
    items = sorted(api.scan({"TableName": audit})["Items"], key=lambda i: i.get("seq", {}).get("S", ""))
    return [(i.get("item", {}).get("S"), i.get("event", {}).get("S"), i.get("old", {}).get("M", {}),
             i.get("new", {}).get("M", {}), i.get("by", {}).get("S")) for i in items]


# -- the verdict ----------------------------------------------------------------------------


def same(entry: tuple, wanted: tuple) -> bool:
    """``entry`` is ``wanted``; an expiry time of ``"any"`` matches any number."""
    def image(got: dict, want: dict) -> bool:
        return got.keys() == want.keys() and all(
            want[k] == "any" and "N" in got[k] or got[k] == want[k] for k in want)
    return entry[:2] == wanted[:2] and entry[4] == wanted[4] and \
        image(entry[2], wanted[2]) and image(entry[3], wanted[3])


def judge(entries: list[tuple], view: str, mapping, early: int, blocked: str | None,
          errors: list[str]) -> None:
    """CheckFailed for the first thing wrong, in the order a learner meets them."""
    wanted = expected_entries()
    if len(entries) == len(wanted) and all(map(same, entries, wanted)) and blocked is None:
        return
    got = describe(entries)
    if view != "NEW_AND_OLD_IMAGES":
        raise wrong_view(view, got)
    if blocked is not None:
        raise blocked_shard(blocked, got)
    if errors:
        raise given_up(errors, mapping, got)
    if not any(same(e, w) for e in entries for w in wanted[:early]):
        raise missed_early_writes(mapping, early, got)
    if not any(e[1] == "REMOVE" for e in entries):
        raise CheckFailed(
            "The deletes are missing from the audit trail.",
            expected="an entry for Bob's account deleted and for the session its TTL expired, "
            "with the values the item had",
            got=got,
            try_next="a deleted item reaches the function as a REMOVE record, its values in "
            "OldImage (no NewImage): audit it as any other change")
    modify = next((e for e in entries if e[1] == "MODIFY"), None)
    if modify is not None and len(modify[2]) > 1:
        raise CheckFailed(
            "The update's entry records the whole item, not what changed.",
            expected="old {\"balance\": 10} and new {\"balance\": 25}: the update set one attribute",
            got=f"old {show(modify[2])}, new {show(modify[3])}",
            try_next="compare OldImage with NewImage and keep only the attributes that changed "
            "(one may be in only one of them: added or removed)")
    raise CheckFailed(
        "The audit trail is not the table's changes.",
        expected=describe(wanted),
        got=got,
        try_next="one entry per INSERT, MODIFY and REMOVE record: the item's id, the event "
        "name, the changed attributes' values before (old) and after (new), and who changed it")


def describe(entries: list[tuple]) -> str:
    if not entries:
        return "no entry in the audit table"
    return "; ".join(f"{item} {event}" + (" (TTL)" if by == TTL_SERVICE else "")
                     for item, event, _, _, by in entries)


def wrong_view(view: str, got: str) -> CheckFailed:
    missing = {"KEYS_ONLY": "only the item's key: no value before nor after the change",
               "NEW_IMAGE": "the item after the change only: no OldImage, so the values before "
               "a change (and a deleted item's values) are lost",
               "OLD_IMAGE": "the item before the change only: no NewImage, so the values after "
               "a change are lost"}
    return CheckFailed(
        f"The stream's records carry {missing.get(view, view)}.",
        expected="each record with the item's values before and after the change",
        got=f"StreamViewType {view}; audit entries: {got}",
        try_next="the view type decides what a stream record holds: the key only, the new "
        "item, the old item, or both; an audit needs both")


def fix_the_handler(error: str) -> str:
    """What a failing handler must change, whatever the mapping does with the failure."""
    if "NewImage" in error or "OldImage" in error:
        return ("a REMOVE record has no NewImage and an INSERT no OldImage: read them with "
                "change.get(\"NewImage\", {}). ")
    return "fix what the error names. "


def blocked_shard(error: str, got: str) -> CheckFailed:
    return CheckFailed(
        "The audit function fails on a record, and the stream is stuck behind it.",
        expected="every batch of the stream processed",
        got=f"the same batch failed again and again with {error}; audit entries: {got}",
        try_next=fix_the_handler(error) + "Until the handler copes, Lambda retries the failing "
        "batch until its records expire (MaximumRetryAttempts -1, the default) and nothing "
        "behind it reaches the function. MaximumRetryAttempts, BisectBatchOnFunctionError and "
        "an OnFailure destination bound the damage of a bad record; they do not fix the handler")


def given_up(errors: list[str], mapping, got: str) -> CheckFailed:
    return CheckFailed(
        "The audit function fails on a record, and Lambda gave its batch up.",
        expected="every change audited, none given up",
        got=f"{len(errors)} failed invokes with {errors[-1]}, then the batch was given up "
        f"(MaximumRetryAttempts {mapping.maximum_retry_attempts}); audit entries: {got}",
        try_next=fix_the_handler(errors[-1]) + "Bounding the retries kept the stream moving, but the "
        "changes of the batch given up are missing from the trail")


def missed_early_writes(mapping, early: int, got: str) -> CheckFailed:
    position = mapping.starting_position
    return CheckFailed(
        f"The {early} writes made before the mapping existed are not audited.",
        expected="an entry for each account created before connect() ran",
        got=f"StartingPosition {position}; audit entries: {got}",
        try_next="LATEST reads only what is written after the mapping is created; the stream "
        "keeps its records 24 hours, and TRIM_HORIZON reads them from the oldest"
        if position == "LATEST" else
        "the stream keeps every change for 24 hours: the mapping must read it from the oldest record")
