"""The stream event source mapping engine: Lambda's poller for Kinesis (and any
:mod:`lambdalab.stream_sources` source, such as DynamoDB streams).

What AWS documents, kept here
(https://docs.aws.amazon.com/lambda/latest/dg/with-kinesis.html,
https://docs.aws.amazon.com/lambda/latest/dg/services-kinesis-batchfailurereporting.html,
https://docs.aws.amazon.com/lambda/latest/dg/kinesis-on-failure-destination.html):

- one reader per shard, and one batch in flight per shard (``ParallelizationFactor`` up to
  10 batches, each of records whose partition keys hash to one lane, so order per key
  holds); children are read only once their parents are read to the end;
- a batch is up to ``BatchSize`` records, gathered for up to
  ``MaximumBatchingWindowInSeconds`` on the lab's clock, within the 6 MB payload;
- the function is invoked synchronously; the shard's checkpoint moves past a batch only
  when it succeeded or was given up, so **a failing batch blocks its shard**;
- a failed batch is retried (``MaximumRetryAttempts``, -1: until the records expire),
  split in two first with ``BisectBatchOnFunctionError`` (splitting uses no retry), and
  records older than ``MaximumRecordAgeInSeconds`` are dropped; what is given up is
  described to the ``OnFailure`` destination (``KinesisBatchInfo``);
- with ``FunctionResponseTypes: ["ReportBatchItemFailures"]`` the function names the
  first failed ``itemIdentifier`` (a sequence number) and only the records from it on are
  retried;
- with ``FilterCriteria``, records no pattern matches are skipped, the checkpoint moving
  past them, never invoked; a Kinesis record is matched as ``{"data": …}``, its data
  decoded from base64 as JSON (data that is not JSON matches no pattern on ``data``),
  and any other source's record as it is
  (https://docs.aws.amazon.com/lambda/latest/dg/with-kinesis-filtering.html).

A plugin keeping another stream hands the engine its resolver:
``StreamMappings(lab, "dynamodb", resolve)``.
"""

from __future__ import annotations

import base64
import binascii
import builtins
import json
import threading
import uuid
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Mapping

from lambdalab.plugin import (
    DESTINATION_ACTIONS,
    DestinationMessage,
    InvalidParameterValueException,
    LambdaDatum,
    LambdaError,
    MappingKeeper,
    ResourceConflictException,
    ResourceNotFoundException,
    ServiceError,
    denied_action,
    event_filters,
    internal_error,
    invalid,
    parse_function_ref,
    stream_sources,
)

from . import quotas

if TYPE_CHECKING:
    from lambdalab import Lab

ShardSource = stream_sources.ShardSource
StreamRecord = stream_sources.StreamRecord
REPORT_BATCH_ITEM_FAILURES = "ReportBatchItemFailures"
NOTHING_PROCESSED = "No records processed"
#: Real seconds a reader waits for new records before it looks again.
IDLE_WAIT_S = 0.2
#: Real seconds between retries of a failed batch: doubling from the first to the last.
RETRY_WAIT_S = (0.01, 1.0)
#: The largest BatchSize each stream service takes.
BATCH_SIZE_MAX = {"kinesis": quotas.ESM_STREAM_BATCH_SIZE_MAX, "dynamodb": 1000}
#: Threads running ParallelizationFactor lanes, for all of a service's mappings (the
#: function's concurrency is what limits invokes; this only keeps threads bounded).
LANE_THREADS_MAX = 64
#: Whole-number settings: AWS's name and range.
WHOLE_SETTINGS = {
    "batch_size": ("BatchSize", 1, quotas.ESM_STREAM_BATCH_SIZE_MAX),
    "maximum_batching_window_in_seconds": ("MaximumBatchingWindowInSeconds", 0,
                                           quotas.ESM_BATCHING_WINDOW_MAX_S),
    "parallelization_factor": ("ParallelizationFactor", 1, quotas.ESM_PARALLELIZATION_MAX),
    "maximum_retry_attempts": ("MaximumRetryAttempts", -1, quotas.ESM_RETRY_ATTEMPTS_MAX),
    "tumbling_window_in_seconds": ("TumblingWindowInSeconds", 0, quotas.ESM_TUMBLING_WINDOW_MAX_S),
}
#: Every setting a stream mapping takes (boto3's names in snake_case).
SETTINGS = frozenset({*WHOLE_SETTINGS, "bisect_batch_on_function_error", "enabled",
                      "maximum_record_age_in_seconds", "function_response_types", "destination_config",
                      "starting_position_timestamp", "function_name", "filter_criteria"})
#: Settings a stream mapping does not implement yet: refused, not ignored.
UNSUPPORTED = ("scaling_config",)


