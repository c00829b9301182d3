"""Event source mappings, kept by the plugins that emulate each source, as one API.

Plugins answer the hook ``lambdalab_event_source_mappings`` with ``{service: keeper}``
(the SQS plugin with ``{"sqs": …}``); :class:`SourceMappings` puts those keepers behind
the Lambda API's five operations: a new mapping goes to the keeper of its source ARN's
service, a UUID is looked for in every keeper, and a list joins theirs.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any, Iterable, Mapping

from .errors import InvalidParameterValueException, ResourceNotFoundException

if TYPE_CHECKING:
    from .store import Store

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
