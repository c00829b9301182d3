"""Lab 2: retry a failed asynchronous event once, then record it at an audit function.

``lab`` is a lambdalab.Lab: its methods mirror boto3's Lambda client.
"""


def configure(lab, name, audit_arn):
    """At most one retry for ``name``; failed events go to the function ``audit_arn``."""
    # TODO: call lab.put_function_event_invoke_config for `name` with
    #       maximum_retry_attempts and an OnFailure destination (audit_arn).
