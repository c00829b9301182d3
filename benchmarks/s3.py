"""S3's wire path: PutObject and GetObject of 1 KB and 1 MB objects, in operations/s.

    python benchmarks/s3.py            # about a minute on 2 cores
    python benchmarks/s3.py --quick    # small counts: a smoke test
    python benchmarks/s3.py --json out.json

What is timed is one request through S3's ASGI app (``lambdalab_s3.responses.S3Service``):
the request as botocore serializes it (``PUT /bench/k`` with the body, ``GET /bench/k``),
routed, read, validated, run against the bucket store and answered, without a socket or
boto3 in the way, so that the figure is the wire layer's and the store's, not the HTTP
client's.

Baseline, same run: the S3 app of the code before S3 moved onto the protocol layer (the
plugin as it was at ``BASE``, loaded from git as the package ``lambdalab_s3_base``), over
its own lab, measured in alternating rounds with the current one so that the machine's
load falls on both alike (each round runs both back to back, in alternating order).
Target: in the median round the current app does at least 0.8x the operations/s of the
old one (the layer is model-driven; it may cost a little, not a lot). Each figure is the
median of the rounds; the notes give each round's ratio and the range over the rounds.
"""

from __future__ import annotations

import asyncio
import importlib
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import harness
from harness import Row
from lambdalab import Lab

#: The last commit with S3's hand-written wire code (responses.py, urls.py).
BASE = "3ce1903"
TARGET_RATIO = 0.8
MODES = {"quick": {"rounds": 3, "ops": {1024: 100, 1024 * 1024: 10}},
         "full": {"rounds": 11, "ops": {1024: 600, 1024 * 1024: 40}}}
REPO = Path(__file__).resolve().parent.parent


def load_base(root: Path) -> Any:
    """The S3 plugin at ``BASE`` as the package ``lambdalab_s3_base``."""
    package = root / "lambdalab_s3_base"
    package.mkdir()
    names = subprocess.run(["git", "ls-tree", "--name-only", f"{BASE}:plugins/lambdalab_s3"],
                           cwd=REPO, check=True, capture_output=True, text=True).stdout.split()
    for name in names:
        if name.endswith(".py"):
            text = subprocess.run(["git", "show", f"{BASE}:plugins/lambdalab_s3/{name}"],
                                  cwd=REPO, check=True, capture_output=True).stdout
            (package / name).write_bytes(text)
    sys.path.insert(0, str(root))
    return importlib.import_module("lambdalab_s3_base.responses")


def scope(method: str, path: str, body: bytes) -> dict[str, Any]:
    headers = [(b"host", b"localhost"), (b"content-length", str(len(body)).encode()),
               (b"authorization", b"AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/s3/"
                                  b"aws4_request, SignedHeaders=host, Signature=0")]
    return {"type": "http", "method": method, "path": path, "raw_path": path.encode(),
            "query_string": b"", "headers": headers}


async def call(app: Any, method: str, path: str, body: bytes) -> int:
    """One request through ``app``; its status."""
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope(method, path, body), receive, send)
    return int(sent[0]["status"])


def rate(app: Any, method: str, body: bytes, count: int) -> float:
    """Operations per second of ``count`` requests, one after another on one event loop."""

    async def run() -> float:
        started = time.perf_counter()
        for _ in range(count):
            if await call(app, method, "/bench/k", body) >= 300:
                raise RuntimeError("the benchmark's request failed")
        return count / (time.perf_counter() - started)

    return asyncio.run(run())


def measure(counts: dict[str, Any]) -> list[Row]:
    from lambdalab_s3 import S3
    from lambdalab_s3.responses import S3Service

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        old_module = load_base(root)
        with Lab(data_dir=root / "new") as new_lab, Lab(data_dir=root / "old") as old_lab:
            S3.of(new_lab).create_bucket("bench")
            old_module.S3.of(old_lab).create_bucket("bench")
            apps = {"new": S3Service(new_lab), "old": old_module.S3Service(old_lab)}
            rows = []
            for size, count in counts["ops"].items():
                body = b"x" * size
                for method, label in (("PUT", "PutObject"), ("GET", "GetObject")):
                    samples: dict[str, list[float]] = {"new": [], "old": []}
                    for round_ in range(counts["rounds"]):
                        order = ["new", "old"] if round_ % 2 == 0 else ["old", "new"]
                        for name in order:
                            sent = body if method == "PUT" else b""
                            samples[name].append(rate(apps[name], method, sent, count))
                    rows.append(_row(f"{label} {size // 1024} KB" if size < 1024 * 1024
                                     else f"{label} 1 MB", samples, count))
    return rows


def _row(name: str, samples: dict[str, list[float]], count: int) -> Row:
    """The medians; the verdict on the median of each round's ratio, since the two
    halves of a round meet the same load (ops/s: higher is better)."""
    new, old = statistics.median(samples["new"]), statistics.median(samples["old"])
    ratios = [n / o for n, o in zip(samples["new"], samples["old"])]
    ratio = statistics.median(ratios)
    return Row(
        "S3", name, "ops/s", new, old, f"S3's app at {BASE} (hand-written wire code), same rounds",
        f"round ratio >= {TARGET_RATIO}", ratio >= TARGET_RATIO, len(samples["new"]) * count,
        notes=(f"{name}: round ratios median {ratio:.2f} ({min(ratios):.2f}-{max(ratios):.2f}); "
               f"rounds {min(samples['new']):,.0f}-{max(samples['new']):,.0f} ops/s "
               f"(baseline {min(samples['old']):,.0f}-{max(samples['old']):,.0f})"),
    )


if __name__ == "__main__":
    sys.exit(harness.main("S3 PutObject / GetObject", __doc__.split("\n")[0], measure, MODES))
