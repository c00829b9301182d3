"""lambdalab's cost: what every invoke would cost on AWS Lambda, and what a month would.

A built-in plugin, registered by entry point exactly as a student's would be. It keeps
one row per billed execution in the lab's database (function, version, alias, the time
on the lab's clock, architecture, memory, ephemeral storage, billed duration) and prices
them with AWS's published prices (:mod:`lambdalab.limits`, *AWS's prices*)::

    >>> from lambdalab_cost import Window, costs
    >>> ledger = costs(lab)                                           # doctest: +SKIP
    >>> ledger.total(Window("resize")).cost.total_usd                 # doctest: +SKIP
    >>> for p in ledger.projection("resize", invokes_per_month=5_000_000):  # doctest: +SKIP
    ...     print(p.measured.memory_mb, p.cost.after_free_tier_usd)

``lambdalab cost`` shows the same from the shell.
"""

from __future__ import annotations

from typing import Any, Mapping

import lambdalab
from lambdalab import InvokeReport, Lab
from lambdalab.plugin import ConsolePanel, StashKey

from .models import (
    MIGRATIONS,
    BilledInvoke,
    CostLedger,
    Line,
    Measured,
    Projection,
    Window,
    project,
)
from .pricing import Cost, Usage

__version__ = "0.1.0"

#: Each lab's ledger, in ``lab.stash``: it dies with the lab.
LEDGER = StashKey[CostLedger]()


def costs(lab: Lab) -> CostLedger:
    """The cost ledger of ``lab``."""
    return lab.stash.setdefault(LEDGER, lambda: CostLedger(lab.store, lab.clock.now))


class _Recorder:
    """Registered on one lab's plugin manager, so each lab's invokes reach its own ledger
    (the hook says which execution, not which lab)."""

    def __init__(self, ledger: CostLedger) -> None:
        self.ledger = ledger

    @lambdalab.hookimpl
    def lambdalab_invoke_completed(self, report: InvokeReport) -> None:
        self.ledger.record(report)


@lambdalab.hookimpl
def lambdalab_migrations() -> dict[str, str]:
    return MIGRATIONS


@lambdalab.hookimpl
def lambdalab_lab_started(lab: Lab) -> None:
    lab.plugin_manager.register(_Recorder(costs(lab)), name="lambdalab_cost.recorder")


@lambdalab.hookimpl
def lambdalab_console_panels(lab: Lab) -> list[ConsolePanel]:
    """The console's cost panel: what each function version's invokes so far would cost."""

    def rows() -> list[Mapping[str, Any]]:
        return [{"Function": line.function_name, "Version": line.version,
                 "Alias": line.alias or "", "Requests": line.usage.requests,
                 "Billed (ms)": line.usage.billed_ms,
                 "Cost (USD)": f"{line.cost.total_usd:.9f}",
                 "After the free tier (USD)": f"{line.cost.after_free_tier_usd:.9f}"}
                for line in costs(lab).lines()]

    return [ConsolePanel("Cost so far (lambdalab_cost)", rows)]


@lambdalab.hookimpl
def lambdalab_register_commands(cli: Any) -> None:
    """``lambdalab cost``."""
    from .cli import cost_command

    cli.add_command(cost_command)


__all__ = [
    "costs",
    # the ledger and what it answers
    "CostLedger",
    "Window",
    "BilledInvoke",
    "Line",
    "Measured",
    "Projection",
    "project",
    # prices
    "Cost",
    "Usage",
]
