"""State that cannot be bricked: bad requests are refused before anything is stored, and a
damaged stored row is reported and skipped while everything else still starts."""

from __future__ import annotations

import json
import logging
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable

import pytest
from botocore.exceptions import ClientError
from click.testing import CliRunner

from lambdalab import Lab, VirtualClock, limits
from lambdalab.errors import ResourceNotFoundException
from lambdalab.cli.app import main
from lambdalab_schedule import ValidationException, parse, schedules
from lambdalab_sqs import sqs_of

from .edge_support import client_for, edge  # noqa: F401  (fixture)

NOT_VALID = {"Code": "ValidationException", "Message": "Parameter ScheduleExpression is not valid."}
HUGE = "9" * 400


# -- schedule expressions are bounded and refused before the rule is kept ------------------


@pytest.mark.parametrize(
    "expression",
    [
        f"rate({HUGE} minutes)",  # longer than 256 characters
        f"rate({'9' * 200} minutes)",  # 256 characters at most, but a period of ages
        "rate(36501 days)",  # just past lambdalab's 100 years
        "rate(٥ minutes)",  # Arabic-Indic digit: int() reads it, AWS does not
        "cron(0/99999999999999 * * * ? *)",
        "cron(0/60 * * * ? *)",
        "cron(0 0/24 * * ? *)",
        "cron(0 0 ? * 2#² *)",
        "cron(² 0 * * ? *)",
        "cron(0 0 W * ? *)",
    ],
)
def test_absurd_expressions_are_refused(expression: str) -> None:
    with pytest.raises(ValidationException, match="Parameter ScheduleExpression is not valid."):
        parse(expression)


def test_the_longest_rate_and_step_still_parse() -> None:
    assert parse("rate(36500 days)").next_after(0.0, 0.0) == 36500 * 86400
    parse("cron(0/59 0/23 1/31 1/12 ? 1970/2199)")


def test_put_rule_with_an_overflowing_rate_is_refused_and_nothing_is_kept(
    lab: Lab, edge: Any, tmp_path: Path
) -> None:
    events = client_for(edge.url, "events")
    for expression in (f"rate({HUGE} minutes)", f"rate({'9' * 200} minutes)",
                       "cron(0/99999999999999 * * * ? *)"):
        with pytest.raises(ClientError) as refused:
            events.put_rule(Name="bad", ScheduleExpression=expression)
        error = refused.value.response["Error"]
        if len(expression) > 256:  # the model's length bound answers first, as AWS's does
            assert error["Code"] == "ValidationException"
            assert "Member must have length less than or equal to 256" in error["Message"]
        else:
            assert error == NOT_VALID
        assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert events.list_rules()["Rules"] == []
    events.put_rule(Name="good", ScheduleExpression="rate(5 minutes)")
    # an update that is refused leaves the rule as it was
    with pytest.raises(ClientError):
        events.put_rule(Name="good", ScheduleExpression=f"rate({'9' * 200} minutes)")
    assert events.describe_rule(Name="good")["ScheduleExpression"] == "rate(5 minutes)"


# -- a damaged row is reported and skipped; everything else starts -------------------------

GOOD = """
def handler(event, context):
    print("alive")
    return "ok"
"""


def _corrupt(data_dir: Path, *statements: str) -> None:
    """Write straight into the data dir's database, as a bug or a hand edit would."""
    db = sqlite3.connect(data_dir / "lambdalab.db")
    with db:
        for statement in statements:
            db.execute(statement)
    db.close()


