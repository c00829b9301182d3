"""Busy-waiting between the core and a runtime only where it pays (issue 21)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Callable, Iterator, TypeVar

import pytest

import lambdalab_subprocess
from lambdalab import Lab
from lambdalab.runtime import protocol
from lambdalab.runtime.bootstrap import GAP_SPIN_MARGIN, GAP_SPIN_MAX_S, spin_after
from lambdalab.runtime.protocol import SPIN_BACKOFF_MAX, SpinPolicy, runnable_tasks, spin_pays

from .conftest import ECHO, wait_until

T = TypeVar("T")
linux_only = pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="Linux affinity")


def on_one_cpu(cpu: int, call: Callable[[], T]) -> T:
    """``call()`` on a thread pinned to ``cpu`` (affinity is per thread on Linux)."""
    result: list[T] = []
    thread = threading.Thread(target=lambda: (os.sched_setaffinity(0, {cpu}), result.append(call())))
    thread.start()
    thread.join()
    return result[0]


@pytest.fixture
def sleeper() -> Iterator[subprocess.Popen[bytes]]:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    yield child
    child.kill()
    child.wait()


@linux_only
def test_no_spin_for_a_peer_on_the_same_single_cpu(sleeper: subprocess.Popen[bytes]) -> None:
    cpu = min(os.sched_getaffinity(0))
    os.sched_setaffinity(sleeper.pid, {cpu})
    assert on_one_cpu(cpu, lambda: spin_pays(sleeper.pid)) is False
    assert on_one_cpu(cpu, lambda: SpinPolicy(sleeper.pid).should_spin()) is False


@linux_only
def test_no_spin_while_more_tasks_are_runnable_than_cpus() -> None:
    cores = len(os.sched_getaffinity(0))
    hogs = [
        subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(cores + 2)
    ]
    try:
        deadline = time.monotonic() + 30  # the hogs' interpreters start under load
        while runnable_tasks() <= cores + 1 and time.monotonic() < deadline:
            pass
        assert runnable_tasks() > cores
        assert spin_pays(0) is False
        assert SpinPolicy().should_spin() is False
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()


def test_spins_that_miss_back_off_and_one_that_catches_ends_it() -> None:
    policy = SpinPolicy()
    skipped = []
    for _ in range(8):
        policy.missed()
        skips = 0
        while policy._skip:
            assert policy.should_spin() is False
            skips += 1
        skipped.append(skips)
    assert skipped == [1, 2, 4, 8, 16, 32, 64, 64] and SPIN_BACKOFF_MAX == 64
    policy.caught()
    policy.missed()
    assert policy._skip == 1


def test_no_spin_when_spin_s_is_zero() -> None:
    assert SpinPolicy(spin_s=0.0).should_spin() is False


@linux_only
def test_pinned_to_one_cpu_with_its_environment_an_invoke_still_answers(
    tmp_path: Path,
) -> None:
    code = tmp_path / "code"
    code.mkdir()
    (code / "app.py").write_text(ECHO)
    with Lab(data_dir=tmp_path / "data") as lab:
        lab.create_function("echo", code, handler="app.handler", sandbox="subprocess")
        assert lab.invoke("echo", {"n": 0}).json() == {"n": 0}
        (entry,) = lab.pool.idle_environments()
        env = entry.env
        assert env.spin_policy.peer_pid == env.pid  # the core looks at its runtime's CPUs
        cpu = min(os.sched_getaffinity(0))
        os.sched_setaffinity(env.pid, {cpu})

        def invokes() -> list[object]:
            return [lab.invoke("echo", {"n": n}).json() for n in range(50)]

        assert on_one_cpu(cpu, invokes) == [{"n": n} for n in range(50)]
        assert on_one_cpu(cpu, lambda: spin_pays(env.pid)) is False


def test_the_runtime_spins_about_as_long_as_the_last_gap_and_not_past_a_millisecond() -> None:
    spin_s = 0.0002
    assert spin_after(0.00005, spin_s, False) == spin_s  # back to back: at least spin_s
    assert spin_after(0.0004, spin_s, False) == GAP_SPIN_MARGIN * 0.0004  # one HTTP client
    assert spin_after(0.0009, spin_s, False) == GAP_SPIN_MAX_S
    assert spin_after(GAP_SPIN_MAX_S * 1.01, spin_s, False) == 0.0  # a learner's pace
    assert spin_after(0.0001, 0.0, False) == 0.0  # a backend that asked for no spin
    assert spin_after(0.0001, spin_s, True) == 0.0  # the core has other work


def test_the_event_says_whether_the_core_is_busy() -> None:
    for busy in (False, True):
        framed = protocol.framed_request("r", "arn", 1, "cc", None, b"{}", "Root=1", busy)
        request = protocol.unpack_request(framed[4:])
        assert request.core_busy is busy
        assert (request.request_id, request.client_context, request.body, request.trace_id) == (
            "r", "cc", b"{}", "Root=1")
    assert protocol.unpack_request(
        protocol.framed_request("r", "arn", 1, None, None, b"")[4:]).core_busy is False


GATED = """
import os, time
def handler(event, context):
    open(event["gate"] + ".waiting", "w").close()
    while not os.path.exists(event["gate"]):
        time.sleep(0.01)
    return "opened"
"""


def test_a_runtime_whose_core_is_busy_does_not_spin_after_answering(
    tmp_path: Path, rendezvous: Path
) -> None:
    """The core says so in the event while it awaits another invoke, or while other
    clients' requests arrive; the runtime's answer then promises no poll after it."""
    echo, gated = tmp_path / "echo", tmp_path / "gated"
    for root, source in ((echo, ECHO), (gated, GATED)):
        root.mkdir()
        (root / "app.py").write_text(source)
    with Lab(data_dir=tmp_path / "data") as lab:
        lab.create_function("echo", echo, handler="app.handler", sandbox="subprocess")
        lab.create_function("gated", gated, handler="app.handler", sandbox="subprocess")
        lab.invoke("echo", {})
        (entry,) = lab.pool.idle_environments()

        token = protocol.CROWDED.set(True)  # as the edge sets it for a crowded request
        try:
            assert lambdalab_subprocess.core_busy() is True
            for n in range(20):
                assert lab.invoke("echo", {"n": n}).json() == {"n": n}
                assert entry.env.spin_until == 0.0
        finally:
            protocol.CROWDED.reset(token)

        gate = rendezvous / "gate"
        waiting = threading.Thread(target=lambda: lab.invoke("gated", {"gate": str(gate)}))
        waiting.start()
        try:
            assert wait_until(lambda: (rendezvous / "gate.waiting").exists())
            for n in range(20):  # sent while another invoke is awaited
                assert lab.invoke("echo", {"n": n}).json() == {"n": n}
                assert entry.env.spin_until == 0.0
        finally:
            gate.touch()
            waiting.join(60)
        assert not waiting.is_alive()
