"""Lab 3: errors a caller can act on, and finishing inside the timeout."""

import time

#: Stop this long before the timeout: enough to build and return the answer.
SAFETY_MARGIN_MS = 200
#: Each item takes this long to process.
WORK_PER_ITEM_S = 0.02


# TODO: define a custom exception class InvalidOrder (it inherits from Exception).


def validate(event, context):
    """Accept {"order_id": "A1", "quantity": 3}; reject anything else with InvalidOrder."""
    order_id = event.get("order_id")
    quantity = event.get("quantity")
    # TODO: raise InvalidOrder("...") when order_id is missing, or quantity is missing,
    #       not a whole number (int) or not positive.
    return {"ok": True, "order_id": order_id, "quantity": quantity}


def crunch(event, context):
    """Process event["items"]; stop in time and say how far we got."""
    items = event["items"]
    processed = 0
    for item in items:
        # TODO: stop (break) when context.get_remaining_time_in_millis() is below
        #       SAFETY_MARGIN_MS, so the function answers before its timeout.
        time.sleep(WORK_PER_ITEM_S)  # the "work" on one item
        processed += 1
    return {"processed": processed, "remaining": len(items) - processed}
