"""Payloads over HTTP: large ones pass ``lambdalab serve`` whole, in every sandbox; a
body that never fully arrived is never run or stored; malformed S3 framing and ranges
get S3's answers, never a 500 or a hang.

https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html (6 MB each way)
https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html (IncompleteBody)
"""

from __future__ import annotations

import asyncio
import base64
import http.client
import json
import os
import socket
import threading
import time
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import urlencode, urlsplit

import pytest
import uvloop
from botocore.exceptions import ClientError

from lambdalab import Lab, VirtualClock, limits
from lambdalab.runtime import protocol
from lambdalab.server import EdgeServer
from lambdalab_s3 import S3, NoSuchKey
from lambdalab.sandbox import InvokeRequest
from lambdalab_limited import LimitedBackend
from lambdalab_s3.responses import S3Service
from lambdalab_subprocess import SubprocessBackend
from tests.conftest import ECHO, environment_spec
from tests.edge_support import client_for, create
from tests.test_cgroup import _writable as cgroups_writable
from tests.test_limited import wait_until
from tests.test_s3 import s3_client

from tests.edge_support import client, edge  # noqa: F401  (fixtures)

MB = 1024 * 1024
#: The sizes the issue saw fail (1 in 12 passed): under, around and near the 6 MB limit.
SIZES = (1 * MB, 3 * MB, int(5.9 * MB))
SIZED = """
def handler(event, context):
    if isinstance(event, dict):
        return "x" * event["size"]   # a response of size + 2 bytes (JSON quotes)
    return len(event)                # the request's string, measured
"""
SANDBOXES = [
    "subprocess",
    "limited",
    pytest.param("cgroup", marks=pytest.mark.skipif(
        not cgroups_writable(), reason="needs root and a writable cgroup cpu controller")),
]
#: What a client that went away sent: headers declaring 100 bytes, then 10 of them
#: (a JSON string, so the old edge ran it).
PARTIAL_BODY = b'"12345678"'


@pytest.fixture(params=SANDBOXES)
def sandbox_edge(request: Any, tmp_path: Path) -> Iterator[EdgeServer]:
    with Lab(data_dir=tmp_path / "data", clock=VirtualClock(start=1_700_000_000),
             default_sandbox=request.param) as lab, EdgeServer(lab, port=0) as server:
        yield server


def invoke_sized(client: Any, payload: Any) -> tuple[dict[str, Any], bytes]:
    response = client.invoke(FunctionName="sized", Payload=json.dumps(payload).encode(),
                             LogType="Tail")
    return response, response["Payload"].read()


def was_cold(response: dict[str, Any]) -> bool:
    """The invoke started a new environment: its REPORT line has an Init Duration."""
    return "Init Duration" in base64.b64decode(response["LogResult"]).decode()


def event_passes(client: Any, size: int, cold: bool) -> None:
    response, body = invoke_sized(client, "y" * size)
    assert "FunctionError" not in response, body[:300]
    assert body == str(size).encode()
    assert was_cold(response) == cold


def response_passes(client: Any, size: int, cold: bool) -> None:
    response, body = invoke_sized(client, {"size": size})
    assert "FunctionError" not in response, body[:300]
    assert body == b'"' + b"x" * size + b'"'
    assert was_cold(response) == cold


def test_large_payloads_and_responses_pass_serve_cold_and_warm(sandbox_edge: EdgeServer) -> None:
    """Before the fix, a warm invoke on the edge's event loop (uvloop) left the frame
    pipe non-blocking, and reading a large answer or writing a large event met EAGAIN,
    taken for a dead runtime: ``Runtime.ExitError`` or a timeout, 11 times in 12."""
    client = client_for(sandbox_edge.url)
    create(client, "sized", SIZED, MemorySize=1024, Timeout=60)
    deploys = iter(range(1_000))
    for size in SIZES:
        for passes in (event_passes, response_passes):
            # a new configuration: the next invoke is cold, the one after it warm
            client.update_function_configuration(
                FunctionName="sized", Environment={"Variables": {"DEPLOY": str(next(deploys))}}
            )
            passes(client, size, cold=True)
            passes(client, size, cold=False)


