"""What the ``limited`` sandbox contains: the fork server survives its children, memory
is counted as the kernel charges it, detached descendants stay in their environment,
and a handler cannot reach the host (where lambdalab runs as root).

Every test runs real forked environments and real attacks from inside a handler; each
says what it shows refused. Nothing here asserts a timing figure.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import uuid
from pathlib import Path

import psutil
import pytest

from lambdalab import Lab, VirtualClock, limits
from lambdalab_limited import privileges_dropped
from lambdalab_limited.users import is_sandbox_uid

from .conftest import WHOAMI_APP, host_pid, wait_until

pytestmark = pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="Linux only")

PID = """
import os
def handler(event, context):
    return os.getpid()
"""


def alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def gone(pid: int) -> bool:
    return wait_until(lambda: not alive(pid))


def gone_from(pid: int, namespace: str) -> bool:
    """The process PID namespace ``namespace`` numbers ``pid`` has ended (or no longer
    is in it: the namespace has no process of that number left)."""

    def ended() -> bool:
        try:
            return not alive(host_pid(pid, namespace))
        except LookupError:
            return True

    return wait_until(ended)


def fork_server_pid(lab: Lab, sandbox: str = "limited") -> int:
    server = lab.backends.started[sandbox].server
    assert server.pid
    return server.pid


# -- 1. the fork server is supervised ---------------------------------------------------


def test_a_dead_fork_server_is_restarted_by_the_next_cold_start(lab: Lab, code) -> None:
    lab.create_function("first", code(app=PID), handler="app.handler")
    lab.create_function("second", code(app=PID), handler="app.handler")
    lab.invoke("first")
    old = fork_server_pid(lab)
    os.kill(old, signal.SIGKILL)
    result = lab.invoke("second", log_type="Tail")  # a cold start: the server is gone
    assert result.function_error is None, result.payload
    assert fork_server_pid(lab) != old
    assert lab.invoke("second").function_error is None  # and warm after it


KILL_SERVER = """
import os
def handler(event, context):
    try:
        os.kill(event["server"], 9)
    except (PermissionError, ProcessLookupError):
        return "refused"
    return "killed"
"""


def test_a_handler_that_kills_the_fork_server_breaks_no_later_cold_start(
    lab: Lab, code
) -> None:
    lab.create_function("killer", code(app=KILL_SERVER), handler="app.handler")
    lab.create_function("victim", code(app=WHOAMI_APP), handler="app.handler")
    lab.invoke("victim")
    answer = lab.invoke("killer", {"server": fork_server_pid(lab)}).json()
    # Refused where environments run unprivileged; else it dies with the server it
    # killed (an environment does not outlive its fork server), maybe before answering.
    assert answer in ("refused", "killed") or answer["errorType"] == "Runtime.ExitError"
    for _ in range(2):
        result = lab.invoke("victim")
        assert result.function_error is None, result.payload
        assert psutil.pid_exists(host_pid(*result.json()[:2]))


# -- 2. memory as the kernel charges it; the task cap, not memory, stops a fork bomb -------

FORKS = """
import os, time
def handler(event, context):
    pids = []
    for _ in range(event["children"]):
        pid = os.fork()
        if pid == 0:
            if event.get("mb"):
                held = bytearray(event["mb"] * 1024 * 1024)
                held[::4096] = b"x" * len(held[::4096])  # every page touched: resident
            time.sleep(event["sleep"])
            os._exit(0)
        pids.append(pid)
    for pid in pids:
        os.waitpid(pid, 0)
    return len(pids)
