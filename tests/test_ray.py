"""The ``ray`` backend against a real local Ray cluster: a head and a second node on
127.0.0.1, each of one CPU and 2 GB, started here and stopped after (only what this
file started is stopped: others may run clusters of their own on the machine).

The cluster and everything that talks to it (this file's labs, its ``serve``) run in a
network namespace of their own with only loopback (Ray's servers would otherwise listen
on every interface of the machine): that needs root, and the cluster's tests are
skipped without it."""

from __future__ import annotations

import base64
import ipaddress
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any, Iterator

import psutil
import pytest

from lambdalab import Lab, VirtualClock

from .conftest import wait_until
from .edge_support import client_for, create

ray = pytest.importorskip("ray", reason="the ray sandbox's tests need Ray: pip install 'lambdalab[ray]'")
from lambdalab_ray.local import LocalCluster, loopback_only_network  # noqa: E402
pytestmark = pytest.mark.ray


def _alive_nodes() -> int:
    return sum(1 for n in ray.nodes() if n["Alive"])


@pytest.fixture(scope="module")
def network(machine_to_itself: None) -> Iterator[None]:
    """This module's tests in a network with only loopback (module-scoped: the tests
    after it run in the host's network again), with no test of the other worker
    beside them (tests/conftest.py)."""
    try:
        with loopback_only_network():
            yield
    except PermissionError as exc:
        pytest.skip(f"the Ray cluster runs in a network namespace with only loopback, "
                    f"which needs root (CAP_SYS_ADMIN): {exc}")


@pytest.fixture(scope="module")
def cluster(network: None) -> Iterator[LocalCluster]:
    # not under pytest's temp dir: Ray's socket paths under it pass AF_UNIX's limit
    temp_dir = Path(tempfile.mkdtemp(prefix="ray-"))
    cluster = LocalCluster(temp_dir)
    os.environ["RAY_ADDRESS"] = cluster.address
    try:
        cluster.add_node()
        ray.init(address=cluster.address, log_to_driver=False, logging_level="WARNING")
        assert wait_until(lambda: _alive_nodes() == 2, timeout=120), \
            f"the cluster did not start:\n{cluster.logs()}"
        yield cluster
    finally:
        ray.shutdown()
        cluster.stop()
        os.environ.pop("RAY_ADDRESS", None)
        shutil.rmtree(temp_dir, ignore_errors=True)


def test_a_temp_dir_too_long_for_rays_sockets_is_refused_with_what_to_do() -> None:
    with pytest.raises(ValueError, match="too long a temp dir for a Ray node.*mkdtemp"):
        LocalCluster(Path("/tmp/pytest-of-root/pytest-167/popen-gw1/ray0"))


