"""CloudWatch metrics: the AWS/Lambda namespace, custom metrics, EMF, and the API.

The judges are boto3 and the AWS CLI against ``lambdalab serve``'s edge; time moves
only on the lab's virtual clock.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable

import pytest
from botocore.exceptions import ClientError

from lambdalab import Lab, VirtualClock
from lambdalab_cloudwatch import alarms, cloudwatch

from .edge_support import client_for, edge  # noqa: F401  (fixture)

START = 1_700_000_100  # a five-minute boundary of the virtual clock
OK = """
def handler(event, context):
    if event.get("fail"):
        raise ValueError("asked to fail")
    return event
"""
EMF = """
import json, time
def handler(event, context):
    print(json.dumps({
        "_aws": {"Timestamp": int(event["at"] * 1000), "CloudWatchMetrics": [{
            "Namespace": "shop", "Dimensions": [["service"], []],
            "Metrics": [{"Name": "Orders", "Unit": "Count"}]}]},
        "service": "cart", "Orders": event["orders"]}))
    return "ok"
"""
POWERTOOLS = """
from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit

metrics = Metrics(namespace="bookshop", service="orders")

@metrics.log_metrics
def handler(event, context):
    metrics.add_metric(name="BooksSold", unit=MetricUnit.Count, value=event["books"])
    return "ok"
