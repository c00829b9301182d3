"""The Lambda API, member by member, against what AWS answers.

The judge is boto3 against ``lambdalab serve``; what AWS answers comes from botocore's
Lambda model and from LocalStack's recordings of real AWS
(``tests/aws/services/lambda_/test_lambda_api.snapshot.json``), quoted below where used.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

import botocore.session
import pytest
from botocore.exceptions import WaiterError

from lambdalab import Lab, VirtualClock
from lambdalab import errors as lambdalab_errors
from lambdalab.server import EdgeServer

from .edge_support import ROLE, client, client_for, create, edge, zip_of  # noqa: F401

CONTEXT = """
def handler(event, context):
    return {"arn": context.invoked_function_arn}
"""
ECHO_V2 = """
def handler(event, context):
    return "v2"
"""
ACCOUNT = "000000000000"
ARN = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:"

#: The members of a Python .zip function's configuration in AWS's answers (the
#: snapshot's test_publish_version_on_create: no Environment given, so none returned).
#: CreateFunction: Pending, with StateReason(Code) and no LastUpdateStatus.
CREATE_MEMBERS = {
    "Architectures", "CodeSha256", "CodeSize", "Description", "EphemeralStorage",
    "FunctionArn", "FunctionName", "Handler", "LastModified", "LoggingConfig",
    "MemorySize", "PackageType", "RevisionId", "Role", "Runtime", "RuntimeVersionConfig",
    "SnapStart", "State", "StateReason", "StateReasonCode", "Timeout", "TracingConfig",
    "Version",
}
#: GetFunction's Configuration once Active.
ACTIVE_MEMBERS = (CREATE_MEMBERS - {"StateReason", "StateReasonCode"}) | {"LastUpdateStatus"}


def lambda_model() -> Any:
    return botocore.session.get_session().get_service_model("lambda")


# -- 1. ARNs --------------------------------------------------------------------------


def test_create_with_publish_answers_the_unqualified_arn_and_version_1(client: Any) -> None:
    created = create(client, "pub", Publish=True)
    assert created["FunctionArn"] == ARN + "pub"  # AWS: unqualified, with Version "1"
    assert created["Version"] == "1"
    assert (created["State"], created["StateReasonCode"]) == ("Pending", "Creating")
    assert "LastUpdateStatus" not in created
    updated = client.update_function_code(FunctionName="pub", ZipFile=zip_of(app=ECHO_V2),
                                          Publish=True)
    # The snapshot's test_publish_with_update: the new version, by its qualified ARN.
    assert (updated["FunctionArn"], updated["Version"]) == (ARN + "pub:2", "2")
    assert updated["State"] == "Pending" and "LastUpdateStatus" not in updated
    assert client.get_function(FunctionName="pub", Qualifier="2")["Configuration"][
        "State"] == "Active"
    client.delete_function(FunctionName=created["FunctionArn"])  # deletes the function
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.get_function(FunctionName="pub")


def test_latest_is_named_by_its_qualified_arn_where_aws_names_it(client: Any) -> None:
    create(client, "q", Publish=True)
    assert client.get_function(FunctionName="q")["Configuration"]["FunctionArn"] == ARN + "q"
    latest = client.get_function(FunctionName="q", Qualifier="$LATEST")["Configuration"]
    assert latest["FunctionArn"] == ARN + "q:$LATEST"
    config = client.get_function_configuration(FunctionName="q", Qualifier="$LATEST")
    assert config["FunctionArn"] == ARN + "q:$LATEST"
    versions = client.list_versions_by_function(FunctionName="q")["Versions"]
    assert [v["FunctionArn"] for v in versions] == [ARN + "q:$LATEST", ARN + "q:1"]
    everything = client.list_functions(FunctionVersion="ALL")["Functions"]
    assert [f["FunctionArn"] for f in everything] == [ARN + "q:$LATEST", ARN + "q:1"]
    assert [f["FunctionArn"] for f in client.list_functions()["Functions"]] == [ARN + "q"]


def test_an_invoke_through_an_alias_reports_the_alias_arn(client: Any) -> None:
    create(client, "ctx", CONTEXT, Publish=True)
    client.create_alias(FunctionName="ctx", Name="live", FunctionVersion="1")
    for kwargs in ({"FunctionName": "ctx", "Qualifier": "live"}, {"FunctionName": "ctx:live"}):
        answer = json.loads(client.invoke(**kwargs)["Payload"].read())
        assert answer == {"arn": ARN + "ctx:live"}
        # GetFunction through the alias names the alias too (the snapshot's
        # test_alias_lifecycle: get_function_alias_1_1), with the version it points at.
        config = client.get_function(**kwargs)["Configuration"]
        assert (config["FunctionArn"], config["Version"]) == (ARN + "ctx:live", "1")
    assert json.loads(client.invoke(FunctionName="ctx")["Payload"].read()) == {"arn": ARN + "ctx"}


# -- 2. Versions ----------------------------------------------------------------------


def test_publish_version_publishes_when_code_or_configuration_changed(client: Any) -> None:
    """The snapshot's test_version_lifecycle: a Description change of $LATEST is a change;
    PublishVersion's own Description describes a new version and makes none."""
    create(client, "v", Description="No version :(")
    client.update_function_configuration(FunctionName="v", Description="First version :)")
    first = client.publish_version(FunctionName="v", Description="First version description :)")
    assert (first["Version"], first["Description"]) == ("1", "First version description :)")
    client.update_function_configuration(FunctionName="v", Description="Second version :))")
    second = client.publish_version(FunctionName="v")
    assert (second["Version"], second["Description"]) == ("2", "Second version :))")
    third = client.publish_version(FunctionName="v", Description="Third version description :)))")
    assert (third["Version"], third["Description"]) == ("2", "Second version :))")
    assert third["RevisionId"] == second["RevisionId"]
    versions = client.list_versions_by_function(FunctionName="v")["Versions"]
    assert [(v["Version"], v["Description"]) for v in versions] == [
        ("$LATEST", "Second version :))"),
        ("1", "First version description :)"),
        ("2", "Second version :))"),
    ]


