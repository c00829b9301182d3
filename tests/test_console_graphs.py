"""The console's graphs (metrics, X-Ray's service graph and a trace's timeline, cost "what
if"), judged through a real edge: each view's numbers against what boto3 reads from the
same lab's CloudWatch and X-Ray APIs, and against the cost plugin's prices; then the three
views in chromium."""

from __future__ import annotations

import json
import math
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from lambdalab import Lab, VirtualClock
from lambdalab.server import EdgeServer
from lambdalab_console.graphs import GRAPH_MINUTES, PERIOD_SECONDS
from lambdalab_console.bounds import SERVICE_GRAPH_TRACES
from lambdalab_console.whatif import WHAT_IF_INVOKES, WHAT_IF_MEMORY_MB
from lambdalab_cost import Measured, costs, project

from .edge_support import client, client_for, create, edge  # noqa: F401  (fixtures)
from .test_console import CONSOLE, get
from .test_console_browser import page, screenshot  # noqa: F401  (fixture)

CHATTY = """
def handler(event, context):
    if event.get("fail"):
        raise ValueError("asked to fail")
    return {"n": event.get("n")}
"""


def read(url: str, path: str) -> tuple[int, Any]:
    status, body = get(url + CONSOLE + path)
    return status, json.loads(body)


def invoke(client: Any, name: str, **event: Any) -> None:
    client.invoke(FunctionName=name, Payload=json.dumps(event).encode())


