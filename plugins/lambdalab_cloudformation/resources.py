"""What each resource type lambdalab emulates becomes: the calls that make, change and
remove it, through the lab's own API (:class:`~lambdalab.Lab` for Lambda, the service
plugins' operations for the rest), and the ``Ref`` and ``Fn::GetAtt`` values it gives
(https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-template-resource-type-ref.html).

A type without ``update`` is replaced when its properties change (removed, then made
again under the same physical name).
"""

from __future__ import annotations

import io
import json
import re
import secrets
import string
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from .calls import ServiceCalls
from .template import code_digest, local_code

if TYPE_CHECKING:
    from lambdalab import Lab


@dataclass
class Made:
    """A resource as it exists: its physical id, ``Ref`` value and attributes."""

    physical_id: str
    ref: Any
    attributes: dict[str, Any] = field(default_factory=dict)


@dataclass
class Context:
    lab: "Lab"
    calls: ServiceCalls
    stack_name: str
    folder: Path
    #: Each function's code before this deploy changed it: a rollback puts it back (the
    #: folder already holds the new code, as an S3 artifact of the old one would not).
    replaced_code: dict[str, bytes] = field(default_factory=dict)
    #: Set while an alias with ``CodeDeployLambdaAliasUpdate`` is updated: starts the
    #: traffic shift (function, alias, old version, new version) instead of a move.
    shift: Callable[[str, str, str, str], None] | None = None
    #: Resources replaced new-first in this deploy: the old ones go once it succeeds
    #: (CloudFormation's UPDATE_COMPLETE_CLEANUP_IN_PROGRESS).
    superseded: list[Any] = field(default_factory=list)

    def name(self, logical_id: str, max_length: int = 64, lower: bool = False) -> str:
        """CloudFormation's generated physical name: ``stack-Logical-SUFFIX``."""
        alphabet = string.ascii_uppercase + string.digits
        suffix = "".join(secrets.choice(alphabet) for _ in range(12))
        stem = f"{self.stack_name}-{logical_id}"[: max_length - 13]
        made = f"{stem}-{suffix}"
        return re.sub(r"[^a-z0-9.-]", "-", made.lower()) if lower else made


Create = Callable[[Context, str, dict[str, Any], str | None], Made]
Update = Callable[[Context, dict[str, Any], dict[str, Any], Made], Made]
Delete = Callable[[Context, Made], None]


@dataclass(frozen=True)
class ResourceType:
    create: Create
    delete: Delete
    update: Update | None = None
    #: The service plugin (SigV4 name) the type needs, when not Lambda itself.
    service: str | None = None
    #: The properties emulated; any other is accepted and reported as not applied.
    properties: frozenset[str] = frozenset()
    #: Replaced by making the new one first and removing the old one when the deploy has
    #: succeeded, as CloudFormation replaces (a deployment a stage still serves cannot go
    #: before the stage moves); others are removed first, their names being reused.
    replace_first: bool = False


# -- Lambda ----------------------------------------------------------------------------

def _code(ctx: Context, code: Any) -> Any:
    local = local_code(code, ctx.folder)
    if local is not None:
        return local
    if isinstance(code, dict) and "ZipFile" in code:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            info = zipfile.ZipInfo("index.py")
            info.external_attr = 0o644 << 16
            archive.writestr(info, code["ZipFile"])
        return buffer.getvalue()
    if isinstance(code, dict) and "S3Bucket" in code:
        return ctx.lab.code_from_s3(code["S3Bucket"], code["S3Key"], code.get("S3ObjectVersion"))
    raise ValueError(f"Code {code!r}: give a folder (CodeUri), ZipFile or S3Bucket/S3Key")


def _integer(value: Any) -> int | None:
    """An Integer property: CloudFormation takes ``"256"`` (a parameter's text) for 256."""
    if value is None or isinstance(value, int):
        return value
    try:
        return int(str(value))
    except ValueError:
        raise ValueError(f"Value of property {value!r} must be of type Integer") from None


