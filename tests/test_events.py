"""Generated service events: each shape is read back by what real handlers use.

Where aws-lambda-powertools has a data class for the event, the test builds it from the
generated JSON and reads the fields a handler would; where it has a Pydantic model, the
event must validate. Services powertools does not cover are checked against the fields
AWS's documentation lists. Then the registry, the CLI and a real invoke through a Lab.
"""

from __future__ import annotations

import base64
import gzip
import json
from pathlib import Path
from typing import Any, Callable

import pytest
from aws_lambda_powertools.utilities import data_classes as dc
from aws_lambda_powertools.utilities.data_classes import cognito_user_pool_event as cognito
from aws_lambda_powertools.utilities.parser import models
from click.testing import CliRunner, Result

from lambdalab import Lab, events
from lambdalab.cli import app as cli
from lambdalab.service_events import _common


def roundtrip(event: dict[str, Any]) -> dict[str, Any]:
    """What a handler receives: the event after JSON encoding, as Lambda sends it."""
    return json.loads(json.dumps(event))


# -- services with a powertools data class and model ------------------------------------


def test_sns() -> None:
    event = roundtrip(
        events.generate(
            "sns", message="hi", subject="Hello", topic="alerts", attributes={"env": "prod"}
        )
    )
    sns = dc.SNSEvent(event)
    assert sns.sns_message == "hi"
    assert sns.record.sns.subject == "Hello"
    assert sns.record.sns.topic_arn == "arn:aws:sns:us-east-1:000000000000:alerts"
    assert sns.record.event_subscription_arn.startswith(sns.record.sns.topic_arn + ":")
    assert sns.record.sns.message_attributes["env"].value == "prod"
    models.SnsModel.model_validate(event)


def test_sns_without_subject_sends_null() -> None:
    assert events.generate("sns")["Records"][0]["Sns"]["Subject"] is None


def test_sqs_batch() -> None:
    event = roundtrip(
        events.generate("sqs", body='{"n": 1}', queue="jobs", count=3, region="eu-west-1")
    )
    sqs = dc.SQSEvent(event)
    bodies = [record.json_body for record in sqs.records]
    assert bodies == [{"n": 1}] * 3
    first = next(iter(sqs.records))
    assert first.event_source_arn == "arn:aws:sqs:eu-west-1:000000000000:jobs"
    assert first.aws_region == "eu-west-1"
    assert first.md5_of_body == _common.md5_hex('{"n": 1}')
    assert len({record.message_id for record in sqs.records}) == 3
    models.SqsModel.model_validate(event)


def test_sqs_fifo_and_attributes() -> None:
    event = events.generate("sqs", queue="orders.fifo", attributes={"kind": "order"})
    record = next(iter(dc.SQSEvent(event).records))
    assert record.attributes.message_group_id == "1"
    assert record.attributes.message_deduplication_id
    assert record.message_attributes["kind"].string_value == "order"
    assert record["md5OfMessageAttributes"] == _common.sqs_attributes_md5(
        event["Records"][0]["messageAttributes"]
    )
    models.SqsModel.model_validate(event)


def test_sqs_attributes_md5_follows_the_documented_encoding() -> None:
    # Sorted by name; each of name, type and value length-prefixed; 1 = string transport.
    encoded = (
        b"\x00\x00\x00\x01a"
        b"\x00\x00\x00\x06String"
        b"\x01\x00\x00\x00\x011"
        b"\x00\x00\x00\x04kind"
        b"\x00\x00\x00\x06String"
        b"\x01\x00\x00\x00\x05order"
    )
    attributes = {
        "kind": {"dataType": "String", "stringValue": "order"},
        "a": {"dataType": "String", "stringValue": "1"},
    }
    assert _common.sqs_attributes_md5(attributes) == _common.md5_hex(encoded)


def test_ses() -> None:
    event = roundtrip(
        events.generate(
            "ses",
            sender="a@example.com",
            recipient="b@example.com",
            subject="Invoice",
            function="mailer",
        )
    )
    ses = dc.SESEvent(event)
    mail = ses.record.ses.mail
    assert mail.source == "a@example.com"
    assert mail.common_headers.subject == "Invoice"
    assert mail.common_headers.to == ["b@example.com"]
    assert ses.record.ses.receipt.action.function_arn.endswith(":function:mailer")
    assert ses.record.ses.receipt.action.invocation_type == "Event"
    models.SesModel.model_validate(event)


