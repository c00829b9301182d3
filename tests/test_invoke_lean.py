"""The invoke path's shortcuts keep what they short-cut (issue 21).

An invoke works out once per configuration what every invoke of it shares (the invoked
ARN's metric dimensions, the platform's log format, the billing fields) and calls its
hooks' implementations as plain functions: each must follow a change of the function
(an update, a publish, an alias moved) and a plugin that registers while the lab runs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

import lambdalab
from lambdalab import Lab
from lambdalab.plugin import LambdaDatum

from .conftest import ECHO


class Listener:
    """A plugin that keeps what the per-invoke hooks hand it."""

    def __init__(self) -> None:
        self.reports: list[Any] = []
        self.data: list[LambdaDatum] = []

    @lambdalab.hookimpl
    def lambdalab_invoke_completed(self, report: Any) -> None:
        self.reports.append(report)

    @lambdalab.hookimpl
    def lambdalab_lambda_metrics(self, data: list[LambdaDatum]) -> None:
        self.data.extend(data)


@pytest.fixture
def listener(lab: Lab) -> Iterator[Listener]:
    plugin = Listener()
    lab.plugin_manager.register(plugin)
    yield plugin
    if lab.plugin_manager.is_registered(plugin):
        lab.plugin_manager.unregister(plugin)


def executed_versions(listener: Listener) -> list[str | None]:
    return [d.executed_version for d in listener.data if d.metric == "Invocations"]


def test_a_plugin_registered_while_the_lab_runs_hears_the_next_invoke(
    lab: Lab, code: Callable[..., Any]
) -> None:
    lab.create_function("f", code(app=ECHO), handler="app.handler")
    lab.invoke("f", {})  # the hooks have been called: their implementations read
    late = Listener()
    lab.plugin_manager.register(late)
    result = lab.invoke("f", {})
    assert [r.request_id for r in late.reports] == [result.request_id]
    assert [d.metric for d in late.data].count("Invocations") == 1
    lab.plugin_manager.unregister(late)
    lab.invoke("f", {})
    assert len(late.reports) == 1


def test_a_hook_wrapper_still_wraps_the_invokes_hooks(lab: Lab, code: Callable[..., Any]) -> None:
    seen: list[str] = []

    class Wrapper:
        @lambdalab.hookimpl(wrapper=True)
        def lambdalab_invoke_completed(self, report: Any) -> Iterator[None]:
            seen.append("before " + report.request_id)
            yield None
            seen.append("after")

    lab.create_function("f", code(app=ECHO), handler="app.handler")
    lab.invoke("f", {})
    lab.plugin_manager.register(Wrapper())
    result = lab.invoke("f", {})
    assert seen == ["before " + result.request_id, "after"]


def test_an_implementation_of_fewer_arguments_gets_what_it_names(
    lab: Lab, code: Callable[..., Any]
) -> None:
    names: list[str] = []

    class Tracer:
        @lambdalab.hookimpl
        def lambdalab_invoke_trace_header(self, request_id: str) -> None:
            names.append(request_id)

    lab.plugin_manager.register(Tracer())
    lab.create_function("f", code(app=ECHO), handler="app.handler")
    result = lab.invoke("f", {})
    assert names == [result.request_id]


def test_an_update_of_the_log_format_changes_the_next_invokes_platform_lines(
    lab: Lab, code: Callable[..., Any]
) -> None:
    lab.create_function("f", code(app=ECHO), handler="app.handler")
    first = lab.invoke("f", {})
    lab.update_function_configuration("f", logging_config={"LogFormat": "JSON"})
    second = lab.invoke("f", {})
    messages = [e.message for e in lab.get_logs("f")]
    assert f"START RequestId: {first.request_id} Version: $LATEST\n" in messages
    records = [json.loads(m) for m in messages if m.startswith("{")]
    starts = [r["record"]["requestId"] for r in records if r["type"] == "platform.start"]
    assert starts == [second.request_id]


def test_a_memory_update_is_billed_from_the_next_invoke(
    lab: Lab, code: Callable[..., Any], listener: Listener
) -> None:
    lab.create_function("f", code(app=ECHO), handler="app.handler", memory_size=128)
    lab.invoke("f", {})
    lab.update_function_configuration("f", memory_size=256, ephemeral_storage=1024)
    lab.invoke("f", {})
    assert [(r.memory_size, r.ephemeral_storage_mb) for r in listener.reports] == [
        (128, 512), (256, 1024)]


def test_an_alias_moved_to_another_version_changes_the_executed_version_dimension(
    lab: Lab, code: Callable[..., Any], listener: Listener
) -> None:
    lab.create_function("f", code(app=ECHO), handler="app.handler", publish=True)
    lab.create_alias("f", "live", "1")
    assert lab.invoke("f", {}, qualifier="live").executed_version == "1"
    lab.update_function_configuration("f", timeout=10)
    lab.publish_version("f")
    lab.update_alias("f", "live", function_version="2")
    assert lab.invoke("f", {}, qualifier="live").executed_version == "2"
    lab.invoke("f", {}, qualifier="2")
    assert executed_versions(listener) == ["1", "2", None]
    invoked = [r.invoked_arn.rsplit(":", 1)[1] for r in listener.reports]
    assert invoked == ["live", "live", "2"]
    resources = {d.resource for d in listener.data if d.metric == "Invocations"}
    assert resources == {"f:live", "f:2"}


FAILS_ON_ASK = """
def handler(event, context):
    if event.get("fail"):
        raise ValueError("asked to")
    return event
