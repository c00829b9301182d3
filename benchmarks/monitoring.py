"""Monitoring benchmarks: what CloudWatch metrics cost the invoke path, measured in one run.

    python benchmarks/monitoring.py            # full run, about a minute on 2 cores
    python benchmarks/monitoring.py --quick    # small counts: a smoke test
    python benchmarks/monitoring.py --json out.json

Figures (target from issue 17, "Done when"):

M1. warm sync invoke p50 through ``Lab.invoke`` of a tiny handler with the
    ``lambdalab_cloudwatch`` plugin loaded, beside the same without it
    (``LAMBDALAB_PLUGINS`` leaves it out), in alternating rounds of the same run so that
    the machine's load falls on both alike. The figure is the median of the rounds' p50
    ratios; the notes give every round's. Target: <= 1.2x.
M2. what the core spends per invoke on ``AWS/Lambda`` data points: with no plugin
    listening (what M1's baseline pays: a check that nobody implements the hook), and
    with the plugin (building the data points, the hook call, the aggregation), in
    microseconds. Reported, no target.

A missed target is reported, not raised. Nothing here talks to the network.
"""

from __future__ import annotations

import importlib.metadata
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import harness
from harness import SANDBOX, Row, p50, time_each
from lambdalab import Lab

ECHO = "def handler(event, context):\n    return event\n"
MODES = {"quick": {"rounds": 3, "invokes": 300, "emits": 5_000},
         "full": {"rounds": 7, "invokes": 2_000, "emits": 50_000}}
TARGET = 1.2


def without_cloudwatch() -> str:
    """``LAMBDALAB_PLUGINS``: every installed plugin but lambdalab_cloudwatch."""
    names = {ep.name for ep in importlib.metadata.entry_points(group="lambdalab")}
    return ",".join(sorted(names - {"cloudwatch"}))


def warm_p50(root: Path, tag: str, invokes: int, metrics_on: bool) -> float:
    """p50 (µs) of ``invokes`` warm invokes on a fresh lab, with or without the plugin."""
    saved = os.environ.get("LAMBDALAB_PLUGINS")
    if not metrics_on:
        os.environ["LAMBDALAB_PLUGINS"] = without_cloudwatch()
    try:
        code = root / f"code-{tag}"
        code.mkdir()
        (code / "app.py").write_text(ECHO)
        with Lab(data_dir=root / f"data-{tag}", default_sandbox=SANDBOX) as lab:
            loaded = any(name == "cloudwatch" for name, _ in lab.plugin_manager.list_name_plugin())
            assert loaded == metrics_on, "the plugin set is not the one meant"
            lab.create_function("echo", code, handler="app.handler")
            for _ in range(50):  # warm up: the environment, the caches
                lab.invoke("echo", {"a": 1})
            return p50(time_each(lambda: lab.invoke("echo", {"a": 1}), invokes))
    finally:
        if saved is None:
            os.environ.pop("LAMBDALAB_PLUGINS", None)
        else:
            os.environ["LAMBDALAB_PLUGINS"] = saved


def emission_us(root: Path, count: int, metrics_on: bool) -> float:
    """Per call, µs: the metrics emission for one execution, with or without the plugin."""
    if not metrics_on:
        os.environ["LAMBDALAB_PLUGINS"] = without_cloudwatch()
    try:
        code = root / f"code-emit-{metrics_on}"
        code.mkdir()
        (code / "app.py").write_text(ECHO)
        with Lab(data_dir=root / f"data-emit-{metrics_on}", default_sandbox=SANDBOX) as lab:
            config = lab.create_function("echo", code, handler="app.handler")
            arn = lab.arns.function("echo")
            invoker = lab.invoker
            began = time.perf_counter()
            for _ in range(count):
                invoker._execution_metrics(config, arn, None, 1.0, (1, 1, 1))
            return (time.perf_counter() - began) / count * 1e6
    finally:
        os.environ.pop("LAMBDALAB_PLUGINS", None)


def measure(mode: dict[str, int]) -> list[Row]:
    ratios, offs, ons = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for n in range(mode["rounds"]):
            # alternate which goes first, so a drift in load favours neither
            order = (False, True) if n % 2 == 0 else (True, False)
            got = {on: warm_p50(root, f"{n}-{on}", mode["invokes"], on) for on in order}
            offs.append(got[False])
            ons.append(got[True])
            ratios.append(got[True] / got[False])
            print(f"... round {n + 1}: off {got[False]:.0f} µs, on {got[True]:.0f} µs",
                  file=sys.stderr, flush=True)
        emission_off = emission_us(root, mode["emits"], False)
        emission_on = emission_us(root, mode["emits"], True)
    ratio = statistics.median(ratios)
    spread = (f"rounds' ratios {min(ratios):.2f}-{max(ratios):.2f} "
              f"({', '.join(f'{r:.2f}' for r in ratios)}); p50 off "
              f"{min(offs):.0f}-{max(offs):.0f} µs, on {min(ons):.0f}-{max(ons):.0f} µs")
    return [
        Row("M1", "warm invoke p50, CloudWatch metrics on", "µs", statistics.median(ons),
            baseline=statistics.median(offs), baseline_name="the same lab without the plugin",
            target=f"<= {TARGET}x baseline (median of the rounds' ratios)",
            met=ratio <= TARGET, samples=mode["rounds"] * mode["invokes"],
            notes=f"median ratio {ratio:.2f}; {spread}", extra={"ratios": ratios}),
        Row("M2", "metrics emission per invoke, no plugin", "µs", emission_off,
            samples=mode["emits"], notes="what M1's baseline pays"),
        Row("M2", "metrics emission per invoke, plugin loaded", "µs", emission_on,
            samples=mode["emits"], notes="data points, hook call, aggregation"),
    ]


if __name__ == "__main__":
    sys.exit(harness.main(
        "monitoring benchmarks",
        "What CloudWatch metrics cost lambdalab's invoke path.",
        measure,
        MODES,
    ))
