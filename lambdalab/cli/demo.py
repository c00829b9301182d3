"""``lambdalab demo``: deploy a function, invoke it cold then warm, explain what happened.

The sample function (``lambdalab/demo_function/app.py``) keeps a counter at module level.
The first invoke starts a new execution environment (INIT imports the module: a cold
start, so its REPORT line carries ``Init Duration``); the second reaches the same warm
environment, where the counter is still there. The demo prints both log tails exactly as
``log_type="Tail"`` returns them, a side-by-side summary, what to do next, and last what
the two invokes would cost on AWS, beside the same at 1,769 MB (one vCPU).

Running it again on the same data dir updates the function's code and configuration.
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Iterator

from rich.console import Console
from rich.table import Table
from rich.text import Text

from .. import limits, pricing
from ..errors import ResourceNotFoundException
from ..lab import Lab, local_runtime
from ..models import FunctionConfiguration, InvokeResult

DEMO_FUNCTION_NAME = "lambdalab-demo"
DEMO_HANDLER = "app.handler"
DEMO_DESCRIPTION = "Deployed by `lambdalab demo`: a counter that survives warm invokes."


@contextmanager
def demo_code() -> Iterator[Path]:
    """The directory holding the demo function's ``app.py``."""
    with resources.as_file(resources.files("lambdalab.cli").joinpath("demo_function")) as path:
        yield path


def deploy(lab: Lab) -> tuple[FunctionConfiguration, str]:
    """Create the demo function, or reset an existing one to the demo's code and settings.

    Returns the ``$LATEST`` configuration and ``"created"`` or ``"updated"``.
    """
    settings: dict[str, Any] = {
        "runtime": local_runtime(),
        "handler": DEMO_HANDLER,
        "description": DEMO_DESCRIPTION,
    }
    with demo_code() as code:
        try:
            lab.get_function_configuration(DEMO_FUNCTION_NAME)
        except ResourceNotFoundException:
            return lab.create_function(DEMO_FUNCTION_NAME, code, **settings), "created"
        lab.update_function_code(DEMO_FUNCTION_NAME, code)
        return lab.update_function_configuration(DEMO_FUNCTION_NAME, **settings), "updated"


def report_fields(log_tail: str) -> dict[str, str]:
    """The fields of the REPORT line in a log tail: ``{"Duration": "0.25 ms", ...}``."""
    for line in log_tail.splitlines():
        if line.startswith("REPORT "):
            pairs = (part.split(": ", 1) for part in line.split("\t") if ": " in part)
            return {key.strip(): value.strip() for key, value in pairs}
    return {}


@dataclass(frozen=True)
class DemoInvoke:
    """One invoke of the demo: its title, the result and what the handler returned."""

    title: str
    result: InvokeResult

    @property
    def returned(self) -> dict[str, Any]:
        value = self.result.json()
        return value if isinstance(value, dict) else {}

    @property
    def report(self) -> dict[str, str]:
        return report_fields(self.result.log_tail)


@dataclass(frozen=True)
class Cost:
    """What invokes cost on AWS: requests, plus GB-seconds of billed duration at the
    function's memory and architecture (https://aws.amazon.com/lambda/pricing/), priced
    by :mod:`lambdalab.pricing` as the cost plugin prices them."""

    requests: int
    billed_ms: float
    memory_mb: int
    architecture: str = limits.DEFAULT_ARCHITECTURE

    @property
    def gb_seconds(self) -> float:
        return pricing.gb_seconds(self.memory_mb, self.billed_ms)

    @property
    def requests_usd(self) -> float:
        return pricing.requests_usd(self.requests)

    @property
    def duration_usd(self) -> float:
        return pricing.duration_usd(self.gb_seconds, self.architecture)

    @property
    def total_usd(self) -> float:
        return self.requests_usd + self.duration_usd

    def at(self, memory_mb: int) -> "Cost":
        """The same invokes at another memory size (and the same billed duration)."""
        return Cost(self.requests, self.billed_ms, memory_mb, self.architecture)


def billed_ms(invoke: "DemoInvoke") -> float:
    """The Billed Duration of an invoke's REPORT line, in ms (0 when it has none)."""
    return float(invoke.report.get("Billed Duration", "0 ms").split()[0])


def run_demo(lab: Lab, console: Console) -> list[DemoInvoke]:
    """Deploy, invoke cold then warm, and explain it all on ``console``."""
    console.rule("[bold]lambdalab demo")
    config, action = deploy(lab)
    console.print(
        f"[bold]1.[/] {action.capitalize()} function [cyan]{config.function_name}[/] "
        f"({config.runtime}, {config.memory_size} MB, handler {config.handler}).",
        soft_wrap=True,
    )
    where = Text(f"   State lives in the data dir {lab.store.data_dir}", style="dim")
    console.print(where, soft_wrap=True)
    invokes = [
        _invoke(lab, console, "2.", "cold", "a new execution environment runs INIT "
                "(imports app.py), then the handler"),
        _invoke(lab, console, "3.", "warm", "the same environment is reused: no INIT, "
                "module globals are still there"),
    ]
    if any(i.result.function_error for i in invokes):
        console.print("[red]The demo function failed; its error is shown above.[/]")
        return invokes
    _explain(console, *invokes)
    _next_steps(console)
    _show_cost(console, config, invokes)
    return invokes