def test_publish_version_checks_revision_and_code_sha256(client: Any) -> None:
    create(client, "pre")
    latest = client.get_function(FunctionName="pre")["Configuration"]
    with pytest.raises(client.exceptions.PreconditionFailedException) as e:
        client.publish_version(FunctionName="pre", RevisionId="wrong")
    assert e.value.response["message"] == (
        "The Revision Id provided does not match the latest Revision Id. Call the "
        "GetFunction/GetAlias API to retrieve the latest Revision Id"
    )
    with pytest.raises(client.exceptions.InvalidParameterValueException) as e:
        client.publish_version(FunctionName="pre", CodeSha256="somenonexistentsha256")
    assert e.value.response["message"] == (
        "CodeSHA256 (somenonexistentsha256) is different from current CodeSHA256 in $LATEST "
        f"({latest['CodeSha256']}). Please try again with the CodeSHA256 in $LATEST."
    )
    ok = client.publish_version(
        FunctionName="pre", CodeSha256=latest["CodeSha256"], RevisionId=latest["RevisionId"]
    )
    assert ok["Version"] == "1"


# -- 3. States ------------------------------------------------------------------------


@pytest.fixture
def slow_edge(tmp_path: Path, clock: VirtualClock) -> Iterator[tuple[Any, VirtualClock]]:
    """An edge whose functions stay Pending, and updates InProgress, for 2 s of ``clock``."""
    with Lab(data_dir=tmp_path / "slow", clock=clock, state_transition=2) as lab:
        with EdgeServer(lab, port=0) as server:
            yield client_for(server.url), clock


def _waits(client: Any, waiter: str, name: str) -> bool:
    """Whether boto3's real waiter is satisfied at its first look."""
    try:
        client.get_waiter(waiter).wait(FunctionName=name, WaiterConfig={"MaxAttempts": 1})
    except WaiterError:
        return False
    return True


