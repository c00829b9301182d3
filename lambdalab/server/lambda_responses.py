"""The Lambda REST API's wire layer: parse a request, call :class:`~lambdalab.Lab`, answer.

Each method is one operation of the Lambda API (2015-03-31), named in snake_case after it
(``CreateFunction`` → :meth:`LambdaResponses.create_function`), and returns a
:class:`~lambdalab.server.wire.WireResponse` with the status code, headers and JSON body
of https://docs.aws.amazon.com/lambda/latest/api/API_Operations.html. No method writes
an error body: they raise the :mod:`lambdalab.errors` class AWS would answer with, and
:func:`~lambdalab.server.wire.error_response` renders it.

Request fields the Lab has no parameter for (``VpcConfig``, …) are
accepted and ignored, as the reference page says; fields lambdalab cannot honour in a way
that would change behaviour (container images) are refused with
InvalidParameterValueException.
"""

from __future__ import annotations

import base64
import binascii
import inspect
import json
import re
from typing import Any, Callable, Iterable, Mapping, TypedDict, TypeVar

from .. import limits
from ..errors import (
    InvalidParameterValueException,
    InvalidRequestContentException,
    PreconditionFailedException,
    ResourceNotFoundException,
    ValidationException,
)
from ..arn import parse_function_ref
from ..invoker import RunBlocking
from ..lab import Lab
from ..models import InvokeResult
from ..protocol import BodyError, Violation, json_object, message, rest_input, rest_params, validate
from ..protocol.inputs import RestInput
from .layer_responses import LayerResponses
from .wire import JSON, WireRequest, WireResponse, page

T = TypeVar("T")

#: CreateFunction's Role, as the API's RoleArn pattern has it.
_ROLE_ARN = re.compile(r"^arn:(aws[a-zA-Z-]*)?:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-/]+$")


# -- validating a request against Lambda's model ----------------------------------------


def check_request(operation: str, req: WireRequest) -> None:
    """Check ``req`` against ``operation``'s input shape in botocore's Lambda model, and
    raise what Lambda answers for the first kind of fault found:

    - a body that is not a JSON object, or a member of the wrong JSON type (a list where
      a map goes): InvalidRequestContentException, ``Could not parse request body into
      json: …``, as Lambda's JSON reader answers;
    - any other violation (missing, too long, out of range, off pattern or enum):
      ValidationException, ``N validation error(s) detected: …``;
    - ``Runtime`` off its enum alone: InvalidParameterValueException, ``Value foo at
      'runtime' failed to satisfy constraint: …`` (AWS's recorded answer for it).
    """
    layout = rest_input("lambda", operation)
    if layout is None:
        return
    try:
        body = json_object(req.body) if layout.json_body else None
    except BodyError as e:
        raise InvalidRequestContentException(f"Could not parse request body into json: {e}") from None
    params = rest_params(layout, req.params, req.query, req.headers, body)
    if not layout.json_body:  # a blob payload (Invoke's Payload, InvokeAsync's InvokeArgs)
        params.update({m.name: req.body for m in layout.members if not m.location})
    violations = validate("lambda", operation, params)
    if not violations:
        return
    wrong_types = [v for v in violations if v.kind == "type"]
    if wrong_types:
        in_body = [v for v in wrong_types if layout_location(layout, v) == ""]
        if in_body:
            raise InvalidRequestContentException(
                f"Could not parse request body into json: {message(in_body)}"
            )
        raise ValidationException(message(wrong_types))
    runtime = [v for v in violations if v.members == ("Runtime",)]
    if runtime and len(runtime) == len(violations):
        raise InvalidParameterValueException(
            f"Value {runtime[0].value} at 'runtime' failed to satisfy constraint: "
            f"{runtime[0].constraint}"
        )
    raise ValidationException(message(violations))


def layout_location(layout: RestInput, violation: Violation) -> str:
    """Where on the wire the member of ``violation`` travels (``""``: the body)."""
    top = violation.members[0] if violation.members else ""
    return next((m.location for m in layout.members if m.name == top), "")


# -- reading parameters ---------------------------------------------------------------


def required(body: Mapping[str, Any], field: str) -> Any:
    if body.get(field) is None:
        raise InvalidParameterValueException(
            f"{field} is required. Add it to the request (see the {field} parameter of "
            "this operation in the Lambda API reference)."
        )
    return body[field]