"""


def test_data_points_made_once_are_handed_again_with_the_values_of_each_invoke(
    lab: Lab, code: Callable[..., Any], listener: Listener
) -> None:
    lab.create_function("f", code(app=FAILS_ON_ASK), handler="app.handler")
    lab.invoke("f", {})  # the first makes the function Active: a new configuration
    listener.data.clear()
    for fail in (False, True, False):
        lab.invoke("f", {"fail": fail})
    per_invoke = [listener.data[i:i + 6] for i in range(0, len(listener.data), 6)]
    assert len(per_invoke) == 3
    errors = [[d.value for d in data if d.metric == "Errors"] for data in per_invoke]
    assert errors == [[0.0], [1.0], [0.0]]
    ok, failed, ok_again = per_invoke
    assert ok[0] is ok_again[0] and ok[0] is failed[0]  # Invocations: one data point
    assert ok[1] is ok_again[1] and ok[1] is not failed[1]  # Errors: one a value
    counts = [(d.metric, d.function_name, d.value) for d in ok if "Concurrent" in d.metric]
    assert counts == [("ConcurrentExecutions", "f", 1.0), ("ConcurrentExecutions", None, 1.0),
                      ("UnreservedConcurrentExecutions", None, 1.0)]
    assert ok[5].metric == "Duration" and ok[5] is not ok_again[5]


def test_a_result_answered_is_the_result_its_fields_make() -> None:
    from dataclasses import FrozenInstanceError

    from lambdalab import InvokeResult

    answered = InvokeResult.answered(b'{"a": 1}', "Unhandled", "3", "r")
    made = InvokeResult(status_code=200, payload=b'{"a": 1}', function_error="Unhandled",
                        executed_version="3", request_id="r")
    assert answered == made and hash(answered) == hash(made)
    assert answered.log_result is None and answered.to_aws() == made.to_aws()
    with pytest.raises(FrozenInstanceError):
        answered.payload = b""  # type: ignore[misc]


MEMORY = """
def handler(event, context):
    return int(context.memory_limit_in_mb)
