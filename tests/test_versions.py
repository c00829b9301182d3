"""Versions are immutable snapshots; aliases point at them, optionally weighted."""

from __future__ import annotations

import doctest

import pytest

import lambdalab.clock
from lambdalab import (
    InvalidParameterValueException,
    ResourceConflictException,
    ResourceNotFoundException,
)
from lambdalab.arn import parse_function_ref


def returns(value: str) -> str:
    return f"def handler(event, context):\n    return {value!r}\n"


@pytest.fixture
def two_versions(lab, code):
    lab.create_function("f", code(app=returns("one")), handler="app.handler")
    assert lab.publish_version("f").version == "1"
    lab.update_function_code("f", code(app=returns("two")))
    assert lab.publish_version("f").version == "2"
    lab.update_function_code("f", code(app=returns("latest")))
    return "f"


def test_versions_are_immutable_snapshots(lab, two_versions):
    assert lab.invoke("f", qualifier="1").json() == "one"
    assert lab.invoke("f", qualifier="2").json() == "two"
    assert lab.invoke("f").json() == "latest"
    assert lab.invoke("f", qualifier="1").executed_version == "1"
    v1 = lab.get_function_configuration("f", qualifier="1")
    assert v1.version == "1"
    assert v1.function_arn.endswith(":function:f:1")
    lab.update_function_configuration("f", memory_size=1024)
    assert lab.get_function_configuration("f", qualifier="1").memory_size == 128
    versions = [v.version for v in lab.list_versions_by_function("f")]
    assert versions == ["$LATEST", "1", "2"]


def test_publishing_unchanged_latest_returns_existing_version(lab, code):
    lab.create_function("f", code(app=returns("x")), handler="app.handler")
    first = lab.publish_version("f")
    again = lab.publish_version("f")
    assert again.version == first.version == "1"
    assert again.code_sha256 == first.code_sha256
    lab.update_function_configuration("f", timeout=10)
    assert lab.publish_version("f").version == "2"


def test_create_with_publish(lab, code):
    config = lab.create_function("f", code(app=returns("x")), handler="app.handler", publish=True)
    assert config.version == "1"


def test_qualified_arn_and_partial_arn_invoke(lab, two_versions):
    arn = "arn:aws:lambda:us-east-1:000000000000:function:f:1"
    assert lab.invoke(arn).json() == "one"
    assert lab.invoke("000000000000:function:f").json() == "latest"
    assert lab.invoke("f:2").json() == "two"
    with pytest.raises(InvalidParameterValueException, match="does not match"):
        lab.invoke("f:2", qualifier="1")
    assert parse_function_ref("f:live").qualifier == "live"
    with pytest.raises(InvalidParameterValueException, match="FunctionName"):
        lab.invoke("not a name")


def test_alias_points_at_version_and_moves(lab, two_versions):
    alias = lab.create_alias("f", "live", "1", description="production")
    assert alias.alias_arn == "arn:aws:lambda:us-east-1:000000000000:function:f:live"
    result = lab.invoke("f", qualifier="live")
    assert (result.json(), result.executed_version) == ("one", "1")
    lab.update_alias("f", "live", function_version="2")
    assert lab.invoke("f", qualifier="live").json() == "two"
    assert [a.name for a in lab.list_aliases("f")] == ["live"]
    assert lab.get_function_configuration("f", qualifier="live").version == "2"
    lab.delete_alias("f", "live")
    with pytest.raises(ResourceNotFoundException, match="Alias not found"):
        lab.get_alias("f", "live")


def test_weighted_alias_routes_by_weight(lab, two_versions):
    lab.create_alias("f", "canary", "1", routing_config={"AdditionalVersionWeights": {"2": 0.25}})
    counts = {"1": 0, "2": 0}
    for _ in range(400):
        counts[lab.invoke("f", qualifier="canary").executed_version] += 1
    # binomial(400, 0.25): mean 100, sd ~8.7; +-5 sd
    assert 55 <= counts["2"] <= 145, counts
    alias = lab.get_alias("f", "canary").to_aws()
    assert alias["RoutingConfig"] == {"AdditionalVersionWeights": {"2": 0.25}}
    lab.update_alias("f", "canary", routing_config={})
    assert all(lab.invoke("f", qualifier="canary").executed_version == "1" for _ in range(20))


@pytest.mark.parametrize(
    "version, weights, message",
    [
        ("9", None, "function:f:9"),
        ("1", {"2": 1.5}, "0.0 to 1.0"),
        ("1", {"1": 0.5}, "already the alias's primary"),
        ("1", {"$LATEST": 0.5}, "not a published version"),
        ("$LATEST", {"2": 0.5}, "not \\$LATEST"),
        ("1", {"2": 0.1, "3": 0.1}, "at most one"),
    ],
)
def test_bad_aliases(lab, two_versions, version, weights, message):
    routing = {"AdditionalVersionWeights": weights} if weights else None
    with pytest.raises((InvalidParameterValueException, ResourceNotFoundException), match=message):
        lab.create_alias("f", "a", version, routing_config=routing)
    assert lab.list_aliases("f") == []


def test_alias_name_rules_and_conflicts(lab, two_versions):
    with pytest.raises(InvalidParameterValueException, match="alias name"):
        lab.create_alias("f", "123", "1")
    lab.create_alias("f", "live", "1")
    with pytest.raises(ResourceConflictException, match="Alias already exists"):
        lab.create_alias("f", "live", "2")


def test_version_in_use_by_alias_cannot_be_deleted(lab, two_versions):
    lab.create_alias("f", "live", "1", routing_config={"AdditionalVersionWeights": {"2": 0.5}})
    for version in ("1", "2"):
        with pytest.raises(ResourceConflictException, match="live"):
            lab.delete_function("f", qualifier=version)
    lab.update_alias("f", "live", routing_config={})
    lab.delete_function("f", qualifier="2")
    assert [v.version for v in lab.list_versions_by_function("f")] == ["$LATEST", "1"]
    with pytest.raises(InvalidParameterValueException, match="LATEST"):
        lab.delete_function("f", qualifier="$LATEST")


def test_versions_keep_separate_warm_environments(lab, two_versions):
    lab.invoke("f", qualifier="1")
    lab.invoke("f", qualifier="2")
    lab.invoke("f", qualifier="1")
    versions = sorted(p.version for p in lab.pool.idle_environments())
    assert versions == ["1", "2"]


def test_clock_docstring_examples_run():
    assert doctest.testmod(lambdalab.clock).failed == 0
