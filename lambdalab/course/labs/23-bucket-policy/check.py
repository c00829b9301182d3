"""Check for lab 23: with IAM enforced and a role with no permission policy, the reporting
function reads its report through the learner's bucket policy alone, and that policy
grants nothing more (not the public, not other principals, no write, no object outside
the prefix)."""

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
    require_functions(script, module, ("bucket_policy(bucket, prefix, role_arn)",))
    bucket, role_name = unique_name("reports"), unique_name("reporter")
    role_arn = f"arn:aws:iam::{ACCOUNT}:role/{role_name}"
    document = call_learner(script, module.bucket_policy, bucket, PREFIX, role_arn,
                            what="bucket_policy(bucket, prefix, role_arn)")
    if not isinstance(document, dict):
        raise CheckFailed("bucket_policy did not return a policy document.",
                          expected="a dict with a Statement list", got=repr(document)[:200],
                          try_next='return {"Version": "2012-10-17", "Statement": [...]}')
    answer = read_report(bucket, role_name, document)
    if "read" not in answer:
        raise CheckFailed("The function could not read its report with your bucket policy.",
                          expected=f"GetObject of s3://{bucket}/{KEY} by its role to be allowed",
                          got=f"{answer['error']}: {answer['message']}",
                          try_next=why_denied(document, bucket, role_arn))
    too_much = first_excess(document, bucket, role_arn)
    if too_much is not None:
        probe, advice = too_much
        raise CheckFailed("The function reads its report, but your bucket policy grants more than it needs.",
                          expected="only the function's role, only s3:GetObject, only objects under reports/",
                          got=f"it also allows {probe}", try_next=advice)
    return passed(
        "The bucket policy alone lets the reporting function read its report.",
        f"the role (no permission policy of its own) reads s3://{bucket}/{KEY}",
        "the public, other principals, writes and objects outside reports/ are not allowed",
    )


def read_report(bucket, role_name, document):
    """Invoke the reader, whose role has no policy, with ``document`` on the bucket."""
    from lambdalab.server import EdgeServer

    with contextlib.ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        lab = stack.enter_context(fresh_lab(enforce_iam=True))
        url = stack.enter_context(EdgeServer(lab, port=0)).url  # the handler's boto3 reaches it
        s3, iam = client(url, "s3"), client(url, "iam")
        s3.create_bucket(Bucket=bucket)
        s3.put_object(Bucket=bucket, Key=KEY, Body=REPORT)
        s3.put_object(Bucket=bucket, Key="private/keys.json", Body=b"{}")
        role = iam.create_role(RoleName=role_name, AssumeRolePolicyDocument=LAMBDA_TRUST)["Role"]
        try:
            s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(document))
        except s3.exceptions.ClientError as e:
            raise CheckFailed("S3 refused your bucket policy.", expected="a bucket policy S3 accepts",
                              got=f"{e.response['Error']['Code']}: {e.response['Error']['Message']}",
                              try_next=refusal_advice(e.response["Error"]["Message"])) from None
        (tmp / "app.py").write_text(READER)
        name = unique_name("reporter")
        deploy(lab, name, tmp, "app.handler", role=role["Arn"], timeout=30)
        result = lab.invoke(name, {"bucket": bucket, "key": KEY}).json()
    if not isinstance(result, dict) or not ("read" in result or "error" in result):
        raise CheckFailed("The reporting function failed.", expected="it to answer", got=repr(result)[:300],
                          try_next="run the check again; if it persists, look at `lambdalab logs`")
    return result


def refusal_advice(message):
    if "Principal" in message:
        return 'a bucket policy says who it allows: "Principal": {"AWS": role_arn}'
    if "does not apply" in message:
        return ("s3:GetObject acts on objects, arn:aws:s3:::BUCKET/KEY; the bucket's own ARN is what "
                f"s3:ListBucket acts on: end the resource with /{PREFIX}*")
    if "invalid resource" in message:
        return "a bucket policy may only name its own bucket: build the resource from the bucket parameter"
    return "each statement needs Effect, Principal, Action and Resource"


def session(role_arn):
    """The principal the function's calls are made as: a session of its role."""
    return role_arn.replace(":iam::", ":sts::").replace(":role/", ":assumed-role/") + "/reporter"


def allows(document, principal, account, action, resource):
    """What the bucket policy alone says (no identity policy), as enforcement decides."""
    from lambdalab.plugin import iam_policy

    request = iam_policy.Request(principal, action, resource, account, ACCOUNT)
    return iam_policy.evaluate(request, [], document).allowed


def names_the_account(document):
    return f"arn:aws:iam::{ACCOUNT}:root" in json.dumps(document) or f'"{ACCOUNT}"' in json.dumps(document)


def why_denied(document, bucket, role_arn):
    if names_the_account(document):
        return ("naming the account (its root) delegates to the account's IAM policies, and the role has "
                f'none: name the role itself, "Principal": {{"AWS": "{role_arn}"}}')
    if role_arn not in json.dumps(document):
        return 'the policy does not name the function\'s role: "Principal": {"AWS": role_arn}'
    return f'allow "s3:GetObject" (reading an object) on "arn:aws:s3:::{bucket}/{PREFIX}*"'


def first_excess(document, bucket, role_arn):
    """The first request the function does not need that ``document`` allows, and what to
    change; ``None`` when there is none."""
    role = session(role_arn)
    probes = [
        ("anonymous", None, "s3:GetObject", f"arn:aws:s3:::{bucket}/{KEY}",
         'anyone, without any key: "Principal": "*" makes the bucket public (IsPublic). Name the role: '
         '"Principal": {"AWS": role_arn}'),
        (f"arn:aws:sts::{ACCOUNT}:assumed-role/intern/laptop", ACCOUNT, "s3:GetObject",
         f"arn:aws:s3:::{bucket}/{KEY}",
         'other principals than the function\'s role: name only it, "Principal": {"AWS": role_arn}'),
        (role, ACCOUNT, "s3:PutObject", f"arn:aws:s3:::{bucket}/{KEY}",
         "the function only reads: a wildcard action such as s3:* lets it overwrite and delete too; "
         'use "Action": "s3:GetObject"'),
        (role, ACCOUNT, "s3:GetObject", f"arn:aws:s3:::{bucket}/private/keys.json",
         f"objects outside {PREFIX}: arn:aws:s3:::{bucket}/* is the whole bucket; end the resource with "
         f"/{PREFIX}*"),
    ]
    for principal, account, action, resource, advice in probes:
        if allows(document, principal, account, action, resource):
            who = "anyone (anonymous)" if account is None else principal
            return f"{action} on {resource} to {who}", advice
    return None
