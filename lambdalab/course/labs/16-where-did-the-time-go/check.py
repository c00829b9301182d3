"""Check for lab 16: the learner reads an X-Ray trace and names the part of a request
that took the most time of its own, with its share of the whole trace.

slowest_part() runs first on made-up traces with known answers, built so that the
plausible wrong answers differ from the right one: Lambda's whole Invocation, the call
to another function (whose time is that function's), a subsegment whose time is in its
own subsegments, and the last function of the chain when the slow part is in the first.
Then a real chain runs (front calls back, back writes to S3 and renders slowly) and
slowest_part() must agree with the check on its trace. No duration is asserted: the
answer on the real trace is computed from that trace.
"""

import contextlib
import tempfile
from pathlib import Path

from lambdalab import VirtualClock
from lambdalab.labs import (
    CheckFailed,
    call_learner,
    deploy,
    fresh_lab,
    load_learner_module,
    passed,
    require_file,
    require_functions,
    show,
)
from lambdalab.server import EdgeServer
from lambdalab_s3 import S3
from lambdalab_xray import xray

#: How far the learner's share may be from the check's (a fraction of the whole trace).
SHARE_TOLERANCE = 0.05
LAMBDAS_OWN = ("Initialization", "Invocation", "Overhead")

FRONT = '''import json
import os

import boto3
from aws_xray_sdk.core import patch, xray_recorder

patch(["botocore"])
client = boto3.client("lambda")


def handler(event, context):
    with xray_recorder.in_subsegment("check order"):
        order = {"id": event.get("id", 1)}
    client.invoke(FunctionName=os.environ["BACK"], Payload=json.dumps(order).encode())
    return "done"
'''
BACK = '''import time

import boto3
from aws_xray_sdk.core import patch, xray_recorder
from botocore.config import Config

patch(["botocore"])
s3 = boto3.client("s3", config=Config(s3={"addressing_style": "path"}))


def handler(event, context):
    s3.put_object(Bucket="orders", Key="order.json", Body=b"{}")
    with xray_recorder.in_subsegment("render invoice"):
        time.sleep(0.5)  # the slow part the learner finds
    s3.put_object(Bucket="invoices", Key="invoice.pdf", Body=b"%PDF")
    return "ok"
'''


def part(name, start, end, *subs, id=None):
    return {"id": id or f"{name}-{start}".replace(" ", "-"), "name": name,
            "start_time": 100 + start, "end_time": 100 + end, "subsegments": list(subs)}


def function(name, start, end, *subs, parent=None):
    """A function's two segments: Lambda's (AWS::Lambda) and the function's own."""
    service = {"id": f"{name}-service", "name": name, "origin": "AWS::Lambda",
               "start_time": 100 + start, "end_time": 100 + end}
    if parent:
        service["parent_id"] = parent
    own = {"id": f"{name}-function", "name": name, "origin": "AWS::Lambda::Function",
           "parent_id": service["id"], "start_time": 100 + start, "end_time": 100 + end,
           "subsegments": list(subs)}
    return [service, own]


#: (what the trace shows, its segments, the answer).
MADE_UP = (
    ("front calls back; back renders slowly", [
        *function("front", 0.0, 1.0,
                  part("Initialization", 0.0, 0.2), part("Invocation", 0.2, 0.99),
                  part("Overhead", 0.99, 1.0), part("check order", 0.21, 0.23),
                  part("lambda", 0.23, 0.98, id="call-back")),
        *function("back", 0.24, 0.97,
                  part("Invocation", 0.25, 0.96), part("Overhead", 0.96, 0.97),
                  part("s3", 0.26, 0.31), part("render invoice", 0.31, 0.86),
                  part("s3", 0.86, 0.91), parent="call-back"),
    ], ("render invoice", 0.55)),
    ("one function; its slow part is inside another", [
        *function("report", 0.0, 1.0,
                  part("Invocation", 0.0, 0.98), part("Overhead", 0.98, 1.0),
                  part("build report", 0.01, 0.95,
                       part("query orders", 0.02, 0.72), part("format", 0.72, 0.9))),
    ], ("query orders", 0.7)),
    ("front calls back; front is the slow one", [
        *function("front", 0.0, 0.8,
                  part("Invocation", 0.0, 0.79), part("Overhead", 0.79, 0.8),
                  part("check order", 0.01, 0.51), part("lambda", 0.51, 0.78, id="call-2")),
        *function("back", 0.52, 0.77,
                  part("Invocation", 0.52, 0.76), part("s3", 0.53, 0.6), parent="call-2"),
    ], ("check order", 0.625)),
)


def check(workdir: Path):
    script = require_file(workdir, "trace.py")
    module = load_learner_module(script)
    require_functions(script, module, ("slowest_part(segments)",))
    for what, segments, wanted in MADE_UP:
        expect_answer(script, module, what, segments, wanted)
    segments = real_trace()
    wanted = slowest(segments)
    got = expect_answer(script, module, "the real chain front -> back -> S3", segments, wanted)
    return passed(
        "You found where the time went.",
        f"the real trace: {got[0]!r} took {got[1]:.0%} of the request",
        "lambdalab traces TRACE_ID draws a trace with a time bar for each part",
    )


