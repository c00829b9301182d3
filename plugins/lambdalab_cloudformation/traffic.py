"""Safe deployments: SAM's ``DeploymentPreference``, as CodeDeploy runs it for a Lambda
alias (https://docs.aws.amazon.com/serverless-application-model/latest/developerguide/automating-updates-to-serverless-apps.html).

When a stack update moves an alias whose ``UpdatePolicy`` is
``CodeDeployLambdaAliasUpdate`` to a new version, a *deployment* starts instead:

1. the ``BeforeAllowTraffic`` hook (``PreTraffic``) is invoked with CodeDeploy's event
   (``DeploymentId``, ``LifecycleEventHookExecutionId``) and must report ``Succeeded``
   with ``PutLifecycleEventHookExecutionStatus`` (served on the edge, :mod:`.codedeploy`);
   a failed hook fails the stack update, which rolls back;
2. the alias's weights shift on the lab's clock as the deployment configuration says
   (``Canary10Percent5Minutes``: 10 % for five minutes, then all; ``Linear10PercentEvery1Minute``:
   10 % more each minute; ``AllAtOnce``; or a custom ``AWS::CodeDeploy::DeploymentConfig``)
   (https://docs.aws.amazon.com/codedeploy/latest/userguide/deployment-configurations.html#deployment-configuration-lambda);
3. every minute the deployment group's alarms are read: one in ``ALARM`` rolls back;
4. with all traffic on the new version the ``AfterAllowTraffic`` hook (``PostTraffic``)
   runs; its failure rolls back too.

A rollback puts the alias back on the old version alone and the stack in
``UPDATE_ROLLBACK_COMPLETE`` with the alias's previous properties, so deploying the same
template again tries again. Deployments are kept in the data dir and resumed when the lab
reopens.
"""

from __future__ import annotations

import json
import math
import re
import secrets
import string
import threading
import uuid
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from .exceptions import CloudFormationError

if TYPE_CHECKING:
    from lambdalab import Lab

    from .calls import ServiceCalls
    from .models import Stacks

IN_PROGRESS, SUCCEEDED, FAILED = "InProgress", "Succeeded", "Failed"
BEFORE, AFTER = "BeforeAllowTraffic", "AfterAllowTraffic"
#: CodeDeploy's predefined deployment configurations for Lambda.
PREDEFINED = ("CodeDeployDefault.LambdaAllAtOnce",
              "CodeDeployDefault.LambdaCanary10Percent5Minutes", "CodeDeployDefault.LambdaCanary10Percent10Minutes",
              "CodeDeployDefault.LambdaCanary10Percent15Minutes", "CodeDeployDefault.LambdaCanary10Percent30Minutes",
              "CodeDeployDefault.LambdaLinear10PercentEvery1Minute",
              "CodeDeployDefault.LambdaLinear10PercentEvery2Minutes",
              "CodeDeployDefault.LambdaLinear10PercentEvery3Minutes",
              "CodeDeployDefault.LambdaLinear10PercentEvery10Minutes")
_NAMED = re.compile(r"^CodeDeployDefault\.Lambda(?:AllAtOnce|Canary(?P<cp>\d+)Percent(?P<ci>\d+)Minutes"
                    r"|Linear(?P<lp>\d+)PercentEvery(?P<li>\d+)Minutes?)$")
#: How often a deployment reads its alarms (CodeDeploy watches them throughout).
CHECK_EVERY_S = 60.0


class DeploymentFailed(CloudFormationError):
    """A deployment's hook failed (or did not report): the stack update fails."""


