"""The lambdalab that outlives a CLI command, so consecutive invokes reach warm environments.

On AWS an execution environment lives on between invokes; a CLI process does not. So
``lambdalab invoke`` does not run the function itself: it sends the invoke to a lambdalab
server serving the data dir (the HTTP edge, Lambda's own REST API, on loopback), and the
environments live in that server. When none runs, the first invoke starts one in the
background and says so once on stderr. It stops after :data:`IDLE_TIMEOUT_S` without a
request, or with ``lambdalab stop``; ``lambdalab status`` shows it. A ``lambdalab serve``
on loopback without ``--auth-key`` registers itself the same way, and the CLI uses it.

The server is found through :data:`STATE_FILE` in the data dir (its pid and URL).
``LAMBDALAB_NO_DAEMON=1`` turns all this off: every command then runs in its own
process, and every invoke is a cold start.

This module is imported on every ``lambdalab`` command: the client half speaks HTTP/1.1
over a loopback socket itself (``http.client`` would import the ``email`` package and
``ssl``, which cost more than the request), so a warm invoke costs a few milliseconds
of imports. The server half (:func:`serve_in_background`) imports the Lab when it runs.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sys
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import quote, urlencode, urlsplit

from .. import limits

#: The file in the data dir that names the server serving it.
STATE_FILE = "server.json"
#: Held while a CLI command starts a server, so two commands start only one.
LOCK_FILE = "server.lock"
#: Where a background server's own stderr goes (its start-up errors, if any).
LOG_FILE = "server.log"
#: Set to ``1`` to run every command in its own process, with no background server.
NO_DAEMON_ENV = "LAMBDALAB_NO_DAEMON"
#: Seconds without a request after which a background server stops by itself.
IDLE_TIMEOUT_S = 15 * 60
#: Overrides :data:`IDLE_TIMEOUT_S` (seconds; tests use a short one).
IDLE_TIMEOUT_ENV = "LAMBDALAB_SERVER_IDLE_TIMEOUT"
#: Seconds a CLI command waits for a background server to start, or to stop.
START_TIMEOUT_S = 60
#: Seconds an invoke may wait for its answer (the longest function timeout, plus INIT).
REQUEST_TIMEOUT_S = limits.TIMEOUT_MAX_S + limits.INIT_TIMEOUT_S
#: The edge's health check (``lambdalab.server.HEALTH_PATH``, not imported: it is costly).
HEALTH_PATH = "/_lambdalab/health"
#: Seconds between two looks at the clock while the server idles.
_IDLE_CHECK_S = 1.0

#: ``started_by`` of a server the CLI started; ``serve`` for a ``lambdalab serve``.
BACKGROUND = "background"
SERVE = "serve"


@dataclass(frozen=True)
class ServerInfo:
    """What :data:`STATE_FILE` records about the server serving a data dir."""

    pid: int
    url: str
    data_dir: str
    #: The isolation backend for functions without their own (``--sandbox``).
    sandbox: str | None
    started_by: str
    idle_timeout: float | None

    def announce(self) -> str:
        """What the command that started it says, once."""
        return (
            f"started a lambdalab server in the background for {self.data_dir} on "
            f"{self.url} (pid {self.pid}), so that environments stay warm between "
            f"commands, as on AWS. It stops after {_duration(self.idle_timeout or 0)} "
            "without a request, or with `lambdalab stop`; `lambdalab status` shows it."
        )

    def describe(self, *, with_idle_timeout: bool = True) -> str:
        how = "`lambdalab serve`" if self.started_by == SERVE else "the CLI, in the background"
        line = f"lambdalab server on {self.url} (pid {self.pid}, started by {how})"
        if self.idle_timeout is not None and with_idle_timeout:
            line += f"; it stops after {_duration(self.idle_timeout)} without a request"
        return line


class ServerGone(Exception):
    """The server did not answer: it refused the connection (``refused``: the request
    never reached it) or closed it before its answer (the request may have run)."""

    def __init__(self, info: "ServerInfo", refused: bool, cause: str) -> None:
        what = "refused the connection" if refused else "closed the connection before answering"
        super().__init__(
            f"The lambdalab server on {info.url} (pid {info.pid}) {what} ({cause}). Run the "
            "command again; `lambdalab status` shows the server, `lambdalab stop` stops it."
        )
        self.refused = refused


class RemoteError(Exception):
    """An AWS error the server answered: its code (``x-amzn-ErrorType``) and message."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