"""


def test_forked_children_share_their_parents_pages_and_are_not_out_of_memory(
    lab: Lab, code
) -> None:
    """Four idle children of a 128 MB function: their pages are their parent's, shared
    copy-on-write, so they cost next to nothing (summed resident memory said 5x)."""
    lab.create_function("forks", code(app=FORKS), handler="app.handler", timeout=30)
    result = lab.invoke("forks", {"children": 4, "sleep": 1.0}, log_type="Tail")
    assert result.function_error is None, result.payload
    assert result.json() == 4


def test_what_a_forked_child_allocates_counts_against_the_memory_size(lab: Lab, code) -> None:
    lab.create_function("forks", code(app=FORKS), handler="app.handler", timeout=30)
    result = lab.invoke("forks", {"children": 1, "mb": 200, "sleep": 5.0})
    assert result.json()["errorType"] == "Runtime.OutOfMemory"


FORK_BOMB = """
import os, signal, time
def handler(event, context):
    pids, refused = [], None
    try:
        for _ in range(event["children"]):
            pid = os.fork()
            if pid == 0:
                signal.pause()
                os._exit(0)
            pids.append(pid)
    except OSError as e:
        refused = [type(e).__name__, e.errno]
    if refused is None:
        time.sleep(event["hold"])  # as a function that goes on working: the cap is met
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    return {"forked": len(pids), "refused": refused}
"""


@pytest.mark.parametrize("confine", ["1", "0"])
def test_a_fork_bomb_meets_the_task_cap_not_the_memory_size(
    lab: Lab, code, monkeypatch: pytest.MonkeyPatch, confine: str
) -> None:
    """Eleven hundred idle children hold under a megabyte each of their own: at 1769 MB
    the 1024 processes/threads cap stops them, not an out-of-memory kill (summed
    resident memory said 30 GB). Confined, the environment is the only process of its
    user and the kernel refuses the fork past the cap (``EAGAIN``) inside the handler,
    as on AWS; elsewhere the governor kills the environment."""
    monkeypatch.setenv("LAMBDALAB_CONFINE", confine)
    lab.create_function(
        "bomb", code(app=FORK_BOMB), handler="app.handler",
        memory_size=limits.MEMORY_MB_PER_VCPU, timeout=60,
    )
    result = lab.invoke("bomb", {"children": 1100, "hold": 60}, log_type="Tail")
    if privileges_dropped():
        answer = result.json()
        assert answer["refused"] == ["BlockingIOError", errno.EAGAIN], answer
        assert answer["forked"] < limits.PROCESSES_AND_THREADS_MAX
        again = lab.invoke("bomb", {"children": 3, "hold": 0}, log_type="Tail")
        assert again.json() == {"forked": 3, "refused": None}  # its tasks given back
        assert "Init Duration" not in again.log_tail  # and the same environment, warm
    else:
        error = result.json()
        assert error["errorType"] == "Runtime.ExitError", error
        assert "more than 1024 processes and threads" in result.log_tail


# -- 3. a descendant that detaches (double fork + setsid) stays in its environment ------

DETACH = """
import os, time
def detach(what):
    \"\"\"A daemon, the classic way: fork, fork again, setsid; its pid comes back.\"\"\"
    r, w = os.pipe()
    child = os.fork()
    if child == 0:
        if os.fork():
            os._exit(0)
        os.setsid()
        os.write(w, str(os.getpid()).encode())
        os.close(w)
        if what == "allocate":
            held = bytearray(300 * 1024 * 1024)
            held[::4096] = b"x" * len(held[::4096])
        while what == "spin":
            pass
        time.sleep(3600)
    os.close(w)
    os.waitpid(child, 0)
    pid = int(os.read(r, 32))
    os.close(r)
    namespace = os.readlink("/proc/self/ns/pid")
    print("daemon", pid, namespace)
    return pid, namespace

def handler(event, context):
    if event.get("exit"):
        os._exit(0)
    pid, namespace = detach(event["what"])
    time.sleep(event.get("then_sleep", 0))
    return {"daemon": [pid, namespace], "sid": os.getsid(pid), "mine": os.getsid(0)}
