"""The docs' console screenshots: ``.. console-screenshot::`` shows the PNG the browser
tests wrote into ``$LAMBDALAB_SCREENSHOTS_DIR``, and a note, never a warning, when there
is none (the docs build's warnings are errors). Built with Sphinx on a one-page project
that loads the docs' own extension, so it takes seconds, not the whole docs' minutes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from .test_docs import DOCS

PAGE = """Watch it
========

.. console-screenshot:: console-environments
   :alt: One lane per execution environment: an INIT block, then its invokes.

   The cold start's lane.
"""

#: The smallest PNG there is (1 × 1 pixel): a browser's screenshot stands in here.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000001e221bc330000000049454e44ae426082"
)


def build(tmp_path: Path, screenshots: Path | None) -> tuple[subprocess.CompletedProcess[str], Path]:
    source = tmp_path / "src"
    (source / "tutorials").mkdir(parents=True)
    (source / "conf.py").write_text(
        f"import sys\nsys.path.insert(0, {str(DOCS / '_ext')!r})\n"
        "extensions = ['lambdalab_docs']\nproject = 'probe'\n")
    (source / "index.rst").write_text(".. toctree::\n\n   tutorials/watch\n")
    (source / "tutorials" / "watch.rst").write_text(PAGE)
    out = tmp_path / "html"
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    if screenshots is not None:
        env["LAMBDALAB_SCREENSHOTS_DIR"] = str(screenshots)
    proc = subprocess.run([sys.executable, "-m", "sphinx", "-W", "-q", "-b", "html", str(source), str(out)],
                          capture_output=True, text=True, env=env, timeout=300)
    return proc, out


@pytest.mark.parametrize("folder", ["unset", "empty"])
def test_without_a_screenshot_the_page_says_how_to_make_it(tmp_path: Path, folder: str) -> None:
    screenshots = None
    if folder == "empty":
        screenshots = tmp_path / "shots"
        screenshots.mkdir()
    proc, out = build(tmp_path, screenshots)
    assert proc.returncode == 0, proc.stderr
    page = (out / "tutorials" / "watch.html").read_text()
    assert "console-environments" in page and "LAMBDALAB_SCREENSHOTS_DIR" in page
    assert "<img" not in page


def test_a_screenshot_the_tests_took_is_a_figure_with_its_text(tmp_path: Path) -> None:
    screenshots = tmp_path / "shots"
    screenshots.mkdir()
    (screenshots / "console-environments.png").write_bytes(PNG)
    proc, out = build(tmp_path, screenshots)
    assert proc.returncode == 0, proc.stderr
    page = (out / "tutorials" / "watch.html").read_text()
    assert 'alt="One lane per execution environment: an INIT block, then its invokes."' in page
    assert "The cold start&#8217;s lane." in page or "The cold start’s lane." in page
    assert (out / "_images" / "console-environments.png").read_bytes() == PNG
