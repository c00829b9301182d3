"""Start-up benchmark: the first invoke after ``lambdalab serve`` starts (issue 21).

    python benchmarks/startup.py            # 5 rounds, about 30 s on 2 cores
    python benchmarks/startup.py --quick    # 2 rounds: a smoke test

Each round makes a data dir holding two functions (``first`` and ``second``, the same
tiny handler), starts ``lambdalab serve --port 0`` on it in its own process and, as soon
as the edge prints its address (it accepts connections), times:

1. the first Invoke of ``first`` (target <= 25 ms): a cold start, with whatever the server
   had not yet prepared (before issue 21: the fork server and its preloads, ~100 ms);
2. from the process's start to that answer, reported only (it includes Python's start);

beside the baseline measured in the same run: a cold start of ``second`` just after, when
everything the server prepares is running, so only the fork and the handler's INIT are
left. The ratio 1 / baseline says what the server made the first learner wait for.
Medians over the rounds; loopback only, temporary data dirs, servers stopped after.
"""

from __future__ import annotations

import http.client
import shutil
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness  # noqa: E402
from edge import start_edge  # noqa: E402

from lambdalab import Lab  # noqa: E402

MODES: dict[str, Any] = {"quick": {"rounds": 2}, "full": {"rounds": 5}}
TARGET_MS = 25.0
HANDLER = "def handler(event, context):\n    return event\n"


def invoke_ms(url: str, name: str) -> float:
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port))
    began = time.perf_counter()
    conn.request("POST", f"/2015-03-31/functions/{name}/invocations", body=b"{}")
    response = conn.getresponse()
    body = response.read()
    took = (time.perf_counter() - began) * 1000
    conn.close()
    if response.status != 200:
        raise RuntimeError(f"Invoke of {name} answered {response.status}: {body!r}")
    return took


def one_round() -> tuple[float, float, float]:
    root = Path(tempfile.mkdtemp(prefix="lambdalab-startup-"))
    try:
        code = root / "code"
        code.mkdir()
        (code / "app.py").write_text(HANDLER)
        with Lab(data_dir=root / "data") as lab:
            for name in ("first", "second"):
                lab.create_function(name, code, handler="app.handler")
        began = time.perf_counter()
        proc, url = start_edge(root / "data")
        try:
            first = invoke_ms(url, "first")
            since_start = (time.perf_counter() - began) * 1000
            second = invoke_ms(url, "second")
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=60)
        return first, second, since_start
    finally:
        shutil.rmtree(root, ignore_errors=True)


def run(counts: dict[str, Any]) -> list[harness.Row]:
    rounds = [one_round() for _ in range(counts["rounds"])]
    first = statistics.median(r[0] for r in rounds)
    second = statistics.median(r[1] for r in rounds)
    since = statistics.median(r[2] for r in rounds)
    spread = ", ".join(f"{r[0]:.1f}" for r in rounds)
    return [
        harness.Row(
            "1", "first invoke after serve starts", "ms", first,
            baseline=second, baseline_name="a cold start once prepared",
            target=f"<= {TARGET_MS:.0f} ms", met=first <= TARGET_MS, samples=len(rounds),
            notes=f"each round: {spread} ms",
        ),
        harness.Row(
            "2", "process start to the first answer", "ms", since, samples=len(rounds),
            notes="Python's start, the edge's imports, the first invoke",
        ),
    ]


def main(argv: list[str] | None = None) -> int:
    return harness.main("start-up benchmark", __doc__.split("\n\n")[0], run, MODES, argv)


if __name__ == "__main__":
    sys.exit(main())
