"""Archives of a bus's events, and replays of them to the bus's rules.

Pure state, no HTTP. An archive
(https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-archive.html) keeps every
event put on its bus that its optional ``EventPattern`` matches, in the same transaction
that commits the event's deliveries. ``RetentionDays`` (0: for ever) drops the events
archived longer ago than that, on the Lab's clock.

A replay (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-replay-archived-event.html)
sends the archived events whose ``time`` (the entry's ``Time``, else when it was put, as
AWS's StartReplay reads it) is in ``[EventStartTime, EventEndTime)`` to the
rules of the archive's bus again (all of them, or those ``FilterArns`` names), each with
the ``replay-name`` field AWS adds. AWS replays in the background; lambdalab commits a
replay's deliveries before ``StartReplay`` answers (``STARTING``, as AWS answers), so the
replay is ``COMPLETED`` by the time a client asks, and a replay cannot be cancelled
once started (``CancelReplay`` answers ``IllegalStatusException``).
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Mapping

from lambdalab.plugin import event_filters

from .exceptions import (
    IllegalStatusException,
    ResourceAlreadyExistsException,
    ResourceNotFoundException,
    ValidationException,
)
from .models import check_pattern

if TYPE_CHECKING:
    from .buses import EventBuses

_ARCHIVE_NAME = re.compile(r"^[.\-_A-Za-z0-9]{1,48}$")
_REPLAY_NAME = re.compile(r"^[.\-_A-Za-z0-9]{1,64}$")
_ARCHIVE_ARN = re.compile(r"^arn:aws[\w-]*:events:[a-z0-9-]+:[0-9]{12}:archive/(.+)$")
_DAY_S = 86_400


@dataclass(frozen=True)
class Archive:
    """An archive of one bus's events (a row of ``event_archives``)."""

    name: str
    arn: str
    event_source_arn: str
    bus: str
    created: float
    event_pattern: str | None = None
    description: str | None = None
    retention_days: int = 0

    def to_aws(self, count: int = 0, size: int = 0) -> dict[str, Any]:
        """DescribeArchive's answer; ListArchives' ``Archive`` is a part of it."""
        out: dict[str, Any] = {
            "ArchiveArn": self.arn, "ArchiveName": self.name,
            "EventSourceArn": self.event_source_arn, "State": "ENABLED",
            "RetentionDays": self.retention_days, "SizeBytes": size, "EventCount": count,
            "CreationTime": self.created}
        if self.event_pattern is not None:
            out["EventPattern"] = self.event_pattern
        if self.description is not None:
            out["Description"] = self.description
        return out


@dataclass(frozen=True)
class Replay:
    """One replay of an archive (a row of ``event_replays``)."""

    name: str
    arn: str
    archive_arn: str
    destination: dict[str, Any]
    event_start: float
    event_end: float
    started: float
    state: str = "STARTING"
    description: str | None = None
    ended: float | None = None
    last_replayed: float | None = None

    def to_aws(self) -> dict[str, Any]:
        """DescribeReplay's answer; ListReplays' ``Replay`` is a part of it."""
        out: dict[str, Any] = {
            "ReplayName": self.name, "ReplayArn": self.arn, "State": self.state,
            "EventSourceArn": self.archive_arn, "Destination": self.destination,
            "EventStartTime": self.event_start, "EventEndTime": self.event_end,
            "ReplayStartTime": self.started}
        optional = {"Description": self.description, "ReplayEndTime": self.ended,
                    "EventLastReplayedTime": self.last_replayed}
        return out | {k: v for k, v in optional.items() if v is not None}


