"""Trace ids, sampling, and the segments Lambda records for a traced invoke.

An ``Active`` function's sampled invoke is recorded as AWS's Lambda records it
(https://docs.aws.amazon.com/lambda/latest/dg/services-xray.html): an ``AWS::Lambda``
segment for the service, and under it an ``AWS::Lambda::Function`` segment with the
``Initialization`` (on a cold start), ``Invocation`` and ``Overhead`` subsegments. The
handler's ``_X_AMZN_TRACE_ID`` names the function segment as ``Parent``, so what an SDK
in the handler sends to the daemon lands under it, beside ``Invocation``.
"""

from __future__ import annotations

import json
import random
import re
import threading
from dataclasses import dataclass, field
from typing import Any

from lambdalab import InvokeReport

from . import quotas

#: ``1-<8 hex: epoch seconds>-<24 hex>``
#: (https://docs.aws.amazon.com/xray/latest/devguide/xray-api-sendingdata.html#xray-api-traceids).
TRACE_ID = re.compile(r"^1-[0-9a-f]{8}-[0-9a-f]{24}$")
SEGMENT_ID = re.compile(r"^[0-9a-f]{16}$")
_HEADER_FIELD = re.compile(r"\s*(Root|Parent|Sampled)=([^;]*)")

#: Ids need no secrecy, only uniqueness: one generator, seeded from the OS.
_ids = random.Random()


def new_trace_id(now: float) -> str:
    """A trace id whose time part is ``now`` (the lab's clock)."""
    return f"1-{int(now):08x}-{_ids.getrandbits(96):024x}"


def new_segment_id() -> str:
    return f"{_ids.getrandbits(64):016x}"


def trace_epoch(trace_id: str) -> float:
    """The time a trace id was made, from its second field."""
    return float(int(trace_id.split("-")[1], 16))


@dataclass(frozen=True)
class TraceHeader:
    """An ``X-Amzn-Trace-Id`` / ``_X_AMZN_TRACE_ID``: root, parent and sampling decision."""

    root: str
    parent: str | None = None
    #: ``True``/``False`` as the header says; ``None`` when it leaves the decision open.
    sampled: bool | None = None

    @classmethod
    def parse(cls, text: str | None) -> "TraceHeader | None":
        fields = dict(_HEADER_FIELD.findall(text or ""))
        root = fields.get("Root", "")
        if not TRACE_ID.match(root):
            return None
        parent = fields.get("Parent")
        sampled = {"1": True, "0": False}.get(fields.get("Sampled", ""))
        return cls(root, parent if parent and SEGMENT_ID.match(parent) else None, sampled)

    def __str__(self) -> str:
        text = f"Root={self.root}"
        if self.parent:
            text += f";Parent={self.parent}"
        return text + f";Sampled={int(bool(self.sampled))}"


@dataclass
class Sampler:
    """Lambda's fixed sampling: the first ``reservoir`` requests of each second of the
    lab's clock, then ``rate`` of the rest. Give ``rng`` a seed for a repeatable run."""

    rng: random.Random = field(default_factory=random.Random)
    reservoir: int = quotas.XRAY_SAMPLING_RESERVOIR_PER_S
    rate: float = quotas.XRAY_SAMPLING_RATE
    _second: int = -1
    _taken: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def sample(self, now: float) -> bool:
        with self._lock:
            if int(now) != self._second:
                self._second, self._taken = int(now), 0
            if self._taken < self.reservoir:
                self._taken += 1
                return True
            return self.rng.random() < self.rate


@dataclass(frozen=True)
class TracedInvoke:
    """What the trace hook decided for one execution, kept until its report arrives."""

    header: TraceHeader
    #: The ``AWS::Lambda`` segment's id; the function segment's is ``header.parent``.
    service_segment_id: str
    #: The caller's segment, when the caller's header named one.
    caller_parent: str | None
    #: The lab's clock when the handler was handed the event.
    started_at: float
    #: ``time.perf_counter()`` then, to measure the overhead after the handler.
    started_perf: float


