"""Resource-based policies: who else may invoke (or manage) a function.

``AddPermission`` appends a statement to the policy of a function, version or alias;
``RemovePermission`` takes one out by its ``StatementId``; ``GetPolicy`` returns the
whole document as a JSON string, in AWS's shape
(https://docs.aws.amazon.com/lambda/latest/dg/access-control-resource-based.html)::

    {"Version": "2012-10-17", "Id": "default", "Statement": [
        {"Sid": "s3-invoke", "Effect": "Allow",
         "Principal": {"Service": "s3.amazonaws.com"},
         "Action": "lambda:InvokeFunction",
         "Resource": "arn:aws:lambda:us-east-1:000000000000:function:thumbnail",
         "Condition": {"ArnLike": {"AWS:SourceArn": "arn:aws:s3:::photos"}}}]}

A policy has no RevisionId of its own: it shares the one of the function, version or
alias it is on, so AddPermission and RemovePermission give that resource a new one, and
their ``RevisionId`` is checked against GetFunction's (or GetAlias's), as AWS does
(https://docs.aws.amazon.com/lambda/latest/api/API_AddPermission.html). Triggers read
these policies; lambdalab records them faithfully but, like a single-account
emulator, does not evaluate IAM for its own callers.
Pure state: one row per (function, qualifier) in the store; no HTTP here.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from . import limits
from .arn import ArnBuilder
from .errors import (
    PolicyLengthExceededException,
    PreconditionFailedException,
    ResourceConflictException,
    ResourceNotFoundException,
    invalid,
)
from .registry import Registry
from .store import Store

_STATEMENT_ID = re.compile(r"^[a-zA-Z0-9_-]{1,100}$")
_ACTION = re.compile(r"^(lambda:\*|lambda:[a-zA-Z]+|\*)$")
_ACCOUNT = re.compile(r"^\d{12}$")
_ORG_ID = re.compile(r"^o-[a-z0-9]{10,32}$")
_SOURCE_ARN = re.compile(r"^arn:(aws[a-zA-Z0-9-]*):([a-zA-Z0-9-])+:([a-z0-9-]*):(\d{12})?:(.*)$")
_URL_AUTH_TYPES = ("NONE", "AWS_IAM")


@dataclass(frozen=True)
class Policy:
    """A function's (or version's, or alias's) resource-based policy."""

    statements: list[dict[str, Any]] = field(default_factory=list)
    revision_id: str = ""

    def document(self) -> dict[str, Any]:
        return {"Version": "2012-10-17", "Id": "default", "Statement": self.statements}

    def to_aws(self) -> dict[str, Any]:
        """What GetPolicy returns: the document as a JSON string, and its RevisionId."""
        return {"Policy": json.dumps(self.document()), "RevisionId": self.revision_id}


def principal_element(principal: str) -> Any:
    """AddPermission's ``Principal`` as the statement writes it.

    ``s3.amazonaws.com`` → ``{"Service": ...}``; an account id → its root ARN; ``*``
    stays ``*``; an IAM ARN → ``{"AWS": arn}``.
    """
    if principal == "*":
        return "*"
    if _ACCOUNT.match(principal):
        return {"AWS": f"arn:aws:iam::{principal}:root"}
    if principal.startswith("arn:"):
        return {"AWS": principal}
    return {"Service": principal}


def _conditions(
    source_arn: str | None,
    source_account: str | None,
    principal_org_id: str | None,
    event_source_token: str | None,
    function_url_auth_type: str | None,
) -> dict[str, dict[str, str]]:
    conditions: dict[str, dict[str, str]] = {}
    equals = {
        key: value
        for key, value in (
            ("AWS:SourceAccount", source_account),
            ("aws:PrincipalOrgID", principal_org_id),
            ("lambda:EventSourceToken", event_source_token),
            ("lambda:FunctionUrlAuthType", function_url_auth_type),
        )
        if value is not None
    }
    if equals:
        conditions["StringEquals"] = equals
    if source_arn is not None:
        conditions["ArnLike"] = {"AWS:SourceArn": source_arn}
    return conditions