"""


def deploy_detacher(lab: Lab, code, **config) -> None:
    lab.create_function("detacher", code(app=DETACH), handler="app.handler", **config)


def test_a_detached_descendant_stays_in_the_environments_session(lab: Lab, code) -> None:
    deploy_detacher(lab, code)
    answer = lab.invoke("detacher", {"what": "sleep"}).json()
    assert answer["sid"] == answer["mine"]  # its setsid() changed nothing
    assert psutil.Process(host_pid(*answer["daemon"])).ppid() in (
        p.env.pid for p in lab.pool.idle_environments()
    )  # an orphan is the environment's child (subreaper), in its tree


def test_a_detached_descendant_is_frozen_with_its_environment(lab: Lab, code) -> None:
    deploy_detacher(lab, code)
    daemon = host_pid(*lab.invoke("detacher", {"what": "spin"}).json()["daemon"])
    assert wait_until(lambda: psutil.Process(daemon).status() == psutil.STATUS_STOPPED)


def test_a_detached_descendant_is_killed_on_timeout(lab: Lab, code) -> None:
    deploy_detacher(lab, code, timeout=1)
    result = lab.invoke("detacher", {"what": "sleep", "then_sleep": 30}, log_type="Tail")
    assert result.json()["errorType"] == "Sandbox.Timedout"
    pid, namespace = result.log_tail.split("daemon ", 1)[1].split()[:2]
    assert gone_from(int(pid), namespace)


def test_a_detached_descendant_is_killed_when_its_environment_is_reaped(
    lab: Lab, code, clock: VirtualClock
) -> None:
    deploy_detacher(lab, code)
    daemon = host_pid(*lab.invoke("detacher", {"what": "sleep"}).json()["daemon"])
    clock.advance(limits.IDLE_ENVIRONMENT_TTL_S + 1)
    lab.pool.reap_idle()
    assert gone(daemon)


def test_a_detached_descendant_is_killed_by_lab_close(tmp_path, code) -> None:
    with Lab(data_dir=tmp_path / "data") as lab:
        deploy_detacher(lab, code)
        daemon = host_pid(*lab.invoke("detacher", {"what": "spin"}).json()["daemon"])
        assert alive(daemon)
    assert gone(daemon)


def test_a_detached_descendant_dies_when_its_environment_exits(lab: Lab, code) -> None:
    """Its runtime exits between invokes: what it started goes with it (its process group
    is killed and, confined, its PID namespace's init, pid 1 there, which takes every
    process left in the namespace)."""
    deploy_detacher(lab, code)
    pid, namespace = lab.invoke("detacher", {"what": "sleep"}).json()["daemon"]
    daemon = host_pid(pid, namespace)
    assert lab.invoke("detacher", {"exit": True}).json()["errorType"] == "Runtime.ExitError"
    assert gone(daemon)
    if namespace != os.readlink("/proc/self/ns/pid"):
        assert gone_from(1, namespace)


def test_unconfined_handlers_see_host_pids(
    lab: Lab, code, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LAMBDALAB_CONFINE", "0")
    lab.create_function("looker", code(app=PROCESSES), handler="app.handler")
    answer = lab.invoke("looker", {"server": os.getpid()}).json()
    assert answer["namespace"] == os.readlink("/proc/self/ns/pid")
    assert answer["me"] in [p.env.pid for p in lab.pool.idle_environments()]
    assert answer["parent"] == fork_server_pid(lab)


def test_a_detached_descendant_dies_with_the_fork_server(lab: Lab, code) -> None:
    deploy_detacher(lab, code)
    daemon = host_pid(*lab.invoke("detacher", {"what": "sleep"}).json()["daemon"])
    os.kill(fork_server_pid(lab), signal.SIGKILL)
    assert gone(daemon)


def test_what_a_detached_descendant_allocates_counts_against_the_memory_size(
    lab: Lab, code
) -> None:
    deploy_detacher(lab, code, memory_size=128, timeout=30)
    result = lab.invoke("detacher", {"what": "allocate", "then_sleep": 10})
    assert result.json()["errorType"] == "Runtime.OutOfMemory"


# -- 4. privilege: an unprivileged user in its own mount namespace (root only) ----------

needs_root = pytest.mark.skipif(
    os.geteuid() != 0, reason="confining an environment needs root (mount namespace, setuid)"
)

ATTACKS = """
import os, signal, sys, traceback
def attempt(action):
    try:
        action()
    except OSError as e:
        return type(e).__name__
    return "done"

def read(path):
    with open(path, "rb") as f:
        f.read(1)

def write(path):
    with open(path, "a") as f:
        f.write("# owned")

def fill_tmp():
    for i in range(3):  # 600 MB into a 512 MB /tmp
        with open(f"/tmp/fill{i}", "wb") as f:
            for _ in range(200):
                f.write(b"x" * (1024 * 1024))

