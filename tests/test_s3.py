"""The S3 trigger plugin: S3's REST API on the edge (boto3 and the AWS CLI as clients),
notifications to Lambda, and the seed use case (photo in, thumbnail out)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from lambdalab import Lab
from lambdalab.server import EdgeServer
from lambdalab_s3 import S3, InvalidArgument, NoSuchKey
from tests.edge_support import ROLE, client_for, zip_of

from tests.edge_support import client  # noqa: F401 (fixture)
from tests.edge_support import edge  # noqa: F401 (fixture)


def s3_client(url: str) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="AKIDEXAMPLE",
        aws_secret_access_key="not-checked",
        config=Config(s3={"addressing_style": "path"}, retries={"total_max_attempts": 1}),
    )


@pytest.fixture
def s3(edge: EdgeServer) -> Any:  # noqa: F811
    return s3_client(edge.url)


def error_code(info: pytest.ExceptionInfo[ClientError]) -> str:
    return info.value.response["Error"]["Code"]


# -- buckets and objects --------------------------------------------------------------


def test_buckets_are_created_listed_and_deleted(s3: Any) -> None:
    s3.create_bucket(Bucket="photos")
    assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == ["photos"]
    with pytest.raises(ClientError) as info:
        s3.create_bucket(Bucket="photos")
    assert error_code(info) == "BucketAlreadyOwnedByYou"
    s3.put_object(Bucket="photos", Key="a", Body=b"1")
    with pytest.raises(ClientError) as info:
        s3.delete_bucket(Bucket="photos")
    assert error_code(info) == "BucketNotEmpty"
    s3.delete_object(Bucket="photos", Key="a")
    s3.delete_bucket(Bucket="photos")
    assert s3.list_buckets()["Buckets"] == []
    with pytest.raises(ClientError) as info:
        s3.delete_bucket(Bucket="photos")
    assert error_code(info) == "NoSuchBucket"


def test_bad_bucket_names_are_refused(s3: Any) -> None:
    with pytest.raises(ClientError) as info:
        s3.create_bucket(Bucket="Not_Valid")
    assert error_code(info) == "InvalidBucketName"
    assert "lowercase" in info.value.response["Error"]["Message"]


def test_objects_round_trip_with_metadata_ranges_and_head(s3: Any) -> None:
    s3.create_bucket(Bucket="docs")
    body = bytes(range(256)) * 4
    put = s3.put_object(Bucket="docs", Key="blob.bin", Body=body, ContentType="image/png",
                        Metadata={"owner": "ada"})
    got = s3.get_object(Bucket="docs", Key="blob.bin")
    assert got["Body"].read() == body
    assert got["ETag"] == put["ETag"]
    assert got["ContentType"] == "image/png"
    assert got["Metadata"] == {"owner": "ada"}
    ranged = s3.get_object(Bucket="docs", Key="blob.bin", Range="bytes=10-19")
    assert ranged["Body"].read() == body[10:20]
    assert ranged["ContentRange"] == "bytes 10-19/1024"
    assert s3.get_object(Bucket="docs", Key="blob.bin", Range="bytes=-4")["Body"].read() == body[-4:]
    with pytest.raises(ClientError) as info:
        s3.get_object(Bucket="docs", Key="blob.bin", Range="bytes=5000-")
    assert error_code(info) == "InvalidRange"
    head = s3.head_object(Bucket="docs", Key="blob.bin")
    assert head["ContentLength"] == 1024
    with pytest.raises(ClientError) as info:
        s3.get_object(Bucket="docs", Key="missing")
    assert error_code(info) == "NoSuchKey"
    with pytest.raises(ClientError) as info:
        s3.head_object(Bucket="docs", Key="missing")
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_keys_with_any_characters_are_stored_safely(s3: Any, lab: Lab) -> None:
    s3.create_bucket(Bucket="odd")
    keys = ["../../etc/passwd", "a b+c%20d?x=1#y", "ünï/cödé 🎉.txt", "dir//double/"]
    for key in keys:
        s3.put_object(Bucket="odd", Key=key, Body=key.encode())
    for key in keys:
        assert s3.get_object(Bucket="odd", Key=key)["Body"].read() == key.encode()
    listed = [o["Key"] for o in s3.list_objects_v2(Bucket="odd")["Contents"]]
    assert listed == sorted(keys, key=lambda k: k.encode())
    root = lab.store.data_dir / "s3"
    assert all(p.resolve().is_relative_to(root) for p in root.rglob("*"))


def test_list_objects_v2_prefix_delimiter_and_pages(s3: Any) -> None:
    s3.create_bucket(Bucket="tree")
    keys = ["a/1", "a/2", "b/1", "c", "d", "e/x/1"]
    for key in keys:
        s3.put_object(Bucket="tree", Key=key, Body=b"")
    top = s3.list_objects_v2(Bucket="tree", Delimiter="/")
    assert [p["Prefix"] for p in top["CommonPrefixes"]] == ["a/", "b/", "e/"]
    assert [o["Key"] for o in top["Contents"]] == ["c", "d"]
    assert [o["Key"] for o in s3.list_objects_v2(Bucket="tree", Prefix="a/")["Contents"]] == [
        "a/1", "a/2"
    ]
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket="tree", PaginationConfig={
        "PageSize": 2})
    seen = [o["Key"] for page in pages for o in page.get("Contents", [])]
    assert seen == keys
    first = s3.list_objects_v2(Bucket="tree", Delimiter="/", MaxKeys=1)
    assert first["IsTruncated"] and first["KeyCount"] == 1
    rest = s3.list_objects_v2(Bucket="tree", Delimiter="/",
                              ContinuationToken=first["NextContinuationToken"])
    assert [p["Prefix"] for p in rest["CommonPrefixes"]] == ["b/", "e/"]


def test_copy_and_delete_objects(s3: Any) -> None:
    s3.create_bucket(Bucket="src")
    s3.create_bucket(Bucket="dst")
    s3.put_object(Bucket="src", Key="one", Body=b"payload", Metadata={"k": "v"})
    s3.copy_object(Bucket="dst", Key="copy", CopySource={"Bucket": "src", "Key": "one"})
    copied = s3.get_object(Bucket="dst", Key="copy")
    assert copied["Body"].read() == b"payload" and copied["Metadata"] == {"k": "v"}
    with pytest.raises(ClientError) as info:
        s3.copy_object(Bucket="src", Key="one", CopySource={"Bucket": "src", "Key": "one"})
    assert error_code(info) == "InvalidArgument"
    result = s3.delete_objects(Bucket="src", Delete={"Objects": [{"Key": "one"}, {"Key": "nope"}]})
    assert sorted(d["Key"] for d in result["Deleted"]) == ["nope", "one"]
    assert s3.list_objects_v2(Bucket="src")["KeyCount"] == 0


# -- notifications --------------------------------------------------------------------

RECORDER = """
import json, os

