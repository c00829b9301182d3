"""Check for lab 14: the learner measures a CPU-bound function at several memory sizes
(the cost plugin records each invoke) and picks the size whose month costs least among
those that meet a latency target.

choose() runs first on made-up measurements with known answers, built so that the
plausible wrong answers differ from the right one: the smallest size that meets the
target, the fastest size, the cheapest size ignoring the target, and the cheapest after
the free tier (where every size is free). Then measure() runs on a real function in the
limited sandbox; what it measured is read back from the cost ledger, and choose() must
agree with the check on those measurements. No wall-clock duration is asserted: the
target is set from the learner's own 512 MB measurement.
"""

import math
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
    require_functions,
    show,
    unique_name,
)
from lambdalab_cost import Measured, costs, project

#: About 45 ms of CPU at one vCPU: long enough to run at its share, not on saved-up credit.
APP = '''def handler(event, context):
    return sum(i * i for i in range(1_000_000))
'''
SIZES = [128, 512, 1024, 1769]
#: A month's invokes for the real measurements.
INVOKES = 5_000_000
#: choose() on made-up warm durations: (durations, invokes a month, [(target, answer)]).
#: GB-seconds per invoke: 128 MB 0.2375, 256 MB 0.12, 512 MB 0.075, 1,024 MB 0.08,
#: 1,769 MB 0.0812: more memory is cheaper up to 512 MB, then a little dearer.
CPU_BOUND = {128: 1900.0, 256: 480.0, 512: 150.0, 1024: 80.0, 1769: 47.0}
MADE_UP = (
    (CPU_BOUND, 50_000_000, [(500, 512), (2000, 512), (100, 1024), (40, None)]),
    # work that waits (on I/O) does not speed up: the smallest size is the cheapest
    ({128: 300.0, 512: 290.0, 1769: 285.0}, 50_000_000, [(1000, 128)]),
    # a tie in cost (128 x 400 = 256 x 200): the smaller size
    ({128: 400.0, 256: 200.0, 1024: 60.0}, 50_000_000, [(500, 128)]),
    # within the free tier every size costs $0 after it; the price still differs
    (CPU_BOUND, 100_000, [(500, 512)]),
)


def check(workdir: Path):
    script = require_file(workdir, "choose.py")
    module = load_learner_module(script)
    require_functions(script, module, ("measure", "choose"))
    for durations, invokes, cases in MADE_UP:
        projections = [project(made_up(m, d), invokes) for m, d in durations.items()]
        for target, wanted in cases:
            expect_choice(script, module, projections, target, wanted)
    projections = measured(script, module)
    by_size = {p.measured.memory_mb: p for p in projections}
    target = by_size[512].measured.average_duration_ms * 1.1
    best = cheapest(projections, target)
    expect_choice(script, module, projections, target, best)
    smallest = min(m for m, p in by_size.items() if p.measured.average_duration_ms <= target)
    compared = (
        f"; the smallest fast-enough size, {smallest} MB, would cost "
        f"${by_size[smallest].cost.total_usd:,.2f} a month" if smallest != best else ""
    )
    return passed(
        "You measured the function and picked the memory size whose month costs least.",
        *(f"{m:>5} MB: {p.measured.average_duration_ms:7.1f} ms warm, "
          f"{INVOKES:,} invokes a month ${p.cost.total_usd:,.2f}" for m, p in by_size.items()),
        f"within {target:.0f} ms the cheapest is {best} MB{compared}",
        "lambdalab cost FUNCTION --invokes N shows the same table for your own functions",
    )


def made_up(memory_mb: int, duration_ms: float) -> Measured:
    return Measured(memory_mb, "x86_64", 512, 3, 1, duration_ms, math.ceil(duration_ms))


def cheapest(projections: list, target_ms: float):
    fast_enough = [p for p in projections if p.measured.average_duration_ms <= target_ms]
    if not fast_enough:
        return None
    return min(fast_enough, key=lambda p: (p.cost.total_usd, p.measured.memory_mb)).measured.memory_mb


