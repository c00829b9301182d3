"""lambdalab's protocol layer against botocore's own serializers and parsers.

For every operation of the services the edge serves (lambda, s3, sqs in both of its
protocols, events) and of the ones it will (logs, sns, sts, iam, kinesis, dynamodb):

- a request boto3 would send (``botocore.serialize``) is read back by
  :func:`lambdalab.protocol.parser_for` into the very params it was made from;
- an output written by :func:`lambdalab.protocol.serializer_for` is read by boto3
  (``botocore.parsers``) into the very dict it was made from;
- an error (every modeled one, and one the model does not know) is read by boto3 into
  its code, message and fields.

Values are generated from the shapes (enums, min/max lengths and ranges; patterns are
ignored). ``max_examples`` is small (see ``EXAMPLES``): the point is every shape of
every operation once or twice, not depth. Skipped, each with the reason in ``SKIPPED``:
event-stream operations (their bodies are framed binary messages, not a protocol body).
"""

from __future__ import annotations

import functools
import io
import sys
import string
import urllib.parse
from datetime import datetime, timezone
from typing import Any

import botocore.parsers
import botocore.serialize
import pytest
from botocore.model import OperationModel, ServiceModel, Shape
from botocore.response import StreamingBody
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lambdalab.protocol import HttpRequest, ServiceError, parser_for, serializer_for, service_model
from lambdalab_sqs.responses import query_model

#: ``sqs-query`` is SQS in the query protocol older SDKs speak: botocore's JSON ``sqs``
#: model given back its query wire names by the SQS plugin (``query_model``).
#: ``cloudwatch`` and ``cloudwatch-query``: botocore's model lists smithy-rpc-v2-cbor, json
#: and query; boto3 picks json, older SDKs send query, and lambdalab serves both.
SERVICES = ["lambda", "s3", "sqs", "sqs-query", "events", "logs", "sns", "sts", "iam", "kinesis",
            "dynamodb", "cloudwatch", "cloudwatch-query", "xray", "cloudtrail", "cloudformation",
            "scheduler", "apigateway", "apigatewayv2"]
#: hypothesis (6.170) reads ``settings.database`` through a chain of settings objects that
#: grows as one parametrized test runs more cases: the request round trip (1,028 cases
#: since X-Ray and CloudTrail joined) met RecursionError there at its ~950th case, run
#: whole, and not when its services ran apart. A higher limit for this module is enough.
@pytest.fixture(autouse=True, scope="module")
def _deep_enough_for_hypothesis() -> Any:
    """For this module's tests only: the limit is the process's, and other tests assert
    what a 10,000-deep JSON body meets at the default one."""
    before = sys.getrecursionlimit()
    sys.setrecursionlimit(max(before, 20_000))
    yield
    sys.setrecursionlimit(before)
#: Examples per operation and direction: ~790 operations × 2 directions × 1 example.
EXAMPLES = 1
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                    suppress_health_check=list(HealthCheck))

ALPHABET = string.ascii_letters + string.digits + "-_.:/&<>"
DEPTH_MAX = 4


def model_of(service: str) -> ServiceModel:
    if service == "sqs-query":
        return query_model()
    if service.startswith("cloudwatch"):
        return _cloudwatch_model("query" if service.endswith("-query") else "json")
    return service_model(service)


@functools.lru_cache(maxsize=None)
def _cloudwatch_model(protocol: str) -> ServiceModel:
    from botocore.loaders import Loader

    raw = Loader().load_service_model("cloudwatch", "service-2")
    raw["metadata"] = {**raw["metadata"], "protocol": protocol, "protocols": [protocol]}
    return ServiceModel(raw, "cloudwatch")


def _event_stream(op: OperationModel) -> bool:
    return any(s is not None and s.serialization.get("eventstream") or _has_event_stream(s)
               for s in (op.input_shape, op.output_shape))


def _has_event_stream(shape: Shape | None) -> bool:
    if shape is None or shape.type_name != "structure":
        return False
    return any(m.serialization.get("eventstream") or m.metadata.get("eventstream")
               for m in shape.members.values())


def operations() -> list[tuple[str, str]]:
    out = []
    for service in SERVICES:
        model = model_of(service)
        for name in model.operation_names:
            if not _event_stream(model.operation_model(name)):
                out.append((service, name))
    return out


SKIPPED = {  # what is not run, and why (SubscribeToShard's output: test_event_stream_output_roundtrip)
    (service, name): "event stream: framed binary messages, not a protocol body"
    for service in SERVICES for name in model_of(service).operation_names
    if _event_stream(model_of(service).operation_model(name))
}