"""


def test_an_update_by_another_process_is_run_by_the_next_invoke(
    tmp_path: Path, code: Callable[..., Any]
) -> None:
    """The registry learns of another process's commit from the WAL index's header (a
    memory read), and the very next invoke runs the new configuration."""
    data = tmp_path / "data"
    with Lab(data_dir=data) as lab:
        assert lab.registry._answers._watch.available  # the path under test, not the fallback
        lab.create_function("f", code(app=MEMORY), handler="app.handler", memory_size=128)
        assert lab.invoke("f", {}).json() == 128
        for memory in (256, 512):
            subprocess.run(
                [sys.executable, "-c", "import sys; from lambdalab import Lab\n"
                 "with Lab(data_dir=sys.argv[1]) as other:\n"
                 "    other.update_function_configuration('f', memory_size=int(sys.argv[2]))",
                 str(data), str(memory)],
                check=True, timeout=120, env={**os.environ, "LAMBDALAB_PLUGINS": "subprocess"},
            )
            assert lab.invoke("f", {}).json() == memory


def test_the_service_graph_walks_a_lambda_segment_before_its_function_whatever_came_first() -> None:
    """Lambda's ``AWS::Lambda`` and ``AWS::Lambda::Function`` segments begin at the same
    time; which one the store holds first depends on when the invoke's report and the
    SDK's subsegments arrived (a quicker invoke path changed it). The graph's reference
    ids do not: the caller first, then the function's service, then what it called."""
    from lambdalab_xray.graph import service_graph
    from lambdalab_xray.models import Trace

    trace_id, begin = "1-6553f100-000000000000000000000001", 1_700_000_000.0
    service = {"id": "aaaaaaaaaaaaaaaa", "trace_id": trace_id, "name": "front",
               "origin": "AWS::Lambda", "start_time": begin, "end_time": begin + 1}
    function = {"id": "bbbbbbbbbbbbbbbb", "trace_id": trace_id, "name": "front",
                "origin": "AWS::Lambda::Function", "parent_id": "aaaaaaaaaaaaaaaa",
                "start_time": begin, "end_time": begin + 1}
    for segments in ([service, function], [function, service]):
        graph = service_graph([Trace(trace_id, segments)], "000000000000")
        assert [(s["Name"], s["Type"], s["ReferenceId"]) for s in graph] == [
            ("front", "client", 0), ("front", "AWS::Lambda", 1),
            ("front", "AWS::Lambda::Function", 2)]


def test_the_service_graph_walks_a_caller_before_a_callee_whose_init_began_earlier() -> None:
    """A segment begins at its INIT; on the lab's virtual clock, which stands still while
    the caller's handler runs, a callee with the longer INIT seems to begin before its
    caller. The walk, and so the reference ids, still go caller first (CI run 61 had the
    client in front of the entry point at 3, not 0); a made-up circle of parents ends."""
    from lambdalab_xray.graph import service_graph, walk_order
    from lambdalab_xray.models import Trace

    trace_id, now = "1-6553f100-000000000000000000000002", 1_700_000_000.0
    def lambda_pair(name: str, ids: str, init_s: float, caller: str | None = None,
                    calls: str | None = None) -> list[dict[str, Any]]:
        service = {"id": ids * 16, "trace_id": trace_id, "name": name, "origin": "AWS::Lambda",
                   "start_time": now - init_s, "end_time": now + 1,
                   **({"parent_id": caller} if caller else {})}
        function = {"id": chr(ord(ids) + 1) * 16, "trace_id": trace_id, "name": name,
                    "origin": "AWS::Lambda::Function", "parent_id": ids * 16,
                    "start_time": now - init_s, "end_time": now + 1}
        if calls:
            function["subsegments"] = [{"id": "c" * 16, "name": calls, "namespace": "aws",
                                        "start_time": now, "end_time": now + 0.5,
                                        "aws": {"operation": "Invoke"}}]
        return [service, function]

    front = lambda_pair("front", "a", init_s=0.2, calls="back")
    back = lambda_pair("back", "d", init_s=0.9, caller="c" * 16)  # the longer INIT
    for segments in (front + back, back + front):
        trace = Trace(trace_id, segments)
        assert [s["id"][0] for s in walk_order(trace)] == ["a", "b", "d", "e"]
        graph = service_graph([trace], "000000000000")
        assert [(s["Name"], s["Type"]) for s in graph][:3] == [
            ("front", "client"), ("front", "AWS::Lambda"), ("front", "AWS::Lambda::Function")]
        assert [s["ReferenceId"] for s in graph] == list(range(len(graph)))
    circle = [{"id": "f" * 16, "trace_id": trace_id, "name": "x", "parent_id": "e" * 16,
               "start_time": now}, {"id": "e" * 16, "trace_id": trace_id, "name": "y",
                                    "parent_id": "f" * 16, "start_time": now - 1}]
    assert len(walk_order(Trace(trace_id, circle))) == 2


