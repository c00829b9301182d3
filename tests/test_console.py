"""The console's HTTP side, judged through a real edge with plain HTTP clients: its page
and state, the live stream and its bound, the key prompt, the clock control, and
``lambdalab console``. The browser's view is tests/test_console_browser.py."""

from __future__ import annotations

import asyncio
import http.client
import json
import threading
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import urlencode, urlsplit

import pytest
from click.testing import CliRunner

import lambdalab
from lambdalab import Lab, VirtualClock
from lambdalab.limits import IDLE_ENVIRONMENT_TTL_S, SYNC_PAYLOAD_MAX_BYTES
from lambdalab.plugin import ConsolePanel
from lambdalab.cli import app as cli
from lambdalab.server import EdgeServer
from lambdalab_console import feed
from lambdalab_console.bounds import (
    CLOCK_STEP_MAX_SECONDS,
    INVOKES_PER_LANE,
    PAYLOAD_SHOWN_BYTES,
    SUBSCRIBER_BUFFER,
)
from lambdalab_console.feed import Subscriber
from lambdalab_console.web import ACTION_HEADER, SESSION_COOKIE

from .edge_support import client, client_for, create, edge, zip_of  # noqa: F401  (fixtures)

CONSOLE = "/_lambdalab/console/"


def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    conn.request("POST", target, body=body, headers=headers)
    response = conn.getresponse()
    answer = response.status, dict(response.getheaders()), response.read()
    conn.close()
    return answer


def advance(url: str, body: bytes, **headers: str) -> tuple[int, Any]:
    status, _, answer = post(url + CONSOLE + "api/clock", body, {ACTION_HEADER: "1", **headers})
    return status, json.loads(answer)


def state(url: str, **headers: str) -> dict[str, Any]:
    status, body = get(url + CONSOLE + "api/state", headers)
    assert status == 200, body
    return json.loads(body)


def test_state_has_one_lane_per_environment_with_its_init_and_invokes(edge: EdgeServer, client: Any) -> None:
    create(client, "echo")
    cold = client.invoke(FunctionName="echo", Payload=b"{}")["ResponseMetadata"]["RequestId"]
    warm = client.invoke(FunctionName="echo", Payload=b"{}")["ResponseMetadata"]["RequestId"]
    status, page = get(edge.url + CONSOLE)
    assert status == 200 and b"Execution environments" in page
    seen = state(edge.url)
    [lane] = seen["lanes"]
    assert lane["function_name"] == "echo" and lane["init_duration_ms"] > 0
    assert [i["request_id"] for i in lane["invokes"]] == [cold, warm]
    [function] = seen["functions"]
    assert function["name"] == "echo" and function["runtime"] == "python3.11"
    assert seen["virtual_clock"] is True


CHATTY = """
def handler(event, context):
    print("handling", event.get("n"))
    if event.get("fail"):
        raise ValueError("asked to fail")
    return {"twice": event["n"] * 2}
"""


def invoke_details(url: str, n: int) -> tuple[int, dict[str, Any]]:
    status, body = get(url + CONSOLE + f"api/invokes/{n}")
    return status, json.loads(body)


def test_clicking_an_invoke_shows_its_event_result_logs_and_report(edge: EdgeServer, client: Any) -> None:
    create(client, "chatty", CHATTY, MemorySize=256)
    ids = [client.invoke(FunctionName="chatty", Payload=json.dumps(event).encode())
           ["ResponseMetadata"]["RequestId"] for event in ({"n": 1}, {"n": 2}, {"n": 3, "fail": True})]
    seen = state(edge.url)
    listed = seen["invokes"]
    assert [i["request_id"] for i in listed] == ids
    assert [i["cold"] for i in listed] == [True, False, False]
    assert [i["outcome"] for i in listed] == ["ok", "ok", "error"]
    [lane] = seen["lanes"]

    status, cold = invoke_details(edge.url, listed[0]["n"])
    assert status == 200
    assert json.loads(cold["event"]) == {"n": 1} and json.loads(cold["result"]) == {"twice": 2}
    assert cold["environment"] == lane["environment"] and cold["memory_size"] == 256
    assert cold["init_duration_ms"] > 0 and cold["mark"]["billed_ms"] >= cold["mark"]["duration_ms"]
    assert cold["logs"][0].startswith("INIT_START")
    assert cold["logs"][-1].startswith(f"REPORT RequestId: {ids[0]}")
    assert any(line.startswith("handling 1") for line in cold["logs"])

    _, warm = invoke_details(edge.url, listed[1]["n"])
    assert warm["init_duration_ms"] is None and warm["environment"] == lane["environment"]
    assert warm["logs"][0].startswith(f"START RequestId: {ids[1]}")
    assert [line.split()[0] for line in warm["logs"]] == ["START", "handling", "END", "REPORT"]

    _, failed = invoke_details(edge.url, listed[2]["n"])
    error = json.loads(failed["result"])
    assert error["errorType"] == "ValueError" and error["errorMessage"] == "asked to fail"
    assert failed["logs"][-1].startswith(f"REPORT RequestId: {ids[2]}")
    assert invoke_details(edge.url, 10_000)[0] == 404


