"""A warm awaited ``Lab.invoke_async`` of this tree beside a git revision's (an A/B).

    python benchmarks/core_ab.py 7a445f5            # about a minute on 2 cores
    python benchmarks/core_ab.py 7a445f5 --quick    # a smoke test

The edge's invoke without HTTP: one process per round, each with ``PYTHONPATH`` on its
tree (the revision exported as ``edge_ab.py`` does), the trees alternating round by
round. A round opens a Lab, warms an echo function, then awaits ``Lab.invoke_async``
on uvloop (the edge's loop) again and again. Figures, this tree's beside the revision's:

1. the core's CPU per invoke (``time.process_time`` of the round's process), the median
   of the rounds;
2. the environment's CPU per invoke (``psutil``), the median of the rounds;
3. the core alone: figure 1 with the environment's answer canned (``RunInvoke.run_async``
   answers at once, as the echo handler would), so the invoker's bookkeeping, the
   plugins' hooks and the background writers are measured without the pipe exchange.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Iterator

import psutil

import harness
from edge_ab import ROOT, export
from harness import Row

ECHO_HANDLER = "def handler(event, context):\n    return event\n"
MODES = {"quick": (2, 300), "full": (4, 3_000)}  # rounds per tree, invokes per round


def one_round(count: int) -> dict[str, float]:
    """CPU per awaited warm invoke (µs) of this process's lambdalab, and its environment's."""
    import uvloop

    from lambdalab import Lab

    with tempfile.TemporaryDirectory() as tmp:
        code = Path(tmp) / "echo"
        code.mkdir(mode=0o755)
        (code / "app.py").write_text(ECHO_HANDLER)
        (code / "app.py").chmod(0o644)
        with Lab(data_dir=Path(tmp) / "data") as lab:
            lab.create_function("echo", code, handler="app.handler")
            lab.invoke("echo", {"a": 1})

            async def invokes(n: int) -> None:
                for _ in range(n):
                    await lab.invoke_async("echo", b'{"a": 1}')

            loop = uvloop.new_event_loop()
            loop.run_until_complete(invokes(max(100, count // 10)))
            core, env = time.process_time(), environment_cpu()
            loop.run_until_complete(invokes(count))
            core, env = time.process_time() - core, environment_cpu() - env
            alone = time.process_time()
            with canned_answers():
                loop.run_until_complete(invokes(count))
            alone = time.process_time() - alone
            loop.close()
    return {"core": core / count * 1e6, "environment": env / count * 1e6,
            "alone": alone / count * 1e6}


@contextlib.contextmanager
def canned_answers() -> Iterator[None]:
    """Every environment answers at once with the event, as the echo handler would."""
    from lambdalab.invocation import invoker
    from lambdalab.sandbox import InvokeOutcome

    async def answer(step: invoker.RunInvoke, run_blocking: object) -> InvokeOutcome:
        return InvokeOutcome(status="ok", payload=step.request.payload, duration_ms=0.01,
                             log_lines=[], max_memory_used_mb=30)

    run_async = invoker.RunInvoke.run_async
    invoker.RunInvoke.run_async = answer  # type: ignore[method-assign, assignment]
    try:
        yield
    finally:
        invoker.RunInvoke.run_async = run_async  # type: ignore[method-assign]


def environment_cpu() -> float:
    total = 0.0
    for child in psutil.Process().children(recursive=True):
        try:
            times = child.cpu_times()
        except psutil.Error:
            continue
        total += times.user + times.system
    return total


def run_round(tree: Path, count: int) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": f"{tree}:{tree / 'plugins'}"}
    out = subprocess.run([sys.executable, __file__, "--round", str(count)], env=env,
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out.splitlines()[-1])


def measure(revision: str, rounds: int, count: int) -> list[Row]:
    with tempfile.TemporaryDirectory(prefix="lambdalab-core-ab-") as tmp:
        old = export(revision, Path(tmp))
        this: list[dict[str, float]] = []
        base: list[dict[str, float]] = []
        for n in range(rounds):
            order = [(ROOT, this), (old, base)]
            for tree, into in order if n % 2 else order[::-1]:
                into.append(run_round(tree, count))
    named = f"the same, {revision}"

    def median(side: list[dict[str, float]], what: str) -> float:
        return statistics.median(r[what] for r in side)

    return [
        Row("1", "core CPU per awaited warm invoke", "µs", median(this, "core"),
            median(base, "core"), named, notes=f"median of {rounds} rounds of {count}"),
        Row("2", "environment CPU per awaited warm invoke", "µs",
            median(this, "environment"), median(base, "environment"), named),
        Row("3", "core CPU per awaited invoke, the answer canned", "µs",
            median(this, "alone"), median(base, "alone"), named,
            notes="the core alone: no environment, no pipe"),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("revision", nargs="?", help="the git revision to compare this tree with")
    parser.add_argument("--quick", action="store_true", help="a smoke test")
    parser.add_argument("--round", type=int, help=argparse.SUPPRESS)  # one child round
    args = parser.parse_args(argv)
    if args.round:
        print(json.dumps(one_round(args.round)))
        return 0
    if not args.revision:
        parser.error("a revision is needed")
    mode = "quick" if args.quick else "full"
    began = time.perf_counter()
    rows = measure(args.revision, *MODES[mode])
    print(f"lambdalab core A/B against {args.revision} ({mode} run, "
          f"{time.perf_counter() - began:.1f} s)\n")
    print(harness.table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
