"""Lab 21: the audit function. The accounts table's stream invokes it with batches of
the table's changes, in the order they were made.

A record (https://docs.aws.amazon.com/lambda/latest/dg/with-ddb.html):
``record["eventName"]`` is INSERT, MODIFY or REMOVE; ``record["dynamodb"]`` has the
changed item's ``Keys``, its ``NewImage`` and ``OldImage`` (as the stream's view type
gives them) and the record's ``SequenceNumber``. Values are in DynamoDB's typed JSON:
``{"balance": {"N": "10"}}``. boto3 reaches lambdalab's DynamoDB through
AWS_ENDPOINT_URL, which lambdalab sets for you.
"""

import os

import boto3

dynamodb = boto3.client("dynamodb")
AUDIT_TABLE = os.environ["AUDIT_TABLE"]


def who(record):
    """Who made the change: DynamoDB itself when an item's time to live expired (the
    record's userIdentity says so), else the application."""
    return record.get("userIdentity", {}).get("principalId", "app")


def changed(old, new):
    """The attributes whose value differs between the images ``old`` and ``new`` (an
    image that is not there is ``{}``): ``(their values before, their values after)``."""
    names = [name for name in {**old, **new} if old.get(name) != new.get(name)]
    return ({name: old[name] for name in names if name in old},
            {name: new[name] for name in names if name in new})


def handler(event, context):
    for record in event["Records"]:
        change = record["dynamodb"]
        before, after = changed(change.get("OldImage", {}), change.get("NewImage", {}))
        entry = {
            "item": {"S": change["Keys"]["id"]["S"]},
            # The audit table's sort key: a batch retried writes the same entries again,
            # over themselves, not twice.
            "seq": {"S": change["SequenceNumber"]},
            "event": {"S": record["eventName"]},
            "by": {"S": who(record)},
        }
        if before:
            entry["old"] = {"M": before}
        if after:
            entry["new"] = {"M": after}
        dynamodb.put_item(TableName=AUDIT_TABLE, Item=entry)
