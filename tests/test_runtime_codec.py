"""The runtime's per-invoke coding (issue 21): its short cuts give what the long way does.

The runtime decodes an event with ``json``'s C scanner directly, encodes a result with
one C encoder kept for the process (per thread), packs its reply with the length prefix
in one call and reads a request frame without a loop: each must give exactly what
``json.loads``, ``JSONEncoder.encode``, ``pack_reply`` and the frame's fields give.
"""

from __future__ import annotations

import decimal
import json
import os
import re
import threading
from typing import Any

import pytest

from lambdalab.runtime import bootstrap, protocol

EVENTS = [
    b'{"a": 1}',
    b'{"key1": "value1", "nested": {"list": [1, 2.5, -3e10, true, false, null]}}',
    '{"café": "naïve ✓", "emoji": "\U0001f600"}'.encode(),
    b'"just a string"',
    b"42",
    b"[NaN, Infinity, -Infinity]",
    b"  {\"padded\": true}  \n",  # white space around: json.loads takes it
    b'\xef\xbb\xbf{"bom": 1}',  # a UTF-8 byte order mark
    '{"utf16": "yes"}'.encode("utf-16"),  # with its byte order mark
    '{"utf16le": 1}'.encode("utf-16-le"),  # none: json.loads detects it
    '{"utf32": 1}'.encode("utf-32"),
    b'"\xed\xa0\x80"',  # a lone surrogate, which json.loads lets through
    b"1" * 4000,  # a big integer
]
BAD_EVENTS = [b"{", b"1" * 5000, b'{"a": }', b"[1, 2", b"{} trailing", b"\xff\xfe\xfd", b"nul", b"   "]


@pytest.mark.parametrize("body", EVENTS)
def test_an_event_decodes_as_json_loads_decodes_it(body: bytes) -> None:
    expected = json.loads(body)
    got = protocol.loads_json(body)
    assert json.dumps(got) == json.dumps(expected)  # NaN != NaN: compare the texts
    assert type(got) is type(expected)


@pytest.mark.parametrize("body", BAD_EVENTS)
def test_a_bad_event_fails_as_json_loads_fails(body: bytes) -> None:
    with pytest.raises(ValueError) as expected:
        json.loads(body)
    with pytest.raises(ValueError) as got:
        protocol.loads_json(body)
    assert type(got.value) is type(expected.value)
    assert str(got.value) == str(expected.value)


RESULTS: list[Any] = [
    {"a": 1},
    "a string with \"quotes\" and ünïcode ✓",
    [1, 2.5, float("nan"), float("inf"), None, True],
    {"decimal": decimal.Decimal("1.5"), "whole": decimal.Decimal("3")},
    {1: "int key", 2.5: "float key", None: "none key", True: "bool key"},
    [],
    {},
    12345678901234567890,
]


@pytest.mark.parametrize("result", RESULTS)
def test_a_result_encodes_as_the_json_encoder_encodes_it(result: Any) -> None:
    assert bootstrap.marshal(result) == bootstrap._ENCODER.encode(result).encode()


def test_bytes_are_answered_as_they_are() -> None:
    assert bootstrap.marshal(b"\x00raw") == b"\x00raw"


def test_a_circular_result_is_a_marshal_error_and_the_next_one_encodes() -> None:
    loop: dict[str, Any] = {"inner": [1, 2]}
    loop["inner"].append(loop)
    for _ in range(2):
        with pytest.raises(bootstrap.Fault) as fault:
            bootstrap.marshal(loop)
        assert fault.value.error_type == "Runtime.MarshalError"
        assert fault.value.message == "Unable to marshal response: Circular reference detected"
    loop["inner"].pop()  # no longer circular: nothing is left marked by the failures
    assert bootstrap.marshal(loop) == b'{"inner": [1, 2]}'


def test_an_unserialisable_result_leaves_nothing_marked() -> None:
    shared = {"ok": [1]}
    with pytest.raises(bootstrap.Fault, match="Object of type set is not JSON serializable"):
        bootstrap.marshal({"shared": shared, "bad": {1}})
    assert bootstrap.marshal(shared) == b'{"ok": [1]}'


def test_threads_encode_the_same_object_side_by_side(monkeypatch: pytest.MonkeyPatch) -> None:
    """The ``thread`` backend runs invokes on threads of one process: each has its own
    marks, so two encoding the same object (held up in ``default``) do not take it for
    a circular reference."""
    both_inside = threading.Barrier(2, timeout=10)

    class Slow:
        pass

    def default(obj: Any) -> Any:
        if isinstance(obj, Slow):
            both_inside.wait()  # each thread is inside ``shared`` here
            return "slow"
        raise TypeError(type(obj).__name__)

    # A thread's encoder is made at its first invoke, with the encoder's ``default``.
    monkeypatch.setattr(bootstrap._ENCODER, "default", default)
    shared = {"slow": Slow()}
    answers: list[bytes | BaseException] = []

    def encode() -> None:
        try:
            answers.append(bootstrap.marshal(shared))
        except BaseException as e:  # noqa: BLE001 - reported below
            answers.append(e)

    threads = [threading.Thread(target=encode) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert answers == [b'{"slow": "slow"}'] * 2


@pytest.mark.parametrize("request_", [
    protocol.Request("c0ffee", "arn:aws:lambda:us-east-1:123456789012:function:f", 17, None,
                     None, b'{"a": 1}'),
    protocol.Request("id-ü", "arn:ü", 2**63, '{"custom": {"k": "✓"}}',
                     '{"cognitoIdentityId": "x"}', b"", "Root=1-abc;Parent=def;Sampled=1"),
    protocol.Request("", "", 0, None, None, b"\x00" * 70_000),
])
def test_a_request_frame_reads_back_field_for_field(request_: protocol.Request) -> None:
    assert protocol.unpack_request(request_.packed()) == request_


def test_a_framed_reply_is_the_reply_with_its_length_prefix() -> None:
    for status, body in (("ok", b'{"a": 1}'), ("error", b"x" * 70_000), ("ok", b"")):
        reply = protocol.pack_reply(status, 1.25, 64, body, 123.5)
        framed = protocol.framed_reply(status, 1.25, 64, body, 123.5)
        assert framed == protocol.frame_header(len(reply)) + reply
        assert protocol.unpack_reply_until(reply) == (status, 1.25, 64, 123.5, body)


def test_frames_written_whole_or_in_parts_read_back() -> None:
    ours, theirs = os.pipe()
    frames = [b"small", b"y" * 200_000, b""]
    writer = threading.Thread(
        target=lambda: [protocol.write_all(theirs, protocol.framed(f)) for f in frames])
    writer.start()
    reader = protocol.FrameReader(ours)
    try:
        assert [reader.read() for _ in frames] == frames
    finally:
        writer.join()
        os.close(theirs)
    with pytest.raises(EOFError):
        reader.read()
    os.close(ours)


def test_a_trace_header_is_fresh_and_well_formed() -> None:
    headers = {bootstrap.trace_header() for _ in range(100)}
    assert len(headers) == 100
    for header in headers:
        assert re.fullmatch(r"Root=1-[0-9a-f]{8}-[0-9a-f]{24};Parent=[0-9a-f]{16};Sampled=0",
                            header)
