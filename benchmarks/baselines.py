"""Raw baselines, measured on the same machine in the same run as lambdalab's figures.

* a pipe round trip to a warm worker: ``Connection.send_bytes``/``recv_bytes`` of a small
  frame to a forked child that echoes it – the floor under a warm invoke whose two ends
  sleep while they wait (each answer wakes the other side);
* the same with both ends spinning (:class:`SpinningEchoWorker`) – the floor under a warm
  invoke where both ends busy-wait, as lambdalab's do where that can pay;
* the same with two threads and two workers – the floor under two-environment throughput;
* a bare ``os.fork()`` + ``_exit`` + ``waitpid`` of a parent that has preloaded the modules
  the fork server preloads – the floor under a cold start;
* a fresh interpreter (``python -c pass``), and importing a module in one – what a cold
  start would cost without a fork server;
* the USS of a fresh idle interpreter – what an environment would weigh without fork's
  shared pages.

The fork baseline runs in a child interpreter (``python baselines.py fork N MODULE…``) so
the parent it forks is as big as the fork server, not as big as this benchmark.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from multiprocessing import Pipe
from multiprocessing.connection import Connection
from typing import Callable

#: A frame the size of a tiny invoke request (header with request id and ARN, small body).
SMALL_FRAME = b"\x00\x00\x00\x90" + b"x" * 0x90 + b'{"a": 1}'


# -- pipe round trip -----------------------------------------------------------------


class EchoWorker:
    """A forked child that sends back every frame it receives, until the pipe closes.

    Fork it before any thread exists in the calling process.
    """

    def __init__(self) -> None:
        ours, theirs = Pipe(duplex=True)

        def echo() -> None:
            while True:
                theirs.send_bytes(theirs.recv_bytes())

        self.pid = _forked(theirs.fileno(), ours.close, echo)
        theirs.close()
        self.conn: Connection = ours

    def round_trip(self, frame: bytes = SMALL_FRAME) -> bytes:
        self.conn.send_bytes(frame)
        return self.conn.recv_bytes()

    def close(self) -> None:
        self.conn.close()
        os.waitpid(self.pid, 0)


class SpinningEchoWorker:
    """A forked child that sends back every frame it receives, where both ends
    busy-wait for the other's bytes (non-blocking reads, again and again) instead of
    sleeping in a read: the floor of an exchange in which both ends spin, as
    lambdalab's core and runtime do where a spin can pay. Only meaningful with the two
    on different CPUs (on one, each spin holds the CPU the other needs).

    Fork it before any thread exists in the calling process.
    """

    def __init__(self) -> None:
        ours, theirs = socket.socketpair()
        keep = theirs.fileno()

        def echo() -> None:
            os.set_blocking(keep, False)
            while data := _spin_read(keep):
                os.write(keep, data)

        self.pid = _forked(keep, ours.close, echo)
        theirs.close()
        self._socket = ours
        self._fd = ours.fileno()
        os.set_blocking(self._fd, False)

    def round_trip(self, frame: bytes = SMALL_FRAME) -> bytes:
        os.write(self._fd, frame)
        return _spin_read(self._fd, len(frame))

    def close(self) -> None:
        self._socket.close()  # the worker reads its end of file, and leaves
        os.waitpid(self.pid, 0)


def _forked(keep: int, close_ours: Callable[[], None], echo: Callable[[], None]) -> int:
    """Fork an echo worker: the child closes the parent's end (``close_ours``) and every
    other inherited descriptor but ``keep`` (an earlier worker's pipe end would
    otherwise stay open there, and that worker would never see EOF), runs ``echo``
    until its end closes, and leaves without running the parent's cleanup. The child's
    pid."""
    pid = os.fork()
    if pid == 0:
        close_ours()
        os.closerange(3, keep)
        os.closerange(keep + 1, os.sysconf("SC_OPEN_MAX"))
        try:
            echo()
        except BaseException:
            pass
        finally:
            os._exit(0)
    return pid


def _spin_read(fd: int, size: int = 0) -> bytes:
    """``size`` bytes from non-blocking ``fd`` (0: whatever comes first; b"" at its end),
    polling without sleeping."""
    got = b""
    while True:
        try:
            chunk = os.read(fd, 65536)
        except BlockingIOError:
            continue
        if not chunk or not size:
            return chunk
        got += chunk
        if len(got) >= size:
            return got


def pipe_round_trips(count: int, warmup: int = 200) -> list[float]:
    """Round trips of a small frame to a warm forked echo worker, in microseconds."""
    worker = EchoWorker()
    try:
        for _ in range(warmup):
            worker.round_trip()
        clock = time.perf_counter_ns
        samples = []
        for _ in range(count):
            started = clock()
            worker.round_trip()
            samples.append((clock() - started) / 1000)
        return samples
    finally:
        worker.close()


def round_robin_round_trips(workers: int, count: int) -> tuple[list[float], list[float]]:
    """Round trips to one of ``workers`` forked echo workers again and again (*hot*),
    and to each in turn (*round robin*: every one has slept through a whole round), in
    alternating rounds; each one's samples, in microseconds. Fork before any thread
    exists in the calling process (:class:`EchoWorker`)."""
    echoes = [EchoWorker() for _ in range(workers)]
    try:
        for echo in echoes:
            echo.round_trip()
        clock = time.perf_counter_ns
        hot: list[float] = []
        robin: list[float] = []
        rounds = max(1, count // (2 * workers))
        for _ in range(rounds):
            for into, calls in ((hot, [echoes[0]] * workers), (robin, echoes)):
                for echo in calls:
                    started = clock()
                    echo.round_trip()
                    into.append((clock() - started) / 1000)
        return hot, robin
    finally:
        for echo in echoes:
            echo.close()


def pipe_throughput(seconds: float, threads: int = 2) -> float:
    """Round trips per second with ``threads`` threads, each with its own echo worker."""
    workers = [EchoWorker() for _ in range(threads)]  # fork before the threads start
    counts = [0] * threads
    start = threading.Barrier(threads + 1)
    stop = threading.Event()

    def loop(i: int) -> None:
        worker = workers[i]
        start.wait()
        n = 0
        while not stop.is_set():
            worker.round_trip()
            n += 1
        counts[i] = n

    pool = [threading.Thread(target=loop, args=(i,)) for i in range(threads)]
    try:
        for t in pool:
            t.start()
        start.wait()
        began = time.perf_counter()
        time.sleep(seconds)
        stop.set()
        for t in pool:
            t.join()
        elapsed = time.perf_counter() - began
    finally:
        stop.set()
        for worker in workers:
            worker.close()
    return sum(counts) / elapsed


# -- fork and fresh interpreters -----------------------------------------------------


def bare_forks(count: int, preload: tuple[str, ...]) -> list[float]:
    """``fork`` + ``_exit`` + ``waitpid`` in a parent that imported ``preload``, in µs."""
    out = subprocess.run(
        [sys.executable, __file__, "fork", str(count), *preload],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return json.loads(out.stdout)


def _fork_loop(count: int, preload: list[str]) -> list[float]:
    """The child side of :func:`bare_forks`."""
    for module in preload:
        __import__(module)
    clock = time.perf_counter_ns
    samples = []
    for i in range(count + 20):  # the first few touch pages for the first time
        started = clock()
        pid = os.fork()
        if pid == 0:
            os._exit(0)
        os.waitpid(pid, 0)
        if i >= 20:
            samples.append((clock() - started) / 1000)
    return samples


def interpreter_starts(count: int, code: str = "pass") -> list[float]:
    """Wall time of ``python -c CODE`` in a fresh interpreter, in microseconds."""
    samples = []
    for _ in range(count):
        started = time.perf_counter_ns()
        subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
        samples.append((time.perf_counter_ns() - started) / 1000)
    return samples


def idle_interpreter_uss_mb() -> float:
    """USS of a fresh interpreter that has started and waits, in MB."""
    import psutil

    proc = subprocess.Popen(
        [sys.executable, "-c", "import sys; print('ready', flush=True); sys.stdin.read()"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == b"ready"
        return psutil.Process(proc.pid).memory_full_info().uss / 2**20
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        proc.wait(timeout=10)


if __name__ == "__main__":
    if sys.argv[1:2] == ["fork"]:
        print(json.dumps(_fork_loop(int(sys.argv[2]), sys.argv[3:])))
    else:
        sys.exit(f"usage: {sys.argv[0]} fork COUNT [MODULE ...]")
