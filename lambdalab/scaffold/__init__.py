"""``lambdalab plugin new``: write a new, installable plugin package to start from.

::

    lambdalab plugin new ticker --kind trigger     # -> ./lambdalab-ticker/
    lambdalab plugin new oneshot --kind backend    # -> ./lambdalab-oneshot/

The package is complete and works as generated: a ``pyproject.toml`` whose entry point
in the ``lambdalab`` group makes lambdalab load it, the plugin module implementing the
hooks of its kind (with comments that explain each step), a test that passes against a
real :class:`~lambdalab.Lab`, and a README. The files' text lives beside this module, in
``templates/`` (package data, read with :mod:`importlib.resources`), as
:class:`string.Template` text: ``templates/common/`` for every kind, ``templates/<kind>/files/``
for one kind (its ``usage.md.tmpl`` goes into the README). Placeholders: ``${name}`` (the
plugin's name and entry point), ``${module}`` (``lambdalab_<name>``), ``${title}`` (the
name in CamelCase, for class names), ``${env}`` (``LAMBDALAB_<NAME>``, the prefix of the
plugin's environment variables) and ``${lambdalab_version}``, in file names as well as in
text. ``tests/test_scaffold.py`` generates both kinds, installs them and runs their tests,
so a template that stops working fails CI. This module checks the name and writes them.
"""

from __future__ import annotations

import importlib.metadata
import re
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from string import Template

from .. import __version__
from ..plugins import ENTRY_POINT_GROUP

#: What ``--kind`` accepts: a trigger turns happenings into invokes, a backend runs them.
KINDS = ("trigger", "backend")
#: Each kind's one-line description (the package's and its README's) and the hooks it implements.
_DESCRIPTIONS = {
    "trigger": "A lambdalab trigger plugin: invokes a function asynchronously every N seconds of "
    "the lab's clock.",
    "backend": "A lambdalab isolation backend: runs every invoke in a fresh Python process.",
}
_HOOKS = {"trigger": "`lambdalab_lab_started`", "backend": "`lambdalab_sandbox_backends`"}
TEMPLATE_SUFFIX = ".tmpl"
NAME_PATTERN = re.compile(r"[a-z][a-z0-9_]{0,39}")


class ScaffoldError(Exception):
    """A plugin cannot be created: the message says why and what to do instead.

    ``param`` names what was wrong (``"NAME"``, ``"--kind"`` or ``"--dir"``).
    """

    def __init__(self, message: str, param: str) -> None:
        super().__init__(message)
        self.param = param


@dataclass(frozen=True)
class PluginPackage:
    """A plugin package written by :func:`new_plugin`."""

    name: str
    kind: str
    root: Path
    files: tuple[Path, ...]

    @property
    def module(self) -> str:
        return module_name(self.name)

    def next_steps(self) -> list[str]:
        """The commands that install, check and test the new plugin."""
        return [
            f"cd {self.root}",
            "pip install -e '.[test]'  # the plugin, and pytest for its tests",
            f"lambdalab plugins        # lists {self.name!r} with its hooks",
            "python -m pytest",
        ]


def module_name(name: str) -> str:
    """The Python package a plugin called ``name`` lives in: ``lambdalab_<name>``."""
    return f"lambdalab_{name}"


def check_name(name: str) -> str:
    """``name`` if it can name a plugin; a :class:`ScaffoldError` saying why not otherwise."""
    if not NAME_PATTERN.fullmatch(name):
        suggestion = re.sub(r"[^a-z0-9_]+", "_", name.lower()).strip("_")
        if suggestion and not suggestion[0].isalpha():
            suggestion = f"my_{suggestion}"
        raise ScaffoldError(
            f"{name!r} cannot name a plugin: use 1 to 40 lowercase letters, digits and "
            f"underscores, starting with a letter (it becomes the entry point name and "
            f"the package {module_name('NAME')}). Try {suggestion or 'my_plugin'!r}.",
            "NAME",
        )
    taken = {ep.name for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)}
    if name in taken:
        raise ScaffoldError(
            f"{name!r} is already the name of an installed lambdalab plugin "
            "(see `lambdalab plugins`); choose another name.",
            "NAME",
        )
    return name


def check_kind(kind: str) -> str:
    if kind not in KINDS:
        raise ScaffoldError(f"{kind!r} is not a plugin kind; choose one of {', '.join(KINDS)}.", "--kind")
    return kind


def new_plugin(name: str, kind: str, directory: str | Path = ".") -> PluginPackage:
    """Write the package ``lambdalab-<name>/`` into ``directory``; never overwrite anything."""
    name, kind = check_name(name), check_kind(kind)
    root = Path(directory) / f"lambdalab-{name}"
    if root.exists():
        raise ScaffoldError(
            f"{root} already exists, and lambdalab never overwrites your files; "
            "choose another NAME or --dir, or move that folder away.",
            "--dir",
        )
    files = tuple(
        _write(root, path, text, _variables(name))
        for path, text in template_files(kind).items()
    )
    return PluginPackage(name, kind, root, files)


def template_files(kind: str) -> dict[str, str]:
    """The package's files for ``kind``: path -> template text (both still templates)."""
    templates = resources.files(__name__) / "templates"
    description = _DESCRIPTIONS[kind]
    readme = (
        (templates / "common" / "README.md.tmpl").read_text()
        .replace("${description}", description)
        .replace("${usage}", (templates / kind / "usage.md.tmpl").read_text())
        .replace("${hooks}", _HOOKS[kind])
        .replace("${kind}", kind)
    )
    pyproject = (templates / "common" / "pyproject.toml.tmpl").read_text()
    common = {"pyproject.toml": pyproject.replace("${description}", description), "README.md": readme}
    return {**common, **dict(_tree(templates / kind / "files"))}


def _tree(folder: Traversable, prefix: str = "") -> list[tuple[str, str]]:
    """Every template under ``folder``: (its path without the suffix, its text)."""
    found = []
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        path = f"{prefix}{entry.name}"
        if entry.is_dir():
            found += _tree(entry, f"{path}/")
        elif entry.name.endswith(TEMPLATE_SUFFIX):
            found.append((path.removesuffix(TEMPLATE_SUFFIX), entry.read_text()))
    return found


def _variables(name: str) -> dict[str, str]:
    return {
        "name": name,
        "module": module_name(name),
        "title": "".join(part.capitalize() for part in name.split("_")),
        "env": f"LAMBDALAB_{name.upper()}",
        "lambdalab_version": __version__,
    }


def _write(root: Path, path_template: str, template: str, variables: dict[str, str]) -> Path:
    path = root / Template(path_template).substitute(variables)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(Template(template).substitute(variables))
    return path


__all__ = ["KINDS", "PluginPackage", "ScaffoldError", "check_name", "module_name", "new_plugin"]
