"""The limit of polling: the best schedule for a known job-duration distribution.

A poller that knew the distribution of a job's duration ``T`` exactly, and learned nothing
from a GET but "done or not yet", has one best fixed list of GET times for each price of a
GET (``lam``, seconds of delay one GET is worth). It minimises

    E[delay] + lam * E[GETs],   delay = (first GET at or after T) - T,

and sweeping ``lam`` traces the Pareto front of expected GETs against expected delay. Here it
is solved exactly on a time grid by dynamic programming over "the previous GET was at t":

    V(t) = min over t' > t of  lam * S(t) + E[(t' - T); t < T <= t'] + V(t')

(the GET at t' is sent only if the job was alive at t). ``front_for`` returns the front for
samples of ``T``. The same front for the render phase alone is a lower bound for any poller,
even one that reads the queue/render status: as if the queue wait were known for free.
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

STEP = 0.05  # seconds: the grid of possible GET times
MAX_WAIT = 30.0  # seconds: no optimal schedule waits longer than this between GETs here


@dataclass(frozen=True)
class Point:
    """One schedule on the front: its price per GET, expected GETs and expected delay (s)."""

    lam: float
    gets: float
    delay: float


def _grid(samples: Sequence[float], step: float) -> tuple[list[float], list[float], list[float]]:
    """Survival S, cumulative mass F and cumulative first moment G at each grid time."""
    ordered = sorted(samples)
    n = len(ordered)
    end = ordered[-1] + step
    size = math.ceil(end / step) + 1
    prefix = [0.0]
    for x in ordered:
        prefix.append(prefix[-1] + x)
    survive, mass, moment = [], [], []
    for i in range(size):
        k = bisect.bisect_right(ordered, i * step)
        survive.append((n - k) / n)
        mass.append(k / n)
        moment.append(prefix[k] / n)
    return survive, mass, moment


def best_schedule(samples: Sequence[float], lam: float, step: float = STEP) -> list[float]:
    """The GET times (s after the create) minimising E[delay] + lam * E[GETs] over samples."""
    survive, mass, moment = _grid(samples, step)
    size = len(survive)
    window = int(MAX_WAIT / step)
    value = [0.0] * size
    choice = [size - 1] * size
    for i in range(size - 2, -1, -1):
        if survive[i] <= 0:
            continue  # every job has ended: no more GETs
        best, pick = math.inf, size - 1
        f_i, g_i = mass[i], moment[i]
        for j in range(i + 1, min(size, i + window + 1)):
            t = j * step
            cost = t * (mass[j] - f_i) - (moment[j] - g_i) + value[j]
            if cost < best:
                best, pick = cost, j
        value[i] = lam * survive[i] + best
        choice[i] = pick
    times, i = [], 0
    while i < size - 1 and survive[i] > 0:
        i = choice[i]
        times.append(i * step)
    return times


def evaluate(times: Sequence[float], samples: Sequence[float]) -> tuple[float, float]:
    """Mean GETs and mean delay of a fixed list of GET times over the samples."""
    gets = delay = 0.0
    for t in samples:
        k = bisect.bisect_left(times, t)
        if k == len(times):
            raise ValueError(f"the schedule ends at {times[-1]:.1f} s, before a {t:.1f} s job")
        gets += k + 1
        delay += times[k] - t
    return gets / len(samples), delay / len(samples)


def front_for(samples: Sequence[float], lams: Sequence[float] | None = None) -> list[Point]:
    """The Pareto front (GETs falling as delay grows) over a sweep of GET prices."""
    prices = lams or [0.002 * 1.4**k for k in range(18)]
    points = []
    for lam in prices:
        gets, delay = evaluate(best_schedule(samples, lam), samples)
        points.append(Point(lam, gets, delay))
    points.sort(key=lambda p: p.delay)
    return points


def gets_at(front: Sequence[Point], delay: float) -> float:
    """The front's expected GETs at this expected delay (linear between its points)."""
    if delay <= front[0].delay:
        return front[0].gets
    for a, b in itertools.pairwise(front):
        if delay <= b.delay:
            share = (delay - a.delay) / (b.delay - a.delay) if b.delay > a.delay else 1.0
            return a.gets + share * (b.gets - a.gets)
    return front[-1].gets