def test_the_log_tail_shows_the_newest_lines_through_a_filter_pattern(edge: EdgeServer, client: Any) -> None:
    create(client, "chatty", CHATTY)
    for n in (1, 2, 3):
        client.invoke(FunctionName="chatty", Payload=json.dumps({"n": n}).encode())

    def tail(pattern: str) -> tuple[int, Any]:
        status, body = get(edge.url + CONSOLE + "api/logs?" + urlencode({"filter": pattern}))
        return status, json.loads(body)

    status, everything = tail("")
    messages = [e["message"] for e in everything["events"]]
    assert status == 200 and messages[0].startswith("INIT_START") and messages[-1].startswith("REPORT")
    assert [m for m in messages if m.startswith("handling")] == ["handling 1", "handling 2", "handling 3"]
    assert {e["group"] for e in everything["events"]} == {"/aws/lambda/chatty"}
    _, two = tail('"handling 2"')
    assert [e["message"] for e in two["events"]] == ["handling 2"]
    status, bad = tail("{ $.level = ")
    assert status == 400 and "pattern" in bad["message"].lower()
    assert tail("x" * 1025)[0] == 400


def test_the_log_tail_shows_a_group_a_functions_logging_config_names(edge: EdgeServer, client: Any) -> None:
    create(client, "audited", CHATTY, LoggingConfig={"LogGroup": "/shop/audit"})
    client.invoke(FunctionName="audited", Payload=json.dumps({"n": 7}).encode())
    status, body = get(edge.url + CONSOLE + "api/logs?" + urlencode({"filter": '"handling 7"'}))
    events = json.loads(body)["events"]
    assert status == 200 and [(e["group"], e["message"]) for e in events] == [("/shop/audit", "handling 7")]


def test_invoke_details_keep_a_bounded_cut_of_a_large_event(lab: Lab, edge: EdgeServer, code: Any) -> None:
    lab.create_function("big", code(app="def handler(e, c):\n    return 'x' * 100000\n"),
                        handler="app.handler", sandbox="thread")
    lab.invoke("big", json.dumps({"pad": "y" * 100_000}).encode())
    [listed] = state(edge.url)["invokes"]
    _, detail = invoke_details(edge.url, listed["n"])
    assert detail["event_bytes"] > 100_000 and len(detail["event"]) == PAYLOAD_SHOWN_BYTES
    assert detail["result_bytes"] == 100_002 and len(detail["result"]) == PAYLOAD_SHOWN_BYTES


def test_concurrency_is_sampled_per_invoke_and_throttles_are_marked(
    lab: Lab, edge: EdgeServer, client: Any
) -> None:
    create(client, "capped")
    client.invoke(FunctionName="capped", Payload=b"{}")
    client.put_function_concurrency(FunctionName="capped", ReservedConcurrentExecutions=0)
    with pytest.raises(client.exceptions.TooManyRequestsException):
        client.invoke(FunctionName="capped", Payload=b"{}")
    seen = state(edge.url)
    ran, throttled = seen["concurrency"]
    assert (ran["function_name"], ran["count"], ran["account"], ran["throttle"]) == ("capped", 1, 1, False)
    assert (throttled["function_name"], throttled["throttle"]) == ("capped", True)
    assert throttled["n"] > ran["n"] and throttled["at"] == lab.clock.now()
    assert seen["account_limit"] == 1000
    [function] = seen["functions"]
    assert function["reserved"] == 0


