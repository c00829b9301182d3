"""The edge's protocol: routes as botocore's model has them, dispatch by SigV4 service,
opt-in signature checks, health, concurrency, AWS_ENDPOINT_URL inside functions, and a
restart on the same data dir."""

from __future__ import annotations

import base64
import gzip
import json
import re
import threading
from pathlib import Path
from typing import Any, Iterator

import botocore
import pytest
from botocore.exceptions import ClientError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route as StarletteRoute

import lambdalab
from lambdalab import Lab
from lambdalab.server import EdgeServer, HttpService, is_loopback
from lambdalab.server.lambda_service import path_prefixes, served_operations

from .edge_support import ECHO, client, client_for, create, edge  # noqa: F401  (fixtures)
from .test_edge_errors import raw
from .test_validation import raw as raw_bytes

DOCS = Path(__file__).resolve().parent.parent / "docs"


def lambda_model() -> dict[str, Any]:
    path = Path(botocore.__file__).parent / "data" / "lambda" / "2015-03-31" / "service-2.json.gz"
    with gzip.open(path) as f:
        return json.load(f)


#: What lambdalab's Lambda API serves: every operation of botocore's model it has a
#: method for (routes, members and shapes come from the model itself).
SERVED = {
    "CreateFunction", "ListFunctions", "GetFunction", "DeleteFunction",
    "GetFunctionConfiguration", "UpdateFunctionConfiguration", "UpdateFunctionCode", "Invoke",
    "PublishVersion", "ListVersionsByFunction", "CreateAlias", "ListAliases", "GetAlias",
    "UpdateAlias", "DeleteAlias", "PutFunctionConcurrency", "GetFunctionConcurrency",
    "DeleteFunctionConcurrency", "AddPermission", "GetPolicy", "RemovePermission",
    "GetAccountSettings", "PutFunctionEventInvokeConfig", "UpdateFunctionEventInvokeConfig",
    "GetFunctionEventInvokeConfig", "DeleteFunctionEventInvokeConfig",
    "ListFunctionEventInvokeConfigs", "CreateFunctionUrlConfig", "GetFunctionUrlConfig",
    "UpdateFunctionUrlConfig", "DeleteFunctionUrlConfig", "ListFunctionUrlConfigs",
    "GetFunctionCodeSigningConfig", "InvokeAsync", "TagResource", "UntagResource", "ListTags",
    "CreateEventSourceMapping", "ListEventSourceMappings", "GetEventSourceMapping",
    "UpdateEventSourceMapping", "DeleteEventSourceMapping", "GetLayerVersionByArn",
    "ListLayers", "PublishLayerVersion", "ListLayerVersions", "GetLayerVersion",
    "DeleteLayerVersion", "AddLayerVersionPermission", "GetLayerVersionPolicy",
    "RemoveLayerVersionPermission",
}


def test_the_served_operations_are_botocores() -> None:
    operations = lambda_model()["operations"]
    assert set(served_operations()) == SERVED
    assert SERVED <= set(operations)
    dates = {"/" + operations[n]["http"]["requestUri"].split("/")[1] + "/" for n in SERVED}
    assert set(path_prefixes()) == dates


def test_http_api_reference_lists_every_operation() -> None:
    page = (DOCS / "reference" / "http-api.rst").read_text()
    for operation in served_operations():
        assert f"``{operation}``" in page, operation


def test_an_operation_lambdalab_does_not_serve_is_named(edge: EdgeServer) -> None:
    """An operation of the model without a method answers 501 naming it (it answered
    404 UnknownOperationException, as if AWS had no such operation)."""
    status, headers, body = raw(edge.url, "GET", "/2019-09-30/functions/f/provisioned-concurrency?List=ALL")
    assert (status, headers["x-amzn-errortype"]) == (501, "NotImplemented")
    assert "ListProvisionedConcurrencyConfigs" in body["message"]
    assert body["Type"] == "User"


