"""How much wider than planned a client's polls are, after the server said 429.

A 429 doubles the factor (up to ``MAX_FACTOR``); it halves back towards 1 every
``HALF_LIFE`` seconds without one. Every job polled through the client reads the same
factor, so one job's 429 slows them all, as a rate limit per token asks.
"""

from __future__ import annotations

import time
from collections.abc import Callable

MAX_FACTOR = 8.0
HALF_LIFE = 30.0  # seconds
CALM = 1.05  # below this factor, the client is not being limited


class Pressure:
    """The poll-widening factor of one client (1 when the server has not pushed back)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._excess = 0.0  # factor - 1, as of ``_at``
        self._at = clock()
        self.limited = 0  # 429s seen by this client

    def factor(self) -> float:
        elapsed = self._clock() - self._at
        return 1.0 + self._excess * float(0.5 ** (elapsed / HALF_LIFE))

    def hit(self) -> None:
        """One 429: double the factor, as of now."""
        now = self.factor()
        self._excess, self._at = min(MAX_FACTOR, 2 * now) - 1.0, self._clock()
        self.limited += 1

    def widen(self, wait: float, floor: float) -> float:
        """``wait`` as the client may take it now: times the factor, and at least ``floor``
        while the server is limiting it."""
        factor = self.factor()
        return wait if factor < CALM else max(floor, wait * factor)