def typed(body: Mapping[str, Any], field: str, kind: type[T] | tuple[type, ...]) -> T | None:
    """``body[field]`` if present and of ``kind``; a clear error when it is not."""
    value = body.get(field)
    if value is None:
        return None
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        names = kind.__name__ if isinstance(kind, type) else "/".join(k.__name__ for k in kind)
        raise InvalidParameterValueException(
            f"{field}: {value!r} is not valid. Send a JSON {names.replace('str', 'string')}."
        )
    return value  # type: ignore[return-value]


def zip_file(body: Mapping[str, Any], where: str, lab: Lab) -> bytes:
    """The deployment package: ``ZipFile`` (base64 in JSON, as botocore sends it), or the
    S3 object ``S3Bucket``/``S3Key`` (``S3ObjectVersion``) names, read from the lab's S3."""
    if body.get("ImageUri") is not None:
        raise _no_images(body["ImageUri"])
    if body.get("S3Bucket") is not None or body.get("S3Key") is not None:
        if body.get("ZipFile") is not None:
            raise InvalidParameterValueException(
                "Please provide a source for function code: either ZipFile or S3Bucket and "
                "S3Key, not both."
            )
        for field in ("S3Bucket", "S3Key"):
            if not isinstance(body.get(field), str):
                raise InvalidParameterValueException(
                    f"{where}{field} is required with {where}S3Bucket/{where}S3Key: name "
                    "the bucket and the key of the zip."
                )
        return lab.code_from_s3(body["S3Bucket"], body["S3Key"], body.get("S3ObjectVersion"))
    encoded = body.get("ZipFile")
    if encoded is None:
        raise InvalidParameterValueException(
            f"{where}ZipFile is required: send the deployment package as a base64 zip, or "
            f"name it in S3 with {where}S3Bucket and {where}S3Key."
        )
    try:
        data = base64.b64decode(encoded, validate=True)
    except (binascii.Error, TypeError, ValueError):
        raise InvalidParameterValueException(
            f"{where}ZipFile: not valid base64. Send the zip file's bytes base64 encoded."
        ) from None
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




def _listing(name: str, chunk: Iterable[Any], next_marker: str | None) -> dict[str, Any]:
    out: dict[str, Any] = {name: [item.to_aws() for item in chunk]}
    if next_marker is not None:
        out["NextMarker"] = next_marker
    return out


def supported(method: Callable[..., T], given: Mapping[str, Any]) -> dict[str, Any]:
    """The arguments of ``given`` that ``method`` takes; the rest must be ``None``.

    Lets the wire layer pass an optional field (e.g. ``DeadLetterConfig``) only when the
    Lab offers it, and refuse it clearly when it does not.
    """
    accepted = inspect.signature(method).parameters
    for name, value in given.items():
        if value is not None and name not in accepted:
            wire = "".join(part.title() for part in name.split("_"))
            raise InvalidParameterValueException(
                f"{wire}: lambdalab does not support this parameter yet. Leave it out."
            )
    return {name: value for name, value in given.items() if name in accepted and value is not None}


