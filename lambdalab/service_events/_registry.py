"""The registry of event sources: service name → generator, how it invokes, its AWS page.

A generator is a plain function with keyword-only, typed, documented options that returns
the event as a dict. :func:`event_source` registers it under the service's name with the
way that service invokes Lambda; the AWS page it cites is read from its docstring's
``Shape:`` line, so the citation is written once. The CLI, the docs table and
:func:`generate` all read this registry: add a generator here and all three show it.
"""

from __future__ import annotations

import inspect
import re
import types
import typing
from dataclasses import dataclass
from typing import Any, Callable, Literal, TypeVar, Union

__all__ = [
    "ASYNC",
    "POLL",
    "SYNC",
    "EventSource",
    "Option",
    "UnknownEventSource",
    "event_source",
    "generate",
    "get",
    "sources",
]

#: The service calls Invoke and waits for the function's answer.
SYNC = "synchronous"
#: The service hands the event to Lambda's queue (``InvocationType=Event``) and moves on.
ASYNC = "asynchronous"
#: Lambda's own poller reads the stream or queue (an event source mapping) and invokes
#: the function synchronously with a batch of records.
POLL = "event source mapping"

#: The ``InvocationType`` a service's invoke uses, by how it invokes.
INVOCATION_TYPES = {SYNC: "RequestResponse", ASYNC: "Event", POLL: "RequestResponse"}

Generator = Callable[..., dict[str, Any]]
G = TypeVar("G", bound=Generator)

_SHAPE = re.compile(r"^Shape: (?P<url>https://\S+)$", re.M)
_PARAM = re.compile(r"^:param (?P<name>\w+): (?P<text>.*(?:\n[ \t]+\S.*)*)", re.M)
_KINDS: dict[Any, str] = {str: "str", int: "int", float: "float", bool: "bool", dict: "json"}

_REGISTRY: dict[str, "EventSource"] = {}


class UnknownEventSource(ValueError):
    """No generator is registered under that service name."""


@dataclass(frozen=True)
class Option:
    """One keyword option of a generator, as the CLI and the docs present it."""

    name: str
    #: ``str``, ``int``, ``float``, ``bool``, ``json`` (a dict) or ``choice``.
    kind: str
    default: Any
    help: str
    choices: tuple[str, ...] = ()

    @property
    def flag(self) -> str:
        """The command-line spelling: ``queue_name`` → ``--queue-name``."""
        return "--" + self.name.replace("_", "-")


@dataclass(frozen=True)
class EventSource:
    """A service that invokes Lambda, and the generator of the event it sends."""

    name: str
    generator: Generator
    #: :data:`SYNC`, :data:`ASYNC` or :data:`POLL`.
    invocation: str
    #: The AWS documentation page the event's shape comes from.
    doc_url: str
    options: tuple[Option, ...]

    @property
    def title(self) -> str:
        """The first line of the generator's docstring."""
        return (inspect.getdoc(self.generator) or "").splitlines()[0]

    @property
    def invocation_type(self) -> str:
        """``Event`` for asynchronous services, ``RequestResponse`` for the others."""
        return INVOCATION_TYPES[self.invocation]

    def generate(self, **options: Any) -> dict[str, Any]:
        """The event, with ``options`` replacing the defaults they name."""
        unknown = sorted(set(options) - {option.name for option in self.options})
        if unknown:
            known = ", ".join(option.name for option in self.options)
            raise TypeError(
                f"The {self.name} event has no option {', '.join(unknown)}; "
                f"its options are: {known}."
            )
        return self.generator(**options)


def _kind(hint: Any) -> tuple[str, tuple[str, ...]]:
    """``(kind, choices)`` of an option's type hint; ``X | None`` counts as ``X``."""
    if typing.get_origin(hint) in (Union, types.UnionType):
        (hint,) = [arg for arg in typing.get_args(hint) if arg is not type(None)]
    if typing.get_origin(hint) is Literal:
        return "choice", tuple(str(arg) for arg in typing.get_args(hint))
    base = typing.get_origin(hint) or hint
    if base not in _KINDS:
        raise TypeError(f"Unsupported option type {hint!r}: use str, int, float, bool or dict.")
    return _KINDS[base], ()


def _options(generator: Generator) -> tuple[Option, ...]:
    """Every keyword-only parameter, with its type, default and ``:param`` text."""
    hints = typing.get_type_hints(generator)
    helps = {m["name"]: " ".join(m["text"].split()) for m in _PARAM.finditer(_doc(generator))}
    options = []
    for name, parameter in inspect.signature(generator).parameters.items():
        if parameter.kind is not inspect.Parameter.KEYWORD_ONLY or name not in helps:
            raise TypeError(
                f"{generator.__name__}: {name!r} must be keyword-only and have a :param."
            )
        kind, choices = _kind(hints[name])
        options.append(Option(name, kind, parameter.default, helps[name], choices))
    return tuple(options)


def _doc(generator: Generator) -> str:
    return inspect.getdoc(generator) or ""


def event_source(name: str, invocation: str) -> Callable[[G], G]:
    """Register the decorated generator as service ``name``, invoked the ``invocation`` way.

    The generator's docstring must cite its AWS page on a line ``Shape: https://...``.
    """
    if invocation not in INVOCATION_TYPES:
        raise ValueError(f"invocation must be one of {sorted(INVOCATION_TYPES)}")

    def register(generator: G) -> G:
        shape = _SHAPE.search(_doc(generator))
        if shape is None:
            raise TypeError(f"{generator.__name__}'s docstring needs a 'Shape: https://...' line.")
        _REGISTRY[name] = EventSource(
            name, generator, invocation, shape["url"], _options(generator)
        )
        return generator

    return register


def sources() -> list[EventSource]:
    """Every registered event source, by service name."""
    return [_REGISTRY[name] for name in sorted(_REGISTRY)]


def get(service: str) -> EventSource:
    """The event source registered as ``service``."""
    try:
        return _REGISTRY[service]
    except KeyError:
        known = ", ".join(sorted(_REGISTRY))
        raise UnknownEventSource(
            f"No event generator for {service!r}; choose one of: {known}."
        ) from None


def generate(service: str, **options: Any) -> dict[str, Any]:
    """The event ``service`` sends to Lambda, as a dict ready for ``Lab.invoke``.

    :param service: a name from :func:`sources`, e.g. ``"s3"`` or ``"sns"``.
    :param options: the generator's keyword options, e.g. ``bucket="photos"``.

    >>> from lambdalab.service_events import generate
    >>> generate("s3", bucket="photos")["Records"][0]["s3"]["bucket"]["name"]
    'photos'
    """
    return get(service).generate(**options)
