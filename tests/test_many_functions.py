"""Many warm functions (issue 21): what a round robin over them costs the core.

The registry keeps its reads until the registry's own tables change, not whenever
anything in the data dir is committed: the log store commits a batch every fraction of
a second, and with hundreds of functions in turn every invoke read its function afresh.
``benchmarks/many.py`` measures the round robin; these tests hold the behaviour.
"""

from __future__ import annotations

import sqlite3

import pytest

from lambdalab import Lab, store
from lambdalab.store import MIGRATIONS, Database, statements

ECHO = """
def handler(event, context):
    return event
"""


@pytest.fixture
def every_read_checks(monkeypatch: pytest.MonkeyPatch) -> None:
    """The registry looks at the data dir on every read, not at most once a millisecond."""
    monkeypatch.setattr(store, "ANSWERS_RECHECK_S", -1.0)


def test_a_batch_of_logs_keeps_the_registry_reads(lab, code, every_read_checks):
    """The log store's writer commits on a connection of its own: that commit is no
    change of a function, and the configuration read before it is kept (it was read
    again from SQLite after every batch)."""
    lab.create_function("f", code(app=ECHO), runtime="python3.12", handler="app.handler",
                        sandbox="subprocess")
    lab.invoke("f", {})
    before = lab.registry.get_version("f")
    lab.invoke("f", {})
    lab.logs.flush()  # a commit of the log tables, on the writer's connection
    assert lab.registry.get_version("f") is before


def test_another_process_changing_a_function_is_seen(tmp_path, code, every_read_checks):
    """A commit to the registry's tables by another lab on the data dir (another
    process) still drops the cache: configurations, aliases and resource policies."""
    data = tmp_path / "data"
    with Lab(data_dir=data) as lab, Lab(data_dir=data) as other:
        lab.create_function("f", code(app=ECHO), runtime="python3.12", handler="app.handler")
        assert lab.get_function_configuration("f").timeout == 3
        other.update_function_configuration("f", timeout=9)
        assert lab.get_function_configuration("f").timeout == 9
        other.publish_version("f")
        other.create_alias("f", "live", "1")
        assert lab.get_alias("f", "live").function_version == "1"
        other.add_permission("f", "s3", "lambda:InvokeFunction", "s3.amazonaws.com")
        assert [s["Sid"] for s in lab.get_policy("f").statements] == ["s3"]
        other.delete_function("f")
        with pytest.raises(Exception, match="Function not found"):
            lab.get_function_configuration("f")


def test_a_write_by_hand_is_seen(lab, code, every_read_checks):
    """The count is kept by triggers in the database, so any writer's commit counts:
    here one by plain sqlite3, as an older lambdalab or a hand's repair would make."""
    lab.create_function("f", code(app=ECHO), runtime="python3.12", handler="app.handler")
    config = lab.get_function_configuration("f")
    with sqlite3.connect(lab.store.data_dir / "lambdalab.db") as db:
        db.execute("UPDATE functions SET reserved_concurrency = 7 WHERE name = 'f'")
    assert lab.get_function_concurrency("f") == 7
    assert lab.get_function_configuration("f") == config


def test_round_robin_reuses_each_functions_environment(lab, code):
    """Functions invoked in turn each keep their one warm environment: no invoke of
    the second round starts one."""
    names = [f"f{i}" for i in range(6)]
    app = code(app=ECHO)
    for name in names:
        lab.create_function(name, app, runtime="python3.12", handler="app.handler",
                            sandbox="subprocess")
    lab.clock.advance(60)  # every function Active
    for name in names:
        assert lab.invoke(name, {"to": name}).json() == {"to": name}
    pids = {p.function_name: p.env.pid for p in lab.pool.idle_environments()}
    for _ in range(2):
        for name in names:
            assert lab.invoke(name, {"to": name}).json() == {"to": name}
    assert {p.function_name: p.env.pid for p in lab.pool.idle_environments()} == pids


def test_a_trigger_is_one_statement_of_a_migration(tmp_path):
    """A migration's script is cut into statements where SQLite says one is complete:
    a trigger's body has semicolons of its own."""
    script = MIGRATIONS["registry-changes-1"]
    found = list(statements(script))
    assert len(found) == 2 + 5 * 3
    assert all(s.strip().endswith(";") for s in found)
    db = Database(tmp_path / "x.db", {"t-1": "CREATE TABLE t (n INTEGER); CREATE TABLE u (n "
                                      "INTEGER); CREATE TRIGGER c AFTER INSERT ON t BEGIN "
                                      "INSERT INTO u VALUES (1); INSERT INTO u VALUES (2); "
                                      "END;"})
    with db.transaction() as tx:
        tx.execute("INSERT INTO t VALUES (0)")
    assert [r[0] for r in db.query("SELECT n FROM u ORDER BY n")] == [1, 2]
    with pytest.raises(sqlite3.OperationalError):  # an unfinished one is not dropped
        Database(tmp_path / "y.db", {"bad-1": "CREATE TABLE v (n INTEGER); CREATE TRIGGER d "
                                     "AFTER INSERT ON v BEGIN DELETE FROM v"})


def test_the_account_count_is_kept_across_functions(lab):
    """The account's concurrent executions are counted as they start and end, not
    summed over every function invoked so far on each invoke."""
    for name in ("f", "g", "f"):
        lab.pool.admit(name, None, 0)
    assert lab.pool.concurrency("f") == (2, 3, 3)
    assert lab.pool.in_use() == 3 and lab.pool.in_use("g") == 1
    for name in ("f", "g", "f"):
        lab.pool.leave(name)
    assert lab.pool.concurrency("g") == (0, 0, 0) and lab.pool.in_use() == 0


def test_the_environments_policies_share_one_reading_of_the_load(monkeypatch):
    """Every spin policy of a process reads the machine's load at most once in
    SPIN_CHECK_S between them: a reading an instant old serves a policy that has not
    looked yet (no CPU is spun for while that many tasks wait)."""
    import time

    from lambdalab.runtime import protocol

    monkeypatch.setattr(protocol, "_latest_tasks", (time.monotonic(), 10**6))
    assert protocol.recent_runnable_tasks() == 10**6
    assert protocol.SpinPolicy(spin_s=protocol.SPIN_S).should_spin() is False
    monkeypatch.setattr(protocol, "_latest_tasks", (float("-inf"), 10**6))
    assert protocol.recent_runnable_tasks() < 10**6  # too old: read again