def test_invoke_answers_its_payload_and_headers_as_lambda_does(client: Any, edge: EdgeServer) -> None:
    """Invoke's answer through the layer: the function's JSON as the body
    (``application/json``), ``X-Amz-Executed-Version`` and ``X-Amz-Log-Result``
    headers, and the invocation's own request id; an Event invoke is 202 with no body,
    and DeleteFunction 204 with none either."""
    create(client, "raw")
    path = "/2015-03-31/functions/raw/invocations"
    status, headers, body = raw_bytes(edge.url, "POST", path, b'{"k": [1, "x"]}',
                                      {"X-Amz-Log-Type": "Tail"})
    assert (status, headers["content-type"]) == (200, "application/json")
    assert json.loads(body) == {"k": [1, "x"]}
    assert headers["x-amz-executed-version"] == "$LATEST"
    assert "x-amz-function-error" not in headers
    log = base64.b64decode(headers["x-amz-log-result"]).decode()
    assert f"START RequestId: {headers['x-amzn-requestid']} " in log
    status, headers, body = raw_bytes(edge.url, "POST", path, b"{}",
                                      {"X-Amz-Invocation-Type": "Event"})
    assert (status, body, headers["content-length"]) == (202, b"", "0")
    status, headers, body = raw_bytes(edge.url, "DELETE", "/2015-03-31/functions/raw", b"", {})
    assert (status, body) == (204, b"")


def test_health(edge: EdgeServer, lab: Lab) -> None:
    status, _, body = raw(edge.url, "GET", "/_lambdalab/health")
    assert status == 200
    assert "lambda" in body.pop("services")  # and the services of the loaded plugins
    assert body == {"status": "ok", "data_dir": str(lab.store.data_dir), "auth": False,
                    "regions": ["us-east-1"]}  # the regions open: home, and those signed for


def test_loopback_detection() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("localhost") and is_loopback("::1")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.0.2.1")


# -- SigV4 ----------------------------------------------------------------------------


@pytest.fixture
def signed_edge(lab: Lab) -> Iterator[EdgeServer]:
    with EdgeServer(lab, port=0, auth_keys={"AKIDLAB": "s3cret"}) as server:
        yield server


def test_signed_requests_pass_with_a_configured_key(signed_edge: EdgeServer) -> None:
    good = client_for(signed_edge.url, key="AKIDLAB", secret="s3cret")
    create(good, "secured", Publish=True)
    arn = "arn:aws:lambda:us-east-1:000000000000:function:secured"
    result = good.invoke(FunctionName=arn, Qualifier="1", Payload=b'{"a": [1, "x y"]}')
    assert json.loads(result["Payload"].read()) == {"a": [1, "x y"]}
    assert good.list_functions(MaxItems=1)["Functions"][0]["FunctionName"] == "secured"


@pytest.mark.parametrize(
    ("key", "secret", "code"),
    [
        ("AKIDLAB", "wrong", "InvalidSignatureException"),
        ("AKIDOTHER", "s3cret", "UnrecognizedClientException"),
    ],
)
def test_bad_signatures_are_refused(signed_edge: EdgeServer, key: str, secret: str, code: str) -> None:
    bad = client_for(signed_edge.url, key=key, secret=secret)
    with pytest.raises(ClientError) as info:
        bad.list_functions()
    assert info.value.response["Error"]["Code"] == code
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_unsigned_requests_are_refused_when_keys_are_set(signed_edge: EdgeServer) -> None:
    status, headers, body = raw(signed_edge.url, "GET", "/2015-03-31/functions")
    assert (status, headers["x-amzn-errortype"]) == (403, "MissingAuthenticationTokenException")
    status, headers, _ = raw(
        signed_edge.url, "GET", "/2015-03-31/functions", headers={"Authorization": "AWS4 nonsense"}
    )
    assert headers["x-amzn-errortype"] == "IncompleteSignatureException"


# -- dispatch -------------------------------------------------------------------------


class QueuePlugin:
    """A plugin serving a tiny SQS (JSON protocol) on the edge."""

    @lambdalab.hookimpl
    def lambdalab_http_services(self, lab: Lab) -> list[HttpService]:
        async def dispatch(request: Request) -> JSONResponse:
            target = request.headers["x-amz-target"]
            return JSONResponse({"QueueUrls": [f"http://queues/{target}"]})

        app = Starlette(routes=[StarletteRoute("/", dispatch, methods=["POST"])])
        return [HttpService("sqs", app, target_prefixes=("AmazonSQS.",))]


