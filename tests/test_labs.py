"""The course self-check (run in CI) and the lab runner's tests.

For every lab of ``labs/labs.toml``: the hints are there and not empty, the starter has a
TODO, the check fails on the starter and passes on the reference solution in
``tests/labs/solutions/`` — through the real runner and a real :class:`lambdalab.Lab`.
Then the learner's commands, driven through click's CliRunner.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from lambdalab.course import runner as labs
from lambdalab.cli.course import lab_group
from lambdalab.course.runner import CheckFailed, CheckResult, Progress

SOLUTIONS = Path(__file__).parent / "labs" / "solutions"
sys.path.insert(0, str(Path(__file__).parent / "labs"))
from mistakes import MISTAKES, Mistake  # noqa: E402
COURSE = labs.load_course()
LAB_IDS = [lab.folder for lab in COURSE.labs]


def solution_dir(lab: labs.LabInfo) -> Path:
    return SOLUTIONS / lab.folder


def no_traceback(text: str) -> None:
    assert "Traceback" not in text
    assert 'File "' not in text or "stackTrace" in text


# -- the course ---------------------------------------------------------------------


def test_manifest_lists_the_labs_in_order() -> None:
    assert COURSE.format_version == labs.MANIFEST_FORMAT_VERSION
    assert [lab.number for lab in COURSE.labs] == list(range(1, len(COURSE.labs) + 1))
    assert COURSE.welcome and COURSE.final_message
    assert len({lab.folder for lab in COURSE.labs}) == len(COURSE.labs)


@pytest.mark.parametrize("lab", COURSE.labs, ids=LAB_IDS)
def test_lab_is_complete(lab: labs.LabInfo) -> None:
    assert lab.folder.startswith(f"{lab.number:02d}-")
    assert lab.concept.strip()
    assert lab.readme_path.is_file() and "## The exercise" in lab.readme()
    assert lab.check_path.is_file()
    assert solution_dir(lab).is_dir(), f"no reference solution for {lab.folder}"
    assert len(lab.hints) >= 2, "hints go from gentle to explicit: give at least two"
    for hint in lab.hints:
        assert hint.strip(), f"{lab.folder} has an empty hint"


@pytest.mark.parametrize("lab", COURSE.labs, ids=LAB_IDS)
def test_starter_has_a_todo(lab: labs.LabInfo) -> None:
    sources = [p.read_text() for p in lab.starter_dir.rglob("*.py")]
    assert sources, f"{lab.folder}/starter has no Python file"
    assert any("TODO" in text for text in sources)


@pytest.mark.parametrize("lab", COURSE.labs, ids=LAB_IDS)
def test_check_fails_on_the_starter(lab: labs.LabInfo, tmp_path: Path) -> None:
    work = tmp_path / lab.folder
    shutil.copytree(lab.starter_dir, work)
    result = labs.run_check(lab, work)
    assert not result.passed, f"the starter of {lab.folder} already passes"
    assert result.summary and result.expected and result.got and result.try_next
    no_traceback(result.got + result.try_next)


@pytest.mark.parametrize("lab", COURSE.labs, ids=LAB_IDS)
def test_the_starters_failure_does_not_give_the_answer_away(lab: labs.LabInfo, tmp_path: Path) -> None:
    work = tmp_path / lab.folder
    shutil.copytree(lab.starter_dir, work)
    result = labs.run_check(lab, work)
    assert lab.hints[-1] not in result.try_next  # the last hint is the whole answer


def test_lab_two_first_failure_points_the_way_without_the_value(tmp_path: Path) -> None:
    lab = COURSE.lab(2)
    work = tmp_path / lab.folder
    shutil.copytree(lab.starter_dir, work)
    result = labs.run_check(lab, work)
    assert "default" in result.try_next and "event invoke configuration" in result.try_next
    assert "maximum_retry_attempts=1" not in result.try_next
    assert "Destination" not in result.try_next
    assert result.got == "3 attempts in 3 minutes (2 after 1 minute)", result.got


def test_lab_two_counts_one_attempt_in_words(tmp_path: Path) -> None:
    mistake = next(m for m in MISTAKES if m.id == "lab02-no-retry")
    lab, work = write_mistake(tmp_path, mistake)
    result = labs.run_check(lab, work)
    assert result.got == "1 attempt in 3 minutes (1 after 1 minute)", result.got


@pytest.mark.parametrize("lab", COURSE.labs, ids=LAB_IDS)
def test_check_passes_on_the_solution(lab: labs.LabInfo, tmp_path: Path) -> None:
    work = tmp_path / lab.folder
    shutil.copytree(solution_dir(lab), work)
    result = labs.run_check(lab, work)
    assert result.passed, f"{result.summary}\nexpected: {result.expected}\ngot: {result.got}"
    assert result.details
    assert not list(work.rglob("__pycache__")), "the check must not litter the learner's folder"


# -- plausible wrong solutions fail, naming the misconception -------------------------


def write_mistake(tmp_path: Path, mistake: Mistake) -> tuple[labs.LabInfo, Path]:
    lab = COURSE.lab(mistake.lab)
    work = tmp_path / lab.folder
    shutil.copytree(solution_dir(lab), work)
    path = work / mistake.file
    path.write_text(mistake.apply(path.read_text()))
    return lab, work


def test_every_lab_keeps_three_wrong_solutions() -> None:
    for lab in COURSE.labs:
        assert sum(m.lab == lab.number for m in MISTAKES) >= 3, lab.folder
    assert len({m.id for m in MISTAKES}) == len(MISTAKES)


@pytest.mark.parametrize("mistake", MISTAKES, ids=[m.id for m in MISTAKES])
def test_a_wrong_solution_fails_naming_the_mistake(mistake: Mistake, tmp_path: Path) -> None:
    lab, work = write_mistake(tmp_path, mistake)
    result = labs.run_check(lab, work)
    assert not result.passed, f"{mistake.id} passes its check"
    said = " | ".join((result.summary, result.got, result.try_next))
    assert mistake.says.lower() in said.lower(), said
    no_traceback(result.got + result.try_next)


# -- what a learner sees half-way ----------------------------------------------------


def write_variant(tmp_path: Path, lab_number: int, filename: str, edit) -> tuple[labs.LabInfo, Path]:
    lab = COURSE.lab(lab_number)
    work = tmp_path / lab.folder
    shutil.copytree(solution_dir(lab), work)
    path = work / filename
    path.write_text(edit(path.read_text()))
    return lab, work


def test_a_handler_exception_shows_the_functions_error(tmp_path: Path) -> None:
    lab, work = write_variant(
        tmp_path, 1, "app.py", lambda s: s.replace('greeting = f"', 'greeting = event["nom"] + f"')
    )
    result = labs.run_check(lab, work)
    assert not result.passed
    assert result.got.startswith("KeyError: ")
    assert "'nom'" in result.got
    assert "line" in result.output  # the function's log carries the stack trace


def test_an_import_error_names_the_runtime_error(tmp_path: Path) -> None:
    lab, work = write_variant(tmp_path, 1, "app.py", lambda s: "import no_such_module\n" + s)
    result = labs.run_check(lab, work)
    assert not result.passed
    assert "Runtime.ImportModuleError" in result.got
    assert "imports cleanly" in result.try_next


def test_a_timeout_says_to_watch_the_remaining_time(tmp_path: Path) -> None:
    lab, work = write_variant(
        tmp_path,
        3,
        "app.py",
        lambda s: s.replace(
            "        if context.get_remaining_time_in_millis() < SAFETY_MARGIN_MS:\n"
            "            break\n",
            "",
        ),
    )
    result = labs.run_check(lab, work)
    assert not result.passed
    assert "Sandbox.Timedout" in result.got and "Task timed out after 1.00 seconds" in result.got
    assert "get_remaining_time_in_millis" in result.try_next


def test_a_throttled_call_explains_too_many_requests(tmp_path: Path) -> None:
    lab, work = write_variant(
        tmp_path,
        8,
        "deploy.py",
        lambda s: s[: s.index("    delay = FIRST_DELAY_S")] + "    return lab.invoke(name, payload)\n",
    )
    result = labs.run_check(lab, work)
    assert not result.passed
    assert result.got.startswith("TooManyRequestsException: Rate Exceeded.")
    assert "ReservedFunctionConcurrentInvocationLimitExceeded" in result.got
    assert "deploy.py, line" in result.got
    assert "Catch TooManyRequestsException" in result.try_next


def test_a_deploy_script_error_names_the_learners_line(tmp_path: Path) -> None:
    lab, work = write_variant(
        tmp_path, 7, "deploy.py", lambda s: s.replace("    lab.update_alias(", "    lab.update_alias(name, ")
    )
    result = labs.run_check(lab, work)
    assert not result.passed
    assert result.got.startswith("TypeError: ") and "deploy.py, line" in result.got


def test_an_error_in_a_call_over_several_lines_does_not_show_it_closed(tmp_path: Path) -> None:
    mistake = next(m for m in MISTAKES if m.id == "lab07-publish-without-upload")
    lab, work = write_mistake(tmp_path, mistake)
    result = labs.run_check(lab, work)
    assert "lab.update_alias( …)" in result.got, result.got


def test_a_retry_without_waits_says_so_in_words(tmp_path: Path) -> None:
    mistake = next(m for m in MISTAKES if m.id == "lab08-no-wait")
    lab, work = write_mistake(tmp_path, mistake)
    result = labs.run_check(lab, work)
    assert result.got == "no wait at all", result.got


@pytest.mark.parametrize(
    ("lab_number", "renamed", "expected", "try_next"),
    [
        (2, "configure", "def configure(lab, name, audit_arn) as in the starter",
         "restore it from the starter and fill in its TODO"),
        (8, "call_with_retry", "def call_with_retry(...) as in the starter",
         "restore it from the starter and fill in its TODO"),
    ],
)
def test_a_missing_function_is_named_with_what_the_starter_has(
    tmp_path: Path, lab_number: int, renamed: str, expected: str, try_next: str
) -> None:
    lab, work = write_variant(
        tmp_path, lab_number, "deploy.py", lambda s: s.replace(f"def {renamed}(", "def other(")
    )
    result = labs.run_check(lab, work)
    assert (result.passed, result.summary, result.expected, result.got, result.try_next) == (
        False, f"deploy.py has no {renamed}() function.", expected,
        f"no function named {renamed}", try_next,
    )


def test_a_syntax_error_names_the_line(tmp_path: Path) -> None:
    lab, work = write_variant(tmp_path, 7, "deploy.py", lambda s: s + "\ndef broken(:\n")
    result = labs.run_check(lab, work)
    assert not result.passed
    assert result.got.startswith("SyntaxError: ") and "deploy.py, line" in result.got


def test_a_crashing_check_never_shows_a_traceback(tmp_path: Path) -> None:
    course_dir = tmp_path / "course"
    shutil.copytree(COURSE.root, course_dir)
    (course_dir / "01-first-handler" / "check.py").write_text(
        "def check(workdir):\n    return {}['boom']\n"
    )
    lab = labs.load_course(course_dir).lab(1)
    result = labs.run_check(lab, SOLUTIONS / lab.folder)
    assert not result.passed
    assert result.got == "KeyError: 'boom'" and "bug in the lab" in result.try_next


def test_checking_a_lab_not_started_says_how_to_start_it(tmp_path: Path) -> None:
    result = labs.run_check(COURSE.lab(3), tmp_path / "nowhere")
    assert not result.passed and "lambdalab lab start 3" in result.try_next


def test_checking_in_a_folder_without_the_labs_says_where_to_go_not_to_ask_a_hint(
    tmp_path: Path,
) -> None:
    code, out = run(tmp_path / "lambdalab-labs", "check", "2")
    assert code == 1
    assert "not done yet: it has not been started here." in out
    assert "lambdalab lab start 2" in out and "started it in another" in out
    assert "lab hint" not in out


# -- progress, hints and watching ----------------------------------------------------


def test_progress_survives_a_restart(tmp_path: Path) -> None:
    progress = Progress.load(tmp_path)
    assert progress.current_lab(COURSE).number == 1
    labs.start_lab(COURSE, progress, 1)
    labs.record_result(COURSE, progress, COURSE.lab(1), labs.passed("ok"))
    labs.next_hint(progress, COURSE.lab(2))

    again = Progress.load(tmp_path)
    assert again.done == {1} and again.hints_shown == {2: 1}
    assert again.current == 1  # the learner is still on lab 1 until they start lab 2
    assert again.current_lab(COURSE).number == 1
    assert [again.status(COURSE, lab) for lab in COURSE.labs[:3]] == ["done", "current", "todo"]


def test_hints_are_revealed_one_at_a_time_and_stop_at_the_last(tmp_path: Path) -> None:
    progress = Progress.load(tmp_path)
    lab = COURSE.lab(1)
    counts = [labs.next_hint(progress, lab)[0] for _ in range(len(lab.hints) + 2)]
    assert counts == list(range(1, len(lab.hints) + 1)) + [len(lab.hints)] * 2


def test_starting_again_keeps_the_learners_files_unless_reset(tmp_path: Path) -> None:
    progress = Progress.load(tmp_path)
    work = labs.start_lab(COURSE, progress, 1)
    (work / "app.py").write_text("# mine\n")
    labs.start_lab(COURSE, progress, 1)
    assert (work / "app.py").read_text() == "# mine\n"
    labs.start_lab(COURSE, progress, 1, reset=True)
    assert "TODO" in (work / "app.py").read_text()


def test_watch_rechecks_when_a_file_changes(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text("v1")
    outcomes = iter([False, True])
    calls = []

    def check_once() -> CheckResult:
        calls.append(time.monotonic())
        return CheckResult(passed=next(outcomes), summary="")

    def sleep(_: float) -> None:  # the learner saves a file while we wait
        if len(calls) == 1:
            time.sleep(0.01)
            (tmp_path / "app.py").write_text("v2")

    result = labs.watch(check_once, tmp_path, interval=0, max_polls=5, sleep=sleep)
    assert result.passed and len(calls) == 2


def test_watch_does_not_recheck_unchanged_files_and_stops_after_max_polls(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text("v1")
    calls = []
    result = labs.watch(
        lambda: calls.append(1) or CheckResult(passed=False, summary=""),
        tmp_path,
        interval=0,
        max_polls=3,
        sleep=lambda _: None,
    )
    assert not result.passed and len(calls) == 1


# -- the commands ------------------------------------------------------------------------


def run(work_root: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(lab_group, [*args, "--dir", str(work_root)], catch_exceptions=False)
    return result.exit_code, result.output


def test_the_learners_path_through_lab_one(tmp_path: Path) -> None:
    root = tmp_path / "lambdalab-labs"
    code, out = run(root, "list")
    assert code == 0 and "Welcome" in out and "current" in out and "todo" in out
    assert f"0/{len(COURSE.labs)} labs done" in out

    started = time.monotonic()
    code, out = run(root, "start", "1")
    assert code == 0 and "Lab 1" in out and "The exercise" in out
    work = root / "01-first-handler"
    assert (work / "app.py").is_file()

    code, out = run(root, "check")
    assert code == 1
    assert "✗ Lab 1: first-handler is not done yet" in out
    for label in ("expected:", "got:", "try:"):
        assert label in out
    no_traceback(out)

    code, out = run(root, "hint")
    assert code == 0 and f"1 of {len(COURSE.lab(1).hints)}" in out
    code, out = run(root, "hint")
    assert f"2 of {len(COURSE.lab(1).hints)}" in out

    shutil.copy(SOLUTIONS / "01-first-handler" / "app.py", work / "app.py")
    code, out = run(root, "check")
    elapsed = time.monotonic() - started
    assert code == 0, out
    assert "✓ Lab 1: first-handler passed" in out
    assert "Next: lab 2" in out and "lambdalab lab start 2" in out
    # Reported, not asserted: how long it takes is the machine's load (no timed
    # assertions in tests/).
    print(f"\nlab start 1 -> passing lab check 1: {elapsed:.2f} s")

    progress = json.loads((root / ".progress.json").read_text())
    assert progress["done"] == [1] and progress["current"] == 1
    assert progress["hints_shown"] == {"1": 2}

    code, out = run(root, "list")
    assert "Welcome" not in out and f"1/{len(COURSE.labs)} labs done" in out and "done" in out
    assert "lambdalab lab start 2" in out

    code, out = run(root, "check")  # still on lab 1: it checks lab 1 again, not lab 2
    assert code == 0 and "✓ Lab 1: first-handler passed" in out, out


def test_check_by_number_and_an_unknown_lab(tmp_path: Path) -> None:
    code, out = run(tmp_path, "start", "4")  # cold and warm
    assert code == 0
    unknown = str(max(lab.number for lab in COURSE.labs) + 1)
    for command in ("hint", "check", "start"):
        code, out = run(tmp_path, command, unknown)
        assert code == 2 and f"There is no lab {unknown}" in out, (command, out)
    code, out = run(tmp_path, "check", "4")
    assert code == 1 and "Init Duration" in out
    no_traceback(out)


def test_check_watch_stops_after_its_polls(tmp_path: Path) -> None:
    run(tmp_path, "start", "1")
    code, out = run(tmp_path, "check", "--watch", "--interval", "0", "--max-polls", "2")
    assert code == 1 and "Watching" in out and out.count("Checking Lab 1") == 1


def test_start_again_tells_that_files_are_kept(tmp_path: Path) -> None:
    run(tmp_path, "start", "1")
    code, out = run(tmp_path, "start", "1")
    assert code == 0 and "already started" in out


def test_finishing_the_last_lab_shows_the_final_message(tmp_path: Path) -> None:
    progress = Progress.load(tmp_path)
    progress.done = {lab.number for lab in COURSE.labs[:-1]}
    progress.save()
    last = COURSE.labs[-1]
    shutil.copytree(solution_dir(last), tmp_path / last.folder)
    code, out = run(tmp_path, "check", str(last.number))
    assert code == 0 and f"{len(COURSE.labs)}/{len(COURSE.labs)} labs done" in out
    assert COURSE.final_message.splitlines()[0] in out


def test_check_failed_is_a_plain_exception() -> None:
    failure = CheckFailed("x", expected="a", got="b", try_next="c")
    assert failure.result() == CheckResult(False, "x", "a", "b", "c")


def test_check_on_a_finished_course_suggests_no_lab_already_done(tmp_path: Path) -> None:
    progress = Progress.load(tmp_path)
    progress.done = {lab.number for lab in COURSE.labs}
    progress.current = COURSE.labs[-1].number
    progress.save()
    shutil.copytree(solution_dir(COURSE.lab(4)), tmp_path / COURSE.lab(4).folder)
    code, out = run(tmp_path, "check", "4")
    assert code == 0, out
    assert "lambdalab lab start" not in out and COURSE.final_message.splitlines()[0] in out


def test_the_next_lab_skips_those_done(tmp_path: Path) -> None:
    progress = Progress.load(tmp_path)
    progress.done = {1, 2, 3}
    progress.save()
    shutil.copytree(solution_dir(COURSE.lab(1)), tmp_path / COURSE.lab(1).folder)
    code, out = run(tmp_path, "check", "1")
    assert code == 0 and "lambdalab lab start 4" in out and "start 2" not in out, out


def run_here(folder: Path, *args: str) -> tuple[int, str]:
    """A command run from ``folder``, without --dir, as a learner types it."""
    previous = Path.cwd()
    os.chdir(folder)
    try:
        result = CliRunner(env={"LAMBDALAB_LABS_HOME": None}).invoke(
            lab_group, list(args), catch_exceptions=False)
    finally:
        os.chdir(previous)
    return result.exit_code, result.output


def test_progress_is_found_from_a_labs_folder(tmp_path: Path) -> None:
    code, out = run_here(tmp_path, "start", "1")
    assert code == 0
    root = tmp_path / "lambdalab-labs"
    work = root / "01-first-handler"
    shutil.copy(SOLUTIONS / "01-first-handler" / "app.py", work / "app.py")
    (work / "sub").mkdir()
    for folder in (work, work / "sub", root):
        code, out = run_here(folder, "check")
        assert code == 0 and "✓ Lab 1: first-handler passed" in out, out
    code, out = run_here(work, "start", "2")
    assert code == 0
    assert (root / "02-async-and-retries").is_dir()
    assert not (work / "lambdalab-labs").exists() and not (root / "lambdalab-labs").exists()
    code, out = run_here(work, "check")  # in lab 1's folder: lab 1
    assert code == 0 and "Lab 1" in out
    code, out = run_here(root, "check")  # in the root: the current lab, 2
    assert code == 1 and "Lab 2" in out


def test_find_work_root_walks_up(tmp_path: Path) -> None:
    assert labs.find_work_root(tmp_path) == tmp_path / "lambdalab-labs"
    (tmp_path / "lambdalab-labs" / "01-first-handler" / "deep").mkdir(parents=True)
    for start in (tmp_path, tmp_path / "lambdalab-labs" / "01-first-handler" / "deep"):
        assert labs.find_work_root(start) == (tmp_path / "lambdalab-labs").resolve()


def test_list_points_to_each_labs_reading(tmp_path: Path) -> None:
    repo = Path(__file__).resolve().parent.parent
    index = (repo / "docs" / "tutorials" / "index.rst").read_text()
    for lab in COURSE.labs:
        assert lab.docs and (repo / lab.docs_path).is_file(), lab.folder
        if lab.docs.startswith("tutorials/"):
            assert f"lab {lab.number}" in index.lower() or f"labs {lab.number}" in index.lower() \
                or f", {lab.number}" in index, (lab.folder, "not mapped in docs/tutorials/index.rst")
    result = CliRunner(env={"COLUMNS": "120"}).invoke(lab_group, ["list", "--dir", str(tmp_path)])
    assert result.exit_code == 0
    for lab in COURSE.labs:
        assert lab.docs_path in result.output


@pytest.mark.parametrize("lab", COURSE.labs, ids=LAB_IDS)
def test_instructions_in_an_80_column_terminal_cut_no_word_short(lab: labs.LabInfo, tmp_path: Path) -> None:
    result = CliRunner(env={"COLUMNS": "80"}).invoke(
        lab_group, ["start", str(lab.number), "--dir", str(tmp_path)]
    )
    assert result.exit_code == 0
    cut = [w for w in re.findall(r"\S*\w…", result.output) if w not in lab.readme()]
    assert not cut, cut  # e.g. "context.get_remaining_time_in_milli…" in a table cell


def test_list_in_an_80_column_terminal_cuts_no_reading_short(tmp_path: Path) -> None:
    result = CliRunner(env={"COLUMNS": "80"}).invoke(lab_group, ["list", "--dir", str(tmp_path)])
    assert result.exit_code == 0
    assert "…" not in result.output
    assert result.output.count("read:") == len(COURSE.labs)


def test_hint_where_no_labs_were_started_creates_nothing_and_says_where_it_looked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(lab_group, ["hint"], catch_exceptions=False)
    assert result.exit_code == 1
    assert f"looked from {tmp_path.resolve()} upwards" in result.output
    assert "lambdalab lab start 1" in result.output and "Hints for" not in result.output
    assert list(tmp_path.iterdir()) == []
    code, out = run(tmp_path / "elsewhere", "hint", "3")
    assert code == 1 and f"in {tmp_path / 'elsewhere'}" in out and "lambdalab lab start 3" in out
    assert list(tmp_path.iterdir()) == []


def test_start_says_to_run_lab_check_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The README's own "run `lambdalab lab check`" is not followed by the same line again."""
    monkeypatch.chdir(tmp_path)
    said = {}
    for number in (1, 2, 4):
        result = CliRunner().invoke(lab_group, ["start", str(number)], catch_exceptions=False)
        assert result.exit_code == 0
        said[number] = " ".join(result.output.split())
    assert "lab check" in COURSE.lab(1).readme() and "--watch" in COURSE.lab(1).readme()
    assert "Edit them, then run" not in said[1] and "re-checks on every save" not in said[1]
    assert "--watch" not in COURSE.lab(2).readme()
    assert "Edit them, then run" not in said[2] and "`lambdalab lab check --watch` re-checks" in said[2]
    assert "lab check" not in COURSE.lab(4).readme()
    assert "Edit them, then run `lambdalab lab check`" in said[4]
    code, out = run(tmp_path / "other", "start", "1")  # --dir: the full command, with it
    assert code == 0 and f"lambdalab lab check --dir {tmp_path / 'other'}`" in out


