"""Fixtures for the HTTP edge tests: a real edge on a free loopback port, real clients."""

from __future__ import annotations

import contextlib
import http.client
import io
import os
import signal
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import urlencode, urlsplit

import boto3
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

from lambdalab import Lab
from lambdalab.server import EdgeServer

ROLE = "arn:aws:iam::000000000000:role/lambda-role"
ECHO = """
def handler(event, context):
    print("echo", event)
    return event
"""


def readable_entry(name: str) -> zipfile.ZipInfo:
    """A zip entry for ``name`` with the ``644`` AWS asks of a package's files
    (``writestr(name, ...)`` alone gives ``600``, which a sandbox user cannot read)."""
    info = zipfile.ZipInfo(name, (1980, 1, 1, 0, 0, 0))
    info.external_attr = 0o100644 << 16
    return info


def zip_of(**modules: str) -> bytes:
    """A deployment package with ``modules`` (name → source) at its root."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, source in modules.items():
            archive.writestr(readable_entry(name.replace(".", "/") + ".py"), textwrap.dedent(source))
    return buffer.getvalue()


def client_for(url: str, service: str = "lambda", **credentials: str) -> Any:
    """A boto3 client of the edge that does not retry, so errors surface at once."""
    return boto3.client(
        service,
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id=credentials.get("key", "AKIDEXAMPLE"),
        aws_secret_access_key=credentials.get("secret", "not-checked"),
        config=Config(retries={"total_max_attempts": 1}, read_timeout=120),
    )


def query_post(url: str, service: str, params: dict[str, str]) -> tuple[int, bytes]:
    """POST a query-protocol request (``Action=…`` form body) to ``service``, SigV4-signed
    as SDKs sign it; the status and body of the answer."""
    body = urlencode(params)
    request = AWSRequest("POST", url + "/", data=body, headers={
        "Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
    SigV4Auth(Credentials("AKIDEXAMPLE", "not-checked"), service, "us-east-1").add_auth(request)
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    conn.request("POST", "/", body=body, headers=dict(request.headers.items()))
    response = conn.getresponse()
    data = response.read()
    conn.close()
    return response.status, data


def create(client: Any, name: str, source: str = ECHO, **settings: Any) -> dict[str, Any]:
    return client.create_function(
        FunctionName=name,
        Runtime=settings.pop("Runtime", "python3.11"),
        Role=ROLE,
        Handler=settings.pop("Handler", "app.handler"),
        Code={"ZipFile": zip_of(app=source)},
        **settings,
    )


@pytest.fixture
def edge(lab: Lab) -> Iterator[EdgeServer]:
    with EdgeServer(lab, port=0) as server:
        yield server


@pytest.fixture
def client(edge: EdgeServer) -> Any:
    return client_for(edge.url)


@contextlib.contextmanager
def killed_server(data: Path, env: dict[str, str] | None = None) -> Iterator[str]:
    """``lambdalab serve`` on ``data`` in a process of its own (``env``: variables added
    to this process's); yields its URL and, on leaving, kills it with SIGKILL (the
    durability tests' crash)."""
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "lambdalab"), "--data-dir", str(data), "serve", "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}, start_new_session=True)
    try:
        first = proc.stdout.readline() if proc.stdout else ""
        assert first.startswith("lambdalab edge on http://127.0.0.1:"), first
        yield first.split()[3]
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
