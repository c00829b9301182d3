"""Each region a client signs for has its own functions, queues and buckets, as on AWS.

The judges are boto3 clients signing for us-east-1 and eu-west-1 against one ``lambdalab
serve`` process (and, where the virtual clock or a lab's own view is needed, an edge in
this process). AWS's words for a function of another region come from LocalStack's
recordings of real AWS (``test_lambda_api.snapshot.json``: test_get_function_wrong_region,
and "Function not found: <ARN>" for a name no function of the region has).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import boto3
import pytest
from botocore.config import Config
from click.testing import CliRunner

from lambdalab import Lab, VirtualClock
from lambdalab.cli.app import main
from lambdalab.regions import HOME_REGION_FILE, REGIONS_FOLDER, RegionMismatch, Regions
from lambdalab.server import EdgeServer

from .edge_support import create

ACCOUNT = "000000000000"
EAST, WEST = "us-east-1", "eu-west-1"
WHERE = """
import os

def handler(event, context):
    return {"arn": context.invoked_function_arn, "region": os.environ["AWS_REGION"],
            "code": "%s"}
"""


def client_in(url: str, region: str, service: str = "lambda") -> Any:
    """A boto3 client signing for ``region`` that does not retry."""
    return boto3.client(
        service, endpoint_url=url, region_name=region, aws_access_key_id="AKIDEXAMPLE",
        aws_secret_access_key="x", config=Config(retries={"total_max_attempts": 1},
                                                 read_timeout=120),
    )


def arn(region: str, name: str) -> str:
    return f"arn:aws:lambda:{region}:{ACCOUNT}:function:{name}"


def invoked(client: Any, name: str) -> dict[str, Any]:
    answer = client.invoke(FunctionName=name)
    assert "FunctionError" not in answer, answer["Payload"].read()
    return json.loads(answer["Payload"].read())


@contextmanager
def serving(data_dir: Path, *options: str) -> Iterator[str]:
    """``lambdalab serve`` on ``data_dir``, stopped with SIGTERM (it must exit cleanly)."""
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "lambdalab"), "--data-dir", str(data_dir),
         "serve", "--port", "0", *options],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        first = proc.stdout.readline() if proc.stdout else ""
        assert first.startswith("lambdalab edge on http://127.0.0.1:"), (
            first + (proc.stderr.read() if proc.stderr else ""))
        yield first.split()[3]
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0, proc.stderr.read() if proc.stderr else ""
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.fixture
def served(tmp_path: Path) -> Iterator[str]:
    with serving(tmp_path / "d") as url:
        yield url


@pytest.fixture
def edge(lab: Lab) -> Iterator[EdgeServer]:
    with EdgeServer(lab, port=0) as server:
        yield server


# -- functions, under a real `lambdalab serve` ------------------------------------------


def test_a_function_lives_in_the_region_it_was_created_in(served: str) -> None:
    east, west = client_in(served, EAST), client_in(served, WEST)
    created = create(east, "only-east", WHERE % "east")
    assert created["FunctionArn"] == arn(EAST, "only-east")
    assert [f["FunctionName"] for f in west.list_functions()["Functions"]] == []
    for call in (lambda: west.get_function(FunctionName="only-east"),
                 lambda: west.invoke(FunctionName="only-east"),
                 lambda: west.delete_function(FunctionName="only-east")):
        with pytest.raises(west.exceptions.ResourceNotFoundException) as e:
            call()
        assert e.value.response["Message"].startswith(
            f"Function not found: {arn(WEST, 'only-east')}")
    # Its ARN, given to the other region, is AWS's test_get_function_wrong_region.
    with pytest.raises(west.exceptions.ResourceNotFoundException) as e:
        west.get_function(FunctionName=arn(EAST, "only-east"))
    assert e.value.response["Message"] == (
        "Functions from 'us-east-1' are not reachable in this region ('eu-west-1')")
    assert invoked(east, "only-east") == {
        "arn": arn(EAST, "only-east"), "region": EAST, "code": "east"}


def test_the_same_name_in_two_regions_is_two_functions_and_both_survive_a_restart(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "d"
    with serving(data_dir) as url:
        east, west = client_in(url, EAST), client_in(url, WEST)
        assert create(west, "twin", WHERE % "west")["FunctionArn"] == arn(WEST, "twin")
        assert create(east, "twin", WHERE % "east")["FunctionArn"] == arn(EAST, "twin")
        west.publish_version(FunctionName="twin")
        client_in(url, WEST, "sqs").create_queue(QueueName="kept")
        assert invoked(west, "twin") == {"arn": arn(WEST, "twin"), "region": WEST, "code": "west"}
        assert invoked(east, "twin") == {"arn": arn(EAST, "twin"), "region": EAST, "code": "east"}
    assert (data_dir / HOME_REGION_FILE).read_text().strip() == EAST
    assert (data_dir / REGIONS_FOLDER / WEST).is_dir()
    with serving(data_dir) as url:
        east, west = client_in(url, EAST), client_in(url, WEST)
        versions = west.list_versions_by_function(FunctionName="twin")["Versions"]
        assert [v["Version"] for v in versions] == ["$LATEST", "1"]
        assert [v["Version"] for v in east.list_versions_by_function(
            FunctionName="twin")["Versions"]] == ["$LATEST"]
        with urllib.request.urlopen(url + "/_lambdalab/health", timeout=60) as answer:
            assert json.load(answer)["regions"] == [WEST, EAST]  # the stored region opens at start
        assert invoked(west, "twin")["code"] == "west"
        assert invoked(east, "twin")["code"] == "east"
        assert client_in(url, WEST, "sqs").get_queue_url(QueueName="kept")["QueueUrl"]


# -- the other services, per region -------------------------------------------------------


def test_queues_belong_to_the_region_they_were_created_in(served: str) -> None:
    east, west = client_in(served, EAST, "sqs"), client_in(served, WEST, "sqs")
    url = west.create_queue(QueueName="jobs")["QueueUrl"]
    attributes = west.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    assert attributes["Attributes"]["QueueArn"] == f"arn:aws:sqs:{WEST}:{ACCOUNT}:jobs"
    assert "QueueUrls" not in east.list_queues()
    with pytest.raises(east.exceptions.QueueDoesNotExist):
        east.get_queue_url(QueueName="jobs")
    east.create_queue(QueueName="jobs")  # a queue of the same name, of its own region
    west.send_message(QueueUrl=url, MessageBody="to the west")
    received = east.receive_message(QueueUrl=east.get_queue_url(QueueName="jobs")["QueueUrl"])
    assert "Messages" not in received
    assert west.receive_message(QueueUrl=url)["Messages"][0]["Body"] == "to the west"


def test_a_bucket_lives_in_the_region_it_was_created_in(served: str) -> None:
    """A bucket's objects are its region's; its name is the account's (more in
    tests/test_regions_s3.py)."""
    east, west = client_in(served, EAST, "s3"), client_in(served, WEST, "s3")
    west.create_bucket(Bucket="photos", CreateBucketConfiguration={"LocationConstraint": WEST})
    assert west.get_bucket_location(Bucket="photos")["LocationConstraint"] == WEST
    assert [(b["Name"], b["BucketRegion"]) for b in east.list_buckets()["Buckets"]] == [
        ("photos", WEST)]
    # A SigV4 presigned URL names its region in X-Amz-Credential: the west's object.
    west.put_object(Bucket="photos", Key="cat.txt", Body=b"meow")
    presigner = boto3.client("s3", endpoint_url=served, region_name=WEST,
                             aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="x",
                             config=Config(signature_version="s3v4"))
    url = presigner.generate_presigned_url("get_object",
                                           Params={"Bucket": "photos", "Key": "cat.txt"})
    with urllib.request.urlopen(url, timeout=60) as answer:
        assert answer.read() == b"meow"


# -- in this process: the edge's choices ---------------------------------------------------


def test_a_function_url_of_another_region_answers_unsigned(edge: EdgeServer) -> None:
    west = client_in(edge.url, WEST)
    create(west, "web", "def handler(event, context):\n"
                        "    return event['requestContext']['domainName']\n")
    url = west.create_function_url_config(FunctionName="web", AuthType="NONE")["FunctionUrl"]
    west.add_permission(FunctionName="web", StatementId="public", Action="lambda:InvokeFunctionUrl",
                        Principal="*", FunctionUrlAuthType="NONE")
    with urllib.request.urlopen(url, timeout=120) as answer:
        domain = answer.read().decode()
    url_id = url.rstrip("/").rsplit("/", 1)[1]
    assert domain == f"{url_id}.lambda-url.{WEST}.on.aws"


def test_a_region_aws_does_not_have_is_refused_as_aws_refuses_it(edge: EdgeServer, lab: Lab) -> None:
    nowhere = client_in(edge.url, "xx-nowhere-1")
    with pytest.raises(nowhere.exceptions.ClientError) as e:
        nowhere.list_functions()
    error = e.value.response["Error"]
    assert error["Code"] == "InvalidSignatureException"
    assert error["Message"].startswith(
        "Credential should be scoped to a valid region, not 'xx-nowhere-1'.")
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert not (Path(lab.store.data_dir) / REGIONS_FOLDER / "xx-nowhere-1").exists()


def test_each_region_has_its_own_concurrency_pool(edge: EdgeServer, lab: Lab) -> None:
    create(client_in(edge.url, WEST), "f")
    west_lab = edge.regions.lab(WEST)
    assert west_lab is not lab and west_lab.pool is not lab.pool
    assert west_lab.clock is lab.clock and west_lab.arns.account_id == lab.arns.account_id
    assert [f.function_name for f in west_lab.list_functions()] == ["f"]
    assert lab.list_functions() == []


def test_an_existing_data_dir_opens_unchanged_and_learns_its_home(
    tmp_path: Path, clock: VirtualClock
) -> None:
    data_dir = tmp_path / "old"
    with Lab(data_dir=data_dir, clock=clock, region="us-west-2") as lab:
        lab.create_function(function_name="kept", runtime="python3.11",
                            handler="app.handler", code=_folder(tmp_path))
    assert not (data_dir / HOME_REGION_FILE).exists()  # as every data dir before regions
    with Lab(data_dir=data_dir, clock=clock, region="us-west-2") as lab, \
            EdgeServer(lab, port=0) as server:
        west2 = client_in(server.url, "us-west-2")
        assert west2.get_function(FunctionName="kept")["Configuration"]["FunctionArn"] == (
            arn("us-west-2", "kept"))
    assert (data_dir / HOME_REGION_FILE).read_text().strip() == "us-west-2"
    with Lab(data_dir=data_dir, clock=clock) as lab:  # no region given: the data dir's
        assert lab.arns.region == "us-west-2"


def test_a_lab_of_another_region_on_the_data_dir_is_refused_with_what_to_do(
    tmp_path: Path, clock: VirtualClock
) -> None:
    data_dir = tmp_path / "d"
    with Lab(data_dir=data_dir, clock=clock) as lab:
        Regions(lab).close()
    with Lab(data_dir=data_dir, clock=clock, region=WEST) as lab:
        with pytest.raises(RegionMismatch) as e:
            Regions(lab)
    assert f"belongs to region {EAST}" in str(e.value)
    assert str(data_dir / REGIONS_FOLDER / WEST) in str(e.value)


def test_labs_opened_grows_with_each_region_opened_and_never_shrinks(
    tmp_path: Path, clock: VirtualClock
) -> None:
    from lambdalab.plugin import labs_opened

    with Lab(data_dir=tmp_path / "d", clock=clock) as lab:
        assert labs_opened(lab) == 1  # alone
        regions = Regions(lab)
        assert labs_opened(lab) == 1
        west = regions.lab(WEST)
        assert labs_opened(lab) == labs_opened(west) == 2
        regions.lab(WEST)  # already open: nothing opened
        assert labs_opened(lab) == 2
        regions.close()
        regions.lab(WEST)  # opened again after closing: a plugin's cached view is stale
        assert labs_opened(lab) == 3
        regions.close()


def test_serve_with_another_region_than_the_data_dirs_says_what_to_do(tmp_path: Path) -> None:
    data_dir = tmp_path / "d"
    (data_dir).mkdir()
    (data_dir / HOME_REGION_FILE).write_text(EAST + "\n")
    result = CliRunner().invoke(
        main, ["--data-dir", str(data_dir), "serve", "--port", "0", "--region", WEST])
    assert result.exit_code == 1, result.output
    assert f"belongs to region {EAST}" in result.output
    assert f"clients signing for {WEST} still reach {WEST}'s own functions" in " ".join(
        result.output.split())
    assert "Traceback" not in result.output


def _folder(tmp_path: Path) -> Path:
    folder = tmp_path / "code"
    folder.mkdir(exist_ok=True)
    (folder / "app.py").write_text("def handler(event, context):\n    return event\n")
    return folder


def test_only_a_request_that_passes_the_signature_check_opens_a_region(lab: Lab) -> None:
    with EdgeServer(lab, port=0, auth_keys={"AKIDREGIONS": "secret"}) as server:
        stranger = client_in(server.url, WEST)  # signs with a key the edge does not know
        with pytest.raises(stranger.exceptions.ClientError) as e:
            stranger.list_functions()
        assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
        assert not (Path(lab.store.data_dir) / REGIONS_FOLDER).exists()
        known = boto3.client("lambda", endpoint_url=server.url, region_name=WEST,
                             aws_access_key_id="AKIDREGIONS", aws_secret_access_key="secret",
                             config=Config(retries={"total_max_attempts": 1}))
        assert known.list_functions()["Functions"] == []
        assert (Path(lab.store.data_dir) / REGIONS_FOLDER / WEST).is_dir()


def test_a_plugin_registered_on_the_home_lab_serves_every_region(lab: Lab) -> None:
    import lambdalab
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from lambdalab.plugin import HttpService

    class Secrets:
        @lambdalab.hookimpl
        def lambdalab_http_services(self, lab: Lab) -> list[HttpService]:
            async def get_secret_value(request: Request) -> JSONResponse:
                return JSONResponse({"Name": lab.arns.region, "SecretString": "hunter2"})

            app = Starlette(routes=[Route("/", get_secret_value, methods=["POST"])])
            return [HttpService("secretsmanager", app, target_prefixes=("secretsmanager.",))]

    lab.plugin_manager.register(Secrets())  # after the lab opened, as hooks.rst shows
    with EdgeServer(lab, port=0) as server:
        for region in (EAST, WEST):
            secrets = client_in(server.url, region, "secretsmanager")
            assert secrets.get_secret_value(SecretId="db")["Name"] == region
