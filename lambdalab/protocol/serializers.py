"""Write an operation's output, or an error, as the bytes AWS sends, for each protocol.

The inverse of botocore's response parsers (``botocore/parsers.py``), from the same
service model:

- ``json`` / ``rest-json``: the output as JSON with the model's member names; timestamps
  as epoch seconds unless the member's ``timestampFormat`` says otherwise, blobs in
  base64; rest-json also puts ``header`` members in headers, a ``statusCode`` member in
  the status and a ``payload`` member as the whole body (and none on a 204). An error is
  ``{"__type": CODE, "message": ...}`` with ``x-amzn-ErrorType: CODE``
  (https://smithy.io/2.0/aws/protocols/aws-json-1_1-protocol.html#operation-error-serialization);
  rest-json's is the error shape's members (Lambda's ``{"Type": "User", "message": ...}``)
  and the code in the header alone
  (https://smithy.io/2.0/aws/protocols/aws-restjson1-protocol.html#operation-error-serialization);
  a JSON operation whose output has an event stream (Kinesis' SubscribeToShard) answers
  one, sent as its events come (:mod:`.eventstream`);
  a service that was query-compatible (SQS) also sends
  ``x-amzn-query-error: <query code>;Sender``
  (https://smithy.io/2.0/aws/protocols/aws-query-protocol.html#aws-protocols-awsquerycompatible-trait).
- ``query``: ``<OpResponse xmlns=…><OpResult>…</OpResult><ResponseMetadata><RequestId>``;
  an error is ``<ErrorResponse><Error><Type>Sender</Type><Code>…`` with the error
  shape's query code (https://smithy.io/2.0/aws/protocols/aws-query-protocol.html).
- ``rest-xml``: the output structure as the root element (its ``locationName``), in the
  service's namespace; an error is ``<Error><Code>…</Code><Message>…</Message>…</Error>``
  (https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html).

Every answer carries ``x-amzn-RequestId``. Written for lambdalab from botocore's parsers
as the specification; no third-party code is adapted.
"""

from __future__ import annotations

import base64
import calendar
import functools
import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from botocore.model import OperationModel, ServiceModel, Shape

from .text import xml_text
from .validate import service_model

NO_CONTENT = 204
JSON_VERSIONS = {"1.0": "application/x-amz-json-1.0", "1.1": "application/x-amz-json-1.1"}


@dataclass
class HttpResponse:
    """What goes back on the wire: status, headers, body.

    :param stream: a body sent in pieces instead of ``body`` (an object with
        ``read(size)``, returning ``b""`` at its end, and ``close()``): a streaming
        payload (S3's GetObject) that is never held whole in memory.
    """

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    stream: Any = None


@dataclass
class ServiceError(Exception):
    """An AWS error to answer: its code (the error shape's name when the model has one),
    message, HTTP status and the error shape's other members.

    :param sender_fault: the client's fault (``Sender``) or the service's (``Receiver``).
    """

    code: str
    message: str
    status: int = 400
    fields: dict[str, Any] = field(default_factory=dict)
    sender_fault: bool = True

    def __post_init__(self) -> None:
        super().__init__(self.message)


def serializer_for(service: str | ServiceModel, protocol: str | None = None) -> "ResponseSerializer":
    """The response serializer of ``service`` in its own protocol, or in ``protocol``."""
    model = service_model(service) if isinstance(service, str) else service
    return _serializer(model, protocol or model.protocol)


@functools.lru_cache(maxsize=None)
def _serializer(model: ServiceModel, protocol: str) -> "ResponseSerializer":
    classes = {"json": JsonSerializer, "rest-json": RestJsonSerializer,
               "rest-xml": RestXmlSerializer, "query": QuerySerializer}
    if protocol not in classes:
        raise ValueError(f"lambdalab writes no {protocol!r} answers (it writes {', '.join(classes)})")
    return classes[protocol](model)


# -- scalars ---------------------------------------------------------------------------


