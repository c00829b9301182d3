"""Busy-waiting benchmarks: the warm path wherever the two ends run (issue 21, "Busy-waiting").

    python benchmarks/spin.py            # full run, about a minute on 2 cores
    python benchmarks/spin.py --quick    # small counts: a smoke test
    python benchmarks/spin.py --json out.json

Both ends of an environment's pipe poll for the other's frame for up to
``SPIN_S`` before they sleep, where a spin can pay
(:class:`lambdalab.runtime.protocol.SpinPolicy`: not where the two share one CPU,
not where more tasks are runnable than CPUs, not after spins that missed). Figures,
each beside a raw pipe round trip measured in the same run:

1. warm ``Lab.invoke`` p50 (``subprocess``) unpinned, with the invoking thread and the
   environment pinned to one CPU, and pinned to two different CPUs;
2. warm p50 with ``limited`` at 128 MB;
3. invokes/s of 4 threads (4 warm environments) with the spins on and off
   (``lambdalab_subprocess.SPIN_S = 0``), the median of several short runs each.

On a loaded machine (more runnable tasks than CPUs) neither end spins: the figures
then show the wake-up path, whatever the placement.
"""

from __future__ import annotations

import gc
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import baselines
import harness
import lambdalab_subprocess
from harness import Row, p50, time_each
from invoke import ECHO_HANDLER, EVENT, idle_pids, progress, throughput
from lambdalab import Lab
from lambdalab.runtime.protocol import runnable_tasks

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


MODES = {
    "quick": Counts(pipe_round_trips=2_000, warm_invokes=2_000, throughput_s=1.0),
    "full": Counts(pipe_round_trips=20_000, warm_invokes=10_000, throughput_s=5.0),
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


def pinned_p50(lab: Lab, name: str, count: int, env_cpu: int) -> float:
    """Warm p50 with this thread on CPU :data:`HERE` and the environment on ``env_cpu``."""
    before = os.sched_getaffinity(0)
    (pid,) = idle_pids(lab, name)
    os.sched_setaffinity(0, {HERE})
    os.sched_setaffinity(pid, {env_cpu})
    try:
        return warm_p50(lab, name, count)
    finally:
        os.sched_setaffinity(0, before)
        os.sched_setaffinity(pid, before)


def rate_4_threads(root: Path, data: str, seconds: float) -> float:
    with Lab(data_dir=root / f"{data}-data", default_sandbox="subprocess") as lab:
        deploy(lab, root, data)
        return throughput(lab, data, seconds, threads=4)[0]


def measure(counts: Counts) -> list[Row]:
    progress(f"baseline: {counts.pipe_round_trips} pipe round trips")
    pipe = p50(baselines.pipe_round_trips(counts.pipe_round_trips))
    pipe_name = "pipe round trip to a warm forked echo worker"
    cpus = sorted(os.sched_getaffinity(0))
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="lambdalab-spin-") as tmp:
        root = Path(tmp)
        with Lab(data_dir=root / "data") as lab:
            deploy(lab, root, "echo", sandbox="subprocess")
            progress(f"warm invokes: unpinned, then pinned, {counts.warm_invokes} each")
            placements = [("unpinned", warm_p50(lab, "echo", counts.warm_invokes))]
            if HERE in cpus:
                placements.append(("both on one CPU", pinned_p50(lab, "echo", counts.warm_invokes, HERE)))
            if HERE in cpus and THERE in cpus:
                placements.append(("on two CPUs", pinned_p50(lab, "echo", counts.warm_invokes, THERE)))
            for placement, measured in placements:
                rows.append(Row("1", f"warm invoke p50, subprocess, {placement}", "µs", measured,
                                pipe, pipe_name, target=f"<= {WARM_TARGET_US} µs",
                                met=measured <= WARM_TARGET_US, samples=counts.warm_invokes))
            deploy(lab, root, "limited", sandbox="limited", memory_size=128)
            progress(f"warm invokes: limited at 128 MB, {counts.warm_invokes}")
            limited = warm_p50(lab, "limited", counts.warm_invokes)
            rows.append(Row("2", "warm invoke p50, limited at 128 MB", "µs", limited, pipe,
                            pipe_name, target=f"<= {LIMITED_TARGET_RATIO:g}x",
                            met=limited <= LIMITED_TARGET_RATIO * pipe,
                            samples=counts.warm_invokes))
        progress(f"throughput, 4 threads, spins on then off, {counts.throughput_s:.1f} s each")
        spinning = rate_4_threads(root, "spins-on", counts.throughput_s)
        spin_s, lambdalab_subprocess.SPIN_S = lambdalab_subprocess.SPIN_S, 0.0
        try:
            still = rate_4_threads(root, "spins-off", counts.throughput_s)
        finally:
            lambdalab_subprocess.SPIN_S = spin_s
    rows.append(Row("3", "throughput, 4 threads, spins on", "/s", spinning, still,
                    "the same, spins off", target=f">= {THROUGHPUT_TARGET_RATIO:g}x",
                    met=spinning >= THROUGHPUT_TARGET_RATIO * still,
                    notes=f"runnable tasks at the end: {runnable_tasks()}"))
    return rows


def main(argv: list[str] | None = None) -> int:
    return harness.main("busy-waiting benchmarks", __doc__.split("\n\n")[0], measure, MODES,
                        argv, quick_help="small counts: a smoke test", summary=True)


if __name__ == "__main__":
    sys.exit(main())
