"""Lab 14: choose a function's memory size by what a month of it would cost."""

from lambdalab_cost import costs


def measure(lab, name, memory_sizes):
    """Run function ``name`` at each memory size, so that the lab's cost ledger has a
    warm average duration for each; return what the ledger measured."""
    for memory_size in memory_sizes:
        lab.update_function_configuration(name, memory_size=memory_size)
        for _ in range(2):  # the first is a cold start; the second is warm
            lab.invoke(name)
    return costs(lab).measured(name)


def choose(projections, target_ms):
    """The memory size whose month costs least among those whose average duration is
    within ``target_ms`` (the smaller size on a tie), or None when none is fast enough."""
    fast_enough = [p for p in projections if p.measured.average_duration_ms <= target_ms]
    if not fast_enough:
        return None
    best = min(fast_enough, key=lambda p: (p.cost.total_usd, p.measured.memory_mb))
    return best.measured.memory_mb
