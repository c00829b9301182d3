"""The Lambda API's operations over one :class:`~lambdalab.Lab`: plain data in, plain data out.

Each method is one operation of the Lambda API (2015-03-31), named in snake_case after it
(``CreateFunction`` → :meth:`LambdaOperations.create_function`). It takes the operation's
input as the protocol layer read it from the request (``{"FunctionName": "f",
"Qualifier": "1", …}``, typed and checked against botocore's ``lambda`` model) and
returns the output as a dict, which the layer writes with the status code, headers and
JSON body of https://docs.aws.amazon.com/lambda/latest/api/API_Operations.html. No method
touches HTTP: errors are the :mod:`lambdalab.errors` class AWS would answer with, raised.

Request fields the Lab has no parameter for (``VpcConfig``, …) are
accepted and ignored, as the reference page says; fields lambdalab cannot honour in a way
that would change behaviour (container images) are refused with
InvalidParameterValueException.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Callable

from .. import limits
from ..errors import InvalidParameterValueException, PreconditionFailedException
from ..arn import parse_function_ref
from ..lab import Lab
from ..models import InvokeResult
from ..protocol.service import TRACE_HEADER
from .lambda_params import Params, decoded_zip, listing, required, supported
from .layer_operations import LayerApi


@dataclass(frozen=True)
class Answered:
    """An output that carries a request id of its own: an invocation's, which AWS
    answers Invoke and InvokeAsync with (``x-amzn-RequestId``)."""

    output: dict[str, Any]
    request_id: str


def zip_file(code: Params, where: str, lab: Lab) -> bytes:
    """The deployment package: ``ZipFile`` (base64 in JSON, as botocore sends it: the
    layer has decoded it), or the S3 object ``S3Bucket``/``S3Key``
    (``S3ObjectVersion``) names, read from the lab's S3."""
    if code.get("ImageUri") is not None:
        raise _no_images(code["ImageUri"])
    if code.get("S3Bucket") is not None or code.get("S3Key") is not None:
        if code.get("ZipFile") is not None:
            raise InvalidParameterValueException(
                "Please provide a source for function code: either ZipFile or S3Bucket and "
                "S3Key, not both."
            )
        for field in ("S3Bucket", "S3Key"):
            if not isinstance(code.get(field), str):
                raise InvalidParameterValueException(
                    f"{where}{field} is required with {where}S3Bucket/{where}S3Key: name "
                    "the bucket and the key of the zip."
                )
        return lab.code_from_s3(code["S3Bucket"], code["S3Key"], code.get("S3ObjectVersion"))
    data = code.get("ZipFile")
    if data is None:
        raise InvalidParameterValueException(
            f"{where}ZipFile is required: send the deployment package as a base64 zip, or "
            f"name it in S3 with {where}S3Bucket and {where}S3Key."
        )
    data = decoded_zip(data, f"{where}ZipFile")
    if len(data) > limits.ZIPPED_PACKAGE_MAX_BYTES:
        raise InvalidParameterValueException(
            f"Unzipped size must be smaller than {limits.ZIPPED_PACKAGE_MAX_BYTES} bytes"
            " (zipped, uploaded directly). Make the package smaller."
        )
    return data


def _no_images(image_uri: Any) -> InvalidParameterValueException:
    """A container image function: AWS's answer for an image it cannot find, and why."""
    why = (
        "lambdalab runs .zip packages only: it has no container registry and no image "
        "runtime, so no image can be found. Package the function as a .zip (PackageType "
        "Zip, Code.ZipFile or Code.S3Bucket/S3Key)."
    )
    if not image_uri:
        return InvalidParameterValueException(
            f"An image is required when the package type is set to 'image'. {why}"
        )
    return InvalidParameterValueException(
        f"Source image {image_uri} does not exist. Provide a valid source image. {why}"
    )


def invoke_output(result: InvokeResult) -> Answered:
    """Invoke's output: the payload as it came, what happened in ``X-Amz-*`` headers and
    the status code; the request id is the invocation's."""
    return Answered(result.to_aws(), result.request_id)


