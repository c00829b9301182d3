"""The CloudWatch Logs plugin: boto3 and the AWS CLI against the edge read the log groups
functions write, filter them with CloudWatch's patterns, and subscribe functions to them."""

from __future__ import annotations

import base64
import gzip
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from lambdalab import Lab
from lambdalab.server import EdgeServer
from lambdalab_logs import cloudwatch_logs
from tests.edge_support import client_for, create

from tests.edge_support import client, edge  # noqa: F401 (fixtures)

NOISY = """
def handler(event, context):
    for line in event.get("lines", []):
        print(line)
    return "ok"
"""

RECEIVER = """
import base64, gzip, json
def handler(event, context):
    data = json.loads(gzip.decompress(base64.b64decode(event["awslogs"]["data"])))
    print("GOT " + json.dumps(data))
"""

GROUP = "/aws/lambda/noisy"


@pytest.fixture
def logs(edge: EdgeServer) -> Any:  # noqa: F811
    return client_for(edge.url, "logs")


def invoke(client: Any, name: str, *lines: str) -> None:  # noqa: F811
    answer = client.invoke(FunctionName=name, Payload=json.dumps({"lines": list(lines)}))
    assert answer["StatusCode"] == 200 and "FunctionError" not in answer


def code(info: pytest.ExceptionInfo[ClientError]) -> str:
    return info.value.response["Error"]["Code"]


# -- groups and streams -----------------------------------------------------------------


def test_a_functions_group_appears_after_its_first_invoke(client: Any, logs: Any) -> None:  # noqa: F811
    create(client, "noisy", NOISY)
    assert logs.describe_log_groups()["logGroups"] == []  # as on AWS: none before an invoke
    invoke(client, "noisy", "hello")
    [group] = logs.describe_log_groups(logGroupNamePrefix="/aws/lambda/")["logGroups"]
    assert group["logGroupName"] == GROUP
    assert group["arn"] == f"arn:aws:logs:us-east-1:000000000000:log-group:{GROUP}:*"
    assert group["storedBytes"] > 0 and "retentionInDays" not in group
    by_arn = logs.describe_log_groups(logGroupIdentifiers=[group["logGroupArn"]])["logGroups"]
    assert [g["logGroupName"] for g in by_arn] == [GROUP]
    assert logs.describe_log_groups(logGroupNamePattern="NOIS")["logGroups"] == [group]
    [stream] = logs.describe_log_streams(logGroupName=GROUP)["logStreams"]
    assert "[$LATEST]" in stream["logStreamName"]
    assert stream["firstEventTimestamp"] <= stream["lastEventTimestamp"]


def test_retention_and_delete_log_group(client: Any, logs: Any) -> None:  # noqa: F811
    create(client, "noisy", NOISY)
    invoke(client, "noisy", "hello")
    logs.put_retention_policy(logGroupName=GROUP, retentionInDays=7)
    assert logs.describe_log_groups()["logGroups"][0]["retentionInDays"] == 7
    with pytest.raises(ClientError) as info:
        logs.put_retention_policy(logGroupName=GROUP, retentionInDays=4)
    assert code(info) == "InvalidParameterException"
    logs.delete_retention_policy(logGroupName=GROUP)
    assert "retentionInDays" not in logs.describe_log_groups()["logGroups"][0]
    logs.delete_log_group(logGroupName=GROUP)
    assert logs.describe_log_groups()["logGroups"] == []
    for call in (lambda: logs.delete_log_group(logGroupName=GROUP),
                 lambda: logs.put_retention_policy(logGroupName="/nope", retentionInDays=1),
                 lambda: logs.filter_log_events(logGroupName=GROUP)):
        with pytest.raises(ClientError) as info:
            call()
        assert code(info) == "ResourceNotFoundException"