def _loopback(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%")[0])
    mapped = getattr(ip, "ipv4_mapped", None)
    return (mapped or ip).is_loopback


def test_the_cluster_listens_on_loopback_only(cluster):
    """Every listening socket of the cluster's processes (GCS, raylets, agents, workers)
    is on 127.0.0.1 or ::1 (or an IPv4-mapped 127.0.0.1): none on a wildcard or on the
    machine's own addresses."""
    pids = {p.pid for p in cluster.processes()}
    listening = [c for c in psutil.net_connections("inet")
                 if c.pid in pids and c.status == psutil.CONN_LISTEN]
    assert len(listening) >= 3, listening  # the GCS and two raylets, at the least
    assert [c.laddr for c in listening if not _loopback(c.laddr.ip)] == []
    assert set(psutil.net_if_addrs()) == {"lo"}


@pytest.fixture
def rlab(cluster: LocalCluster, tmp_path: Path) -> Iterator[Lab]:
    with Lab(data_dir=tmp_path / "data", clock=VirtualClock(start=1_700_000_000),
             default_sandbox="ray") as lab:
        yield lab


WARM = """
import os
print("init print")
COUNT = 0
def handler(event, context):
    global COUNT
    COUNT += 1
    print("handling", event)
    import ray
    return {"count": COUNT, "pid": os.getpid(), "node": ray.get_runtime_context().get_node_id(),
            "memory": context.memory_limit_in_mb, "root": os.environ["LAMBDA_TASK_ROOT"]}
"""


def test_cold_then_warm_keeps_module_globals_and_logs_come_back(rlab, code):
    rlab.create_function("w", code(app=WARM), handler="app.handler", memory_size=256)
    first = rlab.invoke("w", {"k": 1}, log_type="Tail")
    second = rlab.invoke("w", {"k": 2}, log_type="Tail")
    one, two = first.json(), second.json()
    assert (one["count"], two["count"]) == (1, 2)
    assert one["pid"] == two["pid"] != os.getpid()
    assert one["memory"] == "256"
    assert "lambdalab-ray-" in one["root"]  # the code came through Ray, unpacked by the actor
    lines = first.log_tail.splitlines()
    assert lines[0] == "init print" and "handling {'k': 1}" in lines
    assert lines[-1].startswith("REPORT RequestId: ") and "Init Duration" in lines[-1]
    assert "Init Duration" not in second.log_tail


def test_timeout_kills_the_actor_and_the_next_invoke_starts_a_new_one(rlab, code):
    rlab.create_function("slow", code(app="""
import os, time
def handler(event, context):
    print("before the wait")
    if event["wait"]:
        while True:
            time.sleep(0.05)
    return os.getpid()
"""), handler="app.handler", timeout=1)
    before = rlab.invoke("slow", {"wait": False}).json()
    result = rlab.invoke("slow", {"wait": True}, log_type="Tail")
    error = result.json()
    assert error["errorType"] == "Sandbox.Timedout", result.log_tail
    assert error["errorMessage"].endswith("Task timed out after 1.00 seconds")
    assert "before the wait" in result.log_tail
    assert rlab.invoke("slow", {"wait": False}).json() != before


def test_out_of_memory(rlab, code):
    rlab.create_function("hog", code(app="""
def handler(event, context):
    block = bytearray(200 * 1024 * 1024)
    for i in range(0, len(block), 4096):
        block[i] = 1
    return len(block)
"""), handler="app.handler", memory_size=128)
    result = rlab.invoke("hog", log_type="Tail")
    assert result.function_error == "Unhandled"
    assert result.json()["errorType"] == "Runtime.OutOfMemory"
    assert "Runtime exited with error: signal: killed" in result.log_tail


def test_handler_errors_as_the_python_runtime_reports_them(rlab, code):
    rlab.create_function("boom", code(app="def handler(e, c):\n    raise ValueError('bad order')\n"),
                         handler="app.handler")
    error = rlab.invoke("boom").json()
    assert (error["errorType"], error["errorMessage"]) == ("ValueError", "bad order")


def test_memory_larger_than_any_node_gets_awss_error(rlab, code):
    from lambdalab import InvalidParameterValueException

    rlab.create_function("big", code(app="def handler(e, c):\n    return 1\n"),
                         handler="app.handler", memory_size=4096)
    with pytest.raises(InvalidParameterValueException, match="MemorySize"):
        rlab.invoke("big")
    rlab.update_function_configuration("big", memory_size=512)
    assert rlab.invoke("big").json() == 1


def test_without_ray_the_backend_says_how_to_install_it(monkeypatch):
    from lambdalab_ray import RayBackend

    monkeypatch.setitem(sys.modules, "ray", None)  # what `import ray` meets without Ray
    with pytest.raises(RuntimeError, match=r"pip install 'lambdalab\[ray\]'"):
        RayBackend()._connect()



def test_no_cluster_at_ray_address_is_a_clear_error_at_once(monkeypatch):
    from lambdalab_ray import RayBackend
    from lambdalab_ray.local import free_port

    monkeypatch.setenv("RAY_ADDRESS", f"127.0.0.1:{free_port()}")  # nothing listens
    with pytest.raises(RuntimeError, match="found no Ray cluster at '127.0.0.1:"):
        RayBackend()._connect()

CHATTY = """
import os, sys, time
RZ = os.environ["RZ"]
def handler(event, context):
    print("first line")
    print("to stderr", file=sys.stderr)
    print("no end yet", end="")
    while not os.path.exists(os.path.join(RZ, "release")):
        time.sleep(0.02)
    print(" ... ended")
    return "done"
"""


def test_logs_stream_back_line_by_line_while_the_invoke_runs(rlab, code, rendezvous):
    """The first lines reach the log store while the handler still waits for the test
    (an unterminated line waits for its end); the rest follow at the end, in order."""
    rlab.create_function("chatty", code(app=CHATTY), handler="app.handler", timeout=60,
                         environment={"Variables": {"RZ": str(rendezvous)}})
    done: dict[str, Any] = {}
    caller = threading.Thread(target=lambda: done.update(
        result=rlab.invoke("chatty", log_type="Tail")))
    caller.start()
    try:
        def messages() -> list[str]:
            return [e.message.rstrip("\n") for e in rlab.get_logs("chatty")]

        assert wait_until(lambda: "to stderr" in messages(), timeout=60), messages()
        assert "first line" in messages() and caller.is_alive()
        assert not any("no end yet" in m or m.startswith("END") for m in messages())
    finally:
        (rendezvous / "release").touch()
        caller.join(60)
    assert done["result"].json() == "done"
    logged = [m for m in messages() if not m.startswith(("INIT_START", "REPORT"))]
    assert logged[1:4] == ["first line", "to stderr", "no end yet ... ended"]
    assert logged[0].startswith("START") and logged[4].startswith("END")
    assert "first line" in done["result"].log_tail


WHERE = """
import json, os
import ray
def handler(event, context):
    print("ran", json.dumps(event))
    return {"node": ray.get_runtime_context().get_node_id(), "pid": os.getpid(), **event}
"""


@pytest.fixture
def served_on_ray(cluster: LocalCluster, tmp_path: Path) -> Iterator[str]:
    """``lambdalab serve --sandbox ray`` (``RAY_ADDRESS`` names the cluster), in this
    module's network; its URL."""
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "lambdalab"), "--data-dir", str(tmp_path / "d"),
         "serve", "--sandbox", "ray", "--port", "0"],
        stdout=subprocess.PIPE, stderr=open(tmp_path / "serve.err", "w"), text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        first = proc.stdout.readline() if proc.stdout else ""
        assert first.startswith("lambdalab edge on http://127.0.0.1:"), first
        yield first.split()[3]
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0, (tmp_path / "serve.err").read_text()[-3000:]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_boto3_through_serve_invokes_on_the_cluster_sync_and_async(served_on_ray):
    """A function created with boto3 runs as a Ray actor on one of the cluster's nodes;
    an async Invoke's result reaches its OnSuccess destination, an SQS queue."""
    lambda_, sqs = client_for(served_on_ray), client_for(served_on_ray, "sqs")
    create(lambda_, "where", WHERE)
    reply = lambda_.invoke(FunctionName="where", Payload=b'{"n": 1}', LogType="Tail")
    body = json.loads(reply["Payload"].read())
    assert "FunctionError" not in reply, body
    assert body["n"] == 1 and body["pid"] != os.getpid()
    assert body["node"] in {n["NodeID"] for n in ray.nodes()}
    assert 'ran {"n": 1}' in base64.b64decode(reply["LogResult"]).decode()

    url = sqs.create_queue(QueueName="results")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    lambda_.put_function_event_invoke_config(
        FunctionName="where", DestinationConfig={"OnSuccess": {"Destination": queue_arn}})
    accepted = lambda_.invoke(FunctionName="where", InvocationType="Event", Payload=b'{"n": 2}')
    assert accepted["StatusCode"] == 202
    messages: list[Any] = []
    for _ in range(6):  # long polls: the server answers as soon as the record arrives
        messages = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=10).get("Messages", [])
        if messages:
            break
    [message] = messages
    record = json.loads(message["Body"])
    assert record["requestContext"]["condition"] == "Success"
    assert record["responsePayload"]["n"] == 2
    assert record["responsePayload"]["node"] in {n["NodeID"] for n in ray.nodes()}


