"""The peers of the HTTP edge: serverless-offline's Lambda Invoke, and a minimal uvicorn app.

serverless-offline is what people pick to run Python handlers over HTTP without Docker:
the ``serverless`` v3 CLI (the last 3.x) with the ``serverless-offline`` plugin that
supports v3 (13.x; 14.x wants v4), installed from the npm registry into
``~/.cache/lambdalab-bench/serverless`` (outside the repo) on first use, telemetry and
notifications off, no AWS account. It serves one ``python3.11`` function ``handler.echo``
and is invoked, like lambdalab, at Lambda's Invoke endpoint
(``POST /2015-03-31/functions/<service>-<stage>-echo/invocations``) on its lambda port.

The floor is the least any Python server can do for the same request: a bare ASGI app on
uvicorn (httptools, uvloop, no access log) answering the POST with its body. It runs as
``python peer_serverless_offline.py floor PORT``.
"""

from __future__ import annotations

import http.client
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

SERVERLESS = "serverless@3.40.0"
OFFLINE = "serverless-offline@13.9.0"
CACHE = Path(os.environ.get("LAMBDALAB_BENCH_CACHE", Path.home() / ".cache" / "lambdalab-bench")) / "serverless"
SERVICE, STAGE = "bench", "dev"
FUNCTION = f"{SERVICE}-{STAGE}-echo"
#: Seconds a peer gets to answer its first request.
START_TIMEOUT = 120.0

SERVERLESS_YML = f"""\
service: {SERVICE}
frameworkVersion: '3'
provider:
  name: aws
  runtime: python3.11
  stage: {STAGE}
  region: us-east-1
functions:
  echo:
    handler: handler.echo
    events:
      - httpApi:
          path: /echo
          method: post
plugins:
  - serverless-offline
"""
HANDLER = "def echo(event, context):\n    return event\n"
QUIET = {"SLS_TELEMETRY_DISABLED": "1", "SLS_NOTIFICATIONS_MODE": "off",
         "SLS_DEPRECATION_DISABLE": "*", "AWS_ACCESS_KEY_ID": "bench",
         "AWS_SECRET_ACCESS_KEY": "bench"}


def missing() -> str | None:
    """Why serverless-offline cannot run here (``None`` when it can)."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        return "Node.js and npm are not installed: serverless-offline skipped"
    return None


def install() -> Path:
    """The cache folder holding the two npm packages, installed there the first time."""
    binary = CACHE / "node_modules" / ".bin" / "serverless"
    if not binary.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        if not (CACHE / "package.json").exists():
            (CACHE / "package.json").write_text('{"name": "lambdalab-bench", "private": true}\n')
        subprocess.run(["npm", "install", "--no-audit", "--no-fund", SERVERLESS, OFFLINE],
                       cwd=CACHE, check=True, capture_output=True, timeout=900)
    return binary


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_answering(port: int, path: str, proc: subprocess.Popen[Any]) -> None:
    """Until ``POST path`` answers 200 (the first one also starts the handler's runtime)."""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"peer exited with {proc.returncode}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            conn.request("POST", path, body=b'{"a": 1}')
            response = conn.getresponse()
            response.read()
            conn.close()
            if response.status == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"peer on port {port} did not answer {path} in {START_TIMEOUT:.0f} s")


def start_serverless_offline(folder: Path) -> tuple[subprocess.Popen[bytes], int, str]:
    """``serverless offline`` serving the echo function: its process, lambda port and the
    Invoke path, once it answers. Its output goes to ``folder/offline.log``."""
    binary = install()
    (folder / "serverless.yml").write_text(SERVERLESS_YML)
    (folder / "handler.py").write_text(HANDLER)
    (folder / "node_modules").symlink_to(CACHE / "node_modules")
    lambda_port, http_port = free_port(), free_port()
    log = open(folder / "offline.log", "wb")
    proc = subprocess.Popen(
        [str(binary), "offline", "start", "--lambdaPort", str(lambda_port),
         "--httpPort", str(http_port), "--noPrependStageInUrl"],
        cwd=folder, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **QUIET},
        start_new_session=True,
    )
    path = f"/2015-03-31/functions/{FUNCTION}/invocations"
    try:
        wait_answering(lambda_port, path, proc)
    except Exception:
        stop(proc)
        raise
    return proc, lambda_port, path


def start_floor() -> tuple[subprocess.Popen[bytes], int]:
    """The minimal uvicorn app in its own process, and its port, once it answers."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, __file__, "floor", str(port)], start_new_session=True)
    try:
        wait_answering(port, "/2015-03-31/functions/echo/invocations", proc)
    except Exception:
        stop(proc)
        raise
    return proc, port


def stop(proc: subprocess.Popen[Any]) -> None:
    """Stop a peer and every process it started (its own session)."""
    try:
        os.killpg(proc.pid, 15)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, 9)
        proc.wait(timeout=30)


async def floor_app(scope: Any, receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": body})


def serve_floor(port: int) -> None:
    import uvicorn

    uvicorn.run(floor_app, host="127.0.0.1", port=port, loop="uvloop", http="httptools",
                access_log=False, log_level="warning", lifespan="off")


if __name__ == "__main__":
    if sys.argv[1:2] == ["floor"]:
        serve_floor(int(sys.argv[2]))
