"""Cost benchmark: what recording every invoke's cost adds to a warm invoke.

    python benchmarks/cost.py            # full run, under 10 s
    python benchmarks/cost.py --quick    # small counts: a smoke test
    python benchmarks/cost.py --json out.json

A warm ``Lab.invoke`` of a tiny handler with the cost plugin's recorder registered,
beside the same lab with it unregistered, in alternating rounds of the same run (so
load on the machine falls on both alike). Target, from issue 17 ("Done when"): p50
within 1.2x of the invoke without it.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import harness
from harness import Row, p50, time_each
from lambdalab import Lab
from lambdalab_cost import costs

MODES = {"quick": {"rounds": 3, "invokes": 20}, "full": {"rounds": 20, "invokes": 50}}
TARGET = 1.2
RECORDER = "lambdalab_cost.recorder"


def measure(mode: dict[str, int]) -> list[Row]:
    with tempfile.TemporaryDirectory() as tmp:
        code = Path(tmp) / "code"
        code.mkdir()
        (code / "app.py").write_text("def handler(event, context):\n    return 1\n")
        with Lab(data_dir=Path(tmp) / "data", preload=()) as lab:
            lab.create_function("tiny", code, handler="app.handler")
            lab.invoke("tiny")  # the cold start, not measured
            recorder = lab.plugin_manager.get_plugin(RECORDER)
            on: list[float] = []
            off: list[float] = []
            for _ in range(mode["rounds"]):
                on += time_each(lambda: lab.invoke("tiny"), mode["invokes"])
                lab.plugin_manager.unregister(recorder)
                off += time_each(lambda: lab.invoke("tiny"), mode["invokes"])
                lab.plugin_manager.register(recorder, name=RECORDER)
            recorded = len(costs(lab).invokes())
    ratio = p50(on) / p50(off)
    return [
        Row("cost", "warm invoke with the cost recorder, p50", "µs", p50(on), p50(off),
            "without it", f"<= {TARGET}x baseline", ratio <= TARGET, len(on),
            notes=f"{recorded} invokes recorded"),
    ]


def main(argv: list[str] | None = None) -> int:
    return harness.main("cost benchmark", __doc__.split("\n\n")[0], measure, MODES, argv)


if __name__ == "__main__":
    sys.exit(main())
