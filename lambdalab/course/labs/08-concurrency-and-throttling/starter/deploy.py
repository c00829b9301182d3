"""Lab 8: cap a function's concurrency, and retry throttled invokes with backoff.

``lab`` is a lambdalab.Lab: its methods mirror boto3's Lambda client.
"""

import time

from lambdalab import TooManyRequestsException

FIRST_DELAY_S = 0.1  # the first wait after a throttle; double it each time


def protect(lab, name):
    """The function's database takes 2 connections: never run more than 2 at once."""
    # TODO: reserve a concurrency of 2 for the function (lab.put_function_concurrency).


def call_with_retry(lab, name, payload, attempts=6):
    """Invoke ``name``; when throttled, back off and retry. Returns the invoke's result."""
    # TODO: catch TooManyRequestsException, sleep (FIRST_DELAY_S, then twice as long each
    #       time) and try again, up to `attempts` times; then raise the last error.
    return lab.invoke(name, payload)
