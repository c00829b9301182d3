"""API Gateway's state: REST APIs (``apigateway``) and HTTP APIs (``apigatewayv2``).

Each API is one document in the lab's database, kept in AWS's own field names (the
output shapes of botocore's models: ``RestApi``, ``Resource``, ``Method``,
``Integration``, ``Stage``; v2's ``Api``, ``Route``, ``Integration``, ``Stage``), so
an operation's answer is the document's public part. Keys starting with ``_`` hold the
API's children and are never sent. This module never touches HTTP.

The Python API here is what ``lambdalab deploy`` (SAM's ``Api`` and ``HttpApi`` events)
calls; the management operations of :mod:`.responses` call it too.
"""

from __future__ import annotations

import copy
import functools
import json
import re
import secrets
import string
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Mapping, TypeVar

from lambdalab.plugin import parse_function_ref

from . import patch, quotas, resource_policy, validators
from .usage_plans import UsagePlans
from .exceptions import BadRequestException, ConflictException, NotFoundException

if TYPE_CHECKING:
    from lambdalab import Lab

T = TypeVar("T")

MIGRATIONS: dict[str, str] = {
    "apigateway-1": """
    CREATE TABLE apigateway_apis (
        id TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        config TEXT NOT NULL
    );
    """,
    # Each usage plan key's requests a UTC day (metering.py): kept, as AWS keeps usage, so a
    # key at its quota stays refused after the lab is opened again.
    "apigateway-2": """
    CREATE TABLE apigateway_usage (
        plan_id TEXT NOT NULL,
        key_id TEXT NOT NULL,
        day TEXT NOT NULL,
        used INTEGER NOT NULL,
        PRIMARY KEY (plan_id, key_id, day)
    );
    """,
    # UpdateUsage's extensions: requests given back to a key in one quota period.
    "apigateway-3": """
    CREATE TABLE apigateway_usage_credit (
        plan_id TEXT NOT NULL,
        key_id TEXT NOT NULL,
        period TEXT NOT NULL,
        credit INTEGER NOT NULL,
        PRIMARY KEY (plan_id, key_id, period)
    );
    """,
}

REST = "REST"
HTTP = "HTTP"
#: The methods a REST method or an HTTP route may name
#: (https://docs.aws.amazon.com/apigateway/latest/api/API_PutMethod.html).
METHODS = ("ANY", "DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")
DEFAULT_ROUTE = "$default"
DEFAULT_STAGE = "$default"
#: A path part: letters, digits and ``-._~:@!$&'()*+,;=``, or ``{name}``/``{name+}``
#: (https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-method-settings-method-request.html).
_PATH_PART = re.compile(r"^(\{[A-Za-z0-9._-]+\+?\}|[A-Za-z0-9._~:@!$&'()*+,;=-]+)$")
_ID_ALPHABET = string.ascii_lowercase + string.digits
#: ``arn:aws:apigateway:<region>:lambda:path/2015-03-31/functions/<function arn>/invocations``
_LAMBDA_URI = re.compile(
    r"^arn:aws[a-z-]*:apigateway:[a-z0-9-]+:lambda:path/2015-03-31/functions/(?P<arn>.+)/invocations$")


def new_id(length: int = 10) -> str:
    """An id as API Gateway makes them: lower-case letters and digits."""
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(length))


def public(document: dict[str, Any]) -> dict[str, Any]:
    """``document`` without its private (``_``) keys: the operation's output."""
    return {k: v for k, v in document.items() if not k.startswith("_")}


def function_of(uri: str) -> str:
    """The function an ``AWS_PROXY`` integration URI names: a function ARN (qualified or
    not), or the Lambda invocation URI around one."""
    found = _LAMBDA_URI.match(uri)
    target = found.group("arn") if found else uri
    try:
        parse_function_ref(target)
    except Exception:
        raise BadRequestException(
            f"Invalid integration URI specified: {uri!r}. Give a Lambda function ARN, or "
            "arn:aws:apigateway:<region>:lambda:path/2015-03-31/functions/<function ARN>/invocations."
        ) from None
    return target


def split_path(path: str) -> list[str]:
    return [part for part in path.split("/") if part]


@dataclass(frozen=True)
class Match:
    """Which resource (REST) or route (HTTP) a request reached, and its path parameters."""

    target: dict[str, Any]
    template: str
    path_parameters: dict[str, str] = field(default_factory=dict)
    #: An HTTP API's route (its ``AuthorizationType``, ``AuthorizerId``); ``None`` for REST.
    route: dict[str, Any] | None = None


def match_path(template: str, path: str, *, greedy_may_be_empty: bool = False
               ) -> tuple[tuple[int, ...], dict[str, str]] | None:
    """How well ``template`` (``/items/{id}``, ``/{proxy+}``) matches ``path``: a score
    (literal parts beat ``{name}``, which beats a greedy ``{name+}``) and the path
    parameters, or ``None``. An HTTP API's greedy parameter also matches nothing (``/``
    reaches ``ANY /{proxy+}`` with ``proxy`` ``""``, as AWS's recorded events show); a
    REST API's needs one part at least (``/`` is the root resource's)."""
    wanted, given = split_path(template), split_path(path)
    score: list[int] = []
    params: dict[str, str] = {}
    for i, part in enumerate(wanted):
        if part.startswith("{") and part.endswith("+}"):
            if i >= len(given) and not greedy_may_be_empty:
                return None
            params[part[1:-2]] = "/".join(given[i:])
            return (*score, 0), params
        if i >= len(given):
            return None
        if part.startswith("{") and part.endswith("}"):
            params[part[1:-1]] = given[i]
            score.append(1)
        elif part != given[i]:
            return None
        else:
            score.append(2)
    return (tuple(score), params) if len(wanted) == len(given) else None


def _one_at_a_time(method: Callable[..., T]) -> Callable[..., T]:
    """An API's document is read, changed and written back whole: changes to APIs run one
    at a time, so two concurrent calls (the edge serves each in a thread) lose neither."""

    @functools.wraps(method)
    def serialized(self: "ApiGateway", *args: Any, **kwargs: Any) -> T:
        with self._changing:
            return method(self, *args, **kwargs)

    return serialized


