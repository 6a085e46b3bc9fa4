"""One job's traits, as pure functions of what the widget shows now and what just happened.

Each function takes a ``RunState`` (a snapshot of the traits it reads, the cancel flag and
the moment) and returns the traits to set, in the order to set them; nothing here touches a
widget, a file or a clock, so every mapping is tested without a kernel.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .. import progress as bar
from ..client.models import Created, DownloadProgress, Event, Retrying, StatusChanged
from . import notices
from .media import Changes, MediaFile, Result, media_key

Traits = dict[str, Any]
HISTORY_MAX = 24  # results kept in the history strip (and so in the media store)
DOWNLOAD_STEP = 0.5  # percent: the download's progress goes out in steps at least this big


@dataclass(frozen=True)
class RunState:
    """The traits a single run's mapping reads, whether it was canceled, and the moment."""

    progress: float = 0.0
    project_id: str = ""
    notice: str = ""
    sandbox: bool = True
    render_estimate: float = bar.DEFAULT_ESTIMATE
    history: Sequence[Mapping[str, Any]] = ()
    canceled: bool = False
    now: float = 0.0  # wall-clock seconds
    waiting: bool = False  # the wait's curve is running (a queued or rendering status shown)


def started(state: RunState) -> Traits:
    """A new job (single or gallery): clear the last one's outcome, start the clocks."""
    stamp = state.now * 1000
    return {
        "render_estimate": state.render_estimate,
        "error": "",
        "notice": "",
        "running": True,
        "status": "creating",
        "progress": 100 * bar.fraction("creating"),
        "progress_curve": [],
        "project_id": "",
        "credits_charged": 0,
        "job_started": stamp,
        "phase_started": stamp,
    }


def checking(state: RunState) -> Traits:
    """A new job that first reads the balance again (the last read could not pay for it)."""
    return {**started(state), "status": "checking"}


def refused(state: RunState, error: str) -> Traits:
    """The balance still cannot pay: nothing was sent; ``error`` says so."""
    return {**asked(state), "error": error}


def collecting(state: RunState, project_id: str) -> Traits:
    """Picking up a job made earlier (no create): its id is known, its status not yet."""
    return {**started(state), "status": "collecting", "project_id": project_id}


def asked(state: RunState) -> Traits:
    """Generate stopped to ask first (``confirm``): nothing was sent, nothing runs."""
    return {
        **finished(state.now, "idle"),
        "progress": 0.0,
        "job_started": 0.0,
        "project_id": "",
        "credits_charged": 0,
    }


def on_event(state: RunState, event: Event) -> Traits:
    """The traits one workflow event changes."""
    if state.canceled:
        if isinstance(event, Created):  # the id arrived after the cancel: say which job
            return {
                "project_id": event.project_id,
                "notice": notices.canceled(event.project_id, state.sandbox),
            }
        return {}
    if isinstance(event, Created):
        return {
            "project_id": event.project_id,
            "credits_charged": event.credits_charged,
            **phase(state, "queued"),
        }
    if isinstance(event, StatusChanged):
        status = {"complete": "downloading"}.get(event.status, event.status)
        return phase(state, status) if status in ("queued", "rendering", "downloading") else {}
    if isinstance(event, DownloadProgress):
        share = bar.fraction("downloading", received=event.received, total=event.total)
        value = 100 * share
        done = event.total is not None and event.received >= event.total
        if event.total and (value - state.progress >= DOWNLOAD_STEP or done):
            return {"progress": max(state.progress, value)}
        return {}
    if isinstance(event, Retrying):
        return {"notice": notices.retrying(event)}
    return {}


def phase(state: RunState, status: str) -> Traits:
    """A new status: the bar at least at its band, and its curve. The wait (queued, then
    rendering) runs one clock from the first of them seen, so a late sighting of
    ``rendering`` moves the bar on, never back; downloading starts a clock of its own."""
    traits: Traits = {"status": status, "progress": max(state.progress, 100 * bar.fraction(status))}
    waiting = status in bar.WAITING_STATUSES
    if not (waiting and state.waiting):
        traits["phase_started"] = state.now * 1000
    traits["progress_curve"] = rendering_curve(state.render_estimate, status) if waiting else []
    if status != "rendering" and notices.is_retrying(state.notice):
        traits["notice"] = ""  # a retry that is over; one while rendering stays until it ends
    return traits


def rendering_curve(estimate: float, status: str = "queued") -> list[list[float]]:
    """``progress.curve`` (the wait's fill since the create, for an expected render time) in
    the bar's percent, as the ``progress_curve`` trait holds it."""
    return [[seconds, round(100 * fill, 2)] for seconds, fill in bar.curve(estimate, status)]


def completed(state: RunState, result: Result, *, name: str | None, size: int) -> Changes:
    """The result is on disk: show it, put it first in the history, end the job."""
    key = media_key(result.project.id, result.path)
    entry = {
        "key": key,
        "project_id": result.project.id,
        "prompt": result.prompt,
        "name": name or "",
        "format": result.output_format,
        "mime": result.mime,
        "filename": result.path.name,
        "size": size,
        "credits": 0 if state.sandbox else result.project.credits_charged,
    }
    traits = {
        "media": entry,
        "history": [entry, *state.history][:HISTORY_MAX],
        "credits_charged": result.project.credits_charged,
        "progress": 100.0,
        **finished(state.now, "complete"),
    }
    return Changes(traits, {key: MediaFile(result.path, result.mime)})


def canceled(state: RunState, notice: str) -> Traits:
    """The user stopped waiting; ``notice`` says what became of the job."""
    return {**finished(state.now, "canceled"), "notice": notice}


def failed(state: RunState, error: str) -> Traits:
    return {"error": error, **finished(state.now, "failed")}


def finished(now: float, status: str) -> Traits:
    """The end: ``phase_started`` then marks when, so the front end shows the total time."""
    return {
        "phase_started": now * 1000,
        "running": False,
        "status": status,
        "progress_curve": [],
    }