def test_the_async_view_shows_attempts_retry_times_and_where_an_event_ended(
    lab: Lab, edge: EdgeServer, code: Any
) -> None:
    lab.create_function("fails", code(app="def handler(e, c):\n    raise RuntimeError('no')\n"),
                        handler="app.handler", sandbox="thread")
    lab.create_function("sink", code(app="def handler(e, c):\n    return 1\n"),
                        handler="app.handler", sandbox="thread")
    lab.put_function_event_invoke_config(
        "fails", destination_config={"OnFailure": {"Destination": lab.arns.function("sink")}})
    request_id = lab.invoke("fails", b"{}", invocation_type="Event").request_id
    start = lab.clock.now()
    for attempts, retry_in in ((1, 60), (2, 120)):  # AWS's 1 and 2 minute retries
        assert lab.wait_for_events(timeout=60)
        [queued] = state(edge.url)["queue"]
        assert (queued["request_id"], queued["state"], queued["attempts"]) == (request_id, "retrying", attempts)
        assert queued["next_attempt_at"] == lab.clock.now() + retry_in
        assert advance(edge.url, json.dumps({"seconds": retry_in}).encode())[0] == 200
    assert lab.wait_for_events(timeout=60)
    status, body = get(edge.url + CONSOLE + "api/queue")
    seen = json.loads(body)
    assert status == 200 and seen["queue"] == []
    # The record the destination got is an invoke of its own, which ended too.
    ended, delivered = sorted(seen["async_ended"], key=lambda e: e["function_name"])
    assert (delivered["function_name"], delivered["condition"]) == ("sink", "Success")
    assert ended == {"request_id": request_id, "function_name": "fails", "qualifier": None,
                     "condition": "RetriesExhausted", "attempts": 3,
                     "sent_to": [lab.arns.function("sink")], "at": start + 180}
    attempts = [i for i in state(edge.url)["invokes"] if i["request_id"] == request_id]
    assert [a["outcome"] for a in attempts] == ["error"] * 3


def test_the_functions_view_lists_each_functions_url_and_mappings(edge: EdgeServer, client: Any) -> None:
    create(client, "worker")
    create(client, "idle")
    url = client.create_function_url_config(FunctionName="worker", AuthType="NONE")["FunctionUrl"]
    sqs = client_for(edge.url, "sqs")
    queue = sqs.create_queue(QueueName="jobs")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    client.create_event_source_mapping(FunctionName="worker", EventSourceArn=arn)
    functions = {f["name"]: f for f in state(edge.url)["functions"]}
    assert functions["worker"]["triggers"] == [f"URL {url} (NONE)", f"{arn} (Enabled)"]
    assert functions["idle"]["triggers"] == []


def test_the_trigger_plugins_show_their_queues_and_streams(edge: EdgeServer, client: Any) -> None:
    """The SQS and Kinesis plugins add panels through the toolkit's hook: a queue's
    messages by state and a stream's shards, each with the functions mapped to it."""
    create(client, "worker")
    sqs = client_for(edge.url, "sqs")
    queue = sqs.create_queue(QueueName="jobs")["QueueUrl"]
    sqs.create_queue(QueueName="later")
    sqs.send_message(QueueUrl=queue, MessageBody="one")
    sqs.send_message(QueueUrl=queue, MessageBody="two", DelaySeconds=60)
    sqs.receive_message(QueueUrl=queue, VisibilityTimeout=60)
    sqs.send_message(QueueUrl=queue, MessageBody="three")
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    client.create_event_source_mapping(FunctionName="worker", EventSourceArn=arn, Enabled=False)
    kinesis = client_for(edge.url, "kinesis")
    kinesis.create_stream(StreamName="clicks", ShardCount=3)
    stream_arn = kinesis.describe_stream_summary(StreamName="clicks")["StreamDescriptionSummary"]["StreamARN"]
    client.create_event_source_mapping(FunctionName="worker", EventSourceArn=stream_arn,
                                       StartingPosition="LATEST", Enabled=False)
    panels = {p["title"]: p["rows"] for p in state(edge.url)["panels"]}
    assert panels["SQS queues (lambdalab_sqs)"] == [
        {"Queue": "jobs", "Visible": 1, "In flight": 1, "Delayed": 1, "Mapped to": "worker"},
        {"Queue": "later", "Visible": 0, "In flight": 0, "Delayed": 0, "Mapped to": ""}]
    [clicks] = panels["Kinesis streams (lambdalab_kinesis)"]
    assert clicks["Stream"] == "clicks" and clicks["Open shards"] == 3 and clicks["Mapped to"] == "worker"
    assert clicks["Status"] in ("CREATING", "ACTIVE") and clicks["Consumers"] == 0


