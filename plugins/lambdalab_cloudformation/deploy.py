"""Deploying a template as CloudFormation does: every resource type checked before
anything is made, resources made in dependency order, an update that changes only what
changed, resources gone from the template removed last, and a failure rolled back to the
stack's previous state
(https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/stack-failure-options.html)."""

from __future__ import annotations

import contextlib
import copy
import fcntl
import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator, Mapping

from lambdalab.plugin import AwsError

from . import template as templates
from .build import check_built
from .calls import ServiceCalls, ServiceCallError
from .exceptions import CloudFormationError, DeployFailed, TemplateError
from .intrinsics import Scope, creation_order, evaluate_conditions, references, resolve
from .models import Stack, StackResource, Stacks
from .apigateway import TYPES as API_GATEWAY_TYPES
from .codedeploy import TYPES as CODEDEPLOY_TYPES
from .resources import TYPES as SERVICE_TYPES
from .resources import Context, Made, Replace, fingerprint
from .traffic import IN_PROGRESS, Plan, Routing, TrafficShifts

if TYPE_CHECKING:
    from lambdalab import Lab

#: Every resource type lambdalab emulates.
TYPES = {**SERVICE_TYPES, **API_GATEWAY_TYPES, **CODEDEPLOY_TYPES}
#: The status of a stack a CREATE change set made, before it is executed.
REVIEW = "REVIEW_IN_PROGRESS"
#: The UpdatePolicy that hands an alias's move to CodeDeploy (SAM's DeploymentPreference).
ALIAS_UPDATE = "CodeDeployLambdaAliasUpdate"
#: The folder of the data dir holding one lock file per stack a deploy or delete holds.
LOCKS = "cloudformation-locks"


@dataclass
class DeployResult:
    stack: Stack
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    #: ``Logical.Property`` of each property accepted and not emulated (say so, not fail).
    not_applied: list[str] = field(default_factory=list)
    #: The CodeDeploy deployments this update started (DeploymentPreference).
    deployments: list[Any] = field(default_factory=list)


def parse_overrides(pairs: list[str] | tuple[str, ...]) -> dict[str, str]:
    """``Key=Value`` or ``ParameterKey=Key,ParameterValue=Value`` (as ``sam deploy`` takes them)."""
    values: dict[str, str] = {}
    for pair in pairs:
        if pair.startswith("ParameterKey="):
            key, _, value = pair.removeprefix("ParameterKey=").partition(",ParameterValue=")
        else:
            key, sep, value = pair.partition("=")
            if not sep:
                raise TemplateError(f"Parameter override {pair!r}: write it as Key=Value")
        values[key] = value
    return values