def handler(event, context):
    if event.get("raise"):
        raise ValueError("where am I")
    return {
        "uid": os.getuid(),
        "task_root": os.environ["LAMBDA_TASK_ROOT"],
        "file": __file__,
        "parent": os.getppid(),
        "server_environ": attempt(lambda: read(f"/proc/{event['server']}/environ")),
        "kill_server": attempt(lambda: os.kill(event["server"], signal.SIGKILL)),
        "database": attempt(lambda: read(event["database"])),
        "own_code": attempt(lambda: write(__file__)),
        "other_code": attempt(lambda: write(event["other_code"])),
        "fill_tmp": attempt(fill_tmp),
    }
"""


@pytest.fixture
def confined(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAMBDALAB_CONFINE", "1")


@needs_root
def test_a_confined_handler_cannot_reach_the_server_the_database_or_other_code(
    lab: Lab, code, confined
) -> None:
    lab.create_function("victim", code(app=PID), handler="app.handler")
    lab.invoke("victim")
    victim_code = next((lab.store.code_dir).glob("*/app.py"))
    lab.create_function("attacker", code(app=ATTACKS), handler="app.handler", timeout=60)
    server = fork_server_pid(lab)
    answer = lab.invoke(
        "attacker",
        {
            "database": str(lab.store.data_dir / "lambdalab.db"),
            "other_code": str(victim_code),
            "server": server,
        },
    ).json()
    assert is_sandbox_uid(answer["uid"])  # 993 (AWS's sbx_user1051) or one of its own
    assert answer["task_root"] == "/var/task" and answer["file"] == "/var/task/app.py"
    assert answer["parent"] == 0  # its parent, the server, is outside its PID namespace
    assert answer["server_environ"] == "FileNotFoundError"  # not in its /proc at all
    assert answer["kill_server"] == "ProcessLookupError" and alive(server)  # nor its pids
    assert answer["database"] in ("PermissionError", "FileNotFoundError")
    assert answer["own_code"] in ("PermissionError", "OSError")  # root's, read-only
    assert answer["other_code"] in ("PermissionError", "FileNotFoundError")
    assert answer["fill_tmp"] == "OSError"  # no space left: /tmp is 512 MB of its own
    assert victim_code.read_text().endswith("return os.getpid()\n")


#: Who the handler runs as, and that the interpreter is still its to use: a module the
#: fork server has not imported, and a child interpreter (pyenv's lives under /root).
WHO = """
import os, subprocess, sys
def handler(event, context):
    import uuid
    child = subprocess.run([sys.executable, "-c", "print('a child Python')"],
                           capture_output=True, text=True)
    return [os.getuid(), uuid.__name__, child.stdout.strip() or child.stderr]
"""


@needs_root
def test_as_root_handlers_run_unprivileged_unless_confine_is_0(
    lab: Lab, code, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lambdalab_limited import confinement_unavailable

    if confinement_unavailable() is not None:
        pytest.skip(confinement_unavailable())
    source = code(app=WHO)
    monkeypatch.delenv("LAMBDALAB_CONFINE", raising=False)  # on by default
    lab.create_function("who", source, handler="app.handler")
    uid, *rest = lab.invoke("who").json()
    assert is_sandbox_uid(uid) and rest == ["uuid", "a child Python"]
    monkeypatch.setenv("LAMBDALAB_CONFINE", "0")
    lab.update_function_configuration("who", timeout=4)  # a new environment
    assert lab.invoke("who").json()[0] == 0


@needs_root
def test_a_confined_plain_python_function_runs(lab: Lab, confined) -> None:
    """lambdalab packages it: its files are readable by the sandbox user (644)."""
    lab.create_function("square", code=lambda event, context: event["n"] ** 2)
    assert lab.invoke("square", {"n": 7}).json() == 49


@needs_root
def test_a_confined_tracebacks_name_var_task(lab: Lab, code, confined) -> None:
    lab.create_function("raiser", code(app=ATTACKS), handler="app.handler")
    error = lab.invoke("raiser", {"raise": True}).json()
    assert '"/var/task/app.py"' in "".join(error["stackTrace"])


LAYERED = """
import os, sys, helper