class LambdaOperations(LayerApi):
    """Every Lambda API operation lambdalab serves, over one :class:`~lambdalab.Lab`
    (the layer operations are :class:`~lambdalab.server.layer_operations.LayerApi`)."""

    def __init__(self, lab: Lab) -> None:
        self.lab = lab

    # -- functions --------------------------------------------------------------------

    def create_function(self, params: Params) -> dict[str, Any]:
        code = params["Code"]
        if params.get("PackageType", "Zip") != "Zip":
            raise _no_images(code.get("ImageUri"))
        for field in ("Runtime", "Handler"):
            if params.get(field) is None:
                raise InvalidParameterValueException(
                    "Runtime and Handler are mandatory parameters for functions created "
                    f"with deployment packages. Add {field}."
                )
        config = self.lab.create_function(
            params["FunctionName"],
            zip_file(code, "Code.", self.lab),
            publish=bool(params.get("Publish")),
            tags=params.get("Tags"),
            **self._settings(params, self.lab.create_function),
        )
        return config.to_aws()

    @staticmethod
    def _settings(params: Params, method: Callable[..., Any]) -> dict[str, Any]:
        """The configuration fields CreateFunction and UpdateFunctionConfiguration share."""
        storage = params.get("EphemeralStorage")
        return supported(
            method,
            {
                "runtime": params.get("Runtime"),
                "handler": params.get("Handler"),
                "role": params.get("Role"),
                "memory_size": params.get("MemorySize"),
                "timeout": params.get("Timeout"),
                "environment": params.get("Environment"),
                "description": params.get("Description"),
                "ephemeral_storage": None if storage is None else storage.get("Size"),
                "dead_letter_config": params.get("DeadLetterConfig"),
                "layers": params.get("Layers"),
                "tracing_config": params.get("TracingConfig"),
                "logging_config": params.get("LoggingConfig"),
            },
        )

    def get_function(self, params: Params) -> dict[str, Any]:
        return self.lab.get_function(params["FunctionName"], params.get("Qualifier")).to_aws()

    def get_function_configuration(self, params: Params) -> dict[str, Any]:
        config = self.lab.get_function_configuration(params["FunctionName"], params.get("Qualifier"))
        return config.to_aws()

    def list_functions(self, params: Params) -> dict[str, Any]:
        if params.get("MasterRegion") is not None:
            raise InvalidParameterValueException(
                "MasterRegion: lambdalab emulates one region and no Lambda@Edge replicas. "
                "Leave MasterRegion out."
            )
        functions = self.lab.list_functions()
        if params.get("FunctionVersion") == "ALL":
            functions = [
                v for f in functions for v in self.lab.list_versions_by_function(f.function_name)
            ]
        return listing("Functions", functions, params, limits.LIST_FUNCTIONS_PAGE_MAX)

    def update_function_code(self, params: Params) -> dict[str, Any]:
        name = params["FunctionName"]
        data = zip_file(params, "", self.lab)
        self._check_revision(name, None, params.get("RevisionId"))
        if params.get("DryRun"):
            return self.lab.get_function_configuration(name).to_aws()
        return self.lab.update_function_code(name, data, publish=bool(params.get("Publish"))).to_aws()

    def update_function_configuration(self, params: Params) -> dict[str, Any]:
        name = params["FunctionName"]
        self._check_revision(name, None, params.get("RevisionId"))
        config = self.lab.update_function_configuration(
            name, **self._settings(params, self.lab.update_function_configuration)
        )
        return config.to_aws()

    def delete_function(self, params: Params) -> dict[str, Any]:
        self.lab.delete_function(params["FunctionName"], params.get("Qualifier"))
        return {"StatusCode": 204}

    def _check_revision(self, name: str, qualifier: str | None, revision_id: str | None) -> None:
        """RevisionId: act only if the function (or alias) is still at that revision."""
        if revision_id is None:
            return
        if qualifier is None:
            current = self.lab.get_function_configuration(name).revision_id
        else:
            current = self.lab.get_alias(name, qualifier).revision_id
        if revision_id != current:
            raise PreconditionFailedException(
                "The Revision Id provided does not match the latest Revision Id. Call the "
                "GetFunction/GetAlias API to retrieve the latest Revision Id"
            )

    # -- invoking ---------------------------------------------------------------------

    def invoke(self, params: Params) -> Answered:
        """``Event`` and ``DryRun`` invokes (a synchronous one is awaited on the event
        loop: :meth:`~lambdalab.server.lambda_service.LambdaService.invoke_on_loop`)."""
        return invoke_output(self.lab.invoke(params["FunctionName"], params.get("Payload", b""),
                                             **invoke_options(params)))

    # -- versions ---------------------------------------------------------------------

    def publish_version(self, params: Params) -> dict[str, Any]:
        name = params["FunctionName"]
        latest = self.lab.get_function_configuration(name)
        self._check_revision(name, None, params.get("RevisionId"))
        sha = params.get("CodeSha256")
        if sha is not None and sha != latest.code_sha256:
            raise InvalidParameterValueException(
                f"CodeSHA256 ({sha}) is different from current CodeSHA256 in $LATEST "
                f"({latest.code_sha256}). Please try again with the CodeSHA256 in $LATEST."
            )
        return self.lab.publish_version(name, params.get("Description")).to_aws()

    def list_versions_by_function(self, params: Params) -> dict[str, Any]:
        versions = self.lab.list_versions_by_function(params["FunctionName"])
        return listing("Versions", versions, params, limits.LIST_FUNCTIONS_PAGE_MAX)

    # -- aliases ----------------------------------------------------------------------

    def create_alias(self, params: Params) -> dict[str, Any]:
        alias = self.lab.create_alias(
            params["FunctionName"],
            params["Name"],
            params["FunctionVersion"],
            description=params.get("Description") or "",
            routing_config=params.get("RoutingConfig"),
        )
        return alias.to_aws()

    def get_alias(self, params: Params) -> dict[str, Any]:
        return self.lab.get_alias(params["FunctionName"], params["Name"]).to_aws()

    def update_alias(self, params: Params) -> dict[str, Any]:
        name, alias_name = params["FunctionName"], params["Name"]
        self._check_revision(name, alias_name, params.get("RevisionId"))
        alias = self.lab.update_alias(
            name,
            alias_name,
            function_version=params.get("FunctionVersion"),
            description=params.get("Description"),
            routing_config=params.get("RoutingConfig"),
        )
        return alias.to_aws()

    def list_aliases(self, params: Params) -> dict[str, Any]:
        aliases = self.lab.list_aliases(params["FunctionName"])
        version = params.get("FunctionVersion")
        if version is not None:
            aliases = [a for a in aliases if a.function_version == version]
        return listing("Aliases", aliases, params, limits.LIST_MAX_ITEMS)

    def delete_alias(self, params: Params) -> None:
        self.lab.delete_alias(params["FunctionName"], params["Name"])

    # -- concurrency ------------------------------------------------------------------

    def put_function_concurrency(self, params: Params) -> dict[str, Any]:
        granted = self.lab.put_function_concurrency(
            params["FunctionName"], params["ReservedConcurrentExecutions"]
        )
        return {"ReservedConcurrentExecutions": granted}

    def get_function_concurrency(self, params: Params) -> dict[str, Any]:
        reserved = self.lab.get_function_concurrency(params["FunctionName"])
        return {} if reserved is None else {"ReservedConcurrentExecutions": reserved}

    def delete_function_concurrency(self, params: Params) -> None:
        self.lab.delete_function_concurrency(params["FunctionName"])

    # -- resource-based policy --------------------------------------------------------

    def add_permission(self, params: Params) -> dict[str, Any]:
        statement = self.lab.add_permission(
            params["FunctionName"],
            params["StatementId"],
            params["Action"],
            params["Principal"],
            qualifier=params.get("Qualifier"),
            source_arn=params.get("SourceArn"),
            source_account=params.get("SourceAccount"),
            principal_org_id=params.get("PrincipalOrgID"),
            event_source_token=params.get("EventSourceToken"),
            function_url_auth_type=params.get("FunctionUrlAuthType"),
            revision_id=params.get("RevisionId"),
        )
        return {"Statement": json.dumps(statement)}

    def remove_permission(self, params: Params) -> None:
        self.lab.remove_permission(
            params["FunctionName"],
            params["StatementId"],
            qualifier=params.get("Qualifier"),
            revision_id=params.get("RevisionId"),
        )

    def get_policy(self, params: Params) -> dict[str, Any]:
        return self.lab.get_policy(params["FunctionName"], params.get("Qualifier")).to_aws()

    # -- code signing, legacy invoke --------------------------------------------------

    def get_function_code_signing_config(self, params: Params) -> dict[str, Any]:
        """lambdalab signs nothing: no function has a code signing configuration, and
        the answer is empty, as LocalStack's (recorded against AWS) is for such a one."""
        self.lab.get_function_configuration(parse_function_ref(params["FunctionName"]).name)
        return {}

    def invoke_async(self, params: Params) -> Answered:
        """InvokeAsync (deprecated by AWS, still used by old tutorials): an ``Event``
        invoke, answered ``202``
        (https://docs.aws.amazon.com/lambda/latest/api/API_InvokeAsync.html)."""
        result = self.lab.invoke(params["FunctionName"], params.get("InvokeArgs", b""),
                                 invocation_type="Event")
        return Answered({"Status": 202}, result.request_id)

    # -- tags -------------------------------------------------------------------------

    def tag_resource(self, params: Params) -> None:
        self.lab.tag_resource(params["Resource"], params["Tags"])

    def untag_resource(self, params: Params) -> None:
        self.lab.untag_resource(params["Resource"], params["TagKeys"])

    def list_tags(self, params: Params) -> dict[str, Any]:
        return {"Tags": self.lab.list_tags(params["Resource"])}

    # -- account ----------------------------------------------------------------------

    def get_account_settings(self, params: Params) -> dict[str, Any]:
        return self.lab.get_account_settings()

    # -- asynchronous invocation configuration ----------------------------------------

    @staticmethod
    def _event_invoke_settings(params: Params) -> dict[str, Any]:
        return {
            "qualifier": params.get("Qualifier"),
            "maximum_retry_attempts": params.get("MaximumRetryAttempts"),
            "maximum_event_age_in_seconds": params.get("MaximumEventAgeInSeconds"),
            "destination_config": params.get("DestinationConfig"),
        }

    def put_function_event_invoke_config(self, params: Params) -> dict[str, Any]:
        config = self.lab.put_function_event_invoke_config(
            params["FunctionName"], **self._event_invoke_settings(params)
        )
        return config.to_aws()

    def update_function_event_invoke_config(self, params: Params) -> dict[str, Any]:
        config = self.lab.update_function_event_invoke_config(
            params["FunctionName"], **self._event_invoke_settings(params)
        )
        return config.to_aws()

    def get_function_event_invoke_config(self, params: Params) -> dict[str, Any]:
        config = self.lab.get_function_event_invoke_config(
            params["FunctionName"], params.get("Qualifier")
        )
        return config.to_aws()

    def delete_function_event_invoke_config(self, params: Params) -> None:
        self.lab.delete_function_event_invoke_config(params["FunctionName"], params.get("Qualifier"))

    def list_function_event_invoke_configs(self, params: Params) -> dict[str, Any]:
        configs = self.lab.list_function_event_invoke_configs(params["FunctionName"])
        return listing("FunctionEventInvokeConfigs", configs, params, limits.LIST_FUNCTIONS_PAGE_MAX)

    # -- function URLs ----------------------------------------------------------------

    def create_function_url_config(self, params: Params) -> dict[str, Any]:
        config = self.lab.create_function_url_config(
            params["FunctionName"],
            params["AuthType"],
            qualifier=params.get("Qualifier"),
            cors=params.get("Cors"),
            invoke_mode=params.get("InvokeMode"),
        )
        created = _echo_invoke_mode(config.to_aws(), params)
        del created["LastModifiedTime"]  # CreateFunctionUrlConfig's output has no such field
        return created

    def get_function_url_config(self, params: Params) -> dict[str, Any]:
        return self.lab.get_function_url_config(params["FunctionName"], params.get("Qualifier")).to_aws()

    def update_function_url_config(self, params: Params) -> dict[str, Any]:
        config = self.lab.update_function_url_config(
            params["FunctionName"],
            qualifier=params.get("Qualifier"),
            auth_type=params.get("AuthType"),
            cors=params.get("Cors"),
            invoke_mode=params.get("InvokeMode"),
        )
        return _echo_invoke_mode(config.to_aws(), params)

    def delete_function_url_config(self, params: Params) -> None:
        self.lab.delete_function_url_config(params["FunctionName"], params.get("Qualifier"))

    def list_function_url_configs(self, params: Params) -> dict[str, Any]:
        configs = self.lab.list_function_url_configs(params["FunctionName"])
        return listing("FunctionUrlConfigs", configs, params, limits.FUNCTION_URL_LIST_MAX)

    # -- event source mappings (kept by a plugin: lambdalab_event_source_mappings) -----

    @staticmethod
    def _mapping_settings(params: Params) -> dict[str, Any]:
        return {
            "enabled": params.get("Enabled"),
            "batch_size": params.get("BatchSize"),
            "maximum_batching_window_in_seconds": params.get("MaximumBatchingWindowInSeconds"),
            "function_response_types": params.get("FunctionResponseTypes"),
            "scaling_config": params.get("ScalingConfig"),
            "filter_criteria": params.get("FilterCriteria"),
            **{snake: params.get(name) for name, snake in _STREAM_MAPPING_FIELDS.items()},
        }

    def create_event_source_mapping(self, params: Params) -> dict[str, Any]:
        _refuse_unknown_mapping_fields(params)
        settings = {k: v for k, v in self._mapping_settings(params).items() if v is not None}
        mapping = self.lab.create_event_source_mapping(
            params["FunctionName"],
            event_source_arn=params.get("EventSourceArn"),
            tags=params.get("Tags"),
            **settings,
        )
        return mapping.to_aws()

    def get_event_source_mapping(self, params: Params) -> dict[str, Any]:
        return self.lab.get_event_source_mapping(params["UUID"]).to_aws()

    def update_event_source_mapping(self, params: Params) -> dict[str, Any]:
        _refuse_unknown_mapping_fields(params)
        mapping = self.lab.update_event_source_mapping(
            params["UUID"],
            function_name=params.get("FunctionName"),
            **self._mapping_settings(params),
        )
        return mapping.to_aws()

    def delete_event_source_mapping(self, params: Params) -> dict[str, Any]:
        return self.lab.delete_event_source_mapping(params["UUID"]).to_aws()

    def list_event_source_mappings(self, params: Params) -> dict[str, Any]:
        mappings = self.lab.list_event_source_mappings(
            event_source_arn=params.get("EventSourceArn"),
            function_name=params.get("FunctionName"),
        )
        return listing("EventSourceMappings", mappings, params, limits.EVENT_SOURCE_MAPPING_PAGE_MAX)


