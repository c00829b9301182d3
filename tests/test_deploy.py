"""``lambdalab deploy``: SAM and CloudFormation templates made into stacks, judged by
boto3 against the edge (and the CLI through click), on the virtual clock.

The quick-start tests deploy ``sam init``'s own projects unchanged, read from a copy of
the public repository aws/aws-sam-cli-app-templates that ``$SAM_APP_TEMPLATES`` names
(a clone, or its bare git dir); the repository's code is not copied into lambdalab, so
without it they are skipped. Each is rendered as ``sam init`` would with
``project_name=sam-app``, the runtime of its folder and ``architectures=[x86_64]``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from click.testing import CliRunner

from lambdalab import Lab
from lambdalab.clock import VirtualClock
from lambdalab.cli import app as cli
from lambdalab.server import EdgeServer
from lambdalab_sqs import sqs_of
from lambdalab_cloudformation import CloudFormationError, DeployFailed, TemplateError, cloudformation_of
from lambdalab_cloudformation.build import build

from .edge_support import client_for, edge  # noqa: F401  (fixture)

SAM_APP_TEMPLATES = os.environ.get("SAM_APP_TEMPLATES", "")
needs_app_templates = pytest.mark.skipif(
    not Path(SAM_APP_TEMPLATES or "/nonexistent").exists(),
    reason="set SAM_APP_TEMPLATES to a clone of aws/aws-sam-cli-app-templates")
_ARCHITECTURES = re.compile(
    r"\n\s*\{%- if cookiecutter.architectures.value != \[\]%\}(\n\s*Architectures:)\n"
    r"\s*\{%- for arch in cookiecutter.architectures.value %\}\n(\s*)- \{\{arch\}\}\n"
    r"\s*\{%- endfor %\}\n\s*\{%- endif %\}")


def quick_start(into: Path, folder: str) -> Path:
    """``sam init``'s project ``folder`` (``python3.12/event-bridge``) rendered into ``into``;
    the path of its template."""
    runtime = folder.split("/")[0]
    for name, text in _project_files(folder).items():
        if name == "template.yaml":
            rendered = text.decode().replace("{{ cookiecutter.project_name }}", "sam-app")
            rendered = rendered.replace("{{cookiecutter.project_name}}", "sam-app")
            rendered = rendered.replace("{{ cookiecutter.runtime }}", runtime)
            text = _ARCHITECTURES.sub(r"\1\n\2- x86_64", rendered).encode()
        target = into / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(text)
        target.chmod(0o644)
    assert b"cookiecutter" not in (into / "template.yaml").read_bytes()
    return into / "template.yaml"


def _project_files(folder: str) -> dict[str, bytes]:
    """The files of a quick start's project, by path inside it, from ``$SAM_APP_TEMPLATES``."""
    source = Path(SAM_APP_TEMPLATES)
    git = ["git", "--git-dir", str(source / ".git" if (source / ".git").exists() else source)]
    prefix = f"{folder}/{{{{cookiecutter.project_name}}}}/"
    names = subprocess.run([*git, "ls-tree", "-r", "--name-only", "HEAD", prefix], check=True,
                           capture_output=True, text=True).stdout.split()
    return {name[len(prefix):]: subprocess.run([*git, "show", f"HEAD:{name}"], check=True,
                                               capture_output=True).stdout for name in names}

HANDLER = """\
import os

def handler(event, context):
    print("EVENT", event)
    return {"queue": os.environ.get("QUEUE_URL"), "stage": os.environ.get("STAGE")}
"""

APP = """\
AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Parameters:
  Memory:
    Type: Number
    Default: 128
  Stage:
    Type: String
    Default: dev
    AllowedValues: [dev, prod]
Globals:
  Function:
    Timeout: 5
    Runtime: python3.11
Resources:
  Queue:
    Type: AWS::SQS::Queue
    Properties:
      VisibilityTimeout: 30
  Worker:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src
      Handler: app.handler
      MemorySize: !Ref Memory
      Environment:
        Variables:
          QUEUE_URL: !Ref Queue
          STAGE: !Sub "${Stage}-${AWS::Region}"
      Events:
        Jobs:
          Type: SQS
          Properties:
            Queue: !GetAtt Queue.Arn
            BatchSize: 5
  Table:
    Type: AWS::Serverless::SimpleTable
Outputs:
  QueueUrl:
    Value: !Ref Queue
  WorkerArn:
    Value: !GetAtt Worker.Arn
"""


