"""``lambdalab traces``: the lab's recent traces, or one trace as a tree with time bars."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Any, Iterator

import click

from lambdalab.plugin import print_table, say

from .graph import call_key, outcome, segment_key, summary
from .models import Trace

_SPAN = re.compile(r"^(\d+(?:\.\d+)?)([smhd])$")
_SPAN_S = {"s": 1, "m": 60, "h": 3600, "d": 86400}
#: The width of a trace's time axis, in characters.
BAR_WIDTH = 40


@click.command("traces")
@click.argument("trace_id", required=False)
@click.option("--since", default="1h", show_default=True,
              help="List the traces of this last span on the lab's clock: 15m, 2h, 7d.")
@click.option("--function", default=None, help="List only traces that reach this function.")
def traces_command(trace_id: str | None, since: str, function: str | None) -> None:
    """The X-Ray traces of the lab's Active functions (and what handlers sent): a list,
    or with TRACE_ID one trace as a tree of segments with where the time went."""
    from lambdalab.plugin import open_lab

    from . import xray

    lab = open_lab()
    store = xray(lab).store
    if trace_id is not None:
        trace = store.trace(trace_id)
        if trace is None:
            raise click.ClickException(
                f"No trace {trace_id} here. Run lambdalab traces to list the recent ones.")
        show_trace(trace)
        return
    now = lab.clock.now()
    found = store.traces(now - parse_span(since), now)
    if function is not None:
        found = [t for t in found if any(s["name"] == function for s in t.segments)]
    print_table(
        f"Traces of the last {since}",
        ("Trace", "Started (UTC)", "Entry point", "Duration", "Outcome", "Services"),
        (_listed(t) for t in found),
        "No traces yet: make a function's tracing Active (aws lambda "
        "update-function-configuration --function-name NAME --tracing-config Mode=Active), "
        "invoke it, and look again.",
    )


def parse_span(text: str) -> float:
    match = _SPAN.match(text.strip())
    if not match:
        raise click.BadParameter(
            f"{text!r} is not a span of time. Give a number and s, m, h or d, e.g. 15m.",
            param_hint="--since")
    return float(match[1]) * _SPAN_S[match[2]]


def _listed(trace: Trace) -> tuple[object, ...]:
    found = summary(trace)
    entry = found["EntryPoint"]
    status = ("fault" if found["HasFault"] else "error" if found["HasError"]
              else "throttle" if found["HasThrottle"] else "ok")
    started = datetime.fromtimestamp(trace.start, timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
    services = ", ".join(f"{s['Name']} ({s['Type']})" for s in found["ServiceIds"])
    return (trace.id, started, f"{entry['Name']} ({entry['Type']})",
            f"{trace.duration * 1000:.1f} ms", status, services)


def show_trace(trace: Trace) -> None:
    """Each segment and subsegment, indented under its parent, with a bar where it ran."""
    print_table(
        f"Trace {trace.id}: {trace.duration * 1000:.1f} ms",
        ("Segment", "Type", "Start", "Duration", "Outcome", "Timeline"),
        (_timeline_row(trace, doc, depth, kind) for doc, depth, kind in _walk(trace)),
        "The trace has no segments.",
    )
    say("Start is milliseconds after the trace began; each bar spans "
        f"{trace.duration * 1000 / BAR_WIDTH:.2f} ms a character.")


def _walk(trace: Trace) -> Iterator[tuple[dict[str, Any], int, str]]:
    shown: set[int] = set()  # a made-up trace's parents can go round in a circle

    def segment(doc: dict[str, Any], depth: int) -> Iterator[tuple[dict[str, Any], int, str]]:
        shown.add(id(doc))
        yield doc, depth, segment_key(doc)[1]
        yield from subsegments(doc, depth + 1)
        for child in trace.children(doc):
            if id(child) not in shown:
                yield from segment(child, depth + 1)

    def subsegments(doc: dict[str, Any], depth: int) -> Iterator[tuple[dict[str, Any], int, str]]:
        subs = [s for s in doc.get("subsegments") or [] if isinstance(s, dict)]
        for sub in sorted(subs, key=lambda s: s["start_time"]):  # checked: a number each
            kind = call_key(sub)[1] if sub.get("namespace") in ("aws", "remote") else ""
            yield sub, depth, kind
            yield from subsegments(sub, depth + 1)

    for root in trace.roots():
        yield from segment(root, 0)


def _timeline_row(trace: Trace, doc: dict[str, Any], depth: int, kind: str) -> tuple[object, ...]:
    start = float(doc["start_time"]) - trace.start
    end = float(doc.get("end_time", trace.end)) - trace.start
    return ("  " * depth + doc["name"], kind, f"{start * 1000:.1f}",
            f"{(end - start) * 1000:.1f} ms", outcome(doc), bar(start, end, trace.duration))


def bar(start: float, end: float, total: float) -> str:
    """``start``–``end`` of ``total`` as a bar ``BAR_WIDTH`` characters wide (at least one)."""
    if total <= 0:
        return "█"
    # a document's times are the sender's: a span of 1e-300 s makes the fractions inf
    first = int(min(BAR_WIDTH - 1, max(0.0, start / total * BAR_WIDTH)))
    width = int(max(1, min(BAR_WIDTH, round(min(1.0, max(0.0, (end - start) / total)) * BAR_WIDTH))))
    return " " * first + "█" * min(width, BAR_WIDTH - first)
