"""The console shows everything live: each trigger under its function (S3, SNS,
EventBridge rules, Scheduler schedules, through ``lambdalab_function_triggers``), changes
made through the Python API pushed to the page (``lambdalab_function_changed``), and a
plugin's panel read again when the plugin says it changed. Judged through a real edge with
boto3 and plain HTTP, and in chromium (tests/test_console_browser.py's fixtures)."""

from __future__ import annotations

import http.client
import json
from typing import Any
from urllib.parse import urlencode

import lambdalab
from lambdalab import Lab
from lambdalab.plugin import ConsolePanel, FunctionTrigger, console_panel_changed, function_named
from lambdalab.server import EdgeServer

from .edge_support import client, client_for, create, edge, zip_of  # noqa: F401  (fixtures)
from .test_console import CONSOLE, get, read_events, state, stream  # noqa: F401  (a fixture)
from .test_console_browser import page, screenshot  # noqa: F401  (a fixture)
from .test_fidelity_handlers import s3_of

ROLE = "arn:aws:iam::000000000000:role/scheduler"


def triggers(edge: EdgeServer, name: str) -> list[str]:
    return {f["name"]: f for f in state(edge.url)["functions"]}[name]["triggers"]


def hook_triggers(lab: Lab, name: str) -> list[FunctionTrigger]:
    return [t for found in lab.plugin_manager.hook.lambdalab_function_triggers(lab=lab, function_name=name)
            for t in found]


# -- every trigger under its function ------------------------------------------------------


def test_a_bucket_notification_is_listed_under_its_function(lab: Lab, edge: EdgeServer, client: Any) -> None:
    arn = create(client, "thumbs")["FunctionArn"]
    create(client, "other")
    client.add_permission(FunctionName="thumbs", StatementId="s3", Action="lambda:InvokeFunction",
                          Principal="s3.amazonaws.com", SourceArn="arn:aws:s3:::photos")
    s3 = s3_of(edge)
    s3.create_bucket(Bucket="photos")
    s3.put_bucket_notification_configuration(Bucket="photos", NotificationConfiguration={
        "LambdaFunctionConfigurations": [{"LambdaFunctionArn": arn, "Events": ["s3:ObjectCreated:*"],
                                          "Filter": {"Key": {"FilterRules": [
                                              {"Name": "suffix", "Value": ".jpg"}]}}}]})
    assert hook_triggers(lab, "thumbs") == [FunctionTrigger("s3", "photos", "s3:ObjectCreated:* (suffix .jpg)")]
    assert triggers(edge, "thumbs") == ["s3 photos: s3:ObjectCreated:* (suffix .jpg)"]
    assert triggers(edge, "other") == []
    s3.put_bucket_notification_configuration(Bucket="photos", NotificationConfiguration={})
    assert triggers(edge, "thumbs") == []


