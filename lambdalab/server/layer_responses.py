"""The wire layer of Lambda's layer operations (API version 2018-10-31).

Each method is one operation, named after it in snake_case (``PublishLayerVersion`` →
:meth:`LayerResponses.publish_layer_version`), with the status codes and JSON shapes of
botocore's ``lambda/2015-03-31/service-2.json``. :class:`~lambdalab.server.lambda_responses.
LambdaResponses` inherits them, so the router finds them like any other operation. The
request has already been checked against the operation's input shape
(:func:`~lambdalab.server.lambda_responses.check_request`); state and errors are
:mod:`lambdalab.layers`'.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import TYPE_CHECKING, Any, Mapping, Protocol, Sequence

from .. import limits
from ..errors import InvalidParameterValueException
from ..layers import LayerPermission, LayerVersion
from .wire import WireRequest, WireResponse, page

if TYPE_CHECKING:
    from ..code import CodeSource
    from ..permissions import Policy



def _string(body: dict[str, Any], field: str) -> str | None:
    value = body.get(field)
    if value is not None and not isinstance(value, str):
        raise InvalidParameterValueException(f"{field}: {value!r} is not valid. Send a string.")
    return value


def _strings(body: dict[str, Any], field: str) -> list[str] | None:
    value = body.get(field)
    if value is not None and (
        not isinstance(value, list) or not all(isinstance(v, str) for v in value)
    ):
        raise InvalidParameterValueException(
            f"{field}: {value!r} is not valid. Send a list of strings."
        )
    return value


def _source(content: dict[str, Any]) -> Any:
    """``Content`` as the Lab takes it: the zip's bytes, or where it is in S3."""
    s3 = {k: content[k] for k in ("S3Bucket", "S3Key", "S3ObjectVersion") if k in content}
    if content.get("ZipFile") is None:
        return s3  # the Lab reads the object, or says why it cannot
    if s3:
        raise InvalidParameterValueException(
            "Please provide a source for the layer: either Content.ZipFile or "
            "Content.S3Bucket and S3Key, not both."
        )
    try:
        return base64.b64decode(content["ZipFile"], validate=True)
    except (binascii.Error, TypeError, ValueError):
        raise InvalidParameterValueException(
            "Content.ZipFile: not valid base64. Send the zip file's bytes base64 encoded."
        ) from None


class LayerLab(Protocol):
    """What the handlers use of the :class:`~lambdalab.Lab` (its
    :class:`~lambdalab.layers.LayerOperations`); a protocol, as the Lab imports this
    module. ``LambdaResponses.lab`` is a Lab, so mypy checks the Lab against it."""

    def layer_location(self, version: LayerVersion) -> str: ...

    def publish_layer_version(
        self,
        layer_name: str,
        content: CodeSource | Mapping[str, Any],
        *,
        description: str = "",
        compatible_runtimes: Sequence[str] | None = None,
        compatible_architectures: Sequence[str] | None = None,
        license_info: str | None = None,
    ) -> LayerVersion: ...

    def get_layer_version(self, layer_name: str, version_number: int) -> LayerVersion: ...

    def get_layer_version_by_arn(self, arn: str) -> LayerVersion: ...

    def list_layers(
        self, compatible_runtime: str | None = None, compatible_architecture: str | None = None
    ) -> list[LayerVersion]: ...

    def list_layer_versions(
        self,
        layer_name: str,
        compatible_runtime: str | None = None,
        compatible_architecture: str | None = None,
    ) -> list[LayerVersion]: ...

    def delete_layer_version(self, layer_name: str, version_number: int) -> None: ...

    def add_layer_version_permission(
        self,
        layer_name: str,
        version_number: int,
        statement_id: str,
        action: str,
        principal: str,
        *,
        organization_id: str | None = None,
        revision_id: str | None = None,
    ) -> LayerPermission: ...

    def get_layer_version_policy(self, layer_name: str, version_number: int) -> Policy: ...

    def remove_layer_version_permission(
        self,
        layer_name: str,
        version_number: int,
        statement_id: str,
        *,
        revision_id: str | None = None,
    ) -> None: ...


