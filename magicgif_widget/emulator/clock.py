"""The emulator's "now": job progress, credits and URL expiry read an injectable clock.

``SystemClock`` is the real one; ``ManualClock`` moves only when a test calls ``advance``;
``StepClock`` also moves ``step`` seconds on every project GET, so long renders end in a few polls.
"""

from __future__ import annotations

import threading
import time
from typing import Protocol


class Clock(Protocol):
    """What the emulator asks for the time; fault delays and stalls sleep in real time."""

    def monotonic(self) -> float:
        """Seconds that never go back: job progress, credits, request arrival times."""
        ...

    def time(self) -> float:
        """Wall-clock seconds since the epoch: ``created_at`` and signed URLs' expiry."""
        ...

    def polled(self) -> None:
        """Called once per project GET, before the job's status is read."""
        ...


class SystemClock:
    """The real clocks, ``time.monotonic()`` and ``time.time()``."""

    def monotonic(self) -> float:
        return time.monotonic()

    def time(self) -> float:
        return time.time()

    def polled(self) -> None:
        return None


SYSTEM_CLOCK = SystemClock()


class ManualClock:
    """A clock that stands still until ``advance``; both readings move together, thread-safe.

    It starts at ``monotonic`` (default 0) and at wall time ``wall`` (default: the real now).
    """

    def __init__(self, monotonic: float = 0.0, wall: float | None = None) -> None:
        self._lock = threading.Lock()
        self._monotonic = monotonic
        self._wall = time.time() if wall is None else wall

    def monotonic(self) -> float:
        with self._lock:
            return self._monotonic

    def time(self) -> float:
        with self._lock:
            return self._wall

    def advance(self, seconds: float) -> None:
        """Move both readings ``seconds`` forward (ValueError if negative)."""
        if seconds < 0:
            raise ValueError("a clock cannot go back: seconds must be >= 0")
        with self._lock:
            self._monotonic += seconds
            self._wall += seconds

    def polled(self) -> None:
        return None


class StepClock(ManualClock):
    """A ``ManualClock`` that also advances ``step`` seconds on every project GET."""

    def __init__(self, step: float, monotonic: float = 0.0, wall: float | None = None) -> None:
        if step <= 0:
            raise ValueError("step must be > 0 seconds")
        super().__init__(monotonic, wall)
        self.step = step

    def polled(self) -> None:
        self.advance(self.step)
