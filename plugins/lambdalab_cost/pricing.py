"""What AWS bills for invokes, from the prices in :mod:`lambdalab.limits`.

Pure arithmetic, no state: a :class:`Usage` (requests, GB-seconds of duration and of
extra ephemeral storage) and what it costs, tier by tier, with the free tier apart.

Lambda bills (https://aws.amazon.com/lambda/pricing/):

* every request;
* duration: the billed duration (1 ms steps; INIT too since August 2025) times the
  function's memory in GB (1,024 MB), in GB-seconds, at its architecture's price, the
  price falling in tiers as the month's GB-seconds of that architecture grow;
* ephemeral storage beyond 512 MB: the extra GB times the billed duration;
* minus the free tier: 1M requests and 400,000 GB-seconds of duration a month.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lambdalab.plugin import limits


def gb_seconds(memory_mb: int | float, billed_ms: int | float) -> float:
    """GB-seconds of ``billed_ms`` at ``memory_mb``: 1,024 MB for 1 s is one."""
    return memory_mb / limits.MB_PER_GB * billed_ms / 1000


def extra_storage_gb_seconds(ephemeral_storage_mb: int, billed_ms: int | float) -> float:
    """GB-seconds of ephemeral storage beyond the 512 MB that come free."""
    extra = max(0, ephemeral_storage_mb - limits.EPHEMERAL_STORAGE_DEFAULT_MB)
    return gb_seconds(extra, billed_ms)


def duration_usd(gb_s: float, architecture: str, already: float = 0.0) -> float:
    """What ``gb_s`` GB-seconds on ``architecture`` cost when the month already has
    ``already`` GB-seconds of it: each tier's price on the part that falls in it."""
    tiers = limits.PRICE_TIERS_GB_SECOND_USD[architecture]
    usd, start, end = 0.0, already, already + gb_s
    low = 0.0
    for high, price in tiers:
        part = min(end, high) - max(start, low)
        if part > 0:
            usd += part * price
        low = high
    return usd


def requests_usd(requests: int | float) -> float:
    return requests * limits.PRICE_PER_MILLION_REQUESTS_USD / 1_000_000


def storage_usd(storage_gb_s: float) -> float:
    return storage_gb_s * limits.PRICE_PER_EPHEMERAL_GB_SECOND_USD


@dataclass
class Usage:
    """Billable usage: requests, and GB-seconds of duration per architecture and of
    extra ephemeral storage. Add usages with ``+``."""

    requests: int = 0
    #: GB-seconds of duration, by architecture (``x86_64``, ``arm64``).
    gb_seconds: dict[str, float] = field(default_factory=dict)
    storage_gb_seconds: float = 0.0
    billed_ms: int = 0

    def __add__(self, other: "Usage") -> "Usage":
        by_arch = dict(self.gb_seconds)
        for arch, value in other.gb_seconds.items():
            by_arch[arch] = by_arch.get(arch, 0.0) + value
        return Usage(
            self.requests + other.requests,
            by_arch,
            self.storage_gb_seconds + other.storage_gb_seconds,
            self.billed_ms + other.billed_ms,
        )

    @property
    def total_gb_seconds(self) -> float:
        return sum(self.gb_seconds.values())

    def cost(self, free_tier: bool = True) -> "Cost":
        """What this usage costs as a month's usage, before and after the month's free
        tier (``free_tier=False``: a part of a bill, which gets no free tier of its own)."""
        return Cost(
            requests_usd=requests_usd(self.requests),
            duration_usd=sum(duration_usd(v, a) for a, v in self.gb_seconds.items()),
            storage_usd=storage_usd(self.storage_gb_seconds),
            free_tier_usd=self.free_tier_usd() if free_tier else 0.0,
        )

    def free_tier_usd(self) -> float:
        """What the month's free tier takes off: the requests and GB-seconds it covers,
        at their first-tier price (the free GB-seconds go to x86_64 first, the dearer)."""
        free = requests_usd(min(self.requests, limits.FREE_TIER_REQUESTS))
        left = float(limits.FREE_TIER_GB_SECONDS)
        for arch in sorted(self.gb_seconds, key=lambda a: -limits.PRICE_TIERS_GB_SECOND_USD[a][0][1]):
            covered = min(left, self.gb_seconds[arch])
            free += duration_usd(covered, arch)
            left -= covered
        return free


@dataclass(frozen=True)
class Cost:
    """USD: what AWS's prices make of some usage, and what the free tier would take off."""

    requests_usd: float
    duration_usd: float
    storage_usd: float
    free_tier_usd: float = 0.0

    @property
    def total_usd(self) -> float:
        """Before the free tier."""
        return self.requests_usd + self.duration_usd + self.storage_usd

    @property
    def after_free_tier_usd(self) -> float:
        return max(0.0, self.total_usd - self.free_tier_usd)
