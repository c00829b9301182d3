"""Every example of AWS's EventBridge pattern pages, as a test: TestEventPattern through
boto3 against the edge answers what AWS documents.

Sources: "Content filtering in Amazon EventBridge event patterns"
(https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns-content-based-filtering.html)
and its table of comparison operators
(https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-create-pattern-operators.html).
Each pattern is AWS's; each event is AWS's where the page gives one, otherwise the
smallest event that the page's sentence says must (or must not) match.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from lambdalab.server import EdgeServer

from .edge_support import client_for, edge  # noqa: F401  (fixtures)

ENVELOPE = {"version": "0", "id": "7bf73129-1428-4cd3-a780-95db273d1602",
            "detail-type": "EC2 Instance State-change Notification", "source": "aws.ec2",
            "account": "123456789012", "time": "2015-11-11T21:29:54Z", "region": "us-east-1",
            "resources": ["arn:aws:ec2:us-east-1:123456789012:instance/i-abcd1111"]}


def event(**fields: Any) -> dict[str, Any]:
    return {**ENVELOPE, **fields}


def detail(**fields: Any) -> dict[str, Any]:
    return event(detail=fields)


#: (what the page says, pattern text, event, whether it matches)
EXAMPLES: list[tuple[str, str, dict[str, Any], bool]] = [
    # -- prefix
    ("time starts with 2017-10-02", '{"time": [{"prefix": "2017-10-02"}]}',
     event(time="2017-10-02T18:43:48Z"), True),
    ("time starts otherwise", '{"time": [{"prefix": "2017-10-02"}]}', event(), False),
    ("prefix, ignoring case: EVENTB", '{"detail": {"service": [{"prefix": {"equals-ignore-case": "EventB"}}]}}',
     detail(service="EVENTBRIDGE"), True),
    ("prefix, ignoring case: eventb", '{"detail": {"service": [{"prefix": {"equals-ignore-case": "EventB"}}]}}',
     detail(service="eventbus"), True),
    ("prefix, ignoring case: other", '{"detail": {"service": [{"prefix": {"equals-ignore-case": "EventB"}}]}}',
     detail(service="SNS"), False),
    ("Region is in the US", '{"Region": [{"prefix": "us-"}]}', event(Region="us-west-2"), True),
    ("Region is not", '{"Region": [{"prefix": "us-"}]}', event(Region="eu-west-1"), False),
    # -- suffix
    ("FileName ends with .png", '{"FileName": [{"suffix": ".png"}]}', event(FileName="cat.png"), True),
    ("FileName ends otherwise", '{"FileName": [{"suffix": ".png"}]}', event(FileName="cat.PNG"), False),
    ("suffix, ignoring case", '{"detail": {"FileName": [{"suffix": {"equals-ignore-case": ".png"}}]}}',
     detail(FileName="cat.PNG"), True),
    ("ends with tbridge, any case", '{"service": [{"suffix": {"equals-ignore-case": "tbridge"}}]}',
     event(service="EVENTBRIDGE"), True),
    # -- anything-but
    ("state anything but initializing", '{"detail": {"state": [{"anything-but": "initializing"}]}}',
     detail(state="running"), True),
    ("state is initializing", '{"detail": {"state": [{"anything-but": "initializing"}]}}',
     detail(state="initializing"), False),
    ("x-limit anything but 123", '{"detail": {"x-limit": [{"anything-but": 123}]}}', detail(**{"x-limit": 124}), True),
    ("x-limit is 123", '{"detail": {"x-limit": [{"anything-but": 123}]}}', detail(**{"x-limit": 123}), False),
    ("anything but a list of strings", '{"detail": {"state": [{"anything-but": ["stopped", "overloaded"]}]}}',
     detail(state="running"), True),
    ("one of the list", '{"detail": {"state": [{"anything-but": ["stopped", "overloaded"]}]}}',
     detail(state="overloaded"), False),
    ("anything but a list of numbers", '{"detail": {"x-limit": [{"anything-but": [100, 200, 300]}]}}',
     detail(**{"x-limit": 150}), True),
    ("a number of the list", '{"detail": {"x-limit": [{"anything-but": [100, 200, 300]}]}}',
     detail(**{"x-limit": 200}), False),
    ("anything but prefix init", '{"detail": {"state": [{"anything-but": {"prefix": "init"}}]}}',
     detail(state="running"), True),
    ("prefix init", '{"detail": {"state": [{"anything-but": {"prefix": "init"}}]}}',
     detail(state="initializing"), False),
    ("Region is not in the US", '{"Region": [{"anything-but": {"prefix": "us-"}}]}', event(Region="eu-west-1"), True),
    ("FileName does not end with .png", '{"FileName": [{"anything-but": {"suffix": ".png"}}]}',
     event(FileName="a.jpg"), True),
    ("FileName ends with .png", '{"FileName": [{"anything-but": {"suffix": ".png"}}]}',
     event(FileName="a.png"), False),
    ("anything but initializing, any case", '{"state": [{"anything-but": {"equals-ignore-case": "initializing"}}]}',
     event(state="INITIALIZING"), False),
    ("anything but, any case, other", '{"state": [{"anything-but": {"equals-ignore-case": "initializing"}}]}',
     event(state="running"), True),
    ("FilePath without /lib/", '{"FilePath": [{"anything-but": {"wildcard": "*/lib/*"}}]}',
     event(FilePath="/usr/bin/python"), True),
    ("FilePath with /lib/", '{"FilePath": [{"anything-but": {"wildcard": "*/lib/*"}}]}',
     event(FilePath="/usr/lib/python"), False),
    # -- equals, empty, null, and
    ("Name is Alice", '{"Name": ["Alice"]}', event(Name="Alice"), True),
    ("Name is alice", '{"Name": ["Alice"]}', event(Name="alice"), False),
    ("Name is alice ignoring case", '{"Name": [{"equals-ignore-case": "alice"}]}', event(Name="ALICE"), True),
    ("LastName is empty", '{"LastName": [""]}', event(LastName=""), True),
    ("LastName is not empty", '{"LastName": [""]}', event(LastName="Doe"), False),
    ("UserID is null", '{"UserID": [null]}', event(UserID=None), True),
    ("UserID is not null", '{"UserID": [null]}', event(UserID="u1"), False),
    ("New York and Monday", '{"Location": ["New York"], "Day": ["Monday"]}',
     event(Location="New York", Day="Monday"), True),
    ("New York but Tuesday", '{"Location": ["New York"], "Day": ["Monday"]}',
     event(Location="New York", Day="Tuesday"), False),
    # -- numeric, cidr
    ("numeric, every field true", '{"detail": {"c-count": [{"numeric": [">", 0, "<=", 5]}], '
     '"d-count": [{"numeric": ["<", 10]}], "x-limit": [{"numeric": ["=", 3.018e2]}]}}',
     detail(**{"c-count": 5, "d-count": 9.5, "x-limit": 301.8}), True),
    ("numeric, c-count out of range", '{"detail": {"c-count": [{"numeric": [">", 0, "<=", 5]}], '
     '"d-count": [{"numeric": ["<", 10]}], "x-limit": [{"numeric": ["=", 3.018e2]}]}}',
     detail(**{"c-count": 0, "d-count": 9.5, "x-limit": 301.8}), False),
    ("sourceIPAddress in 10.0.0.0/24", '{"detail": {"sourceIPAddress": [{"cidr": "10.0.0.0/24"}]}}',
     detail(sourceIPAddress="10.0.0.255"), True),
    ("sourceIPAddress outside", '{"detail": {"sourceIPAddress": [{"cidr": "10.0.0.0/24"}]}}',
     detail(sourceIPAddress="10.0.1.1"), False),
    # -- exists: only leaf nodes
    ("detail.state exists", '{"detail": {"state": [{"exists": true}]}}',
     detail(**{"instance-id": "i-abcd1111", "state": "pending"}), True),
    ("detail.state is missing", '{"detail": {"state": [{"exists": true}]}}',
     detail(**{"c-count": {"c1": 100}}), False),
    ("detail.c-count is missing", '{"detail": {"c-count": [{"exists": false}]}}',
     detail(state=["initializing", "running"]), True),
    ("c-count is no leaf, so it does not exist", '{"detail": {"c-count": [{"exists": false}]}}',
     detail(state=["initializing", "running"], **{"c-count": {"c1": 100}}), True),
    # -- wildcard
    ("FileName in dir, a .png", '{"FileName": [{"wildcard": "dir/*.png"}]}', event(FileName="dir/cat.png"), True),
    ("FileName elsewhere", '{"FileName": [{"wildcard": "dir/*.png"}]}', event(FileName="other/cat.png"), False),
    ("a star itself, escaped", '{"Name": [{"wildcard": "a\\\\*b"}]}', event(Name="a*b"), True),
    ("an escaped star is no wildcard", '{"Name": [{"wildcard": "a\\\\*b"}]}', event(Name="axb"), False),
    # -- $or
    ("$or: one branch matches", '{"$or": [{"c-count": [{"numeric": [">", 0, "<=", 5]}]}, '
     '{"d-count": [{"numeric": ["<", 10]}]}, {"x-limit": [{"numeric": ["=", 3.018e2]}]}]}',
     event(**{"d-count": 3}), True),
    ("$or: none does", '{"$or": [{"c-count": [{"numeric": [">", 0, "<=", 5]}]}, '
     '{"d-count": [{"numeric": ["<", 10]}]}, {"x-limit": [{"numeric": ["=", 3.018e2]}]}]}',
     event(**{"d-count": 30}), False),
    # -- a complex example
    ("complex: all rules", '{"time": [{"prefix": "2017-10-02"}], "detail": {"state": [{"anything-but": '
     '"initializing"}], "c-count": [{"numeric": [">", 0, "<=", 5]}], "d-count": [{"numeric": ["<", 10]}], '
     '"x-limit": [{"anything-but": [100, 200, 300]}]}}',
     event(time="2017-10-02T18:43:48Z", detail={"state": "running", "c-count": 1, "d-count": 2, "x-limit": 150}),
     True),
    ("complex: x-limit excluded", '{"time": [{"prefix": "2017-10-02"}], "detail": {"state": [{"anything-but": '
     '"initializing"}], "c-count": [{"numeric": [">", 0, "<=", 5]}], "d-count": [{"numeric": ["<", 10]}], '
     '"x-limit": [{"anything-but": [100, 200, 300]}]}}',
     event(time="2017-10-02T18:43:48Z", detail={"state": "running", "c-count": 1, "d-count": 2, "x-limit": 100}),
     False),
    # -- a key given twice: the last one counts
    ("location twice: the last rule counts", '{"detail": {"location": [{"prefix": "us-"}], '
     '"location": [{"anything-but": "us-east"}]}}', detail(location="eu-west"), True),
    ("location twice: us-east excluded", '{"detail": {"location": [{"prefix": "us-"}], '
     '"location": [{"anything-but": "us-east"}]}}', detail(location="us-east"), False),
]


@pytest.fixture
def events(edge: EdgeServer) -> Any:  # noqa: F811
    return client_for(edge.url, "events")


def test_every_documented_example_answers_as_aws_says(events: Any) -> None:
    wrong = []
    for said, pattern, sample, expected in EXAMPLES:
        got = events.test_event_pattern(EventPattern=pattern, Event=json.dumps(sample))["Result"]
        if got is not expected:
            wrong.append(said)
    assert wrong == []


def test_a_rule_takes_every_documented_pattern(events: Any) -> None:
    for n, (_, pattern, _, _) in enumerate(EXAMPLES):
        events.put_rule(Name=f"example-{n}", EventPattern=pattern)
    assert len(events.list_rules()["Rules"]) == len(EXAMPLES)