def handler(event, context):
    def attempt(action):
        try:
            action()
            return "ok"
        except OSError as e:
            return type(e).__name__
    return {
        "helper": helper.__file__,
        "value": helper.VALUE,
        "opt": os.environ["LAMBDALAB_OPT"],
        "path": os.environ["PATH"].split(":"),
        "ld": os.environ["LD_LIBRARY_PATH"].split(":"),
        "sys_path": [p for p in sys.path if p.startswith("/opt")],
        "write": attempt(lambda: open("/opt/python/helper.py", "a").write("x")),
    }
"""


@needs_root
def test_a_confined_function_finds_its_layers_read_only_at_opt(
    lab: Lab, code, confined, tmp_path
) -> None:
    layer = tmp_path / "layer" / "python"
    layer.mkdir(parents=True)
    (layer / "helper.py").write_text("VALUE = 'from a layer'\n")
    version = lab.publish_layer_version("tools", str(tmp_path / "layer"))
    lab.create_function(
        "layered", code(app=LAYERED), handler="app.handler", layers=[version.layer_version_arn]
    )
    answer = lab.invoke("layered").json()
    assert answer["value"] == "from a layer" and answer["helper"] == "/opt/python/helper.py"
    assert answer["opt"] == "/opt"
    assert "/opt/bin" in answer["path"] and "/opt/lib" in answer["ld"]
    assert answer["sys_path"] == ["/opt/python/lib/python3.11/site-packages", "/opt/python"]
    assert answer["write"] in ("PermissionError", "OSError")  # read-only, as on AWS


def test_the_data_dir_is_private_to_its_owner(lab: Lab) -> None:
    assert lab.store.data_dir.stat().st_mode & 0o777 == 0o700


def test_lambdalab_plugins_says_which_protections_apply_here(
    lab: Lab, monkeypatch: pytest.MonkeyPatch
) -> None:
    def notes() -> str:
        return "\n".join(next(p for p in lab.plugins() if p.name == "limited").notes)

    assert "descendants kept in the environment" in notes()
    monkeypatch.delenv("LAMBDALAB_CONFINE", raising=False)  # on by default where it can be
    if os.geteuid() == 0:
        assert "a user of their own" in notes() or "the kernel refuses" in notes()
        monkeypatch.setenv("LAMBDALAB_CONFINE", "0")
        assert "a user of their own" not in notes()
    else:
        assert "unavailable (lambdalab does not run as root)" in notes()


@needs_root
def test_a_runtime_under_tmp_stays_importable_when_tmp_is_private(tmp_path) -> None:
    """A virtual environment or checkout on sys.path may live under /tmp (a CI clone
    does): the private /tmp must not hide it. The lab runs in a fresh interpreter whose
    sys.path has a folder under /tmp, as a venv there would give it."""
    import subprocess
    import sys
    import tempfile
    import textwrap

    with tempfile.TemporaryDirectory(dir="/tmp") as runtime:
        os.chmod(runtime, 0o755)
        with open(os.path.join(runtime, "from_tmp_runtime.py"), "w") as module:
            module.write("WHERE = __file__\n")
        script = textwrap.dedent(f"""
            from lambdalab import Lab
            def handler(event, context):
                import os, from_tmp_runtime
                return [os.getuid(), from_tmp_runtime.WHERE]
            with Lab(data_dir={str(tmp_path / "data")!r}) as lab:
                lab.create_function("f", code=handler)
                print(lab.invoke("f").payload.decode())
        """)
        env = {**os.environ, "PYTHONPATH": runtime, "LAMBDALAB_CONFINE": "1"}
        done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                              text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        uid, where = json.loads(done.stdout)
        assert is_sandbox_uid(uid) and where == f"{runtime}/from_tmp_runtime.py"


@needs_root
@pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed")
def test_a_plugin_loaded_from_under_tmp_but_not_on_sys_path_stays_readable(tmp_path) -> None:
    """An editable install's import finder maps lambdalab's ``plugins/`` without putting
    it on sys.path; from a checkout under /tmp (a CI clone) the private /tmp hid it, and
    a confined Node.js runtime could not read its runtime file. Here the runtimes plugin
    is imported from a copy under /tmp that is then taken off sys.path."""
    import subprocess
    import sys
    import tempfile
    import textwrap

    import lambdalab_runtimes

    root = tmp_path / "js"
    root.mkdir()
    (root / "index.js").write_text("exports.handler = async () => process.getuid();\n")
    with tempfile.TemporaryDirectory(dir="/tmp") as home:
        os.chmod(home, 0o755)
        shutil.copytree(os.path.dirname(lambdalab_runtimes.__file__),
                        os.path.join(home, "lambdalab_runtimes"))
        script = textwrap.dedent(f"""
            import sys
            sys.path.insert(0, {home!r})
            import lambdalab_runtimes
            sys.path.remove({home!r})
            assert lambdalab_runtimes.__file__.startswith({home!r})
            from lambdalab import Lab
            with Lab(data_dir={str(tmp_path / "data")!r}) as lab:
                lab.create_function("node", {str(root)!r}, runtime="nodejs20.x",
                                    handler="index.handler")
                print(lab.invoke("node").payload.decode())
        """)
        env = {**os.environ, "LAMBDALAB_CONFINE": "1"}
        env.pop("PYTHONPATH", None)
        done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                              text=True, timeout=120, cwd="/")
        assert done.returncode == 0, done.stderr
        assert is_sandbox_uid(json.loads(done.stdout))


# -- 5. every runtime confined alike; /opt is the function's layers or nothing -----------

OPT = """
import os
def handler(event, context):
    return os.listdir("/opt")
