"""Concurrency, throttling, idle reaping and the plugin machinery around the pool."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

import lambdalab
from lambdalab import (
    InvalidParameterValueException,
    Lab,
    TooManyRequestsException,
    hookimpl,
)

from .conftest import ECHO, WHOAMI_APP, host_pid

BLOCKING = """
import os, pathlib, time
def handler(event, context):
    pathlib.Path(event["arrived"]).touch()
    while not pathlib.Path(event["gate"]).exists():
        time.sleep(0.005)
    return os.getpid()
"""


def start_blocked(lab: Lab, name: str, tmp: Path, n: int = 1) -> tuple[list[threading.Thread], Path]:
    """Start ``n`` invokes that stay inside the handler until the returned gate exists."""
    gate = tmp / f"gate-{name}"
    threads = []
    for i in range(n):
        arrived = tmp / f"arrived-{name}-{i}"
        event = {"gate": str(gate), "arrived": str(arrived)}
        t = threading.Thread(target=lab.invoke, args=(name, event))
        t.start()
        threads.append(t)
        while not arrived.exists():
            threading.Event().wait(0.005)
    return threads, gate


def release(threads: list[threading.Thread], gate: Path) -> None:
    gate.touch()
    for t in threads:
        t.join()


def test_reserved_zero_throttles_every_invoke(lab, code):
    lab.create_function("f", code(app=ECHO), handler="app.handler")
    assert lab.put_function_concurrency("f", 0) == 0
    with pytest.raises(TooManyRequestsException) as err:
        lab.invoke("f", {})
    assert err.value.message == "Rate Exceeded."
    assert err.value.extra["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded"
    assert err.value.status_code == 429
    lab.delete_function_concurrency("f")
    assert lab.invoke("f", {"ok": 1}).json() == {"ok": 1}


def test_reserved_concurrency_caps_parallel_executions(lab, code, rendezvous):
    lab.create_function("f", code(app=BLOCKING), handler="app.handler", timeout=30)
    lab.put_function_concurrency("f", 1)
    threads, gate = start_blocked(lab, "f", rendezvous)
    assert lab.pool.in_use("f") == 1
    with pytest.raises(TooManyRequestsException):
        lab.invoke("f", {"gate": str(gate), "arrived": str(rendezvous / "x")})
    release(threads, gate)
    assert lab.pool.in_use("f") == 0
    lab.invoke("f", {"gate": str(gate), "arrived": str(rendezvous / "y")})  # admitted again


def test_account_limit_throttles_unreserved_functions(tmp_path, code, rendezvous):
    with Lab(data_dir=tmp_path / "d", account_concurrency=102) as lab:
        lab.create_function("a", code(app=BLOCKING), handler="app.handler", timeout=30)
        lab.create_function("b", code(app=ECHO), handler="app.handler")
        lab.put_function_concurrency("b", 1)  # 101 left unreserved... minus b's 1
        with pytest.raises(InvalidParameterValueException, match=r"minimum value of \[100\]"):
            lab.put_function_concurrency("b", 3)
        lab2_limit = lab.get_account_settings()["AccountLimit"]["UnreservedConcurrentExecutions"]
        assert lab2_limit == 101
        lab.pool.account_limit = 2  # shrink the pool to see the unreserved limit bite
        threads, gate = start_blocked(lab, "a", rendezvous, n=1)
        with pytest.raises(TooManyRequestsException) as err:
            lab.invoke("a", {"gate": str(gate), "arrived": str(rendezvous / "z")})
        assert err.value.extra["Reason"] == "ConcurrentInvocationLimitExceeded"
        assert lab.invoke("b", {"reserved": "still runs"}).json() == {"reserved": "still runs"}
        release(threads, gate)


def test_bad_reserved_concurrency(lab, code):
    lab.create_function("f", code(app=ECHO), handler="app.handler")
    with pytest.raises(InvalidParameterValueException, match="ReservedConcurrentExecutions"):
        lab.put_function_concurrency("f", -1)


def test_idle_environments_are_reaped_by_the_clock(lab, code, clock):
    lab.create_function("f", code(app=WHOAMI_APP), handler="app.handler")
    first = lab.invoke("f").json()
    clock.advance(lab.pool.idle_ttl - 1)
    assert lab.invoke("f").json() == first  # warm: still there, and used again
    clock.advance(lab.pool.idle_ttl - 1)
    assert len(lab.pool.idle_environments()) == 1
    pid = host_pid(*first[:2])
    clock.advance(1)
    assert lab.pool.idle_environments() == []
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert lab.invoke("f", log_type="Tail").log_tail.count("Init Duration") == 1  # cold again


def test_updating_code_retires_warm_environments(lab, code):
    # Once the update is Successful (at once, by default), the first invoke starts a new
    # environment and the old one is retired (tests/test_fidelity_envs.py: not before).
    lab.create_function("f", code(app=WHOAMI_APP), handler="app.handler")
    first = lab.invoke("f").json()
    pid = host_pid(*first[:2])
    lab.update_function_configuration("f", description="new")
    assert lab.invoke("f").json()[2] != first[2]
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


class Recorder:
    """A plugin registered by hand: it watches cold starts and reports."""

    def __init__(self) -> None:
        self.started: list[tuple[str, str]] = []
        self.reports: list[lambdalab.InvokeReport] = []
        self.labs: list[Lab] = []

    @hookimpl
    def lambdalab_environment_started(self, function_name, version):
        self.started.append((function_name, version))

    @hookimpl
    def lambdalab_invoke_completed(self, report):
        self.reports.append(report)

    @hookimpl
    def lambdalab_lab_started(self, lab):
        self.labs.append(lab)


def test_hooks_see_cold_starts_and_reports(tmp_path, code):
    recorder = Recorder()
    with Lab(data_dir=tmp_path / "d", plugins=[recorder]) as lab:
        assert recorder.labs == [lab]
        lab.create_function("f", code(app=ECHO), handler="app.handler")
        lab.invoke("f", {})
        lab.invoke("f", {})
    assert recorder.started == [("f", "$LATEST")]
    assert [r.init_duration_ms is not None for r in recorder.reports] == [True, False]
    assert recorder.reports[0].function_name == "f"


def test_builtin_sandbox_is_an_entry_point_plugin(lab):
    info = {p.name: p for p in lab.plugins()}
    assert "subprocess" in info
    assert "entry point lambdalab_subprocess" in info["subprocess"].origin
    assert "lambdalab_sandbox_backends" in info["subprocess"].hooks
    assert "subprocess" in lab.sandbox_backends()


def test_plugins_env_var_restricts_entry_points(tmp_path, monkeypatch, code):
    monkeypatch.setenv("LAMBDALAB_PLUGINS", "nothing-by-this-name")
    with Lab(data_dir=tmp_path / "d") as lab:
        assert lab.plugins() == []
        lab.create_function("f", code(app=ECHO), handler="app.handler")
        with pytest.raises(InvalidParameterValueException, match="not a loaded sandbox backend"):
            lab.invoke("f", {})


class InlineEnvironment:
    """A toy backend for the test: runs the handler in this process (no isolation)."""

    def __init__(self, spec):
        import importlib.util

        self.spec = spec
        path = Path(spec.task_root, spec.handler.split(".")[0] + ".py")
        module_spec = importlib.util.spec_from_file_location("inline_handler", path)
        module = importlib.util.module_from_spec(module_spec)
        module_spec.loader.exec_module(module)
        self._handler = getattr(module, spec.handler.split(".")[1])
        self.init = lambdalab.InitOutcome(duration_ms=0.1)

    def invoke(self, request):
        import json

        result = self._handler(json.loads(request.payload), None)
        return lambdalab.InvokeOutcome("ok", json.dumps(result).encode(), 0.05, ["inline!"])

    def destroy(self):
        pass


class InlineBackend:
    name = "inline"

    def __init__(self, preload=()):
        pass

    def start(self, spec):
        return InlineEnvironment(spec)

    def close(self):
        pass


class InlinePlugin:
    @hookimpl
    def lambdalab_sandbox_backends(self):
        return [InlineBackend]


def test_a_third_party_backend_plugs_in(tmp_path, code):
    with Lab(data_dir=tmp_path / "d", plugins=[InlinePlugin()], default_sandbox="inline") as lab:
        lab.create_function("f", code(app=ECHO), handler="app.handler")
        result = lab.invoke("f", {"via": "inline"}, log_type="Tail")
        assert result.json() == {"via": "inline"}
        assert "inline!" in result.log_tail
        assert isinstance(lab.backends.for_function(lab.get_function_configuration("f")), InlineBackend)


def test_a_broken_plugin_is_skipped_with_a_warning(tmp_path, monkeypatch):
    import importlib.metadata

    from lambdalab.plugins import PluginLoadWarning

    real = importlib.metadata.entry_points
    broken = importlib.metadata.EntryPoint("broken", "no_such_module_xyz", "lambdalab")

    def entry_points(**kwargs):
        found = list(real(**kwargs))
        return found + [broken] if kwargs.get("group") == "lambdalab" else found

    monkeypatch.setattr(importlib.metadata, "entry_points", entry_points)
    with pytest.warns(PluginLoadWarning, match="'broken'.*no_such_module_xyz"):
        lab = Lab(data_dir=tmp_path / "d")
    with lab:
        names = {p.name for p in lab.plugins()}
        assert "subprocess" in names and "broken" not in names
