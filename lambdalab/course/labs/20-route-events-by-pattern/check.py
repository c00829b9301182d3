"""Check for lab 20: of the events put on the orders bus, exactly the paid orders over
100 from the order service reach the function."""

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

RECORDER = '''def handler(event, context):
    print("GOT " + str(event["detail"]["order"]))
'''
ORDERS = "com.example.orders"
#: (order, source, status, total) and why it must or must not match.
EVENTS = [
    (1, ORDERS, "paid", 150, "a paid order over 100"),
    (2, ORDERS, "paid", 100, "exactly 100, which is not over 100"),
    (3, ORDERS, "pending", 500, "an order not paid yet"),
    (4, ORDERS, "paid", 100.5, "a paid order of 100.5"),
    (5, "com.example.test", "paid", 999, "a paid order over 100 from another source, the test service"),
    (6, ORDERS, "paid", "250", "a total written as text, which is no number"),
    (7, ORDERS, "refunded", 300, "a refunded order"),
]
WANTED = [1, 4]


def received(lab, name):
    return sorted(int(e.message.split("GOT ", 1)[1]) for e in lab.get_logs(name)
                  if e.message.startswith("GOT "))


def advice(got):
    """What the first event that went the wrong way says about the pattern."""
    if not got:
        return ("no event reached the function: the fields an application sends are in "
                "detail, so the pattern needs {\"detail\": {\"status\": [...], \"total\": [...]}}; "
                "a number is compared with {\"numeric\": [\">\", 100]}")
    extra = {2: "exactly 100 is not over 100: \">\" leaves the bound out, \">=\" takes it in",
             3: "an order that is not paid reached it: match detail.status too, only paid",
             7: "a refunded order reached it: match detail.status too, only paid",
             5: "an event from another source reached it: keep matching the source",
             6: "a numeric rule never matches text; if \"250\" reached the function, the "
                "total is not compared with numeric"}
    for order, why in extra.items():
        if order in got:
            return why
    return "paid orders over 100 are missing: match detail.status [\"paid\"] and " \
        "detail.total with {\"numeric\": [\">\", 100]}"


def check(workdir: Path):
    script = require_file(workdir, "rules.py")
    module = load_learner_module(script)
    require_functions(script, module, ("route(lab, bus_name, function_arn)",))
    from lambdalab_schedule import event_buses

    with tempfile.TemporaryDirectory() as tmp, fresh_lab(clock=VirtualClock()) as lab:
        (Path(tmp) / "app.py").write_text(RECORDER)
        function = unique_name("fulfil")
        deploy(lab, function, Path(tmp), "app.handler")
        buses = event_buses(lab)
        bus = unique_name("orders")
        buses.create_event_bus(bus)
        call_learner(script, module.route, lab, bus, lab.arns.function(function),
                     what="route(lab, bus_name, function_arn)", advice={
                         "InvalidEventPatternException": "the pattern breaks EventBridge's "
                         "syntax where the error says: each value is an object (to descend) "
                         "or a list of values and rules such as {\"numeric\": [\">\", 100]}"})
        buses.put_events([
            {"Source": source, "DetailType": "Order Updated", "EventBusName": bus,
             "Detail": json.dumps({"order": order, "status": status, "total": total})}
            for order, source, status, total, _ in EVENTS[:5]])
        buses.put_events([
            {"Source": source, "DetailType": "Order Updated", "EventBusName": bus,
             "Detail": json.dumps({"order": order, "status": status, "total": total})}
            for order, source, status, total, _ in EVENTS[5:]])
        lab.wait_for_events(timeout=60)
        got = received(lab, function)
    if got != WANTED:
        wrong = [why for order, *_, why in EVENTS if (order in got) != (order in WANTED)]
        raise CheckFailed(
            "The function did not get exactly the paid orders over 100.",
            expected=f"orders {WANTED}",
            got=f"orders {got}; wrong: {wrong[0]}",
            try_next=advice(got),
        )
    return passed(
        "Only paid orders over 100 from the order service reach the function.",
        f"orders {WANTED} went through; exactly 100, pending, refunded, another source "
        "and a total written as text did not",
    )
