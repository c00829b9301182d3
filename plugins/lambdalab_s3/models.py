"""S3's state: buckets, objects and notification configurations in the data dir.

Pure state, no HTTP. Layout under ``<data dir>/s3/``::

    s3.db                      buckets and object metadata (SQLite, WAL)
    objects/<aa>/<hash>.<id>   object bodies; <hash> is sha256 of bucket and key, so a
                               key with any characters (``../``, NUL, emoji) is a safe name

The plugin keeps its own database: a lab without the plugin has no S3 tables, and the
plugin's schema changes are named migrations of its own (``s3-1``…), applied once each.
A body is written to a fresh file before its row is committed, and the old body is
removed only after, so a crash never leaves a row without its body.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import sqlite3
import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Callable, Iterator

from lambdalab.plugin import Answers, Database, limits

from . import quotas
from .exceptions import (
    BucketNotEmpty,
    EntityTooLarge,
    InvalidBucketName,
    KeyTooLongError,
    S3Error,
    already_owned,
    invalid_argument,
    no_such_bucket,
    no_such_key,
    permanent_redirect,
)

#: Sorts after every character a key can hold: a page that ended on a common prefix
#: continues after every key under it.
LAST_CHARACTER = "\U0010ffff"

MIGRATIONS: dict[str, str] = {
    "s3-1": """
    CREATE TABLE buckets (
        name TEXT PRIMARY KEY,
        region TEXT NOT NULL,
        created_at REAL NOT NULL,
        notification TEXT NOT NULL DEFAULT '{}'
    );
    CREATE TABLE objects (
        bucket TEXT NOT NULL REFERENCES buckets(name),
        key TEXT NOT NULL,
        size INTEGER NOT NULL,
        etag TEXT NOT NULL,
        content_type TEXT NOT NULL,
        metadata TEXT NOT NULL,
        last_modified REAL NOT NULL,
        body TEXT NOT NULL,
        PRIMARY KEY (bucket, key)
    );
    """,
    # bucket policies (PutBucketPolicy), one per bucket, gone with it
    "s3-2": """
    CREATE TABLE bucket_policies (
        bucket TEXT PRIMARY KEY REFERENCES buckets(name),
        policy TEXT NOT NULL
    );
    """,
}


@dataclass(frozen=True)
class Bucket:
    """A bucket: its name, region, creation time and notification configuration."""

    name: str
    region: str
    created_at: float
    notification: dict[str, Any] = field(default_factory=dict)

    @property
    def arn(self) -> str:
        return f"arn:aws:s3:::{self.name}"


@dataclass(frozen=True)
class S3Object:
    """An object's metadata; ``path`` is where its body lives."""

    bucket: str
    key: str
    size: int
    etag: str
    content_type: str
    metadata: dict[str, str]
    last_modified: float
    path: Path

    def read(self, start: int = 0, end: int | None = None) -> bytes:
        """Bytes ``start`` to ``end`` inclusive (the whole body by default)."""
        with self.path.open("rb") as f:
            f.seek(start)
            return f.read(-1 if end is None else end - start + 1)

    def open(self, start: int = 0, end: int | None = None) -> "BodyReader":
        """Bytes ``start`` to ``end`` inclusive, to read in pieces (GetObject streams
        them). The file is open from now on: a later PutObject of the key writes a new
        file, so the reader sees the body as it was."""
        last = self.size - 1 if end is None else end
        f = self.path.open("rb")
        f.seek(start)
        return BodyReader(f, max(last - start + 1, 0))


@dataclass
class BodyReader:
    """Part of an object's body, read in pieces: ``read(size)`` until ``b""``."""

    file: BinaryIO
    remaining: int

    def read(self, size: int = -1) -> bytes:
        want = self.remaining if size < 0 else min(size, self.remaining)
        data = self.file.read(want) if want else b""
        self.remaining -= len(data)
        return data

    def close(self) -> None:
        self.file.close()


@dataclass(frozen=True)
class ObjectPage:
    """One page of ListObjectsV2: keys, common prefixes and where the next page starts."""

    objects: list[S3Object]
    common_prefixes: list[str]
    next_token: str | None


def check_bucket_name(name: str) -> None:
    if not quotas.S3_BUCKET_NAME_PATTERN.match(name or "") or ".." in name:
        raise InvalidBucketName(
            "The specified bucket is not valid. Use 3-63 lowercase letters, digits, dots "
            "and hyphens, starting and ending with a letter or digit.",
            BucketName=name,
        )


def check_key(key: str) -> None:
    if not key:
        raise invalid_argument("An object key must not be empty.", "Key", key)
    if len(key.encode("utf-8", "surrogatepass")) > quotas.S3_KEY_MAX_BYTES:
        raise KeyTooLongError(
            f"Your key is too long: keys are at most {quotas.S3_KEY_MAX_BYTES} bytes of UTF-8.",
            Size=str(len(key.encode("utf-8", "surrogatepass"))),
            MaxSizeAllowed=str(quotas.S3_KEY_MAX_BYTES),
        )


