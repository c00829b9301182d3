"""X-Ray: TracingConfig, Lambda's segments of an Active function's sampled invokes, the
daemon on loopback, the X-Ray API through boto3 and the AWS CLI, and ``lambdalab traces``.

What AWS records is described in https://docs.aws.amazon.com/lambda/latest/dg/services-xray.html
(``AWS::Lambda`` and ``AWS::Lambda::Function`` with ``Initialization``, ``Invocation`` and
``Overhead``; sampling of the first request each second and 5 % of the rest).
"""

from __future__ import annotations

import json
import random
import re
import socket
from pathlib import Path
from typing import Any, Callable

import pytest
from click.testing import CliRunner

from lambdalab import Lab, cli
from lambdalab.clock import VirtualClock
from lambdalab.errors import ValidationException
from lambdalab.server import EdgeServer
from lambdalab_xray import Sampler, TraceStore, xray

from .edge_support import client, client_for, create, edge  # noqa: F401  (fixtures)
from .test_edge_sqs import aws_cli

HEADER = re.compile(r"^Root=1-(?P<epoch>[0-9a-f]{8})-[0-9a-f]{24};Parent=(?P<parent>[0-9a-f]{16});"
                    r"Sampled=(?P<sampled>[01])$")

TRACE_ENV = """
import os

def handler(event, context):
    return {"trace": os.environ["_X_AMZN_TRACE_ID"],
            "daemon": os.environ["AWS_XRAY_DAEMON_ADDRESS"]}
"""

POWERTOOLS = """
import os
from aws_lambda_powertools import Tracer

tracer = Tracer(service="shop")

@tracer.capture_method
def price(item):
    return len(item) * 3

@tracer.capture_lambda_handler
def handler(event, context):
    tracer.put_annotation("item", event["item"])
    return {"price": price(event["item"]), "trace": os.environ["_X_AMZN_TRACE_ID"]}
"""


def traced(lab: Lab, code: Callable[..., Path], name: str = "f", source: str = TRACE_ENV,
           mode: str = "Active") -> None:
    lab.create_function(name, code(app=source), handler="app.handler",
                        tracing_config={"Mode": mode})


def invoke(lab: Lab, name: str = "f", **options: Any) -> dict[str, Any]:
    result = lab.invoke(name, {}, **options)
    assert result.function_error is None, result.payload
    return json.loads(result.payload)


def segments(lab: Lab, trace_id: str) -> dict[str, dict[str, Any]]:
    trace = xray(lab).store.trace(trace_id)
    assert trace is not None
    return {s["origin"]: s for s in trace.segments}


def root_of(header: str) -> str:
    return header.split(";")[0].removeprefix("Root=")


# -- TracingConfig ----------------------------------------------------------------------------


def test_tracing_config_is_kept_and_checked_as_aws_does(client: Any) -> None:
    assert create(client, "plain")["TracingConfig"] == {"Mode": "PassThrough"}
    assert create(client, "f", TracingConfig={"Mode": "Active"})["TracingConfig"] == {"Mode": "Active"}
    assert client.get_function_configuration(FunctionName="f")["TracingConfig"] == {"Mode": "Active"}
    changed = client.update_function_configuration(FunctionName="f",
                                                   TracingConfig={"Mode": "PassThrough"})
    assert changed["TracingConfig"] == {"Mode": "PassThrough"}
    with pytest.raises(client.exceptions.ClientError) as refused:
        client.update_function_configuration(FunctionName="f", TracingConfig={"Mode": "On"})
    error = refused.value.response["Error"]
    assert error["Code"] == "ValidationException"
    assert "'tracingConfig.mode' failed to satisfy constraint: Member must satisfy enum" in error["Message"]


def test_a_published_version_keeps_its_tracing_mode(lab: Lab, code: Callable[..., Path]) -> None:
    traced(lab, code)
    assert lab.publish_version("f").tracing_mode == "Active"
    with pytest.raises(ValidationException):
        lab.create_function("g", code(app=TRACE_ENV), handler="app.handler",
                            tracing_config={"Mode": "active"})


