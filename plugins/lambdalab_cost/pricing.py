"""What a month of invokes costs: a :class:`Usage` (requests, GB-seconds of duration
and of extra ephemeral storage) and its :class:`Cost`, with the free tier apart.

The arithmetic of one price (GB-seconds, tiers, requests, storage) is the toolkit's
``pricing`` (:mod:`lambdalab.pricing`), which ``lambdalab demo`` uses too; what this
module adds is the month: usages added up, and the free tier (1M requests and 400,000
GB-seconds of duration a month, https://aws.amazon.com/lambda/pricing/) taken off.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lambdalab.plugin import limits, pricing


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
            requests_usd=pricing.requests_usd(self.requests),
            duration_usd=sum(pricing.duration_usd(v, a) for a, v in self.gb_seconds.items()),
            storage_usd=pricing.storage_usd(self.storage_gb_seconds),
            free_tier_usd=self.free_tier_usd() if free_tier else 0.0,
        )

    def free_tier_usd(self) -> float:
        """What the month's free tier takes off: the requests and GB-seconds it covers,
        at their first-tier price (the free GB-seconds go to x86_64 first, the dearer)."""
        free = pricing.requests_usd(min(self.requests, limits.FREE_TIER_REQUESTS))
        left = float(limits.FREE_TIER_GB_SECONDS)
        for arch in sorted(self.gb_seconds, key=lambda a: -pricing.price_per_gb_second(a)):
            covered = min(left, self.gb_seconds[arch])
            free += pricing.duration_usd(covered, arch)
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
