"""``lambdalab demo`` ends with what its two invokes would cost on AWS, and at 1,769 MB."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from lambdalab.cli import app as cli
from lambdalab import limits
from lambdalab.cli.demo import Cost
from lambdalab.pricing import price_per_gb_second


def test_a_gb_second_and_a_request_cost_what_aws_publishes() -> None:
    cost = Cost(requests=2, billed_ms=1000, memory_mb=1024)  # 1 GB for 1 s: 1 GB-second
    assert cost.gb_seconds == 1
    assert cost.duration_usd == pytest.approx(0.0000166667)
    assert cost.requests_usd == pytest.approx(2 * 0.20 / 1_000_000)
    assert cost.total_usd == pytest.approx(0.0000166667 + 0.0000004)
    arm = Cost(requests=1, billed_ms=500, memory_mb=2048, architecture="arm64")
    assert arm.duration_usd == pytest.approx(0.0000133334)
    assert price_per_gb_second("x86_64") == limits.PRICE_PER_GB_SECOND_USD


def test_the_same_invokes_at_one_vcpu_cost_more_memory() -> None:
    cost = Cost(requests=2, billed_ms=20, memory_mb=128)
    at_one_vcpu = cost.at(limits.MEMORY_MB_PER_VCPU)
    assert at_one_vcpu.gb_seconds == pytest.approx(cost.gb_seconds * 1769 / 128)
    assert at_one_vcpu.requests_usd == cost.requests_usd


def test_the_demo_ends_with_the_cost_and_its_source(tmp_path) -> None:
    result = CliRunner().invoke(cli.main, ["--data-dir", str(tmp_path / "d"), "demo"],
                                terminal_width=200)
    assert result.exit_code == 0, result.output
    out = result.stdout
    cost = out.index("What these 2 invokes would cost on AWS Lambda (x86_64, us-east-1)")
    assert cost > out.index("Next")  # the last section
    assert "at 128 MB (this function)" in out and "at 1,769 MB (one vCPU)" in out
    assert "$0.20 per 1M requests" in out and "$0.0000166667 per GB-second" in out
    assert limits.PRICING_URL in out.replace("\n", "")


def test_the_demo_and_the_cost_plugin_price_alike() -> None:
    """One arithmetic (lambdalab.pricing): the demo's figures are the cost plugin's."""
    from lambdalab_cost.pricing import Usage

    demo = Cost(requests=3, billed_ms=1234, memory_mb=1769, architecture="arm64")
    plugin = Usage(requests=3, gb_seconds={"arm64": demo.gb_seconds}).cost(free_tier=False)
    assert demo.requests_usd == plugin.requests_usd
    assert demo.duration_usd == plugin.duration_usd
    assert demo.total_usd == plugin.total_usd
