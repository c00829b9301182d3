"""IAM enforcement on the edge: is the caller of this operation allowed to call it?

With ``Lab(enforce_iam=True)`` (``lambdalab serve --enforce-iam``,
``LAMBDALAB_ENFORCE_IAM=1``) every operation the protocol layer has read and checked is
authorised before it runs, as AWS authorises a request
(https://docs.aws.amazon.com/IAM/latest/UserGuide/intro-structure.html#intro-structure-authorization):

1. the SigV4 access key id names a principal: the lab's root keys
   (:data:`~lambdalab.limits.ROOT_ACCESS_KEY_IDS`: ``test``, and the placeholder key a
   function whose role IAM did not issue gets) are the account's root, allowed
   everything; any other is asked of the ``lambdalab_principal`` hook (the IAM plugin's
   users and role sessions); a key nobody knows is ``UnrecognizedClientException``
   (S3: ``InvalidAccessKeyId``; query services: ``InvalidClientTokenId``);
2. the action is ``<IAM service prefix>:<operation>`` (:func:`action_of`), the resource
   the ARN the operation's input names (:func:`resource_of`), the request context the
   global keys IAM sets (:func:`context_of`);
3. :func:`lambdalab.iam_policy.evaluate` decides from the principal's identity-based
   policies and the resource's policy: for ``lambda:InvokeFunction`` the function's
   (``AddPermission``), for a plugin's resource what the ``lambdalab_resource_policy``
   hook gives (an SQS queue's ``Policy`` attribute); a denial is AWS's AccessDenied error of the service, its message
   naming the principal, the action, the resource and why
   (https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_access-denied.html).

What is checked and what is not: ``docs/reference/iam-enforcement.rst``.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence
from urllib.parse import unquote, urlsplit

from botocore.model import ServiceModel

from .. import limits
from ..arn import parse_function_ref
from ..iam_policy import Decision, PolicyType, Request, Result, evaluate, iso8601
from .calls import Caller
from .parsers import ParsedRequest
from .serializers import ServiceError

#: ``aws:PrincipalType`` of the account's root
#: (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-principaltype).
ROOT_TYPE = "Account"


@dataclass(frozen=True)
class Principal:
    """Who a request's access key stands for, with the policies that say what it may do."""

    #: ``arn:aws:iam::ACCOUNT:user/NAME``, ``arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION``
    #: or ``arn:aws:iam::ACCOUNT:root``.
    arn: str
    account: str
    #: Its identity-based policy documents (parsed): attached and inline.
    policies: tuple[Mapping[str, Any], ...] = ()
    #: ``aws:PrincipalType``: ``User``, ``AssumedRole`` or ``Account`` (the root).
    type: str = "User"
    #: ``aws:userid``: ``AIDA…`` for a user, ``AROA…:SESSION`` for a role session.
    user_id: str = ""
    #: The user's or role's tags (``aws:PrincipalTag/KEY``).
    tags: Mapping[str, str] = field(default_factory=dict)
    #: Its permissions boundary (the role's, for a session), parsed; ``None``: none.
    boundary: Mapping[str, Any] | None = None
    #: A role session's session policies (AssumeRole's ``Policy``, ``PolicyArns``);
    #: ``None``: the session was given none (not the same as ``()``, which allows nothing).
    session_policies: tuple[Mapping[str, Any], ...] | None = None

    @property
    def is_root(self) -> bool:
        return self.type == ROOT_TYPE


#: IAM's service prefix where botocore's ``signingName`` differs
#: (https://docs.aws.amazon.com/service-authorization/latest/reference/reference_policies_actions-resources-contextkeys.html).
SERVICE_PREFIXES = {"monitoring": "cloudwatch"}

#: Operations whose IAM action has another name than the operation
#: (the Service Authorization Reference's pages for Lambda and S3).
ACTION_NAMES = {
    ("lambda", "Invoke"): "InvokeFunction",
    ("lambda", "InvokeWithResponseStream"): "InvokeFunction",
    ("s3", "ListObjects"): "ListBucket",
    ("s3", "ListObjectsV2"): "ListBucket",
    ("s3", "HeadBucket"): "ListBucket",
    ("s3", "HeadObject"): "GetObject",
    ("s3", "ListBuckets"): "ListAllMyBuckets",
    ("s3", "DeleteObjects"): "DeleteObject",
    ("s3", "CopyObject"): "PutObject",
    ("s3", "CreateMultipartUpload"): "PutObject",
    ("s3", "UploadPart"): "PutObject",
    ("s3", "CompleteMultipartUpload"): "PutObject",
    ("s3", "AbortMultipartUpload"): "AbortMultipartUpload",
    ("s3", "ListObjectVersions"): "ListBucketVersions",
    ("s3", "GetBucketNotificationConfiguration"): "GetBucketNotification",
    ("s3", "PutBucketNotificationConfiguration"): "PutBucketNotification",
}


