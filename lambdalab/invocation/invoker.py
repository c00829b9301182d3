"""The single invoke path: every door (Python API, CLI, HTTP edge, triggers) ends here.

:meth:`Invoker.invocation` validates a request the way the Invoke API does
(https://docs.aws.amazon.com/lambda/latest/api/API_Invoke.html) and returns its steps, a
generator that :func:`drive` runs in this thread and :func:`drive_async` on an event loop:

* ``DryRun`` – stops after validation: 204;
* ``Event`` – commits the event to the async queue: 202;
* ``RequestResponse`` – resolves the qualifier (an alias may route by weight), admits
  the invoke against concurrency, takes a warm environment or starts one (cold start),
  runs the handler and writes START / END / REPORT around what the handler logged: 200.

:meth:`Invoker.execute` runs one already validated synchronous execution: the async
queue's workers and the triggers call it.

A handler's failure is not an API error: the call returns 200 with ``FunctionError:
Unhandled`` and AWS's error object as the payload.
"""

from __future__ import annotations

import base64
import binascii
import json
import random
import re
import secrets
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Awaitable, Callable, Generator, Mapping, Sequence, TypeAlias, Union

import pluggy

from .. import limits
from ..arn import ArnBuilder, parse_function_ref
from ..code import unpacked
from ..layers import opt_environment
from .environments import EnvironmentPool, PooledEnvironment
from .hooks import DirectHook, HookWatch
from ..errors import (
    InvalidParameterValueException,
    InvalidRequestContentException,
    RequestTooLargeException,
    ResourceConflictException,
    TooManyRequestsException,
)
from ..logs import (
    InvokeReport,
    LogStore,
    PlatformLog,
    iso_timestamp,
    log_events,
    log_stream_name,
    tail,
)
from ..metrics import LambdaDatum, resource_of
from ..models import FunctionConfiguration, InvokeResult, LoggingConfig
from ..registry import Registry
from ..runtime import protocol
from ..sandbox import EnvironmentSpec, ExecutionEnvironment, InvokeOutcome, InvokeRequest, SandboxBackend
from ..store import Store

#: A value ``json.dumps`` writes as a JSON document (it takes ``dict``, ``list`` and
#: ``tuple``; ``Mapping`` and ``Sequence`` here let a ``dict[str, int]`` pass as one).
JsonValue: TypeAlias = Union[
    None, bool, int, float, str, Sequence["JsonValue"], Mapping[str, "JsonValue"]
]
#: What Invoke takes as its payload: JSON text as ``bytes``-like or ``str`` (checked as
#: Invoke checks it), or a JSON-serialisable value (written with ``json.dumps``).
#: ``None`` or empty text is the payload ``{}``.
Payload: TypeAlias = bytes | bytearray | memoryview | JsonValue
_ids = random.Random(secrets.randbits(128))


#: The bits a version 4 (random) UUID fixes: version 4 and the RFC 4122 variant.
_UUID4_CLEAR = ~((0xF000 << 64) | (0xC000 << 48))
_UUID4_SET = (0x4000 << 64) | (0x8000 << 48)


def new_request_id() -> str:
    """A random (version 4) UUID, without a system call per invoke."""
    h = (_ids.getrandbits(128) & _UUID4_CLEAR | _UUID4_SET).to_bytes(16, "big").hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def encode_payload(payload: Payload, limit: int, operation: str) -> bytes:
    """The payload as JSON bytes, checked for size and syntax as Invoke checks it."""
    if payload is None:
        data = b"{}"
    elif isinstance(payload, (bytes, bytearray, memoryview)):
        data = bytes(payload) or b"{}"
    elif isinstance(payload, str):
        data = payload.encode() or b"{}"
    else:
        data = json.dumps(payload).encode()
    if len(data) > limit:
        raise RequestTooLargeException(
            f"Request must be smaller than {limit} bytes for the {operation} operation"
        )
    if not isinstance(payload, (dict, list, int, float, bool)) and payload is not None:
        try:
            protocol.loads_json(data)  # raises what json.loads would
        except RecursionError:
            raise InvalidRequestContentException(
                "Could not parse request body into json: Could not parse payload into json: "
                "the document is nested too deeply. Send a JSON document nested fewer than "
                f"{limits.JSON_DEPTH_MAX} levels deep."
            ) from None
        except ValueError as e:
            raise InvalidRequestContentException(
                f"Could not parse request body into json: Could not parse payload into "
                f"json: {e}. Send a JSON document, for example '{{\"key\": 1}}'."
            ) from None
    return data