# -- what an Active invoke records --------------------------------------------------------------


def test_an_active_invoke_records_lambdas_segments_on_the_labs_clock(
    lab: Lab, code: Callable[..., Path], clock: VirtualClock
) -> None:
    traced(lab, code)
    seen = invoke(lab)
    header = HEADER.match(seen["trace"])
    assert header and header["sampled"] == "1"
    assert int(header["epoch"], 16) == int(clock.now())
    assert seen["daemon"] == "127.0.0.1:%d" % xray(lab).daemon.address[1]
    found = segments(lab, root_of(seen["trace"]))
    service, function = found["AWS::Lambda"], found["AWS::Lambda::Function"]
    assert function["id"] == header["parent"]  # what an SDK in the handler hangs its work on
    assert function["parent_id"] == service["id"] and "parent_id" not in service
    assert service["name"] == function["name"] == "f"
    subs = {s["name"]: s for s in function["subsegments"]}
    assert list(subs) == ["Initialization", "Invocation", "Overhead"]
    assert subs["Initialization"]["end_time"] == subs["Invocation"]["start_time"] == clock.now()
    assert subs["Invocation"]["end_time"] == subs["Overhead"]["start_time"]
    assert function["start_time"] == subs["Initialization"]["start_time"]
    assert function["end_time"] == subs["Overhead"]["end_time"] == service["end_time"]

    clock.advance(1)  # a warm invoke, in the next second: sampled, no Initialization
    warm = invoke(lab)
    names = [s["name"] for s in segments(lab, root_of(warm["trace"]))["AWS::Lambda::Function"]["subsegments"]]
    assert names == ["Invocation", "Overhead"]


def test_sampling_takes_the_first_invoke_each_second_and_5_percent_of_the_rest(
    lab: Lab, code: Callable[..., Path], clock: VirtualClock
) -> None:
    traced(lab, code)
    xray(lab).sampler = Sampler(random.Random(17))
    flags = [HEADER.match(invoke(lab)["trace"])["sampled"] == "1" for _ in range(60)]  # type: ignore[index]
    expected = random.Random(17)
    assert flags == [True] + [expected.random() < 0.05 for _ in range(59)]
    assert 0 < sum(flags[1:]) < 10  # the seed gives a few of the 59, as 5 % would
    clock.advance(1)
    assert HEADER.match(invoke(lab)["trace"])["sampled"] == "1"  # type: ignore[index]
    assert len(xray(lab).store.trace_ids(0, clock.now() + 1)) == sum(flags) + 1


def test_an_unsampled_invoke_has_a_trace_header_and_records_nothing(
    lab: Lab, code: Callable[..., Path]
) -> None:
    traced(lab, code)
    xray(lab).sampler = Sampler(reservoir=0, rate=0.0)
    seen = invoke(lab)
    assert HEADER.match(seen["trace"])["sampled"] == "0"  # type: ignore[index]
    assert xray(lab).store.trace(root_of(seen["trace"])) is None


def test_an_active_function_continues_the_callers_trace_and_honours_its_decision(
    lab: Lab, code: Callable[..., Path], clock: VirtualClock
) -> None:
    traced(lab, code)
    root = f"1-{int(clock.now()):08x}-bd862e3fe1be46a994272793"
    seen = invoke(lab, trace_header=f"Root={root};Parent=53995c3f42cd8ad8;Sampled=1")
    assert root_of(seen["trace"]) == root
    assert seen["trace"].endswith("Sampled=1") and "53995c3f42cd8ad8" not in seen["trace"]
    service = segments(lab, root)["AWS::Lambda"]
    assert service["parent_id"] == "53995c3f42cd8ad8"  # under the caller's segment

    declined = f"1-{int(clock.now()):08x}-00000000000000000000abcd"
    seen = invoke(lab, trace_header=f"Root={declined};Parent=53995c3f42cd8ad8;Sampled=0")
    assert seen["trace"].endswith("Sampled=0")
    assert xray(lab).store.trace(declined) is None


