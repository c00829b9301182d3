"""``lambdalab deploy``: a SAM or CloudFormation template made into a stack of this lab;
``lambdalab build``: its functions' dependencies installed first, as ``sam build`` does."""

from __future__ import annotations

from pathlib import Path

import click

from lambdalab import Lab
from lambdalab.plugin import pass_lab, print_table, say

from . import cloudformation_of
from .apigateway import local_url
from .build import BUILD_DIR, build
from .deploy import parse_overrides
from .exceptions import CloudFormationError


#: The template ``deploy`` and ``build`` read when none is named.
TEMPLATE = Path("template.yaml")


@click.command("build")
@click.option("--template", "-t", "template", default=str(TEMPLATE), show_default=True,
              type=click.Path(dir_okay=False, path_type=Path), help="The SAM or CloudFormation template.")
@click.option("--build-dir", "-b", default=None, type=click.Path(file_okay=False, path_type=Path),
              help=f"Where the built functions and template go (default: {BUILD_DIR} beside the template).")
def build_command(template: Path, build_dir: Path | None) -> None:
    """Copy each function's code into the build folder and install its dependencies
    (npm for nodejs with a package.json, pip for python with a requirements.txt), then
    write a template that points at them, as `sam build` does on AWS."""
    try:
        result = build(template, build_dir, progress=lambda line: click.echo(line, err=True))
    except CloudFormationError as error:
        click.echo(f"{error.code}: {error.message}", err=True)
        raise SystemExit(2) from None
    for line in result.not_built:
        click.echo(f"Not built: {line}", err=True)
    say(f"Built {len(result.built)} of the template's code folders; template: {_shown(result.template)}")
    say("Deploy it with `lambdalab deploy`" + (f" --template {_shown(result.template)}" if build_dir else ""))


@click.command("deploy")
@click.option("--template", "-t", "template", default=None,
              type=click.Path(dir_okay=False, path_type=Path),
              help=f"The SAM or CloudFormation template (default: {BUILD_DIR / TEMPLATE} when `lambdalab "
                   f"build` made it, else {TEMPLATE}).")
@click.option("--stack-name", default=None, help="The stack (default: the project's folder name).")
@click.option("--parameter-overrides", multiple=True,
              help="Key=Value (or ParameterKey=K,ParameterValue=V); repeat for each parameter.")
@click.option("--delete", is_flag=True, help="Remove the stack and everything it made.")
@pass_lab
def deploy_command(lab: Lab, template: Path | None, stack_name: str | None, parameter_overrides: tuple[str, ...],
                   delete: bool) -> None:
    """Create or update a stack from TEMPLATE, as `sam deploy` does on AWS.

    SAM is transformed by AWS's own translator; each CodeUri folder is read in place.
    A failed deploy is rolled back and names the resource that failed and why."""
    name = stack_name or _default_name(template or TEMPLATE)
    if template is None:
        built = BUILD_DIR / TEMPLATE
        template = built if built.is_file() else TEMPLATE
    cfn = cloudformation_of(lab)
    try:
        if delete:
            deleted = cfn.deployer.delete(name)
            say(f"Deleted stack {name} ({len(deleted)} resources)")
            return
        pairs = [p for group in parameter_overrides for p in group.split()]
        result = cfn.deployer.deploy(name, template, parse_overrides(pairs))
    except CloudFormationError as error:
        click.echo(f"{error.code}: {error.message}", err=True)
        raise SystemExit(2) from None
    stack = result.stack
    say(f"Deployed {_shown(template)}")
    say(f"Stack {name}: {stack.status} (created {len(result.created)}, updated {len(result.updated)}, "
        f"deleted {len(result.deleted)}, unchanged {len(result.unchanged)})")
    print_table(f"Resources of {name}", ["Logical id", "Type", "Physical id"],
                [(r.logical_id, r.type, r.made.physical_id) for r in stack.resources.values()], "No resources.")
    if result.not_applied:
        say(f"Accepted, not emulated by lambdalab: {', '.join(result.not_applied)}")
    for shift in result.deployments:
        weights = lab.get_alias(shift.function, shift.alias).additional_version_weights
        say(f"CodeDeploy deployment {shift.deployment_id} ({shift.plan.config_name}): {shift.status}; alias "
            f"{shift.alias} sends {weights.get(shift.new_version, 1.0 if shift.status == 'Succeeded' else 0.0):.0%} "
            f"to version {shift.new_version}, the rest to {shift.old_version}, as the lab's clock moves on")
    if stack.outputs:
        print_table("Outputs", ["Key", "Value", "Description"],
                    [(k, str(v["OutputValue"]), v["Description"]) for k, v in stack.outputs.items()], "")
        here = [(k, url) for k, v in stack.outputs.items() if (url := local_url(lab, v["OutputValue"]))]
        if here:
            print_table("API URLs on this lab's edge (lambdalab serve)", ["Key", "URL"], here, "")


def _default_name(template: Path) -> str:
    """The project folder's name, also for the template ``lambdalab build`` wrote in it."""
    parent = template.resolve().parent
    folder = (parent.parent.parent if parent.parts[-2:] == BUILD_DIR.parts else parent).name
    return "".join(c if c.isalnum() else "-" for c in folder).strip("-") or "lambdalab-app"


def _shown(path: Path) -> str:
    """``path`` relative to the current folder when it is under it."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)
