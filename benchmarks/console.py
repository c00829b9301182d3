"""Console benchmark: how soon the page in a browser shows an invoke, with a big lab in view.

    python benchmarks/console.py            # full run: 50 functions, 200 environments, 10,000 invokes
    python benchmarks/console.py --quick    # small counts: a smoke test

Figures (target from issue 18: "a view updates within 200 ms of the event, with 50
functions, 200 environments and 10,000 invokes in view"):

1. update latency, p50: from the lab's ``lambdalab_invoke_completed`` hook for an invoke
   (the event; ``time.time()`` in the benchmark's own hook implementation) to the frame
   after the page's timeline gained that invoke's block (a ``MutationObserver`` on the
   lanes records ``performance.timeOrigin + performance.now()`` two animation frames
   after the block appeared: the frame that drew it has been painted). Both clocks are
   the machine's wall clock. Probes run one at a time (the next starts once the page
   showed the last), each on a warm environment of a different function (target: p50
   <= 200 ms). p99 is reported beside it.
2. first load: the page reloaded with all of that in view, until the last probe's block
   is drawn (reported).

The lab runs in this process on a virtual clock (nothing is reaped), its functions in
the ``thread`` sandbox (the page, not the sandbox, is measured); the edge serves it from
a thread; Playwright drives Debian's chromium (``/usr/bin/chromium``), headless, one tab.
The 10,000 invokes run while the page is open, so it has applied each of their events
before the probes start. A missed target is reported, not raised.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import harness
from harness import Row, p50, p99

import lambdalab
from lambdalab import InvokeReport, Lab, VirtualClock
from lambdalab.server import EdgeServer
from lambdalab_console import feed

TARGET_MS = 200.0
MODES = {
    "quick": {"functions": 5, "environments_each": 2, "invokes": 500, "probes": 30},
    "full": {"functions": 50, "environments_each": 4, "invokes": 10_000, "probes": 200},
}
#: Holds its environment until the gate file exists, so a burst opens one per invoke.
HANDLER = """
import os, time

def handler(event, context):
    gate = event.get("gate")
    while gate and not os.path.exists(gate):
        time.sleep(0.001)
    return 1
"""
#: Records, for each request id whose block appears on a lane, when the frame after the
#: one that drew it began (epoch ms).
OBSERVER = """
() => {
  window.__shown = {}; window.__mutated = {};
  new MutationObserver((records) => {
    const now = [];
    for (const record of records)
      for (const node of record.addedNodes)
        if (node.dataset && node.dataset.requestId) now.push(node.dataset.requestId);
        else if (node.querySelectorAll)
          for (const block of node.querySelectorAll("[data-request-id]")) now.push(block.dataset.requestId);
    if (!now.length) return;
    const mutated = performance.timeOrigin + performance.now();
    for (const id of now) if (!(id in window.__mutated)) window.__mutated[id] = mutated;
    requestAnimationFrame(() => setTimeout(() => {
      const at = performance.timeOrigin + performance.now();
      for (const id of now) if (!(id in window.__shown)) window.__shown[id] = at;
    }, 0));
  }).observe(document.getElementById("lanes"), { childList: true, subtree: true });
}
"""


class Stamps:
    """When each invoke's completion hook ran (epoch ms), by request id."""

    def __init__(self) -> None:
        self.at: dict[str, float] = {}

    @lambdalab.hookimpl
    def lambdalab_invoke_completed(self, report: InvokeReport) -> None:
        self.at[report.request_id] = time.time() * 1000


def code_dir(root: Path) -> Path:
    folder = root / "code"
    folder.mkdir()
    (folder / "app.py").write_text(HANDLER)
    return folder


def open_environments(lab: Lab, names: list[str], each: int, gate: Path) -> None:
    """``each`` environments per function: that many invokes at once, held by the gate."""
    threads = [threading.Thread(target=lab.invoke, args=(name, {"gate": str(gate)}))
               for name in names for _ in range(each)]
    for thread in threads:
        thread.start()
    while not _all_busy(lab, len(threads)):
        time.sleep(0.01)
    gate.touch()
    for thread in threads:
        thread.join()


