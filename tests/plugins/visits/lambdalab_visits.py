"""A plugin that counts visits to paths, built on the plugin toolkit only.

- its own table in the lab's database (hook ``lambdalab_migrations``);
- per-lab state, closed with the lab (``lab.stash``);
- an HTTP service on the edge: ``POST /_visits/PATH`` counts a visit, ``GET /_visits/``
  lists the counts (hook ``lambdalab_http_services``);
- a command: ``lambdalab visits add PATH`` and ``lambdalab visits list`` (hook
  ``lambdalab_register_commands``);
- an event source mapping kind: a function mapped to ``arn:aws:visits:REGION:ACCOUNT:/PATH``
  is invoked with each visit to that path (hook ``lambdalab_event_source_mappings``);
- a destination: asynchronous invocation records sent to an SNS topic ARN are kept in
  the table ``visits_deliveries`` (hook ``lambdalab_destination_sender``).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

import click
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from lambdalab import Lab, ResourceNotFoundException
from lambdalab.plugin import (
    DestinationMessage,
    HttpService,
    InvalidParameterValueException,
    Sender,
    StashKey,
    hookimpl,
    pass_lab,
    print_table,
    say,
)

__version__ = "0.1.0"

PREFIX = "/_visits/"

@dataclass(frozen=True)
class VisitMapping:
    """A function invoked with every visit to a path."""

    uuid: str
    function_arn: str
    event_source_arn: str

    def to_aws(self) -> dict[str, Any]:
        return {"UUID": self.uuid, "FunctionArn": self.function_arn,
                "EventSourceArn": self.event_source_arn, "State": "Enabled"}


class Visits:
    """One lab's counts, in its database; ``closed`` says the lab closed it."""

    def __init__(self, lab: Lab) -> None:
        self.lab = lab
        self.store = lab.store
        self.closed = False

    def add(self, path: str) -> int:
        with self.store.transaction() as db:
            db.execute(
                "INSERT INTO visits (path, count) VALUES (?, 1) "
                "ON CONFLICT (path) DO UPDATE SET count = count + 1",
                (path,),
            )
        count = self.counts()[path]
        for mapping in self.list(event_source_arn=self.arn_of(path)):
            self.lab.invoke(mapping.function_arn, {"path": path, "count": count})
        return count

    def arn_of(self, path: str) -> str:
        return f"arn:aws:visits:{self.lab.arns.region}:{self.lab.arns.account_id}:{path}"

    # -- event source mappings (the Lambda API calls these) ----------------------------

    def create(self, function_name: str, event_source_arn: str, **settings: Any) -> VisitMapping:
        if not event_source_arn.split(":", 5)[-1].startswith("/"):
            raise InvalidParameterValueException("EventSourceArn: end it with the path, /PATH.")
        function = self.lab.get_function(function_name).configuration.function_arn
        mapping = VisitMapping(str(uuid.uuid4()), function, event_source_arn)
        with self.store.transaction() as db:
            db.execute("INSERT INTO visits_mappings VALUES (?, ?, ?)",
                       (mapping.uuid, mapping.function_arn, mapping.event_source_arn))
        return mapping

    def get(self, uuid: str) -> VisitMapping:
        rows = self.store.query("SELECT * FROM visits_mappings WHERE uuid = ?", (uuid,))
        if not rows:
            raise ResourceNotFoundException(f"No visits mapping has UUID {uuid}.")
        return VisitMapping(*rows[0])

    def update(self, uuid: str, **settings: Any) -> VisitMapping:
        return self.get(uuid)

    def delete(self, uuid: str) -> VisitMapping:
        mapping = self.get(uuid)
        with self.store.transaction() as db:
            db.execute("DELETE FROM visits_mappings WHERE uuid = ?", (uuid,))
        return mapping

    def list(self, event_source_arn: str | None = None, function_name: str | None = None) -> list[VisitMapping]:
        rows = self.store.query("SELECT * FROM visits_mappings ORDER BY uuid")
        return [VisitMapping(*row) for row in rows
                if event_source_arn in (None, row["event_source_arn"])]

    # -- a destination ---------------------------------------------------------------

    def deliver(self, topic_arn: str, message: DestinationMessage) -> None:
        with self.store.transaction() as db:
            db.execute("INSERT INTO visits_deliveries VALUES (?, ?)", (topic_arn, message.body))

    def counts(self) -> dict[str, int]:
        return {row["path"]: row["count"] for row in self.store.query("SELECT path, count FROM visits ORDER BY path")}

    def close(self) -> None:
        self.closed = True

VISITS = StashKey[Visits]()

def visits_of(lab: Lab) -> Visits:
    return lab.stash.setdefault(VISITS, lambda: Visits(lab))

@hookimpl
def lambdalab_migrations() -> dict[str, str]:
    return {
        "visits-1": "CREATE TABLE visits (path TEXT PRIMARY KEY, count INTEGER NOT NULL)",
        "visits-2": """
        CREATE TABLE visits_mappings (uuid TEXT PRIMARY KEY, function_arn TEXT NOT NULL,
                                      event_source_arn TEXT NOT NULL);
        CREATE TABLE visits_deliveries (topic_arn TEXT NOT NULL, body TEXT NOT NULL);
        """,
    }


@hookimpl
def lambdalab_event_source_mappings(lab: Lab) -> dict[str, Visits]:
    return {"visits": visits_of(lab)}


@hookimpl
def lambdalab_destination_sender(lab: Lab, destination_arn: str) -> Sender | None:
    """Keep what is sent to the SNS topic ``visits-alerts``."""
    if not (destination_arn.startswith("arn:aws:sns:") and destination_arn.endswith(":visits-alerts")):
        return None
    visits = visits_of(lab)
    return lambda message: visits.deliver(destination_arn, message)

@hookimpl
def lambdalab_http_services(lab: Lab) -> list[HttpService]:
    visits = visits_of(lab)

    def add(request: Request) -> JSONResponse:  # a thread of its own: it may invoke
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

