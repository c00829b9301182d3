"""IAM enforcement benchmark: what authorising one request costs, in process.

    python benchmarks/iam.py            # full run, a few seconds
    python benchmarks/iam.py --quick    # small counts: a smoke test
    python benchmarks/iam.py --json out.json

One lab with ``enforce_iam=True`` and a user whose policy (three statements, one with a
condition) allows what is asked. Each figure is one call of the enforcement point
(``lambdalab.protocol.authorize.authorize``) for an operation already read: the key's
principal looked up through the ``lambdalab_principal`` hook, the action and resource
derived, the policies evaluated. ``GetFunction`` has no resource policy; ``Invoke`` also
reads the function's resource policy (``AddPermission``) from the data dir. The same
``Invoke`` is timed for a user made through lambdalab's IAM (``lambdalab_iam``: its key
looked up by the plugin, from its cache of what it read), and an S3 ``GetObject`` by
that user allowed only by the bucket's policy (``lambdalab_s3``, its cache). The figure
is the median of the rounds' medians; the notes give the spread of the rounds. Target,
from issue 22 ("Done when"): at most 20 µs per authorised request.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any

import json

import harness
from harness import Row, p50, time_each
from lambdalab import Lab, hookimpl, limits
from lambdalab.plugin import ParsedRequest, Principal
from lambdalab.protocol import service_model
from lambdalab.protocol.authorize import authorize
from lambdalab.protocol.calls import Caller

MODES = {"quick": {"rounds": 3, "calls": 200}, "full": {"rounds": 21, "calls": 2000}}
TARGET_US = 20.0
KEY = "AKIABENCHMARK0000001"
ACCOUNT = limits.DEFAULT_ACCOUNT_ID
POLICY = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": ["lambda:Get*", "lambda:List*"], "Resource": "*"},
    {"Effect": "Allow", "Action": "lambda:InvokeFunction",
     "Resource": f"arn:aws:lambda:*:{ACCOUNT}:function:bench*",
     "Condition": {"StringEquals": {"aws:PrincipalAccount": ACCOUNT}}},
    {"Effect": "Deny", "Action": "lambda:Delete*", "Resource": "*"},
]}


class Keys:
    """One user's key, answered from memory as an IAM plugin answers."""

    principal = Principal(f"arn:aws:iam::{ACCOUNT}:user/bench", ACCOUNT, (POLICY,), user_id="AIDABENCH")

    @hookimpl
    def lambdalab_principal(self, lab: Lab, access_key_id: str) -> Principal | None:
        return self.principal if access_key_id == KEY else None


def measure(mode: dict[str, int]) -> list[Row]:
    model = service_model("lambda")
    with tempfile.TemporaryDirectory() as tmp:
        code = Path(tmp) / "code"
        code.mkdir()
        (code / "app.py").write_text("def handler(event, context):\n    return 1\n")
        with Lab(data_dir=Path(tmp) / "data", preload=(), plugins=[Keys()], enforce_iam=True) as lab:
            lab.create_function("bench", code, handler="app.handler")
            lab.add_permission("bench", "s3", "lambda:InvokeFunction", "s3.amazonaws.com")
            caller = Caller(lab, "lambda", KEY, "us-east-1", "127.0.0.1", "benchmark")
            iam_caller = Caller(lab, "lambda", _iam_user(lab), "us-east-1", "127.0.0.1", "benchmark")
            get = ParsedRequest(model.operation_model("GetFunction"), {"FunctionName": "bench"})
            invoke = ParsedRequest(model.operation_model("Invoke"), {"FunctionName": "bench"})
            calls = {
                "GetFunction (identity policy only)": (caller, get),
                "Invoke (with the function's resource policy)": (caller, invoke),
                "Invoke, a user of lambdalab's IAM": (iam_caller, invoke),
            }
            rounds: dict[str, list[list[float]]] = {name: [] for name in [*calls, S3_CASE]}
            s3_call = _s3_get_object(lab, iam_caller.access_key_id or "")
            for _ in range(mode["rounds"]):
                for name, (who, parsed) in calls.items():
                    rounds[name].append(time_each(_authorize(who, model, parsed), mode["calls"]))
                rounds[S3_CASE].append(time_each(s3_call, mode["calls"]))
    return [_row(name, samples) for name, samples in rounds.items()]


S3_CASE = "S3 GetObject, allowed by the bucket policy"


def _s3_get_object(lab: Lab, key: str) -> Any:
    """Authorising the IAM user's GetObject of a bucket whose policy names the user."""
    from lambdalab_s3 import S3

    S3.of(lab).create_bucket("bench")
    S3.of(lab).put_bucket_policy("bench", json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:user/bench"},
        "Action": "s3:GetObject", "Resource": "arn:aws:s3:::bench/*"}]}))
    model = service_model("s3")
    parsed = ParsedRequest(model.operation_model("GetObject"), {"Bucket": "bench", "Key": "a/b.json"})
    return _authorize(Caller(lab, "s3", key, "us-east-1", "127.0.0.1", "benchmark"), model, parsed)


def _iam_user(lab: Lab) -> str:
    """A user of the IAM plugin with :data:`POLICY` inline; its access key id."""
    from lambdalab_iam import User, iam

    users = iam(lab)
    users.create_user("bench", "/", [])
    users.put_inline(User, "bench", "bench", json.dumps(POLICY))
    return users.create_access_key("bench").access_key_id


def _authorize(caller: Caller, model: Any, parsed: ParsedRequest) -> Any:
    return lambda: authorize(caller, model, model.protocol, parsed)


def _row(name: str, rounds: list[list[float]]) -> Row:
    """The median of the rounds' medians; the notes give their spread, and the mean of
    every call (which the machine's load and the lab's own threads raise)."""
    medians = [p50(samples) for samples in rounds]
    every = [s for samples in rounds for s in samples]
    figure = p50(medians)
    return Row("iam", f"authorise {name}, median", "µs", figure, None, "",
               f"<= {TARGET_US:.0f} µs", figure <= TARGET_US, len(every),
               notes=f"{name}: round medians {min(medians):.1f}-{max(medians):.1f} µs, "
                     f"mean {sum(every) / len(every):.1f} µs")


def main(argv: list[str] | None = None) -> int:
    return harness.main("IAM enforcement benchmark", __doc__.split("\n\n")[0], measure, MODES, argv)


if __name__ == "__main__":
    sys.exit(main())
