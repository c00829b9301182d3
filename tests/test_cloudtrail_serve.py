"""CloudTrail under a real ``lambdalab serve`` process: boto3 deletes a function, the AWS
CLI's ``lookup-events`` says who and when, and the trail outlives the server."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest
from click.testing import CliRunner

from lambdalab import cli

from .edge_support import client_for, create
from .test_edge_sqs import aws_cli

ALICE = "AKIDALICEEXAMPLE"


@contextmanager
def serving(data_dir: Path, *options: str) -> Iterator[str]:
    """``lambdalab serve`` on ``data_dir`` (with ``options``), stopped with SIGTERM (it
    must exit cleanly)."""
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "lambdalab"), "--data-dir", str(data_dir),
         "serve", "--port", "0", *options],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
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


@pytest.fixture
def served(tmp_path: Path) -> Iterator[str]:
    with serving(tmp_path / "d") as url:
        yield url


def test_who_deleted_my_function_under_lambdalab_serve(served: str) -> None:
    lambda_ = client_for(served, key=ALICE)
    create(lambda_, "resize")
    request_id = lambda_.delete_function(FunctionName="resize")["ResponseMetadata"]["RequestId"]
    answer = aws_cli(served, "cloudtrail", "lookup-events", "--lookup-attributes",
                     "AttributeKey=ResourceName,AttributeValue=resize")
    assert [e["EventName"] for e in answer["Events"]] == ["DeleteFunction", "CreateFunction"]
    deleted = answer["Events"][0]
    assert deleted["AccessKeyId"] == ALICE and deleted["EventSource"] == "lambda.amazonaws.com"
    record = json.loads(deleted["CloudTrailEvent"])
    assert record["requestID"] == request_id and record["sourceIPAddress"] == "127.0.0.1"


def test_lambdalab_trail_reads_what_a_stopped_server_recorded(tmp_path: Path) -> None:
    with serving(tmp_path / "d") as url:
        client_for(url, "sqs", key=ALICE).create_queue(QueueName="kept")
    result = CliRunner().invoke(cli.main, ["--data-dir", str(tmp_path / "d"), "trail"],
                                terminal_width=250)
    assert result.exit_code == 0, result.output
    assert any("sqs:CreateQueue" in line and ALICE in line for line in result.output.splitlines())