def lambda_segments(
    traced: TracedInvoke, report: InvokeReport, elapsed_s: float, account_id: str
) -> list[dict[str, Any]]:
    """The ``AWS::Lambda`` and ``AWS::Lambda::Function`` segments of one execution.

    ``elapsed_s``: real seconds from handing the event over to the report, so
    ``Overhead`` is what was not the handler's ``Duration``.
    """
    init_s = (report.init_duration_ms or 0.0) / 1000
    run_s = report.duration_ms / 1000
    begin, start = traced.started_at - init_s, traced.started_at
    end = start + max(elapsed_s, run_s)
    trace_id = traced.header.root
    fault = report.status is not None  # a timeout or a crash: the platform's error
    failed = fault or report.error_document is not None  # or the handler raised
    aws = {"request_id": report.request_id}
    if report.invoked_arn:
        aws["function_arn"] = report.invoked_arn
    service: dict[str, Any] = {
        "id": traced.service_segment_id, "trace_id": trace_id, "name": report.function_name,
        "origin": "AWS::Lambda", "start_time": begin, "end_time": end,
        "http": {"response": {"status": 200}}, "aws": aws, "fault": fault,
        "resource_arn": report.invoked_arn or None,
    }
    if traced.caller_parent:
        service["parent_id"] = traced.caller_parent
    subsegments: list[dict[str, Any]] = []
    if report.init_duration_ms is not None:
        subsegments.append(_subsegment("Initialization", begin, start))
    subsegments.append(_subsegment("Invocation", start, start + run_s, fault=failed))
    subsegments.append(_subsegment("Overhead", start + run_s, end))
    function: dict[str, Any] = {
        "id": traced.header.parent, "trace_id": trace_id, "name": report.function_name,
        "origin": "AWS::Lambda::Function", "parent_id": traced.service_segment_id,
        "start_time": begin, "end_time": end, "fault": failed,
        "aws": {"account_id": account_id, "function_arn": report.invoked_arn,
                "resource_names": [report.function_name]},
        "subsegments": subsegments,
    }
    if report.status:
        function["cause"] = {"exceptions": [{"id": new_segment_id(),
                                              "message": report.error_type or report.status}]}
    elif report.error_document is not None:
        function["cause"] = handler_cause(report.error_document)
    return [service, function]


#: Where AWS's runtimes run a handler: the ``working_directory`` of its X-Ray cause.
TASK_ROOT = "/var/task"
#: A frame of a Python traceback as the runtime reports it in ``stackTrace``.
_PYTHON_FRAME = re.compile(r'File "(?P<path>[^"]*)", line (?P<line>\d+), in (?P<label>[^\n]*)')


def handler_cause(document: bytes) -> dict[str, Any]:
    """X-Ray's ``cause`` of a handler's error, from the error document its runtime
    reported: the exception's type, message and stack, each frame's file, line and
    function, as AWS's runtimes hand it to Lambda
    (``Lambda-Runtime-Function-XRay-Error-Cause``,
    https://docs.aws.amazon.com/xray/latest/devguide/xray-api-segmentdocuments.html#api-segmentdocuments-errors).
    A document that is not the runtime's JSON gives a cause with its first bytes."""
    try:
        error = json.loads(document)
    except (ValueError, RecursionError):
        error = None
    if not isinstance(error, dict):
        error = {"errorMessage": document[:quotas.XRAY_CAUSE_MESSAGE_MAX_CHARS].decode(errors="replace")}
    frames = error.get("stackTrace")
    frames = frames if isinstance(frames, list) else []
    stack = [_frame(str(f)) for f in frames[:quotas.XRAY_CAUSE_STACK_FRAMES_MAX]]
    exception: dict[str, Any] = {
        "id": new_segment_id(),
        "message": str(error.get("errorMessage", ""))[:quotas.XRAY_CAUSE_MESSAGE_MAX_CHARS],
        "type": str(error.get("errorType", "Error")), "stack": stack}
    if len(frames) > len(stack):
        exception["truncated"] = len(frames) - len(stack)
    return {"working_directory": TASK_ROOT, "exceptions": [exception],
            "paths": sorted({f["path"] for f in stack if "path" in f})}


def _frame(text: str) -> dict[str, Any]:
    """One stack frame of X-Ray's cause: ``path``, ``line`` and ``label`` (the
    function) of a Python frame; another runtime's line as the label."""
    cut = quotas.XRAY_CAUSE_FRAME_MAX_CHARS
    found = _PYTHON_FRAME.search(text)
    if found is None:
        return {"label": text.strip()[:cut]}
    return {"path": found["path"][:cut], "line": int(found["line"]),
            "label": found["label"].strip()[:cut]}


def _subsegment(name: str, start: float, end: float, fault: bool = False) -> dict[str, Any]:
    doc: dict[str, Any] = {"id": new_segment_id(), "name": name, "start_time": start,
                           "end_time": end}
    if fault:
        doc["fault"] = True
    return doc
