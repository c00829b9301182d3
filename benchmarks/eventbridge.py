"""EventBridge benchmark: events from PutEvents to a Lambda target, beside the async queue.

    python benchmarks/eventbridge.py            # full run, about a minute on 2 cores
    python benchmarks/eventbridge.py --quick    # small counts: a smoke test
    python benchmarks/eventbridge.py --json out.json

Figures (target from issue 24):

E1. events per second from ``PutEvents`` (10 entries a call, through
    ``event_buses(lab).put_events``) to a Lambda target: each event matched against a
    rule's pattern and committed as the target's asynchronous invoke, the call's events
    in one transaction, before the call returns, while the workers drain; baseline:
    the async queue's accepted ``Event`` invokes per second in the same run (figure A of
    ``async.py``, one ``Lab.invoke`` per event). Target: >= 2,000 events/s; the ratio
    (above 1: faster than the queue alone) is reported.
E2. the same with one entry per ``PutEvents`` call. Reported, no target.

A missed target is reported, not raised. Nothing here talks to the network.
"""

from __future__ import annotations

import importlib
import json
import sys
import tempfile
import time
from pathlib import Path

import harness
from harness import Row
from lambdalab import Lab

#: benchmarks/async.py, whose name is a keyword: its accept rate is the baseline.
async_bench = importlib.import_module("async")
accepted_per_second, deploy = async_bench.accepted_per_second, async_bench.deploy

MODES = {"quick": {"events": 1_000}, "full": {"events": 10_000}}
TARGET = 2_000.0
PATTERN = {"source": ["shop"], "detail": {"total": [{"numeric": [">", 100]}]}}


def entry(n: int) -> dict[str, str]:
    return {"Source": "shop", "DetailType": "Order", "Detail": json.dumps({"n": n, "total": 150})}


def events_per_second(root: Path, count: int, per_call: int) -> float:
    from lambdalab_schedule import event_buses, schedules

    data = deploy(root)
    with Lab(data) as lab:
        schedules(lab).put_rule("paid", event_pattern=json.dumps(PATTERN))
        schedules(lab).put_targets("paid", [{"Id": "fn", "Arn": lab.arns.function("noop")}])
        buses = event_buses(lab)
        for n in range(0, 50, per_call):  # warm-up: the first environments start
            buses.put_events([entry(n + i) for i in range(per_call)])
        lab.wait_for_events(timeout=60)
        began = time.perf_counter()
        for n in range(0, count, per_call):
            answer = buses.put_events([entry(n + i) for i in range(per_call)])
            assert answer["FailedEntryCount"] == 0
        rate = count / (time.perf_counter() - began)
        lab.wait_for_events(timeout=600)
        assert buses.pending() == 0
    return rate


def measure(counts: dict[str, int]) -> list[Row]:
    with tempfile.TemporaryDirectory(prefix="lambdalab-bench-eventbridge-") as tmp:
        root = Path(tmp)
        for sub in ("queue", "ten", "one"):
            (root / sub).mkdir()
        print("baseline: the async queue accepting events ...", file=sys.stderr)
        queue = accepted_per_second(root / "queue", counts["events"])
        print("E1: PutEvents, 10 entries a call ...", file=sys.stderr)
        ten = events_per_second(root / "ten", counts["events"], 10)
        print("E2: PutEvents, 1 entry a call ...", file=sys.stderr)
        one = events_per_second(root / "one", counts["events"] // 4, 1)
    return [
        Row("E1", "PutEvents -> Lambda target, 10 entries/call", "/s", ten, queue,
            "async queue accepts (Lab.invoke Event)", f">= {TARGET:,.0f}/s", ten >= TARGET,
            counts["events"], notes="ratio above 1: faster than the queue alone"),
        Row("E2", "PutEvents -> Lambda target, 1 entry/call", "/s", one, queue,
            "async queue accepts (Lab.invoke Event)", "", None, counts["events"] // 4),
    ]


def main(argv: list[str] | None = None) -> int:
    return harness.main("EventBridge benchmark", __doc__.split("\n\n")[0], measure, MODES, argv)


if __name__ == "__main__":
    sys.exit(main())