"""


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock(start=START)


def window(clock: VirtualClock, minutes: int = 5) -> dict[str, datetime]:
    now = datetime.fromtimestamp(clock.now(), timezone.utc)
    return {"StartTime": now - timedelta(minutes=minutes), "EndTime": now + timedelta(minutes=1)}


def sums(points: list[dict[str, Any]], stat: str = "Sum") -> list[float]:
    return [p[stat] for p in sorted(points, key=lambda p: p["Timestamp"])]


def fn(name: str) -> list[dict[str, str]]:
    return [{"Name": "FunctionName", "Value": name}]


# -- AWS/Lambda from the invoke path ----------------------------------------------------


def test_invocations_errors_and_duration_count_the_invokes_made(
    lab: Lab, clock: VirtualClock, code: Callable[..., Path], edge: Any
) -> None:
    lab.create_function("shop", code(app=OK), handler="app.handler")
    for _ in range(3):
        lab.invoke("shop", {})
    lab.invoke("shop", {"fail": True})
    clock.advance(60)  # the next minute
    lab.invoke("shop", {})

    cw = client_for(edge.url, "cloudwatch")
    got = cw.get_metric_statistics(
        Namespace="AWS/Lambda", MetricName="Invocations", Dimensions=fn("shop"), Period=60,
        Statistics=["Sum", "SampleCount"], **window(clock))
    assert got["Label"] == "Invocations"
    assert sums(got["Datapoints"]) == [4.0, 1.0]
    assert {p["Unit"] for p in got["Datapoints"]} == {"Count"}
    errors = cw.get_metric_statistics(
        Namespace="AWS/Lambda", MetricName="Errors", Dimensions=fn("shop"), Period=300,
        Statistics=["Sum"], **window(clock))
    assert sums(errors["Datapoints"]) == [1.0]
    duration = cw.get_metric_statistics(
        Namespace="AWS/Lambda", MetricName="Duration", Dimensions=fn("shop"), Period=300,
        Statistics=["SampleCount", "Maximum"], ExtendedStatistics=["p50", "p99"],
        **window(clock))["Datapoints"]
    assert len(duration) == 1 and duration[0]["SampleCount"] == 5
    assert duration[0]["Unit"] == "Milliseconds"
    assert 0 < duration[0]["ExtendedStatistics"]["p50"] <= duration[0]["Maximum"]
    assert duration[0]["ExtendedStatistics"]["p99"] == duration[0]["Maximum"]


def test_versions_and_aliases_have_resource_and_executed_version(
    lab: Lab, clock: VirtualClock, code: Callable[..., Path], edge: Any
) -> None:
    lab.create_function("shop", code(app=OK), handler="app.handler")
    version = lab.publish_version("shop").version
    lab.create_alias("shop", "live", version)
    lab.invoke("shop", {}, qualifier="live")
    lab.invoke("shop", {}, qualifier="live")
    lab.invoke("shop", {}, qualifier=version)
    lab.invoke("shop", {})

    cw = client_for(edge.url, "cloudwatch")

    def total(dimensions: list[dict[str, str]]) -> list[float]:
        return sums(cw.get_metric_statistics(
            Namespace="AWS/Lambda", MetricName="Invocations", Dimensions=dimensions,
            Period=60, Statistics=["Sum"], **window(clock))["Datapoints"])

    assert total(fn("shop")) == [4.0]
    assert total([]) == [4.0]  # across all functions
    assert total(fn("shop") + [{"Name": "Resource", "Value": "shop:live"}]) == [2.0]
    assert total(fn("shop") + [{"Name": "Resource", "Value": f"shop:{version}"}]) == [1.0]
    assert total([{"Name": "ExecutedVersion", "Value": version}, *fn("shop"),
                  {"Name": "Resource", "Value": "shop:live"}]) == [2.0]
    listed = cw.list_metrics(Namespace="AWS/Lambda", MetricName="Invocations",
                             Dimensions=[{"Name": "Resource"}])["Metrics"]
    assert sorted(d["Value"] for m in listed for d in m["Dimensions"] if d["Name"] == "Resource") \
        == ["shop:1", "shop:live", "shop:live"]
    concurrency = cw.get_metric_statistics(
        Namespace="AWS/Lambda", MetricName="ConcurrentExecutions", Dimensions=fn("shop"),
        Period=60, Statistics=["Maximum"], **window(clock))["Datapoints"]
    assert sums(concurrency, "Maximum") == [1.0]


def test_throttles_are_counted(lab: Lab, clock: VirtualClock, code: Callable[..., Path],
                               edge: Any) -> None:
    lab.create_function("shop", code(app=OK), handler="app.handler")
    lab.put_function_concurrency("shop", 0)
    for _ in range(2):
        with pytest.raises(Exception, match="Rate Exceeded"):
            lab.invoke("shop", {})
    cw = client_for(edge.url, "cloudwatch")
    got = cw.get_metric_statistics(Namespace="AWS/Lambda", MetricName="Throttles",
                                   Dimensions=fn("shop"), Period=60, Statistics=["Sum"],
                                   **window(clock))
    assert sums(got["Datapoints"]) == [2.0]


def test_async_events_received_and_age(lab: Lab, clock: VirtualClock,
                                       code: Callable[..., Path]) -> None:
    lab.create_function("shop", code(app=OK), handler="app.handler")
    lab.invoke("shop", {}, invocation_type="Event")
    lab.invoke("shop", {}, invocation_type="Event")
    assert lab.wait_for_events(timeout=120)
    metrics = cloudwatch(lab)
    start, end = clock.now() - 300, clock.now() + 60

    def stat(name: str, statistic: str = "Sum") -> list[float]:
        points = metrics.statistics("AWS/Lambda", name, (("FunctionName", "shop"),),
                                    start, end, 300, [statistic], [])
        return [p.values[statistic] for p in points]

    assert stat("AsyncEventsReceived") == [2.0]
    assert stat("Invocations") == [2.0]
    assert stat("AsyncEventAge", "SampleCount") == [2.0]
    assert stat("AsyncEventsDropped") == []


# -- custom metrics: PutMetricData, EMF, powertools -------------------------------------


def test_put_metric_data_then_statistics_and_list(lab: Lab, clock: VirtualClock, edge: Any) -> None:
    cw = client_for(edge.url, "cloudwatch")
    now = datetime.fromtimestamp(clock.now(), timezone.utc)
    cw.put_metric_data(Namespace="shop", MetricData=[
        {"MetricName": "Latency", "Dimensions": [{"Name": "Page", "Value": "cart"}],
         "Value": 10.0, "Unit": "Milliseconds"},
        {"MetricName": "Latency", "Dimensions": [{"Name": "Page", "Value": "cart"}],
         "Values": [20.0, 30.0], "Counts": [1.0, 2.0], "Unit": "Milliseconds"},
        {"MetricName": "Latency", "Dimensions": [{"Name": "Page", "Value": "cart"}],
         "Timestamp": now - timedelta(minutes=1),
         "StatisticValues": {"SampleCount": 2, "Sum": 8, "Minimum": 3, "Maximum": 5}},
    ])
    got = cw.get_metric_statistics(
        Namespace="shop", MetricName="Latency", Dimensions=[{"Name": "Page", "Value": "cart"}],
        Period=60, Statistics=["SampleCount", "Sum", "Average", "Minimum", "Maximum"],
        **window(clock))["Datapoints"]
    older, newer = sorted(got, key=lambda p: p["Timestamp"])
    assert (older["SampleCount"], older["Sum"], older["Minimum"], older["Maximum"]) == (2, 8, 3, 5)
    assert (newer["SampleCount"], newer["Sum"], newer["Average"]) == (4, 90, 22.5)
    assert (newer["Minimum"], newer["Maximum"], newer["Unit"]) == (10, 30, "Milliseconds")
    assert cw.list_metrics(Namespace="shop")["Metrics"] == [
        {"Namespace": "shop", "MetricName": "Latency",
         "Dimensions": [{"Name": "Page", "Value": "cart"}]}]
    # a dimension set is matched whole: no dimensions is another metric
    assert cw.get_metric_statistics(Namespace="shop", MetricName="Latency", Period=60,
                                    Statistics=["Sum"], **window(clock))["Datapoints"] == []


@pytest.mark.parametrize("data, code", [
    ([{"MetricName": "x", "Value": 1, "Values": [1.0]}], "InvalidParameterCombination"),
    ([{"MetricName": "x"}], "MissingParameter"),
    ([{"MetricName": "x", "Value": 1, "Timestamp": datetime(2001, 1, 1)}], "InvalidParameterValue"),
    ([{"MetricName": "x", "Value": 1, "Dimensions": [{"Name": "a", "Value": "1"}] * 2}],
     "InvalidParameterValue"),
])
def test_put_metric_data_refuses_what_cloudwatch_refuses(
    lab: Lab, edge: Any, data: list[dict[str, Any]], code: str
) -> None:
    cw = client_for(edge.url, "cloudwatch")
    with pytest.raises(ClientError) as caught:
        cw.put_metric_data(Namespace="shop", MetricData=data)
    assert caught.value.response["Error"]["Code"] == code
    assert cw.list_metrics(Namespace="shop")["Metrics"] == []  # nothing half-written


def test_aws_namespace_and_bad_periods_are_refused(lab: Lab, clock: VirtualClock, edge: Any) -> None:
    cw = client_for(edge.url, "cloudwatch")
    with pytest.raises(ClientError) as caught:
        cw.put_metric_data(Namespace="AWS/Lambda", MetricData=[{"MetricName": "x", "Value": 1}])
    assert caught.value.response["Error"]["Code"] == "InvalidParameterValue"
    assert "AWS/" in caught.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as caught:
        cw.get_metric_statistics(Namespace="shop", MetricName="x", Period=90,
                                 Statistics=["Sum"], **window(clock))
    assert caught.value.response["Error"]["Code"] == "InvalidParameterValue"
    with pytest.raises(ClientError) as caught:
        cw.get_metric_statistics(Namespace="shop", MetricName="x", Period=60, **window(clock))
    assert caught.value.response["Error"]["Code"] == "MissingParameter"


def test_embedded_metric_format_in_logs_becomes_metrics(
    lab: Lab, clock: VirtualClock, code: Callable[..., Path], edge: Any
) -> None:
    lab.create_function("cart", code(app=EMF), handler="app.handler")
    lab.invoke("cart", {"at": clock.now(), "orders": 2})
    lab.invoke("cart", {"at": clock.now(), "orders": 3})
    cw = client_for(edge.url, "cloudwatch")
    by_service = cw.get_metric_statistics(
        Namespace="shop", MetricName="Orders", Dimensions=[{"Name": "service", "Value": "cart"}],
        Period=60, Statistics=["Sum"], **window(clock))["Datapoints"]
    assert sums(by_service) == [5.0] and by_service[0]["Unit"] == "Count"
    without = cw.get_metric_statistics(Namespace="shop", MetricName="Orders", Period=60,
                                       Statistics=["Sum"], **window(clock))["Datapoints"]
    assert sums(without) == [5.0]  # the empty dimension set publishes it undimensioned too
    # read once: asking again does not count the log events twice
    again = cw.get_metric_statistics(Namespace="shop", MetricName="Orders", Period=60,
                                     Statistics=["Sum"], **window(clock))["Datapoints"]
    assert sums(again) == [5.0]


def test_powertools_metrics_work_unchanged_in_a_handler(
    lab: Lab, clock: VirtualClock, code: Callable[..., Path], edge: Any
) -> None:
    lab.create_function("books", code(app=POWERTOOLS), handler="app.handler")
    for books in (1, 2, 4):
        result = lab.invoke("books", {"books": books})
        assert result.function_error is None, result.payload
    cw = client_for(edge.url, "cloudwatch")
    listed = cw.list_metrics(Namespace="bookshop")["Metrics"]
    assert {m["MetricName"] for m in listed} == {"BooksSold"}
    # powertools' timestamp is the real time the handler ran, not the virtual clock's
    got = cw.get_metric_statistics(
        Namespace="bookshop", MetricName="BooksSold",
        Dimensions=[{"Name": "service", "Value": "orders"}],
        StartTime=datetime.now(timezone.utc) - timedelta(hours=1),
        EndTime=datetime.now(timezone.utc) + timedelta(hours=1), Period=3600,
        Statistics=["Sum", "SampleCount"])["Datapoints"]
    assert sum(p["Sum"] for p in got) == 7.0 and sum(p["SampleCount"] for p in got) == 3


def test_get_metric_data_with_metric_math(
    lab: Lab, clock: VirtualClock, code: Callable[..., Path], edge: Any
) -> None:
    lab.create_function("shop", code(app=OK), handler="app.handler")
    for fail in (False, False, False, True):
        lab.invoke("shop", {"fail": fail})
    cw = client_for(edge.url, "cloudwatch")

    def stat(metric: str) -> dict[str, Any]:
        return {"Metric": {"Namespace": "AWS/Lambda", "MetricName": metric,
                           "Dimensions": fn("shop")}, "Period": 60, "Stat": "Sum"}

    got = cw.get_metric_data(MetricDataQueries=[
        {"Id": "errors", "MetricStat": stat("Errors"), "ReturnData": False},
        {"Id": "invocations", "MetricStat": stat("Invocations")},
        {"Id": "rate", "Expression": "100 * errors / invocations", "Label": "Error rate"},
    ], **window(clock))["MetricDataResults"]
    assert [(r["Id"], r["Values"], r["StatusCode"]) for r in got] == [
        ("invocations", [4.0], "Complete"), ("rate", [25.0], "Complete")]
    assert got[1]["Label"] == "Error rate"
    with pytest.raises(ClientError) as caught:
        cw.get_metric_data(MetricDataQueries=[{"Id": "x", "Expression": "__import__('os')"}],
                           **window(clock))
    assert caught.value.response["Error"]["Code"] == "InvalidParameterValue"


# -- the AWS CLI, the query protocol, the command line -----------------------------------


def aws_cloudwatch(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "x",
           "AWS_DEFAULT_REGION": "us-east-1", "AWS_MAX_ATTEMPTS": "1",
           "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull}
    return subprocess.run(
        [str(Path(sys.executable).parent / "aws"), "--endpoint-url", url, "--output", "json",
         "cloudwatch", *args], capture_output=True, text=True, env=env, timeout=120)


def test_aws_cli_get_metric_statistics(lab: Lab, clock: VirtualClock,
                                       code: Callable[..., Path], edge: Any) -> None:
    lab.create_function("shop", code(app=OK), handler="app.handler")
    for _ in range(3):
        lab.invoke("shop", {})
    span = window(clock)
    done = aws_cloudwatch(
        edge.url, "get-metric-statistics", "--namespace", "AWS/Lambda", "--metric-name",
        "Invocations", "--dimensions", "Name=FunctionName,Value=shop", "--statistics", "Sum",
        "--period", "60", "--start-time", span["StartTime"].isoformat(),
        "--end-time", span["EndTime"].isoformat())
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert answer["Label"] == "Invocations"
    assert [p["Sum"] for p in answer["Datapoints"]] == [3.0]
    bad = aws_cloudwatch(edge.url, "put-metric-data", "--namespace", "AWS/Lambda",
                         "--metric-name", "x", "--value", "1")
    assert bad.returncode != 0 and "InvalidParameterValue" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_query_protocol_is_served_too(lab: Lab, clock: VirtualClock, edge: Any) -> None:
    import urllib.request

    cloudwatch(lab).put_metric_data("shop", [{"MetricName": "Orders", "Value": 2.0}])
    body = "Action=ListMetrics&Version=2010-08-01&Namespace=shop".encode()
    with urllib.request.urlopen(urllib.request.Request(edge.url + "/", body, headers={
        "Content-Type": "application/x-www-form-urlencoded",
        "Authorization": "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20231114/us-east-1/"
                         "monitoring/aws4_request, SignedHeaders=host, Signature=0"}),
            timeout=60) as answer:
        text = answer.read().decode()
    assert "<ListMetricsResponse" in text and "<MetricName>Orders</MetricName>" in text


def test_metrics_command_draws_invocations_per_minute(
    tmp_path: Path, code: Callable[..., Path]
) -> None:
    from click.testing import CliRunner

    from lambdalab.cli import main

    data = tmp_path / "data"
    with Lab(data_dir=data) as lab:
        lab.create_function("shop", code(app=OK), handler="app.handler")
        for _ in range(4):
            lab.invoke("shop", {})
        lab.invoke("shop", {"fail": True})
    runner = CliRunner()
    shown = runner.invoke(main, ["--data-dir", str(data), "metrics", "shop"],
                          env={"COLUMNS": "160"})
    assert shown.exit_code == 0, shown.output
    row = next(line for line in shown.output.splitlines() if "█" in line)
    assert " 5 " in row and " 1 " in row  # invocations, errors
    with Lab(data_dir=data) as lab:
        alarms(lab).put_metric_alarm({
            "AlarmName": "shop-errors", "Namespace": "AWS/Lambda", "MetricName": "Errors",
            "Dimensions": fn("shop"), "Statistic": "Sum", "Period": 60, "EvaluationPeriods": 1,
            "Threshold": 1, "ComparisonOperator": "GreaterThanOrEqualToThreshold"})
    with_alarm = runner.invoke(main, ["--data-dir", str(data), "metrics", "shop"],
                               env={"COLUMNS": "160"})
    assert "shop-errors" in with_alarm.output and "INSUFFICIENT_DATA" in with_alarm.output
    empty = runner.invoke(main, ["--data-dir", str(data), "metrics", "nothing-here"])
    assert "No metrics for nothing-here" in empty.output
    kept = runner.invoke(main, ["--data-dir", str(data), "metrics", "--retention-days", "3"])
    assert kept.exit_code == 0 and "kept 3 days" in kept.output


# -- durability and retention -------------------------------------------------------------


def test_metrics_survive_a_restart_and_expire_after_the_retention(
    tmp_path: Path, code: Callable[..., Path]
) -> None:
    clock = VirtualClock(start=START)
    data = tmp_path / "data"
    with Lab(data_dir=data, clock=clock) as lab:
        lab.create_function("shop", code(app=OK), handler="app.handler")
        lab.invoke("shop", {})
        lab.invoke("shop", {})
    dims = (("FunctionName", "shop"),)
    with Lab(data_dir=data, clock=clock) as lab:
        metrics = cloudwatch(lab)
        points = metrics.statistics("AWS/Lambda", "Invocations", dims, START - 60, START + 60,
                                    60, ["Sum"], [])
        assert [p.values["Sum"] for p in points] == [2.0]
        metrics.store.set_retention(1)
        clock.advance(86_400 + 120)
        metrics.put_metric_data("shop", [{"MetricName": "Tick", "Value": 1.0}])
        metrics.store.flush()
        assert metrics.statistics("AWS/Lambda", "Invocations", dims, START - 60, START + 60,
                                  60, ["Sum"], []) == []
    with Lab(data_dir=data, clock=clock) as lab:
        assert cloudwatch(lab).store.retention_days == 1


# -- alarms --------------------------------------------------------------------------------

ALARM_SINK = """
import json
def handler(event, context):
    print("ALARM-EVENT", json.dumps(event))
