"""The JSON policy grammar, as IAM checks a document before it stores it.

https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_grammar.html: a
policy is an object with an optional ``Version`` (``2012-10-17`` or ``2008-10-17``),
an optional ``Id`` and a ``Statement`` (one object or a list of them). Each statement has
an ``Effect`` (``Allow`` or ``Deny``), ``Action`` or ``NotAction`` (``service:action``
or ``*``), and either a ``Resource`` / ``NotResource`` (an identity-based policy) or a
``Principal`` / ``NotPrincipal`` (a trust policy). Anything else is
``MalformedPolicyDocument``, whose message says what to change.
"""

from __future__ import annotations

import json
import re
from typing import Any

from lambdalab.plugin import iam_policy

from .exceptions import LimitExceeded, MalformedPolicyDocument

VERSIONS = ("2012-10-17", "2008-10-17")
EFFECTS = ("Allow", "Deny")
STATEMENT_KEYS = frozenset({"Sid", "Effect", "Principal", "NotPrincipal", "Action", "NotAction",
                            "Resource", "NotResource", "Condition"})
PRINCIPAL_KINDS = frozenset({"AWS", "Service", "Federated", "CanonicalUser"})


def parsed(text: str, *, trust: bool, max_chars: int, quota: str) -> dict[str, Any]:
    """``text`` as a policy document, checked; ``trust`` for a role's trust policy."""
    if len(text) > max_chars:
        raise LimitExceeded(f"Cannot exceed quota for {quota}: {max_chars}")
    try:
        document = json.loads(text)
    except (ValueError, RecursionError):
        raise MalformedPolicyDocument("This policy contains invalid Json") from None
    if not isinstance(document, dict):
        raise MalformedPolicyDocument("This policy contains invalid Json")
    _check_version(document.get("Version"))
    for statement in _statements(document.get("Statement")):
        _check_statement(statement, trust)
    return document


def _check_version(version: Any) -> None:
    if version is not None and version not in VERSIONS:
        raise MalformedPolicyDocument(
            f"The policy must contain a valid version string: {' or '.join(VERSIONS)}.")


def _statements(statement: Any) -> list[dict[str, Any]]:
    found = [statement] if isinstance(statement, dict) else statement
    if not isinstance(found, list) or not found or not all(isinstance(s, dict) for s in found):
        raise MalformedPolicyDocument(
            "Syntax errors in policy: Statement must be an object or a non-empty list of objects.")
    return found


def _check_statement(statement: dict[str, Any], trust: bool) -> None:
    unknown = sorted(set(statement) - STATEMENT_KEYS)
    if unknown:
        raise MalformedPolicyDocument(f"Syntax errors in policy: unknown field {unknown[0]}.")
    if statement.get("Effect") not in EFFECTS:
        raise MalformedPolicyDocument(
            f"Invalid effect: {statement.get('Effect')!r}. Effect must be Allow or Deny.")
    _check_actions(statement)
    if trust:
        _check_trust(statement)
    else:
        _check_identity(statement)
    _check_condition(statement.get("Condition"))


def _check_condition(condition: Any) -> None:
    """Operators map keys to values; an operator IAM does not know is refused, as IAM
    refuses it, rather than stored to never match
    (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html)."""
    if condition is None:
        return
    if not (isinstance(condition, dict) and all(isinstance(v, dict) for v in condition.values())):
        raise MalformedPolicyDocument(
            "Syntax errors in policy: Condition must map operators to {key: values}.")
    for operator, keys in condition.items():
        if not iam_policy.known_operator(operator):
            raise MalformedPolicyDocument(f"Syntax errors in policy: invalid condition operator {operator!r}.")
        for key, values in keys.items():
            listed = values if isinstance(values, list) else [values]
            if not all(isinstance(v, (str, bool, int, float)) for v in listed):
                raise MalformedPolicyDocument(
                    f"Syntax errors in policy: condition key {key!r} needs a value or a list of values.")


def _strings(value: Any) -> list[str] | None:
    """A string or a non-empty list of strings, as a list; ``None`` otherwise."""
    values = [value] if isinstance(value, str) else value
    if isinstance(values, list) and values and all(isinstance(v, str) for v in values):
        return values
    return None


def _check_actions(statement: dict[str, Any]) -> None:
    if ("Action" in statement) == ("NotAction" in statement):
        raise MalformedPolicyDocument("Policy statement must contain actions.")
    actions = _strings(statement.get("Action", statement.get("NotAction")))
    if actions is None:
        raise MalformedPolicyDocument("Policy statement must contain actions.")
    for action in actions:
        if action != "*" and (":" not in action or not action.split(":", 1)[0]):
            raise MalformedPolicyDocument(
                f"Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc. "
                f"({action!r})")


def _check_identity(statement: dict[str, Any]) -> None:
    if "Principal" in statement or "NotPrincipal" in statement:
        raise MalformedPolicyDocument("Policy document should not specify a principal.")
    if ("Resource" in statement) == ("NotResource" in statement) or _strings(
            statement.get("Resource", statement.get("NotResource"))) is None:
        raise MalformedPolicyDocument("Policy statement must contain resources.")


def _check_trust(statement: dict[str, Any]) -> None:
    if "Resource" in statement or "NotResource" in statement:
        raise MalformedPolicyDocument("Has prohibited field Resource")
    principal = statement.get("Principal", statement.get("NotPrincipal"))
    if principal == "*":
        return
    valid = isinstance(principal, dict) and principal and all(
        kind in PRINCIPAL_KINDS and _strings(value) is not None for kind, value in principal.items())
    if not valid:
        raise MalformedPolicyDocument(
            "Invalid principal in policy: give Principal as \"*\" or as "
            "{\"Service\": \"lambda.amazonaws.com\"} / {\"AWS\": \"arn:aws:iam::ACCOUNT:root\"}.")


def principals(statement: dict[str, Any], kind: str) -> list[str]:
    """The principals of ``kind`` (``AWS``, ``Service``) a trust statement names."""
    principal = statement.get("Principal")
    if principal == "*":
        return ["*"]
    if isinstance(principal, dict):
        return _strings(principal.get(kind)) or []
    return []


def statements(document: dict[str, Any]) -> list[dict[str, Any]]:
    """A checked document's statements, as a list."""
    statement = document.get("Statement")
    return [statement] if isinstance(statement, dict) else list(statement or [])


def actions_match(statement: dict[str, Any], action: str) -> bool:
    """Whether ``action`` is among the statement's ``Action`` (wildcards ``*`` and ``?``)."""
    return any(_wildcard(pattern).fullmatch(action)
               for pattern in _strings(statement.get("Action")) or [])


def _wildcard(pattern: str) -> re.Pattern[str]:
    """IAM's wildcards: ``*`` any run of characters, ``?`` one; case-insensitive."""
    return re.compile("".join(".*" if c == "*" else "." if c == "?" else re.escape(c)
                              for c in pattern), re.IGNORECASE | re.DOTALL)
