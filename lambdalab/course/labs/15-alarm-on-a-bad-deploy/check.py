"""Check for lab 15: the learner's CloudWatch alarm on the errors of alias ``live``
catches a bad deploy, and only a bad deploy, and its action rolls the alias back.

Everything runs on a virtual clock, one minute at a time: alarms are evaluated at each
minute of the lab's clock, so no wall-clock time passes between minutes. The traffic is
built so that each plausible wrong alarm shows itself in its own minute: single errors
of a healthy version (a threshold too low), a developer's failing invokes of
``$LATEST`` (the function's errors rather than the alias's), quiet minutes without any
invocation (missing data treated as breaching), and a bad deploy that fails every
invoke (which must fire within DEADLINE_MIN minutes and roll back).
"""

import contextlib
import tempfile
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
from lambdalab.server import EdgeServer
from lambdalab_cloudwatch import alarms, cloudwatch

GOOD = '''def handler(event, context):
    if event.get("unlucky"):
        raise RuntimeError("the payment service timed out")
    return {"ok": True}
'''
BAD = '''def handler(event, context):
    raise KeyError("price")
'''
#: The rollback function the alarm's action invokes: on ALARM, live goes back to the
#: stable version. boto3 reaches the lab's Lambda through AWS_ENDPOINT_URL.
ROLLBACK = '''import os

import boto3

client = boto3.client("lambda")


def handler(event, context):
    if event["alarmData"]["state"]["value"] == "ALARM":
        client.update_alias(FunctionName=os.environ["TARGET"], Name="live",
                            FunctionVersion=os.environ["STABLE"])
'''
#: Invokes of alias live in each minute.
PER_MINUTE = 4
#: The minutes before the bad deploy: (invokes of live, of which fail, failing invokes
#: of $LATEST). A healthy function fails now and then, even two minutes in a row; a
#: developer tries new code on $LATEST; at night nobody calls.
BEFORE = (
    (PER_MINUTE, 0, 0), (PER_MINUTE, 1, 0), (PER_MINUTE, 0, 0),
    (PER_MINUTE, 0, PER_MINUTE), (PER_MINUTE, 1, PER_MINUTE), (PER_MINUTE, 1, 0),
    (0, 0, 0), (0, 0, 0), (0, 0, 0), (PER_MINUTE, 0, 0),
)
LATEST_MINUTES = {m for m, (_, _, latest) in enumerate(BEFORE) if latest}
QUIET_MINUTES = {m for m, (live, _, _) in enumerate(BEFORE) if not live}
NOISY_MINUTES = {m for m, (_, failed, _) in enumerate(BEFORE) if failed}
#: The alarm must go to ALARM within this many minutes of the bad deploy.
DEADLINE_MIN = 5
START = 1_700_000_040  # a whole minute


def check(workdir: Path):
    script = require_file(workdir, "alarm.py")
    module = load_learner_module(script)
    require_functions(script, module, ("watch(lab, name, rollback_arn)",))
    with contextlib.ExitStack() as stack:
        tmp = stack.enter_context(tempfile.TemporaryDirectory())
        lab = stack.enter_context(fresh_lab(clock=VirtualClock(start=START)))
        stack.enter_context(EdgeServer(lab, port=0))  # the rollback's boto3 reaches it
        name = unique_name("shop")
        good, bad, back = Path(tmp) / "good", Path(tmp) / "bad", Path(tmp) / "rollback"
        for folder, code in ((good, GOOD), (bad, BAD), (back, ROLLBACK)):
            folder.mkdir()
            (folder / "app.py").write_text(code)
        deploy(lab, name, good, "app.handler")
        stable = lab.publish_version(name).version
        lab.create_alias(name, "live", stable)
        rollback = unique_name("rollback")
        deploy(lab, rollback, back, "app.handler", timeout=30,
               environment={"TARGET": name, "STABLE": stable})
        call_learner(script, module.watch, lab, name, lab.arns.function(rollback),
                     what="watch(lab, name, rollback_arn)")
        alarm = the_alarm(lab, name)
        for minute, (live, failed, latest) in enumerate(BEFORE):
            traffic(lab, name, live, failed, latest)
            alarm = after_a_minute(lab, alarm)
            if alarm.state_value == "ALARM":
                raise fired_too_soon(alarm, name, minute)
        lab.update_function_code(name, str(bad))
        broken = lab.publish_version(name).version
        lab.update_alias(name, "live", function_version=broken)
        for minute in range(1, DEADLINE_MIN + 1):
            traffic(lab, name, PER_MINUTE, 0, 0)
            alarm = after_a_minute(lab, alarm)
            if alarm.state_value == "ALARM":
                break
        else:
            raise never_fired(lab, alarm, name)
        serving = lab.get_alias(name, "live").function_version
        if serving != stable:
            raise not_rolled_back(alarm, lab.arns.function(rollback), serving)
        return passed(
            "Your alarm caught the bad deploy, and only it, and rolled live back.",
            f"quiet through {len(BEFORE)} healthy minutes: single errors in minutes "
            f"{sorted(NOISY_MINUTES)}, $LATEST failing in minutes {sorted(LATEST_MINUTES)}, "
            f"no traffic in minutes {sorted(QUIET_MINUTES)}",
            f"ALARM {minute} minute{'s' if minute > 1 else ''} after version {broken} went "
            f"live; live is back on version {stable}",
            f"aws cloudwatch describe-alarm-history --alarm-name {alarm.name} "
            "shows each change",
        )


