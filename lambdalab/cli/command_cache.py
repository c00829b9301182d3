"""What ``lambdalab --help`` remembers of the plugins' commands, so it need not load them.

Plugins add commands through the hook ``lambdalab_register_commands``; finding them means
reading every installed package's entry points and importing each plugin, which is most of
what a ``--help`` would cost. So the first ``--help`` after an install does that once and
writes the names and one-line helps here; the next ones read this file.

The file is valid while the folders on ``sys.path`` are unchanged: installing or removing
a package adds or removes its ``*.dist-info`` folder, which changes its folder's mtime.
(Editing an editable plugin's commands is not seen; ``LAMBDALAB_CACHE_DIR`` can point to
an empty folder, or the file be deleted.) Only the standard library is imported here.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path

CACHE_DIR_ENV = "LAMBDALAB_CACHE_DIR"


def cache_dir() -> Path:
    """``$LAMBDALAB_CACHE_DIR``, else ``$XDG_CACHE_HOME/lambdalab``, else ``~/.cache/lambdalab``."""
    if os.environ.get(CACHE_DIR_ENV):
        return Path(os.environ[CACHE_DIR_ENV])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "lambdalab"


def _identity() -> tuple[str, list[int]]:
    """Which interpreter and plugin selection the cache is for, and the stamp of sys.path."""
    # The current folder ("" on sys.path) changes as the learner works: not where
    # packages are installed, so not part of the stamp.
    entries = [entry for entry in sys.path if entry]
    key = json.dumps([sys.executable, entries, os.environ.get("LAMBDALAB_PLUGINS", "")])
    stamp = []
    for entry in entries:
        try:
            stamp.append(os.stat(entry).st_mtime_ns)
        except OSError:
            stamp.append(0)
    return hashlib.sha256(key.encode()).hexdigest()[:16], stamp


def _path(name: str) -> Path:
    return cache_dir() / f"commands-{name}.json"


def read() -> dict[str, str] | None:
    """The plugins' commands ``{name: one-line help}`` if remembered and still valid."""
    name, stamp = _identity()
    try:
        saved = json.loads(_path(name).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(saved, dict) or saved.get("stamp") != stamp:
        return None
    commands = saved.get("commands")
    if not isinstance(commands, dict):
        return None
    return {str(k): str(v) for k, v in commands.items()}


def write(commands: dict[str, str]) -> None:
    """Remember the plugins' commands; a cache that cannot be written is skipped."""
    name, stamp = _identity()
    path = _path(name)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        tmp.write_text(json.dumps({"stamp": stamp, "commands": commands}))
        os.replace(tmp, path)
    except OSError:
        pass
