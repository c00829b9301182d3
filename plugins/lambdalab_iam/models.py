"""IAM's state: roles, users, customer managed policies and access keys, in the lab's
database; AWS managed policies from :file:`managed_policies.json`.

Each entity is a dataclass kept as one JSON row (``iam_entities``, keyed by kind and
name); STS's temporary credentials are rows of ``iam_sessions`` with their expiry on the
lab's clock, so a reopened data dir still knows every key it handed out. Records render
themselves in AWS's field names (:meth:`Role.to_aws`); the wire layer is
:mod:`.responses`.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import secrets
import sqlite3
import string
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterator, TypeAlias, TypeVar
from urllib.parse import quote

from lambdalab import Lab
from lambdalab.plugin import Database, change_counter
from lambdalab.plugin import Principal as Caller

from . import grammar, quotas
from .cache import Answers
from .exceptions import DeleteConflict, EntityAlreadyExists, InvalidInput, LimitExceeded, NoSuchEntity

MIGRATIONS: dict[str, str] = {
    "iam-1": """
    CREATE TABLE iam_entities (
        kind TEXT NOT NULL,
        name TEXT NOT NULL,
        record TEXT NOT NULL,
        PRIMARY KEY (kind, name)
    );
    CREATE TABLE iam_sessions (
        access_key_id TEXT PRIMARY KEY,
        expires REAL NOT NULL,
        record TEXT NOT NULL
    );
    CREATE INDEX iam_sessions_by_expiry ON iam_sessions (expires);
    """,
    # Commits to IAM's tables, counted: the plugin's read cache outlives other commits.
    "iam-changes-1": change_counter("iam_changes", ("iam_entities", "iam_sessions")),
}

#: Unique id prefixes (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_identifiers.html#identifiers-prefixes).
ROLE_ID_PREFIX = "AROA"
USER_ID_PREFIX = "AIDA"
GROUP_ID_PREFIX = "AGPA"
POLICY_ID_PREFIX = "ANPA"
ACCESS_KEY_PREFIX = "AKIA"
TEMPORARY_KEY_PREFIX = "ASIA"
_ID_ALPHABET = string.ascii_uppercase + "234567"
_SECRET_ALPHABET = string.ascii_letters + string.digits + "+/"

MANAGED_POLICIES_FILE = Path(__file__).with_name("managed_policies.json")


def new_id(prefix: str, length: int = 17) -> str:
    return prefix + "".join(secrets.choice(_ID_ALPHABET) for _ in range(length))


def stable_id(prefix: str, seed: str) -> str:
    """An id that is the same in every lab (AWS managed policies have one id everywhere)."""
    digest = base64.b32encode(hashlib.sha256(seed.encode()).digest()).decode()
    return prefix + digest[:17]


def new_secret(length: int = 40) -> str:
    return "".join(secrets.choice(_SECRET_ALPHABET) for _ in range(length))


def encoded(document: str) -> str:
    """A policy document as IAM answers it: URL-encoded (RFC 3986); SDKs decode it."""
    return quote(document, safe="")


# -- records ------------------------------------------------------------------------------


@dataclass
class Principal:
    """What roles and users share: attached managed policies and inline policies."""

    attached: list[str] = field(default_factory=list)
    inline: dict[str, str] = field(default_factory=dict)
    #: The managed policy set as the permissions boundary (roles and users), or ``None``
    #: (https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_boundaries.html).
    boundary: str | None = None

    def boundary_aws(self) -> dict[str, Any]:
        """GetRole's / GetUser's ``PermissionsBoundary``, when one is set."""
        if self.boundary is None:
            return {}
        return {"PermissionsBoundary": {"PermissionsBoundaryType": "PermissionsBoundaryPolicy",
                                        "PermissionsBoundaryArn": self.boundary}}

    def attached_aws(self, policies: "dict[str, ManagedPolicy]") -> list[dict[str, str]]:
        return [{"PolicyName": policies[arn].name if arn in policies else arn.rsplit("/", 1)[-1],
                 "PolicyArn": arn} for arn in self.attached]


@dataclass
class Role(Principal):
    name: str = ""
    path: str = "/"
    role_id: str = ""
    arn: str = ""
    created: float = 0.0
    trust: str = ""
    description: str | None = None
    max_session: int = quotas.MAX_SESSION_DURATION_DEFAULT_S
    tags: list[dict[str, str]] = field(default_factory=list)

    def to_aws(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "Path": self.path, "RoleName": self.name, "RoleId": self.role_id, "Arn": self.arn,
            "CreateDate": self.created, "AssumeRolePolicyDocument": encoded(self.trust),
            "MaxSessionDuration": self.max_session, "RoleLastUsed": {}, **self.boundary_aws()}
        if self.description is not None:
            out["Description"] = self.description
        if self.tags:
            out["Tags"] = self.tags
        return out


@dataclass
class User(Principal):
    name: str = ""
    path: str = "/"
    user_id: str = ""
    arn: str = ""
    created: float = 0.0
    tags: list[dict[str, str]] = field(default_factory=list)

    def to_aws(self) -> dict[str, Any]:
        out: dict[str, Any] = {"Path": self.path, "UserName": self.name, "UserId": self.user_id,
                               "Arn": self.arn, "CreateDate": self.created, **self.boundary_aws()}
        if self.tags:
            out["Tags"] = self.tags
        return out


@dataclass
class Group(Principal):
    name: str = ""
    path: str = "/"
    group_id: str = ""
    arn: str = ""
    created: float = 0.0
    #: Its users, by name.
    members: list[str] = field(default_factory=list)

    def to_aws(self) -> dict[str, Any]:
        return {"Path": self.path, "GroupName": self.name, "GroupId": self.group_id,
                "Arn": self.arn, "CreateDate": self.created}


@dataclass
class ManagedPolicy:
    """A managed policy and its versions (``v1``, ``v2``…), one of them the default
    (https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_managed-versioning.html)."""

    name: str
    path: str
    policy_id: str
    arn: str
    created: float
    #: Version id → ``{"Document": text, "CreateDate": epoch}``.
    versions: dict[str, dict[str, Any]]
    default_version: str = "v1"
    next_version: int = 2
    updated: float = 0.0
    description: str | None = None
    tags: list[dict[str, str]] = field(default_factory=list)

    @property
    def aws_managed(self) -> bool:
        return self.arn.startswith(f"arn:aws:iam::{quotas.AWS_MANAGED_ACCOUNT}:")

    @property
    def document(self) -> str:
        """The default version's document: the one that grants."""
        text: str = self.versions[self.default_version]["Document"]
        return text

    def to_aws(self, attachments: int, boundary_uses: int = 0) -> dict[str, Any]:
        out: dict[str, Any] = {
            "PolicyName": self.name, "PolicyId": self.policy_id, "Arn": self.arn,
            "Path": self.path, "DefaultVersionId": self.default_version,
            "AttachmentCount": attachments, "PermissionsBoundaryUsageCount": boundary_uses,
            "IsAttachable": True, "CreateDate": self.created,
            "UpdateDate": self.updated or self.created}
        if self.description is not None:
            out["Description"] = self.description
        if self.tags:
            out["Tags"] = self.tags
        return out

    def version_aws(self, version_id: str, *, with_document: bool = True) -> dict[str, Any]:
        version = self.versions[version_id]
        out: dict[str, Any] = {"VersionId": version_id, "IsDefaultVersion": version_id == self.default_version,
                               "CreateDate": version["CreateDate"]}
        if with_document:
            out["Document"] = encoded(version["Document"])
        return out