class LambdaResponses(LayerResponses):
    """Every Lambda API operation lambdalab serves, over one :class:`~lambdalab.Lab`
    (the layer operations are :class:`~lambdalab.server.layer_responses.LayerResponses`)."""

    lab: Lab

    def __init__(self, lab: Lab) -> None:
        self.lab = lab

    def handler_for(self, operation: str, name: str) -> Callable[[WireRequest], WireResponse]:
        """The method answering ``operation``; its ARNs name the region the request was
        signed for (Invoke's payload is the function's own, and left as it is)."""
        method: Callable[[WireRequest], WireResponse] = getattr(self, name)
        region = self.lab.arns.region

        def in_region(req: WireRequest) -> WireResponse:
            refuse_other_region(req, region)
            if operation == "Invoke":
                return method(req)
            return in_signing_region(method(req), req, region)

        return in_region

    # -- functions --------------------------------------------------------------------

    def create_function(self, req: WireRequest) -> WireResponse:
        body = req.json()
        name = required(body, "FunctionName")
        role = required(body, "Role")
        if not isinstance(role, str) or not _ROLE_ARN.match(role):
            raise InvalidParameterValueException(
                f"Role: {role!r} is not a role ARN. Use one like "
                f"arn:aws:iam::{self.lab.arns.account_id}:role/lambda-role (lambdalab does "
                "not check that the role exists)."
            )
        code = typed(body, "Code", dict)
        if body.get("PackageType", "Zip") != "Zip":
            raise _no_images((code or {}).get("ImageUri"))
        if code is None:
            required(body, "Code")
        assert code is not None  # required() raised otherwise
        for field in ("Runtime", "Handler"):
            if body.get(field) is None:
                raise InvalidParameterValueException(
                    "Runtime and Handler are mandatory parameters for functions created "
                    f"with deployment packages. Add {field}."
                )
        config = self.lab.create_function(
            name,
            zip_file(code, "Code.", self.lab),
            publish=bool(typed(body, "Publish", bool)),
            tags=typed(body, "Tags", dict),
            **self._settings(body, self.lab.create_function),
        )
        return WireResponse.of_json(201, config.to_aws())

    @staticmethod
    def _settings(body: Mapping[str, Any], method: Callable[..., Any]) -> dict[str, Any]:
        """The configuration fields CreateFunction and UpdateFunctionConfiguration share."""
        storage = typed(body, "EphemeralStorage", dict)
        return supported(
            method,
            {
                "runtime": body.get("Runtime"),
                "handler": body.get("Handler"),
                "role": typed(body, "Role", str),
                "memory_size": body.get("MemorySize"),
                "timeout": body.get("Timeout"),
                "environment": typed(body, "Environment", dict),
                "description": body.get("Description"),
                "ephemeral_storage": None if storage is None else storage.get("Size"),
                "dead_letter_config": typed(body, "DeadLetterConfig", dict),
                "layers": typed(body, "Layers", list),
                "logging_config": typed(body, "LoggingConfig", dict),
            },
        )

    def get_function(self, req: WireRequest) -> WireResponse:
        details = self.lab.get_function(req.params["FunctionName"], req.query.get("Qualifier"))
        return WireResponse.of_json(200, details.to_aws())

    def get_function_configuration(self, req: WireRequest) -> WireResponse:
        config = self.lab.get_function_configuration(
            req.params["FunctionName"], req.query.get("Qualifier")
        )
        return WireResponse.of_json(200, config.to_aws())

    def list_functions(self, req: WireRequest) -> WireResponse:
        version = req.query.get("FunctionVersion")
        if version not in (None, "ALL"):
            raise InvalidParameterValueException(
                f"FunctionVersion: {version!r} is not valid. Use ALL, or leave it out to list "
                "$LATEST only."
            )
        if req.query.get("MasterRegion") is not None:
            raise InvalidParameterValueException(
                "MasterRegion: lambdalab emulates one region and no Lambda@Edge replicas. "
                "Leave MasterRegion out."
            )
        functions = self.lab.list_functions()
        if version == "ALL":
            functions = [
                v for f in functions for v in self.lab.list_versions_by_function(f.function_name)
            ]
        chunk, marker = page(functions, req.query, limits.LIST_FUNCTIONS_PAGE_MAX)
        return WireResponse.of_json(200, _listing("Functions", chunk, marker))

    def update_function_code(self, req: WireRequest) -> WireResponse:
        body = req.json()
        name = req.params["FunctionName"]
        data = zip_file(body, "", self.lab)
        self._check_revision(name, None, typed(body, "RevisionId", str))
        if typed(body, "DryRun", bool):
            return WireResponse.of_json(200, self.lab.get_function_configuration(name).to_aws())
        config = self.lab.update_function_code(
            name, data, publish=bool(typed(body, "Publish", bool))
        )
        return WireResponse.of_json(200, config.to_aws())

    def update_function_configuration(self, req: WireRequest) -> WireResponse:
        body = req.json()
        name = req.params["FunctionName"]
        self._check_revision(name, None, typed(body, "RevisionId", str))
        config = self.lab.update_function_configuration(
            name, **self._settings(body, self.lab.update_function_configuration)
        )
        return WireResponse.of_json(200, config.to_aws())

    def delete_function(self, req: WireRequest) -> WireResponse:
        self.lab.delete_function(req.params["FunctionName"], req.query.get("Qualifier"))
        return WireResponse.empty(204)

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

    def invoke(self, req: WireRequest) -> WireResponse:
        return invoke_response(self.lab.invoke(req.params["FunctionName"], req.body, **invoke_options(req)))

    async def invoke_on_loop(self, req: WireRequest, run_blocking: RunBlocking) -> WireResponse:
        """Invoke, on the event loop: the edge awaits the handler's answer."""
        refuse_other_region(req, self.lab.arns.region)
        result = await self.lab.invoke_async(
            req.params["FunctionName"], req.body, run_blocking=run_blocking, **invoke_options(req)
        )
        return invoke_response(result)

    # -- versions ---------------------------------------------------------------------

    def publish_version(self, req: WireRequest) -> WireResponse:
        body = req.json()
        name = req.params["FunctionName"]
        latest = self.lab.get_function_configuration(name)
        self._check_revision(name, None, typed(body, "RevisionId", str))
        sha = typed(body, "CodeSha256", str)
        if sha is not None and sha != latest.code_sha256:
            raise InvalidParameterValueException(
                f"CodeSHA256 ({sha}) is different from current CodeSHA256 in $LATEST "
                f"({latest.code_sha256}). Please try again with the CodeSHA256 in $LATEST."
            )
        version = self.lab.publish_version(name, typed(body, "Description", str))
        return WireResponse.of_json(201, version.to_aws())

    def list_versions_by_function(self, req: WireRequest) -> WireResponse:
        versions = self.lab.list_versions_by_function(req.params["FunctionName"])
        chunk, marker = page(versions, req.query, limits.LIST_FUNCTIONS_PAGE_MAX)
        return WireResponse.of_json(200, _listing("Versions", chunk, marker))

    # -- aliases ----------------------------------------------------------------------

    def create_alias(self, req: WireRequest) -> WireResponse:
        body = req.json()
        required(body, "Name")
        required(body, "FunctionVersion")
        alias = self.lab.create_alias(
            req.params["FunctionName"],
            typed(body, "Name", str) or "",
            typed(body, "FunctionVersion", str) or "",
            description=typed(body, "Description", str) or "",
            routing_config=typed(body, "RoutingConfig", dict),
        )
        return WireResponse.of_json(201, alias.to_aws())

    def get_alias(self, req: WireRequest) -> WireResponse:
        alias = self.lab.get_alias(req.params["FunctionName"], req.params["Name"])
        return WireResponse.of_json(200, alias.to_aws())

    def update_alias(self, req: WireRequest) -> WireResponse:
        body = req.json()
        name, alias_name = req.params["FunctionName"], req.params["Name"]
        self._check_revision(name, alias_name, typed(body, "RevisionId", str))
        alias = self.lab.update_alias(
            name,
            alias_name,
            function_version=typed(body, "FunctionVersion", str),
            description=typed(body, "Description", str),
            routing_config=typed(body, "RoutingConfig", dict),
        )
        return WireResponse.of_json(200, alias.to_aws())

    def list_aliases(self, req: WireRequest) -> WireResponse:
        aliases = self.lab.list_aliases(req.params["FunctionName"])
        version = req.query.get("FunctionVersion")
        if version is not None:
            aliases = [a for a in aliases if a.function_version == version]
        chunk, marker = page(aliases, req.query, limits.LIST_MAX_ITEMS)
        return WireResponse.of_json(200, _listing("Aliases", chunk, marker))

    def delete_alias(self, req: WireRequest) -> WireResponse:
        self.lab.delete_alias(req.params["FunctionName"], req.params["Name"])
        return WireResponse.empty(204)

    # -- concurrency ------------------------------------------------------------------

    def put_function_concurrency(self, req: WireRequest) -> WireResponse:
        body = req.json()
        granted = self.lab.put_function_concurrency(
            req.params["FunctionName"], required(body, "ReservedConcurrentExecutions")
        )
        return WireResponse.of_json(200, {"ReservedConcurrentExecutions": granted})

    def get_function_concurrency(self, req: WireRequest) -> WireResponse:
        reserved = self.lab.get_function_concurrency(req.params["FunctionName"])
        out = {} if reserved is None else {"ReservedConcurrentExecutions": reserved}
        return WireResponse.of_json(200, out)

    def delete_function_concurrency(self, req: WireRequest) -> WireResponse:
        self.lab.delete_function_concurrency(req.params["FunctionName"])
        return WireResponse.empty(204)

    # -- resource-based policy --------------------------------------------------------

    def add_permission(self, req: WireRequest) -> WireResponse:
        body = req.json()
        statement = self.lab.add_permission(
            req.params["FunctionName"],
            required(body, "StatementId"),
            required(body, "Action"),
            required(body, "Principal"),
            qualifier=req.query.get("Qualifier"),
            source_arn=body.get("SourceArn"),
            source_account=body.get("SourceAccount"),
            principal_org_id=body.get("PrincipalOrgID"),
            event_source_token=body.get("EventSourceToken"),
            function_url_auth_type=body.get("FunctionUrlAuthType"),
            revision_id=typed(body, "RevisionId", str),
        )
        return WireResponse.of_json(201, {"Statement": json.dumps(statement)})

    def remove_permission(self, req: WireRequest) -> WireResponse:
        self.lab.remove_permission(
            req.params["FunctionName"],
            req.params["StatementId"],
            qualifier=req.query.get("Qualifier"),
            revision_id=req.query.get("RevisionId"),
        )
        return WireResponse.empty(204)

    def get_policy(self, req: WireRequest) -> WireResponse:
        policy = self.lab.get_policy(req.params["FunctionName"], req.query.get("Qualifier"))
        return WireResponse.of_json(200, policy.to_aws())

    # -- code signing, legacy invoke --------------------------------------------------

    def get_function_code_signing_config(self, req: WireRequest) -> WireResponse:
        """lambdalab signs nothing: no function has a code signing configuration, and
        the answer is empty, as LocalStack's (recorded against AWS) is for such a one."""
        self.lab.get_function_configuration(parse_function_ref(req.params["FunctionName"]).name)
        return WireResponse.of_json(200, {})

    def invoke_async(self, req: WireRequest) -> WireResponse:
        """InvokeAsync (deprecated by AWS, still used by old tutorials): an ``Event``
        invoke, answered ``202 {"Status": 202}``
        (https://docs.aws.amazon.com/lambda/latest/api/API_InvokeAsync.html)."""
        result = self.lab.invoke(req.params["FunctionName"], req.body, invocation_type="Event")
        return WireResponse.of_json(202, {"Status": 202}, result.request_id)

    # -- tags -------------------------------------------------------------------------

    def tag_resource(self, req: WireRequest) -> WireResponse:
        body = req.json()
        self.lab.tag_resource(req.params["Resource"], typed(body, "Tags", dict) or {})
        return WireResponse.empty(204)

    def untag_resource(self, req: WireRequest) -> WireResponse:
        self.lab.untag_resource(req.params["Resource"], req.query.getlist("tagKeys"))
        return WireResponse.empty(204)

    def list_tags(self, req: WireRequest) -> WireResponse:
        return WireResponse.of_json(200, {"Tags": self.lab.list_tags(req.params["Resource"])})

    # -- account ----------------------------------------------------------------------

    def get_account_settings(self, req: WireRequest) -> WireResponse:
        return WireResponse.of_json(200, self.lab.get_account_settings())

    # -- asynchronous invocation configuration ----------------------------------------

    def _event_invoke_settings(self, req: WireRequest) -> dict[str, Any]:
        body = req.json()
        return {
            "qualifier": req.query.get("Qualifier"),
            "maximum_retry_attempts": body.get("MaximumRetryAttempts"),
            "maximum_event_age_in_seconds": body.get("MaximumEventAgeInSeconds"),
            "destination_config": typed(body, "DestinationConfig", dict),
        }

    def put_function_event_invoke_config(self, req: WireRequest) -> WireResponse:
        config = self.lab.put_function_event_invoke_config(
            req.params["FunctionName"], **self._event_invoke_settings(req)
        )
        return WireResponse.of_json(200, config.to_aws())

    def update_function_event_invoke_config(self, req: WireRequest) -> WireResponse:
        config = self.lab.update_function_event_invoke_config(
            req.params["FunctionName"], **self._event_invoke_settings(req)
        )
        return WireResponse.of_json(200, config.to_aws())

    def get_function_event_invoke_config(self, req: WireRequest) -> WireResponse:
        config = self.lab.get_function_event_invoke_config(
            req.params["FunctionName"], req.query.get("Qualifier")
        )
        return WireResponse.of_json(200, config.to_aws())

    def delete_function_event_invoke_config(self, req: WireRequest) -> WireResponse:
        self.lab.delete_function_event_invoke_config(
            req.params["FunctionName"], req.query.get("Qualifier")
        )
        return WireResponse.empty(204)

    def list_function_event_invoke_configs(self, req: WireRequest) -> WireResponse:
        configs = self.lab.list_function_event_invoke_configs(req.params["FunctionName"])
        chunk, marker = page(configs, req.query, limits.LIST_FUNCTIONS_PAGE_MAX)
        return WireResponse.of_json(200, _listing("FunctionEventInvokeConfigs", chunk, marker))

    # -- function URLs ----------------------------------------------------------------

    def create_function_url_config(self, req: WireRequest) -> WireResponse:
        body = req.json()
        config = self.lab.create_function_url_config(
            req.params["FunctionName"],
            required(body, "AuthType"),
            qualifier=req.query.get("Qualifier"),
            cors=typed(body, "Cors", dict),
            invoke_mode=typed(body, "InvokeMode", str),
        )
        created = _echo_invoke_mode(config.to_aws(), body)
        del created["LastModifiedTime"]  # CreateFunctionUrlConfig's output has no such field
        return WireResponse.of_json(201, created)

    def get_function_url_config(self, req: WireRequest) -> WireResponse:
        config = self.lab.get_function_url_config(
            req.params["FunctionName"], req.query.get("Qualifier")
        )
        return WireResponse.of_json(200, config.to_aws())

    def update_function_url_config(self, req: WireRequest) -> WireResponse:
        body = req.json()
        config = self.lab.update_function_url_config(
            req.params["FunctionName"],
            qualifier=req.query.get("Qualifier"),
            auth_type=typed(body, "AuthType", str),
            cors=typed(body, "Cors", dict),
            invoke_mode=typed(body, "InvokeMode", str),
        )
        return WireResponse.of_json(200, _echo_invoke_mode(config.to_aws(), body))

    def delete_function_url_config(self, req: WireRequest) -> WireResponse:
        self.lab.delete_function_url_config(req.params["FunctionName"], req.query.get("Qualifier"))
        return WireResponse.empty(204)

    def list_function_url_configs(self, req: WireRequest) -> WireResponse:
        configs = self.lab.list_function_url_configs(req.params["FunctionName"])
        chunk, marker = page(configs, req.query, limits.FUNCTION_URL_LIST_MAX)
        return WireResponse.of_json(200, _listing("FunctionUrlConfigs", chunk, marker))

    # -- event source mappings (kept by a plugin: lambdalab_event_source_mappings) -----

    def _mapping_settings(self, body: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "enabled": typed(body, "Enabled", bool),
            "batch_size": typed(body, "BatchSize", int),
            "maximum_batching_window_in_seconds": typed(body, "MaximumBatchingWindowInSeconds", int),
            "function_response_types": typed(body, "FunctionResponseTypes", list),
            "scaling_config": typed(body, "ScalingConfig", dict),
        }

    def create_event_source_mapping(self, req: WireRequest) -> WireResponse:
        body = req.json()
        _refuse_unknown_mapping_fields(body)
        settings = {k: v for k, v in self._mapping_settings(body).items() if v is not None}
        mapping = self.lab.create_event_source_mapping(
            required(body, "FunctionName"),
            event_source_arn=typed(body, "EventSourceArn", str),
            tags=typed(body, "Tags", dict),
            **settings,
        )
        return WireResponse.of_json(202, mapping.to_aws())

    def get_event_source_mapping(self, req: WireRequest) -> WireResponse:
        return WireResponse.of_json(200, self.lab.get_event_source_mapping(req.params["UUID"]).to_aws())

    def update_event_source_mapping(self, req: WireRequest) -> WireResponse:
        body = req.json()
        _refuse_unknown_mapping_fields(body)
        mapping = self.lab.update_event_source_mapping(
            req.params["UUID"],
            function_name=typed(body, "FunctionName", str),
            **self._mapping_settings(body),
        )
        return WireResponse.of_json(202, mapping.to_aws())

    def delete_event_source_mapping(self, req: WireRequest) -> WireResponse:
        return WireResponse.of_json(202, self.lab.delete_event_source_mapping(req.params["UUID"]).to_aws())

    def list_event_source_mappings(self, req: WireRequest) -> WireResponse:
        mappings = self.lab.list_event_source_mappings(
            event_source_arn=req.query.get("EventSourceArn"),
            function_name=req.query.get("FunctionName"),
        )
        chunk, marker = page(mappings, req.query, limits.EVENT_SOURCE_MAPPING_PAGE_MAX)
        return WireResponse.of_json(200, _listing("EventSourceMappings", chunk, marker))