def test_an_sns_subscription_is_listed_under_its_function(lab: Lab, edge: EdgeServer, client: Any) -> None:
    arn = create(client, "mailer")["FunctionArn"]
    sns = client_for(edge.url, "sns")
    topic = sns.create_topic(Name="orders")["TopicArn"]
    subscription = sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=arn + ":live",
                                 Attributes={"FilterPolicy": '{"kind": ["paid"]}'})["SubscriptionArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint="arn:aws:sqs:us-east-1:000000000000:q")
    assert hook_triggers(lab, "mailer") == [
        FunctionTrigger("sns", topic, 'filter policy {"kind": ["paid"]}')]
    assert triggers(edge, "mailer") == [f'sns {topic}: filter policy {{"kind": ["paid"]}}']
    sns.unsubscribe(SubscriptionArn=subscription)
    assert triggers(edge, "mailer") == []


def test_rules_and_schedules_are_listed_under_their_function(lab: Lab, edge: EdgeServer, client: Any) -> None:
    arn = create(client, "report")["FunctionArn"]
    events = client_for(edge.url, "events")
    nightly = events.put_rule(Name="nightly", ScheduleExpression="cron(0 3 * * ? *)")["RuleArn"]
    paid = events.put_rule(Name="paid", EventPattern='{"source": ["shop"]}', State="DISABLED")["RuleArn"]
    events.put_rule(Name="elsewhere", ScheduleExpression="rate(1 hour)")
    events.put_targets(Rule="nightly", Targets=[{"Id": "1", "Arn": arn}])
    events.put_targets(Rule="paid", Targets=[{"Id": "1", "Arn": arn + ":1"}])
    events.put_targets(Rule="elsewhere", Targets=[{"Id": "1", "Arn": arn.replace("us-east-1", "eu-west-1")}])
    scheduler = client_for(edge.url, "scheduler")
    weekly = scheduler.create_schedule(Name="weekly", ScheduleExpression="rate(7 days)",
                                       Target={"Arn": arn, "RoleArn": ROLE},
                                       FlexibleTimeWindow={"Mode": "OFF"})["ScheduleArn"]
    assert triggers(edge, "report") == [
        f"events {nightly}: cron(0 3 * * ? *) (ENABLED)",
        f'events {paid}: pattern {{"source": ["shop"]}} (DISABLED)',
        f"scheduler {weekly}: rate(7 days) (ENABLED)",
    ]
    events.remove_targets(Rule="nightly", Ids=["1"])
    scheduler.delete_schedule(Name="weekly")
    assert triggers(edge, "report") == [f'events {paid}: pattern {{"source": ["shop"]}} (DISABLED)']


def test_a_plugin_whose_trigger_listing_fails_shows_one_line_not_a_500(
    lab: Lab, edge: EdgeServer, client: Any
) -> None:
    class Broken:
        @lambdalab.hookimpl
        def lambdalab_function_triggers(self, function_name: str) -> list[FunctionTrigger]:
            raise RuntimeError("the plugin's bug")

    lab.plugin_manager.register(Broken(), name="broken-triggers")
    create(client, "echo")
    assert triggers(edge, "echo") == ["broken-triggers: cannot list its triggers (RuntimeError: the plugin's bug)"]


def test_only_this_labs_functions_are_named_by_an_arn(lab: Lab) -> None:
    assert function_named(lab, lab.arns.function("f", "live")) == "f"
    assert function_named(lab, lab.arns.function("f").replace("us-east-1", "eu-west-1")) is None
    assert function_named(lab, "arn:aws:sqs:us-east-1:000000000000:f") is None
    assert function_named(lab, "f") is None


# -- changes through any door are pushed --------------------------------------------------


def test_changes_through_the_python_api_are_pushed(lab: Lab, stream: http.client.HTTPResponse, code: Any) -> None:
    lab.create_function("quiet", code(app="def handler(e, c):\n    return 1\n"), handler="app.handler")
    read_events(stream, b"event: functions")
    lab.update_function_configuration("quiet", memory_size=256)
    read_events(stream, b"event: functions")
    lab.publish_version("quiet")
    read_events(stream, b"event: functions")
    lab.delete_function("quiet")
    read_events(stream, b"event: functions")


def changes_seen(lab: Lab) -> list[str]:
    """The functions ``lambdalab_function_changed`` names from now on, in order."""
    seen: list[str] = []

    class Watcher:
        @lambdalab.hookimpl
        def lambdalab_function_changed(self, function_name: str) -> None:
            seen.append(function_name)

    lab.plugin_manager.register(Watcher())
    return seen


def test_wiring_a_trigger_is_pushed(lab: Lab, edge: EdgeServer, stream: http.client.HTTPResponse, client: Any) -> None:
    arn = create(client, "mailer")["FunctionArn"]
    read_events(stream, b"event: functions")
    sns = client_for(edge.url, "sns")
    topic = sns.create_topic(Name="orders")["TopicArn"]
    seen = changes_seen(lab)
    sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=arn)
    sns.subscribe(TopicArn=topic, Protocol="email", Endpoint="someone@example.com")
    read_events(stream, b"event: functions")
    assert seen == ["mailer"]


# -- a plugin's panel says it changed -------------------------------------------------------


class _Counter:
    """A learner's plugin: a panel with a count it announces when it changes."""

    TITLE = "Counter (a plugin's panel)"

    def __init__(self) -> None:
        self.count = 0
        self.reads = 0

    def rows(self) -> list[dict[str, Any]]:
        self.reads += 1
        return [{"Count": self.count}]

    @lambdalab.hookimpl
    def lambdalab_console_panels(self, lab: Lab) -> list[ConsolePanel]:
        return [ConsolePanel(self.TITLE, self.rows), ConsolePanel("Other", lambda: [{"x": 1}])]

    def bump(self, lab: Lab) -> None:
        self.count += 1
        console_panel_changed(lab, self.TITLE)