"""


@needs_root
def test_a_confined_function_without_layers_sees_an_empty_opt(lab: Lab, code, confined) -> None:
    """Not the host's /opt (which holds what the machine installed there)."""
    lab.create_function("bare", code(app=OPT), handler="app.handler")
    assert lab.invoke("bare").json() == []


NODE_ATTACKS = """
const fs = require('fs');
const attempt = (action) => { try { action(); return 'done'; } catch (e) { return e.code; } };
exports.handler = async (event) => ({
  uid: process.getuid(),
  cwd: process.cwd(),
  taskRoot: process.env.LAMBDA_TASK_ROOT,
  serverEnviron: attempt(() => fs.readFileSync(`/proc/${event.server}/environ`)),
  database: attempt(() => fs.readFileSync(event.database)),
  ownCode: attempt(() => fs.appendFileSync('/var/task/index.js', '// owned')),
  tmp: attempt(() => fs.writeFileSync(`/tmp/${event.scratch}`, 'mine')),
  opt: fs.readdirSync('/opt'),
});
"""

#: After AWS's tutorial bootstrap; its answer says what the environment let it do.
BOOTSTRAP_ATTACKS = """\
#!/bin/bash
API="http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime"
attempt() { if "$@" > /dev/null 2>&1; then echo done; else echo refused; fi; }
while true; do
  HEADERS="$(mktemp)"
  curl -sS -LD "$HEADERS" "$API/invocation/next" > /dev/null
  ID=$(grep -Fi Lambda-Runtime-Aws-Request-Id "$HEADERS" | tr -d '[:space:]' | cut -d: -f2)
  rm -f "$HEADERS"
  ANSWER="{\\"uid\\": $(id -u), \\"cwd\\": \\"$(pwd)\\", \\"task_root\\": \\"$LAMBDA_TASK_ROOT\\",
    \\"server_environ\\": \\"$(attempt cat "/proc/$SERVER/environ")\\",
    \\"database\\": \\"$(attempt cat "$DATABASE")\\",
    \\"own_code\\": \\"$(attempt touch /var/task/owned)\\",
    \\"tmp\\": \\"$(attempt touch "/tmp/$SCRATCH")\\", \\"opt\\": $(ls -A /opt | wc -l),
    \\"me\\": $$, \\"parent\\": $PPID, \\"namespace\\": \\"$(readlink /proc/$$/ns/pid)\\",
    \\"no_such_server\\": $(kill -0 "$SERVER" 2>&1 | grep -c 'No such process')}"
  curl -sS -X POST "$API/invocation/$ID/response" -d "$ANSWER" > /dev/null
done
"""


