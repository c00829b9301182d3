"""The ``limited`` sandbox: per-function choice, CPU share, memory kills, freeze/thaw, limits.

Every test runs real forked environments. Nothing here asserts a timing figure (those
are in ``benchmarks/limits.py``); the CPU tests (marked ``timing``) check only an upper
bound on the CPU time a function got per wall second, which a loaded machine cannot
break: load only ever takes CPU away. Waits poll for a state (stopped, killed) with a
generous limit, so a slow machine only makes them wait longer.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator

if TYPE_CHECKING:
    from click.testing import Result
    from lambdalab_limited.governor import Governor

import psutil
import pytest

from lambdalab import Lab, limits
from lambdalab.errors import InvalidParameterValueException
from lambdalab_limited import LimitedBackend, privileges_dropped, rlimits_for
from lambdalab_limited.governor import cores_for, cpu_share

from .conftest import WHOAMI_APP, environment_spec, host_pid, wait_until

pytestmark = pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="Linux only")

PID = WHOAMI_APP


def report(result) -> dict[str, str]:
    line = next(l for l in result.log_tail.splitlines() if l.startswith("REPORT"))
    return dict(part.split(": ", 1) for part in line.split("\t")[1:] if ": " in part)


def idle_pids(lab: Lab, name: str) -> list[int]:
    return [p.env.pid for p in lab.pool.idle_environments() if p.function_name == name]


def states(pid: int) -> set[str]:
    """The scheduler state letter of every thread of ``pid`` (``T`` = stopped)."""
    found = set()
    for tid in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{tid}/stat") as stat:
            found.add(stat.read().rsplit(")", 1)[1].split()[0])
    return found


def stopped(pid: int) -> bool:
    """Every thread of ``pid`` is stopped (SIGSTOP takes effect once the kernel
    schedules the thread, so give a loaded machine a moment)."""
    return wait_until(lambda: states(pid) == {"T"})


# -- choosing the sandbox -------------------------------------------------------------


def test_sandbox_is_chosen_per_function_and_shown_by_get_function(lab: Lab, code) -> None:
    root = code(app=PID)
    lab.create_function("free", root, handler="app.handler", sandbox="subprocess")
    lab.create_function("held", root, handler="app.handler")
    assert lab.get_function("held").configuration.sandbox is None  # the lab's: limited
    assert lab.get_function("free").configuration.sandbox == "subprocess"
    assert "Sandbox" not in json.dumps(lab.get_function("free").to_aws())  # AWS-clean
    lab.invoke("held")
    lab.invoke("free")
    assert lab.backends.started.keys() == {"subprocess", "limited"}
    assert stopped(idle_pids(lab, "held")[0])  # limited: frozen when idle
    assert "T" not in states(idle_pids(lab, "free")[0])


def test_update_moves_a_function_to_another_sandbox(lab: Lab, code) -> None:
    lab.create_function("f", code(app=PID), handler="app.handler")
    first = lab.invoke("f").json()
    config = lab.update_function_configuration("f", sandbox="limited")
    assert config.sandbox == "limited"
    assert lab.invoke("f").json()[2] != first[2]  # a new environment, in the new backend
    assert lab.get_function_configuration("f").sandbox == "limited"


def test_unknown_sandbox_is_rejected_and_nothing_is_created(lab: Lab, code) -> None:
    with pytest.raises(InvalidParameterValueException, match="Use one of: .*limited"):
        lab.create_function("f", code(app=PID), handler="app.handler", sandbox="vm")
    assert lab.list_functions() == []
    lab.create_function("f", code(app=PID), handler="app.handler")
    with pytest.raises(InvalidParameterValueException, match="'vm' is not a loaded"):
        lab.update_function_configuration("f", sandbox="vm")
    assert lab.get_function_configuration("f").sandbox is None


def test_lab_default_sandbox_applies_to_functions_without_one(
    tmp_path: Path, clock, code, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LAMBDALAB_SANDBOX", raising=False)
    with Lab(data_dir=tmp_path / "a", clock=clock) as lab:
        assert lab.default_sandbox == "limited"  # learners feel the limits unasked
    monkeypatch.setenv("LAMBDALAB_SANDBOX", "subprocess")
    with Lab(data_dir=tmp_path / "b", clock=clock) as lab:
        assert lab.default_sandbox == "subprocess"
    with Lab(data_dir=tmp_path / "d", clock=clock, default_sandbox="limited") as lab:
        lab.create_function("f", code(app=PID), handler="app.handler")
        lab.invoke("f")
        assert list(lab.backends.started) == ["limited"]


# -- CPU share ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("memory", "cores", "share"),
    [(128, 2, 128 / 1769), (1769, 2, 1.0), (3538, 2, 2.0), (10240, 2, 2.0), (10240, 8, 10240 / 1769)],
)
def test_memory_buys_cpu_share_capped_by_the_machine(memory: int, cores: int, share: float) -> None:
    assert cpu_share(memory, cores) == pytest.approx(share)


def test_one_vcpu_or_less_runs_anywhere_more_gets_whole_cores_in_rotation() -> None:
    assert cores_for(0.07, [0, 1]) == [0, 1]  # held by the closed loop, as AWS's quota does
    assert cores_for(1.0, [0, 1, 2, 3], start=2) == [0, 1, 2, 3]
    assert cores_for(1.5, [0, 1, 2, 3]) == [0, 1]
    assert cores_for(1.5, [0, 1, 2, 3], start=3) == [3, 0]
    assert cores_for(5.8, [0, 1, 2, 3]) == [0, 1, 2, 3]


def test_environment_runs_on_as_many_cores_as_its_memory_buys(lab: Lab, code) -> None:
    root = code(app=PID)
    machine = len(os.sched_getaffinity(0))
    for name, memory, cores in (("small", 128, machine), ("big", 5307, min(3, machine))):
        lab.create_function(name, root, handler="app.handler", memory_size=memory, sandbox="limited")
        pid = host_pid(*lab.invoke(name).json()[:2])
        assert len(os.sched_getaffinity(pid)) == cores, name


SPIN = """
import time
def handler(event, context):
    end = time.monotonic() + event["seconds"]
    while time.monotonic() < end:
        pass
    return time.process_time()
