"""The edge's per-request work, prepared once (issue 21): what it remembers answers as
the walk through botocore's model did and stays bounded; a request's address is its
connection's."""

from __future__ import annotations

import json
from typing import Any

from lambdalab.protocol import HttpRequest, parser_for, validate
from lambdalab.server import EdgeServer

from .edge_support import client, create, edge  # noqa: F401  (fixtures)
from .test_fidelity_handlers import ECHO_EVENT, request, url_of


def test_a_claimed_x_forwarded_for_is_not_the_source_ip(client: Any, edge: EdgeServer) -> None:
    """The edge is reached directly: AWS's sourceIp is the connection's address, and an
    X-Forwarded-For the client sent is passed on with that address appended."""
    url = url_of(client, "echo", ECHO_EVENT)
    status, _, data = request(url, "POST", "/p", body=b"{}", headers={"X-Forwarded-For": "203.0.113.7"})
    assert status == 200
    event = json.loads(data)
    assert event["requestContext"]["http"]["sourceIp"] == "127.0.0.1"
    assert event["headers"]["x-forwarded-for"] == "203.0.113.7, 127.0.0.1"


def test_a_remembered_check_answers_as_the_walk_does() -> None:
    """Invoke's Payload bytes stand for themselves in the remembered check; a bytes
    value where a string goes is still refused, and named."""
    for payload in (b"", b'{"a": 1}', b"\x00" * 300):
        assert validate("lambda", "Invoke", {"FunctionName": "f", "Payload": payload}) == []
    (missing,) = validate("lambda", "Invoke", {"Payload": b"{}"})
    assert missing.members == ("FunctionName",) and missing.kind == "null"
    (wrong,) = validate("lambda", "Invoke", {"FunctionName": b"f"})
    assert wrong.kind == "type" and wrong.value == b"f"


def test_remembered_routes_are_bounded_and_answer_each_path() -> None:
    parser = parser_for("lambda")
    for n in range(1500):
        path = f"/2015-03-31/functions/f{n}/invocations"
        route, labels = parser.route(HttpRequest("POST", path), {})
        assert (route.operation, labels) == ("Invoke", {"FunctionName": f"f{n}"})
    assert len(parser._routed) <= 1024  # type: ignore[attr-defined]
    long = "/2015-03-31/functions/" + "f" * 600 + "/invocations"
    assert parser.route(HttpRequest("POST", long), {})[1] == {"FunctionName": "f" * 600}
    assert all(len(path) <= 512 for _, path in parser._routed)  # type: ignore[attr-defined]
