"""``lambdalab logs NAME --filter PATTERN [--follow]``: CloudWatch's filter patterns on
the command line (``aws logs tail`` is AWS CLI v2's, tested in test_logs_api.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import pytest
from click.testing import CliRunner, Result

from lambdalab import Lab
from lambdalab.cli import app as cli

PRINTER = """
def handler(event, context):
    for line in event["lines"]:
        print(line)
"""


@pytest.fixture
def data_dir(tmp_path: Path, code: Callable[..., Path]) -> Path:
    data = tmp_path / "data"
    with Lab(data_dir=data) as lab:
        lab.create_function("printer", code=code(app=PRINTER), handler="app.handler")
        lab.invoke("printer", {"lines": ["ERROR one", "INFO two", '{"level": "ERROR"}']})
    return data


def run(data_dir: Path, *args: str) -> Result:
    return CliRunner().invoke(cli.main, ["--data-dir", str(data_dir), "logs", *args])


def test_filter_prints_only_matching_events(data_dir: Path) -> None:
    out = run(data_dir, "printer", "--filter", "ERROR -level").stdout
    assert "ERROR one" in out and "INFO two" not in out and "level" not in out
    assert "START RequestId" not in out
    json_out = run(data_dir, "printer", "--filter", '{ $.level = "ERROR" }').stdout
    assert '{"level": "ERROR"}' in json_out and "ERROR one" not in json_out


def test_a_bad_filter_is_a_usage_error(data_dir: Path) -> None:
    result = run(data_dir, "printer", "--filter", "{ $.level = ")
    assert result.exit_code == 2 and "Invalid filter pattern" in result.stderr
    assert "Traceback" not in result.output


def test_follow_with_a_filter_prints_new_matching_events(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    polls = []

    def sleep(seconds: float) -> None:
        polls.append(seconds)
        if len(polls) > 1:
            raise KeyboardInterrupt
        with Lab(data_dir=data_dir) as other:  # another process would do this
            other.invoke("printer", {"lines": ["ERROR late", "INFO late"]})

    monkeypatch.setattr(cli, "_sleep", sleep)
    result = run(data_dir, "printer", "--follow", "--filter", "?late ?one")
    assert result.exit_code == 0
    assert [line.split("  ", 1)[1] for line in result.stdout.splitlines()] == [
        "ERROR one", "ERROR late", "INFO late"]
