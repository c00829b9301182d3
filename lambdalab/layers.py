"""Lambda layers: versioned .zip archives that functions add under ``/opt``.

Pure state, kept in the store in AWS's field names (as :mod:`lambdalab.registry` keeps
functions); no HTTP. What AWS does, and so what this module does:

- each ``PublishLayerVersion`` makes version N+1 of the layer; numbers are never reused,
  even after every version was deleted
  (https://docs.aws.amazon.com/lambda/latest/dg/creating-deleting-layers.html);
- ``DeleteLayerVersion`` is idempotent, and a function that uses a deleted version keeps
  running with it: the function's configuration holds the layer's code, not a link;
- a function names at most 5 layer versions, at most one version of each layer, all in
  its region; function and layers together unzip to at most 262,144,000 bytes
  (https://docs.aws.amazon.com/lambda/latest/dg/adding-layers.html);
- the layers are extracted into ``/opt`` in the order the function lists them, a later
  layer's file replacing an earlier one's
  (https://docs.aws.amazon.com/lambda/latest/dg/packaging-layers.html). lambdalab merges
  them once per list of layers into ``<data dir>/opt/<hash>/`` and hands that directory to
  the runtime as ``LAMBDALAB_OPT`` (see :func:`opt_environment`).

Errors and messages are those AWS answered in LocalStack's recorded layer tests
(``tests/aws/services/lambda_/test_lambda_api.snapshot.json``, ``TestLambdaLayer``).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import threading
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Callable, Mapping, Protocol, Sequence

from . import limits
from .arn import ArnBuilder
from .code import CodePackage, CodeSource, check_zip, made_once, package
from .errors import (
    InvalidParameterValueException,
    PolicyLengthExceededException,
    PreconditionFailedException,
    ResourceConflictException,
    ResourceNotFoundException,
)
from .models import FunctionLayer
from .permissions import Policy, principal_element
from .registry import aws_timestamp, new_revision_id
from .store import _FRESH_GRACE_S, _LEFTOVER_GRACE_S, Store  # the same graces as code



class Lab(Protocol):
    """What the layer methods use of the :class:`~lambdalab.Lab` that inherits them
    (a protocol, so this module does not import the Lab, which imports it)."""

    layers: "Layers"
    store: Store
    _code_lock: threading.Lock

    @property
    def endpoint_url(self) -> str | None: ...

    def collect_code(self, released: set[str] | None = None) -> int: ...

    def code_from_s3(self, bucket: str, key: str, version: str | None = None) -> bytes: ...

_LAYER_NAME = re.compile(r"^[a-zA-Z0-9-_]{1,140}$")
_LAYER_ARN = re.compile(
    r"^arn:(?P<partition>aws[a-zA-Z-]*)?:lambda:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):"
    r"layer:(?P<name>[a-zA-Z0-9-_]{1,140})(?::(?P<version>[0-9]+))?$"
)
_STATEMENT_ID = re.compile(r"^[a-zA-Z0-9-_]{1,100}$")
_PRINCIPAL = re.compile(r"^(\d{12}|\*|arn:(aws[a-zA-Z-]*):iam::\d{12}:root)$")
_ORG_ID = re.compile(r"^o-[a-z0-9]{10,32}$")
_LAYER_ACTION = "lambda:GetLayerVersion"
_CHUNK = 1024 * 1024
_NOT_FOUND = "The resource you requested does not exist."
_VERSION_MAX = 2**63 - 1
#: The merged layer folders, under the data dir.
_OPT_DIR = "opt"


@dataclass(frozen=True)
class LayerVersion:
    """One published version of a layer, as GetLayerVersion describes it."""

    layer_arn: str
    version: int
    code_sha256: str
    code_size: int
    created_date: str
    description: str = ""
    #: ``None``: not given at publish (the field is then left out, as AWS does).
    compatible_runtimes: tuple[str, ...] | None = None
    compatible_architectures: tuple[str, ...] | None = None
    license_info: str | None = None
    #: lambdalab's own: the stored zip (sha256 hex) and its size unzipped, in bytes.
    code_blob: str = ""
    unzipped_size: int = 0

    @property
    def layer_name(self) -> str:
        return self.layer_arn.rsplit(":", 1)[1]

    @property
    def layer_version_arn(self) -> str:
        return f"{self.layer_arn}:{self.version}"

    def matches(self, runtime: str | None, architecture: str | None) -> bool:
        """Whether ListLayers' ``CompatibleRuntime`` / ``CompatibleArchitecture`` select it."""
        return (runtime is None or runtime in (self.compatible_runtimes or ())) and (
            architecture is None or architecture in (self.compatible_architectures or ())
        )

    def to_list_item(self) -> dict[str, Any]:
        """A ``LayerVersionsListItem``: ListLayerVersions' and ListLayers' entries."""
        out: dict[str, Any] = {
            "LayerVersionArn": self.layer_version_arn,
            "Version": self.version,
            "Description": self.description,
            "CreatedDate": self.created_date,
        }
        if self.compatible_runtimes is not None:
            out["CompatibleRuntimes"] = list(self.compatible_runtimes)
        if self.compatible_architectures is not None:
            out["CompatibleArchitectures"] = list(self.compatible_architectures)
        if self.license_info is not None:
            out["LicenseInfo"] = self.license_info
        return out

    def to_layers_list_item(self) -> dict[str, Any]:
        """A ``LayersListItem`` (ListLayers' entry), with this as the latest matching version."""
        return {
            "LayerName": self.layer_name,
            "LayerArn": self.layer_arn,
            "LatestMatchingVersion": self.to_list_item(),
        }

    def to_aws(self, location: str) -> dict[str, Any]:
        """What PublishLayerVersion and GetLayerVersion return; ``location`` is where the
        zip can be read (AWS: a presigned S3 URL; lambdalab: a ``file://`` URI)."""
        return {
            "Content": {
                "Location": location,
                "CodeSha256": self.code_sha256,
                "CodeSize": self.code_size,
            },
            "LayerArn": self.layer_arn,
            **self.to_list_item(),
        }

    def to_json(self) -> str:
        own = {"CodeBlob": self.code_blob, "UnzippedSize": self.unzipped_size}
        return json.dumps({**self.to_aws(""), "lambdalab": own})

    @classmethod
    def from_json(cls, text: str) -> "LayerVersion":
        data = json.loads(text)
        runtimes = data.get("CompatibleRuntimes")
        architectures = data.get("CompatibleArchitectures")
        return cls(
            layer_arn=data["LayerArn"],
            version=data["Version"],
            code_sha256=data["Content"]["CodeSha256"],
            code_size=data["Content"]["CodeSize"],
            created_date=data["CreatedDate"],
            description=data.get("Description", ""),
            compatible_runtimes=None if runtimes is None else tuple(runtimes),
            compatible_architectures=None if architectures is None else tuple(architectures),
            license_info=data.get("LicenseInfo"),
            code_blob=data["lambdalab"]["CodeBlob"],
            unzipped_size=data["lambdalab"]["UnzippedSize"],
        )

    def as_function_layer(self) -> FunctionLayer:
        return FunctionLayer(
            arn=self.layer_version_arn,
            code_size=self.code_size,
            code_blob=self.code_blob,
            unzipped_size=self.unzipped_size,
        )


