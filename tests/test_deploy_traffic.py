"""SAM's ``DeploymentPreference``: an update shifts an alias's traffic on the lab's clock
(canary, linear, all at once, a custom configuration), an alarm or a failed hook rolls it
back, and hooks report through CodeDeploy's ``PutLifecycleEventHookExecutionStatus`` on
the edge. Judged by boto3 (``lambda``, ``codedeploy``, ``cloudformation``) against a real edge."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest

from lambdalab import Lab
from lambdalab.clock import VirtualClock
from lambdalab.server import EdgeServer
from lambdalab_cloudformation import CloudFormationError, DeployFailed, cloudformation_of

from .edge_support import client_for, edge  # noqa: F401  (fixture)
from .test_deploy import physical

MINUTE = 60

TEMPLATE = """\
Transform: AWS::Serverless-2016-10-31
Globals:
  Function: {Runtime: python3.11, CodeUri: src}
Resources:
  WorkerErrors:
    Type: AWS::CloudWatch::Alarm
    Properties:
      Namespace: AWS/Lambda
      MetricName: Errors
      Dimensions: [{Name: FunctionName, Value: !Ref Worker}]
      Statistic: Sum
      Period: 60
      EvaluationPeriods: 1
      Threshold: 0
      ComparisonOperator: GreaterThanThreshold
      TreatMissingData: notBreaching
  PreTrafficCheck:
    Type: AWS::Serverless::Function
    Properties:
      Handler: hooks.check
      Environment: {Variables: {VERDICT: Succeeded}}
  Worker:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.handler
      AutoPublishAlias: live
      DeploymentPreference:
        Type: Canary10Percent5Minutes
        Alarms: [!Ref WorkerErrors]
        Hooks:
          PreTraffic: !Ref PreTrafficCheck
"""
HOOKS = """\
import os
import boto3

def check(event, context):
    boto3.client("codedeploy").put_lifecycle_event_hook_execution_status(
        deploymentId=event["DeploymentId"],
        lifecycleEventHookExecutionId=event["LifecycleEventHookExecutionId"],
        status=os.environ["VERDICT"])
