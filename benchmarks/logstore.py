"""The log store's share of a warm invoke (issue 21, "Logs").

    python benchmarks/logstore.py            # full run
    python benchmarks/logstore.py --quick    # small counts: a smoke test
    python benchmarks/logstore.py --json out.json

A warm ``Lab.invoke`` of a tiny handler (``subprocess``) with the log store writing its
START, END and REPORT lines, beside the same invoke with the store's ``write`` replaced
by a no-op, in alternating rounds of one run (target: <= 1.03x); and the bytes the
store keeps per invoke (message + 26, as CloudWatch Logs counts them), until its
retention or the data dir's cap (``LOG_STORE_MAX_BYTES_DEFAULT``) drops them.
"""

from __future__ import annotations

import gc
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import harness
from harness import Row, p50, time_each
from invoke import ECHO_HANDLER, EVENT, progress
from lambdalab import Lab

ROUNDS = 10
TARGET_RATIO = 1.03


@dataclass(frozen=True)
class Counts:
    warm_invokes: int


MODES = {"quick": Counts(warm_invokes=4_000), "full": Counts(warm_invokes=40_000)}


def measure(counts: Counts) -> list[Row]:
    with tempfile.TemporaryDirectory(prefix="lambdalab-logstore-") as tmp:
        root = Path(tmp)
        code = root / "code"
        code.mkdir()
        (code / "app.py").write_text(ECHO_HANDLER)
        with Lab(data_dir=root / "data") as lab:
            lab.create_function("echo", code, handler="app.handler", sandbox="subprocess")
            for _ in range(500):
                lab.invoke("echo", EVENT)
            lab.logs.flush()
            before = lab.logs.stored_bytes()
            stored = time_each(lambda: lab.invoke("echo", EVENT), 1_000)
            lab.logs.flush()
            per_invoke = (lab.logs.stored_bytes() - before) / len(stored)
            write = lab.logs.write
            taken: dict[bool, list[float]] = {True: [], False: []}
            progress(f"{counts.warm_invokes} warm invokes, log store on and off, {ROUNDS} rounds")
            for _ in range(ROUNDS):
                for on in (True, False):
                    lab.logs.write = write if on else (lambda *args, **kwargs: None)  # type: ignore[method-assign]
                    gc.collect()
                    taken[on].extend(time_each(lambda: lab.invoke("echo", EVENT),
                                               counts.warm_invokes // (2 * ROUNDS)))
            lab.logs.write = write  # type: ignore[method-assign]
    on, off = p50(taken[True]), p50(taken[False])
    return [
        Row("1", "warm invoke p50, log store on", "µs", on, off, "the same, log store off",
            target=f"<= {TARGET_RATIO:g}x", met=on <= TARGET_RATIO * off,
            samples=len(taken[True])),
        Row("2", "log store bytes per warm invoke", "B", per_invoke,
            notes="START, END, REPORT: kept until retention or the data dir's cap"),
    ]


def main(argv: list[str] | None = None) -> int:
    return harness.main("log store benchmarks", __doc__.split("\n\n")[0], measure, MODES,
                        argv, quick_help="small counts: a smoke test", summary=True)


if __name__ == "__main__":
    sys.exit(main())