def _version_number(req: WireRequest) -> int:
    """The path's ``VersionNumber`` as the number the Lab takes. check_request has matched
    it to the model's ``long`` first, so it reads as one; a number below 1 is the Lab's
    error to raise."""
    return int(req.params["VersionNumber"])


class LayerResponses:
    """PublishLayerVersion, GetLayerVersion(ByArn), ListLayers, ListLayerVersions,
    DeleteLayerVersion and the layer version permissions, over one Lab."""

    lab: LayerLab

    def _layer_version(self, version: LayerVersion) -> dict[str, Any]:
        return version.to_aws(self.lab.layer_location(version))

    def publish_layer_version(self, req: WireRequest) -> WireResponse:
        body = req.json()
        content = body.get("Content")
        if not isinstance(content, dict):
            raise InvalidParameterValueException(
                "Content is required: send {\"ZipFile\": <the layer's .zip, base64>} or "
                "{\"S3Bucket\": ..., \"S3Key\": ...}."
            )
        version = self.lab.publish_layer_version(
            req.params["LayerName"],
            _source(content),
            description=_string(body, "Description") or "",
            compatible_runtimes=_strings(body, "CompatibleRuntimes"),
            compatible_architectures=_strings(body, "CompatibleArchitectures"),
            license_info=_string(body, "LicenseInfo"),
        )
        return WireResponse.of_json(201, self._layer_version(version))

    def get_layer_version(self, req: WireRequest) -> WireResponse:
        version = self.lab.get_layer_version(req.params["LayerName"], _version_number(req))
        return WireResponse.of_json(200, self._layer_version(version))

    def get_layer_version_by_arn(self, req: WireRequest) -> WireResponse:
        version = self.lab.get_layer_version_by_arn(req.query.get("Arn", ""))
        return WireResponse.of_json(200, self._layer_version(version))

    def list_layers(self, req: WireRequest) -> WireResponse:
        latest = self.lab.list_layers(
            req.query.get("CompatibleRuntime"), req.query.get("CompatibleArchitecture")
        )
        chunk, marker = page(latest, req.query, limits.LAYER_LIST_PAGE_MAX)
        out: dict[str, Any] = {"Layers": [v.to_layers_list_item() for v in chunk]}
        if marker is not None:
            out["NextMarker"] = marker
        return WireResponse.of_json(200, out)

    def list_layer_versions(self, req: WireRequest) -> WireResponse:
        versions = self.lab.list_layer_versions(
            req.params["LayerName"],
            req.query.get("CompatibleRuntime"),
            req.query.get("CompatibleArchitecture"),
        )
        chunk, marker = page(versions, req.query, limits.LAYER_LIST_PAGE_MAX)
        out: dict[str, Any] = {"LayerVersions": [v.to_list_item() for v in chunk]}
        if marker is not None:
            out["NextMarker"] = marker
        return WireResponse.of_json(200, out)

    def delete_layer_version(self, req: WireRequest) -> WireResponse:
        self.lab.delete_layer_version(req.params["LayerName"], _version_number(req))
        return WireResponse.empty(204)

    def add_layer_version_permission(self, req: WireRequest) -> WireResponse:
        body = req.json()
        permission = self.lab.add_layer_version_permission(
            req.params["LayerName"],
            _version_number(req),
            _string(body, "StatementId") or "",
            _string(body, "Action") or "",
            _string(body, "Principal") or "",
            organization_id=_string(body, "OrganizationId"),
            revision_id=req.query.get("RevisionId"),
        )
        return WireResponse.of_json(201, permission.to_aws())

    def get_layer_version_policy(self, req: WireRequest) -> WireResponse:
        policy = self.lab.get_layer_version_policy(
            req.params["LayerName"], _version_number(req)
        )
        return WireResponse.of_json(
            200, {"Policy": json.dumps(policy.document()), "RevisionId": policy.revision_id}
        )

    def remove_layer_version_permission(self, req: WireRequest) -> WireResponse:
        self.lab.remove_layer_version_permission(
            req.params["LayerName"],
            _version_number(req),
            req.params["StatementId"],
            revision_id=req.query.get("RevisionId"),
        )
        return WireResponse.empty(204)