def test_an_asynchronous_invoke_continues_the_callers_trace(
    lab: Lab, code: Callable[..., Path], clock: VirtualClock
) -> None:
    traced(lab, code, source="import os\ndef handler(e, c):\n    print(os.environ['_X_AMZN_TRACE_ID'])\n")
    root = f"1-{int(clock.now()):08x}-0000000000000000000a5c01"
    queued = lab.invoke("f", {}, invocation_type="Event",
                        trace_header=f"Root={root};Parent=53995c3f42cd8ad8;Sampled=1")
    assert queued.status_code == 202 and lab.wait_for_events(timeout=60)
    service = segments(lab, root)["AWS::Lambda"]  # recorded under the caller's trace
    assert service["parent_id"] == "53995c3f42cd8ad8"
    printed = [e.message for e in lab.get_logs("f") if e.message.startswith("Root=")]
    assert [root_of(line.strip()) for line in printed] == [root]


def test_a_passthrough_function_passes_the_header_on_and_records_nothing(
    lab: Lab, code: Callable[..., Path]
) -> None:
    traced(lab, code, mode="PassThrough")
    caller = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
    seen = invoke(lab, trace_header=caller)
    assert seen["trace"] == caller
    assert xray(lab).store.trace_ids(0, 2**32) == []


def test_a_timeout_is_a_fault_of_the_invocation(lab: Lab, code: Callable[..., Path]) -> None:
    lab.create_function("slow", code(app="import time\ndef handler(e, c):\n    time.sleep(5)\n"),
                        handler="app.handler", timeout=1, tracing_config={"Mode": "Active"})
    assert lab.invoke("slow", {}).function_error == "Unhandled"
    (trace_id,) = xray(lab).store.trace_ids(0, 2**32)
    function = segments(lab, trace_id)["AWS::Lambda::Function"]
    assert function["fault"] is True
    assert function["cause"]["exceptions"][0]["message"] == "Sandbox.Timedout"
    assert [s.get("fault", False) for s in function["subsegments"]] == [False, True, False]


RAISES = """
def handler(event, context):
    return check(event)

def check(order):
    raise ValueError(f"order {order['id']} has no items")
"""


def test_a_handler_error_is_a_fault_of_the_function_with_its_exception_as_the_cause(
    lab: Lab, code: Callable[..., Path], edge: EdgeServer  # noqa: F811
) -> None:
    traced(lab, code, source=RAISES)
    assert lab.invoke("f", {"id": 7}).function_error == "Unhandled"
    (trace_id,) = xray(lab).store.trace_ids(0, 2**32)
    found = segments(lab, trace_id)
    service, function = found["AWS::Lambda"], found["AWS::Lambda::Function"]
    assert function["fault"] is True and service["fault"] is False  # Lambda answered 200
    assert [s.get("fault", False) for s in function["subsegments"]] == [False, True, False]
    (exception,) = function["cause"]["exceptions"]
    assert (exception["type"], exception["message"]) == ("ValueError", "order 7 has no items")
    assert [(f["label"], f["path"].endswith("app.py")) for f in exception["stack"]] == [
        ("handler", True), ("check", True)]
    assert exception["stack"][1]["line"] == 6
    assert function["cause"]["paths"] == [exception["stack"][0]["path"]]
    xr = client_for(edge.url, "xray")
    (summary,) = xr.get_trace_summaries(StartTime=0, EndTime=2**31)["TraceSummaries"]
    assert summary["HasFault"] is True
    assert xr.get_trace_summaries(StartTime=0, EndTime=2**31, FilterExpression="fault")["TraceSummaries"]


