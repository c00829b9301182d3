"""Check for lab 9: an upload to the photos bucket makes a thumbnail, through S3's trigger."""

import contextlib
from pathlib import Path

from lambdalab.labs import (
    CheckFailed,
    call_learner,
    deploy,
    fresh_lab,
    load_learner_module,
    passed,
    require_file,
    show,
    unique_name,
)

PHOTO_KEY = "holiday/beach day.jpg"
PHOTO = bytes(range(256)) * 16
ADVICE = {
    "InvalidArgument": "S3 refuses to notify a function that has not allowed it: call "
    "lab.add_permission(...) with principal s3.amazonaws.com BEFORE configuring the bucket",
    "ResourceConflictException": "use one statement id for the permission, once",
}


def check(workdir: Path):
    require_file(workdir, "app.py")
    wire_py = require_file(workdir, "wire.py")
    wire = load_learner_module(wire_py)
    from lambdalab.server import EdgeServer
    from lambdalab_s3 import S3

    with contextlib.ExitStack() as stack:
        lab = stack.enter_context(fresh_lab())
        stack.enter_context(EdgeServer(lab, port=0))  # boto3 in the function reaches it
        s3 = S3.of(lab)
        s3.create_bucket("photos")
        s3.create_bucket("thumbnails")
        name = unique_name("thumbnailer")
        deploy(lab, name, workdir, "app.handler", timeout=30)
        call_learner(wire_py, wire.connect, lab, s3, name, what="connect(lab, s3, name)", advice=ADVICE)
        expect_configured(s3, lab, name)

        s3.put_object("photos", "notes.txt", b"not a photo")
        s3.put_object("photos", PHOTO_KEY, PHOTO)
        if not lab.wait_for_events(timeout=60):
            raise CheckFailed(
                "The upload's event did not finish within 60 s.",
                expected="the thumbnail function to run in well under a minute",
                got="events still queued",
                try_next="make sure the handler returns; look at `lambdalab logs` output below",
            )
        expect_one_run(lab, name)
        expect_thumbnail(s3, lab, name)
    return passed(
        "A photo uploaded to S3 now makes its own thumbnail.",
        "the function allows s3.amazonaws.com to invoke it (its resource policy)",
        "the photos bucket notifies it for s3:ObjectCreated:* on *.jpg only",
        f"uploading {PHOTO_KEY!r} wrote 'thumb-{PHOTO_KEY}' ({len(PHOTO) // 4} bytes) to thumbnails",
    )


def expect_configured(s3, lab, name: str) -> None:
    configs = s3.get_bucket_notification_configuration("photos").get("LambdaFunctionConfigurations", [])
    if not configs:
        raise CheckFailed(
            "The photos bucket has no notification configuration.",
            expected="one LambdaFunctionConfiguration on the photos bucket",
            got="none",
            try_next="call s3.put_bucket_notification_configuration(PHOTOS, {...}) in connect()",
        )
    arn = lab.get_function_configuration(name).function_arn
    if [c.get("LambdaFunctionArn") for c in configs] != [arn]:
        raise CheckFailed(
            "The bucket notifies another function.",
            expected=arn,
            got=show([c.get("LambdaFunctionArn") for c in configs]),
            try_next="use the ARN connect() looked up: function_arn",
        )


def starts(lab, name: str) -> int:
    return sum(e.message.startswith("START") for e in lab.get_logs(name))


def expect_one_run(lab, name: str) -> None:
    runs = starts(lab, name)
    if runs == 0:
        raise CheckFailed(
            "Uploading a photo did not invoke the function.",
            expected="one invoke for beach day.jpg",
            got="no invoke",
            try_next='the notification needs "Events": ["s3:ObjectCreated:*"] and a suffix '
            'rule {"Name": "suffix", "Value": ".jpg"}',
        )
    if runs > 1 and not errors(lab, name):
        raise CheckFailed(
            "The function ran for more than the photo.",
            expected="one invoke: notes.txt is not a .jpg",
            got=f"{runs} invokes",
            try_next='filter on the suffix: "Filter": {"Key": {"FilterRules": '
            '[{"Name": "suffix", "Value": ".jpg"}]}}',
        )


def errors(lab, name: str) -> list[str]:
    return [e.message.replace("\r", "\n") for e in lab.get_logs(name) if e.message.startswith("[ERROR]")]


def expect_thumbnail(s3, lab, name: str) -> None:
    from lambdalab_s3.exceptions import NoSuchKey

    failures = errors(lab, name)
    if failures:
        hint = "decode the key first: urllib.parse.unquote_plus(record['object']['key'])" \
            if "NoSuchKey" in failures[0] else "read the error: it names the line in app.py"
        raise CheckFailed(
            "The thumbnail function failed (S3 retries it, as Lambda retries async events).",
            expected="the handler to return",
            got=failures[0].splitlines()[0],
            try_next=hint,
            output="\n".join(failures[:1]),
        )
    try:
        thumb = s3.get_object("thumbnails", "thumb-" + PHOTO_KEY).read()
    except NoSuchKey:
        keys = [o.key for o in s3.list_objects_v2("thumbnails").objects]
        raise CheckFailed(
            "No thumbnail in the thumbnails bucket.",
            expected=f"an object 'thumb-{PHOTO_KEY}' in thumbnails",
            got=show(keys) if keys else "the bucket is empty",
            try_next='s3.put_object(Bucket=THUMBNAILS, Key="thumb-" + key, Body=thumbnail) '
            "with the decoded key",
        ) from None
    if thumb != PHOTO[::4]:
        raise CheckFailed(
            "The thumbnail has the wrong bytes.",
            expected=f"{len(PHOTO) // 4} bytes: photo[::4]",
            got=f"{len(thumb)} bytes",
            try_next="write the thumbnail, not the photo",
        )
