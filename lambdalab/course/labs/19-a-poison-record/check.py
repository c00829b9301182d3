"""Check for lab 19: a record the function cannot process no longer blocks its shard,
every good record is processed, and the bad one is described to an OnFailure queue.

A stream of two shards gets ORDERS_EACH orders in each; one order of the first shard
lacks its quantity, so the learner's handler fails on it. A failing batch is retried and
blocks its shard until it succeeds or is given up
(https://docs.aws.amazon.com/lambda/latest/dg/with-kinesis.html, *Error handling*); what is
given up goes to the OnFailure destination with its KinesisBatchInfo
(https://docs.aws.amazon.com/lambda/latest/dg/kinesis-on-failure-destination.html).

Judged by what happened, on a virtual clock: the orders the function printed as
processed, the [ERROR] lines of its log, and what the queue received. A mapping that
retries forever (MaximumRetryAttempts and MaximumRecordAgeInSeconds both -1, AWS's
defaults) is known to block, so its shard is watched only until the evidence is there.
"""

import json
import re
import time
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
from lambdalab_kinesis import kinesis_of
from lambdalab_sqs import sqs_of

ORDERS_EACH = 10
#: The partition keys of the two shards' orders (MD5 puts them in shards 0 and 1 of 2).
KEYS = ("customer-05", "customer-06")
#: The bad order: the fourth of the first shard.
POISON = 3
#: Lab seconds the check lets pass once the other shard is read: longer than any
#: MaximumRecordAgeInSeconds a learner would pick to let records expire.
MOVE_ON_S = 3600
#: Real seconds to wait for the mapping to settle, on a busy machine.
SETTLE_TIMEOUT_S = 60
#: Real seconds to wait for one more retry of a blocked batch (they come within 1 s).
RETRY_TIMEOUT_S = 10
#: Failed invokes of the blocked shard shown before calling it blocked.
BLOCKED_AFTER = 3


def orders() -> list[tuple[dict, str]]:
    """``(order, partition key)`` in the order they are put, shards interleaved."""
    out = []
    for n in range(ORDERS_EACH):
        for shard, key in enumerate(KEYS):
            order = {"id": f"o-{shard + 1}{n:02d}", "price": 5, "quantity": 1 + n % 3}
            if shard == 0 and n == POISON:
                del order["quantity"]
            out.append((order, key))
    return out


def check(workdir: Path):
    script = require_file(workdir, "mapping.py")
    require_file(workdir, "app.py")
    module = load_learner_module(script)
    require_functions(script, module, ("configure(lab, function_name, stream_arn, failures_arn)",))
    with fresh_lab(clock=VirtualClock()) as lab:
        streams, queues = kinesis_of(lab).streams, sqs_of(lab).queues
        name, stream, failures = unique_name("orders"), unique_name("orders"), unique_name("failed")
        deploy(lab, name, workdir, "app.handler", timeout=30)
        streams.create_stream(stream, len(KEYS))
        put = orders()
        sent = streams.put_records(stream, [(json.dumps(o).encode(), k, None) for o, k in put])
        poison = next(int(s["SequenceNumber"]) for (o, _), s in zip(put, sent) if "quantity" not in o)
        queues.create_queue(failures)
        call_learner(script, module.configure, lab, name, streams.arn(stream), queues.arn(failures),
                     what="configure(lab, function_name, stream_arn, failures_arn)")
        mapping = the_mapping(lab, name)
        if retries_forever(mapping):
            watch_it_block(lab, name, put, mapping)
        settle(lab, name, put, mapping)
        given_up = [json.loads(m.body) for m in queues.receive_now(failures, 10)]
        done, errors = processed(lab, name), failed_invokes(lab, name)
    judge(put, poison, mapping, done, errors, given_up)
    return passed(
        "The poison record no longer blocks its shard, and nothing is lost.",
        f"all {len(put) - 1} good orders processed, the other shard's without waiting for "
        "the bad one",
        f"the failures queue got {len(given_up)} description{'s' * (len(given_up) > 1)}: "
        + ", ".join(f"{g['KinesisBatchInfo']['batchSize']} record(s) from sequence number "
                    f"{g['KinesisBatchInfo']['startSequenceNumber']}" for g in given_up),
        "to read a given-up record: GetShardIterator AT_SEQUENCE_NUMBER "
        "startSequenceNumber, then GetRecords, within the stream's retention",
    )


