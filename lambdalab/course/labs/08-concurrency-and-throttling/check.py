"""Check for lab 8: reserved concurrency caps a function; throttled calls back off.

Deterministic: the burst's two running invokes hold their slots until the check lets
them go (a file appears), and call_with_retry() runs against a function whose
concurrency the check controls, with ``time.sleep`` in deploy.py replaced by a recorder
that waits no real time: the check sees every delay the learner asked for, and lifts
the throttle after the third wait.
"""

import threading
import time
from pathlib import Path

from lambdalab import TooManyRequestsException
from lambdalab.labs import (
    CheckFailed,
    call_learner,
    deploy,
    expect_success,
    fresh_lab,
    load_learner_module,
    passed,
    require_file,
    require_functions,
    shared_folder,
    show,
    unique_name,
)

APP = '''import os
import time


def handler(event, context):
    while event.get("hold") and not os.path.exists(event["hold"]):
        time.sleep(0.01)
    return {"held": bool(event.get("hold"))}
'''
CAP = 2
BURST = 4
FIRST_DELAY_S = 0.1
#: The retry scenario: the throttle lifts after this many waits, and the second call
#: gets this many attempts, all throttled.
LIFT_AFTER_WAITS = 3
ATTEMPTS = 4
#: A retry loop that has waited this often without giving up never will.
RUNAWAY_WAITS = 50
SETTLE_S = 20  # at most this long for the burst's invokes to be admitted or throttled


class Runaway(BaseException):
    """The learner's retry loop kept going far past its attempts (a BaseException, so
    that neither the learner's ``except Exception`` nor call_learner catches it)."""


class Clock:
    """Stands in for ``time`` (or ``time.sleep``) in the learner's deploy.py: records
    each wait and waits no real time; after ``lift_after`` waits it calls ``lift``."""

    def __init__(self, lift_after=None, lift=None):
        self.waits, self.lift_after, self.lift = [], lift_after, lift

    def sleep(self, seconds):
        self.waits.append(seconds)
        if len(self.waits) > RUNAWAY_WAITS:
            raise Runaway()
        if self.lift is not None and len(self.waits) == self.lift_after:
            self.lift()

    def __getattr__(self, name):
        return getattr(time, name)


class CountingLab:
    """The lab the learner's call_with_retry gets: counts invokes and how each ended."""

    def __init__(self, lab):
        self._lab, self.outcomes = lab, []

    def invoke(self, *args, **kwargs):
        try:
            result = self._lab.invoke(*args, **kwargs)
        except TooManyRequestsException:
            self.outcomes.append("throttled")
            raise
        self.outcomes.append(result)
        return result

    def __getattr__(self, name):
        return getattr(self._lab, name)


def with_clock(module, clock):
    """Point deploy.py's ``time`` (or its ``sleep``) at ``clock``."""
    for attr, value in list(vars(module).items()):
        if value is time or isinstance(value, Clock):
            setattr(module, attr, clock)
        elif value is time.sleep or isinstance(getattr(value, "__self__", None), Clock):
            setattr(module, attr, clock.sleep)