def handler(event, context):
    with open(os.environ["OUT"], "a") as f:
        f.write(json.dumps(event) + "\\n")
"""


def recorded(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line)["Records"][0] for line in path.read_text().splitlines()]


def allow_s3(lab: Lab, name: str, bucket: str) -> None:
    lab.add_permission(name, "s3-invoke", "lambda:InvokeFunction", "s3.amazonaws.com",
                       source_arn=f"arn:aws:s3:::{bucket}")


def notify_config(arn: str, events: list[str], **filters: str) -> dict[str, Any]:
    config: dict[str, Any] = {"Id": "to-fn", "LambdaFunctionArn": arn, "Events": events}
    if filters:
        config["Filter"] = {"Key": {"FilterRules": [
            {"Name": name, "Value": value} for name, value in filters.items()]}}
    return {"LambdaFunctionConfigurations": [config]}


@pytest.fixture
def recorder(lab: Lab, code: Any, rendezvous: Path) -> tuple[str, Path]:
    out = rendezvous / "events.jsonl"
    config = lab.create_function("recorder", code=code(app=RECORDER), handler="app.handler",
                                 environment={"Variables": {"OUT": str(out)}})
    return config.function_arn, out


def test_notification_needs_the_functions_permission(s3: Any, lab: Lab,
                                                     recorder: tuple[str, Path]) -> None:
    arn, _ = recorder
    s3.create_bucket(Bucket="photos")
    with pytest.raises(ClientError) as info:
        s3.put_bucket_notification_configuration(
            Bucket="photos", NotificationConfiguration=notify_config(arn, ["s3:ObjectCreated:*"]))
    assert error_code(info) == "InvalidArgument"
    assert "Unable to validate the following destination configurations" in (
        info.value.response["Error"]["Message"])
    assert s3.get_bucket_notification_configuration(Bucket="photos").get(
        "LambdaFunctionConfigurations") is None
    lab.add_permission("recorder", "wrong-bucket", "lambda:InvokeFunction",
                       "s3.amazonaws.com", source_arn="arn:aws:s3:::other")
    with pytest.raises(ClientError):
        s3.put_bucket_notification_configuration(
            Bucket="photos", NotificationConfiguration=notify_config(arn, ["s3:ObjectCreated:*"]))
    allow_s3(lab, "recorder", "photos")
    s3.put_bucket_notification_configuration(
        Bucket="photos",
        NotificationConfiguration=notify_config(arn, ["s3:ObjectCreated:*"], Prefix="in/"))
    got = s3.get_bucket_notification_configuration(Bucket="photos")
    (config,) = got["LambdaFunctionConfigurations"]
    assert config["LambdaFunctionArn"] == arn and config["Events"] == ["s3:ObjectCreated:*"]
    assert config["Filter"]["Key"]["FilterRules"] == [{"Name": "Prefix", "Value": "in/"}]


@pytest.mark.parametrize(
    "config, message",
    [
        ({"Events": ["s3:ObjectMade:*"]}, "not supported"),
        ({"Events": ["s3:ObjectCreated:*"],
          "Filter": {"Key": {"FilterRules": [{"Name": "middle", "Value": "x"}]}}},
         "prefix or suffix"),
        ({"Events": ["s3:ObjectCreated:*"], "Filter": {"Key": {"FilterRules": [
            {"Name": "prefix", "Value": "a"}, {"Name": "Prefix", "Value": "b"}]}}},
         "more than one prefix"),
    ],
)
def test_bad_notification_configurations_get_invalid_argument(
    s3: Any, lab: Lab, recorder: tuple[str, Path], config: dict[str, Any], message: str
) -> None:
    arn, _ = recorder
    allow_s3(lab, "recorder", "photos")
    s3.create_bucket(Bucket="photos")
    with pytest.raises(ClientError) as info:
        s3.put_bucket_notification_configuration(
            Bucket="photos",
            NotificationConfiguration={"LambdaFunctionConfigurations": [
                {"LambdaFunctionArn": arn, **config}]})
    assert error_code(info) == "InvalidArgument"
    assert message in info.value.response["Error"]["Message"]


def test_overlapping_configurations_are_refused(lab: Lab, recorder: tuple[str, Path]) -> None:
    arn, _ = recorder
    allow_s3(lab, "recorder", "photos")
    s3 = S3.of(lab)
    s3.create_bucket("photos")
    one = {"LambdaFunctionArn": arn, "Events": ["s3:ObjectCreated:*"]}
    two = {"LambdaFunctionArn": arn, "Events": ["s3:ObjectCreated:Put"]}
    with pytest.raises(InvalidArgument, match="overlap"):
        s3.put_bucket_notification_configuration(
            "photos", {"LambdaFunctionConfigurations": [one, two]})


def test_matching_writes_invoke_the_function_asynchronously(
    s3: Any, lab: Lab, recorder: tuple[str, Path]
) -> None:
    arn, out = recorder
    allow_s3(lab, "recorder", "photos")
    s3.create_bucket(Bucket="photos")
    s3.put_bucket_notification_configuration(
        Bucket="photos", NotificationConfiguration={"LambdaFunctionConfigurations": [
            {"Id": "created", "LambdaFunctionArn": arn, "Events": ["s3:ObjectCreated:Put"],
             "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "in/"},
                                                {"Name": "suffix", "Value": ".jpg"}]}}},
            {"Id": "removed", "LambdaFunctionArn": arn, "Events": ["s3:ObjectRemoved:*"]},
        ]})
    put = s3.put_object(Bucket="photos", Key="in/my cat.jpg", Body=b"x" * 42)
    s3.put_object(Bucket="photos", Key="in/notes.txt", Body=b"no")
    s3.put_object(Bucket="photos", Key="out/cat.jpg", Body=b"no")
    s3.delete_object(Bucket="photos", Key="in/notes.txt")
    s3.delete_object(Bucket="photos", Key="never-existed")
    assert lab.wait_for_events(timeout=60)
    # asynchronous events run concurrently, in no promised order (as on AWS)
    records = {record["eventName"]: record for record in recorded(out)}
    assert sorted(records) == ["ObjectCreated:Put", "ObjectRemoved:Delete"]
    created, removed = records["ObjectCreated:Put"], records["ObjectRemoved:Delete"]
    assert created["eventSource"] == "aws:s3"
    assert created["s3"]["configurationId"] == "created"
    assert created["s3"]["bucket"]["arn"] == "arn:aws:s3:::photos"
    assert created["s3"]["object"]["key"] == "in/my+cat.jpg"
    assert created["s3"]["object"]["size"] == 42
    assert created["s3"]["object"]["eTag"] == put["ETag"].strip('"')
    assert removed["eventName"] == "ObjectRemoved:Delete"
    assert removed["s3"]["object"]["key"] == "in/notes.txt"
    assert "size" not in removed["s3"]["object"]


FAILS_ONCE = """
import os

