"""Lab 4: do expensive work once per execution environment, not once per invoke."""

import time


def load_model():
    """Pretend to load something big: a model, a config file, a database connection."""
    time.sleep(0.4)
    return {"answer": 42}


MODEL = load_model()  # runs once, during INIT
INVOCATIONS = 0  # survives between warm invokes of this environment


def handler(event, context):
    global INVOCATIONS
    INVOCATIONS += 1
    return {"answer": MODEL["answer"], "invocations": INVOCATIONS}