def test_lab_six_says_which_cpu_behaviour_aws_documents_and_which_is_lambdalabs_model() -> None:
    readme = " ".join(COURSE.lab(6).readme().split())
    assert "Like Lambda, it lets" not in readme  # AWS documents no burst credit
    assert "docs.aws.amazon.com/lambda/latest/dg/configuration-memory.html" in readme
    assert "lambdalab's model of what third-party measurements show" in readme
    differences = (Path(__file__).parents[1] / "docs" / "explanation" / "differences.rst").read_text()
    assert "CPU bursts are lambdalab's model" in differences


def test_lab_eighteen_also_passes_with_one_shard_read_in_four_lanes(tmp_path: Path) -> None:
    """ParallelizationFactor 4 on one shard, keyed by customer, meets both goals too."""
    lab, work = write_variant(tmp_path, 18, "stream.py", lambda s: s.replace(
        "SHARDS = 4", "SHARDS = 1").replace("PARALLELIZATION_FACTOR = 1", "PARALLELIZATION_FACTOR = 4"))
    result = labs.run_check(lab, work)
    assert result.passed, f"{result.summary}\ngot: {result.got}"
    assert "1 shard, ParallelizationFactor 4" in result.details[0]


LAB_19_REPORTING_HANDLER = '''import base64
import json


def handler(event, context):
    failures = []
    for record in event["Records"]:
        try:
            order = json.loads(base64.b64decode(record["kinesis"]["data"]))
            total = order["price"] * order["quantity"]
        except (KeyError, ValueError):
            failures.append({"itemIdentifier": record["kinesis"]["IDENTIFIER"]})
            continue
        print(f"PROCESSED {order['id']} {total}")
    return {"batchItemFailures": failures}
'''