def check(workdir: Path):
    script = require_file(workdir, "deploy.py")
    module = load_learner_module(script)
    require_functions(script, module, ("protect", "call_with_retry"),
                      try_next="restore it from the starter and fill in its TODO")
    with shared_folder() as tmp, fresh_lab() as lab:
        (Path(tmp) / "app.py").write_text(APP)
        name = unique_name("orders")
        deploy(lab, name, Path(tmp), "app.handler", timeout=10)

        for _ in range(10):  # one at a time: concurrency 1, however fast they come
            lab.invoke(name, {})

        call_learner(script, module.protect, lab, name, what="protect(lab, name)")
        reserved = lab.get_function_concurrency(name)
        if reserved != CAP:
            raise CheckFailed(
                "The function's concurrency is not capped at 2.",
                expected=f"reserved concurrency {CAP}",
                got="none (the function may use the whole account's concurrency)"
                if reserved is None
                else f"reserved concurrency {reserved}",
                try_next=f"in protect(): lab.put_function_concurrency(name, {CAP})",
            )
        ran, throttled = burst(lab, name, Path(tmp))
        if (ran, len(throttled)) != (CAP, BURST - CAP):
            raise CheckFailed(
                f"{BURST} invokes at once did not split {CAP} run / {BURST - CAP} throttled.",
                expected=f"{CAP} ran, {BURST - CAP} throttled",
                got=f"{ran} ran, {len(throttled)} throttled",
                try_next="report this as a bug in lambdalab's concurrency admission",
            )
        waits = check_retry_gets_through(script, module, lab, name)
        check_retry_gives_up(script, module, lab, name)
    return passed(
        "Reserved concurrency caps the function, and throttled calls back off and retry.",
        f"{BURST} at once with reserved concurrency {CAP}: {ran} ran, {len(throttled)} got "
        f"TooManyRequestsException ({throttled[0]})",
        "10 invokes one after another: none throttled (concurrency is not a rate)",
        f"throttled, call_with_retry waited {', '.join(f'{w:g} s' for w in waits)} and got "
        f"through; throttled for good, it gave up after {ATTEMPTS} attempts and raised",
    )


def first_delay(module) -> float:
    """The first wait the exercise asks for (the check's own number: a learner who set
    the starter's FIRST_DELAY_S to 0 would otherwise never wait)."""
    return FIRST_DELAY_S


def retry(script, module, lab, name, clock, counting=None, **kwargs):
    """Run the learner's call_with_retry with ``clock`` for time; (result, outcomes)."""
    with_clock(module, clock)
    counting = counting or CountingLab(lab)
    try:
        result = call_learner(
            script,
            lambda: module.call_with_retry(counting, name, {}, **kwargs),
            what="call_with_retry(lab, name, payload)",
            advice={
                "TooManyRequestsException": "the function was throttled, before it ran. "
                "Catch TooManyRequestsException, time.sleep(delay), double delay, and "
                "try again",
            },
        )
    except Runaway:
        raise CheckFailed(
            "call_with_retry() never gives up.",
            expected=f"at most `attempts` tries (here {ATTEMPTS})",
            got=f"still retrying after {RUNAWAY_WAITS} waits",
            try_next="loop `for attempt in range(attempts)`, not `while True`; after the "
            "last attempt, raise the error",
        ) from None
    return result, counting.outcomes


def expect_backoff(module, waits: list, attempts: int) -> None:
    """The waits between attempts: FIRST_DELAY_S, then twice as long each time."""
    wanted = [first_delay(module) * 2**k for k in range(attempts - 1)]
    got = [round(w, 6) if isinstance(w, (int, float)) else w for w in waits]
    if got[: len(wanted)] == [round(w, 6) for w in wanted] and len(got) <= attempts:
        return
    if not waits:
        advice = "it retried at once, without waiting: a throttled function is still " \
            "busy a moment later. time.sleep(delay) between attempts"
    elif all(w == 0 for w in got):
        advice = f"it slept 0 s, which is no wait at all: start with FIRST_DELAY_S " \
            f"({wanted[0]:g} s), then double it"
    elif len(set(got)) == 1 and len(got) > 1:
        advice = f"it waited {got[0]:g} s every time: the wait must double after each " \
            "throttle (exponential backoff), so a crowd of retrying callers thins out"
    elif got[0] != round(wanted[0], 6):
        advice = f"start with FIRST_DELAY_S ({wanted[0]:g} s), then double it"
    else:
        advice = "double the wait after each throttle: delay *= 2"
    raise CheckFailed(
        "call_with_retry() did not back off exponentially.",
        expected=f"waits of {', '.join(f'{w:g}' for w in wanted)} s between {attempts} attempts",
        got=f"waits of {', '.join(f'{w:g}' for w in got)} s" if got else "no wait at all",
        try_next=advice,
    )


