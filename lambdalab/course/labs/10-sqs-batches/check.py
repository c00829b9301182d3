"""Check for lab 10: good orders once, bad orders reported and dead-lettered after 3 tries."""

import json
import re
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
    unique_name,
)

GOOD = [{"order": n, "quantity": 1 + n % 3} for n in range(1, 11)]
BAD = ["{not json", json.dumps({"order": 99, "quantity": -5})]


def processed(lab, name):
    found = []
    for event in lab.get_logs(name):
        match = re.search(r"PROCESSED order (\d+)", event.message)
        if match:
            found.append(int(match.group(1)))
    return found


def settle(sqs):
    if not sqs.mappings.wait_idle(timeout=60):
        raise CheckFailed(
            "The queue's poller did not finish within a minute.",
            expected="each batch to be handled in well under a second",
            got="still busy after 60 s",
            try_next="make sure the handler returns (no endless loop)",
        )


def dead_letter_advice(left) -> str:
    """Still in the queue: the RedrivePolicy is off. Gone: the handler never reported them."""
    values = left.values() if isinstance(left, dict) else [left]
    if not any(isinstance(v, int) and v > 0 for v in values):
        return "the bad orders left the queue as if they had succeeded: a record you " \
            "catch and do not report in batchItemFailures is deleted. Report its messageId"
    return "the bad orders are still in the queue: a RedrivePolicy with maxReceiveCount 3 " \
        "moves a message to the DLQ after its third receive"


def check(workdir: Path):
    script = require_file(workdir, "worker.py")
    module = load_learner_module(script)
    from lambdalab_sqs import sqs_of

    clock = VirtualClock()
    with fresh_lab(clock=clock) as lab:
        sqs = sqs_of(lab)
        name, queue, dlq = unique_name("orders"), unique_name("orders"), unique_name("orders-dlq")
        deploy(lab, name, workdir, "worker.handler")
        sqs.queues.create_queue(queue)
        sqs.queues.create_queue(dlq)
        call_learner(script, module.configure, lab, name, queue, sqs.queues.arn(dlq),
                     what="configure(lab, function_name, queue_name, dlq_arn)")
        mappings = lab.list_event_source_mappings(function_name=name)
        if len(mappings) != 1:
            raise CheckFailed(
                "configure() did not map the queue to the function.",
                expected="one event source mapping for the function",
                got=f"{len(mappings)} mappings",
                try_next="lab.create_event_source_mapping(function_name, event_source_arn=queues.arn(queue_name), ...)",
            )
        mapping = mappings[0]
        if mapping.batch_size != 10 or "ReportBatchItemFailures" not in mapping.function_response_types:
            raise CheckFailed(
                "The mapping does not let the function report single failures.",
                expected='batch_size=10, function_response_types=["ReportBatchItemFailures"]',
                got=f"batch_size={mapping.batch_size}, "
                    f"function_response_types={list(mapping.function_response_types)}",
                try_next="pass both settings to create_event_source_mapping",
            )
        for body in [json.dumps(order) for order in GOOD[:5]] + BAD + [
                json.dumps(order) for order in GOOD[5:]]:
            sqs.queues.send_message(queue, body)
        settle(sqs)
        first_pass = sorted(processed(lab, name))
        for _ in range(3):  # the visibility timeout, three times over
            clock.advance(30)
            settle(sqs)
        done = sorted(processed(lab, name))
        wanted = [order["order"] for order in GOOD]
        if done != wanted:
            raise CheckFailed(
                "The good orders were not processed exactly once each.",
                expected=f"orders {wanted}, once each",
                got=f"{done} (after the first batch: {first_pass})",
                try_next="a bad record must not make the handler raise: catch it and report "
                         "its messageId in batchItemFailures",
            )
        dead = sorted(m.body for m in sqs.queues.receive_message(dlq, max_number_of_messages=10))
        if dead != sorted(BAD):
            left = sqs.queues.counts(queue)
            raise CheckFailed(
                "The bad orders are not in the dead-letter queue.",
                expected=f"{sorted(BAD)} in the DLQ after 3 receives",
                got=f"{dead}; still in the queue: {left}",
                try_next=dead_letter_advice(left),
            )
    return passed(
        "Good orders once, bad orders dead-lettered.",
        f"{len(wanted)} good orders processed once each, in batches of up to 10",
        "2 bad orders reported in batchItemFailures, retried, then moved to the DLQ",
    )
