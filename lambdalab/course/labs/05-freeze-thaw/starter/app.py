"""Lab 5: finish your work before the handler returns."""

import json
import os
import threading
import time

#: A file outside the function where audit records must arrive.
AUDIT_LOG = os.environ["AUDIT_LOG"]
PENDING = []
LOCK = threading.Lock()


def flush():
    """Append every pending record to the audit log."""
    with LOCK:
        if PENDING:
            with open(AUDIT_LOG, "a") as log:
                for record in PENDING:
                    log.write(json.dumps(record) + "\n")
            PENDING.clear()


def flush_every_second():
    while True:
        time.sleep(1)
        flush()


# TODO: this background thread runs only while an invoke runs: Lambda freezes the whole
# environment as soon as the handler returns, and thaws it for the next invoke.
threading.Thread(target=flush_every_second, daemon=True).start()


def handler(event, context):
    PENDING.append({"order": event["order"], "request_id": context.aws_request_id})
    # TODO: make sure the record is in the audit log before the handler returns
    return {"accepted": event["order"]}
