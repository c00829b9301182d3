"""The peer: the same tiny workload through python-lambda-local's Python API.

``lambda_local.main.call`` starts a ``multiprocessing.Process`` per call (a fork, no warm
state) and logs START/END/REPORT through the root logger. It runs in its own interpreter
(``python peer_lambda_local.py COUNT``) because importing ``lambda_local.main`` configures
the root logger of whatever process imports it; its log output goes to ``/dev/null`` here
so that only the timings reach stdout, as JSON.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from typing import Any


def handler(event: Any, context: Any) -> Any:
    return event


def per_call(count: int, warmup: int = 5) -> list[float]:
    """Wall time of ``count`` calls, in microseconds (measured in a child interpreter)."""
    out = subprocess.run(
        [sys.executable, __file__, str(count), str(warmup)],
        check=True,
        capture_output=True,
        text=True,
        timeout=300,
    )
    return json.loads(out.stdout.splitlines()[-1])


def _measure(count: int, warmup: int) -> list[float]:
    from lambda_local.context import Context
    from lambda_local.main import call

    sink = open(os.devnull, "w")
    for h in logging.getLogger().handlers:
        if isinstance(h, logging.StreamHandler):
            h.setStream(sink)
    samples = []
    for i in range(warmup + count):
        started = time.perf_counter_ns()
        result, error = call(handler, {"a": 1}, Context(3))
        elapsed = (time.perf_counter_ns() - started) / 1000
        assert error is None and result == {"a": 1}, (result, error)
        if i >= warmup:
            samples.append(elapsed)
    return samples


if __name__ == "__main__":
    print(json.dumps(_measure(int(sys.argv[1]), int(sys.argv[2]))))
