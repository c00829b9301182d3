"""The lab runner: the course manifest, a learner's progress, and running a lab's check.

A course is a folder with a manifest, ``labs.toml``, and one folder per lab::

    lambdalab/course/labs/
      labs.toml              format_version, welcome, final_message, [[labs]] …
      01-first-handler/
        README.md            teaches one concept and states the exercise
        starter/             the code the learner starts from, with TODO lines
        check.py             check(workdir: Path) -> CheckResult

A learner works in a *working root* (``./lambdalab-labs`` by default): ``lab start N``
copies a starter to ``<root>/<folder>/`` and ``<root>/.progress.json`` remembers which labs
are done, which one is current, and how many hints were shown.

A lab's ``check.py`` deploys the learner's code into a fresh :class:`~lambdalab.Lab` on a
temporary data dir, invokes it and compares what happened with what should happen. It
fails by raising :class:`CheckFailed` (what was expected, what happened, what to try);
the helpers below (:func:`fresh_lab`, :func:`deploy`, :func:`expect_success`, …) raise
it for the common cases, so a check reads as the exercise's story. :func:`run_check`
turns *anything* a check raises into a :class:`CheckResult`: a learner never sees a
traceback from the checker.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import shutil
import sys
import tempfile
import time
import tomllib
import traceback
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

MANIFEST_NAME = "labs.toml"
MANIFEST_FORMAT_VERSION = 1
PROGRESS_NAME = ".progress.json"
PROGRESS_FORMAT_VERSION = 1
DEFAULT_WORK_ROOT = "lambdalab-labs"
#: How often ``lab check --watch`` looks at the working folder's files.
WATCH_INTERVAL_S = 0.5

DONE, CURRENT, TODO = "done", "current", "todo"


class LabError(Exception):
    """A problem the learner (or course author) can fix; the message says how."""


# -- the course ---------------------------------------------------------------------


@dataclass(frozen=True)
class LabInfo:
    """One lab of the manifest."""

    number: int
    name: str
    folder: str
    concept: str
    hints: tuple[str, ...]
    path: Path
    #: The docs page that teaches the concept, e.g. ``tutorials/first-function``.
    docs: str = ""

    @property
    def title(self) -> str:
        return f"Lab {self.number}: {self.name}"

    @property
    def readme_path(self) -> Path:
        return self.path / "README.md"

    @property
    def starter_dir(self) -> Path:
        return self.path / "starter"

    @property
    def check_path(self) -> Path:
        return self.path / "check.py"

    @property
    def docs_path(self) -> str:
        """Where the lab's reading is, relative to the repository: ``docs/….rst``."""
        return f"docs/{self.docs}.rst" if self.docs else ""

    def readme(self) -> str:
        return self.readme_path.read_text(encoding="utf-8")


@dataclass(frozen=True)
class Course:
    """The manifest: a welcome, the labs in order, and a final message."""

    format_version: int
    welcome: str
    final_message: str
    labs: tuple[LabInfo, ...]
    root: Path

    def lab(self, number: int) -> LabInfo:
        for lab in self.labs:
            if lab.number == number:
                return lab
        numbers = ", ".join(str(lab.number) for lab in self.labs)
        raise LabError(f"There is no lab {number}. The labs are numbered {numbers}.")

    def after(self, number: int) -> LabInfo | None:
        """The lab that follows lab ``number``, or None after the last one."""
        later = [lab for lab in self.labs if lab.number > number]
        return later[0] if later else None


def course_root() -> Path:
    """Where the course lives: ``$LAMBDALAB_LABS_PATH``, else the package's own ``labs/``."""
    override = os.environ.get("LAMBDALAB_LABS_PATH")
    if override:
        return Path(override)
    return Path(__file__).resolve().parent / "labs"