def test_a_handler_may_write_its_own_group_with_put_log_events(logs: Any, lab: Lab) -> None:
    logs.create_log_group(logGroupName="/app/audit")
    with pytest.raises(ClientError) as info:
        logs.create_log_group(logGroupName="/app/audit")
    assert code(info) == "ResourceAlreadyExistsException"
    with pytest.raises(ClientError) as info:
        logs.put_log_events(logGroupName="/app/audit", logStreamName="s",
                            logEvents=[{"timestamp": 1, "message": "x"}])
    assert code(info) == "ResourceNotFoundException"
    logs.create_log_stream(logGroupName="/app/audit", logStreamName="s")
    now = int(lab.clock.now() * 1000)
    with pytest.raises(ClientError) as info:
        logs.put_log_events(logGroupName="/app/audit", logStreamName="s", logEvents=[
            {"timestamp": now, "message": "b"}, {"timestamp": now - 1, "message": "a"}])
    assert code(info) == "InvalidParameterException" and "chronological" in str(info.value)
    answer = logs.put_log_events(logGroupName="/app/audit", logStreamName="s", logEvents=[
        {"timestamp": now - 15 * 86_400_000, "message": "too old"},
        {"timestamp": now, "message": "kept"}])
    assert answer["rejectedLogEventsInfo"] == {"tooOldLogEventEndIndex": 0}
    got = logs.get_log_events(logGroupName="/app/audit", logStreamName="s")
    assert [e["message"] for e in got["events"]] == ["kept"]


# -- reading ----------------------------------------------------------------------------


def test_get_log_events_pages_with_forward_and_backward_tokens(client: Any, logs: Any) -> None:  # noqa: F811
    create(client, "noisy", NOISY)
    invoke(client, "noisy", *[f"line {i}" for i in range(5)])
    stream = logs.describe_log_streams(logGroupName=GROUP)["logStreams"][0]["logStreamName"]
    head = logs.get_log_events(logGroupName=GROUP, logStreamName=stream, startFromHead=True,
                               limit=3)
    assert head["events"][0]["message"].startswith("INIT_START")
    assert head["nextForwardToken"].startswith("f/") and head["nextBackwardToken"].startswith("b/")
    seen = [e["message"] for e in head["events"]]
    token = head["nextForwardToken"]
    while True:
        page = logs.get_log_events(logGroupName=GROUP, logStreamName=stream, nextToken=token,
                                   limit=3)
        seen += [e["message"] for e in page["events"]]
        if page["nextForwardToken"] == token:  # the end: the same token comes back
            assert page["events"] == []
            break
        token = page["nextForwardToken"]
    assert [m for m in seen if m.startswith("line")] == [f"line {i}\n" for i in range(5)]
    tail = logs.get_log_events(logGroupName=GROUP, logStreamName=stream, limit=2)
    assert tail["events"][-1]["message"].startswith("REPORT")
    back = logs.get_log_events(logGroupName=GROUP, logStreamName=stream, limit=2,
                               nextToken=tail["nextBackwardToken"])
    assert [e["message"] for e in back["events"]] == seen[-4:-2]
    with pytest.raises(ClientError) as info:
        logs.get_log_events(logGroupName=GROUP, logStreamName=stream, nextToken="x/1")
    assert code(info) == "InvalidParameterException"
    with pytest.raises(ClientError) as info:
        logs.get_log_events(logGroupName=GROUP, logStreamName="nope")
    assert code(info) == "ResourceNotFoundException"


