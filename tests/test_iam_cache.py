"""The IAM plugin's read cache (issue 21): kept through commits to other tables.

Enforcement asks IAM for the caller's principal at every request, answered from memory
until IAM's tables change. SQLite's ``data_version`` says that *something* in the data
dir was committed, and the log store commits a batch every fraction of a second; the
count kept by the ``iam-changes-1`` migration's triggers says whether it was IAM's.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from lambdalab import Lab, store
from lambdalab.clock import VirtualClock
from lambdalab_iam import User
from lambdalab_iam import iam as iam_of

READ_S3 = {"Version": "2012-10-17",
           "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}


@pytest.fixture
def every_read_checks(monkeypatch: pytest.MonkeyPatch) -> None:
    """The cache looks at the data dir on every read, not at most once a millisecond."""
    monkeypatch.setattr(store, "ANSWERS_RECHECK_S", -1.0)


def user_with_key(lab: Lab) -> str:
    iam_of(lab).create_user("ana", "/", [])
    return iam_of(lab).create_access_key("ana").access_key_id


def test_a_batch_of_logs_keeps_iams_answers(lab: Lab, every_read_checks: None) -> None:
    """A commit of the log tables (the log store's writer, its own connection) is no
    change of IAM: the principal read before it is kept, not read from SQLite again."""
    key = user_with_key(lab)
    principal = iam_of(lab).principal_for_key(key)
    lab.logs.write("/aws/lambda/f", "stream", ["a line\n"])
    lab.logs.flush()
    assert iam_of(lab).principal_for_key(key) is principal


def test_another_process_changing_iam_is_seen(tmp_path: Path, every_read_checks: None) -> None:
    """Another lab on the data dir (another process) changing IAM's tables still drops
    the answers: a policy put, then the key deleted."""
    data = tmp_path / "data"
    clock = VirtualClock(start=1_700_000_000)
    with Lab(data_dir=data, clock=clock) as lab, Lab(data_dir=data, clock=clock) as other:
        key = user_with_key(lab)
        assert list(iam_of(lab).principal_for_key(key).policies) == []
        iam_of(other).put_inline(User, "ana", "photos", json.dumps(READ_S3))
        assert list(iam_of(lab).principal_for_key(key).policies) == [READ_S3]
        iam_of(other).delete_access_key("ana", key)
        assert iam_of(lab).principal_for_key(key) is None


def test_a_write_by_hand_to_iams_tables_is_seen(lab: Lab) -> None:
    """The count is kept by triggers, so a plain sqlite3 commit counts too; and it is
    seen by the very next read, no millisecond's grace: the answers look at the WAL
    index's header (a memory read) at every read, and another connection's commit
    moves it."""
    assert iam_of(lab).answers._watch.available  # the path under test, not the timed one
    key = user_with_key(lab)
    assert iam_of(lab).identity_for_key(key) is not None
    with sqlite3.connect(lab.store.data_dir / "lambdalab.db") as db:
        db.execute("DELETE FROM iam_entities WHERE name = ?", (key,))
    assert iam_of(lab).identity_for_key(key) is None


def test_closing_the_lab_unmaps_every_watch_of_its_database(tmp_path: Path) -> None:
    """The registry's and IAM's watches map the database's WAL index; the store's close
    unmaps them, so a closed lab holds no mapping of a file it no longer opens."""
    with Lab(data_dir=tmp_path / "data") as lab:
        watches = [lab.registry._answers._watch, iam_of(lab).answers._watch]
        assert all(w.available for w in watches)
    assert not any(w.available for w in watches)
    assert not any(w.moved() for w in watches)  # a late reader finds nothing, no error