def test_an_idle_environment_is_reaped_on_the_lab_clock(edge: EdgeServer, client: Any) -> None:
    create(client, "echo")
    client.invoke(FunctionName="echo", Payload=b"{}")
    assert advance(edge.url, b'{"seconds": %d}' % (IDLE_ENVIRONMENT_TTL_S - 1))[0] == 200
    assert state(edge.url)["lanes"][0]["ended"] is None
    assert advance(edge.url, b'{"seconds": 1}')[0] == 200
    assert state(edge.url)["lanes"][0]["ended"] == "reaped (idle)"


class _Panels:
    """A learner's plugin with two panels, one of them broken."""

    @lambdalab.hookimpl
    def lambdalab_console_panels(self, lab: Lab) -> list[ConsolePanel]:
        def memory() -> list[dict[str, Any]]:
            return [{"Function": f.function_name, "Memory (MB)": f.memory_size, "Odd": object}
                    for f in lab.list_functions()]

        def broken() -> list[dict[str, Any]]:
            raise RuntimeError("the plugin's bug")

        return [ConsolePanel("Memory", memory), ConsolePanel("Broken", broken)]


def test_plugins_add_panels_and_a_broken_one_stays_on_its_panel(
    lab: Lab, edge: EdgeServer, client: Any
) -> None:
    lab.plugin_manager.register(_Panels())
    create(client, "echo", MemorySize=256)
    memory, broken = [p for p in state(edge.url)["panels"] if p["title"] in ("Memory", "Broken")]
    assert memory == {"title": "Memory", "rows": [
        {"Function": "echo", "Memory (MB)": 256, "Odd": "<class 'object'>"}]}
    assert broken == {"title": "Broken", "rows": [], "error": "RuntimeError: the plugin's bug"}


def test_the_metrics_traces_and_cost_plugins_add_their_panels(edge: EdgeServer, client: Any) -> None:
    create(client, "chatty", CHATTY, TracingConfig={"Mode": "Active"})
    for event in ({"n": 1}, {"n": 2}, {"n": 3, "fail": True}):
        client.invoke(FunctionName="chatty", Payload=json.dumps(event).encode())
    panels = {panel["title"]: panel for panel in state(edge.url)["panels"]}
    [metrics] = panels["Metrics, last hour (AWS/Lambda, lambdalab_cloudwatch)"]["rows"]
    assert (metrics["Function"], metrics["Invocations"], metrics["Errors"], metrics["Throttles"]) == (
        "chatty", 3, 1, 0)
    assert metrics["Duration p99 (ms)"] >= metrics["Duration p50 (ms)"] > 0
    [cost] = panels["Cost so far (lambdalab_cost)"]["rows"]
    assert (cost["Function"], cost["Version"], cost["Requests"]) == ("chatty", "$LATEST", 3)
    assert float(cost["Cost (USD)"]) > 0
    traces = panels["Traces, newest first (lambdalab_xray)"]["rows"]
    # X-Ray's default sampling: the first request of each second, then 5 % of the rest.
    assert {t["Entry"] for t in traces} == {"chatty"} and "ok" in {t["Status"] for t in traces}
    assert all(t["Segments"] >= 2 and t["Duration (ms)"] > 0 for t in traces)
    # What the page reads again after invokes: the panels alone.
    status, body = get(edge.url + CONSOLE + "api/panels")
    assert status == 200 and [p["title"] for p in json.loads(body)["panels"]] == list(panels)


def test_a_plugins_panel_is_there_only_when_the_plugin_is_loaded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LAMBDALAB_PLUGINS", "console,cost,subprocess,limited,thread")
    with Lab(data_dir=tmp_path / "few", clock=VirtualClock()) as lab, EdgeServer(lab, port=0) as server:
        titles = [panel["title"] for panel in state(server.url)["panels"]]
    assert titles == ["Cost so far (lambdalab_cost)"]


