"""What handlers and callers receive, judged against AWS's recorded answers.

The expectations come from responses LocalStack recorded against real AWS
(``tests/aws/services/lambda_/*.snapshot.json`` in localstack/localstack) and from the
AWS pages cited per test.
"""

from __future__ import annotations

import http.client
import json
from typing import Any
from urllib.parse import urlsplit

import pytest

from lambdalab import Lab
from lambdalab.server import EdgeServer

from .edge_support import client, create, edge  # noqa: F401  (fixtures)

# -- function URLs (https://docs.aws.amazon.com/lambda/latest/dg/urls-invocation.html) --

RETURNS = """
import json
def handler(event, context):
    return json.loads(event["body"])
"""
ECHO_EVENT = """
import json
def handler(event, context):
    return {"statusCode": 200, "body": json.dumps(event)}
"""
FAILS = """
def handler(event, context):
    raise RuntimeError("boom")
"""


def request(url: str, method: str = "GET", path: str = "", body: bytes | None = None,
            headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    connection.request(method, parts.path.rstrip("/") + path, body=body, headers=headers or {})
    response = connection.getresponse()
    data = response.read()
    connection.close()
    return response.status, {k.lower(): v for k, v in response.getheaders()}, data


def url_of(client: Any, name: str, source: str) -> str:
    create(client, name, source)
    return str(client.create_function_url_config(FunctionName=name, AuthType="NONE")
               ["FunctionUrl"])


# test_lambda.snapshot.json, TestLambdaURL::test_lambda_url_invocation[…]: what the
# handler returns → the body AWS sent (always 200, Content-Type application/json).
@pytest.mark.parametrize("returned, body", [
    ({"hello": "world"}, b'{"hello":"world"}'),
    ({"statusCode": 200, "body": "body123"}, b"body123"),
    ({"statusCode": 200, "body": '{"hello": "world"}'}, b'{"hello": "world"}'),
    (["hello", 3, True], b'["hello",3,true]'),
    ("hello", b"hello"),
    ("<p>hi</p>", b"<p>hi</p>"),
    (3, b"3"),
    (3.1, b"3.1"),
    (True, b"true"),
])
def test_url_answers_are_sent_as_aws_sends_them(client: Any, edge: EdgeServer,
                                                returned: Any, body: bytes) -> None:
    url = url_of(client, "ret", RETURNS)
    status, headers, data = request(url, "POST", body=json.dumps(returned).encode())
    assert (status, data) == (200, body)
    assert headers["content-type"] == "application/json"
    assert headers["content-length"] == str(len(body))


def test_url_string_status_code_is_a_status(client: Any, edge: EdgeServer) -> None:
    # test_lambda.py::TestLambdaURL::test_lambda_url_headers_and_status (validated on AWS)
    url = url_of(client, "tea", RETURNS)
    answer = {"statusCode": "418", "body": "i'm a teapot", "isBase64Encoded": False}
    status, _, data = request(url, "POST", body=json.dumps(answer).encode())
    assert (status, data) == (418, b"i'm a teapot")


def test_url_malformed_answers_are_502(client: Any, edge: EdgeServer) -> None:
    url = url_of(client, "bad", RETURNS)
    for answer in ({"statusCode": "teapot"}, {"statusCode": 200, "headers": {"x": "é\u20ac"}},
                   {"statusCode": 200, "headers": {"x": "a\r\nb: c"}},
                   {"statusCode": 200, "headers": ["x"]}):
        status, _, data = request(url, "POST", body=json.dumps(answer).encode())
        assert (status, data) == (502, b"Internal Server Error")


def test_url_function_error_is_502_internal_server_error(client: Any, edge: EdgeServer) -> None:
    # TestLambdaURL::test_lambda_url_invocation_exception: text, not a JSON object
    url = url_of(client, "fails", FAILS)
    status, headers, data = request(url, "POST", body=b"{}")
    assert (status, data) == (502, b"Internal Server Error")
    assert headers["x-amzn-requestid"]


def test_url_request_id_is_the_invocations(lab: Lab, client: Any, edge: EdgeServer) -> None:
    # TestRequestIdHandling::test_request_id_invoke_url: x-amzn-RequestId == END's id
    url = url_of(client, "rid", "def handler(e, c):\n    return 'hi'\n")
    status, headers, data = request(url)
    assert (status, data) == (200, b"hi")
    request_id = headers["x-amzn-requestid"]
    ends = [e.message for e in lab.get_logs("rid") if e.message.startswith("END")]
    assert ends == [f"END RequestId: {request_id}\n"]


def test_unknown_url_is_403_access_denied(edge: EdgeServer) -> None:
    # TestLambdaURL::test_lambda_url_non_existing_url
    status, headers, data = request(edge.url + "/_lambdalab/url/" + "0" * 32 + "/")
    assert (status, data) == (403, b'{"Message":null}')
    assert headers["content-type"] == "application/json"
    assert headers["x-amzn-errortype"] == "AccessDeniedException"
    assert headers["x-amzn-requestid"]


def test_url_event_headers_as_aws_front_end_sets_them(client: Any, edge: EdgeServer) -> None:
    # TestLambdaURL::test_lambda_url_echo_http_fixture_default: host is the URL's domain,
    # x-forwarded-* and x-amzn-trace-id are added, Connection is not passed on.
    url = url_of(client, "echo", ECHO_EVENT)
    status, _, data = request(url, "POST", "/p", body=b"{}", headers={
        "Connection": "keep-alive, x-private", "X-Private": "hop", "ExTrA-HeadErs": "CapS"})
    assert status == 200
    event = json.loads(data)
    headers = event["headers"]
    assert headers["host"] == event["requestContext"]["domainName"]
    assert headers["x-forwarded-for"] == event["requestContext"]["http"]["sourceIp"]
    assert headers["x-forwarded-port"] == str(urlsplit(url).port)
    assert headers["x-forwarded-proto"] == "http"
    assert headers["x-amzn-trace-id"].startswith("Root=1-")
    assert headers["extra-headers"] == "CapS"
    assert "connection" not in headers and "x-private" not in headers


# -- asynchronous invocation --------------------------------------------------------------
# test_lambda_destinations.snapshot.json, TestLambdaDestinationSqs::test_maxeventage and
# TestLambdaDLQ::test_dead_letter_queue;
# https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-error-handling.html

FAILS_ALWAYS = """
def handler(event, context):
    raise Exception("intentional failure")
"""


def failure_records(lab: Lab, queue: str) -> list[dict[str, Any]]:
    from lambdalab_sqs import sqs_of

    messages = sqs_of(lab).queues.receive_message(queue, max_number_of_messages=10)
    return [json.loads(m.body) for m in messages]


def starts(lab: Lab, name: str) -> list[str]:
    return [e.message.split()[2] for e in lab.get_logs(name) if e.message.startswith("START")]


def age_limited(lab: Lab, code: Any, max_age: int) -> str:
    from lambdalab_sqs import sqs_of

    sqs_of(lab).queues.create_queue("failures")
    lab.create_function("f", code(app=FAILS_ALWAYS), handler="app.handler")
    lab.put_function_event_invoke_config(
        "f", maximum_retry_attempts=2, maximum_event_age_in_seconds=max_age,
        destination_config={"OnFailure": {
            "Destination": "arn:aws:sqs:us-east-1:000000000000:failures"}},
    )
    request_id = lab.invoke("f", {"message": "m"}, invocation_type="Event").request_id
    assert lab.wait_for_events(timeout=60)
    return request_id


def test_no_retry_when_it_would_start_past_the_event_age(lab: Lab, code: Any) -> None:
    # "lambda doesn't retry because the first delay already is 60s" (max age 60)
    request_id = age_limited(lab, code, 60)
    assert starts(lab, "f") == [request_id]
    [record] = failure_records(lab, "failures")  # at once: the clock has not moved
    assert record["requestContext"]["condition"] == "EventAgeExceeded"
    assert record["requestContext"]["approximateInvokeCount"] == 1
    assert record["responseContext"] == {
        "statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"}
    assert record["responsePayload"]["errorMessage"] == "intentional failure"
    assert lab.queue() == []


def test_one_retry_fits_in_90_seconds(lab: Lab, code: Any, clock: Any) -> None:
    request_id = age_limited(lab, code, 90)
    assert failure_records(lab, "failures") == []
    clock.advance(60)
    assert lab.wait_for_events(timeout=60)
    assert starts(lab, "f") == [request_id] * 2
    [record] = failure_records(lab, "failures")  # the next retry (at 180 s) is not awaited
    assert record["requestContext"]["condition"] == "EventAgeExceeded"
    assert record["requestContext"]["approximateInvokeCount"] == 2
    assert record["responsePayload"]["errorType"] == "Exception"


def test_dead_letter_error_code_is_a_number(lab: Lab, client: Any, edge: EdgeServer) -> None:
    from .edge_support import client_for

    sqs = client_for(edge.url, "sqs")
    dlq_url = sqs.create_queue(QueueName="dlq")["QueueUrl"]
    create(client, "dead", FAILS_ALWAYS,
           DeadLetterConfig={"TargetArn": "arn:aws:sqs:us-east-1:000000000000:dlq"})
    client.put_function_event_invoke_config(FunctionName="dead", MaximumRetryAttempts=0)
    client.invoke(FunctionName="dead", InvocationType="Event", Payload=b'{"raise_error": 1}')
    assert lab.wait_for_events(timeout=60)
    [message] = sqs.receive_message(QueueUrl=dlq_url, MessageAttributeNames=["All"])["Messages"]
    attributes = message["MessageAttributes"]
    assert attributes["ErrorCode"] == {"DataType": "Number", "StringValue": "200"}
    assert attributes["ErrorMessage"] == {"DataType": "String",
                                          "StringValue": "intentional failure"}
    assert attributes["RequestID"]["DataType"] == "String"


def test_sqs_destination_records_carry_aws_trace_header(lab: Lab, client: Any,
                                                        edge: EdgeServer) -> None:
    # test_maxeventage's received message has Attributes.AWSTraceHeader
    from .edge_support import client_for

    sqs = client_for(edge.url, "sqs")
    url = sqs.create_queue(QueueName="failures")["QueueUrl"]
    create(client, "traced", FAILS_ALWAYS)
    client.put_function_event_invoke_config(
        FunctionName="traced", MaximumRetryAttempts=0, DestinationConfig={"OnFailure": {
            "Destination": "arn:aws:sqs:us-east-1:000000000000:failures"}})
    client.invoke(FunctionName="traced", InvocationType="Event", Payload=b"{}")
    assert lab.wait_for_events(timeout=60)
    [message] = sqs.receive_message(QueueUrl=url, AttributeNames=["All"])["Messages"]
    assert message["Attributes"]["AWSTraceHeader"].startswith("Root=1-")
    assert json.loads(message["Body"])["requestContext"]["condition"] == "RetriesExhausted"
    sqs.send_message(QueueUrl=url, MessageBody="plain")
    [plain] = sqs.receive_message(QueueUrl=url, AttributeNames=["All"])["Messages"]
    assert "AWSTraceHeader" not in plain["Attributes"]


# -- runtime exits (test_lambda.snapshot.json, TestLambdaErrors::test_lambda_runtime_exit
# and ::test_lambda_handler_exit: sys.exit(0) at import and in the handler) ----------------


@pytest.mark.parametrize("sandbox", [None, "thread"])
@pytest.mark.parametrize("source", [
    "import sys\nsys.exit(0)\ndef handler(event, context):\n    return 1\n",
    "import sys\ndef handler(event, context):\n    sys.exit(0)\n",
    "import sys\ndef handler(event, context):\n    sys.exit()\n",
], ids=["init", "handler", "handler-no-code"])
def test_sys_exit_is_runtime_exit_error_without_a_reason(lab: Lab, code: Any, source: str,
                                                         sandbox: str | None) -> None:
    lab.create_function("exits", code(app=source), handler="app.handler",
                        **({"sandbox": sandbox} if sandbox else {}))
    result = lab.invoke("exits", {}, log_type="Tail")
    assert result.function_error == "Unhandled"
    assert result.json() == {
        "errorType": "Runtime.ExitError",
        "errorMessage": f"RequestId: {result.request_id} Error: Runtime exited without "
                        "providing a reason",
    }
    assert (f"RequestId: {result.request_id} Error: Runtime exited without providing a "
            "reason\nRuntime.ExitError\n") in result.log_tail


def test_sys_exit_with_a_message_is_exit_status_1(lab: Lab, code: Any) -> None:
    source = "import sys\ndef handler(event, context):\n    sys.exit('bye')\n"
    lab.create_function("exits", code(app=source), handler="app.handler")
    result = lab.invoke("exits", {}, log_type="Tail")
    assert result.json()["errorMessage"].endswith("Runtime exited with error: exit status 1")
    assert "bye\n" in result.log_tail


# -- log events (test_lambda_runtimes.snapshot.json, TestCloudwatchLogs::test_multi_line_prints;
# test_lambda.snapshot.json, TestLambdaFeatures::test_invocation_type_event_error and
# TestLambdaBaseFeatures::test_lambda_too_large_response) -----------------------------------

PRINTS = '''
def handler(event, context):
    print(event["body"])
    if event.get("fail"):
        raise ValueError("some error occurred")
'''


def test_printed_lines_are_events_as_aws_writes_them(lab: Lab, code: Any) -> None:
    lab.create_function("p", code(app=PRINTS), handler="app.handler")
    rid = lab.invoke("p", {"body": "\nmulti\nline\nstring\nanother\rline\n"}).request_id
    messages = [e.message for e in lab.get_logs("p")]
    assert messages[0].startswith("INIT_START Runtime Version: python:3.11.v")
    assert "\tRuntime Version ARN: arn:aws:lambda:us-east-1::runtime:" in messages[0]
    assert messages[1:7] == [f"START RequestId: {rid} Version: $LATEST\n", "multi\n", "line\n",
                             "string\n", "another\rline\n", f"END RequestId: {rid}\n"]
    assert messages[7].startswith(f"REPORT RequestId: {rid}\t") and messages[7].endswith("\t\n")
    assert len(messages) == 8
    lab.invoke("p", {"body": "warm"})
    assert sum(m.startswith("INIT_START") for m in
               (e.message for e in lab.get_logs("p"))) == 1  # only a cold start has one


def test_error_event_joins_its_lines_with_newlines(lab: Lab, code: Any) -> None:
    lab.create_function("p", code(app=PRINTS), handler="app.handler")
    lab.invoke("p", {"body": "x", "fail": True})
    [error] = [e.message for e in lab.get_logs("p") if e.message.startswith("[ERROR]")]
    lines = error.split("\n")
    assert lines[:2] == ["[ERROR] ValueError: some error occurred",
                         "Traceback (most recent call last):"]
    assert lines[-2].startswith("\u00a0\u00a0File ") and lines[-1].startswith("\u00a0" * 4)
    assert "\r" not in error and not error.endswith("\n")


def test_response_too_large_names_aws_limit(lab: Lab, code: Any) -> None:
    lab.create_function("big", code(app="def handler(e, c):\n    return 'x' * 6291556\n"),
                        handler="app.handler", memory_size=512)
    assert lab.invoke("big").json() == {
        "errorMessage": "Response payload size exceeded maximum allowed payload size "
                        "(6291556 bytes).",
        "errorType": "Function.ResponseSizeTooLarge",
    }


# -- the environment (test_lambda.snapshot.json, "lambda-init-inspection": the variables
# of a python3.14 function on AWS; configuration-envvars.html#configuration-envvars-runtime)

ENVIRON = """
import os
def handler(event, context):
    return dict(os.environ)
"""


def test_environment_has_aws_runtime_variables(client: Any, edge: EdgeServer) -> None:
    create(client, "env", ENVIRON)
    first = json.loads(client.invoke(FunctionName="env")["Payload"].read())
    second = json.loads(client.invoke(FunctionName="env")["Payload"].read())
    assert {k: first[k] for k in (
        "AWS_XRAY_CONTEXT_MISSING", "LC_CTYPE", "TZ", "LANG", "PATH", "LD_LIBRARY_PATH",
        "AWS_EXECUTION_ENV", "AWS_LAMBDA_INITIALIZATION_TYPE")} == {
        "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
        "LC_CTYPE": "C.UTF-8",
        "TZ": ":UTC",
        "LANG": "en_US.UTF-8",
        "PATH": "/var/lang/bin:/usr/local/bin:/usr/bin/:/bin:/opt/bin",
        "LD_LIBRARY_PATH": "/var/lang/lib:/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:"
                           "/var/task:/var/task/lib:/opt/lib",
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.11",
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
    }
    # AWS's daemon is 169.254.100.1:2000; lambdalab's X-Ray plugin listens on loopback, on
    # a port of its own, and says so in the same three variables (differences page)
    host, port = first["AWS_XRAY_DAEMON_ADDRESS"].split(":")
    assert (host, port) == (first["_AWS_XRAY_DAEMON_ADDRESS"], first["_AWS_XRAY_DAEMON_PORT"])
    assert host == "127.0.0.1" and int(port) > 0
    # "_X_AMZN_TRACE_ID – The X-Ray tracing header. This environment variable changes
    # with each invocation."
    assert first["_X_AMZN_TRACE_ID"].startswith("Root=1-")
    assert second["_X_AMZN_TRACE_ID"].startswith("Root=1-")
    assert first["_X_AMZN_TRACE_ID"] != second["_X_AMZN_TRACE_ID"]


needs_node = pytest.mark.skipif(__import__("shutil").which("node") is None,
                                reason="Node.js is not installed")
NODE_ENV = "exports.handler = async () => ({wrapped: process.env.WRAPPED || null, " \
           "api: process.env.AWS_LAMBDA_RUNTIME_API || null, args: process.argv.length});\n"
WRAPPER = '#!/bin/sh\nexport WRAPPED="yes: $#"\nexec "$@"\n'


@needs_node
def test_exec_wrapper_starts_a_managed_runtime(lab: Lab, tmp_path: Any) -> None:
    # https://docs.aws.amazon.com/lambda/latest/dg/runtimes-modify.html#runtime-wrapper
    root = tmp_path / "node"
    root.mkdir()
    (root / "index.js").write_text(NODE_ENV)
    (root / "wrapper.sh").write_text(WRAPPER)
    (root / "wrapper.sh").chmod(0o755)
    lab.create_function("wrapped", root, runtime="nodejs20.x", handler="index.handler",
                        environment={"AWS_LAMBDA_EXEC_WRAPPER": "/var/task/wrapper.sh"})
    body = lab.invoke("wrapped").json()
    assert body["wrapped"] == "yes: 2"  # the wrapper ran, given the runtime's command
    assert body["api"].rsplit(":", 1)[1].isdigit()  # AWS_LAMBDA_RUNTIME_API host:port
    lab.update_function_configuration(
        "wrapped", environment={"AWS_LAMBDA_EXEC_WRAPPER": "/var/task/missing.sh"})
    error = lab.invoke("wrapped").json()
    assert error["errorType"] == "Runtime.InvalidEntrypoint"
    assert error["errorMessage"].startswith("fork/exec ")


# -- S3 bucket notifications (LocalStack's AWS-recorded test_s3_notifications_lambda and
# test_s3_notifications_sqs snapshots: test_invalid_lambda_arn, test_invalid_sqs_arn,
# test_multiple_invalid_sqs_arns) ------------------------------------------------------------


def s3_of(edge: EdgeServer) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3", endpoint_url=edge.url, region_name="us-east-1", aws_access_key_id="AKIDEXAMPLE",
        aws_secret_access_key="not-checked",
        config=Config(s3={"addressing_style": "path"}, retries={"total_max_attempts": 1}))


