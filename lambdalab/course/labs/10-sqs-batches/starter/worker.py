"""Lab 10: process an SQS batch without letting one bad order fail the others."""

import json


def handle_order(order):
    if not isinstance(order.get("quantity"), int) or order["quantity"] <= 0:
        raise ValueError(f"bad quantity in {order}")
    print(f"PROCESSED order {order['order']}")


def handler(event, context):
    # TODO: one bad record fails the whole batch here, so the good ones run again.
    # Catch the failure per record, collect its messageId, and return
    # {"batchItemFailures": [{"itemIdentifier": message_id}, ...]}.
    for record in event["Records"]:
        handle_order(json.loads(record["body"]))


def configure(lab, function_name, queue_name, dlq_arn):
    """Wire the queue to the function (batch size 10, partial failures) and to the DLQ."""
    from lambdalab_sqs import sqs_of

    queues = sqs_of(lab).queues
    # TODO: queues.set_attributes(queue_name, {"RedrivePolicy": ...}) with maxReceiveCount 3
    # TODO: lab.create_event_source_mapping(function_name, event_source_arn=..., ...)
