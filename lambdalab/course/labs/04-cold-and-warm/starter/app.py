"""Lab 4: do expensive work once per execution environment, not once per invoke."""

import time


def load_model():
    """Pretend to load something big: a model, a config file, a database connection."""
    time.sleep(0.4)
    return {"answer": 42}


# TODO: load the model here, at module level, so it happens once, during INIT.
# TODO: add a module-level counter of invocations, starting at 0.


def handler(event, context):
    model = load_model()  # TODO: use the model loaded at INIT instead of loading it here
    # TODO: add 1 to the module-level counter (you need `global`) and return it
    return {"answer": model["answer"], "invocations": 1}