@needs_root
@pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed")
def test_a_confined_node_handler_cannot_reach_the_server_the_database_or_its_code(
    lab: Lab, tmp_path, confined
) -> None:
    root = tmp_path / "js"
    root.mkdir()
    (root / "index.js").write_text(NODE_ATTACKS)
    lab.create_function("node", str(root), runtime="nodejs20.x", handler="index.handler")
    database = str(lab.store.data_dir / "lambdalab.db")
    scratch = f"scratch-{uuid.uuid4()}"
    event = {"server": os.getpid(), "database": database, "scratch": scratch}
    answer = lab.invoke("node", event).json()
    assert is_sandbox_uid(answer["uid"]), answer
    assert answer["cwd"] == answer["taskRoot"] == "/var/task"
    assert answer["serverEnviron"] == "ENOENT"  # not in its /proc at all
    assert answer["database"] in ("EACCES", "ENOENT")
    assert answer["ownCode"] in ("EROFS", "EACCES")
    assert answer["tmp"] == "done" and not (Path("/tmp") / scratch).exists()
    assert answer["opt"] == []


@needs_root
@pytest.mark.skipif(shutil.which("curl") is None, reason="the bootstrap uses curl")
def test_a_confined_bootstrap_cannot_reach_the_server_the_database_or_its_code(
    lab: Lab, tmp_path, confined
) -> None:
    root = tmp_path / "provided"
    root.mkdir()
    (root / "bootstrap").write_text(BOOTSTRAP_ATTACKS)
    (root / "bootstrap").chmod(0o755)
    database, scratch = str(lab.store.data_dir / "lambdalab.db"), f"scratch-{uuid.uuid4()}"
    lab.create_function(
        "custom", str(root), runtime="provided.al2023", handler="bootstrap",
        environment={"SERVER": str(os.getpid()), "DATABASE": database, "SCRATCH": scratch},
    )
    answer = lab.invoke("custom").json()
    assert is_sandbox_uid(answer["uid"]), answer
    assert answer["cwd"] == answer["task_root"] == "/var/task"
    assert answer["server_environ"] == answer["database"] == answer["own_code"] == "refused"
    assert answer["tmp"] == "done" and not (Path("/tmp") / scratch).exists()
    assert answer["opt"] == 0  # entries in /opt
    # pid 2 of a PID namespace of its own, under its init; kill -0 of a host pid: ESRCH
    assert (answer["me"], answer["parent"], answer["no_such_server"]) == (2, 1, 1)
    me = host_pid(answer["me"], answer["namespace"])
    assert me in [p.env.pid for p in lab.pool.idle_environments()]  # the core knows it


# -- 6. a confined handler sees only its environment's processes -------------------------

PROCESSES = """
import os, time
def handler(event, context):
    child = os.fork()
    if child == 0:
        time.sleep(3600)
        os._exit(0)
    seen = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
    try:
        os.kill(event["server"], 0)
        server = "done"
    except OSError as e:
        server = type(e).__name__
    return {"seen": seen, "me": os.getpid(), "child": child, "parent": os.getppid(),
            "server": server, "namespace": os.readlink("/proc/self/ns/pid")}
"""


@needs_root
def test_a_confined_handler_sees_only_its_environments_processes_in_proc(
    lab: Lab, code, confined
) -> None:
    """Its own PID namespace: it is pid 2 (the namespace's init is 1), its parent (the
    fork server) is outside, and no host pid names a process there."""
    lab.create_function("neighbour", code(app=WHOAMI_APP), handler="app.handler")
    neighbour = lab.invoke("neighbour").json()  # another environment, idle
    lab.create_function("looker", code(app=PROCESSES), handler="app.handler")
    server = fork_server_pid(lab)
    answer = lab.invoke("looker", {"server": server}).json()
    assert answer["me"] == 2 and answer["parent"] == 0
    assert answer["server"] == "ProcessLookupError"  # ESRCH, not EPERM: nothing to find
    assert answer["seen"] == sorted([answer["me"], answer["child"]])  # and no init (root's)
    assert answer["namespace"] != neighbour[1]  # each environment a namespace of its own
    me = host_pid(answer["me"], answer["namespace"])
    assert me in [p.env.pid for p in lab.pool.idle_environments()]  # the core knows it
    assert psutil.Process(host_pid(answer["child"], answer["namespace"])).ppid() == me


