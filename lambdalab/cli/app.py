"""``lambdalab``: the command line, one thin door onto :class:`~lambdalab.lab.Lab`.

Every command opens the Lab on ``--data-dir`` (via :func:`pass_lab`), calls one of its
methods, and prints the result: tables for lists, AWS's JSON for ``get``, the payload for
``invoke``. Nothing here knows how to invoke or store anything; the Lab does.

Exit codes scripts can rely on:

* ``0`` — it worked;
* ``1`` — ``invoke`` ran, and the function returned an error (``FunctionError``);
* ``2`` — the command line was wrong, or the Lambda API refused the request. AWS errors
  are printed on stderr as ``ErrorCode: message`` (for example
  ``ResourceNotFoundException: Function not found: ...``).
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import json
import os
import sys
import time
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Callable, Concatenate, Iterable, Iterator, Mapping, ParamSpec, TypeVar

import click

from . import daemon
from .. import limits
from ..errors import LambdaError

if TYPE_CHECKING:
    from rich.console import Console

    from ..lab import Lab
    from ..logs import LogEvent
    from ..models import AliasConfiguration, FunctionConfiguration, InvokeResult

EXIT_FUNCTION_ERROR = 1
EXIT_API_ERROR = 2
#: Seconds between polls of ``lambdalab logs --follow``.
FOLLOW_INTERVAL_S = 0.5
#: Characters a table may use when stdout is not a terminal (rich would cut at 80).
PIPED_TABLE_WIDTH = 400


class _LazyConsole:
    """A rich Console made on first use: importing rich is most of what ``--help`` or a
    warm ``invoke`` would otherwise spend (``python -X importtime``)."""

    def __init__(self, **options: Any) -> None:
        self._options = options

    @functools.cached_property
    def console(self) -> "Console":
        from rich.console import Console

        return Console(highlight=False, **self._options)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.console, name)


out: Any = _LazyConsole()
err: Any = _LazyConsole(stderr=True)
_sleep = time.sleep  # replaced in tests, so --follow can be tested without waiting

F = TypeVar("F", bound=Callable[..., Any])
P = ParamSpec("P")
R = TypeVar("R")
T = TypeVar("T")


def Text(text: str = "", style: str = "") -> Any:
    """rich's Text (imported on first use): printed as is, never read as markup."""
    from rich.text import Text as RichText

    return RichText(text, style=style)


def iso_timestamp(seconds: float) -> str:
    from ..logs import iso_timestamp as iso

    return iso(seconds)


# -- errors and the Lab ---------------------------------------------------------------


class LambdaApiError(click.ClickException):
    """An AWS error on its way out: ``ErrorCode: message`` on stderr, exit 2.

    The error is a :class:`LambdaError` the Lab raised, or the same error as the
    background server answered it (:class:`lambdalab.cli.daemon.RemoteError`).
    """

    exit_code = EXIT_API_ERROR

    def __init__(self, error: LambdaError | daemon.RemoteError) -> None:
        super().__init__(error.message)
        self.error = error

    def format_message(self) -> str:
        return f"{self.error.code}: {self.error.message}"

    def show(self, file: IO[Any] | None = None) -> None:
        click.echo(self.format_message(), file=file, err=file is None)


class ServerLost(click.ClickException):
    """The lambdalab server went away during a command: the message, exit 2."""

    exit_code = EXIT_API_ERROR


#: A command loaded on first use: ``("module", "attribute", "its one-line help")``.
LazyCommand = tuple[str, str, str]


