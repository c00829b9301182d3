"""Data: S3 notifications and batch jobs, DynamoDB and Kinesis streams, Firehose, Kafka."""

from __future__ import annotations

import json
import secrets
from typing import Any, Literal
from urllib.parse import quote_plus

from ._common import (
    DEFAULT_ACCOUNT_ID,
    DEFAULT_REGION,
    DEFAULT_ROLE_NAME,
    arn,
    arns,
    b64,
    dynamodb_json,
    epoch_ms,
    hex_id,
    iso_ms,
    new_uuid,
    now,
    principal_id,
    records,
    sequence_number,
)
from ._registry import ASYNC, POLL, SYNC, event_source


def _s3_object(key: str, size: int, removed: bool, etag: str, sequencer: str) -> dict[str, Any]:
    # S3 URL-encodes keys in events (a space becomes "+"); removals carry no size or eTag.
    sizes = {} if removed else {"size": size, "eTag": etag}
    return {"key": quote_plus(key, safe="/"), **sizes, "sequencer": sequencer}


def s3_record(
    *,
    bucket: str,
    key: str,
    size: int,
    event_name: str,
    region: str = DEFAULT_REGION,
    event_time: float | None = None,
    etag: str | None = None,
    sequencer: str | None = None,
    configuration_id: str | None = None,
    source_ip: str = "127.0.0.1",
) -> dict[str, Any]:
    """One record of an S3 notification, for a real object write or a generated one.

    Shape: https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-content-structure.html
    The ``lambdalab_s3`` trigger passes the object's real eTag, sequencer and time;
    left out, they are random (and now), as :func:`s3` generates them.
    """
    owner = {"principalId": principal_id()}
    removed = event_name.startswith("ObjectRemoved")
    return {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": region,
        "eventTime": iso_ms(now() if event_time is None else event_time),
        "eventName": event_name,
        "userIdentity": {"principalId": f"AWS:{principal_id()}"},
        "requestParameters": {"sourceIPAddress": source_ip},
        "responseElements": {
            "x-amz-request-id": hex_id(16, upper=True),
            "x-amz-id-2": b64(secrets.token_bytes(56)),
        },
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": configuration_id or new_uuid(),
            "bucket": {"name": bucket, "ownerIdentity": owner, "arn": arn("s3", bucket)},
            "object": _s3_object(
                key, size, removed, etag or hex_id(32), sequencer or hex_id(18, upper=True)
            ),
        },
    }


#: S3's reason for each event it sends to EventBridge, by the notification's event name.
_S3_REASONS = {"ObjectCreated:Put": "PutObject", "ObjectCreated:Copy": "CopyObject",
               "ObjectCreated:Post": "PostObject",
               "ObjectCreated:CompleteMultipartUpload": "CompleteMultipartUpload",
               "ObjectRemoved:Delete": "DeleteObject"}


def s3_eventbridge_event(
    *,
    bucket: str,
    key: str,
    size: int,
    event_name: str,
    etag: str,
    sequencer: str,
    account_id: str = DEFAULT_ACCOUNT_ID,
    source_ip: str = "127.0.0.1",
) -> dict[str, Any]:
    """What S3 puts on the default event bus for a write, when the bucket's notification
    configuration has ``EventBridgeConfiguration``: ``source`` ``aws.s3``, ``detail-type``
    ``Object Created`` or ``Object Deleted``, the bucket's ARN as resource, and the detail
    (https://docs.aws.amazon.com/AmazonS3/latest/userguide/ev-events.html). The envelope's
    ``id``, ``time``, ``account`` and ``region`` are the bus's to add. Unlike a
    notification record, the key is not URL-encoded."""
    removed = event_name.startswith("ObjectRemoved")
    obj: dict[str, Any] = {"key": key, "sequencer": sequencer}
    if not removed:
        obj = {"key": key, "size": size, "etag": etag, "sequencer": sequencer}
    detail: dict[str, Any] = {
        "version": "0", "bucket": {"name": bucket}, "object": obj,
        "request-id": hex_id(16, upper=True), "requester": account_id,
        "source-ip-address": source_ip, "reason": _S3_REASONS.get(event_name, event_name),
    }
    if removed:
        detail["deletion-type"] = "Permanently Deleted"
    return {"source": "aws.s3", "detail-type": "Object Deleted" if removed else "Object Created",
            "resources": [arn("s3", bucket)], "detail": detail}