def client_context_json(client_context: str | dict[str, Any] | None) -> str | None:
    """X-Amz-Client-Context is base64 JSON on the wire; the runtime receives the JSON."""
    if client_context is None:
        return None
    if isinstance(client_context, dict):
        return json.dumps(client_context)
    if len(client_context) > limits.CLIENT_CONTEXT_MAX_BYTES:
        raise InvalidParameterValueException(
            f"ClientContext: {len(client_context)} bytes is too long. Keep it under "
            f"{limits.CLIENT_CONTEXT_MAX_BYTES} bytes of base64."
        )
    try:
        text = base64.b64decode(client_context, validate=True).decode()
        json.loads(text)
    except (binascii.Error, ValueError):
        raise InvalidRequestContentException(
            "Client context must be a valid Base64-encoded JSON object."
        ) from None
    return text


#: The parts of an X-Ray trace header Lambda passes on
#: (https://docs.aws.amazon.com/xray/latest/devguide/xray-concepts.html#xray-concepts-tracingheader).
_TRACE_ROOT = re.compile(r"(?:^|;)\s*Root=(1-[0-9a-f]{8}-[0-9a-f]{24})\s*(?:;|$)")
_TRACE_PARENT = re.compile(r"(?:^|;)\s*Parent=([0-9a-f]{16})\s*(?:;|$)")
_TRACE_SAMPLED = re.compile(r"(?:^|;)\s*Sampled=([01])\s*(?:;|$)")


def caller_trace_id(header: str | None) -> str | None:
    """``_X_AMZN_TRACE_ID`` for an invoke whose caller sent ``header`` (Invoke's
    ``X-Amzn-Trace-Id``, or the one a function URL's front end passes on): its trace
    continues in the function, as on AWS
    (https://docs.aws.amazon.com/lambda/latest/dg/services-xray.html). None when the
    caller sent no valid one: the runtime starts a new trace."""
    if not header:
        return None
    root = _TRACE_ROOT.search(header)
    if root is None:
        return None
    parent = _TRACE_PARENT.search(header)
    sampled = _TRACE_SAMPLED.search(header)
    return (f"Root={root.group(1)};"
            f"Parent={parent.group(1) if parent else secrets.token_hex(8)};"
            f"Sampled={sampled.group(1) if sampled else 0}")


def refuse_pending(config: FunctionConfiguration) -> None:
    """Lambda does not invoke a function that is still ``Pending``
    (https://docs.aws.amazon.com/lambda/latest/dg/functions-states.html)."""
    if config.state == "Pending":
        raise ResourceConflictException(
            "The operation cannot be performed at this time. The function is currently "
            "in the following state: Pending. Wait until it is Active (boto3's "
            "function_active_v2 waiter)."
        )


# -- the steps of an invoke, and the two ways to drive them ----------------------------
#
# An invoke is written once, as a generator (``Invoker.invocation``): it does the
# quick work itself (validation, admission, the pool, logs) and *yields* the two steps
# that wait: starting an environment (a fork and INIT: milliseconds to seconds) and
# running the handler. ``drive`` does those in the calling thread (``Lab.invoke``,
# the async queue's workers); ``drive_async`` on an event loop (the HTTP edge), where
# the handler's answer is awaited rather than waited for in a thread: a thread hop
# costs a request two wake-ups, about a quarter of a warm HTTP invoke here. Once the
# caller's answer is known the invoke yields it (``Answered``) before recording it:
# ``drive_async`` given an ``answer`` sends it then, ``drive`` goes straight on.


@dataclass
class ColdStart:
    """Start an environment for ``config`` (blocking: the fork server and INIT)."""

    start: Callable[[FunctionConfiguration], PooledEnvironment]
    config: FunctionConfiguration

    def run(self) -> PooledEnvironment:
        return self.start(self.config)

    async def run_async(self, run_blocking: RunBlocking) -> PooledEnvironment:
        return await run_blocking(self.run)


@dataclass
class RunInvoke:
    """Run one invoke in a warm environment."""

    env: ExecutionEnvironment
    request: InvokeRequest

    def run(self) -> InvokeOutcome:
        return self.env.invoke(self.request)

    async def run_async(self, run_blocking: RunBlocking) -> InvokeOutcome:
        """Awaited where the environment can be (``invoke_async``), else in a thread."""
        invoke_async = getattr(self.env, "invoke_async", None)
        if invoke_async is None:
            return await run_blocking(self.run)
        return await invoke_async(self.request)


