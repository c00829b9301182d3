"""``patchOperations``' ``move``, ``copy`` and ``test`` in every ``Update*`` through
boto3 against a real edge, and a fuzz of patch operations that must never be a 5xx.

RFC 6902's meaning, as AWS's ``PatchOperation`` page points to it
(https://docs.aws.amazon.com/apigateway/latest/api/API_PatchOperation.html): ``copy``
adds the value at ``from`` at ``path``, ``move`` removes it from ``from`` first, and a
failed ``test`` refuses the whole update (AWS documents no message for it: lambdalab's is
its own, named in ``docs/explanation/differences.rst``).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lambdalab.server import EdgeServer

from .edge_support import client, create, edge  # noqa: F401  (fixtures)
from .test_apigateway import ECHO_V1, allow_apigateway, request, rest_api  # noqa: F401
from .test_apigateway_update import _error, assert_rest_api_refuses
from .test_fuzz_edge import FUZZ, send, signed_for


def _item(apigw: Any, api_id: str) -> dict[str, Any]:
    return next(r for r in apigw.get_resources(restApiId=api_id)["items"] if r["path"] == "/items/{id}")


def test_update_stage_moves_and_copies_variables(rest_api: dict[str, Any]) -> None:
    apigw, api_id = rest_api["client"], rest_api["id"]
    apigw.update_stage(restApiId=api_id, stageName="prod", patchOperations=[
        {"op": "replace", "path": "/variables/colour", "value": "blue"}])
    stage = apigw.update_stage(restApiId=api_id, stageName="prod", patchOperations=[
        {"op": "test", "path": "/variables/colour", "value": "blue"},
        {"op": "move", "from": "/variables/colour", "path": "/variables/color"},
        {"op": "copy", "from": "/variables/color", "path": "/variables/shade"},
        {"op": "copy", "from": "/variables/color", "path": "/description"},
    ])
    assert stage["variables"] == {"color": "blue", "shade": "blue"} and stage["description"] == "blue"
    status, _, body = request(rest_api["url"] + "/items/1")
    assert status == 200 and json.loads(body)["stageVariables"] == {"color": "blue", "shade": "blue"}
    apigw.update_stage(restApiId=api_id, stageName="prod", patchOperations=[
        {"op": "replace", "path": "/*/*/throttling/rateLimit", "value": "10"}])
    apigw.update_stage(restApiId=api_id, stageName="prod", patchOperations=[
        {"op": "test", "path": "/*/*/throttling/rateLimit", "value": "10"}])


def test_failed_test_refuses_the_whole_update(rest_api: dict[str, Any]) -> None:
    apigw, api_id = rest_api["client"], rest_api["id"]
    before = {k: v for k, v in apigw.get_rest_api(restApiId=api_id).items() if k != "ResponseMetadata"}
    cases = [
        ([{"op": "replace", "path": "/description", "value": "changed"},
          {"op": "test", "path": "/name", "value": "not-shop"}],
         "Patch operation test failed: /name is 'shop', expected 'not-shop'"),
        ([{"op": "test", "path": "/description", "value": "x"}],
         "Patch operation test failed: /description has no value, expected 'x'"),
        ([{"op": "test", "path": "/name"}], "Invalid null or empty value for patch path /name"),
        ([{"op": "copy", "path": "/name"}],
         "Invalid from path null: copy needs \"from\", the path to copy the value from"),
        ([{"op": "copy", "from": "/nothing", "path": "/name"}],
         "Invalid from path /nothing: it names no value to copy"),
        ([{"op": "copy", "from": "/_resources", "path": "/description"}],
         "Invalid from path /_resources: it names no value to copy"),
        ([{"op": "move", "from": "/name", "path": "/description"}],  # /name is replace-only
         "Invalid patch operation specified. Must be one of: [replace]"),
        ([{"op": "move", "from": "/binaryMediaTypes", "path": "/binaryMediaTypes/x"}],
         "Invalid patch path /binaryMediaTypes/x: a value cannot move into itself"),
    ]
    assert_rest_api_refuses(apigw, api_id, cases)
    after = apigw.get_rest_api(restApiId=api_id)
    assert {k: v for k, v in after.items() if k != "ResponseMetadata"} == before  # nothing kept of a refused update


def test_update_rest_api_copy_test_and_move(rest_api: dict[str, Any]) -> None:
    apigw, api_id = rest_api["client"], rest_api["id"]
    updated = apigw.update_rest_api(restApiId=api_id, patchOperations=[
        {"op": "test", "path": "/name", "value": "shop"},
        {"op": "test", "path": "/binaryMediaTypes/image~1png", "value": "image/png"},
        {"op": "copy", "from": "/name", "path": "/description"},
        {"op": "move", "from": "/binaryMediaTypes/image~1png", "path": "/binaryMediaTypes/image~1gif"},
        {"op": "replace", "path": "/minimumCompressionSize", "value": "1024"},
        {"op": "test", "path": "/minimumCompressionSize", "value": "1024"},
        {"op": "test", "path": "/disableExecuteApiEndpoint", "value": "false"},
    ])
    assert updated["description"] == "shop" and updated["binaryMediaTypes"] == ["image/gif"]


def test_resource_method_integration_and_authorizer_take_the_new_ops(rest_api: dict[str, Any]) -> None:
    apigw, api_id = rest_api["client"], rest_api["id"]
    item = _item(apigw, api_id)
    resource = apigw.update_resource(restApiId=api_id, resourceId=item["id"], patchOperations=[
        {"op": "test", "path": "/pathPart", "value": "{id}"},
        {"op": "copy", "from": "/pathPart", "path": "/pathPart"}])
    assert resource["path"] == "/items/{id}"
    with pytest.raises(apigw.exceptions.BadRequestException) as raised:
        apigw.update_resource(restApiId=api_id, resourceId=item["id"], patchOperations=[
            {"op": "test", "path": "/path", "value": "/other"}])
    assert _error(raised)[1] == "Patch operation test failed: /path is '/items/{id}', expected '/other'"
    method = apigw.update_method(restApiId=api_id, resourceId=item["id"], httpMethod="GET", patchOperations=[
        {"op": "test", "path": "/apiKeyRequired", "value": "false"},
        {"op": "copy", "from": "/httpMethod", "path": "/operationName"}])
    assert method["operationName"] == "GET"
    integration = apigw.update_integration(restApiId=api_id, resourceId=item["id"], httpMethod="GET",
                                           patchOperations=[
        {"op": "add", "path": "/requestTemplates/application~1json", "value": "{}"},
        {"op": "move", "from": "/requestTemplates/application~1json", "path": "/requestTemplates/text~1plain"},
        {"op": "test", "path": "/type", "value": "AWS_PROXY"}])
    assert integration["requestTemplates"] == {"text/plain": "{}"}
    authorizer = apigw.create_authorizer(restApiId=api_id, name="auth", type="TOKEN",
                                         authorizerUri=integration["uri"],
                                         identitySource="method.request.header.Authorization")
    updated = apigw.update_authorizer(restApiId=api_id, authorizerId=authorizer["id"], patchOperations=[
        {"op": "test", "path": "/authorizerResultTtlInSeconds", "value": "300"},
        {"op": "copy", "from": "/name", "path": "/identityValidationExpression"}])
    assert updated["identityValidationExpression"] == "auth"


PATHS = ["/name", "/description", "/policy", "/binaryMediaTypes/image~1png", "/binaryMediaTypes", "/variables/a",
         "/variables/", "/*/*/throttling/rateLimit", "/~1items/GET/throttling/burstLimit", "/deploymentId",
         "/requestTemplates/application~1json", "/timeoutInMillis", "/pathPart", "/parentId", "/apiKeyRequired",
         "/_resources", "/_deployments", "/methodSettings", "/enabled", "/apiStages", "/quota", "/quota/limit",
         "/quota/period", "/throttle/rateLimit", "/_keys", "/remaining",
         "/validateRequestParameters", "/requestValidatorId", "/requestParameters/method.request.querystring.q",
         "/requestParameters/bad", "/schema", "/description", "", "/", "//", "~", "/~2", "name"]
VALUES = st.one_of(st.none(), st.sampled_from(["", "true", "1", "10.5", "-1", "{}", "x" * 9000, ":", "a:prod",
                                                "DAY", "nan", "inf", "1e400"]), st.text(max_size=8),
                   st.integers(), st.booleans(), st.lists(st.integers(), max_size=2))
OPERATION = st.fixed_dictionaries({}, optional={
    "op": st.one_of(st.sampled_from(["add", "remove", "replace", "move", "copy", "test"]), st.text(max_size=4),
                    st.integers()),
    "path": st.one_of(st.sampled_from(PATHS), st.text(max_size=12), st.none(), st.integers()),
    "from": st.one_of(st.sampled_from(PATHS), st.text(max_size=12), st.none(), st.integers()),
    "value": VALUES,
})
TARGETS = ["/restapis/{api}", "/restapis/{api}/resources/{item}", "/restapis/{api}/resources/{item}/methods/GET",
           "/restapis/{api}/resources/{item}/methods/GET/integration", "/restapis/{api}/stages/prod",
           "/restapis/{api}/authorizers/{authorizer}", "/apikeys/{key}", "/usageplans/{plan}",
           "/usageplans/{plan}/keys/{key}/usage", "/restapis/{api}/requestvalidators/{validator}",
           "/restapis/{api}/models/Empty"]


@pytest.fixture
def patchable(rest_api: dict[str, Any]) -> dict[str, Any]:
    apigw, api_id = rest_api["client"], rest_api["id"]
    item = _item(apigw, api_id)
    uri = apigw.get_integration(restApiId=api_id, resourceId=item["id"], httpMethod="GET")["uri"]
    authorizer = apigw.create_authorizer(restApiId=api_id, name="auth", type="TOKEN", authorizerUri=uri,
                                         identitySource="method.request.header.Authorization")
    key = apigw.create_api_key(name="fuzzed", enabled=True)
    plan = apigw.create_usage_plan(name="fuzzed", apiStages=[{"apiId": api_id, "stage": "prod"}],
                                   quota={"limit": 5, "period": "DAY"}, throttle={"rateLimit": 1, "burstLimit": 1})
    apigw.create_usage_plan_key(usagePlanId=plan["id"], keyId=key["id"], keyType="API_KEY")
    validator = apigw.create_request_validator(restApiId=api_id, name="fuzzed", validateRequestParameters=True)
    return {**rest_api, "validator": validator["id"], "item": item["id"], "authorizer": authorizer["id"], "key": key["id"], "plan": plan["id"]}


@settings(FUZZ, max_examples=200)
@given(target=st.sampled_from(TARGETS),
       operations=st.one_of(st.lists(OPERATION, max_size=4), st.lists(st.one_of(st.none(), st.integers()), max_size=2),
                            st.text(max_size=3), st.none()))
def test_patch_operations_never_fail_internally(patchable: dict[str, Any], target: str, operations: Any) -> None:
    """Any ``patchOperations`` PATCHed to any REST resource: an answer below 500 that
    botocore reads (a 4xx carries an error type and a message)."""
    path = target.format(api=patchable["id"], item=patchable["item"], authorizer=patchable["authorizer"],
                         key=patchable["key"], plan=patchable["plan"], validator=patchable["validator"])
    body = json.dumps({"patchOperations": operations}).encode()
    headers = {"Content-Type": "application/json", **signed_for("apigateway")}
    status, answer_headers, answer = send(patchable["client"].meta.endpoint_url, "PATCH", path, headers, body)
    assert status < 500, (status, answer[:300])
    if status >= 400:
        assert answer_headers.get("x-amzn-errortype") and json.loads(answer)["message"]
