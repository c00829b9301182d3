"""What an async invoke still running when its lab closes leaves in CloudWatch.

Its ``AWS/Lambda`` data points and the EMF metrics of its log output are written to the
data dir before the lab has closed, so the next lambdalab on the data dir (here a lab
serving boto3) counts it. The judge is boto3 against ``lambdalab serve``'s edge.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Callable

import lambdalab
from lambdalab import Lab, VirtualClock
from lambdalab.plugin import StashKey
from lambdalab.server import EdgeServer

from .edge_support import client_for
from .test_cloudwatch_alarms import START, utc

SLOW_EMF = """
import json, pathlib, time
def handler(event, context):
    pathlib.Path(event["arrived"]).touch()
    while not pathlib.Path(event["gate"]).exists():  # until the lab is closing
        time.sleep(0.005)
    print(json.dumps({
        "_aws": {"Timestamp": int(event["at"] * 1000), "CloudWatchMetrics": [{
            "Namespace": "shop", "Dimensions": [[]], "Metrics": [{"Name": "Orders"}]}]},
        "Orders": 3}))
    return "ok"
"""


class _Gate:
    """Opens the handler's gate when closed: as the lab's oldest stash value, after the
    CloudWatch plugin's own values have closed."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def close(self) -> None:
        self.path.touch()


class OpenGateLast:
    key = StashKey[_Gate]()

    def __init__(self, gate: Path) -> None:
        self.gate = gate

    @lambdalab.hookimpl(tryfirst=True)
    def lambdalab_lab_started(self, lab: Lab) -> None:
        lab.stash.setdefault(self.key, lambda: _Gate(self.gate))


def sums(cw: Any, namespace: str, metric: str, dimensions: list[dict[str, str]]) -> list[float]:
    points = cw.get_metric_statistics(
        Namespace=namespace, MetricName=metric, Dimensions=dimensions, Period=60,
        Statistics=["Sum"], StartTime=utc(START - 60), EndTime=utc(START + 120))["Datapoints"]
    return [p["Sum"] for p in points]


def test_an_async_invoke_in_flight_at_close_is_counted(
    tmp_path: Path, code: Callable[..., Path], rendezvous: Path
) -> None:
    clock = VirtualClock(start=START)
    data = tmp_path / "data"
    arrived, gate = rendezvous / "arrived", rendezvous / "gate"
    with Lab(data_dir=data, clock=clock, plugins=[OpenGateLast(gate)]) as lab:
        lab.create_function("slow", code(app=SLOW_EMF), handler="app.handler", timeout=60)
        lab.invoke("slow", {"arrived": str(arrived), "gate": str(gate), "at": START},
                   invocation_type="Event")
        for _ in range(12_000):  # the worker starting the environment (a rendezvous)
            if arrived.exists():
                break
            time.sleep(0.01)
        assert arrived.exists(), "the async invoke did not start"
    # closed while the invoke ran: it finished as the lab closed
    with Lab(data_dir=data, clock=clock) as lab, EdgeServer(lab, port=0) as server:
        cw = client_for(server.url, "cloudwatch")
        function = [{"Name": "FunctionName", "Value": "slow"}]
        assert sums(cw, "AWS/Lambda", "Invocations", function) == [1.0]
        assert sums(cw, "AWS/Lambda", "AsyncEventsReceived", function) == [1.0]
        assert sums(cw, "shop", "Orders", []) == [3.0]
        logged = [e.message for e in lab.get_logs("slow") if '"_aws"' in e.message]
        assert len(logged) == 1 and json.loads(logged[0])["Orders"] == 3