def _populate(data_dir: Path, code: Callable[..., Path]) -> None:
    """A healthy function, and one of each other kind of resource, some to be damaged."""
    with Lab(data_dir, clock=VirtualClock(start=1_700_000_000)) as lab:
        for name in ("good", "broken", "odd"):
            lab.create_function(name, code(app=GOOD), handler="app.handler", publish=True)
        lab.create_alias("good", "live", "1")
        lab.create_alias("broken", "live", "1")
        rules = schedules(lab)
        rules.put_rule("tick", "rate(5 minutes)")
        rules.put_rule("doomed", "rate(5 minutes)")
        rules.put_targets("doomed", [{"Id": "t", "Arn": lab.arns.function("good")}])
        rules.put_targets("tick", [{"Id": "t", "Arn": lab.arns.function("good")}])
        lab.put_function_event_invoke_config("good", maximum_retry_attempts=1)
        lab.put_function_event_invoke_config("odd", maximum_retry_attempts=1)
        lab.create_function_url_config("good", auth_type="NONE")
        lab.create_function_url_config("odd", auth_type="NONE")
        lab.add_permission("good", "s1", "lambda:InvokeFunction", "s3.amazonaws.com")
        lab.add_permission("odd", "s1", "lambda:InvokeFunction", "s3.amazonaws.com")
        queues = sqs_of(lab).queues
        for queue in ("jobs", "mangled"):
            queues.create_queue(queue)
            lab.create_event_source_mapping("good", event_source_arn=queues.arn(queue),
                                            enabled=False)
        queues.send_message("jobs", "spoiled")
        queues.send_message("jobs", "fine")


DAMAGE = (
    f"UPDATE schedule_rules SET config = json_set(config, '$.schedule_expression', "
    f"'rate({HUGE} minutes)') WHERE name = 'doomed'",
    "UPDATE schedule_targets SET config = 'not json' WHERE rule = 'tick'",
    "UPDATE versions SET config = '{garbage' WHERE function = 'broken'",
    "UPDATE versions SET config = '[1, 2]' WHERE function = 'odd' AND version = '1'",
    "UPDATE aliases SET config = 'null' WHERE function = 'broken'",
    "UPDATE event_invoke_configs SET config = '{}' WHERE function = 'odd'",
    "UPDATE function_urls SET config = '{\"x\": 1}' WHERE function = 'odd'",
    "UPDATE permissions SET statements = 'nope' WHERE function = 'odd'",
    "UPDATE sqs_queues SET attributes = '{' WHERE name = 'mangled'",
    "UPDATE sqs_messages SET message_attributes = '[' WHERE body = 'spoiled'",
    "UPDATE event_source_mappings SET config = '' WHERE config LIKE '%mangled%'",
    "INSERT INTO async_events (request_id, function, qualifier, payload, enqueued_at) "
    "VALUES ('r-bad', 'good', NULL, x'7b', 'soon')",
)


@pytest.fixture
def damaged(tmp_path: Path, code: Callable[..., Path]) -> Path:
    data_dir = tmp_path / "data"
    _populate(data_dir, code)
    _corrupt(data_dir, *DAMAGE)
    return data_dir


def test_a_damaged_data_dir_opens_and_names_what_it_skipped(
    damaged: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="lambdalab.store")
    with Lab(damaged, clock=VirtualClock(start=1_700_000_000)) as lab:
        assert [f.function_name for f in lab.list_functions()] == ["good", "odd"]
        assert lab.invoke("good").json() == "ok"
        assert lab.invoke("good", qualifier="live").json() == "ok"
        assert [v.version for v in lab.list_versions_by_function("odd")] == ["$LATEST"]
        assert lab.list_aliases("broken") == []
        assert [r.name for r in schedules(lab).list_rules()] == ["tick"]
        assert schedules(lab).list_targets_by_rule("tick") == []
        assert lab.get_function_event_invoke_config("good").maximum_retry_attempts == 1
        assert lab.get_function_url_config("good").auth_type == "NONE"
        assert lab.get_policy("good").statements
        assert lab.list_function_event_invoke_configs("odd") == []
        assert lab.list_function_url_configs("odd") == []
        with pytest.raises(ResourceNotFoundException):
            lab.get_policy("odd")
        lab.add_permission("odd", "s2", "lambda:InvokeFunction", "s3.amazonaws.com")
        assert [s["Sid"] for s in lab.get_policy("odd").statements] == ["s2"]
        assert [q.name for q in sqs_of(lab).queues.list_queues()] == ["jobs"]
        assert len(lab.list_event_source_mappings()) == 1
        received = sqs_of(lab).queues.receive_message("jobs", max_number_of_messages=10)
        assert [m.body for m in received] == ["fine"]
        # the damaged ones can be deleted, which clears them for good
        schedules(lab).remove_targets("doomed", ["t"])
        schedules(lab).delete_rule("doomed")
        lab.delete_function("broken")
        assert [f.function_name for f in lab.list_functions()] == ["good", "odd"]
        assert lab.store.damaged  # and the process remembers what it skipped
    logged = "\n".join(r.getMessage() for r in caplog.records)
    for table, name in [("schedule_rules", "name='doomed'"), ("schedule_targets", "rule='tick'"),
                        ("versions", "function='broken'"), ("versions", "function='odd'"),
                        ("aliases", "function='broken'"), ("event_invoke_configs", "function='odd'"),
                        ("function_urls", "function='odd'"), ("permissions", "function='odd'"),
                        ("sqs_queues", "name='mangled'"), ("sqs_messages", "id="),
                        ("event_source_mappings", "uuid="),
                        ("async_events", "id=")]:
        assert f"damaged row of {table} ({name}" in logged, (table, logged)
    assert "DELETE FROM schedule_rules WHERE name = 'doomed'" in logged


