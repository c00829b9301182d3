"""The edge answers a synchronous Invoke as soon as the handler's answer is known, and
records the invoke (END, REPORT, the hooks, the metrics) right after, before it reads
another request: as AWS returns a function's response before its REPORT line reaches
CloudWatch Logs. A ``Tail`` answer carries the REPORT line, so it is recorded first."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import threading
from pathlib import Path
from typing import Any, Iterator

import pytest

from lambdalab import Lab, hookimpl
from lambdalab.models import InvokeResult
from lambdalab.server import EdgeServer
from .edge_support import ECHO, client_for, create, killed_server

#: How long the hook waits for the test to say it has its answer. The edge writes the
#: answer before it calls the hook, so the wait ends as soon as the client reads it; an
#: edge that answered only after its hooks would keep the answer back for all of it.
WAIT_S = 30.0


class AnswerWatcher:
    """A plugin whose ``lambdalab_invoke_completed`` notes whether the caller already had
    its answer (``answered``, set by the test), waiting for it at most ``wait_s``."""

    def __init__(self) -> None:
        self.answered = threading.Event()
        self.wait_s = WAIT_S
        self.seen: list[bool] = []
        self.reports: list[str] = []

    @hookimpl
    def lambdalab_invoke_completed(self, report: Any) -> None:
        self.seen.append(self.answered.wait(self.wait_s))
        self.reports.append(report.request_id)


@pytest.fixture
def watched(tmp_path: Path) -> Iterator[tuple[AnswerWatcher, Any]]:
    watcher = AnswerWatcher()
    with Lab(data_dir=tmp_path / "data", plugins=[watcher]) as lab, \
            EdgeServer(lab, port=0, answer_first=True) as server:
        client = client_for(server.url)
        create(client, "echo")
        yield watcher, server


def test_the_edge_answers_a_sync_invoke_before_it_records_it(watched) -> None:
    watcher, server = watched
    client = client_for(server.url)
    out = client.invoke(FunctionName="echo", Payload=b'{"n": 1}')
    watcher.answered.set()  # the hook (on the edge's loop) was holding the recording
    assert json.loads(out["Payload"].read()) == {"n": 1}
    request_id = out["ResponseMetadata"]["RequestId"]
    # the next request is read only once the invoke is recorded: its REPORT is there
    logs = client_for(server.url, "logs")
    messages = [e["message"] for e in logs.filter_log_events(logGroupName="/aws/lambda/echo")["events"]]
    assert any(m.startswith(f"REPORT RequestId: {request_id}") for m in messages)
    assert watcher.seen[-1] is True and watcher.reports[-1] == request_id


def test_a_tail_answer_holds_the_report_so_the_invoke_is_recorded_first(watched) -> None:
    watcher, server = watched
    watcher.wait_s = 0  # the caller cannot have its answer yet: do not wait for it
    out = client_for(server.url).invoke(FunctionName="echo", Payload=b"{}", LogType="Tail")
    tail = base64.b64decode(out["LogResult"]).decode()
    assert f"REPORT RequestId: {out['ResponseMetadata']['RequestId']}" in tail
    assert watcher.seen[-1] is False


def test_an_edge_beside_code_that_reads_the_lab_records_before_it_answers(tmp_path) -> None:
    """The default: a test, a notebook or a lab's check reads the lab right after an
    HTTP answer, and finds the invoke recorded."""
    watcher = AnswerWatcher()
    watcher.wait_s = 0
    with Lab(data_dir=tmp_path / "data", plugins=[watcher]) as lab, \
            EdgeServer(lab, port=0) as server:
        client = client_for(server.url)
        create(client, "echo")
        out = client.invoke(FunctionName="echo", Payload=b"{}")
        request_id = out["ResponseMetadata"]["RequestId"]
        assert watcher.seen == [False] and watcher.reports == [request_id]
        assert any(e.message.startswith(f"REPORT RequestId: {request_id}") for e in lab.get_logs("echo"))


#: A plugin installed as a learner's would be (a ``lambdalab`` entry point on the path of
#: ``lambdalab serve``): it writes whether the caller had its answer when the invoke was
#: recorded, waiting for the test's word (a file) for up to ``WAIT_S``.
SERVE_PLUGIN = f"""
import os, time
from pathlib import Path
from lambdalab import hookimpl

HERE = Path(__file__).parent

@hookimpl
def lambdalab_invoke_completed(report):
    deadline = time.monotonic() + {WAIT_S}
    while not (HERE / "answered").exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    with open(HERE / "seen", "a") as seen:
        seen.write(("answered" if (HERE / "answered").exists() else "not yet") + "\\n")
"""


def test_lambdalab_serve_answers_first(tmp_path) -> None:
    """Everything that reads a ``lambdalab serve``'s lab comes through its edge (or
    reads the data dir, where logs land in batches anyway), so it answers first."""
    plugin = tmp_path / "plugin"
    (plugin / "answerwatch-0.1.dist-info").mkdir(parents=True)
    (plugin / "answerwatch-0.1.dist-info" / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: answerwatch\nVersion: 0.1\n")
    (plugin / "answerwatch-0.1.dist-info" / "entry_points.txt").write_text(
        "[lambdalab]\nanswerwatch = answerwatch\n")
    (plugin / "answerwatch.py").write_text(SERVE_PLUGIN)
    env = {"PYTHONPATH": os.pathsep.join(filter(None, [str(plugin), os.environ.get("PYTHONPATH")]))}
    with killed_server(tmp_path / "data", env) as url:
        client = client_for(url)
        create(client, "echo")
        assert json.loads(client.invoke(FunctionName="echo", Payload=b"[7]")["Payload"].read()) == [7]
        (plugin / "answered").touch()
        # the next request is read once the invoke is recorded
        assert client.get_function(FunctionName="echo")["Configuration"]["FunctionName"] == "echo"
    assert (plugin / "seen").read_text().split("\n")[:1] == ["answered"]


def test_lab_invoke_async_answers_then_records_even_when_the_answer_fails(tmp_path, code) -> None:
    watcher = AnswerWatcher()
    watcher.wait_s = 0
    answers: list[InvokeResult] = []

    async def answer(result: InvokeResult) -> None:
        answers.append(result)
        assert watcher.reports == []  # not recorded yet
        raise ConnectionResetError("the caller went away")

    with Lab(data_dir=tmp_path / "data", plugins=[watcher]) as lab:
        lab.create_function("echo", code(app=ECHO), handler="app.handler")
        with pytest.raises(ConnectionResetError, match="went away"):
            asyncio.run(lab.invoke_async("echo", {"n": 2}, answer=answer))
        assert [a.json() for a in answers] == [{"n": 2}]
        assert watcher.reports == [answers[0].request_id]  # recorded all the same
        report = [e.message for e in lab.get_logs("echo") if e.message.startswith("REPORT")]
        assert len(report) == 1 and answers[0].request_id in report[0]
        # Lab.invoke (no one to answer first) and a Tail: the result once, recorded
        assert lab.invoke("echo", {"n": 3}).json() == {"n": 3}
        tail = asyncio.run(lab.invoke_async("echo", {}, log_type="Tail", answer=answer))
        assert "REPORT RequestId" in tail.log_tail and len(answers) == 1
        assert len(watcher.reports) == 3