def _function_settings(props: dict[str, Any]) -> dict[str, Any]:
    settings = {
        "runtime": props.get("Runtime"), "handler": props.get("Handler"), "role": props.get("Role"),
        "memory_size": _integer(props.get("MemorySize")), "timeout": _integer(props.get("Timeout")),
        "environment": props.get("Environment"), "description": props.get("Description"),
        "ephemeral_storage": _integer((props.get("EphemeralStorage") or {}).get("Size")),
        "dead_letter_config": props.get("DeadLetterConfig"), "layers": props.get("Layers"),
        "tracing_config": props.get("TracingConfig"), "logging_config": props.get("LoggingConfig"),
    }
    return {k: v for k, v in settings.items() if v is not None}


#: The property that names a type's code: a folder here, summed into the fingerprint.
_CODE_KEYS = {"AWS::Lambda::Function": "Code", "AWS::Lambda::LayerVersion": "Content"}


def fingerprint(kind: str, props: dict[str, Any], folder: Path) -> dict[str, Any]:
    """``props`` with a function's (or layer's) local code folder summed (``CodeSha256``),
    so an edit to the code is a change as ``sam deploy``'s new upload is."""
    key = _CODE_KEYS.get(kind)
    local = local_code(props.get(key), folder) if key else None
    if key is None or local is None:
        return props
    code = props[key] if isinstance(props[key], dict) else {"Path": props[key]}
    return {**props, key: {**code, "CodeSha256": code_digest(local)}}


def _function_made(config: Any) -> Made:
    return Made(config.function_name, config.function_name, {"Arn": config.function_arn})


def create_function(ctx: Context, logical_id: str, props: dict[str, Any], name: str | None) -> Made:
    if props.get("PackageType") == "Image":
        raise ValueError("PackageType Image: lambdalab runs .zip functions only")
    tags = {t["Key"]: t["Value"] for t in props.get("Tags") or []}
    config = ctx.lab.create_function(
        props.get("FunctionName") or name or ctx.name(logical_id), _code(ctx, props.get("Code")),
        tags=tags or None, **_function_settings(props))
    return _function_made(config)


def update_function(ctx: Context, old: dict[str, Any], new: dict[str, Any], made: Made) -> Made:
    if old.get("FunctionName") != new.get("FunctionName") or old.get("Tags") != new.get("Tags"):
        raise _Replace()
    if old.get("Code") != new.get("Code"):
        earlier = ctx.replaced_code.pop(made.physical_id, None)  # set: this is the rollback
        if earlier is None:
            current = ctx.lab.get_function_configuration(made.physical_id)
            ctx.replaced_code[made.physical_id] = ctx.lab.store.blob_path(current.code_blob).read_bytes()
        ctx.lab.update_function_code(made.physical_id, earlier if earlier is not None else _code(ctx, new.get("Code")))
    settings = _function_settings(new)
    cleared = {"environment": {"Variables": {}}, "layers": [], "description": ""}
    for key, empty in cleared.items():
        settings.setdefault(key, empty)
    return _function_made(ctx.lab.update_function_configuration(made.physical_id, **settings))


def delete_function(ctx: Context, made: Made) -> None:
    ctx.lab.delete_function(made.physical_id)


def create_permission(ctx: Context, logical_id: str, props: dict[str, Any], name: str | None) -> Made:
    statement_id = name or ctx.name(logical_id, 100)
    ctx.lab.add_permission(
        props["FunctionName"], statement_id, props["Action"], props["Principal"],
        source_arn=props.get("SourceArn"), source_account=props.get("SourceAccount"),
        event_source_token=props.get("EventSourceToken"),
        function_url_auth_type=props.get("FunctionUrlAuthType"))
    return Made(statement_id, statement_id, {"function": props["FunctionName"]})


def delete_permission(ctx: Context, made: Made) -> None:
    ctx.lab.remove_permission(made.attributes["function"], made.physical_id)


_MAPPING_KEYS = {"EventSourceArn": "event_source_arn", "BatchSize": "batch_size", "Enabled": "enabled",
                 "MaximumBatchingWindowInSeconds": "maximum_batching_window_in_seconds",
                 "FunctionResponseTypes": "function_response_types", "ScalingConfig": "scaling_config",
                 "StartingPosition": "starting_position", "FilterCriteria": "filter_criteria",
                 "MaximumRetryAttempts": "maximum_retry_attempts", "ParallelizationFactor": "parallelization_factor",
                 "BisectBatchOnFunctionError": "bisect_batch_on_function_error",
                 "MaximumRecordAgeInSeconds": "maximum_record_age_in_seconds",
                 "DestinationConfig": "destination_config", "TumblingWindowInSeconds": "tumbling_window_in_seconds",
                 "StartingPositionTimestamp": "starting_position_timestamp"}


