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
from lambdalab_cloudwatch import cloudwatch

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
