"""Lab 11: run the nightly report at 03:30 UTC on weekdays, with a schedule rule."""

from lambdalab_schedule import schedules


def schedule(lab, function_arn):
    """A rule named nightly-report that invokes ``function_arn`` at 03:30 UTC, Mon-Fri."""
    rules = schedules(lab)
    rules.put_rule("nightly-report", "cron(30 3 ? * MON-FRI *)")
    rules.put_targets("nightly-report", [{"Id": "report", "Arn": function_arn}])