def create_mapping(ctx: Context, logical_id: str, props: dict[str, Any], name: str | None) -> Made:
    unknown = set(props) - set(_MAPPING_KEYS) - {"FunctionName"}
    if unknown:
        raise ValueError(f"lambdalab does not emulate {sorted(unknown)} of an event source mapping")
    settings = {_MAPPING_KEYS[k]: v for k, v in props.items() if k in _MAPPING_KEYS}
    for key in ("batch_size", "maximum_batching_window_in_seconds", "maximum_retry_attempts",
                "parallelization_factor", "maximum_record_age_in_seconds", "tumbling_window_in_seconds"):
        if key in settings:
            settings[key] = _integer(settings[key])
    mapping = ctx.lab.create_event_source_mapping(props["FunctionName"], **settings)
    uuid = getattr(mapping, "uuid", None) or mapping.to_aws()["UUID"]
    return Made(uuid, uuid, {"Id": uuid})


def delete_mapping(ctx: Context, made: Made) -> None:
    ctx.lab.delete_event_source_mapping(made.physical_id)


def create_version(ctx: Context, logical_id: str, props: dict[str, Any], name: str | None) -> Made:
    config = ctx.lab.publish_version(props["FunctionName"], props.get("Description"))
    arn = f"{ctx.lab.get_function_configuration(props['FunctionName']).function_arn}:{config.version}"
    return Made(arn, arn, {"Version": config.version, "FunctionArn": arn})


def delete_version(ctx: Context, made: Made) -> None:
    function_arn, version = made.physical_id.rsplit(":", 1)
    try:
        ctx.lab.delete_function(function_arn, qualifier=version)
    except Exception as e:  # CloudFormation retains a version an alias still names
        if type(e).__name__ != "ResourceConflictException":
            raise


def _weights(props: dict[str, Any]) -> dict[str, Any] | None:
    routing = props.get("RoutingConfig") or {}
    weights = routing.get("AdditionalVersionWeights") or []
    if not weights:
        return None
    return {"AdditionalVersionWeights": {w["FunctionVersion"]: float(w["FunctionWeight"]) for w in weights}}


def create_alias(ctx: Context, logical_id: str, props: dict[str, Any], name: str | None) -> Made:
    alias = ctx.lab.create_alias(props["FunctionName"], props["Name"], str(props["FunctionVersion"]),
                                 description=props.get("Description", ""), routing_config=_weights(props))
    return Made(alias.alias_arn, alias.alias_arn, {"function": props["FunctionName"]})


def update_alias(ctx: Context, old: dict[str, Any], new: dict[str, Any], made: Made) -> Made:
    if (old["FunctionName"], old["Name"]) != (new["FunctionName"], new["Name"]):
        raise _Replace()
    if ctx.shift is not None and str(old["FunctionVersion"]) != str(new["FunctionVersion"]):
        ctx.shift(new["FunctionName"], new["Name"], str(old["FunctionVersion"]), str(new["FunctionVersion"]))
        return made
    ctx.lab.update_alias(new["FunctionName"], new["Name"], function_version=str(new["FunctionVersion"]),
                         description=new.get("Description", ""), routing_config=_weights(new) or {})
    return made


def delete_alias(ctx: Context, made: Made) -> None:
    ctx.lab.delete_alias(made.attributes["function"], made.physical_id.rsplit(":", 1)[1])


def create_layer(ctx: Context, logical_id: str, props: dict[str, Any], name: str | None) -> Made:
    content = props.get("Content")
    source: Any = local_code(content, ctx.folder)
    if source is None and isinstance(content, dict) and "S3Bucket" in content:
        source = {k: v for k, v in content.items() if k.startswith("S3")}
    if source is None:
        raise ValueError(f"Content {content!r}: give a folder (ContentUri) or S3Bucket/S3Key")
    version = ctx.lab.publish_layer_version(
        props.get("LayerName") or name or ctx.name(logical_id, 140), source,
        description=props.get("Description") or "", compatible_runtimes=props.get("CompatibleRuntimes"),
        compatible_architectures=props.get("CompatibleArchitectures"), license_info=props.get("LicenseInfo"))
    arn = version.layer_version_arn
    return Made(arn, arn, {"LayerVersionArn": arn})