@dataclass(frozen=True)
class LayerPermission:
    """What AddLayerVersionPermission returns: the statement added and the new revision."""

    statement: dict[str, Any]
    revision_id: str

    def to_aws(self) -> dict[str, Any]:
        return {"Statement": json.dumps(self.statement), "RevisionId": self.revision_id}


def check_unzipped_total(function_bytes: int, layers: Sequence[FunctionLayer]) -> None:
    """Function code and layers together unzip to at most 262,144,000 bytes."""
    total = function_bytes + sum(layer.unzipped_size for layer in layers)
    if total > limits.UNZIPPED_PACKAGE_MAX_BYTES:
        raise InvalidParameterValueException(
            "Function code combined with layers exceeds the maximum allowed size of "
            f"{limits.UNZIPPED_PACKAGE_MAX_BYTES} bytes. The actual size is {total} bytes."
        )


class Layers:
    """The layers of one data dir: their versions and each version's permissions."""

    def __init__(self, store: Store, arns: ArnBuilder, now: Callable[[], float]) -> None:
        self._store = store
        self.arns = arns
        self._now = now

    # -- names and ARNs ---------------------------------------------------------------

    def layer_arn(self, name: str) -> str:
        return f"arn:aws:lambda:{self.arns.region}:{self.arns.account_id}:layer:{name}"

    def _name(self, name_or_arn: str) -> str:
        """The layer name of ``LayerName`` (a name, or a layer ARN of this account)."""
        found = _LAYER_ARN.match(name_or_arn or "")
        if found and found["version"] is None:
            return found["name"]
        if not _LAYER_NAME.match(name_or_arn or ""):
            raise InvalidParameterValueException(
                f"LayerName: {name_or_arn!r} is not a layer name or layer ARN. Use 1-140 "
                "letters, digits, hyphens or underscores."
            )
        return name_or_arn

    def _owned(self, name_or_arn: str) -> bool:
        found = _LAYER_ARN.match(name_or_arn or "")
        return found is None or (
            found["region"] == self.arns.region and found["account"] == self.arns.account_id
        )

    @staticmethod
    def _number(version: Any) -> int:
        try:
            number = int(version)
        except (TypeError, ValueError):
            raise InvalidParameterValueException(
                f"VersionNumber: {version!r} is not a layer version number."
            ) from None
        if number < 1:
            raise InvalidParameterValueException("Layer Version Cannot be less than 1")
        return min(number, _VERSION_MAX)  # past SQLite's integers: a version never made

    # -- versions ---------------------------------------------------------------------

    def publish(
        self,
        layer_name: str,
        code: CodePackage,
        *,
        description: str = "",
        compatible_runtimes: Sequence[str] | None = None,
        compatible_architectures: Sequence[str] | None = None,
        license_info: str | None = None,
    ) -> LayerVersion:
        """Store ``code`` as the layer's next version (the layer is made on first publish)."""
        name = self._name(layer_name)
        if not self._owned(layer_name):
            raise InvalidParameterValueException(
                f"LayerName: {layer_name} belongs to another account or region; publish to "
                f"a layer of account {self.arns.account_id} in {self.arns.region}."
            )
        _check_text("Description", description, 256)
        _check_text("LicenseInfo", license_info, 512)
        _check_compatibility(compatible_runtimes, compatible_architectures)
        self._store.put_blob(code.sha256_hex, code.zip_bytes)
        with self._store.transaction() as db:
            db.execute("INSERT OR IGNORE INTO layers (name) VALUES (?)", (name,))
            number = db.execute(
                "SELECT next_version FROM layers WHERE name = ?", (name,)
            ).fetchone()[0]
            version = LayerVersion(
                layer_arn=self.layer_arn(name),
                version=number,
                code_sha256=code.code_sha256,
                code_size=code.size,
                created_date=aws_timestamp(self._now()),
                description=description or "",
                compatible_runtimes=(
                    None if compatible_runtimes is None else tuple(compatible_runtimes)
                ),
                compatible_architectures=(
                    None if compatible_architectures is None else tuple(compatible_architectures)
                ),
                license_info=license_info,
                code_blob=code.sha256_hex,
                unzipped_size=code.unzipped_size,
            )
            db.execute(
                "INSERT INTO layer_versions (layer, version, config) VALUES (?, ?, ?)",
                (name, number, version.to_json()),
            )
            db.execute("UPDATE layers SET next_version = next_version + 1 WHERE name = ?", (name,))
        return version

    def get(self, layer_name: str, version_number: Any) -> LayerVersion:
        number = self._number(version_number)
        name = self._name(layer_name)
        rows = self._store.query(
            "SELECT config FROM layer_versions WHERE layer = ? AND version = ?", (name, number)
        )
        if not rows or not self._owned(layer_name):
            raise ResourceNotFoundException(_NOT_FOUND)
        return LayerVersion.from_json(rows[0]["config"])

    def get_by_arn(self, arn: str) -> LayerVersion:
        found = _LAYER_ARN.match(arn or "")
        if found is None or found["version"] is None:
            raise InvalidParameterValueException(
                f"Arn: {arn!r} is not a layer version ARN. Use the LayerVersionArn, which "
                "ends in :<version>."
            )
        if not self._owned(arn):
            raise ResourceNotFoundException(_NOT_FOUND)
        return self.get(found["name"], found["version"])

    def list_versions(
        self, layer_name: str, runtime: str | None = None, architecture: str | None = None
    ) -> list[LayerVersion]:
        """The layer's versions, newest first (none for a layer that does not exist)."""
        name = self._name(layer_name)
        if not self._owned(layer_name):
            return []
        rows = self._store.query(
            "SELECT config FROM layer_versions WHERE layer = ? ORDER BY version DESC", (name,)
        )
        versions = (LayerVersion.from_json(r["config"]) for r in rows)
        return [v for v in versions if v.matches(runtime, architecture)]

    def list_layers(
        self, runtime: str | None = None, architecture: str | None = None
    ) -> list[LayerVersion]:
        """Each layer's newest version that matches the filters, by layer name."""
        rows = self._store.query("SELECT config FROM layer_versions ORDER BY layer, version DESC")
        latest: dict[str, LayerVersion] = {}
        for row in rows:
            version = LayerVersion.from_json(row["config"])
            if version.layer_name not in latest and version.matches(runtime, architecture):
                latest[version.layer_name] = version
        return list(latest.values())

    def delete(self, layer_name: str, version_number: Any) -> None:
        """Delete one version; deleting one that does not exist succeeds (as on AWS)."""
        number = self._number(version_number)
        name = self._name(layer_name)
        if not self._owned(layer_name):
            return
        with self._store.transaction() as db:
            db.execute("DELETE FROM layer_versions WHERE layer = ? AND version = ?", (name, number))

    def code_blobs(self) -> set[str]:
        """The zips the stored layer versions hold (functions hold their layers' too)."""
        rows = self._store.query("SELECT config FROM layer_versions")
        return {LayerVersion.from_json(r["config"]).code_blob for r in rows}

    # -- the layers of a function -----------------------------------------------------

    def for_function(
        self, arns: Sequence[str], current: Sequence[FunctionLayer] = ()
    ) -> tuple[FunctionLayer, ...]:
        """The layers a function's ``Layers`` (version ARNs, in order) name, checked as AWS
        checks them. A version the function already has is kept even if it was deleted
        since (AWS keeps a function's layers working)."""
        if len(arns) > limits.LAYERS_PER_FUNCTION_MAX:
            raise InvalidParameterValueException(
                f"Cannot reference more than {limits.LAYERS_PER_FUNCTION_MAX} layers."
            )
        kept = {layer.arn: layer for layer in current}
        chosen: list[FunctionLayer] = []
        seen: dict[str, str] = {}
        for arn in arns:
            found = _LAYER_ARN.match(arn if isinstance(arn, str) else "")
            if found is None or found["version"] is None:
                raise InvalidParameterValueException(
                    f"Layers: {arn!r} is not a layer version ARN. Use the LayerVersionArn "
                    "PublishLayerVersion returned (it ends in :<version>)."
                )
            if found["region"] != self.arns.region:
                raise InvalidParameterValueException(
                    "Layers are not in the same region as the function. Layers are expected "
                    f"to be in region {self.arns.region}."
                )
            layer = found["name"]
            if layer in seen:
                raise InvalidParameterValueException(
                    "Two different versions of the same layer are not allowed to be referenced "
                    f"in the same function. {seen[layer]} and {arn} are versions of the same layer."
                )
            seen[layer] = arn
            chosen.append(kept.get(arn) or self._function_layer(arn, found))
        return tuple(chosen)

    def _function_layer(self, arn: str, found: re.Match[str]) -> FunctionLayer:
        try:
            if found["account"] != self.arns.account_id:
                raise ResourceNotFoundException(_NOT_FOUND)
            return self.get(found["name"], found["version"]).as_function_layer()
        except (ResourceNotFoundException, InvalidParameterValueException):
            raise InvalidParameterValueException(f"Layer version {arn} does not exist.") from None

    # -- permissions ------------------------------------------------------------------

    def _policy(self, db: Any, layer_name: str, version_number: Any) -> tuple[str, int, Policy]:
        number = self._number(version_number)
        name = self._name(layer_name)
        row = db.execute(
            "SELECT policy FROM layer_versions WHERE layer = ? AND version = ?", (name, number)
        ).fetchone()
        if row is None or not self._owned(layer_name):
            raise ResourceNotFoundException(
                f"Layer version {self.layer_arn(name)}:{number} does not exist."
            )
        data = json.loads(row["policy"] or "{}")
        return name, number, Policy(data.get("Statement", []), data.get("RevisionId", ""))

    @staticmethod
    def _check_revision(policy: Policy, revision_id: str | None) -> None:
        if revision_id is not None and revision_id != policy.revision_id:
            raise PreconditionFailedException(
                "The Revision Id provided does not match the latest Revision Id. Call the "
                "GetLayerPolicy API to retrieve the latest Revision Id"
            )

    def _save(self, db: Any, name: str, number: int, statements: list[dict[str, Any]]) -> str:
        size = len(json.dumps(Policy(statements).document()))
        if size > limits.LAYER_POLICY_MAX_BYTES:
            raise PolicyLengthExceededException(
                f"The final policy size ({size}) is bigger than the limit "
                f"({limits.LAYER_POLICY_MAX_BYTES}). Remove statements you no longer need."
            )
        revision = new_revision_id()
        db.execute(
            "UPDATE layer_versions SET policy = ? WHERE layer = ? AND version = ?",
            (json.dumps({"Statement": statements, "RevisionId": revision}), name, number),
        )
        return revision

    def add_permission(
        self, layer_name: str, version_number: Any, grant: "LayerGrant", *,
        revision_id: str | None = None,
    ) -> LayerPermission:
        """Let an account (or everyone, ``*``) use a layer version."""
        grant.check()
        with self._store.transaction() as db:
            name, number, policy = self._policy(db, layer_name, version_number)
            self._check_revision(policy, revision_id)
            if any(s["Sid"] == grant.statement_id for s in policy.statements):
                raise ResourceConflictException(
                    f"The statement id ({grant.statement_id}) provided already exists. Please "
                    "provide a new statement id, or remove the existing statement."
                )
            statement = grant.statement(f"{self.layer_arn(name)}:{number}")
            revision = self._save(db, name, number, [*policy.statements, statement])
        return LayerPermission(statement, revision)

    def get_policy(self, layer_name: str, version_number: Any) -> Policy:
        with self._store.transaction() as db:
            _, _, policy = self._policy(db, layer_name, version_number)
        if not policy.statements:
            raise ResourceNotFoundException("No policy is associated with the given resource.")
        return policy

    def remove_permission(
        self,
        layer_name: str,
        version_number: Any,
        statement_id: str,
        *,
        revision_id: str | None = None,
    ) -> None:
        with self._store.transaction() as db:
            name, number, policy = self._policy(db, layer_name, version_number)
            self._check_revision(policy, revision_id)
            kept = [s for s in policy.statements if s["Sid"] != statement_id]
            if len(kept) == len(policy.statements):
                raise ResourceNotFoundException(
                    f"Statement {statement_id} is not found in resource policy."
                )
            self._save(db, name, number, kept)


