"""One invoke's details for the page: what :class:`~.feed.InvokeDetail` kept, and its log
lines (INIT for a cold start, then START to REPORT), read from the lab's log store only
when someone clicks it, so the invoke path never pays for them.

Lambda writes an environment's invokes one after another to its own log stream
(`Lambda function logs <https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs.html>`_):
an invoke's lines are the run from the first line naming its request id to its REPORT.
"""

from __future__ import annotations

from typing import Any

from lambdalab import Lab
from lambdalab.plugin import LambdaError

from .bounds import LOG_EVENTS_SCANNED, LOG_LINE_SHOWN_CHARS, LOG_LINES_SHOWN
from .feed import InvokeDetail

#: Events read from the log store at a time while looking for an invoke's lines.
_PAGE = 1000
#: Slack before the invoke's start when reading its stream: clocks round to milliseconds.
_SLACK_MS = 1000


def log_group_of(lab: Lab, function_name: str) -> str:
    """The function's log group (its LoggingConfig may name one), or Lambda's default."""
    try:
        return lab.get_function_configuration(function_name).log_group_name
    except LambdaError:  # deleted since: its lines stay in the default group's place
        return f"/aws/lambda/{function_name}"


def invoke_lines(lab: Lab, detail: InvokeDetail) -> tuple[list[str], bool]:
    """The invoke's log lines (the first LOG_LINES_SHOWN), and whether it has more."""
    mark = detail.mark
    took_ms = mark.duration_ms + (detail.init_duration_ms or 0.0)
    since = int(mark.at * 1000 - took_ms) - _SLACK_MS
    group = log_group_of(lab, mark.function_name)
    lines: list[str] = []
    # A cold invoke's lines begin with its environment's INIT, at the stream's start.
    taking, after, scanned = mark.cold, 0, 0
    while scanned < LOG_EVENTS_SCANNED:
        events = lab.logs.query(group, streams=[detail.environment], start_ms=since,
                                after_id=after, limit=_PAGE)
        for event in events:
            message = event.message
            taking = taking or mark.request_id in message
            if taking:
                lines.append(message[:LOG_LINE_SHOWN_CHARS])
            if taking and mark.request_id in message and _is_report(message):
                return lines[:LOG_LINES_SHOWN], len(lines) > LOG_LINES_SHOWN
        if len(events) < _PAGE:
            break
        scanned += len(events)
        after = events[-1].id
    return lines[:LOG_LINES_SHOWN], len(lines) > LOG_LINES_SHOWN


def _is_report(message: str) -> bool:
    """A REPORT line, in the text or the JSON log format."""
    return message.startswith("REPORT ") or '"platform.report"' in message


def invoke_details(lab: Lab, detail: InvokeDetail) -> dict[str, Any]:
    """What ``api/invokes/N`` answers."""
    lines, more = invoke_lines(lab, detail)
    return {**detail.to_json(), "logs": lines, "logs_cut": more}
