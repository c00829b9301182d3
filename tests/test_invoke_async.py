"""``Lab.invoke_async``: the same invoke path, driven from an event loop (the edge's).

The handler's answer is awaited (readers on the environment's pipes, loop timers for the
timeout and the limited backend's governor), so these tests check that everything the
blocking path does still happens when nothing blocks: cold starts, errors, timeouts,
crashes, large logs, concurrent invokes on one loop, the CPU share, and cancellation.
"""

from __future__ import annotations

import asyncio
import base64
import json
import shutil
import threading
from pathlib import Path

import pytest
import uvloop

from lambdalab import Lab, TooManyRequestsException

from .conftest import ECHO
from .test_limited import SPIN

WAIT_FOR = """
import os, time

def handler(event, context):
    if "touch" in event:
        open(event["touch"], "w").close()
    deadline = time.monotonic() + event.get("wait", 0)
    while event.get("for") and not os.path.exists(event["for"]):
        if time.monotonic() > deadline:
            return "gave up"
        time.sleep(0.005)
    return "met"
"""

CHATTY = """
def handler(event, context):
    for i in range(event["lines"]):
        print(f"line {i} " + "x" * 100)
    return event["lines"]
"""


def tail(result) -> str:
    return base64.b64decode(result.log_result).decode()


def test_cold_then_warm_as_the_blocking_path_answers(lab: Lab, code) -> None:
    lab.create_function("echo", code(app=ECHO), handler="app.handler")

    async def twice():
        cold = await lab.invoke_async("echo", {"n": 1}, log_type="Tail")
        warm = await lab.invoke_async("echo", {"n": 2}, log_type="Tail")
        return cold, warm

    cold, warm = asyncio.run(twice())
    assert (cold.status_code, cold.json(), cold.executed_version) == (200, {"n": 1}, "$LATEST")
    assert "Init Duration" in tail(cold) and "Init Duration" not in tail(warm)
    assert warm.json() == {"n": 2} and "REPORT RequestId: " + warm.request_id in tail(warm)
    assert lab.invoke("echo", {"n": 3}).json() == {"n": 3}  # the same warm environment
    assert len(lab.pool.idle_environments()) == 1


def test_event_dry_run_and_errors_come_back_the_same(lab: Lab, code) -> None:
    lab.create_function("echo", code(app=ECHO), handler="app.handler")
    boom = "def handler(e, c):\n    raise ValueError('boom')\n"
    lab.create_function("boom", code(app=boom), handler="app.handler")

    async def calls():
        return (
            await lab.invoke_async("echo", {}, invocation_type="DryRun"),
            await lab.invoke_async("echo", {}, invocation_type="Event"),
            await lab.invoke_async("boom", {}),
            await lab.invoke_async("boom", {}),
        )

    dry, event, cold_error, warm_error = asyncio.run(calls())
    assert (dry.status_code, event.status_code) == (204, 202)
    for result in (cold_error, warm_error):
        assert result.function_error == "Unhandled"
        assert result.json()["errorType"] == "ValueError"


def test_timeout_and_crash_are_reported_and_the_environment_replaced(lab: Lab, code) -> None:
    lab.create_function("wait", code(app=WAIT_FOR), handler="app.handler", timeout=1)
    # a token per environment (a confined handler is pid 2 of its own PID namespace)
    crash = ("import os, uuid\nTOKEN = uuid.uuid4().hex\ndef handler(e, c):\n"
             "    os._exit(3) if e.get('exit') else None\n    return TOKEN\n")
    lab.create_function("crash", code(app=crash), handler="app.handler")

    async def calls():
        await lab.invoke_async("wait", {})  # warm: the next one is awaited
        timed_out = await lab.invoke_async("wait", {"for": "/nonexistent", "wait": 30})
        first = (await lab.invoke_async("crash", {})).json()
        crashed = await lab.invoke_async("crash", {"exit": True})
        second = (await lab.invoke_async("crash", {})).json()
        return timed_out, first, crashed, second

    timed_out, first, crashed, second = asyncio.run(calls())
    assert timed_out.function_error == "Unhandled"
    assert "Task timed out after 1.00 seconds" in timed_out.json()["errorMessage"]
    assert crashed.json()["errorType"] == "Runtime.ExitError"
    assert "exit status 3" in crashed.json()["errorMessage"]
    assert first != second  # a new environment after the crash


