"""IAM auth on HTTP endpoints, through raw HTTP against a real edge: ``AuthType: AWS_IAM``
on function URLs (signed for service ``lambda``; the signer needs
``lambda:InvokeFunctionUrl``, https://docs.aws.amazon.com/lambda/latest/dg/urls-auth.html)
and ``authorizationType: AWS_IAM`` on API Gateway's methods and routes (signed for
``execute-api``; the signer needs ``execute-api:Invoke`` on the method's ARN). Requests
are signed with botocore's own SigV4 signer; unsigned or wrongly signed ones get AWS's 403."""

from __future__ import annotations

import http.client
import json
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import urlsplit

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from lambdalab import Lab, VirtualClock
from lambdalab.server import EdgeServer

from .edge_support import ECHO, client, client_for, create, edge  # noqa: F401  (fixtures)
from .test_iam_enforce import ACCOUNT, ALICE, ALICE_KEY, Keys, enforcing, keys, root  # noqa: F401

FORBIDDEN = {"Message": "Forbidden"}


def call(url: str, *, key: str | None = None, secret: str = "any-secret", service: str = "lambda",
         body: bytes = b"") -> tuple[int, Any]:
    """POST ``url``, signed with ``key`` for ``service`` (unsigned without one)."""
    headers = {"Content-Type": "application/json"}
    if key is not None:
        signed = AWSRequest(method="POST", url=url, data=body, headers=headers)
        SigV4Auth(Credentials(key, secret), service, "us-east-1").add_auth(signed)
        headers = dict(signed.headers.items())
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    connection.request("POST", parts.path, body=body, headers=headers)
    response = connection.getresponse()
    data = response.read()
    connection.close()
    return response.status, json.loads(data) if data else None


def iam_url(client: Any, name: str = "web") -> str:
    create(client, name, ECHO)
    return str(client.create_function_url_config(FunctionName=name, AuthType="AWS_IAM")["FunctionUrl"])


def test_unsigned_requests_are_forbidden_signed_ones_served(client: Any) -> None:
    url = iam_url(client)
    assert call(url) == (403, FORBIDDEN)
    assert call(url, key="AKIDEXAMPLE", service="execute-api") == (403, FORBIDDEN)  # signed for another service
    status, event = call(url, key="AKIDEXAMPLE", body=b'{"a": 1}')
    assert status == 200, event
    context = event["requestContext"]
    assert context["authorizer"]["iam"]["accessKey"] == "AKIDEXAMPLE"
    assert context["authorizer"]["iam"]["userArn"] == f"arn:aws:iam::{context['accountId']}:root"
    client.update_function_url_config(FunctionName="web", AuthType="NONE")
    status, event = call(url)
    assert status == 200 and "authorizer" not in event["requestContext"]
    assert event["requestContext"]["accountId"] == "anonymous"


def test_an_edge_with_keys_checks_the_signature(lab: Lab) -> None:
    with EdgeServer(lab, port=0, auth_keys={"AKIDKEYED": "right-secret"}) as server:
        url = iam_url(client_for(server.url, key="AKIDKEYED", secret="right-secret"))
        assert call(url, key="AKIDKEYED", secret="wrong-secret") == (403, FORBIDDEN)
        assert call(url, key="AKIDUNKNOWN", secret="right-secret") == (403, FORBIDDEN)
        status, event = call(url, key="AKIDKEYED", secret="right-secret")
        assert status == 200 and event["requestContext"]["authorizer"]["iam"]["accessKey"] == "AKIDKEYED"


def test_enforced_iam_needs_invoke_function_url(enforcing: EdgeServer, keys: Keys, root: Any) -> None:
    url = iam_url(root)
    function = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:web"
    keys.give(ALICE_KEY, ALICE)
    assert call(url, key=ALICE_KEY) == (403, FORBIDDEN)  # no policy allows her
    assert call(url, key="AKIDNOBODYKNOWS") == (403, FORBIDDEN)
    keys.give(ALICE_KEY, ALICE, {"Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": function})
    assert call(url, key=ALICE_KEY) == (403, FORBIDDEN)  # InvokeFunction is not InvokeFunctionUrl
    keys.give(ALICE_KEY, ALICE, {"Effect": "Allow", "Action": "lambda:InvokeFunctionUrl", "Resource": function})
    status, event = call(url, key=ALICE_KEY)
    assert status == 200, event
    iam = event["requestContext"]["authorizer"]["iam"]
    assert (iam["userArn"], iam["accountId"], iam["userId"]) == (ALICE, ACCOUNT, "AIDAALICE")


def test_the_functions_policy_with_the_auth_type_condition_allows(enforcing: EdgeServer, keys: Keys,
                                                                   root: Any) -> None:
    url = iam_url(root)
    keys.give(ALICE_KEY, ALICE)
    root.add_permission(FunctionName="web", StatementId="alice-url", Action="lambda:InvokeFunctionUrl",
                        Principal=ALICE, FunctionUrlAuthType="NONE")
    assert call(url, key=ALICE_KEY) == (403, FORBIDDEN)  # the condition names another auth type
    root.add_permission(FunctionName="web", StatementId="alice-url-iam", Action="lambda:InvokeFunctionUrl",
                        Principal=ALICE, FunctionUrlAuthType="AWS_IAM")
    assert call(url, key=ALICE_KEY)[0] == 200


# -- API Gateway: authorizationType AWS_IAM, signed for execute-api ----------------------

