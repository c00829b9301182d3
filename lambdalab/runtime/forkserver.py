"""A fork server: one preloaded Python process that forks execution environments.

A cold start on AWS pays for a fresh runtime; lambdalab makes it cost one ``fork()`` of
a process that has already imported the runtime (and, by default, boto3). The core talks
to the server over a Unix sequenced-packet socket (messages, and an end when either
side goes away): each request carries the new environment's
spec as JSON and two file descriptors (SCM_RIGHTS): the pipe for invoke frames and the
write end of its log pipe. The server forks, the child becomes the environment, and the
server reports each child's exit status back. When the core goes away (EOF on the
server's stdin) the server kills every environment it started and exits.

The core side is :class:`ForkServer`; the server side is :func:`main`.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import io
import itertools
import json
import os
import platform
import select
import selectors
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from multiprocessing.connection import Connection
from typing import Any, Callable

_MAX_MESSAGE = 256 * 1024
#: How often a spawn is tried on a server that dies under it (each try restarts it).
_SPAWN_TRIES = 3
#: How long a spawn waits for the server to say it has forked (it does so at once).
_SPAWN_WAIT_S = 10.0


def describe_status(status: int) -> str:
    """A wait status the way AWS words it: ``exit status 1`` or ``signal: killed``."""
    if os.WIFSIGNALED(status):
        sig = signal.Signals(os.WTERMSIG(status))
        name = {signal.SIGKILL: "killed", signal.SIGSEGV: "segmentation fault"}.get(
            sig, sig.name.lower().removeprefix("sig")
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
        #: Of the servers started, those known to have ended.
        self._ended: set[int] = set()
        #: Spawn requests the server has forked, by token: the environment's pid.
        self._forked: dict[int, int] = {}
        self._tokens = itertools.count()

    def start(self) -> socket.socket:
        """Start the server (once, and again if it has died) and return the control socket."""
        return self._running()[0]

    def _running(self) -> tuple[socket.socket, int]:
        """The running server's control socket and its number (:attr:`starts`)."""
        with self._start_lock:
            if (
                self._ctl is not None
                and self._proc is not None
                and self.starts not in self._ended
                and self._proc.poll() is None
            ):
                return self._ctl, self.starts
            self._discard()
            ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
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
                target=self._read_exits,
                args=(ours, self.starts),
                name="lambdalab-forkserver",
                daemon=True,
            ).start()
            return ours, self.starts

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

    def _read_exits(self, ctl: socket.socket, number: int) -> None:
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
                    self._forked[msg["token"]] = msg["forked"]
                else:
                    self._children.discard(msg["pid"])
                    self._exits[msg["pid"]] = msg["status"]
                self._cond.notify_all()
        with self._cond:  # the server is gone: so are its environments (they die with
            for pid in self._children:  # it), and all they started
                try:
                    os.killpg(pid, signal.SIGKILL)
                except OSError:
                    pass
                self._exits.setdefault(pid, "signal: killed")
            self._children.clear()
            self._ended.add(number)
            self._cond.notify_all()

    def spawn(self, spec: dict[str, Any]) -> tuple[Connection, int]:
        """Fork a new environment; returns its frame pipe and the read end of its log.

        The server says when it has forked; one found dead before it did (a request
        sent to a dying server is lost with it) is restarted and asked again."""
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        log_r, log_w = os.pipe()
        token = next(self._tokens)
        request = [json.dumps({**spec, "token": token}).encode()]
        try:
            for _ in range(_SPAWN_TRIES):
                ctl, number = self._running()
                try:
                    socket.send_fds(ctl, request, [theirs.fileno(), log_w])
                except OSError:  # it died (its socket is closed) since _running() looked
                    with self._cond:
                        self._ended.add(number)
                    continue
                with self._cond:
                    self._cond.wait_for(
                        lambda: token in self._forked or number in self._ended, _SPAWN_WAIT_S
                    )
                    if self._forked.pop(token, None) is not None or number not in self._ended:
                        break
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
    # What the preloads made lives as long as this server: frozen, it is never visited by
    # an environment's full collections, which would stop its invoke for milliseconds and
    # write to, so copy, every page that holds it (https://docs.python.org/3/library/gc.html#gc.freeze).
    gc.freeze()

    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_r, False)
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    _no_stop_notices(signal.SIGCHLD)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the core's to handle

    children: set[int] = set()
    #: The init of each confined environment's PID namespace: its environment's pid.
    inits: dict[int, int] = {}
    namespaces = PidNamespaces.open()
    alive_r, alive_w = os.pipe()  # its children see a hang-up when this server is gone
    selector = selectors.DefaultSelector()
    selector.register(ctl, selectors.EVENT_READ, "spawn")
    selector.register(wake_r, selectors.EVENT_READ, "reap")
    selector.register(sys.stdin.fileno(), selectors.EVENT_READ, "lifeline")
    ctl.send(json.dumps({"ready": os.getpid()}).encode())

    while True:
        for key, _ in selector.select():
            if key.data == "spawn":
                msg, fds, _, _ = socket.recv_fds(ctl, _MAX_MESSAGE, 2)
                if not msg:  # the core has gone
                    _end(children, inits)
                spec = json.loads(msg)
                closed = [ctl.fileno(), wake_r, wake_w, alive_w]
                closed += [namespaces.fd] if namespaces else []
                own = namespaces if spec.get("confine") else None
                pid, init = _fork_environment(spec, fds, closed, alive_r, own)
                for fd in fds:
                    os.close(fd)
                children.add(pid)
                if init is not None:
                    inits[init] = pid
                _report(ctl, {"forked": pid, "token": spec.get("token")})
            elif key.data == "reap":
                try:
                    while os.read(wake_r, 4096):
                        pass
                except BlockingIOError:
                    pass
                _reap(children, inits, ctl)
            elif not os.read(sys.stdin.fileno(), 1):
                _end(children, inits)