def _all_busy(lab: Lab, count: int) -> bool:
    return len(feed(lab).lanes) >= count


def invoke_many(lab: Lab, names: list[str], count: int, threads: int = 4) -> None:
    def work(offset: int) -> None:
        for i in range(offset, count, threads):
            lab.invoke(names[i % len(names)], {})

    workers = [threading.Thread(target=work, args=(k,)) for k in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()


def run(counts: dict[str, Any]) -> list[Row]:
    from playwright.sync_api import sync_playwright

    executable = shutil.which("chromium") or "/usr/bin/chromium"
    if not os.access(executable, os.X_OK):
        raise SystemExit("no chromium: apt-get install chromium")
    names = [f"fn{i:02d}" for i in range(counts["functions"])]
    environments = counts["functions"] * counts["environments_each"]
    with tempfile.TemporaryDirectory() as tmp, \
            Lab(data_dir=Path(tmp) / "data", clock=VirtualClock()) as lab, \
            EdgeServer(lab, port=0) as edge, sync_playwright() as playwright:
        code = code_dir(Path(tmp))
        for name in names:
            lab.create_function(name, code, handler="app.handler", sandbox="thread")
        print(f"opening {environments} environments", file=sys.stderr)
        open_environments(lab, names, counts["environments_each"], Path(tmp) / "gate")
        browser = playwright.chromium.launch(executable_path=executable)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(edge.url + "/_lambdalab/console/")
        page.wait_for_function(f"document.querySelectorAll('#lanes .lane').length >= {environments}"
                               " && document.getElementById('status').textContent === 'Live.'",
                               timeout=300_000)
        print(f"{counts['invokes']} invokes with the page open", file=sys.stderr)
        invoke_many(lab, names, counts["invokes"])
        last = lab.invoke(names[0], {}).request_id
        page.wait_for_selector(f'[data-request-id="{last}"]', state="attached", timeout=300_000)
        page.evaluate(OBSERVER)
        stamps = Stamps()
        lab.plugin_manager.register(stamps)
        latencies, mutated = [], []
        print(f"{counts['probes']} probes", file=sys.stderr)
        for k in range(counts["probes"]):
            request_id = lab.invoke(names[k % len(names)], {}).request_id
            page.wait_for_function(f"window.__shown[{request_id!r}] !== undefined", timeout=60_000)
            shown = page.evaluate(f"window.__shown[{request_id!r}]")
            latencies.append(shown - stamps.at[request_id])
            mutated.append(page.evaluate(f"window.__mutated[{request_id!r}]") - stamps.at[request_id])
        in_view = page.evaluate("document.querySelectorAll('#lanes [data-request-id]').length")
        kept = sum(len(lane.invokes) for lane in feed(lab).lanes.values())
        began = time.perf_counter()
        page.reload()
        page.wait_for_selector(f'[data-request-id="{request_id}"]', state="attached", timeout=300_000)
        first_load_ms = (time.perf_counter() - began) * 1000
        browser.close()
    scale = (f"{counts['functions']} functions, {environments} environments, "
             f"{counts['invokes']} invokes ({in_view} blocks drawn of the {kept} the server keeps)")
    return [
        Row("1", "page update after an invoke, p50", "ms", p50(latencies),
            target=f"<= {TARGET_MS:.0f} ms", met=p50(latencies) <= TARGET_MS,
            samples=len(latencies), extra={"p99": p99(latencies), "max": max(latencies)},
            notes=f"p99 {p99(latencies):.1f} ms, max {max(latencies):.1f} ms; {scale}"),
        Row("1b", "the block in the DOM (before its frame), p50", "ms", p50(mutated),
            samples=len(mutated), extra={"p99": p99(mutated)}, notes=f"p99 {p99(mutated):.1f} ms"),
        Row("2", "first load of the page, every lane drawn", "ms", first_load_ms,
            samples=1, notes=f"{environments} lanes"),
    ]


def main(argv: list[str] | None = None) -> int:
    return harness.main("console benchmark", __doc__.split("\n\n")[0], run, MODES, argv)


if __name__ == "__main__":
    sys.exit(main())
