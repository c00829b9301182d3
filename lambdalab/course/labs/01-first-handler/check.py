"""Check for lab 1: the handler reads the event and the context."""

from pathlib import Path

from lambdalab.labs import (
    CheckFailed,
    deploy,
    expect_equal,
    expect_success,
    fresh_lab,
    invoke,
    passed,
    show,
    require_file,
    unique_name,
)


def check(workdir: Path):
    require_file(workdir, "app.py")
    with fresh_lab() as lab:
        name = unique_name("greeter")
        deploy(lab, name, workdir, "app.handler")
        cases = (
            ({"name": "Ada"}, "Hello, Ada!"),
            ({"name": "Grace"}, "Hello, Grace!"),
            ({}, "Hello, world!"),
        )
        for event, greeting in cases:
            result = invoke(lab, name, event)
            answer = expect_success(
                result,
                f"when invoked with {show(event)}",
                try_next='an event need not have a "name": event["name"] raises KeyError '
                'then; event.get("name", "world") falls back'
                if "name" not in event else "",
            )
            if not isinstance(answer, dict):
                raise CheckFailed(
                    "The handler should return a dict.",
                    expected='{"greeting": ..., "function": ..., "request_id": ...}',
                    got=repr(answer),
                    try_next="return a dict; Lambda turns it into JSON",
                )
            expect_equal(
                answer.get("greeting"),
                greeting,
                f'"greeting" for the event {show(event)}',
                try_next='read the name from the event: event.get("name", "world")',
                output=result.log_tail,
            )
            expect_equal(
                answer.get("function"),
                name,
                '"function"',
                try_next="return context.function_name (the check picks a new name each "
                "time, so it cannot be typed in)",
            )
            expect_equal(
                answer.get("request_id"),
                result.request_id,
                '"request_id"',
                try_next="return context.aws_request_id; it is different on every invoke",
            )
    return passed(
        "Your handler reads the event and the context.",
        f'{{"name": "Ada"}} -> "Hello, Ada!"; no name -> "Hello, world!"',
        f"function name and request id came from the context ({name})",
    )