@dataclass(slots=True)
class Answered:
    """The caller's answer is known; what follows (END, REPORT, the log store, the hooks,
    the metrics) records the invoke. A driver that can answer first does
    (:func:`drive_async`'s ``answer``), as AWS returns a function's response before its
    REPORT line reaches CloudWatch Logs."""

    result: InvokeResult

    def run(self) -> None:
        return None


Step = Union[ColdStart, RunInvoke, Answered]
Steps = Generator[Step, Any, InvokeResult]
RunBlocking = Callable[..., Awaitable[Any]]
Answer = Callable[[InvokeResult], Awaitable[None]]


def drive(steps: Steps) -> InvokeResult:
    """Run an invoke's steps in this thread."""
    try:
        step = next(steps)
        while True:
            try:
                value = step.run()
            except BaseException as e:
                step = steps.throw(e)
            else:
                step = steps.send(value)
    except StopIteration as done:
        return done.value


async def drive_async(steps: Steps, run_blocking: RunBlocking,
                      answer: Answer | None = None) -> InvokeResult:
    """Run an invoke's steps on an event loop: the handler's answer is awaited where the
    environment offers ``invoke_async``; everything that blocks goes to ``run_blocking``.
    ``answer`` is awaited with the result as soon as it is known, before the invoke is
    recorded; the invoke is recorded even if ``answer`` fails, and its error is raised
    after."""
    failed: BaseException | None = None
    try:
        step = next(steps)
        while True:
            if isinstance(step, Answered):
                if answer is not None:
                    try:
                        await answer(step.result)
                    except BaseException as e:
                        failed = e
                step = steps.send(None)
                continue
            try:
                value = await step.run_async(run_blocking)
            except BaseException as e:
                step = steps.throw(e)
            else:
                step = steps.send(value)
    except StopIteration as done:
        if failed is not None:
            raise failed
        return done.value


def _report_fields(config: FunctionConfiguration, invoked_arn: str) -> dict[str, Any]:
    """The fields of an :class:`InvokeReport` that every invoke of ``config`` through
    ``invoked_arn`` shares: the function's, and what billing needs beyond the REPORT line."""
    return {
        "function_name": config.function_name,
        "version": config.version,
        "memory_size": config.memory_size,
        "architecture": (config.architectures or (limits.DEFAULT_ARCHITECTURE,))[0],
        "ephemeral_storage_mb": config.ephemeral_storage,
        "invoked_arn": invoked_arn,
    }


@dataclass(slots=True)  # not frozen: made on every invoke, and a frozen init is 4x slower
class Ending:
    """How an invoke ended, as its caller and its REPORT line see it."""

    payload: bytes
    function_error: str | None = None
    #: REPORT's ``Status`` and ``Error Type`` (a timeout, the runtime's exit)
    status: str | None = None
    error_type: str | None = None
    #: the handler's own error object, for a plugin that reads the report
    error_document: bytes | None = None
    #: the platform's line about it, before END
    line: str | None = None


@dataclass(frozen=True, slots=True)
class InvokePlan:
    """What every invoke of one configuration through one ARN shares, worked out once
    (:meth:`Invoker.plan`), not on each invoke: a new configuration (an update, a
    publish, an alias moved) is a new object, and so a new plan."""

    config: FunctionConfiguration
    invoked_arn: str
    platform: PlatformLog
    #: The ``Resource`` and ``ExecutedVersion`` metric dimensions (:func:`_metric_dimensions`).
    resource: str | None
    executed: str | None
    #: What each :class:`InvokeReport` of the plan says alike (:func:`_report_fields`).
    report_fields: dict[str, Any]
    #: Its executions' ``Invocations`` data point, and ``Errors`` without and with an error.
    invocations: LambdaDatum
    errors: tuple[LambdaDatum, LambdaDatum]
    #: Its function's ``ConcurrentExecutions`` data points, by value, made as first needed.
    concurrent: dict[int, LambdaDatum]


#: Plans kept (one per invoked ARN); past it they are all dropped and made again.
_PLANS_MAX = 4096


def _counted(made: dict[int, LambdaDatum], metric: str, count: int,
             function_name: str | None = None) -> LambdaDatum:
    """The data point of a count: made once a value and kept in ``made`` (counts of
    executions are few), so an invoke builds one data point (``Duration``), not six."""
    datum = made.get(count)
    if datum is None:
        if len(made) >= _COUNTS_KEPT:
            made.clear()
        datum = made[count] = LambdaDatum(metric, float(count), function_name)
    return datum


