"""Property: no request to the edge gets a 5xx, and every error parses in botocore.

For every operation the edge serves (Lambda's REST API, S3's, SQS on both of its
protocols, EventBridge), hypothesis builds inputs from the operation's input shape in
botocore's model and malforms them: members of the wrong type, required members left
out, strings past their maximum, values off their enum, JSON nested thousands deep,
garbage in URI labels, query strings and headers. Each is sent raw (boto3 would refuse
to serialize most of them) to a running ``lambdalab serve`` edge, and the answer is read
with botocore's own parser for the service's protocol: an error must carry a code (a
name, not just an HTTP status) that botocore turns into the service's exception.

The one 5xx allowed is S3's own ``501 NotImplemented`` for a sub-resource lambdalab does
not emulate (``PUT /bucket?versioning``), which is S3's documented answer for
functionality it does not implement, not a failure.

Requests sent per run (the ``max_examples`` below): Lambda 240, S3 90, SQS JSON 90,
SQS query 90, EventBridge 90: 600 in all, about 20 s on a quiet 2-CPU machine.
"""

from __future__ import annotations

import base64
import http.client
import json
import re
from typing import Any, Iterator
from urllib.parse import quote, urlencode, urlsplit

import botocore.parsers
import pytest
from botocore.model import OperationModel, Shape
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lambdalab.protocol import service_model
from lambdalab.server import EdgeServer
from lambdalab.server.lambda_service import served_operations
from lambdalab_sqs.responses import OPERATIONS as SQS_OPERATIONS

from .edge_support import ROLE, client_for, zip_of
from .edge_support import edge as edge  # noqa: F401  (fixture)

S3_OPERATIONS = (
    "ListBuckets", "CreateBucket", "HeadBucket", "GetBucketLocation", "DeleteBucket",
    "PutObject", "CopyObject", "GetObject", "HeadObject", "DeleteObject", "DeleteObjects",
    "ListObjectsV2", "ListObjects", "PutBucketNotificationConfiguration",
    "GetBucketNotificationConfiguration",
)
EVENTS_OPERATIONS = (
    "PutRule", "DescribeRule", "ListRules", "DeleteRule", "EnableRule", "DisableRule",
    "PutTargets", "RemoveTargets", "ListTargetsByRule",
)
#: Names that exist on the edge (made by the ``world`` fixture), so that some requests
#: get past "not found" into the operations' own code.
NAMES = ("f", "q", "bucket-a", "r", "obj", "1", "live", "$LATEST")
#: Headers that would break HTTP framing if fuzzed; the HTTP layer owns them.
FRAMING_HEADERS = {"content-length", "expect", "host", "transfer-encoding", "connection"}
DEEP_MARK = re.compile(r'"__deep_(\d+)__"')

FUZZ = settings(
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                           HealthCheck.data_too_large, HealthCheck.filter_too_much],
)


# -- values from a shape, well-formed or not -------------------------------------------


def deep() -> st.SearchStrategy[str]:
    """A marker that :func:`to_json` turns into an array nested thousands deep (encoding
    such a value with ``json.dumps`` would overflow the test's own stack)."""
    return st.integers(min_value=1_001, max_value=12_000).map(lambda n: f"__deep_{n}__")


def to_json(value: Any) -> bytes:
    text = json.dumps(value, default=str)
    return DEEP_MARK.sub(lambda m: "[" * int(m[1]) + "]" * int(m[1]), text).encode()


WRONG = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-2**63, max_value=2**64),
    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=8),
    st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=4), st.text(max_size=4), max_size=2),
    deep(),
)


def text_for(shape: Shape) -> st.SearchStrategy[str]:
    meta = shape.metadata
    choices: list[st.SearchStrategy[str]] = [st.sampled_from(NAMES), st.text(max_size=12)]
    if "enum" in meta:
        choices.append(st.sampled_from(list(meta["enum"]) + ["", "BAD", meta["enum"][0].upper()]))
    if "max" in meta:
        choices.append(st.just("x" * (int(meta["max"]) + 1)))
    return st.one_of(*choices)


