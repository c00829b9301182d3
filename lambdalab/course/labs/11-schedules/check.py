"""Check for lab 11: a week on the virtual clock, five weekday runs at 03:30 UTC."""

import json
import tempfile
from datetime import datetime, timezone
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
    unique_name,
)

REPORT = '''import json


def handler(event, context):
    print("REPORT-RUN " + json.dumps(event))
'''
#: Monday 1 January 2024, 00:00 UTC.
MONDAY = datetime(2024, 1, 1, tzinfo=timezone.utc).timestamp()
WEEK = 7 * 86_400
EXPECTED = [f"2024-01-0{day}T03:30:00Z" for day in range(1, 6)]


def runs(lab, name):
    return [
        json.loads(e.message[len("REPORT-RUN "):])
        for e in lab.get_logs(name)
        if e.message.startswith("REPORT-RUN ")
    ]


def weekday(stamp):
    return datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").strftime("%a %H:%M")


def schedule_advice(got: list) -> str:
    days = [weekday(t) for t in got if t != "?"]
    if len(days) > 5:
        return "it ran at weekends too: a rate, or a cron with no day-of-week, runs every " \
            "day. cron(minutes hours day-of-month month day-of-week year) limits the days"
    if any(d.startswith("Sun") for d in days):
        return "AWS numbers days 1-7 from SUNDAY; MON-FRI says what you mean"
    if len(days) == 5 and all(not d.startswith(("Sat", "Sun")) for d in days):
        return "the right days at the wrong time: cron runs in UTC, not your local time; " \
            "minutes come first, then hours"
    return "cron(minutes hours day-of-month month day-of-week year), one day field ?"


def check(workdir: Path):
    script = require_file(workdir, "deploy.py")
    module = load_learner_module(script)
    require_functions(script, module, ("schedule(lab, function_arn)",))
    clock = VirtualClock(start=MONDAY)
    with tempfile.TemporaryDirectory() as tmp, fresh_lab(clock=clock) as lab:
        (Path(tmp) / "app.py").write_text(REPORT)
        name = unique_name("report")
        deploy(lab, name, Path(tmp), "app.handler")
        call_learner(script, module.schedule, lab, lab.arns.function(name),
                     what="schedule(lab, function_arn)")
        clock.advance(WEEK)
        lab.wait_for_events(timeout=60)
        got = sorted(event.get("time", "?") for event in runs(lab, name)
                     if isinstance(event, dict))
        if got != EXPECTED:
            raise CheckFailed(
                "The report did not run at 03:30 UTC on each weekday, and only then.",
                expected=", ".join(weekday(t) for t in EXPECTED),
                got=", ".join(weekday(t) if t != "?" else t for t in got) or "no runs",
                try_next=schedule_advice(got),
            )
    return passed(
        "The nightly report runs on weekdays at 03:30 UTC.",
        f"{len(got)} runs in a week: " + ", ".join(weekday(t) for t in got),
        "each invoked asynchronously with a Scheduled Event whose time is the firing time",
    )
