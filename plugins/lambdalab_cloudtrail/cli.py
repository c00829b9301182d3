"""``lambdalab trail``: the lab's CloudTrail events, newest first, as a table."""

from __future__ import annotations

import json

import click

from lambdalab.plugin import print_table

from .events import iso_time
from .models import ATTRIBUTE_COLUMNS, Found, Lookup
from .quotas import LOOKUP_MAX_RESULTS


@click.command("trail")
@click.option("--event-name", default=None, help="Only this operation: DeleteFunction, …")
@click.option("--resource", "resource_name", default=None,
              help="Only calls on this resource: a function name, queue URL, bucket, …")
@click.option("--access-key", "access_key_id", default=None, help="Only calls signed with this key.")
@click.option("--limit", type=click.IntRange(min=1), default=LOOKUP_MAX_RESULTS, show_default=True,
              help="Show at most this many events.")
def trail_command(event_name: str | None, resource_name: str | None, access_key_id: str | None,
                  limit: int) -> None:
    """Who called which API, when, on what, and whether it failed: the management events
    CloudTrail would record, from calls made through `lambdalab serve` (the last 90 days
    on the lab's clock). `aws cloudtrail lookup-events` reads the same events."""
    from lambdalab.plugin import open_lab

    from . import trail

    given = [(key, value) for key, value in (
        ("EventName", event_name), ("ResourceName", resource_name), ("AccessKeyId", access_key_id),
    ) if value is not None]
    # LookupEvents takes one attribute; the others filter what it found
    first = Lookup(given[0] if given else None)
    found = trail(open_lab()).lookup(first, limit if len(given) <= 1 else None)
    found = [f for f in found if all(_matches(f, k, v) for k, v in given[1:])][:limit]
    print_table("CloudTrail events (newest first)", ("Time (UTC)", "Who", "Event", "Resource", "Error"),
                [_row(f) for f in found],
                "No events. Calls made through `lambdalab serve` (boto3, the AWS CLI) are "
                "recorded; invokes and other data events are not.")


def _matches(found: Found, key: str, value: str) -> bool:
    return str(getattr(found.event, ATTRIBUTE_COLUMNS[key])) == value


def _row(found: Found) -> tuple[str, str, str, str, str]:
    event = found.event
    record = json.loads(event.event)
    who = f"{event.username or 'anonymous'} ({event.access_key_id})" if event.access_key_id else "anonymous"
    error = record.get("errorCode") or ""
    return (iso_time(event.at), f"{who} from {record.get('sourceIPAddress') or '?'}",
            f"{event.event_source.removesuffix('.amazonaws.com')}:{event.event_name}",
            event.resource_name or "", error)
