"""The HTTP edge of this tree beside a git revision's, both serving at once (an A/B).

    python benchmarks/edge_ab.py 09ea0e1            # about 2 minutes on 2 cores
    python benchmarks/edge_ab.py 09ea0e1 --quick    # a smoke test
    python benchmarks/edge_ab.py 09ea0e1 --json out.json
    python benchmarks/edge_ab.py 09ea0e1 --clients 16   # figure 3 with 16 clients

On a shared machine two runs a minute apart differ by more than most changes do, so
this compares in one run: the revision is exported (``git archive``) to a temporary
folder, both trees' ``lambdalab serve`` start at once (each with ``PYTHONPATH`` on its
own tree; plugins are found by this installation's entry points) with the same echo
function, and the measured rounds alternate between them, the order swapped each round
(a round's second server is measured in the first one's wake). Figures, this tree's
beside the revision's:

1. single-client warm Invoke p50 (one keep-alive ``http.client`` connection);
2. the server's CPU per request over those rounds (the serve process and its
   environments, ``psutil``);
3. requests/s of 4 client processes (``--clients``) (one keep-alive connection each), the median of
   the rounds, and CPU per request over them.
"""

from __future__ import annotations

import argparse
import io
import multiprocessing
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

import harness
from edge import create_over_http, http_invoker, start_edge
from harness import Row, p50, time_each

ROOT = Path(__file__).resolve().parents[1]
CLIENTS = 4
#: How long the function may stay Pending after CreateFunction before the run gives up.
SETTLE_S = 30.0


@dataclass(frozen=True)
class Counts:
    rounds: int
    requests: int
    seconds: float


MODES = {
    "quick": Counts(rounds=4, requests=300, seconds=1.0),
    "full": Counts(rounds=10, requests=1_000, seconds=3.0),
}


@dataclass
class Side:
    """One tree's server and what was measured of it."""

    proc: subprocess.Popen[str]
    url: str
    latencies: list[float]
    cpu_single: list[float]
    rates: list[float]
    cpu_loaded: list[float]


def export(revision: str, into: Path) -> Path:
    """The files of ``revision`` of this repository, in ``into``."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", "--format=tar", revision],
                             check=True, capture_output=True).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into


def server_cpu(proc: subprocess.Popen[str]) -> float:
    """User and system seconds of ``proc`` and its descendants so far."""
    parent = psutil.Process(proc.pid)
    total = 0.0
    for process in [parent, *parent.children(recursive=True)]:
        try:
            times = process.cpu_times()
        except psutil.Error:  # an environment that just ended
            continue
        total += times.user + times.system
    return total


def serve(tree: Path, data_dir: Path) -> Side:
    proc, url = start_edge(data_dir, {"PYTHONPATH": f"{tree}:{tree / 'plugins'}"})
    create_over_http(url)
    deadline = time.monotonic() + SETTLE_S
    while True:  # Pending until the function settles; then one warm environment
        try:
            http_invoker(url)()
            break
        except RuntimeError:
            if time.monotonic() > deadline:
                proc.kill()
                raise
    return Side(proc, url, [], [], [], [])


def requests_for(job: tuple[str, float]) -> int:
    """Requests one client process answered in ``seconds`` (a pool worker)."""
    url, seconds = job
    call, answered = http_invoker(url), 0
    until = time.monotonic() + seconds
    while time.monotonic() < until:
        call()
        answered += 1
    return answered


def one_round(side: Side, counts: Counts, pool: multiprocessing.pool.Pool, clients: int) -> None:
    call = http_invoker(side.url)
    time_each(call, 50)
    before = server_cpu(side.proc)
    side.latencies.extend(time_each(call, counts.requests))
    side.cpu_single.append((server_cpu(side.proc) - before) / counts.requests * 1e6)
    before, started = server_cpu(side.proc), time.monotonic()
    answered = sum(pool.map(requests_for, [(side.url, counts.seconds)] * clients))
    side.rates.append(answered / (time.monotonic() - started))
    side.cpu_loaded.append((server_cpu(side.proc) - before) / answered * 1e6)


def measure(counts: Counts, revision: str, clients: int = CLIENTS) -> list[Row]:
    with tempfile.TemporaryDirectory(prefix="lambdalab-edge-ab-") as tmp:
        root = Path(tmp)
        base_tree = export(revision, root / "tree")
        sides = {"base": serve(base_tree, root / "base-data"), "this": serve(ROOT, root / "data")}
        try:
            with multiprocessing.Pool(clients) as pool:
                for number in range(counts.rounds):
                    order = ["base", "this"] if number % 2 == 0 else ["this", "base"]
                    for name in order:
                        one_round(sides[name], counts, pool, clients)
        finally:
            for side in sides.values():
                side.proc.terminate()
                side.proc.wait(10)
    base, this = sides["base"], sides["this"]
    pairs = [t / b for t, b in zip(this.rates, base.rates)]
    named = f"the same, {revision}"
    return [
        Row("1", "single-client warm Invoke p50", "µs", p50(this.latencies),
            p50(base.latencies), named, samples=len(this.latencies)),
        Row("2", "server CPU per request, single client", "µs",
            statistics.median(this.cpu_single), statistics.median(base.cpu_single), named,
            notes="median of the rounds"),
        Row("3", f"requests/s, {clients} client processes", "/s", statistics.median(this.rates),
            statistics.median(base.rates), named,
            notes=f"median of {counts.rounds} rounds; round pairs {min(pairs):.2f}-"
                  f"{max(pairs):.2f}x"),
        Row("3b", f"server CPU per request, {clients} clients", "µs",
            statistics.median(this.cpu_loaded), statistics.median(base.cpu_loaded), named),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("revision", help="the git revision to compare this tree with")
    parser.add_argument("--quick", action="store_true", help="a smoke test")
    parser.add_argument("--json", metavar="PATH", help="also write the figures as JSON")
    parser.add_argument("--clients", type=int, default=CLIENTS,
                        help=f"client processes of figure 3 (default {CLIENTS})")
    args = parser.parse_args(argv)
    mode = "quick" if args.quick else "full"
    began = time.perf_counter()
    rows = measure(MODES[mode], args.revision, args.clients)
    seconds = time.perf_counter() - began
    print(f"lambdalab edge A/B against {args.revision} ({mode} run, {seconds:.1f} s)\n")
    print(harness.table(rows))
    if args.json:
        harness.write_json(args.json, rows, mode=mode, seconds=seconds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
