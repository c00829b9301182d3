"""Service graphs and trace summaries, worked out from segment documents.

A node is a service: a segment (named by its ``name`` and typed by its ``origin``, such
as ``AWS::Lambda`` and ``AWS::Lambda::Function``), or a call a segment made that
names its service (a subsegment with ``namespace`` ``aws``, typed ``AWS::<name>``, or
``remote``). An edge goes from a segment to its child segments and to the services
its subsegments called
(https://docs.aws.amazon.com/xray/latest/devguide/xray-concepts.html#xray-concepts-servicegraph).
A call that another service's segment answers is that segment (an SDK's ``Lambda``
call is the callee's ``AWS::Lambda`` node), unless the call's service only passed the
trace on: a write to S3 that notified a function, a message SQS delivered to one. Then
the call stays a node, and the edge to the function goes from it
(``function → S3 → function``, as X-Ray draws an event-driven chain,
https://docs.aws.amazon.com/xray/latest/devguide/xray-services-s3.html).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Iterator

from .models import Trace

#: A node's identity: name and type.
NodeKey = tuple[str, str]


def segment_key(segment: dict[str, Any]) -> NodeKey:
    return segment["name"], segment.get("origin") or "client"


def response_time(doc: dict[str, Any]) -> float:
    return float(doc.get("end_time", doc["start_time"])) - float(doc["start_time"])


def outcome(doc: dict[str, Any]) -> str:
    """``throttle``, ``fault``, ``error`` or ``ok``, as X-Ray counts a call."""
    if doc.get("throttle"):
        return "throttle"
    if doc.get("fault"):
        return "fault"
    return "error" if doc.get("error") else "ok"


def calls(doc: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The subsegments under ``doc`` that call another service."""
    for sub in doc.get("subsegments") or []:
        if not isinstance(sub, dict) or not isinstance(sub.get("name"), str):
            continue
        if sub.get("namespace") in ("aws", "remote"):
            yield sub
        yield from calls(sub)


#: The names X-Ray gives the services an SDK names by their endpoint prefix (the Python
#: SDK's ``s3``; the Java and Node SDKs already send ``S3``).
AWS_SERVICE_NAMES = {
    "s3": "S3", "sqs": "SQS", "sns": "SNS", "lambda": "Lambda", "dynamodb": "DynamoDB",
    "kinesis": "Kinesis", "events": "EventBridge", "logs": "CloudWatchLogs",
    "monitoring": "CloudWatch", "cloudwatch": "CloudWatch", "xray": "XRay", "sts": "STS",
}


def call_key(sub: dict[str, Any]) -> NodeKey:
    if sub.get("namespace") == "aws":
        name = AWS_SERVICE_NAMES.get(sub["name"], sub["name"])
        return name, f"AWS::{name}"
    return sub["name"], "remote"


def relayed_by(trace: Trace, segment: dict[str, Any]) -> dict[str, Any] | None:
    """The call ``segment`` hangs under when that call's service only passed the trace on
    to it (a call to another AWS service than the segment's own); ``None`` when the
    segment answered the call itself, or hangs under a segment."""
    sub = trace.subsegment(segment.get("parent_id"))
    if sub is None or sub.get("namespace") != "aws" or not isinstance(sub.get("name"), str):
        return None
    return sub if call_key(sub)[1] != segment.get("origin") else None


def answered(trace: Trace) -> set[Any]:
    """The ids of the calls whose callee recorded a segment of its own: that segment is
    the call's node."""
    return {s.get("parent_id") for s in trace.segments if relayed_by(trace, s) is None}


@dataclass
class Stats:
    """Counts and times of the calls a node (or an edge) answered."""

    outcomes: Counter[str] = field(default_factory=Counter)
    total_time: float = 0.0
    times: list[float] = field(default_factory=list)
    start: float = float("inf")
    end: float = 0.0

    def add(self, doc: dict[str, Any]) -> None:
        self.outcomes[outcome(doc)] += 1
        elapsed = response_time(doc)
        self.total_time += elapsed
        self.times.append(elapsed)
        self.start = min(self.start, float(doc["start_time"]))
        self.end = max(self.end, float(doc.get("end_time", doc["start_time"])))

    def to_aws(self) -> dict[str, Any]:
        return {
            "OkCount": self.outcomes["ok"],
            "ErrorStatistics": {"ThrottleCount": self.outcomes["throttle"],
                                "OtherCount": self.outcomes["error"],
                                "TotalCount": self.outcomes["error"] + self.outcomes["throttle"]},
            "FaultStatistics": {"OtherCount": self.outcomes["fault"],
                                "TotalCount": self.outcomes["fault"]},
            "TotalCount": sum(self.outcomes.values()),
            "TotalResponseTime": self.total_time,
        }

    def histogram(self) -> list[dict[str, Any]]:
        counts = Counter(round(t, 3) for t in self.times)
        return [{"Value": value, "Count": n} for value, n in sorted(counts.items())]


@dataclass
class Node:
    stats: Stats = field(default_factory=Stats)
    root: bool = False
    #: Whether a segment of this service was sent (else X-Ray only infers it: a call's
    #: service, the client in front of an entry point).
    recorded: bool = False
    edges: dict[NodeKey, Stats] = field(default_factory=dict)

    def edge(self, to: NodeKey) -> Stats:
        return self.edges.setdefault(to, Stats())

    def span(self) -> tuple[float, float]:
        """When the node was seen: its calls', else its edges' first start and last end."""
        seen = [self.stats] if self.stats.times else list(self.edges.values())
        return min(s.start for s in seen), max(s.end for s in seen)