def _invoke(lab: Lab, console: Console, step: str, title: str, what: str) -> DemoInvoke:
    result = lab.invoke(DEMO_FUNCTION_NAME, {"demo": title}, log_type="Tail")
    console.print()
    console.print(f"[bold]{step}[/] Invoke ([bold]{title}[/]): {what}.")
    console.print("   Log tail, as `--log-type Tail` returns it:", style="dim")
    for line in result.log_tail.splitlines():
        console.print(Text("   " + line.expandtabs(2), style=_style(line)), soft_wrap=True)
    if result.function_error:
        console.print(Text(f"   FunctionError: {result.function_error}", style="red"))
        console.print(Text("   " + result.payload.decode(errors="replace")), soft_wrap=True)
    return DemoInvoke(title, result)


def _style(log_line: str) -> str:
    """REPORT lines stand out; START and END recede; the handler's own output is plain."""
    if log_line.startswith("REPORT "):
        return "yellow"
    return "dim" if log_line.startswith(("START ", "END ")) else ""


def _explain(console: Console, cold: DemoInvoke, warm: DemoInvoke) -> None:
    console.print()
    table = Table(title="What happened", title_justify="left")
    table.add_column("")
    table.add_column("cold invoke")
    table.add_column("warm invoke")
    counters = [i.returned.get("invocations") for i in (cold, warm)]
    table.add_row("counter (module global)", *(_str(c) for c in counters))
    for field in ("Init Duration", "Duration", "Billed Duration", "Max Memory Used"):
        table.add_row(field, *(i.report.get(field, "—") for i in (cold, warm)))
    streams = [i.returned.get("context", {}).get("log_stream_name") for i in (cold, warm)]
    same = streams[0] == streams[1]
    table.add_row("log stream (= environment)", "A", "A" if same else "B")
    console.print(table)
    console.print()
    survived = counters[1] == _int(counters[0]) + 1
    console.print(
        f"• [bold]The counter survived[/]: {counters[0]} then {counters[1]}. "
        "Module-level state lives as long as the execution environment, so a warm "
        "invoke sees what the last one left."
        if survived
        else "• The warm invoke got a fresh environment, so the counter started again."
    )
    console.print(
        "• [bold]Init Duration[/] is on the cold invoke only: INIT (importing your "
        "module and its init code) runs once per environment. Billed Duration includes it."
    )
    console.print()
    _show_context(console, warm.returned.get("context", {}))


def _show_context(console: Console, context: dict[str, Any]) -> None:
    table = Table(title="The context object the warm invoke received", title_justify="left")
    table.add_column("context.")
    table.add_column("value", overflow="fold")
    for name, value in context.items():
        table.add_row(name, value if isinstance(value, str) else json.dumps(value))
    console.print(table)


def _next_steps(console: Console) -> None:
    console.print()
    steps = Table.grid(padding=(0, 2))
    steps.add_column(no_wrap=True)
    steps.add_column(style="cyan")
    for what, command in (
        ("the first guided lab", "lambdalab lab start 1"),
        ("every lab", "lambdalab lab list"),
        ("invoke it yourself", f"lambdalab invoke {DEMO_FUNCTION_NAME} --log-type Tail"),
        ("its whole log group", f"lambdalab logs {DEMO_FUNCTION_NAME}"),
        ("the docs", "docs/ (build: sphinx-build docs docs/_build/html)"),
    ):
        steps.add_row("  " + what, command)
    console.print("[bold]Next[/]")
    console.print(steps)


def _show_cost(console: Console, config: FunctionConfiguration, invokes: list[DemoInvoke]) -> None:
    cost = Cost(
        len(invokes), sum(billed_ms(i) for i in invokes), config.memory_size,
        config.architectures[0] if config.architectures else limits.DEFAULT_ARCHITECTURE,
    )
    one_vcpu = cost.at(limits.MEMORY_MB_PER_VCPU)
    console.print()
    table = Table(
        title=f"What these {cost.requests} invokes would cost on AWS Lambda "
        f"({cost.architecture}, us-east-1)",
        title_justify="left",
    )
    table.add_column("")
    table.add_column(f"at {cost.memory_mb:,} MB (this function)", justify="right")
    table.add_column(f"at {one_vcpu.memory_mb:,} MB (one vCPU)", justify="right")
    per_million = 1_000_000 / cost.requests
    for label, value in (
        ("billed duration", lambda c: f"{c.billed_ms:g} ms"),
        ("GB-seconds", lambda c: f"{c.gb_seconds:.6f}"),
        ("requests", lambda c: f"${c.requests_usd:.10f}"),
        ("duration", lambda c: f"${c.duration_usd:.10f}"),
        ("total", lambda c: f"${c.total_usd:.10f}"),
        ("a million such invokes", lambda c: f"${c.total_usd * per_million:,.2f}"),
    ):
        table.add_row(label, value(cost), value(one_vcpu))
    console.print(table)
    price = pricing.price_per_gb_second(cost.architecture)
    console.print(
        Text(
            f"Prices: ${limits.PRICE_PER_MILLION_REQUESTS_USD:.2f} per 1M requests, "
            f"${price:.10f} per GB-second ({cost.architecture}), from "
            f"{limits.PRICING_URL} (us-east-1, before the free tier). A GB-second is "
            "MemorySize/1024 GB times the Billed Duration in seconds (INIT included). "
            f"At {limits.MEMORY_MB_PER_VCPU:,} MB a function gets a whole vCPU, so a CPU-bound "
            "handler runs faster and may cost no more; this one does almost no work, so "
            "here only the memory changes.",
            style="dim",
        ),
        soft_wrap=False,
    )


def _str(value: Any) -> str:
    return "—" if value is None else str(value)


def _int(value: Any) -> int:
    return value if isinstance(value, int) else -1


__all__ = [
    "DEMO_FUNCTION_NAME", "Cost", "deploy", "run_demo", "report_fields", "demo_code",
]