def project(folder: Path, template: str) -> Path:
    (folder / "src").mkdir(parents=True, exist_ok=True)
    (folder / "src" / "app.py").write_text(HANDLER)
    path = folder / "template.yaml"
    path.write_text(textwrap.dedent(template))
    return path


def physical(lab: Lab, stack: str, logical_id: str) -> str:
    found = cloudformation_of(lab).stacks.get(stack)
    assert found is not None
    return found.resources[logical_id].made.physical_id


@pytest.fixture
def clients(edge: EdgeServer) -> Any:  # noqa: F811
    return lambda service: client_for(edge.url, service)


# -- the quick starts --------------------------------------------------------------------

@needs_app_templates
def test_event_bridge_quick_start_deploys_unchanged_and_answers_its_own_event(
        lab: Lab, clients: Any, tmp_path: Path) -> None:
    template = quick_start(tmp_path / "sam-app", "python3.12/event-bridge")
    result = cloudformation_of(lab).deployer.deploy("sam-app", template)
    assert sorted(result.created) == ["HelloWorldFunction", "HelloWorldFunctionHelloWorld",
                                      "HelloWorldFunctionHelloWorldPermission", "HelloWorldFunctionRole"]
    function = physical(lab, "sam-app", "HelloWorldFunction")
    arn = clients("lambda").get_function(FunctionName=function)["Configuration"]["FunctionArn"]
    assert result.stack.outputs["HelloWorldFunction"]["OutputValue"] == arn
    event = (tmp_path / "sam-app" / "events" / "event.json").read_text()
    events = clients("events")
    rule = physical(lab, "sam-app", "HelloWorldFunctionHelloWorld")
    assert [t["Arn"] for t in events.list_targets_by_rule(Rule=rule)["Targets"]] == [arn]
    pattern = events.describe_rule(Name=rule)["EventPattern"]
    assert events.test_event_pattern(EventPattern=pattern, Event=event)["Result"] is True
    answer = clients("lambda").invoke(FunctionName=function, Payload=event)
    assert "FunctionError" not in answer, answer["Payload"].read()
    body = json.loads(answer["Payload"].read())
    assert body["detail-type"] == "HelloWorldFunction updated event of EC2 Instance State-change Notification"


# -- create, update, removal, delete -------------------------------------------------------

def test_create_then_update_changes_only_what_changed(lab: Lab, clients: Any, tmp_path: Path) -> None:
    deployer = cloudformation_of(lab).deployer
    template = project(tmp_path / "app", APP)
    first = deployer.deploy("app", template)
    assert first.stack.status == "CREATE_COMPLETE"
    worker, queue_url = physical(lab, "app", "Worker"), first.stack.outputs["QueueUrl"]["OutputValue"]
    config = clients("lambda").get_function_configuration(FunctionName=worker)
    assert (config["MemorySize"], config["Timeout"]) == (128, 5)
    assert config["Environment"]["Variables"] == {"QUEUE_URL": queue_url, "STAGE": "dev-us-east-1"}
    mappings = clients("lambda").list_event_source_mappings(FunctionName=worker)["EventSourceMappings"]
    assert [m["BatchSize"] for m in mappings] == [5]
    assert clients("dynamodb").describe_table(TableName=physical(lab, "app", "Table"))["Table"]["KeySchema"] == [
        {"AttributeName": "id", "KeyType": "HASH"}]

    second = deployer.deploy("app", template, {"Memory": "256"})
    assert (second.updated, second.created, second.deleted) == (["Worker"], [], [])
    assert clients("lambda").get_function_configuration(FunctionName=worker)["MemorySize"] == 256
    assert second.stack.outputs["QueueUrl"]["OutputValue"] == queue_url
    assert second.stack.status == "UPDATE_COMPLETE"
    assert clients("lambda").invoke(FunctionName=worker)["Payload"].read() == json.dumps(
        {"queue": queue_url, "stage": "dev-us-east-1"}).encode()


