"""Runtime API benchmarks: warm invoke overhead of runtimes beyond Python.

    python benchmarks/runtimes.py            # full run, about half a minute
    python benchmarks/runtimes.py --quick    # shorter runs: a smoke test
    python benchmarks/runtimes.py --json out.json

Figures (issue 4, "Measured": a ``provided`` function with a minimal bootstrap vs a
Python function), all warm invokes of an echo handler in one lab, beside the same
handler as a ``python`` function (``subprocess`` backend, a pipe instead of HTTP):

1. ``provided.al2023`` with a minimal bootstrap: a Python loop on one keep-alive
   ``http.client`` connection — the Runtime API round trip and little else;
2. ``provided.al2023`` with AWS's ``awslambdaric`` as the bootstrap;
3. ``nodejs20.x`` (lambdalab's Node runtime client), when ``node`` is installed.

No targets: the figures say what the HTTP protocol costs against the pipe.
"""

from __future__ import annotations

import gc
import shutil
import sys
import tempfile
from pathlib import Path

import harness
from harness import Row, p50, p99, time_each
from lambdalab import Lab

ECHO = "def handler(event, context):\n    return event\n"
MINIMAL_BOOTSTRAP = '''#!/bin/sh
exec "$LAMBDALAB_PYTHON" -c '
import http.client, os, socket
conn = http.client.HTTPConnection(os.environ["AWS_LAMBDA_RUNTIME_API"])
conn.connect()
conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
while True:
    conn.request("GET", "/2018-06-01/runtime/invocation/next")
    r = conn.getresponse()
    event = r.read()
    rid = r.getheader("Lambda-Runtime-Aws-Request-Id")
    conn.request("POST", f"/2018-06-01/runtime/invocation/{rid}/response", body=event)
    conn.getresponse().read()
'
'''
RIC_BOOTSTRAP = '#!/bin/sh\nexec "$LAMBDALAB_PYTHON" -m awslambdaric app.handler\n'
NODE_ECHO = "exports.handler = async (event) => event;\n"
#: Per mode: warm invokes timed per runtime.
MODES = {"quick": {"invokes": 300}, "full": {"invokes": 3000}}


def progress(message: str) -> None:
    print(f"… {message}", file=sys.stderr, flush=True)


def code_root(root: Path, name: str, files: dict[str, str], bootstrap: str | None = None) -> Path:
    path = root / name
    path.mkdir()
    for filename, text in files.items():
        (path / filename).write_text(text)
    if bootstrap is not None:
        (path / "bootstrap").write_text(bootstrap)
        (path / "bootstrap").chmod(0o755)
    return path


def warm_samples(lab: Lab, name: str, count: int) -> list[float]:
    for _ in range(max(50, count // 20)):
        lab.invoke(name, {"a": 1})
    gc.collect()
    return time_each(lambda: lab.invoke(name, {"a": 1}), count)


def measure(counts: dict[str, int]) -> list[Row]:
    count = counts["invokes"]
    with tempfile.TemporaryDirectory() as tmp, Lab(data_dir=Path(tmp) / "data") as lab:
        root = Path(tmp)
        functions = {
            "python": dict(code=code_root(root, "py", {"app.py": ECHO}), handler="app.handler"),
            "minimal": dict(code=code_root(root, "min", {}, MINIMAL_BOOTSTRAP),
                            runtime="provided.al2023", handler="echo.handler"),
            "awslambdaric": dict(code=code_root(root, "ric", {"app.py": ECHO}, RIC_BOOTSTRAP),
                                 runtime="provided.al2023", handler="app.handler"),
        }
        if shutil.which("node"):
            functions["node"] = dict(code=code_root(root, "node", {"index.js": NODE_ECHO}),
                                     runtime="nodejs20.x", handler="index.handler")
        samples = {}
        for name, config in functions.items():
            lab.create_function(name, **config)
            progress(f"{count} warm invokes ({name})")
            samples[name] = warm_samples(lab, name, count)
    base = samples.pop("python")
    labels = {
        "minimal": "provided.al2023, minimal bootstrap",
        "awslambdaric": "provided.al2023, awslambdaric",
        "node": "nodejs20.x",
    }
    rows = [
        Row(
            figure=str(i),
            name=f"warm invoke, {labels[name]} (p50)",
            unit="µs",
            measured=p50(runs),
            baseline=p50(base),
            baseline_name="the same echo as a python function (subprocess backend)",
            samples=count,
            extra={"p99": p99(runs), "baseline_p99": p99(base)},
        )
        for i, (name, runs) in enumerate(samples.items(), start=1)
    ]
    return rows


def main(argv: list[str] | None = None) -> int:
    return harness.main("runtime benchmarks", __doc__.split("\n\n")[0], measure, MODES, argv,
                        quick_help="shorter runs: a smoke test")


if __name__ == "__main__":
    sys.exit(main())