def test_s3_put_with_an_encoded_key() -> None:
    event = roundtrip(events.generate("s3", bucket="photos", key="2024/my photo.jpg", size=2048))
    s3 = dc.S3Event(event)
    assert s3.bucket_name == "photos"
    assert s3.object_key == "2024/my photo.jpg"  # decoded back from "2024/my+photo.jpg"
    assert s3.record.s3.get_object.size == 2048
    assert s3.record.event_name == "ObjectCreated:Put"
    assert s3.record.s3.bucket.arn == "arn:aws:s3:::photos"
    models.S3Model.model_validate(event)


def test_s3_removal_has_no_size() -> None:
    event = events.generate("s3", event_name="ObjectRemoved:Delete")
    assert "size" not in event["Records"][0]["s3"]["object"]
    models.S3Model.model_validate(event)


@pytest.mark.parametrize("user_arguments", [None, {"mode": "thumbnail"}])
def test_s3_batch(user_arguments: dict[str, str] | None) -> None:
    event = roundtrip(
        events.generate("s3-batch", bucket="archive", key="a.txt", user_arguments=user_arguments)
    )
    batch = dc.S3BatchOperationEvent(event)
    assert batch.task.s3_key == "a.txt"
    assert batch.task.s3_bucket == "archive"
    assert batch.invocation_schema_version == ("1.0" if user_arguments is None else "2.0")
    assert batch.job.user_arguments == (user_arguments or {})
    models.S3BatchOperationModel.model_validate(event)


@pytest.mark.parametrize(
    ("event_name", "images"),
    [("INSERT", {"NewImage"}), ("MODIFY", {"NewImage", "OldImage"}), ("REMOVE", {"OldImage"})],
)
def test_dynamodb_stream(event_name: str, images: set[str]) -> None:
    item = {"Id": 7, "Name": "ana", "Tags": ["a"], "Active": True, "Extra": None}
    event = roundtrip(events.generate("dynamodb", table="users", event_name=event_name, item=item))
    record = next(dc.DynamoDBStreamEvent(event).records)
    assert record.event_name.name == event_name
    assert record.dynamodb.keys == {"Id": 7}
    change = event["Records"][0]["dynamodb"]
    assert {key for key in change if key.endswith("Image")} == images
    image = record.dynamodb.new_image if "NewImage" in images else record.dynamodb.old_image
    assert image == item
    assert ":table/users/stream/" in record.event_source_arn
    models.DynamoDBStreamModel.model_validate(event)


def test_kinesis_data_is_base64() -> None:
    event = roundtrip(events.generate("kinesis", data='{"temp": 21}', stream="sensors", count=2))
    kinesis = dc.KinesisStreamEvent(event)
    records = list(kinesis.records)
    assert [r.kinesis.data_as_json() for r in records] == [{"temp": 21}] * 2
    assert records[0].event_source_arn.endswith(":stream/sensors")
    assert int(records[0].kinesis.sequence_number) < int(records[1].kinesis.sequence_number)
    assert records[0].invoke_identity_arn.endswith(":role/lambdalab-execution-role")
    models.KinesisDataStreamModel.model_validate(event)


def test_firehose() -> None:
    event = roundtrip(events.generate("firehose", data="line", delivery_stream="logs", count=2))
    firehose = dc.KinesisFirehoseEvent(event)
    assert [record.data_as_text for record in firehose.records] == ["line", "line"]
    assert firehose.delivery_stream_arn.endswith(":deliverystream/logs")
    models.KinesisFirehoseModel.model_validate(event)


def test_kafka() -> None:
    event = roundtrip(
        events.generate("kafka", value='{"a": 1}', key="k", topic="orders", partition=3)
    )
    kafka = dc.KafkaEvent(event)
    record = next(kafka.records)
    assert record.topic == "orders" and record.partition == 3
    assert record.json_value == {"a": 1}
    assert record.decoded_key == b"k"
    assert record.decoded_headers == {"headerKey": b"headerValue"}
    assert len(kafka.decoded_bootstrap_servers) == 2
    models.KafkaMskEventModel.model_validate(event)


