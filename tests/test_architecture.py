"""The shape of the code: what plugins may import, and what core may not know.

Read from the source with :mod:`ast`, so these checks cost nothing to run and cannot be
fooled by what happens to be imported already.
"""

from __future__ import annotations

import ast
import itertools
import inspect
from pathlib import Path

import lambdalab
import lambdalab.plugin

ROOT = Path(__file__).resolve().parent.parent
CORE = ROOT / "lambdalab"
PLUGINS = ROOT / "plugins"
DOCS = ROOT / "docs"


#: The course's labs: learners' checks and starters, shipped as package data.
COURSE_FILES = CORE / "course" / "labs"


def python_files(folder: Path) -> list[Path]:
    return sorted(
        p for p in folder.rglob("*.py")
        if "__pycache__" not in p.parts and not p.is_relative_to(COURSE_FILES)
    )


def imports_in(path: Path) -> list[tuple[int, str, tuple[str, ...]]]:
    """Every import in a file, function-local ones too: (line, module, names)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name, ()) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module, tuple(a.name for a in node.names)))
    return found


# -- the plugin toolkit ---------------------------------------------------------------


def test_built_in_plugins_import_only_the_public_api_and_the_toolkit() -> None:
    public = set(lambdalab.__all__)
    wrong = []
    for path in python_files(PLUGINS):
        for line, module, names in imports_in(path):
            where = f"{path.relative_to(ROOT)}:{line}"
            if module == "lambdalab.plugin" or not module.startswith("lambdalab"):
                continue
            if module.startswith("lambdalab_"):
                continue  # another plugin's public names
            if module == "lambdalab" and set(names) <= public:
                continue
            wrong.append(f"{where}: {module} {names}")
    assert wrong == [], "plugins reach into lambdalab's internals:\n" + "\n".join(wrong)


def test_every_toolkit_name_resolves_and_is_documented() -> None:
    page = (DOCS / "reference" / "toolkit.rst").read_text()
    for name in lambdalab.plugin.__all__:
        value = getattr(lambdalab.plugin, name)
        assert f":: {name}\n" in page, f"{name} is not on docs/reference/toolkit.rst"
        if inspect.isclass(value) or inspect.isfunction(value) or inspect.ismodule(value):
            assert (value.__doc__ or "").strip(), f"{name} has no docstring"
    assert sorted(dir(lambdalab.plugin)) == sorted({*dir(lambdalab.plugin), *lambdalab.plugin.__all__})


def test_the_toolkit_imports_nothing_until_a_name_is_asked_for() -> None:
    tree = ast.parse((CORE / "plugin.py").read_text())
    top_level = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
    assert [n.module for n in top_level if isinstance(n, ast.ImportFrom)] == ["__future__", "typing"]


# -- core's import graph ------------------------------------------------------------------


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def module_level_imports(path: Path, modules: set[str]) -> set[str]:
    """The core modules ``path`` imports when it is imported: module-level statements
    only (``if TYPE_CHECKING:`` blocks and imports inside functions do not run then)."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()

    def resolve(module: str | None, level: int) -> str:
        if level == 0:
            return module or ""
        base = package.split(".")
        base = base[: len(base) - (level - 1)]
        return ".".join(base + ([module] if module else []))

    def visit(statements: list[ast.stmt]) -> None:
        for node in statements:
            if isinstance(node, ast.If) and _is_type_checking(node):
                visit(node.orelse)
            elif isinstance(node, (ast.If, ast.Try, ast.With)):
                for block in ("body", "orelse", "finalbody", "handlers"):
                    for child in getattr(node, block, []):
                        visit(child.body if isinstance(child, ast.ExceptHandler) else [child])
            elif isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                target = resolve(node.module, node.level)
                found.add(target)
                found.update(f"{target}.{alias.name}" for alias in node.names)

    visit(ast.parse(path.read_text(), str(path)).body)
    # importing a.b.c runs a and a.b too
    closed = set()
    for target in found:
        parts = target.split(".")
        closed.update(".".join(parts[:i]) for i in range(1, len(parts) + 1))
    # a module's own packages are imported before it, whatever it says: not an edge
    own = {".".join(name.split(".")[:i]) for i in range(1, name.count(".") + 2)}
    return {m for m in closed if m in modules and m not in own}


