"""Lab 15: an alarm on the errors of alias ``live`` that rolls a bad deploy back."""

from lambdalab_cloudwatch import alarms


def watch(lab, name, rollback_arn):
    """Put a CloudWatch alarm on the errors that alias ``live`` of function ``name``
    serves; when it goes to ALARM it invokes the function ``rollback_arn``."""
    alarms(lab).put_metric_alarm({
        "AlarmName": f"{name}-live-errors",
        "Namespace": "AWS/Lambda",
        "MetricName": "Errors",
        "Dimensions": [{"Name": "FunctionName", "Value": name},
                       {"Name": "Resource", "Value": f"{name}:live"}],
        "Statistic": "Sum",
        "Period": 60,
        "EvaluationPeriods": 3,
        "DatapointsToAlarm": 3,
        "Threshold": 1,
        "ComparisonOperator": "GreaterThanOrEqualToThreshold",
        "TreatMissingData": "notBreaching",
        "AlarmActions": [rollback_arn],
    })