def _end(children: set[int], inits: dict[int, int]) -> None:
    """The core has gone: kill every environment (and all it started), and exit."""
    for pid in children:
        _kill_group(pid)
    for init in inits:
        _kill(init)
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
        # ctypes takes bytes for a slice of a char array; typeshed lists only a list there
        action[_SA_FLAGS_OFFSET : _SA_FLAGS_OFFSET + 4] = (flags | _SA_NOCLDSTOP).to_bytes(4, sys.byteorder)  # type: ignore[call-overload]
        libc.sigaction(sig, action, None)
    except (OSError, AttributeError):
        pass  # notices cost a wake-up each, nothing worse


def _reap(children: set[int], inits: dict[int, int], ctl: socket.socket) -> None:
    """Report each environment that has exited, and kill what it left behind in its
    process group (in a contained environment, every descendant) while its pid, a
    zombie until reaped, still names the group; and the init of its PID namespace, if
    it has one, which kills every process left in the namespace however it detached."""
    while children or inits:
        try:
            exited = os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:
            return
        if exited is None:
            return
        if exited.si_pid in inits:  # its environment died with it (or before it)
            os.waitpid(exited.si_pid, 0)
            del inits[exited.si_pid]
            continue
        _kill_group(exited.si_pid)
        for init in [i for i, env in inits.items() if env == exited.si_pid]:
            _kill(init)
        pid, status = os.waitpid(exited.si_pid, 0)
        children.discard(pid)
        _report(ctl, {"pid": pid, "status": describe_status(status)})


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except OSError:
        pass


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass


def _report(ctl: socket.socket, message: dict[str, Any]) -> None:
    try:
        ctl.send(json.dumps(message).encode())
    except OSError:
        pass  # the core has gone: the lifeline ends this server next


