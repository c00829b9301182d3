"""IAM rows an older lambdalab wrote into another region's store.

IAM is global on AWS: a user, role, policy or access key made through any region's
endpoint works in every region (https://docs.aws.amazon.com/IAM/latest/UserGuide/intro-structure.html,
https://docs.aws.amazon.com/general/latest/gr/iam-service.html: one endpoint,
``iam.amazonaws.com``). lambdalab keeps IAM once, in the home region's lab. Before it did,
each region's lab kept its own; a data dir made then still has IAM rows in
``regions/<region>/``'s store. When such a lab is first asked for IAM, its rows move to
home's: every entity and session home does not already have is copied, then the region's
copies of what home now holds are deleted. Where both made an entity of the same name,
home's is the one kept and the region's stays, unread, in the region's store.
Each step is idempotent, so a crash between the two only repeats the move at next open.
"""

from __future__ import annotations

from typing import Any

from lambdalab.plugin import Database

#: Each IAM table and the columns that make a row's identity.
TABLES: dict[str, tuple[str, ...]] = {
    "iam_entities": ("kind", "name"),
    "iam_sessions": ("access_key_id",),
}


def move_to_home(region_store: Database, home_store: Database) -> int:
    """Move ``region_store``'s IAM rows into ``home_store``; how many were copied."""
    if region_store is home_store:
        return 0  # home's own rows are home already (and would be deleted as held)
    copied = 0
    for table, keys in TABLES.items():
        rows = [dict(r) for r in region_store.query(f"SELECT * FROM {table}")]
        if not rows:
            continue
        copied += _copy(home_store, table, rows)
        _forget_held(region_store, home_store, table, keys, rows)
    return copied


def _copy(home_store: Database, table: str, rows: list[dict[str, Any]]) -> int:
    columns = list(rows[0])
    sql = (f"INSERT OR IGNORE INTO {table} ({', '.join(columns)}) "
           f"VALUES ({', '.join('?' for _ in columns)})")
    with home_store.transaction() as db:
        return sum(db.execute(sql, tuple(r[c] for c in columns)).rowcount for r in rows)


def _forget_held(region_store: Database, home_store: Database, table: str, keys: tuple[str, ...],
                 rows: list[dict[str, Any]]) -> None:
    """Delete the region's rows whose home copy is the same record."""
    where = " AND ".join(f"{k} = ?" for k in keys)
    with region_store.transaction() as db:
        for row in rows:
            ident = tuple(row[k] for k in keys)
            held = home_store.query(f"SELECT record FROM {table} WHERE {where}", ident)
            if held and held[0]["record"] == row["record"]:
                db.execute(f"DELETE FROM {table} WHERE {where}", ident)
