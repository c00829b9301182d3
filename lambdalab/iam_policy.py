"""IAM policy evaluation: may this principal perform this action on this resource?

:func:`evaluate` follows AWS's policy evaluation logic for one account and across two
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html):

1. an explicit ``Deny`` in any policy that applies wins;
2. within one account, an ``Allow`` in an identity-based policy *or* in the resource-based
   policy is enough (a resource policy naming the principal itself; one naming only the
   account delegates to the account's identity policies, so it is not);
3. across accounts, both the identity policy (in the principal's account) and the
   resource policy (in the resource's) must allow;
4. otherwise the request is implicitly denied.

A statement applies when its ``Action`` / ``NotAction``, ``Resource`` / ``NotResource``,
``Principal`` / ``NotPrincipal`` (resource policies) and every ``Condition`` match
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements.html).
Actions match case-insensitively, resources and values with ``*`` and ``?``; ARN
patterns match segment by segment (a wildcard never crosses a ``:`` before the resource
part). The condition operators are :data:`OPERATORS`, each also with ``IfExists`` and
under ``ForAnyValue:`` / ``ForAllValues:``
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html).
Policy variables (``${aws:username}``), permissions boundaries, session policies and
SCPs are not evaluated; see ``docs/reference/iam-enforcement.rst``.

Hand-written rather than taken from a library (see that page): moto's
``moto.iam.access_control`` compares a statement's ``Condition`` block for equality
with the request's instead of evaluating operators, and treats ``.`` in a pattern as a
regular expression; the other Python packages found lint or summarise policies rather
than decide requests.
"""

from __future__ import annotations

import enum
import functools
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping, Sequence

#: A request context key's value: one string, or several (a multivalued key).
ContextValue = str | Sequence[str]
Document = Mapping[str, Any]


class Decision(enum.Enum):
    ALLOW = "Allow"
    EXPLICIT_DENY = "ExplicitDeny"
    IMPLICIT_DENY = "ImplicitDeny"


class PolicyType(enum.Enum):
    """Which kind of policy a decision rests on: AccessDenied messages name it."""

    IDENTITY = "identity-based"
    RESOURCE = "resource-based"


@dataclass(frozen=True)
class Request:
    """What is asked: who, which action on which resource, and the request context."""

    #: The principal's ARN (``arn:aws:iam::111122223333:user/alice``, an assumed-role
    #: session's ``arn:aws:sts::…:assumed-role/ROLE/SESSION``), or a service principal
    #: (``s3.amazonaws.com``).
    principal: str
    #: ``lambda:InvokeFunction``.
    action: str
    #: The resource's ARN, or ``*`` for an action on no resource.
    resource: str
    #: The principal's account (``None`` for a service principal).
    principal_account: str | None = None
    #: The resource's account; ``None``: the principal's (a same-account request).
    resource_account: str | None = None
    #: Condition keys (``aws:SourceArn``): case-insensitive names.
    context: Mapping[str, ContextValue] = field(default_factory=dict)


@dataclass(frozen=True)
class Result:
    """A decision and, for a denial, the kind of policy that denied (or did not allow)."""

    decision: Decision
    policy_type: PolicyType = PolicyType.IDENTITY

    @property
    def allowed(self) -> bool:
        return self.decision is Decision.ALLOW


def evaluate(request: Request, identity_policies: Iterable[Document],
             resource_policy: Document | None = None) -> Result:
    """Allow, explicit deny or implicit deny for ``request`` under these policies."""
    identity = _effects(request, identity_policies, resource_policy=False)
    resource = _effects(request, [resource_policy] if resource_policy else [], resource_policy=True)
    if "Deny" in identity:
        return Result(Decision.EXPLICIT_DENY, PolicyType.IDENTITY)
    if "Deny" in resource:
        return Result(Decision.EXPLICIT_DENY, PolicyType.RESOURCE)
    identity_allows = "Allow" in identity
    if _cross_account(request):
        if not identity_allows:
            return Result(Decision.IMPLICIT_DENY, PolicyType.IDENTITY)
        if "Allow" in resource or "AllowAccount" in resource:
            return Result(Decision.ALLOW)
        return Result(Decision.IMPLICIT_DENY, PolicyType.RESOURCE)
    if identity_allows or "Allow" in resource:
        return Result(Decision.ALLOW)
    return Result(Decision.IMPLICIT_DENY, PolicyType.IDENTITY)