@pytest.mark.parametrize("pattern, expected", [
    ("ERROR", ["ERROR disk full", '{"level": "ERROR", "latency": 250}']),
    ("?WARN ?disk", ["ERROR disk full", "WARN slow"]),
    ("ERROR -disk", ['{"level": "ERROR", "latency": 250}']),
    ('"disk full"', ["ERROR disk full"]),
    ('{ $.level = "ERROR" }', ['{"level": "ERROR", "latency": 250}']),
    ("{ $.latency > 100 }", ['{"level": "ERROR", "latency": 250}']),
    ('{ $.level = "INFO" || $.latency > 200 }',
     ['{"level": "INFO", "latency": 5}', '{"level": "ERROR", "latency": 250}']),
    ("[ip, user, ..., status = 4*, bytes > 1000]", ["10.0.0.1 ada GET /x 404 2048"]),
])
def test_filter_log_events_with_cloudwatch_patterns(
    client: Any, logs: Any, pattern: str, expected: list[str]  # noqa: F811
) -> None:
    create(client, "noisy", NOISY)
    invoke(client, "noisy", "ERROR disk full", "WARN slow", '{"level": "INFO", "latency": 5}',
           '{"level": "ERROR", "latency": 250}', "10.0.0.1 ada GET /x 404 2048",
           "10.0.0.1 ada GET /x 200 2048")
    found = logs.filter_log_events(logGroupName=GROUP, filterPattern=pattern)
    assert [e["message"].removesuffix("\n") for e in found["events"]] == expected
    assert all(len(e["eventId"]) == 56 for e in found["events"])


def test_filter_log_events_pages_and_refuses_bad_patterns(client: Any, logs: Any) -> None:  # noqa: F811
    create(client, "noisy", NOISY)
    invoke(client, "noisy", *[f"hit {i}" for i in range(5)])
    pages = logs.get_paginator("filter_log_events").paginate(
        logGroupName=GROUP, filterPattern="hit", PaginationConfig={"PageSize": 2})
    assert [e["message"] for p in pages for e in p["events"]] == [f"hit {i}\n" for i in range(5)]
    for bad in ('{ $.a = ', '"open', '{ $.a > "text" }', "[a, ]", "{ " + "(" * 500 + " }"):
        with pytest.raises(ClientError) as info:
            logs.filter_log_events(logGroupName=GROUP, filterPattern=bad)
        assert code(info) == "InvalidParameterException", bad


def test_aws_cli_describes_gets_and_filters(client: Any, edge: EdgeServer) -> None:  # noqa: F811
    create(client, "noisy", NOISY)
    invoke(client, "noisy", "ERROR boom", "fine")

    def aws(*args: str) -> Any:
        done = subprocess.run(
            [str(Path(sys.executable).parent / "aws"), "--endpoint-url", edge.url,
             "--output", "json", "logs", *args],
            capture_output=True, text=True, timeout=120,
            env={**os.environ, "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE",
                 "AWS_SECRET_ACCESS_KEY": "not-checked", "AWS_DEFAULT_REGION": "us-east-1",
                 "AWS_MAX_ATTEMPTS": "1", "AWS_CONFIG_FILE": os.devnull,
                 "AWS_SHARED_CREDENTIALS_FILE": os.devnull})
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    groups = aws("describe-log-groups")["logGroups"]
    assert [g["logGroupName"] for g in groups] == [GROUP]
    found = aws("filter-log-events", "--log-group-name", GROUP, "--filter-pattern", "ERROR")
    assert [e["message"] for e in found["events"]] == ["ERROR boom\n"]
    stream = aws("describe-log-streams", "--log-group-name", GROUP)["logStreams"][0]
    got = aws("get-log-events", "--log-group-name", GROUP, "--log-stream-name",
              stream["logStreamName"], "--start-from-head")
    assert "fine\n" in [e["message"] for e in got["events"]]


# -- subscription filters ----------------------------------------------------------------


def allow_logs(client: Any, name: str) -> None:  # noqa: F811
    client.add_permission(
        FunctionName=name, StatementId="logs", Action="lambda:InvokeFunction",
        Principal="logs.amazonaws.com",
        SourceArn=f"arn:aws:logs:us-east-1:000000000000:log-group:{GROUP}:*")


