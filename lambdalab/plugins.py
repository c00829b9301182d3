"""The plugin manager: entry points, explicit registration, and what is loaded.

Plugins come from the ``lambdalab`` entry point group (built-ins included, so they are
loaded exactly the way a student's plugin is) and from ``Lab(plugins=[...])``.

``LAMBDALAB_PLUGINS=name,name`` loads only the named entry-point plugins;
``LAMBDALAB_TRACE_PLUGINS=1`` prints every hook call and its result to stderr.
"""

from __future__ import annotations

import importlib.metadata
import os
import sys
import warnings
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Iterable

import pluggy

from . import hookspecs

ENTRY_POINT_GROUP = "lambdalab"


@dataclass(frozen=True)
class PluginInfo:
    """One loaded plugin: its name, version, where it came from and the hooks it implements."""

    name: str
    version: str
    origin: str
    hooks: tuple[str, ...]
    #: What the plugin says about itself on this host (its ``host_notes()``), if anything:
    #: a sandbox says which of its protections apply here.
    notes: tuple[str, ...] = ()


def make_plugin_manager(extra: Iterable[Any] = ()) -> pluggy.PluginManager:
    pm = pluggy.PluginManager(ENTRY_POINT_GROUP)
    pm.add_hookspecs(hookspecs)
    only = os.environ.get("LAMBDALAB_PLUGINS")
    wanted = {n.strip() for n in only.split(",") if n.strip()} if only else None
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        if wanted is not None and ep.name not in wanted:
            continue
        if pm.get_plugin(ep.name) is None:
            plugin = _load(ep)
            if plugin is not None:
                pm.register(plugin, name=ep.name)
    for plugin in extra:
        pm.register(plugin)
    if os.environ.get("LAMBDALAB_TRACE_PLUGINS"):
        pm.trace.root.setwriter(sys.stderr.write)
        pm.enable_tracing()
    return pm


def migrations(pm: pluggy.PluginManager) -> dict[str, str]:
    """Every plugin's named migrations (hook ``lambdalab_migrations``), in the order the
    plugins registered; a name used twice, or one of lambdalab's own, is an error."""
    from .store import MIGRATIONS

    found: dict[str, str] = {}
    for answer in reversed(pm.hook.lambdalab_migrations()):
        for name, script in (answer or {}).items():
            if name in found or name in MIGRATIONS:
                raise ValueError(
                    f"lambdalab: two migrations are named {name!r} (lambdalab's own or another "
                    "plugin's). Prefix a plugin's migration names with the plugin's name."
                )
            found[name] = script
    return found


def _load(ep: importlib.metadata.EntryPoint) -> Any:
    """Import one entry-point plugin; a broken plugin is skipped with a warning, so it
    cannot take every Lab (and the CLI) down with it."""
    try:
        return ep.load()
    except Exception as exc:
        warnings.warn(
            f"lambdalab: plugin {ep.name!r} ({ep.value}) failed to load and is skipped: "
            f"{type(exc).__name__}: {exc}. Reinstall it, or exclude it with "
            "LAMBDALAB_PLUGINS.",
            PluginLoadWarning,
            stacklevel=3,
        )
        return None


class PluginLoadWarning(UserWarning):
    """An installed plugin could not be imported."""


def describe(pm: pluggy.PluginManager) -> list[PluginInfo]:
    """What ``lambdalab plugins`` prints: every plugin with the hooks it implements."""
    dists = {
        ep.name: ep
        for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)
    }
    out = []
    for name, plugin in pm.list_name_plugin():
        hooks = tuple(sorted(h.name for h in pm.get_hookcallers(plugin) or ()))
        ep = dists.get(name)
        if ep is not None and ep.dist is not None:
            version, origin = ep.dist.version, f"entry point {ep.value} ({ep.dist.name})"
        else:
            version = str(getattr(plugin, "__version__", "-"))
            where = getattr(plugin, "__file__", None) if isinstance(plugin, ModuleType) else None
            origin = f"registered by hand ({where or type(plugin).__name__})"
        notes = getattr(plugin, "host_notes", None)
        out.append(PluginInfo(name, version, origin, hooks, tuple(notes()) if notes else ()))
    return out