def test_a_timeout_kills_its_lane(edge: EdgeServer, client: Any) -> None:
    create(client, "slow", "import time\ndef handler(e, c):\n    time.sleep(5)\n", Timeout=1)
    client.invoke(FunctionName="slow", Payload=b"{}")
    [lane] = state(edge.url)["lanes"]
    assert lane["ended"] == "killed (timeout)" and lane["invokes"][0]["outcome"] == "timeout"


def test_throttles_are_counted_per_function(edge: EdgeServer, client: Any) -> None:
    create(client, "capped")
    client.put_function_concurrency(FunctionName="capped", ReservedConcurrentExecutions=0)
    for _ in range(3):
        with pytest.raises(client.exceptions.TooManyRequestsException):
            client.invoke(FunctionName="capped", Payload=b"{}")
    assert state(edge.url)["throttles"] == {"capped": 3}


def test_the_clock_advances_through_the_lab_and_refuses_hostile_steps(lab: Lab, edge: EdgeServer) -> None:
    before = lab.clock.now()
    assert advance(edge.url, b'{"seconds": 90}') == (200, {"now": before + 90})
    assert lab.clock.now() == before + 90
    for body in (b"", b"[]", b'{"seconds": -1}', b'{"seconds": "60"}', b'{"seconds": true}',
                 b'{"seconds": NaN}', b'{"seconds": 1e400}', b'{"seconds": 1' + b"0" * 4000 + b"}",
                 json.dumps({"seconds": CLOCK_STEP_MAX_SECONDS + 1}).encode(), b"\xff\xfe",
                 b"{" * 5000, b"[" * 4000):
        status, answer = advance(edge.url, body)
        assert status in (400, 413), (body[:40], status)
        assert "message" in answer or status == 413
    assert lab.clock.now() == before + 90
    # Without the action header (what a cross-site form sends), nothing moves.
    status, _, _ = post(edge.url + CONSOLE + "api/clock", b'{"seconds": 60}', {})
    assert status == 403 and lab.clock.now() == before + 90


def action(url: str, name: str, body: bytes, query: str = "", **headers: str) -> tuple[int, Any]:
    status, _, answer = post(url + CONSOLE + f"api/actions/{name}{query}", body,
                             {ACTION_HEADER: "1", **headers})
    return status, json.loads(answer)


def test_actions_invoke_publish_and_set_weights_through_the_lab(
    lab: Lab, edge: EdgeServer, client: Any
) -> None:
    create(client, "chatty", CHATTY)
    status, answer = action(edge.url, "invoke", b'{"n": 21}', "?function=chatty")
    assert status == 200 and json.loads(answer["payload"]) == {"twice": 42}
    assert answer["function_error"] is None and answer["executed_version"] == "$LATEST"
    assert answer["request_id"] in [i["request_id"] for i in state(edge.url)["invokes"]]
    status, answer = action(edge.url, "invoke", b'{"n": 1, "fail": true}', "?function=chatty")
    assert status == 200 and answer["function_error"] == "Unhandled"
    assert json.loads(answer["payload"])["errorType"] == "ValueError"

    assert action(edge.url, "publish", b'{"function": "chatty"}') == (200, {"version": "1"})
    client.update_function_code(FunctionName="chatty", ZipFile=zip_of(app=CHATTY + "\n"))
    client.get_waiter("function_updated_v2").wait(FunctionName="chatty")
    assert action(edge.url, "publish", b'{"function": "chatty", "description": "two"}')[1] == {"version": "2"}
    body = {"function": "chatty", "alias": "live", "version": "1", "additional_version": "2", "weight": 0.25}
    assert action(edge.url, "alias", json.dumps(body).encode()) == (
        200, {"alias": "live", "version": "1", "weights": {"2": 0.25}})
    assert client.get_alias(FunctionName="chatty", Name="live")["RoutingConfig"] == {
        "AdditionalVersionWeights": {"2": 0.25}}
    body["weight"] = 0.5  # the alias exists now: updated
    assert action(edge.url, "alias", json.dumps(body).encode())[1]["weights"] == {"2": 0.5}
    [function] = state(edge.url)["functions"]
    assert function["versions"] == ["1", "2"]
    assert function["aliases"] == [{"name": "live", "version": "1", "weights": {"2": 0.5}}]


