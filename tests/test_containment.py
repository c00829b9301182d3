"""What the ``limited`` sandbox contains: the fork server survives its children, memory
is counted as the kernel charges it, detached descendants stay in their environment,
and a handler cannot reach the host (where lambdalab runs as root).

Every test runs real forked environments and real attacks from inside a handler; each
says what it shows refused. Nothing here asserts a timing figure.
"""

from __future__ import annotations

import os
import signal

import psutil
import pytest

from lambdalab import Lab

pytestmark = pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="Linux only")

PID = """
import os
def handler(event, context):
    return os.getpid()
"""


def fork_server_pid(lab: Lab, sandbox: str = "limited") -> int:
    server = lab._backends[sandbox].server
    assert server.pid
    return server.pid


# -- 1. the fork server is supervised ---------------------------------------------------


def test_a_dead_fork_server_is_restarted_by_the_next_cold_start(lab: Lab, code) -> None:
    lab.create_function("first", code(app=PID), handler="app.handler")
    lab.create_function("second", code(app=PID), handler="app.handler")
    lab.invoke("first")
    old = fork_server_pid(lab)
    os.kill(old, signal.SIGKILL)
    result = lab.invoke("second", log_type="Tail")  # a cold start: the server is gone
    assert result.function_error is None, result.payload
    assert fork_server_pid(lab) != old
    assert lab.invoke("second").function_error is None  # and warm after it


KILL_PARENT = """
import os
def handler(event, context):
    try:
        os.kill(os.getppid(), 9)
    except PermissionError:
        return "refused"
    return "killed"
"""


def test_a_handler_that_kills_the_fork_server_breaks_no_later_cold_start(
    lab: Lab, code
) -> None:
    lab.create_function("killer", code(app=KILL_PARENT), handler="app.handler")
    lab.create_function("victim", code(app=PID), handler="app.handler")
    assert lab.invoke("killer").json() in ("refused", "killed")
    for _ in range(2):
        result = lab.invoke("victim")
        assert result.function_error is None, result.payload
        assert psutil.pid_exists(result.json())
