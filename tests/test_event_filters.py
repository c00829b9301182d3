"""Event filter patterns (lambdalab.event_filters) and FilterCriteria on SQS mappings.

The pattern cases are the rows of AWS's filter rule syntax table
(https://docs.aws.amazon.com/lambda/latest/dg/invocation-eventfiltering.html#filtering-syntax),
each with an event it selects and one it does not.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lambdalab import InvalidParameterValueException, Lab
from lambdalab.event_filters import (
    combinations,
    matches,
    parse_filter_criteria,
    parse_filter_pattern,
    problem,
)
from lambdalab_sqs import sqs_of

from .edge_support import client, client_for, create, edge  # noqa: F401  (fixtures)

# (comparison, pattern, an event it matches, an event it does not)
AWS_TABLE: list[tuple[str, dict[str, Any], dict[str, Any], dict[str, Any]]] = [
    ("null", {"UserID": [None]}, {"UserID": None}, {"UserID": "x"}),
    ("empty", {"LastName": [""]}, {"LastName": ""}, {"LastName": "Doe"}),
    ("equals", {"Name": ["Alice"]}, {"Name": "Alice"}, {"Name": "alice"}),
    ("equals ignore case", {"Name": [{"equals-ignore-case": "alice"}]}, {"Name": "ALICE"},
     {"Name": "Bob"}),
    ("and", {"Location": ["New York"], "Day": ["Monday"]},
     {"Location": "New York", "Day": "Monday"}, {"Location": "New York", "Day": "Sunday"}),
    ("or", {"PaymentType": ["Credit", "Debit"]}, {"PaymentType": "Debit"},
     {"PaymentType": "Cash"}),
    ("or, several fields", {"$or": [{"Location": ["New York"]}, {"Day": ["Monday"]}]},
     {"Location": "Paris", "Day": "Monday"}, {"Location": "Paris", "Day": "Sunday"}),
    ("not", {"Weather": [{"anything-but": ["Raining"]}]}, {"Weather": "Sunny"},
     {"Weather": "Raining"}),
    ("numeric equals", {"Price": [{"numeric": ["=", 100]}]}, {"Price": 100.0}, {"Price": 101}),
    ("numeric range", {"Price": [{"numeric": [">", 10, "<=", 20]}]}, {"Price": 20},
     {"Price": 10}),
    ("exists", {"ProductName": [{"exists": True}]}, {"ProductName": "x"}, {"Other": "x"}),
    ("does not exist", {"ProductName": [{"exists": False}]}, {"Other": "x"},
     {"ProductName": "x"}),
    ("begins with", {"Region": [{"prefix": "us-"}]}, {"Region": "us-east-1"},
     {"Region": "eu-west-1"}),
    ("ends with", {"FileName": [{"suffix": ".png"}]}, {"FileName": "cat.png"},
     {"FileName": "cat.jpg"}),
]


@pytest.mark.parametrize("name, pattern, selected, rejected", AWS_TABLE, ids=[r[0] for r in AWS_TABLE])
def test_each_comparison_of_awss_table(name: str, pattern: dict[str, Any], selected: dict[str, Any],
                                       rejected: dict[str, Any]) -> None:
    assert problem(pattern) is None
    assert matches(pattern, selected)
    assert not matches(pattern, rejected)


def test_nested_keys_lists_and_types() -> None:
    pattern = {"body": {"order": {"status": ["paid"]}, "total": [{"numeric": [">=", 5]}]}}
    assert matches(pattern, {"body": {"order": {"status": "paid"}, "total": 5}})
    assert not matches(pattern, {"body": {"order": {"status": "paid"}, "total": "5"}})  # a string
    assert not matches(pattern, {"body": {"total": 9}})  # the nested key is missing
    assert matches({"tags": ["red"]}, {"tags": ["blue", "red"]})  # one item of a list
    assert matches({"items": {"sku": ["a"]}}, {"items": [{"sku": "b"}, {"sku": "a"}]})
    assert not matches({"flag": [True]}, {"flag": 1})  # true is not the number 1
    assert not matches({"n": [1]}, {"n": True})


def test_the_operators_awss_table_leaves_out() -> None:
    assert matches({"r": [{"anything-but": {"prefix": "us-"}}]}, {"r": "eu-west-1"})
    assert not matches({"r": [{"anything-but": {"prefix": "us-"}}]}, {"r": "us-east-1"})
    assert matches({"f": [{"suffix": {"equals-ignore-case": ".PNG"}}]}, {"f": "a.png"})
    assert matches({"ip": [{"cidr": "10.0.0.0/24"}]}, {"ip": "10.0.0.7"})
    assert not matches({"ip": [{"cidr": "10.0.0.0/24"}]}, {"ip": "10.0.1.7"})
    assert not matches({"w": [{"anything-but": "x"}]}, {})  # anything-but needs the key


@pytest.mark.parametrize("bad", [
    {}, [], {"a": "x"}, {"a": []}, {"a": [{"prefix": ""}]}, {"a": [{"numeric": ["<", 1, ">", 5]}]},
    {"a": [{"numeric": [">", "1"]}]}, {"a": [{"exists": "yes"}]}, {"a": [{"wildcard": "*"}]},
    {"a": [{"prefix": "x", "suffix": "y"}]}, {"$or": [{"a": ["x"]}]}, {"a": [[1]]},
    {"a": [{"cidr": "not a network"}]}, {"a": [{"anything-but": [{"x": 1}]}]},
])
def test_a_bad_pattern_is_named_and_refused_as_lambda_refuses_it(bad: Any) -> None:
    assert problem(bad)
    with pytest.raises(InvalidParameterValueException, match="^Invalid filter pattern definition"):
        parse_filter_pattern(json.dumps(bad))


def test_pattern_text_that_is_not_json_or_too_long_is_refused() -> None:
    for text in ("{", '{"a": ["x"]', "x" * 5000, None, '[' * 100_000):
        with pytest.raises(InvalidParameterValueException, match="^Invalid filter pattern definition"):
            parse_filter_pattern(text)


def test_combinations_count_or_branches() -> None:
    assert combinations({"a": [1, 2], "b": ["x", "y", "z"]}) == 6
    assert combinations({"a": [1, 2], "$or": [{"b": [1]}, {"c": [1, 2, 3]}]}) == 8


JSON_LEAF = st.one_of(st.none(), st.booleans(), st.integers(-1000, 1000), st.text(max_size=5))
EVENTS = st.recursive(JSON_LEAF, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=3), inner, max_size=3)), max_leaves=10)


@settings(max_examples=200, deadline=None)
@given(event=st.dictionaries(st.text(max_size=3), EVENTS, max_size=4), key=st.text(max_size=3))
def test_exists_and_not_exists_split_every_event(event: dict[str, Any], key: str) -> None:
    """Whatever the event, a key either exists or not (never both, never neither) for a
    leaf value; and matching never raises on arbitrary JSON."""
    value = event.get(key)
    present = matches({key: [{"exists": True}]}, event)
    absent = matches({key: [{"exists": False}]}, event)
    if key not in event:
        assert absent and not present
    elif not isinstance(value, (dict, list)):
        assert present and not absent


@settings(max_examples=200, deadline=None)
@given(value=JSON_LEAF, others=st.lists(JSON_LEAF, max_size=3))
def test_anything_but_is_the_complement_of_equals_for_leaves(value: Any, others: list[Any]) -> None:
    candidates = [c for c in others if isinstance(c, (str, int)) and not isinstance(c, bool)]
    if not candidates:
        return
    equal = matches({"k": candidates}, {"k": value})
    assert matches({"k": [{"anything-but": candidates}]}, {"k": value}) is (not equal)


# -- FilterCriteria on an SQS event source mapping ------------------------------------------

RECORDER = """
import json

