"""A single job: fresh (preflight, create, wait, download) or collected from the journal
(wait, download, no create), shown the same way once its file is on disk."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from .. import pickup
from ..jobstore.journal import JournalEntry
from . import run_state, stills
from .account_reader import AccountReader
from .media import Result
from .preflight import pay_after_preflight
from .request import Request
from .runner import Runner


async def one(
    runner: Runner,
    balance: AccountReader,
    job: int,
    request: Request,
    confirmed: bool,
    recheck: bool,
) -> Result | None:
    """Run ``request`` as job number ``job``; None when the preflight sent nothing."""
    w, style = runner.widget, request.style or {}
    project = await pay_after_preflight(
        runner,
        balance,
        job,
        request,
        lambda: runner.client().v1.ai_gif_generator.generate(
            style=style,
            name=request.name,
            output_format=request.output_format,
            download_directory=w.download_directory,
            timeout=w.timeout,
            on_event=lambda event: runner.on_event(job, event),
        ),
        confirmed=confirmed,
        recheck=recheck,
    )
    if project is None:
        return None
    result = Result(path_of(project), request.output_format, project, style["prompt"])
    await show(runner, job, result, request.name)
    return result


async def collect(runner: Runner, job: int, entry: JournalEntry) -> Result:
    """A job made earlier, through ``pickup.collect``: the same events, the same result."""
    w = runner.widget
    try:
        project = await pickup.collect(
            entry,
            download_directory=w.download_directory,
            timeout=w.timeout,
            on_event=lambda event: runner.on_event(job, event),
            client=runner.client(),
        )
    except (asyncio.CancelledError, Exception) as exc:
        runner.stopped(job, exc)
        raise
    path = path_of(project)
    fmt = path.suffix.lstrip(".").lower() or entry.settings.output_format
    result = Result(path, fmt, project, entry.settings.prompt)
    await show(runner, job, result, entry.settings.name)
    return result


async def show(runner: Runner, job: int, result: Result, name: str | None) -> None:
    """A result on disk: the media, the history, the static output. The still (PIL) and the
    file's size are prepared in a thread, so the kernel's loop stays free meanwhile."""
    if not runner.owns(job):
        return
    still, size = await asyncio.to_thread(prepare, runner.widget.still_id, result)
    if not runner.owns(job):  # canceled or replaced while the still was drawn
        return
    runner.widget.result = result
    runner.set(run_state.completed(runner.run_state(), result, name=name, size=size))
    runner.still.show(still)


def prepare(still_id: str, result: Result) -> tuple[dict[str, str], int]:
    """The static output's bundle and the file's size (blocking: PIL and the disk)."""
    return stills.result_bundle(still_id, result.path, result.prompt), result.path.stat().st_size


def path_of(project: Any) -> Path:
    """The first downloaded file of a finished project."""
    return Path((project.downloaded_paths or [""])[0])
