"""What a metric alarm and a composite alarm share: their actions and their state, and
the part of DescribeAlarms' shape that says them."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from typing import Any, TypeVar

A = TypeVar("A", bound="AlarmBase")

#: The action lists, by the state whose change runs them.
ACTION_FIELDS = ("ok_actions", "alarm_actions", "insufficient_data_actions")


def utc(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, timezone.utc)


@dataclass(frozen=True, kw_only=True)
class AlarmBase:
    """An alarm's name, actions and state, as Put*Alarm set them and evaluation left them."""

    name: str
    arn: str
    description: str | None = None
    actions_enabled: bool = True
    ok_actions: tuple[str, ...] = ()
    alarm_actions: tuple[str, ...] = ()
    insufficient_data_actions: tuple[str, ...] = ()
    state_value: str = "INSUFFICIENT_DATA"
    state_reason: str = "Unchecked: Initial alarm creation"
    state_reason_data: str | None = None
    state_updated: float = 0.0
    configuration_updated: float = 0.0
    #: When the state last changed value (``StateTransitionedTimestamp``).
    state_transitioned: float = 0.0

    def actions_for(self, state: str) -> tuple[str, ...]:
        return {"OK": self.ok_actions, "ALARM": self.alarm_actions,
                "INSUFFICIENT_DATA": self.insufficient_data_actions}[state]

    def _state_to_aws(self) -> dict[str, Any]:
        """The members of DescribeAlarms' ``MetricAlarm`` and ``CompositeAlarm`` alike."""
        out: dict[str, Any] = {
            "AlarmName": self.name, "AlarmArn": self.arn,
            "AlarmConfigurationUpdatedTimestamp": utc(self.configuration_updated),
            "ActionsEnabled": self.actions_enabled, "OKActions": list(self.ok_actions),
            "AlarmActions": list(self.alarm_actions),
            "InsufficientDataActions": list(self.insufficient_data_actions),
            "StateValue": self.state_value, "StateReason": self.state_reason,
            "StateUpdatedTimestamp": utc(self.state_updated),
            "StateTransitionedTimestamp": utc(self.state_transitioned),
        }
        for key, value in (("AlarmDescription", self.description),
                           ("StateReasonData", self.state_reason_data)):
            if value is not None:
                out[key] = value
        return out

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def _from_data(cls: type[A], data: dict[str, Any]) -> A:
        """The alarm a :meth:`to_json` row holds (its lists back as tuples)."""
        for key in ACTION_FIELDS:
            data[key] = tuple(data[key])
        return cls(**data)


__all__ = ["ACTION_FIELDS", "AlarmBase", "utc"]
