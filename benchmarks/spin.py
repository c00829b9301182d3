"""Busy-waiting benchmarks: the warm path wherever the two ends run (issue 21, "Busy-waiting").

    python benchmarks/spin.py            # full run, about a minute on 2 cores
    python benchmarks/spin.py --quick    # small counts: a smoke test
    python benchmarks/spin.py --json out.json

Both ends of an environment's pipe poll for the other's frame for up to
``SPIN_S`` before they sleep, where a spin can pay
(:class:`lambdalab.runtime.protocol.SpinPolicy`: not where the two share one CPU,
not where more tasks are runnable than CPUs, not after spins that missed). Figures,
each beside a baseline measured in the same run:

1. warm ``Lab.invoke`` p50 (``subprocess``) unpinned, with the invoking thread and the
   environment pinned to one CPU, and pinned to two different CPUs, each beside its
   floor in the same placement: where the two may run apart, a raw round trip in which
   both ends spin, as lambdalab's do there (``baselines.SpinningEchoWorker``); on one
   CPU, where neither spins, a pipe round trip to a sleeping echo worker (two context
   switches). Each row notes the core's bookkeeping: figure 1 less figure 1e;
1e. the exchange alone in each placement: the backend's invoke of the warm environment
   (``env.invoke``: the frames, the runtime's loop and the handler), without the
   core's bookkeeping around it (admission, the pool, logs, metrics);
2. warm p50 with ``limited`` at 128 MB (2e: its exchange alone, governor included);
3. invokes/s of 4 threads (4 warm environments) with the spins on and off
   (``lambdalab_subprocess.SPIN_S = 0``): two labs side by side, measured in alternating
   rounds, the median of the rounds each; after each round its lab writes what its log
   store and cost ledger buffered, untimed, so that neither lab's writes land in the
   other's round.

On a loaded machine (more runnable tasks than CPUs) neither end spins: the figures
then show the wake-up path, whatever the placement.
"""

from __future__ import annotations

import gc
import json
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, TypeVar

import baselines
import harness
import lambdalab_subprocess
from harness import Row, p50, time_each
from invoke import ECHO_HANDLER, EVENT, idle_pids, progress, settle_writers, throughput
from lambdalab import Lab
from lambdalab.plugin import InvokeRequest
from lambdalab.runtime.protocol import runnable_tasks

T = TypeVar("T")
Worker = baselines.EchoWorker | baselines.SpinningEchoWorker
#: The invoking thread's CPU, and the environment's when they are apart.
HERE, THERE = 0, 1
WARM_TARGET_US = 40
LIMITED_TARGET_RATIO = 3.0
#: Spins on must keep this share of the throughput with spins off (the noise allowed).
THROUGHPUT_TARGET_RATIO = 0.95


@dataclass(frozen=True)
class Counts:
    pipe_round_trips: int
    warm_invokes: int
    throughput_s: float
    spin_rounds: int


MODES = {
    "quick": Counts(pipe_round_trips=2_000, warm_invokes=2_000, throughput_s=1.0, spin_rounds=2),
    "full": Counts(pipe_round_trips=20_000, warm_invokes=10_000, throughput_s=8.0, spin_rounds=8),
}


def deploy(lab: Lab, root: Path, name: str, **config: object) -> None:
    code = root / name
    code.mkdir()
    (code / "app.py").write_text(ECHO_HANDLER)
    lab.create_function(name, code, handler="app.handler", **config)  # type: ignore[arg-type]


