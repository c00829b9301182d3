"""``lambdalab build``: each function's code folder copied into ``.aws-sam/build/<LogicalId>``
with its dependencies installed, and a template pointing at those folders, as ``sam build``
does (https://docs.aws.amazon.com/serverless-application-model/latest/developerguide/sam-cli-command-reference-sam-build.html).

The builders follow AWS's ``aws-lambda-builders`` workflows
(https://docs.aws.amazon.com/serverless-application-model/latest/developerguide/serverless-sam-cli-using-build.html):

- ``nodejs*`` with a ``package.json``: ``npm ci`` when a ``package-lock.json`` is there,
  else ``npm install``, both without ``devDependencies``; local ``file:`` dependencies are
  made absolute first (the build folder is elsewhere) and installed as copies, not links,
  so the folder holds all it needs, as a zip would.
- ``python*`` with a ``requirements.txt``: ``pip install -r requirements.txt -t <folder>``
  with the interpreter that runs lambdalab (the one that runs Python functions), caching
  nothing.

A folder is copied rather than ``npm pack``-ed, so ``files`` and ``.npmignore`` are not
applied (``docs/reference/deploy.rst`` says so).
"""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

import yaml

from . import template as templates
from .exceptions import TemplateError

#: ``sam build``'s default output folder, beside the template.
BUILD_DIR = Path(".aws-sam") / "build"
#: Longest a dependency install may take before the build gives up (a registry that
#: never answers must not hang the command).
INSTALL_TIMEOUT_SECONDS = 900
#: Lines of a failed tool's output shown with the error.
TOOL_TAIL_LINES = 15
_LAYER = "AWS::Serverless::LayerVersion"
#: CloudFormation's logical ids: alphanumeric (each names a folder of the build).
_LOGICAL_ID = re.compile(r"[A-Za-z0-9]+")
#: Left out of every copied code folder (``aws-lambda-builders`` leaves out the same).
_NOT_COPIED = (".aws-sam", ".git", "node_modules", "__pycache__", ".venv", "venv", ".pytest_cache")
#: Properties holding a path beside the template that the built template must still reach.
_PATH_PROPERTIES = {
    "AWS::Serverless::Api": "DefinitionUri",
    "AWS::Serverless::HttpApi": "DefinitionUri",
    "AWS::Serverless::StateMachine": "DefinitionUri",
    "AWS::Serverless::Application": "Location",
    "AWS::Lambda::LayerVersion": "Content",
}


class BuildError(TemplateError):
    """A function or layer could not be built; it names which and why."""


@dataclass
class Built:
    """One function or layer ``lambdalab build`` made a folder for."""

    logical_id: str
    folder: Path
    #: ``npm``, ``pip``, or None when there was nothing to install.
    tool: str | None


@dataclass
class BuildResult:
    template: Path
    built: list[Built] = field(default_factory=list)
    #: Layers (and zips) left as they are, each with why.
    not_built: list[str] = field(default_factory=list)


@dataclass
class _Code:
    """A code folder to build: where it is, its runtime and where it goes in the artifact."""

    logical_id: str
    source: Path
    runtime: str
    #: The property of the built template that names the artifact (``CodeUri``…).
    key: str
    #: A layer's runtime folder (``python``, ``nodejs``) the code goes in; "" for a function.
    inside: str = ""

    @property
    def what(self) -> str:
        """How errors name it: ``Function Greet``, ``Layer Shared``."""
        return f"{'Layer' if self.inside else 'Function'} {self.logical_id}"