def lab_19_reporting(tmp_path: Path, identifier: str) -> CheckResult:
    """Lab 19 fixed with ReportBatchItemFailures instead of bisect: the handler reports
    the record it cannot process (by ``identifier``) and processes the rest."""
    lab, work = write_variant(tmp_path, 19, "mapping.py", lambda s: s.replace(
        "bisect_batch_on_function_error=True,", 'function_response_types=["ReportBatchItemFailures"],'))
    (work / "app.py").write_text(LAB_19_REPORTING_HANDLER.replace("IDENTIFIER", identifier))
    return labs.run_check(lab, work)


def test_lab_nineteen_also_passes_with_report_batch_item_failures(tmp_path: Path) -> None:
    result = lab_19_reporting(tmp_path, "sequenceNumber")
    assert result.passed, f"{result.summary}\ngot: {result.got}\ntry: {result.try_next}"


def test_lab_nineteen_refuses_a_report_of_the_wrong_id(tmp_path: Path) -> None:
    result = lab_19_reporting(tmp_path, "partitionKey")
    assert not result.passed
    assert "Good orders were given up" in result.summary
    assert "itemIdentifier" in result.try_next and "sequenceNumber" in result.try_next


def test_lab_nineteen_from_latest_says_the_orders_were_never_read(tmp_path: Path) -> None:
    lab, work = write_variant(tmp_path, 19, "mapping.py", lambda s: s.replace('"TRIM_HORIZON"', '"LATEST"'))
    result = labs.run_check(lab, work)
    assert not result.passed and "none of the orders" in result.summary
    assert "TRIM_HORIZON" in result.try_next


