"""Lambda's ``LoggingConfig`` through boto3 and the edge: JSON application and system
logs, their levels, and a log group of the function's own
(https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs-advanced.html)."""

from __future__ import annotations

import json
import re
import shutil
import textwrap
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from lambdalab import Lab
from lambdalab.errors import InvalidParameterValueException
from lambdalab.server import EdgeServer
from tests.edge_support import client_for, create
from tests.edge_support import client  # noqa: F401 (fixture)
from tests.edge_support import edge  # noqa: F401 (fixture)

LOGGING = """
import logging

def handler(event, context):
    logging.getLogger().setLevel(logging.DEBUG) if event.get("debug") else None
    print("plain print")
    logging.debug("a debug record")
    logging.info("an info record")
    logging.getLogger("orders").warning("a warning", extra={"orderId": 7})
    try:
        1 / 0
    except ZeroDivisionError:
        logging.exception("it failed")
    if event.get("raise"):
        raise ValueError("bad input")
    return "ok"
"""

POWERTOOLS = """
from aws_lambda_powertools import Logger

logger = Logger(service="payments")

@logger.inject_lambda_context
def handler(event, context):
    logger.info("charged", amount=5)
    logger.debug("shown at DEBUG")
    return "ok"
"""

def echo(event: Any, context: Any) -> Any:
    return event


ISO_MS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


def events(logs: Any, group: str) -> list[str]:
    return [e["message"] for e in logs.filter_log_events(logGroupName=group)["events"]]


def records(messages: list[str]) -> list[dict[str, Any]]:
    return [json.loads(m) for m in messages if m.startswith("{")]


# -- the API ------------------------------------------------------------------------------


def test_json_format_defaults_both_levels_to_info_and_text_drops_them(client: Any) -> None:
    created = create(client, "f", LoggingConfig={"LogFormat": "JSON"})
    assert created["LoggingConfig"] == {
        "LogFormat": "JSON", "ApplicationLogLevel": "INFO", "SystemLogLevel": "INFO",
        "LogGroup": "/aws/lambda/f",
    }
    updated = client.update_function_configuration(
        FunctionName="f", LoggingConfig={"ApplicationLogLevel": "DEBUG"})
    assert updated["LoggingConfig"]["ApplicationLogLevel"] == "DEBUG"
    assert updated["LoggingConfig"]["SystemLogLevel"] == "INFO"
    client.get_waiter("function_updated_v2").wait(FunctionName="f")
    back = client.update_function_configuration(FunctionName="f",
                                                LoggingConfig={"LogFormat": "Text"})
    assert back["LoggingConfig"] == {"LogFormat": "Text", "LogGroup": "/aws/lambda/f"}
    got = client.get_function_configuration(FunctionName="f")["LoggingConfig"]
    assert got == {"LogFormat": "Text", "LogGroup": "/aws/lambda/f"}


def test_a_log_level_with_text_format_is_refused_in_aws_words(client: Any) -> None:
    with pytest.raises(ClientError) as caught:
        create(client, "f", LoggingConfig={"LogFormat": "Text", "ApplicationLogLevel": "DEBUG"})
    error = caught.value.response["Error"]
    assert error["Code"] == "InvalidParameterValueException"
    assert error["Message"].startswith('LogLevel is not supported when LogFormat is set to "Text"')
    create(client, "g")
    with pytest.raises(ClientError) as caught:
        client.update_function_configuration(FunctionName="g",
                                             LoggingConfig={"SystemLogLevel": "WARN"})
    assert caught.value.response["Error"]["Code"] == "InvalidParameterValueException"
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.get_function(FunctionName="f")  # nothing half-created


def test_a_bad_log_group_name_is_refused(lab: Lab, client: Any) -> None:
    with pytest.raises(ClientError) as caught:  # botocore's pattern, checked at the edge
        create(client, "f", LoggingConfig={"LogGroup": "no spaces allowed"})
    assert caught.value.response["Error"]["Code"] == "ValidationException"
    with pytest.raises(InvalidParameterValueException, match="LoggingConfig.LogGroup"):
        lab.create_function("g", echo, logging_config={"LogGroup": "a b"})
    assert not lab.list_functions()


# -- what the function writes -----------------------------------------------------------


