"""Many warm functions: a round robin over 500 of them beside one hot function (issue 21,
"Many functions").

    python benchmarks/many.py            # 500 functions, a few minutes on 2 cores
    python benchmarks/many.py --quick    # 50 functions: a smoke test
    python benchmarks/many.py --json out.json

Every function (``subprocess``, a tiny echo handler) is started once, so each has one
warm environment; then, in alternating rounds of one run, warm ``Lab.invoke`` calls go
either to one function again and again (*hot*) or to each function in turn (*round
robin*: every call meets an environment that has been idle for a whole round). Target:
the round robin's p50 <= 2x the hot p50.

Figure 2 is what the round robin pays in the core alone, whatever the environments
cost to wake: the per-invoke work of ``Lab.invoke`` with the environment's answer
replaced by a canned one (``RunInvoke.run``), round robin beside hot. A figure that
grows with the number of functions there is a cost of lambdalab's own bookkeeping
(registry reads, pool and policy state per function), not of the scheduler.

Figure 3 is the machine's floor for figure 1, with no lambdalab at all: raw pipe round
trips to as many forked echo workers (``baselines.round_robin_round_trips``), round
robin beside one worker again and again. What it costs to wake a process that slept
through a round, and to find its memory cold, any design with sleeping environments
pays; where its ratio is above figure 1's target, the target is below this run's floor.
"""

from __future__ import annotations

import gc
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import baselines
import harness
from harness import Row, p50, time_each
from invoke import ECHO_HANDLER, EVENT, progress
from lambdalab import Lab
from lambdalab.invocation import invoker
from lambdalab.sandbox import InvokeOutcome

TARGET_RATIO = 2.0
ROUNDS = 10


@dataclass(frozen=True)
class Counts:
    functions: int
    invokes: int


MODES = {
    "quick": Counts(functions=50, invokes=4_000),
    "full": Counts(functions=500, invokes=20_000),
}


def deploy(lab: Lab, root: Path, count: int) -> list[str]:
    """``count`` echo functions, each invoked once: one warm environment apiece."""
    code = root / "code"
    code.mkdir()
    (code / "app.py").write_text(ECHO_HANDLER)
    names = [f"echo-{i:03d}" for i in range(count)]
    for name in names:
        lab.create_function(name, code, handler="app.handler", sandbox="subprocess")
    for name in names:
        lab.invoke(name, EVENT)
    return names


def alternating(lab: Lab, names: list[str], count: int) -> tuple[list[float], list[float]]:
    """Warm invokes, hot and round robin in alternating rounds: each one's samples."""
    robin: Iterator[str] = iter(())
    per_round = count // (2 * ROUNDS)

    def next_name() -> str:
        nonlocal robin
        for name in robin:
            return name
        robin = iter(names)
        return next(robin)

    hot: list[float] = []
    round_robin: list[float] = []
    for _ in range(ROUNDS):
        gc.collect()
        hot.extend(time_each(lambda: lab.invoke(names[0], EVENT), per_round))
        gc.collect()
        round_robin.extend(time_each(lambda: lab.invoke(next_name(), EVENT), per_round))
    return hot, round_robin


def canned(run: Callable[[invoker.RunInvoke], InvokeOutcome]) -> Callable[..., InvokeOutcome]:
    """``RunInvoke.run`` answering at once, as the echo handler would (no environment)."""

    def answer(step: invoker.RunInvoke) -> InvokeOutcome:
        return InvokeOutcome(status="ok", payload=step.request.payload, duration_ms=0.01,
                             log_lines=[], max_memory_used_mb=30)

    return answer


def measure(counts: Counts) -> list[Row]:
    progress(f"the floor: raw round trips to {counts.functions} forked echo workers")
    raw_hot, raw_robin = baselines.round_robin_round_trips(counts.functions, counts.invokes)
    with tempfile.TemporaryDirectory(prefix="lambdalab-many-") as tmp:
        root = Path(tmp)
        with Lab(data_dir=root / "data", state_transition=0) as lab:
            progress(f"{counts.functions} functions: create and start one environment each")
            names = deploy(lab, root, counts.functions)
            for name in names:  # one round unmeasured: every environment answered once more
                lab.invoke(name, EVENT)
            progress(f"{counts.invokes} warm invokes, hot and round robin, {ROUNDS} rounds")
            hot, robin = alternating(lab, names, counts.invokes)
            run = invoker.RunInvoke.run
            invoker.RunInvoke.run = canned(run)  # type: ignore[method-assign]
            try:
                progress(f"{counts.invokes} invokes with a canned answer: the core alone")
                core_hot, core_robin = alternating(lab, names, counts.invokes)
            finally:
                invoker.RunInvoke.run = run  # type: ignore[method-assign]
    ratio_note = f"{counts.functions} functions, one warm environment each"
    floor = p50(raw_robin) / p50(raw_hot)
    if floor > TARGET_RATIO:
        ratio_note += f"; the target is below this run's floor ({floor:.2f}x, figure 3)"
    return [
        Row("1", f"warm invoke p50, round robin over {counts.functions} functions", "µs",
            p50(robin), p50(hot), "the same, one hot function",
            target=f"<= {TARGET_RATIO:g}x", met=p50(robin) <= TARGET_RATIO * p50(hot),
            samples=len(robin), notes=ratio_note),
        Row("2", "the core alone (canned answer), round robin", "µs", p50(core_robin),
            p50(core_hot), "the core alone, one hot function", samples=len(core_robin)),
        Row("3", f"floor: raw pipe round trip, round robin over {counts.functions} echo workers",
            "µs", p50(raw_robin), p50(raw_hot), "raw, one worker again and again",
            samples=len(raw_robin), notes="no lambdalab: waking a process that slept a round"),
    ]


def main(argv: list[str] | None = None) -> int:
    return harness.main("many functions benchmark", __doc__.split("\n\n")[0], measure, MODES,
                        argv, quick_help="50 functions: a smoke test", summary=True)


if __name__ == "__main__":
    sys.exit(main())
