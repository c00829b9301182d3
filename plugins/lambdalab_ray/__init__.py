"""lambdalab's ``ray`` backend: execution environments as Ray actors, past one machine.

The control plane stays where it is (the data dir, the edge, the async queue, the
triggers, admission and the warm pool); only environments move. Each environment is one
Ray actor that reserves ``num_cpus = MemorySize / 1769`` (Lambda's memory-proportional
CPU: 1,769 MB is one vCPU, https://docs.aws.amazon.com/lambda/latest/dg/configuration-memory.html)
and ``memory = MemorySize`` MB; Ray's scheduler picks the node.

* The function's code travels through Ray: its unpacked folder (and its layers) as zip
  bytes in the actor's constructor arguments (Ray's object store), never a shared disk.
* INIT runs once, in the actor's constructor; the pool reuses the actor while warm.
* Past the function's timeout the driver stops waiting and kills the actor.
* The actor runs the handler on a thread and watches its memory; past ``MemorySize`` the
  invoke ends with ``Runtime.OutOfMemory`` and the actor is killed. The Ray worker's own
  memory before the code is loaded is not counted (it is the platform's, as a Lambda
  runtime's own process is not the function's in the ``limited`` backend's cgroup).
* Logs stream back while the invoke runs: ``invoke`` is a Ray streaming generator
  (https://docs.ray.io/en/latest/ray-core/ray-generator.html) that yields the lines
  printed every few milliseconds, which the driver hands to the log store at once (the
  invoker's ``log_spill``), then the reply.
* A node lost mid-invoke (its raylet dies) ends the invoke as a killed environment does
  (``Runtime exited with error: signal: killed``); the next invoke starts a new actor,
  which Ray places on a node still alive.

Choose it with ``lambdalab serve --sandbox ray`` (``RAY_ADDRESS`` names the cluster;
without it ``ray.init()`` finds a local one) or per function (``Sandbox: ray``).
"""

from __future__ import annotations

import io
import os
import socket
import sys
import tempfile
import threading
import time
import zipfile
from pathlib import Path
from typing import Any, Callable, Iterator

from lambdalab.plugin import EnvironmentSpec, InitOutcome, InvokeOutcome, InvokeRequest
from lambdalab.plugin import InvalidParameterValueException, hookimpl, limits, static_fields
from lambdalab.plugin import runtime_bootstrap as bootstrap
from lambdalab.plugin import runtime_protocol as protocol

__version__ = "0.1.0"

OUT_OF_MEMORY = "Runtime.OutOfMemory"
#: How a lost environment ends, as the other backends report a killed process.
KILLED = "signal: killed"
#: How often the actor compares its memory with the function's MemorySize.
_MEMORY_CHECK_S = 0.005
#: How long the first cold start waits for the cluster's address to accept a connection.
_PROBE_TIMEOUT_S = 5
#: The host's variables that point at host paths; the actor sets its own.
_HOST_PATHS = ("LAMBDA_TASK_ROOT", "LAMBDALAB_OPT", "TMPDIR")