def test_a_request_one_byte_over_6_mb_is_request_too_large(client: Any) -> None:  # noqa: F811
    create(client, "sized", SIZED)
    oversized = b'"' + b"y" * (limits.SYNC_PAYLOAD_MAX_BYTES - 1) + b'"'
    assert len(oversized) == limits.SYNC_PAYLOAD_MAX_BYTES + 1
    with pytest.raises(client.exceptions.RequestTooLargeException) as info:
        client.invoke(FunctionName="sized", Payload=oversized)
    assert "6291456 bytes" in info.value.response["Error"]["Message"]


def test_a_response_over_aws_figure_is_response_size_too_large(client: Any) -> None:  # noqa: F811
    """AWS's figure for responses is 6,291,556 bytes: 100 more than for requests."""
    assert limits.SYNC_RESPONSE_MAX_BYTES == 6_291_556
    create(client, "sized", SIZED, MemorySize=1024, Timeout=60)
    largest = limits.SYNC_RESPONSE_MAX_BYTES - 2  # its JSON (quotes) is exactly the limit
    response, body = invoke_sized(client, {"size": largest})
    assert "FunctionError" not in response and len(body) == limits.SYNC_RESPONSE_MAX_BYTES
    response, body = invoke_sized(client, {"size": largest + 1})
    assert response["FunctionError"] == "Unhandled"
    error = json.loads(body)
    assert error["errorType"] == "Function.ResponseSizeTooLarge"
    assert "(6291556 bytes)" in error["errorMessage"]


@pytest.mark.parametrize("backend_class", [SubprocessBackend, LimitedBackend])
def test_a_blocking_invoke_after_one_awaited_on_uvloop_carries_large_frames_whole(
    tmp_path: Path, code: Any, backend_class: type
) -> None:
    """The root of the failures above: uvloop's add_reader makes the fd it watches
    non-blocking (and the backend keeps it so while a loop watches it), so a blocking
    invoke on the same environment afterwards must still send and read a frame larger
    than the pipe holds whole, waiting where the pipe says EAGAIN."""
    backend = backend_class(preload=())
    try:
        env = backend.start(environment_spec(code(app=ECHO), tmp_path, memory_size=512))
        request = InvokeRequest("r", b'"hi"', "arn", int(time.time() * 1000) + 60_000, 30)
        outcome = uvloop.run(env.invoke_async(request))
        assert outcome.status == "ok" and outcome.payload == b'"hi"'
        event = json.dumps("x" * SIZES[-1]).encode()
        large = InvokeRequest("r2", event, "arn", int(time.time() * 1000) + 60_000, 30)
        outcome = env.invoke(large)
        assert outcome.status == "ok" and outcome.payload == event
        env.destroy()
    finally:
        backend.close()


def test_frames_cross_a_pipe_left_non_blocking_whole() -> None:
    """The protocol's own reads and writes wait on EAGAIN: a pipe some loop-side code
    left non-blocking (uvloop's add_reader does) still carries a 5.9 MB frame."""
    ours, theirs = socket.socketpair()
    with ours, theirs:
        for end in (ours, theirs):
            os.set_blocking(end.fileno(), False)
        frame = os.urandom(SIZES[-1])
        writer = threading.Thread(target=protocol.write_frame, args=(ours.fileno(), frame))
        writer.start()
        try:
            assert protocol.FrameReader(theirs.fileno()).read() == frame
        finally:
            writer.join()


# -- bodies that never fully arrived ----------------------------------------------------