def _check(
    statement_id: Any,
    action: Any,
    principal: Any,
    source_arn: Any,
    source_account: Any,
    principal_org_id: Any,
    function_url_auth_type: Any,
) -> None:
    if not isinstance(statement_id, str) or not _STATEMENT_ID.match(statement_id):
        raise invalid(
            "StatementId", statement_id, "Use 1-100 letters, digits, hyphens or underscores."
        )
    if not isinstance(action, str) or not _ACTION.match(action):
        raise invalid(
            "Action", action, "Use lambda:ACTION (e.g. lambda:InvokeFunction), lambda:* or *."
        )
    if not isinstance(principal, str) or not principal or any(c.isspace() for c in principal):
        raise invalid(
            "Principal",
            principal,
            "Use a service (s3.amazonaws.com), an account id, an IAM ARN, or *.",
        )
    if source_arn is not None and not _SOURCE_ARN.match(str(source_arn)):
        raise invalid("SourceArn", source_arn, "Use an ARN, e.g. arn:aws:s3:::my-bucket.")
    if source_account is not None and not _ACCOUNT.match(str(source_account)):
        raise invalid("SourceAccount", source_account, "Use a 12-digit account id.")
    if principal_org_id is not None and not _ORG_ID.match(str(principal_org_id)):
        raise invalid("PrincipalOrgID", principal_org_id, "Use an id like o-a1b2c3d4e5.")
    if function_url_auth_type is not None and function_url_auth_type not in _URL_AUTH_TYPES:
        raise invalid("FunctionUrlAuthType", function_url_auth_type, "Use NONE or AWS_IAM.")


def _policy(row: Any) -> Policy:
    statements = json.loads(row[0])
    if not isinstance(statements, list) or not all(
        isinstance(s, dict) and isinstance(s.get("Sid"), str) for s in statements
    ):
        raise ValueError("statements are not a list of statements with a Sid")
    return Policy(statements, row[1])


