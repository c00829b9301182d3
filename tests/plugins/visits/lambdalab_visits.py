"""A plugin that counts visits to paths, built on the plugin toolkit only.

- its own table in the lab's database (hook ``lambdalab_migrations``);
- per-lab state, closed with the lab (``lab.stash``);
- an HTTP service on the edge: ``POST /_visits/PATH`` counts a visit, ``GET /_visits/``
  lists the counts (hook ``lambdalab_http_services``);
- a command: ``lambdalab visits add PATH`` and ``lambdalab visits list`` (hook
  ``lambdalab_register_commands``).
"""

from __future__ import annotations

import json

import click
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from lambdalab import Lab
from lambdalab.plugin import HttpService, StashKey, hookimpl, pass_lab, print_table, say

__version__ = "0.1.0"

PREFIX = "/_visits/"

class Visits:
    """One lab's counts, in its database; ``closed`` says the lab closed it."""

    def __init__(self, lab: Lab) -> None:
        self.store = lab.store
        self.closed = False

    def add(self, path: str) -> int:
        with self.store.transaction() as db:
            db.execute(
                "INSERT INTO visits (path, count) VALUES (?, 1) "
                "ON CONFLICT (path) DO UPDATE SET count = count + 1",
                (path,),
            )
        return self.counts()[path]

    def counts(self) -> dict[str, int]:
        return {row["path"]: row["count"] for row in self.store.query("SELECT path, count FROM visits ORDER BY path")}

    def close(self) -> None:
        self.closed = True

VISITS = StashKey[Visits]()

def visits_of(lab: Lab) -> Visits:
    return lab.stash.setdefault(VISITS, lambda: Visits(lab))

@hookimpl
def lambdalab_migrations() -> dict[str, str]:
    return {"visits-1": "CREATE TABLE visits (path TEXT PRIMARY KEY, count INTEGER NOT NULL)"}

@hookimpl
def lambdalab_http_services(lab: Lab) -> list[HttpService]:
    visits = visits_of(lab)

    async def add(request: Request) -> JSONResponse:
        path = "/" + request.path_params["path"]
        return JSONResponse({"path": path, "count": visits.add(path)})

    async def listing(request: Request) -> JSONResponse:
        return JSONResponse(visits.counts())

    app = Starlette(routes=[
        Route(PREFIX, listing, methods=["GET"]),
        Route(PREFIX + "{path:path}", add, methods=["POST"]),
    ])
    return [HttpService("visits", app, path_prefixes=(PREFIX,))]

@hookimpl
def lambdalab_register_commands(cli: click.Group) -> None:
    @cli.group()
    def visits() -> None:
        """Count visits to paths (the lambdalab_visits plugin)."""

    @visits.command("add")
    @click.argument("path")
    @pass_lab
    def add(lab: Lab, path: str) -> None:
        """Count one visit to PATH."""
        say(f"{path}: {visits_of(lab).add(path)}")

    @visits.command("list")
    @click.option("--json", "as_json", is_flag=True, help="Print the counts as JSON.")
    @pass_lab
    def listing(lab: Lab, as_json: bool) -> None:
        """List every path and its visits."""
        counts = visits_of(lab).counts()
        if as_json:
            click.echo(json.dumps(counts))
        else:
            print_table("Visits", ("Path", "Count"), ((p, str(n)) for p, n in counts.items()),
                        empty="No visits yet.")