def test_a_new_function_is_pending_then_active(slow_edge: tuple[Any, VirtualClock]) -> None:
    client, clock = slow_edge
    created = create(client, "s")
    assert (created["State"], created["StateReasonCode"]) == ("Pending", "Creating")
    assert created["StateReason"] == "The function is being created."
    assert "LastUpdateStatus" not in created
    assert client.get_function(FunctionName="s")["Configuration"]["State"] == "Pending"
    assert not _waits(client, "function_active_v2", "s")
    with pytest.raises(client.exceptions.ResourceConflictException, match="state: Pending"):
        client.invoke(FunctionName="s")
    clock.advance(2)
    assert _waits(client, "function_active_v2", "s")
    active = client.get_function(FunctionName="s")["Configuration"]
    assert (active["State"], active["LastUpdateStatus"]) == ("Active", "Successful")
    assert "StateReason" not in active
    assert active["RevisionId"] != created["RevisionId"]  # as on AWS
    assert client.invoke(FunctionName="s")["StatusCode"] == 200


def test_an_update_is_in_progress_then_successful(slow_edge: tuple[Any, VirtualClock]) -> None:
    client, clock = slow_edge
    create(client, "u")
    clock.advance(2)
    updated = client.update_function_configuration(FunctionName="u", Timeout=9)
    assert updated["LastUpdateStatus"] == "InProgress"
    assert updated["LastUpdateStatusReasonCode"] == "Creating"
    assert not _waits(client, "function_updated_v2", "u")
    busy = (
        "The operation cannot be performed at this time. An update is in progress for "
        f"resource: {ARN}u"
    )
    for change in (
        lambda: client.update_function_code(FunctionName="u", ZipFile=zip_of(app=CONTEXT)),
        lambda: client.update_function_configuration(FunctionName="u", Timeout=5),
        lambda: client.publish_version(FunctionName="u"),
    ):
        with pytest.raises(client.exceptions.ResourceConflictException) as e:
            change()
        assert e.value.response["message"] == busy
    clock.advance(2)
    assert _waits(client, "function_updated_v2", "u")
    config = client.get_function_configuration(FunctionName="u")
    assert (config["LastUpdateStatus"], config["Timeout"]) == ("Successful", 9)
    assert "LastUpdateStatusReason" not in config


# -- 4. Fields ------------------------------------------------------------------------


def test_configuration_members_are_those_aws_returns(client: Any) -> None:
    created = create(client, "m")
    assert set(created) - {"ResponseMetadata"} == CREATE_MEMBERS
    shape = lambda_model().shape_for("FunctionConfiguration")
    for answer in (
        client.get_function(FunctionName="m")["Configuration"],
        client.get_function_configuration(FunctionName="m"),
        client.list_functions()["Functions"][0],
        client.list_versions_by_function(FunctionName="m")["Versions"][0],
    ):
        members = set(answer) - {"ResponseMetadata"}
        assert members == ACTIVE_MEMBERS
        assert members <= set(shape.members)
        assert answer["SnapStart"] == {"ApplyOn": "None", "OptimizationStatus": "Off"}
        assert answer["LoggingConfig"] == {"LogFormat": "Text", "LogGroup": "/aws/lambda/m"}
        assert answer["EphemeralStorage"] == {"Size": 512}
        assert answer["TracingConfig"] == {"Mode": "PassThrough"}
        runtime_arn = answer["RuntimeVersionConfig"]["RuntimeVersionArn"]
        assert runtime_arn.startswith("arn:aws:lambda:us-east-1::runtime:")
    with_env = create(client, "e", Environment={"Variables": {"AB": "1"}})
    assert with_env["Environment"] == {"Variables": {"AB": "1"}}


# -- 5. Errors ------------------------------------------------------------------------


def test_every_error_names_its_message_as_botocore_model_does() -> None:
    model = {shape.name: shape for shape in lambda_model().error_shapes}
    checked = 0
    for name in lambdalab_errors.__all__:
        cls = getattr(lambdalab_errors, name)
        if name not in model:
            continue
        members = set(model[name].members)
        wire = cls("m").to_wire()
        assert set(wire) <= members, (name, set(wire), members)
        checked += 1
    assert checked >= 8


