"""A fork server: one preloaded Python process that forks execution environments.

A cold start on AWS pays for a fresh runtime; lambdalab makes it cost one ``fork()`` of
a process that has already imported the runtime (and, by default, boto3). The core talks
to the server over a Unix datagram socket: each request carries the new environment's
spec as JSON and two file descriptors (SCM_RIGHTS): the pipe for invoke frames and the
write end of its log pipe. The server forks, the child becomes the environment, and the
server reports each child's exit status back. When the core goes away (EOF on the
server's stdin) the server kills every environment it started and exits.

The core side is :class:`ForkServer`; the server side is :func:`main`.
"""

from __future__ import annotations

import io
import json
import os
import selectors
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from multiprocessing.connection import Connection
from typing import Any

_MAX_MESSAGE = 256 * 1024


def describe_status(status: int) -> str:
    """A wait status the way AWS words it: ``exit status 1`` or ``signal: killed``."""
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        name = {signal.SIGKILL: "killed", signal.SIGSEGV: "segmentation fault"}.get(
            sig, signal.Signals(sig).name.lower().removeprefix("sig")
        )
        return f"signal: {name}"
    return f"exit status {os.waitstatus_to_exitcode(status)}"


# -- core side -----------------------------------------------------------------------


class ForkServer:
    """The core's handle on a fork server process, started on first use.

    The server is supervised: a handler can kill it (it is the parent of every
    environment), so a spawn that finds it dead starts a new one and goes on. The
    environments the dead one forked are reported as killed.
    """

    def __init__(self, preload: tuple[str, ...] = ()) -> None:
        self.preload = preload
        self._proc: subprocess.Popen[bytes] | None = None
        self._ctl: socket.socket | None = None
        self._exits: dict[int, str] = {}
        #: Environments the running server has forked and not yet reported gone.
        self._children: set[int] = set()
        self._cond = threading.Condition()
        self._start_lock = threading.Lock()
        #: How many servers were started (a restart after a crash makes it 2, …).
        self.starts = 0

    def start(self) -> socket.socket:
        """Start the server (once, and again if it has died) and return the control socket."""
        with self._start_lock:
            if self._ctl is not None and self._proc is not None and self._proc.poll() is None:
                return self._ctl
            self._discard()
            ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
            paths = [p for p in sys.path if p and os.path.isabs(p)]
            boot = (
                "import sys, json; sys.path[:] = json.loads(sys.argv[1]); "
                "from lambdalab.runtime.forkserver import main; main()"
            )
            self._proc = subprocess.Popen(
                [sys.executable, "-c", boot, json.dumps(paths), str(theirs.fileno())]
                + list(self.preload),
                stdin=subprocess.PIPE,
                pass_fds=[theirs.fileno()],
                cwd="/",
                env={"PATH": os.defpath, "LANG": "C.UTF-8"},
            )
            theirs.close()
            hello = json.loads(ours.recv(_MAX_MESSAGE))
            assert hello.get("ready"), hello
            self._ctl = ours
            self.starts += 1
            threading.Thread(
                target=self._read_exits, args=(ours,), name="lambdalab-forkserver", daemon=True
            ).start()
            return ours

    def _discard(self) -> None:
        """Forget a server that has died: reap it, close its socket (its reader then
        reports its environments as killed)."""
        if self._proc is not None:
            if self._proc.stdin is not None:
                self._proc.stdin.close()
            self._proc.wait()
            self._proc = None
        if self._ctl is not None:
            try:
                self._ctl.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self._ctl.close()
            self._ctl = None

    def _read_exits(self, ctl: socket.socket) -> None:
        """Follow one server's reports (forks and exits) until it goes away."""
        while True:
            try:
                data = ctl.recv(_MAX_MESSAGE)
            except OSError:
                data = b""
            if not data:
                break
            msg = json.loads(data)
            with self._cond:
                if "forked" in msg:
                    self._children.add(msg["forked"])
                else:
                    self._children.discard(msg["pid"])
                    self._exits[msg["pid"]] = msg["status"]
                self._cond.notify_all()
        with self._cond:  # the server is gone, and so are (or will be) its environments
            for pid in self._children:
                self._exits.setdefault(pid, "signal: killed")
            self._children.clear()
            self._cond.notify_all()

    def spawn(self, spec: dict[str, Any]) -> tuple[Connection, int]:
        """Fork a new environment; returns its frame pipe and the read end of its log.

        A server found dead (before or while it is sent the request) is restarted."""
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        log_r, log_w = os.pipe()
        request = [json.dumps(spec).encode()]
        try:
            try:
                socket.send_fds(self.start(), request, [theirs.fileno(), log_w])
            except OSError:  # it died since start() looked: once more, with a new one
                socket.send_fds(self.start(), request, [theirs.fileno(), log_w])
        finally:
            theirs.close()
            os.close(log_w)
        os.set_blocking(log_r, False)
        return Connection(ours.detach()), log_r

    def exit_status(self, pid: int, timeout: float = 2.0) -> str | None:
        """How environment ``pid`` ended, once the server has reaped it."""
        with self._cond:
            self._cond.wait_for(lambda: pid in self._exits, timeout)
            return self._exits.pop(pid, None)

    def forget(self, pid: int) -> None:
        with self._cond:
            self._exits.pop(pid, None)

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def close(self) -> None:
        with self._start_lock:
            if self._proc is None:
                return
            assert self._proc.stdin is not None
            self._proc.stdin.close()  # EOF: the server kills its children and exits
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
            if self._ctl is not None:
                self._ctl.close()
            self._proc = None
            self._ctl = None


