"""The invoke path: every door (the Python API, the HTTP edge, triggers) ends here.

:mod:`.invoker` runs one invoke (validation, concurrency, an environment, logs);
:mod:`.environments` keeps the pool of warm execution environments; :mod:`.event_queue`
is the durable queue behind ``InvocationType=Event``, with its retries; and
:mod:`.destinations` holds event invoke configs, destinations and dead-letter queues.
"""
