"""Validation of function settings against AWS's limits (see :mod:`lambdalab.limits`).

Each check raises :class:`~lambdalab.errors.InvalidParameterValueException` naming the
field, the value given and what is allowed, so the learner knows what to change.
"""

from __future__ import annotations

import json
from typing import Any, Mapping

from . import limits
from .errors import InvalidParameterValueException, invalid
from .models import LoggingConfig


def function_name(name: Any) -> str:
    if not isinstance(name, str) or not limits.FUNCTION_NAME_PATTERN.match(name):
        raise invalid(
            "FunctionName", name, "Use 1-64 letters, digits, hyphens (-) or underscores (_)."
        )
    return name


def runtime(value: Any) -> str:
    if value not in limits.RUNTIMES:
        raise invalid(
            "Runtime",
            value,
            f"lambdalab runs these runtimes: {', '.join(limits.RUNTIMES)}.",
        )
    return value


#: The handler of a ``provided.*`` function created without one: the name of the
#: executable its runtime starts, as AWS's examples for OS-only runtimes use.
PROVIDED_DEFAULT_HANDLER = "bootstrap"


def handler(value: Any, runtime: str) -> str:
    """The handler for a function of ``runtime``, checked as that runtime reads it.

    AWS's own check is the same for every runtime: at most 128 characters, no whitespace
    (the ``Handler`` shape of botocore's ``lambda`` model: pattern ``[^\\s]+``, max 128).
    Python and Node.js runtimes then split it into ``file.function``, so lambdalab
    refuses a handler without the dot at once rather than at the first invoke. A
    ``provided.*`` runtime is handed the string as ``_HANDLER`` and reads it however it
    likes: any such string is accepted, and ``None`` means :data:`PROVIDED_DEFAULT_HANDLER`.
    (https://docs.aws.amazon.com/lambda/latest/api/API_CreateFunction.html#lambda-CreateFunction-request-Handler)
    """
    provided = runtime in limits.PROVIDED_RUNTIMES
    if value is None and provided:
        return PROVIDED_DEFAULT_HANDLER
    if (
        isinstance(value, str)
        and 0 < len(value) <= limits.HANDLER_MAX_CHARS
        and not any(c.isspace() for c in value)
        and (provided or "." in value.strip("."))
    ):
        return value
    if provided:
        raise invalid(
            "Handler",
            value,
            f"A {runtime} function's handler may be any name (it reaches the bootstrap as "
            f"_HANDLER; {PROVIDED_DEFAULT_HANDLER!r} if left out), at most "
            f"{limits.HANDLER_MAX_CHARS} characters, no spaces.",
        )
    raise invalid(
        "Handler",
        value,
        "Write it as module.function (for example app.handler, or pkg.app.handler "
        f"for a package), at most {limits.HANDLER_MAX_CHARS} characters, no spaces.",
    )


