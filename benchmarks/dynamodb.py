"""DynamoDB benchmarks through boto3-free ``Lab`` calls, beside raw SQLite measured in the
same run.

    python benchmarks/dynamodb.py            # full run, under a minute on 2 cores
    python benchmarks/dynamodb.py --quick    # small counts: a smoke test
    python benchmarks/dynamodb.py --json out.json

Figures (targets from issue 19):

A. PutItem per second: one thread calling ``dynamodb_of(lab).tables.put_item`` with a
   small item (a string key and three attributes), each write its own committed SQLite
   transaction; baseline: the same number of single-row INSERT OR REPLACE + COMMIT
   transactions on a bare SQLite database with the store's pragmas. Target: >= 2,000/s.
B. PutItem per second on a table with a NEW_AND_OLD_IMAGES stream (each write also
   appends its stream record in the same transaction); same baseline. Reported.
C. GetItem per second of the items written in A. Reported.

A missed target is reported, not raised. Nothing here talks to the network.
"""

from __future__ import annotations

import sqlite3
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import harness
from harness import Row
from lambdalab import Lab
from lambdalab_dynamodb import dynamodb_of

MODES = {"quick": {"puts": 1_000}, "full": {"puts": 10_000}}
PUT_TARGET = 2_000.0


def table(name: str, stream: bool = False) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "TableName": name, "BillingMode": "PAY_PER_REQUEST",
        "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
        "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
    }
    if stream:
        spec["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
    return spec


def item(n: int) -> dict[str, Any]:
    return {"id": {"S": f"user-{n}"}, "name": {"S": "Jane"}, "age": {"N": str(n % 90)},
            "active": {"BOOL": True}}


def sqlite_commits(path: Path, count: int) -> float:
    """Single-row committed upserts per second, WAL and synchronous=NORMAL like the store."""
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("CREATE TABLE t (pk TEXT PRIMARY KEY, item TEXT) WITHOUT ROWID")
    began = time.perf_counter()
    for n in range(count):
        db.execute("BEGIN IMMEDIATE")
        db.execute("INSERT OR REPLACE INTO t (pk, item) VALUES (?, ?)", (f"S:user-{n}", "{}"))
        db.execute("COMMIT")
    rate = count / (time.perf_counter() - began)
    db.close()
    return rate


def puts_per_second(lab: Lab, name: str, count: int) -> float:
    tables = dynamodb_of(lab).tables
    for n in range(50):  # warm-up
        tables.put_item(name, item(-n))
    began = time.perf_counter()
    for n in range(count):
        tables.put_item(name, item(n))
    return count / (time.perf_counter() - began)


def gets_per_second(lab: Lab, name: str, count: int) -> float:
    tables = dynamodb_of(lab).tables
    began = time.perf_counter()
    for n in range(count):
        assert tables.get_item(name, {"id": {"S": f"user-{n}"}}) is not None
    return count / (time.perf_counter() - began)


def measure(counts: dict[str, int]) -> list[Row]:
    puts = counts["puts"]
    with tempfile.TemporaryDirectory(prefix="lambdalab-bench-dynamodb-") as tmp:
        root = Path(tmp)
        with Lab(root / "data") as lab:
            tables = dynamodb_of(lab).tables
            tables.create_table(table("plain"))
            tables.create_table(table("streamed", stream=True))
            print("A: PutItem ...", file=sys.stderr)
            plain = puts_per_second(lab, "plain", puts)
            print("B: PutItem with a stream ...", file=sys.stderr)
            streamed = puts_per_second(lab, "streamed", puts)
            print("C: GetItem ...", file=sys.stderr)
            gets = gets_per_second(lab, "plain", puts)
        raw = sqlite_commits(root / "raw.db", puts)
    return [
        Row("A", "PutItem through Lab, committed", "/s", plain, raw, "bare SQLite upsert+COMMIT",
            f">= {PUT_TARGET:,.0f}/s", plain >= PUT_TARGET, puts),
        Row("B", "PutItem with a NEW_AND_OLD_IMAGES stream", "/s", streamed, raw,
            "bare SQLite upsert+COMMIT", "", None, puts),
        Row("C", "GetItem through Lab", "/s", gets, None, "", "", None, puts),
    ]


def main(argv: list[str] | None = None) -> int:
    return harness.main("DynamoDB benchmarks", __doc__.split("\n\n")[0], measure, MODES, argv)


if __name__ == "__main__":
    sys.exit(main())
