"""Check for lab 7: release() publishes a version and makes it a 10 % canary of `live`."""

import tempfile
from collections import Counter
from pathlib import Path

from lambdalab.labs import (
    CheckFailed,
    call_learner,
    deploy,
    expect_success,
    fresh_lab,
    invoke,
    load_learner_module,
    passed,
    require_file,
    show,
    unique_name,
)

APP = '''def handler(event, context):
    return {{"version": "{tag}"}}
'''
CANARY_WEIGHT = 0.1
#: Invokes of `live` to look at the split; with 10 % the canary gets about 20 of 200.
SAMPLES = 200
CANARY_RANGE = range(4, 51)  # so wide that a correct 10 % canary falls outside ~never
SEED = 7


def write_app(folder: Path, tag: str) -> Path:
    folder.mkdir()
    (folder / "app.py").write_text(APP.format(tag=tag))
    return folder


def alias_advice(got: dict, stable: str, new: str) -> str:
    if got["FunctionVersion"] == new and not got["AdditionalVersionWeights"]:
        return f"live sends everyone to version {new} at once: that is a release, not a " \
            "canary. Keep live on the stable version and give the new one a weight"
    if got["FunctionVersion"] not in (stable, new):
        return f"live was on version {stable} before release(); read it with " \
            "lab.get_alias(name, \"live\").function_version instead of assuming a number"
    return "keep live on the stable version and put the new one in " \
        'routing_config={"AdditionalVersionWeights": {new: 0.1}}'


def check(workdir: Path):
    script = require_file(workdir, "deploy.py")
    module = load_learner_module(script)
    release = getattr(module, "release", None)
    if not callable(release):
        raise CheckFailed(
            "deploy.py has no release() function.",
            expected="def release(lab, name, code_dir): ...",
            got="no function named release",
            try_next="restore the starter's release() and fill in its TODOs",
        )
    with tempfile.TemporaryDirectory() as tmp, fresh_lab() as lab:
        v0_dir = write_app(Path(tmp) / "v0", "v0")
        v1_dir = write_app(Path(tmp) / "v1", "v1")
        v2_dir = write_app(Path(tmp) / "v2", "v2")
        name = unique_name("orders")
        deploy(lab, name, v0_dir, "app.handler")
        lab.publish_version(name)
        lab.update_function_code(name, str(v1_dir))
        stable = lab.publish_version(name).version  # "2": live is not on version 1
        lab.create_alias(name, "live", stable)

        returned = call_learner(
            script, release, lab, name, str(v2_dir), what="release(lab, name, code_dir)",
            advice={
                "InvalidParameterValueException": "did publish_version return the version "
                "live is already on? Publishing unchanged code returns the existing "
                "version: upload code_dir with lab.update_function_code first",
            },
        )

        versions = [c.version for c in lab.list_versions_by_function(name) if c.version != "$LATEST"]
        if versions == ["1", stable]:
            raise CheckFailed(
                "release() did not publish a new version.",
                expected=f'versions 1, {stable} and a new one (release publishes "3")',
                got=f"only versions 1 and {stable}",
                try_next="upload the code with lab.update_function_code(name, code_dir), then "
                "lab.publish_version(name). Publishing unchanged code returns the old version",
            )
        new = versions[-1]
        ran = expect_success(invoke(lab, name, {}, qualifier=new), f"as version {new}")
        if ran != {"version": "v2"}:
            raise CheckFailed(
                f"Version {new} does not run the new code.",
                expected='{"version": "v2"}',
                got=show(ran),
                try_next="upload code_dir with update_function_code before publish_version",
            )
        if str(returned) != new or not isinstance(returned, str):
            raise CheckFailed(
                "release() returned the wrong thing.",
                expected=show(new),
                got=show(returned),
                try_next="return the new version's number: lab.publish_version(name).version",
            )
        alias = lab.get_alias(name, "live")
        wanted = {"FunctionVersion": stable, "AdditionalVersionWeights": {new: CANARY_WEIGHT}}
        got = {
            "FunctionVersion": alias.function_version,
            "AdditionalVersionWeights": alias.additional_version_weights,
        }
        if got != wanted:
            raise CheckFailed(
                "Alias live is not a 10 % canary of the new version.",
                expected=show(wanted),
                got=show(got),
                try_next=alias_advice(got, stable, new),
            )
        rolls = getattr(lab.registry, "_random", None)  # the alias's weighted coin
        if rolls is not None:
            rolls.seed(SEED)  # the same split every run: the check never fails by luck
        runs = Counter(invoke(lab, name, {}, qualifier="live").executed_version for _ in range(SAMPLES))
        if runs[new] not in CANARY_RANGE:
            raise CheckFailed(
                "The traffic split through live is off.",
                expected=f"about {int(SAMPLES * CANARY_WEIGHT)} of {SAMPLES} invokes on version {new}",
                got=show(dict(runs)),
                try_next="report this as a bug in lambdalab's alias routing",
            )
    return passed(
        f"release() published version {new} as a 10 % canary of live.",
        f"live -> version {stable}, with {CANARY_WEIGHT:.0%} to version {new}",
        f"{SAMPLES} invokes of live ran: " + ", ".join(f"v{v} x{n}" for v, n in sorted(runs.items())),
    )
