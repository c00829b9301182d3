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
Policy variables (``${aws:username}``, ``${aws:PrincipalTag/team}``, the escapes ``${*}``
``${?}`` ``${$}``, defaults ``${aws:x, 'none'}``) are replaced in ``Resource`` and in
condition values of a ``2012-10-17`` document
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html).
A permissions boundary and session policies, when given, cap what identity-based
policies (and a resource policy naming the role rather than the session) grant. SCPs
are not evaluated (lambdalab has no Organizations); see
``docs/reference/iam-enforcement.rst``.

Hand-written rather than taken from a library (see that page): moto's
``moto.iam.access_control`` compares a statement's ``Condition`` block for equality
with the request's instead of evaluating operators, and treats ``.`` in a pattern as a
regular expression; the other Python packages found lint or summarise policies rather
than decide requests.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import enum
import functools
import ipaddress
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping, Sequence

#: A request context key's value: one string, or several (a multivalued key).
ContextValue = str | Sequence[str]
#: A policy document as JSON gives it (dicts and lists; anything else grants nothing).
Document = Mapping[str, Any]


class Decision(enum.Enum):
    ALLOW = "Allow"
    EXPLICIT_DENY = "ExplicitDeny"
    IMPLICIT_DENY = "ImplicitDeny"


class PolicyType(enum.Enum):
    """Which kind of policy a decision rests on: AccessDenied messages name it."""

    IDENTITY = "identity-based"
    RESOURCE = "resource-based"
    BOUNDARY = "permissions boundary"
    SESSION = "session"


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
             resource_policy: Document | None = None, *, boundary: Document | None = None,
             session_policies: Sequence[Document] | None = None) -> Result:
    """Allow, explicit deny or implicit deny for ``request`` under these policies.

    ``boundary`` is the principal's permissions boundary, ``session_policies`` an
    assumed-role session's (AssumeRole's ``Policy`` and ``PolicyArns``); each, when
    given, caps what identity-based policies grant, and what a resource policy grants a
    role rather than the session itself; a resource policy naming the user or the session
    is not capped
    (https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_boundaries.html,
    https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies.html#policies_session).

    Documents are read as JSON gives them (dicts and lists); each is compiled once and
    kept while the same object is passed again (:func:`compiled`), so treat a document
    given here as frozen."""
    context = {k.lower(): v for k, v in request.context.items()}
    identity = _effects(request, context, identity_policies, resource_policy=False)
    resource = _effects(request, context, [resource_policy] if resource_policy else [], resource_policy=True)
    if "Deny" in identity:
        return Result(Decision.EXPLICIT_DENY, PolicyType.IDENTITY)
    if "Deny" in resource:
        return Result(Decision.EXPLICIT_DENY, PolicyType.RESOURCE)
    capped_by: PolicyType | None = None
    if boundary is not None or session_policies is not None:
        found = _capped_by(request, context, boundary, session_policies)
        if isinstance(found, Result):
            return found
        capped_by = found
    identity_allows = "Allow" in identity and capped_by is None
    if _cross_account(request):
        if not identity_allows:
            why = capped_by if capped_by and "Allow" in identity else PolicyType.IDENTITY
            return Result(Decision.IMPLICIT_DENY, why)
        if resource & {"Allow", "AllowAccount", "AllowRole"}:
            return Result(Decision.ALLOW)
        return Result(Decision.IMPLICIT_DENY, PolicyType.RESOURCE)
    if identity_allows or "Allow" in resource or ("AllowRole" in resource and capped_by is None):
        return Result(Decision.ALLOW)
    granted = "Allow" in identity or "AllowRole" in resource
    return Result(Decision.IMPLICIT_DENY, capped_by if granted and capped_by else PolicyType.IDENTITY)


