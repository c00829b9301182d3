"""Policy evaluation (lambdalab/iam_policy.py) on AWS's documented examples.

Each case is an example of the IAM User Guide: the Carlos example of
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic_policy-eval-basics.html,
the cross-account rule of
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic-cross-account.html,
the element pages (NotAction, NotResource, wildcards) and the condition operators page;
and Lambda's resource policy for S3
(https://docs.aws.amazon.com/lambda/latest/dg/access-control-resource-based.html).
"""

from __future__ import annotations

import threading
from typing import Any

import pytest

from lambdalab.iam_policy import Decision, PolicyType, Request, evaluate

ACCOUNT = "123456789012"
OTHER = "111122223333"
CARLOS = f"arn:aws:iam::{ACCOUNT}:user/carlossalazar"
FUNCTION = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:my-function"
BUCKET_ARN = "arn:aws:s3:::amzn-s3-demo-bucket"
#: Seconds after which an evaluation is taken to hang (it takes about a millisecond).
HANG_DEADLINE_S = 60


def policy(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


#: The identity policy of the Carlos example, as the guide prints it.
CARLOS_POLICY = policy(
    {"Sid": "AllowS3ListRead", "Effect": "Allow",
     "Action": ["s3:GetBucketLocation", "s3:GetAccountPublicAccessBlock", "s3:ListAccessPoints",
                "s3:ListAllMyBuckets"],
     "Resource": "arn:aws:s3:::*"},
    {"Sid": "AllowS3Self", "Effect": "Allow", "Action": "s3:*",
     "Resource": ["arn:aws:s3:::amzn-s3-demo-bucket-carlossalazar/*",
                  "arn:aws:s3:::amzn-s3-demo-bucket-carlossalazar"]},
    {"Sid": "DenyS3Logs", "Effect": "Deny", "Action": "s3:*", "Resource": "arn:aws:s3:::*log*"},
)


def carlos(action: str, resource: str) -> Request:
    return Request(CARLOS, action, resource, principal_account=ACCOUNT)


@pytest.mark.parametrize(("action", "resource", "decision"), [
    ("s3:ListAllMyBuckets", "arn:aws:s3:::*", Decision.ALLOW),  # AllowS3ListRead
    ("s3:PutObject", "arn:aws:s3:::amzn-s3-demo-bucket-carlossalazar/report.txt", Decision.ALLOW),
    ("s3:PutObject", "arn:aws:s3:::amzn-s3-demo-bucket-carlossalazar-logs/a.log",
     Decision.EXPLICIT_DENY),  # DenyS3Logs wins over nothing and over AllowS3Self alike
    ("s3:PutObject", "arn:aws:s3:::someone-else/a.txt", Decision.IMPLICIT_DENY),
])
def test_carlos_example_identity_policy(action: str, resource: str, decision: Decision) -> None:
    assert evaluate(carlos(action, resource), [CARLOS_POLICY]).decision is decision


def test_same_account_a_resource_policy_alone_allows() -> None:
    """"If either the identity-based policy or the resource-based policy within the same
    account allows the request and the other doesn't, the request is still allowed.\""""
    bucket_policy = policy({"Effect": "Allow", "Principal": {"AWS": CARLOS}, "Action": "s3:GetObject",
                            "Resource": "arn:aws:s3:::shared/*"})
    request = carlos("s3:GetObject", "arn:aws:s3:::shared/a.txt")
    assert evaluate(request, [], bucket_policy).allowed
    assert not evaluate(request, []).allowed


def test_an_explicit_deny_in_the_resource_policy_wins_over_the_identity_allow() -> None:
    bucket_policy = policy({"Effect": "Deny", "Principal": {"AWS": CARLOS}, "Action": "s3:*",
                            "Resource": "arn:aws:s3:::amzn-s3-demo-bucket-carlossalazar/*"})
    result = evaluate(carlos("s3:GetObject", "arn:aws:s3:::amzn-s3-demo-bucket-carlossalazar/x"),
                      [CARLOS_POLICY], bucket_policy)
    assert (result.decision, result.policy_type) == (Decision.EXPLICIT_DENY, PolicyType.RESOURCE)


def test_a_resource_policy_naming_only_the_account_delegates_to_identity_policies() -> None:
    """Naming the account (its root) lets the account's identity policies decide."""
    queue_policy = policy({"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                           "Action": "sqs:SendMessage", "Resource": "*"})
    request = Request(CARLOS, "sqs:SendMessage", f"arn:aws:sqs:us-east-1:{ACCOUNT}:q",
                      principal_account=ACCOUNT, resource_account=ACCOUNT)
    assert evaluate(request, [], queue_policy).decision is Decision.IMPLICIT_DENY


def cross_account(identity: list[dict[str, Any]], resource: dict[str, Any] | None) -> Decision:
    alice = f"arn:aws:iam::{OTHER}:user/alice"
    request = Request(alice, "lambda:InvokeFunction", FUNCTION, principal_account=OTHER,
                      resource_account=ACCOUNT)
    return evaluate(request, identity, resource).decision


ALLOW_INVOKE = policy({"Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": FUNCTION})
GRANT_OTHER = policy({"Effect": "Allow", "Principal": {"AWS": OTHER}, "Action": "lambda:InvokeFunction",
                      "Resource": FUNCTION})


@pytest.mark.parametrize(("identity", "resource", "decision"), [
    ([ALLOW_INVOKE], GRANT_OTHER, Decision.ALLOW),
    ([ALLOW_INVOKE], None, Decision.IMPLICIT_DENY),  # the resource's account did not agree
    ([], GRANT_OTHER, Decision.IMPLICIT_DENY),  # the principal's account did not agree
])
def test_cross_account_needs_both(identity: list[dict[str, Any]], resource: dict[str, Any] | None,
                                  decision: Decision) -> None:
    assert cross_account(identity, resource) is decision


def test_not_action_allows_everything_but_the_actions_it_names() -> None:
    """The NotAction page's example: everything except IAM."""
    document = policy({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"})
    assert evaluate(carlos("lambda:ListFunctions", "*"), [document]).allowed
    assert not evaluate(carlos("iam:CreateUser", "*"), [document]).allowed


def test_not_resource_denies_everywhere_but_the_resources_it_names() -> None:
    document = policy(
        {"Effect": "Allow", "Action": "s3:*", "Resource": "*"},
        {"Effect": "Deny", "Action": "s3:*", "NotResource": [BUCKET_ARN, BUCKET_ARN + "/*"]},
    )
    assert evaluate(carlos("s3:GetObject", BUCKET_ARN + "/a"), [document]).allowed
    assert evaluate(carlos("s3:GetObject", "arn:aws:s3:::other/a"), [document]).decision is \
        Decision.EXPLICIT_DENY


@pytest.mark.parametrize(("pattern", "action", "matches"), [
    ("lambda:*", "lambda:InvokeFunction", True),
    ("lambda:Get*", "lambda:GetFunction", True),
    ("lambda:get*", "lambda:GetFunction", True),  # actions are not case sensitive
    ("lambda:Get*", "lambda:ListFunctions", False),
    ("s3:?etObject", "s3:GetObject", True),
    ("*", "sqs:SendMessage", True),
])
def test_action_wildcards(pattern: str, action: str, matches: bool) -> None:
    document = policy({"Effect": "Allow", "Action": pattern, "Resource": "*"})
    assert evaluate(carlos(action, "*"), [document]).allowed is matches


@pytest.mark.parametrize(("pattern", "resource", "matches"), [
    (f"arn:aws:lambda:*:{ACCOUNT}:function:*", FUNCTION, True),
    (f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:my-*", FUNCTION, True),
    (f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:other", FUNCTION, False),
    (f"arn:aws:lambda:us-east-1:{OTHER}:function:my-function", FUNCTION, False),
    ("arn:aws:s3:::amzn-s3-demo-bucket/*", BUCKET_ARN + "/a/b.txt", True),
    ("arn:aws:s3:::amzn.s3-demo-bucket/*", BUCKET_ARN + "/a", False),  # '.' is no wildcard
])
def test_resource_wildcards(pattern: str, resource: str, matches: bool) -> None:
    document = policy({"Effect": "Allow", "Action": "*", "Resource": pattern})
    assert evaluate(carlos("lambda:InvokeFunction", resource), [document]).allowed is matches


#: Lambda's resource policy for an S3 trigger, as AddPermission writes it (the Lambda
#: Developer Guide's example).
S3_TRIGGER = policy({
    "Sid": "s3-invoke", "Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"},
    "Action": "lambda:InvokeFunction", "Resource": FUNCTION,
    "Condition": {"StringEquals": {"AWS:SourceAccount": ACCOUNT},
                  "ArnLike": {"AWS:SourceArn": "arn:aws:s3:::amzn-s3-demo-bucket"}},
})


@pytest.mark.parametrize(("context", "allowed"), [
    ({"aws:SourceAccount": ACCOUNT, "aws:SourceArn": BUCKET_ARN}, True),
    ({"aws:SourceAccount": OTHER, "aws:SourceArn": BUCKET_ARN}, False),  # confused deputy
    ({"aws:SourceAccount": ACCOUNT, "aws:SourceArn": "arn:aws:s3:::other"}, False),
    ({"aws:SourceAccount": ACCOUNT}, False),  # a key absent: the condition fails
])
def test_service_principal_with_source_conditions(context: dict[str, str], allowed: bool) -> None:
    request = Request("s3.amazonaws.com", "lambda:InvokeFunction", FUNCTION,
                      resource_account=ACCOUNT, context=context)
    assert evaluate(request, [], S3_TRIGGER).allowed is allowed


def conditioned(condition: dict[str, Any], context: dict[str, Any]) -> bool:
    document = policy({"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": condition})
    return evaluate(Request(CARLOS, "s3:GetObject", "*", ACCOUNT, context=context), [document]).allowed


@pytest.mark.parametrize(("condition", "context", "allowed"), [
    ({"StringLike": {"aws:PrincipalArn": "arn:aws:iam::*:user/carlos*"}}, {"aws:PrincipalArn": CARLOS}, True),
    ({"ArnEquals": {"aws:PrincipalArn": CARLOS}}, {"aws:PrincipalArn": CARLOS}, True),
    ({"StringNotEquals": {"aws:PrincipalAccount": OTHER}}, {"aws:PrincipalAccount": ACCOUNT}, True),
    ({"StringNotEquals": {"aws:PrincipalAccount": ACCOUNT}}, {"aws:PrincipalAccount": ACCOUNT}, False),
    # "aws:SecureTransport": the guide's example of Bool
    ({"Bool": {"aws:SecureTransport": "true"}}, {"aws:SecureTransport": False}, False),
    ({"Bool": {"aws:SecureTransport": "false"}}, {"aws:SecureTransport": False}, True),
    # the guide's NumericLessThan: s3:max-keys under 10
    ({"NumericLessThan": {"s3:max-keys": "10"}}, {"s3:max-keys": "9"}, True),
    ({"NumericLessThan": {"s3:max-keys": "10"}}, {"s3:max-keys": "10"}, False),
    ({"NumericLessThan": {"s3:max-keys": "10"}}, {"s3:max-keys": "ten"}, False),
    # ...IfExists: an absent key holds, a present one is tested
    ({"StringEqualsIfExists": {"ec2:InstanceType": "t2.micro"}}, {}, True),
    ({"StringEqualsIfExists": {"ec2:InstanceType": "t2.micro"}}, {"ec2:InstanceType": "m5.large"}, False),
    ({"StringEquals": {"ec2:InstanceType": "t2.micro"}}, {}, False),
    ({"Null": {"aws:TokenIssueTime": "true"}}, {}, True),
    ({"StringEquals": {"aws:PrincipalTag/team": ["a", "b"]}}, {"aws:PrincipalTag/team": "b"}, True),
    ({"ForAllValues:StringEquals": {"aws:TagKeys": ["a", "b"]}}, {"aws:TagKeys": ["a", "c"]}, False),
    ({"ForAnyValue:StringEquals": {"aws:TagKeys": ["a", "b"]}}, {"aws:TagKeys": ["a", "c"]}, True),
    ({"StringEquals": {"AWS:SOURCEACCOUNT": ACCOUNT}}, {"aws:SourceAccount": ACCOUNT}, True),  # key case
    ({"NoSuchOperator": {"aws:SourceAccount": ACCOUNT}}, {"aws:SourceAccount": ACCOUNT}, False),
    # IpAddress: CIDR blocks, IPv4 and IPv6; a bad block matches nothing
    ({"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}}, {"aws:SourceIp": "203.0.113.9"}, True),
    ({"IpAddress": {"aws:SourceIp": ["203.0.113.0/24", "2001:db8::/32"]}}, {"aws:SourceIp": "2001:db8::1"}, True),
    ({"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}}, {"aws:SourceIp": "198.51.100.1"}, False),
    ({"IpAddress": {"aws:SourceIp": "not-a-cidr"}}, {"aws:SourceIp": "198.51.100.1"}, False),
    ({"NotIpAddress": {"aws:SourceIp": "203.0.113.0/24"}}, {"aws:SourceIp": "198.51.100.1"}, True),
])
def test_condition_operators(condition: dict[str, Any], context: dict[str, Any], allowed: bool) -> None:
    assert conditioned(condition, context) is allowed


def test_a_resource_policy_naming_a_role_grants_its_sessions() -> None:
    session = f"arn:aws:sts::{ACCOUNT}:assumed-role/app/i-123"
    grant = policy({"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:role/app"},
                    "Action": "lambda:InvokeFunction", "Resource": FUNCTION})
    request = Request(session, "lambda:InvokeFunction", FUNCTION, principal_account=ACCOUNT)
    assert evaluate(request, [], grant).allowed


@pytest.mark.parametrize("document", [
    {}, {"Statement": "nonsense"}, {"Statement": [{"Effect": "Allow"}]},
    {"Statement": [{"Effect": "Maybe", "Action": "*", "Resource": "*"}]},
    {"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": "x"}]},
    {"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": {"Bool": "x"}}]},
])
def test_a_malformed_document_grants_nothing_and_raises_nothing(document: dict[str, Any]) -> None:
    assert evaluate(carlos("s3:GetObject", "*"), [document]).decision is Decision.IMPLICIT_DENY


@pytest.mark.parametrize(("pattern", "value"), [
    ("*a" * 40 + "*b", "a" * 1024),  # backtracking regular expressions take hours on this
    ("arn:aws:s3:::" + "a*" * 40 + "b", "arn:aws:s3:::" + "a" * 1024),
    ("arn:aws:s3:*" + "a*" * 40 + "::x", "arn:aws:s3:" + "a" * 1024 + "::y"),
])
def test_a_hostile_pattern_is_matched_in_linear_time(pattern: str, value: str) -> None:
    document = policy({"Effect": "Allow", "Action": "*", "Resource": pattern,
                       "Condition": {"StringLike": {"aws:PrincipalArn": pattern}}})
    request = Request(CARLOS, "s3:GetObject", value, ACCOUNT, context={"aws:PrincipalArn": value})
    answers: list[Decision] = []
    worker = threading.Thread(target=lambda: answers.append(evaluate(request, [document]).decision),
                              daemon=True)
    worker.start()
    worker.join(HANG_DEADLINE_S)  # a deadline that tells a hang from load, not a duration
    assert answers == [Decision.IMPLICIT_DENY]


@pytest.mark.parametrize(("pattern", "value", "matches"), [
    ("*ab*ab", "xabyab", True), ("*ab*ab", "abab", True), ("*ab*ab", "ab", False),
    ("a*b*c", "abbbc", True), ("a*b*c", "acb", False), ("a**b", "ab", True), ("*a*", "bab", True),
    ("a?c", "abc", True), ("a?c", "ac", False), ("*", "", True),
])
def test_wildcards_between_runs(pattern: str, value: str, matches: bool) -> None:
    assert conditioned({"StringLike": {"aws:username": pattern}}, {"aws:username": value}) is matches
