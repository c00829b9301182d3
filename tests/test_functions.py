"""The control plane: create, read, update, delete; validation; persistence."""

from __future__ import annotations

import base64
import hashlib
import io
import zipfile

import pytest

from lambdalab import (
    InvalidParameterValueException,
    Lab,
    ResourceConflictException,
    ResourceNotFoundException,
    ValidationException,
)
from lambdalab.limits import DEFAULT_ACCOUNT_ID

from .conftest import ECHO
from .edge_support import readable_entry


def test_create_function_reports_aws_configuration(lab, code):
    config = lab.create_function(
        "hello", code(app=ECHO), runtime="python3.12", handler="app.handler",
        memory_size=256, timeout=10, environment={"STAGE": "dev"}, description="greets",
    )
    aws = config.to_aws()
    assert aws["FunctionName"] == "hello"
    assert aws["FunctionArn"] == f"arn:aws:lambda:us-east-1:{DEFAULT_ACCOUNT_ID}:function:hello"
    assert aws["Version"] == "$LATEST"
    assert aws["MemorySize"] == 256 and aws["Timeout"] == 10
    assert aws["Environment"] == {"Variables": {"STAGE": "dev"}}
    assert aws["EphemeralStorage"] == {"Size": 512}
    assert aws["State"] == "Pending" and aws["PackageType"] == "Zip"  # as AWS answers
    assert lab.get_function_configuration("hello").state == "Active"
    assert aws["Role"].startswith("arn:aws:iam::000000000000:role/")


def test_defaults_are_aws_defaults(lab, code):
    config = lab.create_function("f", code(app=ECHO), handler="app.handler")
    assert (config.memory_size, config.timeout, config.ephemeral_storage) == (128, 3, 512)


def test_code_sha256_is_base64_sha256_of_the_zip(lab, code, tmp_path):
    root = code(app=ECHO)
    config = lab.create_function("f", root, handler="app.handler")
    blob = (lab.store.blob_dir / config.code_blob).read_bytes()
    assert config.code_sha256 == base64.b64encode(hashlib.sha256(blob).digest()).decode()
    assert config.code_size == len(blob)
    # zipping is deterministic: the same directory gives the same CodeSha256
    again = lab.create_function("g", root, handler="app.handler")
    assert again.code_sha256 == config.code_sha256


def test_get_list_update_delete(lab, code):
    lab.create_function("a", code(app=ECHO), handler="app.handler")
    lab.create_function("b", code(app=ECHO), handler="app.handler")
    assert [f.function_name for f in lab.list_functions()] == ["a", "b"]
    details = lab.get_function("a")
    assert details.to_aws()["Code"]["RepositoryType"] == "S3"
    before = details.configuration.revision_id
    updated = lab.update_function_configuration("a", memory_size=512, timeout=30)
    assert (updated.memory_size, updated.timeout) == (512, 30)
    assert updated.revision_id != before
    new_code = lab.update_function_code("a", code(app="def handler(e, c):\n    return 'v2'\n"))
    assert new_code.code_sha256 != details.configuration.code_sha256
    assert lab.invoke("a").json() == "v2"
    lab.delete_function("a")
    assert [f.function_name for f in lab.list_functions()] == ["b"]
    with pytest.raises(ResourceNotFoundException, match="function:a"):
        lab.get_function("a")


def test_creating_twice_conflicts(lab, code):
    lab.create_function("f", code(app=ECHO), handler="app.handler")
    with pytest.raises(ResourceConflictException, match="already exist"):
        lab.create_function("f", code(app=ECHO), handler="app.handler")


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"function_name": "bad name"}, "FunctionName"),
        ({"function_name": "x" * 65}, "FunctionName"),
        ({"memory_size": 10241}, "MemorySize"),
        ({"timeout": 901}, "Timeout"),
        ({"handler": "nodot"}, "Handler"),
        ({"handler": "app handler"}, "Handler"),
        ({"runtime": "python2.7"}, "Runtime"),
        ({"description": "d" * 257}, "Description"),
        ({"environment": {"1BAD": "x"}}, "Environment"),
        ({"environment": {"AWS_REGION": "x"}}, "reserved keys"),
        ({"environment": {"BIG": "x" * 5000}}, "4KB"),
    ],
)
def test_bad_configuration_names_field_and_leaves_nothing_behind(lab, code, kwargs, field):
    args = {"function_name": "f", "code": code(app=ECHO), "handler": "app.handler", **kwargs}
    with pytest.raises(InvalidParameterValueException, match=field):
        lab.create_function(**args)
    assert lab.list_functions() == []


def test_range_errors_say_what_is_allowed(lab, code):
    with pytest.raises(InvalidParameterValueException) as err:
        lab.create_function("f", code(app=ECHO), handler="app.handler", memory_size=10241)
    assert "10241" in err.value.message and "128 to 10240" in err.value.message


@pytest.mark.parametrize(
    "kwargs, member",
    [({"memory_size": 127}, "memorySize"), ({"timeout": 0}, "timeout"),
     ({"ephemeral_storage": 511}, "ephemeralStorage.size")],
)
def test_below_the_models_minimum_is_a_validation_error(lab, code, kwargs, member):
    """Below botocore's model's minimum Lambda answers ValidationException (as the edge
    does: tests/test_cli_messages.py compares the two)."""
    args = {"function_name": "f", "code": code(app=ECHO), "handler": "app.handler", **kwargs}
    with pytest.raises(ValidationException, match=f"at '{member}' failed to satisfy constraint"):
        lab.create_function(**args)
    assert lab.list_functions() == []


