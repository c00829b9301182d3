"""The AWS CLI against the edge, and ``lambdalab serve`` as a real process."""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from lambdalab.cli.app import main
from lambdalab.server import EdgeServer

from .edge_support import ROLE, edge, zip_of  # noqa: F401  (fixtures)
from .test_edge_errors import raw

AWS = str(Path(sys.executable).parent / "aws")


def aws(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE",
        "AWS_SECRET_ACCESS_KEY": "not-checked",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_MAX_ATTEMPTS": "1",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    }
    return subprocess.run(
        [AWS, "--endpoint-url", url, "--output", "json", "lambda", *args],
        capture_output=True, text=True, env=env, timeout=120,
    )


def test_aws_cli_creates_invokes_and_lists(edge: EdgeServer, tmp_path: Path) -> None:
    package = tmp_path / "fn.zip"
    package.write_bytes(zip_of(app="def handler(event, context):\n    print('cli!')\n    return {'got': event}\n"))
    created = aws(
        edge.url, "create-function", "--function-name", "cli-fn", "--runtime", "python3.11",
        "--role", ROLE, "--handler", "app.handler", "--zip-file", f"fileb://{package}",
    )
    assert created.returncode == 0, created.stderr
    assert json.loads(created.stdout)["FunctionName"] == "cli-fn"

    out = tmp_path / "out.json"
    invoked = aws(
        edge.url, "invoke", "--function-name", "cli-fn", "--payload", '{"x": 1}',
        "--log-type", "Tail", str(out),
    )
    assert invoked.returncode == 0, invoked.stderr
    meta = json.loads(invoked.stdout)
    assert meta["StatusCode"] == 200 and meta["ExecutedVersion"] == "$LATEST"
    assert "cli!" in base64.b64decode(meta["LogResult"]).decode()
    assert json.loads(out.read_text()) == {"got": {"x": 1}}

    listed = aws(edge.url, "list-functions")
    assert [f["FunctionName"] for f in json.loads(listed.stdout)["Functions"]] == ["cli-fn"]


def test_aws_cli_shows_aws_errors(edge: EdgeServer) -> None:
    missing = aws(edge.url, "get-function", "--function-name", "nope")
    assert missing.returncode != 0
    assert "ResourceNotFoundException" in missing.stderr
    assert "Traceback" not in missing.stderr


def test_serve_runs_until_sigterm(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "200"}
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "lambdalab"), "--data-dir", str(tmp_path / "d"), "serve", "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )
    try:
        first = proc.stdout.readline() if proc.stdout else ""
        assert first.startswith("lambdalab edge on http://127.0.0.1:"), first + proc.stderr.read()
        url = first.split()[3]
        status, _, body = raw(url, "GET", "/_lambdalab/health")
        assert (status, body["status"]) == (200, "ok")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_serve_starts_the_fork_server_before_the_first_invoke(tmp_path: Path) -> None:
    """The fork server and its preloads start with ``serve``, so the first invoke after
    it starts is not the one that waits for them (issue 21's start-up figure)."""
    import time

    import psutil

    env = {**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "200"}
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "lambdalab"), "--data-dir", str(tmp_path / "d"), "serve", "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )
    try:
        first = proc.stdout.readline() if proc.stdout else ""
        assert first.startswith("lambdalab edge on http://127.0.0.1:"), first + proc.stderr.read()

        def fork_servers() -> list[psutil.Process]:
            return [child for child in psutil.Process(proc.pid).children()
                    if "lambdalab.runtime.forkserver" in " ".join(child.cmdline())]

        deadline = time.monotonic() + 60  # a bound on a loaded machine, not a figure
        while not fork_servers() and time.monotonic() < deadline:
            time.sleep(0.05)  # polling for an event, not waiting for time to pass
        assert fork_servers(), "serve has not started its fork server, though nothing was invoked"
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_serve_warns_off_loopback(tmp_path: Path) -> None:
    # 192.0.2.1 (TEST-NET-1) is not an address of this machine: the bind fails after
    # the warning, so nothing ever listens off loopback.
    result = CliRunner().invoke(
        main, ["--data-dir", str(tmp_path / "d"), "serve", "--host", "192.0.2.1", "--port", "0"]
    )
    assert result.exit_code != 0
    assert "Warning: listening on 192.0.2.1" in result.output
    assert "Cannot listen on 192.0.2.1:0" in result.output