# -- server side ---------------------------------------------------------------------


def main() -> None:
    """Run the fork server: ``argv = [paths, control fd, *preload]``."""
    ctl = socket.socket(fileno=int(sys.argv[2]))
    for module in sys.argv[3:]:
        try:
            __import__(module)
        except Exception:  # a missing optional preload only costs speed
            pass
    from . import bootstrap  # noqa: F401  (preloaded for every child)

    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_r, False)
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    _no_stop_notices(signal.SIGCHLD)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the core's to handle

    children: set[int] = set()
    selector = selectors.DefaultSelector()
    selector.register(ctl, selectors.EVENT_READ, "spawn")
    selector.register(wake_r, selectors.EVENT_READ, "reap")
    selector.register(sys.stdin.fileno(), selectors.EVENT_READ, "lifeline")
    ctl.send(json.dumps({"ready": os.getpid()}).encode())

    while True:
        for key, _ in selector.select():
            if key.data == "spawn":
                msg, fds, _, _ = socket.recv_fds(ctl, _MAX_MESSAGE, 2)
                if not msg:
                    continue
                pid = os.fork()
                if pid == 0:
                    _become_environment(json.loads(msg), fds, [ctl.fileno(), wake_r, wake_w])
                for fd in fds:
                    os.close(fd)
                children.add(pid)
                _report(ctl, {"forked": pid})
            elif key.data == "reap":
                try:
                    while os.read(wake_r, 4096):
                        pass
                except BlockingIOError:
                    pass
                _reap(children, ctl)
            elif not os.read(sys.stdin.fileno(), 1):
                for pid in children:
                    try:
                        os.killpg(pid, signal.SIGKILL)
                    except OSError:
                        pass
                os._exit(0)


#: glibc's ``struct sigaction`` on Linux: handler, 128-byte mask, int flags, restorer.
_SIGACTION_SIZE, _SA_FLAGS_OFFSET, _SA_NOCLDSTOP = 152, 136, 1


def _no_stop_notices(sig: int) -> None:
    """Add ``SA_NOCLDSTOP`` to the handler of ``SIGCHLD`` (Python cannot ask for it).

    The ``limited`` sandbox freezes environments with ``SIGSTOP`` and thaws them with
    ``SIGCONT``; without this flag each freeze and each thaw would also wake the fork
    server with a ``SIGCHLD`` that reports nothing it needs (it reaps exits only).
    """
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes
        import ctypes.util

        libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
        action = ctypes.create_string_buffer(_SIGACTION_SIZE)
        if libc.sigaction(sig, None, action) != 0:
            return
        flags = int.from_bytes(action.raw[_SA_FLAGS_OFFSET : _SA_FLAGS_OFFSET + 4], sys.byteorder)
        action[_SA_FLAGS_OFFSET : _SA_FLAGS_OFFSET + 4] = (flags | _SA_NOCLDSTOP).to_bytes(4, sys.byteorder)
        libc.sigaction(sig, action, None)
    except (OSError, AttributeError):
        pass  # notices cost a wake-up each, nothing worse


def _reap(children: set[int], ctl: socket.socket) -> None:
    while children:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        children.discard(pid)
        _report(ctl, {"pid": pid, "status": describe_status(status)})


def _report(ctl: socket.socket, message: dict[str, Any]) -> None:
    try:
        ctl.send(json.dumps(message).encode())
    except OSError:
        pass  # the core has gone: the lifeline ends this server next


def _become_environment(spec: dict[str, Any], fds: list[int], close: list[int]) -> None:
    """In the forked child: become a clean execution environment, then run the runtime."""
    code = 0
    try:
        os.setsid()  # its own process group: the core kills the whole tree at once
        signal.set_wakeup_fd(-1)
        for sig in (signal.SIGCHLD, signal.SIGINT):
            signal.signal(sig, signal.SIG_DFL)
        for fd in close:
            os.close(fd)
        conn_fd, log_fd = fds
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.dup2(log_fd, 1)
        os.dup2(log_fd, 2)
        os.close(devnull)
        os.close(log_fd)
        sys.stdout = io.TextIOWrapper(
            io.FileIO(1, "w", closefd=False), encoding="utf-8", line_buffering=True
        )
        sys.stderr = io.TextIOWrapper(
            io.FileIO(2, "w", closefd=False), encoding="utf-8", line_buffering=True
        )
        os.environ.clear()
        os.environ.update(spec["environ"])
        tempfile.tempdir = spec["tmp_dir"]
        os.chdir(spec["task_root"])
        _apply_rlimits(spec.get("rlimits", {}))
        sys.path.insert(0, spec["task_root"])
        sys.argv = ["/var/runtime/bootstrap"]

        from .bootstrap import SPIN_S, serve

        serve(
            Connection(conn_fd),
            spec["handler"],
            spec.get("freeze_when_idle", False),
            spec.get("spin_s", SPIN_S),
        )
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:
        code = 1
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def _apply_rlimits(rlimits: dict[str, int]) -> None:
    """Hold the environment to ``{"NOFILE": 1024, ...}`` (``resource.RLIMIT_*`` names).

    Applied in the child before the runtime imports the handler, so INIT runs limited too.
    """
    import resource

    for name, value in rlimits.items():
        resource.setrlimit(getattr(resource, f"RLIMIT_{name}"), (value, value))
