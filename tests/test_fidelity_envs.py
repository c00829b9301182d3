"""Execution environments and revisions as AWS keeps them (issue 14, the differences left).

Judges: boto3 against ``lambdalab serve`` (an :class:`EdgeServer`), the AWS pages cited
per test, and what LocalStack recorded against real AWS in
``tests/aws/services/lambda_/test_lambda_api.py::test_function_revisions_permissions``
(its snapshot is in ``aws_recorded/lambda_ops.json``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

import pytest

from lambdalab import Lab, VirtualClock
from lambdalab.server import EdgeServer

from .edge_support import client, client_for, create, edge, zip_of  # noqa: F401  (fixtures)

#: A handler that names its environment (a module global lives as long as it does).
WHICH = """
import uuid
ENVIRONMENT = uuid.uuid4().hex
def handler(event, context):
    return {"code": "%s", "environment": ENVIRONMENT}
"""


def answer(client: Any, name: str, qualifier: str | None = None) -> dict[str, Any]:
    extra = {} if qualifier is None else {"Qualifier": qualifier}
    return dict(json.loads(client.invoke(FunctionName=name, **extra)["Payload"].read()))


@pytest.fixture
def slow(tmp_path: Path, clock: VirtualClock) -> Iterator[tuple[Any, Lab, VirtualClock]]:
    """boto3 on an edge whose updates stay InProgress for 2 s of ``clock``."""
    with Lab(data_dir=tmp_path / "slow", clock=clock, state_transition=2) as lab, \
            EdgeServer(lab, port=0) as server:
        yield client_for(server.url), lab, clock


# -- 1. warm environments during an update
# "invocations continue to use the previous code and configuration until the update
# completes" (https://docs.aws.amazon.com/lambda/latest/dg/functions-states.html): the
# environments that ran it keep serving, warm, until the update is Successful.


@pytest.mark.parametrize("update", ["code", "configuration"])
def test_warm_environments_serve_until_an_update_is_successful(
        slow: tuple[Any, Lab, VirtualClock], update: str) -> None:
    client, lab, clock = slow
    create(client, "upd", WHICH % "v1")
    clock.advance(2)
    before = answer(client, "upd")
    if update == "code":
        client.update_function_code(FunctionName="upd", ZipFile=zip_of(app=WHICH % "v2"))
    else:
        client.update_function_configuration(FunctionName="upd", Timeout=9)
    assert client.get_function(FunctionName="upd")["Configuration"]["LastUpdateStatus"] == \
        "InProgress"
    assert answer(client, "upd") == before  # warm: the same environment, the old code
    clock.advance(2)
    assert client.get_function(FunctionName="upd")["Configuration"]["LastUpdateStatus"] == \
        "Successful"
    after = answer(client, "upd")
    assert after["environment"] != before["environment"]  # replaced once it is done
    assert after["code"] == ("v2" if update == "code" else "v1")
    assert answer(client, "upd") == after  # and the new one stays warm
    assert len([p for p in lab.pool.idle_environments() if p.function_name == "upd"]) == 1


def test_an_environment_busy_when_the_update_completes_is_not_kept(
        slow: tuple[Any, Lab, VirtualClock]) -> None:
    _, lab, clock = slow
    lab.create_function("busy", zip_of(app=WHICH % "v1"), handler="app.handler")
    clock.advance(2)
    old = lab.invoke("busy").json()["environment"]
    lab.update_function_code("busy", zip_of(app=WHICH % "v2"))
    running = lab.registry.running(lab.registry.get("busy"))
    held = lab.pool.take_warm(lab.pool.key_of(running))  # an invoke still running it
    assert held is not None
    clock.advance(2)
    assert lab.invoke("busy").json()["code"] == "v2"
    lab.pool.give_back(held, healthy=True)  # it ends after the new code has started
    assert len([p for p in lab.pool.idle_environments() if p.function_name == "busy"]) == 1
    assert lab.invoke("busy").json()["environment"] != old


# -- 2. a policy shares its function's RevisionId
# test_function_revisions_permissions, recorded against AWS: AddPermission with the
# function's RevisionId succeeds, GetPolicy's RevisionId is GetFunction's new one, and
# RemovePermission changes it again.


def test_a_permission_changes_the_functions_revision_id(client: Any) -> None:
    create(client, "perm", WHICH % "v1")
    rev2 = client.get_function(FunctionName="perm")["Configuration"]["RevisionId"]
    with pytest.raises(client.exceptions.PreconditionFailedException) as wrong:
        client.add_permission(FunctionName="perm", StatementId="s3",
                              Action="lambda:InvokeFunction", Principal="s3.amazonaws.com",
                              RevisionId="wrong")
    assert wrong.value.response["Error"]["Message"] == (
        "The Revision Id provided does not match the latest Revision Id. Call the GetPolicy "
        "API to retrieve the latest Revision Id")
    assert client.get_function(FunctionName="perm")["Configuration"]["RevisionId"] == rev2
    client.add_permission(FunctionName="perm", StatementId="s3",
                          Action="lambda:InvokeFunction", Principal="s3.amazonaws.com",
                          RevisionId=rev2)
    rev3 = client.get_policy(FunctionName="perm")["RevisionId"]
    assert rev3 != rev2
    assert client.get_function(FunctionName="perm")["Configuration"]["RevisionId"] == rev3
    with pytest.raises(client.exceptions.PreconditionFailedException):
        client.remove_permission(FunctionName="perm", StatementId="s3", RevisionId=rev2)
    client.remove_permission(FunctionName="perm", StatementId="s3", RevisionId=rev3)
    rev4 = client.get_function(FunctionName="perm")["Configuration"]["RevisionId"]
    assert rev4 not in (rev2, rev3)
    # The function's own RevisionId precondition takes the new one.
    client.update_function_configuration(FunctionName="perm", Timeout=5, RevisionId=rev4)


def test_a_policy_on_an_alias_or_version_shares_its_revision_id(client: Any) -> None:
    create(client, "q", WHICH % "v1")
    version = client.publish_version(FunctionName="q")
    alias = client.create_alias(FunctionName="q", Name="live", FunctionVersion="1")
    latest = client.get_function(FunctionName="q")["Configuration"]["RevisionId"]
    for qualifier, revision in (("1", version["RevisionId"]), ("live", alias["RevisionId"])):
        client.add_permission(FunctionName="q", Qualifier=qualifier, StatementId="s",
                              Action="lambda:InvokeFunction", Principal="*",
                              RevisionId=revision)
        shared = client.get_policy(FunctionName="q", Qualifier=qualifier)["RevisionId"]
        assert shared != revision
    assert client.get_function(FunctionName="q", Qualifier="1")["Configuration"][
        "RevisionId"] == client.get_policy(FunctionName="q", Qualifier="1")["RevisionId"]
    assert client.get_alias(FunctionName="q", Name="live")["RevisionId"] == \
        client.get_policy(FunctionName="q", Qualifier="live")["RevisionId"]
    assert client.get_function(FunctionName="q")["Configuration"]["RevisionId"] == latest


def test_a_permission_does_not_make_the_next_invoke_cold(client: Any) -> None:
    create(client, "warm", WHICH % "v1")
    client.publish_version(FunctionName="warm")
    before = {q: answer(client, "warm", q) for q in ("$LATEST", "1")}
    for qualifier in ("$LATEST", "1"):
        client.add_permission(FunctionName="warm", Qualifier=qualifier, StatementId="s",
                              Action="lambda:InvokeFunction", Principal="s3.amazonaws.com")
    assert {q: answer(client, "warm", q) for q in ("$LATEST", "1")} == before


# -- 3. AWS_LAMBDA_RUNTIME_API
# A python* function's runtime takes its events over the fork server's pipe, so it has
# no Runtime API to name (docs/explanation/differences.rst says why, with the figure);
# a Python handler that needs one runs under provided.al2023 with AWS's awslambdaric as
# its bootstrap, and the address it reads answers as AWS's Runtime API does
# (https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html).

ASKS_THE_RUNTIME_API = """
import json, os, urllib.error, urllib.request
def handler(event, context):
    api = os.environ.get("AWS_LAMBDA_RUNTIME_API")
    if api is None:
        return {"api": None}
    url = f"http://{api}/2018-06-01/runtime/invocation/not-this-one/response"
    try:
        urllib.request.urlopen(urllib.request.Request(url, data=b"{}", method="POST"))
    except urllib.error.HTTPError as answer:
        return {"api": api, "status": answer.code, "body": json.loads(answer.read())}
"""


def test_a_python_handler_reaches_the_runtime_api_through_awslambdaric(
        lab: Lab, tmp_path: Path) -> None:
    pytest.importorskip("awslambdaric")
    code = tmp_path / "ric"
    code.mkdir()
    (code / "app.py").write_text(ASKS_THE_RUNTIME_API)
    (code / "bootstrap").write_text(
        '#!/bin/sh\nexec "$LAMBDALAB_PYTHON" -m awslambdaric app.handler\n')
    (code / "bootstrap").chmod(0o755)
    lab.create_function("ric", code, runtime="provided.al2023", handler="app.handler")
    answer = lab.invoke("ric").json()
    assert answer["status"] == 400
    assert answer["body"] == {"errorMessage": "Invalid request ID",
                              "errorType": "InvalidRequestID"}
    lab.create_function("pipe", zip_of(app=ASKS_THE_RUNTIME_API), handler="app.handler")
    assert lab.invoke("pipe").json() == {"api": None}
