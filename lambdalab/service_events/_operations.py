"""Operations: CloudWatch Logs and EventBridge, CloudFormation, Config, CodeCommit, CodePipeline."""

from __future__ import annotations

import json
import secrets
from typing import Any, Literal
from urllib.parse import quote

from ._common import (
    DEFAULT_ACCOUNT_ID,
    DEFAULT_REGION,
    arn,
    arns,
    epoch_ms,
    gzip_b64,
    hex_id,
    iso_ms,
    iso_s,
    md5_hex,
    new_uuid,
    now,
    records,
    sequence_number,
)
from ._registry import ASYNC, event_source


@event_source("cloudwatch-logs", ASYNC)
def cloudwatch_logs(
    *,
    message: str = "[ERROR] Something went wrong",
    log_group: str = "/aws/lambda/my-function",
    log_stream: str | None = None,
    filter_name: str = "my-subscription-filter",
    account_id: str = DEFAULT_ACCOUNT_ID,
) -> dict[str, Any]:
    """Log events a subscription filter sends on: JSON, gzip-compressed, then base64.

    Shape: https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/SubscriptionFilters.html

    :param message: the logged text; each line becomes one log event.
    :param log_group: the log group the filter subscribes to.
    :param log_stream: the log stream the events were written to [default: a Lambda-style
        stream name for today].
    :param filter_name: the subscription filter's name.
    :param account_id: the log group's account.
    """
    logged_at = now()
    stream = log_stream or f"{iso_s(logged_at)[:10].replace('-', '/')}/[$LATEST]{hex_id(32)}"
    data = {
        "messageType": "DATA_MESSAGE",
        "owner": account_id,
        "logGroup": log_group,
        "logStream": stream,
        "subscriptionFilters": [filter_name],
        "logEvents": [
            {"id": sequence_number(index), "timestamp": epoch_ms(logged_at), "message": line}
            for index, line in enumerate(message.splitlines() or [""])
        ],
    }
    return {"awslogs": {"data": gzip_b64(data)}}


def _eventbridge_envelope(
    source: str,
    detail_type: str,
    detail: dict[str, Any],
    resources: list[str],
    region: str,
    account_id: str,
) -> dict[str, Any]:
    """The envelope every EventBridge event shares, whatever its source."""
    return {
        "version": "0",
        "id": new_uuid(),
        "detail-type": detail_type,
        "source": source,
        "account": account_id,
        "time": iso_s(now()),
        "region": region,
        "resources": resources,
        "detail": detail,
    }


@event_source("eventbridge", ASYNC)
def eventbridge(
    *,
    source: str = "com.mycompany.myapp",
    detail_type: str = "OrderPlaced",
    detail: dict[str, Any] | None = None,
    region: str = DEFAULT_REGION,
    account_id: str = DEFAULT_ACCOUNT_ID,
) -> dict[str, Any]:
    """An event on an EventBridge (CloudWatch Events) bus that matched a rule.

    Shape: https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-events-structure.html

    :param source: who sent the event, e.g. com.mycompany.myapp or aws.ec2.
    :param detail_type: what happened, e.g. OrderPlaced.
    :param detail: the event's own data [default: {"orderId": "1234"}].
    :param region: the bus's region.
    :param account_id: the bus's account.
    """
    detail = detail if detail is not None else {"orderId": "1234"}
    return _eventbridge_envelope(source, detail_type, detail, [], region, account_id)


@event_source("scheduled-event", ASYNC)
def scheduled_event(
    *,
    rule: str = "my-schedule",
    region: str = DEFAULT_REGION,
    account_id: str = DEFAULT_ACCOUNT_ID,
) -> dict[str, Any]:
    """A schedule rule firing: EventBridge's "Scheduled Event" (rate or cron).

    Shape: https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-run-lambda-schedule.html

    :param rule: the schedule rule's name.
    :param region: the rule's region.
    :param account_id: the rule's account.
    """
    rule_arn = arn("events", f"rule/{rule}", region, account_id)
    return _eventbridge_envelope(
        "aws.events", "Scheduled Event", {}, [rule_arn], region, account_id
    )