def test_a_subscription_filter_needs_the_functions_permission(client: Any, logs: Any) -> None:  # noqa: F811
    create(client, "noisy", NOISY)
    create(client, "receiver", RECEIVER)
    invoke(client, "noisy", "hello")
    arn = client.get_function(FunctionName="receiver")["Configuration"]["FunctionArn"]
    with pytest.raises(ClientError) as info:
        logs.put_subscription_filter(logGroupName=GROUP, filterName="errors",
                                     filterPattern="ERROR", destinationArn=arn)
    assert code(info) == "InvalidParameterException"
    assert "permission" in info.value.response["Error"]["Message"]
    allow_logs(client, "receiver")
    logs.put_subscription_filter(logGroupName=GROUP, filterName="errors",
                                 filterPattern="ERROR", destinationArn=arn)
    [found] = logs.describe_subscription_filters(logGroupName=GROUP)["subscriptionFilters"]
    assert found["filterName"] == "errors" and found["destinationArn"] == arn
    assert found["distribution"] == "ByLogStream"
    logs.put_subscription_filter(logGroupName=GROUP, filterName="two", filterPattern="",
                                 destinationArn=arn)
    with pytest.raises(ClientError) as info:
        logs.put_subscription_filter(logGroupName=GROUP, filterName="three", filterPattern="",
                                     destinationArn=arn)
    assert code(info) == "LimitExceededException"
    logs.delete_subscription_filter(logGroupName=GROUP, filterName="two")
    with pytest.raises(ClientError) as info:
        logs.delete_subscription_filter(logGroupName=GROUP, filterName="two")
    assert code(info) == "ResourceNotFoundException"


def test_matching_events_reach_the_function_as_the_awslogs_event(
    client: Any, logs: Any, lab: Lab  # noqa: F811
) -> None:
    create(client, "noisy", NOISY)
    create(client, "receiver", RECEIVER)
    invoke(client, "noisy", "ERROR before the filter")
    allow_logs(client, "receiver")
    arn = client.get_function(FunctionName="receiver")["Configuration"]["FunctionArn"]
    logs.put_subscription_filter(logGroupName=GROUP, filterName="errors",
                                 filterPattern="ERROR", destinationArn=arn)
    invoke(client, "noisy", "ERROR one", "all fine", "ERROR two")
    lab.logs.flush()
    cloudwatch_logs(lab).deliver()
    assert lab.wait_for_events(timeout=60)
    got = [json.loads(e.message.removeprefix("GOT ")) for e in lab.get_logs("receiver")
           if e.message.startswith("GOT ")]
    assert len(got) == 1  # one invoke per stream and delivery
    message = got[0]
    assert message["messageType"] == "DATA_MESSAGE"
    assert message["owner"] == "000000000000" and message["logGroup"] == GROUP
    assert message["subscriptionFilters"] == ["errors"]
    assert "[$LATEST]" in message["logStream"]
    assert [e["message"] for e in message["logEvents"]] == ["ERROR one\n", "ERROR two\n"]
    assert all(len(e["id"]) == 56 and isinstance(e["timestamp"], int)
               for e in message["logEvents"])
    assert cloudwatch_logs(lab).deliver() == 0  # delivered once only


def test_the_awslogs_event_decodes_as_aws_documents() -> None:
    from lambdalab_logs import awslogs_event
    from lambdalab.logs import LogEvent

    event = awslogs_event("123456789012", "/g", "s", ["f"], [LogEvent(7, "/g", "s", 1000, "m")])
    data = json.loads(gzip.decompress(base64.b64decode(event["awslogs"]["data"])))
    assert data == {"messageType": "DATA_MESSAGE", "owner": "123456789012", "logGroup": "/g",
                    "logStream": "s", "subscriptionFilters": ["f"],
                    "logEvents": [{"id": "0" * 55 + "7", "timestamp": 1000, "message": "m"}]}