def _capped_by(request: Request, context: Mapping[str, ContextValue], boundary: Document | None,
               session_policies: Sequence[Document] | None) -> PolicyType | Result | None:
    """The explicit deny of a boundary or session policy; else the first of them that
    does not allow (it caps the identity's grant); else ``None``."""
    caps: list[tuple[PolicyType, set[str]]] = []
    if boundary is not None:
        caps.append((PolicyType.BOUNDARY, _effects(request, context, [boundary], resource_policy=False)))
    if session_policies is not None:
        caps.append((PolicyType.SESSION, _effects(request, context, session_policies, resource_policy=False)))
    for kind, found in caps:
        if "Deny" in found:
            return Result(Decision.EXPLICIT_DENY, kind)
    return next((kind for kind, found in caps if "Allow" not in found), None)


def trust_allows(request: Request, trust_policy: Document) -> Result:
    """What a role's trust policy alone says of ``request`` (``sts:AssumeRole``): allowed
    when a statement allows the principal, by its ARN or by its account, and none denies.

    A trust policy must name who may assume the role: unlike other resource policies,
    "Role trust policies and KMS key policies are exceptions to this logic, because they
    must explicitly allow access for principals"
    (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html).
    Whether the caller also needs an identity-based policy is :func:`evaluate`'s answer
    with the trust policy as the resource policy (https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html:
    within one account, naming the user in the trust policy is enough)."""
    context = {k.lower(): v for k, v in request.context.items()}
    found = _effects(request, context, [trust_policy], resource_policy=True)
    if "Deny" in found:
        return Result(Decision.EXPLICIT_DENY, PolicyType.RESOURCE)
    if found & {"Allow", "AllowAccount", "AllowRole"}:
        return Result(Decision.ALLOW)
    return Result(Decision.IMPLICIT_DENY, PolicyType.RESOURCE)


def _cross_account(request: Request) -> bool:
    return (request.resource_account is not None and request.principal_account is not None
            and request.resource_account != request.principal_account)


def _effects(request: Request, context: Mapping[str, ContextValue], documents: Iterable[Document], *,
             resource_policy: bool) -> set[str]:
    """The effects of the statements that apply: ``Allow``, ``Deny``, ``AllowAccount``
    (an Allow whose Principal names only the principal's account) and ``AllowRole`` (one
    naming the role of an assumed-role session, not the session)."""
    found: set[str] = set()
    for document in documents:
        for statement in compiled(document):
            effect = statement.applies(request, context, resource_policy)
            if effect:
                found.add(effect)
    return found


@dataclass(frozen=True)
class Statement:
    """One statement, its patterns compiled."""

    effect: str
    #: The Action (or NotAction) patterns as one expression; ``None``: neither was given.
    actions: re.Pattern[str] | None
    not_action: bool
    #: The Resource (or NotResource) patterns; ``None``: neither (the resource's own policy).
    resources: tuple[str, ...] | None
    not_resource: bool
    principal: Any
    not_principal: Any
    condition: Any
    #: Whether ``${…}`` in Resource and condition values are policy variables (a
    #: ``2012-10-17`` document that has some).
    variables: bool = False

    @classmethod
    def of(cls, raw: Mapping[str, Any], version: Any = None) -> "Statement | None":
        """The statement, or ``None`` when it can never apply (no Effect, no Action)."""
        effect = raw.get("Effect")
        action = raw.get("Action", raw.get("NotAction"))
        if effect not in ("Allow", "Deny") or action is None:
            return None
        resource = raw.get("Resource", raw.get("NotResource"))
        resources = None if resource is None else tuple(_strings(resource))
        condition = raw.get("Condition", {})
        variables = version == VARIABLES_VERSION and ("${" in repr(resources) or "${" in repr(condition))
        return cls(effect, _any_action(tuple(_strings(action))), "Action" not in raw,
                   resources, "Resource" not in raw,
                   raw.get("Principal"), raw.get("NotPrincipal"), condition, variables)

    def applies(self, request: Request, context: Mapping[str, ContextValue], resource_policy: bool) -> str | None:
        """The statement's effect when it applies to ``request``, else ``None``."""
        if (self.actions is not None and self.actions.fullmatch(request.action) is not None) == self.not_action:
            return None
        if self.resources is not None and (
                self._resource_matches(request.resource, context) if self.variables
                else any(_resource_matches(p, request.resource) for p in self.resources)) == self.not_resource:
            return None
        reach = self._reach(request) if resource_policy else "direct"
        if reach is None or not _conditions_hold(self.condition, context, self.variables):
            return None
        if self.effect == "Allow" and reach != "direct":
            return "AllowAccount" if reach == "account" else "AllowRole"
        return self.effect

    def _resource_matches(self, resource: str, context: Mapping[str, ContextValue]) -> bool:
        """Whether a Resource pattern, its variables replaced, matches; one whose variable
        has no value does not."""
        assert self.resources is not None
        patterns = (substitute(p, context) for p in self.resources)
        return any(p is not None and _resource_matches(p, resource) for p in patterns)

    def _reach(self, request: Request) -> str | None:
        """``"direct"`` when the statement's Principal names the request's principal,
        ``"role"`` the role of its session, ``"account"`` only its account, ``None``
        when it does not apply."""
        if self.not_principal is not None:
            return None if _names(self.not_principal, request) else "direct"
        return _names(self.principal, request)


