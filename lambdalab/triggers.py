"""What invokes a function by itself, as a plugin that keeps it describes it
(``lambdalab_function_triggers``)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FunctionTrigger:
    """Something that invokes a function by itself: what ``lambdalab_function_triggers``
    returns, one per wiring, and what the console lists under the function.

    :param service: the source's service, as its ARNs name it (``s3``, ``sns``,
        ``events``, ``scheduler``).
    :param source: the source: a bucket's name, a topic's, rule's or schedule's ARN.
    :param detail: what it sends, in the source's own words (``s3:ObjectCreated:*``,
        ``rate(5 minutes)``, a filter policy); empty when there is nothing to add.
    :param state: ``ENABLED`` or ``DISABLED`` where the source has a state, else ``None``.
    """

    service: str
    source: str
    detail: str = ""
    state: str | None = None

    def describe(self) -> str:
        """One line, as the console shows it: ``s3 photos: s3:ObjectCreated:*``."""
        text = f"{self.service} {self.source}"
        if self.detail:
            text += f": {self.detail}"
        return text + (f" ({self.state})" if self.state else "")