class ApiGateway:
    """The REST and HTTP APIs of one :class:`~lambdalab.Lab`, durable in its data dir."""

    def __init__(self, lab: "Lab") -> None:
        self.lab = lab
        self._changing = threading.Lock()
        from .jwt_authorizer import IssuerKeys  # it imports the invoke side, which imports this module

        #: JWT issuers' public keys, fetched as tokens name them.
        self.issuer_keys = IssuerKeys()
        #: API keys and usage plans (REST APIs' ``apiKeyRequired``).
        self.usage_plans = UsagePlans(lab)

    # -- storage --------------------------------------------------------------------------

    def _load(self, api_id: Any, kind: str) -> dict[str, Any]:
        rows = self.lab.store.query(
            "SELECT config FROM apigateway_apis WHERE id = ? AND kind = ?", (str(api_id), kind))
        if not rows:
            what = "REST API" if kind == REST else "API"
            raise NotFoundException(f"Invalid {what} identifier specified {self.lab.arns.account_id}:{api_id}")
        loaded: dict[str, Any] = json.loads(rows[0]["config"])
        return loaded

    def _save(self, api: dict[str, Any], kind: str) -> dict[str, Any]:
        api_id = api["id"] if kind == REST else api["ApiId"]
        with self.lab.store.transaction() as db:
            db.execute("INSERT OR REPLACE INTO apigateway_apis (id, kind, config) VALUES (?, ?, ?)",
                       (api_id, kind, json.dumps(api)))
        return api

    def _all(self, kind: str) -> list[dict[str, Any]]:
        rows = self.lab.store.query("SELECT config FROM apigateway_apis WHERE kind = ? ORDER BY id", (kind,))
        return [json.loads(row["config"]) for row in rows]

    def _delete(self, api_id: Any, kind: str) -> None:
        self._load(api_id, kind)
        with self.lab.store.transaction() as db:
            db.execute("DELETE FROM apigateway_apis WHERE id = ?", (str(api_id),))

    def kind_of(self, api_id: str) -> str | None:
        """``REST`` or ``HTTP`` for an API's id, else ``None`` (API keys and usage plans
        share the table, under kinds of their own)."""
        rows = self.lab.store.query("SELECT kind FROM apigateway_apis WHERE id = ?", (api_id,))
        kind = str(rows[0]["kind"]) if rows else None
        return kind if kind in (REST, HTTP) else None

    def execution_arn(self, api_id: str) -> str:
        """``arn:aws:execute-api:<region>:<account>:<api-id>``: what a function's resource
        policy names as ``AWS:SourceArn`` (with ``/<stage>/<method>/<path>`` after it)."""
        return f"arn:aws:execute-api:{self.lab.arns.region}:{self.lab.arns.account_id}:{api_id}"

    # -- REST APIs ------------------------------------------------------------------------

    def create_rest_api(self, name: str, *, description: str | None = None,
                        binary_media_types: list[str] | None = None, policy: str | None = None) -> dict[str, Any]:
        """A REST API with its root resource ``/``: CreateRestApi's output; ``policy`` is
        its resource policy (:mod:`.resource_policy`)."""
        if not name:
            raise BadRequestException("Invalid REST API name specified: give the API a name.")
        root = new_id()
        api: dict[str, Any] = {
            "id": new_id(), "name": name, "createdDate": self.lab.clock.now(),
            "binaryMediaTypes": list(binary_media_types or []), "apiKeySource": "HEADER",
            "endpointConfiguration": {"types": ["EDGE"]}, "disableExecuteApiEndpoint": False,
            "rootResourceId": root,
            "_resources": {root: {"id": root, "path": "/"}}, "_deployments": {}, "_stages": {},
            "_authorizers": {},
        }
        if description is not None:
            api["description"] = description
        if policy is not None:
            api["policy"] = resource_policy.checked(policy)
        return public(self._save(api, REST))

    def get_rest_api(self, api_id: str) -> dict[str, Any]:
        return public(self._load(api_id, REST))

    def get_rest_apis(self) -> list[dict[str, Any]]:
        return [public(api) for api in self._all(REST)]

    def delete_rest_api(self, api_id: str) -> None:
        self._delete(api_id, REST)

    def get_resources(self, api_id: str) -> list[dict[str, Any]]:
        return list(self._load(api_id, REST)["_resources"].values())

    @_one_at_a_time
    def create_resource(self, api_id: str, parent_id: str, path_part: str) -> dict[str, Any]:
        """A child of ``parent_id`` at ``path_part`` (``items``, ``{id}``, ``{proxy+}``)."""
        api = self._load(api_id, REST)
        parent = api["_resources"].get(parent_id)
        if parent is None:
            raise NotFoundException(f"Invalid Resource identifier specified: {parent_id}")
        if not isinstance(path_part, str) or not _PATH_PART.match(path_part):
            raise BadRequestException(
                f"Resource's path part only allow a-zA-Z0-9._- and curly braces at the beginning "
                f"and the end and an optional plus sign before the closing brace: {path_part!r}.")
        if parent["path"].rstrip("/").endswith("+}"):
            raise BadRequestException("A greedy path variable ({name+}) must be the last part of a path.")
        path = parent["path"].rstrip("/") + "/" + path_part
        if any(r["path"] == path for r in api["_resources"].values()):
            raise ConflictException(f"Another resource with the same parent already has this name: {path_part}")
        resource = {"id": new_id(6), "parentId": parent_id, "pathPart": path_part, "path": path}
        api["_resources"][resource["id"]] = resource
        self._save(api, REST)
        return resource

    def _resource(self, api: dict[str, Any], resource_id: str) -> dict[str, Any]:
        found: dict[str, Any] | None = api["_resources"].get(resource_id)
        if found is None:
            raise NotFoundException(f"Invalid Resource identifier specified: {resource_id}")
        return found

    @_one_at_a_time
    def put_method(self, api_id: str, resource_id: str, http_method: str,
                   authorization_type: str = "NONE", authorizer_id: str | None = None, *,
                   api_key_required: bool = False, request_parameters: Any = None,
                   request_validator_id: str | None = None, request_models: Any = None) -> dict[str, Any]:
        """A method; ``CUSTOM`` with ``authorizer_id`` runs that Lambda authorizer first;
        ``request_validator_id`` checks ``request_parameters`` (:mod:`.validators`)."""
        api = self._load(api_id, REST)
        resource = self._resource(api, resource_id)
        method_name = _method(http_method)
        method = {"httpMethod": method_name, "authorizationType": authorization_type,
                  "apiKeyRequired": bool(api_key_required), "authorizerId": authorizer_id}
        if request_parameters is not None:
            method["requestParameters"] = validators.checked_parameters(request_parameters)
        if request_validator_id is not None:
            method["requestValidatorId"] = _validator(api, request_validator_id)["id"]
        if request_models is not None:
            method["requestModels"] = _request_models(api, request_models)
        _check_authorization(api, method)
        resource.setdefault("resourceMethods", {})[method_name] = method
        self._save(api, REST)
        return method

    @_one_at_a_time
    def put_integration(self, api_id: str, resource_id: str, http_method: str, *,
                        type: str, uri: str | None = None,
                        integration_http_method: str | None = "POST",
                        request_templates: dict[str, str] | None = None,
                        passthrough_behavior: str | None = None) -> dict[str, Any]:
        """An ``AWS_PROXY`` integration of a method with a Lambda function (``uri``), an
        ``AWS`` one (the function gets what ``request_templates`` make of the request,
        :mod:`.templates`), or a ``MOCK`` one that API Gateway answers itself (the
        console's "Enable CORS" ``OPTIONS``; ``request_templates``
        ``{"application/json": '{"statusCode": 200}'}``)."""
        api = self._load(api_id, REST)
        method = (self._resource(api, resource_id).get("resourceMethods") or {}).get(_method(http_method))
        if method is None:
            raise NotFoundException("Invalid Method identifier specified")
        if type not in ("AWS_PROXY", "AWS", "MOCK"):
            raise BadRequestException(
                f"lambdalab's API Gateway integrates with Lambda (AWS_PROXY, AWS) or answers itself (MOCK), "
                f"not {type!r}.")
        if passthrough_behavior not in (None, *_PASSTHROUGH):
            raise BadRequestException(f"Invalid passthroughBehavior: use one of {', '.join(_PASSTHROUGH)}")
        integration: dict[str, Any] = {"type": type, "passthroughBehavior": passthrough_behavior or "WHEN_NO_MATCH",
                                       "timeoutInMillis": quotas.REST_INTEGRATION_TIMEOUT_MAX_MS,
                                       "cacheNamespace": resource_id, "cacheKeyParameters": []}
        if type in ("AWS_PROXY", "AWS"):
            function_of(uri or "")
            integration |= {"httpMethod": integration_http_method or "POST", "uri": uri}
        if request_templates:
            integration["requestTemplates"] = dict(request_templates)
        method["methodIntegration"] = integration
        self._save(api, REST)
        return integration

    @_one_at_a_time
    def update_method_integration(self, api_id: str, resource_id: str, http_method: str,
                           patch_operations: Any) -> dict[str, Any]:
        """UpdateIntegration: replace ``/uri``, ``/httpMethod``, ``/timeoutInMillis``,
        ``/passthroughBehavior``, ``/cacheNamespace``; add, replace or remove
        ``/requestTemplates/<content type>``
        (https://docs.aws.amazon.com/apigateway/latest/api/API_UpdateIntegration.html)."""
        api = self._load(api_id, REST)
        method = _rest_method(self._resource(api, resource_id), http_method)
        if "methodIntegration" not in method:
            raise NotFoundException("Invalid Integration identifier specified")
        integration = copy.deepcopy(method["methodIntegration"])
        patch.apply(patch_operations, lambda parts: patch.read_pointer(integration, parts),
                    lambda operation: _patch_integration(integration, operation))
        if integration["type"] in ("AWS_PROXY", "AWS"):
            function_of(str(integration.get("uri") or ""))
        method["methodIntegration"] = integration
        self._save(api, REST)
        return integration

    @_one_at_a_time
    def put_method_response(self, api_id: str, resource_id: str, http_method: str, status_code: str, *,
                            response_parameters: dict[str, bool] | None = None,
                            response_models: dict[str, str] | None = None) -> dict[str, Any]:
        """A status the method may answer, with the headers it may carry
        (``method.response.header.<name>``)."""
        api = self._load(api_id, REST)
        method = _rest_method(self._resource(api, resource_id), http_method)
        response: dict[str, Any] = {"statusCode": _status_code(status_code)}
        if response_parameters:
            response["responseParameters"] = dict(response_parameters)
        if response_models:
            response["responseModels"] = dict(response_models)
        method.setdefault("methodResponses", {})[response["statusCode"]] = response
        self._save(api, REST)
        return response

    @_one_at_a_time
    def put_integration_response(self, api_id: str, resource_id: str, http_method: str, status_code: str, *,
                                 selection_pattern: str | None = None,
                                 response_parameters: dict[str, str] | None = None,
                                 response_templates: dict[str, str] | None = None) -> dict[str, Any]:
        """How an integration's answer becomes the method's ``status_code`` response: header
        values (``'literal'``) and body templates. The method must declare the status."""
        api = self._load(api_id, REST)
        method = _rest_method(self._resource(api, resource_id), http_method)
        integration = method.get("methodIntegration")
        if integration is None:
            raise NotFoundException("Invalid Integration identifier specified")
        status = _status_code(status_code)
        if status not in (method.get("methodResponses") or {}):
            raise NotFoundException("Invalid Response status code specified")
        response: dict[str, Any] = {"statusCode": status}
        if selection_pattern is not None:
            response["selectionPattern"] = selection_pattern
        if response_parameters:
            response["responseParameters"] = dict(response_parameters)
        if response_templates:
            response["responseTemplates"] = dict(response_templates)
        integration.setdefault("integrationResponses", {})[status] = response
        self._save(api, REST)
        return response

    @_one_at_a_time
    def create_authorizer(self, api_id: str, name: str, type: str, authorizer_uri: str, *,
                          identity_source: str | None = None,
                          ttl_seconds: int | None = None) -> dict[str, Any]:
        """A Lambda authorizer (``TOKEN`` or ``REQUEST``) a ``CUSTOM`` method names."""
        api = self._load(api_id, REST)
        if type not in ("TOKEN", "REQUEST"):
            raise BadRequestException(f"lambdalab's authorizers are TOKEN or REQUEST, not {type!r}.")
        source = identity_source or ("method.request.header.Authorization" if type == "TOKEN" else "")
        authorizer = {"id": new_id(6), "name": name, "type": type, "authType": "custom",
                      "authorizerUri": authorizer_uri, "identitySource": source,
                      "authorizerResultTtlInSeconds": 300 if ttl_seconds is None else ttl_seconds}
        _check_authorizer(authorizer)
        api.setdefault("_authorizers", {})[authorizer["id"]] = authorizer
        self._save(api, REST)
        return authorizer

    def get_authorizers(self, api_id: str) -> list[dict[str, Any]]:
        return list(self._load(api_id, REST).get("_authorizers", {}).values())

    @_one_at_a_time
    def update_rest_authorizer(self, api_id: str, authorizer_id: str, patch_operations: Any) -> dict[str, Any]:
        """UpdateAuthorizer: replace ``/name``, ``/authorizerUri``, ``/identitySource``,
        ``/identityValidationExpression``, ``/authorizerResultTtlInSeconds``
        (https://docs.aws.amazon.com/apigateway/latest/api/API_UpdateAuthorizer.html);
        nothing is kept unless every operation applies."""
        api = self._load(api_id, REST)
        found = api.get("_authorizers", {}).get(authorizer_id)
        if found is None:
            raise NotFoundException("Invalid Authorizer identifier specified")
        authorizer = dict(found)
        patch.apply(patch_operations, lambda parts: patch.read_pointer(authorizer, parts),
                    lambda operation: _patch_authorizer(authorizer, operation))
        _check_authorizer(authorizer)
        api["_authorizers"][authorizer_id] = authorizer
        self._save(api, REST)
        return authorizer

    def get_authorizer(self, api_id: str, authorizer_id: str) -> dict[str, Any]:
        found: dict[str, Any] | None = self._load(api_id, REST).get("_authorizers", {}).get(authorizer_id)
        if found is None:
            raise NotFoundException("Invalid Authorizer identifier specified")
        return found

    @_one_at_a_time
    def delete_authorizer(self, api_id: str, authorizer_id: str) -> None:
        """DeleteAuthorizer: refused while a method names it (lambdalab will not leave a
        CUSTOM method without its authorizer)."""
        api = self._load(api_id, REST)
        if authorizer_id not in api.get("_authorizers", {}):
            raise NotFoundException("Invalid Authorizer identifier specified")
        users = [f"{m['httpMethod']} {r['path']}" for r in api["_resources"].values()
                 for m in (r.get("resourceMethods") or {}).values() if m.get("authorizerId") == authorizer_id]
        if users:
            raise ConflictException(f"Cannot delete authorizer {authorizer_id}: methods {', '.join(users)} use it.")
        del api["_authorizers"][authorizer_id]
        self._save(api, REST)

    @_one_at_a_time
    def create_deployment(self, api_id: str, stage_name: str | None = None, *,
                          description: str | None = None,
                          variables: dict[str, str] | None = None) -> dict[str, Any]:
        """A snapshot of the API's resources, methods and integrations and of the authorizers
        they name, served until the stage takes another deployment
        (https://docs.aws.amazon.com/apigateway/latest/developerguide/set-up-deployments.html);
        with ``stage_name`` that stage serves it."""
        api = self._load(api_id, REST)
        if not any(r.get("resourceMethods") for r in api["_resources"].values()):
            raise BadRequestException("The REST API doesn't contain any methods")
        deployment: dict[str, Any] = {"id": new_id(6), "createdDate": self.lab.clock.now()}
        if description is not None:
            deployment["description"] = description
        api["_deployments"][deployment["id"]] = {**deployment, "_resources": copy.deepcopy(api["_resources"]),
                                                 "_authorizers": _authorizers_used(api),
                                                 "_policy": api.get("policy"),
                                                 "_validators": copy.deepcopy(api.get("_validators", {})),
                                                 "_models": _models_of(api)}
        if stage_name:
            stage = api["_stages"].get(stage_name)
            if stage is None:
                api["_stages"][stage_name] = self._stage(stage_name, deployment["id"], variables)
            else:
                stage["deploymentId"], stage["lastUpdatedDate"] = deployment["id"], self.lab.clock.now()
                if variables is not None:
                    stage["variables"] = variables
        self._save(api, REST)
        return deployment

    def _stage(self, name: str, deployment_id: str, variables: dict[str, str] | None) -> dict[str, Any]:
        _check_stage_name(name)
        now = self.lab.clock.now()
        stage: dict[str, Any] = {"stageName": name, "deploymentId": deployment_id, "cacheClusterEnabled": False,
                                 "cacheClusterStatus": "NOT_AVAILABLE", "tracingEnabled": False,
                                 "createdDate": now, "lastUpdatedDate": now}
        if variables:
            stage["variables"] = dict(variables)
        return stage

    @_one_at_a_time
    def create_stage(self, api_id: str, stage_name: str, deployment_id: str, *,
                     variables: dict[str, str] | None = None) -> dict[str, Any]:
        api = self._load(api_id, REST)
        if deployment_id not in api["_deployments"]:
            raise NotFoundException(f"Invalid Deployment identifier specified: {deployment_id}")
        if stage_name in api["_stages"]:
            raise ConflictException("Stage already exists")
        stage = api["_stages"][stage_name] = self._stage(stage_name, deployment_id, variables)
        self._save(api, REST)
        return stage

    def get_stages(self, api_id: str) -> list[dict[str, Any]]:
        return list(self._load(api_id, REST)["_stages"].values())

    def has_stage(self, api_id: Any, stage_name: Any) -> bool:
        """Whether a REST API ``api_id`` has a stage ``stage_name`` (a usage plan's check)."""
        return self.kind_of(str(api_id)) == REST and stage_name in self._load(api_id, REST)["_stages"]

    def get_stage(self, api_id: str, stage_name: str) -> dict[str, Any]:
        return _rest_stage(self._load(api_id, REST), stage_name)

    def get_resource(self, api_id: str, resource_id: str) -> dict[str, Any]:
        return self._resource(self._load(api_id, REST), resource_id)

    def get_method(self, api_id: str, resource_id: str, http_method: str) -> dict[str, Any]:
        return _rest_method(self._resource(self._load(api_id, REST), resource_id), http_method)

    def get_integration(self, api_id: str, resource_id: str, http_method: str) -> dict[str, Any]:
        method = (self._resource(self._load(api_id, REST), resource_id).get("resourceMethods") or {}).get(
            _method(http_method))
        if method is None or "methodIntegration" not in method:
            raise NotFoundException("Invalid Integration identifier specified")
        integration: dict[str, Any] = method["methodIntegration"]
        return integration

    def get_deployments(self, api_id: str) -> list[dict[str, Any]]:
        return [public(d) for d in self._load(api_id, REST)["_deployments"].values()]

    def get_deployment(self, api_id: str, deployment_id: str) -> dict[str, Any]:
        found = self._load(api_id, REST)["_deployments"].get(deployment_id)
        if found is None:
            raise NotFoundException("Invalid Deployment identifier specified")
        return public(found)

    # -- request validators ---------------------------------------------------------------

    @_one_at_a_time
    def create_request_validator(self, api_id: str, name: str | None = None, *, validate_body: bool = False,
                                 validate_parameters: bool = False) -> dict[str, Any]:
        """CreateRequestValidator
        (https://docs.aws.amazon.com/apigateway/latest/api/API_CreateRequestValidator.html)."""
        api = self._load(api_id, REST)
        validator = {"id": new_id(6), "name": name or "", "validateRequestBody": bool(validate_body),
                     "validateRequestParameters": bool(validate_parameters)}
        api.setdefault("_validators", {})[validator["id"]] = validator
        self._save(api, REST)
        return validator

    def get_request_validators(self, api_id: str) -> list[dict[str, Any]]:
        return list(self._load(api_id, REST).get("_validators", {}).values())

    def get_request_validator(self, api_id: str, validator_id: str) -> dict[str, Any]:
        return _validator(self._load(api_id, REST), validator_id)

    @_one_at_a_time
    def update_request_validator(self, api_id: str, validator_id: str, patch_operations: Any) -> dict[str, Any]:
        """UpdateRequestValidator: replace ``/name``, ``/validateRequestBody``,
        ``/validateRequestParameters``."""
        api = self._load(api_id, REST)
        validator = _validator(api, validator_id)
        patch.apply(patch_operations, lambda parts: patch.read_pointer(validator, parts),
                    lambda operation: _patch_validator(validator, operation))
        self._save(api, REST)
        return validator

    @_one_at_a_time
    def delete_request_validator(self, api_id: str, validator_id: str) -> None:
        """DeleteRequestValidator: a method still naming it validates nothing until deployed
        with another."""
        api = self._load(api_id, REST)
        del api["_validators"][_validator(api, validator_id)["id"]]
        self._save(api, REST)

    # -- models ---------------------------------------------------------------------------

    @_one_at_a_time
    def create_model(self, api_id: str, name: str, content_type: str, *, schema: Any = None,
                     description: str | None = None) -> dict[str, Any]:
        """CreateModel: a JSON schema (draft 4) a request validator checks bodies against
        (https://docs.aws.amazon.com/apigateway/latest/api/API_CreateModel.html)."""
        api = self._load(api_id, REST)
        if not isinstance(name, str) or not name.isalnum():
            raise BadRequestException("Model name must be non-empty and alphanumeric.")
        if name in _models_of(api):
            raise ConflictException("Model name already exists for this REST API")
        model = {"id": new_id(6), "name": name, "contentType": content_type,
                 "schema": validators.checked_schema(schema)}
        if description is not None:
            model["description"] = description
        api.setdefault("_models", {})[name] = model
        self._save(api, REST)
        return model

    def get_models(self, api_id: str) -> list[dict[str, Any]]:
        return list(_models_of(self._load(api_id, REST)).values())

    def get_model(self, api_id: str, name: str) -> dict[str, Any]:
        found = _models_of(self._load(api_id, REST)).get(name)
        if found is None:
            raise NotFoundException("Invalid model name specified")
        return found

    @_one_at_a_time
    def update_model(self, api_id: str, name: str, patch_operations: Any) -> dict[str, Any]:
        """UpdateModel: replace ``/schema`` (checked as CreateModel checks it) or
        ``/description``; a stage validates with the schema it deployed."""
        api = self._load(api_id, REST)
        model = _models_of(api).get(name)
        if model is None:
            raise NotFoundException("Invalid model name specified")
        patch.apply(patch_operations, lambda parts: patch.read_pointer(model, parts),
                    lambda operation: _patch_model(model, operation))
        api.setdefault("_models", {})[name] = model
        self._save(api, REST)
        return model

    @_one_at_a_time
    def delete_model(self, api_id: str, name: str) -> None:
        api = self._load(api_id, REST)
        if name not in _models_of(api):
            raise NotFoundException("Invalid model name specified")
        in_use = [m for r in api["_resources"].values() for m in (r.get("resourceMethods") or {}).values()
                  if name in (m.get("requestModels") or {}).values()]
        if in_use:
            raise ConflictException(f"Cannot delete model '{name}', is referenced in method request or "
                                    "method response")
        api.setdefault("_models", {}).pop(name, None)
        api.setdefault("_deleted_models", []).append(name)
        self._save(api, REST)

    # -- REST updates and deletes (patchOperations) -----------------------------------------

    @_one_at_a_time
    def update_rest_api(self, api_id: str, patch_operations: Any) -> dict[str, Any]:
        """UpdateRestApi: ``/name``, ``/description``, ``/apiKeySource``,
        ``/disableExecuteApiEndpoint``, ``/minimumCompressionSize`` (replace) and
        ``/binaryMediaTypes/<type>`` (add, remove, replace)
        (https://docs.aws.amazon.com/apigateway/latest/api/API_UpdateRestApi.html)."""
        api = self._load(api_id, REST)
        patch.apply(patch_operations, lambda parts: patch.read_pointer(api, parts),
                    lambda operation: _patch_rest_api(api, operation))
        return public(self._save(api, REST))

    @_one_at_a_time
    def update_resource(self, api_id: str, resource_id: str, patch_operations: Any) -> dict[str, Any]:
        """UpdateResource: replace ``/pathPart`` or ``/parentId``; the paths below follow."""
        api = self._load(api_id, REST)
        resource = self._resource(api, resource_id)
        patch.apply(patch_operations, lambda parts: patch.read_pointer(resource, parts),
                    lambda operation: _patch_resource(api, resource, operation))
        self._save(api, REST)
        return resource

    @_one_at_a_time
    def delete_resource(self, api_id: str, resource_id: str) -> None:
        """DeleteResource: the resource and every resource below it."""
        api = self._load(api_id, REST)
        resource = self._resource(api, resource_id)
        if resource["path"] == "/":
            raise BadRequestException("Cannot delete the root resource of a REST API.")
        for gone in _subtree(api, resource_id):
            del api["_resources"][gone]
        self._save(api, REST)

    @_one_at_a_time
    def update_method(self, api_id: str, resource_id: str, http_method: str,
                      patch_operations: Any) -> dict[str, Any]:
        """UpdateMethod: replace ``/authorizationType``, ``/authorizerId``,
        ``/apiKeyRequired``, ``/operationName``, ``/requestValidatorId``; add, replace or
        remove ``/requestParameters/<method.request.where.name>``."""
        api = self._load(api_id, REST)
        method = _rest_method(self._resource(api, resource_id), http_method)
        patch.apply(patch_operations, lambda parts: patch.read_pointer(method, parts),
                    lambda operation: _patch_method(method, operation, api))
        _check_authorization(api, method)
        self._save(api, REST)
        return method

    @_one_at_a_time
    def delete_method(self, api_id: str, resource_id: str, http_method: str) -> None:
        api = self._load(api_id, REST)
        resource = self._resource(api, resource_id)
        _rest_method(resource, http_method)
        del resource["resourceMethods"][_method(http_method)]
        self._save(api, REST)

    @_one_at_a_time
    def delete_integration(self, api_id: str, resource_id: str, http_method: str) -> None:
        api = self._load(api_id, REST)
        method = (self._resource(api, resource_id).get("resourceMethods") or {}).get(_method(http_method))
        if method is None or "methodIntegration" not in method:
            raise NotFoundException("Invalid Integration identifier specified")
        del method["methodIntegration"]
        self._save(api, REST)

    @_one_at_a_time
    def update_stage(self, api_id: str, stage_name: str, patch_operations: Any) -> dict[str, Any]:
        """UpdateStage: replace ``/deploymentId`` (a redeploy), ``/description``,
        ``/tracingEnabled``, ``/cacheClusterEnabled``; add, replace or remove
        ``/variables/<name>``."""
        api = self._load(api_id, REST)
        stage = _rest_stage(api, stage_name)
        patch.apply(patch_operations, lambda parts: _read_stage(stage, parts),
                    lambda operation: _patch_stage(api, stage, operation))
        stage["lastUpdatedDate"] = self.lab.clock.now()
        self._save(api, REST)
        return stage

    @_one_at_a_time
    def delete_stage(self, api_id: str, stage_name: str) -> None:
        api = self._load(api_id, REST)
        _rest_stage(api, stage_name)
        del api["_stages"][stage_name]
        self._save(api, REST)

    @_one_at_a_time
    def delete_deployment(self, api_id: str, deployment_id: str) -> None:
        """DeleteDeployment: refused while a stage serves it, as AWS refuses."""
        api = self._load(api_id, REST)
        if deployment_id not in api["_deployments"]:
            raise NotFoundException("Invalid Deployment identifier specified")
        if any(s["deploymentId"] == deployment_id for s in api["_stages"].values()):
            raise BadRequestException("Active stages pointing to this deployment must be moved or deleted")
        del api["_deployments"][deployment_id]
        self._save(api, REST)

    def match_rest(self, api_id: str, stage_name: str, method: str, path: str
                   ) -> tuple[dict[str, Any], dict[str, Any], Match | None]:
        """The API, its stage, and the deployed resource and method a request reaches
        (``None`` when none does)."""
        api = self._load(api_id, REST)
        stage = api["_stages"].get(stage_name)
        if stage is None:
            raise NotFoundException(f"No stage {stage_name!r}")
        resources = api["_deployments"][stage["deploymentId"]]["_resources"].values()
        best: tuple[tuple[int, ...], dict[str, Any], dict[str, str]] | None = None
        for resource in resources:
            scored = match_path(resource["path"], path)
            if scored is not None and (best is None or scored[0] > best[0]):
                best = (scored[0], resource, scored[1])
        if best is None:
            return api, stage, None
        methods = best[1].get("resourceMethods") or {}
        found = methods.get(method) or methods.get("ANY")
        if found is None or "methodIntegration" not in found:
            return api, stage, None
        return api, stage, Match({**found, "resourceId": best[1]["id"]}, best[1]["path"], best[2])

    # -- HTTP APIs ------------------------------------------------------------------------

    def create_api(self, name: str, *, protocol_type: str = HTTP, target: str | None = None,
                   route_key: str | None = None, description: str | None = None,
                   cors_configuration: dict[str, Any] | None = None) -> dict[str, Any]:
        """An HTTP API; with ``target`` (a function ARN) quick create's integration,
        route (``route_key``, default ``$default``) and auto-deployed ``$default`` stage
        (https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop.html#http-api-examples)."""
        if protocol_type != HTTP:
            raise BadRequestException("lambdalab serves HTTP APIs only: ProtocolType must be HTTP.")
        if not name:
            raise BadRequestException("Invalid API name: give the API a name.")
        api_id = new_id()
        api: dict[str, Any] = {
            "ApiId": api_id, "Name": name, "ProtocolType": HTTP, "CreatedDate": self.lab.clock.now(),
            "ApiEndpoint": f"https://{api_id}.execute-api.{self.lab.arns.region}.amazonaws.com",
            "ApiKeySelectionExpression": "$request.header.x-api-key",
            "RouteSelectionExpression": "$request.method $request.path",
            "DisableExecuteApiEndpoint": False,
            "_routes": {}, "_integrations": {}, "_stages": {},
        }
        if description is not None:
            api["Description"] = description
        if cors_configuration is not None:
            api["CorsConfiguration"] = cors_configuration
        if target is None:
            return public(self._save(api, HTTP))
        integration = _integration(target, "2.0")
        api["_integrations"][integration["IntegrationId"]] = integration
        route = _route(route_key or DEFAULT_ROUTE, f"integrations/{integration['IntegrationId']}")
        api["_routes"][route["RouteId"]] = route
        api["_stages"][DEFAULT_STAGE] = self._http_stage(DEFAULT_STAGE, True, None)
        return public(self._save(api, HTTP))

    def get_api(self, api_id: str) -> dict[str, Any]:
        return public(self._load(api_id, HTTP))

    def get_apis(self) -> list[dict[str, Any]]:
        return [public(api) for api in self._all(HTTP)]

    def delete_api(self, api_id: str) -> None:
        self._delete(api_id, HTTP)

    @_one_at_a_time
    def create_integration(self, api_id: str, integration_type: str, integration_uri: str, *,
                           payload_format_version: str = "2.0") -> dict[str, Any]:
        if integration_type != "AWS_PROXY":
            raise BadRequestException(
                f"lambdalab's API Gateway integrates with Lambda only: IntegrationType must be "
                f"AWS_PROXY, not {integration_type!r}.")
        api = self._load(api_id, HTTP)
        integration = _integration(integration_uri, payload_format_version)
        api["_integrations"][integration["IntegrationId"]] = integration
        self._save(api, HTTP)
        return integration

    @_one_at_a_time
    def create_route(self, api_id: str, route_key: str, target: str | None = None, *,
                     authorization_type: str = "NONE", authorizer_id: str | None = None,
                     authorization_scopes: list[str] | None = None) -> dict[str, Any]:
        """A route (``GET /items/{id}``, ``ANY /{proxy+}``, ``$default``) to
        ``integrations/<id>``; ``CUSTOM`` or ``JWT`` with ``authorizer_id`` runs that
        authorizer first, ``AWS_IAM`` asks for a SigV4 signature."""
        api = self._load(api_id, HTTP)
        if target is not None and target.removeprefix("integrations/") not in api["_integrations"]:
            raise NotFoundException(f"Invalid integration target {target!r}: no such integration.")
        if any(r["RouteKey"] == route_key for r in api["_routes"].values()):
            raise ConflictException(f"Route with key {route_key} already exists for this API")
        route = _route(route_key, target)
        route.update(_given({"AuthorizationType": authorization_type, "AuthorizerId": authorizer_id,
                             "AuthorizationScopes": authorization_scopes},
                            ("AuthorizationType", "AuthorizerId", "AuthorizationScopes")))
        _check_route_authorization(api, route)
        api["_routes"][route["RouteId"]] = route
        self._save(api, HTTP)
        return route

    @_one_at_a_time
    def create_http_authorizer(self, api_id: str, name: str, authorizer_type: str, *,
                               authorizer_uri: str | None = None, identity_source: list[str] | None = None,
                               payload_format_version: str | None = None,
                               enable_simple_responses: bool = False, ttl_seconds: int | None = None,
                               jwt_configuration: dict[str, Any] | None = None) -> dict[str, Any]:
        """An HTTP API authorizer: ``REQUEST`` (a Lambda function, payload 1.0 or 2.0,
        simple or IAM-policy answers) or ``JWT`` (an issuer and audiences)
        (https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-lambda-authorizer.html,
        https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-jwt-authorizer.html)."""
        api = self._load(api_id, HTTP)
        given = {"Name": name, "AuthorizerType": authorizer_type, "IdentitySource": identity_source,
                 "AuthorizerUri": authorizer_uri, "AuthorizerPayloadFormatVersion": payload_format_version,
                 "EnableSimpleResponses": enable_simple_responses, "AuthorizerResultTtlInSeconds": ttl_seconds,
                 "JwtConfiguration": jwt_configuration}
        authorizer = _http_authorizer(new_id(6), given)
        api.setdefault("_authorizers", {})[authorizer["AuthorizerId"]] = authorizer
        self._save(api, HTTP)
        return authorizer

    @_one_at_a_time
    def update_http_authorizer(self, api_id: str, authorizer_id: str, changes: dict[str, Any]) -> dict[str, Any]:
        """UpdateAuthorizer of an HTTP API: the members sent replace the authorizer's, and the
        result is checked as CreateAuthorizer checks it
        (https://docs.aws.amazon.com/apigatewayv2/latest/api-reference/apis-apiid-authorizers-authorizerid.html)."""
        api = self._load(api_id, HTTP)
        current = api.get("_authorizers", {}).get(authorizer_id)
        if current is None:
            raise NotFoundException(f"Invalid Authorizer identifier specified {authorizer_id}")
        authorizer = _http_authorizer(authorizer_id, {**current, **_given(changes, _HTTP_AUTHORIZER_MEMBERS)})
        users = [r["RouteKey"] for r in api["_routes"].values() if r.get("AuthorizerId") == authorizer_id]
        if users and authorizer["AuthorizerType"] != current["AuthorizerType"]:
            raise ConflictException(f"Cannot change the type of authorizer {authorizer_id}: routes "
                                    f"{', '.join(users)} use it.")
        api["_authorizers"][authorizer_id] = authorizer
        self._save(api, HTTP)
        return authorizer

    def get_http_authorizers(self, api_id: str) -> list[dict[str, Any]]:
        return list(self._load(api_id, HTTP).get("_authorizers", {}).values())

    def get_http_authorizer(self, api_id: str, authorizer_id: str) -> dict[str, Any]:
        found: dict[str, Any] | None = self._load(api_id, HTTP).get("_authorizers", {}).get(authorizer_id)
        if found is None:
            raise NotFoundException(f"Invalid Authorizer identifier specified {authorizer_id}")
        return found

    @_one_at_a_time
    def delete_http_authorizer(self, api_id: str, authorizer_id: str) -> None:
        """DeleteAuthorizer (HTTP API): refused while a route names it."""
        api = self._load(api_id, HTTP)
        if authorizer_id not in api.get("_authorizers", {}):
            raise NotFoundException(f"Invalid Authorizer identifier specified {authorizer_id}")
        users = [r["RouteKey"] for r in api["_routes"].values() if r.get("AuthorizerId") == authorizer_id]
        if users:
            raise ConflictException(f"Cannot delete authorizer {authorizer_id}: routes {', '.join(users)} use it.")
        del api["_authorizers"][authorizer_id]
        self._save(api, HTTP)

    def get_routes(self, api_id: str) -> list[dict[str, Any]]:
        return list(self._load(api_id, HTTP)["_routes"].values())

    def _http_stage(self, name: str, auto_deploy: bool, variables: dict[str, str] | None) -> dict[str, Any]:
        if name != DEFAULT_STAGE:
            _check_stage_name(name)
        now = self.lab.clock.now()
        stage: dict[str, Any] = {"StageName": name, "AutoDeploy": auto_deploy, "CreatedDate": now,
                                 "LastUpdatedDate": now, "DefaultRouteSettings": {},
                                 "RouteSettings": {}, "StageVariables": dict(variables or {})}
        return stage

    @_one_at_a_time
    def create_http_stage(self, api_id: str, stage_name: str, *, auto_deploy: bool = False,
                          variables: dict[str, str] | None = None) -> dict[str, Any]:
        api = self._load(api_id, HTTP)
        if stage_name in api["_stages"]:
            raise ConflictException(f"Stage {stage_name} already exists")
        stage = api["_stages"][stage_name] = self._http_stage(stage_name, auto_deploy, variables)
        self._save(api, HTTP)
        return stage

    def get_http_stages(self, api_id: str) -> list[dict[str, Any]]:
        return list(self._load(api_id, HTTP)["_stages"].values())

    def get_http_stage(self, api_id: str, stage_name: str) -> dict[str, Any]:
        return _http_stage_of(self._load(api_id, HTTP), stage_name)

    def get_route(self, api_id: str, route_id: str) -> dict[str, Any]:
        return _http_route(self._load(api_id, HTTP), route_id)

    def get_http_integration(self, api_id: str, integration_id: str) -> dict[str, Any]:
        return _http_integration(self._load(api_id, HTTP), integration_id)

    def get_http_integrations(self, api_id: str) -> list[dict[str, Any]]:
        return list(self._load(api_id, HTTP)["_integrations"].values())

    # -- HTTP API updates and deletes -------------------------------------------------------
    # apigatewayv2's updates name the fields to change (no patchOperations); a field left
    # out keeps its value (https://docs.aws.amazon.com/apigatewayv2/latest/api-reference/apis-apiid.html#UpdateApi).

    @_one_at_a_time
    def update_api(self, api_id: str, changes: dict[str, Any]) -> dict[str, Any]:
        """UpdateApi: ``Name``, ``Description``, ``CorsConfiguration``,
        ``DisableExecuteApiEndpoint``, the selection expressions."""
        api = self._load(api_id, HTTP)
        _refuse_unserved(changes, ("Target", "RouteKey", "CredentialsArn"), "UpdateApi")
        if "Name" in changes and not changes["Name"]:
            raise BadRequestException("Invalid API name: give the API a name.")
        api.update(_given(changes, ("Name", "Description", "CorsConfiguration", "DisableExecuteApiEndpoint",
                                    "RouteSelectionExpression", "ApiKeySelectionExpression")))
        return public(self._save(api, HTTP))

    @_one_at_a_time
    def update_route(self, api_id: str, route_id: str, changes: dict[str, Any]) -> dict[str, Any]:
        """UpdateRoute: ``RouteKey`` (checked, unique), ``Target``, ``AuthorizationType``,
        ``AuthorizerId``, ``AuthorizationScopes`` (an empty list clears them),
        ``ApiKeyRequired``, ``OperationName``; a member not sent is kept."""
        api = self._load(api_id, HTTP)
        route = _http_route(api, route_id)
        key = changes.get("RouteKey")
        if key is not None and key != route["RouteKey"]:
            _route(key, None)  # checks the key
            if any(r["RouteKey"] == key for r in api["_routes"].values()):
                raise ConflictException(f"Route with key {key} already exists for this API")
        target = changes.get("Target")
        if target is not None and target.removeprefix("integrations/") not in api["_integrations"]:
            raise NotFoundException(f"Invalid integration target {target!r}: no such integration.")
        route.update(_given(changes, ("RouteKey", "Target", "AuthorizationType", "AuthorizerId",
                                      "AuthorizationScopes", "ApiKeyRequired", "OperationName")))
        _check_route_authorization(api, route)
        self._save(api, HTTP)
        return route

    @_one_at_a_time
    def delete_route(self, api_id: str, route_id: str) -> None:
        api = self._load(api_id, HTTP)
        _http_route(api, route_id)
        del api["_routes"][route_id]
        self._save(api, HTTP)

    @_one_at_a_time
    def update_integration(self, api_id: str, integration_id: str, changes: dict[str, Any]) -> dict[str, Any]:
        """UpdateIntegration: ``IntegrationUri`` (a function), ``PayloadFormatVersion``,
        ``TimeoutInMillis``, ``Description``."""
        api = self._load(api_id, HTTP)
        integration = _http_integration(api, integration_id)
        if changes.get("IntegrationType") not in (None, "AWS_PROXY"):
            raise BadRequestException(
                f"lambdalab's API Gateway integrates with Lambda only: IntegrationType must be "
                f"AWS_PROXY, not {changes['IntegrationType']!r}.")
        if changes.get("IntegrationUri") is not None:
            function_of(changes["IntegrationUri"])
        if changes.get("PayloadFormatVersion") not in (None, "1.0", "2.0"):
            raise BadRequestException("PayloadFormatVersion must be 1.0 or 2.0.")
        timeout = changes.get("TimeoutInMillis")
        if timeout is not None and not (
                quotas.HTTP_INTEGRATION_TIMEOUT_MIN_MS <= timeout <= quotas.HTTP_INTEGRATION_TIMEOUT_MAX_MS):
            raise BadRequestException(
                f"TimeoutInMillis must be between {quotas.HTTP_INTEGRATION_TIMEOUT_MIN_MS} and "
                f"{quotas.HTTP_INTEGRATION_TIMEOUT_MAX_MS} milliseconds.")
        integration.update(_given(changes, ("IntegrationUri", "PayloadFormatVersion", "TimeoutInMillis",
                                            "Description")))
        self._save(api, HTTP)
        return integration

    @_one_at_a_time
    def delete_integration_v2(self, api_id: str, integration_id: str) -> None:
        """DeleteIntegration (HTTP API): refused while a route targets it."""
        api = self._load(api_id, HTTP)
        _http_integration(api, integration_id)
        users = [r["RouteKey"] for r in api["_routes"].values() if r.get("Target") == f"integrations/{integration_id}"]
        if users:
            raise ConflictException(
                f"Integration {integration_id} is the target of route(s) {', '.join(users)}: "
                "point them elsewhere or delete them first.")
        del api["_integrations"][integration_id]
        self._save(api, HTTP)

    @_one_at_a_time
    def update_http_stage(self, api_id: str, stage_name: str, changes: dict[str, Any]) -> dict[str, Any]:
        """UpdateStage (HTTP API): ``AutoDeploy``, ``Description``, ``StageVariables``
        (the new map replaces the old), ``DeploymentId``, route settings."""
        api = self._load(api_id, HTTP)
        stage = _http_stage_of(api, stage_name)
        deployment = changes.get("DeploymentId")
        if deployment is not None and deployment not in api.get("_deployments", {}):
            raise NotFoundException(f"Invalid Deployment identifier specified {deployment}")
        stage.update(_given(changes, ("AutoDeploy", "Description", "StageVariables", "DeploymentId",
                                      "DefaultRouteSettings", "RouteSettings")))
        stage["LastUpdatedDate"] = self.lab.clock.now()
        self._save(api, HTTP)
        return stage

    @_one_at_a_time
    def delete_http_stage(self, api_id: str, stage_name: str) -> None:
        api = self._load(api_id, HTTP)
        _http_stage_of(api, stage_name)
        del api["_stages"][stage_name]
        self._save(api, HTTP)

    @_one_at_a_time
    def create_http_deployment(self, api_id: str, stage_name: str | None = None, *,
                               description: str | None = None) -> dict[str, Any]:
        """CreateDeployment (HTTP API); with ``stage_name`` that stage points at it. An HTTP
        API's stages serve its current routes either way (see the differences page)."""
        api = self._load(api_id, HTTP)
        stage = _http_stage_of(api, stage_name) if stage_name else None
        deployment: dict[str, Any] = {"DeploymentId": new_id(6), "DeploymentStatus": "DEPLOYED",
                                      "AutoDeployed": False, "CreatedDate": self.lab.clock.now()}
        if description is not None:
            deployment["Description"] = description
        api.setdefault("_deployments", {})[deployment["DeploymentId"]] = deployment
        if stage is not None:
            stage["DeploymentId"], stage["LastUpdatedDate"] = deployment["DeploymentId"], self.lab.clock.now()
        self._save(api, HTTP)
        return deployment

    def get_http_deployments(self, api_id: str) -> list[dict[str, Any]]:
        return list(self._load(api_id, HTTP).get("_deployments", {}).values())

    @_one_at_a_time
    def delete_http_deployment(self, api_id: str, deployment_id: str) -> None:
        api = self._load(api_id, HTTP)
        if deployment_id not in api.get("_deployments", {}):
            raise NotFoundException(f"Invalid Deployment identifier specified {deployment_id}")
        if any(s.get("DeploymentId") == deployment_id for s in api["_stages"].values()):
            raise BadRequestException("Active stages pointing to this deployment must be moved or deleted")
        del api["_deployments"][deployment_id]
        self._save(api, HTTP)

    def match_http(self, api_id: str, stage_name: str, method: str, path: str
                   ) -> tuple[dict[str, Any], dict[str, Any], Match | None]:
        """The API, its stage, and the route and integration a request reaches: the most
        specific path, a method before ``ANY``, ``$default`` last
        (https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-routes.html)."""
        api = self._load(api_id, HTTP)
        stage = api["_stages"].get(stage_name)
        if stage is None:
            raise NotFoundException(f"No stage {stage_name!r}")
        best: tuple[tuple[tuple[int, ...], int], dict[str, Any], dict[str, str]] | None = None
        fallback = None
        for route in api["_routes"].values():
            if route["RouteKey"] == DEFAULT_ROUTE:
                fallback = route
                continue
            route_method, _, template = route["RouteKey"].partition(" ")
            if route_method not in (method, "ANY"):
                continue
            scored = match_path(template, path, greedy_may_be_empty=True)
            if scored is None:
                continue
            rank = (scored[0], int(route_method != "ANY"))
            if best is None or rank > best[0]:
                best = (rank, route, scored[1])
        if best is not None:
            route, template, params = best[1], best[1]["RouteKey"], best[2]
        elif fallback is not None:
            route, template, params = fallback, DEFAULT_ROUTE, {}
        else:
            return api, stage, None
        integration = api["_integrations"].get(str(route.get("Target", "")).removeprefix("integrations/"))
        if integration is None:
            return api, stage, None
        return api, stage, Match(integration, template, params, route)


