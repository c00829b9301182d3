"""Condition operators and policy variables (lambdalab/iam_policy.py), table-driven, then
end to end: boto3 against an enforcing edge.

The cases are the User Guide's: the operators page
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html),
multiple keys and values
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-logic-multiple-context-keys-or-values.html),
set operators
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-single-vs-multi-valued-context-keys.html)
and policy variables
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html).
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any, Iterator

import pytest
from botocore.exceptions import ClientError

from lambdalab import Lab, VirtualClock
from lambdalab.iam_policy import Decision, Request, conditions_hold, evaluate, known_operator, substitute
from lambdalab.server import EdgeServer

from .edge_support import client_for

ACCOUNT = "123456789012"
ALICE = f"arn:aws:iam::{ACCOUNT}:user/alice"
B64_HELLO = "aGVsbG8="  # base64 of b"hello"
#: Seconds after which a substitution is taken to hang (it takes microseconds).
HANG_DEADLINE_S = 60

CASES: list[tuple[str, Any, Any, bool]] = [
    # (operator, policy value(s), request value (None: absent), holds)
    ("StringEquals", "abc", "abc", True),
    ("StringEquals", "abc", "ABC", False),
    ("StringEquals", "a*", "abc", False),  # no wildcards
    ("StringEquals", ["x", "abc"], "abc", True),  # values ORed
    ("StringEquals", "abc", None, False),
    ("StringNotEquals", "abc", "abd", True),
    ("StringNotEquals", ["abc", "abd"], "abd", False),  # NOR
    ("StringNotEquals", "abc", None, True),
    ("StringEqualsIgnoreCase", "ABC", "abc", True),
    ("StringNotEqualsIgnoreCase", "ABC", "abc", False),
    ("StringLike", "a*c", "abbbc", True),
    ("StringLike", "a?c", "abc", True),
    ("StringLike", "a?c", "abbc", False),
    ("StringNotLike", "a*", "bcd", True),
    ("StringEqualsIfExists", "abc", None, True),
    ("StringEqualsIfExists", "abc", "abd", False),
    ("NumericEquals", "10", "10", True),
    ("NumericEquals", "10", "10.0", True),
    ("NumericEquals", 10, "10", True),  # a JSON number in the policy
    ("NumericNotEquals", "10", "11", True),
    ("NumericLessThan", "10", "9", True),
    ("NumericLessThan", "10", "10", False),
    ("NumericLessThanEquals", "10", "10", True),
    ("NumericGreaterThan", "10", "11", True),
    ("NumericGreaterThanEquals", "10", "10", True),
    ("NumericEquals", "nan", "nan", False),  # not a number IAM reads
    ("NumericLessThan", "10", "1e1", False),
    ("NumericLessThan", "10", "ten", False),
    ("DateEquals", "2026-12-05T20:00:00Z", "2026-12-05T20:00:00Z", True),
    ("DateEquals", "2026-12-05T20:00:00Z", "1796500800", True),  # epoch against ISO 8601
    ("DateEquals", "2026-12-05T20:00:00Z", "2026-12-05T21:00:00+01:00", True),
    ("DateNotEquals", "2026-12-05", "2026-12-06", True),
    ("DateLessThan", "2026-12-05T20:00:00Z", "2026-12-05T19:59:59Z", True),
    ("DateLessThan", "2026-12-05T20:00:00Z", "2026-12-05T20:00:00Z", False),
    ("DateLessThanEquals", "2026-12-05T20:00:00Z", "2026-12-05T20:00:00Z", True),
    ("DateGreaterThan", "1796500800", "2026-12-05T20:00:01Z", True),
    ("DateGreaterThanEquals", "2026-12-05", "2026-12-05T00:00:00Z", True),
    ("DateGreaterThan", "2026-12-05", "yesterday", False),
    ("Bool", "true", "true", True),
    ("Bool", True, "true", True),  # a JSON boolean in the policy
    ("Bool", "false", True, False),
    ("Bool", "false", None, False),
    ("BoolIfExists", "false", None, True),
    ("BinaryEquals", B64_HELLO, B64_HELLO, True),
    ("BinaryEquals", B64_HELLO, "aGVsbG8", False),  # bad padding: not base64
    ("BinaryEquals", B64_HELLO, "d29ybGQ=", False),
    ("IpAddress", "203.0.113.0/24", "203.0.113.7", True),
    ("IpAddress", "203.0.113.0/24", "203.0.114.7", False),
    ("IpAddress", "203.0.113.7", "203.0.113.7", True),  # a bare address: /32
    ("IpAddress", ["10.0.0.0/8", "2001:db8::/32"], "2001:db8::1", True),
    ("IpAddress", "2001:db8::/32", "203.0.113.7", False),  # IPv4 is not in an IPv6 block
    ("IpAddress", "203.0.113.0/24", "not-an-ip", False),
    ("IpAddress", "203.0.113.0/24", None, False),
    ("NotIpAddress", "203.0.113.0/24", "198.51.100.1", True),
    ("NotIpAddress", "203.0.113.0/24", "203.0.113.1", False),
    ("ArnEquals", "arn:aws:sns:*:123456789012:topic", "arn:aws:sns:us-east-1:123456789012:topic", True),
    ("ArnLike", "arn:aws:lambda:*:*:function:*", "arn:aws:lambda:us-east-1:1:function:f", True),
    ("ArnLike", "arn:aws:s3:::b*", "arn:aws:s3:::bucket", True),
    ("ArnLike", "arn:aws:*:us-east-1:*", "arn:aws:s3:eu:west:1:x", False),  # * stays in its segment
    ("ArnNotLike", "arn:aws:s3:::b*", "arn:aws:s3:::other", True),
    ("ArnNotEquals", "arn:aws:s3:::b", "arn:aws:s3:::b", False),
    ("Null", "true", None, True),
    ("Null", "true", "x", False),
    ("Null", "false", "x", True),
    ("Null", "false", None, False),
    # set operators on a multivalued key
    ("ForAnyValue:StringEquals", ["a", "b"], ["c", "b"], True),
    ("ForAnyValue:StringEquals", ["a", "b"], ["c", "d"], False),
    ("ForAnyValue:StringEquals", ["a"], None, False),
    ("ForAnyValue:StringNotEquals", ["a"], None, False),
    ("ForAllValues:StringEquals", ["a", "b"], ["a", "b"], True),
    ("ForAllValues:StringEquals", ["a", "b"], ["a", "c"], False),
    ("ForAllValues:StringEquals", ["a"], None, True),  # nothing to fail
    ("ForAllValues:StringEquals", ["a"], [], True),
    ("ForAllValues:StringLike", ["team-*"], ["team-a", "team-b"], True),
    ("ForAnyValue:IpAddress", ["10.0.0.0/8"], ["192.0.2.1", "10.1.2.3"], True),
    ("ForAnyValue:DateGreaterThan", ["2026-01-01"], ["2025-01-01", "2027-01-01"], True),
    # unknown operators never hold
    ("StringEqualz", "abc", "abc", False),
    ("ForSomeValues:StringEquals", "abc", "abc", False),
    ("NullIfExists", "true", None, False),
]


@pytest.mark.parametrize(("operator", "wanted", "present", "holds"), CASES)
def test_each_operator(operator: str, wanted: Any, present: Any, holds: bool) -> None:
    context = {} if present is None else {"k:Key": present}
    assert conditions_hold({operator: {"k:key": wanted}}, context) is holds


def test_condition_keys_are_case_insensitive_and_keys_are_anded() -> None:
    block = {"StringEquals": {"AWS:PrincipalTag/Team": "blue", "aws:REQUESTEDREGION": "eu-west-1"}}
    assert conditions_hold(block, {"aws:principaltag/team": "blue", "aws:RequestedRegion": "eu-west-1"})
    assert not conditions_hold(block, {"aws:principaltag/team": "blue", "aws:RequestedRegion": "us-east-1"})


def test_operators_are_anded() -> None:
    block = {"DateGreaterThan": {"aws:CurrentTime": "2026-01-01T00:00:00Z"},
             "DateLessThan": {"aws:CurrentTime": "2027-01-01T00:00:00Z"}}
    assert conditions_hold(block, {"aws:CurrentTime": "2026-06-01T00:00:00Z"})
    assert not conditions_hold(block, {"aws:CurrentTime": "2027-06-01T00:00:00Z"})


@pytest.mark.parametrize(("operator", "known"), [
    ("StringEquals", True), ("ForAnyValue:StringLike", True), ("ForAllValues:NumericLessThanIfExists", True),
    ("DateGreaterThanEquals", True), ("IpAddress", True), ("NotIpAddressIfExists", True), ("BinaryEquals", True),
    ("Null", True), ("NullIfExists", False), ("StringEqualz", False), ("ForSomeValues:StringEquals", False),
    ("stringequals", False), ("", False), ("ForAnyValue:", False),
])
def test_known_operators(operator: str, known: bool) -> None:
    assert known_operator(operator) is known


# -- policy variables ---------------------------------------------------------------------

CONTEXT = {"aws:username": "alice", "aws:principaltag/team": "blue", "aws:sourceip": "203.0.113.7",
           "aws:multi": ["a", "b"]}


@pytest.mark.parametrize(("text", "replaced"), [
    ("home/${aws:username}/*", "home/alice/*"),
    ("home/${AWS:UserName}", "home/alice"),  # key names are case-insensitive
    ("${aws:PrincipalTag/team}-data", "blue-data"),
    ("${aws:nothing}", None),  # no value, no default: the element does not match
    ("${aws:multi}", None),  # a multivalued key is no variable
    ("${aws:nothing, 'shared'}", "shared"),
    ("${ aws:nothing ,  'it''s' }", "it's"),  # '' is a quote in a default
    ("${aws:username, 'shared'}", "alice"),
    ("${aws:nothing, '${aws:username}'}", "${aws:username}"),  # one pass only
    ("cost${$}", "cost$"),
    ("${aws:username", "${aws:username"),  # no closing brace: literal text
    ("${aws:nothing, shared}", "${aws:nothing, shared}"),  # an unquoted default: literal
    ("a${aws:username}b${aws:PrincipalTag/team}c", "aalicebbluec"),
    ("no variables at all", "no variables at all"),
])
def test_substitute(text: str, replaced: str | None) -> None:
    found = substitute(text, CONTEXT)
    assert (found if found is None else found.replace("\ue000", "*").replace("\ue001", "?")) == replaced


def test_a_hostile_variable_is_read_in_linear_time() -> None:
    """A regular expression allowing spaces around the name took 16 s on 1,000 spaces
    (cubic); a managed policy may hold 6,000."""
    hostile = ["${" + " " * 6000 + "x", "${a," + " " * 6000, "${" * 3000, "${a, '" + "''" * 3000]
    answers: list[Any] = []
    worker = threading.Thread(target=lambda: answers.extend(substitute(t, CONTEXT) for t in hostile), daemon=True)
    worker.start()
    worker.join(HANG_DEADLINE_S)  # a deadline that tells a hang from load, not a duration
    assert answers == hostile  # no well-formed variable: literal text


def _can(document: dict[str, Any], resource: str, context: dict[str, Any] | None = None,
         action: str = "s3:GetObject") -> Decision:
    request = Request(ALICE, action, resource, ACCOUNT, context={"aws:username": "alice", **(context or {})})
    return evaluate(request, [document]).decision


def _home(version: str | None = "2012-10-17", resource: str = "arn:aws:s3:::bucket/home/${aws:username}/*",
          condition: dict[str, Any] | None = None) -> dict[str, Any]:
    statement: dict[str, Any] = {"Effect": "Allow", "Action": "s3:*", "Resource": resource}
    if condition:
        statement["Condition"] = condition
    document: dict[str, Any] = {"Statement": [statement]}
    if version:
        document["Version"] = version
    return document


def test_a_variable_in_resource_names_the_callers_own_folder() -> None:
    assert _can(_home(), "arn:aws:s3:::bucket/home/alice/notes.txt") is Decision.ALLOW
    assert _can(_home(), "arn:aws:s3:::bucket/home/bob/notes.txt") is Decision.IMPLICIT_DENY


def test_variables_are_literal_text_in_a_2008_document_or_one_without_version() -> None:
    for version in ("2008-10-17", None):
        document = _home(version)
        assert _can(document, "arn:aws:s3:::bucket/home/alice/x") is Decision.IMPLICIT_DENY
        assert _can(document, "arn:aws:s3:::bucket/home/${aws:username}/x") is Decision.ALLOW


def test_a_variable_without_a_value_matches_nothing_unless_it_has_a_default() -> None:
    team = "arn:aws:s3:::bucket/${aws:PrincipalTag/team}/*"
    assert _can(_home(resource=team), "arn:aws:s3:::bucket/blue/x") is Decision.IMPLICIT_DENY
    assert _can(_home(resource=team), "arn:aws:s3:::bucket/blue/x", {"aws:PrincipalTag/team": "blue"}) \
        is Decision.ALLOW
    shared = "arn:aws:s3:::bucket/${aws:PrincipalTag/team, 'shared'}/*"
    assert _can(_home(resource=shared), "arn:aws:s3:::bucket/shared/x") is Decision.ALLOW


def test_escaped_wildcards_are_literal() -> None:
    literal = "arn:aws:s3:::bucket/${*}/${?}"
    assert _can(_home(resource=literal), "arn:aws:s3:::bucket/*/?") is Decision.ALLOW
    assert _can(_home(resource=literal), "arn:aws:s3:::bucket/anything/x") is Decision.IMPLICIT_DENY


def test_a_variables_value_is_never_a_wildcard() -> None:
    """A context value holding ``*`` matches only itself, not every resource."""
    request = Request(ALICE, "s3:GetObject", "arn:aws:s3:::bucket/home/bob/x", ACCOUNT,
                      context={"aws:username": "*"})
    assert evaluate(request, [_home()]).decision is Decision.IMPLICIT_DENY


def test_variables_in_condition_values() -> None:
    same_team = _home(resource="*", condition={
        "StringEquals": {"aws:ResourceTag/team": "${aws:PrincipalTag/team}"}})
    assert _can(same_team, "arn:aws:s3:::b/x", {"aws:PrincipalTag/team": "blue", "aws:ResourceTag/team": "blue"}) \
        is Decision.ALLOW
    assert _can(same_team, "arn:aws:s3:::b/x", {"aws:PrincipalTag/team": "red", "aws:ResourceTag/team": "blue"}) \
        is Decision.IMPLICIT_DENY
    prefix = _home(resource="*", condition={"StringLike": {"s3:prefix": ["${aws:username}/*"]}})
    assert _can(prefix, "arn:aws:s3:::b", {"s3:prefix": "alice/photos"}) is Decision.ALLOW
    assert _can(prefix, "arn:aws:s3:::b", {"s3:prefix": "bob/photos"}) is Decision.IMPLICIT_DENY


# -- end to end: the edge supplies the global keys ---------------------------------------

LAB_ACCOUNT = "000000000000"


def policy_of(*statements: dict[str, Any]) -> str:
    """A 2012-10-17 policy document of these statements, as JSON."""
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


@pytest.fixture
def edge(tmp_path: Path, clock: VirtualClock) -> Iterator[EdgeServer]:
    with Lab(data_dir=tmp_path / "data", clock=clock, enforce_iam=True) as lab:
        with EdgeServer(lab, port=0) as server:
            yield server


def _user(edge: EdgeServer, name: str, policy: str, **create: Any) -> Any:
    iam = client_for(edge.url, "iam", key="test")
    iam.create_user(UserName=name, **create)
    iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=policy)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return client_for(edge.url, key=key["AccessKeyId"], secret=key["SecretAccessKey"])


def _denied(call: Any) -> str:
    with pytest.raises(ClientError) as denied:
        call()
    code: str = denied.value.response["Error"]["Code"]
    return code


def test_an_unknown_operator_is_refused_when_the_policy_is_put(edge: EdgeServer) -> None:
    iam = client_for(edge.url, "iam", key="test")
    iam.create_user(UserName="u")
    bad = policy_of({"Effect": "Allow", "Action": "lambda:*", "Resource": "*",
                   "Condition": {"StringEqualz": {"aws:username": "u"}}})
    with pytest.raises(ClientError) as refused:
        iam.put_user_policy(UserName="u", PolicyName="p", PolicyDocument=bad)
    assert refused.value.response["Error"]["Code"] == "MalformedPolicyDocument"
    assert "StringEqualz" in refused.value.response["Error"]["Message"]
    with pytest.raises(ClientError):
        iam.create_policy(PolicyName="p", PolicyDocument=bad)
    assert iam.list_user_policies(UserName="u")["PolicyNames"] == []


def test_source_ip_is_the_clients_address(edge: EdgeServer) -> None:
    """The test's client connects from 127.0.0.1 (the edge listens on loopback)."""
    allow_loopback = policy_of({"Effect": "Allow", "Action": "lambda:ListFunctions", "Resource": "*",
                              "Condition": {"IpAddress": {"aws:SourceIp": ["127.0.0.0/8", "::1/128"]}}})
    assert _user(edge, "near", allow_loopback).list_functions()["Functions"] == []
    elsewhere = policy_of({"Effect": "Allow", "Action": "lambda:ListFunctions", "Resource": "*",
                         "Condition": {"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}}})
    assert _denied(_user(edge, "far", elsewhere).list_functions) == "AccessDeniedException"


def test_current_time_is_the_labs_clock(edge: EdgeServer, clock: VirtualClock) -> None:
    from lambdalab.iam_policy import iso8601

    until = iso8601(clock.now() + 3600)
    policy = policy_of({"Effect": "Allow", "Action": "lambda:ListFunctions", "Resource": "*",
                      "Condition": {"DateLessThan": {"aws:CurrentTime": until}}})
    client = _user(edge, "temp", policy)
    assert client.list_functions()["Functions"] == []
    clock.advance(3601)
    assert _denied(client.list_functions) == "AccessDeniedException"


def test_secure_transport_is_false_on_the_plain_http_edge(edge: EdgeServer) -> None:
    tls_only = policy_of({"Effect": "Allow", "Action": "lambda:ListFunctions", "Resource": "*"},
                       {"Effect": "Deny", "Action": "*", "Resource": "*",
                        "Condition": {"Bool": {"aws:SecureTransport": "false"}}})
    assert _denied(_user(edge, "tls", tls_only).list_functions) == "AccessDeniedException"


def test_username_and_principal_tag_variables_name_the_callers_functions(edge: EdgeServer) -> None:
    policy = policy_of({"Effect": "Allow", "Action": "lambda:GetFunction",
                      "Resource": f"arn:aws:lambda:*:{LAB_ACCOUNT}:function:${{aws:username}}-*"},
                     {"Effect": "Allow", "Action": "lambda:GetFunction",
                      "Resource": f"arn:aws:lambda:*:{LAB_ACCOUNT}:function:${{aws:PrincipalTag/team}}-*"})
    ana = _user(edge, "ana", policy, Tags=[{"Key": "team", "Value": "blue"}])
    for name in ("ana-app", "blue-app", "bob-app"):
        code = _denied(lambda: ana.get_function(FunctionName=name))
        # a function that does not exist: allowed ones answer ResourceNotFound
        assert code == ("AccessDeniedException" if name == "bob-app" else "ResourceNotFoundException")


def test_principal_account_principal_arn_and_requested_region_keys(edge: EdgeServer) -> None:
    def policy(region: str) -> str:
        return policy_of({"Effect": "Allow", "Action": "lambda:ListFunctions", "Resource": "*",
                        "Condition": {"StringEquals": {"aws:PrincipalAccount": LAB_ACCOUNT,
                                                       "aws:RequestedRegion": region},
                                      "ArnLike": {"aws:PrincipalArn": f"arn:aws:iam::{LAB_ACCOUNT}:user/r*"}}})

    assert _user(edge, "ruth", policy("us-east-1")).list_functions()["Functions"] == []  # the client's region
    assert _denied(_user(edge, "rita", policy("eu-west-3")).list_functions) == "AccessDeniedException"
    assert _denied(_user(edge, "otto", policy("us-east-1")).list_functions) == "AccessDeniedException"