def _check_text(field: str, value: str | None, most: int) -> None:
    if value is not None and (not isinstance(value, str) or len(value) > most):
        raise InvalidParameterValueException(f"{field}: use a string of at most {most} characters.")


def _check_compatibility(
    runtimes: Sequence[str] | None, architectures: Sequence[str] | None
) -> None:
    """CompatibleRuntimes: at most 15 runtime names; CompatibleArchitectures: at most
    x86_64 and arm64. (The HTTP edge also checks each runtime against the API's enum.)"""
    if runtimes is not None and (
        isinstance(runtimes, str)
        or len(runtimes) > limits.LAYER_COMPATIBLE_RUNTIMES_MAX
        or not all(isinstance(r, str) and r for r in runtimes)
    ):
        raise InvalidParameterValueException(
            f"CompatibleRuntimes: give a list of at most {limits.LAYER_COMPATIBLE_RUNTIMES_MAX} "
            "runtime names, e.g. [\"python3.12\"]."
        )
    if architectures is not None and (
        isinstance(architectures, str)
        or not set(architectures) <= set(limits.ARCHITECTURES)
        or len(architectures) > len(limits.ARCHITECTURES)
    ):
        raise InvalidParameterValueException(
            f"CompatibleArchitectures: {architectures!r} is not valid. Give a list of "
            f"{' and/or '.join(limits.ARCHITECTURES)}."
        )


