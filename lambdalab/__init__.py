"""lambdalab: AWS Lambda on one machine, built to teach.

The public API is what this module exports; everything else is internal. The names are
imported on first use (PEP 562), so that ``lambdalab --help`` and a warm ``lambdalab
invoke``, which need none of them, do not pay for importing the Lab.
"""

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .clock import Clock, RealClock, Timer, VirtualClock
    from .errors import (
        InvalidParameterValueException,
        InvalidRequestContentException,
        LambdaError,
        PreconditionFailedException,
        RequestTooLargeException,
        ResourceConflictException,
        ResourceNotFoundException,
        ServiceException,
        TooManyRequestsException,
        ValidationException,
    )
    from .hookspecs import hookimpl
    from .lab import Lab
    from .logs import InvokeReport, LogEvent
    from .plugins import PluginInfo
    from .models import AliasConfiguration, FunctionConfiguration, FunctionDetails, InvokeResult
    from .sandbox import (
        EnvironmentSpec,
        ExecutionEnvironment,
        InitOutcome,
        InvokeOutcome,
        InvokeRequest,
        SandboxBackend,
    )

__version__ = "0.1.0"

__all__ = [
    # lab
    "Lab",
    # clock
    "Clock",
    "RealClock",
    "VirtualClock",
    "Timer",
    # models
    "FunctionConfiguration",
    "AliasConfiguration",
    "FunctionDetails",
    "InvokeResult",
    # logs
    "InvokeReport",
    "LogEvent",
    # errors
    "LambdaError",
    "ResourceNotFoundException",
    "ResourceConflictException",
    "InvalidParameterValueException",
    "InvalidRequestContentException",
    "RequestTooLargeException",
    "PreconditionFailedException",
    "TooManyRequestsException",
    "ServiceException",
    "ValidationException",
    # plugins
    "hookimpl",
    "PluginInfo",
    "SandboxBackend",
    "ExecutionEnvironment",
    "EnvironmentSpec",
    "InitOutcome",
    "InvokeOutcome",
    "InvokeRequest",
]

#: Where each public name lives: imported when first asked for.
_HOMES = {
    **dict.fromkeys(("Clock", "RealClock", "Timer", "VirtualClock"), "clock"),
    **dict.fromkeys(
        (
            "InvalidParameterValueException", "InvalidRequestContentException", "LambdaError",
            "PreconditionFailedException", "RequestTooLargeException",
            "ResourceConflictException", "ResourceNotFoundException", "ServiceException",
            "TooManyRequestsException", "ValidationException",
        ),
        "errors",
    ),
    "hookimpl": "hookspecs",
    "Lab": "lab",
    **dict.fromkeys(("InvokeReport", "LogEvent"), "logs"),
    "PluginInfo": "plugins",
    **dict.fromkeys(
        ("AliasConfiguration", "FunctionConfiguration", "FunctionDetails", "InvokeResult"),
        "models",
    ),
    **dict.fromkeys(
        (
            "EnvironmentSpec", "ExecutionEnvironment", "InitOutcome", "InvokeOutcome",
            "InvokeRequest", "SandboxBackend",
        ),
        "sandbox",
    ),
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'lambdalab' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f".{home}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
