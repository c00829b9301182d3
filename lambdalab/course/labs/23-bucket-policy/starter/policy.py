"""Lab 23: the bucket policy that lets a function's role read reports from S3.

``bucket_policy(bucket, prefix, role_arn)`` returns a bucket policy document (a dict,
as JSON gives it); the check puts it on the bucket with PutBucketPolicy.
"""


def bucket_policy(bucket, prefix, role_arn):
    # TODO: allow only ROLE_ARN to read (s3:GetObject) the objects under PREFIX in BUCKET.
    return {
        "Version": "2012-10-17",
        "Statement": [],
    }