@dataclass
class AccessKey:
    access_key_id: str
    secret: str
    user: str
    created: float
    status: str = "Active"

    def metadata_aws(self) -> dict[str, Any]:
        return {"UserName": self.user, "AccessKeyId": self.access_key_id, "Status": self.status,
                "CreateDate": self.created}


@dataclass
class Session:
    """Temporary credentials of an assumed role (STS's AssumeRole)."""

    access_key_id: str
    secret: str
    token: str
    role_arn: str
    role_id: str
    session_name: str
    expires: float
    #: AssumeRole's inline session policy (``Policy``) and managed ones (``PolicyArns``);
    #: with neither, the session has the role's permissions uncapped.
    policy: str | None = None
    policy_arns: list[str] = field(default_factory=list)
    #: AssumeRole's session tags (``aws:PrincipalTag/KEY``; over the role's own tags).
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def capped(self) -> bool:
        return self.policy is not None or bool(self.policy_arns)

    @property
    def arn(self) -> str:
        account, role_name = self.role_arn.split(":")[4], self.role_arn.rsplit("/", 1)[-1]
        return f"arn:aws:sts::{account}:assumed-role/{role_name}/{self.session_name}"

    @property
    def user_id(self) -> str:
        return f"{self.role_id}:{self.session_name}"


