"""How long emulated jobs take: exact for tests, or drawn like Magic Hour's real ones.

A job waits in the queue, then renders. ``Fixed(R)`` gives every job exactly ``R`` seconds
(a fifth of it queued); ``Drawn`` draws both phases from seeded lognormal distributions, and
its ``realistic()`` profile centres on the vendor's published median for
``POST /v1/ai-gif-generator``: 26 s from creation to completion, queueing included.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from ..contract import VENDOR_MEDIAN_SECONDS

QUEUED_FRACTION = 0.2  # a fixed job reads "queued" for the first fifth of its time
# The skewed queue wait adds more than its median: shrink renders so the *total's* median is
# ``median`` (tests/test_timing.py checks it for the realistic profile).
RENDER_CALIBRATION = 0.9655


@dataclass(frozen=True)
class Phases:
    """One job's seconds in the queue and rendering."""

    queued: float
    rendering: float

    @property
    def total(self) -> float:
        return self.queued + self.rendering


@dataclass
class Fixed:
    """Every job takes exactly ``seconds``."""

    seconds: float

    def draw(self, key: str = "") -> Phases:
        return Phases(self.seconds * QUEUED_FRACTION, self.seconds * (1 - QUEUED_FRACTION))

    def describe(self) -> str:
        return f"render {self.seconds:g}s"


@dataclass
class Drawn:
    """Queue wait and render time from lognormal distributions (median, spread = sigma of
    the log), reproducible from ``seed``: a job's times depend on the seed and its prompt
    only, so two clients sending the same prompts meet the same jobs."""

    median: float = VENDOR_MEDIAN_SECONDS  # creation to completion
    spread: float = 0.35
    queue_share: float = 0.1  # of the median, spent queued (itself drawn, spread 0.8)
    seed: int = 0

    def __post_init__(self) -> None:
        if self.median <= 0 or self.spread < 0 or not 0 <= self.queue_share < 1:
            raise ValueError("median must be > 0, spread >= 0 and queue_share in [0, 1)")

    def draw(self, key: str = "") -> Phases:
        rng = random.Random(f"{self.seed}:{key}")
        queued = self.median * self.queue_share * math.exp(rng.gauss(0, 0.8))
        render = self.median * (1 - self.queue_share) * RENDER_CALIBRATION
        return Phases(queued, render * math.exp(rng.gauss(0, self.spread)))

    def describe(self) -> str:
        return f"renders drawn around {self.median:g}s (spread {self.spread:g}, seed {self.seed})"

    @classmethod
    def realistic(cls, seed: int = 0) -> Drawn:
        """Magic Hour's GIF endpoint as its docs describe it: a 26 s median, queue included."""
        return cls(median=VENDOR_MEDIAN_SECONDS, spread=0.35, queue_share=0.1, seed=seed)


Timing = Fixed | Drawn
