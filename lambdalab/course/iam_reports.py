"""What the IAM labs' checks (22: a role policy, 23: a bucket policy) share: a report in
S3 under a prefix, the trust policy that lets Lambda assume a role, the reporting
function's handler (it reads the report with its role's keys and answers the error code
when it is denied), and a boto3 client of the lab's edge."""

from __future__ import annotations

import json
from typing import Any

PREFIX = "reports/"
KEY = PREFIX + "latest.json"
REPORT = b'{"sales": 1234}'
ACCOUNT = "000000000000"
LAMBDA_TRUST = json.dumps({"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
READER = '''import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

s3 = boto3.client("s3", config=Config(s3={"addressing_style": "path"}, retries={"total_max_attempts": 1}))


def handler(event, context):
    try:
        return {"read": s3.get_object(Bucket=event["bucket"], Key=event["key"])["Body"].read().decode()}
    except ClientError as e:
        return {"error": e.response["Error"]["Code"], "message": e.response["Error"]["Message"]}
'''


def client(url: str, service: str) -> Any:
    """A boto3 client of the lab's edge at ``url`` (path-style S3, one attempt)."""
    import boto3
    from botocore.config import Config

    return boto3.client(service, endpoint_url=url, region_name="us-east-1", aws_access_key_id="test",
                        aws_secret_access_key="test",
                        config=Config(s3={"addressing_style": "path"}, retries={"total_max_attempts": 1}))
