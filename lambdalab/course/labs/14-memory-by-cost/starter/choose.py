"""Lab 14: choose a function's memory size by what a month of it would cost."""

from lambdalab_cost import costs


def measure(lab, name, memory_sizes):
    """Run function ``name`` at each memory size, so that the lab's cost ledger has a
    warm average duration for each; return what the ledger measured."""
    for memory_size in memory_sizes:
        # TODO: set the function's memory size with lab.update_function_configuration
        # TODO: invoke it (lab.invoke(name)) enough times that at least one invoke at this
        # size is warm: the first invoke after a change of memory is a cold start.
        pass
    return costs(lab).measured(name)


def choose(projections, target_ms):
    """The memory size whose month costs least among those whose average duration is
    within ``target_ms`` (the smaller size on a tie), or None when none is fast enough.

    Each projection has ``.measured.memory_mb``, ``.measured.average_duration_ms`` and
    ``.cost.total_usd`` (the month's price before the free tier).
    """
    # TODO: keep the projections whose average duration is <= target_ms; of those,
    # return the memory size of the one whose month costs least.
    return None