def load_course(root: Path | None = None) -> Course:
    """Read and validate ``labs.toml``; a malformed manifest names the lab and the field."""
    root = Path(root) if root is not None else course_root()
    manifest = root / MANIFEST_NAME
    if not manifest.is_file():
        raise LabError(
            f"No course found: {manifest} does not exist. Set LAMBDALAB_LABS_PATH to the "
            "folder that holds labs.toml."
        )
    with manifest.open("rb") as f:
        data = tomllib.load(f)
    version = data.get("format_version")
    if version != MANIFEST_FORMAT_VERSION:
        raise LabError(
            f"{manifest}: format_version is {version!r}; this lambdalab reads "
            f"{MANIFEST_FORMAT_VERSION}. Upgrade lambdalab or the course."
        )
    labs = []
    for entry in data.get("labs", []):
        missing = [k for k in ("number", "name", "folder", "concept", "hints") if k not in entry]
        if missing:
            raise LabError(f"{manifest}: lab {entry.get('name', '?')} lacks {', '.join(missing)}")
        labs.append(
            LabInfo(
                number=int(entry["number"]),
                name=entry["name"],
                folder=entry["folder"],
                concept=entry["concept"],
                hints=tuple(entry["hints"]),
                path=root / entry["folder"],
                docs=entry.get("docs", ""),
            )
        )
    numbers = [lab.number for lab in labs]
    if numbers != sorted(set(numbers)):
        raise LabError(f"{manifest}: lab numbers must be unique and in order, got {numbers}")
    return Course(
        format_version=version,
        welcome=data.get("welcome", "").strip(),
        final_message=data.get("final_message", "").strip(),
        labs=tuple(labs),
        root=root,
    )


# -- progress -----------------------------------------------------------------------


@dataclass
class Progress:
    """What a learner has done, kept in ``<work root>/.progress.json``."""

    work_root: Path
    current: int | None = None
    done: set[int] = field(default_factory=set)
    hints_shown: dict[int, int] = field(default_factory=dict)

    @property
    def path(self) -> Path:
        return self.work_root / PROGRESS_NAME

    @classmethod
    def load(cls, work_root: Path) -> "Progress":
        progress = cls(Path(work_root))
        if not progress.path.is_file():
            return progress
        try:
            data = json.loads(progress.path.read_text(encoding="utf-8"))
        except ValueError as e:
            raise LabError(
                f"{progress.path} is not valid JSON ({e}). Fix it, or delete it to start "
                "your progress afresh (your lab folders stay as they are)."
            ) from None
        progress.current = data.get("current")
        progress.done = {int(n) for n in data.get("done", [])}
        progress.hints_shown = {int(k): int(v) for k, v in data.get("hints_shown", {}).items()}
        return progress

    def save(self) -> None:
        self.work_root.mkdir(parents=True, exist_ok=True)
        data = {
            "format_version": PROGRESS_FORMAT_VERSION,
            "current": self.current,
            "done": sorted(self.done),
            "hints_shown": {str(k): v for k, v in sorted(self.hints_shown.items())},
        }
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        tmp.replace(self.path)

    def current_lab(self, course: Course) -> LabInfo:
        """The lab the learner is on: the one last started (done or not), else the first
        not done. A plain ``lab check`` checks this one."""
        if self.current is not None:
            with contextlib.suppress(LabError):
                return course.lab(self.current)
        return self.next_lab(course) or course.labs[-1]

    def next_lab(self, course: Course, after: int | None = None) -> LabInfo | None:
        """The first lab not done, looking after lab ``after`` first; None when all are."""
        todo = [lab for lab in course.labs if lab.number not in self.done]
        if after is not None:
            todo = [lab for lab in todo if lab.number > after] + todo
        return todo[0] if todo else None

    def focus(self, course: Course) -> LabInfo | None:
        """The lab to work on next: the current one until it is done, then the next not
        done; None when the course is finished."""
        current = self.current_lab(course)
        if current.number not in self.done:
            return current
        return self.next_lab(course, after=current.number)

    def status(self, course: Course, lab: LabInfo) -> str:
        if lab.number in self.done:
            return DONE
        focus = self.focus(course)
        return CURRENT if focus is not None and lab.number == focus.number else TODO

    def workdir(self, lab: LabInfo) -> Path:
        return self.work_root / lab.folder

    def is_started(self, lab: LabInfo) -> bool:
        return self.workdir(lab).is_dir()