def test_changed_code_in_the_codeuri_folder_is_deployed(lab: Lab, clients: Any, tmp_path: Path) -> None:
    deployer = cloudformation_of(lab).deployer
    template = project(tmp_path / "app", APP)
    deployer.deploy("app", template)
    (tmp_path / "app" / "src" / "app.py").write_text("def handler(event, context):\n    return 'v2'\n")
    result = deployer.deploy("app", template)
    assert result.updated == ["Worker"]
    assert clients("lambda").invoke(FunctionName=physical(lab, "app", "Worker"))["Payload"].read() == b'"v2"'


def test_a_resource_gone_from_the_template_is_deleted_and_delete_removes_the_stack(
        lab: Lab, clients: Any, tmp_path: Path) -> None:
    deployer = cloudformation_of(lab).deployer
    template = project(tmp_path / "app", APP)
    deployer.deploy("app", template)
    table, worker = physical(lab, "app", "Table"), physical(lab, "app", "Worker")
    queue_url = clients("sqs").get_queue_url(QueueName=physical(lab, "app", "Queue"))["QueueUrl"]
    template.write_text(APP.replace("  Table:\n    Type: AWS::Serverless::SimpleTable\n", ""))
    result = deployer.deploy("app", template)
    assert result.deleted == ["Table"] and result.updated == []
    with pytest.raises(ClientError, match="ResourceNotFoundException"):
        clients("dynamodb").describe_table(TableName=table)

    assert sorted(deployer.delete("app")) == sorted(result.stack.resources)
    assert lab.list_functions() == []
    with pytest.raises(ClientError, match="NonExistentQueue|QueueDoesNotExist"):
        clients("sqs").get_queue_attributes(QueueUrl=queue_url)
    assert clients("lambda").list_event_source_mappings()["EventSourceMappings"] == []
    assert cloudformation_of(lab).stacks.get("app") is None
    assert worker not in [f.function_name for f in lab.list_functions()]


def test_a_failed_update_rolls_back_and_names_the_resource_and_why(lab: Lab, clients: Any, tmp_path: Path) -> None:
    deployer = cloudformation_of(lab).deployer
    template = project(tmp_path / "app", APP)
    deployer.deploy("app", template)
    worker = physical(lab, "app", "Worker")
    broken = APP.replace("Outputs:", textwrap.dedent("""\
      Extra:
        Type: AWS::SQS::Queue
      Uploads:
        Type: AWS::S3::Bucket
        DependsOn: [Worker, Extra]
        Properties:
          BucketName: Not_A_Bucket!
    Outputs:"""))
    template.write_text(broken)
    with pytest.raises(DeployFailed) as failed:
        deployer.deploy("app", template, {"Memory": "512"})
    assert failed.value.logical_id == "Uploads"
    assert "Resource Uploads (AWS::S3::Bucket) failed: InvalidBucketName" in failed.value.message
    assert clients("lambda").get_function_configuration(FunctionName=worker)["MemorySize"] == 128
    queues = clients("sqs").list_queues().get("QueueUrls", [])
    assert [q for q in queues if "Extra" in q] == []
    stack = cloudformation_of(lab).stacks.get("app")
    assert stack is not None and stack.status == "UPDATE_ROLLBACK_COMPLETE"
    assert "Extra" not in stack.resources and stack.resources["Worker"].properties["MemorySize"] == "128"
    statuses = [(e.logical_id, e.status) for e in cloudformation_of(lab).stacks.events("app")]
    assert ("Uploads", "UPDATE_FAILED") in statuses or ("Uploads", "CREATE_FAILED") in statuses


