"""The cost plugin: every execution priced as AWS bills it, per function, version, alias
and time range on the lab's clock, and a month projected at each memory size.

Figures are computed by hand from AWS's published prices (us-east-1,
https://aws.amazon.com/lambda/pricing/): $0.20 per 1M requests, $0.0000166667 per
GB-second (x86_64, first tier), $0.0000000309 per GB-second of ephemeral storage past
512 MB, a free tier of 1M requests and 400,000 GB-seconds a month.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from lambdalab import InvokeReport, Lab, cli, limits
from lambdalab.clock import VirtualClock
from lambdalab.errors import InvalidParameterValueException
from lambdalab_cost import CostLedger, Window, costs
from lambdalab.pricing import duration_usd
from lambdalab_cost.pricing import Usage

from .edge_support import client, create, edge  # noqa: F401  (fixtures)

REQUEST = 0.20 / 1_000_000
X86 = 0.0000166667
ARM = 0.0000133334
STORAGE = 0.0000000309

APP = """
def handler(event, context):
    return sum(i * i for i in range(20_000))
"""


def report(lab: Lab, name: str, *, memory: int, duration: float, version: str = "$LATEST",
           qualifier: str | None = None, init: float | None = None,
           ephemeral: int = 512, arch: str = "x86_64") -> None:
    """One execution's REPORT, through the hook every execution goes through."""
    arn = lab.arns.function(name, qualifier)
    lab.plugin_manager.hook.lambdalab_invoke_completed(report=InvokeReport(
        request_id=f"r-{duration}-{memory}", function_name=name, version=version,
        duration_ms=duration, memory_size=memory, max_memory_used_mb=50,
        init_duration_ms=init, architecture=arch, ephemeral_storage_mb=ephemeral,
        invoked_arn=arn,
    ))


# -- one execution ------------------------------------------------------------------------


def test_a_gb_second_a_request_and_extra_storage_cost_what_aws_publishes(lab: Lab) -> None:
    report(lab, "f", memory=1024, duration=999.2)  # billed 1,000 ms at 1 GB: 1 GB-second
    report(lab, "g", memory=2048, duration=500.0, ephemeral=2048)  # 1 GB-s; 0.75 GB-s of /tmp
    f, g = costs(lab).invokes()
    assert (f.billed_ms, f.usage.total_gb_seconds) == (1000, 1)
    assert f.cost.requests_usd == pytest.approx(REQUEST)
    assert f.cost.duration_usd == pytest.approx(X86)
    assert f.cost.storage_usd == 0
    assert g.usage.storage_gb_seconds == pytest.approx(1.5 * 0.5)
    assert g.cost.storage_usd == pytest.approx(0.75 * STORAGE)
    assert g.cost.total_usd == pytest.approx(REQUEST + X86 + 0.75 * STORAGE)


def test_a_cold_start_bills_its_init_and_arm64_its_own_price(lab: Lab) -> None:
    report(lab, "f", memory=512, duration=100.0, init=250.4, arch="arm64")
    (cold,) = costs(lab).invokes()
    assert cold.billed_ms == 351  # 100 + 250.4, rounded up to the next 1 ms
    assert cold.cost.duration_usd == pytest.approx(0.5 * 0.351 * ARM)


def test_duration_price_falls_in_tiers_of_the_months_gb_seconds() -> None:
    assert duration_usd(7e9, "x86_64") == pytest.approx(6e9 * X86 + 1e9 * 0.000015)
    assert duration_usd(20e9, "arm64") == pytest.approx(
        7.5e9 * ARM + 11.25e9 * 0.0000120001 + 1.25e9 * 0.0000106667)
    # the month already has 14e9: 1e9 more at 0.000015, 1e9 at the last tier
    assert duration_usd(2e9, "x86_64", already=14e9) == pytest.approx(
        1e9 * 0.000015 + 1e9 * 0.0000133334)


def test_the_free_tier_is_shown_apart_and_covers_both_architectures() -> None:
    usage = Usage(requests=2_000_000, gb_seconds={"x86_64": 300_000.0, "arm64": 200_000.0})
    cost = usage.cost()
    assert cost.total_usd == pytest.approx(2 * 0.20 + 300_000 * X86 + 200_000 * ARM)
    # 1M requests free; 400,000 GB-seconds: x86_64's 300,000 (the dearer) and 100,000 arm64
    assert cost.free_tier_usd == pytest.approx(0.20 + 300_000 * X86 + 100_000 * ARM)
    assert cost.after_free_tier_usd == pytest.approx(0.20 + 100_000 * ARM)
    assert Usage(requests=10).cost().after_free_tier_usd == 0


