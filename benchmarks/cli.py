"""CLI benchmarks: the wall time of ``lambdalab`` commands beside ``python -c pass``.

    python benchmarks/cli.py            # full run, about a minute on 2 cores
    python benchmarks/cli.py --quick    # small counts: a smoke test
    python benchmarks/cli.py --json out.json

Each figure is the median wall time of running the installed ``lambdalab`` console script
as a learner does (a new process each time, output to a pipe), beside a fresh
``python -c pass`` of the same interpreter measured in the same rounds: the rounds
interleave every command, so a busy machine slows them alike. Targets (the learner's-
loop issue, part 1): a warm ``lambdalab invoke``, ``lambdalab --help``, ``lambdalab
list`` and ``lambdalab get`` each <= 4x ``python -c pass``.

1. ``lambdalab invoke`` of a warm function, through the background server;
2. ``lambdalab --help``;
3. ``lambdalab list`` (one function), answered by the background server;
4. reported only: the same invoke and list in their own process
   (``LAMBDALAB_NO_DAEMON=1``): a cold start each time, as every invoke was before;
5. ``lambdalab get`` through the background server (target), and, reported only,
   ``publish`` (of unchanged code: the existing version), ``logs``, ``versions``,
   ``alias get`` and ``alias list`` through it, and ``get``, ``publish`` and ``logs`` in
   their own process (each opens the Lab).

Where the time goes: ``python -X importtime -m lambdalab.cli.app``. The commands run with
their ``.pyc`` files written (``PYTHONDONTWRITEBYTECODE`` is dropped from their
environment), as in a learner's install; a first, unmeasured run writes them. Everything
lives in a temporary data dir, and the background server is stopped at the end.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import harness
from harness import Row

TARGET_RATIO = 4.0
HANDLER = "def handler(event, context):\n    return event\n"
FUNCTION = "bench-cli"


def lambdalab_script() -> str:
    return str(Path(sys.executable).with_name("lambdalab"))


def run(args: list[str], env: dict[str, str]) -> None:
    done = subprocess.run(args, env=env, stdin=subprocess.DEVNULL, capture_output=True)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} exited {done.returncode}: {done.stderr.decode()}")


def time_once(args: list[str], env: dict[str, str]) -> float:
    """The wall time of one run of ``args``, in milliseconds."""
    started = harness.time.perf_counter_ns()
    run(args, env)
    return (harness.time.perf_counter_ns() - started) / 1e6


def measure(rounds: int) -> list[Row]:
    with tempfile.TemporaryDirectory(prefix="lambdalab-bench-cli-") as tmp:
        code = Path(tmp, "code")
        code.mkdir()
        (code / "app.py").write_text(HANDLER)
        data = str(Path(tmp, "data"))
        env = {**os.environ, "LAMBDALAB_DATA_DIR": data}
        env.pop("LAMBDALAB_NO_DAEMON", None)
        # A learner's install keeps its compiled .pyc files; without them every run
        # compiles lambdalab/cli/app.py afresh (about as long as the rest of --help).
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        alone = {**env, "LAMBDALAB_NO_DAEMON": "1"}
        cli = lambdalab_script()
        run([cli, "create", FUNCTION, "--code", str(code), "--handler", "app.handler",
             "--publish"], alone)
        run([cli, "alias", "create", FUNCTION, "live", "--version", "1"], alone)
        commands: dict[str, tuple[list[str], dict[str, str]]] = {
            "python -c pass": ([sys.executable, "-c", "pass"], env),
            "invoke (warm)": ([cli, "invoke", FUNCTION, "{}"], env),
            "--help": ([cli, "--help"], env),
            "list": ([cli, "list"], env),
            "invoke (own process)": ([cli, "invoke", FUNCTION, "{}"], alone),
            "list (own process)": ([cli, "list"], alone),
            "get": ([cli, "get", FUNCTION], env),
            "publish": ([cli, "publish", FUNCTION], env),
            "logs": ([cli, "logs", FUNCTION], env),
            "versions": ([cli, "versions", FUNCTION], env),
            "alias get": ([cli, "alias", "get", FUNCTION, "live"], env),
            "alias list": ([cli, "alias", "list", FUNCTION], env),
            "get (own process)": ([cli, "get", FUNCTION], alone),
            "publish (own process)": ([cli, "publish", FUNCTION], alone),
            "logs (own process)": ([cli, "logs", FUNCTION], alone),
        }
        try:
            run([cli, "invoke", FUNCTION, "{}"], env)  # starts the server, warms the function
            for args, with_env in commands.values():  # and writes every .pyc they need
                run(args, with_env)
            samples: dict[str, list[float]] = {name: [] for name in commands}
            for _ in range(rounds):
                for name, (args, with_env) in commands.items():
                    if name.endswith("(own process)") and len(samples[name]) >= max(3, rounds // 4):
                        continue  # slow, and reported only
                    samples[name].append(time_once(args, with_env))
        finally:
            run([cli, "stop"], env)
    return rows_of({name: statistics.median(s) for name, s in samples.items()},
                   {name: len(s) for name, s in samples.items()})


def rows_of(medians: dict[str, float], counts: dict[str, int]) -> list[Row]:
    base = medians["python -c pass"]
    rows = []
    for figure, name, key, target in (
        ("1", "lambdalab invoke, warm (background server)", "invoke (warm)", True),
        ("2", "lambdalab --help", "--help", True),
        ("3", "lambdalab list (background server)", "list", True),
        ("4", "lambdalab invoke in its own process (cold)", "invoke (own process)", False),
        ("4", "lambdalab list in its own process", "list (own process)", False),
        ("5", "lambdalab get (background server)", "get", True),
        ("5", "lambdalab publish, unchanged code (background server)", "publish", False),
        ("5", "lambdalab logs (background server)", "logs", False),
        ("5", "lambdalab versions (background server)", "versions", False),
        ("5", "lambdalab alias get (background server)", "alias get", False),
        ("5", "lambdalab alias list (background server)", "alias list", False),
        ("5", "lambdalab get in its own process", "get (own process)", False),
        ("5", "lambdalab publish in its own process", "publish (own process)", False),
        ("5", "lambdalab logs in its own process", "logs (own process)", False),
    ):
        ratio = medians[key] / base
        rows.append(
            Row(
                figure=figure, name=name, unit="ms", measured=medians[key], baseline=base,
                baseline_name="python -c pass (a fresh interpreter, the same rounds)",
                target=f"<= {TARGET_RATIO:g}x baseline" if target else "",
                met=(ratio <= TARGET_RATIO) if target else None,
                samples=counts[key],
            )
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    return harness.main(
        "CLI", __doc__.splitlines()[0], measure, {"quick": 5, "full": 30}, argv, summary=True
    )


if __name__ == "__main__":
    sys.exit(main())
