"""Check for lab 17: one topic, three subscribers, each gets exactly its own orders."""

import json
import tempfile
from pathlib import Path

from lambdalab import VirtualClock
from lambdalab.labs import (
    CheckFailed,
    call_learner,
    deploy,
    fresh_lab,
    load_learner_module,
    passed,
    require_file,
    require_functions,
    unique_name,
)

RECORDER = '''import json


def handler(event, context):
    for record in event["Records"]:
        print("GOT " + str(json.loads(record["Sns"]["Message"])["order"]))
'''
#: (order, event_type, total, region): the edge cases are 2 (exactly 1000), 5 (a big
#: total that is no order), 6 (a region that starts "eu" without the dash) and 7 (nobody).
ORDERS = [
    (1, "order_placed", "50", "eu-west-1"),
    (2, "order_placed", "1000", "us-east-1"),
    (3, "order_placed", "2500.5", "eu-central-1"),
    (4, "order_refunded", "80", "eu-west-1"),
    (5, "order_viewed", "5000", "eu-north-1"),
    (6, "order_placed", "1200", "europe-west"),
    (7, "order_viewed", "20", "us-west-2"),
]
WANTED = {"billing": [1, 2, 3, 4, 6], "fraud": [3, 6], "warehouse": [1, 3, 4, 5]}


def received(lab, name):
    return sorted(int(e.message.split("GOT ", 1)[1]) for e in lab.get_logs(name)
                  if e.message.startswith("GOT "))


def billing_advice(got):
    if 4 not in got:
        return "the refund (order 4) never came: a list of values matches any of them, " \
            "so name both event types in one list"
    return "billing got events that are neither placed nor refunded: filter on the " \
        "event_type attribute"


def fraud_advice(got):
    if 2 in got:
        return "order 2's total is exactly 1000, which is not over 1000: > leaves the " \
            "bound out, >= takes it in"
    if 5 in got:
        return "order 5 was only viewed: every key of a policy must match, so ask for " \
            "the event type too"
    if not got:
        return "total is a Number attribute: compare it with {\"numeric\": [...]}; the " \
            "string \"1000\" never matches a number"
    return "filter the total attribute with a numeric comparison, and the event type"


def warehouse_bodies(queues, queue):
    return [m.body for m in queues.receive_message(queue, max_number_of_messages=10)]


def warehouse_orders(bodies):
    """The orders the queue got; None when it got SNS's envelope instead of the orders."""
    orders = []
    for body in bodies:
        try:
            parsed = json.loads(body)
        except ValueError:
            return None
        if not isinstance(parsed, dict) or "order" not in parsed:
            return None
        orders.append(parsed["order"])
    return sorted(orders)


def warehouse_advice(got):
    if got is None:
        return "the queue got SNS's JSON envelope around each order: set the " \
            "subscription's RawMessageDelivery to \"true\" to get the message itself"
    if not got:
        return "region is in the message body, not an attribute: without " \
            "FilterPolicyScope MessageBody the policy looks for an attribute named " \
            "region, which no message has"
    if 6 in got:
        return "\"europe-west\" starts with \"eu\" but is not an EU region code: the " \
            "prefix is \"eu-\", dash included"
    return "match the body's region with {\"prefix\": ...}"


def expect(consumer, got, advice):
    if got != WANTED[consumer]:
        raise CheckFailed(
            f"The {consumer} subscriber did not receive exactly its orders.",
            expected=f"orders {WANTED[consumer]}",
            got=f"orders {got}" if got is not None else "SNS notifications, not orders",
            try_next=advice(got),
        )


def check(workdir: Path):
    script = require_file(workdir, "subscriptions.py")
    module = load_learner_module(script)
    require_functions(script, module, (
        "subscribe(lab, topic_arn, billing_arn, fraud_arn, warehouse_queue_arn)",))
    from lambdalab_sns import sns_of
    from lambdalab_sqs import sqs_of

    with tempfile.TemporaryDirectory() as tmp, fresh_lab(clock=VirtualClock()) as lab:
        (Path(tmp) / "app.py").write_text(RECORDER)
        billing, fraud = unique_name("billing"), unique_name("fraud")
        for name in (billing, fraud):
            deploy(lab, name, Path(tmp), "app.handler")
        queues, sns = sqs_of(lab).queues, sns_of(lab)
        queue = unique_name("eu-warehouse")
        queues.create_queue(queue)
        topic = sns.topics.create_topic(unique_name("orders"))
        call_learner(script, module.subscribe, lab, topic.arn, lab.arns.function(billing),
                     lab.arns.function(fraud), queues.arn(queue),
                     what="subscribe(lab, topic_arn, billing_arn, fraud_arn, warehouse_queue_arn)")
        for order, event_type, total, region in ORDERS:
            sns.publisher.publish(
                topic.arn, json.dumps({"order": order, "region": region}), message_attributes={
                    "event_type": {"DataType": "String", "StringValue": event_type},
                    "total": {"DataType": "Number", "StringValue": total}})
        lab.wait_for_events(timeout=60)
        warehouse = warehouse_orders(warehouse_bodies(queues, queue))
        expect("billing", received(lab, billing), billing_advice)
        expect("fraud", received(lab, fraud), fraud_advice)
        expect("warehouse", warehouse, warehouse_advice)
    return passed(
        "Each subscriber gets exactly its own orders.",
        f"billing: orders {WANTED['billing']} (placed or refunded)",
        f"fraud: orders {WANTED['fraud']} (placed, total over 1000)",
        f"EU warehouse: orders {WANTED['warehouse']}, raw, matched on the body's region",
    )
