"""``lambdalab s3 …``: buckets and objects from the shell, through :class:`S3`.

Paths are written as the AWS CLI writes them: ``s3://bucket/key``.
"""

from __future__ import annotations

import functools
import sys
from pathlib import Path
from typing import Any, Callable, TypeVar

import click

from lambdalab.plugin import open_lab, print_table, say

from .backend import S3, encode_token
from .exceptions import S3Error

F = TypeVar("F", bound=Callable[..., Any])


def split_url(url: str) -> tuple[str, str]:
    """``s3://photos/a/b.jpg`` → ``("photos", "a/b.jpg")``."""
    if not url.startswith("s3://"):
        raise click.BadParameter(f"{url!r} is not an S3 path; write s3://BUCKET/KEY.")
    bucket, _, key = url[len("s3://"):].partition("/")
    return bucket, key


class S3Group(click.Group):
    """Prints an S3Error as ``Code: message`` (exit 2), like the rest of the CLI."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except S3Error as error:
            click.echo(f"{error.code}: {error.message}", err=True)
            ctx.exit(2)


def pass_s3(command: F) -> F:
    """Call ``command(s3, ...)`` with the S3 of a Lab on ``--data-dir`` (the toolkit's
    :func:`~lambdalab.cli.app.open_lab`: the same data dir and sandbox as every command)."""

    @functools.wraps(command)
    def with_s3(*args: Any, **kwargs: Any) -> Any:
        return command(S3.of(open_lab()), *args, **kwargs)

    return with_s3  # type: ignore[return-value]


@click.group("s3", cls=S3Group)
def s3_group() -> None:
    """Buckets and objects (lambdalab_s3): writes notify functions, as S3 does."""


@s3_group.command("mb")
@click.argument("url")
@pass_s3
def make_bucket(s3: S3, url: str) -> None:
    """Make bucket URL (s3://NAME)."""
    bucket, _ = split_url(url)
    s3.create_bucket(bucket)
    say(f"make_bucket: {bucket}")


@s3_group.command("rb")
@click.argument("url")
@pass_s3
def remove_bucket(s3: S3, url: str) -> None:
    """Remove the empty bucket URL (s3://NAME)."""
    bucket, _ = split_url(url)
    s3.delete_bucket(bucket)
    say(f"remove_bucket: {bucket}")


@s3_group.command("ls")
@click.argument("url", required=False)
@pass_s3
def list_(s3: S3, url: str | None) -> None:
    """List buckets, or the keys under s3://BUCKET/PREFIX."""
    if url is None:
        rows: list[tuple[str, ...]] = [(b.name, b.region) for b in s3.list_buckets()]
        print_table("Buckets", ("Bucket", "Region"), rows, empty="No buckets yet: lambdalab s3 mb s3://NAME")
        return
    bucket, prefix = split_url(url)
    rows, token = [], None
    while True:
        page = s3.list_objects_v2(bucket, prefix=prefix, continuation_token=token)
        rows += [(o.key, str(o.size), o.etag) for o in page.objects]
        if page.next_token is None:
            break
        token = encode_token(page.next_token)
    print_table(f"s3://{bucket}/{prefix}", ("Key", "Size", "ETag"), rows, empty="No objects.")


@s3_group.command("cp")
@click.argument("source")
@click.argument("destination")
@pass_s3
def copy(s3: S3, source: str, destination: str) -> None:
    """Copy a local file (or - for stdin) to s3://BUCKET/KEY, or an object to a file (or -)."""
    if source.startswith("s3://") and destination.startswith("s3://"):
        (sb, sk), (db, dk) = split_url(source), split_url(destination)
        s3.copy_object(db, dk or sk, sb, sk)
    elif destination.startswith("s3://"):
        bucket, key = split_url(destination)
        body = sys.stdin.buffer.read() if source == "-" else Path(source).read_bytes()
        s3.put_object(bucket, key or Path(source).name, body)
    elif source.startswith("s3://"):
        body = s3.get_object(*split_url(source)).read()
        if destination == "-":
            sys.stdout.buffer.write(body)
            return
        Path(destination).write_bytes(body)
    else:
        raise click.BadParameter("One of SOURCE and DESTINATION must be an s3:// path.")
    say(f"copy: {source} to {destination}")


@s3_group.command("rm")
@click.argument("url")
@pass_s3
def remove(s3: S3, url: str) -> None:
    """Delete the object s3://BUCKET/KEY."""
    s3.delete_object(*split_url(url))
    say(f"delete: {url}")