#: Documents compiled, by ``id``, each kept beside its document (so the id is not reused).
_COMPILED: dict[int, tuple[Any, tuple[Statement, ...]]] = {}
_COMPILED_MAX = 4096


def compiled(document: Document) -> tuple[Statement, ...]:
    """A document's statements, compiled once per document object; what is no statement
    (a malformed document) is left out."""
    kept = _COMPILED.get(id(document))
    if kept is not None and kept[0] is document:
        return kept[1]
    version = document.get("Version") if isinstance(document, dict) else None
    statements = tuple(s for s in (Statement.of(raw, version) for raw in _raw_statements(document))
                       if s is not None)
    if len(_COMPILED) >= _COMPILED_MAX:
        _COMPILED.clear()
    _COMPILED[id(document)] = (document, statements)
    return statements


def _raw_statements(document: Document) -> list[Mapping[str, Any]]:
    statements = document.get("Statement", []) if isinstance(document, dict) else []
    listed = [statements] if isinstance(statements, dict) else statements
    return [s for s in listed if isinstance(s, dict)] if isinstance(listed, list) else []


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, (list, tuple)):
        return [_text(v) for v in value]
    return [_text(value)]


def _any_action(patterns: tuple[str, ...]) -> re.Pattern[str]:
    """Actions match case-insensitively."""
    return re.compile("|".join(f"(?:{glob(p).pattern})" for p in patterns), re.DOTALL | re.IGNORECASE)


def _resource_matches(pattern: str, resource: str) -> bool:
    return pattern == "*" or arn_like(pattern, resource)


# -- principals (resource-based policies) ------------------------------------------------


def _names(element: Any, request: Request) -> str | None:
    if element == "*":
        return "direct"
    if not isinstance(element, dict):
        return None
    reaches = {_names_one(v, kind, request) for kind, values in element.items() for v in _strings(values)}
    if "direct" in reaches:
        return "direct"
    return "role" if "role" in reaches else ("account" if "account" in reaches else None)


def _names_one(value: str, kind: str, request: Request) -> str | None:
    if kind == "Service":
        return "direct" if value == request.principal else None
    if kind != "AWS":
        return None
    if value in ("*", request.principal):
        return "direct"
    if value == _role_of_session(request.principal):
        return "role"
    if request.principal_account and value in (request.principal_account,
                                               f"arn:aws:iam::{request.principal_account}:root"):
        return "account"
    return None


def _role_of_session(principal: str) -> str | None:
    """``arn:aws:sts::A:assumed-role/R/S`` → ``arn:aws:iam::A:role/R``: a resource policy
    naming a role grants its sessions."""
    found = re.fullmatch(r"arn:(aws[\w-]*):sts::(\d{12}):assumed-role/([^/]+)/.+", principal)
    return f"arn:{found[1]}:iam::{found[2]}:role/{found[3]}" if found else None


