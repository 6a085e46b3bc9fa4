"""When a job is likely to finish: learned from earlier jobs, kept in the user's cache.

The API reports statuses only, so the poller guesses. Its guess is a distribution of job
durations per backend and output format: the vendor's published median as a prior, plus one
narrow lognormal per recent job. Once a job is seen ``rendering``, the guess becomes "when it
started rendering, plus a render phase like earlier ones". The poller asks ``poll_plan.py``
for the best GET times for that distribution: rare while completion is unlikely (never under
the vendor's 2 s), dense where it is likely, and growing geometrically once a job runs past
what history expected, up to a cap. The progress bars read their estimate from here too.

The cache file holds durations only: no project ids, prompts, URLs or tokens.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import math
import os
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from statistics import NormalDist

from filelock import FileLock

from ..contract import OUTPUT_FORMATS, VENDOR_MEDIAN_SECONDS, VENDOR_POLL_SECONDS
from .poll_plan import Plan, Rules, plan
from .settings import PollPolicy

PRIOR_SPREAD = 0.6  # sigma of log seconds: the vendor's figure is "directional, not an SLA"
SANDBOX_MEDIAN_SECONDS = 2.0  # the offline sandbox's jobs are short (it is a toy)
RENDER_SHARE = 0.85  # of a job's time, spent rendering rather than queued (prior only)
KEEP = 40  # durations kept per backend, format and phase
MIN_KERNEL = 0.06  # sigma of log seconds for one remembered job
TAIL_GROWTH = 1.5  # each wait past the plan is this much longer than the one before
CACHE_ENV = "MAGICGIF_CACHE_DIR"
_NORMAL = NormalDist()
_POLICY = PollPolicy.adaptive_default()
_lock = threading.Lock()


def cache_path() -> Path:
    """``$MAGICGIF_CACHE_DIR/timings.json``, else the user's cache directory (platformdirs)."""
    root = os.environ.get(CACHE_ENV)
    if not root:
        from platformdirs import user_cache_dir

        root = user_cache_dir("magicgif-widget", appauthor=False)
    return Path(root) / "timings.json"


def backend_key(base_url: str, sandbox: bool) -> str:
    """A label for where jobs run, without the URL itself: the sandbox, or a hash of it."""
    if sandbox:
        return "sandbox"
    return "api-" + hashlib.sha256(base_url.rstrip("/").encode()).hexdigest()[:12]


@dataclass(frozen=True)
class Lognormal:
    weight: float
    mu: float  # log seconds
    sigma: float

    def cdf(self, t: float) -> float:
        return _NORMAL.cdf((math.log(t) - self.mu) / self.sigma) if t > 0 else 0.0

    def partial_mean(self, t: float) -> float:
        """E[X; X <= t]: the lognormal's first moment up to ``t``."""
        if t <= 0:
            return 0.0
        whole = math.exp(self.mu + self.sigma**2 / 2)
        return whole * _NORMAL.cdf((math.log(t) - self.mu - self.sigma**2) / self.sigma)


@dataclass(frozen=True)
class Expectation:
    """A mixture of lognormals over a duration in seconds."""

    parts: tuple[Lognormal, ...]

    @classmethod
    def learned(cls, prior_median: float, seen: list[float]) -> Expectation:
        """The prior (weight 1) plus one kernel per remembered duration (weight 1 each)."""
        parts = [Lognormal(1.0, math.log(prior_median), PRIOR_SPREAD)]
        logs = [math.log(x) for x in seen if x > 0]
        if logs:
            mean = sum(logs) / len(logs)
            spread = math.sqrt(sum((x - mean) ** 2 for x in logs) / len(logs))
            width = max(MIN_KERNEL, 1.06 * spread * len(logs) ** -0.2)  # Silverman's rule
            parts += [Lognormal(1.0, x, width) for x in logs]
        return cls(tuple(parts))

    def survival(self, t: float) -> float:
        total = sum(p.weight for p in self.parts)
        return sum(p.weight * (1 - p.cdf(t)) for p in self.parts) / total

    def partial_mean(self, t: float) -> float:
        """E[T; T <= t], what the poll plan's delay term needs."""
        total = sum(p.weight for p in self.parts)
        return sum(p.weight * p.partial_mean(t) for p in self.parts) / total

    def quantile(self, q: float) -> float:
        lo, hi = 1e-3, 1e5
        for _ in range(60):
            mid = math.sqrt(lo * hi)
            if 1 - self.survival(mid) < q:
                lo = mid
            else:
                hi = mid
        return math.sqrt(lo * hi)


