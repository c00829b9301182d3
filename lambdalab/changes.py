"""What changed, told to whoever watches (the web console): a function, what triggers it,
a plugin's console panel.

A function changed through any door (the Python API, the edge, a lab's check) fires
``lambdalab_function_changed`` from the registry itself; a plugin that wires or unwires
a trigger (a bucket notification, a subscription, a rule's target) calls
:func:`function_changed` with the target's ARN, and a plugin whose console panel shows
something new calls :func:`console_panel_changed`. Each is a hook call: nothing listens,
nothing is done.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .arn import FUNCTION_ARN

if TYPE_CHECKING:
    from .lab import Lab


def function_named(lab: "Lab", arn: str) -> str | None:
    """The name of ``lab``'s function that ``arn`` names (qualified or not), or ``None``
    when it names no function of ``lab``'s account and region (or no function at all)."""
    match = FUNCTION_ARN.match(arn)
    if match is None or (match["region"], match["account"]) != (lab.arns.region, lab.arns.account_id):
        return None
    return match["name"]


def function_changed(lab: "Lab", arn: str) -> None:
    """Tell ``lambdalab_function_changed`` that a trigger of the function ``arn`` names
    was wired or unwired. Anything but the ARN of a function of ``lab`` (another
    region's, a queue, an e-mail address) is ignored, so a plugin may pass whatever its
    target is."""
    name = function_named(lab, arn)
    if name is not None:
        lab.plugin_manager.hook.lambdalab_function_changed(lab=lab, function_name=name)


def console_panel_changed(lab: "Lab", title: str) -> None:
    """Tell the console that the panel titled ``title`` (a
    :class:`~lambdalab.plugin.ConsolePanel` of the calling plugin) shows something new:
    a page watching reads that panel again, and only that one."""
    lab.plugin_manager.hook.lambdalab_console_panel_changed(lab=lab, title=title)
