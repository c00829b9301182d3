"""What the data plane tells the ``AWS/Lambda`` metrics namespace, as plain records.

Lambda publishes metrics about every invocation to CloudWatch
(https://docs.aws.amazon.com/lambda/latest/dg/monitoring-metrics-types.html). The core
does not keep metrics; it hands a :class:`LambdaDatum` per observation, named as AWS
names the metric, to the ``lambdalab_lambda_metrics`` hook, and a plugin (the built-in
``lambdalab_cloudwatch``) aggregates, stores and serves them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)  # not frozen: built six times per invoke, and frozen's __init__ is slow
class LambdaDatum:
    """One observation of an ``AWS/Lambda`` metric, at the moment the hook is called.

    ``metric`` is AWS's metric name (``Invocations``, ``Errors``, ``Throttles``,
    ``Duration``, ``ConcurrentExecutions``, ``UnreservedConcurrentExecutions``,
    ``AsyncEventsReceived``, ``AsyncEventAge``, ``AsyncEventsDropped``,
    ``DeadLetterErrors``, ``DestinationDeliveryFailures``) and ``value`` is in AWS's unit
    for it (a count, or milliseconds for ``Duration`` and ``AsyncEventAge``).
    """

    metric: str
    value: float
    #: ``None``: an account-wide figure (AWS publishes it without dimensions).
    function_name: str | None = None
    #: ``NAME:QUALIFIER`` when a version or alias was invoked (the ``Resource`` dimension).
    resource: str | None = None
    #: The version an alias ran (the ``ExecutedVersion`` dimension), for alias invokes only.
    executed_version: str | None = None


def resource_of(function_name: str, qualifier: str | None) -> str | None:
    """The ``Resource`` dimension of an invoke of ``qualifier``, or ``None`` unqualified."""
    return f"{function_name}:{qualifier}" if qualifier else None


__all__ = ["LambdaDatum", "resource_of"]
