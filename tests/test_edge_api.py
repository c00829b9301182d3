"""Every Lambda API operation the edge serves, driven by boto3 as a real client."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from lambdalab import Lab

from .edge_support import ROLE, client, create, edge, zip_of  # noqa: F401  (fixtures)

FAILING = """
def handler(event, context):
    raise ValueError("bad input: " + str(event))
"""
CONTEXT = """
def handler(event, context):
    return {"custom": context.client_context.custom, "arn": context.invoked_function_arn}
"""


def test_create_get_update_delete_function(client: Any) -> None:
    created = create(client, "hello", MemorySize=256, Environment={"Variables": {"AB": "1"}})
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert created["FunctionName"] == "hello"
    assert created["MemorySize"] == 256
    assert created["Role"] == ROLE
    assert created["Environment"] == {"Variables": {"AB": "1"}}

    details = client.get_function(FunctionName="hello")
    assert details["Configuration"]["CodeSha256"] == created["CodeSha256"]
    assert details["Code"]["Location"]

    updated = client.update_function_configuration(FunctionName="hello", Timeout=30)
    assert updated["Timeout"] == 30 and updated["MemorySize"] == 256
    assert client.get_function_configuration(FunctionName="hello")["Timeout"] == 30

    new_code = client.update_function_code(
        FunctionName="hello", ZipFile=zip_of(app="def handler(e, c):\n    return 'v2'\n")
    )
    assert new_code["CodeSha256"] != created["CodeSha256"]
    assert json.loads(client.invoke(FunctionName="hello")["Payload"].read()) == "v2"

    client.delete_function(FunctionName="hello")
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.get_function(FunctionName="hello")


def test_revision_id_guards_updates(client: Any) -> None:
    created = create(client, "guarded")
    with pytest.raises(client.exceptions.PreconditionFailedException):
        client.update_function_configuration(
            FunctionName="guarded", Timeout=5, RevisionId="not-the-revision"
        )
    # Becoming Active changes the RevisionId, as on AWS: the current one is GetFunction's.
    current = client.get_function(FunctionName="guarded")["Configuration"]["RevisionId"]
    assert current != created["RevisionId"]
    ok = client.update_function_configuration(
        FunctionName="guarded", Timeout=5, RevisionId=current
    )
    assert ok["Timeout"] == 5


def test_list_functions_pages_with_marker(client: Any) -> None:
    for name in ("a", "b", "c"):
        create(client, name)
    first = client.list_functions(MaxItems=2)
    assert [f["FunctionName"] for f in first["Functions"]] == ["a", "b"]
    second = client.list_functions(MaxItems=2, Marker=first["NextMarker"])
    assert [f["FunctionName"] for f in second["Functions"]] == ["c"]
    assert "NextMarker" not in second
    pages = client.get_paginator("list_functions").paginate(PaginationConfig={"PageSize": 1})
    assert [f["FunctionName"] for p in pages for f in p["Functions"]] == ["a", "b", "c"]


def test_list_functions_all_versions(client: Any) -> None:
    create(client, "v", Publish=True)
    listed = client.list_functions(FunctionVersion="ALL")["Functions"]
    assert [f["Version"] for f in listed] == ["$LATEST", "1"]


def test_invoke_returns_payload_executed_version_and_tail(client: Any) -> None:
    create(client, "echo")
    result = client.invoke(FunctionName="echo", Payload=b'{"n": 1}', LogType="Tail")
    assert result["StatusCode"] == 200
    assert json.loads(result["Payload"].read()) == {"n": 1}
    assert result["ExecutedVersion"] == "$LATEST"
    assert "FunctionError" not in result
    tail = base64.b64decode(result["LogResult"]).decode()
    request_id = result["ResponseMetadata"]["RequestId"]
    assert f"START RequestId: {request_id}" in tail
    assert "echo {'n': 1}" in tail
    assert f"REPORT RequestId: {request_id}" in tail


def test_invoke_reports_a_function_error(client: Any) -> None:
    create(client, "failing", FAILING)
    result = client.invoke(FunctionName="failing", Payload=b'"x"')
    assert result["StatusCode"] == 200
    assert result["FunctionError"] == "Unhandled"
    error = json.loads(result["Payload"].read())
    assert error["errorType"] == "ValueError"
    assert error["errorMessage"] == "bad input: x"


def test_event_invoke_is_acknowledged_then_runs(client: Any, lab: Lab) -> None:
    create(client, "later")
    result = client.invoke(FunctionName="later", InvocationType="Event", Payload=b'{"e": 1}')
    assert result["StatusCode"] == 202
    assert result["Payload"].read() == b""
    assert lab.wait_for_events(timeout=60)
    messages = [e.message for e in lab.get_logs("later")]
    assert any("echo {'e': 1}" in m for m in messages)


def test_dry_run_validates_without_running(client: Any, lab: Lab) -> None:
    create(client, "dry")
    result = client.invoke(FunctionName="dry", InvocationType="DryRun")
    assert result["StatusCode"] == 204
    assert lab.get_logs("dry") == []
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.invoke(FunctionName="absent", InvocationType="DryRun")


def test_client_context_and_qualified_arn_reach_the_handler(client: Any) -> None:
    create(client, "ctx", CONTEXT, Publish=True)
    context = base64.b64encode(json.dumps({"custom": {"k": "v"}}).encode()).decode()
    arn = "arn:aws:lambda:us-east-1:000000000000:function:ctx"
    result = client.invoke(FunctionName=arn, Qualifier="1", ClientContext=context)
    assert json.loads(result["Payload"].read()) == {"custom": {"k": "v"}, "arn": f"{arn}:1"}
    assert result["ExecutedVersion"] == "1"


def test_versions_and_aliases(client: Any) -> None:
    create(client, "rel")
    v1 = client.publish_version(FunctionName="rel", Description="first")
    assert v1["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert (v1["Version"], v1["Description"]) == ("1", "first")
    client.update_function_code(FunctionName="rel", ZipFile=zip_of(app="def handler(e, c):\n    return 2\n"))
    with pytest.raises(client.exceptions.InvalidParameterValueException):
        client.publish_version(FunctionName="rel", CodeSha256="stale")
    v2 = client.publish_version(FunctionName="rel")
    assert v2["Version"] == "2"
    versions = client.list_versions_by_function(FunctionName="rel")["Versions"]
    assert [v["Version"] for v in versions] == ["$LATEST", "1", "2"]

    alias = client.create_alias(FunctionName="rel", Name="live", FunctionVersion="1")
    assert alias["AliasArn"].endswith(":function:rel:live")
    assert client.get_alias(FunctionName="rel", Name="live")["FunctionVersion"] == "1"
    updated = client.update_alias(
        FunctionName="rel",
        Name="live",
        RoutingConfig={"AdditionalVersionWeights": {"2": 0.25}},
    )
    assert updated["RoutingConfig"] == {"AdditionalVersionWeights": {"2": 0.25}}
    assert [a["Name"] for a in client.list_aliases(FunctionName="rel")["Aliases"]] == ["live"]
    assert client.list_aliases(FunctionName="rel", FunctionVersion="2")["Aliases"] == []
    with pytest.raises(client.exceptions.ResourceConflictException):
        client.delete_function(FunctionName="rel", Qualifier="1")
    client.delete_alias(FunctionName="rel", Name="live")
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.get_alias(FunctionName="rel", Name="live")


def test_weighted_alias_routes_by_weight(client: Any) -> None:
    create(client, "canary", "def handler(e, c):\n    return 1\n", Publish=True)
    client.update_function_code(
        FunctionName="canary", ZipFile=zip_of(app="def handler(e, c):\n    return 2\n")
    )
    client.publish_version(FunctionName="canary")
    client.create_alias(
        FunctionName="canary",
        Name="live",
        FunctionVersion="1",
        RoutingConfig={"AdditionalVersionWeights": {"2": 0.3}},
    )
    executed = [
        client.invoke(FunctionName="canary", Qualifier="live")["ExecutedVersion"]
        for _ in range(400)
    ]
    # Binomial(400, 0.3): mean 120, standard deviation 9.2; 80..160 is over 4 sigma.
    assert 80 <= executed.count("2") <= 160
    assert executed.count("1") + executed.count("2") == 400


def test_reserved_concurrency(client: Any) -> None:
    create(client, "capped")
    assert client.get_function_concurrency(FunctionName="capped").get(
        "ReservedConcurrentExecutions"
    ) is None
    put = client.put_function_concurrency(FunctionName="capped", ReservedConcurrentExecutions=5)
    assert put["ReservedConcurrentExecutions"] == 5
    assert client.get_function_concurrency(FunctionName="capped")["ReservedConcurrentExecutions"] == 5
    assert client.get_function(FunctionName="capped")["Concurrency"] == {
        "ReservedConcurrentExecutions": 5
    }
    client.delete_function_concurrency(FunctionName="capped")
    assert "ReservedConcurrentExecutions" not in client.get_function_concurrency(
        FunctionName="capped"
    )


def test_resource_policy(client: Any) -> None:
    create(client, "target", Publish=True)
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.get_policy(FunctionName="target")
    added = client.add_permission(
        FunctionName="target",
        StatementId="s3-invoke",
        Action="lambda:InvokeFunction",
        Principal="s3.amazonaws.com",
        SourceArn="arn:aws:s3:::photos",
        SourceAccount="000000000000",
    )
    assert added["ResponseMetadata"]["HTTPStatusCode"] == 201
    statement = json.loads(added["Statement"])
    assert statement == {
        "Sid": "s3-invoke",
        "Effect": "Allow",
        "Principal": {"Service": "s3.amazonaws.com"},
        "Action": "lambda:InvokeFunction",
        "Resource": "arn:aws:lambda:us-east-1:000000000000:function:target",
        "Condition": {
            "StringEquals": {"AWS:SourceAccount": "000000000000"},
            "ArnLike": {"AWS:SourceArn": "arn:aws:s3:::photos"},
        },
    }
    with pytest.raises(client.exceptions.ResourceConflictException):
        client.add_permission(
            FunctionName="target", StatementId="s3-invoke",
            Action="lambda:InvokeFunction", Principal="s3.amazonaws.com",
        )
    client.add_permission(
        FunctionName="target", StatementId="acct", Action="lambda:GetFunction",
        Principal="111122223333", Qualifier="1",
    )
    policy = client.get_policy(FunctionName="target")
    document = json.loads(policy["Policy"])
    assert (document["Version"], document["Id"]) == ("2012-10-17", "default")
    assert [s["Sid"] for s in document["Statement"]] == ["s3-invoke"]
    versioned = json.loads(client.get_policy(FunctionName="target", Qualifier="1")["Policy"])
    assert versioned["Statement"][0]["Principal"] == {"AWS": "arn:aws:iam::111122223333:root"}
    assert versioned["Statement"][0]["Resource"].endswith(":function:target:1")
    with pytest.raises(client.exceptions.PreconditionFailedException):
        client.remove_permission(FunctionName="target", StatementId="s3-invoke", RevisionId="x")
    client.remove_permission(
        FunctionName="target", StatementId="s3-invoke", RevisionId=policy["RevisionId"]
    )
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.remove_permission(FunctionName="target", StatementId="s3-invoke")
    with pytest.raises(ClientError, match="ValidationException.*'statementId'"):
        client.add_permission(
            FunctionName="target", StatementId="bad id!", Action="lambda:InvokeFunction",
            Principal="s3.amazonaws.com",
        )


def test_account_settings(client: Any) -> None:
    create(client, "one")
    settings = client.get_account_settings()
    assert settings["AccountLimit"]["ConcurrentExecutions"] == 1000
    assert settings["AccountUsage"]["FunctionCount"] == 1


def test_event_invoke_config(client: Any, lab: Lab) -> None:
    if not hasattr(lab, "put_function_event_invoke_config"):
        pytest.skip("Lab has no event invoke configuration yet (issue 5)")
    create(client, "async")
    put = client.put_function_event_invoke_config(
        FunctionName="async", MaximumRetryAttempts=1, MaximumEventAgeInSeconds=120
    )
    assert (put["MaximumRetryAttempts"], put["MaximumEventAgeInSeconds"]) == (1, 120)
    updated = client.update_function_event_invoke_config(
        FunctionName="async", MaximumRetryAttempts=0
    )
    assert (updated["MaximumRetryAttempts"], updated["MaximumEventAgeInSeconds"]) == (0, 120)
    got = client.get_function_event_invoke_config(FunctionName="async")
    assert got["MaximumRetryAttempts"] == 0
    listed = client.list_function_event_invoke_configs(FunctionName="async")
    assert len(listed["FunctionEventInvokeConfigs"]) == 1
    client.delete_function_event_invoke_config(FunctionName="async")
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.get_function_event_invoke_config(FunctionName="async")