@dataclass(frozen=True)
class LayerGrant:
    """What AddLayerVersionPermission grants: to whom (an account, or everyone ``*``,
    optionally one organization) and the one action a layer version has."""

    statement_id: str
    action: str
    principal: str
    organization_id: str | None = None

    def check(self) -> None:
        if not _STATEMENT_ID.match(self.statement_id or ""):
            raise InvalidParameterValueException(
                f"StatementId: {self.statement_id!r} is not valid. Use 1-100 letters, digits, "
                "hyphens or underscores."
            )
        if self.action != _LAYER_ACTION:
            raise InvalidParameterValueException(
                f"Action: {self.action!r} is not valid. A layer version permission grants "
                f"{_LAYER_ACTION} only."
            )
        if not _PRINCIPAL.match(self.principal or ""):
            raise InvalidParameterValueException(
                f"Principal: {self.principal!r} is not valid. Use an account id, its root ARN "
                "(arn:aws:iam::123456789012:root) or * (with OrganizationId: one organization)."
            )
        if self.organization_id is not None and not _ORG_ID.match(self.organization_id):
            raise InvalidParameterValueException(
                f"OrganizationId: {self.organization_id!r} is not valid. Use o- and 10-32 "
                "letters or digits."
            )

    def statement(self, resource: str) -> dict[str, Any]:
        """The policy statement granting it on ``resource`` (a layer version's ARN)."""
        statement: dict[str, Any] = {
            "Sid": self.statement_id,
            "Effect": "Allow",
            "Principal": principal_element(self.principal),
            "Action": self.action,
            "Resource": resource,
        }
        if self.organization_id:
            statement["Condition"] = {"StringEquals": {"aws:PrincipalOrgID": self.organization_id}}
        return statement