def start_lab(course: Course, progress: Progress, number: int, *, reset: bool = False) -> Path:
    """Copy lab ``number``'s starter into the working root; make it the current lab.

    An already started lab keeps the learner's files unless ``reset`` is true.
    """
    lab = course.lab(number)
    workdir = progress.workdir(lab)
    if workdir.exists() and reset:
        shutil.rmtree(workdir)
    if not workdir.exists():
        shutil.copytree(
            lab.starter_dir, workdir, ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
        )
    progress.current = lab.number
    progress.save()
    return workdir


def next_hint(progress: Progress, lab: LabInfo) -> tuple[int, list[str]]:
    """Reveal one more hint of ``lab``; returns how many are shown now and those hints."""
    shown = min(progress.hints_shown.get(lab.number, 0) + 1, len(lab.hints))
    progress.hints_shown[lab.number] = shown
    progress.save()
    return shown, list(lab.hints[:shown])


# -- checking -----------------------------------------------------------------------


@dataclass
class CheckResult:
    """The outcome of a lab's check, phrased for the learner.

    On failure: ``expected`` (what the check wanted), ``got`` (what happened) and
    ``try_next`` (what to change). ``output`` holds what the function logged, if useful.
    """

    passed: bool
    summary: str
    expected: str = ""
    got: str = ""
    try_next: str = ""
    output: str = ""
    details: list[str] = field(default_factory=list)


class CheckFailed(Exception):
    """Raised by a check (or a helper) when the learner's code does not do the job yet."""

    def __init__(
        self, summary: str, *, expected: str = "", got: str = "", try_next: str = "", output: str = ""
    ) -> None:
        super().__init__(summary)
        self.summary = summary
        self.expected = expected
        self.got = got
        self.try_next = try_next
        self.output = output

    def result(self) -> CheckResult:
        return CheckResult(
            passed=False,
            summary=self.summary,
            expected=self.expected,
            got=self.got,
            try_next=self.try_next,
            output=self.output,
        )


def passed(summary: str, *details: str) -> CheckResult:
    """What a check returns when everything it looked at was right."""
    return CheckResult(passed=True, summary=summary, details=list(details))


def run_check(lab: LabInfo, workdir: Path) -> CheckResult:
    """Run ``lab``'s check on ``workdir``. Never raises: every problem becomes a result."""
    workdir = Path(workdir)
    if not workdir.is_dir():
        return CheckResult(
            passed=False,
            summary="it has not been started here.",
            expected=f"your work in {workdir}",
            got="no such folder",
            try_next=f"run `lambdalab lab start {lab.number}`; if you started it in another "
            "folder, run `lambdalab lab check` there",
        )
    try:
        module = _import_file(lab.check_path, f"_lambdalab_check_{lab.number}")
        result = module.check(workdir)
    except CheckFailed as failure:
        return failure.result()
    except Exception as e:  # the learner must never see the checker's traceback
        return CheckResult(
            passed=False,
            summary=f"The check for {lab.title} could not finish.",
            expected="the check to run to the end",
            got=f"{type(e).__name__}: {e}",
            try_next="read the message above; if it points at lambdalab rather than your "
            "code, please report it as a bug in the lab",
        )
    if not isinstance(result, CheckResult):
        return CheckResult(
            passed=False,
            summary=f"The check for {lab.title} is broken.",
            expected="check() to return a CheckResult",
            got=repr(result),
            try_next="report this as a bug in the lab",
        )
    return result


def record_result(course: Course, progress: Progress, lab: LabInfo, result: CheckResult) -> LabInfo | None:
    """Mark a passed lab done; returns the lab to do next (None when the course is done).

    The learner stays on this lab (a plain ``lab check`` checks it again) until they
    start another one.
    """
    if not result.passed:
        return None
    progress.done.add(lab.number)
    progress.save()
    return progress.next_lab(course, after=lab.number)


