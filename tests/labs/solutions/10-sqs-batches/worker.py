"""Lab 10: process an SQS batch without letting one bad order fail the others."""

import json


def handle_order(order):
    if not isinstance(order.get("quantity"), int) or order["quantity"] <= 0:
        raise ValueError(f"bad quantity in {order}")
    print(f"PROCESSED order {order['order']}")


def handler(event, context):
    failures = []
    for record in event["Records"]:
        try:
            handle_order(json.loads(record["body"]))
        except Exception as error:
            print(f"FAILED {record['messageId']}: {error}")
            failures.append({"itemIdentifier": record["messageId"]})
    return {"batchItemFailures": failures}


def configure(lab, function_name, queue_name, dlq_arn):
    """Wire the queue to the function (batch size 10, partial failures) and to the DLQ."""
    from lambdalab_sqs import sqs_of

    queues = sqs_of(lab).queues
    policy = {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 3}
    queues.set_attributes(queue_name, {"RedrivePolicy": json.dumps(policy)})
    lab.create_event_source_mapping(
        function_name,
        event_source_arn=queues.arn(queue_name),
        batch_size=10,
        function_response_types=["ReportBatchItemFailures"],
    )