# -- /opt ----------------------------------------------------------------------------


def opt_key(blobs: Sequence[str]) -> str:
    """The name of the merged folder of layers with these zips, in this order."""
    return hashlib.sha256("\n".join(blobs).encode()).hexdigest()


def opt_directory(store: Store, layers: Sequence[FunctionLayer]) -> Path:
    """The layers' files merged in order (a later layer's file replaces an earlier one's),
    made once per list of layers under ``<data dir>/opt/<hash>/`` and shared."""
    root = store.data_dir / _OPT_DIR
    root.mkdir(exist_ok=True)

    def merge(folder: Path) -> None:
        for layer in layers:
            _extract_over(store.blob_path(layer.code_blob), folder)

    return made_once(root / opt_key([layer.code_blob for layer in layers]), merge)


def collect_opt_directories(store: Store) -> int:
    """Remove the merged folders no function version's layers name any more, and the
    leftovers of interrupted merges; the bytes freed. Run with a full code collection
    (when a data dir opens); as there, what changed in the last minute (an hour for a
    leftover) is kept, in case another process is about to use it."""
    root = store.data_dir / _OPT_DIR
    if not root.is_dir():
        return 0
    wanted = _opt_keys_in_use(store)
    freed = 0
    for path in root.iterdir():
        leftover = path.name.startswith(".")
        try:
            age = time.time() - path.stat().st_mtime
        except OSError:
            continue
        grace = _LEFTOVER_GRACE_S if leftover else _FRESH_GRACE_S
        if (path.name in wanted and not leftover) or age < grace:
            continue
        freed += sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
        shutil.rmtree(path, ignore_errors=True)
    return freed