def _fork_environment(
    spec: dict[str, Any],
    fds: list[int],
    close: list[int],
    alive: int,
    namespaces: PidNamespaces | None,
) -> tuple[int, int | None]:
    """Fork an environment; returns its pid and that of its PID namespace's init.

    With ``namespaces``, the environment gets a PID namespace of its own: a first child
    is the namespace's init (pid 1, :func:`_become_init`) and the environment its second
    (pid 2), both children of this server, which reaps the environment and reports its
    exit status as it does any other's. None for the init where it has none.
    """
    init = namespaces.enter(lambda: _become_init(fds + close, alive)) if namespaces else None
    try:
        pid = os.fork()
        if pid == 0:
            _become_environment(spec, fds, close, alive)
    finally:
        if init is not None and namespaces is not None:
            namespaces.leave()
    return pid, init


def _become_init(close: list[int], alive: int) -> None:
    """In the first child of a PID namespace, its pid 1: reap what is orphaned into the
    namespace until this server kills it, when its environment has exited (or dies with
    the server). Pid 1 ignores each signal sent from inside its namespace that it has no
    handler for, so the environment cannot end it; when it dies, the kernel kills every
    process left in the namespace, however it detached."""
    try:
        os.setsid()
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, lambda *_: None)  # wakes pause() below
        for fd in close:
            os.close(fd)
        _die_with_server(alive)
        while True:
            try:
                os.wait()
            except ChildProcessError:
                signal.pause()
    finally:
        os._exit(1)


def _host_pid() -> int:
    """This process's pid as the host sees it, which the core names environments by:
    in a PID namespace of its own, ``os.getpid()`` is 2. Read before the environment
    mounts its own ``/proc``."""
    try:
        return int(os.readlink(PROC + "/self"))
    except (OSError, ValueError):
        return os.getpid()


def _become_environment(
    spec: dict[str, Any], fds: list[int], close: list[int], alive: int
) -> None:
    """In the forked child: become a clean execution environment, then run the runtime."""
    code = 0
    try:
        pid = _host_pid()
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
        task_root, tmp_dir = spec["task_root"], spec["tmp_dir"]
        if spec.get("confine"):
            try:
                task_root, tmp_dir = confine(spec["confine"], task_root, tmp_dir)
            except OSError as e:  # the host's doing, not the function's: say so
                print(f"lambdalab: cannot confine the environment: {e}", file=sys.stderr)
                raise
        tempfile.tempdir = tmp_dir
        os.chdir(task_root)
        _apply_rlimits(spec.get("rlimits", {}))
        if spec.get("contain"):
            contain(alive)
        os.close(alive)
        sys.path.insert(0, task_root)
        sys.argv = ["/var/runtime/bootstrap"]

        from .bootstrap import serve
        from .protocol import SPIN_S, SpinPolicy

        # The core's pid names another process, or none, in a PID namespace of its own.
        core_pid = spec.get("core_pid", 0) if pid == os.getpid() else 0
        serve(
            Connection(conn_fd),
            spec["handler"],
            spec.get("freeze_when_idle", False),
            SpinPolicy(core_pid, spec.get("spin_s", SPIN_S)),
            pid,
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


# -- containment ----------------------------------------------------------------------

_PR_SET_PDEATHSIG, _PR_SET_DUMPABLE, _PR_SET_SECCOMP = 1, 4, 22
_PR_SET_CHILD_SUBREAPER, _PR_SET_NO_NEW_PRIVS = 36, 38
_SECCOMP_MODE_FILTER = 2
_RET_ALLOW, _RET_ERRNO = 0x7FFF0000, 0x00050000
_EPERM, _ENOSYS = 1, 38
_CLONE_PARENT = 0x00008000
_LD_ABS, _JEQ, _JGE, _JSET, _RET = 0x20, 0x15, 0x35, 0x45, 0x06
#: Per architecture: ``AUDIT_ARCH_*`` and the numbers of setsid, setpgid, clone, clone3.
_SYSCALLS = {
    "x86_64": (0xC000003E, 112, 109, 56, 435),
    "aarch64": (0xC00000B7, 157, 154, 220, 435),
}


class _SockFilter(ctypes.Structure):
    _fields_ = [
        ("code", ctypes.c_ushort),
        ("jt", ctypes.c_ubyte),
        ("jf", ctypes.c_ubyte),
        ("k", ctypes.c_uint),
    ]


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(_SockFilter))]


