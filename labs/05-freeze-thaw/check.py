"""Check for lab 5: work done "in the background" does not happen between invokes,
because Lambda freezes the environment when the handler returns.

The function runs in the ``limited`` sandbox, which freezes environments as Lambda does;
the check reads the audit log as soon as each invoke is back.
"""

import json
import tempfile
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
    show,
    unique_name,
)

ORDERS = [1, 2, 3]


def check(workdir: Path):
    require_file(workdir, "app.py")
    with tempfile.TemporaryDirectory() as tmp, fresh_lab() as lab:
        audit = Path(tmp) / "audit.jsonl"
        name = unique_name("orders")
        deploy(lab, name, workdir, "app.handler", sandbox="limited", timeout=5,
               environment={"AUDIT_LOG": str(audit)})
        inits = 0
        for order in ORDERS:
            result = invoke(lab, name, {"order": order})
            expect_success(result, f"on order {order}")
            inits += "Init Duration" in report_of(result)
            logged = audited(audit)
            if logged != ORDERS[:order]:
                raise CheckFailed(
                    f"Order {order} was accepted but is not in the audit log.",
                    expected=f"the audit log to hold orders {show(ORDERS[:order])} when "
                    f"invoke {order} returns",
                    got=f"orders {show(logged)}",
                    try_next="the environment is frozen as soon as the handler returns, so "
                    "a background thread cannot finish the job: call flush() in the "
                    "handler, before return",
                    output=result.log_tail,
                )
    if inits != 1:
        raise CheckFailed(
            "The invokes did not reuse one warm environment.",
            expected="one cold start, then warm invokes",
            got=f"{inits} cold starts",
            try_next="report this as a bug in lambdalab",
        )
    return passed(
        "Every order is in the audit log before its invoke returns.",
        f"{len(ORDERS)} invokes of one warm environment; after each, the audit log held "
        "every order so far",
        "between invokes the environment was frozen: nothing ran until the next invoke",
    )


def audited(path: Path) -> list:
    if not path.exists():
        return []
    return [json.loads(line)["order"] for line in path.read_text().splitlines() if line]
