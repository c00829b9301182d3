"""``lambdalab lab …``: the learner's commands for the guided labs.

::

    lambdalab lab list              every lab and its status, with a progress bar
    lambdalab lab start N           copy lab N's starter into the working folder, show it
    lambdalab lab check [N]         check the current lab (or lab N); --watch re-checks on save
    lambdalab lab hint [N]          one more hint, from gentle to explicit

Work and progress live in a working root (``--dir``, else the nearest ``lambdalab-labs/``
from the current folder upwards, else ``./lambdalab-labs``); the course
itself is read from :func:`lambdalab.course.runner.course_root`. ``check`` exits 0 when the lab
passes and 1 when it does not, so it can be scripted; an unknown lab number is a usage
error (exit status 2).
"""

from __future__ import annotations

from pathlib import Path
import click
from rich.console import Console
from rich.markdown import Markdown
from rich.table import Table
from rich.text import Text

from ..course import runner as labs
from ..course.runner import CheckResult, Course, LabError, LabInfo, Progress

STATUS_MARK = {labs.DONE: "✓", labs.CURRENT: "▶", labs.TODO: " "}
STATUS_STYLE = {labs.DONE: "green", labs.CURRENT: "bold yellow", labs.TODO: "dim"}

work_dir_option = click.option(
    "--dir",
    "work_root",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    envvar="LAMBDALAB_LABS_HOME",
    help="Working folder: your copies of the labs and .progress.json. Default: the "
    "nearest lambdalab-labs/ from here upwards (as git finds .git), else ./lambdalab-labs.",
)


def console() -> Console:
    """A console on the current stdout (so click's test runner captures it)."""
    return Console(highlight=False)


def say(text: str = "", style: str | None = None, *, wrap: bool = True) -> None:
    """Print plain text: learner code and error messages are never read as markup.

    ``wrap=False`` keeps the text's own line breaks (the course's welcome and final
    message are already laid out).
    """
    console().print(Text(text, style=style or ""), soft_wrap=not wrap)


def loaded(work_root: Path | None) -> tuple[Course, Progress]:
    """The course and the learner's progress; without ``--dir`` the working root is
    found from the current folder upwards, so every command works from a lab's folder."""
    if work_root is None:
        work_root = labs.find_work_root()
    try:
        return labs.load_course(), Progress.load(work_root)
    except LabError as e:
        raise click.ClickException(str(e)) from None


def pick(course: Course, progress: Progress, number: int | None) -> LabInfo:
    """Lab ``number``; else the lab whose folder we are in; else the current one.

    An unknown number is a usage error (exit status 2).
    """
    if number is not None:
        try:
            return course.lab(number)
        except LabError as e:
            raise click.UsageError(str(e)) from None
    return labs.lab_at(course, progress, Path.cwd()) or progress.current_lab(course)


def suggest(progress: Progress, lab: LabInfo) -> str:
    """The command that moves the learner on with ``lab``: start it, or check it."""
    verb = "check" if progress.is_started(lab) else "start"
    return f"lambdalab lab {verb} {lab.number}"


@click.group("lab")
def lab_group() -> None:
    """Guided labs: learn how Lambda behaves by making checks pass."""


# -- list -----------------------------------------------------------------------------


@lab_group.command("list")
@work_dir_option
def list_labs(work_root: Path | None) -> None:
    """Every lab, with its status (done / current / todo) and your progress."""
    course, progress = loaded(work_root)
    if not progress.path.exists():
        say(course.welcome, wrap=False)
        say()
    table = Table(box=None, show_header=True, header_style="bold", pad_edge=False)
    for column in ("", "#", "lab", "status"):
        table.add_column(column, no_wrap=True)
    # The reading goes under the concept, not in a column of its own: an 80-column
    # terminal cut a column's paths to "docs/tutorials/firs…".
    table.add_column("concept, and where to read about it", overflow="fold")
    for lab in course.labs:
        status = progress.status(course, lab)
        table.add_row(
            Text(STATUS_MARK[status], style=STATUS_STYLE[status]),
            str(lab.number),
            Text(lab.name, style=STATUS_STYLE[status]),
            Text(status, style=STATUS_STYLE[status]),
            concept_and_reading(lab),
        )
    console().print(table)
    say()
    show_progress(course, progress)
    focus = progress.focus(course)
    if focus is not None:
        say(f"Next: `{suggest(progress, focus)}` ({focus.name})")


def concept_and_reading(lab: LabInfo) -> Text:
    cell = Text(lab.concept)
    if lab.docs_path:
        cell.append(f"\nread: {lab.docs_path}", style="dim")
    return cell


def show_progress(course: Course, progress: Progress) -> None:
    console().print(progress_bar(course, progress))


def progress_bar(course: Course, progress: Progress, width: int = 30) -> Text:
    """``Progress ██████░░░░ 2/5 labs done`` — plain characters, so it shows anywhere."""
    total = len(course.labs)
    done = len(progress.done & {lab.number for lab in course.labs})
    filled = round(width * done / total) if total else width
    bar = Text("Progress ")
    bar.append("█" * filled, style="green")
    bar.append("░" * (width - filled), style="dim")
    bar.append(f" {done}/{total} labs done")
    return bar


# -- start ----------------------------------------------------------------------------


