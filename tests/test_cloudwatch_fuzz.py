"""Property: no request to the edge's CloudWatch gets a 5xx, and every error parses in
botocore, in JSON (boto3's choice) and in query (older SDKs').

Inputs come from the operations' input shapes in botocore's ``cloudwatch`` model and are
malformed as ``tests/test_fuzz_edge.py`` malforms them (wrong types, missing members,
long strings, off-enum values, JSON nested thousands deep), sent raw to a running edge.
Requests per run: 90 in JSON, 60 in query.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import given, settings

from lambdalab.server import EdgeServer

from .edge_support import client_for
from .edge_support import edge as edge  # noqa: F401  (fixture)
from .test_fuzz_edge import DEEP_MARK, FUZZ, judge, operation_and_input, query_pairs, send
from .test_fuzz_edge import signed_for, to_json

OPERATIONS = (
    "PutMetricData", "GetMetricStatistics", "GetMetricData", "ListMetrics", "PutMetricAlarm",
    "DescribeAlarms", "DescribeAlarmHistory", "DeleteAlarms", "SetAlarmState",
    "DescribeAlarmsForMetric", "EnableAlarmActions", "DisableAlarmActions", "PutCompositeAlarm",
)


@pytest.fixture
def world(edge: EdgeServer) -> EdgeServer:
    """A metric, an alarm and a composite alarm to find, so that some requests get past
    "not found"."""
    cw = client_for(edge.url, "cloudwatch")
    cw.put_metric_data(Namespace="shop", MetricData=[{"MetricName": "x", "Value": 1.0}])
    cw.put_metric_alarm(AlarmName="r", Namespace="shop", MetricName="x", Statistic="Sum",
                        Period=60, EvaluationPeriods=1, Threshold=1,
                        ComparisonOperator="GreaterThanThreshold")
    cw.put_composite_alarm(AlarmName="c", AlarmRule="ALARM(r) OR NOT OK(r)")
    return edge


@settings(FUZZ, max_examples=90)
@given(request=operation_and_input("cloudwatch", OPERATIONS))
def test_cloudwatch_json_never_fails_internally(world: EdgeServer, request: Any) -> None:
    op, params = request
    headers = {"X-Amz-Target": f"GraniteServiceVersion20100801.{op.name}",
               "Content-Type": "application/x-amz-json-1.0", **signed_for("monitoring")}
    judge("cloudwatch", "json", op, "POST", send(world.url, "POST", "/", headers, to_json(params)))


@settings(FUZZ, max_examples=60)
@given(request=operation_and_input("cloudwatch", OPERATIONS))
def test_cloudwatch_query_never_fails_internally(world: EdgeServer, request: Any) -> None:
    op, params = request
    pairs = [("Action", op.name), ("Version", "2010-08-01")]
    for name, value in params.items():
        pairs += list(query_pairs(name, value))
    body = urlencode([(k, DEEP_MARK.sub("[[[", v)) for k, v in pairs]).encode()
    headers = {"Content-Type": "application/x-www-form-urlencoded", **signed_for("monitoring")}
    judge("cloudwatch", "query", op, "POST", send(world.url, "POST", "/", headers, body))


def test_a_timestamp_botocore_cannot_place_is_a_client_error(world: EdgeServer) -> None:
    body = urlencode({"Action": "GetMetricStatistics", "Version": "2010-08-01",
                      "Namespace": "shop", "MetricName": "x", "Period": "60",
                      "Statistics.member.1": "Sum", "StartTime": "1000000000000.0",
                      "EndTime": "2023-11-15T00:00:00Z"}).encode()
    headers = {"Content-Type": "application/x-www-form-urlencoded", **signed_for("monitoring")}
    status, _, answer = send(world.url, "POST", "/", headers, body)
    assert status == 400 and b"<Code>" in answer, answer  # was a 500 (RuntimeError)


def test_a_json_timestamp_botocore_cannot_place_is_a_client_error(world: EdgeServer) -> None:
    body = b'{"MetricDataQueries": [], "StartTime": 6.77680361916768e+16, "EndTime": 1}'
    headers = {"X-Amz-Target": "GraniteServiceVersion20100801.GetMetricData",
               "Content-Type": "application/x-amz-json-1.0", **signed_for("monitoring")}
    status, _, answer = send(world.url, "POST", "/", headers, body)
    assert status == 400 and b'"__type"' in answer, answer  # was a 500 (RuntimeError)


def test_an_empty_timestamp_is_a_client_error(world: EdgeServer) -> None:
    body = urlencode({"Action": "GetMetricData", "Version": "2010-08-01",
                      "StartTime": "", "EndTime": ""}).encode()
    headers = {"Content-Type": "application/x-www-form-urlencoded", **signed_for("monitoring")}
    status, _, answer = send(world.url, "POST", "/", headers, body)
    assert status == 400 and b"<Code>" in answer, answer  # was a 500 (float(''))
