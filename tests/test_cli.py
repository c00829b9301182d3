"""The ``lambdalab`` command line: output, exit codes and error rendering.

Most tests drive the click group in-process with ``CliRunner`` (fast); one runs the real
console script, as a learner would after ``pip install -e .``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Callable

import click
import pytest
from click.testing import CliRunner, Result

from lambdalab import Lab
from lambdalab.cli import app as cli
from lambdalab.cli.demo import DEMO_FUNCTION_NAME, report_fields

from .conftest import ECHO

COUNTER = """
COUNT = 0

def handler(event, context):
    global COUNT
    COUNT += 1
    print("invoked", COUNT)
    return {"count": COUNT, "version": context.function_version, "event": event}
"""

FAILING = """
def handler(event, context):
    raise ValueError("no good")
"""


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def run(data_dir: Path) -> Callable[..., Result]:
    """``run("invoke", "hello")`` runs ``lambdalab --data-dir DATA invoke hello``."""
    runner = CliRunner()

    def invoke(*args: str, input: str | bytes | None = None) -> Result:
        return runner.invoke(cli.main, ["--data-dir", str(data_dir), *args], input=input)

    return invoke


@pytest.fixture
def hello(run: Callable[..., Result], code: Callable[..., Path]) -> str:
    """A function ``hello`` whose handler counts its invokes."""
    result = run("create", "hello", "--code", str(code(app=COUNTER)), "--handler", "app.handler")
    assert result.exit_code == 0, result.output
    return "hello"


def assert_api_error(result: Result, code: str) -> None:
    """Exit 2 with ``Code: message`` on stderr, and no traceback anywhere."""
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith(f"{code}: "), result.stderr
    assert "Traceback" not in result.output
    assert isinstance(result.exception, SystemExit)


# -- functions ------------------------------------------------------------------------


def test_create_passes_every_setting_to_the_function(run, code, data_dir) -> None:
    result = run(
        "create", "cfg", "--code", str(code(app=ECHO)), "--handler", "app.handler",
        "--memory-size", "256", "--timeout", "7", "--env", "GREETING=hi", "--env", "MODE=a=b",
        "--description", "configured", "--publish",
    )
    assert result.exit_code == 0, result.output
    assert "Created cfg (version 1)" in result.stdout

    with Lab(data_dir=data_dir) as lab:
        config = lab.get_function_configuration("cfg", "1")
    assert (config.memory_size, config.timeout, config.description) == (256, 7, "configured")
    assert config.environment == {"GREETING": "hi", "MODE": "a=b"}


def test_get_prints_aws_json(run, hello) -> None:
    result = run("get", hello)
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert data["Configuration"]["FunctionName"] == "hello"
    assert data["Configuration"]["MemorySize"] == 128
    assert data["Code"]["RepositoryType"] == "S3"


def test_update_config_changes_only_what_is_given(run, hello) -> None:
    assert run("update-config", hello, "--timeout", "10").exit_code == 0
    config = json.loads(run("get", hello).stdout)["Configuration"]
    assert (config["Timeout"], config["MemorySize"], config["Handler"]) == (10, 128, "app.handler")


def test_update_code_changes_what_runs(run, hello, code) -> None:
    result = run("update-code", hello, "--code", str(code(app=ECHO)))
    assert result.exit_code == 0, result.output
    assert json.loads(run("invoke", hello, '{"echo": true}').stdout) == {"echo": True}


def test_list_shows_functions_and_a_hint_when_empty(run, code) -> None:
    assert "No functions yet" in run("list").stdout
    run("create", "listed-fn", "--code", str(code(app=ECHO)), "--handler", "app.handler")
    assert "listed-fn" in run("list").stdout


def test_delete_removes_the_function(run, hello) -> None:
    assert run("delete", hello).exit_code == 0
    assert_api_error(run("get", hello), "ResourceNotFoundException")


def test_bad_configuration_is_an_api_error_naming_the_field(run, code) -> None:
    result = run(
        "create", "big", "--code", str(code(app=ECHO)), "--handler", "app.handler",
        "--memory-size", "20000",  # above Lambda's limit (below the model's minimum: ValidationException)
    )
    assert_api_error(result, "InvalidParameterValueException")
    assert "MemorySize" in result.stderr


def test_env_without_equals_is_a_usage_error(run, code) -> None:
    result = run("create", "f", "--code", str(code(app=ECHO)), "--handler", "a.b", "--env", "NOPE")
    assert result.exit_code == 2
    assert "KEY=VALUE" in result.stderr


def test_data_dir_defaults_to_the_environment_variable(tmp_path, code) -> None:
    where = tmp_path / "from-env"
    runner = CliRunner(env={"LAMBDALAB_DATA_DIR": str(where)})
    args = ["create", "envdir", "--code", str(code(app=ECHO)), "--handler", "app.handler"]
    assert runner.invoke(cli.main, args).exit_code == 0
    with Lab(data_dir=where) as lab:
        assert [f.function_name for f in lab.list_functions()] == ["envdir"]


# -- invoke ---------------------------------------------------------------------------


def test_invoke_prints_the_payload_and_exits_0(run, hello) -> None:
    result = run("invoke", hello, '{"k": 1}')
    assert result.exit_code == 0
    assert json.loads(result.stdout) == {"count": 1, "version": "$LATEST", "event": {"k": 1}}
    assert result.stderr == ""


def test_log_type_tail_prints_the_log_on_stderr(run, hello) -> None:
    result = run("invoke", hello, "--log-type", "Tail")
    assert result.exit_code == 0
    lines = result.stderr.splitlines()
    assert lines[0].startswith("START RequestId: ")
    assert "invoked 1" in lines
    assert lines[-1].startswith("REPORT RequestId: ")
    assert "Init Duration" in report_fields(result.stderr)  # no server (conftest): cold
    assert "START" not in result.stdout


def test_payload_from_stdin_and_from_a_file(run, hello, tmp_path) -> None:
    piped = run("invoke", hello, "--payload-file", "-", input='{"from": "stdin"}')
    assert json.loads(piped.stdout)["event"] == {"from": "stdin"}
    path = tmp_path / "event.json"
    path.write_text('{"from": "file"}')
    assert json.loads(run("invoke", hello, "--payload-file", str(path)).stdout)["event"] == {
        "from": "file"
    }


def test_payload_twice_is_a_usage_error(run, hello) -> None:
    result = run("invoke", hello, "{}", "--payload-file", "-", input="{}")
    assert result.exit_code == 2
    assert "not both" in result.stderr and "PAYLOAD" in result.stderr


def test_invoke_unknown_function_exits_2_with_resource_not_found(run) -> None:
    result = run("invoke", "nobody")
    assert_api_error(result, "ResourceNotFoundException")
    assert "nobody" in result.stderr


def test_invalid_json_payload_exits_2(run, hello) -> None:
    assert_api_error(run("invoke", hello, "{not json"), "InvalidRequestContentException")


def test_function_error_prints_the_error_payload_and_exits_1(run, code) -> None:
    run("create", "fails", "--code", str(code(app=FAILING)), "--handler", "app.handler")
    result = run("invoke", "fails")
    assert result.exit_code == 1
    error = json.loads(result.stdout)
    assert (error["errorType"], error["errorMessage"]) == ("ValueError", "no good")
    assert "FunctionError: Unhandled" in result.stderr
    assert "add --log-type Tail to see its log" in result.stderr
    tailed = run("invoke", "fails", "--log-type", "Tail")
    assert "Traceback" in tailed.stderr and "--log-type Tail" not in tailed.stderr


def test_event_and_dry_run_report_their_status(run, hello) -> None:
    dry = run("invoke", hello, "--invocation-type", "DryRun")
    assert dry.exit_code == 0 and "StatusCode 204" in dry.stderr and dry.stdout == ""
    event = run("invoke", hello, '{"async": 1}', "--invocation-type", "Event")
    assert event.exit_code == 0 and "StatusCode 202" in event.stderr
    assert "invoked 1" in run("logs", hello).stdout  # the queued event ran


def test_throttled_invoke_exits_2(run, hello) -> None:
    assert run("concurrency", "put", hello, "0").exit_code == 0
    assert "0 reserved" in run("concurrency", "get", hello).stdout
    assert_api_error(run("invoke", hello), "TooManyRequestsException")
    assert run("concurrency", "delete", hello).exit_code == 0
    assert "no reserved" in run("concurrency", "get", hello).stdout
    assert run("invoke", hello).exit_code == 0


# -- versions and aliases -------------------------------------------------------------


def publish_two_versions(run, name: str, code) -> None:
    assert "version 1" in run("publish", name).stdout
    run("update-code", name, "--code", str(code(app=ECHO)))
    assert "version 2" in run("publish", name, "--description", "echo").stdout


def test_publish_and_versions(run, hello, code) -> None:
    publish_two_versions(run, hello, code)
    table = run("versions", hello).stdout
    assert "$LATEST" in table and " 1 " in table and " 2 " in table and "echo" in table


def test_alias_routing_is_passed_as_weights(run, hello, code) -> None:
    publish_two_versions(run, hello, code)
    created = run("alias", "create", hello, "live", "--version", "1", "--routing", "2=0.25",
                  "--json")
    assert created.exit_code == 0, created.output
    assert json.loads(created.stdout)["RoutingConfig"] == {"AdditionalVersionWeights": {"2": 0.25}}
    assert "2=0.25" in run("alias", "list", hello).stdout

    updated = run("alias", "update", hello, "live", "--no-routing", "--json")
    assert "RoutingConfig" not in json.loads(updated.stdout)
    moved = run("alias", "update", hello, "live", "--version", "2")
    assert json.loads(run("alias", "get", hello, "live").stdout)["FunctionVersion"] == "2"
    assert moved.exit_code == 0
    assert json.loads(run("invoke", hello, '{"via": "alias"}', "--qualifier", "live").stdout) == {
        "via": "alias"
    }


def test_alias_create_and_update_print_one_line_like_publish(run, hello, code) -> None:
    publish_two_versions(run, hello, code)
    created = run("alias", "create", hello, "live", "--version", "1", "--routing", "2=0.25")
    assert created.exit_code == 0
    assert created.stdout == f"Created alias live of {hello}: version 1 (and 2=0.25)\n"
    updated = run("alias", "update", hello, "live", "--version", "2", "--no-routing",
                  "--description", "now 2")
    assert updated.stdout == f"Updated alias live of {hello}: version 2, 'now 2'\n"


@pytest.mark.parametrize("routing", ["2", "2=lots"])
def test_bad_routing_is_a_usage_error(run, hello, routing) -> None:
    result = run("alias", "create", hello, "live", "--version", "1", "--routing", routing)
    assert result.exit_code == 2
    assert "--routing" in result.stderr


def test_alias_errors_are_api_errors(run, hello) -> None:
    assert run("alias", "create", hello, "live", "--version", "$LATEST").exit_code == 0
    assert_api_error(
        run("alias", "create", hello, "live", "--version", "$LATEST"), "ResourceConflictException"
    )
    assert run("alias", "delete", hello, "live").exit_code == 0
    assert_api_error(run("alias", "get", hello, "live"), "ResourceNotFoundException")


# -- logs, plugins, help --------------------------------------------------------------


def test_logs_prints_the_log_group(run, hello) -> None:
    run("invoke", hello)
    out = run("logs", hello).stdout
    assert "START RequestId" in out and "invoked 1" in out and "REPORT RequestId" in out


def test_logs_follow_prints_new_events_until_ctrl_c(run, hello, data_dir, monkeypatch) -> None:
    polls = []

    def sleep(seconds: float) -> None:
        polls.append(seconds)
        if len(polls) == 1:
            with Lab(data_dir=data_dir) as other:  # another process would do this
                other.invoke(hello, {"late": True})
        else:
            raise KeyboardInterrupt

    monkeypatch.setattr(cli, "_sleep", sleep)
    result = run("logs", hello, "--follow")
    assert result.exit_code == 0
    assert result.stdout.count("invoked 1") == 1
    assert len(polls) == 2


def test_logs_of_unknown_function(run) -> None:
    assert_api_error(run("logs", "ghost"), "ResourceNotFoundException")


def test_plugins_lists_the_subprocess_backend(run) -> None:
    result = run("plugins")
    assert result.exit_code == 0
    assert "subprocess" in result.stdout
    assert "lambdalab_sandbox_b" in result.stdout  # the hook it implements (may wrap)


def test_every_command_has_help_text() -> None:
    def walk(group: click.Group, prefix: str = ""):
        for name, command in group.commands.items():
            yield prefix + name, command
            if isinstance(command, click.Group):
                yield from walk(command, prefix + name + " ")

    missing = [name for name, command in walk(cli.main) if not (command.help or "").strip()]
    assert missing == []


# -- the demo -------------------------------------------------------------------------


def lambdalab_script() -> str:
    beside = Path(sys.executable).with_name("lambdalab")
    found = str(beside) if beside.exists() else shutil.which("lambdalab")
    assert found, "the lambdalab console script is not installed (pip install -e .)"
    return found


def test_demo_console_script_shows_cold_then_warm(data_dir, run) -> None:
    done = subprocess.run(
        [lambdalab_script(), "--data-dir", str(data_dir), "demo"],
        capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert f"Created function {DEMO_FUNCTION_NAME}" in out
    reports = [line for line in out.splitlines() if "REPORT RequestId" in line]
    assert len(reports) == 2
    assert "Init Duration" in reports[0] and "Init Duration" not in reports[1]
    first = out.index("Hello from invoke number 1")
    assert out.index("Hello from invoke number 2") > first
    assert "The counter survived" in out
    assert "lambdalab lab start 1" in out

    again = run("demo")  # re-running on the same data dir updates the function
    assert again.exit_code == 0, again.output
    assert f"Updated function {DEMO_FUNCTION_NAME}" in again.stdout
    assert "Hello from invoke number 2" in again.stdout


def test_readme_starts_with_the_two_commands() -> None:
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    assert readme.startswith(
        "```\n"
        "python3 -m venv .venv && . .venv/bin/activate && pip install -e . && lambdalab demo\n"
        "pip install -e '.[test]' && pytest\n"
        "```\n"
    )


def test_a_generated_event_pipes_straight_into_invoke(data_dir, code) -> None:
    """``lambdalab event generate sns | lambdalab invoke fn``, as two real processes."""
    exe = shutil.which("lambdalab", path=str(Path(sys.executable).parent)) or "lambdalab"
    src = code(app=ECHO)
    base = [exe, "--data-dir", str(data_dir)]
    subprocess.run([*base, "create", "echo", "--code", str(src), "--handler", "app.handler"], check=True)
    generate = subprocess.Popen([*base, "event", "generate", "sns"], stdout=subprocess.PIPE)
    invoked = subprocess.run([*base, "invoke", "echo"], stdin=generate.stdout, capture_output=True)
    generate.wait()
    assert invoked.returncode == 0, invoked.stderr
    assert json.loads(invoked.stdout)["Records"][0]["EventSource"] == "aws:sns"