@event_source("cloudformation", ASYNC)
def cloudformation(
    *,
    request_type: Literal["Create", "Update", "Delete"] = "Create",
    stack: str = "my-stack",
    logical_id: str = "MyResource",
    resource_type: str = "Custom::MyResource",
    properties: dict[str, Any] | None = None,
    old_properties: dict[str, Any] | None = None,
    function: str = "my-function",
    region: str = DEFAULT_REGION,
    account_id: str = DEFAULT_ACCOUNT_ID,
) -> dict[str, Any]:
    """A custom resource request: CloudFormation asks the function to create, update or delete.

    Shape: https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/crpg-ref-requests.html

    :param request_type: Create, Update or Delete.
    :param stack: the stack's name.
    :param logical_id: the resource's logical id in the template.
    :param resource_type: the resource's type, Custom::SOMETHING.
    :param properties: the resource's properties in the template [default: {"Key": "Value"}].
    :param old_properties: the properties before an Update [default: the properties].
    :param function: the function the ServiceToken names.
    :param region: the stack's region.
    :param account_id: the stack's account.
    """
    token = arns(region, account_id).function(function)
    stack_id = arn("cloudformation", f"stack/{stack}/{new_uuid()}", region, account_id)
    request_id = new_uuid()
    bucket = f"cloudformation-custom-resource-response-{region.replace('-', '')}"
    object_key = f"{quote(stack_id, safe='')}%7C{logical_id}%7C{request_id}"
    response_url = (
        f"https://{bucket}.s3.amazonaws.com/{object_key}"
        f"?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Expires=7200&X-Amz-Signature={hex_id(64)}"
    )
    properties = {"ServiceToken": token} | (
        properties if properties is not None else {"Key": "Value"}
    )
    request = {
        "RequestType": request_type,
        "ServiceToken": token,
        "ResponseURL": response_url,
        "StackId": stack_id,
        "RequestId": request_id,
        "LogicalResourceId": logical_id,
        "ResourceType": resource_type,
        "ResourceProperties": properties,
    }
    if request_type != "Create":
        request["PhysicalResourceId"] = f"{stack}-{logical_id}-{hex_id(12, upper=True)}"
    if request_type == "Update":
        old = {"ServiceToken": token} | old_properties if old_properties is not None else properties
        request["OldResourceProperties"] = old
    return request


def _configuration_item(
    resource_type: str,
    resource_id: str,
    configuration: dict[str, Any],
    region: str,
    account_id: str,
) -> dict[str, Any]:
    """The configuration item Config recorded for the changed resource."""
    parts = resource_type.split("::")
    if len(parts) != 3:
        raise ValueError(f"{resource_type!r} is not a resource type; use AWS::SERVICE::KIND.")
    _, service, kind = parts
    captured = iso_ms(now())
    return {
        "configurationItemVersion": "1.3",
        "configurationItemCaptureTime": captured,
        "configurationStateId": epoch_ms(now()),
        "awsAccountId": account_id,
        "configurationItemStatus": "OK",
        "resourceType": resource_type,
        "resourceId": resource_id,
        "resourceName": None,
        "ARN": arn(service.lower(), f"{kind.lower()}/{resource_id}", region, account_id),
        "awsRegion": region,
        "availabilityZone": f"{region}a",
        "resourceCreationTime": captured,
        "configurationItemMD5Hash": "",
        "tags": {},
        "relatedEvents": [],
        "relationships": [],
        "configuration": configuration,
    }


@event_source("config", ASYNC)
def config(
    *,
    rule: str = "my-config-rule",
    resource_type: str = "AWS::EC2::Instance",
    resource_id: str = "i-0123456789abcdef0",
    configuration: dict[str, Any] | None = None,
    rule_parameters: dict[str, Any] | None = None,
    region: str = DEFAULT_REGION,
    account_id: str = DEFAULT_ACCOUNT_ID,
) -> dict[str, Any]:
    """A custom Config rule evaluation, triggered by a change to a resource it watches.

    Shape: https://docs.aws.amazon.com/config/latest/developerguide/evaluate-config_develop-rules_example-events.html

    :param rule: the Config rule's name.
    :param resource_type: the changed resource's type, AWS::SERVICE::KIND.
    :param resource_id: the changed resource's id.
    :param configuration: the resource's configuration [default: {"instanceType": "t2.micro"}].
    :param rule_parameters: the rule's parameters [default: {"desiredInstanceType": "t2.micro"}].
    :param region: the rule's region.
    :param account_id: the rule's account.
    """
    configuration = configuration if configuration is not None else {"instanceType": "t2.micro"}
    item = _configuration_item(resource_type, resource_id, configuration, region, account_id)
    invoking_event = {
        "configurationItemDiff": None,
        "configurationItem": item,
        "notificationCreationTime": item["configurationItemCaptureTime"],
        "messageType": "ConfigurationItemChangeNotification",
        "recordVersion": "1.3",
    }
    rule_id = f"config-rule-{hex_id(6)}"
    parameters = (
        rule_parameters if rule_parameters is not None else {"desiredInstanceType": "t2.micro"}
    )
    return {
        "version": "1.0",
        "invokingEvent": json.dumps(invoking_event),
        "ruleParameters": json.dumps(parameters),
        "resultToken": secrets.token_urlsafe(96),
        "eventLeftScope": False,
        "executionRoleArn": arns(region, account_id).role("config-role"),
        "configRuleArn": arn("config", f"config-rule/{rule_id}", region, account_id),
        "configRuleName": rule,
        "configRuleId": rule_id,
        "accountId": account_id,
        "evaluationMode": "DETECTIVE",
    }


