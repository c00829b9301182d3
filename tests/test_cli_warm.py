"""The CLI behaves like Lambda: consecutive invokes reach a warm environment.

``lambdalab invoke`` sends the invoke to a lambdalab server that outlives the command
(:mod:`lambdalab.cli.daemon`), started in the background on first use. The rest of the
suite runs with ``LAMBDALAB_NO_DAEMON=1`` (tests/conftest.py); these tests turn servers
on, and the ``servers`` fixture stops every one they started (``published``, the one it
shares between the commands that only read).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Callable, Iterator

import pytest
from click.testing import CliRunner, Result

from lambdalab.cli import app as cli, daemon
from lambdalab.cli.demo import report_fields

from .conftest import ECHO
from .test_cli import COUNTER, FAILING

LAMBDALAB = str(Path(sys.executable).with_name("lambdalab"))
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@pytest.fixture
def servers(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Path]]:
    """Background servers on; every data dir appended here has its server stopped after."""
    monkeypatch.delenv(daemon.NO_DAEMON_ENV, raising=False)
    monkeypatch.delenv("LAMBDALAB_DATA_DIR", raising=False)
    data_dirs: list[Path] = []
    yield data_dirs
    for data_dir in data_dirs:
        daemon.stop(data_dir)
        assert daemon.read_state(data_dir) is None


def learner_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in (daemon.NO_DAEMON_ENV, "LAMBDALAB_DATA_DIR")}
    return {**env, "COLUMNS": "200"}


def lambdalab(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [LAMBDALAB, *args], cwd=cwd, env=env or learner_env(), capture_output=True, text=True,
        timeout=120, stdin=subprocess.DEVNULL,
    )


def test_the_learner_loop_from_a_subfolder_is_cold_then_warm(servers, tmp_path) -> None:
    project = tmp_path / "project"
    (project / "hello").mkdir(parents=True)
    (project / "hello" / "app.py").write_text(COUNTER)
    servers.append(project / ".lambdalab")
    created = lambdalab("create", "hello", "--code", "hello", "--handler", "app.handler", cwd=project)
    assert created.returncode == 0, created.stderr

    invokes = [lambdalab("invoke", "hello", "--log-type", "Tail", cwd=project / "hello") for _ in range(3)]
    assert [i.returncode for i in invokes] == [0, 0, 0], [i.stderr for i in invokes]
    assert [json.loads(i.stdout)["count"] for i in invokes] == [1, 2, 3]  # module globals live on
    reports = [report_fields(i.stderr) for i in invokes]
    assert "Init Duration" in reports[0]
    assert "Init Duration" not in reports[1] and "Init Duration" not in reports[2]
    assert "started a lambdalab server in the background" in invokes[0].stderr
    assert "started" not in invokes[1].stderr + invokes[2].stderr  # announced once

    status = lambdalab("status", cwd=project / "hello")
    assert str(project.resolve() / ".lambdalab") in status.stdout and "pid" in status.stdout
    pid = daemon.read_state(project / ".lambdalab").pid  # type: ignore[union-attr]
    stopped = lambdalab("stop", cwd=project)
    assert stopped.returncode == 0 and "Stopped" in stopped.stdout
    assert not daemon._alive(pid) or _reaped(pid)
    assert "No lambdalab server runs" in lambdalab("status", cwd=project).stdout


def _reaped(pid: int) -> bool:
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass
    return not daemon._alive(pid)


# -- the same output and exit codes, through the server or not ------------------------


RunBoth = Callable[..., "tuple[Result, Result]"]


def both_ways(root: Path) -> RunBoth:
    """``run(*args)`` → (result in its own process, result through the server), each on
    a data dir under ``root`` holding ``echo`` and ``fails``. The server of
    ``root / "server"`` is the caller's to stop."""
    runner = CliRunner()
    dirs = {"alone": root / "alone", "server": root / "server"}
    for name, source in (("echo", ECHO), ("fails", FAILING)):
        code = root / "code" / name
        code.mkdir(parents=True)
        (code / "app.py").write_text(textwrap.dedent(source))
        for data_dir in dirs.values():
            args = ["--data-dir", str(data_dir), "create", name, "--code", str(code),
                    "--handler", "app.handler"]
            assert runner.invoke(cli.main, args).exit_code == 0

    def run(*args: str, input: str | None = None) -> tuple[Result, Result]:
        results = []
        with pytest.MonkeyPatch.context() as env:  # as it was after each call
            env.delenv("LAMBDALAB_DATA_DIR", raising=False)
            for mode, data_dir in dirs.items():
                if mode == "alone":
                    env.setenv(daemon.NO_DAEMON_ENV, "1")
                else:
                    env.delenv(daemon.NO_DAEMON_ENV, raising=False)
                results.append(runner.invoke(cli.main, ["--data-dir", str(data_dir), *args], input=input))
        assert daemon.read_state(dirs["server"]) is not None, server_log(dirs["server"])  # the second went through one
        return results[0], results[1]

    return run


