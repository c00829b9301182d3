"""Check for lab 18: the learner's stream keeps each customer's orders in order and lets
Lambda process NEEDED batches at once.

The learner chooses the shard count, the mapping's ParallelizationFactor and the
partition key of each order. The check puts CUSTOMERS x ORDERS_EACH orders on a real
stream (on a virtual clock), maps it to a function that logs each batch, and judges by
what the function received, never by a timing:

- order: Kinesis keeps order within a shard, and a mapping with a ParallelizationFactor
  keeps it per partition key (https://docs.aws.amazon.com/lambda/latest/dg/with-kinesis.html,
  *Polling and batching streams*); a customer whose orders reached the function from two
  shards, or under two keys of a shard read in lanes, has no order to rely on, even when
  they happened to come in order;
- parallelism: a shard is read one batch at a time, or up to ParallelizationFactor
  batches of distinct partition keys; the batches that can run at once are, per shard,
  the smaller of the factor and the keys the shard holds.

The most batches seen in flight at once is reported, for the learner to watch, and judged
by nothing.
"""

import json
import tempfile
from pathlib import Path
from typing import NamedTuple

from lambdalab import LambdaError, VirtualClock
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
from lambdalab_kinesis import kinesis_of, quotas

#: Batches the work needs at once.
NEEDED = 4
#: The customers, named so that their keys spread over the shards and lanes of 4.
CUSTOMERS = tuple(f"customer-{n:02d}" for n in range(1, 17))
ORDERS_EACH = 3
BATCH_SIZE = 4
#: Shards this lab's account allows: more cost by the hour and teach nothing here.
SHARDS_MAX = 16
#: Real seconds the stream may take to drain, on a busy machine.
DRAIN_TIMEOUT_S = 120
#: Each batch's work (real seconds), so that batches of different shards can overlap.
HANDLER = '''import base64, json, time

def handler(event, context):
    start = time.monotonic_ns()
    time.sleep(0.05)
    records = event["Records"]
    print("BATCH " + json.dumps({
        "start": start, "end": time.monotonic_ns(),
        "shard": records[0]["eventID"].split(":")[0],
        "keys": [r["kinesis"]["partitionKey"] for r in records],
        "orders": [json.loads(base64.b64decode(r["kinesis"]["data"])) for r in records],
    }))
'''


class Received(NamedTuple):
    """One order as the function got it."""

    started: int  # the batch's start, in ns of the function's monotonic clock
    position: int  # in its batch
    n: int  # the customer's first, second... order
    shard: str
    key: str


def check(workdir: Path):
    script = require_file(workdir, "stream.py")
    module = load_learner_module(script)
    require_functions(script, module, ("partition_key(order)",))
    shards = setting(module, "SHARDS", 1, SHARDS_MAX)
    factor = setting(module, "PARALLELIZATION_FACTOR", 1, quotas.ESM_PARALLELIZATION_MAX)
    orders = [{"id": f"o-{n * len(CUSTOMERS) + i + 1:04d}", "customer": c,
               "region": "eu" if i % 2 else "us", "n": n + 1}
              for n in range(ORDERS_EACH) for i, c in enumerate(CUSTOMERS)]
    keys = [learner_key(script, module, order) for order in orders]
    with tempfile.TemporaryDirectory() as tmp, fresh_lab(clock=VirtualClock()) as lab:
        batches = run(lab, Path(tmp), shards, factor, list(zip(orders, keys)))
    seen = received(batches)
    overlap = max_overlap(batches)
    check_order(seen, factor)
    at_once = check_parallelism(seen, shards, factor, overlap)
    return passed(
        f"Each customer's orders in order, and up to {at_once} batches at once.",
        f"{shards} shard{'s' * (shards > 1)}, ParallelizationFactor {factor}: "
        f"{len(CUSTOMERS)} customers' orders in {len(batches)} batches",
        f"the most batches seen in flight at once: {overlap} "
        "(try SHARDS = 1 and watch it drop to 1)",
    )


def setting(module, name: str, low: int, high: int) -> int:
    value = getattr(module, name, None)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise CheckFailed(
            f"{name} is not a whole number from {low} to {high}.",
            expected=f"{name} = a number from {low} to {high}",
            got=f"{name} = {value!r}",
            try_next=f"set {name} at the top of stream.py",
        )
    return value


def learner_key(script: Path, module, order: dict) -> str:
    key = call_learner(script, module.partition_key, dict(order), what="partition_key(order)")
    if not isinstance(key, str) or not 1 <= len(key) <= 256 or not encodes(key):
        raise CheckFailed(
            "partition_key() must return a string of 1 to 256 Unicode characters.",
            expected="a string, such as one of the order's fields",
            got=f"{key!r} for {order}",
            try_next="Kinesis takes a partition key of 1 to 256 Unicode characters",
        )
    return key