# -- policy variables --------------------------------------------------------------------

#: The policy language version in which ``${…}`` are variables; in ``2008-10-17`` (and a
#: document with no Version) they are literal text
#: (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_version.html).
VARIABLES_VERSION = "2012-10-17"
#: How ``${*}`` and ``${?}`` (and a variable's value) carry a literal ``*`` / ``?`` into a
#: pattern: private-use characters the wildcard matcher reads as those literals.
LITERAL_STAR, LITERAL_QUESTION = "\ue000", "\ue001"
_LITERALS = {LITERAL_STAR: re.escape("*"), LITERAL_QUESTION: re.escape("?")}
def substitute(text: str, context: Mapping[str, ContextValue]) -> str | None:
    """``text`` with its policy variables (``${name}``, ``${name, 'default'}``, ``''`` a
    quote inside the default) replaced from ``context`` (keys in lower case) in one
    pass, or ``None`` when one has no value and no default: "If AWS cannot resolve a
    variable this might cause the entire statement to be invalid"
    (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html).
    A multivalued key has no value here. What a variable brings is literal text, never a
    wildcard. A ``${`` that opens no well-formed variable is literal text.

    Scanned by hand, in time linear in the text for each ``${``: a regular expression
    with optional spaces around the name backtracked for seconds on a policy of spaces."""
    if "${" not in text:
        return text
    out: list[str] = []
    start = 0
    last_close = text.rfind("}")
    while 0 <= (opened := text.find("${", start)) < last_close:
        found = _variable_at(text, opened + 2)
        if found is None:
            out.append(text[start:opened + 2])
            start = opened + 2
            continue
        name, default, end = found
        value = _variable_value(name, default, context)
        if value is None:
            return None
        out.append(text[start:opened])
        out.append(value)
        start = end
    out.append(text[start:])
    return "".join(out)


def _variable_at(text: str, at: int) -> tuple[str, str | None, int] | None:
    """The name and default of the variable whose body starts at ``at`` (just after
    ``${``), and where the text goes on after its ``}``; ``None`` if it is malformed."""
    close = text.find("}", at)
    if close < 0:
        return None
    comma = text.find(",", at, close)
    if comma < 0:
        return text[at:close].strip(), None, close + 1
    quote = comma + 1
    while quote < len(text) and text[quote].isspace():
        quote += 1
    if quote >= len(text) or text[quote] != "'":
        return None
    chars: list[str] = []
    index = quote + 1
    while True:
        next_quote = text.find("'", index)
        if next_quote < 0:
            return None
        chars.append(text[index:next_quote])
        if text.startswith("''", next_quote):
            chars.append("'")
            index = next_quote + 2
            continue
        after = next_quote + 1
        while after < len(text) and text[after].isspace():
            after += 1
        if after >= len(text) or text[after] != "}":
            return None
        return text[at:comma].strip(), "".join(chars), after + 1


def _variable_value(name: str, default: str | None, context: Mapping[str, ContextValue]) -> str | None:
    """A variable's text: an escape, the context key's single value, else its default."""
    escape = {"*": LITERAL_STAR, "?": LITERAL_QUESTION, "$": "$"}.get(name)
    if escape is not None and default is None:
        return escape
    value = context.get(name.lower())
    if isinstance(value, (bool, int, float)):
        value = _text(value)
    if not isinstance(value, str):
        value = default
    return None if value is None else value.replace("*", LITERAL_STAR).replace("?", LITERAL_QUESTION)


def plain(text: str) -> str:
    """A substituted value with its literal ``*`` and ``?`` as themselves (for operators
    that take no wildcards)."""
    return text.replace(LITERAL_STAR, "*").replace(LITERAL_QUESTION, "?")


# -- patterns ----------------------------------------------------------------------------


@functools.lru_cache(maxsize=4096)
def glob(pattern: str) -> re.Pattern[str]:
    """``*`` (any run) and ``?`` (one character); everything else literal."""
    return re.compile(_glob_source(pattern, "."), re.DOTALL)