R = TypeVar("R", Role, User, Group, ManagedPolicy, AccessKey)
KINDS: dict[type, str] = {Role: "role", User: "user", Group: "group", ManagedPolicy: "policy",
                          AccessKey: "key"}
#: What managed and inline policies attach to, and its class.
Holder: TypeAlias = Role | User | Group
HolderKind: TypeAlias = type[Role] | type[User] | type[Group]
#: The inline policies of one holder: at most this many characters together.
INLINE_MAX_CHARS: dict[type, int] = {Role: quotas.ROLE_INLINE_POLICIES_MAX_CHARS,
                                     User: quotas.USER_INLINE_POLICIES_MAX_CHARS,
                                     Group: quotas.GROUP_INLINE_POLICIES_MAX_CHARS}


def aws_managed_policies() -> dict[str, ManagedPolicy]:
    """AWS's managed policies lambdalab knows, by ARN."""
    found = {}
    for p in json.loads(MANAGED_POLICIES_FILE.read_text())["policies"]:
        arn = f"arn:aws:iam::{quotas.AWS_MANAGED_ACCOUNT}:policy{p['Path']}{p['PolicyName']}"
        versions = {p["VersionId"]: {"Document": json.dumps(p["Document"]), "CreateDate": 0.0}}
        found[arn] = ManagedPolicy(p["PolicyName"], p["Path"], stable_id(POLICY_ID_PREFIX, arn), arn, 0.0,
                                   versions, p["VersionId"], description=p["Description"])
    return found


# -- the store ----------------------------------------------------------------------------