def test_a_cause_is_bounded_whatever_the_error_document() -> None:
    from lambdalab_xray import quotas
    from lambdalab_xray.segments import handler_cause

    huge = json.dumps({"errorType": "E", "errorMessage": "m" * 100_000,
                       "stackTrace": [f'  File "/var/task/{"d" * 999}.py", line {i}, in f\n'
                                      for i in range(500)]}).encode()
    cause = handler_cause(huge)
    (exception,) = cause["exceptions"]
    assert len(exception["stack"]) == quotas.XRAY_CAUSE_STACK_FRAMES_MAX
    assert exception["truncated"] == 500 - quotas.XRAY_CAUSE_STACK_FRAMES_MAX
    assert len(json.dumps(cause)) < quotas.XRAY_SEGMENT_DOCUMENT_MAX_BYTES // 2
    for odd in (b"not json", b"[1, 2]", b'{"stackTrace": "x", "errorMessage": {"a": 1}}', b"\xff" * 9):
        (exception,) = handler_cause(odd)["exceptions"]
        assert isinstance(exception["message"], str) and exception["stack"] == []


def test_an_active_function_behind_a_url_is_sampled_under_the_front_ends_root(
    lab: Lab, code: Callable[..., Path], edge: EdgeServer  # noqa: F811
) -> None:
    from .test_function_urls import request

    traced(lab, code, source="""
import json, os

def handler(event, context):
    return {"statusCode": 200, "body": json.dumps(
        {"env": os.environ["_X_AMZN_TRACE_ID"], "header": event["headers"]["x-amzn-trace-id"]})}
""")
    url = lab.create_function_url_config("f", "NONE").function_url
    status, _, data, _ = request(url)
    seen = json.loads(data)
    assert status == 200 and "Sampled" not in seen["header"]  # the front end leaves it open
    assert HEADER.match(seen["env"])["sampled"] == "1"  # type: ignore[index]  # Lambda sampled
    assert root_of(seen["env"]) == root_of(seen["header"])
    assert set(segments(lab, root_of(seen["env"]))) == {"AWS::Lambda", "AWS::Lambda::Function"}


# -- the daemon ---------------------------------------------------------------------------------


def test_powertools_tracer_in_a_handler_sends_its_subsegments_unchanged(
    lab: Lab, edge: EdgeServer, client: Any  # noqa: F811
) -> None:
    create(client, "shop", POWERTOOLS, TracingConfig={"Mode": "Active"})
    answer = json.loads(client.invoke(FunctionName="shop", Payload=b'{"item": "book"}')["Payload"].read())
    assert answer["price"] == 12
    # The SDK streams each subsegment as it ends: "## app.price", then "## handler".
    assert xray(lab).daemon.wait_for(2)
    trace_id = root_of(answer["trace"])
    xray_client = client_for(edge.url, "xray")
    (trace,) = xray_client.batch_get_traces(TraceIds=[trace_id])["Traces"]
    docs = {json.loads(s["Document"])["origin"]: json.loads(s["Document"]) for s in trace["Segments"]}
    function = docs["AWS::Lambda::Function"]
    subs = {s["name"]: s for s in function["subsegments"]}
    assert {"Initialization", "Invocation", "Overhead", "## handler"} <= set(subs)
    handler = subs["## handler"]
    assert handler["annotations"] == {"ColdStart": True, "Service": "shop", "item": "book"}
    assert [s["name"] for s in handler["subsegments"]] == ["## app.price"]
    invocation = subs["Invocation"]  # on the lab's (virtual) clock, inside the invocation
    assert invocation["start_time"] <= handler["start_time"] <= handler["end_time"]
    assert handler["end_time"] <= subs["Overhead"]["end_time"]


