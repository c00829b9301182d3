"""lambdalab's CloudFormation: ``lambdalab deploy`` takes a SAM or CloudFormation
template, transforms SAM with AWS's own translator (``aws-sam-translator``) and makes
what it describes through the lab's own API, as a stack kept in the data dir.

A built-in plugin, registered by entry point (``cloudformation =
"lambdalab_cloudformation"``) exactly as a student's plugin is. :mod:`.template` reads
and transforms templates, :mod:`.intrinsics` resolves ``Ref``/``Fn::*`` and orders
resources, :mod:`.resources` says what each emulated type becomes (:mod:`.apigateway` those of
API Gateway, on the API Gateway plugin), :mod:`.calls` reaches
the other service plugins as the edge does, :mod:`.deploy` creates, updates, rolls back
and deletes, :mod:`.models` keeps stacks durable, :mod:`.responses` is CloudFormation's API on the
edge, :mod:`.build` is ``sam build``'s part (each function's dependencies installed into
``.aws-sam/build``) and :mod:`.cli` is ``lambdalab deploy`` and ``lambdalab build``.

From Python::

    from lambdalab_cloudformation import cloudformation_of
    cfn = cloudformation_of(lab)
    cfn.deployer.deploy("app", Path("template.yaml"), {"Stage": "dev"})
    cfn.stacks.get("app").outputs
    build(Path("template.yaml"))  # lambdalab build: .aws-sam/build/template.yaml
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import lambdalab
from lambdalab.plugin import HttpService, ProtocolService, StashKey

from .apigateway import local_url
from .build import BuildError, BuildResult, build
from .changesets import ChangeSets
from .deploy import TYPES, Deployer, DeployResult, parse_overrides
from .exceptions import CloudFormationError, DeployFailed, TemplateError
from .models import MIGRATIONS, Stack, Stacks
from .traffic import TrafficShifts

if TYPE_CHECKING:
    from lambdalab import Lab

__version__ = "0.1.0"


@dataclass
class CloudFormation:
    stacks: Stacks
    deployer: Deployer
    #: CodeDeploy's deployments of aliases (SAM's DeploymentPreference).
    shifts: TrafficShifts
    #: CreateStack, UpdateStack and change sets on the edge.
    change_sets: ChangeSets


#: Each lab's CloudFormation, in ``lab.stash``: it dies with the lab.
CLOUDFORMATION = StashKey[CloudFormation]()


def cloudformation_of(lab: "Lab") -> CloudFormation:
    """The CloudFormation of ``lab``."""

    def make() -> CloudFormation:
        stacks = Stacks(lab)
        shifts = TrafficShifts(lab, stacks)
        deployer = Deployer(lab, stacks, shifts)
        return CloudFormation(stacks, deployer, shifts, ChangeSets(stacks, deployer))

    return lab.stash.setdefault(CLOUDFORMATION, make)


@lambdalab.hookimpl
def lambdalab_migrations() -> dict[str, str]:
    return MIGRATIONS


@lambdalab.hookimpl
def lambdalab_lab_started(lab: "Lab") -> None:
    cloudformation_of(lab).shifts.resume()  # deployments a reopened data dir left shifting


@lambdalab.hookimpl
def lambdalab_lab_closing(lab: "Lab") -> None:
    cloudformation_of(lab).shifts.close()


@lambdalab.hookimpl
def lambdalab_http_services(lab: "Lab") -> list[HttpService]:
    """CloudFormation's query API over the lab's stacks (:mod:`.responses`), and the part
    of CodeDeploy a deployment's hooks call (:mod:`.codedeploy`)."""
    from . import codedeploy
    from .responses import CloudFormationResponses

    cfn = cloudformation_of(lab)
    return [HttpService("cloudformation", ProtocolService("cloudformation",
                                                          CloudFormationResponses(cfn.stacks, cfn.deployer,
                                                                                  cfn.change_sets))),
            HttpService("codedeploy", codedeploy.service(cfn.shifts), target_prefixes=(codedeploy.TARGET_PREFIX,))]


@lambdalab.hookimpl
def lambdalab_register_commands(cli: Any) -> None:
    """``lambdalab deploy`` and ``lambdalab build``."""
    from .cli import build_command, deploy_command

    cli.add_command(deploy_command)
    cli.add_command(build_command)


__all__ = ["BuildError", "BuildResult", "CloudFormation", "CloudFormationError", "DeployFailed", "DeployResult",
           "Deployer", "Stack", "Stacks", "TYPES", "TemplateError", "build", "cloudformation_of", "local_url",
           "parse_overrides"]
