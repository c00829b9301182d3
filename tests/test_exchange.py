"""The serve side of a warm awaited invoke's exchange with its environment (issue 21).

An awaited invoke reads its answer in the loop's reader for the frame pipe (one read,
no poll first), and reads the log pipe only when the loop saw something written to it:
these tests hold the read count per invoke, and that nothing this saves costs a log
line, the order of the lines, a large answer, a crash or a blocking invoke after.
"""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path

import pytest
import uvloop

from lambdalab import Lab

from .conftest import ECHO

LOOPS = {"uvloop": uvloop.new_event_loop, "asyncio": asyncio.new_event_loop}

NUMBERED = """
import sys

def handler(event, context):
    print(f"invoke {event['n']} begins")
    sys.stdout.write(f"invoke {event['n']} ends with no newline")
    return event["n"]
"""

LARGE = """
def handler(event, context):
    return "x" * event["size"]
"""

CRASH = """
import os

def handler(event, context):
    if event.get("crash"):
        print("about to go")
        os._exit(3)
    return "alive"
"""


def read_syscalls() -> int:
    """Read system calls this thread has made (``syscr`` of ``/proc/thread-self/io``;
    it counts the ones that found nothing to read too)."""
    with open("/proc/thread-self/io") as io:
        for line in io:
            if line.startswith("syscr:"):
                return int(line.split()[1])
    raise AssertionError("no syscr in /proc/thread-self/io")


def tail(result) -> str:
    return base64.b64decode(result.log_result).decode()


def run(make_loop, coroutine):
    loop = make_loop()
    try:
        return loop.run_until_complete(coroutine)
    finally:
        loop.close()


@pytest.mark.parametrize("loop_name", sorted(LOOPS))
def test_a_warm_awaited_invoke_of_a_silent_handler_makes_one_read(
    lab: Lab, code, loop_name: str
) -> None:
    """The answer's read, and none of the log pipe (it had nothing): 2.0 reads per
    invoke before (the answer, and a read of the empty log pipe told EAGAIN)."""
    lab.create_function("echo", code(app=ECHO), handler="app.handler", sandbox="subprocess")
    lab.invoke("echo", {})
    for pooled in lab.pool.idle_environments():
        pooled.env.spin_policy.spin_s = 0  # no /proc/loadavg readings, however loaded

    async def invokes(count: int) -> int:
        for _ in range(20):
            await lab.invoke_async("echo", b"{}")
        before = read_syscalls()
        for _ in range(count):
            await lab.invoke_async("echo", b"{}")
        return read_syscalls() - before

    count = 200
    reads = run(LOOPS[loop_name], invokes(count))
    assert reads / count < 1.5, f"{reads} reads for {count} invokes"


@pytest.mark.parametrize("loop_name", sorted(LOOPS))
def test_each_awaited_invoke_gets_its_own_lines_complete_and_in_order(
    lab: Lab, code, loop_name: str
) -> None:
    """Lines written just before the answer, the last with no newline, belong to
    their invoke: none is left in the pipe for the next one."""
    lab.create_function("numbered", code(app=NUMBERED), handler="app.handler",
                        sandbox="subprocess")

    async def invokes():
        return [await lab.invoke_async("numbered", {"n": n}, log_type="Tail")
                for n in range(60)]

    for n, result in enumerate(run(LOOPS[loop_name], invokes())):
        assert result.json() == n
        lines = tail(result).splitlines()
        mine = [line for line in lines if line.startswith("invoke ")]
        assert mine == [f"invoke {n} begins", f"invoke {n} ends with no newline"], lines
        assert lines.index(mine[-1]) < next(
            i for i, line in enumerate(lines) if line.startswith("END RequestId"))


def test_a_large_answer_awaited_then_a_blocking_invoke_on_the_same_environment(
    lab: Lab, code
) -> None:
    """The frame pipe stays non-blocking once a loop watched it: an answer larger than
    the pipe holds is read in parts, and a blocking invoke after it sends and reads as
    before."""
    lab.create_function("large", code(app=LARGE), handler="app.handler", sandbox="subprocess")
    size = 5 * 1024 * 1024

    async def invokes():
        small = await lab.invoke_async("large", {"size": 1})
        return small, await lab.invoke_async("large", {"size": size})

    small, large = run(uvloop.new_event_loop, invokes())
    assert small.json() == "x" and large.json() == "x" * size
    blocking = lab.invoke("large", {"size": size, "pad": "y" * (1024 * 1024)})
    assert blocking.json() == "x" * size
    assert len(lab.pool.idle_environments()) == 1


def test_a_crash_in_an_awaited_invoke_keeps_its_last_line(lab: Lab, code) -> None:
    lab.create_function("crash", code(app=CRASH), handler="app.handler", sandbox="subprocess")

    async def invokes():
        alive = await lab.invoke_async("crash", {})
        return alive, await lab.invoke_async("crash", {"crash": True}, log_type="Tail")

    alive, crashed = run(uvloop.new_event_loop, invokes())
    assert alive.json() == "alive"
    assert crashed.function_error == "Unhandled"
    assert crashed.json()["errorType"] == "Runtime.ExitError"
    assert "about to go" in tail(crashed)
    assert lab.invoke("crash", {}).json() == "alive"  # a new environment
