"""CloudWatch metric math, alarms on metric math, composite alarms, and alarms shared by
two lambdalabs on one data dir.

The judges are boto3 against ``lambdalab serve``'s edge; time moves only on the lab's
virtual clock.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

import pytest
from botocore.exceptions import ClientError

from lambdalab import Lab, VirtualClock
from lambdalab.server import EdgeServer

from .edge_support import client_for, edge  # noqa: F401  (fixture)
from .test_cloudwatch import clock  # noqa: F401  (fixture)
from .test_cloudwatch import ALARM_SINK, OK, START, alarm_events, aws_cloudwatch, fn, state

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


def test_chains_and_cycles_of_expressions_get_an_answer(lab: Lab, clock: VirtualClock,
                                                        edge: Any) -> None:
    cw = client_for(edge.url, "cloudwatch")
    put(cw, "Orders", 1.0, START - MINUTE)
    chain = [{"Id": "e0", "MetricStat": stat("Orders")}] + [
        {"Id": f"e{n}", "Expression": f"e{n - 1} + 1", "ReturnData": False}
        for n in range(1, 499)]
    chain[-1]["ReturnData"] = True
    chain[0]["ReturnData"] = False
    [last] = cw.get_metric_data(MetricDataQueries=chain[::-1], StartTime=utc(START - 120),
                                EndTime=utc(START))["MetricDataResults"]
    assert last["Id"] == "e498" and last["Values"] == [499.0]
    cycle = [{"Id": "a", "Expression": "b * 2"}, {"Id": "b", "Expression": "SUM([a, c])"},
             {"Id": "c", "MetricStat": stat("Orders")}]
    for call in (lambda: cw.get_metric_data(MetricDataQueries=cycle, StartTime=utc(START - 120),
                                            EndTime=utc(START)),
                 lambda: cw.put_metric_alarm(
                     AlarmName="loop", EvaluationPeriods=1, Threshold=1,
                     ComparisonOperator="GreaterThanThreshold",
                     Metrics=[{**q, "ReturnData": q["Id"] == "a"} for q in cycle])):
        with pytest.raises(ClientError) as caught:
            call()
        error = caught.value.response["Error"]
        assert error["Code"] == "InvalidParameterValue" and "cycle" in error["Message"]
    assert cw.describe_alarms()["MetricAlarms"] == []


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


# -- composite alarms --------------------------------------------------------------------

RULE = 'ALARM("shop-errors") AND NOT ALARM(deploying)'


def composite(cw: Any, name: str = "page-me") -> dict[str, Any]:
    [found] = cw.describe_alarms(AlarmNames=[name], AlarmTypes=["CompositeAlarm"])[
        "CompositeAlarms"]
    return found


def test_a_composite_alarm_fires_when_its_rule_holds(
    lab: Lab, clock: VirtualClock, code: Callable[..., Path], edge: Any
) -> None:
    lab.create_function("shop", code(app=OK), handler="app.handler")
    lab.create_function("pager", code(app=ALARM_SINK), handler="app.handler")
    cw = client_for(edge.url, "cloudwatch")
    cw.put_metric_alarm(AlarmName="shop-errors", Namespace="AWS/Lambda", MetricName="Errors",
                        Dimensions=fn("shop"), Statistic="Sum", Period=60, EvaluationPeriods=1,
                        Threshold=1, ComparisonOperator="GreaterThanOrEqualToThreshold",
                        TreatMissingData="notBreaching")
    cw.put_metric_alarm(AlarmName="deploying", Namespace="shop", MetricName="Deploys",
                        Statistic="Sum", Period=60, EvaluationPeriods=1, Threshold=0,
                        ComparisonOperator="GreaterThanThreshold", TreatMissingData="ignore")
    cw.put_composite_alarm(AlarmName="page-me", AlarmRule=RULE,
                           AlarmDescription="errors outside a deploy",
                           AlarmActions=[lab.arns.function("pager")])
    assert composite(cw)["StateValue"] == "OK"  # evaluated at once: the rule is false
    assert composite(cw)["AlarmRule"] == RULE
    assert cw.describe_alarms()["CompositeAlarms"] == []  # metric alarms unless asked
    both = cw.describe_alarms(AlarmTypes=["MetricAlarm", "CompositeAlarm"])
    assert len(both["MetricAlarms"]) == 2 and len(both["CompositeAlarms"]) == 1

    cw.set_alarm_state(AlarmName="deploying", StateValue="ALARM", StateReason="deploy started")
    lab.invoke("shop", {"fail": True})  # errors during the deploy: no page
    clock.advance(MINUTE)
    assert state(cw, "shop-errors") == "ALARM" and composite(cw)["StateValue"] == "OK"

    cw.set_alarm_state(AlarmName="deploying", StateValue="OK", StateReason="deploy over")
    assert composite(cw)["StateValue"] == "ALARM"  # a child changed: evaluated at once
    [event] = alarm_events(lab)
    assert event["alarmArn"].endswith(":alarm:page-me")
    data = event["alarmData"]
    assert data["configuration"] == {"alarmRule": RULE, "description": "errors outside a deploy"}
    assert data["state"]["value"] == "ALARM" and data["previousState"]["value"] == "OK"
    triggering = json.loads(data["state"]["reasonData"])["triggeringAlarms"]
    assert [t["arn"].rsplit(":", 1)[1] for t in triggering] == ["deploying"]
    assert "deploying transitioned to OK" in data["state"]["reason"]

    lab.invoke("shop", {})  # fixed: the errors alarm goes OK, and the composite with it
    clock.advance(MINUTE)
    assert composite(cw)["StateValue"] == "OK"
    history = cw.describe_alarm_history(AlarmName="page-me", AlarmTypes=["CompositeAlarm"],
                                        HistoryItemType="StateUpdate",
                                        ScanBy="TimestampAscending")["AlarmHistoryItems"]
    assert [(h["AlarmType"], h["HistorySummary"]) for h in history] == [
        ("CompositeAlarm", "Alarm updated from INSUFFICIENT_DATA to OK"),
        ("CompositeAlarm", "Alarm updated from OK to ALARM"),
        ("CompositeAlarm", "Alarm updated from ALARM to OK")]

    children = cw.describe_alarms(ChildrenOfAlarmName="page-me")
    assert sorted(a["AlarmName"] for a in children["MetricAlarms"]) == ["deploying", "shop-errors"]
    parents = cw.describe_alarms(ParentsOfAlarmName="deploying")["CompositeAlarms"]
    assert [a["AlarmName"] for a in parents] == ["page-me"]
    with pytest.raises(ClientError) as caught:  # page-me still names it
        cw.delete_alarms(AlarmNames=["deploying"])
    assert caught.value.response["Error"]["Code"] == "InvalidParameterValue"
    cw.delete_alarms(AlarmNames=["page-me", "deploying"])
    assert cw.describe_alarms(AlarmTypes=["CompositeAlarm"])["CompositeAlarms"] == []


def test_composite_alarms_name_composite_alarms_and_arns(lab: Lab, clock: VirtualClock,
                                                         edge: Any) -> None:
    cw = client_for(edge.url, "cloudwatch")
    cw.put_metric_alarm(AlarmName="a", Namespace="shop", MetricName="x", Statistic="Sum",
                        Period=60, EvaluationPeriods=1, Threshold=0,
                        ComparisonOperator="GreaterThanThreshold", TreatMissingData="ignore")
    arn = cw.describe_alarms(AlarmNames=["a"])["MetricAlarms"][0]["AlarmArn"]
    cw.put_composite_alarm(AlarmName="inner", AlarmRule=f'ALARM("{arn}") OR FALSE')
    cw.put_composite_alarm(AlarmName="outer", AlarmRule="(ALARM(inner)) AND TRUE")
    assert composite(cw, "outer")["StateValue"] == "OK"
    cw.set_alarm_state(AlarmName="a", StateValue="ALARM", StateReason="testing")
    assert composite(cw, "inner")["StateValue"] == "ALARM"
    assert composite(cw, "outer")["StateValue"] == "ALARM"  # a change travels up


@pytest.mark.parametrize("change, says", [
    ({"AlarmRule": "ALARM(a) AND"}, "is not valid"),
    ({"AlarmRule": "ALARM(a) XOR ALARM(a)"}, "is not valid"),
    ({"AlarmRule": "alarm(a)"}, "is not valid"),
    ({"AlarmRule": "ALARM(nope)"}, "[nope] in the alarm rule do not exist"),
    ({"AlarmRule": "NOT " * 600 + "TRUE"}, "as many as 500 elements"),
    ({"AlarmName": "a"}, "is a metric alarm"),
    ({"ActionsSuppressor": "a"}, "does not emulate action suppression"),
    ({"AlarmActions": ["arn:aws:sqs:us-east-1:000000000000:q"]}, "Invalid action"),
])
def test_composite_alarms_are_refused_with_what_to_change(
    lab: Lab, edge: Any, change: dict[str, Any], says: str
) -> None:
    cw = client_for(edge.url, "cloudwatch")
    cw.put_metric_alarm(AlarmName="a", Namespace="shop", MetricName="x", Statistic="Sum",
                        Period=60, EvaluationPeriods=1, Threshold=0,
                        ComparisonOperator="GreaterThanThreshold")
    with pytest.raises(ClientError) as caught:
        cw.put_composite_alarm(**{"AlarmName": "c", "AlarmRule": "ALARM(a)", **change})
    error = caught.value.response["Error"]
    assert error["Code"] == "InvalidParameterValue" and says in error["Message"], error
    assert cw.describe_alarms(AlarmTypes=["CompositeAlarm"])["CompositeAlarms"] == []


# -- two lambdalabs on one data dir --------------------------------------------------------

OTHER_LAMBDALAB = """
import pathlib, sys, time
from lambdalab import Lab, VirtualClock
from lambdalab.server import EdgeServer
data, start = sys.argv[1], float(sys.argv[4])
ready, go = pathlib.Path(sys.argv[2]), pathlib.Path(sys.argv[3])
clock = VirtualClock(start=start)
with Lab(data_dir=data, clock=clock) as lab:
    ready.touch()
    while not go.exists():  # a rendezvous with the test, not a wait for time to pass
        time.sleep(0.005)
    clock.advance(60)
