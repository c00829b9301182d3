"""REST APIs' request validators, as AWS's request validation tutorial sets them up with the
AWS CLI and boto3, against a real edge: a required query string parameter or header that
is missing is ``400 {"message": "Missing required request parameters: [...]"}`` and never
reaches the function
(https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-request-validation-set-up.html)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from lambdalab.server import EdgeServer

from .edge_support import client, create, edge  # noqa: F401  (fixtures)
from .test_apigateway import ECHO_V1, allow_apigateway, request, rest_api  # noqa: F401  (fixture)
from .test_edge_sqs import aws_cli


def _item(apigw: Any, api_id: str) -> dict[str, Any]:
    return next(r for r in apigw.get_resources(restApiId=api_id)["items"] if r["path"] == "/items/{id}")


def test_a_validator_refuses_a_request_missing_required_parameters(rest_api: dict[str, Any],
                                                                   edge: EdgeServer) -> None:
    apigw, api_id = rest_api["client"], rest_api["id"]
    validator = aws_cli(edge.url, "apigateway", "create-request-validator", "--rest-api-id", api_id,
                        "--name", "params-only", "--validate-request-parameters", "--no-validate-request-body")
    assert validator["validateRequestParameters"] is True and validator["validateRequestBody"] is False
    item = _item(apigw, api_id)
    integration = apigw.get_integration(restApiId=api_id, resourceId=item["id"], httpMethod="GET")
    method = aws_cli(edge.url, "apigateway", "put-method", "--rest-api-id", api_id, "--resource-id", item["id"],
                     "--http-method", "GET", "--authorization-type", "NONE",
                     "--request-validator-id", validator["id"], "--request-parameters",
                     "method.request.querystring.q1=true,method.request.header.x-tag=true,"
                     "method.request.querystring.optional=false")
    assert method["requestValidatorId"] == validator["id"]
    apigw.put_integration(restApiId=api_id, resourceId=item["id"], httpMethod="GET", type="AWS_PROXY",
                          integrationHttpMethod="POST", uri=integration["uri"])
    apigw.create_deployment(restApiId=api_id, stageName="prod")
    status, _, body = request(rest_api["url"] + "/items/1")
    assert (status, json.loads(body)) == (400, {"message": "Missing required request parameters: [q1, x-tag]"})
    status, _, body = request(rest_api["url"] + "/items/1?q1=a")
    assert (status, json.loads(body)) == (400, {"message": "Missing required request parameters: [x-tag]"})
    status, _, body = request(rest_api["url"] + "/items/1?q1=a", headers={"X-Tag": "t"})
    assert status == 200 and json.loads(body)["queryStringParameters"] == {"q1": "a"}
    apigw.update_request_validator(restApiId=api_id, requestValidatorId=validator["id"], patchOperations=[
        {"op": "replace", "path": "/validateRequestParameters", "value": "false"}])
    assert request(rest_api["url"] + "/items/1")[0] == 400  # the stage keeps what it deployed
    apigw.create_deployment(restApiId=api_id, stageName="prod")
    assert request(rest_api["url"] + "/items/1")[0] == 200
    assert [v["name"] for v in apigw.get_request_validators(restApiId=api_id)["items"]] == ["params-only"]


def test_validator_and_parameter_refusals(rest_api: dict[str, Any]) -> None:
    apigw, api_id = rest_api["client"], rest_api["id"]
    item = _item(apigw, api_id)
    with pytest.raises(apigw.exceptions.NotFoundException):
        apigw.put_method(restApiId=api_id, resourceId=item["id"], httpMethod="GET", authorizationType="NONE",
                         requestValidatorId="nosuch")
    with pytest.raises(apigw.exceptions.BadRequestException):
        apigw.put_method(restApiId=api_id, resourceId=item["id"], httpMethod="GET", authorizationType="NONE",
                         requestParameters={"querystring.q": True})
    validator = apigw.create_request_validator(restApiId=api_id, name="v", validateRequestParameters=True)
    method = apigw.update_method(restApiId=api_id, resourceId=item["id"], httpMethod="GET", patchOperations=[
        {"op": "replace", "path": "/requestValidatorId", "value": validator["id"]},
        {"op": "add", "path": "/requestParameters/method.request.querystring.q", "value": "true"}])
    assert method["requestParameters"] == {"method.request.querystring.q": True}
    apigw.delete_request_validator(restApiId=api_id, requestValidatorId=validator["id"])
    with pytest.raises(apigw.exceptions.NotFoundException):
        apigw.get_request_validator(restApiId=api_id, requestValidatorId=validator["id"])


PET = json.dumps({"$schema": "http://json-schema.org/draft-04/schema#", "title": "Pet", "type": "object",
                  "required": ["name"], "properties": {"name": {"type": "string"}, "age": {"type": "integer"}}})


def test_a_validator_checks_the_body_against_the_methods_model(rest_api: dict[str, Any], edge: EdgeServer) -> None:
    """``validateRequestBody`` with ``requestModels``: a body the model's JSON schema does not
    allow is ``400 {"message": "Invalid request body"}``."""
    apigw, api_id = rest_api["client"], rest_api["id"]
    assert {m["name"] for m in apigw.get_models(restApiId=api_id)["items"]} == {"Empty", "Error"}
    model = aws_cli(edge.url, "apigateway", "create-model", "--rest-api-id", api_id, "--name", "Pet",
                    "--content-type", "application/json", "--schema", PET)
    assert model["name"] == "Pet" and json.loads(apigw.get_model(restApiId=api_id, modelName="Pet")["schema"])
    validator = apigw.create_request_validator(restApiId=api_id, name="body", validateRequestBody=True)
    files = next(r for r in apigw.get_resources(restApiId=api_id)["items"] if r["path"] == "/files/{proxy+}")
    apigw.update_method(restApiId=api_id, resourceId=files["id"], httpMethod="ANY", patchOperations=[
        {"op": "replace", "path": "/requestValidatorId", "value": validator["id"]}])
    integration = apigw.get_integration(restApiId=api_id, resourceId=files["id"], httpMethod="ANY")
    apigw.put_method(restApiId=api_id, resourceId=files["id"], httpMethod="ANY", authorizationType="NONE",
                     requestValidatorId=validator["id"], requestModels={"application/json": "Pet"})
    apigw.put_integration(restApiId=api_id, resourceId=files["id"], httpMethod="ANY", type="AWS_PROXY",
                          integrationHttpMethod="POST", uri=integration["uri"])
    apigw.create_deployment(restApiId=api_id, stageName="prod")
    invalid = (400, {"message": "Invalid request body"})
    json_type = {"Content-Type": "application/json"}
    for body in (b'{"age": 3}', b'{"name": 7}', b"not json", b"", b"[" * 5000):
        status, _, answer = request(rest_api["url"] + "/files/a", "POST", body, json_type)
        assert (status, json.loads(answer)) == invalid, body[:20]
    assert request(rest_api["url"] + "/files/a", "POST", b'{"name": "Rex", "age": 3}', json_type)[0] == 200
    assert request(rest_api["url"] + "/files/a", "POST", b"plain", {"Content-Type": "text/plain"})[0] == 200
    with pytest.raises(apigw.exceptions.ConflictException):
        apigw.delete_model(restApiId=api_id, modelName="Pet")
    loose = json.dumps({"$schema": "http://json-schema.org/draft-04/schema#", "type": "object"})
    apigw.update_model(restApiId=api_id, modelName="Pet", patchOperations=[
        {"op": "replace", "path": "/schema", "value": loose}, {"op": "copy", "from": "/name", "path": "/description"}])
    assert apigw.get_model(restApiId=api_id, modelName="Pet")["description"] == "Pet"
    assert request(rest_api["url"] + "/files/a", "POST", b'{"age": 3}', json_type)[0] == 400  # as deployed
    apigw.create_deployment(restApiId=api_id, stageName="prod")
    assert request(rest_api["url"] + "/files/a", "POST", b'{"age": 3}', json_type)[0] == 200
    with pytest.raises(apigw.exceptions.BadRequestException):
        apigw.update_model(restApiId=api_id, modelName="Pet", patchOperations=[
            {"op": "replace", "path": "/schema", "value": "not json"}])
    with pytest.raises(apigw.exceptions.BadRequestException):
        apigw.create_model(restApiId=api_id, name="Bad", contentType="application/json", schema='{"type": 5}')
    with pytest.raises(apigw.exceptions.ConflictException):
        apigw.create_model(restApiId=api_id, name="Pet", contentType="application/json", schema=PET)
    with pytest.raises(apigw.exceptions.BadRequestException):
        apigw.put_method(restApiId=api_id, resourceId=files["id"], httpMethod="ANY", authorizationType="NONE",
                         requestModels={"application/json": "NoSuchModel"})