def test_not_found_messages_are_aws_sentences(client: Any) -> None:
    """Recorded on AWS: GetFunction names the unqualified ARN, or the qualified one when
    asked for ``$LATEST`` or a version; Invoke and PutFunctionConcurrency name ``$LATEST``."""
    cases = [
        (lambda: client.get_function(FunctionName="nobody"), ARN + "nobody"),
        (lambda: client.get_function(FunctionName="nobody", Qualifier="$LATEST"),
         ARN + "nobody:$LATEST"),
        (lambda: client.delete_function(FunctionName="nobody"), ARN + "nobody"),
        (lambda: client.invoke(FunctionName="nobody"), ARN + "nobody:$LATEST"),
        (lambda: client.put_function_concurrency(
            FunctionName="nobody", ReservedConcurrentExecutions=1), ARN + "nobody:$LATEST"),
    ]
    create(client, "some")
    cases.append((lambda: client.get_function(FunctionName="some", Qualifier="1221"),
                  ARN + "some:1221"))
    cases.append((lambda: client.get_function(FunctionName="some", Qualifier="aliasdoesnotexist"),
                  ARN + "some:aliasdoesnotexist"))
    for call, arn in cases:
        with pytest.raises(client.exceptions.ResourceNotFoundException) as e:
            call()
        assert e.value.response["Message"] == f"Function not found: {arn}"
        assert e.value.response["Type"] == "User"


#: A new SQS mapping's members in AWS's answer (LocalStack's recordings against AWS,
#: test_lambda_integration_sqs.snapshot.json: no LastProcessingResult).
SQS_MAPPING_MEMBERS = {
    "BatchSize", "EventSourceArn", "EventSourceMappingArn", "FunctionArn",
    "FunctionResponseTypes", "LastModified", "MaximumBatchingWindowInSeconds", "State",
    "StateTransitionReason", "UUID",
}


def test_sqs_mapping_and_batch_members_are_those_aws_returns(client: Any, edge: Any) -> None:
    sqs = client_for(edge.url, "sqs")
    url = sqs.create_queue(QueueName="jobs")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    create(client, "worker")
    created = client.create_event_source_mapping(FunctionName="worker", EventSourceArn=queue_arn)
    assert set(created) - {"ResponseMetadata"} == SQS_MAPPING_MEMBERS
    assert created["EventSourceMappingArn"] == (
        f"arn:aws:lambda:us-east-1:{ACCOUNT}:event-source-mapping:{created['UUID']}"
    )
    got = client.get_event_source_mapping(UUID=created["UUID"])
    assert got["EventSourceMappingArn"] == created["EventSourceMappingArn"]
    client.delete_event_source_mapping(UUID=created["UUID"])
    sent = sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": "a", "MessageBody": "x"}])
    assert "Failed" not in sent  # SQS leaves out an empty Failed


def test_function_url_answers_invoke_mode_as_aws_does(client: Any) -> None:
    create(client, "web")
    created = client.create_function_url_config(FunctionName="web", AuthType="NONE")
    assert "InvokeMode" not in created
    assert client.get_function_url_config(FunctionName="web")["InvokeMode"] == "BUFFERED"
    updated = client.update_function_url_config(FunctionName="web", AuthType="AWS_IAM")
    assert "InvokeMode" not in updated
    named = client.update_function_url_config(FunctionName="web", InvokeMode="BUFFERED")
    assert named["InvokeMode"] == "BUFFERED"


# -- 6. Tags --------------------------------------------------------------------------


def test_tag_lifecycle_as_recorded_on_aws(client: Any) -> None:
    """The snapshot's test_tag_lifecycle and test_create_tag_on_fn_create."""
    arn = create(client, "t", Tags={"testtag": "x"}, Publish=True)["FunctionArn"]
    assert client.list_tags(Resource=arn)["Tags"] == {"testtag": "x"}
    assert client.get_function(FunctionName="t")["Tags"] == {"testtag": "x"}
    assert client.tag_resource(Resource=arn, Tags={"A": "tag-a", "C": "tag-c"})[
        "ResponseMetadata"]["HTTPStatusCode"] == 204
    client.tag_resource(Resource=arn, Tags={"C": "tag-c-newsuffix", "D": "tag-d"})
    assert client.list_tags(Resource=arn)["Tags"] == {
        "testtag": "x", "A": "tag-a", "C": "tag-c-newsuffix", "D": "tag-d"}
    client.untag_resource(Resource=arn, TagKeys=["A", "testtag", "nonexisting"])
    assert client.list_tags(Resource=arn)["Tags"] == {"C": "tag-c-newsuffix", "D": "tag-d"}
    revision = client.get_function(FunctionName="t")["Configuration"]["RevisionId"]
    client.untag_resource(Resource=arn, TagKeys=["C", "D"])
    assert client.list_tags(Resource=arn)["Tags"] == {}
    assert "Tags" not in client.get_function(FunctionName="t")
    assert client.get_function(FunctionName="t")["Configuration"]["RevisionId"] == revision