def test_the_delivery_thread_delivers_as_events_are_written(
    client: Any, logs: Any, lab: Lab  # noqa: F811
) -> None:
    """As under ``lambdalab serve``: nobody calls deliver(); the log store's flush wakes it."""
    create(client, "noisy", NOISY)
    create(client, "receiver", RECEIVER)
    invoke(client, "noisy", "warm up")
    allow_logs(client, "receiver")
    arn = client.get_function(FunctionName="receiver")["Configuration"]["FunctionArn"]
    logs.put_subscription_filter(logGroupName=GROUP, filterName="all", filterPattern="late",
                                 destinationArn=arn)
    invoke(client, "noisy", "late event")
    received: list[str] = []
    for _ in range(600):  # a condition wait (the writer flushes every 0.2 s), at most a minute
        lab.wait_for_events(timeout=0.1)
        received = [e.message for e in lab.get_logs("receiver") if e.message.startswith("GOT ")]
        if received:
            break
    assert len(received) == 1 and "late event" in received[0]


def test_a_function_may_not_subscribe_to_its_own_group(client: Any, logs: Any) -> None:  # noqa: F811
    create(client, "noisy", NOISY)
    invoke(client, "noisy", "hello")
    allow_logs(client, "noisy")
    arn = client.get_function(FunctionName="noisy")["Configuration"]["FunctionArn"]
    with pytest.raises(ClientError) as info:
        logs.put_subscription_filter(logGroupName=GROUP, filterName="loop", filterPattern="",
                                     destinationArn=arn)
    assert code(info) == "InvalidParameterException" and "own log events" in str(info.value)


def test_hostile_tokens_and_times_are_answered_not_failed(client: Any, logs: Any) -> None:  # noqa: F811
    create(client, "noisy", NOISY)
    invoke(client, "noisy", "hello")
    stream = logs.describe_log_streams(logGroupName=GROUP)["logStreams"][0]["logStreamName"]
    huge = 2**63 + 5
    assert logs.get_log_events(logGroupName=GROUP, logStreamName=stream,
                               nextToken="f/" + "9" * 56)["events"] == []
    assert logs.get_log_events(logGroupName=GROUP, logStreamName=stream,
                               startTime=huge)["events"] == []
    assert logs.filter_log_events(logGroupName=GROUP, nextToken="9" * 80)["events"] == []
    assert logs.filter_log_events(logGroupName=GROUP, endTime=huge)["events"]
    assert logs.describe_log_groups(nextToken="9" * 80)["logGroups"] == []
    for token in ("f/-1", "f/", "1", "b/1x"):
        with pytest.raises(ClientError) as info:
            logs.get_log_events(logGroupName=GROUP, logStreamName=stream, nextToken=token)
        assert code(info) == "InvalidParameterException"
    answer = logs.put_log_events(logGroupName=GROUP, logStreamName=stream,
                                 logEvents=[{"timestamp": huge, "message": "x"}])
    assert answer["rejectedLogEventsInfo"] == {"tooNewLogEventStartIndex": 0}


def test_following_a_stream_with_boto3_as_aws_logs_tail_does(client: Any, logs: Any) -> None:  # noqa: F811
    """Following a stream with boto3 alone, by polling, as ``aws logs tail`` does."""
    create(client, "noisy", NOISY)
    invoke(client, "noisy", "first")
    stream = logs.describe_log_streams(logGroupName=GROUP)["logStreams"][0]["logStreamName"]
    page = logs.get_log_events(logGroupName=GROUP, logStreamName=stream, startFromHead=True)
    token = page["nextForwardToken"]
    caught_up = logs.get_log_events(logGroupName=GROUP, logStreamName=stream, nextToken=token)
    assert caught_up["events"] == [] and caught_up["nextForwardToken"] == token
    invoke(client, "noisy", "second")  # the same warm environment: the same stream
    later = logs.get_log_events(logGroupName=GROUP, logStreamName=stream, nextToken=token)
    assert "second\n" in [e["message"] for e in later["events"]]
    assert "first\n" not in [e["message"] for e in later["events"]]
    since = page["events"][-1]["timestamp"]
    newer = logs.filter_log_events(logGroupName=GROUP, startTime=since, filterPattern="second")
    assert [e["message"] for e in newer["events"]] == ["second\n"]


