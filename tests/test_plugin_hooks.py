"""The hooks that let a plugin do what the built-ins do: its own tables, per-lab state
that dies with the lab, and event source mappings of several sources side by side."""

from __future__ import annotations

import gc
import weakref
from pathlib import Path

import pytest

import lambdalab
from lambdalab import Lab, ResourceNotFoundException
from lambdalab.plugin import Database, Stash, StashKey
from lambdalab_s3.backend import S3
from lambdalab_schedule import schedules
from lambdalab_schedule.models import MIGRATIONS as SCHEDULE_MIGRATIONS
from lambdalab_sqs import sqs_of
from lambdalab_sqs.models import MIGRATIONS as SQS_MIGRATIONS

# -- migrations -----------------------------------------------------------------------


def old_migrations() -> dict[str, str]:
    """lambdalab.store's list before the plugins kept their own tables: the same names,
    interleaved with the core's in the order that list had them."""
    from lambdalab.store import MIGRATIONS as core

    order = ["core-1", "async-1", "permissions-1", "schedule-1", "function-urls-1", "sqs-1",
             "sqs-system-attributes", "logs-1", "layers-1", "updates-1", "async-trace-1",
             "mapping-tags-1", "registry-changes-1", "logs-2"]
    # The SQS plugin's tables of that time (its later migrations, such as sqs-fifo, came
    # after the move and are not in that list).
    sqs_then = {name: SQS_MIGRATIONS[name] for name in ("sqs-1", "sqs-system-attributes")}
    every = {**core, "schedule-1": SCHEDULE_MIGRATIONS["schedule-1"], **sqs_then}
    assert set(every) == set(order)  # a new core migration: add it to this list
    return {name: every[name] for name in order}


def test_a_data_dir_made_when_core_held_the_plugins_tables_opens(tmp_path: Path) -> None:
    old = Database(tmp_path / "lambdalab.db", old_migrations())
    with old.transaction() as db:
        db.execute("INSERT INTO schedule_rules (name, config) VALUES ('r', '{}')")
    old.close()
    with Lab(tmp_path) as lab:
        names = [row[0] for row in lab.store.query("SELECT name FROM schema_migrations")]
        # nothing applied twice; plugins newer than that list add their own
        assert len(names) == len(set(names)) and set(old_migrations()) <= set(names)
        sqs_of(lab).queues.create_queue("jobs")  # the sqs tables are there, and work
        assert [q.name for q in sqs_of(lab).queues.list_queues()] == ["jobs"]
        assert lab.store.query("SELECT name FROM schedule_rules")[0][0] == "r"


def test_a_plugins_tables_are_made_after_the_core_and_a_name_clash_is_refused(tmp_path: Path) -> None:
    class Visits:
        @lambdalab.hookimpl
        def lambdalab_migrations(self):
            return {"visits-1": "CREATE TABLE visits (path TEXT PRIMARY KEY, n INTEGER)"}

    with Lab(tmp_path / "a", plugins=[Visits()]) as lab:
        with lab.store.transaction() as db:
            db.execute("INSERT INTO visits VALUES ('/', 1)")
        assert lab.store.query("SELECT n FROM visits")[0][0] == 1

    class Clash:
        @lambdalab.hookimpl
        def lambdalab_migrations(self):
            return {"core-1": "CREATE TABLE nope (x)"}

    with pytest.raises(ValueError, match="two migrations are named 'core-1'"):
        Lab(tmp_path / "b", plugins=[Clash()])


# -- per-lab state ----------------------------------------------------------------------


def test_the_stash_keeps_typed_values_and_closes_them_newest_first() -> None:
    closed: list[str] = []

    class Thing:
        def __init__(self, name: str) -> None:
            self.name = name

        def close(self) -> None:
            closed.append(self.name)

    first, second, plain = StashKey[Thing](), StashKey[Thing](), StashKey[int]()
    stash = Stash()
    made = stash.setdefault(first, lambda: Thing("first"))
    assert stash.setdefault(first, lambda: Thing("again")) is made
    stash[second] = Thing("second")
    stash[plain] = 3
    assert stash.get(StashKey[int](), None) is None and stash[plain] == 3
    stash.close()
    assert closed == ["second", "first"] and len(stash) == 0