#: The event source mapping fields lambdalab implements (SQS sources).
_MAPPING_FIELDS = frozenset({
    "FunctionName", "EventSourceArn", "Enabled", "BatchSize",
    "MaximumBatchingWindowInSeconds", "FunctionResponseTypes", "ScalingConfig", "Tags",
})


def _refuse_unknown_mapping_fields(body: dict[str, Any]) -> None:
    """FilterCriteria and the stream-only fields are refused rather than ignored."""
    if "DestinationConfig" in body:  # AWS's answer for an SQS source
        raise InvalidParameterValueException(
            "Unsupported DestinationConfig parameter for given event source mapping type."
        )
    unknown = sorted(set(body) - _MAPPING_FIELDS)
    if unknown:
        raise InvalidParameterValueException(
            f"lambdalab's event source mappings do not support {', '.join(unknown)} yet. "
            "Remove it, or filter in the handler."
        )


def _echo_invoke_mode(answer: dict[str, Any], body: Mapping[str, Any]) -> dict[str, Any]:
    """Create/UpdateFunctionUrlConfig answer InvokeMode only when the request set it (as
    recorded against AWS); GetFunctionUrlConfig always names it."""
    if body.get("InvokeMode") is None:
        answer.pop("InvokeMode", None)
    return answer


_SIGNING_REGION = re.compile(r"Credential=[^/\s,]+/\d{8}/([a-z0-9-]+)/")


