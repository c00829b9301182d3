"""Two threads destroying one environment at once: an invoke that lost it and the lab
closing, say. Each backend's ``destroy`` must then close the environment's pipes once:
a second ``close`` of a number the first one freed closes whatever file took that
number meanwhile (the edge's listening socket, once, in CI: "connection refused").
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Callable, Iterator

import psutil
import pytest

from lambdalab import Lab

from .conftest import ECHO
from .test_cgroup import needs_cgroups
from .test_runtime_api import BASH_BOOTSTRAP, needs_curl, runtime_code  # noqa: F401  (fixture)

ROUNDS = 20


class Churn:
    """A thread that keeps opening a pipe, using it and closing it: a destroy that
    closes a descriptor twice closes one of these sooner or later (the kernel hands out
    the lowest free number), and its next use fails with EBADF."""

    def __init__(self) -> None:
        self.errors: list[OSError] = []
        self.rounds = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="churn", daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            r, w = os.pipe()
            try:
                os.write(w, b"x")
                assert os.read(r, 1) == b"x"
                os.close(r)
                os.close(w)
            except OSError as e:  # one of ours was closed by someone else
                self.errors.append(e)
            self.rounds += 1

    def __enter__(self) -> "Churn":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


@pytest.fixture
def function(request: pytest.FixtureRequest, lab: Lab, code: Callable[..., Path],
             runtime_code: Callable[..., Path]) -> Iterator[str]:  # noqa: F811
    sandbox = request.param
    if sandbox == "runtime-api":
        lab.create_function("fn", runtime_code(BASH_BOOTSTRAP), runtime="provided.al2023",
                            handler="function.handler")
    else:
        lab.create_function("fn", code(app=ECHO), handler="app.handler", sandbox=sandbox)
    yield "fn"


@pytest.mark.parametrize("function", ["subprocess", "limited",
                                      pytest.param("cgroup", marks=needs_cgroups),
                                      pytest.param("runtime-api", marks=needs_curl)],
                         indirect=True)
def test_two_threads_destroying_one_environment_close_no_other_file(lab: Lab, function: str) -> None:
    config = lab.registry.get(function, "$LATEST")
    failures: list[BaseException] = []
    gone: list[int] = []
    with Churn() as churn:
        for _ in range(ROUNDS):
            assert lab.invoke(function, {"n": 1}).function_error is None
            pooled = lab.pool.take_warm(lab.pool.key_of(config))
            assert pooled is not None
            start = threading.Barrier(2)

            def destroy() -> None:
                start.wait()
                try:
                    pooled.env.destroy()
                except BaseException as e:  # noqa: BLE001 - the test reports it
                    failures.append(e)

            threads = [threading.Thread(target=destroy) for _ in range(2)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            gone.append(pooled.env.pid)  # type: ignore[attr-defined]
            lab.pool.give_back(pooled, healthy=False)  # a third destroy: nothing left to do
            lab.pool.leave(function)
    assert failures == []
    assert churn.errors == [] and churn.rounds > 0
    assert not [pid for pid in gone if psutil.pid_exists(pid)
                and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE]



SLEEPER = """
import pathlib, time

def handler(event, context):
    pathlib.Path(event["marker"]).touch()
    time.sleep(60)
"""


@pytest.mark.parametrize("sandbox", ["subprocess", "limited",
                                     pytest.param("cgroup", marks=needs_cgroups)])
def test_a_destroy_under_an_invoke_leaves_the_pipes_to_it(
        lab: Lab, code: Callable[..., Path], rendezvous: Path, sandbox: str) -> None:
    """The lab closing destroys environments whose invokes run on other threads: the
    runtime dies at once, but the pipes stay open until the invoke is done with them
    (closed under it, their numbers would be another file's by the time it reads)."""
    lab.create_function("sleeper", code(app=SLEEPER), handler="app.handler", timeout=120,
                        sandbox=sandbox)
    marker = rendezvous / "started"
    with Churn() as churn:
        answer: list[object] = []
        invoking = threading.Thread(
            target=lambda: answer.append(lab.invoke("sleeper", {"marker": str(marker)})))
        invoking.start()
        while not marker.exists():  # the handler is running: the invoke reads its pipes
            assert invoking.is_alive(), answer
            time.sleep(0.01)
        busy = [p for p in lab.pool.busy_environments() if p.env.spec.function_name == "sleeper"]
        assert len(busy) == 1
        busy[0].env.destroy()
        assert not psutil.pid_exists(busy[0].env.pid) or psutil.Process(  # type: ignore[attr-defined]
            busy[0].env.pid).status() == psutil.STATUS_ZOMBIE  # type: ignore[attr-defined]
        invoking.join()
    env = busy[0].env
    assert env._conn.closed and not env._log.open  # type: ignore[attr-defined]  # closed after it
    result = answer[0]
    assert result.function_error == "Unhandled"  # type: ignore[attr-defined]
    assert result.json()["errorType"] == "Runtime.ExitError"  # type: ignore[attr-defined]
    assert churn.errors == []