def test_events_written_as_the_lab_closes_are_delivered_once_when_it_reopens(
    tmp_path: Path, code: Any
) -> None:
    data = tmp_path / "data"
    with Lab(data_dir=data) as lab:
        lab.create_function("noisy", code=code(app=NOISY), handler="app.handler")
        lab.create_function("receiver", code=code(app=RECEIVER), handler="app.handler")
        lab.add_permission("receiver", "logs", "lambda:InvokeFunction", "logs.amazonaws.com")
        lab.invoke("noisy", {"lines": ["warm up"]})
        cloudwatch_logs(lab).put_subscription_filter(GROUP, "errors", "ERROR",
                                                     lab.arns.function("receiver"))
        lab.invoke("noisy", {"lines": ["ERROR at closing time"]})
    with Lab(data_dir=data) as lab:
        cloudwatch_logs(lab).deliver()
        assert lab.wait_for_events(timeout=60)
        got = [e.message for e in lab.get_logs("receiver") if e.message.startswith("GOT ")]
        assert len(got) == 1 and "ERROR at closing time" in got[0]


def test_two_labs_on_one_data_dir_deliver_each_event_once(tmp_path: Path, code: Any) -> None:
    """A CLI command's Lab beside ``lambdalab serve``'s: both deliver, neither twice."""
    data = tmp_path / "data"
    with Lab(data_dir=data) as lab, Lab(data_dir=data) as other:
        lab.create_function("noisy", code=code(app=NOISY), handler="app.handler")
        lab.create_function("receiver", code=code(app=RECEIVER), handler="app.handler")
        lab.add_permission("receiver", "logs", "lambda:InvokeFunction", "logs.amazonaws.com")
        lab.invoke("noisy", {"lines": ["warm up"]})
        cloudwatch_logs(lab).put_subscription_filter(GROUP, "errors", "ERROR",
                                                     lab.arns.function("receiver"))
        for _ in range(5):
            lab.invoke("noisy", {"lines": ["ERROR again"]})
            lab.logs.flush()
            cloudwatch_logs(other).deliver()
            cloudwatch_logs(lab).deliver()
        assert lab.wait_for_events(timeout=60) and other.wait_for_events(timeout=60)
        other.logs.flush()  # what the receiver printed in the other lab
        got = [json.loads(e.message.removeprefix("GOT ")) for e in lab.get_logs("receiver")
               if e.message.startswith("GOT ")]
        assert sorted(e["id"] for m in got for e in m["logEvents"]) == sorted(
            {e["id"] for m in got for e in m["logEvents"]})
        assert sum(len(m["logEvents"]) for m in got) == 5


def test_the_polling_of_aws_logs_tail_follow_sees_each_event_once(
    client: Any, logs: Any, lab: Lab  # noqa: F811
) -> None:
    """AWS CLI v2's ``aws logs tail --follow`` polls FilterLogEvents
    with ``interleaved``, ``startTime`` = the newest timestamp seen, and drops the
    eventIds it has shown (awscli/customizations/logs/tail.py, FollowLogEventsGenerator).
    The same loop, with boto3."""
    create(client, "noisy", NOISY)
    seen: dict[int, set[str]] = {}
    shown: list[str] = []
    kwargs: dict[str, Any] = {"logGroupName": GROUP, "interleaved": True,
                              "startTime": int((lab.clock.now() - 600) * 1000)}

    def poll() -> None:
        nonlocal seen
        while True:
            answer = logs.filter_log_events(**kwargs)
            for event in answer["events"]:
                if event["eventId"] not in seen.setdefault(event["timestamp"], set()):
                    seen[event["timestamp"]].add(event["eventId"])
                    shown.append(event["message"])
            newest = max(seen) if seen else None
            seen = {newest: seen[newest]} if newest is not None else {}
            if "nextToken" not in answer:
                kwargs.pop("nextToken", None)
                if newest is not None:
                    kwargs["startTime"] = newest
                return
            kwargs["nextToken"] = answer["nextToken"]

    invoke(client, "noisy", "one")
    poll()
    invoke(client, "noisy", "two")  # the lab's clock has not moved: the same timestamp
    poll()
    poll()
    assert [m for m in shown if m in ("one\n", "two\n")] == ["one\n", "two\n"]
    assert len(shown) == len(lab.get_logs("noisy"))