def _datetime(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    return datetime.fromtimestamp(float(value), timezone.utc)


def timestamp_text(value: Any, fmt: str) -> Any:
    """A timestamp in ``fmt`` (``unixTimestamp``, ``iso8601`` or ``rfc822``)."""
    when = _datetime(value)
    if fmt == "unixTimestamp":
        seconds = calendar.timegm(when.utctimetuple()) + when.microsecond / 1e6
        return int(seconds) if seconds.is_integer() else round(seconds, 3)
    if fmt == "rfc822":
        return when.astimezone(timezone.utc).strftime("%a, %d %b %Y %H:%M:%S GMT")
    when = when.astimezone(timezone.utc)
    return when.strftime("%Y-%m-%dT%H:%M:%S.%fZ" if when.microsecond else "%Y-%m-%dT%H:%M:%SZ")


def scalar_text(shape: Shape, value: Any, default_timestamp: str) -> str:
    """A scalar as text (XML, headers)."""
    kind = shape.type_name
    if kind == "boolean":
        return "true" if value else "false"
    if kind == "blob":
        return base64.b64encode(value if isinstance(value, bytes) else str(value).encode()).decode()
    if kind == "timestamp":
        return str(timestamp_text(value, shape.serialization.get("timestampFormat", default_timestamp)))
    if kind in ("float", "double") and isinstance(value, float) and value.is_integer():
        return repr(value)
    return str(value)


# -- base --------------------------------------------------------------------------------


class ResponseSerializer:
    """Base class: one per protocol, built once per service model."""

    def __init__(self, model: ServiceModel) -> None:
        self.model = model

    def output(self, operation: OperationModel, value: dict[str, Any], request_id: str) -> HttpResponse:
        raise NotImplementedError

    def error(self, error: ServiceError, request_id: str) -> HttpResponse:
        raise NotImplementedError

    def error_shape(self, code: str) -> Shape | None:
        for shape in self.model.error_shapes:
            if shape.name == code or shape.metadata.get("error", {}).get("code") == code:
                return shape
        return None

    def status_of(self, error: ServiceError) -> int:
        shape = self.error_shape(error.code)
        if shape is not None and "httpStatusCode" in shape.metadata.get("error", {}):
            return int(shape.metadata["error"]["httpStatusCode"])
        return error.status


# -- JSON --------------------------------------------------------------------------------


def json_value(shape: Shape, value: Any, default_timestamp: str = "unixTimestamp") -> Any:
    """``value`` as JSON-ready data, with the model's wire names and types."""
    kind = shape.type_name
    if value is None:
        return None
    if kind == "structure":  # in the order the operation wrote it (the CLI prints it so)
        out = {}
        members = shape.members  # type: ignore[attr-defined]
        for name, item in value.items():
            member = members.get(name)
            if member is not None and item is not None and "location" not in member.serialization:
                out[member.serialization.get("name", name)] = json_value(member, item, default_timestamp)
        return out
    if kind == "list":
        return [json_value(shape.member, v, default_timestamp) for v in value]  # type: ignore[attr-defined]
    if kind == "map":
        return {k: json_value(shape.value, v, default_timestamp) for k, v in value.items()}  # type: ignore[attr-defined]
    if kind == "blob":
        return base64.b64encode(value if isinstance(value, bytes) else str(value).encode()).decode()
    if kind == "timestamp":
        return timestamp_text(value, shape.serialization.get("timestampFormat", default_timestamp))
    return value


def _dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


class JsonSerializer(ResponseSerializer):
    """AWS JSON 1.0 / 1.1."""

    @property
    def content_type(self) -> str:
        return JSON_VERSIONS.get(self.model.metadata.get("jsonVersion", "1.0"), JSON_VERSIONS["1.0"])

    def output(self, operation: OperationModel, value: dict[str, Any], request_id: str) -> HttpResponse:
        shape = operation.output_shape
        if operation.has_event_stream_output:  # the events are sent as they come
            from .eventstream import CONTENT_TYPE, EventStreamBody

            return HttpResponse(200, {"Content-Type": CONTENT_TYPE, "x-amzn-RequestId": request_id},
                                stream=EventStreamBody(operation, value, json_value))
        body = json_value(shape, value) if shape is not None else {}
        return HttpResponse(200, {"Content-Type": self.content_type, "x-amzn-RequestId": request_id},
                            _dumps(body))

    def error(self, error: ServiceError, request_id: str) -> HttpResponse:
        shape = self.error_shape(error.code)
        code = shape.name if shape is not None else error.code
        fields = json_value(shape, error.fields) if shape is not None else dict(error.fields)
        fields.pop("message", None)
        fields.pop("Message", None)
        headers = {"Content-Type": self.content_type, "x-amzn-RequestId": request_id,
                   "x-amzn-ErrorType": code}
        if "awsQueryCompatible" in self.model.metadata:
            query_code = shape.metadata.get("error", {}).get("code", code) if shape is not None else code
            headers["x-amzn-query-error"] = f"{query_code};{'Sender' if error.sender_fault else 'Receiver'}"
        return HttpResponse(self.status_of(error), headers,
                            _dumps({"__type": code, "message": error.message, **fields}))


class RestJsonSerializer(JsonSerializer):
    """REST-JSON: header and status members, a payload member, else a JSON body."""

    content_type = "application/json"  # type: ignore[assignment]

    def output(self, operation: OperationModel, value: dict[str, Any], request_id: str) -> HttpResponse:
        response = HttpResponse(operation.http.get("responseCode", 200), {"x-amzn-RequestId": request_id})
        shape = operation.output_shape
        if shape is not None:
            rest_locations(shape, value, response)
        if response.status == NO_CONTENT:  # no body, not even {} (RFC 9110, 15.3.5)
            return response
        if shape is None:
            response.headers["Content-Type"] = self.content_type
            response.body = b"{}"
            return response
        payload = shape.serialization.get("payload")
        if payload is not None:
            member = shape.members[payload]
            data = value.get(payload)
            if member.type_name in ("blob", "string"):
                response.body = data.encode() if isinstance(data, str) else (data or b"")
                response.headers.setdefault("Content-Type", "application/octet-stream")
                return response
            body = json_value(member, data) if data is not None else {}
        else:
            body = json_value(shape, value)
        response.headers["Content-Type"] = self.content_type
        response.body = _dumps(body)
        return response


    def error(self, error: ServiceError, request_id: str) -> HttpResponse:
        """The error shape's members as the body (its message under the shape's name for
        it, ``message`` or ``Message``), the code in ``x-amzn-ErrorType`` where botocore
        reads it, and no ``__type``: Lambda's errors are ``{"Type": "User", "message":
        …}`` (https://docs.aws.amazon.com/lambda/latest/api/API_Invoke.html#API_Invoke_Errors)."""
        shape = self.error_shape(error.code)
        code = shape.name if shape is not None else error.code
        response = HttpResponse(self.status_of(error), {"Content-Type": self.content_type,
                                                        "x-amzn-RequestId": request_id,
                                                        "x-amzn-errortype": code})
        if shape is not None:
            rest_locations(shape, error.fields, response)
        response.body = _dumps(_error_body(shape, error))
        return response


def _error_body(shape: Shape | None, error: ServiceError) -> dict[str, Any]:
    """An error's fields in their order (the message first when they leave it out), the
    modeled ones typed as the shape says, those sent elsewhere (a header) left out."""
    members = shape.members if shape is not None else {}  # type: ignore[attr-defined]
    fields = error.fields
    if "message" not in fields and "Message" not in fields:
        fields = {"Message" if "Message" in members else "message": error.message, **fields}
    out = {}
    for key, value in fields.items():
        member = members.get(key)
        if member is None:
            out[key] = value
        elif "location" not in member.serialization and value is not None:
            out[member.serialization.get("name", key)] = json_value(member, value)
    return out


def rest_locations(shape: Shape, value: dict[str, Any], response: HttpResponse) -> None:
    """Put the ``header``, ``headers`` (a prefixed map) and ``statusCode`` members."""
    located = located_members(shape)
    for name, item in value.items():  # the output's few members, not the shape's many
        found = located.get(name)
        if item is None or found is None:
            continue
        location, wire, member = found
        if location == "statusCode":
            response.status = int(item)
        elif location == "header":
            response.headers[wire] = header_text(member, item)
        elif location == "headers":
            for key, text in item.items():
                response.headers[wire + key] = str(text)


@functools.lru_cache(maxsize=None)
def located_members(shape: Shape) -> dict[str, tuple[str, str, Shape]]:
    """A shape's members sent outside the body, read once: name → (location, wire
    name, member)."""
    members = shape.members  # type: ignore[attr-defined]
    return {name: (m.serialization["location"], m.serialization.get("name", name), m)
            for name, m in members.items() if m.serialization.get("location") is not None}


def header_text(shape: Shape, value: Any) -> str:
    if shape.type_name == "list":
        return ",".join(_quoted(scalar_text(shape.member, v, "rfc822")) for v in value)  # type: ignore[attr-defined]
    if shape.type_name == "string" and shape.serialization.get("jsonvalue"):
        return base64.b64encode(_dumps(value)).decode()
    return scalar_text(shape, value, "rfc822")


def _quoted(text: str) -> str:
    if "," in text or '"' in text:
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return text


# -- XML ---------------------------------------------------------------------------------


def xml_element(name: str, shape: Shape, value: Any, default_timestamp: str = "iso8601",
                xmlns: str = "") -> str:
    """``<name>…</name>`` for ``value`` of ``shape`` (lists and maps not flattened here:
    the enclosing structure writes flattened ones)."""
    kind = shape.type_name
    attrs = f" xmlns={quoteattr(xmlns)}" if xmlns else ""
    if kind == "structure":
        inner, attributes = xml_members(shape, value, default_timestamp)
        return f"<{name}{attrs}{attributes}>{inner}</{name}>"
    if kind == "list":
        item = shape.member.serialization.get("name", "member")  # type: ignore[attr-defined]
        inner = "".join(xml_element(item, shape.member, v, default_timestamp) for v in value)  # type: ignore[attr-defined]
        return f"<{name}{attrs}>{inner}</{name}>"
    if kind == "map":
        inner = "".join(f"<entry>{_xml_entry(shape, k, v, default_timestamp)}</entry>" for k, v in value.items())
        return f"<{name}{attrs}>{inner}</{name}>"
    return f"<{name}{attrs}>{escape(xml_text(scalar_text(shape, value, default_timestamp)))}</{name}>"


def _xml_entry(shape: Shape, key: str, value: Any, default_timestamp: str) -> str:
    key_name = shape.key.serialization.get("name", "key")  # type: ignore[attr-defined]
    value_name = shape.value.serialization.get("name", "value")  # type: ignore[attr-defined]
    return (xml_element(key_name, shape.key, key, default_timestamp)  # type: ignore[attr-defined]
            + xml_element(value_name, shape.value, value, default_timestamp))  # type: ignore[attr-defined]


def xml_members(shape: Shape, value: dict[str, Any], default_timestamp: str) -> tuple[str, str]:
    """A structure's members as child elements, and its ``xmlAttribute`` members."""
    parts: list[str] = []
    attributes = ""
    for name, member in shape.members.items():  # type: ignore[attr-defined]
        item = value.get(name)
        if item is None or "location" in member.serialization:
            continue
        wire = member.serialization.get("name", name)
        if member.serialization.get("xmlAttribute"):
            namespace = member.serialization.get("xmlNamespace", {})
            if namespace.get("prefix"):
                attributes += f" xmlns:{namespace['prefix']}={quoteattr(namespace.get('uri', ''))}"
            attributes += f" {wire}={quoteattr(xml_text(scalar_text(member, item, default_timestamp)))}"
            continue
        flattened = member.serialization.get("flattened")
        if flattened and member.type_name == "list":
            tag = member.member.serialization.get("name", wire)
            parts.extend(xml_element(tag, member.member, v, default_timestamp) for v in item)
        elif flattened and member.type_name == "map":
            parts.extend(f"<{wire}>{_xml_entry(member, k, v, default_timestamp)}</{wire}>" for k, v in item.items())
        else:
            parts.append(xml_element(wire, member, item, default_timestamp))
    return "".join(parts), attributes


XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>'


class QuerySerializer(ResponseSerializer):
    """The query protocol (SNS, IAM, STS, CloudFormation, SQS before JSON)."""

    content_type = "text/xml"

    @property
    def namespace(self) -> str:
        meta = self.model.metadata
        return meta.get("xmlNamespace") or (
            f"http://{meta.get('endpointPrefix', self.model.service_name)}.amazonaws.com/doc/{meta.get('apiVersion')}/"
        )

    def output(self, operation: OperationModel, value: dict[str, Any], request_id: str) -> HttpResponse:
        shape = operation.output_shape
        result = ""
        if shape is not None:
            inner, _ = xml_members(shape, value, "iso8601")
            wrapper = shape.serialization.get("resultWrapper", f"{operation.name}Result")
            result = f"<{wrapper}>{inner}</{wrapper}>"
        body = (f"<{operation.name}Response xmlns={quoteattr(self.namespace)}>{result}"
                f"<ResponseMetadata><RequestId>{escape(request_id)}</RequestId></ResponseMetadata>"
                f"</{operation.name}Response>")
        return HttpResponse(200, {"Content-Type": self.content_type, "x-amzn-RequestId": request_id},
                            body.encode())

    def error(self, error: ServiceError, request_id: str) -> HttpResponse:
        shape = self.error_shape(error.code)
        code = shape.metadata.get("error", {}).get("code", shape.name) if shape is not None else error.code
        fields = _error_fields(shape, error)
        body = (f"<ErrorResponse xmlns={quoteattr(self.namespace)}><Error>"
                f"<Type>{'Sender' if error.sender_fault else 'Receiver'}</Type>"
                f"<Code>{escape(xml_text(code))}</Code><Message>{escape(xml_text(error.message))}</Message>"
                f"{fields}</Error><RequestId>{escape(request_id)}</RequestId></ErrorResponse>")
        return HttpResponse(self.status_of(error), {"Content-Type": self.content_type,
                                                    "x-amzn-RequestId": request_id}, body.encode())


def _error_fields(shape: Shape | None, error: ServiceError) -> str:
    """The error's fields: the shape's members as the model says, the others (S3's
    ``BucketName`` of NoSuchBucket, which the model leaves out) as text elements."""
    fields = {k: v for k, v in error.fields.items() if k not in ("message", "Message", "Code", "Type")}
    modeled = shape.members if shape is not None else {}  # type: ignore[attr-defined]
    written = xml_members(shape, fields, "iso8601")[0] if shape is not None else ""
    return written + "".join(f"<{k}>{escape(xml_text(str(v)))}</{k}>" for k, v in fields.items()
                             if k not in modeled)


class RestXmlSerializer(ResponseSerializer):
    """REST-XML (S3): the output structure as the root element, or a payload member.

    A service whose wire says more than its model subclasses it (S3's root element
    names, its request-id headers: ``lambdalab_s3.responses.S3Serializer``).
    """

    content_type = "application/xml"
    #: What precedes the root element (S3 puts a newline after the declaration).
    declaration = XML_DECLARATION

    def request_id_headers(self, request_id: str) -> dict[str, str]:
        return {"x-amzn-RequestId": request_id}

    def root_name(self, operation: OperationModel, shape: Shape) -> str:
        """The root element of an output that is not a payload member."""
        return str(shape.serialization.get("name", shape.name))

    def namespace(self, shape: Shape) -> str:
        ns = shape.serialization.get("xmlNamespace") or self.model.metadata.get("xmlNamespace")
        if isinstance(ns, dict):
            ns = ns.get("uri")
        return ns or f"http://{self.model.metadata.get('endpointPrefix')}.amazonaws.com/doc/{self.model.api_version}/"

    def output(self, operation: OperationModel, value: dict[str, Any], request_id: str) -> HttpResponse:
        response = HttpResponse(operation.http.get("responseCode", 200), self.request_id_headers(request_id))
        shape = operation.output_shape
        if shape is None:
            return response
        rest_locations(shape, value, response)
        payload = shape.serialization.get("payload")
        if payload is not None:
            member, data = shape.members[payload], value.get(payload)
            if data is None:
                return response
            if member.type_name in ("blob", "string"):
                if hasattr(data, "read"):  # a streaming payload, read as it is sent
                    response.stream = data
                else:
                    response.body = data.encode() if isinstance(data, str) else data
                return response
            root = member.serialization.get("name", member.name)
            shape, value = member, data
        else:
            if not any("location" not in m.serialization and value.get(n) is not None
                       for n, m in shape.members.items()):
                return response
            root = self.root_name(operation, shape)
        response.headers["Content-Type"] = self.content_type
        response.body = (self.declaration + xml_element(root, shape, value, "iso8601",
                                                        self.namespace(shape))).encode()
        return response

    def error(self, error: ServiceError, request_id: str) -> HttpResponse:
        body = (f"{XML_DECLARATION}\n<Error><Code>{escape(xml_text(error.code))}</Code>"
                f"<Message>{escape(xml_text(error.message))}</Message>"
                f"{_error_fields(self.error_shape(error.code), error)}"
                f"<RequestId>{escape(request_id)}</RequestId></Error>")
        return HttpResponse(self.status_of(error), {"Content-Type": self.content_type,
                                                    **self.request_id_headers(request_id)}, body.encode())


__all__ = [
    "HttpResponse",
    "ResponseSerializer",
    "ServiceError",
    "json_value",
    "located_members",
    "serializer_for",
    "timestamp_text",
]
