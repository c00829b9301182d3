"""Lab 6: measure how a function's memory size changes how fast it runs."""


def duration_ms(log_tail):
    """The Duration (ms) of the REPORT line in an invoke's log tail."""
    # TODO: find the line that starts with "REPORT", split it on tabs, and return the
    # number after "Duration: " as a float (the field is "Duration: 12.34 ms").
    return 0.0


def measure(lab, name, memory_sizes):
    """Invoke function ``name`` once at each memory size; {memory_size: duration_ms}."""
    durations = {}
    for memory_size in memory_sizes:
        # TODO: change the function's memory size with lab.update_function_configuration
        # TODO: invoke it with log_type="Tail" and record duration_ms(result.log_tail)
        pass
    return durations


def cheapest_within(durations, deadline_ms):
    """The memory size that costs least among those whose duration is within
    ``deadline_ms`` (the smaller one on a tie), or None when none is fast enough.

    Lambda bills memory x duration (GB-seconds): that product is the cost.
    """
    # TODO: keep the memory sizes whose duration is <= deadline_ms; of those, return the
    # one with the smallest memory_size * duration.
    return None