def test_each_metric_graphs_points_are_the_metrics_datapoints(clock: VirtualClock, edge: EdgeServer, client: Any) -> None:
    create(client, "chatty", CHATTY)
    invoke(client, "chatty", n=1)
    invoke(client, "chatty", fail=True)
    clock.advance(PERIOD_SECONDS)
    for n in range(3):
        invoke(client, "chatty", n=n)
    status, graphs = read(edge.url, "api/graphs/metrics")
    assert status == 200
    [chatty] = graphs["functions"]
    series = chatty["series"]
    first = (1_700_000_000 // 60) * 60  # the clock fixture's minute
    assert series["Invocations"] == [[first, 2.0], [first + 60, 3.0]]
    assert series["Errors"] == [[first, 1.0], [first + 60, 0.0]]
    assert graphs["end"] - graphs["start"] == GRAPH_MINUTES * PERIOD_SECONDS

    cloudwatch = client_for(edge.url, "cloudwatch")
    stats = {"Invocations": ("Invocations", "Sum"), "Errors": ("Errors", "Sum"),
             "Throttles": ("Throttles", "Sum"), "Duration p50 (ms)": ("Duration", "p50"),
             "Duration p99 (ms)": ("Duration", "p99")}
    answer = cloudwatch.get_metric_data(
        MetricDataQueries=[{"Id": f"q{n}", "MetricStat": {"Metric": {
            "Namespace": "AWS/Lambda", "MetricName": metric,
            "Dimensions": [{"Name": "FunctionName", "Value": "chatty"}]},
            "Period": 60, "Stat": stat}} for n, (metric, stat) in enumerate(stats.values())],
        StartTime=datetime.fromtimestamp(graphs["start"], timezone.utc),
        EndTime=datetime.fromtimestamp(graphs["end"], timezone.utc), ScanBy="TimestampAscending")
    for label, result in zip(stats, answer["MetricDataResults"]):
        expected = [[t.timestamp(), v] for t, v in zip(result["Timestamps"], result["Values"])]
        assert series[label] == expected, label
    assert len(series["Duration p99 (ms)"]) == 2 and series["Duration p99 (ms)"][0][1] > 0
    # what the page asks after an invoke: the functions invoked, the others left out
    create(client, "other", CHATTY)
    status, some = read(edge.url, "api/graphs/metrics?function=chatty&function=nope")
    assert status == 200 and some["functions"] == [chatty] and some["start"] == graphs["start"]


def segment(trace_id: str, name: str, start: float, **fields: Any) -> str:
    return json.dumps({"trace_id": trace_id, "id": uuid.uuid4().hex[:16], "name": name,
                       "start_time": start, "end_time": start + 0.05, **fields})


def test_the_service_graph_and_a_traces_timeline_are_x_rays(clock: VirtualClock, edge: EdgeServer, client: Any) -> None:
    create(client, "traced", CHATTY, TracingConfig={"Mode": "Active"})
    invoke(client, "traced", n=1)
    clock.advance(1.5)  # X-Ray samples the first request of each second
    invoke(client, "traced", fail=True)
    # An app's own segment that called DynamoDB twice, once failing (as an SDK sends it).
    now = clock.now()
    trace_id = f"1-{int(now):08x}-{uuid.uuid4().hex[:24]}"
    calls = [{"id": uuid.uuid4().hex[:16], "name": "DynamoDB", "namespace": "aws",
              "start_time": now + 0.01 * k, "end_time": now + 0.01 * k + 0.005,
              **({"fault": True} if k else {})} for k in range(2)]
    xray = client_for(edge.url, "xray")
    xray.put_trace_segments(TraceSegmentDocuments=[segment(trace_id, "shop", now, subsegments=calls)])

    status, graph = read(edge.url, "api/graphs/services")
    assert status == 200
    name = {n["id"]: (n["name"], n["type"]) for n in graph["nodes"]}
    edges = {(name[e["from"]], name[e["to"]]): e for e in graph["edges"]}
    lambda_to_function = edges[("traced", "AWS::Lambda"), ("traced", "AWS::Lambda::Function")]
    assert lambda_to_function["total"] == 2 and lambda_to_function["fault_share"] == 0.5
    to_dynamodb = edges[("shop", "client"), ("DynamoDB", "AWS::DynamoDB")]
    assert (to_dynamodb["total"], to_dynamodb["faults"], to_dynamodb["fault_share"]) == (2, 1, 0.5)
    judged = xray.get_service_graph(StartTime=datetime.fromtimestamp(now - 3600, timezone.utc),
                                     EndTime=datetime.fromtimestamp(now + 1, timezone.utc))
    assert {(s["Name"], s["Type"]) for s in judged["Services"]} == set(name.values())
    assert sum(len(s["Edges"]) for s in judged["Services"]) == len(graph["edges"])
    # drawn left to right: the caller, Lambda's service, the function
    assert sorted((n["column"], n["type"]) for n in graph["nodes"] if n["name"] == "traced") == [
        (0, "client"), (1, "AWS::Lambda"), (2, "AWS::Lambda::Function")]

    status, listed = read(edge.url, "api/traces")
    assert status == 200
    traced = [t for t in listed["traces"] if t["entry"] == "traced"]
    assert len(traced) == 2 and sorted(t["fault"] for t in traced) == [False, True]
    failed = next(t for t in traced if t["fault"])
    status, timeline = read(edge.url, f"api/traces/{failed['id']}")
    assert status == 200
    [judged_trace] = xray.batch_get_traces(TraceIds=[failed["id"]])["Traces"]
    documents = sorted((json.loads(s["Document"]) for s in judged_trace["Segments"]),
                       key=lambda d: d["start_time"])
    origin = documents[0]["start_time"]
    segments = [bar for bar in timeline["bars"] if bar["kind"] == "segment"]
    assert [bar["id"] for bar in segments] == [d["id"] for d in documents]
    for bar, doc in zip(segments, documents):
        assert bar["start_ms"] == pytest.approx((doc["start_time"] - origin) * 1000)
        assert bar["duration_ms"] == pytest.approx((doc["end_time"] - doc["start_time"]) * 1000)
    function = next(d for d in documents if d["origin"] == "AWS::Lambda::Function")
    subs = [bar for bar in timeline["bars"] if bar["kind"] == "subsegment"]
    assert [(b["name"], b["fault"]) for b in subs] == [(s["name"], bool(s.get("fault")))
                                                         for s in function["subsegments"]]
    assert ("Invocation", True) in [(b["name"], b["fault"]) for b in subs]


def test_the_service_graph_is_drawn_from_the_newest_traces(clock: VirtualClock, edge: EdgeServer) -> None:
    """A busy hour holds thousands of traces; the page reads its graph each second."""
    xray = client_for(edge.url, "xray")
    start = clock.now()
    documents = []
    for n in range(SERVICE_GRAPH_TRACES + 5):  # one a second, the oldest first
        trace_id = f"1-{int(start) - 600 + n:08x}-{uuid.uuid4().hex[:24]}"
        call = {"id": uuid.uuid4().hex[:16], "name": "S3", "namespace": "aws",
                "start_time": start - 600 + n, "end_time": start - 600 + n + 0.01,
                **({"fault": True} if n < 5 else {})}  # only the 5 oldest failed
        documents.append(segment(trace_id, "uploader", start - 600 + n, subsegments=[call]))
    for first in range(0, len(documents), 50):
        xray.put_trace_segments(TraceSegmentDocuments=documents[first:first + 50])
    status, graph = read(edge.url, "api/graphs/services")
    assert status == 200 and graph["traces"] == SERVICE_GRAPH_TRACES
    name = {n["id"]: n["name"] for n in graph["nodes"]}
    [to_s3] = [e for e in graph["edges"] if name[e["to"]] == "S3"]
    assert (to_s3["total"], to_s3["faults"]) == (SERVICE_GRAPH_TRACES, 0)


@pytest.mark.parametrize("trace_id", ["nope", "1-" + "a" * 5000, "1-00000000-000000000000000000000000",
                                      "%00", "1-ZZZZZZZZ-%C3%A9%C3%A9", "1-" + "[" * 4000])
def test_an_unknown_or_hostile_trace_id_is_404(edge: EdgeServer, trace_id: str) -> None:
    status, answer = read(edge.url, f"api/traces/{trace_id}")
    assert status == 404 and "trace id looks like" in answer["message"]


def test_what_if_prices_are_the_cost_plugins_at_each_memory_size(lab: Lab, edge: EdgeServer, client: Any) -> None:
    create(client, "sized", CHATTY, MemorySize=256)
    for n in range(3):
        invoke(client, "sized", n=n)
    status, answer = read(edge.url, "api/whatif")
    assert status == 200 and answer["invokes"] == WHAT_IF_INVOKES
    [table] = answer["functions"]
    [measured] = costs(lab).measured("sized")
    assert (table["measured_at_mb"], table["invokes_measured"]) == (256, 3)
    rows = {row["memory_mb"]: row for row in table["rows"]}
    assert sorted(rows) == sorted({*WHAT_IF_MEMORY_MB, 256}) and rows[256]["measured"]
    for size, row in rows.items():
        # CPU-bound: the duration with the vCPU share (256 MB is 256/1769 of one), billed
        # rounded up to 1 ms; the measured size keeps what it measured.
        cpu_ms = measured.average_duration_ms * 256 / min(size, 1769)
        billed = {"cpu_bound": measured.average_billed_ms if size == 256 else max(1, math.ceil(cpu_ms)),
                  "waiting": measured.average_billed_ms}
        assert row["cpu_bound_billed_ms"] == billed["cpu_bound"]
        for case, ms in billed.items():
            # AWS's prices: $0.20 a million requests, $0.0000166667 a GB-second (x86_64)
            usd = WHAT_IF_INVOKES * (0.20 / 1e6 + size / 1024 * ms / 1000 * 0.0000166667)
            assert row[f"{case}_usd"] == pytest.approx(usd, rel=1e-6), (size, case)
            modelled = Measured(size, "x86_64", 512, 3, measured.cold_starts, ms, ms)
            assert row[f"{case}_usd"] == pytest.approx(project(modelled, WHAT_IF_INVOKES).cost.total_usd)
    for case in ("cpu_bound", "waiting"):
        cheapest = min(row[f"{case}_usd"] for row in rows.values())
        assert [m for m, r in rows.items() if r[f"{case}_cheapest"]] == [
            m for m, r in rows.items() if math.isclose(r[f"{case}_usd"], cheapest, rel_tol=1e-9)]
    # Waiting, the duration does not change: the least memory is cheapest. CPU-bound, past
    # one vCPU more memory is only paid for.
    assert [m for m, r in rows.items() if r["waiting_cheapest"]] == [128]
    assert rows[10_240]["cpu_bound_usd"] > rows[3008]["cpu_bound_usd"] > rows[1769]["cpu_bound_usd"]


def test_each_view_is_404_without_its_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAMBDALAB_PLUGINS", "console,subprocess,limited,thread")
    with Lab(data_dir=tmp_path / "few", clock=VirtualClock()) as lab, EdgeServer(lab, port=0) as server:
        for path, plugin in (("api/graphs/metrics", "lambdalab_cloudwatch"),
                             ("api/graphs/services", "lambdalab_xray"), ("api/traces", "lambdalab_xray"),
                             ("api/whatif", "lambdalab_cost")):
            status, answer = read(server.url, path)
            assert status == 404 and plugin in answer["message"], path


def test_a_learner_sees_metrics_a_service_graph_a_timeline_and_what_if(
    page: Any, clock: VirtualClock, client: Any, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    expect(page.locator("#status")).to_have_text("Live.")
    create(client, "traced", CHATTY, TracingConfig={"Mode": "Active"}, MemorySize=256)
    invoke(client, "traced", n=1)
    clock.advance(1.5)  # still the same minute; X-Ray samples the first request of a second
    invoke(client, "traced", fail=True)

    page.locator("#graphs-view").scroll_into_view_if_needed()
    invocations = page.locator('article[data-function="traced"] figure[data-metric="Invocations"]')
    expect(invocations.locator("rect.point")).to_have_attribute("data-v", "2")
    invoke(client, "traced", n=3)  # the graph follows the stream, no reload
    expect(invocations.locator("rect.point")).to_have_attribute("data-v", "3")
    expect(invocations.locator("rect.point")).to_have_count(1)
    invocations.locator("summary").click()
    expect(invocations.locator("tbody td").last).to_have_text("3")
    errors = page.locator('article[data-function="traced"] figure[data-metric="Errors"] rect.point')
    expect(errors).to_have_attribute("data-v", "1")
    screenshot(page, tmp_path, "console-metrics", "#graphs-view")

    page.locator("#xray-view").scroll_into_view_if_needed()
    expect(page.locator('#service-graph g.node[data-type="AWS::Lambda::Function"]')).to_have_count(1)
    expect(page.locator("#service-graph g.edge")).to_have_count(2)  # client → Lambda → function
    faulted = page.locator("#trace-list tr", has=page.locator("td.outcome.fault"))
    faulted.locator("button.open-trace").first.click()
    expect(page.locator('#trace-timeline g.bar.fault[data-name="Invocation"]')).to_have_count(1)
    expect(page.locator("#trace-timeline g.bar.segment")).to_have_count(2)
    screenshot(page, tmp_path, "console-xray", "#xray-view")

    page.locator("#whatif-view").scroll_into_view_if_needed()
    table = page.locator('table.whatif[data-function="traced"]')
    expect(table.locator("tr.measured th")).to_have_text("256 (measured)")
    # duration unchanged (its last column), 128 MB is cheapest; past one vCPU, never
    expect(table.locator('tr[data-memory="128"] td:nth-child(5).cheapest')).to_have_count(1)
    expect(table.locator('tr[data-memory="10240"] td.cheapest')).to_have_count(0)
    screenshot(page, tmp_path, "console-whatif", "#whatif-view")
    page.emulate_media(color_scheme="dark")
    screenshot(page, tmp_path, "console-graphs-dark", "#graphs-view")
    screenshot(page, tmp_path, "console-xray-dark", "#xray-view")


def test_get_metric_data_reads_functions_logs_once_for_all_its_queries(
    clock: VirtualClock, edge: EdgeServer, client: Any
) -> None:
    """The graphs ask GetMetricData for every function at once: the Embedded Metric Format
    in functions' logs is read before the first query and counted once for all."""
    from .test_cloudwatch import EMF

    create(client, "cart", EMF)
    for orders in (2, 3):
        invoke(client, "cart", at=clock.now(), orders=orders)
    stat = {"Metric": {"Namespace": "shop", "MetricName": "Orders",
                       "Dimensions": [{"Name": "service", "Value": "cart"}]}, "Period": 60, "Stat": "Sum"}
    minute = datetime.fromtimestamp(clock.now() // 60 * 60, timezone.utc)
    answer = client_for(edge.url, "cloudwatch").get_metric_data(
        MetricDataQueries=[{"Id": "a", "MetricStat": stat}, {"Id": "b", "MetricStat": stat}],
        StartTime=minute, EndTime=datetime.fromtimestamp(clock.now() + 60, timezone.utc))
    assert [r["Values"] for r in answer["MetricDataResults"]] == [[5.0], [5.0]]
