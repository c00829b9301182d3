"""Lab 2: retry a failed asynchronous event once, then record it at an audit function."""


def configure(lab, name, audit_arn):
    """At most one retry for ``name``; failed events go to the function ``audit_arn``."""
    lab.put_function_event_invoke_config(
        name,
        maximum_retry_attempts=1,
        destination_config={"OnFailure": {"Destination": audit_arn}},
    )
