"""Check for lab 13: a backend plugin that runs handlers on threads, through the real core."""

import contextlib
import functools
import tempfile
from pathlib import Path

from lambdalab.labs import (
    CheckFailed,
    call_learner,
    deploy,
    expect_success,
    fresh_lab,
    load_learner_module,
    passed,
    require_file,
    show,
    unique_name,
)

COUNTER = '''COUNT = 0


def handler(event, context):
    global COUNT
    COUNT += 1
    if event.get("fail"):
        raise ValueError("asked to fail")
    return {"count": COUNT, "name": context.function_name, "echo": event}
'''
ADVICE = {
    "NotImplementedError": "write ThreadEnvironment.invoke: call self.handler(event, context) "
    "and return lambdalab.InvokeOutcome(\"ok\", json.dumps(result).encode(), duration_ms)",
    "TypeError": "INIT must keep the handler: self.handler = load_handler(spec)",
}


def check(workdir: Path):
    script = require_file(workdir, "threads.py")
    plugin = load_learner_module(script)
    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as stack:
        lab = stack.enter_context(fresh_lab(plugins=[plugin], default_sandbox="threads"))
        expect_the_hook(lab, plugin)
        (Path(tmp) / "app.py").write_text(COUNTER)
        first, second = unique_name("threaded"), unique_name("other")
        deploy(lab, first, Path(tmp), "app.handler")
        deploy(lab, second, Path(tmp), "app.handler")

        cold = run(script, lab, first, {"n": 1})
        warm = run(script, lab, first, {"n": 2})
        wanted = [{"count": 1, "name": first, "echo": {"n": 1}}, {"count": 2, "name": first, "echo": {"n": 2}}]
        got = [expect_success(r, f"invoking {first}") for r in (cold, warm)]
        if got != wanted:
            raise CheckFailed(
                "Two invokes did not share one warm environment.",
                expected=show(wanted),
                got=show(got),
                try_next="import the handler once, in ThreadEnvironment.__init__ (INIT), "
                "and call that same self.handler in every invoke",
            )
        if "Init Duration" not in cold.log_tail or "Init Duration" in warm.log_tail:
            raise CheckFailed(
                "The REPORT lines do not show one cold start then a warm invoke.",
                expected="Init Duration on the first REPORT only",
                got=cold.log_tail + warm.log_tail,
                try_next="keep self.init = lambdalab.InitOutcome(...) as the starter sets it",
            )
        other = expect_success(run(script, lab, second, {}), f"invoking {second}")
        if other.get("count") != 1:
            raise CheckFailed(
                "Two functions shared one module's globals.",
                expected=f"{second}'s own counter to start at 1",
                got=show(other),
                try_next="load the handler with load_handler(spec): it gives each environment "
                "its own module",
            )
        failed = run(script, lab, first, {"fail": True})
        error = failed.json() if failed.payload else None
        if failed.function_error != "Unhandled" or not isinstance(error, dict) or error.get("errorType") != "ValueError":
            raise CheckFailed(
                "A handler exception did not come back as Lambda reports it.",
                expected='FunctionError "Unhandled" and a payload with errorType "ValueError" '
                'and errorMessage "asked to fail"',
                got=f"FunctionError {failed.function_error!r}, payload {show(error)}",
                try_next='catch the exception in invoke and return lambdalab.InvokeOutcome("error", '
                "json.dumps(error_object(exc)).encode(), duration_ms)",
            )
    return passed(
        "Your backend runs handlers through lambdalab's own core.",
        "lambdalab found your backend through the lambdalab_sandbox_backends hook",
        "INIT ran once: the second invoke was warm and its counter reached 2",
        "each function got its own environment",
        "a handler exception came back as FunctionError Unhandled with errorType ValueError",
    )


def run(script: Path, lab, name: str, event):
    return call_learner(
        script,
        functools.partial(lab.invoke, log_type="Tail"),
        name,
        event,
        what=f"Invoking {name} through your backend",
        advice=ADVICE,
    )


def expect_the_hook(lab, plugin) -> None:
    hooks = sorted(caller.name for caller in lab.plugin_manager.get_hookcallers(plugin) or ())
    if "lambdalab_sandbox_backends" not in hooks:
        raise CheckFailed(
            "lambdalab does not know your backend.",
            expected="lambdalab_sandbox_backends among the hooks your plugin implements",
            got=f"hooks: {', '.join(hooks)}" if hooks else "no hooks: to lambdalab it is a plain function",
            try_next="put @lambdalab.hookimpl on the line above def lambdalab_sandbox_backends():",
        )