def _opt_keys_in_use(store: Store) -> set[str]:
    """The merged folders the stored function versions use (damaged rows skipped)."""
    keys = set()
    for row in store.query("SELECT config FROM versions"):
        try:
            own = json.loads(row["config"])["lambdalab"].get("Layers") or []
            keys.add(opt_key([blob for blob, _ in own]))
        except (ValueError, KeyError, TypeError, AttributeError):
            continue
    return keys


def _extract_over(blob: Path, root: Path) -> None:
    """Unpack ``blob`` into ``root``, replacing what is there (files of earlier layers)."""
    with zipfile.ZipFile(blob) as zf:
        for info in zf.infolist():
            parts = PurePosixPath(info.filename.replace("\\", "/")).parts
            if not parts or ".." in parts or info.filename.startswith(("/", "\\")):
                continue  # checked at publish; never written outside root
            path = root.joinpath(*parts)
            if info.is_dir():
                if path.is_file():
                    path.unlink()
                path.mkdir(parents=True, exist_ok=True)
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            if path.is_dir():
                shutil.rmtree(path)
            with zf.open(info) as entry, open(path, "wb") as out:
                shutil.copyfileobj(entry, out, _CHUNK)
            mode = (info.external_attr >> 16) & 0o777
            if mode:
                os.chmod(path, mode | 0o400)


