"""The README's tour, run as written, in a fresh folder: every command works after the
README's first line alone, or after the install the README names just before it.

The blocks run in order in one folder, with the test's venv first on PATH (it has
``.[test]``, which holds the ``aws`` extra, so the ``pip install`` lines are checked to be
there, not run). One change: ``lambdalab serve`` listens on a free port instead of 9001,
which another test on this machine may hold. Background servers are stopped at the end.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from lambdalab.cli import daemon
from lambdalab.cli.demo import report_fields

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCK = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)


def blocks(language: str) -> list[str]:
    return [body for lang, body in BLOCK.findall(README.read_text()) if lang == language]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv(daemon.NO_DAEMON_ENV, raising=False)
    monkeypatch.delenv("LAMBDALAB_DATA_DIR", raising=False)
    yield tmp_path
    daemon.stop(tmp_path / ".lambdalab")


def env() -> dict[str, str]:
    bin_dir = str(Path(sys.executable).parent)
    keep = {k: v for k, v in os.environ.items() if k not in (daemon.NO_DAEMON_ENV, "LAMBDALAB_DATA_DIR")}
    return {**keep, "PATH": bin_dir + os.pathsep + keep.get("PATH", ""), "COLUMNS": "200"}


def bash(script: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", "-c", script], cwd=cwd, env=env(), capture_output=True,
                          text=True, timeout=300, stdin=subprocess.DEVNULL)


def without_installs(block: str) -> str:
    return "\n".join(line for line in block.splitlines() if not line.startswith("pip install"))


def test_the_readme_tour_runs_as_written(folder: Path) -> None:
    write_handler, cli_tour, clients = blocks("bash")[:3]
    assert "cat > hello/app.py" in write_handler
    assert bash(write_handler, folder).returncode == 0

    tour = bash(cli_tour, folder)
    assert "Traceback" not in tour.stderr and "command not found" not in tour.stderr, tour.stderr
    assert "exit 2" in tour.stdout and "ResourceNotFoundException" in tour.stderr
    tails = tour.stderr.split("START RequestId")
    assert "Init Duration" in report_fields("START" + tails[1])
    assert "Init Duration" not in report_fields("START" + tails[2])  # the second is warm
    assert "Hello, Grace!" in tour.stdout and "Hello, Linus!" in tour.stdout

    python_tour = blocks("python")[0]
    for _ in range(2):  # twice: a second run starts afresh
        done = subprocess.run([sys.executable, "-c", python_tour], cwd=folder, env=env(),
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        assert "ResourceNotFoundException" in done.stdout and "49" in done.stdout

    assert clients.splitlines()[0].startswith("pip install -e '.[aws]'")  # said before use
    port = str(free_port())
    script = without_installs(clients).replace("9001", port)
    script = script.replace("lambdalab serve &", f"lambdalab serve --port {port} &")
    served = bash(script, folder)
    assert served.returncode == 0, served.stderr
    assert "Traceback" not in served.stderr and "command not found" not in served.stderr
    listed = json.loads(served.stdout[served.stdout.index("{"): served.stdout.rindex("}") + 1]
                        .split("\nb'")[0])
    assert "hello" in {f["FunctionName"] for f in listed["Functions"]}
    assert "Hello, world!" in served.stdout  # boto3's invoke
    assert daemon.read_state(folder / ".lambdalab") is None  # lambdalab stop stopped serve


def test_the_aws_extra_has_boto3_and_the_aws_cli_and_test_has_them_too() -> None:
    import tomllib

    extras = tomllib.loads((README.parent / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    names = lambda reqs: {re.split(r"[<>=\[ ;]", r)[0] for r in reqs}  # noqa: E731
    assert {"boto3", "awscli"} <= names(extras["aws"]) <= names(extras["test"])