def _glob_source(pattern: str, one: str) -> str:
    """A wildcard pattern as a regular expression whose wildcards match ``one`` (``.``,
    or ``[^:]`` within an ARN's segment), in linear time on any value: each run between
    two ``*`` matches where it first can, in an atomic group (the way ``fnmatch`` guards
    against a policy such as ``*a*a*a*a*b`` backtracking for ever); only the last run
    may move, to end where the value ends."""
    runs = ["".join(one if c == "?" else _LITERALS.get(c) or re.escape(c) for c in run)
            for run in pattern.split("*")]
    if len(runs) == 1:
        return runs[0]
    middle = "".join(f"(?>{one}*?{run})" for run in runs[1:-1] if run)
    return f"{runs[0]}{middle}{one}*{runs[-1]}"


def string_like(pattern: str, value: str) -> bool:
    return glob(pattern).fullmatch(value) is not None


def arn_like(pattern: str, arn: str) -> bool:
    """ArnLike: each of the six ``:``-separated segments matched on its own
    (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html#Conditions_ARN)."""
    if "*" not in pattern and "?" not in pattern:
        return plain(pattern) == arn
    return _arn_regex(pattern).fullmatch(arn) is not None


@functools.lru_cache(maxsize=4096)
def _arn_regex(pattern: str) -> re.Pattern[str]:
    """An ARN pattern as one expression: in the first five segments a wildcard matches no
    ``:``; in the resource part (the rest) anything. Not an ARN: a plain wildcard match."""
    segments = pattern.split(":", 5)
    if len(segments) != 6:
        return glob(pattern)
    within = [_glob_source(s, "[^:]") for s in segments[:5]]
    return re.compile(":".join([*within, _glob_source(segments[5], ".")]), re.DOTALL)


# -- conditions --------------------------------------------------------------------------

_DECIMAL = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)")


def _number(text: str) -> float | None:
    """A decimal number (no ``nan``, ``inf`` or exponent: IAM's numbers are plain)."""
    return float(text) if len(text) < 400 and _DECIMAL.fullmatch(text.strip()) else None


def _numeric(compare: Callable[[float, float], bool]) -> Callable[[str, str], bool]:
    def test(value: str, wanted: str) -> bool:
        a, b = _number(value), _number(wanted)
        return a is not None and b is not None and compare(a, b)
    return test


def instant(text: str) -> float | None:
    """A date as the Date operators read it: ISO 8601 (``2026-12-05T20:00:00Z``, a date
    alone, an offset; without one, UTC) or seconds since the epoch
    (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html#Conditions_Date)."""
    seconds = _number(text)
    if seconds is not None:
        return seconds
    try:
        when = datetime.datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.timezone.utc)
    return when.timestamp()


def iso8601(epoch: float) -> str:
    """``aws:CurrentTime``'s form: ``2026-12-05T20:00:00Z`` (whole seconds)."""
    return datetime.datetime.fromtimestamp(int(epoch), datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _dated(compare: Callable[[float, float], bool]) -> Callable[[str, str], bool]:
    def test(value: str, wanted: str) -> bool:
        a, b = instant(value), instant(wanted)
        return a is not None and b is not None and compare(a, b)
    return test


def _ip_in(value: str, cidr: str) -> bool:
    """IpAddress: the request's address within a CIDR block (a bare address is a /32 or
    /128); IPv4 and IPv6; anything unparseable matches nothing."""
    try:
        return ipaddress.ip_address(value.strip()) in ipaddress.ip_network(cidr.strip(), strict=False)
    except ValueError:
        return False


def _binary_equals(value: str, wanted: str) -> bool:
    """BinaryEquals: both base64, compared as the bytes they encode."""
    try:
        return base64.b64decode(value, validate=True) == base64.b64decode(wanted, validate=True)
    except (binascii.Error, ValueError):
        return False


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
    "DateEquals": (_dated(lambda a, b: a == b), False),
    "DateNotEquals": (_dated(lambda a, b: a == b), True),
    "DateLessThan": (_dated(lambda a, b: a < b), False),
    "DateLessThanEquals": (_dated(lambda a, b: a <= b), False),
    "DateGreaterThan": (_dated(lambda a, b: a > b), False),
    "DateGreaterThanEquals": (_dated(lambda a, b: a >= b), False),
    "Bool": (lambda v, w: v.lower() == w.lower(), False),
    "BinaryEquals": (_binary_equals, False),
    "IpAddress": (_ip_in, False),
    "NotIpAddress": (_ip_in, True),
}
#: Operators whose policy values are patterns (``*``, ``?``): a variable's literal
#: wildcards stay literal in them; the others compare the text as it is.
_PATTERN_OPERATORS = frozenset({"StringLike", "StringNotLike", "ArnEquals", "ArnLike", "ArnNotEquals",
                                "ArnNotLike"})
