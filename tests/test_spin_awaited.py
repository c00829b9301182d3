"""The core's spin for a runtime's answer never holds an event loop that awaits other
invokes: their answers, and the requests behind them, would wait for it (issue 21)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from lambdalab import Lab
from lambdalab.runtime.protocol import SpinPolicy

from .test_invoke_async import WAIT_FOR


class Asking(SpinPolicy):
    """A policy that always says a spin pays, and counts how often it was asked."""

    asked = 0

    def should_spin(self) -> bool:
        Asking.asked += 1
        return True


def test_the_loop_never_spins_while_it_awaits_another_invoke(lab: Lab, code, rendezvous: Path) -> None:
    lab.create_function("wait", code(app=WAIT_FOR), handler="app.handler", timeout=10)

    def pair(a: Path, b: Path):
        """Two invokes each waiting for the other's file: both are awaited at once."""
        return asyncio.gather(
            lab.invoke_async("wait", {"touch": str(a), "for": str(b), "wait": 5}),
            lab.invoke_async("wait", {"touch": str(b), "for": str(a), "wait": 5}),
        )

    async def warm_then_measure():
        await pair(rendezvous / "a0", rendezvous / "b0")  # two warm environments
        idle = [entry.env for entry in lab.pool.idle_environments()]
        assert len(idle) == 2
        for env in idle:
            env.spin_policy = Asking(peer_pid=env.pid)
        return await pair(rendezvous / "a1", rendezvous / "b1")

    results = asyncio.run(warm_then_measure())
    assert [r.json() for r in results] == ["met", "met"]
    # The first invoke may spin (its loop awaits nothing else); the second is sent while
    # the first is awaited, so its spin is never even considered.
    assert Asking.asked == 1
