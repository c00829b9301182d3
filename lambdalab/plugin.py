"""The plugin toolkit: everything a lambdalab plugin may use, and nothing else.

A plugin, built-in or a student's, imports from two places only: the public API
(``import lambdalab``: :class:`~lambdalab.Lab`, the errors, the models) and this module.
Whatever else lives under ``lambdalab`` is internal and may change without notice; what is
here is the supported surface, documented in ``docs/reference/toolkit.rst``::

    from lambdalab.plugin import HttpService, Database, StashKey, hookimpl

The names are imported on first use (PEP 562), like the package's own: a sandbox plugin
that asks for :data:`hookimpl` does not pay for the HTTP edge. Each name keeps the
docstring of the object it is, and ``__all__`` lists them grouped by what they are for.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from . import event_filters, events, limits, pricing, service_events, stream_sources
    from .arn import FunctionRef, parse_function_ref
    from .changes import console_panel_changed, function_changed, function_named
    from .triggers import FunctionTrigger
    from .cli.app import LambdaGroup, open_lab, pass_lab, print_table, say
    from .clock import Clock, RealClock, Timer, VirtualClock
    from .invocation.destinations import DESTINATION_ACTIONS, DestinationMessage, Sender
    from .source_mappings import MappingKeeper, internal_error
    from .errors import (
        AwsError,
        InvalidParameterValueException,
        LambdaError,
        ResourceConflictException,
        ResourceNotFoundException,
        invalid,
    )
    from .service_events._common import iso_ms, iso_s, md5_hex, sqs_attributes_md5
    from .hookspecs import hookimpl
    from .invocation.invoker import new_request_id
    from .invocation.event_queue import NewEvent
    from .lab import default_data_dir
    from .function_urls import EdgeRequest, EdgeResponse, event_body, header_safe, payload_v2_response, status_code
    from .log_patterns import PatternError, compile_pattern
    from .metrics import LambdaDatum
    from .protocol import BodyError, json_object, message, rest_input, rest_params
    from .protocol import Violation, validate, xml_text
    from .protocol.validate import show
    from .protocol import HttpRequest, HttpResponse, ParsedRequest, ServiceError
    from .protocol.inputs import RestInput, RestMember
    from .protocol.serializers import RestXmlSerializer, xml_element
    from .protocol.service import TRACE_HEADER, ErrorCodes, ProtocolService, service_error
    from .protocol.calls import ApiCall
    from . import iam_policy
    from .protocol.authorize import Principal, denied_action, may_invoke, principal_of, request_context
    from .server.auth import SignedRequest, signer_of
    from .regions import aws_regions, home_data_dir, home_lab, lab_of_region, labs_opened, open_labs, signed_region
    from .runtime import bootstrap as runtime_bootstrap
    from .runtime import protocol as runtime_protocol
    from .runtime.context import LambdaContext, static_fields
    from .runtime.forkserver import ForkServer, containment, describe_status
    from .runtime.forkserver import confined_environ, confined_paths, sandbox
    from .runtime.forkserver import PidNamespaces, first_child, runtime_init
    from .sandbox.runtime_api import RuntimeApiServer
    from .sandbox import (
        ClosingGuard,
        EnvironmentSpec,
        ExecutionEnvironment,
        InitOutcome,
        InvokeOutcome,
        InvokeRequest,
        SandboxBackend,
    )
    from .server.app import IncompleteRequestBody, RequestBodyTooLarge
    from .server.http_service import EDGE_KEYS_SCOPE_KEY, EDGE_STOPPING_SCOPE_KEY, ConsolePanel, HttpService
    from .server.app import read_body, receive_body
    from .stash import Stash, StashKey
    from .store import Answers, Database, Migrations, change_counter, insert_rows
    from .batched_writer import BatchedWriter

__all__ = [
    # hooks and per-lab state
    "hookimpl",
    "Stash",
    "StashKey",
    # storage: a SQLite file with named migrations, written to in batches
    "Database",
    "Migrations",
    "Answers",
    "change_counter",
    "insert_rows",
    "BatchedWriter",
    # time
    "Clock",
    "RealClock",
    "VirtualClock",
    "Timer",
    # AWS errors (one base; a service's own errors subclass it or render like it)
    "AwsError",
    "LambdaError",
    "InvalidParameterValueException",
    "ResourceConflictException",
    "ResourceNotFoundException",
    "invalid",
    # the HTTP edge: a service, requests, responses, bodies
    "HttpService",
    "EDGE_KEYS_SCOPE_KEY",
    "EDGE_STOPPING_SCOPE_KEY",
    "ConsolePanel",
    "console_panel_changed",
    # what changed, for the console: a function, what triggers it
    "function_changed",
    "function_named",
    "FunctionTrigger",
    "read_body",
    "receive_body",
    "RequestBodyTooLarge",
    "IncompleteRequestBody",
    # wire protocols driven by botocore's models
    "BodyError",
    "Violation",
    "show",
    "json_object",
    "message",
    "rest_input",
    "rest_params",
    "validate",
    "xml_text",
    "ProtocolService",
    "TRACE_HEADER",
    "ErrorCodes",
    "ServiceError",
    "service_error",
    "HttpResponse",
    "HttpRequest",
    "ParsedRequest",
    "RestXmlSerializer",
    "xml_element",
    "RestInput",
    "RestMember",
    # regions: which one a request names, the labs of the others, account-wide state
    "signed_region",
    "lab_of_region",
    "aws_regions",
    "home_data_dir",
    "home_lab",
    "open_labs",
    "labs_opened",
    # what the edge answered (the lambdalab_api_call hook)
    "ApiCall",
    # who a request's access key stands for (the lambdalab_principal hook)
    "Principal",
    # IAM policy evaluation, and a service acting on a function's behalf under enforcement
    "iam_policy",
    "denied_action",
    "may_invoke",
    "request_context",
    "principal_of",
    "SignedRequest",
    "signer_of",
    # HTTP answers of functions (function URLs, API Gateway)
    "EdgeRequest",
    "EdgeResponse",
    "event_body",
    "payload_v2_response",
    "status_code",
    "header_safe",
    # ids, ARNs, wire values
    "parse_function_ref",
    "FunctionRef",
    "new_request_id",
    # many Event invokes queued in one transaction (Lab.events.put_many)
    "NewEvent",
    "iso_s",
    "iso_ms",
    "md5_hex",
    "sqs_attributes_md5",
    "service_events",
    "events",
    "event_filters",
    "limits",
    "pricing",
    # what a stream event source mapping reads (Kinesis, DynamoDB streams)
    "stream_sources",
    # what every keeper of event source mappings does alike (SQS's, Kinesis's)
    "MappingKeeper",
    "internal_error",
    # CloudWatch Logs' filter patterns
    "compile_pattern",
    "PatternError",
    # what the data plane reports to the AWS/Lambda metrics namespace
    "LambdaDatum",
    # destinations of asynchronous invocations
    "Sender",
    "DestinationMessage",
    "DESTINATION_ACTIONS",
    # the command line
    "LambdaGroup",
    "pass_lab",
    "open_lab",
    "print_table",
    "say",
    "default_data_dir",
    # sandboxes
    "SandboxBackend",
    "ExecutionEnvironment",
    "EnvironmentSpec",
    "InitOutcome",
    "InvokeOutcome",
    "InvokeRequest",
    "ClosingGuard",
    "ForkServer",
    "containment",
    "describe_status",
    "confined_environ",
    "confined_paths",
    "sandbox",
    "PidNamespaces",
    "runtime_init",
    "first_child",
    "RuntimeApiServer",
    "runtime_bootstrap",
    "runtime_protocol",
    "static_fields",
    "LambdaContext",
]

#: Where each name lives: ``(module, attribute)``; attribute ``None`` is the module itself.
_HOMES: dict[str, tuple[str, str | None]] = {
    "hookimpl": ("hookspecs", "hookimpl"),
    "HttpService": ("server.http_service", "HttpService"),
    "EDGE_KEYS_SCOPE_KEY": ("server.http_service", "EDGE_KEYS_SCOPE_KEY"),
    "EDGE_STOPPING_SCOPE_KEY": ("server.http_service", "EDGE_STOPPING_SCOPE_KEY"),
    "ConsolePanel": ("server.http_service", "ConsolePanel"),
    **{name: ("changes", name) for name in ("console_panel_changed", "function_changed", "function_named")},
    "FunctionTrigger": ("triggers", "FunctionTrigger"),
    **{name: ("stash", name) for name in ("Stash", "StashKey")},
    **{name: ("store", name) for name in ("Database", "Migrations", "Answers", "change_counter", "insert_rows")},
    "BatchedWriter": ("batched_writer", "BatchedWriter"),
    **{name: ("clock", name) for name in ("Clock", "RealClock", "VirtualClock", "Timer")},
    **{
        name: ("errors", name)
        for name in (
            "AwsError", "LambdaError", "InvalidParameterValueException",
            "ResourceConflictException",
            "ResourceNotFoundException", "invalid",
        )
    },
    **{
        name: ("server.app", name)
        for name in (
            "read_body", "receive_body", "RequestBodyTooLarge",
            "IncompleteRequestBody",
        )
    },
    **{
        name: ("protocol", name)
        for name in (
            "BodyError", "Violation", "json_object", "message", "rest_input", "rest_params",
            "validate", "xml_text",
        )
    },
    "show": ("protocol.validate", "show"),
    **{name: ("protocol", name)
       for name in ("HttpResponse", "ServiceError", "HttpRequest", "ParsedRequest")},
    **{name: ("protocol.serializers", name) for name in ("RestXmlSerializer", "xml_element")},
    **{name: ("protocol.inputs", name) for name in ("RestInput", "RestMember")},
    **{
        name: ("protocol.service", name)
        for name in ("ErrorCodes", "ProtocolService", "service_error", "TRACE_HEADER")
    },
    "ApiCall": ("protocol.calls", "ApiCall"),
    **{name: ("protocol.authorize", name) for name in ("Principal", "denied_action", "may_invoke",
                                                               "request_context", "principal_of")},
    **{name: ("server.auth", name) for name in ("SignedRequest", "signer_of")},
    "iam_policy": ("iam_policy", None),
    **{name: ("function_urls", name) for name in ("EdgeRequest", "EdgeResponse", "event_body", "payload_v2_response", "status_code",
                                                   "header_safe")},
    **{name: ("regions", name)
       for name in ("signed_region", "lab_of_region", "aws_regions", "home_data_dir",
                    "home_lab", "open_labs", "labs_opened")},
    **{name: ("arn", name) for name in ("parse_function_ref", "FunctionRef")},
    "new_request_id": ("invocation.invoker", "new_request_id"),
    "NewEvent": ("invocation.event_queue", "NewEvent"),
    **{name: ("service_events._common", name) for name in ("iso_s", "iso_ms", "md5_hex", "sqs_attributes_md5")},
    "service_events": ("service_events", None),
    "events": ("events", None),
    "event_filters": ("event_filters", None),
    "limits": ("limits", None),
    "pricing": ("pricing", None),
    "stream_sources": ("stream_sources", None),
    "LambdaDatum": ("metrics", "LambdaDatum"),
    **{name: ("log_patterns", name) for name in ("compile_pattern", "PatternError")},
    **{name: ("invocation.destinations", name) for name in ("Sender", "DestinationMessage", "DESTINATION_ACTIONS")},
    "MappingKeeper": ("source_mappings", "MappingKeeper"),
    "internal_error": ("source_mappings", "internal_error"),
    **{
        name: ("cli.app", name)
        for name in ("LambdaGroup", "pass_lab", "open_lab", "print_table", "say")
    },
    "default_data_dir": ("lab", "default_data_dir"),
    **{
        name: ("sandbox", name)
        for name in (
            "SandboxBackend", "ExecutionEnvironment", "EnvironmentSpec", "InitOutcome",
            "InvokeOutcome", "InvokeRequest", "ClosingGuard",
        )
    },
    **{name: ("runtime.forkserver", name) for name in (
        "ForkServer", "containment", "describe_status", "confined_environ", "confined_paths",
        "sandbox", "PidNamespaces", "runtime_init", "first_child",
    )},
    "RuntimeApiServer": ("sandbox.runtime_api", "RuntimeApiServer"),
    "runtime_bootstrap": ("runtime.bootstrap", None),
    "runtime_protocol": ("runtime.protocol", None),
    **{name: ("runtime.context", name) for name in ("static_fields", "LambdaContext")},
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'lambdalab.plugin' has no attribute {name!r}")
    import importlib

    module_name, attribute = home
    module = importlib.import_module(f"lambdalab.{module_name}")
    value = module if attribute is None else getattr(module, attribute)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