@dataclass(frozen=True)
class RemoteInvoke:
    """Invoke's answer over the wire, with what the CLI prints of it."""

    status_code: int
    request_id: str
    payload: bytes
    function_error: str | None
    log_result: str | None
    executed_version: str | None

    @property
    def log_tail(self) -> str:
        import base64

        return base64.b64decode(self.log_result).decode(errors="replace") if self.log_result else ""


def _duration(seconds: float) -> str:
    return f"{seconds / 60:g} minutes" if seconds >= 60 else f"{seconds:g} s"


def disabled() -> bool:
    return os.environ.get(NO_DAEMON_ENV, "") not in ("", "0")


def wanted_sandbox(cli_sandbox: str | None) -> str | None:
    """The default sandbox a command asks for: ``--sandbox``, else ``$LAMBDALAB_SANDBOX``."""
    return cli_sandbox or os.environ.get("LAMBDALAB_SANDBOX") or None


# -- finding, starting and stopping the server ------------------------------------------


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def read_state(data_dir: Path) -> ServerInfo | None:
    """The server :data:`STATE_FILE` names, if its process is alive."""
    try:
        info = ServerInfo(**json.loads((data_dir / STATE_FILE).read_text()))
    except (OSError, ValueError, TypeError):
        return None
    return info if _alive(info.pid) else None


def _listening(info: ServerInfo) -> bool:
    """Whether the server's port takes connections (a loopback connect: ~0.1 ms). A
    process that died without removing :data:`STATE_FILE` may have left its pid to
    another; this tells them apart."""
    where = urlsplit(info.url)
    try:
        socket.create_connection(((where.hostname or "").encode("ascii"), where.port or 80), timeout=5).close()  # type: ignore[arg-type]
    except OSError:
        return False
    return True


def live_server(data_dir: Path) -> ServerInfo | None:
    """The server serving ``data_dir``, if one runs and listens; a stale record is removed."""
    info = read_state(data_dir)
    if info is not None and not _listening(info):
        clear_state(data_dir, info.pid)
        return None
    return info


def write_state(info: ServerInfo) -> None:
    """Write :data:`STATE_FILE` whole (a reader never sees half of it)."""
    path = Path(info.data_dir) / STATE_FILE
    partial = path.with_suffix(f".{info.pid}.tmp")
    partial.write_text(json.dumps(asdict(info)))
    os.replace(partial, path)


def clear_state(data_dir: Path, pid: int) -> None:
    """Remove :data:`STATE_FILE` if it still names process ``pid``."""
    path = data_dir / STATE_FILE
    try:
        if json.loads(path.read_text()).get("pid") == pid:
            path.unlink()
    except (OSError, ValueError, AttributeError):
        pass


def usable(data_dir: Path, sandbox: str | None) -> ServerInfo | None:
    """The running server for ``data_dir`` if it runs functions the way the command asks."""
    if disabled():
        return None
    info = live_server(data_dir)
    if info is None or (info.sandbox or None) != wanted_sandbox(sandbox):
        return None
    return info