"""


def handler(answer: str, fails: bool = False) -> str:
    body = "raise RuntimeError('broken')" if fails else f"return {answer!r}"
    return f"def handler(event, context):\n    {body}\n"


def project(folder: Path, template: str = TEMPLATE, code: str = handler("v1")) -> Path:
    (folder / "src").mkdir(parents=True, exist_ok=True)
    (folder / "src" / "app.py").write_text(code)
    (folder / "src" / "hooks.py").write_text(HOOKS)
    (folder / "template.yaml").write_text(textwrap.dedent(template))
    return folder / "template.yaml"


def alias(lab: Lab, edge: EdgeServer) -> dict[str, Any]:  # noqa: F811
    found: dict[str, Any] = client_for(edge.url).get_alias(FunctionName=physical(lab, "app", "Worker"), Name="live")
    return {"version": found["FunctionVersion"],
            "weights": (found.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {}}


def status(lab: Lab) -> str:
    stack = cloudformation_of(lab).stacks.get("app")
    assert stack is not None
    return stack.status


def test_a_canary_takes_ten_percent_for_five_minutes_then_all(
        lab: Lab, clock: VirtualClock, edge: EdgeServer, tmp_path: Path) -> None:  # noqa: F811
    deployer = cloudformation_of(lab).deployer
    template = project(tmp_path / "app")
    assert deployer.deploy("app", template).deployments == []  # a first deploy shifts nothing
    (tmp_path / "app" / "src" / "app.py").write_text(handler("v2"))
    [deployment] = deployer.deploy("app", template).deployments
    assert alias(lab, edge) == {"version": "1", "weights": {"2": 0.1}}
    assert status(lab) == "UPDATE_IN_PROGRESS"
    codedeploy = client_for(edge.url, "codedeploy")
    info = codedeploy.get_deployment(deploymentId=deployment.deployment_id)["deploymentInfo"]
    assert (info["status"], info["deploymentConfigName"]) == (
        "InProgress", "CodeDeployDefault.LambdaCanary10Percent5Minutes")

    clock.advance(5 * MINUTE - 1)
    assert alias(lab, edge)["weights"] == {"2": 0.1}
    clock.advance(MINUTE)
    assert alias(lab, edge) == {"version": "2", "weights": {}}
    assert status(lab) == "UPDATE_COMPLETE"
    assert codedeploy.get_deployment(deploymentId=deployment.deployment_id)["deploymentInfo"]["status"] == "Succeeded"


def test_an_alarm_during_the_canary_rolls_back_to_the_old_version(
        lab: Lab, clock: VirtualClock, edge: EdgeServer, tmp_path: Path) -> None:  # noqa: F811
    deployer = cloudformation_of(lab).deployer
    template = project(tmp_path / "app")
    deployer.deploy("app", template)
    (tmp_path / "app" / "src" / "app.py").write_text(handler("v2", fails=True))
    [deployment] = deployer.deploy("app", template).deployments
    lab.invoke(physical(lab, "app", "Worker"), {}, qualifier="2")  # the canary's traffic fails
    clock.advance(3 * MINUTE)
    assert alias(lab, edge) == {"version": "1", "weights": {}}
    info = client_for(edge.url, "codedeploy").get_deployment(deploymentId=deployment.deployment_id)["deploymentInfo"]
    assert info["status"] == "Failed" and info["errorInformation"]["code"] == "ALARM_ACTIVE"
    assert f"Activated alarms: <{physical(lab, 'app', 'WorkerErrors')}>" in info["errorInformation"]["message"]
    [stack] = client_for(edge.url, "cloudformation").describe_stacks(StackName="app")["Stacks"]
    assert stack["StackStatus"] == "UPDATE_ROLLBACK_COMPLETE"

    (tmp_path / "app" / "src" / "app.py").write_text(handler("v3"))
    clock.advance(5 * MINUTE)  # the alarm goes back to OK
    [again] = deployer.deploy("app", template).deployments
    clock.advance(6 * MINUTE)
    assert again.deployment_id != deployment.deployment_id
    assert alias(lab, edge) == {"version": "3", "weights": {}}


def test_linear_adds_ten_percent_each_minute(
        lab: Lab, clock: VirtualClock, edge: EdgeServer, tmp_path: Path) -> None:  # noqa: F811
    deployer = cloudformation_of(lab).deployer
    template = project(tmp_path / "app", TEMPLATE.replace("Canary10Percent5Minutes", "Linear10PercentEvery1Minute"))
    deployer.deploy("app", template)
    (tmp_path / "app" / "src" / "app.py").write_text(handler("v2"))
    deployer.deploy("app", template)
    seen = [alias(lab, edge)["weights"].get("2")]
    for _ in range(9):
        clock.advance(MINUTE)
        seen.append(alias(lab, edge)["weights"].get("2"))
    assert seen == [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, None]
    assert alias(lab, edge)["version"] == "2"


def test_a_custom_deployment_config_shifts_as_it_says(
        lab: Lab, clock: VirtualClock, edge: EdgeServer, tmp_path: Path) -> None:  # noqa: F811
    custom = TEMPLATE.replace("Type: Canary10Percent5Minutes", "Type: !Ref QuarterFor2").replace(
        "Resources:\n", "Resources:\n  QuarterFor2:\n    Type: AWS::CodeDeploy::DeploymentConfig\n"
        "    Properties:\n      ComputePlatform: Lambda\n      TrafficRoutingConfig:\n"
        "        Type: TimeBasedCanary\n        TimeBasedCanary: {CanaryPercentage: 25, CanaryInterval: 2}\n", 1)
    deployer = cloudformation_of(lab).deployer
    template = project(tmp_path / "app", custom)
    deployer.deploy("app", template)
    (tmp_path / "app" / "src" / "app.py").write_text(handler("v2"))
    deployer.deploy("app", template)
    assert alias(lab, edge)["weights"] == {"2": 0.25}
    clock.advance(2 * MINUTE)
    assert alias(lab, edge) == {"version": "2", "weights": {}}


def test_all_at_once_moves_at_once(lab: Lab, edge: EdgeServer, tmp_path: Path) -> None:  # noqa: F811
    deployer = cloudformation_of(lab).deployer
    template = project(tmp_path / "app", TEMPLATE.replace("Canary10Percent5Minutes", "AllAtOnce"))
    deployer.deploy("app", template)
    (tmp_path / "app" / "src" / "app.py").write_text(handler("v2"))
    [deployment] = deployer.deploy("app", template).deployments
    assert deployment.status == "Succeeded"
    assert alias(lab, edge) == {"version": "2", "weights": {}}
    assert status(lab) == "UPDATE_COMPLETE"


def test_a_failing_pre_traffic_hook_fails_the_update_and_keeps_the_old_version(
        lab: Lab, edge: EdgeServer, tmp_path: Path) -> None:  # noqa: F811
    deployer = cloudformation_of(lab).deployer
    template = project(tmp_path / "app")
    deployer.deploy("app", template)
    (tmp_path / "app" / "src" / "app.py").write_text(handler("v2"))
    template.write_text(template.read_text().replace("VERDICT: Succeeded", "VERDICT: Failed"))
    with pytest.raises(DeployFailed, match="BeforeAllowTraffic hook .* reported Failed"):
        deployer.deploy("app", template)
    assert alias(lab, edge) == {"version": "1", "weights": {}}
    assert status(lab) == "UPDATE_ROLLBACK_COMPLETE"


def test_a_hook_that_never_reports_fails_the_update(lab: Lab, edge: EdgeServer, tmp_path: Path) -> None:  # noqa: F811
    deployer = cloudformation_of(lab).deployer
    template = project(tmp_path / "app")
    deployer.deploy("app", template)
    (tmp_path / "app" / "src" / "app.py").write_text(handler("v2"))
    (tmp_path / "app" / "src" / "hooks.py").write_text("def check(event, context):\n    return 'all good'\n")
    with pytest.raises(DeployFailed, match="without calling PutLifecycleEventHookExecutionStatus"):
        deployer.deploy("app", template)
    assert alias(lab, edge) == {"version": "1", "weights": {}}


def test_a_failing_post_traffic_hook_rolls_back_after_the_shift(
        lab: Lab, clock: VirtualClock, edge: EdgeServer, tmp_path: Path) -> None:  # noqa: F811
    post = TEMPLATE.replace("PreTraffic: !Ref PreTrafficCheck", "PostTraffic: !Ref PreTrafficCheck").replace(
        "VERDICT: Succeeded", "VERDICT: Failed")
    deployer = cloudformation_of(lab).deployer
    template = project(tmp_path / "app", post)
    deployer.deploy("app", template)
    (tmp_path / "app" / "src" / "app.py").write_text(handler("v2"))
    deployer.deploy("app", template)
    clock.advance(5 * MINUTE)
    assert alias(lab, edge) == {"version": "1", "weights": {}}
    assert status(lab) == "UPDATE_ROLLBACK_COMPLETE"


def test_a_second_update_while_traffic_shifts_is_refused(
        lab: Lab, clock: VirtualClock, edge: EdgeServer, tmp_path: Path) -> None:  # noqa: F811
    deployer = cloudformation_of(lab).deployer
    template = project(tmp_path / "app")
    deployer.deploy("app", template)
    (tmp_path / "app" / "src" / "app.py").write_text(handler("v2"))
    deployer.deploy("app", template)
    with pytest.raises(CloudFormationError, match="is in UPDATE_IN_PROGRESS state and can not be updated"):
        deployer.deploy("app", template)
    clock.advance(5 * MINUTE)
    deployer.deploy("app", template)  # done: updates again


def test_a_deployment_in_progress_resumes_when_the_lab_reopens(
        lab: Lab, clock: VirtualClock, tmp_path: Path) -> None:
    deployer = cloudformation_of(lab).deployer
    template = project(tmp_path / "app", TEMPLATE.replace("        Hooks:\n          PreTraffic: !Ref PreTrafficCheck\n", ""))
    deployer.deploy("app", template)
    (tmp_path / "app" / "src" / "app.py").write_text(handler("v2"))
    deployer.deploy("app", template)
    worker = physical(lab, "app", "Worker")
    lab.close()
    with Lab(data_dir=tmp_path / "data", clock=clock) as reopened:
        clock.advance(5 * MINUTE)
        assert reopened.get_alias(worker, "live").function_version == "2"


def test_stop_deployment_rolls_back(lab: Lab, edge: EdgeServer, tmp_path: Path) -> None:  # noqa: F811
    deployer = cloudformation_of(lab).deployer
    template = project(tmp_path / "app")
    deployer.deploy("app", template)
    (tmp_path / "app" / "src" / "app.py").write_text(handler("v2"))
    [deployment] = deployer.deploy("app", template).deployments
    client_for(edge.url, "codedeploy").stop_deployment(deploymentId=deployment.deployment_id)
    assert alias(lab, edge) == {"version": "1", "weights": {}}
    info = client_for(edge.url, "codedeploy").get_deployment(deploymentId=deployment.deployment_id)["deploymentInfo"]
    assert info["errorInformation"]["code"] == "MANUAL_STOP"


def test_the_deploy_command_says_how_traffic_shifts(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from lambdalab.cli import app as cli

    template = project(tmp_path / "app", TEMPLATE.replace("        Hooks:\n          PreTraffic: !Ref PreTrafficCheck\n", ""))

    def run() -> Any:
        return CliRunner().invoke(cli.main, ["--data-dir", str(tmp_path / "data"), "deploy", "--template",
                                             str(template), "--stack-name", "app"])

    assert run().exit_code == 0
    (tmp_path / "app" / "src" / "app.py").write_text(handler("v2"))
    shifted = run()
    assert shifted.exit_code == 0, shifted.output
    said = " ".join(shifted.output.split())
    assert "Stack app: UPDATE_IN_PROGRESS" in said
    assert "(CodeDeployDefault.LambdaCanary10Percent5Minutes): InProgress; alias live sends 10% to version 2" in said
