"""The console in a real browser: Playwright driving Debian's chromium against a real
edge, through a learner's scenario. Skipped with the reason when no browser is here;
with ``LAMBDALAB_REQUIRE_BROWSER=1`` (``.ci/run`` sets it) a missing browser fails."""

from __future__ import annotations

import os
import shutil
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import urlsplit

import pytest

import lambdalab
from lambdalab import Lab
from lambdalab.limits import IDLE_ENVIRONMENT_TTL_S
from lambdalab.plugin import ConsolePanel
from lambdalab.server import EdgeServer

from .edge_support import client, create, edge, zip_of  # noqa: F401  (fixtures)

CONSOLE = "/_lambdalab/console/"
#: Waits for the page, generous: the machine running the tests may be loaded.
PAGE_TIMEOUT_MS = 60_000
#: A handler that holds its environment until the test opens the gate (a file).
GATED = """
import os, time

def handler(event, context):
    gate = event.get("gate")
    deadline = time.time() + 100
    while gate and not os.path.exists(gate) and time.time() < deadline:
        time.sleep(0.01)
    return "done"
"""


def chromium_or_skip() -> str:
    """The chromium to drive; skipped (or failed, when CI requires it) if there is none."""
    reason = None
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        reason = "playwright is not installed (pip install -e '.[test]')"
    executable = shutil.which("chromium") or "/usr/bin/chromium"
    if reason is None and not os.access(executable, os.X_OK):
        reason = "no chromium (apt-get install chromium)"
    if reason is not None:
        if os.environ.get("LAMBDALAB_REQUIRE_BROWSER") == "1":
            pytest.fail(f"LAMBDALAB_REQUIRE_BROWSER=1 but {reason}")
        pytest.skip(reason)
    return executable


@pytest.fixture
def page(edge: EdgeServer) -> Iterator[Any]:
    executable = chromium_or_skip()
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=PAGE_TIMEOUT_MS)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable)
        try:
            tab = browser.new_page(viewport={"width": 1280, "height": 900})
            tab.goto(edge.url + CONSOLE)
            yield tab
        finally:
            browser.close()  # before the edge stops: it waits for open streams