def number_for(shape: Shape) -> st.SearchStrategy[Any]:
    meta = shape.metadata
    edges = [meta[k] + d for k in ("min", "max") if k in meta for d in (-1, 0, 1)]
    if shape.type_name in ("float", "double"):
        return st.one_of(st.floats(allow_nan=False, allow_infinity=False), st.sampled_from(edges or [0.5]))
    return st.one_of(st.integers(min_value=-2**40, max_value=2**40), st.sampled_from([int(e) for e in edges] or [0]))


def value_for(shape: Shape, depth: int = 0) -> st.SearchStrategy[Any]:
    """A value for ``shape``: usually of its type (in range or not), sometimes anything."""
    kind = shape.type_name
    if kind == "string":
        good: st.SearchStrategy[Any] = text_for(shape)
    elif kind in ("integer", "long", "float", "double"):
        good = number_for(shape)
    elif kind == "boolean":
        good = st.booleans()
    elif kind == "blob":
        good = st.binary(max_size=24).map(lambda b: base64.b64encode(b).decode())
    elif kind == "timestamp":
        good = st.integers(min_value=0, max_value=2**32)
    elif depth >= 3:
        good = st.just({} if kind != "list" else [])
    elif kind == "list":
        good = st.lists(value_for(shape.member, depth + 1), max_size=3)  # type: ignore[attr-defined]
    elif kind == "map":
        good = st.dictionaries(text_for(shape.key), value_for(shape.value, depth + 1), max_size=3)  # type: ignore[attr-defined]
    else:
        good = structure_for(shape, depth + 1)
    return st.one_of(good, good, good, WRONG)


def structure_for(shape: Shape | None, depth: int = 0) -> st.SearchStrategy[dict[str, Any]]:
    """Some of the structure's members: usually with the required ones, sometimes without."""
    if shape is None:
        return st.just({})
    members = shape.members  # type: ignore[attr-defined]
    required = {
        name: value_for(members[name], depth)
        for name in shape.required_members  # type: ignore[attr-defined]
        if name not in ("Payload", "Body")
    }
    optional = {name: value_for(m, depth) for name, m in members.items() if name not in required}
    every = {name: value_for(m, depth) for name, m in members.items()}
    return st.one_of(
        st.fixed_dictionaries(required, optional=optional),
        st.fixed_dictionaries({}, optional=every),
    )


# -- putting an input on the wire -------------------------------------------------------