def test_apigateway_rest() -> None:
    event = roundtrip(
        events.generate(
            "apigateway-rest",
            method="POST",
            path="/orders",
            body='{"id": 1}',
            query={"page": "2"},
            headers={"X-Trace": "t"},
        )
    )
    api = dc.APIGatewayProxyEvent(event)
    assert api.http_method == "POST" and api.path == "/orders"
    assert api.json_body == {"id": 1}
    assert api.query_string_parameters == {"page": "2"}
    assert api.multi_value_query_string_parameters == {"page": ["2"]}
    assert api.headers["x-trace"] == "t"
    assert api.request_context.stage == "prod"
    assert api.request_context.path == "/prod/orders"
    models.APIGatewayProxyEventModel.model_validate(event)


def test_apigateway_http() -> None:
    event = roundtrip(
        events.generate(
            "apigateway-http",
            method="PUT",
            path="/items/1",
            body="x",
            query={"a": "1", "b": "2"},
            route_key="PUT /items/{id}",
        )
    )
    api = dc.APIGatewayProxyEventV2(event)
    assert api.raw_path == "/items/1" and api.raw_query_string == "a=1&b=2"
    assert api.request_context.http.method == "PUT"
    assert api.route_key == "PUT /items/{id}"
    assert api.body == "x"
    models.APIGatewayProxyEventV2Model.model_validate(event)


def test_apigateway_http_without_body_leaves_it_out() -> None:
    event = events.generate("apigateway-http")
    assert "body" not in event and "queryStringParameters" not in event
    models.APIGatewayProxyEventV2Model.model_validate(event)


def test_alb() -> None:
    event = roundtrip(events.generate("alb", method="GET", path="/health", target_group="web"))
    alb = dc.ALBEvent(event)
    assert alb.path == "/health" and alb.http_method == "GET"
    assert ":targetgroup/web/" in alb.request_context.elb_target_group_arn
    assert alb.query_string_parameters == {}
    models.AlbModel.model_validate(event)


def test_cloudwatch_logs_are_really_gzipped() -> None:
    event = roundtrip(
        events.generate(
            "cloudwatch-logs", message="one\ntwo", log_group="/aws/lambda/app", filter_name="errors"
        )
    )
    raw = gzip.decompress(base64.b64decode(event["awslogs"]["data"]))  # really compressed
    assert json.loads(raw)["logGroup"] == "/aws/lambda/app"
    logs = dc.CloudWatchLogsEvent(event).parse_logs_data()
    assert [e.message for e in logs.log_events] == ["one", "two"]
    assert logs.subscription_filters == ["errors"]
    assert logs.message_type == "DATA_MESSAGE"
    model = models.CloudWatchLogsModel.model_validate(event)
    assert model.awslogs.decoded_data.logGroup == "/aws/lambda/app"


def test_eventbridge_custom_event() -> None:
    event = roundtrip(
        events.generate(
            "eventbridge", source="shop", detail_type="OrderPlaced", detail={"orderId": "9"}
        )
    )
    bridge = dc.EventBridgeEvent(event)
    assert bridge.source == "shop" and bridge.detail_type == "OrderPlaced"
    assert bridge.detail == {"orderId": "9"}
    models.EventBridgeModel.model_validate(event)


def test_scheduled_event() -> None:
    event = roundtrip(events.generate("scheduled-event", rule="nightly"))
    bridge = dc.EventBridgeEvent(event)
    assert bridge.detail_type == "Scheduled Event" and bridge.source == "aws.events"
    assert bridge.resources == ["arn:aws:events:us-east-1:000000000000:rule/nightly"]
    assert bridge.detail == {}
    models.EventBridgeModel.model_validate(event)


def test_codepipeline_job() -> None:
    event = roundtrip(
        events.generate(
            "codepipeline",
            function="deployer",
            user_parameters='{"env": "prod"}',
            artifact_bucket="art",
        )
    )
    job = dc.CodePipelineJobEvent(event)
    assert job.get_id and job.account_id == "000000000000"
    assert job.data.action_configuration.configuration.function_name == "deployer"
    assert job.decoded_user_parameters == {"env": "prod"}
    assert job.input_bucket_name == "art"
    assert job.data.artifact_credentials.access_key_id


@pytest.mark.parametrize(
    ("request_type", "model"),
    [
        ("Create", models.CloudFormationCustomResourceCreateModel),
        ("Update", models.CloudFormationCustomResourceUpdateModel),
        ("Delete", models.CloudFormationCustomResourceDeleteModel),
    ],
)
def test_cloudformation_custom_resource(request_type: str, model: Any) -> None:
    event = roundtrip(
        events.generate(
            "cloudformation",
            request_type=request_type,
            properties={"Size": "3"},
            old_properties={"Size": "2"},
            function="provider",
        )
    )
    resource = dc.CloudFormationCustomResourceEvent(event)
    assert resource.request_type == request_type
    assert resource.resource_properties["Size"] == "3"
    assert resource.service_token.endswith(":function:provider")
    assert resource.resource_properties["ServiceToken"] == resource.service_token
    if request_type == "Update":
        assert resource.old_resource_properties["Size"] == "2"
    assert bool(resource.physical_resource_id) == (request_type != "Create")
    model.model_validate(event)