def handler(event, context):
    print("BATCH " + json.dumps([r["body"] for r in event["Records"]]))
"""


def batches(lab: Lab) -> list[str]:
    return [b for e in lab.get_logs("worker") if "BATCH " in e.message
            for b in json.loads(e.message.split("BATCH ", 1)[1])]


def test_filtered_out_messages_are_deleted_and_never_reach_the_function(
        lab: Lab, code: Callable[..., Path]) -> None:
    lab.create_function("worker", code(app=RECORDER), handler="app.handler")
    queues = sqs_of(lab).queues
    queues.create_queue("jobs")
    mapping = lab.create_event_source_mapping(
        "worker", event_source_arn=queues.arn("jobs"), batch_size=10,
        filter_criteria={"Filters": [{"Pattern": '{"body": {"kind": ["order"]}}'},
                                     {"Pattern": '{"body": ["ping"]}'}]})
    assert mapping.to_aws()["FilterCriteria"]["Filters"][1] == {"Pattern": '{"body": ["ping"]}'}
    for body in ('{"kind": "order", "n": 1}', '{"kind": "refund"}', "ping", "pong",
                 '{"kind": "order", "n": 2}', "not json {"):
        queues.send_message("jobs", body)
    assert sqs_of(lab).mappings.wait_idle(timeout=60)
    assert sorted(batches(lab)) == sorted(['{"kind": "order", "n": 1}', "ping",
                                           '{"kind": "order", "n": 2}'])
    assert queues.counts("jobs") == {"visible": 0, "in_flight": 0, "delayed": 0}
    cleared = lab.update_event_source_mapping(mapping.uuid, filter_criteria={})
    assert "FilterCriteria" not in cleared.to_aws()
    queues.send_message("jobs", "pong")
    assert sqs_of(lab).mappings.wait_idle(timeout=60)
    assert "pong" in batches(lab)


def test_filter_criteria_through_boto3(edge: Any, client: Any, lab: Lab) -> None:  # noqa: F811
    create(client, "worker", RECORDER)
    sqs = client_for(edge.url, "sqs")
    url = sqs.create_queue(QueueName="jobs")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    with pytest.raises(client.exceptions.InvalidParameterValueException,
                       match="Invalid filter pattern definition"):
        client.create_event_source_mapping(
            FunctionName="worker", EventSourceArn=queue_arn,
            FilterCriteria={"Filters": [{"Pattern": json.dumps({"body": {"n": i}})} for i in range(6)]})
    created = client.create_event_source_mapping(
        FunctionName="worker", EventSourceArn=queue_arn,
        FilterCriteria={"Filters": [{"Pattern": '{"body": {"n": [{"numeric": [">", 2]}]}}'}]})
    got = client.get_event_source_mapping(UUID=created["UUID"])
    assert got["FilterCriteria"] == {"Filters": [{"Pattern": '{"body": {"n": [{"numeric": [">", 2]}]}}'}]}
    sqs.send_message_batch(QueueUrl=url, Entries=[
        {"Id": str(n), "MessageBody": json.dumps({"n": n})} for n in range(5)])
    assert sqs_of(lab).mappings.wait_idle(timeout=60)
    assert sorted(batches(lab)) == ['{"n": 3}', '{"n": 4}']


OPERANDS = st.one_of(JSON_LEAF, st.lists(JSON_LEAF, max_size=3),
                     st.dictionaries(st.sampled_from(["prefix", "suffix", "equals-ignore-case", "x"]),
                                     JSON_LEAF, max_size=2),
                     st.lists(st.one_of(st.sampled_from(["=", "<", "<=", ">", ">=", "!"]),
                                        st.integers(-5, 5), st.floats(allow_nan=True)), max_size=5),
                     st.sampled_from(["10.0.0.0/24", "::1/128", "nonsense"]))
RULES = st.one_of(JSON_LEAF, st.dictionaries(
    st.sampled_from(["prefix", "suffix", "equals-ignore-case", "anything-but", "numeric", "exists",
                     "cidr", "wildcard"]), OPERANDS, min_size=1, max_size=2))
#: Rules that are valid, so that most patterns get past the check to the matching.
VALID_RULES = st.one_of(
    JSON_LEAF, st.builds(lambda t: {"prefix": t}, st.text(min_size=1, max_size=3)),
    st.builds(lambda t: {"suffix": {"equals-ignore-case": t}}, st.text(min_size=1, max_size=3)),
    st.builds(lambda n: {"numeric": [">", n]}, st.integers(-5, 5)),
    st.builds(lambda n: {"numeric": [">=", n, "<", n + 2]}, st.integers(-5, 5)),
    st.builds(lambda b: {"exists": b}, st.booleans()),
    st.builds(lambda v: {"anything-but": v}, st.lists(st.text(max_size=2), min_size=1, max_size=2)),
    st.just({"cidr": "10.0.0.0/8"}))
PATTERNS = st.recursive(
    st.dictionaries(st.text(max_size=3), st.lists(st.one_of(VALID_RULES, VALID_RULES, RULES),
                                                  min_size=1, max_size=3), min_size=1, max_size=3),
    lambda inner: st.one_of(st.dictionaries(st.text(max_size=3), inner, min_size=1, max_size=2),
                            st.builds(lambda branches: {"$or": branches}, st.lists(inner, max_size=3))),
    max_leaves=8)


@settings(max_examples=400, deadline=None)
@given(pattern=PATTERNS, event=EVENTS)
def test_a_pattern_the_check_accepts_never_fails_to_match(pattern: Any, event: Any) -> None:
    """Whatever pattern hostile input makes, it is refused with a reason or it matches
    any JSON event without raising."""
    reason = problem(pattern)
    if reason is None:
        assert matches(pattern, event) in (True, False)
        assert combinations(pattern) >= 0
    else:
        assert isinstance(reason, str) and reason


def test_filter_criteria_are_read_as_lambda_reads_them() -> None:
    text = '{"body": {"kind": ["order"]}}'
    assert parse_filter_criteria({"Filters": [{"Pattern": text}]}) == (text,)
    assert parse_filter_criteria({}) == parse_filter_criteria({"Filters": []}) == ()
    for bad in ([], {"Filters": [{"Pattern": text}] * 6}, {"Filters": [{}]}, {"Filters": ["x"]},
                {"Filters": "x"}):
        with pytest.raises(InvalidParameterValueException, match="^Invalid filter pattern definition"):
            parse_filter_criteria(bad)