def test_a_refused_action_answers_aws_error_and_changes_nothing(
    lab: Lab, edge: EdgeServer, client: Any
) -> None:
    create(client, "chatty", CHATTY)
    assert action(edge.url, "invoke", b"{not json", "?function=chatty")[1]["type"] == (
        "InvalidRequestContentException")
    assert action(edge.url, "invoke", b"{}", "?function=nope")[0] == 404
    status, answer = action(edge.url, "invoke", b"x" * (SYNC_PAYLOAD_MAX_BYTES + 10), "?function=chatty")
    assert (status, answer["type"]) == (413, "RequestTooLargeException")
    assert action(edge.url, "invoke", b"{}")[1]["type"] == "ValidationException"
    status, answer = action(edge.url, "alias", json.dumps(
        {"function": "chatty", "alias": "live", "version": "7"}).encode())
    assert (status, answer["type"]) == (404, "ResourceNotFoundException")
    lab.publish_version("chatty")
    status, answer = action(edge.url, "alias", json.dumps(
        {"function": "chatty", "alias": "live", "version": "1", "additional_version": "1",
         "weight": 0.5}).encode())
    assert (status, answer["type"]) == (400, "InvalidParameterValueException")
    for body in (b"", b"[]", b"\xff", b"[" * 4000, b"{" * 5000, b'{"function": 5}',
                 b'{"function": "chatty", "alias": "a", "version": "1", "additional_version": "1", '
                 b'"weight": NaN}', b'{"function": "chatty", "alias": "a", "version": "1", "weight": true}'):
        status, answer = action(edge.url, "alias", body)
        assert status == 400 and answer["type"] == "ValidationException", body[:40]
    assert client.list_aliases(FunctionName="chatty")["Aliases"] == []
    # Without the action header (what a cross-site form sends), nothing runs.
    status, _, _ = post(edge.url + CONSOLE + "api/actions/publish", b'{"function": "chatty"}', {})
    assert status == 403 and [v["Version"] for v in client.list_versions_by_function(
        FunctionName="chatty")["Versions"]] == ["$LATEST", "1"]


def test_a_real_clock_cannot_be_advanced(tmp_path: Path) -> None:
    with Lab(data_dir=tmp_path / "real") as lab, EdgeServer(lab, port=0) as server:
        status, answer = advance(server.url, b'{"seconds": 60}')
    assert status == 409 and "VirtualClock" in answer["message"]


def test_with_auth_keys_the_console_asks_for_a_key(lab: Lab) -> None:
    with EdgeServer(lab, port=0, auth_keys={"AKIDCONSOLE": "s3cret"}) as server:
        status, page = get(server.url + CONSOLE)
        assert status == 401 and b"Secret access key" in page
        assert get(server.url + CONSOLE + "api/state")[0] == 401
        assert get(server.url + CONSOLE + "api/events")[0] == 401
        assert advance(server.url, b'{"seconds": 60}')[0] == 401
        form = {"Content-Type": "application/x-www-form-urlencoded"}
        wrong = urlencode({"key_id": "AKIDCONSOLE", "secret": "guess"}).encode()
        assert post(server.url + CONSOLE + "login", wrong, form)[0] == 401
        right = urlencode({"key_id": "AKIDCONSOLE", "secret": "s3cret"}).encode()
        status, headers, _ = post(server.url + CONSOLE + "login", right, form)
        assert status == 303
        cookie = headers["set-cookie"].split(";")[0]
        assert cookie.startswith(SESSION_COOKIE + "=") and "HttpOnly" in headers["set-cookie"]
        assert state(server.url, Cookie=cookie)["lanes"] == []
        # The AWS APIs on the same edge still want signatures.
        with pytest.raises(Exception, match="UnrecognizedClient|security token"):
            client_for(server.url).list_functions()


def read_events(response: http.client.HTTPResponse, *until: bytes) -> bytes:
    """What the stream sends until one of ``until`` has come."""
    seen = b""
    while not any(u in seen for u in until):
        chunk = response.read1(65536)
        assert chunk, f"the stream ended before {until!r}: {seen[-300:]!r}"
        seen += chunk
    return seen


