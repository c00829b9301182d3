"""Event source mappings for SQS: pollers that read a queue and invoke a function.

A mapping lives on the function (CreateEventSourceMapping is a Lambda API call) but the
polling is SQS's, so this plugin keeps both. For each enabled mapping a poller receives
batches of up to ``BatchSize`` messages (waiting up to ``MaximumBatchingWindowInSeconds``
on the Lab's clock to fill one), invokes the function *synchronously* through
``lab.invoke`` with Lambda's SQS event, and then
(https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html,
https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html):

- deletes the batch when the invoke succeeds;
- deletes nothing when it fails (function error, throttle, missing function): the
  messages become visible again after the queue's visibility timeout, and a queue's
  RedrivePolicy moves them to its dead-letter queue after ``maxReceiveCount`` tries;
- with ``FunctionResponseTypes: ["ReportBatchItemFailures"]``, deletes every message but
  those the function lists in ``batchItemFailures`` (by ``itemIdentifier``, the
  messageId). An itemIdentifier that is empty, null or not in the batch fails the whole
  batch, as AWS does;
- with ``FilterCriteria``, invokes the function only with the messages one of its
  patterns matches (:mod:`lambdalab.event_filters`, on the event record with its
  ``body`` parsed when it is a JSON object) and deletes the others unprocessed
  (https://docs.aws.amazon.com/lambda/latest/dg/with-sqs-filtering.html).

Pollers scale with the queue's depth: a poller that received a full batch while more
messages are visible starts another, up to the function's concurrency (reserved, or the
account's), ``ScalingConfig.MaximumConcurrency`` and ``ESM_SQS_POLLERS_MAX``; an extra
poller that finds the queue empty stops
(https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-scaling.html).
"""

from __future__ import annotations

import builtins
import json
import threading
import uuid
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, ClassVar, Mapping

from lambdalab.plugin import (
    InvalidParameterValueException,
    MappingKeeper,
    event_filters,
    LambdaError,
    ResourceConflictException,
    ResourceNotFoundException,
    denied_action,
    internal_error,
    invalid,
    parse_function_ref,
)

from . import quotas
from .exceptions import SqsError
from .models import Message, Queues, name_from_arn

if TYPE_CHECKING:
    from lambdalab import Lab

REPORT_BATCH_ITEM_FAILURES = "ReportBatchItemFailures"
#: What Lambda's poller calls with the execution role, in the order AWS checks them
#: (the actions of AWSLambdaSQSQueueExecutionRole).
POLLER_ACTIONS = ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes")
NOTHING_PROCESSED = "No records processed"
#: Real seconds an idle poller waits before it looks again (new messages wake it sooner).
IDLE_WAIT_S = 0.2


@dataclass(frozen=True)
class EventSourceMapping:
    """One mapping, as GetEventSourceMapping returns it."""

    uuid: str
    event_source_arn: str
    function_arn: str
    batch_size: int
    maximum_batching_window_in_seconds: int
    enabled: bool
    last_modified: float
    function_response_types: tuple[str, ...] = ()
    maximum_concurrency: int | None = None
    state: str = ""
    last_processing_result: str = NOTHING_PROCESSED
    #: FilterCriteria's patterns, as the JSON text they were given in.
    filter_patterns: tuple[str, ...] = ()

    @property
    def current_state(self) -> str:
        return self.state or ("Enabled" if self.enabled else "Disabled")

    def to_aws(self) -> dict[str, Any]:
        # AWS's recorded answers for a new SQS mapping have no LastProcessingResult;
        # lambdalab reports it once a batch was processed.
        region, account = self.function_arn.split(":")[3:5]
        out: dict[str, Any] = {
            "UUID": self.uuid,
            "EventSourceMappingArn": (
                f"arn:aws:lambda:{region}:{account}:event-source-mapping:{self.uuid}"
            ),
            "BatchSize": self.batch_size,
            "MaximumBatchingWindowInSeconds": self.maximum_batching_window_in_seconds,
            "EventSourceArn": self.event_source_arn,
            "FunctionArn": self.function_arn,
            "LastModified": self.last_modified,
            "State": self.current_state,
            "StateTransitionReason": "USER_INITIATED",
            "FunctionResponseTypes": list(self.function_response_types),
        }
        if self.last_processing_result != NOTHING_PROCESSED:
            out["LastProcessingResult"] = self.last_processing_result
        if self.maximum_concurrency is not None:
            out["ScalingConfig"] = {"MaximumConcurrency": self.maximum_concurrency}
        if self.filter_patterns:
            out["FilterCriteria"] = {"Filters": [{"Pattern": p} for p in self.filter_patterns]}
        return out

    def to_json(self) -> str:
        return json.dumps({**self.__dict__, "state": ""})

    @classmethod
    def from_json(cls, text: str) -> "EventSourceMapping":
        data = json.loads(text)
        data["function_response_types"] = tuple(data["function_response_types"])
        data["filter_patterns"] = tuple(data.get("filter_patterns", ()))
        return cls(**data)


