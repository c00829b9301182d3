"""lambdalab: AWS Lambda on one machine, built to teach.

The public API is what this module exports; everything else is internal.
"""

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