def test_an_update_that_fails_halfway_puts_the_first_half_back(lab: Lab, clients: Any, tmp_path: Path) -> None:
    deployer = cloudformation_of(lab).deployer
    template = project(tmp_path / "app", APP)
    deployer.deploy("app", template)
    worker = physical(lab, "app", "Worker")
    (tmp_path / "app" / "src" / "app.py").write_text("def handler(event, context):\n    return 'v2'\n")
    with pytest.raises(DeployFailed, match=r"Resource Worker \(AWS::Lambda::Function\) failed: \w+Exception: .*MemorySize|memorySize"):
        deployer.deploy("app", template, {"Memory": "20000"})  # the new code goes in, then the memory is refused
    assert b"v2" not in clients("lambda").invoke(FunctionName=worker)["Payload"].read()


def test_a_failed_creation_leaves_nothing_behind(lab: Lab, clients: Any, tmp_path: Path) -> None:
    template = project(tmp_path / "app", APP.replace("Outputs:", textwrap.dedent("""\
      Uploads:
        Type: AWS::S3::Bucket
        DependsOn: [Worker, Table]
        Properties:
          BucketName: Not_A_Bucket!
    Outputs:""")))
    with pytest.raises(DeployFailed, match="Uploads"):
        cloudformation_of(lab).deployer.deploy("app", template)
    assert lab.list_functions() == []
    assert clients("sqs").list_queues().get("QueueUrls", []) == []
    assert clients("dynamodb").list_tables()["TableNames"] == []
    assert clients("iam").list_roles()["Roles"] == []


def test_a_type_lambdalab_cannot_emulate_is_named_before_anything_is_made(lab: Lab, tmp_path: Path) -> None:
    template = project(tmp_path / "app", """\
    Resources:
      Queue:
        Type: AWS::SQS::Queue
      Server:
        Type: AWS::EC2::Instance
        Properties:
          ImageId: ami-12345678
    """)
    with pytest.raises(TemplateError, match=r"Server \(AWS::EC2::Instance: not emulated\)"):
        cloudformation_of(lab).deployer.deploy("app", template)
    assert cloudformation_of(lab).stacks.get("app") is None


# -- intrinsics ------------------------------------------------------------------------------

INTRINSICS = """\
Parameters:
  Env:
    Type: String
    Default: dev
  Names:
    Type: CommaDelimitedList
    Default: "a,b"
Mappings:
  Sizes:
    dev: {Retention: 60}
    prod: {Retention: 1209600}
Conditions:
  IsProd: !Equals [!Ref Env, prod]
  NotProd: !Not [!Condition IsProd]
Resources:
  Queue:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: !Join ["-", [jobs, !Ref Env, !Select [1, !Ref Names]]]
      VisibilityTimeout: !If [IsProd, 120, 30]
      MessageRetentionPeriod: !FindInMap [Sizes, !Ref Env, Retention]
  ProdOnly:
    Type: AWS::SQS::Queue
    Condition: IsProd
  Topic:
    Type: AWS::SNS::Topic
    Properties:
      TopicName: !Sub
        - "${Base}-${AWS::AccountId}"
        - Base: !GetAtt Queue.QueueName
Outputs:
  Queue:
    Value: !GetAtt Queue.Arn
  Topic:
    Value: !Ref Topic
  Where:
    Value: !Sub "${Env} in ${AWS::Region}, literal ${!Env}"
  Encoded:
    Value: !Base64 hi
  OnlyInProd:
    Condition: IsProd
    Value: !Ref ProdOnly
  OnlyElsewhere:
    Condition: NotProd
    Value: elsewhere
"""