# -- per function, version, alias and time ----------------------------------------------


def billed_from_log(lab: Lab, name: str) -> list[tuple[int, int]]:
    """(Billed Duration, Memory Size) of every REPORT line in the function's log."""
    found = []
    for event in lab.get_logs(name):
        match = re.search(r"Billed Duration: (\d+) ms\tMemory Size: (\d+) MB", event.message)
        if match:
            found.append((int(match[1]), int(match[2])))
    return found


def test_real_invokes_cost_what_their_report_lines_say(lab: Lab, code, clock) -> None:
    lab.create_function("crunch", code(app=APP), handler="app.handler", publish=True)
    lab.create_alias("crunch", "live", "1")
    lab.invoke("crunch")
    lab.invoke("crunch", qualifier="live")
    lab.invoke("crunch", qualifier="live")
    clock.advance(3600)
    lab.update_function_configuration("crunch", memory_size=1024)
    lab.invoke("crunch")
    by_hand = sum(REQUEST + m / 1024 * b / 1000 * X86 for b, m in billed_from_log(lab, "crunch"))
    ledger = costs(lab)
    assert ledger.total(Window("crunch")).cost.total_usd == pytest.approx(by_hand)
    lines = {(line.version, line.alias): line for line in ledger.lines(Window("crunch"))}
    assert sorted(lines, key=str) == [("$LATEST", None), ("1", "live")]
    assert lines["1", "live"].usage.requests == 2
    assert [i.memory_mb for i in ledger.invokes(Window(alias="live"))] == [128, 128]
    later = ledger.invokes(Window("crunch", start=clock.now()))
    assert [(i.memory_mb, i.version) for i in later] == [(1024, "$LATEST")]
    earlier = ledger.total(Window("crunch", end=clock.now()))
    assert earlier.usage.requests == 3


def test_the_ledger_survives_a_restart(tmp_path: Path) -> None:
    with Lab(data_dir=tmp_path / "d", clock=VirtualClock(start=1_700_000_000)) as lab:
        report(lab, "f", memory=1024, duration=1000.0)
    with Lab(data_dir=tmp_path / "d", clock=VirtualClock(start=1_700_000_000)) as lab:
        report(lab, "f", memory=1024, duration=1000.0)
        assert costs(lab).total().cost.duration_usd == pytest.approx(2 * X86)


def test_each_lab_records_only_its_own_invokes(tmp_path: Path) -> None:
    with Lab(data_dir=tmp_path / "a") as a, Lab(data_dir=tmp_path / "b") as b:
        report(a, "f", memory=128, duration=10.0)
        assert len(costs(a).invokes()) == 1
        assert costs(b).invokes() == []


def test_a_failed_init_is_billed_too(lab: Lab, code) -> None:
    lab.create_function("broken", code(app="raise RuntimeError('no config')\n"),
                        handler="app.handler")
    assert lab.invoke("broken").function_error == "Unhandled"
    (failed,) = costs(lab).invokes(Window("broken"))
    assert failed.init_ms is not None and failed.duration_ms == 0
    assert [(failed.billed_ms, 128)] == billed_from_log(lab, "broken")


def test_the_ledger_keeps_the_newest_rows_up_to_its_bound(lab: Lab) -> None:
    ledger = CostLedger(lab.store, lab.clock.now, rows_max=3)
    try:
        for duration in (1.0, 2.0, 3.0, 4.0, 5.0):
            ledger.record(InvokeReport(f"r{duration}", "f", "$LATEST", duration, 128, 10))
        assert [i.billed_ms for i in ledger.invokes()] == [3, 4, 5]
    finally:
        ledger.close()


def test_a_batch_of_many_rows_is_written_whole_in_order_with_each_rows_alias(lab: Lab) -> None:
    """Rows are inserted many to a statement: every row of a batch past a statement's
    edge lands, in order, with the alias its ARN names."""
    ledger = CostLedger(lab.store, lab.clock.now)
    arn = "arn:aws:lambda:us-east-1:000000000000:function:f"
    try:
        for n in range(150):  # two statements of 64 rows and one of 22
            qualifier = ("", ":live", ":3")[n % 3]
            ledger.record(InvokeReport(f"r{n}", "f", "$LATEST", float(n + 1), 128, 10,
                                       invoked_arn=arn + qualifier))
        rows = ledger.invokes()
        assert [(r.request_id, r.billed_ms) for r in rows] == [(f"r{n}", n + 1) for n in range(150)]
        assert [r.alias for r in rows[:3]] == [None, "live", None]
    finally:
        ledger.close()


