"""S3 across regions, as AWS behaves: bucket names are global, CreateBucket's
LocationConstraint must match the endpoint, and a request reaches the bucket's region.

The judges are boto3 clients signing for us-east-1 and eu-west-1 against one ``lambdalab
serve`` (and a request signed with botocore's own SigV4 signer, sent without boto3's
redirect handling). AWS's words: https://docs.aws.amazon.com/AmazonS3/latest/API/API_CreateBucket.html,
https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html (PermanentRedirect,
IllegalLocationConstraintException, InvalidLocationConstraint).
"""

from __future__ import annotations

import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Iterator

import boto3
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from .test_regions import EAST, WEST, client_in, serving

UNSPECIFIED = ("The unspecified location constraint is incompatible for the region specific "
               "endpoint this request was sent to.")


@pytest.fixture
def served(tmp_path: Path) -> Iterator[str]:
    with serving(tmp_path / "d") as url:
        yield url


def error_of(call: Any) -> dict[str, Any]:
    with pytest.raises(Exception) as e:
        call()
    return e.value.response["Error"]  # type: ignore[attr-defined,no-any-return]


def in_west(bucket: str) -> dict[str, Any]:
    return {"Bucket": bucket, "CreateBucketConfiguration": {"LocationConstraint": WEST}}


# -- CreateBucket's LocationConstraint ----------------------------------------------------


def test_create_bucket_needs_the_location_constraint_of_its_endpoint(served: str) -> None:
    east, west = client_in(served, EAST, "s3"), client_in(served, WEST, "s3")
    assert error_of(lambda: west.create_bucket(Bucket="nowhere")) == {
        "Code": "IllegalLocationConstraintException", "Message": UNSPECIFIED}
    other = error_of(lambda: west.create_bucket(
        Bucket="nowhere", CreateBucketConfiguration={"LocationConstraint": "eu-central-1"}))
    assert other["Code"] == "IllegalLocationConstraintException"
    assert other["Message"].startswith("The eu-central-1 location constraint is incompatible")
    for client in (east, west):  # us-east-1 is never a LocationConstraint
        refused = error_of(lambda: client.create_bucket(
            Bucket="nowhere", CreateBucketConfiguration={"LocationConstraint": EAST}))
        assert refused["Code"] == "InvalidLocationConstraint"
        assert refused["Message"] == "The specified location-constraint is not valid"
    assert [b["Name"] for b in east.list_buckets()["Buckets"]] == []
    west.create_bucket(**in_west("west-made"))
    east.create_bucket(Bucket="east-made")
    # us-east-1's endpoint creates a bucket in the region its constraint names.
    east.create_bucket(Bucket="sent-east", CreateBucketConfiguration={"LocationConstraint": WEST})
    regions = {b["Name"]: b["BucketRegion"] for b in west.list_buckets()["Buckets"]}
    assert regions == {"east-made": EAST, "sent-east": WEST, "west-made": WEST}
    assert west.get_bucket_location(Bucket="sent-east")["LocationConstraint"] == WEST


# -- one name space, every region ---------------------------------------------------------


def test_a_bucket_name_is_the_accounts_in_every_region(served: str) -> None:
    east, west = client_in(served, EAST, "s3"), client_in(served, WEST, "s3")
    west.create_bucket(**in_west("photos"))
    taken = error_of(lambda: east.create_bucket(Bucket="photos"))
    assert taken["Code"] == "BucketAlreadyOwnedByYou"
    assert error_of(lambda: west.create_bucket(**in_west("photos")))["Code"] == (
        "BucketAlreadyOwnedByYou")
    listed = east.list_buckets()["Buckets"]
    assert [(b["Name"], b["BucketRegion"]) for b in listed] == [("photos", WEST)]
    assert east.head_bucket(Bucket="photos")["BucketRegion"] == WEST
    assert east.get_bucket_location(Bucket="photos")["LocationConstraint"] == WEST
    # boto3 follows S3's redirect and re-signs for the bucket's region, as against AWS.
    east.put_object(Bucket="photos", Key="cat.txt", Body=b"meow")
    assert west.get_object(Bucket="photos", Key="cat.txt")["Body"].read() == b"meow"
    # CopyObject reads its source in whichever region holds it.
    east.create_bucket(Bucket="east-made")
    west.copy_object(Bucket="east-made", Key="copy.txt", CopySource="photos/cat.txt")
    assert east.get_object(Bucket="east-made", Key="copy.txt")["Body"].read() == b"meow"
    west.delete_object(Bucket="photos", Key="cat.txt")
    west.delete_bucket(Bucket="photos")
    # A deleted bucket's name is free everywhere (a fresh client: boto3 remembers the
    # region a bucket was redirected to).
    client_in(served, EAST, "s3").create_bucket(Bucket="photos")
    assert west.head_bucket(Bucket="photos")["BucketRegion"] == EAST