def the_mapping(lab, name: str):
    mappings = lab.list_event_source_mappings(function_name=name)
    if len(mappings) != 1:
        raise CheckFailed(
            "configure() did not map the stream to the function.",
            expected="one event source mapping for the function",
            got=f"{len(mappings)} mappings",
            try_next="lab.create_event_source_mapping(function_name, event_source_arn=stream_arn, ...)")
    return mappings[0]


def retries_forever(mapping) -> bool:
    return mapping.maximum_retry_attempts == -1 and mapping.maximum_record_age_in_seconds == -1


def watch_it_block(lab, name: str, put: list, mapping) -> None:
    """Wait (bounded) until the other shard is read and the blocked one failed a few
    times; then fail, showing both."""
    other = {o["id"] for o, k in put if k == KEYS[1]}
    deadline = time.monotonic() + SETTLE_TIMEOUT_S
    while time.monotonic() < deadline:
        if other <= processed(lab, name) and failed_invokes(lab, name) >= BLOCKED_AFTER:
            break
        time.sleep(0.05)  # polls the function's log; no clock depends on it
    age = iterator_age_after(lab, name, MOVE_ON_S)
    done = processed(lab, name)
    behind = [o["id"] for o, k in put if k == KEYS[0] and o["id"] not in done]
    raise CheckFailed(
        "A poison record blocks its shard.",
        expected="every good order processed, the bad one given up and kept for later",
        got=f"the other shard processed {len(other & done)} of its {len(other)} orders; "
        f"this one is stuck behind order {behind[0]}, with {len(behind) - 1} good orders "
        f"waiting behind it, after {failed_invokes(lab, name)} failed invokes of the same "
        f"batch{' (split to the bad record alone)' if mapping.bisect_batch_on_function_error else ''}. "
        f"An hour later on the lab's clock it is still stuck: its IteratorAge "
        + (f"reached {age:,.0f} ms" if age else "only grows"),
        try_next="Lambda retries a failing batch of a stream until it succeeds or its records "
        "expire (MaximumRetryAttempts -1, the default: up to the stream's retention, a day "
        "by default), and reads nothing behind it in that shard meanwhile. Limit the retries, "
        "and say where what is given up goes")


def iterator_age_after(lab, name: str, seconds: int) -> float | None:
    """Let ``seconds`` of the lab's clock pass; the IteratorAge (ms, the largest
    published) once the blocked batch was retried again, or None if no retry came."""
    from lambdalab_cloudwatch import cloudwatch

    before = failed_invokes(lab, name)
    lab.clock.advance(seconds)
    deadline = time.monotonic() + RETRY_TIMEOUT_S
    while failed_invokes(lab, name) == before and time.monotonic() < deadline:
        time.sleep(0.05)  # polls the function's log; no clock depends on it
    now = lab.clock.now()
    points = cloudwatch(lab).statistics("AWS/Lambda", "IteratorAge", (("FunctionName", name),),
                                        now - seconds - 600, now + 60, 60, ["Maximum"], [])
    return max((p.values["Maximum"] for p in points), default=None)


def settle(lab, name: str, put: list, mapping) -> None:
    """Let the lab's clock pass (records may expire), and wait for the mapping to finish."""
    mappings = kinesis_of(lab).mappings
    if mappings.wait_idle(timeout=SETTLE_TIMEOUT_S / 2):
        return
    lab.clock.advance(MOVE_ON_S)
    if not mappings.wait_idle(timeout=SETTLE_TIMEOUT_S):
        raise CheckFailed(
            "A poison record blocks its shard.",
            expected=f"the shard to move on within {SETTLE_TIMEOUT_S} s",
            got=f"still retrying after {failed_invokes(lab, name)} failed invokes "
            f"(MaximumRetryAttempts {mapping.maximum_retry_attempts})",
            try_next="each retry of the batch holds up its shard: a few retries are enough to "
            "ride out a passing failure; a record that fails every time needs to be given up")