def _stay_in_group_filter() -> tuple[_SockFprog, ctypes.Array[_SockFilter]] | None:
    """A seccomp program under which no process can leave its process group.

    ``setsid()`` and ``setpgid()`` succeed and do nothing (the process stays where it
    is: a daemon that detaches is still the environment's, to freeze and to kill);
    ``clone()`` with ``CLONE_PARENT`` (a child for the environment's parent) is refused;
    ``clone3()``, whose flags a filter cannot read, answers ``ENOSYS``, so the C library
    uses ``clone()`` instead; another architecture's system calls are refused.
    """
    numbers = _SYSCALLS.get(platform.machine())
    if numbers is None:
        return None
    arch, setsid, setpgid, clone, clone3 = numbers
    code = [
        (_LD_ABS, 0, 0, 4),  # seccomp_data.arch
        (_JEQ, 1, 0, arch),
        (_RET, 0, 0, _RET_ERRNO | _ENOSYS),
        (_LD_ABS, 0, 0, 0),  # seccomp_data.nr
        (_JGE, 0, 1, 0x40000000),  # x32 numbering
        (_RET, 0, 0, _RET_ERRNO | _ENOSYS),
        (_JEQ, 8, 0, setsid),
        (_JEQ, 7, 0, setpgid),
        (_JEQ, 3, 0, clone3),
        (_JEQ, 0, 3, clone),
        (_LD_ABS, 0, 0, 16),  # seccomp_data.args[0], low half: clone's flags
        (_JSET, 2, 1, _CLONE_PARENT),
        (_RET, 0, 0, _RET_ERRNO | _ENOSYS),  # clone3
        (_RET, 0, 0, _RET_ALLOW),
        (_RET, 0, 0, _RET_ERRNO | _EPERM),  # clone(CLONE_PARENT)
        (_RET, 0, 0, _RET_ERRNO | 0),  # setsid, setpgid: "done"
    ]
    instructions = (_SockFilter * len(code))(*(_SockFilter(*i) for i in code))
    return _SockFprog(len(code), instructions), instructions


def containment() -> Callable[[], None]:
    """What keeps every descendant of an environment in it, however it detaches, as a
    function to call in the environment's first process (before ``exec``, if any).
    Everything is prepared here; the function only makes system calls.

    * its descendants cannot leave its process group (``_stay_in_group_filter``,
      inherited by every descendant and kept across ``exec``), so the signals that
      throttle, freeze and kill the group reach all of them;
    * it is their *subreaper*: a child whose parent exits (a double fork) becomes its
      child, not init's, and stays in the tree whose memory and CPU time are counted.

    Linux only; elsewhere, nothing.
    """
    if not sys.platform.startswith("linux"):
        return lambda: None
    libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
    program = _stay_in_group_filter()

    def contain() -> None:
        libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
        if program is not None:
            libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
            if libc.prctl(_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER, ctypes.byref(program[0]), 0, 0):
                raise OSError(ctypes.get_errno(), "seccomp filter refused")

    return contain


def contain(alive: int) -> None:
    """:func:`containment`, in a forked environment of this server: it also dies with
    the server, which kills the environment's process group (:func:`_die_with_server`)."""
    containment()()
    _die_with_server(alive)


def _die_with_server(alive: int) -> None:
    """Be killed when the fork server dies (``PR_SET_PDEATHSIG``), and exit now if it
    already has: ``alive`` is the read end of a pipe only the server holds open for
    writing, which hangs up when it dies (``os.getppid()`` cannot tell: in a PID
    namespace of its own, a child sees no parent)."""
    if sys.platform.startswith("linux"):
        # the process's own symbols (libc's among them): find_library("c") would run
        # ldconfig, a process that, in a fresh PID namespace, could take pid 2 first
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    hang_up = select.poll()
    hang_up.register(alive, select.POLLIN)
    if hang_up.poll(0):  # the server died before the line above
        os._exit(1)


