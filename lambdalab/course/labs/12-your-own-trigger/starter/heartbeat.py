"""Lab 12: a trigger plugin that wakes functions up every minute of the lab's clock.

lambdalab loads this file as a plugin: ``Lab(plugins=[heartbeat])``. ``lab`` is a
lambdalab.Lab: ``lab.clock`` is its clock, ``lab.list_functions()`` lists the functions
(each with ``.function_name`` and ``.environment``, a dict of its variables) and
``lab.invoke(name, event, invocation_type=...)`` invokes one.
"""

import lambdalab

BEAT_S = 60  # seconds of the lab's clock between two heartbeats
OPT_IN = "HEARTBEAT"  # a function opts in with the environment variable HEARTBEAT=on


# TODO: mark this function as a hook implementation, so that lambdalab calls it.
def lambdalab_lab_started(lab):
    """Called once, when a lab starts: schedule the first heartbeat."""
    # TODO: ask lab.clock to call beat(lab, 1) BEAT_S seconds from now.


def beat(lab, number):
    """Heartbeat ``number``: wake up the functions that opted in, then schedule the next."""
    for function in lab.list_functions():
        # TODO: if the function's environment has HEARTBEAT set to "on", invoke it
        #       asynchronously with the event {"source": "heartbeat", "beat": number}.
        pass
    # TODO: schedule beat(lab, number + 1), BEAT_S seconds from now.
