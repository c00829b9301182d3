"""Lab 6: measure how a function's memory size changes how fast it runs."""


def duration_ms(log_tail):
    """The Duration (ms) of the REPORT line in an invoke's log tail."""
    report = next(line for line in log_tail.splitlines() if line.startswith("REPORT"))
    for field in report.split("\t"):
        key, _, value = field.strip().partition(": ")
        if key == "Duration":
            return float(value.split()[0])
    raise ValueError("no Duration in the REPORT line")


def measure(lab, name, memory_sizes):
    """Invoke function ``name`` once at each memory size; {memory_size: duration_ms}."""
    durations = {}
    for memory_size in memory_sizes:
        lab.update_function_configuration(name, memory_size=memory_size)
        result = lab.invoke(name, {}, log_type="Tail")
        durations[memory_size] = duration_ms(result.log_tail)
    return durations


def cheapest_within(durations, deadline_ms):
    """The memory size that costs least (memory x duration) among those within
    ``deadline_ms``; the smaller one on a tie; None when none is fast enough."""
    fast_enough = [m for m in sorted(durations) if durations[m] <= deadline_ms]
    if not fast_enough:
        return None
    return min(fast_enough, key=lambda m: m * durations[m])
