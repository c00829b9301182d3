"""Lab 21: the accounts table's stream, and the mapping from it to the audit function.

``tables`` is the lab's DynamoDB (``lambdalab_dynamodb.dynamodb_of(lab).tables``):
``tables.update_table(name, params)`` takes UpdateTable's parameters as a dict.
"""


def enable_stream(tables, table_name):
    """Turn on the stream of the table ``table_name``."""
    tables.update_table(table_name, {
        # TODO: which view puts into each record what the audit needs: the values before
        # AND after the change?
        "StreamSpecification": {"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"},
    })


def connect(lab, function_name, stream_arn):
    """Map the table's stream ``stream_arn`` to the audit function ``function_name``."""
    lab.create_event_source_mapping(
        function_name,
        event_source_arn=stream_arn,
        # TODO: the application wrote to the table before this mapping existed. Where
        # should Lambda start reading the stream so that those writes are audited too?
        starting_position="LATEST",
        batch_size=10,
    )