def signing_region(req: WireRequest, lab_region: str) -> str:
    """The region of the request's SigV4 scope (the lab's own for an unsigned request)."""
    found = _SIGNING_REGION.search(req.headers.get("authorization", ""))
    return lab_region if found is None else found.group(1)


def refuse_other_region(req: WireRequest, lab_region: str) -> None:
    """A function ARN naming another region than the request's is not found, as on AWS."""
    named = req.params.get("FunctionName", "")
    if not named.startswith("arn:"):
        return
    parts = named.split(":")
    here = signing_region(req, lab_region)
    if len(parts) > 3 and parts[3] != here:
        raise ResourceNotFoundException(
            f"Functions from '{parts[3]}' are not reachable in this region ('{here}')"
        )


def in_signing_region(response: WireResponse, req: WireRequest, lab_region: str) -> WireResponse:
    """``response`` with its Lambda ARNs in the region of the request's SigV4 scope.

    On AWS a client signing for us-west-2 talks to us-west-2 and is answered with its
    ARNs. lambdalab keeps one set of functions (see docs/explanation/differences), and
    names them in the region each client signs for, so a script's ARNs are the ones it
    would get from AWS.
    """
    region = signing_region(req, lab_region)
    if region == lab_region or not response.body:
        return response
    ours = f"arn:aws:lambda:{lab_region}:".encode()
    response.body = response.body.replace(ours, f"arn:aws:lambda:{region}:".encode())
    return response


