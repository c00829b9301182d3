"""Lambda's layer operations (API version 2018-10-31): plain data in, plain data out.

Each method is one operation, named after it in snake_case (``PublishLayerVersion`` →
:meth:`LayerApi.publish_layer_version`), taking the input the protocol layer read and
checked against botocore's ``lambda/2015-03-31/service-2.json`` and returning the output
as a dict. :class:`~lambdalab.server.lambda_operations.LambdaOperations` inherits them,
so the layer finds them like any other operation; state and errors are
:mod:`lambdalab.layers`'.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from .. import limits
from ..errors import InvalidParameterValueException
from ..layers import LayerVersion
from .lambda_params import Params, decoded_zip, listing

if TYPE_CHECKING:
    from ..lab import Lab


def _source(content: Params) -> Any:
    """``Content`` as the Lab takes it: the zip's bytes, or where it is in S3."""
    s3 = {k: content[k] for k in ("S3Bucket", "S3Key", "S3ObjectVersion") if k in content}
    if content.get("ZipFile") is None:
        return s3  # the Lab reads the object, or says why it cannot
    if s3:
        raise InvalidParameterValueException(
            "Please provide a source for the layer: either Content.ZipFile or "
            "Content.S3Bucket and S3Key, not both."
        )
    return decoded_zip(content["ZipFile"], "Content.ZipFile")


class LayerApi:
    """PublishLayerVersion, GetLayerVersion(ByArn), ListLayers, ListLayerVersions,
    DeleteLayerVersion and the layer version permissions, over one Lab."""

    lab: "Lab"

    def _layer_version(self, version: LayerVersion) -> dict[str, Any]:
        return version.to_aws(self.lab.layer_location(version))

    def publish_layer_version(self, params: Params) -> dict[str, Any]:
        version = self.lab.publish_layer_version(
            params["LayerName"],
            _source(params["Content"]),
            description=params.get("Description") or "",
            compatible_runtimes=params.get("CompatibleRuntimes"),
            compatible_architectures=params.get("CompatibleArchitectures"),
            license_info=params.get("LicenseInfo"),
        )
        return self._layer_version(version)

    def get_layer_version(self, params: Params) -> dict[str, Any]:
        version = self.lab.get_layer_version(params["LayerName"], params["VersionNumber"])
        return self._layer_version(version)

    def get_layer_version_by_arn(self, params: Params) -> dict[str, Any]:
        return self._layer_version(self.lab.get_layer_version_by_arn(params["Arn"]))

    def list_layers(self, params: Params) -> dict[str, Any]:
        latest = self.lab.list_layers(
            params.get("CompatibleRuntime"), params.get("CompatibleArchitecture")
        )
        return listing("Layers", latest, params, limits.LAYER_LIST_PAGE_MAX,
                       LayerVersion.to_layers_list_item)

    def list_layer_versions(self, params: Params) -> dict[str, Any]:
        versions = self.lab.list_layer_versions(
            params["LayerName"], params.get("CompatibleRuntime"), params.get("CompatibleArchitecture")
        )
        return listing("LayerVersions", versions, params, limits.LAYER_LIST_PAGE_MAX,
                       LayerVersion.to_list_item)

    def delete_layer_version(self, params: Params) -> None:
        self.lab.delete_layer_version(params["LayerName"], params["VersionNumber"])

    def add_layer_version_permission(self, params: Params) -> dict[str, Any]:
        permission = self.lab.add_layer_version_permission(
            params["LayerName"],
            params["VersionNumber"],
            params["StatementId"],
            params["Action"],
            params["Principal"],
            organization_id=params.get("OrganizationId"),
            revision_id=params.get("RevisionId"),
        )
        return permission.to_aws()

    def get_layer_version_policy(self, params: Params) -> dict[str, Any]:
        policy = self.lab.get_layer_version_policy(params["LayerName"], params["VersionNumber"])
        return {"Policy": json.dumps(policy.document()), "RevisionId": policy.revision_id}

    def remove_layer_version_permission(self, params: Params) -> None:
        self.lab.remove_layer_version_permission(
            params["LayerName"],
            params["VersionNumber"],
            params["StatementId"],
            revision_id=params.get("RevisionId"),
        )
