"""Two threads destroying one environment at once: an invoke that lost it and the lab
closing, say. Each backend's ``destroy`` must then close the environment's pipes once:
a second ``close`` of a number the first one freed closes whatever file took that
number meanwhile (the edge's listening socket, once, in CI: "connection refused").
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Callable, Iterator

import psutil
import pytest

from lambdalab import Lab

from .conftest import ECHO
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

