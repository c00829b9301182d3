"""lambdalab's live web console: what the lab does, drawn as it happens.

A built-in plugin, registered by entry point exactly as a student's would be. ``lambdalab
serve`` serves it at ``/_lambdalab/console/`` on its own port, and ``lambdalab console``
prints (and opens) that address. It shows the functions (state, runtime, memory, sandbox,
versions, aliases, throttles), one timeline lane per execution environment (INIT and its
duration, each invoke, reaped or killed), and the lab's clock, with a control to advance a virtual
one. Updates are pushed with server-sent events, whatever door the change came through
(``lambdalab_function_changed``), and a plugin's panel is read again when the plugin says
it changed (``lambdalab_console_panel_changed``). What it shows comes from the lab's hooks
(:mod:`.feed`); its HTTP side is :mod:`.web`.
"""

from __future__ import annotations

import lambdalab
from lambdalab import InvokeReport, Lab
from lambdalab.plugin import ApiCall, HttpService, LambdaDatum, StashKey

from .feed import AsyncEnded, Feed
from .web import CONSOLE_PATH, Console

__version__ = "0.1.0"

#: Each lab's feed, in ``lab.stash``: it dies with the lab.
FEED = StashKey[Feed]()
#: Lambda operations that change nothing the Functions view shows.
_READS = ("Get", "List", "Invoke")


def feed(lab: Lab) -> Feed:
    """The console's record of ``lab``."""
    return lab.stash.setdefault(FEED, lambda: Feed(lab.clock.now))


class _Recorder:
    """Registered on one lab's plugin manager, so each lab's hooks reach its own feed
    (the hooks say which environment or invoke, not which lab)."""

    def __init__(self, feed: Feed) -> None:
        self.feed = feed

    @lambdalab.hookimpl
    def lambdalab_environment_started(self, function_name: str, version: str,
                                      log_stream_name: str, init_duration_ms: float) -> None:
        self.feed.environment_started(function_name, version, log_stream_name, init_duration_ms)

    @lambdalab.hookimpl
    def lambdalab_environment_stopped(self, function_name: str, version: str,
                                      log_stream_name: str, reason: str) -> None:
        self.feed.environment_stopped(log_stream_name, reason)

    @lambdalab.hookimpl
    def lambdalab_invoke_completed(self, report: InvokeReport) -> None:
        self.feed.invoke_completed(report)

    @lambdalab.hookimpl
    def lambdalab_lambda_metrics(self, data: list[LambdaDatum]) -> None:
        self.feed.metrics(data)

    @lambdalab.hookimpl
    def lambdalab_async_event_retry(self) -> None:
        self.feed.changed("queue")

    @lambdalab.hookimpl
    def lambdalab_async_event_ended(self, request_id: str, function_name: str,
                                    qualifier: str | None, condition: str, attempts: int,
                                    sent_to: list[str]) -> None:
        self.feed.async_event_ended(AsyncEnded(request_id, function_name, qualifier, condition,
                                               attempts, list(sent_to), self.feed.now()))

    @lambdalab.hookimpl
    def lambdalab_function_changed(self, function_name: str) -> None:
        self.feed.changed("functions")

    @lambdalab.hookimpl
    def lambdalab_console_panel_changed(self, title: str) -> None:
        self.feed.panel_changed(title)

    @lambdalab.hookimpl
    def lambdalab_api_call(self, call: ApiCall) -> None:
        if call.service == "lambda" and not call.operation.startswith(_READS):
            self.feed.changed("functions")


@lambdalab.hookimpl
def lambdalab_lab_started(lab: Lab) -> None:
    lab.plugin_manager.register(_Recorder(feed(lab)), name="lambdalab_console.recorder")


@lambdalab.hookimpl
def lambdalab_http_services(lab: Lab) -> list[HttpService]:
    return [HttpService("lambdalab-console", Console(lab, feed(lab)), path_prefixes=(CONSOLE_PATH,))]


__all__ = ["CONSOLE_PATH", "Feed", "feed"]