@lab_group.command("start")
@click.argument("number", type=int)
@work_dir_option
@click.option("--reset", is_flag=True, help="Replace your files with a fresh copy of the starter.")
def start(number: int, work_root: Path | None, reset: bool) -> None:
    """Copy lab NUMBER's starter code into the working folder and show its instructions."""
    course, progress = loaded(work_root)
    first_time = not progress.path.exists()
    lab = pick(course, progress, number)
    existed = progress.is_started(lab)
    try:
        workdir = labs.start_lab(course, progress, number, reset=reset)
    except (LabError, OSError) as e:
        raise click.ClickException(f"Could not start lab {number}: {e}") from None
    if first_time:
        say(course.welcome, wrap=False)
        say()
    console().print(Markdown(lab.readme()))
    say()
    if existed and not reset:
        say(f"Lab {lab.number} was already started: your files in {workdir} are untouched "
            f"(`lambdalab lab start {lab.number} --reset` starts over).", style="yellow")
    else:
        say(f"Your files are in {workdir}")
    files = sorted(p.relative_to(workdir).as_posix() for p in workdir.rglob("*") if p.is_file())
    for name in files:
        say(f"  {name}")
    dir_flag = "" if work_root is None else f" --dir {work_root}"
    step = next_step(lab.readme(), dir_flag)
    if step:
        say(step, style="bold", wrap=False)  # a command to copy, unbroken


def next_step(readme: str, dir_flag: str) -> str:
    """What to run after ``lab start``, unless the README just said it (the learner
    read "run `lambdalab lab check`" twice in a row). With ``--dir`` the README's
    command would look in the wrong place, so the full one is always shown."""
    check, watch = f"lambdalab lab check{dir_flag}", f"lambdalab lab check --watch{dir_flag}"
    if dir_flag or "lambdalab lab check" not in readme:
        return f"Edit them, then run `{check}` (or `{watch}` to re-check on every save)."
    if "--watch" not in readme:
        return f"`{watch}` re-checks on every save."
    return ""


# -- check ----------------------------------------------------------------------------


@lab_group.command("check")
@click.argument("number", type=int, required=False)
@work_dir_option
@click.option("--watch", is_flag=True, help="Re-check whenever a file changes; Ctrl-C stops.")
@click.option("--interval", type=float, default=labs.WATCH_INTERVAL_S, hidden=True)
@click.option("--max-polls", type=int, default=None, hidden=True)
def check(number: int | None, work_root: Path | None, watch: bool, interval: float, max_polls: int | None) -> None:
    """Check the current lab (or lab NUMBER). Exit status 0 when it passes, 1 when not."""
    course, progress = loaded(work_root)
    lab = pick(course, progress, number)
    workdir = progress.workdir(lab)

    def check_once() -> CheckResult:
        say(f"Checking {lab.title} in {workdir} …", style="dim")
        result = labs.run_check(lab, workdir)
        show_result(lab, result, started=workdir.is_dir())
        return result

    if watch and workdir.is_dir():
        say(f"Watching {workdir}: save a file to check again, Ctrl-C to stop.", style="dim")
        try:
            result = labs.watch(check_once, workdir, interval=interval, max_polls=max_polls)
        except KeyboardInterrupt:
            say("Stopped watching.")
            raise SystemExit(1) from None
    else:
        result = check_once()
    if not result.passed:
        raise SystemExit(1)
    following = labs.record_result(course, progress, lab, result)
    show_progress(course, progress)
    if following is None:
        say()
        say(course.final_message, style="bold green", wrap=False)
    else:
        say(f"Next: lab {following.number}, {following.name}: {following.concept}")
        say(f"Run `{suggest(progress, following)}`.", style="bold")


def show_result(lab: LabInfo, result: CheckResult, started: bool = True) -> None:
    if result.passed:
        say(f"✓ {lab.title} passed: {result.summary}", style="bold green")
        for line in result.details:
            say(f"  · {line}")
        return
    say(f"✗ {lab.title} is not done yet: {result.summary}", style="bold red")
    for label, value in (("expected", result.expected), ("got", result.got), ("try", result.try_next)):
        if value:
            say(f"  {label + ':':<10}{value}")
    if result.output.strip():
        say("  the function's log:", style="dim")
        for line in result.output.rstrip().splitlines():
            say(f"    {line.expandtabs(2)}", style="dim")
    if started:  # a hint helps with the exercise, not with a folder that is not there
        say(f"Stuck? `lambdalab lab hint {lab.number}` shows one more hint.", style="dim")


# -- hint -----------------------------------------------------------------------------


@lab_group.command("hint")
@click.argument("number", type=int, required=False)
@work_dir_option
def hint(number: int | None, work_root: Path | None) -> None:
    """Show one more hint for the current lab (or lab NUMBER), gentle first."""
    course, progress = loaded(work_root)
    lab = pick(course, progress, number)
    if not progress.path.exists():  # no labs here: say so, and create nothing
        marker = f"{labs.DEFAULT_WORK_ROOT}/{labs.PROGRESS_NAME}"
        looked = (f"in {progress.work_root}" if work_root is not None
                  else f"from {Path.cwd()} upwards (for {marker})")
        say(f"No labs started here: looked {looked}.", style="yellow", wrap=False)
        say(f"Run `lambdalab lab start {lab.number}` to start {lab.title}, or `lambdalab lab list` "
            "for every lab; if you started them elsewhere, run this from that folder.", wrap=False)
        raise SystemExit(1)
    before = progress.hints_shown.get(lab.number, 0)
    shown, hints = labs.next_hint(progress, lab)
    say(f"Hints for {lab.title} ({shown} of {len(lab.hints)}):", style="bold")
    for i, text in enumerate(hints, start=1):
        say(f"  {i}. {text}", style="bold" if i == shown else "dim")
    if before >= len(lab.hints):
        say("That was the last hint; the README explains the concept in full.", style="yellow")


__all__ = ["lab_group"]
