"""Edge payload benchmarks: large events and responses through boto3 and ``lambdalab serve``.

    python benchmarks/edge_payloads.py            # 20 of each, every sandbox: a few minutes
    python benchmarks/edge_payloads.py --quick    # 3 of each: a smoke test
    python benchmarks/edge_payloads.py --json out.json

Figures (the issue "The HTTP edge": large synchronous payloads failed 11 times in 12,
large responses 22 times in 24):

1. for each sandbox (``subprocess``, ``limited``, and ``cgroup`` where this machine has
   writable cgroups) and each size (1, 3 and 5.9 MB): invokes that failed, out of N
   events of that size and N responses of that size, each both cold (the first invoke
   after an UpdateFunctionConfiguration, checked by the ``Init Duration`` of its REPORT
   line) and warm (target: 0 failures). A failure is any answer but the right one: a
   function error, a wrong or cut payload, an exception;
2. the limits, once: an event of 6 MB + 1 byte answers ``RequestTooLargeException``, a
   response of 6,291,556 bytes passes and one byte more is
   ``Function.ResponseSizeTooLarge`` (target: all as AWS answers).

Each sandbox gets its own ``lambdalab serve --port 0`` process (``LAMBDALAB_SANDBOX``
picks it), as a learner runs it, on a temporary data dir and the loopback interface.
A missed target is reported, not raised.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any, Callable

import boto3
from botocore.config import Config

import harness
from edge import start_edge
from harness import Row
from lambdalab import limits

MB = 1024 * 1024
SIZES = {"1 MB": 1 * MB, "3 MB": 3 * MB, "5.9 MB": int(5.9 * MB)}
SIZED_HANDLER = (
    "def handler(event, context):\n"
    "    if isinstance(event, dict):\n"
    "        return 'x' * event['size']\n"
    "    return len(event)\n"
)
#: Per mode: invokes of each kind (cold/warm x event/response) per size and sandbox.
MODES = {"quick": {"each": 3}, "full": {"each": 20}}


def sandboxes() -> list[str]:
    """The sandboxes this machine can run: cgroup only with writable cgroups."""
    from lambdalab_limited.cgroup import DEFAULT_ROOT, CgroupUnavailable, probe

    try:
        probe(DEFAULT_ROOT)
    except CgroupUnavailable:
        return ["subprocess", "limited"]
    return ["subprocess", "limited", "cgroup"]


def zipped(source: str) -> bytes:
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", source)
    return buffer.getvalue()


def client_of(url: str) -> Any:
    return boto3.client(
        "lambda", endpoint_url=url, region_name="us-east-1",
        aws_access_key_id="bench", aws_secret_access_key="bench",
        config=Config(retries={"total_max_attempts": 1}, read_timeout=120),
    )


class Sized:
    """The ``sized`` function of one edge: invokes it and judges each answer."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.deploys = 0
        client.create_function(
            FunctionName="sized", Runtime="python3.11", Role="arn:aws:iam::000000000000:role/bench",
            Handler="app.handler", Code={"ZipFile": zipped(SIZED_HANDLER)},
            MemorySize=1024, Timeout=60,
        )

    def redeploy(self) -> None:
        """A new configuration: the next invoke starts a new environment."""
        self.deploys += 1
        self.client.update_function_configuration(
            FunctionName="sized", Environment={"Variables": {"DEPLOY": str(self.deploys)}}
        )

    def invoke(self, payload: Any) -> tuple[dict[str, Any], bytes, bool]:
        """The response, its payload, and whether it ran in a new environment."""
        response = self.client.invoke(
            FunctionName="sized", Payload=json.dumps(payload).encode(), LogType="Tail"
        )
        tail = base64.b64decode(response.get("LogResult", "")).decode("utf-8", "replace")
        return response, response["Payload"].read(), "Init Duration" in tail

    def event_ok(self, size: int, cold: bool) -> bool:
        response, body, was_cold = self.invoke("y" * size)
        return "FunctionError" not in response and body == str(size).encode() and was_cold == cold

    def response_ok(self, size: int, cold: bool) -> bool:
        response, body, was_cold = self.invoke({"size": size})
        return (
            "FunctionError" not in response and len(body) == size + 2
            and body == b'"' + b"x" * size + b'"' and was_cold == cold
        )


def failures(check: Callable[[], bool], times: int) -> int:
    failed = 0
    for _ in range(times):
        try:
            failed += not check()
        except Exception as e:  # noqa: BLE001  (a failure to count, not to stop at)
            print(f"  failed: {type(e).__name__}: {e}", file=sys.stderr)
            failed += 1
    return failed


def measure_sandbox(sized: Sized, each: int) -> dict[str, Counter[str]]:
    """Failures by size and kind (``cold event``, ``warm response``…)."""
    found: dict[str, Counter[str]] = {}
    for label, size in SIZES.items():
        counts: Counter[str] = Counter()
        for kind, ok in (("event", sized.event_ok), ("response", sized.response_ok)):
            def cold(ok: Callable[[int, bool], bool] = ok) -> bool:
                sized.redeploy()
                return ok(size, True)

            counts[f"cold {kind}"] = failures(cold, each)
            sized.invoke("warm-up")  # the environment the cold invoke started
            counts[f"warm {kind}"] = failures(lambda ok=ok: ok(size, False), each)  # type: ignore[misc]
        found[label] = counts
    return found


def limits_answered(sized: Sized) -> tuple[int, int]:
    """Of the three limit checks, how many answered as AWS does."""
    right = 0
    try:
        sized.client.invoke(FunctionName="sized", Payload=b'"' + b"y" * (limits.SYNC_PAYLOAD_MAX_BYTES - 1) + b'"')
    except sized.client.exceptions.RequestTooLargeException:
        right += 1
    largest = limits.SYNC_RESPONSE_MAX_BYTES - 2
    right += sized.response_ok(largest, False)
    response, body, _ = sized.invoke({"size": largest + 1})
    right += json.loads(body).get("errorType") == "Function.ResponseSizeTooLarge"
    return right, 3


def run(counts: dict[str, Any]) -> list[Row]:
    each = counts["each"]
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as tmp:
        for index, sandbox in enumerate(sandboxes()):
            os.environ["LAMBDALAB_SANDBOX"] = sandbox  # read by the serve process
            edge, url = start_edge(Path(tmp) / f"data-{sandbox}")
            try:
                sized = Sized(client_of(url))
                print(f"{sandbox}: {each} of each kind per size", file=sys.stderr)
                for label, found in measure_sandbox(sized, each).items():
                    failed = sum(found.values())
                    rows.append(Row(
                        f"1{'abc'[index]}", f"{sandbox}, {label}: failed invokes", "invokes",
                        failed, target=f"0 of {4 * each}", met=failed == 0,
                        samples=4 * each, extra=dict(found),
                        notes=", ".join(f"{kind} {n}/{each}" for kind, n in found.items()),
                    ))
                if index == 0:
                    right, checks = limits_answered(sized)
                    rows.append(Row(
                        "2", "6 MB + 1 event; 6,291,556 and 6,291,557-byte responses: as AWS",
                        "checks", right, target=f"{checks} of {checks}", met=right == checks,
                        samples=checks,
                    ))
            finally:
                edge.send_signal(signal.SIGTERM)
                edge.wait(timeout=60)
    return rows


def main(argv: list[str] | None = None) -> int:
    return harness.main(
        "edge payload benchmarks", __doc__.split("\n\n")[0], run, MODES, argv,
        quick_help="3 invokes of each kind: a smoke test", summary=True,
    )


if __name__ == "__main__":
    sys.exit(main())
