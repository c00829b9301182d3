"""A plugin outside lambdalab does what the built-ins do, with no change to core.

``tests/plugins/visits`` is built and installed by pip into a folder of its own, as a
student's plugin is (``pip install``; see tests/test_scaffold.py), and used by fresh
interpreters: a table of its own (``lambdalab_migrations``), per-lab state closed with the
lab (``lab.stash``), an HTTP service on the edge (``lambdalab_http_services``), a
command (``lambdalab_register_commands``), an event source mapping kind
(``lambdalab_event_source_mappings``) and a destination (``lambdalab_destination_sender``).
It imports only ``lambdalab`` and ``lambdalab.plugin``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from .test_architecture import imports_in

SOURCE = Path(__file__).resolve().parent / "plugins" / "visits"
LAMBDALAB = Path(sys.executable).with_name("lambdalab")


@dataclass(frozen=True)
class Installed:
    site: Path
    cache: Path

    def run(self, *command: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        import os

        env = {**os.environ, "PYTHONPATH": str(self.site), "LAMBDALAB_CACHE_DIR": str(self.cache),
               "PYTEST_ADDOPTS": "", "COLUMNS": "200"}
        return subprocess.run([str(part) for part in command], cwd=cwd, env=env, text=True,
                              capture_output=True, timeout=120, stdin=subprocess.DEVNULL)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    source = tmp_path_factory.mktemp("visits-src") / "visits"
    shutil.copytree(SOURCE, source)  # the build writes next to the sources
    site = tmp_path_factory.mktemp("visits-site")
    done = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--quiet",
         "--disable-pip-version-check", "--target", str(site), str(source)],
        capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return Installed(site, tmp_path_factory.mktemp("visits-cache"))


def test_the_plugin_imports_only_the_public_api_and_the_toolkit() -> None:
    reached = {module for _, module, _ in imports_in(SOURCE / "lambdalab_visits.py")
               if module.startswith("lambdalab")}
    assert reached == {"lambdalab", "lambdalab.plugin"}


def test_its_command_is_listed_and_runs_on_its_own_table(installed: Installed, tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert "Count visits to paths" in installed.run(LAMBDALAB, "--help").stdout
    for expected in ("/home: 1", "/home: 2"):
        done = installed.run(LAMBDALAB, "--data-dir", data, "visits", "add", "/home")
        assert done.returncode == 0 and done.stdout.strip() == expected, done.stderr
    listed = installed.run(LAMBDALAB, "--data-dir", data, "visits", "list", "--json")
    assert json.loads(listed.stdout) == {"/home": 2}, listed.stderr
    plugins = installed.run(LAMBDALAB, "--data-dir", data, "plugins").stdout
    assert "visits" in plugins and "lambdalab_register_commands" in plugins


# A fresh interpreter serves a lab with the plugin on the edge and speaks to it with plain
# HTTP and with boto3: visits, a mapping of its own kind, a destination of its own; then
# it closes the lab and says what the plugin saw.
SCRIPT = """
import json, pathlib, sys, urllib.request
import boto3
from lambdalab import Lab
from lambdalab.server import EdgeServer
import lambdalab_visits

data, code = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
code.mkdir()
(code / "app.py").write_text(
    "def seen(event, context):\\n    print('visit', event['path'], event['count'])\\n"
    "def broken(event, context):\\n    raise ValueError('no')\\n")
lab = Lab(data)
lab.create_function("seen", code=str(code), handler="app.seen")
lab.create_function("broken", code=str(code), handler="app.broken")
arn = lambda service, rest: f"arn:aws:{service}:{lab.arns.region}:{lab.arns.account_id}:{rest}"
with EdgeServer(lab, port=0) as edge:
    def call(method, path):
        request = urllib.request.Request(edge.url + path, method=method)
        with urllib.request.urlopen(request, timeout=60) as answer:
            return json.load(answer)
    client = boto3.client("lambda", endpoint_url=edge.url, region_name=lab.arns.region,
                          aws_access_key_id="x", aws_secret_access_key="x")
    mapping = client.create_event_source_mapping(FunctionName="seen",
                                                 EventSourceArn=arn("visits", "/about"))
    listed = client.list_event_source_mappings(FunctionName="seen")["EventSourceMappings"]
    added = [call("POST", "/_visits/about")["count"] for _ in range(2)]
    counts = call("GET", "/_visits/")
    client.put_function_event_invoke_config(
        FunctionName="broken", MaximumRetryAttempts=0,
        DestinationConfig={"OnFailure": {"Destination": arn("sns", "visits-alerts")}})
    client.invoke(FunctionName="broken", InvocationType="Event", Payload=b"{}")
    lab.wait_for_events()
visits_seen = [e.message.split()[1:] for e in lab.get_logs("seen") if e.message.startswith("visit")]
records = [json.loads(row[0]) for row in lab.store.query("SELECT body FROM visits_deliveries")]
state = lambdalab_visits.visits_of(lab)
lab.close()
print(json.dumps({
    "added": added, "counts": counts, "closed": state.closed,
    "mapped": [m["UUID"] for m in listed] == [mapping["UUID"]],
    "invoked_with": visits_seen,
    "delivered": [r["requestContext"]["condition"] for r in records],
}))
"""


def test_its_service_mappings_destination_and_state_work_in_a_served_lab(
    installed: Installed, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    assert installed.run(LAMBDALAB, "--data-dir", data, "visits", "add", "/about").returncode == 0
    done = installed.run(sys.executable, "-c", SCRIPT, data, tmp_path / "code")
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.splitlines()[-1])
    assert seen == {
        "added": [2, 3], "counts": {"/about": 3}, "closed": True, "mapped": True,
        "invoked_with": [["/about", "2"], ["/about", "3"]],
        "delivered": ["RetriesExhausted"],
    }
