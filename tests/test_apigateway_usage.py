"""API Gateway's throttles and quotas, on the lab's virtual clock: a usage plan's per-key
throttle (token bucket) and quota, a stage's ``*/*`` and a method's throttling settings,
and GetUsage's counts — boto3 and plain HTTP against a real edge
(https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-request-throttling.html)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from lambdalab.server import EdgeServer

from .edge_support import client, client_for, create, edge, killed_server  # noqa: F401  (fixtures)
from .test_apigateway import ECHO_V1, allow_apigateway, make_rest_api, request, rest_api  # noqa: F401  (fixture)
from .test_edge_sqs import aws_cli

THROTTLED = (429, {"message": "Too Many Requests"})
QUOTA = (429, {"message": "Limit Exceeded"})
KEY = "partner-key-0123456789"


def _keyed(rest_api: dict[str, Any], **plan: Any) -> tuple[Any, dict[str, Any]]:
    """``GET /items/{id}`` requires a key; KEY is in a plan with ``plan``'s limits."""
    apigw, api_id = rest_api["client"], rest_api["id"]
    item = next(r for r in apigw.get_resources(restApiId=api_id)["items"] if r["path"] == "/items/{id}")
    apigw.update_method(restApiId=api_id, resourceId=item["id"], httpMethod="GET",
                        patchOperations=[{"op": "replace", "path": "/apiKeyRequired", "value": "true"}])
    apigw.create_deployment(restApiId=api_id, stageName="prod")
    key = apigw.create_api_key(name="partner", enabled=True, value=KEY)
    made = apigw.create_usage_plan(name="basic", apiStages=[{"apiId": api_id, "stage": "prod"}], **plan)
    apigw.create_usage_plan_key(usagePlanId=made["id"], keyId=key["id"], keyType="API_KEY")
    return key, made


def _get(rest_api: dict[str, Any], path: str = "/items/1") -> tuple[int, Any]:
    status, _, body = request(rest_api["url"] + path, headers={"x-api-key": KEY})
    return status, (json.loads(body) if status == 429 else None)


def test_a_keys_throttle_is_a_token_bucket(rest_api: dict[str, Any], clock: Any) -> None:
    """burstLimit requests at once, then one more each 1/rateLimit seconds."""
    _keyed(rest_api, throttle={"rateLimit": 1, "burstLimit": 2})
    assert [_get(rest_api)[0] for _ in range(2)] == [200, 200]
    assert _get(rest_api) == THROTTLED
    clock.advance(1)
    assert _get(rest_api)[0] == 200
    assert _get(rest_api) == THROTTLED
    assert request(rest_api["url"] + "/files/a")[0] == 200  # a method needing no key is not the plan's


def test_a_quota_counts_per_period_with_its_offset_and_get_usage_reports_it(
        rest_api: dict[str, Any], clock: Any) -> None:
    """limit requests a DAY (offset of them spent on the first day); GetUsage's
    [used, remaining] per day."""
    clock.set(datetime(2026, 3, 2, 12, tzinfo=timezone.utc).timestamp())
    key, plan = _keyed(rest_api, quota={"limit": 3, "offset": 1, "period": "DAY"})
    assert [_get(rest_api)[0] for _ in range(2)] == [200, 200]
    assert _get(rest_api) == QUOTA
    clock.set(datetime(2026, 3, 3, 0, 0, 1, tzinfo=timezone.utc).timestamp())
    assert [_get(rest_api)[0] for _ in range(3)] == [200, 200, 200]
    assert _get(rest_api) == QUOTA
    usage = rest_api["client"].get_usage(usagePlanId=plan["id"], startDate="2026-03-01", endDate="2026-03-03")
    assert usage["items"] == {key["id"]: [[0, 3], [2, 0], [3, 0]]}
    with pytest.raises(rest_api["client"].exceptions.BadRequestException):
        rest_api["client"].get_usage(usagePlanId=plan["id"], startDate="2026-03-03", endDate="2026-03-01")
    with pytest.raises(rest_api["client"].exceptions.BadRequestException):
        rest_api["client"].get_usage(usagePlanId=plan["id"], startDate="yesterday", endDate="2026-03-01")


def test_a_monthly_quota_resets_with_the_month(rest_api: dict[str, Any], clock: Any) -> None:
    clock.set(datetime(2026, 1, 31, 23, tzinfo=timezone.utc).timestamp())
    _keyed(rest_api, quota={"limit": 1, "period": "MONTH"})
    assert _get(rest_api)[0] == 200
    assert _get(rest_api) == QUOTA
    clock.advance(3600)
    assert _get(rest_api)[0] == 200


