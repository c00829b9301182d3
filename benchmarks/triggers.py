"""Trigger benchmarks: how fast an AWS service's event reaches a handler.

    python benchmarks/triggers.py            # every figure
    python benchmarks/triggers.py --quick    # small counts: a smoke test
    python benchmarks/triggers.py --json out.json

Figures (targets from issue 7):

S3. latency from PutObject (boto3 against the edge, path-style) to the first line of the
    notified handler running, p50 over sequential uploads; the handler stamps
    ``time.time()`` on entry. Baseline, same run: ``Lab.invoke(..., "Event")`` of the
    same handler from Python (the async path without HTTP and S3). Target: p50 <= 20 ms.

SQS. messages processed per second by an event source mapping (BatchSize 10) through a
    no-op function, from a backlog; baselines: raw SendMessage, and sync Lab.invoke of
    10-record events. Target: >= 3,000/s. Details in ``triggers_sqs.py``.

Each trigger adds a function to ``FIGURES``: ``(root, counts) -> list[Row]``. A missed
target is reported, not raised. Everything listens on loopback only.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

import boto3
from botocore.config import Config

import harness
from harness import Row, p50
from lambdalab import Lab
from lambdalab.server import EdgeServer
from lambdalab_s3 import S3
from triggers_sqs import sqs_throughput

MODES = {"quick": {"s3": 30, "sqs": 2_000}, "full": {"s3": 300, "sqs": 20_000}}
S3_LATENCY_TARGET_MS = 20.0

STAMP = """
import time, os

def handler(event, context):
    started = time.time()
    with open(os.environ["OUT"], "a") as f:
        f.write(f"{started}\\n")
"""


def _stamps(out: Path) -> list[float]:
    return [float(line) for line in out.read_text().split()] if out.exists() else []


def _latencies_ms(lab: Lab, out: Path, send: Callable[[int], None], count: int) -> list[float]:
    """Call ``send(i)`` ``count`` times, one at a time; ms from each send to handler start."""
    samples = []
    for i in range(count):
        sent = time.time()
        send(i)
        lab.wait_for_events(timeout=30)
        samples.append((_stamps(out)[-1] - sent) * 1000)
    return samples


def s3_put_to_handler(root: Path, counts: dict[str, int]) -> list[Row]:
    out = root / "stamps"
    code = root / "code"
    code.mkdir()
    (code / "app.py").write_text(STAMP)
    with Lab(data_dir=root / "data") as lab, EdgeServer(lab, port=0) as edge:
        fn = lab.create_function("stamp", code=code, handler="app.handler",
                                 environment={"Variables": {"OUT": str(out)}})
        lab.add_permission("stamp", "s3", "lambda:InvokeFunction", "s3.amazonaws.com")
        S3.of(lab).create_bucket("photos")
        S3.of(lab).put_bucket_notification_configuration("photos", {
            "LambdaFunctionConfigurations": [
                {"LambdaFunctionArn": fn.function_arn, "Events": ["s3:ObjectCreated:*"]}]})
        s3 = boto3.client("s3", endpoint_url=edge.url, region_name="us-east-1",
                          aws_access_key_id="bench", aws_secret_access_key="bench",
                          config=Config(s3={"addressing_style": "path"}))
        body = b"x" * 1024
        count = counts["s3"]
        _latencies_ms(lab, out, lambda i: lab.invoke("stamp", {}, invocation_type="Event"), 5)
        baseline = _latencies_ms(
            lab, out, lambda i: lab.invoke("stamp", {}, invocation_type="Event"), count)
        measured = _latencies_ms(
            lab, out, lambda i: s3.put_object(Bucket="photos", Key=f"p{i}.jpg", Body=body), count)
    return [
        Row("S3", "PutObject -> handler start, p50", "ms", p50(measured), p50(baseline),
            "Lab.invoke Event -> handler start", f"p50 <= {S3_LATENCY_TARGET_MS:g} ms",
            p50(measured) <= S3_LATENCY_TARGET_MS, samples=count),
    ]


FIGURES: list[Callable[[Path, dict[str, int]], list[Row]]] = [s3_put_to_handler, sqs_throughput]


def measure(counts: dict[str, int]) -> list[Row]:
    rows: list[Row] = []
    for figure in FIGURES:
        with tempfile.TemporaryDirectory() as tmp:
            rows += figure(Path(tmp), counts)
    return rows


def main(argv: list[str] | None = None) -> int:
    return harness.main("trigger benchmarks", __doc__.split("\n\n")[0], measure, MODES, argv)


if __name__ == "__main__":
    sys.exit(main())