def walk_order(trace: Trace) -> list[dict[str, Any]]:
    """The trace's segments in the order they began, never one before its caller, and of
    two that began at once the caller first; the graph's reference ids follow this walk.

    Not as they arrived: a callee's segment may reach the daemon before its caller's.
    Not by start time alone: a segment begins at its INIT, so a callee whose INIT was
    longer than its caller's would seem to begin first, as it does on the lab's virtual
    clock, which stands still while the caller's handler runs (CI run 61). Lambda's
    ``AWS::Lambda`` and ``AWS::Lambda::Function`` segments begin at the same instant:
    the service's, the function's caller, comes first however they arrived."""
    keys: dict[int, tuple[float, int]] = {}  # id(segment) -> (when it began, its depth)
    for segment in trace.segments:
        chain, on_chain = [], set()
        node: dict[str, Any] | None = segment
        while node is not None and id(node) not in keys and id(node) not in on_chain:
            chain.append(node)
            on_chain.add(id(node))
            node = trace.owner(node.get("parent_id"))
        # a caller already placed, else none (a root, or a made-up circle of parents)
        below = keys.get(id(node)) if node is not None else None
        for link in reversed(chain):
            start = float(link.get("start_time", 0))
            below = (start, 0) if below is None else (max(start, below[0]), below[1] + 1)
            keys[id(link)] = below
    return sorted(trace.segments, key=lambda segment: keys[id(segment)])


def service_graph(traces: list[Trace], account_id: str) -> list[dict[str, Any]]:
    """The ``Services`` of GetServiceGraph and GetTraceGraph, over ``traces``."""
    nodes: dict[NodeKey, Node] = {}
    for trace in traces:
        done = answered(trace)
        for segment in walk_order(trace):
            key, parent = segment_key(segment), trace.owner(segment.get("parent_id"))
            if parent is None and key[1] != "client":  # the caller, drawn as X-Ray draws it
                nodes.setdefault((key[0], "client"), Node()).edge(key).add(segment)
            node = nodes.setdefault(key, Node())
            node.stats.add(segment)
            node.recorded = True
            if parent is None:
                node.root = node.root or "parent_id" not in segment
            else:
                relay = relayed_by(trace, segment)
                source = call_key(relay) if relay else segment_key(parent)
                nodes.setdefault(source, Node()).edge(segment_key(segment)).add(segment)
            for sub in calls(segment):
                if sub.get("id") not in done:
                    nodes.setdefault(call_key(sub), Node()).stats.add(sub)
                    node.edge(call_key(sub)).add(sub)
    refs = {key: i for i, key in enumerate(nodes)}
    return [_service(key, node, refs, account_id) for key, node in nodes.items()]


def _service(key: NodeKey, node: Node, refs: dict[NodeKey, int], account_id: str) -> dict[str, Any]:
    """One ``Service`` of the graph. A node X-Ray only infers is ``unknown``; the
    client in front of an entry point has edges and no statistics of its own
    (https://docs.aws.amazon.com/xray/latest/devguide/xray-api-gettingdata.html)."""
    name, kind = key
    start, end = node.span()
    out: dict[str, Any] = {
        "ReferenceId": refs[key], "Name": name, "Names": [name], "Root": node.root,
        "Type": kind, "State": "active" if node.recorded else "unknown",
        "StartTime": start, "EndTime": end,
        "Edges": [
            {"ReferenceId": refs[to], "StartTime": stats.start, "EndTime": stats.end,
             "SummaryStatistics": stats.to_aws(), "ResponseTimeHistogram": stats.histogram(),
             "Aliases": []}
            for to, stats in node.edges.items()
        ],
    }
    if node.stats.times:
        out |= {"SummaryStatistics": node.stats.to_aws(),
                "DurationHistogram": node.stats.histogram(),
                "ResponseTimeHistogram": node.stats.histogram()}
    if node.recorded and (not kind.startswith("AWS::") or kind.startswith("AWS::Lambda")):
        out["AccountId"] = account_id
    return out


def documents(trace: Trace) -> list[dict[str, Any]]:
    """The trace's segments and the calls they made."""
    return list(trace.segments) + [c for s in trace.segments for c in calls(s)]


def services(trace: Trace) -> set[NodeKey]:
    """Every service the trace reached (a call answered by a segment is that segment)."""
    done = answered(trace)
    return ({segment_key(s) for s in trace.segments}
            | {call_key(c) for s in trace.segments for c in calls(s) if c.get("id") not in done})


def summary(trace: Trace) -> dict[str, Any]:
    """A TraceSummary of GetTraceSummaries."""
    docs, keys = documents(trace), services(trace)
    entry = trace.roots()[0]
    return {
        "Id": trace.id,
        "StartTime": trace.start,
        "Duration": trace.duration,
        "ResponseTime": response_time(entry),
        "HasFault": any(outcome(d) == "fault" for d in docs),
        "HasError": any(outcome(d) == "error" for d in docs),
        "HasThrottle": any(outcome(d) == "throttle" for d in docs),
        "IsPartial": any(s.get("in_progress") for s in trace.segments),
        "ServiceIds": [_service_id(k) for k in sorted(keys)],
        "EntryPoint": _service_id(segment_key(entry)),
        "ResourceARNs": [{"ARN": s["resource_arn"]} for s in trace.segments
                         if isinstance(s.get("resource_arn"), str)],
        "Annotations": {},
        "Users": [],
        "Revision": 1,
    }


def _service_id(key: NodeKey) -> dict[str, Any]:
    name, kind = key
    return {"Name": name, "Names": [name], "Type": kind}