class Permissions:
    """Resource-based policies of one data dir, kept per (function, qualifier)."""

    def __init__(self, store: Store, registry: Registry, arns: ArnBuilder) -> None:
        self._store = store
        self._registry = registry
        self._arns = arns

    def _load(self, db: Any, name: str, qualifier: str) -> Policy:
        row = db.execute(
            "SELECT statements, revision_id FROM permissions WHERE function = ? AND qualifier = ?",
            (name, qualifier),
        ).fetchone()
        if row is None:
            return Policy()
        loaded = self._store.loaded(
            "permissions", {"function": name, "qualifier": qualifier}, lambda: _policy(row)
        )
        return Policy() if loaded is None else loaded  # a damaged policy grants nothing

    def _save(
        self, db: Any, name: str, qualifier: str, statements: list[dict[str, Any]], revision: str
    ) -> None:
        if not statements:
            db.execute(
                "DELETE FROM permissions WHERE function = ? AND qualifier = ?", (name, qualifier)
            )
            return
        document = json.dumps(Policy(statements).document())
        if len(document) > limits.FUNCTION_POLICY_MAX_BYTES:
            raise PolicyLengthExceededException(
                f"The final policy size ({len(document)}) is bigger than the limit "
                f"({limits.FUNCTION_POLICY_MAX_BYTES}). Remove statements you no longer need."
            )
        db.execute(
            "INSERT INTO permissions (function, qualifier, statements, revision_id) "
            "VALUES (?, ?, ?, ?) ON CONFLICT (function, qualifier) DO UPDATE SET "
            "statements = excluded.statements, revision_id = excluded.revision_id",
            (name, qualifier, json.dumps(statements), revision),
        )

    def _target(self, name: str, qualifier: str | None) -> str:
        """Check the function (and version or alias) exist; the key its policy is under."""
        self._registry.get(name, qualifier)
        return "" if qualifier in (None, limits.LATEST) else qualifier

    def _revision(self, name: str, key: str) -> str:
        """The RevisionId of what the policy under ``key`` is on, which it shares."""
        if key and not key.isdigit():
            return self._registry.get_alias(name, key).revision_id
        return self._registry.get_version(name, key or limits.LATEST).revision_id

    @staticmethod
    def _check_revision(current: str, revision_id: str | None) -> None:
        if revision_id is not None and revision_id != current:
            raise PreconditionFailedException(  # AWS's words, recorded in 2025
                "The Revision Id provided does not match the latest Revision Id. Call the "
                "GetPolicy API to retrieve the latest Revision Id"
            )

    def add(
        self,
        name: str,
        statement_id: str,
        action: str,
        principal: str,
        *,
        qualifier: str | None = None,
        source_arn: str | None = None,
        source_account: str | None = None,
        principal_org_id: str | None = None,
        event_source_token: str | None = None,
        function_url_auth_type: str | None = None,
        revision_id: str | None = None,
    ) -> dict[str, Any]:
        """Append a statement; a StatementId already in the policy is a conflict."""
        _check(statement_id, action, principal, source_arn, source_account,
               principal_org_id, function_url_auth_type)
        key = self._target(name, qualifier)
        statement: dict[str, Any] = {
            "Sid": statement_id,
            "Effect": "Allow",
            "Principal": principal_element(principal),
            "Action": action,
            "Resource": self._arns.function(name, key or None),
        }
        condition = _conditions(source_arn, source_account, principal_org_id,
                                event_source_token, function_url_auth_type)
        if condition:
            statement["Condition"] = condition
        with self._store.transaction() as db:
            policy = self._load(db, name, key)
            old, new = self._registry.revise(db, name, key)
            self._check_revision(old, revision_id)
            if any(s["Sid"] == statement_id for s in policy.statements):
                raise ResourceConflictException(
                    f"The statement id ({statement_id}) provided already exists. Please "
                    "provide a new statement id, or remove the existing statement."
                )
            self._save(db, name, key, [*policy.statements, statement], new)
        self._registry.changed()
        return statement

    def remove(
        self,
        name: str,
        statement_id: str,
        *,
        qualifier: str | None = None,
        revision_id: str | None = None,
    ) -> None:
        key = self._target(name, qualifier)
        with self._store.transaction() as db:
            policy = self._load(db, name, key)
            if not policy.statements:
                raise ResourceNotFoundException("No policy is associated with the given resource.")
            old, new = self._registry.revise(db, name, key)
            self._check_revision(old, revision_id)
            kept = [s for s in policy.statements if s["Sid"] != statement_id]
            if len(kept) == len(policy.statements):
                raise ResourceNotFoundException(
                    f"Statement {statement_id} is not found in resource policy."
                )
            self._save(db, name, key, kept, new)
        self._registry.changed()

    def get(self, name: str, qualifier: str | None = None) -> Policy:
        key = self._target(name, qualifier)
        with self._store.transaction() as db:
            policy = self._load(db, name, key)
        if not policy.statements:
            raise ResourceNotFoundException(
                "The resource you requested does not exist. "
                f"{self._arns.function(name, key or None)} has no resource-based policy; "
                "add a statement with AddPermission."
            )
        return Policy(policy.statements, self._revision(name, key))

    def document_of(self, name: str, qualifier: str | None = None) -> dict[str, Any] | None:
        """The policy document a request to ``name`` (and ``qualifier``) is authorised
        against, ``None`` when there is none or no such function. The same object until
        the registry changes (its reads' cache, dropped on every write): an enforcing lab
        asks on every invoke. Do not change it."""
        key = "" if qualifier in (None, limits.LATEST) else qualifier
        # ":" is in no function name, so no key of the registry's own is this one
        return self._registry.cached((f"permissions:{name}", key), lambda: self._read(name, key))

    def _read(self, name: str, key: str) -> dict[str, Any] | None:
        with self._store.transaction() as db:
            policy = self._load(db, name, key)
        return policy.document() if policy.statements else None

    def forget(self, name: str, qualifier: str) -> None:
        """Drop the policy of a deleted version or alias (a function's go with it)."""
        with self._store.transaction() as db:
            db.execute(
                "DELETE FROM permissions WHERE function = ? AND qualifier = ?", (name, qualifier)
            )


__all__ = ["Permissions", "Policy", "principal_element"]
