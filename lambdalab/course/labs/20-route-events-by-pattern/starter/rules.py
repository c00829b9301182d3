"""Lab 20: a rule on the orders bus that routes only paid orders over 100 to a function.

``schedules(lab).put_rule(name, event_pattern=TEXT, event_bus_name=BUS)`` creates the
rule; ``put_targets(name, [{"Id": ..., "Arn": ...}], event_bus_name=BUS)`` gives it its
target.
"""

import json

from lambdalab_schedule import schedules


def route(lab, bus_name, function_arn):
    rules = schedules(lab)
    # TODO: only paid orders (detail.status) whose total (detail.total) is over 100.
    pattern = {"source": ["com.example.orders"]}
    rules.put_rule("paid-orders", event_pattern=json.dumps(pattern), event_bus_name=bus_name)
    rules.put_targets("paid-orders", [{"Id": "fulfil", "Arn": function_arn}],
                      event_bus_name=bus_name)