def _zipped(root: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for path in sorted(Path(root).rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(root).as_posix())
    return buffer.getvalue()


def _unzipped(data: bytes, into: str) -> str:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        archive.extractall(into)
    return into


class _Collect(io.TextIOBase):
    """``sys.stdout``/``sys.stderr`` of the actor while it runs the function (written by
    the handler's thread, read by the invoke's)."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self._lock = threading.Lock()

    def write(self, text: str) -> int:
        with self._lock:
            self.parts.append(text)
        return len(text)

    def take(self) -> list[str]:
        """Every line so far, an unterminated last one included."""
        with self._lock:
            text, self.parts = "".join(self.parts), []
        return text.splitlines()

    def take_complete(self) -> list[str]:
        """The lines ended so far; an unterminated last one waits for its end."""
        with self._lock:
            text = "".join(self.parts)
            ended = text.rfind("\n") + 1
            self.parts = [text[ended:]] if ended < len(text) else []
        return text[:ended].splitlines()


class Runner:
    """The actor's class (wrapped by ``ray.remote`` when the backend starts): INIT in
    the constructor, then one invoke at a time."""

    def __init__(self, handler: str, environ: dict[str, str], code: bytes,
                 layers: bytes | None, memory_size: int) -> None:
        self.baseline_mb = bootstrap.max_rss_mb()
        self.memory_size = memory_size
        home = tempfile.mkdtemp(prefix="lambdalab-ray-")
        environ = dict(environ)
        environ["LAMBDA_TASK_ROOT"] = _unzipped(code, os.path.join(home, "task"))
        environ["TMPDIR"] = os.path.join(home, "tmp")
        os.makedirs(environ["TMPDIR"])
        if layers is not None:
            environ["LAMBDALAB_OPT"] = _unzipped(layers, os.path.join(home, "opt"))
        os.environ.update(environ)
        os.chdir(environ["LAMBDA_TASK_ROOT"])
        sys.path[0:0] = [environ["LAMBDA_TASK_ROOT"], *bootstrap.layer_paths(environ)]
        self.static = static_fields(environ)
        self.out = _Collect()
        sys.stdout = sys.stderr = self.out
        started = time.perf_counter()
        self.error: dict[str, Any] | None = None
        try:
            self.handler = bootstrap.load_handler(handler)
        except bootstrap.Fault as fault:
            self.error = bootstrap.make_error(fault.message, fault.error_type, fault.trace)
            bootstrap.log_error(self.error)
        except Exception as exc:
            self.error = bootstrap.error_from_exception(exc, "")
            bootstrap.log_error(self.error)
        self.init_ms = (time.perf_counter() - started) * 1000

    def init_outcome(self) -> tuple[float, list[str], dict[str, Any] | None, int]:
        return self.init_ms, self.out.take(), self.error, self.used_mb()

    def used_mb(self) -> int:
        """The actor's peak memory beyond what the Ray worker held before INIT."""
        return max(0, bootstrap.max_rss_mb() - self.baseline_mb)

    def invoke(self, frame: bytes) -> Iterator[tuple[str, bytes, list[str], int]]:
        """A Ray streaming generator: ``("logs", b"", lines, peak)`` as the function
        prints them, then ``("reply", reply frame, ...)``, ``("oom", ...)`` or
        ``("exit", reason, ...)``."""
        request = protocol.unpack_request(frame)
        result: dict[str, Any] = {}

        def run() -> None:
            try:
                result["reply"] = bootstrap.handle(self.handler, request, self.static)
            except SystemExit as exc:
                result["exit"] = f"exit status {bootstrap.exit_status(exc)}"
            except BaseException as exc:  # noqa: BLE001 - reported as the crash it is
                result["exit"] = f"exit status 1 ({type(exc).__name__})"

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        while True:
            thread.join(_MEMORY_CHECK_S)
            peak = self.used_mb()
            if peak > self.memory_size:
                yield "oom", b"", self.out.take(), peak
                return
            if not thread.is_alive():
                break
            lines = self.out.take_complete()
            if lines:
                yield "logs", b"", lines, peak
        if "reply" in result:
            yield "reply", result["reply"], self.out.take(), peak
        else:
            yield "exit", result["exit"].encode(), self.out.take(), peak

    def logs(self) -> list[str]:
        """What the function printed so far (read while an invoke runs)."""
        return self.out.take()


def _ray() -> Any:
    # Ray's C++ crash handler would take SIGTERM from the process that uses the backend
    # (``lambdalab serve`` stops on it once requests in flight are done) and abort it.
    os.environ.setdefault("RAY_DISABLE_FAILURE_SIGNAL_HANDLER", "1")
    try:
        import ray
    except ImportError as exc:
        raise RuntimeError(
            "the ray sandbox needs Ray: pip install 'lambdalab[ray]'"
        ) from exc
    return ray


class RayEnvironment:
    """One execution environment: a Ray actor."""

    def __init__(self, ray: Any, runner: Any, spec: EnvironmentSpec) -> None:
        self.spec = spec
        #: Where lines go while an invoke runs (the invoker sets it for each invoke).
        self.log_spill: Callable[[list[str]], None] | None = None
        self._ray = ray
        opt = spec.environ.get("LAMBDALAB_OPT")
        environ = {k: v for k, v in spec.environ.items() if k not in _HOST_PATHS}
        self.actor = runner.options(
            num_cpus=spec.memory_size / limits.MEMORY_MB_PER_VCPU,
            memory=spec.memory_size * 1024 * 1024,
            max_concurrency=2,  # the invoke, and a read of its logs at a timeout
        ).remote(spec.handler, environ, _zipped(spec.task_root),
                 _zipped(opt) if opt else None, spec.memory_size)
        started = time.perf_counter()
        try:
            init_ms, lines, error, used = ray.get(
                self.actor.init_outcome.remote(), timeout=limits.INIT_TIMEOUT_S
            )
            self.init = InitOutcome(init_ms, lines, error, max_memory_used_mb=used)
        except ray.exceptions.GetTimeoutError:
            # Ray's start of the worker counts too: a cluster with no room for the actor
            # (its CPUs held by other environments) ends here after the same 10 s.
            self.destroy()
            self.init = InitOutcome(
                (time.perf_counter() - started) * 1000, timed_out=True,
                error={"errorType": "Runtime.InitTimeout",
                       "errorMessage": f"Init phase exceeded the {limits.INIT_TIMEOUT_S} s limit"},
            )
        except ray.exceptions.RayError as exc:
            self.destroy()
            self.init = InitOutcome(
                (time.perf_counter() - started) * 1000,
                error={"errorType": "Runtime.ExitError",
                       "errorMessage": f"Runtime exited during init: {KILLED}"},
                log_lines=[_lost(exc)],
            )

    def invoke(self, request: InvokeRequest) -> InvokeOutcome:
        ray = self._ray
        started = time.perf_counter()
        deadline = time.monotonic() + request.timeout_s
        stream = self.actor.invoke.options(num_returns="streaming").remote(
            request.runtime_request().packed())
        lines: list[str] = []  # what no log_spill took
        try:
            while True:
                ready, _ = ray.wait([stream], timeout=max(0.0, deadline - time.monotonic()))
                if not ready:
                    lines += self._last_logs()
                    self.destroy()
                    return InvokeOutcome("timeout", b"", self._since(started), lines)
                kind, body, chunk, used = ray.get(next(stream))
                if kind != "logs":
                    break
                self._hand_over(chunk, lines)
        except ray.exceptions.RayError as exc:
            self.destroy()
            return InvokeOutcome("crash", b"", self._since(started), [*lines, _lost(exc)],
                                 exit_reason=KILLED)
        lines += chunk
        duration_ms = self._since(started)
        if kind == "reply":
            status, _, _, payload = protocol.unpack_reply(body)
            return InvokeOutcome(status, payload, duration_ms, lines, used)
        self.destroy()
        if kind == "oom":
            return InvokeOutcome("crash", b"", duration_ms, lines, used,
                                 exit_reason=KILLED, error_type=OUT_OF_MEMORY)
        return InvokeOutcome("crash", b"", duration_ms, lines, used, exit_reason=body.decode())

    def _hand_over(self, chunk: list[str], lines: list[str]) -> None:
        """Lines printed while the invoke runs go to the log store at once, through the
        invoker's ``log_spill``; without one they wait for the invoke's end."""
        if self.log_spill is not None:
            self.log_spill(chunk)
        else:
            lines += chunk

    def _last_logs(self) -> list[str]:
        try:
            return list(self._ray.get(self.actor.logs.remote(), timeout=1))
        except self._ray.exceptions.RayError:
            return []

    @staticmethod
    def _since(started: float) -> float:
        return (time.perf_counter() - started) * 1000

    def destroy(self) -> None:
        try:
            self._ray.kill(self.actor)
        except Exception:  # noqa: BLE001 - already gone with its node
            pass


def _lost(exc: Exception) -> str:
    """The log line that says why Ray lost the environment (its first line)."""
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"lambdalab ray: the environment was lost ({type(exc).__name__}: {first})"


class RayBackend:
    """Starts environments as actors on the Ray cluster at ``RAY_ADDRESS``."""

    name = "ray"

    def __init__(self, preload: tuple[str, ...] = ()) -> None:
        self._runner: Any = None
        self._lock = threading.Lock()

    def _connect(self) -> Any:
        ray = _ray()
        with self._lock:
            if self._runner is None:
                address = os.environ.get("RAY_ADDRESS") or "auto"
                try:
                    _probe(address)
                    ray.init(address=address, ignore_reinit_error=True,
                             log_to_driver=False, logging_level="WARNING")
                except (OSError, RuntimeError) as exc:
                    raise RuntimeError(
                        f"the ray sandbox found no Ray cluster at {address!r} "
                        "(start one with `ray start --head`, set RAY_ADDRESS): "
                        f"{exc}"
                    ) from exc
                self._runner = ray.remote(Runner)
        return ray

    def start(self, spec: EnvironmentSpec) -> RayEnvironment:
        ray = self._connect()
        _check_fits(ray, spec.memory_size)
        return RayEnvironment(ray, self._runner, spec)

    def close(self) -> None:
        pass  # each environment is killed by the pool; the cluster is not ours to stop


def _probe(address: str) -> None:
    """Fail fast where nothing listens at ``host:port``: ``ray.init`` retries a dead
    address for minutes."""
    host, _, port = address.rpartition(":")
    if host and port.isdigit() and "://" not in address:
        socket.create_connection((host, int(port)), timeout=_PROBE_TIMEOUT_S).close()


def _check_fits(ray: Any, memory_size: int) -> None:
    """A MemorySize no live node can hold gets the error AWS gives an account whose
    largest memory is smaller (``InvalidParameterValueException``, as for 3,008 MB
    accounts: https://docs.aws.amazon.com/lambda/latest/dg/troubleshooting-deployment.html)."""
    largest = 0
    for node in ray.nodes():
        if node.get("Alive"):
            resources = node.get("Resources", {})
            by_cpu = int(resources.get("CPU", 0) * limits.MEMORY_MB_PER_VCPU)
            by_memory = int(resources.get("memory", 0) // (1024 * 1024))
            largest = max(largest, min(by_cpu, by_memory))
    if memory_size > largest:
        raise InvalidParameterValueException(
            "'MemorySize' value failed to satisfy constraint: Member must have value "
            f"less than or equal to {largest}"
        )


@hookimpl
def lambdalab_sandbox_backends() -> list[type]:
    return [RayBackend]