@dataclass(frozen=True)
class StreamMapping:
    """One stream mapping, as GetEventSourceMapping returns it."""

    uuid: str
    service: str
    event_source_arn: str
    function_arn: str
    starting_position: str
    batch_size: int
    enabled: bool
    last_modified: float
    starting_position_timestamp: float | None = None
    maximum_batching_window_in_seconds: int = 0
    parallelization_factor: int = 1
    bisect_batch_on_function_error: bool = False
    maximum_retry_attempts: int = -1
    maximum_record_age_in_seconds: int = -1
    on_failure: str | None = None
    function_response_types: tuple[str, ...] = ()
    tumbling_window_in_seconds: int = 0
    #: FilterCriteria's patterns, as the JSON text they were given in.
    filter_patterns: tuple[str, ...] = ()
    state: str = ""
    last_processing_result: str = NOTHING_PROCESSED

    @property
    def current_state(self) -> str:
        return self.state or ("Enabled" if self.enabled else "Disabled")

    def to_aws(self) -> dict[str, Any]:
        region, account = self.function_arn.split(":")[3:5]
        out: dict[str, Any] = {
            "UUID": self.uuid,
            "EventSourceMappingArn": f"arn:aws:lambda:{region}:{account}:event-source-mapping:{self.uuid}",
            "StartingPosition": self.starting_position,
            "BatchSize": self.batch_size,
            "MaximumBatchingWindowInSeconds": self.maximum_batching_window_in_seconds,
            "ParallelizationFactor": self.parallelization_factor,
            "EventSourceArn": self.event_source_arn,
            "FunctionArn": self.function_arn,
            "LastModified": self.last_modified,
            "LastProcessingResult": self.last_processing_result,
            "State": self.current_state,
            "StateTransitionReason": "User action",
            "DestinationConfig": {"OnFailure": {"Destination": self.on_failure} if self.on_failure else {}},
            "MaximumRecordAgeInSeconds": self.maximum_record_age_in_seconds,
            "BisectBatchOnFunctionError": self.bisect_batch_on_function_error,
            "MaximumRetryAttempts": self.maximum_retry_attempts,
            "TumblingWindowInSeconds": self.tumbling_window_in_seconds,
            "FunctionResponseTypes": list(self.function_response_types),
        }
        if self.starting_position_timestamp is not None:
            out["StartingPositionTimestamp"] = self.starting_position_timestamp
        if self.filter_patterns:
            out["FilterCriteria"] = {"Filters": [{"Pattern": p} for p in self.filter_patterns]}
        return out

    def to_json(self) -> str:
        return json.dumps({**self.__dict__, "state": "", "last_processing_result": NOTHING_PROCESSED})

    @classmethod
    def from_json(cls, text: str) -> "StreamMapping":
        data = json.loads(text)
        data["function_response_types"] = tuple(data["function_response_types"])
        data["filter_patterns"] = tuple(data.get("filter_patterns", ()))
        return cls(**data)


# -- settings, checked as AWS checks them -------------------------------------------------


def _whole(name: str, value: Any, low: int, high: int, hint: str = "") -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise invalid(name, value, hint or f"Use a whole number from {low} to {high}.")
    return value


def _record_age(value: Any) -> int:
    if value == -1:
        return -1
    return _whole("MaximumRecordAgeInSeconds", value, quotas.ESM_RECORD_AGE_MIN_S,
                  quotas.ESM_RECORD_AGE_MAX_S,
                  f"Use -1 (keep trying until the records expire) or "
                  f"{quotas.ESM_RECORD_AGE_MIN_S} to {quotas.ESM_RECORD_AGE_MAX_S} seconds.")


def _response_types(value: Any) -> tuple[str, ...]:
    types = tuple(value or ())
    if any(t != REPORT_BATCH_ITEM_FAILURES for t in types):
        raise invalid("FunctionResponseTypes", list(types),
                      f'The only allowed value is ["{REPORT_BATCH_ITEM_FAILURES}"].')
    return types


def _on_failure(config: Mapping[str, Any] | None) -> str | None:
    if not config:
        return None
    if not isinstance(config, Mapping) or set(config) - {"OnFailure", "OnSuccess"}:
        raise invalid("DestinationConfig", config, 'Use {"OnFailure": {"Destination": ARN}}.')
    if config.get("OnSuccess"):
        raise InvalidParameterValueException(
            "Unsupported OnSuccess destination for a stream event source mapping: only "
            "OnFailure destinations are allowed.")
    destination = (config.get("OnFailure") or {}).get("Destination")
    return destination or None


def _epoch(value: Any) -> float | None:
    if value is None:
        return None
    if hasattr(value, "timestamp"):
        return float(value.timestamp())
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    raise invalid("StartingPositionTimestamp", value, "Use a time (epoch seconds).")


def filtered_in(patterns: list[dict[str, Any]], record: StreamRecord) -> bool:
    """Whether a record passes the mapping's filters (none: every one)."""
    if not patterns:
        return True
    candidate = record.event_record
    kinesis = candidate.get("kinesis")
    if isinstance(kinesis, Mapping):
        candidate = _decoded_data(kinesis.get("data"))
    return any(event_filters.matches(p, candidate) for p in patterns)


def _decoded_data(data: Any) -> dict[str, Any]:
    """A Kinesis record as its filters see it: ``{"data": <its JSON>}``, or ``{}`` when
    its data is not JSON."""
    try:
        return {"data": json.loads(base64.b64decode(str(data), validate=True))}
    except (binascii.Error, ValueError, RecursionError):
        return {}