@pytest.fixture
def run_both(tmp_path: Path, servers: list[Path]) -> RunBoth:
    servers.append(tmp_path / "server")
    return both_ways(tmp_path)


@contextlib.contextmanager
def shared(root: Path) -> Iterator[RunBoth]:
    """:func:`both_ways` on one pair of data dirs under ``root`` for several tests, its
    one server stopped at the end."""
    try:
        yield both_ways(root)
    finally:
        daemon.stop(root / "server")
    assert daemon.read_state(root / "server") is None


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunBoth]:
    """:func:`shared` for the module's commands that only read what is there (or add the
    same to both): ``echo`` invoked (a log to read), published and aliased once."""
    with shared(tmp_path_factory.mktemp("published")) as run:
        run("invoke", "echo", '{"to": "the log"}')  # starts the server; a log to read
        run("publish", "echo")
        run("alias", "create", "echo", "live", "--version", "1", "--routing", "$LATEST=0.5")
        yield run


@pytest.fixture(scope="module")
def invoked(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunBoth]:
    """:func:`shared` for the module's invokes: what an invoke prints does not depend on
    the invokes before it (an ``Event`` one, which runs later on one side only, comes
    last)."""
    with shared(tmp_path_factory.mktemp("invoked")) as run:
        yield run


def server_log(data_dir: Path) -> str:
    """What a background server wrote to its stderr: why it stopped, if it said."""
    try:
        return (data_dir / daemon.LOG_FILE).read_text()[-4000:]
    except OSError:
        return "(no server log)"


def same(alone: Result, served: Result) -> None:
    def scrub(text: str) -> str:
        text = re.sub(r"lambdalab: started a lambdalab server.*\n", "", text)
        text = re.sub(r"/(alone|server)/", "/<data dir>/", text)  # in stack traces
        return UUID.sub("<id>", text)

    assert served.exit_code == alone.exit_code, (alone.output, served.output)
    assert scrub(served.stdout) == scrub(alone.stdout)
    assert scrub(served.stderr) == scrub(alone.stderr)


@pytest.mark.parametrize(
    "args",
    [
        ("invoke", "echo", '{"k": [1, "two"]}'),
        ("invoke", "echo"),
        ("invoke", "nobody"),
        ("invoke", "echo", "{not json"),
        ("invoke", "fails"),
        ("invoke", "echo", "--qualifier", "7"),
        ("invoke", "echo", "--invocation-type", "DryRun"),
        ("invoke", "echo", "{}", "--invocation-type", "Event"),
    ],
    ids=lambda a: " ".join(a),
)
def test_invoke_prints_the_same_through_the_server(invoked, args) -> None:
    same(*invoked(*args))


def test_piped_payload_and_log_tail_through_the_server(run_both) -> None:
    alone, served = run_both("invoke", "echo", "--payload-file", "-", "--log-type", "Tail",
                             input='{"piped": true}')
    assert served.exit_code == alone.exit_code == 0
    assert json.loads(served.stdout) == json.loads(alone.stdout) == {"piped": True}
    lines = [line.split(" RequestId")[0] for line in served.stderr.splitlines() if "RequestId" in line]
    assert lines[-3:] == ["START", "END", "REPORT"]