def handler(event, context):
    marker = os.environ["OUT"] + ".seen"
    with open(os.environ["OUT"], "a") as f:
        f.write(event["Records"][0]["s3"]["object"]["key"] + "\\n")
    if not os.path.exists(marker):
        open(marker, "w").close()
        raise RuntimeError("first attempt fails")
"""


def test_a_failed_notification_is_retried_on_the_labs_clock(
    lab: Lab, code: Any, rendezvous: Path, clock: Any
) -> None:
    out = rendezvous / "attempts"
    config = lab.create_function("flaky", code=code(app=FAILS_ONCE), handler="app.handler",
                                 environment={"Variables": {"OUT": str(out)}})
    allow_s3(lab, "flaky", "photos")
    s3 = S3.of(lab)
    s3.create_bucket("photos")
    s3.put_bucket_notification_configuration("photos", notify_config(
        config.function_arn, ["s3:ObjectCreated:*"]))
    s3.put_object("photos", "cat.jpg", b"meow")
    assert lab.wait_for_events(timeout=60)
    assert out.read_text().split() == ["cat.jpg"]
    clock.advance(60)
    assert lab.wait_for_events(timeout=60)
    assert out.read_text().split() == ["cat.jpg", "cat.jpg"]


def test_state_survives_a_restart(tmp_path: Path) -> None:
    with Lab(data_dir=tmp_path / "d") as lab:
        S3.of(lab).create_bucket("keep")
        S3.of(lab).put_object("keep", "k", b"v")
    with Lab(data_dir=tmp_path / "d") as lab:
        assert S3.of(lab).get_object("keep", "k").read() == b"v"
        with pytest.raises(NoSuchKey):
            S3.of(lab).get_object("keep", "other")


# -- the AWS CLI ----------------------------------------------------------------------


def aws(edge: EdgeServer, *args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "AWS_ENDPOINT_URL": edge.url, "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE",
           "AWS_SECRET_ACCESS_KEY": "x", "AWS_DEFAULT_REGION": "us-east-1",
           "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull}
    return subprocess.run([sys.executable, "-m", "awscli", *args], env=env, capture_output=True,
                          input=stdin, timeout=120)


def test_the_aws_cli_s3api_and_s3_commands(edge: EdgeServer, tmp_path: Path) -> None:  # noqa: F811
    assert aws(edge, "s3api", "create-bucket", "--bucket", "cli").returncode == 0
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(b"jpeg" * 100)
    done = aws(edge, "s3api", "put-object", "--bucket", "cli", "--key", "p/photo.jpg",
               "--body", str(photo))
    assert done.returncode == 0, done.stderr
    listed = aws(edge, "s3api", "list-objects-v2", "--bucket", "cli")
    assert json.loads(listed.stdout)["Contents"][0]["Key"] == "p/photo.jpg"
    copied = aws(edge, "s3", "cp", str(photo), "s3://cli/q/copy.jpg")
    assert copied.returncode == 0, copied.stderr
    ls = aws(edge, "s3", "ls", "s3://cli/", "--recursive")
    assert "q/copy.jpg" in ls.stdout.decode() and "p/photo.jpg" in ls.stdout.decode()
    got = aws(edge, "s3", "cp", "s3://cli/q/copy.jpg", str(tmp_path / "back.jpg"))
    assert got.returncode == 0, got.stderr
    assert (tmp_path / "back.jpg").read_bytes() == photo.read_bytes()
    missing = aws(edge, "s3api", "get-object", "--bucket", "cli", "--key", "nope", "/dev/null")
    assert missing.returncode != 0 and b"NoSuchKey" in missing.stderr


# -- the seed use case ----------------------------------------------------------------

THUMBNAILER = """
import urllib.parse

