"""How full a job's progress bar is: one model for the command line and the widget.

The API reports statuses only (created, queued, rendering, complete), then the download's
bytes. The wait for the job, queued then rendering, is the long silent part: it moves on time
since the create, against the expected wait (``client/timing.py`` learns it), steadily until
the estimate, then ever slower, never full. Each status fills from its band's start on that
one clock (rendering's start is higher than queued's), so a poller that asks rarely neither
freezes the bar nor makes it jump back when it learns the job turned to rendering. The
widget's front end draws the wait from ``curve()`` points it is sent, so the numbers here are
the only copy.
"""

from __future__ import annotations

import math
from typing import Final, NamedTuple

from .client.timing import RENDER_SHARE
from .contract import VENDOR_MEDIAN_SECONDS


class Band(NamedTuple):
    """The share of the bar (0 to 1) a status starts at and may fill up to."""

    start: float
    end: float


BANDS: Final = {
    "creating": Band(0.01, 0.05),
    "queued": Band(0.05, 0.12),
    "rendering": Band(0.12, 0.85),  # by time, against the estimate
    "downloading": Band(0.88, 0.99),  # by bytes received
    "complete": Band(1.0, 1.0),
}
WAITING_STATUSES: Final = ("queued", "rendering")  # the wait: one clock, from the create
WAITING: Final = Band(BANDS["queued"].start, BANDS["rendering"].end)  # its share of the bar
ON_TIME: Final = 0.95  # of the waiting band, filled when the estimate is reached
MIN_ESTIMATE: Final = 0.5  # seconds: a shorter estimate would make the bar jump
DEFAULT_ESTIMATE: Final = VENDOR_MEDIAN_SECONDS * RENDER_SHARE  # seconds, before any job
CURVE_SPAN: Final = 5.0  # the curve's points reach this many estimates; flat after
CURVE_POINTS: Final = 10  # points past the estimate, for a front end to join with lines


def waiting_estimate(render_estimate: float) -> float:
    """Expected seconds from the create to the end, for an expected render time."""
    return render_estimate / RENDER_SHARE


def waiting_share(elapsed: float, estimate: float) -> float:
    """How far into the waiting band ``elapsed`` seconds after the create are: 0 to 1, never 1."""
    estimate = max(MIN_ESTIMATE, estimate)
    if elapsed <= estimate:
        return ON_TIME * max(0.0, elapsed) / estimate
    return ON_TIME + (1 - ON_TIME) * (1 - math.exp(-(elapsed - estimate) / estimate))


def fraction(
    status: str,
    *,
    elapsed: float = 0.0,
    estimate: float = DEFAULT_ESTIMATE,
    received: int = 0,
    total: int | None = None,
) -> float:
    """The bar's fill (0 to 1) for a job in ``status``; 0 for a status without a band.
    Queued and rendering: ``elapsed`` seconds since the create, ``estimate`` the expected
    render seconds; from the status band's start to the wait's end."""
    band = BANDS.get(status)
    if band is None:
        return 0.0
    if status in WAITING_STATUSES:
        share = waiting_share(elapsed, waiting_estimate(estimate))
        return band.start + (WAITING.end - band.start) * share
    share = 0.0
    if status == "downloading" and total:
        share = min(1.0, max(0, received) / total)
    return band.start + (band.end - band.start) * share


def curve(estimate: float, status: str = "queued") -> list[tuple[float, float]]:
    """The wait's fill in ``status`` over time as (seconds since the create, fill) points,
    joined by lines, for an expected render time ``estimate``."""
    wait = max(MIN_ESTIMATE, waiting_estimate(estimate))
    steps = [1 + (CURVE_SPAN - 1) * k / CURVE_POINTS for k in range(CURVE_POINTS + 1)]
    times = [0.0, *(wait * s for s in steps)]
    return [(round(t, 3), round(fraction(status, elapsed=t, estimate=estimate), 4)) for t in times]
