"""lambdalab's X-Ray: the traces Lambda records for ``Active`` functions, the daemon an
SDK in a handler sends to, and the X-Ray API over both.

A built-in plugin, registered by entry point exactly as a student's would be:

- an invoke of a function whose ``TracingConfig.Mode`` is ``Active`` is sampled as
  Lambda samples (the first each second, then 5 %), continuing the caller's trace when
  its header carries one; a sampled invoke gets ``_X_AMZN_TRACE_ID`` with
  ``Sampled=1`` and is recorded as AWS records it (:mod:`lambdalab_xray.segments`);
- handlers find the daemon at ``AWS_XRAY_DAEMON_ADDRESS`` (UDP on loopback), so the
  aws-xray-sdk and powertools' ``Tracer`` send their subsegments unchanged;
- the edge serves ``PutTraceSegments``, ``GetTraceSummaries``, ``BatchGetTraces``,
  ``GetServiceGraph`` and ``GetTraceGraph``; ``lambdalab traces`` draws them.

::

    >>> from lambdalab_xray import xray
    >>> trace = xray(lab).store.trace(trace_id)                       # doctest: +SKIP
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from typing import Any, Mapping

import lambdalab
from lambdalab import InvokeReport, Lab
from lambdalab.plugin import ConsolePanel, HttpService, ProtocolService, StashKey

from .daemon import Daemon
from .graph import service_graph, summary
from .models import MIGRATIONS, Trace, TraceStore
from .responses import XRayService
from .segments import (
    Sampler,
    TracedInvoke,
    TraceHeader,
    lambda_segments,
    new_segment_id,
    new_trace_id,
)

__version__ = "0.1.0"

#: Traced invokes waiting for their report; past this many, the oldest are forgotten
#: (an invoke whose backend failed never reports).
PENDING_INVOKES_MAX = 10_000


class XRay:
    """One lab's tracing: its store, its daemon (started with the first environment)
    and its sampler. Get it with :func:`xray`; its hooks are registered on the lab."""

    def __init__(self, lab: Lab) -> None:
        self.lab = lab
        self.store = TraceStore(lab.store, lab.clock.now)
        self.sampler = Sampler()
        self._daemon: Daemon | None = None
        self._pending: OrderedDict[str, TracedInvoke] = OrderedDict()
        #: The lab's clock minus the real time, when each recent trace's invoke began.
        self._offsets: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def daemon(self) -> Daemon:
        with self._lock:
            if self._daemon is None:
                self._daemon = Daemon(self.store, self.clock_offset)
            return self._daemon

    @lambdalab.hookimpl
    def lambdalab_runtime_environment(self, config: Any) -> dict[str, str]:
        return self.daemon.environment

    @lambdalab.hookimpl
    def lambdalab_invoke_trace_header(
        self, config: Any, request_id: str, caller_trace_header: str | None
    ) -> str | None:
        """An ``Active`` function's header: the caller's trace, or a new one, sampled."""
        if config.tracing_mode != "Active":
            return None
        now = self.lab.clock.now()
        caller = TraceHeader.parse(caller_trace_header)
        sampled = caller.sampled if caller and caller.sampled is not None else self.sampler.sample(now)
        header = TraceHeader(caller.root if caller else new_trace_id(now), new_segment_id(), sampled)
        if sampled:
            traced = TracedInvoke(header, new_segment_id(), caller.parent if caller else None,
                                  now, time.perf_counter())
            with self._lock:
                self._pending[request_id] = traced
                self._offsets[header.root] = now - time.time()
                for kept in (self._pending, self._offsets):
                    if len(kept) > PENDING_INVOKES_MAX:
                        kept.popitem(last=False)
        return str(header)

    def clock_offset(self, trace_id: str) -> float:
        """How far the lab's clock was from the real time when the invoke of
        ``trace_id`` began (now, for a trace lambdalab did not start)."""
        with self._lock:
            offset = self._offsets.get(trace_id)
        return self.lab.clock.now() - time.time() if offset is None else offset

    @lambdalab.hookimpl
    def lambdalab_invoke_completed(self, report: InvokeReport) -> None:
        if not self._pending:  # no sampled invoke under way (PassThrough): nothing to record
            return
        with self._lock:
            traced = self._pending.pop(report.request_id, None)
        if traced is None:
            return
        elapsed, account = time.perf_counter() - traced.started_perf, self.lab.arns.account_id
        self.store.put_later(lambda: lambda_segments(traced, report, elapsed, account))

    def newest(self, start: float, end: float, count: int) -> list[Trace]:
        """The newest ``count`` traces whose id's time (on the lab's clock) is in
        ``[start, end]``: what a view of recent traces reads, without assembling the
        older ones (GetTraceSummaries and GetServiceGraph read every trace of the window)."""
        found = (self.store.trace(i) for i in self.store.trace_ids(start, end)[:count])
        return [trace for trace in found if trace is not None]

    def service(self) -> XRayService:
        return XRayService(self.store, self.lab.clock.now, self.lab.arns.account_id)

    def close(self) -> None:
        if self._daemon is not None:
            self._daemon.close()
        self.store.close()


#: Each lab's tracing, in ``lab.stash``: it dies with the lab.
XRAY = StashKey[XRay]()


def xray(lab: Lab) -> XRay:
    """The tracing of ``lab``."""
    return lab.stash.setdefault(XRAY, lambda: XRay(lab))


@lambdalab.hookimpl
def lambdalab_migrations() -> dict[str, str]:
    return MIGRATIONS


@lambdalab.hookimpl
def lambdalab_lab_started(lab: Lab) -> None:
    lab.plugin_manager.register(xray(lab), name="lambdalab_xray.tracer")


@lambdalab.hookimpl
def lambdalab_http_services(lab: Lab) -> list[HttpService]:
    return [HttpService("xray", ProtocolService("xray", xray(lab).service()))]


#: Traces the console's panel shows (the newest).
_PANEL_TRACES = 20


def _trace_row(trace: Trace) -> dict[str, Any]:
    root = trace.roots()[0]
    status = next((s for s in ("fault", "error", "throttle") if any(
        seg.get(s) for seg in trace.segments)), "ok")
    return {"Trace": trace.id, "Entry": root.get("name", ""),
            "Duration (ms)": round(trace.duration * 1000, 3),
            "Segments": len(trace.segments), "Status": status}


@lambdalab.hookimpl
def lambdalab_console_panels(lab: Lab) -> list[ConsolePanel]:
    """The console's traces panel: the newest traces, as ``lambdalab traces`` lists them."""

    def rows() -> list[Mapping[str, Any]]:
        return [_trace_row(trace) for trace in xray(lab).newest(0.0, math.inf, _PANEL_TRACES)]

    return [ConsolePanel("Traces, newest first (lambdalab_xray)", rows)]


@lambdalab.hookimpl
def lambdalab_register_commands(cli: Any) -> None:
    """``lambdalab traces``."""
    from .cli import traces_command

    cli.add_command(traces_command)


__all__ = [
    "xray",
    "XRay",
    "TraceStore",
    "Trace",
    "TraceHeader",
    "Sampler",
    "XRayService",
    # GetServiceGraph's Services and GetTraceSummaries' summary, over given traces
    "service_graph",
    "summary",
]
