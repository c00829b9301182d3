"""The labs' checks, over and over: a check must never pass or fail by luck.

    python benchmarks/lab_checks.py              # 20 runs of each (slow: ~1 h on a busy VM)
    python benchmarks/lab_checks.py --runs 3     # a smoke test
    python benchmarks/lab_checks.py --lab 5 --lab 8

Runs every lab's check on its reference solution (``tests/labs/solutions/``) and on each
plausible wrong solution (``tests/labs/mistakes.py``) ``--runs`` times, and prints one
line per solution as it finishes: how often it passed, and for a wrong solution how often
the failure named its misconception. The targets: every reference run passes, no wrong
run passes, and every wrong run's failure names the mistake. Exit status 1 when a
target is missed.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "labs"))

from lambdalab.course import runner as labs  # noqa: E402
from mistakes import MISTAKES, Mistake  # noqa: E402

SOLUTIONS = ROOT / "tests" / "labs" / "solutions"


def run_once(lab: labs.LabInfo, mistake: Mistake | None) -> labs.CheckResult:
    with tempfile.TemporaryDirectory(prefix="lab-checks-") as tmp:
        work = Path(tmp) / lab.folder
        shutil.copytree(SOLUTIONS / lab.folder, work)
        if mistake is not None:
            path = work / mistake.file
            path.write_text(mistake.apply(path.read_text()))
        return labs.run_check(lab, work)


def named(result: labs.CheckResult, mistake: Mistake) -> bool:
    said = " | ".join((result.summary, result.got, result.try_next)).lower()
    return mistake.says.lower() in said


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--lab", type=int, action="append", help="only these labs")
    args = parser.parse_args()
    course = labs.load_course()
    chosen = [lab for lab in course.labs if not args.lab or lab.number in args.lab]
    missed = 0
    print(f"{'solution':<42} {'passed':>8} {'named':>8} {'s/run':>7}")
    for lab in chosen:
        for mistake in [None, *(m for m in MISTAKES if m.lab == lab.number)]:
            label = f"lab{lab.number:02d}-reference" if mistake is None else mistake.id
            passes = names = 0
            first_odd = ""
            started = time.monotonic()
            for _ in range(args.runs):
                result = run_once(lab, mistake)
                passes += result.passed
                if mistake is not None and not result.passed:
                    names += named(result, mistake)
                odd = (not result.passed) if mistake is None else (
                    result.passed or not named(result, mistake))
                if odd and not first_odd:
                    first_odd = f"{result.summary} | {result.got} | {result.try_next}"
            per_run = (time.monotonic() - started) / args.runs
            shown = "-" if mistake is None else f"{names}/{args.runs}"
            print(f"{label:<42} {passes:>5}/{args.runs} {shown:>8} {per_run:>7.1f}", flush=True)
            ok = passes == args.runs if mistake is None else (passes == 0 and names == args.runs)
            if not ok:
                missed += 1
                print(f"    MISSED: {first_odd}", flush=True)
    print(f"{missed} target(s) missed")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
