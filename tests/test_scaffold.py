"""``lambdalab plugin new``: what it refuses, and that what it writes really works.

For each kind, the generated package is built and installed with pip into a folder of
its own (``pip install --target``), and fresh interpreters that have that folder on
their path see it exactly as a user's environment would: its own tests pass,
``lambdalab plugins`` lists it with its hooks, and a lab uses it. Installing into a
separate folder rather than this virtual environment keeps every other Python process
sharing the environment (another test run, a docs build) from seeing an entry point
whose module it cannot import.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from lambdalab.cli.app import main
from lambdalab.scaffold import KINDS, PluginPackage, ScaffoldError, check_name, new_plugin

LAMBDALAB = Path(sys.executable).with_name("lambdalab")  # the console script pip installed


def run(*command: str | Path, cwd: Path | None = None, timeout: float = 120,
        env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(part) for part in command], cwd=cwd, capture_output=True, text=True,
        timeout=timeout, env={**os.environ, **(env or {})},
    )


def pip(*args: str | Path) -> None:
    done = run(sys.executable, "-m", "pip", *args, "--quiet", "--disable-pip-version-check")
    assert done.returncode == 0, done.stdout + done.stderr


# -- what the command refuses ------------------------------------------------------------


@pytest.mark.parametrize("name", ["My-Plugin", "1st", "", "with space", "ü", "a" * 41])
def test_a_name_that_cannot_be_a_module_is_refused_with_a_suggestion(name: str) -> None:
    with pytest.raises(ScaffoldError, match="lowercase letters, digits and underscores") as error:
        check_name(name)
    assert error.value.param == "NAME"
    assert "Try '" in str(error.value)


def test_the_suggestion_is_a_valid_name() -> None:
    with pytest.raises(ScaffoldError, match="Try 'my_plugin'"):
        check_name("My-Plugin")


def test_the_name_of_an_installed_plugin_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ScaffoldError, match="already the name of an installed lambdalab plugin"):
        new_plugin("subprocess", "backend", tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_an_unknown_kind_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ScaffoldError, match="trigger, backend") as error:
        new_plugin("stream", "queue", tmp_path)
    assert error.value.param == "--kind"


def test_an_existing_folder_is_never_overwritten(tmp_path: Path) -> None:
    (tmp_path / "lambdalab-ticker").mkdir()
    (tmp_path / "lambdalab-ticker" / "mine.txt").write_text("keep me")
    with pytest.raises(ScaffoldError, match="never overwrites") as error:
        new_plugin("ticker", "trigger", tmp_path)
    assert error.value.param == "--dir"
    assert [p.name for p in (tmp_path / "lambdalab-ticker").iterdir()] == ["mine.txt"]


def test_the_command_creates_the_package_and_says_what_next(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["plugin", "new", "ticker", "--kind", "trigger", "--dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    root = tmp_path / "lambdalab-ticker"
    for path in ("pyproject.toml", "README.md", "lambdalab_ticker/__init__.py", "tests/test_ticker.py"):
        assert (root / path).is_file()
        assert path in result.output
    assert 'ticker = "lambdalab_ticker"' in (root / "pyproject.toml").read_text()
    assert "lambdalab plugins" in result.output
    # pytest comes with the test extra: a plain `pip install -e .` left `pytest` to
    # whatever Python was on PATH, which cannot import the new plugin
    assert "pip install -e '.[test]'" in result.output and "python -m pytest" in result.output

    again = CliRunner().invoke(main, ["plugin", "new", "ticker", "--kind", "backend", "--dir", str(tmp_path)])
    assert again.exit_code == 2 and "already exists" in again.output


def test_the_command_refuses_a_bad_name_as_a_usage_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["plugin", "new", "My-Plugin", "--kind", "backend", "--dir", str(tmp_path)])
    assert result.exit_code == 2
    assert "Invalid value for NAME" in result.output and "my_plugin" in result.output
    assert list(tmp_path.iterdir()) == []


# -- what it writes works ----------------------------------------------------------------


@dataclass(frozen=True)
class Installed:
    """A generated plugin package, and the folder pip installed it into."""

    package: PluginPackage
    site: Path

    @property
    def env(self) -> dict[str, str]:
        """For a fresh interpreter that has the plugin installed."""
        return {"PYTHONPATH": str(self.site), "PYTEST_ADDOPTS": ""}


@pytest.fixture(scope="module", params=KINDS)
def installed(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Installed:
    """A freshly generated plugin of each kind, built and installed by pip."""
    package = new_plugin(f"made_{request.param}", request.param, tmp_path_factory.mktemp(request.param))
    site = tmp_path_factory.mktemp(f"{request.param}-site")
    pip("install", "--no-deps", "--no-build-isolation", "--target", site, package.root)
    return Installed(package, site)


def test_the_generated_package_passes_its_own_tests(installed: Installed) -> None:
    done = run(sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
               cwd=installed.package.root, env=installed.env)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert " passed" in done.stdout and "skipped" not in done.stdout


def test_lambdalab_plugins_lists_it_with_its_hooks(installed: Installed, tmp_path: Path) -> None:
    plugin = installed.package
    done = run(LAMBDALAB, "--data-dir", tmp_path / "data", "plugins", env=installed.env)
    assert done.returncode == 0, done.stderr
    row = next((line for line in done.stdout.splitlines() if f" {plugin.name} " in line), None)
    assert row is not None, done.stdout
    hook = {"trigger": "lambdalab_lab_started", "backend": "lambdalab_sandbox_backends"}[plugin.kind]
    assert hook in row and f"entry point {plugin.module}" in row


def test_only_the_plugin_named_in_lambdalab_plugins_is_loaded(installed: Installed, tmp_path: Path) -> None:
    name = installed.package.name
    done = run(LAMBDALAB, "--data-dir", tmp_path / "data", "plugins",
               env={**installed.env, "LAMBDALAB_PLUGINS": name})
    names = [line.split("│")[1].strip() for line in done.stdout.splitlines() if line.startswith("│")]
    assert name in names and "subprocess" not in names, done.stdout


# A fresh interpreter uses the installed plugin through a real Lab, and prints what it saw.
BACKEND_SMOKE = """
import json, os, sys
from pathlib import Path
from lambdalab import Lab

