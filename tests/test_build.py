"""``lambdalab build``, as ``sam build``: each function's code copied into
``.aws-sam/build/<LogicalId>`` with its dependencies installed (npm, pip), a template
pointing there, which ``lambdalab deploy`` then prefers; an unbuilt Node.js function's
missing dependencies are refused before anything is made.

Every dependency here is a local folder: no test reaches a package registry."""

from __future__ import annotations

import json
import shutil
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from lambdalab import Lab
from lambdalab.cli import app as cli
from lambdalab_cloudformation import TemplateError, cloudformation_of

needs_npm = pytest.mark.skipif(shutil.which("npm") is None or shutil.which("node") is None,
                               reason="Node.js and npm are not installed")

NODE_TEMPLATE = """\
Transform: AWS::Serverless-2016-10-31
Globals:
  Function: {Runtime: nodejs20.x, Timeout: 10}
Resources:
  Greet:
    Type: AWS::Serverless::Function
    Properties: {CodeUri: src, Handler: index.handler}
  GreetAgain:
    Type: AWS::Serverless::Function
    Properties: {CodeUri: src, Handler: index.handler}
"""
NODE_HANDLER = """\
const { greet } = require('greeter');
const fs = require('fs');
exports.handler = async (event) => ({
  message: greet(event.name),
  devtool: fs.existsSync(__dirname + '/node_modules/devtool'),
});
"""

PYTHON_TEMPLATE = """\
AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Resources:
  Shout:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: hello/
      Handler: app.handler
      Runtime: python3.11
"""
PYTHON_HANDLER = """\
import shouter

def handler(event, context):
    return shouter.shout(event["name"])
"""
# A PEP 517 backend inside the package itself: pip builds the wheel without fetching
# setuptools from an index.
BACKEND = """\
import base64, hashlib, io, zipfile

NAME, VERSION = "shouter", "1.0"
DIST = f"{NAME}-{VERSION}.dist-info"

def get_requires_for_build_wheel(config_settings=None):
    return []

def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    files = {
        "shouter.py": open("shouter.py", "rb").read(),
        f"{DIST}/METADATA": f"Metadata-Version: 2.1\\nName: {NAME}\\nVersion: {VERSION}\\n".encode(),
        f"{DIST}/WHEEL": b"Wheel-Version: 1.0\\nGenerator: test\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n",
    }
    record = ""
    for name, data in files.items():
        sha = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record += f"{name},sha256={sha},{len(data)}\\n"
    files[f"{DIST}/RECORD"] = (record + f"{DIST}/RECORD,,\\n").encode()
    wheel = f"{NAME}-{VERSION}-py3-none-any.whl"
    with zipfile.ZipFile(f"{wheel_directory}/{wheel}", "w") as out:
        for name, data in files.items():
            out.writestr(name, data)
    return wheel
"""


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return root


def node_project(root: Path, dependency: str = "file:../greeter") -> Path:
    write(root, {
        "template.yaml": NODE_TEMPLATE,
        "src/index.js": NODE_HANDLER,
        "src/package.json": json.dumps({"name": "greet", "version": "1.0.0", "dependencies": {"greeter": dependency},
                                        "devDependencies": {"devtool": "file:../devtool"}}),
        "greeter/package.json": json.dumps({"name": "greeter", "version": "1.0.0", "main": "index.js"}),
        "greeter/index.js": "exports.greet = (name) => `Hello, ${name}!`;\n",
        "devtool/package.json": json.dumps({"name": "devtool", "version": "1.0.0"}),
    })
    return root / "template.yaml"


def python_project(root: Path) -> Path:
    write(root, {
        "template.yaml": PYTHON_TEMPLATE,
        "hello/app.py": PYTHON_HANDLER,
        "hello/requirements.txt": "../shouter\n",
        "shouter/shouter.py": "def shout(name):\n    return name.upper() + '!'\n",
        "shouter/backend.py": BACKEND,
        "shouter/pyproject.toml": """\
            [build-system]
            requires = []
            build-backend = "backend"
            backend-path = ["."]

            [project]
            name = "shouter"
            version = "1.0"
            """,
    })
    return root / "template.yaml"