def test_tag_errors_as_recorded_on_aws(client: Any) -> None:
    arn = create(client, "te")["FunctionArn"]
    with pytest.raises(client.exceptions.ResourceNotFoundException) as e:
        client.tag_resource(Resource=ARN + "doesnotexist", Tags={"A": "a"})
    assert e.value.response["Message"] == f"Function not found: {ARN}doesnotexist"
    with pytest.raises(client.exceptions.InvalidParameterValueException) as e:
        client.tag_resource(Resource=arn + ":alias", Tags={"A": "a"})
    assert e.value.response["message"] == (
        "Tags on function aliases and versions are not supported. Please specify a function ARN."
    )
    for tags, aws_sentence in (
        ({}, "An error occurred and the request cannot be processed."),
        ({f"k{i}": "v" for i in range(51)}, "Number of tags exceeds resource tag limit."),
    ):
        with pytest.raises(client.exceptions.InvalidParameterValueException) as e:
            client.tag_resource(Resource=arn, Tags=tags)
        assert e.value.response["message"].startswith(aws_sentence)  # AWS's, then a hint
    assert client.list_tags(Resource=arn)["Tags"] == {}


# -- 7. Region and account ------------------------------------------------------------


def _client_in(url: str, region: str) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client(
        "lambda", endpoint_url=url, region_name=region, aws_access_key_id="AKIDEXAMPLE",
        aws_secret_access_key="x", config=Config(retries={"total_max_attempts": 1}),
    )


def test_a_lab_for_account_123456789012_in_us_west_2(tmp_path: Path, clock: VirtualClock) -> None:
    with Lab(data_dir=tmp_path / "w", clock=clock, region="us-west-2",
             account_id="123456789012") as lab, EdgeServer(lab, port=0) as server:
        west = _client_in(server.url, "us-west-2")
        arn = "arn:aws:lambda:us-west-2:123456789012:function:ctx"
        assert create(west, "ctx", CONTEXT)["FunctionArn"] == arn
        assert json.loads(west.invoke(FunctionName=arn)["Payload"].read()) == {"arn": arn}
        config = west.get_function_configuration(FunctionName="ctx")
        assert config["RuntimeVersionConfig"]["RuntimeVersionArn"].startswith(
            "arn:aws:lambda:us-west-2::runtime:")


