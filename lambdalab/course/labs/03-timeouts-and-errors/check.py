"""Check for lab 3: a custom error for bad input, and a handler that beats its timeout."""

from pathlib import Path

from lambdalab.labs import (
    CheckFailed,
    deploy,
    expect_equal,
    expect_success,
    fresh_lab,
    function_error,
    invoke,
    passed,
    require_file,
    show,
    unique_name,
)

GOOD_ORDERS = (
    {"order_id": "A1", "quantity": 3},
    {"order_id": "A9", "quantity": 1},
    {"order_id": "B7", "quantity": 250},
)
#: Each bad order with the mistake that lets it through.
BAD_ORDERS = (
    ({"order_id": "A2", "quantity": 0}, "zero is not positive: test quantity > 0"),
    ({"order_id": "A3", "quantity": -2}, "a negative quantity is not positive: test quantity > 0"),
    ({"order_id": "A4", "quantity": "lots"}, "check the type with isinstance(quantity, int)"),
    ({"order_id": "A5", "quantity": 2.5}, "int(2.5) is 2: converting hides the fraction; "
     "test isinstance(quantity, int) instead of converting"),
    ({"order_id": "A6", "quantity": True}, "in Python True is an int (isinstance(True, int) "
     "is True): reject bool explicitly"),
    ({"order_id": "A7"}, "a missing quantity is None: reject it"),
    ({"quantity": 1}, "a missing order_id must be rejected too"),
)
#: crunch's batches: (timeout in s, items, what the answer must be). Each item takes
#: 20 ms. A 1 s timeout cannot hold 100 items; a 3 s one holds 60 (1.2 s of work) with
#: 1.6 s to spare, so a handler that stops at a fixed count or after a fixed time of its
#: own, instead of asking the context, fails one of them whatever the machine's load.
SMALL_BATCH = 5
BIG_BATCH = 100
ROOMY_BATCH = 60
ROOMY_TIMEOUT_S = 3


def check(workdir: Path):
    require_file(workdir, "app.py")
    with fresh_lab() as lab:
        validate = unique_name("validate")
        deploy(lab, validate, workdir, "app.validate")
        check_validate(lab, validate)

        crunch = unique_name("crunch")
        deploy(lab, crunch, workdir, "app.crunch", timeout=1)
        processed = check_crunch(lab, crunch)
        lab.update_function_configuration(crunch, timeout=ROOMY_TIMEOUT_S)
        check_roomy_crunch(lab, crunch, processed)
    return passed(
        "Bad input fails as InvalidOrder, and crunch answers before its timeout.",
        f"{len(BAD_ORDERS)} bad orders (0, -2, \"lots\", 2.5, true, missing fields) -> "
        "FunctionError Unhandled, errorType InvalidOrder",
        f"{BIG_BATCH} items in a 1 s timeout -> processed {processed}, the rest left for later",
        f"{ROOMY_BATCH} items in a {ROOMY_TIMEOUT_S} s timeout -> all processed: the stop "
        "follows the time the context says is left",
    )


def check_validate(lab, name: str) -> None:
    for order in GOOD_ORDERS:
        result = invoke(lab, name, order)
        answer = expect_success(result, f"on the good order {show(order)}")
        expect_equal(
            answer,
            {"ok": True, **order},
            f"answer to the good order {show(order)}",
            try_next="raise only for bad input; a good order returns as it came",
        )
    for order, mistake in BAD_ORDERS:
        result = invoke(lab, name, order)
        if not result.function_error:
            raise CheckFailed(
                f"validate accepted the bad order {show(order)}.",
                expected="FunctionError: Unhandled with errorType InvalidOrder",
                got=f"a normal answer: {result.payload.decode()}",
                try_next=f"raise InvalidOrder(...) for this input: {mistake}",
                output=result.log_tail,
            )
        error = result.json() if result.payload else {}
        if error.get("errorType") != "InvalidOrder":
            raise CheckFailed(
                f"validate failed on {show(order)}, but not with InvalidOrder.",
                expected="errorType InvalidOrder",
                got=function_error(result),
                try_next=not_invalid_order_advice(error),
                output=result.log_tail,
            )
        if not error.get("errorMessage"):
            raise CheckFailed(
                f"InvalidOrder for {show(order)} has no message.",
                expected="a message saying what is wrong with the order",
                got="errorMessage: (empty)",
                try_next='raise InvalidOrder("quantity must be a positive whole number")',
            )