def test_list_prints_the_same_through_the_server(run_both) -> None:
    alone, served = run_both("invoke", "echo")  # starts the server
    alone, served = run_both("list")
    assert served.exit_code == alone.exit_code == 0
    def strip(out: str) -> str:  # the times, and the data dirs' names and padding
        out = re.sub(r"\d{4}-\d\d-\d\dT[0-9:.]+\+0000", "<time>", out)
        return "\n".join(line.rstrip() for line in re.sub(r"/(alone|server)\b", "/<dir>", out).splitlines())

    assert strip(served.stdout) == strip(alone.stdout)
    assert "echo" in served.stdout and "fails" in served.stdout


# -- a server's life -------------------------------------------------------------------


def test_an_idle_server_stops_by_itself(servers, tmp_path, code, monkeypatch) -> None:
    monkeypatch.setenv(daemon.IDLE_TIMEOUT_ENV, "0.5")
    data_dir = tmp_path / "data"
    servers.append(data_dir)
    run = lambda *a: CliRunner().invoke(cli.main, ["--data-dir", str(data_dir), *a])  # noqa: E731
    assert run("create", "echo", "--code", str(code(app=ECHO)), "--handler", "app.handler").exit_code == 0
    assert run("invoke", "echo").exit_code == 0
    info = daemon.read_state(data_dir)
    assert info is not None and info.idle_timeout == 0.5
    os.waitpid(info.pid, 0)  # the CLI in this process started it: it is our child
    assert daemon.read_state(data_dir) is None
    assert not (data_dir / daemon.STATE_FILE).exists()


def test_stop_and_status_without_a_server(servers, tmp_path) -> None:
    run = lambda *a: CliRunner().invoke(cli.main, ["--data-dir", str(tmp_path / "none"), *a])  # noqa: E731
    assert "No lambdalab server runs for" in run("status").stdout
    assert "No lambdalab server runs for" in run("stop").stdout