"""


def test_two_lambdalabs_on_one_data_dir_evaluate_each_alarm_period_once(
    tmp_path: Path, code: Callable[..., Path]
) -> None:
    clock = VirtualClock(start=START)
    data = tmp_path / "data"
    ready, go = tmp_path / "ready", tmp_path / "go"
    names = [f"busy-{n}" for n in range(12)]
    with Lab(data_dir=data, clock=clock) as lab, EdgeServer(lab, port=0) as server:
        lab.create_function("pager", code(app=ALARM_SINK), handler="app.handler")
        cw = client_for(server.url, "cloudwatch")
        for name in names:
            cw.put_metric_alarm(AlarmName=name, Namespace="shop", MetricName="Orders",
                                Statistic="Sum", Period=60, EvaluationPeriods=1, Threshold=0,
                                ComparisonOperator="GreaterThanThreshold",
                                AlarmActions=[lab.arns.function("pager")])
        cw.put_metric_data(Namespace="shop", MetricData=[{"MetricName": "Orders", "Value": 1}])
        cw.get_metric_statistics(  # a read writes what waits in memory: the other sees it
            Namespace="shop", MetricName="Orders", Period=60, Statistics=["Sum"],
            StartTime=utc(START - 60), EndTime=utc(START + 60))
        other = subprocess.Popen([sys.executable, "-c", OTHER_LAMBDALAB, str(data), str(ready),
                                  str(go), str(START)])
        try:
            for _ in range(6000):
                if ready.exists() or other.poll() is not None:
                    break
                time.sleep(0.01)  # the other process starting up
            assert ready.exists(), "the other lambdalab did not start"
            go.touch()
            clock.advance(MINUTE)  # both evaluate the minute that just ended
            assert other.wait(timeout=120) == 0
        finally:
            if other.poll() is None:
                other.kill()
        for name in names:
            assert state(cw, name) == "ALARM"
            kinds = [h["HistoryItemType"] for h in
                     cw.describe_alarm_history(AlarmName=name)["AlarmHistoryItems"]]
            assert kinds.count("StateUpdate") == 1 and kinds.count("Action") == 1, (name, kinds)


def test_aws_cli_puts_and_describes_a_composite_alarm(lab: Lab, clock: VirtualClock,
                                                      edge: Any) -> None:
    cw = client_for(edge.url, "cloudwatch")
    cw.put_metric_alarm(AlarmName="shop-errors", Namespace="shop", MetricName="x",
                        Statistic="Sum", Period=60, EvaluationPeriods=1, Threshold=0,
                        ComparisonOperator="GreaterThanThreshold", TreatMissingData="ignore")
    cw.set_alarm_state(AlarmName="shop-errors", StateValue="ALARM", StateReason="testing")
    put = aws_cloudwatch(edge.url, "put-composite-alarm", "--alarm-name", "page-me",
                         "--alarm-rule", 'ALARM("shop-errors") AND NOT ALARM(nothing) OR FALSE')
    assert put.returncode == 255 and "[nothing] in the alarm rule do not exist" in put.stderr
    put = aws_cloudwatch(edge.url, "put-composite-alarm", "--alarm-name", "page-me",
                         "--alarm-rule", 'ALARM("shop-errors") OR FALSE')
    assert put.returncode == 0, put.stderr
    described = aws_cloudwatch(edge.url, "describe-alarms", "--alarm-types", "CompositeAlarm")
    assert described.returncode == 0, described.stderr
    [found] = json.loads(described.stdout)["CompositeAlarms"]
    assert found["AlarmName"] == "page-me" and found["StateValue"] == "ALARM"
    assert json.loads(found["StateReasonData"])["triggeringAlarms"][0]["arn"].endswith(
        ":alarm:shop-errors")


def test_an_alarm_stored_before_metric_math_still_moves(lab: Lab, clock: VirtualClock,
                                                         edge: Any) -> None:
    cw = client_for(edge.url, "cloudwatch")
    cw.put_metric_alarm(AlarmName="old", Namespace="shop", MetricName="Orders",
                        Statistic="Sum", Period=60, EvaluationPeriods=1, Threshold=0,
                        ComparisonOperator="GreaterThanThreshold")
    with lab.store.transaction() as db:  # the row as a data dir of an older lambdalab has it
        [(config,)] = db.execute("SELECT config FROM cloudwatch_alarms").fetchall()
        older = {k: v for k, v in json.loads(config).items() if k != "metrics"}
        db.execute("UPDATE cloudwatch_alarms SET config = ?", (json.dumps(older),))
    put(cw, "Orders", 1.0, START)
    clock.advance(MINUTE)
    assert state(cw, "old") == "ALARM"
