"""The core's spin for a runtime's answer never holds up other invokes of the process:
on an event loop that awaits them, their answers and the requests behind them would
wait for it; on other threads, the interpreter lock they need (issue 21: with four
threads invoking, spins on cost 7-22 % of the throughput with spins off)."""

from __future__ import annotations

import asyncio
import http.client
import threading
from pathlib import Path

from lambdalab import Lab
from lambdalab.runtime.protocol import SpinPolicy
from lambdalab.server import EdgeServer, runner

from .conftest import wait_until
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


def test_no_thread_spins_while_another_thread_awaits_an_invoke(
    lab: Lab, code, rendezvous: Path
) -> None:
    lab.create_function("wait", code(app=WAIT_FOR), handler="app.handler", timeout=10)
    lab.create_function("quick", code(app=WAIT_FOR), handler="app.handler")
    lab.invoke("quick", {})
    (quick,) = [entry.env for entry in lab.pool.idle_environments()]
    quick.spin_policy = Asking(peer_pid=quick.pid)
    Asking.asked = 0
    started, go = rendezvous / "started", rendezvous / "go"
    held = threading.Thread(
        target=lab.invoke, args=("wait", {"touch": str(started), "for": str(go), "wait": 10})
    )
    held.start()
    try:
        assert wait_until(started.exists)  # "wait" is awaited until ``go`` exists
        for _ in range(5):
            assert lab.invoke("quick", {}).json() == "met"
        assert Asking.asked == 0
    finally:
        go.touch()
        held.join()
    assert lab.invoke("quick", {}).json() == "met"
    assert Asking.asked == 1  # alone again: it may spin


def test_the_loop_and_threads_never_spin_while_the_other_awaits_an_invoke(
    lab: Lab, code, rendezvous: Path
) -> None:
    """One count for the whole process: an event loop's spin would hold the interpreter
    lock a thread waiting for its answer needs, and a thread's the loop's."""
    lab.create_function("wait", code(app=WAIT_FOR), handler="app.handler", timeout=10)
    lab.create_function("quick", code(app=WAIT_FOR), handler="app.handler")
    lab.invoke("quick", {})
    lab.invoke("wait", {})  # warm: the loop below awaits its answer, no thread waits
    (quick,) = [e.env for e in lab.pool.idle_environments() if e.key[0] == "quick"]
    quick.spin_policy = Asking(peer_pid=quick.pid)

    def on_a_loop(function: str, event: dict) -> object:
        return asyncio.run(lab.invoke_async(function, event)).json()

    def on_this_thread(function: str, event: dict) -> object:
        return lab.invoke(function, event).json()

    for turn, (holder, invoke) in enumerate(
        ((on_this_thread, on_a_loop), (on_a_loop, on_this_thread))
    ):
        Asking.asked = 0
        started, go = rendezvous / f"started{turn}", rendezvous / f"go{turn}"
        held = threading.Thread(
            target=holder, args=("wait", {"touch": str(started), "for": str(go), "wait": 10})
        )
        held.start()
        try:
            assert wait_until(started.exists)  # "wait" is awaited until ``go`` exists
            for _ in range(5):
                assert invoke("quick", {}) == "met"
            assert Asking.asked == 0
        finally:
            go.touch()
            held.join()
        assert on_a_loop("quick", {}) == "met"
        assert Asking.asked == 1  # alone again: it may spin


def test_the_edge_never_spins_for_an_answer_while_another_client_sends_requests(
    lab: Lab, code, monkeypatch
) -> None:
    """A loop that spins holds up the requests of every other connection, which may be
    arriving meanwhile (under four keep-alive clients, the spins cost the edge 6-10 % of
    its requests/s): so no spin once another client was answered within the window. An
    idle pooled connection, answered long ago, does not count; nor do the client's own
    answers. The window is widened and narrowed here so that no timing decides."""
    lab.create_function("quick", code(app=WAIT_FOR), handler="app.handler")
    path = "/2015-03-31/functions/quick/invocations"

    def invoke(connection: http.client.HTTPConnection) -> None:
        connection.request("POST", path, body=b"{}")
        response = connection.getresponse()
        assert (response.status, response.read()) == (200, b'"met"')

    monkeypatch.setattr(runner, "CROWDED_WINDOW_S", 3600.0)
    with EdgeServer(lab, port=0).start() as server:
        host, port = server.url.removeprefix("http://").split(":")
        first, second = (http.client.HTTPConnection(host, int(port), timeout=30) for _ in range(2))
        invoke(first)  # a warm environment
        (quick,) = [entry.env for entry in lab.pool.idle_environments()]
        quick.spin_policy = Asking(peer_pid=quick.pid)
        Asking.asked = 0
        for _ in range(2):
            invoke(first)
        assert Asking.asked == 2  # its own answers do not count
        invoke(second)  # ``first`` was answered within the window: no spin
        for _ in range(3):
            invoke(first)
        assert Asking.asked == 2
        monkeypatch.setattr(runner, "CROWDED_WINDOW_S", 1e-9)  # ``second`` idles, answered long ago
        invoke(first)
        assert Asking.asked == 3
        first.close()
        second.close()
