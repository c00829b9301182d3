"""Shared fixtures: a Lab on a fresh data dir, and a helper that writes handler code."""

from __future__ import annotations

import fcntl
import os
import shutil
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Callable, Iterator

import pytest

from lambdalab import Lab, VirtualClock
from lambdalab.cli.daemon import NO_DAEMON_ENV

# Every CLI command a test runs does its work in its own process: no test leaves a
# background server behind. tests/test_cli_warm.py turns them on, and stops them.
os.environ[NO_DAEMON_ENV] = "1"
# What `lambdalab --help` remembers of plugins' commands goes to a folder of the run's own,
# not the user's ~/.cache (lambdalab/cli/command_cache.py).
os.environ.setdefault("LAMBDALAB_CACHE_DIR", tempfile.mkdtemp(prefix="lambdalab-cache-"))


# -- a test module with the machine to itself ---------------------------------------------
# The suite runs in two worker processes (pytest-xdist). Every test holds a shared lock on
# one file for as long as it runs; a module that needs the machine to itself takes the
# lock exclusively, so the other worker waits between two of its tests until that module
# ends (tests/test_ray.py, ~30 s: its tests kill nodes and count on the head noticing
# within seconds, which the other worker's thousand-process trees and fork bombs on 2
# cores should not put at risk). In one process (`pytest -n 0`) nothing is locked.

_HOLDS_THE_MACHINE = False


def _machine_lock(tmp_path_factory: pytest.TempPathFactory) -> Path | None:
    """The lock file the workers of this run share; ``None`` without workers."""
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        return None
    # each worker's base temp is <the run's>/popen-gwN: the run's is the one they share
    return tmp_path_factory.getbasetemp().parent / "machine.lock"


@pytest.fixture(autouse=True)
def _share_the_machine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    path = _machine_lock(tmp_path_factory)
    if path is None or _HOLDS_THE_MACHINE:
        yield
        return
    with open(path, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_SH)  # waits while a module has the machine
        yield


#: Variables that make botocore in the test process send ``X-Amzn-Trace-Id`` (its
#: recursion detection, when it thinks it runs in Lambda): a test that left them set would
#: change what later tests' clients send, in whatever order the workers run the files.
_LAMBDA_ONLY = ("AWS_LAMBDA_FUNCTION_NAME", "_X_AMZN_TRACE_ID")
for _name in _LAMBDA_ONLY:  # nor may the shell the suite runs in (inside a function, say)
    os.environ.pop(_name, None)


@pytest.fixture(autouse=True)
def _no_lambda_variables_left_behind() -> Iterator[None]:
    before = {name: os.environ.get(name) for name in _LAMBDA_ONLY}
    yield
    after = {name: os.environ.get(name) for name in _LAMBDA_ONLY}
    assert after == before, f"the test left the test process's environment changed: {after}"


@pytest.fixture(scope="module")
def machine_to_itself(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """This module's tests run with no test of the other worker beside them."""
    global _HOLDS_THE_MACHINE
    path = _machine_lock(tmp_path_factory)
    if path is None:
        yield
        return
    with open(path, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # once the other worker's test under way ends
        _HOLDS_THE_MACHINE = True
        try:
            yield
        finally:
            _HOLDS_THE_MACHINE = False


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock(start=1_700_000_000)


@pytest.fixture
def lab(tmp_path: Path, clock: VirtualClock) -> Iterator[Lab]:
    with Lab(data_dir=tmp_path / "data", clock=clock) as lab:
        yield lab


@pytest.fixture
def rendezvous() -> Iterator[Path]:
    """A folder a test and its handlers both reach, confined or not: outside ``/tmp``
    (a confined environment has its own) and under no folder closed to the sandbox
    users (pytest makes ``/tmp/pytest-of-root`` 0700), writable by everyone. Not
    sticky: environments run as users of their own, and where ``fs.protected_regular``
    is set a sticky folder refuses one's ``open(..., "a")`` of another's file."""
    root = Path(tempfile.mkdtemp(prefix="lambdalab-rendezvous-", dir="/var/tmp"))
    root.chmod(0o777)
    try:
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def code(tmp_path: Path) -> Callable[..., Path]:
    """``code(app="source", other="source")`` writes modules into a fresh directory."""
    counter = iter(range(1_000_000))

    def write(**modules: str) -> Path:
        root = tmp_path / f"code{next(counter)}"
        for name, source in modules.items():
            path = root / (name.replace(".", "/") + ".py")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(textwrap.dedent(source))
        return root

    return write


ECHO = """
def handler(event, context):
    return event
"""


def environment_spec(task_root: Path, tmp_dir: Path, memory_size: int, timeout: int = 5):
    """An :class:`~lambdalab.sandbox.EnvironmentSpec` for starting a backend directly
    (``app.handler`` in ``task_root``), as the tests of a backend's own figures do."""
    from lambdalab.sandbox import EnvironmentSpec

    return EnvironmentSpec(
        function_name="f", version="$LATEST", runtime="python3.11", handler="app.handler",
        task_root=str(task_root), tmp_dir=str(tmp_dir), memory_size=memory_size,
        timeout=timeout, ephemeral_storage=512, log_group_name="g", log_stream_name="s",
        environ={"PATH": os.defpath},
    )


def wait_until(condition: Callable[[], bool], timeout: float = 30.0) -> bool:
    """Poll ``condition`` on the real processes until it holds (``True``) or ``timeout``
    seconds pass (a kill or a stop takes effect when the kernel gets to it): it returns
    as soon as it holds, so the limit is generous for a loaded machine. Never a measure
    of time."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return False


#: What a handler returns so that a test can find its process on the host: its pid and
#: its PID namespace (a confined environment has one of its own, where it is pid 2).
WHOAMI = '[os.getpid(), os.readlink("/proc/self/ns/pid")]'
#: A handler that returns :data:`WHOAMI` and a token of its environment (the pid cannot
#: tell two environments apart: in its own PID namespace, each is pid 2).
WHOAMI_APP = f"""
import os, uuid
ENVIRONMENT = uuid.uuid4().hex
def handler(event, context):
    return {WHOAMI} + [ENVIRONMENT]
"""


def host_pid(pid: int, namespace: str) -> int:
    """The host's pid of the process that PID namespace ``namespace`` (as
    ``/proc/self/ns/pid`` names it) numbers ``pid``: the host's ``NSpid`` line of each
    process in that namespace lists its pid there last."""
    if namespace == os.readlink("/proc/self/ns/pid"):
        return pid
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            if os.readlink(f"/proc/{entry}/ns/pid") != namespace:
                continue
            status = Path(f"/proc/{entry}/status").read_text()
        except OSError:  # gone, or not ours to read
            continue
        nspid = next(line for line in status.splitlines() if line.startswith("NSpid:"))
        if int(nspid.split()[-1]) == pid:
            return int(entry)
    raise LookupError(f"no process {pid} in {namespace}")


def exists(pid: int, namespace: str) -> bool:
    """Whether the process PID namespace ``namespace`` numbers ``pid`` is there."""
    try:
        os.kill(host_pid(pid, namespace), 0)
    except (LookupError, ProcessLookupError):
        return False
    return True