def test_a_running_serve_is_what_the_cli_uses(servers, tmp_path, code) -> None:
    data_dir = tmp_path / "data"
    env = {**learner_env(), "LAMBDALAB_DATA_DIR": str(data_dir), "PYTHONUNBUFFERED": "1"}
    src = code(app=COUNTER)
    assert lambdalab("create", "hello", "--code", str(src), "--handler", "app.handler",
                     cwd=tmp_path, env=env).returncode == 0
    serve = subprocess.Popen([LAMBDALAB, "serve", "--port", "0"], env=env, cwd=tmp_path,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert lambdalab("status", "--wait", cwd=tmp_path, env=env).returncode == 0
        first = lambdalab("invoke", "hello", cwd=tmp_path, env=env)
        second = lambdalab("invoke", "hello", cwd=tmp_path, env=env)
        assert [json.loads(r.stdout)["count"] for r in (first, second)] == [1, 2]
        assert "started" not in first.stderr  # serve was there: nothing started
        assert "started by `lambdalab serve`" in lambdalab("status", cwd=tmp_path, env=env).stdout
        serve.send_signal(signal.SIGTERM)
        assert serve.wait(timeout=60) == 0
        assert daemon.read_state(data_dir) is None
    finally:
        if serve.poll() is None:
            serve.kill()
            serve.wait()


# -- what a command imports -------------------------------------------------------------


def imports_of(args: list[str], cwd: Path) -> set[str]:
    """The modules ``lambdalab ARGS`` has imported when it ends (in a fresh interpreter)."""
    script = (
        "import sys, atexit\n"
        "atexit.register(lambda: sys.__stderr__.write('MODULES ' + ' '.join(sys.modules)))\n"
        "from lambdalab.cli.app import main\n"
        f"main({args!r})\n"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=cwd, env=learner_env(),
                          capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    return set(done.stderr.rpartition("MODULES ")[2].split())


HEAVY = {"lambdalab.lab", "rich", "boto3", "botocore", "http.client", "starlette", "uvicorn",
         "importlib.metadata", "lambdalab_s3", "lambdalab.cli.course"}


def test_help_and_a_warm_invoke_import_neither_the_lab_nor_rich(servers, tmp_path, code, monkeypatch) -> None:
    monkeypatch.setenv("LAMBDALAB_CACHE_DIR", str(tmp_path / "cache"))  # nothing remembered yet
    data_dir = tmp_path / ".lambdalab"
    servers.append(data_dir)
    src = code(app=ECHO)
    assert lambdalab("create", "echo", "--code", str(src), "--handler", "app.handler", cwd=tmp_path).returncode == 0
    assert lambdalab("invoke", "echo", cwd=tmp_path).returncode == 0  # starts the server
    # The first --help after an install loads the plugins to learn their commands (hook
    # lambdalab_register_commands), and remembers them: later ones import none of them.
    assert {"lambdalab_s3", "lambdalab_sqs"} <= imports_of(["--help"], tmp_path)
    assert HEAVY & imports_of(["--help"], tmp_path) == set()
    assert HEAVY & imports_of(["invoke", "echo"], tmp_path) == set()


def test_lazy_commands_are_listed_with_their_own_help() -> None:
    from lambdalab.cli.events import event

    for group in (cli.main, event):
        for name, (_, _, short_help) in group.lazy_commands.items():
            command = group.get_command(click_context(group), name)
            assert command is not None, name
            assert command.get_short_help_str(1000) == short_help
    assert "lab" in cli.main.lazy_commands
    # the built-in triggers' commands come from their plugins, not from a list in core
    assert {"s3", "sqs", "esm", "schedule"} <= set(cli.main.list_commands(click_context(cli.main)))
    assert not {"s3", "sqs", "esm", "schedule"} & set(cli.main.lazy_commands)


def click_context(group):
    import click

    return click.Context(group)


def test_what_other_commands_change_reaches_the_server(servers, tmp_path, code) -> None:
    """update-code, concurrency and delete open the data dir themselves; the server's next
    invoke sees what they changed (its warm environment belongs to the old revision)."""
    data_dir = tmp_path / "data"
    servers.append(data_dir)
    run = lambda *a: CliRunner().invoke(cli.main, ["--data-dir", str(data_dir), *a])  # noqa: E731
    assert run("create", "fn", "--code", str(code(app=COUNTER)), "--handler", "app.handler").exit_code == 0
    assert json.loads(run("invoke", "fn").stdout)["count"] == 1
    assert json.loads(run("invoke", "fn").stdout)["count"] == 2  # warm
    assert run("update-code", "fn", "--code", str(code(app=ECHO))).exit_code == 0
    assert json.loads(run("invoke", "fn", '{"new": "code"}').stdout) == {"new": "code"}
    assert run("concurrency", "put", "fn", "0").exit_code == 0
    throttled = run("invoke", "fn")
    assert throttled.exit_code == 2 and throttled.stderr.startswith("TooManyRequestsException: ")
    assert run("delete", "fn").exit_code == 0
    gone = run("invoke", "fn")
    assert gone.exit_code == 2 and gone.stderr.startswith("ResourceNotFoundException: ")
    assert daemon.read_state(data_dir) is not None  # all of it through one server


def test_status_all_shows_every_background_server(servers, tmp_path, code) -> None:
    dirs = [tmp_path / "one", tmp_path / "two"]
    servers.extend(dirs)
    for data_dir in dirs:
        run = lambda *a: CliRunner().invoke(cli.main, ["--data-dir", str(data_dir), *a])  # noqa: E731
        assert run("create", "fn", "--code", str(code(app=ECHO)), "--handler", "app.handler").exit_code == 0
        assert run("invoke", "fn").exit_code == 0
    listed = CliRunner().invoke(cli.main, ["status", "--all"]).stdout
    for data_dir in dirs:
        assert f"{data_dir.resolve()}: lambdalab server on http://127.0.0.1:" in listed


def test_a_stale_server_record_is_replaced(servers, tmp_path, code) -> None:
    """A record naming a live process that does not listen (a pid reused after a crash)."""
    data_dir = tmp_path / "data"
    servers.append(data_dir)
    run = lambda *a: CliRunner().invoke(cli.main, ["--data-dir", str(data_dir), *a])  # noqa: E731
    assert run("create", "fn", "--code", str(code(app=ECHO)), "--handler", "app.handler").exit_code == 0
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    daemon.write_state(daemon.ServerInfo(os.getpid(), f"http://127.0.0.1:{port}", str(data_dir),
                                         None, daemon.BACKGROUND, 60))
    result = run("invoke", "fn", "{}")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {}
    info = daemon.read_state(data_dir)
    assert info is not None and info.pid != os.getpid()


def test_every_public_name_still_imports_from_the_package() -> None:
    """lambdalab's public names are imported on first use (so the CLI starts fast)."""
    import lambdalab

    assert set(lambdalab._HOMES) == set(lambdalab.__all__)
    import importlib

    for name in lambdalab.__all__:
        home = importlib.import_module(f"lambdalab.{lambdalab._HOMES[name]}")
        assert getattr(lambdalab, name) is getattr(home, name)
    with pytest.raises(AttributeError):
        lambdalab.nothing_of_that_name  # noqa: B018


def test_a_server_that_hangs_up_is_an_error_not_a_traceback(servers, tmp_path) -> None:
    """The invoke may have run: the CLI says what happened and does not send it again."""
    import threading

    data_dir = tmp_path / "data"
    data_dir.mkdir()
    listener = socket.create_server(("127.0.0.1", 0))
    accepted = []

    def hang_up() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            accepted.append(conn.recv(65536))
            conn.close()

    threading.Thread(target=hang_up, daemon=True).start()
    port = listener.getsockname()[1]
    daemon.write_state(daemon.ServerInfo(os.getpid(), f"http://127.0.0.1:{port}", str(data_dir),
                                         None, daemon.BACKGROUND, 60))
    try:
        result = CliRunner().invoke(cli.main, ["--data-dir", str(data_dir), "invoke", "fn"])
    finally:
        listener.close()
        daemon.clear_state(data_dir, os.getpid())
    assert result.exit_code == 2, result.output
    assert "closed the connection before answering" in result.stderr
    assert "Traceback" not in result.output
    assert sum(b"POST /2015-03-31/functions/fn/invocations" in r for r in accepted) == 1


def test_another_sandbox_than_the_servers_runs_here_and_says_so(servers, tmp_path, code,
                                                                monkeypatch) -> None:
    monkeypatch.delenv("LAMBDALAB_SANDBOX", raising=False)
    data_dir = tmp_path / "data"
    servers.append(data_dir)
    run = lambda *a: CliRunner().invoke(cli.main, ["--data-dir", str(data_dir), *a])  # noqa: E731
    assert run("create", "fn", "--code", str(code(app=COUNTER)), "--handler", "app.handler").exit_code == 0
    assert run("invoke", "fn").exit_code == 0  # starts the server with the default sandbox
    other = CliRunner().invoke(cli.main, ["--data-dir", str(data_dir), "--sandbox", "subprocess", "invoke", "fn"])
    assert other.exit_code == 0, other.output
    assert json.loads(other.stdout)["count"] == 1  # its own process: a new environment
    assert "runs in its own process" in other.stderr and "subprocess" in other.stderr


# -- read-only and simple commands through a running server ----------------------------


def scrub_times(text: str) -> str:
    """Without what differs between two data dirs: times, code hashes, durations."""
    text = re.sub(r"\d{4}-\d\d-\d\dT[0-9:.]+(\+0000|Z)", "<time>", text)
    text = re.sub(r"[\d.]+ (ms|MB)", "<n> \\1", text)
    text = re.sub(r"[ \t]+", " ", text)  # rich expands tabs: padding follows the widths
    return re.sub(r"[0-9a-f]{64}|[A-Za-z0-9+/]{43}=", "<sha>", text)


@pytest.mark.parametrize(
    "args",
    [
        ("get", "echo"),
        ("get", "echo", "--qualifier", "$LATEST"),
        ("get", "nobody"),
        ("get", "echo", "--qualifier", "9"),
        ("versions", "echo"),
        ("versions", "nobody"),
        ("alias", "get", "echo", "live"),
        ("alias", "get", "echo", "nothing"),
        ("alias", "list", "echo"),
        ("alias", "list", "nobody"),
        ("logs", "echo"),
        ("logs", "nobody"),
        ("publish", "echo", "--description", "again"),
        ("publish", "nobody"),
    ],
    ids=lambda a: " ".join(a),
)
def test_simple_commands_print_the_same_through_the_server(published, args) -> None:
    alone, served = published(*args)
    assert served.exit_code == alone.exit_code
    for field in ("stdout", "stderr"):
        seen = [scrub_times(getattr(r, field)) for r in (alone, served)]
        seen = [re.sub(r"/(alone|server)\b", "/<dir>", UUID.sub("<id>", s)) for s in seen]
        seen = [re.sub(r"http://127\.0\.0\.1:\d+", "<edge>", s) for s in seen]
        assert seen[1] == seen[0], (field, alone.output, served.output)


def test_simple_commands_do_not_open_the_lab_when_a_server_runs(servers, tmp_path, code) -> None:
    data_dir = tmp_path / ".lambdalab"
    servers.append(data_dir)
    src = code(app=ECHO)
    assert lambdalab("create", "echo", "--code", str(src), "--handler", "app.handler", cwd=tmp_path).returncode == 0
    assert lambdalab("invoke", "echo", cwd=tmp_path).returncode == 0  # starts the server
    for args in (["publish", "echo"], ["get", "echo"], ["versions", "echo"], ["logs", "echo"],
                 ["alias", "list", "echo"], ["get", "nobody"]):
        assert "lambdalab.lab" not in imports_of(args, tmp_path), args
    assert {"lambdalab.lab", "rich"} & imports_of(["get", "echo"], tmp_path) == set()


def test_the_clis_own_routes_refuse_what_they_do_not_serve(servers, tmp_path, code) -> None:
    data_dir = tmp_path / ".lambdalab"
    servers.append(data_dir)
    src = code(app=ECHO)
    assert lambdalab("create", "echo", "--code", str(src), "--handler", "app.handler", cwd=tmp_path).returncode == 0
    assert lambdalab("invoke", "echo", cwd=tmp_path).returncode == 0
    server = daemon.read_state(data_dir)
    assert server is not None
    for method, path, code_ in (
        ("GET", "/_lambdalab/cli/logs", "InvalidParameterValueException"),
        ("GET", "/_lambdalab/cli/logs?FunctionName=echo&AfterId=%C2%B2", "InvalidParameterValueException"),
        ("GET", "/_lambdalab/cli/logs?FunctionName=echo&AfterId=" + "9" * 40, "InvalidParameterValueException"),
        ("GET", "/_lambdalab/cli/function?FunctionName=nobody", "ResourceNotFoundException"),
        ("POST", "/_lambdalab/cli/logs?FunctionName=echo", "ResourceNotFoundException"),
        ("GET", "/_lambdalab/cli/secrets", "ResourceNotFoundException"),
    ):
        with pytest.raises(daemon.RemoteError) as refused:
            daemon.request(server, method, path)
        assert refused.value.code == code_, (path, refused.value)
    assert len(daemon.get_logs(server, "echo")) >= 4  # START, END, REPORT… of the invoke


def test_an_edge_that_checks_signatures_keeps_the_clis_routes_shut(tmp_path, code) -> None:
    from lambdalab import Lab
    from lambdalab.server import EdgeServer

    with Lab(data_dir=tmp_path / "data") as lab:
        lab.create_function("echo", code(app=ECHO), handler="app.handler")
        lab.invoke("echo", {})
        with EdgeServer(lab, port=0, auth_keys={"AKIDLAB": "s3cret"}) as guarded:
            info = daemon.ServerInfo(os.getpid(), guarded.url, str(tmp_path / "data"), None,
                                     daemon.SERVE, None)
            for path in ("/_lambdalab/cli/logs?FunctionName=echo",
                         "/_lambdalab/cli/function?FunctionName=echo"):
                with pytest.raises(daemon.RemoteError) as shut:
                    daemon.request(info, "GET", path)
                assert shut.value.code == "ResourceNotFoundException"