def find_work_root(start: Path | None = None) -> Path:
    """The learner's working root, found from ``start`` (the current folder) upwards,
    as git finds ``.git``: the nearest folder that holds ``.progress.json`` or is named
    ``lambdalab-labs``, or that has a ``lambdalab-labs/`` folder in it. If there is
    none, ``<start>/lambdalab-labs``, where ``lab start`` will create it.
    """
    start = Path(start if start is not None else Path.cwd()).resolve()
    for folder in (start, *start.parents):
        if (folder / PROGRESS_NAME).is_file() or folder.name == DEFAULT_WORK_ROOT:
            return folder
        if (folder / DEFAULT_WORK_ROOT).is_dir():
            return folder / DEFAULT_WORK_ROOT
    return start / DEFAULT_WORK_ROOT


def lab_at(course: Course, progress: Progress, folder: Path) -> LabInfo | None:
    """The lab whose working folder holds ``folder``, if any (the learner is in it)."""
    folder = Path(folder).resolve()
    for lab in course.labs:
        workdir = progress.workdir(lab).resolve()
        if folder == workdir or workdir in folder.parents:
            return lab
    return None


def snapshot(folder: Path) -> dict[str, float]:
    """Modification times of the files a learner edits (no caches, no hidden files)."""
    stamps: dict[str, float] = {}
    for path in folder.rglob("*"):
        parts = path.relative_to(folder).parts
        if any(p.startswith(".") or p == "__pycache__" for p in parts) or not path.is_file():
            continue
        with contextlib.suppress(OSError):
            stamps[str(path)] = path.stat().st_mtime_ns
    return stamps