#: Not round-tripping yet, each with what is known of why: gaps of the layer or of the
#: value generator, to close next. Marked strict, so that a fix shows up.
KNOWN_GAPS: dict[tuple[str, str], str] = {
    ("test_request_roundtrip", f"cloudformation.{operation}"): (
        "the generator draws a list of one empty structure, which the query protocol writes "
        "as nothing at all (no field names it), so no reader can give it back")
    for operation in ("BatchDescribeTypeConfigurations", "CreateStackRefactor")
} | {
    ("test_output_roundtrip", f"apigateway.{operation}"): (
        "a blob payload drawn absent: the serializer still writes the payload's default "
        "Content-Type (application/octet-stream), which botocore reads back as contentType "
        "(lambdalab does not serve these two operations: 501)")
    for operation in ("GetExport", "GetSdk")
}


def _known_gap(test: str, cases: list[tuple[str, ...]]) -> list[Any]:
    return [pytest.param(*case, marks=pytest.mark.xfail(strict=True, reason=KNOWN_GAPS[(test, ".".join(case))]))
            if (test, ".".join(case)) in KNOWN_GAPS else pytest.param(*case) for case in cases]


# -- values from shapes ---------------------------------------------------------------


def values(shape: Shape, depth: int = 0, *, header: bool = False) -> st.SearchStrategy[Any]:
    kind = shape.type_name
    meta = shape.metadata
    if kind == "string":
        if "enum" in meta:
            return st.sampled_from(meta["enum"])
        if shape.serialization.get("jsonvalue"):
            return st.dictionaries(st.text(string.ascii_letters, min_size=1, max_size=4),
                                   st.integers(0, 9), max_size=2)
        low = max(1, int(meta.get("min", 1)))
        return st.text(ALPHABET, min_size=low, max_size=max(low, min(int(meta.get("max", 12)), 12)))
    if kind in ("integer", "long"):
        return st.integers(int(meta.get("min", 0)), int(meta.get("max", 10_000)))
    if kind in ("float", "double"):
        return st.integers(0, 4000).map(lambda n: n / 4)
    if kind == "boolean":
        return st.booleans()
    if kind == "timestamp":
        return st.integers(0, 2_000_000_000).map(lambda s: datetime.fromtimestamp(s, timezone.utc))
    if kind == "blob":
        return st.binary(min_size=1, max_size=16)
    if kind == "list":
        low = int(meta.get("min", 0))
        if depth >= DEPTH_MAX:  # as few members as the model allows, built only if drawn:
            return st.lists(st.deferred(lambda: values(shape.member, depth + 1)),  # recursion ends
                            min_size=low, max_size=low)
        return st.lists(values(shape.member, depth + 1), min_size=max(low, 1), max_size=max(low, 2))
    if kind == "map":
        if depth >= DEPTH_MAX:
            return st.just({})
        return st.dictionaries(st.text(string.ascii_lowercase, min_size=1, max_size=6).map(lambda k: "k" + k),
                               values(shape.value, depth + 1), min_size=1, max_size=2)
    if kind == "structure":
        return structures(shape, depth)
    return st.nothing()


def structures(shape: Shape, depth: int) -> st.SearchStrategy[dict[str, Any]]:
    required = set(shape.required_members)
    members = {n: m for n, m in shape.members.items()
               if m.type_name != "document" and not m.serialization.get("eventstream")}
    if shape.metadata.get("union"):  # one member; lazily, as unions recurse (DynamoDB's AttributeValue)
        if depth >= DEPTH_MAX:
            members = {n: m for n, m in members.items() if m.type_name not in ("structure", "list", "map")}
        return st.sampled_from(sorted(members)).flatmap(
            lambda n: st.fixed_dictionaries({n: values(members[n], depth + 1)})) if members else st.just({})
    always = {n: _member_values(m, depth) for n, m in members.items()
              if n in required or m.metadata.get("idempotencyToken")}
    # Past DEPTH_MAX only required members, and no strategy is built for the others:
    # DynamoDB's AttributeValue (``L`` and ``M`` of AttributeValue) is recursive without
    # being marked a union in the model.
    maybe = {n: _member_values(m, depth) for n, m in members.items()
             if n not in always} if depth < DEPTH_MAX else {}
    return st.fixed_dictionaries(always, optional=maybe)


def _member_values(member: Shape, depth: int) -> st.SearchStrategy[Any]:
    """A member's values; an output's HTTP status member (Invoke's ``StatusCode``) is a
    success, as botocore reads any other status as an error."""
    if member.serialization.get("location") == "statusCode":
        return st.integers(200, 299)
    return values(member, depth + 1)