class LambdaGroup(click.Group):
    """A click group that turns AWS errors raised below it into LambdaApiErrors.

    ``lazy_commands`` are imported only when run (or documented): ``--help`` lists them
    with the one-line help given here, so it does not import what they need.
    """

    def __init__(self, *args: Any, lazy_commands: Mapping[str, LazyCommand] | None = None,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy_commands = dict(lazy_commands or {})

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (LambdaError, daemon.RemoteError) as error:
            raise LambdaApiError(error) from error
        except daemon.ServerGone as gone:
            raise ServerLost(str(gone)) from None

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *self.lazy_commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in self.lazy_commands:
            module, attribute, _ = self.lazy_commands[cmd_name]
            try:  # a trimmed install may leave a built-in plugin out
                loaded = getattr(importlib.import_module(module), attribute)
            except ImportError:
                return None
            self.add_command(loaded, cmd_name)
        return super().get_command(ctx, cmd_name)

    def stand_in_help(self, name: str) -> str | None:
        """The help ``--help`` shows for a command not imported yet; ``None``: not listed."""
        import importlib.util

        lazy = self.lazy_commands.get(name)
        if lazy is not None and importlib.util.find_spec(lazy[0].split(".")[0]):
            return lazy[2]
        return None

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        names = self.list_commands(ctx)
        limit = formatter.width - 6 - max(map(len, names), default=0)
        rows = []
        for name in names:
            if name in self.commands:
                command = self.commands[name]
                if not command.hidden:
                    rows.append((name, command.get_short_help_str(limit)))
            elif (short_help := self.stand_in_help(name)) is not None:
                stand_in = click.Command(name, help=short_help)
                rows.append((name, stand_in.get_short_help_str(limit)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


class MainGroup(LambdaGroup):
    """``lambdalab`` itself: core's commands, plus those plugins add (hook
    ``lambdalab_register_commands``, datasette's ``register_commands``).

    Plugins are loaded only when a command core does not know is asked for, or when
    ``--help`` lists the commands and :mod:`lambdalab.cli.command_cache` does not remember
    theirs: ``invoke`` and the other core commands never import a plugin.
    """

    _plugin_help: dict[str, str] | None = None
    _plugins_loaded = False

    def plugin_commands(self) -> dict[str, str]:
        """The plugins' commands and their one-line helps; loads plugins only if not cached."""
        if self._plugin_help is None:
            from . import command_cache

            cached = command_cache.read()
            self._plugin_help = cached if cached is not None else self._load_plugin_commands()
        return self._plugin_help

    def _load_plugin_commands(self) -> dict[str, str]:
        from . import command_cache
        from ..plugins import make_plugin_manager

        self._plugins_loaded = True
        core = dict(self.commands)
        make_plugin_manager().hook.lambdalab_register_commands(cli=self)
        self.commands.update({name: core[name] for name in core})  # core's names stay core's
        added = {
            name: command.get_short_help_str(PLUGIN_HELP_WIDTH)
            for name, command in self.commands.items()
            if name not in core and name not in self.lazy_commands and not command.hidden
        }
        command_cache.write(added)
        self._plugin_help = added
        return added

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.plugin_commands()})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is None and not self._plugins_loaded:
            self._load_plugin_commands()
            command = super().get_command(ctx, cmd_name)
        return command

    def stand_in_help(self, name: str) -> str | None:
        found = super().stand_in_help(name)
        return found if found is not None else self.plugin_commands().get(name)


#: Characters of a plugin command's one-line help that ``--help`` remembers.
PLUGIN_HELP_WIDTH = 120

#: Where ``main`` keeps ``--sandbox`` for every command's Lab (``click.Context.meta``).
SANDBOX_META = "lambdalab.sandbox"

#: Where a command's options for its Lab (``serve --region``…) wait for ``pass_lab``.
LAB_OPTIONS_META = "lambdalab.lab_options"


def lab_option(name: str) -> Callable[[click.Context, click.Parameter, Any], None]:
    """An option callback that hands its value to the Lab ``pass_lab`` makes."""

    def keep(ctx: click.Context, param: click.Parameter, value: Any) -> None:
        if value is not None:
            ctx.find_root().meta.setdefault(LAB_OPTIONS_META, {})[name] = value

    return keep


SANDBOX_HELP = "An isolation backend: subprocess, limited, or a plugin's (`lambdalab plugins`)."


def open_lab() -> Lab:
    """A Lab on the command's ``--data-dir``, closed when the command ends."""
    from ..lab import Lab

    ctx = click.get_current_context()
    root = ctx.find_root()
    return ctx.with_resource(
        Lab(
            data_dir=root.obj,
            default_sandbox=root.meta.get(SANDBOX_META),
            **root.meta.get(LAB_OPTIONS_META, {}),
        )
    )


def pass_lab(command: Callable[Concatenate[Lab, P], R]) -> Callable[P, R]:
    """Call ``command(lab, ...)`` with a Lab on ``--data-dir``, closed after the command."""

    @functools.wraps(command)
    def with_lab(*args: P.args, **kwargs: P.kwargs) -> R:
        return command(open_lab(), *args, **kwargs)

    return with_lab


#: The data dir's folder name, looked for in the current folder and each one above it.
DATA_DIR_NAME = ".lambdalab"
DATA_DIR_ENV = "LAMBDALAB_DATA_DIR"


def find_data_dir(start: Path | None = None) -> Path:
    """``$LAMBDALAB_DATA_DIR``, else the nearest ``.lambdalab`` in this folder or one above
    it (as git finds ``.git``), else ``./.lambdalab`` (created when first written)."""
    if os.environ.get(DATA_DIR_ENV):
        return Path(os.environ[DATA_DIR_ENV])
    here = Path.cwd() if start is None else start
    for folder in (here, *here.resolve().parents):
        if (folder / DATA_DIR_NAME).is_dir():
            return folder / DATA_DIR_NAME
    return here / DATA_DIR_NAME


def through_server(ctx: click.Context, ask: Callable[[daemon.ServerInfo], T]) -> T | None:
    """``ask(server)`` of the data dir's running server (none is started); ``None`` when
    none runs (or it runs another default sandbox), or it refused the connection: the
    command then works in its own process. Served and in-process answers print alike."""
    data_dir = data_dir_of(ctx)
    server = daemon.usable(data_dir, ctx.find_root().meta.get(SANDBOX_META))
    if server is None:
        return None
    try:
        return ask(server)
    except daemon.ServerGone as gone:
        if not gone.refused:
            raise ServerLost(str(gone)) from None
        daemon.clear_state(data_dir, server.pid)  # it never saw the request
        return None


def data_dir_of(ctx: click.Context) -> Path:
    """The data dir the command works on (``--data-dir``, else :func:`find_data_dir`)."""
    return Path(ctx.find_root().obj)


def where(data_dir: Path) -> str:
    """The data dir as messages name it: absolute, so it is clear which one was read."""
    return str(data_dir.resolve())


# -- option parsing -------------------------------------------------------------------


def _pairs(option: str, values: Iterable[str]) -> dict[str, str]:
    """``("A=1", "B=2")`` → ``{"A": "1", "B": "2"}``; no ``=`` is a usage error."""
    parsed = {}
    for value in values:
        key, sep, rest = value.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{value!r} is not KEY=VALUE.", param_hint=option)
        parsed[key] = rest
    return parsed


def parse_env(
    ctx: click.Context, param: click.Parameter, values: tuple[str, ...]
) -> dict[str, str] | None:
    """``--env A=1 --env B=2`` → ``{"A": "1", "B": "2"}``; no ``--env`` → ``None``."""
    return _pairs("--env", values) if values else None


def parse_routing(
    ctx: click.Context, param: click.Parameter, values: tuple[str, ...]
) -> dict[str, float] | None:
    """``--routing 2=0.1`` → ``{"2": 0.1}``: 10 % of invokes go to version 2."""
    if not values:
        return None
    weights = {}
    for version, weight in _pairs("--routing", values).items():
        try:
            weights[version] = float(weight)
        except ValueError:
            raise click.BadParameter(
                f"{weight!r} is not a weight; use a number from 0.0 to 1.0, e.g. 2=0.1.",
                param_hint="--routing",
            ) from None
    return weights


def _given(**options: Any) -> dict[str, Any]:
    """Only the options the user gave, so the Lab's own defaults apply to the rest."""
    return {key: value for key, value in options.items() if value is not None}


def env_option(command: F) -> F:
    return click.option(
        "--env",
        "environment",
        multiple=True,
        metavar="KEY=VALUE",
        callback=parse_env,
        help="An environment variable for the function (repeat for more; replaces all).",
    )(command)


def config_options(command: F) -> F:
    """The settings ``create`` and ``update-config`` share."""
    for option in reversed(
        (
            click.option("--runtime", help="e.g. python3.12 [default: this Python's]."),
            click.option(
                "--memory-size",
                type=int,
                help=f"Memory in MB, {limits.MEMORY_MIN_MB}-{limits.MEMORY_MAX_MB} "
                f"[default: {limits.MEMORY_DEFAULT_MB}].",
            ),
            click.option(
                "--timeout",
                type=int,
                help=f"Seconds, {limits.TIMEOUT_MIN_S}-{limits.TIMEOUT_MAX_S} "
                f"[default: {limits.TIMEOUT_DEFAULT_S}].",
            ),
            click.option("--description", help="A description of the function."),
            click.option(
                "--sandbox",
                help=f"{SANDBOX_HELP} lambdalab's own setting [default: the lab's].",
            ),
            click.option(
                "--layer",
                "layers",
                multiple=True,
                callback=lambda ctx, param, value: list(value) or None,
                help="A layer version ARN, unpacked under /opt (repeat, in order; "
                "`lambdalab layer publish` makes one).",
            ),
        )
    ):
        command = option(command)
    return env_option(command)


code_option = click.option(
    "--code",
    required=True,
    help="A directory with your handler module, a .zip, or a single .py file.",
)


@contextlib.contextmanager
def code_package(code: str) -> Iterator[str]:
    """What ``--code`` names, as the Lab takes it: a directory or a .zip as they are; a
    single ``.py`` file as a directory holding only it (a package of one module)."""
    path = Path(code)
    if not path.exists():
        raise click.BadParameter(
            f"{code} does not exist; --code takes a directory with your handler module, "
            "a .zip of it, or a single .py file.",
            param_hint="--code",
        )
    if path.is_dir() or path.suffix.lower() == ".zip":
        yield code
        return
    if path.suffix != ".py":
        raise click.BadParameter(
            f"{code} is a file, but not a .py or .zip; --code takes a directory with your "
            "handler module, a .zip of it, or a single .py file.",
            param_hint="--code",
        )
    import shutil
    import tempfile

    with tempfile.TemporaryDirectory(prefix="lambdalab-code-") as folder:
        shutil.copy2(path, Path(folder) / path.name)
        yield folder


def handlers_in(code: str) -> list[str]:
    """``module.function`` for each top-level function of the package's own ``.py``
    files (not those of its dependencies' folders), for suggestions."""
    import ast

    path = Path(code)
    files = [path] if path.suffix == ".py" else sorted(path.glob("*.py")) if path.is_dir() else []
    found = []
    for file in files:
        try:
            tree = ast.parse(file.read_bytes())
        except (OSError, SyntaxError, ValueError):
            continue
        found += [
            f"{file.stem}.{node.name}"
            for node in tree.body
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
        ]
    return found


def missing_handler(code: str) -> click.UsageError:
    """No ``--handler``: say what to write, with the package's own functions as examples."""
    found = handlers_in(code)
    example = found[0] if len(found) == 1 else "app.handler"
    hint = f" ({', '.join(found)} in {code})" if 1 < len(found) <= 5 else ""
    return click.UsageError(
        f"Missing option '--handler': the function Lambda calls, as module.function, "
        f"e.g. --handler {example}{hint}."
    )


def check_handler(name: str, code: str, handler: str) -> None:
    """Warn when ``handler`` names no function of the package, with the nearest one.

    Only a warning: AWS accepts any well-formed handler at CreateFunction, and the
    invoke then fails in INIT with ``Runtime.HandlerNotFound``.
    """
    found = handlers_in(code)
    if not found or handler in found:
        return
    import difflib

    close = difflib.get_close_matches(handler, found, n=1)
    guess = f"did you mean {close[0]}? " if close else f"it has {', '.join(found[:5])}. "
    err.print(
        Text(
            f"Warning: the code in {code} has no function {handler}; {guess}AWS accepts "
            "the setting, "
            f"but invokes fail with Runtime.HandlerNotFound "
            f"(`lambdalab invoke {name} --log-type Tail` shows it)."
        ),
        soft_wrap=True,
    )


# -- output ---------------------------------------------------------------------------


def print_json(value: Mapping[str, Any]) -> None:
    click.echo(json.dumps(value, indent=2, default=str))


def print_table(
    title: str, columns: Iterable[str], rows: Iterable[Iterable[Any]], empty: str
) -> None:
    """A rich table of ``rows``, or the ``empty`` hint when there are none."""
    from rich.console import Console
    from rich.table import Table

    # Text, not str: a title or header is shown as is (a data dir named [x] is not markup)
    table = Table(title=Text(title, style="table.title"), title_justify="left")
    for index, column in enumerate(columns):
        table.add_column(Text(column), no_wrap=index == 0, overflow="fold")  # never cut the name
    for row in rows:
        table.add_row(*(Text("" if cell is None else str(cell)) for cell in row))
    # A terminal wraps the table to fit; a pipe or file gets whole rows, for grep.
    console = out if out.is_terminal else Console(highlight=False, width=PIPED_TABLE_WIDTH)
    console.print(table if table.row_count else Text(empty))


def say(message: str) -> None:
    """A one-line confirmation, e.g. ``Deleted alias live of hello``."""
    out.print(Text(message), soft_wrap=True)


def show_config(verb: str, config: FunctionConfiguration) -> None:
    show_aws_config(verb, config.to_aws(), config.sandbox)


def show_aws_config(verb: str, aws: Mapping[str, Any], sandbox: str | None) -> None:
    """``Published hello (version 1): python3.12, app.handler, 128 MB, 3 s, …`` from the
    configuration as the Lambda API returns it (from the Lab, or a server)."""
    say(
        f"{verb} {aws['FunctionName']} (version {aws['Version']}): {aws.get('Runtime')}, "
        f"{aws.get('Handler')}, {aws['MemorySize']} MB, {aws['Timeout']} s, "
        f"CodeSha256 {aws['CodeSha256']}"
        + (f", sandbox {sandbox}" if sandbox else "")
    )


def routing_text(alias: AliasConfiguration) -> str:
    return ", ".join(f"{v}={w:g}" for v, w in alias.additional_version_weights.items())


def weights_text(alias: Mapping[str, Any]) -> str:
    """:func:`routing_text` of an alias as the Lambda API returns it."""
    weights = (alias.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {}
    return ", ".join(f"{v}={w:g}" for v, w in weights.items())


def show_alias(verb: str, function_name: str, alias: AliasConfiguration, as_json: bool) -> None:
    """``Created alias live of hello: version 1 (and 2=0.25)``, or with ``--json`` the
    alias as CreateAlias/UpdateAlias return it (AWS JSON), for scripts."""
    if as_json:
        print_json(alias.to_aws())
        return
    routing = routing_text(alias)
    say(
        f"{verb} alias {alias.name} of {function_name}: version {alias.function_version}"
        + (f" (and {routing})" if routing else "")
        + (f", {alias.description!r}" if alias.description else "")
    )


json_option = click.option(
    "--json", "as_json", is_flag=True, help="Print the result as AWS returns it (JSON)."
)


# -- the command group ----------------------------------------------------------------


@click.group(cls=MainGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where functions, versions, logs and code live [default: $LAMBDALAB_DATA_DIR, "
    "else the nearest .lambdalab in this folder or above, else ./.lambdalab].",
)
@click.option(
    "--sandbox",
    default=None,
    help=f"{SANDBOX_HELP} For functions without their own "
    "[default: $LAMBDALAB_SANDBOX or the lab's].",
)
@click.version_option(package_name="lambdalab")
@click.pass_context
def main(ctx: click.Context, data_dir: Path | None, sandbox: str | None) -> None:
    """lambdalab: AWS Lambda on one machine, built to teach.

    Start with `lambdalab demo`, then `lambdalab lab start 1`.
    """
    ctx.obj = data_dir if data_dir is not None else find_data_dir()
    ctx.meta[SANDBOX_META] = sandbox


# -- functions ------------------------------------------------------------------------


@main.command()
@click.argument("name")
@code_option
@click.option(
    "--handler",
    help="module.function, e.g. app.handler (required but for provided.* runtimes, "
    "where it is any name and defaults to bootstrap).",
)
@config_options
@click.option("--publish", is_flag=True, help="Also publish version 1.")
@pass_lab
def create(
    lab: Lab, name: str, code: str, handler: str | None, publish: bool, **settings: Any
) -> None:
    """Create function NAME from a directory, a .zip or a single .py file."""
    if handler is None and not str(settings.get("runtime") or "").startswith("provided"):
        raise missing_handler(code)
    with code_package(code) as package:
        config = lab.create_function(
            name, package, handler=handler, publish=publish, **_given(**settings)
        )
    if handler is not None and config.runtime.startswith("python"):
        check_handler(name, code, handler)
    show_config("Created", config)


@main.command("update-code")
@click.argument("name")
@code_option
@click.option("--publish", is_flag=True, help="Also publish a version.")
@pass_lab
def update_code(lab: Lab, name: str, code: str, publish: bool) -> None:
    """Replace the code of NAME's $LATEST."""
    with code_package(code) as package:
        show_config("Updated", lab.update_function_code(name, package, publish=publish))


@main.command("update-config")
@click.argument("name")
@click.option("--handler", help="module.function, e.g. app.handler (provided.*: any name).")
@config_options
@pass_lab
def update_config(lab: Lab, name: str, **settings: Any) -> None:
    """Change settings of NAME's $LATEST; settings not given keep their value."""
    show_config("Updated", lab.update_function_configuration(name, **_given(**settings)))


@main.command()
@click.argument("name")
@click.option("--qualifier", help="A version number or alias [default: $LATEST].")
@click.pass_context
def get(ctx: click.Context, name: str, qualifier: str | None) -> None:
    """Print NAME as GetFunction returns it (AWS JSON); its sandbox goes to stderr."""
    served = through_server(ctx, lambda server: get_served(server, name, qualifier))
    if served is None:
        lab = open_lab()
        function = lab.get_function(name, qualifier)
        served = (function.to_aws(), function.configuration.sandbox, lab.default_sandbox)
    aws, sandbox, default = served
    print_json(aws)
    click.echo(f"Sandbox: {sandbox or default + ' (the lab default)'}", err=True)


def get_served(
    server: daemon.ServerInfo, name: str, qualifier: str | None
) -> tuple[dict[str, Any], str | None, str]:
    """GetFunction through the server, as :func:`get` prints it in its own process: the
    code's ``file://`` path, not the server's URL (gone once the server stops)."""
    function = daemon.get_function(server, name, qualifier)
    extras = daemon.function_extras(server, name, qualifier)
    function["Code"]["Location"] = extras.code_file
    return function, extras.sandbox, extras.default_sandbox


@main.command("list")
@click.pass_context
def list_(ctx: click.Context) -> None:
    """List every function (from the running lambdalab server, if there is one)."""
    data_dir = data_dir_of(ctx)
    server = daemon.usable(data_dir, ctx.find_root().meta.get(SANDBOX_META))
    functions = (
        daemon.list_functions(server) if server
        else (f.to_aws() for f in open_lab().list_functions())
    )
    print_table(
        f"Functions in {where(data_dir)}",
        ("Name", "Runtime", "Handler", "MB", "Timeout", "Last modified", "Description"),
        (
            (f.get("FunctionName"), f.get("Runtime"), f.get("Handler"), f.get("MemorySize"),
             f.get("Timeout"), f.get("LastModified"), f.get("Description"))
            for f in functions
        ),
        empty=f"No functions yet in {where(data_dir)}: run `lambdalab demo`, or "
        "`lambdalab create --help`.",
    )


@main.command()
@click.argument("name")
@click.option("--qualifier", help="Delete only this version (the function stays).")
@pass_lab
def delete(lab: Lab, name: str, qualifier: str | None) -> None:
    """Delete function NAME, or one of its versions."""
    if qualifier == limits.LATEST:
        from ..errors import InvalidParameterValueException

        raise InvalidParameterValueException(
            f"$LATEST version cannot be deleted without deleting the function. Run "
            f"`lambdalab delete {name}` without --qualifier to delete the function."
        )
    lab.delete_function(name, qualifier)
    say(f"Deleted {name}" + (f" version {qualifier}" if qualifier else ""))


# -- invoking -------------------------------------------------------------------------


def read_payload(payload: str | None, payload_file: IO[bytes] | None) -> bytes | str | None:
    """PAYLOAD, else --payload-file, else whatever is piped in (``event generate … |``)."""
    if payload is not None and payload_file is not None:
        raise click.UsageError("Give PAYLOAD or --payload-file, not both.")
    if payload_file is not None:
        return payload_file.read()
    if payload is None and not sys.stdin.isatty():
        return sys.stdin.buffer.read() or None
    return payload


def run_queued_events(lab: Lab, config: FunctionConfiguration) -> None:
    """Give the queued event time to run: no server holds the data dir once the CLI exits.

    A throttled event stays queued (it is durable) and runs when a Lab next opens the dir.
    """
    if not lab.wait_for_events(timeout=limits.INIT_TIMEOUT_S + config.timeout):
        message = "The event is still queued (throttled?); it runs when lambdalab next opens "
        err.print(Text(message + "this data dir."), soft_wrap=True)


@main.command()
@click.argument("name")
@click.argument("payload", required=False)
@click.option(
    "--payload-file",
    type=click.File("rb"),
    help="Read the JSON payload from FILE; - reads standard input.",
)
@click.option("--qualifier", help="A version number or alias [default: $LATEST].")
@click.option(
    "--invocation-type",
    type=click.Choice(limits.INVOCATION_TYPES),
    default="RequestResponse",
    show_default=True,
    help="RequestResponse waits for the result; Event queues it; DryRun only validates.",
)
@click.option(
    "--log-type",
    type=click.Choice(limits.LOG_TYPES),
    default="None",
    show_default=True,
    help="Tail prints the last 4 KB of the invoke's log on stderr.",
)
@click.pass_context
def invoke(
    ctx: click.Context,
    name: str,
    payload: str | None,
    payload_file: IO[bytes] | None,
    qualifier: str | None,
    invocation_type: str,
    log_type: str,
) -> None:
    """Invoke NAME with the JSON PAYLOAD and print what it returned.

    Exits 0 on success, 1 when the function returned an error, 2 on a usage or API error.
    The invoke runs in the lambdalab server serving the data dir (started in the
    background on first use), so the next invoke finds a warm environment.
    """
    body = read_payload(payload, payload_file)
    options = dict(qualifier=qualifier, invocation_type=invocation_type, log_type=log_type)
    served = invoke_served(data_dir_of(ctx), ctx.find_root().meta.get(SANDBOX_META), name,
                           body, options)
    if served is not None and served.status_code != 200:
        err.print(Text(f"StatusCode {served.status_code}, RequestId {served.request_id}"))
    result: daemon.RemoteInvoke | InvokeResult = (
        served if served is not None
        else invoke_here(open_lab(), name, body, qualifier, invocation_type, log_type)
    )
    if result.log_result:
        click.echo(result.log_tail, err=True, nl=False)
    if result.payload:
        click.echo(result.payload.decode(errors="replace"))
    if result.function_error:
        version = result.executed_version
        see_log = "" if log_type == "Tail" else "; add --log-type Tail to see its log"
        err.print(Text(f"FunctionError: {result.function_error} (version {version}){see_log}"))
        ctx.exit(EXIT_FUNCTION_ERROR)


def invoke_served(
    data_dir: Path, sandbox: str | None, name: str, body: bytes | str | None,
    options: dict[str, Any],
) -> daemon.RemoteInvoke | None:
    """Invoke through the data dir's server (started if none runs); ``None`` when the
    command must run in its own process. A server that refused the connection never
    saw the invoke, so another is started and asked once more."""
    for attempt in (1, 2):
        server = daemon.ensure(data_dir, sandbox)
        if server is None:
            return None
        try:
            return daemon.invoke(server, name, body, **options)
        except daemon.ServerGone as gone:
            if not gone.refused or attempt == 2:
                raise ServerLost(str(gone)) from None
            daemon.clear_state(data_dir, server.pid)
    return None


def invoke_here(
    lab: Lab, name: str, body: bytes | str | None, qualifier: str | None,
    invocation_type: str, log_type: str,
) -> InvokeResult:
    """Invoke in this process (no background server): a cold start every time."""
    result = lab.invoke(
        name, body, qualifier=qualifier, invocation_type=invocation_type, log_type=log_type
    )
    if result.status_code != 200:
        err.print(Text(f"StatusCode {result.status_code}, RequestId {result.request_id}"))
    if invocation_type == "Event":
        run_queued_events(lab, lab.get_function_configuration(name, qualifier))
    return result


@main.command("queue")
@pass_lab
def queue_(lab: Lab) -> None:
    """Show queued Event invocations: pending, in-flight and retrying (with next attempt).

    Opening the data dir also starts its workers: events that are due run now.
    """
    now = lab.clock.now()
    print_table(
        "Asynchronous event queue",
        ("REQUEST ID", "FUNCTION", "STATE", "ATTEMPTS", "AGE (s)", "NEXT ATTEMPT"),
        (
            (
                q.request_id,
                q.function_name + (f":{q.qualifier}" if q.qualifier else ""),
                q.state,
                q.attempts,
                f"{now - q.enqueued_at:.0f}",
                iso_timestamp(q.next_attempt_at) if q.state == "retrying" else "",
            )
            for q in lab.queue()
        ),
        "The queue is empty: every Event invocation has run.",
    )


# -- versions and aliases -------------------------------------------------------------


@main.command()
@click.argument("name")
@click.option("--description", help="A description of this version.")
@click.pass_context
def publish(ctx: click.Context, name: str, description: str | None) -> None:
    """Publish NAME's $LATEST as an immutable version (unchanged code: the existing one)."""
    def remotely(server: daemon.ServerInfo) -> tuple[dict[str, Any], str | None]:
        published = daemon.publish_version(server, name, description)
        return published, daemon.function_extras(server, name, published["Version"]).sandbox

    served = through_server(ctx, remotely)
    if served is None:
        show_config("Published", open_lab().publish_version(name, description))
    else:
        show_aws_config("Published", *served)


@main.command()
@click.argument("name")
@click.pass_context
def versions(ctx: click.Context, name: str) -> None:
    """List NAME's versions, $LATEST first."""
    listed = through_server(ctx, lambda server: list(daemon.list_versions(server, name)))
    if listed is None:
        listed = [v.to_aws() for v in open_lab().list_versions_by_function(name)]
    print_table(
        f"Versions of {name}",
        ("Version", "CodeSha256", "Last modified", "Description"),
        ((v["Version"], v["CodeSha256"], v["LastModified"], v["Description"]) for v in listed),
        empty=f"{name} has no versions.",
    )


@main.group()
def alias() -> None:
    """Create, change, show, list and delete aliases (names that point at versions)."""


routing_option = click.option(
    "--routing",
    multiple=True,
    metavar="VERSION=WEIGHT",
    callback=parse_routing,
    help="Send a share (0.0-1.0) of invokes to a second version, e.g. --routing 2=0.1.",
)


@alias.command("create")
@click.argument("name")
@click.argument("alias_name", metavar="ALIAS")
@click.option(
    "--version", "function_version", required=True, help="The version ALIAS points at."
)
@click.option("--description", default="", help="A description of the alias.")
@routing_option
@json_option
@pass_lab
def alias_create(
    lab: Lab,
    name: str,
    alias_name: str,
    function_version: str,
    description: str,
    routing: dict[str, float] | None,
    as_json: bool,
) -> None:
    """Create ALIAS of function NAME."""
    created = lab.create_alias(
        name,
        alias_name,
        function_version,
        description=description,
        routing_config={"AdditionalVersionWeights": routing} if routing else None,
    )
    show_alias("Created", name, created, as_json)


@alias.command("update")
@click.argument("name")
@click.argument("alias_name", metavar="ALIAS")
@click.option("--version", "function_version", help="The version ALIAS points at.")
@click.option("--description", help="A description of the alias.")
@routing_option
@click.option("--no-routing", is_flag=True, help="Stop routing to a second version.")
@json_option
@pass_lab
def alias_update(
    lab: Lab,
    name: str,
    alias_name: str,
    function_version: str | None,
    description: str | None,
    routing: dict[str, float] | None,
    no_routing: bool,
    as_json: bool,
) -> None:
    """Point ALIAS elsewhere, or change its routing."""
    if routing is not None and no_routing:
        raise click.UsageError("Give --routing or --no-routing, not both.")
    weights = {} if no_routing else routing
    updated = lab.update_alias(
        name,
        alias_name,
        function_version=function_version,
        description=description,
        routing_config=None if weights is None else {"AdditionalVersionWeights": weights},
    )
    show_alias("Updated", name, updated, as_json)


@alias.command("get")
@click.argument("name")
@click.argument("alias_name", metavar="ALIAS")
@click.pass_context
def alias_get(ctx: click.Context, name: str, alias_name: str) -> None:
    """Print ALIAS as GetAlias returns it (AWS JSON)."""
    served = through_server(ctx, lambda server: daemon.get_alias(server, name, alias_name))
    print_json(served if served is not None else open_lab().get_alias(name, alias_name).to_aws())


@alias.command("list")
@click.argument("name")
@click.pass_context
def alias_list(ctx: click.Context, name: str) -> None:
    """List the aliases of function NAME."""
    listed = through_server(ctx, lambda server: list(daemon.list_aliases(server, name)))
    if listed is None:
        listed = [a.to_aws() for a in open_lab().list_aliases(name)]
    print_table(
        f"Aliases of {name}",
        ("Alias", "Version", "Routing", "Description"),
        (
            (a["Name"], a["FunctionVersion"], weights_text(a), a.get("Description", ""))
            for a in listed
        ),
        empty=f"{name} has no aliases. Create one with `lambdalab alias create`.",
    )


@alias.command("delete")
@click.argument("name")
@click.argument("alias_name", metavar="ALIAS")
@pass_lab
def alias_delete(lab: Lab, name: str, alias_name: str) -> None:
    """Delete ALIAS of function NAME."""
    lab.delete_alias(name, alias_name)
    say(f"Deleted alias {alias_name} of {name}")


# -- concurrency ----------------------------------------------------------------------


@main.group()
def concurrency() -> None:
    """Reserve concurrency for a function (which also caps it there)."""


@concurrency.command("put")
@click.argument("name")
@click.argument("reserved", type=int)
@pass_lab
def concurrency_put(lab: Lab, name: str, reserved: int) -> None:
    """Reserve RESERVED concurrent executions for NAME (0 stops all invokes)."""
    granted = lab.put_function_concurrency(name, reserved)
    say(f"{name}: {granted} reserved concurrent executions")


@concurrency.command("get")
@click.argument("name")
@pass_lab
def concurrency_get(lab: Lab, name: str) -> None:
    """Show NAME's reserved concurrency."""
    reserved = lab.get_function_concurrency(name)
    if reserved is None:
        say(f"{name}: no reserved concurrency (it shares the account's unreserved pool)")
    else:
        say(f"{name}: {reserved} reserved concurrent executions")


@concurrency.command("delete")
@click.argument("name")
@pass_lab
def concurrency_delete(lab: Lab, name: str) -> None:
    """Remove NAME's reserved concurrency."""
    lab.delete_function_concurrency(name)
    say(f"{name}: no reserved concurrency")


# -- logs, plugins, demo --------------------------------------------------------------


def print_log_events(
    events: Iterable[LogEvent | daemon.RemoteLogEvent], matches: Callable[[str], bool] | None = None
) -> int:
    """Print events as ``timestamp  message`` (those ``matches`` accepts, if given); return
    the id of the last event read (or 0)."""
    last = 0
    for event in events:
        last = event.id
        if matches is not None and not matches(event.message):
            continue
        line = f"{iso_timestamp(event.timestamp / 1000)}  {event.message.removesuffix(chr(10))}"
        out.print(Text(line), soft_wrap=True)
    return last


def _log_filter(pattern: str | None) -> Callable[[str], bool] | None:
    """``--filter``'s pattern compiled, or a usage error saying what is wrong with it."""
    if pattern is None:
        return None
    from ..log_patterns import PatternError, compile_pattern

    try:
        return compile_pattern(pattern)
    except PatternError as e:
        raise click.BadParameter(str(e), param_hint="--filter") from None


@main.command()
@click.argument("name")
@click.option("--follow", "-f", is_flag=True, help="Keep printing new events; Ctrl-C ends.")
@click.option("--retention", type=int, metavar="DAYS",
              help="Keep the group's events DAYS days (PutRetentionPolicy: 1, 3, 5, 7, 14, "
                   "30, 60, 90, 120, 150, 180, 365, … 3653).")
@click.option("--no-retention", is_flag=True,
              help="Keep the group's events forever (DeleteRetentionPolicy).")
@click.option("--filter", "pattern", metavar="PATTERN",
              help="Only events that match PATTERN, CloudWatch's filter pattern syntax: "
                   "'ERROR', '?ERROR ?WARN', '-DEBUG', '{ $.level = \"ERROR\" }'.")
@click.pass_context
def logs(
    ctx: click.Context, name: str, follow: bool, retention: int | None, no_retention: bool,
    pattern: str | None,
) -> None:
    """Print the log group of function NAME (/aws/lambda/NAME), or set its retention."""
    group = f"/aws/lambda/{name}"
    matches = _log_filter(pattern)
    server = None if retention is not None or no_retention else daemon.usable(
        data_dir_of(ctx), ctx.find_root().meta.get(SANDBOX_META))
    if server is not None:
        read: Callable[..., Iterable[Any]] = functools.partial(daemon.get_logs, server, name)
    else:
        lab = open_lab()
        read = functools.partial(lab.get_logs, name)
    if retention is not None or no_retention:
        if no_retention:
            lab.delete_retention_policy(group)
            say(f"{group} keeps its events forever")
        else:
            assert retention is not None  # the branch's condition, with no_retention false
            lab.put_retention_policy(group, retention)
            say(f"{group} keeps its events {retention} days")
        return
    after = print_log_events(read(), matches)
    try:
        while follow:
            _sleep(FOLLOW_INTERVAL_S)
            after = print_log_events(read(after_id=after), matches) or after
    except KeyboardInterrupt:
        pass


@main.command()
@click.pass_context
@pass_lab
def demo(lab: Lab, ctx: click.Context) -> None:
    """Deploy a sample function, invoke it cold then warm, and explain what happened."""
    from .demo import run_demo

    if any(i.result.function_error for i in run_demo(lab, out.console)):
        ctx.exit(EXIT_FUNCTION_ERROR)


# -- commands in modules of their own: imported when run (plugins add theirs) -------

main.lazy_commands.update(
    {
        "serve": (
            "lambdalab.cli.edge",
            "serve",
            "Serve the Lambda API over HTTP, for boto3, the AWS CLI and any AWS SDK.",
        ),
        "status": (
            "lambdalab.cli.edge",
            "status",
            "Show the lambdalab server that serves the data dir, if one runs.",
        ),
        "stop": (
            "lambdalab.cli.edge",
            "stop",
            "Stop the lambdalab server that serves the data dir (its environments end).",
        ),
        "console": (
            "lambdalab.cli.console",
            "console",
            "Print and open the live web console of the server serving the data dir.",
        ),
        "event": (
            "lambdalab.cli.events",
            "event",
            "Print the events AWS services send to Lambda: S3, SNS, SQS, API Gateway, …",
        ),
        "plugins": (
            "lambdalab.cli.plugin",
            "plugins",
            "List loaded plugins: name, version, where each came from, the hooks it implements.",
        ),
        "plugin": (
            "lambdalab.cli.plugin",
            "plugin",
            "Write your own plugin: a trigger or an isolation backend.",
        ),
        "lab": (
            "lambdalab.cli.course",
            "lab_group",
            "Guided labs: learn how Lambda behaves by making checks pass.",
        ),
        "layer": (
            "lambdalab.cli.layer",
            "layer_group",
            "Layers: zips of shared code that functions get under /opt.",
        ),
    }
)