def encodes(key: str) -> bool:
    """Whether ``key`` is Unicode Kinesis can take (no lone surrogate)."""
    try:
        key.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def run(lab, tmp: Path, shards: int, factor: int, entries: list) -> list[dict]:
    """Put the orders on a stream of ``shards``, map it with ``factor``; the batches the
    function received, as it logged them."""
    streams = kinesis_of(lab).streams
    name, stream = unique_name("orders"), unique_name("orders")
    (tmp / "app.py").write_text(HANDLER)
    deploy(lab, name, tmp, "app.handler", timeout=60)
    streams.create_stream(stream, shards)
    try:
        put = streams.put_records(stream, [(json.dumps(o).encode(), key, None) for o, key in entries])
    except LambdaError as e:
        raise CheckFailed("Kinesis refused the orders.", expected="PutRecords to take every order",
                          got=f"{e.code}: {e.message}", try_next="partition_key() must return a "
                          "key Kinesis takes: the message says what is wrong with it") from None
    assert all("SequenceNumber" in p for p in put), put
    try:
        lab.create_event_source_mapping(
            name, event_source_arn=streams.arn(stream), starting_position="TRIM_HORIZON",
            batch_size=BATCH_SIZE, parallelization_factor=factor)
    except LambdaError as e:
        raise CheckFailed("Lambda refused the mapping.", expected="CreateEventSourceMapping to succeed",
                          got=f"{e.code}: {e.message}", try_next="fix what the message names") from None
    if not kinesis_of(lab).mappings.wait_idle(timeout=DRAIN_TIMEOUT_S):
        raise CheckFailed(
            "The mapping did not read the stream to its end.",
            expected=f"every order processed within {DRAIN_TIMEOUT_S} s",
            got="records still waiting in the stream",
            try_next="run the check again; if this repeats, report it as a bug in the lab")
    return [json.loads(e.message.split("BATCH ", 1)[1]) for e in lab.get_logs(name)
            if e.message.startswith("BATCH ")]


def received(batches: list[dict]) -> dict[str, list[Received]]:
    """Each customer's orders, in the order the function started on them."""
    seen: dict[str, list[Received]] = {}
    for batch in batches:
        for i, (order, key) in enumerate(zip(batch["orders"], batch["keys"])):
            seen.setdefault(order["customer"], []).append(
                Received(batch["start"], i, order["n"], batch["shard"], key))
    for got in seen.values():
        got.sort()
    return seen


def check_order(seen: dict[str, list[Received]], factor: int) -> None:
    """CheckFailed for the first customer whose orders could come out of order."""
    for customer, got in sorted(seen.items()):
        shards = sorted({r.shard for r in got})
        keys = sorted({r.key for r in got})
        if len(shards) == 1 and (factor == 1 or len(keys) == 1):
            continue
        numbers = [r.n for r in got]
        luck = ("and this time they even came out of order: the function got them as "
                f"{', '.join(f'order {n}' for n in numbers)}" if numbers != sorted(numbers)
                else "they came in order this time, by luck")
        failure = f"{customer}'s orders can reach the function out of order."
        expected = "every order of one customer processed after the customer's earlier ones"
        if len(shards) > 1:
            raise CheckFailed(
                failure, expected=expected,
                got=f"its {len(got)} orders went to {len(shards)} shards under the partition "
                f"keys {', '.join(keys)}, and shards are read independently; {luck}",
                try_next="Kinesis keeps records in order within a shard only, and the shard "
                "of a record is chosen by the hash of its partition key: what must stay in "
                "order must share a partition key")
        raise CheckFailed(
            failure, expected=expected,
            got=f"its orders are in one shard, under {len(keys)} partition keys "
            f"({', '.join(keys)}), and ParallelizationFactor {factor} processes a shard's "
            f"records of different keys in separate batches at once; {luck}",
            try_next="with a ParallelizationFactor above 1, Lambda keeps order per partition "
            "key, not per shard: what must stay in order must share a partition key")


def check_parallelism(seen: dict[str, list[Received]], shards: int, factor: int,
                      overlap: int) -> int:
    """How many batches can run at once: per shard, the smaller of the factor and the
    keys the shard holds; CheckFailed below NEEDED."""
    keys_by_shard: dict[str, set[str]] = {}
    for got in seen.values():
        for r in got:
            keys_by_shard.setdefault(r.shard, set()).add(r.key)
    at_once = sum(min(factor, len(keys)) for keys in keys_by_shard.values())
    if at_once >= NEEDED:
        return at_once
    failure = f"At most {at_once} batch{'es' * (at_once > 1)} at once: the orders need {NEEDED}."
    expected = f"{NEEDED} batches processed at once, each customer's orders in order"
    watched = f"; the most seen in flight at once: {overlap}"
    if shards * factor < NEEDED:
        raise CheckFailed(
            failure, expected=expected,
            got=f"{shards} shard{'s' * (shards > 1)} with ParallelizationFactor {factor}{watched}",
            try_next="Lambda reads each shard one batch at a time, in order; a "
            "ParallelizationFactor lets it process up to that many batches of one shard at "
            "once, split by partition key. More shards, or a factor, give more at once")
    keys = {k for ks in keys_by_shard.values() for k in ks}
    raise CheckFailed(
        failure, expected=expected,
        got=f"only {len(keys)} distinct partition key{'s' * (len(keys) > 1)} "
        f"({', '.join(sorted(keys)[:4])}), in {len(keys_by_shard)} of {shards} shards{watched}",
        try_next="a record goes to the shard whose hash key range holds its partition key's "
        "hash, and ParallelizationFactor splits a shard by partition key: a few keys can "
        "keep only a few batches busy, however many shards or lanes there are")


def max_overlap(batches: list[dict]) -> int:
    """The most batches the function was running at once (its own monotonic clock)."""
    edges = sorted([(b["start"], 1) for b in batches] + [(b["end"], -1) for b in batches])
    running = most = 0
    for _, step in edges:
        running += step
        most = max(most, running)
    return most