def test_intrinsics_parameters_conditions_and_outputs(lab: Lab, clients: Any, tmp_path: Path) -> None:
    template = project(tmp_path / "app", INTRINSICS)
    stack = cloudformation_of(lab).deployer.deploy("plain", template).stack
    outputs = {k: v["OutputValue"] for k, v in stack.outputs.items()}
    assert outputs == {
        "Queue": "arn:aws:sqs:us-east-1:000000000000:jobs-dev-b",
        "Topic": "arn:aws:sns:us-east-1:000000000000:jobs-dev-b-000000000000",
        "Where": "dev in us-east-1, literal ${Env}",
        "Encoded": "aGk=",
        "OnlyElsewhere": "elsewhere",
    }
    sqs = clients("sqs")
    url = sqs.get_queue_url(QueueName="jobs-dev-b")["QueueUrl"]
    assert sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["VisibilityTimeout", "MessageRetentionPeriod"])[
        "Attributes"] == {"VisibilityTimeout": "30", "MessageRetentionPeriod": "60"}

    prod = cloudformation_of(lab).deployer.deploy("plain", template, {"Env": "prod"}).stack
    assert sorted(prod.resources) == ["ProdOnly", "Queue", "Topic"]
    url = sqs.get_queue_url(QueueName="jobs-prod-b")["QueueUrl"]
    assert sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["VisibilityTimeout"])["Attributes"] == {
        "VisibilityTimeout": "120"}
    with pytest.raises(ClientError, match="NonExistentQueue|QueueDoesNotExist"):
        sqs.get_queue_url(QueueName="jobs-dev-b")


def test_a_parameter_outside_its_allowed_values_is_refused(lab: Lab, tmp_path: Path) -> None:
    with pytest.raises(TemplateError, match="must be one of AllowedValues"):
        cloudformation_of(lab).deployer.deploy("app", project(tmp_path / "app", APP), {"Stage": "qa"})
    assert lab.list_functions() == []


# -- every event source SAM turns into emulated resources --------------------------------

EVENTS = """\
Transform: AWS::Serverless-2016-10-31
Resources:
  Uploads:
    Type: AWS::S3::Bucket
  Alerts:
    Type: AWS::SNS::Topic
  Clicks:
    Type: AWS::Kinesis::Stream
    Properties:
      ShardCount: 1
  Orders:
    Type: AWS::DynamoDB::Table
    Properties:
      AttributeDefinitions: [{AttributeName: pk, AttributeType: S}]
      KeySchema: [{AttributeName: pk, KeyType: HASH}]
      BillingMode: PAY_PER_REQUEST
      StreamSpecification:
        StreamViewType: NEW_IMAGE
  Handler:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src
      Handler: app.handler
      Runtime: python3.11
      AutoPublishAlias: live
      Events:
        Upload:
          Type: S3
          Properties:
            Bucket: !Ref Uploads
            Events: s3:ObjectCreated:*
        Alert:
          Type: SNS
          Properties:
            Topic: !Ref Alerts
        Click:
          Type: Kinesis
          Properties:
            Stream: !GetAtt Clicks.Arn
            StartingPosition: TRIM_HORIZON
        Order:
          Type: DynamoDB
          Properties:
            Stream: !GetAtt Orders.StreamArn
            StartingPosition: LATEST
        Nightly:
          Type: Schedule
          Properties:
            Schedule: cron(0 3 * * ? *)
"""


def test_sam_event_sources_become_working_triggers(lab: Lab, clients: Any, tmp_path: Path) -> None:
    stack = cloudformation_of(lab).deployer.deploy("events", project(tmp_path / "app", EVENTS)).stack
    function = physical(lab, "events", "Handler")
    alias_arn = clients("lambda").get_alias(FunctionName=function, Name="live")["AliasArn"]
    bucket = physical(lab, "events", "Uploads")
    notification = clients("s3").get_bucket_notification_configuration(Bucket=bucket)
    assert [c["LambdaFunctionArn"] for c in notification["LambdaFunctionConfigurations"]] == [alias_arn]
    topic = stack.resources["Alerts"].made.ref
    assert [s["Endpoint"] for s in clients("sns").list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]] == [
        alias_arn]
    mappings = clients("lambda").list_event_source_mappings(FunctionName=alias_arn)["EventSourceMappings"]
    assert sorted(m["EventSourceArn"].split(":")[2] for m in mappings) == ["dynamodb", "kinesis"]
    rule = physical(lab, "events", "HandlerNightly")
    assert clients("events").describe_rule(Name=rule)["ScheduleExpression"] == "cron(0 3 * * ? *)"

    clients("s3").put_object(Bucket=bucket, Key="photo.jpg", Body=b"x")
    assert lab.wait_for_events(timeout=60)
    assert any("photo.jpg" in e.message for e in lab.get_logs(function))


