"""The console's log tail: the newest log events of every function's log group (Lambda's
``/aws/lambda/…`` ones and those a function's ``LoggingConfig`` names), with a
filter in CloudWatch Logs' pattern syntax, the one ``aws logs filter-log-events`` takes
(`Filter pattern syntax
<https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/FilterAndPatternSyntax.html>`_).
"""

from __future__ import annotations

from typing import Any

from lambdalab import Lab
from lambdalab.plugin import compile_pattern

from .bounds import LOG_TAIL_ROWS, LOG_TAIL_SCANNED

#: Lambda's log groups; a function's LoggingConfig may name another.
LAMBDA_GROUPS = "/aws/lambda/"


def tailed_groups(lab: Lab) -> list[str]:
    """The log groups functions write to: Lambda's (a deleted function's stay), and the
    one each function's ``LoggingConfig`` names."""
    names = {group.name for group in lab.logs.groups() if group.name.startswith(LAMBDA_GROUPS)}
    return sorted(names | {config.log_group_name for config in lab.list_functions()})


def log_tail(lab: Lab, pattern: str) -> list[dict[str, Any]]:
    """The newest LOG_TAIL_ROWS events matching ``pattern`` (the newest LOG_TAIL_SCANNED
    of each group are read), oldest first. Raises PatternError for a bad pattern."""
    matches = compile_pattern(pattern)
    found = []
    for group in tailed_groups(lab):
        events = lab.logs.query(group, limit=LOG_TAIL_SCANNED, newest_first=True)
        found += [event for event in events if matches(event.message)][:LOG_TAIL_ROWS]
    newest = sorted(found, key=lambda event: (event.timestamp, event.id))[-LOG_TAIL_ROWS:]
    return [{"group": e.log_group, "stream": e.log_stream, "timestamp": e.timestamp,
             "message": e.message.rstrip("\n")} for e in newest]
