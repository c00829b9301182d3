"""Reading a template: YAML or JSON with CloudFormation's short tags, SAM transformed by
AWS's own translator (``aws-sam-translator``), local code folders kept as paths.

``sam deploy`` uploads each ``CodeUri`` folder to S3 first; lambdalab reads the folder
in place instead, so the translator is handed a stand-in S3 location it carries through
to ``AWS::Lambda::Function``'s ``Code`` (:data:`LOCAL_BUCKET`), read back here.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import Any, Iterator, Mapping

import yaml

from .exceptions import TemplateError

SAM_TRANSFORM = "AWS::Serverless-2016-10-31"
# The translator warns, for every DeploymentPreference, that AWS's own feature-toggle
# service config is absent: true of every local run, and nothing a template can change.
logging.getLogger("samtranslator.feature_toggle.feature_toggle").setLevel(logging.ERROR)
#: The stand-in bucket that marks a local code folder through the SAM transform.
LOCAL_BUCKET = "lambdalab-local-code"
_CODE_PROPERTIES = {"AWS::Serverless::Function": "CodeUri", "AWS::Serverless::LayerVersion": "ContentUri"}


class _Loader(yaml.SafeLoader):
    """YAML with CloudFormation's short forms (``!Ref X``, ``!GetAtt A.B``, ``!Sub``…)."""


def _tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    if suffix == "Ref":
        return {"Ref": value}
    if suffix == "GetAtt" and isinstance(value, str):
        return {"Fn::GetAtt": value.split(".", 1)}
    if suffix == "Condition":
        return {"Condition": value}
    return {f"Fn::{suffix}": value}


_Loader.add_multi_constructor("!", _tag)
# CloudFormation reads dates as text (AWSTemplateFormatVersion: 2010-09-09).
_Loader.yaml_implicit_resolvers = {
    k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:timestamp"]
    for k, v in _Loader.yaml_implicit_resolvers.items()
}


def load(path: Path) -> dict[str, Any]:
    """The template in ``path`` as a dict; a malformed one is a TemplateError."""
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as e:
        raise TemplateError(f"Cannot read template {path}: {e}") from None
    try:
        template = json.loads(text) if text.lstrip().startswith("{") else yaml.load(text, Loader=_Loader)
    except (yaml.YAMLError, ValueError) as e:
        raise TemplateError(f"Template format error: {e}") from None
    if not isinstance(template, dict) or not isinstance(template.get("Resources"), dict) or not template["Resources"]:
        raise TemplateError("Template format error: At least one Resources member must be defined.")
    for section in ("Parameters", "Conditions", "Outputs", "Globals", "Mappings"):
        if not isinstance(template.get(section) or {}, dict):
            raise TemplateError(f"Template format error: {section} must be an object")
    for name, resource in template["Resources"].items():
        if not isinstance(resource, dict) or not isinstance(resource.get("Type"), str):
            raise TemplateError(f"Template format error: [/Resources/{name}] Every Resources object must contain a Type member.")
        if not isinstance(resource.get("Properties") or {}, dict):
            raise TemplateError(f"Template format error: [/Resources/{name}/Properties] must be an object")
    return template


def is_sam(template: Mapping[str, Any]) -> bool:
    transform = template.get("Transform")
    names = transform if isinstance(transform, list) else [transform]
    return SAM_TRANSFORM in names


