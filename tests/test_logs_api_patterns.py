"""CloudWatch Logs' filter pattern syntax (lambdalab.log_patterns), case by case, from the
examples of https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/FilterAndPatternSyntax.html."""

from __future__ import annotations

import pytest

from lambdalab.log_patterns import PatternError, compile_pattern


@pytest.mark.parametrize("pattern, message, expected", [
    ("", "anything", True),
    ("ERROR", "[ERROR] 400 BAD REQUEST", True),
    ("ERROR", "error, lower case", False),  # terms are case-sensitive
    ("ERROR ARGUMENTS", "[ERROR] Missing ARGUMENTS", True),
    ("ERROR ARGUMENTS", "[ERROR] 400", False),
    ("?ERROR ?WARN", "[WARN] slow", True),
    ("?ERROR ?WARN", "[INFO] fine", False),
    ("ERROR -Exiting", "[ERROR] Exiting now", False),
    ("ERROR -Exiting", "[ERROR] Caught", True),
    ('"INTERNAL SERVER ERROR"', "500 INTERNAL SERVER ERROR", True),
    ('"INTERNAL SERVER ERROR"', "INTERNAL ERROR", False),
    ("%AUTHORIZED%", "[ERROR 401] UNAUTHORIZED REQUEST", True),
    ("%^[hc]at%", "hat on", True),
    ("%^[hc]at%", "a cat", False),
    ('{ $.eventType = "UpdateTrail" }', '{"eventType": "UpdateTrail"}', True),
    ('{ $.eventType = "UpdateTrail" }', '{"eventType": "Other"}', False),
    ('{ $.eventType = "UpdateTrail" }', "not json", False),
    ("{ $.sourceIPAddress != 123.123.* }", '{"sourceIPAddress": "10.0.0.1"}', True),
    ("{ $.sourceIPAddress != 123.123.* }", '{"sourceIPAddress": "123.123.0.1"}', False),
    ("{ $.bandwidth > 75 }", '{"bandwidth": 76}', True),
    ("{ $.bandwidth > 75 }", '{"bandwidth": 75}', False),
    ("{ $.bandwidth > 75 }", '{"bandwidth": "80"}', True),
    ("{ $.latency <= 5 }", '{"latency": 5.0}', True),
    ("{ $.user.id = 2 }", '{"user": {"id": 2}}', True),
    ('{ $.users[1].name = "b*" }', '{"users": [{"name": "a"}, {"name": "bob"}]}', True),
    ("{ $.ok IS TRUE }", '{"ok": true}', True),
    ("{ $.ok IS TRUE }", '{"ok": 1}', False),
    ("{ $.gone IS NULL }", '{"gone": null}', True),
    ("{ $.gone NOT EXISTS }", '{"other": 1}', True),
    ("{ $.gone NOT EXISTS }", '{"gone": null}', False),
    ('{ ($.a = 1 && $.b = 2) || $.c = "x" }', '{"a": 1, "b": 3, "c": "x"}', True),
    ('{ ($.a = 1 && $.b = 2) || $.c = "x" }', '{"a": 1, "b": 3, "c": "y"}', False),
    ("[ip, user, username, timestamp, request, status_code = 404, bytes]",
     '127.0.0.1 - frank [10/Oct/2000:13:25:15 -0700] "GET /index.html HTTP/1.0" 404 1534', True),
    ("[ip, user, ..., status_code = 4*, bytes > 1000]",
     '127.0.0.1 - frank [10/Oct/2000:13:25:15 -0700] "GET /x HTTP/1.0" 404 1534', True),
    ("[ip, user, ..., status_code = 4*, bytes > 1000]",
     '127.0.0.1 - frank [10/Oct/2000:13:25:15 -0700] "GET /x HTTP/1.0" 404 10', False),
    ("[a, b]", "one two three", False),  # without an ellipsis, every field is named
    ("[..., last = done]", "a b c done", True),
    ("[code = 400 || code = 500, ...]", "500 oops", True),
])
def test_patterns_match_as_cloudwatch_documents(pattern: str, message: str, expected: bool) -> None:
    assert compile_pattern(pattern)(message) is expected


@pytest.mark.parametrize("pattern", [
    "{ $.a = ", "{ $.a = 1", "{ a = 1 }", "{ $.a ~ 1 }", "{ $.a IS MAYBE }",
    '{ $.a > "text" }', '"unclosed', "%(%", "[a, ]", "[a = 1", "{ ((((((( $.a = 1 }",
    "{ " + "(" * 200 + "$.a = 1" + ")" * 200 + " }",
])
def test_malformed_patterns_are_refused_with_a_reason(pattern: str) -> None:
    with pytest.raises(PatternError, match="Invalid filter pattern"):
        compile_pattern(pattern)


def test_many_ellipses_over_a_long_message_stay_linear() -> None:
    matches = compile_pattern("[" + ", ".join(["..."] * 40) + ", last = z]")
    assert matches(" ".join(["a"] * 5000) + " z")
    assert not matches(" ".join(["a"] * 5000))
