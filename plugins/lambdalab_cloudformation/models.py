"""Stacks, durable in the lab's SQLite store: each stack's template and parameters, the
resources it made (with the properties they were made from, so an update can tell what
changed) and its events."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .resources import Made

if TYPE_CHECKING:
    from lambdalab import Lab

MIGRATIONS: dict[str, str] = {
    "cloudformation-1": """
    CREATE TABLE cfn_stacks (
        name TEXT PRIMARY KEY,
        stack_id TEXT NOT NULL,
        template TEXT NOT NULL,
        parameters TEXT NOT NULL,
        outputs TEXT NOT NULL,
        status TEXT NOT NULL,
        reason TEXT NOT NULL,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL
    );
    CREATE TABLE cfn_resources (
        stack TEXT NOT NULL REFERENCES cfn_stacks(name) ON DELETE CASCADE,
        logical_id TEXT NOT NULL,
        type TEXT NOT NULL,
        position INTEGER NOT NULL,
        physical_id TEXT NOT NULL,
        ref TEXT NOT NULL,
        attributes TEXT NOT NULL,
        properties TEXT NOT NULL,
        deletion_policy TEXT NOT NULL,
        updated_at REAL NOT NULL,
        PRIMARY KEY (stack, logical_id)
    );
    CREATE TABLE cfn_events (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        stack TEXT NOT NULL,
        stack_id TEXT NOT NULL,
        logical_id TEXT NOT NULL,
        physical_id TEXT NOT NULL,
        type TEXT NOT NULL,
        status TEXT NOT NULL,
        reason TEXT NOT NULL,
        timestamp REAL NOT NULL
    );
    CREATE INDEX cfn_events_by_stack ON cfn_events (stack, id);
    """,
    "cloudformation-2": """
    CREATE TABLE cfn_deployments (
        id TEXT PRIMARY KEY,
        stack TEXT NOT NULL,
        status TEXT NOT NULL,
        data TEXT NOT NULL
    );
    CREATE INDEX cfn_deployments_by_stack ON cfn_deployments (stack);
    """,
    "cloudformation-3": """
    ALTER TABLE cfn_stacks ADD COLUMN imports TEXT NOT NULL DEFAULT '[]';
    """,
    "cloudformation-4": """
    CREATE TABLE cfn_journal (
        stack TEXT NOT NULL,
        logical_id TEXT NOT NULL,
        type TEXT NOT NULL,
        physical_id TEXT NOT NULL,
        ref TEXT NOT NULL,
        attributes TEXT NOT NULL,
        PRIMARY KEY (stack, logical_id, physical_id)
    );
    """,
}


@dataclass
class StackResource:
    logical_id: str
    type: str
    position: int
    made: Made
    properties: dict[str, Any]
    updated_at: float = 0.0
    #: ``Retain`` keeps the resource when it leaves the stack (SAM's versions have it).
    deletion_policy: str = "Delete"


@dataclass
class Stack:
    name: str
    stack_id: str
    template: dict[str, Any]
    parameters: dict[str, Any]
    outputs: dict[str, Any]
    status: str
    reason: str = ""
    created_at: float = 0.0
    updated_at: float = 0.0
    resources: dict[str, StackResource] = field(default_factory=dict)
    #: The exports of other stacks this one's template imports (Fn::ImportValue).
    imports: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class StackEvent:
    id: int
    stack: str
    stack_id: str
    logical_id: str
    physical_id: str
    type: str
    status: str
    reason: str
    timestamp: float


class Stacks:
    """Every stack of one lab."""

    def __init__(self, lab: "Lab") -> None:
        self.lab = lab
        self.store = lab.store

    def new_stack_id(self, name: str) -> str:
        return f"arn:aws:cloudformation:{self.lab.arns.region}:{self.lab.arns.account_id}:stack/{name}/{uuid.uuid4()}"

    def get(self, name: str) -> Stack | None:
        rows = self.store.query("SELECT * FROM cfn_stacks WHERE name = ?", (name,))
        if not rows:
            return None
        row = rows[0]
        stack = Stack(row["name"], row["stack_id"], json.loads(row["template"]), json.loads(row["parameters"]),
                      json.loads(row["outputs"]), row["status"], row["reason"], row["created_at"], row["updated_at"],
                      imports=json.loads(row["imports"]))
        for r in self.store.query("SELECT * FROM cfn_resources WHERE stack = ? ORDER BY position", (name,)):
            made = Made(r["physical_id"], json.loads(r["ref"]), json.loads(r["attributes"]))
            stack.resources[r["logical_id"]] = StackResource(
                r["logical_id"], r["type"], r["position"], made, json.loads(r["properties"]), r["updated_at"],
                r["deletion_policy"])
        return stack

    def names(self) -> list[str]:
        return [r["name"] for r in self.store.query("SELECT name FROM cfn_stacks ORDER BY created_at, name")]

    def save(self, stack: Stack) -> None:
        """Write ``stack`` and its resources whole, in one transaction."""
        with self.store.transaction() as db:
            db.execute("DELETE FROM cfn_resources WHERE stack = ?", (stack.name,))
            db.execute(
                "INSERT OR REPLACE INTO cfn_stacks (name, stack_id, template, parameters, outputs, status, reason, "
                "created_at, updated_at, imports) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (stack.name, stack.stack_id, json.dumps(stack.template), json.dumps(stack.parameters),
                 json.dumps(stack.outputs), stack.status, stack.reason, stack.created_at, stack.updated_at,
                 json.dumps(stack.imports)))
            db.executemany(
                "INSERT INTO cfn_resources (stack, logical_id, type, position, physical_id, ref, attributes, "
                "properties, deletion_policy, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(stack.name, r.logical_id, r.type, r.position, r.made.physical_id, json.dumps(r.made.ref),
                  json.dumps(r.made.attributes), json.dumps(r.properties), r.deletion_policy, r.updated_at)
                 for r in stack.resources.values()])

    def exports(self) -> dict[str, tuple[str, Any]]:
        """Every stack's exports: name → (the exporting stack, the value)."""
        found = {}
        for name in self.names():
            stack = self.get(name)
            for output in (stack.outputs.values() if stack else []):
                if output.get("ExportName"):
                    found[output["ExportName"]] = (name, output["OutputValue"])
        return found

    def importers(self, export: str, besides: str) -> list[str]:
        """The stacks (other than ``besides``) whose templates import ``export``."""
        rows = self.store.query("SELECT name, imports FROM cfn_stacks WHERE name != ?", (besides,))
        return [r["name"] for r in rows if export in json.loads(r["imports"])]

    # -- what a deploy in flight has made (a killed deploy's leftovers) -------------------

    def journal(self, stack: str, logical_id: str, type_: str, made: Made) -> None:
        """Record a resource the moment a deploy makes it, before the stack is saved."""
        with self.store.transaction() as db:
            db.execute("INSERT OR REPLACE INTO cfn_journal (stack, logical_id, type, physical_id, ref, attributes) "
                       "VALUES (?, ?, ?, ?, ?, ?)", (stack, logical_id, type_, made.physical_id,
                                                     json.dumps(made.ref), json.dumps(made.attributes)))

    def journaled(self, stack: str) -> list[tuple[str, str, Made]]:
        rows = self.store.query("SELECT * FROM cfn_journal WHERE stack = ? ORDER BY rowid DESC", (stack,))
        return [(r["logical_id"], r["type"], Made(r["physical_id"], json.loads(r["ref"]), json.loads(r["attributes"])))
                for r in rows]

    def clear_journal(self, stack: str) -> None:
        with self.store.transaction() as db:
            db.execute("DELETE FROM cfn_journal WHERE stack = ?", (stack,))

    def remove(self, name: str) -> None:
        with self.store.transaction() as db:
            db.execute("DELETE FROM cfn_stacks WHERE name = ?", (name,))

    def record(self, stack: Stack, logical_id: str, physical_id: str, type_: str, status: str,
               reason: str = "") -> None:
        with self.store.transaction() as db:
            db.execute("INSERT INTO cfn_events (stack, stack_id, logical_id, physical_id, type, status, reason, "
                       "timestamp) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                       (stack.name, stack.stack_id, logical_id, physical_id, type_, status, reason,
                        self.lab.clock.now()))

    def events(self, name: str) -> list[StackEvent]:
        rows = self.store.query("SELECT * FROM cfn_events WHERE stack = ? ORDER BY id DESC", (name,))
        return [StackEvent(r["id"], r["stack"], r["stack_id"], r["logical_id"], r["physical_id"], r["type"],
                           r["status"], r["reason"], r["timestamp"]) for r in rows]
