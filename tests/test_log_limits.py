"""Logs are bounded: CloudWatch Logs' event size, retention policies, and the data dir's cap
(https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/cloudwatch_limits_cwl.html)."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import pytest
from click.testing import CliRunner

from lambdalab import Lab, VirtualClock, limits
from lambdalab.cli.app import main
from lambdalab.errors import ResourceNotFoundException
from lambdalab.logs import InvalidParameterException, event_message

DAY = 86_400
ROOM = limits.LOG_EVENT_MAX_BYTES - limits.LOG_EVENT_OVERHEAD_BYTES
LONG_LINE = """
def handler(event, context):
    print("a" * (2 * 1024 * 1024) + "END")
    print("é" * (1024 * 1024))
    print("short")
    return "ok"
"""
PRINTER = """
def handler(event, context):
    for i in range(event["lines"]):
        print(f"{event['tag']} {i:08d} " + "x" * 1000)
    return "ok"
"""


def messages(lab: Lab, name: str) -> list[str]:
    """Every message of the function's log group, read page by page as ``--follow`` does."""
    out: list[str] = []
    after = 0
    while page := lab.get_logs(name, after_id=after):
        out.extend(e.message.removesuffix("\n") for e in page)  # AWS ends each with \n
        after = page[-1].id
    return out


def test_a_line_longer_than_an_event_is_cut_to_one_event(
    lab: Lab, code: Callable[..., Path]
) -> None:
    # The subprocess sandbox: the limited one currently loses the end of a line of
    # several hundred KB (its reader, not the log store).
    lab.create_function("long", code(app=LONG_LINE), handler="app.handler", timeout=60,
                        sandbox="subprocess")
    assert lab.invoke("long").json() == "ok"
    logged = messages(lab, "long")
    big = [m for m in logged if m.startswith("a")]
    assert len(big) == 1 and len(big[0].encode()) == ROOM and not big[0].endswith("END")
    accents = [m for m in logged if m.startswith("é")]
    assert len(accents) == 1
    assert ROOM - 1 <= len(accents[0].encode()) <= ROOM  # whole characters only
    assert "short" in logged


def test_event_message_keeps_short_lines_whole() -> None:
    assert event_message("hello") == "hello"
    assert event_message("x" * ROOM) == "x" * ROOM
    assert event_message("x" * (ROOM + 1)) == "x" * ROOM


def test_retention_deletes_events_older_than_its_days(
    lab: Lab, clock: VirtualClock, code: Callable[..., Path]
) -> None:
    lab.create_function("p", code(app=PRINTER), handler="app.handler")
    lab.invoke("p", {"lines": 1, "tag": "old"})
    clock.advance(3 * DAY)
    lab.invoke("p", {"lines": 1, "tag": "new"})
    assert any(m.startswith("old") for m in messages(lab, "p"))
    lab.put_retention_policy("/aws/lambda/p", 1)
    assert lab.logs.retention_in_days("/aws/lambda/p") == 1
    kept = messages(lab, "p")
    assert not any(m.startswith("old") for m in kept)
    assert any(m.startswith("new") for m in kept)
    clock.advance(2 * DAY)  # the new ones age past a day too
    assert messages(lab, "p") == []
    lab.delete_retention_policy("/aws/lambda/p")
    assert lab.logs.retention_in_days("/aws/lambda/p") is None
    lab.invoke("p", {"lines": 1, "tag": "kept"})
    clock.advance(4000 * DAY)
    assert any(m.startswith("kept") for m in messages(lab, "p"))


@pytest.mark.parametrize("days", [0, 2, 4000, -1, "7", 7.0, None])
def test_retention_takes_only_cloudwatch_logs_values(
    lab: Lab, code: Callable[..., Path], days: object
) -> None:
    lab.create_function("p", code(app=PRINTER), handler="app.handler")
    with pytest.raises(InvalidParameterException, match="retentionInDays"):
        lab.put_retention_policy("/aws/lambda/p", days)  # type: ignore[arg-type]
    assert lab.logs.retention_in_days("/aws/lambda/p") is None


def test_retention_of_a_missing_log_group_is_refused(lab: Lab) -> None:
    with pytest.raises(ResourceNotFoundException, match="log group does not exist"):
        lab.put_retention_policy("/aws/lambda/nope", 7)
    with pytest.raises(ResourceNotFoundException):
        lab.delete_retention_policy("/aws/lambda/nope")


