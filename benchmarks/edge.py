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
3. the same warm invoke through boto3 (SigV4 signing, botocore parsing), reported only.

The edge runs as ``lambdalab serve --port 0`` in its own process (as a learner runs it;
in the ``subprocess`` sandbox, see ``harness.SANDBOX``),
so the benchmark's client threads do not share its interpreter lock; the Python API
baseline runs a Lab in this process. Both use temporary data dirs and the loopback
interface. A missed target is reported, not raised.
"""

from __future__ import annotations

import base64
import http.client
import io
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from pathlib import Path
from typing import Any, Callable

import boto3
from botocore.config import Config

import harness
from harness import Row, p50, p99, time_each
from lambdalab import Lab

ECHO_HANDLER = "def handler(event, context):\n    return event\n"
EVENT = b'{"a": 1}'
PATH = "/2015-03-31/functions/echo/invocations"
CLIENTS = 4
#: Per mode: warm invokes timed per path, seconds of each throughput run, boto3 invokes.
MODES = {
    "quick": {"invokes": 300, "seconds": 1.5, "boto3": 100},
    "full": {"invokes": 3000, "seconds": 5.0, "boto3": 500},
}


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


def start_edge(data_dir: Path) -> tuple[subprocess.Popen[str], str]:
    """``lambdalab serve --port 0`` in its own process; its URL, read from its output."""
    command = [str(Path(sys.executable).parent / "lambdalab"), "--data-dir", str(data_dir),
               "serve", "--port", "0"]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "200"})
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


def run(counts: dict[str, Any]) -> list[Row]:
    count, seconds, boto_count = counts["invokes"], counts["seconds"], counts["boto3"]
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
        finally:
            edge.send_signal(signal.SIGTERM)
            edge.wait(timeout=60)
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
    ]


def main(argv: list[str] | None = None) -> int:
    return harness.main("edge benchmarks", __doc__.split("\n\n")[0], run, MODES, argv)


if __name__ == "__main__":
    sys.exit(main())
