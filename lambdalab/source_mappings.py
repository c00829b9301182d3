"""Event source mappings, kept by the plugins that emulate each source, as one API.

Plugins answer the hook ``lambdalab_event_source_mappings`` with ``{service: keeper}``
(the SQS plugin with ``{"sqs": …}``); :class:`SourceMappings` puts those keepers behind
the Lambda API's five operations: a new mapping goes to the keeper of its source ARN's
service, a UUID is looked for in every keeper, and a list joins theirs.
"""

from __future__ import annotations

import builtins
import json
import logging
import re
import threading
from dataclasses import replace
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Iterable, Mapping, Protocol, TypeVar

from .arn import parse_function_ref
from .errors import InvalidParameterValueException, ResourceNotFoundException

if TYPE_CHECKING:
    from .store import Store

log = logging.getLogger(__name__)


def internal_error(error: Exception, mapping_uuid: str) -> str:
    """A poller's invoke failed with an error of lambdalab's own (a bug, not the
    function's nor a throttle's): logged whole, and said as the mapping's
    LastProcessingResult. The poller keeps polling and tries the batch again, as AWS's
    does after an internal error; its thread dying would stop the mapping for good."""
    log.error("lambdalab: event source mapping %s: an invoke failed inside lambdalab; the "
              "batch is tried again", mapping_uuid, exc_info=error)
    return f"PROBLEM: Internal error: {type(error).__name__}: {error}"


#: An event source mapping's ARN, as botocore's ``TaggableResource`` pattern names it.
MAPPING_ARN = re.compile(
    r"^arn:aws[a-zA-Z-]*:lambda:[a-z0-9-]+:\d{12}:event-source-mapping:"
    r"(?P<uuid>[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})$"
)


class SourceMappings:
    """The event source mappings of every loaded source, by service."""

    def __init__(self, answers: Iterable[Mapping[str, Any] | None]) -> None:
        self.keepers: dict[str, Any] = {}
        for answer in answers:
            for service, keeper in (answer or {}).items():
                if service in self.keepers:
                    raise InvalidParameterValueException(
                        f"Two loaded plugins keep event source mappings of {service!r}; "
                        "disable one (LAMBDALAB_PLUGINS, see `lambdalab plugins`)."
                    )
                self.keepers[service] = keeper

    def create(self, function_name: str, **settings: Any) -> Any:
        arn = settings.get("event_source_arn")
        service = arn.split(":")[2] if isinstance(arn, str) and arn.count(":") >= 5 else None
        keeper = self.keepers.get(service or "")
        if keeper is None:
            raise InvalidParameterValueException(
                f"EventSourceArn: {arn!r} is not the ARN of a source a loaded plugin polls. "
                f"Sources loaded: {', '.join(sorted(self.keepers)) or 'none'}. Install or "
                "enable the plugin that emulates that service (see `lambdalab plugins`)."
            )
        return keeper.create(function_name=function_name, **settings)

    def get(self, uuid: str) -> Any:
        return self._with(uuid, lambda keeper: keeper.get(uuid))

    def update(self, uuid: str, **settings: Any) -> Any:
        return self._with(uuid, lambda keeper: keeper.update(uuid, **settings))

    def delete(self, uuid: str) -> Any:
        return self._with(uuid, lambda keeper: keeper.delete(uuid))

    def find(
        self, *, event_source_arn: str | None = None, function_name: str | None = None
    ) -> list[Any]:
        """The mappings every keeper lists, optionally of one source or one function.

        A keeper's own method keeps the name ``list``: the hook's contract, which
        plugins implement (:func:`~lambdalab.hookspecs.lambdalab_event_source_mappings`).
        """
        found: list[Any] = []
        for keeper in self.keepers.values():
            found += keeper.list(event_source_arn=event_source_arn, function_name=function_name)
        return found

    def _with(self, uuid: str, call: Any) -> Any:
        """``call(keeper)`` on the keeper that has ``uuid``."""
        missing: ResourceNotFoundException | None = None
        for keeper in self.keepers.values():
            try:
                return call(keeper)
            except ResourceNotFoundException as error:
                missing = error
        raise missing or ResourceNotFoundException(
            f"The resource you requested does not exist. (Service: Lambda, Status Code: 404, "
            f"Request ID: {uuid})"
        )


class KeptMapping(Protocol):
    """What :class:`MappingKeeper` reads of a keeper's mapping record (a dataclass)."""

    @property
    def uuid(self) -> str: ...
    @property
    def enabled(self) -> bool: ...
    @property
    def event_source_arn(self) -> str: ...
    @property
    def function_arn(self) -> str: ...


M = TypeVar("M", bound=KeptMapping)


