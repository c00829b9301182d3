"""The account's bucket names, across regions: which region holds each.

On AWS a bucket name is global: a name held in one region cannot be created in another,
ListBuckets lists the buckets of every region, and a request signed for the wrong region
is redirected to the bucket's
(https://docs.aws.amazon.com/AmazonS3/latest/userguide/BucketRestrictions.html). Each
region's lab keeps its buckets and objects in its own data dir (so that a bucket's
notifications reach the functions of its region); this directory, one SQLite file in
the home region's data dir (``<data dir>/s3/bucket-directory.db``), only says which
region holds each name. Every region's :class:`~lambdalab_s3.backend.S3` opens it.

The region's own bucket table stays the truth about its buckets: a region claims a name
here before creating the bucket, and when it opens it writes the names it holds and
forgets any claim it holds no bucket for (left by a crash between the two writes).
"""

from __future__ import annotations

from pathlib import Path

from lambdalab.plugin import Database

from .exceptions import already_owned
from .models import Bucket

#: The directory's file, in the ``s3`` folder of the home region's data dir.
DIRECTORY_FILE = "bucket-directory.db"

MIGRATIONS: dict[str, str] = {
    "s3-directory-1": """
    CREATE TABLE buckets (
        name TEXT PRIMARY KEY,
        region TEXT NOT NULL,
        created_at REAL NOT NULL
    );
    """,
}


class BucketDirectory:
    """Which region holds each bucket name of the account; thread-safe, and shared by
    the processes that open one data dir (SQLite)."""

    def __init__(self, home_data_dir: str | Path) -> None:
        folder = Path(home_data_dir) / "s3"
        folder.mkdir(parents=True, exist_ok=True)
        self._db = Database(folder / DIRECTORY_FILE, MIGRATIONS)

    def close(self) -> None:
        self._db.close()

    def claim(self, name: str, region: str, now: float) -> bool:
        """Take ``name`` for ``region``; whether this call took it (False: ``region``
        held it already, and its own bucket table says whether the bucket exists).

        :raises BucketAlreadyOwnedByYou: another region holds the name.
        """
        with self._db.transaction() as db:
            row = db.execute("SELECT region FROM buckets WHERE name = ?", (name,)).fetchone()
            if row is None:
                db.execute("INSERT INTO buckets (name, region, created_at) VALUES (?, ?, ?)",
                           (name, region, now))
                return True
        if row[0] != region:
            raise already_owned(name)
        return False

    def release(self, name: str, region: str) -> None:
        """Free ``name``, if ``region`` holds it."""
        with self._db.transaction() as db:
            db.execute("DELETE FROM buckets WHERE name = ? AND region = ?", (name, region))

    def region_of(self, name: str) -> str | None:
        rows = self._db.query("SELECT region FROM buckets WHERE name = ?", (name,))
        return str(rows[0][0]) if rows else None

    def buckets(self) -> list[Bucket]:
        """Every bucket of the account, by name (no notification configurations)."""
        rows = self._db.query("SELECT name, region, created_at FROM buckets ORDER BY name")
        return [Bucket(row[0], row[1], row[2]) for row in rows]

    def adopt(self, region: str, held: list[Bucket]) -> None:
        """Record the buckets ``region`` holds (those of a data dir older than the
        directory, or created just before a crash), and forget its claims on names it
        holds no bucket of. A name two regions hold (made before names were global)
        stays the first's here; the other region still serves its own."""
        names = {bucket.name for bucket in held}
        with self._db.transaction() as db:
            db.executemany(
                "INSERT OR IGNORE INTO buckets (name, region, created_at) VALUES (?, ?, ?)",
                [(b.name, region, b.created_at) for b in held],
            )
            claimed = db.execute("SELECT name FROM buckets WHERE region = ?", (region,))
            stale = [(row[0], region) for row in claimed.fetchall() if row[0] not in names]
            db.executemany("DELETE FROM buckets WHERE name = ? AND region = ?", stale)


__all__ = ["DIRECTORY_FILE", "BucketDirectory"]
