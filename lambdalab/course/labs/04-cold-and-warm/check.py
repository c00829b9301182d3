"""Check for lab 4: setup runs at INIT, and a module-level counter survives a warm invoke."""

from pathlib import Path

from lambdalab.labs import (
    CheckFailed,
    deploy,
    expect_equal,
    expect_success,
    fresh_lab,
    invoke,
    passed,
    report_of,
    require_file,
    unique_name,
)

#: load_model() sleeps 400 ms; INIT must include it, an invoke must not. Load only makes
#: a run longer, so these are a lower bound on INIT and, for an invoke, a bound relative
#: to the INIT measured in the same run (a busy machine slows both).
MIN_INIT_MS = 350
MAX_INVOKE_PART_OF_INIT = 0.5


def check(workdir: Path):
    require_file(workdir, "app.py")
    with fresh_lab() as lab:
        name = unique_name("model")
        deploy(lab, name, workdir, "app.handler", timeout=5)
        cold = invoke(lab, name, {})
        cold_answer = expect_success(cold, "on its first (cold) invoke")
        warm = invoke(lab, name, {})
        warm_answer = expect_success(warm, "on its second (warm) invoke")
    cold_report, warm_report = report_of(cold), report_of(warm)
    init_ms = cold_report.get("Init Duration", 0.0)
    max_invoke_ms = max(init_ms, MIN_INIT_MS) * MAX_INVOKE_PART_OF_INIT
    if init_ms >= MIN_INIT_MS and cold_report["Duration"] > max_invoke_ms:
        raise CheckFailed(
            "The model is loaded during INIT, and again in the handler.",
            expected=f"Duration < {max_invoke_ms:.0f} ms on the cold start (half the INIT)",
            got=f"Init Duration {init_ms:.0f} ms, Duration {cold_report['Duration']:.0f} ms",
            try_next="do not call load_model() in the handler; use the module-level MODEL",
            output=cold.log_tail,
        )
    if init_ms < MIN_INIT_MS or cold_report["Duration"] > max_invoke_ms:
        raise CheckFailed(
            "The model is not loaded during INIT.",
            expected=f"Init Duration >= {MIN_INIT_MS} ms (the model loads at INIT) and "
            f"Duration < {max_invoke_ms:.0f} ms on the cold start",
            got=f"Init Duration {init_ms:.0f} ms, Duration {cold_report['Duration']:.0f} ms",
            try_next="call load_model() at module level (MODEL = load_model()) and use "
            "MODEL in the handler",
            output=cold.log_tail,
        )
    if "Init Duration" in warm_report:
        raise CheckFailed(
            "The second invoke was a cold start too.",
            expected="the second invoke to reuse the warm environment",
            got=f"a new INIT ({warm_report['Init Duration']:.0f} ms)",
            try_next="report this as a bug in lambdalab: warm environments should be reused",
        )
    if warm_report["Duration"] > max_invoke_ms:
        raise CheckFailed(
            "The warm invoke still does the expensive work.",
            expected=f"Duration < {max_invoke_ms:.0f} ms on the warm invoke (half the INIT)",
            got=f"Duration {warm_report['Duration']:.0f} ms",
            try_next="do not call load_model() in the handler; use the module-level MODEL",
            output=warm.log_tail,
        )
    expect_equal(cold_answer, {"answer": 42, "invocations": 1}, "answer on the cold start",
                 try_next="start the counter at 0 at module level and add 1 in the handler")
    expect_equal(
        warm_answer,
        {"answer": 42, "invocations": 2},
        "answer on the warm invoke",
        try_next="keep the counter in a module-level variable (with `global` in the "
        "handler); a local variable starts again on every invoke",
    )
    return passed(
        "Expensive setup runs once at INIT; warm invokes reuse it.",
        f"cold: Init Duration {init_ms:.0f} ms, Duration {cold_report['Duration']:.1f} ms",
        f"warm: no INIT, Duration {warm_report['Duration']:.1f} ms, counter reached 2",
    )