def core_import_graph() -> dict[str, set[str]]:
    paths = {module_name(p): p for p in python_files(CORE)}
    modules = set(paths)
    return {name: module_level_imports(path, modules) - {"lambdalab"} for name, path in paths.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in sorted(graph.get(node, ())):
            if other not in index:
                connect(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return sorted(found)


#: Import cycles today's core still has. This list may only shrink: a new cycle fails the
#: test, and so does one that was broken but is still listed here.
KNOWN_CYCLES: list[list[str]] = []


def test_core_modules_import_one_another_without_a_cycle() -> None:
    assert cycles(core_import_graph()) == KNOWN_CYCLES


def every_import_graph() -> dict[str, set[str]]:
    """Like :func:`core_import_graph`, counting imports inside functions and under
    ``TYPE_CHECKING`` too: the circles those hold together are what keeps a module from
    being understood (or moved) on its own."""
    paths = {module_name(p): p for p in python_files(CORE)}
    graph = {}
    for name, path in paths.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        found = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = package.split(".")[: len(package.split(".")) - max(node.level - 1, 0)]
                target = ".".join(base + [node.module] if node.module else base) if node.level else node.module or ""
                found.add(target)
                found.update(f"{target}.{alias.name}" for alias in node.names)
        own = {".".join(name.split(".")[:i]) for i in range(1, name.count(".") + 2)}
        graph[name] = {m for m in found if m in paths and m not in own and m != "lambdalab"}
    return graph


#: What is left of the 11-module circle the plugin toolkit issue (16) found around
#: ``lambdalab.lab``, held together by imports inside functions and under TYPE_CHECKING.
#: Broken since: the event invoke configs (``invocation.destinations``, and with it
#: ``invocation.event_queue``) receive the store, registry, ARNs, clock and two senders
#: instead of the Lab; function URLs take the edge's default address from ``limits``;
#: the hooks name ``HttpService`` in ``server.http_service``, apart from the edge. Left:
#: the hooks hand plugins the ``Lab`` while the Lab loads the plugins (a type-only edge:
#: a plugin author reads ``lab: Lab`` in every hook). (The function URL service once read
#: bodies with the edge's reader while the edge started it: the readers are in
#: ``server.bodies`` now.) It may only shrink.
KNOWN_DEFERRED_CYCLES = [
    {"lambdalab.hookspecs", "lambdalab.lab", "lambdalab.plugins"},
]


def test_no_new_circle_even_through_deferred_imports() -> None:
    found = [set(c) for c in cycles(every_import_graph())]
    new = [sorted(c) for c in found if not any(c <= known for known in KNOWN_DEFERRED_CYCLES)]
    assert new == [], f"a new import circle (or a known one grew): {new}"
    gone = [sorted(k) for k in KNOWN_DEFERRED_CYCLES if not any(c == k for c in found)]
    assert gone == [], f"a known circle shrank or broke: write what is left in KNOWN_DEFERRED_CYCLES: {found}"


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


BUILT_IN_PLUGINS = ("lambdalab_s3", "lambdalab_sqs", "lambdalab_schedule", "lambdalab_logs", "lambdalab_limited",
                    "lambdalab_runtimes", "lambdalab_thread", "lambdalab_subprocess", "lambdalab_xray",
                    "lambdalab_cost", "lambdalab_cloudwatch", "lambdalab_kinesis",
                    "lambdalab_sns", "lambdalab_dynamodb", "lambdalab_iam", "lambdalab_console",
                    "lambdalab_apigateway", "lambdalab_cloudformation", "lambdalab_ray")


def test_core_does_not_name_a_built_in_plugin() -> None:
    """Core knows plugins only through hooks: no import of one, and no module name of one
    in its code (its docs may still point at them as examples)."""
    named = []
    for path in python_files(CORE):
        for line, module, _ in imports_in(path):
            if module.split(".")[0] in BUILT_IN_PLUGINS:
                named.append(f"{path.relative_to(ROOT)}:{line}: imports {module}")
        tree = ast.parse(path.read_text())
        docstrings = {id(n.body[0].value) for n in ast.walk(tree)
                      if isinstance(n, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                      and n.body and isinstance(n.body[0], ast.Expr)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
                for plugin in BUILT_IN_PLUGINS:
                    if plugin in node.value:
                        named.append(f"{path.relative_to(ROOT)}:{node.lineno}: {plugin!r} in a string")
    assert named == [], "\n".join(named)


def listed_packages() -> set[str]:
    """The packages ``[tool.setuptools]`` in pyproject.toml lists."""
    import tomllib

    return set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])


def test_every_package_ships_in_a_wheel() -> None:
    """pyproject lists its packages by hand (the plugins and the course need a
    package-dir mapping), so a new package folder missing from the list would work in an
    editable install and be absent from a wheel."""
    listed = listed_packages()
    on_disk = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for init in CORE.rglob("__init__.py")
        if "__pycache__" not in init.parts
    } | {init.parent.name for init in (ROOT / "plugins").glob("*/__init__.py")}
    assert on_disk - listed == set(), "add these to [tool.setuptools] packages in pyproject.toml"


def test_every_folder_of_shipped_data_is_listed_as_its_package() -> None:
    """A data file's folder whose name could be imported (``lambdalab/course/labs``) is
    a package to setuptools: unlisted, every install warns about it (``Package
    'lambdalab.course.labs' is absent from the `packages` configuration``). Such a
    folder is the longest part of a data file's path made of names Python can import."""
    listed = listed_packages()
    roots = [(CORE, ("lambdalab",))] + [
        (folder, (folder.name,)) for folder in (ROOT / "plugins").iterdir()
        if (folder / "__init__.py").exists()
    ]
    unlisted = set()
    for root, prefix in roots:
        for path in root.rglob("*"):
            parts = prefix + path.parent.relative_to(root).parts
            if not path.is_file() or path.suffix in (".py", ".pyc") or "__pycache__" in parts:
                continue
            importable = list(itertools.takewhile(str.isidentifier, parts))
            unlisted.add(".".join(importable))
    assert unlisted - listed == set(), "add these to [tool.setuptools] packages in pyproject.toml"


# -- the README's map of the tree ---------------------------------------------------------


def readme_layout() -> dict[str, bool]:
    """The paths the README's Layout section names: path -> whether it lists its contents.

    A line is ``NAME[, NAME…] what it is``, indented two spaces per folder level; a line
    indented as far as the descriptions continues the one above."""
    text = (ROOT / "README.md").read_text()
    block = text.split("## Layout", 1)[1].split("```", 2)[1]
    named: dict[str, bool] = {}
    parents: list[str] = []
    for line in block.splitlines()[1:]:
        indent = len(line) - len(line.lstrip())
        if not line.strip() or indent >= 20:
            continue
        level = indent // 2
        del parents[level:]
        words = line.split()
        names = [words[0]]
        while names[-1].endswith(","):
            names.append(words[len(names)])
        names = [n.rstrip(",").rstrip("/") for n in names]
        if parents:
            named[parents[-1]] = True
        paths = ["/".join([*parents[-1:], name]) for name in names]
        named.update(dict.fromkeys(paths, False))
        if words[len(names) - 1].rstrip(",").endswith("/"):
            parents.append(paths[-1])
    return named


def test_the_readme_layout_matches_the_tree() -> None:
    """Every path the README's Layout names exists, and in each folder it lists the
    contents of (``lambdalab/``, ``invocation/``…), every module and package is named."""
    named = readme_layout()
    missing = sorted(path for path in named if not (ROOT / path).exists())
    assert missing == [], f"the README's Layout names what is not there: {missing}"
    unnamed = []
    for folder, lists_contents in named.items():
        if not lists_contents or not folder.startswith("lambdalab"):
            continue
        for entry in (ROOT / folder).iterdir():
            is_module = entry.suffix == ".py" and entry.name != "__init__.py"
            is_package = entry.is_dir() and entry.name != "__pycache__"
            if (is_module or is_package) and f"{folder}/{entry.name}" not in named:
                unnamed.append(f"{folder}/{entry.name}")
    assert sorted(unnamed) == [], f"the README's Layout does not name: {sorted(unnamed)}"


def test_the_old_paths_learners_and_installed_scripts_use_still_resolve() -> None:
    """Every lab's check.py (and a learner's own) imports ``lambdalab.labs``, private
    helpers too; a console script installed before the CLI became a package imports
    ``lambdalab.cli:main``."""
    import lambdalab.labs
    from lambdalab.cli import app, main
    from lambdalab.course import runner

    assert main is app.main
    assert lambdalab.labs.fresh_lab is runner.fresh_lab
    assert lambdalab.labs.shared_folder is runner.shared_folder
    assert set(lambdalab.labs.__all__) == set(runner.__all__)


def test_what_runs_inside_the_sandbox_imports_nothing_of_the_host() -> None:
    """``lambdalab.runtime`` is what runs in an execution environment's processes (the
    fork server preloads it, the bootstrap serves invokes): it imports only itself, never
    the host's side (the Lab, its store, the edge), even inside a function."""
    graph = every_import_graph()
    inside = {name for name in graph if name.startswith("lambdalab.runtime")}
    reaches = {name: sorted(graph[name] - inside) for name in sorted(inside) if graph[name] - inside}
    assert reaches == {}, f"sandbox code imports host code: {reaches}"
    for path in python_files(CORE / "runtime"):
        for line, module, _ in imports_in(path):
            assert module != "lambdalab", f"{path.relative_to(ROOT)}:{line} imports the public API"