class MappingKeeper(Generic[M]):
    """What every keeper of event source mappings does alike, whatever it polls: mappings
    durable as rows of the table ``TABLE`` names (a ``uuid`` column), one poller thread per enabled
    mapping, and the Lambda API's delete, list and update semantics.

    A keeper (the SQS plugin's, the Kinesis plugin's) is a dataclass with ``lab``,
    ``pollers``, ``results`` and ``idle`` fields, and gives ``get``, ``_all``,
    ``_save``, ``_start`` and ``_is_idle``; this class does the rest.
    """

    #: The store's table of the keeper's mappings.
    TABLE: ClassVar[str]
    lab: Any  # the Lab (its module imports this one)
    #: Each running poller (``stop()`` then ``join()`` stops it), by mapping UUID.
    pollers: dict[str, Any]
    results: dict[str, str]
    idle: threading.Condition

    def get(self, uuid: str) -> M:
        raise NotImplementedError

    def _all(self) -> builtins.list[M]:
        raise NotImplementedError

    def _save(self, mapping: M) -> None:
        raise NotImplementedError

    def _start(self, mapping: M) -> None:
        raise NotImplementedError

    def _is_idle(self) -> bool:
        raise NotImplementedError

    def start(self) -> None:
        """Start a poller for each enabled mapping (the lab opened)."""
        for mapping in self._all():
            if mapping.enabled:
                self._start(mapping)

    def delete(self, uuid: str) -> M:
        """DeleteEventSourceMapping: its poller stopped, its row gone; answered ``Deleting``."""
        mapping = self.get(uuid)
        self._stop(uuid)
        with self.lab.store.transaction() as db:
            db.execute(f"DELETE FROM {self.TABLE} WHERE uuid = ?", (mapping.uuid,))
        return replace(mapping, state="Deleting")  # type: ignore[type-var]

    def list(self, event_source_arn: str | None = None,
             function_name: str | None = None) -> builtins.list[M]:
        """ListEventSourceMappings, optionally of one source or one function."""
        function_arn = None
        if function_name is not None:
            ref = parse_function_ref(function_name)
            function_arn = self.lab.arns.function(ref.name, ref.qualifier)
        return [self.get(m.uuid) for m in self._all()
                if (event_source_arn is None or m.event_source_arn == event_source_arn)
                and (function_arn is None or m.function_arn == function_arn)]

    def _function_arn(self, function_name: str) -> str:
        """The ARN of a function that exists (ResourceNotFoundException if not)."""
        ref = parse_function_ref(function_name)
        self.lab.registry.get(ref.name, ref.qualifier)
        return self.lab.arns.function(ref.name, ref.qualifier)

    def _replace(self, old: M, mapping: M) -> M:
        """Keep ``mapping`` in place of ``old`` and restart its poller; answered in the
        state UpdateEventSourceMapping gives (``Enabling``, ``Disabling``, ``Updating``)."""
        self._stop(mapping.uuid)
        self._save(mapping)
        if mapping.enabled:
            self._start(mapping)
        state = ("Enabling" if mapping.enabled and not old.enabled
                 else "Disabling" if old.enabled and not mapping.enabled else "Updating")
        return replace(mapping, state=state)  # type: ignore[type-var]

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Block (real seconds) until no poller has work (the keeper's ``_is_idle``).
        Tests and labs call it after sending or writing, or advancing the clock."""
        with self.idle:
            return self.idle.wait_for(self._is_idle, timeout)

    def notify_idle(self) -> None:
        with self.idle:
            self.idle.notify_all()

    def close(self) -> None:
        for key in builtins.list(self.pollers):
            self._stop(key)

    def _stop(self, uuid: str) -> None:
        poller = self.pollers.pop(uuid, None)
        if poller is not None:
            poller.stop()
            poller.join()
        self.notify_idle()


def mapping_uuid(mapping: Any) -> str | None:
    """The UUID of a mapping a keeper answered: its ``uuid`` (the SQS plugin's records),
    or its ``UUID`` key (a keeper that answers AWS's JSON)."""
    uuid = getattr(mapping, "uuid", None)
    if uuid is None and isinstance(mapping, Mapping):
        uuid = mapping.get("UUID")
    return uuid if isinstance(uuid, str) else None


class MappingTags:
    """The tags of event source mappings, by UUID, whichever plugin keeps the mapping.

    AWS tags mappings since 2024: ``Tags`` on CreateEventSourceMapping, and TagResource,
    UntagResource and ListTags on the mapping's ARN
    (https://docs.aws.amazon.com/lambda/latest/dg/tags-esm.html).
    """

    def __init__(self, store: Store) -> None:
        self.store = store

    def get(self, uuid: str) -> dict[str, str]:
        rows = self.store.query("SELECT tags FROM mapping_tags WHERE uuid = ?", (uuid,))
        return dict(json.loads(rows[0]["tags"])) if rows else {}

    def put(self, uuid: str, tags: Mapping[str, str]) -> None:
        with self.store.transaction() as db:
            if tags:
                db.execute(
                    "INSERT INTO mapping_tags (uuid, tags) VALUES (?, ?) "
                    "ON CONFLICT (uuid) DO UPDATE SET tags = excluded.tags",
                    (uuid, json.dumps(dict(tags))),
                )
            else:
                db.execute("DELETE FROM mapping_tags WHERE uuid = ?", (uuid,))
