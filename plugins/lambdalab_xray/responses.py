"""The X-Ray API, served through lambdalab's protocol layer (rest-json, botocore's
``xray`` model): PutTraceSegments, GetTraceSummaries, BatchGetTraces, GetServiceGraph
and GetTraceGraph (https://docs.aws.amazon.com/xray/latest/api/API_Operations.html).
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any, Callable

from lambdalab.plugin import ServiceError

from . import quotas

from .graph import documents, outcome, response_time, service_graph, services, summary
from .models import BadDocument, Trace, TraceStore, checked

#: The filter expressions lambdalab understands: one of these, alone
#: (https://docs.aws.amazon.com/xray/latest/devguide/xray-console-filters.html).
_FILTERS: dict[str, Callable[[Trace, re.Match[str]], bool]] = {
    r'service\(\s*"(?P<name>[^"]*)"\s*\)':
        lambda t, m: any(key[0] == m["name"] for key in services(t)),
    r"(?P<what>ok|error|fault|throttle)":
        lambda t, m: any(outcome(d) == m["what"] for d in documents(t)),
    r"(?P<what>responsetime|duration)\s*(?P<op>>=|<=|>|<|=)\s*(?P<n>\d+(?:\.\d+)?)":
        lambda t, m: _compare(
            response_time(t.roots()[0]) if m["what"] == "responsetime" else t.duration,
            m["op"], float(m["n"])),
}


def _compare(value: float, op: str, bound: float) -> bool:
    return {">": value > bound, "<": value < bound, ">=": value >= bound,
            "<=": value <= bound, "=": value == bound}[op]


def invalid(message: str) -> ServiceError:
    return ServiceError("InvalidRequestException", message, 400, {"Message": message})


def _seconds(value: datetime | float) -> float:
    return value.timestamp() if isinstance(value, datetime) else float(value)


def _offset(token: str | None) -> int:
    if token is None:
        return 0
    if not token.isdigit():
        raise invalid(f"NextToken: {token[:40]!r} is not a token this service gave. Pass "
                      "the NextToken of the previous answer, or none.")
    return int(token)


def _page(items: list[Any], token: str | None) -> tuple[list[Any], str | None]:
    start = _offset(token)
    end = start + quotas.XRAY_PAGE_MAX
    return items[start:end], (str(end) if end < len(items) else None)


class XRayService:
    """The operations; each takes the input in botocore's member names."""

    def __init__(self, store: TraceStore, now: Callable[[], float], account_id: str) -> None:
        self.store = store
        self.now = now
        self.account_id = account_id

    def put_trace_segments(self, TraceSegmentDocuments: list[str]) -> dict[str, Any]:
        good, unprocessed = [], []
        for text in TraceSegmentDocuments:
            try:
                good.append(checked(text))
            except BadDocument as error:
                unprocessed.append({"Id": _id_of(text), "ErrorCode": "InvalidSegment",
                                    "Message": str(error)})
        self.store.put(good)
        return {"UnprocessedTraceSegments": unprocessed}

    def get_trace_summaries(self, StartTime: datetime, EndTime: datetime,
                            FilterExpression: str | None = None, NextToken: str | None = None,
                            **_: Any) -> dict[str, Any]:
        start, end = _window(StartTime, EndTime)
        keep = _filter(FilterExpression)
        traces = [t for t in self.store.traces(start, end) if keep(t)]
        page, token = _page(traces, NextToken)
        out: dict[str, Any] = {"TraceSummaries": [summary(t) for t in page],
                               "ApproximateTime": self.now(),
                               "TracesProcessedCount": len(traces)}
        if token:
            out["NextToken"] = token
        return out

    def batch_get_traces(self, TraceIds: list[str], NextToken: str | None = None) -> dict[str, Any]:
        page, token = _page(TraceIds, NextToken)
        found, missing = self._traces(page)
        out: dict[str, Any] = {
            "Traces": [{"Id": t.id, "Duration": t.duration, "LimitExceeded": False,
                        "Segments": [{"Id": s["id"], "Document": json.dumps(s)}
                                     for s in t.segments]} for t in found],
            "UnprocessedTraceIds": missing,
        }
        if token:
            out["NextToken"] = token
        return out

    def get_service_graph(self, StartTime: datetime, EndTime: datetime,
                          NextToken: str | None = None, **_: Any) -> dict[str, Any]:
        start, end = _window(StartTime, EndTime)
        _offset(NextToken)
        traces = self.store.traces(start, end)
        return {"StartTime": start, "EndTime": end, "ContainsOldGroupVersions": False,
                "Services": service_graph(traces, self.account_id)}

    def get_trace_graph(self, TraceIds: list[str], NextToken: str | None = None) -> dict[str, Any]:
        _offset(NextToken)
        found, _ = self._traces(TraceIds)
        return {"Services": service_graph(found, self.account_id)}

    def _traces(self, ids: list[str]) -> tuple[list[Trace], list[str]]:
        found, missing = [], []
        for trace_id in ids:
            trace = self.store.trace(trace_id)
            if trace is None:
                missing.append(trace_id)
            else:
                found.append(trace)
        return found, missing


def _window(start: datetime | float, end: datetime | float) -> tuple[float, float]:
    first, last = _seconds(start), _seconds(end)
    if first > last:
        raise invalid("StartTime is after EndTime. Give a start before the end.")
    return first, last


def _filter(expression: str | None) -> Callable[[Trace], bool]:
    if not expression or not expression.strip():
        return lambda trace: True
    for pattern, test in _FILTERS.items():
        match = re.fullmatch(pattern, expression.strip())
        if match is not None:
            return lambda trace: test(trace, match)
    raise invalid(
        f"FilterExpression: lambdalab does not understand {expression[:200]!r}. It takes one "
        'of service("NAME"), ok, error, fault, throttle, responsetime > N or duration > N.')


def _id_of(text: str) -> str:
    """The id a bad document gives, if any, for UnprocessedTraceSegments."""
    match = re.search(r'"id"\s*:\s*"([^"]{1,64})"', text[:quotas.XRAY_SEGMENT_DOCUMENT_MAX_BYTES])
    return match.group(1) if match else ""
