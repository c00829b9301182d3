"""A REST API's resource policy, evaluated for every request: ``execute-api:Invoke`` on the
method ARN, an ``aws:SourceIp`` condition, AWS's 403 words for a request it does not allow
(https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-resource-policies.html)
— boto3 and plain HTTP against a real edge."""

from __future__ import annotations

import json
from typing import Any

import pytest

from .edge_support import client, create, edge  # noqa: F401  (fixtures)
from .test_apigateway import ECHO_V1, allow_apigateway, request, rest_api  # noqa: F401  (fixture)


def _statement(effect: str, resource: str, **condition: Any) -> dict[str, Any]:
    statement = {"Effect": effect, "Principal": "*", "Action": "execute-api:Invoke", "Resource": resource}
    return statement | ({"Condition": condition} if condition else {})


def _set_policy(rest_api: dict[str, Any], *statements: dict[str, Any]) -> None:
    apigw, api_id = rest_api["client"], rest_api["id"]
    policy = json.dumps({"Version": "2012-10-17", "Statement": list(statements)})
    apigw.update_rest_api(restApiId=api_id, patchOperations=[{"op": "replace", "path": "/policy", "value": policy}])
    apigw.create_deployment(restApiId=api_id, stageName="prod")


def _arn(rest_api: dict[str, Any], rest: str) -> str:
    return f"arn:aws:execute-api:us-east-1:000000000000:{rest_api['id']}/{rest}"


def test_the_policy_allows_denies_and_says_who_was_refused(rest_api: dict[str, Any]) -> None:
    """Allow all, deny /files/* from the loopback network; a method no statement allows is an
    implicit deny. A stage applies the policy its deployment took."""
    _set_policy(rest_api, _statement("Allow", _arn(rest_api, "*")),
                _statement("Deny", _arn(rest_api, "prod/*/files/*"), IpAddress={"aws:SourceIp": "127.0.0.0/8"}))
    assert request(rest_api["url"] + "/items/1")[0] == 200
    status, _, body = request(rest_api["url"] + "/files/a/b")
    assert (status, json.loads(body)) == (403, {"Message": "User: anonymous is not authorized to perform: "
                                                 f"execute-api:Invoke on resource: {_arn(rest_api, 'prod/GET/files/a/b')}"
                                                 " with an explicit deny"})
    _set_policy(rest_api, _statement("Allow", _arn(rest_api, "prod/GET/items/*"),
                                     NotIpAddress={"aws:SourceIp": ["10.0.0.0/8", "not-a-cidr"]}))
    assert request(rest_api["url"] + "/items/7")[0] == 200
    apigw = rest_api["client"]
    apigw.update_rest_api(restApiId=rest_api["id"], patchOperations=[
        {"op": "replace", "path": "/policy", "value": json.dumps({"Statement": []})}])
    assert request(rest_api["url"] + "/items/7")[0] == 200  # not deployed yet
    status, _, body = request(rest_api["url"] + "/files/x", method="POST")
    assert (status, json.loads(body)) == (403, {"Message": "User: anonymous is not authorized to perform: "
                                                 f"execute-api:Invoke on resource: {_arn(rest_api, 'prod/POST/files/x')}"})


def test_a_policy_is_kept_as_given_and_a_bad_one_is_refused(rest_api: dict[str, Any]) -> None:
    apigw = rest_api["client"]
    policy = {"Version": "2012-10-17", "Statement": [_statement("Allow", "execute-api:/*")]}
    made = apigw.create_rest_api(name="walled", policy=json.dumps(policy))
    assert json.loads(apigw.get_rest_api(restApiId=made["id"])["policy"]) == policy
    for bad in ("{not json", "[]", json.dumps({"Version": "2012-10-17"}), "x" * 9000):
        with pytest.raises(apigw.exceptions.BadRequestException):
            apigw.create_rest_api(name="bad", policy=bad)
        with pytest.raises(apigw.exceptions.BadRequestException):
            apigw.update_rest_api(restApiId=made["id"], patchOperations=[
                {"op": "replace", "path": "/policy", "value": bad}])
