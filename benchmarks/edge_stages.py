"""Where one HTTP client's warm Invoke spends its round trip: the edge's stages, stamped.

    python benchmarks/edge_stages.py                 # about 10 s
    python benchmarks/edge_stages.py --requests 1000 --runs 1

A diagnostic for issue 21's single-client p50 (``edge.py`` figure 4d), not a figure with
a target. The edge serves from a thread of this process over a temporary lab with one
warm ``echo`` function (``harness.SANDBOX``); one client process sends keep-alive
``Invoke`` requests one after the other, as ``edge.py``'s do. In the serve process a
clock reading (``perf_counter_ns``) is taken where the request's bytes arrive, where
each layer is entered and left, where the event is written to the environment's pipe,
where its answer is read, where the response is written to the socket, and where the
invoke is recorded (after its answer: ``Lab.invoke_async``'s ``answer``). Each stage
is printed as the median over the requests of the time between two readings; the last
row is what is left of the client's round trip besides the serve process's part until
the answer is written: the client's own work and the two wake-ups across loopback. The readings are taken by wrapping the functions at the
stage boundaries (each wrapper costs about a microsecond, which the stages include):
nothing of the serve path is changed besides.
"""

from __future__ import annotations

import argparse
import functools
import http.client
import multiprocessing
import os
import statistics
import tempfile
from pathlib import Path
from time import perf_counter_ns
from typing import Any, Callable

from harness import SANDBOX

from edge import ECHO_HANDLER, EVENT, PATH
from lambdalab import Lab
from lambdalab import lab as lab_module
from lambdalab.server import lambda_service, runner
from lambdalab.server.runner import EdgeServer
from uvicorn.protocols.http.httptools_impl import RequestResponseCycle

import lambdalab_subprocess

#: Readings per request, by name, in the order a request passes them.
STAGES = (
    ("bytes", "the request's bytes arrive (uvicorn's data_received)"),
    ("headers", "its headers are parsed: the ASGI scope and task are made"),
    ("asgi", "the ASGI task starts"),
    ("lambda", "Lambda's service is entered (the edge has routed the request)"),
    ("lab", "Lab.invoke_async is entered (the Invoke is read and checked)"),
    ("backend", "the backend's invoke_async is entered (the invoker's steps before it)"),
    ("sent", "the event is written to the environment's pipe"),
    ("answer", "the answer is read (the runtime ran the handler)"),
    ("backend-done", "the backend returns the outcome"),
    ("respond", "the response is being sent (the result made and serialized)"),
    ("written", "the response is written to the socket"),
    ("lab-done", "the invoke is recorded (END, REPORT, logs, hooks, metrics, the pool)"),
)
STAMPS: dict[str, list[int]] = {name: [] for name, _ in STAGES}
_PENDING = [False]  # a request's first bytes were stamped, its response not yet


def _stamp(name: str) -> None:
    STAMPS[name].append(perf_counter_ns())


def _around_async(owner: Any, attribute: str, before: str, after: str | None = None) -> None:
    original = getattr(owner, attribute)

    @functools.wraps(original)
    async def stamped(*args: Any, **kwargs: Any) -> Any:
        _stamp(before)
        try:
            return await original(*args, **kwargs)
        finally:
            if after:
                _stamp(after)

    setattr(owner, attribute, stamped)


def _before(owner: Any, attribute: str, name: str, when: Callable[..., bool] = lambda *a: True) -> None:
    original = getattr(owner, attribute)

    @functools.wraps(original)
    def stamped(*args: Any, **kwargs: Any) -> Any:
        if when(*args):
            _stamp(name)
        return original(*args, **kwargs)

    setattr(owner, attribute, stamped)


def _first_bytes(*_: Any) -> bool:
    if _PENDING[0]:
        return False
    _PENDING[0] = True
    return True


def _response_bytes(transport: Any, data: bytes) -> bool:
    if transport.hold or not data:
        return False  # the head, held for its body
    _PENDING[0] = False
    return True


