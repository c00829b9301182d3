"""``lambdalab console``: the address of the live web console, opened in a browser.

The console is a page of the edge (``lambdalab serve``) at :data:`CONSOLE_PATH`, on
the same port as the AWS APIs; this command only finds which edge serves the data dir.
"""

from __future__ import annotations

import webbrowser

import click

from . import daemon
from .. import limits
from .app import data_dir_of, say

#: Where the edge serves the console (the console plugin claims this path).
CONSOLE_PATH = "/_lambdalab/console/"


@click.command()
@click.option("--endpoint-url", default=None, metavar="URL",
              help="The edge's address [default: the server serving the data dir, else "
              f"http://{limits.EDGE_HOST}:{limits.EDGE_PORT}].")
@click.option("--open/--no-open", "open_browser", default=True, show_default=True,
              help="Open the page in the default browser too.")
@click.pass_context
def console(ctx: click.Context, endpoint_url: str | None, open_browser: bool) -> None:
    """Print and open the live web console of the server serving the data dir.

    It shows functions, one lane per execution environment (INIT, each invoke) and the
    lab's clock, updated as they change. An edge started with --auth-key asks for a key.
    """
    url = (endpoint_url or _served_url(ctx)).rstrip("/") + CONSOLE_PATH
    say(url)
    if open_browser:
        webbrowser.open(url)


def _served_url(ctx: click.Context) -> str:
    running = daemon.read_state(data_dir_of(ctx))
    if running is not None:
        return running.url
    return f"http://{limits.EDGE_HOST}:{limits.EDGE_PORT}"
