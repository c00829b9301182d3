"""API Gateway benchmark: a request through an API beside the same request to a function URL.

    python benchmarks/apigateway.py            # full run, about a minute on 2 cores
    python benchmarks/apigateway.py --quick    # small counts: a smoke test
    python benchmarks/apigateway.py --json out.json

Figures (target from issue 20):

1. a GET through an HTTP API (quick create: ``$default`` route, payload 2.0) to a tiny
   handler, p50, beside the same GET to the same function's URL (payload 2.0 too)
   measured in the same run, interleaved request by request so that load on the machine
   falls on both alike (target: <= 1.3x the function URL);
2. the same GET through a REST API (``/{proxy+}``, ``AWS_PROXY``, payload 1.0), p50,
   against the same baseline (target <= 1.3x as well).

The edge runs as ``lambdalab serve --port 0`` in its own process, as in ``edge.py``; the
clients use one keep-alive ``http.client`` connection each. A missed target is reported,
not raised.
"""

from __future__ import annotations

import http.client
import io
import signal
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any, Callable

import boto3
from botocore.config import Config

import harness
from edge import start_edge
from harness import Row, p50, p99

HANDLER = 'def handler(event, context):\n    return {"statusCode": 200, "body": "ok"}\n'
TARGET_RATIO = 1.3
MODES = {"quick": {"requests": 300}, "full": {"requests": 3000}}


def getter(url: str) -> Callable[[], bytes]:
    """One keep-alive connection; each call GETs ``url``'s path and checks the answer."""
    host_port, _, path = url.removeprefix("http://").partition("/")
    host, port = host_port.split(":")
    conn = http.client.HTTPConnection(host, int(port))

    def call() -> bytes:
        conn.request("GET", "/" + path)
        response = conn.getresponse()
        body = response.read()
        if response.status != 200 or body != b"ok":
            raise RuntimeError(f"GET {url} answered {response.status}: {body!r}")
        return body

    return call


def interleaved(calls: list[Callable[[], object]], count: int) -> list[list[float]]:
    """Each call ``count`` times, taking turns; every one's samples in microseconds."""
    clock = time.perf_counter_ns
    samples: list[list[float]] = [[] for _ in calls]
    for _ in range(count):
        for call, out in zip(calls, samples):
            started = clock()
            call()
            out.append((clock() - started) / 1000)
    return samples


def client(url: str, service: str) -> Any:
    return boto3.client(service, endpoint_url=url, region_name="us-east-1", aws_access_key_id="bench",
                        aws_secret_access_key="bench", config=Config(retries={"total_max_attempts": 1}))


def setup(url: str) -> tuple[str, str, str]:
    """The function, its URL, an HTTP API and a REST API in front of it: their GET URLs."""
    package = io.BytesIO()
    with zipfile.ZipFile(package, "w") as archive:
        archive.writestr("app.py", HANDLER)
    lam = client(url, "lambda")
    arn = lam.create_function(FunctionName="ok", Runtime=f"python{sys.version_info[0]}.{sys.version_info[1]}",
                              Role="arn:aws:iam::000000000000:role/bench", Handler="app.handler",
                              Code={"ZipFile": package.getvalue()})["FunctionArn"]
    function_url = lam.create_function_url_config(FunctionName="ok", AuthType="NONE")["FunctionUrl"]
    http_api = client(url, "apigatewayv2").create_api(Name="bench", ProtocolType="HTTP", Target=arn)
    rest = client(url, "apigateway")
    api = rest.create_rest_api(name="bench")
    proxy = rest.create_resource(restApiId=api["id"], parentId=api["rootResourceId"], pathPart="{proxy+}")
    rest.put_method(restApiId=api["id"], resourceId=proxy["id"], httpMethod="ANY", authorizationType="NONE")
    rest.put_integration(restApiId=api["id"], resourceId=proxy["id"], httpMethod="ANY", type="AWS_PROXY",
                         integrationHttpMethod="POST", uri=arn)
    rest.create_deployment(restApiId=api["id"], stageName="prod")
    return (function_url.rstrip("/") + "/hello", f"{url}/_lambdalab/apis/{http_api['ApiId']}/hello",
            f"{url}/_lambdalab/apis/{api['id']}/prod/hello")


def run(counts: dict[str, Any]) -> list[Row]:
    count = counts["requests"]
    with tempfile.TemporaryDirectory() as tmp:
        edge, url = start_edge(Path(tmp) / "edge-data")
        try:
            calls = [getter(u) for u in setup(url)]
            interleaved(calls, 200)  # warm: environments, connections, caches
            print("timing requests", file=sys.stderr)
            function_url, http_api, rest_api = interleaved(calls, count)
        finally:
            edge.send_signal(signal.SIGTERM)
            edge.wait(timeout=60)
    base = p50(function_url)
    rows = []
    for figure, name, samples in (("1", "GET through an HTTP API (2.0), p50", http_api),
                                  ("2", "GET through a REST API (1.0), p50", rest_api)):
        rows.append(Row(
            figure, name, "µs", p50(samples), baseline=base, baseline_name="function URL p50",
            target=f"<= {TARGET_RATIO}x function URL", met=p50(samples) <= TARGET_RATIO * base,
            samples=count, extra={"p99": p99(samples), "baseline_p99": p99(function_url)},
            notes=f"p99 {p99(samples):.0f} µs (function URL p99 {p99(function_url):.0f} µs)",
        ))
    return rows


def main(argv: list[str] | None = None) -> int:
    return harness.main("API Gateway benchmarks", __doc__.split("\n\n")[0], run, MODES, argv)


if __name__ == "__main__":
    sys.exit(main())