# -- REST helpers ---------------------------------------------------------------------------


def _rest_stage(api: dict[str, Any], stage_name: str) -> dict[str, Any]:
    found: dict[str, Any] | None = api["_stages"].get(stage_name)
    if found is None:
        raise NotFoundException("Invalid Stage identifier specified")
    return found


def _status_code(value: Any) -> str:
    if not re.match(r"^[1-5]\d\d$", str(value)):
        raise BadRequestException(f"1 validation error detected: Value '{value}' at 'statusCode' failed to "
                                  "satisfy constraint: Member must satisfy regular expression pattern: [1-5]\\d\\d")
    return str(value)


def _rest_method(resource: dict[str, Any], http_method: str) -> dict[str, Any]:
    found: dict[str, Any] | None = (resource.get("resourceMethods") or {}).get(_method(http_method))
    if found is None:
        raise NotFoundException("Invalid Method identifier specified")
    return found


def _check_authorization(api: dict[str, Any], method: dict[str, Any]) -> None:
    """A method's ``authorizationType`` is one lambdalab serves; ``CUSTOM`` names an
    authorizer of the API (AWS's words when it does not)."""
    kind = method.get("authorizationType")
    if kind not in ("NONE", "CUSTOM", "AWS_IAM"):
        raise BadRequestException(
            f"lambdalab's REST APIs take authorizationType NONE, CUSTOM or AWS_IAM, not {kind!r}.")
    if kind == "CUSTOM" and method.get("authorizerId") not in api.get("_authorizers", {}):
        raise BadRequestException("Invalid authorizer ID specified. Setting the authorization type to CUSTOM "
                                  "or COGNITO_USER_POOLS requires a valid authorizer.")
    if kind != "CUSTOM":
        method.pop("authorizerId", None)