@dataclass(frozen=True)
class Routing:
    """A deployment configuration's ``TrafficRoutingConfig``."""

    type: str  # AllAtOnce, TimeBasedCanary or TimeBasedLinear
    percentage: int = 100
    interval_minutes: int = 0

    def steps(self) -> list[tuple[float, float]]:
        """(seconds after the start, the new version's weight), the last one 1.0."""
        if self.type == "TimeBasedCanary":
            return [(0.0, self.percentage / 100), (self.interval_minutes * 60.0, 1.0)]
        if self.type == "TimeBasedLinear":
            count = math.ceil(100 / self.percentage)
            return [(k * self.interval_minutes * 60.0, min(100, (k + 1) * self.percentage) / 100)
                    for k in range(count)]
        return [(0.0, 1.0)]

    @classmethod
    def named(cls, name: str) -> "Routing | None":
        found = _NAMED.match(name) if name in PREDEFINED else None
        if found is None:
            return None
        if found["cp"]:
            return cls("TimeBasedCanary", int(found["cp"]), int(found["ci"]))
        if found["lp"]:
            return cls("TimeBasedLinear", int(found["lp"]), int(found["li"]))
        return cls("AllAtOnce")

    @classmethod
    def of_config(cls, config: dict[str, Any]) -> "Routing":
        """From ``AWS::CodeDeploy::DeploymentConfig``'s ``TrafficRoutingConfig``."""
        kind = config.get("Type", "AllAtOnce")
        if kind == "TimeBasedCanary":
            spec = config.get("TimeBasedCanary") or {}
            return cls(kind, int(spec["CanaryPercentage"]), int(spec["CanaryInterval"]))
        if kind == "TimeBasedLinear":
            spec = config.get("TimeBasedLinear") or {}
            return cls(kind, int(spec["LinearPercentage"]), int(spec["LinearInterval"]))
        if kind != "AllAtOnce":
            raise ValueError(f"TrafficRoutingConfig Type {kind!r}: use TimeBasedCanary, TimeBasedLinear or AllAtOnce")
        return cls(kind)

    def check(self) -> None:
        if not 1 <= self.percentage <= 100 or (self.type != "AllAtOnce" and self.interval_minutes < 1):
            raise ValueError("A traffic routing percentage is 1 to 100 and its interval 1 minute or more")


@dataclass
class Plan:
    """What an alias's ``CodeDeployLambdaAliasUpdate`` and its deployment group say."""

    application: str
    group: str
    config_name: str
    routing: Routing
    alarms: list[str] = field(default_factory=list)
    before_hook: str | None = None
    after_hook: str | None = None


@dataclass
class Deployment:
    """One CodeDeploy deployment of an alias: ``GetDeployment``'s ``deploymentInfo``."""

    deployment_id: str
    stack: str
    logical_id: str
    function: str
    alias: str
    old_version: str
    new_version: str
    plan: Plan
    #: The alias's properties before this update: a rollback records them again.
    old_properties: dict[str, Any]
    created_at: float
    status: str = IN_PROGRESS
    step: int = 0
    error_code: str = ""
    error_message: str = ""
    completed_at: float | None = None

    def to_aws(self) -> dict[str, Any]:
        info: dict[str, Any] = {
            "applicationName": self.plan.application, "deploymentGroupName": self.plan.group,
            "deploymentConfigName": self.plan.config_name, "deploymentId": self.deployment_id,
            "status": self.status, "createTime": self.created_at, "startTime": self.created_at,
            "computePlatform": "Lambda", "creator": "user",
            "deploymentStyle": {"deploymentType": "BLUE_GREEN", "deploymentOption": "WITH_TRAFFIC_CONTROL"},
        }
        if self.completed_at is not None:
            info["completeTime"] = self.completed_at
        if self.error_code:
            info["errorInformation"] = {"code": self.error_code, "message": self.error_message}
        return info


def _deployment_id() -> str:
    return "d-" + "".join(secrets.choice(string.ascii_uppercase + string.digits) for _ in range(9))