def _cross_account(request: Request) -> bool:
    return (request.resource_account is not None and request.principal_account is not None
            and request.resource_account != request.principal_account)


def _effects(request: Request, documents: Iterable[Document], *, resource_policy: bool) -> set[str]:
    """The effects of the statements that apply: ``Allow``, ``Deny``, and
    ``AllowAccount`` (an Allow whose Principal names only the principal's account)."""
    found: set[str] = set()
    for document in documents:
        for statement in _statements(document):
            effect = _applies(request, statement, resource_policy)
            if effect:
                found.add(effect)
    return found


def _statements(document: Document) -> list[Mapping[str, Any]]:
    """A document's statements; what is no statement (a malformed document) is left out."""
    statements = document.get("Statement", []) if isinstance(document, Mapping) else []
    listed = [statements] if isinstance(statements, Mapping) else statements
    return [s for s in listed if isinstance(s, Mapping)] if isinstance(listed, list) else []


def _applies(request: Request, statement: Mapping[str, Any], resource_policy: bool) -> str | None:
    """The statement's effect when it applies to ``request``, else ``None``."""
    effect = statement.get("Effect")
    if effect not in ("Allow", "Deny"):
        return None
    if not _element_matches(statement, "Action", request.action, _action_matches):
        return None
    if not _element_matches(statement, "Resource", request.resource, _resource_matches):
        return None
    reach = _principal_reach(request, statement) if resource_policy else "direct"
    if reach is None or not conditions_hold(statement.get("Condition", {}), request.context):
        return None
    return "AllowAccount" if effect == "Allow" and reach == "account" else effect


def _element_matches(statement: Mapping[str, Any], name: str, value: str,
                     matches: Callable[[str, str], bool]) -> bool:
    """``Action``/``NotAction`` (or ``Resource``/``NotResource``) against ``value``; a
    statement with neither matches (a resource policy's statement names no Resource
    when it is about its own resource)."""
    if name in statement:
        return any(matches(p, value) for p in _strings(statement[name]))
    if "Not" + name in statement:
        return not any(matches(p, value) for p in _strings(statement["Not" + name]))
    return name == "Resource"


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value]
    return [str(value)]


def _action_matches(pattern: str, action: str) -> bool:
    return glob(pattern.lower()).fullmatch(action.lower()) is not None


def _resource_matches(pattern: str, resource: str) -> bool:
    return pattern == "*" or arn_like(pattern, resource)


# -- principals (resource-based policies) ------------------------------------------------


def _principal_reach(request: Request, statement: Mapping[str, Any]) -> str | None:
    """``"direct"`` when the statement's Principal names the request's principal,
    ``"account"`` when it names only its account, ``None`` when it does not apply."""
    if "NotPrincipal" in statement:
        return None if _names(statement["NotPrincipal"], request) else "direct"
    return _names(statement.get("Principal"), request)


def _names(element: Any, request: Request) -> str | None:
    if element == "*":
        return "direct"
    if not isinstance(element, Mapping):
        return None
    reaches = {_names_one(v, kind, request) for kind, values in element.items() for v in _strings(values)}
    return "direct" if "direct" in reaches else ("account" if "account" in reaches else None)


def _names_one(value: str, kind: str, request: Request) -> str | None:
    if kind == "Service":
        return "direct" if value == request.principal else None
    if kind != "AWS":
        return None
    if value in ("*", request.principal) or value == _role_of_session(request.principal):
        return "direct"
    if request.principal_account and value in (request.principal_account,
                                               f"arn:aws:iam::{request.principal_account}:root"):
        return "account"
    return None


def _role_of_session(principal: str) -> str | None:
    """``arn:aws:sts::A:assumed-role/R/S`` → ``arn:aws:iam::A:role/R``: a resource policy
    naming a role grants its sessions."""
    found = re.fullmatch(r"arn:(aws[\w-]*):sts::(\d{12}):assumed-role/([^/]+)/.+", principal)
    return f"arn:{found[1]}:iam::{found[2]}:role/{found[3]}" if found else None


# -- patterns ----------------------------------------------------------------------------


@functools.lru_cache(maxsize=4096)
def glob(pattern: str) -> re.Pattern[str]:
    """``*`` (any run) and ``?`` (one character); everything else literal."""
    return re.compile("".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern),
                      re.DOTALL)