@event_source("codecommit", ASYNC)
def codecommit(
    *,
    repository: str = "my-repo",
    ref: str = "refs/heads/main",
    commit: str | None = None,
    created: bool = False,
    trigger: str = "my-trigger",
    custom_data: str | None = None,
    region: str = DEFAULT_REGION,
    account_id: str = DEFAULT_ACCOUNT_ID,
) -> dict[str, Any]:
    """A repository trigger: a push to, or a new, branch or tag in a CodeCommit repository.

    Shape: https://docs.aws.amazon.com/codecommit/latest/userguide/how-to-notify-lambda.html

    :param repository: the repository's name.
    :param ref: the branch or tag pushed, e.g. refs/heads/main or refs/tags/v1.0.
    :param commit: the commit the ref now points at [default: a random 40-digit SHA-1].
    :param created: the push created the branch or tag.
    :param trigger: the trigger's name.
    :param custom_data: the trigger's custom data, if it has any.
    :param region: the repository's region.
    :param account_id: the repository's account.
    """
    reference: dict[str, Any] = {"commit": commit or hex_id(40), "ref": ref}
    if created:
        reference["created"] = True
    record: dict[str, Any] = {
        "awsRegion": region,
        "codecommit": {"references": [reference]},
        "eventId": new_uuid(),
        "eventName": "ReferenceChanges",
        "eventPartNumber": 1,
        "eventSource": "aws:codecommit",
        "eventSourceARN": arn("codecommit", repository, region, account_id),
        "eventTime": iso_ms(now()).replace("Z", "+0000"),
        "eventTotalParts": 1,
        "eventTriggerConfigId": new_uuid(),
        "eventTriggerName": trigger,
        "eventVersion": "1.0",
        "userIdentityARN": f"arn:aws:iam::{account_id}:user/developer",
    }
    if custom_data is not None:
        record["customData"] = custom_data
    return records([record])


@event_source("codepipeline", ASYNC)
def codepipeline(
    *,
    function: str = "my-function",
    user_parameters: str = "",
    artifact_bucket: str | None = None,
    artifact_key: str = "my-pipeline/SourceArti/Ab1Cd2E.zip",
    region: str = DEFAULT_REGION,
    account_id: str = DEFAULT_ACCOUNT_ID,
) -> dict[str, Any]:
    """A pipeline's Lambda invoke action: a job the function must report back on.

    The function must call PutJobSuccessResult or PutJobFailureResult with the job id.

    Shape: https://docs.aws.amazon.com/codepipeline/latest/userguide/actions-invoke-lambda-function.html

    :param function: the function the action names.
    :param user_parameters: the action's UserParameters string.
    :param artifact_bucket: the pipeline's artifact bucket [default: codepipeline-REGION-NUMBER].
    :param artifact_key: the input artifact's object key.
    :param region: the pipeline's region.
    :param account_id: the pipeline's account.
    """
    bucket = artifact_bucket or f"codepipeline-{region}-{secrets.randbelow(10**12):012d}"
    input_artifact = {
        "name": "SourceArtifact",
        "revision": None,
        "location": {"type": "S3", "s3Location": {"bucketName": bucket, "objectKey": artifact_key}},
    }
    credentials = {  # AWS's documented example keys: the job's temporary credentials
        "accessKeyId": "AKIAIOSFODNN7EXAMPLE",
        "secretAccessKey": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "sessionToken": md5_hex(new_uuid()) * 4,
    }
    data = {
        "actionConfiguration": {
            "configuration": {"FunctionName": function, "UserParameters": user_parameters}
        },
        "inputArtifacts": [input_artifact],
        "outputArtifacts": [],
        "artifactCredentials": credentials,
    }
    return {"CodePipeline.job": {"id": new_uuid(), "accountId": account_id, "data": data}}