def run(*args: str, data_dir: Path | None = None) -> Any:
    prefix = ["--data-dir", str(data_dir)] if data_dir else []
    return CliRunner().invoke(cli.main, [*prefix, *args])


def physical(lab: Lab, stack: str, logical_id: str) -> str:
    found = cloudformation_of(lab).stacks.get(stack)
    assert found is not None
    return found.resources[logical_id].made.physical_id


@needs_npm
def test_a_node_function_is_built_with_its_dependencies_and_not_its_dev_dependencies(
        lab: Lab, tmp_path: Path) -> None:
    template = node_project(tmp_path / "app")
    built = run("build", "--template", str(template))
    assert built.exit_code == 0, built.output
    assert "Building Greet (nodejs20.x)" in built.output and "dependencies installed with npm" in built.output
    # one folder and runtime is built once (sam build's build definitions), then copied
    assert "Built GreetAgain (a copy of Greet" in built.output and built.output.count("Building ") == 1
    folder = tmp_path / "app" / ".aws-sam" / "build" / "Greet"
    assert (folder / "node_modules" / "greeter" / "index.js").is_file()
    assert not (folder / "node_modules" / "greeter").is_symlink()  # a copy: the folder holds all it needs
    assert not (folder / "node_modules" / "devtool").exists()
    written = yaml.safe_load((folder.parent / "template.yaml").read_text())
    assert written["Resources"]["Greet"]["Properties"]["CodeUri"] == "Greet"
    cloudformation_of(lab).deployer.deploy("app", folder.parent / "template.yaml")
    for function in ("Greet", "GreetAgain"):
        answer = lab.invoke(physical(lab, "app", function), {"name": "Ada"})
        assert answer.function_error is None, answer.payload
        assert answer.json() == {"message": "Hello, Ada!", "devtool": False}


def test_a_python_function_is_built_with_pip_into_its_folder(lab: Lab, tmp_path: Path) -> None:
    template = python_project(tmp_path / "app")
    built = run("build", "--template", str(template))
    assert built.exit_code == 0, built.output
    folder = tmp_path / "app" / ".aws-sam" / "build" / "Shout"
    assert (folder / "shouter.py").is_file() and (folder / "app.py").is_file()
    cloudformation_of(lab).deployer.deploy("app", folder.parent / "template.yaml")
    answer = lab.invoke(physical(lab, "app", "Shout"), {"name": "ada"})
    assert answer.function_error is None, answer.payload
    assert answer.json() == "ADA!"


def test_deploy_prefers_the_built_template_and_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    python_project(tmp_path / "app")
    monkeypatch.chdir(tmp_path / "app")
    assert run("build").exit_code == 0
    deployed = run("deploy", data_dir=tmp_path / "data")
    assert deployed.exit_code == 0, deployed.output
    assert "Deployed .aws-sam/build/template.yaml" in deployed.output
    assert "Stack app: CREATE_COMPLETE" in deployed.output  # named after the project, not "build"
    with Lab(data_dir=tmp_path / "data") as lab:
        assert lab.invoke(physical(lab, "app", "Shout"), {"name": "bo"}).json() == "BO!"


def test_an_unbuilt_node_function_is_refused_before_anything_is_made(lab: Lab, tmp_path: Path) -> None:
    template = node_project(tmp_path / "app")
    with pytest.raises(TemplateError) as refused:
        cloudformation_of(lab).deployer.deploy("app", template)
    message = refused.value.message
    assert "Greet needs greeter" in message and "Run `lambdalab build` first" in message
    assert "devtool" not in message  # a devDependency is not the function's
    assert lab.list_functions() == [] and cloudformation_of(lab).stacks.get("app") is None