class Deployer:
    """Deploys and deletes the stacks of one lab."""

    def __init__(self, lab: "Lab", stacks: Stacks, shifts: TrafficShifts) -> None:
        self.lab = lab
        self.stacks = stacks
        self.shifts = shifts

    @contextlib.contextmanager
    def _held(self, stack_name: str) -> Iterator[None]:
        """One deploy or delete of a stack at a time, across threads and processes: an
        exclusive ``flock`` on the stack's file in the data dir (a lock belongs to an open
        file, so a second open in the same process is refused too; the kernel drops it
        when its process dies). Another is refused as CloudFormation refuses an update of
        a stack in an ``_IN_PROGRESS`` state."""
        folder = self.lab.store.data_dir / LOCKS
        folder.mkdir(exist_ok=True)
        with open(folder / f"{hashlib.sha256(stack_name.encode()).hexdigest()}.lock", "ab") as held:
            try:
                fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise CloudFormationError(f"Stack:{stack_name} is in {self._in_progress(stack_name)} state and "
                                          "can not be updated.") from None
            yield  # closing the file releases the lock

    def _in_progress(self, stack_name: str) -> str:
        """The state another deploy or delete has put the stack in (its latest stack event)."""
        for event in self.stacks.events(stack_name):
            if event.logical_id == stack_name and event.type == "AWS::CloudFormation::Stack":
                return event.status if event.status.endswith("_IN_PROGRESS") else "UPDATE_IN_PROGRESS"
        return "CREATE_IN_PROGRESS"

    # -- deploy ---------------------------------------------------------------------------

    def deploy(self, stack_name: str, template_path: Path, overrides: Mapping[str, str] | None = None) -> DeployResult:
        """Create or update ``stack_name`` from the template; one deploy of a stack at a time."""
        with self._held(stack_name):
            return self._deploy(stack_name, template_path, overrides)

    def _deploy(self, stack_name: str, template_path: Path, overrides: Mapping[str, str] | None) -> DeployResult:
        original = templates.load(template_path)
        self._clean_up_interrupted(stack_name)
        previous = self.stacks.get(stack_name)
        if previous is not None and previous.status.endswith("_IN_PROGRESS") and previous.status != REVIEW:
            raise CloudFormationError(f"Stack:{previous.stack_id} is in {previous.status} state and can not be "
                                      "updated." + _shifting(self.shifts, stack_name))
        stack_id = previous.stack_id if previous else self.stacks.new_stack_id(stack_name)
        if previous is not None and previous.status in ("ROLLBACK_COMPLETE", REVIEW):
            # a stack whose creation failed holds nothing (sam deploy replaces it); one in
            # review is a CREATE change set's, whose id it keeps
            stack_id = previous.stack_id if previous.status == REVIEW else self.stacks.new_stack_id(stack_name)
            previous = None
        stack = Stack(stack_name, stack_id, original, {}, {},
                      "CREATE_IN_PROGRESS" if previous is None else "UPDATE_IN_PROGRESS",
                      created_at=previous.created_at if previous else self.lab.clock.now())
        parameters = self._parameters(original, dict(overrides or {}), stack)
        cfn = self._plain(original, parameters, template_path.parent, self.lab.arns.region)
        conditions = evaluate_conditions(cfn.get("Conditions") or {}, parameters)
        resources = {k: v for k, v in cfn["Resources"].items()
                     if not v.get("Condition") or conditions.get(v["Condition"], False)}
        self._check_types(resources)
        _check_references(cfn, resources, parameters)
        check_built(resources, template_path.parent, parameters)
        order = creation_order(resources)
        stack.parameters = {k: v for k, v in parameters.items() if not k.startswith("AWS::")}
        ctx = Context(self.lab, ServiceCalls(self.lab), stack_name, template_path.parent)
        scope = Scope(parameters, conditions, cfn.get("Mappings") or {},
                      exports={k: v for k, (owner, v) in self.stacks.exports().items() if owner != stack_name})
        result = DeployResult(stack)
        undo: list[Callable[[], None]] = []
        self.stacks.record(stack, stack_name, stack.stack_id, "AWS::CloudFormation::Stack", stack.status)
        for position, logical_id in enumerate(order):
            try:
                self._apply(ctx, scope, stack, previous, logical_id, resources[logical_id], position, result, undo)
            except Exception as error:
                raise self._roll_back(stack, previous, logical_id, resources[logical_id]["Type"], error, undo)
        try:
            stack.outputs = self._outputs(cfn.get("Outputs") or {}, scope, conditions)
            self._check_exports(stack, previous)
        except CloudFormationError as error:
            raise self._roll_back(stack, previous, stack_name, "AWS::CloudFormation::Stack", error, undo)
        stack.imports = sorted(scope.imported)
        self._remove_gone(ctx, stack, previous, result)
        for replaced in ctx.superseded:
            self._delete_one(ctx, stack, replaced)
        shifting = [d for d in result.deployments if d.status == IN_PROGRESS]
        stack.status = "CREATE_COMPLETE" if previous is None else "UPDATE_IN_PROGRESS" if shifting else "UPDATE_COMPLETE"
        stack.updated_at = self.lab.clock.now()
        self.stacks.save(stack)
        self.stacks.clear_journal(stack_name)
        self.stacks.record(stack, stack_name, stack.stack_id, "AWS::CloudFormation::Stack", stack.status)
        return result

    def _clean_up_interrupted(self, stack_name: str) -> None:
        """Remove what a deploy of this stack made and never recorded: a process killed
        (or interrupted) mid-deploy left it, and CloudFormation would have rolled it back."""
        journaled = self.stacks.journaled(stack_name)
        if not journaled:
            return
        saved = self.stacks.get(stack_name)
        kept = {(r.logical_id, r.made.physical_id) for r in (saved.resources.values() if saved else [])}
        ctx = Context(self.lab, ServiceCalls(self.lab), stack_name, Path("."))
        for logical_id, kind, made in journaled:
            if (logical_id, made.physical_id) in kept or kind not in TYPES:
                continue
            try:
                TYPES[kind].delete(ctx, made)
            except Exception as error:  # gone already, or not removable: say so, go on
                if saved is not None:
                    self.stacks.record(saved, logical_id, made.physical_id, kind, "DELETE_FAILED", describe(error))
                continue
            if saved is not None:
                self.stacks.record(saved, logical_id, made.physical_id, kind, "DELETE_COMPLETE",
                                   "Made by a deploy that was interrupted before it was recorded")
        self.stacks.clear_journal(stack_name)

    def changes(self, stack_name: str, template_path: Path, overrides: Mapping[str, str] | None = None
                ) -> list[dict[str, Any]]:
        """What deploying the template would do to each resource, made nothing: a change
        set's ``Changes`` (``Add``, ``Modify``, ``Remove``). A resource counts as modified
        when its definition in the (transformed) template differs from the last deploy's."""
        original = templates.load(template_path)
        previous = self.stacks.get(stack_name)
        if previous is not None and previous.status in ("ROLLBACK_COMPLETE", REVIEW):
            previous = None
        probe = Stack(stack_name, previous.stack_id if previous else "", original, {}, {}, "")
        values = self._parameters(original, dict(overrides or {}), probe)
        new = self._plain(original, values, template_path.parent, self.lab.arns.region)["Resources"]
        moved = {k for k, v in values.items() if previous and not k.startswith("AWS::")
                 and previous.parameters.get(k) != v}
        old: dict[str, Any] = {}
        if previous is not None:
            try:
                given = {k: ",".join(v) if isinstance(v, list) else v for k, v in previous.parameters.items()}
                old = self._plain(previous.template, self._parameters(previous.template, given, probe),
                                  template_path.parent, self.lab.arns.region)["Resources"]
            except CloudFormationError:
                old = {}  # the last template no longer transforms here: every kept resource may change
        kept = previous.resources if previous else {}
        out = [_change("Add", k, v["Type"]) for k, v in new.items() if k not in kept]
        out += [_change("Modify", k, v["Type"]) for k, v in new.items()
                if k in kept and (old.get(k) != v or references(v) & moved)]
        return out + [_change("Remove", k, r.type) for k, r in kept.items() if k not in new]

    def _parameters(self, template: Mapping[str, Any], overrides: dict[str, str], stack: Stack) -> dict[str, Any]:
        declared = template.get("Parameters") or {}
        unknown = sorted(set(overrides) - set(declared))
        if unknown:
            raise TemplateError(f"Parameters: {unknown} do not exist in the template")
        values: dict[str, Any] = {}
        for name, spec in declared.items():
            if not isinstance(spec, dict):
                raise TemplateError(f"Template format error: Parameter {name} must be an object")
            if name not in overrides and "Default" not in spec:
                raise TemplateError(f"Parameters: [{name}] must have values")
            value = str(overrides.get(name, spec.get("Default")))
            allowed = spec.get("AllowedValues")
            if allowed and value not in [str(a) for a in allowed]:
                raise TemplateError(f"Parameter '{name}' must be one of AllowedValues")
            values[name] = value.split(",") if spec.get("Type", "").startswith(("List<", "CommaDelimitedList")) else value
        return {**values, "AWS::Region": self.lab.arns.region, "AWS::AccountId": self.lab.arns.account_id,
                "AWS::StackName": stack.name, "AWS::StackId": stack.stack_id, "AWS::Partition": "aws",
                "AWS::URLSuffix": "amazonaws.com", "AWS::NotificationARNs": []}

    @staticmethod
    def _plain(original: dict[str, Any], parameters: dict[str, Any], folder: Path, region: str) -> dict[str, Any]:
        if not templates.is_sam(original):
            return copy.deepcopy(original)
        given = {k: v for k, v in parameters.items() if not k.startswith("AWS::")}
        return templates.transform(original, given, folder, region)

    def _check_types(self, resources: Mapping[str, Any]) -> None:
        calls = ServiceCalls(self.lab)
        refused = []
        for logical_id, resource in resources.items():
            kind = resource.get("Type")
            handler = TYPES.get(kind) if isinstance(kind, str) else None
            if handler is None:
                refused.append(f"{logical_id} ({kind}: not emulated)")
            elif handler.service and not calls.has(handler.service):
                refused.append(f"{logical_id} ({kind}: no plugin serving {handler.service} is loaded)")
        if refused:
            raise TemplateError("lambdalab cannot deploy these resources, so nothing was created: "
                                + "; ".join(refused) + ". See docs/reference/deploy.rst for the types it emulates.")

    def _apply(self, ctx: Context, scope: Scope, stack: Stack, previous: Stack | None, logical_id: str,
               resource: dict[str, Any], position: int, result: DeployResult, undo: list[Callable[[], None]]) -> None:
        kind = resource["Type"]
        props = fingerprint(kind, resolve(resource.get("Properties") or {}, scope), ctx.folder)
        old = previous.resources.get(logical_id) if previous else None
        if old is not None and old.type != kind:
            old = None  # a new type is a new resource; the old one goes with the removed
        handler = TYPES[kind]
        if old is not None and old.properties == props:
            made = old.made
            result.unchanged.append(logical_id)
        elif old is not None:
            self.stacks.record(stack, logical_id, old.made.physical_id, kind, "UPDATE_IN_PROGRESS")
            ctx.shift = self._shift(stack, logical_id, resource, scope, old.properties, result)
            try:
                made = self._update(ctx, handler, old, props, undo, logical_id)
            finally:
                ctx.shift = None
            if made.physical_id != old.made.physical_id:  # replaced
                self.stacks.journal(stack.name, logical_id, kind, made)
            self.stacks.record(stack, logical_id, made.physical_id, kind, "UPDATE_COMPLETE")
            result.updated.append(logical_id)
        else:
            self.stacks.record(stack, logical_id, "", kind, "CREATE_IN_PROGRESS")
            made = handler.create(ctx, logical_id, props, None)
            self.stacks.journal(stack.name, logical_id, kind, made)
            undo.append(lambda: handler.delete(ctx, made))
            self.stacks.record(stack, logical_id, made.physical_id, kind, "CREATE_COMPLETE")
            result.created.append(logical_id)
        scope.refs[logical_id] = made.ref
        scope.attributes[logical_id] = made.attributes
        policy = "Retain" if resource.get("DeletionPolicy") == "Retain" else "Delete"
        stack.resources[logical_id] = StackResource(logical_id, kind, position, made, props, self.lab.clock.now(),
                                                    policy)
        result.not_applied += [f"{logical_id}.{name}" for name in sorted(set(props) - handler.properties)]

    @staticmethod
    def _update(ctx: Context, handler: Any, old: StackResource, props: dict[str, Any],
                undo: list[Callable[[], None]], logical_id: str) -> Made:
        if handler.update is not None:
            try:
                made: Made = handler.update(ctx, old.properties, props, old.made)
            except Replace:
                pass
            except Exception:  # it may have changed part (a function's code, not its configuration)
                undo.append(lambda: handler.update(ctx, props, old.properties, old.made))
                raise
            else:
                undo.append(lambda: handler.update(ctx, props, old.properties, made))
                return made
        if handler.replace_first:
            made = handler.create(ctx, logical_id, props, None)
            undo.append(lambda: handler.delete(ctx, made))
            ctx.superseded.append(old)
            return made
        handler.delete(ctx, old.made)
        undo.append(lambda: _restore(ctx, handler, old, logical_id))
        made = handler.create(ctx, logical_id, props, None)
        undo.append(lambda: handler.delete(ctx, made))
        return made

    def _shift(self, stack: Stack, logical_id: str, resource: dict[str, Any], scope: Scope,
               old_properties: dict[str, Any], result: DeployResult) -> Callable[[str, str, str, str], None] | None:
        """What moves an alias under CodeDeploy's UpdatePolicy: a deployment begun."""
        policy = (resource.get("UpdatePolicy") or {}).get(ALIAS_UPDATE)
        if resource["Type"] != "AWS::Lambda::Alias" or not isinstance(policy, dict):
            return None
        plan = self._plan(stack, resolve(policy, scope))

        def begin(function: str, alias: str, old_version: str, new_version: str) -> None:
            result.deployments.append(self.shifts.begin(stack.name, logical_id, function, alias, old_version,
                                                         new_version, plan, old_properties))

        return begin

    def _plan(self, stack: Stack, policy: dict[str, Any]) -> Plan:
        group_name = policy.get("DeploymentGroupName")
        group = next((r.properties for r in stack.resources.values()
                      if r.type == "AWS::CodeDeploy::DeploymentGroup" and r.made.physical_id == group_name), None)
        if group is None:
            raise TemplateError(f"CodeDeployLambdaAliasUpdate names deployment group {group_name!r}, "
                                "which this stack does not make")
        config_name = str(group.get("DeploymentConfigName") or "CodeDeployDefault.LambdaAllAtOnce")
        alarms = group.get("AlarmConfiguration") or {}
        return Plan(str(policy.get("ApplicationName", "")), str(group_name), config_name,
                    self._routing(stack, config_name),
                    [a["Name"] for a in alarms.get("Alarms") or []] if alarms.get("Enabled", True) else [],
                    policy.get("BeforeAllowTrafficHook"), policy.get("AfterAllowTrafficHook"))

    def _routing(self, stack: Stack, config_name: str) -> Routing:
        predefined = Routing.named(config_name)
        if predefined is not None:
            return predefined
        for found in [stack, *(self.stacks.get(name) for name in self.stacks.names() if name != stack.name)]:
            for r in (found.resources.values() if found else []):
                if r.type == "AWS::CodeDeploy::DeploymentConfig" and r.made.physical_id == config_name:
                    return Routing.of_config(r.properties.get("TrafficRoutingConfig") or {})
        raise TemplateError(f"DeploymentConfigDoesNotExistException: No deployment configuration found for name: "
                            f"{config_name}. Use a CodeDeployDefault.Lambda* name or an "
                            "AWS::CodeDeploy::DeploymentConfig deployed before it")

    def _roll_back(self, stack: Stack, previous: Stack | None, logical_id: str, kind: str,
                   error: Exception, undo: list[Callable[[], None]]) -> CloudFormationError:
        reason = describe(error)
        self.shifts.cancel(stack.name)  # the undo below puts each alias back
        failed = "CREATE_FAILED" if previous is None or logical_id not in previous.resources else "UPDATE_FAILED"
        self.stacks.record(stack, logical_id, "", kind, failed, reason)
        problems = []
        for step in reversed(undo):
            try:
                step()
            except Exception as e:  # keep undoing the rest; say what could not be
                problems.append(describe(e))
        status = "ROLLBACK_COMPLETE" if previous is None else "UPDATE_ROLLBACK_COMPLETE"
        if problems:
            status = status.replace("COMPLETE", "FAILED")
        if previous is None:
            stack.resources, stack.outputs = {}, {}
            stack.status, stack.reason, stack.updated_at = status, reason, self.lab.clock.now()
            self.stacks.save(stack)
        else:
            previous.status, previous.reason = status, reason
            self.stacks.save(previous)
        self.stacks.clear_journal(stack.name)
        self.stacks.record(stack, stack.name, stack.stack_id, "AWS::CloudFormation::Stack", status,
                           "; ".join(problems))
        failure = DeployFailed(logical_id, kind, reason)
        if problems:
            failure.message += f" Rolling back also failed: {'; '.join(problems)}"
        return failure

    def _remove_gone(self, ctx: Context, stack: Stack, previous: Stack | None, result: DeployResult) -> None:
        if previous is None:
            return
        gone = [r for r in previous.resources.values()
                if r.logical_id not in stack.resources or stack.resources[r.logical_id].type != r.type]
        for resource in sorted(gone, key=lambda r: -r.position):
            if self._delete_one(ctx, stack, resource):
                result.deleted.append(resource.logical_id)

    def _delete_one(self, ctx: Context, stack: Stack, resource: StackResource) -> bool:
        if resource.deletion_policy == "Retain":
            self.stacks.record(stack, resource.logical_id, resource.made.physical_id, resource.type, "DELETE_SKIPPED")
            return True
        self.stacks.record(stack, resource.logical_id, resource.made.physical_id, resource.type, "DELETE_IN_PROGRESS")
        try:
            TYPES[resource.type].delete(ctx, resource.made)
        except Exception as error:
            self.stacks.record(stack, resource.logical_id, resource.made.physical_id, resource.type,
                               "DELETE_FAILED", describe(error))
            return False
        self.stacks.record(stack, resource.logical_id, resource.made.physical_id, resource.type, "DELETE_COMPLETE")
        return True

    @staticmethod
    def _outputs(outputs: Mapping[str, Any], scope: Scope, conditions: Mapping[str, bool]) -> dict[str, Any]:
        shown = {}
        for name, output in outputs.items():
            if not isinstance(output, dict) or "Value" not in output:
                raise TemplateError(f"Template format error: Output {name} is malformed: every Outputs member must contain a Value object")
            if output.get("Condition") and not conditions.get(output["Condition"], False):
                continue
            shown[name] = {"OutputValue": resolve(output.get("Value"), scope),
                           "Description": output.get("Description", "")}
            export = output.get("Export")
            if export is not None:
                if not isinstance(export, dict) or "Name" not in export:
                    raise TemplateError(f"Template format error: Output {name}'s Export must be an object with a Name")
                shown[name]["ExportName"] = resolve(export["Name"], scope)
        return shown

    def _check_exports(self, stack: Stack, previous: Stack | None) -> None:
        """An export's name is the region's (one stack exports it), and an export another
        stack imports stays
        (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-cfn-stack-exports.html)."""
        others = {k: owner for k, (owner, _) in self.stacks.exports().items() if owner != stack.name}
        new = {o["ExportName"]: o["OutputValue"] for o in stack.outputs.values() if o.get("ExportName")}
        for export in new:
            if export in others:
                raise CloudFormationError(f"Export with name {export} is already exported by stack {others[export]}")
        old = {o["ExportName"]: o["OutputValue"] for o in (previous.outputs.values() if previous else [])
               if o.get("ExportName")}
        for export, value in old.items():
            users = self.stacks.importers(export, stack.name)
            if users and new.get(export, object()) != value:
                raise CloudFormationError(f"Cannot update export {export} as it is in use by {users[0]}")

    # -- delete ---------------------------------------------------------------------------

    def delete(self, stack_name: str) -> list[str]:
        """Remove the stack and every resource it made, last made first."""
        with self._held(stack_name):
            return self._delete(stack_name)

    def _delete(self, stack_name: str) -> list[str]:
        self._clean_up_interrupted(stack_name)
        stack = self.stacks.get(stack_name)
        if stack is None:
            raise TemplateError(f"Stack with id {stack_name} does not exist")
        for output in stack.outputs.values():
            users = self.stacks.importers(output.get("ExportName") or "", stack_name) if output.get("ExportName") else []
            if users:
                raise CloudFormationError(f"Export {output['ExportName']} cannot be deleted as it is in use by {users[0]}")
        ctx = Context(self.lab, ServiceCalls(self.lab), stack_name, Path("."))
        self.shifts.cancel(stack_name)
        self.stacks.record(stack, stack_name, stack.stack_id, "AWS::CloudFormation::Stack", "DELETE_IN_PROGRESS")
        deleted, kept = [], {}
        for resource in sorted(stack.resources.values(), key=lambda r: -r.position):
            if self._delete_one(ctx, stack, resource):
                deleted.append(resource.logical_id)
            else:
                kept[resource.logical_id] = resource
        if kept:
            stack.resources, stack.status = kept, "DELETE_FAILED"
            stack.reason = f"The following resource(s) failed to delete: [{', '.join(kept)}]."
            self.stacks.save(stack)
            raise CloudFormationError(stack.reason + " See `lambdalab deploy events` for why.")
        self.stacks.record(stack, stack_name, stack.stack_id, "AWS::CloudFormation::Stack", "DELETE_COMPLETE")
        self.stacks.remove(stack_name)
        return deleted


