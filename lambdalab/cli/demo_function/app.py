"""The function ``lambdalab demo`` deploys: a counter that lives as long as its environment.

Everything at module level runs once, during INIT, when a new execution environment
starts (a cold start). The handler then runs once per invoke, and the module's globals
are still there on the next invoke that reaches the same (warm) environment.
"""

import os
import time

# INIT: runs once per execution environment.
STARTED_AT = time.time()
invocations = 0


def handler(event, context):
    global invocations
    invocations += 1
    print(f"Hello from invoke number {invocations} of this environment (pid {os.getpid()})")
    return {
        "invocations": invocations,
        "environment_age_ms": round((time.time() - STARTED_AT) * 1000, 2),
        "event": event,
        "context": {
            "function_name": context.function_name,
            "function_version": context.function_version,
            "invoked_function_arn": context.invoked_function_arn,
            "memory_limit_in_mb": context.memory_limit_in_mb,
            "aws_request_id": context.aws_request_id,
            "log_group_name": context.log_group_name,
            "log_stream_name": context.log_stream_name,
            "get_remaining_time_in_millis()": context.get_remaining_time_in_millis(),
        },
    }
