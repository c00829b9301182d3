"""Full garbage collections stay short in lambdalab's long-lived processes (issue 21).

The fork server freezes what it preloaded before it forks environments, and the process
that serves the edge freezes what it holds when it starts and what survives its first
full collections (``lambdalab.server.heap``): those objects are never visited again.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import psutil

from lambdalab import Lab

COLLECTS = """\
import gc

def handler(event, context):
    if event.get("unfreeze"):
        gc.unfreeze()  # what an environment was before the fork server froze its preloads
    frozen = gc.get_freeze_count()
    gc.collect()
    return {"frozen": frozen}
"""


def private_mb(pid: int) -> float:
    """The memory ``pid`` holds alone (pages it shares with no other process)."""
    return psutil.Process(pid).memory_full_info().uss / 2**20


def test_an_environments_full_collection_leaves_the_fork_servers_pages_shared(tmp_path: Path) -> None:
    code = tmp_path / "code"
    code.mkdir()
    (code / "app.py").write_text(COLLECTS)
    grown: dict[bool, float] = {}
    with Lab(data_dir=tmp_path / "data") as lab:  # the fork server preloads boto3
        for unfreeze in (False, True):
            name = f"collects-{'unfrozen' if unfreeze else 'frozen'}"
            lab.create_function(name, code, handler="app.handler", sandbox="subprocess")
            lab.invoke(name, {})  # cold start; a first full collection of what INIT made
            (pooled,) = [p for p in lab.pool.idle_environments() if p.function_name == name]
            before = private_mb(pooled.env.pid)
            answer = json.loads(lab.invoke(name, {"unfreeze": unfreeze}).payload)
            grown[unfreeze] = private_mb(pooled.env.pid) - before
            if not unfreeze:  # boto3 and the runtime's own modules: tens of thousands
                assert answer["frozen"] > 10_000
    # Unfrozen, the collector writes to every object the fork server made, and the
    # kernel copies each page it writes to: that is what the freeze spares.
    assert grown[True] > 3, grown
    assert grown[False] < grown[True] / 3, grown


SERVING = """\
import gc, json
from lambdalab.server.heap import freeze_long_lived

kept = []
freeze_long_lived(warm_up=2)
counts = [gc.get_freeze_count()]
for _ in range(4):
    kept.append([[] for _ in range(1000)])  # lists: tracked, and outliving each collection
    gc.collect()
    counts.append(gc.get_freeze_count())
print(json.dumps(counts))
"""


def test_a_serving_process_freezes_what_it_holds_and_the_survivors_of_its_warm_up() -> None:
    # In a process of its own: freezing is for the whole interpreter.
    out = subprocess.run([sys.executable, "-c", SERVING], capture_output=True, text=True,
                         check=True).stdout
    start, first, second, third, fourth = json.loads(out)
    assert start > 1_000  # the modules it imported
    assert first >= start + 1_000 and second >= first + 1_000  # each warm-up survivor
    assert third == second and fourth == second  # then no more: cycles left stay collectable
