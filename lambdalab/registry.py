"""The control plane's state: functions, versions (immutable) and aliases (weighted).

Pure state, kept in the store in AWS's field names; no HTTP, no processes. Reads are
cached in memory (``lambdalab.store.Answers``) and the cache is dropped whenever this
process writes or another connection commits to the registry's tables (the count of
those commits that triggers keep, ``registry_changes``). Whether anything was committed
at all is read from the WAL index every connection maps (``lambdalab.store.CommitWatch``):
a memory read per invoke instead of a query.

Behaviour follows https://docs.aws.amazon.com/lambda/latest/dg/configuration-versions.html
and https://docs.aws.amazon.com/lambda/latest/dg/configuration-aliases.html.

A version or alias whose stored row is damaged is reported (once, on the
``lambdalab.store`` logger) and treated as absent: lists skip it, reading it answers
ResourceNotFoundException saying so, and deleting the function clears it.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import uuid
from dataclasses import fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from . import limits
from .arn import ArnBuilder
from .errors import (
    InvalidParameterValueException,
    ResourceConflictException,
    ResourceNotFoundException,
)
from .limits import LATEST
from .models import (
    CREATING_REASON,
    CREATING_REASON_CODE,
    AliasConfiguration,
    FunctionConfiguration,
)
from .store import REGISTRY_CHANGES, Answers, Store

#: Fields that change with every publish, update or state change, and so do not count as
#: "changed code or configuration" when deciding whether publishing creates a new version.
_VOLATILE = {
    "function_arn", "version", "revision_id", "last_modified", "state", "state_reason",
    "state_reason_code", "last_update_status", "last_update_status_reason",
    "last_update_status_reason_code", "settles_at", "source", "tags",
}
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")


def new_revision_id() -> str:
    return str(uuid.uuid4())


def aws_timestamp(epoch: float) -> str:
    """LastModified as AWS writes it: ``2024-05-01T12:00:00.000+0000``."""
    moment = datetime.fromtimestamp(epoch, timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


def content_digest(config: FunctionConfiguration) -> str:
    """A digest of the code and configuration: what a version is published from, and
    what an execution environment runs (RevisionId, states and tags left out)."""
    state = repr(
        tuple(repr(getattr(config, f.name)) for f in fields(config) if f.name not in _VOLATILE)
    )
    return hashlib.sha256(state.encode()).hexdigest()


def update_in_progress(arn: str) -> ResourceConflictException:
    """What AWS answers a change made while the last one is still being applied."""
    return ResourceConflictException(
        "The operation cannot be performed at this time. An update is in progress for "
        f"resource: {arn}"
    )


def _settled(config: FunctionConfiguration) -> FunctionConfiguration:
    """``config`` once its creation or update has been applied (a new RevisionId, as on AWS)."""
    return config.evolve(
        state="Active",
        state_reason=None,
        state_reason_code=None,
        last_update_status="Successful",
        last_update_status_reason=None,
        last_update_status_reason_code=None,
        settles_at=None,
        revision_id=new_revision_id(),
    )


class Registry:
    """Functions, versions and aliases of one data dir."""

    def __init__(
        self,
        store: Store,
        arns: ArnBuilder,
        now: Callable[[], float],
        settle_after: float = limits.STATE_TRANSITION_S,
    ) -> None:
        self._store = store
        self.arns = arns
        self._now = now
        #: Seconds of the Lab's clock a function stays ``Pending`` after it is created,
        #: and an update ``InProgress`` (https://docs.aws.amazon.com/lambda/latest/dg/functions-states.html).
        self.settle_after = settle_after
        #: Reads kept until this process writes or another commits to the registry's tables.
        self._answers = Answers(store, counter=REGISTRY_CHANGES)
        self._random = random.Random()
        #: Called with a function's name after this process changed it, its versions or
        #: its aliases (or settled it): the Lab fires ``lambdalab_function_changed``.
        self.on_change: Callable[[str], None] | None = None

    # -- caching ----------------------------------------------------------------------

    def cached(self, key: tuple[str, str], load: Callable[[], Any]) -> Any:
        """``load()``, kept until the registry next changes (a write of this process or a
        commit of another): for reads of the control plane's other tables. Another
        process's commits are seen in the tables the ``registry-changes-1`` migration's
        triggers count; a table beyond those needs a trigger of its own."""
        return self._answers.get(key, load)

    def _changed(self, name: str | None = None) -> None:
        self._answers.drop()
        if name is not None and self.on_change is not None:
            self.on_change(name)

    # -- functions --------------------------------------------------------------------

    def not_found(self, name: str, qualifier: str | None = None) -> ResourceNotFoundException:
        return ResourceNotFoundException(
            f"Function not found: {self.arns.function(name, qualifier)}"
        )

    def damaged(self, name: str, qualifier: str | None = None) -> ResourceNotFoundException:
        return ResourceNotFoundException(
            f"Function not found: {self.arns.function(name, qualifier)}. Its stored "
            "configuration is damaged (the server's log names it): delete the function "
            "and create it again."
        )

    def _version(self, row: Any) -> FunctionConfiguration | None:
        """A ``versions`` row (function, version, config) as a configuration, or None."""
        return self._store.loaded(
            "versions",
            {"function": row["function"], "version": row["version"]},
            lambda: FunctionConfiguration.from_json(row["config"]),
        )

    def _versions(self, rows: list[Any]) -> list[FunctionConfiguration]:
        return [c for c in map(self._version, rows) if c is not None]

    def _alias(self, row: Any) -> AliasConfiguration | None:
        """An ``aliases`` row (function, name, config) as an alias, or None."""
        return self._store.loaded(
            "aliases",
            {"function": row["function"], "name": row["name"]},
            lambda: AliasConfiguration.from_json(row["config"]),
        )

    def exists(self, name: str) -> bool:
        return bool(self._store.query("SELECT 1 FROM functions WHERE name = ?", (name,)))

    def create(self, config: FunctionConfiguration) -> None:
        with self._store.transaction() as db:
            if db.execute("SELECT 1 FROM functions WHERE name = ?", (config.function_name,)).fetchone():
                raise ResourceConflictException(
                    f"Function already exist: {config.function_name}"
                )
            db.execute("INSERT INTO functions (name) VALUES (?)", (config.function_name,))
            db.execute(
                "INSERT INTO versions (function, version, config) VALUES (?, ?, ?)",
                (config.function_name, LATEST, config.to_json()),
            )
        self._changed(config.function_name)

    def get_version(self, name: str, version: str = LATEST) -> FunctionConfiguration:
        def load() -> FunctionConfiguration:
            rows = self._store.query(
                "SELECT function, version, config FROM versions WHERE function = ? "
                "AND version = ?",
                (name, version),
            )
            if not rows:
                raise self.not_found(name, None if version == LATEST else version)
            config = self._version(rows[0])
            if config is None:
                raise self.damaged(name, None if version == LATEST else version)
            return config

        config: FunctionConfiguration = self._answers.get((name, "version:" + version), load)
        if self._due(config):
            return self._settle(name, version)
        return config

    def _settle(self, name: str, version: str) -> FunctionConfiguration:
        """Finish a creation or update whose time has come, and keep the result."""
        with self._store.transaction() as db:
            row = db.execute(
                "SELECT function, version, config FROM versions WHERE function = ? "
                "AND version = ?",
                (name, version),
            ).fetchone()
            if row is None:
                raise self.not_found(name, None if version == LATEST else version)
            config = self._version(row)
            if config is None:
                raise self.damaged(name, None if version == LATEST else version)
            if config.settles_at is None or self._now() < config.settles_at:
                return config  # another thread settled it (or it is not due)
            config = _settled(config)
            db.execute(
                "UPDATE versions SET config = ? WHERE function = ? AND version = ?",
                (config.to_json(), name, version),
            )
            if version == LATEST:
                db.execute("DELETE FROM latest_before_update WHERE function = ?", (name,))
        self._changed(name)
        return config

    def running(self, config: FunctionConfiguration) -> FunctionConfiguration:
        """The configuration an invoke of ``config`` runs: while an update of ``$LATEST``
        is ``InProgress``, the one before it, as on AWS ("invocations continue to use the
        previous code and configuration until the update completes",
        https://docs.aws.amazon.com/lambda/latest/dg/functions-states.html)."""
        if config.version != LATEST or config.last_update_status != "InProgress":
            return config
        name = config.function_name

        def load() -> FunctionConfiguration | None:
            rows = self._store.query(
                "SELECT config FROM latest_before_update WHERE function = ?", (name,)
            )
            if not rows:
                return None
            return self._store.loaded("latest_before_update", {"function": name},
                                      lambda: FunctionConfiguration.from_json(rows[0]["config"]))

        before: FunctionConfiguration | None = self._answers.get((name, "before-update"), load)
        return before or config

    def pending(self) -> dict[str, Any]:
        """The fields of a configuration that has just been created (``Pending``)."""
        return {
            "state": "Pending",
            "state_reason": CREATING_REASON,
            "state_reason_code": CREATING_REASON_CODE,
            "last_update_status": None,
            "settles_at": self._now() + self.settle_after,
        }

    def get(self, name: str, qualifier: str | None = None) -> FunctionConfiguration:
        """The configuration a qualifier names: ``$LATEST``, a version or an alias."""
        if qualifier == LATEST:
            try:
                return self.get_version(name, LATEST)
            except ResourceNotFoundException:
                raise self.not_found(name, LATEST) from None
        if qualifier is None:
            return self.get_version(name, LATEST)
        if qualifier.isdigit():
            if not self.exists(name):
                raise self.not_found(name)
            return self.get_version(name, qualifier)
        try:
            alias = self.get_alias(name, qualifier)
        except ResourceNotFoundException:  # AWS: "Function not found: ...:NAME:alias"
            raise self.not_found(name, qualifier) from None
        return self.get_version(name, alias.function_version)

    def list_functions(self) -> list[FunctionConfiguration]:
        rows = self._store.query(
            "SELECT function, version, config FROM versions WHERE version = ? ORDER BY function",
            (LATEST,),
        )
        configs = self._versions(rows)
        return [self._settle(c.function_name, LATEST) if self._due(c) else c for c in configs]

    def _due(self, config: FunctionConfiguration) -> bool:
        return config.settles_at is not None and self._now() >= config.settles_at

    def list_versions(self, name: str) -> list[FunctionConfiguration]:
        if not self.exists(name):
            raise self.not_found(name)
        rows = self._store.query(
            "SELECT function, version, config FROM versions WHERE function = ? "
            "ORDER BY version = ? DESC, CAST(version AS INTEGER)",
            (name, LATEST),
        )
        return self._versions(rows)

    def versions(self, name: str) -> list[FunctionConfiguration]:
        """ListVersionsByFunction's answer: ``$LATEST`` (named by its qualified ARN, as
        AWS names it there) and every published version, each settled if due."""
        found = [self.get_version(name, c.version) for c in self.list_versions(name)]
        return [
            c.evolve(function_arn=self.arns.function(name, LATEST)) if c.version == LATEST else c
            for c in found
        ]

    def set_tags(self, name: str, tags: dict[str, str]) -> None:
        """Replace the function's tags (kept on ``$LATEST``; no new RevisionId)."""
        self.update_latest(name, settle=False, tags=dict(tags))

    def refuse_if_busy(self, name: str) -> None:
        """ResourceConflictException if ``$LATEST`` is still being created or updated."""
        current = self.get_version(name, LATEST)
        if current.settling:
            raise update_in_progress(current.function_arn)

    def update_latest(
        self, name: str, *, settle: bool = True, **changes: Any
    ) -> FunctionConfiguration:
        """Change ``$LATEST``; with ``settle``, the change is ``InProgress`` for a while.

        A change while the previous one is in progress is refused, as AWS refuses it.
        """
        current = self.get_version(name, LATEST)  # settles a finished update first
        with self._store.transaction() as db:
            row = db.execute(
                "SELECT function, version, config FROM versions WHERE function = ? "
                "AND version = ?",
                (name, LATEST),
            ).fetchone()
            if row is None:
                raise self.not_found(name)
            config = self._version(row)
            if config is None:
                raise self.damaged(name)
            if settle and config.settles_at is not None and self._now() < config.settles_at:
                raise update_in_progress(current.function_arn)
            if settle and config.state == "Active":  # invokes run it until the update is done
                db.execute(
                    "INSERT OR REPLACE INTO latest_before_update (function, config) "
                    "VALUES (?, ?)", (name, config.to_json())
                )
            if settle:
                changes = {
                    "last_update_status": "InProgress",
                    "last_update_status_reason": CREATING_REASON,
                    "last_update_status_reason_code": CREATING_REASON_CODE,
                    "settles_at": self._now() + self.settle_after,
                    "last_modified": aws_timestamp(self._now()),
                    "revision_id": new_revision_id(),
                    **changes,
                }
            config = config.evolve(**changes)
            db.execute(
                "UPDATE versions SET config = ? WHERE function = ? AND version = ?",
                (config.to_json(), name, LATEST),
            )
        self._changed(name)
        return config

    def publish(
        self, name: str, description: str | None = None, *, while_settling: bool = False
    ) -> FunctionConfiguration:
        """Snapshot ``$LATEST`` as version N+1, or return the last version when neither
        code nor configuration changed since it was published (``description`` only
        describes a new version; it does not by itself make one), as AWS does
        (https://docs.aws.amazon.com/lambda/latest/api/API_PublishVersion.html).

        While an update is in progress, publishing is refused (ResourceConflictException),
        except from CreateFunction / UpdateFunctionCode with ``Publish`` (``while_settling``).
        """
        if not while_settling:
            current = self.get_version(name, LATEST)  # settles a finished update first
            if current.settling:
                raise update_in_progress(current.function_arn)
        with self._store.transaction() as db:
            fn = db.execute("SELECT next_version FROM functions WHERE name = ?", (name,)).fetchone()
            if fn is None:
                raise self.not_found(name)
            latest = self._version(
                db.execute(
                    "SELECT function, version, config FROM versions WHERE function = ? "
                    "AND version = ?",
                    (name, LATEST),
                ).fetchone()
            )
            if latest is None:
                raise self.damaged(name)
            source = content_digest(latest)
            last = db.execute(
                "SELECT function, version, config FROM versions WHERE function = ? "
                "AND version != ? ORDER BY CAST(version AS INTEGER) DESC LIMIT 1",
                (name, LATEST),
            ).fetchone()
            previous = None if last is None else self._version(last)
            if previous is not None:
                if (previous.source or content_digest(previous)) == source:
                    return previous
            number = str(fn["next_version"])
            version = latest.evolve(
                version=number,
                function_arn=self.arns.function(name, number),
                revision_id=new_revision_id(),
                description=latest.description if description is None else description,
                source=source,
                tags={},
            )
            if latest.settling:  # a version of a function still being created or updated
                version = version.evolve(
                    **{**self.pending(), "settles_at": latest.settles_at},
                    last_update_status_reason=None,
                    last_update_status_reason_code=None,
                )
            db.execute(
                "INSERT INTO versions (function, version, config) VALUES (?, ?, ?)",
                (name, number, version.to_json()),
            )
            db.execute(
                "UPDATE functions SET next_version = next_version + 1 WHERE name = ?", (name,)
            )
        self._changed(name)
        return version

    def delete(self, name: str, qualifier: str | None = None) -> None:
        """Delete the function (no qualifier) or one published version."""
        with self._store.transaction() as db:
            if not db.execute("SELECT 1 FROM functions WHERE name = ?", (name,)).fetchone():
                raise self.not_found(name)
            if qualifier in (None, LATEST):
                if qualifier == LATEST:
                    raise InvalidParameterValueException(
                        "$LATEST version cannot be deleted without deleting the function. "
                        "Call delete_function without a qualifier to delete the function."
                    )
                db.execute("DELETE FROM functions WHERE name = ?", (name,))
            else:
                if not db.execute(
                    "SELECT 1 FROM versions WHERE function = ? AND version = ?", (name, qualifier)
                ).fetchone():
                    raise self.not_found(name, qualifier)
                rows = db.execute(
                    "SELECT function, name, config FROM aliases WHERE function = ?", (name,)
                ).fetchall()
                users = [
                    r["name"] for r in rows
                    if (alias := self._alias(r)) is not None and _alias_uses(alias, qualifier)
                ]
                if users:
                    raise ResourceConflictException(
                        f"Unable to delete version because the following aliases reference "
                        f"it: {users}. Point the aliases at another version first."
                    )
                db.execute(
                    "DELETE FROM versions WHERE function = ? AND version = ?", (name, qualifier)
                )
        self._changed(name)

    def code_blobs(self, name: str | None = None, version: str | None = None) -> set[str]:
        """The code blobs versions name (of every function, of ``name``, or of one of its
        versions), damaged rows included: any sha256 hex in them counts."""
        sql = "SELECT config FROM versions"
        params: tuple[str, ...] = ()
        if name is not None:
            sql, params = sql + " WHERE function = ?", (name,)
            if version is not None:
                sql, params = sql + " AND version = ?", (name, version)
        rows = self._store.query(sql, params)
        if version in (None, LATEST):  # invokes still run the code before an update
            rows += self._before_update(name)
        return {found for row in rows for found in _SHA256_HEX.findall(str(row[0]))}

    def _before_update(self, name: str | None) -> list[Any]:
        """The rows of ``latest_before_update`` (of ``name``, or all) whose update is still
        in progress; read only (a collection of code must not settle an update)."""
        where, params = (" WHERE b.function = ?", (LATEST, name)) if name else ("", (LATEST,))
        rows = self._store.query(
            "SELECT b.config, v.config AS latest FROM latest_before_update b JOIN versions v "
            "ON v.function = b.function AND v.version = ?" + where, params
        )
        return [row for row in rows if not self._settled_row(row["latest"])]

    def _settled_row(self, text: str) -> bool:
        try:
            return self._due(FunctionConfiguration.from_json(text))
        except Exception:  # a damaged $LATEST: keep what it may still run
            return False

    # -- concurrency ------------------------------------------------------------------

    def reserved_concurrency(self, name: str) -> int | None:
        def load() -> int | None:
            rows = self._store.query(
                "SELECT reserved_concurrency FROM functions WHERE name = ?", (name,)
            )
            if not rows:
                raise self.not_found(name)
            return rows[0][0]

        return self._answers.get((name, "reserved"), load)

    def admission(self, name: str) -> tuple[int | None, int]:
        """What admitting an invoke of ``name`` reads, in one look at the answers kept:
        its :meth:`reserved_concurrency` and the account's :meth:`total_reserved`."""
        return self._answers.get(
            (name, "admission"), lambda: (self.reserved_concurrency(name), self.total_reserved()))

    def set_reserved_concurrency(self, name: str, value: int | None) -> None:
        with self._store.transaction() as db:
            cur = db.execute(
                "UPDATE functions SET reserved_concurrency = ? WHERE name = ?", (value, name)
            )
            if cur.rowcount == 0:
                raise self.not_found(name)
        self._changed(name)

    def total_reserved(self, excluding: str | None = None) -> int:
        """Concurrency reserved by all functions (but ``excluding``)."""

        def load() -> int:
            rows = self._store.query(
                "SELECT COALESCE(SUM(reserved_concurrency), 0) FROM functions WHERE name != ?",
                (excluding or "",),
            )
            return int(rows[0][0])

        return self._answers.get(("", "total_reserved:" + (excluding or "")), load)

    # -- aliases ----------------------------------------------------------------------

    def _check_alias_target(
        self, name: str, version: str, weights: dict[str, float]
    ) -> None:
        if version != LATEST and not version.isdigit():
            raise InvalidParameterValueException(
                f"FunctionVersion: {version!r} is not a version. Use $LATEST or a published "
                "version number."
            )
        self.get_version(name, version)
        if len(weights) > 1:
            raise InvalidParameterValueException(
                "RoutingConfig.AdditionalVersionWeights: an alias routes to at most one "
                "additional version."
            )
        for extra, weight in weights.items():
            if version == LATEST:
                raise InvalidParameterValueException(
                    "RoutingConfig: an alias that routes traffic must point at a published "
                    "version, not $LATEST."
                )
            if not str(extra).isdigit():
                raise InvalidParameterValueException(
                    f"RoutingConfig.AdditionalVersionWeights: {extra!r} is not a published "
                    "version. Weighted routing is between two published versions; publish "
                    "one with publish_version first."
                )
            if extra == version:
                raise InvalidParameterValueException(
                    f"RoutingConfig.AdditionalVersionWeights: version {extra} is already the "
                    "alias's primary version. Name a different version."
                )
            if not isinstance(weight, (int, float)) or not 0.0 <= float(weight) <= 1.0:
                raise InvalidParameterValueException(
                    f"RoutingConfig.AdditionalVersionWeights: weight {weight!r} for version "
                    f"{extra} is not valid. Use a number from 0.0 to 1.0."
                )
            self.get_version(name, str(extra))

    def create_alias(
        self,
        name: str,
        alias: str,
        version: str,
        description: str = "",
        weights: dict[str, float] | None = None,
    ) -> AliasConfiguration:
        if not limits.ALIAS_NAME_PATTERN.match(alias or ""):
            raise InvalidParameterValueException(
                f"Name: {alias!r} is not a valid alias name. Use 1-128 letters, digits, "
                "hyphens or underscores, not only digits (that would read as a version)."
            )
        weights = {str(k): float(v) for k, v in (weights or {}).items()}
        if not self.exists(name):
            raise self.not_found(name)
        self._check_alias_target(name, version, weights)
        config = AliasConfiguration(
            alias_arn=self.arns.function(name, alias),
            name=alias,
            function_version=version,
            revision_id=new_revision_id(),
            description=description,
            additional_version_weights=weights,
        )
        with self._store.transaction() as db:
            if db.execute(
                "SELECT 1 FROM aliases WHERE function = ? AND name = ?", (name, alias)
            ).fetchone():
                raise ResourceConflictException(
                    f"Alias already exists: {config.alias_arn}"
                )
            db.execute(
                "INSERT INTO aliases (function, name, config) VALUES (?, ?, ?)",
                (name, alias, config.to_json()),
            )
        self._changed(name)
        return config

    def get_alias(self, name: str, alias: str) -> AliasConfiguration:
        def load() -> AliasConfiguration:
            rows = self._store.query(
                "SELECT function, name, config FROM aliases WHERE function = ? AND name = ?",
                (name, alias),
            )
            if not rows:
                if not self.exists(name):
                    raise self.not_found(name)
                raise ResourceNotFoundException(
                    f"Alias not found: {self.arns.function(name, alias)}"
                )
            found = self._alias(rows[0])
            if found is None:
                raise ResourceNotFoundException(
                    f"Alias not found: {self.arns.function(name, alias)}. Its stored "
                    "configuration is damaged (the server's log names it): delete the alias "
                    "and create it again."
                )
            return found

        return self._answers.get((name, "alias:" + alias), load)

    def list_aliases(self, name: str) -> list[AliasConfiguration]:
        if not self.exists(name):
            raise self.not_found(name)
        rows = self._store.query(
            "SELECT function, name, config FROM aliases WHERE function = ? ORDER BY name",
            (name,),
        )
        return [a for a in map(self._alias, rows) if a is not None]

    def update_alias(
        self,
        name: str,
        alias: str,
        version: str | None = None,
        description: str | None = None,
        weights: dict[str, float] | None = None,
    ) -> AliasConfiguration:
        current = self.get_alias(name, alias)
        new_weights = (
            current.additional_version_weights
            if weights is None
            else {str(k): float(v) for k, v in weights.items()}
        )
        target = version or current.function_version
        self._check_alias_target(name, target, new_weights)
        config = AliasConfiguration(
            alias_arn=current.alias_arn,
            name=alias,
            function_version=target,
            revision_id=new_revision_id(),
            description=current.description if description is None else description,
            additional_version_weights=new_weights,
        )
        with self._store.transaction() as db:
            db.execute(
                "UPDATE aliases SET config = ? WHERE function = ? AND name = ?",
                (config.to_json(), name, alias),
            )
        self._changed(name)
        return config

    def delete_alias(self, name: str, alias: str) -> None:
        if not self._store.query(
            "SELECT 1 FROM aliases WHERE function = ? AND name = ?", (name, alias)
        ):
            self.get_alias(name, alias)  # the right ResourceNotFoundException
        with self._store.transaction() as db:
            db.execute("DELETE FROM aliases WHERE function = ? AND name = ?", (name, alias))
        self._changed(name)

    # -- revisions of resource-based policies -----------------------------------------

    def revise(self, db: Any, name: str, qualifier: str) -> tuple[str, str]:
        """Give ``$LATEST`` (``qualifier`` ""), a version or an alias a new RevisionId in
        ``db``'s transaction, as a change of its resource-based policy does on AWS: the
        policy shares it. The old and the new RevisionId; call :meth:`changed` after
        the commit."""
        table, column = ("aliases", "name") if qualifier and not qualifier.isdigit() else \
            ("versions", "version")
        key = qualifier or LATEST
        row = db.execute(
            f"SELECT config FROM {table} WHERE function = ? AND {column} = ?", (name, key)
        ).fetchone()
        if row is None:
            raise self.not_found(name, qualifier or None)
        config = json.loads(row["config"])
        old, config["RevisionId"] = config["RevisionId"], new_revision_id()
        db.execute(
            f"UPDATE {table} SET config = ? WHERE function = ? AND {column} = ?",
            (json.dumps(config), name, key),
        )
        return old, config["RevisionId"]

    def changed(self) -> None:
        """Forget cached reads: a transaction of another's wrote to the registry."""
        self._changed()

    # -- the data plane's question ----------------------------------------------------

    def resolve(self, name: str, qualifier: str | None) -> FunctionConfiguration:
        """The configuration an invoke runs: for a weighted alias, one version by chance."""
        if qualifier in (None, LATEST) or qualifier.isdigit():
            return self.running(self.get(name, qualifier))
        alias = self.get_alias(name, qualifier)
        version = alias.function_version
        roll = self._random.random()
        for extra, weight in alias.additional_version_weights.items():
            if roll < weight:
                version = extra
            roll -= weight
        return self.running(self.get_version(name, version))


def _alias_uses(alias: AliasConfiguration, version: str) -> bool:
    return alias.function_version == version or version in alias.additional_version_weights