def _authorizers_used(api: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The authorizers the API's methods name, as they are now: what a deployment keeps."""
    named = {m.get("authorizerId") for r in api["_resources"].values()
             for m in (r.get("resourceMethods") or {}).values()}
    return {i: copy.deepcopy(a) for i, a in api.get("_authorizers", {}).items() if i in named}


def _models_of(api: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The API's models by name: AWS's defaults (unless deleted) and its own."""
    defaults = {name: {"id": name.lower(), **model} for name, model in validators.DEFAULT_MODELS.items()
                if name not in api.get("_deleted_models", [])}
    return {**defaults, **copy.deepcopy(api.get("_models", {}))}


def _patch_model(model: dict[str, Any], operation: patch.PatchOperation) -> None:
    """One UpdateModel operation, applied to ``model``."""
    if operation.path not in ("/schema", "/description"):
        raise patch.unsupported_for_op(operation, ("/schema", "/description"))
    patch.only_replace(operation)
    if operation.path == "/schema":
        model["schema"] = validators.checked_schema(operation.value)
    else:
        model["description"] = operation.value or ""


def _request_models(api: dict[str, Any], given: Any) -> dict[str, str]:
    """PutMethod's ``requestModels``: content type → the name of one of the API's models."""
    if not isinstance(given, dict) or not all(isinstance(v, str) for v in given.values()):
        raise BadRequestException("Invalid requestModels: send a map of content type to model name")
    for name in given.values():
        if name not in _models_of(api):
            raise BadRequestException(f"Invalid model identifier specified: {name}")
    return dict(given)


def _validator(api: dict[str, Any], validator_id: Any) -> dict[str, Any]:
    found = api.get("_validators", {}).get(validator_id)
    if found is None:
        raise NotFoundException("Invalid Request Validator identifier specified")
    return found  # type: ignore[no-any-return]


def _patch_validator(validator: dict[str, Any], operation: patch.PatchOperation) -> None:
    """One UpdateRequestValidator operation, applied to ``validator``."""
    paths = ("/name", "/validateRequestBody", "/validateRequestParameters")
    if operation.path not in paths:
        raise patch.unsupported_for_op(operation, paths)
    patch.only_replace(operation)
    member = operation.parts[0]
    validator[member] = operation.value or "" if member == "name" else patch.boolean(operation)


def _patch_method(method: dict[str, Any], operation: patch.PatchOperation, api: dict[str, Any]) -> None:
    """One UpdateMethod operation, applied to ``method``."""
    if operation.parts[0] == "requestParameters" and len(operation.parts) == 2:
        parameters = method.setdefault("requestParameters", {})
        if operation.op == "remove":
            parameters.pop(operation.parts[1], None)
        else:
            parameters.update(validators.checked_parameters({operation.parts[1]: patch.boolean(operation)}))
        return
    patch.only_replace(operation)
    if operation.path == "/requestValidatorId":
        method["requestValidatorId"] = _validator(api, operation.needs_value())["id"]
        return
    if operation.path == "/apiKeyRequired":
        method["apiKeyRequired"] = patch.boolean(operation)
    elif operation.path in ("/authorizationType", "/authorizerId", "/operationName"):
        method[operation.parts[0]] = operation.needs_value()
    else:
        raise BadRequestException(f"Invalid patch path {operation.path}")


def _patch_resource(api: dict[str, Any], resource: dict[str, Any], operation: patch.PatchOperation) -> None:
    """One UpdateResource operation: the resource moves, and the paths below it follow."""
    if operation.path not in ("/parentId", "/pathPart") or operation.op != "replace":
        raise patch.unsupported_for_op(operation, ("/parentId", "/pathPart"))
    if resource["path"] == "/":
        raise BadRequestException(f"Root resource cannot update its {operation.parts[0]}.")
    _move_resource(api, resource, operation.parts[0], operation.needs_value())


def _patch_rest_api(api: dict[str, Any], operation: patch.PatchOperation) -> None:
    """One UpdateRestApi operation, applied to ``api``."""
    if operation.parts[0] == "binaryMediaTypes" and len(operation.parts) == 2:
        types: list[str] = api.setdefault("binaryMediaTypes", [])
        named = operation.parts[1]
        if operation.op in ("remove", "replace") and named in types:
            types.remove(named)
        if operation.op == "add":
            types.append(named)
        elif operation.op == "replace":
            types.append(operation.needs_value())
        return
    fields = {"/name": "name", "/description": "description", "/apiKeySource": "apiKeySource",
              "/disableExecuteApiEndpoint": "disableExecuteApiEndpoint",
              "/minimumCompressionSize": "minimumCompressionSize", "/policy": "policy"}
    if operation.path not in fields:
        raise BadRequestException(f"Invalid patch path {operation.path}")
    patch.only_replace(operation)
    key = fields[operation.path]
    if key == "disableExecuteApiEndpoint":
        api[key] = patch.boolean(operation)
    elif key == "policy":
        api[key] = resource_policy.checked(operation.needs_value())
    elif key == "minimumCompressionSize":
        api[key] = _compression_size(operation.needs_value())
    elif key == "apiKeySource" and operation.value not in ("HEADER", "AUTHORIZER"):
        raise BadRequestException("Invalid apiKeySource: use HEADER or AUTHORIZER.")
    elif key == "name" and not operation.value:
        raise BadRequestException("Invalid REST API name specified: give the API a name.")
    else:
        api[key] = operation.needs_value()


def _check_authorizer(authorizer: dict[str, Any]) -> None:
    """Refuse an authorizer lambdalab cannot call or cache."""
    function_of(authorizer["authorizerUri"])
    ttl = authorizer["authorizerResultTtlInSeconds"]
    if not 0 <= ttl <= quotas.AUTHORIZER_TTL_MAX_S:
        raise BadRequestException(f"authorizerResultTtlInSeconds must be 0 to {quotas.AUTHORIZER_TTL_MAX_S}.")
    if authorizer["type"] == "REQUEST" and ttl and not authorizer["identitySource"]:
        raise BadRequestException("identitySource is required when caching is enabled (TTL > 0).")


def _patch_authorizer(authorizer: dict[str, Any], operation: patch.PatchOperation) -> None:
    """One UpdateAuthorizer operation, applied to ``authorizer``."""
    if operation.path not in _AUTHORIZER_PATHS:
        raise BadRequestException(f"Invalid patch path {operation.path}")
    patch.only_replace(operation)
    key = operation.parts[0]
    if key == "authorizerResultTtlInSeconds":
        authorizer[key] = _integer(operation)
    elif key == "identitySource" or key == "identityValidationExpression":
        authorizer[key] = operation.value or ""
    else:
        authorizer[key] = operation.needs_value()


_AUTHORIZER_PATHS = ("/name", "/authorizerUri", "/identitySource", "/identityValidationExpression",
                     "/authorizerResultTtlInSeconds")
_INTEGRATION_PATHS = ("/uri", "/httpMethod", "/timeoutInMillis", "/passthroughBehavior", "/cacheNamespace",
                      "/requestTemplates/{content_type}")
_PASSTHROUGH = ("WHEN_NO_MATCH", "WHEN_NO_TEMPLATES", "NEVER")


def _patch_integration(integration: dict[str, Any], operation: patch.PatchOperation) -> None:
    """One UpdateIntegration operation, applied to ``integration``."""
    if operation.parts[0] == "requestTemplates" and len(operation.parts) == 2:
        templates = integration.setdefault("requestTemplates", {})
        if operation.op == "remove":
            templates.pop(operation.parts[1], None)
        else:
            templates[operation.parts[1]] = operation.value or ""
        if not templates:
            del integration["requestTemplates"]
        return
    if operation.path not in _INTEGRATION_PATHS:
        raise BadRequestException(f"Invalid patch path {operation.path}")
    patch.only_replace(operation)
    key = operation.parts[0]
    value = operation.needs_value()
    if key == "timeoutInMillis":
        timeout = _integer(operation)
        if not quotas.REST_INTEGRATION_TIMEOUT_MIN_MS <= timeout <= quotas.REST_INTEGRATION_TIMEOUT_MAX_MS:
            raise BadRequestException(f"Timeout should be between {quotas.REST_INTEGRATION_TIMEOUT_MIN_MS} ms and "
                                      f"{quotas.REST_INTEGRATION_TIMEOUT_MAX_MS} ms")
        integration[key] = timeout
    elif key == "passthroughBehavior" and value not in _PASSTHROUGH:
        raise BadRequestException(f"Invalid passthroughBehavior: use one of {', '.join(_PASSTHROUGH)}")
    else:
        integration[key] = value


def _integer(operation: patch.PatchOperation) -> int:
    value = operation.needs_value()
    if not value.isdigit():
        raise BadRequestException(f"Invalid value for {operation.path}: a whole number, not {value!r}.")
    return int(value)


def _compression_size(value: str) -> int:
    if not value.isdigit() or int(value) > quotas.APIGATEWAY_COMPRESSION_MAX_BYTES:
        raise BadRequestException(
            f"Invalid minimum compression size, must be between 0 and {quotas.APIGATEWAY_COMPRESSION_MAX_BYTES}")
    return int(value)


def _subtree(api: dict[str, Any], resource_id: str) -> list[str]:
    """``resource_id`` and the ids of every resource below it."""
    found, queue = [], [resource_id]
    while queue:
        current = queue.pop()
        found.append(current)
        queue += [r["id"] for r in api["_resources"].values() if r.get("parentId") == current]
    return found


def _move_resource(api: dict[str, Any], resource: dict[str, Any], key: str, value: str) -> None:
    """Give ``resource`` a new ``pathPart`` or ``parentId``, checked as CreateResource
    checks, and recompute the path of it and everything below it."""
    resources = api["_resources"]
    parent_id = value if key == "parentId" else resource["parentId"]
    part = value if key == "pathPart" else resource["pathPart"]
    if parent_id not in resources:
        raise NotFoundException("Invalid Resource identifier specified")
    if parent_id in _subtree(api, resource["id"]):
        raise BadRequestException("Resources cannot be cyclical.")
    if not _PATH_PART.match(part):
        raise BadRequestException(
            f"Resource's path part only allow a-zA-Z0-9._- and curly braces at the beginning "
            f"and the end and an optional plus sign before the closing brace: {part!r}.")
    parent = resources[parent_id]
    if parent["path"].rstrip("/").endswith("+}"):
        raise BadRequestException(
            f"Cannot create a child of a resource with a greedy path variable: {parent['pathPart']}")
    if any(r["parentId"] == parent_id and r["pathPart"] == part and r["id"] != resource["id"]
           for r in resources.values() if "parentId" in r):
        raise ConflictException(f"Another resource with the same parent already has this name: {part}")
    resource["parentId"], resource["pathPart"] = parent_id, part
    for below in _subtree(api, resource["id"]):
        moved = resources[below]
        moved["path"] = resources[moved["parentId"]]["path"].rstrip("/") + "/" + moved["pathPart"]


#: UpdateStage's paths lambdalab applies, as AWS lists them in its refusal.
_STAGE_PATHS = ("/deploymentId", "/description", "/cacheClusterEnabled", "/tracingEnabled",
                "/variables/{variable_name}")


def _patch_stage(api: dict[str, Any], stage: dict[str, Any], operation: patch.PatchOperation) -> None:
    """One UpdateStage operation, applied to ``stage``."""
    if operation.parts[0] == "variables" and len(operation.parts) == 2:
        variables = stage.setdefault("variables", {})
        if operation.op == "remove":
            variables.pop(operation.parts[1], None)
        else:
            variables[operation.parts[1]] = operation.needs_value()
        if not variables:
            del stage["variables"]
        return
    if len(operation.parts) == 4 and operation.parts[2] == "throttling":
        _patch_throttling(stage, operation)
        return
    if operation.path not in _STAGE_PATHS:
        raise BadRequestException(
            f"Invalid method setting path: {operation.path}. Must be one of: [{', '.join(_STAGE_PATHS)}]")
    patch.only_replace(operation)
    key = operation.parts[0]
    if key in ("cacheClusterEnabled", "tracingEnabled"):
        stage[key] = patch.boolean(operation)
    elif key == "deploymentId" and operation.value not in api["_deployments"]:
        raise BadRequestException("Deployment id does not exist")
    else:
        stage[key] = operation.needs_value()


def _read_stage(stage: dict[str, Any], parts: tuple[str, ...]) -> Any:
    """What a path names in ``stage``: its members, and ``.../throttling/<limit>`` in
    ``methodSettings`` where :func:`_patch_throttling` keeps them."""
    if len(parts) == 4 and parts[2] == "throttling" and parts[3] in ("rateLimit", "burstLimit"):
        settings = stage.get("methodSettings", {}).get(f"{parts[0].lstrip('/')}/{parts[1]}", {})
        member = "throttlingRateLimit" if parts[3] == "rateLimit" else "throttlingBurstLimit"
        return settings.get(member, patch.MISSING)
    return patch.read_pointer(stage, parts)


def _patch_throttling(stage: dict[str, Any], operation: patch.PatchOperation) -> None:
    """``/<resource path>/<METHOD>/throttling/rateLimit|burstLimit`` (``*/*`` for the
    whole stage), kept in ``methodSettings`` as GetStage shows it
    (https://docs.aws.amazon.com/apigateway/latest/api/patch-operations.html#UpdateStage-Patch)."""
    resource, method, _, limit = operation.parts
    if limit not in ("rateLimit", "burstLimit"):
        raise BadRequestException(f"Invalid method setting path: {operation.path}")
    patch.only_replace(operation)
    try:
        value = float(operation.needs_value())
    except ValueError:
        raise BadRequestException(f"Invalid {limit} value: {operation.value}") from None
    if not 0 <= value < float("inf"):
        raise BadRequestException(f"Invalid {limit} value: {operation.value}")
    settings = stage.setdefault("methodSettings", {}).setdefault(f"{resource.lstrip('/')}/{method}", {})
    if limit == "rateLimit":
        settings["throttlingRateLimit"] = value
    else:
        settings["throttlingBurstLimit"] = int(value)


# -- HTTP API helpers ---------------------------------------------------------------------


_HTTP_AUTHORIZER_MEMBERS = ("Name", "AuthorizerType", "IdentitySource", "AuthorizerUri",
                            "AuthorizerPayloadFormatVersion", "EnableSimpleResponses",
                            "AuthorizerResultTtlInSeconds", "JwtConfiguration")


def _http_authorizer(authorizer_id: str, given: Mapping[str, Any]) -> dict[str, Any]:
    """An HTTP API authorizer from its members (as the wire names them), checked."""
    authorizer_type = given.get("AuthorizerType")
    authorizer: dict[str, Any] = {"AuthorizerId": authorizer_id, "Name": given.get("Name"),
                                  "AuthorizerType": authorizer_type,
                                  "IdentitySource": list(given.get("IdentitySource") or [])}
    if authorizer_type == "REQUEST":
        function_of(given.get("AuthorizerUri") or "")
        version = given.get("AuthorizerPayloadFormatVersion") or ""
        if version not in ("1.0", "2.0"):
            raise BadRequestException("AuthorizerPayloadFormatVersion is required for REQUEST authorizers: "
                                      "1.0 or 2.0.")
        simple = bool(given.get("EnableSimpleResponses"))
        if simple and version != "2.0":
            raise BadRequestException("EnableSimpleResponses is only supported for payload format version 2.0.")
        ttl = given.get("AuthorizerResultTtlInSeconds") or 0
        if not 0 <= ttl <= quotas.AUTHORIZER_TTL_MAX_S:
            raise BadRequestException(f"AuthorizerResultTtlInSeconds must be 0 to {quotas.AUTHORIZER_TTL_MAX_S}.")
        if ttl and not authorizer["IdentitySource"]:
            raise BadRequestException("IdentitySource is required when caching is enabled (TTL > 0).")
        authorizer |= {"AuthorizerUri": given["AuthorizerUri"], "AuthorizerPayloadFormatVersion": version,
                       "EnableSimpleResponses": simple, "AuthorizerResultTtlInSeconds": ttl}
    elif authorizer_type == "JWT":
        config = given.get("JwtConfiguration") or {}
        if not config.get("Issuer") or not config.get("Audience"):
            raise BadRequestException("JwtConfiguration needs an Issuer and at least one Audience.")
        authorizer["JwtConfiguration"] = {"Issuer": config["Issuer"], "Audience": list(config["Audience"])}
        authorizer["IdentitySource"] = authorizer["IdentitySource"] or ["$request.header.Authorization"]
    else:
        raise BadRequestException(f"AuthorizerType must be REQUEST or JWT, not {authorizer_type!r}.")
    return authorizer


def _given(changes: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    """The members of an update that were sent (``None`` is "not sent" in botocore's JSON)."""
    return {k: changes[k] for k in keys if changes.get(k) is not None}


def _refuse_unserved(changes: dict[str, Any], keys: tuple[str, ...], operation: str) -> None:
    sent = [k for k in keys if changes.get(k) is not None]
    if sent:
        raise BadRequestException(f"lambdalab's {operation} does not change {', '.join(sent)}: "
                                  "update the route or integration itself.")


def _check_route_authorization(api: dict[str, Any], route: dict[str, Any]) -> None:
    """A route's ``AuthorizationType`` is one lambdalab serves, and names an authorizer of
    that type when it needs one."""
    kind = route.get("AuthorizationType", "NONE")
    wanted = {"CUSTOM": "REQUEST", "JWT": "JWT"}
    if kind not in ("NONE", "AWS_IAM", *wanted):
        raise BadRequestException(
            f"AuthorizationType must be NONE, AWS_IAM, CUSTOM or JWT in lambdalab, not {kind!r}.")
    if kind in ("NONE", "AWS_IAM"):
        route.pop("AuthorizerId", None)
        return
    authorizer = api.get("_authorizers", {}).get(route.get("AuthorizerId"))
    if authorizer is None or authorizer["AuthorizerType"] != wanted[kind]:
        raise BadRequestException(
            f"Unable to find authorizer with id {route.get('AuthorizerId')!r} of type {wanted[kind]}: "
            f"AuthorizationType {kind} needs a {wanted[kind]} authorizer of this API.")


def _http_route(api: dict[str, Any], route_id: str) -> dict[str, Any]:
    found: dict[str, Any] | None = api["_routes"].get(route_id)
    if found is None:
        raise NotFoundException(f"Invalid Route identifier specified {route_id}")
    return found


def _http_integration(api: dict[str, Any], integration_id: str) -> dict[str, Any]:
    found: dict[str, Any] | None = api["_integrations"].get(integration_id)
    if found is None:
        raise NotFoundException(f"Invalid Integration identifier specified {integration_id}")
    return found


def _http_stage_of(api: dict[str, Any], stage_name: str) -> dict[str, Any]:
    found: dict[str, Any] | None = api["_stages"].get(stage_name)
    if found is None:
        raise NotFoundException(f"Invalid stage identifier specified {stage_name}")
    return found


def _method(name: Any) -> str:
    method = str(name).upper()
    if method not in METHODS:
        raise BadRequestException(f"Invalid HttpMethod specified. Valid options are {','.join(METHODS)}")
    return method


def _check_stage_name(name: Any) -> None:
    if not isinstance(name, str) or not re.match(r"^[A-Za-z0-9_-]{1,128}$", name):
        raise BadRequestException(
            "Stage name only allows a-zA-Z0-9_- and at most 128 characters.")


def _integration(uri: str, payload_format_version: str) -> dict[str, Any]:
    function_of(uri)
    if payload_format_version not in ("1.0", "2.0"):
        raise BadRequestException("PayloadFormatVersion must be 1.0 or 2.0.")
    return {"IntegrationId": new_id(7), "IntegrationType": "AWS_PROXY", "IntegrationUri": uri,
            "IntegrationMethod": "POST", "PayloadFormatVersion": payload_format_version,
            "ConnectionType": "INTERNET", "TimeoutInMillis": 30000}


def _route(route_key: str, target: str | None) -> dict[str, Any]:
    """A route, its key checked: ``$default`` or ``METHOD /path``."""
    if route_key != DEFAULT_ROUTE:
        method, _, path = str(route_key).partition(" ")
        if method not in METHODS or not path.startswith("/") or not all(
                _PATH_PART.match(p) for p in split_path(path)):
            raise BadRequestException(
                f"Unable to create route {route_key!r}. A route key is $default or "
                "'METHOD /path' (e.g. 'GET /items/{id}', 'ANY /{proxy+}').")
    route: dict[str, Any] = {"RouteId": new_id(7), "RouteKey": route_key, "AuthorizationType": "NONE",
                             "ApiKeyRequired": False}
    if target is not None:
        route["Target"] = target
    return route
