"""``lambdalab deploy`` across stacks and of layers: ``AWS::Serverless::LayerVersion``
(and ``AWS::Lambda::LayerVersion``) a function imports from, ``Outputs`` ``Export`` read
by another stack's ``Fn::ImportValue`` with CloudFormation's refusals, and one deploy of
a stack at a time. Judged by boto3 against the edge."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from lambdalab import Lab
from lambdalab.clock import VirtualClock
from lambdalab.server import EdgeServer
from lambdalab_cloudformation import CloudFormationError, DeployFailed, cloudformation_of

from .edge_support import client_for, edge  # noqa: F401  (fixture)
from .test_deploy import physical

LAYERED = """\
Transform: AWS::Serverless-2016-10-31
Resources:
  Shared:
    Type: AWS::Serverless::LayerVersion
    Properties:
      LayerName: shared-greetings
      ContentUri: shared/
      CompatibleRuntimes: [python3.11]
  Greeter:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src
      Handler: app.handler
      Runtime: python3.11
      Layers: [!Ref Shared]
Outputs:
  LayerArn:
    Value: !Ref Shared
"""


def write(folder: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return folder / "template.yaml"


def layered(folder: Path, greeting: str) -> Path:
    return write(folder, {
        "template.yaml": LAYERED,
        "shared/python/greetings.py": f"GREETING = {greeting!r}\n",
        "src/app.py": "from greetings import GREETING\n\ndef handler(event, context):\n    return GREETING\n",
    })


def test_a_sam_layer_is_published_and_its_function_imports_from_it(
        lab: Lab, edge: EdgeServer, tmp_path: Path) -> None:  # noqa: F811
    deployer = cloudformation_of(lab).deployer
    template = layered(tmp_path / "app", "hello")
    stack = deployer.deploy("app", template).stack
    lam = client_for(edge.url)
    arn = stack.outputs["LayerArn"]["OutputValue"]
    assert arn == "arn:aws:lambda:us-east-1:000000000000:layer:shared-greetings:1"
    function = physical(lab, "app", "Greeter")
    assert [layer["Arn"] for layer in lam.get_function(FunctionName=function)["Configuration"]["Layers"]] == [arn]
    assert json.loads(lam.invoke(FunctionName=function)["Payload"].read()) == "hello"

    layered(tmp_path / "app", "bonjour")  # new layer content: a new version, the old one kept (Retain)
    stack = deployer.deploy("app", template).stack
    assert stack.outputs["LayerArn"]["OutputValue"].endswith(":shared-greetings:2")
    assert json.loads(lam.invoke(FunctionName=function)["Payload"].read()) == "bonjour"
    versions = lam.list_layer_versions(LayerName="shared-greetings")["LayerVersions"]
    assert [v["Version"] for v in versions] == [2, 1]


EXPORTER = """\
Resources:
  Jobs:
    Type: AWS::SQS::Queue
Outputs:
  JobsUrl:
    Value: !Ref Jobs
    Export:
      Name: !Sub "${AWS::StackName}-jobs-url"
"""
IMPORTER = """\
Resources:
  Worker:
    Type: AWS::Lambda::Function
    Properties:
      Runtime: python3.11
      Handler: index.handler
      Role: arn:aws:iam::000000000000:role/lambda-role
      Environment: {Variables: {JOBS: !ImportValue network-jobs-url}}
      Code:
        ZipFile: |
          import os
          def handler(event, context):
              return os.environ["JOBS"]