code = Path(sys.argv[1], "code")
code.mkdir()
(code / "app.py").write_text("import os\\ndef handler(event, context):\\n    return [event, os.getpid()]\\n")
with Lab(data_dir=Path(sys.argv[1], "data"), default_sandbox=sys.argv[2]) as lab:
    lab.create_function("f", code, handler="app.handler")
    event, pid = lab.invoke("f", {"via": sys.argv[2]}).json()
    print(json.dumps({"event": event, "isolated": pid != os.getpid(),
                      "backend": type(lab.backends.for_function(lab.get_function_configuration("f"))).__module__}))
"""

TRIGGER_SMOKE = """
import json, os, sys
from pathlib import Path
from lambdalab import Lab, VirtualClock

code = Path(sys.argv[1], "code")
code.mkdir()
(code / "app.py").write_text("def handler(event, context):\\n    print('tick', event['detail']['tick'])\\n")
os.environ["LAMBDALAB_" + sys.argv[2].upper() + "_FUNCTION"] = "f"
os.environ["LAMBDALAB_" + sys.argv[2].upper() + "_EVERY"] = "30"
clock = VirtualClock(start=0)
with Lab(data_dir=Path(sys.argv[1], "data"), clock=clock) as lab:
    lab.create_function("f", code, handler="app.handler")
    clock.advance(95)
    assert lab.wait_for_events(timeout=30)
    print(json.dumps(sorted(e.message.strip() for e in lab.get_logs("f") if e.message.startswith("tick"))))
"""


def test_a_lab_uses_the_installed_plugin(installed: Installed, tmp_path: Path) -> None:
    plugin = installed.package
    script = {"backend": BACKEND_SMOKE, "trigger": TRIGGER_SMOKE}[plugin.kind]
    done = run(sys.executable, "-c", script, tmp_path, plugin.name, env=installed.env)
    assert done.returncode == 0, done.stderr[-4000:]
    seen = json.loads(done.stdout.splitlines()[-1])
    if plugin.kind == "backend":
        assert seen == {"event": {"via": plugin.name}, "isolated": True, "backend": plugin.module}
    else:
        assert seen == ["tick 1", "tick 2", "tick 3"]