def aws_cli_v2() -> str | None:
    """AWS CLI v2 (``aws logs tail`` is v2's alone; PyPI's ``awscli`` is v1): Debian's
    ``awscli`` package, which ``.ci/run`` installs."""
    for candidate in ("/usr/bin/aws", "/usr/local/bin/aws"):
        try:
            done = subprocess.run([candidate, "--version"], capture_output=True, text=True,
                                  timeout=60)
        except OSError:
            continue
        if done.stdout.startswith("aws-cli/2."):
            return candidate
    return None


@pytest.mark.skipif(aws_cli_v2() is None, reason="AWS CLI v2 is not installed (.ci/run installs it)")
def test_aws_logs_tail_follow_prints_each_event_once_as_it_comes(
    client: Any, edge: EdgeServer, lab: Lab  # noqa: F811
) -> None:
    """``aws logs tail /aws/lambda/NAME --follow``, the real AWS CLI v2, against the edge:
    what was there, then what comes while it follows, each line once."""
    import queue
    import threading
    from datetime import datetime, timezone

    create(client, "noisy", NOISY)
    invoke(client, "noisy", "one")
    since = datetime.fromtimestamp(lab.clock.now() - 600, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    tail = subprocess.Popen(
        [str(aws_cli_v2()), "--endpoint-url", edge.url, "logs", "tail", GROUP, "--follow",
         "--since", since, "--format", "short"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "x",
             "AWS_DEFAULT_REGION": "us-east-1", "AWS_CONFIG_FILE": os.devnull,
             "AWS_SHARED_CREDENTIALS_FILE": os.devnull, "AWS_PAGER": ""})
    lines: queue.Queue[str] = queue.Queue()
    assert tail.stdout is not None
    threading.Thread(target=lambda: [lines.put(line) for line in tail.stdout], daemon=True).start()
    printed: list[str] = []

    def until(text: str) -> None:
        while not any(line.rstrip().endswith(text) for line in printed):
            try:
                printed.append(lines.get(timeout=120))
            except queue.Empty:
                tail.kill()
                raise AssertionError(f"no {text!r} in {printed}: {tail.stderr.read()}") from None

    try:
        until(" one")
        invoke(client, "noisy", "two")  # the same warm environment, the same timestamp
        until(" two")
        invoke(client, "noisy", "three")
        until(" three")
    finally:
        tail.kill()
        tail.wait()
    messages = [line.split(" ", 1)[1].rstrip() for line in printed]
    assert [m for m in messages if m in ("one", "two", "three")] == ["one", "two", "three"]
    assert len([m for m in messages if m.startswith("START RequestId")]) == 3


def test_a_damaged_subscription_row_is_skipped_and_can_be_deleted(
    client: Any, logs: Any, lab: Lab  # noqa: F811
) -> None:
    create(client, "noisy", NOISY)
    invoke(client, "noisy", "hello")
    with lab.store.transaction() as db:
        db.execute("INSERT INTO logs_api_subscriptions (log_group, name, config, delivered_id) "
                   "VALUES (?, 'broken', '{\"name\": 1}', 0)", (GROUP,))
    assert logs.describe_subscription_filters(logGroupName=GROUP)["subscriptionFilters"] == []
    invoke(client, "noisy", "ERROR after the damage")
    lab.logs.flush()
    assert cloudwatch_logs(lab).deliver() == 0
    logs.delete_subscription_filter(logGroupName=GROUP, filterName="broken")
    assert not lab.store.query("SELECT 1 FROM logs_api_subscriptions")