"""


def alarm_events(lab: Lab) -> list[dict[str, Any]]:
    assert lab.wait_for_events(timeout=120)
    return [json.loads(e.message.split("ALARM-EVENT ", 1)[1]) for e in lab.get_logs("pager")
            if "ALARM-EVENT " in e.message]


def put_error_alarm(cw: Any, lab: Lab, **settings: Any) -> None:
    cw.put_metric_alarm(**{
        "AlarmName": "shop-errors", "Namespace": "AWS/Lambda", "MetricName": "Errors",
        "Dimensions": fn("shop"), "Statistic": "Sum", "Period": 60, "EvaluationPeriods": 1,
        "Threshold": 1, "ComparisonOperator": "GreaterThanOrEqualToThreshold",
        "AlarmActions": [lab.arns.function("pager")], "OKActions": [lab.arns.function("pager")],
        **settings})


def state(cw: Any, name: str = "shop-errors") -> str:
    return cw.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]["StateValue"]


def test_an_alarm_on_errors_fires_a_lambda_action_and_recovers(
    lab: Lab, clock: VirtualClock, code: Callable[..., Path], edge: Any
) -> None:
    lab.create_function("shop", code(app=OK), handler="app.handler")
    lab.create_function("pager", code(app=ALARM_SINK), handler="app.handler")
    cw = client_for(edge.url, "cloudwatch")
    put_error_alarm(cw, lab, AlarmDescription="a bad deploy", TreatMissingData="notBreaching")
    assert state(cw) == "INSUFFICIENT_DATA"

    lab.invoke("shop", {"fail": True})  # the bad deploy
    clock.advance(60)  # the minute ends: it is evaluated
    assert state(cw) == "ALARM"
    [event] = alarm_events(lab)
    assert event["source"] == "aws.cloudwatch"
    assert event["alarmArn"] == "arn:aws:cloudwatch:us-east-1:000000000000:alarm:shop-errors"
    data = event["alarmData"]
    assert data["alarmName"] == "shop-errors" and data["state"]["value"] == "ALARM"
    assert data["previousState"]["value"] == "INSUFFICIENT_DATA"
    assert data["configuration"]["description"] == "a bad deploy"
    assert data["configuration"]["metrics"][0]["metricStat"] == {
        "metric": {"namespace": "AWS/Lambda", "name": "Errors",
                   "dimensions": {"FunctionName": "shop"}}, "period": 60, "stat": "Sum"}
    reason = json.loads(data["state"]["reasonData"])
    assert reason["recentDatapoints"] == [1.0] and reason["threshold"] == 1.0

    lab.invoke("shop", {})  # fixed: a minute without errors
    clock.advance(60)
    assert state(cw) == "OK"
    assert [e["alarmData"]["state"]["value"] for e in alarm_events(lab)] == ["ALARM", "OK"]
    history = cw.describe_alarm_history(AlarmName="shop-errors", ScanBy="TimestampAscending")
    kinds = [(h["HistoryItemType"], h["HistorySummary"]) for h in history["AlarmHistoryItems"]]
    assert kinds[0] == ("ConfigurationUpdate", 'Alarm "shop-errors" created')
    assert ("StateUpdate", "Alarm updated from INSUFFICIENT_DATA to ALARM") in kinds
    assert ("StateUpdate", "Alarm updated from ALARM to OK") in kinds
    assert kinds.count(("Action", f"Successfully executed action {lab.arns.function('pager')}")) == 2


@pytest.mark.parametrize("treat, expected", [
    ("missing", "INSUFFICIENT_DATA"), ("ignore", "ALARM"), ("breaching", "ALARM"),
    ("notBreaching", "OK"),
])
def test_missing_data_is_treated_as_told(lab: Lab, clock: VirtualClock, edge: Any, treat: str,
                                         expected: str) -> None:
    cw = client_for(edge.url, "cloudwatch")
    cw.put_metric_alarm(AlarmName="a", Namespace="shop", MetricName="Orders", Statistic="Sum",
                        Period=60, EvaluationPeriods=2, DatapointsToAlarm=2, Threshold=10,
                        ComparisonOperator="GreaterThanThreshold", TreatMissingData=treat)
    cw.set_alarm_state(AlarmName="a", StateValue="ALARM", StateReason="testing")
    assert state(cw, "a") == "ALARM"
    clock.advance(60 * 3)  # three minutes without data
    assert state(cw, "a") == expected


def test_datapoints_to_alarm_m_out_of_n(lab: Lab, clock: VirtualClock, edge: Any) -> None:
    cw = client_for(edge.url, "cloudwatch")
    cw.put_metric_alarm(AlarmName="a", Namespace="shop", MetricName="Latency",
                        Statistic="Maximum", Period=60, EvaluationPeriods=3, DatapointsToAlarm=2,
                        Threshold=100, ComparisonOperator="GreaterThanThreshold")
    metrics = cloudwatch(lab)
    for latency in (150.0, 50.0):  # one breaching minute, then a good one
        metrics.put_metric_data("shop", [{"MetricName": "Latency", "Value": latency}])
        clock.advance(60)
    assert state(cw, "a") == "OK"
    metrics.put_metric_data("shop", [{"MetricName": "Latency", "Value": 200.0}])
    clock.advance(60)  # 2 of the last 3 minutes breach
    assert state(cw, "a") == "ALARM"
    described = cw.describe_alarms(StateValue="ALARM")["MetricAlarms"][0]
    assert described["DatapointsToAlarm"] == 2 and described["Statistic"] == "Maximum"
    assert "Threshold Crossed: 2 out of the last 3 datapoints" in described["StateReason"]


def test_alarms_are_refused_as_cloudwatch_refuses_and_deleted(
    lab: Lab, edge: Any, code: Callable[..., Path]
) -> None:
    cw = client_for(edge.url, "cloudwatch")
    base = {"AlarmName": "a", "Namespace": "shop", "MetricName": "x", "Statistic": "Sum",
            "Period": 60, "EvaluationPeriods": 1, "Threshold": 1,
            "ComparisonOperator": "GreaterThanThreshold"}
    for change, code_ in (({"DatapointsToAlarm": 2}, "InvalidParameterValue"),
                          ({"Period": 45}, "InvalidParameterValue"),
                          ({"ExtendedStatistic": "p99"}, "InvalidParameterCombination"),
                          ({"AlarmActions": ["arn:aws:sqs:us-east-1:000000000000:q"]},
                           "InvalidParameterValue")):
        with pytest.raises(ClientError) as caught:
            cw.put_metric_alarm(**{**base, **change})
        assert caught.value.response["Error"]["Code"] == code_, change
    assert cw.describe_alarms()["MetricAlarms"] == []  # nothing half-made
    with pytest.raises(ClientError) as caught:
        cw.set_alarm_state(AlarmName="nope", StateValue="OK", StateReason="x")
    assert caught.value.response["Error"]["Code"] == "ResourceNotFound"
    cw.put_metric_alarm(**base)
    with pytest.raises(ClientError) as caught:
        cw.delete_alarms(AlarmNames=["a", "nope"])
    assert caught.value.response["Error"]["Code"] == "ResourceNotFound"
    cw.delete_alarms(AlarmNames=["a"])
    assert cw.describe_alarms()["MetricAlarms"] == []
    summaries = [h["HistorySummary"] for h in
                 cw.describe_alarm_history(AlarmName="a")["AlarmHistoryItems"]]
    assert summaries[0] == 'Alarm "a" deleted'


def test_alarms_survive_a_restart_and_keep_being_evaluated(
    tmp_path: Path, code: Callable[..., Path]
) -> None:
    clock = VirtualClock(start=START)
    data = tmp_path / "data"
    with Lab(data_dir=data, clock=clock) as lab:
        alarms(lab).put_metric_alarm({
            "AlarmName": "a", "Namespace": "shop", "MetricName": "x", "Statistic": "Sum",
            "Period": 60, "EvaluationPeriods": 1, "Threshold": 0,
            "ComparisonOperator": "GreaterThanThreshold"})
    with Lab(data_dir=data, clock=clock) as lab:
        cloudwatch(lab).put_metric_data("shop", [{"MetricName": "x", "Value": 1.0}])
        clock.advance(60)
        assert alarms(lab).describe_alarms(["a"])[0].state_value == "ALARM"


def test_async_drops_and_destination_delivery_failures(
    lab: Lab, clock: VirtualClock, code: Callable[..., Path]
) -> None:
    lab.create_function("shop", code(app=OK), handler="app.handler")
    lab.create_function("gone", code(app=OK), handler="app.handler")
    lab.put_function_event_invoke_config(
        "shop", maximum_retry_attempts=0,
        destination_config={"OnFailure": {"Destination": lab.arns.function("gone")}})
    lab.delete_function("gone")  # the destination cannot take the record any more
    lab.invoke("shop", {"fail": True}, invocation_type="Event")
    assert lab.wait_for_events(timeout=120)
    metrics = cloudwatch(lab)

    def total(name: str) -> list[float]:
        points = metrics.statistics("AWS/Lambda", name, (("FunctionName", "shop"),),
                                    clock.now() - 300, clock.now() + 60, 300, ["Sum"], [])
        return [p.values["Sum"] for p in points]

    assert total("Errors") == [1.0]
    assert total("AsyncEventsDropped") == [1.0]
    assert total("DestinationDeliveryFailures") == [1.0]


@pytest.mark.parametrize("expression", [
    "+".join(["a"] * 1500),  # longer than AWS's 2048 characters
    "-" * 2000 + "a",  # deeper than Python's recursion limit
    "a ** 2", "abs(a)", "b * 2", "FOO(a)", "SEARCH('{AWS/Lambda} Errors', 'Sum')",
    "METRICS() + METRICS()", "IF(a)",
])
def test_hostile_metric_math_is_refused_cleanly(lab: Lab, clock: VirtualClock, edge: Any,
                                                expression: str) -> None:
    cw = client_for(edge.url, "cloudwatch")
    stat = {"Metric": {"Namespace": "shop", "MetricName": "x"}, "Period": 60, "Stat": "Sum"}
    with pytest.raises(ClientError) as caught:
        cw.get_metric_data(MetricDataQueries=[{"Id": "a", "MetricStat": stat},
                                              {"Id": "e", "Expression": expression}],
                           **window(clock))
    assert caught.value.response["Error"]["Code"] == "InvalidParameterValue"


def test_emf_lines_are_counted_once_across_restarts(tmp_path: Path,
                                                    code: Callable[..., Path]) -> None:
    clock = VirtualClock(start=START)
    data = tmp_path / "data"

    def orders() -> list[float]:
        with Lab(data_dir=data, clock=clock) as lab:
            points = cloudwatch(lab).statistics("shop", "Orders", (("service", "cart"),),
                                                START - 60, START + 60, 60, ["Sum"], [])
            return [p.values["Sum"] for p in points]

    with Lab(data_dir=data, clock=clock) as lab:
        lab.create_function("cart", code(app=EMF), handler="app.handler")
        lab.invoke("cart", {"at": clock.now(), "orders": 2})
    assert orders() == [2.0]  # read by the second lab
    assert orders() == [2.0]  # the third one knows they were read


def test_concurrent_executions_maximum_is_the_peak(
    lab: Lab, clock: VirtualClock, code: Callable[..., Path], rendezvous: Path
) -> None:
    from .test_concurrency import BLOCKING, release, start_blocked

    lab.create_function("f", code(app=BLOCKING), handler="app.handler", timeout=30)
    lab.create_function("r", code(app=OK), handler="app.handler")
    lab.put_function_concurrency("r", 5)  # reserved: not in the unreserved pool
    threads, gate = start_blocked(lab, "f", rendezvous, n=2)
    lab.invoke("r", {})  # while both of f run
    release(threads, gate)
    metrics = cloudwatch(lab)

    def peak(name: str, dims: tuple[tuple[str, str], ...]) -> list[float]:
        points = metrics.statistics("AWS/Lambda", name, dims, clock.now() - 60,
                                    clock.now() + 60, 60, ["Maximum"], [])
        return [p.values["Maximum"] for p in points]

    assert peak("ConcurrentExecutions", (("FunctionName", "f"),)) == [2.0]
    assert peak("ConcurrentExecutions", (("FunctionName", "r"),)) == [1.0]
    assert peak("ConcurrentExecutions", ()) == [3.0]
    assert peak("UnreservedConcurrentExecutions", ()) == [2.0]


PUBLISHER = """
import boto3