def instrument() -> None:
    """Wrap the functions at the stage boundaries (this process only)."""
    _before(runner._HttpProtocol, "data_received", "bytes", _first_bytes)
    _before(runner._HttpProtocol, "on_headers_complete", "headers")
    _around_async(RequestResponseCycle, "run_asgi", "asgi")
    _around_async(lambda_service.LambdaService, "__call__", "lambda")
    _around_async(lab_module.Lab, "invoke_async", "lab", "lab-done")
    _around_async(lambdalab_subprocess.SubprocessEnvironment, "invoke_async", "backend", "backend-done")
    _before(lambdalab_subprocess.SubprocessEnvironment, "deliver", "sent")
    _before(lambdalab_subprocess.SubprocessEnvironment, "_read_answer", "answer")
    _around_async(lambda_service, "send_response", "respond")
    _before(runner._HeadHoldingTransport, "write", "written", _response_bytes)


def _client(port: int, requests: int, results: "multiprocessing.Queue[list[int]]") -> None:
    os.setsid()  # its CPU share apart from the server's (edge.start_edge says why)
    connection = http.client.HTTPConnection("127.0.0.1", port)
    round_trips = []
    for _ in range(requests):
        started = perf_counter_ns()
        connection.request("POST", PATH, body=EVENT, headers={"Content-Type": "application/json"})
        response = connection.getresponse()
        response.read()
        round_trips.append(perf_counter_ns() - started)
    results.put(round_trips)


def one_run(requests: int) -> dict[str, float]:
    """Median µs of each stage and of the client's round trip over ``requests``."""
    with tempfile.TemporaryDirectory(prefix="lambdalab-edge-stages-") as tmp:
        code = Path(tmp) / "echo"
        code.mkdir()
        (code / "app.py").write_text(ECHO_HANDLER)
        with Lab(data_dir=Path(tmp) / "data") as lab:
            lab.create_function("echo", code, handler="app.handler", sandbox=SANDBOX)
            # as `lambdalab serve` does: nothing else here reads the lab
            with EdgeServer(lab, port=0, answer_first=True).start() as server:
                port = int(server.url.rsplit(":", 1)[1])
                results: multiprocessing.Queue[list[int]] = multiprocessing.Queue()
                for count in (200, requests):  # the first run warms up, and is dropped
                    for stamps in STAMPS.values():
                        stamps.clear()
                    _PENDING[0] = False
                    client = multiprocessing.Process(target=_client, args=(port, count, results))
                    client.start()
                    round_trips = results.get()
                    client.join()
    n = min(len(stamps) for stamps in STAMPS.values())
    if n < requests:
        raise SystemExit(f"only {n} of {requests} requests passed every stage: is it a warm "
                         f"Invoke on {SANDBOX}? ({ {k: len(v) for k, v in STAMPS.items()} })")
    names = [name for name, _ in STAGES]
    medians = {
        later: statistics.median((STAMPS[later][i] - STAMPS[earlier][i]) / 1000 for i in range(n))
        for earlier, later in zip(names, names[1:])
    }
    medians["in the serve process"] = statistics.median(
        (STAMPS["written"][i] - STAMPS["bytes"][i]) / 1000 for i in range(n))
    medians["round trip"] = statistics.median(rt / 1000 for rt in round_trips)
    return medians


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    instrument()
    runs = [one_run(args.requests) for _ in range(args.runs)]
    print(f"one client's warm Invoke, {args.requests:,} requests a run, {args.runs} runs "
          f"({SANDBOX}; load {os.getloadavg()[0]:.1f}); the median µs of each stage:\n")
    width = max(len(text) for _, text in STAGES)
    for name, text in STAGES[1:]:
        print(f"  {'until ' + text:<{width + 6}}  " + "  ".join(f"{run[name]:7.1f}" for run in runs))
    for name, text in (("in the serve process", "in the serve process, until the answer is written"),
                       ("round trip", "round trip")):
        print(f"  {'= ' + text:<{width + 6}}  " + "  ".join(f"{run[name]:7.1f}" for run in runs))
    rest = [run["round trip"] - run["in the serve process"] for run in runs]
    print(f"  {'the rest: the client, loopback and wake-ups':<{width + 6}}  "
          + "  ".join(f"{r:7.1f}" for r in rest))


if __name__ == "__main__":
    multiprocessing.set_start_method("fork")
    main()
