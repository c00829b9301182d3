"""Lab 17: one topic, three consumers, each with the filter policy it needs.

``sns_of(lab).topics.subscribe(topic_arn, protocol, endpoint, attributes)`` takes the
subscription attributes boto3's Subscribe takes; every value is a string, so a policy
is ``json.dumps({...})``.
"""

import json

from lambdalab_sns import sns_of


def subscribe(lab, topic_arn, billing_arn, fraud_arn, warehouse_queue_arn):
    topics = sns_of(lab).topics
    # TODO: billing wants orders placed and orders refunded: a FilterPolicy on event_type.
    topics.subscribe(topic_arn, "lambda", billing_arn, {})
    # TODO: fraud wants orders placed whose total is over 1000 (total is a Number).
    topics.subscribe(topic_arn, "lambda", fraud_arn, {})
    # TODO: the warehouse wants bodies whose region starts with "eu-", delivered raw.
    topics.subscribe(topic_arn, "sqs", warehouse_queue_arn, {})