#: The event source mapping fields lambdalab implements (SQS sources), and the path's UUID.
_MAPPING_FIELDS = frozenset({
    "FunctionName", "EventSourceArn", "Enabled", "BatchSize",
    "MaximumBatchingWindowInSeconds", "FunctionResponseTypes", "ScalingConfig", "FilterCriteria",
    "Tags", "UUID",
})


#: The stream-only fields, handed to the keeper of the source, which refuses what it
#: does not take (the SQS keeper: all of them).
_STREAM_MAPPING_FIELDS = {
    "StartingPosition": "starting_position",
    "StartingPositionTimestamp": "starting_position_timestamp",
    "ParallelizationFactor": "parallelization_factor",
    "BisectBatchOnFunctionError": "bisect_batch_on_function_error",
    "MaximumRetryAttempts": "maximum_retry_attempts",
    "MaximumRecordAgeInSeconds": "maximum_record_age_in_seconds",
    "DestinationConfig": "destination_config",
    "TumblingWindowInSeconds": "tumbling_window_in_seconds",
}


def _refuse_unknown_mapping_fields(params: Params) -> None:
    """The stream-only fields are refused for an SQS source rather than ignored."""
    stream = str(params.get("EventSourceArn") or "").split(":")[2:3] != ["sqs"]
    if "DestinationConfig" in params and not stream:  # AWS's answer for an SQS source
        raise InvalidParameterValueException(
            "Unsupported DestinationConfig parameter for given event source mapping type."
        )
    unknown = sorted(set(params) - _MAPPING_FIELDS - (set(_STREAM_MAPPING_FIELDS) if stream else set()))
    if unknown:
        raise InvalidParameterValueException(
            f"lambdalab's event source mappings do not support {', '.join(unknown)} yet. "
            "Remove it, or filter in the handler."
        )


def _echo_invoke_mode(answer: dict[str, Any], params: Params) -> dict[str, Any]:
    """Create/UpdateFunctionUrlConfig answer InvokeMode only when the request set it (as
    recorded against AWS); GetFunctionUrlConfig always names it."""
    if params.get("InvokeMode") is None:
        answer.pop("InvokeMode", None)
    return answer




def invoke_options(params: Params) -> dict[str, Any]:
    """:meth:`~lambdalab.Lab.invoke`'s keyword arguments from Invoke's query string and
    ``X-Amz-*`` headers."""
    return {
        "qualifier": params.get("Qualifier"),
        "invocation_type": params.get("InvocationType", "RequestResponse"),
        "log_type": params.get("LogType", "None"),
        "client_context": params.get("ClientContext"),
        "trace_header": params.get(TRACE_HEADER),
    }


__all__ = ["TRACE_HEADER", "Answered", "LambdaOperations", "invoke_output", "invoke_options"]