class Archives:
    """The archives and replays of one Lab's event buses, with boto3's method names."""

    def __init__(self, buses: "EventBuses") -> None:
        self.buses = buses
        self.lab = buses.lab

    def _arn(self, kind: str, name: str) -> str:
        return f"arn:aws:events:{self.lab.arns.region}:{self.lab.arns.account_id}:{kind}/{name}"

    # -- archives ---------------------------------------------------------------------

    def create_archive(self, name: Any, event_source_arn: Any, *, event_pattern: Any = None,
                       description: Any = None, retention_days: Any = None) -> Archive:
        if not isinstance(name, str) or not _ARCHIVE_NAME.match(name):
            raise ValidationException(
                f"Parameter ArchiveName is not valid: {name!r}. Use 1-48 letters, digits, "
                "'.', '-' or '_'.")
        bus = self.buses.bus_name(event_source_arn)  # a bus that exists, or not found
        if event_pattern is not None:
            check_pattern(event_pattern)
        days = 0 if retention_days is None else retention_days
        if not isinstance(days, int) or isinstance(days, bool) or days < 0:
            raise ValidationException(
                "Parameter RetentionDays is not valid: use 0 (keep for ever) or more days.")
        archive = Archive(name, self._arn("archive", name), self.buses.bus_arn(bus), bus,
                          self.lab.clock.now(), event_pattern, description, days)
        with self.lab.store.transaction() as db:
            if db.execute("SELECT 1 FROM event_archives WHERE name = ?", (name,)).fetchone():
                raise ResourceAlreadyExistsException(f"Archive {name} already exists.")
            db.execute("INSERT INTO event_archives (name, config) VALUES (?, ?)",
                       (name, json.dumps(asdict(archive))))
        return archive

    def describe_archive(self, name: Any) -> Archive:
        found = [a for a in self.list_archives() if a.name == name]
        if not found:
            raise ResourceNotFoundException(f"Archive {name} does not exist.")
        return found[0]

    def list_archives(self, name_prefix: str | None = None,
                      bus: str | None = None) -> list[Archive]:
        """The archives, by name; of ``bus`` only when given."""
        rows = self.lab.store.query("SELECT name, config FROM event_archives ORDER BY name")
        archives = self.lab.store.loaded_rows(
            "event_archives", rows, lambda row: {"name": row["name"]},
            lambda row: Archive(**json.loads(row["config"])))
        return [a for a in archives if (not name_prefix or a.name.startswith(name_prefix))
                and bus in (None, a.bus)]

    def delete_archive(self, name: Any) -> None:
        """Delete an archive and its events."""
        self.describe_archive(name)
        with self.lab.store.transaction() as db:
            db.execute("DELETE FROM archived_events WHERE archive = ?", (name,))
            db.execute("DELETE FROM event_archives WHERE name = ?", (name,))

    def contents(self, archive: Archive) -> tuple[int, int]:
        """``(EventCount, SizeBytes)`` of what the archive keeps now."""
        self._expire(archive)
        row = self.lab.store.query(
            "SELECT COUNT(*), COALESCE(SUM(LENGTH(event)), 0) FROM archived_events "
            "WHERE archive = ?", (archive.name,))[0]
        return int(row[0]), int(row[1])

    def _expire(self, archive: Archive) -> None:
        if archive.retention_days:
            oldest = self.lab.clock.now() - archive.retention_days * _DAY_S
            with self.lab.store.transaction() as db:
                db.execute("DELETE FROM archived_events WHERE archive = ? AND archived_at < ?",
                           (archive.name, oldest))

    def kept(self, event: Mapping[str, Any], bus: str,
             cache: dict[str, list[tuple[Archive, dict[str, Any] | None]]]
             ) -> list[tuple[str, float, str]]:
        """``(archive, event time, event JSON)`` for each archive of ``bus`` that keeps ``event``; a
        replayed event is not archived again. ``cache`` keeps each bus's archives for the
        other events of one request."""
        if "replay-name" in event:
            return []
        if bus not in cache:
            cache[bus] = [(a, check_pattern(a.event_pattern) if a.event_pattern else None)
                          for a in self.list_archives(bus=bus)]
        text, time = json.dumps(event), _seconds("time", event.get("time"))
        return [(archive.name, time, text) for archive, pattern in cache[bus]
                if pattern is None or event_filters.matches(pattern, event)]

    def store(self, db: Any, kept: list[tuple[str, float, str]], now: float) -> None:
        """Write what :meth:`kept` chose, inside the caller's transaction ``db``."""
        db.executemany(
            "INSERT INTO archived_events (archive, time, archived_at, event) VALUES (?, ?, ?, ?)",
            [(archive, time, now, text) for archive, time, text in kept])

    # -- replays ----------------------------------------------------------------------

    def start_replay(self, name: Any, archive_arn: Any, start: Any, end: Any,
                     destination: Any, description: Any = None) -> Replay:
        """Replay the archive's events of ``[start, end)`` to its bus's rules; committed
        (deliveries and the replay's record) before this returns."""
        if not isinstance(name, str) or not _REPLAY_NAME.match(name):
            raise ValidationException(
                f"Parameter ReplayName is not valid: {name!r}. Use 1-64 letters, digits, "
                "'.', '-' or '_'.")
        found = _ARCHIVE_ARN.match(str(archive_arn))
        if found is None:
            raise ValidationException(
                f"Parameter EventSourceArn is not valid: {archive_arn!r}. Give an archive's "
                "ARN (CreateArchive's ArchiveArn).")
        archive = self.describe_archive(found.group(1))
        event_start, event_end = _seconds("EventStartTime", start), _seconds("EventEndTime", end)
        if event_start >= event_end:
            raise ValidationException("Parameter EventStartTime must be before EventEndTime.")
        filters = self._destination(archive, destination)
        if self._find_replay(name) is not None:
            raise ResourceAlreadyExistsException(f"Replay {name} already exists.")
        self._expire(archive)
        events = [json.loads(row["event"]) for row in self.lab.store.query(
            "SELECT event FROM archived_events WHERE archive = ? AND time >= ? AND time < ? "
            "ORDER BY id", (archive.name, event_start, event_end))]
        routes = [r for r in self.buses.routes(archive.bus) if not filters or r.rule.arn in filters]
        rows = [row for event in events
                for row in self.buses.matched({**event, "replay-name": name}, routes)]
        now = self.lab.clock.now()
        last = max((_seconds("time", e.get("time")) for e in events), default=None)
        replay = Replay(name, self._arn("replay", name), archive.arn, dict(destination),
                        event_start, event_end, now, "COMPLETED", description, now, last)
        deliveries = self.buses.commit(rows, replay=(name, json.dumps(asdict(replay))))
        self.buses.send(deliveries)
        return replace(replay, state="STARTING", ended=None, last_replayed=None)

    def _destination(self, archive: Archive, destination: Any) -> list[str]:
        """The rule ARNs a replay's ``Destination`` keeps to (none: every rule); its bus
        must be the archive's, as on AWS."""
        if not isinstance(destination, Mapping) or not destination.get("Arn"):
            raise ValidationException("Parameter Destination.Arn is required.")
        if self.buses.bus_name(destination["Arn"]) != archive.bus:
            raise ValidationException(
                f"Parameter Destination.Arn is not valid: a replay goes to the archive's own "
                f"event bus, {archive.event_source_arn}.")
        filters = destination.get("FilterArns") or []
        if not isinstance(filters, list) or not all(isinstance(f, str) for f in filters):
            raise ValidationException("Parameter Destination.FilterArns is a list of rule ARNs.")
        return filters

    def describe_replay(self, name: Any) -> Replay:
        replay = self._find_replay(name)
        if replay is None:
            raise ResourceNotFoundException(f"Replay {name} does not exist.")
        return replay

    def _find_replay(self, name: Any) -> Replay | None:
        found = [r for r in self.list_replays() if r.name == name]
        return found[0] if found else None

    def list_replays(self, name_prefix: str | None = None, state: str | None = None,
                     archive_arn: str | None = None) -> list[Replay]:
        rows = self.lab.store.query("SELECT name, config FROM event_replays ORDER BY name")
        replays = self.lab.store.loaded_rows(
            "event_replays", rows, lambda row: {"name": row["name"]},
            lambda row: Replay(**json.loads(row["config"])))
        return [r for r in replays if (not name_prefix or r.name.startswith(name_prefix))
                and state in (None, r.state) and archive_arn in (None, r.archive_arn)]

    def cancel_replay(self, name: Any) -> Replay:
        """A replay that has finished cannot be cancelled; in lambdalab every one has."""
        replay = self.describe_replay(name)
        raise IllegalStatusException(
            f"Replay {name} is {replay.state}: only a STARTING or RUNNING replay can be "
            "cancelled (lambdalab's replays complete before StartReplay answers).")


def _seconds(field: str, value: Any) -> float:
    """A timestamp as the wire gives it (a datetime, epoch seconds, ISO text) in seconds."""
    if isinstance(value, datetime):
        return value.replace(tzinfo=value.tzinfo or timezone.utc).timestamp()
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
        except ValueError:
            pass
    raise ValidationException(f"Parameter {field} is not valid: give a timestamp.")


__all__ = ["Archive", "Archives", "Replay"]