def failed_from(response: Any, batch: list[StreamRecord]) -> int | None:
    """Where a ReportBatchItemFailures response says the batch failed: the index of the
    lowest failed sequence number, ``len(batch)`` for none, ``0`` for a response Lambda
    cannot read (the whole batch failed), ``None`` when the whole batch succeeded."""
    if response is None or response == {} or response == "":
        return None
    if not isinstance(response, dict):
        return 0
    failures = response.get("batchItemFailures")
    if failures is None or failures == []:
        return None
    index = {r.sequence_number: i for i, r in enumerate(batch)}
    found = []
    for item in failures if isinstance(failures, list) else [None]:
        identifier = item.get("itemIdentifier") if isinstance(item, dict) else None
        if not identifier or identifier not in index:
            return 0
        found.append(index[identifier])
    return min(found)


@dataclass
class Window:
    """A tumbling window of one shard: where it starts, and the state the function returned
    (https://docs.aws.amazon.com/lambda/latest/dg/services-kinesis-windows.html)."""

    start: float
    state: Any = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps([self.start, self.state])

    @classmethod
    def from_json(cls, text: str | None) -> "Window | None":
        if not text:
            return None
        start, state = json.loads(text)
        return cls(float(start), state)


class ShardReader:
    """Reads one shard in order and invokes the function with its batches, one at a time."""

    def __init__(self, poller: "Poller", shard_id: str, position: stream_sources.Position,
                 window: Window | None = None) -> None:
        self.poller = poller
        self.shard_id = shard_id
        self.position = position
        self.window = window
        self.busy = False
        self.done = False
        self.thread = threading.Thread(
            target=self._run, daemon=True,
            name=f"lambdalab-stream-{poller.mapping.uuid[:8]}-{shard_id[-4:]}")

    @property
    def mapping(self) -> StreamMapping:
        return self.poller.mapping

    def _run(self) -> None:
        source, stopped = self.poller.source, self.poller.stopped
        while not stopped.is_set():
            if self.window_due():
                self._close_window()
                continue
            if source.at_end(self.shard_id, self.position):
                if self.window is not None:  # the shard ends: so does its window
                    self._close_window()
                    continue
                self.done = True
                self.poller.owner.notify_idle()
                self.poller.wake()
                return
            records = self._in_window(self._gather()) if self.poller.may_read() else []
            if not records:
                self.poller.owner.notify_idle()
                source.wait(IDLE_WAIT_S)
                continue
            try:
                self._process(records)
            finally:
                self.busy = False
                self.poller.owner.notify_idle()

    def _gather(self) -> list[StreamRecord]:
        """Records for one round: up to BatchSize per lane, waiting up to the batching
        window on the lab's clock to fill it."""
        size = self.mapping.batch_size * self.mapping.parallelization_factor
        records = self.poller.source.read(self.shard_id, self.position, size)
        window = self.mapping.maximum_batching_window_in_seconds
        clock = self.poller.owner.lab.clock
        # The window starts as the records are read: its end is fixed before the reader
        # says it holds them (``busy``), so a clock moved on as it says so has it pass.
        deadline = clock.now() + window
        self.busy = bool(records)
        if not records or window == 0 or len(records) >= size:
            return records
        while len(records) < size and clock.now() < deadline and not self.poller.stopped.is_set():
            more = self.poller.source.read(self.shard_id, records[-1].sequence_number, size - len(records))
            if more:
                records += more
            else:
                self.poller.source.wait(IDLE_WAIT_S)
        return records

    def _process(self, records: list[StreamRecord]) -> None:
        lanes, taken = self._lanes(records)
        if len(lanes) == 1:
            self.poller.handle(self, lanes[0])
        else:
            list(self.poller.owner.executor.map(lambda lane: self.poller.handle(self, lane), lanes))
        if not self.poller.stopped.is_set():
            self.position = records[taken - 1].sequence_number
            self._save()

    def _save(self) -> None:
        self.poller.owner.save_checkpoint(self.mapping.uuid, self.shard_id, self.position, self.window)

    # -- tumbling windows ---------------------------------------------------------------

    def window_of(self, record: StreamRecord) -> float:
        size = self.mapping.tumbling_window_in_seconds
        return record.arrival // size * size

    def window_due(self) -> bool:
        """Whether the open window's end has passed on the lab's clock."""
        return self.window is not None and (
            self.poller.owner.lab.clock.now() >= self.window.start + self.mapping.tumbling_window_in_seconds)

    def _in_window(self, records: list[StreamRecord]) -> list[StreamRecord]:
        """The leading ``records`` of one window (all of them without tumbling windows);
        a record of a later window first closes the open one."""
        if not self.mapping.tumbling_window_in_seconds or not records:
            return records
        start = self.window_of(records[0])
        if self.window is not None and self.window.start != start:
            self._close_window()
            return []
        if self.window is None:
            self.window = Window(start)
        return [r for r in records if self.window_of(r) == start]

    def _close_window(self) -> None:
        """The final invoke of the window (no records, its state), until it succeeds."""
        self.busy = True
        attempts = 0
        while self.window is not None and not self.poller.stopped.is_set():
            failed_at, _ = self.poller.invoke(self, [], final=True)
            if failed_at is None:
                self.window = None
                self._save()
                break
            attempts += 1
            self.poller.stopped.wait(min(RETRY_WAIT_S[0] * 2 ** attempts, RETRY_WAIT_S[1]))
        self.busy = False
        self.poller.owner.notify_idle()

    def window_event(self, final: bool) -> dict[str, Any]:
        from lambdalab.plugin import iso_s

        assert self.window is not None
        return {"window": {"start": iso_s(self.window.start),
                           "end": iso_s(self.window.start + self.mapping.tumbling_window_in_seconds)},
                "state": self.window.state, "shardId": self.shard_id,
                "eventSourceARN": self.mapping.event_source_arn,
                "isFinalInvokeForWindow": final, "isWindowTerminatedEarly": False}

    def _lanes(self, records: list[StreamRecord]) -> tuple[list[list[StreamRecord]], int]:
        """Records split by partition key into ParallelizationFactor lanes, each at most
        BatchSize records and within the payload limit; and how many were taken (a
        prefix of ``records``, so the checkpoint never skips one)."""
        factor, size = self.mapping.parallelization_factor, self.mapping.batch_size
        lanes: dict[int, list[StreamRecord]] = {}
        payload: dict[int, int] = {}
        taken = 0
        for record in records:
            lane = zlib.crc32(record.partition_key.encode("utf-8", "surrogatepass")) % factor
            batch = lanes.setdefault(lane, [])
            if len(batch) >= size or (batch and payload[lane] + record.size > quotas.ESM_BATCH_MAX_BYTES):
                break
            batch.append(record)
            payload[lane] = payload.get(lane, 0) + record.size
            taken += 1
        return list(lanes.values()), taken


