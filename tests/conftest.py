"""Shared fixtures: a Lab on a fresh data dir, and a helper that writes handler code."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Callable, Iterator

import pytest

from lambdalab import Lab, VirtualClock


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock(start=1_700_000_000)


@pytest.fixture
def lab(tmp_path: Path, clock: VirtualClock) -> Iterator[Lab]:
    with Lab(data_dir=tmp_path / "data", clock=clock) as lab:
        yield lab


@pytest.fixture
def code(tmp_path: Path) -> Callable[..., Path]:
    """``code(app="source", other="source")`` writes modules into a fresh directory."""
    counter = iter(range(1_000_000))

    def write(**modules: str) -> Path:
        root = tmp_path / f"code{next(counter)}"
        for name, source in modules.items():
            path = root / (name.replace(".", "/") + ".py")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(textwrap.dedent(source))
        return root

    return write


ECHO = """
def handler(event, context):
    return event
"""