ECHO_HTTP = """
import json
def handler(event, context):
    return {"statusCode": 200, "body": json.dumps(event)}
"""


def guarded_apis(lambda_client: Any, url: str, key: str = "AKIDEXAMPLE", secret: str = "not-checked"
                 ) -> dict[str, str]:
    """A REST API (``GET /items``) and an HTTP API (``GET /items``), each AWS_IAM; their invoke URLs."""
    arn = create(lambda_client, "echo", ECHO_HTTP)["FunctionArn"]
    lambda_client.add_permission(FunctionName="echo", StatementId="apigw", Action="lambda:InvokeFunction",
                                 Principal="apigateway.amazonaws.com")
    rest = client_for(url, "apigateway", key=key, secret=secret)
    api = rest.create_rest_api(name="guarded")
    items = rest.create_resource(restApiId=api["id"], parentId=api["rootResourceId"], pathPart="items")
    rest.put_method(restApiId=api["id"], resourceId=items["id"], httpMethod="GET", authorizationType="AWS_IAM")
    rest.put_integration(restApiId=api["id"], resourceId=items["id"], httpMethod="GET", type="AWS_PROXY", uri=arn)
    rest.create_deployment(restApiId=api["id"], stageName="prod")
    v2 = client_for(url, "apigatewayv2", key=key, secret=secret)
    http = v2.create_api(Name="guarded", ProtocolType="HTTP")
    integration = v2.create_integration(ApiId=http["ApiId"], IntegrationType="AWS_PROXY", IntegrationUri=arn,
                                        PayloadFormatVersion="2.0")
    v2.create_route(ApiId=http["ApiId"], RouteKey="GET /items", AuthorizationType="AWS_IAM",
                    Target=f"integrations/{integration['IntegrationId']}")
    v2.create_stage(ApiId=http["ApiId"], StageName="$default", AutoDeploy=True)
    return {"rest": f"{url}/_lambdalab/apis/{api['id']}/prod/items",
            "http": f"{url}/_lambdalab/apis/{http['ApiId']}/items"}


def get(url: str, *, key: str | None = None, secret: str = "any-secret", service: str = "execute-api"
        ) -> tuple[int, Any]:
    headers: dict[str, str] = {}
    if key is not None:
        signed = AWSRequest(method="GET", url=url, headers={})
        SigV4Auth(Credentials(key, secret), service, "us-east-1").add_auth(signed)
        headers = dict(signed.headers.items())
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    connection.request("GET", parts.path, headers=headers)
    response = connection.getresponse()
    data = response.read()
    connection.close()
    return response.status, json.loads(data) if data else None


def test_api_gateway_iam_methods_need_a_signature(client: Any, edge: EdgeServer) -> None:
    urls = guarded_apis(client, edge.url)
    assert get(urls["rest"]) == (403, {"message": "Missing Authentication Token"})
    assert get(urls["http"]) == (403, {"message": "Forbidden"})
    assert get(urls["http"], key="AKIDEXAMPLE", service="lambda") == (403, {"message": "Forbidden"})
    status, event = get(urls["rest"], key="AKIDEXAMPLE")
    assert status == 200, event
    identity = event["requestContext"]["identity"]
    assert identity["accessKey"] == "AKIDEXAMPLE" and identity["userArn"].endswith(":root")
    status, event = get(urls["http"], key="AKIDEXAMPLE")
    assert status == 200 and event["requestContext"]["authorizer"]["iam"]["accessKey"] == "AKIDEXAMPLE"


def test_api_gateway_iam_under_enforcement_needs_execute_api_invoke(enforcing: EdgeServer, keys: Keys,
                                                                     root: Any) -> None:
    from lambdalab import limits

    urls = guarded_apis(root, enforcing.url, key=limits.ROOT_ACCESS_KEY_ID)
    keys.give(ALICE_KEY, ALICE)
    status, body = get(urls["rest"], key=ALICE_KEY)
    assert status == 403 and body["Message"].startswith(
        f"User: {ALICE} is not authorized to perform: execute-api:Invoke on resource: arn:aws:execute-api:")
    assert get(urls["http"], key=ALICE_KEY) == (403, {"message": "Forbidden"})
    keys.give(ALICE_KEY, ALICE, {"Effect": "Allow", "Action": "execute-api:Invoke",
                                 "Resource": f"arn:aws:execute-api:us-east-1:{ACCOUNT}:*/*/GET/items"})
    status, event = get(urls["rest"], key=ALICE_KEY)
    assert status == 200 and event["requestContext"]["identity"]["userArn"] == ALICE
    status, event = get(urls["http"], key=ALICE_KEY)
    assert status == 200 and event["requestContext"]["authorizer"]["iam"]["userArn"] == ALICE


def test_api_gateway_iam_on_an_edge_with_keys_checks_the_signature(lab: Lab) -> None:
    with EdgeServer(lab, port=0, auth_keys={"AKIDKEYED": "right-secret"}) as server:
        urls = guarded_apis(client_for(server.url, key="AKIDKEYED", secret="right-secret"), server.url,
                            key="AKIDKEYED", secret="right-secret")
        assert get(urls["rest"], key="AKIDKEYED", secret="wrong-secret") == (
            403, {"message": "Missing Authentication Token"})
        assert get(urls["http"], key="AKIDKEYED", secret="wrong-secret") == (403, {"message": "Forbidden"})
        assert get(urls["rest"], key="AKIDKEYED", secret="right-secret")[0] == 200
        assert get(urls["http"], key="AKIDKEYED", secret="right-secret")[0] == 200