# AWS_ENDPOINT_URL is set in the function's environment while the edge serves
cloudwatch = boto3.client("cloudwatch")


def handler(event, context):
    cloudwatch.put_metric_data(Namespace="signups", MetricData=[
        {"MetricName": "Signups", "Value": event["n"], "Unit": "Count",
         "Dimensions": [{"Name": "Plan", "Value": "free"}]}])
    return "published"
"""


def test_a_handler_publishes_custom_metrics_with_boto3(lab: Lab, clock: VirtualClock,
                                                        edge: Any) -> None:
    from .edge_support import create

    lam = client_for(edge.url)
    create(lam, "signup", PUBLISHER, Timeout=30)
    for n in (2, 5):
        answer = lam.invoke(FunctionName="signup", Payload=json.dumps({"n": n}).encode())
        assert "FunctionError" not in answer, answer["Payload"].read()
    cw = client_for(edge.url, "cloudwatch")
    got = cw.get_metric_statistics(
        Namespace="signups", MetricName="Signups", Dimensions=[{"Name": "Plan", "Value": "free"}],
        Period=60, Statistics=["Sum", "SampleCount"], **window(clock))["Datapoints"]
    assert [(p["Sum"], p["SampleCount"]) for p in got] == [(7.0, 2.0)]


def test_alarm_actions_can_be_disabled_and_alarms_found_by_metric(
    lab: Lab, clock: VirtualClock, code: Callable[..., Path], edge: Any
) -> None:
    lab.create_function("shop", code(app=OK), handler="app.handler")
    lab.create_function("pager", code(app=ALARM_SINK), handler="app.handler")
    cw = client_for(edge.url, "cloudwatch")
    put_error_alarm(cw, lab)
    cw.disable_alarm_actions(AlarmNames=["shop-errors", "not-an-alarm"])
    assert cw.describe_alarms()["MetricAlarms"][0]["ActionsEnabled"] is False
    lab.invoke("shop", {"fail": True})
    clock.advance(60)
    assert state(cw) == "ALARM" and alarm_events(lab) == []  # the state changes, silently
    found = cw.describe_alarms_for_metric(Namespace="AWS/Lambda", MetricName="Errors",
                                          Dimensions=fn("shop"))["MetricAlarms"]
    assert [a["AlarmName"] for a in found] == ["shop-errors"]
    assert cw.describe_alarms_for_metric(Namespace="AWS/Lambda", MetricName="Errors",
                                         Dimensions=fn("other"))["MetricAlarms"] == []
    cw.enable_alarm_actions(AlarmNames=["shop-errors"])
    cw.set_alarm_state(AlarmName="shop-errors", StateValue="OK", StateReason="testing actions")
    assert [e["alarmData"]["state"]["reason"] for e in alarm_events(lab)] == ["testing actions"]


def test_invokes_sum_their_data_points_themselves_past_the_recorders_bound(
    lab: Lab, clock: VirtualClock, code: Callable[..., Path]
) -> None:
    metrics = cloudwatch(lab)
    metrics.recorder.RAW_MAX = 3  # six values an invoke: each invoke sums what waits
    lab.create_function("shop", code(app=OK), handler="app.handler")
    for _ in range(10):
        lab.invoke("shop", {})
    points = metrics.statistics("AWS/Lambda", "Invocations", (("FunctionName", "shop"),),
                                clock.now() - 60, clock.now() + 60, 60, ["Sum"], [])
    assert [p.values["Sum"] for p in points] == [10.0]


def test_percentiles_keep_a_bounded_uniform_sample() -> None:
    from lambdalab_cloudwatch.quotas import PERCENTILE_SAMPLE_MAX
    from lambdalab_cloudwatch.store import Aggregate

    aggregate = Aggregate("Milliseconds")
    for start in range(0, 10_000, 500):  # 20 batches of 500 values: 0 .. 9999
        aggregate.add_values([float(v) for v in range(start, start + 500)])
    assert aggregate.sample_count == 10_000 and len(aggregate.samples) == PERCENTILE_SAMPLE_MAX
    assert (aggregate.minimum, aggregate.maximum, aggregate.total) == (0, 9999, sum(range(10_000)))
    median = aggregate.percentile(50)
    assert median is not None and 4000 < median < 6000  # the sample spans all batches
