"""EventBridge Scheduler (the ``scheduler`` service) through boto3 against the edge:
schedules' create/get/list/update/delete, at()/rate()/cron() in time zones, start and end
dates, ActionAfterCompletion, states, and Lambda and SQS targets, on the virtual clock
(which starts at 2023-11-14T22:13:20Z)."""

from __future__ import annotations

import json
import os
import subprocess
from datetime import datetime, timezone
from typing import Any

import pytest
from hypothesis import given, settings

from lambdalab import Lab, VirtualClock
from lambdalab.server import EdgeServer

from .edge_support import client_for, create, edge  # noqa: F401  (fixtures)
from .test_eventbridge import FUNCTION, RECORDER, error_code, received
from .test_logs_api import aws_cli_v2
from .test_fuzz_edge import FUZZ, judge, operation_and_input, rest_request, send, signed_for

ROLE = "arn:aws:iam::000000000000:role/scheduler"
TARGET = {"Arn": FUNCTION.format("recorder"), "RoleArn": ROLE, "Input": '{"job": "report"}'}
OFF = {"Mode": "OFF"}


@pytest.fixture
def scheduler(edge: EdgeServer) -> Any:  # noqa: F811
    create(client_for(edge.url), "recorder", RECORDER)
    return client_for(edge.url, "scheduler")


def until(clock: VirtualClock, iso: str) -> None:
    """Advance the virtual clock to the UTC moment ``iso``."""
    moment = datetime.fromisoformat(iso).replace(tzinfo=timezone.utc).timestamp()
    clock.advance(moment - clock.now())


def test_schedules_round_trip_as_aws_answers(scheduler: Any) -> None:
    arn = scheduler.create_schedule(Name="nightly", ScheduleExpression="cron(0 3 * * ? *)",
                                    ScheduleExpressionTimezone="Europe/Paris", Target=TARGET,
                                    FlexibleTimeWindow=OFF, Description="the report")["ScheduleArn"]
    assert arn == "arn:aws:scheduler:us-east-1:000000000000:schedule/default/nightly"
    got = scheduler.get_schedule(Name="nightly")
    assert (got["Arn"], got["GroupName"], got["State"], got["ScheduleExpressionTimezone"],
            got["Target"], got["FlexibleTimeWindow"], got["Description"], got["ActionAfterCompletion"]) == (
        arn, "default", "ENABLED", "Europe/Paris", TARGET, OFF, "the report", "NONE")
    [listed] = scheduler.list_schedules()["Schedules"]
    assert (listed["Name"], listed["Target"]) == ("nightly", {"Arn": TARGET["Arn"]})
    assert scheduler.list_schedules(NamePrefix="x")["Schedules"] == []
    scheduler.update_schedule(Name="nightly", ScheduleExpression="rate(1 hour)", Target=TARGET,
                              FlexibleTimeWindow=OFF, State="DISABLED")
    updated = scheduler.get_schedule(Name="nightly")
    assert (updated["State"], updated["ScheduleExpression"]) == ("DISABLED", "rate(1 hour)")
    assert "Description" not in updated  # UpdateSchedule replaces every setting
    assert scheduler.list_schedules(State="ENABLED")["Schedules"] == []
    scheduler.delete_schedule(Name="nightly")
    assert error_code(scheduler.get_schedule, Name="nightly") == "ResourceNotFoundException"


def test_bad_schedules_get_schedulers_errors(scheduler: Any) -> None:
    good = {"Name": "s", "ScheduleExpression": "rate(5 minutes)", "Target": TARGET,
            "FlexibleTimeWindow": OFF}
    scheduler.create_schedule(**good)
    assert error_code(scheduler.create_schedule, **good) == "ConflictException"
    for bad in ({"ScheduleExpression": "every day"}, {"ScheduleExpression": "at(2024-02-30T00:00:00)"},
                {"ScheduleExpressionTimezone": "Mars/Olympus"},
                {"FlexibleTimeWindow": {"Mode": "FLEXIBLE"}},
                {"FlexibleTimeWindow": {"Mode": "OFF", "MaximumWindowInMinutes": 5}},
                {"Target": {**TARGET, "Arn": "arn:aws:states:us-east-1:000000000000:stateMachine:x"}}):
        assert error_code(scheduler.create_schedule, **{**good, "Name": "t", **bad}) == "ValidationException", bad
    assert error_code(scheduler.get_schedule, Name="t") == "ResourceNotFoundException"  # nothing kept
    assert error_code(scheduler.update_schedule, **{**good, "Name": "none"}) == "ResourceNotFoundException"
    assert error_code(scheduler.delete_schedule, Name="none") == "ResourceNotFoundException"
    assert error_code(scheduler.create_schedule, **{**good, "Name": "g", "GroupName": "other"}
                      ) == "ResourceNotFoundException"


