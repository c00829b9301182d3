"""``lambdalab metrics NAME``: a function's metrics per minute, drawn as bars."""

from __future__ import annotations

from datetime import datetime, timezone

import click

from lambdalab import Lab
from lambdalab.plugin import pass_lab, print_table, say

from . import quotas
from .lambda_metrics import NAMESPACE

#: What the table shows, and the statistic each is read with.
SHOWN = (("Invocations", "Sum"), ("Errors", "Sum"), ("Throttles", "Sum"),
         ("Duration", "Average"), ("ConcurrentExecutions", "Maximum"))
BAR_WIDTH = 30


def bar(value: float, largest: float) -> str:
    """A bar of up to BAR_WIDTH cells, in eighths, for ``value`` out of ``largest``."""
    if largest <= 0 or value <= 0:
        return ""
    eighths = round(value / largest * BAR_WIDTH * 8)
    return "█" * (eighths // 8) + " ▏▎▍▌▋▊▉"[eighths % 8].strip()


@click.command("metrics")
@click.argument("name", required=False)
@click.option("--minutes", default=15, show_default=True, type=click.IntRange(1, 1440),
              help="How many minutes back, up to now on the lab's clock.")
@click.option("--retention-days", type=click.IntRange(1, quotas.RETENTION_DAYS_MAX),
              default=None, help="Keep one-minute data this many days (default 15).")
@pass_lab
def metrics_command(lab: Lab, name: str | None, minutes: int, retention_days: int | None) -> None:
    """AWS/Lambda metrics of function NAME per minute (lambdalab_cloudwatch), with a bar
    of its invocations, and the alarms on them; without NAME, the account's."""
    from rich.console import Console
    from rich.table import Table

    from . import alarms, cloudwatch

    metrics = cloudwatch(lab)
    if retention_days is not None:
        metrics.store.set_retention(retention_days)
        say(f"Metrics are kept {retention_days} days")
        if name is None:
            return
    dims = (("FunctionName", name),) if name else ()
    end = lab.clock.now() + quotas.PERIOD_S
    start = end - minutes * quotas.PERIOD_S
    columns: dict[str, dict[float, float]] = {}
    for metric, statistic in SHOWN:
        points = metrics.periods(NAMESPACE, metric, dims, start, end, quotas.PERIOD_S)
        columns[metric] = {at: a.statistic(statistic) or 0.0 for at, a in points}
    minutes_seen = sorted(set().union(*columns.values()))
    if not minutes_seen:
        say(f"No metrics for {name or 'the account'} in the last {minutes} minutes. "
            f"Invoke it, then run this again.")
        return
    largest = max(columns["Invocations"].values(), default=0.0)
    table = Table(title=f"{NAMESPACE} {name or '(all functions)'} per minute (lab clock, UTC)")
    for heading in ("Minute", "Invocations", "", "Errors", "Throttles", "Duration avg ms",
                    "Concurrency max"):
        table.add_column(heading, justify="left" if heading in ("Minute", "") else "right")
    for at in minutes_seen:
        invocations = columns["Invocations"].get(at, 0.0)
        table.add_row(
            datetime.fromtimestamp(at, timezone.utc).strftime("%Y-%m-%d %H:%M"),
            f"{invocations:g}", bar(invocations, largest),
            f"{columns['Errors'].get(at, 0.0):g}", f"{columns['Throttles'].get(at, 0.0):g}",
            f"{columns['Duration'].get(at, 0.0):.2f}",
            f"{columns['ConcurrentExecutions'].get(at, 0.0):g}",
        )
    Console().print(table)
    watching = [a for a in alarms(lab).every() if a.namespace == NAMESPACE
                and (dims[0] in a.dimensions if dims else not a.dimensions)]
    if watching:
        print_table("Alarms", ("Alarm", "Metric", "State", "Why"),
                    ((a.name, f"{a.statistic} of {a.metric_name}", a.state_value, a.state_reason)
                     for a in watching), empty="")