def test_the_daemon_keeps_valid_documents_and_drops_the_rest(lab: Lab) -> None:
    daemon = xray(lab).daemon
    good = {"trace_id": "1-6553f100-bd862e3fe1be46a994272793", "id": "defdfd9912dc5a56",
            "name": "worker", "start_time": 1_700_000_000.0, "end_time": 1_700_000_000.5}
    header = b'{"format": "json", "version": 1}\n'
    datagrams = [
        header + json.dumps(good).encode(),
        b'{"format": "xml", "version": 1}\n' + json.dumps(good).encode(),
        header + b"not json",
        header + json.dumps({**good, "id": "short"}).encode(),
        header + json.dumps({**good, "end_time": None}).encode(),  # neither ended nor in progress
        header + json.dumps({**good, "type": "subsegment"}).encode(),  # no parent_id
        header + b"[" * 100_000,
        b"\xff\xfe",
    ]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
        for datagram in datagrams:
            sender.sendto(datagram[:60_000], daemon.address)
    assert daemon.wait_for(len(datagrams))
    assert (daemon.received, daemon.dropped) == (1, len(datagrams) - 1)
    trace = xray(lab).store.trace(good["trace_id"])
    assert trace is not None and [s["name"] for s in trace.segments] == ["worker"]


# -- the API ------------------------------------------------------------------------------------

CLIENT_SEGMENT = {
    "trace_id": "1-6553f100-000000000000000000000001", "id": "aaaaaaaaaaaaaaa1",
    "name": "checkout", "start_time": 1_700_000_000.0, "end_time": 1_700_000_000.9,
    "subsegments": [{"id": "aaaaaaaaaaaaaaa2", "name": "S3", "namespace": "aws",
                     "start_time": 1_700_000_000.1, "end_time": 1_700_000_000.8,
                     "fault": True}],
}


def test_put_trace_segments_then_summaries_traces_and_graphs_through_boto3(edge: EdgeServer) -> None:
    xr = client_for(edge.url, "xray")
    bad = json.dumps({"id": "bbbbbbbbbbbbbbb1", "name": "x"})
    put = xr.put_trace_segments(TraceSegmentDocuments=[json.dumps(CLIENT_SEGMENT), bad, "{"])
    assert [(u["Id"], u["ErrorCode"]) for u in put["UnprocessedTraceSegments"]] == [
        ("bbbbbbbbbbbbbbb1", "InvalidSegment"), ("", "InvalidSegment")]
    window = {"StartTime": 1_699_999_000, "EndTime": 1_700_001_000}
    (summary,) = xr.get_trace_summaries(**window)["TraceSummaries"]
    assert summary["Id"] == CLIENT_SEGMENT["trace_id"]
    assert summary["Duration"] == pytest.approx(0.9) and summary["HasFault"] is True
    assert summary["EntryPoint"] == {"Name": "checkout", "Names": ["checkout"], "Type": "client"}
    assert xr.get_trace_summaries(FilterExpression='service("S3")', **window)["TraceSummaries"]
    assert not xr.get_trace_summaries(FilterExpression="responsetime > 1", **window)["TraceSummaries"]
    with pytest.raises(xr.exceptions.InvalidRequestException, match="does not understand"):
        xr.get_trace_summaries(FilterExpression='annotation.x = "y"', **window)
    with pytest.raises(xr.exceptions.InvalidRequestException, match="StartTime is after EndTime"):
        xr.get_trace_summaries(StartTime=2, EndTime=1)

    got = xr.batch_get_traces(TraceIds=[CLIENT_SEGMENT["trace_id"], "1-6553f100-00000000000000000000ffff"])
    assert [t["Id"] for t in got["Traces"]] == [CLIENT_SEGMENT["trace_id"]]
    assert got["UnprocessedTraceIds"] == ["1-6553f100-00000000000000000000ffff"]

    for services in (xr.get_service_graph(**window)["Services"],
                     xr.get_trace_graph(TraceIds=[CLIENT_SEGMENT["trace_id"]])["Services"]):
        nodes = {s["Name"]: s for s in services}
        assert nodes["checkout"]["Root"] is True and nodes["S3"]["Type"] == "AWS::S3"
        (edge_to,) = nodes["checkout"]["Edges"]
        assert edge_to["ReferenceId"] == nodes["S3"]["ReferenceId"]
        assert edge_to["SummaryStatistics"]["FaultStatistics"]["TotalCount"] == 1
        assert edge_to["SummaryStatistics"]["TotalResponseTime"] == pytest.approx(0.7)


