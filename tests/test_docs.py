"""The documentation builds with warnings as errors, and every example in it runs.

``sphinx-build -b doctest`` executes each tutorial and how-to guide against a real
:class:`lambdalab.Lab`; ``-b html`` resolves every cross-reference (``nitpicky``) and
renders the generated reference. A broken example or a dangling reference fails here,
and so in CI.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parent.parent / "docs"
#: Where the two builds keep what they read of the docs (``-d``): the second reuses the
#: first's reading, and ``.ci/run`` points it at a folder its own last build reuses too.
DOCTREES_ENV = "LAMBDALAB_DOCTREES_DIR"


@pytest.fixture(scope="module")
def doctrees(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = os.environ.get(DOCTREES_ENV)
    return Path(folder) if folder else tmp_path_factory.mktemp("doctrees")


def sphinx_build(builder: str, out: Path, doctrees: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-b", builder,
         "-d", str(doctrees), str(DOCS), str(out)],
        capture_output=True,
        text=True,
        # Against a hang only: the doctest build took 180 s beside two busy loops on a
        # machine other work also loaded (load average ~15 on 2 CPUs).
        timeout=900,
    )


def explain(proc: subprocess.CompletedProcess[str]) -> str:
    return f"exit {proc.returncode}\n--- stdout\n{proc.stdout[-6000:]}\n--- stderr\n{proc.stderr[-6000:]}"


def test_every_doc_example_runs(tmp_path: Path, doctrees: Path) -> None:
    proc = sphinx_build("doctest", tmp_path, doctrees)
    assert proc.returncode == 0, explain(proc)
    summary = (tmp_path / "output.txt").read_text()
    tests = re.search(r"^\s*(\d+) tests?$", summary, re.M)
    failures = re.findall(r"^\s*(\d+) failures? in (tests|setup code|cleanup code)$", summary, re.M)
    assert tests is not None and int(tests.group(1)) > 0, summary
    assert len(failures) == 3 and all(n == "0" for n, _ in failures), summary


def test_html_builds_without_warnings(tmp_path: Path, doctrees: Path) -> None:
    proc = sphinx_build("html", tmp_path, doctrees)
    assert proc.returncode == 0, explain(proc)
    for page in ("index", "tutorials/first-function", "reference/api", "reference/cli",
                 "reference/hooks", "reference/limits", "reference/errors"):
        assert (tmp_path / f"{page}.html").is_file(), page