def test_python_logging_becomes_json_lines_and_print_stays_text(
    lab: Lab, edge: EdgeServer, client: Any
) -> None:
    create(client, "f", LOGGING, LoggingConfig={"LogFormat": "JSON"})
    out = client.invoke(FunctionName="f", Payload=b"{}")
    request_id = out["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"]
    messages = events(client_for(edge.url, "logs"), "/aws/lambda/f")
    assert "plain print\n" in messages
    app = [r for r in records(messages) if "level" in r]
    assert [r["message"] for r in app] == ["an info record", "a warning", "it failed"]
    info, warning, failed = app
    assert info["level"] == "INFO" and info["logger"] == "root"
    assert info["requestId"] == request_id and ISO_MS.fullmatch(info["timestamp"])
    assert warning["level"] == "WARNING"  # logging's name, as awslambdaric writes it
    assert warning["logger"] == "orders" and warning["orderId"] == 7
    assert failed["level"] == "ERROR" and failed["errorType"] == "ZeroDivisionError"
    assert failed["errorMessage"] == "division by zero" and failed["stackTrace"]


def test_application_log_level_filters_and_unhandled_errors_are_json(
    lab: Lab, edge: EdgeServer, client: Any
) -> None:
    create(client, "f", LOGGING,
           LoggingConfig={"LogFormat": "JSON", "ApplicationLogLevel": "ERROR"})
    out = client.invoke(FunctionName="f", Payload=json.dumps({"raise": True}))
    assert out["FunctionError"] == "Unhandled"
    app = [r for r in records(events(client_for(edge.url, "logs"), "/aws/lambda/f"))
           if "level" in r]
    assert [r.get("message") for r in app] == ["it failed", None]
    assert app[1]["errorType"] == "ValueError" and app[1]["errorMessage"] == "bad input"
    env = lab.invoker.environ_for(lab.get_function_configuration("f"), "/t", "s", "/tmp")
    assert env["AWS_LAMBDA_LOG_FORMAT"] == "JSON" and env["AWS_LAMBDA_LOG_LEVEL"] == "ERROR"


def test_platform_records_are_json_and_filtered_by_system_level(
    lab: Lab, edge: EdgeServer, client: Any
) -> None:
    create(client, "f", LoggingConfig={"LogFormat": "JSON"})
    out = client.invoke(FunctionName="f", Payload=b"{}")
    request_id = out["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"]
    logs = client_for(edge.url, "logs")
    system = [r for r in records(events(logs, "/aws/lambda/f")) if "type" in r]
    assert [r["type"] for r in system] == ["platform.initStart", "platform.start",
                                           "platform.report"]
    init, start, report = system
    assert init["record"]["runtimeVersion"].startswith("python:3.11.v")
    assert init["record"]["initializationType"] == "on-demand"
    assert start["record"] == {"requestId": request_id, "version": "$LATEST"}
    assert ISO_MS.fullmatch(start["time"])
    metrics = report["record"]["metrics"]
    assert report["record"]["requestId"] == request_id
    assert report["record"]["status"] == "success"
    assert {"durationMs", "billedDurationMs", "memorySizeMB", "maxMemoryUsedMB",
            "initDurationMs"} <= set(metrics)
    assert metrics["memorySizeMB"] == 128
    assert not any(m.startswith(("START ", "END ", "REPORT ")) for m in events(logs, "/aws/lambda/f"))

    client.update_function_configuration(
        FunctionName="f", LoggingConfig={"LogFormat": "JSON", "SystemLogLevel": "WARN"})
    client.get_waiter("function_updated_v2").wait(FunctionName="f")
    before = len(events(logs, "/aws/lambda/f"))
    client.invoke(FunctionName="f", Payload=json.dumps({"quiet": 1}))
    after = events(logs, "/aws/lambda/f")[before:]
    assert not [r for r in records(after) if "type" in r]  # INFO records are below WARN
    assert any("echo" in m for m in after)  # the function's own output still arrives


def test_a_custom_log_group_receives_the_events(lab: Lab, edge: EdgeServer, client: Any) -> None:
    create(client, "f", LoggingConfig={"LogGroup": "/shared/app-logs"})
    out = client.invoke(FunctionName="f", Payload=b'{"hello": 1}')
    assert out["StatusCode"] == 200
    logs = client_for(edge.url, "logs")
    messages = events(logs, "/shared/app-logs")
    assert any(m.startswith("START RequestId: ") for m in messages)
    assert any("echo {'hello': 1}" in m for m in messages)
    groups = [g["logGroupName"] for g in logs.describe_log_groups()["logGroups"]]
    assert "/shared/app-logs" in groups and "/aws/lambda/f" not in groups
    assert [e.message for e in lab.get_logs("f")] == [e.message for e in
                                                       lab.logs.read("/shared/app-logs")]
    config = lab.get_function_configuration("f")
    env = lab.invoker.environ_for(config, "/t", "s", "/tmp")
    assert env["AWS_LAMBDA_LOG_GROUP_NAME"] == "/shared/app-logs"
    assert "AWS_LAMBDA_LOG_FORMAT" not in env  # Text: AWS sets neither variable