@pytest.fixture
def stream(edge: EdgeServer) -> Iterator[http.client.HTTPResponse]:
    parts = urlsplit(edge.url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    conn.request("GET", CONSOLE + "api/events")
    response = conn.getresponse()
    assert response.status == 200 and response.getheader("content-type").startswith("text/event-stream")
    read_events(response, b"event: hello")
    yield response
    conn.close()


def test_the_stream_pushes_environments_and_invokes(stream: http.client.HTTPResponse, client: Any) -> None:
    create(client, "echo")
    request_id = client.invoke(FunctionName="echo", Payload=b"{}")["ResponseMetadata"]["RequestId"]
    seen = read_events(stream, request_id.encode())
    assert b"event: environment" in seen and b"event: invoke" in seen


def test_a_browser_that_does_not_read_costs_a_bounded_queue(
    lab: Lab, stream: http.client.HTTPResponse, code: Any
) -> None:
    """1,000 invokes while browsers are connected: one reading over HTTP, and one whose
    event loop never runs (the worst reader there is). The stalled one's queue of unsent
    events never passes the bound, and when it is read it says ``resync``; the reading
    one sees every invoke, or a resync."""
    lab.create_function("many", code(app="def handler(e, c):\n    return 1\n"),
                        handler="app.handler", sandbox="thread")
    stalled_loop = asyncio.new_event_loop()
    try:
        stalled = stalled_loop.run_until_complete(_subscribe(lab))
        for _ in range(1000):
            lab.invoke("many")
        assert stalled.high_water <= SUBSCRIBER_BUFFER
        assert len(stalled.pending) <= SUBSCRIBER_BUFFER
        assert feed(lab).take(stalled) == ['event: resync\ndata: {}\n\n']
    finally:
        stalled_loop.close()
    [lane] = feed(lab).lanes.values()
    assert lane.invocations == 1000 and len(lane.invokes) == INVOKES_PER_LANE
    read_events(stream, b'"invocations": 1000,', b"event: resync")


async def _subscribe(lab: Lab) -> Subscriber:
    return feed(lab).subscribe()


def stop_while_streaming(server: EdgeServer) -> None:
    """Stop ``server`` while a client reads its event stream; return once both ended."""
    parts = urlsplit(server.url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    conn.request("GET", CONSOLE + "api/events")
    response = conn.getresponse()
    read_events(response, b"event: hello")
    stopper = threading.Thread(target=server.stop)
    stopper.start()
    while response.read1(65536):  # until the stream ends
        pass
    stopper.join(timeout=60)
    assert not stopper.is_alive()
    conn.close()


def test_a_stopping_edge_ends_its_event_streams_at_once(lab: Lab) -> None:
    """Streams last as long as the browser stays; a stopping edge waits for responses in
    flight, so it tells the console it is stopping and the streams end. (Without that
    signal this stream never ends and ``stop`` never returns: the reads time out.)"""
    server = EdgeServer(lab, port=0).start()
    stop_while_streaming(server)
    # The same edge served again (on a new event loop): its streams end at its next stop.
    stop_while_streaming(EdgeServer(lab, port=0, app=server.app).start())


@pytest.mark.parametrize("host", ["evil.example", "evil.example:9001", "127.0.0.1.nip.io", "", "[::1", "é"])
def test_a_page_of_another_name_is_refused(edge: EdgeServer, host: str) -> None:
    """A DNS-rebinding page (a name of its own resolving to 127.0.0.1) sends its own
    name as Host: the console does not answer it."""
    parts = urlsplit(edge.url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    conn.putrequest("GET", CONSOLE + "api/state", skip_host=True)
    if host:
        conn.putheader("Host", host.encode("utf-8"))
    conn.endheaders()
    response = conn.getresponse()
    assert response.status in (400, 403), (host, response.status)
    conn.close()
    for allowed in ("localhost", f"localhost:{parts.port}", "[::1]:1", "127.0.0.1"):
        assert get(edge.url + CONSOLE + "api/state", {"Host": allowed})[0] == 200


def test_console_command_prints_the_address(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli.main, ["--data-dir", str(tmp_path / "data"), "console", "--no-open"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "http://127.0.0.1:9001" + CONSOLE
    result = CliRunner().invoke(cli.main, ["console", "--no-open", "--endpoint-url", "http://127.0.0.1:4566/"])
    assert result.output.strip() == "http://127.0.0.1:4566" + CONSOLE
