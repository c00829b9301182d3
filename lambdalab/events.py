"""The old name of :mod:`lambdalab.service_events`, kept for code that imports it.

"Event" means three things in lambdalab, so the package has the name of the one it holds:
the sample events AWS services send to Lambda (``service_events``), not EventBridge's
events (the schedule plugin) nor the payload of one invoke. New code imports
``lambdalab.service_events``; ``from lambdalab import events`` goes on working.
"""

from __future__ import annotations

from .service_events import *  # noqa: F401,F403 (the same public API, under the old name)
from .service_events import __all__  # noqa: F401