def test_cli_list_works_on_a_damaged_data_dir(damaged: Path) -> None:
    result = CliRunner().invoke(main, ["--data-dir", str(damaged), "list"])
    assert result.exit_code == 0, result.output
    assert "good" in result.output and "broken" not in result.output


def test_serve_starts_on_a_damaged_data_dir(damaged: Path) -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "lambdalab"), "--data-dir", str(damaged),
         "serve", "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )
    try:
        first = proc.stdout.readline() if proc.stdout else ""
        assert first.startswith("lambdalab edge on http://127.0.0.1:"), first
        url = first.split()[3]
        lam = client_for(url)
        assert [f["FunctionName"] for f in lam.list_functions()["Functions"]] == ["good", "odd"]
        assert json.loads(lam.invoke(FunctionName="good")["Payload"].read()) == "ok"
        assert [r["Name"] for r in client_for(url, "events").list_rules()["Rules"]] == ["tick"]
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
        stderr = proc.stderr.read() if proc.stderr else ""
        assert "damaged row of schedule_rules (name='doomed')" in stderr
        assert "OverflowError" not in stderr or "skipped" in stderr
        assert "Traceback" not in stderr
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


# -- code no version references is removed --------------------------------------------------

COUNTER = """
count = 0
def handler(event, context):
    global count
    count += 1
    return count
"""


def code_bytes(lab: Lab) -> int:
    """Bytes of blobs and unpacked code in the data dir."""
    return sum(p.stat().st_size for d in (lab.store.blob_dir, lab.store.code_dir)
               for p in d.rglob("*") if p.is_file())


def test_deleting_functions_and_versions_leaves_no_code_behind(
    lab: Lab, code: Callable[..., Path]
) -> None:
    lab.create_function("a", code(app=COUNTER), handler="app.handler", publish=True)
    lab.update_function_code("a", code(app=COUNTER + "\n# v2\n"), publish=True)
    for qualifier in ("1", "2"):
        assert lab.invoke("a", qualifier=qualifier).json() == 1  # unpacks each version
    assert len(list(lab.store.code_dir.iterdir())) == 2
    lab.delete_function("a", qualifier="1")
    assert len(list(lab.store.blob_dir.iterdir())) == 1  # version 2 and $LATEST share one
    assert len(list(lab.store.code_dir.iterdir())) == 1
    lab.delete_function("a")
    assert code_bytes(lab) == 0
    assert list(lab.store.blob_dir.iterdir()) == list(lab.store.code_dir.iterdir()) == []


def test_updating_code_drops_the_unpublished_old_code(lab: Lab, code: Callable[..., Path]) -> None:
    lab.create_function("a", code(app=COUNTER), handler="app.handler")
    lab.invoke("a")
    lab.update_function_code("a", code(app=COUNTER + "\n# v2\n"))
    assert len(list(lab.store.blob_dir.iterdir())) == 1
    assert lab.invoke("a").json() == 1