def check_retry_gets_through(script, module, lab, name) -> list:
    """Throttled (reserved concurrency 0) until the third wait lifts it: must get through."""
    lab.put_function_concurrency(name, 0)
    clock = Clock(LIFT_AFTER_WAITS, lambda: lab.put_function_concurrency(name, CAP))
    counting = CountingLab(lab)
    try:
        result, outcomes = retry(script, module, lab, name, clock, counting)
    except CheckFailed:
        if len(counting.outcomes) > 1:  # it retried: name a wrong wait, if that is it
            expect_backoff(module, clock.waits, LIFT_AFTER_WAITS + 1)
        raise
    finally:
        lab.put_function_concurrency(name, CAP)
    got_through = [o for o in outcomes if o != "throttled"]
    if not hasattr(result, "status_code"):
        raise CheckFailed(
            "call_with_retry() did not return the invoke's result.",
            expected="the InvokeResult of the invoke that got through",
            got=show(result),
            try_next="return the result of lab.invoke(name, payload) from inside the try"
            if got_through
            else "keep trying until an invoke gets through, and return its result",
        )
    expect_success(result, "when call_with_retry got through")
    expect_backoff(module, clock.waits, LIFT_AFTER_WAITS + 1)
    if len(outcomes) != LIFT_AFTER_WAITS + 1:
        raise CheckFailed(
            "call_with_retry() did not invoke once per attempt.",
            expected=f"{LIFT_AFTER_WAITS} throttled invokes, then one that got through",
            got=f"{len(outcomes)} invokes",
            try_next="one lab.invoke per attempt, and stop as soon as one gets through",
        )
    return clock.waits


def check_retry_gives_up(script, module, lab, name) -> None:
    """Throttled for good: ``attempts`` tries, then the last error is raised."""
    lab.put_function_concurrency(name, 0)
    clock = Clock()
    try:
        try:
            result, outcomes = retry(script, module, lab, name, clock, attempts=ATTEMPTS)
        except CheckFailed as failure:
            if failure.summary.startswith("call_with_retry(lab, name, payload) raised "
                                          "TooManyRequestsException"):
                result, outcomes = "raised", None
            else:
                raise
    finally:
        lab.put_function_concurrency(name, CAP)
    if result != "raised":
        raise CheckFailed(
            f"call_with_retry(..., attempts={ATTEMPTS}) returned while every attempt "
            "was throttled.",
            expected="the last TooManyRequestsException, raised",
            got=f"it returned {show(result)}",
            try_next="after the last attempt, raise the error (a bare `raise` in the "
            "except, on the last attempt): returning None hides the throttle from the "
            "caller",
        )
    expect_backoff(module, clock.waits, ATTEMPTS)
    tries = len(clock.waits) + 1
    if len(clock.waits) not in (ATTEMPTS - 1, ATTEMPTS):
        raise CheckFailed(
            "call_with_retry() did not honour its attempts argument.",
            expected=f"{ATTEMPTS} attempts for attempts={ATTEMPTS}",
            got=f"about {tries} attempts",
            try_next="loop `for attempt in range(attempts)`",
        )


def burst(lab, name: str, tmp: Path) -> tuple[int, list[str]]:
    """Fire BURST invokes at once; those admitted hold their slot until all are counted."""
    release = tmp / "release"
    gate = threading.Barrier(BURST)
    ran: list[int] = []
    throttled: list[str] = []
    errors: list[str] = []

    def one() -> None:
        gate.wait()
        try:
            lab.invoke(name, {"hold": str(release)})
            ran.append(1)
        except TooManyRequestsException as e:
            throttled.append(e.extra.get("Reason", e.message))
        except Exception as e:  # reported through the counts, never as a traceback
            errors.append(f"{type(e).__name__}: {e}")

    threads = [threading.Thread(target=one) for _ in range(BURST)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + SETTLE_S
    while (len(throttled) + len(errors) + lab.pool.in_use(name) < BURST
           and time.monotonic() < deadline and any(t.is_alive() for t in threads)):
        time.sleep(0.005)  # real processes starting: no clock to advance
    release.touch()
    for thread in threads:
        thread.join()
    if errors:
        raise CheckFailed(
            f"{BURST} invokes at once failed in lambdalab itself.",
            expected="each invoke to run or be throttled",
            got=errors[0],
            try_next="report this as a bug in lambdalab",
        )
    return len(ran), throttled
