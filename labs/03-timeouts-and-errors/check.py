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

GOOD_ORDER = {"order_id": "A1", "quantity": 3}
BAD_ORDERS = (
    {"order_id": "A2", "quantity": 0},
    {"order_id": "A3", "quantity": "lots"},
    {"order_id": "A4"},
    {"quantity": 1},
)
BIG_BATCH = 100  # 100 x 20 ms = 2 s: more than the 1 s timeout
SMALL_BATCH = 5


def check(workdir: Path):
    require_file(workdir, "app.py")
    with fresh_lab() as lab:
        validate = unique_name("validate")
        deploy(lab, validate, workdir, "app.validate")
        check_validate(lab, validate)

        crunch = unique_name("crunch")
        deploy(lab, crunch, workdir, "app.crunch", timeout=1)
        processed = check_crunch(lab, crunch)
    return passed(
        "Bad input fails as InvalidOrder, and crunch answers before its timeout.",
        f"{len(BAD_ORDERS)} bad orders -> FunctionError Unhandled, errorType InvalidOrder",
        f"{BIG_BATCH} items in a 1 s timeout -> processed {processed}, the rest left for later",
    )


def check_validate(lab, name: str) -> None:
    result = invoke(lab, name, GOOD_ORDER)
    answer = expect_success(result, f"on the good order {show(GOOD_ORDER)}")
    expect_equal(
        answer,
        {"ok": True, **GOOD_ORDER},
        f"answer to the good order {show(GOOD_ORDER)}",
        try_next="raise only for bad input; a good order returns as before",
    )
    for order in BAD_ORDERS:
        result = invoke(lab, name, order)
        if not result.function_error:
            raise CheckFailed(
                f"validate accepted the bad order {show(order)}.",
                expected="FunctionError: Unhandled with errorType InvalidOrder",
                got=f"a normal answer: {result.payload.decode()}",
                try_next="raise InvalidOrder(...) for this input (hint: `lambdalab lab hint`)",
                output=result.log_tail,
            )
        error = result.json() if result.payload else {}
        if error.get("errorType") != "InvalidOrder":
            raise CheckFailed(
                f"validate failed on {show(order)}, but not with InvalidOrder.",
                expected="errorType InvalidOrder",
                got=function_error(result),
                try_next="define `class InvalidOrder(Exception)` in app.py and raise it; the "
                "errorType is the exception's class name",
                output=result.log_tail,
            )
        if not error.get("errorMessage"):
            raise CheckFailed(
                f"InvalidOrder for {show(order)} has no message.",
                expected="a message saying what is wrong with the order",
                got="errorMessage: (empty)",
                try_next='raise InvalidOrder("quantity must be a positive whole number")',
            )


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