def test_stage_and_method_throttling_settings(rest_api: dict[str, Any], clock: Any) -> None:
    """UpdateStage's */*/throttling/... throttles the stage; a method's own settings win."""
    apigw, api_id = rest_api["client"], rest_api["id"]
    stage = apigw.update_stage(restApiId=api_id, stageName="prod", patchOperations=[
        {"op": "replace", "path": "/*/*/throttling/rateLimit", "value": "1"},
        {"op": "replace", "path": "/*/*/throttling/burstLimit", "value": "1"},
        {"op": "replace", "path": "/~1files~1{proxy+}/ANY/throttling/burstLimit", "value": "3"}])
    assert stage["methodSettings"]["*/*"] == {"throttlingRateLimit": 1.0, "throttlingBurstLimit": 1}
    assert (200, None) == _get(rest_api)
    assert _get(rest_api) == THROTTLED
    assert [request(rest_api["url"] + "/files/a")[0] for _ in range(4)] == [200, 200, 200, 429]
    clock.advance(1)
    assert _get(rest_api)[0] == 200
    for bad in ("-1", "lots", "nan"):
        with pytest.raises(apigw.exceptions.BadRequestException):
            apigw.update_stage(restApiId=api_id, stageName="prod", patchOperations=[
                {"op": "replace", "path": "/*/*/throttling/rateLimit", "value": bad}])


def test_a_plan_with_limits_that_cannot_be_enforced_is_refused(rest_api: dict[str, Any]) -> None:
    apigw = rest_api["client"]
    for limits in ({"quota": {"limit": 5, "period": "YEAR"}}, {"throttle": {"rateLimit": -1, "burstLimit": 1}}):
        with pytest.raises(apigw.exceptions.BadRequestException):
            apigw.create_usage_plan(name="bad", **limits)


def _used(apigw: Any, plan_id: str, key_id: str) -> int:
    """Every request GetUsage counts for the key over the days around today (summed, so
    that the answer does not depend on the day the test runs)."""
    today = datetime.now(timezone.utc).date()
    usage = apigw.get_usage(usagePlanId=plan_id, keyId=key_id, startDate=str(today - timedelta(days=40)),
                            endDate=str(today + timedelta(days=1)))
    return sum(used for used, _ in usage["items"].get(key_id, []))


def test_usage_survives_a_sigkill_of_serve(tmp_path: Path) -> None:
    """A key at its quota stays refused, an UpdateUsage extension holds, and GetUsage counts
    the same, after ``lambdalab serve`` is killed with SIGKILL and started again on the data
    dir (AWS keeps usage).
    The quota is a MONTH's, so only a test straddling a month's end could see it renewed."""
    data = tmp_path / "data"
    with killed_server(data) as url:
        rest_api = make_rest_api(client_for(url), url)
        key, plan = _keyed(rest_api, quota={"limit": 2, "period": "MONTH"})
        assert [_get(rest_api)[0] for _ in range(2)] == [200, 200]
        assert _get(rest_api) == QUOTA
        assert _used(rest_api["client"], plan["id"], key["id"]) == 2
        rest_api["client"].update_usage(usagePlanId=plan["id"], keyId=key["id"], patchOperations=[
            {"op": "replace", "path": "/remaining", "value": "1"}])  # one more, granted before the crash
    with killed_server(data) as url:  # the first was killed with SIGKILL on leaving its block
        again = {**rest_api, "client": client_for(url, "apigateway"),
                 "url": f"{url}/_lambdalab/apis/{rest_api['id']}/prod"}
        assert _used(again["client"], plan["id"], key["id"]) == 2
        assert _get(again)[0] == 200 and _get(again) == QUOTA
        assert _used(again["client"], plan["id"], key["id"]) == 3  # a refused request is not counted


