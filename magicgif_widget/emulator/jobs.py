"""Emulated jobs: status is a pure function of elapsed time (on the store's clock) and the
job's planned outcome.

A job is planned at its create (``Plan``): it completes, fails, is canceled or never ends.
A failed job shows ``status: "error"`` with ``error: {"code", "message"}`` (the code its
outcome rule chose, ``render_failed`` by default) and, as Magic Hour does, refunds its
credits: the project's ``credits_charged`` becomes 0 and the account balance goes back up.
"""

from __future__ import annotations

import secrets
import string
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from ..contract import CREDITS_PER_GIF, PROJECT_TYPE
from .clock import SYSTEM_CLOCK, Clock
from .timing import Drawn, Fixed

OUTCOMES = ("complete", "error", "canceled", "never")
DEFAULT_ERROR_CODE = "render_failed"  # a failed job's code when its rule names none


@dataclass(frozen=True)
class Plan:
    """How a job ends; for ``error``, the ``error.code`` and ``error.message`` it shows."""

    outcome: str = "complete"
    error_code: str | None = None
    error_message: str | None = None

    def error_json(self) -> dict[str, str]:
        code = self.error_code or DEFAULT_ERROR_CODE
        message = self.error_message or "The emulator was told to fail this job."
        return {"code": code, "message": message}


_ALPHABET = string.ascii_lowercase + string.digits


def new_id() -> str:
    """A cuid-like project id."""
    return "cm" + "".join(secrets.choice(_ALPHABET) for _ in range(23))


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


@dataclass
class Job:
    """One project; what a GET shows depends only on ``now`` and the fields here."""

    id: str
    prompt: str
    name: str
    output_format: str
    render_seconds: float  # creation to final status, queue included
    created_at: datetime  # wall time, on the store's clock
    started: float  # monotonic, on the store's clock
    outcome: str = "complete"
    queued_seconds: float = 0.0
    plan: Plan = field(default_factory=Plan)  # the error's code and message, for ``error``
    polls: int = 0  # GETs of this project
    seen_final: float | None = None  # seconds after its start, of the first GET showing its end
    enabled: bool = True

    def status(self, now: float) -> str:
        elapsed = now - self.started
        if elapsed < self.queued_seconds:
            return "queued"
        if elapsed < self.render_seconds or self.outcome == "never":
            return "rendering"
        return self.outcome

    def charged(self, now: float) -> int:
        """Credits kept for this job: refunded once it has failed."""
        return 0 if self.status(now) == "error" else CREDITS_PER_GIF

    def to_json(self, now: float, downloads: list[dict[str, str]]) -> dict[str, Any]:
        status = self.status(now)
        done = status == "complete" and self.enabled
        return {
            "id": self.id,
            "name": self.name,
            "status": status,
            "type": PROJECT_TYPE,
            "created_at": iso(self.created_at),
            "enabled": self.enabled,
            "image_count": 1 if done else 0,
            "credits_charged": self.charged(now),
            "total_frame_cost": self.charged(now),
            "downloads": downloads if done else [],
            "error": self.plan.error_json() if status == "error" else None,
        }

    def timings_json(self) -> dict[str, Any]:
        """Its planned times and the GETs it received, as ``GET /emulator/jobs`` lists them."""
        return {
            "id": self.id,
            "seconds": self.render_seconds,
            "queued_seconds": self.queued_seconds,
            "polls": self.polls,
            "seen_final_seconds": self.seen_final,
        }


@dataclass
class Counts:
    creates: int = 0
    polls: int = 0
    downloads: int = 0
    deletes: int = 0
    uploads: int = 0
    rate_limited: int = 0  # requests refused by the per-key rate limit


class JobStore:
    """Jobs, uploads, counters and the credit balance, safe to share between threads; jobs
    start, and requests arrive, at ``clock``'s time (the real one by default)."""

    def __init__(
        self,
        render_seconds: float,
        credits: int,
        timing: Drawn | None = None,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self.clock = clock
        self.render_seconds = render_seconds  # every job's, exactly, unless ``timing`` draws them
        self.timing = timing
        self.initial_credits = credits
        self.lock = threading.Lock()
        self.jobs: dict[str, Job] = {}
        self.uploads: dict[str, bytes] = {}
        self.counts = Counts()
        self.requests: dict[str, int] = {}
        self.arrivals: dict[str, list[float]] = {}  # monotonic arrival times, for tests

    def reset(self) -> None:
        with self.lock:
            self.jobs.clear()
            self.uploads.clear()
            self.counts = Counts()
            self.requests.clear()
            self.arrivals.clear()

    def credits(self, now: float) -> int:
        with self.lock:
            spent = sum(job.charged(now) for job in self.jobs.values())
        return self.initial_credits - spent

    def create(
        self, prompt: str, name: str, output_format: str, outcome: Callable[[], str | Plan]
    ) -> Job | None:
        """A new job ending as ``outcome()`` says (an outcome name, or a ``Plan``), or None when
        the balance cannot pay for it (then ``outcome`` is not called, so no rule is spent)."""
        now = self.clock.monotonic()
        created_at = datetime.fromtimestamp(self.clock.time(), timezone.utc)
        with self.lock:
            spent = sum(job.charged(now) for job in self.jobs.values())
            if self.initial_credits - spent < CREDITS_PER_GIF:
                return None
            phases = (self.timing or Fixed(self.render_seconds)).draw(prompt)
            planned = outcome()
            plan = planned if isinstance(planned, Plan) else Plan(planned)
            job = Job(
                new_id(),
                prompt,
                name,
                output_format,
                phases.total,
                created_at,
                now,
                plan.outcome,
                queued_seconds=phases.queued,
                plan=plan,
            )
            self.jobs[job.id] = job
            self.counts.creates += 1
        return job

    def get(self, project_id: str) -> Job | None:
        with self.lock:
            return self.jobs.get(project_id)

    def finished_output(self, project_id: str) -> Job | None:
        """The job if its output can be downloaded now (enabled and complete), else None."""
        job = self.get(project_id)
        if job is None or not job.enabled or job.status(self.clock.monotonic()) != "complete":
            return None
        return job

    def timings(self) -> list[dict[str, Any]]:
        """Every job's planned times and GETs (``GET /emulator/jobs``)."""
        with self.lock:
            jobs = list(self.jobs.values())
        return [job.timings_json() for job in jobs]

    def count(self, what: str) -> None:
        with self.lock:
            setattr(self.counts, what, getattr(self.counts, what) + 1)

    def saw(self, route: str) -> None:
        with self.lock:
            self.requests[route] = self.requests.get(route, 0) + 1
            times = self.arrivals.setdefault(route, [])
            times.append(self.clock.monotonic())
            del times[:-10_000]

    def stats(self) -> dict[str, Any]:
        with self.lock:
            out: dict[str, Any] = dict(vars(self.counts))
            out["requests"] = dict(self.requests)
        return out
