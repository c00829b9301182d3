"""The CloudWatch Logs API of a real ``lambdalab serve`` process, driven by boto3 alone:
a subscription filter delivers through the server's own delivery thread."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Iterator

import pytest

from tests.edge_support import client_for, create
from tests.test_logs_api import GROUP, NOISY, RECEIVER, allow_logs


@pytest.fixture
def served(tmp_path: Path) -> Iterator[str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "200"}
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "lambdalab"), "--data-dir", str(tmp_path / "d"),
         "serve", "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )
    try:
        first = proc.stdout.readline() if proc.stdout else ""
        assert first.startswith("lambdalab edge on http://127.0.0.1:"), first
        yield first.split()[3]
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_a_subscription_filter_delivers_under_lambdalab_serve(served: str) -> None:
    lambda_, logs = client_for(served), client_for(served, "logs")
    create(lambda_, "noisy", NOISY)
    create(lambda_, "receiver", RECEIVER)
    lambda_.invoke(FunctionName="noisy", Payload=json.dumps({"lines": ["warm up"]}))
    allow_logs(lambda_, "receiver")
    arn = lambda_.get_function(FunctionName="receiver")["Configuration"]["FunctionArn"]
    logs.put_subscription_filter(logGroupName=GROUP, filterName="errors",
                                 filterPattern='{ $.level = "ERROR" }', destinationArn=arn)
    lambda_.invoke(FunctionName="noisy", Payload=json.dumps(
        {"lines": ['{"level": "ERROR", "msg": "disk full"}', '{"level": "INFO"}']}))
    found: list[Any] = []
    deadline = time.monotonic() + 60  # a condition wait: the server delivers on its own
    while not found and time.monotonic() < deadline:
        try:
            found = logs.filter_log_events(logGroupName="/aws/lambda/receiver",
                                           filterPattern="GOT")["events"]
        except logs.exceptions.ResourceNotFoundException:
            pass  # the receiver has not run yet: its group does not exist
        time.sleep(0.2)
    assert len(found) == 1
    message = json.loads(found[0]["message"].removeprefix("GOT "))
    assert [e["message"] for e in message["logEvents"]] == [
        '{"level": "ERROR", "msg": "disk full"}\n']
