"""What the widget says: one sentence per error, retry and cancel (never the token)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ..client import errors
from ..client.errors import MagicHourError
from ..client.job_errors import JobCanceledError, JobFailedError
from ..client.models import Retrying
from ..contract import JOB_ERRORS
from ..jobstore import advice

_PREFIXES: dict[type[MagicHourError], str] = {
    errors.ValidationError: "Check your input",
    errors.AuthenticationError: "The API token was rejected",
    errors.InsufficientCreditsError: "Not enough credits",
    errors.RateLimitError: "Rate limited by Magic Hour",
    JobFailedError: "The job failed",
    JobCanceledError: "The job was canceled",
    errors.GenerationTimeout: "Gave up waiting",
    errors.NetworkError: "Network problem",
    errors.ServerError: "Magic Hour had a server error",
    errors.DownloadError: "The download failed",
}
_RETRYING = "; retrying in "
CANCELED_BEFORE_SENDING = "Canceled before anything was sent: no job was made."


def friendly(exc: MagicHourError) -> str:
    """One actionable sentence for the alert area."""
    if isinstance(exc, JobFailedError):
        return job_failed(exc)
    for cls, text in _PREFIXES.items():
        if isinstance(exc, cls):
            return f"{text}: {exc}"
    return str(exc)


def not_enough_credits(shortfall: str) -> str:
    """Generate refused before sending: ``shortfall`` is ``account.shortfall``'s sentence."""
    return f"{shortfall}. Nothing was sent; add credits at Magic Hour, then press Generate again."


def job_failed(exc: JobFailedError) -> str:
    """A failed render in the vendor's words (``exc.line``, for its error code), which job it
    was, and whether its credits came back, e.g. "The job failed: the prompt breaks Magic
    Hour's content rules; reword it and try again (job cm1; credits refunded)"."""
    line = exc.line
    if exc.code not in JOB_ERRORS and exc.detail:
        line = f"{line}: {exc.detail}"  # a code we do not know: the API's own words too
    charged = exc.project.credits_charged
    money = "credits refunded" if exc.refunded else f"{charged} credits charged"
    job = f"job {exc.project_id}; " if exc.project_id else ""
    return f"{_PREFIXES[JobFailedError]}: {line} ({job}{money})"


def failure(exc: BaseException) -> str:
    """Why a job ended without a result; unexpected errors say what they are."""
    if isinstance(exc, MagicHourError):
        return friendly(exc)
    return f"Unexpected error: {type(exc).__name__}: {exc}"


def retrying(event: Retrying) -> str:
    return f"{event.reason} on {event.operation}{_RETRYING}{event.delay:.1f} s"


def is_retrying(notice: str) -> bool:
    """Whether ``notice`` is a retry notice (cleared once the job moves on)."""
    return _RETRYING in notice


def canceled(project_id: str, sandbox: bool) -> str:
    """What became of a single job the user stopped waiting for."""
    if not project_id:
        if sandbox:
            return "Canceled while the job was being created (the sandbox charges nothing)."
        return (
            "Canceled while the create request was in flight: Magic Hour may have created "
            "(and charged) a job whose id never arrived."
        )
    if sandbox:
        return f"Canceled. Sandbox job {project_id} was abandoned (the sandbox charges nothing)."
    return (
        f"Stopped waiting. Magic Hour has no cancel endpoint, so job {project_id} keeps running "
        f"and its credits are spent. Collect it later without paying again: Collect on its card "
        f"in a new widget, or in a terminal: {advice.job_resume(project_id)}"
    )


def gallery_canceled(cards: Iterable[Mapping[str, Any]], sandbox: bool, directory: Path) -> str:
    """What became of a gallery's jobs, and how to collect those already created."""
    cards = list(cards)
    made = [c for c in cards if c.get("project_id")]
    running = [c for c in made if c["status"] != "complete"]
    never = len(cards) - len(made)
    if sandbox:
        return "Canceled the gallery (the sandbox charges nothing)."
    if not running:
        return "Canceled the gallery; no job was left running."
    unsent = f"; {never} never sent" if never else ""
    return (
        f"Stopped waiting. {len(running)} job(s) already made keep running at Magic Hour and are "
        f"paid for{unsent}. Collect them without paying again: Collect on the gallery's card "
        f"above, or in a terminal: {advice.collect_gallery(directory)}"
    )