def test_aws_cli_get_service_graph_draws_the_chain_of_two_functions(
    lab: Lab, edge: EdgeServer, client: Any  # noqa: F811
) -> None:
    create(client, "back", TRACE_ENV, TracingConfig={"Mode": "Active"})
    front = """
import boto3
from aws_xray_sdk.core import patch

patch(["botocore"])  # as on AWS: the SDK records each call and sends the trace header on

def handler(event, context):
    boto3.client("lambda").invoke(FunctionName="back", Payload=b"{}")
    boto3.client("s3").list_buckets()
    return __import__("os").environ["_X_AMZN_TRACE_ID"]
"""
    create(client, "front", front, TracingConfig={"Mode": "Active"}, Timeout=30)
    header = json.loads(client.invoke(FunctionName="front", Payload=b"{}")["Payload"].read())
    assert xray(lab).daemon.wait_for(2)  # the SDK's Lambda and S3 subsegments
    now = lab.clock.now()
    graph = aws_cli(edge.url, "xray", "get-service-graph", "--start-time", str(int(now) - 60),
                    "--end-time", str(int(now) + 60))
    nodes = {(s["Name"], s["Type"]): s for s in graph["Services"]}
    assert set(nodes) == {("front", "client"), ("front", "AWS::Lambda"),
                          ("front", "AWS::Lambda::Function"), ("back", "AWS::Lambda"),
                          ("back", "AWS::Lambda::Function"), ("S3", "AWS::S3")}
    refs = {s["ReferenceId"]: key for key, s in nodes.items()}
    edges = {key: {refs[e["ReferenceId"]] for e in s["Edges"]} for key, s in nodes.items()}
    client = nodes[("front", "client")]  # the caller, in front of the entry point
    assert edges[("front", "client")] == {("front", "AWS::Lambda")}
    assert (client["State"], "SummaryStatistics" in client, client["ReferenceId"]) == ("unknown", False, 0)
    assert client["Edges"][0]["SummaryStatistics"]["TotalCount"] == 1
    assert nodes[("S3", "AWS::S3")]["State"] == "unknown"  # inferred from the SDK's call
    assert nodes[("front", "AWS::Lambda")]["State"] == "active"
    assert edges[("front", "AWS::Lambda")] == {("front", "AWS::Lambda::Function")}
    assert edges[("front", "AWS::Lambda::Function")] == {("back", "AWS::Lambda"), ("S3", "AWS::S3")}
    assert edges[("back", "AWS::Lambda")] == {("back", "AWS::Lambda::Function")}
    assert nodes[("front", "AWS::Lambda")]["Root"] is True
    summaries = aws_cli(edge.url, "xray", "get-trace-summaries", "--start-time",
                        str(int(now) - 60), "--end-time", str(int(now) + 60))["TraceSummaries"]
    assert [s["Id"] for s in summaries] == [root_of(header)]  # one trace, through both


# -- durable and bounded --------------------------------------------------------------------------


def test_traces_survive_a_reopened_data_dir(tmp_path: Path, code: Callable[..., Path]) -> None:
    with Lab(data_dir=tmp_path / "d", clock=VirtualClock(start=1_700_000_000)) as lab:
        traced(lab, code)
        trace_id = root_of(invoke(lab)["trace"])
    with Lab(data_dir=tmp_path / "d") as lab:
        assert set(segments(lab, trace_id)) == {"AWS::Lambda", "AWS::Lambda::Function"}