# -- durability and the command line ---------------------------------------------------------

def test_a_stack_survives_reopening_the_lab(lab: Lab, tmp_path: Path) -> None:
    template = project(tmp_path / "app", APP)
    cloudformation_of(lab).deployer.deploy("app", template)
    lab.close()
    with Lab(data_dir=tmp_path / "data", clock=lab.clock) as reopened:
        again = cloudformation_of(reopened).deployer.deploy("app", template)
        assert (again.created, again.updated, again.deleted) == ([], [], [])
        assert sorted(again.unchanged) == sorted(again.stack.resources)


def test_the_deploy_command_creates_reports_and_deletes(tmp_path: Path) -> None:
    template = project(tmp_path / "app", APP)
    runner = CliRunner()

    def run(*args: str) -> Any:
        return runner.invoke(cli.main, ["--data-dir", str(tmp_path / "data"), "deploy", *args])

    created = run("--template", str(template), "--stack-name", "app", "--parameter-overrides", "Memory=256 Stage=prod")
    assert created.exit_code == 0, created.output
    assert "Stack app: CREATE_COMPLETE" in created.output and "QueueUrl" in created.output
    refused = run("--template", str(template), "--stack-name", "app", "--parameter-overrides", "Nope=1")
    assert refused.exit_code == 2
    assert "ValidationError: Parameters: ['Nope'] do not exist in the template" in refused.output
    deleted = run("--stack-name", "app", "--delete")
    assert deleted.exit_code == 0 and "Deleted stack app" in deleted.output


# -- CloudFormation's API on the edge ---------------------------------------------------------

def test_the_cloudformation_api_describes_lists_and_deletes_stacks(lab: Lab, clients: Any, tmp_path: Path) -> None:
    stack = cloudformation_of(lab).deployer.deploy("app", project(tmp_path / "app", APP), {"Memory": "256"}).stack
    cfn = clients("cloudformation")
    [described] = cfn.describe_stacks(StackName="app")["Stacks"]
    assert (described["StackName"], described["StackStatus"], described["StackId"]) == (
        "app", "CREATE_COMPLETE", stack.stack_id)
    assert {o["OutputKey"]: o["OutputValue"] for o in described["Outputs"]}["QueueUrl"] == (
        stack.outputs["QueueUrl"]["OutputValue"])
    assert {p["ParameterKey"]: p["ParameterValue"] for p in described["Parameters"]} == {
        "Memory": "256", "Stage": "dev"}
    resources = cfn.describe_stack_resources(StackName="app")["StackResources"]
    assert {r["LogicalResourceId"]: r["PhysicalResourceId"] for r in resources}["Worker"] == physical(
        lab, "app", "Worker")
    events = cfn.describe_stack_events(StackName=stack.stack_id)["StackEvents"]
    assert (events[0]["LogicalResourceId"], events[0]["ResourceStatus"]) == ("app", "CREATE_COMPLETE")
    assert [s["StackName"] for s in cfn.list_stacks()["StackSummaries"]] == ["app"]
    with pytest.raises(ClientError, match="ValidationError.*Stack with id nope does not exist"):
        cfn.describe_stacks(StackName="nope")

    cfn.delete_stack(StackName="app")
    assert lab.list_functions() == []
    assert cfn.list_stacks()["StackSummaries"] == []


