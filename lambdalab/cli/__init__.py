"""The ``lambdalab`` command, one module per group of commands.

:mod:`.app` is the root group with the function commands and the helpers every command
module shares; the others are imported only when their command runs: :mod:`.edge`
(``serve``, ``status``, ``stop``), :mod:`.course` (``lab``), :mod:`.layer` (``layer``),
:mod:`.events` (``event``), :mod:`.plugin` (``plugins``, ``plugin new``) and :mod:`.demo`.
:mod:`.daemon` is the server a data dir's commands share, and :mod:`.command_cache` what
``--help`` remembers of plugins' commands.
"""

from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:
    # ``lambdalab.cli:main``, the console script's target before the CLI became a package:
    # a script installed then still starts.
    if name == "main":
        from .app import main

        return main
    raise AttributeError(f"module 'lambdalab.cli' has no attribute {name!r}")