# -- the requests -----------------------------------------------------------------------


def _as_http(serialized: dict[str, Any], protocol: str) -> HttpRequest:
    body = serialized["body"]
    if isinstance(body, dict):  # the query serializer leaves the form to the sender
        body = urllib.parse.urlencode(body)
    if isinstance(body, str):
        body = body.encode()
    query = serialized["query_string"]
    if isinstance(query, dict):
        query = urllib.parse.urlencode(query, doseq=True, quote_via=urllib.parse.quote)
    path, _, literal = serialized["url_path"].partition("?")  # as an HTTP server splits it
    query = "&".join(q for q in (literal, query) if q)
    return HttpRequest(serialized["method"], path, query, dict(serialized["headers"]), body or b"")


OPERATIONS = operations()


@pytest.mark.parametrize("service,operation", _known_gap("test_request_roundtrip", OPERATIONS),
                         ids=[f"{s}.{o}" for s, o in OPERATIONS])
@SETTINGS
@given(data=st.data())
def test_request_roundtrip(service: str, operation: str, data: st.DataObject) -> None:
    model = model_of(service)
    op = model.operation_model(operation)
    params = data.draw(structures(op.input_shape, 0)) if op.input_shape is not None else {}
    serialized = botocore.serialize.create_serializer(model.protocol).serialize_to_request(params, op)
    if any(p.name == "UseS3ExpressControlEndpoint" and p.value for p in op.static_context_parameters):
        # the host botocore's endpoint rules would send it to
        serialized["headers"]["Host"] = "s3express-control.us-east-1.amazonaws.com"
    parsed = parser_for(model_of(service)).parse(_as_http(serialized, model.protocol))
    # S3's deprecated GetBucketLifecycle is GetBucketLifecycleConfiguration's very wire:
    # the current operation is the one served.
    assert parsed.operation.name == operation or (op.deprecated and parsed.operation.http == op.http)
    assert _pruned(parsed.params) == _pruned(params)


# -- the answers -----------------------------------------------------------------------


def _botocore_reads(service: str, response: Any, shape: Shape | None, *, streaming: bool = False) -> dict[str, Any]:
    """What boto3 makes of ``response``: a streaming output's body handed over as the
    ``StreamingBody`` botocore's endpoint makes of it (``convert_to_response_dict``),
    then read, as the caller of ``get_object`` reads it."""
    parser = botocore.parsers.create_parser(model_of(service).protocol)
    body: Any = response.body
    if streaming and response.status < 300:
        body = StreamingBody(io.BytesIO(response.body), len(response.body))
    parsed = parser.parse({"status_code": response.status, "headers": response.headers,
                           "body": body}, shape)
    parsed.pop("ResponseMetadata", None)
    return {k: v.read() if isinstance(v, StreamingBody) else v for k, v in parsed.items()}


def _pruned(value: Any) -> Any:
    """Empty lists, maps and structures dropped: most wires cannot tell them from
    missing ones (XML, an absent payload)."""
    if isinstance(value, dict):
        return {k: _pruned(v) for k, v in value.items() if v not in ([], {})}
    if isinstance(value, list):
        return [_pruned(v) for v in value]
    return value


@pytest.mark.parametrize("service,operation", _known_gap("test_output_roundtrip", OPERATIONS),
                         ids=[f"{s}.{o}" for s, o in OPERATIONS])
@SETTINGS
@given(data=st.data())
def test_output_roundtrip(service: str, operation: str, data: st.DataObject) -> None:
    op = model_of(service).operation_model(operation)
    output = data.draw(structures(op.output_shape, 0)) if op.output_shape is not None else {}
    response = serializer_for(model_of(service)).output(op, output, "req-1")
    assert response.headers["x-amzn-RequestId"] == "req-1"
    read = _botocore_reads(service, response, op.output_shape, streaming=op.has_streaming_output)
    assert _pruned(read) == _pruned(_as_read(op, output, response.status))


class _RawEvents:
    """An event stream body as botocore's endpoint hands it to ``EventStream``."""

    def __init__(self, body: bytes) -> None:
        self.body = body

    def stream(self) -> Any:
        yield self.body

    def close(self) -> None:
        pass