def text_of(value: Any) -> str:
    """A value as URI, query or header text (what a careless client would send)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value)


def header_safe(text: str) -> str:
    return re.sub(r"[^\x20-\x7e]", "?", text)[:2_000]


def rest_request(op: OperationModel, params: dict[str, Any], extra_query: dict[str, str],
                 body: bytes | None) -> tuple[str, str, dict[str, str], bytes]:
    """Method, path with query, headers and body of a REST request for ``params``."""
    uri, _, fixed_query = op.http["requestUri"].partition("?")
    shape = op.input_shape
    query: list[tuple[str, str]] = [tuple(p.partition("=")[::2]) for p in fixed_query.split("&") if p]  # type: ignore[misc]
    headers: dict[str, str] = {}
    body_params: dict[str, Any] = {}
    payload = shape.serialization.get("payload") if shape is not None else None
    for name, member in (shape.members.items() if shape is not None else ()):  # type: ignore[attr-defined]
        location = member.serialization.get("location")
        wire = member.serialization.get("name", name)
        if name not in params and location != "uri":
            continue
        value = params.get(name, "obj")  # a request always has its URI labels
        if location == "uri":
            greedy = "{%s+}" % wire in uri
            uri = re.sub(r"\{%s\+?\}" % wire, quote(text_of(value), safe="/" if greedy else ""), uri)
        elif location == "querystring":
            values = value if isinstance(value, list) else [value]
            query += [(wire, text_of(v)) for v in values]
        elif location == "header":
            if wire.lower() not in FRAMING_HEADERS:
                headers[wire] = header_safe(text_of(value))
        elif name != payload:
            body_params[name] = value
    query += list(extra_query.items())
    path = uri + ("?" + urlencode(query) if query else "")
    if body is None:
        body = to_json(body_params) if body_params else b""
    return op.http["method"], path, headers, body


def query_pairs(prefix: str, value: Any) -> Iterator[tuple[str, str]]:
    """The query protocol's flattening (``Entries.1.Id``), applied to anything."""
    if isinstance(value, dict):
        for i, (k, v) in enumerate(value.items(), start=1):
            if prefix.endswith(("Attributes", "tags")):
                yield f"{prefix}.{i}.Name", str(k)
                yield from query_pairs(f"{prefix}.{i}.Value", v)
            else:
                yield from query_pairs(f"{prefix}.{k}", v)
    elif isinstance(value, list):
        for i, v in enumerate(value, start=1):
            yield from query_pairs(f"{prefix}.{i}", v)
    else:
        yield prefix, text_of(value) if value is not None else ""


# -- sending, and judging the answer -----------------------------------------------------


def send(url: str, method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, str], bytes]:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=120)
    try:
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        data = response.read()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, data
    finally:
        conn.close()


def signed_for(service: str) -> dict[str, str]:
    """An Authorization header naming ``service`` (the edge routes by it; keys are not checked)."""
    return {"Authorization": f"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240501/us-east-1/"
                             f"{service}/aws4_request, SignedHeaders=host, Signature=0"}


def judge(service: str, protocol: str, op: OperationModel, method: str,
          answer: tuple[int, dict[str, str], bytes]) -> None:
    status, headers, body = answer
    if status < 300:
        return
    parser = botocore.parsers.create_parser(protocol)
    parsed = parser.parse({"status_code": status, "headers": headers, "body": body}, op.output_shape)
    code = parsed.get("Error", {}).get("Code", "")
    deliberate = service == "s3" and status == 501 and (code == "NotImplemented" or method == "HEAD")
    assert status < 500 or deliberate, f"{op.name}: HTTP {status}: {body[:500]!r}"
    if method == "HEAD":  # no body: botocore names the error by its status, as for AWS
        return
    assert code and not code.isdigit(), f"{op.name}: HTTP {status}, no error code botocore can read: {body[:500]!r}"
    assert parsed["Error"].get("Message"), f"{op.name}: {code} without a message"


@pytest.fixture
def world(edge: EdgeServer) -> EdgeServer:
    """Something to find: a function with a version and an alias, a queue, a bucket with an
    object, a rule."""
    lam = client_for(edge.url)
    lam.create_function(FunctionName="f", Runtime="python3.11", Role=ROLE, Handler="app.handler",
                        Code={"ZipFile": zip_of(app="def handler(e, c):\n    return e\n")}, Publish=True)
    lam.create_alias(FunctionName="f", Name="live", FunctionVersion="1")
    client_for(edge.url, "sqs").create_queue(QueueName="q")
    s3 = client_for(edge.url, "s3")
    s3.create_bucket(Bucket="bucket-a")
    s3.put_object(Bucket="bucket-a", Key="obj", Body=b"hello")
    client_for(edge.url, "events").put_rule(Name="r", ScheduleExpression="rate(1 hour)")
    return edge


def operation_and_input(service: str, operations: tuple[str, ...]) -> st.SearchStrategy[tuple[OperationModel, dict[str, Any]]]:
    model = service_model(service)
    return st.sampled_from(operations).map(model.operation_model).flatmap(
        lambda op: st.tuples(st.just(op), structure_for(op.input_shape)))