SET_QUALIFIERS = ("ForAnyValue", "ForAllValues")


def known_operator(operator: str) -> bool:
    """Whether IAM knows a condition operator: one of :data:`OPERATORS` or ``Null``,
    optionally ending ``IfExists`` (not ``Null``) and prefixed ``ForAnyValue:`` /
    ``ForAllValues:``."""
    qualifier, _, name = operator.rpartition(":")
    if qualifier not in ("", *SET_QUALIFIERS):
        return False
    return name == "Null" or name.removesuffix("IfExists") in OPERATORS


def conditions_hold(block: Mapping[str, Any], context: Mapping[str, ContextValue], *,
                    variables: bool = False) -> bool:
    """Every operator of a ``Condition`` block holds (AND); an operator unknown to
    lambdalab never holds, so a statement that needs it does not apply. ``variables``:
    replace policy variables in the block's values (a ``2012-10-17`` document's)."""
    return _conditions_hold(block, {k.lower(): v for k, v in context.items()}, variables)


def _conditions_hold(block: Any, context: Mapping[str, ContextValue], variables: bool = False) -> bool:
    """:func:`conditions_hold` with the context's keys already in lower case."""
    if not isinstance(block, dict):
        return False
    return all(_operator_holds(op, keys, context, variables) for op, keys in block.items())


def _operator_holds(operator: str, keys: Any, context: Mapping[str, ContextValue], variables: bool) -> bool:
    if not isinstance(keys, dict):
        return False
    return all(_key_holds(operator, key, _wanted(operator, wanted, context, variables), context.get(key.lower()))
               for key, wanted in keys.items())


def _wanted(operator: str, values: Any, context: Mapping[str, ContextValue], variables: bool) -> list[str]:
    """A condition's policy values, variables replaced (one without a value is dropped:
    it matches nothing)."""
    wanted = _strings(values)
    if not variables:
        return wanted
    found = [v for v in (substitute(w, context) for w in wanted) if v is not None]
    patterns = operator.rpartition(":")[2].removesuffix("IfExists") in _PATTERN_OPERATORS
    return found if patterns else [plain(v) for v in found]


def _key_holds(operator: str, key: str, wanted: list[str], present: ContextValue | None) -> bool:
    """One condition key: the values of the policy are ORed, a negated operator's NORed
    (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-logic-multiple-context-keys-or-values.html)."""
    qualifier, _, name = operator.rpartition(":")
    if_exists = name.endswith("IfExists")
    name = name.removesuffix("IfExists")
    if name == "Null" and not if_exists:
        return (present is None) == (wanted[0].lower() == "true") if wanted else False
    if name not in OPERATORS or qualifier not in ("", *SET_QUALIFIERS):
        return False
    test, negated = OPERATORS[name]
    if present is None:
        # An absent key: ForAllValues holds (nothing fails), ForAnyValue does not
        # (nothing matches); IfExists holds; a negated operator holds; any other not.
        if qualifier:
            return qualifier == "ForAllValues"
        return if_exists or negated
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
           "glob", "instant", "iso8601", "known_operator", "plain", "string_like", "substitute",
           "trust_allows"]