def test_plugins_add_services_found_by_signature_scope(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # only the built-in sandbox: the trigger plugins' own services would join the list
    monkeypatch.setenv("LAMBDALAB_PLUGINS", "subprocess")
    lab = Lab(data_dir=tmp_path / "only-lambda", plugins=[QueuePlugin()])
    with lab, EdgeServer(lab, port=0) as server:
        sqs = client_for(server.url, "sqs")
        assert sqs.list_queues()["QueueUrls"] == ["http://queues/AmazonSQS.ListQueues"]
        assert client_for(server.url).list_functions()["Functions"] == []
        status, _, body = raw(server.url, "GET", "/_lambdalab/health")
        assert body["services"] == ["lambda", "sqs"]
        with pytest.raises(ClientError) as info:
            client_for(server.url, "events").list_event_buses()
        assert info.value.response["Error"]["Code"] == "UnknownOperationException"
        assert "no service named 'events'" in info.value.response["Error"]["Message"]
        with pytest.raises(ClientError) as info:
            client_for(server.url, "s3").list_buckets()
        assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


# -- concurrency, AWS_ENDPOINT_URL, restart -------------------------------------------

WAITS_FOR_FILE = """
import os, time

def handler(event, context):
    deadline = time.monotonic() + 60
    while not os.path.exists(event["file"]) and time.monotonic() < deadline:
        time.sleep(0.01)
    return "released"
"""


def test_a_slow_invoke_does_not_block_other_requests(client: Any, rendezvous: Path) -> None:
    create(client, "slow", WAITS_FOR_FILE, Timeout=120)
    create(client, "fast", ECHO)
    release = rendezvous / "release"
    outcome: dict[str, Any] = {}
    # Warm first: a warm invoke is awaited on the edge's event loop, not in a thread.
    (rendezvous / "open").touch()
    client.invoke(FunctionName="slow", Payload=json.dumps({"file": str(rendezvous / "open")}))

    def invoke() -> None:
        result = client_for(client.meta.endpoint_url).invoke(
            FunctionName="slow", Payload=json.dumps({"file": str(release)}).encode()
        )
        outcome["payload"] = json.loads(result["Payload"].read())

    worker = threading.Thread(target=invoke)
    worker.start()
    try:
        # The invoke is blocked until the file exists; these calls must not wait for it.
        for _ in range(5):
            assert client.get_function(FunctionName="slow")["Configuration"]["FunctionName"]
            fast = client.invoke(FunctionName="fast", Payload=b'{"k": 1}')
            assert json.loads(fast["Payload"].read()) == {"k": 1}
        assert "payload" not in outcome
    finally:
        release.touch()
        worker.join(timeout=120)
    assert outcome["payload"] == "released"


CALLS_THE_EDGE = """
import os
import boto3

def handler(event, context):
    names = [f["FunctionName"] for f in boto3.client("lambda").list_functions()["Functions"]]
    return {"endpoint": os.environ["AWS_ENDPOINT_URL"], "functions": names}
"""


def test_boto3_inside_a_function_reaches_the_edge(client: Any, edge: EdgeServer) -> None:
    create(client, "caller", CALLS_THE_EDGE, Timeout=60)
    result = client.invoke(FunctionName="caller")
    assert "FunctionError" not in result, result["Payload"].read()
    assert json.loads(result["Payload"].read()) == {"endpoint": edge.url, "functions": ["caller"]}


def test_restart_on_the_same_data_dir_keeps_everything(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with Lab(data_dir=data) as lab, EdgeServer(lab, port=0) as server:
        first = client_for(server.url)
        create(first, "kept", Publish=True)
        first.create_alias(FunctionName="kept", Name="live", FunctionVersion="1")
        first.add_permission(
            FunctionName="kept", StatementId="s", Action="lambda:InvokeFunction",
            Principal="events.amazonaws.com",
        )
    with Lab(data_dir=data) as lab, EdgeServer(lab, port=0) as server:
        again = client_for(server.url)
        assert again.get_alias(FunctionName="kept", Name="live")["FunctionVersion"] == "1"
        policy = json.loads(again.get_policy(FunctionName="kept")["Policy"])
        assert policy["Statement"][0]["Sid"] == "s"
        result = again.invoke(FunctionName="kept", Qualifier="live", Payload=b'"back"')
        assert json.loads(result["Payload"].read()) == "back"
