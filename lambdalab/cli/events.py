"""``lambdalab event …``: the events AWS services send to Lambda (:mod:`lambdalab.service_events`).

``event list`` lists every service; ``event generate SERVICE`` (:mod:`lambdalab.service_events._cli`,
imported when run) prints one service's event JSON.
"""

from __future__ import annotations

import click

from .app import LambdaGroup, print_table


@click.group(
    cls=LambdaGroup,
    lazy_commands={
        "generate": (
            "lambdalab.service_events._cli",
            "generate_group",
            "Print the event JSON SERVICE sends to Lambda; options set its interesting fields.",
        )
    },
)
def event() -> None:
    """Print the events AWS services send to Lambda: S3, SNS, SQS, API Gateway, …"""


@event.command("list")
def event_list() -> None:
    """List every service and how it invokes Lambda: sync, async or by polling."""
    from .. import service_events as event_sources

    print_table(
        "Event sources",
        ("Service", "Invokes Lambda", "--invocation-type", "Event", "Shape documented at"),
        (
            (s.name, s.invocation, s.invocation_type, s.title, s.doc_url)
            for s in event_sources.sources()
        ),
        empty="No event generators are registered.",
    )