@event_source("s3", ASYNC)
def s3(
    *,
    bucket: str = "my-bucket",
    key: str = "HappyFace.jpg",
    size: int = 1024,
    event_name: str = "ObjectCreated:Put",
    region: str = DEFAULT_REGION,
) -> dict[str, Any]:
    """A bucket notification: an object was created (or removed) in an S3 bucket.

    Shape: https://docs.aws.amazon.com/lambda/latest/dg/with-s3.html

    :param bucket: the bucket's name.
    :param key: the object's key, as uploaded (the event carries it URL-encoded).
    :param size: the object's size in bytes.
    :param event_name: e.g. ObjectCreated:Put, ObjectCreated:Copy, ObjectRemoved:Delete.
    :param region: the bucket's region.
    """
    return records(
        [s3_record(bucket=bucket, key=key, size=size, event_name=event_name, region=region)]
    )


@event_source("s3-batch", SYNC)
def s3_batch(
    *,
    bucket: str = "my-bucket",
    key: str = "customerImage1.jpg",
    version_id: str | None = None,
    user_arguments: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One task of an S3 Batch Operations job that invokes a function per object.

    Shape: https://docs.aws.amazon.com/AmazonS3/latest/userguide/batch-ops-invoke-lambda.html

    :param bucket: the bucket the manifest's object is in.
    :param key: the object's key.
    :param version_id: the object's version (null for an unversioned bucket).
    :param user_arguments: the job's UserArguments; giving them selects schema 2.0.
    """
    task: dict[str, Any] = {
        "taskId": b64(secrets.token_bytes(24)),
        "s3Key": key,
        "s3VersionId": version_id,
    }
    job: dict[str, Any] = {"id": new_uuid()}
    if user_arguments is None:
        schema, task["s3BucketArn"] = "1.0", arn("s3", bucket)
    else:
        schema, task["s3Bucket"], job["userArguments"] = "2.0", bucket, user_arguments
    return {
        "invocationSchemaVersion": schema,
        "invocationId": b64(secrets.token_bytes(36)),
        "job": job,
        "tasks": [task],
    }


def _stream_images(
    event_name: str, item: dict[str, Any], old_item: dict[str, Any] | None
) -> dict[str, Any]:
    """NewImage and/or OldImage, as a NEW_AND_OLD_IMAGES stream carries them."""
    images = {}
    if event_name != "REMOVE":
        images["NewImage"] = dynamodb_json(item)["M"]
    if event_name != "INSERT":
        images["OldImage"] = dynamodb_json(old_item if old_item is not None else item)["M"]
    return images


@event_source("dynamodb", POLL)
def dynamodb(
    *,
    table: str = "my-table",
    event_name: Literal["INSERT", "MODIFY", "REMOVE"] = "INSERT",
    item: dict[str, Any] | None = None,
    old_item: dict[str, Any] | None = None,
    key: str = "Id",
    region: str = DEFAULT_REGION,
    account_id: str = DEFAULT_ACCOUNT_ID,
) -> dict[str, Any]:
    """A change to a DynamoDB table, read from its stream by Lambda's poller.

    Shape: https://docs.aws.amazon.com/lambda/latest/dg/with-ddb.html

    :param table: the table's name.
    :param event_name: INSERT, MODIFY or REMOVE.
    :param item: the item after the change, as plain JSON (it is sent in DynamoDB's
        typed JSON) [default: {"Id": 101, "Message": "New item!"}].
    :param old_item: the item before a MODIFY or REMOVE [default: the item].
    :param key: the table's partition key attribute.
    :param region: the table's region.
    :param account_id: the table's account.
    """
    item = item if item is not None else {"Id": 101, "Message": "New item!"}
    if key not in item:
        raise ValueError(f"The item has no {key!r} attribute, the table's key: add it, or set key.")
    changed_at = now()
    keys = {key: dynamodb_json(item[key])}
    images = _stream_images(event_name, item, old_item)
    change = {
        "ApproximateCreationDateTime": int(changed_at),
        "Keys": keys,
        **images,
        "SequenceNumber": sequence_number(digits=21),
        "SizeBytes": len(json.dumps({"Keys": keys, **images})),  # about what the record holds
        "StreamViewType": "NEW_AND_OLD_IMAGES",
    }
    stream = f"table/{table}/stream/{iso_ms(changed_at).rstrip('Z')}"
    return records(
        [
            {
                "eventID": hex_id(32),
                "eventName": event_name,
                "eventVersion": "1.1",
                "eventSource": "aws:dynamodb",
                "awsRegion": region,
                "dynamodb": change,
                "eventSourceARN": arn("dynamodb", stream, region, account_id),
            }
        ]
    )


@event_source("kinesis", POLL)
def kinesis(
    *,
    data: str = "Hello, this is a test.",
    stream: str = "my-stream",
    partition_key: str = "1",
    count: int = 1,
    region: str = DEFAULT_REGION,
    account_id: str = DEFAULT_ACCOUNT_ID,
) -> dict[str, Any]:
    """A batch of records Lambda's poller read from a Kinesis data stream (data in base64).

    Shape: https://docs.aws.amazon.com/lambda/latest/dg/with-kinesis.html

    :param data: each record's data, before base64 encoding.
    :param stream: the stream's name.
    :param partition_key: the records' partition key.
    :param count: how many records the batch holds.
    :param region: the stream's region.
    :param account_id: the stream's account.
    """
    arrived_at = now()
    shard = "shardId-000000000000"
    role = arns(region, account_id).role(DEFAULT_ROLE_NAME)
    batch = []
    for index in range(count):
        number = sequence_number(index)
        batch.append(
            {
                "kinesis": {
                    "kinesisSchemaVersion": "1.0",
                    "partitionKey": partition_key,
                    "sequenceNumber": number,
                    "data": b64(data),
                    "approximateArrivalTimestamp": round(arrived_at, 3),
                },
                "eventSource": "aws:kinesis",
                "eventVersion": "1.0",
                "eventID": f"{shard}:{number}",
                "eventName": "aws:kinesis:record",
                "invokeIdentityArn": role,
                "awsRegion": region,
                "eventSourceARN": arn("kinesis", f"stream/{stream}", region, account_id),
            }
        )
    return records(batch)


@event_source("firehose", SYNC)
def firehose(
    *,
    data: str = "Hello World",
    delivery_stream: str = "my-delivery-stream",
    count: int = 1,
    region: str = DEFAULT_REGION,
    account_id: str = DEFAULT_ACCOUNT_ID,
) -> dict[str, Any]:
    """Records a Firehose stream hands to a transformation function (data in base64).

    Shape: https://docs.aws.amazon.com/firehose/latest/dev/data-transformation.html

    :param data: each record's data, before base64 encoding.
    :param delivery_stream: the delivery stream's name.
    :param count: how many records the batch holds.
    :param region: the delivery stream's region.
    :param account_id: the delivery stream's account.
    """
    arrived_ms = epoch_ms(now())
    return {
        "invocationId": new_uuid(),
        "deliveryStreamArn": arn(
            "firehose", f"deliverystream/{delivery_stream}", region, account_id
        ),
        "region": region,
        "records": [
            {
                "recordId": sequence_number(index),
                "approximateArrivalTimestamp": arrived_ms,
                "data": b64(data),
            }
            for index in range(count)
        ],
    }


def _brokers(cluster: str, region: str) -> str:
    host = f"{cluster}.{hex_id(6)}.c1.kafka.{region}.amazonaws.com:9092"
    return ",".join(f"b-{n}.{host}" for n in (1, 2))


@event_source("kafka", POLL)
def kafka(
    *,
    value: str = "Hello, this is a test.",
    key: str = "my-key",
    topic: str = "mytopic",
    partition: int = 0,
    cluster: str = "demo-cluster",
    region: str = DEFAULT_REGION,
    account_id: str = DEFAULT_ACCOUNT_ID,
) -> dict[str, Any]:
    """A batch of records Lambda's poller read from an Amazon MSK (Kafka) topic.

    Shape: https://docs.aws.amazon.com/lambda/latest/dg/with-msk.html

    :param value: the record's value, before base64 encoding.
    :param key: the record's key, before base64 encoding.
    :param topic: the topic's name.
    :param partition: the partition the record was read from.
    :param cluster: the MSK cluster's name.
    :param region: the cluster's region.
    :param account_id: the cluster's account.
    """
    record = {
        "topic": topic,
        "partition": partition,
        "offset": 15,
        "timestamp": epoch_ms(now()),
        "timestampType": "CREATE_TIME",
        "key": b64(key),
        "value": b64(value),
        "headers": [{"headerKey": list(b"headerValue")}],
    }
    return {
        "eventSource": "aws:kafka",
        "eventSourceArn": arn("kafka", f"cluster/{cluster}/{new_uuid()}-2", region, account_id),
        "bootstrapServers": _brokers(cluster, region),
        "records": {f"{topic}-{partition}": [record]},
    }