def delete_layer(ctx: Context, made: Made) -> None:
    layer_arn, number = made.physical_id.rsplit(":", 1)
    ctx.lab.delete_layer_version(layer_arn, int(number))


# -- the other services ----------------------------------------------------------------

def create_queue(ctx: Context, logical_id: str, props: dict[str, Any], name: str | None) -> Made:
    fifo = str(props.get("FifoQueue", "")).lower() == "true"
    queue_name = props.get("QueueName") or name or ctx.name(logical_id, 80 - (5 if fifo else 0))
    if fifo and not queue_name.endswith(".fifo"):
        queue_name += ".fifo"
    tags = {t["Key"]: t["Value"] for t in props.get("Tags") or []}
    url = ctx.calls.call("sqs", "CreateQueue", QueueName=queue_name, Attributes=_queue_attributes(props),
                         **({"tags": tags} if tags else {}))["QueueUrl"]
    arn = ctx.calls.call("sqs", "GetQueueAttributes", QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return Made(queue_name, url, {"Arn": arn, "QueueName": queue_name, "QueueUrl": url})


def _queue_attributes(props: dict[str, Any]) -> dict[str, str]:
    settable = TYPES["AWS::SQS::Queue"].properties - {"QueueName", "Tags"}
    return {k: json.dumps(v) if isinstance(v, dict) else str(v).lower() if isinstance(v, bool) else str(v)
            for k, v in props.items() if k in settable}


def update_queue(ctx: Context, old: dict[str, Any], new: dict[str, Any], made: Made) -> Made:
    if any(old.get(k) != new.get(k) for k in ("QueueName", "FifoQueue", "Tags")):
        raise _Replace()
    ctx.calls.call("sqs", "SetQueueAttributes", QueueUrl=made.ref, Attributes=_queue_attributes(new))
    return made


def delete_queue(ctx: Context, made: Made) -> None:
    ctx.calls.call("sqs", "DeleteQueue", QueueUrl=made.ref)


def _notification(config: dict[str, Any]) -> dict[str, Any]:
    """CloudFormation's NotificationConfiguration as PutBucketNotificationConfiguration takes it."""
    def filter_of(entry: dict[str, Any]) -> dict[str, Any]:
        rules = ((entry.get("Filter") or {}).get("S3Key") or {}).get("Rules") or []
        return {"Filter": {"Key": {"FilterRules": rules}}} if rules else {}

    return {
        "LambdaFunctionConfigurations": [
            {"LambdaFunctionArn": e["Function"], "Events": [e["Event"]], **filter_of(e)}
            for e in config.get("LambdaConfigurations") or []],
        "QueueConfigurations": [
            {"QueueArn": e["Queue"], "Events": [e["Event"]], **filter_of(e)}
            for e in config.get("QueueConfigurations") or []],
        "TopicConfigurations": [
            {"TopicArn": e["Topic"], "Events": [e["Event"]], **filter_of(e)}
            for e in config.get("TopicConfigurations") or []],
    }


def create_bucket(ctx: Context, logical_id: str, props: dict[str, Any], name: str | None) -> Made:
    bucket = props.get("BucketName") or name or ctx.name(logical_id, 63, lower=True)
    ctx.calls.call("s3", "CreateBucket", Bucket=bucket)
    made = Made(bucket, bucket, {"Arn": f"arn:aws:s3:::{bucket}", "DomainName": f"{bucket}.s3.amazonaws.com"})
    return update_bucket(ctx, {"BucketName": props.get("BucketName")}, props, made)


def update_bucket(ctx: Context, old: dict[str, Any], new: dict[str, Any], made: Made) -> Made:
    if old.get("BucketName") != new.get("BucketName"):
        raise _Replace()
    ctx.calls.call("s3", "PutBucketNotificationConfiguration", Bucket=made.physical_id,
                   NotificationConfiguration=_notification(new.get("NotificationConfiguration") or {}))
    return made


def delete_bucket(ctx: Context, made: Made) -> None:
    ctx.calls.call("s3", "DeleteBucket", Bucket=made.physical_id)


def create_topic(ctx: Context, logical_id: str, props: dict[str, Any], name: str | None) -> Made:
    attributes = {k: str(v).lower() if isinstance(v, bool) else str(v)
                  for k, v in props.items() if k in ("DisplayName", "FifoTopic", "ContentBasedDeduplication")}
    topic = props.get("TopicName") or name or ctx.name(logical_id, 256)
    arn = ctx.calls.call("sns", "CreateTopic", Name=topic, Attributes=attributes)["TopicArn"]
    for subscription in props.get("Subscription") or []:
        ctx.calls.call("sns", "Subscribe", TopicArn=arn, Protocol=subscription["Protocol"],
                       Endpoint=subscription["Endpoint"])
    return Made(topic, arn, {"TopicArn": arn, "TopicName": topic})


def delete_topic(ctx: Context, made: Made) -> None:
    ctx.calls.call("sns", "DeleteTopic", TopicArn=made.ref)


def create_subscription(ctx: Context, logical_id: str, props: dict[str, Any], name: str | None) -> Made:
    attributes = {k: json.dumps(v) if isinstance(v, dict) else str(v).lower() if isinstance(v, bool) else str(v)
                  for k, v in props.items() if k in ("FilterPolicy", "FilterPolicyScope", "RawMessageDelivery",
                                                      "RedrivePolicy")}
    arn = ctx.calls.call("sns", "Subscribe", TopicArn=props["TopicArn"], Protocol=props["Protocol"],
                         Endpoint=props["Endpoint"], Attributes=attributes,
                         ReturnSubscriptionArn=True)["SubscriptionArn"]
    return Made(arn, arn, {"Arn": arn})


def delete_subscription(ctx: Context, made: Made) -> None:
    ctx.calls.call("sns", "Unsubscribe", SubscriptionArn=made.ref)


def create_table(ctx: Context, logical_id: str, props: dict[str, Any], name: str | None) -> Made:
    table = props.get("TableName") or name or ctx.name(logical_id, 255)
    params: dict[str, Any] = {k: props[k] for k in ("AttributeDefinitions", "KeySchema", "BillingMode", "ProvisionedThroughput",
                                    "GlobalSecondaryIndexes", "LocalSecondaryIndexes", "SSESpecification", "Tags")
              if k in props}
    if props.get("StreamSpecification"):
        params["StreamSpecification"] = {"StreamEnabled": True, **props["StreamSpecification"]}
    for throughput in _throughputs(params):
        throughput.update({k: int(v) for k, v in throughput.items()})
    described = ctx.calls.call("dynamodb", "CreateTable", TableName=table, **params)["TableDescription"]
    attributes = {"Arn": described["TableArn"]}
    if described.get("LatestStreamArn"):
        attributes["StreamArn"] = described["LatestStreamArn"]
    return Made(table, table, attributes)


def _throughputs(params: dict[str, Any]) -> list[dict[str, Any]]:
    found = [params["ProvisionedThroughput"]] if "ProvisionedThroughput" in params else []
    return found + [i["ProvisionedThroughput"] for i in params.get("GlobalSecondaryIndexes") or []
                    if "ProvisionedThroughput" in i]


def delete_table(ctx: Context, made: Made) -> None:
    ctx.calls.call("dynamodb", "DeleteTable", TableName=made.physical_id)


def create_stream(ctx: Context, logical_id: str, props: dict[str, Any], name: str | None) -> Made:
    stream = props.get("Name") or name or ctx.name(logical_id, 128)
    params: dict[str, Any] = {"StreamName": stream}
    if props.get("StreamModeDetails"):
        params["StreamModeDetails"] = props["StreamModeDetails"]
    if (props.get("StreamModeDetails") or {}).get("StreamMode") != "ON_DEMAND":
        params["ShardCount"] = int(props.get("ShardCount", 1))
    ctx.calls.call("kinesis", "CreateStream", **params)
    summary = ctx.calls.call("kinesis", "DescribeStreamSummary", StreamName=stream)["StreamDescriptionSummary"]
    return Made(stream, stream, {"Arn": summary["StreamARN"]})


def delete_stream(ctx: Context, made: Made) -> None:
    ctx.calls.call("kinesis", "DeleteStream", StreamName=made.physical_id, EnforceConsumerDeletion=True)


def create_rule(ctx: Context, logical_id: str, props: dict[str, Any], name: str | None) -> Made:
    rule = props.get("Name") or name or ctx.name(logical_id, 64)
    bus = props.get("EventBusName", "default")
    made = Made(rule, rule if bus == "default" else f"{bus}|{rule}", {"bus": bus})
    return update_rule(ctx, {"Name": props.get("Name"), "EventBusName": props.get("EventBusName")}, props, made)


def update_rule(ctx: Context, old: dict[str, Any], new: dict[str, Any], made: Made) -> Made:
    if (old.get("Name"), old.get("EventBusName")) != (new.get("Name"), new.get("EventBusName")):
        raise _Replace()
    params: dict[str, Any] = {k: new[k] for k in ("ScheduleExpression", "State", "Description") if k in new}
    if "EventPattern" in new:
        pattern = new["EventPattern"]
        params["EventPattern"] = pattern if isinstance(pattern, str) else json.dumps(pattern)
    bus = made.attributes["bus"]
    arn = ctx.calls.call("events", "PutRule", Name=made.physical_id, EventBusName=bus, **params)["RuleArn"]
    existing = ctx.calls.call("events", "ListTargetsByRule", Rule=made.physical_id, EventBusName=bus)["Targets"]
    if existing:
        ctx.calls.call("events", "RemoveTargets", Rule=made.physical_id, EventBusName=bus,
                       Ids=[t["Id"] for t in existing])
    if new.get("Targets"):
        ctx.calls.call("events", "PutTargets", Rule=made.physical_id, EventBusName=bus, Targets=new["Targets"])
    return Made(made.physical_id, made.ref, {"bus": bus, "Arn": arn})


def delete_rule(ctx: Context, made: Made) -> None:
    bus = made.attributes["bus"]
    targets = ctx.calls.call("events", "ListTargetsByRule", Rule=made.physical_id, EventBusName=bus)["Targets"]
    if targets:
        ctx.calls.call("events", "RemoveTargets", Rule=made.physical_id, EventBusName=bus,
                       Ids=[t["Id"] for t in targets])
    ctx.calls.call("events", "DeleteRule", Name=made.physical_id, EventBusName=bus)


_SCHEDULE_KEYS = ("ScheduleExpression", "ScheduleExpressionTimezone", "FlexibleTimeWindow", "Target", "State",
                  "Description", "StartDate", "EndDate", "KmsKeyArn", "ActionAfterCompletion")


def create_schedule(ctx: Context, logical_id: str, props: dict[str, Any], name: str | None) -> Made:
    schedule = props.get("Name") or name or ctx.name(logical_id, 64)
    group = props.get("GroupName") or "default"
    params = {k: props[k] for k in _SCHEDULE_KEYS if k in props}
    arn = ctx.calls.call("scheduler", "CreateSchedule", Name=schedule, GroupName=group, **params)["ScheduleArn"]
    return Made(schedule, schedule, {"Arn": arn, "group": group})


def update_schedule(ctx: Context, old: dict[str, Any], new: dict[str, Any], made: Made) -> Made:
    if (old.get("Name"), old.get("GroupName")) != (new.get("Name"), new.get("GroupName")):
        raise _Replace()
    params = {k: new[k] for k in _SCHEDULE_KEYS if k in new}
    ctx.calls.call("scheduler", "UpdateSchedule", Name=made.physical_id, GroupName=made.attributes["group"], **params)
    return made


def delete_schedule(ctx: Context, made: Made) -> None:
    ctx.calls.call("scheduler", "DeleteSchedule", Name=made.physical_id, GroupName=made.attributes["group"])


def create_schedule_group(ctx: Context, logical_id: str, props: dict[str, Any], name: str | None) -> Made:
    group = props.get("Name") or name or ctx.name(logical_id, 64)
    arn = ctx.calls.call("scheduler", "CreateScheduleGroup", Name=group)["ScheduleGroupArn"]
    return Made(group, group, {"Arn": arn})


def delete_schedule_group(ctx: Context, made: Made) -> None:
    ctx.calls.call("scheduler", "DeleteScheduleGroup", Name=made.physical_id)


def create_role(ctx: Context, logical_id: str, props: dict[str, Any], name: str | None) -> Made:
    role = props.get("RoleName") or name or ctx.name(logical_id, 64)
    params = {k: props[k] for k in ("Path", "Description", "MaxSessionDuration", "PermissionsBoundary", "Tags")
              if k in props}
    created = ctx.calls.call("iam", "CreateRole", RoleName=role,
                             AssumeRolePolicyDocument=json.dumps(props["AssumeRolePolicyDocument"]), **params)["Role"]
    for policy in props.get("Policies") or []:
        ctx.calls.call("iam", "PutRolePolicy", RoleName=role, PolicyName=policy["PolicyName"],
                       PolicyDocument=json.dumps(policy["PolicyDocument"]))
    for arn in props.get("ManagedPolicyArns") or []:
        ctx.calls.call("iam", "AttachRolePolicy", RoleName=role, PolicyArn=arn)
    return Made(role, role, {"Arn": created["Arn"], "RoleId": created["RoleId"]})


def delete_role(ctx: Context, made: Made) -> None:
    role = made.physical_id
    for arn in [p["PolicyArn"] for p in ctx.calls.call("iam", "ListAttachedRolePolicies", RoleName=role)
                .get("AttachedPolicies", [])]:
        ctx.calls.call("iam", "DetachRolePolicy", RoleName=role, PolicyArn=arn)
    for policy in ctx.calls.call("iam", "ListRolePolicies", RoleName=role).get("PolicyNames", []):
        ctx.calls.call("iam", "DeleteRolePolicy", RoleName=role, PolicyName=policy)
    ctx.calls.call("iam", "DeleteRole", RoleName=role)


_ALARM_PROPERTIES = ("AlarmName", "AlarmDescription", "ActionsEnabled", "OKActions", "AlarmActions",
                     "InsufficientDataActions", "MetricName", "Namespace", "Statistic", "ExtendedStatistic",
                     "Dimensions", "Period", "Unit", "EvaluationPeriods", "DatapointsToAlarm", "Threshold",
                     "ComparisonOperator", "TreatMissingData", "EvaluateLowSampleCountPercentile", "Metrics",
                     "ThresholdMetricId")
_ALARM_NUMBERS = {"Period": int, "EvaluationPeriods": int, "DatapointsToAlarm": int, "Threshold": float}


def create_alarm(ctx: Context, logical_id: str, props: dict[str, Any], name: str | None) -> Made:
    alarm = props.get("AlarmName") or name or ctx.name(logical_id, 255)
    made = Made(alarm, alarm, {})
    return update_alarm(ctx, {"AlarmName": props.get("AlarmName")}, props, made)


def update_alarm(ctx: Context, old: dict[str, Any], new: dict[str, Any], made: Made) -> Made:
    if old.get("AlarmName") != new.get("AlarmName"):
        raise _Replace()
    params = {k: _ALARM_NUMBERS[k](new[k]) if k in _ALARM_NUMBERS else new[k]
              for k in _ALARM_PROPERTIES if k in new and k != "AlarmName"}
    if "ActionsEnabled" in params:
        params["ActionsEnabled"] = str(params["ActionsEnabled"]).lower() == "true"
    ctx.calls.call("monitoring", "PutMetricAlarm", AlarmName=made.physical_id, **params)
    arn = ctx.calls.call("monitoring", "DescribeAlarms", AlarmNames=[made.physical_id])["MetricAlarms"][0]["AlarmArn"]
    return Made(made.physical_id, made.ref, {"Arn": arn})


def delete_alarm(ctx: Context, made: Made) -> None:
    ctx.calls.call("monitoring", "DeleteAlarms", AlarmNames=[made.physical_id])


class _Replace(Exception):
    """Raised by an update that cannot change the resource in place."""


Replace = _Replace

#: Every resource type lambdalab emulates.
TYPES: dict[str, ResourceType] = {
    "AWS::Lambda::Function": ResourceType(create_function, delete_function, update_function, None, frozenset({
        "Code", "Handler", "Runtime", "Role", "MemorySize", "Timeout", "Environment", "Description", "Layers",
        "EphemeralStorage", "DeadLetterConfig", "TracingConfig", "LoggingConfig", "Tags", "FunctionName",
        "PackageType"})),
    "AWS::Lambda::Permission": ResourceType(create_permission, delete_permission, None, None, frozenset({
        "FunctionName", "Action", "Principal", "SourceArn", "SourceAccount", "EventSourceToken",
        "FunctionUrlAuthType"})),
    "AWS::Lambda::EventSourceMapping": ResourceType(create_mapping, delete_mapping, None, None,
                                                    frozenset(_MAPPING_KEYS) | {"FunctionName"}),
    "AWS::Lambda::Version": ResourceType(create_version, delete_version, None, None,
                                         frozenset({"FunctionName", "Description", "CodeSha256"})),
    "AWS::Lambda::Alias": ResourceType(create_alias, delete_alias, update_alias, None, frozenset({
        "FunctionName", "Name", "FunctionVersion", "Description", "RoutingConfig"})),
    "AWS::Lambda::LayerVersion": ResourceType(create_layer, delete_layer, None, None, frozenset({
        "Content", "LayerName", "Description", "CompatibleRuntimes", "CompatibleArchitectures", "LicenseInfo"})),
    "AWS::SQS::Queue": ResourceType(create_queue, delete_queue, update_queue, "sqs", frozenset({
        "QueueName", "FifoQueue", "ContentBasedDeduplication", "DeduplicationScope", "FifoThroughputLimit",
        "DelaySeconds", "MaximumMessageSize", "MessageRetentionPeriod", "ReceiveMessageWaitTimeSeconds",
        "RedrivePolicy", "RedriveAllowPolicy", "VisibilityTimeout", "Tags"})),
    "AWS::S3::Bucket": ResourceType(create_bucket, delete_bucket, update_bucket, "s3",
                                    frozenset({"BucketName", "NotificationConfiguration"})),
    "AWS::SNS::Topic": ResourceType(create_topic, delete_topic, None, "sns", frozenset({
        "TopicName", "DisplayName", "FifoTopic", "ContentBasedDeduplication", "Subscription"})),
    "AWS::SNS::Subscription": ResourceType(create_subscription, delete_subscription, None, "sns", frozenset({
        "TopicArn", "Protocol", "Endpoint", "FilterPolicy", "FilterPolicyScope", "RawMessageDelivery",
        "RedrivePolicy"})),
    "AWS::DynamoDB::Table": ResourceType(create_table, delete_table, None, "dynamodb", frozenset({
        "TableName", "AttributeDefinitions", "KeySchema", "BillingMode", "ProvisionedThroughput",
        "GlobalSecondaryIndexes", "LocalSecondaryIndexes", "SSESpecification", "StreamSpecification", "Tags"})),
    "AWS::Kinesis::Stream": ResourceType(create_stream, delete_stream, None, "kinesis",
                                         frozenset({"Name", "ShardCount", "StreamModeDetails"})),
    "AWS::Events::Rule": ResourceType(create_rule, delete_rule, update_rule, "events", frozenset({
        "Name", "EventBusName", "ScheduleExpression", "EventPattern", "State", "Description", "Targets"})),
    "AWS::CloudWatch::Alarm": ResourceType(create_alarm, delete_alarm, update_alarm, "monitoring",
                                           frozenset(_ALARM_PROPERTIES)),
    "AWS::Scheduler::Schedule": ResourceType(create_schedule, delete_schedule, update_schedule, "scheduler",
                                             frozenset({"Name", "GroupName", *_SCHEDULE_KEYS})),
    "AWS::Scheduler::ScheduleGroup": ResourceType(create_schedule_group, delete_schedule_group, None, "scheduler",
                                                  frozenset({"Name"})),
    "AWS::IAM::Role": ResourceType(create_role, delete_role, None, "iam", frozenset({
        "RoleName", "AssumeRolePolicyDocument", "Policies", "ManagedPolicyArns", "Path", "Description",
        "MaxSessionDuration", "PermissionsBoundary", "Tags"})),
}
