"""``lambdalab cost``: what the lab's invokes would cost on AWS, and what a month would."""

from __future__ import annotations

import math
import re
from datetime import datetime, timezone

import click

from lambdalab import Lab
from lambdalab.plugin import InvalidParameterValueException, limits, print_table, say

from .models import Line, Projection, Window

_SPAN = re.compile(r"^(\d+(?:\.\d+)?)([smhd])$")
_SPAN_S = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def usd(amount: float) -> str:
    """Dollars with four significant digits below a cent: ``$0.00001667``, ``$12.40``."""
    if amount == 0:
        return "$0"
    if amount >= 0.01:
        return f"${amount:,.2f}"
    places = 3 - math.floor(math.log10(amount))
    return f"${amount:.{places}f}"


def parse_time(text: str, option: str) -> float:
    """Epoch seconds from ISO 8601 (UTC unless it says otherwise)."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(
            f"{text!r} is not a time. Give ISO 8601, e.g. 2026-12-05T14:00:00Z.",
            param_hint=option,
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


def parse_span(text: str) -> float:
    """Seconds from ``90s``, ``15m``, ``2h`` or ``7d``."""
    match = _SPAN.match(text.strip())
    if not match:
        raise click.BadParameter(
            f"{text!r} is not a span of time. Give a number and s, m, h or d, e.g. 15m.",
            param_hint="--since",
        )
    return float(match[1]) * _SPAN_S[match[2]]


@click.command("cost")
@click.argument("function", required=False)
@click.option("--version", "version", default=None, help="Only this version ($LATEST, 1, …).")
@click.option("--alias", default=None, help="Only invokes made through this alias.")
@click.option("--since", default=None, help="Only the last span on the lab's clock: 15m, 2h, 7d.")
@click.option("--start", default=None, help="Only invokes from this time (ISO 8601, UTC).")
@click.option("--end", default=None, help="Only invokes before this time (ISO 8601, UTC).")
@click.option("--invokes", "invokes_per_month", type=click.IntRange(min=0), default=None,
              help="Project a month of this many invokes of FUNCTION at each memory size "
              "it was measured at [default: 1,000,000 when FUNCTION is given].")
@click.option("--memory", "memory_mb", type=int, default=None,
              help="Project only this memory size (one FUNCTION has run at).")
def cost_command(
    function: str | None, version: str | None, alias: str | None, since: str | None,
    start: str | None, end: str | None, invokes_per_month: int | None, memory_mb: int | None,
) -> None:
    """What the lab's invokes would cost on AWS Lambda (us-east-1): requests, GB-seconds
    and ephemeral storage, the free tier apart; with FUNCTION, what a month of
    --invokes would cost at each memory size it ran at."""
    from lambdalab.plugin import open_lab

    lab = open_lab()
    window = Window(function, version, alias, *_range(lab, since, start, end))
    _show_lines(lab, window)
    if function is not None:
        try:
            _show_projection(lab, function, invokes_per_month or 1_000_000, memory_mb)
        except InvalidParameterValueException as e:
            raise click.ClickException(e.message) from None
    say(
        f"Prices: AWS Lambda on demand, us-east-1, {limits.PRICING_URL} (as of "
        f"{limits.PRICES_AS_OF}). Not priced: provisioned concurrency, SnapStart, data "
        "transfer, other services."
    )


def _range(lab: Lab, since: str | None, start: str | None, end: str | None) -> tuple[float | None, float | None]:
    if since is not None and start is not None:
        raise click.UsageError("Give --since or --start, not both.")
    begin = lab.clock.now() - parse_span(since) if since is not None else None
    if start is not None:
        begin = parse_time(start, "--start")
    return begin, parse_time(end, "--end") if end is not None else None


def _show_lines(lab: Lab, window: Window) -> None:
    from . import costs

    ledger = costs(lab)
    lines = ledger.lines(window)
    print_table(
        "What these invokes would cost on AWS Lambda (before the free tier)",
        ("Function", "Version", "Alias", "Requests", "GB-seconds", "Requests $", "Duration $",
         "Storage $", "Total $"),
        (_row(line) for line in lines),
        "No invokes recorded here yet: invoke a function, then run lambdalab cost again.",
    )
    if not lines:
        return
    total = ledger.total(window).cost
    say(
        f"Total {usd(total.total_usd)}; a month's free tier (1M requests, 400,000 GB-seconds) "
        f"would take off {usd(total.free_tier_usd)}: {usd(total.after_free_tier_usd)} to pay."
    )


def _row(line: Line) -> tuple[object, ...]:
    usage, cost = line.usage, line.cost
    return (
        line.function_name, line.version, line.alias or "", f"{usage.requests:,}",
        f"{usage.total_gb_seconds:.6f}", usd(cost.requests_usd), usd(cost.duration_usd),
        usd(cost.storage_usd), usd(cost.total_usd),
    )


def _show_projection(lab: Lab, function: str, invokes: int, memory_mb: int | None) -> None:
    from . import costs

    found = costs(lab).projection(function, invokes, memory_mb)
    cheapest = min(found, key=lambda p: (p.cost.total_usd, p.measured.memory_mb), default=None)
    dearest = max((p.cost.total_usd for p in found), default=0.0)
    print_table(
        f"{function} at {invokes:,} invokes a month, at each memory size it was measured at",
        ("Memory", "Architecture", "Measured", "Average duration", "Average billed",
         "GB-seconds a month", "A month", "After the free tier", ""),
        (_projected(p, p is cheapest, dearest) for p in found),
        f"{function} has no invokes recorded: invoke it at a few memory sizes first.",
    )


#: The widest bar of the projection's chart, in characters.
BAR_WIDTH = 20


def _projected(p: Projection, cheapest: bool, dearest: float) -> tuple[object, ...]:
    m = p.measured
    bar = "█" * max(1, round(BAR_WIDTH * p.cost.total_usd / dearest)) if dearest else ""
    return (
        f"{m.memory_mb:,} MB", m.architecture, f"{m.invokes:,} ({m.cold_starts:,} cold)",
        f"{m.average_duration_ms:.1f} ms", f"{m.average_billed_ms:.1f} ms",
        f"{p.usage.total_gb_seconds:,.0f}", usd(p.cost.total_usd),
        usd(p.cost.after_free_tier_usd), bar + (" cheapest" if cheapest else ""),
    )