"""


@pytest.mark.timing
def test_a_128_mb_function_gets_a_small_fraction_of_a_cpu(lab: Lab, code) -> None:
    """An upper bound on CPU per wall second: load only takes CPU away from the spin."""
    lab.create_function(
        "spin", code(app=SPIN), handler="app.handler", memory_size=128, timeout=10, sandbox="limited"
    )
    before = lab.invoke("spin", {"seconds": 0}).json()  # INIT and a first invoke: not counted
    result = lab.invoke("spin", {"seconds": 0.6}, log_type="Tail")
    assert result.function_error is None
    cpu_s = result.json() - before
    # Target 7.2 % of 0.6 s = 43 ms; an unthrottled spin would use ~600 ms. The margin
    # is for the governor's readings falling late on a loaded machine: the last stretch
    # before the answer is not paid for within the invoke.
    assert cpu_s < 0.6 * 0.25, f"used {cpu_s * 1000:.0f} ms of CPU in 600 ms"


# Runs for event["cpu_s"] of its own CPU time and at least event["seconds"] of wall time;
# answers with its process's CPU time so far.
BURN = """
import time
def handler(event, context):
    cpu_end = time.process_time() + event.get("cpu_s", 0)
    wall_end = time.monotonic() + event.get("seconds", 0)
    while time.process_time() < cpu_end or time.monotonic() < wall_end:
        pass
    return time.process_time()
