"""A small Ray cluster on this machine (127.0.0.1), for tests and benchmarks.

Each node is ``ray start --block`` in a session of its own, so stopping it kills exactly
what it started (never ``ray stop``, which stops every Ray node of the machine's user).

Ray 2.60's GCS and raylets listen on every interface whatever ``--node-ip-address``
says (and ``ray start`` swaps 127.0.0.1 for the machine's routable address), so
:func:`loopback_only_network` gives the cluster a network of its own whose only
interface is ``lo``.
"""

from __future__ import annotations

import ctypes
import fcntl
import json
import os
import signal
import socket
import struct
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import psutil

#: The head notices a lost node within ~6 s (Ray's default waits ~15 s). Not quicker: a
#: node the head finds dead stays dead, and a raylet starved of CPU by other work on 2
#: cores for a second or two must not be taken for a dead one.
HEALTH = json.dumps({"health_check_period_ms": 1000, "health_check_failure_threshold": 6,
                     "health_check_initial_delay_ms": 0})


#: The longest ``--temp-dir`` a node starts under: Ray puts its sockets in
#: ``<temp dir>/session_<date>_<time>_<µs>_<pid>/sockets/plasma_store.<n>``, and an
#: AF_UNIX socket's path has at most 107 bytes (a second node's ``ray start`` failed with
#: pytest-xdist's longer temp dirs: "AF_UNIX path length cannot exceed 107 bytes").
TEMP_DIR_MAX = 40


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


#: The ``ray`` command beside this interpreter (a virtual environment's, not activated,
#: has it there and not on ``PATH``), else the one on ``PATH``.
RAY = str(Path(sys.executable).parent / "ray") if (Path(sys.executable).parent / "ray").exists() else "ray"


_CLONE_NEWNET = 0x40000000
_SIOCGIFFLAGS, _SIOCSIFFLAGS, _IFF_UP = 0x8913, 0x8914, 0x1
_IFREQ = "16sH22x"  # struct ifreq: the name, then ifr_flags in its union


@contextmanager
def loopback_only_network() -> Iterator[None]:
    """Run the calling thread, and every thread and process it starts meanwhile, in a
    new network namespace (``unshare(CLONE_NEWNET)``) whose only interface is ``lo``,
    up; the thread returns to its own network after. Nothing there is reachable from
    outside the machine, whatever address a server binds. Needs ``CAP_SYS_ADMIN``
    (root): raises :class:`PermissionError` without it."""
    libc = ctypes.CDLL(None, use_errno=True)
    home = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    try:
        if libc.unshare(_CLONE_NEWNET) != 0:
            error = ctypes.get_errno()
            raise PermissionError(error, f"unshare(CLONE_NEWNET): {os.strerror(error)}")
        try:
            _loopback_up()
            yield
        finally:
            if libc.setns(home, _CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), "setns back to the host's network")
    finally:
        os.close(home)


def _loopback_up() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack(_IFREQ, b"lo", 0)
        flags = struct.unpack(_IFREQ, fcntl.ioctl(sock, _SIOCGIFFLAGS, request))[1]
        fcntl.ioctl(sock, _SIOCSIFFLAGS, struct.pack(_IFREQ, b"lo", flags | _IFF_UP))


class LocalCluster:
    """A head and any number of further nodes, each of ``cpus`` CPUs and ``memory_mb``."""

    def __init__(self, temp_dir: Path, cpus: int = 1, memory_mb: int = 2048,
                 object_store_mb: int = 80) -> None:
        self.address = f"127.0.0.1:{free_port()}"
        self._node = ["--num-cpus", str(cpus), "--memory", str(memory_mb * 1024 * 1024),
                      "--object-store-memory", str(object_store_mb * 1024 * 1024),
                      "--block", "--disable-usage-stats", "--node-ip-address=127.0.0.1"]
        port = self.address.rsplit(":", 1)[1]
        if len(str(temp_dir)) > TEMP_DIR_MAX:
            raise ValueError(
                f"{temp_dir} is too long a temp dir for a Ray node ({len(str(temp_dir))} > "
                f"{TEMP_DIR_MAX} characters): Ray's sockets under it would pass AF_UNIX's "
                "107-byte limit. Give a short one, e.g. tempfile.mkdtemp(prefix='ray-').")
        self._temp_dir = temp_dir
        temp_dir.mkdir(parents=True, exist_ok=True)
        self.nodes: list[subprocess.Popen[bytes]] = []
        self.nodes.append(self._start(["--head", f"--port={port}", "--include-dashboard=false",
                                       f"--temp-dir={temp_dir}", f"--system-config={HEALTH}"]))

    def _start(self, args: list[str]) -> subprocess.Popen[bytes]:
        with open(self._log(len(self.nodes)), "ab") as log:
            return subprocess.Popen([RAY, "start", *args, *self._node], start_new_session=True,
                                    stdin=subprocess.DEVNULL, stdout=log, stderr=log)

    def _log(self, n: int) -> Path:
        return self._temp_dir / f"ray-start-{n}.log"

    def logs(self) -> str:
        """What each node's ``ray start`` printed (why a node left, if it said)."""
        return "\n".join(f"-- node {n}:\n{self._log(n).read_text(errors='replace')[-3000:]}"
                         for n in range(len(self.nodes)) if self._log(n).exists())

    def add_node(self) -> subprocess.Popen[bytes]:
        node = self._start([f"--address={self.address}"])
        self.nodes.append(node)
        return node

    @staticmethod
    def kill_node(node: subprocess.Popen[bytes]) -> None:
        """The node dies as a machine does: its raylet and its workers at once (a killed
        raylet alone leaves its workers running handlers for a while, orphaned)."""
        try:
            os.killpg(node.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def processes(self) -> list[psutil.Process]:
        """Every process of the cluster still running (nodes, raylets, workers)."""
        found = []
        for node in self.nodes:
            try:
                root = psutil.Process(node.pid)
                found += [root, *root.children(recursive=True)]
            except psutil.NoSuchProcess:
                pass
        return found

    def stop(self) -> None:
        for node in reversed(self.nodes):
            self.kill_node(node)
            node.wait()