def test_the_store_keeps_the_newest_segments_and_drops_expired_traces(lab: Lab, clock: VirtualClock) -> None:
    store = TraceStore(lab.store, clock.now, segments_max=3)
    try:
        docs = [{**CLIENT_SEGMENT, "id": f"{i:016x}", "trace_id": f"1-{int(clock.now()):08x}-{i:024x}",
                 "subsegments": []} for i in range(5)]
        store.put(docs)
        assert sorted(store.trace_ids(0, 2**32)) == sorted(d["trace_id"] for d in docs[2:])
        clock.advance(31 * 86400)  # X-Ray keeps a trace 30 days
        store.put([{**docs[0], "trace_id": f"1-{int(clock.now()):08x}-{0:024x}"}])
        assert store.trace_ids(0, 2**32) == [f"1-{int(clock.now()):08x}-{0:024x}"]
    finally:
        store.close()


# -- lambdalab traces ------------------------------------------------------------------------------


def test_lambdalab_traces_lists_and_draws_a_trace(tmp_path: Path, code: Callable[..., Path]) -> None:
    with Lab(data_dir=tmp_path / "d") as lab:
        traced(lab, code)
        trace_id = root_of(invoke(lab)["trace"])
    run = CliRunner().invoke(cli.main, ["--data-dir", str(tmp_path / "d"), "traces"],
                             terminal_width=250)
    assert run.exit_code == 0, run.output
    assert trace_id in run.output and "f (AWS::Lambda)" in run.output
    tree = CliRunner().invoke(cli.main, ["--data-dir", str(tmp_path / "d"), "traces", trace_id],
                              terminal_width=250)
    assert tree.exit_code == 0, tree.output
    rows = {line.split("│")[1].strip(): line for line in tree.output.splitlines()
            if line.count("│") > 3}
    assert {"f", "Initialization", "Invocation", "Overhead"} <= set(rows)
    assert "█" in rows["Invocation"]
    missing = CliRunner().invoke(cli.main, ["--data-dir", str(tmp_path / "d"), "traces",
                                            "1-00000000-000000000000000000000000"])
    assert missing.exit_code == 1 and "No trace" in missing.output


def test_hostile_input_gets_x_rays_answers_not_a_500(edge: EdgeServer) -> None:
    xr = client_for(edge.url, "xray")
    deep, big = "[" * 60_000, json.dumps({**CLIENT_SEGMENT, "pad": "x" * 70_000})
    put = xr.put_trace_segments(TraceSegmentDocuments=[deep, big, "null", "[]"])
    messages = [u["Message"] for u in put["UnprocessedTraceSegments"]]
    assert messages[0] == "The document is not JSON." and "at most 65536" in messages[1]
    assert messages[2:] == ["The document is not a JSON object."] * 2
    broken = [{**CLIENT_SEGMENT, "start_time": float("nan")},
              {**CLIENT_SEGMENT, "subsegments": [{"name": "S3", "namespace": "aws"}]},
              {**CLIENT_SEGMENT, "subsegments": "S3"},
              {**CLIENT_SEGMENT, "subsegments": [{"name": "x", "start_time": 1.0, "end_time": "2"}]},
              {**CLIENT_SEGMENT, "parent_id": ["a"]}, {**CLIENT_SEGMENT, "origin": 7},
              {**CLIENT_SEGMENT, "subsegments": [{**CLIENT_SEGMENT["subsegments"][0], "id": {}}]}]
    put = xr.put_trace_segments(TraceSegmentDocuments=[json.dumps(d) for d in broken])
    assert [u["Message"].split(":")[0] for u in put["UnprocessedTraceSegments"]] == [
        "start_time", "subsegments", "subsegments", "subsegments", "parent_id", "origin", "id"]
    unknown = [f"1-6553f100-{i:024x}" for i in range(150)]
    first = xr.batch_get_traces(TraceIds=unknown)
    assert first["UnprocessedTraceIds"] == unknown[:100] and first["NextToken"] == "100"
    rest = xr.batch_get_traces(TraceIds=unknown, NextToken=first["NextToken"])
    assert rest["UnprocessedTraceIds"] == unknown[100:] and "NextToken" not in rest
    with pytest.raises(xr.exceptions.InvalidRequestException, match="NextToken"):
        xr.batch_get_traces(TraceIds=unknown, NextToken="../../etc")
    with pytest.raises(xr.exceptions.ClientError) as refused:  # the model's own constraint
        xr.batch_get_traces(TraceIds=["x" * 36])
    assert refused.value.response["Error"]["Code"] == "ValidationException"