def _check_references(cfn: Mapping[str, Any], resources: Mapping[str, Any], parameters: Mapping[str, Any]) -> None:
    """Every name a ``Ref``, ``Fn::GetAtt`` or ``Fn::Sub`` uses exists, checked before
    anything is made (CloudFormation's template validation)."""
    known = set(resources) | set(parameters) | {"AWS::NoValue"}
    named = references([r.get("Properties") or {} for r in resources.values()]) | references(cfn.get("Outputs") or {})
    missing = sorted(n for n in named if n not in known and n not in (cfn.get("Resources") or {}))
    if missing:
        raise TemplateError(f"Template format error: Unresolved resource dependencies {missing} "
                            "in the Resources block of the template")


def _change(action: str, logical_id: str, kind: str) -> dict[str, Any]:
    change: dict[str, Any] = {"Action": action, "LogicalResourceId": logical_id, "ResourceType": kind}
    if action == "Modify":
        change["Replacement"] = "Conditional"
    return {"Type": "Resource", "ResourceChange": change}


def _shifting(shifts: TrafficShifts, stack: str) -> str:
    running = [d.deployment_id for d in shifts.of_stack(stack) if d.status == IN_PROGRESS]
    return f" CodeDeploy deployment {running[0]} is shifting traffic: advance the clock to let it end." if running else ""


def _restore(ctx: Context, handler: Any, old: StackResource, logical_id: str) -> None:
    old.made = handler.create(ctx, logical_id, old.properties, None)


def describe(error: Exception) -> str:
    """A failure as a learner reads it: the service's error code and message."""
    if isinstance(error, (AwsError, ServiceCallError)):
        code = error.code
        return f"{code}: {error.message}"
    return f"{type(error).__name__}: {error}"