@SETTINGS
@given(data=st.data())
def test_event_stream_output_roundtrip(data: st.DataObject) -> None:
    """The one event-stream output lambdalab writes (Kinesis' SubscribeToShard, JSON
    protocol; the others are skipped above): events written by the layer read back,
    with botocore's event stream parser, to the same events."""
    op = model_of("kinesis").operation_model("SubscribeToShard")
    union = op.output_shape.members["EventStream"]  # type: ignore[union-attr]
    events = data.draw(st.lists(structures(union.members["SubscribeToShardEvent"], 0), max_size=3))
    response = serializer_for(model_of("kinesis")).output(
        op, {"EventStream": [{"SubscribeToShardEvent": e} for e in events]}, "req-1")
    body = b"".join(iter(lambda: response.stream.read(1 << 20), b""))
    parser = botocore.parsers.create_parser("json")
    parsed = parser.parse({"status_code": 200, "headers": response.headers, "body": _RawEvents(body),
                           "context": {"operation_name": "SubscribeToShard"}}, op.output_shape)
    read = [e["SubscribeToShardEvent"] for e in parsed["EventStream"]]
    assert _pruned(read) == _pruned(events)


def _as_read(op: OperationModel, output: dict[str, Any], status: int) -> dict[str, Any]:
    """What botocore reads for ``output`` beyond its members: the status in a
    ``statusCode`` member, and an empty text or blob payload when there is none."""
    expected = dict(output)
    shape = op.output_shape
    if shape is None:
        return expected
    for name, member in shape.members.items():
        if member.serialization.get("location") == "statusCode":
            expected.setdefault(name, status)
    payload = shape.serialization.get("payload")
    if payload is not None and shape.members[payload].type_name in ("string", "blob"):
        expected.setdefault(payload, "" if shape.members[payload].type_name == "string" else b"")
    return expected


@pytest.mark.parametrize("service", [pytest.param(s, marks=pytest.mark.xfail(strict=True, reason="known gap"))
                                     if ("test_error_roundtrip", s) in KNOWN_GAPS else s for s in SERVICES])
@SETTINGS
@given(data=st.data())
def test_error_roundtrip(service: str, data: st.DataObject) -> None:
    model = model_of(service)
    any_output = model.operation_model(model.operation_names[0]).output_shape
    for shape in [*model.error_shapes, None]:
        fields = data.draw(structures(shape, 0)) if shape is not None else {}
        fields.pop("message", None)
        fields.pop("Message", None)
        code = shape.name if shape is not None else "NoSuchThing"
        error = ServiceError(code, "it went <wrong> & why", 400, fields)
        response = serializer_for(model_of(service)).error(error, "req-2")
        parsed = _botocore_reads(service, response, any_output)
        expected = code
        if shape is not None and (model.protocol == "query" or "awsQueryCompatible" in model.metadata):
            expected = shape.metadata.get("error", {}).get("code", code)
        assert parsed["Error"]["Code"] == expected
        assert parsed["Error"]["Message"] == "it went <wrong> & why"
        if shape is not None and fields:
            modeled = _botocore_reads(service, response, shape)
            modeled.pop("Error", None)
            modeled.pop("message", None)
            modeled.pop("Message", None)
            assert _pruned(modeled) == _pruned(fields)


# -- the service base ------------------------------------------------------------------


class _Events:
    def list_rules(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"Rules": [{"Name": params.get("NamePrefix", "r"), "State": "ENABLED"}]}


def _events_call(target: str, body: bytes = b"{}") -> tuple[int, dict[str, Any]]:
    from lambdalab.protocol.service import ProtocolService

    response = ProtocolService("events", _Events()).handle(
        HttpRequest("POST", "/", "", {"X-Amz-Target": target}, body), "req-3")
    return response.status, _botocore_reads("events", response,
                                            service_model("events").operation_model("ListRules").output_shape)


#: A service whose SigV4 signing name is not its model's name.
SIGNING_NAMES = {"monitoring": "cloudwatch"}
#: HTTP services on the edge that speak no AWS protocol, so have nothing to round-trip.
NOT_PROTOCOL = {
    "execute-api": "API Gateway's invoke URLs: a function's HTTP event, as a function URL's",
    "lambdalab-console": "the web console's pages and event stream",
}


def test_every_service_the_edge_serves_is_round_tripped(tmp_path: Any) -> None:
    """The proof covers every service a built-in plugin (or core) puts on the edge: a new
    service plugin that is not added to ``SERVICES`` fails here."""
    from lambdalab import Lab

    with Lab(tmp_path) as lab:
        served = {s.name for group in lab.plugin_manager.hook.lambdalab_http_services(lab=lab)
                  for s in group}
    served = {SIGNING_NAMES.get(name, name) for name in served} - set(NOT_PROTOCOL)
    assert served - {"lambda"}, "the plugins put no service on the edge"
    assert served <= set(SERVICES), f"served but not round-tripped: {sorted(served - set(SERVICES))}"


def test_service_calls_the_operation_with_typed_params() -> None:
    assert _events_call("AWSEvents.ListRules", b'{"NamePrefix": "nightly"}') == (
        200, {"Rules": [{"Name": "nightly", "State": "ENABLED"}]})


