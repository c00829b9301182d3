"""A handler whose dependency was never packaged with it."""

import fancy_payments  # not in the deployment package, not installed anywhere


def handler(event, context):
    return fancy_payments.charge(event["amount"])