class InvokeOptions(TypedDict):
    """:meth:`~lambdalab.Lab.invoke`'s keyword arguments that the request carries."""

    qualifier: str | None
    invocation_type: str
    log_type: str
    client_context: str | None
    trace_header: str | None


def invoke_options(req: WireRequest) -> InvokeOptions:
    """Invoke's options from its query string and ``X-Amz-*`` headers."""
    headers = req.headers
    return {
        "qualifier": req.query.get("Qualifier"),
        "invocation_type": headers.get("x-amz-invocation-type", "RequestResponse"),
        "log_type": headers.get("x-amz-log-type", "None"),
        "client_context": headers.get("x-amz-client-context"),
        "trace_header": headers.get("x-amzn-trace-id"),
    }


def invoke_response(result: InvokeResult) -> WireResponse:
    """Invoke's answer: the payload, and what happened in ``X-Amz-*`` headers."""
    response = WireResponse(result.status_code, request_id=result.request_id)
    if result.status_code != 200:
        return response  # 202 Event, 204 DryRun: no body
    response.body = result.payload
    response.headers["Content-Type"] = JSON
    for header, value in (
        ("X-Amz-Executed-Version", result.executed_version),
        ("X-Amz-Function-Error", result.function_error),
        ("X-Amz-Log-Result", result.log_result),
    ):
        if value is not None:
            response.headers[header] = value
    return response