"""


def test_an_export_is_imported_by_another_stack_and_kept_while_in_use(
        lab: Lab, edge: EdgeServer, tmp_path: Path) -> None:  # noqa: F811
    deployer = cloudformation_of(lab).deployer
    exporter = write(tmp_path / "network", {"template.yaml": EXPORTER})
    importer = write(tmp_path / "worker", {"template.yaml": IMPORTER})
    with pytest.raises(DeployFailed, match="No export named network-jobs-url found"):
        deployer.deploy("worker", importer)
    queue_url = deployer.deploy("network", exporter).stack.outputs["JobsUrl"]["OutputValue"]
    deployer.deploy("worker", importer)
    answer = client_for(edge.url).invoke(FunctionName=physical(lab, "worker", "Worker"))
    assert json.loads(answer["Payload"].read()) == queue_url

    with pytest.raises(CloudFormationError, match="Export network-jobs-url cannot be deleted as it is in use by worker"):
        deployer.delete("network")
    with pytest.raises(DeployFailed, match="Cannot update export network-jobs-url as it is in use by worker"):
        deployer.deploy("network", write(tmp_path / "network", {"template.yaml": EXPORTER.replace(
            "    Export:\n      Name: !Sub \"${AWS::StackName}-jobs-url\"\n", "")}))
    assert deployer.deploy("network", write(tmp_path / "network", {"template.yaml": EXPORTER})).created == []
    with pytest.raises(DeployFailed, match="Export with name network-jobs-url is already exported by stack network"):
        deployer.deploy("copycat", write(tmp_path / "copycat", {"template.yaml": EXPORTER.replace(
            "${AWS::StackName}-jobs-url", "network-jobs-url")}))
    assert cloudformation_of(lab).stacks.get("copycat").status == "ROLLBACK_COMPLETE"  # type: ignore[union-attr]

    deployer.delete("worker")
    deployer.delete("network")  # no longer in use
    deployer.delete("copycat")
    assert client_for(edge.url, "cloudformation").list_stacks()["StackSummaries"] == []


def test_two_deploys_of_one_stack_at_once_the_second_is_refused(lab: Lab, tmp_path: Path) -> None:
    """The first deploy is held where it publishes its layer (the lab's own
    publish_layer_version, reached through a wrapper that waits for the test's go); the
    second is tried meanwhile, from the test's thread."""
    deployer = cloudformation_of(lab).deployer
    template = layered(tmp_path / "app", "hello")
    entered, release = threading.Event(), threading.Event()
    original = lab.publish_layer_version

    def held(*args: Any, **kwargs: Any) -> Any:
        entered.set()
        release.wait(60)
        return original(*args, **kwargs)

    lab.publish_layer_version = held  # type: ignore[method-assign]
    first = threading.Thread(target=deployer.deploy, args=("app", template))
    first.start()
    try:
        assert entered.wait(60)
        with pytest.raises(CloudFormationError, match="is in CREATE_IN_PROGRESS state and can not be updated"):
            deployer.deploy("app", template)
        other = deployer.deploy("other", write(tmp_path / "other", {"template.yaml": EXPORTER}))
        assert other.stack.status == "CREATE_COMPLETE"  # another stack is not held up
    finally:
        release.set()
        first.join(60)
    assert cloudformation_of(lab).stacks.get("app").status == "CREATE_COMPLETE"  # type: ignore[union-attr]


def test_a_template_error_in_an_export_name_makes_nothing(lab: Lab, tmp_path: Path) -> None:
    bad = EXPORTER.replace('    Export:\n      Name: !Sub "${AWS::StackName}-jobs-url"\n', "    Export: nope\n")
    with pytest.raises(CloudFormationError, match="Export must be an object with a Name"):
        cloudformation_of(lab).deployer.deploy("network", write(tmp_path / "network", {"template.yaml": bad}))
    assert cloudformation_of(lab).stacks.get("network").resources == {}  # type: ignore[union-attr]


SCHEDULED = """\
Transform: AWS::Serverless-2016-10-31
Resources:
  Reports:
    Type: AWS::Scheduler::ScheduleGroup
  Reporter:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src
      Handler: app.handler
      Runtime: python3.11
      Events:
        Hourly:
          Type: ScheduleV2
          Properties:
            ScheduleExpression: rate(1 hour)
            GroupName: !Ref Reports
            Input: '{"job": "report"}'
"""


def test_a_schedule_v2_event_fires_on_the_lab_clock_and_goes_with_the_stack(
        lab: Lab, clock: VirtualClock, edge: EdgeServer, tmp_path: Path) -> None:  # noqa: F811
    deployer = cloudformation_of(lab).deployer
    template = write(tmp_path / "app", {
        "template.yaml": SCHEDULED,
        "src/app.py": "def handler(event, context):\n    print('JOB', event['job'])\n"})
    deployer.deploy("app", template)
    scheduler = client_for(edge.url, "scheduler")
    group = physical(lab, "app", "Reports")
    schedule = scheduler.get_schedule(Name="ReporterHourly", GroupName=group)
    assert schedule["ScheduleExpression"] == "rate(1 hour)"
    assert schedule["Target"]["Arn"].endswith(f":function:{physical(lab, 'app', 'Reporter')}")
    clock.advance(2 * 3600)
    assert lab.wait_for_events(timeout=120)
    jobs = [e.message for e in lab.get_logs(physical(lab, "app", "Reporter")) if "JOB report" in e.message]
    assert len(jobs) == 2
    deployer.delete("app")
    assert [g["Name"] for g in scheduler.list_schedule_groups()["ScheduleGroups"]] == ["default"]
    assert scheduler.list_schedules()["Schedules"] == []


INLINE = """\
Parameters:
  Greeting: {Type: String, Default: hello}
Resources:
  Jobs:
    Type: AWS::SQS::Queue
  Greeter:
    Type: AWS::Lambda::Function
    Properties:
      Runtime: python3.11
      Handler: index.handler
      Role: arn:aws:iam::000000000000:role/lambda-role
      Environment: {Variables: {GREETING: !Ref Greeting}}
      Code:
        ZipFile: |
          import os
          def handler(event, context):
              return os.environ["GREETING"]
Outputs:
  JobsUrl:
    Value: !Ref Jobs
"""


def aws(edge_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "not-checked",
           "AWS_DEFAULT_REGION": "us-east-1", "AWS_MAX_ATTEMPTS": "1", "AWS_CONFIG_FILE": os.devnull,
           "AWS_SHARED_CREDENTIALS_FILE": os.devnull}
    return subprocess.run([str(Path(sys.executable).parent / "aws"), "--endpoint-url", edge_url, *args],
                          capture_output=True, text=True, env=env, timeout=300)


def test_aws_cloudformation_deploy_creates_updates_and_finds_nothing_to_change(
        lab: Lab, edge: EdgeServer, tmp_path: Path) -> None:  # noqa: F811
    template = tmp_path / "template.yaml"
    template.write_text(INLINE)
    deploy = ("cloudformation", "deploy", "--template-file", str(template), "--stack-name", "cli-app")
    created = aws(edge.url, *deploy)
    assert created.returncode == 0, created.stderr
    assert "Successfully created/updated stack - cli-app" in created.stdout
    lam = client_for(edge.url)
    greeter = physical(lab, "cli-app", "Greeter")
    assert json.loads(lam.invoke(FunctionName=greeter)["Payload"].read()) == "hello"

    updated = aws(edge.url, *deploy, "--parameter-overrides", "Greeting=bonjour")
    assert updated.returncode == 0, updated.stderr
    assert json.loads(lam.invoke(FunctionName=greeter)["Payload"].read()) == "bonjour"
    [stack] = client_for(edge.url, "cloudformation").describe_stacks(StackName="cli-app")["Stacks"]
    assert stack["StackStatus"] == "UPDATE_COMPLETE"

    same = aws(edge.url, *deploy, "--parameter-overrides", "Greeting=bonjour")
    assert same.returncode == 255 and "No changes to deploy" in same.stdout + same.stderr


def test_change_sets_list_what_an_update_adds_modifies_and_removes(
        lab: Lab, edge: EdgeServer, tmp_path: Path) -> None:  # noqa: F811
    cfn = client_for(edge.url, "cloudformation")
    stack_id = cfn.create_stack(StackName="app", TemplateBody=INLINE)["StackId"]
    with pytest.raises(ClientError, match="AlreadyExistsException"):
        cfn.create_stack(StackName="app", TemplateBody=INLINE)
    changed = INLINE.replace("  Jobs:\n    Type: AWS::SQS::Queue\n", "  Later:\n    Type: AWS::SQS::Queue\n").replace(
        "Value: !Ref Jobs", "Value: !Ref Later").replace("Default: hello", "Default: hi")
    made = cfn.create_change_set(StackName="app", ChangeSetName="next", TemplateBody=changed)
    assert made["StackId"] == stack_id
    described = cfn.describe_change_set(StackName="app", ChangeSetName="next")
    assert described["Status"] == "CREATE_COMPLETE" and described["ExecutionStatus"] == "AVAILABLE"
    assert sorted((c["ResourceChange"]["Action"], c["ResourceChange"]["LogicalResourceId"])
                  for c in described["Changes"]) == [("Add", "Later"), ("Modify", "Greeter"), ("Remove", "Jobs")]
    assert lab.list_functions()  # nothing changed yet
    cfn.execute_change_set(ChangeSetName=made["Id"])
    resources = {r["LogicalResourceId"] for r in cfn.describe_stack_resources(StackName="app")["StackResources"]}
    assert resources == {"Later", "Greeter"}
    with pytest.raises(ClientError, match="ChangeSetNotFound"):
        cfn.describe_change_set(StackName="app", ChangeSetName="nope")
    with pytest.raises(ClientError, match="No updates are to be performed"):
        cfn.update_stack(StackName="app", TemplateBody=changed)


QUEUE_THEN_FUNCTION = """\
Resources:
  Jobs:
    Type: AWS::SQS::Queue
  Worker:
    Type: AWS::Lambda::Function
    Properties:
      Runtime: python3.11
      Handler: index.handler
      Role: arn:aws:iam::000000000000:role/lambda-role
      Environment: {Variables: {JOBS: !Ref Jobs}}
      Code: {ZipFile: "def handler(event, context):\\n    return 1\\n"}
"""


def test_what_an_interrupted_deploy_made_is_removed_by_the_next_one(
        lab: Lab, edge: EdgeServer, tmp_path: Path) -> None:  # noqa: F811
    """A deploy interrupted between two resources (Ctrl-C while the function is made,
    raised from a wrapper of the lab's own create_function) records nothing of the stack
    and cannot roll back; the queue it had made is removed by the next deploy."""
    deployer = cloudformation_of(lab).deployer
    template = write(tmp_path / "app", {"template.yaml": QUEUE_THEN_FUNCTION})
    original = lab.create_function

    def interrupted(*args: Any, **kwargs: Any) -> Any:
        raise KeyboardInterrupt

    lab.create_function = interrupted  # type: ignore[method-assign]
    with pytest.raises(KeyboardInterrupt):
        deployer.deploy("app", template)
    lab.create_function = original  # type: ignore[method-assign]
    sqs = client_for(edge.url, "sqs")
    [orphan] = sqs.list_queues()["QueueUrls"]
    assert cloudformation_of(lab).stacks.get("app") is None

    deployer.deploy("app", template)
    [queue] = sqs.list_queues()["QueueUrls"]
    assert queue != orphan and queue == cloudformation_of(lab).stacks.get("app").resources["Jobs"].made.ref  # type: ignore[union-attr]


# -- one deploy of a stack at a time across processes (a lock file in the data dir) ----------

HOLDER = """\
import sys
from pathlib import Path
from lambdalab import Lab
from lambdalab_cloudformation import cloudformation_of

data, template, gate = sys.argv[1:]
with Lab(data_dir=data) as lab:
    original = lab.publish_layer_version

    def held(*args, **kwargs):
        print("HELD", flush=True)
        with open(gate) as waiting:  # a FIFO: blocks until the test opens it to write
            waiting.read()
        return original(*args, **kwargs)

    lab.publish_layer_version = held
    print(cloudformation_of(lab).deployer.deploy("app", Path(template)).stack.status, flush=True)
"""


def held_deploy(tmp_path: Path) -> tuple[subprocess.Popen[str], Path, Path]:
    """A ``deploy`` of stack ``app`` in another process, held where it publishes its layer
    until the returned FIFO is written."""
    template, gate = layered(tmp_path / "app", "hello"), tmp_path / "gate"
    os.mkfifo(gate)
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(tmp_path / "data"), str(template), str(gate)],
                              stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None and holder.stdout.readline().strip() == "HELD"
    return holder, template, gate