def test_service_unknown_operation_is_the_protocols_error() -> None:
    status, parsed = _events_call("AWSEvents.NoSuchOperation")
    assert (status, parsed["Error"]["Code"]) == (400, "UnknownOperationException")


def test_service_unimplemented_operation_names_it() -> None:
    status, parsed = _events_call("AWSEvents.DescribeEventBus")
    assert (status, parsed["Error"]["Code"]) == (501, "NotImplemented")
    assert "DescribeEventBus" in parsed["Error"]["Message"]


def test_service_validates_before_calling() -> None:
    status, parsed = _events_call("AWSEvents.ListRules", b'{"Limit": 0}')
    assert (status, parsed["Error"]["Code"]) == (400, "ValidationException")
    assert "Member must have value greater than or equal to 1" in parsed["Error"]["Message"]


def test_query_service_reads_lists_and_maps() -> None:
    """SNS (query): ``member.N`` lists and ``entry.N`` maps come back as Python data."""
    body = ("Action=Publish&TopicArn=arn%3Aaws%3Asns%3Aus-east-1%3A1%3At&Message=hi"
            "&MessageAttributes.entry.1.Name=color&MessageAttributes.entry.1.Value.DataType=String"
            "&MessageAttributes.entry.1.Value.StringValue=red").encode()
    parsed = parser_for("sns").parse(HttpRequest("POST", "/", "", {}, body))
    assert parsed.params == {"TopicArn": "arn:aws:sns:us-east-1:1:t", "Message": "hi",
                             "MessageAttributes": {"color": {"DataType": "String", "StringValue": "red"}}}


# -- SQS: one service, two protocols ---------------------------------------------------


def _sqs_call(headers: dict[str, str], body: bytes, protocol: str) -> tuple[int, dict[str, str], dict[str, Any]]:
    from lambdalab_sqs.responses import SqsService

    service = SqsService(None)  # type: ignore[arg-type]  # no call here reaches a queue
    response = service.for_request({k.lower(): v for k, v in headers.items()}).handle(
        HttpRequest("POST", "/", "", headers, body), "req-4")
    output = service_model("sqs").operation_model("GetQueueUrl").output_shape
    parsed = botocore.parsers.create_parser(protocol).parse(
        {"status_code": response.status, "headers": response.headers, "body": response.body}, output)
    return response.status, response.headers, parsed


def test_sqs_query_request_gets_query_codes() -> None:
    """A request without ``X-Amz-Target`` is SQS's query protocol; its errors carry the
    query codes (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/CommonErrors.html)."""
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    status, _, parsed = _sqs_call(form, b"Action=AddPermission&QueueUrl=q&Label=l", "query")
    assert (status, parsed["Error"]["Code"]) == (501, "AWS.SimpleQueueService.UnsupportedOperation")
    status, _, parsed = _sqs_call(form, b"Action=NoSuchAction", "query")
    assert (status, parsed["Error"]["Code"]) == (400, "InvalidAction")
    status, _, parsed = _sqs_call(form, b"Action=SendMessage&MessageBody=hi", "query")
    assert (status, parsed["Error"]["Message"]) == (400, "The request must contain the parameter QueueUrl.")
    assert parsed["Error"]["Code"] == "MissingParameter"


def test_sqs_json_error_carries_the_query_code_header() -> None:
    headers = {"X-Amz-Target": "AmazonSQS.AddPermission", "Content-Type": "application/x-amz-json-1.0"}
    status, wire, parsed = _sqs_call(headers, b'{"QueueUrl": "q", "Label": "l", "AWSAccountIds": ["1"], '
                                              b'"Actions": ["SendMessage"]}', "json")
    assert status == 501
    assert wire["x-amzn-query-error"] == "AWS.SimpleQueueService.UnsupportedOperation;Sender"
    assert parsed["Error"]["Code"] == "AWS.SimpleQueueService.UnsupportedOperation"


def test_rest_xml_error_keeps_fields_the_model_leaves_out() -> None:
    """S3 names the bucket of NoSuchBucket, a member its model's shape does not have;
    the bytes are those S3's hand-written error wrote before it used the layer."""
    error = ServiceError("NoSuchBucket", "The specified bucket does not exist.", 404, {"BucketName": "b<&"})
    assert serializer_for("s3").error(error, "RID").body == (
        b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>NoSuchBucket</Code>'
        b"<Message>The specified bucket does not exist.</Message><BucketName>b&lt;&amp;</BucketName>"
        b"<RequestId>RID</RequestId></Error>")