def test_a_plugin_unregistered_by_name_or_blocked_stops_hearing_the_invokes(
    lab: Lab, code: Callable[..., Any]
) -> None:
    """The invoker learns of a change of plugins from the manager's register and
    unregister, whichever way pluggy reaches them."""
    lab.create_function("f", code(app=ECHO), handler="app.handler")
    by_name, blocked = Listener(), Listener()
    lab.plugin_manager.register(by_name, name="by-name")
    lab.plugin_manager.register(blocked, name="blocked")
    lab.invoke("f", {})
    lab.plugin_manager.unregister(name="by-name")
    lab.invoke("f", {})
    lab.plugin_manager.set_blocked("blocked")
    lab.invoke("f", {})
    assert (len(by_name.reports), len(blocked.reports)) == (1, 2)


def test_a_report_assembled_is_the_report_its_fields_make() -> None:
    from dataclasses import fields

    from lambdalab import InvokeReport

    common = {"function_name": "f", "version": "3", "memory_size": 256,
              "architecture": "arm64", "ephemeral_storage_mb": 1024,
              "invoked_arn": "arn:aws:lambda:us-east-1:000000000000:function:f:live"}
    varying = {"request_id": "r", "duration_ms": 12.5, "max_memory_used_mb": 40,
               "init_duration_ms": 100.25, "status": "error", "error_type": "Runtime.ExitError",
               "log_stream_name": "s", "event": b"{}", "response": b"[]"}
    assembled = InvokeReport.assembled(common, **varying)
    made = InvokeReport(**common, **varying)
    assert assembled == made and assembled.line() == made.line()
    assert assembled.billed_duration_ms == made.billed_duration_ms == 113
    assert {f.name for f in fields(InvokeReport)} >= set(common) | set(varying)
    assert assembled.error_document is None  # not named: its default


def test_a_flush_of_many_runs_keeps_their_order_and_counts_their_bytes(tmp_path: Path) -> None:
    """Events are inserted many to a statement: the order and the byte count stay exact
    across a statement's edge and for lines that are not ASCII."""
    from lambdalab import limits
    from lambdalab.logs import LogStore
    from lambdalab.store import Store

    logs = LogStore(Store(tmp_path / "data"), flush_interval=3600)
    try:
        expected = []
        for n in range(70):  # 210 events: three statements of 64 and one of 18
            run = [f"START {n}", f"line {n} é€😀", f"END {n}"]
            logs.write("g", f"s{n % 3}", run, 1_700_000_000.0 + n)
            expected += [(f"s{n % 3}", (1_700_000_000 + n) * 1000, line) for line in run]
        logs.flush()
        events = logs.read("g")
        assert [(e.log_stream, e.timestamp, e.message) for e in events] == expected
        counted = sum(len(m.encode()) + limits.LOG_EVENT_OVERHEAD_BYTES for *_, m in expected)
        assert logs.stored_bytes() == counted
        logs._stored_bytes = None  # counted again from the table
        assert logs.stored_bytes() == counted
    finally:
        logs.close()


def test_writers_racing_flushes_lose_no_event_and_keep_their_order(tmp_path: Path) -> None:
    """Writers hand their lines over without a lock (an invoke's cost); a flush takes
    what is there when it begins. Four threads write while another flushes again and
    again: every event is stored once, each writer's in its order, and PutLogEvents'
    batches too."""
    import threading

    from lambdalab.logs import LogStore
    from lambdalab.store import Store

    logs = LogStore(Store(tmp_path / "data"), flush_interval=3600)
    done = threading.Event()
    switch = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # threads take turns as often as the interpreter allows

    def write(stream: str) -> None:
        for n in range(2_000):
            if n % 10:
                logs.write("g", stream, [f"{stream} {n} a", f"{stream} {n} b"], 1_700_000_000.0)
            else:
                logs.write_events("g", stream, [(1, f"{stream} {n} a"), (1, f"{stream} {n} b")])

    def flush() -> None:
        while not done.is_set():
            logs.flush()

    try:
        writers = [threading.Thread(target=write, args=(f"s{i}",)) for i in range(4)]
        flusher = threading.Thread(target=flush)
        flusher.start()
        for thread in writers:
            thread.start()
        for thread in writers:
            thread.join()
        done.set()
        flusher.join()
        sys.setswitchinterval(switch)
        events = logs.read("g", limit=100_000)
        for i in range(4):
            stream = f"s{i}"
            mine = [e.message for e in events if e.log_stream == stream]
            assert mine == [f"{stream} {n} {x}" for n in range(2_000) for x in "ab"]
    finally:
        sys.setswitchinterval(switch)
        logs.close()
