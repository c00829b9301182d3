"""Check for lab 8: reserved concurrency caps a function; throttled calls retry."""

import contextlib
import tempfile
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
    show,
    unique_name,
)

APP = '''import time


def handler(event, context):
    time.sleep(event.get("seconds", 0))
    return {"slept": event.get("seconds", 0)}
'''
CAP = 2
BURST = 4
BUSY_S = 0.6


def check(workdir: Path):
    script = require_file(workdir, "deploy.py")
    module = load_learner_module(script)
    for needed in ("protect", "call_with_retry"):
        if not callable(getattr(module, needed, None)):
            raise CheckFailed(
                f"deploy.py has no {needed}() function.",
                expected=f"def {needed}(...) as in the starter",
                got=f"no function named {needed}",
                try_next="restore it from the starter and fill in its TODO",
            )
    with tempfile.TemporaryDirectory() as tmp, fresh_lab() as lab:
        (Path(tmp) / "app.py").write_text(APP)
        name = unique_name("orders")
        deploy(lab, name, Path(tmp), "app.handler", timeout=10)

        for _ in range(10):  # one at a time: concurrency 1, however fast they come
            lab.invoke(name, {"seconds": 0})

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
        ran, throttled = burst(lab, name)
        if (ran, len(throttled)) != (CAP, BURST - CAP):
            raise CheckFailed(
                f"{BURST} invokes at once did not split {CAP} run / {BURST - CAP} throttled.",
                expected=f"{CAP} ran, {BURST - CAP} throttled",
                got=f"{ran} ran, {len(throttled)} throttled",
                try_next="report this as a bug in lambdalab's concurrency admission",
            )
        busy = occupy(lab, name, CAP)
        started = time.monotonic()
        try:
            result = call_learner(
                script,
                module.call_with_retry,
                lab,
                name,
                {"seconds": 0},
                what="call_with_retry(lab, name, payload)",
                advice={
                    "TooManyRequestsException": "the function was busy, so the invoke was "
                    "throttled before it ran. Catch TooManyRequestsException, "
                    "time.sleep(delay), double delay, and try again"
                },
            )
        finally:
            for thread in busy:
                thread.join()
        waited = time.monotonic() - started
        if not hasattr(result, "status_code"):
            raise CheckFailed(
                "call_with_retry() did not return the invoke's result.",
                expected="the InvokeResult of the invoke that got through",
                got=show(result),
                try_next="return lab.invoke(name, payload) from inside the try",
            )
        expect_success(result, "when call_with_retry got through")
    return passed(
        "Reserved concurrency caps the function, and throttled calls back off and retry.",
        f"{BURST} at once with reserved concurrency {CAP}: {ran} ran, {len(throttled)} got "
        f"TooManyRequestsException ({throttled[0]})",
        "10 invokes one after another: none throttled (concurrency is not a rate)",
        f"with both slots busy, call_with_retry got through after {waited:.2f} s",
    )


def burst(lab, name: str) -> tuple[int, list[str]]:
    """Fire BURST invokes at the same moment; count those that ran and those throttled."""
    gate = threading.Barrier(BURST)
    ran: list[int] = []
    throttled: list[str] = []
    errors: list[str] = []

    def one() -> None:
        gate.wait()
        try:
            lab.invoke(name, {"seconds": 0.4})
            ran.append(1)
        except TooManyRequestsException as e:
            throttled.append(e.extra.get("Reason", e.message))
        except Exception as e:  # reported through the counts, never as a traceback
            errors.append(f"{type(e).__name__}: {e}")

    threads = [threading.Thread(target=one) for _ in range(BURST)]
    for thread in threads:
        thread.start()
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


def occupy(lab, name: str, slots: int) -> list[threading.Thread]:
    """Start ``slots`` long invokes in the background; return once they are running."""
    def hold() -> None:
        with contextlib.suppress(Exception):
            lab.invoke(name, {"seconds": BUSY_S})

    threads = [threading.Thread(target=hold) for _ in range(slots)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 2
    while lab.pool.in_use(name) < slots and time.monotonic() < deadline:
        time.sleep(0.005)
    return threads
