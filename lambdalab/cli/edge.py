"""``lambdalab serve``, ``status`` and ``stop``: the HTTP edge, and the server a data dir's
commands share (:mod:`.daemon`).

``serve`` runs the edge in the foreground (:mod:`lambdalab.server`) and, on loopback
without ``--auth-key``, registers it so the CLI's other commands reach its warm
environments; ``status`` and ``stop`` show and stop whichever server serves the data dir.
"""

from __future__ import annotations

import os
from pathlib import Path

import click

from . import daemon
from .. import limits
from ..lab import Lab
from .app import SANDBOX_HELP, SANDBOX_META, Text, data_dir_of, err, lab_option, pass_lab, say, where


def parse_auth_keys(
    ctx: click.Context, param: click.Parameter, values: tuple[str, ...]
) -> dict[str, str] | None:
    """``--auth-key ID:SECRET`` (repeatable) → ``{"ID": "SECRET"}``."""
    keys = {}
    for value in values:
        key_id, sep, secret = value.partition(":")
        if not sep or not key_id or not secret:
            raise click.BadParameter(f"{value!r} is not ACCESS_KEY_ID:SECRET.", param_hint="--auth-key")
        keys[key_id] = secret
    return keys or None


def keep_sandbox(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    """``serve --sandbox``: the same as ``lambdalab --sandbox`` before the command."""
    if value is not None:
        ctx.find_root().meta[SANDBOX_META] = value


@click.command()
@click.option("--host", default=limits.EDGE_HOST, show_default=True, help="Address to listen on.")
@click.option("--port", default=limits.EDGE_PORT, show_default=True, type=int,
              help="Port (0: any free port).")
@click.option(
    "--auth-key",
    "auth_keys",
    multiple=True,
    metavar="ID:SECRET",
    callback=parse_auth_keys,
    help="Only accept requests SigV4-signed with this access key (repeat for more).",
)
@click.option(
    "--region", default=None, expose_value=False, callback=lab_option("region"),
    help="The home region: unsigned requests' and a new data dir's (a data dir keeps "
    "the one it was first served with) [default: $LAMBDALAB_REGION or us-east-1]. "
    "Clients signing for another region get that region's own functions.",
)
@click.option(
    "--account-id", default=None, expose_value=False, callback=lab_option("account_id"),
    help="The account id in ARNs [default: $LAMBDALAB_ACCOUNT_ID or 000000000000].",
)
@click.option(
    "--state-transition", type=float, default=None, expose_value=False,
    callback=lab_option("state_transition"), metavar="SECONDS",
    help="How long a new function stays Pending and an update InProgress [default: 0].",
)
@click.option(
    "--sandbox", default=None, expose_value=False, callback=keep_sandbox,
    help=f"{SANDBOX_HELP} For functions without their own, as `lambdalab --sandbox` "
    "[default: that, else $LAMBDALAB_SANDBOX or the lab's].",
)
@click.option(
    "--enforce-iam", is_flag=True, default=None, expose_value=False, callback=lab_option("enforce_iam"),
    help="Authorise every request from its access key with IAM policies "
    "[default: $LAMBDALAB_ENFORCE_IAM, else off].",
)
@pass_lab
def serve(lab: Lab, host: str, port: int, auth_keys: dict[str, str] | None) -> None:
    """Serve the Lambda API over HTTP, for boto3, the AWS CLI and any AWS SDK.

    Point a client at it with AWS_ENDPOINT_URL=http://127.0.0.1:9001 (or the AWS CLI's
    --endpoint-url) and any credentials. Each region a client signs for has its own
    functions, as on AWS. Ctrl-C (or SIGTERM) stops it once requests in flight have
    finished.
    """
    daemon.prepare_sandboxes(lab)  # the fork server boots while the edge's modules load
    from ..regions import REGIONS_FOLDER, RegionMismatch
    from ..server import EdgeServer, is_loopback
    from ..server.heap import freeze_long_lived

    if not is_loopback(host):
        err.print(
            Text(
                f"Warning: listening on {host}, not only on this machine. Anyone who can "
                "reach it can run code here" + ("" if auth_keys else "; consider --auth-key") + "."
            )
        )
    try:
        # nothing else in this process reads the lab: every reader comes through the edge
        server = EdgeServer(lab, host, port, auth_keys=auth_keys, answer_first=True)
    except OSError as e:
        raise click.ClickException(f"Cannot listen on {host}:{port}: {e.strerror}.") from None
    except RegionMismatch as e:
        raise click.ClickException(str(e)) from None
    say(f"lambdalab edge on {server.url} (data dir {lab.store.data_dir}); Ctrl-C stops it")
    say(f"Home region {lab.arns.region}; a client signing for another region gets that "
        f"region's own functions (kept in {Path(lab.store.data_dir) / REGIONS_FOLDER}/).")
    say(f"Try: aws --endpoint-url {server.url} lambda list-functions")
    data_dir = Path(lab.store.data_dir)
    running = daemon.read_state(data_dir)
    if running is not None and running.started_by == daemon.BACKGROUND:
        daemon.stop(data_dir)  # one lambdalab per data dir: this one takes over
        say(f"Stopped the background server (pid {running.pid}): this one serves the data dir.")
        running = None
    # The CLI's commands reach this server (and its warm environments) when it can
    # answer them unsigned on loopback, and no other server serves the data dir.
    register = is_loopback(host) and not auth_keys and not lab.enforce_iam and running is None
    if register:
        daemon.write_state(
            daemon.ServerInfo(
                os.getpid(), server.url, str(data_dir),
                daemon.wanted_sandbox(click.get_current_context().find_root().meta.get(SANDBOX_META)),
                daemon.SERVE, None,
            )
        )
    freeze_long_lived()  # this process only serves: its full collections stay short
    try:
        server.run()
    finally:
        if register:
            daemon.clear_state(data_dir, os.getpid())


@click.command()
@click.option("--wait", is_flag=True,
              help=f"Wait (up to {daemon.START_TIMEOUT_S} s) until a server answers; "
              "exit 1 if none does.")
@click.option("--all", "every", is_flag=True,
              help="Every background server on this machine, whatever its data dir.")
@click.pass_context
def status(ctx: click.Context, wait: bool, every: bool) -> None:
    """Show the lambdalab server that serves the data dir, if one runs."""
    if every:
        running = daemon.background_servers()
        for server in running:
            say(f"{server.data_dir}: {server.describe()}.")
        if not running:
            say("No lambdalab server runs in the background.")
        return
    data_dir = data_dir_of(ctx)
    info = daemon.wait_for_server(data_dir) if wait else daemon.read_state(data_dir)
    if info is None:
        say(f"No lambdalab server runs for {where(data_dir)}; the next `lambdalab invoke` "
            "starts one in the background.")
    else:
        say(f"{where(data_dir)}: {info.describe()}.")
    if daemon.disabled():
        say(f"{daemon.NO_DAEMON_ENV} is set: commands run in their own process.")
    if wait and info is None:
        ctx.exit(1)


@click.command()
@click.pass_context
def stop(ctx: click.Context) -> None:
    """Stop the lambdalab server that serves the data dir (its environments end)."""
    data_dir = data_dir_of(ctx)
    info = daemon.stop(data_dir)
    say(f"Stopped the {info.describe(with_idle_timeout=False)}." if info else f"No lambdalab server runs for "
        f"{where(data_dir)}.")
