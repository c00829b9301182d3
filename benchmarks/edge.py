"""HTTP edge benchmarks: warm Invoke over HTTP beside the same invoke through ``Lab.invoke``.

    python benchmarks/edge.py            # full run, about a minute on 2 cores
    python benchmarks/edge.py --quick    # small counts: a smoke test
    python benchmarks/edge.py --json out.json

Figures (targets from issue 6):

1. warm sync Invoke of a tiny handler (returns its event) over HTTP with a keep-alive
   ``http.client`` connection, p50 and p99 (target p50 <= 1 ms), beside the same invoke
   through the Python API measured in the same run (the baseline);
2. requests/s with 4 concurrent keep-alive clients (threads), each with its own
   connection (target >= 1,500/s), beside 4 threads calling ``Lab.invoke``;
3. the same warm invoke through boto3 (SigV4 signing, botocore parsing), reported only;
4. beside its peers (issue 21), in the same run: serverless-offline's Invoke
   (:mod:`peer_serverless_offline`; skipped with a message where Node is absent) and the
   floor, a minimal uvicorn app answering the same POST. Raw HTTP Invoke requests/s with 4
   and 16 keep-alive clients (client processes, each with one ``http.client``
   connection), the server's CPU per request (its process tree's ``cpu_times`` over the
   measured window, divided by the requests), the single-client p50 and the p99 at 64
   clients. Targets: >= 1.5x serverless-offline's req/s, >= 0.6x the floor's, <= 120 µs
   of server CPU per request, p50 <= 1.5x the floor's, p99 at 64 clients <= the peer's.
   The three servers are all up at once and take turns, in an order rotated each round:
   at each load (4, 16 and 64 clients) in a few rounds, and at the single-client p50 in
   more, shorter ones, so that a shared machine's drift between phases falls on all
   three alike.
   The first invoke after the server starts is ``benchmarks/startup.py``'s. Beside 4c,
   reported only (4f): the floor of this architecture, the floor's CPU per request plus
   the CPU of one raw pipe round trip to a warm forked echo worker
   (``baselines.EchoWorker``; both processes' CPU), what any Python edge with its
   environment in another process pays at least on this machine.

The edge runs as ``lambdalab serve --port 0`` in its own process (as a learner runs it;
in the ``subprocess`` sandbox, see ``harness.SANDBOX``),
so the benchmark's client threads do not share its interpreter lock; the Python API
baseline runs a Lab in this process. Both use temporary data dirs and the loopback
interface. A missed target is reported, not raised.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import io
import json
import math
import multiprocessing
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable

import boto3
import psutil
from botocore.config import Config

import harness
from baselines import EchoWorker
import peer_serverless_offline as peers
from harness import Row, p50, p99, time_each
from lambdalab import Lab

ECHO_HANDLER = "def handler(event, context):\n    return event\n"
EVENT = b'{"a": 1}'
PATH = "/2015-03-31/functions/echo/invocations"
CLIENTS = 4
#: Per mode: warm invokes timed per path, seconds of each throughput run, boto3 invokes.
MODES = {
    "quick": {"invokes": 300, "seconds": 1.5, "boto3": 100, "load_seconds": 1.5,
              "load_rounds": 1, "round_trips": 2_000, "single_rounds": 2,
              "single_seconds": 0.5},
    "full": {"invokes": 3000, "seconds": 5.0, "boto3": 500, "load_seconds": 4.0,
             "load_rounds": 3, "round_trips": 20_000, "single_rounds": 6,
             "single_seconds": 1.0},
}
#: Client processes of the peer comparison's throughput runs, and of its tail figure.
LOAD_CLIENTS = (4, 16)
TAIL_CLIENTS = 64


def http_invoker(url: str) -> Callable[[], bytes]:
    """One keep-alive connection; each call is one Invoke request."""
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port))
    headers = {"Content-Type": "application/json"}

    def call() -> bytes:
        conn.request("POST", PATH, body=EVENT, headers=headers)
        response = conn.getresponse()
        body = response.read()
        if response.status != 200:
            raise RuntimeError(f"Invoke answered {response.status}: {body!r}")
        return body

    return call


def start_edge(
    data_dir: Path, env: dict[str, str] | None = None
) -> tuple[subprocess.Popen[str], str]:
    """``lambdalab serve --port 0`` in its own process; its URL, read from its output.
    ``env``: variables added to this process's (``PYTHONPATH``: another lambdalab tree).

    It runs in a session of its own, as a learner's ``lambdalab serve`` in a terminal of
    its own does and as the peers run: where the kernel groups tasks by session for CPU
    time (``/proc/sys/kernel/sched_autogroup_enabled``), a server in the benchmark's
    session would share one group's CPU time with every client process."""
    command = [str(Path(sys.executable).parent / "lambdalab"), "--data-dir", str(data_dir),
               "serve", "--port", "0"]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "200",
                                 **(env or {})}, start_new_session=True)
    assert proc.stdout is not None
    first = proc.stdout.readline()
    if not first.startswith("lambdalab edge on "):
        proc.kill()
        raise RuntimeError(f"lambdalab serve did not start: {first!r}")
    return proc, first.split()[3]


