"""The log store's share of a warm invoke (issue 21, "Logs").

    python benchmarks/logstore.py            # full run
    python benchmarks/logstore.py --quick    # small counts: a smoke test
    python benchmarks/logstore.py --json out.json

A warm ``Lab.invoke`` of a tiny handler (``subprocess``) with the log store writing its
START, END and REPORT lines, beside the same invoke with the store's ``write`` replaced
by a no-op, in alternating rounds of one run (target: <= 1.03x): the p50 of the invokes
(what one call waits), and their mean with the store's batched writes of the round
counted in (each round ends by writing what it buffered, so the writes a round caused
are paid in that round, not in the next one), with the CPU the lab's process spent
on them, every thread counted; and the bytes the store keeps per invoke (message + 26,
as CloudWatch Logs counts them, and as the pages of the database file), until its
retention or the data dir's cap (``LOG_STORE_MAX_BYTES_DEFAULT``) drops them.
"""

from __future__ import annotations

import gc
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import harness
from harness import Row, p50, time_each
from invoke import ECHO_HANDLER, EVENT, progress, settle_writers
from lambdalab import Lab

ROUNDS = 10
TARGET_RATIO = 1.03


@dataclass(frozen=True)
class Counts:
    warm_invokes: int


MODES = {"quick": Counts(warm_invokes=4_000), "full": Counts(warm_invokes=40_000)}


@dataclass
class Spent:
    """Wall and CPU time (the lab's process, every thread) over rounds of invokes."""

    wall_s: float = 0.0
    cpu_s: float = 0.0
    invokes: int = 0

    def add(self, wall_s: float, cpu_s: float, invokes: int) -> None:
        self.wall_s += wall_s
        self.cpu_s += cpu_s
        self.invokes += invokes

    @property
    def mean_us(self) -> float:
        return self.wall_s / self.invokes * 1e6

    @property
    def cpu_us(self) -> float:
        return self.cpu_s / self.invokes * 1e6


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
            before, pages = lab.logs.stored_bytes(), log_pages(lab)
            stored = time_each(lambda: lab.invoke("echo", EVENT), 1_000)
            lab.logs.flush()
            per_invoke = (lab.logs.stored_bytes() - before) / len(stored)
            on_disk = (log_pages(lab) - pages) / len(stored)
            write = lab.logs.write
            taken: dict[bool, list[float]] = {True: [], False: []}
            spent = {True: Spent(), False: Spent()}
            progress(f"{counts.warm_invokes} warm invokes, log store on and off, {ROUNDS} rounds")
            for number in range(ROUNDS):
                for on in (True, False) if number % 2 == 0 else (False, True):
                    lab.logs.write = write if on else (lambda *args, **kwargs: None)  # type: ignore[method-assign]
                    settle_writers(lab)
                    gc.collect()
                    wall, cpu = time.perf_counter(), time.process_time()
                    samples = time_each(lambda: lab.invoke("echo", EVENT),
                                        counts.warm_invokes // (2 * ROUNDS))
                    lab.logs.flush()  # the round's own writes, paid in the round
                    spent[on].add(time.perf_counter() - wall, time.process_time() - cpu,
                                  len(samples))
                    taken[on].extend(samples)
            lab.logs.write = write  # type: ignore[method-assign]
    on, off = p50(taken[True]), p50(taken[False])
    mean_on, mean_off = spent[True].mean_us, spent[False].mean_us
    return [
        Row("1", "warm invoke p50, log store on", "µs", on, off, "the same, log store off",
            target=f"<= {TARGET_RATIO:g}x", met=on <= TARGET_RATIO * off,
            samples=len(taken[True])),
        Row("1", "warm invoke mean, log store on, its writes included", "µs", mean_on,
            mean_off, "the same, log store off", target=f"<= {TARGET_RATIO:g}x",
            met=mean_on <= TARGET_RATIO * mean_off, samples=spent[True].invokes,
            notes=f"CPU of the lab's process per invoke: {spent[True].cpu_us:.1f} µs on, "
                  f"{spent[False].cpu_us:.1f} µs off (the environment's not counted)"),
        Row("2", "log store bytes per warm invoke", "B", per_invoke,
            notes="START, END, REPORT: kept until retention or the data dir's cap"),
        Row("2b", "the same, as the database file's pages", "B", on_disk,
            notes="SQLite's pages of the log store's table and index (dbstat)"),
    ]


def log_pages(lab: Lab) -> int:
    """Bytes of the database pages that hold the log store's events and their index."""
    return lab.store.query("SELECT COALESCE(SUM(pgsize), 0) FROM dbstat "
                           "WHERE name LIKE 'log_chunks%'")[0][0]


def main(argv: list[str] | None = None) -> int:
    return harness.main("log store benchmarks", __doc__.split("\n\n")[0], measure, MODES,
                        argv, quick_help="small counts: a smoke test", summary=True)


if __name__ == "__main__":
    sys.exit(main())