HOLD = """
import os, time
import ray
RZ = os.environ["RZ"]
def handler(event, context):
    node = ray.get_runtime_context().get_node_id()
    open(os.path.join(RZ, f"{event['id']}-started"), "w").write(f"{node} {os.getpid()}")
    while event.get("hold") and not os.path.exists(os.path.join(RZ, "release")):
        time.sleep(0.02)
    open(os.path.join(RZ, f"{event['id']}-done"), "w").write(node)
    return node
"""


CONSUMER = """
import os, time
import ray
RZ = os.environ["RZ"]
def handler(event, context):
    node = ray.get_runtime_context().get_node_id()
    for record in event["Records"]:
        count = record["attributes"]["ApproximateReceiveCount"]
        open(os.path.join(RZ, f"{record['body']}-{count}"), "w").write(f"{node} {os.getpid()}")
        while not os.path.exists(os.path.join(RZ, "release")):
            time.sleep(0.02)
"""


def _head() -> str:
    [head] = [n["NodeID"] for n in ray.nodes()
              if n["Alive"] and "node:__internal_head__" in n["Resources"]]
    return head


def _two_nodes(cluster: LocalCluster) -> None:
    """A second node again where a test before this one killed it."""
    if _alive_nodes() < 2:
        cluster.add_node()
    assert wait_until(lambda: _alive_nodes() == 2, timeout=180), "no second node"


@ray.remote(num_cpus=1)
class _Holder:
    """Holds the head's one CPU, so that the next environment starts on the other node."""

    def ready(self) -> bool:
        return True