def build(template_path: Path, build_dir: Path | None = None,
          progress: Callable[[str], None] = lambda line: None) -> BuildResult:
    """Build every function and layer of the template into ``build_dir`` (default
    ``.aws-sam/build`` beside the template) and write its ``template.yaml`` there."""
    original = templates.load(template_path)
    folder = template_path.resolve().parent
    out = (build_dir or folder / BUILD_DIR).resolve()
    built_template = copy.deepcopy(original)
    if templates.is_sam(built_template):
        templates.default_code_uri(built_template)
    result = BuildResult(out / "template.yaml")
    codes = []
    for logical_id, resource in built_template["Resources"].items():
        code = _code_of(logical_id, resource, built_template, folder, result)
        if code is not None:
            codes.append(code)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise BuildError(f"Cannot make the build folder {out}: {e}") from None
    # functions of one folder and runtime are built once, as sam build's build definitions are
    first: dict[tuple[Path, str, str], Built] = {}
    for code in codes:
        same = first.get((code.source, code.runtime, code.inside))
        if same is not None:
            made = _copy_built(code, same, out)
            progress(f"Built {code.logical_id} (a copy of {same.logical_id}: the same folder and runtime)")
        else:
            progress(f"Building {code.logical_id} ({code.runtime}) from {code.source}")
            made = first[(code.source, code.runtime, code.inside)] = _build_one(code, out)
            progress(f"Built {code.logical_id}" + (f" (dependencies installed with {made.tool})" if made.tool else ""))
        result.built.append(made)
        built_template["Resources"][code.logical_id].setdefault("Properties", {})[code.key] = code.logical_id
    _rewrite_paths(built_template, folder, out, {c.logical_id for c in codes})
    try:
        result.template.write_text(yaml.safe_dump(built_template, sort_keys=False))
    except OSError as e:
        raise BuildError(f"Cannot write {result.template}: {e}") from None
    return result


def _code_of(logical_id: str, resource: dict[str, Any], template: Mapping[str, Any], folder: Path,
             result: BuildResult) -> _Code | None:
    found = _code_property(resource, template)
    if found is None or not isinstance(found[0], str) or found[0].startswith("s3://"):
        return None
    path, key, runtime = found
    if not _LOGICAL_ID.fullmatch(logical_id):  # it names a folder the build empties
        raise BuildError(f"Template format error: Resource name {logical_id!r} is non alphanumeric.")
    is_layer = resource["Type"] == _LAYER
    build_method = _mapping(resource.get("Metadata")).get("BuildMethod")
    if is_layer and not runtime.startswith(("python", "nodejs")):
        result.not_built.append(f"{logical_id} (a layer without a python or nodejs Metadata BuildMethod: "
                                "its folder is used as it is)")
        return None
    if not is_layer and build_method and build_method != runtime:
        raise BuildError(f"Function {logical_id}: Metadata BuildMethod {build_method} is not one lambdalab "
                         "build runs (it runs the runtime's own: npm for nodejs, pip for python)")
    source = (folder / path).resolve()
    if not source.exists():
        raise BuildError(f"{'Layer' if is_layer else 'Function'} {logical_id}: its code folder {source} does not exist")
    if source.is_file():
        result.not_built.append(f"{logical_id} (a zip file: deployed as it is)")
        return None
    inside = ("python" if runtime.startswith("python") else "nodejs") if is_layer else ""
    return _Code(logical_id, source, runtime, key, inside)


def _code_property(resource: dict[str, Any], template: Mapping[str, Any]) -> tuple[Any, str, str] | None:
    """Where a function's or layer's code is (as written), the property naming it, and its
    runtime (a layer's: its ``Metadata: BuildMethod``); None for other resources."""
    kind = resource["Type"]
    properties = resource.get("Properties") or {}
    if kind == "AWS::Serverless::Function":
        if properties.get("PackageType") == "Image" or "InlineCode" in properties:
            return None
        globals_ = _mapping(_mapping(template.get("Globals")).get("Function"))
        runtime = _value(properties.get("Runtime", globals_.get("Runtime")), template)
        return properties.get("CodeUri", globals_.get("CodeUri")), "CodeUri", runtime
    if kind == "AWS::Lambda::Function":
        return properties.get("Code"), "Code", _value(properties.get("Runtime"), template)
    if kind == _LAYER:
        return properties.get("ContentUri"), "ContentUri", _value(_mapping(resource.get("Metadata")).get("BuildMethod"),
                                                                   template)
    return None


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


