"""Lab 19: the event source mapping from the orders stream to the function."""


def configure(lab, function_name, stream_arn, failures_arn):
    """Map the stream ``stream_arn`` to ``function_name``; ``failures_arn`` is an SQS
    queue for what cannot be processed."""
    lab.create_event_source_mapping(
        function_name,
        event_source_arn=stream_arn,
        starting_position="TRIM_HORIZON",
        batch_size=10,
        bisect_batch_on_function_error=True,
        maximum_retry_attempts=2,
        destination_config={"OnFailure": {"Destination": failures_arn}},
    )
