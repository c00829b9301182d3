"""Check for lab 24: the learner's SAM template deploys the checkout safely. A canary
with an alarm on the alias's errors rolls a bad version back after a few orders; a
good version goes live on its own within minutes, whatever a developer does to
``$LATEST``; the PreTraffic hook reports its smoke test, so a version that fails every
order never takes one.

Four deploys of the learner's project (``template.yaml`` and ``hooks.py``) with the
check's own ``src/app.py``, on a virtual clock moved a minute at a time with
PER_MINUTE orders through alias ``live`` each minute: no wall-clock time passes.
"""

import contextlib
import shutil
import tempfile
from pathlib import Path

from lambdalab import VirtualClock
from lambdalab.labs import CheckFailed, fresh_lab, passed, require_file
from lambdalab.server import EdgeServer
from lambdalab_cloudformation import CloudFormationError, cloudformation_of

#: Version 1, and 3: every order is priced. A developer's debug call fails (on $LATEST).
GOOD = '''def handler(event, context):
    if event.get("developer"):
        raise RuntimeError("a developer's half-done experiment")
    return {"total": sum(item["price"] for item in event["items"]), "version": context.function_version}
'''
#: Version 2: orders with a coupon fail; the smoke test has none.
COUPON_BUG = '''COUPONS = {"SPRING": 1}


def handler(event, context):
    total = sum(item["price"] for item in event["items"])
    if event.get("coupon"):
        total -= COUPONS[event["coupon"]]  # KeyError: WELCOME
    return {"total": total, "version": context.function_version}
'''
#: Version 4: every order fails, the smoke test's too.
BROKEN = '''def handler(event, context):
    raise KeyError("price")
'''
PER_MINUTE = 60
#: A bad canary must be rolled back within this many minutes (a 5-minute canary's window).
ROLLBACK_MIN = 4
#: A good version must serve every order within this many minutes.
LIVE_WITHIN_MIN = 12
START = 1_700_000_040  # a whole minute
STACK = "shop"


def check(workdir: Path):
    require_file(workdir, "template.yaml")
    require_file(workdir, "hooks.py")
    with contextlib.ExitStack() as stack:
        project = Path(stack.enter_context(tempfile.TemporaryDirectory())) / "shop"
        shutil.copytree(workdir, project, ignore=shutil.ignore_patterns("src", "__pycache__"))
        lab = stack.enter_context(fresh_lab(clock=VirtualClock(start=START)))
        stack.enter_context(EdgeServer(lab, port=0))  # the hook's boto3 reaches lambdalab through it
        cfn = cloudformation_of(lab)
        shop = Shop(lab, cfn, project)
        shop.deploy(GOOD, "version 1")
        checkout = shop.physical("Checkout")

        started = shop.deploy(COUPON_BUG, "version 2, whose coupon orders fail")
        shop.not_all_at_once(checkout, started)
        minutes = shop.orders_until(lambda: shop.alias(checkout) == ("1", {}), ROLLBACK_MIN)
        if minutes is None:
            raise shop.not_rolled_back(checkout)
        shop.orders(2)  # the alarm sees healthy minutes again

        shop.deploy(GOOD, "version 3, which works")
        went_live = shop.orders_until(lambda: shop.status() != "UPDATE_IN_PROGRESS", LIVE_WITHIN_MIN,
                                      developer=True)
        if went_live is None or shop.status() != "UPDATE_COMPLETE":
            raise shop.good_version_held_back(checkout, went_live)
        good = shop.alias(checkout)[0]

        shop.deploy_refused(BROKEN, checkout, good)
        return passed(
            "Your checkout deploys safely: bad code meets few orders, good code goes live on its own.",
            f"version 2 (coupon orders fail) was rolled back {minutes} minute(s) after its canary began",
            f"version 3 served every order {went_live} minutes after its deploy, though $LATEST failed "
            "a developer's calls all along",
            "version 4 (every order fails) never took an order: the PreTraffic hook's smoke test "
            "reported Failed",
        )