"""


@pytest.mark.timing
def test_back_to_back_short_invokes_are_held_to_the_share_too(tmp_path: Path, code) -> None:
    """CPU per wall second bounded above, over a run ending with its debt paid: load only lowers it."""
    from lambdalab.sandbox import InvokeRequest

    backend = LimitedBackend(preload=())
    spec = environment_spec(code(app=BURN), tmp_path, memory_size=128)

    def request(**event: float) -> InvokeRequest:
        payload = json.dumps(event).encode()
        return InvokeRequest("r", payload, "arn", int(time.time() * 1000) + 60_000, 60)

    try:
        env = backend.start(spec)
        cpu_before = json.loads(env.invoke(request()).payload)
        started = time.monotonic()
        for _ in range(50):  # 1 ms of CPU each: less than the governor's 2 ms between readings
            assert env.invoke(request(cpu_s=0.001)).status == "ok"
        # The credit carries over from invoke to invoke: an invoke that starts in debt
        # waits, frozen, until its first reading finds the debt paid. A short invoke may
        # still end in debt (it answers before its first reading); the debt then waits
        # for the next one. This last invoke runs for 0.2 s of wall time, long enough to
        # be read however late, so when it answers every earlier invoke has been paid for.
        outcome = env.invoke(request(seconds=0.2))
        wall_s = time.monotonic() - started
        assert outcome.status == "ok"
        cpu_s = json.loads(outcome.payload) - cpu_before
        share = cpu_share(128, len(backend.cpus))
        # Unlimited, the run takes ~0.25 s and uses all of it; with each invoke's credit
        # starting afresh, ~65 ms of CPU in ~0.3 s. Held to 7.2 % throughout, it lasts
        # about cpu_s / share (~1 s); the slack is the burst credit and a late last
        # reading. (A machine too busy to give the environment more than ~10 % of a CPU
        # holds it below the bound by itself.) The accuracy is benchmarks/limits.py's
        # to measure (figure 1b).
        assert cpu_s <= 1.5 * share * wall_s + 0.010, (cpu_s, wall_s)
        env.destroy()
    finally:
        backend.close()


STARTED_AT = """
import time
def handler(event, context):
    started = time.monotonic()
    end = started + event.get("seconds", 0)
    while time.monotonic() < end:
        pass
    return started