def opt_environment(
    store: Store, layers: Sequence[FunctionLayer], runtime: str, base: dict[str, str]
) -> dict[str, str]:
    """The variables that point a runtime at its layers: ``LAMBDALAB_OPT`` (lambdalab's
    stand-in for ``/opt``), ``/opt/bin`` on PATH and ``/opt/lib`` on LD_LIBRARY_PATH
    rewritten to it, and Node.js's NODE_PATH as AWS sets it. Empty without layers.

    The Python runtime puts ``$LAMBDALAB_OPT/python`` and its ``site-packages`` on
    ``sys.path`` itself (:func:`lambdalab.runtime.bootstrap.add_layer_paths`).
    """
    if not layers:
        return {}
    opt = str(opt_directory(store, layers))

    def moved(value: str) -> str:
        return ":".join(opt + p[len("/opt"):] if p == "/opt" or p.startswith("/opt/") else p
                        for p in value.split(":"))

    out = {
        "LAMBDALAB_OPT": opt,
        "PATH": moved(base.get("PATH", "")),
        "LD_LIBRARY_PATH": moved(base.get("LD_LIBRARY_PATH", "")),
    }
    if runtime.startswith("nodejs"):
        out["NODE_PATH"] = node_path(opt, runtime, base.get("LAMBDA_TASK_ROOT", ""))
    return out


def node_path(opt: str, runtime: str, task_root: str) -> str:
    """NODE_PATH as AWS sets it for ``nodejsNN.x``: the layer folders, then the code."""
    major = runtime.removeprefix("nodejs").split(".")[0]
    return ":".join(
        (f"{opt}/nodejs/node{major}/node_modules", f"{opt}/nodejs/node_modules", task_root)
    )


# -- the Python API ------------------------------------------------------------------