def test_cli_sets_and_removes_retention(tmp_path: Path, code: Callable[..., Path]) -> None:
    data = str(tmp_path / "data")
    runner = CliRunner()
    created = runner.invoke(main, ["--data-dir", data, "create", "p", "--code",
                                   str(code(app=PRINTER)), "--handler", "app.handler"])
    assert created.exit_code == 0, created.output
    done = runner.invoke(main, ["--data-dir", data, "logs", "p", "--retention", "14"])
    assert done.exit_code == 0, done.output
    assert "/aws/lambda/p keeps its events 14 days" in done.output
    with Lab(data) as lab:
        assert lab.logs.retention_in_days("/aws/lambda/p") == 14
    refused = runner.invoke(main, ["--data-dir", data, "logs", "p", "--retention", "2"])
    assert refused.exit_code != 0
    assert "InvalidParameterException" in refused.output
    done = runner.invoke(main, ["--data-dir", data, "logs", "p", "--no-retention"])
    assert done.exit_code == 0 and "forever" in done.output
    with Lab(data) as lab:
        assert lab.logs.retention_in_days("/aws/lambda/p") is None


def test_the_data_dir_keeps_at_most_its_cap_newest_first(
    tmp_path: Path, code: Callable[..., Path]
) -> None:
    cap = 2 * 1024 * 1024
    with Lab(tmp_path / "data", clock=VirtualClock(), log_max_bytes=cap) as lab:
        lab.create_function("p", code(app=PRINTER), handler="app.handler", timeout=60)
        for batch in range(4):  # about 6 MB of events in all
            assert lab.invoke("p", {"lines": 1500, "tag": f"b{batch}"}).json() == "ok"
        lab.logs.flush()
        assert lab.logs.stored_bytes() <= cap
        kept = messages(lab, "p")
        assert not any(m.startswith("b0 ") for m in kept)  # the oldest went first
        assert any(m.startswith("b3 00001499") for m in kept)  # the newest stayed
        assert kept[-1].startswith("REPORT RequestId")
    with Lab(tmp_path / "data", clock=VirtualClock(), log_max_bytes=cap) as lab:
        assert lab.logs.stored_bytes() <= cap  # counted again on reopening


def test_the_cap_has_a_default_a_learner_can_change(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Lab(tmp_path / "a", clock=VirtualClock()) as lab:
        assert lab.logs.max_bytes == limits.LOG_STORE_MAX_BYTES_DEFAULT
    monkeypatch.setenv("LAMBDALAB_LOG_MAX_MB", "5")
    with Lab(tmp_path / "b", clock=VirtualClock()) as lab:
        assert lab.logs.max_bytes == 5 * 1024 * 1024
    monkeypatch.setenv("LAMBDALAB_LOG_MAX_MB", "0")
    with Lab(tmp_path / "c", clock=VirtualClock()) as lab:
        assert lab.logs.max_bytes == 0  # keep everything


CHATTY = """
import sys
def handler(event, context):
    for i in range(event["lines"]):
        print(f"line {i:06d} " + "y" * 90)
    sys.stdout.write("z" * event["tail"])  # no newline at the end
    return "ok"
"""


@pytest.mark.parametrize("sandbox", ["subprocess", "limited"])
def test_a_chatty_invoke_is_logged_whole_and_in_order(
    lab: Lab, code: Callable[..., Path], sandbox: str
) -> None:
    """Over a megabyte of lines leaves the sandbox's reader during the invoke (it would
    otherwise wait in memory); the log still reads START, every line, END, REPORT."""
    lab.create_function("chatty", code(app=CHATTY), handler="app.handler", timeout=120,
                        sandbox=sandbox)
    count = 30_000  # about 3 MB
    result = lab.invoke("chatty", {"lines": count, "tail": 10}, log_type="Tail")
    assert result.json() == "ok"
    logged = messages(lab, "chatty")
    assert logged[0].startswith("INIT_START")  # a cold start, as AWS logs one
    assert logged[1].startswith("START RequestId")
    printed = [m for m in logged if m.startswith("line ")]
    assert printed == [f"line {i:06d} " + "y" * 90 for i in range(count)]
    assert logged[-3:-2] == ["z" * 10]
    assert logged[-2].startswith("END") and logged[-1].startswith("REPORT")
    assert f"line {count - 1:06d}" in result.log_tail and "REPORT" in result.log_tail


def test_a_huge_line_without_a_newline_is_cut_without_piling_up(
    lab: Lab, code: Callable[..., Path]
) -> None:
    lab.create_function("flood", code(app=CHATTY), handler="app.handler", timeout=120,
                        sandbox="subprocess")
    assert lab.invoke("flood", {"lines": 0, "tail": 30 * 1024 * 1024}).json() == "ok"
    (flood,) = [m for m in messages(lab, "flood") if m.startswith("z")]
    assert len(flood) == ROOM
