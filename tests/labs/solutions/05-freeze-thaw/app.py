"""Lab 5: finish your work before the handler returns."""

import json
import os
import threading

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


def handler(event, context):
    PENDING.append({"order": event["order"], "request_id": context.aws_request_id})
    flush()  # before returning: after it, the environment is frozen
    return {"accepted": event["order"]}