def test_a_panel_change_is_pushed_and_only_that_panel_is_read(
    lab: Lab, edge: EdgeServer, stream: http.client.HTTPResponse
) -> None:
    counter = _Counter()
    lab.plugin_manager.register(counter)
    counter.bump(lab)
    seen = read_events(stream, b"event: panel")
    assert json.dumps(counter.TITLE).encode() in seen
    status, body = get(edge.url + CONSOLE + "api/panels?" + urlencode({"title": counter.TITLE}))
    assert status == 200 and json.loads(body)["panels"] == [{"title": counter.TITLE, "rows": [{"Count": 1}]}]
    status, body = get(edge.url + CONSOLE + "api/panels?" + urlencode({"title": "No such panel"}))
    assert status == 200 and json.loads(body)["panels"] == []


# -- in the browser -----------------------------------------------------------------------------


def test_a_function_created_through_the_python_api_appears_without_reload(
    page: Any, lab: Lab, code: Any, tmp_path: Any
) -> None:
    from playwright.sync_api import expect

    expect(page.locator("#status")).to_have_text("Live.")
    lab.create_function("from-python", code(app="def handler(e, c):\n    return 1\n"), handler="app.handler")
    row = page.locator('#functions tr[data-function="from-python"]')
    expect(row).to_be_visible()
    lab.update_function_configuration("from-python", memory_size=512)
    expect(row.locator("td").nth(2)).to_have_text("512")
    screenshot(page, tmp_path, "console-functions-live", "#functions-view")
    lab.delete_function("from-python")
    expect(row).to_have_count(0)


def test_a_trigger_wired_through_the_edge_appears_under_its_function(
    page: Any, lab: Lab, edge: EdgeServer, client: Any, tmp_path: Any
) -> None:
    from playwright.sync_api import expect

    arn = create(client, "report")["FunctionArn"]
    expect(page.locator("#status")).to_have_text("Live.")
    events = client_for(edge.url, "events")
    events.put_rule(Name="nightly", ScheduleExpression="cron(0 3 * * ? *)")
    events.put_targets(Rule="nightly", Targets=[{"Id": "1", "Arn": arn}])
    cell = page.locator('#functions tr[data-function="report"] td.triggers')
    expect(cell).to_contain_text("cron(0 3 * * ? *) (ENABLED)")
    screenshot(page, tmp_path, "console-triggers", "#functions-view")


def test_a_plugin_panel_is_redrawn_when_the_plugin_says_so(page: Any, lab: Lab) -> None:
    from playwright.sync_api import expect

    counter = _Counter()
    lab.plugin_manager.register(counter)
    page.reload()
    panel = page.locator(f'#panels section[data-title="{counter.TITLE}"]')
    expect(panel.locator("td")).to_have_text("0")
    expect(page.locator("#status")).to_have_text("Live.")
    reads = counter.reads
    other = page.locator('#panels section[data-title="Other"]')
    other.evaluate("node => node.dataset.marked = 'kept'")  # a redraw of every panel would drop it
    counter.bump(lab)
    expect(panel.locator("td")).to_have_text("1")
    assert other.get_attribute("data-marked") == "kept"
    assert counter.reads >= reads + 1


def test_lambdas_own_triggers_changed_through_the_python_api_are_pushed(
    lab: Lab, edge: EdgeServer, stream: http.client.HTTPResponse, client: Any, code: Any
) -> None:
    lab.create_function("worker", code(app="def handler(e, c):\n    return 1\n"), handler="app.handler")
    read_events(stream, b"event: functions")
    seen = changes_seen(lab)
    sqs = client_for(edge.url, "sqs")
    queue = sqs.create_queue(QueueName="jobs")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    mapping = None
    changes: list[Any] = [
        lambda: lab.create_function_url_config("worker", "NONE"),
        lambda: lab.create_event_source_mapping("worker", event_source_arn=arn),
        lambda: lab.update_event_source_mapping(mapping.uuid, enabled=False),
        lambda: lab.delete_event_source_mapping(mapping.uuid),
        lambda: lab.delete_function_url_config("worker"),
    ]
    for change in changes:
        told = len(seen)
        answer = change()
        mapping = mapping or (answer if hasattr(answer, "uuid") else None)
        assert len(seen) > told and set(seen) == {"worker"}
    read_events(stream, b"event: functions")
