"""``lambdalab event generate SERVICE``: one click command per registered event source.

The commands are built from the registry when asked for, so a generator added to the
registry is a command at once: each keyword option becomes a ``--flag`` with its type, its
default and its ``:param`` text as help.
"""

from __future__ import annotations

import json
from typing import Any

import click

from ._registry import EventSource, Option, get, sources


class JsonParamType(click.ParamType):
    """A JSON object given on the command line, e.g. ``--detail '{"orderId": "9"}'``."""

    name = "JSON"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if not isinstance(value, str):
            return value
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError as error:
            self.fail(f"{value!r} is not JSON ({error.msg}); quote an object, e.g. '{{\"a\": 1}}'.")
        if not isinstance(parsed, dict):
            self.fail(f"{value!r} is JSON but not an object; give {{...}}.")
        return parsed


_TYPES: dict[str, click.ParamType] = {
    "str": click.STRING,
    "int": click.INT,
    "float": click.FLOAT,
    "json": JsonParamType(),
}


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def _click_option(option: Option) -> click.Option:
    if option.kind == "bool":
        return click.Option(
            [option.flag], is_flag=True, default=option.default, help=_sentence(option.help)
        )
    kind = click.Choice(option.choices) if option.kind == "choice" else _TYPES[option.kind]
    return click.Option(
        [option.flag],
        type=kind,
        default=option.default,
        show_default=True,
        help=_sentence(option.help),
    )


def _help(source: EventSource) -> str:
    """The generator's docstring without its ``:param`` lines, then how it is invoked."""
    text = (source.generator.__doc__ or "").split(":param", 1)[0]
    paragraphs = [" ".join(p.split()) for p in text.split("\n\n") if p.strip()]
    how = (
        f"{source.name} invokes Lambda: {source.invocation}. Pipe the event on as it would: "
        f"lambdalab event generate {source.name} | lambdalab invoke FUNCTION "
        f"--invocation-type {source.invocation_type} --payload-file -"
    )
    return "\n\n".join([*paragraphs, how])


def command_for(source: EventSource) -> click.Command:
    """The ``generate SERVICE`` command: print the event as indented JSON."""

    def print_event(**options: Any) -> None:
        try:
            event = source.generate(**options)
        except ValueError as error:  # options that fit their types but not each other
            raise click.UsageError(str(error)) from None
        click.echo(json.dumps(event, indent=2))

    return click.Command(
        source.name,
        callback=print_event,
        params=[_click_option(option) for option in source.options],
        help=_help(source),
        short_help=source.title,
    )


class GenerateGroup(click.Group):
    """``generate``'s subcommands: one per registered service, built on demand."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [source.name for source in sources()]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        names = self.list_commands(ctx)
        return command_for(get(cmd_name)) if cmd_name in names else None


generate_group = GenerateGroup(
    "generate",
    help="Print the event JSON SERVICE sends to Lambda; options set its interesting fields.",
)