class TrafficShifts:
    """The deployments of one lab: started by a stack update, moved on by its clock."""

    def __init__(self, lab: "Lab", stacks: "Stacks") -> None:
        self.lab = lab
        self.stacks = stacks
        self._calls: "ServiceCalls | None" = None
        self._lock = threading.RLock()
        self._timers: dict[str, Any] = {}
        #: A running hook's execution id → [deployment id, reported status or None].
        self._hooks: dict[str, list[str | None]] = {}

    # -- storage --------------------------------------------------------------------------

    def _save(self, deployment: Deployment) -> None:
        with self.lab.store.transaction() as db:
            db.execute("INSERT OR REPLACE INTO cfn_deployments (id, stack, status, data) VALUES (?, ?, ?, ?)",
                       (deployment.deployment_id, deployment.stack, deployment.status,
                        json.dumps(asdict(deployment))))

    def get(self, deployment_id: str) -> Deployment | None:
        rows = self.lab.store.query("SELECT data FROM cfn_deployments WHERE id = ?", (deployment_id,))
        return _loaded(json.loads(rows[0]["data"])) if rows else None

    def of_stack(self, stack: str) -> list[Deployment]:
        rows = self.lab.store.query("SELECT data FROM cfn_deployments WHERE stack = ? ORDER BY rowid", (stack,))
        return [_loaded(json.loads(r["data"])) for r in rows]

    def resume(self) -> None:
        """Re-arm the deployments a reopened data dir left in progress."""
        for row in self.lab.store.query("SELECT data FROM cfn_deployments WHERE status = ?", (IN_PROGRESS,)):
            self._arm(_loaded(json.loads(row["data"])))

    def close(self) -> None:
        with self._lock:
            for timer in self._timers.values():
                timer.cancel()
            self._timers.clear()

    # -- a deployment ---------------------------------------------------------------------

    def begin(self, stack: str, logical_id: str, function: str, alias: str, old_version: str, new_version: str,
              plan: Plan, old_properties: dict[str, Any]) -> Deployment:
        """Start shifting ``alias`` from ``old_version`` to ``new_version``: the
        ``BeforeAllowTraffic`` hook first (its failure raises :class:`DeploymentFailed`)."""
        deployment = Deployment(_deployment_id(), stack, logical_id, function, alias, old_version, new_version,
                                plan, old_properties, self.lab.clock.now())
        self._save(deployment)
        failure = self._hook(deployment, plan.before_hook, BEFORE)
        if failure:
            self._end(deployment, FAILED, "HOOK_EXECUTION_FAILURE", failure)
            raise DeploymentFailed(f"CodeDeploy deployment {deployment.deployment_id} failed: {failure}")
        self._advance(deployment)
        if deployment.status == FAILED:  # all at once, and its AfterAllowTraffic hook failed
            raise DeploymentFailed(f"CodeDeploy deployment {deployment.deployment_id} failed: "
                                   f"{deployment.error_message}")
        return deployment

    def stop(self, deployment: Deployment) -> bool:
        """``StopDeployment``: roll an in-progress deployment back; ``False`` if it had ended."""
        if deployment.status != IN_PROGRESS:
            return False
        with self._lock:
            timer = self._timers.pop(deployment.deployment_id, None)
        if timer is not None:
            timer.cancel()
        self._roll_back(deployment, "MANUAL_STOP", "The deployment was stopped by StopDeployment")
        return True

    def cancel(self, stack: str) -> None:
        """Stop the stack's deployments where they are (the stack is being deleted)."""
        with self._lock:
            for deployment in self.of_stack(stack):
                if deployment.status == IN_PROGRESS:
                    timer = self._timers.pop(deployment.deployment_id, None)
                    if timer is not None:
                        timer.cancel()
                    self._end(deployment, "Stopped", "MANUAL_STOP", "The stack was deleted")

    def _arm(self, deployment: Deployment) -> None:
        with self._lock:
            elapsed = self.lab.clock.now() - deployment.created_at
            due = deployment.created_at + (math.floor(elapsed / CHECK_EVERY_S) + 1) * CHECK_EVERY_S
            self._timers[deployment.deployment_id] = self.lab.clock.call_at(
                due, lambda: self._tick(deployment.deployment_id))

    def _tick(self, deployment_id: str) -> None:
        # Not under the lock: a hook this runs reports back through report(), on the edge.
        with self._lock:
            self._timers.pop(deployment_id, None)
        deployment = self.get(deployment_id)
        if deployment is None or deployment.status != IN_PROGRESS:
            return
        firing = self._firing_alarms(deployment)
        if firing:
            self._roll_back(deployment, "ALARM_ACTIVE",
                            "One or more alarms have been activated according to the Amazon CloudWatch "
                            "metrics you selected, and the affected deployments have been stopped. "
                            f"Activated alarms: <{', '.join(firing)}>")
            return
        self._advance(deployment)

    def _advance(self, deployment: Deployment) -> None:
        """Apply every step now due; the last one moves all traffic and ends the deployment."""
        steps = deployment.plan.routing.steps()
        elapsed = self.lab.clock.now() - deployment.created_at
        weight = None
        while deployment.step < len(steps) and steps[deployment.step][0] <= elapsed:
            weight = steps[deployment.step][1]
            deployment.step += 1
        if weight is not None and weight >= 1.0:
            self._finish(deployment)
            return
        if weight is not None:
            self.lab.update_alias(deployment.function, deployment.alias, function_version=deployment.old_version,
                                  routing_config={"AdditionalVersionWeights": {deployment.new_version: weight}})
        self._save(deployment)
        self._arm(deployment)

    def _finish(self, deployment: Deployment) -> None:
        self.lab.update_alias(deployment.function, deployment.alias, function_version=deployment.new_version,
                              routing_config={})
        failure = self._hook(deployment, deployment.plan.after_hook, AFTER)
        if failure:
            self._roll_back(deployment, "HOOK_EXECUTION_FAILURE", failure)
            return
        self._end(deployment, SUCCEEDED)
        self._stack_done(deployment, "UPDATE_COMPLETE", "")

    def _roll_back(self, deployment: Deployment, code: str, message: str) -> None:
        self.lab.update_alias(deployment.function, deployment.alias, function_version=deployment.old_version,
                              routing_config={})
        self._end(deployment, FAILED, code, message)
        self._stack_done(deployment, "UPDATE_ROLLBACK_COMPLETE", f"CodeDeploy deployment "
                         f"{deployment.deployment_id} failed and was rolled back: {message}")

    def _end(self, deployment: Deployment, status: str, code: str = "", message: str = "") -> None:
        deployment.status, deployment.error_code, deployment.error_message = status, code, message
        deployment.completed_at = self.lab.clock.now()
        self._save(deployment)

    def _stack_done(self, deployment: Deployment, status: str, reason: str) -> None:
        """The stack update the deployment belonged to ends (rolled back: the alias keeps
        its previous properties, so the same template deploys it again)."""
        stack = self.stacks.get(deployment.stack)
        if stack is None or stack.status != "UPDATE_IN_PROGRESS":
            return  # still being written by the deploy that started it: it reads the outcome
        resource = stack.resources.get(deployment.logical_id)
        if status != "UPDATE_COMPLETE" and resource is not None:
            resource.properties = deployment.old_properties
            self.stacks.record(stack, deployment.logical_id, resource.made.physical_id, resource.type,
                               "UPDATE_FAILED", reason)
        stack.status, stack.reason, stack.updated_at = status, reason, self.lab.clock.now()
        self.stacks.save(stack)
        self.stacks.record(stack, stack.name, stack.stack_id, "AWS::CloudFormation::Stack", status, reason)

    # -- alarms and hooks -------------------------------------------------------------------

    def _firing_alarms(self, deployment: Deployment) -> list[str]:
        if not deployment.plan.alarms:
            return []
        if self._calls is None:  # made when first needed: it asks every plugin for its services
            from .calls import ServiceCalls

            self._calls = ServiceCalls(self.lab)
        found = self._calls.call("monitoring", "DescribeAlarms", AlarmNames=deployment.plan.alarms)
        return [a["AlarmName"] for a in found.get("MetricAlarms", []) if a.get("StateValue") == "ALARM"]

    def _hook(self, deployment: Deployment, hook: str | None, event: str) -> str:
        """Run a lifecycle hook: ``""`` if it reported ``Succeeded``, else why not."""
        if not hook:
            return ""
        execution_id = str(uuid.uuid4())
        with self._lock:
            self._hooks[execution_id] = [deployment.deployment_id, None]
        try:
            result = self.lab.invoke(hook, {"DeploymentId": deployment.deployment_id,
                                            "LifecycleEventHookExecutionId": execution_id})
        finally:
            with self._lock:
                reported = self._hooks.pop(execution_id)[1]
        if result.function_error:
            return f"The {event} hook {hook} failed: {result.payload.decode(errors='replace')[:500]}"
        if reported is None:
            return (f"The {event} hook {hook} returned without calling PutLifecycleEventHookExecutionStatus "
                    "with this deployment's LifecycleEventHookExecutionId")
        if reported != SUCCEEDED:
            return f"The {event} hook {hook} reported {reported}"
        return ""

    def report(self, deployment_id: str, execution_id: str, status: str) -> None:
        """``PutLifecycleEventHookExecutionStatus``: a hook says how its checks went."""
        from .codedeploy import (DeploymentDoesNotExistException, InvalidLifecycleEventHookExecutionIdException,
                                 InvalidLifecycleEventHookExecutionStatusException,
                                 LifecycleEventAlreadyCompletedException)

        if status not in (SUCCEEDED, FAILED):
            raise InvalidLifecycleEventHookExecutionStatusException(
                f"The status {status!r} is not valid: report Succeeded or Failed")
        if self.get(deployment_id) is None:
            raise DeploymentDoesNotExistException(f"The deployment {deployment_id} could not be found")
        with self._lock:
            running = self._hooks.get(execution_id)
            if running is None or running[0] != deployment_id:
                raise InvalidLifecycleEventHookExecutionIdException(
                    f"The lifecycle event hook execution id {execution_id} is not one of deployment {deployment_id}'s")
            if running[1] is not None:
                raise LifecycleEventAlreadyCompletedException(
                    f"The lifecycle event hook execution {execution_id} already reported {running[1]}")
            running[1] = status


def _loaded(data: dict[str, Any]) -> Deployment:
    plan = data.pop("plan")
    plan["routing"] = Routing(**plan["routing"])
    return Deployment(plan=Plan(**plan), **data)