def test_lab_eighteen_a_key_kinesis_cannot_take_is_named_not_a_crash(tmp_path: Path) -> None:
    lab, work = write_variant(tmp_path, 18, "stream.py", lambda s: s.replace(
        'return order["customer"]', 'return order["customer"] + "\\ud800"'))
    result = labs.run_check(lab, work)
    assert not result.passed and "1 to 256 Unicode characters" in result.summary, result.summary
    assert "\\ud800" in result.got
    no_traceback(result.got + result.try_next)


def test_lab_twenty_one_bounded_retries_do_not_hide_a_crashing_handler(tmp_path: Path) -> None:
    """A handler that fails on REMOVE, under a mapping that gives a failing batch up after
    one retry: the stream moves on, and the check still names the handler's error."""
    mistake = next(m for m in MISTAKES if m.id == "lab21-new-image-on-remove")
    lab, work = write_mistake(tmp_path, mistake)
    stream = work / "stream.py"
    stream.write_text(stream.read_text().replace(
        "batch_size=10,", "batch_size=10,\n        maximum_retry_attempts=1,"))
    result = labs.run_check(lab, work)
    assert not result.passed and "gave its batch up" in result.summary, result.summary
    assert "KeyError: 'NewImage'" in result.got and "MaximumRetryAttempts 1" in result.got
    assert "no NewImage" in result.try_next
    no_traceback(result.got + result.try_next)


def test_lab_twenty_one_an_error_of_the_audit_write_is_not_blamed_on_the_images(tmp_path: Path) -> None:
    lab, work = write_variant(tmp_path, 21, "app.py", lambda s: s.replace(
        '"seq": {"S": change["SequenceNumber"]},', ""))
    result = labs.run_check(lab, work)
    assert not result.passed and "stuck behind it" in result.summary, result.summary
    assert "Missing the key seq" in result.got
    assert result.try_next.startswith("fix what the error names") and "NewImage" not in result.try_next