def signed(url: str, method: str, region: str) -> AWSRequest:
    request = AWSRequest(method=method, url=url, headers={"x-amz-content-sha256": "UNSIGNED-PAYLOAD"})
    SigV4Auth(Credentials("AKIDEXAMPLE", "x"), "s3", region).add_auth(request)
    return request


def sent(request: AWSRequest) -> tuple[int, dict[str, str], bytes]:
    prepared = urllib.request.Request(request.url, method=request.method,
                                      headers=dict(request.headers.items()))
    try:
        with urllib.request.urlopen(prepared, timeout=60) as answer:
            return answer.status, dict(answer.headers.items()), answer.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers.items()), e.read()


def test_a_request_signed_for_another_region_is_redirected_to_the_buckets(served: str) -> None:
    client_in(served, WEST, "s3").create_bucket(**in_west("photos"))
    status, headers, body = sent(signed(f"{served}/photos?list-type=2", "GET", EAST))
    assert status == 301
    assert headers["x-amz-bucket-region"] == WEST
    assert b"<Code>PermanentRedirect</Code>" in body
    assert b"<Endpoint>photos.s3.eu-west-1.amazonaws.com</Endpoint>" in body
    assert b"BucketRegion" not in body  # the region is a header, not an element
    status, headers, body = sent(signed(f"{served}/photos", "HEAD", EAST))
    assert (status, headers["x-amz-bucket-region"], body) == (301, WEST, b"")
    status, _, _ = sent(signed(f"{served}/photos?list-type=2", "GET", WEST))
    assert status == 200
    # A name no region holds is still NoSuchBucket, whichever region signs.
    status, _, body = sent(signed(f"{served}/nobody?list-type=2", "GET", EAST))
    assert status == 404 and b"<Code>NoSuchBucket</Code>" in body


def test_boto3s_default_presigned_url_reaches_the_buckets_region(served: str) -> None:
    west = client_in(served, WEST, "s3")
    west.create_bucket(**in_west("photos"))
    west.put_object(Bucket="photos", Key="cat.txt", Body=b"meow")
    presigner = boto3.client("s3", endpoint_url=served, region_name=EAST,
                             aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="x")
    url = presigner.generate_presigned_url("get_object",
                                           Params={"Bucket": "photos", "Key": "cat.txt"})
    assert "X-Amz-Credential" not in url  # SigV2: the URL names no region
    with urllib.request.urlopen(url, timeout=60) as answer:
        assert answer.read() == b"meow"


def test_the_names_survive_a_restart_and_an_older_data_dir_is_adopted(tmp_path: Path) -> None:
    data_dir = tmp_path / "d"
    with serving(data_dir) as url:
        client_in(url, WEST, "s3").create_bucket(**in_west("photos"))
    with serving(data_dir) as url:
        east = client_in(url, EAST, "s3")
        assert error_of(lambda: east.create_bucket(Bucket="photos"))["Code"] == (
            "BucketAlreadyOwnedByYou")
    # A data dir of a lambdalab without the directory: each region's buckets are adopted.
    for name in ("bucket-directory.db", "bucket-directory.db-wal", "bucket-directory.db-shm"):
        (data_dir / "s3" / name).unlink(missing_ok=True)
    with serving(data_dir) as url:
        east = client_in(url, EAST, "s3")
        assert [(b["Name"], b["BucketRegion"]) for b in east.list_buckets()["Buckets"]] == [
            ("photos", WEST)]
        assert error_of(lambda: east.create_bucket(Bucket="photos"))["Code"] == (
            "BucketAlreadyOwnedByYou")


def test_a_claim_left_by_a_crash_before_its_bucket_is_forgotten(tmp_path: Path) -> None:
    """A region claims a name before it creates the bucket; a crash between the two
    leaves a claim without a bucket, which the region drops when it next opens."""
    from lambdalab import Lab, VirtualClock
    from lambdalab.regions import Regions
    from lambdalab_s3 import S3

    clock = VirtualClock(start=1_700_000_000)
    with Lab(data_dir=tmp_path / "d", clock=clock) as home:
        regions = Regions(home)
        S3.of(regions.lab(WEST)).directory.claim("ghost", WEST, clock.now())  # then "crash"
        assert error_of_s3(lambda: S3.of(home).create_bucket("ghost")) == (
            "BucketAlreadyOwnedByYou")
        regions.close()
    with Lab(data_dir=tmp_path / "d", clock=clock) as home:
        regions = Regions(home)
        S3.of(regions.lab(WEST))  # the region opens: its claims without buckets go
        assert S3.of(home).create_bucket("ghost").region == EAST
        regions.close()


def error_of_s3(call: Any) -> str:
    with pytest.raises(Exception) as e:
        call()
    return e.value.code  # type: ignore[attr-defined,no-any-return]