def _value(value: Any, template: Mapping[str, Any]) -> str:
    """A runtime as written, or the ``Default`` of the parameter it ``Ref``s."""
    if isinstance(value, dict) and isinstance(value.get("Ref"), str):
        value = _mapping((template.get("Parameters") or {}).get(value["Ref"])).get("Default")
    return value if isinstance(value, str) else ""


def _build_one(code: _Code, out: Path) -> Built:
    artifact = out / code.logical_id
    shutil.rmtree(artifact, ignore_errors=True)
    target = artifact / code.inside if code.inside else artifact

    def ignored(directory: str, names: list[str]) -> set[str]:
        return {n for n in names if n in _NOT_COPIED or Path(directory, n).resolve() == out}

    try:
        shutil.copytree(code.source, target, ignore=ignored)
    except (OSError, shutil.Error) as e:
        raise BuildError(f"{code.what}: cannot copy {code.source}: {e}") from None
    if code.runtime.startswith("nodejs") and (target / "package.json").is_file():
        _npm(code, target)
        return Built(code.logical_id, artifact, "npm")
    if code.runtime.startswith("python") and (target / "requirements.txt").is_file():
        _pip(code, target)
        return Built(code.logical_id, artifact, "pip")
    return Built(code.logical_id, artifact, None)


def _copy_built(code: _Code, same: Built, out: Path) -> Built:
    artifact = out / code.logical_id
    shutil.rmtree(artifact, ignore_errors=True)
    try:
        shutil.copytree(same.folder, artifact, symlinks=True)
    except (OSError, shutil.Error) as e:
        raise BuildError(f"{code.what}: cannot copy {same.folder}: {e}") from None
    return Built(code.logical_id, artifact, same.tool)


def _npm(code: _Code, target: Path) -> None:
    npm = shutil.which("npm")
    if npm is None:
        raise BuildError(f"{code.what} ({code.runtime}) has a package.json, and npm, which "
                         "lambdalab build runs to install its dependencies, is not installed (or not on PATH)")
    local = _absolute_local_dependencies(code, target)
    if (target / "package-lock.json").is_file() and not local:
        command = [npm, "ci", "--omit=dev"]
    else:
        command = [npm, "install", "--omit=dev", "--no-save", "--no-package-lock"]
    _run(code, f"npm {command[1]}", [*command, "--install-links", "--no-audit", "--no-fund"], target,
         {"npm_config_update_notifier": "false"})


def _absolute_local_dependencies(code: _Code, target: Path) -> bool:
    """Make each ``file:`` dependency of the copied package.json absolute (it was written
    relative to the source folder); True when there was one."""
    try:
        manifest = json.loads((target / "package.json").read_text())
    except (OSError, ValueError) as e:
        raise BuildError(f"{code.what}: its package.json is not JSON: {e}") from None
    if not isinstance(manifest, dict):
        raise BuildError(f"{code.what}: its package.json is not a JSON object")
    changed = False
    # npm reads every section's local folders, devDependencies too, even when it omits them
    for section in ("dependencies", "optionalDependencies", "devDependencies", "peerDependencies"):
        for name, spec in _mapping(manifest.get(section)).items():
            if isinstance(spec, str) and spec.startswith("file:") and not os.path.isabs(spec[5:]):
                manifest[section][name] = "file:" + str((code.source / spec[5:]).resolve())
                changed = True
    if changed:
        (target / "package.json").write_text(json.dumps(manifest, indent=2))
    return changed


def _pip(code: _Code, target: Path) -> None:
    # relative paths in requirements.txt are read from the source folder, as their author wrote them
    command = [sys.executable, "-m", "pip", "install", "-r", str(code.source / "requirements.txt"),
               "-t", str(target), "--no-cache-dir", "--disable-pip-version-check", "--no-input"]
    _run(code, "pip install", command, code.source, {"PIP_NO_INPUT": "1"})


