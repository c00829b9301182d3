"""The CLI's messages speak the CLI's language: options, not Python method names."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest
from botocore.config import Config

from lambdalab import Lab

from .conftest import ECHO
from .edge_support import edge  # noqa: F401  (fixture)
from .test_cli import data_dir, run  # noqa: F401  (fixtures)

HANDLER_MODULE = """
def handler(event, context):
    return {"ok": True}

def helper(x):
    return x
"""


def test_deleting_latest_says_to_drop_the_qualifier(run, code) -> None:
    run("create", "fn", "--code", str(code(app=ECHO)), "--handler", "app.handler")
    result = run("delete", "fn", "--qualifier", "$LATEST")
    assert result.exit_code == 2
    assert result.stderr.startswith("InvalidParameterValueException: ")
    assert "delete_function" not in result.stderr
    assert "lambdalab delete fn` without --qualifier" in result.stderr
    assert run("get", "fn").exit_code == 0  # nothing was deleted


def test_code_may_be_a_single_py_file(run, code, data_dir) -> None:
    single = code(app=ECHO) / "app.py"
    result = run("create", "one", "--code", str(single), "--handler", "app.handler")
    assert result.exit_code == 0, result.output
    assert json.loads(run("invoke", "one", '{"a": 1}').stdout) == {"a": 1}
    with Lab(data_dir=data_dir) as lab:  # the package holds that file, nothing else
        assert lab.get_function("one").configuration.code_size < 1000


def test_code_that_is_another_kind_of_file_is_a_usage_error(run, tmp_path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("hello")
    result = run("create", "fn", "--code", str(notes), "--handler", "app.handler")
    assert result.exit_code == 2
    assert "--code takes a directory" in result.stderr and ".zip" in result.stderr
    assert "unzip" not in result.stderr


def test_code_that_does_not_exist_is_a_usage_error(run, tmp_path) -> None:
    result = run("create", "fn", "--code", str(tmp_path / "nowhere"), "--handler", "app.handler")
    assert result.exit_code == 2
    assert "does not exist; --code takes a directory" in result.stderr
    assert "Python function" not in result.stderr and "zip bytes" not in result.stderr


def test_a_missing_handler_says_which_option_not_handler_none(run, code) -> None:
    result = run("create", "fn", "--code", str(code(app=ECHO)))
    assert result.exit_code == 2
    assert "Handler: None" not in result.stderr
    assert "Missing option '--handler'" in result.stderr and "--handler app.handler" in result.stderr


def test_a_misspelt_handler_is_created_with_a_warning(run, code) -> None:
    result = run("create", "fn", "--code", str(code(app=HANDLER_MODULE)), "--handler", "app.handle")
    assert result.exit_code == 0, result.output  # AWS accepts it
    assert "Created fn" in result.stdout
    assert "did you mean app.handler?" in result.stderr
    assert "--log-type Tail" in result.stderr
    assert "Runtime.HandlerNotFound" in result.stderr


def test_a_right_handler_gets_no_warning(run, code) -> None:
    result = run("create", "fn", "--code", str(code(app=HANDLER_MODULE)), "--handler", "app.handler")
    assert result.exit_code == 0 and result.stderr == ""


def test_list_names_the_data_dir_it_read(run, data_dir, code) -> None:
    result = run("list")  # empty, and missing
    assert result.exit_code == 0
    assert str(data_dir.resolve()) in result.stdout.replace("\n", "")
    run("create", "fn", "--code", str(code(app=ECHO)), "--handler", "app.handler")
    assert f"Functions in {data_dir.resolve()}" in run("list").stdout


def test_the_data_dir_is_found_from_a_subfolder(tmp_path, code, monkeypatch) -> None:
    from click.testing import CliRunner

    from lambdalab.cli import app as cli

    monkeypatch.delenv("LAMBDALAB_DATA_DIR", raising=False)
    project = tmp_path / "project"
    deep = project / "src" / "deeper"
    deep.mkdir(parents=True)
    monkeypatch.chdir(project)
    src = code(app=ECHO)
    assert CliRunner().invoke(cli.main, ["create", "fn", "--code", str(src), "--handler", "app.handler"]).exit_code == 0
    assert (project / ".lambdalab").is_dir()
    monkeypatch.chdir(deep)
    listed = CliRunner().invoke(cli.main, ["list"])
    assert "fn" in listed.stdout
    assert not (deep / ".lambdalab").exists()
    assert cli.find_data_dir(deep) == project / ".lambdalab"
    assert cli.find_data_dir(tmp_path) == tmp_path / ".lambdalab"  # none above: here
    monkeypatch.setenv("LAMBDALAB_DATA_DIR", str(tmp_path / "elsewhere"))
    assert cli.find_data_dir(deep) == tmp_path / "elsewhere"


def test_the_data_dir_name_is_the_labs_default() -> None:
    from lambdalab.cli import app as cli
    from lambdalab import lab

    assert cli.DATA_DIR_NAME == lab.DEFAULT_DATA_DIR


MEMORY_100 = (
    "1 validation error detected: Value '100' at 'memorySize' failed to satisfy constraint: "
    "Member must have value greater than or equal to 128"
)


def test_memory_below_the_models_minimum_is_awss_validation_error(run, code) -> None:
    """botocore's Lambda model gives MemorySize a minimum of 128: the CLI prints what
    Lambda answers, ValidationException, and changes nothing."""
    run("create", "fn", "--code", str(code(app=ECHO)), "--handler", "app.handler")
    result = run("update-config", "fn", "--memory-size", "100")
    assert result.exit_code == 2
    assert result.stderr == f"ValidationException: {MEMORY_100}\n"
    assert json.loads(run("get", "fn").stdout)["Configuration"]["MemorySize"] == 128
    created = run("create", "other", "--code", str(code(app=ECHO)), "--handler", "app.handler",
                  "--memory-size", "100", "--timeout", "0")
    assert created.exit_code == 2 and created.stderr.startswith(
        "ValidationException: 2 validation errors detected: ")


def test_lab_and_the_http_edge_answer_a_too_small_setting_alike(lab, code, edge) -> None:
    from botocore.exceptions import ClientError

    from lambdalab import ValidationException

    client = boto3.client(  # no client-side validation: the request reaches the edge
        "lambda", endpoint_url=edge.url, region_name="us-east-1",
        aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="not-checked",
        config=Config(parameter_validation=False, retries={"total_max_attempts": 1}),
    )
    lab.create_function("fn", code(app=ECHO), handler="app.handler")
    for settings, api in (
        ({"memory_size": 100}, {"MemorySize": 100}),
        ({"timeout": 0}, {"Timeout": 0}),
        ({"ephemeral_storage": 100}, {"EphemeralStorage": {"Size": 100}}),
        ({"memory_size": 100, "timeout": 0}, {"MemorySize": 100, "Timeout": 0}),
    ):
        with pytest.raises(ClientError) as wire:
            client.update_function_configuration(FunctionName="fn", **api)
        with pytest.raises(ValidationException) as here:
            lab.update_function_configuration("fn", **settings)
        assert wire.value.response["Error"]["Code"] == "ValidationException"
        assert here.value.message == wire.value.response["Error"]["Message"], settings
    with pytest.raises(ValidationException) as missing:  # checked first, as on AWS
        lab.update_function_configuration("no-such-function", memory_size=100)
    assert missing.value.message == MEMORY_100
    with pytest.raises(ValidationException):
        lab.create_function("small", code(app=ECHO), handler="app.handler", memory_size=100)
    assert [f.function_name for f in lab.list_functions()] == ["fn"]
