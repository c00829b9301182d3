"""Lab 12 (your own trigger plugin): what a learner sees half-way, through the real runner."""

from __future__ import annotations

from pathlib import Path

import pytest

from lambdalab.course import runner as labs

LAB = labs.load_course().lab(12)
SOLUTION = (Path(__file__).parent / "labs" / "solutions" / LAB.folder / "heartbeat.py").read_text()
NEXT_BEAT = "    lab.clock.call_later(BEAT_S, lambda: beat(lab, number + 1))\n"
OPTED_IN = 'if function.environment.get(OPT_IN) == "on":'


def check(tmp_path: Path, source: str) -> labs.CheckResult:
    (tmp_path / "heartbeat.py").write_text(source)
    return labs.run_check(LAB, tmp_path)


@pytest.mark.parametrize(
    ("edit", "got", "try_next"),
    [
        ((NEXT_BEAT, ""), '[{"source": "heartbeat", "beat": 1}]', "schedule the next one"),
        ((OPTED_IN, "if True:"), '1 invoke (its HEARTBEAT is "off")', 'environment.get("HEARTBEAT")'),
        (("lab.clock.call_later(BEAT_S, lambda: beat(lab, 1))", "beat(lab, 1)"),
         '[{"source": "heartbeat", "beat": 2}]', "number the beats from 1"),
    ],
    ids=["no-next-beat", "ignores-opt-in", "first-beat-at-once"],
)
def test_a_half_done_trigger_is_told_what_to_fix(tmp_path: Path, edit: tuple[str, str], got: str, try_next: str) -> None:
    assert edit[0] in SOLUTION
    result = check(tmp_path, SOLUTION.replace(*edit))
    assert not result.passed
    assert result.got == got
    assert try_next in result.try_next


def test_a_wrongly_named_hook_parameter_is_explained(tmp_path: Path) -> None:
    source = SOLUTION.replace("def lambdalab_lab_started(lab):", "def lambdalab_lab_started(the_lab):")
    result = check(tmp_path, source.replace("beat(lab, 1))", "beat(the_lab, 1))"))
    assert not result.passed
    assert result.got.startswith("PluginValidationError") and "the_lab" in result.got
    assert "def lambdalab_lab_started(lab):" in result.try_next


def test_an_error_in_the_timer_names_the_learners_line(tmp_path: Path) -> None:
    result = check(tmp_path, SOLUTION.replace("    for function in", "    1 / 0\n    for function in"))
    assert not result.passed
    assert result.summary.startswith("Your timer code, at 60 s of the lab's clock, raised ZeroDivisionError")
    assert "heartbeat.py, line" in result.got and "1 / 0" in result.got