class PidNamespaces:
    """Gives a child of this (root) process a PID namespace of its own
    (``unshare(CLONE_NEWPID)``): in it the child and what it starts see only each
    other, with small pids, and the host's processes not at all (``kill()`` of a host
    pid fails with ``ESRCH``). ``fd`` holds this process's own namespace, to return to."""

    def __init__(self, libc: Any, fd: int) -> None:
        self._libc = libc
        self.fd = fd

    @classmethod
    def open(cls) -> PidNamespaces | None:
        """Where PID namespaces can be made (Linux, root), the means to; else None."""
        if not sys.platform.startswith("linux") or os.geteuid() != 0:
            return None
        try:
            fd = os.open(PROC + "/self/ns/pid", os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            return None
        return cls(ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True), fd)

    def enter(self, init: Callable[[], None]) -> int | None:
        """Fork the init (pid 1) of a new PID namespace, which runs ``init``; until
        :meth:`leave`, every child this process forks joins that namespace. Returns
        the init's pid, or None where the kernel refuses a namespace."""
        if not self.unshare():
            return None
        try:
            pid = os.fork()
        except OSError:
            self.leave()
            raise
        if pid == 0:
            init()
        return pid

    def leave(self) -> None:
        """Fork children into this process's own PID namespace again."""
        if self._libc.setns(self.fd, _CLONE_NEWPID) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"setns(CLONE_NEWPID): {os.strerror(err)}")

    def unshare(self) -> bool:
        """Until :meth:`leave`, the first child the calling thread forks is the init
        (pid 1) of a new PID namespace, and the next ones join it (the namespace for
        children is each thread's own: other threads fork as before). False where the
        kernel refuses a namespace."""
        return self._libc.unshare(_CLONE_NEWPID) == 0


def runtime_init(setup: Callable[[], None] | None, status: int) -> Callable[[], None]:
    """A ``preexec_fn`` for a Runtime API runtime started in a PID namespace of its own
    (:meth:`PidNamespaces.unshare`): the child it runs in is the namespace's init, pid 1,
    which forks the runtime, pid 2, and reaps until it exits. The runtime makes a
    session (process group) of its own, runs ``setup`` (its confinement, limits) and
    goes on to ``exec``; the init, outside that group and so outside what the core
    counts, freezes and kills, writes the runtime's wait status to ``status`` and
    exits, which ends the namespace: the kernel kills what is left in it."""

    def preexec() -> None:
        runtime = os.fork()
        if runtime == 0:
            os.setsid()
            if setup is not None:
                setup()
            return
        _reap_until(runtime, status)

    return preexec


def _reap_until(runtime: int, status: int) -> None:
    """The init's part of :func:`runtime_init`; never returns. It holds no descriptor
    but ``status``, so the parent's ``subprocess`` sees its error pipe close when the
    runtime's ``exec`` succeeds (or its error when it fails).

    It waits for the runtime to end, reaping what the namespace hands it meanwhile, and
    watches ``status``: when its reader (the core) is gone, so is the environment, and
    the init exits, which makes the kernel kill what is left in the namespace — a
    runtime never outlives the lambdalab that started it."""
    try:
        signal.set_wakeup_fd(-1)
        os.closerange(0, status)
        os.closerange(status + 1, os.sysconf("SC_OPEN_MAX"))
        poller = select.poll()
        poller.register(os.pidfd_open(runtime), select.POLLIN)  # readable once it ends
        poller.register(status, 0)  # POLLERR, always reported: no reader left
        while True:
            ready = poller.poll(_ORPHAN_REAP_MS)
            _reap_ended(runtime, status)
            if any(fd == status for fd, _ in ready):
                os._exit(1)
    finally:
        os._exit(1)


