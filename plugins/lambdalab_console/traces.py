"""The X-Ray views' numbers, read through the X-Ray plugin's API (``lambdalab_xray``):
the service graph of the newest traces of the last hour of the lab's clock, its
``Services`` as GetServiceGraph answers them
(https://docs.aws.amazon.com/xray/latest/api/API_GetServiceGraph.html), with each edge's
calls and its error and fault shares; the newest traces as GetTraceSummaries sums them
up; and one trace's timeline, its segments and their subsegments at every depth as bars,
from BatchGetTraces's documents
(https://docs.aws.amazon.com/xray/latest/devguide/xray-api-segmentdocuments.html).
"""

from __future__ import annotations

import json
import re
from collections import deque
from typing import Any, Iterator

from lambdalab import Lab

from .bounds import SERVICE_GRAPH_TRACES, TIMELINE_BARS_MAX, TRACES_LISTED
from .graphs import plugin_loaded

#: Seconds of the lab's clock the service graph and the trace list cover (the latest).
TRACES_WINDOW_SECONDS = 3600
#: What a trace id looks like (X-Ray's ``1-<8 hex>-<24 hex>``); anything else is refused.
TRACE_ID = re.compile(r"1-[0-9a-f]{8}-[0-9a-f]{24}")


def _xray(lab: Lab) -> Any:
    """The X-Ray plugin's tracing of ``lab``, or ``None`` when it is not loaded."""
    import lambdalab_xray

    return lambdalab_xray.xray(lab) if plugin_loaded(lab, lambdalab_xray) else None


def _newest(lab: Lab, count: int) -> list[Any] | None:
    """The newest ``count`` traces of the last hour, or ``None`` without X-Ray."""
    xray = _xray(lab)
    if xray is None:
        return None
    now = lab.clock.now()
    return list(xray.newest(now - TRACES_WINDOW_SECONDS, now + 1, count))


def _outcomes(statistics: dict[str, Any]) -> dict[str, Any]:
    """Counts of a node's or an edge's SummaryStatistics, and the shares that failed."""
    total = statistics.get("TotalCount", 0)
    errors = statistics["ErrorStatistics"]["OtherCount"]
    throttles = statistics["ErrorStatistics"]["ThrottleCount"]
    faults = statistics["FaultStatistics"]["TotalCount"]
    return {"total": total, "ok": statistics["OkCount"], "errors": errors,
            "throttles": throttles, "faults": faults,
            "error_share": (errors + throttles) / total if total else 0.0,
            "fault_share": faults / total if total else 0.0,
            "average_ms": statistics["TotalResponseTime"] / total * 1000 if total else None}


def columns(services: list[dict[str, Any]]) -> dict[int, int]:
    """Each node's column, left to right: its fewest edges from a node nothing calls."""
    called = {edge["ReferenceId"] for s in services for edge in s["Edges"]}
    column = {s["ReferenceId"]: 0 for s in services if s["ReferenceId"] not in called}
    edges = {s["ReferenceId"]: [e["ReferenceId"] for e in s["Edges"]] for s in services}
    waiting = deque(column)
    while waiting:
        ref = waiting.popleft()
        for to in edges.get(ref, []):
            if to not in column:
                column[to] = column[ref] + 1
                waiting.append(to)
    return {s["ReferenceId"]: column.get(s["ReferenceId"], 0) for s in services}


def service_graph(lab: Lab) -> dict[str, Any] | None:
    """Nodes and edges of the newest traces' service graph; ``None`` without X-Ray."""
    import lambdalab_xray

    traces = _newest(lab, SERVICE_GRAPH_TRACES)
    if traces is None:
        return None
    services = lambdalab_xray.service_graph(traces, lab.arns.account_id)
    placed = columns(services)
    nodes = [{"id": s["ReferenceId"], "name": s["Name"], "type": s["Type"], "state": s["State"],
              "column": placed[s["ReferenceId"]],
              **(_outcomes(s["SummaryStatistics"]) if "SummaryStatistics" in s else {"total": None})}
             for s in services]
    edges = [{"from": s["ReferenceId"], "to": e["ReferenceId"], **_outcomes(e["SummaryStatistics"])}
             for s in services for e in s["Edges"]]
    return {"traces": len(traces), "traces_max": SERVICE_GRAPH_TRACES, "nodes": nodes, "edges": edges}


def trace_list(lab: Lab) -> list[dict[str, Any]] | None:
    """The newest traces of the last hour; ``None`` without X-Ray."""
    import lambdalab_xray

    traces = _newest(lab, TRACES_LISTED)
    if traces is None:
        return None
    summaries = [lambdalab_xray.summary(trace) for trace in traces]
    return [{"id": s["Id"], "entry": s["EntryPoint"]["Name"], "start": s["StartTime"],
             "duration_ms": s["Duration"] * 1000, "fault": s["HasFault"],
             "error": s["HasError"], "throttle": s["HasThrottle"]} for s in summaries]


def bars(doc: dict[str, Any], origin: float, depth: int, kind: str) -> Iterator[dict[str, Any]]:
    """``doc`` and its subsegments at every depth, as timeline bars (ms from ``origin``)."""
    start = float(doc["start_time"])
    end = float(doc.get("end_time", start))
    yield {"id": doc.get("id"), "name": doc.get("name"), "kind": kind, "depth": depth,
           "origin": doc.get("origin"), "start_ms": (start - origin) * 1000,
           "duration_ms": (end - start) * 1000, "in_progress": bool(doc.get("in_progress")),
           "error": bool(doc.get("error")), "fault": bool(doc.get("fault")),
           "throttle": bool(doc.get("throttle"))}
    for sub in doc.get("subsegments") or []:
        if isinstance(sub, dict):
            yield from bars(sub, origin, depth + 1, "subsegment")


def timeline(lab: Lab, trace_id: str) -> dict[str, Any] | None:
    """One trace's bars, its segments in order of their start; ``None`` when X-Ray is
    not loaded or the trace is unknown."""
    xray = _xray(lab)
    if xray is None or not TRACE_ID.fullmatch(trace_id):
        return None
    found = xray.service().batch_get_traces([trace_id])["Traces"]
    if not found:
        return None
    segments = sorted((json.loads(s["Document"]) for s in found[0]["Segments"]),
                      key=lambda s: float(s["start_time"]))
    origin = float(segments[0]["start_time"])
    drawn = [bar for segment in segments for bar in bars(segment, origin, 0, "segment")]
    return {"id": trace_id, "duration_ms": found[0]["Duration"] * 1000,
            "bars": drawn[:TIMELINE_BARS_MAX], "bars_cut": max(0, len(drawn) - TIMELINE_BARS_MAX)}
