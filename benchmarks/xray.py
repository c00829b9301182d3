"""X-Ray benchmark: what tracing Active adds to a warm invoke.

    python benchmarks/xray.py            # full run, under 15 s
    python benchmarks/xray.py --quick    # small counts: a smoke test
    python benchmarks/xray.py --json out.json

Three functions of one lab run the same tiny handler: one ``PassThrough`` (the
baseline), one ``Active`` with Lambda's sampling (the first invoke each second, 5 % of
the rest: most invokes only get a trace header), and one ``Active`` whose every invoke
is sampled and recorded (the X-Ray plugin's sampler told to take all: the worst case).
They are timed in alternating rounds of the same run, so load on the machine falls on
all alike; the notes give the lowest and highest ratio of one round's p50s. Target, from
issue 17 ("Done when"): p50 within 1.2x of the invoke without tracing.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import harness
from harness import Row, p50, time_each
from lambdalab import Lab
from lambdalab_xray import Sampler, xray

MODES = {"quick": {"rounds": 3, "invokes": 20}, "full": {"rounds": 20, "invokes": 50}}
TARGET = 1.2
FUNCTIONS = {"passthrough": "PassThrough", "sampled": "Active", "every": "Active"}


def measure(mode: dict[str, int]) -> list[Row]:
    with tempfile.TemporaryDirectory() as tmp:
        code = Path(tmp) / "code"
        code.mkdir()
        (code / "app.py").write_text("def handler(event, context):\n    return 1\n")
        with Lab(data_dir=Path(tmp) / "data", preload=()) as lab:
            for name, tracing in FUNCTIONS.items():
                lab.create_function(name, code, handler="app.handler",
                                    tracing_config={"Mode": tracing})
                lab.invoke(name)  # the cold start, not measured
            tracer = xray(lab)
            lambdas, every = tracer.sampler, Sampler(reservoir=10**12)
            times: dict[str, list[float]] = {name: [] for name in FUNCTIONS}
            rounds: dict[str, list[float]] = {name: [] for name in FUNCTIONS}
            for _ in range(mode["rounds"]):
                for name in FUNCTIONS:
                    tracer.sampler = every if name == "every" else lambdas
                    taken = time_each(lambda: lab.invoke(name), mode["invokes"])
                    times[name] += taken
                    rounds[name].append(p50(taken))
            traces = len(tracer.store.trace_ids(0, 2**32))
    base = p50(times["passthrough"])
    rows = []
    for name, what in (("sampled", "Active, Lambda's sampling"),
                       ("every", "Active, every invoke recorded")):
        ratios = [a / b for a, b in zip(rounds[name], rounds["passthrough"])]
        rows.append(Row(
            "xray", f"warm invoke, {what}, p50", "µs", p50(times[name]), base,
            "PassThrough", f"<= {TARGET}x baseline", p50(times[name]) / base <= TARGET,
            len(times[name]),
            notes=f"rounds {min(ratios):.2f}x-{max(ratios):.2f}x; {traces} traces recorded",
        ))
    return rows


def main(argv: list[str] | None = None) -> int:
    return harness.main("X-Ray benchmark", __doc__.split("\n\n")[0], measure, MODES, argv)


if __name__ == "__main__":
    sys.exit(main())
