"""Lab 17, reference solution: one topic, three consumers, each with its filter policy."""

import json

from lambdalab_sns import sns_of


def subscribe(lab, topic_arn, billing_arn, fraud_arn, warehouse_queue_arn):
    topics = sns_of(lab).topics
    topics.subscribe(topic_arn, "lambda", billing_arn, {
        "FilterPolicy": json.dumps({"event_type": ["order_placed", "order_refunded"]}),
    })
    topics.subscribe(topic_arn, "lambda", fraud_arn, {
        "FilterPolicy": json.dumps({"event_type": ["order_placed"],
                                    "total": [{"numeric": [">", 1000]}]}),
    })
    topics.subscribe(topic_arn, "sqs", warehouse_queue_arn, {
        "FilterPolicyScope": "MessageBody",
        "FilterPolicy": json.dumps({"region": [{"prefix": "eu-"}]}),
        "RawMessageDelivery": "true",
    })