def _int_in_range(field: str, value: Any, low: int, high: int, unit: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise invalid(field, value, f"Use a whole number from {low} to {high} {unit}.")
    return value


def memory_size(value: Any) -> int:
    return _int_in_range(
        "MemorySize", value, limits.MEMORY_MIN_MB, limits.MEMORY_MAX_MB, "MB"
    )


def timeout(value: Any) -> int:
    return _int_in_range(
        "Timeout", value, limits.TIMEOUT_MIN_S, limits.TIMEOUT_MAX_S, "seconds"
    )


def ephemeral_storage(value: Any) -> int:
    return _int_in_range(
        "EphemeralStorage.Size",
        value,
        limits.EPHEMERAL_STORAGE_MIN_MB,
        limits.EPHEMERAL_STORAGE_MAX_MB,
        "MB",
    )


def description(value: Any) -> str:
    if not isinstance(value, str) or len(value) > limits.DESCRIPTION_MAX_CHARS:
        raise invalid(
            "Description", value, f"Use text of at most {limits.DESCRIPTION_MAX_CHARS} characters."
        )
    return value


def environment(value: Mapping[str, Any] | None) -> dict[str, str]:
    """Variables: names as AWS allows, no reserved names, 4 KB in all."""
    variables = dict(value or {})
    for name, val in variables.items():
        if not isinstance(name, str) or not limits.ENV_VAR_NAME_PATTERN.match(name):
            raise invalid(
                "Environment.Variables",
                name,
                "Names start with a letter and use letters, digits and underscores "
                "(at least two characters).",
            )
        if name in limits.RESERVED_ENV_VARS:
            raise InvalidParameterValueException(
                f"Lambda was unable to configure your environment variables because the "
                f"environment variables you have provided contains reserved keys that are "
                f"currently not supported for modification. Reserved keys used in this "
                f"request: {name}"
            )
        if not isinstance(val, str):
            raise invalid(
                f"Environment.Variables.{name}", val, "Values are strings; quote numbers."
            )
    size = len(json.dumps(variables, separators=(",", ":")).encode())
    if size > limits.ENVIRONMENT_MAX_BYTES:
        raise InvalidParameterValueException(
            f"Lambda was unable to configure your environment variables because the "
            f"environment variables you have provided exceeded the 4KB limit. String "
            f"measured: {size} bytes. Remove or shorten variables."
        )
    return variables


def reserved_concurrency(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise invalid(
            "ReservedConcurrentExecutions", value, "Use a whole number, 0 or more."
        )
    return value


#: AWS's words for a log level on a ``Text`` function (as LocalStack records them).
TEXT_LOG_LEVEL_MESSAGE = (
    'LogLevel is not supported when LogFormat is set to "Text". Remove LogLevel from your '
    'request or change the LogFormat to "JSON" and try again.'
)
_LOGGING_FIELDS = ("LogFormat", "ApplicationLogLevel", "SystemLogLevel", "LogGroup")


def logging_config(value: Any, current: LoggingConfig) -> LoggingConfig:
    """``current`` with the ``LoggingConfig`` fields ``value`` gives, as AWS merges them:
    a switch to ``JSON`` sets the levels it does not name to ``INFO``; a switch to
    ``Text`` drops them; a level named for a ``Text`` function is refused.
    https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs-advanced.html
    """
    if not isinstance(value, Mapping) or set(value) - set(_LOGGING_FIELDS):
        raise invalid("LoggingConfig", value, f"Give a map of {', '.join(_LOGGING_FIELDS)}.")
    fmt = _one_of("LoggingConfig.LogFormat", value.get("LogFormat", current.log_format),
                  limits.LOG_FORMATS)
    app = _one_of("LoggingConfig.ApplicationLogLevel", value.get("ApplicationLogLevel"),
                  limits.APPLICATION_LOG_LEVELS)
    system = _one_of("LoggingConfig.SystemLogLevel", value.get("SystemLogLevel"),
                     limits.SYSTEM_LOG_LEVELS)
    if fmt == "Text":
        if app is not None or system is not None:
            raise InvalidParameterValueException(TEXT_LOG_LEVEL_MESSAGE)
    elif "LogFormat" in value:
        app = app or limits.LOG_LEVEL_DEFAULT
        system = system or limits.LOG_LEVEL_DEFAULT
    else:
        app = app or current.application_log_level
        system = system or current.system_log_level
    group = value.get("LogGroup", current.log_group)
    return LoggingConfig(fmt, app, system, None if group is None else log_group_name(group))


def log_group_name(value: Any) -> str:
    if (
        not isinstance(value, str)
        or len(value) > limits.LOG_GROUP_NAME_MAX_CHARS
        or not limits.LOG_GROUP_NAME_PATTERN.fullmatch(value)
    ):
        raise invalid(
            "LoggingConfig.LogGroup", value,
            f"Use 1-{limits.LOG_GROUP_NAME_MAX_CHARS} letters, digits and . - _ / #.",
        )
    return value


def _one_of(field: str, value: Any, allowed: tuple[str, ...]) -> Any:
    if value is not None and value not in allowed:
        raise invalid(field, value, f"Use one of: {', '.join(allowed)}.")
    return value