def test_update_usage_plan_as_aws_tutorials_do_with_the_cli(rest_api: dict[str, Any], edge: EdgeServer) -> None:
    """``aws apigateway update-usage-plan`` (quota, throttle, API stages) and
    ``update-api-key`` (enabled) as AWS's usage plan tutorial runs them, each enforced at
    once (https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-create-usage-plans-with-console.html)."""
    key, plan = _keyed(rest_api, quota={"limit": 1, "period": "MONTH"})
    assert _get(rest_api)[0] == 200 and _get(rest_api) == QUOTA
    updated = aws_cli(edge.url, "apigateway", "update-usage-plan", "--usage-plan-id", plan["id"], "--patch-operations",
                      "op=replace,path=/quota/limit,value=3", "op=replace,path=/throttle/rateLimit,value=10",
                      "op=replace,path=/throttle/burstLimit,value=5", "op=replace,path=/description,value=more")
    assert updated["quota"] == {"limit": 3, "period": "MONTH"} and updated["description"] == "more"
    assert updated["throttle"] == {"rateLimit": 10.0, "burstLimit": 5}
    assert _get(rest_api)[0] == 200
    aws_cli(edge.url, "apigateway", "update-api-key", "--api-key", key["id"], "--patch-operations",
            "op=replace,path=/enabled,value=false")
    assert _get(rest_api) == (403, None)
    apigw = rest_api["client"]
    apigw.update_api_key(apiKey=key["id"], patchOperations=[
        {"op": "test", "path": "/enabled", "value": "false"}, {"op": "replace", "path": "/enabled", "value": "true"},
        {"op": "copy", "from": "/name", "path": "/description"}])
    assert apigw.get_api_key(apiKey=key["id"])["description"] == "partner"
    assert _get(rest_api)[0] == 200
    stage = f"{rest_api['id']}:prod"
    apigw.update_usage_plan(usagePlanId=plan["id"], patchOperations=[
        {"op": "remove", "path": "/apiStages", "value": stage}, {"op": "remove", "path": "/quota"}])
    assert _get(rest_api) == (403, None)  # the key's plan no longer names the stage
    again = apigw.update_usage_plan(usagePlanId=plan["id"], patchOperations=[
        {"op": "add", "path": "/apiStages", "value": stage}])
    assert again["apiStages"] == [{"apiId": rest_api["id"], "stage": "prod"}] and "quota" not in again
    assert _get(rest_api)[0] == 200
    refusals = [
        ([{"op": "remove", "path": "/apiStages", "value": f"{rest_api['id']}:nosuch"}], "NotFoundException"),
        ([{"op": "add", "path": "/apiStages", "value": f"{rest_api['id']}:nosuch"}], "BadRequestException"),
        ([{"op": "replace", "path": "/quota/period", "value": "YEAR"}], "BadRequestException"),
        ([{"op": "replace", "path": "/throttle/rateLimit", "value": "fast"}], "BadRequestException"),
        ([{"op": "replace", "path": "/id", "value": "x"}], "BadRequestException"),
    ]
    for operations, code in refusals:
        with pytest.raises(ClientError) as raised:
            apigw.update_usage_plan(usagePlanId=plan["id"], patchOperations=operations)
        assert raised.value.response["Error"]["Code"] == code, operations
    with pytest.raises(apigw.exceptions.BadRequestException):
        apigw.update_api_key(apiKey=key["id"], patchOperations=[{"op": "replace", "path": "/value", "value": "x"}])
    with pytest.raises(apigw.exceptions.NotFoundException):
        apigw.update_usage_plan(usagePlanId="nosuchplan", patchOperations=[])


@pytest.mark.parametrize("value", ["nan", "inf", "1e400", "-1"])
def test_a_throttle_rate_must_be_a_finite_number(rest_api: dict[str, Any], value: str) -> None:
    _, plan = _keyed(rest_api, throttle={"rateLimit": 1, "burstLimit": 1})
    apigw = rest_api["client"]
    with pytest.raises(apigw.exceptions.BadRequestException):
        apigw.update_usage_plan(usagePlanId=plan["id"], patchOperations=[
            {"op": "replace", "path": "/throttle/rateLimit", "value": value}])
    assert apigw.get_usage_plan(usagePlanId=plan["id"])["throttle"] == {"rateLimit": 1.0, "burstLimit": 1}


def test_update_usage_extends_a_keys_quota_for_the_period(rest_api: dict[str, Any], clock: Any,
                                                           edge: EdgeServer) -> None:
    """``aws apigateway update-usage`` replaces ``/remaining``: the key may make that many
    more requests this period; the next period has the plan's quota again."""
    clock.set(datetime(2026, 3, 2, 12, tzinfo=timezone.utc).timestamp())
    key, plan = _keyed(rest_api, quota={"limit": 2, "period": "DAY"})
    apigw = rest_api["client"]
    assert apigw.get_usage_plan_key(usagePlanId=plan["id"], keyId=key["id"])["value"] == KEY
    assert [_get(rest_api)[0] for _ in range(2)] == [200, 200] and _get(rest_api) == QUOTA
    usage = aws_cli(edge.url, "apigateway", "update-usage", "--usage-plan-id", plan["id"], "--key-id", key["id"],
                    "--patch-operations", "op=replace,path=/remaining,value=3")
    assert usage["items"] == {key["id"]: [[2, 3]]} and usage["startDate"] == "2026-03-02"
    assert [_get(rest_api)[0] for _ in range(3)] == [200, 200, 200] and _get(rest_api) == QUOTA
    got = apigw.get_usage(usagePlanId=plan["id"], startDate="2026-03-02", endDate="2026-03-03")
    assert got["items"][key["id"]] == [[5, 0], [0, 2]]
    apigw.update_usage(usagePlanId=plan["id"], keyId=key["id"], patchOperations=[
        {"op": "test", "path": "/remaining", "value": "0"}, {"op": "replace", "path": "/remaining", "value": "1"}])
    assert _get(rest_api)[0] == 200 and _get(rest_api) == QUOTA
    clock.advance(86400)
    assert [_get(rest_api)[0] for _ in range(2)] == [200, 200] and _get(rest_api) == QUOTA
    for operations, code in (([{"op": "replace", "path": "/remaining", "value": "-1"}], "BadRequestException"),
                             ([{"op": "add", "path": "/remaining", "value": "1"}], "BadRequestException"),
                             ([{"op": "replace", "path": "/used", "value": "1"}], "BadRequestException")):
        with pytest.raises(ClientError) as raised:
            apigw.update_usage(usagePlanId=plan["id"], keyId=key["id"], patchOperations=operations)
        assert raised.value.response["Error"]["Code"] == code
    with pytest.raises(apigw.exceptions.NotFoundException):
        apigw.update_usage(usagePlanId=plan["id"], keyId="nosuchkey", patchOperations=[])
