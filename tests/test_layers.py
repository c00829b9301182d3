"""Lambda layers through boto3 against the edge: publish, use under /opt, list, delete,
permissions, and the limits AWS puts on a function's layers.

Expected answers are AWS's, as LocalStack recorded them against real AWS
(``tests/aws/services/lambda_/test_lambda_api.snapshot.json``, ``TestLambdaLayer``).
"""

from __future__ import annotations

import io
import json
import os
import shutil
import textwrap
import time
import urllib.request
import zipfile
from typing import Any

import pytest
from botocore.exceptions import ClientError

from lambdalab import Lab, limits
from lambdalab.errors import InvalidParameterValueException
from lambdalab.layers import opt_key

from .edge_support import client, client_for, create, edge, readable_entry  # noqa: F401  (fixtures)

USES_HELPER = """
import os, helper, sitehelper
def handler(event, context):
    return {"helper": helper.VALUE, "site": sitehelper.VALUE,
            "from_opt": helper.__file__.startswith(os.environ["LAMBDALAB_OPT"])}
"""
USES_SHARED = """
import os, shared
def handler(event, context):
    return {"shared": shared.VALUE, "only_first": os.path.exists(
        os.path.join(os.environ["LAMBDALAB_OPT"], "python", "only_first.py"))}
"""


