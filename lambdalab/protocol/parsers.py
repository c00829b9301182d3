"""Read an HTTP request into its operation and input, for each AWS wire protocol.

The inverse of botocore's serializers (``botocore/serialize.py``): what boto3 writes for
``client.put_rule(Name="r", ...)`` is read back into ``("PutRule", {"Name": "r", ...})``,
typed as the operation's input shape says (timestamps as aware ``datetime``, blobs as
``bytes``, numbers and booleans from their text). The protocols
(https://smithy.io/2.0/aws/protocols/index.html):

- ``json`` (AWS JSON 1.0/1.1): ``POST /``, the operation in ``X-Amz-Target``, a JSON body;
- ``rest-json`` / ``rest-xml``: the operation found by method and the ``requestUri``
  template (``/{Bucket}/{Key+}?uploads``), members in the URI, query string, headers and
  a JSON or XML body (or a payload member);
- ``query``: form fields (``Action=SendMessage&Attribute.1.Name=…``), lists as
  ``Name.member.N`` (or ``Name.N`` when flattened), maps as ``Name.entry.N.key/value``.

A value of the wrong type is kept as sent, so that
:func:`~lambdalab.protocol.validate.validate` reports it in AWS's words; the parser
refuses only what cannot be read at all (:class:`ProtocolError`). Written for lambdalab
from botocore's serializers as the specification; no third-party code is adapted.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field, replace
from typing import Any, Mapping
from urllib.parse import parse_qs, unquote

from botocore.model import OperationModel, ServiceModel, Shape
from botocore.utils import parse_timestamp

from .inputs import BodyError, json_object
from .validate import SHAPE_DEPTH_MAX, service_model


@dataclass(frozen=True)
class HttpRequest:
    """One HTTP request as the edge received it.

    :param path: the path as sent, still percent-encoded (ASGI's ``raw_path``).
    :param query: the query string, without ``?``.
    :param headers: the headers; names in any case.
    """

    method: str
    path: str
    query: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""

    @classmethod
    def lowered(cls, method: str, path: str, query: str, headers: dict[str, str],
                body: bytes = b"") -> "HttpRequest":
        """A request whose ``headers`` are already by lower-case name (the edge decoded
        them once): they are its :attr:`lower_headers`, not copied again."""
        request = cls(method, path, query, headers, body)
        request.__dict__["lower_headers"] = headers  # what the cached_property would hold
        return request

    def header(self, name: str) -> str | None:
        return self.lower_headers.get(name.lower())

    @functools.cached_property
    def lower_headers(self) -> dict[str, str]:
        """The headers by lower-case name (made once per request)."""
        return {k.lower(): v for k, v in self.headers.items()}


class ProtocolError(Exception):
    """The request cannot be read: no such operation, or a body that is not JSON / XML.

    :param kind: ``"unknown_operation"`` or ``"serialization"``; the service answers each
        with its own error code (see :class:`~lambdalab.protocol.service.ErrorCodes`).
    :param detail: why, without the layer's own words (what a JSON reader said of the
        body), for a service that words the error its own way (Lambda's ``Could not
        parse request body into json: …``).
    """

    def __init__(self, kind: str, message: str, detail: str = "") -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.detail = detail or message


@dataclass(frozen=True)
class ParsedRequest:
    """The operation a request calls and its input, keyed by member name as boto3 takes it."""

    operation: OperationModel
    params: dict[str, Any]


def parser_for(service: str | ServiceModel, protocol: str | None = None) -> "RequestParser":
    """The request parser of ``service`` (``"events"``) in its own protocol, or in
    ``protocol`` (SQS is served in ``json`` and, for older SDKs, ``query``)."""
    model = service_model(service) if isinstance(service, str) else service
    return _parser(model, protocol or model.protocol)


@functools.lru_cache(maxsize=None)
def _parser(model: ServiceModel, protocol: str) -> "RequestParser":
    classes = {"json": JsonParser, "rest-json": RestJsonParser, "rest-xml": RestXmlParser,
               "query": QueryParser}
    if protocol not in classes:
        raise ValueError(f"lambdalab reads no {protocol!r} requests (it reads {', '.join(classes)})")
    return classes[protocol](model)


class RequestParser:
    """Base class: one per protocol, built once per service model."""

    def __init__(self, model: ServiceModel) -> None:
        self.model = model

    def parse(self, request: HttpRequest) -> ParsedRequest:
        raise NotImplementedError

    def operation(self, name: str) -> OperationModel:
        if name not in self.model.operation_names:
            raise ProtocolError("unknown_operation", f"Operation {name or '(none)'} is not "
                                f"an operation of {self.model.service_id}.")
        return self.model.operation_model(name)


# -- scalars --------------------------------------------------------------------------


def scalar_from_text(shape: Shape, text: str) -> Any:
    """A scalar sent as text (query, XML, URI, header), typed as ``shape`` says; text that
    is not of the type is returned as it is, for validation to report."""
    kind = shape.type_name
    try:
        if kind in ("integer", "long"):
            return int(text)
        if kind in ("float", "double"):
            return float(text)
        if kind == "boolean":
            return {"true": True, "false": False}.get(text.lower(), text)
        if kind == "timestamp":
            return parse_timestamp(text)
        if kind == "blob":
            return base64.b64decode(text, validate=True)
    except (ValueError, TypeError, OverflowError, binascii.Error, RuntimeError):
        # RuntimeError: botocore's parse_timestamp for epochs past any timezone's
        # range ("Unable to calculate correct timezone offset for 100000000000000")
        return text
    return text


def _from_json(shape: Shape, value: Any, depth: int = 0) -> Any:
    """A JSON value typed as ``shape`` says: blobs decoded, timestamps read, member
    ``locationName``\\ s mapped back to member names. Values of another type stay."""
    kind = shape.type_name
    if depth > SHAPE_DEPTH_MAX:
        return value
    if kind == "structure" and isinstance(value, dict):
        out = {}
        members = shape.members  # type: ignore[attr-defined]
        by_wire = _wire_names(shape)
        for key, item in value.items():
            name = by_wire.get(key, key)
            out[name] = _from_json(members[name], item, depth + 1) if name in members else item
        return out
    if kind == "list" and isinstance(value, list):
        return [_from_json(shape.member, v, depth + 1) for v in value]  # type: ignore[attr-defined]
    if kind == "map" and isinstance(value, dict):
        return {k: _from_json(shape.value, v, depth + 1) for k, v in value.items()}  # type: ignore[attr-defined]
    if kind == "blob" and isinstance(value, str):
        try:
            return base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            return value
    if kind == "timestamp" and isinstance(value, (int, float, str)) and not isinstance(value, bool):
        try:
            return parse_timestamp(value)
        except (ValueError, TypeError, OverflowError, RuntimeError):  # see scalar_from_text
            return value
    return value


def _wire_names(shape: Shape) -> dict[str, str]:
    """Wire name → member name, for the members whose ``locationName`` differs."""
    return {m.serialization["name"]: n for n, m in shape.members.items()  # type: ignore[attr-defined]
            if "name" in m.serialization}


def _json_body(body: bytes) -> dict[str, Any]:
    try:
        return json_object(body)
    except BodyError as e:
        raise ProtocolError("serialization", f"The request body could not be read: {e}", str(e)) from None


# -- JSON ------------------------------------------------------------------------------


class JsonParser(RequestParser):
    """AWS JSON 1.0/1.1: ``X-Amz-Target: AWSEvents.PutRule``, a JSON body."""

    def parse(self, request: HttpRequest) -> ParsedRequest:
        target = request.header("x-amz-target") or ""
        prefix, _, name = target.rpartition(".")
        expected = self.model.metadata.get("targetPrefix")
        if expected and prefix != expected:
            name = ""
        op = self.operation(name)
        params = _json_body(request.body)
        return ParsedRequest(op, _from_json(op.input_shape, params) if op.input_shape else params)


# -- query -----------------------------------------------------------------------------


class QueryParser(RequestParser):
    """The query protocol: form fields in the body (POST) or the query string (GET)."""

    def parse(self, request: HttpRequest) -> ParsedRequest:
        fields = _form(request.query)
        if request.body:
            fields.update(_form(request.body.decode("utf-8", "replace")))
        op = self.operation(fields.pop("Action", ""))
        fields.pop("Version", None)
        if op.input_shape is None:
            return ParsedRequest(op, {})
        prefixes = _prefixes(fields)
        return ParsedRequest(op, _query_structure(op.input_shape, fields, "", prefixes) or {})


def _form(text: str) -> dict[str, str]:
    return {k: v[-1] for k, v in parse_qs(text, keep_blank_values=True).items()}


def _prefixes(fields: Mapping[str, str]) -> set[str]:
    """Every dotted prefix of every field name (``A``, ``A.member``, ``A.member.1``)."""
    out: set[str] = set()
    for key in fields:
        parts = key.split(".")
        out.update(".".join(parts[:i]) for i in range(1, len(parts)))
    return out


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def _query_value(shape: Shape, fields: Mapping[str, str], key: str, prefixes: set[str]) -> Any:
    """The value at ``key``, or ``None`` when the request has nothing there."""
    kind = shape.type_name
    if kind == "structure":
        return _query_structure(shape, fields, key, prefixes) if key in prefixes else None
    if kind == "list":
        return _query_list(shape, fields, key, prefixes)
    if kind == "map":
        return _query_map(shape, fields, key, prefixes)
    return scalar_from_text(shape, fields[key]) if key in fields else None


def _query_structure(shape: Shape, fields: Mapping[str, str], prefix: str, prefixes: set[str]) -> dict[str, Any]:
    out = {}
    for name, member in shape.members.items():  # type: ignore[attr-defined]
        value = _query_value(member, fields, _join(prefix, member.serialization.get("name", name)), prefixes)
        if value is not None:
            out[name] = value
    return out


def _query_list(shape: Shape, fields: Mapping[str, str], key: str, prefixes: set[str]) -> list[Any] | None:
    member = shape.member  # type: ignore[attr-defined]
    if shape.serialization.get("flattened"):
        base = key
        if member.serialization.get("name"):
            base = ".".join(key.split(".")[:-1] + [member.serialization["name"]])
    else:
        base = f"{key}.{member.serialization.get('name', 'member')}"
    if base not in prefixes:
        return [] if fields.get(key) == "" else None
    items = []
    for index in range(1, len(fields) + 2):
        value = _query_value(member, fields, f"{base}.{index}", prefixes)
        if value is None:
            break
        items.append(value)
    return items


def _query_map(shape: Shape, fields: Mapping[str, str], key: str, prefixes: set[str]) -> dict[str, Any] | None:
    base = key if shape.serialization.get("flattened") else f"{key}.entry"
    if base not in prefixes:
        return None
    key_name = shape.key.serialization.get("name", "key")  # type: ignore[attr-defined]
    value_name = shape.value.serialization.get("name", "value")  # type: ignore[attr-defined]
    out = {}
    for index in range(1, len(fields) + 2):
        entry = f"{base}.{index}"
        if f"{entry}.{key_name}" not in fields:
            break
        out[fields[f"{entry}.{key_name}"]] = _query_value(shape.value, fields, f"{entry}.{value_name}", prefixes)  # type: ignore[attr-defined]
    return out


# -- REST: routing by method and URI template ---------------------------------------------


@dataclass(frozen=True)
class Route:
    """One operation's ``requestUri``, compiled: a regex over the path, the query
    literals it needs (``?uploads``, ``?list-type=2``) and how specific it is."""

    operation: str
    method: str
    regex: re.Pattern[str]
    query: tuple[tuple[str, str | None], ...]
    labels: dict[str, str]  # regex group → label name
    #: Required query-string and header members: S3's ``ListParts`` is ``GetObject``'s
    #: URI with ``uploadId``, so a request without it is not ``ListParts``.
    required_query: tuple[str, ...] = ()
    required_headers: tuple[str, ...] = ()
    deprecated: bool = False
    #: The path's text before its first label: a path without it cannot match.
    prefix: str = ""
    #: The host the request must be sent to, where only the host tells two operations
    #: apart: S3's ListDirectoryBuckets is ListBuckets' ``GET /`` on the S3 Express
    #: control endpoint (``s3express-control.<region>.amazonaws.com``).
    host_prefix: str = ""

    @property
    def specificity(self) -> tuple[int, int, int, int]:
        literal = len(re.sub(r"\(\?P<[^>]+>[^)]*\)", "", self.regex.pattern))
        greedy = sum(1 for g in self.regex.pattern.split("(?P<")[1:] if g.split(">", 1)[1].startswith(".+"))
        needs = len(self.query) + len(self.required_query) + len(self.required_headers) + bool(self.host_prefix)
        return (needs, literal, -greedy, not self.deprecated)

    def accepts(self, query: Mapping[str, list[str]], headers: Mapping[str, str]) -> bool:
        for key, value in self.query:  # plain loops: this runs for most routes of a request
            if key not in query or (value is not None and value not in query[key]):
                return False
        for key in self.required_query:
            if key not in query:
                return False
        for header in self.required_headers:
            if header not in headers:
                return False
        return not self.host_prefix or headers.get("host", "").startswith(self.host_prefix)


def compile_route(op: OperationModel) -> Route:
    uri = op.http.get("requestUri", "/")
    path, _, query = uri.partition("?")
    labels: dict[str, str] = {}
    pattern = ""
    for literal, label in re.findall(r"([^{]*)(?:\{([^}]+)\})?", path):
        pattern += re.escape(literal)
        if label:
            group = f"g{len(labels)}"
            greedy = label.endswith("+")
            labels[group] = label.rstrip("+")
            pattern += f"(?P<{group}>.+)" if greedy else f"(?P<{group}>[^/]+)"
    literals = tuple((k, v if sep else None) for part in query.split("&") if part
                     for k, sep, v in [part.partition("=")])
    shape = op.input_shape
    required = [shape.members[n] for n in shape.required_members] if shape is not None else []
    located = [(m.serialization.get("location"), m.serialization.get("name", m.name)) for m in required]
    return Route(op.name, op.http.get("method", "POST"), re.compile(pattern), literals, labels,
                 tuple(w for loc, w in located if loc == "querystring"),
                 tuple(w.lower() for loc, w in located if loc == "header"), op.deprecated,
                 path.split("{", 1)[0])


S3_EXPRESS_CONTROL = "UseS3ExpressControlEndpoint"


def _express_control(op: OperationModel) -> bool:
    return any(p.name == S3_EXPRESS_CONTROL and p.value for p in op.static_context_parameters)


def _on_its_host(model: ServiceModel, route: Route) -> Route:
    """``route``, needing the S3 Express control host when an operation of the same
    wire is sent to the usual host (the endpoint rules' ``UseS3ExpressControlEndpoint``)."""
    op = model.operation_model(route.operation)
    if not _express_control(op):
        return route
    twins = [model.operation_model(n) for n in model.operation_names if n != op.name]
    if any(t.http == op.http and not _express_control(t) for t in twins):
        return replace(route, host_prefix="s3express-control.")
    return route


#: Request shapes whose candidate routes a REST parser remembers (hostile query keys
#: make new ones; past this many, it forgets them all).
_CANDIDATES_MAX = 1024
#: The longest path whose route a REST parser remembers.
ROUTED_PATH_MAX = 512


class RestParser(RequestParser):
    """Shared by rest-json and rest-xml: routing and the URI, query and header members."""

    def __init__(self, model: ServiceModel) -> None:
        super().__init__(model)
        routes = [_on_its_host(model, compile_route(model.operation_model(name)))
                  for name in model.operation_names]
        self.routes = sorted(routes, key=lambda r: r.specificity, reverse=True)
        #: The routes of each method, most specific first: a request tries only its own.
        self.by_method: dict[str, list[Route]] = {}
        for route in self.routes:
            self.by_method.setdefault(route.method, []).append(route)
        self._valued = sorted({k for r in self.routes for k, v in r.query if v is not None})
        self._needed_headers = sorted({h for r in self.routes for h in r.required_headers})
        self._hosts = sorted({r.host_prefix for r in self.routes if r.host_prefix})
        self._candidates: dict[Any, list[Route]] = {}
        #: Each request shape's route by path, found once (bounded as ``_candidates``).
        self._routed: dict[tuple[Any, str], tuple[Route, dict[str, str]]] = {}
        self._located: dict[str, Located] = {}

    def routes_by_header(self) -> bool:
        """Whether a request's headers can change its route (a required header member, a
        host prefix): when not, its method, path and query string alone decide it."""
        return bool(self._needed_headers or self._hosts)

    def route(self, request: HttpRequest, query: Mapping[str, list[str]]) -> tuple[Route, dict[str, str]]:
        path = request.path.split("?", 1)[0] or "/"
        headers = request.lower_headers
        key = self._candidates_key(request.method, query, headers)
        known = self._routed.get((key, path))
        if known is not None:  # the same request again (a warm function's next invoke)
            return known[0], dict(known[1])
        for route in self.candidates(request.method, query, headers, key):
            if not path.startswith(route.prefix):
                continue
            found = route.regex.fullmatch(path) or (route.regex.fullmatch(path.rstrip("/")) if path != "/" else None)
            if found:
                labels = {route.labels[g]: unquote(v) for g, v in found.groupdict().items()}
                if len(path) <= ROUTED_PATH_MAX:
                    if len(self._routed) >= _CANDIDATES_MAX:
                        self._routed.clear()
                    self._routed[(key, path)] = (route, labels)
                return route, dict(labels)
        other_method = any(r.regex.fullmatch(path) for r in self.routes if r.method != request.method)
        raise ProtocolError("unknown_operation", f"No operation of {self.model.service_id} answers "
                            f"{request.method} {path}"
                            + (" (the path exists; check the HTTP method)." if other_method else "."))

    def _candidates_key(self, method: str, query: Mapping[str, list[str]],
                        headers: Mapping[str, str]) -> tuple[Any, ...]:
        """What :meth:`candidates` depends on: the query's keys, the values of literal
        ones, the headers routes need."""
        return (method, frozenset(query),
                tuple(tuple(query[k]) for k in self._valued if k in query),
                tuple(h in headers for h in self._needed_headers),
                tuple(headers.get("host", "").startswith(p) for p in self._hosts))

    def candidates(self, method: str, query: Mapping[str, list[str]],
                   headers: Mapping[str, str], key: tuple[Any, ...] | None = None) -> list[Route]:
        """The routes of ``method`` whose query literals, required members and host the
        request has, most specific first. Remembered by what they depend on
        (:meth:`_candidates_key`), so most requests skip the check; the memory is bounded."""
        key = self._candidates_key(method, query, headers) if key is None else key
        found = self._candidates.get(key)
        if found is None:
            if len(self._candidates) >= _CANDIDATES_MAX:
                self._candidates.clear()
            found = self._candidates[key] = [
                r for r in self.by_method.get(method, ()) if r.accepts(query, headers)]
        return found

    def parse(self, request: HttpRequest) -> ParsedRequest:
        query = parse_qs(request.query, keep_blank_values=True)
        route, labels = self.route(request, query)
        return self.read(request, route, labels, query)

    def read(self, request: HttpRequest, route: Route, labels: Mapping[str, str],
             query: Mapping[str, list[str]]) -> ParsedRequest:
        """The input of a request already routed (:meth:`route`): a service that must know
        the operation before it reads the body (to bound it) routes first."""
        headers = request.lower_headers
        op = self.model.operation_model(route.operation)
        shape = op.input_shape
        if shape is None:
            return ParsedRequest(op, {})
        params: dict[str, Any] = {}
        located = self.located(op.name, shape)
        for wire, text in labels.items():
            if wire in located.uri:
                name, member = located.uri[wire]
                params[name] = scalar_from_text(member, text)
        for wire, values in query.items():  # the request's few, not the model's many
            if wire in located.query:
                name, member = located.query[wire]
                params[name] = ([scalar_from_text(member.member, v) for v in values]  # type: ignore[attr-defined]
                                if member.type_name == "list" else scalar_from_text(member, values[-1]))
        for header, text in headers.items():
            if header in located.headers:
                name, member = located.headers[header]
                params[name] = header_value(member, text)
        for name, prefix in located.prefixes:
            found = {k[len(prefix):]: v for k, v in headers.items() if k.startswith(prefix)}
            if found:
                params[name] = found
        for name, member in located.query_maps:  # a map of the query's other parameters
            rest = {k: v for k, v in query.items()
                    if k not in located.query and all(k != literal for literal, _ in route.query)}
            if rest:
                many = member.value.type_name == "list"  # type: ignore[attr-defined]
                params[name] = {k: v if many else v[-1] for k, v in rest.items()}
        params.update(self.body(shape, request.body))
        return ParsedRequest(op, params)

    def located(self, operation: str, shape: Shape) -> "Located":
        """Where the input's members outside the body are, read once per operation."""
        found = self._located.get(operation)
        if found is None:
            found = self._located[operation] = Located.of(shape)
        return found

    def body(self, shape: Shape, body: bytes) -> dict[str, Any]:
        payload = shape.serialization.get("payload")
        if payload is not None:
            member = shape.members[payload]  # type: ignore[attr-defined]
            if member.type_name in ("blob", "string"):
                if not body:  # botocore sends nothing for an absent payload
                    return {}
                return {payload: body if member.type_name == "blob" else body.decode("utf-8", "replace")}
            value = self.structure(member, body) if body.strip() else {}
            return {payload: value} if value else {}
        if not _has_body_members(shape):
            return {}
        return self.structure(shape, body) if body.strip() else {}

    def structure(self, shape: Shape, body: bytes) -> dict[str, Any]:
        raise NotImplementedError


@functools.lru_cache(maxsize=None)
def _has_body_members(shape: Shape) -> bool:
    return any("location" not in m.serialization for m in shape.members.values())  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Located:
    """An operation's input members outside the body, by wire name: URI labels, query
    parameters, headers (lower case) → (member name, shape); the prefixed header maps
    (S3's ``x-amz-meta-``) and the map of the query's other parameters."""

    uri: dict[str, tuple[str, Shape]]
    query: dict[str, tuple[str, Shape]]
    headers: dict[str, tuple[str, Shape]]
    prefixes: list[tuple[str, str]]
    query_maps: list[tuple[str, Shape]]

    @classmethod
    def of(cls, shape: Shape) -> "Located":
        by: dict[str, Any] = {"uri": {}, "querystring": {}, "header": {}}
        prefixes, query_maps = [], []
        for name, member in shape.members.items():  # type: ignore[attr-defined]
            location = member.serialization.get("location")
            wire = member.serialization.get("name", name)
            if location == "headers":
                prefixes.append((name, wire.lower()))
            elif location == "querystring" and member.type_name == "map":
                query_maps.append((name, member))
            elif location in by:
                by[location][wire.lower() if location == "header" else wire] = (name, member)
        return cls(by["uri"], by["querystring"], by["header"], prefixes, query_maps)


def header_value(shape: Shape, text: str) -> Any:
    """A header member: lists are comma-separated, JSON values base64-encoded JSON."""
    if shape.type_name == "list":
        return [scalar_from_text(shape.member, v) for v in _split_header(text)]  # type: ignore[attr-defined]
    if shape.type_name == "string" and shape.serialization.get("jsonvalue"):
        try:
            return json.loads(base64.b64decode(text))
        except (ValueError, binascii.Error):
            return text
    return scalar_from_text(shape, text)


def _split_header(text: str) -> list[str]:
    """``a, "b,c"`` → ``["a", "b,c"]`` (RFC 9110 list syntax, as botocore writes it)."""
    items = re.findall(r'\s*("(?:[^"\\]|\\.)*"|[^,]*)\s*(?:,|$)', text)
    out = []
    for item in items[:-1] if items and items[-1] == "" else items:
        item = item.strip()
        if item.startswith('"') and item.endswith('"') and len(item) > 1:
            item = re.sub(r"\\(.)", r"\1", item[1:-1])
        out.append(item)
    return out


class RestJsonParser(RestParser):
    def structure(self, shape: Shape, body: bytes) -> dict[str, Any]:
        return _from_json(shape, _json_body(body))


class RestXmlParser(RestParser):
    def structure(self, shape: Shape, body: bytes) -> dict[str, Any]:
        return xml_structure(shape, xml_root(body))


# -- XML -------------------------------------------------------------------------------


def xml_root(body: bytes) -> ET.Element:
    """The body's root element; a DTD (entity tricks) or broken XML is refused."""
    if b"<!DOCTYPE" in body or b"<!ENTITY" in body:
        raise ProtocolError("serialization", "The XML you provided declares a DTD; send "
                            "plain XML without <!DOCTYPE>.")
    try:
        return ET.fromstring(body)
    except ET.ParseError as e:
        raise ProtocolError("serialization", f"The XML you provided was not well-formed ({e}).") from None


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1].rsplit(":", 1)[-1]


