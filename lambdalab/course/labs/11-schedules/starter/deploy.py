"""Lab 11: run the nightly report at 03:30 UTC on weekdays, with a schedule rule.

``schedules(lab)`` has boto3's EventBridge methods (put_rule, put_targets, …).
"""

from lambdalab_schedule import schedules


def schedule(lab, function_arn):
    """A rule named nightly-report that invokes ``function_arn`` at 03:30 UTC, Mon-Fri."""
    rules = schedules(lab)
    # TODO: rules.put_rule("nightly-report", "cron(...)") with six fields, in UTC.
    # TODO: rules.put_targets("nightly-report", [...]) with the function as a target.
