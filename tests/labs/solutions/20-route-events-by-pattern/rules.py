"""Lab 20, reference solution: only paid orders over 100 from the order service."""

import json

from lambdalab_schedule import schedules


def route(lab, bus_name, function_arn):
    rules = schedules(lab)
    pattern = {
        "source": ["com.example.orders"],
        "detail": {"status": ["paid"], "total": [{"numeric": [">", 100]}]},
    }
    rules.put_rule("paid-orders", event_pattern=json.dumps(pattern), event_bus_name=bus_name)
    rules.put_targets("paid-orders", [{"Id": "fulfil", "Arn": function_arn}],
                      event_bus_name=bus_name)