#: Data points of counts kept per kind (:func:`_counted`) before they are made again.
_COUNTS_KEPT = 4096


class Invoker:
    def __init__(
        self,
        *,
        store: Store,
        registry: Registry,
        pool: EnvironmentPool,
        logs: LogStore,
        arns: ArnBuilder,
        backend: Callable[[FunctionConfiguration], SandboxBackend],
        hooks: pluggy.PluginManager,
        enqueue: Callable[[str, str | None, bytes, str | None, str, str | None], None],
        now: Callable[[], float],
    ) -> None:
        #: The lab's clock: log timestamps and stream dates follow it (virtual or real);
        #: a handler's deadline and duration are real time.
        self.now = now
        self.store = store
        self.registry = registry
        self.pool = pool
        self.logs = logs
        self.arns = arns
        self.backend = backend
        self.hooks = hooks
        self.enqueue = enqueue
        watch = HookWatch(hooks)
        self._completed = DirectHook(hooks, "lambdalab_invoke_completed", watch)
        self._metrics = DirectHook(hooks, "lambdalab_lambda_metrics", watch)
        self._trace_header = DirectHook(hooks, "lambdalab_invoke_trace_header", watch)
        self._plans: dict[str, InvokePlan] = {}
        #: The account's concurrency data points, by value (see :func:`_counted`).
        self._account_counts: dict[int, LambdaDatum] = {}
        self._unreserved_counts: dict[int, LambdaDatum] = {}
        #: Where the HTTP edge listens while it serves this lab: functions get it as
        #: ``AWS_ENDPOINT_URL``, so boto3 inside a handler reaches the edge.
        self.endpoint_url: str | None = None

    # -- the door every caller uses ---------------------------------------------------

    def invocation(
        self,
        function_name: str,
        payload: Payload = None,
        *,
        qualifier: str | None = None,
        invocation_type: str = "RequestResponse",
        log_type: str = "None",
        client_context: str | dict[str, Any] | None = None,
        trace_header: str | None = None,
    ) -> Steps:
        """The steps of one invoke, validated as the Invoke API validates them: run them
        with :func:`drive` (in this thread) or :func:`drive_async` (on an event loop).
        ``trace_header``: the caller's X-Ray header (see :func:`caller_trace_id`)."""
        if invocation_type not in limits.INVOCATION_TYPES:
            raise InvalidParameterValueException(
                f"InvocationType: {invocation_type!r} is not valid. Use one of "
                f"{', '.join(limits.INVOCATION_TYPES)}."
            )
        if log_type not in limits.LOG_TYPES:
            raise InvalidParameterValueException(
                f"LogType: {log_type!r} is not valid. Use None or Tail."
            )
        ref = parse_function_ref(function_name, qualifier)
        is_async = invocation_type == "Event"
        data = encode_payload(
            payload,
            limits.ASYNC_PAYLOAD_MAX_BYTES if is_async else limits.SYNC_PAYLOAD_MAX_BYTES,
            "InvokeAsync" if is_async else "Invoke",
        )
        context = client_context_json(client_context)
        # not found -> 404 here, naming ...:$LATEST when unqualified, as AWS's Invoke does
        config = self.registry.get(ref.name, ref.qualifier or limits.LATEST)
        refuse_pending(config)
        request_id = new_request_id()
        if invocation_type == "DryRun":
            return InvokeResult(status_code=204, request_id=request_id)
        if is_async:
            self.enqueue(ref.name, ref.qualifier, data, context, request_id,
                         caller_trace_id(trace_header))
            return InvokeResult(status_code=202, request_id=request_id)
        if ref.qualifier not in (None, limits.LATEST) and not ref.qualifier.isdigit():
            config = self.registry.resolve(ref.name, ref.qualifier)
        else:
            config = self.registry.running(config)
        return (
            yield from self._execution(
                config,
                data,
                request_id=request_id,
                invoked_arn=self.arns.function(ref.name, ref.qualifier),
                client_context=context,
                log_type=log_type,
                trace_header=trace_header,
            )
        )

    # -- one synchronous execution ----------------------------------------------------

    def execute(
        self,
        config: FunctionConfiguration,
        data: bytes,
        *,
        request_id: str,
        invoked_arn: str,
        client_context: str | None = None,
        log_type: str = "None",
        trace_id: str | None = None,
    ) -> InvokeResult:
        """Run one synchronous execution of ``config`` (the async queue's workers and the
        triggers call this directly: their requests are already validated)."""
        return drive(
            self._execution(
                config,
                data,
                request_id=request_id,
                invoked_arn=invoked_arn,
                client_context=client_context,
                log_type=log_type,
                trace_header=trace_id,
            )
        )

    def _execution(
        self,
        config: FunctionConfiguration,
        data: bytes,
        *,
        request_id: str,
        invoked_arn: str,
        client_context: str | None,
        log_type: str,
        trace_header: str | None = None,
    ) -> Steps:
        name = config.function_name
        plan = self.plan(config, invoked_arn)
        try:
            self.pool.admit(name, *self.registry.admission(name))
        except TooManyRequestsException:
            self._throttled_metrics(plan)
            raise
        try:
            pooled = self.pool.take_warm(self.pool.key_of(config))
            lines: list[str] = []
            init_ms = None
            platform = plan.platform
            if pooled is None:
                pooled = yield ColdStart(self._start, config)
                self.pool.add_busy(pooled)
                init = pooled.env.init
                init_ms = init.duration_ms
                lines.extend(platform.init_start(config.runtime, self.arns.region))
                lines.extend(init.log_lines)
                if init.error is not None:
                    return self._init_failed(pooled, plan, request_id, lines, log_type, data)
            request = InvokeRequest(
                request_id=request_id,
                payload=data,
                invoked_function_arn=invoked_arn,
                deadline_ms=int(time.time() * 1000) + config.timeout * 1000,
                timeout_s=config.timeout,
                client_context=client_context,
                trace_id=self._trace_id(config, request_id, trace_header),
            )
            lines.extend(platform.start(request_id, config.version))
            carry: list[str] = []  # the end of what was spilled, for a Tail
            spills = hasattr(pooled.env, "log_spill")  # a backend that can hand lines over
            if spills:
                pooled.env.log_spill = self._spiller(config, pooled, lines, carry)  # type: ignore[union-attr]
            try:
                outcome = yield RunInvoke(pooled.env, request)
            except BaseException:  # a backend's bug, or the caller gave up (cancelled)
                self.pool.give_back(pooled, healthy=False)
                raise
            finally:
                if spills:
                    pooled.env.log_spill = None  # type: ignore[union-attr]
            ending = self._ending(plan.config, request_id, outcome)
            result = InvokeResult.answered(ending.payload, ending.function_error,
                                           config.version, request_id)
            if log_type != "Tail":  # a Tail carries the REPORT line: recorded first
                yield Answered(result)
            report = self._finish(pooled, plan, request_id, outcome, ending, init_ms, lines, data)
        finally:
            concurrency = self.pool.leave(name)
        self._completed(report)
        self._execution_metrics(plan, result.function_error, report.duration_ms, concurrency)
        if log_type == "Tail":
            return _with_tail(result, carry + lines)
        return result

    def plan(self, config: FunctionConfiguration, invoked_arn: str) -> InvokePlan:
        """The :class:`InvokePlan` of ``config`` invoked as ``invoked_arn``."""
        plan = self._plans.get(invoked_arn)
        if plan is None or plan.config is not config:
            if len(self._plans) >= _PLANS_MAX:
                self._plans = {}
            resource, executed = _metric_dimensions(config, invoked_arn)
            name = config.function_name
            plan = InvokePlan(
                config, invoked_arn, PlatformLog(config.logging, self.now), resource,
                executed, _report_fields(config, invoked_arn),
                LambdaDatum("Invocations", 1.0, name, resource, executed),
                (LambdaDatum("Errors", 0.0, name, resource, executed),
                 LambdaDatum("Errors", 1.0, name, resource, executed)),
                {},
            )
            self._plans[invoked_arn] = plan
        return plan

    def _execution_metrics(
        self, plan: InvokePlan, function_error: str | None, duration_ms: float | None,
        concurrency: tuple[int, int, int],
    ) -> None:
        """What AWS publishes for one execution: ``Invocations``, ``Errors``,
        ``Duration`` and the concurrency at that moment (``concurrency`` counts it too)."""
        if not self._metrics.listened:
            return  # nobody listens: the invoke path pays nothing more
        function, account, unreserved = concurrency
        data = [
            plan.invocations,
            plan.errors[1 if function_error else 0],
            _counted(plan.concurrent, "ConcurrentExecutions", function,
                     plan.config.function_name),
            _counted(self._account_counts, "ConcurrentExecutions", account),
            _counted(self._unreserved_counts, "UnreservedConcurrentExecutions", unreserved),
        ]
        if duration_ms is not None:
            data.append(LambdaDatum("Duration", duration_ms, plan.config.function_name,
                                    plan.resource, plan.executed))
        self._metrics(data)

    def _throttled_metrics(self, plan: InvokePlan) -> None:
        self._metrics([LambdaDatum("Throttles", 1.0, plan.config.function_name, plan.resource,
                                   plan.executed)])

    def _spiller(
        self, config: FunctionConfiguration, pooled: PooledEnvironment, lines: list[str],
        carry: list[str],
    ) -> Callable[[list[str]], None]:
        """Where an environment hands over log lines before its invoke ends: written at
        once after what ``lines`` holds so far, so a chatty handler's output does not
        pile up in memory. ``carry`` keeps the last 4 KB of it for a Tail."""

        def spill(chunk: list[str]) -> None:
            batch = lines + chunk
            lines.clear()
            self.logs.write(
                config.log_group_name, pooled.env.spec.log_stream_name, batch, self.now()
            )
            carry[:] = _last_bytes(carry + batch, limits.TAIL_LOG_BYTES)

        return spill

    def _trace_id(
        self, config: FunctionConfiguration, request_id: str, caller_header: str | None
    ) -> str | None:
        """The handler's X-Ray header: a plugin's (``lambdalab_invoke_trace_header``), or
        the caller's passed on (:func:`caller_trace_id`)."""
        return self._trace_header(config, request_id, caller_header) or caller_trace_id(
            caller_header)

    def _ending(self, config: FunctionConfiguration, request_id: str,
                outcome: InvokeOutcome) -> Ending:
        """How the invoke ended, as its caller and its REPORT line see it."""
        payload = outcome.payload
        if outcome.status == "error":
            return Ending(payload, "Unhandled", error_document=payload)
        if outcome.status == "timeout":
            error_type = "Sandbox.Timedout"
            message = f"Task timed out after {config.timeout:.2f} seconds"
            return Ending(_platform_error(request_id, error_type, message), "Unhandled",
                          "timeout", error_type,
                          line=f"{iso_timestamp(self.now())} {request_id} {message}")
        if outcome.status == "crash":
            error_type = outcome.error_type or "Runtime.ExitError"
            message = exit_message(outcome.exit_reason)
            return Ending(_platform_error(request_id, error_type, message), "Unhandled",
                          "error", error_type,
                          line=f"RequestId: {request_id} Error: {message}\n{error_type}")
        if len(payload) > limits.SYNC_RESPONSE_MAX_BYTES:
            error_type = "Function.ResponseSizeTooLarge"
            too_large = json.dumps(
                {
                    "errorMessage": "Response payload size exceeded maximum allowed payload "
                    f"size ({limits.SYNC_RESPONSE_MAX_BYTES} bytes).",
                    "errorType": error_type,
                }
            ).encode()
            return Ending(too_large, "Unhandled", error_type=error_type)
        return Ending(payload)

    def _finish(
        self,
        pooled: PooledEnvironment,
        plan: InvokePlan,
        request_id: str,
        outcome: InvokeOutcome,
        ending: Ending,
        init_ms: float | None,
        lines: list[str],
        event: bytes,
    ) -> InvokeReport:
        """The invoke is over: its log lines, REPORT, the environment back to the pool; its
        report."""
        config, platform = plan.config, plan.platform
        pooled.invocations += 1
        lines.extend(outcome.log_lines)
        if ending.line is not None:
            lines.append(ending.line)
        lines.extend(platform.end(request_id))
        report = InvokeReport.assembled(
            plan.report_fields,
            request_id=request_id,
            duration_ms=outcome.duration_ms,
            max_memory_used_mb=outcome.max_memory_used_mb,
            init_duration_ms=init_ms,
            status=ending.status,
            error_type=ending.error_type,
            error_document=ending.error_document,
            log_stream_name=pooled.env.spec.log_stream_name,
            event=event,
            response=ending.payload,
        )
        lines.extend(platform.report(report))
        self.logs.write(
            config.log_group_name, pooled.env.spec.log_stream_name, log_events(lines), self.now()
        )
        self.pool.give_back(pooled, healthy=not outcome.environment_lost)
        return report

    def _init_failed(
        self,
        pooled: PooledEnvironment,
        plan: InvokePlan,
        request_id: str,
        lines: list[str],
        log_type: str,
        event: bytes,
    ) -> InvokeResult:
        """INIT failed: report it as AWS does, and discard the environment."""
        config, platform = plan.config, plan.platform
        init = pooled.env.init
        assert init.error is not None
        error_type = init.error.get("errorType", "Runtime.Unknown")
        status = "timeout" if init.timed_out else "error"
        lines.extend(platform.init_report(init.duration_ms, status, error_type))
        lines.extend(platform.start(request_id, config.version))
        payload = json.dumps(init.error).encode()
        reason = str(init.error.get("errorMessage", ""))
        if error_type == "Runtime.ExitError" and reason.startswith(_INIT_EXIT_PREFIX):
            # The runtime process ended during INIT: AWS reports it on the invoke as it
            # reports an exit during the invoke, with the invoke's request id.
            message = exit_message(reason[len(_INIT_EXIT_PREFIX):])
            lines.append(f"RequestId: {request_id} Error: {message}\n{error_type}")
            payload = _platform_error(request_id, error_type, message)
        lines.extend(platform.end(request_id))
        report = InvokeReport.assembled(
            plan.report_fields,
            request_id=request_id,
            duration_ms=0.0,
            max_memory_used_mb=init.max_memory_used_mb,
            init_duration_ms=init.duration_ms,
            status=status,
            error_type=error_type,
            log_stream_name=pooled.env.spec.log_stream_name,
            event=event,
            response=payload,
        )
        lines.extend(platform.report(report))
        self.logs.write(
            config.log_group_name, pooled.env.spec.log_stream_name, log_events(lines), self.now()
        )
        self.pool.give_back(pooled, healthy=False)
        self._completed(report)
        self._execution_metrics(plan, "Unhandled", None,
                                self.pool.concurrency(config.function_name))
        result = InvokeResult(
            status_code=200,
            payload=payload,
            function_error="Unhandled",
            executed_version=config.version,
            request_id=request_id,
        )
        return _with_tail(result, lines) if log_type == "Tail" else result

    # -- starting environments --------------------------------------------------------

    def _start(self, config: FunctionConfiguration) -> PooledEnvironment:
        env_id = secrets.token_hex(8)
        tmp_dir = self.store.data_dir / "environments" / env_id / "tmp"
        tmp_dir.mkdir(parents=True)
        try:
            spec = self.spec_for(config, tmp_dir)
        except Exception:  # a hook refused the start (a role Lambda cannot assume): leave nothing
            shutil.rmtree(tmp_dir.parent, ignore_errors=True)
            raise
        env = self.backend(config).start(spec)
        self.hooks.hook.lambdalab_environment_started(
            function_name=config.function_name,
            version=config.version,
            log_stream_name=spec.log_stream_name,
            init_duration_ms=env.init.duration_ms,
        )
        return PooledEnvironment(
            env=env,
            function_name=config.function_name,
            version=config.version,
            generation=self.pool.key_of(config)[2],
            tmp_dir=str(tmp_dir.parent),
        )

    def spec_for(self, config: FunctionConfiguration, tmp_dir: Path) -> EnvironmentSpec:
        task_root = unpacked(
            self.store.code_dir, self.store.blob_path(config.code_blob), config.code_blob
        )
        stream = log_stream_name(config.version, self.now())
        return EnvironmentSpec(
            function_name=config.function_name,
            version=config.version,
            runtime=config.runtime,
            handler=config.handler,
            task_root=str(task_root),
            tmp_dir=str(tmp_dir),
            memory_size=config.memory_size,
            timeout=config.timeout,
            ephemeral_storage=config.ephemeral_storage,
            log_group_name=config.log_group_name,
            log_stream_name=stream,
            environ=self.environ_for(config, str(task_root), stream, str(tmp_dir)),
        )

    def environ_for(
        self, config: FunctionConfiguration, task_root: str, stream: str, tmp_dir: str
    ) -> dict[str, str]:
        """AWS's runtime environment variables, then the function's own. Nothing of the host.

        https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html#configuration-envvars-runtime
        """
        region = self.arns.region
        base = {
            "_HANDLER": config.handler,
            "AWS_REGION": region,
            "AWS_DEFAULT_REGION": region,
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{config.runtime}",
            "AWS_LAMBDA_FUNCTION_NAME": config.function_name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(config.memory_size),
            "AWS_LAMBDA_FUNCTION_VERSION": config.version,
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
            "AWS_LAMBDA_LOG_GROUP_NAME": config.log_group_name,
            **log_environment(config.logging),
            "AWS_LAMBDA_LOG_STREAM_NAME": stream,
            "AWS_ACCESS_KEY_ID": limits.PLACEHOLDER_ACCESS_KEY_ID,
            "AWS_SECRET_ACCESS_KEY": "lambdalab-not-a-secret",
            "AWS_SESSION_TOKEN": "lambdalab",
            "LAMBDA_TASK_ROOT": task_root,
            "LAMBDA_RUNTIME_DIR": str(Path(__file__).parent / "runtime"),
            "LANG": "en_US.UTF-8",
            "PATH": limits.RUNTIME_PATH,
            "LD_LIBRARY_PATH": limits.RUNTIME_LD_LIBRARY_PATH,
            "PYTHONPATH": task_root,
            "TZ": ":UTC",
            "LC_CTYPE": "C.UTF-8",
            **XRAY_ENVIRONMENT,
            "TMPDIR": tmp_dir,
            "LAMBDALAB_PYTHON": sys.executable,
            **({"AWS_ENDPOINT_URL": self.endpoint_url} if self.endpoint_url else {}),
        }
        for extra in self.hooks.hook.lambdalab_runtime_environment(config=config):
            base.update(extra or {})
        layers = opt_environment(self.store, config.layers, config.runtime, base)
        return {**base, **layers, **config.environment}