def test_config_rule() -> None:
    event = roundtrip(
        events.generate("config", rule="instance-type", configuration={"instanceType": "m5.large"})
    )
    rule = dc.AWSConfigRuleEvent(event)
    assert rule.config_rule_name == "instance-type"
    assert rule.rule_parameters == {"desiredInstanceType": "t2.micro"}
    invoking = rule.invoking_event
    assert invoking.message_type == "ConfigurationItemChangeNotification"
    assert invoking.configuration_item.resource_type == "AWS::EC2::Instance"
    assert invoking.configuration_item.configuration == {"instanceType": "m5.large"}
    assert invoking.configuration_item.resource_arn.startswith("arn:aws:ec2:us-east-1:")


def test_cognito_pre_sign_up() -> None:
    event = roundtrip(events.generate("cognito", user_name="ana", email="ana@example.com"))
    signup = cognito.PreSignUpTriggerEvent(event)
    assert signup.user_name == "ana" and signup.trigger_source == "PreSignUp_SignUp"
    assert signup.request.user_attributes == {"email": "ana@example.com"}
    assert signup.user_pool_id.startswith("us-east-1_")
    signup.response.auto_confirm_user = True  # what a handler does: writes the response
    assert event["response"]["autoConfirmUser"] is True
    models.CognitoPreSignupTriggerModel.model_validate(event)


# -- services without powertools coverage: the fields AWS documents ---------------------


def test_codecommit_trigger() -> None:
    event = events.generate(
        "codecommit",
        repository="app",
        ref="refs/tags/v1",
        created=True,
        commit="a" * 40,
        custom_data="hello",
    )
    record = event["Records"][0]
    assert record["eventSource"] == "aws:codecommit"
    assert record["eventSourceARN"] == "arn:aws:codecommit:us-east-1:000000000000:app"
    assert record["codecommit"]["references"] == [
        {"commit": "a" * 40, "ref": "refs/tags/v1", "created": True}
    ]
    assert record["customData"] == "hello"
    assert record["eventTime"].endswith("+0000")
    for field in (
        "eventId",
        "eventName",
        "eventPartNumber",
        "eventTotalParts",
        "eventTriggerConfigId",
        "eventTriggerName",
        "eventVersion",
        "userIdentityARN",
        "awsRegion",
    ):
        assert field in record


def test_cloudfront_viewer_request() -> None:
    event = events.generate("cloudfront", uri="/index.html", querystring="a=1")
    cf = event["Records"][0]["cf"]
    assert cf["config"]["eventType"] == "viewer-request"
    assert cf["config"]["distributionDomainName"].endswith(".cloudfront.net")
    request = cf["request"]
    assert request["uri"] == "/index.html" and request["querystring"] == "a=1"
    assert request["headers"]["host"] == [
        {"key": "Host", "value": cf["config"]["distributionDomainName"]}
    ]


def test_lex_v2() -> None:
    event = events.generate(
        "lex", intent="BookHotel", slots={"City": "Lisbon"}, invocation_source="FulfillmentCodeHook"
    )
    assert event["messageVersion"] == "1.0" and event["invocationSource"] == "FulfillmentCodeHook"
    intent = event["sessionState"]["intent"]
    assert intent["name"] == "BookHotel"
    assert intent["slots"]["City"]["value"]["interpretedValue"] == "Lisbon"
    assert event["interpretations"][0]["intent"] == intent
    assert set(event["bot"]) == {"id", "name", "aliasId", "aliasName", "localeId", "version"}


@pytest.mark.parametrize("request_type", ["LaunchRequest", "IntentRequest", "SessionEndedRequest"])
def test_alexa_skill_request(request_type: str) -> None:
    event = events.generate(
        "alexa", request_type=request_type, intent="GetWeather", slots={"City": "Oslo"}
    )
    assert event["version"] == "1.0"
    assert event["request"]["type"] == request_type
    assert event["session"]["application"] == event["context"]["System"]["application"]
    assert ("intent" in event["request"]) == (request_type == "IntentRequest")
    if request_type == "IntentRequest":
        assert event["request"]["intent"]["slots"]["City"]["value"] == "Oslo"