def test_zip_code_and_zip_slip_rejected(lab, tmp_path):
    good = io.BytesIO()
    with zipfile.ZipFile(good, "w") as zf:
        zf.writestr(readable_entry("pkg/__init__.py"), "")
        zf.writestr(readable_entry("pkg/app.py"), "def handler(e, c):\n    return 'zipped'\n")
    path = tmp_path / "fn.zip"
    path.write_bytes(good.getvalue())
    lab.create_function("z", path, handler="pkg.app.handler")
    assert lab.invoke("z").json() == "zipped"

    evil = io.BytesIO()
    with zipfile.ZipFile(evil, "w") as zf:
        zf.writestr("../../escape.py", "x = 1")
    with pytest.raises(InvalidParameterValueException, match="outside the code root"):
        lab.create_function("evil", evil.getvalue(), handler="escape.handler")
    with pytest.raises(InvalidParameterValueException, match="unzip"):
        lab.create_function("notzip", b"not a zip", handler="a.b")
    assert [f.function_name for f in lab.list_functions()] == ["z"]


def test_missing_code_path_is_a_clear_error(lab, tmp_path):
    with pytest.raises(InvalidParameterValueException, match="does not exist"):
        lab.create_function("f", tmp_path / "nope", handler="app.handler")


def test_python_function_object_deploys_and_keeps_globals(lab):
    calls = {"n": 0}

    def handler(event, context):
        calls["n"] += 1
        return {"n": calls["n"], "name": context.function_name, "doubled": event["x"] * 2}

    config = lab.create_function("obj", handler)
    assert config.handler == "lambda_function.handler"
    assert lab.invoke("obj", {"x": 21}).json() == {"n": 1, "name": "obj", "doubled": 42}
    assert lab.invoke("obj", {"x": 1}).json()["n"] == 2  # warm: its globals survived
    assert calls["n"] == 0  # it ran in the sandbox, not here


def test_everything_survives_a_restart(tmp_path, code):
    data = tmp_path / "data"
    with Lab(data_dir=data) as lab:
        lab.create_function("f", code(app=ECHO), handler="app.handler")
        lab.publish_version("f")
        lab.create_alias("f", "live", "1")
        lab.put_function_concurrency("f", 5)
        lab.invoke("f", {"k": 1})
    with Lab(data_dir=data) as lab:
        assert lab.get_function_configuration("f").handler == "app.handler"
        assert [v.version for v in lab.list_versions_by_function("f")] == ["$LATEST", "1"]
        assert lab.get_alias("f", "live").function_version == "1"
        assert lab.get_function_concurrency("f") == 5
        assert lab.invoke("f", {"k": 2}, qualifier="live").json() == {"k": 2}
        messages = [e.message for e in lab.get_logs("f")]
        assert sum(m.startswith("REPORT") for m in messages) == 2


def test_account_settings(lab, code):
    lab.create_function("f", code(app=ECHO), handler="app.handler")
    lab.put_function_concurrency("f", 100)
    settings = lab.get_account_settings()
    assert settings["AccountLimit"]["ConcurrentExecutions"] == 1000
    assert settings["AccountLimit"]["UnreservedConcurrentExecutions"] == 900
    assert settings["AccountUsage"]["FunctionCount"] == 1


def test_account_settings_code_size_limits_are_aws_figures(lab):
    """AWS's documented GetAccountSettings answer (75 GB of code storage, 250 MB
    unzipped, 50 MB zipped): https://docs.aws.amazon.com/lambda/latest/dg/example_lambda_GetAccountSettings_section.html"""
    limit = lab.get_account_settings()["AccountLimit"]
    assert limit["TotalCodeSize"] == 80530636800
    assert limit["CodeSizeUnzipped"] == 262144000
    assert limit["CodeSizeZipped"] == 52428800


def test_every_thread_sees_what_another_process_commits(tmp_path, code, monkeypatch):
    """The registry's cache notices another process's commits by SQLite's data_version.
    Each connection (one per thread) numbers the changes it has noticed, so reading the
    number from whichever thread happened to check missed changes; it is read from one
    connection now."""
    from concurrent.futures import ThreadPoolExecutor

    from lambdalab import store

    monkeypatch.setattr(store, "ANSWERS_RECHECK_S", -1.0)  # check on every read
    data = tmp_path / "data"
    with Lab(data_dir=data) as lab, Lab(data_dir=data) as other, ThreadPoolExecutor(1) as thread:
        lab.create_function("f", code(app=ECHO), runtime="python3.12", handler="app.handler")

        def timeout() -> int:
            return lab.get_function_configuration("f").timeout

        seen = []
        for value in range(4, 30):
            other.update_function_configuration("f", timeout=value)
            seen.append((value, thread.submit(timeout).result()))
            other.update_function_configuration("f", timeout=value + 100)
            other.update_function_configuration("f", timeout=value + 200)
            seen.append((value + 200, timeout()))
        assert [(want, got) for want, got in seen if want != got] == []
