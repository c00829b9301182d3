"""Check for lab 12: a trigger plugin invokes the functions that opted in, every minute."""

import contextlib
import json
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
    show,
    unique_name,
)

APP = '''import json


def handler(event, context):
    print(json.dumps(event))
    return "awake"
'''
BEAT_S = 60
START = 1_700_000_000
ADVICE = {
    "PluginValidationError": "name the hook's parameter exactly as the hook does: "
    "def lambdalab_lab_started(lab):",
    "ResourceNotFoundException": "invoke function.function_name, the name of a function "
    "lab.list_functions() gave you",
}


def check(workdir: Path):
    script = require_file(workdir, "heartbeat.py")
    plugin = load_learner_module(script)
    clock = VirtualClock(start=START)
    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as stack:
        lab = call_learner(
            script,
            stack.enter_context,
            fresh_lab(clock=clock, plugins=[plugin]),
            what="Lab(plugins=[heartbeat])",
            advice=ADVICE,
        )
        expect_the_hook(lab, plugin)
        invocation_types = record_invocation_types(lab)
        (Path(tmp) / "app.py").write_text(APP)
        pulse, quiet = unique_name("pulse"), unique_name("quiet")
        deploy(lab, pulse, Path(tmp), "app.handler", environment={"HEARTBEAT": "on"})
        deploy(lab, quiet, Path(tmp), "app.handler", environment={"HEARTBEAT": "off"})

        advance(script, clock, BEAT_S - 1)
        if received(lab, pulse):
            raise CheckFailed(
                "A heartbeat came before the first minute was up.",
                expected=f"no invoke in the first {BEAT_S - 1} s",
                got=show(received(lab, pulse)),
                try_next="schedule the first beat BEAT_S seconds from now: "
                "lab.clock.call_later(BEAT_S, ...), not at once",
            )
        advance(script, clock, 1)
        expect_beats(lab, pulse, 1)
        expect_untouched(lab, quiet)
        advance(script, clock, 2 * BEAT_S)
        expect_beats(lab, pulse, 3)
        expect_untouched(lab, quiet)
        expect_asynchronous(invocation_types)
    return passed(
        "Your trigger plugin wakes up the functions that ask for it, every minute.",
        "lambdalab called your lambdalab_lab_started when the lab started",
        f"after 59 s: no invoke; after 60 s: beat 1; after 180 s: beats 1, 2 and 3 for {pulse}",
        f"{quiet} (HEARTBEAT=off) was never invoked",
    )


def expect_the_hook(lab, plugin) -> None:
    hooks = sorted(caller.name for caller in lab.plugin_manager.get_hookcallers(plugin) or ())
    if "lambdalab_lab_started" not in hooks:
        raise CheckFailed(
            "lambdalab does not call your lambdalab_lab_started.",
            expected="lambdalab_lab_started among the hooks your plugin implements",
            got=f"hooks: {', '.join(hooks)}" if hooks else "no hooks: to lambdalab it is a plain function",
            try_next="put @lambdalab.hookimpl on the line above def lambdalab_lab_started(lab):",
        )


def record_invocation_types(lab) -> list:
    """Record the invocation type of every ``lab.invoke`` from now on (the plugin calls
    it on this very object)."""
    seen = []
    original = lab.invoke

    def invoke(function_name, payload=None, **options):
        seen.append(options.get("invocation_type", "RequestResponse"))
        return original(function_name, payload, **options)

    lab.invoke = invoke
    return seen


def expect_asynchronous(invocation_types: list) -> None:
    synchronous = [t for t in invocation_types if t != "Event"]
    if synchronous:
        raise CheckFailed(
            "The heartbeat invoked synchronously.",
            expected='every invoke with invocation_type="Event": a trigger queues the '
            "event and moves on",
            got=f"{len(synchronous)} of {len(invocation_types)} invokes as "
            f"{synchronous[0]}",
            try_next='pass invocation_type="Event" to lab.invoke: a synchronous invoke makes '
            "the trigger wait for each function (and a slow or failing one holds up the "
            "clock), and a failure is not retried as an async event is",
        )


def advance(script: Path, clock: VirtualClock, seconds: float) -> None:
    """Move the clock on; an error in the learner's timer code names their line."""
    call_learner(
        script,
        clock.advance,
        seconds,
        what=f"Your timer code, at {clock.now() + seconds - START:.0f} s of the lab's clock,",
        advice=ADVICE,
    )


def received(lab, name: str) -> list:
    """The events function ``name`` printed, in beat order, once queued events have run."""
    if not lab.wait_for_events(timeout=30):
        raise CheckFailed(
            "The heartbeat's invokes did not finish within 30 s.",
            expected="each asynchronous invoke to run in well under a second",
            got="events still queued after 30 s",
            try_next="report this as a bug in lambdalab",
        )
    events = [json.loads(e.message) for e in lab.get_logs(name) if e.message.startswith("{")]
    return sorted(events, key=lambda event: json.dumps(event, sort_keys=True))


def expect_beats(lab, name: str, count: int) -> None:
    wanted = [{"source": "heartbeat", "beat": n} for n in range(1, count + 1)]
    got = received(lab, name)
    if got == wanted:
        return
    minutes = f"{count} minute{'s' if count > 1 else ''}"
    if not got:
        try_next = (
            "in lambdalab_lab_started, schedule the first beat: "
            "lab.clock.call_later(BEAT_S, lambda: beat(lab, 1)); in beat(), invoke the "
            'functions whose function.environment.get("HEARTBEAT") == "on"'
        )
    elif got == wanted[:1]:
        try_next = "at the end of beat(), schedule the next one: " \
            "lab.clock.call_later(BEAT_S, lambda: beat(lab, number + 1))"
    elif all(isinstance(e, dict) and e.get("source") == "heartbeat" for e in got):
        try_next = "number the beats from 1: the first comes BEAT_S seconds after the lab " \
            "starts and is beat(lab, 1); each one schedules number + 1, once"
    else:
        try_next = 'invoke with exactly the event {"source": "heartbeat", "beat": number}'

    raise CheckFailed(
        f"The function with HEARTBEAT=on did not get the right heartbeats after {minutes}.",
        expected=show(wanted),
        got=show(got) if got else "no invoke at all",
        try_next=try_next,
    )


def expect_untouched(lab, name: str) -> None:
    starts = sum(e.message.startswith("START") for e in lab.get_logs(name))
    if starts:
        raise CheckFailed(
            "A function that did not opt in was invoked.",
            expected="no invoke of a function whose HEARTBEAT is not \"on\"",
            got=f"{starts} invoke{'s' if starts > 1 else ''} (its HEARTBEAT is \"off\")",
            try_next='invoke a function only if function.environment.get("HEARTBEAT") == "on"',
        )
