"""CloudWatch metric math, alarms on metric math, composite alarms, and alarms shared by
two lambdalabs on one data dir.

The judges are boto3 against ``lambdalab serve``'s edge; time moves only on the lab's
virtual clock.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

import pytest
from botocore.exceptions import ClientError

from lambdalab import Lab, VirtualClock

from .edge_support import client_for, edge  # noqa: F401  (fixture)
from .test_cloudwatch import ALARM_SINK, OK, START, alarm_events, clock, fn, state  # noqa: F401

MINUTE = 60


def utc(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, timezone.utc)


def stat(metric: str, namespace: str = "shop", **dims: str) -> dict[str, Any]:
    return {"Metric": {"Namespace": namespace, "MetricName": metric,
                       "Dimensions": [{"Name": k, "Value": v} for k, v in dims.items()]},
            "Period": 60, "Stat": "Sum"}


def put(cw: Any, metric: str, value: float, at: float) -> None:
    cw.put_metric_data(Namespace="shop", MetricData=[
        {"MetricName": metric, "Value": value, "Timestamp": utc(at)}])


def series(result: dict[str, Any]) -> dict[float, float]:
    return {t.timestamp() - START: v for t, v in zip(result["Timestamps"], result["Values"])}


# -- metric math in GetMetricData -------------------------------------------------------


def test_metric_math_functions_over_several_metrics(lab: Lab, clock: VirtualClock,
                                                    edge: Any) -> None:
    cw = client_for(edge.url, "cloudwatch")
    for minutes_ago, orders in ((3, 1.0), (2, 3.0), (1, 5.0)):
        put(cw, "Orders", orders, START - minutes_ago * MINUTE)
    put(cw, "Refunds", 1.0, START - 2 * MINUTE)

    got = cw.get_metric_data(
        MetricDataQueries=[
            {"Id": "orders", "MetricStat": stat("Orders"), "ReturnData": False},
            {"Id": "refunds", "MetricStat": stat("Refunds"), "ReturnData": False},
            {"Id": "total", "Expression": "SUM(METRICS())"},
            {"Id": "filled", "Expression": "FILL(refunds, 0)"},
            {"Id": "repeated", "Expression": "FILL(refunds, REPEAT)"},
            {"Id": "rate", "Expression": "RATE(orders)"},
            {"Id": "big", "Expression": "IF(orders > 2 && NOT orders == 5, orders, 0)"},
            {"Id": "peak", "Expression": "MAX(orders)"},
            {"Id": "share", "Expression": "100 * refunds / total"},  # names an expression
            {"Id": "doubled", "Expression": "METRICS() * 2"},
            {"Id": "onlyorders", "Expression": 'SUM(METRICS("ord"))'},
        ],
        StartTime=utc(START - 3 * MINUTE), EndTime=utc(START),
        ScanBy="TimestampAscending")["MetricDataResults"]
    by_id: dict[str, list[dict[str, Any]]] = {}
    for result in got:
        by_id.setdefault(result["Id"], []).append(result)
    one = {key: series(results[0]) for key, results in by_id.items()}
    assert one["total"] == {-180: 1.0, -120: 4.0, -60: 5.0}
    assert one["filled"] == {-180: 0.0, -120: 1.0, -60: 0.0}
    assert one["repeated"] == {-120: 1.0, -60: 1.0}
    assert one["rate"] == {-120: pytest.approx(2 / 60), -60: pytest.approx(2 / 60)}
    assert one["big"] == {-180: 0.0, -120: 3.0, -60: 0.0}
    assert one["peak"] == {-180: 5.0, -120: 5.0, -60: 5.0}  # a number holds at every period
    assert one["share"] == {-120: 25.0}
    assert one["onlyorders"] == {-180: 1.0, -120: 3.0, -60: 5.0}
    doubled = {r["Label"]: series(r) for r in by_id["doubled"]}  # an array: one per series
    assert doubled == {"doubled Orders": {-180: 2.0, -120: 6.0, -60: 10.0},
                       "doubled Refunds": {-120: 2.0}}
    assert "orders" not in by_id and all(r["StatusCode"] == "Complete" for r in got)


@pytest.mark.parametrize("expression, says", [
    ("SEARCH('{AWS/Lambda} Errors', 'Sum')", "does not emulate"),
    ("ANOMALY_DETECTION_BAND(m1, 2)", "does not emulate"),
    ("FROBNICATE(m1)", "Unknown function FROBNICATE"),
    ("m1 +", "not valid metric math"),
    ("m2 * 2", "no query has that Id"),
    ("FILL(m1)", "FILL takes 2 argument(s), not 1"),
])
def test_metric_math_refused_with_what_to_change(lab: Lab, clock: VirtualClock, edge: Any,
                                                 expression: str, says: str) -> None:
    cw = client_for(edge.url, "cloudwatch")
    with pytest.raises(ClientError) as caught:
        cw.get_metric_data(MetricDataQueries=[{"Id": "m1", "MetricStat": stat("Orders")},
                                              {"Id": "e1", "Expression": expression}],
                           StartTime=utc(START - 300), EndTime=utc(START))
    error = caught.value.response["Error"]
    assert error["Code"] == "InvalidParameterValue" and says in error["Message"]


# -- alarms on metric math ---------------------------------------------------------------


def error_rate_metrics(threshold_id: str = "rate") -> list[dict[str, Any]]:
    return [
        {"Id": "errors", "MetricStat": stat("Errors", "AWS/Lambda", FunctionName="shop"),
         "ReturnData": False},
        {"Id": "invocations", "MetricStat": stat("Invocations", "AWS/Lambda", FunctionName="shop"),
         "ReturnData": False},
        {"Id": threshold_id, "Expression": "100 * errors / invocations",
         "Label": "Error rate (%)", "ReturnData": True},
    ]


def test_an_alarm_on_an_error_rate_watches_the_expression(
    lab: Lab, clock: VirtualClock, code: Callable[..., Path], edge: Any
) -> None:
    lab.create_function("shop", code(app=OK), handler="app.handler")
    lab.create_function("pager", code(app=ALARM_SINK), handler="app.handler")
    cw = client_for(edge.url, "cloudwatch")
    cw.put_metric_alarm(AlarmName="error-rate", Metrics=error_rate_metrics(),
                        EvaluationPeriods=1, Threshold=10,
                        ComparisonOperator="GreaterThanThreshold",
                        AlarmActions=[lab.arns.function("pager")])
    described = cw.describe_alarms(AlarmNames=["error-rate"])["MetricAlarms"][0]
    assert described["Metrics"][2]["Expression"] == "100 * errors / invocations"
    assert "MetricName" not in described and "Statistic" not in described

    for fail in (False, False, False, True):  # 25% of this minute's invokes fail
        lab.invoke("shop", {"fail": fail})
    clock.advance(MINUTE)
    assert state(cw, "error-rate") == "ALARM"
    [event] = alarm_events(lab)
    metrics = event["alarmData"]["configuration"]["metrics"]
    assert metrics[2] == {"id": "rate", "expression": "100 * errors / invocations",
                          "label": "Error rate (%)", "returnData": True}
    assert metrics[0]["metricStat"]["metric"]["name"] == "Errors"
    reason = json.loads(event["alarmData"]["state"]["reasonData"])
    assert reason["recentDatapoints"] == [25.0]

    for _ in range(4):  # a clean minute: 0%
        lab.invoke("shop", {})
    clock.advance(MINUTE)
    assert state(cw, "error-rate") == "OK"


@pytest.mark.parametrize("change, code_", [
    ({"MetricName": "Errors"}, "InvalidParameterCombination"),
    ({"Metrics": error_rate_metrics()[:2]}, "InvalidParameterValue"),  # none returns data
    ({"Metrics": [{**q, "ReturnData": True} for q in error_rate_metrics()]},
     "InvalidParameterValue"),  # three return data
    ({"Metrics": error_rate_metrics()[1:]}, "InvalidParameterValue"),  # names no query
])
def test_metric_math_alarms_are_refused_as_cloudwatch_refuses(
    lab: Lab, edge: Any, change: dict[str, Any], code_: str
) -> None:
    cw = client_for(edge.url, "cloudwatch")
    base = {"AlarmName": "a", "Metrics": error_rate_metrics(), "EvaluationPeriods": 1,
            "Threshold": 1, "ComparisonOperator": "GreaterThanThreshold"}
    with pytest.raises(ClientError) as caught:
        cw.put_metric_alarm(**{**base, **change})
    assert caught.value.response["Error"]["Code"] == code_
    assert cw.describe_alarms()["MetricAlarms"] == []
