"""The store files' one timestamp format: UTC, whole seconds, ``2025-01-31T09:30:00Z``
(``now``, ``parse_time``); ``file_stamp`` spells the same instant for a file name.
"""

from __future__ import annotations

import calendar
import time

TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"  # in every journal and ledger since 0.1.0; sorts as text
FILE_FORMAT = "%Y%m%dT%H%M%SZ"  # ISO 8601's basic form of the same: no colons (Windows)


def now(when: float | None = None) -> str:
    """``when`` (default: now) as a UTC timestamp of whole seconds, e.g. 2025-01-31T09:30:00Z."""
    return time.strftime(TIME_FORMAT, time.gmtime(when))


def parse_time(text: str) -> float:
    """Seconds since the epoch of a ``now()`` timestamp (``ValueError`` for anything else)."""
    return float(calendar.timegm(time.strptime(text, TIME_FORMAT)))


def file_stamp(when: float | None = None) -> str:
    """``when`` (default: now) for a file name, e.g. 20250131T093000Z."""
    return time.strftime(FILE_FORMAT, time.gmtime(when))
