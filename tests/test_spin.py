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

from lambdalab import Lab
from lambdalab.runtime.protocol import SPIN_BACKOFF_MAX, SpinPolicy, runnable_tasks, spin_pays

from .conftest import ECHO

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
