"""Check for lab 2: one retry on the clock, then the failure record at the audit function."""

import json
import tempfile
from pathlib import Path

from lambdalab import VirtualClock
from lambdalab.labs import (
    CheckFailed,
    call_learner,
    deploy,
    fresh_lab,
    load_learner_module,
    passed,
    require_file,
    require_functions,
    unique_name,
)

PAYMENTS = '''def handler(event, context):
    raise ConnectionError("payment provider unavailable")
'''
AUDIT = '''import json


def handler(event, context):
    print("AUDIT " + json.dumps(event))
'''


def starts(lab, name):
    return [e.message.split()[2] for e in lab.get_logs(name) if e.message.startswith("START")]


def audit_records(lab, name):
    return [
        json.loads(e.message[len("AUDIT "):])
        for e in lab.get_logs(name)
        if e.message.startswith("AUDIT ")
    ]


def retry_advice(attempts: int) -> str:
    if attempts > 2:
        return f"{attempts} attempts is Lambda's default: 2 retries. Retries are set " \
            "in the function's event invoke configuration, not on the function"
    if attempts == 1:
        return "no retry at all: a flaky provider deserves one more try. How many " \
            "retries Lambda makes is maximum_retry_attempts (0 means none)"
    return "read how many retries your configuration asks for"


def destination_advice(lab, name: str) -> str:
    try:
        config = lab.get_function_event_invoke_config(name)
    except Exception:  # no configuration at all
        config = None
    if config is not None and config.on_success and not config.on_failure:
        return "an OnSuccess destination gets the events that succeeded; a failed " \
            "event whose retries are exhausted goes to the OnFailure destination"
    return "a failed event is recorded where the configuration's OnFailure destination " \
        "points: give it audit_arn"


def check(workdir: Path):
    script = require_file(workdir, "deploy.py")
    module = load_learner_module(script)
    require_functions(script, module, ("configure(lab, name, audit_arn)",),
                      try_next="restore it from the starter and fill in its TODO")
    clock = VirtualClock()
    with tempfile.TemporaryDirectory() as tmp, fresh_lab(clock=clock) as lab:
        for folder, source in (("payments", PAYMENTS), ("audit", AUDIT)):
            (Path(tmp) / folder).mkdir()
            (Path(tmp) / folder / "app.py").write_text(source)
        name, audit = unique_name("payments"), unique_name("audit")
        deploy(lab, name, Path(tmp) / "payments", "app.handler")
        deploy(lab, audit, Path(tmp) / "audit", "app.handler")
        call_learner(
            script, module.configure, lab, name, lab.arns.function(audit),
            what="configure(lab, name, audit_arn)",
        )
        request_id = lab.invoke(name, {"order": 42}, invocation_type="Event").request_id
        lab.wait_for_events(timeout=60)
        clock.advance(60)
        lab.wait_for_events(timeout=60)
        attempts = len(starts(lab, name))
        clock.advance(120)
        lab.wait_for_events(timeout=60)
        attempts_later = len(starts(lab, name))
        if attempts_later != 2:
            raise CheckFailed(
                "The failing event did not run exactly twice.",
                expected="2 attempts: the first, and one retry a minute later",
                got=f"{attempts_later} attempt{'s' * (attempts_later != 1)} in 3 minutes "
                f"({attempts} after 1 minute)",
                try_next=retry_advice(attempts_later),
            )
        records = audit_records(lab, audit)
        if len(records) != 1:
            raise CheckFailed(
                "The audit function did not receive the failed event.",
                expected="one invocation record at the audit function",
                got=f"{len(records)} records",
                try_next=destination_advice(lab, name),
            )
        context = records[0]["requestContext"]
        if (context["requestId"], context["condition"]) != (request_id, "RetriesExhausted"):
            raise CheckFailed(
                "The audit record is not about this event's exhausted retries.",
                expected=f"requestId {request_id}, condition RetriesExhausted",
                got=f"requestId {context['requestId']}, condition {context['condition']}",
                try_next="send failures (OnFailure), not successes, to the audit function",
            )
    return passed(
        "One retry, then the failure was recorded.",
        f"attempt 1 and a retry 60 s later with the same request id {request_id}",
        f"the audit function got the record: {context['condition']} after "
        f"{context['approximateInvokeCount']} attempts",
    )