def processed(lab, name: str) -> set[str]:
    return {m.group(1) for e in lab.get_logs(name)
            for m in [re.match(r"PROCESSED (\S+)", e.message)] if m}


def failed_invokes(lab, name: str) -> int:
    return sum(e.message.startswith("[ERROR]") for e in lab.get_logs(name))


def judge(put: list, poison: int, mapping, done: set[str], errors: int, given_up: list) -> None:
    """CheckFailed for the first thing wrong, in the order a learner meets them."""
    ranges = [(int(g["KinesisBatchInfo"]["startSequenceNumber"]),
               int(g["KinesisBatchInfo"]["endSequenceNumber"])) for g in given_up]
    good = [o["id"] for o, _ in put if "quantity" in o]
    lost = [i for i in good if i not in done]
    reports = "ReportBatchItemFailures" in mapping.function_response_types
    if not done and not errors and not ranges:
        raise CheckFailed(
            "The function received none of the orders.",
            expected=f"the {len(put)} orders put before the mapping was created to reach the function",
            got=f"no invoke with an order (StartingPosition {mapping.starting_position})",
            try_next="StartingPosition TRIM_HORIZON reads each shard from its oldest record; "
            "LATEST reads only what is put after the mapping is created")
    if not any(start <= poison <= end for start, end in ranges):
        raise silently_lost(mapping, errors)
    if lost or any(start < poison for start, _ in ranges):
        raise given_up_with_good_records(lost, ranges, poison, reports)


def silently_lost(mapping, errors: int) -> CheckFailed:
    failure = "The bad order was lost without a trace."
    expected = "the bad order described in the failures queue, to be looked at later"
    if errors == 0:
        return CheckFailed(
            failure, expected=expected,
            got="your function never failed: it caught the error and returned, so Lambda "
            "counted the bad order as processed",
            try_next="an error you catch and do not report is a record lost silently: let "
            "the invoke fail (or report the record in batchItemFailures) so that Lambda "
            "retries it and, when it gives up, tells the OnFailure destination")
    if not mapping.on_failure:
        return CheckFailed(
            failure, expected=expected,
            got=f"after {errors} failed invokes Lambda gave the record up, and the mapping has "
            "no OnFailure destination to describe it to",
            try_next="a stream mapping's DestinationConfig {\"OnFailure\": {\"Destination\": "
            "ARN}} gets a description of each batch given up (an SQS queue or SNS topic)")
    return CheckFailed(
        failure, expected=expected,
        got=f"after {errors} failed invokes nothing about it reached the failures queue",
        try_next="the OnFailure destination must be the failures queue the check passes to "
        "configure()")


def given_up_with_good_records(lost: list[str], ranges: list, poison: int, reports: bool) -> CheckFailed:
    failure = "Good orders were given up together with the bad one."
    expected = "only the bad order given up; every good order processed"
    extent = ", ".join(f"{end - start + 1 if end >= start else 1} sequence numbers from {start}"
                       for start, end in ranges)
    got = (f"{len(lost)} good order{'s' * (len(lost) > 1)} never processed ({', '.join(lost[:5])}); "
           if lost else "") + f"the failures queue describes batches spanning {extent}, the bad " \
        f"record being {poison}"
    if reports:
        return CheckFailed(
            failure, expected=expected, got=got,
            try_next="with ReportBatchItemFailures Lambda retries from the record your "
            "function names on; an invoke that raises, or names an itemIdentifier that is not "
            "in the batch, fails the whole batch. Catch the error, return the failed record's "
            "kinesis.sequenceNumber as itemIdentifier, and process the records after it first")
    return CheckFailed(
        failure, expected=expected, got=got,
        try_next="when retries run out Lambda gives up the whole failing batch, good records "
        "and all: BisectBatchOnFunctionError splits a failing batch in two and retries each "
        "half, until the bad record is alone (or report it with ReportBatchItemFailures)")