def garbage_query(*names: str) -> st.SearchStrategy[dict[str, str]]:
    """Query parameters the operation may or may not take, with any text."""
    return st.dictionaries(st.sampled_from(names), st.text(max_size=10), max_size=2)


# -- the properties ---------------------------------------------------------------------


LAMBDA_OPERATIONS = tuple(served_operations())


@settings(FUZZ, max_examples=240)
@given(request=operation_and_input("lambda", LAMBDA_OPERATIONS),
       extra=garbage_query("Qualifier", "Marker", "MaxItems", "FunctionVersion", "x"),
       payload=st.one_of(st.none(), st.binary(max_size=64), deep().map(to_json)))
def test_lambda_never_fails_internally(world: EdgeServer, request: Any, extra: dict[str, str],
                                       payload: bytes | None) -> None:
    op, params = request
    body = payload if op.name == "Invoke" else None
    if op.name == "Invoke":
        params.setdefault("InvocationType", "DryRun")  # a handler run costs a second
    method, path, headers, data = rest_request(op, params, extra, body)
    headers.update(signed_for("lambda"))
    judge("lambda", "rest-json", op, method, send(world.url, method, path, headers, data))


@settings(FUZZ, max_examples=90)
@given(request=operation_and_input("s3", S3_OPERATIONS),
       extra=garbage_query("max-keys", "continuation-token", "prefix", "marker", "delimiter",
                           "start-after", "encoding-type"),
       body=st.one_of(st.none(), st.binary(max_size=64), st.just(b"<Delete><Object><Key>obj</Key></Object></Delete>"),
                      st.integers(1_001, 12_000).map(lambda n: b"<a>" * n + b"</a>" * n)))
def test_s3_never_fails_internally(world: EdgeServer, request: Any, extra: dict[str, str], body: bytes | None) -> None:
    op, params = request
    method, path, headers, data = rest_request(op, params, extra, body or b"")
    headers.update(signed_for("s3"))
    judge("s3", "rest-xml", op, method, send(world.url, method, path, headers, data))


@settings(FUZZ, max_examples=90)
@given(request=operation_and_input("sqs", SQS_OPERATIONS))
def test_sqs_json_never_fails_internally(world: EdgeServer, request: Any) -> None:
    op, params = request
    if isinstance(params.get("QueueUrl"), str) and params["QueueUrl"] in NAMES:
        params["QueueUrl"] = f"{world.url}/000000000000/{params['QueueUrl']}"
    headers = {"X-Amz-Target": f"AmazonSQS.{op.name}", "Content-Type": "application/x-amz-json-1.0",
               **signed_for("sqs")}
    judge("sqs", "json", op, "POST", send(world.url, "POST", "/", headers, to_json(params)))


@settings(FUZZ, max_examples=90)
@given(request=operation_and_input("sqs", SQS_OPERATIONS))
def test_sqs_query_never_fails_internally(world: EdgeServer, request: Any) -> None:
    op, params = request
    pairs = [("Action", op.name), ("Version", "2012-11-05")]
    for name, value in params.items():
        pairs += list(query_pairs(name, value))
    body = urlencode([(k, DEEP_MARK.sub("[[[", v)) for k, v in pairs]).encode()
    headers = {"Content-Type": "application/x-www-form-urlencoded", **signed_for("sqs")}
    judge("sqs", "query", op, "POST", send(world.url, "POST", "/", headers, body))


@settings(FUZZ, max_examples=90)
@given(request=operation_and_input("events", EVENTS_OPERATIONS))
def test_eventbridge_never_fails_internally(world: EdgeServer, request: Any) -> None:
    op, params = request
    headers = {"X-Amz-Target": f"AWSEvents.{op.name}", "Content-Type": "application/x-amz-json-1.1",
               **signed_for("events")}
    judge("events", "json", op, "POST", send(world.url, "POST", "/", headers, to_json(params)))