class LayerOperations:
    """:class:`~lambdalab.Lab`'s layer methods, shaped like boto3's (``publish_layer_version``
    and the rest, parameters in snake_case). Lab inherits them; they use its ``layers``."""

    def publish_layer_version(
        self: "Lab",
        layer_name: str,
        content: CodeSource | Mapping[str, Any],
        *,
        description: str = "",
        compatible_runtimes: Sequence[str] | None = None,
        compatible_architectures: Sequence[str] | None = None,
        license_info: str | None = None,
    ) -> LayerVersion:
        """Publish a new version of ``layer_name`` from a directory, a .zip path, zip bytes,
        or boto3's ``Content``: ``{"ZipFile": bytes}`` or ``{"S3Bucket": ..., "S3Key": ...}``
        (an object of the S3 plugin). Lay files out as the runtime expects them under
        /opt: ``python/`` for Python modules, ``nodejs/node_modules/`` for Node.js."""
        pkg = package(_content(self, content))
        with self._code_lock:  # a collection must not remove the blob before it is named
            return self.layers.publish(
                layer_name,
                pkg,
                description=description,
                compatible_runtimes=compatible_runtimes,
                compatible_architectures=compatible_architectures,
                license_info=license_info,
            )

    def get_layer_version(self: "Lab", layer_name: str, version_number: int) -> LayerVersion:
        """One version of a layer (``layer_name``: its name or ARN)."""
        return self.layers.get(layer_name, version_number)

    def get_layer_version_by_arn(self: "Lab", arn: str) -> LayerVersion:
        """One version of a layer, by its ``LayerVersionArn``."""
        return self.layers.get_by_arn(arn)

    def layer_location(self: "Lab", version: LayerVersion) -> str:
        """Where the layer version's zip can be read (``Content.Location``): an HTTP URL
        on the edge when one serves this lab, as for a function's code, else a
        ``file://`` path."""

        if self.endpoint_url:
            return f"{self.endpoint_url.rstrip('/')}{limits.CODE_PATH}{version.code_blob}"
        return self.store.blob_path(version.code_blob).as_uri()

    def list_layers(
        self: "Lab",
        compatible_runtime: str | None = None,
        compatible_architecture: str | None = None,
    ) -> list[LayerVersion]:
        """Each layer's newest version (that matches the filters), by layer name."""
        return self.layers.list_layers(compatible_runtime, compatible_architecture)

    def list_layer_versions(
        self: "Lab",
        layer_name: str,
        compatible_runtime: str | None = None,
        compatible_architecture: str | None = None,
    ) -> list[LayerVersion]:
        """The layer's versions, newest first."""
        return self.layers.list_versions(layer_name, compatible_runtime, compatible_architecture)

    def delete_layer_version(self: "Lab", layer_name: str, version_number: int) -> None:
        """Delete a version (functions that use it keep it); a missing one is no error."""
        try:
            released = {self.layers.get(layer_name, version_number).code_blob}
        except ResourceNotFoundException:
            released = set()
        self.layers.delete(layer_name, version_number)
        self.collect_code(released)

    def add_layer_version_permission(
        self: "Lab",
        layer_name: str,
        version_number: int,
        statement_id: str,
        action: str,
        principal: str,
        *,
        organization_id: str | None = None,
        revision_id: str | None = None,
    ) -> LayerPermission:
        """Grant an account, or everyone (``*``, optionally one organization), the use of
        a layer version (``lambda:GetLayerVersion``)."""
        grant = LayerGrant(statement_id, action, principal, organization_id)
        return self.layers.add_permission(layer_name, version_number, grant, revision_id=revision_id)

    def get_layer_version_policy(self: "Lab", layer_name: str, version_number: int) -> Policy:
        """The version's permissions, as a policy document with its RevisionId."""
        return self.layers.get_policy(layer_name, version_number)

    def remove_layer_version_permission(
        self: "Lab",
        layer_name: str,
        version_number: int,
        statement_id: str,
        *,
        revision_id: str | None = None,
    ) -> None:
        """Remove a statement AddLayerVersionPermission added."""
        self.layers.remove_permission(
            layer_name, version_number, statement_id, revision_id=revision_id
        )

    def _function_layers(
        self: "Lab",
        arns: Sequence[str],
        code_unzipped: Callable[[], int],
        current: Sequence[FunctionLayer] = (),
    ) -> tuple[FunctionLayer, ...]:
        """The function's ``Layers`` resolved and checked; ``code_unzipped`` gives the
        bytes its code unzips to (asked only when there are layers)."""
        if isinstance(arns, str) or not all(isinstance(a, str) for a in arns):
            raise InvalidParameterValueException(
                "Layers: give a list of layer version ARNs."
            )
        layers = self.layers.for_function(list(arns), current)
        if layers:
            check_unzipped_total(code_unzipped(), layers)
        return layers


def _content(lab: "Lab", content: CodeSource | Mapping[str, Any]) -> CodeSource:
    """PublishLayerVersion's ``Content``: ``ZipFile``, or ``S3Bucket`` and ``S3Key`` read
    as CreateFunction reads code from S3; or a path or bytes."""
    if not isinstance(content, Mapping):
        return content
    if content.get("ZipFile") is not None:
        if content.get("S3Bucket") is not None or content.get("S3Key") is not None:
            raise InvalidParameterValueException(
                "Please provide a source for the layer: either Content.ZipFile or "
                "Content.S3Bucket and S3Key, not both."
            )
        return bytes(content["ZipFile"])
    bucket, key = content.get("S3Bucket"), content.get("S3Key")
    if bucket is None and key is None:
        raise InvalidParameterValueException(
            "Content: send the layer's .zip archive as ZipFile, or name it with S3Bucket "
            "and S3Key."
        )
    if not isinstance(bucket, str) or not isinstance(key, str):
        raise InvalidParameterValueException(
            "Content: S3Bucket and S3Key go together; name both."
        )
    return lab.code_from_s3(bucket, key, content.get("S3ObjectVersion"))


__all__ = [
    "LayerOperations",
    "LayerGrant",
    "LayerPermission",
    "LayerVersion",
    "Layers",
    "opt_directory",
    "opt_environment",
]