def test_a_ledger_that_cannot_write_never_fails_an_invoke(tmp_path: Path, code, caplog) -> None:
    lab = Lab(data_dir=tmp_path / "d")
    lab.create_function("f", code(app=APP), handler="app.handler")
    with lab.store.transaction() as db:
        db.execute("DROP TABLE cost_rows")  # as a full disk or a damaged file would
    assert lab.invoke("f").function_error is None
    lab.close()
    assert "could not record invoke costs" in caplog.text


# -- a month, projected ------------------------------------------------------------------


def measured_at_two_sizes(lab: Lab) -> None:
    """A CPU-bound function: 800 ms at 128 MB, 90 ms at 1,024 MB (cold starts apart)."""
    report(lab, "f", memory=128, duration=800.0, init=300.0)
    report(lab, "f", memory=128, duration=800.0)
    report(lab, "f", memory=128, duration=800.0)
    report(lab, "f", memory=1024, duration=90.0, init=40.0)
    report(lab, "f", memory=1024, duration=90.0)


def test_a_month_costs_less_at_more_memory_when_it_runs_that_much_faster(lab: Lab) -> None:
    measured_at_two_sizes(lab)
    small, large = costs(lab).projection("f", 10_000_000)
    assert (small.measured.memory_mb, small.measured.cold_starts) == (128, 1)
    assert small.measured.average_billed_ms == 800  # the warm invokes: INIT is rare in a month
    # 10M x 0.125 GB x 0.8 s = 1,000,000 GB-s; 10M x 1 GB x 0.09 s = 900,000 GB-s
    assert small.usage.total_gb_seconds == pytest.approx(1_000_000)
    assert small.cost.total_usd == pytest.approx(10 * 0.20 + 1_000_000 * X86)
    assert large.cost.total_usd == pytest.approx(10 * 0.20 + 900_000 * X86)
    assert large.cost.after_free_tier_usd == pytest.approx(9 * 0.20 + 500_000 * X86)
    assert large.cost.total_usd < small.cost.total_usd


def test_a_size_it_never_ran_at_has_no_projection(lab: Lab) -> None:
    measured_at_two_sizes(lab)
    assert [p.measured.memory_mb for p in costs(lab).projection("f", 1, memory_mb=1024)] == [1024]
    with pytest.raises(InvalidParameterValueException, match="measured at: 128, 1024 MB"):
        costs(lab).projection("f", 1_000_000, memory_mb=512)
    for wrong in (-1, 2.5, "1000", True):
        with pytest.raises(InvalidParameterValueException, match="not a whole number"):
            costs(lab).projection("f", wrong)  # type: ignore[arg-type]


# -- the command line -----------------------------------------------------------------------


def run(data_dir: Path, *args: str):
    result = CliRunner().invoke(cli.main, ["--data-dir", str(data_dir), "cost", *args],
                                terminal_width=250)
    return result


def test_lambdalab_cost_shows_totals_and_the_month_at_each_size(tmp_path: Path) -> None:
    with Lab(data_dir=tmp_path / "d") as lab:
        measured_at_two_sizes(lab)
    result = run(tmp_path / "d", "f", "--invokes", "10000000")
    assert result.exit_code == 0, result.output
    out = result.output
    assert "What these invokes would cost on AWS Lambda" in out
    assert "f at 10,000,000 invokes a month" in out
    row_1024 = next(line for line in out.splitlines() if "1,024 MB" in line)
    assert f"${10 * 0.20 + 900_000 * X86:,.2f}" in row_1024 and "cheapest" in row_1024
    assert limits.PRICING_URL in out.replace("\n", "") and limits.PRICES_AS_OF in out


def test_lambdalab_cost_says_what_to_do_when_it_cannot_answer(tmp_path: Path) -> None:
    empty = run(tmp_path / "e")
    assert empty.exit_code == 0 and "No invokes recorded here yet" in empty.output
    with Lab(data_dir=tmp_path / "d") as lab:
        measured_at_two_sizes(lab)
    unmeasured = run(tmp_path / "d", "f", "--memory", "512")
    assert unmeasured.exit_code == 1 and "Set its memory to 512 MB" in unmeasured.output
    bad = run(tmp_path / "d", "--since", "yesterday")
    assert bad.exit_code == 2 and "e.g. 15m" in bad.output
    assert run(tmp_path / "d", "--since", "1h").exit_code == 0


# -- through the HTTP edge, with boto3 ---------------------------------------------------


