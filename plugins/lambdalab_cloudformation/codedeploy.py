"""The small part of CodeDeploy a Lambda deployment needs, on the edge (SigV4 service
``codedeploy``, JSON protocol, botocore's ``codedeploy/2014-10-06``), and its three
CloudFormation types.

``PutLifecycleEventHookExecutionStatus`` is how a ``PreTraffic``/``PostTraffic`` hook
reports (https://docs.aws.amazon.com/codedeploy/latest/APIReference/API_PutLifecycleEventHookExecutionStatus.html);
``GetDeployment`` and ``StopDeployment`` read and stop a deployment. The deployments
themselves are :mod:`.traffic`'s.

::

    CodeDeployError
    ├── DeploymentDoesNotExistException                   400
    ├── DeploymentAlreadyCompletedException               400
    ├── InvalidLifecycleEventHookExecutionIdException     400
    ├── InvalidLifecycleEventHookExecutionStatusException 400
    └── LifecycleEventAlreadyCompletedException           400
"""

from __future__ import annotations

from typing import Any, Mapping

from lambdalab.plugin import AwsError, ErrorCodes, ProtocolService

from .resources import Context, Made, ResourceType
from .traffic import TrafficShifts

#: What the X-Amz-Target of CodeDeploy's requests starts with.
TARGET_PREFIX = "CodeDeploy_20141006."


class CodeDeployError(AwsError):
    """Base class: a CodeDeploy error code and what to change."""


class DeploymentDoesNotExistException(CodeDeployError):
    """No deployment has that id."""


class DeploymentAlreadyCompletedException(CodeDeployError):
    """The deployment has ended: it cannot be stopped."""


class InvalidLifecycleEventHookExecutionIdException(CodeDeployError):
    """The execution id is not one of the deployment's running hooks."""


class InvalidLifecycleEventHookExecutionStatusException(CodeDeployError):
    """A hook reports ``Succeeded`` or ``Failed``."""


class LifecycleEventAlreadyCompletedException(CodeDeployError):
    """The hook already reported."""


class CodeDeployResponses:
    """The operations served: each takes the input as a dict and returns the output."""

    def __init__(self, shifts: TrafficShifts) -> None:
        self.shifts = shifts

    def put_lifecycle_event_hook_execution_status(self, body: Mapping[str, Any]) -> dict[str, Any]:
        execution_id = body.get("lifecycleEventHookExecutionId", "")
        self.shifts.report(body.get("deploymentId", ""), execution_id, body.get("status", ""))
        return {"lifecycleEventHookExecutionId": execution_id}

    def get_deployment(self, body: Mapping[str, Any]) -> dict[str, Any]:
        deployment = self.shifts.get(body["deploymentId"])
        if deployment is None:
            raise DeploymentDoesNotExistException(f"The deployment {body['deploymentId']} could not be found")
        return {"deploymentInfo": deployment.to_aws()}

    def stop_deployment(self, body: Mapping[str, Any]) -> dict[str, Any]:
        deployment = self.shifts.get(body["deploymentId"])
        if deployment is None:
            raise DeploymentDoesNotExistException(f"The deployment {body['deploymentId']} could not be found")
        if not self.shifts.stop(deployment):
            raise DeploymentAlreadyCompletedException(f"The deployment {deployment.deployment_id} has completed")
        return {"status": "Succeeded", "statusMessage": "The deployment was stopped and rolled back"}


def service(shifts: TrafficShifts) -> ProtocolService:
    return ProtocolService("codedeploy", CodeDeployResponses(shifts), protocol="json",
                           errors=ErrorCodes(validation="InvalidInputException",
                                             serialization="InvalidInputException"))


# -- CloudFormation's CodeDeploy types: recorded, read by the alias's UpdatePolicy ------------

def create_application(ctx: Context, logical_id: str, props: dict[str, Any], name: str | None) -> Made:
    if props.get("ComputePlatform", "Lambda") != "Lambda":
        raise ValueError("lambdalab's CodeDeploy deploys Lambda aliases only: ComputePlatform must be Lambda")
    application = props.get("ApplicationName") or name or ctx.name(logical_id, 100)
    return Made(application, application, {})


def create_group(ctx: Context, logical_id: str, props: dict[str, Any], name: str | None) -> Made:
    group = props.get("DeploymentGroupName") or name or ctx.name(logical_id, 100)
    return Made(group, group, {})


def create_config(ctx: Context, logical_id: str, props: dict[str, Any], name: str | None) -> Made:
    from .traffic import Routing

    Routing.of_config(props.get("TrafficRoutingConfig") or {}).check()
    config = props.get("DeploymentConfigName") or name or ctx.name(logical_id, 100)
    return Made(config, config, {})


def _recorded(ctx: Context, made: Made) -> None:
    """Nothing to remove: the record goes with the stack."""


def update_recorded(ctx: Context, old: dict[str, Any], new: dict[str, Any], made: Made) -> Made:
    return made


TYPES: dict[str, ResourceType] = {
    "AWS::CodeDeploy::Application": ResourceType(create_application, _recorded, update_recorded, None, frozenset({
        "ApplicationName", "ComputePlatform", "Tags"})),
    "AWS::CodeDeploy::DeploymentGroup": ResourceType(create_group, _recorded, update_recorded, None, frozenset({
        "ApplicationName", "DeploymentGroupName", "DeploymentConfigName", "AlarmConfiguration",
        "AutoRollbackConfiguration", "DeploymentStyle", "ServiceRoleArn"})),
    "AWS::CodeDeploy::DeploymentConfig": ResourceType(create_config, _recorded, None, None, frozenset({
        "DeploymentConfigName", "ComputePlatform", "TrafficRoutingConfig"})),
}