#: Actions every principal may call, whatever its policies say: "No permissions are
#: required to perform this operation"
#: (https://docs.aws.amazon.com/STS/latest/APIReference/API_GetCallerIdentity.html).
ALWAYS_ALLOWED = frozenset({"sts:GetCallerIdentity"})


@functools.lru_cache(maxsize=None)  # one per service model, and botocore keeps each
def service_prefix(model: ServiceModel) -> str:
    """``lambda``, ``s3``, ``sqs``, ``cloudwatch`` (whose endpoints are ``monitoring``)…"""
    name = model.signing_name or model.endpoint_prefix
    return SERVICE_PREFIXES.get(name, name)


@functools.lru_cache(maxsize=4096)
def action_of(model: ServiceModel, operation: str) -> str:
    """The IAM action of an operation: ``lambda:InvokeFunction`` for ``Invoke``."""
    prefix = service_prefix(model)
    return f"{prefix}:{ACTION_NAMES.get((prefix, operation), operation)}"


# -- resources ---------------------------------------------------------------------------


def _text(params: Mapping[str, Any], *names: str) -> str | None:
    for name in names:
        value = params.get(name)
        if isinstance(value, str) and value:
            return value
    return None


def _lambda_resource(lab: Any, params: Mapping[str, Any]) -> str:
    ref = _text(params, "FunctionName")
    if ref is None:
        return "*"
    found = parse_function_ref(ref, _text(params, "Qualifier"))
    return lab.arns.function(found.name, found.qualifier)


def _sqs_resource(lab: Any, params: Mapping[str, Any]) -> str:
    url, name = _text(params, "QueueUrl"), _text(params, "QueueName")
    account = lab.arns.account_id
    if url:
        try:
            parts = [p for p in urlsplit(url).path.split("/") if p]
        except ValueError:  # no URL at all ("http://[")
            return "*"
        if len(parts) < 2:
            return "*"
        account, name = parts[-2], parts[-1]
    return f"arn:aws:sqs:{lab.arns.region}:{account}:{name}" if name else "*"


def _s3_resource(lab: Any, params: Mapping[str, Any]) -> str:
    bucket, key = _text(params, "Bucket"), _text(params, "Key")
    if bucket is None:
        return "*"
    return f"arn:aws:s3:::{bucket}/{key}" if key else f"arn:aws:s3:::{bucket}"


def _iam_resource(lab: Any, params: Mapping[str, Any]) -> str:
    """The role or user an IAM operation names (``RoleName``, ``UserName``: ARNs without
    their path), else the policy (``PolicyArn``)."""
    for member, kind in (("RoleName", "role"), ("UserName", "user")):
        name = _text(params, member)
        if name:
            return f"arn:aws:iam::{lab.arns.account_id}:{kind}/{name}"
    return _text(params, "PolicyArn") or "*"


def _named(service: str, kind: str, *names: str) -> Callable[[Any, Mapping[str, Any]], str]:
    """A resource ``arn:aws:SERVICE:REGION:ACCOUNT:KIND/NAME`` (KIND ending in ``:``:
    ``KIND:NAME``), or an ARN the input gives whole."""
    def resource(lab: Any, params: Mapping[str, Any]) -> str:
        name = _text(params, *names)
        if name is None:
            return "*"
        if name.startswith("arn:"):
            return name
        sep = "" if kind.endswith(":") else "/"
        return f"arn:aws:{service}:{lab.arns.region}:{lab.arns.account_id}:{kind}{sep}{name}"
    return resource


#: How each service's resource is read from an operation's input; a service not here
#: (or an operation naming none of these members) acts on ``*``.
RESOURCES: dict[str, Callable[[Any, Mapping[str, Any]], str]] = {
    "lambda": _lambda_resource,
    "sqs": _sqs_resource,
    "s3": _s3_resource,
    "kinesis": _named("kinesis", "stream", "StreamARN", "StreamName"),
    "dynamodb": _named("dynamodb", "table", "TableArn", "TableName"),
    "sns": _named("sns", ":", "TopicArn"),
    "logs": _named("logs", "log-group:", "logGroupName"),
    "iam": _iam_resource,
    "sts": lambda lab, params: _text(params, "RoleArn") or "*",
}