def test_at_fires_once_in_its_time_zone_then_deletes_itself(
        scheduler: Any, clock: VirtualClock, lab: Lab) -> None:
    scheduler.create_schedule(Name="once", ScheduleExpression="at(2023-11-15T09:00:00)",
                              ScheduleExpressionTimezone="Europe/Paris", Target=TARGET,
                              FlexibleTimeWindow=OFF, ActionAfterCompletion="DELETE")
    until(clock, "2023-11-15T07:59:00")  # 08:59 in Paris (UTC+1 in November)
    assert received(lab) == []
    until(clock, "2023-11-15T08:00:01")
    assert received(lab) == [{"job": "report"}]
    assert scheduler.list_schedules()["Schedules"] == []  # completed, and deleted as asked
    clock.advance(7 * 86400)
    assert len(received(lab)) == 1


def test_cron_reads_its_time_zone_and_rate_keeps_to_its_dates(
        scheduler: Any, clock: VirtualClock, lab: Lab) -> None:
    scheduler.create_schedule(Name="nine-in-new-york", ScheduleExpression="cron(0 9 * * ? *)",
                              ScheduleExpressionTimezone="America/New_York", Target=TARGET,
                              FlexibleTimeWindow={"Mode": "FLEXIBLE", "MaximumWindowInMinutes": 15})
    until(clock, "2023-11-15T13:59:00")  # 08:59 in New York (UTC-5)
    assert received(lab) == []
    until(clock, "2023-11-15T14:00:01")
    assert len(received(lab)) == 1
    scheduler.delete_schedule(Name="nine-in-new-york")
    start = datetime(2023, 11, 16, tzinfo=timezone.utc)
    scheduler.create_schedule(Name="hourly", ScheduleExpression="rate(1 hour)", Target=TARGET,
                              FlexibleTimeWindow=OFF, StartDate=start,
                              EndDate=datetime(2023, 11, 16, 3, 30, tzinfo=timezone.utc))
    until(clock, "2023-11-17T00:00:00")
    assert len(received(lab)) == 1 + 4  # from the start date: 00:00, 01:00, 02:00, 03:00
    assert [s["Name"] for s in scheduler.list_schedules()["Schedules"]] == ["hourly"]  # NONE: kept


@pytest.mark.skipif(aws_cli_v2() is None, reason="AWS CLI v2 is not installed (.ci/run installs it)")
def test_the_aws_cli_v2_creates_a_schedule_in_a_group_that_fires_on_the_labs_clock(
        scheduler: Any, edge: EdgeServer, clock: VirtualClock, lab: Lab) -> None:  # noqa: F811
    """``aws scheduler create-schedule-group`` / ``create-schedule`` / ``get-schedule`` /
    ``list-schedules``, the real AWS CLI v2, as a tutorial types them."""
    def aws(*args: str) -> Any:
        env = {**os.environ, "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "x",
               "AWS_DEFAULT_REGION": "us-east-1", "AWS_MAX_ATTEMPTS": "1",
               "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull}
        done = subprocess.run([str(aws_cli_v2()), "--endpoint-url", edge.url, "--output", "json",
                               "scheduler", *args], capture_output=True, text=True, env=env, timeout=120)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout) if done.stdout.strip() else None

    aws("create-schedule-group", "--name", "reports")
    arn = aws("create-schedule", "--name", "morning", "--group-name", "reports",
              "--schedule-expression", "cron(0 9 * * ? *)", "--schedule-expression-timezone",
              "Europe/Paris", "--flexible-time-window", "Mode=OFF",
              "--target", json.dumps(TARGET))["ScheduleArn"]
    assert arn == "arn:aws:scheduler:us-east-1:000000000000:schedule/reports/morning"
    got = aws("get-schedule", "--name", "morning", "--group-name", "reports")
    assert (got["GroupName"], got["State"], got["Target"]["Input"]) == ("reports", "ENABLED", TARGET["Input"])
    listed = aws("list-schedules", "--group-name", "reports")["Schedules"]
    assert [s["Name"] for s in listed] == ["morning"]
    until(clock, "2023-11-15T08:00:01")  # 09:00 in Paris
    assert received(lab) == [{"job": "report"}]