def ensure(data_dir: Path, sandbox: str | None) -> ServerInfo | None:
    """The server for ``data_dir``, started in the background if none runs.

    ``None`` when background servers are off (:data:`NO_DAEMON_ENV`), or when the
    running one uses another default sandbox: the command then runs in its own process.
    """
    if disabled():
        return None
    info = live_server(data_dir)
    if info is not None:
        return info if _same_sandbox(info, sandbox) else None
    import fcntl

    data_dir.mkdir(parents=True, exist_ok=True)
    with open(data_dir / LOCK_FILE, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        info = live_server(data_dir)  # another command may have started it meanwhile
        if info is None:
            info = _start(data_dir, wanted_sandbox(sandbox))
            print(f"lambdalab: {info.announce()}", file=sys.stderr)
    return info if _same_sandbox(info, sandbox) else None


def _same_sandbox(info: ServerInfo, sandbox: str | None) -> bool:
    """Whether the server runs functions in the sandbox asked for; says so when not."""
    if (info.sandbox or None) == wanted_sandbox(sandbox):
        return True
    print(
        f"lambdalab: the server for this data dir (pid {info.pid}) uses the default sandbox "
        f"{info.sandbox or '(the lab default)'}, not {wanted_sandbox(sandbox) or 'the lab default'}"
        ": this command runs in its own process (a cold start). `lambdalab stop` stops "
        "the server; the next invoke starts one with this sandbox.",
        file=sys.stderr,
    )
    return False


def _start(data_dir: Path, sandbox: str | None) -> ServerInfo:
    """Start ``python -m lambdalab.cli.daemon`` detached; return once it accepts requests."""
    import subprocess

    env = {**os.environ}
    if sandbox:
        env["LAMBDALAB_SANDBOX"] = sandbox
    with open(data_dir / LOG_FILE, "ab") as log:
        proc = subprocess.Popen(
            # -P: no module of the data dir (the working directory) shadows a real one
            [sys.executable, "-P", "-m", "lambdalab.cli.daemon", str(data_dir.resolve())],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log, env=env,
            cwd=data_dir,  # not the folder the command ran in, which may go away
            start_new_session=True,  # Ctrl-C in the terminal stops the command, not it
        )
    assert proc.stdout is not None
    line = proc.stdout.readline()  # the server writes its state once it accepts requests
    proc.stdout.close()
    if not line:
        proc.wait(timeout=START_TIMEOUT_S)
        raise RuntimeError(
            f"The background lambdalab server did not start (exit {proc.returncode}); "
            f"see {data_dir / LOG_FILE}, or set {NO_DAEMON_ENV}=1 to run without one."
        )
    return ServerInfo(**json.loads(line))


def stop(data_dir: Path) -> ServerInfo | None:
    """Stop the server serving ``data_dir`` (SIGTERM: requests in flight finish first)."""
    info = read_state(data_dir)
    if info is None:
        return None
    try:
        os.kill(info.pid, signal.SIGTERM)
    except ProcessLookupError:
        return info
    deadline = time.monotonic() + START_TIMEOUT_S
    while _alive(info.pid) and time.monotonic() < deadline:
        _reap(info.pid)
        time.sleep(0.02)
    clear_state(data_dir, info.pid)
    return info


def background_servers() -> list[ServerInfo]:
    """Every background server of this user on this machine, whatever its data dir."""
    import psutil  # type: ignore[import-untyped]

    found = []
    for process in psutil.process_iter(["cmdline"]):
        cmdline = process.info["cmdline"] or []
        if "lambdalab.cli.daemon" in cmdline[1:-1]:  # python [-P] -m lambdalab.cli.daemon DATA_DIR
            info = read_state(Path(cmdline[-1]))
            if info is not None and info.pid == process.pid:
                found.append(info)
    return found


def wait_for_server(data_dir: Path, timeout: float = START_TIMEOUT_S) -> ServerInfo | None:
    """The server for ``data_dir`` once it answers (``lambdalab serve &`` takes a moment)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        info = read_state(data_dir)
        if info is not None:
            try:
                request(info, "GET", HEALTH_PATH)
                return info
            except OSError:
                pass
        time.sleep(0.05)
    return None


def _reap(pid: int) -> None:
    """Collect ``pid`` if it is our child (a test's), so it does not linger as a zombie."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


# -- talking to it ------------------------------------------------------------------------


def request(
    info: ServerInfo, method: str, path: str, body: bytes = b"",
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], bytes]:
    """One HTTP request to the server; an AWS error answer raises :class:`RemoteError`."""
    where = urlsplit(info.url)
    head = [f"{method} {path} HTTP/1.1", f"Host: {where.netloc}", "Connection: close",
            f"Content-Length: {len(body)}"]
    head += [f"{name}: {value}" for name, value in (headers or {}).items()]
    # The host as bytes: a str would be encoded with the idna codec, one more import.
    host = (where.hostname or "127.0.0.1").encode("ascii")
    try:
        conn = socket.create_connection((host, where.port or 80), timeout=REQUEST_TIMEOUT_S)  # type: ignore[arg-type]
    except OSError as e:
        raise ServerGone(info, True, e.strerror or str(e)) from None
    try:
        with conn:
            conn.sendall("\r\n".join(head).encode("latin-1") + b"\r\n\r\n" + body)
            status, answered, data = parse_response(_read_all(conn))
    except OSError as e:  # ConnectionError (a reset, no response) or a timeout
        raise ServerGone(info, False, e.strerror or str(e)) from None
    if "x-amzn-errortype" in answered:
        try:
            message = json.loads(data).get("message") or json.loads(data).get("Message", "")
        except (ValueError, AttributeError):
            message = data.decode(errors="replace")
        raise RemoteError(answered["x-amzn-errortype"].split(":")[0], message)
    return status, answered, data


def _read_all(conn: socket.socket) -> bytes:
    chunks = []
    while chunk := conn.recv(1 << 16):
        chunks.append(chunk)
    return b"".join(chunks)


def parse_response(raw: bytes) -> tuple[int, dict[str, str], bytes]:
    """An HTTP/1.1 response read to its end (``Connection: close``): status, headers
    (lower-cased names) and body, de-chunked if it was sent in chunks."""
    head, sep, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if not sep or len(parts) < 2 or not parts[1].isdigit():
        raise ConnectionError(f"the lambdalab server sent no HTTP response ({raw[:60]!r})")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if headers.get("transfer-encoding", "").lower() == "chunked":
        body = _dechunk(body)
    elif "content-length" in headers:
        body = body[: int(headers["content-length"])]
    return int(parts[1]), headers, body


def _dechunk(body: bytes) -> bytes:
    out = []
    while body:
        size_line, _, body = body.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            break
        out.append(body[:size])
        body = body[size + 2:]
    return b"".join(out)


def _function_path(name: str, tail: str, qualifier: str | None = None) -> str:
    path = f"/2015-03-31/functions/{quote(name, safe='')}/{tail}"
    return path + (f"?Qualifier={quote(qualifier, safe='')}" if qualifier else "")


def invoke(
    info: ServerInfo, name: str, payload: bytes | str | None, *, qualifier: str | None,
    invocation_type: str, log_type: str,
) -> RemoteInvoke:
    """Lambda's Invoke over the wire, as ``aws lambda invoke`` sends it."""
    body = payload.encode() if isinstance(payload, str) else payload or b""
    status, headers, data = request(
        info, "POST", _function_path(name, "invocations", qualifier), body,
        {"X-Amz-Invocation-Type": invocation_type, "X-Amz-Log-Type": log_type},
    )
    return RemoteInvoke(
        status_code=status,
        request_id=headers.get("x-amzn-requestid", ""),
        payload=data,
        function_error=headers.get("x-amz-function-error"),
        log_result=headers.get("x-amz-log-result"),
        executed_version=headers.get("x-amz-executed-version"),
    )


def list_functions(info: ServerInfo) -> Iterator[dict[str, Any]]:
    """Every function's ``$LATEST`` configuration (AWS JSON), page after page."""
    return _pages(info, "/2015-03-31/functions", "Functions")


def _pages(info: ServerInfo, path: str, key: str) -> Iterator[dict[str, Any]]:
    """The ``key`` items of a Marker/NextMarker listing, page after page."""
    marker = ""
    while True:
        listing = json.loads(
            request(info, "GET", path + (f"?Marker={quote(marker, safe='')}" if marker else ""))[2]
        )
        yield from listing.get(key, [])
        marker = listing.get("NextMarker") or ""
        if not marker:
            return


def _json(info: ServerInfo, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    data = b"" if body is None else json.dumps(body).encode()
    return json.loads(request(info, method, path, data)[2] or b"null")


def _function(name: str) -> str:
    return f"/2015-03-31/functions/{quote(name, safe='')}"


def get_function(info: ServerInfo, name: str, qualifier: str | None) -> dict[str, Any]:
    """GetFunction's answer (AWS JSON)."""
    query = f"?Qualifier={quote(qualifier, safe='')}" if qualifier else ""
    return _json(info, "GET", _function(name) + query)  # type: ignore[no-any-return]


@dataclass(frozen=True)
class RemoteFunction:
    """What the server's ``/_lambdalab/cli/function`` says of a function beyond the
    Lambda API: its own sandbox, the server's default one, its zip's ``file://`` path."""

    sandbox: str | None
    default_sandbox: str
    code_file: str


def function_extras(info: ServerInfo, name: str, qualifier: str | None) -> RemoteFunction:
    query = {"FunctionName": name, **({"Qualifier": qualifier} if qualifier else {})}
    answer = _json(info, "GET", "/_lambdalab/cli/function?" + urlencode(query))
    return RemoteFunction(answer.get("Sandbox"), answer["DefaultSandbox"], answer["CodeFile"])


def publish_version(info: ServerInfo, name: str, description: str | None) -> dict[str, Any]:
    """PublishVersion's answer (AWS JSON)."""
    body = {} if description is None else {"Description": description}
    return _json(info, "POST", _function(name) + "/versions", body)  # type: ignore[no-any-return]


def list_versions(info: ServerInfo, name: str) -> Iterator[dict[str, Any]]:
    return _pages(info, _function(name) + "/versions", "Versions")


def get_alias(info: ServerInfo, name: str, alias: str) -> dict[str, Any]:
    return _json(info, "GET", f"{_function(name)}/aliases/{quote(alias, safe='')}")  # type: ignore[no-any-return]


def list_aliases(info: ServerInfo, name: str) -> Iterator[dict[str, Any]]:
    return _pages(info, _function(name) + "/aliases", "Aliases")


@dataclass(frozen=True)
class RemoteLogEvent:
    """A log event as the server's ``/_lambdalab/cli/logs`` gives it."""

    id: int
    timestamp: int  # epoch milliseconds
    message: str


def get_logs(info: ServerInfo, name: str, after_id: int = 0) -> list[RemoteLogEvent]:
    """The function's log events after ``after_id``, oldest first."""
    query = urlencode({"FunctionName": name, "AfterId": after_id})
    answer = _json(info, "GET", "/_lambdalab/cli/logs?" + query)
    return [RemoteLogEvent(e["Id"], e["Timestamp"], e["Message"]) for e in answer["Events"]]


# -- the server's side -------------------------------------------------------------------


def idle_timeout() -> float:
    try:
        return float(os.environ[IDLE_TIMEOUT_ENV])
    except (KeyError, ValueError):
        return IDLE_TIMEOUT_S


def serve_in_background(data_dir: Path) -> None:
    """Serve ``data_dir`` on a free loopback port until SIGTERM or :func:`idle_timeout`.

    Writes :data:`STATE_FILE`, then the same record on stdout (the command that started
    it waits for that line), and removes the file when it stops.
    """
    import threading

    from ..lab import Lab
    from ..server import EdgeServer, create_app
    from ..server.app import Edge
    from ..server.heap import freeze_long_lived

    class ActivityEdge(Edge):
        """The edge, noting when the last request ended and how many are in flight."""

        def __init__(self, edge: Edge) -> None:
            super().__init__(edge.regions, edge.verifier, edge.extra_services, edge.answer_first)
            self.in_flight = 0
            self.last_request = time.monotonic()

        async def __call__(self, scope: Any, receive: Any, send_: Any) -> None:
            self.in_flight += 1
            try:
                await super().__call__(scope, receive, send_)
            finally:
                self.in_flight -= 1
                self.last_request = time.monotonic()

    stopping = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stopping.set())
    timeout = idle_timeout()
    with Lab(data_dir=data_dir) as lab:
        prepare_sandboxes(lab)  # the fork server boots while the edge's app loads
        edge = ActivityEdge(create_app(lab, answer_first=True))  # every reader comes through it
        server = EdgeServer(lab, "127.0.0.1", 0, app=edge).start()
        freeze_long_lived()  # this process only serves: its full collections stay short
        info = ServerInfo(
            os.getpid(), server.url, str(data_dir), os.environ.get("LAMBDALAB_SANDBOX") or None,
            BACKGROUND, timeout,
        )
        write_state(info)
        try:
            print(json.dumps(asdict(info)), flush=True)
            _detach_stdout()
            while not stopping.wait(_IDLE_CHECK_S):
                if edge.in_flight == 0 and time.monotonic() - edge.last_request > timeout:
                    break
        finally:
            clear_state(data_dir, info.pid)
            server.stop()


def prepare_sandboxes(lab: Any) -> threading.Thread:
    """Start, in a thread, what the first cold start would wait for (the fork server and
    its preloads), so the first invoke after a server starts does not pay for it."""

    def prepare() -> None:
        try:
            lab.backends.prepare(lab.list_functions())
        except Exception as e:  # the first cold start meets the same fault and reports it
            print(f"lambdalab: could not prepare the sandboxes ahead: {e}", file=sys.stderr)

    thread = threading.Thread(target=prepare, name="lambdalab-prepare", daemon=True)
    thread.start()
    return thread


def _detach_stdout() -> None:
    """Point stdout at /dev/null: the command that read our first line has gone."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.close(devnull)


if __name__ == "__main__":
    serve_in_background(Path(sys.argv[1]))