def transform(template: dict[str, Any], parameters: Mapping[str, Any], folder: Path, region: str) -> dict[str, Any]:
    """Plain CloudFormation from a SAM template, through AWS's translator. Its session
    only names the region (no credentials, no call); the managed-policy map is local."""
    import boto3
    from samtranslator.metrics.metrics import DummyMetricsPublisher, Metrics
    from samtranslator.model.exceptions import ExceptionWithMessage, InvalidDocumentException
    from samtranslator.parser.parser import Parser
    from samtranslator.translator.translator import Translator
    from samtranslator.utils.py27hash_fix import to_py27_compatible_template, undo_mark_unicode_str_in_template

    template = json.loads(json.dumps(template))
    default_code_uri(template)
    for properties, key in _code_properties(template):
        value = properties.get(key)
        if isinstance(value, str) and not value.startswith("s3://"):
            path = (folder / value).resolve()
            # The code's sum as the object version: SAM names an AutoPublishAlias version
            # after its code location, so new code is a new version, as on AWS.
            properties[key] = {"Bucket": LOCAL_BUCKET, "Key": str(path), "Version": code_digest(path)}
    values = dict(parameters)
    to_py27_compatible_template(template, values)
    metrics = Metrics("ServerlessTransform", DummyMetricsPublisher())
    translator = Translator(None, Parser(), boto_session=boto3.session.Session(region_name=region), metrics=metrics)
    try:
        translated = translator.translate(template, parameter_values=values,
                                          get_managed_policy_map=lambda: _AwsManaged())
        return dict(undo_mark_unicode_str_in_template(translated))
    except InvalidDocumentException as e:
        causes = "; ".join(c.message for c in e.causes)
        raise TemplateError(f"Transform {SAM_TRANSFORM} failed: {causes}") from None
    except ExceptionWithMessage as e:
        raise TemplateError(f"Transform {SAM_TRANSFORM} failed: {e.message}") from None
    finally:
        metrics.publish()


def default_code_uri(template: dict[str, Any]) -> None:
    """A function with no code named is the project's folder, as ``sam build`` takes it
    (the Node.js quick starts name none)."""
    globals_ = (template.get("Globals") or {}).get("Function")
    if isinstance(globals_, dict) and "CodeUri" in globals_:
        return
    for resource in template["Resources"].values():
        properties = resource.get("Properties")
        if resource.get("Type") == "AWS::Serverless::Function" and isinstance(properties, dict) and not (
                {"CodeUri", "InlineCode", "ImageUri"} & set(properties)):
            properties["CodeUri"] = "."


def _code_properties(template: dict[str, Any]) -> Iterator[tuple[dict[str, Any], str]]:
    globals_ = template.get("Globals") or {}
    if isinstance(globals_.get("Function"), dict):
        yield globals_["Function"], "CodeUri"
    for resource in template["Resources"].values():
        if isinstance(resource, dict) and resource.get("Type") in _CODE_PROPERTIES:
            properties = resource.setdefault("Properties", {})
            if isinstance(properties, dict):
                yield properties, _CODE_PROPERTIES[resource["Type"]]


def code_digest(path: Path) -> str:
    """The sha256 of a code folder's files (names and contents), or of one file."""
    digest = hashlib.sha256()
    if not path.exists():
        return digest.hexdigest()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for file in files:
        digest.update(str(file.relative_to(path) if path.is_dir() else file.name).encode() + b"\0")
        digest.update(file.read_bytes())
    return digest.hexdigest()


def local_code(code: Any, folder: Path) -> Path | None:
    """The folder or zip ``Code`` (or ``Content``) names here: the SAM stand-in, or a
    path as ``aws cloudformation package`` takes it."""
    if isinstance(code, str):
        return (folder / code).resolve()
    if isinstance(code, dict) and "Path" in code:
        return (folder / code["Path"]).resolve()
    if isinstance(code, dict) and code.get("S3Bucket") == LOCAL_BUCKET:
        return Path(code["S3Key"])
    return None


class _AwsManaged(dict):  # type: ignore[type-arg]
    """The translator's managed-policy map without IAM's ListPolicies call: any name of
    an AWS managed policy is ``arn:aws:iam::aws:policy/NAME``."""

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and not name.startswith("arn:") and name.replace("-", "").isalnum()

    def __getitem__(self, name: str) -> str:
        return f"arn:aws:iam::aws:policy/{name}"

    def get(self, name: str, default: Any = None) -> Any:  # type: ignore[override]
        return self[name] if name in self else default