def put_notification_error(s3: Any, configuration: dict[str, Any]) -> dict[str, Any]:
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError) as info:
        s3.put_bucket_notification_configuration(Bucket="photos",
                                                 NotificationConfiguration=configuration)
    error = dict(info.value.response["Error"])
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    return error


def test_s3_notification_errors_are_aws_s(edge: EdgeServer, client: Any) -> None:
    s3 = s3_of(edge)
    s3.create_bucket(Bucket="photos")
    assert put_notification_error(s3, {"LambdaFunctionConfigurations": [
        {"LambdaFunctionArn": "invalid-queue", "Events": ["s3:ObjectCreated:*"]}]}) == {
        "Code": "InvalidArgument", "Message": "The ARN could not be parsed",
        "ArgumentName": "CloudFunction", "ArgumentValue": "invalid-queue"}
    arn = "arn:aws:lambda:us-east-1:000000000000:function:my-lambda"
    assert put_notification_error(s3, {"LambdaFunctionConfigurations": [
        {"LambdaFunctionArn": arn, "Events": ["s3:ObjectCreated:*"]}]}) == {
        "Code": "InvalidArgument",
        "Message": "Unable to validate the following destination configurations",
        "ArgumentName1": f"{arn}, null",
        "ArgumentValue1": f"Not authorized to invoke function [{arn}]"}
    error = put_notification_error(s3, {"LambdaFunctionConfigurations": [
        {"LambdaFunctionArn": "arn:aws:lambda:us-east-1:000000000000:function:a",
         "Events": ["s3:ObjectCreated:*"]},
        {"LambdaFunctionArn": "arn:aws:lambda:us-east-1:000000000000:function:b",
         "Events": ["s3:ObjectRemoved:*"]}]})
    assert error["ArgumentName2"] == "arn:aws:lambda:us-east-1:000000000000:function:b, null"
    assert error["ArgumentValue2"].startswith("Not authorized to invoke function [")
    assert put_notification_error(s3, {"LambdaFunctionConfigurations": [
        {"LambdaFunctionArn": arn, "Events": ["s3:ObjectCreated:*"], "Filter": {"Key": {
            "FilterRules": [{"Name": "INVALID", "Value": "x"}]}}}]}) == {
        "Code": "InvalidArgument", "Message": "filter rule name must be either prefix or suffix",
        "ArgumentName": "FilterRule.Name", "ArgumentValue": "INVALID"}