def test_region_and_account_from_the_environment(
    tmp_path: Path, clock: VirtualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LAMBDALAB_REGION", "eu-west-1")
    monkeypatch.setenv("LAMBDALAB_ACCOUNT_ID", "111122223333")
    with Lab(data_dir=tmp_path / "env", clock=clock) as lab:
        assert lab.arns.function("f") == "arn:aws:lambda:eu-west-1:111122223333:function:f"
    monkeypatch.setenv("LAMBDALAB_REGION", "not a region")
    with pytest.raises(lambdalab_errors.InvalidParameterValueException, match="Region"):
        Lab(data_dir=tmp_path / "bad", clock=clock)


def test_answers_name_the_region_the_client_signed_for(edge: Any) -> None:
    west = _client_in(edge.url, "us-west-2")
    created = create(west, "r")
    assert created["FunctionArn"] == f"arn:aws:lambda:us-west-2:{ACCOUNT}:function:r"
    east = _client_in(edge.url, "us-east-1")  # another region: its own functions (test_regions)
    with pytest.raises(east.exceptions.ResourceNotFoundException):
        east.get_function(FunctionName="r")


def test_serve_takes_region_account_and_state_transition(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from lambdalab.cli.app import main

    result = CliRunner().invoke(
        main, ["--data-dir", str(tmp_path / "d"), "serve", "--port", "0", "--region", "mars"]
    )
    assert result.exit_code != 0 and "Region: 'mars' is not a region name" in result.output
    assert "--account-id" in CliRunner().invoke(main, ["serve", "--help"]).output


# -- 8. Code from S3, and Code.Location -----------------------------------------------


def test_code_from_lambdalabs_own_s3(client: Any, edge: Any) -> None:
    import urllib.request

    s3 = client_for(edge.url, "s3")
    s3.create_bucket(Bucket="deploy")
    package = zip_of(app=CONTEXT)
    s3.put_object(Bucket="deploy", Key="fn.zip", Body=package)
    created = client.create_function(
        FunctionName="from-s3", Runtime="python3.11", Role=ROLE, Handler="app.handler",
        Code={"S3Bucket": "deploy", "S3Key": "fn.zip"},
    )
    assert json.loads(client.invoke(FunctionName="from-s3")["Payload"].read()) == {
        "arn": ARN + "from-s3"}
    location = client.get_function(FunctionName="from-s3")["Code"]["Location"]
    assert location.startswith(edge.url + "/")  # an HTTP URL that downloads the zip
    with urllib.request.urlopen(location) as answer:
        assert answer.read() == package
    s3.put_object(Bucket="deploy", Key="v2.zip", Body=zip_of(app=ECHO_V2))
    updated = client.update_function_code(FunctionName="from-s3", S3Bucket="deploy",
                                          S3Key="v2.zip", S3ObjectVersion="null")
    assert updated["CodeSha256"] != created["CodeSha256"]
    assert json.loads(client.invoke(FunctionName="from-s3")["Payload"].read()) == "v2"
    for code, aws_sentence in (
        ({"S3Bucket": "nobucket", "S3Key": "fn.zip"},
         "Error occurred while GetObject. S3 Error Code: NoSuchBucket. S3 Error Message: "
         "The specified bucket does not exist"),
        ({"S3Bucket": "deploy", "S3Key": "nokey.zip"},
         "Error occurred while GetObject. S3 Error Code: NoSuchKey. S3 Error Message: "
         "The specified key does not exist."),
    ):
        with pytest.raises(client.exceptions.InvalidParameterValueException) as e:
            client.create_function(FunctionName="bad", Runtime="python3.11", Role=ROLE,
                                   Handler="app.handler", Code=code)
        assert e.value.response["message"].startswith(aws_sentence)
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.get_function(FunctionName="bad")  # nothing half-created


# -- 9. Code signing, InvokeAsync, container images ------------------------------------


def test_get_function_code_signing_config_answers_none(client: Any) -> None:
    create(client, "signed")
    answer = client.get_function_code_signing_config(FunctionName="signed")
    assert answer["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert "CodeSigningConfigArn" not in answer
    with pytest.raises(client.exceptions.ResourceNotFoundException) as e:
        client.get_function_code_signing_config(FunctionName="csc-test-doesnotexist")
    assert e.value.response["Message"] == f"Function not found: {ARN}csc-test-doesnotexist"


def test_invoke_async_queues_an_event(client: Any, lab: Lab) -> None:
    create(client, "old")
    answer = client.invoke_async(FunctionName="old", InvokeArgs=b'{"from": "2014"}')
    assert (answer["Status"], answer["ResponseMetadata"]["HTTPStatusCode"]) == (202, 202)
    assert lab.wait_for_events(timeout=120)
    assert any("'from': '2014'" in e.message for e in lab.get_logs("old"))


def test_container_images_are_refused_with_aws_sentence(client: Any) -> None:
    with pytest.raises(client.exceptions.InvalidParameterValueException) as e:
        client.create_function(
            FunctionName="img", Role=ROLE, PackageType="Image",
            Code={"ImageUri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/app:latest"},
        )
    assert e.value.response["message"].startswith(
        "Source image 123456789012.dkr.ecr.us-east-1.amazonaws.com/app:latest does not "
        "exist. Provide a valid source image. lambdalab runs .zip packages only"
    )


def test_aws_sentence_comes_first_and_the_hint_after(client: Any) -> None:
    create(client, "mix", Publish=True)
    with pytest.raises(client.exceptions.InvalidParameterValueException) as e:
        client.get_function(FunctionName="mix:1", Qualifier="2")
    assert e.value.response["message"].startswith(
        "The derived qualifier from the function name does not match the specified qualifier."
    )
    with pytest.raises(client.exceptions.InvalidParameterValueException) as e:
        client.delete_function(FunctionName="mix", Qualifier="$LATEST")
    assert e.value.response["message"].startswith(
        "$LATEST version cannot be deleted without deleting the function."
    )


def test_a_function_arn_of_another_region_is_not_reachable(client: Any) -> None:
    """The snapshot's test_get_function_wrong_region."""
    create(client, "here")
    elsewhere = f"arn:aws:lambda:eu-central-1:{ACCOUNT}:function:here"
    for call in (
        lambda: client.get_function(FunctionName=elsewhere),
        lambda: client.invoke(FunctionName=elsewhere),
        lambda: client.delete_function(FunctionName=elsewhere),
        lambda: client.get_function_concurrency(FunctionName=elsewhere),
    ):
        with pytest.raises(client.exceptions.ResourceNotFoundException) as e:
            call()
        assert e.value.response["Message"] == (
            "Functions from 'eu-central-1' are not reachable in this region ('us-east-1')"
        )
    assert client.get_function(FunctionName=ARN + "here")["Configuration"]["FunctionName"] == "here"


def test_other_answers_have_the_members_aws_recorded(client: Any) -> None:
    """Member sets from the snapshot's test_alias_lifecycle, test_function_concurrency,
    test_add_lambda_permission_aws, test_lambda_eventinvokeconfig_lifecycle and
    test_account_settings."""
    create(client, "o")
    client.update_function_configuration(FunctionName="o", Description="v1")
    client.publish_version(FunctionName="o")
    client.update_function_configuration(FunctionName="o", Description="v2")
    client.publish_version(FunctionName="o")

    def members(answer: dict[str, Any]) -> set[str]:
        return set(answer) - {"ResponseMetadata"}

    alias = {"AliasArn", "Description", "FunctionVersion", "Name", "RevisionId"}
    weighted = client.create_alias(FunctionName="o", Name="a", FunctionVersion="1",
                                   RoutingConfig={"AdditionalVersionWeights": {"2": 0.2}})
    assert members(weighted) == alias | {"RoutingConfig"}
    assert members(client.create_alias(FunctionName="o", Name="b", FunctionVersion="2")) == alias
    assert members(client.update_alias(FunctionName="o", Name="b", Description="x")) == alias
    assert all(members(a) <= alias | {"RoutingConfig"}
               for a in client.list_aliases(FunctionName="o")["Aliases"])
    assert client.delete_alias(FunctionName="o", Name="b")["ResponseMetadata"][
        "HTTPStatusCode"] == 204

    retries = client.put_function_event_invoke_config(FunctionName="o", MaximumRetryAttempts=0)
    assert members(retries) == {"DestinationConfig", "FunctionArn", "LastModified",
                                "MaximumRetryAttempts"}
    assert retries["FunctionArn"] == ARN + "o:$LATEST"
    assert retries["DestinationConfig"] == {"OnSuccess": {}, "OnFailure": {}}

    assert members(client.add_permission(
        FunctionName="o", StatementId="s", Action="lambda:InvokeFunction",
        Principal="s3.amazonaws.com")) == {"Statement"}
    assert members(client.get_policy(FunctionName="o")) == {"Policy", "RevisionId"}

    assert members(client.put_function_concurrency(
        FunctionName="o", ReservedConcurrentExecutions=1)) == {"ReservedConcurrentExecutions"}
    client.delete_function_concurrency(FunctionName="o")
    assert members(client.get_function_concurrency(FunctionName="o")) == set()

    settings = client.get_account_settings()
    assert set(settings["AccountLimit"]) == {
        "CodeSizeUnzipped", "CodeSizeZipped", "ConcurrentExecutions", "TotalCodeSize",
        "UnreservedConcurrentExecutions"}
    assert set(settings["AccountUsage"]) == {"FunctionCount", "TotalCodeSize"}
