"""Kinesis stream mapping throughput (issue 19).

    python benchmarks/streams.py            # full run
    python benchmarks/streams.py --quick    # small counts: a smoke test
    python benchmarks/streams.py --json out.json

Records processed per second through a no-op function by a Kinesis event source mapping
    with BatchSize 100 over a 4-shard stream: a backlog is put first (the lab's virtual
    clock moves a second per PutRecords, so no shard's 1,000 records/s is exceeded), then
    the mapping is created (TRIM_HORIZON) and the time runs until every shard is read to
    its tip. Baseline, same run: bare SQLite single-row INSERT+COMMITs per second (WAL,
    synchronous=NORMAL, like the store), as ``async.py`` measures them. Target:
    >= 5,000 records/s.

A missed target is reported, not raised. Nothing here talks to the network.
"""

from __future__ import annotations

import importlib
import sys
import tempfile
import time
from pathlib import Path

import harness
from harness import Row
from lambdalab import Lab, VirtualClock
from lambdalab_kinesis import kinesis_of

NOOP = "def handler(event, context):\n    return None\n"
TARGET = 5_000.0
SHARDS, BATCH = 4, 100
MODES = {"quick": {"records": 4_000}, "full": {"records": 40_000}}


def backlog(lab: Lab, clock: VirtualClock, count: int) -> None:
    streams = kinesis_of(lab).streams
    streams.create_stream("bench", SHARDS)
    for start in range(0, count, 500):
        results = streams.put_records("bench", [(b'{"n": %d}' % n, f"key-{n}", None)
                                                for n in range(start, min(start + 500, count))])
        assert all("SequenceNumber" in r for r in results), "a shard's throughput was exceeded"
        clock.advance(1)


def stream_throughput(root: Path, count: int) -> tuple[float, int]:
    code = root / "code"
    code.mkdir(exist_ok=True)
    (code / "app.py").write_text(NOOP)
    clock = VirtualClock()
    with Lab(data_dir=root / "data", clock=clock) as lab:
        lab.create_function("noop", code=code, handler="app.handler")
        lab.invoke("noop", {})  # the first cold start is not part of the figure
        backlog(lab, clock, count)
        arn = kinesis_of(lab).streams.arn("bench")
        began = time.perf_counter()
        lab.create_event_source_mapping("noop", event_source_arn=arn, starting_position="TRIM_HORIZON",
                                        batch_size=BATCH)
        if not kinesis_of(lab).mappings.wait_idle(timeout=600):
            raise RuntimeError("the mapping did not read the stream in 10 minutes")
        rate = count / (time.perf_counter() - began)
        environments = len({e.log_stream for e in lab.get_logs("noop")})
    return rate, environments


def measure(counts: dict[str, int]) -> list[Row]:
    sqlite_commits = importlib.import_module("async").sqlite_commits  # benchmarks/async.py
    with tempfile.TemporaryDirectory(prefix="lambdalab-bench-streams-") as tmp:
        root = Path(tmp)
        print("streams: putting the backlog, then reading it ...", file=sys.stderr)
        rate, environments = stream_throughput(root, counts["records"])
        raw = sqlite_commits(root / "raw.db", counts["records"])
    return [
        Row("Kinesis", f"stream mapping: records processed, {SHARDS} shards, batch {BATCH}", "rec/s",
            rate, raw, "bare SQLite INSERT+COMMIT", f">= {TARGET:,.0f}/s", rate >= TARGET,
            samples=counts["records"], notes=f"{environments} environments served the invokes"),
    ]


def main(argv: list[str] | None = None) -> int:
    return harness.main("stream mapping benchmark", __doc__.split("\n\n")[0], measure, MODES, argv)


if __name__ == "__main__":
    sys.exit(main())