def screenshot(page: Any, tmp_path: Path, name: str, view: str | None = None) -> Path:
    """A screenshot of the page, or of one view (a CSS selector), kept as a test artifact:
    in ``$LAMBDALAB_SCREENSHOTS_DIR`` when set (a CI job can keep that folder), else the test's
    tmp dir. Never committed: they change each run."""
    folder = Path(os.environ.get("LAMBDALAB_SCREENSHOTS_DIR") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    # Written aside and renamed: a docs build running meanwhile never reads half a file.
    partial = folder / f".{name}.partial.png"
    if view is None:
        page.screenshot(path=str(partial), full_page=True)
    else:
        page.locator(view).screenshot(path=str(partial))
    os.replace(partial, path)
    assert path.stat().st_size > 0
    return path


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def burst(client: Any, count: int, gate: Path) -> tuple[list[threading.Thread], list[str]]:
    """``count`` invokes at once, each held until ``gate`` exists; their outcomes."""
    outcomes: list[str] = []

    def invoke() -> None:
        try:
            client.invoke(FunctionName="watch", Payload=f'{{"gate": "{gate}"}}'.encode())
            outcomes.append("ran")
        except client.exceptions.TooManyRequestsException:
            outcomes.append("throttled")

    threads = [threading.Thread(target=invoke) for _ in range(count)]
    for thread in threads:
        thread.start()
    return threads, outcomes


class _ReservedPanel:
    """A plugin's panel: each function's reserved concurrency."""

    @lambdalab.hookimpl
    def lambdalab_console_panels(self, lab: Lab) -> list[ConsolePanel]:
        def rows() -> list[dict[str, Any]]:
            return [{"Function": f.function_name,
                     "Reserved": lab.get_function_concurrency(f.function_name)}
                    for f in lab.list_functions()]

        return [ConsolePanel("Reserved concurrency (a plugin's panel)", rows)]


def test_watch_cold_warm_and_throttled_invokes(
    page: Any, client: Any, lab: Lab, rendezvous: Path, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    lab.plugin_manager.register(_ReservedPanel())
    expect(page.locator("#status")).to_have_text("Live.")
    create(client, "watch", GATED, Timeout=120)
    client.put_function_concurrency(FunctionName="watch", ReservedConcurrentExecutions=2)
    cold = client.invoke(FunctionName="watch", Payload=b"{}")["ResponseMetadata"]["RequestId"]
    warm = client.invoke(FunctionName="watch", Payload=b"{}")["ResponseMetadata"]["RequestId"]

    first = page.locator(".lane").nth(0)
    expect(first.locator(".init")).to_contain_text("INIT")
    expect(first.locator(f'[data-request-id="{cold}"]')).to_have_count(1)
    expect(first.locator(f'[data-request-id="{warm}"]')).to_have_count(1)
    row = page.locator('tr[data-function="watch"]')
    expect(row).to_contain_text("python3.11")

    gate = rendezvous / "gate"
    threads, outcomes = burst(client, 6, gate)
    expect(row.locator(".throttles")).to_have_text("4")  # two hold the reserved slots
    gate.touch()
    for thread in threads:
        thread.join(timeout=120)
    assert sorted(outcomes) == ["ran"] * 2 + ["throttled"] * 4

    # One burst invoke ran warm on the first lane, the other needed a second environment.
    expect(page.locator(".lane")).to_have_count(2)
    expect(first.locator(".invoke")).to_have_count(3)
    expect(page.locator(".lane").nth(1).locator(".init")).to_have_count(1)

    # Concurrency: the burst's throttles marked under the graph, the reserved limit drawn.
    chart = page.locator("#concurrency-chart")
    expect(chart.locator(".throttle-mark")).to_have_count(4)
    expect(chart.locator('.limit-line[data-function="watch"] title')).to_have_text(
        "watch: reserved concurrency 2")
    expect(page.locator("#concurrency-summary")).to_contain_text("at most 2 concurrent executions")
    expect(page.locator("#concurrency-summary")).to_contain_text("4 throttled")

    # The invoke list, and an invoke's details: from its block on a lane, and from the list.
    expect(page.locator("#invokes tbody tr")).to_have_count(4)
    first.locator(f'[data-request-id="{cold}"]').click()
    detail = page.locator("#invoke-detail")
    expect(detail.locator("#detail-heading")).to_have_text(f"Invoke {cold}")
    expect(detail).to_contain_text("cold: INIT")
    expect(detail.locator("#detail-result")).to_have_text('"done"')
    expect(detail.locator("#detail-logs")).to_contain_text(f"START RequestId: {cold}")
    expect(detail.locator("#detail-logs")).to_contain_text(f"REPORT RequestId: {cold}")
    page.get_by_role("button", name=f"Show invoke {warm}").click()
    expect(detail.locator("#detail-heading")).to_have_text(f"Invoke {warm}")
    expect(detail).to_contain_text("warm: a reused environment")
    expect(detail.locator("#detail-event")).to_have_text("{}")
    screenshot(page, tmp_path, "console-invoke", "#invokes-view")
    screenshot(page, tmp_path, "console-concurrency", "#concurrency-view")

    page.get_by_label("Advance by (seconds)").fill(str(IDLE_ENVIRONMENT_TTL_S))
    page.get_by_label("Advance by (seconds)").press("Enter")
    # the clock steps through the timers it passes: read its target, not its moving value
    expect(page.locator("#clock")).to_have_text(iso(1_700_000_000 + IDLE_ENVIRONMENT_TTL_S))
    assert lab.clock.now() == 1_700_000_000 + IDLE_ENVIRONMENT_TTL_S
    # Idle for the idle timeout: both environments are reaped.
    expect(page.locator(".lane .ended")).to_have_text(["reaped (idle)", "reaped (idle)"])

    page.locator("#show-numbers").click()
    expect(page.locator("#lane-numbers tbody tr")).to_have_count(2)
    expect(page.locator("#lane-numbers tbody tr").nth(0).locator("td").nth(5)).to_have_text("3")
    panel = page.locator(".panel", has=page.get_by_role("heading", name="Reserved concurrency (a plugin's panel)"))
    expect(panel.locator("tbody tr")).to_have_text(["watch2"])
    screenshot(page, tmp_path, "console")
    screenshot(page, tmp_path, "console-environments", "#environments")

    # Keyboard: Tab reaches the timeline's blocks, each named for a screen reader.
    page.locator("#show-numbers").focus()
    page.keyboard.press("Tab")
    focused = page.evaluate("document.activeElement.getAttribute('aria-label')")
    assert focused.startswith("INIT (cold start) of watch"), focused
    page.keyboard.press("Tab")
    focused = page.evaluate("document.activeElement.getAttribute('aria-label')")
    assert focused.startswith(f"Invoke {cold}:"), focused

    # Dark theme: the page follows prefers-color-scheme.
    light = page.evaluate("getComputedStyle(document.body).backgroundColor")
    page.emulate_media(color_scheme="dark")
    dark = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert (light, dark) == ("rgb(255, 255, 255)", "rgb(18, 18, 18)")
    screenshot(page, tmp_path, "console-dark")


def advance_from_page(page: Any, seconds: int) -> None:
    page.get_by_label("Advance by (seconds)").fill(str(seconds))
    page.get_by_role("button", name="Advance the clock").click()


def test_an_async_failure_is_retried_on_the_clock(page: Any, lab: Lab, code: Any, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    expect(page.locator("#status")).to_have_text("Live.")
    lab.create_function("fails", code(app="def handler(e, c):\n    raise RuntimeError('no')\n"),
                        handler="app.handler", sandbox="thread")
    request_id = lab.invoke("fails", b'{"order": 7}', invocation_type="Event").request_id
    row = page.locator(f'#queue tr[data-request-id="{request_id}"]')
    for attempts, retry_in in ((1, 60), (2, 120)):  # AWS's 1 and 2 minute retries
        expect(row.locator(".attempts")).to_have_text(str(attempts))
        expect(row.locator(".state")).to_have_text("retrying")
        expect(row.locator(".next-attempt")).to_contain_text(f"(in {retry_in} s)")
        advance_from_page(page, retry_in)
    ended = page.locator(f'#queue-ended tr[data-request-id="{request_id}"]')
    expect(ended.locator(".condition")).to_have_text("RetriesExhausted")
    expect(ended).to_contain_text("nowhere (dropped)")
    screenshot(page, tmp_path, "console-async", "#queue-view")
    expect(row).to_have_count(0)
    # Each attempt is an invoke of its own in the list, with the same request id.
    expect(page.locator(f'#invokes button[aria-label="Show invoke {request_id}"]')).to_have_count(3)


def test_marked_actions_invoke_publish_and_draw_alias_weights(
    page: Any, lab: Lab, client: Any, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    expect(page.locator("#status")).to_have_text("Live.")
    create(client, "echo", "def handler(e, c):\n    return {'got': e}\n")
    actions = page.locator("#actions")
    expect(actions.get_by_role("heading", name="Actions (these change the lab)")).to_be_visible()
    expect(page.locator("#invoke-function option")).to_have_text(["echo"])

    page.get_by_label("Event (JSON)").fill('{"order": 7}')
    actions.get_by_role("button", name="Invoke").click()
    expect(page.locator("#invoke-answer")).to_contain_text('returned: {"got": {"order": 7}}')
    expect(page.locator("#invokes tbody tr")).to_have_count(1)
    # The monitoring plugins' panels are read again after invokes.
    metrics = page.locator(".panel", has=page.get_by_role("heading", name="Metrics, last hour"))
    expect(metrics.locator("tbody tr td").nth(1)).to_have_text("1")  # Invocations
    cost = page.locator(".panel", has=page.get_by_role("heading", name="Cost so far"))
    expect(cost.locator("tbody tr td").nth(3)).to_have_text("1")  # Requests
    # The log tail follows the invokes, through a filter pattern.
    expect(page.locator("#log-tail")).to_contain_text("REPORT RequestId:")
    page.get_by_label("Filter pattern").fill('"Max Memory Used"')
    page.get_by_role("button", name="Filter", exact=True).click()
    expect(page.locator("#log-tail")).not_to_contain_text("START RequestId:")
    expect(page.locator("#log-tail")).to_contain_text("REPORT RequestId:")
    page.get_by_label("Event (JSON)").fill("{not json")
    actions.get_by_role("button", name="Invoke").click()
    expect(page.locator("#invoke-answer.refused")).to_contain_text(
        "InvalidRequestContentException: Could not parse request body into json")

    actions.get_by_role("button", name="Publish version").click()
    expect(page.locator("#publish-answer")).to_have_text("Published version 1.")
    client.update_function_code(FunctionName="echo", ZipFile=zip_of(app="def handler(e, c):\n    return 2\n"))
    client.get_waiter("function_updated_v2").wait(FunctionName="echo")
    actions.get_by_role("button", name="Publish version").click()
    expect(page.locator("#publish-answer")).to_have_text("Published version 2.")

    page.get_by_label("Version", exact=True).fill("1")
    page.get_by_label("Second version").fill("2")
    page.get_by_label("Its share (%)").fill("30")
    actions.get_by_role("button", name="Set alias").click()
    expect(page.locator("#alias-answer")).to_have_text("Alias live → version 1, 30% to version 2.")
    bar = page.locator('tr[data-function="echo"] .alias[data-alias="live"]')
    expect(bar).to_have_attribute("aria-label", "Alias live: 70% to version 1, 30% to version 2")
    expect(bar.locator(".share")).to_have_text(["1 70%", "2 30%"])
    page.get_by_label("Second version").fill("9")
    actions.get_by_role("button", name="Set alias").click()
    expect(page.locator("#alias-answer.refused")).to_contain_text("ResourceNotFoundException: Function not found")
    assert lab.get_alias("echo", "live").additional_version_weights == {"2": 0.3}
    screenshot(page, tmp_path, "console-actions", "#actions")
    screenshot(page, tmp_path, "console-alias-weights", "#functions-view")


def test_the_page_reconnects_when_the_edge_comes_back(page: Any, edge: EdgeServer, lab: Lab) -> None:
    """A stopping edge ends the page's event stream at once; the browser's EventSource
    reconnects by itself when an edge serves the port again."""
    from playwright.sync_api import expect

    expect(page.locator("#status")).to_have_text("Live.")
    edge.stop()
    expect(page.locator("#status")).to_have_text("Reconnecting…")
    port = urlsplit(edge.url).port
    with EdgeServer(lab, port=port, app=edge.app):
        expect(page.locator("#status")).to_have_text("Live.")
        lab.create_function("later", lambda event, context: 1)
        lab.invoke("later")
        expect(page.locator("#invokes tbody tr")).to_have_count(1)
        page.close()  # before this edge stops