def real_trace() -> list:
    """Invoke front twice (a cold start, then a warm one) and return the warm trace."""
    with contextlib.ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        lab = stack.enter_context(fresh_lab(clock=VirtualClock(start=1_700_000_000)))
        stack.enter_context(EdgeServer(lab, port=0))  # boto3 in the functions reaches it
        for bucket in ("orders", "invoices"):
            S3.of(lab).create_bucket(bucket)
        for name, code, environment in (("back", BACK, {}), ("front", FRONT, {"BACK": "back"})):
            (tmp / name).mkdir()
            (tmp / name / "app.py").write_text(code)
            deploy(lab, name, tmp / name, "app.handler", timeout=30,
                   tracing_config={"Mode": "Active"}, environment=environment)
        for _ in range(2):
            lab.clock.advance(1)  # Lambda traces the first invoke of each second
            lab.invoke("front", {"id": 7})
        return arrived(lab)


#: The subsegments the SDK sends of one request of the chain: front's two, back's three.
EXPECTED_PARTS = sorted(["check order", "lambda", "s3", "render invoice", "s3"])


def arrived(lab) -> list:
    """The newest trace, once the SDK's subsegments have reached the daemon: they come
    by UDP, after the invoke has returned. Gives up waiting after about ten seconds."""
    daemon = xray(lab).daemon
    for _ in range(50):
        newest = xray(lab).store.trace_ids(0, lab.clock.now() + 60)[0]
        segments = list(xray(lab).store.trace(newest).segments)
        found = sorted(sub["name"] for s in segments for sub in parts(s)
                       if sub["name"] not in LAMBDAS_OWN)
        if found == EXPECTED_PARTS:
            break
        daemon.wait_for(daemon.received + daemon.dropped + 1, timeout=0.2)
    return segments


def duration(doc) -> float:
    return doc["end_time"] - doc["start_time"]


def parts(doc):
    for sub in doc.get("subsegments", []):
        yield sub
        yield from parts(sub)


def own_times(segments: list) -> dict:
    """Each part's own time: its duration minus its subsegments' and the segments of
    the functions it called."""
    downstream: dict = {}
    for segment in segments:
        if segment.get("parent_id"):
            downstream.setdefault(segment["parent_id"], []).append(segment)
    own = {}
    for segment in segments:
        for sub in parts(segment):
            inside = sub.get("subsegments", []) + downstream.get(sub["id"], [])
            own[sub["name"]] = max(own.get(sub["name"], 0.0),
                                   duration(sub) - sum(duration(d) for d in inside))
    return own


def whole(segments: list) -> float:
    return duration(next(s for s in segments if not s.get("parent_id")))


def slowest(segments: list) -> tuple:
    own = {k: v for k, v in own_times(segments).items() if k not in LAMBDAS_OWN}
    name = max(own, key=lambda k: own[k])
    return name, own[name] / whole(segments)


def expect_answer(script: Path, module, what: str, segments: list, wanted: tuple) -> tuple:
    got = call_learner(script, module.slowest_part, [dict(s) for s in segments],
                       what=f"slowest_part(segments) on {what}")
    if not (isinstance(got, tuple) and len(got) == 2 and isinstance(got[0], str)
            and isinstance(got[1], (int, float))):
        raise CheckFailed(
            "slowest_part() returned something other than a name and a share.",
            expected=f"a tuple (name, share), e.g. {show((wanted[0], round(wanted[1], 2)))}",
            got=show(got),
            try_next="return name, share: the subsegment's \"name\", and a float",
        )
    name, share = got
    if name != wanted[0]:
        raise CheckFailed(
            f"slowest_part() named the wrong part of {what}.",
            expected=f"{wanted[0]!r} ({wanted[1]:.0%} of the request)",
            got=repr(name),
            try_next=wrong_name_advice(segments, name),
        )
    if abs(share - wanted[1]) > SHARE_TOLERANCE:
        raise CheckFailed(
            f"slowest_part() named the right part of {what}, with the wrong share.",
            expected=f"about {wanted[1]:.2f} (a fraction of the whole trace)",
            got=f"{share:.2f}",
            try_next="a share is a fraction, 0.5 for half, not a percentage"
            if share > 1 else "divide the part's own time by the whole trace's time: the "
            "duration of the segment without a parent_id, where the request began",
        )
    return got


def wrong_name_advice(segments: list, name: str) -> str:
    functions = {s["name"] for s in segments}
    called = {s["parent_id"] for s in segments if s.get("parent_id")}
    subsegments = {sub["name"]: sub for s in segments for sub in parts(s)}
    if name in LAMBDAS_OWN:
        return (f"{name} is Lambda's own part of a function: the handler's calls run inside "
                "Invocation, so its time is theirs. Look at the subsegments the handler "
                "recorded")
    if name in functions:
        return (f"{name!r} is a whole function: look inside it, at the subsegments its "
                "handler recorded, for the part that took the time")
    sub = subsegments.get(name)
    if sub is not None and sub["id"] in called:
        return (f"{name!r} is a call to another traced function: the time it took is that "
                "function's, in its segments (their parent_id is this subsegment's id). "
                "Subtract them")
    if sub is not None and sub.get("subsegments"):
        return (f"most of the time of {name!r} is in its own subsegments: a part's own "
                "time is its duration minus theirs")
    return ("compute each subsegment's own time (its duration minus what ran inside it) "
            "and return the largest")