def the_alarm(lab, name: str):
    found = alarms(lab).every()
    if not found:
        raise CheckFailed(
            "watch() created no alarm.",
            expected="one CloudWatch alarm after watch(lab, name, rollback_arn)",
            got="no alarm",
            try_next="alarms(lab).put_metric_alarm({...}) creates one, with the same "
            "parameters as PutMetricAlarm on AWS",
        )
    alarm = found[0]
    if (alarm.namespace, alarm.metric_name) != ("AWS/Lambda", "Errors"):
        raise CheckFailed(
            "The alarm watches another metric.",
            expected="the Errors metric of namespace AWS/Lambda",
            got=f"{alarm.metric_name} of namespace {alarm.namespace}",
            try_next="Lambda publishes the invocations that end in an error as Errors, "
            "in the AWS/Lambda namespace",
        )
    return alarm


def traffic(lab, name: str, live: int, failed: int, latest: int) -> None:
    for n in range(live):
        lab.invoke(name, {"unlucky": n < failed}, qualifier="live")
    for _ in range(latest):
        lab.invoke(name, {"unlucky": True})  # unqualified: $LATEST


def after_a_minute(lab, alarm):
    lab.clock.advance(60)  # the alarm is evaluated at the minute's end
    lab.wait_for_events(timeout=60)  # its action is an asynchronous invoke
    return alarms(lab).describe_alarms([alarm.name])[0]


def fired_too_soon(alarm, name: str, minute: int) -> CheckFailed:
    live = ("Resource", f"{name}:live")
    failure = "The alarm went to ALARM before the bad deploy."
    expected = "no ALARM while live serves the healthy version"
    looked_at = set(range(minute - alarm.evaluation_periods + 1, minute + 1))
    if looked_at & LATEST_MINUTES and live not in alarm.dimensions:
        return CheckFailed(
            failure, expected=expected,
            got=f"ALARM in minute {minute}, when live failed at most once a minute but a "
            f"developer's invokes of $LATEST failed {PER_MINUTE} times a minute in minutes "
            f"{sorted(LATEST_MINUTES)}",
            try_next="under the FunctionName dimension alone the Errors metric counts every "
            "version and alias of the function, $LATEST too; the errors of alias live "
            f"are published under FunctionName and Resource (\"{name}:live\")",
        )
    if looked_at & QUIET_MINUTES and alarm.treat_missing_data == "breaching":
        return CheckFailed(
            failure, expected=expected,
            got=f"ALARM in minute {minute}, a quiet minute with no invocation at all "
            f"(TreatMissingData {alarm.treat_missing_data})",
            try_next="Lambda publishes no Errors data point in a minute without invocations: "
            "the data is missing. Decide what a missing minute counts as with "
            "TreatMissingData; a quiet minute is not a failing one",
        )
    return CheckFailed(
        failure, expected=expected,
        got=f"ALARM in minute {minute}: the healthy version failed one invoke in minutes "
        f"{sorted(NOISY_MINUTES)}, and your alarm is too twitchy for that noise "
        f"(Threshold {alarm.threshold:g}, {alarm.datapoints_to_alarm} of "
        f"{alarm.evaluation_periods} periods of {alarm.period} s)",
        try_next="an alarm that fires on one error pages someone for nothing: ask for "
        "several minutes in a row that breach (EvaluationPeriods and DatapointsToAlarm), "
        "or more errors in a minute than a healthy function makes",
    )


def never_fired(lab, alarm, name: str) -> CheckFailed:
    end = lab.clock.now()
    seen = cloudwatch(lab).statistics(
        alarm.namespace, alarm.metric_name, alarm.dimensions, end - DEADLINE_MIN * 60, end,
        alarm.period, [alarm.statistic] if not alarm.statistic.startswith("p") else [],
        [alarm.statistic] if alarm.statistic.startswith("p") else [])
    values = [p.values.get(alarm.statistic, 0.0) for p in seen]
    failure = f"The alarm did not go to ALARM within {DEADLINE_MIN} minutes of the bad deploy."
    expected = f"ALARM within {DEADLINE_MIN} minutes, while live failed every invoke"
    if not values:
        return CheckFailed(
            failure, expected=expected,
            got=f"no data at all for the dimensions {show(dict(alarm.dimensions))}",
            try_next="the errors of alias live are published under two dimensions, "
            f"FunctionName (\"{name}\") and Resource (\"{name}:live\")",
        )
    return CheckFailed(
        failure, expected=expected,
        got=f"the alarm saw {alarm.statistic} {', '.join(f'{v:g}' for v in values)} a minute "
        f"and waits for {alarm.datapoints_to_alarm} of {alarm.evaluation_periods} periods "
        f"{alarm.comparison_operator} {alarm.threshold:g}; state {alarm.state_value}",
        try_next=f"the bad version fails each of its {PER_MINUTE} invokes a minute: a "
        "threshold it cannot reach, or more breaching minutes than the deadline allows, "
        "never fires in time",
    )


def not_rolled_back(alarm, rollback_arn: str, serving: str) -> CheckFailed:
    where = ("it is in the alarm's OKActions, which run when the alarm goes back to OK"
             if rollback_arn in alarm.ok_actions else
             "it is not among the alarm's AlarmActions" if rollback_arn not in alarm.alarm_actions
             else "the alarm's actions are disabled" if not alarm.actions_enabled
             else "the action did not run")
    return CheckFailed(
        "The alarm went to ALARM, but nothing rolled live back.",
        expected="the rollback function invoked, and live back on the healthy version",
        got=f"live still on version {serving}: {where}",
        try_next="an alarm does something only through its actions: AlarmActions lists "
        "the ARNs to run when it goes to ALARM (a Lambda function's ARN invokes it)",
    )