def layer_zip(**files: str) -> bytes:
    """A layer archive with ``files`` (path in the archive → source)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path, source in files.items():
            archive.writestr(readable_entry(path), textwrap.dedent(source))
    return buffer.getvalue()


def publish(client: Any, name: str, **files: str) -> dict[str, Any]:
    return client.publish_layer_version(
        LayerName=name, Content={"ZipFile": layer_zip(**files)}, CompatibleRuntimes=["python3.11"]
    )


def error_of(call: Any, **kwargs: Any) -> dict[str, str]:
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    return caught.value.response["Error"]


def invoke(client: Any, name: str) -> Any:
    response = client.invoke(FunctionName=name, Payload=b"{}")
    payload = json.loads(response["Payload"].read())
    assert "FunctionError" not in response, payload
    return payload


def test_a_function_imports_its_layers_modules(client: Any) -> None:
    archive = layer_zip(**{
        "python/helper.py": "VALUE = 'from python/'",
        "python/lib/python3.11/site-packages/sitehelper.py": "VALUE = 'from site-packages'",
    })
    published = client.publish_layer_version(
        LayerName="helpers",
        Description="shared helpers",
        LicenseInfo="MIT",
        Content={"ZipFile": archive},
        CompatibleRuntimes=["python3.11", "python3.12"],
        CompatibleArchitectures=["x86_64"],
    )
    assert published["ResponseMetadata"]["HTTPStatusCode"] == 201
    arn = published["LayerVersionArn"]
    assert arn == "arn:aws:lambda:us-east-1:000000000000:layer:helpers:1"
    assert published["LayerArn"] == arn.rsplit(":", 1)[0]
    assert published["Version"] == 1
    assert published["Description"] == "shared helpers" and published["LicenseInfo"] == "MIT"
    assert published["CompatibleRuntimes"] == ["python3.11", "python3.12"]
    assert published["CompatibleArchitectures"] == ["x86_64"]
    assert set(published["Content"]) == {"Location", "CodeSha256", "CodeSize"}
    with urllib.request.urlopen(published["Content"]["Location"]) as download:
        assert download.read() == archive  # the zip, over the edge like a function's code

    created = create(client, "uses-layer", USES_HELPER, Layers=[arn])
    expected = [{"Arn": arn, "CodeSize": published["Content"]["CodeSize"]}]
    assert created["Layers"] == expected
    assert client.get_function_configuration(FunctionName="uses-layer")["Layers"] == expected
    assert invoke(client, "uses-layer") == {
        "helper": "from python/", "site": "from site-packages", "from_opt": True
    }
    assert "Layers" not in create(client, "no-layers")  # AWS leaves the field out

    got = client.get_layer_version(LayerName="helpers", VersionNumber=1)
    assert {**got, "ResponseMetadata": None} == {**published, "ResponseMetadata": None}
    by_arn = client.get_layer_version_by_arn(Arn=arn)
    assert by_arn["LayerVersionArn"] == arn and by_arn["Content"] == published["Content"]


def test_later_layers_replace_earlier_files(client: Any) -> None:
    first = publish(client, "first", **{
        "python/shared.py": "VALUE = 'first'", "python/only_first.py": ""
    })["LayerVersionArn"]
    second = publish(client, "second", **{"python/shared.py": "VALUE = 'second'"})[
        "LayerVersionArn"]

    create(client, "ordered", USES_SHARED, Layers=[first, second])
    assert invoke(client, "ordered") == {"shared": "second", "only_first": True}
    assert client.publish_version(FunctionName="ordered")["Version"] == "1"

    client.update_function_configuration(FunctionName="ordered", Layers=[second, first])
    assert invoke(client, "ordered") == {"shared": "first", "only_first": True}
    assert client.publish_version(FunctionName="ordered")["Version"] == "2"  # layers changed
    version_1 = client.invoke(FunctionName="ordered", Qualifier="1", Payload=b"{}")
    assert json.loads(version_1["Payload"].read())["shared"] == "second"  # immutable

    removed = client.update_function_configuration(FunctionName="ordered", Layers=[])
    assert "Layers" not in removed
    assert "FunctionError" in client.invoke(FunctionName="ordered", Payload=b"{}")


def test_a_function_may_use_five_layers_and_one_version_of_each(client: Any) -> None:
    arns = [publish(client, f"layer-{n}", **{f"python/m{n}.py": ""})["LayerVersionArn"]
            for n in range(6)]
    assert len(create(client, "five", Layers=arns[:5])["Layers"]) == 5

    assert error_of(create, client=client, name="six", Layers=arns) == {
        "Code": "InvalidParameterValueException",
        "Message": "Cannot reference more than 5 layers.",
    }
    again = publish(client, "layer-0", **{"python/m0.py": ""})["LayerVersionArn"]
    error = error_of(client.update_function_configuration, FunctionName="five",
                     Layers=[arns[0], again])
    assert error["Code"] == "InvalidParameterValueException"
    assert error["Message"] == (
        "Two different versions of the same layer are not allowed to be referenced in the "
        f"same function. {arns[0]} and {again} are versions of the same layer."
    )
    missing = arns[0].rsplit(":", 1)[0] + ":9"
    assert error_of(client.update_function_configuration, FunctionName="five",
                    Layers=[missing]) == {
        "Code": "InvalidParameterValueException",
        "Message": f"Layer version {missing} does not exist.",
    }
    elsewhere = arns[0].replace("us-east-1", "eu-west-1")
    assert error_of(client.update_function_configuration, FunctionName="five",
                    Layers=[elsewhere])["Message"] == (
        "Layers are not in the same region as the function. Layers are expected to be in "
        "region us-east-1."
    )
    assert client.get_function_configuration(FunctionName="five")["Layers"] == [
        {"Arn": arn, "CodeSize": client.get_layer_version_by_arn(Arn=arn)["Content"]["CodeSize"]}
        for arn in arns[:5]
    ]


def test_deleting_a_layer_version_leaves_functions_that_use_it_working(client: Any) -> None:
    arn = publish(client, "gone", **{
        "python/helper.py": "VALUE = 1",
        "python/lib/python3.11/site-packages/sitehelper.py": "VALUE = 2",
    })["LayerVersionArn"]
    publish(client, "gone", **{"python/helper.py": "VALUE = 'v2'"})
    create(client, "survivor", USES_HELPER, Layers=[arn])

    deleted = client.delete_layer_version(LayerName="gone", VersionNumber=1)
    assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert error_of(client.get_layer_version, LayerName="gone", VersionNumber=1) == {
        "Code": "ResourceNotFoundException",
        "Message": "The resource you requested does not exist.",
    }
    client.delete_layer_version(LayerName="gone", VersionNumber=1)  # idempotent, as on AWS
    client.delete_layer_version(LayerName="never-was", VersionNumber=1)
    assert error_of(client.delete_layer_version, LayerName="gone", VersionNumber=0) == {
        "Code": "InvalidParameterValueException",
        "Message": "Layer Version Cannot be less than 1",
    }

    assert client.get_function_configuration(FunctionName="survivor")["Layers"][0]["Arn"] == arn
    assert invoke(client, "survivor")["helper"] == 1
    client.update_function_configuration(FunctionName="survivor", Timeout=10)  # keeps it
    assert invoke(client, "survivor")["helper"] == 1

    client.delete_layer_version(LayerName="gone", VersionNumber=2)
    assert client.list_layer_versions(LayerName="gone")["LayerVersions"] == []
    assert publish(client, "gone", **{"python/helper.py": ""})["Version"] == 3  # never reused


def test_list_layers_and_versions_page_through_everything(client: Any) -> None:
    for name in ("alpha", "beta", "gamma"):
        for _ in range(3):
            publish(client, name, **{"python/x.py": ""})
    client.publish_layer_version(
        LayerName="node-only", Content={"ZipFile": layer_zip(**{"nodejs/node_modules/x.js": ""})},
        CompatibleRuntimes=["nodejs20.x"],
    )

    layers = [item for page in client.get_paginator("list_layers").paginate(
        PaginationConfig={"PageSize": 2}) for item in page["Layers"]]
    assert [item["LayerName"] for item in layers] == ["alpha", "beta", "gamma", "node-only"]
    assert layers[0]["LayerArn"] == "arn:aws:lambda:us-east-1:000000000000:layer:alpha"
    assert layers[0]["LatestMatchingVersion"]["Version"] == 3
    assert "Content" not in layers[0]["LatestMatchingVersion"]

    first = client.list_layers(MaxItems=2)
    assert len(first["Layers"]) == 2 and "NextMarker" in first
    python = client.list_layers(CompatibleRuntime="python3.11")["Layers"]
    assert [item["LayerName"] for item in python] == ["alpha", "beta", "gamma"]
    assert client.list_layers(CompatibleArchitecture="arm64")["Layers"] == []

    versions = [item["Version"] for page in client.get_paginator("list_layer_versions").paginate(
        LayerName="beta", PaginationConfig={"PageSize": 2}) for item in page["LayerVersions"]]
    assert versions == [3, 2, 1]
    assert client.list_layer_versions(LayerName="no-such-layer")["LayerVersions"] == []


def test_layer_version_permissions(client: Any) -> None:
    arn = publish(client, "shared", **{"python/x.py": ""})["LayerVersionArn"]
    assert error_of(client.get_layer_version_policy, LayerName="shared", VersionNumber=1) == {
        "Code": "ResourceNotFoundException",
        "Message": "No policy is associated with the given resource.",
    }

    added = client.add_layer_version_permission(
        LayerName="shared", VersionNumber=1, StatementId="s1",
        Action="lambda:GetLayerVersion", Principal="*",
    )
    assert added["ResponseMetadata"]["HTTPStatusCode"] == 201
    s1 = {"Sid": "s1", "Effect": "Allow", "Principal": "*",
          "Action": "lambda:GetLayerVersion", "Resource": arn}
    assert json.loads(added["Statement"]) == s1
    policy = client.get_layer_version_policy(LayerName="shared", VersionNumber=1)
    assert json.loads(policy["Policy"]) == {"Version": "2012-10-17", "Id": "default",
                                            "Statement": [s1]}
    assert policy["RevisionId"] == added["RevisionId"]

    second = client.add_layer_version_permission(
        LayerName="shared", VersionNumber=1, StatementId="s2", Action="lambda:GetLayerVersion",
        Principal="111122223333", RevisionId=added["RevisionId"],
    )
    assert json.loads(second["Statement"])["Principal"] == {"AWS": "arn:aws:iam::111122223333:root"}
    assert error_of(client.add_layer_version_permission, LayerName="shared", VersionNumber=1,
                    StatementId="s1", Action="lambda:GetLayerVersion", Principal="*") == {
        "Code": "ResourceConflictException",
        "Message": "The statement id (s1) provided already exists. Please provide a new "
                   "statement id, or remove the existing statement.",
    }
    stale = error_of(client.remove_layer_version_permission, LayerName="shared",
                     VersionNumber=1, StatementId="s2", RevisionId=added["RevisionId"])
    assert stale["Code"] == "PreconditionFailedException"
    assert "GetLayerPolicy" in stale["Message"]
    assert error_of(client.add_layer_version_permission, LayerName="shared", VersionNumber=1,
                    StatementId="s3", Action="*", Principal="*")["Code"] == "ValidationException"

    client.remove_layer_version_permission(LayerName="shared", VersionNumber=1, StatementId="s2")
    statements = json.loads(client.get_layer_version_policy(
        LayerName="shared", VersionNumber=1)["Policy"])["Statement"]
    assert statements == [s1]
    assert error_of(client.remove_layer_version_permission, LayerName="shared",
                    VersionNumber=1, StatementId="nope") == {
        "Code": "ResourceNotFoundException",
        "Message": "Statement nope is not found in resource policy.",
    }
    for n in range(1000):  # a policy cannot grow without bound
        try:
            client.add_layer_version_permission(
                LayerName="shared", VersionNumber=1, StatementId=f"many-{n}",
                Action="lambda:GetLayerVersion", Principal="*")
        except ClientError as e:
            assert e.response["Error"]["Code"] == "PolicyLengthExceededException"
            break
    else:
        pytest.fail("1000 statements were accepted")
    assert error_of(client.get_layer_version_policy, LayerName="shared", VersionNumber=2) == {
        "Code": "ResourceNotFoundException",
        "Message": f"Layer version {arn[:-2]}:2 does not exist.",
    }


def big_layer(unzipped_bytes: int) -> bytes:
    """A layer whose one file unzips to ``unzipped_bytes`` (zeros: a small zip)."""
    buffer = io.BytesIO()
    chunk = bytes(1024 * 1024)
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        with archive.open("python/blob.bin", "w") as entry:
            left = unzipped_bytes
            while left:
                entry.write(chunk[: min(left, len(chunk))])
                left -= min(left, len(chunk))
    return buffer.getvalue()


def test_function_and_layers_together_stay_under_the_unzipped_limit(client: Any) -> None:
    half = limits.UNZIPPED_PACKAGE_MAX_BYTES // 2
    arns = [client.publish_layer_version(
        LayerName=f"half-{n}", Content={"ZipFile": big_layer(half)})["LayerVersionArn"]
        for n in range(2)]
    create(client, "fits", Layers=[arns[0]])  # one half and a small function fit

    error = error_of(create, client=client, name="too-big", Layers=arns)
    assert error["Code"] == "InvalidParameterValueException"
    assert error["Message"].startswith(
        "Function code combined with layers exceeds the maximum allowed size of 262144000 "
        "bytes. The actual size is "
    )
    assert error_of(client.update_function_configuration, FunctionName="fits",
                    Layers=arns)["Code"] == "InvalidParameterValueException"
    assert client.get_function_configuration(FunctionName="fits")["Layers"][0]["Arn"] == arns[0]
    with pytest.raises(ClientError):
        client.get_function(FunctionName="too-big")  # nothing half-created


def test_a_layer_is_published_from_an_s3_object(client: Any, edge: Any) -> None:
    s3 = client_for(edge.url, "s3")
    s3.create_bucket(Bucket="artifacts")
    archive = layer_zip(**{"python/helper.py": "VALUE = 's3'",
                           "python/lib/python3.11/site-packages/sitehelper.py": "VALUE = 2"})
    s3.put_object(Bucket="artifacts", Key="layers/helper.zip", Body=archive)
    published = client.publish_layer_version(
        LayerName="from-s3", Content={"S3Bucket": "artifacts", "S3Key": "layers/helper.zip"})
    assert published["Content"]["CodeSize"] == len(archive)
    create(client, "s3-layer", USES_HELPER, Layers=[published["LayerVersionArn"]])
    assert invoke(client, "s3-layer")["helper"] == "s3"

    assert error_of(client.publish_layer_version, LayerName="from-s3",
                    Content={"S3Bucket": "artifacts", "S3Key": "nope.zip"}) == {
        "Code": "InvalidParameterValueException",
        "Message": "Error occurred while GetObject. S3 Error Code: NoSuchKey. S3 Error "
                   "Message: The specified key does not exist.",
    }
    both = {"ZipFile": archive, "S3Bucket": "artifacts", "S3Key": "layers/helper.zip"}
    assert error_of(client.publish_layer_version, LayerName="from-s3",
                    Content=both)["Code"] == "InvalidParameterValueException"
    assert len(client.list_layer_versions(LayerName="from-s3")["LayerVersions"]) == 1


def test_the_python_api_is_shaped_like_boto3(lab: Lab, code: Any, tmp_path: Any) -> None:
    layer_dir = tmp_path / "layer" / "python"
    layer_dir.mkdir(parents=True)
    (layer_dir / "helper.py").write_text("VALUE = 'lab'\n")
    version = lab.publish_layer_version("tools", str(tmp_path / "layer"),
                                        compatible_runtimes=["python3.11"])
    assert version.to_aws("x")["LayerVersionArn"].endswith(":layer:tools:1")
    source = code(app="import helper\ndef handler(event, context):\n    return helper.VALUE\n")
    lab.create_function("api", str(source), runtime="python3.11", handler="app.handler",
                        layers=[version.layer_version_arn])
    assert lab.invoke("api", {}).json() == "lab"
    assert [v.version for v in lab.list_layer_versions("tools")] == [1]
    assert [v.layer_name for v in lab.list_layers()] == ["tools"]
    for bad in ({"compatible_architectures": ["sparc"]}, {"compatible_runtimes": "python3.12"}):
        with pytest.raises(InvalidParameterValueException):
            lab.publish_layer_version("tools", str(tmp_path / "layer"), **bad)
    assert [v.version for v in lab.list_layer_versions("tools")] == [1]  # nothing stored

    lab.delete_layer_version("tools", 1)
    lab.update_function_configuration("api", timeout=5)  # a new environment: /opt again
    assert lab.invoke("api", {}).json() == "lab"


@pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed")
def test_a_node_function_requires_modules_from_its_layers(client: Any) -> None:
    arn = client.publish_layer_version(LayerName="node-helpers", Content={"ZipFile": layer_zip(**{
        "nodejs/node_modules/shout/index.js": "exports.shout = (s) => s.toUpperCase();",
        "nodejs/node20/node_modules/whisper/index.js": "exports.whisper = (s) => s.toLowerCase();",
    })})["LayerVersionArn"]
    client.create_function(
        FunctionName="node-layers", Runtime="nodejs20.x", Handler="index.handler",
        Role="arn:aws:iam::000000000000:role/lambda-role", Layers=[arn],
        Code={"ZipFile": layer_zip(**{"index.js": """
            const { shout } = require('shout');
            const { whisper } = require('whisper');
            exports.handler = async (event) => [shout(event.word), whisper(event.word)];
        """})},
    )
    response = client.invoke(FunctionName="node-layers", Payload=b'{"word": "Layer"}')
    assert json.loads(response["Payload"].read()) == ["LAYER", "layer"]


def test_the_cli_publishes_lists_and_deletes(tmp_path: Any) -> None:
    from click.testing import CliRunner

    from lambdalab.cli.app import main

    layer = tmp_path / "layer" / "python"
    layer.mkdir(parents=True)
    (layer / "tool.py").write_text("X = 1\n")
    data = ["--data-dir", str(tmp_path / "data")]
    runner = CliRunner()
    published = runner.invoke(main, [*data, "layer", "publish", "tools", "--code",
                                     str(layer.parent), "--compatible-runtime", "python3.12"])
    assert published.exit_code == 0, published.output
    assert ":layer:tools:1" in published.output
    listed = runner.invoke(main, [*data, "layer", "list"])
    assert "layer:tools:1" in listed.output and "python3.12" in listed.output
    arn = "arn:aws:lambda:us-east-1:000000000000:layer:tools:1"
    (tmp_path / "fn").mkdir()
    (tmp_path / "fn" / "app.py").write_text("import tool\ndef handler(e, c):\n    return tool.X\n")
    created = runner.invoke(main, [*data, "create", "fn", "--code", str(tmp_path / "fn"),
                                   "--handler", "app.handler", "--layer", arn])
    assert created.exit_code == 0, created.output
    got = json.loads(runner.invoke(main, [*data, "get", "fn"]).stdout)
    assert [x["Arn"] for x in got["Configuration"]["Layers"]] == [arn]
    assert runner.invoke(main, [*data, "layer", "delete", "tools", "1"]).exit_code == 0
    assert "No layers yet" in runner.invoke(main, [*data, "layer", "list", "tools"]).output
    refused = runner.invoke(main, [*data, "layer", "delete", "tools", "0"])
    assert refused.exit_code != 0 and "Layer Version Cannot be less than 1" in refused.output


def test_code_collection_keeps_layers_that_versions_or_functions_hold(lab: Lab, code: Any) -> None:
    used = lab.publish_layer_version("used", layer_zip(**{"python/used.py": "X = 'kept'"}))
    unused = lab.publish_layer_version("unused", layer_zip(**{"python/other.py": ""}))
    lab.create_function(
        "holder", str(code(app="import used\ndef handler(e, c):\n    return used.X\n")),
        handler="app.handler", layers=[used.layer_version_arn],
    )
    lab.delete_layer_version("used", 1)  # the function still holds its zip
    hour_ago = time.time() - 3600  # past the grace a full collection gives fresh files
    for blob in lab.store.blob_dir.iterdir():
        os.utime(blob, (hour_ago, hour_ago))

    lab.collect_code()  # what opening a data dir runs
    assert lab.store.blob_path(unused.code_blob).is_file()  # a layer version holds it
    assert lab.store.blob_path(used.code_blob).is_file()  # a function holds it
    assert lab.invoke("holder", {}).json() == "kept"

    lab.delete_layer_version("unused", 1)
    assert not lab.store.blob_path(unused.code_blob).exists()  # nothing holds it now


def test_hostile_layer_requests_get_aws_errors_not_500s(client: Any) -> None:
    publish(client, "target", **{"python/x.py": ""})
    huge = 10**30
    assert error_of(client.get_layer_version, LayerName="target", VersionNumber=huge)[
        "Code"] == "ResourceNotFoundException"
    client.delete_layer_version(LayerName="target", VersionNumber=huge)
    assert error_of(client.get_layer_version_policy, LayerName="target", VersionNumber=huge)[
        "Code"] == "ResourceNotFoundException"
    for bad in ("../etc", "a" * 141, "x y"):
        assert error_of(client.get_layer_version, LayerName=bad, VersionNumber=1)["Code"] in (
            "ValidationException", "UnknownOperationException"  # a "/" splits the path
        )
    assert error_of(client.publish_layer_version, LayerName="zip",
                    Content={"ZipFile": b"not a zip"})["Code"] == "InvalidParameterValueException"
    assert error_of(client.get_layer_version_by_arn,
                    Arn="arn:aws:lambda:us-east-1:000000000000:layer:target")[
        "Code"] == "ValidationException"
    other = "arn:aws:lambda:us-east-1:111122223333:layer:target:1"
    assert error_of(client.get_layer_version_by_arn, Arn=other)[
        "Code"] == "ResourceNotFoundException"
    assert client.list_layer_versions(LayerName="target")["LayerVersions"][0]["Version"] == 1


def test_merged_layer_folders_no_version_uses_are_collected(lab: Lab, code: Any) -> None:
    layer = lab.publish_layer_version("l", layer_zip(**{"python/m.py": "X = 1"}))
    source = str(code(app="import m\ndef handler(e, c):\n    return m.X\n"))
    for name in ("kept", "dropped"):
        lab.create_function(name, source, handler="app.handler", layers=[layer.layer_version_arn])
    lab.update_function_configuration("dropped", layers=[])
    lab.create_function("other", source, handler="app.handler", layers=[
        lab.publish_layer_version("l2", layer_zip(**{"python/m.py": "X = 2"})).layer_version_arn])
    assert lab.invoke("kept", {}).json() == 1 and lab.invoke("other", {}).json() == 2
    merged = sorted((lab.store.data_dir / "opt").iterdir())
    assert len(merged) == 2
    lab.delete_function("other")
    hour_ago = time.time() - 3600
    for folder in merged:
        os.utime(folder, (hour_ago, hour_ago))

    assert lab.collect_code() > 0  # what opening a data dir runs
    assert [p.name for p in (lab.store.data_dir / "opt").iterdir()] == [opt_key([layer.code_blob])]
    assert lab.invoke("kept", {}).json() == 1


def test_the_aws_cli_publishes_and_uses_layers(edge: Any, tmp_path: Any) -> None:
    from .test_edge_cli import aws

    archive = tmp_path / "layer.zip"
    archive.write_bytes(layer_zip(**{"python/helper.py": "VALUE = 'cli'",
                                     "python/lib/python3.11/site-packages/sitehelper.py": ""}))
    published = aws(edge.url, "publish-layer-version", "--layer-name", "cli-layer",
                    "--zip-file", f"fileb://{archive}", "--compatible-runtimes", "python3.11")
    assert published.returncode == 0, published.stderr
    arn = json.loads(published.stdout)["LayerVersionArn"]
    package = tmp_path / "fn.zip"
    package.write_bytes(layer_zip(**{"app.py": USES_HELPER}))
    created = aws(edge.url, "create-function", "--function-name", "cli-fn", "--runtime",
                  "python3.11", "--role", "arn:aws:iam::000000000000:role/r", "--handler",
                  "app.handler", "--zip-file", f"fileb://{package}", "--layers", arn)
    assert created.returncode == 0, created.stderr
    assert json.loads(created.stdout)["Layers"][0]["Arn"] == arn
    by_arn = aws(edge.url, "get-layer-version-by-arn", "--arn", arn)
    assert json.loads(by_arn.stdout)["Version"] == 1
    listed = aws(edge.url, "list-layers", "--compatible-runtime", "python3.11")
    assert [x["LayerName"] for x in json.loads(listed.stdout)["Layers"]] == ["cli-layer"]
    deleted = aws(edge.url, "delete-layer-version", "--layer-name", "cli-layer",
                  "--version-number", "1")
    assert deleted.returncode == 0, deleted.stderr
    assert json.loads(aws(edge.url, "list-layers").stdout)["Layers"] == []


def test_the_thread_sandbox_imports_layers_at_init(lab: Lab, code: Any) -> None:
    layer = lab.publish_layer_version("t", layer_zip(**{"python/threadhelper.py": "X = 't'"}))
    lab.create_function(
        "in-thread",
        str(code(app="import threadhelper\ndef handler(e, c):\n    return threadhelper.X\n")),
        handler="app.handler", sandbox="thread", layers=[layer.layer_version_arn],
    )
    assert lab.invoke("in-thread", {}).json() == "t"
