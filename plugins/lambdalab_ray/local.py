"""A small Ray cluster on this machine (127.0.0.1), for tests and benchmarks.

Each node is ``ray start --block`` in a session of its own, so stopping it kills exactly
what it started (never ``ray stop``, which stops every Ray node of the machine's user).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

#: The head notices a lost node within ~1.5 s (Ray's default waits ~15 s).
HEALTH = json.dumps({"health_check_period_ms": 500, "health_check_failure_threshold": 3,
                     "health_check_initial_delay_ms": 0})


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


#: The ``ray`` command beside this interpreter (a virtual environment's, not activated,
#: has it there and not on ``PATH``), else the one on ``PATH``.
RAY = str(Path(sys.executable).parent / "ray") if (Path(sys.executable).parent / "ray").exists() else "ray"


class LocalCluster:
    """A head and any number of further nodes, each of ``cpus`` CPUs and ``memory_mb``."""

    def __init__(self, temp_dir: Path, cpus: int = 1, memory_mb: int = 2048,
                 object_store_mb: int = 80) -> None:
        self.address = f"127.0.0.1:{free_port()}"
        self._node = ["--num-cpus", str(cpus), "--memory", str(memory_mb * 1024 * 1024),
                      "--object-store-memory", str(object_store_mb * 1024 * 1024),
                      "--block", "--disable-usage-stats", "--node-ip-address=127.0.0.1"]
        port = self.address.rsplit(":", 1)[1]
        self.nodes = [self._start(["--head", f"--port={port}", "--include-dashboard=false",
                                   f"--temp-dir={temp_dir}", f"--system-config={HEALTH}"])]

    def _start(self, args: list[str]) -> subprocess.Popen[bytes]:
        return subprocess.Popen([RAY, "start", *args, *self._node], start_new_session=True,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

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

    def stop(self) -> None:
        for node in reversed(self.nodes):
            self.kill_node(node)
            node.wait()
