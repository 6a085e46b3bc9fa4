"""The best GET times for a believed job-duration distribution (a dynamic programme).

A GET tells only "done" or "not yet", so for a known distribution of the duration ``T`` the
best schedule is one fixed list of GET times. It minimises expected delay (the first GET at
or after ``T``, minus ``T``) plus ``cost`` seconds for each GET sent:

    V(t) = cost * S(t) + min over t' of  E[(t' - T); t < T <= t'] + V(t')

solved backwards on a time grid (``S`` is the survival; a GET at ``t'`` is sent only if the
job was alive at ``t``). Because each step's cost is proportional to the mass still alive,
the same table answers "alive at ``t``, when next?" for every ``t``. Two rules bound it: no
wait under the vendor's 2 s while finishing within it is unlikely, and none over the cap.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from typing import Protocol

from ..contract import VENDOR_POLL_SECONDS

HORIZON = 0.995  # the plan covers the model's durations up to this quantile; the tail after
GRID_POINTS = 250  # the grid's step: the model's median over this many, at least 10 ms,
WINDOW_POINTS = 200  # and at least the longest wait over this many (the work is size x window)
CACHE = 32  # plans kept: jobs that start from the same history share one
_plans: dict[tuple[Model, Rules], Plan] = {}
_lock = threading.Lock()


class Model(Protocol):
    """A duration distribution (hashable): survival, partial first moment, quantiles."""

    def survival(self, t: float) -> float: ...

    def partial_mean(self, t: float) -> float: ...

    def quantile(self, q: float) -> float: ...


@dataclass(frozen=True)
class Rules:
    """The price of a GET and the bounds on a wait (seconds)."""

    cost: float  # seconds of expected delay one GET is worth
    min_wait: float  # the shortest wait where finishing is likely
    max_wait: float  # the longest wait: the worst-case latency, once a job has ended
    unlikely: float  # below this chance of ending within VENDOR_POLL_SECONDS, wait at least that


@dataclass(frozen=True)
class Plan:
    """For each grid time, the best next GET time; past the last one the tail rule takes over."""

    step: float
    after: tuple[int, ...]  # after[i]: the grid index of the next GET, alive at i * step

    def next_at(self, t: float) -> float | None:
        """The planned time of the next GET, alive at ``t``; None past the plan."""
        i = math.ceil(t / self.step - 1e-9)
        if i >= len(self.after):
            return None
        return self.after[i] * self.step


def plan(model: Model, rules: Rules) -> Plan:
    """The best schedule for ``model`` under ``rules``, memoised: jobs that start from the
    same history share it (worked out once, in whichever thread asks first)."""
    key = (model, rules)
    found = _plans.get(key)
    if found is not None:
        return found
    with _lock:
        found = _plans.get(key)
        if found is None:
            if len(_plans) >= CACHE:
                _plans.clear()
            found = _plans[key] = _solve(model, rules)
        return found


def _solve(model: Model, rules: Rules) -> Plan:
    step = max(0.01, model.quantile(0.5) / GRID_POINTS, rules.max_wait / WINDOW_POINTS)
    floor = max(1, math.ceil(rules.min_wait / step - 1e-9))
    vendor = max(floor, math.ceil(VENDOR_POLL_SECONDS / step - 1e-9))
    longest = max(vendor, math.floor(rules.max_wait / step + 1e-9))
    planned = math.ceil(model.quantile(HORIZON) / step) + 1  # states the plan answers for
    size = planned + longest  # and the GET times they may choose (the tail costs nothing)
    alive = [model.survival(i * step) for i in range(size)]
    moment = [model.partial_mean(i * step) for i in range(size)]
    value = [0.0] * size
    after = [0] * planned
    for i in range(planned - 1, -1, -1):
        if alive[i] <= 1e-12:
            after[i] = i + longest
            continue
        ends_soon = 1 - alive[i + vendor] / alive[i]
        shortest = floor if ends_soon >= rules.unlikely else vendor
        best, pick = math.inf, i + longest
        for j in range(i + shortest, i + longest + 1):
            # E[(t_j - T); t_i < T <= t_j] with mass = 1 - alive, plus what follows t_j
            cost = j * step * (alive[i] - alive[j]) - (moment[j] - moment[i]) + value[j]
            if cost < best:
                best, pick = cost, j
        value[i] = rules.cost * alive[i] + best
        after[i] = pick
    return Plan(step, tuple(after))