def test_logs_larger_than_the_pipe_are_read_while_waiting(lab: Lab, code) -> None:
    lab.create_function("chatty", code(app=CHATTY), handler="app.handler", timeout=10)

    async def calls():
        await lab.invoke_async("chatty", {"lines": 1})
        return await lab.invoke_async("chatty", {"lines": 3000}, log_type="Tail")

    result = asyncio.run(calls())
    assert result.json() == 3000  # ~300 KB of log: the runtime was never blocked on it
    assert "line 2999 " in tail(result)


def test_two_invokes_are_awaited_at_once_on_one_loop(lab: Lab, code, rendezvous: Path) -> None:
    """Each waits for a file the other creates: only concurrent waits let both finish."""
    lab.create_function("wait", code(app=WAIT_FOR), handler="app.handler", timeout=10)
    a, b = rendezvous / "a", rendezvous / "b"

    async def calls():
        await asyncio.gather(lab.invoke_async("wait", {}), lab.invoke_async("wait", {}))
        return await asyncio.gather(
            lab.invoke_async("wait", {"touch": str(a), "for": str(b), "wait": 5}),
            lab.invoke_async("wait", {"touch": str(b), "for": str(a), "wait": 5}),
        )

    first, second = asyncio.run(calls())
    assert (first.json(), second.json()) == ("met", "met")


def test_throttling_raises_before_anything_runs(lab: Lab, code) -> None:
    lab.create_function("echo", code(app=ECHO), handler="app.handler")
    lab.put_function_concurrency("echo", 0)
    with pytest.raises(TooManyRequestsException):
        asyncio.run(lab.invoke_async("echo", {}))




@pytest.mark.timing
def test_the_governor_ticks_from_the_loop(lab: Lab, code) -> None:
    """An upper bound on CPU per wall second: load only takes CPU away from the spin."""
    lab.create_function(
        "spin", code(app=SPIN), handler="app.handler", memory_size=128, timeout=10,
        sandbox="limited",
    )

    async def calls():
        before = await lab.invoke_async("spin", {"seconds": 0})
        return before, await lab.invoke_async("spin", {"seconds": 0.6})

    before, result = asyncio.run(calls())
    assert result.function_error is None
    # 7.2 % of 0.6 s is 43 ms (the runtime's process_time() before and after); unheld, 600+.
    assert result.json() - before.json() < 0.6 * 0.25, json.dumps(result.json())


def test_a_cancelled_invoke_discards_its_environment(lab: Lab, code, rendezvous: Path) -> None:
    lab.create_function("wait", code(app=WAIT_FOR), handler="app.handler", timeout=30)

    async def cancel_one():
        await lab.invoke_async("wait", {})
        task = asyncio.create_task(
            lab.invoke_async("wait", {"for": str(rendezvous / "never"), "wait": 30})
        )
        for _ in range(3):  # the task runs up to its wait for the answer, then yields
            await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(cancel_one())
    assert lab.pool.idle_environments() == []  # not put back half-used
    assert lab.invoke("wait", {}).json() == "met"  # a new one serves the next invoke


LOGS_THEN_WAITS = """
import os, time

def handler(event, context):
    print("waiting for", event.get("for"))
    deadline = time.monotonic() + 25  # only a held loop, never a loaded machine, takes this long
    while event.get("for") and not os.path.exists(event["for"]):
        if time.monotonic() > deadline:
            return "gave up"
        time.sleep(0.005)
    return "met"
"""