def _documents() -> Any:
    from hypothesis import strategies as st

    scalar = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True),
                       st.text(max_size=5))
    sub = st.recursive(
        st.fixed_dictionaries({"name": st.sampled_from(["s3", "x", "Lambda"]),
                               "start_time": st.floats(0, 10), "end_time": st.floats(0, 10)},
                              optional={"id": st.sampled_from(["aaaaaaaaaaaaaaa1", "b", 3]),
                                        "namespace": st.one_of(st.sampled_from(["aws", "remote"]), scalar),
                                        "fault": scalar, "error": scalar, "throttle": scalar}),
        lambda inner: st.fixed_dictionaries({"name": st.just("n"), "start_time": st.floats(0, 10),
                                             "end_time": st.floats(0, 10),
                                             "subsegments": st.lists(inner, max_size=3)}),
        max_leaves=6)
    return st.lists(st.fixed_dictionaries(
        {"name": st.sampled_from(["a", "b"]), "id": st.sampled_from([f"{i:016x}" for i in range(4)]),
         "trace_id": st.just("1-6553f100-000000000000000000000001"),
         "start_time": st.floats(0, 10), "end_time": st.floats(0, 10)},
        optional={"parent_id": st.one_of(st.sampled_from([f"{i:016x}" for i in range(4)]), scalar),
                  "origin": st.one_of(st.just("AWS::Lambda"), scalar),
                  "type": st.sampled_from(["subsegment", "segment"]), "in_progress": scalar,
                  "subsegments": st.one_of(st.lists(sub, max_size=3), scalar)}), max_size=5)


def test_whatever_documents_pass_the_check_every_reader_answers() -> None:
    from hypothesis import given, settings

    from lambdalab_xray.cli import _walk, _timeline_row
    from lambdalab_xray.graph import service_graph, summary
    from lambdalab_xray.models import BadDocument, _assembled, checked

    @settings(max_examples=300, deadline=None)
    @given(_documents())
    def check(docs: list[dict[str, Any]]) -> None:
        kept = []
        for doc in docs:
            try:
                kept.append(checked(json.dumps(doc)))
            except BadDocument:
                pass
        trace = _assembled("1-6553f100-000000000000000000000001", kept)
        if trace is None:
            return
        json.dumps(service_graph([trace], "000000000000"))
        json.dumps(summary(trace))
        for doc, depth, kind in _walk(trace):
            _timeline_row(trace, doc, depth, kind)

    check()
    circle = [{**CLIENT_SEGMENT, "id": "aaaaaaaaaaaaaaaa", "parent_id": "bbbbbbbbbbbbbbbb"},
              {**CLIENT_SEGMENT, "id": "bbbbbbbbbbbbbbbb", "parent_id": "aaaaaaaaaaaaaaaa"}]
    trace = _assembled(CLIENT_SEGMENT["trace_id"], circle)
    assert trace is not None and summary(trace)["EntryPoint"]["Name"] == "checkout"
    assert [doc["id"] for doc, _, kind in _walk(trace) if kind == "client"] == ["aaaaaaaaaaaaaaaa", "bbbbbbbbbbbbbbbb"]


def test_a_bar_for_a_vanishing_span_stays_on_its_row() -> None:
    """Times come from whoever sent the document: a trace 5e-324 s long made the bar's
    fractions infinite (``OverflowError`` in ``lambdalab traces``), found by the fuzz above."""
    from lambdalab_xray.cli import BAR_WIDTH, bar

    for start, end, total in [(1.0, 2.0, 5e-324), (-5.0, 1e308, 1e-300), (0.0, 1.0, 2.0)]:
        drawn = bar(start, end, total)
        assert len(drawn) <= BAR_WIDTH and "█" in drawn
