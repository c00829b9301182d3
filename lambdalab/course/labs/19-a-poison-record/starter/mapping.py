"""Lab 19: the event source mapping from the orders stream to the function."""


def configure(lab, function_name, stream_arn, failures_arn):
    """Map the stream ``stream_arn`` to ``function_name``; ``failures_arn`` is an SQS
    queue for what cannot be processed."""
    lab.create_event_source_mapping(
        function_name,
        event_source_arn=stream_arn,
        starting_position="TRIM_HORIZON",
        batch_size=10,
        # TODO: what happens to a batch that fails every time, and to the records behind
        # it in its shard? And where does a record go that Lambda gives up on?
    )
