"""Monitoring benchmarks: what CloudWatch metrics cost the invoke path, measured in one run.

    python benchmarks/monitoring.py            # full run, about a minute on 2 cores
    python benchmarks/monitoring.py --quick    # small counts: a smoke test
    python benchmarks/monitoring.py --json out.json

Figures (target from issue 17, "Done when"):

M1. warm sync invoke p50 through ``Lab.invoke`` of a tiny handler with the
    ``lambdalab_cloudwatch`` plugin loaded, beside the same without it
    (``LAMBDALAB_PLUGINS`` leaves it out): both labs open at once, invoked in
    alternating blocks, so that the machine's load falls on both alike. The target is
    on the median of the blocks' p50 ratios; the notes give their range and quartiles,
    and the p50 of all samples of each. Target: <= 1.2x.
M2. what the core spends per invoke on ``AWS/Lambda`` data points: with no plugin
    listening (what M1's baseline pays: a check that nobody implements the hook), and
    with the plugin (building the data points, the hook call, and the aggregation and
    writing the plugin does later, off the invoke's path), in microseconds of one
    thread's time. Reported, no target.

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
from lambdalab_cloudwatch import cloudwatch

ECHO = "def handler(event, context):\n    return event\n"
MODES = {"quick": {"rounds": 6, "invokes": 100, "emits": 5_000},
         "full": {"rounds": 40, "invokes": 250, "emits": 50_000}}
TARGET = 1.2


def without_cloudwatch() -> str:
    """``LAMBDALAB_PLUGINS``: every installed plugin but lambdalab_cloudwatch."""
    names = {ep.name for ep in importlib.metadata.entry_points(group="lambdalab")}
    return ",".join(sorted(names - {"cloudwatch"}))


def open_lab(root: Path, tag: str, metrics_on: bool) -> Lab:
    """A lab with one warm function ``echo``, with or without the CloudWatch plugin."""
    saved = os.environ.get("LAMBDALAB_PLUGINS")
    if not metrics_on:
        os.environ["LAMBDALAB_PLUGINS"] = without_cloudwatch()
    try:
        code = root / f"code-{tag}"
        code.mkdir()
        (code / "app.py").write_text(ECHO)
        lab = Lab(data_dir=root / f"data-{tag}", default_sandbox=SANDBOX)
    finally:
        if saved is None:
            os.environ.pop("LAMBDALAB_PLUGINS", None)
        else:
            os.environ["LAMBDALAB_PLUGINS"] = saved
    loaded = any(name == "cloudwatch" for name, _ in lab.plugin_manager.list_name_plugin())
    assert loaded == metrics_on, "the plugin set is not the one meant"
    lab.create_function("echo", code, handler="app.handler")
    for _ in range(50):  # warm up: the environment, the caches
        lab.invoke("echo", {"a": 1})
    return lab


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
            flush = cloudwatch(lab).store.flush if metrics_on else (lambda: None)
            began = time.perf_counter()
            for _ in range(count):
                invoker._execution_metrics(config, arn, None, 1.0, (1, 1, 1))
            flush()  # the work deferred off the invoke path counts too
            return (time.perf_counter() - began) / count * 1e6
    finally:
        os.environ.pop("LAMBDALAB_PLUGINS", None)


def measure(mode: dict[str, int]) -> list[Row]:
    ratios: list[float] = []
    samples: dict[bool, list[float]] = {False: [], True: []}
    blocks: dict[bool, list[float]] = {False: [], True: []}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        labs = {on: open_lab(root, str(on), on) for on in (False, True)}
        try:
            for n in range(mode["rounds"]):
                # both labs in turn, in blocks, the first one alternating: a change in the
                # machine's load falls on both alike
                order = (False, True) if n % 2 == 0 else (True, False)
                got = {}
                for on in order:
                    lab = labs[on]
                    block = time_each(lambda: lab.invoke("echo", {"a": 1}), mode["invokes"])
                    samples[on] += block
                    got[on] = p50(block)
                    blocks[on].append(got[on])
                ratios.append(got[True] / got[False])
        finally:
            for lab in labs.values():
                lab.close()
        emission_off = emission_us(root, mode["emits"], False)
        emission_on = emission_us(root, mode["emits"], True)
    ratio = statistics.median(ratios)
    off, on = p50(samples[False]), p50(samples[True])
    best_off, best_on = min(blocks[False]), min(blocks[True])
    spread = (f"{len(ratios)} rounds; their p50 ratios {min(ratios):.2f}-{max(ratios):.2f}, "
              f"quartiles {_quartiles(ratios)}; p50 of all samples off {off:.0f} µs, "
              f"on {on:.0f} µs; best block's p50 (the least loaded moment) off "
              f"{best_off:.0f} µs, on {best_on:.0f} µs ({best_on / best_off:.2f}x)")
    return [
        Row("M1", "warm invoke p50, CloudWatch metrics on", "µs", on, baseline=off,
            baseline_name="the same lab without the plugin, in alternating blocks",
            target=f"<= {TARGET}x baseline (median of the rounds' ratios)",
            met=ratio <= TARGET, samples=len(samples[True]) + len(samples[False]),
            notes=f"median ratio {ratio:.2f}; {spread}", extra={"ratios": ratios}),
        Row("M2", "metrics emission per invoke, no plugin", "µs", emission_off,
            samples=mode["emits"], notes="what M1's baseline pays"),
        Row("M2", "metrics emission per invoke, plugin loaded", "µs", emission_on,
            samples=mode["emits"], notes="data points, hook call; aggregation and writing "
                                         "(deferred) included"),
    ]


def _quartiles(values: list[float]) -> str:
    if len(values) < 2:
        return "-"
    low, _, high = statistics.quantiles(values, n=4)
    return f"{low:.2f}-{high:.2f}"


if __name__ == "__main__":
    sys.exit(harness.main(
        "monitoring benchmarks",
        "What CloudWatch metrics cost lambdalab's invoke path.",
        measure,
        MODES,
    ))
