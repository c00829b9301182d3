"""``lambdalab plugins`` and ``lambdalab plugin new``: the loaded plugins, and a new one
to start from (:mod:`lambdalab.scaffold`).
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import click

from ..lab import Lab
from .app import LambdaGroup, pass_lab, print_table, say


@click.command()
@pass_lab
def plugins(lab: Lab) -> None:
    """List loaded plugins: name, version, where each came from, the hooks it implements."""
    print_table(
        "Plugins",
        ("Name", "Version", "Origin", "Hooks"),
        ((p.name, p.version, p.origin, ", ".join(p.hooks)) for p in lab.plugins()),
        empty="No plugins are loaded (is $LAMBDALAB_PLUGINS restricting them?).",
    )
    for p in lab.plugins():
        for note in p.notes:
            click.echo(f"{p.name}: {note}")


class LazyChoice(click.Choice):
    """A choice whose values are ``module.attribute``, imported when first needed."""

    def __init__(self, module: str, attribute: str) -> None:
        self._where = (module, attribute)
        super().__init__(())

    @property  # type: ignore[override]
    def choices(self) -> tuple[str, ...]:
        return tuple(getattr(importlib.import_module(self._where[0]), self._where[1]))

    @choices.setter
    def choices(self, value: Any) -> None:
        pass  # click.Choice.__init__ sets it; the values come from the module


@click.group(cls=LambdaGroup)
def plugin() -> None:
    """Write your own plugin: a trigger or an isolation backend."""


@plugin.command("new")
@click.argument("name")
@click.option("--kind", type=LazyChoice("lambdalab.scaffold", "KINDS"), required=True,
              help="trigger: turns events into invokes; backend: runs functions.")
@click.option("--dir", "directory", type=click.Path(file_okay=False, path_type=Path),
              default=Path("."), show_default=True, help="Where to create lambdalab-NAME/.")
def plugin_new(name: str, kind: str, directory: Path) -> None:
    """Create lambdalab-NAME/: an installable plugin package with its entry point, a
    working example of the hooks of its kind, a passing test and a README.
    """
    from ..scaffold import ScaffoldError, new_plugin

    try:
        package = new_plugin(name, kind, directory)
    except ScaffoldError as error:
        raise click.BadParameter(str(error), param_hint=error.param) from None
    say(f"Created {package.root}/, a {kind} plugin:")
    for path in package.files:
        say(f"  {path.relative_to(package.root)}")
    say("Next:")
    for step in package.next_steps():
        say(f"  {step}")
