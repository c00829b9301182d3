"""What AWS bills for Lambda usage: the arithmetic, once, over the prices in :mod:`.limits`.

Pure functions, no state. ``lambdalab demo`` prices its two invokes with them and the
cost plugin (``lambdalab cost``) a month of them, through :mod:`lambdalab.plugin`.

Lambda bills (https://aws.amazon.com/lambda/pricing/):

* every request;
* duration: the billed duration (1 ms steps; INIT too since August 2025) times the
  function's memory in GB (1,024 MB), in GB-seconds, at its architecture's price, the
  price falling in tiers as the month's GB-seconds of that architecture grow;
* ephemeral storage beyond 512 MB: the extra GB times the billed duration.
"""

from __future__ import annotations

from . import limits


def gb_seconds(memory_mb: int | float, billed_ms: int | float) -> float:
    """GB-seconds of ``billed_ms`` at ``memory_mb``: 1,024 MB for 1 s is one."""
    return memory_mb / limits.MB_PER_GB * billed_ms / 1000


def extra_storage_gb_seconds(ephemeral_storage_mb: int, billed_ms: int | float) -> float:
    """GB-seconds of ephemeral storage beyond the 512 MB that come free."""
    extra = max(0, ephemeral_storage_mb - limits.EPHEMERAL_STORAGE_DEFAULT_MB)
    return gb_seconds(extra, billed_ms)


def price_per_gb_second(architecture: str) -> float:
    """A GB-second of duration on ``architecture`` in the first tier (USD)."""
    return limits.PRICE_TIERS_GB_SECOND_USD[architecture][0][1]


def duration_usd(gb_s: float, architecture: str, already: float = 0.0) -> float:
    """What ``gb_s`` GB-seconds on ``architecture`` cost when the month already has
    ``already`` GB-seconds of it: each tier's price on the part that falls in it."""
    usd, start, end = 0.0, already, already + gb_s
    low = 0.0
    for high, price in limits.PRICE_TIERS_GB_SECOND_USD[architecture]:
        part = min(end, high) - max(start, low)
        if part > 0:
            usd += part * price
        low = high
    return usd


def requests_usd(requests: int | float) -> float:
    """What ``requests`` requests cost, either architecture."""
    return requests * limits.PRICE_PER_MILLION_REQUESTS_USD / 1_000_000


def storage_usd(storage_gb_s: float) -> float:
    """What ``storage_gb_s`` GB-seconds of extra ephemeral storage cost."""
    return storage_gb_s * limits.PRICE_PER_EPHEMERAL_GB_SECOND_USD


__all__ = [
    "gb_seconds", "extra_storage_gb_seconds", "price_per_gb_second", "duration_usd",
    "requests_usd", "storage_usd",
]
