"""Lab 13: your own isolation backend, which runs handlers on threads of this process.

lambdalab loads this file as a plugin: ``Lab(plugins=[threads], default_sandbox="threads")``.
A backend only *starts execution environments* and runs one invoke at a time in each;
the core keeps the warm pool, counts concurrency, writes START/END/REPORT and shapes
errors. The contract is in ``lambdalab.sandbox`` (EnvironmentSpec, InvokeRequest,
InitOutcome, InvokeOutcome).

This backend gives up isolation (handlers share this process): fine for stepping
through a handler with a debugger, never for untrusted code.
"""

import importlib.util
import json
import time
import traceback
from pathlib import Path
from types import SimpleNamespace

import lambdalab


class ThreadEnvironment:
    """One execution environment: INIT imports the handler module once."""

    def __init__(self, spec):
        self.spec = spec
        started = time.perf_counter()
        # TODO: INIT. Import the handler with load_handler(spec) and keep it in self.handler.
        self.handler = None
        self.init = lambdalab.InitOutcome(duration_ms=(time.perf_counter() - started) * 1000)

    def invoke(self, request):
        """Run one invoke: call the handler with the event and a context."""
        started = time.perf_counter()
        event = json.loads(request.payload)
        context = make_context(self.spec, request)
        # TODO: call self.handler(event, context). On success return
        #       lambdalab.InvokeOutcome("ok", <the result as JSON bytes>, <duration in ms>).
        # TODO: if the handler raises, return lambdalab.InvokeOutcome("error", ...) whose
        #       payload is AWS's error object as JSON bytes: error_object(exc).
        raise NotImplementedError("invoke is not written yet")

    def destroy(self):
        """Nothing to stop: the environment is only a loaded module."""


class ThreadBackend:
    name = "threads"

    def __init__(self, preload=()):
        pass

    def start(self, spec):
        return ThreadEnvironment(spec)

    def close(self):
        pass


# TODO: lambdalab only calls functions marked as hook implementations.
def lambdalab_sandbox_backends():
    return [ThreadBackend]


# -- given helpers ---------------------------------------------------------------------


def load_handler(spec):
    """Import ``module.function`` from the function's code, as a module of its own."""
    module_name, function_name = spec.handler.rsplit(".", 1)
    path = Path(spec.task_root, *module_name.split(".")).with_suffix(".py")
    unique = f"env_{spec.log_stream_name[-32:]}_{module_name}"  # one module per environment
    module_spec = importlib.util.spec_from_file_location(unique, path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return getattr(module, function_name)


def make_context(spec, request):
    """The few context fields this backend offers."""
    return SimpleNamespace(
        function_name=spec.function_name,
        function_version=spec.version,
        aws_request_id=request.request_id,
        invoked_function_arn=request.invoked_function_arn,
        get_remaining_time_in_millis=lambda: max(0, request.deadline_ms - int(time.time() * 1000)),
    )


def error_object(exc):
    """AWS's error object for a handler exception."""
    return {
        "errorMessage": str(exc),
        "errorType": type(exc).__name__,
        "stackTrace": traceback.format_list(traceback.extract_tb(exc.__traceback__)),
    }
