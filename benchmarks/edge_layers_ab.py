"""The edge's own layers, this tree beside a git revision's: the core's answer canned.

    python benchmarks/edge_layers_ab.py 8ad1315            # about a minute
    python benchmarks/edge_layers_ab.py 8ad1315 --rounds 4 --seconds 1

Each tree's edge (uvicorn's protocol, the edge's dispatch, Lambda's REST service, the
answer's serialization and writes) serves in a process of its own whose
``Lab.invoke_async`` returns a prepared answer at once: no environment, no invoker, no
hooks. What that process spends per warm Invoke request is what the HTTP layers cost.
Rounds alternate between the two servers, the order swapped each round; the figure is
each server's CPU per request (user + system, ``psutil``) over all its rounds, and the
ratio of this tree's to the revision's within the same run (on a shared machine only a
ratio in one run means anything).
"""

from __future__ import annotations

import argparse
import io
import multiprocessing
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import psutil

from edge import PATH, _client

ROOT = Path(__file__).resolve().parents[1]
CLIENTS = 4

#: Runs in each server process: the lab's invoke answers from memory.
SERVER = """
import sys
from lambdalab import Lab
from lambdalab.models import InvokeResult
from lambdalab.server.runner import EdgeServer

ANSWER = InvokeResult(200, b'{"hello": "world"}', executed_version="$LATEST",
                      request_id="3f6a4c1e-0000-4000-8000-000000000000")

async def invoke_async(self, *args, **kwargs):
    return ANSWER

Lab.invoke_async = invoke_async
lab = Lab(data_dir=sys.argv[1])
server = EdgeServer(lab, port=0)
print("edge on", server.url, flush=True)
server.run()
"""


def export(revision: str, into: Path) -> Path:
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", revision], check=True,
                             capture_output=True).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into)
    return into


def start(tree: Path, data_dir: Path) -> tuple[subprocess.Popen[str], int]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    proc = subprocess.Popen([sys.executable, "-c", SERVER, str(data_dir)], cwd=tree,
                            stdout=subprocess.PIPE, text=True, env=env,
                            start_new_session=True)  # as edge.start_edge's, which says why
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line.startswith("edge on "):
        proc.kill()
        raise RuntimeError(f"the edge of {tree} did not start: {line!r}")
    return proc, int(line.split()[2].rsplit(":", 1)[1])


def cpu(pid: int) -> float:
    times = psutil.Process(pid).cpu_times()
    return times.user + times.system


def one_round(pool: multiprocessing.pool.Pool, proc: subprocess.Popen[str], port: int,
              seconds: float) -> tuple[int, float]:
    """Requests answered and server CPU seconds spent over ``seconds`` of 4 clients."""
    begin = time.time() + 0.3
    end = begin + seconds
    before = cpu(proc.pid)
    results = pool.starmap(_client, [(port, PATH, begin, end)] * CLIENTS)
    spent = cpu(proc.pid) - before
    return sum(n for n, _ in results), spent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("revision")
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=2.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        base = export(args.revision, Path(tmp) / "base")
        servers = {"this": start(ROOT, Path(tmp) / "a"), args.revision: start(base, Path(tmp) / "b")}
        totals = {name: [0, 0.0] for name in servers}
        per_round: dict[str, list[float]] = {name: [] for name in servers}
        try:
            with multiprocessing.get_context("fork").Pool(CLIENTS) as pool:
                for proc, port in servers.values():  # warm up: imports, caches
                    one_round(pool, proc, port, 0.5)
                names = list(servers)
                for r in range(args.rounds):
                    for name in names if r % 2 == 0 else names[::-1]:
                        n, spent = one_round(pool, *servers[name], args.seconds)
                        totals[name][0] += n
                        totals[name][1] += spent
                        per_round[name].append(spent / n * 1e6)
        finally:
            for proc, _ in servers.values():
                proc.terminate()
                proc.wait()
    figures = {name: spent / n * 1e6 for name, (n, spent) in totals.items()}
    for name in servers:
        rounds = per_round[name]
        print(f"{name:>10}: {figures[name]:6.1f} µs CPU per request "
              f"(rounds {min(rounds):.0f}–{max(rounds):.0f}, median {statistics.median(rounds):.0f}), "
              f"{totals[name][0] / (args.rounds * args.seconds):,.0f} req/s")
    print(f"ratio this / {args.revision}: {figures['this'] / figures[args.revision]:.2f}x")


if __name__ == "__main__":
    main()
