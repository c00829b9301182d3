"""Where a lab's ``check.py`` finds the runner's helpers: ``from lambdalab.labs import …``.

The runner is :mod:`lambdalab.course.runner`; this name stays because checks (the
course's and any a learner or teacher wrote) import it. Every name of the runner
resolves here, its private helpers too, as they did when the runner was this module.
"""

from typing import Any

from .course import runner as _runner
from .course.runner import *  # noqa: F403
from .course.runner import __all__  # noqa: F401


def __getattr__(name: str) -> Any:
    return getattr(_runner, name)