import boto3
from botocore.config import Config

# AWS_ENDPOINT_URL is set in the function's environment while the edge serves
s3 = boto3.client("s3", config=Config(s3={"addressing_style": "path"}))


def handler(event, context):
    record = event["Records"][0]["s3"]
    key = urllib.parse.unquote_plus(record["object"]["key"])
    photo = s3.get_object(Bucket=record["bucket"]["name"], Key=key)["Body"].read()
    thumbnail = photo[::4]  # a quarter of the bytes stands in for resizing
    s3.put_object(Bucket="thumbnails", Key="thumb-" + key, Body=thumbnail)
    return {"thumbnail": "thumb-" + key, "size": len(thumbnail)}
"""


def test_a_photo_upload_makes_a_thumbnail(s3: Any, client: Any, lab: Lab) -> None:  # noqa: F811
    client.create_function(FunctionName="thumbnailer", Runtime="python3.11", Role=ROLE,
                           Handler="app.handler", Code={"ZipFile": zip_of(app=THUMBNAILER)},
                           Timeout=30)
    client.add_permission(FunctionName="thumbnailer", StatementId="s3", Principal="s3.amazonaws.com",
                          Action="lambda:InvokeFunction", SourceArn="arn:aws:s3:::photos")
    s3.create_bucket(Bucket="photos")
    s3.create_bucket(Bucket="thumbnails")
    arn = client.get_function(FunctionName="thumbnailer")["Configuration"]["FunctionArn"]
    s3.put_bucket_notification_configuration(
        Bucket="photos", NotificationConfiguration=notify_config(
            arn, ["s3:ObjectCreated:*"], Suffix=".jpg"))
    photo = bytes(range(256)) * 16
    s3.put_object(Bucket="photos", Key="holiday/beach day.jpg", Body=photo)
    assert lab.wait_for_events(timeout=60)
    thumb = s3.get_object(Bucket="thumbnails", Key="thumb-holiday/beach day.jpg")["Body"].read()
    assert thumb == photo[::4]
    # the thumbnail bucket has no notification: no loop
    assert [o["Key"] for o in s3.list_objects_v2(Bucket="thumbnails")["Contents"]] == [
        "thumb-holiday/beach day.jpg"]


# -- the lambdalab CLI ----------------------------------------------------------------


def test_the_cli_makes_buckets_copies_lists_and_removes(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from lambdalab.cli.app import main

    data = ["--data-dir", str(tmp_path / "d")]
    runner = CliRunner()
    src = tmp_path / "cat.jpg"
    src.write_bytes(b"meow")
    assert runner.invoke(main, [*data, "s3", "mb", "s3://pets"]).exit_code == 0
    assert runner.invoke(main, [*data, "s3", "cp", str(src), "s3://pets/cats/cat.jpg"]).exit_code == 0
    listed = runner.invoke(main, [*data, "s3", "ls", "s3://pets/cats/"])
    assert "cats/cat.jpg" in listed.output
    back = runner.invoke(main, [*data, "s3", "cp", "s3://pets/cats/cat.jpg", "-"])
    assert back.stdout_bytes.endswith(b"meow")
    assert runner.invoke(main, [*data, "s3", "rm", "s3://pets/cats/cat.jpg"]).exit_code == 0
    missing = runner.invoke(main, [*data, "s3", "rb", "s3://nope"])
    assert missing.exit_code == 2 and "NoSuchBucket" in missing.output