"""


@pytest.mark.timing
def test_an_invoke_that_begins_in_debt_runs_only_once_its_debt_is_paid(
    tmp_path: Path, code
) -> None:
    """A frozen runtime in debt stays frozen when its event is sent, until a reading
    finds the debt paid. Continued with its event, as it was, it answered a tiny invoke
    before the first reading could stop it, so back-to-back invokes ran ahead of their
    share until one was slow enough to be caught (and each paid for two more wake-ups).
    Load only makes the wait longer."""
    from lambdalab.sandbox import InvokeRequest

    backend = LimitedBackend(preload=())
    spec = environment_spec(code(app=STARTED_AT), tmp_path, memory_size=128)

    def request(seconds: float = 0.0) -> InvokeRequest:
        payload = json.dumps({"seconds": seconds}).encode()
        return InvokeRequest("r", payload, "arn", int(time.time() * 1000) + 60_000, 60)

    try:
        env = backend.start(spec)
        sent, debt_s, governor = in_debt(lambda: env.invoke(request(seconds=0.001)), lambda: env)
        started = json.loads(env.invoke(request()).payload)
        assert started - sent >= debt_s / governor.share, (started - sent, debt_s)
        env.destroy()
    finally:
        backend.close()


def in_debt(
    invoke_1_ms: Callable[[], object], environment: Callable[[], Any]
) -> tuple[float, float, "Governor"]:
    """Invokes of 1 ms back to back (each within the 2 ms before a first reading) until
    the frozen runtime of ``environment()`` owes CPU: when that was (``time.monotonic``),
    the CPU seconds its share has not paid for yet, and its governor."""
    for _ in range(50):
        invoke_1_ms()
        env = environment()
        assert stopped(env.pid)  # frozen after answering, or once it asked for the next
        governor = env.governor
        sent = time.monotonic()
        # What the share has not paid for yet as of now (the frozen tree uses none).
        debt_s = -(governor._credit + governor.share * (sent - governor._last_wall))
        if debt_s > 0:
            return sent, debt_s, governor
    pytest.fail("50 back-to-back invokes of 1 ms never left the runtime in debt")


@pytest.fixture
def governed_spinner() -> Iterator["Governor"]:
    """A governor at 128 MB's share over a process that spins, stopped for running
    ahead of its share (its first stop)."""
    import subprocess
    import sys

    from lambdalab_limited.governor import Governor

    tree = subprocess.Popen([sys.executable, "-c", "while True: pass"], start_new_session=True)
    try:
        governor = Governor(tree.pid, share=cpu_share(128, 1), cores=1, memory_bytes=1 << 34)
        governor.begin()
        deadline = time.monotonic() + 60  # the spinner uses its burst as soon as it runs
        while governor._stopped_until is None and time.monotonic() < deadline:
            governor.tick()
        assert governor._stopped_until is not None, "the spinner never ran ahead of its share"
        assert stopped(tree.pid)
        yield governor
    finally:
        os.killpg(tree.pid, 9)
        tree.wait()


def test_a_tree_ahead_of_its_share_is_stopped_until_its_whole_burst_is_back(
    governed_spinner: "Governor",
) -> None:
    """As a CFS group throttled in one period runs again with the next period's whole
    quota. Stopped only until its debt was paid, a tree invoked back to back was left at
    no credit, so each next tiny invoke went into debt and paid a stop of its own (a
    128 MB echo handler's warm p50 at 1.4-2.4x its 1769 MB one; issue 21)."""
    from lambdalab_limited.governor import BURST_S

    governor = governed_spinner
    assert governor._stopped_until is not None
    pause = governor._stopped_until - governor._last_wall
    # When the pause is over, the credit is a whole burst again (not zero): the next
    # tiny invokes have a burst's worth of CPU before any of them is stopped.
    assert governor._credit < 0
    assert governor._credit + governor.share * pause == pytest.approx(governor.share * BURST_S)
    assert pause >= BURST_S


def test_a_late_reading_costs_the_stopped_tree_none_of_its_share(
    governed_spinner: "Governor",
) -> None:
    """The pause ends with a whole burst, the cap of the credit: the wall time a reading
    came late (the invoking thread runs late on a loaded machine) would be paid into a
    full credit and lost, and the tree held below its share. It is kept above the cap."""
    from lambdalab_limited.governor import BURST_S

    governor = governed_spinner
    assert governor._stopped_until is not None
    # The tree is stopped now, but between the stop's reading and its SIGSTOP a loaded
    # machine may run the spinner for milliseconds (a debt the next reading rightly
    # charges): read again, so that this reading sees only the late pause.
    governor._last_cpu = cpu_before = governor.tree.cpu_seconds()
    # As if this reading came 50 ms after the pause ended: the same pause, earlier.
    late, now = 0.050, time.monotonic()
    pause = governor._stopped_until - governor._last_wall
    governor._stopped_until = now - late
    governor._last_wall = now - late - pause
    governor.tick()
    # Whatever the spinner ran since (the tick reads before it continues the tree) is
    # charged, rightly, so it is added back here.
    ran = governor._last_cpu - cpu_before
    assert governor._credit + ran > governor.share * (BURST_S + late / 2)


def test_a_kept_proc_file_is_read_afresh_and_ends_with_its_process() -> None:
    """The governor reads the root's ``stat`` and ``children`` at every invoke's end
    through files kept open (one ``pread`` each): each reading is the kernel's current
    text, and a file outlives its process only to say it is gone (or has no children)."""
    import subprocess
    import sys

    from lambdalab_limited.proctree import ProcFile, threads_in_stat

    parent = subprocess.Popen(
        [sys.executable, "-c", "import subprocess, sys; input(); subprocess.run(['sleep', '60'])"],
        stdin=subprocess.PIPE, text=True,
    )
    assert parent.stdin is not None
    children = ProcFile(f"/proc/{parent.pid}/task/{parent.pid}/children")
    stat = ProcFile(f"/proc/{parent.pid}/stat")
    try:
        assert children.read() == b""
        parent.stdin.write("\n")
        parent.stdin.flush()
        assert wait_until(lambda: children.read() not in (b"", None))
        assert stat.read() is not None and threads_in_stat(stat.read() or b"") == 1
    finally:
        for child in psutil.Process(parent.pid).children():
            child.kill()
        parent.kill()
        parent.wait()
    assert stat.read() is None and stat.fd is None  # closed: it names no other process
    assert not children.read()  # reaped: no children, whoever has the pid now


# -- memory ---------------------------------------------------------------------------

HOG = """
import time
HELD = []
def handler(event, context):
    if event.get("mb"):
        for _ in range(event["mb"]):
            HELD.append(bytearray(b"x" * (1024 * 1024)))
        time.sleep(event.get("hold", 0))
    return {"held": len(HELD)}
"""


def test_crossing_memory_size_kills_the_environment_as_aws_reports_it(lab: Lab, code) -> None:
    lab.create_function(
        "hog", code(app=HOG), handler="app.handler", memory_size=128, timeout=10, sandbox="limited"
    )
    lab.invoke("hog", {})
    result = lab.invoke("hog", {"mb": 300, "hold": 5}, log_type="Tail")
    assert result.function_error == "Unhandled"
    error = result.json()
    assert error["errorType"] == "Runtime.OutOfMemory"
    assert error["errorMessage"] == (
        f"RequestId: {result.request_id} Error: Runtime exited with error: signal: killed"
    )
    fields = report(result)
    assert fields["Max Memory Used"] == "128 MB"
    assert fields["Status"] == "error" and fields["Error Type"] == "Runtime.OutOfMemory"
    assert "Runtime.OutOfMemory" in result.log_tail
    again = lab.invoke("hog", {}, log_type="Tail")
    assert again.json() == {"held": 0}  # a fresh environment
    assert "Init Duration" in report(again)


def test_a_peak_between_two_readings_still_counts(lab: Lab, code) -> None:
    """Allocate and free at once: the runtime's own peak (VmHWM) catches it."""
    spike = """
def handler(event, context):
    block = bytearray(b"x" * (200 * 1024 * 1024))
    del block
    return "survived"
"""
    lab.create_function("spike", code(app=spike), handler="app.handler", sandbox="limited")
    result = lab.invoke("spike")
    assert result.json()["errorType"] == "Runtime.OutOfMemory"


def test_staying_under_memory_size_is_not_killed(lab: Lab, code) -> None:
    lab.create_function(
        "hog", code(app=HOG), handler="app.handler", memory_size=256, timeout=10, sandbox="limited"
    )
    result = lab.invoke("hog", {"mb": 100, "hold": 0.3}, log_type="Tail")
    assert result.function_error is None and result.json() == {"held": 100}
    used = int(report(result)["Max Memory Used"].split()[0])
    assert 100 < used < 256


# -- freeze and thaw ------------------------------------------------------------------

# A background thread that counts, and also writes its count into the file named by the
# event's "counter" (fixed width, in place), so a test can read it without an invoke.
TICKER = """
import os, threading, time
TICKS = [0]
def tick(counter):
    fd = os.open(counter, os.O_WRONLY | os.O_CREAT) if counter else -1
    while True:
        TICKS[0] += 1
        if fd >= 0:
            os.pwrite(fd, b"%012d" % TICKS[0], 0)
        time.sleep(0.001)
def handler(event, context):
    if event.get("start"):
        threading.Thread(target=tick, args=(event.get("counter"),), daemon=True).start()
        while TICKS[0] == 0:
            time.sleep(0.001)
    return TICKS[0]
"""


def ticks(counter: Path) -> int:
    """What a TICKER thread last wrote into ``counter`` (0 before its first write)."""
    return int(counter.read_bytes() or b"0")


def test_background_thread_makes_no_progress_between_invokes(lab: Lab, code, rendezvous: Path) -> None:
    root = code(app=TICKER)
    lab.create_function("frozen", root, handler="app.handler", sandbox="limited")
    lab.create_function("free", root, handler="app.handler", sandbox="subprocess")
    frozen, free = rendezvous / "frozen-ticks", rendezvous / "free-ticks"
    lab.invoke("frozen", {"start": True, "counter": str(frozen)})
    free_after = lab.invoke("free", {"start": True, "counter": str(free)}).json()
    pid = idle_pids(lab, "frozen")[0]
    assert stopped(pid)  # every thread of the frozen environment is stopped
    frozen_at = ticks(frozen)
    # The control: in the subprocess backend the thread keeps running between invokes.
    assert wait_until(lambda: ticks(free) > free_after + 100)
    # Meanwhile the frozen one did not tick at all, however long the wait took.
    assert ticks(frozen) == frozen_at
    assert lab.invoke("frozen").json() >= frozen_at  # thawed: the thread lives on
    assert stopped(pid)  # and frozen again after the invoke


def test_timeout_of_a_limited_function_is_reported_and_replaced(lab: Lab, code) -> None:
    sleeper = "import time\ndef handler(e, c):\n    time.sleep(e['s'])\n    return 'ok'\n"
    lab.create_function("slow", code(app=sleeper), handler="app.handler", timeout=1, sandbox="limited")
    result = lab.invoke("slow", {"s": 2})
    assert result.json()["errorType"] == "Sandbox.Timedout"
    assert lab.invoke("slow", {"s": 0}).json() == "ok"


# -- further limits -------------------------------------------------------------------

FILES = """
import os, tempfile
def handler(event, context):
    if event["what"] == "files":
        opened = []
        try:
            for _ in range(2000):
                opened.append(open(os.devnull))
        except OSError as e:
            return {"opened": len(opened), "errno": e.errno}
        finally:
            for f in opened:
                f.close()
        return {"opened": len(opened)}
    path = os.path.join(tempfile.gettempdir(), "big")
    try:
        with open(path, "wb") as f:
            for _ in range(event["mb"]):
                f.write(b"x" * (1024 * 1024))
        return {"written": os.path.getsize(path)}
    except OSError as e:
        return {"errno": e.errno, "size": os.path.getsize(path)}
    finally:
        os.remove(path)
"""


def test_open_files_are_capped_at_1024(lab: Lab, code) -> None:
    lab.create_function("files", code(app=FILES), handler="app.handler", sandbox="limited")
    result = lab.invoke("files", {"what": "files"}).json()
    assert result["errno"] == 24  # EMFILE: Too many open files, as on AWS
    assert result["opened"] < limits.FILE_DESCRIPTORS_MAX


def test_tmp_files_are_capped_at_ephemeral_storage(lab: Lab, code) -> None:
    lab.create_function(
        "disk", code(app=FILES), handler="app.handler", sandbox="limited", timeout=60,
        memory_size=3538,
    )
    result = lab.invoke("disk", {"what": "disk", "mb": 513}).json()
    assert result["errno"] == 27  # EFBIG: the file may not outgrow ephemeral storage
    assert result["size"] == 512 * 1024 * 1024
    lab.update_function_configuration("disk", ephemeral_storage=1024)
    assert lab.invoke("disk", {"what": "disk", "mb": 513}).json() == {"written": 513 * 1024 * 1024}


def test_limits_follow_the_configuration() -> None:
    from lambdalab.sandbox import EnvironmentSpec

    spec = EnvironmentSpec(
        function_name="f", version="$LATEST", runtime="python3.11", handler="app.handler",
        task_root="/", tmp_dir="/tmp", memory_size=128, timeout=3, ephemeral_storage=1024,
        log_group_name="g", log_stream_name="s", environ={},
    )
    assert rlimits_for(spec) == {"NOFILE": 1024, "FSIZE": 1024 * 1024 * 1024}


LIMITS_AT_INIT = """
import resource
AT_INIT = {
    "files": resource.getrlimit(resource.RLIMIT_NOFILE),
    "file_size": resource.getrlimit(resource.RLIMIT_FSIZE),
}
def handler(event, context):
    return AT_INIT
"""


@pytest.mark.parametrize("sandbox, limited", [("limited", True), ("subprocess", False)])
def test_init_runs_under_the_limits(lab: Lab, code, sandbox: str, limited: bool) -> None:
    lab.create_function("init", code(app=LIMITS_AT_INIT), handler="app.handler", sandbox=sandbox)
    seen = lab.invoke("init").json()
    expected = {"files": [1024, 1024], "file_size": [512 * 2**20, 512 * 2**20]}
    assert (seen == expected) is limited  # the control: subprocess keeps the host's limits


THREADS = """
import threading
RELEASE = threading.Event()
def start(count):
    try:
        for _ in range(count):
            threading.Thread(target=RELEASE.wait, daemon=True).start()
    except RuntimeError as e:  # can't start new thread: the kernel said EAGAIN
        return {"started": threading.active_count(), "refused": str(e)}
    return threading.active_count()
STARTED_AT_INIT = start(int(__import__("os").environ.get("AT_INIT", "0")))
def handler(event, context):
    count = start(event["threads"])
    if not isinstance(count, dict):
        RELEASE.wait(event.get("hold", 0))
    return {"init": STARTED_AT_INIT, "now": count} if event.get("init") else count
"""

#: Where the kernel refuses the 1025th task (confined: the environment has a user of
#: its own, see ``lambdalab_limited.users``), and where the governor kills instead.
CAP_ENFORCEMENT = pytest.mark.parametrize("confine", ["1", "0"])


@CAP_ENFORCEMENT
def test_more_than_1024_processes_and_threads_are_refused_or_kill_the_environment(
    lab: Lab, code, monkeypatch: pytest.MonkeyPatch, confine: str
) -> None:
    """At one whole vCPU the tree is not throttled: a SIGSTOP/SIGCONT cycle has to wake
    every one of a thousand threads, which makes a throttled spawner crawl (see the docs)."""
    monkeypatch.setenv("LAMBDALAB_CONFINE", confine)
    lab.create_function(
        "spawner", code(app=THREADS), handler="app.handler", sandbox="limited",
        memory_size=limits.MEMORY_MB_PER_VCPU, timeout=30,
    )
    assert lab.invoke("spawner", {"threads": 100}).json() == 101  # under the cap: fine
    # Held after starting them, as a function that goes on working would be: the
    # governor reads the tree while an invoke runs, and a loaded machine may delay its
    # readings past a handler that returns at once.
    result = lab.invoke("spawner", {"threads": 1000, "hold": 20}, log_type="Tail")
    if privileges_dropped():  # as on AWS: Thread.start() fails inside the handler
        answer = result.json()
        assert answer["refused"] == "can't start new thread", answer
        assert answer["started"] <= limits.PROCESSES_AND_THREADS_MAX
        assert "Init Duration" not in report(result)  # the same environment goes on
        return
    error = result.json()
    assert error["errorType"] == "Runtime.ExitError"
    assert error["errorMessage"].endswith("Runtime exited with error: signal: killed")
    assert "more than 1024 processes and threads" in result.log_tail
    again = lab.invoke("spawner", {"threads": 0}, log_type="Tail")
    assert again.json() == 1  # a fresh environment
    assert "Init Duration" in report(again)


SPAWNS_ON_DEMAND = """
import os, sys, threading
threading.stack_size(64 * 1024)
sys.stdin.readline()  # started: now spawn, as a handler would once its invoke began
for _ in range(2):  # two child processes, 550 threads each: only a walk of the tree finds them
    if os.fork() == 0:
        for _ in range(550):
            threading.Thread(target=threading.Event().wait, daemon=True).start()
        os.write(1, b"ready\\n")  # one write: print's two interleave with the sibling's under -u
        threading.Event().wait()
threading.Event().wait()
"""


def test_a_tree_over_the_task_cap_when_the_invoke_ends_is_killed() -> None:
    """Tasks started and left behind before the governor's first reading: the invoke's
    end reads the tree and kills it, as a tick would have (no tick runs here at all)."""
    import subprocess
    import sys

    from lambdalab_limited.governor import Governor

    tree = subprocess.Popen(
        [sys.executable, "-c", SPAWNS_ON_DEMAND], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        text=True, start_new_session=True,
    )
    assert tree.stdin is not None and tree.stdout is not None
    try:
        governor = Governor(tree.pid, share=1.0, cores=1, memory_bytes=1 << 34)
        governor.begin()
        tree.stdin.write("go\n")
        tree.stdin.flush()
        assert [tree.stdout.readline() for _ in range(2)] == ["ready\n"] * 2
        usage = governor.end()
        assert usage.too_many_tasks
        assert tree.wait(timeout=30) == -9  # the whole group: the root too
    finally:
        if tree.poll() is None:
            os.killpg(tree.pid, 9)
            tree.wait()


@CAP_ENFORCEMENT
def test_more_than_1024_threads_at_init_are_refused_or_fail_the_init(
    lab: Lab, code, monkeypatch: pytest.MonkeyPatch, confine: str
) -> None:
    monkeypatch.setenv("LAMBDALAB_CONFINE", confine)
    lab.create_function(
        "spawner", code(app=THREADS), handler="app.handler", sandbox="limited",
        memory_size=limits.MEMORY_MB_PER_VCPU, timeout=30, environment={"AT_INIT": "1100"},
    )
    answer = lab.invoke("spawner", {"threads": 0, "init": True}).json()
    if privileges_dropped():  # INIT saw the refusal and went on
        assert answer["init"]["refused"] == "can't start new thread", answer
        return
    assert answer["errorType"] == "Runtime.ExitError"


# -- what the backend reports ---------------------------------------------------------


@pytest.mark.timing
def test_outcome_reports_cpu_time_and_peak_memory(tmp_path: Path, code) -> None:
    """A spin of 0.2 s of wall time is bounded above by it: load only lowers its CPU time."""
    from lambdalab.sandbox import InvokeRequest

    root = code(app=SPIN)
    backend = LimitedBackend(preload=())
    spec = environment_spec(root, tmp_path, memory_size=1769)
    try:
        env = backend.start(spec)
        assert env.init.error is None
        outcome = env.invoke(
            InvokeRequest("r1", b'{"seconds": 0.2}', "arn", int(time.time() * 1000) + 60_000, 60)
        )
        assert outcome.status == "ok"
        # A spin of 0.2 s of wall time cannot use more than 0.2 s of one CPU (plus reading
        # its event): load only lowers it.
        assert outcome.cpu_time_ms is not None and 0 < outcome.cpu_time_ms <= 260
        assert outcome.max_memory_used_mb >= psutil.Process(env.pid).memory_info().rss // 2**20
        env.destroy()
    finally:
        backend.close()


# -- the command line -----------------------------------------------------------------


@pytest.fixture
def cli_run(tmp_path: Path) -> Callable[..., "Result"]:
    """``cli_run("get", "fn")`` runs ``lambdalab --data-dir DATA get fn``."""
    from click.testing import CliRunner

    from lambdalab.cli import app as cli

    def run(*args: str) -> "Result":
        return CliRunner().invoke(cli.main, ["--data-dir", str(tmp_path / "cli"), *args])

    return run


def test_cli_sandbox_option_on_create_and_update_config_is_shown_by_get(cli_run, code) -> None:
    root = str(code(app=LIMITS_AT_INIT))
    created = cli_run("create", "fn", "--code", root, "--handler", "app.handler", "--sandbox", "limited")
    assert created.exit_code == 0 and "sandbox limited" in created.stdout
    assert "Sandbox: limited\n" in cli_run("get", "fn").stderr
    assert '"files": [1024, 1024]' in cli_run("invoke", "fn").stdout
    assert cli_run("update-config", "fn", "--sandbox", "subprocess").exit_code == 0
    shown = cli_run("get", "fn")
    assert "Sandbox" not in shown.stdout and "Sandbox: subprocess\n" in shown.stderr
    rejected = cli_run("update-config", "fn", "--sandbox", "nope")
    assert rejected.exit_code != 0 and "InvalidParameterValueException" in rejected.stderr


def test_cli_global_sandbox_flag_is_the_default_for_functions_without_one(cli_run, code) -> None:
    root = str(code(app=LIMITS_AT_INIT))
    assert cli_run("create", "fn", "--code", root, "--handler", "app.handler").exit_code == 0
    assert "Sandbox: limited (the lab default)" in cli_run("get", "fn").stderr
    assert "Sandbox: subprocess (the lab default)" in cli_run("--sandbox", "subprocess", "get", "fn").stderr
    assert '"files": [1024, 1024]' in cli_run("invoke", "fn").stdout
    assert '"files": [1024, 1024]' not in cli_run("--sandbox", "subprocess", "invoke", "fn").stdout
