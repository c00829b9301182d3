"""Check for lab 5: work done "in the background" does not happen between invokes,
because Lambda freezes the environment when the handler returns.

The function runs in the ``limited`` sandbox, which freezes environments as Lambda does.
The learner's handler runs under a probe (:data:`PROBE`) that makes the worst case of
the scheduler the only case: a thread the handler starts and does not wait for gets no
CPU before the handler returns, so a race is lost every time, not now and then. The
probe also proves the freeze: its own ticker must write nothing between invokes.
"""

import ast
import json
import shutil
import time
from pathlib import Path

from lambdalab.labs import (
    CheckFailed,
    deploy,
    expect_success,
    fresh_lab,
    invoke,
    passed,
    report_of,
    require_file,
    shared_folder,
    show,
    unique_name,
)

ORDERS = [1, 2, 3]
#: How long the check leaves the environment frozen between invokes, and how long after
#: an invoke's answer the freeze may take to land (the runtime freezes itself once its
#: answer is written).
FROZEN_S = 0.4
FREEZE_GRACE_S = 0.15
PROBE = r'''"""The check's probe for lab 5 (not the learner's code): deployed beside ``app.py`` as
the handler ``_lab5_probe.handler``.

It runs the learner's handler under the worst scheduling Lambda allows, so that a race
loses every time instead of now and then:

* a thread the learner's code starts (at INIT or in the handler) makes no progress
  until the handler returns, unless the handler waits for it (``join``) or has waited a
  whole second; on Lambda nothing promises such a thread any CPU before the freeze;
* right after the handler returns, still inside the invoke, it reads the audit log: what
  is not there yet is what a frozen environment would lose;
* a ticker thread of its own writes the time every 10 ms to ``PROBE_TICKS``, so the
  check can see that nothing ran while the environment was frozen between invokes.
"""

import json
import os
import threading
import time

GATE_TIMEOUT_S = 1.0
TICK_S = 0.01
_real_start = threading.Thread.start
_real_join = threading.Thread.join
_gate = threading.Event()
_learner = threading.local()


def _start(self):
    if getattr(_learner, "active", False):
        run = self.run

        def gated():
            _gate.wait(GATE_TIMEOUT_S)
            run()

        self.run = gated
    return _real_start(self)


def _join(self, timeout=None):
    _gate.set()  # the handler waits for its thread: that thread may run now
    return _real_join(self, timeout)


threading.Thread.start = _start
threading.Thread.join = _join


def _tick():
    with open(os.environ["PROBE_TICKS"], "a") as ticks:
        while True:
            ticks.write(f"{time.time():.6f}\n")
            ticks.flush()
            time.sleep(TICK_S)


_real_start(threading.Thread(target=_tick, daemon=True))

_learner.active = True
try:
    import app  # the learner's INIT
finally:
    _learner.active = False


def _audited():
    try:
        with open(os.environ["AUDIT_LOG"]) as log:
            return [json.loads(line)["order"] for line in log if line.strip()]
    except FileNotFoundError:
        return []


def handler(event, context):
    _gate.clear()
    _learner.active = True
    try:
        answer = app.handler(event, context)
    finally:
        _learner.active = False
    logged = _audited()  # before the invoke ends: what a freeze now would keep
    _gate.set()
    return {"answer": answer, "logged_at_return": logged}
'''