class S3Store:
    """Buckets and objects of one data dir; thread-safe.

    :param locate: the region holding a bucket name this store does not have, if any
        (the account's bucket directory): a request for it is redirected there.
    """

    def __init__(self, data_dir: str | os.PathLike[str], region: str = limits.DEFAULT_REGION,
                 locate: Callable[[str], str | None] | None = None):
        self._locate = locate
        self.root = Path(data_dir) / "s3"
        self.object_dir = self.root / "objects"
        self.object_dir.mkdir(parents=True, exist_ok=True)
        self.region = region
        self._db = Database(self.root / "s3.db", MIGRATIONS)
        self._policies = Answers(self._db)  # an enforcing edge asks at every request

    def close(self) -> None:
        self._db.close()

    def _first(self, sql: str, params: tuple[Any, ...]) -> Any:
        rows = self._db.query(sql, params)
        return rows[0] if rows else None

    # -- buckets ----------------------------------------------------------------------

    def missing(self, name: str) -> S3Error:
        """What a request for a bucket this region lacks gets: PermanentRedirect to the
        region holding it, else NoSuchBucket."""
        elsewhere = self._locate(name) if self._locate is not None else None
        if elsewhere is not None and elsewhere != self.region:
            return permanent_redirect(name, elsewhere)
        return no_such_bucket(name)

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction; what :meth:`held_policy` kept is forgotten after it."""
        try:
            with self._db.transaction() as db:
                yield db
        finally:
            self._policies.drop()

    def create_bucket(self, name: str, now: float) -> Bucket:
        check_bucket_name(name)
        with self._transaction() as db:
            if db.execute("SELECT 1 FROM buckets WHERE name = ?", (name,)).fetchone():
                raise already_owned(name)
            db.execute(
                "INSERT INTO buckets (name, region, created_at) VALUES (?, ?, ?)",
                (name, self.region, now),
            )
        return Bucket(name, self.region, now)

    def get_bucket(self, name: str) -> Bucket:
        row = self._first(
            "SELECT name, region, created_at, notification FROM buckets WHERE name = ?",
            (name,),
        )
        if row is None:
            raise self.missing(name)
        bucket = self._db.loaded("buckets", {"name": name}, lambda: _bucket(row))
        if bucket is None:  # its notification configuration is damaged: it notifies no one
            return Bucket(row[0], row[1], row[2], {})
        return bucket

    def list_buckets(self) -> list[Bucket]:
        rows = self._db.query(
            "SELECT name, region, created_at, notification FROM buckets ORDER BY name"
        )
        return self._db.loaded_rows("buckets", rows, lambda r: {"name": r[0]}, _bucket)

    def delete_bucket(self, name: str) -> None:
        with self._transaction() as db:
            if not db.execute("SELECT 1 FROM buckets WHERE name = ?", (name,)).fetchone():
                raise self.missing(name)
            if db.execute("SELECT 1 FROM objects WHERE bucket = ? LIMIT 1", (name,)).fetchone():
                raise BucketNotEmpty(
                    "The bucket you tried to delete is not empty. Delete its objects first "
                    "(DeleteObjects, or `lambdalab s3 rm s3://BUCKET --recursive`).",
                    BucketName=name,
                )
            db.execute("DELETE FROM bucket_policies WHERE bucket = ?", (name,))
            db.execute("DELETE FROM buckets WHERE name = ?", (name,))

    def set_notification(self, name: str, configuration: dict[str, Any]) -> None:
        with self._transaction() as db:
            updated = db.execute(
                "UPDATE buckets SET notification = ? WHERE name = ?",
                (json.dumps(configuration), name),
            )
            if updated.rowcount == 0:
                raise self.missing(name)

    def set_policy(self, name: str, policy: str | None) -> None:
        """Keep ``policy`` (its text, as sent) as the bucket's policy; ``None`` removes it."""
        with self._transaction() as db:
            if not db.execute("SELECT 1 FROM buckets WHERE name = ?", (name,)).fetchone():
                raise self.missing(name)
            if policy is None:
                db.execute("DELETE FROM bucket_policies WHERE bucket = ?", (name,))
            else:
                db.execute("INSERT OR REPLACE INTO bucket_policies (bucket, policy) VALUES (?, ?)",
                           (name, policy))

    def policy(self, name: str) -> str | None:
        """The bucket's policy text, ``None`` when it has none (or is not this region's)."""
        row = self._first("SELECT policy FROM bucket_policies WHERE bucket = ?", (name,))
        return None if row is None else str(row[0])

    def held_policy(self, name: str) -> tuple[bool, str | None]:
        """Whether this region holds the bucket, and its policy text (kept in memory: an
        enforcing lab asks at every request)."""
        return self._policies.get(name, lambda: self._held_policy(name))  # type: ignore[no-any-return]

    def _held_policy(self, name: str) -> tuple[bool, str | None]:
        row = self._first("SELECT p.policy FROM buckets b LEFT JOIN bucket_policies p ON p.bucket = b.name "
                          "WHERE b.name = ?", (name,))
        return (False, None) if row is None else (True, None if row[0] is None else str(row[0]))

    # -- objects ----------------------------------------------------------------------

    def _body_path(self, bucket: str, key: str) -> Path:
        digest = hashlib.sha256(f"{bucket}/{key}".encode("utf-8", "surrogatepass")).hexdigest()
        return self.object_dir / digest[:2] / f"{digest}.{uuid.uuid4().hex}"

    def put_object(
        self,
        bucket: str,
        key: str,
        body: bytes,
        now: float,
        *,
        content_type: str = "binary/octet-stream",
        metadata: dict[str, str] | None = None,
    ) -> S3Object:
        """Store ``body`` under ``key``, replacing any object there."""
        check_key(key)
        if len(body) > quotas.S3_PUT_OBJECT_MAX_BYTES:
            raise EntityTooLarge(
                "Your proposed upload exceeds the maximum allowed size of one PutObject "
                f"({quotas.S3_PUT_OBJECT_MAX_BYTES} bytes).",
                ProposedSize=str(len(body)),
                MaxSizeAllowed=str(quotas.S3_PUT_OBJECT_MAX_BYTES),
            )
        self.get_bucket(bucket)
        path = self._body_path(bucket, key)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body)
        obj = S3Object(
            bucket, key, len(body), f'"{hashlib.md5(body).hexdigest()}"', content_type,
            dict(metadata or {}), now, path,
        )
        try:
            with self._transaction() as db:
                if not db.execute("SELECT 1 FROM buckets WHERE name = ?", (bucket,)).fetchone():
                    raise self.missing(bucket)
                old = db.execute(
                    "SELECT body FROM objects WHERE bucket = ? AND key = ?", (bucket, key)
                ).fetchone()
                db.execute(
                    "INSERT OR REPLACE INTO objects (bucket, key, size, etag, content_type, "
                    "metadata, last_modified, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (bucket, key, obj.size, obj.etag, content_type, json.dumps(obj.metadata),
                     now, str(path.relative_to(self.object_dir))),
                )
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        if old is not None:
            (self.object_dir / old[0]).unlink(missing_ok=True)
        return obj

    def _object(self, row: Any) -> S3Object:
        return S3Object(
            row[0], row[1], row[2], row[3], row[4], json.loads(row[5]), row[6],
            self.object_dir / row[7],
        )

    def get_object(self, bucket: str, key: str) -> S3Object:
        row = self._first(
            "SELECT bucket, key, size, etag, content_type, metadata, last_modified, body "
            "FROM objects WHERE bucket = ? AND key = ?",
            (bucket, key),
        )
        if row is None:
            self.get_bucket(bucket)
            raise no_such_key(bucket, key)
        return self._object(row)

    def delete_object(self, bucket: str, key: str) -> bool:
        """Remove ``key``; whether there was an object (S3 answers 204 either way)."""
        self.get_bucket(bucket)
        with self._transaction() as db:
            row = db.execute(
                "SELECT body FROM objects WHERE bucket = ? AND key = ?", (bucket, key)
            ).fetchone()
            db.execute("DELETE FROM objects WHERE bucket = ? AND key = ?", (bucket, key))
        if row is not None:
            (self.object_dir / row[0]).unlink(missing_ok=True)
        return row is not None

    def list_objects(
        self,
        bucket: str,
        *,
        prefix: str = "",
        delimiter: str = "",
        max_keys: int = quotas.S3_LIST_MAX_KEYS,
        after: str = "",
    ) -> ObjectPage:
        """Keys after ``after``, in UTF-8 binary order, rolled up at ``delimiter``."""
        self.get_bucket(bucket)
        rows = self._db.query(
            "SELECT bucket, key, size, etag, content_type, metadata, last_modified, body "
            "FROM objects WHERE bucket = ? AND key > ? AND substr(key, 1, ?) = ? "
            "ORDER BY key",
            (bucket, after, len(prefix), prefix),
        )
        objects: list[S3Object] = []
        prefixes: list[str] = []
        last = ""
        for row in rows:
            rolled = _common_prefix(row[1], prefix, delimiter)
            if rolled is not None and prefixes and prefixes[-1] == rolled:
                continue
            if len(objects) + len(prefixes) == max_keys:
                return ObjectPage(objects, prefixes, last)
            if rolled is None:
                objects.append(self._object(row))
                last = row[1]
            else:
                prefixes.append(rolled)
                last = rolled + LAST_CHARACTER  # the next page starts past this prefix
        return ObjectPage(objects, prefixes, None)


def _common_prefix(key: str, prefix: str, delimiter: str) -> str | None:
    if not delimiter:
        return None
    at = key.find(delimiter, len(prefix))
    return None if at < 0 else key[: at + len(delimiter)]


def _bucket(row: Any) -> Bucket:
    """A stored bucket; TypeError or ValueError when its notification JSON is damaged."""
    notification = json.loads(row[3])
    if not isinstance(notification, dict):
        raise TypeError("the notification configuration must be a JSON object")
    return Bucket(row[0], row[1], row[2], notification)