def _run(code: _Code, tool: str, command: list[str], cwd: Path, extra_env: Mapping[str, str]) -> None:
    try:
        done = subprocess.run(command, cwd=cwd, env={**os.environ, **extra_env}, stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, errors="replace", timeout=INSTALL_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        raise BuildError(f"{code.what}: {tool} did not finish in {INSTALL_TIMEOUT_SECONDS} s") from None
    except OSError as e:
        raise BuildError(f"{code.what}: cannot run {tool}: {e}") from None
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-TOOL_TAIL_LINES:])
        raise BuildError(f"{code.what}: {tool} failed "
                         f"(exit {done.returncode}):\n{tail}")


def _rewrite_paths(template: dict[str, Any], folder: Path, out: Path, built: set[str]) -> None:
    """Point each local path the built template keeps (not built: layers without a build
    method, zips, API definitions) at the same file from the build folder."""
    def moved(path: Any) -> Any:
        if not isinstance(path, str) or path.startswith("s3://"):
            return path
        return os.path.relpath(folder / path, out)

    globals_ = (template.get("Globals") or {}).get("Function")
    if isinstance(globals_, dict) and "CodeUri" in globals_:
        globals_["CodeUri"] = moved(globals_["CodeUri"])
    keys = {**_PATH_PROPERTIES, "AWS::Serverless::Function": "CodeUri", "AWS::Lambda::Function": "Code",
            _LAYER: "ContentUri"}
    for logical_id, resource in template["Resources"].items():
        properties = resource.get("Properties")
        key = keys.get(resource["Type"])
        if logical_id not in built and key and isinstance(properties, dict) and key in properties:
            properties[key] = moved(properties[key])


def missing_node_dependencies(folder: Path) -> list[str]:
    """The ``dependencies`` a Node.js code folder's package.json lists and its
    ``node_modules`` lacks: what ``lambdalab build`` (or ``npm install``) would install."""
    try:
        manifest = json.loads((folder / "package.json").read_text())
    except (OSError, ValueError):
        return []  # no (readable) package.json: nothing to install, node says the rest
    wanted = manifest.get("dependencies") if isinstance(manifest, dict) else None
    if not isinstance(wanted, dict):
        return []
    return sorted(name for name in wanted if not (folder / "node_modules" / name / "package.json").is_file())


def check_built(resources: Mapping[str, Any], folder: Path, parameters: Mapping[str, Any]) -> None:
    """Refuse, before anything is made, a Node.js function whose code folder lacks the
    dependencies its package.json lists: it would fail at its first import."""
    unbuilt = []
    for logical_id, resource in resources.items():
        properties = resource.get("Properties") or {}
        runtime = properties.get("Runtime")
        if isinstance(runtime, dict) and isinstance(runtime.get("Ref"), str):
            runtime = parameters.get(runtime["Ref"])
        if resource.get("Type") != "AWS::Lambda::Function" or not str(runtime).startswith("nodejs"):
            continue
        code = templates.local_code(properties.get("Code"), folder)
        if code is None or not code.is_dir():
            continue
        missing = missing_node_dependencies(code)
        if missing:
            unbuilt.append(f"{logical_id} needs {', '.join(missing)} (listed in {code / 'package.json'}, "
                           "not in its node_modules)")
    if unbuilt:
        raise TemplateError("Dependencies are not installed, so nothing was created: " + "; ".join(unbuilt)
                            + ". Run `lambdalab build` first (as `sam build` on AWS): `lambdalab deploy` then "
                            "deploys .aws-sam/build/template.yaml. lambdalab's Node.js runtime does not "
                            "include the AWS SDK for JavaScript v3 that AWS's nodejs runtimes carry.")