def send_partial(
    edge: EdgeServer, request_line: str, headers: dict[str, str],  # noqa: F811
    body: bytes = PARTIAL_BODY, declared: int = 100,
) -> bytes:
    """Send headers declaring ``declared`` bytes and ``body`` (fewer), then stop sending
    (the server sees the end of the stream, as when the client closes); return what the
    server answered before it closed the connection, once it has finished the request."""
    host, port = urlsplit(edge.url).hostname, urlsplit(edge.url).port
    lines = [request_line, f"Host: {host}:{port}", f"Content-Length: {declared}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    with socket.create_connection((host, port), timeout=30) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        sock.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := sock.recv(65536):  # until the server closes: it saw the end
            answer += chunk
    # the request's task (it began with the headers, before the end) has finished
    state = edge._server.server_state
    assert wait_until(lambda: not state.tasks, timeout=30)
    return answer


@pytest.mark.parametrize("invocation_type", ["RequestResponse", "Event"])
def test_an_invoke_whose_body_never_arrived_is_not_run(
    edge: EdgeServer, client: Any, lab: Lab, invocation_type: str  # noqa: F811
) -> None:
    create(client, "echo")
    answer = send_partial(
        edge, "POST /2015-03-31/functions/echo/invocations HTTP/1.1",
        {"X-Amz-Invocation-Type": invocation_type},
    )
    assert answer == b""  # nobody is there to read one
    assert lab.queue() == []
    assert not [e for e in lab.logs.read("/aws/lambda/echo") if e.message.startswith("START")]
    client.invoke(FunctionName="echo", Payload=b'"whole"')  # the control: this one runs
    assert [e for e in lab.logs.read("/aws/lambda/echo") if e.message.startswith("START")]


def test_a_message_whose_body_never_arrived_is_not_sent(edge: EdgeServer) -> None:  # noqa: F811
    """A query-protocol form cut anywhere still parses: the old edge queued it."""
    sqs = client_for(edge.url, "sqs")
    queue_url = sqs.create_queue(QueueName="q")["QueueUrl"]
    form = urlencode({"Action": "SendMessage", "QueueUrl": queue_url, "MessageBody": "cut"})
    answer = send_partial(edge, "POST / HTTP/1.1", {
        "Content-Type": "application/x-www-form-urlencoded",
        "Authorization": "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240101/us-east-1/sqs/"
                         "aws4_request, SignedHeaders=host, Signature=00",
    }, body=form.encode(), declared=len(form) + 90)
    assert answer == b""
    attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["All"])["Attributes"]
    assert attributes["ApproximateNumberOfMessages"] == "0"
    assert attributes["ApproximateNumberOfMessagesNotVisible"] == "0"


S3_SIGNED = {
    # the edge finds S3 by the signature's scope (it checks signatures only when asked)
    "Authorization": "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240101/us-east-1/s3/"
                     "aws4_request, SignedHeaders=host, Signature=00",
}


def test_an_object_whose_body_never_arrived_is_not_stored(edge: EdgeServer) -> None:  # noqa: F811
    s3 = s3_client(edge.url)
    s3.create_bucket(Bucket="bkt")
    answer = send_partial(edge, "PUT /bkt/partial HTTP/1.1", S3_SIGNED)
    # uvicorn closes a connection whose client stopped sending (even half-closed), so
    # no answer reaches the client; where one does, it is S3's IncompleteBody
    assert answer == b"" or b"<Code>IncompleteBody</Code>" in answer
    with pytest.raises(ClientError) as info:
        s3.head_object(Bucket="bkt", Key="partial")
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_s3_answers_incomplete_body_while_it_still_can(lab: Lab) -> None:
    """The S3 app itself, given the ASGI messages of a client that went away mid-body:
    it answers IncompleteBody (sent, if the server still has a connection) and stores
    nothing."""
    S3.of(lab).create_bucket("bkt")
    messages = iter([
        {"type": "http.request", "body": PARTIAL_BODY, "more_body": True},
        {"type": "http.disconnect"},
    ])
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return next(messages)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http", "method": "PUT", "path": "/bkt/partial", "raw_path": b"/bkt/partial",
        "query_string": b"", "headers": [(b"content-length", b"100")],
    }
    asyncio.run(S3Service(lab)(scope, receive, send))
    assert sent[0]["status"] == 400
    assert b"<Code>IncompleteBody</Code>" in sent[1]["body"]
    assert b"You did not provide the number of bytes specified by the Content-Length" in sent[1]["body"]
    with pytest.raises(NoSuchKey):
        S3.of(lab).head_object("bkt", "partial")