def test_a_disabled_schedule_waits_and_an_sqs_target_gets_the_input(
        scheduler: Any, edge: EdgeServer, clock: VirtualClock, lab: Lab) -> None:  # noqa: F811
    sqs = client_for(edge.url, "sqs")
    url = sqs.create_queue(QueueName="reports")["QueueUrl"]
    queue = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    target = {"Arn": queue, "RoleArn": ROLE, "Input": json.dumps({"report": "daily"})}
    scheduler.create_schedule(Name="q", ScheduleExpression="rate(1 day)", Target=target,
                              FlexibleTimeWindow=OFF, State="DISABLED")
    clock.advance(2 * 86400)
    assert sqs.receive_message(QueueUrl=url).get("Messages") is None
    scheduler.update_schedule(Name="q", ScheduleExpression="rate(1 day)", Target=target,
                              FlexibleTimeWindow=OFF, State="ENABLED")
    clock.advance(86400 + 1)
    [message] = sqs.receive_message(QueueUrl=url)["Messages"]
    assert json.loads(message["Body"]) == {"report": "daily"}


def test_schedule_groups_hold_their_own_schedules_and_take_them_when_deleted(
        scheduler: Any, clock: VirtualClock, lab: Lab) -> None:
    arn = scheduler.create_schedule_group(Name="reports")["ScheduleGroupArn"]
    assert arn == "arn:aws:scheduler:us-east-1:000000000000:schedule-group/reports"
    got = scheduler.get_schedule_group(Name="reports")
    assert (got["Arn"], got["Name"], got["State"]) == (arn, "reports", "ACTIVE")
    assert [g["Name"] for g in scheduler.list_schedule_groups()["ScheduleGroups"]] == [
        "default", "reports"]
    assert [g["Name"] for g in scheduler.list_schedule_groups(NamePrefix="rep")["ScheduleGroups"]] == [
        "reports"]
    hourly = {"ScheduleExpression": "rate(1 hour)", "Target": TARGET, "FlexibleTimeWindow": OFF}
    in_group = scheduler.create_schedule(Name="tick", GroupName="reports", **hourly)["ScheduleArn"]
    scheduler.create_schedule(Name="tick", **hourly)  # the same name in another group
    assert in_group == "arn:aws:scheduler:us-east-1:000000000000:schedule/reports/tick"
    assert scheduler.get_schedule(Name="tick", GroupName="reports")["GroupName"] == "reports"
    assert [s["GroupName"] for s in scheduler.list_schedules(GroupName="reports")["Schedules"]] == [
        "reports"]
    assert len(scheduler.list_schedules()["Schedules"]) == 2  # every group's
    clock.advance(3600 + 1)
    assert len(received(lab)) == 2  # both fired
    scheduler.delete_schedule_group(Name="reports")
    assert error_code(scheduler.get_schedule_group, Name="reports") == "ResourceNotFoundException"
    assert error_code(scheduler.get_schedule, Name="tick", GroupName="reports") == "ResourceNotFoundException"
    assert [s["GroupName"] for s in scheduler.list_schedules()["Schedules"]] == ["default"]
    clock.advance(3600)
    assert len(received(lab)) == 3  # only the default group's fired again
    assert error_code(scheduler.create_schedule_group, Name="default") == "ConflictException"
    scheduler.create_schedule_group(Name="again")
    assert error_code(scheduler.create_schedule_group, Name="again") == "ConflictException"
    assert error_code(scheduler.delete_schedule_group, Name="default") == "ValidationException"
    assert error_code(scheduler.delete_schedule_group, Name="none") == "ResourceNotFoundException"


SCHEDULER_OPERATIONS = ("CreateSchedule", "GetSchedule", "ListSchedules", "UpdateSchedule",
                        "DeleteSchedule", "CreateScheduleGroup", "GetScheduleGroup",
                        "ListScheduleGroups", "DeleteScheduleGroup")


@settings(FUZZ, max_examples=120)
@given(request=operation_and_input("scheduler", SCHEDULER_OPERATIONS))
def test_scheduler_never_fails_internally(edge: EdgeServer, request: Any) -> None:  # noqa: F811
    op, params = request
    method, path, headers, data = rest_request(op, params, {}, None)
    headers.update(signed_for("scheduler"))
    judge("scheduler", "rest-json", op, method, send(edge.url, method, path, headers, data))
