"""EventBridge beyond schedules, judged by real clients against the HTTP edge: event buses,
rules with event patterns, TestEventPattern, PutEvents and the envelope a target gets,
Input/InputPath/InputTransformer, Lambda and SQS targets, the target's RetryPolicy and
dead-letter queue on the Lab's clock, and delivery that survives a SIGKILL."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings

from lambdalab import Lab, VirtualClock
from lambdalab.server import EdgeServer
from lambdalab_schedule import event_buses, quotas

from .edge_support import client_for, create, edge, killed_server  # noqa: F401  (fixtures)
from .test_fuzz_edge import FUZZ, judge, operation_and_input, send, signed_for, to_json
from .test_logs_api import aws_cli_v2

RECORDER = """
import json

def handler(event, context):
    print("EVENT " + json.dumps(event))
"""
#: Records each event's id in a file (``$MARKS``) as it runs: the crash tests read what
#: ran there, not in the log store, which a SIGKILL may cut by its last batch (up to 0.2 s:
#: the differences page) after the event it logged was done.
MARKER = """
import os

def handler(event, context):
    with open(os.environ["MARKS"], "a") as marks:
        marks.write(event["id"] + "\\n")
"""
FUNCTION = "arn:aws:lambda:us-east-1:000000000000:function:{}"
PAID_OVER_100 = {"source": ["shop"], "detail-type": ["Order"],
                 "detail": {"status": ["paid"], "total": [{"numeric": [">", 100]}]}}


@pytest.fixture
def events(edge: EdgeServer) -> Any:  # noqa: F811
    return client_for(edge.url, "events")


@pytest.fixture
def functions(edge: EdgeServer) -> Any:  # noqa: F811
    return client_for(edge.url)


def marked(lab: Lab, marks: Path) -> set[str]:
    """The ids of the events the MARKER function ran for, once the queue is empty."""
    assert lab.wait_for_events(timeout=120), "the async queue did not empty"
    return set(marks.read_text().split()) if marks.exists() else set()


def received(lab: Lab, name: str = "recorder") -> list[Any]:
    lab.wait_for_events()
    return [json.loads(e.message.split("EVENT ", 1)[1]) for e in lab.get_logs(name)
            if "EVENT " in e.message]


def order(total: float, status: str = "paid", bus: str = "orders") -> dict[str, Any]:
    return {"Source": "shop", "DetailType": "Order", "EventBusName": bus,
            "Detail": json.dumps({"status": status, "total": total})}


def route(events: Any, target: dict[str, Any], pattern: dict[str, Any] = PAID_OVER_100,
          bus: str = "orders") -> None:
    if bus != "default" and bus not in {b["Name"] for b in events.list_event_buses()["EventBuses"]}:
        events.create_event_bus(Name=bus)
    events.put_rule(Name="paid", EventBusName=bus, EventPattern=json.dumps(pattern))
    answer = events.put_targets(Rule="paid", EventBusName=bus, Targets=[target])
    assert answer["FailedEntryCount"] == 0


def error_code(call: Any, **params: Any) -> str:
    try:
        call(**params)
    except Exception as e:  # botocore's ClientError
        return str(e.response["Error"]["Code"])  # type: ignore[attr-defined]
    raise AssertionError("no error")


# -- buses ------------------------------------------------------------------------------


def test_event_buses_round_trip_as_aws_answers(events: Any) -> None:
    arn = events.create_event_bus(Name="orders", Description="the shop")["EventBusArn"]
    assert arn == "arn:aws:events:us-east-1:000000000000:event-bus/orders"
    assert [b["Name"] for b in events.list_event_buses()["EventBuses"]] == ["default", "orders"]
    assert [b["Name"] for b in events.list_event_buses(NamePrefix="ord")["EventBuses"]] == ["orders"]
    described = events.describe_event_bus(Name="orders")
    assert (described["Arn"], described["Description"]) == (arn, "the shop")
    assert events.describe_event_bus()["Name"] == "default"
    assert events.describe_event_bus(Name=arn)["Name"] == "orders"  # a name or an ARN
    assert error_code(events.create_event_bus, Name="orders") == "ResourceAlreadyExistsException"
    assert error_code(events.describe_event_bus, Name="nope") == "ResourceNotFoundException"
    assert error_code(events.create_event_bus, Name="default") == "ValidationException"
    events.put_rule(Name="r", EventBusName="orders", EventPattern='{"source": ["shop"]}')
    assert error_code(events.delete_event_bus, Name="orders") == "ValidationException"
    events.delete_rule(Name="r", EventBusName="orders")
    events.delete_event_bus(Name="orders")
    events.delete_event_bus(Name="orders")  # deleting what is gone succeeds, as on AWS
    assert [b["Name"] for b in events.list_event_buses()["EventBuses"]] == ["default"]


def test_rules_with_patterns_live_on_their_bus(events: Any) -> None:
    events.create_event_bus(Name="orders")
    arn = events.put_rule(Name="paid", EventBusName="orders",
                          EventPattern=json.dumps(PAID_OVER_100))["RuleArn"]
    assert arn == "arn:aws:events:us-east-1:000000000000:rule/orders/paid"
    rule = events.describe_rule(Name="paid", EventBusName="orders")
    assert (rule["EventBusName"], json.loads(rule["EventPattern"])) == ("orders", PAID_OVER_100)
    assert "ScheduleExpression" not in rule
    assert [r["Name"] for r in events.list_rules(EventBusName="orders")["Rules"]] == ["paid"]
    assert events.list_rules()["Rules"] == []  # the default bus has none
    assert error_code(events.describe_rule, Name="paid") == "ResourceNotFoundException"
    assert error_code(events.put_rule, Name="x", EventBusName="nope",
                      EventPattern='{"source": ["a"]}') == "ResourceNotFoundException"
    assert error_code(events.put_rule, Name="x", EventBusName="orders",
                      ScheduleExpression="rate(1 minute)") == "ValidationException"
    for bad in ('{"source": "shop"}', "not json", "[]", '{"a": [{"numeric": [">"]}]}',
                '{"a": [{"wildcard": "a**b"}]}', '{"a": [{"nope": 1}]}'):
        assert error_code(events.put_rule, Name="bad", EventPattern=bad) == "InvalidEventPatternException", bad
    assert error_code(events.describe_rule, Name="bad") == "ResourceNotFoundException"  # nothing kept


def test_two_buses_may_each_have_a_rule_of_the_same_name(
        events: Any, functions: Any, lab: Lab) -> None:
    """AWS keeps a rule name unique per bus: each bus's ``paid`` has its own ARN, pattern,
    targets and state, and deleting one leaves the other."""
    create(functions, "recorder", RECORDER)
    events.create_event_bus(Name="orders")
    on_default = events.put_rule(Name="paid", EventPattern='{"source": ["shop"]}')["RuleArn"]
    on_orders = events.put_rule(Name="paid", EventBusName="orders",
                                EventPattern='{"source": ["store"]}')["RuleArn"]
    assert on_default == "arn:aws:events:us-east-1:000000000000:rule/paid"
    assert on_orders == "arn:aws:events:us-east-1:000000000000:rule/orders/paid"
    assert events.describe_rule(Name="paid")["EventPattern"] == '{"source": ["shop"]}'
    assert events.describe_rule(Name="paid", EventBusName="orders")["Arn"] == on_orders
    events.put_targets(Rule="paid", EventBusName="orders", Targets=[
        {"Id": "fn", "Arn": FUNCTION.format("recorder"), "InputPath": "$.source"}])
    assert events.list_targets_by_rule(Rule="paid")["Targets"] == []
    events.put_events(Entries=[{"Source": "store", "DetailType": "d", "Detail": "{}",
                                "EventBusName": "orders"}])
    assert received(lab) == ["store"]  # the orders bus's rule matched, through its target
    events.disable_rule(Name="paid", EventBusName="orders")
    assert events.describe_rule(Name="paid")["State"] == "ENABLED"
    events.remove_targets(Rule="paid", EventBusName="orders", Ids=["fn"])
    events.delete_rule(Name="paid", EventBusName="orders")
    assert [r["Arn"] for r in events.list_rules()["Rules"]] == [on_default]
    assert events.list_rules(EventBusName="orders")["Rules"] == []


def test_a_data_dir_with_rules_keyed_by_name_alone_opens_with_them_on_their_bus(
        tmp_path: Path) -> None:
    """Rules stored before names were per bus (one key for all buses) keep their bus and
    targets when the data dir opens."""
    import sqlite3

    from lambdalab_schedule import schedules

    data = tmp_path / "d"
    with Lab(data) as lab:
        event_buses(lab).create_event_bus("orders")
        schedules(lab).put_rule("paid", event_pattern='{"source": ["shop"]}',
                                event_bus_name="orders")
        schedules(lab).put_targets("paid", [{"Id": "fn", "Arn": FUNCTION.format("f")}],
                                   event_bus_name="orders")
    with sqlite3.connect(data / "lambdalab.db") as db:  # as the previous version kept them
        db.execute("PRAGMA foreign_keys = OFF")
        db.execute("UPDATE schedule_rules SET name = 'paid'")
        db.execute("UPDATE schedule_targets SET rule = 'paid'")
        db.execute("DELETE FROM schema_migrations WHERE name = 'schedule-4'")
    with Lab(data) as lab:
        rules = schedules(lab)
        assert rules.describe_rule("paid", "orders").arn.endswith(":rule/orders/paid")
        assert [t.id for t in rules.list_targets_by_rule("paid", event_bus_name="orders")] == ["fn"]
        rules.put_rule("paid", event_pattern='{"source": ["x"]}')  # the default bus's own
        assert len(rules.list_rules(bus=None)) == 2


def test_test_event_pattern_answers_as_aws(events: Any) -> None:
    event = {"id": "1", "account": "123456789012", "source": "shop", "time": "2024-01-01T00:00:00Z",
             "region": "us-east-1", "detail-type": "Order", "resources": [],
             "detail": {"status": "paid", "total": 150}}
    pattern = json.dumps(PAID_OVER_100)
    assert events.test_event_pattern(EventPattern=pattern, Event=json.dumps(event))["Result"] is True
    event["detail"]["total"] = 100
    assert events.test_event_pattern(EventPattern=pattern, Event=json.dumps(event))["Result"] is False
    assert error_code(events.test_event_pattern, EventPattern="{", Event=json.dumps(event)
                      ) == "InvalidEventPatternException"
    assert error_code(events.test_event_pattern, EventPattern=pattern, Event='{"detail": {}}'
                      ) == "ValidationException"


# -- PutEvents --------------------------------------------------------------------------


def test_put_events_delivers_aws_envelope_to_matching_function_only(
        events: Any, functions: Any, lab: Lab) -> None:
    create(functions, "recorder", RECORDER)
    route(events, {"Id": "fn", "Arn": FUNCTION.format("recorder")})
    answer = events.put_events(Entries=[order(150), order(100), order(500, "pending"),
                                        {**order(200), "Resources": ["arn:aws:shop:order/7"]}])
    assert answer["FailedEntryCount"] == 0 and all("EventId" in e for e in answer["Entries"])
    got = sorted(received(lab), key=lambda e: e["detail"]["total"])  # EventBridge keeps no order
    assert [e["detail"]["total"] for e in got] == [150, 200]
    first = got[0]
    assert set(first) == {"version", "id", "detail-type", "source", "account", "time", "region",
                          "resources", "detail"}
    assert (first["version"], first["source"], first["detail-type"], first["account"],
            first["region"]) == ("0", "shop", "Order", "000000000000", "us-east-1")
    assert first["id"] == answer["Entries"][0]["EventId"]
    assert got[1]["resources"] == ["arn:aws:shop:order/7"]
    assert first["time"].endswith("Z") and len(first["time"]) == 20


def test_put_events_answers_per_entry_as_aws(events: Any) -> None:
    answer = events.put_events(Entries=[
        order(1, bus="default"), {"Source": "shop", "DetailType": "Order", "Detail": "not json"},
        {"DetailType": "Order", "Detail": "{}"}, order(1, bus="no-such-bus")])
    assert answer["FailedEntryCount"] == 3
    assert "EventId" in answer["Entries"][0]
    assert [e.get("ErrorCode") for e in answer["Entries"][1:]] == [
        "MalformedDetail", "InvalidArgument", "ResourceNotFoundException"]
    assert error_code(events.put_events, Entries=[order(1, bus="default")] * 11) == "ValidationException"
    big = {"Source": "s", "DetailType": "d", "Detail": json.dumps({"x": "y" * 200_000})}
    assert error_code(events.put_events, Entries=[big, big]) == "ValidationException"


def test_entry_time_becomes_the_events_time(events: Any, functions: Any, lab: Lab) -> None:
    from datetime import datetime, timezone

    create(functions, "recorder", RECORDER)
    route(events, {"Id": "fn", "Arn": FUNCTION.format("recorder")}, {"source": ["shop"]})
    events.put_events(Entries=[{**order(1), "Time": datetime(2024, 3, 1, 12, 0, tzinfo=timezone.utc)}])
    assert received(lab)[0]["time"] == "2024-03-01T12:00:00Z"


def test_input_input_path_and_input_transformer(events: Any, functions: Any, lab: Lab) -> None:
    create(functions, "recorder", RECORDER)
    events.create_event_bus(Name="orders")
    events.put_rule(Name="paid", EventBusName="orders", EventPattern=json.dumps(PAID_OVER_100))
    events.put_targets(Rule="paid", EventBusName="orders", Targets=[
        {"Id": "constant", "Arn": FUNCTION.format("recorder"), "Input": '{"fixed": true}'},
        {"Id": "path", "Arn": FUNCTION.format("recorder"), "InputPath": "$.detail"},
        {"Id": "shaped", "Arn": FUNCTION.format("recorder"), "InputTransformer": {
            "InputPathsMap": {"total": "$.detail.total", "status": "$.detail.status"},
            "InputTemplate": '{"order": "<status>", "amount": <total>, "rule": "<aws.events.rule-name>"}'}},
    ])
    events.put_events(Entries=[order(150)])
    got = received(lab)
    assert sorted(got, key=json.dumps) == sorted([
        {"fixed": True}, {"status": "paid", "total": 150},
        {"order": "paid", "amount": 150, "rule": "paid"}], key=json.dumps)
    assert error_code(events.put_targets, Rule="paid", EventBusName="orders", Targets=[
        {"Id": "two", "Arn": FUNCTION.format("recorder"), "Input": "{}", "InputPath": "$.detail"}
    ]) == "ValidationException"


def test_an_sqs_target_gets_the_event_as_its_message(events: Any, edge: EdgeServer) -> None:  # noqa: F811
    sqs = client_for(edge.url, "sqs")
    url = sqs.create_queue(QueueName="paid-orders")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    route(events, {"Id": "queue", "Arn": arn})
    events.put_events(Entries=[order(150), order(5)])
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert [json.loads(m["Body"])["detail"]["total"] for m in messages] == [150]


def test_an_sns_target_publishes_the_event_as_its_message(events: Any, edge: EdgeServer) -> None:  # noqa: F811
    sqs, sns = client_for(edge.url, "sqs"), client_for(edge.url, "sns")
    url = sqs.create_queue(QueueName="fan-out")["QueueUrl"]
    queue = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    topic = sns.create_topic(Name="paid-orders")["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue, Attributes={"RawMessageDelivery": "true"})
    route(events, {"Id": "topic", "Arn": topic, "InputPath": "$.detail"})
    events.put_events(Entries=[order(150), order(5)])
    [message] = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert json.loads(message["Body"]) == {"status": "paid", "total": 150}


def test_a_failed_send_is_retried_on_the_labs_clock_then_dead_lettered(
        events: Any, edge: EdgeServer, clock: VirtualClock, lab: Lab) -> None:  # noqa: F811
    sqs = client_for(edge.url, "sqs")
    url = sqs.create_queue(QueueName="dlq")["QueueUrl"]
    dlq = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    route(events, {"Id": "gone", "Arn": FUNCTION.format("missing"),
                   "RetryPolicy": {"MaximumRetryAttempts": 2, "MaximumEventAgeInSeconds": 3600},
                   "DeadLetterConfig": {"Arn": dlq}})
    events.put_events(Entries=[order(150)])
    buses = event_buses(lab)
    assert buses.pending() == 1  # the first try failed: waiting for its retry
    assert sqs.receive_message(QueueUrl=url).get("Messages") is None
    clock.advance(1)  # the first retry
    assert buses.pending() == 1
    clock.advance(2)  # the second and last: then the dead-letter queue
    assert buses.pending() == 0
    [message] = sqs.receive_message(QueueUrl=url, MessageAttributeNames=["All"])["Messages"]
    assert json.loads(message["Body"])["detail"]["total"] == 150
    attributes = {k: v["StringValue"] for k, v in message["MessageAttributes"].items()}
    assert attributes["RULE_ARN"] == "arn:aws:events:us-east-1:000000000000:rule/orders/paid"
    assert attributes["TARGET_ARN"] == FUNCTION.format("missing")
    assert attributes["ERROR_CODE"] == "ResourceNotFoundException"


def test_a_send_that_fails_then_works_is_delivered_on_retry(
        events: Any, functions: Any, clock: VirtualClock, lab: Lab) -> None:
    route(events, {"Id": "late", "Arn": FUNCTION.format("recorder")})
    events.put_events(Entries=[order(150)])
    create(functions, "recorder", RECORDER)  # the function comes after the event
    assert received(lab) == []
    clock.advance(1)
    assert [e["detail"]["total"] for e in received(lab)] == [150]


# -- archives and replays ----------------------------------------------------------------


def test_an_archive_keeps_what_its_pattern_matches_and_a_replay_sends_a_window_again(
        events: Any, functions: Any, clock: VirtualClock, lab: Lab) -> None:
    from datetime import datetime, timezone

    def at(seconds: float) -> datetime:
        return datetime.fromtimestamp(seconds, timezone.utc)

    create(functions, "recorder", RECORDER)
    route(events, {"Id": "fn", "Arn": FUNCTION.format("recorder")})
    bus = events.describe_event_bus(Name="orders")["Arn"]
    created = events.create_archive(ArchiveName="orders-day", EventSourceArn=bus,
                                    EventPattern='{"source": ["shop"]}', RetentionDays=7)
    archive = created["ArchiveArn"]
    assert (archive, created["State"]) == (
        "arn:aws:events:us-east-1:000000000000:archive/orders-day", "ENABLED")
    began = clock.now()
    events.put_events(Entries=[order(150), order(50),
                               {**order(999), "Source": "elsewhere"}])  # not archived
    clock.advance(3600)
    events.put_events(Entries=[order(200)])
    assert sorted(e["detail"]["total"] for e in received(lab)) == [150, 200]
    described = events.describe_archive(ArchiveName="orders-day")
    assert (described["EventCount"], described["EventSourceArn"], described["RetentionDays"],
            described["EventPattern"]) == (3, bus, 7, '{"source": ["shop"]}')
    assert described["SizeBytes"] > 0

    started = events.start_replay(ReplayName="first-hour", EventSourceArn=archive,
                                  EventStartTime=at(began), EventEndTime=at(began + 1800),
                                  Destination={"Arn": bus})
    assert (started["State"], started["ReplayArn"]) == (
        "STARTING", "arn:aws:events:us-east-1:000000000000:replay/first-hour")
    replayed = [e for e in received(lab) if "replay-name" in e]
    assert [(e["replay-name"], e["detail"]["total"]) for e in replayed] == [("first-hour", 150)]
    replay = events.describe_replay(ReplayName="first-hour")
    assert (replay["State"], replay["EventSourceArn"], replay["Destination"]) == (
        "COMPLETED", archive, {"Arn": bus})
    assert "ReplayEndTime" in replay and "EventLastReplayedTime" in replay
    assert [r["ReplayName"] for r in events.list_replays(State="COMPLETED")["Replays"]] == [
        "first-hour"]
    assert events.describe_archive(ArchiveName="orders-day")["EventCount"] == 3  # not again
    [listed] = events.list_archives(EventSourceArn=bus)["Archives"]
    assert (listed["ArchiveName"], listed["EventCount"]) == ("orders-day", 3)

    assert error_code(events.cancel_replay, ReplayName="first-hour") == "IllegalStatusException"
    assert error_code(events.start_replay, ReplayName="first-hour", EventSourceArn=archive,
                      EventStartTime=at(began), EventEndTime=at(began + 1),
                      Destination={"Arn": bus}) == "ResourceAlreadyExistsException"
    default_bus = events.describe_event_bus()["Arn"]
    assert error_code(events.start_replay, ReplayName="elsewhere", EventSourceArn=archive,
                      EventStartTime=at(began), EventEndTime=at(began + 1),
                      Destination={"Arn": default_bus}) == "ValidationException"
    assert error_code(events.start_replay, ReplayName="backwards", EventSourceArn=archive,
                      EventStartTime=at(began + 1), EventEndTime=at(began),
                      Destination={"Arn": bus}) == "ValidationException"
    assert error_code(events.create_archive, ArchiveName="orders-day",
                      EventSourceArn=bus) == "ResourceAlreadyExistsException"
    assert error_code(events.create_archive, ArchiveName="bad", EventSourceArn=bus,
                      EventPattern='{"source": "shop"}') == "InvalidEventPatternException"
    events.delete_archive(ArchiveName="orders-day")
    assert error_code(events.describe_archive, ArchiveName="orders-day") == "ResourceNotFoundException"


def test_a_replay_with_filter_arns_reaches_only_those_rules_and_retention_drops_old_events(
        events: Any, functions: Any, clock: VirtualClock, lab: Lab) -> None:
    from datetime import datetime, timezone

    create(functions, "recorder", RECORDER)
    route(events, {"Id": "fn", "Arn": FUNCTION.format("recorder")})
    audit = events.put_rule(Name="audit", EventBusName="orders",
                            EventPattern='{"source": ["shop"]}')["RuleArn"]
    events.put_targets(Rule="audit", EventBusName="orders", Targets=[
        {"Id": "fn", "Arn": FUNCTION.format("recorder"), "Input": '{"audit": true}'}])
    bus = events.describe_event_bus(Name="orders")["Arn"]
    archive = events.create_archive(ArchiveName="a", EventSourceArn=bus, RetentionDays=1)["ArchiveArn"]
    began = clock.now()
    events.put_events(Entries=[order(150)])
    received(lab)
    window = {"EventStartTime": datetime.fromtimestamp(began - 10, timezone.utc),
              "EventEndTime": datetime.fromtimestamp(began + 10, timezone.utc)}
    before = len(received(lab))
    events.start_replay(ReplayName="audit-only", EventSourceArn=archive,
                        Destination={"Arn": bus, "FilterArns": [audit]}, **window)
    assert received(lab)[before:] == [{"audit": True}]  # the "paid" rule got nothing
    events.put_events(Entries=[{**order(300), "Time": datetime.fromtimestamp(began - 5000, timezone.utc)}])
    before = len(received(lab))
    events.start_replay(ReplayName="by-event-time", EventSourceArn=archive,  # the entry's Time
                        Destination={"Arn": bus},
                        EventStartTime=datetime.fromtimestamp(began - 5001, timezone.utc),
                        EventEndTime=datetime.fromtimestamp(began - 4999, timezone.utc))
    got = [e.get("detail", e) for e in received(lab)[before:]]  # in any order, as on AWS
    assert sorted(got, key=json.dumps) == [{"audit": True}, {"status": "paid", "total": 300}]
    before = len(received(lab))
    clock.advance(2 * 86_400)  # past the archive's one day of retention
    assert events.describe_archive(ArchiveName="a")["EventCount"] == 0
    events.start_replay(ReplayName="too-late", EventSourceArn=archive,
                        Destination={"Arn": bus}, **window)
    assert len(received(lab)) == before


# -- hostile input ---------------------------------------------------------------------

BUS_OPERATIONS = ("PutEvents", "TestEventPattern", "CreateEventBus", "DescribeEventBus",
                  "ListEventBuses", "DeleteEventBus", "PutRule", "PutTargets", "ListRules",
                  "CreateArchive", "DescribeArchive", "ListArchives", "DeleteArchive",
                  "StartReplay", "DescribeReplay", "ListReplays", "CancelReplay")


@pytest.fixture
def bus_world(edge: EdgeServer) -> EdgeServer:  # noqa: F811
    """A bus with a rule and a target to reach, so requests get past "not found"."""
    route(client_for(edge.url, "events"), {"Id": "1", "Arn": FUNCTION.format("f")},
          {"source": [{"exists": True}]})
    return edge


@settings(FUZZ, max_examples=120)
@given(request=operation_and_input("events", BUS_OPERATIONS))
def test_bus_operations_never_fail_internally(bus_world: EdgeServer, request: Any) -> None:
    op, params = request
    headers = {"X-Amz-Target": f"AWSEvents.{op.name}", "Content-Type": "application/x-amz-json-1.1",
               **signed_for("events")}
    judge("events", "json", op, "POST", send(bus_world.url, "POST", "/", headers, to_json(params)))


# -- durability and the AWS CLI ---------------------------------------------------------


def test_an_acknowledged_event_reaches_its_target_after_sigkill(tmp_path: Path, rendezvous: Path) -> None:
    data, marks = tmp_path / "d", rendezvous / "marks.txt"
    with Lab(data) as lab, EdgeServer(lab, port=0) as server:
        create(client_for(server.url), "recorder", MARKER, Environment={"Variables": {"MARKS": str(marks)}})
        route(client_for(server.url, "events"), {"Id": "fn", "Arn": FUNCTION.format("recorder")})
    acknowledged = []
    with killed_server(data) as url:  # SIGKILL right after the last answer
        events = client_for(url, "events")
        for n in range(20):
            answer = events.put_events(Entries=[order(101 + n)])
            acknowledged.append(answer["Entries"][0]["EventId"])
    with Lab(data) as lab:
        assert set(acknowledged) <= marked(lab, marks)


def test_ten_events_of_one_put_events_survive_sigkill_together(tmp_path: Path, rendezvous: Path) -> None:
    """PutEvents queues its Lambda deliveries in one transaction of the async queue: every
    event of an acknowledged call still runs after a SIGKILL."""
    data, marks = tmp_path / "d", rendezvous / "marks.txt"
    with Lab(data) as lab, EdgeServer(lab, port=0) as server:
        create(client_for(server.url), "recorder", MARKER, Environment={"Variables": {"MARKS": str(marks)}})
        route(client_for(server.url, "events"), {"Id": "fn", "Arn": FUNCTION.format("recorder")})
    acknowledged = []
    with killed_server(data) as url:
        events = client_for(url, "events")
        for n in range(0, 50, 10):
            answer = events.put_events(Entries=[order(101 + n + k) for k in range(10)])
            assert answer["FailedEntryCount"] == 0
            acknowledged.extend(e["EventId"] for e in answer["Entries"])
    with Lab(data) as lab:
        assert set(acknowledged) <= marked(lab, marks)


def test_a_payload_invoke_refuses_is_dead_lettered_while_the_rest_of_the_call_arrives(
        events: Any, functions: Any, edge: EdgeServer, clock: VirtualClock, lab: Lab) -> None:  # noqa: F811
    """A transformed event that is not JSON cannot be a Lambda payload (Invoke refuses it):
    that delivery alone fails, is retried and dead-lettered; the queued ones run."""
    sqs = client_for(edge.url, "sqs")
    url = sqs.create_queue(QueueName="dlq")["QueueUrl"]
    dlq = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    create(functions, "recorder", RECORDER)
    route(events, {"Id": "fn", "Arn": FUNCTION.format("recorder")})
    events.put_targets(Rule="paid", EventBusName="orders", Targets=[{
        "Id": "text", "Arn": FUNCTION.format("recorder"),
        "InputTransformer": {"InputPathsMap": {"s": "$.detail.status"}, "InputTemplate": "<s> order"},
        "RetryPolicy": {"MaximumRetryAttempts": 0}, "DeadLetterConfig": {"Arn": dlq}}])
    answer = events.put_events(Entries=[order(101 + k) for k in range(3)])
    assert answer["FailedEntryCount"] == 0
    assert sorted(e["detail"]["total"] for e in received(lab)) == [101, 102, 103]
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                   MessageAttributeNames=["All"])["Messages"]
    assert [m["Body"] for m in messages] == ["paid order"] * 3
    assert {m["MessageAttributes"]["ERROR_CODE"]["StringValue"] for m in messages} == {
        "InvalidRequestContentException"}
    assert event_buses(lab).pending() == 0


def test_put_many_queues_events_in_one_call_and_runs_each(lab: Lab) -> None:
    from lambdalab.plugin import NewEvent, new_request_id

    lab.create_function("recorder", code=lambda event, context: print("EVENT " + json.dumps(event)))
    lab.events.put_many([])  # nothing to commit: no transaction, no error
    lab.events.put_many([NewEvent("recorder", None, json.dumps({"n": n}).encode(), new_request_id())
                         for n in range(5)])
    assert sorted(e["n"] for e in received(lab)) == [0, 1, 2, 3, 4]


def test_a_delivery_left_by_a_closed_lab_is_sent_by_the_next(tmp_path: Path) -> None:
    """The target could not be reached when the event was put; the delivery stays in the
    data dir, and the lab that opens it next sends it once the target is there."""
    data, clock = tmp_path / "d", VirtualClock(start=1_700_000_000)
    with Lab(data, clock=clock) as lab, EdgeServer(lab, port=0) as server:
        route(client_for(server.url, "events"), {"Id": "fn", "Arn": FUNCTION.format("recorder")})
        client_for(server.url, "events").put_events(Entries=[order(150)])
        assert event_buses(lab).pending() == 1
    clock = VirtualClock(start=clock.now())  # a lab's clock closes with it
    with Lab(data, clock=clock) as lab:
        assert event_buses(lab).pending() == 1  # tried again on opening: still no function
        lab.create_function("recorder", code=lambda event, context: print("EVENT " + json.dumps(event)))
        clock.advance(quotas.EVENTS_RETRY_BACKOFF_MAX_S)
        assert [e["detail"]["total"] for e in received(lab)] == [150]
        assert event_buses(lab).pending() == 0


@pytest.mark.skipif(aws_cli_v2() is None, reason="AWS CLI v2 is not installed (.ci/run installs it)")
def test_the_aws_cli_v2_creates_a_bus_routes_and_puts_events(
        edge: EdgeServer, functions: Any, lab: Lab) -> None:  # noqa: F811
    create(functions, "recorder", RECORDER)

    def aws(*args: str) -> Any:
        env = {**os.environ, "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "x",
               "AWS_DEFAULT_REGION": "us-east-1", "AWS_MAX_ATTEMPTS": "1",
               "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull}
        done = subprocess.run([str(aws_cli_v2()), "--endpoint-url", edge.url, "--output", "json",
                               "events", *args], capture_output=True, text=True, env=env, timeout=120)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout) if done.stdout.strip() else None

    aws("create-event-bus", "--name", "orders")
    aws("put-rule", "--name", "paid", "--event-bus-name", "orders",
        "--event-pattern", json.dumps(PAID_OVER_100))
    aws("put-targets", "--rule", "paid", "--event-bus-name", "orders",
        "--targets", json.dumps([{"Id": "fn", "Arn": FUNCTION.format("recorder")}]))
    assert aws("test-event-pattern", "--event-pattern", json.dumps(PAID_OVER_100), "--event", json.dumps({
        "id": "1", "account": "1", "source": "shop", "time": "2024-01-01T00:00:00Z",
        "region": "us-east-1", "detail-type": "Order", "detail": {"status": "paid", "total": 101}}
    ))["Result"] is True
    answer = aws("put-events", "--entries", json.dumps([order(150), order(50)]))
    assert answer["FailedEntryCount"] == 0
    assert [e["detail"]["total"] for e in received(lab)] == [150]


# -- services that emit events ------------------------------------------------------------


def test_s3_to_eventbridge_to_lambda_end_to_end(events: Any, functions: Any, edge: EdgeServer,  # noqa: F811
                                                lab: Lab) -> None:
    from .test_s3 import s3_client

    s3 = s3_client(edge.url)
    create(functions, "recorder", RECORDER)
    s3.create_bucket(Bucket="photos")
    s3.put_bucket_notification_configuration(
        Bucket="photos", NotificationConfiguration={"EventBridgeConfiguration": {}})
    assert "EventBridgeConfiguration" in s3.get_bucket_notification_configuration(Bucket="photos")
    route(events, {"Id": "fn", "Arn": FUNCTION.format("recorder")},
          {"source": ["aws.s3"], "detail-type": ["Object Created", "Object Deleted"],
           "detail": {"bucket": {"name": ["photos"]}, "object": {"key": [{"suffix": ".png"}]}}},
          bus="default")
    s3.put_object(Bucket="photos", Key="cats/tom cat.png", Body=b"hello")
    s3.put_object(Bucket="photos", Key="notes.txt", Body=b"not an image")
    s3.delete_object(Bucket="photos", Key="cats/tom cat.png")
    got = received(lab)
    assert sorted(e["detail-type"] for e in got) == ["Object Created", "Object Deleted"]
    created = next(e for e in got if e["detail-type"] == "Object Created")
    assert (created["source"], created["resources"]) == ("aws.s3", ["arn:aws:s3:::photos"])
    detail = created["detail"]
    assert detail["object"] == {"key": "cats/tom cat.png", "size": 5, "etag": "5d41402abc4b2a76b9719d911017c592",
                                "sequencer": detail["object"]["sequencer"]}
    assert (detail["version"], detail["bucket"], detail["reason"]) == ("0", {"name": "photos"}, "PutObject")
    assert {"request-id", "requester", "source-ip-address"} <= set(detail)
    deleted = next(e for e in got if e["detail-type"] == "Object Deleted")["detail"]
    assert (deleted["reason"], deleted["deletion-type"]) == ("DeleteObject", "Permanently Deleted")
    assert set(deleted["object"]) == {"key", "sequencer"}


def test_a_lambda_destination_on_a_bus_gets_the_invocation_record(
        events: Any, functions: Any, lab: Lab) -> None:
    create(functions, "recorder", RECORDER)
    create(functions, "worker", "def handler(event, context):\n    return {'done': event}\n")
    route(events, {"Id": "fn", "Arn": FUNCTION.format("recorder")},
          {"source": ["lambda"], "detail-type": ["Lambda Function Invocation Result - Success"]})
    functions.put_function_event_invoke_config(FunctionName="worker", DestinationConfig={
        "OnSuccess": {"Destination": "arn:aws:events:us-east-1:000000000000:event-bus/orders"}})
    functions.invoke(FunctionName="worker", InvocationType="Event", Payload=b'{"n": 1}')
    lab.wait_for_events()
    [got] = received(lab)
    assert got["resources"] == [got["detail"]["requestContext"]["functionArn"]]
    assert got["detail"]["responsePayload"] == {"done": {"n": 1}}
