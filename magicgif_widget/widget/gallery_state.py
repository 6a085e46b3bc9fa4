"""A gallery's traits (one job per prompt line), as pure functions of the cards and the batch.

``on_batch`` maps one ``BatchProgress`` from ``generate_many`` to the cards and summary;
``finished`` maps the batch's results to the job's end. Like ``run_state``, nothing here
touches a widget, a file or a clock.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..batching import BatchProgress, BatchResults
from ..client.errors import CreateOutcomeUnknown, MagicHourError, ValidationError
from ..client.models import Created, ImageProject, Retrying, StatusChanged
from ..client.validation import check_style
from . import notices, run_state
from .media import Changes, MediaFile, media_key, mime_type
from .run_state import Traits

MAX_GALLERY = 48  # prompts in one gallery: a paste of a whole file is likely a mistake

Card = dict[str, Any]


@dataclass(frozen=True)
class GalleryState:
    """The traits a gallery's mapping reads, and the moment."""

    gallery: Sequence[Mapping[str, Any]] = ()
    progress: float = 0.0
    sandbox: bool = True
    now: float = 0.0  # wall-clock seconds


def gallery_prompts(text: str) -> list[str]:
    """The non-blank lines of ``text`` as checked prompts; any bad line fails the whole lot."""
    prompts = [line.strip() for line in text.splitlines() if line.strip()]
    if not prompts:
        raise ValidationError("style.prompt", "write one prompt per line")
    if len(prompts) > MAX_GALLERY:
        raise ValidationError(
            "style.prompt", f"{len(prompts)} lines; a gallery takes at most {MAX_GALLERY}"
        )
    for number, prompt in enumerate(prompts, start=1):
        try:
            check_style({"prompt": prompt})
        except ValidationError as exc:
            raise ValidationError(
                "style.prompt", f"line {number}: {exc.message.split(': ', 1)[-1]}"
            ) from None
    return prompts


def started(prompts: Sequence[str]) -> Traits:
    """A waiting card per prompt, and no summary yet."""
    cards = [
        {"index": i, "prompt": p, "status": "waiting", "project_id": "", "key": ""}
        for i, p in enumerate(prompts)
    ]
    return {"summary": "", "gallery": cards}


def on_batch(state: GalleryState, progress: BatchProgress) -> Changes:
    """The summary and bar for the whole batch, and the one card ``progress`` is about."""
    counts = progress.counts
    traits: Traits = {
        "summary": counts.describe(),
        "progress": max(state.progress, 100.0 * counts.finished / max(1, counts.total)),
    }
    if progress.index is None:
        return Changes(traits)
    card: Card = dict(state.gallery[progress.index])
    files: dict[str, MediaFile] = {}
    event, result = progress.event, progress.result
    if isinstance(event, Created):
        card.update(status="queued", project_id=event.project_id)
    elif isinstance(event, StatusChanged):
        card["status"] = "downloading" if event.status == "complete" else event.status
    elif isinstance(event, Retrying):
        return Changes({**traits, "notice": notices.retrying(event)})
    elif isinstance(result, ImageProject):
        path = Path((result.downloaded_paths or [""])[0])
        fmt = path.suffix.lstrip(".") or "gif"
        key = media_key(result.id, path)
        files[key] = MediaFile(path, mime_type(fmt))
        card.update(
            status="complete",
            project_id=result.id,
            key=key,
            format=fmt,
            mime=mime_type(fmt),
            filename=path.name,
        )
    elif isinstance(result, MagicHourError):
        card.update(
            status="unknown" if isinstance(result, CreateOutcomeUnknown) else "failed",
            error=notices.friendly(result),
            project_id=result.project_id or card.get("project_id", ""),
        )
    else:
        return Changes(traits)
    cards = [dict(c) for c in state.gallery]
    cards[progress.index] = card
    return Changes({**traits, "gallery": cards}, files)


def finished(state: GalleryState, results: BatchResults, directory: Path) -> Traits:
    """The batch is over: its summary and cost, and which cards did not complete."""
    counts = results.counts
    traits: Traits = {
        "progress": 100.0,
        "summary": counts.describe(),
        "credits_charged": 0 if state.sandbox else counts.credits,
    }
    if counts.complete < counts.total:
        error = (
            f"{counts.total - counts.complete} of {counts.total} did not complete; "
            f"see each card. Saved in {directory}"
        )
        return {**traits, "error": error, **run_state.finished(state.now, "failed")}
    notice = f"Saved in {directory}"
    return {**traits, "notice": notice, **run_state.finished(state.now, "complete")}


def cancel_notice(state: GalleryState, directory: Path) -> str:
    return notices.gallery_canceled(state.gallery, state.sandbox, directory)
