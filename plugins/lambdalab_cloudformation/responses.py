"""CloudFormation's API for the stacks ``lambdalab deploy`` made, on the edge in its
query protocol (botocore's ``cloudformation`` model), so ``aws cloudformation
describe-stacks`` and boto3 read them
(https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_Operations.html)."""

from __future__ import annotations

import json
from typing import Any

from . import template as templates
from .changesets import ChangeSets, template_file
from .deploy import Deployer
from .exceptions import CloudFormationError
from .models import Stack, StackEvent, Stacks


class CloudFormationResponses:
    """One method per operation served, in botocore's member names."""

    def __init__(self, stacks: Stacks, deployer: Deployer, change_sets: ChangeSets) -> None:
        self.stacks = stacks
        self.deployer = deployer
        self.change_sets = change_sets

    # -- operations that carry a template (:mod:`.changesets`) ---------------------------------

    def create_stack(self, StackName: str, TemplateBody: str | None = None,
                     Parameters: list[dict[str, Any]] | None = None, **_: Any) -> dict[str, Any]:
        parameters = self.change_sets.parameters(StackName, Parameters)
        return {"StackId": self.change_sets.create_stack(StackName, TemplateBody, parameters)}

    def update_stack(self, StackName: str, TemplateBody: str | None = None,
                     Parameters: list[dict[str, Any]] | None = None, UsePreviousTemplate: bool | None = None,
                     **_: Any) -> dict[str, Any]:
        name = self._name(StackName)
        if UsePreviousTemplate:
            TemplateBody = json.dumps(self._stack(name).template)
        parameters = self.change_sets.parameters(name, Parameters)
        return {"StackId": self.change_sets.update_stack(name, TemplateBody, parameters)}

    def create_change_set(self, StackName: str, ChangeSetName: str, TemplateBody: str | None = None,
                          Parameters: list[dict[str, Any]] | None = None, ChangeSetType: str | None = None,
                          Description: str | None = None, UsePreviousTemplate: bool | None = None,
                          **_: Any) -> dict[str, Any]:
        name = self._name(StackName)
        if UsePreviousTemplate:
            TemplateBody = json.dumps(self._stack(name).template)
        change_set = self.change_sets.create(
            name, ChangeSetName, TemplateBody, self.change_sets.parameters(name, Parameters),
            ChangeSetType or "UPDATE", Description or "", self.deployer.lab.clock.now())
        return {"Id": change_set.change_set_id, "StackId": change_set.stack_id}

    def describe_change_set(self, ChangeSetName: str, StackName: str | None = None, **_: Any) -> dict[str, Any]:
        return self.change_sets.get(ChangeSetName, StackName and self._name(StackName)).to_aws()

    def execute_change_set(self, ChangeSetName: str, StackName: str | None = None, **_: Any) -> dict[str, Any]:
        self.change_sets.execute(ChangeSetName, StackName and self._name(StackName))
        return {}

    def delete_change_set(self, ChangeSetName: str, StackName: str | None = None) -> dict[str, Any]:
        self.change_sets.delete(ChangeSetName, StackName and self._name(StackName))
        return {}

    def list_change_sets(self, StackName: str, NextToken: str | None = None) -> dict[str, Any]:
        return {"Summaries": [
            {k: v for k, v in c.to_aws().items() if k in (
                "StackId", "StackName", "ChangeSetId", "ChangeSetName", "ExecutionStatus", "Status",
                "StatusReason", "CreationTime", "Description")}
            for c in self.change_sets.of_stack(self._name(StackName))]}

    def get_template_summary(self, TemplateBody: str | None = None, StackName: str | None = None,
                             **_: Any) -> dict[str, Any]:
        """The template's parameters and resource types (``aws cloudformation deploy``
        asks, to know which parameters keep their previous value)."""
        if StackName and not TemplateBody:
            template = self._stack(StackName).template
        else:
            with template_file(TemplateBody) as path:
                template = templates.load(path)
        parameters = template.get("Parameters") or {}
        transform = template.get("Transform")
        return {
            "Parameters": [{"ParameterKey": k, "ParameterType": str(v.get("Type", "String")), "NoEcho": False,
                            "Description": str(v.get("Description", "")),
                            **({"DefaultValue": str(v["Default"])} if "Default" in v else {})}
                           for k, v in parameters.items() if isinstance(v, dict)],
            "ResourceTypes": sorted({str(r.get("Type")) for r in template["Resources"].values()}),
            "Version": str(template.get("AWSTemplateFormatVersion", "2010-09-09")),
            "DeclaredTransforms": [transform] if isinstance(transform, str) else list(transform or []),
        }

    # -- reading stacks ---------------------------------------------------------------------

    def describe_stacks(self, StackName: str | None = None, NextToken: str | None = None) -> dict[str, Any]:
        stacks = [self._stack(StackName)] if StackName else [self._found(n) for n in self.stacks.names()]
        return {"Stacks": [_described(s) for s in stacks]}

    def list_stacks(self, StackStatusFilter: list[str] | None = None, NextToken: str | None = None) -> dict[str, Any]:
        stacks = [self._found(n) for n in self.stacks.names()]
        return {"StackSummaries": [
            {"StackId": s.stack_id, "StackName": s.name, "StackStatus": s.status, "CreationTime": s.created_at,
             "LastUpdatedTime": s.updated_at, **({"StackStatusReason": s.reason} if s.reason else {})}
            for s in stacks if not StackStatusFilter or s.status in StackStatusFilter]}

    def describe_stack_resources(self, StackName: str | None = None, LogicalResourceId: str | None = None,
                                 PhysicalResourceId: str | None = None) -> dict[str, Any]:
        if not StackName:
            raise CloudFormationError("StackName is required (lambdalab does not look stacks up by a "
                                      "PhysicalResourceId)")
        stack = self._stack(StackName)
        return {"StackResources": [
            {"StackName": stack.name, "StackId": stack.stack_id, "LogicalResourceId": r.logical_id,
             "PhysicalResourceId": r.made.physical_id, "ResourceType": r.type, "Timestamp": r.updated_at,
             "ResourceStatus": "UPDATE_COMPLETE" if r.updated_at > stack.created_at else "CREATE_COMPLETE"}
            for r in stack.resources.values() if LogicalResourceId in (None, r.logical_id)]}

    def list_stack_resources(self, StackName: str, NextToken: str | None = None) -> dict[str, Any]:
        resources = self.describe_stack_resources(StackName)["StackResources"]
        return {"StackResourceSummaries": [
            {k: r[k] for k in ("LogicalResourceId", "PhysicalResourceId", "ResourceType", "ResourceStatus")}
            | {"LastUpdatedTimestamp": r["Timestamp"]} for r in resources]}

    def describe_stack_events(self, StackName: str, NextToken: str | None = None) -> dict[str, Any]:
        stack = self._stack(StackName)
        return {"StackEvents": [_event(e) for e in self.stacks.events(stack.name)]}

    def get_template(self, StackName: str, ChangeSetName: str | None = None,
                     TemplateStage: str | None = None) -> dict[str, Any]:
        return {"TemplateBody": json.dumps(self._stack(StackName).template), "StagesAvailable": ["Original"]}

    def delete_stack(self, StackName: str, **_: Any) -> dict[str, Any]:
        name = self._name(StackName)
        if self.stacks.get(name) is not None:  # deleting a stack that is gone succeeds, as AWS's does
            self.deployer.delete(name)
        return {}

    def _name(self, name_or_id: str) -> str:
        return name_or_id.split("/")[1] if name_or_id.startswith("arn:") and "/" in name_or_id else name_or_id

    def _stack(self, name_or_id: str) -> Stack:
        stack = self.stacks.get(self._name(name_or_id))
        if stack is None:
            raise CloudFormationError(f"Stack with id {name_or_id} does not exist")
        return stack

    def _found(self, name: str) -> Stack:
        return self._stack(name)


