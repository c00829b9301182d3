"""``_X_AMZN_TRACE_ID``, set by the runtime for each invoke (issue 21).

Everywhere ``os.environ[...] = value`` would put it (Python's ``os.environ``, C's
``getenv``, a child process), without glibc's ``setenv`` keeping every value it was
given: a long-lived environment's memory does not grow with its invokes.
"""

from __future__ import annotations

import ctypes
import os
import re
import subprocess
import sys
import time
from typing import Iterator

import pytest

from lambdalab.runtime import bootstrap

NAME = bootstrap.TraceVariable.NAME
glibc = pytest.mark.skipif(
    not sys.platform.startswith("linux") or not hasattr(os, "confstr_names")
    or "CS_GNU_LIBC_VERSION" not in os.confstr_names, reason="glibc's putenv")


@pytest.fixture(autouse=True)
def restored() -> Iterator[None]:
    before = os.environ.get(NAME)
    yield
    if before is None:
        os.environ.pop(NAME, None)
    else:
        os.environ[NAME] = before


def c_getenv(name: str) -> bytes | None:
    getenv = ctypes.CDLL(None).getenv
    getenv.argtypes, getenv.restype = [ctypes.c_char_p], ctypes.c_char_p
    value: bytes | None = getenv(name.encode())
    return value


def seen_by_a_child() -> str:
    return subprocess.run([sys.executable, "-c", f"import os; print(os.environ['{NAME}'])"],
                          capture_output=True, text=True, check=True).stdout.strip()


def test_the_variable_is_set_for_python_c_and_children() -> None:
    for value in ("Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1",
                  "Root=1-" + "a" * 400 + ";Sampled=0",  # a long one
                  "Root=1-" + "b" * 1000 + ";Sampled=0",  # too long for a buffer
                  bootstrap.trace_header(), "ü-non-ascii"):
        bootstrap.set_trace_variable(value)
        assert os.environ[NAME] == value
        assert os.getenv(NAME) == value
        assert seen_by_a_child() == value
        if sys.platform.startswith("linux"):
            assert c_getenv(NAME) == value.encode()


def test_a_handler_may_set_or_delete_it_and_the_next_invoke_sets_it_again() -> None:
    bootstrap.set_trace_variable("first")
    os.environ[NAME] = "the handler's"
    assert c_getenv(NAME) == b"the handler's"
    bootstrap.set_trace_variable("second")
    assert (os.environ[NAME], c_getenv(NAME)) == ("second", b"second")
    del os.environ[NAME]
    assert c_getenv(NAME) is None and NAME not in os.environ
    bootstrap.set_trace_variable("third")
    assert (os.environ[NAME], c_getenv(NAME), seen_by_a_child()) == ("third", b"third", "third")


def test_a_fresh_header_is_set_everywhere_and_differs_each_invoke() -> None:
    seen = set()
    for _ in range(3):
        bootstrap.set_fresh_trace_variable()
        value = os.environ[NAME]
        assert re.fullmatch(r"Root=1-[0-9a-f]{8}-[0-9a-f]{24};Parent=[0-9a-f]{16};Sampled=0",
                            value)
        assert int(value[7:15], 16) == pytest.approx(time.time(), abs=5)
        if sys.platform.startswith("linux"):
            assert c_getenv(NAME) == value.encode()
        seen.add(value)
    assert len(seen) == 3 and seen_by_a_child() == value


def test_a_null_byte_is_refused_as_os_environ_refuses_it() -> None:
    with pytest.raises(ValueError, match="embedded null byte"):
        os.environ[NAME] = "a\0b"
    with pytest.raises(ValueError, match="embedded null byte"):
        bootstrap.set_trace_variable("a\0b")


def resident_kb() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


@glibc
def test_memory_does_not_grow_with_the_invokes() -> None:
    """glibc's ``setenv`` would keep all 100,000 values: about 14 MB."""
    bootstrap.set_trace_variable(bootstrap.trace_header())
    before = resident_kb()
    for _ in range(50_000):
        bootstrap.set_trace_variable(bootstrap.trace_header())
        bootstrap.set_fresh_trace_variable()
    assert resident_kb() - before < 2_000