def warm_p50(lab: Lab, name: str, count: int) -> float:
    for _ in range(max(200, count // 10)):
        lab.invoke(name, EVENT)
    gc.collect()
    return p50(time_each(lambda: lab.invoke(name, EVENT), count))


def exchange_p50(lab: Lab, name: str, count: int) -> float:
    """Warm p50 of the backend's own invoke of ``name``'s idle environment: the exchange
    with the runtime, without the core's bookkeeping."""
    (pooled,) = [p for p in lab.pool.idle_environments() if p.function_name == name]
    request = InvokeRequest(
        "c0ffee00-0000-4000-8000-000000000000", json.dumps(EVENT).encode(),
        f"arn:aws:lambda:us-east-1:123456789012:function:{name}",
        int(time.time() * 1000) + 3_600_000, 3600.0,
    )
    return p50(time_each(lambda: pooled.env.invoke(request), count))


def pinned(pid: int | None, env_cpu: int | None, measure: Callable[[], T]) -> T:
    """``measure()`` with this thread on CPU :data:`HERE` and process ``pid`` on
    ``env_cpu`` (None: unpinned, as they were)."""
    if pid is None or env_cpu is None:
        return measure()
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {HERE})
    os.sched_setaffinity(pid, {env_cpu})
    try:
        return measure()
    finally:
        os.sched_setaffinity(0, before)
        os.sched_setaffinity(pid, before)


def pipe_p50s(
    count: int, placements: dict[str, int | None], worker_type: type[Worker] = baselines.EchoWorker
) -> dict[str, float]:
    """The raw pipe round trip's p50 in each placement (the echo worker where the
    environment would be), measured before any thread of a lab exists to be forked."""
    worker = worker_type()
    try:
        for _ in range(count // 10):
            worker.round_trip()
        return {
            placement: pinned(worker.pid, cpu, lambda: p50(time_each(worker.round_trip, count)))
            for placement, cpu in placements.items()
        }
    finally:
        worker.close()


def floors(count: int) -> tuple[dict[str, tuple[float, str]], float]:
    """Figure 1's floor in each placement, and its name: a round trip with both ends
    spinning where the two may run on different CPUs (lambdalab's ends spin there, where
    a spin can pay), else one whose ends sleep (on one CPU neither spins); and the
    sleeping round trip unpinned, figure 2's baseline."""
    where = placements()
    sleeping = pipe_p50s(count, {name: cpu for name, cpu in where.items()
                                 if name == "unpinned" or cpu == HERE})
    spinning = pipe_p50s(count, {name: cpu for name, cpu in where.items() if cpu != HERE},
                         baselines.SpinningEchoWorker)
    return {
        name: (spinning[name], f"raw round trip, both ends spinning, {name} (the floor)")
        if name in spinning else
        (sleeping[name], f"raw pipe round trip, {name} (the floor)")
        for name in where
    }, sleeping["unpinned"]


def spin_rates(root: Path, seconds: float, rounds: int) -> tuple[list[float], list[float]]:
    """Invokes/s of 4 threads with the spins on and with them off, in alternating rounds
    (the order swapped each round) of two labs open side by side, so that a neighbour's
    burst or a quiet spell lands on both. An environment takes ``SPIN_S`` when it starts:
    each lab's environments start in its own rounds."""
    on, off = [], []
    with Lab(data_dir=root / "spins-on-data", default_sandbox="subprocess") as lab_on, \
            Lab(data_dir=root / "spins-off-data", default_sandbox="subprocess") as lab_off:
        deploy(lab_on, root, "spins-on")
        deploy(lab_off, root, "spins-off")
        sides = [(lab_on, "spins-on", on, lambdalab_subprocess.SPIN_S),
                 (lab_off, "spins-off", off, 0.0)]
        for number in range(rounds):
            for lab, name, rates, spin_s in sides if number % 2 == 0 else sides[::-1]:
                kept, lambdalab_subprocess.SPIN_S = lambdalab_subprocess.SPIN_S, spin_s
                try:
                    rates.append(throughput(lab, name, seconds / rounds, threads=4)[0])
                finally:
                    lambdalab_subprocess.SPIN_S = kept
                settle(lab)
    return on, off


def settle(lab: Lab) -> None:
    """Write what ``lab``'s log store and other batched writers buffered (untimed):
    their threads write every 200 ms, and would otherwise write one lab's round during
    the other's."""
    lab.logs.flush()
    settle_writers(lab)


def placements() -> dict[str, int | None]:
    """Where the environment runs, by name: the CPU it is pinned to (None: unpinned)."""
    cpus = os.sched_getaffinity(0)
    where: dict[str, int | None] = {"unpinned": None}
    if HERE in cpus:
        where["both on one CPU"] = HERE
    if HERE in cpus and THERE in cpus:
        where["on two CPUs"] = THERE
    return where


def placement_rows(lab: Lab, count: int, pipes: dict[str, tuple[float, str]]) -> list[Row]:
    """Figures 1 and 1e in each placement, beside the floor in the same one."""
    rows = []
    lab.invoke("echo", EVENT)  # its environment, to pin
    for placement, cpu in placements().items():
        (pid,) = idle_pids(lab, "echo")
        floor, floor_name = pipes[placement]
        warm = pinned(pid, cpu, lambda: warm_p50(lab, "echo", count))
        exchange = pinned(pid, cpu, lambda: exchange_p50(lab, "echo", count))
        notes = f"the core's bookkeeping (figure 1 less 1e): {warm - exchange:.1f} µs"
        if floor > WARM_TARGET_US:
            notes += f"; the target is below this run's floor ({floor:.1f} µs)"
        rows.append(Row("1", f"warm invoke p50, subprocess, {placement}", "µs", warm, floor,
                        floor_name, target=f"<= {WARM_TARGET_US} µs",
                        met=warm <= WARM_TARGET_US, samples=count, notes=notes))
        rows.append(Row("1e", f"the exchange alone (backend invoke) p50, {placement}", "µs",
                        exchange, floor, floor_name, samples=count,
                        notes="without the core's bookkeeping (admission, pool, logs, metrics)"))
    return rows


def measure(counts: Counts) -> list[Row]:
    progress(f"baselines: {counts.pipe_round_trips} pipe round trips in each placement")
    pipes, pipe = floors(counts.pipe_round_trips)
    pipe_name = "pipe round trip to a warm forked echo worker"
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="lambdalab-spin-") as tmp:
        root = Path(tmp)
        with Lab(data_dir=root / "data") as lab:
            deploy(lab, root, "echo", sandbox="subprocess")
            progress(f"warm invokes: unpinned, then pinned, {counts.warm_invokes} each")
            rows += placement_rows(lab, counts.warm_invokes, pipes)
            deploy(lab, root, "limited", sandbox="limited", memory_size=128)
            progress(f"warm invokes: limited at 128 MB, {counts.warm_invokes}")
            limited = warm_p50(lab, "limited", counts.warm_invokes)
            rows.append(Row("2", "warm invoke p50, limited at 128 MB", "µs", limited, pipe,
                            pipe_name, target=f"<= {LIMITED_TARGET_RATIO:g}x",
                            met=limited <= LIMITED_TARGET_RATIO * pipe,
                            samples=counts.warm_invokes))
            rows.append(Row("2e", "the exchange alone (backend invoke), limited at 128 MB", "µs",
                            exchange_p50(lab, "limited", counts.warm_invokes), pipe, pipe_name,
                            samples=counts.warm_invokes,
                            notes="with the governor's readings, without the core's bookkeeping"))
        progress(f"throughput, 4 threads, spins on and off in {counts.spin_rounds} alternating "
                 f"rounds, {counts.throughput_s:.1f} s each side")
        on, off = spin_rates(root, counts.throughput_s, counts.spin_rounds)
    pairs = [a / b for a, b in zip(on, off)]
    spinning, still = statistics.median(on), statistics.median(off)
    rows.append(Row("3", "throughput, 4 threads, spins on", "/s", spinning, still,
                    "the same, spins off", target=f">= {THROUGHPUT_TARGET_RATIO:g}x",
                    met=spinning >= THROUGHPUT_TARGET_RATIO * still,
                    notes=f"median of {len(on)} alternating rounds each; round pairs "
                          f"{min(pairs):.2f}-{max(pairs):.2f}x; runnable tasks at the end: "
                          f"{runnable_tasks()}"))
    return rows


def main(argv: list[str] | None = None) -> int:
    return harness.main("busy-waiting benchmarks", __doc__.split("\n\n")[0], measure, MODES,
                        argv, quick_help="small counts: a smoke test", summary=True)


if __name__ == "__main__":
    sys.exit(main())