def test_code_another_function_shares_stays_and_its_warm_environment_runs_on(
    lab: Lab, code: Callable[..., Path]
) -> None:
    source = code(app=COUNTER)
    lab.create_function("a", source, handler="app.handler")
    lab.create_function("b", source, handler="app.handler")
    assert [lab.invoke(n).json() for n in ("a", "b", "b")] == [1, 1, 2]
    lab.delete_function("a")
    assert lab.invoke("b").json() == 3  # warm: same environment, same code
    assert len(list(lab.store.blob_dir.iterdir())) == 1


WAITER = """
import os, time
def handler(event, context):
    while not os.path.exists(event["go"]):
        time.sleep(0.01)
    return "done"
"""


def test_code_a_running_environment_uses_is_kept_until_it_is_gone(
    lab: Lab, clock: VirtualClock, code: Callable[..., Path], rendezvous: Path
) -> None:
    lab.create_function("a", code(app=WAITER), handler="app.handler", timeout=120)
    go = rendezvous / "go"
    result: list[Any] = []
    running = threading.Thread(target=lambda: result.append(lab.invoke("a", {"go": str(go)})))
    running.start()
    try:
        deadline = time.monotonic() + 120
        while not lab.pool.task_roots() and time.monotonic() < deadline:
            time.sleep(0.01)  # waiting for the environment to start, not for time to pass
        (task_root,) = lab.pool.task_roots()
        lab.delete_function("a")  # while its invoke runs
        assert Path(task_root).is_dir()
    finally:
        go.touch()
        running.join(timeout=120)
    assert result[0].json() == "done"
    clock.advance(limits.IDLE_ENVIRONMENT_TTL_S + 1)  # the idle environment is reaped
    assert not lab.pool.task_roots()
    lab.create_function("b", code(app=COUNTER), handler="app.handler")
    lab.delete_function("b")  # the next collection takes what was kept
    assert not Path(task_root).exists()
    assert code_bytes(lab) == 0


def test_opening_a_data_dir_removes_leftovers(tmp_path: Path, code: Callable[..., Path]) -> None:
    data_dir = tmp_path / "data"
    with Lab(data_dir, clock=VirtualClock()) as lab:
        lab.create_function("a", code(app=COUNTER), handler="app.handler")
        lab.invoke("a")
        kept = code_bytes(lab)
    stray_blob = data_dir / "blobs" / ("0" * 64)
    stray_blob.write_bytes(b"x" * 1000)
    stray_code = data_dir / "code" / ("1" * 64)
    (stray_code / "pkg").mkdir(parents=True)
    (stray_code / "pkg" / "big.bin").write_bytes(b"y" * 5000)
    half_unpacked = data_dir / "code" / f".{'2' * 64}.abc"
    half_unpacked.mkdir()
    for left in (stray_blob, stray_code, half_unpacked):
        os.utime(left, (0, 0))  # left long ago
    just_written = data_dir / "blobs" / ("3" * 64)  # another process may name it soon
    just_written.write_bytes(b"z" * 10)
    with Lab(data_dir, clock=VirtualClock()) as lab:
        assert code_bytes(lab) == kept + 10
        assert not stray_blob.exists() and not stray_code.exists()
        assert not half_unpacked.exists()
        assert just_written.exists()
        assert lab.invoke("a").json() == 1


def test_a_bucket_whose_notification_is_damaged_is_reported_and_the_others_listed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from lambdalab_s3 import S3

    data_dir = tmp_path / "data"
    with Lab(data_dir, clock=VirtualClock()) as lab:
        for bucket in ("photos", "broken"):
            S3.of(lab).create_bucket(bucket)
    db = sqlite3.connect(data_dir / "s3" / "s3.db")
    with db:
        db.execute("UPDATE buckets SET notification = '{' WHERE name = 'broken'")
    db.close()
    caplog.set_level(logging.ERROR, logger="lambdalab.store")
    with Lab(data_dir, clock=VirtualClock()) as lab:
        assert [b.name for b in S3.of(lab).list_buckets()] == ["photos"]
    assert "damaged row of buckets (name='broken')" in caplog.text