class Entities:
    """Rows of ``iam_entities``, each a record."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def get(self, cls: type[R], name: str) -> R | None:
        rows = self.db.query("SELECT record FROM iam_entities WHERE kind = ? AND name = ?",
                             (KINDS[cls], name))
        return cls(**json.loads(rows[0]["record"])) if rows else None

    def all(self, cls: type[R]) -> list[R]:
        rows = self.db.query("SELECT name, record FROM iam_entities WHERE kind = ? ORDER BY name",
                             (KINDS[cls],))
        return self.db.loaded_rows("iam_entities", rows, lambda r: {"kind": KINDS[cls], "name": r["name"]},
                                   lambda r: cls(**json.loads(r["record"])))

    def put(self, db: Any, key: str, record: Holder | ManagedPolicy | AccessKey) -> None:
        db.execute("INSERT OR REPLACE INTO iam_entities (kind, name, record) VALUES (?, ?, ?)",
                   (KINDS[type(record)], key, json.dumps(asdict(record))))

    def insert(self, db: Any, key: str, record: Holder | ManagedPolicy | AccessKey,
               what: str) -> None:
        exists = db.execute("SELECT 1 FROM iam_entities WHERE kind = ? AND name = ?",
                            (KINDS[type(record)], key)).fetchone()
        if exists:
            raise EntityAlreadyExists(f"{what} with name {key.rsplit('/', 1)[-1]} already exists.")
        self.put(db, key, record)

    def delete(self, db: Any, cls: type, key: str) -> None:
        db.execute("DELETE FROM iam_entities WHERE kind = ? AND name = ?", (KINDS[cls], key))


class Iam:
    """The IAM of one lab: what :mod:`.responses` and :mod:`.identities` call."""

    def __init__(self, lab: Lab) -> None:
        self.lab = lab
        self.account = lab.arns.account_id
        self.entities = Entities(lab.store)
        self.aws_policies = aws_managed_policies()
        self.answers = Answers(lab.store, counter="iam_changes")

    def now(self) -> float:
        return self.lab.clock.now()

    @contextlib.contextmanager
    def writing(self) -> Iterator[sqlite3.Connection]:
        """A write transaction of IAM's tables; cached answers are dropped after it."""
        try:
            with self.lab.store.transaction() as db:
                yield db
        finally:
            self.answers.drop()

    # -- roles ----------------------------------------------------------------------------

    def role(self, name: str) -> Role:
        found = self.entities.get(Role, name)
        if found is None:
            raise NoSuchEntity(f"The role with name {name} cannot be found.")
        return found

    def has_roles(self) -> bool:
        return bool(self.lab.store.query("SELECT 1 FROM iam_entities WHERE kind = ? LIMIT 1",
                                         (KINDS[Role],)))

    def role_by_arn(self, arn: str) -> Role | None:
        name = arn.rsplit("/", 1)[-1]
        found = self.entities.get(Role, name) if arn.startswith(f"arn:aws:iam::{self.account}:role/") else None
        return found if found is not None and found.arn == arn else None

    def create_role(self, name: str, trust: str, path: str, description: str | None,
                    max_session: int | None, tags: list[dict[str, str]], boundary: str | None = None) -> Role:
        grammar.parsed(trust, trust=True, max_chars=quotas.TRUST_POLICY_MAX_CHARS,
                       quota="ACLSizePerRole")
        role = Role(name=name, path=path, role_id=new_id(ROLE_ID_PREFIX),
                    arn=f"arn:aws:iam::{self.account}:role{path}{name}", created=self.now(),
                    trust=trust, description=description,
                    max_session=max_session or quotas.MAX_SESSION_DURATION_DEFAULT_S, tags=tags,
                    boundary=self._boundary_policy(boundary))
        with self.writing() as db:
            self.entities.insert(db, name, role, "Role")
        return role

    def update_role(self, name: str, **changes: Any) -> Role:
        if "trust" in changes:
            grammar.parsed(changes["trust"], trust=True, max_chars=quotas.TRUST_POLICY_MAX_CHARS,
                           quota="ACLSizePerRole")
        with self.writing() as db:
            role = self.role(name)
            for key, value in changes.items():
                setattr(role, key, value)
            self.entities.put(db, name, role)
        return role

    def delete_role(self, name: str) -> None:
        with self.writing() as db:
            role = self.role(name)
            if role.attached or role.inline:
                raise DeleteConflict("Cannot delete entity, must detach all policies first."
                                     if role.attached else
                                     "Cannot delete entity, must delete policies first.")
            self.entities.delete(db, Role, name)

    # -- users and access keys -----------------------------------------------------------

    def user(self, name: str) -> User:
        found = self.entities.get(User, name)
        if found is None:
            raise NoSuchEntity(f"The user with name {name} cannot be found.")
        return found

    def create_user(self, name: str, path: str, tags: list[dict[str, str]], boundary: str | None = None) -> User:
        user = User(name=name, path=path, user_id=new_id(USER_ID_PREFIX),
                    arn=f"arn:aws:iam::{self.account}:user{path}{name}", created=self.now(), tags=tags,
                    boundary=self._boundary_policy(boundary))
        with self.writing() as db:
            self.entities.insert(db, name, user, "User")
        return user

    def delete_user(self, name: str) -> None:
        with self.writing() as db:
            user = self.user(name)
            if user.attached or user.inline or self.keys_of(name) or self.groups_of(name):
                raise DeleteConflict("Cannot delete entity, must delete access keys and policies "
                                     "and remove the user from its groups first.")
            self.entities.delete(db, User, name)

    def keys_of(self, user: str) -> list[AccessKey]:
        return [k for k in self.entities.all(AccessKey) if k.user == user]

    def create_access_key(self, user: str) -> AccessKey:
        with self.writing() as db:
            self.user(user)
            if len(self.keys_of(user)) >= quotas.ACCESS_KEYS_PER_USER:
                raise LimitExceeded(f"Cannot exceed quota for AccessKeysPerUser: "
                                    f"{quotas.ACCESS_KEYS_PER_USER}")
            key = AccessKey(new_id(ACCESS_KEY_PREFIX, 16), new_secret(), user, self.now())
            self.entities.put(db, key.access_key_id, key)
        return key

    def access_key(self, user: str, key_id: str) -> AccessKey:
        key = self.entities.get(AccessKey, key_id)
        if key is None or key.user != user:
            raise NoSuchEntity(f"The Access Key with id {key_id} cannot be found.")
        return key

    def update_access_key(self, user: str, key_id: str, status: str) -> None:
        with self.writing() as db:
            key = self.access_key(user, key_id)
            key.status = status
            self.entities.put(db, key_id, key)

    def delete_access_key(self, user: str, key_id: str) -> None:
        with self.writing() as db:
            self.access_key(user, key_id)
            self.entities.delete(db, AccessKey, key_id)

    # -- groups -------------------------------------------------------------------------

    def group(self, name: str) -> Group:
        found = self.entities.get(Group, name)
        if found is None:
            raise NoSuchEntity(f"The group with name {name} cannot be found.")
        return found

    def create_group(self, name: str, path: str) -> Group:
        group = Group(name=name, path=path, group_id=new_id(GROUP_ID_PREFIX),
                      arn=f"arn:aws:iam::{self.account}:group{path}{name}", created=self.now())
        with self.writing() as db:
            self.entities.insert(db, name, group, "Group")
        return group

    def delete_group(self, name: str) -> None:
        with self.writing() as db:
            group = self.group(name)
            if group.members:
                raise DeleteConflict("Cannot delete entity, must remove users from group first.")
            if group.attached or group.inline:
                raise DeleteConflict("Cannot delete entity, must delete policies first.")
            self.entities.delete(db, Group, name)

    def add_user_to_group(self, group_name: str, user: str) -> None:
        with self.writing() as db:
            group = self.group(group_name)
            self.user(user)
            if user not in group.members:
                group.members.append(user)
                self.entities.put(db, group_name, group)

    def remove_user_from_group(self, group_name: str, user: str) -> None:
        with self.writing() as db:
            group = self.group(group_name)
            self.user(user)
            if user not in group.members:
                raise NoSuchEntity(f"User {user} is not in group {group_name}.")
            group.members.remove(user)
            self.entities.put(db, group_name, group)

    def groups_of(self, user: str) -> list[Group]:
        return [g for g in self.entities.all(Group) if user in g.members]

    # -- managed policies ----------------------------------------------------------------

    def policies(self) -> dict[str, ManagedPolicy]:
        """Every managed policy, AWS's then the account's, by ARN."""
        return {**self.aws_policies, **{p.arn: p for p in self.entities.all(ManagedPolicy)}}

    def policy(self, arn: str) -> ManagedPolicy:
        found = self.aws_policies.get(arn) or self.entities.get(ManagedPolicy, arn)
        if found is None:
            if not arn.startswith("arn:aws:iam::") or ":policy/" not in arn:
                raise InvalidInput(f"ARN {arn} is not valid.")
            raise NoSuchEntity(f"Policy {arn} does not exist or is not attachable.")
        return found

    def create_policy(self, name: str, path: str, document: str, description: str | None,
                      tags: list[dict[str, str]]) -> ManagedPolicy:
        grammar.parsed(document, trust=False, max_chars=quotas.MANAGED_POLICY_MAX_CHARS,
                       quota="PolicySize")
        arn = f"arn:aws:iam::{self.account}:policy{path}{name}"
        policy = ManagedPolicy(name, path, new_id(POLICY_ID_PREFIX), arn, self.now(),
                               {"v1": {"Document": document, "CreateDate": self.now()}},
                               description=description, tags=tags)
        with self.writing() as db:
            if any(p.name == name for p in self.entities.all(ManagedPolicy)):
                raise EntityAlreadyExists(f"A policy called {name} already exists. Duplicate "
                                          "names are not allowed.")
            self.entities.insert(db, arn, policy, "Policy")
        return policy

    def attachments(self, arn: str) -> int:
        holders: list[Holder] = [*self.entities.all(Role), *self.entities.all(User),
                                 *self.entities.all(Group)]
        return sum(arn in h.attached for h in holders)

    def boundary_uses(self, arn: str) -> int:
        """How many roles and users have the policy as their permissions boundary."""
        holders: list[Role | User] = [*self.entities.all(Role), *self.entities.all(User)]
        return sum(h.boundary == arn for h in holders)

    def delete_policy(self, arn: str) -> None:
        with self.writing() as db:
            policy = self.policy(arn)
            if policy.aws_managed:
                raise InvalidInput(f"Cannot delete AWS managed policy {arn}.")
            if self.attachments(arn) or self.boundary_uses(arn):
                raise DeleteConflict("Cannot delete a policy attached to entities.")
            if len(policy.versions) > 1:
                raise DeleteConflict("This policy has more than one version. Before you delete a "
                                     "policy, you must delete the policy's versions. The default "
                                     "version is deleted with the policy.")
            self.entities.delete(db, ManagedPolicy, arn)

    def version(self, arn: str, version_id: str) -> ManagedPolicy:
        """The policy, once it is known to have ``version_id``."""
        policy = self.policy(arn)
        if version_id not in policy.versions:
            raise NoSuchEntity(f"Policy {arn} version {version_id} does not exist or is not "
                               "attachable.")
        return policy

    def _customer_policy(self, arn: str) -> ManagedPolicy:
        policy = self.policy(arn)
        if policy.aws_managed:
            raise InvalidInput(f"AWS managed policy {arn} cannot be changed.")
        return policy

    def create_policy_version(self, arn: str, document: str, set_as_default: bool) -> tuple[ManagedPolicy, str]:
        grammar.parsed(document, trust=False, max_chars=quotas.MANAGED_POLICY_MAX_CHARS,
                       quota="PolicySize")
        with self.writing() as db:
            policy = self._customer_policy(arn)
            if len(policy.versions) >= quotas.POLICY_VERSIONS_MAX:
                raise LimitExceeded(f"A managed policy can have up to {quotas.POLICY_VERSIONS_MAX} "
                                    "versions. Before you create a new version, you must delete an "
                                    "existing version.")
            version_id = f"v{policy.next_version}"
            policy.versions[version_id] = {"Document": document, "CreateDate": self.now()}
            policy.next_version += 1
            if set_as_default:
                policy.default_version, policy.updated = version_id, self.now()
            self.entities.put(db, arn, policy)
        return policy, version_id

    def set_default_policy_version(self, arn: str, version_id: str) -> None:
        with self.writing() as db:
            policy = self._customer_policy(arn)
            self.version(arn, version_id)
            policy.default_version, policy.updated = version_id, self.now()
            self.entities.put(db, arn, policy)

    def delete_policy_version(self, arn: str, version_id: str) -> None:
        with self.writing() as db:
            policy = self._customer_policy(arn)
            self.version(arn, version_id)
            if version_id == policy.default_version:
                raise DeleteConflict("Cannot delete the default version of a policy.")
            del policy.versions[version_id]
            self.entities.put(db, arn, policy)

    # -- attaching and inline policies (roles and users alike) ---------------------------

    def _principal(self, kind: HolderKind, name: str) -> Holder:
        if kind is Role:
            return self.role(name)
        return self.user(name) if kind is User else self.group(name)

    def attach(self, kind: HolderKind, name: str, arn: str) -> None:
        with self.writing() as db:
            principal = self._principal(kind, name)
            self.policy(arn)
            if arn in principal.attached:
                return
            if len(principal.attached) >= quotas.ATTACHED_POLICIES_MAX:
                raise LimitExceeded(f"Cannot exceed quota for PoliciesPer{kind.__name__}: "
                                    f"{quotas.ATTACHED_POLICIES_MAX}")
            principal.attached.append(arn)
            self.entities.put(db, name, principal)

    def detach(self, kind: HolderKind, name: str, arn: str) -> None:
        with self.writing() as db:
            principal = self._principal(kind, name)
            if arn not in principal.attached:
                raise NoSuchEntity(f"Policy {arn} was not found.")
            principal.attached.remove(arn)
            self.entities.put(db, name, principal)

    def _boundary_policy(self, arn: str | None) -> str | None:
        """A permissions boundary's ARN once its managed policy is known to exist."""
        if arn is not None and arn not in self.policies():
            raise NoSuchEntity(f"Scope ARN: {arn} does not exist or is not attachable.")
        return arn

    def set_boundary(self, kind: type[Role] | type[User], name: str, arn: str | None) -> None:
        """Put (an ARN) or delete (``None``) a role's or user's permissions boundary."""
        with self.writing() as db:
            principal = self._principal(kind, name)
            principal.boundary = self._boundary_policy(arn)
            self.entities.put(db, name, principal)

    def put_inline(self, kind: HolderKind, name: str, policy_name: str,
                   document: str) -> None:
        limit = INLINE_MAX_CHARS[kind]
        with self.writing() as db:
            principal = self._principal(kind, name)
            others = sum(len(d) for n, d in principal.inline.items() if n != policy_name)
            grammar.parsed(document, trust=False, max_chars=limit - others,
                           quota=f"{kind.__name__}PolicySize")
            principal.inline[policy_name] = document
            self.entities.put(db, name, principal)

    def inline(self, kind: HolderKind, name: str, policy_name: str) -> str:
        document = self._principal(kind, name).inline.get(policy_name)
        if document is None:
            raise NoSuchEntity(f"The {kind.__name__.lower()} policy with name {policy_name} "
                               "cannot be found.")
        return document

    def delete_inline(self, kind: HolderKind, name: str, policy_name: str) -> None:
        with self.writing() as db:
            principal = self._principal(kind, name)
            if principal.inline.pop(policy_name, None) is None:
                raise NoSuchEntity(f"The {kind.__name__.lower()} policy with name {policy_name} "
                                   "cannot be found.")
            self.entities.put(db, name, principal)

    # -- STS's temporary credentials ------------------------------------------------------

    def new_session(self, role: Role, session_name: str, duration: int, policy: str | None = None,
                    policy_arns: list[str] | None = None, tags: dict[str, str] | None = None) -> Session:
        """A session of ``role``; ``policy`` / ``policy_arns``: its session policies,
        checked as IAM checks a policy (``MalformedPolicyDocument``); ``tags``: its
        session tags."""
        if policy is not None:
            grammar.parsed(policy, trust=False, max_chars=quotas.SESSION_POLICY_MAX_CHARS,
                           quota="SessionPolicySize")
        for arn in policy_arns or []:
            self.policy(arn)
        session = Session(new_id(TEMPORARY_KEY_PREFIX, 16), new_secret(),
                          "IQoJb3JpZ2luX2VjE" + new_secret(200), role.arn, role.role_id,
                          session_name, self.now() + duration, policy, list(policy_arns or []),
                          dict(tags or {}))
        with self.writing() as db:
            db.execute("DELETE FROM iam_sessions WHERE expires <= ?",
                       (self.now() - quotas.EXPIRED_SESSION_KEPT_S,))
            db.execute("INSERT INTO iam_sessions (access_key_id, expires, record) VALUES (?, ?, ?)",
                       (session.access_key_id, session.expires, json.dumps(asdict(session))))
        return session

    def session(self, access_key_id: str, *, expired: bool = False) -> Session | None:
        """The session of a temporary key while unexpired on the lab's clock (or, with
        ``expired``, also after), else ``None``."""
        rows = self.lab.store.query(
            "SELECT record FROM iam_sessions WHERE access_key_id = ? AND expires > ?",
            (access_key_id, float("-inf") if expired else self.now()))
        return Session(**json.loads(rows[0]["record"])) if rows else None

    # -- for identities.py ----------------------------------------------------------------

    def identity_for_key(self, access_key_id: str) -> Any:
        identity, expires = self.answers.get(("key", access_key_id),
                                             lambda: self._identity_for_key(access_key_id))
        return identity if self.now() < expires else None

    def principal_for_key(self, access_key_id: str) -> Caller | None:
        """What enforcement asks on every request: the key's principal with its policies,
        kept as one answer (until IAM changes) so that a request costs one look-up."""
        principal, expires = self.answers.get(("principal", access_key_id),
                                              lambda: self._principal_for_key(access_key_id))
        return principal if self.now() < expires else None  # type: ignore[no-any-return]

    def _principal_for_key(self, access_key_id: str) -> tuple[Caller | None, float]:
        identity, expires = self._identity_for_key(access_key_id)
        if identity is None:
            return None, expires
        holder = self.principal_by_arn(identity.arn)
        tags = {t["Key"]: t["Value"] for t in holder.tags} if holder else {}
        session = self.session(access_key_id) if access_key_id.startswith(TEMPORARY_KEY_PREFIX) else None
        if session is not None:
            tags.update(session.tags)  # a session tag wins over the role's tag of that key
        # A boundary whose policy is gone allows nothing, rather than nothing capping.
        boundary = (self._document(holder.boundary) or {}) if holder and holder.boundary else None
        return Caller(identity.arn, identity.account, tuple(self.policies_of(identity.arn)), identity.type,
                      identity.user_id, tags, boundary, self._session_policies(session)), expires

    def boundary_of(self, role_arn: str) -> dict[str, Any] | None:
        """A role's permissions boundary, parsed (``{}``, allowing nothing, when its policy
        is gone); ``None`` when it has none or there is no such role."""
        def load() -> dict[str, Any] | None:
            role = self.role_by_arn(role_arn)
            if role is None or role.boundary is None:
                return None
            return self._document(role.boundary) or {}
        found: dict[str, Any] | None = self.answers.get(("boundary", role_arn), load)
        return found

    def _document(self, arn: str) -> dict[str, Any] | None:
        """A managed policy's default document, parsed; ``None`` when it is gone."""
        known = self.policies()
        return json.loads(known[arn].document) if arn in known else None

    def _session_policies(self, session: Session | None) -> tuple[dict[str, Any], ...] | None:
        if session is None or not session.capped:
            return None
        documents = [self._document(arn) for arn in session.policy_arns]
        if session.policy is not None:
            documents.append(json.loads(session.policy))
        return tuple(d for d in documents if d is not None)

    def _identity_for_key(self, access_key_id: str) -> tuple[Any, float]:
        """The key's identity and when it stops being one (on the lab's clock)."""
        from .identities import ASSUMED_ROLE, USER, Identity

        if access_key_id.startswith(TEMPORARY_KEY_PREFIX):
            session = self.session(access_key_id)
            if session is None:
                return None, float("inf")
            return Identity(session.arn, ASSUMED_ROLE, self.account, session.user_id,
                            session.role_arn, access_key_id), session.expires
        key = self.entities.get(AccessKey, access_key_id)
        user = self.entities.get(User, key.user) if key and key.status == "Active" else None
        if user is None:
            return None, float("inf")
        return Identity(user.arn, USER, self.account, user.user_id, None, access_key_id), float("inf")

    def principal_by_arn(self, arn: str) -> Role | User | None:
        if ":assumed-role/" in arn:
            role_name = arn.split(":assumed-role/", 1)[1].split("/", 1)[0]
            return self.entities.get(Role, role_name)
        if f":{self.account}:user/" in arn:
            user = self.entities.get(User, arn.rsplit("/", 1)[-1])
            return user if user is not None and user.arn == arn else None
        return self.role_by_arn(arn)

    def policies_of(self, principal_arn: str) -> list[dict[str, Any]]:
        documents: list[dict[str, Any]] = self.answers.get(
            ("policies", principal_arn), lambda: self._policies_of(principal_arn))
        return list(documents)

    def _policies_of(self, principal_arn: str) -> list[dict[str, Any]]:
        principal = self.principal_by_arn(principal_arn)
        if principal is None:
            return []
        holders: list[Holder] = [principal]
        if isinstance(principal, User):
            holders += self.groups_of(principal.name)
        known = self.policies()
        texts = [known[a].document for h in holders for a in h.attached if a in known]
        texts += [t for h in holders for t in h.inline.values()]
        return [json.loads(t) for t in texts]

    def trust_policy_of(self, role_arn: str) -> dict[str, Any] | None:
        """The role's trust policy, parsed: the same object while it is unchanged (the
        evaluator compiles each document object once)."""
        def load() -> dict[str, Any] | None:
            role = self.role_by_arn(role_arn)
            return json.loads(role.trust) if role else None
        found: dict[str, Any] | None = self.answers.get(("trust", role_arn), load)
        return found


def page(items: list[Any], marker: str | None, max_items: int | None) -> tuple[list[Any], dict[str, Any]]:
    """One page of ``items`` and IAM's ``IsTruncated`` / ``Marker``."""
    start = 0
    if marker:
        if not marker.isdigit() or int(marker) > len(items):
            raise InvalidInput("Invalid Marker: pass the Marker the last answer gave.")
        start = int(marker)
    end = start + (max_items or quotas.LIST_MAX_ITEMS_DEFAULT)
    more: dict[str, Any] = {"IsTruncated": end < len(items)}
    if end < len(items):
        more["Marker"] = str(end)
    return items[start:end], more

