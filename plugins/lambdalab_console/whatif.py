"""Cost "what if": what a function's invokes would cost at other memory sizes, priced by
the cost plugin (``lambdalab_cost.project``, AWS's prices:
https://aws.amazon.com/lambda/pricing/) from the durations it measured.

Nobody knows a function's duration at a size it never ran at, so each size gets two
figures, the two ends of what can happen (docs/explanation/why-more-memory-can-cost-less.rst):

* **CPU-bound**: the duration scales with the CPU the memory buys, memory / 1,769 MB of
  a vCPU and no more than one vCPU for single-threaded code
  (https://docs.aws.amazon.com/lambda/latest/dg/configuration-memory.html), billed
  rounded up to the millisecond;
* **waiting** (network, a database, S3): the duration does not change at all.

A real function lies between; measuring it at each size (``lambdalab cost``) tells.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from lambdalab import Lab
from lambdalab.plugin import LambdaError, limits

from .bounds import GRAPH_FUNCTIONS_MAX
from .graphs import plugin_loaded

if TYPE_CHECKING:
    from lambdalab_cost import CostLedger, Measured

#: The sizes priced besides the function's own (MB): AWS's smallest, common steps, one
#: vCPU, the old 3,008 MB limit and the largest.
WHAT_IF_MEMORY_MB = (128, 512, 1024, 1769, 3008, 10_240)
#: Invokes each figure is for (a month's), before the free tier, which is the account's.
WHAT_IF_INVOKES = 1_000_000


def vcpus(memory_mb: int) -> float:
    """The share of a vCPU single-threaded code can use at ``memory_mb``."""
    return min(memory_mb, limits.MEMORY_MB_PER_VCPU) / limits.MEMORY_MB_PER_VCPU


def cpu_bound(base: "Measured", memory_mb: int) -> "Measured":
    """``base`` at ``memory_mb`` if all it does is compute: its average duration shorter
    (or longer) with the vCPU share, billed rounded up to the next 1 ms as Lambda bills
    (https://aws.amazon.com/lambda/pricing/), so a tiny function gains nothing past a
    millisecond. At ``base``'s own size, what it measured."""
    if memory_mb == base.memory_mb:
        return base
    duration = base.average_duration_ms * vcpus(base.memory_mb) / vcpus(memory_mb)
    return replace(base, memory_mb=memory_mb, average_duration_ms=duration,
                   average_billed_ms=float(max(1, math.ceil(duration))))


def function_what_if(costs: "CostLedger", function_name: str, memory_mb: int) -> dict[str, Any] | None:
    """One function's table: each size's billed duration and cost both ways, the
    cheapest of each marked; ``None`` before it has run."""
    from lambdalab_cost import project

    measured = costs.measured(function_name)
    if not measured:
        return None
    # What it measured at its current size, else where it ran most.
    base = next((m for m in measured if m.memory_mb == memory_mb),
                max(measured, key=lambda m: m.invokes))
    rows = []
    for size in sorted({*WHAT_IF_MEMORY_MB, base.memory_mb}):
        computing = cpu_bound(base, size)
        waiting = replace(base, memory_mb=size)
        rows.append({
            "memory_mb": size, "measured": size == base.memory_mb, "vcpus": vcpus(size),
            "cpu_bound_billed_ms": computing.average_billed_ms,
            "cpu_bound_usd": project(computing, WHAT_IF_INVOKES).cost.total_usd,
            "waiting_billed_ms": waiting.average_billed_ms,
            "waiting_usd": project(waiting, WHAT_IF_INVOKES).cost.total_usd,
        })
    for column in ("cpu_bound_usd", "waiting_usd"):
        cheapest = min(row[column] for row in rows)
        for row in rows:  # sizes that cost the same but for float rounding all are cheapest
            row[column.replace("_usd", "_cheapest")] = math.isclose(row[column], cheapest, rel_tol=1e-9)
    return {"name": function_name, "memory_mb": memory_mb, "measured_at_mb": base.memory_mb,
            "architecture": base.architecture, "invokes_measured": base.invokes, "rows": rows}


def what_if(lab: Lab) -> dict[str, Any] | None:
    """Every function's what-if table; ``None`` without the cost plugin."""
    import lambdalab_cost

    if not plugin_loaded(lab, lambdalab_cost):
        return None
    costs = lambdalab_cost.costs(lab)
    tables = []
    for config in lab.list_functions()[:GRAPH_FUNCTIONS_MAX]:
        try:
            table = function_what_if(costs, config.function_name, config.memory_size)
        except LambdaError:  # deleted while we read it
            continue
        if table is not None:
            tables.append(table)
    return {"invokes": WHAT_IF_INVOKES, "functions": tables}