#: How often an init reaps the orphans its namespace hands it while the runtime runs
#: (a zombie counts against the environment's 1,024 tasks until it is reaped).
_ORPHAN_REAP_MS = 1000


def _reap_ended(runtime: int, status: int) -> None:
    """Reap every child that has ended; pass on the runtime's wait status and exit when
    it is among them."""
    while True:
        try:
            pid, wait_status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        if pid == runtime:
            os.write(status, str(wait_status).encode())
            os._exit(0)


def first_child(pid: int) -> int | None:
    """The host pid of the (oldest living) child of single-threaded process ``pid``, or
    None. Where the kernel has no ``/proc/PID/task/TID/children``, the process list is
    searched instead."""
    try:
        with open(f"{PROC}/{pid}/task/{pid}/children") as children:
            found = [int(child) for child in children.read().split()]
    except OSError:
        found = [child for child in _pids() if _parent_of(child) == pid]
    return found[0] if found else None


def _pids() -> list[int]:
    return sorted(int(entry) for entry in os.listdir(PROC) if entry.isdigit())


def _parent_of(pid: int) -> int | None:
    try:
        with open(f"{PROC}/{pid}/stat") as stat:
            return int(stat.read().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


# -- confinement (as root) --------------------------------------------------------------

_CLONE_NEWNS, _CLONE_NEWPID = 0x00020000, 0x20000000
_MS_RDONLY, _MS_NOSUID, _MS_NODEV, _MS_REMOUNT, _MS_BIND = 1, 2, 4, 32, 4096
_MS_NOEXEC, _MS_REC, _MS_PRIVATE = 8, 16384, 1 << 18
#: Where an environment finds its code, its scratch space and its layers, as on AWS.
TASK_ROOT, TMP, OPT = "/var/task", "/tmp", "/opt"
PROC = "/proc"
#: The host folder that stands for ``/opt`` (:func:`lambdalab.layers.opt_environment`).
OPT_VARIABLE = "LAMBDALAB_OPT"


def confine(how: dict[str, int], task_root: str, tmp_dir: str) -> tuple[str, str]:
    """Make this (root) process an unprivileged environment, as AWS runs a handler as
    ``sbx_user1051`` (:func:`sandbox`), and rewrite the environment's variables
    that named the host's folders (PATH's and LD_LIBRARY_PATH's parts too) to the ones
    it now sees. Returns the task root and temporary directory it now has.

    ``how`` is the ``confine`` entry of a spawn message; the process has opened all it
    needs from the host (its pipes) before this.
    """
    sandbox(how, task_root, os.environ.get(OPT_VARIABLE))()
    os.environ.update(confined_environ(dict(os.environ), task_root, tmp_dir))
    return TASK_ROOT, TMP


def confined_environ(environ: dict[str, str], task_root: str, tmp_dir: str) -> dict[str, str]:
    """``environ`` with each path under the host's code, scratch and layers folders
    renamed to ``/var/task``, ``/tmp`` and ``/opt``, where a confined environment sees them."""
    opt = environ.get(OPT_VARIABLE)
    names = list(environ)
    return dict(zip(names, confined_paths([environ[n] for n in names], task_root, tmp_dir, opt)))


def confined_paths(
    values: list[str], task_root: str, tmp_dir: str, opt: str | None
) -> list[str]:
    """Each of ``values`` (a path, or a ``:``-separated list of them) as a confined
    environment sees it (see :func:`confined_environ`)."""
    moves = [(task_root, TASK_ROOT), (tmp_dir, TMP)] + ([(opt, OPT)] if opt else [])
    return [_moved(value, moves) for value in values]


def sandbox(how: dict[str, int], task_root: str, opt: str | None) -> Callable[[], None]:
    """A function that gives this (root) process its own mount namespace in which the
    code is ``/var/task``, read-only, ``/tmp`` a fresh ``tmpfs`` of ``how["tmp_mb"]`` MB
    owned by the sandbox user, ``/opt`` the function's layers, read-only, as on AWS
    (https://docs.aws.amazon.com/lambda/latest/dg/packaging-layers.html), or an empty
    read-only folder for a function without layers, and ``/proc`` a ``procfs`` that
    shows no process of another user (``hidepid=2``); then makes it the user and group
    ``how["uid"]``/``how["gid"]``, without supplementary groups or capabilities, in
    ``/var/task``.

    The C library is found here; the function returned makes only system calls, so it
    can run between ``fork()`` and ``exec()`` of a Runtime API runtime (``provided.*``,
    ``nodejs*.x``), in a child of a process that has other threads.
    """
    libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
    tops = _runtime_tops()

    def enter() -> None:
        _enter_sandbox(libc, how, task_root, opt, tops)

    return enter


def _enter_sandbox(
    libc: Any, how: dict[str, int], task_root: str, opt: str | None, tops: list[str]
) -> None:
    def check(result: int, what: str) -> None:
        if result != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"{what}: {os.strerror(err)}")

    check(libc.unshare(_CLONE_NEWNS), "unshare(CLONE_NEWNS)")
    check(libc.mount(b"none", b"/", None, _MS_REC | _MS_PRIVATE, None), "mount --make-rprivate /")
    os.makedirs(TASK_ROOT, exist_ok=True)  # a mount point (empty on the host)
    check(libc.mount(task_root.encode(), TASK_ROOT.encode(), None, _MS_BIND, None), "bind /var/task")
    read_only = _MS_REMOUNT | _MS_BIND | _MS_RDONLY | _MS_NOSUID | _MS_NODEV
    check(libc.mount(None, TASK_ROOT.encode(), None, read_only, None), "remount /var/task ro")
    os.makedirs(OPT, exist_ok=True)
    if opt:  # before /tmp is hidden: the layers' folder may be under it
        check(libc.mount(opt.encode(), OPT.encode(), None, _MS_BIND, None), "bind /opt")
        check(libc.mount(None, OPT.encode(), None, read_only, None), "remount /opt ro")
    else:  # not the host's /opt: an empty folder, as a function without layers has
        flags = _MS_RDONLY | _MS_NOSUID | _MS_NODEV
        check(libc.mount(b"tmpfs", OPT.encode(), b"tmpfs", flags, b"size=4k,mode=755"), "tmpfs /opt")
    _reveal_runtime(libc, check, read_only, tops)
    # a runtime (a virtual environment, a checkout on sys.path) may live under /tmp:
    # held open before the private /tmp hides it, then bound back at its own path
    under_tmp = [p for p in tops if p.startswith(TMP + "/")]
    handles = {p: os.open(p, os.O_PATH) for p in under_tmp}
    uid, gid = how["uid"], how["gid"]
    options = f"size={how['tmp_mb']}m,mode=1777,uid={uid},gid={gid}".encode()
    check(libc.mount(b"tmpfs", TMP.encode(), b"tmpfs", _MS_NOSUID | _MS_NODEV, options), "tmpfs /tmp")
    try:
        _bind_read_only(libc, check, read_only, handles)
    finally:
        for fd in handles.values():
            os.close(fd)
    # its own /proc: of its PID namespace where it has one, and listing only processes
    # of its own user, the environment's (each environment has a user of its own)
    proc_flags = _MS_NOSUID | _MS_NODEV | _MS_NOEXEC
    check(libc.mount(b"proc", PROC.encode(), b"proc", proc_flags, b"hidepid=2"), "proc /proc")
    os.setgroups([])
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)
    # The change of user made it undumpable, which hides its own children from it in
    # that /proc: the environment's processes are its user's, as a handler's are on AWS.
    libc.prctl(_PR_SET_DUMPABLE, 1, 0, 0, 0)
    os.chdir(TASK_ROOT)
    # Environments have users of their own but share a group: what one writes into a
    # folder of the host's that several reach stays writable by the others.
    os.umask(0o002)