def _described(stack: Stack) -> dict[str, Any]:
    described: dict[str, Any] = {
        "StackId": stack.stack_id, "StackName": stack.name, "StackStatus": stack.status,
        "CreationTime": stack.created_at, "LastUpdatedTime": stack.updated_at,
        "Parameters": [{"ParameterKey": k, "ParameterValue": ",".join(v) if isinstance(v, list) else str(v)}
                       for k, v in stack.parameters.items()],
        "Outputs": [{"OutputKey": k, "OutputValue": _text(v["OutputValue"]), "Description": v["Description"],
                     **({"ExportName": v["ExportName"]} if v.get("ExportName") else {})}
                    for k, v in stack.outputs.items()],
        "Capabilities": ["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"], "Tags": [],
        "DisableRollback": False, "EnableTerminationProtection": False,
    }
    if stack.reason:
        described["StackStatusReason"] = stack.reason
    return described


def _text(value: Any) -> str:
    return ",".join(str(v) for v in value) if isinstance(value, list) else str(value)


def _event(event: StackEvent) -> dict[str, Any]:
    out: dict[str, Any] = {
        "StackId": event.stack_id, "EventId": f"{event.logical_id}-{event.id}", "StackName": event.stack,
        "LogicalResourceId": event.logical_id, "PhysicalResourceId": event.physical_id,
        "ResourceType": event.type, "Timestamp": event.timestamp, "ResourceStatus": event.status,
    }
    if event.reason:
        out["ResourceStatusReason"] = event.reason
    return out
