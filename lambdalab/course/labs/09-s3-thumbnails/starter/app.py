"""Lab 9: the thumbnail function. S3 invokes it (asynchronously) when a photo is uploaded.

The event is S3's notification: ``event["Records"][0]["s3"]`` has ``bucket.name`` and
``object.key``. Keys arrive URL-encoded, as S3 sends them ("beach+day.jpg").
boto3 reaches lambdalab's S3 through AWS_ENDPOINT_URL, which lambdalab sets for you.
"""

import urllib.parse

import boto3
from botocore.config import Config

s3 = boto3.client("s3", config=Config(s3={"addressing_style": "path"}))
THUMBNAILS = "thumbnails"


def handler(event, context):
    record = event["Records"][0]["s3"]
    bucket = record["bucket"]["name"]
    # TODO: the key as S3 sent it is URL-encoded: decode it (urllib.parse.unquote_plus).
    key = record["object"]["key"]
    photo = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    thumbnail = photo[::4]  # a quarter of the bytes stands in for resizing an image
    # TODO: write the thumbnail to the THUMBNAILS bucket under the key "thumb-" + key.
    return {"thumbnail": "thumb-" + key, "size": len(thumbnail)}