class Shop:
    """The learner's stack in a lab, and its orders."""

    def __init__(self, lab, cfn, project: Path) -> None:
        self.lab, self.cfn, self.project = lab, cfn, project
        self.sent = 0

    def deploy(self, code: str, what: str) -> list:
        (self.project / "src").mkdir(exist_ok=True)
        (self.project / "src" / "app.py").write_text(code)
        try:
            return self.cfn.deployer.deploy(STACK, self.project / "template.yaml").deployments
        except CloudFormationError as error:
            raise self.deploy_failed(what, error.message) from None

    def deploy_failed(self, what: str, message: str) -> CheckFailed:
        if "without calling PutLifecycleEventHookExecutionStatus" in message:
            return CheckFailed(
                f"The deploy of {what} failed: the PreTraffic hook gave no verdict.",
                expected="the hook reports Succeeded for a version that passes its smoke test",
                got=message,
                try_next="CodeDeploy does not read what a hook returns: the hook reports with "
                "PutLifecycleEventHookExecutionStatus, naming the event's DeploymentId and "
                "LifecycleEventHookExecutionId",
            )
        return CheckFailed(f"The deploy of {what} failed.", expected="the stack deployed",
                           got=message, try_next="read the message: it names the resource and why")

    def physical(self, logical_id: str) -> str:
        return self.cfn.stacks.get(STACK).resources[logical_id].made.physical_id

    def status(self) -> str:
        return self.cfn.stacks.get(STACK).status

    def alias(self, checkout: str) -> tuple:
        live = self.lab.get_alias(checkout, "live")
        return live.function_version, dict(live.additional_version_weights)

    def orders(self, minutes: int, developer: bool = False) -> None:
        checkout = self.physical("Checkout")
        for _ in range(minutes):
            for n in range(PER_MINUTE):
                order = {"items": [{"sku": "tea", "price": 4}]}
                if n % 2:
                    order["coupon"] = "WELCOME"
                self.lab.invoke(checkout, order, qualifier="live")
            if developer:
                self.lab.invoke(checkout, {"developer": True})  # unqualified: $LATEST
            self.lab.clock.advance(60)

    def orders_until(self, done, minutes: int, developer: bool = False):
        """The minutes of orders it took for ``done()``, or ``None`` after ``minutes``."""
        for minute in range(1, minutes + 1):
            self.orders(1, developer)
            if done():
                return minute
        return None

    def not_all_at_once(self, checkout: str, started: list) -> None:
        version, weights = self.alias(checkout)
        if version == "2" and not weights:
            raise CheckFailed(
                "Version 2 took every order the moment it was deployed.",
                expected="a few orders on the new version first (a canary), the rest on version 1",
                got="alias live moved to version 2 all at once: DeploymentPreference Type AllAtOnce "
                "sends every order to the new code in one go",
                try_next="a Canary or Linear deployment preference shifts part of the traffic first "
                "and waits; see the deployment configurations CodeDeploy has for Lambda",
            )
        if not started:
            raise CheckFailed(
                "The update of the function started no CodeDeploy deployment.",
                expected="a traffic shift of alias live", got=f"live on version {version}",
                try_next="AutoPublishAlias with a DeploymentPreference makes the alias's moves "
                "CodeDeploy deployments")

    def not_rolled_back(self, checkout: str) -> CheckFailed:
        version, weights = self.alias(checkout)
        got = (f"live still sends {weights.get('2', 0):.0%} of the orders to version 2 after "
               f"{ROLLBACK_MIN} minutes of failing coupon orders" if weights else
               f"live serves version {version} alone: the canary ran its course")
        alarms = self._alarms_of_the_deployment()
        return CheckFailed(
            "Nothing rolled version 2 back.",
            expected=f"the canary rolled back within {ROLLBACK_MIN} minutes, while its coupon orders failed",
            got=got + ("; the deployment watches no alarm" if not alarms else ""),
            try_next="a deployment rolls back when one of its Alarms goes to ALARM: list the "
            "alarm on the checkout's errors under the DeploymentPreference" if not alarms else
            "the alarm must count the errors of the orders live serves: Lambda publishes them "
            "under FunctionName and Resource (NAME:live)",
        )

    def _alarms_of_the_deployment(self) -> list:
        deployments = self.cfn.shifts.of_stack(STACK)
        return deployments[-1].plan.alarms if deployments else []

    def good_version_held_back(self, checkout: str, went_live) -> CheckFailed:
        last = self.cfn.shifts.of_stack(STACK)[-1]
        if last.status == "Failed" and last.error_code == "ALARM_ACTIVE":
            return CheckFailed(
                "The alarm rolled back version 3, which works.",
                expected="version 3 live, though a developer's calls of $LATEST failed meanwhile",
                got=f"rolled back: {last.error_message}",
                try_next="under the FunctionName dimension alone the Errors metric counts every "
                "version and $LATEST too; watch only the errors of alias live",
            )
        version, weights = self.alias(checkout)
        return CheckFailed(
            f"Version 3 did not serve every order within {LIVE_WITHIN_MIN} minutes.",
            expected=f"a good version live within {LIVE_WITHIN_MIN} minutes",
            got=f"after {LIVE_WITHIN_MIN} minutes live still sends {weights} to the new version "
            f"(deployment configuration {last.plan.config_name})",
            try_next="a safe deployment need not be a slow one: too long a canary or linear "
            "interval keeps a good fix from most customers for ages",
        )

    def deploy_refused(self, code: str, checkout: str, good: str) -> None:
        (self.project / "src" / "app.py").write_text(code)
        try:
            self.cfn.deployer.deploy(STACK, self.project / "template.yaml")
        except CloudFormationError as error:
            if "PreTraffic" in error.message or "BeforeAllowTraffic" in error.message:
                if self.alias(checkout) == (good, {}):
                    return
            raise self.deploy_failed("version 4", error.message) from None
        version, weights = self.alias(checkout)
        raise CheckFailed(
            "Version 4, which fails every order, took orders.",
            expected="the PreTraffic hook's smoke test fails and stops the deployment before "
            "any order reaches version 4",
            got=f"the hook let it through: live sends {weights or 'every order'} to version "
            f"{max(weights) if weights else version}",
            try_next="report the smoke test's result: status Succeeded only when the new version "
            "answered the smoke order right, Failed otherwise",
        )