def test_iot_rule_passes_the_message() -> None:
    assert events.generate("iot", message={"temp": 3}) == {"temp": 3}
    assert events.generate("iot")["moisture"] == "75"


def test_iot_events_action() -> None:
    event = events.generate("iot-events", detector_model="boiler", key_value="b-1", state="Hot")
    payload = event["event"]["payload"]
    assert payload["detector"]["detectorModelName"] == "boiler"
    assert payload["detector"]["keyValue"] == "b-1"
    assert payload["state"]["stateName"] == "Hot"
    assert payload["eventTriggerDetails"]["triggerType"] == "Message"
    assert isinstance(event["event"]["eventTime"], int)


def test_step_functions_input_is_free_form() -> None:
    assert events.generate("stepfunctions", input={"x": [1, 2]}) == {"x": [1, 2]}


# -- the registry -----------------------------------------------------------------------


SEED_SERVICES = {
    "sns",
    "ses",
    "cognito",
    "cloudwatch-logs",
    "eventbridge",
    "scheduled-event",
    "codecommit",
    "codepipeline",
    "cloudformation",
    "config",
    "iot",
    "iot-events",
    "lex",
    "alexa",
    "cloudfront",
    "alb",
    "apigateway-rest",
    "apigateway-http",
    "kinesis",
    "dynamodb",
    "firehose",
    "s3",
    "s3-batch",
    "sqs",
    "stepfunctions",
    "kafka",
}


def test_every_seed_service_has_a_generator_with_a_doc_page() -> None:
    assert {source.name for source in events.sources()} == SEED_SERVICES
    for source in events.sources():
        assert source.doc_url.startswith("https://"), source.name
        assert source.doc_url in (source.generator.__doc__ or "")
        assert source.title and all(option.help for option in source.options), source.name


@pytest.mark.parametrize(
    ("service", "invocation", "invocation_type"),
    [
        ("sns", events.ASYNC, "Event"),
        ("s3", events.ASYNC, "Event"),
        ("cloudwatch-logs", events.ASYNC, "Event"),
        ("codepipeline", events.ASYNC, "Event"),
        ("apigateway-rest", events.SYNC, "RequestResponse"),
        ("cognito", events.SYNC, "RequestResponse"),
        ("s3-batch", events.SYNC, "RequestResponse"),
        ("firehose", events.SYNC, "RequestResponse"),
        ("sqs", events.POLL, "RequestResponse"),
        ("kinesis", events.POLL, "RequestResponse"),
        ("dynamodb", events.POLL, "RequestResponse"),
    ],
)
def test_invocation_styles_follow_the_aws_table(
    service: str, invocation: str, invocation_type: str
) -> None:
    source = events.get(service)
    assert (source.invocation, source.invocation_type) == (invocation, invocation_type)


def test_unknown_service_and_option_name_the_fix() -> None:
    with pytest.raises(events.UnknownEventSource, match="choose one of: alb, alexa"):
        events.generate("sms")
    with pytest.raises(TypeError, match="no option mesage; its options are: message, subject"):
        events.generate("sns", mesage="hi")


def test_generated_events_are_fresh_each_time() -> None:
    first, second = events.generate("sqs"), events.generate("sqs")
    assert first["Records"][0]["messageId"] != second["Records"][0]["messageId"]


def test_dynamodb_json_types() -> None:
    assert _common.dynamodb_json({"a": [1, "x", True, None, b"\x00"]}) == {
        "M": {"a": {"L": [{"N": "1"}, {"S": "x"}, {"BOOL": True}, {"NULL": True}, {"B": "AA=="}]}}
    }
    with pytest.raises(TypeError, match="no DynamoDB type"):
        _common.dynamodb_json(object())


# -- the command line -------------------------------------------------------------------


@pytest.fixture
def run(tmp_path: Path) -> Callable[..., Result]:
    runner = CliRunner()

    def invoke(*args: str, input: str | None = None) -> Result:
        return runner.invoke(cli.main, ["--data-dir", str(tmp_path / "data"), *args], input=input)

    return invoke