def not_invalid_order_advice(error: dict) -> str:
    """What to try when validate failed with another error than InvalidOrder."""
    kind, message = error.get("errorType", ""), error.get("errorMessage", "")
    if kind == "NameError" and "InvalidOrder" in message:
        return "define `class InvalidOrder(Exception)` in app.py, at module level, before " \
            "the handler raises it"
    if kind == "Runtime.ImportModuleError":
        return "app.py does not import: fix the error above"
    return f"your handler raised {kind or 'an error'} before it got to InvalidOrder: this " \
        "input broke a line that uses it (int(), a comparison, a key). Test the input " \
        "first (isinstance, `in`), then raise InvalidOrder"


def check_crunch(lab, name: str) -> int:
    small = invoke(lab, name, {"items": list(range(SMALL_BATCH))})
    answer = expect_success(small, f"on a batch of {SMALL_BATCH} items")
    expect_equal(
        answer,
        {"processed": SMALL_BATCH, "remaining": 0},
        f"answer for a batch of {SMALL_BATCH} items (plenty of time)",
        try_next="only stop early when time is really running out",
    )
    big = invoke(lab, name, {"items": list(range(BIG_BATCH))})
    if big.function_error:
        got = function_error(big)
        raise CheckFailed(
            f"crunch did not answer for a batch of {BIG_BATCH} items.",
            expected="an answer before the 1 s timeout",
            got=got,
            try_next="check context.get_remaining_time_in_millis() before each item and "
            "break out of the loop when it is below SAFETY_MARGIN_MS"
            if "Timedout" in got
            else "read the error: it comes from your handler",
            output=big.log_tail,
        )
    answer = big.json()
    processed = answer.get("processed") if isinstance(answer, dict) else None
    if not isinstance(processed, int) or not 0 < processed < BIG_BATCH:
        raise CheckFailed(
            f"crunch's answer for {BIG_BATCH} items does not add up.",
            expected=f'{{"processed": <between 1 and {BIG_BATCH - 1}>, "remaining": <the rest>}}',
            got=show(answer),
            try_next="count the items you finished; the rest are remaining",
        )
    expect_equal(
        answer.get("remaining"),
        BIG_BATCH - processed,
        f'"remaining" after processing {processed} of {BIG_BATCH}',
        try_next='"remaining" is len(items) - processed',
    )
    return processed


def check_roomy_crunch(lab, name: str, processed_in_1s: int) -> None:
    """With time to spare, crunch must finish: its stop follows the context's clock."""
    roomy = invoke(lab, name, {"items": list(range(ROOMY_BATCH))})
    if roomy.function_error:
        raise CheckFailed(
            f"crunch failed on {ROOMY_BATCH} items with a {ROOMY_TIMEOUT_S} s timeout.",
            expected="an answer",
            got=function_error(roomy),
            try_next="read the error: it comes from your handler",
            output=roomy.log_tail,
        )
    answer = roomy.json()
    if answer != {"processed": ROOMY_BATCH, "remaining": 0}:
        raise CheckFailed(
            f"crunch stopped early with a {ROOMY_TIMEOUT_S} s timeout and {ROOMY_BATCH} "
            "items (1.2 s of work).",
            expected=show({"processed": ROOMY_BATCH, "remaining": 0}),
            got=f"{show(answer)} (with a 1 s timeout it processed {processed_in_1s})",
            try_next="stop because of the time the context says is left "
            "(context.get_remaining_time_in_millis() < SAFETY_MARGIN_MS), not after a "
            "fixed number of items or a fixed time of your own: the timeout is a setting "
            "that changes",
            output=roomy.log_tail,
        )