def watch(
    check_once: Callable[[], CheckResult],
    folder: Path,
    *,
    interval: float = WATCH_INTERVAL_S,
    max_polls: int | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> CheckResult:
    """Check now, then again whenever a file in ``folder`` changes, until a check passes.

    Polls modification times every ``interval`` seconds; stops after ``max_polls`` polls
    if given (the last result is returned). Ctrl-C (KeyboardInterrupt) propagates.
    """
    result = check_once()
    seen = snapshot(folder)
    polls = 0
    while not result.passed and (max_polls is None or polls < max_polls):
        sleep(interval)
        polls += 1
        now = snapshot(folder)
        if now != seen:
            seen = now
            result = check_once()
    return result


# -- helpers for check.py -----------------------------------------------------------


@contextlib.contextmanager
def fresh_lab(**options: Any) -> Iterator[Any]:
    """A :class:`~lambdalab.Lab` on a throwaway data dir, closed and removed afterwards."""
    from .. import Lab

    options.setdefault("preload", ())
    with tempfile.TemporaryDirectory(prefix="lambdalab-check-") as data_dir:
        lab = Lab(data_dir=data_dir, **options)
        try:
            yield lab
        finally:
            lab.close()


@contextlib.contextmanager
def shared_folder() -> Iterator[Path]:
    """A throwaway folder the check and its handlers both reach, removed afterwards.

    Where lambdalab runs as root, a handler runs as an unprivileged user with a
    ``/tmp`` of its own (docs/reference/sandboxes.rst, *Privilege*): a folder under the
    host's ``/tmp``, or one only root may enter, is out of its reach. This one is under
    ``/var/tmp`` and writable by everyone (sticky, as ``/tmp`` is)."""
    base = "/var/tmp" if os.path.isdir("/var/tmp") else None
    with tempfile.TemporaryDirectory(prefix="lambdalab-shared-", dir=base) as folder:
        os.chmod(folder, 0o1777)
        yield Path(folder)


def unique_name(stem: str) -> str:
    """A function name the learner cannot have hard-coded, e.g. ``greeter-3fa2``."""
    return f"{stem}-{uuid.uuid4().hex[:4]}"


def require_file(workdir: Path, name: str) -> Path:
    path = workdir / name
    if not path.is_file():
        raise CheckFailed(
            f"{name} is missing from your lab folder.",
            expected=f"a file {path}",
            got="no such file",
            try_next="restore it from the starter: `lambdalab lab start N --reset` "
            "(this replaces the whole lab folder)",
        )
    return path


def require_functions(
    script: Path,
    module: Any,
    names: Sequence[str],
    *,
    try_next: str = "restore it from the starter and fill in its TODOs",
) -> None:
    """CheckFailed unless the learner's ``module`` (loaded from ``script``) defines each
    function named: ``"measure"``, or with the parameters its starter gives it,
    ``"configure(lab, name, audit_arn)"`` (shown to the learner as what was expected)."""
    for needed in names:
        name, _, parameters = needed.partition("(")
        if not callable(getattr(module, name, None)):
            raise CheckFailed(
                f"{script.name} has no {name}() function.",
                expected=f"def {name}({parameters or '...)'} as in the starter",
                got=f"no function named {name}",
                try_next=try_next,
            )


def deploy(lab: Any, name: str, code_dir: Path, handler: str, **config: Any) -> None:
    """``create_function`` from ``code_dir``; a rejected configuration becomes a CheckFailed."""
    from ..errors import LambdaError

    try:
        lab.create_function(name, str(code_dir), handler=handler, **config)
    except LambdaError as e:
        raise CheckFailed(
            f"Lambda would not create the function from {code_dir}.",
            expected="CreateFunction to succeed",
            got=f"{e.code}: {e.message}",
            try_next="fix what the message names",
        ) from None


def invoke(lab: Any, name: str, payload: Any = None, **options: Any) -> Any:
    """Invoke with the log tail; an API error (throttle, not found) becomes a CheckFailed."""
    from ..errors import LambdaError

    options.setdefault("log_type", "Tail")
    try:
        return lab.invoke(name, payload, **options)
    except LambdaError as e:
        raise CheckFailed(
            f"Invoking {name} failed before your handler ran.",
            expected="the invoke to reach your handler",
            got=f"{e.code}: {e.message}",
            try_next="see what the error says about the function",
        ) from None


def function_error(result: Any) -> str:
    """``"ErrorType: message"`` from a failed invoke's payload."""
    try:
        body = result.json()
    except ValueError:
        return result.payload.decode(errors="replace")
    if isinstance(body, dict):
        return f"{body.get('errorType', 'Error')}: {body.get('errorMessage', '')}"
    return repr(body)


def expect_success(result: Any, what: str, *, try_next: str = "") -> Any:
    """The invoke's parsed payload, or a CheckFailed showing the function's error."""
    if result.function_error:
        got = function_error(result)
        hint = try_next
        if "Runtime.ImportModuleError" in got or "Runtime.HandlerNotFound" in got:
            hint = "check the file and function names, and that the module imports cleanly"
        elif "Sandbox.Timedout" in got:
            hint = hint or "your handler ran longer than its timeout"
        raise CheckFailed(
            f"Your function failed {what}.",
            expected="the handler to return normally",
            got=got,
            try_next=hint or "read the error type and message: the line in your code that "
            "raised is in the stack trace of the function's log below",
            output=result.log_tail,
        )
    try:
        return result.json()
    except ValueError:
        raise CheckFailed(
            f"The function's answer {what} is not JSON.",
            expected="a JSON value",
            got=result.payload.decode(errors="replace")[:200],
        ) from None


def expect_equal(actual: Any, wanted: Any, what: str, *, try_next: str, output: str = "") -> None:
    if actual != wanted:
        raise CheckFailed(
            f"Wrong {what}.",
            expected=show(wanted),
            got=show(actual),
            try_next=try_next,
            output=output,
        )


def show(value: Any) -> str:
    """A value as the learner would write it: JSON when it is JSON, else repr."""
    try:
        return json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        return repr(value)


def report_of(result: Any) -> dict[str, float]:
    """The numbers of the REPORT line in an invoke's log tail (``Init Duration`` if cold).

    ``{"Duration": 0.52, "Billed Duration": 16.0, "Init Duration": 14.87, ...}``
    """
    for line in reversed(result.log_tail.splitlines()):
        if line.startswith("REPORT "):
            fields = {}
            for part in line.split("\t"):
                key, _, value = part.partition(": ")
                with contextlib.suppress(ValueError):
                    fields[key.strip()] = float(value.split(" ")[0])
            return fields
    raise CheckFailed(
        "No REPORT line in the function's log.",
        expected="a REPORT line after the invoke",
        got=result.log_tail or "(empty log)",
        try_next="report this as a bug in lambdalab",
    )


def load_learner_module(path: Path) -> Any:
    """Import a learner's host-side script (a deploy script) afresh, as a new module."""
    try:
        return _import_file(path, f"_lambdalab_learner_{uuid.uuid4().hex}")
    except Exception as e:
        raise CheckFailed(
            f"{path.name} does not import.",
            expected=f"{path.name} to import without errors",
            got=learner_error(e, path),
            try_next="fix the line named above",
        ) from None


def call_learner(
    path: Path,
    func: Callable[..., Any],
    *args: Any,
    what: str,
    advice: dict[str, str] | None = None,
) -> Any:
    """Call a learner's function; an exception becomes a CheckFailed naming their line.

    ``advice`` maps an error name (``"TooManyRequestsException"``) to what to try.
    """
    try:
        return func(*args)
    except CheckFailed:
        raise
    except Exception as e:
        name = _error_name(e)
        raise CheckFailed(
            f"{what} raised {name}.",
            expected=f"{what} to return",
            got=learner_error(e, path),
            try_next=(advice or {}).get(name)
            or "read the error and the line it names in your file",
        ) from None


def learner_error(error: BaseException, path: Path) -> str:
    """``Type: message (file.py, line N)``, naming the learner's own line if we can."""
    where = ""
    if isinstance(error, SyntaxError) and error.lineno:
        where = f" ({Path(error.filename or path).name}, line {error.lineno})"
    else:
        frames = [
            f for f in traceback.extract_tb(error.__traceback__)
            if Path(f.filename).resolve() == path.resolve()
        ]
        if frames:
            where = f" ({path.name}, line {frames[-1].lineno}: {statement_start(frames[-1].line)})"
    message = getattr(error, "message", None) or str(error)
    extra = getattr(error, "extra", None)
    if isinstance(extra, dict) and extra:
        message += " (" + ", ".join(f"{k}: {v}" for k, v in extra.items()) + ")"
    return f"{_error_name(error)}: {message}{where}"


def statement_start(line: str | None) -> str:
    """The traceback's line, marked ``…`` when the statement goes on below it.

    A traceback names a call's first line only; ``lab.update_alias(`` closed here would
    read as a call without arguments.
    """
    line = line or ""
    if line.count("(") + line.count("[") + line.count("{") > \
            line.count(")") + line.count("]") + line.count("}"):
        return f"{line} …"
    return line


def _error_name(error: BaseException) -> str:
    """AWS's error code for a lambdalab error, else the exception's class name."""
    code = getattr(error, "code", None)
    return code if isinstance(code, str) else type(error).__name__


def _import_file(path: Path, module_name: str) -> Any:
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise LabError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    previous = sys.dont_write_bytecode
    sys.dont_write_bytecode = True  # keep the learner's folder free of __pycache__
    try:
        spec.loader.exec_module(module)
    finally:
        sys.dont_write_bytecode = previous
    return module


__all__ = [
    "LabError",
    "LabInfo",
    "Course",
    "course_root",
    "load_course",
    "Progress",
    "start_lab",
    "next_hint",
    "CheckResult",
    "CheckFailed",
    "passed",
    "run_check",
    "record_result",
    "find_work_root",
    "lab_at",
    "snapshot",
    "watch",
    "fresh_lab",
    "unique_name",
    "require_file",
    "require_functions",
    "deploy",
    "invoke",
    "function_error",
    "expect_success",
    "expect_equal",
    "show",
    "report_of",
    "load_learner_module",
    "call_learner",
    "learner_error",
]