NODE_PROCESSES = """
const fs = require('fs');
const { spawn } = require('child_process');
exports.handler = async (event) => {
  const child = spawn('sleep', ['3600'], { stdio: 'ignore' });
  let server = 'done';
  try { process.kill(event.server, 0); } catch (e) { server = e.code; }
  let init = 'done';
  try { process.kill(1, 'SIGKILL'); } catch (e) { init = e.code; }
  return {
    seen: fs.readdirSync('/proc').filter((p) => /^[0-9]+$/.test(p)).map(Number),
    me: process.pid, child: child.pid, parent: process.ppid, server, init,
    namespace: fs.readlinkSync('/proc/self/ns/pid'),
  };
};
"""


@needs_root
@pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed")
def test_a_confined_node_runtime_sees_only_its_environments_processes(
    lab: Lab, tmp_path, confined
) -> None:
    """As a confined Python environment: pid 2 of a PID namespace of its own, under an
    init (pid 1, root's, so not in its ``/proc``); no host pid names a process there."""
    root = tmp_path / "js"
    root.mkdir()
    (root / "index.js").write_text(NODE_PROCESSES)
    lab.create_function("node", str(root), runtime="nodejs20.x", handler="index.handler")
    answer = lab.invoke("node", {"server": os.getpid()}).json()
    assert answer["me"] == 2 and answer["parent"] == 1
    assert answer["server"] == "ESRCH" and answer["init"] == "EPERM"  # root's, not its
    assert sorted(answer["seen"]) == sorted([answer["me"], answer["child"]])
    assert answer["namespace"] != os.readlink("/proc/self/ns/pid")
    me = host_pid(answer["me"], answer["namespace"])
    assert me in [p.env.pid for p in lab.pool.idle_environments()]  # the core knows it
    assert psutil.Process(host_pid(answer["child"], answer["namespace"])).ppid() == me
    again = lab.invoke("node", {"server": os.getpid()}).json()
    assert again["namespace"] == answer["namespace"]  # the same environment, its init alive


@needs_root
def test_no_two_environments_hold_the_same_uid_and_no_host_user_is_taken() -> None:
    """The kernel's cap on tasks counts per user: each environment's must be its own."""
    import pwd

    from lambdalab_limited.users import SandboxUser

    users = [SandboxUser() for _ in range(3)]
    try:
        uids = [user.uid for user in users]
        assert len(set(uids)) == 3 and all(is_sandbox_uid(uid) for uid in uids)
        assert not {uid for uid in uids if uid in {p.pw_uid for p in pwd.getpwall()}}
    finally:
        for user in users:
            user.release()


#: A lambdalab of its own (a process the test can kill) with a warm confined Node.js
#: environment whose runtime carries ``MARKER`` in its environment.
HOST = """
import sys
from lambdalab import Lab
lab = Lab(sys.argv[1])
lab.create_function("node", sys.argv[2], runtime="nodejs20.x", handler="index.handler",
                    environment={"Variables": {"MARKER": sys.argv[3]}})
print(lab.invoke("node").json(), flush=True)
sys.stdin.read()
"""


def _marked(marker: str) -> list[int]:
    found = []
    for process in psutil.process_iter():
        try:
            if process.environ().get("MARKER") == marker:
                found.append(process.pid)
        except (psutil.Error, OSError):
            pass
    return found


@needs_root
@pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed")
def test_a_confined_runtime_dies_with_the_lambdalab_that_started_it(tmp_path, confined) -> None:
    """Killed with SIGKILL, lambdalab cannot stop its runtimes; the namespace's init sees
    the core's end of its status pipe close and exits, and the kernel ends the rest."""
    import subprocess
    import sys

    root = tmp_path / "js"
    root.mkdir()
    (root / "index.js").write_text("exports.handler = async () => 'warm';\n")
    marker = uuid.uuid4().hex
    host = subprocess.Popen([sys.executable, "-c", HOST, str(tmp_path / "data"), str(root), marker],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert host.stdout is not None and host.stdout.readline().strip() == b"warm"
        [runtime] = _marked(marker)
        init = psutil.Process(runtime).ppid()
        assert init != host.pid  # the namespace's init stands between them
        host.kill()
        host.wait()
        assert wait_until(lambda: not psutil.pid_exists(init) and not _marked(marker))
    finally:
        host.kill()