class Poller:
    """One mapping's shard readers, started as shards become readable."""

    def __init__(self, owner: "StreamMappings", mapping: StreamMapping, source: ShardSource) -> None:
        self.owner = owner
        self.mapping = mapping
        self.source = source
        self.stopped = threading.Event()
        self.readers: dict[str, ShardReader] = {}
        self._woken = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True,
                                       name=f"lambdalab-stream-{mapping.uuid[:8]}")
        self.role = owner.role_of(mapping.function_arn)
        #: Why the execution role may not read the stream, when a reader last found it so.
        self.denied: str | None = None

    def may_read(self) -> bool:
        """Whether the execution role may read the stream now (its policy may have
        changed since the mapping was made); if not, the mapping reports why."""
        self.denied = self.owner.read_denial(self.mapping.function_arn, self.mapping.event_source_arn)
        if self.denied is not None:
            self._record(f"PROBLEM: {self.denied}")
        return self.denied is None

    def start(self) -> None:
        self.thread.start()

    def wake(self) -> None:
        self._woken.set()

    def _run(self) -> None:
        while not self.stopped.is_set():
            self.discover()
            self._woken.wait(IDLE_WAIT_S)
            self._woken.clear()

    def discover(self) -> None:
        """Start a reader for each shard whose parents are read to their end."""
        shards = self.source.shards()
        known = {s.shard_id for s in shards}
        checkpoints = self.owner.checkpoints(self.mapping.uuid)
        windows = self.owner.windows(self.mapping.uuid)
        for shard in shards:
            if shard.shard_id in self.readers or self.stopped.is_set():
                continue
            parents = [p for p in shard.parent_shard_ids if p in known]
            if any(p not in self.readers or not self.readers[p].done for p in parents):
                continue
            if shard.shard_id in checkpoints:
                position = checkpoints[shard.shard_id]
            elif shard.parent_shard_ids:
                position = None  # a child: from its start
            else:
                position = self.source.start(shard.shard_id, self.mapping.starting_position,
                                             self.mapping.starting_position_timestamp)
            reader = self.readers[shard.shard_id] = ShardReader(self, shard.shard_id, position,
                                                                windows.get(shard.shard_id))
            reader.thread.start()

    def idle(self) -> bool:
        """No batch in flight and every readable shard read to its tip (or the role may
        not read, as a reader found and as is still so: the records wait for it)."""
        if self.denied is not None and \
                self.owner.read_denial(self.mapping.function_arn, self.mapping.event_source_arn) is not None:
            return not any(r.busy for r in list(self.readers.values()))
        for shard in self.source.shards():
            reader = self.readers.get(shard.shard_id)
            if reader is None:
                if not self.source.at_end(shard.shard_id, None) and self._readable(shard):
                    return False
                continue
            if reader.busy or reader.window_due() or self.source.read(shard.shard_id, reader.position, 1):
                return False
        return True

    def _readable(self, shard: stream_sources.ShardInfo) -> bool:
        """Whether every parent still listed is read to its end (its reader may not have
        said so yet): then the shard's own reader is about to start."""
        listed = {s.shard_id for s in self.source.shards()}
        for parent in (p for p in shard.parent_shard_ids if p in listed):
            reader = self.readers.get(parent)
            if reader is None or reader.busy or self.source.read(parent, reader.position, 1):
                return False
        return True

    # -- one batch, to success or until it is given up ---------------------------------

    def handle(self, reader: ShardReader, records: list[StreamRecord]) -> None:
        """Invoke with ``records`` until they succeed or are given up (and described to
        the OnFailure destination); splits with BisectBatchOnFunctionError."""
        shard_id = reader.shard_id
        patterns = [json.loads(p) for p in self.mapping.filter_patterns]
        records = [r for r in records if filtered_in(patterns, r)]
        pending = [records] if records else []
        attempts = 0
        while pending and not self.stopped.is_set():
            batch = self._fresh(shard_id, pending[0])
            if not batch:
                pending.pop(0)
                continue
            failed_at, function_failed = self.invoke(reader, batch)
            if failed_at is None:
                pending.pop(0)
                attempts = 0
                continue
            rest = batch[failed_at:]
            if function_failed and self.mapping.bisect_batch_on_function_error and len(rest) > 1:
                half = len(rest) // 2
                pending[0:1] = [rest[:half], rest[half:]]
                continue
            attempts += function_failed
            if 0 <= self.mapping.maximum_retry_attempts < attempts:
                self.give_up(shard_id, rest, "RetryAttemptsExhausted", attempts)
                pending.pop(0)
                attempts = 0
                continue
            pending[0] = rest
            self.stopped.wait(min(RETRY_WAIT_S[0] * 2 ** attempts, RETRY_WAIT_S[1]))

    def _fresh(self, shard_id: str, batch: list[StreamRecord]) -> list[StreamRecord]:
        """``batch`` less the records older than MaximumRecordAgeInSeconds (given up)."""
        age = self.mapping.maximum_record_age_in_seconds
        if age < 0:
            return batch
        oldest = self.owner.lab.clock.now() - age
        expired = [r for r in batch if r.arrival < oldest]
        if expired:
            self.give_up(shard_id, expired, "RecordAgeExceeded", 0)
        return [r for r in batch if r.arrival >= oldest]

    def invoke(self, reader: ShardReader, batch: list[StreamRecord],
               final: bool = False) -> tuple[int | None, bool]:
        """Invoke once: ``(None, _)`` on success, else where the failure starts and
        whether the function ran and failed (a throttle is not the function's failure)."""
        event: dict[str, Any] = {"Records": [self._with_role(r.event_record) for r in batch]}
        if reader.window is not None:
            event.update(reader.window_event(final))
        if batch:
            self._iterator_age(batch[-1])
        try:
            result = self.owner.lab.invoke(self.mapping.function_arn, event)
        except LambdaError as e:
            self._record(f"PROBLEM: {e.code}: {e.message}")
            return 0, False
        except Exception as e:  # noqa: BLE001 - lambdalab's fault: the reader must not die of it
            self._record(internal_error(e, self.mapping.uuid))
            self.stopped.wait(RETRY_WAIT_S[1])
            return 0, False
        if result.function_error:
            self._record("PROBLEM: Function call failed")
            return 0, True
        try:
            response = result.json()
        except ValueError:
            response = []
        if reader.window is not None:
            if not isinstance(response, dict) or "state" not in response:
                self._record("PROBLEM: Function response has no state for its tumbling window")
                return 0, True
            reader.window.state = response["state"]
        if REPORT_BATCH_ITEM_FAILURES in self.mapping.function_response_types:
            failed_at = failed_from(response, batch)
            if failed_at is not None:
                self._record("PROBLEM: Function reported batch item failures")
                return failed_at, True
        self._record("OK")
        return None, False

    def _iterator_age(self, last: StreamRecord) -> None:
        """``IteratorAge``: how long the batch's last record waited in the stream, in ms
        (https://docs.aws.amazon.com/lambda/latest/dg/monitoring-metrics-types.html)."""
        ref = parse_function_ref(self.mapping.function_arn)
        age = max(self.owner.lab.clock.now() - last.arrival, 0.0) * 1000
        datum = LambdaDatum("IteratorAge", age, ref.name,
                            f"{ref.name}:{ref.qualifier}" if ref.qualifier else None)
        self.owner.lab.plugin_manager.hook.lambdalab_lambda_metrics(data=[datum])

    def _with_role(self, record: dict[str, Any]) -> dict[str, Any]:
        if "invokeIdentityArn" in record and record["invokeIdentityArn"] is None:
            return {**record, "invokeIdentityArn": self.role}
        return record

    def give_up(self, shard_id: str, records: list[StreamRecord], condition: str, invokes: int) -> None:
        """Describe records given up to the OnFailure destination, as AWS does."""
        if not self.mapping.on_failure or not records:
            return
        send = self.owner.sender(self.mapping.on_failure)
        if send is None:
            return
        body = failure_record(self.mapping, self.source.batch_info_key, shard_id, records, condition,
                              invokes, self.owner.lab.clock.now())
        try:
            send(DestinationMessage(json.dumps(body), {}))
        except (LambdaError, ServiceError) as e:  # such as a topic deleted since: move on
            self._record(f"PROBLEM: OnFailure destination: {e.code}: {e.message}")

    def _record(self, result: str) -> None:
        self.mapping = replace(self.mapping, last_processing_result=result)
        self.owner.results[self.mapping.uuid] = result

    def stop(self) -> None:
        self.stopped.set()
        self.wake()

    def join(self, timeout: float = 10.0) -> None:
        for thread in [self.thread, *(r.thread for r in list(self.readers.values()))]:
            if thread is not threading.current_thread() and thread.is_alive():
                thread.join(timeout)