def test_the_deploy_command_names_the_unbuilt_function_and_lambdalab_build(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    node_project(tmp_path / "app")
    monkeypatch.chdir(tmp_path / "app")
    refused = run("deploy", data_dir=tmp_path / "data")
    assert refused.exit_code == 2
    assert "Greet needs greeter" in refused.output and "lambdalab build" in refused.output


@needs_npm
def test_a_failing_npm_says_which_function_and_shows_its_output(tmp_path: Path) -> None:
    template = node_project(tmp_path / "app", dependency="file:../no-such-folder")
    failed = run("build", "--template", str(template))
    assert failed.exit_code == 2
    assert "Function Greet: npm install failed" in failed.output
    assert "no-such-folder" in failed.output  # npm's own last lines


def test_a_failing_pip_says_which_function(tmp_path: Path) -> None:
    template = python_project(tmp_path / "app")
    (tmp_path / "app" / "hello" / "requirements.txt").write_text("../no-such-folder\n")
    failed = run("build", "--template", str(template))
    assert failed.exit_code == 2
    assert "Function Shout: pip install failed" in failed.output


def test_without_npm_the_build_says_npm_is_needed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    template = node_project(tmp_path / "app")
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    failed = run("build", "--template", str(template))
    assert failed.exit_code == 2
    assert "Greet" in failed.output and "npm, which lambdalab build runs" in failed.output


def test_a_layer_with_a_build_method_is_built_into_its_runtime_folder(tmp_path: Path) -> None:
    write(tmp_path / "app", {
        "template.yaml": """\
            Transform: AWS::Serverless-2016-10-31
            Resources:
              Shared:
                Type: AWS::Serverless::LayerVersion
                Properties: {ContentUri: shared}
                Metadata: {BuildMethod: python3.11}
              Plain:
                Type: AWS::Serverless::LayerVersion
                Properties: {ContentUri: plain}
              Api:
                Type: AWS::Serverless::Api
                Properties: {StageName: dev, DefinitionUri: api.yaml}
            """,
        "shared/util.py": "X = 1\n",
        "plain/readme.txt": "as is\n",
        "api.yaml": "openapi: 3.0.1\n",
    })
    built = run("build", "--template", str(tmp_path / "app" / "template.yaml"))
    assert built.exit_code == 0, built.output
    out = tmp_path / "app" / ".aws-sam" / "build"
    assert (out / "Shared" / "python" / "util.py").is_file()
    assert "Not built: Plain" in built.output
    resources = yaml.safe_load((out / "template.yaml").read_text())["Resources"]
    assert resources["Shared"]["Properties"]["ContentUri"] == "Shared"
    assert (out / resources["Plain"]["Properties"]["ContentUri"] / "readme.txt").is_file()
    assert (out / resources["Api"]["Properties"]["DefinitionUri"]).is_file()


def test_a_hostile_template_is_refused_without_touching_anything_outside_the_build(tmp_path: Path) -> None:
    keep = write(tmp_path / "keep", {"precious.txt": "mine\n"})
    write(tmp_path / "app", {
        "template.yaml": """\
            Transform: AWS::Serverless-2016-10-31
            Globals: {Function: [not, a, mapping]}
            Resources:
              ../../../keep:
                Type: AWS::Serverless::Function
                Properties: {CodeUri: src, Handler: app.handler, Runtime: python3.11}
                Metadata: not a mapping
            """,
        "src/app.py": "def handler(event, context):\n    return 1\n",
    })
    refused = run("build", "--template", str(tmp_path / "app" / "template.yaml"))
    assert refused.exit_code == 2, refused.output
    assert "Resource name '../../../keep' is non alphanumeric" in refused.output
    assert (keep / "precious.txt").read_text() == "mine\n"


def test_a_build_folder_that_is_a_file_is_an_error_not_a_traceback(tmp_path: Path) -> None:
    template = python_project(tmp_path / "app")
    (tmp_path / "taken").write_text("a file\n")
    failed = run("build", "--template", str(template), "--build-dir", str(tmp_path / "taken" / "build"))
    assert failed.exit_code == 2 and "Cannot make the build folder" in failed.output, failed.output