def check(workdir: Path):
    require_file(workdir, "app.py")
    with shared_folder() as tmp, fresh_lab() as lab:
        code = Path(tmp) / "code"
        shutil.copytree(workdir, code, ignore=shutil.ignore_patterns("__pycache__", ".*"))
        (code / "_lab5_probe.py").write_text(PROBE)
        audit, ticks = Path(tmp) / "audit.jsonl", Path(tmp) / "ticks.txt"
        name = unique_name("orders")
        deploy(lab, name, code, "_lab5_probe.handler", sandbox="limited", timeout=5,
               memory_size=512, environment={"AUDIT_LOG": str(audit), "PROBE_TICKS": str(ticks)})
        inits, frozen = 0, []
        for order in ORDERS:
            if frozen:
                time.sleep(FROZEN_S)  # real time: freezing is about the real clock
                frozen[-1] = (frozen[-1][0], time.time())
            result = invoke(lab, name, {"order": order})
            reply = expect_success(result, f"on order {order}")
            answer = reply.get("answer") if isinstance(reply, dict) else None
            if answer != {"accepted": order}:
                raise CheckFailed(
                    f"The handler's answer to order {order} changed.",
                    expected=show({"accepted": order}),
                    got=show(answer),
                    try_next="keep the handler's return statement as the starter has it",
                )
            frozen.append((time.time(), None))
            inits += "Init Duration" in report_of(result)
            wanted = ORDERS[:order]
            if reply["logged_at_return"] != wanted or audited(audit) != wanted:
                raise CheckFailed(
                    f"Order {order} was accepted but was not in the audit log when the "
                    "handler returned.",
                    expected=f"the audit log to hold orders {show(wanted)} when invoke "
                    f"{order} returns",
                    got=f"orders {show(reply['logged_at_return'])}",
                    try_next=missing_advice(workdir),
                    output=result.log_tail,
                )
        ran_while_frozen = ticks_between(ticks, frozen[:-1])
    if inits != 1:
        raise CheckFailed(
            "The invokes did not reuse one warm environment.",
            expected="one cold start, then warm invokes",
            got=f"{inits} cold starts",
            try_next="report this as a bug in lambdalab",
        )
    if ran_while_frozen:
        raise CheckFailed(
            "A thread ran between invokes: the environment was not frozen.",
            expected="no progress at all while no invoke runs",
            got=f"{ran_while_frozen} ticks of a background thread while frozen",
            try_next="report this as a bug in lambdalab's limited sandbox",
        )
    return passed(
        "Every order is in the audit log before its invoke returns.",
        f"{len(ORDERS)} invokes of one warm environment; when each handler returned, the "
        "audit log already held every order so far",
        f"between invokes ({FROZEN_S:g} s each) the environment was frozen: a background "
        "thread that ticks every 10 ms did not tick once",
    )


def missing_advice(workdir: Path) -> str:
    """What to try when the record was not there at return: name the learner's mistake
    from what the handler calls, in order (the outcome of a race cannot say it)."""
    calls = handler_calls(workdir / "app.py")
    if any(c in ("Thread", "Timer", "submit") for c in calls):
        return "a thread started in the handler races the freeze: nothing gives it CPU " \
            "before the handler returns, and then the environment is frozen. Call " \
            "flush() in the handler itself, before return"
    if "flush" in calls and "append" in calls and calls.index("flush") < calls.index("append"):
        return "the handler flushes before it adds this order's record: call " \
            "flush() after PENDING.append, before return"
    return "the environment is frozen as soon as the handler returns, so a background " \
        "thread cannot finish the job: write the record before return"


def handler_calls(path: Path) -> list:
    """The names the handler calls (``flush``, ``append``, ``Thread``…), in source order."""
    try:
        tree = ast.parse(path.read_text(errors="replace"))
    except SyntaxError:
        return []
    handler = next((node for node in tree.body
                    if isinstance(node, ast.FunctionDef) and node.name == "handler"), None)
    if handler is None:
        return []
    calls = [node for node in ast.walk(handler) if isinstance(node, ast.Call)]
    calls.sort(key=lambda node: (node.lineno, node.col_offset))
    return [getattr(node.func, "attr", getattr(node.func, "id", "")) for node in calls]


def audited(path: Path) -> list:
    if not path.exists():
        return []
    return [json.loads(line)["order"] for line in path.read_text().splitlines() if line]


def ticks_between(path: Path, spans: list) -> int:
    """Ticks written while frozen: later than an answer (plus the grace) and before the
    next invoke was sent."""
    stamps = [float(line) for line in path.read_text().split() if line] if path.exists() else []
    return sum(1 for t in stamps for start, end in spans if start + FREEZE_GRACE_S < t < end)