def _batch_settings(batch_size: Any, window: Any) -> tuple[int, int]:
    if isinstance(window, bool) or not isinstance(window, int) or not (
        0 <= window <= quotas.ESM_BATCHING_WINDOW_MAX_S
    ):
        raise invalid("MaximumBatchingWindowInSeconds", window,
                      f"Use a whole number of seconds from 0 to {quotas.ESM_BATCHING_WINDOW_MAX_S}.")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or not (
        1 <= batch_size <= quotas.ESM_SQS_BATCH_SIZE_MAX
    ):
        raise invalid("BatchSize", batch_size,
                      f"Use 1 to {quotas.ESM_SQS_BATCH_SIZE_MAX} for an SQS queue.")
    if batch_size > quotas.ESM_SQS_BATCH_SIZE_WITHOUT_WINDOW_MAX and window < 1:
        raise InvalidParameterValueException(
            "Maximum batch window in seconds must be greater than 0 if maximum batch size "
            f"is greater than {quotas.ESM_SQS_BATCH_SIZE_WITHOUT_WINDOW_MAX}. Set "
            "MaximumBatchingWindowInSeconds to 1 or more, or BatchSize to 10 or less."
        )
    return batch_size, window


def _response_types(value: Any) -> tuple[str, ...]:
    types = tuple(value or ())
    if any(t != REPORT_BATCH_ITEM_FAILURES for t in types):
        raise invalid("FunctionResponseTypes", list(types),
                      f'The only allowed value is ["{REPORT_BATCH_ITEM_FAILURES}"].')
    return types


def _maximum_concurrency(scaling_config: Mapping[str, Any] | None) -> int | None:
    value = (scaling_config or {}).get("MaximumConcurrency")
    if value is None:
        return None
    low, high = quotas.ESM_MAXIMUM_CONCURRENCY_MIN, quotas.ESM_MAXIMUM_CONCURRENCY_MAX
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise invalid("ScalingConfig.MaximumConcurrency", value, f"Use {low} to {high}.")
    return value


def filtered_in(patterns: list[dict[str, Any]], record: Mapping[str, Any]) -> bool:
    """Whether a message's event record passes the mapping's filters (none: every one).
    A body holding a JSON object is matched as that object, any other as its text."""
    if not patterns:
        return True
    try:
        body = json.loads(record["body"])
    except (ValueError, RecursionError):
        body = None
    candidate = {**record, "body": body} if isinstance(body, dict) else record
    return any(event_filters.matches(p, candidate) for p in patterns)


def batch_trace(batch: list[Message]) -> str | None:
    """The trace the batch's invoke continues: the ``AWSTraceHeader`` of its first message
    that carries one (with one message a batch, the sender's trace goes on in the
    function; AWS links the other messages' traces, which lambdalab does not)."""
    return next((m.sent_system_attributes["AWSTraceHeader"] for m in batch
                 if "AWSTraceHeader" in m.sent_system_attributes), None)


