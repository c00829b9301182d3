"""Short full garbage collections in a process that serves the edge.

CPython's collector runs a *full* collection, which visits every container object the
process holds, once the objects that survived the younger collections since the last one
number a quarter of those it kept then. A ``lambdalab serve`` process holds about 145,000
such objects once it is warm (its modules, botocore's service models, the lab's state),
and under load the records that wait a moment in its batched writers survive long enough
to set one off every two seconds. Each one stopped the edge for 50-85 ms under 64
clients on two cores, and every request in flight waited: whenever one fell in the
window of ``benchmarks/edge.py``'s figure 4e, it set the p99 (92-104 ms against 31-39).

``gc.freeze()`` moves the objects the process holds into a generation that collections
never visit (https://docs.python.org/3/library/gc.html#gc.freeze). Frozen objects are
still freed when nothing refers to them any more; only a reference cycle among them is
never collected. So the server freezes what it holds when it starts, and what survives
its first few full collections (the models and state that its first requests load), and
no more: a later freeze would keep every cycle that a closed connection or a replaced
environment leaves among frozen objects. Full collections then visit a few thousand
objects and take about a millisecond.

Only lambdalab's own server processes do this: a :class:`~lambdalab.Lab` or an
:class:`~lambdalab.server.EdgeServer` in a learner's program leaves its collector alone.
"""

from __future__ import annotations

import gc
from typing import Any

#: Full collections after start-up whose survivors are frozen too: enough to take in
#: what the first requests load (each region's lab, the service models of each API).
WARM_UP_FULL_COLLECTIONS = 3


class _FreezeSurvivors:
    """A ``gc.callbacks`` entry: freeze what each of the next ``count`` full collections
    kept. (Left in place once spent: a callback removed while the collector walks the
    list would make it skip the next one.)"""

    def __init__(self, count: int) -> None:
        self.left = count

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "stop" and info["generation"] == 2 and self.left > 0:
            self.left -= 1
            gc.freeze()


def freeze_long_lived(warm_up: int = WARM_UP_FULL_COLLECTIONS) -> None:
    """Freeze every object this process holds now, and the survivors of its next
    ``warm_up`` full collections (see the module's docstring). Called once, by the
    process that serves (``lambdalab serve`` and the CLI's background server)."""
    gc.freeze()
    gc.callbacks.append(_FreezeSurvivors(warm_up))


__all__ = ["WARM_UP_FULL_COLLECTIONS", "freeze_long_lived"]
