"""``lambdalab schedule …``: schedule rules from the shell, through :class:`Schedules`."""

from __future__ import annotations

import click

from lambdalab import Lab
from lambdalab.plugin import LambdaGroup, pass_lab, print_table, say

from .models import Schedules


def _rules(lab: Lab) -> Schedules:
    from . import schedules

    return schedules(lab)


@click.group("schedule", cls=LambdaGroup)
def schedule_group() -> None:
    """Schedule rules (lambdalab_schedule): rate(...) and cron(...) invoke functions."""


@schedule_group.command("put-rule")
@click.argument("name")
@click.argument("expression")
@click.option("--disabled", is_flag=True, help="Create the rule without firing it.")
@click.option("--description", default=None, help="What the rule is for.")
@pass_lab
def put_rule(lab: Lab, name: str, expression: str, disabled: bool,
             description: str | None) -> None:
    """Create or update rule NAME with EXPRESSION: rate(...) or cron(...) (six fields,
    in UTC), e.g. 'rate(5 minutes)'."""
    arn = _rules(lab).put_rule(
        name, expression, state="DISABLED" if disabled else "ENABLED", description=description
    )
    say(f"Rule {arn} fires on {expression}")


@schedule_group.command("put-targets")
@click.argument("rule")
@click.argument("function")
@click.option("--id", "target_id", default=None, help="The target's id [default: FUNCTION].")
@click.option("--input", "input_", default=None, help="Constant JSON to send instead of "
              "the Scheduled Event.")
@pass_lab
def put_targets(lab: Lab, rule: str, function: str, target_id: str | None,
                input_: str | None) -> None:
    """Make RULE invoke FUNCTION (a name or ARN) asynchronously at every firing."""
    arn = function if function.startswith("arn:") else lab.arns.function(function)
    target = {"Id": target_id or function.rsplit(":", 1)[-1], "Arn": arn}
    if input_ is not None:
        target["Input"] = input_
    _rules(lab).put_targets(rule, [target])
    say(f"Rule {rule} invokes {arn}")


@schedule_group.command("list")
@pass_lab
def list_rules(lab: Lab) -> None:
    """Every rule with its expression, state and targets."""
    rules = _rules(lab)
    print_table(
        "Schedule rules",
        ("Name", "Schedule", "State", "Targets"),
        (
            (r.name, r.schedule_expression, r.state,
             ", ".join(t.arn for t in rules.list_targets_by_rule(r.name)))
            for r in rules.list_rules()
        ),
        empty="No rules yet. Create one: lambdalab schedule put-rule NAME 'rate(5 minutes)'",
    )


@schedule_group.command("delete-rule")
@click.argument("name")
@click.option("--remove-targets", is_flag=True, help="Remove its targets first.")
@pass_lab
def delete_rule(lab: Lab, name: str, remove_targets: bool) -> None:
    """Delete rule NAME (EventBridge refuses while it has targets)."""
    rules = _rules(lab)
    if remove_targets:
        rules.remove_targets(name, [t.id for t in rules.list_targets_by_rule(name)])
    rules.delete_rule(name)
    say(f"Deleted rule {name}")