def test_aws_cloudformation_describe_stacks_works(lab: Lab, edge: EdgeServer, tmp_path: Path) -> None:  # noqa: F811
    cloudformation_of(lab).deployer.deploy("app", project(tmp_path / "app", APP))
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "not-checked",
           "AWS_DEFAULT_REGION": "us-east-1", "AWS_MAX_ATTEMPTS": "1", "AWS_CONFIG_FILE": os.devnull,
           "AWS_SHARED_CREDENTIALS_FILE": os.devnull}
    done = subprocess.run([str(Path(sys.executable).parent / "aws"), "--endpoint-url", edge.url, "--output", "json",
                           "cloudformation", "describe-stacks", "--stack-name", "app"],
                          capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    [stack] = json.loads(done.stdout)["Stacks"]
    assert (stack["StackName"], stack["StackStatus"]) == ("app", "CREATE_COMPLETE")


@pytest.mark.parametrize("text, says", [
    ("Resources: {}", "At least one Resources member must be defined"),
    ("Resources: [1, 2]", "At least one Resources member must be defined"),
    ("Resources:\n  Q: {Properties: {}}", "must contain a Type member"),
    ("Resources:\n  Q: {Type: AWS::SQS::Queue, Properties: [1]}", "Properties] must be an object"),
    ("Resources:\n  Q: {Type: AWS::SQS::Queue, Properties: {QueueName: !Join [x]}}", "intrinsic function is malformed"),
    ("Resources:\n  Q: {Type: AWS::SQS::Queue, Properties: {QueueName: !Ref Nowhere}}", "Unresolved resource dependencies"),
    ("Conditions:\n  A: !Condition A\nResources:\n  Q: {Type: AWS::SQS::Queue, Condition: A}", "condition is malformed"),
    ("Resources:\n  A: {Type: AWS::SQS::Queue, DependsOn: B}\n  B: {Type: AWS::SQS::Queue, DependsOn: A}",
     "Circular dependency"),
    ("Transform: AWS::Serverless-2016-10-31\nResources:\n  F: {Type: AWS::Serverless::Function, Properties: 7}",
     "Properties] must be an object"),
    ("Transform: AWS::Serverless-2016-10-31\nResources:\n  F:\n    Type: AWS::Serverless::Function\n"
     "    Properties: {Runtime: python3.11, Handler: a.b, CodeUri: src, Events: {E: {Type: Nope}}}",
     "Transform AWS::Serverless-2016-10-31 failed"),
    ("key: [unclosed", "Template format error"),
])
def test_a_malformed_template_is_a_validation_error_and_makes_nothing(
        lab: Lab, tmp_path: Path, text: str, says: str) -> None:
    path = project(tmp_path / "app", "")
    path.write_text(text)
    with pytest.raises(CloudFormationError, match=says) as refused:
        cloudformation_of(lab).deployer.deploy("app", path)
    assert refused.value.code == "ValidationError"
    stack = cloudformation_of(lab).stacks.get("app")
    assert stack is None or (stack.status, stack.resources) == ("ROLLBACK_COMPLETE", {})
    assert lab.list_functions() == []


needs_node = pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed")


@needs_node
@needs_app_templates
def test_sqs_quick_start_logs_each_message_sent_to_its_queue(lab: Lab, clients: Any, tmp_path: Path) -> None:
    template = quick_start(tmp_path / "sam-app", "nodejs22.x/sqs")
    cloudformation_of(lab).deployer.deploy("sam-app", template)
    function = physical(lab, "sam-app", "SQSPayloadLogger")
    own_event = (tmp_path / "sam-app" / "events" / "event-sqs.json").read_text()
    answer = clients("lambda").invoke(FunctionName=function, Payload=own_event)
    assert "FunctionError" not in answer, answer["Payload"].read()
    sqs = clients("sqs")
    url = sqs.get_queue_url(QueueName=physical(lab, "sam-app", "SimpleQueue"))["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="order 42")
    assert sqs_of(lab).mappings.wait_idle(timeout=120)
    logged = " ".join(e.message for e in lab.get_logs(function))
    assert '"body":"order 42"' in logged and "This message was sent by the sqs-payload-logger" in logged


@needs_node
@needs_app_templates
def test_scheduled_quick_start_fires_on_the_hour_of_the_lab_clock(
        lab: Lab, clock: VirtualClock, clients: Any, tmp_path: Path) -> None:
    template = quick_start(tmp_path / "sam-app", "nodejs22.x/cw-event")
    cloudformation_of(lab).deployer.deploy("sam-app", template)
    function = physical(lab, "sam-app", "ScheduledEventLogger")
    own_event = (tmp_path / "sam-app" / "events" / "event-cloudwatch-event.json").read_text()
    assert "FunctionError" not in clients("lambda").invoke(FunctionName=function, Payload=own_event)
    clock.advance(2 * 3600)
    assert lab.wait_for_events(timeout=120)
    fired = [e.message for e in lab.get_logs(function) if '"detail-type":"Scheduled Event"' in e.message]
    assert len(fired) == 3  # the template's own event, then two hours of cron(0 * * * ? *)


needs_npm = pytest.mark.skipif(shutil.which("npm") is None, reason="npm is not installed")


def built_quick_start(into: Path, folder: str) -> Path:
    """A Node.js quick start rendered, then built as ``sam build`` would (its AWS SDK v3
    dependencies from the npm registry); the built template's path."""
    return build(quick_start(into, folder)).template


@needs_node
@needs_npm
@needs_app_templates
def test_s3_quick_start_built_logs_each_json_object_put_in_its_bucket(lab: Lab, clients: Any, tmp_path: Path) -> None:
    deployer = cloudformation_of(lab).deployer
    bucket = {"AppBucketName": "sam-app-uploads"}
    with pytest.raises(TemplateError, match="S3JsonLoggerFunction needs @aws-sdk/client-s3.*lambdalab build"):
        deployer.deploy("sam-app", quick_start(tmp_path / "sam-app", "nodejs22.x/s3"), bucket)
    assert lab.list_functions() == []
    deployer.deploy("sam-app", built_quick_start(tmp_path / "sam-app", "nodejs22.x/s3"), bucket)
    function = physical(lab, "sam-app", "S3JsonLoggerFunction")
    s3 = clients("s3")
    s3.put_object(Bucket="sam-app-uploads", Key="orders/42.json", Body=b'{"order": 42}')
    s3.put_object(Bucket="sam-app-uploads", Key="orders/43.txt", Body=b"not JSON: the suffix filter skips it")
    assert lab.wait_for_events(timeout=120)
    logged = [e.message for e in lab.get_logs(function)]
    assert any('{"order": 42}' in m for m in logged), logged  # read back through SDK v3's GetObject
    assert not any("the suffix filter" in m for m in logged)
    # its own event names example-bucket's test/key: with that object there, it answers
    s3.create_bucket(Bucket="example-bucket")
    s3.put_object(Bucket="example-bucket", Key="test/key", Body=b'{"from": "event-s3.json"}')
    own_event = (tmp_path / "sam-app" / "events" / "event-s3.json").read_text()
    answer = clients("lambda").invoke(FunctionName=function, Payload=own_event)
    assert "FunctionError" not in answer, answer["Payload"].read()
    assert any('{"from": "event-s3.json"}' in e.message for e in lab.get_logs(function))


ALIASED = """\
Transform: AWS::Serverless-2016-10-31
Globals:
  Function: {Runtime: python3.11, AutoPublishAlias: live}
Resources:
  Uploads:
    Type: AWS::S3::Bucket
    Properties: {VersioningConfiguration: {Status: Enabled}}
  Worker:
    Type: AWS::Serverless::Function
    Properties: {CodeUri: src, Handler: app.handler}
"""


def test_auto_publish_alias_moves_to_the_new_code_and_keeps_the_old_version(
        lab: Lab, clients: Any, tmp_path: Path) -> None:
    deployer = cloudformation_of(lab).deployer
    template = project(tmp_path / "app", ALIASED)
    first = deployer.deploy("app", template)
    assert first.not_applied == ["Uploads.VersioningConfiguration"]
    worker = physical(lab, "app", "Worker")
    assert clients("lambda").get_alias(FunctionName=worker, Name="live")["FunctionVersion"] == "1"
    (tmp_path / "app" / "src" / "app.py").write_text("def handler(event, context):\n    return 'v2'\n")
    deployer.deploy("app", template)
    lam = clients("lambda")
    assert lam.get_alias(FunctionName=worker, Name="live")["FunctionVersion"] == "2"
    assert lam.invoke(FunctionName=worker, Qualifier="live")["Payload"].read() == b'"v2"'
    versions = [v["Version"] for v in lam.list_versions_by_function(FunctionName=worker)["Versions"]]
    assert versions == ["$LATEST", "1", "2"]  # SAM's versions are DeletionPolicy: Retain