def failed_ids(response: Any, batch: list[Message]) -> set[str] | None:
    """The messageIds a ReportBatchItemFailures response names; ``None``: the whole batch failed."""
    if response is None or response == {} or response == "":
        return set()
    if not isinstance(response, dict):
        return None
    failures = response.get("batchItemFailures")
    if failures is None:
        return set()
    ids = {m.message_id for m in batch}
    out = set()
    for item in failures if isinstance(failures, list) else [None]:
        identifier = item.get("itemIdentifier") if isinstance(item, dict) else None
        if not identifier or identifier not in ids:
            return None
        out.add(identifier)
    return out


class Poller:
    """The threads polling one mapping's queue."""

    def __init__(self, owner: "EventSourceMappings", mapping: EventSourceMapping) -> None:
        self.owner = owner
        self.mapping = mapping
        self.queue = name_from_arn(mapping.event_source_arn)
        self.stopped = threading.Event()
        self.patterns = [json.loads(p) for p in mapping.filter_patterns]
        self.threads: list[threading.Thread] = []
        self.busy = 0
        #: Why the execution role may not poll, when the poller last found it so.
        self.denied: str | None = None
        self._lock = threading.Lock()

    def start(self) -> None:
        self._spawn()

    def _spawn(self) -> None:
        with self._lock:
            if self.stopped.is_set() or len(self.threads) >= self.owner.poller_cap(self.mapping):
                return
            thread = threading.Thread(
                target=self._run, args=(not self.threads,), daemon=True,
                name=f"lambdalab-sqs-poller-{self.mapping.uuid[:8]}-{len(self.threads)}",
            )
            self.threads.append(thread)
        thread.start()

    def _run(self, first: bool) -> None:
        queues = self.owner.queues
        try:
            while not self.stopped.is_set():
                batch = self._gather()
                if not batch:
                    if not first:
                        return
                    with queues.changed:
                        queues.changed.wait(IDLE_WAIT_S)
                    continue
                if len(batch) >= self.mapping.batch_size and self.has_work():
                    self._spawn()
                self._process(batch)
        finally:
            with self._lock:
                self.threads.remove(threading.current_thread())
            self.owner.notify_idle()

    def has_work(self) -> bool:
        try:
            return self.owner.queues.has_visible(self.queue)
        except SqsError:
            return False

    def _gather(self) -> list[Message]:
        """Up to BatchSize messages, waiting up to the batching window to fill the batch;
        none while the execution role may not poll (its policy changed since the mapping
        was made): the mapping reports it and polls again once the role allows it."""
        self.denied = self.owner.role_denial(self.mapping.function_arn, self.mapping.event_source_arn)
        if self.denied is not None:
            self._record(f"PROBLEM: {self.denied}")
            self.owner.notify_idle()
            return []
        queues, clock = self.owner.queues, self.owner.lab.clock
        size, window = self.mapping.batch_size, self.mapping.maximum_batching_window_in_seconds
        with self._lock:
            self.busy += 1
        try:
            batch = queues.receive_now(self.queue, min(size, quotas.SQS_RECEIVE_MAX_MESSAGES))
        except SqsError as e:
            self._record(f"PROBLEM: {e.message}")
            batch = []
        if not batch or window == 0 or len(batch) >= size:
            self._done_if(not batch)
            return batch
        deadline = clock.now() + window
        timer = clock.call_at(deadline, queues._notify)
        try:
            while len(batch) < size and clock.now() < deadline and not self.stopped.is_set():
                more = queues.receive_now(
                    self.queue, min(size - len(batch), quotas.SQS_RECEIVE_MAX_MESSAGES))
                if more:
                    batch += more
                    continue
                with queues.changed:
                    queues.changed.wait(IDLE_WAIT_S)
        except SqsError:
            pass
        finally:
            timer.cancel()
        return batch

    def _done_if(self, idle: bool) -> None:
        if idle:
            with self._lock:
                self.busy -= 1
            self.owner.notify_idle()

    def _process(self, batch: list[Message]) -> None:
        try:
            self._deliver(batch)
        finally:
            self._done_if(True)

    def _deliver(self, batch: list[Message]) -> None:
        lab = self.owner.lab
        arn = self.mapping.event_source_arn
        records = [m.to_event_record(arn, lab.arns.region) for m in batch]
        kept = [filtered_in(self.patterns, r) for r in records]
        dropped = [m.receipt_handle for m, keep in zip(batch, kept) if not keep]
        if dropped:  # AWS deletes what no filter matches, without invoking
            self.owner.queues.delete_messages(self.queue, dropped)
            batch = [m for m, keep in zip(batch, kept) if keep]
            records = [r for r, keep in zip(records, kept) if keep]
            if not batch:
                return
        event = {"Records": records}
        try:
            result = lab.invoke(self.mapping.function_arn, event, trace_header=batch_trace(batch))
        except LambdaError as e:
            self._record(f"PROBLEM: {e.code}: {e.message}")
            return
        except Exception as e:  # noqa: BLE001 - lambdalab's fault: the poller must not die of it
            self._record(internal_error(e, self.mapping.uuid))
            return  # the batch is visible again after the queue's visibility timeout
        if result.function_error:
            self._record("PROBLEM: Function call failed")
            return
        failed: set[str] | None = set()
        if REPORT_BATCH_ITEM_FAILURES in self.mapping.function_response_types:
            try:
                failed = failed_ids(result.json(), batch)
            except ValueError:
                failed = None
        if failed is None:
            self._record("PROBLEM: Function returned an invalid batchItemFailures response")
            return
        done = [m.receipt_handle for m in batch if m.message_id not in failed]
        self.owner.queues.delete_messages(self.queue, done)
        self._record("OK")

    def _record(self, result: str) -> None:
        self.mapping = replace(self.mapping, last_processing_result=result)
        self.owner.remember_result(self.mapping.uuid, result)

    def stop(self) -> None:
        self.stopped.set()
        self.owner.queues._notify()

    def join(self, timeout: float = 10.0) -> None:
        for thread in list(self.threads):
            if thread is not threading.current_thread():
                thread.join(timeout)


