"""``lambdalab layer …``: publish, list and delete Lambda layers.

::

    lambdalab layer publish NAME --code DIR_OR_ZIP   a new version of layer NAME
    lambdalab layer list [NAME]                      every layer, or NAME's versions
    lambdalab layer delete NAME VERSION              delete one version

A function uses layers through the API's ``Layers`` (boto3, the AWS CLI or
:meth:`lambdalab.Lab.create_function`); see ``docs/reference/layers.rst``.
"""

from __future__ import annotations

import click

from .app import LambdaGroup, pass_lab, print_table, say
from ..lab import Lab


@click.group(cls=LambdaGroup)
def layer_group() -> None:
    """Layers: zips of shared code that functions get under /opt."""


@layer_group.command("publish")
@click.argument("name")
@click.option("--code", required=True,
              help="A directory or .zip laid out as /opt: python/, nodejs/node_modules/, bin/.")
@click.option("--description", default="", help="What the layer holds.")
@click.option("--compatible-runtime", "runtimes", multiple=True,
              help="A runtime the layer is for (repeat for more); ListLayers filters on it.")
@click.option("--license-info", help="The layer's license, e.g. MIT.")
@pass_lab
def publish(lab: Lab, name: str, code: str, description: str, runtimes: tuple[str, ...],
            license_info: str | None) -> None:
    """Publish CODE as the next version of layer NAME."""
    version = lab.publish_layer_version(
        name, code, description=description,
        compatible_runtimes=list(runtimes) or None, license_info=license_info,
    )
    say(f"Published {version.layer_version_arn} ({version.code_size} bytes, "
        f"CodeSha256 {version.code_sha256})")


@layer_group.command("list")
@click.argument("name", required=False)
@pass_lab
def list_(lab: Lab, name: str | None) -> None:
    """List every layer (its newest version), or the versions of layer NAME."""
    versions = lab.list_layer_versions(name) if name else lab.list_layers()
    print_table(
        f"Versions of layer {name}" if name else "Layers",
        ("Layer version ARN", "Description", "Runtimes", "Created"),
        (
            (v.layer_version_arn, v.description, ", ".join(v.compatible_runtimes or ()),
             v.created_date)
            for v in versions
        ),
        empty="No layers yet: run `lambdalab layer publish --help`.",
    )


@layer_group.command("delete")
@click.argument("name")
@click.argument("version", type=int)
@pass_lab
def delete(lab: Lab, name: str, version: int) -> None:
    """Delete version VERSION of layer NAME (functions that use it keep it)."""
    lab.delete_layer_version(name, version)
    say(f"Deleted version {version} of layer {name}")