def _reveal_runtime(
    libc: Any, check: Callable[[int, str], None], read_only: int, tops: list[str]
) -> None:
    """Let the unprivileged user reach the interpreter and the modules on ``sys.path``
    (AWS's runtime is world-readable at ``/var/lang`` and ``/var/runtime``). One that
    lives under a folder others may not enter (pyenv's under ``/root``, ``0700``) is
    bound read-only at its own path over an empty ``tmpfs`` mounted on that folder,
    which hides the rest of it."""
    hidden = {p: _closed_ancestor(p) for p in tops}
    handles = {p: os.open(p, os.O_PATH) for p, closed in hidden.items() if closed}
    try:
        covered: list[str] = []
        for closed in sorted({c for c in hidden.values() if c}, key=len):
            if any(closed == c or closed.startswith(c + "/") for c in covered):
                continue
            flags = _MS_NOSUID | _MS_NODEV
            check(libc.mount(b"tmpfs", closed.encode(), b"tmpfs", flags, b"mode=755"), f"tmpfs {closed}")
            covered.append(closed)
        _bind_read_only(libc, check, read_only, handles)
    finally:
        for fd in handles.values():
            os.close(fd)


def _runtime_tops() -> list[str]:
    """The interpreter's prefixes, the folders on ``sys.path`` and those holding the
    packages loaded, none inside another. The last matter for an editable install: its
    import finder maps packages to their folders (lambdalab's ``plugins/``) without
    putting them on ``sys.path``, and a runtime reads files from them (the Node.js
    runtime's ``node_runtime.js``)."""
    wanted = sorted(
        {sys.base_prefix, sys.prefix, *(p for p in sys.path if os.path.isdir(p)), *_package_homes()}
    )
    return [p for p in wanted if not any(p.startswith(q + "/") for q in wanted if q != p)]