@dataclass(frozen=True)
class Schedule:
    """The waits between GETs for one job (seconds since its create, throughout)."""

    total: Expectation  # create → final status
    render: Expectation | None  # first seen rendering → final status, once learned
    min_wait: float = _POLICY.min_wait  # the defaults' one home is PollPolicy
    max_wait: float = _POLICY.max_wait
    cost: float = _POLICY.cost
    unlikely: float = _POLICY.unlikely

    @functools.cached_property
    def plans(self) -> tuple[Plan, Plan | None]:
        """Both phases' plans: worked out on first use (read it off the event loop), shared
        with every schedule of the same model (``poll_plan.plan`` memoises them)."""
        rules = Rules(self.cost, self.min_wait, self.max_wait, self.unlikely)
        render = plan(self.render, rules) if self.render is not None else None
        return plan(self.total, rules), render

    def next_wait(
        self, elapsed: float, rendering_since: float | None, last_wait: float = 0.0
    ) -> float:
        """Seconds until the next GET: the best plan's for the model of the phase the job is
        in (``poll_plan.py``). Past the plan (a job that outlived its history) the waits grow
        by ``TAIL_GROWTH`` each, from at least the vendor's 2 s, up to ``max_wait``."""
        total, render = self.plans
        if rendering_since is None or render is None:
            phase, offset = total, 0.0
        else:
            phase, offset = render, rendering_since
        t = max(0.0, elapsed - offset)
        at = phase.next_at(t)
        if at is None:  # overdue: the model did not expect this job
            return min(self.max_wait, max(VENDOR_POLL_SECONDS, last_wait * TAIL_GROWTH))
        return min(self.max_wait, max(self.min_wait, at - t))


class History:
    """Durations of earlier jobs, per backend and output format, in one JSON file shared by
    every kernel and process of the user (read-merge-write under a lock, atomic rename)."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or cache_path()

    def seen(self, backend: str, output_format: str, phase: str) -> list[float]:
        entry = self._read().get(backend, {}).get(output_format, {})
        return [float(x) for x in entry.get(phase, []) if isinstance(x, (int, float))]

    def schedule(
        self, backend: str, output_format: str, sandbox: bool, **policy: float
    ) -> Schedule:
        """The schedule for a new job. The render-phase model needs two remembered render
        phases; until then, the whole-job model serves after ``rendering`` too."""
        median = SANDBOX_MEDIAN_SECONDS if sandbox else VENDOR_MEDIAN_SECONDS
        fmt = output_format if output_format in OUTPUT_FORMATS else "gif"
        renders = self.seen(backend, fmt, "render")
        render = Expectation.learned(median * RENDER_SHARE, renders) if len(renders) >= 2 else None
        total = Expectation.learned(median, self.seen(backend, fmt, "total"))
        return Schedule(total, render, **policy)

    def render_estimate(self, backend: str, output_format: str, sandbox: bool) -> float:
        """Expected seconds of rendering (the widget's progress bar): the median of the
        render-phase model, else of the whole-job one scaled to its rendering share."""
        schedule = self.schedule(backend, output_format, sandbox)
        if schedule.render is not None:
            return schedule.render.quantile(0.5)
        return schedule.total.quantile(0.5) * RENDER_SHARE

    def record(
        self, backend: str, output_format: str, total: float | None, render: float | None
    ) -> None:
        """Remember one finished job's durations (either may be unknown)."""
        fmt = output_format if output_format in OUTPUT_FORMATS else "gif"
        with self._locked():
            data = self._read()
            entry = data.setdefault(backend, {}).setdefault(fmt, {})
            for phase, value in (("total", total), ("render", render)):
                if value is not None and 0 < value < 86_400:
                    kept = [*entry.get(phase, []), round(value, 3)]
                    entry[phase] = kept[-KEEP:]
            self._write(data)

    def _read(self) -> dict[str, dict[str, dict[str, list[float]]]]:
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}
        if not isinstance(data, dict) or data.get("version") != 1:
            return {}
        jobs = data.get("jobs")
        return jobs if isinstance(jobs, dict) else {}

    def _write(self, jobs: dict[str, dict[str, dict[str, list[float]]]]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".timings-", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w") as out:
                json.dump({"version": 1, "jobs": jobs}, out)
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """One writer at a time: this process's threads, then other processes (a file lock)."""
        with _lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with FileLock(self.path.with_suffix(".lock"), mode=0o644):
                yield


def expected_render(base_url: str, sandbox: bool, output_format: str) -> float:
    """Expected seconds of rendering on this backend in this format: what its earlier jobs
    took (the learned history), else the published median (the sandbox's own, on it)."""
    return History().render_estimate(backend_key(base_url, sandbox), output_format, sandbox)
