"""Check for lab 6: a CPU-bound function runs faster with more memory, and the learner
measures it and picks the smallest memory size that meets a deadline.

Robust on a loaded machine: it compares durations measured at the same time with each
other (a ratio), never with a fixed number of milliseconds.
"""

import tempfile
from pathlib import Path

from lambdalab.labs import (
    CheckFailed,
    call_learner,
    deploy,
    fresh_lab,
    load_learner_module,
    passed,
    require_file,
    show,
    unique_name,
)

APP = '''def handler(event, context):
    return sum(i * i for i in range(300_000))
'''
SIZES = [128, 512, 1769]
#: The ideal ratio is 1769 / 128, about 14; a busy machine slows the fast run too.
MIN_RATIO = 3.0
#: smallest_within() on durations the check makes up, with the answer it must give.
MADE_UP = ({128: 900.0, 512: 230.0, 1769: 70.0}, [(1000, 128), (500, 512), (100, 1769), (50, None)])


def check(workdir: Path):
    script = require_file(workdir, "measure.py")
    module = load_learner_module(script)
    for needed in ("measure", "smallest_within"):
        if not callable(getattr(module, needed, None)):
            raise CheckFailed(
                f"measure.py has no {needed}() function.",
                expected=f"def {needed}(...) as in the starter",
                got=f"no function named {needed}",
                try_next="restore it from the starter and fill in its TODOs",
            )
    durations = measured(script, module)
    ratio = durations[128] / durations[1769]
    if ratio < MIN_RATIO:
        raise CheckFailed(
            "The 128 MB run was not much slower than the 1769 MB run.",
            expected=f"Duration at 128 MB at least {MIN_RATIO:g}x the Duration at 1769 MB",
            got=f"{show(durations)} (ratio {ratio:.1f})",
            try_next="set the memory size before each invoke, and read Duration from that "
            "invoke's own REPORT line",
        )
    check_choice(script, module, *MADE_UP)
    deadline = durations[512] * 1.1
    fastest_enough = min(m for m, d in durations.items() if d <= deadline)
    check_choice(script, module, durations, [(deadline, fastest_enough)])
    return passed(
        "More memory, more CPU: you measured it and picked the cheapest fast-enough size.",
        "Duration: " + ", ".join(f"{m} MB {d:.0f} ms" for m, d in durations.items()),
        f"128 MB was {ratio:.1f}x slower than 1769 MB (Lambda's ratio: 1769/128 = 13.8)",
        f"the smallest size within {deadline:.0f} ms: {fastest_enough} MB",
    )


def measured(script: Path, module) -> dict[int, float]:
    """Run the learner's measure() on a CPU-bound function in the limited sandbox."""
    with tempfile.TemporaryDirectory() as tmp, fresh_lab() as lab:
        (Path(tmp) / "app.py").write_text(APP)
        name = unique_name("crunch")
        deploy(lab, name, Path(tmp), "app.handler", timeout=60, sandbox="limited")
        durations = call_learner(
            script, module.measure, lab, name, list(SIZES),
            what="measure(lab, name, [128, 512, 1769])",
        )
        sizes = [lab.get_function_configuration(name).memory_size]
    if not isinstance(durations, dict) or sorted(durations) != SIZES:
        raise CheckFailed(
            "measure() did not return a duration for each memory size.",
            expected="{128: ..., 512: ..., 1769: ...} (milliseconds)",
            got=show(durations),
            try_next="put durations[memory_size] = duration_ms(result.log_tail) in the loop",
        )
    if not all(isinstance(d, (int, float)) and d > 0 for d in durations.values()):
        raise CheckFailed(
            "measure() returned durations that are not positive numbers.",
            expected="milliseconds, e.g. {128: 812.5, 512: 210.3, 1769: 60.1}",
            got=show(durations),
            try_next="finish duration_ms(): the number after 'Duration: ' in the REPORT line",
        )
    if sizes != [SIZES[-1]]:
        raise CheckFailed(
            "measure() did not change the function's memory size.",
            expected=f"the function left at {SIZES[-1]} MB, the last size measured",
            got=f"{sizes[0]} MB",
            try_next="lab.update_function_configuration(name, memory_size=memory_size) "
            "before each invoke",
        )
    return durations


def check_choice(script: Path, module, durations: dict, cases: list) -> None:
    for deadline, wanted in cases:
        got = call_learner(
            script, module.smallest_within, dict(durations), deadline,
            what=f"smallest_within(durations, {deadline:.0f})",
        )
        if got != wanted:
            raise CheckFailed(
                "smallest_within() picked the wrong memory size.",
                expected=f"{show(wanted)} for durations {show(durations)} and a deadline "
                f"of {deadline:.0f} ms",
                got=show(got),
                try_next="go through sorted(durations) from small to large and return the "
                "first size whose duration is <= the deadline; None if there is none",
            )
