"""Lab 15: an alarm on the errors of alias ``live`` that rolls a bad deploy back."""

from lambdalab_cloudwatch import alarms


def watch(lab, name, rollback_arn):
    """Put a CloudWatch alarm on the errors that alias ``live`` of function ``name``
    serves; when it goes to ALARM it invokes the function ``rollback_arn``."""
    alarms(lab).put_metric_alarm({
        "AlarmName": f"{name}-live-errors",
        "Namespace": "AWS/Lambda",
        "MetricName": "Errors",
        # TODO: which dimensions name the errors of alias live, and only those?
        "Dimensions": [{"Name": "FunctionName", "Value": name}],
        "Statistic": "Sum",
        "Period": 60,
        # TODO: one error in one minute is the noise of a healthy function; how many
        # minutes in a row, at how many errors, say that a deploy went bad?
        "EvaluationPeriods": 1,
        "DatapointsToAlarm": 1,
        "Threshold": 1,
        "ComparisonOperator": "GreaterThanOrEqualToThreshold",
        # TODO: what should a minute without any invocation count as?
        "TreatMissingData": "breaching",
        # TODO: what runs when the alarm goes to ALARM?
    })