def failure_record(mapping: StreamMapping, key: str, shard_id: str, records: list[StreamRecord],
                   condition: str, invokes: int, now: float) -> dict[str, Any]:
    """The invocation record AWS sends an OnFailure destination for a stream batch
    (https://docs.aws.amazon.com/lambda/latest/dg/kinesis-on-failure-destination.html)."""
    from lambdalab.plugin import iso_s

    def iso_ms(at: float) -> str:
        return iso_s(at)[:-1] + f".{int(at * 1000) % 1000:03d}Z"

    return {
        "requestContext": {"requestId": str(uuid.uuid4()), "functionArn": mapping.function_arn,
                           "condition": condition, "approximateInvokeCount": invokes},
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST",
                            "functionError": "Unhandled"} if invokes else {},
        "version": "1.0",
        "timestamp": iso_ms(now),
        key: {
            "shardId": shard_id,
            "startSequenceNumber": records[0].sequence_number,
            "endSequenceNumber": records[-1].sequence_number,
            "approximateArrivalOfFirstRecord": iso_ms(records[0].arrival),
            "approximateArrivalOfLastRecord": iso_ms(records[-1].arrival),
            "batchSize": len(records),
            "streamArn": mapping.event_source_arn,
        },
    }


#: The name AWS's refusal of an OnFailure destination gives its service.
SEND_SERVICE_NAMES = {"sqs": "SQS", "sns": "SNS", "s3": "S3"}