def create_over_http(url: str) -> None:
    package = io.BytesIO()
    with zipfile.ZipFile(package, "w") as archive:
        archive.writestr("app.py", ECHO_HANDLER)
    body = json.dumps({
        "FunctionName": "echo", "Runtime": f"python{sys.version_info[0]}.{sys.version_info[1]}",
        "Role": "arn:aws:iam::000000000000:role/bench", "Handler": "app.handler",
        "Code": {"ZipFile": base64.b64encode(package.getvalue()).decode()},
    })
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port))
    conn.request("POST", "/2015-03-31/functions", body=body)
    response = conn.getresponse()
    if response.status != 201:
        raise RuntimeError(f"CreateFunction answered {response.status}: {response.read()!r}")


def throughput(make_call: Callable[[], Callable[[], object]], seconds: float) -> float:
    """Calls per second of ``CLIENTS`` threads, each with its own ``make_call()``."""
    calls = [make_call() for _ in range(CLIENTS)]
    counts = [0] * CLIENTS
    stop = threading.Event()

    def loop(index: int) -> None:
        call = calls[index]
        while not stop.is_set():
            call()
            counts[index] += 1

    warm = [threading.Thread(target=loop, args=(i,)) for i in range(CLIENTS)]
    for t in warm:
        t.start()
    time.sleep(min(1.0, seconds / 3))  # every client warm, environments scaled out
    stop.set()
    for t in warm:
        t.join()
    counts[:] = [0] * CLIENTS
    stop.clear()
    threads = [threading.Thread(target=loop, args=(i,)) for i in range(CLIENTS)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    time.sleep(seconds)
    stop.set()
    for t in threads:
        t.join()
    return sum(counts) / (time.perf_counter() - started)


@dataclass
class Load:
    """One load run against one server: what its clients did in the measured window."""

    requests: int
    seconds: float
    cpu_seconds: float
    latencies_us: list[float]

    @property
    def rate(self) -> float:
        return self.requests / self.seconds

    @property
    def cpu_us_per_request(self) -> float:
        return self.cpu_seconds / max(1, self.requests) * 1e6


def _client(port: int, path: str, begin: float, end: float) -> tuple[int, list[float]]:
    """One client process: keep-alive requests until ``end``; those answered between
    ``begin`` and ``end`` are counted and timed (before, the connection and the server
    warm up)."""
    conn = http.client.HTTPConnection("127.0.0.1", port)
    latencies: list[float] = []
    clock = time.perf_counter_ns
    while time.time() < end:
        started = clock()
        try:
            conn.request("POST", path, body=EVENT, headers={"Content-Type": "application/json"})
            response = conn.getresponse()
            body = response.read()
        except (OSError, http.client.HTTPException):  # an overloaded peer resets: reconnect
            conn.close()
            continue
        if response.status != 200:
            raise RuntimeError(f"Invoke answered {response.status}: {body!r}")
        if begin <= time.time() <= end:
            latencies.append((clock() - started) / 1000)
    conn.close()
    return len(latencies), latencies


def tree_cpu(pid: int) -> float:
    """User and system CPU seconds of ``pid`` and every process under it."""
    root = psutil.Process(pid)
    total = 0.0
    for proc in [root, *root.children(recursive=True)]:
        try:
            times = proc.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


def load(pid: int, port: int, path: str, clients: int, seconds: float) -> Load:
    """``clients`` client processes (no shared interpreter lock) for ``seconds``, after a
    warm-up; the server's CPU (the tree of ``pid``) over the same window."""
    warm = min(1.0, seconds / 3) + clients * 0.02  # processes start, connections open
    begin = time.time() + warm
    end = begin + seconds
    with multiprocessing.get_context("fork").Pool(clients) as pool:
        pending = pool.starmap_async(_client, [(port, path, begin, end)] * clients)
        time.sleep(max(0.0, begin - time.time()))
        cpu_before = tree_cpu(pid)
        time.sleep(max(0.0, end - time.time()))
        cpu_after = tree_cpu(pid)
        results = pending.get(timeout=seconds + 120)
    return Load(sum(r[0] for r in results), seconds, cpu_after - cpu_before,
                [x for r in results for x in r[1]])


def pipe_exchange_cpu_us(worker: EchoWorker, count: int) -> float:
    """CPU of one pipe round trip to ``worker``, both ends: this thread's and the
    worker's (``psutil``), over ``count`` round trips after a warm-up, in µs."""
    for _ in range(200):
        worker.round_trip()
    child = psutil.Process(worker.pid)
    ours, theirs = time.thread_time(), child.cpu_times()
    for _ in range(count):
        worker.round_trip()
    after = child.cpu_times()
    worker_cpu = after.user + after.system - theirs.user - theirs.system
    return (time.thread_time() - ours + worker_cpu) / count * 1e6


@dataclass
class Figures:
    """One server's figures in the peer comparison."""

    rates: dict[int, float]
    cpu_us: float
    tail_p99_us: float
    #: the single-client p50, from the rounds the servers take in turns (interleaved_p50s)
    p50_us: float = math.nan


Server = tuple[int, int, str]  # pid, port, Invoke's path


def rotated(names: list[str], turn: int) -> list[str]:
    """``names`` in the order of round ``turn``: each round starts one further on."""
    return names[turn % len(names):] + names[:turn % len(names)]


def interleaved_figures(servers: dict[str, Server], counts: dict[str, Any]) -> dict[str, Figures]:
    """Each server's load figures, from ``load_rounds`` rounds that share
    ``load_seconds`` of each load: in a round every server takes its turn at each load
    (:data:`LOAD_CLIENTS`, then :data:`TAIL_CLIENTS` for the p99), the servers in an
    order rotated every round. Loads one server after another put a minute between two
    servers' windows, and this machine's neighbours moved the ratios by a third from
    one run to the next."""
    rounds = counts["load_rounds"]
    seconds = counts["load_seconds"] / rounds
    names = list(servers)
    runs: dict[str, dict[int, list[Load]]] = {
        name: {n: [] for n in (*LOAD_CLIENTS, TAIL_CLIENTS)} for name in names}
    for turn in range(rounds):
        for name in rotated(names, turn):
            for clients, loads in runs[name].items():
                loads.append(load(*servers[name], clients, seconds))
    return {name: figures_of(by_clients) for name, by_clients in runs.items()}


def figures_of(by_clients: dict[int, list[Load]]) -> Figures:
    """One server's figures from its loads' rounds, summed over the rounds."""
    def rate(loads: list[Load]) -> float:
        return sum(each.requests for each in loads) / sum(each.seconds for each in loads)

    busiest = by_clients[max(LOAD_CLIENTS)]
    cpu_us = (sum(each.cpu_seconds for each in busiest)
              / max(1, sum(each.requests for each in busiest)) * 1e6)
    tail = [x for each in by_clients[TAIL_CLIENTS] for x in each.latencies_us]
    return Figures({n: rate(by_clients[n]) for n in LOAD_CLIENTS}, cpu_us,
                   p99(tail or [math.inf]))


def peer_figures(
    counts: dict[str, Any], tmp: Path, ours: Server
) -> tuple[Figures, Figures, Figures | None, str]:
    """The figures of ``ours``, of the floor and of serverless-offline (``None`` with the
    reason when it cannot run here), the three up at once and taking turns at each load
    (:func:`interleaved_figures`) and at the single-client p50 (:func:`interleaved_p50s`)."""
    servers = {"ours": ours}
    with contextlib.ExitStack() as running:
        floor_proc, floor_port = peers.start_floor()
        running.callback(peers.stop, floor_proc)
        servers["floor"] = (floor_proc.pid, floor_port, PATH)
        why = peers.missing() or ""
        if not why:
            folder = tmp / "serverless-offline"
            folder.mkdir()
            try:
                proc, port, path = peers.start_serverless_offline(folder)
            except Exception as e:  # npm registry unreachable, a plugin that fails to start
                why = f"serverless-offline did not start: {e}"
            else:
                running.callback(peers.stop, proc)
                servers["peer"] = (proc.pid, port, path)
        print(f"loads, the servers taking turns: {', '.join(servers)}", file=sys.stderr)
        figures = interleaved_figures(servers, counts)
        print("single-client rounds, the servers taking turns", file=sys.stderr)
        p50s = interleaved_p50s(servers, counts["single_rounds"], counts["single_seconds"])
    measured = {name: replace(figures[name], p50_us=p50s[name]) for name in figures}
    return measured["ours"], measured["floor"], measured.get("peer"), why


def interleaved_p50s(servers: dict[str, Server], rounds: int, seconds: float) -> dict[str, float]:
    """Each server's single-client p50 over ``rounds`` rounds of ``seconds`` each, the
    servers taking turns in an order rotated every round."""
    names = list(servers)
    latencies: dict[str, list[float]] = {name: [] for name in names}
    for turn in range(rounds):
        for name in rotated(names, turn):
            latencies[name] += load(*servers[name], 1, seconds).latencies_us
    return {name: p50(values or [math.inf]) for name, values in latencies.items()}


def peer_rows(
    ours: Figures, floor: Figures, peer: Figures | None, why: str, pipe_us: float
) -> list[Row]:
    """Figures 4a–4f: lambdalab beside serverless-offline and the floor (4f, the floor
    with one pipe exchange, beside 4c)."""
    def note(value: Callable[[Figures], float], unit: str) -> str:
        said = f"floor {value(floor):,.0f} {unit}"
        return said + (f"; serverless-offline {value(peer):,.0f} {unit}" if peer else f"; {why}")

    rows = []
    for letter, n in zip("ab", LOAD_CLIENTS):
        rate = ours.rates[n]
        met = rate >= 0.6 * floor.rates[n] and (peer is None or rate >= 1.5 * peer.rates[n])
        rows.append(Row(
            f"4{letter}", f"raw HTTP Invoke req/s, {n} keep-alive client processes", "req/s",
            rate, baseline=peer.rates[n] if peer else None, baseline_name="serverless-offline",
            target=">= 1.5x serverless-offline and >= 0.6x floor", met=met,
            notes=note(lambda f: f.rates[n], "req/s"),
        ))
    rows.append(Row(
        "4c", f"server CPU per request ({max(LOAD_CLIENTS)} clients)", "µs", ours.cpu_us,
        baseline=peer.cpu_us if peer else None, baseline_name="serverless-offline",
        target="<= 120 µs", met=ours.cpu_us <= 120, notes=note(lambda f: f.cpu_us, "µs"),
    ))
    rows.append(Row(
        "4f", "floor: HTTP + one pipe exchange (CPU per request)", "µs",
        floor.cpu_us + pipe_us, baseline=ours.cpu_us, baseline_name="lambdalab (4c)",
        notes=f"floor's HTTP {floor.cpu_us:,.0f} µs + pipe round trip {pipe_us:.1f} µs "
              "(both processes)",
    ))
    rows.append(Row(
        "4d", "single-client Invoke p50", "µs", ours.p50_us, baseline=floor.p50_us,
        baseline_name="floor", target="<= 1.5x floor", met=ours.p50_us <= 1.5 * floor.p50_us,
        notes=note(lambda f: f.p50_us, "µs"),
    ))
    rows.append(Row(
        "4e", f"Invoke p99 at {TAIL_CLIENTS} clients", "µs", ours.tail_p99_us,
        baseline=peer.tail_p99_us if peer else None, baseline_name="serverless-offline",
        target="<= serverless-offline", met=None if peer is None else ours.tail_p99_us <= peer.tail_p99_us,
        notes=note(lambda f: f.tail_p99_us, "µs"),
    ))
    return rows


def run(counts: dict[str, Any]) -> list[Row]:
    count, seconds, boto_count = counts["invokes"], counts["seconds"], counts["boto3"]
    worker = EchoWorker()  # forked before this process has threads
    try:
        return measure_all(counts, count, seconds, boto_count, worker)
    finally:
        worker.close()


def measure_all(
    counts: dict[str, Any], count: int, seconds: float, boto_count: int, worker: EchoWorker
) -> list[Row]:
    with tempfile.TemporaryDirectory() as tmp:
        code = Path(tmp) / "code"
        code.mkdir()
        (code / "app.py").write_text(ECHO_HANDLER)
        edge, url = start_edge(Path(tmp) / "edge-data")
        try:
            with Lab(data_dir=Path(tmp) / "data") as lab:
                lab.create_function("echo", code=str(code), handler="app.handler")
                create_over_http(url)
                api = lambda: lab.invoke("echo", EVENT)  # noqa: E731
                call = http_invoker(url)
                assert json.loads(call()) == json.loads(EVENT)
                time_each(api, 200)
                time_each(call, 200)
                print("timing warm invokes", file=sys.stderr)
                api_samples = time_each(api, count)
                http_samples = time_each(call, count)
                boto = boto3.client(
                    "lambda", endpoint_url=url, region_name="us-east-1",
                    aws_access_key_id="bench", aws_secret_access_key="bench",
                    config=Config(retries={"total_max_attempts": 1}),
                )
                boto_call = lambda: boto.invoke(FunctionName="echo", Payload=EVENT)["Payload"].read()  # noqa: E731
                time_each(boto_call, 50)
                boto_samples = time_each(boto_call, boto_count)
                print("measuring throughput", file=sys.stderr)
                api_rate = throughput(lambda: api, seconds)
                http_rate = throughput(lambda: http_invoker(url), seconds)
            print("measuring the edge beside its peers", file=sys.stderr)
            port = int(url.rsplit(":", 1)[1])
            ours, floor, peer, why = peer_figures(counts, Path(tmp), (edge.pid, port, PATH))
        finally:
            edge.send_signal(signal.SIGTERM)
            edge.wait(timeout=60)
        print("measuring a pipe round trip's CPU", file=sys.stderr)
        pipe_us = pipe_exchange_cpu_us(worker, counts["round_trips"])
    return [
        Row(
            "1", "warm Invoke over HTTP (keep-alive), p50", "µs", p50(http_samples),
            baseline=p50(api_samples), baseline_name="Lab.invoke p50",
            target="<= 1000 µs", met=p50(http_samples) <= 1000, samples=count,
            extra={"p99": p99(http_samples), "baseline_p99": p99(api_samples)},
            notes=f"p99 {p99(http_samples):.0f} µs (Lab.invoke p99 {p99(api_samples):.0f} µs)",
        ),
        Row(
            "2", f"Invoke requests/s, {CLIENTS} keep-alive clients", "req/s", http_rate,
            baseline=api_rate, baseline_name=f"Lab.invoke, {CLIENTS} threads",
            target=">= 1500 req/s", met=http_rate >= 1500,
            notes="edge in its own process (lambdalab serve); clients in this one",
        ),
        Row(
            "3", "warm Invoke through boto3, p50", "µs", p50(boto_samples),
            baseline=p50(http_samples), baseline_name="raw HTTP p50",
            samples=boto_count, extra={"p99": p99(boto_samples)},
            notes=f"p99 {p99(boto_samples):.0f} µs",
        ),
        *peer_rows(ours, floor, peer, why, pipe_us),
    ]


def main(argv: list[str] | None = None) -> int:
    return harness.main("edge benchmarks", __doc__.split("\n\n")[0], run, MODES, argv)


if __name__ == "__main__":
    sys.exit(main())
