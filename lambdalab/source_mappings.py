"""Event source mappings, kept by the plugins that emulate each source, as one API.

Plugins answer the hook ``lambdalab_event_source_mappings`` with ``{service: keeper}``
(the SQS plugin with ``{"sqs": …}``); :class:`SourceMappings` puts those keepers behind
the Lambda API's five operations: a new mapping goes to the keeper of its source ARN's
service, a UUID is looked for in every keeper, and a list joins theirs.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping

from .errors import InvalidParameterValueException, ResourceNotFoundException


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

    def list(
        self, *, event_source_arn: str | None = None, function_name: str | None = None
    ) -> list[Any]:
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
