"""Console graphs benchmark: how soon the metric graphs show an invoke, and what each graph
view's read costs the server, with a busy lab in view.

    python benchmarks/console_graphs.py            # 50 functions, 2,000 traced invokes
    python benchmarks/console_graphs.py --quick    # small counts: a smoke test

Figures (target from issue 18: "a view updates within 200 ms of the event"):

1. metric graph update after an invoke, p50: from ``lab.invoke`` returning (its
   ``lambdalab_invoke_completed`` hook and data points are behind it; ``time.time()``)
   to the animation frame after the page's Invocations bar of that function changed (a
   ``MutationObserver``; ``performance.timeOrigin + performance.now()``), both the
   machine's wall clock, as ``console.py`` measures; the graphs view in sight. Each probe comes after a quiet
   second, as a learner's single invoke does; while invokes keep coming the page reads
   at most once a second by design.
2. the server's time for one read of each view (in this process, no HTTP): the metric
   graphs of every function, the X-Ray service graph (its newest traces) and list, and
   the cost what-if (reported).

The lab runs in this process on a virtual clock, its functions in the ``thread`` sandbox
with Active tracing, one invoke per second of the lab's clock (X-Ray samples the first of
each second), so every invoke is a trace; the edge serves it from a thread; Playwright
drives Debian's chromium, headless. A missed target is reported, not raised.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import harness
from harness import Row, p50, p99

from lambdalab import Lab, VirtualClock
from lambdalab.server import EdgeServer
from lambdalab_console import graphs, traces, whatif

TARGET_MS = 200.0
MODES = {
    "quick": {"functions": 5, "invokes": 100, "probes": 5, "reads": 3},
    "full": {"functions": 50, "invokes": 2000, "probes": 20, "reads": 10},
}
HANDLER = "def handler(event, context):\n    return 1\n"
#: The probed function's Invocations bars: how many, and the last one's count (a new
#: minute adds a bar of 1, the current minute's bar grows).
BARS = """(name) => { const bars = document.querySelectorAll(
  `article[data-function="${name}"] figure[data-metric="Invocations"] rect.point`);
  return bars.length + ":" + (bars.length ? bars[bars.length - 1].dataset.v : ""); }"""
#: Watches for the bars to change, then stamps the frame after (wall clock, ms).
WATCH = f"""([name, before]) => {{
  window.__seen = null;
  const changed = () => ({BARS})(name) !== before;
  const observer = new MutationObserver(() => {{
    if (!changed()) return;
    observer.disconnect();
    requestAnimationFrame(() => {{ window.__seen = performance.timeOrigin + performance.now(); }});
  }});
  observer.observe(document.getElementById("metric-graphs"), {{ subtree: true, childList: true, attributes: true }});
}}"""


def last_bar(page: Any, name: str) -> str:
    return page.evaluate(BARS, name)


def read_times(lab: Lab, read: Callable[[Lab], Any], count: int) -> list[float]:
    times = []
    for _ in range(count):
        began = time.perf_counter()
        read(lab)
        times.append((time.perf_counter() - began) * 1000)
    return times


def fill(lab: Lab, code: Path, counts: dict[str, Any]) -> list[str]:
    names = [f"fn-{n:02d}" for n in range(counts["functions"])]
    for name in names:
        lab.create_function(name, code, handler="app.handler", sandbox="thread",
                            tracing_config={"Mode": "Active"})
    for n in range(counts["invokes"]):
        lab.invoke(names[n % len(names)], {})
        lab.clock.advance(1.0)
    return names


def probe(page: Any, lab: Lab, name: str, count: int) -> list[float]:
    latencies = []
    for _ in range(count):
        time.sleep(1.2)  # a quiet second: the page reads at once
        # in sight, as a learner watching it (a redrawn timeline above may move it)
        page.evaluate("(name) => document.querySelector(`article[data-function='${name}']`)"
                      ".scrollIntoView({block: 'center'})", name)
        page.evaluate(WATCH, [name, last_bar(page, name)])
        lab.invoke(name, {})
        done = time.time()  # its hooks, the data points among them, have run
        page.wait_for_function("() => window.__seen", timeout=30_000)
        latencies.append(page.evaluate("() => window.__seen") - done * 1000)
    return latencies


def run(counts: dict[str, Any]) -> list[Row]:
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as folder, \
            Lab(data_dir=Path(folder) / "data", clock=VirtualClock(start=1_700_000_000)) as lab, \
            EdgeServer(lab, port=0) as edge:
        code = Path(folder) / "code"
        code.mkdir()
        (code / "app.py").write_text(HANDLER)
        print(f"{counts['invokes']} traced invokes over {counts['functions']} functions")
        names = fill(lab, code, counts)
        reads = {label: read_times(lab, read, counts["reads"]) for label, read in (
            ("metric graphs", graphs.metric_graphs), ("service graph", traces.service_graph),
            ("trace list", traces.trace_list), ("what-if", whatif.what_if))}
        print(f"{counts['probes']} probes")
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path="/usr/bin/chromium")
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(edge.url + "/_lambdalab/console/")
            page.wait_for_selector("text=Live.")
            page.locator("#graphs-view").scroll_into_view_if_needed()
            page.wait_for_selector(f'article[data-function="{names[0]}"] rect.point')
            latencies = probe(page, lab, names[0], counts["probes"])
            browser.close()
    scale = f"{counts['functions']} functions graphed, {counts['invokes']} traced invokes"
    rows = [Row("1", "metric graph update after an invoke, p50", "ms", p50(latencies),
                target=f"<= {TARGET_MS:.0f} ms", met=p50(latencies) <= TARGET_MS,
                samples=len(latencies), extra={"p99": p99(latencies), "max": max(latencies)},
                notes=f"p99 {p99(latencies):.1f} ms, max {max(latencies):.1f} ms; {scale}")]
    for n, (label, times) in enumerate(reads.items()):
        rows.append(Row(f"2{'abcd'[n]}", f"one read: {label}, p50", "ms", p50(times),
                        samples=len(times), notes=f"max {max(times):.1f} ms; {scale}"))
    return rows


def main(argv: list[str] | None = None) -> int:
    return harness.main("console graphs benchmark", __doc__.split("\n\n")[0], run, MODES, argv)


if __name__ == "__main__":
    sys.exit(main())