#: What names an enhanced fan-out consumer's ARN: ``STREAM_ARN/consumer/NAME:CREATED``.
CONSUMER_INFIX = "/consumer/"
#: What the poller calls on a consumer (beside :attr:`StreamMappings.READ_ACTIONS` on its
#: stream) with the execution role. Not ``kinesis:DescribeStreamConsumer``: the managed
#: AWSLambdaKinesisExecutionRole, which AWS names as enough for a mapping, lacks it.
CONSUMER_ACTIONS = ("kinesis:SubscribeToShard",)


@dataclass
class StreamMappings(MappingKeeper[StreamMapping]):
    """Every stream mapping of one service in one lab, durable in its store, with pollers."""

    TABLE: ClassVar[str] = "kinesis_mappings"

    #: What the poller calls with the execution role (the actions of
    #: AWSLambdaKinesisExecutionRole; https://docs.aws.amazon.com/lambda/latest/dg/with-kinesis.html).
    READ_ACTIONS: ClassVar[tuple[str, ...]] = (
        "kinesis:GetRecords", "kinesis:GetShardIterator", "kinesis:DescribeStream", "kinesis:ListShards")

    lab: "Lab"
    service: str
    resolve: Callable[[str], ShardSource]
    pollers: dict[str, Poller] = field(default_factory=dict)
    results: dict[str, str] = field(default_factory=dict)
    idle: threading.Condition = field(default_factory=threading.Condition)
    executor: ThreadPoolExecutor = field(default_factory=lambda: ThreadPoolExecutor(
        LANE_THREADS_MAX, thread_name_prefix="lambdalab-stream-lane"))

    # -- the Lambda API ---------------------------------------------------------------

    def create(self, function_name: str, event_source_arn: str | None = None, *,
               starting_position: str | None = None, **settings: Any) -> StreamMapping:
        """CreateEventSourceMapping for a stream; returns it in state ``Creating``."""
        source = self.resolve(str(event_source_arn))
        if starting_position not in stream_sources.STARTING_POSITIONS:
            raise invalid("StartingPosition", starting_position,
                          f"A stream mapping needs one of {', '.join(stream_sources.STARTING_POSITIONS)}.")
        function_arn = self._function_arn(function_name)
        self._check_role(function_arn, source.arn)
        for other in self._all():
            if other.event_source_arn == source.arn and other.function_arn == function_arn:
                raise ResourceConflictException(
                    f"The event source arn (\" {source.arn} \") and function (\" {function_name} \") "
                    f"provided mapping already exists. Please update or delete the existing "
                    f"mapping with UUID {other.uuid}")
        mapping = self._checked(StreamMapping(
            uuid=str(uuid.uuid4()), service=self.service, event_source_arn=source.arn,
            function_arn=function_arn, starting_position=starting_position,
            batch_size=quotas.ESM_STREAM_BATCH_SIZE_DEFAULT, enabled=True,
            last_modified=self.lab.clock.now()), settings, creating=True)
        if mapping.starting_position == "AT_TIMESTAMP" and mapping.starting_position_timestamp is None:
            raise InvalidParameterValueException(
                "StartingPositionTimestamp is required when StartingPosition is AT_TIMESTAMP.")
        self._save(mapping)
        self._pin_start(mapping, source)
        if mapping.enabled:
            self._start(mapping)
        return replace(mapping, state="Creating" if mapping.enabled else "Disabled")

    def _pin_start(self, mapping: StreamMapping, source: ShardSource) -> None:
        """Checkpoint every shard at the starting position now, so LATEST means records
        written after CreateEventSourceMapping answered."""
        with self.lab.store.transaction() as db:
            for shard in source.shards():
                position = source.start(shard.shard_id, mapping.starting_position,
                                        mapping.starting_position_timestamp)
                db.execute("INSERT OR REPLACE INTO kinesis_checkpoints (uuid, shard_id, position) "
                           "VALUES (?, ?, ?)", (mapping.uuid, shard.shard_id, position))

    def _checked(self, mapping: StreamMapping, settings: Mapping[str, Any], creating: bool) -> StreamMapping:
        """``mapping`` with the non-``None`` ``settings`` applied and checked."""
        given = {k: v for k, v in settings.items() if v is not None}
        not_taken = sorted(k for k in given if k in UNSUPPORTED or k not in SETTINGS)
        if not_taken:
            raise InvalidParameterValueException(
                f"lambdalab's stream event source mappings do not support "
                f"{', '.join(not_taken)} yet. Remove it.")
        checked = replace(mapping, **self._changes(given, creating))
        if "function_name" in given and not creating:
            self._check_role(checked.function_arn, checked.event_source_arn)
        if checked.on_failure and "destination_config" in given:
            self._check_send(checked.function_arn, checked.on_failure)
        if checked.tumbling_window_in_seconds and checked.parallelization_factor > 1:
            raise InvalidParameterValueException(
                "lambdalab's tumbling windows keep one state per shard: use ParallelizationFactor 1 "
                "with TumblingWindowInSeconds.")
        return checked

    def _changes(self, given: Mapping[str, Any], creating: bool) -> dict[str, Any]:
        """The mapping's fields that ``given`` settings change, each checked."""
        changes: dict[str, Any] = {}
        for setting, (name, low, high) in WHOLE_SETTINGS.items():
            if setting in given:
                if setting == "batch_size":
                    high = BATCH_SIZE_MAX.get(self.service, high)
                changes[setting] = _whole(name, given[setting], low, high)
        for setting in ("bisect_batch_on_function_error", "enabled"):
            if setting in given:
                changes[setting] = bool(given[setting])
        if "maximum_record_age_in_seconds" in given:
            changes["maximum_record_age_in_seconds"] = _record_age(given["maximum_record_age_in_seconds"])
        if "function_response_types" in given:
            changes["function_response_types"] = _response_types(given["function_response_types"])
        if "destination_config" in given:
            changes["on_failure"] = self._checked_destination(given["destination_config"])
        if creating and "starting_position_timestamp" in given:
            changes["starting_position_timestamp"] = _epoch(given["starting_position_timestamp"])
        if "function_name" in given:
            changes["function_arn"] = self._function_arn(given["function_name"])
        if "filter_criteria" in given:
            changes["filter_patterns"] = event_filters.parse_filter_criteria(given["filter_criteria"])
        return changes

    def _checked_destination(self, config: Any) -> str | None:
        destination = _on_failure(config)
        if destination and self.sender(destination) is None:
            raise invalid("DestinationConfig.OnFailure.Destination", destination,
                          "No loaded plugin delivers there: use an SQS queue of this lab.")
        return destination

    def get(self, uuid: str) -> StreamMapping:
        rows = self.lab.store.query("SELECT uuid, config FROM kinesis_mappings WHERE uuid = ? AND service = ?",
                                    (str(uuid), self.service))
        found = self.lab.store.loaded_rows("kinesis_mappings", rows, _key, _load)
        if not found:
            raise ResourceNotFoundException(
                f"The resource you requested does not exist. No event source mapping has "
                f"UUID {uuid}; ListEventSourceMappings shows them all.")
        mapping = found[0]
        result = self.results.get(mapping.uuid)
        return replace(mapping, last_processing_result=result) if result else mapping

    def update(self, uuid: str, **settings: Any) -> StreamMapping:
        """UpdateEventSourceMapping: settings left ``None`` keep their value."""
        old = self.get(uuid)
        if settings.get("starting_position") is not None or settings.get("starting_position_timestamp") is not None:
            raise InvalidParameterValueException(
                "StartingPosition cannot be changed: delete the mapping and create another.")
        settings.pop("starting_position", None)
        settings.pop("starting_position_timestamp", None)
        mapping = replace(self._checked(old, settings, creating=False), last_modified=self.lab.clock.now())
        return self._replace(old, mapping)

    # -- pollers ----------------------------------------------------------------------

    def _is_idle(self) -> bool:
        """No batch is in flight and every mapped shard is read to its tip."""
        return all(p.idle() for p in builtins.list(self.pollers.values()))

    def checkpoints(self, uuid: str) -> dict[str, stream_sources.Position]:
        rows = self.lab.store.query("SELECT shard_id, position FROM kinesis_checkpoints WHERE uuid = ?", (uuid,))
        return {r["shard_id"]: r["position"] for r in rows}

    def windows(self, uuid: str) -> dict[str, Window | None]:
        """The open tumbling window of each shard, with its state."""
        rows = self.lab.store.query("SELECT shard_id, window FROM kinesis_checkpoints WHERE uuid = ?", (uuid,))
        return {r["shard_id"]: Window.from_json(r["window"]) for r in rows}

    def save_checkpoint(self, uuid: str, shard_id: str, position: stream_sources.Position,
                        window: Window | None = None) -> None:
        """The shard's position, and its open window, in one commit."""
        with self.lab.store.transaction() as db:
            if db.execute("SELECT 1 FROM kinesis_mappings WHERE uuid = ?", (uuid,)).fetchone():
                db.execute("INSERT OR REPLACE INTO kinesis_checkpoints (uuid, shard_id, position, window) "
                           "VALUES (?, ?, ?, ?)", (uuid, shard_id, position, window and window.to_json()))

    def sender(self, arn: str) -> Any:
        return self.lab.plugin_manager.hook.lambdalab_destination_sender(lab=self.lab, destination_arn=arn)

    def role_of(self, function_arn: str) -> str | None:
        ref = parse_function_ref(function_arn)
        try:
            return str(self.lab.registry.get(ref.name, ref.qualifier).role)
        except LambdaError:
            return None

    def close(self) -> None:
        super().close()
        self.executor.shutdown(wait=False)

    def _start(self, mapping: StreamMapping) -> None:
        try:
            source = self.resolve(mapping.event_source_arn)
        except LambdaError as e:  # the stream is gone: the mapping waits, as AWS's does
            self.results[mapping.uuid] = f"PROBLEM: {e.message}"
            return
        poller = self.pollers[mapping.uuid] = Poller(self, replace(mapping, last_processing_result=self.results.get(
            mapping.uuid, NOTHING_PROCESSED)), source)
        poller.start()

    # -- storage ----------------------------------------------------------------------

    def _all(self) -> builtins.list[StreamMapping]:
        rows = self.lab.store.query("SELECT uuid, config FROM kinesis_mappings WHERE service = ? ORDER BY uuid",
                                    (self.service,))
        return self.lab.store.loaded_rows("kinesis_mappings", rows, _key, _load)

    def _save(self, mapping: StreamMapping) -> None:
        # An upsert, not INSERT OR REPLACE: replacing deletes the row, and the delete
        # cascades to the checkpoints, so an updated mapping would read its stream again.
        with self.lab.store.transaction() as db:
            db.execute("INSERT INTO kinesis_mappings (uuid, service, config) VALUES (?, ?, ?) "
                       "ON CONFLICT (uuid) DO UPDATE SET config = excluded.config",
                       (mapping.uuid, self.service, mapping.to_json()))

    def _check_send(self, function_arn: str, destination: str) -> None:
        """Lambda sends what it gives up with the execution role: under IAM enforcement it
        must allow the send (https://docs.aws.amazon.com/lambda/latest/dg/kinesis-on-failure-destination.html)."""
        service = destination.split(":")[2]
        action = DESTINATION_ACTIONS.get(service)
        ref = parse_function_ref(function_arn)
        if action and denied_action(self.lab, self.lab.registry.get(ref.name, ref.qualifier).role, (action,),
                                    f"{destination}/*" if service == "s3" else destination):
            raise InvalidParameterValueException(
                f"The provided execution role does not have permissions to call {action.split(':')[1]} on "
                f"{SEND_SERVICE_NAMES.get(service, service)}")

    def _check_role(self, function_arn: str, source_arn: str) -> None:
        """Under IAM enforcement the execution role must allow the poller's reads; AWS's
        refusal names them all (as it does for a DynamoDB stream)."""
        denial = self.read_denial(function_arn, source_arn)
        if denial is not None:
            raise InvalidParameterValueException(denial)

    def read_denial(self, function_arn: str, source_arn: str) -> str | None:
        """AWS's sentence when the function's execution role may not make the poller's
        reads of the stream, else ``None`` (no enforcement; all allowed; no function).

        Through an enhanced fan-out consumer (``source_arn`` a consumer's ARN) the reads
        are asked on the consumer's stream and SubscribeToShard on the consumer, as AWS's
        "Execution role permissions" list them
        (https://docs.aws.amazon.com/lambda/latest/dg/with-kinesis.html)."""
        if not getattr(self.lab, "enforce_iam", False):
            return None  # before any read: pollers ask this before each batch
        role = self.role_of(function_arn)
        if role is None:
            return None
        consumer = self.service == "kinesis" and CONSUMER_INFIX in source_arn
        stream_arn = source_arn.partition(CONSUMER_INFIX)[0] if consumer else source_arn
        if denied_action(self.lab, role, self.READ_ACTIONS, stream_arn) is not None:
            names = [action.split(":")[1] for action in self.READ_ACTIONS]
            return (f"Cannot access stream {stream_arn}. Please ensure the role can perform the "
                    f"{', '.join(names[:-1])}, and {names[-1]} Actions on your stream in IAM.")
        if consumer and denied_action(self.lab, role, CONSUMER_ACTIONS, source_arn) is not None:
            # lambdalab's sentence, in the shape of the stream's: AWS's is not published.
            names = [action.split(":")[1] for action in CONSUMER_ACTIONS]
            return (f"Cannot access stream consumer {source_arn}. Please ensure the role can perform "
                    f"the {', '.join(names)} Action on your stream consumer in IAM.")
        return None


def _key(row: Any) -> dict[str, Any]:
    return {"uuid": row["uuid"]}


def _load(row: Any) -> StreamMapping:
    return StreamMapping.from_json(row["config"])
