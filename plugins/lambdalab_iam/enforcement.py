"""IAM's users and role sessions as principals of an enforcing lab.

The hook ``lambdalab_principal`` asks, on every request of a lab with
``enforce_iam=True`` (``docs/reference/iam-enforcement.rst``), who a key stands for. The
answer comes from :mod:`.identities` and is kept until the data dir next commits (a new
policy, a deleted key: SQLite's ``data_version``, which counts this process's commits
too) or, for a role session, until its keys expire on the lab's clock. The policy
documents of a kept answer are the same objects, so the evaluator compiles each once.
"""

from __future__ import annotations

import json
import weakref
from dataclasses import dataclass
from typing import Any

import lambdalab
from lambdalab import Lab
from lambdalab.plugin import Principal, StashKey

from .identities import identity_for_key, policies_of


@dataclass(frozen=True)
class Known:
    """A key's principal, good until ``expires`` (lab's clock) if nothing commits."""

    principal: Principal
    expires: float


class Principals:
    """The principals of one lab's keys, kept while the data dir is unchanged."""

    def __init__(self, lab: Lab) -> None:
        self.lab = lab
        self.version = -1
        self.known: dict[str, Known] = {}
        #: Parsed documents by their text: one object per distinct document.
        self.documents: dict[str, dict[str, Any]] = {}

    def of(self, access_key_id: str) -> Principal | None:
        version = self.lab.store.data_version()
        if version != self.version:  # something committed: read everything afresh
            self.known, self.documents, self.version = {}, {}, version
        kept = self.known.get(access_key_id)
        if kept is not None and self.lab.clock.now() < kept.expires:
            return kept.principal
        principal, expires = self._read(access_key_id)
        if principal is not None:
            self.known[access_key_id] = Known(principal, expires)
        return principal

    def _read(self, access_key_id: str) -> tuple[Principal | None, float]:
        from . import iam

        identity = identity_for_key(self.lab, access_key_id)
        if identity is None:
            return None, 0.0
        session = iam(self.lab).session(access_key_id) if identity.role_arn else None
        policies = tuple(self._same(d) for d in policies_of(self.lab, identity.arn))
        principal = Principal(identity.arn, identity.account, policies, identity.type, identity.user_id)
        return principal, session.expires if session else float("inf")

    def _same(self, document: dict[str, Any]) -> dict[str, Any]:
        return self.documents.setdefault(json.dumps(document, sort_keys=True), document)


PRINCIPALS = StashKey[Principals]()


@lambdalab.hookimpl
def lambdalab_principal(lab: Lab, access_key_id: str) -> Principal | None:
    # A proxy: the stash must not keep the lab alive.
    return lab.stash.setdefault(PRINCIPALS, lambda: Principals(weakref.proxy(lab))).of(access_key_id)


__all__ = ["Principals", "lambdalab_principal"]