@dataclass
class EventSourceMappings(MappingKeeper[EventSourceMapping]):
    """Every event source mapping of one lab, durable in its store, with their pollers."""

    TABLE: ClassVar[str] = "event_source_mappings"

    lab: "Lab"
    queues: Queues
    pollers: dict[str, Poller] = field(default_factory=dict)
    results: dict[str, str] = field(default_factory=dict)
    idle: threading.Condition = field(default_factory=threading.Condition)

    # -- the Lambda API ---------------------------------------------------------------

    def create(
        self, function_name: str, event_source_arn: str | None = None, *,
        enabled: bool = True, batch_size: int = quotas.ESM_SQS_BATCH_SIZE_DEFAULT,
        maximum_batching_window_in_seconds: int = 0,
        function_response_types: list[str] | None = None,
        scaling_config: Mapping[str, Any] | None = None,
        filter_criteria: Mapping[str, Any] | None = None, **ignored: Any,
    ) -> EventSourceMapping:
        """CreateEventSourceMapping for an SQS queue; returns it in state ``Creating``."""
        refuse_unsupported(ignored)
        source = self._check_source(event_source_arn)
        function_arn = self._function_arn(function_name)
        self._check_role(function_arn, source)
        size, window = _batch_settings(batch_size, maximum_batching_window_in_seconds)
        for other in self._all():
            if other.event_source_arn == source and other.function_arn == function_arn:
                raise ResourceConflictException(
                    f"An event source mapping with SQS arn (\" {source} \") and function "
                    f"(\" {function_name} \") already exists. Please update or delete the "
                    f"existing mapping with UUID {other.uuid}"
                )
        mapping = EventSourceMapping(
            uuid=str(uuid.uuid4()), event_source_arn=source, function_arn=function_arn,
            batch_size=size, maximum_batching_window_in_seconds=window, enabled=bool(enabled),
            last_modified=self.lab.clock.now(),
            function_response_types=_response_types(function_response_types),
            maximum_concurrency=_maximum_concurrency(scaling_config),
            filter_patterns=event_filters.parse_filter_criteria(filter_criteria or {}),
        )
        self._save(mapping)
        if mapping.enabled:
            self._start(mapping)
        # AWS answers a mapping created disabled as Disabled (LocalStack's recorded
        # test_fifo_message_group_parallelism), an enabled one as Creating.
        return replace(mapping, state="Creating" if mapping.enabled else "Disabled")

    def get(self, uuid: str) -> EventSourceMapping:
        rows = self.lab.store.query(
            "SELECT uuid, config FROM event_source_mappings WHERE uuid = ?", (str(uuid),))
        found = self.lab.store.loaded_rows("event_source_mappings", rows, _key, _load)
        if not found:
            raise ResourceNotFoundException(
                f"The resource you requested does not exist. No event source mapping has "
                f"UUID {uuid}{' that loads (its row is damaged)' if rows else ''}; "
                "ListEventSourceMappings shows them all."
            )
        mapping = found[0]
        result = self.results.get(mapping.uuid)
        return replace(mapping, last_processing_result=result) if result else mapping

    def update(
        self, uuid: str, *, function_name: str | None = None, enabled: bool | None = None,
        batch_size: int | None = None, maximum_batching_window_in_seconds: int | None = None,
        function_response_types: list[str] | None = None,
        scaling_config: Mapping[str, Any] | None = None,
        filter_criteria: Mapping[str, Any] | None = None, **ignored: Any,
    ) -> EventSourceMapping:
        """UpdateEventSourceMapping: settings left ``None`` keep their value."""
        refuse_unsupported(ignored)
        old = self.get(uuid)
        size, window = _batch_settings(
            old.batch_size if batch_size is None else batch_size,
            old.maximum_batching_window_in_seconds if maximum_batching_window_in_seconds is None
            else maximum_batching_window_in_seconds,
        )
        mapping = replace(
            old, batch_size=size, maximum_batching_window_in_seconds=window,
            function_arn=old.function_arn if function_name is None
            else self._function_arn(function_name),
            enabled=old.enabled if enabled is None else bool(enabled),
            function_response_types=old.function_response_types
            if function_response_types is None else _response_types(function_response_types),
            maximum_concurrency=old.maximum_concurrency if scaling_config is None
            else _maximum_concurrency(scaling_config),
            filter_patterns=old.filter_patterns if filter_criteria is None
            else event_filters.parse_filter_criteria(filter_criteria),
            last_modified=self.lab.clock.now(),
        )
        if function_name is not None:
            self._check_role(mapping.function_arn, mapping.event_source_arn)
        return self._replace(old, mapping)

    # -- pollers ----------------------------------------------------------------------

    def poller_cap(self, mapping: EventSourceMapping) -> int:
        """Pollers a mapping may run: the function's concurrency caps them."""
        name = parse_function_ref(mapping.function_arn).name
        reserved = self.lab.registry.reserved_concurrency(name)
        cap = min(self.lab.pool.account_limit if reserved is None else reserved,
                  quotas.ESM_SQS_POLLERS_MAX)
        return min(cap, mapping.maximum_concurrency or cap)

    def _is_idle(self) -> bool:
        """No poller holds a batch and no mapped queue has a visible message."""
        for poller in list(self.pollers.values()):
            # Busy, then the queue, then busy again. A poller counts itself busy before
            # it receives, so a message no longer visible is being processed or done;
            # and it deletes a batch before it counts itself free, so a FIFO group
            # that batch unlocked is visible by then (read the other way round, a batch
            # ending between the two reads left its group's next messages unseen).
            busy = poller.busy
            if busy or (poller.has_work() and not self._held_back(poller)) or poller.busy:
                return False
        return True

    def _held_back(self, poller: Poller) -> bool:
        """The poller found its role may not poll, and it still may not: its messages
        wait for the permission, not for the poller."""
        mapping = poller.mapping
        return poller.denied is not None and \
            self.role_denial(mapping.function_arn, mapping.event_source_arn) is not None

    def remember_result(self, uuid: str, result: str) -> None:
        self.results[uuid] = result

    def _start(self, mapping: EventSourceMapping) -> None:
        poller = Poller(self, mapping)
        self.pollers[mapping.uuid] = poller
        poller.start()

    # -- storage and checks -----------------------------------------------------------

    def _all(self) -> builtins.list[EventSourceMapping]:  # list is a method here
        rows = self.lab.store.query("SELECT uuid, config FROM event_source_mappings ORDER BY uuid")
        return self.lab.store.loaded_rows("event_source_mappings", rows, _key, _load)

    def _save(self, mapping: EventSourceMapping) -> None:
        with self.lab.store.transaction() as db:
            db.execute("INSERT OR REPLACE INTO event_source_mappings (uuid, config) VALUES (?, ?)",
                       (mapping.uuid, mapping.to_json()))

    def _check_role(self, function_arn: str, source: str) -> None:
        """Lambda polls with the function's execution role: under IAM enforcement it must
        allow what the poller calls (https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html#events-sqs-permissions)."""
        denial = self.role_denial(function_arn, source)
        if denial is not None:
            raise InvalidParameterValueException(denial)

    def role_denial(self, function_arn: str, source: str) -> str | None:
        """AWS's sentence for the first poller action the function's role may not call
        on the queue, or ``None`` (no enforcement, or all allowed; a function deleted
        under its mapping is not the role's fault: ``None``)."""
        if not getattr(self.lab, "enforce_iam", False):
            return None  # before any read: pollers ask this before each batch
        ref = parse_function_ref(function_arn)
        try:
            role = self.lab.registry.get(ref.name, ref.qualifier).role
        except LambdaError:
            return None
        action = denied_action(self.lab, role, POLLER_ACTIONS, source)
        if action is None:
            return None
        return f"The provided execution role does not have permissions to call {action.split(':')[1]} on SQS"

    def _check_source(self, arn: Any) -> str:
        if not isinstance(arn, str) or not arn.startswith("arn:aws:sqs:"):
            raise invalid("EventSourceArn", arn,
                          "lambdalab maps SQS queues: use arn:aws:sqs:REGION:ACCOUNT:QUEUE.")
        try:
            self.queues.get_queue(name_from_arn(arn))
        except SqsError as e:
            raise InvalidParameterValueException(
                "Error occurred while ReceiveMessage. SQS Error Code: "
                f"{e.query_code or e.code}. SQS Error Message: {e.message}"
            ) from None
        return arn


def refuse_unsupported(settings: Mapping[str, Any]) -> None:
    """A setting lambdalab does not implement (the stream-only ones, …) is refused, not
    ignored: silently dropping one would behave as AWS would not."""
    given = sorted(name for name, value in settings.items() if value is not None)
    if given:
        raise InvalidParameterValueException(
            f"lambdalab's SQS event source mappings do not support {', '.join(given)} yet. "
            "Remove it, or filter in the handler."
        )


def _key(row: Any) -> dict[str, Any]:
    return {"uuid": row["uuid"]}


def _load(row: Any) -> EventSourceMapping:
    return EventSourceMapping.from_json(row["config"])