def log_environment(logging: LoggingConfig) -> dict[str, str]:
    """``AWS_LAMBDA_LOG_FORMAT`` and ``AWS_LAMBDA_LOG_LEVEL``, which AWS sets for a JSON
    function and its runtime reads (awslambdaric; AWS's Node.js runtime)."""
    if not logging.json:
        return {}
    level = logging.application_log_level or limits.LOG_LEVEL_DEFAULT
    return {"AWS_LAMBDA_LOG_FORMAT": "JSON", "AWS_LAMBDA_LOG_LEVEL": level}


#: How a sandbox words an exit during INIT (``init_failure`` of the process backends).
_INIT_EXIT_PREFIX = "Runtime exited during init: "


def _metric_dimensions(config: FunctionConfiguration, invoked_arn: str) -> tuple[str | None, str | None]:
    """The ``Resource`` and ``ExecutedVersion`` dimensions of an invoke of ``invoked_arn``
    (https://docs.aws.amazon.com/lambda/latest/dg/monitoring-metrics-types.html): the
    qualifier invoked, and the version an alias ran."""
    parts = invoked_arn.split(":")  # arn:aws:lambda:REGION:ACCOUNT:function:NAME[:Q]
    qualifier = parts[7] if len(parts) > 7 else None
    is_alias = qualifier not in (None, limits.LATEST) and not qualifier.isdigit()
    return resource_of(config.function_name, qualifier), config.version if is_alias else None


