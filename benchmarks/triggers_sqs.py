"""SQS event-source throughput, a figure of ``benchmarks/triggers.py`` (also runnable alone).

    python benchmarks/triggers_sqs.py            # full run
    python benchmarks/triggers_sqs.py --quick    # small counts: a smoke test
    python benchmarks/triggers_sqs.py --json out.json

SQS. messages processed per second through a no-op function by an event source mapping
    with BatchSize 10: a backlog of messages is sent first, then the mapping is created
    and the clock runs from then until every message is deleted. Baselines, same run:
    raw SendMessage (``Queues.send_message``, one committed message per call, one
    thread), and the invoke path alone: one thread calling ``Lab.invoke`` synchronously
    with a 10-record SQS event (messages/s = 10 x invokes/s). Target: >= 3,000/s.

A missed target is reported, not raised. Nothing here talks to the network.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import harness
from harness import Row
from lambdalab import Lab
from lambdalab_sqs import sqs_of

NOOP = "def handler(event, context):\n    return None\n"
SQS_THROUGHPUT_TARGET = 3_000.0
BATCH = 10
MODES = {"quick": {"sqs": 2_000}, "full": {"sqs": 20_000}}


def sqs_throughput(root: Path, counts: dict[str, int]) -> list[Row]:
    count = counts["sqs"]
    code = root / "code"
    code.mkdir(exist_ok=True)
    (code / "app.py").write_text(NOOP)
    with Lab(data_dir=root / "sqs-data") as lab:
        lab.create_function("noop", code=code, handler="app.handler")
        queues = sqs_of(lab).queues
        queues.create_queue("jobs")
        began = time.perf_counter()
        for i in range(count):
            queues.send_message("jobs", f"message {i}")
        send_rate = count / (time.perf_counter() - began)

        event = {"Records": [m.to_event_record(queues.arn("jobs"), "us-east-1")
                             for m in queues.receive_now("jobs", BATCH)]}
        queues.purge("jobs")
        lab.invoke("noop", event)  # the cold start is not part of either figure
        invokes = max(count // BATCH // 2, 50)
        began = time.perf_counter()
        for _ in range(invokes):
            lab.invoke("noop", event)
        invoke_rate = invokes * BATCH / (time.perf_counter() - began)

        for i in range(count):
            queues.send_message("jobs", f"message {i}")
        began = time.perf_counter()
        mapping = lab.create_event_source_mapping(
            "noop", event_source_arn=queues.arn("jobs"), batch_size=BATCH)
        if not sqs_of(lab).mappings.wait_idle(timeout=600):
            raise RuntimeError("the mapping did not drain the queue in 10 minutes")
        processed = count / (time.perf_counter() - began)
        left = queues.counts("jobs")
        pollers = lab.get_event_source_mapping(mapping.uuid)
        assert left == {"visible": 0, "in_flight": 0, "delayed": 0}, (left, pollers)
    return [
        Row("SQS", "event source: messages processed, batch 10", "msg/s", processed,
            send_rate, "SendMessage, one thread", f">= {SQS_THROUGHPUT_TARGET:,.0f}/s",
            processed >= SQS_THROUGHPUT_TARGET, samples=count),
        Row("SQS", "invoke path alone: sync Lab.invoke, 10 records, 1 thread", "msg/s",
            invoke_rate, None, "", "", None, samples=invokes),
    ]


def measure(counts: dict[str, int]) -> list[Row]:
    with tempfile.TemporaryDirectory() as tmp:
        return sqs_throughput(Path(tmp), counts)


def main(argv: list[str] | None = None) -> int:
    return harness.main("SQS trigger benchmark", __doc__.split("\n\n")[0], measure, MODES, argv)


if __name__ == "__main__":
    sys.exit(main())