def test_s3_sequencer_grows_while_the_clock_stands_still(lab: Lab, code: Any, rendezvous: Any,
                                                          edge: EdgeServer) -> None:
    out = rendezvous / "events.jsonl"
    recorder = ("import json, os\ndef handler(event, context):\n"
                "    open(os.environ['OUT'], 'a').write(json.dumps(event) + '\\n')\n")
    arn = lab.create_function("rec", code(app=recorder), handler="app.handler",
                              environment={"Variables": {"OUT": str(out)}}).function_arn
    lab.add_permission("rec", "s3", "lambda:InvokeFunction", "s3.amazonaws.com",
                       source_arn="arn:aws:s3:::photos")
    s3 = s3_of(edge)
    s3.create_bucket(Bucket="photos")
    s3.put_bucket_notification_configuration(Bucket="photos", NotificationConfiguration={
        "LambdaFunctionConfigurations": [{"LambdaFunctionArn": arn, "Events": [
            "s3:ObjectCreated:*", "s3:ObjectRemoved:*"]}]})
    for body in (b"one", b"two", b"three"):  # the lab's virtual clock does not move
        s3.put_object(Bucket="photos", Key="k", Body=body)
    s3.delete_object(Bucket="photos", Key="k")
    assert lab.wait_for_events(timeout=60)
    records = [json.loads(line)["Records"][0] for line in out.read_text().splitlines()]
    assert len({r["eventTime"] for r in records}) == 1
    sequencers = [r["s3"]["object"]["sequencer"] for r in records]
    assert len(sequencers) == 4 and len(set(map(len, sequencers))) == 1
    # async events may run in any order: ordering them by sequencer restores write order
    in_order = sorted(records, key=lambda r: r["s3"]["object"]["sequencer"])
    by_sequencer = [r["eventName"] for r in in_order]
    assert by_sequencer == ["ObjectCreated:Put"] * 3 + ["ObjectRemoved:Delete"]
    sizes = [r["s3"]["object"].get("size") for r in in_order][:3]
    assert sizes == [3, 3, 5]
