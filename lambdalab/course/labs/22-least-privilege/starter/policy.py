"""Lab 22: the execution role policy of a function that reads reports from S3.

``role_policy(bucket, prefix)`` returns an IAM policy document (a dict, as JSON gives
it); the check puts it on the function's role as an inline policy.
"""


def role_policy(bucket, prefix):
    # TODO: allow only reading (s3:GetObject) the objects under PREFIX in BUCKET.
    return {
        "Version": "2012-10-17",
        "Statement": [],
    }