def test_cli_generate_prints_the_event(run: Callable[..., Result]) -> None:
    result = run("event", "generate", "s3", "--bucket", "photos", "--key", "a b.png", "--size", "7")
    assert result.exit_code == 0, result.output
    s3 = dc.S3Event(json.loads(result.stdout))
    assert (s3.bucket_name, s3.object_key, s3.record.s3.get_object.size) == ("photos", "a b.png", 7)


def test_cli_json_choice_and_flag_options(run: Callable[..., Result]) -> None:
    result = run(
        "event", "generate", "dynamodb", "--event-name", "MODIFY", "--item", '{"Id": 1, "N": "x"}'
    )
    assert result.exit_code == 0, result.output
    assert "OldImage" in json.loads(result.stdout)["Records"][0]["dynamodb"]
    flagged = run("event", "generate", "codecommit", "--created")
    assert (
        json.loads(flagged.stdout)["Records"][0]["codecommit"]["references"][0]["created"] is True
    )
    bad_json = run("event", "generate", "dynamodb", "--item", "{nope")
    assert bad_json.exit_code == 2 and "is not JSON" in bad_json.output
    bad_choice = run("event", "generate", "dynamodb", "--event-name", "UPSERT")
    assert bad_choice.exit_code == 2 and "INSERT" in bad_choice.output


def test_cli_options_that_do_not_fit_are_usage_errors(run: Callable[..., Result]) -> None:
    result = run("event", "generate", "dynamodb", "--item", '{"Name": "ana"}')
    assert result.exit_code == 2 and "no 'Id' attribute, the table's key" in result.output
    result = run("event", "generate", "config", "--resource-type", "EC2Instance")
    assert result.exit_code == 2 and "use AWS::SERVICE::KIND" in result.output


def test_cli_help_lists_each_option_with_its_default(run: Callable[..., Result]) -> None:
    result = run("event", "generate", "sqs", "--help")
    assert result.exit_code == 0
    for text in (
        "--body",
        "--queue",
        "--count",
        "Hello from SQS!",
        "event source mapping",
        "https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html",
    ):
        assert text in result.output


def test_cli_list_shows_how_each_service_invokes(run: Callable[..., Result]) -> None:
    result = run("event", "list")
    assert result.exit_code == 0
    lines = {line.split()[1]: line for line in result.stdout.splitlines() if line.startswith("│")}
    assert set(lines) >= SEED_SERVICES
    assert "asynchronous" in lines["sns"] and "Event" in lines["sns"]
    assert "event source mapping" in lines["sqs"] and "RequestResponse" in lines["sqs"]
    assert "synchronous" in lines["alb"]


# -- through a real invoke --------------------------------------------------------------


def thumbnail_names(event: dict[str, Any], context: Any) -> list[str]:
    return [f"thumbs/{r['s3']['object']['key']}" for r in event["Records"]]


def test_an_asynchronous_service_event_through_a_lab(tmp_path: Path) -> None:
    with Lab(data_dir=tmp_path / "data") as lab:
        lab.create_function("thumbs", code=thumbnail_names)
        source = events.get("s3")
        queued = lab.invoke(
            "thumbs", source.generate(key="cat.jpg"), invocation_type=source.invocation_type
        )
        assert queued.status_code == 202  # S3 does not wait: the event is queued
        assert lab.wait_for_events(timeout=30)
        assert any("END RequestId" in e.message for e in lab.get_logs("thumbs"))
        answer = lab.invoke("thumbs", source.generate(key="cat.jpg"))
        assert answer.json() == ["thumbs/cat.jpg"]


def test_cli_pipe_into_invoke(run: Callable[..., Result], tmp_path: Path) -> None:
    code = tmp_path / "code"
    code.mkdir()
    (code / "app.py").write_text(
        "def handler(event, context):\n    return event['Records'][0]['Sns']['Message']\n"
    )
    assert run("create", "echo", "--code", str(code), "--handler", "app.handler").exit_code == 0
    generated = run("event", "generate", "sns", "--message", "ping").stdout
    result = run("invoke", "echo", "--payload-file", "-", input=generated)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == "ping"


def test_the_old_name_lambdalab_events_is_the_same_api() -> None:
    """The package moved to lambdalab.service_events ("event" means three things);
    code that imports lambdalab.events keeps working."""
    import lambdalab.events
    import lambdalab.service_events

    assert lambdalab.events.__all__ == lambdalab.service_events.__all__
    for name in lambdalab.service_events.__all__:
        assert getattr(lambdalab.events, name) is getattr(lambdalab.service_events, name)