def test_a_closed_lab_is_collected_with_the_built_in_triggers_used(tmp_path: Path) -> None:
    lab = Lab(tmp_path)
    S3.of(lab).create_bucket("photos")  # before the stash, S3.of kept every lab alive
    sqs_of(lab).queues.create_queue("jobs")
    schedules(lab)
    store = S3.of(lab).store
    lab.close()
    assert store._db._connections == []  # the lab closed S3's database
    ref = weakref.ref(lab)
    del lab
    gc.collect()
    assert ref() is None


# -- event source mappings by service -------------------------------------------------


class Streams:
    """Another source: keeps mappings of ``arn:aws:kafka:`` clusters in a dict (Kinesis and
    SQS are built-in plugins' sources)."""

    def __init__(self) -> None:
        self.mappings: dict[str, dict[str, str]] = {}

    def create(self, function_name: str, event_source_arn: str, **settings: object) -> dict[str, str]:
        mapping = {"UUID": f"k-{len(self.mappings)}", "EventSourceArn": event_source_arn,
                   "FunctionName": function_name}
        self.mappings[mapping["UUID"]] = mapping
        return mapping

    def get(self, uuid: str) -> dict[str, str]:
        if uuid not in self.mappings:
            raise ResourceNotFoundException(f"No stream mapping {uuid}.")
        return self.mappings[uuid]

    def update(self, uuid: str, **settings: object) -> dict[str, str]:
        return self.get(uuid)

    def delete(self, uuid: str) -> dict[str, str]:
        return self.mappings.pop(self.get(uuid)["UUID"])

    def list(self, event_source_arn: str | None = None, function_name: str | None = None) -> list:
        return [m for m in self.mappings.values()
                if event_source_arn in (None, m["EventSourceArn"])]

    @lambdalab.hookimpl
    def lambdalab_event_source_mappings(self, lab):
        return {"kafka": self}


def test_two_sources_keep_their_mappings_side_by_side(tmp_path: Path) -> None:
    streams = Streams()
    with Lab(tmp_path, plugins=[streams]) as lab:
        lab.create_function("worker", code=lambda event, context: None)
        sqs_of(lab).queues.create_queue("jobs")
        queue = lab.create_event_source_mapping(
            "worker", event_source_arn="arn:aws:sqs:us-east-1:123456789012:jobs", enabled=False)
        stream = lab.create_event_source_mapping(
            "worker", event_source_arn="arn:aws:kafka:us-east-1:123456789012:cluster/c/1")
        assert stream["UUID"] == "k-0" and lab.get_event_source_mapping("k-0") is stream
        assert lab.get_event_source_mapping(queue.uuid).uuid == queue.uuid
        assert len(lab.list_event_source_mappings()) == 2
        lab.delete_event_source_mapping("k-0")
        with pytest.raises(ResourceNotFoundException):
            lab.get_event_source_mapping("k-0")
        with pytest.raises(lambdalab.InvalidParameterValueException, match="kafka, kinesis, sqs"):
            lab.create_event_source_mapping(
                "worker", event_source_arn="arn:aws:mq:us-east-1:123456789012:broker:b:1")


# -- plugins' commands ------------------------------------------------------------------


def test_the_command_cache_is_forgotten_once_a_package_folder_changes(tmp_path: Path, monkeypatch) -> None:
    import os
    import sys

    from lambdalab.cli import command_cache

    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.setenv("LAMBDALAB_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(sys, "path", [*sys.path, str(site)])
    assert command_cache.read() is None
    command_cache.write({"visits": "Count visits."})
    assert command_cache.read() == {"visits": "Count visits."}
    stat = site.stat()
    os.utime(site, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))  # pip installed
    assert command_cache.read() is None
    monkeypatch.setenv("LAMBDALAB_PLUGINS", "subprocess")  # another selection, another cache
    command_cache.write({})
    monkeypatch.delenv("LAMBDALAB_PLUGINS")
    assert command_cache.read() is None


def test_an_unknown_command_loads_the_plugins_and_a_core_one_does_not(tmp_path: Path, monkeypatch) -> None:
    import click

    from lambdalab.cli.app import MainGroup

    monkeypatch.setenv("LAMBDALAB_CACHE_DIR", str(tmp_path / "cache"))
    group = MainGroup("lambdalab")
    group.add_command(click.Command("list"))
    ctx = click.Context(group)
    assert group.get_command(ctx, "list") is not None and not group._plugins_loaded
    assert group.get_command(ctx, "s3") is not None and group._plugins_loaded
    assert {"s3", "sqs", "esm", "schedule", "list"} <= set(group.list_commands(ctx))