def test_a_handler_that_logs_and_then_waits_does_not_hold_the_loop(
    lab: Lab, code, rendezvous: Path
) -> None:
    """Its log line arrives while the core polls briefly for a quick answer; seeing it
    must not turn the wait into a blocking one, or the invoke that would release it
    could never start."""
    lab.create_function("logs", code(app=LOGS_THEN_WAITS), handler="app.handler", timeout=30,
                        memory_size=1769)
    lab.create_function("wait", code(app=WAIT_FOR), handler="app.handler", timeout=30)
    released = rendezvous / "released"

    async def calls():
        await asyncio.gather(lab.invoke_async("logs", {}), lab.invoke_async("wait", {}))
        for _ in range(20):  # warm and quick: the core polls briefly for the next answer
            await lab.invoke_async("logs", {})
        first = asyncio.create_task(lab.invoke_async("logs", {"for": str(released)}))
        await asyncio.sleep(0)  # the first invoke is sent and waits
        second = await lab.invoke_async("wait", {"touch": str(released)})
        return await first, second

    first, second = asyncio.run(calls())
    assert (first.json(), second.json()) == ("met", "met")


class CountingLoop(asyncio.SelectorEventLoop):
    """The standard event loop, counting the readers put on it."""

    added = 0

    def add_reader(self, fd, callback, *args):
        self.added += 1
        return super().add_reader(fd, callback, *args)


def test_a_warm_environment_keeps_its_readers_on_the_loop_between_invokes(
    lab: Lab, code
) -> None:
    """Readers added and removed for every invoke were a large share of the edge's CPU
    per warm invoke: they are put on the loop once per environment."""
    lab.create_function("echo", code(app=ECHO), handler="app.handler")
    lab.invoke("echo", {})  # warm

    async def ten():
        return [(await lab.invoke_async("echo", {"n": n})).json() for n in range(10)]

    with asyncio.Runner(loop_factory=CountingLoop) as runner:
        assert runner.run(ten()) == [{"n": n} for n in range(10)]
        assert runner.get_loop().added <= 2  # the frame pipe and the log pipe


@pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed")
def test_a_runtime_api_environment_puts_no_reader_on_the_loop(lab: Lab, tmp_path: Path) -> None:
    """The Runtime API backend (``lambdalab_runtimes``: Node.js, ``provided.*``) answers
    through its HTTP server's threads, not through readers on the caller's loop: ten
    warm awaited invokes put none there (the subprocess backend's kept readers,
    above, are the other way to the same end)."""
    root = tmp_path / "js"
    root.mkdir()
    (root / "index.js").write_text("exports.handler = async (event) => event;\n")
    lab.create_function("node", root, runtime="nodejs20.x", handler="index.handler",
                        sandbox="runtime-api")
    lab.invoke("node", {})  # warm

    async def ten():
        return [(await lab.invoke_async("node", {"n": n})).json() for n in range(10)]

    with asyncio.Runner(loop_factory=CountingLoop) as runner:
        assert runner.run(ten()) == [{"n": n} for n in range(10)]
        assert runner.get_loop().added == 0


def test_kept_readers_leave_with_their_environment_whatever_thread_ends_it(
    lab: Lab, code
) -> None:
    """An environment ended from another thread while the loop runs (a deleted function)
    has its readers taken off on the loop's thread before its pipes close: a loop that
    kept them would fail on the next pipe given the same numbers. A blocking invoke on
    another thread between two awaited ones leaves the loop sound too."""
    lab.create_function("echo", code(app=ECHO), handler="app.handler")

    async def scenario():
        first = await lab.invoke_async("echo", {"n": 1})
        await asyncio.to_thread(lab.invoke, "echo", {"n": 2})  # its answer wakes the reader
        second = await lab.invoke_async("echo", {"n": 3})
        # Ended while the loop is busy: it sees neither the process die nor the pipes close.
        ender = threading.Thread(target=lab.delete_function, args=("echo",))
        ender.start()
        ender.join()
        for _ in range(3):  # the loop takes the readers off, then the pipes close
            await asyncio.sleep(0)
        lab.create_function("echo2", code(app=ECHO), handler="app.handler")
        third = await lab.invoke_async("echo2", {"n": 4})  # pipes on the reused numbers
        fourth = await lab.invoke_async("echo2", {"n": 5})
        return [r.json() for r in (first, second, third, fourth)]

    assert uvloop.run(scenario()) == [{"n": 1}, {"n": 3}, {"n": 4}, {"n": 5}]  # the edge's loop
    assert lab.invoke("echo2", {"n": 6}).json() == {"n": 6}