def _package_homes() -> set[str]:
    """The folders that hold the top-level packages loaded now."""
    homes = set()
    for name, module in list(sys.modules.items()):
        where = getattr(module, "__path__", None)
        if "." in name or not where:
            continue
        for folder in list(where):
            if isinstance(folder, str) and os.path.isabs(folder) and os.path.isdir(folder):
                homes.add(os.path.dirname(folder))
    return homes


def _bind_read_only(
    libc: Any, check: Callable[[int, str], None], read_only: int, handles: dict[str, int]
) -> None:
    """Bind each folder held open in ``handles`` back, read-only, at its own path."""
    for path, fd in handles.items():
        os.makedirs(path, mode=0o755, exist_ok=True)
        source = f"/proc/self/fd/{fd}".encode()
        check(libc.mount(source, path.encode(), None, _MS_BIND | _MS_REC, None), f"bind {path}")
        check(libc.mount(None, path.encode(), None, read_only, None), f"remount {path} ro")


def _closed_ancestor(path: str) -> str | None:
    """The highest folder on the way to ``path`` (itself excluded) that users other than
    its owner may not enter, or None."""
    parts = path.strip("/").split("/")
    for i in range(len(parts) - 1):
        folder = "/" + "/".join(parts[: i + 1])
        if not os.stat(folder).st_mode & 0o001:
            return folder
    return None


def _moved(value: str, moves: list[tuple[str, str]]) -> str:
    """``value`` (a path, or a ``:``-separated list of them) with each path under a
    host folder of ``moves`` renamed to the folder the environment sees instead."""

    def move(path: str) -> str:
        for host, seen in moves:
            if path == host or path.startswith(host + "/"):
                return seen + path[len(host):]
        return path

    return ":".join(move(p) for p in value.split(":"))


def _apply_rlimits(rlimits: dict[str, int]) -> None:
    """Hold the environment to ``{"NOFILE": 1024, ...}`` (``resource.RLIMIT_*`` names).

    Applied in the child before the runtime imports the handler, so INIT runs limited too.
    """
    import resource

    for name, value in rlimits.items():
        resource.setrlimit(getattr(resource, f"RLIMIT_{name}"), (value, value))