# -- hostile S3 input ---------------------------------------------------------------------


@pytest.mark.parametrize("body", [
    b"zz;chunk-signature=00\r\nhello\r\n0\r\n\r\n",   # a size that is not hex
    b"10\r\nhello\r\n0\r\n\r\n",                      # a chunk shorter than its size
    b"5\r\nhello\r\n",                                # no final 0-sized chunk
    b"-4\r\nxx\r\n0\r\n\r\n",                         # a negative size
])
def test_a_malformed_aws_chunked_body_is_incomplete_body(edge: EdgeServer, body: bytes) -> None:  # noqa: F811
    s3 = s3_client(edge.url)
    s3.create_bucket(Bucket="bkt")
    connection = http.client.HTTPConnection(urlsplit(edge.url).netloc, timeout=30)
    connection.request("PUT", "/bkt/chunked", body=body, headers={
        **S3_SIGNED,
        "Content-Encoding": "aws-chunked",
        "x-amz-content-sha256": "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
        "x-amz-decoded-content-length": "5",
    })
    response = connection.getresponse()
    answer = response.read()
    assert response.status == 400, answer
    assert b"<Code>IncompleteBody</Code>" in answer
    with pytest.raises(ClientError):
        s3.head_object(Bucket="bkt", Key="chunked")


def test_a_well_formed_aws_chunked_body_is_stored(edge: EdgeServer) -> None:  # noqa: F811
    s3 = s3_client(edge.url)
    s3.create_bucket(Bucket="bkt")
    connection = http.client.HTTPConnection(urlsplit(edge.url).netloc, timeout=30)
    connection.request("PUT", "/bkt/chunked", body=b"5\r\nhello\r\n0\r\nx-amz-checksum-crc32:NhCmhg==\r\n\r\n", headers={
        **S3_SIGNED,
        "Content-Encoding": "aws-chunked",
        "x-amz-content-sha256": "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
        "x-amz-decoded-content-length": "5",
    })
    assert connection.getresponse().status == 200
    assert s3.get_object(Bucket="bkt", Key="chunked")["Body"].read() == b"hello"


def test_ranges_and_max_keys_of_thousands_of_digits_are_no_500(edge: EdgeServer) -> None:  # noqa: F811
    """Python's int() refuses more than 4,300 digits; such numbers are still numbers:
    a start past the end is InvalidRange, an end past it is clamped (RFC 9110 §14.1.2)."""
    s3 = s3_client(edge.url)
    s3.create_bucket(Bucket="bkt")
    s3.put_object(Bucket="bkt", Key="k", Body=b"0123456789")
    digits = "9" * 5000
    with pytest.raises(ClientError) as info:
        s3.get_object(Bucket="bkt", Key="k", Range=f"bytes={digits}-")
    assert info.value.response["Error"]["Code"] == "InvalidRange"
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 416
    whole = s3.get_object(Bucket="bkt", Key="k", Range=f"bytes=0-{digits}")
    assert whole["Body"].read() == b"0123456789"
    assert whole["ContentRange"] == "bytes 0-9/10"
    assert s3.get_object(Bucket="bkt", Key="k", Range=f"bytes=-{digits}")["Body"].read() == b"0123456789"
    # last before first is no range at all (RFC 9110 §14.1.1): ignored, as S3 does
    ignored = s3.get_object(Bucket="bkt", Key="k", Range="bytes=5000-10")
    assert ignored["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert ignored["Body"].read() == b"0123456789"
    with pytest.raises(ClientError) as info:
        s3.list_objects_v2(Bucket="bkt", MaxKeys=10**30)
    assert info.value.response["Error"]["Code"] == "InvalidArgument"
    connection = http.client.HTTPConnection(urlsplit(edge.url).netloc, timeout=30)
    connection.request("GET", f"/bkt?list-type=2&max-keys={digits}", headers=S3_SIGNED)
    response = connection.getresponse()
    assert response.status == 400 and b"<Code>InvalidArgument</Code>" in response.read()
