"""A per-token rate limit for the emulator: a token bucket per API key, refused with 429.

Magic Hour publishes no rate limit. ``RateLimit()`` is our stated default: 20 requests a
second per key sustained, bursts of 40, over every ``/v1/*`` route (signed file URLs carry no
key and are not limited). A class of 30 on one key that follows the vendor's own advice (a GET
every 2 s each: 15 a second) fits inside it; 30 copies of the vendor SDK polling every 0.5 s
(60 a second) do not. A refusal carries ``Retry-After``: whole seconds
until the key's bucket holds a request again, as HTTP spells the header.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

DEFAULT_PER_SECOND = 20.0
DEFAULT_BURST = 40


@dataclass
class RateLimit:
    """``per_second`` sustained and ``burst`` at once, per key, in real time."""

    per_second: float = DEFAULT_PER_SECOND
    burst: int = DEFAULT_BURST
    clock: Callable[[], float] = time.monotonic
    _buckets: dict[str, tuple[float, float]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if not self.per_second > 0 or self.burst < 1:
            raise ValueError("a rate limit needs per_second > 0 and burst >= 1")

    def take(self, key: str) -> float | None:
        """Spend one request of ``key``'s bucket; None if it had one, else the seconds until
        it will (``Retry-After``, rounded up to whole seconds)."""
        now = self.clock()
        level, at = self._buckets.get(key, (float(self.burst), now))
        level = min(float(self.burst), level + (now - at) * self.per_second)
        if level >= 1.0:
            self._buckets[key] = (level - 1.0, now)
            return None
        self._buckets[key] = (level, now)
        return float(max(1, math.ceil((1.0 - level) / self.per_second)))

    def reset(self) -> None:
        self._buckets.clear()

    def describe(self) -> str:
        return f"{self.per_second:g} requests/s per key, bursts of {self.burst}"