def lambdalab_deploy(tmp_path: Path, template: Path) -> subprocess.CompletedProcess[str]:
    command = [str(Path(sys.executable).parent / "lambdalab"), "--data-dir", str(tmp_path / "data"), "deploy",
               "--template", str(template), "--stack-name", "app"]
    return subprocess.run(command, capture_output=True, text=True, timeout=300)


def test_a_second_process_deploying_a_stack_in_progress_is_refused_until_the_first_ends(tmp_path: Path) -> None:
    holder, template, gate = held_deploy(tmp_path)
    try:
        second = lambdalab_deploy(tmp_path, template)
        assert second.returncode == 2, second.stdout + second.stderr
        assert "Stack:app is in CREATE_IN_PROGRESS state and can not be updated." in second.stderr
        with open(gate, "w") as opening:
            opening.write("go")
        assert holder.communicate(timeout=300)[0].strip() == "CREATE_COMPLETE"
    finally:
        holder.kill()
        holder.wait()
    third = lambdalab_deploy(tmp_path, template)
    assert third.returncode == 0, third.stderr
    assert "Stack app: UPDATE_COMPLETE" in third.stdout


def test_a_deploy_process_killed_mid_way_leaves_the_stack_free_for_the_next(tmp_path: Path) -> None:
    holder, template, _ = held_deploy(tmp_path)
    holder.kill()  # SIGKILL: no finally runs; the kernel drops the lock with the process
    holder.wait()
    done = lambdalab_deploy(tmp_path, template)
    assert done.returncode == 0, done.stderr
    assert "Stack app: CREATE_COMPLETE" in done.stdout
