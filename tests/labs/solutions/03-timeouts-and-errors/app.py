"""Lab 3: errors a caller can act on, and finishing inside the timeout."""

import time

#: Stop this long before the timeout: enough to build and return the answer.
SAFETY_MARGIN_MS = 200
#: Each item takes this long to process.
WORK_PER_ITEM_S = 0.02


class InvalidOrder(Exception):
    """The order is malformed: the caller must fix it; retrying will not help."""


def validate(event, context):
    """Accept {"order_id": "A1", "quantity": 3}; reject anything else with InvalidOrder."""
    order_id = event.get("order_id")
    quantity = event.get("quantity")
    if not order_id:
        raise InvalidOrder("order_id is missing")
    if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity <= 0:
        raise InvalidOrder(f"quantity must be a positive whole number, not {quantity!r}")
    return {"ok": True, "order_id": order_id, "quantity": quantity}


def crunch(event, context):
    """Process event["items"]; stop in time and say how far we got."""
    items = event["items"]
    processed = 0
    for item in items:
        if context.get_remaining_time_in_millis() < SAFETY_MARGIN_MS:
            break
        time.sleep(WORK_PER_ITEM_S)  # the "work" on one item
        processed += 1
    return {"processed": processed, "remaining": len(items) - processed}
