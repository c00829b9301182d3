"""Schedules: EventBridge rules fire Lambda targets on the Lab's (virtual) clock."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

import pytest
from botocore.exceptions import ClientError

from lambdalab import Lab, VirtualClock
from lambdalab_schedule import Cron, Rate, ValidationException, parse, schedules

from .edge_support import client_for, edge  # noqa: F401  (fixture)

DAY = 86_400
RECORD = """
import json
def handler(event, context):
    print("FIRED", json.dumps(event))
    return "ok"
"""


def fired(lab: Lab, name: str) -> list[Any]:
    """The events the function got, read back from its log."""
    assert lab.wait_for_events(timeout=120)
    lines = [e.message for e in lab.get_logs(name) if e.message.startswith("FIRED ")]
    return [json.loads(line[len("FIRED "):]) for line in lines]


@pytest.fixture
def recorder(lab: Lab, code: Callable[..., Path]) -> str:
    return lab.create_function("tick", code(app=RECORD), handler="app.handler").function_arn


# -- expressions ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "expression, seconds",
    [("rate(1 minute)", 60), ("rate(5 minutes)", 300), ("rate(1 hour)", 3600),
     ("rate(2 days)", 2 * DAY)],
)
def test_rate_expressions(expression: str, seconds: int) -> None:
    assert parse(expression) == Rate(seconds)


@pytest.mark.parametrize(
    "expression",
    [
        "rate(1 minutes)",  # 1 takes the singular
        "rate(5 minute)",  # more than 1 takes the plural
        "rate(0 minutes)",
        "rate(5 seconds)",
        "rate(-1 minutes)",
        "rate(5  minutes)",
        "cron(0 12 * * * *)",  # neither day field is ?
        "cron(0 12 ? * ? *)",  # both are
        "cron(0 12 * * ?)",  # five fields: the year is required
        "cron(60 12 * * ? *)",
        "cron(0 24 * * ? *)",
        "cron(0 12 32 * ? *)",
        "cron(0 12 ? * 0 *)",  # day-of-week is 1-7
        "cron(0 12 ? * 8 *)",
        "cron(0 12 ? 13 * *)",
        "cron(0 12 * * ? 1969)",
        "cron(0 12 ? * 2#6 *)",
        "every day",
        "",
    ],
)
def test_invalid_expressions_are_refused_as_aws_does(expression: str) -> None:
    with pytest.raises(ValidationException, match=r"^Parameter ScheduleExpression is not valid\.$"):
        parse(expression)


def _next(expression: str, after: datetime) -> datetime:
    schedule = parse(expression)
    due = schedule.next_after(after.timestamp(), after.timestamp())
    assert due is not None
    return datetime.fromtimestamp(due, tz=timezone.utc)


START = datetime(2024, 1, 1, 0, 0, tzinfo=timezone.utc)  # a Monday


@pytest.mark.parametrize(
    "expression, expected",
    [
        ("cron(0 12 * * ? *)", datetime(2024, 1, 1, 12, 0)),
        # AWS counts days of the week from 1 = Sunday: 1 is Sunday the 7th, not Monday.
        ("cron(0 12 ? * 1 *)", datetime(2024, 1, 7, 12, 0)),
        ("cron(0 12 ? * SUN *)", datetime(2024, 1, 7, 12, 0)),
        ("cron(0 12 ? * 7 *)", datetime(2024, 1, 6, 12, 0)),  # 7 = Saturday
        ("cron(0 12 ? * 3-5 *)", datetime(2024, 1, 2, 12, 0)),  # TUE-THU
        ("cron(0 12 ? * 6L *)", datetime(2024, 1, 26, 12, 0)),  # last Friday
        ("cron(0 12 ? * 2#2 *)", datetime(2024, 1, 8, 12, 0)),  # second Monday
        ("cron(0 12 L * ? *)", datetime(2024, 1, 31, 12, 0)),
        ("cron(0 12 6W * ? *)", datetime(2024, 1, 5, 12, 0)),  # 6th is a Saturday
        ("cron(15 10 ? JAN-MAR MON-FRI 2025)", datetime(2025, 1, 1, 10, 15)),
        ("cron(0/15 * * * ? *)", datetime(2024, 1, 1, 0, 15)),
    ],
)
def test_cron_fields_follow_aws_semantics(expression: str, expected: datetime) -> None:
    assert _next(expression, START) == expected.replace(tzinfo=timezone.utc)


def test_a_cron_whose_years_are_over_never_fires() -> None:
    assert isinstance(parse("cron(0 12 * * ? 2020)"), Cron)
    assert parse("cron(0 12 * * ? 2020)").next_after(START.timestamp(), 0) is None


# -- firing on the clock -------------------------------------------------------------------


def test_rate_five_minutes_fires_288_times_a_day(lab: Lab, clock: VirtualClock,
                                                   recorder: str) -> None:
    rules = schedules(lab)
    arn = rules.put_rule("every-5", "rate(5 minutes)")
    rules.put_targets("every-5", [{"Id": "tick", "Arn": recorder}])
    start = clock.now()
    clock.advance(DAY)
    events = fired(lab, "tick")
    assert len(events) == 288
    first = events[0]
    assert first["detail-type"] == "Scheduled Event"
    assert first["source"] == "aws.events"
    assert first["resources"] == [arn]
    assert first["detail"] == {}
    assert first["account"] == lab.arns.account_id and first["region"] == lab.arns.region
    times = sorted(e["time"] for e in events)
    expected = datetime.fromtimestamp(start + 300, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert times[0] == expected
    assert len({e["id"] for e in events}) == 288


def test_cron_noon_fires_once_a_day_with_the_scheduled_time(
    lab: Lab, clock: VirtualClock, recorder: str
) -> None:
    rules = schedules(lab)
    rules.put_rule("noon", "cron(0 12 * * ? *)")
    rules.put_targets("noon", [{"Id": "t", "Arn": recorder, "Input": '{"job": "report"}'}])
    clock.advance(DAY)
    assert fired(lab, "tick") == [{"job": "report"}]
    clock.advance(DAY)
    assert len(fired(lab, "tick")) == 2


def test_disabled_rules_do_not_fire_and_enabling_resumes(
    lab: Lab, clock: VirtualClock, recorder: str
) -> None:
    rules = schedules(lab)
    rules.put_rule("hourly", "rate(1 hour)", state="DISABLED")
    rules.put_targets("hourly", [{"Id": "t", "Arn": recorder, "InputPath": "$.detail-type"}])
    clock.advance(3 * 3600)
    assert fired(lab, "tick") == []
    rules.enable_rule("hourly")
    clock.advance(2 * 3600)
    assert fired(lab, "tick") == ["Scheduled Event", "Scheduled Event"]
    rules.disable_rule("hourly")
    clock.advance(DAY)
    assert len(fired(lab, "tick")) == 2


def test_restart_resumes_schedules(tmp_path: Path, code: Callable[..., Path]) -> None:
    start = 1_700_000_000
    with Lab(tmp_path / "data", clock=VirtualClock(start=start)) as lab:
        arn = lab.create_function("tick", code(app=RECORD), handler="app.handler").function_arn
        schedules(lab).put_rule("every-5", "rate(5 minutes)")
        schedules(lab).put_targets("every-5", [{"Id": "t", "Arn": arn}])
    clock = VirtualClock(start=start + 60)
    with Lab(tmp_path / "data", clock=clock) as lab:
        clock.advance(DAY - 60)
        assert len(fired(lab, "tick")) == 288


def test_rule_and_target_management(lab: Lab, recorder: str) -> None:
    rules = schedules(lab)
    rules.put_rule("a-rule", "rate(1 day)", description="nightly")
    rules.put_rule("b-rule", "cron(0 3 * * ? *)")
    assert [r.name for r in rules.list_rules()] == ["a-rule", "b-rule"]
    assert [r.name for r in rules.list_rules("b")] == ["b-rule"]
    assert rules.describe_rule("a-rule").to_aws()["Description"] == "nightly"
    rules.put_targets("a-rule", [{"Id": "1", "Arn": recorder}])
    with pytest.raises(ValidationException, match="has targets"):
        rules.delete_rule("a-rule")
    result = rules.remove_targets("a-rule", ["1", "missing"])
    assert result["FailedEntryCount"] == 1
    assert result["FailedEntries"][0]["TargetId"] == "missing"
    rules.delete_rule("a-rule")
    assert [r.name for r in rules.list_rules()] == ["b-rule"]


def test_bad_targets_are_refused_and_nothing_is_saved(lab: Lab, recorder: str) -> None:
    rules = schedules(lab)
    rules.put_rule("r", "rate(1 day)")
    with pytest.raises(ValidationException, match="Arn"):
        rules.put_targets("r", [{"Id": "1", "Arn": recorder}, {"Id": "2", "Arn": "nope"}])
    with pytest.raises(ValidationException, match="Input must be valid JSON"):
        rules.put_targets("r", [{"Id": "1", "Arn": recorder, "Input": "{not json"}])
    assert rules.list_targets_by_rule("r") == []


# -- the EventBridge API on the edge, with boto3 --------------------------------------------


def test_boto3_drives_rules_on_the_edge(lab: Lab, clock: VirtualClock, recorder: str,
                                        edge: Any) -> None:
    events = client_for(edge.url, "events")
    arn = events.put_rule(Name="noon", ScheduleExpression="cron(0 12 * * ? *)")["RuleArn"]
    assert arn == f"arn:aws:events:us-east-1:{lab.arns.account_id}:rule/noon"
    result = events.put_targets(Rule="noon", Targets=[{"Id": "fn", "Arn": recorder}])
    assert result["FailedEntryCount"] == 0
    described = events.describe_rule(Name="noon")
    assert described["ScheduleExpression"] == "cron(0 12 * * ? *)"
    assert described["State"] == "ENABLED"
    assert [r["Name"] for r in events.list_rules()["Rules"]] == ["noon"]
    targets = events.list_targets_by_rule(Rule="noon")["Targets"]
    assert targets == [{"Id": "fn", "Arn": recorder}]

    clock.advance(DAY)
    assert len(fired(lab, "tick")) == 1

    events.disable_rule(Name="noon")
    assert events.describe_rule(Name="noon")["State"] == "DISABLED"
    events.enable_rule(Name="noon")

    with pytest.raises(ClientError) as refused:
        events.delete_rule(Name="noon")
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    events.remove_targets(Rule="noon", Ids=["fn"])
    events.delete_rule(Name="noon")
    with pytest.raises(events.exceptions.ResourceNotFoundException):
        events.describe_rule(Name="noon")


def test_boto3_sees_aws_errors(edge: Any) -> None:
    events = client_for(edge.url, "events")
    with pytest.raises(ClientError) as bad:
        events.put_rule(Name="bad", ScheduleExpression="cron(0 12 * * * *)")
    assert bad.value.response["Error"] == {
        "Code": "ValidationException",
        "Message": "Parameter ScheduleExpression is not valid.",
    }
    with pytest.raises(events.exceptions.ResourceNotFoundException):
        events.put_targets(Rule="missing", Targets=[{"Id": "1", "Arn": "arn:aws:lambda:x"}])
    with pytest.raises(events.exceptions.LimitExceededException):
        events.put_rule(Name="many", ScheduleExpression="rate(1 day)")
        fn = "arn:aws:lambda:us-east-1:000000000000:function:f"
        events.put_targets(Rule="many", Targets=[{"Id": str(i), "Arn": fn} for i in range(6)])


# -- the lab --------------------------------------------------------------------------------


def test_lab_check_explains_the_sunday_trap(tmp_path: Path) -> None:
    from lambdalab.course import runner as labs

    course = labs.load_course()
    lab = next(info for info in course.labs if info.folder == "11-schedules")
    work = tmp_path / "work"
    work.mkdir()
    solution = Path(__file__).parent / "labs" / "solutions" / "11-schedules" / "deploy.py"
    (work / "deploy.py").write_text(solution.read_text().replace("MON-FRI", "1-5"))
    result = labs.run_check(lab, work)
    assert not result.passed
    assert "Sun 03:30" in result.got and "Fri" not in result.got
    assert "1-7 from SUNDAY" in result.try_next


def test_cli_puts_rules_and_targets_and_lists_them(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from lambdalab.cli.app import main

    runner = CliRunner()
    base = ["--data-dir", str(tmp_path / "data"), "schedule"]
    ok = runner.invoke(main, base + ["put-rule", "noon", "cron(0 12 * * ? *)"])
    assert ok.exit_code == 0, ok.output
    assert "arn:aws:events:us-east-1:000000000000:rule/noon" in ok.output
    assert runner.invoke(main, base + ["put-targets", "noon", "tick"]).exit_code == 0
    listed = runner.invoke(main, base + ["list"])
    assert "cron(0 12 * * ? *)" in listed.output and "function:tick" in listed.output
    bad = runner.invoke(main, base + ["put-rule", "bad", "rate(1 minutes)"])
    assert bad.exit_code != 0
    assert "ValidationException: Parameter ScheduleExpression is not valid." in bad.output
    refused = runner.invoke(main, base + ["delete-rule", "noon"])
    assert "has targets" in refused.output
    assert runner.invoke(main, base + ["delete-rule", "noon", "--remove-targets"]).exit_code == 0
