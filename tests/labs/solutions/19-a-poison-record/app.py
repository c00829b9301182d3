"""Lab 19: the function the orders stream invokes, one batch of a shard at a time."""

import base64
import json


def handler(event, context):
    for record in event["Records"]:
        order = json.loads(base64.b64decode(record["kinesis"]["data"]))
        total = order["price"] * order["quantity"]
        print(f"PROCESSED {order['id']} {total}")
