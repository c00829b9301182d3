"""The one timer an environment keeps on an event loop for its awaited invokes (issue 21).

An awaited invoke used to make a timer for its timeout (and, for ``limited``, one for
the governor's ticks) and cancel it when the answer came. Now the environment's
readers on the loop hold one timer: an invoke moves its deadline on, and the timer,
set for an earlier deadline, is set again when it fires. These tests hold the count of
timers, and that a timeout still ends the invoke whatever timer was set before it.
"""

from __future__ import annotations

import asyncio
import time

from lambdalab import Lab
from lambdalab.plugin import InvokeRequest

from .conftest import ECHO

SLOW = """
import time

def handler(event, context):
    if event.get("sleep"):
        time.sleep(event["sleep"])
    return "done"
"""


class CountingLoop(asyncio.SelectorEventLoop):
    """An asyncio loop that counts the timers made on it (``call_later`` ends here too)."""

    timers = 0

    def call_at(self, when, callback, *args, context=None):  # type: ignore[no-untyped-def, override]
        self.timers += 1
        return super().call_at(when, callback, *args, context=context)


def warm_env(lab: Lab, name: str):  # type: ignore[no-untyped-def]
    (pooled,) = [p for p in lab.pool.idle_environments() if p.function_name == name]
    return pooled.env


def request(name: str, event: bytes, timeout_s: float) -> InvokeRequest:
    return InvokeRequest(
        "c0ffee00-0000-4000-8000-000000000000", event,
        f"arn:aws:lambda:us-east-1:123456789012:function:{name}",
        int(time.time() * 1000) + int(timeout_s * 1000), timeout_s,
    )


def test_awaited_invokes_of_one_environment_share_one_timer(lab: Lab, code) -> None:
    """200 awaited invokes made 200 timers (and cancelled them) before; now the one the
    first invoke set serves them all, since none lasts until its deadline."""
    lab.create_function("echo", code(app=ECHO), handler="app.handler", sandbox="subprocess")
    lab.invoke("echo", {})
    env = warm_env(lab, "echo")
    env.spin_policy.spin_s = 0  # every invoke awaits its answer on the loop
    loop = CountingLoop()

    async def invokes() -> list[str]:
        return [(await env.invoke_async(request("echo", b"{}", 60.0))).status for _ in range(200)]

    try:
        assert loop.run_until_complete(invokes()) == ["ok"] * 200
    finally:
        loop.close()
    assert loop.timers <= 2


def test_a_shorter_timeout_than_the_timer_set_still_ends_the_invoke(lab: Lab, code) -> None:
    """The timer set for an hour-long deadline is set again, earlier, for an invoke whose
    deadline comes sooner: it times out after its own second, not the hour."""
    lab.create_function("slow", code(app=SLOW), handler="app.handler", sandbox="subprocess")
    lab.invoke("slow", {})
    env = warm_env(lab, "slow")
    env.spin_policy.spin_s = 0
    loop = CountingLoop()

    async def invokes() -> tuple[str, str]:
        first = await env.invoke_async(request("slow", b"{}", 3600.0))
        second = await asyncio.wait_for(
            env.invoke_async(request("slow", b'{"sleep": 120}', 1.0)), timeout=60
        )
        return first.status, second.status

    try:
        assert loop.run_until_complete(invokes()) == ("ok", "timeout")
    finally:
        loop.close()


def test_a_timeout_after_many_quick_invokes_is_reported_from_the_kept_timer(
    lab: Lab, code
) -> None:
    """Invokes that answered moved the deadline on while the first timer waited; the
    invoke that runs over its own timeout is still ended by it (the timer fires early,
    finds a later deadline, and is set again until that one passes)."""
    lab.create_function("slow", code(app=SLOW), handler="app.handler", sandbox="subprocess",
                        timeout=1)
    lab.invoke("slow", {})

    async def invokes() -> list[str]:
        quick = [(await lab.invoke_async("slow", b"{}")).status_code for _ in range(50)]
        slow = await asyncio.wait_for(lab.invoke_async("slow", b'{"sleep": 120}'), timeout=60)
        return [str(code) for code in quick] + [slow.json()["errorMessage"]]

    loop = CountingLoop()
    try:
        answers = loop.run_until_complete(invokes())
    finally:
        loop.close()
    assert answers[:50] == ["200"] * 50
    assert "Task timed out after 1.00 seconds" in answers[50]