def measured(script: Path, module) -> list:
    """Run the learner's measure() on a CPU-bound function; read the ledger back."""
    with tempfile.TemporaryDirectory() as tmp, fresh_lab() as lab:
        (Path(tmp) / "app.py").write_text(APP)
        name = unique_name("crunch")
        deploy(lab, name, Path(tmp), "app.handler", timeout=60, sandbox="limited")
        call_learner(script, module.measure, lab, name, list(SIZES),
                     what=f"measure(lab, name, {SIZES})")
        found = {m.memory_mb: m for m in costs(lab).measured(name)}
        for memory_size in SIZES:
            expect_warm_at(memory_size, found.get(memory_size), sorted(found))
        return costs(lab).projection(name, INVOKES)


def expect_warm_at(memory_size: int, found, sizes: list) -> None:
    if found is None:
        raise CheckFailed(
            f"No invoke ran at {memory_size} MB.",
            expected=f"invokes at each of {', '.join(map(str, SIZES))} MB",
            got="invokes at " + (", ".join(map(str, sizes)) or "no size") + " MB only",
            try_next="lab.update_function_configuration(name, memory_size=memory_size) "
            "before the invokes at that size: an invoke runs at the memory set when it starts",
        )
    if found.cold_starts == found.invokes:
        raise CheckFailed(
            f"Every invoke at {memory_size} MB was a cold start.",
            expected=f"at least one warm invoke at {memory_size} MB",
            got=f"{found.invokes} invoke(s), all cold: their billed duration includes INIT",
            try_next="invoke at least twice at each size: a change of memory starts a new "
            "environment, and a month of invokes is mostly warm ones",
        )


def expect_choice(script: Path, module, projections: list, target: float, wanted) -> None:
    got = call_learner(
        script, module.choose, list(projections), target,
        what=f"choose(projections, {target:.0f})",
    )
    if got == wanted:
        return
    durations = {p.measured.memory_mb: round(p.measured.average_duration_ms, 1) for p in projections}
    raise CheckFailed(
        "choose() picked the wrong memory size.",
        expected=f"{show(wanted)} for durations {show(durations)} (ms) and a target of "
        f"{target:.0f} ms, at {projections[0].invokes_per_month:,} invokes a month",
        got=show(got),
        try_next=advice(projections, target, got, wanted),
    )


def advice(projections: list, target: float, got, wanted) -> str:
    by_size = {p.measured.memory_mb: p for p in projections}
    fast_enough = [p for p in projections if p.measured.average_duration_ms <= target]
    if wanted is None:
        return "no size meets this target: return None"
    if got not in by_size:
        return "return a memory size (an int, e.g. 512) taken from p.measured.memory_mb"
    if by_size[got].measured.average_duration_ms > target:
        return (f"{got} MB takes {by_size[got].measured.average_duration_ms:.0f} ms, over the "
                "target: consider only sizes whose average duration is <= the target")
    fastest = min(fast_enough, key=lambda p: p.measured.average_duration_ms).measured.memory_mb
    smallest = min(p.measured.memory_mb for p in fast_enough)
    if all(p.cost.after_free_tier_usd == 0 for p in fast_enough):
        return ("here every size fits in the free tier, so each costs $0 after it; the "
                "free tier is the whole account's, shared by all its functions: compare "
                "p.cost.total_usd, the price before it")
    if got == fastest:
        return (f"{got} MB is the fastest, but not the cheapest: past the point where the "
                "duration stops falling as fast as the memory grows, more memory costs more")
    if got == smallest:
        return (f"{got} MB is the smallest size that meets the target, but not the cheapest: "
                "Lambda bills memory x duration (GB-seconds), and more memory can finish so "
                "much sooner that it costs less. Compare p.cost.total_usd")
    tied = [p for p in fast_enough if p.cost.total_usd == by_size[got].cost.total_usd]
    if len(tied) > 1:
        return "two sizes cost the same here: return the smaller one"
    return ("among the sizes whose average duration is <= the target, return the one "
            "whose p.cost.total_usd is least")