def test_a_queue_message_whose_invoke_dies_with_its_node_runs_again_on_another(
    cluster, rlab, code, rendezvous
):
    """An SQS mapping's invoke runs on the second node (the head's CPU is held), which
    dies mid-invoke: the message is not deleted, becomes visible after its visibility
    timeout, and the retry runs on the head."""
    from lambdalab_sqs import sqs_of
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    _two_nodes(cluster)
    head = _head()
    holder = _Holder.options(
        scheduling_strategy=NodeAffinitySchedulingStrategy(head, soft=False)).remote()
    assert ray.get(holder.ready.remote(), timeout=60)
    rlab.create_function("consumer", code(app=CONSUMER), handler="app.handler",
                         memory_size=1769, timeout=60,
                         environment={"Variables": {"RZ": str(rendezvous)}})
    sqs = sqs_of(rlab)
    sqs.queues.create_queue("jobs", {"VisibilityTimeout": "30"})
    sqs.queues.send_message("jobs", "order")
    rlab.create_event_source_mapping("consumer", event_source_arn=sqs.queues.arn("jobs"),
                                     batch_size=1)
    first = rendezvous / "order-1"
    # The handler creates the file, then writes it: wait for its words, not for the file.
    assert wait_until(lambda: first.exists() and first.read_text(), timeout=60), \
        "the first delivery did not start"
    node, pid = first.read_text().split()
    assert node != head

    cluster.kill_node(cluster.nodes[-1])
    assert wait_until(lambda: _alive_nodes() == 1 and not psutil.pid_exists(int(pid)), 60)
    assert sqs.mappings.wait_idle(timeout=60), "the failed invoke did not end"
    assert sqs.queues.counts("jobs") == {"visible": 0, "in_flight": 1, "delayed": 0}
    crash = [e.message for e in rlab.get_logs("consumer") if "Runtime exited" in e.message]
    assert crash and "signal: killed" in crash[0]

    ray.kill(holder)
    (rendezvous / "release").touch()
    rlab.clock.advance(30)  # the visibility timeout: the message is visible again
    second = rendezvous / "order-2"
    assert wait_until(lambda: second.exists() and second.read_text(), timeout=60), \
        "the message was not delivered again"
    assert second.read_text().split()[0] == head
    assert sqs.mappings.wait_idle(timeout=60)
    assert sqs.queues.counts("jobs") == {"visible": 0, "in_flight": 0, "delayed": 0}


def test_a_node_lost_mid_burst_fails_its_invoke_and_nothing_acknowledged_is_lost(
    cluster, rlab, code, rendezvous
):
    """Leaves the cluster with its head alone. One CPU per node and one per environment
    (1,769 MB), so a sync and an async invoke held together run on the two nodes; the
    second node (its raylet and workers) is killed while both run."""
    _two_nodes(cluster)
    rlab.create_function("n", code(app=HOLD), handler="app.handler", memory_size=1769,
                         timeout=60, environment={"Variables": {"RZ": str(rendezvous)}})
    sync: dict[str, Any] = {}
    caller = threading.Thread(target=lambda: sync.update(
        result=rlab.invoke("n", {"id": "sync", "hold": True}, log_type="Tail")))
    caller.start()
    assert rlab.invoke("n", {"id": "async", "hold": True}, invocation_type="Event").status_code == 202
    started = [rendezvous / "sync-started", rendezvous / "async-started"]
    assert wait_until(lambda: all(p.exists() for p in started), timeout=60)
    # not the driver's node: on one machine the driver may attach to either raylet
    [head] = [n["NodeID"] for n in ray.nodes() if "node:__internal_head__" in n["Resources"]]
    [(lost, pid)] = [(p.name.split("-")[0], int(p.read_text().split()[1]))
                     for p in started if p.read_text().split()[0] != head]

    cluster.kill_node(cluster.nodes[-1])
    # Nothing is released before the head has declared the node dead and the handler's
    # process is gone (a worker outlives its raylet for a moment; a machine's would not).
    assert wait_until(lambda: _alive_nodes() == 1 and not psutil.pid_exists(pid), timeout=60)
    if lost == "sync":
        caller.join(60)
        error = sync["result"].json()
        assert error["errorType"] == "Runtime.ExitError"
        assert error["errorMessage"].endswith("Error: Runtime exited with error: signal: killed")
        assert "Runtime exited with error: signal: killed" in sync["result"].log_tail
        (rendezvous / "release").touch()
    else:
        (rendezvous / "release").touch()
        caller.join(60)
        assert sync["result"].function_error is None
        done = rendezvous / "async-done"
        assert wait_until(lambda: done.exists()
                          or any(e.state == "retrying" for e in rlab.queue()), 60)
        if not done.exists():
            rlab.clock.advance(60)  # AWS retries a failed async event after a minute
    assert rlab.wait_for_events(timeout=60), "the queue did not drain"
    assert (rendezvous / "async-done").exists()  # the event ran to its end
    assert rlab.queue() == []
    assert rlab.invoke("n", {"id": "after"}).function_error is None  # a new environment