def resource_of(lab: Any, prefix: str, params: Mapping[str, Any]) -> str:
    """The ARN of what the operation acts on, in the lab's region and account."""
    found = RESOURCES.get(prefix)
    return found(lab, params) if found else "*"


def resource_policy_of(lab: Any, action: str, resource: str,
                       params: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The resource-based policy that applies: a function's (``AddPermission``) for
    invoking it; for a resource of a plugin's service, what the
    ``lambdalab_resource_policy`` hook says (an SQS queue's ``Policy``); else ``None``."""
    if not action.startswith("lambda:"):
        if resource == "*" or (resource.startswith("arn:aws:iam:") and action != "sts:AssumeRole"):
            return None  # a role's one resource policy is its trust policy, for sts:AssumeRole
        kept: Mapping[str, Any] | None = lab.plugin_manager.hook.lambdalab_resource_policy(
            lab=lab, resource_arn=resource)
        return kept
    ref = _text(params, "FunctionName")
    if action != "lambda:InvokeFunction" or ref is None:
        return None
    found = parse_function_ref(ref, _text(params, "Qualifier"))
    document: Mapping[str, Any] | None = lab.permissions.document_of(found.name, found.qualifier)
    return document


#: Condition keys an operation's input sets, by action: the key, and the input member
#: (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_iam-condition-keys.html).
REQUEST_KEYS: dict[str, tuple[tuple[str, str], ...]] = {
    "sts:AssumeRole": (("sts:ExternalId", "ExternalId"), ("sts:RoleSessionName", "RoleSessionName")),
    # S3's own keys (https://docs.aws.amazon.com/AmazonS3/latest/userguide/amazon-s3-policy-keys.html)
    "s3:ListBucket": (("s3:prefix", "Prefix"), ("s3:delimiter", "Delimiter")),
    "s3:PutObject": (("s3:x-amz-acl", "ACL"),
                     ("s3:x-amz-server-side-encryption", "ServerSideEncryption")),
    # the boundary being set: what a delegated administrator's policy conditions on
    # (https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_boundaries.html#access_policies_boundaries-delegate)
    **{f"iam:{operation}": (("iam:PermissionsBoundary", "PermissionsBoundary"),)
       for operation in ("CreateRole", "CreateUser", "PutRolePermissionsBoundary", "PutUserPermissionsBoundary")},
}


def request_context(action: str, params: Mapping[str, Any]) -> dict[str, str]:
    """The condition keys ``action``'s input sets (``sts:ExternalId`` of AssumeRole)."""
    return {key: params[member] for key, member in REQUEST_KEYS.get(action, ())
            if isinstance(params.get(member), str)}


@functools.lru_cache(maxsize=64)
def _clock_keys(second: int) -> tuple[str, str]:
    """``aws:EpochTime`` and ``aws:CurrentTime`` of a second, formatted once (formatting
    a date costs microseconds, and every enforced request carries both)."""
    return str(second), iso8601(second)


def context_of(principal: Principal, caller: Caller) -> dict[str, Any]:
    """The global condition keys of a request from ``principal``
    (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html):
    the time from the lab's clock, ``aws:SourceIp`` from the client's address."""
    epoch_time, current_time = _clock_keys(int(caller.lab.clock.now()))
    context: dict[str, Any] = {
        "aws:PrincipalArn": principal.arn, "aws:PrincipalAccount": principal.account,
        "aws:PrincipalType": principal.type, "aws:RequestedRegion": caller.region,
        "aws:SecureTransport": False,  # the edge speaks plain HTTP
        "aws:EpochTime": epoch_time, "aws:CurrentTime": current_time,
    }
    if principal.tags:
        context.update({f"aws:PrincipalTag/{key}": value for key, value in principal.tags.items()})
    if caller.source_ip:
        context["aws:SourceIp"] = caller.source_ip
    if principal.user_id:
        context["aws:userid"] = principal.user_id
    if principal.type == "User":
        context["aws:username"] = principal.arn.rsplit("/", 1)[-1]
    return context


# -- the decision and its answer ---------------------------------------------------------


def principal_of(lab: Any, access_key_id: str) -> Principal | None:
    """The root for the lab's root keys, else what the ``lambdalab_principal`` hook says."""
    if access_key_id in limits.ROOT_ACCESS_KEY_IDS:
        account = lab.arns.account_id
        return Principal(f"arn:aws:iam::{account}:root", account, type=ROOT_TYPE, user_id=account)
    found: Principal | None = lab.plugin_manager.hook.lambdalab_principal(lab=lab, access_key_id=access_key_id)
    return found


def authorize(caller: Caller | None, model: ServiceModel, protocol: str, parsed: ParsedRequest) -> None:
    """Raise the service's AWS error unless the caller may call ``parsed``'s operation;
    nothing when the lab does not enforce IAM."""
    if caller is None or not getattr(caller.lab, "enforce_iam", False):
        return
    if caller.access_key_id is None:
        if protocol == "rest-xml":  # S3: an anonymous request, allowed by a policy naming "*"
            return _authorize_anonymous(caller, model, parsed)
        raise _unsigned(protocol)
    principal = principal_of(caller.lab, caller.access_key_id)
    if principal is None:
        raise _unrecognized(protocol, caller.access_key_id)
    action = action_of(model, parsed.operation.name)
    if principal.is_root or action in ALWAYS_ALLOWED:
        return
    resource = resource_of(caller.lab, service_prefix(model), parsed.params)
    context = context_of(principal, caller)
    if action in REQUEST_KEYS:
        context.update(request_context(action, parsed.params))
    for act, on in ((action, resource), *also_needed(model, parsed)):
        request = Request(principal.arn, act, on, principal.account, caller.lab.arns.account_id, context)
        result = evaluate(request, principal.policies, resource_policy_of(caller.lab, act, on, parsed.params),
                          boundary=principal.boundary, session_policies=principal.session_policies)
        if not result.allowed:
            raise access_denied(model, protocol, request, result)


def _copy_source(params: Mapping[str, Any]) -> str | None:
    """A copy's ``CopySource`` (``/bucket/key?versionId=…``, URL-encoded) as the object's ARN."""
    source = _text(params, "CopySource")
    bucket, _, key = unquote(source.split("?", 1)[0]).lstrip("/").partition("/") if source else ("", "", "")
    return f"arn:aws:s3:::{bucket}/{key}" if bucket and key else None


def also_needed(model: ServiceModel, parsed: ParsedRequest) -> list[tuple[str, str]]:
    """What an operation needs besides its own action on its resource: CopyObject reads
    its source, so ``s3:GetObject`` on it too
    (https://docs.aws.amazon.com/AmazonS3/latest/API/API_CopyObject.html)."""
    if (service_prefix(model), parsed.operation.name) != ("s3", "CopyObject"):
        return []
    source = _copy_source(parsed.params)
    return [("s3:GetObject", source)] if source else []


#: Who an unsigned request is: a policy's ``Principal`` ``*`` (or ``{"AWS": "*"}``)
#: names it, nothing else does
#: (https://docs.aws.amazon.com/AmazonS3/latest/userguide/example-bucket-policies.html).
ANONYMOUS = "anonymous"


def _authorize_anonymous(caller: Caller, model: ServiceModel, parsed: ParsedRequest) -> None:
    """S3's anonymous request: allowed only by the resource's policy (a bucket policy
    granting ``Principal`` ``*``); else ``AccessDenied``, "Access Denied", naming nobody
    (https://docs.aws.amazon.com/AmazonS3/latest/userguide/troubleshoot-403-errors.html)."""
    action = action_of(model, parsed.operation.name)
    resource = resource_of(caller.lab, service_prefix(model), parsed.params)
    context: dict[str, Any] = {"aws:PrincipalType": "Anonymous", "aws:RequestedRegion": caller.region,
                               "aws:SecureTransport": False, "aws:EpochTime": str(int(caller.lab.clock.now()))}
    if caller.source_ip:
        context["aws:SourceIp"] = caller.source_ip
    context.update(request_context(action, parsed.params))
    for act, on in ((action, resource), *also_needed(model, parsed)):
        request = Request(ANONYMOUS, act, on, None, caller.lab.arns.account_id, context)
        policy = resource_policy_of(caller.lab, act, on, parsed.params)
        if policy is None or not evaluate(request, (), policy).allowed:
            raise _unsigned("rest-xml")


# -- services acting on a function's behalf ----------------------------------------------


def denied_action(lab: Any, role_arn: str, actions: Sequence[str], resource: str) -> str | None:
    """The first of ``actions`` a function's execution role may not call on ``resource``,
    when ``lab`` enforces IAM; else ``None``.

    What Lambda checks before it acts with the role: an event source mapping's reads of
    its source, an on-failure destination's send
    (https://docs.aws.amazon.com/lambda/latest/dg/lambda-intro-execution-role.html). The
    role's policies are what the ``lambdalab_role_policies`` hook gives (capped by the
    boundary ``lambdalab_role_boundary`` gives), the resource's
    what ``lambdalab_resource_policy`` gives (a queue policy naming the role allows too);
    a role no plugin keeps is never refused (its function acts as the account's root)."""
    if not getattr(lab, "enforce_iam", False):
        return None
    policies = lab.plugin_manager.hook.lambdalab_role_policies(lab=lab, role_arn=role_arn)
    if policies is None:
        return None
    boundary = lab.plugin_manager.hook.lambdalab_role_boundary(lab=lab, role_arn=role_arn)
    account = lab.arns.account_id
    resource_policy = None if resource == "*" else \
        lab.plugin_manager.hook.lambdalab_resource_policy(lab=lab, resource_arn=resource)
    for action in actions:
        request = Request(role_arn, action, resource, account, account,
                          {"aws:PrincipalArn": role_arn, "aws:PrincipalAccount": account})
        if not evaluate(request, policies, resource_policy, boundary=boundary).allowed:
            return action
    return None


def may_invoke(lab: Any, service_principal: str, function_arn: str, *, source_arn: str | None = None,
               source_account: str | None = None) -> bool:
    """Whether a service (``s3.amazonaws.com``) may invoke a function for a source
    (``aws:SourceArn``, ``aws:SourceAccount``) under its resource-based policy
    (``AddPermission``), whether or not ``lab`` enforces IAM: S3 checks it when a
    notification is configured, always; EventBridge and SNS when they deliver, only in a
    lab that enforces IAM (``lab.enforce_iam``), so that labs without IAM keep working
    (https://docs.aws.amazon.com/lambda/latest/dg/access-control-resource-based.html)."""
    ref = parse_function_ref(function_arn)
    context = {key: value for key, value in (("aws:SourceArn", source_arn), ("aws:SourceAccount", source_account))
               if value is not None}
    request = Request(service_principal, "lambda:InvokeFunction", lab.arns.function(ref.name, ref.qualifier),
                      None, lab.arns.account_id, context)
    return evaluate(request, (), lab.permissions.document_of(ref.name, ref.qualifier)).allowed


def denial_message(request: Request, result: Result) -> str:
    """AWS's words: ``User: ARN is not authorized to perform: ACTION on resource: ARN
    because no identity-based policy allows the ACTION action``."""
    kind = result.policy_type.value
    if result.policy_type is not PolicyType.BOUNDARY:
        kind += " policy"
    article = "an" if result.policy_type is PolicyType.IDENTITY else "a"
    why = (f"with an explicit deny in {article} {kind}" if result.decision is Decision.EXPLICIT_DENY
           else f"because no {kind} allows the {request.action} action")
    return f"User: {request.principal} is not authorized to perform: {request.action} on resource: " \
           f"{request.resource} {why}"


def access_denied(model: ServiceModel, protocol: str, request: Request, result: Result) -> ServiceError:
    """The service's AccessDenied: S3's and the query services' ``AccessDenied`` (403),
    SNS's ``AuthorizationError`` (403);
    Lambda's ``AccessDeniedException`` (403); the JSON services' ``AccessDeniedException``
    (400, as their Common Errors pages list it)."""
    message = denial_message(request, result)
    if model.endpoint_prefix == "sns":  # SNS's own shape for a denial (AuthorizationErrorException)
        return ServiceError("AuthorizationError", message, 403)
    if protocol in ("rest-xml", "query"):
        return ServiceError("AccessDenied", message, 403)
    return ServiceError("AccessDeniedException", message, 403 if model.endpoint_prefix == "lambda" else 400)


def _unrecognized(protocol: str, access_key_id: str) -> ServiceError:
    if protocol == "rest-xml":
        return ServiceError("InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist "
                            "in our records.", 403, {"AWSAccessKeyId": access_key_id})
    code = "InvalidClientTokenId" if protocol == "query" else "UnrecognizedClientException"
    return ServiceError(code, "The security token included in the request is invalid.", 403)


def _unsigned(protocol: str) -> ServiceError:
    if protocol == "rest-xml":  # an anonymous request: S3 answers it AccessDenied
        return ServiceError("AccessDenied", "Access Denied", 403)
    code = "MissingAuthenticationToken" if protocol == "query" else "MissingAuthenticationTokenException"
    return ServiceError(code, "Missing Authentication Token", 403)


__all__ = ["ACTION_NAMES", "ALWAYS_ALLOWED", "ANONYMOUS", "Principal", "RESOURCES", "ROOT_TYPE", "access_denied", "action_of",
           "also_needed", "authorize",
           "context_of", "denial_message", "denied_action", "may_invoke", "request_context", "principal_of", "resource_of", "resource_policy_of",
           "service_prefix"]