def xml_value(shape: Shape, node: ET.Element) -> Any:
    kind = shape.type_name
    if kind == "structure":
        return xml_structure(shape, node)
    if kind == "list":
        name = shape.member.serialization.get("name", "member")  # type: ignore[attr-defined]
        return [xml_value(shape.member, c) for c in node if _local(c.tag) == name]  # type: ignore[attr-defined]
    if kind == "map":
        return dict(_xml_entry(shape, entry) for entry in node if _local(entry.tag) == "entry")
    return scalar_from_text(shape, node.text or "")


def _xml_entry(shape: Shape, entry: ET.Element) -> tuple[str, Any]:
    key_name = shape.key.serialization.get("name", "key")  # type: ignore[attr-defined]
    value_name = shape.value.serialization.get("name", "value")  # type: ignore[attr-defined]
    children = {_local(c.tag): c for c in entry}
    key = children[key_name].text or "" if key_name in children else ""
    value = xml_value(shape.value, children[value_name]) if value_name in children else None  # type: ignore[attr-defined]
    return key, value


def xml_structure(shape: Shape, node: ET.Element) -> dict[str, Any]:
    out: dict[str, Any] = {}
    children: dict[str, list[ET.Element]] = {}
    for child in node:
        children.setdefault(_local(child.tag), []).append(child)
    attributes = {_local(k): v for k, v in node.attrib.items()}
    for name, member in shape.members.items():  # type: ignore[attr-defined]
        wire = member.serialization.get("name", name)
        if member.serialization.get("xmlAttribute"):
            if _local(wire) in attributes:
                out[name] = scalar_from_text(member, attributes[_local(wire)])
            continue
        flattened = member.serialization.get("flattened") and member.type_name in ("list", "map")
        if flattened and member.type_name == "list":
            wire = member.member.serialization.get("name", wire)
            if wire in children:
                out[name] = [xml_value(member.member, c) for c in children[wire]]
        elif flattened:
            if wire in children:
                out[name] = dict(_xml_entry(member, c) for c in children[wire])
        elif wire in children:
            out[name] = xml_value(member, children[wire][0])
    return out


__all__ = [
    "HttpRequest",
    "ParsedRequest",
    "ProtocolError",
    "RequestParser",
    "Route",
    "compile_route",
    "header_value",
    "parser_for",
    "scalar_from_text",
]