def test_boto3_invokes_through_an_alias_and_asynchronously_are_priced(client, lab: Lab) -> None:
    create(client, "shop", MemorySize=2048, EphemeralStorage={"Size": 1536})
    client.publish_version(FunctionName="shop")
    client.create_alias(FunctionName="shop", Name="live", FunctionVersion="1")
    client.invoke(FunctionName="shop", Qualifier="live", Payload=b"{}")
    client.invoke(FunctionName=lab.arns.function("shop", "live"), Payload=b"{}")
    client.invoke(FunctionName="shop:1", Payload=b"{}")
    assert client.invoke(FunctionName="shop", InvocationType="Event")["StatusCode"] == 202
    assert lab.wait_for_events(timeout=60)
    lines = {(line.version, line.alias): line.usage for line in costs(lab).lines(Window("shop"))}
    assert {key: usage.requests for key, usage in lines.items()} == {
        ("1", "live"): 2, ("1", None): 1, ("$LATEST", None): 1}
    billed = sum(b for b, _ in billed_from_log(lab, "shop"))
    total = costs(lab).total(Window("shop"))
    assert total.usage.total_gb_seconds == pytest.approx(2 * billed / 1000)
    assert total.cost.storage_usd == pytest.approx(1 * billed / 1000 * STORAGE)  # 1 GB extra
    assert total.cost.total_usd == pytest.approx(
        4 * REQUEST + 2 * billed / 1000 * X86 + billed / 1000 * STORAGE)


def test_lambdalab_cost_narrows_to_an_alias_a_version_and_a_time_range(tmp_path: Path) -> None:
    clock = VirtualClock(start=1_700_000_000)  # 2023-11-14T22:13:20Z
    with Lab(data_dir=tmp_path / "d", clock=clock) as lab:
        report(lab, "f", memory=128, duration=10.0, version="1", qualifier="live")
        clock.advance(3600)
        report(lab, "f", memory=128, duration=10.0, version="2", qualifier="2")

    def rows(*args: str) -> list[str]:
        result = run(tmp_path / "d", *args)
        assert result.exit_code == 0, result.output
        return [line for line in result.output.splitlines() if line.startswith("│ f ")]
    assert len(rows()) == 2
    assert len(rows("--alias", "live")) == 1 and "live" in rows("--alias", "live")[0]
    assert len(rows("--version", "2")) == 1
    assert len(rows("--start", "2023-11-14T22:30:00Z")) == 1
    assert len(rows("--end", "2023-11-14T22:30:00")) == 1
    assert rows("--start", "2030-01-01T00:00:00Z") == []
    bad = run(tmp_path / "d", "--start", "noon")
    assert bad.exit_code == 2 and "ISO 8601" in bad.output


def test_a_ledger_written_a_row_of_eleven_columns_an_invoke_reads_the_same(tmp_path: Path) -> None:
    """Migration ``cost-2`` moves what a configuration shares to ``cost_configs``: a data
    dir written before it answers every read as it did, in the same order."""
    from lambdalab.store import MIGRATIONS, Database
    from lambdalab_cost.models import MIGRATIONS as COST

    old = Database(tmp_path / "lambdalab.db", {**MIGRATIONS, "cost-1": COST["cost-1"]})
    rows = [("r1", "f", "$LATEST", None, 10.0, "x86_64", 128, 512, 5.5, 6, 100.0),
            ("r2", "f", "1", "live", 11.0, "arm64", 256, 1024, 2.0, 2, None),
            ("r3", "g", "$LATEST", None, 11.0, "x86_64", 128, 512, 1.0, 1, None),
            ("r0", "f", "$LATEST", None, 9.0, "x86_64", 128, 512, 3.0, 3, None)]
    with old.transaction() as db:
        db.executemany("INSERT INTO cost_invokes VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    old.close()
    with Lab(tmp_path, clock=VirtualClock(start=20.0)) as lab:
        ledger = costs(lab)
        assert [tuple(vars(i).values()) for i in ledger.invokes()] == [rows[3], rows[0], rows[1], rows[2]]
        assert [(i.request_id, i.alias) for i in ledger.invokes(Window(alias="live"))] == [("r2", "live")]
        assert {m.memory_mb: m.invokes for m in ledger.measured("f")} == {128: 2, 256: 1}
        ledger.record(InvokeReport("r4", "f", "$LATEST", 7.0, 128, 10, invoked_arn=(
            "arn:aws:lambda:us-east-1:000000000000:function:f")))
        assert ledger.invokes()[-1].request_id == "r4"
        assert len(lab.store.query("SELECT * FROM cost_configs")) == 3  # r4's was there