def exit_message(exit_reason: str | None) -> str:
    """AWS's words for a runtime process that ended: an exit with status 0 is "without
    providing a reason"; anything else names the reason (``exit status 1``,
    ``signal: killed``). As recorded in LocalStack's AWS snapshots
    (``test_lambda.snapshot.json``, ``TestLambdaErrors::test_lambda_runtime_exit``)."""
    if exit_reason == "exit status 0":
        return "Runtime exited without providing a reason"
    return f"Runtime exited with error: {exit_reason}"


#: X-Ray's variables, as AWS sets them; a plugin that runs a daemon (``lambdalab_xray``)
#: points them at it through the ``lambdalab_runtime_environment`` hook.
#: https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html#configuration-envvars-runtime
XRAY_ENVIRONMENT = {
    "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
    "AWS_XRAY_DAEMON_ADDRESS": "169.254.100.1:2000",
    "_AWS_XRAY_DAEMON_ADDRESS": "169.254.100.1",
    "_AWS_XRAY_DAEMON_PORT": "2000",
}


def _platform_error(request_id: str, error_type: str, message: str) -> bytes:
    """A platform error payload (timeout, crash), as the Invoke API returns it.

    https://docs.aws.amazon.com/lambda/latest/dg/troubleshooting-invocation.html
    """
    return json.dumps(
        {"errorType": error_type, "errorMessage": f"RequestId: {request_id} Error: {message}"}
    ).encode()


def _last_bytes(lines: list[str], size: int) -> list[str]:
    """The shortest end of ``lines`` that holds at least ``size`` characters."""
    kept, total = 0, 0
    while kept < len(lines) and total < size:
        kept += 1
        total += len(lines[-kept]) + 1
    return lines[len(lines) - kept:]


def _with_tail(result: InvokeResult, lines: list[str]) -> InvokeResult:
    from dataclasses import replace

    # AWS's LogResult shows each event on its own line(s), and no INIT_START line
    shown = [e.removesuffix("\n") for e in log_events(lines) if not e.startswith("INIT_START ")]
    return replace(result, log_result=tail(shown))