def test_powertools_logger_works_unchanged_in_a_json_function(
    lab: Lab, edge: EdgeServer, client: Any
) -> None:
    """Powertools reads AWS_LAMBDA_LOG_LEVEL (its support of "advanced logging controls"):
    the function's ApplicationLogLevel decides what its Logger writes."""
    create(client, "p", POWERTOOLS,
           LoggingConfig={"LogFormat": "JSON", "ApplicationLogLevel": "DEBUG"})
    out = client.invoke(FunctionName="p", Payload=b"{}")
    assert out.get("FunctionError") is None, out["Payload"].read()
    app = [r for r in records(events(client_for(edge.url, "logs"), "/aws/lambda/p"))
           if "level" in r and r.get("service") == "payments"]
    assert [(r["level"], r["message"]) for r in app] == [("INFO", "charged"),
                                                         ("DEBUG", "shown at DEBUG")]
    assert app[0]["amount"] == 5 and app[0]["function_name"] == "p"


@pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed")
def test_node_console_becomes_json_and_is_filtered(lab: Lab, tmp_path: Path) -> None:
    root = tmp_path / "js"
    root.mkdir()
    (root / "index.js").write_text(textwrap.dedent("""
        exports.handler = async () => {
          console.debug("hidden at INFO");
          console.log("hello", 42);
          console.error("two\\nlines");
          return "ok";
        };
    """))
    lab.create_function("n", root, runtime="nodejs20.x", handler="index.handler",
                        logging_config={"LogFormat": "JSON"})
    result = lab.invoke("n", {})
    assert result.function_error is None
    app = [json.loads(e.message) for e in lab.get_logs("n")
           if e.message.startswith("{") and '"level"' in e.message]
    assert [(r["level"], r["message"]) for r in app] == [("INFO", "hello 42"),
                                                         ("ERROR", "two\nlines")]
    assert all(r["requestId"] == result.request_id and ISO_MS.fullmatch(r["timestamp"])
               for r in app)


def test_a_function_may_not_subscribe_to_its_own_custom_group(
    lab: Lab, edge: EdgeServer, client: Any
) -> None:
    create(client, "f", LoggingConfig={"LogGroup": "/shared/app"})
    client.invoke(FunctionName="f", Payload=b"{}")
    client.add_permission(
        FunctionName="f", StatementId="logs", Action="lambda:InvokeFunction",
        Principal="logs.amazonaws.com",
        SourceArn="arn:aws:logs:us-east-1:000000000000:log-group:/shared/app:*")
    arn = client.get_function(FunctionName="f")["Configuration"]["FunctionArn"]
    with pytest.raises(ClientError) as caught:
        client_for(edge.url, "logs").put_subscription_filter(
            logGroupName="/shared/app", filterName="loop", filterPattern="", destinationArn=arn)
    assert "own log events" in caught.value.response["Error"]["Message"]


def test_an_init_failure_is_a_json_init_report_and_error(lab: Lab, edge: EdgeServer,
                                                        client: Any) -> None:
    create(client, "broken", "raise RuntimeError('no config')\n",
           LoggingConfig={"LogFormat": "JSON"})
    out = client.invoke(FunctionName="broken", Payload=b"{}")
    assert out["FunctionError"] == "Unhandled"
    found = records(events(client_for(edge.url, "logs"), "/aws/lambda/broken"))
    kinds = [r.get("type") for r in found if "type" in r]
    assert kinds == ["platform.initStart", "platform.initReport", "platform.start",
                     "platform.report"]
    init_report = next(r for r in found if r.get("type") == "platform.initReport")
    assert init_report["record"]["status"] == "error"
    assert init_report["record"]["errorType"] == "RuntimeError"
    error = next(r for r in found if r.get("level") == "ERROR")
    assert error["errorType"] == "RuntimeError" and error["errorMessage"] == "no config"
    report = next(r for r in found if r.get("type") == "platform.report")
    assert report["record"]["status"] == "error"