def string_like(pattern: str, value: str) -> bool:
    return glob(pattern).fullmatch(value) is not None


def arn_like(pattern: str, arn: str) -> bool:
    """ArnLike: each of the six ``:``-separated segments matched on its own
    (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html#Conditions_ARN)."""
    wanted, got = pattern.split(":", 5), arn.split(":", 5)
    if len(wanted) != 6 or len(got) != 6:
        return string_like(pattern, arn)
    return all(string_like(w, g) for w, g in zip(wanted, got))


# -- conditions --------------------------------------------------------------------------


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _numeric(compare: Callable[[float, float], bool]) -> Callable[[str, str], bool]:
    def test(value: str, wanted: str) -> bool:
        a, b = _number(value), _number(wanted)
        return a is not None and b is not None and compare(a, b)
    return test


#: Each operator's test of one request value against one policy value, and whether it
#: is negated (matches when no policy value matches).
OPERATORS: dict[str, tuple[Callable[[str, str], bool], bool]] = {
    "StringEquals": (lambda v, w: v == w, False),
    "StringNotEquals": (lambda v, w: v == w, True),
    "StringEqualsIgnoreCase": (lambda v, w: v.lower() == w.lower(), False),
    "StringNotEqualsIgnoreCase": (lambda v, w: v.lower() == w.lower(), True),
    "StringLike": (lambda v, w: string_like(w, v), False),
    "StringNotLike": (lambda v, w: string_like(w, v), True),
    "ArnEquals": (lambda v, w: arn_like(w, v), False),
    "ArnLike": (lambda v, w: arn_like(w, v), False),
    "ArnNotEquals": (lambda v, w: arn_like(w, v), True),
    "ArnNotLike": (lambda v, w: arn_like(w, v), True),
    "NumericEquals": (_numeric(lambda a, b: a == b), False),
    "NumericNotEquals": (_numeric(lambda a, b: a == b), True),
    "NumericLessThan": (_numeric(lambda a, b: a < b), False),
    "NumericLessThanEquals": (_numeric(lambda a, b: a <= b), False),
    "NumericGreaterThan": (_numeric(lambda a, b: a > b), False),
    "NumericGreaterThanEquals": (_numeric(lambda a, b: a >= b), False),
    "Bool": (lambda v, w: v.lower() == w.lower(), False),
}


def conditions_hold(block: Mapping[str, Any], context: Mapping[str, ContextValue]) -> bool:
    """Every operator of a ``Condition`` block holds (AND); an operator unknown to
    lambdalab never holds, so a statement that needs it does not apply."""
    if not isinstance(block, Mapping):
        return False
    lowered = {k.lower(): v for k, v in context.items()}
    return all(_operator_holds(op, keys, lowered) for op, keys in block.items())


def _operator_holds(operator: str, keys: Any, context: Mapping[str, ContextValue]) -> bool:
    if not isinstance(keys, Mapping):
        return False
    return all(_key_holds(operator, key, _strings(wanted), context.get(key.lower()))
               for key, wanted in keys.items())


def _key_holds(operator: str, key: str, wanted: list[str], present: ContextValue | None) -> bool:
    """One condition key: the values of the policy are ORed, a negated operator's NORed
    (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-logic-multiple-context-keys-or-values.html)."""
    qualifier, _, name = operator.rpartition(":")
    if_exists = name.endswith("IfExists")
    name = name.removesuffix("IfExists")
    if name == "Null":
        return (present is None) == (wanted[0].lower() == "true") if wanted else False
    if name not in OPERATORS or qualifier not in ("", "ForAnyValue", "ForAllValues"):
        return False
    test, negated = OPERATORS[name]
    if present is None:
        # An absent key: IfExists holds; a negated operator holds; any other does not.
        return if_exists or negated or qualifier == "ForAllValues"
    values = [_text(v) for v in ([present] if isinstance(present, (str, bool, int, float)) else present)]

    def one(value: str) -> bool:
        hit = any(test(value, w) for w in wanted)
        return not hit if negated else hit

    return all(one(v) for v in values) if qualifier == "ForAllValues" else any(one(v) for v in values)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


__all__ = ["Decision", "PolicyType", "Request", "Result", "arn_like", "conditions_hold", "evaluate",
           "glob", "string_like"]
