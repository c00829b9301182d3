"""The benchmark harness: percentiles, result rows, the table and the JSON report.

A :class:`Row` is one figure: the value measured, the baseline measured in the same run
beside it, their ratio, and the target with its verdict (``PASS``, ``MISS``, or ``-``
for a figure reported without a target). Nothing here measures anything.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

PASS, MISS, REPORTED = "PASS", "MISS", "-"

#: The sandbox the benchmarks measure lambdalab's own overhead on, unless a function
#: names one (benchmarks/limits.py does). Not the default ``limited``: at the default
#: 128 MB it holds back-to-back invokes to 7 % of a CPU, which is the lesson, not the
#: overhead. Set here for every lab and ``lambdalab`` process a benchmark starts;
#: ``LAMBDALAB_SANDBOX=limited python benchmarks/...`` measures the default instead.
SANDBOX = os.environ.setdefault("LAMBDALAB_SANDBOX", "subprocess")


def percentile(samples: Iterable[float], q: float) -> float:
    """The nearest-rank ``q``-th percentile (``q`` in 0–100) of ``samples``."""
    ordered = sorted(samples)
    if not ordered:
        raise ValueError("percentile of no samples")
    rank = max(1, -(-len(ordered) * q // 100))  # ceil(n * q / 100), at least 1
    return ordered[int(rank) - 1]


def p50(samples: Iterable[float]) -> float:
    return percentile(samples, 50)


def p99(samples: Iterable[float]) -> float:
    return percentile(samples, 99)


def time_each(call: Callable[[], object], count: int) -> list[float]:
    """Run ``call`` ``count`` times; the wall time of each run, in microseconds."""
    clock = time.perf_counter_ns
    samples = []
    for _ in range(count):
        started = clock()
        call()
        samples.append((clock() - started) / 1000)
    return samples


@dataclass
class Row:
    """One figure of the report, beside its baseline and target."""

    figure: str
    name: str
    unit: str
    measured: float
    baseline: float | None = None
    baseline_name: str = ""
    #: The target in words, e.g. ``<= 3x baseline and < 250 µs``; empty when there is none.
    target: str = ""
    #: Whether the target was met; ``None`` for a figure reported without a target.
    met: bool | None = None
    samples: int = 0
    notes: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ratio(self) -> float | None:
        """``measured / baseline``: above 1 means slower (or bigger) than the baseline."""
        if not self.baseline:
            return None
        return self.measured / self.baseline

    @property
    def verdict(self) -> str:
        if self.met is None:
            return REPORTED
        return PASS if self.met else MISS

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["ratio"] = self.ratio
        data["verdict"] = self.verdict
        return data


def _number(value: float | None) -> str:
    if value is None:
        return "-"
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def _ratio(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.2f}x" if value < 10 else f"{value:.1f}x"


def table(rows: list[Row]) -> str:
    """The rows as an aligned plain-text table, baselines named underneath."""
    head = ("#", "figure", "measured", "baseline", "ratio", "target", "verdict")
    body = [
        (
            row.figure,
            row.name,
            f"{_number(row.measured)} {row.unit}",
            f"{_number(row.baseline)} {row.unit}" if row.baseline is not None else "-",
            _ratio(row.ratio),
            row.target or "(reported)",
            row.verdict,
        )
        for row in rows
    ]
    widths = [max(len(line[i]) for line in [head, *body]) for i in range(len(head))]
    right = {2, 3, 4}

    def fmt(line: tuple[str, ...]) -> str:
        cells = [c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(line, widths))]
        return "  ".join(cells).rstrip()

    out = [fmt(head), "  ".join("-" * w for w in widths)]
    out.extend(fmt(line) for line in body)
    out.append("")
    out.append("baselines (measured in this run):")
    seen: set[str] = set()
    for row in rows:
        if row.baseline_name and row.baseline_name not in seen:
            seen.add(row.baseline_name)
            out.append(f"  {row.figure:<3} {row.baseline_name}")
    notes = [row for row in rows if row.notes]
    if notes:
        out.append("notes:")
        out.extend(f"  {row.figure:<3} {row.notes}" for row in notes)
    return "\n".join(out)


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    return {
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "usable_cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "processor": platform.processor() or platform.machine(),
    }


def write_json(path: str | os.PathLike[str], rows: list[Row], *, mode: str, seconds: float) -> None:
    report = {
        "benchmark": "lambdalab invoke",
        "mode": mode,
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - seconds)),
        "seconds": round(seconds, 2),
        "machine": machine(),
        "figures": [row.to_json() for row in rows],
        "missed": [f"{row.figure} {row.name}" for row in rows if row.met is False],
    }
    Path(path).write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")


def main(
    title: str,
    description: str,
    measure: Callable[..., list[Row]],
    modes: dict[str, Any],
    argv: list[str] | None = None,
    *,
    quick_help: str = "small counts: a smoke test",
    flags: dict[str, str] | None = None,
    summary: bool = False,
) -> int:
    """The command line of a benchmark script: ``--quick``, ``--json PATH``, the table.

    ``modes["quick"]`` or ``modes["full"]`` goes to ``measure``, with each of ``flags``
    (name: help, an extra ``--name`` switch) as a keyword argument; ``summary`` adds a
    line counting the targets missed under the table.
    """
    import argparse

    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help=quick_help)
    parser.add_argument("--json", metavar="PATH", help="also write the figures as JSON to PATH")
    for flag, help_text in (flags or {}).items():
        parser.add_argument(f"--{flag}", action="store_true", help=help_text)
    args = parser.parse_args(argv)
    mode = "quick" if args.quick else "full"
    began = time.perf_counter()
    rows = measure(modes[mode], **{flag: getattr(args, flag) for flag in flags or {}})
    seconds = time.perf_counter() - began
    print(f"lambdalab {title} ({mode} run, {seconds:.1f} s)\n")
    print(table(rows))
    if summary:
        missed = [row for row in rows if row.met is False]
        print(f"\n{len(rows) - len(missed)} of {len(rows)} figures met or reported; "
              f"{len(missed)} target(s) missed")
    if args.json:
        write_json(args.json, rows, mode=mode, seconds=seconds)
    return 0
