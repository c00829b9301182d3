"""Check for lab 22: with IAM enforced, the reporting function reads its report with the
learner's execution role policy, and that policy allows nothing more (no write, no other
bucket, no object outside the prefix, no other service)."""

import contextlib
import json
import tempfile
from pathlib import Path

from lambdalab.labs import (
    CheckFailed,
    call_learner,
    deploy,
    fresh_lab,
    load_learner_module,
    passed,
    require_file,
    require_functions,
    unique_name,
)

from lambdalab.course.iam_reports import ACCOUNT, KEY, LAMBDA_TRUST, PREFIX, READER, REPORT, client


def check(workdir: Path):
    script = require_file(workdir, "policy.py")
    module = load_learner_module(script)
    require_functions(script, module, ("role_policy(bucket, prefix)",))
    bucket = unique_name("reports")
    document = call_learner(script, module.role_policy, bucket, PREFIX, what="role_policy(bucket, prefix)")
    if not isinstance(document, dict):
        raise CheckFailed("role_policy did not return a policy document.", expected="a dict with a Statement list",
                          got=repr(document)[:200], try_next='return {"Version": "2012-10-17", "Statement": [...]}')
    answer = read_report(bucket, document)
    if "read" not in answer:
        raise CheckFailed("The function could not read its report with your policy.",
                          expected=f"GetObject of s3://{bucket}/{KEY} to be allowed",
                          got=f"{answer['error']}: {answer['message']}", try_next=why_denied(document, bucket))
    too_much = first_excess(document, bucket)
    if too_much is not None:
        probe, advice = too_much
        raise CheckFailed("The function reads its report, but your policy allows more than it needs.",
                          expected="only s3:GetObject on the objects under reports/ of that bucket",
                          got=f"it also allows {probe}", try_next=advice)
    return passed(
        "The reporting function reads its report with the least privilege.",
        f"GetObject of s3://{bucket}/{KEY} is allowed",
        "writes, other buckets, objects outside reports/ and other services are not",
    )


def read_report(bucket, document):
    """Invoke the reader with ``document`` on its role, in a lab that enforces IAM."""
    from lambdalab.server import EdgeServer

    with contextlib.ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        lab = stack.enter_context(fresh_lab(enforce_iam=True))
        url = stack.enter_context(EdgeServer(lab, port=0)).url  # the handler's boto3 reaches it
        s3, iam = client(url, "s3"), client(url, "iam")
        s3.create_bucket(Bucket=bucket)
        s3.put_object(Bucket=bucket, Key=KEY, Body=REPORT)
        role = iam.create_role(RoleName=unique_name("reporter"), AssumeRolePolicyDocument=LAMBDA_TRUST)["Role"]
        try:
            iam.put_role_policy(RoleName=role["RoleName"], PolicyName="read-reports",
                                PolicyDocument=json.dumps(document))
        except iam.exceptions.ClientError as e:
            raise CheckFailed("IAM refused your policy document.", expected="a valid IAM policy",
                              got=f"{e.response['Error']['Code']}: {e.response['Error']['Message']}",
                              try_next="each statement needs Effect, Action and Resource") from None
        (tmp / "app.py").write_text(READER)
        name = unique_name("reporter")
        deploy(lab, name, tmp, "app.handler", role=role["Arn"], timeout=30)
        result = lab.invoke(name, {"bucket": bucket, "key": KEY}).json()
    if not isinstance(result, dict) or not ("read" in result or "error" in result):
        raise CheckFailed("The reporting function failed.", expected="it to answer", got=repr(result)[:300],
                          try_next="run the check again; if it persists, look at `lambdalab logs`")
    return result


def allows(document, action, resource):
    from lambdalab.plugin import iam_policy

    role = f"arn:aws:iam::{ACCOUNT}:role/reporter"
    request = iam_policy.Request(role, action, resource, ACCOUNT, ACCOUNT)
    return iam_policy.evaluate(request, [document]).allowed


def why_denied(document, bucket):
    if allows(document, "s3:GetObject", f"arn:aws:s3:::{bucket}"):
        return (f"arn:aws:s3:::{bucket} is the bucket itself (what s3:ListBucket acts on); its objects are "
                f"arn:aws:s3:::{bucket}/KEY: end the resource with /{PREFIX}*")
    if bucket not in json.dumps(document):
        return (f"your policy does not name the bucket the function reads, {bucket}: build the resource "
                "from the bucket parameter, arn:aws:s3:::BUCKET/...")
    return f'allow "s3:GetObject" (reading an object) on "arn:aws:s3:::{bucket}/{PREFIX}*"'


def first_excess(document, bucket):
    """The first request the function does not need that ``document`` allows, and what to
    change; ``None`` when there is none."""
    probes = [
        ("s3:PutObject", f"arn:aws:s3:::{bucket}/{KEY}",
         "the function only reads: a wildcard action such as s3:* lets it overwrite and delete too; "
         'use "Action": "s3:GetObject"'),
        ("s3:GetObject", "arn:aws:s3:::payroll/salaries.csv",
         'it may read every bucket of the account: "Resource": "*" names everything; name this bucket\'s '
         f"objects, arn:aws:s3:::{bucket}/{PREFIX}*"),
        ("s3:GetObject", f"arn:aws:s3:::{bucket}/private/keys.json",
         f"it may read objects outside {PREFIX}: arn:aws:s3:::{bucket}/* is the whole bucket; "
         f"end the resource with /{PREFIX}*"),
        ("iam:CreateUser", "*", "it allows more than S3: keep only s3:GetObject"),
    ]
    for action, resource, advice in probes:
        if allows(document, action, resource):
            return f"{action} on {resource}", advice
    return None
